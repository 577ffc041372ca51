/* strata-cmd-probe.c: `strata lens` and `strata patch`.
 *
 * Both build the prompt set, run the pipeline the window runs too (strata_analysis_run,
 * probes/strata-analysis-run.h) and hand its StrataAnalysis to finish(), which writes any of: the JSON (docs/probe-json.md), a session (--session, HDF5,
 * docs/session-format.md) and a figure (--figure, PNG/SVG/PDF). Output paths and names are
 * checked before the model runs, so a typo costs no computation. */
#include <stdio.h>
#include <string.h>

#include "strata-cli.h"
#include "strata-analysis.h"
#include "strata-analysis-run.h"
#include "strata-probe-json.h"
#include "strata-session.h"
#ifdef STRATA_HAVE_FIGURES
#include "strata-figure.h"
#endif

typedef struct {
  char *tokenizer;
  char *bos;
  char *json;
  char *session;
  char *figure;
  char *view;
  char *device;                  /* --device as given (NULL: STRATA_DEVICE, else auto) */
  char *precision_name;          /* --precision as given (NULL: fp32) */
  StrataPrecision precision;
  char *positions;               /* --positions A:B of the figure, or NULL */
  const StrataBackend *backend;  /* what it chose, once per command (--compare shares it) */
  double scale;
  int layer, head;
  StrataFigureKind kind;  /* from --view, else the command's default */
} Common;

/* `view_help`: the --view help, generated from the figure names. */
static GOptionEntry *
common_entries (Common *c, const char *view_help)
{
  GOptionEntry entries[] = {
    { "tokenizer", 't', 0, G_OPTION_ARG_FILENAME, &c->tokenizer, "Tokenizer file, for formats that have none inside", "FILE" },
    { "bos", 0, 0, G_OPTION_ARG_STRING, &c->bos, "Prepend BOS to text prompts: on or off (default: the model's policy)", "on|off" },
    { "json", 0, 0, G_OPTION_ARG_FILENAME, &c->json, "Write the results as JSON to OUT ('-': stdout)", "OUT" },
    { "session", 0, 0, G_OPTION_ARG_FILENAME, &c->session, "Save the whole analysis as a session (HDF5)", "OUT.h5" },
    { "figure", 'o', 0, G_OPTION_ARG_FILENAME, &c->figure, "Draw a figure to OUT (.png, .svg or .pdf)", "OUT" },
    { "view", 0, 0, G_OPTION_ARG_STRING, &c->view, view_help, "NAME" },
    STRATA_CLI_DEVICE_ENTRY (c->device),
    STRATA_CLI_PRECISION_ENTRY (c->precision_name),
    { "scale", 0, 0, G_OPTION_ARG_DOUBLE, &c->scale, "PNG pixels per point (default 2)", "S" },
    { "layer", 0, 0, G_OPTION_ARG_INT, &c->layer, "Layer selected in the figure (attention: the layer shown)", "K" },
    { "head", 0, 0, G_OPTION_ARG_INT, &c->head, "Head shown by the attention figure (default 0)", "H" },
#ifdef STRATA_HAVE_FIGURES
    { "positions", 0, 0, G_OPTION_ARG_STRING, &c->positions, STRATA_CLI_POSITIONS_HELP, "A:B" },
#endif
    { NULL }
  };
  return g_memdup2 (entries, sizeof entries);
}

static void
common_clear (Common *c)
{
  g_free (c->tokenizer), g_free (c->bos), g_free (c->json);
  g_free (c->session), g_free (c->figure), g_free (c->view), g_free (c->device), g_free (c->precision_name), g_free (c->positions);
}

#define fail_with strata_cli_fail_with

