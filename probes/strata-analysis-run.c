/* strata-analysis-run.c: the analysis pipeline (see the header for what runs in which order). */
#include "strata-analysis-run.h"

#include <string.h>

#include "strata-probes-private.h"

typedef struct {
  StrataEngine *e;
  StrataModel *m;
  const StrataAnalysisRequest *req;
  StrataAnalysisReport *report;
  StrataAnalysis *a;
  guint units;               /* progress: one unit per prompt and step, one for the attention */
  double done;               /* units done, fractional within a patching sweep */
  int first_patched;         /* index of the first patched prompt, -1 none */
  double patch_start;        /* units done when the patching sweep began */
} Run;

static void
report (Run *run)
{
  if (run->req->progress)
    run->req->progress (run->units ? MIN (1.0, run->done / run->units) : 1.0, run->req->progress_data);
}

static void
step (Run *run)
{
  run->done++;
  report (run);
}

/* A probe of prompt n failed: its error, named after the prompt unless it was cancelled. */
static gboolean
fail_at (GError **error, GError *local, const char *prefix, guint n)
{
  if (!g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_prefix_error (&local, prefix, n);
  g_propagate_error (error, local);
  return FALSE;
}

/* The target `req->patch_target` names in prompt `p`: a target of that name, else the token
 * as written (resolved once into `written`). NULL with the error set; NULL and no error when
 * there is none to patch. */
static const StrataTarget *
target_for (Run *run, const StrataPrompt *p, StrataTarget *written, GError **error)
{
  const char *name = run->req->patch_target;
  if (!name)
    return p->targets && p->targets->len > 0 ? &g_array_index (p->targets, StrataTarget, 0) : NULL;
  for (guint j = 0; p->targets && j < p->targets->len; j++)
    if (strcmp (g_array_index (p->targets, StrataTarget, j).name, name) == 0)
      return &g_array_index (p->targets, StrataTarget, j);
  if (written->id < 0) {
    g_autofree char *what = g_strdup_printf ("target '%s' (no prompt target of that name)", name);
    if (!strata_resolve_token (run->m, name, what, &written->id, error))
      return NULL;
  }
  return written;
}

/* Progress of a set's sweep: one unit per prompt, in part as a group's cells are swept. */
static void
patch_progress (double n_done, gpointer data)
{
  Run *run = data;
  run->done = run->patch_start + n_done;
  report (run);
}

/* Results of `method` for every request, in order: the fast sweep runs the whole set (prompts
 * of equal length share passes); the naive loop and attribution patching go prompt by prompt.
 * Request k is prompt prompt_of[k]; an error names it after `prefix`. */
static GPtrArray *
patch_requests (Run *run, StrataPatchMethod method, const StrataPatchRequest *requests, const guint *prompt_of,
                guint n, const char *prefix, gboolean progress, GError **error)
{
  GError *local = NULL;
  if (method == STRATA_PATCH_EXACT && !run->req->patch_naive) {
    guint failed;
    run->patch_start = run->done;
    GPtrArray *results = strata_patch_run_set (run->e, requests, n, progress ? patch_progress : NULL, run, &failed,
                                               &local);
    if (!results && failed == G_MAXUINT)
      g_propagate_error (error, local);
    else if (!results)
      fail_at (error, local, prefix, prompt_of[failed] + 1);
    return results;
  }
  g_autoptr (GPtrArray) results = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_patch_result_free);
  for (guint k = 0; k < n; k++) {
    if (g_cancellable_set_error_if_cancelled (run->req->cancellable, error))
      return NULL;
    const StrataPatchRequest *q = &requests[k];
    StrataPatchResult *r = method == STRATA_PATCH_ATTRIBUTION
                               ? strata_patch_run_attribution (run->e, q->prompt, q->target, &q->options, &local)
                               : strata_patch_run_naive (run->e, q->prompt, q->target, &q->options, &local);
    if (!r) {
      fail_at (error, local, prefix, prompt_of[k] + 1);
      return NULL;
    }
    g_ptr_array_add (results, r);
    if (progress)
      step (run);
  }
  return g_steal_pointer (&results);
}

