/* strata-cmd-study.c: `strata study twohop`, the two-hop study from scratch: generate the
 * dataset, train a CoT and a non-CoT GPT-2 on it, then run `strata series` over both runs'
 * checkpoints (the lens through training and the paper's causal tracing, noising with
 * top-1 change) with the generated prompt sets, write the session and the figures, print
 * what was measured and open the session in the window.
 *
 * The analysis is the `strata series` command itself, called with the arguments printed in
 * the summary, so the same command runs unchanged on other runs (the README shows it on
 * ../shared/fixtures/twohop). */
#include <stdio.h>
#include <string.h>

#include "strata-cli.h"
#include "strata-session.h"
#include "strata-twohop-dataset.h"

/* The default configuration: small enough to finish in minutes on two CPU cores (the
 * measured run is in the README); the fixture's and the papers' scales are flags away. */
#define STUDY_ENTITIES 100
#define STUDY_RELATIONS 20
#define STUDY_PER_ENTITY 10
#define STUDY_OOD_FRACTION 0.1
#define STUDY_TEST_PROB 0.05
#define STUDY_LAYERS 6
#define STUDY_WIDTH 64
#define STUDY_BATCH 128
#define STUDY_LR 2e-3
#define STUDY_WARMUP 100
#define STUDY_STEPS_COT 2000
#define STUDY_STEPS_NOCOT 3000
#define STUDY_EVERY 250

typedef struct {
  const char *name;
  StrataTrainEval last;
} RunSummary;

typedef struct {
  StrataCliTrainProgress bar;
  RunSummary *summary;
} StudyProgress;

static void
study_progress_cb (int step, int total, double loss, const StrataTrainEval *eval, gpointer data)
{
  StudyProgress *p = data;
  if (eval)
    p->summary->last = *eval;
  strata_cli_train_progress_cb (step, total, loss, eval, &p->bar);
}

/* Run another `strata` command in this process with the given arguments. */
static int
run_command (int (*cmd) (int, char **), GPtrArray *args)
{
  g_autofree char **argv = g_new0 (char *, args->len + 1);
  for (guint i = 0; i < args->len; i++)
    argv[i] = args->pdata[i];
  g_autofree char *line = g_strjoinv (" ", argv);
  fprintf (stderr, "strata study: %s\n", line);
  return cmd ((int) args->len, argv);
}

static GPtrArray *
args_new (const char *first, ...)
{
  GPtrArray *a = g_ptr_array_new_with_free_func (g_free);
  va_list ap;
  va_start (ap, first);
  for (const char *s = first; s; s = va_arg (ap, const char *))
    g_ptr_array_add (a, g_strdup (s));
  va_end (ap);
  return a;
}

/* What the lens measured at the last checkpoint of each run: the bridge at r2 and the answer
 * at the last position, per tag, with their resolution layers (first layer with MRR >= 0.9). */
static void
print_lens (const char *session_path, const char *target, const char *position)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataSession) s = strata_session_load (session_path, &error);
  if (!s || !s->series) {
    fprintf (stderr, "strata study: %s: %s\n", session_path, error ? error->message : "no series");
    return;
  }
  for (guint r = 0; r < s->series->runs->len; r++) {
    const StrataTrainingRun *run = s->series->runs->pdata[r];
    const StrataSeriesCheckpoint *cp = run->checkpoints->pdata[run->checkpoints->len - 1];
    for (int t = 0; t < 2; t++) {
      const char *tag = t == 0 ? "id" : "ood";
      const StrataLensAggregate *a = strata_series_checkpoint_get_aggregate (cp, tag, target, position);
      if (!a)
        continue;
      printf ("  %-5s %s, %s at %s (%s, %d prompts): MRR by layer", run->name, cp->label, target, position, tag,
              a->n_prompts);
      for (int k = 0; k <= a->n_layers; k++)
        printf (" %.2f", a->mrr[k]);
      if (a->resolution_layer >= 0)
        printf ("; resolved at layer %d of %d\n", a->resolution_layer, a->n_layers);
      else
        printf ("; never resolved (MRR < 0.9 at every layer)\n");
    }
  }
}

