/* test-patching: activation patching against float64 torch goldens, the fast sweep against
 * the naive loop, the invariants of DESIGN.md section 6, and a sweep on stories260K. */
#include <math.h>
#include <string.h>

#include "counting-backend.h"
#include "strata-circuit.h"
#include "strata-patching.h"
#include "test-probe-util.h"

static const StrataPatchSite all_sites[] = { STRATA_PATCH_RESID_PRE, STRATA_PATCH_ATTN_OUT, STRATA_PATCH_MLP_OUT,
                                             STRATA_PATCH_HEAD, STRATA_PATCH_HEAD_AT };

/* Every cell of every map of `r` against sites[SITE].{metric, score} of a golden file, within
 * 1e-4; returns the largest score difference. */
static double
assert_maps_equal_golden (const StrataPatchResult *r, JsonObject *sites)
{
  double worst = 0;
  for (guint i = 0; i < r->maps->len; i++) {
    const StrataPatchMap *mp = r->maps->pdata[i];
    JsonObject *s = json_object_get_object_member (sites, strata_patch_site_to_string (mp->site));
    JsonArray *metric = json_object_get_array_member (s, "metric"), *score = json_object_get_array_member (s, "score");
    for (int row = 0; row < mp->rows; row++)
      for (int c = 0; c < mp->cols; c++) {
        worst = MAX (worst, fabs (mp->score[row * mp->cols + c] - probe_json_at (score, row, c)));
        g_assert_cmpfloat_with_epsilon (mp->metric[row * mp->cols + c], probe_json_at (metric, row, c), 1e-4);
        g_assert_cmpfloat_with_epsilon (mp->score[row * mp->cols + c], probe_json_at (score, row, c), 1e-4);
      }
  }
  return worst;
}

static void
check_golden (gconstpointer data)
{
  const char *name = data;
  g_autofree char *dir = g_strdup_printf ("probe-golden/%s", name);
  g_autofree char *gold = g_strdup_printf ("probe-golden/%s/probe-golden.json", name);
  g_autoptr (StrataModel) m = probe_open (dir);
  StrataEngine *e = probe_engine (m);
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *g = probe_golden (gold, &parser);
  StrataPrompt p = { 0 };
  p.ids = probe_json_ids (g, "clean_ids");
  p.corrupt_ids = probe_json_ids (g, "corrupt_ids");
  p.contrast = (int32_t) json_object_get_int_member (g, "contrast");
  StrataTarget t = { (char *) "t", (int32_t) json_object_get_int_member (g, "target") };
  StrataPatchOptions o = { all_sites, G_N_ELEMENTS (all_sites), STRATA_PATCH_DENOISE, STRATA_METRIC_LOGIT_DIFF, -1 };
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataPatchResult) fast = strata_patch_run (e, &p, &t, &o, &error);
  g_assert_no_error (error);
  g_autoptr (StrataPatchResult) naive = strata_patch_run_naive (e, &p, &t, &o, &error);
  g_assert_no_error (error);
  double fn = probe_patch_difference (fast, naive);
  g_test_message ("%s: fast vs naive, largest difference %.3g", name, fn);
  g_assert_cmpfloat (fn, <=, 1e-5);

  JsonObject *gp = json_object_get_object_member (g, "patch");
  g_assert_cmpfloat_with_epsilon (fast->baseline_clean, json_object_get_double_member (gp, "baseline_clean"), 1e-4);
  g_assert_cmpfloat_with_epsilon (fast->baseline_corrupt, json_object_get_double_member (gp, "baseline_corrupt"), 1e-4);
  double worst = assert_maps_equal_golden (fast, json_object_get_object_member (gp, "sites"));
  g_test_message ("%s: largest score difference to torch %.3g", name, worst);
  g_array_unref (p.ids), g_array_unref (p.corrupt_ids);
  strata_engine_free (e);
}

/* Attribution patching against torch autograd's estimate of the same patches, both
 * directions (tools/reference/make_probe_goldens.py, attribution-golden.json). */
