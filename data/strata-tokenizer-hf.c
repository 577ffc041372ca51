/* strata-tokenizer-hf.c: Hugging Face tokenizer.json — reading the file, the added tokens,
 * the BPE and WordLevel models, and the encode pipeline that ties the steps together
 * (strata-tokenizer-hf-private.h lists the steps; -hf-steps.c, -hf-decode.c and -unigram.c
 * hold them).
 *
 * What is read, and matches HF `tokenizers` (0.23) id for id:
 *  - models BPE (merges as "a b" or ["a", "b"], byte_fallback, fuse_unk, ignore_merges,
 *    continuing_subword_prefix, end_of_word_suffix), WordLevel, Unigram;
 *  - normalizers NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend, Strip, StripAccents, Nmt,
 *    ByteLevel, Sequence;
 *  - pre-tokenizers Split (String or Regex, every behavior, invert), ByteLevel, Metaspace,
 *    Digits, Punctuation, Whitespace, WhitespaceSplit, BertPreTokenizer, CharDelimiterSplit,
 *    Sequence;
 *  - decoders ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence;
 *  - post-processors TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing,
 *    Sequence (for the special tokens around a sequence only);
 *  - added tokens with single_word, lstrip, rstrip, normalized.
 * Anything else (WordPiece, Precompiled, UnicodeScripts, BPE dropout...) is refused with an
 * error that names it and the file, rather than run differently. truncation and padding are
 * ignored: Strata never cuts or pads a prompt. */
#include "strata-tokenizer-hf-private.h"

#include <string.h>

/* ---- JSON helpers ------------------------------------------------------------------------ */

const char *
_strata_json_string (JsonObject *o, const char *name)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, name) : NULL;
  return n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
           ? json_node_get_string (n)
           : NULL;
}

gboolean
_strata_json_bool (JsonObject *o, const char *name, gboolean fallback)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, name) : NULL;
  return n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_BOOLEAN
           ? json_node_get_boolean (n)
           : fallback;
}

JsonObject *
_strata_json_object (JsonObject *o, const char *name)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, name) : NULL;
  return n != NULL && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

const char *
_strata_json_type (JsonObject *o)
{
  const char *t = _strata_json_string (o, "type");
  return t != NULL ? t : "(no type)";
}

gboolean
_strata_hf_read_char (StrataTokenizer *tok, JsonObject *o, const char *member, const char *what,
                      gunichar *out, GError **error)
{
  const char *s = _strata_json_string (o, member);
  if (s == NULL || s[0] == '\0' || *g_utf8_next_char (s) != '\0')
    FAIL (STRATA_DATA_ERROR_FORMAT, "%s: %s needs one character as \"%s\"", tok->source, what,
          member);
  *out = g_utf8_get_char (s);
  return TRUE;
}

/* One step of a list; a Sequence stands for its members, nested at most 32 deep. */
static gboolean
read_step (StrataTokenizer *tok, JsonObject *o, const StrataHfSteps *steps, int depth,
           GError **error)
{
  const char *type = _strata_json_type (o);
  if (depth > 32)
    FAIL (STRATA_DATA_ERROR_FORMAT, "%s: %s nested too deeply", tok->source, steps->nested);
  if (strcmp (type, "Sequence") != 0)
    return steps->read (tok, o, type, error);
  JsonNode *list = json_object_get_member (o, steps->list);
  if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
    FAIL (STRATA_DATA_ERROR_FORMAT, "%s: %s Sequence needs a list \"%s\"", tok->source,
          steps->member, steps->list);
  JsonArray *a = json_node_get_array (list);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *e = json_array_get_element (a, i);
    if (!JSON_NODE_HOLDS_OBJECT (e))
      FAIL (STRATA_DATA_ERROR_FORMAT, "%s: %s[%u] is not an object", tok->source, steps->list, i);
    if (!read_step (tok, json_node_get_object (e), steps, depth + 1, error))
      return FALSE;
  }
  return TRUE;
}

gboolean
_strata_hf_read_steps (StrataTokenizer *tok, JsonObject *root, const StrataHfSteps *steps,
                       GError **error)
{
  JsonNode *node = json_object_get_member (root, steps->member);
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    FAIL (STRATA_DATA_ERROR_FORMAT, "%s: %s is not an object", tok->source, steps->member);
  return read_step (tok, json_node_get_object (node), steps, 0, error);
}

static gboolean
json_id (JsonNode *n, gint64 *out)
{
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64 ||
      json_node_get_int (n) < 0 || json_node_get_int (n) >= G_MAXINT32)
    return FALSE;
  *out = json_node_get_int (n);
  return TRUE;
}

