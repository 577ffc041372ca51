/* strata-tokenizer.h: text <-> token ids, exactly as the reference implementations do it.
 *
 * Token ids are int32_t everywhere. encode() never adds BOS: the BOS policy belongs to the
 * model (StrataModel.add_bos) and is applied by the caller, visibly. A tokenizer.json states
 * its own policy (strata_tokenizer_get_specials), which the model loader adopts. */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct _StrataTokenizer StrataTokenizer;

typedef enum {
  STRATA_TOKENIZER_BYTE_BPE,    /* GPT-2 byte-level BPE (vocab.json + merges.txt, tokenizer.json,
                                   or a GGUF "gpt2" vocabulary) */
  STRATA_TOKENIZER_SPM_BPE,     /* SentencePiece-style: '▁' for spaces, <0xXX> byte pieces. BPE
                                   (llama2.c, GGUF llama, tokenizer.json with byte_fallback) or
                                   a tokenizer.json Unigram model (T5, SentencePiece conversions) */
  STRATA_TOKENIZER_WORD_LEVEL,  /* whole-word vocabulary lookup (tokenizer.json WordLevel) */
} StrataTokenizerKind;

/* GPT-2: encoder.json/vocab.json (token -> id) and vocab.bpe/merges.txt. */
StrataTokenizer *strata_tokenizer_new_gpt2 (const char *vocab_json_path, const char *merges_path,
                                            GError **error);
/* Hugging Face tokenizer.json: BPE, WordLevel or Unigram model with its normalizer,
 * pre-tokenizer, added tokens, decoder and post-processor (see strata-tokenizer-hf.c for
 * what is read). tokenizer_config.json beside it names bos/eos and may state add_bos_token. */
StrataTokenizer *strata_tokenizer_new_hf_json (const char *path, GError **error);
/* llama2.c tokenizer.bin: int32 max_len, then vocab_size × (float score, int32 len, bytes). */
StrataTokenizer *strata_tokenizer_new_llama2c (const char *path, int vocab_size, GError **error);
/* SentencePiece vocabulary as GGUF stores it (tokenizer.ggml.tokens/scores/token_type).
 * `types` may be NULL. `source` names the file for error messages. */
StrataTokenizer *strata_tokenizer_new_spm (const char *source, char **pieces, const float *scores,
                                           const int32_t *types, int n, GError **error);

/* A byte-level BPE vocabulary as GGUF stores it (tokenizer.ggml.model "gpt2"), converted from
 * a tokenizer.json by llama.cpp's convert_hf_to_gguf.py. Pointers are borrowed. */
typedef struct {
  const char *pre;           /* tokenizer.ggml.pre: names the tokenizer.json family; NULL if absent */
  char *const *tokens;       /* tokenizer.ggml.tokens [n_tokens]: every id's string */
  const int32_t *types;      /* tokenizer.ggml.token_type [n_tokens], or NULL (all normal) */
  int n_tokens;
  char *const *merges;       /* tokenizer.ggml.merges [n_merges]: "left right", by rank */
  int n_merges;              /* -1: the file has no tokenizer.ggml.merges */
  int32_t bos, eos;          /* tokenizer.ggml.bos/eos_token_id; -1 when absent */
  int add_bos, add_eos;      /* tokenizer.ggml.add_bos/eos_token: 1, 0, or -1 when absent */
} StrataGgufBpe;

/* The tokenizer.json pipeline of the family `pre` names, over that vocabulary: the ids are
 * HF tokenizers' (strata-tokenizer-gguf.c says what is read). A `pre` Strata does not know
 * is STRATA_DATA_ERROR_UNSUPPORTED, whose message after "source: " says why; a malformed
 * vocabulary is STRATA_DATA_ERROR_FORMAT. Its specials (strata_tokenizer_get_specials) are
 * the file's BOS/EOS policy. */
StrataTokenizer *strata_tokenizer_new_gguf_bpe (const char *source, const StrataGgufBpe *vocab,
                                                GError **error);
