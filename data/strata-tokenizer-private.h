/* strata-tokenizer-private.h: what the tokenizer files share; not for other layers.
 *
 * One struct serves every kind. A constructor fills the vocabulary with
 * _strata_tokenizer_set_vocab() and then picks an encoder and its options; the common code
 * (strata-tokenizer.c) does lookup, pieces and decode. A tokenizer.json carries its whole
 * Hugging Face pipeline in `hf` (strata-tokenizer-hf-private.h). */
#pragma once

#include "strata-tokenizer.h"
#include "strata-data-error.h"

G_BEGIN_DECLS

typedef enum {
  STRATA_ENCODER_BYTE_BPE,   /* GPT-2: regex pre-split, bytes -> unicode, merges by rank */
  STRATA_ENCODER_SPM_SCORE,  /* llama2c / GGUF llama: codepoints, merges by best score */
  STRATA_ENCODER_HF,         /* tokenizer.json: added tokens, normalizer, pre-tokenizer, model */
} StrataEncoder;

/* Unicode White_Space, spelled out for a regex character class: what Python's `regex`,
 * Oniguruma (HF tokenizers) and Rust mean by \s. PCRE2's \s also takes U+180E. */
#define STRATA_UNICODE_WS                                                                     \
  "\\t\\n\\x{0B}\\x{0C}\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"   \
  "\\x{202F}\\x{205F}\\x{3000}"

/* What an id is in a tokenizer.json: an entry of the model's vocabulary, an added token, or
 * both (a special token the model also lists). */
enum {
  STRATA_ID_MODEL = 1 << 0,
  STRATA_ID_ADDED = 1 << 1,
};

typedef struct _StrataHf StrataHf;

/* A merge of two ids (rank-ordered BPE): lower rank merges first. */
typedef struct {
  int32_t left, right;
  int32_t rank;
  int32_t merged;
} StrataMerge;

/* An added token of a tokenizer.json, with HF's matching flags. */
typedef struct {
  char *content;
  gsize len;
  int32_t id;
  gboolean single_word, lstrip, rstrip, normalized, special;
  char *pattern; /* what is matched: content, or content normalized when `normalized` */
  gsize pattern_len;
} StrataAddedToken;

struct _StrataTokenizer {
  StrataTokenizerKind kind;
  StrataEncoder encoder;
  char *source;
  char *sha256;

  int n_vocab;
  char **pieces;      /* [n_vocab] as in the file, NUL-terminated */
  char **display;     /* [n_vocab] as a person reads it */
  GBytes **bytes;     /* [n_vocab] the bytes the id stands for in decoded text */
  float *scores;      /* [n_vocab] or NULL (SentencePiece scores) */
  int32_t *types;     /* [n_vocab] or NULL (GGUF token types) */
  GHashTable *piece_to_id; /* char * (borrowed from pieces) -> id + 1 */

  GHashTable *merges; /* StrataMerge * keyed on (left, right); rank BPE only */
  StrataMerge *merge_table;
  int n_merges;

  GRegex *pre_regex;          /* GPT-2 pre-tokenizer regex */
  gboolean byte_level;        /* map bytes through GPT-2's bytes_to_unicode before the model */
  gboolean add_prefix_space;  /* ByteLevel add_prefix_space */
  gboolean spm_normalize;     /* ' ' -> '▁' and a leading '▁' (SentencePiece / Llama) */
  gboolean spm_dummy_prefix;  /* the leading space of an SPM encode (add_dummy_prefix) */
  gboolean llama2c;           /* run.c: dummy prefix is the piece " ", bytes are id + 3 */
  gboolean byte_fallback;     /* unknown characters become <0xXX> tokens */
  int32_t unk_id;
  int32_t bos_id, eos_id;

  /* tokenizer.json only */
  guint8 *id_flags;           /* [n_vocab] STRATA_ID_* */
  StrataAddedToken *added;    /* in file order */
  int n_added;
  StrataHf *hf;
};

