/* strata-window-run.c: long work off the main thread (GTask): opening a checkpoint, running
 * the lens and patching. The window shows a progress bar with Cancel and never blocks; the
 * job reads only what it was given and hands back new analyses. */
#include <string.h>

#include "strata-analysis-run.h"
#include "strata-prompt-set.h"
#include "strata-window-private.h"

gboolean
_strata_window_is_busy (StrataWindow *self)
{
  return self->cancellable != NULL;
}

static gboolean
progress_tick_cb (gpointer data)
{
  StrataWindow *self = data;
  int p = g_atomic_int_get (&self->progress_permille);
  if (p < 0)
    gtk_progress_bar_pulse (GTK_PROGRESS_BAR (self->progress));
  else
    gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (self->progress), p / 1000.0);
  return G_SOURCE_CONTINUE;
}

void
_strata_window_start_job (StrataWindow *self, const char *what, gpointer job, GDestroyNotify free_job,
                          GTaskThreadFunc thread, GAsyncReadyCallback done)
{
  /* The notice of a cancelled run is stale once another starts; other messages stay. */
  if (gtk_widget_get_visible (self->banner)
      && g_strcmp0 (gtk_label_get_text (GTK_LABEL (self->banner_label)), STRATA_WINDOW_CANCELLED_MESSAGE) == 0)
    _strata_window_hide_error (self);
  self->cancellable = g_cancellable_new ();
  g_atomic_int_set (&self->progress_permille, -1);
  g_free (self->job_name);
  self->job_name = g_strdup (what);
  gtk_label_set_text (GTK_LABEL (self->progress_label), what);
  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (self->progress), 0);
  gtk_revealer_set_reveal_child (GTK_REVEALER (self->progress_revealer), TRUE);
  if (!self->progress_source)
    self->progress_source = g_timeout_add (100, progress_tick_cb, self);
  _strata_window_update_actions (self);
  g_autoptr (GTask) task = g_task_new (self, self->cancellable, done, NULL);
  g_task_set_task_data (task, job, free_job);
  g_task_run_in_thread (task, thread);
}

void
_strata_window_end_job (StrataWindow *self)
{
  g_clear_object (&self->cancellable);
  if (self->progress_source) {
    g_source_remove (self->progress_source);
    self->progress_source = 0;
  }
  gtk_revealer_set_reveal_child (GTK_REVEALER (self->progress_revealer), FALSE);
  _strata_window_update_actions (self);
}

gboolean
_strata_window_finish_job (StrataWindow *self, GAsyncResult *result)
{
  g_autoptr (GError) error = NULL;
  _strata_window_end_job (self);
  if (g_task_propagate_boolean (G_TASK (result), &error))
    return TRUE;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    _strata_window_show_info (self, STRATA_WINDOW_CANCELLED_MESSAGE);
  else
    strata_window_show_error (self, error->message);
  return FALSE;
}

void
_strata_window_cancel (StrataWindow *self)
{
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
}

/* ---- opening a checkpoint ---- */

typedef struct {
  char *path;
  int slot;
  gboolean run_lens;
  const StrataBackend *backend; /* the window's device and precision when the job started */
  StrataPrecision precision;
  StrataModel *model;
  StrataEngine *engine;
} OpenJob;

static void
open_job_free (OpenJob *j)
{
  g_free (j->path);
  if (j->engine)
    strata_engine_free (j->engine);
  if (j->model)
    strata_model_free (j->model);
  g_free (j);
}

static void
open_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  OpenJob *j = data;
  GError *error = NULL;
  /* 16-bit matrices stay so on a GPU, and on the CPU for a model too large for an F32 copy;
   * on a GPU the weights load straight into its memory (a switch of device opens the
   * checkpoint again, strata-window-device.c). */
  StrataOpenOptions oo = { NULL, strata_matrix_policy_for (j->backend), j->backend };
  j->model = strata_model_open_with (j->path, &oo, &error);
  if (!j->model) {
    g_task_return_error (task, error);
    return;
  }
  if (!(j->engine = _strata_window_engine_new (j->backend, j->precision, j->model, &error))) {
    g_prefix_error (&error, "%s: ", j->path);
    g_task_return_error (task, error);
    return;
  }
  g_task_return_boolean (task, TRUE);
}

