/* strata-window-series.c: training dynamics in the window. Open Series finds the checkpoints
 * of one or two training-run folders (probes/strata-series.h) and runs the window's prompt
 * set over them on a worker thread; the series pages of the figure stack fill in checkpoint
 * by checkpoint. Activating a checkpoint of a series figure (a click on its cell, Return)
 * opens it in slot 0, runs it as the series did and shows its curves at that layer.
 *
 * Ownership while a series runs: the job owns the series until its first checkpoint is
 * done; from then on the view model does (the settings and prompts a figure reads are set
 * before that, strata-series.h), and the worker keeps writing into it. Nothing else may
 * replace the view model's series while the job runs: opening a session, a series or a
 * checkpoint waits for the job (_strata_window_is_busy). */
#include <string.h>

#include "strata-series.h"
#include "strata-window-private.h"

/* ---- choosing the folders ---- */

static void
folders_response_cb (GtkNativeDialog *dialog, int response, StrataWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT) {
    g_autoptr (GListModel) files = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (dialog));
    g_autoptr (GStrvBuilder) dirs = g_strv_builder_new ();
    for (guint i = 0; i < g_list_model_get_n_items (files); i++) {
      g_autoptr (GFile) file = g_list_model_get_item (files, i);
      g_autofree char *path = g_file_get_path (file);
      if (path)
        g_strv_builder_add (dirs, path);
    }
    g_auto (GStrv) paths = g_strv_builder_end (dirs);
    strata_window_open_series (self, (const char *const *) paths);
  }
  g_object_unref (dialog);
}

