/* strata-tokenizer-hf-decode.c: tokenizer.json decoders and post-processors.
 *
 * Decode follows HF's Tokenizer::decode(ids, skip_special_tokens=False): each id becomes its
 * piece (an added token its content, normalized when it is matched normalized), the decoder
 * steps (tokenizers/src/decoders) each map the list of pieces to a new list, and the result
 * is their concatenation. Byte sequences become text the way Rust's String::from_utf8_lossy
 * does it: one U+FFFD per maximal invalid subsequence (GLib's g_utf8_make_valid puts one per
 * byte).
 *
 * The post-processor is read only for the special tokens it puts around one sequence: that is
 * the BOS/EOS policy (strata_tokenizer_get_specials); offsets and pairs are not Strata's
 * concern. */
#include "strata-tokenizer-hf-private.h"

#include <string.h>

/* ---- reading ----------------------------------------------------------------------------- */

static gboolean
read_count (StrataTokenizer *tok, JsonObject *o, const char *member, gsize *out, GError **error)
{
  JsonNode *n = json_object_get_member (o, member);
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64 ||
      json_node_get_int (n) < 0)
    FAIL (STRATA_DATA_ERROR_FORMAT, "%s: decoder Strip needs a count \"%s\"", tok->source, member);
  *out = (gsize) MIN (json_node_get_int (n), G_MAXINT32);
  return TRUE;
}

static gboolean
read_dec (StrataTokenizer *tok, JsonObject *o, const char *type, GError **error)
{
  StrataDecStep d = { 0 };
  if (strcmp (type, "ByteLevel") == 0) {
    d.kind = STRATA_DEC_BYTE_LEVEL;
  } else if (strcmp (type, "ByteFallback") == 0) {
    d.kind = STRATA_DEC_BYTE_FALLBACK;
  } else if (strcmp (type, "Fuse") == 0) {
    d.kind = STRATA_DEC_FUSE;
  } else if (strcmp (type, "Metaspace") == 0) {
    JsonNode *legacy = json_object_get_member (o, "add_prefix_space");
    const char *scheme = _strata_json_string (o, "prepend_scheme");
    d.kind = STRATA_DEC_METASPACE;
    if (!_strata_hf_read_char (tok, o, "replacement", "decoder Metaspace", &d.ch, error))
      return FALSE;
    /* only "never" changes decoding */
    d.prepend = g_strcmp0 (scheme, "never") == 0 ||
                    (legacy != NULL && !_strata_json_bool (o, "add_prefix_space", TRUE))
                  ? STRATA_PREPEND_NEVER
                  : STRATA_PREPEND_ALWAYS;
  } else if (strcmp (type, "Replace") == 0) {
    d.kind = STRATA_DEC_REPLACE;
    if (!_strata_hf_read_replace (tok, o, "decoder Replace", &d.regex, &d.content, error))
      return FALSE;
  } else if (strcmp (type, "Strip") == 0) {
    d.kind = STRATA_DEC_STRIP;
    if (!_strata_hf_read_char (tok, o, "content", "decoder Strip", &d.ch, error) ||
        !read_count (tok, o, "start", &d.start, error) ||
        !read_count (tok, o, "stop", &d.stop, error))
      return FALSE;
  } else {
    return _strata_hf_unsupported (tok, "decoder", type, error);
  }
  g_array_append_val (tok->hf->decoders, d);
  return TRUE;
}

const StrataHfSteps _strata_hf_decoders = { "decoder", "decoders", "decoders", read_dec };

/* A ["token", id] pair of Roberta/BertProcessing. */
static gboolean
read_pair (StrataTokenizer *tok, JsonObject *o, const char *member, int32_t *id, GError **error)
{
  JsonNode *n = json_object_get_member (o, member);
  JsonArray *a = n != NULL && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
  JsonNode *v = a != NULL && json_array_get_length (a) == 2 ? json_array_get_element (a, 1) : NULL;
  if (v == NULL || !JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_INT64 ||
      json_node_get_int (v) < 0 || json_node_get_int (v) >= G_MAXINT32)
    FAIL (STRATA_DATA_ERROR_FORMAT, "%s: post_processor %s needs [\"token\", id]", tok->source,
          member);
  *id = (int32_t) json_node_get_int (v);
  return TRUE;
}

