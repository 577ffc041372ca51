/* strata-tokenizer.c: the parts every tokenizer kind shares — vocabulary, pieces and decode.
 *
 * Decode of a tokenizer.json runs its decoder (strata-tokenizer-hf-decode.c). Otherwise it is
 * a plain concatenation of each id's bytes: GPT-2 pieces mapped back through the byte
 * decoder, SentencePiece '▁' as a space and <0xXX> as that byte. It never strips the leading
 * space that the SentencePiece dummy prefix adds (run.c strips it only when printing right
 * after BOS), so for llama2.c/GGUF decode(encode(x)) == " " + x. Control pieces (<s>, </s>)
 * decode to their text so that nothing in a sequence is hidden. */
#include "strata-tokenizer-hf-private.h"

#include <string.h>

StrataTokenizer *
_strata_tokenizer_alloc (StrataTokenizerKind kind, StrataEncoder encoder, const char *source)
{
  StrataTokenizer *tok = g_new0 (StrataTokenizer, 1);
  tok->kind = kind;
  tok->encoder = encoder;
  tok->source = g_strdup (source);
  tok->unk_id = -1;
  tok->bos_id = -1;
  tok->eos_id = -1;
  return tok;
}

void
strata_tokenizer_free (StrataTokenizer *tok)
{
  if (tok == NULL)
    return;
  for (int i = 0; i < tok->n_vocab; i++) {
    g_free (tok->pieces[i]);
    g_free (tok->display[i]);
    if (tok->bytes[i] != NULL)
      g_bytes_unref (tok->bytes[i]);
  }
  g_free (tok->pieces);
  g_free (tok->display);
  g_free (tok->bytes);
  g_free (tok->scores);
  g_free (tok->types);
  g_clear_pointer (&tok->piece_to_id, g_hash_table_unref);
  g_clear_pointer (&tok->merges, g_hash_table_unref);
  g_free (tok->merge_table);
  g_clear_pointer (&tok->pre_regex, g_regex_unref);
  for (int i = 0; i < tok->n_added; i++) {
    g_free (tok->added[i].content);
    g_free (tok->added[i].pattern);
  }
  g_free (tok->added);
  g_free (tok->id_flags);
  _strata_hf_free (tok->hf);
  g_free (tok->source);
  g_free (tok->sha256);
  g_free (tok);
}

int
_strata_piece_byte_value (const char *piece)
{
  /* Exactly "<0xXX>" with two hex digits, as SentencePiece writes byte pieces. */
  if (strlen (piece) != 6 || strncmp (piece, "<0x", 3) != 0 || piece[5] != '>')
    return -1;
  int hi = g_ascii_xdigit_value (piece[3]), lo = g_ascii_xdigit_value (piece[4]);
  if (hi < 0 || lo < 0)
    return -1;
  return hi * 16 + lo;
}

/* The bytes an id stands for in running text. */
static GBytes *
piece_bytes (StrataTokenizer *tok, int32_t id, const char *piece)
{
  GByteArray *out = g_byte_array_new ();
  gboolean is_added = tok->id_flags != NULL && (tok->id_flags[id] & STRATA_ID_ADDED);

  if (tok->byte_level && !is_added) {
    /* Every character of a byte-level piece stands for one byte; a character outside that
     * alphabet (only in hand-made vocabularies) is kept as its own UTF-8. */
    for (const char *p = piece; *p != '\0'; p = g_utf8_next_char (p)) {
      gunichar c = g_utf8_get_char (p);
      int b = _strata_gpt2_char_byte (c);
      if (b >= 0) {
        guint8 byte = (guint8) b;
        g_byte_array_append (out, &byte, 1);
      } else {
        g_byte_array_append (out, (const guint8 *) p, g_utf8_next_char (p) - p);
      }
    }
  } else if (tok->kind == STRATA_TOKENIZER_SPM_BPE && !is_added) {
    int b = _strata_piece_byte_value (piece);
    if (b >= 0) {
      guint8 byte = (guint8) b;
      g_byte_array_append (out, &byte, 1);
    } else {
      static const char underline[] = "\xe2\x96\x81"; /* U+2581 '▁' */
      for (const char *p = piece; *p != '\0';) {
        if (strncmp (p, underline, 3) == 0) {
          g_byte_array_append (out, (const guint8 *) " ", 1);
          p += 3;
        } else {
          g_byte_array_append (out, (const guint8 *) p, 1);
          p++;
        }
      }
    }
  } else {
    g_byte_array_append (out, (const guint8 *) piece, strlen (piece));
  }
  return g_byte_array_free_to_bytes (out);
}

