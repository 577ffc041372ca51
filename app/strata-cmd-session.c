/* strata-cmd-session.c: `strata session-info FILE.h5`, a summary of what a saved session
 * holds (see docs/session-format.md), read without any model. */
#include <stdio.h>

#include "strata-cli.h"
#include "strata-session.h"

static void
print_analysis (guint index, const StrataAnalysis *a)
{
  const StrataModelRef *m = &a->model;
  printf ("analysis %u: %s (%s, %s, %s, %d layers, vocab %d, BOS %s)\n", index, m->name, m->arch,
          m->format, m->dtype, m->config.n_layers, m->config.vocab, m->add_bos ? "on" : "off");
  printf ("  path       %s\n", m->path);
  printf ("  weights    sha256 %s\n", m->weights_sha256);
  printf ("  device     %s\n", m->device && *m->device ? m->device : "unknown (saved before format 1.3)");
  g_autofree char *changed = strata_analysis_check_model (a);
  if (changed)
    fprintf (stderr, "strata: warning: %s\n", changed);
  else if (!g_file_test (m->path, G_FILE_TEST_EXISTS))
    printf ("  checkpoint not found at that path (the session opens without it)\n");
  if (m->tokenizer_sha256 != NULL && m->tokenizer_sha256[0] != '\0')
    printf ("  tokenizer  sha256 %s\n", m->tokenizer_sha256);
  if (a->prompts != NULL)
    printf ("  prompts    %u from %s\n", a->prompts->prompts->len, a->prompts->source);
  if (a->has_lens)
    printf ("  lens       %u results, %u aggregates (top-%d, %s%s)\n", a->lens_results->len,
            a->lens_aggregates->len, a->lens_options.topk, a->lens_options.raw ? "raw" : "final norm",
            a->lens_candidates != NULL ? ", candidate set" : "");
  if (a->patch_results->len > 0 || a->patch_aggregates->len > 0) {
    printf ("  patching   %u results, %u aggregates", a->patch_results->len, a->patch_aggregates->len);
    if (a->patch_results->len > 0) {
      const StrataPatchResult *r = g_ptr_array_index (a->patch_results, 0);
      printf (" (%s, %s; sites", strata_patch_direction_to_string (r->direction),
              strata_patch_metric_to_string (r->metric));
      for (guint i = 0; i < r->maps->len; i++)
        printf (" %s", strata_patch_site_to_string (((StrataPatchMap *) r->maps->pdata[i])->site));
      printf (")");
    }
    printf ("\n");
  }
  if (a->circuit != NULL)
    printf ("  circuit    %u nodes, %u edges for '%s' (|effect| >= %g)\n", a->circuit->nodes->len,
            a->circuit->edges->len, a->circuit->target_name, a->circuit->threshold);
  if (a->attention != NULL)
    printf ("  attention  %d layers x %d heads x %d tokens\n", a->attention->n_layers,
            a->attention->n_heads, a->attention->T);
}

static void
print_series (const StrataSeries *s)
{
  guint total, done = strata_series_count_done (s, &total);
  printf ("series: %u training run%s, %u of %u checkpoints done", s->runs->len, s->runs->len == 1 ? "" : "s", done,
          total);
  if (s->prompts)
    printf (", prompts %u from %s", s->prompts->prompts->len, s->prompts->source);
  printf ("%s\n", s->has_patch ? ", with patching" : "");
  for (guint r = 0; r < s->runs->len; r++) {
    const StrataTrainingRun *run = s->runs->pdata[r];
    printf ("  run %u: %s (%s)\n", r, run->name, run->path);
    for (guint c = 0; c < run->checkpoints->len; c++) {
      const StrataSeriesCheckpoint *cp = run->checkpoints->pdata[c];
      printf ("    step %-8" G_GINT64_FORMAT " %s%s", cp->step, cp->label,
              strata_series_checkpoint_is_done (cp) ? "" : " (not run)");
      if (strata_series_checkpoint_is_done (cp))
        printf ("  weights sha256 %.16s  %s", cp->model.weights_sha256 ? cp->model.weights_sha256 : "",
                cp->model.device && *cp->model.device ? cp->model.device : "device unknown");
      printf ("\n");
    }
  }
}

int
strata_cmd_session_info (int argc, char **argv)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new ("FILE.h5");
  g_option_context_set_summary (ctx, "Print what a saved session holds: models, prompts, results, view.");
  GError *error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    return strata_cli_fail (error);
  if (argc != 2) {
    fprintf (stderr, "Usage: strata session-info FILE.h5\n");
    return 2;
  }
  g_autoptr (StrataSession) s = strata_session_load (argv[1], &error);
  if (s == NULL)
    return strata_cli_fail (error);
  printf ("%s: Strata session written by strata %s\n", argv[1], s->program_version);
  printf ("created %s, modified %s\n", s->created, s->modified);
  for (guint i = 0; i < s->analyses->len; i++)
    print_analysis (i, g_ptr_array_index (s->analyses, i));
  if (s->series)
    print_series (s->series);
  const StrataViewState *v = &s->view;
  printf ("view: %s figure, analysis %d, prompt %d, layer %d, position %d, head %d, target %s%s%s\n",
          strata_figure_kind_to_string (v->figure), v->analysis, v->prompt, v->layer, v->position,
          v->head, v->target != NULL ? v->target : "(top-1)", v->log_color ? ", log color" : "",
          v->compare ? ", side by side" : "");
  return 0;
}
