/* strata-application.c: application-wide actions, accelerators and the way files open. */
#include "strata-application.h"

#include <stdio.h>

#include "strata-config.h"
#include "strata-examples.h"
#include "strata-window.h"

struct _StrataApplication {
  GtkApplication parent_instance;
  char *prompts;   /* --prompts FILE: the prompt set new windows run instead of a typed prompt */
  char **series;   /* --series DIR (once or twice): training runs the first window opens as a series */
};

G_DEFINE_FINAL_TYPE (StrataApplication, strata_application, GTK_TYPE_APPLICATION)

static gboolean
is_session (GFile *file)
{
  g_autofree char *name = g_file_get_basename (file);
  return name && (g_str_has_suffix (name, ".h5") || g_str_has_suffix (name, ".hdf5"));
}

/* --series: a window running the prompt set over the training runs, instead of a model. */
static gboolean
open_series_window (StrataApplication *self)
{
  g_auto (GStrv) series = g_steal_pointer (&self->series);
  if (!series)
    return FALSE;
  StrataWindow *w = strata_window_new (self);
  strata_window_set_prompt_set (w, self->prompts);
  strata_window_open_series (w, (const char *const *) series);
  gtk_window_present (GTK_WINDOW (w));
  return TRUE;
}

/* With no argument: the first bundled example that is installed (the two-hop comparison),
 * else a banner saying how to open a checkpoint. */
static void
strata_application_activate (GApplication *app)
{
  if (open_series_window (STRATA_APPLICATION (app)))
    return;
  GtkWindow *win = gtk_application_get_active_window (GTK_APPLICATION (app));
  if (!win) {
    StrataWindow *w = strata_window_new (STRATA_APPLICATION (app));
    gsize i = 0;
    while (i < strata_n_examples && !strata_example_available (&strata_examples[i]))
      i++;
    if (STRATA_APPLICATION (app)->prompts && i < strata_n_examples && !strata_examples[i].prompts)
      strata_window_set_prompt_set (w, STRATA_APPLICATION (app)->prompts);
    if (i < strata_n_examples)
      strata_window_open_example (w, &strata_examples[i]);
    else
      strata_window_show_error (w, "The bundled examples are not installed: open a checkpoint with Ctrl+O.");
    win = GTK_WINDOW (w);
  }
  gtk_window_present (win);
}

/* app.open-example('ID'): each example in a window of its own, so the one open stays. */
static void
open_example_activated (GSimpleAction *action, GVariant *param, gpointer app)
{
  const StrataExample *example = strata_example_lookup (g_variant_get_string (param, NULL));
  if (!example)
    return;
  StrataWindow *w = strata_window_new (STRATA_APPLICATION (app));
  strata_window_open_example (w, example);
  gtk_window_present (GTK_WINDOW (w));
}

static void
strata_application_open (GApplication *app, GFile **files, int n_files, const char *hint)
{
  /* Two checkpoints: one window comparing them on the same prompt. */
  if (n_files == 2 && !is_session (files[0]) && !is_session (files[1])) {
    StrataWindow *w = strata_window_new (STRATA_APPLICATION (app));
    if (STRATA_APPLICATION (app)->prompts)
      strata_window_set_prompt_set (w, STRATA_APPLICATION (app)->prompts);
    g_autofree char *a = g_file_get_path (files[0]);
    g_autofree char *b = g_file_get_path (files[1]);
    strata_window_open_pair (w, a, b);
    gtk_window_present (GTK_WINDOW (w));
    return;
  }
  for (int i = 0; i < n_files; i++) {
    StrataWindow *w = strata_window_new (STRATA_APPLICATION (app));
    g_autofree char *path = g_file_get_path (files[i]);
    if (!path)
      path = g_file_get_uri (files[i]);
    if (is_session (files[i])) {
      strata_window_open_session (w, path);
    } else {
      if (STRATA_APPLICATION (app)->prompts)
        strata_window_set_prompt_set (w, STRATA_APPLICATION (app)->prompts);
      strata_window_open_model (w, path, 0, TRUE);
    }
    gtk_window_present (GTK_WINDOW (w));
  }
}

static void
quit_activated (GSimpleAction *action, GVariant *param, gpointer app)
{
  /* Close windows one by one so each can ask about unsaved work. */
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (app)); l; l = l->next)
    gtk_window_close (GTK_WINDOW (l->data));
}

