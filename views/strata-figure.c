/* strata-figure.c: the one entry point that draws, hit-tests and measures any figure.
 *
 * A figure kind is a row of `kinds` below: how to build its normalised data from the input
 * (strata-figure-data.c) and how to draw, lay out, hit-test and describe that data (its draw
 * file). The heat maps share every row function but the builder and the hit test.
 * Adding a kind is adding its row; the entry points at the end only look the row up. */
#include <math.h>

#include "strata-figure-private.h"

/* The typed functions of strata-figure-private.h, called through these (their arguments
 * differ only in the type pointed to). */
typedef gpointer (*FigureBuild) (const StrataFigureInput *in);
typedef void (*FigureDraw) (cairo_t *cr, gconstpointer f, double width, double height);
typedef void (*FigureRange) (gpointer f, const StrataViewState *v);

typedef struct {
  /* The normalised data (a StrataHeatFigure, StrataCurveFigure, ...), or NULL when the
   * input holds nothing for this kind. Called with in->a set. */
  FigureBuild build;
  GDestroyNotify free;
  /* Optional: crop the built data to the view's position range (its axes of positions), and
   * the length of that axis before cropping (0: the figure has none). */
  FigureRange range;
  int (*n_positions) (gconstpointer f);
  FigureDraw draw;
  /* The plot rectangle of `panel` (the cells or the curves) at width x height; FALSE when
   * the figure has no such panel. */
  gboolean (*plot_area) (cairo_t *cr, gconstpointer f, double width, double height, int panel, double *x,
                         double *y, double *w, double *h);
  /* Fills `hit` (all -1 on entry) with what lies under (x, y); FALSE outside every data area. */
  gboolean (*hit) (cairo_t *cr, const StrataFigureInput *in, gconstpointer f, double width, double height,
                   double x, double y, StrataFigureHit *hit);
  /* Appends the caption, axes and labels to `s`; returns the title, newly allocated. */
  char *(*describe) (gconstpointer f, GString *s);
  /* Optional: the height (<= `height`) at which the content fills the figure. NULL: every
   * height does. */
  double (*fit_height) (cairo_t *cr, gconstpointer f, double width, double height);
  /* What the figure says when the input holds nothing for it. */
  const char *empty;
  /* Optional: a more precise message when the input has results of this kind but not the
   * one the view selects; newly allocated, or NULL. */
  char *(*missing) (const StrataFigureInput *in);
} FigureKind;

/* ---- description text shared by the kinds ---- */

static void
append_labels (GString *s, const char *what, GPtrArray *labels)
{
  g_string_append_printf (s, " %s:", what);
  for (guint i = 0; i < labels->len; i++)
    g_string_append_printf (s, "%s %s", i ? "," : "", (const char *) g_ptr_array_index (labels, i));
  g_string_append_c (s, '.');
}

/* The words in the cells (the lens' top-1 tokens), row by row, while the grid is of a size
 * a reader can take in. */
static void
append_cell_text (GString *s, const StrataGrid *g)
{
  if (!g->cell_text || (gsize) g->rows * g->cols > 4096)
    return;
  g_string_append (s, " Cell text by row:");
  for (int i = 0; i < g->rows; i++) {
    g_string_append_printf (s, "%s %s:", i ? ";" : "",
                            i < (int) g->row_labels->len ? (const char *) g_ptr_array_index (g->row_labels, i) : "");
    for (int j = 0; j < g->cols; j++) {
      const char *t = g->cell_text[(gsize) i * g->cols + j];
      g_string_append_printf (s, "%s %s", j ? "," : "", t ? t : "");
    }
  }
  g_string_append_c (s, '.');
}

/* ---- heat maps: lens, patching, attention, trace ---- */

static gboolean
heat_plot_area (cairo_t *cr, gconstpointer data, double width, double height, int panel, double *x, double *y,
                double *w, double *h)
{
  const StrataHeatFigure *f = data;
  if (panel < 0 || panel >= f->n_panels)
    return FALSE;
  StrataHeatLayout lay;
  strata_heat_layout (cr, f, width, height, &lay);
  *x = lay.panel[panel].x;
  *y = lay.panel[panel].y;
  *w = lay.panel[panel].w;
  *h = lay.panel[panel].h;
  return TRUE;
}