/* How a person should read bytes: valid UTF-8 as is, any byte that is not part of a valid
 * character as <0xXX> (a lone byte of a multi-byte character is not a character). */
static char *
display_of_bytes (GBytes *bytes)
{
  gsize len;
  const char *p = g_bytes_get_data (bytes, &len);
  if (len == 0) /* an empty piece (a tokenizer.json or GGUF may list ""): found by fuzzing */
    return g_strdup ("");
  GString *s = g_string_new (NULL);
  const char *end = p + len;
  while (p < end) {
    const char *valid_end;
    g_utf8_validate_len (p, end - p, &valid_end);
    /* validate stops at NUL too; show NUL as a byte. */
    g_string_append_len (s, p, valid_end - p);
    p = valid_end;
    if (p < end) {
      g_string_append_printf (s, "<0x%02X>", (guint8) *p);
      p++;
    }
  }
  return g_string_free (s, FALSE);
}

gboolean
_strata_tokenizer_set_vocab (StrataTokenizer *tok, char **pieces, int n, GError **error)
{
  tok->n_vocab = n;
  tok->pieces = pieces;
  tok->display = g_new0 (char *, n);
  tok->bytes = g_new0 (GBytes *, n);
  tok->piece_to_id = g_hash_table_new (g_str_hash, g_str_equal);
  for (int i = 0; i < n; i++) {
    if (!g_hash_table_contains (tok->piece_to_id, pieces[i]))
      g_hash_table_insert (tok->piece_to_id, pieces[i], GINT_TO_POINTER (i + 1));
  }
  for (int i = 0; i < n; i++) {
    tok->bytes[i] = piece_bytes (tok, i, pieces[i]);
    tok->display[i] = display_of_bytes (tok->bytes[i]);
  }
  return TRUE;
}

gboolean
_strata_tokenizer_hash_files (StrataTokenizer *tok, const char *const *paths, GError **error)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  for (int i = 0; paths[i] != NULL; i++) {
    g_autoptr (GError) local = NULL;
    g_autoptr (GMappedFile) map = g_mapped_file_new (paths[i], FALSE, &local);
    if (map == NULL) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: %s", paths[i],
                   local->message);
      return FALSE;
    }
    g_checksum_update (sum, (const guchar *) g_mapped_file_get_contents (map),
                       g_mapped_file_get_length (map));
  }
  g_free (tok->sha256);
  tok->sha256 = g_strdup (g_checksum_get_string (sum));
  return TRUE;
}

int32_t
_strata_tokenizer_lookup_len (StrataTokenizer *tok, const char *s, gsize len)
{
  char stack[256];
  g_autofree char *heap = NULL;
  char *key = stack;
  if (len >= sizeof stack)
    key = heap = g_malloc (len + 1);
  memcpy (key, s, len);
  key[len] = '\0';
  return strata_tokenizer_lookup (tok, key);
}

int32_t
_strata_tokenizer_model_lookup (StrataTokenizer *tok, const char *s, gsize len)
{
  int32_t id = _strata_tokenizer_lookup_len (tok, s, len);
  return id >= 0 && tok->id_flags != NULL && !(tok->id_flags[id] & STRATA_ID_MODEL) ? -1 : id;
}

void
_strata_pieces_free (char **pieces, gsize n)
{
  for (gsize i = 0; i < n; i++)
    g_free (pieces[i]);
  g_free (pieces);
}

