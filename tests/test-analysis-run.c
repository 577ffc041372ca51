/* test-analysis-run: the analysis pipeline the window and `strata lens|patch` share
 * (probes/strata-analysis-run.h): the same numbers as the probes called one by one, which
 * prompts it patches, its notes, its progress and lens chunk hook, and a GCancellable that stops a patching
 * sweep or a lens within one layer and leaves the engine as it was. */
#include <math.h>
#include <string.h>

#include "counting-backend.h"
#include "strata-analysis-run.h"
#include "strata-data-error.h"
#include "test-probe-util.h"

static const StrataPatchSite sites[] = { STRATA_PATCH_RESID_PRE, STRATA_PATCH_ATTN_OUT, STRATA_PATCH_MLP_OUT,
                                         STRATA_PATCH_HEAD };

/* Two prompts of stories260K; the second has no corrupted input. */
static StrataPromptSet *
two_prompts (StrataModel *m)
{
  return probe_prompt_set (m,
    "{\"prompt\": \"Lily went to the park. She\", \"corrupt\": \"Tim went to the park. She\", "
    "\"targets\": {\"s\": \" She\"}, \"contrast\": \" He\", \"tags\": [\"a\"]}\n"
    "{\"prompt\": \"Tim went to the park. He\", \"targets\": {\"s\": \" He\"}}\n");
}

typedef struct {
  GArray *fractions; /* double */
} Progress;

static void
progress_cb (double fraction, gpointer data)
{
  Progress *p = data;
  g_array_append_val (p->fractions, fraction);
}

/* (prompt index, rows done) per call of the lens's chunk hook. */
static void
lens_partial_cb (guint index, const StrataLensResult *partial, int rows_done, gpointer data)
{
  int call[2] = { (int) index, rows_done };
  g_array_append_vals (data, call, 2);
}

static void
assert_same_patch (const StrataPatchResult *a, const StrataPatchResult *b)
{
  g_assert_cmpuint (a->maps->len, ==, b->maps->len);
  g_assert_cmpfloat (a->baseline_clean, ==, b->baseline_clean);
  g_assert_cmpfloat (a->baseline_corrupt, ==, b->baseline_corrupt);
  for (guint i = 0; i < a->maps->len; i++) {
    const StrataPatchMap *x = a->maps->pdata[i], *y = b->maps->pdata[i];
    g_assert_cmpint (x->site, ==, y->site);
    g_assert_cmpmem (x->score, x->rows * x->cols * sizeof (double), y->score, y->rows * y->cols * sizeof (double));
  }
}

/* A lens result from a shared pass against the same prompt's own pass: the same top-k ids
 * and ranks (the model's logits are far apart compared with the rounding of products over
 * more rows), probabilities within 1e-5. */
static void
assert_same_lens (const StrataLensResult *r, const StrataLensResult *direct)
{
  g_assert_cmpint (r->T, ==, direct->T);
  gsize n = (gsize) (r->n_layers + 1) * r->T * r->topk, cells = (gsize) (r->n_layers + 1) * r->T;
  g_assert_cmpmem (r->topk_ids, n * sizeof (int32_t), direct->topk_ids, n * sizeof (int32_t));
  for (gsize i = 0; i < n; i++)
    g_assert_cmpfloat (fabsf (r->topk_prob[i] - direct->topk_prob[i]), <=, 1e-5);
  g_assert_cmpuint (r->targets->len, ==, direct->targets->len);
  for (guint j = 0; j < r->targets->len; j++) {
    const StrataLensTarget *a = r->targets->pdata[j], *b = direct->targets->pdata[j];
    g_assert_cmpmem (a->rank, cells * sizeof (int32_t), b->rank, cells * sizeof (int32_t));
    g_assert_cmpmem (a->resolution, r->T * sizeof (int32_t), b->resolution, r->T * sizeof (int32_t));
    for (gsize i = 0; i < cells; i++)
      g_assert_cmpfloat (fabsf (a->prob[i] - b->prob[i]), <=, 1e-5);
  }
}