/* SentencePiece's add_dummy_prefix (GGUF tokenizer.ggml.add_space_prefix, false for Gemma):
 * whether encode() reads the text as if it began with a space. On by default; only the
 * SentencePiece-style BPE by score (llama2.c, GGUF "llama") has it. */
void strata_tokenizer_set_add_space_prefix (StrataTokenizer *tok, gboolean add);

void strata_tokenizer_free (StrataTokenizer *tok);

StrataTokenizerKind strata_tokenizer_get_kind (const StrataTokenizer *tok);
int strata_tokenizer_get_vocab_size (const StrataTokenizer *tok);
/* Where it was read from and its SHA-256 (hex) of the file(s). */
const char *strata_tokenizer_get_source (const StrataTokenizer *tok);
const char *strata_tokenizer_get_sha256 (const StrataTokenizer *tok);

/* Text -> ids (a GArray of int32_t). Fails with STRATA_DATA_ERROR_TOKEN on text it
 * cannot represent (e.g. a WordLevel tokenizer without an unk token). */
GArray *strata_tokenizer_encode (StrataTokenizer *tok, const char *text, GError **error);
/* Ids -> text (UTF-8; invalid byte sequences replaced by U+FFFD). A tokenizer.json runs its
 * decoder, as HF's decode(ids, skip_special_tokens=False) does; without a decoder the pieces
 * are concatenated (HF would join them with spaces). */
char *strata_tokenizer_decode (StrataTokenizer *tok, const int32_t *ids, gsize n_ids);
/* The piece of one id as a person should read it (GPT-2 bytes mapped back to text,
 * SentencePiece '▁' shown as a space); NULL when out of range. Borrowed. */
const char *strata_tokenizer_get_piece (StrataTokenizer *tok, int32_t id);
/* The id whose vocabulary entry is exactly `piece` (as it appears in the vocabulary
 * file, e.g. "Ġthe" or "<e_17>"), or -1. */
int32_t strata_tokenizer_lookup (StrataTokenizer *tok, const char *piece);
/* Special ids, -1 when the tokenizer has none. */
int32_t strata_tokenizer_get_bos (const StrataTokenizer *tok);
int32_t strata_tokenizer_get_eos (const StrataTokenizer *tok);
/* The id text outside the vocabulary becomes (WordLevel, SentencePiece without byte
 * fallback), -1 when the tokenizer has none (it then fails on such text instead). */
int32_t strata_tokenizer_get_unk (const StrataTokenizer *tok);
/* The ids HF puts around one sequence when special tokens are added (encode(text,
 * add_special_tokens=True)): `prefix` before it, `suffix` after it, each NULL when empty.
 * Returns FALSE when the tokenizer states no policy (vocab.json, llama2.c, a GGUF
 * SentencePiece vocabulary); a GGUF byte-level BPE states the file's (add_bos_token and
 * add_eos_token, else llama.cpp's default for its pre-tokenizer); a tokenizer.json always
 * states one:
 *  1. tokenizer_config.json beside it sets add_bos_token or add_eos_token: [bos] $A [eos]
 *     with each part present when its flag is true (an unstated flag is false), as
 *     transformers rebuilds the post-processor then;
 *  2. otherwise its post_processor (TemplateProcessing, Roberta/BertProcessing, Sequence);
 *  3. no post_processor: nothing is added. */
gboolean strata_tokenizer_get_specials (const StrataTokenizer *tok, const int32_t **prefix,
                                        gsize *n_prefix, const int32_t **suffix, gsize *n_suffix);
/* Overrides the special ids when the container names them (GGUF tokenizer.ggml.bos_token_id,
 * config.json); an id outside the vocabulary becomes -1. */
void strata_tokenizer_set_special (StrataTokenizer *tok, int32_t bos, int32_t eos);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataTokenizer, strata_tokenizer_free)

G_END_DECLS