static gboolean
parse (int *argc, char ***argv, const char *params, const char *summary, Common *c, GOptionEntry *extra,
       GError **error)
{
  g_autofree char *views = strata_enum_join (&strata_checkpoint_figure_table, ", ", " or ", -1);
  g_autofree char *view_help = g_strdup_printf ("Figure: %s (default: lens for `lens`, patch for `patch`)", views);
  g_autofree GOptionEntry *common = common_entries (c, view_help);
  g_autoptr (GOptionContext) ctx = g_option_context_new (params);
  g_option_context_set_summary (ctx, summary);
  g_option_context_add_main_entries (ctx, common, NULL);
  g_option_context_add_main_entries (ctx, extra, NULL);
  if (!g_option_context_parse (ctx, argc, argv, error))
    return FALSE;
  if (*argc != 2)
    return fail_with (error, "give exactly one MODEL (see --help)");
  if (c->bos && strcmp (c->bos, "on") != 0 && strcmp (c->bos, "off") != 0)
    return fail_with (error, "--bos takes on or off, not '%s'", c->bos);
  if (!c->json && !c->session && !c->figure)
    return fail_with (error, "give at least one of --json OUT ('-': stdout), --session OUT.h5 and --figure OUT");
  if (c->view && !c->figure && !c->session)
    return fail_with (error, "--view chooses the figure of --figure and the view a --session opens on; give one");
  int kind;
  if (c->view && !strata_enum_from_string (&strata_checkpoint_figure_table, c->view, &kind))
    return fail_with (error, "--view takes %s, not '%s'", views, c->view);
  if (c->view)
    c->kind = (StrataFigureKind) kind;
#ifdef STRATA_HAVE_FIGURES
  /* The form now, the bounds once the sequence is known (finish). */
  int first, count;
  g_autoptr (GError) range_error = NULL;
  if (c->positions && !c->figure)
    return fail_with (error, "--positions chooses what --figure draws; give --figure OUT");
  if (c->positions && !strata_figure_parse_range (c->positions, G_MAXINT, &first, &count, &range_error))
    return fail_with (error, "--positions: %s", range_error->message);
#endif
  if (!strata_cli_check_outputs (c->figure, c->scale, c->session, c->json, error)
      || !strata_cli_precision (c->precision_name, &c->precision, error))
    return FALSE;
  /* Last: every other mistake is reported first, and nothing has been written yet. */
  return (c->backend = strata_cli_device (c->device, NULL, error)) != NULL;
}

static StrataModel *
open_model (const char *path, const Common *c, GError **error)
{
  StrataOpenOptions oo = { c->tokenizer, strata_matrix_policy_for (c->backend), c->backend };
  g_autoptr (StrataModel) m = strata_model_open_with (path, &oo, error);
  if (!m)
    return NULL;
  if (c->bos)
    m->add_bos = strcmp (c->bos, "on") == 0;
  if (m->add_bos && m->bos_id < 0) {
    fail_with (error, "%s: BOS is requested but the model defines no BOS token", path);
    return NULL;
  }
  return g_steal_pointer (&m);
}

/* --candidates FILE (tokens as text or #ID, one per line) or --candidates-prefix STR (every
 * vocabulary piece starting with STR). */
static GArray *
load_candidates (StrataModel *m, const char *file, const char *prefix, GError **error)
{
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (int32_t));
  if (file) {
    g_autofree char *text = NULL;
    if (!g_file_get_contents (file, &text, NULL, error))
      return NULL;
    g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
    for (int i = 0; lines[i]; i++) {
      char *line = g_strchomp (lines[i]);
      if (!*line)
        continue;
      g_autofree char *what = g_strdup_printf ("%s:%d", file, i + 1);
      int32_t id;
      if (!strata_resolve_token (m, line, what, &id, error))
        return NULL;
      g_array_append_val (out, id);
    }
  } else {
    if (!m->tokenizer)
      return fail_with (error, "--candidates-prefix needs a tokenizer"), NULL;
    for (int32_t id = 0; id < m->weights->cfg.vocab; id++) {
      const char *piece = strata_tokenizer_get_piece (m->tokenizer, id);
      if (piece && g_str_has_prefix (piece, prefix))
        g_array_append_val (out, id);
    }
  }
  if (out->len == 0)
    return fail_with (error, "the candidate set is empty"), NULL;
  return g_steal_pointer (&out);
}

/* What the saved view and the figure show: the figure asked for (or the command's own),
 * the first target, the first patched site. */
