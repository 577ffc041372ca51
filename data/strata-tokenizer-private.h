/* strata-tokenizer-private.h: what the tokenizer files share; not for other layers.
 *
 * One struct serves every kind. A constructor fills the vocabulary with
 * _strata_tokenizer_set_vocab() and then picks an encoder and its options; the common code
 * (strata-tokenizer.c) does lookup, pieces, decode and the added-token split that runs
 * before every model. */
#pragma once

#include "strata-tokenizer.h"
#include "strata-data-error.h"

G_BEGIN_DECLS

typedef enum {
  STRATA_ENCODER_BYTE_BPE,   /* GPT-2: regex pre-split, bytes -> unicode, merges by rank */
  STRATA_ENCODER_SPM_SCORE,  /* llama2c / GGUF llama: codepoints, merges by best score */
  STRATA_ENCODER_HF_BPE,     /* tokenizer.json BPE on characters (byte fallback), by rank */
  STRATA_ENCODER_WORD_LEVEL, /* whole-word lookup */
} StrataEncoder;

typedef enum {
  STRATA_PRE_NONE,             /* the whole segment is one word */
  STRATA_PRE_GPT2,             /* the OpenAI GPT-2 regex */
  STRATA_PRE_WHITESPACE,       /* HF Whitespace: \w+|[^\w\s]+ */
  STRATA_PRE_WHITESPACE_SPLIT, /* HF WhitespaceSplit: runs of non-space */
} StrataPreTokenizer;

/* A merge of two ids (rank-ordered BPE): lower rank merges first. */
typedef struct {
  int32_t left, right;
  int32_t rank;
  int32_t merged;
} StrataMerge;

typedef struct {
  char *content;
  gsize len;
  int32_t id;
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

  StrataPreTokenizer pre;
  GRegex *pre_regex;
  gboolean byte_level;        /* map bytes through GPT-2's bytes_to_unicode before the model */
  gboolean add_prefix_space;  /* ByteLevel add_prefix_space */
  gboolean spm_normalize;     /* ' ' -> '▁' and a leading '▁' (SentencePiece / Llama) */
  gboolean llama2c;           /* run.c: dummy prefix is the piece " ", bytes are id + 3 */
  gboolean byte_fallback;     /* unknown characters become <0xXX> tokens */
  int32_t unk_id;
  int32_t bos_id, eos_id;

  /* tokenizer.json only */
  gboolean ignore_merges;     /* a word that is itself in the vocabulary is not split */
  gboolean fuse_unk;          /* consecutive unknown characters give one unk */
  gboolean metaspace;         /* Metaspace pre-tokenizer: ' ' -> '▁' ... */
  gboolean metaspace_split;   /* ... and words start at each '▁' */
  int metaspace_prepend;      /* 0 always, 1 first segment only, 2 never */

  StrataAddedToken *added;    /* sorted longest first */
  int n_added;
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
void _strata_tokenizer_set_added (StrataTokenizer *tok, GArray *added /* StrataAddedToken */);
int32_t _strata_tokenizer_lookup_len (StrataTokenizer *tok, const char *s, gsize len);
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
/* tok->merge_table must hold room for every merge: the hash table points into it. */
gboolean _strata_merges_add (StrataTokenizer *tok, const char *file, const char *left,
                             const char *right, int32_t rank, GError **error);

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
gboolean _strata_encode_hf_bpe (StrataTokenizer *tok, const char *text, gsize len, GArray *out,
                                GError **error);
gboolean _strata_encode_word_level (StrataTokenizer *tok, const char *text, gsize len,
                                    GArray *out, GError **error);

G_END_DECLS
