/* strata-cmd-series.c: `strata series DIR [DIR_B] --prompts SET.jsonl`, training dynamics.
 *
 * Finds the checkpoints of one or two training runs (probes/strata-series.h), runs the lens
 * (and optionally patching) of the prompt set on every checkpoint, one at a time, and writes
 * any of: the JSON (docs/probe-json.md), a session (--session, docs/session-format.md 1.2)
 * and a series figure (--figure). Progress goes to stderr when it is a terminal. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "strata-cli.h"
#include "strata-probe-json.h"
#include "strata-series.h"
#include "strata-session.h"
#ifdef STRATA_HAVE_FIGURES
#include "strata-figure.h"
#endif

typedef struct {
  /* prompts */
  char *prompts, *prompt, *ids;
  char **targets;
  /* the run */
  char *tokenizer, *bos, *answer, *answer_pos;
  gboolean raw;
  double threshold;
  gboolean patch;
  char **sites;
  char *direction, *metric, *patch_target;
  char *device, *precision;
  int head_pos;
  /* outputs and what the figure and the saved view show */
  char *json, *session, *figure, *view;
  double scale;
  char *view_target, *view_position, *view_tag, *view_quantity, *view_site;
  gboolean log_color;
} Options;

static void
options_clear (Options *o)
{
  g_free (o->prompts), g_free (o->prompt), g_free (o->ids), g_strfreev (o->targets);
  g_free (o->tokenizer), g_free (o->bos), g_free (o->answer), g_free (o->answer_pos);
  g_strfreev (o->sites), g_free (o->direction), g_free (o->metric), g_free (o->patch_target);
  g_free (o->json), g_free (o->session), g_free (o->figure), g_free (o->view);
  g_free (o->view_target), g_free (o->view_position), g_free (o->view_tag), g_free (o->view_quantity);
  g_free (o->view_site), g_free (o->device), g_free (o->precision);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Options, options_clear)

/* ---- prompts: a set, or one prompt with targets from the command line ---- */

static StrataPromptSet *
make_prompts_cb (StrataModel *m, gpointer data, GError **error)
{
  const Options *o = data;
  g_autoptr (StrataPromptSet) set = NULL;
  if (o->prompts) {
    if (!(set = strata_prompt_set_load (o->prompts, m, error))
        || !strata_prompt_set_add_targets (set, m, (const char *const *) o->targets, error))
      return NULL;
    return g_steal_pointer (&set);
  }
  g_autoptr (GArray) ids = o->ids ? strata_cli_parse_ids (o->ids, error) : NULL;
  if (o->ids && !ids)
    return NULL;
  return strata_prompt_set_new_single (m, o->prompt, ids ? (int32_t *) ids->data : NULL, ids ? (int) ids->len : 0,
                                       NULL, (const char *const *) o->targets, NULL, error);
}

/* ---- progress on a terminal ---- */

typedef struct {
  gboolean tty;
  gint64 last;     /* monotonic time of the last line, microseconds */
  guint total;
  const StrataSeries *series;
} Progress;

static void
progress_cb (double fraction, gpointer data)
{
  Progress *p = data;
  gint64 now = g_get_monotonic_time ();
  if (!p->tty || (now - p->last < 100000 && fraction < 1.0))
    return;
  p->last = now;
  guint done = strata_series_count_done (p->series, NULL);
  fprintf (stderr, "\rstrata series: %3.0f%%, %u of %u checkpoints done", 100 * fraction, done, p->total);
  fflush (stderr);
}

static void
checkpoint_done_cb (StrataSeries *s, guint run, guint checkpoint, gpointer data)
{
  Progress *p = data;
  if (!p->tty)
    return;
  const StrataTrainingRun *tr = s->runs->pdata[run];
  const StrataSeriesCheckpoint *cp = tr->checkpoints->pdata[checkpoint];
  fprintf (stderr, "\r\033[Kstrata series: %s %s (step %" G_GINT64_FORMAT ") done\n", tr->name, cp->label, cp->step);
  p->last = 0;
}

/* ---- options ---- */

static gboolean
parse_enum (const char *opt, const char *value, const StrataEnumTable *t, int *out, GError **error)
{
  if (!value || strata_enum_from_string (t, value, out))
    return TRUE;
  g_autofree char *all = strata_enum_join (t, "|", "|", -1);
  return strata_cli_fail_with (error, "%s takes %s, not '%s'", opt, all, value);
}