/* The window's request on a set where one prompt has no corrupted input: every prompt gets
 * its lens (top-k 10), the one with a corrupted input its patching, the circuit and the
 * attention come from the first prompt, and each equals the probe called directly. */
static void
test_matches_probes (void)
{
  g_autoptr (StrataModel) m = probe_open ("stories260K/stories260K.bin");
  StrataEngine *e = probe_engine (m);
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataPromptSet) mine = two_prompts (m);
  Progress progress = { g_array_new (FALSE, FALSE, sizeof (double)) };
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  StrataAnalysisRequest req;
  strata_analysis_request_init (&req);
  req.patch = req.attention = TRUE;
  req.patch_options = (StrataPatchOptions) { sites, G_N_ELEMENTS (sites), STRATA_PATCH_DENOISE,
                                             STRATA_METRIC_LOGIT_DIFF, -1 };
  req.patch_metric_by_contrast = req.patch_skip_incomplete = TRUE;
  req.progress = progress_cb;
  req.progress_data = &progress;
  g_autoptr (GArray) partials = g_array_new (FALSE, FALSE, sizeof (int));
  req.lens_partial = lens_partial_cb;
  req.lens_partial_data = partials;
  req.cancellable = cancellable;
  g_auto (StrataAnalysisReport) report = { 0 };
  g_autoptr (StrataAnalysis) a = strata_analysis_run (e, m, two_prompts (m), &req, &report, &error);
  g_assert_no_error (error);
  g_assert_cmpint (strata_engine_should_abort (e), ==, 0);

  g_assert_true (a->has_lens);
  g_assert_cmpint (a->lens_options.topk, ==, 10);
  g_assert_cmpuint (a->lens_results->len, ==, 2);
  g_assert_nonnull (a->lens_aggregates);
  g_assert_cmpuint (a->patch_results->len, ==, 1);
  g_assert_nonnull (a->patch_aggregates);
  /* Both prompts have 7 tokens: they share one pass, which reports no chunks (only a prompt
   * that runs alone fills in chunk by chunk; lens-batches below). */
  g_assert_cmpuint (((StrataPrompt *) mine->prompts->pdata[0])->ids->len, ==,
                    ((StrataPrompt *) mine->prompts->pdata[1])->ids->len);
  g_assert_cmpuint (partials->len, ==, 0);
  for (guint i = 0; i < 2; i++) {
    g_autoptr (StrataLensResult) direct = strata_lens_run (e, m, mine->prompts->pdata[i], &a->lens_options, &error);
    g_assert_no_error (error);
    g_assert_cmpint (((StrataLensResult *) a->lens_results->pdata[i])->topk, ==, 10);
    assert_same_lens (a->lens_results->pdata[i], direct);
  }
  const StrataPrompt *p0 = mine->prompts->pdata[0];
  StrataPatchOptions o = req.patch_options;
  g_autoptr (StrataPatchResult) direct = strata_patch_run (e, p0, &g_array_index (p0->targets, StrataTarget, 0), &o,
                                                           &error);
  g_assert_no_error (error);
  const StrataPatchResult *pr = a->patch_results->pdata[0];
  g_assert_cmpint (pr->metric, ==, STRATA_METRIC_LOGIT_DIFF); /* the prompt has a contrast */
  assert_same_patch (pr, direct);
  g_assert_false (pr->small_gap);
  g_assert_cmpuint (report.warnings->len, ==, 0);
  g_assert_cmpfloat (report.patch_seconds, >, 0);

  g_autoptr (StrataCircuit) circ = strata_circuit_extract (direct, a->lens_results->pdata[0], 0.1);
  g_assert_nonnull (a->circuit);
  g_assert_cmpfloat (a->circuit->threshold, ==, STRATA_ANALYSIS_CIRCUIT_THRESHOLD);
  g_assert_cmpuint (a->circuit->nodes->len, ==, circ->nodes->len);
  for (guint i = 0; i < circ->nodes->len; i++) { /* field by field: a node's padding is not a value */
    const StrataCircuitNode *x = &g_array_index (a->circuit->nodes, StrataCircuitNode, i);
    const StrataCircuitNode *y = &g_array_index (circ->nodes, StrataCircuitNode, i);
    g_assert_cmpint (x->kind, ==, y->kind);
    g_assert_cmpint (x->layer, ==, y->layer);
    g_assert_cmpint (x->pos, ==, y->pos);
    g_assert_cmpint (x->head, ==, y->head);
    g_assert_cmpfloat (x->effect, ==, y->effect);
    g_assert_cmpfloat (x->lens_prob, ==, y->lens_prob);
    g_assert_cmpint (x->decodes, ==, y->decodes);
  }

  g_autoptr (StrataAttention) att = strata_attention_run (e, p0, &error);
  g_assert_nonnull (a->attention);
  g_assert_null (report.attention_note);
  gsize floats = (gsize) att->n_layers * att->n_heads * att->T * att->T;
  g_assert_cmpint (a->attention->T, ==, att->T);
  g_assert_cmpmem (a->attention->pattern, floats * sizeof (float), att->pattern, floats * sizeof (float));

  /* 2 patching steps, 2 lens, 1 attention: non-decreasing, ending at 1. */
  g_assert_cmpuint (progress.fractions->len, ==, 5);
  for (guint i = 1; i < progress.fractions->len; i++)
    g_assert_cmpfloat (g_array_index (progress.fractions, double, i), >=,
                       g_array_index (progress.fractions, double, i - 1));
  g_assert_cmpfloat (g_array_index (progress.fractions, double, progress.fractions->len - 1), ==, 1.0);
  g_array_unref (progress.fractions);
  strata_engine_free (e);
}

