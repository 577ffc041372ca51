/* bench-patch-set: the activation-patching sweep of a whole prompt set, one prompt at a time
 * (strata_patch_run per prompt: two unpatched passes and its own chunks of patched passes)
 * against the set swept together (strata_patch_run_set: prompts of equal length share their
 * unpatched passes and every chunk of patched passes), in the same run. Default: the two-hop
 * model cot-3000 over its 100 trimmed prompts (tests/data/twohop), every site, denoising by the
 * logit difference of the "answer" target. Prints both times with the matrix products and
 * row copies each made (the backend's calls are counted: on a GPU each is a launch), the
 * ratio and the largest difference of the maps. A benchmark, not a test; exits non-zero if
 * the two disagree by more than 1e-4 relative to max(1, |value|): products over other row
 * counts round differently, and a logit difference near 1 between two logits near 20 carries
 * their float32 rounding (on cot-3000 the two differ by up to 1e-5 there).
 *
 *   bench-patch-set [--device auto|cpu|cuda] [MODEL PROMPTS.jsonl [TARGET]] */
#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench-checkpoint.h"
#include "strata-patching.h"

/* The backend under test with its products, copies and transfers counted: each product or
 * copy is one launch (or more) on a GPU, where a sweep of many small passes is bound by
 * launches, not arithmetic; each transfer to or from the host waits for the device. */
static const StrataBackend *inner;
static StrataBackend counted;
typedef struct {
  guint64 linear, copy_calls, copy_ranges, transfers;
} Calls;
static Calls calls;

static StrataStatus
counted_linear (const StrataBackend *be, float *y, const float *x, const StrataMat *w, const float *b, int R, int N,
                int K, StrataPrecision precision)
{
  calls.linear++;
  return inner->linear (inner, y, x, w, b, R, N, K, precision);
}

static StrataStatus
counted_copy (const StrataBackend *be, void *dst, const void *src, size_t bytes)
{
  calls.copy_calls++, calls.copy_ranges++;
  return inner->copy (inner, dst, src, bytes);
}

static StrataStatus
counted_upload (const StrataBackend *be, void *dst, const void *src, size_t bytes)
{
  calls.transfers++;
  return inner->upload (inner, dst, src, bytes);
}

static StrataStatus
counted_download (const StrataBackend *be, void *dst, const void *src, size_t bytes)
{
  calls.transfers++;
  return inner->download (inner, dst, src, bytes);
}

static StrataStatus
counted_copy_many (const StrataBackend *be, const StrataCopy *copies, int n_copies)
{
  calls.copy_calls++, calls.copy_ranges += (guint64) n_copies;
  return inner->copy_many (inner, copies, n_copies);
}

static const StrataBackend *
counting (const StrataBackend *be)
{
  inner = be;
  counted = *be;
  counted.linear = counted_linear;
  counted.copy = counted_copy;
  counted.copy_many = counted_copy_many;
  counted.upload = counted_upload;
  counted.download = counted_download;
  return &counted;
}

static void
print_calls (const char *what, double seconds, const Calls *c)
{
  printf ("%s: %.3f s, %" G_GUINT64_FORMAT " matrix products, %" G_GUINT64_FORMAT " row ranges copied in %" G_GUINT64_FORMAT
          " copy calls, %" G_GUINT64_FORMAT " host transfers\n",
          what, seconds, c->linear, c->copy_ranges, c->copy_calls, c->transfers);
}

static double
seconds_since (gint64 t0)
{
  return (g_get_monotonic_time () - t0) / 1e6;
}

