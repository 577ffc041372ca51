/* test-decode: KV-cached decoding (strata_engine_step) against full forward passes, and the
 * CPU attention without a pattern against the materialized pattern.
 *
 * The reference for every decode step is the last row of strata_engine_forward() over the
 * whole sequence so far, the path the HF and llama2.c goldens check (test-forward.c). The
 * models cover every recipe feature the cached step must honour: llama RoPE (stories260K,
 * GGUF), learned positions (the two-hop GPT-2), GQA, parallel blocks with partial RoPE
 * (NeoX), soft-caps, post-norms and a window on every other layer (Gemma 2), a sliding window
 * on every layer (Mistral), q/k norms (Qwen3), no pre-norms (OLMo-2) and fused projections
 * (Phi-3). */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "strata-engine.h"
#include "strata-model.h"

/* float32 rounding of products over 1 row instead of T rows, relative to the row's largest
 * |logit| (stories260K's reach 17). */
#define STEP_TOLERANCE 1e-5
/* The pattern-free attention against the materialized one, relative to the largest |z|. */
#define NO_PATTERN_TOLERANCE 1e-6

typedef struct {
  const char *model; /* under tests/data */
  int prefill;       /* prompt length of the first step; the rest of the context one by one */
  int max_len;       /* at most this many positions */
} DecodeCase;

static StrataModel *
open_model (const char *rel)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", rel, NULL);
  g_autoptr (GError) error = NULL;
  StrataModel *model = strata_model_open (path, NULL, &error);
  g_assert_no_error (error);
  return model;
}

static StrataEngine *
cpu_engine (StrataModel *model)
{
  StrataStatus st;
  StrataEngine *e = strata_engine_new (strata_backend_cpu (), model->weights, &st);
  g_assert_nonnull (e);
  return e;
}

static double
max_abs_diff (const float *a, const float *b, gsize n)
{
  double m = 0;
  for (gsize i = 0; i < n; i++)
    m = fmax (m, fabs ((double) a[i] - b[i]));
  return m;
}

/* Tokens spread over the vocabulary (any ids run; a fixed LCG keeps them the same). */
static int32_t *
some_tokens (int T, int vocab)
{
  int32_t *t = g_new (int32_t, T);
  guint32 s = 12345u;
  for (int i = 0; i < T; i++) {
    s = s * 1664525u + 1013904223u;
    t[i] = (int32_t) ((s >> 8) % (guint32) vocab);
  }
  return t;
}

/* Prefill, then one token at a time to the end of the context: every step's logits equal the
 * last row of a full forward pass over the same tokens. */
static void
test_step (gconstpointer data)
{
  const DecodeCase *dc = data;
  g_autoptr (StrataModel) model = open_model (dc->model);
  StrataEngine *e = cpu_engine (model);
  const StrataConfig *g = strata_engine_get_config (e);
  int T = MIN (g->n_ctx, dc->max_len), V = g->vocab;
  g_assert_cmpint (dc->prefill, <, T);
  g_autofree int32_t *tokens = some_tokens (T, V);
  g_autofree float *full = g_new (float, (gsize) T * V);
  g_autofree float *step = g_new (float, V);
  StrataKVCache *cache = strata_kv_cache_new (e, T);
  g_assert_nonnull (cache);
  double worst = 0;
  for (int len = dc->prefill; len <= T; len++) {
    int from = len == dc->prefill ? 0 : len - 1;
    StrataStatus st = strata_engine_step (e, cache, tokens + from, len - from, step);
    g_assert_cmpstr (strata_engine_get_error (e), ==, "");
    g_assert_cmpint (st, ==, STRATA_OK);
    g_assert_cmpint (strata_kv_cache_length (cache), ==, len);
    g_assert_cmpint (strata_engine_forward (e, tokens, 1, len, NULL, full), ==, STRATA_OK);
    const float *ref = full + (gsize) (len - 1) * V;
    double scale = 1;
    for (int i = 0; i < V; i++)
      scale = fmax (scale, fabs (ref[i]));
    double d = max_abs_diff (step, ref, (gsize) V) / scale;
    if (!(d <= STEP_TOLERANCE))
      g_test_fail_printf ("%s: step to %d tokens differs from the full pass by %.3g", dc->model, len, d);
    worst = fmax (worst, d);
  }
  g_test_message ("%s: %d steps from a prefill of %d, max relative |diff| %.2e", dc->model, T - dc->prefill + 1, dc->prefill,
                  worst);
  strata_kv_cache_free (cache);
  strata_engine_free (e);
}

/* A full cache, a token outside the vocabulary and a cache beyond the context fail with a
 * message and leave the cache as it was. */