/* The cell under (x, y): sets hit->panel and returns its row and column (absolute: a grid
 * cropped to a position range names positions of the whole sequence). On an overview strip
 * it fills hit->panel, hit->position and hit->overview and returns FALSE: no cell. */
static gboolean
heat_cell (cairo_t *cr, const StrataHeatFigure *f, double width, double height, double x, double y,
           StrataFigureHit *hit, int *row, int *col)
{
  StrataHeatLayout lay;
  int panel;
  strata_heat_layout (cr, f, width, height, &lay);
  if (strata_heat_hit_overview (&lay, f, x, y, &hit->panel, &hit->position)) {
    hit->overview = TRUE;
    return FALSE;
  }
  if (!strata_heat_hit (&lay, f, x, y, &panel, row, col))
    return FALSE;
  hit->panel = panel;
  return TRUE;
}

/* Lens rows are residual points, columns positions. */
static gboolean
lens_hit (cairo_t *cr, const StrataFigureInput *in, gconstpointer f, double width, double height, double x,
          double y, StrataFigureHit *hit)
{
  int row, col;
  if (!heat_cell (cr, f, width, height, x, y, hit, &row, &col))
    return FALSE;
  hit->layer = row;
  hit->position = col;
  return TRUE;
}

/* Patching rows are blocks; columns positions, or heads for the head sites. */
static gboolean
patch_hit (cairo_t *cr, const StrataFigureInput *in, gconstpointer f, double width, double height, double x,
           double y, StrataFigureHit *hit)
{
  int row, col;
  if (!heat_cell (cr, f, width, height, x, y, hit, &row, &col))
    return FALSE;
  hit->layer = row;
  if (in->view->patch_site == STRATA_PATCH_HEAD || in->view->patch_site == STRATA_PATCH_HEAD_AT)
    hit->head = col;
  else
    hit->position = col;
  return TRUE;
}

/* Attention rows are query positions; a key column selects nothing. */
static gboolean
attention_hit (cairo_t *cr, const StrataFigureInput *in, gconstpointer f, double width, double height, double x,
               double y, StrataFigureHit *hit)
{
  int row, col;
  if (!heat_cell (cr, f, width, height, x, y, hit, &row, &col))
    return FALSE;
  hit->position = row;
  return TRUE;
}

/* The traced row per column: "500: 6, 1000: 4, 2000: never". */
static void
append_trace (GString *s, const char *what, const StrataGrid *g)
{
  if (!g->trace || !what)
    return;
  g_string_append_printf (s, " %c%s by column:", g_ascii_toupper (what[0]), what + 1);
  for (int j = 0; j < g->cols; j++) {
    const char *col = j < (int) g->col_labels->len ? g_ptr_array_index (g->col_labels, j) : "";
    if (g->trace[j] >= 0)
      g_string_append_printf (s, "%s %s: %d", j ? "," : "", col, g->trace[j]);
    else
      g_string_append_printf (s, "%s %s: %s", j ? "," : "", col, g->trace[j] == STRATA_TRACE_NEVER ? "never" : "no data");
  }
  g_string_append_c (s, '.');
}

/* The outlined cells (the trace figure's first held cell per target): "“L” at layer 5,
 * position 20". */
static void
append_outlined (GString *s, const StrataHeatFigure *f, const StrataGrid *g)
{
  if (!g->outlined || !f->legend)
    return;
  g_string_append (s, " Outlined:");
  for (guint i = 0; i < g->outlined->len; i++) {
    const StrataGridCell *c = &g_array_index (g->outlined, StrataGridCell, i);
    const char *what = c->entry >= 0 && (guint) c->entry < f->legend->len ? g_ptr_array_index (f->legend, c->entry) : "?";
    g_string_append_printf (s, "%s %s at layer %d, position %d", i ? "," : "", what, c->row, c->col);
  }
  g_string_append_c (s, '.');
}