static gboolean
check_options (const Options *o, int argc, StrataFigureKind *kind, GError **error)
{
  if (argc < 2 || argc > 3)
    return strata_cli_fail_with (error, "give one or two folders of checkpoints (see --help)");
  if ((o->prompts != NULL) + (o->prompt != NULL) + (o->ids != NULL) != 1)
    return strata_cli_fail_with (error, "give exactly one of --prompts, --prompt and --ids");
  if (!o->prompts && !o->targets)
    return strata_cli_fail_with (error, "--prompt and --ids need at least one --target");
  if (o->bos && strcmp (o->bos, "on") != 0 && strcmp (o->bos, "off") != 0)
    return strata_cli_fail_with (error, "--bos takes on or off, not '%s'", o->bos);
  if (!o->json && !o->session && !o->figure)
    return strata_cli_fail_with (error,
                                 "give at least one of --json OUT ('-': stdout), --session OUT.h5 and --figure OUT");
  if (!o->patch && (o->sites || o->direction || o->metric || o->patch_target))
    return strata_cli_fail_with (error, "--site, --direction, --metric and --patch-target need --patch");
  *kind = STRATA_FIGURE_SERIES_HEATMAP;
  if (o->view) {
    int k;
    if (!strata_enum_from_string (&strata_figure_kind_table, o->view, &k) || !STRATA_FIGURE_IS_SERIES (k))
      return strata_cli_fail_with (error, "--view takes series, accuracy or series-patch, not '%s'", o->view);
    *kind = (StrataFigureKind) k;
  }
  if (*kind == STRATA_FIGURE_SERIES_PATCH && !o->patch)
    return strata_cli_fail_with (error, "--view series-patch needs --patch");
  if (o->view_quantity && strcmp (o->view_quantity, "mrr") != 0 && strcmp (o->view_quantity, "prob") != 0)
    return strata_cli_fail_with (error, "--view-quantity takes mrr or prob, not '%s'", o->view_quantity);
  return strata_cli_check_outputs (o->figure, o->scale, o->session, o->json, error);
}

/* The view the figure and the session show. */
static gboolean
view_for (const Options *o, const StrataSeries *s, StrataFigureKind kind, StrataViewState *v, GError **error)
{
  *v = (StrataViewState) { 0 };
  v->figure = kind;
  v->layer = v->position = v->run = v->checkpoint = -1;
  v->curve = o->view_quantity && strcmp (o->view_quantity, "prob") == 0 ? STRATA_CURVE_PROB : STRATA_CURVE_MRR;
  v->log_color = o->log_color;
  v->patch_site = s->has_patch ? g_array_index (s->patch_sites, StrataPatchSite, 0) : STRATA_PATCH_RESID_PRE;
  int site;
  if (!parse_enum ("--view-site", o->view_site, &strata_patch_site_table, &site, error))
    return FALSE;
  if (o->view_site)
    v->patch_site = (StrataPatchSite) site;
  g_autoptr (GPtrArray) targets = strata_prompt_set_list_targets (s->prompts);
  const char *target = o->view_target ? o->view_target : targets->len ? targets->pdata[0] : NULL;
  gboolean known = FALSE;
  for (guint i = 0; target && i < targets->len; i++)
    known = known || strcmp (targets->pdata[i], target) == 0;
  if (target && !known)
    return strata_cli_fail_with (error, "--view-target: the prompt set has no target '%s'", target);
  v->target = g_strdup (target);
  if (o->view_tag) {
    g_autoptr (GPtrArray) tags = strata_prompt_set_list_tags (s->prompts);
    gboolean tag_known = FALSE;
    for (guint i = 0; i < tags->len; i++)
      tag_known = tag_known || strcmp (tags->pdata[i], o->view_tag) == 0;
    if (!tag_known)
      return strata_cli_fail_with (error, "--view-tag: no prompt has the tag '%s'", o->view_tag);
    v->tag = g_strdup (o->view_tag);
  }
  if (o->view_position && (v->position = strata_prompt_set_position_index (s->prompts, o->view_position)) < 0)
    return strata_cli_fail_with (error, "--view-position: the first prompt has no position '%s'", o->view_position);
  return TRUE;
}

