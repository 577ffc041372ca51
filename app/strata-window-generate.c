/* strata-window-generate.c: Generate in the window. The model continues the typed prompt on
 * the window's engine (the chosen device) in a background job: greedy, or sampled with a
 * temperature, top-p and a seed; it stops after N tokens, at the model's end of sequence, at
 * a stop string, or on Cancel (Escape) between tokens or within a pass, keeping what it made.
 * The tokens appear in the trace under the prompt as they come. When it ends, the prompt and
 * its continuation become the analysed sequence: the lens runs on them with n_generated set,
 * so every figure marks where the generation begins and a saved session records it.
 *
 * The generation is kept as exact ids (StrataWindow.generation), not as text in the prompt
 * entry: the decoded continuation tokenized again may give other ids (pieces merge across the
 * boundary, a character split over byte tokens). Run reads those ids while the entry holds
 * the prompt they continued; editing the prompt forgets them and Run reads the typed text.
 *
 * Streaming stays cheap per token: the job's thread appends each id to a locked array; a
 * timeout on the main loop decodes what has come (from the start of the sequence, as a
 * decoder that joins pieces needs) and appends the new text to the trace, and shows the rate
 * in tokens/s and the device in the progress line. */
#include <string.h>

#include "strata-generate.h"
#include "strata-window-private.h"

#define TRACE_TICK_MS 50

typedef struct {
  StrataWindow *window;    /* borrowed: the GTask holds it */
  StrataModel *model;      /* borrowed: the window keeps them while it is busy */
  StrataEngine *engine;
  char *stop;
  StrataGenerateOptions go;
  const char *device;      /* the engine's backend */
  StrataPrompt *prompt;    /* on the job's thread while it runs: its ids grow */
  gint64 started;          /* monotonic µs */
  double seconds;          /* the generation's wall time, once it ended */

  GMutex lock;             /* guards streamed */
  GArray *streamed;        /* int32_t: the prompt's ids and the continuation so far */

  /* Main loop only. */
  guint n_prompt;          /* ids of the prompt */
  char *prompt_decoded;    /* the prompt's ids decoded: the continuation's text follows it */
  GString *shown;          /* the continuation's text in the trace */
  guint shown_ids;
} GenerateJob;

static void
generate_job_free (GenerateJob *j)
{
  g_free (j->stop);
  if (j->prompt)
    strata_prompt_free (j->prompt);
  g_mutex_clear (&j->lock);
  g_array_unref (j->streamed);
  g_free (j->prompt_decoded);
  g_string_free (j->shown, TRUE);
  g_free (j);
}

/* ---- the trace ---- */

static GtkTextBuffer *
trace_buffer (StrataWindow *self)
{
  return gtk_text_view_get_buffer (GTK_TEXT_VIEW (self->trace_view));
}

/* Show `text` as the continuation. Usually it extends what is shown; when a later token
 * changed how earlier ones decode (a character split over byte tokens), it replaces it. */
static void
trace_set_continuation (StrataWindow *self, GenerateJob *j, const char *text)
{
  GtkTextBuffer *b = trace_buffer (self);
  GtkTextIter from, end;
  gtk_text_buffer_get_end_iter (b, &end);
  if (!g_str_has_prefix (text, j->shown->str)) {
    gtk_text_buffer_get_iter_at_offset (b, &from, gtk_text_buffer_get_char_count (b)
                                                   - (int) g_utf8_strlen (j->shown->str, -1));
    gtk_text_buffer_delete (b, &from, &end);
    g_string_truncate (j->shown, 0);
  }
  gtk_text_buffer_insert_with_tags_by_name (b, &end, text + j->shown->len, -1, "generated", NULL);
  g_string_assign (j->shown, text);
  gtk_text_view_scroll_mark_onscreen (GTK_TEXT_VIEW (self->trace_view), gtk_text_buffer_get_mark (b, "end"));
}

/* The continuation's text: what decoding the whole sequence adds to the decoded prompt (a
 * decoder may treat the first piece of a text apart, e.g. drop its leading space). */
static char *
continuation_text (GenerateJob *j, const GArray *ids)
{
  StrataTokenizer *tok = j->model->tokenizer;
  g_autofree char *all = strata_tokenizer_decode (tok, (const int32_t *) ids->data, ids->len);
  if (g_str_has_prefix (all, j->prompt_decoded))
    return g_strdup (all + strlen (j->prompt_decoded));
  return strata_tokenizer_decode (tok, (const int32_t *) ids->data + j->n_prompt, ids->len - j->n_prompt);
}