static void
view_for (const Common *c, StrataAnalysis *a, const StrataPatchOptions *po, StrataViewState *v)
{
  *v = (StrataViewState) { 0 };
  v->figure = c->view ? c->kind : po ? STRATA_FIGURE_PATCH_HEATMAP : STRATA_FIGURE_LENS_HEATMAP;
  v->layer = c->layer;
  v->position = -1;
  v->head = c->head;
  v->patch_site = po && po->n_sites > 0 ? po->sites[0] : STRATA_PATCH_RESID_PRE;
  v->curve = STRATA_CURVE_PROB;
  if (po && a->patch_results && a->patch_results->len > 0)
    v->target = g_strdup (((StrataPatchResult *) a->patch_results->pdata[0])->target_name);
  else if (a->lens_results && a->lens_results->len > 0) {
    const StrataLensResult *r = a->lens_results->pdata[0];
    if (r->targets->len > 0)
      v->target = g_strdup (((StrataLensTarget *) r->targets->pdata[0])->name);
  }
}

/* The analyses stay the caller's; `b` (the compared checkpoint) may be NULL. */
static gboolean
save_session (const char *path, StrataAnalysis *a, StrataAnalysis *b, const StrataViewState *v, GError **error)
{
  g_autoptr (StrataSession) s = strata_session_new ();
  s->view = *v;
  s->view.target = g_strdup (v->target);
  s->view.tag = g_strdup (v->tag);
  g_ptr_array_add (s->analyses, a);
  if (b)
    g_ptr_array_add (s->analyses, b);
  gboolean ok = strata_session_save (s, path, error);
  g_ptr_array_set_free_func (s->analyses, NULL);
  g_ptr_array_set_size (s->analyses, 0);
  return ok;
}

/* What the pipeline had to say, on stderr: also when the run failed afterwards. */
static void
print_report (const StrataAnalysisReport *report)
{
  for (guint i = 0; report->warnings && i < report->warnings->len; i++)
    fprintf (stderr, "strata: warning: %s\n", (const char *) report->warnings->pdata[i]);
  if (report->attention_note)
    fprintf (stderr, "strata: note: %s\n", report->attention_note);
}

/* One line per site on stderr: the estimate against real patching. */
static void
print_agreement (const GArray *agreement)
{
  for (guint i = 0; agreement && i < agreement->len; i++) {
    const StrataPatchAgreement *ag = &g_array_index (agreement, StrataPatchAgreement, i);
    fprintf (stderr, "strata: attribution vs real patching, %s: mean Pearson r %.3f, top-%d overlap %.2f, "
             "largest score difference %.3g (%d prompts)\n", strata_patch_site_to_string (ag->site), ag->pearson, ag->k,
             ag->topk_overlap, ag->max_abs_diff, ag->n_prompts);
  }
}

/* The checkpoint `--compare` names: its model and analysis, beside the primary's. */
typedef struct {
  StrataModel *model;
  StrataAnalysis *analysis;
} Compared;

/* `trace`: the trace resolution the JSON reports (NULL: none). */
static int
finish (const char *command, StrataModel *m, StrataAnalysis *a, const StrataAnalysisRequest *patched,
        const StrataAnalysisReport *report, gboolean grid, const StrataTraceOptions *trace, const Compared *cmp,
        const StrataViewState *v, const Common *c)
{
  GError *error = NULL;
  StrataAnalysis *b = cmp ? cmp->analysis : NULL;
  const StrataViewState *saved = v; /* the session opens on what the figure shows */
#ifdef STRATA_HAVE_FIGURES
  /* Checked before anything is written: a bad range leaves no output behind. */
  StrataViewState figure_view = *v;
  StrataFigureInput in = { .kind = v->figure, .a = a, .b = b, .view = &figure_view };
  if (!strata_cli_apply_positions (c->positions, &in, &figure_view, &error))
    return strata_cli_fail (error);
  saved = &figure_view;
#endif
  if (c->json) {
    g_autoptr (JsonBuilder) jb = json_builder_new ();
    json_builder_begin_object (jb);
    strata_probe_json_header (jb, command, a);
    if (patched)
      strata_probe_json_patch (jb, m, a, &patched->patch_options, patched->patch_method, report);
    else
      strata_probe_json_lens (jb, m, a, grid, trace);
    if (b) {
      json_builder_set_member_name (jb, "compare");
      json_builder_begin_object (jb);
      strata_probe_json_header (jb, command, b);
      strata_probe_json_lens (jb, cmp->model, b, grid, trace);
      json_builder_end_object (jb);
    }
    json_builder_end_object (jb);
    g_autoptr (JsonNode) root = json_builder_get_root (jb);
    if (!strata_cli_write_json (root, c->json, &error))
      return strata_cli_fail (error);
  }
  if (c->session && !save_session (c->session, a, b, saved, &error))
    return strata_cli_fail (error);
#ifdef STRATA_HAVE_FIGURES
  if (c->figure && !strata_figure_export_analysis (a, b, v->figure, &figure_view, c->figure, c->scale, &error))
    return strata_cli_fail (error);
#endif
  return 0;
}