static gboolean
write_outputs (const Options *o, StrataSeries *s, StrataFigureKind kind, GError **error)
{
  g_auto (StrataViewState) view = { 0 };
  if (!view_for (o, s, kind, &view, error))
    return FALSE;
  if (o->json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    strata_probe_json_series (b, s);
    json_builder_end_object (b);
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    if (!strata_cli_write_json (root, o->json, error))
      return FALSE;
  }
  if (o->session) {
    g_autoptr (StrataSession) session = strata_session_new ();
    session->series = s;
    session->view = view;
    session->view.target = g_strdup (view.target);
    session->view.tag = g_strdup (view.tag);
    gboolean ok = strata_session_save (session, o->session, error);
    session->series = NULL; /* the caller's */
    if (!ok)
      return FALSE;
  }
#ifdef STRATA_HAVE_FIGURES
  if (o->figure) {
    StrataFigureInput in = { .kind = kind, .series = s, .view = &view };
    double height = strata_figure_fit_height (&in, STRATA_FIGURE_DEFAULT_WIDTH, STRATA_FIGURE_DEFAULT_HEIGHT);
    if (!strata_figure_export (o->figure, STRATA_FIGURE_DEFAULT_WIDTH, height, o->scale, &in, error))
      return FALSE;
  }
#endif
  return TRUE;
}

