/* strata-figure-series.c: normalisation of a series of checkpoints (strata-series.h) into the
 * three series figures: the step x layer heat map of a target's MRR or mean probability with
 * its resolution layer traced, the step x layer map of a patching site, and the accuracy
 * against training step. Columns are a run's checkpoints in step order; a checkpoint not done
 * yet is an empty column. Like strata-figure-data.c: no cairo here. */
#include <math.h>
#include <string.h>

#include "strata-figure-private.h"

#define MAX_PANELS 2

/* ---- what the view selects ---- */

/* The target the view names when the series has it, else the set's first target. */
static const char *
series_target (const StrataSeries *s, const StrataViewState *v)
{
  g_autoptr (GPtrArray) targets = strata_prompt_set_list_targets (s->prompts);
  for (guint i = 0; v->target && i < targets->len; i++)
    if (strcmp (targets->pdata[i], v->target) == 0)
      return targets->pdata[i];
  return targets->len > 0 ? targets->pdata[0] : NULL;
}

static const char *
series_tag (const StrataViewState *v)
{
  return v->tag ? v->tag : "all";
}

static int
n_panels (const StrataSeries *s)
{
  return s ? MIN ((int) s->runs->len, MAX_PANELS) : 0;
}

const StrataSeriesCheckpoint *
strata_figure_series_checkpoint (const StrataFigureInput *in, int run, int col)
{
  const StrataSeries *s = in->series;
  if (!s || run < 0 || run >= n_panels (s))
    return NULL;
  const StrataTrainingRun *tr = s->runs->pdata[run];
  return col >= 0 && (guint) col < tr->checkpoints->len ? tr->checkpoints->pdata[col] : NULL;
}

const StrataSeriesCheckpoint *
strata_figure_series_pick (const StrataFigureInput *in, int run, int checkpoint, int layer, int *open_layer)
{
  const StrataSeriesCheckpoint *cp = strata_figure_series_checkpoint (in, run, checkpoint);
  *open_layer = -1;
  if (!cp)
    return NULL;
  if (layer >= 0)
    *open_layer = layer;
  else if (strata_series_checkpoint_is_done (cp))
    *open_layer = cp->model.config.n_layers;
  return cp;
}

static char *
step_text (gint64 step)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, step);
}

static char *
set_phrase (const StrataSeries *s)
{
  g_autofree char *name = g_path_get_basename (s->prompts->source);
  return g_strdup_printf ("prompt set %s (%u prompts)", name, s->prompts->prompts->len);
}

static char *
runs_phrase (const StrataSeries *s)
{
  GString *out = g_string_new (NULL);
  for (int r = 0; r < n_panels (s); r++) {
    const StrataTrainingRun *tr = s->runs->pdata[r];
    g_string_append_printf (out, "%s%s (%u checkpoints)", r ? " vs " : "", tr->name, tr->checkpoints->len);
  }
  /* Where the checkpoints ran: " · cpu" (a series may have been resumed elsewhere). */
  g_autoptr (GString) devices = g_string_new (NULL);
  for (int r = 0; r < n_panels (s); r++) {
    const StrataTrainingRun *tr = s->runs->pdata[r];
    for (guint c = 0; c < tr->checkpoints->len; c++) {
      const StrataSeriesCheckpoint *cp = tr->checkpoints->pdata[c];
      if (strata_series_checkpoint_is_done (cp))
        strata_figure_note_device (devices, cp->model.device);
    }
  }
  if (devices->len)
    g_string_append_printf (out, " \xc2\xb7 %s", devices->str);
  return g_string_free (out, FALSE);
}

/* "" when every checkpoint is done, else how far the series got and what that looks like
 * (`missing`: "empty columns", "no points"). */
static char *
progress_phrase (const StrataSeries *s, const char *missing)
{
  guint total, done = strata_series_count_done (s, &total);
  if (done == total)
    return g_strdup ("");
  return g_strdup_printf (" \xc2\xb7 %s: not run yet (%u of %u checkpoints done)", missing, done, total);
}

