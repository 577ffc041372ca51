/* bench-patching: the full resid_pre + attn_out + mlp_out denoising sweep of a
 * GPT-2-small-shaped model (seeded random weights) on a 20-token prompt, naive (one full
 * forward pass per patch) against Strata's sweep (prefix reuse; every cell a job of one
 * ragged batched suffix pass), in the same run. Prints both times, the ratio and the largest
 * difference of the results. A benchmark, not a test; exits non-zero if the two sweeps
 * disagree by more than 1e-5 relative to max(1, |metric|): both are float32 passes whose
 * products run over different numbers of rows, which OpenBLAS rounds differently (the
 * fast path's two logits of the logit difference are summed in double), so they differ
 * at about 1e-6 here; on the small golden models each is 1-5e-6 from a float64 torch
 * run and they differ by up to ~8e-6. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>

#include "bench-checkpoint.h"
#include "strata-patching.h"

enum { L = 12, C = 768, H = 12, V = 50257, N_CTX = 1024, T = 20 };

static StrataPatchResult *
timed (StrataEngine *e, const StrataPrompt *p, const StrataTarget *t, const StrataPatchOptions *o,
       gboolean naive, double *seconds)
{
  g_autoptr (GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();
  StrataPatchResult *r = naive ? strata_patch_run_naive (e, p, t, o, &error) : strata_patch_run (e, p, t, o, &error);
  *seconds = (g_get_monotonic_time () - t0) / 1e6;
  if (!r)
    fprintf (stderr, "bench-patching: %s\n", error->message);
  return r;
}

int
main (int argc, char **argv)
{
  const StrataBackend *be = strata_bench_device ("bench-patching", &argc, argv);
  if (!be)
    return 1;
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) m = strata_bench_open_gpt2_small (&error);
  if (!m) {
    fprintf (stderr, "bench-patching: %s\n", error->message);
    return 1;
  }
  StrataStatus st;
  StrataEngine *e = strata_engine_new (be, m->weights, &st);
  if (!e) {
    fprintf (stderr, "bench-patching: engine on %s: %s\n", be->name, strata_status_to_string (st));
    return 1;
  }
  StrataPrompt p = { 0 };
  p.ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  p.corrupt_ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  for (int t = 0; t < T; t++) {
    int32_t a = (int32_t) ((t * 7919u + 13) % V), b = t == 3 ? (int32_t) 4242 : a;
    g_array_append_val (p.ids, a);
    g_array_append_val (p.corrupt_ids, b);
  }
  p.contrast = 11;
  StrataTarget target = { (char *) "t", 7 };
  StrataPatchSite sites[] = { STRATA_PATCH_RESID_PRE, STRATA_PATCH_ATTN_OUT, STRATA_PATCH_MLP_OUT };
  StrataPatchOptions o = { sites, 3, STRATA_PATCH_DENOISE, STRATA_METRIC_LOGIT_DIFF, -1 };

  double t_fast, t_naive;
  g_autoptr (StrataPatchResult) warm = timed (e, &p, &target, &o, FALSE, &t_fast); /* warm-up */
  g_autoptr (StrataPatchResult) fast = timed (e, &p, &target, &o, FALSE, &t_fast);
  g_autoptr (StrataPatchResult) naive = timed (e, &p, &target, &o, TRUE, &t_naive);
  if (!warm || !fast || !naive)
    return 1;
  double worst = 0, worst_rel = 0;
  for (guint i = 0; i < fast->maps->len; i++) {
    StrataPatchMap *a = fast->maps->pdata[i], *b = naive->maps->pdata[i];
    for (int c = 0; c < a->rows * a->cols; c++) {
      double d = fabs (a->metric[c] - b->metric[c]);
      worst = MAX (worst, d);
      worst_rel = MAX (worst_rel, d / MAX (1.0, fabs (b->metric[c])));
    }
  }
  int patches = 3 * L * T;
  printf ("GPT-2 small shape (L=%d, C=%d, V=%d), %d tokens, %d patches (resid_pre, attn_out, mlp_out)\n", L, C, V,
          T, patches);
  printf ("baseline logit difference: clean %.4f, corrupt %.4f\n", fast->baseline_clean, fast->baseline_corrupt);
  printf ("naive (one forward per patch): %.3f s (%.1f ms per patch)\n", t_naive, t_naive * 1e3 / patches);
  printf ("strata sweep (prefix reuse, ragged batched pass): %.3f s\n", t_fast);
  printf ("speed-up: %.1fx\n", t_naive / t_fast);
  printf ("largest metric difference: %.3g absolute, %.3g relative\n", worst, worst_rel);
  g_array_unref (p.ids), g_array_unref (p.corrupt_ids);
  strata_engine_free (e);
  return worst_rel <= 1e-5 ? 0 : 1;
}