static gboolean
run_patching (Run *run, GError **error)
{
  const StrataAnalysisRequest *req = run->req;
  StrataAnalysis *a = run->a;
  StrataTarget written = { (char *) req->patch_target, -1 };
  guint n_prompts = a->prompts->prompts->len;
  g_autofree StrataPatchRequest *requests = g_new (StrataPatchRequest, n_prompts ? n_prompts : 1);
  g_autofree guint *prompt_of = g_new (guint, n_prompts ? n_prompts : 1);
  guint n = 0;
  for (guint i = 0; i < n_prompts; i++) {
    const StrataPrompt *p = a->prompts->prompts->pdata[i];
    const StrataTarget *t = NULL;
    if (p->corrupt_ids || !req->patch_skip_incomplete) {
      GError *local = NULL;
      if (!(t = target_for (run, p, &written, &local)) && local) {
        g_propagate_error (error, local);
        return FALSE;
      }
    }
    if (!t && req->patch_skip_incomplete) {
      step (run);
      continue;
    }
    if (!t) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "prompt %u: the prompt has no target to patch",
                   i + 1);
      return FALSE;
    }
    requests[n] = (StrataPatchRequest) { p, t, req->patch_options };
    if (req->patch_metric_by_contrast)
      requests[n].options.metric = p->contrast >= 0 ? STRATA_METRIC_LOGIT_DIFF : STRATA_METRIC_PROB;
    prompt_of[n++] = i;
  }
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (GPtrArray) results = patch_requests (run, req->patch_method, requests, prompt_of, n, "prompt %u: ", TRUE, error);
  if (!results)
    return FALSE;
  gint64 t1 = g_get_monotonic_time ();
  gboolean compare = req->patch_agreement && req->patch_method != STRATA_PATCH_EXACT;
  g_autoptr (GPtrArray) exact =
      compare ? patch_requests (run, STRATA_PATCH_EXACT, requests, prompt_of, n, "prompt %u (real patching): ", FALSE,
                                error)
              : NULL;
  if (compare && !exact)
    return FALSE;
  a->patch_results = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_patch_result_free);
  for (guint k = 0; k < n; k++) {
    StrataPatchResult *r = g_steal_pointer (&results->pdata[k]);
    if (r->small_gap && run->report)
      g_ptr_array_add (run->report->warnings,
                       g_strdup_printf ("prompt %u: |M_clean - M_corrupt| = %.3g is tiny; scores are not meaningful",
                                        prompt_of[k] + 1, r->baseline_clean - r->baseline_corrupt));
    if (run->first_patched < 0)
      run->first_patched = (int) prompt_of[k];
    g_ptr_array_add (a->patch_results, r);
  }
  if (run->report) {
    run->report->patch_seconds = (t1 - t0) / 1e6;
    run->report->exact_seconds = (g_get_monotonic_time () - t1) / 1e6;
    if (exact)
      run->report->agreement = strata_patch_agreement ((const StrataPatchResult *const *) a->patch_results->pdata,
                                                       (const StrataPatchResult *const *) exact->pdata, exact->len);
  }
  if (a->patch_results->len == 0 && req->patch_skip_incomplete) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "Patching needs a corrupted prompt (same number of tokens) and at least one target.");
    return FALSE;
  }
  a->patch_aggregates = strata_patch_aggregate (a->prompts, a->patch_results);
  return TRUE;
}

static void
lens_partial_cb (guint index, const StrataLensResult *partial, int rows_done, gpointer data)
{
  Run *run = data;
  run->req->lens_partial (index, partial, rows_done, run->req->lens_partial_data);
}

static void
lens_done_cb (guint index, gpointer data)
{
  step (data);
}

static gboolean
run_lens (Run *run, GError **error)
{
  const StrataAnalysisRequest *req = run->req;
  StrataAnalysis *a = run->a;
  a->has_lens = TRUE;
  a->lens_options = req->lens_options;
  if (req->lens_options.n_candidates > 0) {
    a->lens_candidates = g_array_sized_new (FALSE, FALSE, sizeof (int32_t), (guint) req->lens_options.n_candidates);
    g_array_append_vals (a->lens_candidates, req->lens_options.candidates, (guint) req->lens_options.n_candidates);
    a->lens_options.candidates = (const int32_t *) a->lens_candidates->data;
  } else {
    a->lens_options.candidates = NULL;
    a->lens_options.n_candidates = 0;
  }
  if (g_cancellable_set_error_if_cancelled (req->cancellable, error))
    return FALSE;
  /* Prompts of equal length share passes (a two-hop set: all of them); a prompt alone fills in
   * chunk by chunk for the window. */
  StrataLensSetOptions set = { req->lens_partial ? lens_partial_cb : NULL, lens_done_cb, run, 0 };
  GError *local = NULL;
  guint failed;
  a->lens_results = strata_lens_run_set (run->e, run->m, a->prompts->prompts, &a->lens_options, &set, &failed, &local);
  if (!a->lens_results) {
    if (failed == G_MAXUINT || g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      g_propagate_error (error, local);
      return FALSE;
    }
    return fail_at (error, local, req->patch ? "prompt %u (lens): " : "prompt %u: ", failed + 1);
  }
  a->lens_aggregates = strata_lens_aggregate (a->prompts, a->lens_results);
  return TRUE;
}