void
_strata_window_choose_series (StrataWindow *self)
{
  GtkFileChooserNative *dialog = gtk_file_chooser_native_new ("Open Series (one or two training-run folders)",
                                                              GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                                              "_Open", "_Cancel");
  gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (dialog), TRUE);
  g_signal_connect (dialog, "response", G_CALLBACK (folders_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

/* ---- the series pages and the options bar ---- */

void
_strata_window_update_series_pages (StrataWindow *self)
{
  StrataSeries *s = strata_view_model_get_series (self->view);
  StrataFigureKind shown = _strata_window_get_visible_figure (self);
  for (int k = STRATA_FIGURE_N; k < STRATA_FIGURE_N_ALL; k++) {
    /* Series patching only for a series that patched: the switcher stays short. */
    gboolean visible = s && (k != STRATA_FIGURE_SERIES_PATCH || s->has_patch);
    if (!visible && (int) shown == k)
      gtk_stack_set_visible_child (GTK_STACK (self->stack), self->figures[STRATA_FIGURE_LENS_HEATMAP]);
    gtk_stack_page_set_visible (gtk_stack_get_page (GTK_STACK (self->stack), self->figures[k]), visible);
  }
}

static guint
index_of (GPtrArray *strings, const char *s)
{
  for (guint i = 0; s && i < strings->len; i++)
    if (strcmp (strings->pdata[i], s) == 0)
      return i;
  return GTK_INVALID_LIST_POSITION;
}

void
_strata_window_fill_series_options (StrataWindow *self)
{
  StrataSeries *s = strata_view_model_get_series (self->view);
  const StrataViewState *v = strata_view_model_get_state (self->view);
  self->options_for_series = TRUE;

  /* The series figure falls back to the set's first target: so does the list. */
  g_autoptr (GPtrArray) targets = strata_prompt_set_list_targets (s->prompts);
  g_autoptr (GtkStringList) target_list = gtk_string_list_new (NULL);
  for (guint i = 0; i < targets->len; i++)
    gtk_string_list_append (target_list, targets->pdata[i]);
  gtk_drop_down_set_model (GTK_DROP_DOWN (self->target_dropdown), G_LIST_MODEL (target_list));
  guint target = index_of (targets, v->target);
  gtk_drop_down_set_selected (GTK_DROP_DOWN (self->target_dropdown), target == GTK_INVALID_LIST_POSITION ? 0 : target);

  g_autoptr (GPtrArray) tags = strata_prompt_set_list_tags (s->prompts);
  g_autoptr (GtkStringList) tag_list = gtk_string_list_new (NULL);
  for (guint i = 0; i < tags->len; i++) {
    g_autofree char *item = g_strdup_printf (STRATA_WINDOW_TAG_ITEM "%s", (const char *) tags->pdata[i]);
    gtk_string_list_append (tag_list, item);
  }
  gtk_drop_down_set_model (GTK_DROP_DOWN (self->tag_dropdown), G_LIST_MODEL (tag_list));

  g_autoptr (GPtrArray) positions = strata_prompt_set_list_positions (s->prompts);
  g_autoptr (GtkStringList) position_list = gtk_string_list_new (NULL);
  g_array_set_size (self->posname_index, 0);
  for (guint i = 0; i < positions->len; i++) {
    int index = strata_prompt_set_position_index (s->prompts, positions->pdata[i]);
    if (index < 0)
      continue; /* a set that names no positions: the Position spin button selects them */
    g_autofree char *item = g_strdup_printf ("at %s", (const char *) positions->pdata[i]);
    gtk_string_list_append (position_list, item);
    g_array_append_val (self->posname_index, index);
  }
  gtk_drop_down_set_model (GTK_DROP_DOWN (self->posname_dropdown), G_LIST_MODEL (position_list));

  g_autoptr (GtkStringList) site_list = gtk_string_list_new (NULL);
  g_array_set_size (self->site_index, 0);
  gboolean have_site = FALSE;
  for (guint i = 0; s->has_patch && s->patch_sites && i < s->patch_sites->len; i++) {
    int site = g_array_index (s->patch_sites, StrataPatchSite, i);
    gtk_string_list_append (site_list, strata_patch_site_to_string (site));
    g_array_append_val (self->site_index, site);
    have_site |= site == (int) v->patch_site;
  }
  gtk_drop_down_set_model (GTK_DROP_DOWN (self->site_dropdown), G_LIST_MODEL (site_list));
  if (self->site_index->len > 0 && !have_site)
    strata_view_model_set_patch_site (self->view, g_array_index (self->site_index, int, 0));
}

/* ---- running the series ---- */

typedef struct {
  StrataSeries *series;      /* the job's until handed to the view model */
  gboolean handed;           /* main thread only */
  char *prompts_path;
  const StrataBackend *backend; /* the window's device and precision */
  StrataPrecision precision;
  gint *progress;            /* the window's progress_permille */
} SeriesJob;

static void
series_job_free (SeriesJob *j)
{
  if (!j->handed)
    strata_series_free (j->series);
  g_free (j->prompts_path);
  g_free (j);
}

static void
series_progress_cb (double fraction, gpointer data)
{
  SeriesJob *j = data;
  g_atomic_int_set (j->progress, (int) (1000.0 * fraction));
}

/* The view model takes the series once a checkpoint is done; it shows from then on. A
 * series already shown stays until then, so a folder that fails replaces nothing. */
static void
hand_over (StrataWindow *self, SeriesJob *j)
{
  if (j->handed || strata_series_count_done (j->series, NULL) == 0)
    return;
  j->handed = TRUE;
  strata_view_model_set_series (self->view, j->series, (GDestroyNotify) strata_series_free);
  strata_view_model_set_checkpoint (self->view, -1, -1);
  strata_view_model_set_curve (self->view, STRATA_CURVE_MRR); /* as `strata series` draws it by default */
  g_autoptr (GPtrArray) tags = strata_prompt_set_list_tags (j->series->prompts);
  if (index_of (tags, strata_view_model_get_state (self->view)->tag) == GTK_INVALID_LIST_POSITION)
    strata_view_model_set_tag (self->view, NULL);
  _strata_window_update_series_pages (self);
  gboolean shown = STRATA_FIGURE_IS_SERIES (_strata_window_get_visible_figure (self));
  gtk_stack_set_visible_child (GTK_STACK (self->stack), self->figures[STRATA_FIGURE_SERIES_HEATMAP]);
  /* A new series reads its prompts' last position, as `strata series` does by default. */
  strata_view_model_set_position (self->view, -1);
  if (shown) /* no page change refilled the lists */
    _strata_window_refresh_targets (self);
  _strata_window_sync_controls (self);
  _strata_window_update_title (self);
}

/* On the main thread after each checkpoint (the task keeps the window and the job alive). */
static gboolean
checkpoint_shown_cb (gpointer data)
{
  GTask *task = data;
  StrataWindow *self = g_task_get_source_object (task);
  SeriesJob *j = g_task_get_task_data (task);
  if (!j->handed)
    hand_over (self, j);
  else
    strata_view_model_set_series (self->view, j->series, (GDestroyNotify) strata_series_free); /* redraw */
  guint total, done = strata_series_count_done (j->series, &total);
  g_autofree char *what = g_strdup_printf ("Series: %u of %u checkpoints done…", done, total);
  if (self->cancellable)
    gtk_label_set_text (GTK_LABEL (self->progress_label), what);
  _strata_window_set_dirty (self, TRUE);
  return G_SOURCE_REMOVE;
}

static void
checkpoint_done_cb (StrataSeries *series, guint run, guint checkpoint, gpointer data)
{
  g_main_context_invoke_full (NULL, G_PRIORITY_DEFAULT, checkpoint_shown_cb, g_object_ref (data), g_object_unref);
}

static void
series_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  SeriesJob *j = data;
  StrataSeriesRequest req;
  strata_series_request_init (&req);
  req.prompts_path = j->prompts_path;
  req.backend = j->backend;
  req.precision = j->precision;
  req.progress = series_progress_cb;
  req.progress_data = j;
  req.checkpoint_done = checkpoint_done_cb;
  req.checkpoint_data = task;
  req.cancellable = cancellable;
  GError *error = NULL;
  if (!strata_series_run (j->series, &req, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
series_done_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  StrataWindow *self = STRATA_WINDOW (source);
  SeriesJob *j = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;
  _strata_window_end_job (self);
  gboolean ok = g_task_propagate_boolean (G_TASK (result), &error);
  hand_over (self, j); /* when the last checkpoint's notice has not run yet */
  if (!ok) {
    guint done = strata_series_count_done (j->series, NULL);
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && done == 0)
      _strata_window_show_info (self, STRATA_WINDOW_CANCELLED_MESSAGE);
    else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      _strata_window_show_info (self, "Cancelled; the series shows the checkpoints done so far (empty columns: not "
                                      "run).");
    else
      strata_window_show_error (self, error->message);
  } else {
    _strata_window_hide_error (self);
  }
  _strata_window_update_actions (self);
}

void
_strata_window_resume_series (StrataWindow *self, gboolean prompts_loaded)
{
  g_auto (GStrv) dirs = g_steal_pointer (&self->pending_series);
  if (dirs && prompts_loaded && self->prompt_set_path)
    strata_window_open_series (self, (const char *const *) dirs);
}

void
strata_window_open_series (StrataWindow *self, const char *const *dirs)
{
  if (_strata_window_is_busy (self)) {
    strata_window_show_error (self, "Wait for the running job to finish or cancel it first.");
    return;
  }
  guint n = dirs ? g_strv_length ((char **) dirs) : 0;
  if (n < 1 || n > 2) {
    strata_window_show_error (self, "Open Series: choose one training-run folder, or two to compare them side by side "
                                    "(e.g. CoT and non-CoT).");
    return;
  }
  if (!self->prompt_set_path) {
    /* The series runs the window's prompt set: ask for one, then go on. */
    g_strfreev (self->pending_series);
    self->pending_series = g_strdupv ((char **) dirs);
    _strata_window_show_info (self, "A series runs a prompt set over every checkpoint: choose the prompt set "
                                    "(JSON Lines); the series starts once it is loaded.");
    gtk_widget_activate_action (GTK_WIDGET (self), "win.load-prompts", NULL);
    return;
  }
  g_autoptr (StrataSeries) series = strata_series_new ();
  for (guint i = 0; i < n; i++) {
    g_autoptr (GError) error = NULL;
    StrataTrainingRun *run = strata_training_run_discover (dirs[i], &error);
    if (!run) {
      strata_window_show_error (self, error->message);
      return;
    }
    strata_series_add_run (series, run);
  }
  _strata_window_example_forget (self);
  guint total;
  strata_series_count_done (series, &total);
  SeriesJob *j = g_new0 (SeriesJob, 1);
  j->series = g_steal_pointer (&series);
  j->prompts_path = g_strdup (self->prompt_set_path);
  j->backend = _strata_window_get_backend (self);
  j->precision = _strata_window_get_precision (self);
  j->progress = &self->progress_permille;
  g_autofree char *what = g_strdup_printf ("Series: running the lens over %u checkpoints…", total);
  _strata_window_start_job (self, what, j, (GDestroyNotify) series_job_free, series_thread,
                            series_done_cb);
}

/* ---- opening one checkpoint of the series ---- */

typedef struct {
  char *path;
  char *tokenizer_sha256;      /* the series' tokenizer: the prompts' ids are its */
  StrataPromptSet *prompts;    /* a copy of the series' set */
  StrataAnalysisRequest req;   /* as the series ran it (sites borrowed from the series) */
  int layer;
  gint *progress;
  const StrataBackend *backend; /* the window's device and precision */
  StrataPrecision precision;
  StrataModel *model;
  StrataEngine *engine;
  StrataAnalysis *analysis;
} CheckpointJob;

static void
checkpoint_job_free (CheckpointJob *j)
{
  g_free (j->path);
  g_free (j->tokenizer_sha256);
  if (j->prompts)
    strata_prompt_set_free (j->prompts);
  if (j->analysis)
    strata_analysis_free (j->analysis);
  if (j->engine)
    strata_engine_free (j->engine);
  if (j->model)
    strata_model_free (j->model);
  g_free (j);
}

static void
checkpoint_progress_cb (double fraction, gpointer data)
{
  CheckpointJob *j = data;
  g_atomic_int_set (j->progress, (int) (1000.0 * fraction));
}

static void
checkpoint_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  CheckpointJob *j = data;
  GError *error = NULL;
  StrataOpenOptions oo = { NULL, strata_matrix_policy_for (j->backend) };
  if (!(j->model = strata_model_open_with (j->path, &oo, &error))) {
    g_task_return_error (task, error);
    return;
  }
  const char *sha = j->model->tokenizer ? strata_tokenizer_get_sha256 (j->model->tokenizer) : "";
  if (j->tokenizer_sha256 && g_strcmp0 (sha ? sha : "", j->tokenizer_sha256) != 0) {
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: its tokenizer is not the one the series "
                             "was run with (it changed on disk since)", j->path);
    return;
  }
  if (!(j->engine = _strata_window_engine_new (j->backend, j->precision, j->model, &error))) {
    g_prefix_error (&error, "%s: ", j->path);
    g_task_return_error (task, error);
    return;
  }
  j->req.progress = checkpoint_progress_cb;
  j->req.progress_data = j;
  j->req.cancellable = cancellable;
  j->analysis = strata_analysis_run (j->engine, j->model, g_steal_pointer (&j->prompts), &j->req, NULL, &error);
  if (!j->analysis)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
checkpoint_open_done_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  StrataWindow *self = STRATA_WINDOW (source);
  CheckpointJob *j = g_task_get_task_data (G_TASK (result));
  if (!_strata_window_finish_job (self, result))
    return;
  _strata_window_hide_error (self);
  _strata_window_set_model (self, 0, g_steal_pointer (&j->model));
  self->engine[0] = g_steal_pointer (&j->engine);
  /* The second checkpoint's analysis read other prompts or another model: not beside this. */
  strata_view_model_set_compare (self->view, FALSE);
  strata_view_model_set_analysis (self->view, 0, g_steal_pointer (&j->analysis), (GDestroyNotify) strata_analysis_free);
  /* The curves at the layer, named position, tag and target the series showed: the MRR over
   * the set, the quantity the series' resolution layer is read from. */
  gtk_stack_set_visible_child (GTK_STACK (self->stack), self->figures[STRATA_FIGURE_TOKEN_CURVES]);
  strata_view_model_set_curve (self->view, STRATA_CURVE_MRR);
  strata_view_model_set_layer (self->view, j->layer >= 0 ? j->layer : strata_view_model_get_max_layer (self->view));
  _strata_window_refresh_targets (self);
  _strata_window_sync_controls (self);
  _strata_window_update_cards (self);
  _strata_window_update_title (self);
  _strata_window_set_dirty (self, TRUE);
  _strata_window_update_actions (self);
}