/* Bring the trace and the progress line up to date with what the job has made. */
static void
show_progress (GenerateJob *j, double seconds)
{
  StrataWindow *self = j->window;
  g_mutex_lock (&j->lock);
  g_autoptr (GArray) ids = j->streamed->len != j->shown_ids + j->n_prompt ? g_array_copy (j->streamed) : NULL;
  g_mutex_unlock (&j->lock);
  if (ids) {
    g_autofree char *text = continuation_text (j, ids);
    trace_set_continuation (self, j, text);
    j->shown_ids = ids->len - j->n_prompt;
  }
  int n = (int) j->shown_ids;
  g_autofree char *status = g_strdup_printf ("%d of %d tokens, %.1f tokens/s on %s", n, j->go.n,
                                             seconds > 0 ? n / seconds : 0.0, j->device);
  gtk_label_set_text (GTK_LABEL (self->trace_status), status);
  g_autofree char *line = g_strdup_printf ("Generating: %s", status);
  gtk_label_set_text (GTK_LABEL (self->progress_label), line);
  g_atomic_int_set (&self->progress_permille, j->go.n > 0 ? 1000 * n / j->go.n : 1000);
}

static gboolean
trace_tick_cb (gpointer data)
{
  GenerateJob *j = data;
  show_progress (j, (g_get_monotonic_time () - j->started) / 1e6);
  return G_SOURCE_CONTINUE;
}

/* ---- the job ---- */

/* On the job's thread, with each new token. */
static gboolean
streamed_cb (int32_t id, gpointer data)
{
  GenerateJob *j = data;
  g_mutex_lock (&j->lock);
  g_array_append_val (j->streamed, id);
  g_mutex_unlock (&j->lock);
  return TRUE;
}

static void
generate_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  GenerateJob *j = data;
  GError *error = NULL;
  j->go.cancellable = cancellable;
  gboolean ok = strata_generate_prompt (j->engine, j->model, j->prompt, &j->go, streamed_cb, j, &error);
  j->seconds = (g_get_monotonic_time () - j->started) / 1e6;
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/* Why the generation made fewer tokens than asked, for the banner; NULL when it made them all. */
static char *
end_note (GenerateJob *j, gboolean cancelled)
{
  int n = j->prompt->n_generated;
  const char *s = n == 1 ? "" : "s";
  if (cancelled)
    return g_strdup_printf ("Generation cancelled after %d token%s; the lens reads the prompt and the tokens "
                            "generated so far.", n, s);
  if (n >= j->go.n)
    return NULL;
  if ((int) j->prompt->ids->len >= j->model->weights->cfg.n_ctx)
    return g_strdup_printf ("Generation stopped after %d token%s: the model's context of %d tokens is full.", n, s,
                            j->model->weights->cfg.n_ctx);
  if (j->stop && strstr (j->shown->str, j->stop))
    return g_strdup_printf ("Generation stopped after %d token%s at the stop string \xe2\x80\x9c%s\xe2\x80\x9d.", n, s,
                            j->stop);
  return g_strdup_printf ("Generation stopped after %d token%s: the model ended the text (end of sequence).", n, s);
}

static void
generate_done_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  StrataWindow *self = STRATA_WINDOW (source);
  GenerateJob *j = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;
  gboolean ok = g_task_propagate_boolean (G_TASK (result), &error);
  g_clear_handle_id (&self->trace_source, g_source_remove);
  show_progress (j, j->seconds);
  _strata_window_end_job (self);
  gtk_editable_set_editable (GTK_EDITABLE (self->prompt_entry), TRUE);
  gboolean cancelled = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  if (!ok && !cancelled) {
    strata_window_show_error (self, error->message);
    return;
  }
  self->generation_note = end_note (j, cancelled);
  self->generation = g_steal_pointer (&j->prompt);
  _strata_window_run_lens (self, FALSE);
}