static void
check_attribution_golden (void)
{
  g_autoptr (StrataModel) m = probe_open ("probe-golden/gpt2");
  StrataEngine *e = probe_engine (m);
  g_autoptr (JsonParser) parser = NULL, estimate_parser = NULL;
  JsonObject *g = probe_golden ("probe-golden/gpt2/probe-golden.json", &parser);
  JsonObject *gold = probe_golden ("probe-golden/gpt2/attribution-golden.json", &estimate_parser);
  StrataPrompt p = { 0 };
  p.ids = probe_json_ids (g, "clean_ids");
  p.corrupt_ids = probe_json_ids (g, "corrupt_ids");
  p.contrast = (int32_t) json_object_get_int_member (g, "contrast");
  StrataTarget t = { (char *) "t", (int32_t) json_object_get_int_member (g, "target") };
  for (int d = STRATA_PATCH_DENOISE; d <= STRATA_PATCH_NOISE; d++) {
    StrataPatchOptions o = { all_sites, G_N_ELEMENTS (all_sites), d, STRATA_METRIC_LOGIT_DIFF, -1 };
    g_autoptr (GError) error = NULL;
    g_autoptr (StrataPatchResult) r = strata_patch_run_attribution (e, &p, &t, &o, &error);
    g_assert_no_error (error);
    g_assert_cmpint (r->method, ==, STRATA_PATCH_ATTRIBUTION);
    JsonObject *gd = json_object_get_object_member (gold, strata_patch_direction_to_string (d));
    double worst = assert_maps_equal_golden (r, json_object_get_object_member (gd, "sites"));
    g_test_message ("%s: largest estimate difference to torch autograd %.3g", strata_patch_direction_to_string (d),
                    worst);
  }
  g_array_unref (p.ids), g_array_unref (p.corrupt_ids);
  strata_engine_free (e);
}

/* The agreement of a result with itself is perfect; with its negation, the correlation is -1
 * and the top cells by magnitude are still the same. */
static void
test_agreement (void)
{
  g_autoptr (StrataModel) m = probe_open ("probe-golden/gpt2");
  StrataEngine *e = probe_engine (m);
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *g = probe_golden ("probe-golden/gpt2/probe-golden.json", &parser);
  StrataPrompt p = { 0 };
  p.ids = probe_json_ids (g, "clean_ids");
  p.corrupt_ids = probe_json_ids (g, "corrupt_ids");
  p.contrast = (int32_t) json_object_get_int_member (g, "contrast");
  StrataTarget t = { (char *) "t", (int32_t) json_object_get_int_member (g, "target") };
  StrataPatchOptions o = { all_sites, 3, STRATA_PATCH_DENOISE, STRATA_METRIC_LOGIT_DIFF, -1 };
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataPatchResult) a = strata_patch_run (e, &p, &t, &o, &error);
  g_assert_no_error (error);
  g_autoptr (StrataPatchResult) neg = strata_patch_run (e, &p, &t, &o, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < neg->maps->len; i++) {
    StrataPatchMap *mp = neg->maps->pdata[i];
    for (int c = 0; c < mp->rows * mp->cols; c++)
      mp->score[c] = -mp->score[c];
  }
  const StrataPatchResult *one[] = { a }, *other[] = { neg };
  g_autoptr (GArray) same = strata_patch_agreement (one, one, 1);
  g_autoptr (GArray) flipped = strata_patch_agreement (one, other, 1);
  g_assert_cmpuint (same->len, ==, 3);
  g_assert_cmpuint (flipped->len, ==, 3);
  for (guint i = 0; i < 3; i++) {
    const StrataPatchAgreement *x = &g_array_index (same, StrataPatchAgreement, i);
    const StrataPatchAgreement *y = &g_array_index (flipped, StrataPatchAgreement, i);
    g_assert_cmpint (x->site, ==, all_sites[i]);
    g_assert_cmpint (x->n_cells, ==, ((StrataPatchMap *) a->maps->pdata[i])->rows * (int) p.ids->len);
    g_assert_cmpint (x->n_prompts, ==, 1);
    g_assert_cmpfloat_with_epsilon (x->pearson, 1.0, 1e-12);
    g_assert_cmpfloat (x->topk_overlap, ==, 1.0);
    g_assert_cmpfloat (x->max_abs_diff, ==, 0.0);
    g_assert_cmpfloat_with_epsilon (y->pearson, -1.0, 1e-12);
    g_assert_cmpfloat (y->topk_overlap, ==, 1.0);
  }
  g_array_unref (p.ids), g_array_unref (p.corrupt_ids);
  strata_engine_free (e);
}

/* Patching every position of resid_pre 0 with the clean run gives the clean logits;
 * patching nothing gives the corrupted logits. */