void
_strata_window_open_series_checkpoint (StrataWindow *self, int run, int checkpoint, int layer)
{
  StrataSeries *s = strata_view_model_get_series (self->view);
  if (!s)
    return;
  if (_strata_window_is_busy (self)) {
    strata_window_show_error (self, "Wait for the running job to finish or cancel it first.");
    return;
  }
  StrataFigureInput in;
  strata_view_model_fill_input (self->view, STRATA_FIGURE_SERIES_HEATMAP, &in);
  int open_layer;
  const StrataSeriesCheckpoint *cp = strata_figure_series_pick (&in, run, checkpoint, layer, &open_layer);
  if (!cp)
    return;
  if (!s->prompts || !cp->path) {
    strata_window_show_error (self, "This series holds no prompt set or checkpoint path to open the checkpoint with.");
    return;
  }
  _strata_window_example_forget (self);
  CheckpointJob *j = g_new0 (CheckpointJob, 1);
  j->path = g_strdup (cp->path);
  j->tokenizer_sha256 = g_strdup (s->tokenizer_sha256);
  j->prompts = strata_prompt_set_copy (s->prompts);
  strata_series_init_analysis_request (s, TRUE, &j->req);
  j->req.attention = TRUE;
  j->layer = open_layer;
  j->backend = _strata_window_get_backend (self);
  j->precision = _strata_window_get_precision (self);
  j->progress = &self->progress_permille;
  g_autofree char *what = g_strdup_printf ("Opening %s (step %" G_GINT64_FORMAT ")…", cp->label ? cp->label : cp->path,
                                           cp->step);
  _strata_window_start_job (self, what, j, (GDestroyNotify) checkpoint_job_free, checkpoint_thread,
                            checkpoint_open_done_cb);
}