/* Column labels (steps) and the selection of panel `run`. */
static void
grid_columns (StrataGrid *g, const StrataTrainingRun *tr, const StrataViewState *v, int run)
{
  for (guint c = 0; c < tr->checkpoints->len; c++)
    g_ptr_array_add (g->col_labels, step_text (((StrataSeriesCheckpoint *) tr->checkpoints->pdata[c])->step));
  g->sel_col = v->run == run && v->checkpoint >= 0 && v->checkpoint < g->cols ? v->checkpoint : -1;
  g->sel_row = v->layer >= 0 && v->layer < g->rows ? v->layer : -1;
}

/* ---- lens: step x layer ---- */

/* Rows of a run's heat map: the most residual points any done checkpoint has. */
static int
lens_rows (const StrataTrainingRun *tr, const char *tag, const char *target, const char *pos)
{
  int rows = 0;
  for (guint c = 0; c < tr->checkpoints->len; c++) {
    const StrataSeriesCheckpoint *cp = tr->checkpoints->pdata[c];
    const StrataLensAggregate *ag = strata_series_checkpoint_get_aggregate (cp, tag, target, pos);
    if (ag)
      rows = MAX (rows, ag->n_layers + 1);
    else if (strata_series_checkpoint_is_done (cp)) /* the config of a session is not bounded */
      rows = MAX (rows, CLAMP (cp->model.config.n_layers, 0, 1 << 16) + 1);
  }
  return rows;
}

static StrataGrid *
lens_grid (const StrataFigureInput *in, int run, const char *target, const char *pos, gboolean prob)
{
  const StrataViewState *v = in->view;
  const StrataTrainingRun *tr = in->series->runs->pdata[run];
  const char *tag = series_tag (v);
  int rows = lens_rows (tr, tag, target, pos), cols = (int) tr->checkpoints->len;
  if (rows <= 0 || cols <= 0)
    return NULL;
  /* Text only where cells can be big enough to hold it (a hostile session may claim 65536
   * layers). */
  StrataGrid *g = strata_grid_new (rows, cols, (gsize) rows * cols <= 16384);
  g->trace = g_new (int, cols);
  for (int c = 0; c < cols; c++) {
    const StrataLensAggregate *ag = strata_series_checkpoint_get_aggregate (tr->checkpoints->pdata[c], tag, target, pos);
    g->trace[c] = STRATA_TRACE_NONE;
    if (!ag)
      continue;
    for (int k = 0; k <= ag->n_layers && k < rows; k++) {
      double x = prob ? ag->mean_prob[k] : ag->mrr[k];
      gsize cell = (gsize) k * cols + c;
      g->value[cell] = prob ? strata_figure_prob_to_unit (x, v->log_color) : (isfinite (x) ? CLAMP (x, 0.0, 1.0) : NAN);
      if (isfinite (x) && g->cell_text)
        g->cell_text[cell] = g_strdup_printf ("%.2f", x);
    }
    g->trace[c] = ag->resolution_layer >= 0 && ag->resolution_layer < rows ? ag->resolution_layer : STRATA_TRACE_NEVER;
  }
  for (int k = 0; k < rows; k++)
    g_ptr_array_add (g->row_labels, k == 0 ? g_strdup ("0 emb") : g_strdup_printf ("%d", k));
  grid_columns (g, tr, v, run);
  g->title = g_strdup (tr->name);
  return g;
}

