/* The same stories260K weights stored three ways (llama2.c .bin, GGUF, Hugging Face with
 * permuted W_Q/W_K) must give the same logits: each format's RoPE convention is applied by
 * the engine, never guessed. */
#include <math.h>

#include "strata-engine.h"
#include "strata-model.h"

static float *
logits_of (const char *rel, const int32_t *ids, int T)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", rel, NULL);
  g_autofree char *tok = g_test_build_filename (G_TEST_DIST, "data", "stories260K", "tok512.bin", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) m = strata_model_open (path, tok, &error);
  g_assert_no_error (error);
  StrataStatus st;
  StrataEngine *e = strata_engine_new (strata_backend_cpu (), m->weights, &st);
  g_assert_cmpint (st, ==, STRATA_OK);
  float *logits = g_new (float, (gsize) T * m->weights->cfg.vocab);
  g_assert_cmpint (strata_engine_forward (e, ids, 1, T, NULL, logits), ==, STRATA_OK);
  strata_engine_free (e);
  return logits;
}

static void
test_same_logits (void)
{
  /* BOS, then a fixed spread of ids over the whole vocabulary, 64 positions. */
  enum { T = 64, V = 512 };
  int32_t ids[T];
  ids[0] = 1;
  for (int t = 1; t < T; t++)
    ids[t] = (int32_t) ((t * 137 + 11) % V);
  g_autofree float *bin = logits_of ("stories260K/stories260K.bin", ids, T);
  g_autofree float *gguf = logits_of ("stories260K-gguf/stories260K.gguf", ids, T);
  g_autofree float *hf = logits_of ("stories260K-hf", ids, T);
  double gguf_err = 0, hf_err = 0, spread = 0;
  for (int i = 0; i < T * V; i++) {
    gguf_err = fmax (gguf_err, fabs (bin[i] - gguf[i]));
    hf_err = fmax (hf_err, fabs (bin[i] - hf[i]));
    spread = fmax (spread, fabs (bin[i]));
  }
  g_test_message ("max |bin - gguf| %.2e, max |bin - hf| %.2e (logits up to %.1f)", gguf_err, hf_err, spread);
  g_assert_cmpfloat (gguf_err, <, 1e-4);
  g_assert_cmpfloat (hf_err, <, 1e-4);
  g_assert_cmpfloat (spread, >, 1.0); /* the comparison is not between zeros */
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/cross-format/stories260k", test_same_logits);
  return g_test_run ();
}