static gboolean
parse_enum (const char *opt, const char *value, const StrataEnumTable *t, int *out, GError **error)
{
  if (strata_enum_from_string (t, value, out))
    return TRUE;
  g_autofree char *all = strata_enum_join (t, "|", "|", -1);
  return fail_with (error, "%s takes %s, not '%s'", opt, all, value);
}

/* What `strata lens` runs on each checkpoint (the primary and the --compare one). */
typedef struct {
  char *prompt, *ids_list, *prompts, *cand_file, *cand_prefix;
  GStrv targets;
  int topk;
  double threshold;
  gboolean raw;
  int generate;               /* --generate N: the model continues the prompt first */
  StrataGenerateOptions go;
  /* Trace resolution: the targets chosen from the generated part (--trace-targets as given,
   * and what it means: auto with --generate unless said otherwise; capped by --trace-max) and
   * how cells count (--trace-topk, -1 until given; --trace-anywhere). */
  char *trace_targets;
  StrataTraceTargets trace_mode;
  int trace_max;
  StrataTraceOptions trace;
} LensInput;

/* The lens of one checkpoint over the prompt, ids or set of `in` (tokenized by that
 * checkpoint); its model in `*model_out`. */
static StrataAnalysis *
lens_checkpoint (const char *path, const Common *c, const LensInput *in, StrataModel **model_out, GError **error)
{
  g_autoptr (StrataModel) m = NULL;
  g_autoptr (StrataPromptSet) set = NULL;
  g_autoptr (GArray) candidates = NULL;
  g_auto (StrataAnalysisReport) report = { 0 };
  if (!(m = open_model (path, c, error)))
    return NULL;
  if (in->prompts) {
    if (!(set = strata_prompt_set_load (in->prompts, m, error))
        || !strata_prompt_set_add_targets (set, m, (const char *const *) in->targets, error))
      return NULL;
  } else {
    g_autoptr (GArray) ids = in->ids_list ? strata_cli_parse_ids (in->ids_list, error) : NULL;
    if (in->ids_list && !ids)
      return NULL;
    set = strata_prompt_set_new_single (m, in->prompt, ids ? (int32_t *) ids->data : NULL, ids ? (int) ids->len : 0,
                                        NULL, (const char *const *) in->targets, NULL, error);
    if (!set)
      return NULL;
  }
  if ((in->cand_file || in->cand_prefix) && !(candidates = load_candidates (m, in->cand_file, in->cand_prefix, error)))
    return NULL;
  StrataEngine *e = strata_cli_engine_new (c->backend, c->precision, m, error);
  if (!e)
    return NULL;
  /* Each prompt continued in turn; prompt i samples with seed S + i (the first as
   * `strata generate --seed S` would). */
  for (guint i = 0; in->generate > 0 && i < set->prompts->len; i++) {
    StrataPrompt *p = set->prompts->pdata[i];
    StrataGenerateOptions go = in->go;
    go.seed += i;
    if (!strata_generate_prompt (e, m, p, &go, NULL, NULL, error)) {
      g_prefix_error (error, "%s, prompt %u: ", set->source, i + 1);
      strata_engine_free (e);
      return NULL;
    }
  }
  /* Targets chosen from the generated text join the lens' targets: their ranks are read in
   * the same pass as the typed ones'. */
  gboolean auto_targets = in->trace_mode == STRATA_TRACE_TARGETS_AUTO;
  if (auto_targets && !m->tokenizer && in->trace_targets) {
    strata_engine_free (e);
    return fail_with (error, "%s: --trace-targets=auto reads token text and the model has no tokenizer (give --tokenizer)",
                      path), NULL;
  }
  for (guint i = 0; auto_targets && m->tokenizer && i < set->prompts->len; i++)
    strata_trace_add_auto_targets (set->prompts->pdata[i], m->tokenizer, m->bos_id, in->trace_max);
  StrataAnalysisRequest req;
  strata_analysis_request_init (&req);
  req.lens_options = (StrataLensOptions) { in->topk, in->raw, in->threshold, candidates ? (int32_t *) candidates->data : NULL,
                                           candidates ? (int) candidates->len : 0 };
  req.attention = c->session || c->figure; /* for the attention figure of a session or --figure */
  StrataAnalysis *a = strata_analysis_run (e, m, g_steal_pointer (&set), &req, &report, error);
  print_report (&report);
  strata_engine_free (e);
  if (a)
    *model_out = g_steal_pointer (&m);
  return a;
}