static char *
heat_describe (gconstpointer data, GString *s)
{
  const StrataHeatFigure *f = data;
  g_string_append_printf (s, "%s. Rows: %s; columns: %s; colour: %s.", f->caption, f->row_axis, f->col_axis,
                          f->scale_label);
  if (f->legend)
    append_labels (s, "Colours, in order", f->legend);
  for (int p = 0; p < f->n_panels; p++) {
    if (f->panels[p]->title)
      g_string_append_printf (s, " Panel %s.", f->panels[p]->title);
    if (f->panels[p]->overview)
      g_string_append_printf (s, " Positions %d to %d of %d shown.", f->panels[p]->col_offset,
                              f->panels[p]->col_offset + f->panels[p]->cols - 1, f->panels[p]->n_overview);
    append_labels (s, "Row labels", f->panels[p]->row_labels);
    append_labels (s, "Column labels", f->panels[p]->col_labels);
    append_trace (s, f->trace_label, f->panels[p]);
    append_outlined (s, f, f->panels[p]);
    append_cell_text (s, f->panels[p]);
  }
  return g_strdup (f->title);
}

/* ---- series heat maps: rows layers, columns a run's checkpoints ---- */

static void
series_hit_checkpoint (const StrataFigureInput *in, StrataFigureHit *hit, int col)
{
  const StrataSeriesCheckpoint *cp = strata_figure_series_checkpoint (in, hit->panel, col);
  hit->checkpoint = cp ? col : -1;
  hit->step = cp ? cp->step : -1;
}

static gboolean
series_hit (cairo_t *cr, const StrataFigureInput *in, gconstpointer f, double width, double height, double x,
            double y, StrataFigureHit *hit)
{
  int row, col;
  if (!heat_cell (cr, f, width, height, x, y, hit, &row, &col))
    return FALSE;
  hit->layer = row;
  series_hit_checkpoint (in, hit, col);
  return TRUE;
}

static char *
series_missing (const StrataFigureInput *in)
{
  const StrataSeries *s = in->series;
  if (!s || !s->prompts)
    return NULL;
  g_autofree char *pos = strata_prompt_set_position_name (s->prompts, in->view->position);
  return g_strdup_printf ("This series has no %s of \xe2\x80\x9c%s\xe2\x80\x9d at position %s, tag %s.",
                          in->kind == STRATA_FIGURE_SERIES_ACCURACY ? "accuracy" : "aggregate",
                          in->view->target ? in->view->target : "?", pos, in->view->tag ? in->view->tag : "all");
}

static char *
series_patch_missing (const StrataFigureInput *in)
{
  const StrataSeries *s = in->series;
  if (!s || !s->prompts)
    return NULL;
  if (!s->has_patch)
    return g_strdup ("This series was run without patching: run `strata series` with --patch.");
  const char *site = strata_patch_site_to_string (in->view->patch_site);
  return g_strdup_printf ("This series has no %s map for tag %s: run `strata series --patch --site %s`.", site,
                          in->view->tag ? in->view->tag : "all", site);
}

/* ---- accuracy against step ---- */

static gboolean
accuracy_hit (cairo_t *cr, const StrataFigureInput *in, gconstpointer data, double width, double height, double x,
              double y, StrataFigureHit *hit)
{
  const StrataCurveFigure *f = data;
  StrataCurveLayout lay;
  strata_curve_layout (cr, f, width, height, &lay);
  int series, point;
  if (!strata_curve_hit_point (&lay, f, x, y, &series, &point))
    return FALSE;
  const StrataCurveSeries *se = g_ptr_array_index (f->series, series);
  hit->panel = se->group;
  series_hit_checkpoint (in, hit, se->item ? se->item[point] : point);
  return hit->checkpoint >= 0;
}

static char *
accuracy_describe (gconstpointer data, GString *s)
{
  const StrataCurveFigure *f = data;
  g_string_append_printf (s, "%s. x: %s; y: %s. Series:", f->caption, f->x_axis, f->y_axis);
  for (guint i = 0; i < f->series->len; i++) {
    const StrataCurveSeries *se = g_ptr_array_index (f->series, i);
    g_string_append_printf (s, "%s %s (", i ? ";" : "", se->label);
    for (int k = 0; k < se->n; k++) {
      g_autofree char *y = isfinite (se->y[k]) ? g_strdup_printf ("%.3f", se->y[k]) : g_strdup ("no data");
      g_string_append_printf (s, "%sstep %.0f: %s", k ? ", " : "", se->x ? se->x[k] : k, y);
    }
    g_string_append_c (s, ')');
  }
  g_string_append_c (s, '.');
  return g_strdup (f->title);
}

