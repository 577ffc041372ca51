/* strata-tokenizer-gpt2.c: GPT-2 byte-level BPE (OpenAI encoder.json + vocab.bpe), and the
 * byte-level pieces that tokenizer.json's ByteLevel models share with it.
 *
 * Text is split with OpenAI's pre-tokenizer regex, every byte of a piece becomes one
 * character of GPT-2's bytes_to_unicode alphabet, and BPE merges run by rank inside each
 * piece, as openai/gpt-2 src/encoder.py does. */
#include "strata-tokenizer-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* encoder.py's pattern (also HF's ByteLevel pre-tokenizer's), with \s spelled out as the
 * Unicode White_Space set: that is what Python's `regex` module and Oniguruma match for \s,
 * while PCRE2's \s also takes U+180E. */
#define WS STRATA_UNICODE_WS
static const char gpt2_pattern[] =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|[" WS "]+(?![^" WS "])|["
  WS "]+";

static struct {
  char chars[256][4]; /* byte -> its character, UTF-8 */
  gint16 bytes[324];  /* codepoint -> byte, or -1; the alphabet ends below U+0144 */
} alphabet;

static gpointer
build_alphabet (gpointer unused)
{
  /* bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes take
   * the codepoints 256, 257, ... in byte order, so no piece holds whitespace or controls. */
  int extra = 0;
  memset (alphabet.bytes, 0xff, sizeof alphabet.bytes);
  for (int b = 0; b < 256; b++) {
    gboolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    gunichar c = printable ? (gunichar) b : (gunichar) (256 + extra++);
    int n = g_unichar_to_utf8 (c, alphabet.chars[b]);
    alphabet.chars[b][n] = '\0';
    alphabet.bytes[c] = (gint16) b;
  }
  return NULL;
}

static void
ensure_alphabet (void)
{
  static GOnce once = G_ONCE_INIT;
  g_once (&once, build_alphabet, NULL);
}

const char *
_strata_gpt2_byte_char (guint8 byte)
{
  ensure_alphabet ();
  return alphabet.chars[byte];
}

int
_strata_gpt2_char_byte (gunichar c)
{
  ensure_alphabet ();
  return c < G_N_ELEMENTS (alphabet.bytes) ? alphabet.bytes[c] : -1;
}

GRegex *
_strata_gpt2_regex (GError **error)
{
  return g_regex_new (gpt2_pattern, G_REGEX_OPTIMIZE, 0, error);
}

/* One pre-tokenized word: bytes -> alphabet characters -> ids -> merges. */
static gboolean
encode_word (StrataTokenizer *tok, const char *word, gsize len, GArray *out, GError **error)
{
  g_autoptr (GArray) ids = g_array_sized_new (FALSE, FALSE, sizeof (int32_t), len);
  for (gsize i = 0; i < len; i++) {
    int32_t id = strata_tokenizer_lookup (tok, _strata_gpt2_byte_char ((guint8) word[i]));
    if (id < 0)
      id = tok->unk_id;
    if (id < 0) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN,
                   "%s: byte 0x%02X has no token in the vocabulary", tok->source,
                   (guint8) word[i]);
      return FALSE;
    }
    g_array_append_val (ids, id);
  }
  _strata_bpe_merge (tok, STRATA_MERGE_BY_RANK, ids);
  g_array_append_vals (out, ids->data, ids->len);
  return TRUE;
}

gboolean
_strata_encode_byte_bpe (StrataTokenizer *tok, const char *text, gsize len, GArray *out,
                         GError **error)
{
  g_autofree char *prefixed = NULL;
  if (tok->add_prefix_space && text[0] != ' ') {
    prefixed = g_strdup_printf (" %.*s", (int) len, text);
    text = prefixed;
    len++;
  }
  if (tok->pre_regex == NULL)
    return encode_word (tok, text, len, out, error);

  g_autoptr (GMatchInfo) info = NULL;
  g_regex_match_full (tok->pre_regex, text, len, 0, 0, &info, NULL);
  while (g_match_info_matches (info)) {
    gint start, end;
    g_match_info_fetch_pos (info, 0, &start, &end);
    if (end > start && !encode_word (tok, text + start, end - start, out, error))
      return FALSE;
    g_match_info_next (info, NULL);
  }
  return TRUE;
}