/* Causal strength at the last checkpoint of each run (ID prompts, the first site patched):
 * the share of prompts whose top-1 prediction changes when one layer's residual stream at one
 * position takes the corrupted run's value, by layer (rows) and position (columns). */
static void
print_patch (const char *session_path)
{
  g_autoptr (StrataSession) s = strata_session_load (session_path, NULL);
  if (!s || !s->series || !s->series->has_patch)
    return;
  StrataPatchSite site = g_array_index (s->series->patch_sites, StrataPatchSite, 0);
  for (guint r = 0; r < s->series->runs->len; r++) {
    const StrataTrainingRun *run = s->series->runs->pdata[r];
    const StrataSeriesCheckpoint *cp = run->checkpoints->pdata[run->checkpoints->len - 1];
    const StrataPatchAggregate *a = strata_series_checkpoint_get_patch (cp, "id", site);
    if (!a)
      continue;
    printf ("  %-5s %s, causal strength (id, %d prompts), layer x position:\n", run->name, cp->label, a->n_prompts);
    for (int l = 0; l < a->rows; l++) {
      printf ("    layer %d:", l);
      for (int c = 0; c < a->cols; c++)
        printf (" %.2f", a->mean_score[l * a->cols + c]);
      printf ("\n");
    }
  }
}

static void
print_accuracy (const RunSummary *runs, int n)
{
  printf ("final accuracies (greedy exact match):\n");
  for (int r = 0; r < n; r++) {
    printf ("  %-5s step %d:", runs[r].name, runs[r].last.step);
    for (int i = 0; i < STRATA_TRAIN_EVAL_N; i++)
      printf (" %s %.3f", strata_train_eval_set_name ((StrataTrainEvalSet) i), runs[r].last.exact[i]);
    printf ("\n");
  }
}

static gboolean
train_one (const char *data, const char *out, const char *name, StrataTrainRunOptions *o, RunSummary *summary,
           GError **error)
{
  StudyProgress p = { .summary = summary };
  summary->name = name;
  strata_cli_train_progress_init (&p.bar, name);
  o->progress = study_progress_cb;
  o->progress_data = &p;
  g_autofree char *dir = g_build_filename (out, name, NULL);
  return strata_train_run (data, dir, o, error);
}

