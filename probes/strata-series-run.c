/* strata-series-run.c: the series pipeline. Checkpoints stream one at a time: open, check its
 * tokenizer against the first, run strata_analysis_run() (the pipeline of `strata lens` and
 * the window) on a copy of the prompt set tokenized once, keep the aggregates and the
 * accuracy, free everything else, mark the checkpoint done. */
#include "strata-series.h"

#include <string.h>

#include "strata-data-error.h"

typedef struct {
  StrataSeries *s;
  const StrataSeriesRequest *req;
  guint n_jobs, job;        /* checkpoints to run, and the one running (progress) */
  const char *first;        /* the checkpoint whose tokenizer the others must have, when known */
  gboolean resumed;         /* a checkpoint was done before: the series keeps its settings */
  gboolean prepared;        /* prepare() ran in this call */
} SeriesRun;

static void
checkpoint_progress_cb (double fraction, gpointer data)
{
  SeriesRun *sr = data;
  if (sr->req->progress && sr->n_jobs)
    sr->req->progress (MIN (1.0, (sr->job + fraction) / sr->n_jobs), sr->req->progress_data);
}

/* "answer" when a prompt has a target of that name, else the first target of the set. */
static char *
default_answer (const StrataPromptSet *set)
{
  const char *first = NULL;
  for (guint i = 0; i < set->prompts->len; i++) {
    const StrataPrompt *p = set->prompts->pdata[i];
    for (guint j = 0; j < p->targets->len; j++) {
      const char *name = g_array_index (p->targets, StrataTarget, j).name;
      if (strcmp (name, "answer") == 0)
        return g_strdup (name);
      if (!first)
        first = name;
    }
  }
  return g_strdup (first);
}

/* The answer position of prompt `p`: its position named `name`, else (NULL) its last. */
static int
answer_index (const StrataPrompt *p, const char *name)
{
  if (!name)
    return (int) p->ids->len - 1;
  for (guint j = 0; j < p->positions->len; j++) {
    const StrataPosition *pos = &g_array_index (p->positions, StrataPosition, j);
    if (strcmp (pos->name, name) == 0)
      return pos->index;
  }
  return -1;
}

/* The prompt set (unless the series has one) and the settings of a series that has not run
 * a checkpoint yet, with the first checkpoint opened. */
static gboolean
prepare (SeriesRun *sr, StrataModel *m, GError **error)
{
  StrataSeries *s = sr->s;
  const StrataSeriesRequest *req = sr->req;
  if (!s->prompts) {
    g_autoptr (StrataPromptSet) set = NULL;
    if (req->make_prompts)
      set = req->make_prompts (m, req->make_prompts_data, error);
    else if (req->prompts_path)
      set = strata_prompt_set_load (req->prompts_path, m, error);
    else
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "a series needs a prompt set");
    if (!set)
      return FALSE;
    if (set->prompts->len == 0) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: the prompt set is empty", set->source);
      return FALSE;
    }
    for (guint i = 0; i < set->prompts->len; i++) {
      const StrataPrompt *p = set->prompts->pdata[i];
      if (p->targets->len == 0) {
        g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                     "%s: prompt %u has no target; a series reads targets (e.g. \"targets\": {\"bridge\": ...})",
                     set->source, i + 1);
        return FALSE;
      }
    }
    s->prompts = g_steal_pointer (&set);
  }
  for (guint i = 0; i < s->prompts->prompts->len; i++) {
    const StrataPrompt *p = s->prompts->prompts->pdata[i];
    if (answer_index (p, req->answer_position) < 0) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: prompt %u has no position named '%s' (the answer position)", s->prompts->source, i + 1,
                   req->answer_position);
      return FALSE;
    }
  }
  s->raw = req->raw;
  s->threshold = req->threshold;
  g_free (s->answer_target);
  s->answer_target = req->answer_target ? g_strdup (req->answer_target) : default_answer (s->prompts);
  g_free (s->answer_position);
  s->answer_position = g_strdup (req->answer_position);
  s->has_patch = req->patch;
  g_clear_pointer (&s->patch_sites, g_array_unref);
  g_clear_pointer (&s->patch_target, g_free);
  if (req->patch) {
    s->patch_sites = g_array_new (FALSE, FALSE, sizeof (StrataPatchSite));
    g_array_append_vals (s->patch_sites, req->patch_options.sites, (guint) req->patch_options.n_sites);
    s->patch_direction = req->patch_options.direction;
    s->patch_metric = req->patch_options.metric;
    s->patch_head_pos = req->patch_options.head_pos;
    s->patch_target = g_strdup (req->patch_target);
  }
  return TRUE;
}