StrataHeatFigure *
strata_figure_data_series (const StrataFigureInput *in)
{
  const StrataSeries *s = in->series;
  const StrataViewState *v = in->view;
  if (!s || !s->prompts || n_panels (s) == 0)
    return NULL;
  const char *target = series_target (s, v);
  g_autofree char *pos = strata_prompt_set_position_name (s->prompts, v->position);
  if (!target || !pos)
    return NULL;
  gboolean prob = v->curve == STRATA_CURVE_PROB;
  g_autoptr (StrataHeatFigure) f = g_new0 (StrataHeatFigure, 1);
  for (int r = 0; r < n_panels (s); r++) {
    StrataGrid *g = lens_grid (in, r, target, pos, prob);
    if (g)
      f->panels[f->n_panels++] = g;
  }
  if (f->n_panels == 0)
    return NULL;
  if (f->n_panels == 1)
    g_clear_pointer (&f->panels[0]->title, g_free);
  const char *what = prob ? "Mean probability" : "MRR";
  f->title = g_strdup_printf ("%s of \xe2\x80\x9c%s\xe2\x80\x9d by training step and layer at position %s, tag %s", what,
                              target, pos, series_tag (v));
  f->row_axis = g_strdup ("residual point (layer)");
  f->col_axis = g_strdup ("training step (checkpoint)");
  f->row0_bottom = TRUE;
  if (prob) {
    f->scale_label = g_strdup_printf ("mean P(%s)", target);
    strata_figure_set_prob_scale (f, v);
  } else {
    f->scale_label = g_strdup_printf ("MRR of %s", target);
    f->scale_min = 0;
    f->scale_max = 1;
  }
  f->trace_label = g_strdup ("resolution layer (first layer whose MRR \xe2\x89\xa5 0.9)");
  g_autofree char *runs = runs_phrase (s), *set = set_phrase (s), *progress = progress_phrase (s, "empty columns");
  f->caption = g_strdup_printf ("%s \xc2\xb7 %s \xc2\xb7 %s lens \xc2\xb7 outlined and joined: the resolution layer "
                                "(first layer whose MRR \xe2\x89\xa5 0.9); \xe2\x97\x8b above a column: MRR never reaches "
                                "0.9 \xc2\xb7 cell text: %s%s",
                                runs, set, s->raw ? "raw (no final norm)" : "final-norm", prob ? "mean probability" : "MRR",
                                progress);
  return g_steal_pointer (&f);
}

/* ---- patching: step x layer of one site ---- */

/* The column of a site's map the view reads: a head for the head sites, else a position. */
static int
patch_column (const StrataSeries *s, const StrataViewState *v, StrataPatchSite site)
{
  if (site == STRATA_PATCH_HEAD || site == STRATA_PATCH_HEAD_AT)
    return MAX (v->head, 0);
  if (v->position >= 0)
    return v->position;
  const StrataPrompt *p = s->prompts->prompts->pdata[0];
  return (int) p->ids->len - 1;
}

static gboolean
series_has_site (const StrataSeries *s, StrataPatchSite site)
{
  for (guint i = 0; s->patch_sites && i < s->patch_sites->len; i++)
    if (g_array_index (s->patch_sites, StrataPatchSite, i) == site)
      return TRUE;
  return FALSE;
}

static StrataGrid *
patch_grid (const StrataFigureInput *in, int run, int column, double *range)
{
  const StrataViewState *v = in->view;
  const StrataTrainingRun *tr = in->series->runs->pdata[run];
  int rows = 0, cols = (int) tr->checkpoints->len;
  for (int c = 0; c < cols; c++) {
    const StrataPatchAggregate *ag = strata_series_checkpoint_get_patch (tr->checkpoints->pdata[c], series_tag (v),
                                                                         v->patch_site);
    if (ag && column >= 0 && column < ag->cols)
      rows = MAX (rows, ag->rows);
  }
  if (rows <= 0 || cols <= 0)
    return NULL;
  StrataGrid *g = strata_grid_new (rows, cols, (gsize) rows * cols <= 16384);
  for (int c = 0; c < cols; c++) {
    const StrataPatchAggregate *ag = strata_series_checkpoint_get_patch (tr->checkpoints->pdata[c], series_tag (v),
                                                                         v->patch_site);
    if (!ag || column < 0 || column >= ag->cols)
      continue;
    for (int l = 0; l < ag->rows && l < rows; l++) {
      double x = ag->mean_score[(gsize) l * ag->cols + column];
      gsize cell = (gsize) l * cols + c;
      g->value[cell] = x; /* normalised below, once the range of both panels is known */
      if (isfinite (x)) {
        *range = MAX (*range, fabs (x));
        if (fabs (x) >= 0.005 && g->cell_text)
          g->cell_text[cell] = g_strdup_printf ("%.2f", x);
      }
    }
  }
  for (int l = 0; l < rows; l++)
    g_ptr_array_add (g->row_labels, g_strdup_printf ("%d", l));
  grid_columns (g, tr, v, run);
  g->title = g_strdup (tr->name);
  return g;
}