int
strata_cmd_study (int argc, char **argv)
{
  StrataTwohopParams p = STRATA_TWOHOP_PARAMS_DEFAULT;
  p.n_entities = STUDY_ENTITIES, p.n_relations = STUDY_RELATIONS, p.per_entity = STUDY_PER_ENTITY;
  p.ood_fraction = STUDY_OOD_FRACTION, p.test_prob = STUDY_TEST_PROB;
  StrataTrainRunOptions o;
  strata_train_run_options_init (&o);
  o.n_layers = STUDY_LAYERS, o.d_model = STUDY_WIDTH, o.batch = STUDY_BATCH, o.adamw.lr = STUDY_LR;
  o.adamw.warmup_steps = STUDY_WARMUP, o.eval_every = o.save_every = STUDY_EVERY;
  int steps_cot = STUDY_STEPS_COT, steps_nocot = STUDY_STEPS_NOCOT;
  g_autofree char *out = NULL, *device = NULL, *precision = NULL, *noise_kind = NULL; /* GOption would drop a default string */
  gint64 seed = (gint64) p.seed;
  gboolean no_window = FALSE;
  GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Folder of the study (default twohop-study): data/, cot/, nocot/, the session and figures", "DIR" },
    { "entities", 0, 0, G_OPTION_ARG_INT, &p.n_entities, "Entities (default 100; the fixture 300, the papers 2000)", "N" },
    { "relations", 0, 0, G_OPTION_ARG_INT, &p.n_relations, "Relations (default 20; the fixture 40, the papers 200)", "R" },
    { "per-entity", 0, 0, G_OPTION_ARG_INT, &p.per_entity, "Outgoing relations of every entity (default 10; the fixture 20)", "K" },
    { "ood-fraction", 0, 0, G_OPTION_ARG_DOUBLE, &p.ood_fraction, "Share of atomic facts that are OOD (default 0.1)", "F" },
    { "phi", 0, 0, G_OPTION_ARG_DOUBLE, &p.phi, "Train two-hop items per ID atomic fact (default 18)", "P" },
    { "test-prob", 0, 0, G_OPTION_ARG_DOUBLE, &p.test_prob, "Chance that an ID two-hop query is held out (default 0.05)", "Q" },
    { "noise", 0, 0, G_OPTION_ARG_DOUBLE, &p.noise, "Share of train two-hop items with a wrong entity (default 0)", "XI" },
    { "noise-kind", 0, 0, G_OPTION_ARG_STRING, &noise_kind, "Which entity is wrong: tail or bridge (default tail)", "tail|bridge" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed of the data, the initialisation and the data order (default 42)", "S" },
    { "steps-cot", 0, 0, G_OPTION_ARG_INT, &steps_cot, "Steps of the CoT run (default 2000)", "N" },
    { "steps-nocot", 0, 0, G_OPTION_ARG_INT, &steps_nocot, "Steps of the non-CoT run (default 3000)", "N" },
    STRATA_CLI_TRAIN_ENTRIES (o),
    STRATA_CLI_DEVICE_ENTRY (device),
    STRATA_CLI_PRECISION_ENTRY (precision), /* of the analyses; training is exact fp32 */
    { "no-window", 0, 0, G_OPTION_ARG_NONE, &no_window, "Do not open the session in the window", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("twohop");
  g_option_context_set_summary (ctx, "The two-hop study from scratch: generate the dataset, train a CoT and a non-CoT "
                                     "GPT-2, run the lens and causal tracing through training, write a session and "
                                     "figures. The defaults are a small configuration that finishes in minutes on two "
                                     "CPU cores (not the paper's scale: set the flags for that).\n"
                                     "Training defaults: 6 layers, width 64, 4 heads, batch 128, lr 2e-3, warmup 100, "
                                     "weight decay 0.1, clip 1, eval and save every 250, eval sample 1000.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  GError *error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    return strata_cli_fail (error);
  if (argc != 2 || strcmp (argv[1], "twohop") != 0) {
    fprintf (stderr, "Usage: strata study twohop [OPTION…] (the only study is twohop)\n");
    return 2;
  }
  if (!out)
    out = g_strdup ("twohop-study");
  if (noise_kind && !strata_twohop_noise_kind_from_string (noise_kind, &p.noise_kind))
    strata_cli_fail_with (&error, "--noise-kind takes tail or bridge, not '%s'", noise_kind);
  else if (seed < 0)
    strata_cli_fail_with (&error, "--seed must be 0 or more, not %" G_GINT64_FORMAT, seed);
  else if (steps_cot < 1 || steps_nocot < 1)
    strata_cli_fail_with (&error, "--steps-cot and --steps-nocot must be at least 1");
  StrataPrecision analysis_precision = STRATA_PRECISION_FP32;
  if (!error)
    strata_cli_precision (precision, &analysis_precision, &error);
  const StrataBackend *analysis = NULL;
  if (error || !(o.backend = strata_cli_train_device (device, &analysis, &error)))
    return strata_cli_fail (error);
  p.seed = o.seed = (guint64) seed;

  g_autofree char *data = g_build_filename (out, "data", NULL), *cot = g_build_filename (out, "cot", NULL);
  g_autofree char *nocot = g_build_filename (out, "nocot", NULL);
  g_autofree char *session = g_build_filename (out, "study.h5", NULL), *stage2 = g_build_filename (out, "stage2.h5", NULL);
  g_autofree char *prompts1 = g_build_filename (data, "prompts-stage1.jsonl", NULL);
  g_autofree char *prompts2 = g_build_filename (data, "prompts-stage2.jsonl", NULL);
  /* Refused before the dataset is written over: a study folder is used once. */
  if (g_file_test (cot, G_FILE_TEST_EXISTS) || g_file_test (nocot, G_FILE_TEST_EXISTS)) {
    strata_cli_fail_with (&error, "%s already holds a study (cot/ or nocot/): give another --out", out);
    return strata_cli_fail (error);
  }
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (StrataTwohopDataset) d = strata_twohop_generate (&p, &error);
  if (!d || !strata_twohop_write (d, data, &error))
    return strata_cli_fail (error);
  fprintf (stderr, "strata study: dataset in %s: %u facts, %u train two-hop, %u ID and %u OOD test queries\n", data,
           d->facts->len, d->train->len, d->test_id->len, d->test_ood->len);

  RunSummary runs[2];
  o.cot = TRUE, o.steps = steps_cot;
  if (!train_one (data, out, "cot", &o, &runs[0], &error))
    return strata_cli_fail (error);
  o.cot = FALSE, o.steps = steps_nocot;
  if (!train_one (data, out, "nocot", &o, &runs[1], &error))
    return strata_cli_fail (error);
  double train_s = (g_get_monotonic_time () - t0) / 1e6;

  /* Stage 1 (h r1 r2 -> bridge, answer) on both runs; stage 2 (h r1 r2 b -> answer, the CoT
   * model's second step) on the CoT run. */
  const char *dev = analysis->name, *prec = strata_precision_to_string (analysis_precision);
  g_autofree char *fig_lens = g_build_filename (out, "lens-series.png", NULL);
  g_autofree char *fig_acc = g_build_filename (out, "accuracy.png", NULL);
  g_autofree char *fig_patch = g_build_filename (out, "causal-tracing.png", NULL);
  g_autofree char *fig_stage2 = g_build_filename (out, "stage2-causal-tracing.png", NULL);
  g_autoptr (GPtrArray) series1 = args_new ("strata series", cot, nocot, "--prompts", prompts1, "--patch", "--session",
                                            session, "--view-target", "bridge", "--view-position", "r2",
                                            "--view-tag", "id", "--device", dev, "--precision", prec, NULL);
  g_autoptr (GPtrArray) series2 = args_new ("strata series", cot, "--prompts", prompts2, "--patch", "--session", stage2,
                                            "--view", "series-patch", "--device", dev, "--precision", prec, NULL);
  if (run_command (strata_cmd_series, series1) != 0 || run_command (strata_cmd_series, series2) != 0)
    return 1;
#ifdef STRATA_HAVE_FIGURES
  g_autoptr (GPtrArray) e1 = args_new ("strata export", session, "--figure", fig_lens, "--view", "series", NULL);
  g_autoptr (GPtrArray) e2 = args_new ("strata export", session, "--figure", fig_acc, "--view", "accuracy", NULL);
  g_autoptr (GPtrArray) e3 = args_new ("strata export", session, "--figure", fig_patch, "--view", "series-patch", NULL);
  g_autoptr (GPtrArray) e4 = args_new ("strata export", stage2, "--figure", fig_stage2, "--view", "series-patch", NULL);
  if (run_command (strata_cmd_export, e1) != 0 || run_command (strata_cmd_export, e2) != 0 ||
      run_command (strata_cmd_export, e3) != 0 || run_command (strata_cmd_export, e4) != 0)
    return 1;
#endif
  printf ("two-hop study in %s: training %.0f s, all %.0f s\n", out, train_s, (g_get_monotonic_time () - t0) / 1e6);
  print_accuracy (runs, 2);
  printf ("logit lens at the last checkpoints (stage 1 prompts, %s):\n", prompts1);
  print_lens (session, "bridge", "r2");
  print_lens (session, "answer", "r2");
  printf ("causal tracing, stage 1 (%s):\n", session);
  print_patch (session);
  printf ("causal tracing, stage 2 of the CoT run (h r1 r2 b -> answer, %s):\n", stage2);
  print_patch (stage2);
  printf ("session %s (stage 2 of the CoT run: %s)\n", session, stage2);
#ifdef STRATA_HAVE_GUI
  if (!no_window) {
    g_autoptr (GPtrArray) open = args_new ("strata open", session, NULL);
    return run_command (strata_cmd_open, open);
  }
#endif
  return 0;
}