/* ---- the pipeline's own memory ----------------------------------------------------------- */

StrataHf *
_strata_hf_new (void)
{
  StrataHf *hf = g_new0 (StrataHf, 1);
  hf->normalizers = g_array_new (FALSE, FALSE, sizeof (StrataNormalizer));
  hf->pre = g_array_new (FALSE, FALSE, sizeof (StrataPreStep));
  hf->decoders = g_array_new (FALSE, FALSE, sizeof (StrataDecStep));
  hf->prefix = g_array_new (FALSE, FALSE, sizeof (int32_t));
  hf->suffix = g_array_new (FALSE, FALSE, sizeof (int32_t));
  return hf;
}

static void
index_clear (StrataAddedIndex *index)
{
  for (int b = 0; b < 256; b++)
    g_clear_pointer (&index->by_byte[b], g_ptr_array_unref);
}

void
_strata_hf_free (StrataHf *hf)
{
  if (hf == NULL)
    return;
  for (guint i = 0; i < hf->normalizers->len; i++) {
    StrataNormalizer *n = &g_array_index (hf->normalizers, StrataNormalizer, i);
    g_clear_pointer (&n->regex, g_regex_unref);
    g_free (n->content);
  }
  for (guint i = 0; i < hf->pre->len; i++)
    g_clear_pointer (&g_array_index (hf->pre, StrataPreStep, i).regex, g_regex_unref);
  for (guint i = 0; i < hf->decoders->len; i++) {
    StrataDecStep *d = &g_array_index (hf->decoders, StrataDecStep, i);
    g_clear_pointer (&d->regex, g_regex_unref);
    g_free (d->content);
  }
  g_array_unref (hf->normalizers);
  g_array_unref (hf->pre);
  g_array_unref (hf->decoders);
  g_array_unref (hf->prefix);
  g_array_unref (hf->suffix);
  g_free (hf->subword_prefix);
  g_free (hf->word_suffix);
  g_free (hf->scores);
  g_free (hf->sorted);
  g_free (hf->piece_len);
  index_clear (&hf->raw);
  index_clear (&hf->normalized);
  g_free (hf);
}

/* ---- vocabulary and added tokens --------------------------------------------------------- */

/* The model's own entries: BPE/WordLevel {"piece": id}, Unigram [["piece", score], ...].
 * Fills model_pieces (a GPtrArray indexed by id, NULL holes) and, for Unigram, the scores. */
static gboolean
read_model_vocab (StrataTokenizer *tok, JsonObject *model, GPtrArray *model_pieces,
                  GError **error)
{
  const char *path = tok->source;
  JsonNode *vn = json_object_get_member (model, "vocab");
  if (tok->hf->model == STRATA_HF_UNIGRAM) {
    if (vn == NULL || !JSON_NODE_HOLDS_ARRAY (vn))
      FAIL (STRATA_DATA_ERROR_FORMAT, "%s: model.vocab is missing or not a list", path);
    JsonArray *a = json_node_get_array (vn);
    guint n = json_array_get_length (a);
    tok->hf->scores = g_new (double, MAX (n, 1));
    for (guint i = 0; i < n; i++) {
      JsonNode *e = json_array_get_element (a, i);
      JsonArray *pair = JSON_NODE_HOLDS_ARRAY (e) ? json_node_get_array (e) : NULL;
      JsonNode *p = pair != NULL && json_array_get_length (pair) == 2
                      ? json_array_get_element (pair, 0) : NULL;
      JsonNode *s = p != NULL ? json_array_get_element (pair, 1) : NULL;
      GType pt = p != NULL && JSON_NODE_HOLDS_VALUE (p) ? json_node_get_value_type (p) : G_TYPE_NONE;
      GType st = s != NULL && JSON_NODE_HOLDS_VALUE (s) ? json_node_get_value_type (s) : G_TYPE_NONE;
      if (pt != G_TYPE_STRING || (st != G_TYPE_DOUBLE && st != G_TYPE_INT64))
        FAIL (STRATA_DATA_ERROR_FORMAT, "%s: model.vocab[%u] is not a [\"piece\", score] pair",
              path, i);
      tok->hf->scores[i] = json_node_get_double (s);
      g_ptr_array_add (model_pieces, g_strdup (json_node_get_string (p)));
    }
    return TRUE;
  }
  if (vn == NULL || !JSON_NODE_HOLDS_OBJECT (vn))
    FAIL (STRATA_DATA_ERROR_FORMAT, "%s: model.vocab is missing or not an object", path);
  JsonObject *vocab = json_node_get_object (vn);
  /* ids are dense in real files; this bound keeps a wild id from allocating gigabytes */
  guint size = json_object_get_size (vocab);
  JsonObjectIter iter;
  const char *key;
  JsonNode *value;
  json_object_iter_init (&iter, vocab);
  while (json_object_iter_next (&iter, &key, &value)) {
    gint64 id;
    if (!json_id (value, &id))
      FAIL (STRATA_DATA_ERROR_FORMAT, "%s: model.vocab['%s'] is not a token id", path, key);
    if (id >= (gint64) size + 65536) /* added tokens may fill a few ids beyond */
      FAIL (STRATA_DATA_ERROR_FORMAT, "%s: token id %" G_GINT64_FORMAT
            " is beyond the %u tokens listed", path, id, size);
    if ((guint) id >= model_pieces->len)
      g_ptr_array_set_size (model_pieces, (guint) id + 1);
    if (model_pieces->pdata[id] != NULL)
      FAIL (STRATA_DATA_ERROR_FORMAT, "%s: id %" G_GINT64_FORMAT " is given to both '%s' and '%s'",
            path, id, (char *) model_pieces->pdata[id], key);
    model_pieces->pdata[id] = g_strdup (key);
  }
  return TRUE;
}