/* --view-target, --view-position, --view-tag and --view-curve: what the saved view and the
 * figure show, checked against the prompt set that ran (a name it lacks is an error). */
typedef struct {
  char *target, *position, *tag, *curve;
} LensView;

static gboolean
apply_lens_view (const LensView *lv, const StrataAnalysis *a, StrataViewState *v, GError **error)
{
  int curve;
  if (lv->curve && !parse_enum ("--view-curve", lv->curve, &strata_curve_quantity_table, &curve, error))
    return FALSE;
  if (lv->curve)
    v->curve = (StrataCurveQuantity) curve;
  g_autoptr (GPtrArray) targets = strata_prompt_set_list_targets (a->prompts);
  if (lv->target && !g_ptr_array_find_with_equal_func (targets, lv->target, g_str_equal, NULL))
    return fail_with (error, "--view-target: the prompts have no target '%s'", lv->target);
  if (lv->target) {
    g_free (v->target);
    v->target = g_strdup (lv->target);
  }
  g_autoptr (GPtrArray) tags = strata_prompt_set_list_tags (a->prompts);
  if (lv->tag && !g_ptr_array_find_with_equal_func (tags, lv->tag, g_str_equal, NULL))
    return fail_with (error, "--view-tag: no prompt has the tag '%s'", lv->tag);
  v->tag = g_strdup (lv->tag);
  if (lv->position && (v->position = strata_prompt_set_position_index (a->prompts, lv->position)) < 0)
    return fail_with (error, "--view-position: the first prompt has no position '%s'", lv->position);
  return TRUE;
}