static int
heat_n_positions (gconstpointer data)
{
  const StrataHeatFigure *f = data;
  const StrataGrid *g = f->panels[0];
  return f->col_positions ? g->cols : f->row_positions ? g->rows : 0;
}

/* Cells stop growing at a cap; the band they leave below is cut off. */
static double
heat_fit_height (cairo_t *cr, gconstpointer f, double width, double height)
{
  StrataHeatLayout lay;
  strata_heat_layout (cr, f, width, height, &lay);
  return MAX (height - floor (lay.spare_h), 16);
}

/* A patching run without the map of the site the view selects. */
static char *
patch_missing (const StrataFigureInput *in)
{
  if (!strata_figure_data_patch_result (in->a, in->view))
    return NULL;
  const char *site = strata_patch_site_to_string (in->view->patch_site);
  return g_strdup_printf ("This patching run has no %s map: run patching with --site %s.", site, site);
}

/* ---- token curves ---- */

static gboolean
curve_plot_area (cairo_t *cr, gconstpointer f, double width, double height, int panel, double *x, double *y,
                 double *w, double *h)
{
  if (panel != 0)
    return FALSE;
  StrataCurveLayout lay;
  strata_curve_layout (cr, f, width, height, &lay);
  *x = lay.x, *y = lay.y, *w = lay.w, *h = lay.h;
  return TRUE;
}

static gboolean
curve_hit (cairo_t *cr, const StrataFigureInput *in, gconstpointer f, double width, double height, double x,
           double y, StrataFigureHit *hit)
{
  StrataCurveLayout lay;
  strata_curve_layout (cr, f, width, height, &lay);
  hit->layer = strata_curve_hit (&lay, f, x, y);
  gboolean found = hit->layer >= 0;
  hit->panel = found ? 0 : -1;
  return found;
}

static char *
curve_describe (gconstpointer data, GString *s)
{
  const StrataCurveFigure *f = data;
  g_string_append_printf (s, "%s. x: %s; y: %s. Series:", f->caption, f->x_axis, f->y_axis);
  for (guint i = 0; i < f->series->len; i++) {
    const StrataCurveSeries *se = g_ptr_array_index (f->series, i);
    gboolean any = FALSE;
    for (int k = 0; k < se->n && !any; k++)
      any = isfinite (se->y[k]);
    if (any)
      g_string_append_printf (s, "%s %s (resolution layer %d)", i ? "," : "", se->label, se->mark);
    else
      g_string_append_printf (s, "%s %s (no data at this position)", i ? "," : "", se->label);
  }
  g_string_append_c (s, '.');
  return g_strdup (f->title);
}

/* ---- circuit ---- */

static gboolean
circuit_plot_area (cairo_t *cr, gconstpointer f, double width, double height, int panel, double *x, double *y,
                   double *w, double *h)
{
  if (panel != 0)
    return FALSE;
  StrataCircuitLayout lay;
  strata_circuit_layout (cr, f, width, height, &lay);
  *x = lay.x, *y = lay.y, *w = lay.w, *h = lay.h;
  return TRUE;
}

static gboolean
circuit_hit (cairo_t *cr, const StrataFigureInput *in, gconstpointer f, double width, double height, double x,
             double y, StrataFigureHit *hit)
{
  StrataCircuitLayout lay;
  strata_circuit_layout (cr, f, width, height, &lay);
  gboolean found = strata_circuit_hit (&lay, f, x, y, &hit->layer, &hit->position);
  hit->panel = found ? 0 : -1;
  return found;
}

static char *
circuit_describe (gconstpointer data, GString *s)
{
  const StrataCircuitFigure *f = data;
  g_string_append_printf (s, "%s. %u nodes, %u edges.", f->caption, f->circuit->nodes->len,
                          f->circuit->edges ? f->circuit->edges->len : 0);
  append_labels (s, "Positions", f->col_labels);
  return g_strdup (f->title);
}