/* The ids of one special token of a TemplateProcessing, from its special_tokens map. */
static gboolean
template_ids (StrataTokenizer *tok, JsonObject *specials, const char *name, GArray *out,
              GError **error)
{
  JsonObject *st = _strata_json_object (specials, name);
  JsonNode *ids = st != NULL ? json_object_get_member (st, "ids") : NULL;
  if (ids == NULL || !JSON_NODE_HOLDS_ARRAY (ids))
    FAIL (STRATA_DATA_ERROR_FORMAT, "%s: post_processor template names '%s', which its "
          "special_tokens do not list", tok->source, name);
  JsonArray *a = json_node_get_array (ids);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *v = json_array_get_element (a, i);
    if (!JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_INT64 ||
        json_node_get_int (v) < 0 || json_node_get_int (v) >= G_MAXINT32)
      FAIL (STRATA_DATA_ERROR_FORMAT, "%s: post_processor special token '%s' has a bad id",
            tok->source, name);
    int32_t id = (int32_t) json_node_get_int (v);
    g_array_append_val (out, id);
  }
  return TRUE;
}

/* TemplateProcessing's "single": special tokens before $A go to `pre`, after it to `post`. */
static gboolean
read_template (StrataTokenizer *tok, JsonObject *o, GArray *pre, GArray *post, GError **error)
{
  JsonNode *single = json_object_get_member (o, "single");
  JsonObject *specials = _strata_json_object (o, "special_tokens");
  if (single == NULL || !JSON_NODE_HOLDS_ARRAY (single))
    FAIL (STRATA_DATA_ERROR_FORMAT, "%s: post_processor TemplateProcessing needs a list "
          "\"single\"", tok->source);
  JsonArray *a = json_node_get_array (single);
  gboolean seen_a = FALSE;
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *e = json_array_get_element (a, i);
    JsonObject *piece = JSON_NODE_HOLDS_OBJECT (e) ? json_node_get_object (e) : NULL;
    JsonObject *sp = _strata_json_object (piece, "SpecialToken");
    JsonObject *seq = _strata_json_object (piece, "Sequence");
    if (seq != NULL) {
      seen_a = TRUE;
    } else if (sp != NULL && _strata_json_string (sp, "id") != NULL) {
      if (!template_ids (tok, specials, _strata_json_string (sp, "id"), seen_a ? post : pre, error))
        return FALSE;
    } else {
      FAIL (STRATA_DATA_ERROR_FORMAT, "%s: post_processor template piece %u is neither a "
            "SpecialToken nor a Sequence", tok->source, i);
    }
  }
  return TRUE;
}

static gboolean
read_post (StrataTokenizer *tok, JsonObject *o, const char *type, GError **error)
{
  StrataHf *hf = tok->hf;
  if (strcmp (type, "ByteLevel") == 0)
    return TRUE; /* offsets only */
  /* each processor wraps what the ones before it made */
  g_autoptr (GArray) pre = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_autoptr (GArray) post = g_array_new (FALSE, FALSE, sizeof (int32_t));
  if (strcmp (type, "TemplateProcessing") == 0) {
    if (!read_template (tok, o, pre, post, error))
      return FALSE;
  } else if (strcmp (type, "RobertaProcessing") == 0 || strcmp (type, "BertProcessing") == 0) {
    int32_t cls, sep;
    if (!read_pair (tok, o, "cls", &cls, error) || !read_pair (tok, o, "sep", &sep, error))
      return FALSE;
    g_array_append_val (pre, cls);
    g_array_append_val (post, sep);
  } else {
    return _strata_hf_unsupported (tok, "post_processor", type, error);
  }
  g_array_prepend_vals (hf->prefix, pre->data, pre->len);
  g_array_append_vals (hf->suffix, post->data, post->len);
  return TRUE;
}

const StrataHfSteps _strata_hf_post_processors = { "post_processor", "processors",
                                                   "post-processors", read_post };