static void
added_clear (gpointer p)
{
  StrataAddedToken *a = p;
  g_free (a->content);
  g_free (a->pattern);
}

GArray *
_strata_hf_added_new (void)
{
  GArray *added = g_array_new (FALSE, TRUE, sizeof (StrataAddedToken));
  g_array_set_clear_func (added, added_clear);
  return added;
}

/* added_tokens: each gets the model's id when the model lists its content (as HF does),
 * else the id the file gives it. */
static gboolean
read_added (StrataTokenizer *tok, JsonObject *root, GHashTable *model_ids, GArray *out,
            GError **error)
{
  JsonNode *node = json_object_get_member (root, "added_tokens");
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    FAIL (STRATA_DATA_ERROR_FORMAT, "%s: added_tokens is not a list", tok->source);
  JsonArray *added = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (added); i++) {
    JsonNode *e = json_array_get_element (added, i);
    JsonObject *a = JSON_NODE_HOLDS_OBJECT (e) ? json_node_get_object (e) : NULL;
    const char *content = _strata_json_string (a, "content");
    gint64 id;
    if (a == NULL || !json_id (json_object_get_member (a, "id"), &id) || content == NULL ||
        content[0] == '\0')
      FAIL (STRATA_DATA_ERROR_FORMAT, "%s: added_tokens[%u] needs an id and a content",
            tok->source, i);
    gpointer model_id = g_hash_table_lookup (model_ids, content);
    StrataAddedToken t = { 0 };
    t.content = g_strdup (content);
    t.len = strlen (content);
    t.id = model_id != NULL ? GPOINTER_TO_INT (model_id) - 1 : (int32_t) id;
    t.special = _strata_json_bool (a, "special", FALSE);
    t.single_word = _strata_json_bool (a, "single_word", FALSE);
    t.lstrip = _strata_json_bool (a, "lstrip", FALSE);
    t.rstrip = _strata_json_bool (a, "rstrip", FALSE);
    t.normalized = _strata_json_bool (a, "normalized", !t.special);
    g_array_append_val (out, t);
  }
  return TRUE;
}

/* pieces[id] for every id: the model's entries, then the added tokens it does not list. */
static gboolean
build_pieces (StrataTokenizer *tok, GPtrArray *model_pieces, GArray *added, char ***pieces_out,
              int *n_out, GError **error)
{
  guint n = model_pieces->len, listed = added->len;
  for (guint i = 0; i < model_pieces->len; i++)
    listed += model_pieces->pdata[i] != NULL;
  for (guint i = 0; i < added->len; i++)
    n = MAX (n, (guint) g_array_index (added, StrataAddedToken, i).id + 1);
  if (n > listed)
    FAIL (STRATA_DATA_ERROR_FORMAT, "%s: token id %u is beyond the %u tokens listed",
          tok->source, n - 1, listed);
  char **pieces = g_new0 (char *, n + 1);
  tok->id_flags = g_new0 (guint8, MAX (n, 1));
  for (guint i = 0; i < model_pieces->len; i++) {
    if (model_pieces->pdata[i] != NULL) {
      pieces[i] = g_strdup (model_pieces->pdata[i]);
      tok->id_flags[i] |= STRATA_ID_MODEL;
    }
  }
  for (guint i = 0; i < added->len; i++) {
    const StrataAddedToken *a = &g_array_index (added, StrataAddedToken, i);
    if (pieces[a->id] != NULL && !(tok->id_flags[a->id] & STRATA_ID_ADDED) &&
        strcmp (pieces[a->id], a->content) != 0) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: added token '%s' has id %d, which the model gives to '%s'",
                   tok->source, a->content, a->id, pieces[a->id]);
      _strata_pieces_free (pieces, n);
      return FALSE;
    }
    if (pieces[a->id] == NULL)
      pieces[a->id] = g_strdup (a->content);
    tok->id_flags[a->id] |= STRATA_ID_ADDED;
  }
  for (guint i = 0; i < n; i++) {
    if (pieces[i] == NULL) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: no token has id %u (ids must run 0..%u without gaps)", tok->source, i,
                   n - 1);
      _strata_pieces_free (pieces, n);
      return FALSE;
    }
  }
  *pieces_out = pieces;
  *n_out = (int) n;
  return TRUE;
}

