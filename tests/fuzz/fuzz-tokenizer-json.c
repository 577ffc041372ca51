/* fuzz-tokenizer-json.c: libFuzzer target for tokenizer.json loading and the whole HF
 * pipeline behind it. An input is a tokenizer.json, optionally followed by a NUL and a text
 * to encode. A file must load or give an error; a loaded tokenizer must encode any valid
 * UTF-8 (or give an error), decode any ids, and show any piece — never crash, leak or read
 * outside its memory. */
#include "fuzz-tokenizer.h"
#include "strata-tokenizer-private.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static const char *const texts[] = {
  "Hello world, I'm here!  12345 <|im_start|>user\n\tx",
  "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x99\x82 'LL",
};

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  const guint8 *nul = memchr (data, 0, size);
  gsize json_len = nul != NULL ? (gsize) (nul - data) : size;
  GError *error = NULL;
  StrataTokenizer *tok =
    _strata_tokenizer_new_hf_json_data ("fuzz/tokenizer.json", (const char *) data, json_len, &error);
  g_clear_error (&error);
  if (tok == NULL)
    return 0;
  if (nul != NULL) {
    g_autofree char *text = g_strndup ((const char *) nul + 1, size - json_len - 1);
    fuzz_encode_decode (tok, text);
  } else {
    for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
      fuzz_encode_decode (tok, texts[i]);
  }
  /* every piece, and a decode of ids in and out of range */
  int n = strata_tokenizer_get_vocab_size (tok);
  for (int i = 0; i < n && i < 4096; i++)
    (void) strata_tokenizer_get_piece (tok, i);
  int32_t some[] = { 0, n - 1, n, -1, n / 2, 1 };
  char *back = strata_tokenizer_decode (tok, some, G_N_ELEMENTS (some));
  if (!g_utf8_validate (back, -1, NULL))
    __builtin_trap ();
  g_free (back);
  const int32_t *prefix, *suffix;
  gsize np, ns;
  strata_tokenizer_get_specials (tok, &prefix, &np, &suffix, &ns);
  strata_tokenizer_free (tok);
  return 0;
}
