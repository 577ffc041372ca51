/* strata-window-actions.c: the window's actions (menu, buttons, shortcuts) and export. */
#include "strata-window-private.h"

static void
open_chooser_response_cb (GtkNativeDialog *dialog, int response, StrataWindow *self)
{
  int slot = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (dialog), "slot"));
  if (response == GTK_RESPONSE_ACCEPT) {
    g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
    g_autofree char *path = g_file_get_path (file);
    if (path)
      strata_window_open_model (self, path, slot, slot == 0);
  }
  g_object_unref (dialog);
}

static void
choose_model (StrataWindow *self, int slot, gboolean folder)
{
  GtkFileChooserNative *dialog = gtk_file_chooser_native_new (
    slot == 0 ? (folder ? "Open Model Folder" : "Open Model") : "Open Second Checkpoint", GTK_WINDOW (self),
    folder ? GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER : GTK_FILE_CHOOSER_ACTION_OPEN, "_Open", "_Cancel");
  if (!folder) {
    GtkFileFilter *f = gtk_file_filter_new ();
    gtk_file_filter_set_name (f, "Checkpoints (.safetensors, .gguf, .bin)");
    gtk_file_filter_add_pattern (f, "*.safetensors");
    gtk_file_filter_add_pattern (f, "*.gguf");
    gtk_file_filter_add_pattern (f, "*.bin");
    gtk_file_filter_add_pattern (f, "*.json");
    gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), f);
    g_object_unref (f);
  }
  g_object_set_data (G_OBJECT (dialog), "slot", GINT_TO_POINTER (slot));
  g_signal_connect (dialog, "response", G_CALLBACK (open_chooser_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
open_model_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  choose_model (STRATA_WINDOW (data), 0, FALSE);
}

static void
open_folder_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  choose_model (STRATA_WINDOW (data), 0, TRUE);
}

static void
open_compare_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  choose_model (STRATA_WINDOW (data), 1, FALSE);
}

static void
open_series_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  _strata_window_choose_series (STRATA_WINDOW (data));
}

static void
prompts_response_cb (GtkNativeDialog *dialog, int response, StrataWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT) {
    g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
    g_autofree char *path = g_file_get_path (file);
    if (path)
      strata_window_set_prompt_set (self, path);
  }
  _strata_window_resume_series (self, FALSE); /* no set chosen: the series that waited for one is dropped */
  g_object_unref (dialog);
}

void
strata_window_set_prompt_set (StrataWindow *self, const char *path)
{
  g_free (self->prompt_set_path);
  self->prompt_set_path = path && *path ? g_canonicalize_filename (path, NULL) : NULL;
  g_autofree char *base = self->prompt_set_path ? g_path_get_basename (self->prompt_set_path) : NULL;
  gtk_label_set_text (GTK_LABEL (self->prompt_set_label), base ? base : "");
  gtk_widget_set_tooltip_text (self->prompt_set_label, self->prompt_set_path);
  gtk_widget_set_visible (self->prompt_set_clear, self->prompt_set_path != NULL);
  _strata_window_apply_default_prompt (self);
  _strata_window_resume_series (self, self->prompt_set_path != NULL);
}

static void
unload_prompts_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  strata_window_set_prompt_set (STRATA_WINDOW (data), NULL);
}

static void
load_prompts_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  StrataWindow *self = data;
  GtkFileChooserNative *dialog = gtk_file_chooser_native_new ("Load Prompt Set", GTK_WINDOW (self),
                                                              GTK_FILE_CHOOSER_ACTION_OPEN, "_Load", "_Cancel");
  GtkFileFilter *f = gtk_file_filter_new ();
  gtk_file_filter_set_name (f, "Prompt sets (JSON Lines)");
  gtk_file_filter_add_pattern (f, "*.jsonl");
  gtk_file_filter_add_pattern (f, "*.json");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), f);
  g_object_unref (f);
  g_signal_connect (dialog, "response", G_CALLBACK (prompts_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
run_lens_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  _strata_window_run_lens (STRATA_WINDOW (data), FALSE);
}

static void
run_patching_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  _strata_window_run_lens (STRATA_WINDOW (data), TRUE);
}

static void
generate_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  _strata_window_generate (STRATA_WINDOW (data));
}

static void
cancel_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  _strata_window_cancel (STRATA_WINDOW (data));
}

static void
layer_step (StrataWindow *self, int delta)
{
  strata_view_model_set_layer (self->view, strata_view_model_get_layer (self->view) + delta);
}

static void
layer_next_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  layer_step (STRATA_WINDOW (data), 1);
}

static void
layer_prev_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  layer_step (STRATA_WINDOW (data), -1);
}