/* strata-tokenizer.c */
StrataTokenizer *_strata_tokenizer_alloc (StrataTokenizerKind kind, StrataEncoder encoder,
                                          const char *source);
/* Takes ownership of `pieces` (n strings). Later duplicates keep the first id, so a lookup
 * is deterministic. Fills display and bytes from the kind. */
gboolean _strata_tokenizer_set_vocab (StrataTokenizer *tok, char **pieces, int n, GError **error);
/* SHA-256 over the concatenated contents of the files. */
gboolean _strata_tokenizer_hash_files (StrataTokenizer *tok, const char *const *paths,
                                       GError **error);
int32_t _strata_tokenizer_lookup_len (StrataTokenizer *tok, const char *s, gsize len);
/* Like _strata_tokenizer_lookup_len, but only ids of the model's own vocabulary: what a
 * tokenizer.json model sees (an added token that the model does not list is not a piece). */
int32_t _strata_tokenizer_model_lookup (StrataTokenizer *tok, const char *s, gsize len);
/* Frees n pieces that may hold NULL holes (g_strfreev would stop at the first). */
void _strata_pieces_free (char **pieces, gsize n);
/* The <0xXX> token for a byte, or -1. */
int32_t _strata_tokenizer_byte_id (StrataTokenizer *tok, guint8 byte);
/* "<0xXX>" -> byte value; -1 when the piece is not of that form. */
int _strata_piece_byte_value (const char *piece);

/* strata-tokenizer-bpe.c: the merge loop every BPE shares. */
typedef enum {
  STRATA_MERGE_BY_RANK,  /* lowest rank from tok->merges; leftmost on ties */
  STRATA_MERGE_BY_SCORE, /* highest score of the concatenated piece (llama2.c, llama.cpp) */
} StrataMergeRule;
void _strata_bpe_merge (StrataTokenizer *tok, StrataMergeRule rule, GArray *ids /* int32 */);
/* tok->merge_table must hold room for every merge: the hash table points into it. The merged
 * piece is left + right without right's first `right_skip` bytes (a tokenizer.json BPE's
 * continuing_subword_prefix). */
gboolean _strata_merges_add (StrataTokenizer *tok, const char *file, const char *left,
                             const char *right, gsize right_skip, int32_t rank, GError **error);

/* strata-tokenizer-gpt2.c */
/* bytes_to_unicode: the printable character (UTF-8, NUL-terminated) GPT-2 uses for a byte. */
const char *_strata_gpt2_byte_char (guint8 byte);
/* Inverse: the byte for one unicode codepoint of that alphabet, or -1. */
int _strata_gpt2_char_byte (gunichar c);
GRegex *_strata_gpt2_regex (GError **error);
gboolean _strata_encode_byte_bpe (StrataTokenizer *tok, const char *text, gsize len, GArray *out,
                                  GError **error);

/* strata-tokenizer-spm.c */
gboolean _strata_encode_spm (StrataTokenizer *tok, const char *text, gsize len, GArray *out,
                             GError **error);

/* strata-tokenizer-hf.c */
gboolean _strata_encode_hf (StrataTokenizer *tok, const char *text, gsize len, GArray *out,
                            GError **error);
void _strata_hf_free (StrataHf *hf);
/* A tokenizer.json held in memory (the fuzzer's entry): no tokenizer_config.json beside it,
 * sha256 of `data`. */
StrataTokenizer *_strata_tokenizer_new_hf_json_data (const char *source, const char *data,
                                                     gsize len, GError **error);
/* strata-tokenizer-hf-decode.c */
char *_strata_hf_decode (StrataTokenizer *tok, const int32_t *ids, gsize n_ids);
gboolean _strata_hf_get_specials (const StrataTokenizer *tok, const int32_t **prefix,
                                  gsize *n_prefix, const int32_t **suffix, gsize *n_suffix);

G_END_DECLS
