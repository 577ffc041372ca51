/* bench-decode: greedy generation on a GPT-2-small-shaped model (seeded random weights),
 * uncached (a full forward pass over the whole sequence per new token, as strata_generate
 * did before the KV cache) against KV-cached decode steps (strata_engine_step), in the same
 * run. Prints both times, the speed-up and whether the two chose the same tokens; it is a
 * benchmark, not a test. */
#include <glib.h>
#include <stdio.h>

#include "bench-checkpoint.h"
#include "strata-engine.h"
#include "strata-model.h"

enum { V = 50257, PROMPT = 32, NEW = 96 }; /* V: the shape of strata_bench_gpt2_small */

static int32_t
argmax (const float *x)
{
  int32_t best = 0;
  for (int v = 1; v < V; v++)
    if (x[v] > x[best])
      best = v;
  return best;
}

static int
failed (StrataEngine *e)
{
  fprintf (stderr, "bench-decode: %s\n", strata_engine_get_error (e));
  return 1;
}

int
main (int argc, char **argv)
{
  const StrataBackend *be = strata_bench_device ("bench-decode", &argc, argv);
  if (!be)
    return 1;
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) m = strata_bench_open_gpt2_small (&error);
  if (!m) {
    fprintf (stderr, "bench-decode: %s\n", error->message);
    return 1;
  }
  StrataStatus st;
  StrataEngine *e = strata_engine_new (be, m->weights, &st);
  if (!e) {
    fprintf (stderr, "bench-decode: engine on %s: %s\n", be->name, strata_status_to_string (st));
    return 1;
  }
  enum { T = PROMPT + NEW };
  int32_t full[T], cached[T];
  for (int t = 0; t < PROMPT; t++)
    full[t] = cached[t] = (int32_t) ((t * 7919u) % V);
  float *logits = g_new (float, (gsize) T * V);

  gint64 t0 = g_get_monotonic_time ();
  for (int len = PROMPT; len < T; len++) {
    if (strata_engine_forward (e, full, 1, len, NULL, logits) != STRATA_OK)
      return failed (e);
    full[len] = argmax (logits + (gsize) (len - 1) * V);
  }
  double t_full = (g_get_monotonic_time () - t0) / 1e6;

  t0 = g_get_monotonic_time ();
  StrataKVCache *cache = strata_kv_cache_new (e, T);
  if (!cache)
    return failed (e);
  for (int len = PROMPT; len < T; len++) {
    int from = len == PROMPT ? 0 : len - 1;
    if (strata_engine_step (e, cache, cached + from, len - from, logits) != STRATA_OK)
      return failed (e);
    cached[len] = argmax (logits);
  }
  double t_cached = (g_get_monotonic_time () - t0) / 1e6;

  int same = 0;
  while (same < NEW && full[PROMPT + same] == cached[PROMPT + same])
    same++;
  printf ("greedy generation on %s, GPT-2 small shape, %d-token prompt, %d new tokens\n", be->name, PROMPT, NEW);
  printf ("uncached (full pass per token): %.2f s, %.1f tokens/s\n", t_full, NEW / t_full);
  printf ("KV-cached steps:                %.2f s, %.1f tokens/s\n", t_cached, NEW / t_cached);
  printf ("speed-up: %.1fx; same tokens: %d of %d\n", t_full / t_cached, same, NEW);
  strata_kv_cache_free (cache);
  g_free (logits);
  strata_engine_free (e);
  return 0;
}