static void
show_figure_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  StrataWindow *self = data;
  int k = g_variant_get_int32 (p);
  /* The series pages only while a series is loaded (their pages are visible then). */
  if (k >= 0 && k < STRATA_FIGURE_N_ALL
      && gtk_stack_page_get_visible (gtk_stack_get_page (GTK_STACK (self->stack), self->figures[k])))
    gtk_stack_set_visible_child (GTK_STACK (self->stack), self->figures[k]);
}

static void
toggle_compare_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  StrataWindow *self = data;
  const StrataViewState *v = strata_view_model_get_state (self->view);
  if (!strata_view_model_get_analysis (self->view, 1)) {
    strata_window_show_error (self, "Open a second checkpoint first (Ctrl+Shift+O), then run the lens: both models "
                                    "are analysed on the same prompts.");
    return;
  }
  strata_view_model_set_compare (self->view, !v->compare);
}

static void
focus_prompt_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  StrataWindow *self = data;
  gtk_widget_grab_focus (self->prompt_entry);
}

void
_strata_window_export_to (StrataWindow *self, const char *path)
{
  StrataFigureKind kind = _strata_window_get_visible_figure (self);
  g_autoptr (GError) error = NULL;
  /* PNG at twice the size: sharp on paper and on HiDPI screens. */
  if (!strata_figure_view_export (STRATA_FIGURE_VIEW (self->figures[kind]), path, 2.0, &error)) {
    strata_window_show_error (self, error->message);
    return;
  }
  g_autofree char *msg = g_strdup_printf ("Exported %s", path);
  gtk_widget_set_tooltip_text (self->export_button, msg);
}

static void
export_response_cb (GtkNativeDialog *dialog, int response, StrataWindow *self)
{
  if (response == GTK_RESPONSE_ACCEPT) {
    g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
    g_autofree char *path = g_file_get_path (file);
    if (path) {
      /* No recognised extension: PNG. */
      g_autofree char *lower = g_ascii_strdown (path, -1);
      if (!g_str_has_suffix (lower, ".png") && !g_str_has_suffix (lower, ".svg") && !g_str_has_suffix (lower, ".pdf")) {
        char *with = g_strconcat (path, ".png", NULL);
        g_free (path);
        path = with;
      }
      _strata_window_export_to (self, path);
    }
  }
  g_object_unref (dialog);
}

static void
export_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  StrataWindow *self = data;
  /* Non-interactive path for scripts and the GUI test: STRATA_EXPORT_PATH names the file. */
  const char *env = g_getenv ("STRATA_EXPORT_PATH");
  if (p && g_variant_is_of_type (p, G_VARIANT_TYPE_STRING) && *g_variant_get_string (p, NULL)) {
    _strata_window_export_to (self, g_variant_get_string (p, NULL));
    return;
  }
  if (env && *env) {
    _strata_window_export_to (self, env);
    return;
  }
  GtkFileChooserNative *dialog = gtk_file_chooser_native_new ("Export Figure", GTK_WINDOW (self),
                                                              GTK_FILE_CHOOSER_ACTION_SAVE, "_Export", "_Cancel");
  const char *names[][2] = { { "PNG image (2x)", "*.png" }, { "SVG drawing", "*.svg" }, { "PDF document", "*.pdf" } };
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++) {
    GtkFileFilter *f = gtk_file_filter_new ();
    gtk_file_filter_set_name (f, names[i][0]);
    gtk_file_filter_add_pattern (f, names[i][1]);
    gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), f);
    g_object_unref (f);
  }
  g_autofree char *name = g_strdup_printf ("%s.png", strata_figure_kind_to_string (_strata_window_get_visible_figure (self)));
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), name);
  g_signal_connect (dialog, "response", G_CALLBACK (export_response_cb), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
save_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  _strata_window_save (STRATA_WINDOW (data), FALSE);
}

static void
save_as_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  _strata_window_save (STRATA_WINDOW (data), TRUE);
}

static void
open_session_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  _strata_window_choose_session (STRATA_WINDOW (data));
}

static void
open_recent_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  strata_window_open_session (STRATA_WINDOW (data), g_variant_get_string (p, NULL));
}