static void
test_invariants (void)
{
  g_autoptr (StrataModel) m = probe_open ("probe-golden/llama");
  StrataEngine *e = probe_engine (m);
  const StrataConfig *c = &m->weights->cfg;
  int32_t clean[] = { 5, 17, 9, 30, 2, 11 }, corrupt[] = { 5, 23, 9, 41, 2, 11 };
  enum { T = 6 };
  int V = c->vocab, C = c->d_model;
  g_autofree float *resid = g_new (float, T * C), *lc = g_new (float, T * V), *lx = g_new (float, T * V);
  g_autofree float *lp = g_new (float, T * V);
  StrataCache cache = { STRATA_SITE_RESID_PRE, 0, resid };
  StrataHooks h = { &cache, 1, NULL, 0 };
  g_assert_cmpint (strata_engine_forward (e, clean, 1, T, &h, lc), ==, STRATA_OK);
  g_assert_cmpint (strata_engine_forward (e, corrupt, 1, T, NULL, lx), ==, STRATA_OK);
  StrataPatch patches[T];
  for (int t = 0; t < T; t++)
    patches[t] = (StrataPatch) { STRATA_SITE_RESID_PRE, 0, 0, t, -1, resid + t * C };
  StrataHooks hp = { NULL, 0, patches, T };
  g_assert_cmpint (strata_engine_forward (e, corrupt, 1, T, &hp, lp), ==, STRATA_OK);
  for (int i = 0; i < T * V; i++)
    g_assert_cmpfloat (lp[i], ==, lc[i]);
  StrataHooks none = { NULL, 0, NULL, 0 };
  g_assert_cmpint (strata_engine_forward (e, corrupt, 1, T, &none, lp), ==, STRATA_OK);
  for (int i = 0; i < T * V; i++)
    g_assert_cmpfloat (lp[i], ==, lx[i]);
  strata_engine_free (e);
}

/* Real text: "Lily went to the park." against "Tim went to the park.", target " She",
 * contrast " He". Only position 1 differs. */
static void
test_stories (void)
{
  g_autoptr (StrataModel) m = probe_open ("stories260K/stories260K.bin");
  StrataEngine *e = probe_engine (m);
  g_autoptr (GError) error = NULL;
  const char *const targets[] = { "She", NULL };
  g_autoptr (StrataPromptSet) set = strata_prompt_set_new_single (m, "Lily went to the park.", NULL, 0,
                                                                  "Tim went to the park.", targets, "He", &error);
  g_assert_no_error (error);
  StrataPrompt *p = set->prompts->pdata[0];
  StrataTarget *t = &g_array_index (p->targets, StrataTarget, 0);
  StrataPatchOptions o = { all_sites, G_N_ELEMENTS (all_sites), STRATA_PATCH_DENOISE, STRATA_METRIC_LOGIT_DIFF, -1 };
  g_autoptr (StrataPatchResult) r = strata_patch_run (e, p, t, &o, &error);
  g_assert_no_error (error);
  g_autoptr (StrataPatchResult) naive = strata_patch_run_naive (e, p, t, &o, &error);
  double rel = probe_patch_difference (r, naive);
  g_test_message ("stories260K: fast vs naive, largest relative difference %.3g", rel);
  g_assert_cmpfloat (rel, <=, 1e-5);
  int L = m->weights->cfg.n_layers, T = (int) p->ids->len;
  g_assert_cmpfloat (r->baseline_clean, >, 1.0);   /* the model prefers " She" after Lily */
  g_assert_cmpfloat (r->baseline_corrupt, <, -1.0); /* and " He" after Tim */
  g_assert_false (r->small_gap);
  const StrataPatchMap *resid = r->maps->pdata[0], *attn = r->maps->pdata[1];
  /* resid_pre 0 at the name is the whole difference: the score is exactly 1. */
  g_assert_cmpfloat_with_epsilon (resid->score[1], 1.0, 1e-4);
  /* Positions that are the same in both runs carry nothing at layer 0. */
  for (int q = 0; q < T; q++)
    if (q != 1)
      g_assert_cmpfloat (fabs (resid->score[q]), <, 1e-4);
  /* The information moves from the name to the last position: the last layer's attention
   * output there restores most of it, and resid_pre at the last position gains with depth. */
  g_assert_cmpfloat (attn->score[(L - 1) * T + T - 1], >, 0.5);
  g_assert_cmpfloat (resid->score[(L - 1) * T + T - 1], >, resid->score[T - 1] + 0.1);

  /* Noising is the mirror image at the name; top1-change marks exactly that cell. */
  StrataPatchSite only[] = { STRATA_PATCH_RESID_PRE };
  StrataPatchOptions on = { only, 1, STRATA_PATCH_NOISE, STRATA_METRIC_LOGIT_DIFF, -1 };
  g_autoptr (StrataPatchResult) noise = strata_patch_run (e, p, t, &on, &error);
  g_assert_cmpfloat_with_epsilon (((StrataPatchMap *) noise->maps->pdata[0])->score[1], -1.0, 1e-4);
  StrataPatchOptions ot = { only, 1, STRATA_PATCH_NOISE, STRATA_METRIC_TOP1_CHANGE, -1 };
  g_autoptr (StrataPatchResult) top1 = strata_patch_run (e, p, t, &ot, &error);
  g_autoptr (StrataPatchResult) top1n = strata_patch_run_naive (e, p, t, &ot, &error);
  g_assert_cmpfloat (probe_patch_difference (top1, top1n), ==, 0);
  const StrataPatchMap *tm = top1->maps->pdata[0];
  g_assert_cmpfloat (tm->score[2], ==, 0);
  /* The probability metric scores between the two baselines too. */
  StrataPatchOptions op = { only, 1, STRATA_PATCH_DENOISE, STRATA_METRIC_PROB, -1 };
  g_autoptr (StrataPatchResult) prob = strata_patch_run (e, p, t, &op, &error);
  g_assert_cmpfloat (prob->baseline_clean, >, prob->baseline_corrupt);
  g_assert_cmpfloat_with_epsilon (((StrataPatchMap *) prob->maps->pdata[0])->score[1], 1.0, 1e-4);

  /* The circuit keeps the name at layer 0 and the final state, with edges between kept nodes. */
  g_autoptr (StrataCircuit) circ = strata_circuit_extract (r, NULL, 0.5);
  gboolean name = FALSE;
  for (guint i = 0; i < circ->nodes->len; i++) {
    StrataCircuitNode *n = &g_array_index (circ->nodes, StrataCircuitNode, i);
    g_assert_cmpfloat (fabs (n->effect), >=, 0.5);
    name |= n->kind == STRATA_NODE_RESID && n->layer == 0 && n->pos == 1;
  }
  g_assert_true (name);
  g_assert_cmpuint (circ->edges->len, >, 0);
  strata_engine_free (e);
}