int
main (int argc, char **argv)
{
  const StrataBackend *be = strata_bench_device ("bench-patch-set", &argc, argv);
  if (!be)
    return 1;
  const char *model_path = argc > 2 ? argv[1] : "tests/data/twohop/cot-3000";
  const char *prompts_path = argc > 2 ? argv[2] : "tests/data/twohop/prompts-trimmed.jsonl";
  const char *target_name = argc > 3 ? argv[3] : "answer";
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) m = strata_model_open (model_path, NULL, &error);
  g_autoptr (StrataPromptSet) set = m ? strata_prompt_set_load (prompts_path, m, &error) : NULL;
  if (!set) {
    fprintf (stderr, "bench-patch-set: %s\n", error->message);
    return 1;
  }
  StrataStatus st;
  StrataEngine *e = strata_engine_new (counting (be), m->weights, &st);
  if (!e) {
    fprintf (stderr, "bench-patch-set: engine on %s: %s\n", be->name, strata_status_to_string (st));
    return 1;
  }
  static const StrataPatchSite sites[] = { STRATA_PATCH_RESID_PRE, STRATA_PATCH_ATTN_OUT, STRATA_PATCH_MLP_OUT,
                                           STRATA_PATCH_HEAD };
  guint n = 0, tokens = 0;
  g_autofree StrataPatchRequest *req = g_new (StrataPatchRequest, set->prompts->len);
  for (guint i = 0; i < set->prompts->len; i++) {
    const StrataPrompt *p = set->prompts->pdata[i];
    for (guint j = 0; p->corrupt_ids && p->contrast >= 0 && p->targets && j < p->targets->len; j++)
      if (strcmp (g_array_index (p->targets, StrataTarget, j).name, target_name) == 0) {
        req[n++] = (StrataPatchRequest) { p, &g_array_index (p->targets, StrataTarget, j),
                                          { sites, G_N_ELEMENTS (sites), STRATA_PATCH_DENOISE,
                                            STRATA_METRIC_LOGIT_DIFF, -1 } };
        tokens += p->ids->len;
      }
  }
  if (n == 0) {
    fprintf (stderr, "bench-patch-set: no prompt of %s has a corrupted input, a contrast and target '%s'\n",
             prompts_path, target_name);
    return 1;
  }
  guint failed;
  g_autoptr (GPtrArray) warm = strata_patch_run_set (e, req, MIN (n, 4u), NULL, NULL, &failed, &error);
  calls = (Calls) { 0 };
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (GPtrArray) one = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_patch_result_free);
  for (guint i = 0; warm && i < n; i++) {
    StrataPatchResult *r = strata_patch_run (e, req[i].prompt, req[i].target, &req[i].options, &error);
    if (!r)
      break;
    g_ptr_array_add (one, r);
  }
  double t_one = seconds_since (t0);
  Calls one_calls = calls;
  calls = (Calls) { 0 };
  t0 = g_get_monotonic_time ();
  g_autoptr (GPtrArray) together = one->len == n ? strata_patch_run_set (e, req, n, NULL, NULL, &failed, &error) : NULL;
  double t_set = seconds_since (t0);
  if (!together) {
    fprintf (stderr, "bench-patch-set: %s\n", error->message);
    return 1;
  }
  double worst = 0;
  guint cells = 0;
  for (guint i = 0; i < n; i++) {
    const StrataPatchResult *a = one->pdata[i], *b = together->pdata[i];
    for (guint k = 0; k < a->maps->len; k++) {
      const StrataPatchMap *x = a->maps->pdata[k], *y = b->maps->pdata[k];
      for (int c = 0; c < x->rows * x->cols; c++, cells++)
        worst = MAX (worst, MAX (fabs (x->metric[c] - y->metric[c]) / MAX (1.0, fabs (x->metric[c])),
                                 fabs (x->score[c] - y->score[c]) / MAX (1.0, fabs (x->score[c]))));
    }
  }
  printf ("%s over %u prompts of %s (%.1f tokens on average), target '%s', %u cells "
          "(resid_pre, attn_out, mlp_out, head)\n",
          model_path, n, prompts_path, (double) tokens / n, target_name, cells);
  print_calls ("one prompt at a time", t_one, &one_calls);
  print_calls ("the set in shared passes", t_set, &calls);
  printf ("speed-up: %.2fx\n", t_one / t_set);
  printf ("largest relative difference of metric or score: %.3g\n", worst);
  strata_engine_free (e);
  return worst <= 1e-4 ? 0 : 1;
}
