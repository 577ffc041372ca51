/* strata-cli.c: subcommand dispatch and the helpers every subcommand shares. */
#include "strata-cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "strata-config.h"
#ifdef STRATA_HAVE_GUI
#include "strata-application.h"
#endif

static const StrataCommand commands[] = {
  { "info", "open and validate a checkpoint; print its architecture and sizes", strata_cmd_info },
  { "tokenize", "print the token ids and pieces of a text", strata_cmd_tokenize },
  { "generate", "continue a prompt, greedy or sampled with a seed", strata_cmd_generate },
  { "lens", "logit lens over every layer and position of a prompt or a prompt set", strata_cmd_lens },
  { "patch", "activation patching between clean and corrupted inputs", strata_cmd_patch },
  { "series", "the lens (and patching) over every checkpoint of one or two training runs", strata_cmd_series },
  { "dataset", "generate a synthetic dataset (twohop: the two-hop knowledge graph)", strata_cmd_dataset },
  { "train", "train a GPT-2 from scratch on a two-hop dataset, with checkpoints", strata_cmd_train },
  { "study", "the two-hop study from scratch: data, CoT and non-CoT training, lens and causal tracing", strata_cmd_study },
  { "session-info", "print what a saved session file holds", strata_cmd_session_info },
#ifdef STRATA_HAVE_FIGURES
  { "export", "redraw a figure of a saved session to PNG, SVG or PDF", strata_cmd_export },
#endif
#ifdef STRATA_HAVE_GUI
  { "open", "open a session or a model in the window", strata_cmd_open },
#endif
};

static void
usage (FILE *out)
{
  fprintf (out, "Usage: strata COMMAND [OPTION…]\n"
                "       strata [--prompts FILE.jsonl] [MODEL [MODEL_B]|FILE.h5]   (the window)\n"
                "       strata --series DIR [--series DIR_B] --prompts FILE.jsonl   (the window, on a series)\n"
                "\nCommands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\nMODEL is a Hugging Face folder, a .safetensors, a .gguf or a llama2.c .bin.\n"
                "Run 'strata COMMAND --help' for the options of a command.\n");
}

int
strata_cli_main (int argc, char **argv)
{
#ifdef STRATA_HAVE_GUI
  /* No command, or an existing file or folder that is not a command: the window (on that
   * model or session). A mistyped command stays an error. */
  /* strata --prompts F MODEL…, strata --series DIR --prompts F */
  gboolean window_option = argc >= 2 && (g_str_has_prefix (argv[1], "--prompts")
                                          || g_str_has_prefix (argv[1], "--series"));
  gboolean known = argc >= 2 && argv[1][0] == '-' && !window_option;
  for (gsize i = 0; argc >= 2 && i < G_N_ELEMENTS (commands); i++)
    known = known || strcmp (argv[1], commands[i].name) == 0;
  if (argc < 2 || window_option || (!known && g_file_test (argv[1], G_FILE_TEST_EXISTS)))
    return strata_application_run (argc, argv);
#endif
  if (argc < 2) {
    usage (stderr);
    return 2;
  }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 || strcmp (argv[1], "help") == 0) {
    usage (stdout);
    return 0;
  }
  if (strcmp (argv[1], "--version") == 0) {
    printf ("strata %s\n", STRATA_VERSION);
    return 0;
  }
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].run (argc - 1, argv + 1);
  fprintf (stderr, "strata: unknown command '%s'\n\n", argv[1]);
  usage (stderr);
  return 2;
}

int
strata_cli_fail (GError *error)
{
  fprintf (stderr, "strata: %s\n", error ? error->message : "failed");
  g_clear_error (&error);
  return 1;
}

gboolean
strata_cli_write_json (JsonNode *root, const char *path, GError **error)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, root);
  gsize len = 0;
  g_autofree char *text = json_generator_to_data (gen, &len);
  if (strcmp (path, "-") == 0) {
    fwrite (text, 1, len, stdout);
    fputc ('\n', stdout);
    return fflush (stdout) == 0;
  }
  /* g_file_set_contents writes a temporary file beside the target and renames it. */
  return g_file_set_contents (path, text, (gssize) len, error);
}