/* Final-layer top-1 of every target at the answer position, per tag ("all" first, then the
 * tags in the order strata_lens_aggregate() uses). */
static GPtrArray *
accuracy_of (const StrataSeries *s, GPtrArray *results)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_series_accuracy_free);
  g_autoptr (GPtrArray) tags = strata_prompt_set_list_tags (s->prompts);
  g_autoptr (GPtrArray) targets = strata_prompt_set_list_targets (s->prompts);
  for (guint ti = 0; ti < tags->len; ti++) {
    for (guint gi = 0; gi < targets->len; gi++) {
      StrataSeriesAccuracy *acc = g_new0 (StrataSeriesAccuracy, 1);
      acc->tag = g_strdup (tags->pdata[ti]);
      acc->target = g_strdup (targets->pdata[gi]);
      for (guint i = 0; i < s->prompts->prompts->len && i < results->len; i++) {
        const StrataPrompt *p = s->prompts->prompts->pdata[i];
        if (ti > 0 && !g_strv_contains ((const char *const *) p->tags, acc->tag))
          continue;
        const StrataLensResult *r = results->pdata[i];
        const StrataLensTarget *t = strata_lens_result_get_target (r, acc->target);
        int pos = answer_index (p, s->answer_position);
        if (!t || pos < 0 || pos >= r->T)
          continue;
        acc->n++;
        acc->correct += t->rank[(gsize) r->n_layers * r->T + pos] == 0;
      }
      if (acc->n > 0)
        g_ptr_array_add (out, acc);
      else
        strata_series_accuracy_free (acc);
    }
  }
  return out;
}

static gboolean
check_model (SeriesRun *sr, const StrataTrainingRun *run, const StrataSeriesCheckpoint *cp, StrataModel *m,
             GError **error)
{
  StrataSeries *s = sr->s;
  const char *sha = m->tokenizer ? strata_tokenizer_get_sha256 (m->tokenizer) : "";
  if (!sha)
    sha = "";
  if (!s->tokenizer_sha256) {
    s->tokenizer_sha256 = g_strdup (sha);
    sr->first = cp->path;
  } else if (strcmp (s->tokenizer_sha256, sha) != 0) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "its tokenizer (sha256 %s) differs from %s's (sha256 %s): a series shares one tokenizer",
                 *sha ? sha : "none", sr->first ? sr->first : "the series",
                 *s->tokenizer_sha256 ? s->tokenizer_sha256 : "none");
    return FALSE;
  }
  for (guint c = 0; c < run->checkpoints->len; c++) {
    const StrataSeriesCheckpoint *other = run->checkpoints->pdata[c];
    if (strata_series_checkpoint_is_done (other) && other->model.config.n_layers != m->weights->cfg.n_layers) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "it has %d layers, %s has %d: the checkpoints of one run must have the same number",
                   m->weights->cfg.n_layers, other->label, other->model.config.n_layers);
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
run_checkpoint (SeriesRun *sr, StrataTrainingRun *run, StrataSeriesCheckpoint *cp, GError **error)
{
  const StrataSeriesRequest *req = sr->req;
  StrataSeries *s = sr->s;
  const StrataBackend *be = req->backend ? req->backend : strata_backend_cpu ();
  StrataOpenOptions oo = req->open;
  if (oo.matrices == STRATA_MATRICES_AUTO)
    oo.matrices = strata_matrix_policy_for (be);
  oo.device = be; /* each checkpoint's model lives for its run only */
  g_autoptr (StrataModel) m = strata_model_open_with (cp->path, &oo, error);
  if (!m)
    return FALSE;
  if (req->bos >= 0)
    m->add_bos = req->bos != 0;
  if (!check_model (sr, run, cp, m, error))
    return FALSE;
  if (!sr->resumed && !sr->prepared) {
    if (!prepare (sr, m, error))
      return FALSE;
    sr->prepared = TRUE;
  }
  if (!s->prompts) { /* a session's series without its prompt set cannot continue */
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "the series holds no prompt set to continue with");
    return FALSE;
  }
  if (!s->answer_target)
    s->answer_target = default_answer (s->prompts);
  StrataStatus st;
  StrataEngineOptions eo = { 0, req->precision };
  StrataEngine *e = strata_engine_new_with (be, m->weights, &eo, &st);
  if (!e) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED, "cannot start the engine on %s: %s", be->name,
                 strata_status_to_string (st));
    return FALSE;
  }
  StrataAnalysisRequest ar;
  strata_series_init_analysis_request (s, TRUE, &ar);
  /* The series keeps aggregates only; one top token is the least the lens computes. */
  ar.lens_options.topk = 1;
  ar.progress = checkpoint_progress_cb;
  ar.progress_data = sr;
  ar.cancellable = req->cancellable;
  g_autoptr (StrataAnalysis) a = strata_analysis_run (e, m, strata_prompt_set_copy (s->prompts), &ar, NULL, error);
  strata_engine_free (e);
  if (!a)
    return FALSE;
  strata_model_ref_copy (&cp->model, &a->model);
  cp->lens_aggregates = g_steal_pointer (&a->lens_aggregates);
  cp->accuracy = accuracy_of (s, a->lens_results);
  cp->patch_aggregates = g_steal_pointer (&a->patch_aggregates);
  strata_series_checkpoint_set_done (cp);
  return TRUE;
}

