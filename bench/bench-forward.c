/* bench-forward: forward-pass throughput of a GPT-2-small-shaped model (12 layers, 768
 * wide, vocabulary 50257, seeded random weights written here as a Hugging Face checkpoint)
 * on a 128-token prompt, against this machine's single-precision matrix-multiply peak
 * measured in the same run. Prints the ratio; it is a benchmark, not a test. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>

#include "bench-checkpoint.h"
#include "strata-engine.h"
#include "strata-model.h"

enum { L = 12, C = 768, V = 50257, T = 128 }; /* the shape of strata_bench_gpt2_small */

int
main (int argc, char **argv)
{
  const StrataBackend *be = strata_bench_device ("bench-forward", &argc, argv);
  if (!be)
    return 1;
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) m = strata_bench_open_gpt2_small (&error);
  if (!m) {
    fprintf (stderr, "bench-forward: %s\n", error->message);
    return 1;
  }
  StrataStatus st;
  StrataEngine *e = strata_engine_new (be, m->weights, &st);
  if (!e) {
    fprintf (stderr, "bench-forward: engine on %s: %s\n", be->name, strata_status_to_string (st));
    return 1;
  }
  int32_t tokens[T];
  for (int t = 0; t < T; t++)
    tokens[t] = (int32_t) ((t * 7919u) % V);
  float *logits = g_new (float, (gsize) T * V);

  double peak = strata_bench_sgemm_peak ();
  double best = 1e9;
  for (int rep = 0; rep < 6; rep++) { /* the first run warms up; take the best */
    gint64 t0 = g_get_monotonic_time ();
    if (strata_engine_forward (e, tokens, 1, T, NULL, logits) != STRATA_OK) {
      fprintf (stderr, "bench-forward: %s\n", strata_engine_get_error (e));
      return 1;
    }
    best = MIN (best, (g_get_monotonic_time () - t0) / 1e6);
  }
  /* Matrix-product FLOPs of one pass: q k v o (4C²), MLP (8C²) per layer and token, the
   * causal attention products, and the unembedding. */
  double linear = 2.0 * T * L * 12.0 * C * C;
  double attn = 2.0 * 2.0 * L * C * (T * (T + 1) / 2.0);
  double unembed = 2.0 * T * (double) V * C;
  double gflops = (linear + attn + unembed) / best / 1e9;
  printf ("machine sgemm peak (2048^3, OpenBLAS): %.1f GFLOP/s\n", peak);
  printf ("forward on %s, GPT-2 small shape, %d tokens: %.1f ms, %.0f tokens/s, %.1f GFLOP/s\n", be->name, T,
          best * 1e3, T / best, gflops);
  printf ("fraction of the CPU's sgemm peak: %.2f\n", gflops / peak);
  g_free (logits);
  strata_engine_free (e);
  return 0;
}