void
_strata_window_generate (StrataWindow *self)
{
  if (_strata_window_is_busy (self))
    return;
  if (!self->model[0]) {
    strata_window_show_error (self, "Open a model first (Ctrl+O).");
    return;
  }
  if (self->prompt_set_path) {
    strata_window_show_error (self, "Generate continues the typed prompt: unload the prompt set first (the button "
                                    "beside its name).");
    return;
  }
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->prompt_entry));
  if (!*text) {
    strata_window_show_error (self, "Type a prompt for the model to continue.");
    return;
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataPromptSet) set = strata_prompt_set_new_single (self->model[0], text, NULL, 0, NULL, NULL, NULL,
                                                                  &error);
  if (!set) {
    strata_window_show_error (self, error->message);
    return;
  }
  _strata_window_forget_generation (self);
  GenerateJob *j = g_new0 (GenerateJob, 1);
  j->window = self;
  j->model = self->model[0];
  j->engine = self->engine[0];
  j->device = strata_engine_get_backend (j->engine)->name;
  const char *stop = gtk_editable_get_text (GTK_EDITABLE (self->gen_stop));
  j->stop = *stop ? g_strdup (stop) : NULL;
  j->go = (StrataGenerateOptions) {
    .n = gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (self->gen_tokens)),
    .temperature = gtk_spin_button_get_value (GTK_SPIN_BUTTON (self->gen_temperature)),
    .top_p = gtk_spin_button_get_value (GTK_SPIN_BUTTON (self->gen_top_p)),
    .seed = (guint32) gtk_spin_button_get_value (GTK_SPIN_BUTTON (self->gen_seed)),
    .stop = j->stop,
  };
  j->prompt = g_ptr_array_steal_index (set->prompts, 0);
  g_mutex_init (&j->lock);
  j->streamed = g_array_copy (j->prompt->ids);
  j->n_prompt = j->prompt->ids->len;
  j->prompt_decoded = strata_tokenizer_decode (j->model->tokenizer, (const int32_t *) j->prompt->ids->data,
                                               j->n_prompt);
  j->shown = g_string_new (NULL);

  gtk_text_buffer_set_text (trace_buffer (self), text, -1);
  gtk_widget_set_visible (self->trace_box, TRUE);
  gtk_editable_set_editable (GTK_EDITABLE (self->prompt_entry), FALSE); /* the text being continued */
  g_autofree char *what = g_strdup_printf ("Generating on %s\xe2\x80\xa6", j->device);
  j->started = g_get_monotonic_time ();
  _strata_window_start_job (self, what, j, (GDestroyNotify) generate_job_free, generate_thread, generate_done_cb);
  g_atomic_int_set (&self->progress_permille, 0);
  self->trace_source = g_timeout_add (TRACE_TICK_MS, trace_tick_cb, j);
}

void
_strata_window_forget_generation (StrataWindow *self)
{
  if (!self->generation)
    return;
  g_clear_pointer (&self->generation, strata_prompt_free);
  g_clear_pointer (&self->generation_note, g_free);
  gtk_label_set_text (GTK_LABEL (self->trace_status), "Not analysed any more: Run reads the prompt as typed.");
}

static void
prompt_changed_cb (GtkEditable *entry, StrataWindow *self)
{
  if (self->generation && g_strcmp0 (gtk_editable_get_text (entry), self->generation->text) != 0)
    _strata_window_forget_generation (self);
}

/* ---- construction ---- */

static GtkWidget *
setting (GtkWidget *grid, int row, const char *label, GtkWidget *w, const char *tooltip)
{
  GtkWidget *l = gtk_label_new_with_mnemonic (label);
  gtk_label_set_xalign (GTK_LABEL (l), 0);
  gtk_label_set_mnemonic_widget (GTK_LABEL (l), w);
  gtk_widget_set_tooltip_text (w, tooltip);
  gtk_grid_attach (GTK_GRID (grid), l, 0, row, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), w, 1, row, 1, 1);
  return w;
}

static GtkWidget *
spin (double min, double max, double step, guint digits, double value)
{
  GtkWidget *s = gtk_spin_button_new_with_range (min, max, step);
  gtk_spin_button_set_digits (GTK_SPIN_BUTTON (s), digits);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (s), value);
  return s;
}

/* Max new tokens, temperature, top-p, seed and stop string, as `strata generate` reads them;
 * the defaults are greedy, 64 tokens. */
