/* strata-tokenizer-gguf.c: a GGUF byte-level BPE vocabulary (tokenizer.ggml.model "gpt2") as
 * the tokenizer.json it was converted from.
 *
 * llama.cpp's convert_hf_to_gguf.py (_set_vocab_gpt2: get_vocab_base and gguf-py's
 * SpecialVocab) writes a tokenizer.json BPE as
 *  - tokenizer.ggml.tokens: every id's string; the model's byte-level pieces ("Ġthe"), added
 *    tokens as their content ("<|im_start|>"), "[PAD<i>]" for ids the tokenizer lacks;
 *  - tokenizer.ggml.token_type: NORMAL for the model's pieces, CONTROL for added tokens that
 *    are special or look special (<|...|>, <｜...｜>), USER_DEFINED for the other added
 *    tokens, UNUSED for the padding ids;
 *  - tokenizer.ggml.merges: "left right", in rank order;
 *  - bos/eos ids and add_bos_token/add_eos_token, from tokenizer_config.json and the
 *    post-processor's template.
 * The normalizer, pre-tokenizer and decoder are not stored: tokenizer.ggml.pre names them,
 * through a hash of the ids the tokenizer gives one fixed text (get_vocab_base_pre), and
 * llama.cpp keeps a regex list per name (llm_tokenizer_bpe in src/llama-vocab.cpp).
 *
 * Strata builds from these the pipeline a tokenizer.json of the named family builds
 * (strata-tokenizer-hf.c), so the ids are HF tokenizers':
 *  - `families` gives, for llama.cpp's names, the family's normalizer, its Split regex as its
 *    tokenizer.json writes it (Oniguruma's (?i:'s|...), not llama.cpp's rewrite of it), the
 *    ByteLevel step, BPE ignore_merges, and llama.cpp's BOS default for the name;
 *  - NORMAL ids (and BYTE, UNDEFINED) are the BPE model's vocabulary; CONTROL and UNKNOWN ids
 *    are special added tokens, matched in the raw text; USER_DEFINED ids are added tokens
 *    that are not special, matched after the normalizer (HF's default for such a token,
 *    normalized = true); UNUSED ids are neither;
 *  - BOS/EOS around a sequence: the file's add_bos_token/add_eos_token, else llama.cpp's
 *    default for the name; the ids are the file's bos/eos_token_id.
 * What the file does not keep and so cannot be followed: an added token's lstrip, rstrip,
 * single_word and `normalized` flags (a USER_DEFINED token that HF matches in the raw text,
 * such as Qwen2's <tool_call>, is matched after NFC here: the two differ only where NFC
 * changes the token's edges, a combining mark right after it).
 * Where llama.cpp itself departs from the tokenizer.json, Strata follows the tokenizer.json:
 * llama.cpp runs no NFC for the Qwen2 and GPT-NeoX families, and splits CONTROL tokens out of
 * a text only when asked to parse special tokens.
 *
 * A name outside the table is refused, as llama.cpp refuses a name it does not know: its
 * other names mean regex lists and options that no tokenizer.json here checks. A file
 * without tokenizer.ggml.pre (llama.cpp: "default", with a warning that generation quality
 * will be degraded) is refused too. */
#include "strata-tokenizer-hf-private.h"

#include <string.h>

/* GGUF token types (gguf-py's TokenType, llama.cpp's llama_token_type). */
enum {
  TYPE_UNDEFINED = 0,
  TYPE_NORMAL = 1,
  TYPE_UNKNOWN = 2,
  TYPE_CONTROL = 3,
  TYPE_USER_DEFINED = 4,
  TYPE_UNUSED = 5,
  TYPE_BYTE = 6,
};

/* Meta Llama 3's Split regex; Qwen2's differs in taking digits one at a time. */
#define LLAMA3_RE                                                                             \
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}|"                   \
  " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2_RE                                                                              \
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}|"                        \
  " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

typedef struct {
  const char *names[4];    /* tokenizer.ggml.pre values llama.cpp gives this pipeline */
  const char *split;       /* Split(regex, Isolated) before ByteLevel(use_regex false); NULL:
                            * ByteLevel(use_regex true), GPT-2's own regex */
  gboolean nfc;            /* the tokenizer.json's normalizer is NFC */
  gboolean ignore_merges;  /* BPE ignore_merges: a piece in the vocabulary is taken whole */
  gboolean add_bos;        /* llama.cpp's BOS default for the name (no add_bos_token key) */
} Family;

static const Family families[] = {
  /* Meta Llama 3, 3.1, 3.2 and their fine-tunes (the DeepSeek-R1 Llama distills): no
   * normalizer; llama.cpp sets ignore_merges and add_bos for these names. */
  { { "llama-bpe", "llama3", "llama-v3" }, LLAMA3_RE, FALSE, TRUE, TRUE },
  /* Qwen2, Qwen2.5, Qwen3, the DeepSeek-R1 Qwen distills: NFC, then the Qwen2 regex. */
  { { "qwen2", "deepseek-r1-qwen" }, QWEN2_RE, TRUE, FALSE, FALSE },
  /* OpenAI's GPT-2: ByteLevel with its own regex, no normalizer. */
  { { "gpt-2" }, NULL, FALSE, FALSE, FALSE },
  /* EleutherAI's GPT-NeoX-20B tokenizer (GPT-NeoX, Pythia, MPT, OLMo 1): NFC, then GPT-2's
   * ByteLevel. The converter's hash is the same for MPT's and OLMo's; the last name it
   * checks, "olmo", is what such files carry. */
  { { "olmo", "mpt" }, NULL, TRUE, FALSE, FALSE },
};