static void
strata_application_startup (GApplication *app)
{
  G_APPLICATION_CLASS (strata_application_parent_class)->startup (app);
  static const GActionEntry entries[] = {
    { "quit", quit_activated, NULL, NULL, NULL, { 0 } },
    { "open-example", open_example_activated, "s", NULL, NULL, { 0 } },
  };
  g_action_map_add_action_entries (G_ACTION_MAP (app), entries, G_N_ELEMENTS (entries), app);
  static const struct { const char *action; const char *accels[3]; } accels[] = {
    { "app.quit", { "<Control>q", NULL } },
    { "win.open-model", { "<Control>o", NULL } },
    { "win.open-compare", { "<Control><Shift>o", NULL } },
    { "win.open-session", { "<Control><Alt>o", NULL } },
    { "win.open-series", { "<Control><Shift>t", NULL } },
    { "win.save", { "<Control>s", NULL } },
    { "win.save-as", { "<Control><Shift>s", NULL } },
    { "win.run-lens", { "<Control>Return", NULL } },
    { "win.run-patching", { "<Control><Shift>Return", NULL } },
    { "win.generate", { "<Control>g", NULL } },
    { "win.cancel", { "Escape", NULL } },
    { "win.export", { "<Control>e", NULL } },
    { "win.focus-prompt", { "<Control>l", NULL } },
    { "win.load-prompts", { "<Control>p", NULL } },
    { "win.toggle-compare", { "<Control>d", NULL } },
    { "win.show-figure(0)", { "<Alt>1", NULL } },
    { "win.show-figure(1)", { "<Alt>2", NULL } },
    { "win.show-figure(2)", { "<Alt>3", NULL } },
    { "win.show-figure(3)", { "<Alt>4", NULL } },
    { "win.show-figure(4)", { "<Alt>5", NULL } },
    /* Alt+6..8 stay the series pages they were before the trace figure (index 5) came; it
     * takes Alt+9. */
    { "win.show-figure(6)", { "<Alt>6", NULL } },
    { "win.show-figure(7)", { "<Alt>7", NULL } },
    { "win.show-figure(8)", { "<Alt>8", NULL } },
    { "win.show-figure(5)", { "<Alt>9", NULL } },
    { "window.close", { "<Control>w", NULL } },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (GTK_APPLICATION (app), accels[i].action, accels[i].accels);

  /* Figures and panels: a little spacing and a white canvas like the exported figure. */
  g_autoptr (GtkCssProvider) css = gtk_css_provider_new ();
  gtk_css_provider_load_from_data (css,
    "strata-figure { background: white; }\n"
    ".strata-sidebar { padding: 12px; }\n"
    ".strata-actions { padding: 8px 12px; }\n"
    /* The theme makes every switcher button 100 px wide or more: eight pages would not fit. */
    ".strata-switcher > button.text-button { min-width: 0; }\n"
    ".strata-card-key { color: alpha(currentColor, 0.6); }\n"
    ".strata-layerbar { padding: 6px 12px; border-top: 1px solid alpha(currentColor, 0.15); }\n",
    -1);
  gtk_style_context_add_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
}

/* --prompts is read here, in the process that was started (NON_UNIQUE: always this one). */
static int
strata_application_handle_local_options (GApplication *app, GVariantDict *options)
{
  StrataApplication *self = STRATA_APPLICATION (app);
  g_autofree char *prompts = NULL;
  if (g_variant_dict_lookup (options, "prompts", "^ay", &prompts) && prompts && *prompts) {
    if (!g_file_test (prompts, G_FILE_TEST_IS_REGULAR)) {
      g_printerr ("strata: --prompts %s: no such file\n", prompts);
      return 1;
    }
    g_free (self->prompts);
    self->prompts = g_canonicalize_filename (prompts, NULL);
  }
  g_auto (GStrv) series = NULL;
  if (g_variant_dict_lookup (options, "series", "^aay", &series) && series) {
    for (int i = 0; series[i]; i++)
      if (!g_file_test (series[i], G_FILE_TEST_IS_DIR)) {
        g_printerr ("strata: --series %s: no such folder\n", series[i]);
        return 1;
      }
    if (g_strv_length (series) > 2 || !self->prompts) {
      g_printerr ("strata: --series takes one or two training-run folders and needs --prompts SET.jsonl\n");
      return 1;
    }
    g_strfreev (self->series);
    self->series = g_steal_pointer (&series);
  }
  return -1;
}

static void
strata_application_finalize (GObject *object)
{
  g_free (STRATA_APPLICATION (object)->prompts);
  g_strfreev (STRATA_APPLICATION (object)->series);
  G_OBJECT_CLASS (strata_application_parent_class)->finalize (object);
}

static void
strata_application_class_init (StrataApplicationClass *klass)
{
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);
  G_OBJECT_CLASS (klass)->finalize = strata_application_finalize;
  app_class->handle_local_options = strata_application_handle_local_options;
  app_class->activate = strata_application_activate;
  app_class->open = strata_application_open;
  app_class->startup = strata_application_startup;
}

static void
strata_application_init (StrataApplication *self)
{
  g_application_add_main_option (G_APPLICATION (self), "prompts", 0, 0, G_OPTION_ARG_FILENAME,
                                 "Run the lens over this prompt set (JSON Lines) instead of a typed prompt", "FILE.jsonl");
  g_application_add_main_option (G_APPLICATION (self), "series", 0, 0, G_OPTION_ARG_FILENAME_ARRAY,
                                 "Open a training run's checkpoints as a series over --prompts (twice: two runs "
                                 "side by side)", "DIR");
}

int
strata_application_run (int argc, char **argv)
{
  g_set_prgname ("strata");
  g_set_application_name ("Strata");
  /* Without a display GTK would only warn; say what happened and what works headless. */
  if (!gtk_init_check ()) {
    const char *name = g_getenv ("WAYLAND_DISPLAY") ? "WAYLAND_DISPLAY" : "DISPLAY";
    g_autofree char *why = g_getenv (name) ? g_strdup_printf ("no display answers at %s=%s", name, g_getenv (name))
                                           : g_strdup ("no display (DISPLAY and WAYLAND_DISPLAY are unset)");
    fprintf (stderr, "strata: cannot open the window: %s. Headless, the same analyses and figures: "
                     "strata lens MODEL --prompt TEXT --figure OUT.png, strata export FILE.h5 --figure OUT.png, "
                     "strata session-info FILE.h5 (strata --help lists every command).\n", why);
    return 1;
  }
  /* NON_UNIQUE: every `strata` run is its own process (tests, two checkpoints in two
   * windows); nothing depends on a session bus. */
  g_autoptr (StrataApplication) app = g_object_new (STRATA_TYPE_APPLICATION, "application-id", STRATA_APPLICATION_ID,
                                                    "flags", G_APPLICATION_HANDLES_OPEN | G_APPLICATION_NON_UNIQUE, NULL);
  return g_application_run (G_APPLICATION (app), argc, argv);
}