void
strata_series_init_analysis_request (const StrataSeries *s, gboolean patch, StrataAnalysisRequest *req)
{
  strata_analysis_request_init (req);
  req->lens_options.raw = s->raw;
  req->lens_options.threshold = s->threshold;
  if (patch && s->has_patch && s->patch_sites) {
    req->patch = TRUE;
    req->patch_options = (StrataPatchOptions) { (const StrataPatchSite *) s->patch_sites->data,
                                                (int) s->patch_sites->len, s->patch_direction, s->patch_metric,
                                                s->patch_head_pos };
    req->patch_target = s->patch_target;
    req->patch_skip_incomplete = TRUE;
  }
}

void
strata_series_request_init (StrataSeriesRequest *req)
{
  *req = (StrataSeriesRequest) { 0 };
  req->open.matrices = STRATA_MATRICES_AUTO;
  req->bos = -1;
  req->threshold = 0.5;
  req->patch_options = (StrataPatchOptions) { NULL, 0, STRATA_PATCH_NOISE, STRATA_METRIC_TOP1_CHANGE, -1 };
}

gboolean
strata_series_run (StrataSeries *series, const StrataSeriesRequest *req, GError **error)
{
  g_return_val_if_fail (series != NULL && req != NULL, FALSE);
  SeriesRun sr = { series, req, 0, 0, NULL, strata_series_count_done (series, NULL) > 0, FALSE };
  guint longest = 0;
  for (guint r = 0; r < series->runs->len; r++) {
    const StrataTrainingRun *run = series->runs->pdata[r];
    longest = MAX (longest, run->checkpoints->len);
    for (guint c = 0; c < run->checkpoints->len; c++)
      sr.n_jobs += !strata_series_checkpoint_is_done (run->checkpoints->pdata[c]);
  }
  /* Round robin: checkpoint c of every run, then c + 1. */
  for (guint c = 0; c < longest; c++) {
    for (guint r = 0; r < series->runs->len; r++) {
      StrataTrainingRun *run = series->runs->pdata[r];
      if (c >= run->checkpoints->len)
        continue;
      StrataSeriesCheckpoint *cp = run->checkpoints->pdata[c];
      if (strata_series_checkpoint_is_done (cp))
        continue;
      if (g_cancellable_set_error_if_cancelled (req->cancellable, error))
        return FALSE;
      GError *local = NULL;
      if (!run_checkpoint (&sr, run, cp, &local)) {
        /* A cancelled run is not the checkpoint's fault; any other error names it (the
         * loaders' messages already begin with its path). */
        if (!g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED) && !g_str_has_prefix (local->message, cp->path))
          g_prefix_error (&local, "%s: ", cp->path);
        g_propagate_error (error, local);
        return FALSE;
      }
      sr.job++;
      if (req->progress)
        req->progress (sr.n_jobs ? (double) sr.job / sr.n_jobs : 1.0, req->progress_data);
      if (req->checkpoint_done)
        req->checkpoint_done (series, r, c, req->checkpoint_data);
    }
  }
  return TRUE;
}
