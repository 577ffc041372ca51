/* strata-tokenizer-hf.c: Hugging Face tokenizer.json — BPE (byte-level, or characters with
 * byte fallback and a SentencePiece-style '▁' normalizer) and WordLevel.
 *
 * HF's order: added tokens are split out first (strata-tokenizer.c), then each remaining
 * segment is normalized, pre-tokenized into words, and each word goes through the model.
 * Only the parts of the pipeline that GPT-2, Llama-2 and WordLevel files use are read;
 * anything else is refused with STRATA_DATA_ERROR_UNSUPPORTED rather than run differently.
 * Added tokens are matched on the raw text, also those marked normalized (HF matches those
 * on the normalized text; the files we test have none). */
#include "strata-tokenizer-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

static const char spm_space[] = "\xe2\x96\x81"; /* U+2581 '▁' */

#define FAIL(code, ...)                                                                       \
  G_STMT_START                                                                                \
  {                                                                                           \
    g_set_error (error, STRATA_DATA_ERROR, code, __VA_ARGS__);                                \
    return FALSE;                                                                             \
  }                                                                                           \
  G_STMT_END

#define FAIL_NULL(code, ...)                                                                  \
  G_STMT_START                                                                                \
  {                                                                                           \
    g_set_error (error, STRATA_DATA_ERROR, code, __VA_ARGS__);                                \
    return NULL;                                                                              \
  }                                                                                           \
  G_STMT_END

static const char *
member_string (JsonObject *o, const char *name)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, name) : NULL;
  return n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
           ? json_node_get_string (n)
           : NULL;
}

static gboolean
member_bool (JsonObject *o, const char *name, gboolean fallback)
{
  JsonNode *n = json_object_get_member (o, name);
  return n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_BOOLEAN
           ? json_node_get_boolean (n)
           : fallback;
}

static JsonObject *
member_object (JsonObject *o, const char *name)
{
  JsonNode *n = json_object_get_member (o, name);
  return n != NULL && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

/* ---- reading ---------------------------------------------------------------------------- */

/* model.vocab plus added_tokens -> pieces[id] (n of them); every id 0..n-1 must be named
 * once. The added tokens go to `added_out`. */
static char **
read_vocab (StrataTokenizer *tok, JsonObject *model, JsonArray *added, GArray *added_out,
            int *n_out, GError **error)
{
  const char *path = tok->source;
  JsonObject *vocab = member_object (model, "vocab");
  if (vocab == NULL)
    FAIL_NULL (STRATA_DATA_ERROR_FORMAT, "%s: model.vocab is missing or not an object", path);

  gint64 max_id = -1;
  JsonObjectIter iter;
  const char *key;
  JsonNode *value;
  json_object_iter_init (&iter, vocab);
  while (json_object_iter_next (&iter, &key, &value)) {
    if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_INT64 ||
        json_node_get_int (value) < 0 || json_node_get_int (value) >= G_MAXINT32)
      FAIL_NULL (STRATA_DATA_ERROR_FORMAT, "%s: model.vocab['%s'] is not a token id", path, key);
    max_id = MAX (max_id, json_node_get_int (value));
  }
  guint n_added = added != NULL ? json_array_get_length (added) : 0;
  for (guint i = 0; i < n_added; i++) {
    JsonObject *a = json_array_get_object_element (added, i);
    JsonNode *id = a != NULL ? json_object_get_member (a, "id") : NULL;
    if (id == NULL || !JSON_NODE_HOLDS_VALUE (id) || json_node_get_value_type (id) != G_TYPE_INT64 ||
        json_node_get_int (id) < 0 || json_node_get_int (id) >= G_MAXINT32 ||
        member_string (a, "content") == NULL || member_string (a, "content")[0] == '\0')
      FAIL_NULL (STRATA_DATA_ERROR_FORMAT, "%s: added_tokens[%u] needs an id and a content", path, i);
    max_id = MAX (max_id, json_node_get_int (id));
  }
  /* ids are dense in real files; a hole or a wild id is a broken file, and this bound keeps
   * a bad id from allocating gigabytes. */
  gint64 n = max_id + 1;
  if (n > (gint64) json_object_get_size (vocab) + n_added)
    FAIL_NULL (STRATA_DATA_ERROR_FORMAT, "%s: token id %" G_GINT64_FORMAT
          " is beyond the %u tokens listed", path, max_id, json_object_get_size (vocab) + n_added);

  char **pieces = g_new0 (char *, n + 1);
  json_object_iter_init (&iter, vocab);
  while (json_object_iter_next (&iter, &key, &value)) {
    gint64 id = json_node_get_int (value);
    if (pieces[id] != NULL) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: id %" G_GINT64_FORMAT " is given to both '%s' and '%s'", path, id,
                   pieces[id], key);
      _strata_pieces_free (pieces, n);
      return NULL;
    }
    pieces[id] = g_strdup (key);
  }
  for (guint i = 0; i < n_added; i++) {
    JsonObject *a = json_array_get_object_element (added, i);
    gint64 id = json_object_get_int_member (a, "id");
    const char *content = member_string (a, "content");
    if (pieces[id] == NULL)
      pieces[id] = g_strdup (content);
    StrataAddedToken t = { g_strdup (content), strlen (content), (int32_t) id };
    g_array_append_val (added_out, t);
  }
  for (gint64 i = 0; i < n; i++) {
    if (pieces[i] == NULL) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: no token has id %" G_GINT64_FORMAT " (ids must run 0..%" G_GINT64_FORMAT
                   " without gaps)", path, i, n - 1);
      _strata_pieces_free (pieces, n);
      return NULL;
    }
  }
  *n_out = (int) n;
  return pieces;
}

