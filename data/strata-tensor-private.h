/* strata-tensor-private.h: what the checkpoint readers share (not public API).
 *
 * A reader (safetensors, GGUF, llama2.c) validates its file and describes every tensor as
 * a StrataTensorInfo pointing into the mapped bytes. The model loaders then look tensors
 * up by name, check the exact expected shape and copy-convert them to fp32 into the
 * StrataWeights arena. Shapes are always outermost first (PyTorch order): a GGUF reader
 * reverses its innermost-first dims before it fills this struct. */
#pragma once

#include <glib.h>

#include "strata-model.h"

G_BEGIN_DECLS

#define STRATA_TENSOR_MAX_DIMS 8

/* Values stored in blocks (GGUF's quantized types): each `block` consecutive values of a row
 * take `block_bytes` bytes and decode to F32 together. */
typedef struct {
  const char *name;
  guint32 block, block_bytes;
} StrataBlockFormat;

typedef struct {
  char *name;
  StrataDType dtype;                /* as stored: a plain float type, or a block-quantized one */
  const StrataBlockFormat *blocks;  /* NULL: plain elements of `dtype` */
  int n_dims;
  guint64 shape[STRATA_TENSOR_MAX_DIMS]; /* outermost first */
  guint64 n_elements;
  guint64 offset;      /* absolute byte offset of the data in the file */
  guint64 n_bytes;     /* n_elements × dtype size (or the blocks' bytes), checked */
  const guint8 *data;  /* first byte, inside the bytes the reader was given (borrowed) */
  const char *source;  /* file name for messages (borrowed from the reader) */
} StrataTensorInfo;

void strata_tensor_info_free (StrataTensorInfo *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataTensorInfo, strata_tensor_info_free)

/* Convert n little-endian elements at `src` (any alignment) into `dst`: exact, every F16 and
 * BF16 value is representable in fp32 (strata_dtype_bytes and the element conversions are
 * the kernels' own, strata-weights.h). */
void strata_dtype_convert (StrataDType dtype, const guint8 *src, float *dst, gsize n);

/* Overflow-safe element count and byte size; FALSE on overflow, or when the innermost
 * dimension is not a whole number of blocks (the reader checks that first, for its message). */
gboolean strata_tensor_info_compute_size (StrataTensorInfo *t);

/* Decode the first n values of t (n <= n_elements; a multiple of the block for block
 * formats) into dst as F32. */
void strata_tensor_info_to_f32 (const StrataTensorInfo *t, float *dst, guint64 n);

/* Sort by offset and reject any two tensors whose byte ranges overlap. */
gboolean strata_tensors_check_overlap (GPtrArray *tensors, const char *source, GError **error);

/* "[512, 64]" */
char *strata_shape_to_string (int n_dims, const guint64 *shape);

/* A name -> StrataTensorInfo table over one or more files (values borrowed). */
typedef struct {
  GHashTable *by_name;
  const char *source; /* named in "missing tensor" messages */
} StrataTensorSet;

void strata_tensor_set_init (StrataTensorSet *set, const char *source);
void strata_tensor_set_clear (StrataTensorSet *set);
void strata_tensor_set_add (StrataTensorSet *set, const StrataTensorInfo *t);
const StrataTensorInfo *strata_tensor_set_lookup (const StrataTensorSet *set, const char *name);

/* Look `name` up and check it has exactly the shape [d0] (d1 == 0) or [d0, d1]; NULL with
 * an error naming the file, the tensor and both shapes otherwise. */
const StrataTensorInfo *strata_tensor_set_get_checked (const StrataTensorSet *set, const char *name, guint64 d0,
                                                       guint64 d1, GError **error);
/* The same, then convert it to fp32 into dst (room for the product). */
gboolean strata_tensor_set_load (const StrataTensorSet *set, const char *name, guint64 d0,
                                 guint64 d1, float *dst, GError **error);
/* The same into a whole (d0, d1) matrix of `w`, in the matrix's dtype. A tensor stored in
 * that dtype is `w`'s bytes as they are (strata_weights_store_bytes: for weights loaded to a
 * device, uploaded from the file's mapping with no host copy). */
gboolean strata_tensor_set_load_mat (const StrataTensorSet *set, const char *name, guint64 d0,
                                     guint64 d1, StrataMat *dst, StrataWeights *w, GError **error);

/* Store n F32 values at element `first` of a matrix, in its dtype (exact when the values
 * came from that dtype). */
void strata_mat_store (StrataMat *m, gsize first, const float *src, gsize n);

/* The dtype every 2-D tensor of the set shares, F32 when they differ. */
StrataDType strata_tensor_set_matrix_dtype (const StrataTensorSet *set);

/* SHA-256 (hex) of the concatenated bytes of the given mapped files. */
char *strata_sha256_mapped_files (GMappedFile **files, guint n);
/* The same on a thread of its own, started now (the files are kept mapped until it ends),
 * or at once when the files take more than a quarter of the available memory;
 * strata_sha256_finish waits for it and returns the hex digest. */
typedef struct _StrataSha256Job StrataSha256Job;
StrataSha256Job *strata_sha256_start (GMappedFile **files, guint n);
char *strata_sha256_finish (StrataSha256Job *job);

G_END_DECLS
