/* strata-tokenizer-stub.c: placeholder so the loaders link before the tokenizer lands.
 *
 * Built only when data/strata-tokenizer.c is absent (see data/meson.build). Every
 * constructor fails with a clear error, so a model opens only without a tokenizer and the
 * format tests that need one skip themselves. Delete this file once `tokenizers` is in main. */
#include "strata-data-error.h"
#include "strata-tokenizer.h"

static gpointer
unavailable (const char *what, GError **error)
{
  g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
               "%s: tokenizers are not built in this tree", what);
  return NULL;
}

StrataTokenizer *strata_tokenizer_new_gpt2 (const char *v, const char *m, GError **e) { return unavailable (v, e); }
StrataTokenizer *strata_tokenizer_new_hf_json (const char *p, GError **e) { return unavailable (p, e); }
StrataTokenizer *strata_tokenizer_new_llama2c (const char *p, int n, GError **e) { return unavailable (p, e); }
StrataTokenizer *
strata_tokenizer_new_spm (const char *s, char **p, const float *sc, const int32_t *t, int n, GError **e)
{
  return unavailable (s, e);
}
void strata_tokenizer_free (StrataTokenizer *tok) {}
int strata_tokenizer_get_vocab_size (const StrataTokenizer *tok) { return 0; }
GArray *strata_tokenizer_encode (StrataTokenizer *tok, const char *text, GError **e) { return unavailable ("tokenizer", e); }