static int
compare_longest_first (gconstpointer a, gconstpointer b)
{
  const StrataAddedToken *x = *(StrataAddedToken *const *) a, *y = *(StrataAddedToken *const *) b;
  if (x->pattern_len != y->pattern_len)
    return x->pattern_len > y->pattern_len ? -1 : 1;
  return x->id - y->id;
}

gboolean
_strata_hf_index_added (StrataTokenizer *tok, GError **error)
{
  StrataHf *hf = tok->hf;
  for (int i = 0; i < tok->n_added; i++) {
    StrataAddedToken *a = &tok->added[i];
    GString *s = g_string_new (a->content);
    if (a->normalized && !_strata_hf_normalize (hf, s, error)) {
      g_string_free (s, TRUE);
      return FALSE;
    }
    a->pattern_len = s->len;
    a->pattern = g_string_free (s, FALSE);
    if (a->pattern_len == 0)
      continue; /* nothing to match */
    StrataAddedIndex *index = a->normalized ? &hf->normalized : &hf->raw;
    guint8 b = (guint8) a->pattern[0];
    if (index->by_byte[b] == NULL)
      index->by_byte[b] = g_ptr_array_new ();
    g_ptr_array_add (index->by_byte[b], a);
  }
  for (int b = 0; b < 256; b++) {
    if (hf->raw.by_byte[b] != NULL)
      g_ptr_array_sort (hf->raw.by_byte[b], compare_longest_first);
    if (hf->normalized.by_byte[b] != NULL)
      g_ptr_array_sort (hf->normalized.by_byte[b], compare_longest_first);
  }
  return TRUE;
}