static const Family *
find_family (const char *pre)
{
  for (gsize i = 0; pre != NULL && i < G_N_ELEMENTS (families); i++)
    for (gsize k = 0; k < G_N_ELEMENTS (families[i].names) && families[i].names[k]; k++)
      if (strcmp (pre, families[i].names[k]) == 0)
        return &families[i];
  return NULL;
}

static char *
known_names (void)
{
  GString *s = g_string_new (NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (families); i++)
    for (gsize k = 0; k < G_N_ELEMENTS (families[i].names) && families[i].names[k]; k++)
      g_string_append_printf (s, "%s%s", s->len ? ", " : "", families[i].names[k]);
  return g_string_free (s, FALSE);
}

/* The steps of the family's tokenizer.json: normalizer, pre-tokenizer, decoder, model. */
static gboolean
build_steps (StrataTokenizer *tok, const Family *fam, GError **error)
{
  StrataHf *hf = tok->hf;
  hf->model = STRATA_HF_BPE;
  hf->ignore_merges = fam->ignore_merges;
  if (fam->nfc) {
    StrataNormalizer n = { .kind = STRATA_NORM_NFC };
    g_array_append_val (hf->normalizers, n);
  }
  if (fam->split != NULL) {
    StrataPreStep p = { .kind = STRATA_PRE_SPLIT, .behavior = STRATA_SPLIT_ISOLATED };
    if ((p.regex = _strata_hf_regex_new (fam->split, FALSE, error)) == NULL)
      return FALSE;
    g_array_append_val (hf->pre, p);
  }
  if (!_strata_hf_add_byte_level (tok, FALSE, fam->split == NULL, error))
    return FALSE;
  StrataDecStep d = { .kind = STRATA_DEC_BYTE_LEVEL };
  g_array_append_val (hf->decoders, d);
  hf->has_decoder = TRUE;
  return TRUE;
}

/* pieces, id flags and added tokens from the strings and their types. */
static gboolean
build_vocab (StrataTokenizer *tok, const StrataGgufBpe *v, GError **error)
{
  int n = v->n_tokens;
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GArray) added = _strata_hf_added_new ();
  char **pieces = g_new0 (char *, n + 1);
  tok->id_flags = g_new0 (guint8, n);
  for (int i = 0; i < n; i++) {
    const char *t = v->tokens[i] != NULL ? v->tokens[i] : "";
    gpointer other;
    /* a tokenizer.json holds text only; every step after this one reads UTF-8 */
    if (!g_utf8_validate (t, -1, NULL)) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: token %d of tokenizer.ggml.tokens is not UTF-8 text", tok->source, i);
      _strata_pieces_free (pieces, n);
      return FALSE;
    }
    /* (an empty string is no piece any text becomes; llama.cpp renames each) */
    if (t[0] != '\0' && g_hash_table_lookup_extended (seen, t, NULL, &other)) {
      /* llama.cpp refuses such a file: one string, two ids */
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: token '%s' has ids %d and %d in tokenizer.ggml.tokens", tok->source, t,
                   GPOINTER_TO_INT (other), i);
      _strata_pieces_free (pieces, n);
      return FALSE;
    }
    g_hash_table_insert (seen, (gpointer) t, GINT_TO_POINTER (i));
    pieces[i] = g_strdup (t);
    int32_t type = v->types != NULL ? v->types[i] : TYPE_NORMAL;
    if (type == TYPE_CONTROL || type == TYPE_UNKNOWN || type == TYPE_USER_DEFINED) {
      StrataAddedToken a = { .content = g_strdup (t), .len = strlen (t), .id = i };
      a.special = type != TYPE_USER_DEFINED;
      a.normalized = !a.special;
      g_array_append_val (added, a);
      tok->id_flags[i] = STRATA_ID_ADDED;
    } else if (type != TYPE_UNUSED) {
      tok->id_flags[i] = STRATA_ID_MODEL;
    }
  }
  tok->n_added = (int) added->len;
  tok->added = (StrataAddedToken *) g_array_steal (added, NULL);
  tok->hf->n_model = n;
  return _strata_tokenizer_set_vocab (tok, pieces, n, error) && _strata_hf_index_added (tok, error);
}