/* The CLI's request: every prompt must be patchable (an error names the prompt), the target
 * is named, and the lens runs only when asked. */
static void
test_cli_rules (void)
{
  g_autoptr (StrataModel) m = probe_open ("stories260K/stories260K.bin");
  StrataEngine *e = probe_engine (m);
  g_autoptr (GError) error = NULL;
  StrataAnalysisRequest req;
  strata_analysis_request_init (&req);
  req.lens = FALSE;
  req.patch = TRUE;
  req.patch_options = (StrataPatchOptions) { sites, 1, STRATA_PATCH_DENOISE, STRATA_METRIC_LOGIT_DIFF, -1 };
  req.patch_target = "s";
  g_auto (StrataAnalysisReport) report = { 0 };
  g_assert_null (strata_analysis_run (e, m, two_prompts (m), &req, &report, &error));
  g_assert_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT);
  g_assert_true (g_str_has_prefix (error->message, "prompt 2: "));
  g_assert_nonnull (strstr (error->message, "no corrupted input"));
  g_clear_error (&error);

  /* Clean equal to corrupted: a warning naming the prompt, no lens, no attention. */
  const char *const targets[] = { " She", NULL };
  StrataPromptSet *same = strata_prompt_set_new_single (m, "Lily went.", NULL, 0, "Lily went.", targets, " He",
                                                        &error);
  g_assert_no_error (error);
  req.patch_target = " She";
  g_autoptr (StrataAnalysis) a = strata_analysis_run (e, m, same, &req, &report, &error);
  g_assert_no_error (error);
  g_assert_false (a->has_lens);
  g_assert_null (a->lens_results);
  g_assert_null (a->attention);
  g_assert_nonnull (a->circuit);
  g_assert_cmpuint (report.warnings->len, ==, 1);
  g_assert_cmpstr (report.warnings->pdata[0], ==, "prompt 1: |M_clean - M_corrupt| = 0 is tiny; scores are not "
                                                  "meaningful");
  strata_engine_free (e);
}