/* A golden checkpoint, every site: the fast sweep equals the naive loop, and patching the
 * whole clean prompt at resid_pre 0 gives clean logits. */
static void
sweep_golden (gconstpointer data)
{
  const char *name = data;
  g_autofree char *dir = g_build_filename ("golden", name, NULL);
  g_autoptr (StrataModel) m = probe_open (dir);
  StrataEngine *e = probe_engine (m);
  enum { T = 7 };
  int32_t clean[T] = { 3, 17, 9, 30, 2, 11, 40 }, corrupt[T] = { 3, 17, 44, 30, 2, 51, 40 };
  StrataPrompt p = { 0 };
  p.ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  p.corrupt_ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_array_append_vals (p.ids, clean, T);
  g_array_append_vals (p.corrupt_ids, corrupt, T);
  g_autoptr (GError) error = NULL;
  g_autofree float *logits = g_new (float, (gsize) T * m->weights->cfg.vocab);
  g_assert_cmpint (strata_engine_forward (e, clean, 1, T, NULL, logits), ==, STRATA_OK);
  /* Target: the clean run's prediction; contrast: the token after it in the vocabulary. */
  const float *last = logits + (gsize) (T - 1) * m->weights->cfg.vocab;
  int32_t top = 0;
  for (int v = 1; v < m->weights->cfg.vocab; v++)
    if (last[v] > last[top])
      top = v;
  p.contrast = (top + 1) % m->weights->cfg.vocab;
  StrataTarget t = { (char *) "t", top };
  StrataPatchOptions o = { all_sites, G_N_ELEMENTS (all_sites), STRATA_PATCH_DENOISE, STRATA_METRIC_LOGIT_DIFF, -1 };
  g_autoptr (StrataPatchResult) fast = strata_patch_run (e, &p, &t, &o, &error);
  g_assert_no_error (error);
  g_autoptr (StrataPatchResult) naive = strata_patch_run_naive (e, &p, &t, &o, &error);
  g_assert_no_error (error);
  double rel = probe_patch_difference (fast, naive);
  g_test_message ("%s: fast vs naive, largest relative difference %.3g", name, rel);
  g_assert_cmpfloat (rel, <=, 1e-5);
  g_assert_false (fast->small_gap);
  /* resid_pre 0 at the first differing position carries everything that position adds. */
  const StrataPatchMap *resid = fast->maps->pdata[0];
  for (int q = 0; q < 2; q++)
    g_assert_cmpfloat (resid->score[q], ==, 0.0); /* identical positions: nothing to patch */
  g_array_unref (p.ids), g_array_unref (p.corrupt_ids);
  strata_engine_free (e);
}