void
_strata_window_set_model (StrataWindow *self, int slot, StrataModel *model)
{
  if (slot == 0)
    _strata_window_forget_generation (self); /* its ids are another model's */
  g_clear_pointer (&self->engine[slot], strata_engine_free);
  g_clear_pointer (&self->model[slot], strata_model_free);
  self->model[slot] = model;
}

static void
open_done_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  StrataWindow *self = STRATA_WINDOW (source);
  OpenJob *j = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;
  _strata_window_end_job (self);
  if (!g_task_propagate_boolean (G_TASK (result), &error)) {
    strata_window_show_error (self, error->message);
    g_clear_pointer (&self->pending_compare, g_free);
    /* The first checkpoint still gets its analysis when the second would not open. */
    if (j->slot == 1 && j->run_lens && self->model[0]) {
      strata_view_model_set_compare (self->view, FALSE);
      _strata_window_run_lens (self, FALSE);
    }
    return;
  }
  _strata_window_hide_error (self);
  _strata_window_set_model (self, j->slot, g_steal_pointer (&j->model));
  self->engine[j->slot] = g_steal_pointer (&j->engine);
  /* An analysis of another checkpoint no longer matches the card: drop it. */
  StrataAnalysis *a = strata_view_model_get_analysis (self->view, j->slot);
  if (a && g_strcmp0 (a->model.weights_sha256, strata_model_get_weights_sha256 (self->model[j->slot])) != 0)
    strata_view_model_set_analysis (self->view, j->slot, NULL, NULL);
  if (j->slot == 0)
    _strata_window_apply_default_prompt (self);
  _strata_window_update_cards (self);
  _strata_window_update_title (self);
  _strata_window_update_actions (self);
  if (j->slot == 0 && self->pending_compare) {
    g_autofree char *second = g_steal_pointer (&self->pending_compare);
    strata_window_open_model (self, second, 1, TRUE);
    strata_view_model_set_compare (self->view, TRUE);
    return;
  }
  if (j->slot == 1 && !j->run_lens)
    _strata_window_show_info (self, "Second checkpoint open: run the lens to analyse both on the same prompt, then "
                                    "press Compare (Ctrl+D).");
  if (j->run_lens)
    _strata_window_run_lens (self, FALSE);
}

void
strata_window_open_pair (StrataWindow *self, const char *a, const char *b)
{
  g_free (self->pending_compare);
  self->pending_compare = g_strdup (b);
  strata_window_open_model (self, a, 0, FALSE);
}

void
strata_window_open_model (StrataWindow *self, const char *path, int slot, gboolean run_lens)
{
  if (_strata_window_is_busy (self)) {
    strata_window_show_error (self, "Wait for the running job to finish or cancel it first.");
    return;
  }
  _strata_window_example_forget (self);
  OpenJob *j = g_new0 (OpenJob, 1);
  j->path = g_strdup (path);
  j->slot = slot;
  j->run_lens = run_lens;
  j->backend = _strata_window_get_backend (self);
  j->precision = _strata_window_get_precision (self);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *what = g_strdup_printf ("Opening %s…", base);
  _strata_window_start_job (self, what, j, (GDestroyNotify) open_job_free, open_thread,
                            open_done_cb);
}

/* ---- lens and patching ---- */

typedef struct {
  StrataModel *model[2];     /* borrowed: the window keeps them while it is busy */
  StrataEngine *engine[2];
  char *text, *corrupt, *contrast, *prompt_set;
  GArray *ids;               /* after Generate: the prompt's ids and the continuation; else NULL */
  int n_generated;
  char **targets;
  char *shared_target;       /* no target typed: the primary's prediction, read by both */
  char *warning;             /* words the tokenizers map to their unknown token, or NULL */
  GString *notes;            /* what the pipeline reported (tiny gaps, attention not kept) */
  gboolean patching;
  gint *progress;
  int slot, n_slots;         /* the analysis running, of how many: for the progress fraction */
  StrataAnalysis *result[2];
  /* The lens filling in while it runs (see lens_partial_cb). The worker's: */
  GTask *task;               /* borrowed: each snapshot holds a reference */
  StrataPromptSet *partial_prompts; /* the prompt the snapshots show; NULL: no snapshots */
  gint64 partial_last_us;
  /* The main loop's: what the first snapshot replaced, given back on cancel or failure. */
  gboolean partial_shown;
  StrataAnalysis *before;
  char *target_before;
  int position_before, range_before[2];
} RunJob;

