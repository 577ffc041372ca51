/* strata-figure-curves.c: a quantity of chosen tokens by layer, several series, a legend,
 * resolution layers marked, the selected layer as a vertical rule. */
#include <math.h>

#include "strata-figure-private.h"

#define SWATCH 22.0

static char *
y_tick (const StrataCurveFigure *f, double v)
{
  if (f->y_log10)
    return g_strdup_printf ("%g", pow (10, v));
  return g_strdup_printf ("%.2g", fabs (v) < 1e-12 ? 0.0 : v);
}

/* Legend text of a series: with its resolution layer on a layer axis. */
static char *
legend_text (const StrataCurveFigure *f, const StrataCurveSeries *s)
{
  gboolean any = FALSE;
  for (int k = 0; k < s->n && !any; k++)
    any = isfinite (s->y[k]);
  if (!any)
    return g_strdup_printf ("%s \xc2\xb7 no data%s", s->label, f->x_numeric ? " yet" : " at this position");
  if (f->x_numeric)
    return g_strdup (s->label);
  return s->mark >= 0 ? g_strdup_printf ("%s \xc2\xb7 resolves at %d", s->label, s->mark)
                      : g_strdup_printf ("%s \xc2\xb7 unresolved", s->label);
}

static double
legend_width (cairo_t *cr, const StrataCurveFigure *f)
{
  double m = 0;
  for (guint i = 0; i < f->series->len; i++) {
    const StrataCurveSeries *s = g_ptr_array_index (f->series, i);
    double w;
    g_autofree char *label = f->x_numeric ? legend_text (f, s) : g_strdup_printf ("%s \xc2\xb7 resolves at 00", s->label);
    strata_text_size (cr, STRATA_FONT_TICK, label, &w, NULL);
    m = MAX (m, w);
  }
  return MIN (m, 260) + SWATCH + 8;
}

void
strata_curve_layout (cairo_t *cr, const StrataCurveFigure *f, double width, double height,
                     StrataCurveLayout *lay)
{
  double x, y, w, h;
  strata_frame_draw (cr, width, height, f->title, f->caption, &x, &y, &w, &h, FALSE);
  double label_h = strata_text_height (cr, STRATA_FONT_LABEL);
  double tick_h = strata_text_height (cr, STRATA_FONT_TICK);
  double tw0, tw1;
  g_autofree char *t0 = y_tick (f, f->y_min), *t1 = y_tick (f, f->y_max);
  strata_text_size (cr, STRATA_FONT_TICK, t0, &tw0, NULL);
  strata_text_size (cr, STRATA_FONT_TICK, t1, &tw1, NULL);
  double left = label_h + 8 + MAX (tw0, tw1) + 6;
  double right = legend_width (cr, f) + 20;
  lay->x = round (x + left);
  lay->y = round (y + 6);
  lay->w = MAX (w - left - right, 10);
  lay->h = MAX (h - 6 - (tick_h + 6 + label_h + 4), 10);
  lay->legend_x = lay->x + lay->w + 16;
  lay->legend_y = lay->y;
}

static double
px (const StrataCurveLayout *lay, const StrataCurveFigure *f, double layer)
{
  if (f->x_numeric)
    return lay->x + lay->w * (layer - f->x_min) / (f->x_max - f->x_min);
  return lay->x + lay->w * layer / MAX (f->n_layers, 1);
}

/* x of point k of a series: its own x on a numeric axis, else the layer k. */
static double
point_x (const StrataCurveLayout *lay, const StrataCurveFigure *f, const StrataCurveSeries *s, int k)
{
  return px (lay, f, s->x ? s->x[k] : k);
}

/* Round tick steps (1, 2, 5 times a power of ten) for about `want` ticks over [lo, hi]. */
static double
nice_step (double lo, double hi, int want)
{
  double raw = (hi - lo) / MAX (want, 1);
  double p = pow (10, floor (log10 (raw)));
  double m = raw / p;
  return p * (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10);
}

/* A training step as a tick label: 500, 2000, 15k, 1.5M. */
static char *
step_tick (double v)
{
  double a = fabs (v);
  if (a >= 1e6 && fmod (a, 1e5) == 0)
    return g_strdup_printf ("%gM", v / 1e6);
  if (a >= 1e4 && fmod (a, 100) == 0)
    return g_strdup_printf ("%gk", v / 1e3);
  return g_strdup_printf ("%.0f", v);
}