static void
help_activated (GSimpleAction *a, GVariant *p, gpointer data)
{
  GtkWidget *dialog = gtk_message_dialog_new (GTK_WINDOW (data), GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
                                               GTK_MESSAGE_INFO, GTK_BUTTONS_CLOSE, "Keyboard shortcuts");
  gtk_message_dialog_format_secondary_text (GTK_MESSAGE_DIALOG (dialog),
    "Up / Down: next / previous layer\nPage Up / Page Down: several layers\nHome / End: embedding / last layer\n"
    "Ctrl+Return: run the lens    Ctrl+Shift+Return: run patching    Escape: cancel\n"
    "Ctrl+G: generate (the model continues the prompt), then run the lens on both\n"
    "Ctrl+E: export figure    Ctrl+L: edit the prompt    Ctrl+P: load a prompt set\n"
    "Alt+1…5: lens, curves, patching, circuit, attention    Ctrl+D: compare checkpoints\n"
    "Alt+6…8: series, accuracy, series patching (with a series open)    Alt+9: trace\n"
    "Series figures: Left / Right: checkpoint    Return: open it at the selected layer\n"
    "Long traces: Left / Right: position    + / \xe2\x88\x92 or Ctrl+wheel: zoom    wheel: scroll\n"
    "Ctrl+O: open model    Ctrl+Shift+O: second checkpoint    Ctrl+Alt+O: open session\n"
    "Ctrl+Shift+T: open a series of checkpoints (training runs)\n"
    "Ctrl+S / Ctrl+Shift+S: save session    Ctrl+W: close    Ctrl+Q: quit");
  g_signal_connect (dialog, "response", G_CALLBACK (gtk_window_destroy), NULL);
  gtk_window_present (GTK_WINDOW (dialog));
}

static const GActionEntry entries[] = {
  { "open-model", open_model_activated, NULL, NULL, NULL, { 0 } },
  { "open-folder", open_folder_activated, NULL, NULL, NULL, { 0 } },
  { "open-compare", open_compare_activated, NULL, NULL, NULL, { 0 } },
  { "open-series", open_series_activated, NULL, NULL, NULL, { 0 } },
  { "load-prompts", load_prompts_activated, NULL, NULL, NULL, { 0 } },
  { "unload-prompts", unload_prompts_activated, NULL, NULL, NULL, { 0 } },
  { "run-lens", run_lens_activated, NULL, NULL, NULL, { 0 } },
  { "run-patching", run_patching_activated, NULL, NULL, NULL, { 0 } },
  { "generate", generate_activated, NULL, NULL, NULL, { 0 } },
  { "cancel", cancel_activated, NULL, NULL, NULL, { 0 } },
  { "layer-next", layer_next_activated, NULL, NULL, NULL, { 0 } },
  { "layer-prev", layer_prev_activated, NULL, NULL, NULL, { 0 } },
  { "show-figure", show_figure_activated, "i", NULL, NULL, { 0 } },
  { "toggle-compare", toggle_compare_activated, NULL, NULL, NULL, { 0 } },
  { "focus-prompt", focus_prompt_activated, NULL, NULL, NULL, { 0 } },
  { "export", export_activated, NULL, NULL, NULL, { 0 } },
  { "export-to", export_activated, "s", NULL, NULL, { 0 } },
  { "save", save_activated, NULL, NULL, NULL, { 0 } },
  { "save-as", save_as_activated, NULL, NULL, NULL, { 0 } },
  { "open-session", open_session_activated, NULL, NULL, NULL, { 0 } },
  { "open-recent", open_recent_activated, "s", NULL, NULL, { 0 } },
  { "show-help-overlay", help_activated, NULL, NULL, NULL, { 0 } },
};

static void
set_enabled (StrataWindow *self, const char *name, gboolean enabled)
{
  GAction *a = g_action_map_lookup_action (G_ACTION_MAP (self), name);
  if (a)
    g_simple_action_set_enabled (G_SIMPLE_ACTION (a), enabled);
}

void
_strata_window_update_actions (StrataWindow *self)
{
  gboolean busy = _strata_window_is_busy (self);
  gboolean have = strata_view_model_get_analysis (self->view, 0) || strata_view_model_get_series (self->view);
  set_enabled (self, "run-lens", !busy && self->model[0]);
  set_enabled (self, "run-patching", !busy && self->model[0]);
  set_enabled (self, "generate", !busy && self->model[0]);
  set_enabled (self, "cancel", busy);
  set_enabled (self, "open-model", !busy);
  set_enabled (self, "open-folder", !busy);
  set_enabled (self, "open-compare", !busy);
  set_enabled (self, "open-series", !busy);
  set_enabled (self, "open-session", !busy);
  set_enabled (self, "open-recent", !busy);
  set_enabled (self, "save", !busy && have);
  set_enabled (self, "save-as", !busy && have);
  set_enabled (self, "device", !busy);
}

void
_strata_window_install_actions (StrataWindow *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), entries, G_N_ELEMENTS (entries), self);
  _strata_window_update_actions (self);
}