static void
run_job_free (RunJob *j)
{
  g_free (j->text);
  g_free (j->corrupt);
  g_free (j->contrast);
  g_free (j->prompt_set);
  if (j->ids)
    g_array_unref (j->ids);
  g_strfreev (j->targets);
  g_free (j->shared_target);
  g_free (j->warning);
  if (j->notes)
    g_string_free (j->notes, TRUE);
  for (int i = 0; i < 2; i++)
    if (j->result[i])
      strata_analysis_free (j->result[i]);
  if (j->partial_prompts)
    strata_prompt_set_free (j->partial_prompts);
  if (j->before)
    strata_analysis_free (j->before);
  g_free (j->target_before);
  g_free (j);
}

/* On the job's thread: the fraction of this checkpoint's analysis, of the whole job. */
static void
progress_cb (double fraction, gpointer data)
{
  RunJob *j = data;
  g_atomic_int_set (j->progress, (int) (1000.0 * (j->slot + fraction) / MAX (j->n_slots, 1)));
}

/* A snapshot of the running lens for the main loop; it holds the job's task (and so the job). */
typedef struct {
  GTask *task;
  StrataAnalysis *a;
} PartialLens;

static void
partial_lens_free (PartialLens *p)
{
  g_object_unref (p->task);
  if (p->a)
    strata_analysis_free (p->a);
  g_free (p);
}

/* On the main loop: show the snapshot in place of analysis 0, keeping what it replaced. */
static gboolean
show_partial_cb (gpointer data)
{
  PartialLens *p = data;
  StrataWindow *self = STRATA_WINDOW (g_task_get_source_object (p->task));
  RunJob *j = g_task_get_task_data (p->task);
  GCancellable *cancellable = g_task_get_cancellable (p->task);
  /* The job's end (a GTask callback, of higher priority than this idle) may have come first,
   * and after Cancel the previous results stay: a late snapshot is dropped. */
  if (self->cancellable != cancellable || g_cancellable_is_cancelled (cancellable))
    return G_SOURCE_REMOVE;
  if (!j->partial_shown) {
    const StrataViewState *v = strata_view_model_get_state (self->view);
    j->partial_shown = TRUE;
    j->target_before = g_strdup (v->target);
    j->position_before = v->position;
    strata_view_model_get_range (self->view, &j->range_before[0], &j->range_before[1]);
    j->before = strata_view_model_steal_analysis (self->view, 0);
  }
  const StrataLensResult *r = p->a->lens_results->pdata[0];
  strata_view_model_set_analysis (self->view, 0, g_steal_pointer (&p->a), (GDestroyNotify) strata_analysis_free);
  /* Coloured by a target of the previous prompt the heat map would stay empty. */
  const char *target = strata_view_model_get_state (self->view)->target;
  if (target && !strata_lens_result_get_target (r, target))
    strata_view_model_set_target (self->view, r->targets->len > 0 ? ((StrataLensTarget *) r->targets->pdata[0])->name
                                                                    : NULL);
  _strata_window_sync_controls (self);
  return G_SOURCE_REMOVE;
}

/* Cancelled or failed after snapshots were shown: the analysis they replaced comes back, and
 * where the person was in it. */
static void
restore_before_partial (StrataWindow *self, RunJob *j)
{
  if (!j->partial_shown)
    return;
  StrataAnalysis *a = g_steal_pointer (&j->before);
  strata_view_model_set_analysis (self->view, 0, a, a ? (GDestroyNotify) strata_analysis_free : NULL);
  strata_view_model_set_target (self->view, j->target_before);
  strata_view_model_set_range (self->view, j->range_before[0], j->range_before[1]);
  strata_view_model_set_position (self->view, j->position_before);
  _strata_window_sync_controls (self);
}

