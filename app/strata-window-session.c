/* strata-window-session.c: Save, Save As, Open session, and the question about unsaved work.
 * Saving and opening go through probes/strata-session (atomic HDF5 files). */
#include "strata-session.h"
#include "strata-window-private.h"

static void
refresh_recent (StrataWindow *self)
{
  GMenu *recent = g_object_get_data (G_OBJECT (self), "recent-menu");
  if (recent)
    _strata_window_rebuild_recent_menu (self, recent);
}

/* Build a session that borrows the window's analyses and series; nothing is copied. */
static gboolean
save_to (StrataWindow *self, const char *path, GError **error)
{
  g_autoptr (StrataSession) s = strata_session_new ();
  if (!s->analyses)
    s->analyses = g_ptr_array_new ();
  for (int i = 0; i < 2; i++) {
    StrataAnalysis *a = strata_view_model_get_analysis (self->view, i);
    if (a)
      g_ptr_array_add (s->analyses, a);
  }
  s->series = strata_view_model_get_series (self->view);
  strata_view_state_clear (&s->view);
  s->view = *strata_view_model_get_state (self->view);
  s->view.target = g_strdup (s->view.target);
  s->view.tag = g_strdup (s->view.tag);
  s->view.figure = _strata_window_get_visible_figure (self);
  gboolean ok = strata_session_save (s, path, error);
  s->series = NULL;
  while (s->analyses->len > 0)               /* hand the borrowed analyses back */
    g_ptr_array_steal_index (s->analyses, s->analyses->len - 1);
  return ok;
}

typedef enum { AFTER_NOTHING, AFTER_CLOSE } AfterSave;

static gboolean
save_path (StrataWindow *self, const char *path)
{
  g_autoptr (GError) error = NULL;
  if (!save_to (self, path, &error)) {
    strata_window_show_error (self, error->message);
    return FALSE;
  }
  if (path != self->session_path) {
    g_free (self->session_path);
    self->session_path = g_strdup (path);
  }
  _strata_window_recent_add (path);
  refresh_recent (self);
  _strata_window_set_dirty (self, FALSE);
  return TRUE;
}

static void
save_response_cb (GtkNativeDialog *dialog, int response, StrataWindow *self)
{
  AfterSave after = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (dialog), "after"));
  gboolean close_after = FALSE;
  if (response == GTK_RESPONSE_ACCEPT) {
    g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
    g_autofree char *path = g_file_get_path (file);
    if (path && !g_str_has_suffix (path, ".h5")) {
      char *with = g_strconcat (path, ".h5", NULL);
      g_free (path);
      path = with;
    }
    close_after = path && save_path (self, path) && after == AFTER_CLOSE;
  }
  /* Let go of the dialog before closing the window it belongs to. */
  gtk_native_dialog_set_transient_for (dialog, NULL);
  g_object_unref (dialog);
  if (close_after) {
    self->close_confirmed = TRUE;
    gtk_window_close (GTK_WINDOW (self));
  }
}