static void
test_step_errors (void)
{
  g_autoptr (StrataModel) model = open_model ("golden/llama-gqa");
  StrataEngine *e = cpu_engine (model);
  const StrataConfig *g = strata_engine_get_config (e);
  g_assert_null (strata_kv_cache_new (e, g->n_ctx + 1));
  g_assert_nonnull (strstr (strata_engine_get_error (e), "context"));
  StrataKVCache *cache = strata_kv_cache_new (e, 4);
  float *logits = g_new (float, g->vocab);
  int32_t tokens[5] = { 1, 2, 3, 4, 5 };
  g_assert_cmpint (strata_engine_step (e, cache, tokens, 5, logits), ==, STRATA_ERR_ARGUMENT);
  g_assert_nonnull (strstr (strata_engine_get_error (e), "do not fit the cache of 4"));
  int32_t bad = g->vocab;
  g_assert_cmpint (strata_engine_step (e, cache, &bad, 1, logits), ==, STRATA_ERR_ARGUMENT);
  g_assert_nonnull (strstr (strata_engine_get_error (e), "outside the vocabulary"));
  g_assert_cmpint (strata_kv_cache_length (cache), ==, 0);
  g_assert_cmpint (strata_engine_step (e, cache, tokens, 4, logits), ==, STRATA_OK);
  g_assert_cmpint (strata_kv_cache_length (cache), ==, 4);
  g_free (logits);
  strata_kv_cache_free (cache);
  strata_engine_free (e);
}

/* With the free memory lowered below what they need (STRATA_MEMORY_LIMIT), a KV cache and a
 * forward pass fail before allocating, naming the bytes needed and free: the figures of
 * the model's shape (L x capacity x K*D keys and values). */
static void
test_memory_budget (void)
{
  g_autoptr (StrataModel) model = open_model ("stories260K-gguf/stories260K.gguf");
  StrataEngine *e = cpu_engine (model);
  const StrataConfig *g = strata_engine_get_config (e);
  g_setenv ("STRATA_MEMORY_LIMIT", "1000", TRUE);
  g_assert_null (strata_kv_cache_new (e, 100));
  g_autofree char *kv = g_strdup_printf ("the KV cache needs %zu bytes", (size_t) 2 * g->n_layers * 100 * g->n_kv_heads
                                                                          * g->d_head * sizeof (float));
  g_assert_nonnull (strstr (strata_engine_get_error (e), kv));
  g_assert_nonnull (strstr (strata_engine_get_error (e), "but 1000 bytes (0.0 MiB) are free"));
  g_autofree int32_t *tokens = some_tokens (100, g->vocab);
  g_assert_cmpint (strata_engine_forward (e, tokens, 1, 100, NULL, NULL), ==, STRATA_ERR_MEMORY);
  g_assert_nonnull (strstr (strata_engine_get_error (e), "a forward pass needs"));
  g_unsetenv ("STRATA_MEMORY_LIMIT");
  g_assert_cmpint (strata_engine_forward (e, tokens, 1, 100, NULL, NULL), ==, STRATA_OK);
  strata_engine_free (e);
}

static float *
random_floats (gsize n, guint32 seed)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (seed);
  float *x = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    x[i] = (float) g_rand_double_range (rng, -2, 2);
  return x;
}

/* The CPU backend without a pattern against the materialized (Tq, Tk) pattern: 1100 queries
 * (1.2 Mi scores per head: two blocks of the 4 MiB scratch, the second moved back over the
 * first), and the last few of them against cached keys, with GQA, a soft-cap and windows. */