/* The attention of the first prompt, unless it would pass the cap (then a note says so). */
static gboolean
run_attention (Run *run, GError **error)
{
  const StrataAnalysisRequest *req = run->req;
  if (g_cancellable_set_error_if_cancelled (req->cancellable, error))
    return FALSE;
  const StrataPrompt *p = run->a->prompts->prompts->pdata[0];
  const StrataConfig *g = strata_engine_get_config (run->e);
  gsize T = p->ids->len;
  gsize cap = req->attention_max_floats ? req->attention_max_floats : STRATA_ANALYSIS_MAX_ATTENTION_FLOATS;
  if ((gsize) g->n_layers * g->n_heads * T * T > cap) {
    if (run->report)
      run->report->attention_note =
        g_strdup_printf ("the prompt is too long to keep its attention pattern (%zu tokens)", T);
  } else if (!(run->a->attention = strata_attention_run (run->e, p, error))) {
    return FALSE;
  }
  step (run);
  return TRUE;
}

static gboolean
run_all (Run *run, GError **error)
{
  const StrataAnalysisRequest *req = run->req;
  StrataAnalysis *a = run->a;
  if (req->patch && !run_patching (run, error))
    return FALSE;
  if (req->lens && !run_lens (run, error))
    return FALSE;
  if (run->first_patched >= 0) {
    const StrataLensResult *lens = a->has_lens ? a->lens_results->pdata[run->first_patched] : NULL;
    a->circuit = strata_circuit_extract (a->patch_results->pdata[0], lens, STRATA_ANALYSIS_CIRCUIT_THRESHOLD);
  }
  if (req->attention && a->prompts->prompts->len > 0 && !run_attention (run, error))
    return FALSE;
  /* Cancelled during the last pass, which ran to its end: still cancelled, so that a caller
   * that asked to stop never receives new results. */
  return !g_cancellable_set_error_if_cancelled (req->cancellable, error);
}

void
strata_analysis_request_init (StrataAnalysisRequest *req)
{
  *req = (StrataAnalysisRequest) { 0 };
  req->lens = TRUE;
  req->lens_options = (StrataLensOptions) { STRATA_ANALYSIS_TOPK, FALSE, 0.5, NULL, 0 };
  req->patch_options = (StrataPatchOptions) { NULL, 0, STRATA_PATCH_DENOISE, STRATA_METRIC_LOGIT_DIFF, -1 };
}

void
strata_analysis_report_clear (StrataAnalysisReport *report)
{
  g_clear_pointer (&report->warnings, g_ptr_array_unref);
  g_clear_pointer (&report->attention_note, g_free);
  g_clear_pointer (&report->agreement, g_array_unref);
  report->patch_seconds = report->exact_seconds = 0;
}

/* The device as sessions, JSON and captions record it: the backend's name, and the precision
 * when products are not exact fp32 ("cuda (bf16 products)"). */
static char *
device_record (StrataEngine *engine)
{
  const char *name = strata_engine_get_backend (engine)->name;
  StrataPrecision p = strata_engine_get_precision (engine);
  if (p == STRATA_PRECISION_FP32)
    return g_strdup (name);
  return g_strdup_printf ("%s (%s products)", name, strata_precision_to_string (p));
}

StrataAnalysis *
strata_analysis_run (StrataEngine *engine, StrataModel *model, StrataPromptSet *prompts,
                     const StrataAnalysisRequest *req, StrataAnalysisReport *report, GError **error)
{
  g_autoptr (StrataAnalysis) a = strata_analysis_new (model);
  a->prompts = prompts;
  g_free (a->model.device);
  a->model.device = device_record (engine);
  if (report) {
    strata_analysis_report_clear (report);
    report->warnings = g_ptr_array_new_with_free_func (g_free);
  }
  guint n = prompts->prompts->len;
  Run run = { engine, model, req, report, a, (req->patch ? n : 0) + (req->lens ? n : 0) + (req->attention ? 1 : 0),
              0, -1, 0 };
  if (req->cancellable)
    strata_engine_set_abort (engine, _strata_probe_cancelled_cb, req->cancellable);
  gboolean ok = run_all (&run, error);
  if (req->cancellable)
    strata_engine_set_abort (engine, NULL, NULL);
  return ok ? g_steal_pointer (&a) : NULL;
}
