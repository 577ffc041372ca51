/* strata-tokenizer-hf-private.h: the Hugging Face tokenizer.json pipeline, as data.
 *
 * HF's encode, which strata-tokenizer-hf.c follows step by step:
 *  1. added tokens with normalized=false are split out of the raw text (leftmost-longest,
 *     with their single_word/lstrip/rstrip rules);
 *  2. every other stretch goes through the normalizer, then added tokens with
 *     normalized=true are split out of the normalized text (their patterns normalized too);
 *  3. every remaining stretch is cut into pieces by the pre-tokenizer (a flat list of steps,
 *     each applied to every piece; empty pieces vanish);
 *  4. the model turns each piece into ids.
 * Decode maps ids to their pieces and runs the decoder steps over the list of pieces.
 *
 * Sequences (normalizers, pre-tokenizers, decoders) are flattened when read: running a
 * Sequence is running its members in order. */
#pragma once

#include "strata-tokenizer-private.h"

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The readers' way out: sets *error and returns FALSE. */
#define FAIL(code, ...)                                                                       \
  G_STMT_START                                                                                \
  {                                                                                           \
    g_set_error (error, STRATA_DATA_ERROR, code, __VA_ARGS__);                                \
    return FALSE;                                                                             \
  }                                                                                           \
  G_STMT_END

/* HF's SplitDelimiterBehavior: what happens to a match when a string is split on it. */
typedef enum {
  STRATA_SPLIT_REMOVED,
  STRATA_SPLIT_ISOLATED,
  STRATA_SPLIT_MERGED_WITH_PREVIOUS,
  STRATA_SPLIT_MERGED_WITH_NEXT,
  STRATA_SPLIT_CONTIGUOUS,
} StrataSplitBehavior;

typedef enum {
  STRATA_PREPEND_ALWAYS,
  STRATA_PREPEND_FIRST, /* only to a piece that starts the input text */
  STRATA_PREPEND_NEVER,
} StrataPrepend;

typedef enum {
  STRATA_NORM_NFC,
  STRATA_NORM_NFD,
  STRATA_NORM_NFKC,
  STRATA_NORM_NFKD,
  STRATA_NORM_LOWERCASE,
  STRATA_NORM_REPLACE,       /* regex, content */
  STRATA_NORM_PREPEND,       /* content */
  STRATA_NORM_STRIP,         /* left, right */
  STRATA_NORM_STRIP_ACCENTS,
  STRATA_NORM_NMT,
  STRATA_NORM_BYTE_LEVEL,
} StrataNormKind;

typedef struct {
  StrataNormKind kind;
  GRegex *regex;
  char *content;
  gboolean left, right;
} StrataNormalizer;

typedef enum {
  STRATA_PRE_SPLIT,           /* regex, behavior, invert */
  STRATA_PRE_BYTE_LEVEL,      /* add_prefix_space, regex (NULL: use_regex false) */
  STRATA_PRE_METASPACE,       /* ch, prepend, split */
  STRATA_PRE_DIGITS,          /* behavior: Isolated (individual_digits) or Contiguous */
  STRATA_PRE_PUNCTUATION,     /* behavior */
  STRATA_PRE_WHITESPACE,      /* \w+|[^\w\s]+ kept, the rest removed */
  STRATA_PRE_WHITESPACE_SPLIT,
  STRATA_PRE_CHAR_DELIMITER,  /* ch */
} StrataPreKind;

typedef struct {
  StrataPreKind kind;
  GRegex *regex;
  StrataSplitBehavior behavior;
  gboolean invert;
  gboolean add_prefix_space;
  gunichar ch;
  StrataPrepend prepend;
  gboolean split;
} StrataPreStep;

typedef enum {
  STRATA_DEC_BYTE_LEVEL,
  STRATA_DEC_METASPACE,     /* ch, prepend */
  STRATA_DEC_REPLACE,       /* regex, content */
  STRATA_DEC_BYTE_FALLBACK,
  STRATA_DEC_FUSE,
  STRATA_DEC_STRIP,         /* ch, start, stop */
} StrataDecKind;

typedef struct {
  StrataDecKind kind;
  GRegex *regex;
  char *content;
  gunichar ch;
  StrataPrepend prepend;
  gsize start, stop;
} StrataDecStep;

typedef enum {
  STRATA_HF_BPE,
  STRATA_HF_WORD_LEVEL,
  STRATA_HF_UNIGRAM,
} StrataHfModel;

/* Added tokens indexed for leftmost-longest matching: for each first byte, the tokens that
 * start with it, longest first. */
typedef struct {
  GPtrArray *by_byte[256]; /* StrataAddedToken * (borrowed), or NULL */
} StrataAddedIndex;

struct _StrataHf {
  GArray *normalizers;    /* StrataNormalizer */
  GArray *pre;            /* StrataPreStep */
  GArray *decoders;       /* StrataDecStep */
  gboolean has_decoder;

  StrataHfModel model;
  /* BPE */
  char *subword_prefix, *word_suffix; /* NULL when absent */
  gboolean ignore_merges, fuse_unk;
  /* Unigram: scores[id] for ids of the model; pieces sorted by bytes for prefix search */
  double *scores;
  double min_score;
  int n_model;
  int32_t *sorted;
  gsize *piece_len;

  StrataAddedIndex raw, normalized;

  /* special tokens around a sequence (strata_tokenizer_get_specials) */
  GArray *prefix, *suffix; /* int32_t */
};

/* strata-tokenizer-hf.c: building a pipeline (the tokenizer.json reader's steps, also used
 * by strata-tokenizer-gguf.c) */