/* model.merges: "left right" strings (older files) or ["left", "right"] pairs. */
static gboolean
read_merges (StrataTokenizer *tok, JsonObject *model, GError **error)
{
  JsonNode *node = json_object_get_member (model, "merges");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    FAIL (STRATA_DATA_ERROR_FORMAT, "%s: model.merges is missing or not a list", tok->source);
  JsonArray *merges = json_node_get_array (node);
  guint n = json_array_get_length (merges);
  tok->merge_table = g_new (StrataMerge, MAX (n, 1));
  for (guint i = 0; i < n; i++) {
    JsonNode *m = json_array_get_element (merges, i);
    g_autofree char *left = NULL;
    const char *right = NULL;
    if (JSON_NODE_HOLDS_VALUE (m) && json_node_get_value_type (m) == G_TYPE_STRING) {
      left = g_strdup (json_node_get_string (m));
      char *sp = strchr (left, ' ');
      if (sp != NULL && sp != left && sp[1] != '\0' && strchr (sp + 1, ' ') == NULL) {
        *sp = '\0';
        right = sp + 1;
      }
    } else if (JSON_NODE_HOLDS_ARRAY (m) && json_array_get_length (json_node_get_array (m)) == 2) {
      JsonArray *pair = json_node_get_array (m);
      JsonNode *l = json_array_get_element (pair, 0), *r = json_array_get_element (pair, 1);
      if (JSON_NODE_HOLDS_VALUE (l) && json_node_get_value_type (l) == G_TYPE_STRING &&
          JSON_NODE_HOLDS_VALUE (r) && json_node_get_value_type (r) == G_TYPE_STRING) {
        left = g_strdup (json_node_get_string (l));
        right = json_node_get_string (r);
      }
    }
    if (right == NULL)
      FAIL (STRATA_DATA_ERROR_FORMAT, "%s: model.merges[%u] is not a pair of tokens",
            tok->source, i);
    if (!_strata_merges_add (tok, tok->source, left, right, (int32_t) i, error))
      return FALSE;
  }
  return TRUE;
}

/* normalizer: none, or Llama-2's Prepend('▁') + Replace(' ', '▁') in either order. */
static gboolean
read_normalizer (StrataTokenizer *tok, JsonObject *root, GError **error)
{
  JsonObject *norm = member_object (root, "normalizer");
  if (norm == NULL)
    return TRUE;
  const char *type = member_string (norm, "type");
  JsonArray *list = NULL;
  if (g_strcmp0 (type, "Sequence") == 0) {
    JsonNode *n = json_object_get_member (norm, "normalizers");
    list = n != NULL && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
  }
  gboolean prepend = FALSE, replace = FALSE;
  guint count = list != NULL ? json_array_get_length (list) : 1;
  for (guint i = 0; i < count; i++) {
    JsonObject *o = list != NULL ? json_array_get_object_element (list, i) : norm;
    const char *t = member_string (o, "type");
    if (g_strcmp0 (t, "Prepend") == 0 && g_strcmp0 (member_string (o, "prepend"), spm_space) == 0) {
      prepend = TRUE;
    } else if (g_strcmp0 (t, "Replace") == 0 &&
               g_strcmp0 (member_string (member_object (o, "pattern"), "String"), " ") == 0 &&
               g_strcmp0 (member_string (o, "content"), spm_space) == 0) {
      replace = TRUE;
    } else {
      FAIL (STRATA_DATA_ERROR_UNSUPPORTED, "%s: normalizer '%s' is not supported", tok->source,
            t != NULL ? t : "(no type)");
    }
  }
  if (prepend != replace)
    FAIL (STRATA_DATA_ERROR_UNSUPPORTED,
          "%s: only the SentencePiece pair Prepend('▁') + Replace(' ', '▁') is supported",
          tok->source);
  tok->spm_normalize = prepend;
  return TRUE;
}

