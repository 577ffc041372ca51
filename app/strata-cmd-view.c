/* strata-cmd-view.c: `strata export` (redraw a saved figure, no model, no display) and
 * `strata open` (a session in the window). */
#include <stdio.h>

#include "strata-cli.h"
#include "strata-figure.h"
#include "strata-session.h"
#ifdef STRATA_HAVE_GUI
#include "strata-application.h"
#endif

int
strata_cmd_export (int argc, char **argv)
{
  g_autofree char *figure = NULL, *view = NULL, *positions = NULL;
  g_autofree char *views = strata_enum_join (&strata_figure_kind_table, ", ", ", ", -1);
  g_autofree char *view_help = g_strdup_printf ("Figure: %s (default: as saved)", views);
  double scale = 2.0, width = STRATA_FIGURE_DEFAULT_WIDTH, height = -1;
  int layer = -2, position = -2;
  GOptionEntry entries[] = {
    { "figure", 'o', 0, G_OPTION_ARG_FILENAME, &figure, "Write the figure here (.png, .svg or .pdf)", "OUT" },
    { "view", 0, 0, G_OPTION_ARG_STRING, &view, view_help, "NAME" },
    { "scale", 0, 0, G_OPTION_ARG_DOUBLE, &scale, "PNG pixels per point (default 2)", "S" },
    { "width", 0, 0, G_OPTION_ARG_DOUBLE, &width, "Figure width in points (default 880)", "W" },
    { "height", 0, 0, G_OPTION_ARG_DOUBLE, &height, "Figure height in points (default: up to 560, fitted to the content)", "H" },
    { "layer", 0, 0, G_OPTION_ARG_INT, &layer, "Selected layer (default: as saved)", "K" },
    { "position", 0, 0, G_OPTION_ARG_INT, &position, "Selected position (default: as saved)", "P" },
    { "positions", 0, 0, G_OPTION_ARG_STRING, &positions, "Draw only positions A to B-1 (half-open, 0-based; ':' all; default: as saved)", "A:B" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("FILE.h5");
  g_option_context_set_summary (ctx, "Redraw a figure of a saved session; no model or display needed.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  GError *error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    return strata_cli_fail (error);
  if (argc != 2 || !figure)
    return strata_cli_fail (g_error_new (G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                                         "usage: strata export FILE.h5 --figure OUT.png|svg|pdf [--view NAME]"));
  g_autoptr (StrataSession) s = strata_session_load (argv[1], &error);
  if (!s)
    return strata_cli_fail (error);
  if ((!s->analyses || s->analyses->len == 0) && !s->series)
    return strata_cli_fail (g_error_new (G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "%s: the session holds no analysis", argv[1]));
  for (guint i = 0; i < s->analyses->len; i++) {
    g_autofree char *changed = strata_analysis_check_model (g_ptr_array_index (s->analyses, i));
    if (changed)
      fprintf (stderr, "strata: warning: %s\n", changed);
  }
  StrataViewState v = s->view;
  if (view && !strata_figure_kind_from_string (view, &v.figure)) {
    g_autofree char *names = strata_enum_join (&strata_figure_kind_table, ", ", " or ", -1);
    return strata_cli_fail (g_error_new (G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--view takes %s, not '%s'",
                                         names, view));
  }
  if (layer != -2)
    v.layer = layer;
  if (position != -2)
    v.position = position;
  /* A session of a series alone shows its series figure unless another is asked for. */
  if (!view && s->analyses->len == 0 && !STRATA_FIGURE_IS_SERIES (v.figure))
    v.figure = STRATA_FIGURE_SERIES_HEATMAP;
  StrataFigureInput in = { .kind = v.figure, .a = s->analyses->len > 0 ? g_ptr_array_index (s->analyses, 0) : NULL,
                           .b = s->analyses->len > 1 ? g_ptr_array_index (s->analyses, 1) : NULL, .series = s->series,
                           .view = &v };
  if (!strata_cli_apply_positions (positions, &in, &v, &error))
    return strata_cli_fail (error);
  if (height < 0)
    height = strata_figure_fit_height (&in, width, STRATA_FIGURE_DEFAULT_HEIGHT);
  if (!strata_figure_export (figure, width, height, scale, &in, &error))
    return strata_cli_fail (error);
  return 0;
}

int
strata_cmd_open (int argc, char **argv)
{
  if (argc != 2 || argv[1][0] == '-') {
    fprintf (stderr, "usage: strata open FILE.h5|MODEL\n");
    return 2;
  }
#ifdef STRATA_HAVE_GUI
  char *app_argv[] = { argv[0], argv[1], NULL };
  return strata_application_run (2, app_argv);
#else
  fprintf (stderr, "strata: this build has no window (GTK 4 was not found)\n");
  return 1;
#endif
}