StrataHf *_strata_hf_new (void);
/* An empty list of StrataAddedToken that frees their strings. */
GArray *_strata_hf_added_new (void);
/* The patterns tok->added are matched by, in two indexes: raw text and normalized (after
 * the normalizers are read). */
gboolean _strata_hf_index_added (StrataTokenizer *tok, GError **error);

/* One of tokenizer.json's step lists, and how one step of it that is not a Sequence is read
 * (a Sequence's members are read in its place, in order). */
typedef struct {
  const char *member;  /* the member of tokenizer.json that holds it: "pre_tokenizer" */
  const char *list;    /* a Sequence's list of members: "pretokenizers" */
  const char *nested;  /* in the message on too deep a nesting: "pre-tokenizers" */
  gboolean (*read) (StrataTokenizer *tok, JsonObject *o, const char *type, GError **error);
} StrataHfSteps;

/* The four lists: strata-tokenizer-hf-steps.c and strata-tokenizer-hf-decode.c. */
extern const StrataHfSteps _strata_hf_normalizers, _strata_hf_pre_tokenizers;
extern const StrataHfSteps _strata_hf_decoders, _strata_hf_post_processors;
/* Reads root's member steps->member into the pipeline (absent or null: no steps). */
gboolean _strata_hf_read_steps (StrataTokenizer *tok, JsonObject *root, const StrataHfSteps *steps,
                                GError **error);

/* strata-tokenizer-hf-steps.c: normalizers and pre-tokenizers */

/* A stretch of text cut by the pre-tokenizer: bytes off..off+len of the arena; `first` when
 * it starts the input text (Metaspace prepend_scheme "first"). */
typedef struct {
  gsize off, len;
  gboolean first;
} StrataPiece;

typedef struct {
  GString *arena;   /* every text a step made; pieces point into it */
  GArray *pieces;   /* StrataPiece */
} StrataPieces;

/* A regex as HF's Oniguruma reads it (\s as Unicode White_Space, \h as a hex digit, ^ and $
 * at line ends); `literal` escapes the whole pattern (HF's String patterns). */
GRegex *_strata_hf_regex_new (const char *pattern, gboolean literal, GError **error);
/* The matches of `re` in s[0..len), as Oniguruma's find_iter yields them: pairs of byte
 * offsets (start, end) appended to `spans`. */
gboolean _strata_hf_regex_spans (GRegex *re, const char *s, gsize len, GArray *spans /* gsize */,
                                 GError **error);

/* A Replace step (normalizer or decoder: HF's one Replace): its pattern and content. */
gboolean _strata_hf_read_replace (StrataTokenizer *tok, JsonObject *o, const char *what,
                                  GRegex **regex, char **content, GError **error);
/* Replaces every match of re in s with content. */
gboolean _strata_hf_replace (GRegex *re, const char *content, GString *s, GError **error);
/* Appends a ByteLevel pre-tokenizer step (with GPT-2's regex when use_regex) and marks the
 * tokenizer byte-level. */
gboolean _strata_hf_add_byte_level (StrataTokenizer *tok, gboolean add_prefix_space,
                                    gboolean use_regex, GError **error);
/* Runs the normalizer over s in place. */
gboolean _strata_hf_normalize (StrataHf *hf, GString *s, GError **error);
/* Cuts text[0..len) into pieces (appended to out). */
gboolean _strata_hf_pre_tokenize (StrataHf *hf, const char *text, gsize len, gboolean first,
                                  StrataPieces *out, GError **error);
/* Rust's char::is_whitespace (Unicode White_Space). */
gboolean _strata_unichar_is_white_space (gunichar c);
/* The Rust regex crate's \w. */
gboolean _strata_unichar_is_word (gunichar c);

/* strata-tokenizer-unicode.c (generated): where HF's Unicode tables (9.0 for normalization
 * and marks, 8.0 for punctuation) differ from GLib's. A character newer than HF's
 * normalization tables is inert for HF; a mark as StripAccents sees it; a character whose
 * punctuation class HF sees the other way round. */
gboolean _strata_hf_norm_unknown (gunichar c);
gboolean _strata_hf_is_mark (gunichar c);
gboolean _strata_hf_punct_differs (gunichar c);
/* Rust's tables (Unicode 16.0) against GLib's (15.0): is_numeric, regex \w, to_lowercase
 * (NULL where GLib's mapping is HF's). */
gboolean _strata_hf_numeric_differs (gunichar c);
gboolean _strata_hf_word_differs (gunichar c);
const char *_strata_hf_lower_differs (gunichar c);
/* What Oniguruma's \p{name} (Unicode 16.0) holds beyond PCRE2's (14.0), as class text;
 * NULL when nothing. */
const char *_strata_hf_onig_class (const char *name, gsize len);
/* The error of a step the file names but Strata does not run. */
gboolean _strata_hf_unsupported (StrataTokenizer *tok, const char *what, const char *type,
                                 GError **error);

/* strata-tokenizer-unigram.c */
gboolean _strata_unigram_prepare (StrataTokenizer *tok, GError **error);
gboolean _strata_unigram_encode (StrataTokenizer *tok, const char *w, gsize n, GArray *out,
                                 GError **error);

/* JSON helpers shared by the tokenizer.json readers: NULL / fallback when absent or of
 * another type. */
const char *_strata_json_string (JsonObject *o, const char *name);
gboolean _strata_json_bool (JsonObject *o, const char *name, gboolean fallback);
JsonObject *_strata_json_object (JsonObject *o, const char *name);
/* A node's "type" member, or "(no type)". */
const char *_strata_json_type (JsonObject *o);
/* A member that must hold exactly one character (Rust's char); `what` names the step. */
gboolean _strata_hf_read_char (StrataTokenizer *tok, JsonObject *o, const char *member,
                               const char *what, gunichar *out, GError **error);

G_END_DECLS
