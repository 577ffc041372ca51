/* fuzz-tokenizer-text.c: libFuzzer target for encoding arbitrary text with the committed
 * tokenizer.json files (tests/data/hf-pipeline, whose folder STRATA_FUZZ_DATA names). The
 * first byte picks the tokenizer, the rest is the text: encode must return ids in the
 * vocabulary or an error (invalid UTF-8, text a WordLevel/Unigram cannot cover), and decode
 * must take them back. */
#include "fuzz-tokenizer.h"
#include "strata-tokenizer-private.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

static GPtrArray *tokenizers;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  const char *root = g_getenv ("STRATA_FUZZ_DATA");
  tokenizers = g_ptr_array_new ();
  g_autoptr (GDir) dir = root != NULL ? g_dir_open (root, 0, NULL) : NULL;
  const char *name;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  for (guint i = 0; i < names->len; i++) {
    g_autofree char *path = g_build_filename (root, names->pdata[i], "tokenizer.json", NULL);
    if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
      continue;
    StrataTokenizer *tok = strata_tokenizer_new_hf_json (path, NULL);
    if (tok != NULL)
      g_ptr_array_add (tokenizers, tok);
  }
  if (tokenizers->len == 0) {
    g_printerr ("fuzz-tokenizer-text: set STRATA_FUZZ_DATA to tests/data/hf-pipeline\n");
    __builtin_trap ();
  }
  return 0;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  if (size == 0)
    return 0;
  StrataTokenizer *tok = tokenizers->pdata[data[0] % tokenizers->len];
  g_autofree char *text = g_strndup ((const char *) data + 1, size - 1);
  fuzz_encode_decode (tok, text);
  return 0;
}