/* ---- models ------------------------------------------------------------------------------ */

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
    gsize skip = tok->hf->subword_prefix != NULL ? strlen (tok->hf->subword_prefix) : 0;
    if (!_strata_merges_add (tok, tok->source, left, right, skip, (int32_t) i, error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
read_bpe (StrataTokenizer *tok, JsonObject *model, GError **error)
{
  StrataHf *hf = tok->hf;
  JsonNode *dropout = json_object_get_member (model, "dropout");
  if (dropout != NULL && JSON_NODE_HOLDS_VALUE (dropout) && json_node_get_double (dropout) > 0)
    FAIL (STRATA_DATA_ERROR_UNSUPPORTED, "%s: BPE dropout is not supported (it samples)",
          tok->source);
  hf->subword_prefix = g_strdup (_strata_json_string (model, "continuing_subword_prefix"));
  hf->word_suffix = g_strdup (_strata_json_string (model, "end_of_word_suffix"));
  hf->fuse_unk = _strata_json_bool (model, "fuse_unk", FALSE);
  hf->ignore_merges = _strata_json_bool (model, "ignore_merges", FALSE);
  tok->byte_fallback = _strata_json_bool (model, "byte_fallback", FALSE);
  const char *unk = _strata_json_string (model, "unk_token");
  if (unk != NULL && (tok->unk_id = _strata_tokenizer_model_lookup (tok, unk, strlen (unk))) < 0)
    FAIL (STRATA_DATA_ERROR_FORMAT, "%s: unk_token '%s' is not in the vocabulary", tok->source,
          unk);
  return read_merges (tok, model, error);
}

static gboolean
read_word_level (StrataTokenizer *tok, JsonObject *model, GError **error)
{
  const char *unk = _strata_json_string (model, "unk_token");
  /* HF's default unk_token is "<unk>": used when the vocabulary has it */
  tok->unk_id = _strata_tokenizer_model_lookup (tok, unk != NULL ? unk : "<unk>",
                                                strlen (unk != NULL ? unk : "<unk>"));
  if (unk != NULL && tok->unk_id < 0)
    FAIL (STRATA_DATA_ERROR_FORMAT, "%s: unk_token '%s' is not in the vocabulary", tok->source,
          unk);
  return TRUE;
}

static gboolean
read_unigram (StrataTokenizer *tok, JsonObject *model, GError **error)
{
  JsonNode *unk = json_object_get_member (model, "unk_id");
  gint64 id;
  tok->byte_fallback = _strata_json_bool (model, "byte_fallback", FALSE);
  if (unk != NULL && !JSON_NODE_HOLDS_NULL (unk)) {
    if (!json_id (unk, &id) || id >= tok->hf->n_model)
      FAIL (STRATA_DATA_ERROR_FORMAT, "%s: unk_id is not an id of the %d entries", tok->source,
            tok->hf->n_model);
    tok->unk_id = (int32_t) id;
  }
  return _strata_unigram_prepare (tok, error);
}

/* ---- tokenizer_config.json --------------------------------------------------------------- */

/* bos/eos: tokenizer_config.json beside the file names them, otherwise the usual names; its
 * add_bos_token / add_eos_token, when stated, replace the post-processor's specials. */
static void
read_config (StrataTokenizer *tok, const char *path /* NULL: no file beside */)
{
  int32_t ids[2] = { -1, -1 };
  gboolean named_null[2] = { FALSE, FALSE };
  const char *keys[2] = { "bos_token", "eos_token" };
  const char *flags[2] = { "add_bos_token", "add_eos_token" };
  int stated[2] = { -1, -1 };
  g_autofree char *dir = path != NULL ? g_path_get_dirname (path) : NULL;
  g_autofree char *config =
    dir != NULL ? g_build_filename (dir, "tokenizer_config.json", NULL) : NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (config != NULL && g_file_test (config, G_FILE_TEST_IS_REGULAR) &&
      json_parser_load_from_file (parser, config, NULL) &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    JsonObject *o = json_node_get_object (json_parser_get_root (parser));
    for (int k = 0; k < 2; k++) {
      JsonNode *n = json_object_get_member (o, keys[k]);
      const char *name = _strata_json_string (o, keys[k]);
      if (name == NULL) /* {"content": "<s>", ...} form */
        name = _strata_json_string (_strata_json_object (o, keys[k]), "content");
      if (name != NULL)
        ids[k] = strata_tokenizer_lookup (tok, name);
      named_null[k] = n != NULL && JSON_NODE_HOLDS_NULL (n);
      JsonNode *f = json_object_get_member (o, flags[k]);
      if (f != NULL && JSON_NODE_HOLDS_VALUE (f) && json_node_get_value_type (f) == G_TYPE_BOOLEAN)
        stated[k] = json_node_get_boolean (f);
    }
  }
  int32_t named[2] = { ids[0], ids[1] };
  static const char *const bos_names[] = { "<s>", "<|begin_of_text|>", "<|endoftext|>" };
  static const char *const eos_names[] = { "</s>", "<|end_of_text|>", "<|endoftext|>" };
  for (guint i = 0; i < G_N_ELEMENTS (bos_names) && ids[0] < 0 && !named_null[0]; i++)
    ids[0] = strata_tokenizer_lookup (tok, bos_names[i]);
  for (guint i = 0; i < G_N_ELEMENTS (eos_names) && ids[1] < 0 && !named_null[1]; i++)
    ids[1] = strata_tokenizer_lookup (tok, eos_names[i]);
  strata_tokenizer_set_special (tok, ids[0], ids[1]);

  /* transformers rebuilds the post-processor from these flags when either is stated, with
   * the tokens tokenizer_config.json names (none when it names none) */
  if (stated[0] < 0 && stated[1] < 0)
    return;
  g_array_set_size (tok->hf->prefix, 0);
  g_array_set_size (tok->hf->suffix, 0);
  if (stated[0] == TRUE && named[0] >= 0)
    g_array_append_val (tok->hf->prefix, named[0]);
  if (stated[1] == TRUE && named[1] >= 0)
    g_array_append_val (tok->hf->suffix, named[1]);
}

/* ---- loading ----------------------------------------------------------------------------- */

/* json-glib turns a lone surrogate escape ("\ud800") into bytes that are not UTF-8, which
 * every later step would trip over; HF's JSON reader refuses such a file, and so do we. */
static gboolean
all_text (JsonNode *node, int depth)
{
  if (depth > 64)
    return TRUE; /* the readers refuse deeper nesting with their own message */
  if (JSON_NODE_HOLDS_VALUE (node))
    return json_node_get_value_type (node) != G_TYPE_STRING ||
           g_utf8_validate (json_node_get_string (node), -1, NULL);
  if (JSON_NODE_HOLDS_ARRAY (node)) {
    JsonArray *a = json_node_get_array (node);
    for (guint i = 0; i < json_array_get_length (a); i++)
      if (!all_text (json_array_get_element (a, i), depth + 1))
        return FALSE;
  } else if (JSON_NODE_HOLDS_OBJECT (node)) {
    JsonObjectIter iter;
    const char *key;
    JsonNode *value;
    json_object_iter_init (&iter, json_node_get_object (node));
    while (json_object_iter_next (&iter, &key, &value))
      if (!g_utf8_validate (key, -1, NULL) || !all_text (value, depth + 1))
        return FALSE;
  }
  return TRUE;
}

static StrataTokenizer *
load (const char *path, JsonNode *root_node, gboolean beside, GError **error)
{
  JsonObject *root = root_node != NULL && JSON_NODE_HOLDS_OBJECT (root_node)
                       ? json_node_get_object (root_node)
                       : NULL;
  JsonObject *model = root != NULL ? _strata_json_object (root, "model") : NULL;
  if (model == NULL) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: no \"model\" object: not a tokenizer.json", path);
    return NULL;
  }
  if (!all_text (root_node, 0)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: a string holds a lone UTF-16 surrogate escape, which is not text", path);
    return NULL;
  }
  const char *type = _strata_json_string (model, "type");
  if (type == NULL && json_object_has_member (model, "merges"))
    type = "BPE"; /* early files left the type out */
  StrataHfModel kind;
  if (g_strcmp0 (type, "BPE") == 0) {
    kind = STRATA_HF_BPE;
  } else if (g_strcmp0 (type, "WordLevel") == 0) {
    kind = STRATA_HF_WORD_LEVEL;
  } else if (g_strcmp0 (type, "Unigram") == 0) {
    kind = STRATA_HF_UNIGRAM;
  } else {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                 "%s: model type '%s' is not supported (BPE, WordLevel and Unigram are)", path,
                 type != NULL ? type : "(none)");
    return NULL;
  }

  g_autoptr (StrataTokenizer) tok =
    _strata_tokenizer_alloc (STRATA_TOKENIZER_SPM_BPE, STRATA_ENCODER_HF, path);
  tok->hf = _strata_hf_new ();
  tok->hf->model = kind;
  g_autoptr (GPtrArray) model_pieces = g_ptr_array_new_with_free_func (g_free);
  if (!read_model_vocab (tok, model, model_pieces, error))
    return NULL;
  tok->hf->n_model = (int) model_pieces->len;
  g_autoptr (GHashTable) model_ids = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = model_pieces->len; i-- > 0;) /* the first id of a repeated piece wins */
    if (model_pieces->pdata[i] != NULL)
      g_hash_table_insert (model_ids, model_pieces->pdata[i], GINT_TO_POINTER (i + 1));
  g_autoptr (GArray) added = _strata_hf_added_new ();
  char **pieces = NULL;
  int n = 0;
  if (!read_added (tok, root, model_ids, added, error) ||
      !build_pieces (tok, model_pieces, added, &pieces, &n, error))
    return NULL;
  tok->n_added = (int) added->len;
  tok->added = (StrataAddedToken *) g_array_steal (added, NULL);

  /* The steps before the vocabulary: ByteLevel decides how pieces read. */
  if (!_strata_hf_read_steps (tok, root, &_strata_hf_normalizers, error) ||
      !_strata_hf_read_steps (tok, root, &_strata_hf_pre_tokenizers, error) ||
      !_strata_hf_read_steps (tok, root, &_strata_hf_decoders, error) ||
      !_strata_hf_read_steps (tok, root, &_strata_hf_post_processors, error)) {
    _strata_pieces_free (pieces, n);
    return NULL;
  }
  tok->hf->has_decoder = _strata_json_object (root, "decoder") != NULL;
  for (guint i = 0; i < tok->hf->normalizers->len; i++)
    if (g_array_index (tok->hf->normalizers, StrataNormalizer, i).kind == STRATA_NORM_BYTE_LEVEL)
      tok->byte_level = TRUE;
  for (guint i = 0; i < tok->hf->decoders->len; i++)
    if (g_array_index (tok->hf->decoders, StrataDecStep, i).kind == STRATA_DEC_BYTE_LEVEL)
      tok->byte_level = TRUE;
  if (kind == STRATA_HF_WORD_LEVEL)
    tok->kind = STRATA_TOKENIZER_WORD_LEVEL;
  else if (kind == STRATA_HF_BPE && tok->byte_level)
    tok->kind = STRATA_TOKENIZER_BYTE_BPE;
  if (!_strata_tokenizer_set_vocab (tok, pieces, n, error) || !_strata_hf_index_added (tok, error))
    return NULL;

  gboolean ok = kind == STRATA_HF_BPE        ? read_bpe (tok, model, error)
                : kind == STRATA_HF_UNIGRAM ? read_unigram (tok, model, error)
                                            : read_word_level (tok, model, error);
  if (!ok)
    return NULL;
  if (beside) {
    const char *paths[] = { path, NULL };
    if (!_strata_tokenizer_hash_files (tok, paths, error))
      return NULL;
  }
  read_config (tok, beside ? path : NULL);
  return g_steal_pointer (&tok);
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
  return load (path, json_parser_get_root (parser), TRUE, error);
}