/* Above the cap the attention pattern is not kept and the report says why. */
static void
test_attention_cap (void)
{
  g_autoptr (StrataModel) m = probe_open ("stories260K/stories260K.bin");
  StrataEngine *e = probe_engine (m);
  g_autoptr (GError) error = NULL;
  StrataAnalysisRequest req;
  strata_analysis_request_init (&req);
  req.attention = TRUE;
  const StrataConfig *g = &m->weights->cfg;
  g_autoptr (StrataPromptSet) probe = two_prompts (m);
  gsize T = ((StrataPrompt *) probe->prompts->pdata[0])->ids->len;
  req.attention_max_floats = (gsize) g->n_layers * g->n_heads * T * T; /* exactly fits */
  g_auto (StrataAnalysisReport) fits = { 0 };
  g_autoptr (StrataAnalysis) a = strata_analysis_run (e, m, two_prompts (m), &req, &fits, &error);
  g_assert_no_error (error);
  g_assert_nonnull (a->attention);
  g_assert_null (fits.attention_note);
  req.attention_max_floats--;
  g_auto (StrataAnalysisReport) over = { 0 };
  g_autoptr (StrataAnalysis) b = strata_analysis_run (e, m, two_prompts (m), &req, &over, &error);
  g_assert_no_error (error);
  g_assert_null (b->attention);
  g_autofree char *note = g_strdup_printf ("the prompt is too long to keep its attention pattern (%zu tokens)", T);
  g_assert_cmpstr (over.attention_note, ==, note);
  strata_engine_free (e);
}

static StrataPromptSet *
long_prompt (StrataModel *m)
{
  return probe_lily_and_tim (m, " went to the park. She saw a big dog and a small cat. They played with a red ball. "
                                "Then she");
}

/* A GCancellable cancelled in the middle of a layer (inside a matrix product) of the
 * patching sweep or of the lens: the run fails with G_IO_ERROR_CANCELLED after at most one
 * layer's worth of products; the pipeline has removed its abort function (the engine no
 * longer asks the cancelled cancellable), and the same engine then computes what it did
 * before. */
