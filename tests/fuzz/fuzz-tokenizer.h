/* fuzz-tokenizer.h: what the tokenizer targets check of an encode (fuzz-tokenizer-json.c,
 * fuzz-tokenizer-text.c). */
#pragma once

#include "strata-tokenizer.h"

/* Encode text: ids in the vocabulary or an error; decode takes them back to UTF-8. */
static inline void
fuzz_encode_decode (StrataTokenizer *tok, const char *text)
{
  GError *error = NULL;
  GArray *ids = strata_tokenizer_encode (tok, text, &error);
  if (ids != NULL) {
    int n = strata_tokenizer_get_vocab_size (tok);
    for (guint i = 0; i < ids->len; i++)
      if (g_array_index (ids, int32_t, i) < 0 || g_array_index (ids, int32_t, i) >= n)
        __builtin_trap (); /* an id outside the vocabulary is a bug */
    char *back = strata_tokenizer_decode (tok, (const int32_t *) ids->data, ids->len);
    if (!g_utf8_validate (back, -1, NULL))
      __builtin_trap (); /* decode promises UTF-8 */
    g_free (back);
    g_array_unref (ids);
  }
  g_clear_error (&error);
}