StrataTokenizer *
_strata_tokenizer_new_hf_json_data (const char *source, const char *data, gsize len,
                                    GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  if (!json_parser_load_from_data (parser, data, (gssize) len, &local)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: %s", source,
                 local->message);
    return NULL;
  }
  StrataTokenizer *tok = load (source, json_parser_get_root (parser), FALSE, error);
  if (tok != NULL)
    tok->sha256 = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) data, len);
  return tok;
}

/* ---- encoding ---------------------------------------------------------------------------- */

typedef struct {
  gsize start, end;
  int32_t id; /* -1: text */
} Segment;

/* Rust regex's \w at the end / start of a string (single_word). */
static gboolean
word_char (const char *p)
{
  return _strata_unichar_is_word (g_utf8_get_char (p));
}

/* AddedVocabulary::find_matches: leftmost-longest matches, single_word / lstrip / rstrip
 * applied, and the text between them. */
static void
find_added (const StrataAddedIndex *index, const char *s, gsize len, GArray *out)
{
  gsize start_offset = 0;
  for (gsize pos = 0; pos < len;) {
    const GPtrArray *cands = index->by_byte[(guint8) s[pos]];
    const StrataAddedToken *hit = NULL;
    for (guint k = 0; cands != NULL && k < cands->len && hit == NULL; k++) {
      const StrataAddedToken *a = cands->pdata[k];
      if (a->pattern_len <= len - pos && memcmp (s + pos, a->pattern, a->pattern_len) == 0)
        hit = a;
    }
    if (hit == NULL) {
      pos++;
      continue;
    }
    gsize start = pos, stop = pos + hit->pattern_len;
    pos = stop; /* the next match starts after this one, used or not */
    if (hit->single_word) {
      gboolean start_space = start == 0 || !word_char (g_utf8_prev_char (s + start));
      gboolean stop_space = stop == len || !word_char (s + stop);
      if (!start_space || !stop_space)
        continue;
    }
    if (hit->lstrip) {
      gsize k = start;
      while (k > 0) {
        const char *prev = g_utf8_prev_char (s + k);
        if (!_strata_unichar_is_white_space (g_utf8_get_char (prev)))
          break;
        k = prev - s;
      }
      start = MAX (k, start_offset);
    }
    if (hit->rstrip)
      while (stop < len && _strata_unichar_is_white_space (g_utf8_get_char (s + stop)))
        stop = g_utf8_next_char (s + stop) - s;
    if (start_offset < start) {
      Segment gap = { start_offset, start, -1 };
      g_array_append_val (out, gap);
    }
    Segment tok = { start, stop, hit->id };
    g_array_append_val (out, tok);
    start_offset = stop;
  }
  if (start_offset < len) {
    Segment tail = { start_offset, len, -1 };
    g_array_append_val (out, tail);
  }
}