static void
test_cancel (gconstpointer data)
{
  gboolean patch = GPOINTER_TO_INT (data);
  g_autoptr (StrataModel) m = probe_open ("stories260K/stories260K.bin");
  StrataEngine *e = counting_engine (m->weights);
  g_autoptr (GError) error = NULL;
  StrataAnalysisRequest req;
  strata_analysis_request_init (&req);
  req.lens = !patch;
  req.patch = patch;
  req.patch_options = (StrataPatchOptions) { sites, G_N_ELEMENTS (sites), STRATA_PATCH_DENOISE,
                                             STRATA_METRIC_LOGIT_DIFF, -1 };

  /* One layer's worth: the most products between two abort checks of the same work. */
  counting_reset (0);
  strata_engine_set_abort (e, counting_abort_cb, NULL);
  g_autoptr (StrataAnalysis) before = strata_analysis_run (e, m, long_prompt (m), &req, NULL, &error);
  g_assert_no_error (error);
  strata_engine_set_abort (e, NULL, NULL);
  guint layer = counting_layer_work (), total = counting.linear_calls;
  g_test_message ("%s: %u products, %u abort checks, at most %u between two", patch ? "patching" : "lens", total,
                  counting.abort_calls, layer);

  /* Cancelled before it starts: no product at all. */
  g_autoptr (GCancellable) done = g_cancellable_new ();
  g_cancellable_cancel (done);
  req.cancellable = done;
  counting_reset (0);
  g_assert_null (strata_analysis_run (e, m, long_prompt (m), &req, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpuint (counting.linear_calls, ==, 0);

  guint at[] = { 2, total / 3, total / 2, total - 2 };
  for (guint i = 0; i < G_N_ELEMENTS (at); i++) {
    g_autoptr (GCancellable) c = g_cancellable_new ();
    req.cancellable = c;
    counting_reset (0);
    counting.cancel = c;
    counting.cancel_at = at[i];
    g_assert_null (strata_analysis_run (e, m, long_prompt (m), &req, NULL, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_error (&error);
    g_test_message ("cancelled in product %u of %u: %u more after it (a layer: %u)", at[i], total,
                    counting.linear_calls - at[i], layer);
    g_assert_cmpuint (counting.linear_calls - at[i], <=, layer);
    g_assert_cmpint (strata_engine_should_abort (e), ==, 0); /* c is still cancelled */
  }

  req.cancellable = NULL;
  counting_reset (0);
  g_autoptr (StrataAnalysis) after = strata_analysis_run (e, m, long_prompt (m), &req, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (counting.linear_calls, ==, total);
  if (patch) {
    assert_same_patch (after->patch_results->pdata[0], before->patch_results->pdata[0]);
  } else {
    const StrataLensResult *x = after->lens_results->pdata[0], *y = before->lens_results->pdata[0];
    gsize n = (gsize) (x->n_layers + 1) * x->T * x->topk;
    g_assert_cmpmem (x->topk_prob, n * sizeof (float), y->topk_prob, n * sizeof (float));
  }
  g_clear_pointer (&counting.linear_at_abort, g_array_unref);
  strata_engine_free (e);
}

/* Prompts of lengths 3, 3, 5, 3 (ids) to the two-hop model (trained: its logits are far apart
 * compared with rounding): the three of length 3 share a pass, the one of length 5 runs alone
 * and is the only one to report chunks; results come back in the set's order and each equals
 * its own pass. With a budget of 7 rows per unembedding, every prompt's 21 or 35 rows are cut
 * across chunks (segments of a chunk answering different prompts' targets). */
static void
test_lens_batches (void)
{
  g_autoptr (StrataModel) m = probe_open ("twohop/cot-3000");
  StrataEngine *e = probe_engine (m);
  g_autoptr (StrataPromptSet) set = probe_prompt_set (m,
    "{\"ids\": [2, 325, 325], \"targets\": {\"bridge\": \"#298\", \"answer\": \"#141\"}}\n"
    "{\"ids\": [3, 316, 310], \"targets\": {\"bridge\": \"#152\", \"answer\": \"#171\"}}\n"
    "{\"ids\": [2, 325, 338, 298, 338], \"targets\": {\"bridge\": \"#298\", \"answer\": \"#265\"}}\n"
    "{\"ids\": [3, 317, 330], \"targets\": {\"bridge\": \"#150\", \"answer\": \"#172\"}}\n");
  g_autoptr (GError) error = NULL;
  StrataLensOptions lo = { .topk = 7, .threshold = 0.5 };
  int V = m->weights->cfg.vocab, L1 = m->weights->cfg.n_layers + 1;
  for (int budget = 0; budget < 2; budget++) {
    g_autoptr (GArray) partials = g_array_new (FALSE, FALSE, sizeof (int));
    StrataLensSetOptions so = { lens_partial_cb, NULL, partials, budget ? (size_t) 7 * V * sizeof (float) : 0 };
    guint failed;
    g_autoptr (GPtrArray) results = strata_lens_run_set (e, m, set->prompts, &lo, &so, &failed, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (results->len, ==, 4);
    for (guint i = 0; i < 4; i++) {
      const StrataPrompt *p = set->prompts->pdata[i];
      g_autoptr (StrataLensResult) direct = strata_lens_run (e, m, p, &lo, &error);
      g_assert_no_error (error);
      assert_same_lens (results->pdata[i], direct);
      g_assert_cmpint (((StrataLensTarget *) ((StrataLensResult *) results->pdata[i])->targets->pdata[0])->id, ==,
                       ((StrataLensTarget *) direct->targets->pdata[0])->id);
    }
    /* Only prompt 2 ran alone; its last chunk completes its rows. */
    g_assert_cmpuint (partials->len, >=, 2);
    for (guint c = 0; c < partials->len; c += 2)
      g_assert_cmpint (g_array_index (partials, int, c), ==, 2);
    g_assert_cmpint (g_array_index (partials, int, partials->len - 1), ==, L1 * 5);
    g_assert_cmpuint (partials->len, ==, budget ? 2 * ((L1 * 5 + 6) / 7) : 2);
  }
  strata_engine_free (e);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/probes/analysis-run/matches-probes", test_matches_probes);
  g_test_add_func ("/probes/analysis-run/lens-batches", test_lens_batches);
  g_test_add_func ("/probes/analysis-run/cli-rules", test_cli_rules);
  g_test_add_func ("/probes/analysis-run/attention-cap", test_attention_cap);
  g_test_add_data_func ("/probes/analysis-run/cancel/patching", GINT_TO_POINTER (TRUE), test_cancel);
  g_test_add_data_func ("/probes/analysis-run/cancel/lens", GINT_TO_POINTER (FALSE), test_cancel);
  return g_test_run ();
}
