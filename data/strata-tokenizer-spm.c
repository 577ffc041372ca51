/* strata-tokenizer-spm.c: SentencePiece-style BPE by score — llama2.c tokenizer.bin and the
 * GGUF `llama` vocabulary.
 *
 * Encoding follows llama2.c run.c encode() (without its BOS/EOS, which the caller adds):
 * a dummy-prefix token (the piece " ") when the text is not empty (unless the vocabulary says
 * add_space_prefix = false, as Gemma's GGUF does), one token per UTF-8
 * codepoint with bytes as id + 3 for codepoints not in the vocabulary, then repeatedly the
 * adjacent pair whose concatenation is the best-scored vocabulary entry. llama.cpp's SPM
 * tokenizer does the same on text with spaces as '▁' and a leading '▁', with <0xXX> byte
 * pieces; the two agree on the same vocabulary (the stories260K test checks it).
 *
 * The reader is hand-written because tokenizer.bin is llama2.c's own format. */
#include "strata-tokenizer-private.h"

#include <string.h>

static const char spm_space[] = "\xe2\x96\x81"; /* U+2581 '▁' */

static gboolean
read_i32 (const guint8 *data, gsize size, gsize *pos, gint32 *out)
{
  if (size - *pos < 4)
    return FALSE;
  memcpy (out, data + *pos, 4); /* little-endian file on a little-endian host */
  *pos += 4;
  return TRUE;
}

StrataTokenizer *
strata_tokenizer_new_llama2c (const char *path, int vocab_size, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GMappedFile) map = g_mapped_file_new (path, FALSE, &local);
  if (map == NULL) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: %s", path, local->message);
    return NULL;
  }
  if (vocab_size <= 0) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: vocabulary size %d must be positive", path, vocab_size);
    return NULL;
  }
  const guint8 *data = (const guint8 *) g_mapped_file_get_contents (map);
  gsize size = g_mapped_file_get_length (map);
  gsize pos = 0;
  gint32 max_len;
  if (!read_i32 (data, size, &pos, &max_len)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: %" G_GSIZE_FORMAT " bytes is too short for the max_token_length header",
                 path, size);
    return NULL;
  }
  /* Each record needs at least 8 bytes: a cheap bound before allocating vocab_size slots. */
  if ((gsize) vocab_size > (size - pos) / 8) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: %" G_GSIZE_FORMAT " bytes cannot hold %d tokens (8 bytes each at least)",
                 path, size, vocab_size);
    return NULL;
  }

  g_autoptr (StrataTokenizer) tok =
    _strata_tokenizer_alloc (STRATA_TOKENIZER_SPM_BPE, STRATA_ENCODER_SPM_SCORE, path);
  tok->llama2c = TRUE;
  tok->spm_dummy_prefix = TRUE;
  tok->scores = g_new (float, vocab_size);
  char **pieces = g_new0 (char *, vocab_size + 1);
  for (int i = 0; i < vocab_size; i++) {
    gint32 len = 0;
    if (size - pos < 8) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: truncated: token %d of %d starts at byte %" G_GSIZE_FORMAT
                   " but the file ends at %" G_GSIZE_FORMAT,
                   path, i, vocab_size, pos, size);
      g_strfreev (pieces);
      return NULL;
    }
    memcpy (&tok->scores[i], data + pos, 4);
    pos += 4;
    read_i32 (data, size, &pos, &len);
    if (len < 0 || (gsize) len > size - pos) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: token %d has length %d at byte %" G_GSIZE_FORMAT
                   ", but only %" G_GSIZE_FORMAT " bytes remain",
                   path, i, len, pos - 4, size - pos);
      g_strfreev (pieces);
      return NULL;
    }
    /* run.c keeps pieces as C strings: an embedded NUL ends the piece there too. */
    pieces[i] = g_strndup ((const char *) data + pos, len);
    pos += len;
  }
  const char *paths[] = { path, NULL };
  if (!_strata_tokenizer_set_vocab (tok, pieces, vocab_size, error) ||
      !_strata_tokenizer_hash_files (tok, paths, error))
    return NULL;
  /* run.c's convention: 0 <unk>, 1 BOS, 2 EOS, 3..258 the bytes. */
  tok->unk_id = 0;
  strata_tokenizer_set_special (tok, 1, 2);
  return g_steal_pointer (&tok);
}