static GtkWidget *
settings_popover (StrataWindow *self)
{
  GtkWidget *grid = gtk_grid_new ();
  gtk_grid_set_row_spacing (GTK_GRID (grid), 6);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 12);
  self->gen_tokens = setting (grid, 0, "_Max new tokens", spin (1, 100000, 1, 0, 64),
                              "Stop after this many tokens (or earlier: end of sequence, stop string, full context)");
  self->gen_temperature = setting (grid, 1, "_Temperature", spin (0, 100, 0.1, 2, 0),
                                   "0: greedy (the most probable token); above 0: sample from softmax(logits / T)");
  self->gen_top_p = setting (grid, 2, "Top-_p", spin (0.01, 1, 0.05, 2, 1),
                             "Sample from the most probable tokens holding this much probability (1: all)");
  self->gen_seed = setting (grid, 3, "S_eed", spin (0, G_MAXINT32, 1, 0, 0),
                            "Seed of the sampler: the same seed gives the same tokens");
  self->gen_stop = setting (grid, 4, "_Stop string", gtk_entry_new (), "Stop once the generated text contains this");
  gtk_entry_set_placeholder_text (GTK_ENTRY (self->gen_stop), "optional");
  GtkWidget *popover = gtk_popover_new ();
  gtk_popover_set_child (GTK_POPOVER (popover), grid);
  return popover;
}

GtkWidget *
_strata_window_generate_box_new (StrataWindow *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *generate = gtk_button_new_with_label ("Generate");
  gtk_widget_set_tooltip_text (generate, "Let the model continue the prompt, then run the lens on both (Ctrl+G)");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (generate), "win.generate");
  gtk_widget_set_hexpand (generate, TRUE);
  GtkWidget *settings = gtk_menu_button_new ();
  gtk_menu_button_set_icon_name (GTK_MENU_BUTTON (settings), "emblem-system-symbolic");
  gtk_widget_set_tooltip_text (settings, "How to generate: number of tokens, temperature, top-p, seed, stop string");
  gtk_accessible_update_property (GTK_ACCESSIBLE (settings), GTK_ACCESSIBLE_PROPERTY_LABEL, "Generation settings", -1);
  gtk_menu_button_set_popover (GTK_MENU_BUTTON (settings), settings_popover (self));
  gtk_box_append (GTK_BOX (row), generate);
  gtk_box_append (GTK_BOX (row), settings);
  gtk_box_append (GTK_BOX (box), row);

  /* The prompt as typed, then the continuation in the accent colour. */
  GtkTextBuffer *buffer = gtk_text_buffer_new (NULL);
  gtk_text_buffer_create_tag (buffer, "generated", "foreground", "#3584e4", "weight", PANGO_WEIGHT_BOLD, NULL);
  GtkTextIter end;
  gtk_text_buffer_get_end_iter (buffer, &end);
  gtk_text_buffer_create_mark (buffer, "end", &end, FALSE);
  self->trace_view = gtk_text_view_new_with_buffer (buffer);
  g_object_unref (buffer);
  gtk_text_view_set_editable (GTK_TEXT_VIEW (self->trace_view), FALSE);
  gtk_text_view_set_cursor_visible (GTK_TEXT_VIEW (self->trace_view), FALSE);
  gtk_text_view_set_wrap_mode (GTK_TEXT_VIEW (self->trace_view), GTK_WRAP_WORD_CHAR);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->trace_view), GTK_ACCESSIBLE_PROPERTY_LABEL, "Generated text",
                                  -1);
  GtkWidget *scroller = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_propagate_natural_height (GTK_SCROLLED_WINDOW (scroller), TRUE);
  gtk_scrolled_window_set_min_content_height (GTK_SCROLLED_WINDOW (scroller), 96);
  gtk_scrolled_window_set_max_content_height (GTK_SCROLLED_WINDOW (scroller), 180);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), self->trace_view);
  gtk_widget_add_css_class (scroller, "frame");
  self->trace_status = gtk_label_new ("");
  gtk_label_set_xalign (GTK_LABEL (self->trace_status), 0);
  gtk_label_set_wrap (GTK_LABEL (self->trace_status), TRUE);
  gtk_widget_add_css_class (self->trace_status, "dim-label");
  self->trace_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 3);
  gtk_box_append (GTK_BOX (self->trace_box), scroller);
  gtk_box_append (GTK_BOX (self->trace_box), self->trace_status);
  gtk_widget_set_visible (self->trace_box, FALSE);
  gtk_box_append (GTK_BOX (box), self->trace_box);
  g_signal_connect (self->prompt_entry, "changed", G_CALLBACK (prompt_changed_cb), self);
  return box;
}