StrataHeatFigure *
strata_figure_data_series_patch (const StrataFigureInput *in)
{
  const StrataSeries *s = in->series;
  const StrataViewState *v = in->view;
  if (!s || !s->prompts || !s->has_patch || n_panels (s) == 0 || !series_has_site (s, v->patch_site))
    return NULL;
  int column = patch_column (s, v, v->patch_site);
  double range = 1.0; /* at least [-1, 1]: 1 = fully clean (or every prediction changed) looks the same */
  g_autoptr (StrataHeatFigure) f = g_new0 (StrataHeatFigure, 1);
  for (int r = 0; r < n_panels (s); r++) {
    StrataGrid *g = patch_grid (in, r, column, &range);
    if (g)
      f->panels[f->n_panels++] = g;
  }
  if (f->n_panels == 0)
    return NULL;
  for (int p = 0; p < f->n_panels; p++)
    for (gsize i = 0; i < (gsize) f->panels[p]->rows * f->panels[p]->cols; i++)
      if (isfinite (f->panels[p]->value[i]))
        f->panels[p]->value[i] /= range;
  if (f->n_panels == 1)
    g_clear_pointer (&f->panels[0]->title, g_free);
  gboolean heads = v->patch_site == STRATA_PATCH_HEAD || v->patch_site == STRATA_PATCH_HEAD_AT;
  g_autofree char *where = heads ? g_strdup_printf ("head %d", column) : strata_prompt_set_position_name (s->prompts, column);
  const char *site = strata_patch_site_to_string (v->patch_site);
  gboolean causal = s->patch_direction == STRATA_PATCH_NOISE && s->patch_metric == STRATA_METRIC_TOP1_CHANGE;
  const char *target = s->patch_target ? s->patch_target : "each prompt's first target";
  if (causal)
    f->title = g_strdup_printf ("Causal strength through training: %s at %s%s, tag %s", site, heads ? "" : "position ",
                                where, series_tag (v));
  else
    f->title = g_strdup_printf ("Activation patching through training: %s (%s) at %s%s, tag %s", site,
                                strata_enum_get_label (&strata_patch_direction_table, s->patch_direction),
                                heads ? "" : "position ", where, series_tag (v));
  f->row_axis = g_strdup ("layer (block)");
  f->col_axis = g_strdup ("training step (checkpoint)");
  f->row0_bottom = TRUE;
  f->diverging = TRUE;
  f->scale_label = g_strdup (causal ? "causal strength" : "mean score");
  f->scale_min = -range;
  f->scale_max = range;
  g_autofree char *runs = runs_phrase (s), *set = set_phrase (s), *progress = progress_phrase (s, "empty columns");
  const char *direction = strata_enum_get_label (&strata_patch_direction_table, s->patch_direction);
  const char *metric = strata_enum_get_long_name (&strata_patch_metric_table, s->patch_metric);
  g_autofree char *def = causal ? g_strdup ("noising, score = fraction of prompts whose top-1 prediction changes")
                                : g_strdup_printf ("%s, metric %s, mean score over the prompts", direction, metric);
  f->caption = g_strdup_printf ("%s \xc2\xb7 %s \xc2\xb7 %s \xc2\xb7 target %s%s", runs, set, def, target, progress);
  return g_steal_pointer (&f);
}

/* ---- accuracy against training step ---- */