/* On the job's thread, after each chunk of the lens: at most every PARTIAL_INTERVAL_US a deep
 * copy of the partial result goes to the main loop, so the heat map of a long trace fills in
 * (uncomputed cells, NaN, draw as no data) instead of staying blank for seconds. A lens that
 * ends within the interval publishes nothing; the last chunk's result comes with the job. */
#define PARTIAL_INTERVAL_US (200 * G_TIME_SPAN_MILLISECOND)

static void
lens_partial_cb (guint index, const StrataLensResult *partial, int rows_done, gpointer data)
{
  RunJob *j = data;
  gint64 now = g_get_monotonic_time ();
  if (rows_done >= (partial->n_layers + 1) * partial->T || now - j->partial_last_us < PARTIAL_INTERVAL_US
      || g_cancellable_is_cancelled (g_task_get_cancellable (j->task)))
    return;
  j->partial_last_us = now;
  PartialLens *p = g_new (PartialLens, 1);
  p->task = g_object_ref (j->task);
  p->a = strata_analysis_new (j->model[0]);
  p->a->prompts = strata_prompt_set_copy (j->partial_prompts);
  p->a->has_lens = TRUE;
  p->a->lens_options = (StrataLensOptions) { partial->topk, partial->raw, partial->threshold, NULL, 0 };
  p->a->lens_results = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_lens_result_free);
  g_ptr_array_add (p->a->lens_results, strata_lens_result_copy (partial));
  g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, show_partial_cb, p, (GDestroyNotify) partial_lens_free);
}

/* A sentence per report item for the banner; a few tiny-gap warnings stand for all. */
static void
add_notes (RunJob *j, int slot, const StrataAnalysisReport *report)
{
  const char *who = slot == 1 ? "second checkpoint: " : "";
  guint n = report->warnings ? report->warnings->len : 0;
  for (guint i = 0; i < MIN (n, 3); i++)
    g_string_append_printf (j->notes, "%sWarning: %s%s.", j->notes->len ? "\n" : "", who,
                            (const char *) report->warnings->pdata[i]);
  if (n > 3)
    g_string_append_printf (j->notes, "\n(and %u more prompts with a tiny gap)", n - 3);
  if (report->attention_note) {
    g_autofree char *line = g_strdup_printf ("Note: %s%s.", who, report->attention_note);
    if (!strstr (j->notes->str, line + strlen ("Note: ") + strlen (who)))
      g_string_append_printf (j->notes, "%s%s", j->notes->len ? "\n" : "", line);
  }
}

/* How both checkpoints name the primary's prediction `id`: "#id" when they share a
 * tokenizer (or either has none), else its text, which must be one token of the second. */
static char *
shared_target_name (RunJob *j, int32_t id, GError **error)
{
  StrataTokenizer *ta = j->model[0]->tokenizer, *tb = j->model[1] ? j->model[1]->tokenizer : NULL;
  if (!tb || !ta || g_strcmp0 (strata_tokenizer_get_sha256 (ta), strata_tokenizer_get_sha256 (tb)) == 0)
    return g_strdup_printf ("#%d", id);
  const char *piece = strata_tokenizer_get_piece (ta, id);
  int32_t other;
  if (!piece || !strata_resolve_token (j->model[1], piece, "target", &other, NULL)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "The two checkpoints have different tokenizers and the second has no single token for "
                 "\xe2\x80\x9c%s\xe2\x80\x9d, the first one's prediction: type a target both can read.", piece ? piece : "?");
    return NULL;
  }
  return g_strdup (piece);
}

/* The typed prompt as a one-prompt set, or after Generate the exact ids it analysed (its
 * text stays the prompt as typed, as `strata lens --generate` keeps it). */
static StrataPromptSet *
typed_prompt (RunJob *j, StrataModel *m, const char *const *targets, GError **error)
{
  StrataPromptSet *set = strata_prompt_set_new_single (m, j->ids ? NULL : j->text,
                                                       j->ids ? (const int32_t *) j->ids->data : NULL,
                                                       j->ids ? (int) j->ids->len : 0, j->corrupt, targets,
                                                       j->contrast, error);
  if (set && j->ids) {
    StrataPrompt *p = set->prompts->pdata[0];
    p->text = g_strdup (j->text);
    p->n_generated = j->n_generated;
  }
  return set;
}