int
strata_cmd_lens (int argc, char **argv)
{
  Common c = { .scale = 2.0, .layer = -1, .head = 0 };
  LensInput in = { .topk = STRATA_ANALYSIS_TOPK, .threshold = 0.5, .trace_max = STRATA_TRACE_MAX_AUTO, .trace = { -1, FALSE } };
  LensView lv = { 0 };
  StrataCliSampling sampling = STRATA_CLI_SAMPLING_INIT;
  g_autofree char *compare = NULL;
  gboolean summary = FALSE;
  g_autofree char *curves = strata_enum_join (&strata_curve_quantity_table, ", ", " or ", -1);
  g_autofree char *curve_help = g_strdup_printf ("Curve quantity of the curves figure: %s (default probability)", curves);
  GOptionEntry extra[] = {
    { "prompt", 'p', 0, G_OPTION_ARG_STRING, &in.prompt, "Text prompt (BOS policy applied)", "TEXT" },
    { "ids", 0, 0, G_OPTION_ARG_STRING, &in.ids_list, "Token ids, e.g. 2,325,325 (used exactly, no BOS)", "LIST" },
    { "prompts", 0, 0, G_OPTION_ARG_FILENAME, &in.prompts, "Prompt set (JSON Lines)", "FILE.jsonl" },
    { "target", 0, 0, G_OPTION_ARG_STRING_ARRAY, &in.targets, "Target token (text, one token, or #ID); repeats", "TOK" },
    { "candidates", 0, 0, G_OPTION_ARG_FILENAME, &in.cand_file, "Candidate set: tokens one per line", "FILE" },
    { "candidates-prefix", 0, 0, G_OPTION_ARG_STRING, &in.cand_prefix, "Candidate set: pieces starting with STR", "STR" },
    { "topk", 'k', 0, G_OPTION_ARG_INT, &in.topk, "Top tokens kept per layer and position (default " G_STRINGIFY (STRATA_ANALYSIS_TOPK) ")", "K" },
    { "raw", 0, 0, G_OPTION_ARG_NONE, &in.raw, "Raw lens: no final norm", NULL },
    { "threshold", 0, 0, G_OPTION_ARG_DOUBLE, &in.threshold, "Probability of the threshold resolution layer (default 0.5)", "P" },
    { "summary", 0, 0, G_OPTION_ARG_NONE, &summary, "Omit the per-prompt lens grid (keep resolution and aggregates)", NULL },
    { "compare", 0, 0, G_OPTION_ARG_FILENAME, &compare, "Second checkpoint, run on the same prompts and shown beside MODEL", "MODEL_B" },
    { "view-target", 0, 0, G_OPTION_ARG_STRING, &lv.target, "Target the figure shows (default: the first)", "NAME" },
    { "view-position", 0, 0, G_OPTION_ARG_STRING, &lv.position, "Named position the curves read (default: the last)", "NAME" },
    { "view-tag", 0, 0, G_OPTION_ARG_STRING, &lv.tag, "Prompt tag the MRR curves average over (default: all)", "TAG" },
    { "view-curve", 0, 0, G_OPTION_ARG_STRING, &lv.curve, curve_help, "Q" },
    { "generate", 0, 0, G_OPTION_ARG_INT, &in.generate, "Let the model continue each prompt by up to N tokens first, then read the whole sequence", "N" },
    STRATA_CLI_SAMPLING_ENTRIES (sampling),
    { "trace-targets", 0, 0, G_OPTION_ARG_STRING, &in.trace_targets, "Trace resolution targets: auto (every number and entity the generated part writes, as well as --target) or none (--target only); default auto with --generate", "auto|none" },
    { "trace-max", 0, 0, G_OPTION_ARG_INT, &in.trace_max, "At most N automatic trace targets, the most frequent (default " G_STRINGIFY (STRATA_TRACE_MAX_AUTO) ")", "N" },
    { "trace-topk", 0, 0, G_OPTION_ARG_INT, &in.trace.topk, "A target counts as held where the lens ranks it within the top K (default 1)", "K" },
    { "trace-anywhere", 0, 0, G_OPTION_ARG_NONE, &in.trace.anywhere, "Trace targets count as written anywhere in the sequence, not only in the generated part", NULL },
    { NULL }
  };
  GError *error = NULL;
  int status = 1;
  g_autoptr (StrataModel) m = NULL;
  g_autoptr (StrataAnalysis) a = NULL;
  Compared cmp = { NULL, NULL };
  g_auto (StrataViewState) v = { 0 };
  if (!parse (&argc, &argv, "MODEL", "Logit lens over every layer and position.", &c, extra, &error))
    goto out;
  if ((in.prompt != NULL) + (in.ids_list != NULL) + (in.prompts != NULL) != 1) {
    fail_with (&error, "give exactly one of --prompt, --ids and --prompts");
    goto out;
  }
  if (in.cand_file && in.cand_prefix) {
    fail_with (&error, "give at most one of --candidates and --candidates-prefix");
    goto out;
  }
  if (in.generate && compare) {
    fail_with (&error, "--generate and --compare: the two checkpoints would read different sequences; run each alone");
    goto out;
  }
  if (!strata_cli_generate_options (&sampling, in.generate, &in.go, &error))
    goto out;
  int trace_mode = in.generate > 0 ? STRATA_TRACE_TARGETS_AUTO : STRATA_TRACE_TARGETS_NONE;
  if (in.trace_targets && !parse_enum ("--trace-targets", in.trace_targets, &strata_trace_targets_table, &trace_mode, &error))
    goto out;
  in.trace_mode = (StrataTraceTargets) trace_mode;
  /* The JSON reports the trace resolution of a generated trace, or when any option asks. */
  gboolean trace = in.generate > 0 || in.trace_targets || in.trace.topk != -1 || in.trace.anywhere;
  if (in.trace.topk == -1)
    in.trace.topk = 1;
  if (in.trace.topk < 1 || in.trace_max < 0) {
    fail_with (&error, "--trace-topk takes K >= 1 and --trace-max N >= 0 (given %d and %d)", in.trace.topk, in.trace_max);
    goto out;
  }
  if (!(a = lens_checkpoint (argv[1], &c, &in, &m, &error)))
    goto out;
  view_for (&c, a, NULL, &v);
  if (!apply_lens_view (&lv, a, &v, &error))
    goto out;
  if (compare) {
    if (!(cmp.analysis = lens_checkpoint (compare, &c, &in, &cmp.model, &error)))
      goto out;
    v.compare = TRUE;
  }
  v.trace = in.trace;
  status = finish ("lens", m, a, NULL, NULL, !summary, trace ? &in.trace : NULL, compare ? &cmp : NULL, &v, &c);
out:
  g_clear_pointer (&cmp.analysis, strata_analysis_free);
  g_clear_pointer (&cmp.model, strata_model_free);
  g_free (in.prompt), g_free (in.ids_list), g_free (in.prompts), g_free (in.cand_file), g_free (in.cand_prefix);
  g_free (in.trace_targets);
  g_strfreev (in.targets);
  g_free (lv.target), g_free (lv.position), g_free (lv.tag), g_free (lv.curve);
  g_free (sampling.stop);
  common_clear (&c);
  return error ? strata_cli_fail (error) : status;
}

