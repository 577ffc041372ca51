/* strata-tokenizer-hf.c: Hugging Face tokenizer.json (placeholder until the reader lands). */
#include "strata-tokenizer-private.h"

StrataTokenizer *
strata_tokenizer_new_hf_json (const char *path, GError **error)
{
  g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
               "%s: tokenizer.json is not read yet", path);
  return NULL;
}

gboolean
_strata_encode_hf_bpe (StrataTokenizer *tok, const char *text, gsize len, GArray *out,
                       GError **error)
{
  return FALSE;
}

gboolean
_strata_encode_word_level (StrataTokenizer *tok, const char *text, gsize len, GArray *out,
                           GError **error)
{
  return FALSE;
}