static void
test_errors (void)
{
  g_autoptr (StrataModel) m = probe_open ("probe-golden/gpt2");
  StrataEngine *e = probe_engine (m);
  g_autoptr (GError) error = NULL;
  StrataPrompt p = { 0 };
  int32_t a[] = { 1, 2, 3 }, b[] = { 1, 2 };
  p.ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_array_append_vals (p.ids, a, 3);
  p.contrast = 4;
  StrataTarget t = { (char *) "t", 5 };
  StrataPatchOptions o = { all_sites, 3, STRATA_PATCH_DENOISE, STRATA_METRIC_LOGIT_DIFF, -1 };
  g_assert_null (strata_patch_run (e, &p, &t, &o, &error));
  g_assert_nonnull (strstr (error->message, "no corrupted input"));
  g_clear_error (&error);
  p.corrupt_ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_array_append_vals (p.corrupt_ids, b, 2);
  g_assert_null (strata_patch_run (e, &p, &t, &o, &error));
  g_assert_nonnull (strstr (error->message, "differ in length"));
  g_clear_error (&error);
  g_array_append_val (p.corrupt_ids, a[0]);
  p.contrast = -1;
  g_assert_null (strata_patch_run_naive (e, &p, &t, &o, &error));
  g_assert_nonnull (strstr (error->message, "contrast"));
  g_clear_error (&error);
  p.contrast = 4;
  StrataPatchSite head_at[] = { STRATA_PATCH_HEAD_AT };
  StrataPatchOptions oh = { head_at, 1, STRATA_PATCH_DENOISE, STRATA_METRIC_LOGIT_DIFF, 7 };
  g_assert_null (strata_patch_run (e, &p, &t, &oh, &error));
  g_assert_nonnull (strstr (error->message, "out of range"));
  g_clear_error (&error);
  /* Identical inputs: the gap is zero and is flagged. */
  g_autoptr (StrataPatchResult) same = NULL;
  g_array_index (p.corrupt_ids, int32_t, 2) = 3;
  same = strata_patch_run (e, &p, &t, &o, &error);
  g_assert_no_error (error);
  g_assert_true (same->small_gap);
  g_array_unref (p.ids), g_array_unref (p.corrupt_ids);
  strata_engine_free (e);
}

typedef struct {
  double done;
  guint calls;
} Progress;

static void
count_progress (double n_done, gpointer data)
{
  Progress *p = data;
  g_assert_cmpfloat (n_done, >, p->done); /* strictly growing */
  p->done = n_done;
  p->calls++;
}

/* A prompt set swept together (strata_patch_run_set) on a golden checkpoint: prompts of three
 * lengths, logit difference, probability and top-1 change, denoising and noising, different
 * sites; each result equals the naive loop over that prompt alone (a full forward per patch),
 * in the caller's order. A prompt that cannot be patched fails the set with its index. */