static StrataAnalysis *
analyse (RunJob *j, int slot, GCancellable *cancellable, GError **error)
{
  StrataModel *m = j->model[slot];
  StrataEngine *e = j->engine[slot];
  g_autoptr (StrataPromptSet) set = NULL;
  if (j->prompt_set)
    set = strata_prompt_set_load (j->prompt_set, m, error);
  else
    set = typed_prompt (j, m, (const char *const *) j->targets, error);
  if (!set)
    return NULL;
  /* No target given: follow the primary model's final prediction at the last position
   * through the layers, so the curves and the lens colouring have something to show. A
   * second checkpoint reads the same token: two curves of different tokens, or two panels
   * coloured by different tokens, would not be a comparison. */
  if (!j->prompt_set && (!j->targets || !j->targets[0])) {
    if (slot == 0) {
      const StrataPrompt *p0 = g_ptr_array_index (set->prompts, 0);
      StrataLensOptions probe = { .topk = 1, .threshold = 0.5 };
      g_autoptr (StrataLensResult) r0 = strata_lens_run (e, m, p0, &probe, error);
      if (!r0)
        return NULL;
      j->shared_target = shared_target_name (j, r0->topk_ids[((gsize) r0->n_layers * r0->T + r0->T - 1) * r0->topk],
                                             error);
      if (!j->shared_target)
        return NULL;
    }
    const char *auto_targets[] = { j->shared_target, NULL };
    g_autoptr (StrataPromptSet) again = typed_prompt (j, m, auto_targets, error);
    if (!again)
      return NULL;
    strata_prompt_set_free (g_steal_pointer (&set));
    set = g_steal_pointer (&again);
  }
  static const StrataPatchSite sites[] = { STRATA_PATCH_RESID_PRE, STRATA_PATCH_ATTN_OUT, STRATA_PATCH_MLP_OUT,
                                           STRATA_PATCH_HEAD };
  StrataAnalysisRequest req;
  strata_analysis_request_init (&req);
  req.attention = TRUE;
  if (j->patching) {
    req.patch = TRUE;
    req.patch_options = (StrataPatchOptions) { sites, G_N_ELEMENTS (sites), STRATA_PATCH_DENOISE,
                                               STRATA_METRIC_LOGIT_DIFF, -1 };
    req.patch_metric_by_contrast = TRUE;
    req.patch_skip_incomplete = TRUE;
  }
  req.progress = progress_cb;
  req.progress_data = j;
  /* One typed prompt on one checkpoint, lens only: the figure shows one analysis being made
   * (a second checkpoint's, or a patching map, would sit beside a half-made lens). */
  if (j->n_slots == 1 && !j->prompt_set && !j->patching) {
    j->partial_prompts = strata_prompt_set_copy (set);
    j->partial_last_us = g_get_monotonic_time ();
    req.lens_partial = lens_partial_cb;
    req.lens_partial_data = j;
  }
  req.cancellable = cancellable;
  g_auto (StrataAnalysisReport) report = { 0 };
  StrataAnalysis *a = strata_analysis_run (e, m, g_steal_pointer (&set), &req, &report, error);
  if (a)
    add_notes (j, slot, &report);
  return a;
}

static void
run_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  RunJob *j = data;
  j->task = task;
  for (int s = 0; s < 2; s++) {
    if (!j->model[s])
      continue;
    j->slot = s;
    GError *error = NULL;
    j->result[s] = analyse (j, s, cancellable, &error);
    if (!j->result[s]) {
      if (s == 1 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_prefix_error (&error, "second checkpoint: ");
      g_task_return_error (task, error);
      return;
    }
  }
  g_task_return_boolean (task, TRUE);
}