/* Vertical grid and x tick labels of a numeric axis. */
static void
draw_numeric_x (cairo_t *cr, const StrataCurveLayout *lay, const StrataCurveFigure *f)
{
  double tick_w;
  g_autofree char *widest = step_tick (f->x_max);
  strata_text_size (cr, STRATA_FONT_TICK, widest, &tick_w, NULL);
  int want = (int) CLAMP (lay->w / (tick_w + 24), 2, 10);
  double step = nice_step (f->x_min, f->x_max, want), first = ceil (f->x_min / step) * step;
  if (!isfinite (step) || step <= 0 || !isfinite (first))
    return;
  /* Counted, not accumulated: at steps near 1e18 adding `step` may not change v. */
  int n = (int) MIN (floor ((f->x_max - first) / step + 1e-9), 4 * want);
  for (int i = 0; i <= n; i++) {
    double v = first + i * step;
    double xx = round (px (lay, f, v)) + 0.5;
    strata_style_set (cr, strata_style_grid, 1.0);
    cairo_move_to (cr, xx, lay->y);
    cairo_line_to (cr, xx, lay->y + lay->h);
    cairo_stroke (cr);
    g_autofree char *t = step_tick (v);
    strata_style_set (cr, strata_style_muted, 1.0);
    strata_text_draw (cr, STRATA_FONT_TICK, t, xx, lay->y + lay->h + 5, 0.5, 0, 0);
  }
}

static double
py (const StrataCurveLayout *lay, const StrataCurveFigure *f, double v)
{
  double t = (v - f->y_min) / (f->y_max - f->y_min);
  return lay->y + lay->h * (1 - CLAMP (t, -0.02, 1.02));
}

static void
set_dash (cairo_t *cr, gboolean dashed)
{
  static const double dash[] = { 6.0, 4.0 };
  cairo_set_dash (cr, dash, dashed ? 2 : 0, 0);
}

void
strata_curve_draw (cairo_t *cr, const StrataCurveFigure *f, double width, double height)
{
  double x, y, w, h;
  StrataCurveLayout lay;
  strata_style_set (cr, strata_style_background, 1.0);
  cairo_paint (cr);
  strata_frame_draw (cr, width, height, f->title, f->caption, &x, &y, &w, &h, TRUE);
  strata_curve_layout (cr, f, width, height, &lay);
  cairo_set_line_width (cr, 1);

  /* Horizontal grid and y ticks. */
  int n_y = f->y_log10 ? (int) fabs (f->y_max - f->y_min) + 1 : 5;
  n_y = CLAMP (n_y, 2, 9);
  for (int i = 0; i < n_y; i++) {
    double v = f->y_min + (f->y_max - f->y_min) * i / (n_y - 1);
    double yy = round (py (&lay, f, v)) + 0.5;
    strata_style_set (cr, strata_style_grid, 1.0);
    cairo_move_to (cr, lay.x, yy);
    cairo_line_to (cr, lay.x + lay.w, yy);
    cairo_stroke (cr);
    g_autofree char *t = y_tick (f, v);
    strata_style_set (cr, strata_style_muted, 1.0);
    strata_text_draw (cr, STRATA_FONT_TICK, t, lay.x - 6, yy, 1, 0.5, 0);
  }
  /* x ticks: every layer when they fit, else every few; round steps on a numeric axis. */
  double tick_w;
  strata_text_size (cr, STRATA_FONT_TICK, "00", &tick_w, NULL);
  int every = (int) ceil ((tick_w + 8) / (lay.w / MAX (f->n_layers, 1)));
  every = MAX (every, 1);
  if (f->x_numeric)
    draw_numeric_x (cr, &lay, f);
  for (int k = 0; !f->x_numeric && k <= f->n_layers; k++) {
    double xx = round (px (&lay, f, k)) + 0.5;
    strata_style_set (cr, strata_style_grid, 1.0);
    cairo_move_to (cr, xx, lay.y);
    cairo_line_to (cr, xx, lay.y + lay.h);
    cairo_stroke (cr);
    if (k % every == 0 || k == f->sel_layer) {
      g_autofree char *t = g_strdup_printf ("%d", k);
      strata_style_set (cr, k == f->sel_layer ? strata_style_highlight : strata_style_muted, 1.0);
      strata_text_draw (cr, k == f->sel_layer ? STRATA_FONT_BOLD_TICK : STRATA_FONT_TICK, t, xx, lay.y + lay.h + 5,
                        0.5, 0, 0);
    }
  }
  strata_style_set (cr, strata_style_axis, 1.0);
  cairo_move_to (cr, lay.x + 0.5, lay.y);
  cairo_line_to (cr, lay.x + 0.5, lay.y + lay.h + 0.5);
  cairo_line_to (cr, lay.x + lay.w, lay.y + lay.h + 0.5);
  cairo_stroke (cr);

  /* Selected layer (or step). */
  if (f->x_numeric ? isfinite (f->sel_x) : f->sel_layer >= 0) {
    double xx = round (px (&lay, f, f->x_numeric ? f->sel_x : f->sel_layer)) + 0.5;
    strata_style_set (cr, strata_style_highlight, 0.35);
    cairo_set_line_width (cr, 6);
    cairo_move_to (cr, xx, lay.y);
    cairo_line_to (cr, xx, lay.y + lay.h);
    cairo_stroke (cr);
  }

  /* Series, with points, and resolution markers on the x axis. */
  for (guint i = 0; i < f->series->len; i++) {
    const StrataCurveSeries *s = g_ptr_array_index (f->series, i);
    StrataRgb c = strata_style_series (s->color);
    strata_style_set (cr, c, 1.0);
    cairo_set_line_width (cr, 2.0);
    set_dash (cr, s->dashed);
    gboolean pen = FALSE;
    for (int k = 0; k < s->n; k++) {
      if (!isfinite (s->y[k])) {
        pen = FALSE;
        continue;
      }
      if (pen)
        cairo_line_to (cr, point_x (&lay, f, s, k), py (&lay, f, s->y[k]));
      else
        cairo_move_to (cr, point_x (&lay, f, s, k), py (&lay, f, s->y[k]));
      pen = TRUE;
    }
    cairo_stroke (cr);
    set_dash (cr, FALSE);
    for (int k = 0; k < s->n; k++) {
      if (!isfinite (s->y[k]))
        continue;
      gboolean sel = f->x_numeric ? s->x && s->x[k] == f->sel_x : k == f->sel_layer;
      double r = sel ? 4.5 : 3.0;
      cairo_new_sub_path (cr);
      cairo_arc (cr, point_x (&lay, f, s, k), py (&lay, f, s->y[k]), r, 0, 2 * G_PI);
      if (s->dashed) {
        strata_style_set (cr, strata_style_background, 1.0);
        cairo_fill_preserve (cr);
        strata_style_set (cr, c, 1.0);
        cairo_set_line_width (cr, 1.5);
        cairo_stroke (cr);
      } else {
        cairo_fill (cr);
      }
    }
    if (!f->x_numeric && s->mark >= 0 && s->mark < s->n) {
      double xx = px (&lay, f, s->mark);
      double yy = lay.y + lay.h;
      strata_style_set (cr, c, 0.6);
      cairo_set_line_width (cr, 1.2);
      set_dash (cr, TRUE);
      cairo_move_to (cr, xx, yy);
      cairo_line_to (cr, xx, isfinite (s->y[s->mark]) ? py (&lay, f, s->y[s->mark]) : lay.y);
      cairo_stroke (cr);
      set_dash (cr, FALSE);
      strata_style_set (cr, c, 1.0);
      cairo_move_to (cr, xx, yy - 1);
      cairo_rel_line_to (cr, -5, -8);
      cairo_rel_line_to (cr, 10, 0);
      cairo_close_path (cr);
      if (s->dashed) {
        cairo_set_line_width (cr, 1.5);
        cairo_stroke (cr);
      } else {
        cairo_fill (cr);
      }
    }
  }

  /* Axis titles. */
  double label_h = strata_text_height (cr, STRATA_FONT_LABEL);
  double tick_h = strata_text_height (cr, STRATA_FONT_TICK);
  strata_style_set (cr, strata_style_text, 1.0);
  strata_text_draw (cr, STRATA_FONT_LABEL, f->x_axis, lay.x + lay.w / 2, lay.y + lay.h + 5 + tick_h + 3, 0.5, 0, 0);
  strata_text_draw_vertical (cr, STRATA_FONT_LABEL, f->y_axis, x + label_h / 2, lay.y + lay.h / 2);

  /* Legend. */
  double ly = lay.legend_y;
  double lh = MAX (tick_h, 12) + 4;
  for (guint i = 0; i < f->series->len; i++) {
    const StrataCurveSeries *s = g_ptr_array_index (f->series, i);
    StrataRgb c = strata_style_series (s->color);
    strata_style_set (cr, c, 1.0);
    cairo_set_line_width (cr, 2.0);
    set_dash (cr, s->dashed);
    cairo_move_to (cr, lay.legend_x, ly + lh / 2);
    cairo_rel_line_to (cr, SWATCH - 4, 0);
    cairo_stroke (cr);
    set_dash (cr, FALSE);
    strata_style_set (cr, strata_style_text, 1.0);
    g_autofree char *label = legend_text (f, s);
    strata_text_draw (cr, STRATA_FONT_TICK, label, lay.legend_x + SWATCH, ly + lh / 2, 0, 0.5,
                      width - lay.legend_x - SWATCH - 8);
    ly += lh;
  }
}