static void
test_set (gconstpointer data)
{
  g_autofree char *dir = g_build_filename ("golden", (const char *) data, NULL);
  g_autoptr (StrataModel) m = probe_open (dir);
  StrataEngine *e = probe_engine (m);
  int V = m->weights->cfg.vocab;
  enum { N = 7 };
  static const int lengths[N] = { 6, 4, 6, 6, 9, 4, 6 };
  static const StrataPatchMetric metrics[N] = { STRATA_METRIC_LOGIT_DIFF, STRATA_METRIC_LOGIT_DIFF,
                                                STRATA_METRIC_PROB, STRATA_METRIC_LOGIT_DIFF,
                                                STRATA_METRIC_LOGIT_DIFF, STRATA_METRIC_TOP1_CHANGE,
                                                STRATA_METRIC_LOGIT_DIFF };
  static const StrataPatchSite some[] = { STRATA_PATCH_MLP_OUT, STRATA_PATCH_HEAD };
  StrataPrompt prompts[N];
  StrataTarget targets[N];
  StrataPatchRequest req[N];
  guint32 state = 77;
  for (int i = 0; i < N; i++) {
    prompts[i] = (StrataPrompt) { 0 };
    prompts[i].ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
    prompts[i].corrupt_ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
    for (int q = 0; q < lengths[i]; q++) {
      state = state * 1664525u + 1013904223u;
      int32_t id = (int32_t) ((state >> 8) % (guint32) V), other = (id + 1 + q) % V;
      int32_t corrupt = q == 1 || q == lengths[i] - 2 ? other : id;
      g_array_append_val (prompts[i].ids, id);
      g_array_append_val (prompts[i].corrupt_ids, corrupt);
    }
    targets[i] = (StrataTarget) { (char *) "t", (int32_t) ((state >> 4) % (guint32) V) };
    prompts[i].contrast = (targets[i].id + 3) % V;
    req[i] = (StrataPatchRequest) { &prompts[i], &targets[i],
                                    { all_sites, G_N_ELEMENTS (all_sites), STRATA_PATCH_DENOISE, metrics[i], -1 } };
  }
  req[3].options.direction = STRATA_PATCH_NOISE;
  req[6].options = (StrataPatchOptions) { some, G_N_ELEMENTS (some), STRATA_PATCH_DENOISE, STRATA_METRIC_LOGIT_DIFF, -1 };
  g_autoptr (GError) error = NULL;
  guint failed = 0;
  Progress progress = { 0 };
  g_autoptr (GPtrArray) set = strata_patch_run_set (e, req, N, count_progress, &progress, &failed, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (set->len, ==, N);
  /* Groups by (length, logit difference or not): (4, no) (4, yes) (6, no) (6, yes: three) (9, yes). */
  g_assert_cmpfloat (progress.done, ==, N);
  g_assert_cmpuint (progress.calls, >=, 5); /* at least once per group */
  double worst = 0;
  for (int i = 0; i < N; i++) {
    const StrataPatchResult *r = set->pdata[i];
    g_autoptr (StrataPatchResult) naive = strata_patch_run_naive (e, &prompts[i], &targets[i], &req[i].options, &error);
    g_assert_no_error (error);
    g_assert_cmpint (r->metric, ==, metrics[i]);
    g_assert_cmpint (r->direction, ==, req[i].options.direction);
    g_assert_cmpuint (r->clean_ids->len, ==, (guint) lengths[i]);
    /* The unpatched runs of a group are one pass over its prompts: rounding may differ. */
    g_assert_cmpfloat (fabs (r->baseline_clean - naive->baseline_clean), <=, 1e-5 * MAX (1.0, fabs (naive->baseline_clean)));
    g_assert_cmpfloat (fabs (r->baseline_corrupt - naive->baseline_corrupt), <=,
                       1e-5 * MAX (1.0, fabs (naive->baseline_corrupt)));
    worst = MAX (worst, probe_patch_difference (r, naive));
  }
  g_test_message ("%s: %d prompts swept together vs the naive loop, largest relative difference %.3g",
                  (const char *) data, N, worst);
  g_assert_cmpfloat (worst, <=, 1e-5);

  /* With little memory free, each prompt is a group of its own (the groups' runs take at most
   * an eighth of it), and the results stay those of the naive loop. */
  g_setenv ("STRATA_MEMORY_LIMIT", "100000", TRUE);
  progress = (Progress) { 0 };
  g_autoptr (GPtrArray) alone = strata_patch_run_set (e, req, N, count_progress, &progress, &failed, &error);
  g_unsetenv ("STRATA_MEMORY_LIMIT");
  g_assert_no_error (error);
  g_assert_cmpfloat (progress.done, ==, N);
  g_assert_cmpuint (progress.calls, >=, N);
  for (int i = 0; i < N; i++)
    g_assert_cmpfloat (probe_patch_difference (alone->pdata[i], set->pdata[i]), <=, 1e-5);

  /* A prompt whose corrupted input has another length: the set fails naming it. */
  g_array_set_size (prompts[4].corrupt_ids, 3);
  g_assert_null (strata_patch_run_set (e, req, N, NULL, NULL, &failed, &error));
  g_assert_cmpuint (failed, ==, 4);
  g_assert_nonnull (strstr (error->message, "differ in length"));
  for (int i = 0; i < N; i++)
    g_array_unref (prompts[i].ids), g_array_unref (prompts[i].corrupt_ids);
  strata_engine_free (e);
}

/* Bit-identical maps: the same engine after a cancelled sweep computes what it did before. */
static void
assert_same_maps (const StrataPatchResult *a, const StrataPatchResult *b)
{
  g_assert_cmpuint (a->maps->len, ==, b->maps->len);
  for (guint i = 0; i < a->maps->len; i++) {
    const StrataPatchMap *x = a->maps->pdata[i], *y = b->maps->pdata[i];
    g_assert_cmpint (x->rows * x->cols, ==, y->rows * y->cols);
    g_assert_cmpmem (x->metric, x->rows * x->cols * sizeof (double), y->metric, y->rows * y->cols * sizeof (double));
  }
}

static Progress sweep_progress; /* of the last fast sweep() */

static StrataPatchResult *
sweep (StrataEngine *e, const StrataPrompt *p, gboolean naive, GError **error)
{
  static const StrataPatchSite sites[] = { STRATA_PATCH_RESID_PRE, STRATA_PATCH_ATTN_OUT, STRATA_PATCH_MLP_OUT,
                                           STRATA_PATCH_HEAD };
  StrataPatchOptions o = { sites, G_N_ELEMENTS (sites), STRATA_PATCH_DENOISE, STRATA_METRIC_LOGIT_DIFF, -1 };
  const StrataTarget *t = &g_array_index (p->targets, StrataTarget, 0);
  if (naive)
    return strata_patch_run_naive (e, p, t, &o, error);
  StrataPatchRequest q = { p, t, o };
  guint failed;
  sweep_progress = (Progress) { 0 };
  g_autoptr (GPtrArray) one = strata_patch_run_set (e, &q, 1, count_progress, &sweep_progress, &failed, error);
  if (one)
    g_assert_cmpfloat (sweep_progress.done, ==, 1.0);
  return one ? g_ptr_array_steal_index (one, 0) : NULL;
}

/* The engine's abort function says stop at its k-th call, for k from the first check of the
 * two unpatched runs to the last of the patched passes: the sweep fails with
 * G_IO_ERROR_CANCELLED (not a failed pass) after at most one layer's worth of matrix
 * products (counted by wrapping the CPU backend), and the same engine, its abort function
 * removed, then computes the sweep it computed before, bit for bit. The fast sweep's prompt
 * is long enough for several chunks of patched passes. */
static void
test_cancel (gconstpointer data)
{
  gboolean naive = GPOINTER_TO_INT (data);
  g_autoptr (StrataModel) m = probe_open ("stories260K/stories260K.bin");
  StrataEngine *e = counting_engine (m->weights);
  g_autoptr (GError) error = NULL;
  const char *rest = naive ? " went to the park. She"
                           : " went to the park. She saw a big dog and a small cat. They played with a red ball all "
                             "day long. Then she";
  g_autoptr (StrataPromptSet) set = probe_lily_and_tim (m, rest);
  const StrataPrompt *p = set->prompts->pdata[0];

  counting_reset (0);
  strata_engine_set_abort (e, counting_abort_cb, NULL);
  g_autoptr (StrataPatchResult) before = sweep (e, p, naive, &error);
  g_assert_no_error (error);
  guint checks = counting.abort_calls, layer = counting_layer_work ();
  int L = m->weights->cfg.n_layers;
  g_test_message ("%s sweep, T = %u: %u abort checks, %u products, at most %u between two checks",
                  naive ? "naive" : "fast", p->ids->len, checks, counting.linear_calls, layer);
  g_assert_cmpuint (checks, >, 2 * L + 2 * L); /* the patched passes ask, not only the two unpatched runs */
  g_assert_cmpuint (layer, >, 0);

  guint stops[] = { 1, L + 1, 2 * L + 1, 2 * L + 2, checks / 3, checks / 2, checks - 1, checks };
  for (guint i = 0; i < G_N_ELEMENTS (stops); i++) {
    counting_reset (stops[i]);
    g_autoptr (StrataPatchResult) r = sweep (e, p, naive, &error);
    g_assert_null (r);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error (&error);
    g_assert_cmpuint (counting.abort_calls, >=, stops[i]);
    g_test_message ("stop at check %u: %u products after it (a layer: %u)", stops[i],
                    counting.linear_calls - counting.linear_at_stop, layer);
    g_assert_cmpuint (counting.linear_calls - counting.linear_at_stop, <=, layer);
  }

  strata_engine_set_abort (e, NULL, NULL);
  g_assert_cmpint (strata_engine_should_abort (e), ==, 0);
  counting_reset (0);
  g_autoptr (StrataPatchResult) after = sweep (e, p, naive, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (counting.abort_calls, ==, 0);
  assert_same_maps (before, after);
  g_clear_pointer (&counting.linear_at_abort, g_array_unref);
  strata_engine_free (e);
}

/* The sweep sizes its chunks of patched passes to the memory the backend has free
 * (STRATA_MEMORY_LIMIT lowers it): under a limit that a single chunk of the whole sweep would
 * exceed, it runs more, smaller chunks (more matrix products, counted on the CPU backend) and
 * gives the same maps up to float32 rounding (1e-4, as against the goldens); under a limit below one pass it fails, saying
 * how many bytes were needed and how many were free. */
static void
test_memory_bounded (void)
{
  g_autoptr (StrataModel) m = probe_open ("stories260K/stories260K.bin");
  StrataEngine *e = counting_engine (m->weights);
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataPromptSet) set
    = probe_lily_and_tim (m, " went to the park. She saw a big dog and a small cat. They played with a red ball all day. She");
  const StrataPrompt *p = set->prompts->pdata[0];

  counting_reset (0);
  g_autoptr (StrataPatchResult) free_run = sweep (e, p, FALSE, &error);
  g_assert_no_error (error);
  guint products = counting.linear_calls;
  strata_engine_free (e);

  const char *limits[] = { "2000000", "500000", "200000" };
  guint last = products;
  for (guint i = 0; i < G_N_ELEMENTS (limits); i++) {
    e = counting_engine (m->weights);
    g_setenv ("STRATA_MEMORY_LIMIT", limits[i], TRUE);
    counting_reset (0);
    g_autoptr (StrataPatchResult) bounded = sweep (e, p, FALSE, &error);
    g_unsetenv ("STRATA_MEMORY_LIMIT");
    g_assert_no_error (error);
    double rel = probe_patch_difference (free_run, bounded);
    g_test_message ("T = %u, limit %s bytes: %u products (%u unbounded), %u progress reports, largest relative "
                    "difference %.3g", p->ids->len, limits[i], counting.linear_calls, products, sweep_progress.calls, rel);
    g_assert_cmpuint (counting.linear_calls, >, last);
    /* Smaller chunks: the sweep of one prompt reports its progress within it. */
    g_assert_cmpuint (sweep_progress.calls, >, 1);
    g_assert_cmpfloat (rel, <=, 1e-4);
    last = counting.linear_calls;
    strata_engine_free (e);
  }

  e = counting_engine (m->weights);
  g_setenv ("STRATA_MEMORY_LIMIT", "1000", TRUE);
  g_autoptr (StrataPatchResult) none = sweep (e, p, FALSE, &error);
  g_unsetenv ("STRATA_MEMORY_LIMIT");
  g_assert_null (none);
  g_assert_nonnull (error);
  g_test_message ("limit 1000 bytes: %s", error->message);
  g_assert_nonnull (strstr (error->message, "bytes"));
  g_assert_nonnull (strstr (error->message, "1000 bytes"));
  g_assert_nonnull (strstr (error->message, "free"));
  g_clear_pointer (&counting.linear_at_abort, g_array_unref);
  strata_engine_free (e);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/probes/patching/golden/gpt2", "gpt2", check_golden);
  g_test_add_data_func ("/probes/patching/golden/llama", "llama", check_golden);
  g_test_add_func ("/probes/patching/attribution/golden", check_attribution_golden);
  g_test_add_func ("/probes/patching/agreement", test_agreement);
  g_test_add_func ("/probes/patching/invariants", test_invariants);
  g_test_add_func ("/probes/patching/stories260K", test_stories);
  /* GPT-NeoX: parallel attention and MLP, partial rotary; Gemma 2: post-norms, soft-caps and
   * a window (4) shorter than the prompt on layers 0 and 2; OLMo-2: no pre-norms, whole q/k
   * norms; Qwen3: per-head q/k norms; Phi-3: split fused projections. */
  g_test_add_data_func ("/probes/patching/neox", "neox", sweep_golden);
  g_test_add_data_func ("/probes/patching/gemma2-window", "gemma2-window", sweep_golden);
  g_test_add_data_func ("/probes/patching/olmo2-postnorm", "olmo2-postnorm", sweep_golden);
  g_test_add_data_func ("/probes/patching/qwen3-qknorm", "qwen3-qknorm", sweep_golden);
  g_test_add_data_func ("/probes/patching/phi3-fused", "phi3-fused", sweep_golden);
  g_test_add_data_func ("/probes/patching/set/gpt2", "gpt2", test_set);
  g_test_add_data_func ("/probes/patching/set/llama-gqa", "llama-gqa", test_set);
  g_test_add_data_func ("/probes/patching/set/gemma2-window", "gemma2-window", test_set);
  g_test_add_func ("/probes/patching/errors", test_errors);
  g_test_add_data_func ("/probes/patching/cancel/fast", GINT_TO_POINTER (FALSE), test_cancel);
  g_test_add_data_func ("/probes/patching/cancel/naive", GINT_TO_POINTER (TRUE), test_cancel);
  g_test_add_func ("/probes/patching/memory-bounded", test_memory_bounded);
  return g_test_run ();
}