int
strata_cmd_series (int argc, char **argv)
{
  g_auto (Options) o = { .threshold = 0.5, .scale = 2.0, .head_pos = -1 };
  g_autofree char *site_words = strata_enum_join (&strata_patch_site_table, ", ", " or ", -1);
  g_autofree char *site_help = g_strdup_printf ("Site patched: %s; repeats (default resid_pre)", site_words);
  g_autofree char *direction_help = strata_enum_join (&strata_patch_direction_table, ", ", " or ", STRATA_PATCH_NOISE);
  g_autofree char *metric_help = strata_enum_join (&strata_patch_metric_table, ", ", " or ", STRATA_METRIC_TOP1_CHANGE);
  GOptionEntry entries[] = {
    { "prompts", 0, 0, G_OPTION_ARG_FILENAME, &o.prompts, "Prompt set with targets (JSON Lines)", "FILE.jsonl" },
    { "prompt", 'p', 0, G_OPTION_ARG_STRING, &o.prompt, "One text prompt (with --target)", "TEXT" },
    { "ids", 0, 0, G_OPTION_ARG_STRING, &o.ids, "One prompt as token ids (with --target)", "LIST" },
    { "target", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.targets, "Target token (text or #ID), added to every prompt; repeats", "TOK" },
    { "answer", 0, 0, G_OPTION_ARG_STRING, &o.answer, "Target the accuracy figure shows (default: 'answer', else the first)", "NAME" },
    { "answer-pos", 0, 0, G_OPTION_ARG_STRING, &o.answer_pos, "Named position the accuracy reads (default: each prompt's last)", "NAME" },
    { "raw", 0, 0, G_OPTION_ARG_NONE, &o.raw, "Raw lens: no final norm", NULL },
    { "threshold", 0, 0, G_OPTION_ARG_DOUBLE, &o.threshold, "Probability of the threshold resolution layer (default 0.5)", "P" },
    { "patch", 0, 0, G_OPTION_ARG_NONE, &o.patch, "Also patch every checkpoint (default: the paper's causal strength, noising with top1-change)", NULL },
    { "site", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.sites, site_help, "SITE" },
    { "direction", 0, 0, G_OPTION_ARG_STRING, &o.direction, direction_help, "DIR" },
    { "metric", 0, 0, G_OPTION_ARG_STRING, &o.metric, metric_help, "METRIC" },
    { "patch-target", 0, 0, G_OPTION_ARG_STRING, &o.patch_target, "Target patched (a target name of the set; default each prompt's first)", "NAME" },
    { "head-pos", 0, 0, G_OPTION_ARG_INT, &o.head_pos, "Position of the head_at site (default: the last)", "P" },
    { "tokenizer", 't', 0, G_OPTION_ARG_FILENAME, &o.tokenizer, "Tokenizer file, for formats that have none inside", "FILE" },
    { "bos", 0, 0, G_OPTION_ARG_STRING, &o.bos, "Prepend BOS to text prompts: on or off (default: the model's policy)", "on|off" },
    { "json", 0, 0, G_OPTION_ARG_FILENAME, &o.json, "Write the results as JSON to OUT ('-': stdout)", "OUT" },
    { "session", 0, 0, G_OPTION_ARG_FILENAME, &o.session, "Save the series as a session (HDF5)", "OUT.h5" },
    { "figure", 'o', 0, G_OPTION_ARG_FILENAME, &o.figure, "Draw a figure to OUT (.png, .svg or .pdf)", "OUT" },
    { "view", 0, 0, G_OPTION_ARG_STRING, &o.view, "Figure: series (default), accuracy or series-patch", "NAME" },
    { "scale", 0, 0, G_OPTION_ARG_DOUBLE, &o.scale, "PNG pixels per point (default 2)", "S" },
    { "view-target", 0, 0, G_OPTION_ARG_STRING, &o.view_target, "Target the heat map shows (default: the set's first)", "NAME" },
    { "view-position", 0, 0, G_OPTION_ARG_STRING, &o.view_position, "Named position shown (default: the last)", "NAME" },
    { "view-tag", 0, 0, G_OPTION_ARG_STRING, &o.view_tag, "Prompt tag shown (default: all)", "TAG" },
    { "view-quantity", 0, 0, G_OPTION_ARG_STRING, &o.view_quantity, "Heat map colour: mrr (default) or prob (mean probability)", "Q" },
    { "view-site", 0, 0, G_OPTION_ARG_STRING, &o.view_site, "Patching site shown (default: the first patched)", "SITE" },
    { "log-color", 0, 0, G_OPTION_ARG_NONE, &o.log_color, "Logarithmic colour scale for probabilities", NULL },
    STRATA_CLI_DEVICE_ENTRY (o.device),
    STRATA_CLI_PRECISION_ENTRY (o.precision),
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("DIR [DIR_B]");
  g_option_context_set_summary (ctx, "The logit lens (and optionally patching) over every checkpoint of one or two "
                                     "training runs:\nDIR holds checkpoint-N/, step-N/ or global_stepN/ subfolders "
                                     "(or is a Hugging Face download with refs/).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  GError *error = NULL;
  StrataFigureKind kind = STRATA_FIGURE_SERIES_HEATMAP;
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || !check_options (&o, argc, &kind, &error))
    return strata_cli_fail (error);

  StrataSeriesRequest req;
  strata_series_request_init (&req);
  req.open.tokenizer_path = o.tokenizer;
  req.bos = o.bos ? strcmp (o.bos, "on") == 0 : -1;
  req.make_prompts = make_prompts_cb;
  req.make_prompts_data = &o;
  req.raw = o.raw;
  req.threshold = o.threshold;
  req.answer_target = o.answer;
  req.answer_position = o.answer_pos;
  StrataPatchSite sites[16];
  int n_sites = 0, dir = STRATA_PATCH_NOISE, met = STRATA_METRIC_TOP1_CHANGE;
  for (int i = 0; o.sites && o.sites[i]; i++) {
    if (n_sites == G_N_ELEMENTS (sites) || !strata_patch_site_from_string (o.sites[i], &sites[n_sites]))
      return strata_cli_fail (g_error_new (G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "--site takes %s, not '%s'",
                                           site_words, o.sites[i]));
    n_sites++;
  }
  if (n_sites == 0)
    sites[n_sites++] = STRATA_PATCH_RESID_PRE;
  if (!parse_enum ("--direction", o.direction, &strata_patch_direction_table, &dir, &error)
      || !parse_enum ("--metric", o.metric, &strata_patch_metric_table, &met, &error)
      || !strata_cli_precision (o.precision, &req.precision, &error))
    return strata_cli_fail (error);
  req.patch = o.patch;
  req.patch_options = (StrataPatchOptions) { sites, n_sites, dir, met, o.head_pos };
  req.patch_target = o.patch_target;
  if (!(req.backend = strata_cli_device (o.device, NULL, &error)))
    return strata_cli_fail (error);

  g_autoptr (StrataSeries) s = strata_series_new ();
  for (int i = 1; i < argc; i++) {
    StrataTrainingRun *run = strata_training_run_discover (argv[i], &error);
    if (!run)
      return strata_cli_fail (error);
    strata_series_add_run (s, run);
  }
  Progress progress = { isatty (STDERR_FILENO), 0, 0, s };
  strata_series_count_done (s, &progress.total);
  req.progress = progress_cb;
  req.progress_data = &progress;
  req.checkpoint_done = checkpoint_done_cb;
  req.checkpoint_data = &progress;
  gboolean ok = strata_series_run (s, &req, &error);
  if (progress.tty)
    fprintf (stderr, "\r\033[K");
  if (!ok || !write_outputs (&o, s, kind, &error))
    return strata_cli_fail (error);
  return 0;
}
