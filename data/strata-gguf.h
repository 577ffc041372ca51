/* strata-gguf.h: a validated, memory-mapped GGUF (v2/v3) file.
 *
 * Layout (little-endian): "GGUF", u32 version, u64 n_tensors, u64 n_kv, n_kv × (string key,
 * u32 type, value), n_tensors × (string name, u32 n_dims, u64 dims[n_dims] innermost
 * first, u32 ggml type, u64 offset), padding to general.alignment (default 32), data.
 * A string is a u64 length and that many bytes. Tensor shapes are reversed to outermost
 * first when they are stored in StrataTensorInfo (token_embd [64, 512] -> [512, 64]). */
#pragma once

#include <glib.h>

#include "strata-tensor-private.h"
#include "strata-tokenizer.h"

G_BEGIN_DECLS

typedef enum {
  STRATA_GGUF_UINT8 = 0,
  STRATA_GGUF_INT8 = 1,
  STRATA_GGUF_UINT16 = 2,
  STRATA_GGUF_INT16 = 3,
  STRATA_GGUF_UINT32 = 4,
  STRATA_GGUF_INT32 = 5,
  STRATA_GGUF_FLOAT32 = 6,
  STRATA_GGUF_BOOL = 7,
  STRATA_GGUF_STRING = 8,
  STRATA_GGUF_ARRAY = 9,
  STRATA_GGUF_UINT64 = 10,
  STRATA_GGUF_INT64 = 11,
  STRATA_GGUF_FLOAT64 = 12,
} StrataGgufType;

typedef struct {
  StrataGgufType type;
  union {
    guint64 u; /* unsigned integers and bool */
    gint64 i;  /* signed integers */
    double f;  /* FLOAT32, FLOAT64 */
  } num;
  char *str;                /* STRING */
  StrataGgufType elem_type; /* ARRAY: element type (never ARRAY) */
  guint64 n;                /* ARRAY: element count */
  const guint8 *elems;      /* ARRAY of numbers: raw little-endian elements (borrowed) */
  char **strs;              /* ARRAY of STRING: n strings, NULL-terminated */
} StrataGgufValue;

typedef struct _StrataGguf StrataGguf;

StrataGguf *strata_gguf_open (const char *path, GError **error);
/* Validate a whole GGUF file held in `bytes`; the result borrows them. Entry point of the
 * fuzz target. */
StrataGguf *strata_gguf_parse (const guint8 *bytes, gsize length, const char *source, GError **error);
void strata_gguf_free (StrataGguf *g);

const char *strata_gguf_get_source (const StrataGguf *g);
guint32 strata_gguf_get_version (const StrataGguf *g);
GMappedFile *strata_gguf_get_mapped_file (const StrataGguf *g);
guint strata_gguf_get_n_tensors (const StrataGguf *g);
const StrataTensorInfo *strata_gguf_get_tensor (const StrataGguf *g, guint i);
const StrataTensorInfo *strata_gguf_lookup_tensor (const StrataGguf *g, const char *name);
const StrataGgufValue *strata_gguf_lookup (const StrataGguf *g, const char *key);

/* Typed metadata. A missing key gives `fallback` when `required` is FALSE; a key of the
 * wrong type is always an error naming the file and the key. Integers of any width are
 * accepted where an integer is asked for. */
gboolean strata_gguf_get_int (const StrataGguf *g, const char *key, gboolean required, gint64 fallback,
                              gint64 *out, GError **error);
gboolean strata_gguf_get_float (const StrataGguf *g, const char *key, gboolean required, double fallback,
                                double *out, GError **error);
gboolean strata_gguf_get_bool (const StrataGguf *g, const char *key, gboolean fallback, gboolean *out,
                               GError **error);
/* NULL when missing; an error when present but not a string. */
const char *strata_gguf_get_string (const StrataGguf *g, const char *key, GError **error);

/* Numeric array element i converted to double (any numeric element type). */
double strata_gguf_array_get_double (const StrataGgufValue *v, guint64 i);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataGguf, strata_gguf_free)

/* The file's byte-level BPE vocabulary (tokenizer.ggml.model "gpt2") of at most
 * `max_tokens` tokens as a tokenizer (strata_tokenizer_new_gguf_bpe), with the pre-tokenizer
 * `pre` (the file's tokenizer.ggml.pre, or another of llama.cpp's names for the same
 * family). */
StrataTokenizer *strata_gguf_new_bpe_tokenizer (StrataGguf *g, const char *pre, int max_tokens, GError **error);

/* Fill `model` (weights, arch, dtype, tokenizer, BOS policy, ...) from a parsed file
 * (strata-gguf-model.c): the GGUF loader behind strata_model_open(), and the fuzz target's
 * entry point. weights_sha256 is set only for a file opened with strata_gguf_open(). */
gboolean strata_gguf_model_fill (StrataModel *model, StrataGguf *g, const char *tokenizer_path, GError **error);

G_END_DECLS
