/* strata-cmd-train.c: `strata train DATASET_DIR --out DIR`, a GPT-2 trained from scratch on a
 * two-hop dataset folder, with checkpoints a series opens as they are (strata-train-run.h). */
#include <stdio.h>
#include <string.h>

#include "strata-cli.h"

/* The run's options: the fixture's defaults (strata_train_run_options_init), the seed as a
 * 64-bit option and the format as two flags. */
int
strata_cmd_train (int argc, char **argv)
{
  StrataTrainRunOptions o;
  strata_train_run_options_init (&o);
  g_autofree char *out = NULL, *device = NULL;
  gboolean cot = FALSE, nocot = FALSE;
  gint64 seed = (gint64) o.seed;
  GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Folder of the run: checkpoint-N/ and train_log.jsonl", "DIR" },
    { "cot", 0, 0, G_OPTION_ARG_NONE, &cot, "Two-hop targets with the bridge: h r1 r2 b t </a> (default)", NULL },
    { "no-cot", 0, 0, G_OPTION_ARG_NONE, &nocot, "Two-hop targets without it: h r1 r2 t </a>", NULL },
    { "steps", 0, 0, G_OPTION_ARG_INT, &o.steps, "Optimizer steps in all (default 3000)", "N" },
    STRATA_CLI_TRAIN_ENTRIES (o),
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed of the initialisation and the data order (default 42)", "S" },
    { "resume", 0, 0, G_OPTION_ARG_NONE, &o.resume, "Continue from the latest checkpoint in --out (same options: the same run)", NULL },
    STRATA_CLI_DEVICE_ENTRY (device),
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("DATASET_DIR --out DIR");
  g_option_context_set_summary (ctx, "Train a GPT-2 from scratch on a two-hop dataset (strata dataset twohop): AdamW "
                                     "with warmup, weight decay and clipping, loss on the generated tokens; "
                                     "accuracies logged and checkpoints written as it goes.\n"
                                     "Defaults: the fixture's run: 6 layers, width 128, 4 heads, batch 512, lr 1e-3, "
                                     "warmup 300, weight decay 0.1, clip 1, eval and save every 500, eval sample 1000.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  GError *error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    return strata_cli_fail (error);
  if (argc != 2)
    strata_cli_fail_with (&error, "give one dataset folder (see --help)");
  else if (!out)
    strata_cli_fail_with (&error, "--out DIR is required");
  else if (cot && nocot)
    strata_cli_fail_with (&error, "give --cot or --no-cot, not both");
  else if (seed < 0)
    strata_cli_fail_with (&error, "--seed must be 0 or more, not %" G_GINT64_FORMAT, seed);
  if (error || !(o.backend = strata_cli_train_device (device, NULL, &error)))
    return strata_cli_fail (error);
  o.cot = !nocot;
  o.seed = (guint64) seed;
  StrataCliTrainProgress progress;
  strata_cli_train_progress_init (&progress, o.cot ? "cot" : "nocot");
  o.progress = strata_cli_train_progress_cb;
  o.progress_data = &progress;
  if (!strata_train_run (argv[1], out, &o, &error))
    return strata_cli_fail (error);
  return 0;
}
