/* strata-examples.c: the bundled examples and where their files are. */
#include "strata-examples.h"

#include <string.h>

#include "strata-config.h"

const StrataExample strata_examples[] = {
  { "twohop", "Two-Hop: CoT vs Non-CoT", { "twohop/cot-3000", "twohop/nocot-9000" }, "twohop/prompts-trimmed.jsonl",
    "id",
    "Example: two GPT-2-style models trained on a two-hop task (h, r1, r2 \xe2\x86\x92 bridge \xe2\x86\x92 tail), "
    "with chain of thought (cot-3000, solid) and without (nocot-9000, dashed): where each decodes the bridge at r2." },
  { "stories260K", "Stories260K (llama2.c)", { "stories260K/stories260K.bin", NULL }, NULL, NULL, NULL },
};
const gsize strata_n_examples = G_N_ELEMENTS (strata_examples);

const StrataExample *
strata_example_lookup (const char *id)
{
  for (gsize i = 0; id && i < strata_n_examples; i++)
    if (strcmp (strata_examples[i].id, id) == 0)
      return &strata_examples[i];
  return NULL;
}

char *
strata_example_file (const char *relative)
{
  g_autofree char *installed = g_build_filename (STRATA_EXAMPLES_DIR, relative, NULL);
  if (g_file_test (installed, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&installed);
#ifdef STRATA_SOURCE_EXAMPLES_DIR
  g_autofree char *source = g_build_filename (STRATA_SOURCE_EXAMPLES_DIR, relative, NULL);
  if (g_file_test (source, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&source);
#endif
  return NULL;
}

gboolean
strata_example_available (const StrataExample *example)
{
  const char *files[] = { example->models[0], example->models[1], example->prompts };
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autofree char *path = files[i] ? strata_example_file (files[i]) : NULL;
    if (files[i] && !path)
      return FALSE;
  }
  return TRUE;
}