static gboolean
read_pre_tokenizer (StrataTokenizer *tok, JsonObject *root, GError **error)
{
  JsonObject *pre = member_object (root, "pre_tokenizer");
  if (pre == NULL)
    return TRUE;
  const char *type = member_string (pre, "type");
  if (g_strcmp0 (type, "ByteLevel") == 0) {
    tok->byte_level = TRUE;
    tok->add_prefix_space = member_bool (pre, "add_prefix_space", FALSE);
    if (member_bool (pre, "use_regex", TRUE)) {
      tok->pre = STRATA_PRE_GPT2;
      tok->pre_regex = _strata_gpt2_regex (error);
      return tok->pre_regex != NULL;
    }
    return TRUE;
  }
  if (g_strcmp0 (type, "Metaspace") == 0) {
    if (g_strcmp0 (member_string (pre, "replacement"), spm_space) != 0)
      FAIL (STRATA_DATA_ERROR_UNSUPPORTED, "%s: Metaspace replacement other than '▁'",
            tok->source);
    const char *scheme = member_string (pre, "prepend_scheme");
    tok->metaspace = TRUE;
    tok->metaspace_split = member_bool (pre, "split", TRUE);
    if (scheme == NULL) /* older files: add_prefix_space */
      tok->metaspace_prepend = member_bool (pre, "add_prefix_space", TRUE) ? 0 : 2;
    else if (strcmp (scheme, "always") == 0)
      tok->metaspace_prepend = 0;
    else if (strcmp (scheme, "first") == 0)
      tok->metaspace_prepend = 1;
    else if (strcmp (scheme, "never") == 0)
      tok->metaspace_prepend = 2;
    else
      FAIL (STRATA_DATA_ERROR_UNSUPPORTED, "%s: Metaspace prepend_scheme '%s'", tok->source,
            scheme);
    return TRUE;
  }
  const char *pattern = NULL;
  if (g_strcmp0 (type, "Whitespace") == 0) {
    tok->pre = STRATA_PRE_WHITESPACE;
    pattern = "\\w+|[^\\w\\s]+";
  } else if (g_strcmp0 (type, "WhitespaceSplit") == 0) {
    tok->pre = STRATA_PRE_WHITESPACE_SPLIT;
    pattern = "\\S+";
  } else {
    FAIL (STRATA_DATA_ERROR_UNSUPPORTED, "%s: pre_tokenizer '%s' is not supported", tok->source,
          type != NULL ? type : "(no type)");
  }
  tok->pre_regex = g_regex_new (pattern, G_REGEX_OPTIMIZE, 0, error);
  return tok->pre_regex != NULL;
}

/* bos/eos: tokenizer_config.json beside the file names them; otherwise the usual names. */
static void
read_special (StrataTokenizer *tok, const char *path)
{
  int32_t ids[2] = { -1, -1 };
  const char *keys[2] = { "bos_token", "eos_token" };
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *config = g_build_filename (dir, "tokenizer_config.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (json_parser_load_from_file (parser, config, NULL) &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    JsonObject *o = json_node_get_object (json_parser_get_root (parser));
    for (int k = 0; k < 2; k++) {
      const char *name = member_string (o, keys[k]);
      if (name == NULL) /* {"content": "<s>", ...} form */
        name = member_string (member_object (o, keys[k]), "content");
      if (name != NULL)
        ids[k] = strata_tokenizer_lookup (tok, name);
    }
  }
  static const char *const bos_names[] = { "<s>", "<|begin_of_text|>", "<|endoftext|>" };
  static const char *const eos_names[] = { "</s>", "<|end_of_text|>", "<|endoftext|>" };
  for (guint i = 0; i < G_N_ELEMENTS (bos_names) && ids[0] < 0; i++)
    ids[0] = strata_tokenizer_lookup (tok, bos_names[i]);
  for (guint i = 0; i < G_N_ELEMENTS (eos_names) && ids[1] < 0; i++)
    ids[1] = strata_tokenizer_lookup (tok, eos_names[i]);
  strata_tokenizer_set_special (tok, ids[0], ids[1]);
}