static void
run_done_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  StrataWindow *self = STRATA_WINDOW (source);
  RunJob *j = g_task_get_task_data (G_TASK (result));
  if (!_strata_window_finish_job (self, result)) {
    restore_before_partial (self, j);
    return;
  }
  if (j->warning || j->notes->len) {
    g_autofree char *all = g_strjoin ("\n", j->warning ? j->warning : j->notes->str,
                                      j->warning && j->notes->len ? j->notes->str : NULL, NULL);
    _strata_window_show_info (self, all);
  } else
    _strata_window_hide_error (self);
  /* A new prompt moves the selection to its last position (where the prediction is); the
   * same prompt run again (another target, patching) keeps the person's selection. */
  StrataAnalysis *before = j->partial_shown ? j->before : strata_view_model_get_analysis (self->view, 0);
  g_autoptr (GArray) old_ids = before && before->lens_results->len > 0
                                   ? g_array_ref (((StrataLensResult *) before->lens_results->pdata[0])->ids)
                                   : NULL;
  for (int s = 0; s < 2; s++)
    if (j->result[s])
      strata_view_model_set_analysis (self->view, s, g_steal_pointer (&j->result[s]),
                                      (GDestroyNotify) strata_analysis_free);
  /* Colour by the first target when there is one: that is what the person asked about. A
   * target of the previous run that this one did not read is dropped, not kept blank. */
  StrataAnalysis *a = strata_view_model_get_analysis (self->view, 0);
  const StrataLensResult *r = a->lens_results->len > 0 ? g_ptr_array_index (a->lens_results, 0) : NULL;
  const StrataViewState *v = strata_view_model_get_state (self->view);
  if (v->target && !(r && strata_lens_result_get_target (r, v->target)))
    strata_view_model_set_target (self->view, NULL);
  if (r && r->targets && r->targets->len > 0 && !v->target)
    strata_view_model_set_target (self->view, ((StrataLensTarget *) g_ptr_array_index (r->targets, 0))->name);
  /* Over a prompt set the question is the MRR by layer, per tag and named position: show
   * that figure (the lens heatmap of each prompt is one click away). */
  if (j->prompt_set && !j->patching && a->prompts && a->prompts->prompts->len > 1) {
    strata_view_model_set_curve (self->view, STRATA_CURVE_MRR);
    gtk_stack_set_visible_child (GTK_STACK (self->stack), self->figures[STRATA_FIGURE_TOKEN_CURVES]);
  }
  gboolean same_prompt = r && old_ids && old_ids->len == r->ids->len &&
                         memcmp (old_ids->data, r->ids->data, old_ids->len * sizeof (int32_t)) == 0;
  if (r && (!same_prompt || v->position < 0 || v->position >= r->T))
    strata_view_model_set_position (self->view, r->T - 1);
  _strata_window_refresh_targets (self);
  _strata_window_sync_controls (self);
  _strata_window_update_cards (self);
  if (j->patching)
    gtk_stack_set_visible_child (GTK_STACK (self->stack), self->figures[STRATA_FIGURE_PATCH_HEATMAP]);
  _strata_window_set_dirty (self, TRUE);
  _strata_window_example_apply_view (self);
  /* end_job() enabled the actions before there was an analysis: Save needs it. */
  _strata_window_update_actions (self);
}

/* Words separated by spaces; "..." keeps spaces (a token such as " girl"); #12 is an id.
 * NULL when a quote is left open. (Shell rules would read #12 as a comment.) */
static char **
split_targets (const char *text)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr (GString) word = g_string_new (NULL);
  gboolean quoted = FALSE, have = FALSE;
  for (const char *p = text; *p; p++) {
    if (*p == '"') {
      quoted = !quoted;
      have = TRUE;
    } else if (*p == ' ' && !quoted) {
      if (have)
        g_strv_builder_add (b, word->str);
      g_string_truncate (word, 0);
      have = FALSE;
    } else {
      g_string_append_c (word, *p);
      have = TRUE;
    }
  }
  if (quoted)
    return NULL;
  if (have)
    g_strv_builder_add (b, word->str);
  return g_strv_builder_end (b);
}

/* Both tokenizers are the same file: the same text, and the same ids, mean the same. */
static gboolean
share_tokenizer (StrataModel *a, StrataModel *b)
{
  return a->tokenizer && b->tokenizer
         && g_strcmp0 (strata_tokenizer_get_sha256 (a->tokenizer), strata_tokenizer_get_sha256 (b->tokenizer)) == 0;
}