gboolean
strata_cli_fail_with (GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, msg);
  return FALSE;
}

gboolean
strata_cli_check_writable (const char *option, const char *path, GError **error)
{
  if (!path)
    return TRUE;
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    return strata_cli_fail_with (error, "%s %s: is a folder, not a file name", option, path);
  g_autofree char *dir = g_path_get_dirname (path);
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    return strata_cli_fail_with (error, "%s %s: the folder %s does not exist", option, path, dir);
  if (g_access (dir, W_OK) != 0)
    return strata_cli_fail_with (error, "%s %s: cannot write in the folder %s: %s", option, path, dir,
                                 g_strerror (errno));
  return TRUE;
}

gboolean
strata_cli_check_outputs (const char *figure, double scale, const char *session, const char *json, GError **error)
{
  if (!(scale > 0 && scale <= 16))
    return strata_cli_fail_with (error, "--scale must lie in (0, 16], not %g", scale);
  if (figure) {
#ifndef STRATA_HAVE_FIGURES
    return strata_cli_fail_with (error, "--figure: this strata was built without figures (cairo and pangocairo were "
                                        "not found); save a --session and run `strata export` where they are");
#else
    g_autofree char *lower = g_ascii_strdown (figure, -1);
    if (!g_str_has_suffix (lower, ".png") && !g_str_has_suffix (lower, ".svg") && !g_str_has_suffix (lower, ".pdf"))
      return strata_cli_fail_with (error, "--figure %s: the name must end in .png, .svg or .pdf", figure);
#endif
  }
  return strata_cli_check_writable ("--figure", figure, error) && strata_cli_check_writable ("--session", session, error)
         && strata_cli_check_writable ("--json", json && strcmp (json, "-") != 0 ? json : NULL, error);
}

#ifdef STRATA_HAVE_FIGURES
gboolean
strata_cli_apply_positions (const char *positions, const StrataFigureInput *in, StrataViewState *v, GError **error)
{
  if (!positions)
    return TRUE;
  int n = strata_figure_n_positions (in);
  if (n <= 0)
    return strata_cli_fail_with (error, "--positions: the %s figure has no axis of positions",
                                 strata_figure_kind_to_string (in->kind));
  g_autoptr (GError) local = NULL;
  if (!strata_figure_parse_range (positions, n, &v->range_first, &v->range_count, &local))
    return strata_cli_fail_with (error, "--positions: %s", local->message);
  return TRUE;
}
#endif

gboolean
strata_cli_generate_options (const StrataCliSampling *s, int n, StrataGenerateOptions *out, GError **error)
{
  if (n < 0)
    return strata_cli_fail_with (error, "the number of tokens to generate must not be negative, not %d", n);
  if (!(s->temperature >= 0 && s->temperature <= 100))
    return strata_cli_fail_with (error, "--temperature must lie in [0, 100], not %g", s->temperature);
  if (!(s->top_p > 0 && s->top_p <= 1))
    return strata_cli_fail_with (error, "--top-p must lie in (0, 1], not %g", s->top_p);
  *out = (StrataGenerateOptions) { n, s->temperature, s->top_p, (guint32) s->seed, s->stop };
  return TRUE;
}

GArray *
strata_cli_parse_ids (const char *list, GError **error)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_auto (GStrv) parts = g_strsplit_set (list, ", ", -1);
  for (int i = 0; parts[i]; i++) {
    if (!*parts[i])
      continue;
    const char *s = parts[i][0] == '#' ? parts[i] + 1 : parts[i];
    char *end = NULL;
    gint64 v = g_ascii_strtoll (s, &end, 10);
    if (!*s || *end || v < 0 || v > G_MAXINT32) {
      strata_cli_fail_with (error, "--ids: '%s' is not a token id", parts[i]);
      return NULL;
    }
    int32_t id = (int32_t) v;
    g_array_append_val (ids, id);
  }
  return g_steal_pointer (&ids);
}