StrataTokenizer *
strata_tokenizer_new_hf_json (const char *path, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  if (!json_parser_load_from_mapped_file (parser, path, &local)) {
    g_set_error (error, STRATA_DATA_ERROR,
                 local->domain == G_FILE_ERROR ? STRATA_DATA_ERROR_IO : STRATA_DATA_ERROR_FORMAT,
                 "%s: %s", path, local->message);
    return NULL;
  }
  JsonNode *root_node = json_parser_get_root (parser);
  JsonObject *root = root_node != NULL && JSON_NODE_HOLDS_OBJECT (root_node)
                       ? json_node_get_object (root_node)
                       : NULL;
  JsonObject *model = root != NULL ? member_object (root, "model") : NULL;
  if (model == NULL) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: no \"model\" object: not a tokenizer.json", path);
    return NULL;
  }
  const char *type = member_string (model, "type");
  if (type == NULL && json_object_has_member (model, "merges"))
    type = "BPE"; /* early files left the type out */
  gboolean bpe = g_strcmp0 (type, "BPE") == 0;
  if (!bpe && g_strcmp0 (type, "WordLevel") != 0) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                 "%s: model type '%s' is not supported (BPE and WordLevel are)", path,
                 type != NULL ? type : "(none)");
    return NULL;
  }

  g_autoptr (StrataTokenizer) tok = _strata_tokenizer_alloc (
    bpe ? STRATA_TOKENIZER_SPM_BPE : STRATA_TOKENIZER_WORD_LEVEL,
    bpe ? STRATA_ENCODER_HF_BPE : STRATA_ENCODER_WORD_LEVEL, path);
  if (!read_normalizer (tok, root, error) || !read_pre_tokenizer (tok, root, error))
    return NULL;
  if (tok->byte_level) {
    if (!bpe) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                   "%s: a ByteLevel pre-tokenizer with a WordLevel model", path);
      return NULL;
    }
    tok->kind = STRATA_TOKENIZER_BYTE_BPE;
    tok->encoder = STRATA_ENCODER_BYTE_BPE;
  }
  if (bpe) {
    const char *prefix = member_string (model, "continuing_subword_prefix");
    const char *suffix = member_string (model, "end_of_word_suffix");
    JsonNode *dropout = json_object_get_member (model, "dropout");
    if ((prefix != NULL && prefix[0]) || (suffix != NULL && suffix[0]) ||
        (dropout != NULL && !JSON_NODE_HOLDS_NULL (dropout) && json_node_get_double (dropout) > 0)) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                   "%s: BPE with subword prefix/suffix or dropout is not supported", path);
      return NULL;
    }
    tok->byte_fallback = member_bool (model, "byte_fallback", FALSE);
    tok->fuse_unk = member_bool (model, "fuse_unk", FALSE);
    tok->ignore_merges = member_bool (model, "ignore_merges", FALSE);
  }

  JsonNode *added_node = json_object_get_member (root, "added_tokens");
  JsonArray *added = added_node != NULL && JSON_NODE_HOLDS_ARRAY (added_node)
                       ? json_node_get_array (added_node)
                       : NULL;
  g_autoptr (GArray) added_tokens = g_array_new (FALSE, FALSE, sizeof (StrataAddedToken));
  int n = 0;
  char **pieces = read_vocab (tok, model, added, added_tokens, &n, error);
  if (pieces == NULL) {
    for (guint i = 0; i < added_tokens->len; i++)
      g_free (g_array_index (added_tokens, StrataAddedToken, i).content);
    return NULL;
  }
  /* The added list goes in first: set_vocab decodes added tokens as their plain content. */
  _strata_tokenizer_set_added (tok, g_steal_pointer (&added_tokens));
  if (!_strata_tokenizer_set_vocab (tok, pieces, n, error))
    return NULL;

  const char *unk = member_string (model, "unk_token");
  if (unk != NULL) {
    tok->unk_id = strata_tokenizer_lookup (tok, unk);
    if (tok->unk_id < 0) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: unk_token '%s' is not in the vocabulary", path, unk);
      return NULL;
    }
  }
  if (bpe && !read_merges (tok, model, error))
    return NULL;
  const char *paths[] = { path, NULL };
  if (!_strata_tokenizer_hash_files (tok, paths, error))
    return NULL;
  read_special (tok, path);
  return g_steal_pointer (&tok);
}

/* ---- encoding --------------------------------------------------------------------------- */

typedef gboolean (*WordFunc) (StrataTokenizer *tok, const char *w, gsize n, GArray *out,
                              GError **error);