/* After Generate, Run reads the exact ids of the prompt and its continuation while the
 * prompt entry holds the text they continued: the decoded continuation tokenized again may
 * give other ids. An edited prompt is read as typed (editing forgets the generation). */
static gboolean
take_generation (StrataWindow *self, RunJob *j)
{
  StrataPrompt *g = self->generation;
  if (!g || j->prompt_set || g_strcmp0 (g->text, j->text) != 0)
    return TRUE;
  if (self->model[1] && !share_tokenizer (self->model[0], self->model[1])) {
    strata_window_show_error (self, "The second checkpoint has another tokenizer: it cannot read the generated "
                                    "ids. Edit the prompt to analyse the typed text with both.");
    return FALSE;
  }
  j->ids = g_array_ref (g->ids);
  j->n_generated = g->n_generated;
  if (self->generation_note)
    g_string_append (j->notes, self->generation_note);
  g_clear_pointer (&self->generation_note, g_free);
  return TRUE;
}

void
_strata_window_run_lens (StrataWindow *self, gboolean patching)
{
  if (_strata_window_is_busy (self))
    return;
  if (!self->model[0]) {
    strata_window_show_error (self, "Open a model first (Ctrl+O).");
    return;
  }
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->prompt_entry));
  if (!self->prompt_set_path && !*text) {
    strata_window_show_error (self, "Type a prompt, or load a prompt set.");
    return;
  }
  RunJob *j = g_new0 (RunJob, 1);
  for (int s = 0; s < 2; s++) {
    j->model[s] = self->model[s];
    j->engine[s] = self->engine[s];
  }
  j->text = g_strdup (text);
  const char *corrupt = gtk_editable_get_text (GTK_EDITABLE (self->corrupt_entry));
  const char *contrast = gtk_editable_get_text (GTK_EDITABLE (self->contrast_entry));
  const char *targets = gtk_editable_get_text (GTK_EDITABLE (self->targets_entry));
  j->corrupt = *corrupt ? g_strdup (corrupt) : NULL;
  j->prompt_set = g_strdup (self->prompt_set_path);
  j->patching = patching;
  j->progress = &self->progress_permille;
  j->notes = g_string_new (NULL);
  j->n_slots = self->model[1] ? 2 : 1;
  if (!take_generation (self, j)) {
    run_job_free (j);
    return;
  }
  j->targets = split_targets (targets);
  if (!j->targets) {
    strata_window_show_error (self, "Targets: write tokens or #ids separated by spaces; quote a token that holds "
                                    "spaces, e.g. \" girl\" (a quote is missing).");
    run_job_free (j);
    return;
  }
  /* The contrast is one token written as a target is: " he" in quotes keeps its space. */
  g_auto (GStrv) contrast_words = split_targets (contrast);
  if (!contrast_words || (contrast_words[0] && contrast_words[1])) {
    strata_window_show_error (self, "Contrast: write one token or #id; quote a token that holds spaces, "
                                    "e.g. \" he\".");
    run_job_free (j);
    return;
  }
  j->contrast = contrast_words[0] ? g_strdup (contrast_words[0]) : NULL;
  if (patching && (!j->corrupt || !j->targets[0]) && !j->prompt_set) {
    strata_window_show_error (self, "Patching needs a corrupted prompt (the same number of tokens as the prompt) and "
                                    "a target token.");
    run_job_free (j);
    return;
  }
  if (!j->prompt_set) {
    g_autoptr (GString) warn = g_string_new (NULL);
    for (int s = 0; s < 2; s++) {
      if (s == 1 && self->model[1] && share_tokenizer (self->model[0], self->model[1]))
        break; /* the same tokenizer: the same words, said once */
      g_autofree char *w = _strata_window_unknown_words (self->model[s], text);
      if (w)
        g_string_append_printf (warn, "%s%s", warn->len ? "\n" : "", w);
    }
    j->warning = warn->len ? g_strdup (warn->str) : NULL;
  }
  _strata_window_start_job (self, patching ? "Patching…" : "Running the lens…", j, (GDestroyNotify) run_job_free,
                            run_thread, run_done_cb);
}