int32_t
_strata_tokenizer_byte_id (StrataTokenizer *tok, guint8 byte)
{
  char piece[8];
  g_snprintf (piece, sizeof piece, "<0x%02X>", byte);
  return _strata_tokenizer_model_lookup (tok, piece, 6);
}

StrataTokenizerKind
strata_tokenizer_get_kind (const StrataTokenizer *tok)
{
  return tok->kind;
}

int
strata_tokenizer_get_vocab_size (const StrataTokenizer *tok)
{
  return tok->n_vocab;
}

const char *
strata_tokenizer_get_source (const StrataTokenizer *tok)
{
  return tok->source;
}

const char *
strata_tokenizer_get_sha256 (const StrataTokenizer *tok)
{
  return tok->sha256;
}

int32_t
strata_tokenizer_get_bos (const StrataTokenizer *tok)
{
  return tok->bos_id;
}

int32_t
strata_tokenizer_get_eos (const StrataTokenizer *tok)
{
  return tok->eos_id;
}

int32_t
strata_tokenizer_get_unk (const StrataTokenizer *tok)
{
  return tok->unk_id;
}

gboolean
strata_tokenizer_get_specials (const StrataTokenizer *tok, const int32_t **prefix,
                               gsize *n_prefix, const int32_t **suffix, gsize *n_suffix)
{
  return _strata_hf_get_specials (tok, prefix, n_prefix, suffix, n_suffix);
}

void
strata_tokenizer_set_special (StrataTokenizer *tok, int32_t bos, int32_t eos)
{
  tok->bos_id = bos >= 0 && bos < tok->n_vocab ? bos : -1;
  tok->eos_id = eos >= 0 && eos < tok->n_vocab ? eos : -1;
}

const char *
strata_tokenizer_get_piece (StrataTokenizer *tok, int32_t id)
{
  if (id < 0 || id >= tok->n_vocab)
    return NULL;
  return tok->display[id];
}

int32_t
strata_tokenizer_lookup (StrataTokenizer *tok, const char *piece)
{
  gpointer v = g_hash_table_lookup (tok->piece_to_id, piece);
  return v != NULL ? GPOINTER_TO_INT (v) - 1 : -1;
}

GArray *
strata_tokenizer_encode (StrataTokenizer *tok, const char *text, GError **error)
{
  g_return_val_if_fail (tok != NULL && text != NULL, NULL);
  gsize len = strlen (text);
  if (!g_utf8_validate_len (text, len, NULL)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN,
                 "%s: the text to encode is not valid UTF-8", tok->source);
    return NULL;
  }
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (int32_t));
  gboolean ok = TRUE;
  if (len > 0) {
    switch (tok->encoder) {
    case STRATA_ENCODER_BYTE_BPE:
      ok = _strata_encode_byte_bpe (tok, text, len, out, error);
      break;
    case STRATA_ENCODER_SPM_SCORE:
      ok = _strata_encode_spm (tok, text, len, out, error);
      break;
    case STRATA_ENCODER_HF:
      ok = _strata_encode_hf (tok, text, len, out, error);
      break;
    }
  }
  return ok ? g_steal_pointer (&out) : NULL;
}

char *
strata_tokenizer_decode (StrataTokenizer *tok, const int32_t *ids, gsize n_ids)
{
  if (tok->hf != NULL && tok->hf->has_decoder)
    return _strata_hf_decode (tok, ids, n_ids);
  g_autoptr (GString) s = g_string_new (NULL);
  for (gsize i = 0; i < n_ids; i++) {
    if (ids[i] < 0 || ids[i] >= tok->n_vocab) {
      g_string_append (s, "\xef\xbf\xbd"); /* an id outside the vocabulary: U+FFFD */
      continue;
    }
    gsize n;
    const char *b = g_bytes_get_data (tok->bytes[ids[i]], &n);
    g_string_append_len (s, b, n);
  }
  return g_utf8_make_valid (s->str, s->len);
}