StrataTokenizer *
strata_tokenizer_new_spm (const char *source, char **pieces, const float *scores,
                          const int32_t *types, int n, GError **error)
{
  if (n <= 0 || pieces == NULL || scores == NULL) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: the SentencePiece vocabulary is empty", source);
    return NULL;
  }
  g_autoptr (StrataTokenizer) tok =
    _strata_tokenizer_alloc (STRATA_TOKENIZER_SPM_BPE, STRATA_ENCODER_SPM_SCORE, source);
  tok->spm_normalize = TRUE;
  tok->spm_dummy_prefix = TRUE;
  tok->byte_fallback = TRUE;
  tok->scores = g_memdup2 (scores, n * sizeof *scores);
  if (types != NULL)
    tok->types = g_memdup2 (types, n * sizeof *types);

  /* The container file is the whole model, so the hash covers the vocabulary as given:
   * pieces with their NULs, scores and types. Same vocabulary, same hash. */
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  char **copy = g_new0 (char *, n + 1);
  for (int i = 0; i < n; i++) {
    if (pieces[i] == NULL) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: token %d has no text", source, i);
      g_strfreev (copy);
      return NULL;
    }
    copy[i] = g_strdup (pieces[i]);
    g_checksum_update (sum, (const guchar *) pieces[i], strlen (pieces[i]) + 1);
  }
  g_checksum_update (sum, (const guchar *) scores, n * sizeof *scores);
  if (types != NULL)
    g_checksum_update (sum, (const guchar *) types, n * sizeof *types);
  tok->sha256 = g_strdup (g_checksum_get_string (sum));

  if (!_strata_tokenizer_set_vocab (tok, copy, n, error))
    return NULL;
  for (int i = 0; types != NULL && i < n && tok->unk_id < 0; i++)
    if (types[i] == 2) /* GGUF token type UNKNOWN */
      tok->unk_id = i;
  if (tok->unk_id < 0)
    tok->unk_id = strata_tokenizer_lookup (tok, "<unk>");
  /* llama.cpp's defaults for SPM vocabularies; a GGUF that names its own calls set_special. */
  strata_tokenizer_set_special (tok, strata_tokenizer_lookup (tok, "<s>"),
                                strata_tokenizer_lookup (tok, "</s>"));
  return g_steal_pointer (&tok);
}

void
strata_tokenizer_set_add_space_prefix (StrataTokenizer *tok, gboolean add)
{
  tok->spm_dummy_prefix = add;
}

/* One codepoint that is not in the vocabulary, as byte tokens. */
static gboolean
append_bytes (StrataTokenizer *tok, const char *c, gsize n, GArray *out, GError **error)
{
  for (gsize i = 0; i < n; i++) {
    guint8 byte = (guint8) c[i];
    int32_t id;
    if (tok->llama2c)
      id = (int32_t) byte + 3; /* run.c: the first 3 entries are <unk>, <s>, </s> */
    else
      id = _strata_tokenizer_byte_id (tok, byte);
    if (id < 0 || id >= tok->n_vocab)
      id = tok->llama2c ? -1 : tok->unk_id;
    if (id < 0) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN,
                   "%s: byte 0x%02X has no token and there is no unknown token", tok->source,
                   byte);
      return FALSE;
    }
    g_array_append_val (out, id);
  }
  return TRUE;
}

gboolean
_strata_encode_spm (StrataTokenizer *tok, const char *text, gsize len, GArray *out,
                    GError **error)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_autoptr (GString) norm = g_string_sized_new (len + 8);
  const char *space = tok->llama2c ? " " : spm_space;

  /* add_dummy_prefix: the text reads as if it began with a space (not for Gemma, whose GGUF
   * says tokenizer.ggml.add_space_prefix = false, as llama.cpp reads it). */
  if (tok->spm_dummy_prefix)
    g_string_append (norm, space);
  for (gsize i = 0; i < len; i++) {
    if (text[i] == ' ')
      g_string_append (norm, space);
    else
      g_string_append_c (norm, text[i]);
  }

  for (const char *c = norm->str; c < norm->str + norm->len;) {
    const char *next = g_utf8_next_char (c);
    int32_t id = _strata_tokenizer_lookup_len (tok, c, next - c);
    if (id >= 0)
      g_array_append_val (ids, id);
    else if (!append_bytes (tok, c, next - c, ids, error))
      return FALSE;
    c = next;
  }
  _strata_bpe_merge (tok, STRATA_MERGE_BY_SCORE, ids);
  g_array_append_vals (out, ids->data, ids->len);
  return TRUE;
}