int
strata_curve_hit (const StrataCurveLayout *lay, const StrataCurveFigure *f, double x, double y)
{
  double half = lay->w / MAX (f->n_layers, 1) / 2;
  if (x < lay->x - half || x > lay->x + lay->w + half || y < lay->y - 8 || y > lay->y + lay->h + 8)
    return -1;
  int k = (int) lround ((x - lay->x) / (lay->w / MAX (f->n_layers, 1)));
  return CLAMP (k, 0, f->n_layers);
}

gboolean
strata_curve_hit_point (const StrataCurveLayout *lay, const StrataCurveFigure *f, double x, double y, int *series,
                        int *point)
{
  double best = 12.0 * 12.0; /* within 12 units of a point */
  gboolean found = FALSE;
  for (guint i = 0; i < f->series->len; i++) {
    const StrataCurveSeries *s = g_ptr_array_index (f->series, i);
    for (int k = 0; k < s->n; k++) {
      if (!isfinite (s->y[k]))
        continue;
      double dx = point_x (lay, f, s, k) - x, dy = py (lay, f, s->y[k]) - y;
      if (dx * dx + dy * dy < best) {
        best = dx * dx + dy * dy;
        *series = (int) i;
        *point = k;
        found = TRUE;
      }
    }
  }
  return found;
}