/* Pre-tokenize `text` and hand each word to `fn`. */
static gboolean
for_each_word (StrataTokenizer *tok, const char *text, gsize len, WordFunc fn, GArray *out,
               GError **error)
{
  if (tok->metaspace && tok->metaspace_split) {
    /* words start at each '▁' (HF: MergedWithNext) */
    gsize start = 0;
    for (gsize i = 1; i + 3 <= len; i++) {
      if (memcmp (text + i, spm_space, 3) == 0) {
        if (!fn (tok, text + start, i - start, out, error))
          return FALSE;
        start = i;
      }
    }
    return len == 0 || fn (tok, text + start, len - start, out, error);
  }
  if (tok->pre_regex == NULL)
    return len == 0 || fn (tok, text, len, out, error);
  g_autoptr (GMatchInfo) info = NULL;
  g_regex_match_full (tok->pre_regex, text, len, 0, 0, &info, NULL);
  while (g_match_info_matches (info)) {
    gint start, end;
    g_match_info_fetch_pos (info, 0, &start, &end);
    if (end > start && !fn (tok, text + start, end - start, out, error))
      return FALSE;
    g_match_info_next (info, NULL);
  }
  return TRUE;
}

/* Llama-2 normalizer / Metaspace: ' ' -> '▁', and a leading '▁'. Metaspace's "first"
 * scheme is treated as "always": a segment does not know whether it follows an added token. */
static char *
spm_normalized (StrataTokenizer *tok, const char *text, gsize len, gsize *out_len)
{
  GString *s = g_string_sized_new (len + 8);
  gboolean prepend = tok->spm_normalize || (tok->metaspace && tok->metaspace_prepend != 2);
  if (prepend && len > 0 && !(tok->metaspace && text[0] == ' '))
    g_string_append (s, spm_space);
  for (gsize i = 0; i < len; i++) {
    if (text[i] == ' ')
      g_string_append (s, spm_space);
    else
      g_string_append_c (s, text[i]);
  }
  *out_len = s->len;
  return g_string_free (s, FALSE);
}

static gboolean
bpe_word (StrataTokenizer *tok, const char *w, gsize n, GArray *out, GError **error)
{
  if (tok->ignore_merges) {
    int32_t id = _strata_tokenizer_lookup_len (tok, w, n);
    if (id >= 0) {
      g_array_append_val (out, id);
      return TRUE;
    }
  }
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  gboolean last_unk = FALSE;
  for (const char *c = w; c < w + n;) {
    const char *next = g_utf8_next_char (c);
    int32_t id = _strata_tokenizer_lookup_len (tok, c, next - c);
    if (id >= 0) {
      g_array_append_val (ids, id);
      last_unk = FALSE;
      c = next;
      continue;
    }
    if (tok->byte_fallback) {
      /* HF uses the byte pieces only when every byte of the character has one */
      int32_t bytes[4];
      gsize k, nb = next - c;
      for (k = 0; k < nb && (bytes[k] = _strata_tokenizer_byte_id (tok, (guint8) c[k])) >= 0; k++)
        ;
      if (k == nb) {
        g_array_append_vals (ids, bytes, nb);
        last_unk = FALSE;
        c = next;
        continue;
      }
    }
    if (tok->unk_id < 0) {
      g_autofree char *ch = g_strndup (c, next - c);
      FAIL (STRATA_DATA_ERROR_TOKEN, "%s: '%s' is not in the vocabulary and there is no unk token",
            tok->source, ch);
    }
    if (!(tok->fuse_unk && last_unk))
      g_array_append_val (ids, tok->unk_id);
    last_unk = TRUE;
    c = next;
  }
  _strata_bpe_merge (tok, STRATA_MERGE_BY_RANK, ids);
  g_array_append_vals (out, ids->data, ids->len);
  return TRUE;
}

gboolean
_strata_encode_hf_bpe (StrataTokenizer *tok, const char *text, gsize len, GArray *out,
                       GError **error)
{
  if (tok->spm_normalize || tok->metaspace) {
    gsize n;
    g_autofree char *norm = spm_normalized (tok, text, len, &n);
    return for_each_word (tok, norm, n, bpe_word, out, error);
  }
  return for_each_word (tok, text, len, bpe_word, out, error);
}

static gboolean
word_level_word (StrataTokenizer *tok, const char *w, gsize n, GArray *out, GError **error)
{
  int32_t id = _strata_tokenizer_lookup_len (tok, w, n);
  if (id < 0)
    id = tok->unk_id;
  if (id < 0)
    FAIL (STRATA_DATA_ERROR_TOKEN, "%s: '%.*s' is not in the vocabulary and there is no unk token",
          tok->source, (int) n, w);
  g_array_append_val (out, id);
  return TRUE;
}

gboolean
_strata_encode_word_level (StrataTokenizer *tok, const char *text, gsize len, GArray *out,
                           GError **error)
{
  return for_each_word (tok, text, len, word_level_word, out, error);
}