StrataCurveFigure *
strata_figure_data_series_accuracy (const StrataFigureInput *in)
{
  const StrataSeries *s = in->series;
  const StrataViewState *v = in->view;
  if (!s || !s->prompts || n_panels (s) == 0)
    return NULL;
  StrataViewState pick = { .target = s->answer_target };
  const char *target = series_target (s, &pick);
  if (!target)
    return NULL;
  g_autoptr (GPtrArray) tags = strata_prompt_set_list_tags (s->prompts);
  g_autoptr (StrataCurveFigure) f = g_new0 (StrataCurveFigure, 1);
  f->series = g_ptr_array_new_with_free_func (strata_curve_series_free);
  f->x_numeric = TRUE;
  f->x_min = G_MAXDOUBLE;
  f->x_max = -G_MAXDOUBLE;
  f->sel_layer = -1;
  f->sel_x = NAN;
  gboolean any = FALSE;
  for (int r = 0; r < n_panels (s); r++) {
    const StrataTrainingRun *tr = s->runs->pdata[r];
    for (guint c = 0; c < tr->checkpoints->len; c++) {
      const StrataSeriesCheckpoint *cp = tr->checkpoints->pdata[c];
      f->x_min = MIN (f->x_min, (double) cp->step);
      f->x_max = MAX (f->x_max, (double) cp->step);
      if (v->run == r && v->checkpoint == (int) c)
        f->sel_x = (double) cp->step;
    }
    for (guint t = 0; t < tags->len; t++) {
      StrataCurveSeries *se = g_new0 (StrataCurveSeries, 1);
      se->n = (int) tr->checkpoints->len;
      se->x = g_new (double, se->n);
      se->y = g_new (double, se->n);
      se->item = g_new (int, se->n);
      se->group = r;
      se->color = (int) t;
      se->dashed = r > 0;
      se->mark = -1;
      for (int c = 0; c < se->n; c++) {
        const StrataSeriesCheckpoint *cp = tr->checkpoints->pdata[c];
        const StrataSeriesAccuracy *acc = strata_series_checkpoint_get_accuracy (cp, tags->pdata[t], target);
        se->x[c] = (double) cp->step;
        se->item[c] = c;
        se->y[c] = acc && acc->n > 0 ? (double) acc->correct / acc->n : NAN;
        any = any || isfinite (se->y[c]);
      }
      se->label = n_panels (s) > 1 ? g_strdup_printf ("%s \xc2\xb7 %s", (const char *) tags->pdata[t], tr->name)
                                   : g_strdup (tags->pdata[t]);
      g_ptr_array_add (f->series, se);
    }
  }
  if (!any)
    return NULL;
  if (f->x_max <= f->x_min) { /* one step: a short axis around it (wide enough to exist at 1e18) */
    double pad = MAX (1.0, fabs (f->x_min) * 1e-6);
    f->x_min -= pad;
    f->x_max += pad;
  }
  f->y_min = 0;
  f->y_max = 1;
  g_autofree char *pos = s->answer_position ? g_strdup_printf ("position %s", s->answer_position)
                                            : g_strdup ("each prompt's last position");
  f->title = g_strdup_printf ("Accuracy against training step: final-layer top-1 = \xe2\x80\x9c%s\xe2\x80\x9d at %s",
                              target, pos);
  f->x_axis = g_strdup ("training step");
  f->y_axis = g_strdup ("accuracy (fraction of prompts)");
  g_autofree char *runs = runs_phrase (s), *set = set_phrase (s), *progress = progress_phrase (s, "no points");
  g_autofree char *dashes = n_panels (s) > 1 ? g_strdup_printf (" (solid: %s; dashed: %s)",
                                                                 ((StrataTrainingRun *) s->runs->pdata[0])->name,
                                                                 ((StrataTrainingRun *) s->runs->pdata[1])->name)
                                             : g_strdup ("");
  f->caption = g_strdup_printf ("%s%s \xc2\xb7 %s \xc2\xb7 colour: tag \xc2\xb7 accuracy: the model's own prediction "
                                "(the lens at the last layer) is the target%s",
                                runs, dashes, set, progress);
  return g_steal_pointer (&f);
}