/* "left right", split at the first space after the first character as llama.cpp splits it. */
static gboolean
build_merges (StrataTokenizer *tok, const StrataGgufBpe *v, GError **error)
{
  tok->merge_table = g_new (StrataMerge, MAX (v->n_merges, 1));
  for (int i = 0; i < v->n_merges; i++) {
    const char *m = v->merges[i] != NULL ? v->merges[i] : "";
    const char *sp = m[0] != '\0' ? strchr (m + 1, ' ') : NULL;
    if (sp == NULL || sp[1] == '\0' || !g_utf8_validate (m, -1, NULL)) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: tokenizer.ggml.merges[%d] '%s' is not two tokens", tok->source, i, m);
      return FALSE;
    }
    g_autofree char *left = g_strndup (m, sp - m);
    if (!_strata_merges_add (tok, tok->source, left, sp + 1, 0, i, error))
      return FALSE;
  }
  return TRUE;
}

/* The BOS/EOS around a sequence, as HF's post-processor would put them. */
static gboolean
build_specials (StrataTokenizer *tok, const Family *fam, const StrataGgufBpe *v, GError **error)
{
  strata_tokenizer_set_special (tok, v->bos, v->eos);
  gboolean add[2] = { v->add_bos >= 0 ? v->add_bos > 0 : fam->add_bos, v->add_eos > 0 };
  int32_t ids[2] = { tok->bos_id, tok->eos_id };
  const char *which[2] = { "bos", "eos" };
  for (int k = 0; k < 2; k++) {
    if (!add[k])
      continue;
    if (ids[k] < 0) { /* llama.cpp refuses this too (check_add_special_token) */
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: tokenizer.ggml.add_%s_token is %s, but tokenizer.ggml.%s_token_id names "
                   "no token", tok->source, which[k],
                   (k == 0 ? v->add_bos : v->add_eos) >= 0 ? "true" : "true by default", which[k]);
      return FALSE;
    }
    g_array_append_val (k == 0 ? tok->hf->prefix : tok->hf->suffix, ids[k]);
  }
  return TRUE;
}

/* SHA-256 of what the file says about the tokenizer, in a fixed order. */
static char *
vocab_sha256 (const StrataGgufBpe *v)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  const char *pre = v->pre != NULL ? v->pre : "";
  g_checksum_update (sum, (const guchar *) pre, strlen (pre) + 1);
  for (int i = 0; i < v->n_tokens; i++)
    if (v->tokens[i] != NULL)
      g_checksum_update (sum, (const guchar *) v->tokens[i], strlen (v->tokens[i]) + 1);
  if (v->types != NULL)
    g_checksum_update (sum, (const guchar *) v->types, v->n_tokens * sizeof *v->types);
  for (int i = 0; i < v->n_merges; i++)
    if (v->merges[i] != NULL)
      g_checksum_update (sum, (const guchar *) v->merges[i], strlen (v->merges[i]) + 1);
  int32_t flags[4] = { v->bos, v->eos, v->add_bos, v->add_eos };
  g_checksum_update (sum, (const guchar *) flags, sizeof flags);
  return g_strdup (g_checksum_get_string (sum));
}

/* The family of the pipeline the file names, and the tokens and merges it must hold. */
static gboolean
check_vocab (const char *source, const StrataGgufBpe *v, const Family **fam, GError **error)
{
  *fam = find_family (v->pre);
  if (*fam == NULL) {
    g_autofree char *known = known_names ();
    if (v->pre == NULL)
      FAIL (STRATA_DATA_ERROR_UNSUPPORTED,
            "%s: its byte-level BPE vocabulary (tokenizer.ggml.model 'gpt2') names no "
            "pre-tokenizer (tokenizer.ggml.pre), so how its text is split is unknown "
            "(Strata reads %s)", source, known);
    FAIL (STRATA_DATA_ERROR_UNSUPPORTED,
          "%s: its byte-level BPE vocabulary (tokenizer.ggml.model 'gpt2') names pre-tokenizer "
          "'%s' (tokenizer.ggml.pre), which Strata does not know (it reads %s)",
          source, v->pre, known);
  }
  /* llama.cpp refuses such a file ("cannot find tokenizer merges"); the weights are fine */
  if (v->n_merges < 0)
    FAIL (STRATA_DATA_ERROR_UNSUPPORTED,
          "%s: its byte-level BPE vocabulary (tokenizer.ggml.model 'gpt2', pre-tokenizer '%s') "
          "has no merges (tokenizer.ggml.merges)", source, v->pre);
  if (v->n_tokens <= 0 || v->tokens == NULL || (v->n_merges > 0 && v->merges == NULL))
    FAIL (STRATA_DATA_ERROR_FORMAT, "%s: the byte-level BPE vocabulary is empty", source);
  return TRUE;
}

StrataTokenizer *
strata_tokenizer_new_gguf_bpe (const char *source, const StrataGgufBpe *v, GError **error)
{
  const Family *fam;
  if (!check_vocab (source, v, &fam, error))
    return NULL;

  g_autoptr (StrataTokenizer) tok =
    _strata_tokenizer_alloc (STRATA_TOKENIZER_BYTE_BPE, STRATA_ENCODER_HF, source);
  tok->hf = _strata_hf_new ();
  /* the steps first: ByteLevel decides how the pieces read */
  if (!build_steps (tok, fam, error) || !build_vocab (tok, v, error) ||
      !build_merges (tok, v, error) || !build_specials (tok, fam, v, error))
    return NULL;
  tok->sha256 = vocab_sha256 (v);
  return g_steal_pointer (&tok);
}