/* ---- the kinds ---- */

/* The members the three heat maps share. */
#define HEAT_FIGURE                                                                                    \
  .free = (GDestroyNotify) strata_heat_figure_free, .draw = (FigureDraw) strata_heat_draw,             \
  .range = (FigureRange) strata_heat_figure_apply_range, .n_positions = heat_n_positions,               \
  .plot_area = heat_plot_area, .describe = heat_describe, .fit_height = heat_fit_height

static const FigureKind kinds[] = {
  [STRATA_FIGURE_LENS_HEATMAP] = {
    .build = (FigureBuild) strata_figure_data_lens, .hit = lens_hit, HEAT_FIGURE,
    .empty = "No logit-lens result yet: type a prompt and run the lens.",
  },
  [STRATA_FIGURE_TOKEN_CURVES] = {
    .build = (FigureBuild) strata_figure_data_curves, .free = (GDestroyNotify) strata_curve_figure_free,
    .draw = (FigureDraw) strata_curve_draw, .plot_area = curve_plot_area, .hit = curve_hit,
    .describe = curve_describe,
    .empty = "No target curves yet: run the lens with one or more targets.",
  },
  [STRATA_FIGURE_PATCH_HEATMAP] = {
    .build = (FigureBuild) strata_figure_data_patch, .hit = patch_hit, HEAT_FIGURE,
    .empty = "No patching result yet: give a corrupted prompt and a target, then run patching.",
    .missing = patch_missing,
  },
  [STRATA_FIGURE_CIRCUIT] = {
    .build = (FigureBuild) strata_figure_data_circuit, .free = (GDestroyNotify) strata_circuit_figure_free,
    .draw = (FigureDraw) strata_circuit_draw, .plot_area = circuit_plot_area, .hit = circuit_hit,
    .describe = circuit_describe,
    .empty = "No circuit yet: run patching first.",
  },
  [STRATA_FIGURE_ATTENTION] = {
    .build = (FigureBuild) strata_figure_data_attention, .hit = attention_hit, HEAT_FIGURE,
    .empty = "No attention pattern yet: run the lens.",
  },
  [STRATA_FIGURE_TRACE] = {
    .build = (FigureBuild) strata_figure_data_trace, .hit = lens_hit, HEAT_FIGURE,
    .empty = "No logit-lens result yet: run the lens on a prompt the model continues (Generate).",
  },
  [STRATA_FIGURE_SERIES_HEATMAP] = {
    .build = (FigureBuild) strata_figure_data_series, .hit = series_hit, HEAT_FIGURE,
    .empty = "No series results yet: run a series of checkpoints over a prompt set (strata series).",
    .missing = series_missing,
  },
  [STRATA_FIGURE_SERIES_ACCURACY] = {
    .build = (FigureBuild) strata_figure_data_series_accuracy, .free = (GDestroyNotify) strata_curve_figure_free,
    .draw = (FigureDraw) strata_curve_draw, .plot_area = curve_plot_area, .hit = accuracy_hit,
    .describe = accuracy_describe,
    .empty = "No series results yet: run a series of checkpoints over a prompt set (strata series).",
    .missing = series_missing,
  },
  [STRATA_FIGURE_SERIES_PATCH] = {
    .build = (FigureBuild) strata_figure_data_series_patch, .hit = series_hit, HEAT_FIGURE,
    .empty = "No series patching yet: run a series with patching (strata series --patch).",
    .missing = series_patch_missing,
  },
};
G_STATIC_ASSERT (G_N_ELEMENTS (kinds) == STRATA_FIGURE_N_ALL);

/* ---- entry points ---- */

/* An input's row and data, with a scratch context for measuring when asked. */
typedef struct {
  const FigureKind *kind; /* NULL: not a figure kind */
  gpointer data;          /* NULL: nothing to show */
  cairo_t *cr;            /* NULL unless data and measuring */
} Built;

static const FigureKind *
kind_of (StrataFigureKind kind)
{
  return (int) kind >= 0 && (int) kind < STRATA_FIGURE_N_ALL ? &kinds[kind] : NULL;
}