static void
test_no_pattern (void)
{
  const StrataBackend *cpu = strata_backend_cpu ();
  int B = 2, T = 1100, H = 2, K = 1, D = 16;
  StrataAttnParams params[] = { { 0.25f, 0.0f, 0 }, { 0.3f, 2.0f, 5 }, { 0.25f, 0.0f, 1000 } };
  g_autofree float *q = random_floats ((gsize) B * T * H * D, 1);
  g_autofree float *k = random_floats ((gsize) B * T * K * D, 2);
  g_autofree float *v = random_floats ((gsize) B * T * K * D, 3);
  g_autofree float *pattern = g_new (float, (gsize) B * H * T * T);
  g_autofree float *z_ref = g_new (float, (gsize) B * T * H * D);
  g_autofree float *z = g_new (float, (gsize) B * T * H * D);
  for (guint i = 0; i < G_N_ELEMENTS (params); i++) {
    const StrataAttnParams *ap = &params[i];
    g_assert_cmpint (cpu->attention (cpu, z_ref, pattern, q, k, v, B, T, T, H, K, D, ap), ==, STRATA_OK);
    double scale = 0;
    for (gsize j = 0; j < (gsize) B * T * H * D; j++)
      scale = fmax (scale, fabs (z_ref[j]));
    g_assert_cmpint (cpu->attention (cpu, z, NULL, q, k, v, B, T, T, H, K, D, ap), ==, STRATA_OK);
    double d = max_abs_diff (z, z_ref, (gsize) B * T * H * D) / scale;
    g_test_message ("window %d cap %g: all %d queries, max relative |diff| %.2e", ap->window, ap->softcap, T, d);
    g_assert_cmpfloat (d, <=, NO_PATTERN_TOLERANCE);
    /* The last Tq queries of sequence 0 alone (B = 1) against all its keys. */
    int Tq = 3;
    g_assert_cmpint (cpu->attention (cpu, z, NULL, q + (gsize) (T - Tq) * H * D, k, v, 1, Tq, T, H, K, D, ap), ==,
                     STRATA_OK);
    d = max_abs_diff (z, z_ref + (gsize) (T - Tq) * H * D, (gsize) Tq * H * D) / scale;
    g_test_message ("window %d cap %g: last %d queries, max relative |diff| %.2e", ap->window, ap->softcap, Tq, d);
    g_assert_cmpfloat (d, <=, NO_PATTERN_TOLERANCE);
  }
}

/* The same model run without any pattern (scores in the backend's scratch) and with the pattern
 * cached at every layer (materialized everywhere, as the goldens of test-forward.c check it):
 * the logits agree within 1e-6 of the largest |logit|. */
static void
test_no_pattern_model (gconstpointer data)
{
  const DecodeCase *dc = data;
  g_autoptr (StrataModel) model = open_model (dc->model);
  StrataEngine *e = cpu_engine (model);
  const StrataConfig *g = strata_engine_get_config (e);
  int T = MIN (g->n_ctx, dc->max_len), V = g->vocab, L = g->n_layers, H = g->n_heads;
  g_autofree int32_t *tokens = some_tokens (T, V);
  g_autofree float *scratch = g_new (float, (gsize) T * V), *materialized = g_new (float, (gsize) T * V);
  g_autofree float *patterns = g_new (float, (gsize) L * H * T * T);
  g_autofree StrataCache *caches = g_new (StrataCache, L);
  for (int l = 0; l < L; l++)
    caches[l] = (StrataCache) { STRATA_SITE_ATTN_PATTERN, l, patterns + (gsize) l * H * T * T };
  StrataHooks hooks = { caches, L, NULL, 0 };
  g_assert_cmpint (strata_engine_forward (e, tokens, 1, T, NULL, scratch), ==, STRATA_OK);
  g_assert_cmpint (strata_engine_forward (e, tokens, 1, T, &hooks, materialized), ==, STRATA_OK);
  double scale = 0;
  for (gsize i = 0; i < (gsize) T * V; i++)
    scale = fmax (scale, fabs (materialized[i]));
  double d = max_abs_diff (scratch, materialized, (gsize) T * V) / scale;
  g_test_message ("%s: %d tokens, max relative |diff| %.2e", dc->model, T, d);
  g_assert_cmpfloat (d, <=, NO_PATTERN_TOLERANCE);
  strata_engine_free (e);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* stories260K: a prefill of 70, then 10 steps. The golden models' context is 16 (8 for
   * the two-hop GPT-2): every window of 4 is passed. */
  static const DecodeCase cases[] = {
    { "stories260K-gguf/stories260K.gguf", 70, 80 }, { "twohop/cot-3000", 2, 64 },
    { "golden/llama-gqa", 3, 64 },                   { "golden/neox", 3, 64 },
    { "golden/gemma2-window", 3, 64 },               { "golden/mistral-window", 3, 64 },
    { "golden/qwen3-qknorm", 3, 64 },                { "golden/olmo2-postnorm", 3, 64 },
    { "golden/phi3-fused", 3, 64 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *name = g_strdup_printf ("/kernels/decode/%s", cases[i].model);
    g_test_add_data_func (name, &cases[i], test_step);
    g_autofree char *tiles = g_strdup_printf ("/kernels/attention/no-pattern/%s", cases[i].model);
    g_test_add_data_func (tiles, &cases[i], test_no_pattern_model);
  }
  g_test_add_func ("/kernels/decode/errors", test_step_errors);
  g_test_add_func ("/kernels/decode/memory-budget", test_memory_budget);
  g_test_add_func ("/kernels/attention/no-pattern", test_no_pattern);
  return g_test_run ();
}