static void
save_with_after (StrataWindow *self, gboolean save_as, AfterSave after)
{
  StrataAnalysis *a = strata_view_model_get_analysis (self->view, 0);
  StrataSeries *series = strata_view_model_get_series (self->view);
  if (!a && !series) {
    strata_window_show_error (self, "Nothing to save yet: run the lens first.");
    return;
  }
  if (!save_as && self->session_path) {
    if (save_path (self, self->session_path) && after == AFTER_CLOSE) {
      self->close_confirmed = TRUE;
      gtk_window_close (GTK_WINDOW (self));
    }
    return;
  }
  GtkFileChooserNative *dialog = gtk_file_chooser_native_new ("Save Session", GTK_WINDOW (self),
                                                              GTK_FILE_CHOOSER_ACTION_SAVE, "_Save", "_Cancel");
  GtkFileFilter *f = gtk_file_filter_new ();
  gtk_file_filter_set_name (f, "Strata sessions (HDF5)");
  gtk_file_filter_add_pattern (f, "*.h5");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), f);
  g_object_unref (f);
  const char *stem = a && a->model.name ? a->model.name
                     : series && series->runs->len > 0 ? ((StrataTrainingRun *) series->runs->pdata[0])->name
                                                       : "session";
  g_autofree char *name = g_strdup_printf ("%s.h5", stem);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), name);
  g_object_set_data (G_OBJECT (dialog), "after", GINT_TO_POINTER (after));
  g_signal_connect (dialog, "response", G_CALLBACK (save_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

void
_strata_window_save (StrataWindow *self, gboolean save_as)
{
  save_with_after (self, save_as, AFTER_NOTHING);
}

static void
open_response_cb (GtkNativeDialog *dialog, int response, StrataWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT) {
    g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
    g_autofree char *path = g_file_get_path (file);
    if (path)
      strata_window_open_session (self, path);
  }
  g_object_unref (dialog);
}

void
_strata_window_choose_session (StrataWindow *self)
{
  GtkFileChooserNative *dialog = gtk_file_chooser_native_new ("Open Session", GTK_WINDOW (self),
                                                              GTK_FILE_CHOOSER_ACTION_OPEN, "_Open", "_Cancel");
  GtkFileFilter *f = gtk_file_filter_new ();
  gtk_file_filter_set_name (f, "Strata sessions (HDF5)");
  gtk_file_filter_add_pattern (f, "*.h5");
  gtk_file_filter_add_pattern (f, "*.hdf5");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), f);
  g_object_unref (f);
  g_signal_connect (dialog, "response", G_CALLBACK (open_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

void
strata_window_open_session (StrataWindow *self, const char *path)
{
  if (_strata_window_is_busy (self)) {
    strata_window_show_error (self, "Wait for the running job to finish or cancel it first.");
    return;
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataSession) s = strata_session_load (path, &error);
  if (!s) {
    strata_window_show_error (self, error->message);
    return;
  }
  _strata_window_example_forget (self);
  guint n_analyses = s->analyses ? s->analyses->len : 0;
  if (n_analyses == 0 && !s->series) {
    g_autofree char *msg = g_strdup_printf ("%s: the session holds no analysis", path);
    strata_window_show_error (self, msg);
    return;
  }
  /* Take the analyses and the series out of the session; the view model owns them from now on. */
  if (n_analyses > 2) /* more than two checkpoints: the window shows the first two */
    g_ptr_array_set_size (s->analyses, n_analyses = 2);
  StrataAnalysis *taken[2] = { NULL, NULL };
  for (int i = (int) n_analyses - 1; i >= 0; i--)
    taken[i] = g_ptr_array_steal_index (s->analyses, (guint) i);
  /* Before the view state: a series figure's layer and position are the series'. */
  strata_view_model_set_series (self->view, g_steal_pointer (&s->series), (GDestroyNotify) strata_series_free);
  _strata_window_update_series_pages (self);
  for (int i = 0; i < 2; i++) {
    StrataAnalysis *a = taken[i];
    strata_view_model_set_analysis (self->view, i, a, (GDestroyNotify) strata_analysis_free);
    /* A loaded model that is not the session's checkpoint would mislabel the card. */
    if (self->model[i] && (!a || g_strcmp0 (a->model.weights_sha256, strata_model_get_weights_sha256 (self->model[i])) != 0))
      _strata_window_set_model (self, i, NULL);
  }
  strata_view_model_set_state (self->view, &s->view);
  if (s->view.figure >= 0 && s->view.figure < STRATA_FIGURE_N_ALL
      && (!STRATA_FIGURE_IS_SERIES (s->view.figure) || strata_view_model_get_series (self->view)))
    gtk_stack_set_visible_child (GTK_STACK (self->stack), self->figures[s->view.figure]);
  g_free (self->session_path);
  self->session_path = g_strdup (path);
  _strata_window_recent_add (path);
  refresh_recent (self);
  _strata_window_refresh_targets (self);
  _strata_window_sync_controls (self);
  _strata_window_update_cards (self);
  _strata_window_set_dirty (self, FALSE);
  _strata_window_update_actions (self);

  /* Say plainly when the checkpoint on disk is not the one the session was made with. */
  StrataAnalysis *a = strata_view_model_get_analysis (self->view, 0);
  g_autofree char *changed = self->model[0] || !a ? NULL : strata_analysis_check_model (a);
  if (changed) {
    g_autofree char *msg = g_strdup_printf ("%c%s.", g_ascii_toupper (changed[0]), changed + 1);
    _strata_window_show_info (self, msg);
  } else {
    _strata_window_hide_error (self);
  }
}

static void
unsaved_response_cb (GtkDialog *dialog, int response, StrataWindow *self)
{
  /* The dialog outlives this handler (the emission holds it) and may outlive the window
   * closed below; unparent it now, or its dispose disconnects from a freed window. */
  gtk_window_set_transient_for (GTK_WINDOW (dialog), NULL);
  gtk_window_destroy (GTK_WINDOW (dialog));
  if (response == GTK_RESPONSE_ACCEPT) {
    save_with_after (self, FALSE, AFTER_CLOSE);
  } else if (response == GTK_RESPONSE_REJECT) {
    self->close_confirmed = TRUE;
    gtk_window_close (GTK_WINDOW (self));
  }
}

gboolean
_strata_window_confirm_close (StrataWindow *self)
{
  if (self->close_confirmed || !self->dirty || g_getenv ("STRATA_NO_UNSAVED_PROMPT"))
    return TRUE;
  GtkWidget *dialog = gtk_message_dialog_new (GTK_WINDOW (self), GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
                                              GTK_MESSAGE_QUESTION, GTK_BUTTONS_NONE,
                                              "Save the analysis before closing?");
  gtk_message_dialog_format_secondary_text (GTK_MESSAGE_DIALOG (dialog),
                                            "The results of this window have not been saved to a session file.");
  gtk_dialog_add_buttons (GTK_DIALOG (dialog), "Close _without Saving", GTK_RESPONSE_REJECT, "_Cancel",
                          GTK_RESPONSE_CANCEL, "_Save", GTK_RESPONSE_ACCEPT, NULL);
  gtk_dialog_set_default_response (GTK_DIALOG (dialog), GTK_RESPONSE_ACCEPT);
  g_signal_connect (dialog, "response", G_CALLBACK (unsaved_response_cb), self);
  gtk_window_present (GTK_WINDOW (dialog));
  return FALSE;
}
