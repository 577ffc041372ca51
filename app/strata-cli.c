/* strata-cli.c: subcommand dispatch and the helpers every subcommand shares. */
#include "strata-cli.h"

#include <stdio.h>
#include <string.h>

#include "strata-config.h"
#ifdef STRATA_HAVE_GUI
#include "strata-application.h"
#endif

static const StrataCommand commands[] = {
  { "info", "open and validate a checkpoint; print its architecture and sizes", strata_cmd_info },
  { "tokenize", "print the token ids and pieces of a text", strata_cmd_tokenize },
  { "generate", "greedy continuation of a prompt", strata_cmd_generate },
  { "lens", "logit lens over every layer and position of a prompt or a prompt set", strata_cmd_lens },
  { "patch", "activation patching between clean and corrupted inputs", strata_cmd_patch },
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
  fprintf (out, "Usage: strata COMMAND [OPTION…]\n       strata [--prompts FILE.jsonl] [MODEL [MODEL_B]|FILE.h5]   (the window)\n\nCommands:\n");
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
  gboolean window_option = argc >= 2 && g_str_has_prefix (argv[1], "--prompts"); /* strata --prompts F MODEL… */
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