/* encoder.json: {"piece": id, ...}. Ids must be 0..n-1 without gaps or repeats. */
static char **
read_vocab_json (const char *path, int *n_out, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  if (!json_parser_load_from_mapped_file (parser, path, &local)) {
    g_set_error (error, STRATA_DATA_ERROR,
                 g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT) ||
                     local->domain == G_FILE_ERROR
                   ? STRATA_DATA_ERROR_IO
                   : STRATA_DATA_ERROR_FORMAT,
                 "%s: %s", path, local->message);
    return NULL;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: expected a JSON object mapping tokens to ids", path);
    return NULL;
  }
  JsonObject *obj = json_node_get_object (root);
  int n = json_object_get_size (obj);
  char **pieces = g_new0 (char *, n + 1);
  JsonObjectIter iter;
  const char *key;
  JsonNode *value;
  json_object_iter_init (&iter, obj);
  while (json_object_iter_next (&iter, &key, &value)) {
    gint64 id = JSON_NODE_HOLDS_VALUE (value) &&
                    json_node_get_value_type (value) == G_TYPE_INT64
                  ? json_node_get_int (value)
                  : -1;
    if (id < 0 || id >= n || pieces[id] != NULL) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: token '%s' has id %" G_GINT64_FORMAT
                   ", not a free id in 0..%d", path, key, id, n - 1);
      _strata_pieces_free (pieces, n);
      return NULL;
    }
    pieces[id] = g_strdup (key);
  }
  *n_out = n;
  return pieces;
}

/* vocab.bpe / merges.txt: an optional "#version" line, then one "left right" per line. */
static gboolean
read_merges_txt (StrataTokenizer *tok, const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &contents, NULL, &local)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: %s", path, local->message);
    return FALSE;
  }
  g_auto (GStrv) lines = g_strsplit (contents, "\n", -1);
  tok->merge_table = g_new (StrataMerge, g_strv_length (lines));
  int rank = 0;
  for (int i = 0; lines[i] != NULL; i++) {
    char *line = lines[i];
    gsize n = strlen (line);
    if (n > 0 && line[n - 1] == '\r')
      line[--n] = '\0';
    if (n == 0 || (i == 0 && g_str_has_prefix (line, "#version")))
      continue;
    char *sp = strchr (line, ' ');
    if (sp == NULL || sp == line || sp[1] == '\0' || strchr (sp + 1, ' ') != NULL) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: line %d is not a merge of two tokens: '%s'", path, i + 1, line);
      return FALSE;
    }
    *sp = '\0';
    if (!_strata_merges_add (tok, path, line, sp + 1, 0, rank++, error))
      return FALSE;
  }
  return TRUE;
}

StrataTokenizer *
strata_tokenizer_new_gpt2 (const char *vocab_json_path, const char *merges_path, GError **error)
{
  g_autofree char *source = g_strdup_printf ("%s + %s", vocab_json_path, merges_path);
  g_autoptr (StrataTokenizer) tok =
    _strata_tokenizer_alloc (STRATA_TOKENIZER_BYTE_BPE, STRATA_ENCODER_BYTE_BPE, source);
  tok->byte_level = TRUE;
  tok->pre_regex = _strata_gpt2_regex (error);
  if (tok->pre_regex == NULL)
    return NULL;
  int n = 0;
  char **pieces = read_vocab_json (vocab_json_path, &n, error);
  if (pieces == NULL || !_strata_tokenizer_set_vocab (tok, pieces, n, error))
    return NULL;
  if (!read_merges_txt (tok, merges_path, error))
    return NULL;
  const char *paths[] = { vocab_json_path, merges_path, NULL };
  if (!_strata_tokenizer_hash_files (tok, paths, error))
    return NULL;
  /* GPT-2 has one special token, used as both ends of a document. */
  int32_t eot = strata_tokenizer_lookup (tok, "<|endoftext|>");
  strata_tokenizer_set_special (tok, eot, eot);
  return g_steal_pointer (&tok);
}