/* BPE::merge_word on one piece. */
static gboolean
bpe_word (StrataTokenizer *tok, const char *w, gsize n, GArray *out, GError **error)
{
  const StrataHf *hf = tok->hf;
  if (hf->ignore_merges) {
    int32_t id = _strata_tokenizer_model_lookup (tok, w, n);
    if (id >= 0) {
      g_array_append_val (out, id);
      return TRUE;
    }
  }
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_autoptr (GString) s = g_string_new (NULL);
  gboolean unk_pending = FALSE;
  for (const char *c = w; c < w + n;) {
    const char *next = g_utf8_next_char (c);
    g_string_truncate (s, 0);
    if (c != w && hf->subword_prefix != NULL)
      g_string_append (s, hf->subword_prefix);
    g_string_append_len (s, c, next - c);
    if (next == w + n && hf->word_suffix != NULL)
      g_string_append (s, hf->word_suffix);
    c = next;
    int32_t id = _strata_tokenizer_model_lookup (tok, s->str, s->len);
    if (id >= 0) {
      if (unk_pending)
        g_array_append_val (ids, tok->unk_id);
      unk_pending = FALSE;
      g_array_append_val (ids, id);
      continue;
    }
    if (tok->byte_fallback) {
      /* the byte pieces only when every byte has one; a pending unk stays pending (HF) */
      guint k, at = ids->len;
      for (k = 0; k < s->len; k++) {
        int32_t b = _strata_tokenizer_byte_id (tok, (guint8) s->str[k]);
        if (b < 0)
          break;
        g_array_append_val (ids, b);
      }
      if (k == s->len)
        continue;
      g_array_set_size (ids, at);
    }
    if (tok->unk_id < 0)
      continue; /* no unk token: HF drops the character */
    if (unk_pending && !hf->fuse_unk)
      g_array_append_val (ids, tok->unk_id);
    unk_pending = TRUE;
  }
  if (unk_pending)
    g_array_append_val (ids, tok->unk_id);
  _strata_bpe_merge (tok, STRATA_MERGE_BY_RANK, ids);
  g_array_append_vals (out, ids->data, ids->len);
  return TRUE;
}