gboolean
_strata_hf_get_specials (const StrataTokenizer *tok, const int32_t **prefix, gsize *n_prefix,
                         const int32_t **suffix, gsize *n_suffix)
{
  const StrataHf *hf = tok->hf;
  if (hf == NULL)
    return FALSE;
  *n_prefix = hf->prefix->len;
  *n_suffix = hf->suffix->len;
  *prefix = hf->prefix->len ? (const int32_t *) hf->prefix->data : NULL;
  *suffix = hf->suffix->len ? (const int32_t *) hf->suffix->data : NULL;
  return TRUE;
}

/* ---- decoding ---------------------------------------------------------------------------- */

/* String::from_utf8_lossy: valid UTF-8 as is; each maximal prefix of a valid sequence that
 * breaks off (or a byte that starts none) becomes one U+FFFD. */
static void
append_lossy (GString *out, const guint8 *b, gsize n)
{
  gsize i = 0;
  while (i < n) {
    guint8 c = b[i];
    gsize start = i++;
    if (c < 0x80) {
      /* a NUL cannot live in a C string: U+FFFD, as g_utf8_make_valid does */
      if (c != 0)
        g_string_append_c (out, (char) c);
      else
        g_string_append (out, "\xef\xbf\xbd");
      continue;
    }
    gsize need = c >= 0xC2 && c <= 0xDF   ? 1
                 : c >= 0xE0 && c <= 0xEF ? 2
                 : c >= 0xF0 && c <= 0xF4 ? 3
                                          : 0;
    gboolean ok = need > 0;
    for (gsize k = 0; ok && k < need; k++) {
      guint8 lo = 0x80, hi = 0xBF;
      if (k == 0 && c == 0xE0)
        lo = 0xA0;
      else if (k == 0 && c == 0xED)
        hi = 0x9F;
      else if (k == 0 && c == 0xF0)
        lo = 0x90;
      else if (k == 0 && c == 0xF4)
        hi = 0x8F;
      if (i < n && b[i] >= lo && b[i] <= hi)
        i++;
      else
        ok = FALSE;
    }
    if (ok)
      g_string_append_len (out, (const char *) b + start, i - start);
    else
      g_string_append (out, "\xef\xbf\xbd");
  }
}

static char *
lossy (const GByteArray *bytes)
{
  GString *s = g_string_sized_new (bytes->len);
  append_lossy (s, bytes->data, bytes->len);
  return g_string_free (s, FALSE);
}

/* <0xXX> as Rust's u8::from_str_radix(&token[3..5], 16) reads it ("+F" parses too). */
static int
byte_token (const char *t)
{
  if (strlen (t) != 6 || strncmp (t, "<0x", 3) != 0 || t[5] != '>')
    return -1;
  int hi = g_ascii_xdigit_value (t[3]), lo = g_ascii_xdigit_value (t[4]);
  if (t[3] == '+' && lo >= 0)
    return lo;
  return hi >= 0 && lo >= 0 ? hi * 16 + lo : -1;
}

/* String::from_utf8 or one U+FFFD per byte (g_utf8_validate also refuses NUL, which a C
 * string could not carry anyway). */
static void
flush_bytes (GPtrArray *out, GByteArray *bytes)
{
  if (bytes->len == 0)
    return;
  if (g_utf8_validate ((const char *) bytes->data, bytes->len, NULL)) {
    g_ptr_array_add (out, g_strndup ((const char *) bytes->data, bytes->len));
  } else {
    for (guint i = 0; i < bytes->len; i++)
      g_ptr_array_add (out, g_strdup ("\xef\xbf\xbd"));
  }
  g_byte_array_set_size (bytes, 0);
}