int
strata_cmd_patch (int argc, char **argv)
{
  Common c = { .scale = 2.0, .layer = -1, .head = 0 };
  g_autofree char *clean = NULL, *corrupt = NULL, *prompts = NULL, *target = NULL, *contrast = NULL;
  g_autofree char *direction = NULL, *metric = NULL;
  g_auto (GStrv) sites = NULL;
  int head_pos = -1;
  gboolean naive = FALSE, agreement = FALSE;
  g_autofree char *method = NULL;
  g_autofree char *method_help = strata_enum_join (&strata_patch_method_table, ", ", " or ", STRATA_PATCH_EXACT);
  g_autofree char *site_words = strata_enum_join (&strata_patch_site_table, ", ", " or ", -1);
  g_autofree char *site_help = g_strdup_printf ("%s; repeats", site_words);
  g_autofree char *direction_help = strata_enum_join (&strata_patch_direction_table, ", ", " or ", STRATA_PATCH_DENOISE);
  g_autofree char *metric_help = strata_enum_join (&strata_patch_metric_table, ", ", " or ", STRATA_METRIC_LOGIT_DIFF);
  GOptionEntry extra[] = {
    { "clean", 0, 0, G_OPTION_ARG_STRING, &clean, "Clean prompt text", "TEXT" },
    { "corrupt", 0, 0, G_OPTION_ARG_STRING, &corrupt, "Corrupted prompt text (same token length)", "TEXT" },
    { "prompts", 0, 0, G_OPTION_ARG_FILENAME, &prompts, "Prompt set with corrupted inputs (JSON Lines)", "FILE.jsonl" },
    { "target", 0, 0, G_OPTION_ARG_STRING, &target, "Target token (text or #ID), or a target name of the set", "TOK" },
    { "contrast", 0, 0, G_OPTION_ARG_STRING, &contrast, "Contrast token for the logit difference", "TOK" },
    { "site", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sites, site_help, "SITE" },
    { "direction", 0, 0, G_OPTION_ARG_STRING, &direction, direction_help, "DIR" },
    { "metric", 0, 0, G_OPTION_ARG_STRING, &metric, metric_help, "METRIC" },
    { "head-pos", 0, 0, G_OPTION_ARG_INT, &head_pos, "Position of the head_at site (default: the last)", "P" },
    { "naive", 0, 0, G_OPTION_ARG_NONE, &naive, "One full forward pass per patch (the reference loop)", NULL },
    { "method", 0, 0, G_OPTION_ARG_STRING, &method, method_help, "METHOD" },
    { "agreement", 0, 0, G_OPTION_ARG_NONE, &agreement,
      "With --method attribution: also run real patching and report how well the estimate agrees", NULL },
    { NULL }
  };
  GError *error = NULL;
  if (!parse (&argc, &argv, "MODEL", "Activation patching between a clean and a corrupted input.", &c, extra,
              &error)) {
    common_clear (&c);
    return strata_cli_fail (error);
  }
  int status = 1;
  g_autoptr (StrataModel) m = NULL;
  g_autoptr (StrataPromptSet) set = NULL;
  g_autoptr (StrataAnalysis) a = NULL;
  g_auto (StrataAnalysisReport) report = { 0 };
  StrataEngine *e = NULL;
  g_auto (StrataViewState) v = { 0 };
  StrataPatchSite site_list[16];
  StrataPatchOptions po = { site_list, 0, STRATA_PATCH_DENOISE, STRATA_METRIC_LOGIT_DIFF, head_pos };
  int dir = 0, met = 0, how = STRATA_PATCH_EXACT;
  if ((prompts != NULL) == (clean != NULL || corrupt != NULL) || (!prompts && (!clean || !corrupt))) {
    fail_with (&error, "give --clean and --corrupt, or --prompts");
    goto out;
  }
  if (!target) {
    fail_with (&error, "--target is required");
    goto out;
  }
  if ((direction && !parse_enum ("--direction", direction, &strata_patch_direction_table, &dir, &error)) ||
      (metric && !parse_enum ("--metric", metric, &strata_patch_metric_table, &met, &error)) ||
      (method && !parse_enum ("--method", method, &strata_patch_method_table, &how, &error)))
    goto out;
  if (how == STRATA_PATCH_ATTRIBUTION && met == STRATA_METRIC_TOP1_CHANGE) {
    fail_with (&error, "--method attribution needs a differentiable metric: --metric logit-diff or prob");
    goto out;
  }
  if (agreement && how != STRATA_PATCH_ATTRIBUTION) {
    fail_with (&error, "--agreement compares attribution patching with real patching: give --method attribution");
    goto out;
  }
  po.direction = (StrataPatchDirection) dir;
  po.metric = (StrataPatchMetric) met;
  for (int i = 0; sites && sites[i]; i++) {
    if (po.n_sites == G_N_ELEMENTS (site_list) || !strata_patch_site_from_string (sites[i], &site_list[po.n_sites])) {
      fail_with (&error, "--site takes %s, not '%s'", site_words, sites[i]);
      goto out;
    }
    po.n_sites++;
  }
  if (po.n_sites == 0) {
    site_list[0] = STRATA_PATCH_RESID_PRE, site_list[1] = STRATA_PATCH_ATTN_OUT, site_list[2] = STRATA_PATCH_MLP_OUT;
    po.n_sites = 3;
  }
  if (!(m = open_model (argv[1], &c, &error)) || !(e = strata_cli_engine_new (c.backend, c.precision, m, &error)))
    goto out;
  const char *const one_target[] = { target, NULL };
  set = prompts ? strata_prompt_set_load (prompts, m, &error)
                : strata_prompt_set_new_single (m, clean, NULL, 0, corrupt, one_target, contrast, &error);
  if (!set)
    goto out;
  int32_t contrast_id = -1;
  if (prompts && contrast && !strata_resolve_token (m, contrast, "contrast", &contrast_id, &error))
    goto out;
  for (guint i = 0; contrast_id >= 0 && i < set->prompts->len; i++)
    ((StrataPrompt *) set->prompts->pdata[i])->contrast = contrast_id;
  /* --target names a target of each prompt, else it is the token as written. A session or
   * a figure gets the whole picture, as in the window: the lens of every clean prompt (so
   * the circuit marks where the lens decodes the target) and the attention. */
  StrataAnalysisRequest req;
  strata_analysis_request_init (&req);
  req.lens = req.attention = c.session || c.figure;
  req.patch = TRUE;
  req.patch_options = po;
  req.patch_target = target;
  req.patch_naive = naive;
  req.patch_method = (StrataPatchMethod) how;
  req.patch_agreement = agreement;
  a = strata_analysis_run (e, m, g_steal_pointer (&set), &req, &report, &error);
  print_report (&report);
  if (!a)
    goto out;
  print_agreement (report.agreement);
  strata_engine_free (e);
  e = NULL;
  view_for (&c, a, &po, &v);
  status = finish ("patch", m, a, &req, &report, FALSE, NULL, NULL, &v, &c);
out:
  strata_engine_free (e);
  common_clear (&c);
  return error ? strata_cli_fail (error) : status;
}