static gboolean
word_level_word (StrataTokenizer *tok, const char *w, gsize n, GArray *out, GError **error)
{
  int32_t id = _strata_tokenizer_model_lookup (tok, w, n);
  if (id < 0)
    id = tok->unk_id;
  if (id < 0)
    FAIL (STRATA_DATA_ERROR_TOKEN, "%s: '%.*s' is not in the vocabulary and there is no unk token",
          tok->source, (int) MIN (n, 200), w);
  g_array_append_val (out, id);
  return TRUE;
}

/* Normalize one stretch of raw text, split out the normalized added tokens, pre-tokenize
 * and run the model over what is left. */
static gboolean
encode_stretch (StrataTokenizer *tok, const char *text, gsize len, gboolean at_start,
                StrataPieces *pc, GArray *out, GError **error)
{
  StrataHf *hf = tok->hf;
  g_autoptr (GString) norm = g_string_new_len (text, len);
  if (!_strata_hf_normalize (hf, norm, error))
    return FALSE;
  g_autoptr (GArray) segs = g_array_new (FALSE, FALSE, sizeof (Segment));
  find_added (&hf->normalized, norm->str, norm->len, segs);
  for (guint i = 0; i < segs->len; i++) {
    const Segment *sg = &g_array_index (segs, Segment, i);
    if (sg->id >= 0) {
      g_array_append_val (out, sg->id);
      continue;
    }
    g_string_truncate (pc->arena, 0);
    g_array_set_size (pc->pieces, 0);
    if (!_strata_hf_pre_tokenize (hf, norm->str + sg->start, sg->end - sg->start,
                                  at_start && sg->start == 0, pc, error))
      return FALSE;
    for (guint k = 0; k < pc->pieces->len; k++) {
      const StrataPiece *p = &g_array_index (pc->pieces, StrataPiece, k);
      const char *w = pc->arena->str + p->off;
      gboolean ok;
      if (hf->model == STRATA_HF_BPE)
        ok = bpe_word (tok, w, p->len, out, error);
      else if (hf->model == STRATA_HF_UNIGRAM)
        ok = _strata_unigram_encode (tok, w, p->len, out, error);
      else
        ok = word_level_word (tok, w, p->len, out, error);
      if (!ok)
        return FALSE;
    }
  }
  return TRUE;
}

gboolean
_strata_encode_hf (StrataTokenizer *tok, const char *text, gsize len, GArray *out,
                   GError **error)
{
  g_autoptr (GArray) segs = g_array_new (FALSE, FALSE, sizeof (Segment));
  StrataPieces pc = { g_string_new (NULL), g_array_new (FALSE, FALSE, sizeof (StrataPiece)) };
  gboolean ok = TRUE;
  find_added (&tok->hf->raw, text, len, segs);
  for (guint i = 0; ok && i < segs->len; i++) {
    const Segment *sg = &g_array_index (segs, Segment, i);
    if (sg->id >= 0)
      g_array_append_val (out, sg->id);
    else if (sg->end > sg->start)
      ok = encode_stretch (tok, text + sg->start, sg->end - sg->start, sg->start == 0, &pc, out,
                           error);
  }
  g_string_free (pc.arena, TRUE);
  g_array_unref (pc.pieces);
  return ok;
}