/* One decoder step: the pieces `in` (char *, owned) become a new list. */
static GPtrArray *
dec_step (const StrataDecStep *d, GPtrArray *in)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  switch (d->kind) {
  case STRATA_DEC_BYTE_LEVEL: {
    /* every character back to its byte; a piece with a character outside the alphabet
     * (an added token such as "<｜User｜>") keeps its own UTF-8 */
    g_autoptr (GByteArray) bytes = g_byte_array_new ();
    for (guint i = 0; i < in->len; i++) {
      const char *t = in->pdata[i];
      guint start = bytes->len;
      gboolean all = TRUE;
      for (const char *p = t; *p != '\0' && all; p = g_utf8_next_char (p)) {
        int b = _strata_gpt2_char_byte (g_utf8_get_char (p));
        if (b < 0) {
          all = FALSE;
        } else {
          guint8 byte = (guint8) b;
          g_byte_array_append (bytes, &byte, 1);
        }
      }
      if (!all) {
        g_byte_array_set_size (bytes, start);
        g_byte_array_append (bytes, (const guint8 *) t, strlen (t));
      }
    }
    g_ptr_array_add (out, lossy (bytes));
    break;
  }
  case STRATA_DEC_BYTE_FALLBACK: {
    g_autoptr (GByteArray) bytes = g_byte_array_new ();
    for (guint i = 0; i < in->len; i++) {
      int b = byte_token (in->pdata[i]);
      if (b >= 0) {
        guint8 byte = (guint8) b;
        g_byte_array_append (bytes, &byte, 1);
      } else {
        flush_bytes (out, bytes);
        g_ptr_array_add (out, g_strdup (in->pdata[i]));
      }
    }
    flush_bytes (out, bytes);
    break;
  }
  case STRATA_DEC_FUSE: {
    GString *s = g_string_new (NULL);
    for (guint i = 0; i < in->len; i++)
      g_string_append (s, in->pdata[i]);
    g_ptr_array_add (out, g_string_free (s, FALSE));
    break;
  }
  case STRATA_DEC_METASPACE:
    for (guint i = 0; i < in->len; i++) {
      GString *s = g_string_new (NULL);
      for (const char *p = in->pdata[i]; *p != '\0'; p = g_utf8_next_char (p)) {
        gunichar c = g_utf8_get_char (p);
        if (c != d->ch)
          g_string_append_unichar (s, c);
        else if (!(i == 0 && d->prepend != STRATA_PREPEND_NEVER))
          g_string_append_c (s, ' '); /* the first piece loses every replacement */
      }
      g_ptr_array_add (out, g_string_free (s, FALSE));
    }
    break;
  case STRATA_DEC_REPLACE:
    for (guint i = 0; i < in->len; i++) {
      GString *s = g_string_new (in->pdata[i]);
      _strata_hf_replace (d->regex, d->content, s, NULL); /* a failed match leaves s as is */
      g_ptr_array_add (out, g_string_free (s, FALSE));
    }
    break;
  case STRATA_DEC_STRIP:
    for (guint i = 0; i < in->len; i++) {
      const char *t = in->pdata[i];
      glong n = g_utf8_strlen (t, -1);
      g_autofree gunichar *cs = g_utf8_to_ucs4_fast (t, -1, NULL);
      glong a = 0, b = n;
      while (a < n && (gsize) a < d->start && cs[a] == d->ch)
        a++;
      /* HF panics when stop cuts past the start; stop there instead */
      while (b > a && (gsize) (n - b) < d->stop && cs[b - 1] == d->ch)
        b--;
      g_ptr_array_add (out, g_ucs4_to_utf8 (cs + a, b - a, NULL, NULL, NULL));
    }
    break;
  }
  return out;
}

char *
_strata_hf_decode (StrataTokenizer *tok, const int32_t *ids, gsize n_ids)
{
  const StrataHf *hf = tok->hf;
  GPtrArray *pieces = g_ptr_array_new_with_free_func (g_free);
  for (gsize i = 0; i < n_ids; i++) {
    const char *p = "\xef\xbf\xbd"; /* an id outside the vocabulary: U+FFFD */
    if (ids[i] >= 0 && ids[i] < tok->n_vocab) {
      p = tok->pieces[ids[i]];
      for (int k = 0; (tok->id_flags[ids[i]] & STRATA_ID_ADDED) && k < tok->n_added; k++)
        if (tok->added[k].id == ids[i] && tok->added[k].normalized)
          p = tok->added[k].pattern;
    }
    g_ptr_array_add (pieces, g_strdup (p));
  }
  for (guint i = 0; i < hf->decoders->len; i++) {
    GPtrArray *next = dec_step (&g_array_index (hf->decoders, StrataDecStep, i), pieces);
    g_ptr_array_unref (pieces);
    pieces = next;
  }
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < pieces->len; i++)
    g_string_append (s, pieces->pdata[i]);
  g_ptr_array_unref (pieces);
  return g_string_free (s, FALSE);
}