static Built
built_new (const StrataFigureInput *in, gboolean measure)
{
  Built b = { kind_of (in->kind), NULL, NULL };
  if (b.kind && (STRATA_FIGURE_IS_SERIES (in->kind) ? in->series != NULL : in->a != NULL))
    b.data = b.kind->build (in);
  if (b.data && b.kind->range)
    b.kind->range (b.data, in->view);
  if (b.data && measure)
    b.cr = strata_figure_scratch_cr ();
  return b;
}

static void
built_clear (Built *b)
{
  if (b->data)
    b->kind->free (b->data);
  if (b->cr)
    cairo_destroy (b->cr);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Built, built_clear)

static const char *
empty_message (const FigureKind *kind)
{
  return kind ? kind->empty : "Nothing to show.";
}

void
strata_figure_draw (cairo_t *cr, double width, double height, const StrataFigureInput *in)
{
  g_auto (Built) b = built_new (in, FALSE);
  cairo_save (cr);
  if (b.data) {
    b.kind->draw (cr, b.data, width, height);
  } else {
    g_autofree char *missing = b.kind && b.kind->missing ? b.kind->missing (in) : NULL;
    strata_figure_draw_empty (cr, width, height, missing ? missing : empty_message (b.kind));
  }
  cairo_restore (cr);
}

double
strata_figure_fit_height (const StrataFigureInput *in, double width, double height)
{
  const FigureKind *kind = kind_of (in->kind);
  if (!kind || !kind->fit_height)
    return height;
  g_auto (Built) b = built_new (in, TRUE);
  return b.data ? b.kind->fit_height (b.cr, b.data, width, height) : height;
}

gboolean
strata_figure_hit_test (const StrataFigureInput *in, double width, double height, double x,
                        double y, StrataFigureHit *hit)
{
  hit->panel = hit->layer = hit->position = hit->head = hit->checkpoint = -1;
  hit->step = -1;
  hit->overview = FALSE;
  g_auto (Built) b = built_new (in, TRUE);
  return b.data && (b.kind->hit (b.cr, in, b.data, width, height, x, y, hit) || hit->overview);
}

gboolean
strata_figure_get_plot_area (const StrataFigureInput *in, double width, double height, int panel,
                             double *x, double *y, double *w, double *h)
{
  g_auto (Built) b = built_new (in, TRUE);
  return b.data && b.kind->plot_area (b.cr, b.data, width, height, panel, x, y, w, h);
}

int
strata_figure_n_positions (const StrataFigureInput *in)
{
  const FigureKind *kind = kind_of (in->kind);
  if (!kind || !kind->n_positions)
    return 0;
  StrataViewState whole = *in->view;
  whole.range_count = 0;
  StrataFigureInput all = *in;
  all.view = &whole;
  g_auto (Built) b = built_new (&all, FALSE);
  return b.data ? kind->n_positions (b.data) : 0;
}

/* Whether the input has anything to draw for its kind (exports refuse empty figures). */
gboolean
strata_figure_has_data (const StrataFigureInput *in)
{
  double x, y, w, h;
  return strata_figure_get_plot_area (in, STRATA_FIGURE_DEFAULT_WIDTH, STRATA_FIGURE_DEFAULT_HEIGHT, 0, &x, &y, &w, &h);
}

void
strata_figure_describe (const StrataFigureInput *in, char **title, char **description)
{
  g_autoptr (GString) s = g_string_new (NULL);
  g_auto (Built) b = built_new (in, FALSE);
  char *t = b.data ? b.kind->describe (b.data, s) : NULL;
  if (!t) {
    t = g_strdup (empty_message (b.kind));
  } else {
    g_string_append_printf (s, " Selected layer %d, position %d, head %d.", in->view->layer, in->view->position,
                            in->view->head);
    if (STRATA_FIGURE_IS_SERIES (in->kind) && in->view->checkpoint >= 0)
      g_string_append_printf (s, " Selected checkpoint %d of run %d.", in->view->checkpoint, in->view->run);
  }
  if (title)
    *title = t;
  else
    g_free (t);
  if (description)
    *description = g_string_free (g_steal_pointer (&s), FALSE);
}
