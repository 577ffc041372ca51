/* strata-figure-heatmap.c: a grid of coloured cells with labelled rows and columns, a colour
 * bar, and one or two panels side by side. The lens, patching and attention figures are all
 * drawn here from a StrataHeatFigure. */
#include <math.h>

#include "strata-figure-private.h"

#define GAP_PANELS 28.0
#define BAR_W 14.0
#define BAR_GAP 16.0 /* between the last panel and the colour bar */
#define MAX_CELL_H 60.0
#define MAX_CELL_W 96.0
#define MAX_COL_LABEL 90.0
#define TRACE_BAND 14.0
#define TRACE_R 3.5
#define TRACE_COLOR 4 /* red, against the blue sequential map */
#define MAX_LEGEND_LABEL 120.0
#define COL_MARK_H 5.0 /* the band under the cells marking columns (StrataGrid.col_mark) */
#define OVERVIEW_H 10.0
#define OVERVIEW_GAP 6.0
#define LABEL_GAP 2.0 /* between neighbouring labels of a dense axis */

static double
max_label_width (cairo_t *cr, GPtrArray *labels, StrataFont font)
{
  double m = 0;
  for (guint i = 0; i < labels->len; i++) {
    double w;
    strata_text_size (cr, font, g_ptr_array_index (labels, i), &w, NULL);
    m = MAX (m, w);
  }
  return m;
}

static char *
scale_tick (const StrataHeatFigure *f, double v)
{
  if (f->scale_log)
    return fabs (v) < 1e-9 ? g_strdup ("1") : g_strdup_printf ("1e%d", (int) lround (v));
  return g_strdup_printf ("%.2g", fabs (v) < 1e-12 ? 0.0 : v);
}

/* A cell's size from the space per cell: capped, whole units down to 2, and below that
 * the exact share (never more than the space: the grid stays inside the figure). */
static double
fit_cell (double space, double cap)
{
  if (space >= 2)
    return floor (MIN (space, cap));
  return MAX (space, 0.05);
}

void
strata_heat_layout (cairo_t *cr, const StrataHeatFigure *f, double width, double height,
                    StrataHeatLayout *lay)
{
  double x, y, w, h;
  strata_frame_draw (cr, width, height, f->title, f->caption, &x, &y, &w, &h, FALSE);
  double tick_h = strata_text_height (cr, STRATA_FONT_TICK);
  double label_h = strata_text_height (cr, STRATA_FONT_LABEL);

  /* Colour bar on the right: bar, tick labels, then the vertical bar label; or the legend:
   * swatches and their names. */
  g_autofree char *t0 = scale_tick (f, f->scale_min), *t1 = scale_tick (f, f->scale_max);
  double tw0, tw1;
  strata_text_size (cr, STRATA_FONT_TICK, t0, &tw0, NULL);
  strata_text_size (cr, STRATA_FONT_TICK, t1, &tw1, NULL);
  /* (+ 1: the panels and the bar sit on whole units) */
  double bar_block = BAR_GAP + 1 + BAR_W + 5 + MAX (tw0, tw1) + 6 + label_h;
  if (f->legend)
    bar_block = BAR_GAP + 1 + BAR_W + 5 + MIN (max_label_width (cr, f->legend, STRATA_FONT_TICK), MAX_LEGEND_LABEL) + 4;
  w -= bar_block;

  /* A traced row marks "never" above its column, in a band between title and cells. */
  lay->band = 0;
  for (int p = 0; p < f->n_panels; p++)
    if (f->panels[p]->trace)
      lay->band = TRACE_BAND;
  /* A window of a longer sequence shows the whole of it in a strip above the cells. */
  lay->overview_h = 0;
  for (int p = 0; p < f->n_panels; p++)
    if (f->panels[p]->overview)
      lay->overview_h = OVERVIEW_H + OVERVIEW_GAP;
  double panel_title_h = (f->n_panels > 1 ? strata_text_height (cr, STRATA_FONT_LABEL) + 4 : 0) + lay->overview_h
                         + lay->band;
  double row_w = 0, col_w = 0;
  for (int p = 0; p < f->n_panels; p++) {
    row_w = MAX (row_w, max_label_width (cr, f->panels[p]->row_labels, STRATA_FONT_BOLD_TICK));
    col_w = MAX (col_w, max_label_width (cr, f->panels[p]->col_labels, STRATA_FONT_BOLD_TICK));
  }
  double left = label_h + 6 + row_w + 6;
  /* Panels share the width in proportion to their columns (two checkpoints may tokenize
   * the same prompt differently) and share one cell height, so rows line up. */
  int total_cols = 0, max_rows = 1;
  for (int p = 0; p < f->n_panels; p++) {
    total_cols += MAX (f->panels[p]->cols, 1);
    max_rows = MAX (max_rows, f->panels[p]->rows);
  }
  double avail = w - (f->n_panels - 1) * GAP_PANELS - f->n_panels * left;
  /* Whole units while cells are wide enough to show as cells; a long trace's narrower
   * cells keep their fraction so the grid still fits the figure. */
  double cell_w = fit_cell (avail / total_cols, MAX_CELL_W);
  /* Column labels stay horizontal when they fit a cell, else they stand vertical. */
  gboolean vertical = col_w + 4 > cell_w;
  lay->mark_h = 0;
  for (int p = 0; p < f->n_panels; p++)
    if (f->panels[p]->col_mark)
      lay->mark_h = COL_MARK_H + 1;
  double col_block = lay->mark_h + (vertical ? MIN (col_w, MAX_COL_LABEL) : tick_h) + 4 + label_h + 4;
  /* Cells fill the height, up to square (or MAX_CELL_H when narrow): a few layers of a small
   * model get tall readable rows instead of a band of empty space. */
  double cell_h = fit_cell ((h - panel_title_h - col_block) / max_rows, MAX (MAX_CELL_H, cell_w));
  lay->spare_h = MAX (0, h - panel_title_h - col_block - max_rows * cell_h);

  lay->n_panels = f->n_panels;
  lay->col_label_rot = vertical ? G_PI / 2 : 0;
  double px = x;
  for (int p = 0; p < f->n_panels; p++) {
    StrataPanelRect *r = &lay->panel[p];
    r->cell_w = cell_w;
    r->cell_h = cell_h;
    r->w = cell_w * f->panels[p]->cols;
    r->h = cell_h * f->panels[p]->rows;
    r->x = round (px + left);
    /* a panel with fewer rows sits on the same baseline: layer 0 rows align */
    r->y = round (y + panel_title_h + (f->row0_bottom ? (max_rows - f->panels[p]->rows) * cell_h : 0));
    px = r->x + r->w + GAP_PANELS;
  }
  const StrataPanelRect *last = &lay->panel[f->n_panels - 1];
  lay->bar_x = round (last->x + last->w + BAR_GAP);
  lay->bar_y = lay->panel[0].y;
  lay->bar_w = BAR_W;
  lay->bar_h = MIN (lay->panel[0].h, 260);
}

static void
cell_color (const StrataHeatFigure *f, double v, StrataRgb *c)
{
  if (isnan (v)) {
    *c = f->legend ? strata_style_background : strata_style_nodata;
    return;
  }
  if (f->legend) {
    *c = strata_style_series ((int) v);
    return;
  }
  if (f->diverging)
    strata_colormap_diverging (v, &c->r, &c->g, &c->b);
  else
    strata_colormap_sequential (v, &c->r, &c->g, &c->b);
}

static double
cell_y (const StrataHeatFigure *f, const StrataGrid *g, const StrataPanelRect *r, int row)
{
  int visual = f->row0_bottom ? g->rows - 1 - row : row;
  return r->y + visual * r->cell_h;
}

/* Where the model's own generation begins: a dashed line (white halo, then the text colour)
 * down the boundary between the prompt and the generated columns (the caption says so). */
static void
draw_generated_boundary (cairo_t *cr, const StrataGrid *g, const StrataPanelRect *r, double gap)
{
  double x = r->x + g->first_generated_col * r->cell_w - gap / 2;
  const double dash[] = { 4, 3 };
  cairo_save (cr);
  cairo_move_to (cr, x, r->y - 2);
  cairo_line_to (cr, x, r->y + r->h);
  cairo_set_line_width (cr, 3);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_stroke_preserve (cr);
  cairo_set_dash (cr, dash, 2, 0);
  cairo_set_line_width (cr, 1.5);
  strata_style_set (cr, strata_style_text, 1.0);
  cairo_stroke (cr);
  cairo_restore (cr);
}

/* The traced row (a series' resolution layer): each traced cell outlined, joined to the
 * next column's by a link along the column boundary (so the cell text stays readable), and a
 * ring in the band above a column that never reaches it ("never" where it fits). A white
 * halo keeps it visible on dark and light cells alike. */
static void
draw_trace_line (cairo_t *cr, const StrataHeatFigure *f, const StrataGrid *g, const StrataPanelRect *r, double gap)
{
  cairo_save (cr);
  for (int pass = 0; pass < 2; pass++) { /* halo, then colour */
    if (pass == 0)
      cairo_set_source_rgb (cr, 1, 1, 1);
    else
      strata_style_set (cr, strata_style_series (TRACE_COLOR), 1.0);
    cairo_set_line_width (cr, pass == 0 ? 4.0 : 2.0);
    for (int j = 0; j + 1 < g->cols; j++) {
      if (g->trace[j] < 0 || g->trace[j + 1] < 0)
        continue;
      double bx = r->x + (j + 1) * r->cell_w - gap / 2;
      double y0 = cell_y (f, g, r, g->trace[j]) + (r->cell_h - gap) / 2;
      double y1 = cell_y (f, g, r, g->trace[j + 1]) + (r->cell_h - gap) / 2;
      cairo_move_to (cr, bx - MIN (4.0, r->cell_w / 4), y0);
      cairo_line_to (cr, bx, y0);
      cairo_line_to (cr, bx, y1);
      cairo_line_to (cr, bx + MIN (4.0, r->cell_w / 4), y1);
      cairo_stroke (cr);
    }
  }
  cairo_restore (cr);
}

static void
draw_trace_marks (cairo_t *cr, const StrataHeatFigure *f, const StrataGrid *g, const StrataPanelRect *r,
                  const StrataHeatLayout *lay, double gap)
{
  cairo_save (cr);
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 0)
      cairo_set_source_rgb (cr, 1, 1, 1);
    else
      strata_style_set (cr, strata_style_series (TRACE_COLOR), 1.0);
    for (int j = 0; j < g->cols; j++) {
      double cx = r->x + j * r->cell_w + (r->cell_w - gap) / 2;
      if (g->trace[j] >= 0) {
        double inset = MIN (2.0, MIN (r->cell_w, r->cell_h) / 4);
        cairo_set_line_width (cr, pass == 0 ? 3.5 : 2.0);
        cairo_rectangle (cr, r->x + j * r->cell_w + inset, cell_y (f, g, r, g->trace[j]) + inset,
                         r->cell_w - gap - 2 * inset, r->cell_h - gap - 2 * inset);
        cairo_stroke (cr);
      } else if (g->trace[j] == STRATA_TRACE_NEVER && lay->band > 0) {
        double tw, label = 0;
        strata_text_size (cr, STRATA_FONT_TICK, "never", &tw, NULL);
        if (tw + 2 * TRACE_R + 6 < r->cell_w - gap)
          label = tw + 3;
        cairo_new_sub_path (cr);
        cairo_arc (cr, cx - label / 2, r->y - lay->band / 2, TRACE_R, 0, 2 * G_PI);
        cairo_set_line_width (cr, pass == 0 ? 3.5 : 1.5);
        cairo_stroke (cr);
        if (label > 0 && pass == 1)
          strata_text_draw (cr, STRATA_FONT_TICK, "never", cx - label / 2 + TRACE_R + 3, r->y - lay->band / 2, 0, 0.5,
                            0);
      }
    }
  }
  cairo_restore (cr);
}

/* Outlined cells (the first cell holding each trace target): the text colour inside a
 * white halo, at least 5 units across so a cell of a long trace still shows. */
static void
draw_outlines (cairo_t *cr, const StrataHeatFigure *f, const StrataGrid *g, const StrataPanelRect *r, double gap)
{
  cairo_save (cr);
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 0)
      cairo_set_source_rgb (cr, 1, 1, 1);
    else
      strata_style_set (cr, strata_style_text, 1.0);
    cairo_set_line_width (cr, pass == 0 ? 3.5 : 1.5);
    for (guint i = 0; i < g->outlined->len; i++) {
      const StrataGridCell *c = &g_array_index (g->outlined, StrataGridCell, i);
      double w = MAX (r->cell_w - gap, 5), h = MAX (r->cell_h - gap, 5);
      double cx = r->x + c->col * r->cell_w + (r->cell_w - gap) / 2, cy = cell_y (f, g, r, c->row) + (r->cell_h - gap) / 2;
      cairo_rectangle (cr, cx - w / 2, cy - h / 2, w, h);
      cairo_stroke (cr);
    }
  }
  cairo_restore (cr);
}

/* Column marks: a tick in the legend colour under each marked column (a writing position). */
static void
draw_col_marks (cairo_t *cr, const StrataGrid *g, const StrataPanelRect *r, double gap)
{
  cairo_save (cr);
  cairo_set_antialias (cr, CAIRO_ANTIALIAS_NONE);
  for (int j = 0; j < g->cols; j++) {
    if (g->col_mark[j] < 0)
      continue;
    strata_style_set (cr, strata_style_series (g->col_mark[j]), 1.0);
    double w = MAX (r->cell_w - gap, 2);
    cairo_rectangle (cr, r->x + j * r->cell_w + (r->cell_w - gap - w) / 2, r->y + r->h + 1, w, COL_MARK_H);
    cairo_fill (cr);
  }
  cairo_restore (cr);
}

/* The overview strip's rectangle: the panel's width, above the trace band and the cells. */
static void
overview_rect (const StrataPanelRect *r, const StrataHeatLayout *lay, double *x, double *y, double *w, double *h)
{
  *x = r->x;
  *y = r->y - lay->band - lay->overview_h;
  *w = r->w;
  *h = OVERVIEW_H;
}

/* The whole sequence as one row of thin cells, the shown window outlined and the rest
 * veiled, so where the window sits in a long trace reads at a glance. */
static void
draw_overview (cairo_t *cr, const StrataHeatFigure *f, const StrataGrid *g, const StrataPanelRect *r,
               const StrataHeatLayout *lay)
{
  double x, y, w, h;
  overview_rect (r, lay, &x, &y, &w, &h);
  double step = w / g->n_overview;
  cairo_save (cr);
  cairo_set_antialias (cr, CAIRO_ANTIALIAS_NONE);
  for (int j = 0; j < g->n_overview; j++) {
    StrataRgb c;
    cell_color (f, g->overview[j], &c);
    strata_style_set (cr, c, 1.0);
    cairo_rectangle (cr, x + j * step, y, step + 0.5, h);
    cairo_fill (cr);
  }
  double wx0 = x + g->col_offset * step, wx1 = x + (g->col_offset + g->cols) * step;
  cairo_set_source_rgba (cr, 1, 1, 1, 0.55);
  cairo_rectangle (cr, x, y, wx0 - x, h);
  cairo_rectangle (cr, wx1, y, x + w - wx1, h);
  cairo_fill (cr);
  cairo_restore (cr);
  strata_style_set (cr, strata_style_highlight, 1.0);
  cairo_set_line_width (cr, 1.5);
  cairo_rectangle (cr, wx0 - 0.75, y - 0.75, MAX (wx1 - wx0, 1.5) + 1.5, h + 1.5);
  cairo_stroke (cr);
}

static void
draw_panel (cairo_t *cr, const StrataHeatFigure *f, const StrataGrid *g, const StrataPanelRect *r,
            const StrataHeatLayout *lay)
{
  double gap = r->cell_w >= 8 && r->cell_h >= 8 ? 1.0 : 0.0;
  double tick_h = strata_text_height (cr, STRATA_FONT_CELL);

  /* Cells: exact fills, no antialiasing, so a cell is one flat colour (tests read it). */
  cairo_save (cr);
  cairo_set_antialias (cr, CAIRO_ANTIALIAS_NONE);
  for (int i = 0; i < g->rows; i++) {
    double cy = cell_y (f, g, r, i);
    for (int j = 0; j < g->cols; j++) {
      StrataRgb c;
      cell_color (f, g->value[i * g->cols + j], &c);
      strata_style_set (cr, c, 1.0);
      cairo_rectangle (cr, r->x + j * r->cell_w, cy, r->cell_w - gap, r->cell_h - gap);
      cairo_fill (cr);
    }
  }
  cairo_restore (cr);
  if (g->trace)
    draw_trace_line (cr, f, g, r, gap);
  if (g->first_generated_col > 0 && g->first_generated_col < g->cols)
    draw_generated_boundary (cr, g, r, gap);

  /* Cell text where it fits, light on dark cells. */
  if (g->cell_text && r->cell_h >= tick_h && r->cell_w >= 18) {
    for (int i = 0; i < g->rows; i++) {
      double cy = cell_y (f, g, r, i);
      for (int j = 0; j < g->cols; j++) {
        const char *t = g->cell_text[i * g->cols + j];
        if (!t)
          continue;
        StrataRgb c;
        cell_color (f, g->value[i * g->cols + j], &c);
        double lum = 0.299 * c.r + 0.587 * c.g + 0.114 * c.b;
        if (lum < 0.55)
          cairo_set_source_rgb (cr, 1, 1, 1);
        else
          strata_style_set (cr, strata_style_text, 1.0);
        strata_text_draw (cr, STRATA_FONT_CELL, t, r->x + j * r->cell_w + (r->cell_w - gap) / 2,
                          cy + (r->cell_h - gap) / 2, 0.5, 0.5, r->cell_w - gap - 4);
      }
    }
  }

  if (g->trace)
    draw_trace_marks (cr, f, g, r, lay, gap);
  if (g->outlined)
    draw_outlines (cr, f, g, r, gap);
  if (g->col_mark)
    draw_col_marks (cr, g, r, gap);

  /* Row labels (bold and marked when selected), on a stride of absolute rows when dense. */
  double label_pitch = strata_text_height (cr, STRATA_FONT_TICK) + LABEL_GAP; /* a label's height, spaced */
  int row_stride = strata_label_stride (r->cell_h, label_pitch);
  for (int i = 0; i < g->rows; i++) {
    gboolean sel = i == g->sel_row;
    if (!strata_label_shown (i + g->row_offset, g->sel_row >= 0 ? g->sel_row + g->row_offset : -1, row_stride))
      continue;
    strata_style_set (cr, sel ? strata_style_highlight : strata_style_muted, 1.0);
    double cy = cell_y (f, g, r, i) + (r->cell_h - gap) / 2;
    strata_text_draw (cr, sel ? STRATA_FONT_BOLD_TICK : STRATA_FONT_TICK, g_ptr_array_index (g->row_labels, i),
                      r->x - 6, cy, 1.0, 0.5, 0);
  }
  /* Column labels: horizontal ones are ellipsized to their cell; vertical ones stand a line
   * apart, on a stride of absolute positions (stable while the window scrolls). */
  double ly = r->y + r->h + 3;
  int stride = lay->col_label_rot == 0 ? 1 : strata_label_stride (r->cell_w, label_pitch);
  for (int j = 0; j < g->cols; j++) {
    gboolean sel = j == g->sel_col;
    if (!strata_label_shown (j + g->col_offset, g->sel_col >= 0 ? g->sel_col + g->col_offset : -1, stride))
      continue;
    strata_style_set (cr, sel ? strata_style_highlight : strata_style_muted, 1.0);
    StrataFont font = sel ? STRATA_FONT_BOLD_TICK : STRATA_FONT_TICK;
    const char *t = g_ptr_array_index (g->col_labels, j);
    double cx = r->x + j * r->cell_w + (r->cell_w - gap) / 2;
    if (lay->col_label_rot == 0) {
      strata_text_draw (cr, font, t, cx, ly, 0.5, 0, r->cell_w);
    } else {
      cairo_save (cr);
      cairo_translate (cr, cx, ly);
      cairo_rotate (cr, G_PI / 2);
      strata_text_draw (cr, font, t, 0, 0, 0, 0.5, MAX_COL_LABEL);
      cairo_restore (cr);
    }
  }

  /* Selection: the selected cell framed; its row and column edged. */
  if (g->sel_row >= 0 || g->sel_col >= 0) {
    cairo_save (cr);
    strata_style_set (cr, strata_style_highlight, 1.0);
    if (g->sel_row >= 0) {
      double cy = cell_y (f, g, r, g->sel_row);
      cairo_set_line_width (cr, 1.5);
      cairo_rectangle (cr, r->x - 0.75, cy - 0.75, r->w - gap + 1.5, r->cell_h - gap + 1.5);
      cairo_stroke (cr);
      /* a marker beside the row, visible even in a dense grid */
      cairo_move_to (cr, r->x - 2, cy + (r->cell_h - gap) / 2);
      cairo_rel_line_to (cr, -4, -3.5);
      cairo_rel_line_to (cr, 0, 7);
      cairo_close_path (cr);
      cairo_fill (cr);
    }
    if (g->sel_row >= 0 && g->sel_col >= 0) {
      double cy = cell_y (f, g, r, g->sel_row);
      cairo_set_line_width (cr, 3.0);
      cairo_rectangle (cr, r->x + g->sel_col * r->cell_w - 1.5, cy - 1.5, r->cell_w - gap + 3, r->cell_h - gap + 3);
      cairo_stroke (cr);
    } else if (g->sel_col >= 0) {
      cairo_set_line_width (cr, 1.5);
      cairo_rectangle (cr, r->x + g->sel_col * r->cell_w - 0.75, r->y - 0.75, r->cell_w - gap + 1.5, r->h - gap + 1.5);
      cairo_stroke (cr);
    }
    cairo_restore (cr);
  }

  if (g->overview)
    draw_overview (cr, f, g, r, lay);
  if (g->title) {
    strata_style_set (cr, strata_style_text, 1.0);
    strata_text_draw (cr, STRATA_FONT_LABEL, g->title, r->x, r->y - 4 - lay->band - lay->overview_h, 0, 1, r->w);
  }
}


static void
draw_colorbar (cairo_t *cr, const StrataHeatFigure *f, const StrataHeatLayout *lay)
{
  const int steps = 128;
  cairo_save (cr);
  cairo_set_antialias (cr, CAIRO_ANTIALIAS_NONE);
  for (int i = 0; i < steps; i++) {
    double t = (double) i / (steps - 1);     /* 0 at the bottom */
    StrataRgb c;
    cell_color (f, f->diverging ? 2 * t - 1 : t, &c);
    strata_style_set (cr, c, 1.0);
    double y0 = lay->bar_y + lay->bar_h * (1 - (double) (i + 1) / steps);
    cairo_rectangle (cr, lay->bar_x, floor (y0), lay->bar_w, ceil (lay->bar_h / steps) + 1);
    cairo_fill (cr);
  }
  cairo_restore (cr);
  strata_style_set (cr, strata_style_axis, 1.0);
  cairo_set_line_width (cr, 1);
  cairo_rectangle (cr, lay->bar_x + 0.5, lay->bar_y + 0.5, lay->bar_w - 1, lay->bar_h - 1);
  cairo_stroke (cr);

  int n_ticks = f->scale_log ? (int) lround (f->scale_max - f->scale_min) + 1 : 5;
  double tick_w = 0;
  for (int i = 0; i < n_ticks; i++) {
    double frac = (double) i / (n_ticks - 1);
    double v = f->scale_min + frac * (f->scale_max - f->scale_min);
    double ty = lay->bar_y + lay->bar_h * (1 - frac);
    g_autofree char *t = scale_tick (f, v);
    strata_style_set (cr, strata_style_axis, 1.0);
    cairo_move_to (cr, lay->bar_x + lay->bar_w, round (ty) + 0.5);
    cairo_rel_line_to (cr, 3, 0);
    cairo_stroke (cr);
    strata_style_set (cr, strata_style_muted, 1.0);
    tick_w = MAX (tick_w, strata_text_draw (cr, STRATA_FONT_TICK, t, lay->bar_x + lay->bar_w + 5, ty, 0, 0.5, 0));
  }
  strata_style_set (cr, strata_style_text, 1.0);
  strata_text_draw_vertical (cr, STRATA_FONT_LABEL, f->scale_label,
                             lay->bar_x + lay->bar_w + 5 + tick_w + 6 + strata_text_height (cr, STRATA_FONT_LABEL) / 2,
                             lay->bar_y + lay->bar_h / 2);
}

/* The legend of categorical cells in the colour bar's place: a swatch and a name per entry,
 * as many as fit the panel's height, then how many more there are. */
static void
draw_legend (cairo_t *cr, const StrataHeatFigure *f, const StrataHeatLayout *lay)
{
  double row_h = MAX (strata_text_height (cr, STRATA_FONT_TICK) + 3, BAR_W + 2);
  int fit = MAX ((int) floor (lay->panel[0].h / row_h), 1);
  int shown = (int) f->legend->len <= fit ? (int) f->legend->len : fit - 1;
  for (int i = 0; i < shown; i++) {
    double y = lay->bar_y + i * row_h;
    StrataRgb c = strata_style_series (i);
    strata_style_set (cr, c, 1.0);
    cairo_rectangle (cr, lay->bar_x, y, BAR_W, BAR_W);
    cairo_fill (cr);
    strata_style_set (cr, strata_style_text, 1.0);
    strata_text_draw (cr, STRATA_FONT_TICK, g_ptr_array_index (f->legend, i), lay->bar_x + BAR_W + 5, y + BAR_W / 2,
                      0, 0.5, MAX_LEGEND_LABEL);
  }
  if (shown < (int) f->legend->len) {
    g_autofree char *more = g_strdup_printf ("+%d more", (int) f->legend->len - shown);
    strata_style_set (cr, strata_style_muted, 1.0);
    strata_text_draw (cr, STRATA_FONT_TICK, more, lay->bar_x, lay->bar_y + shown * row_h + BAR_W / 2, 0, 0.5, 0);
  }
}

void
strata_heat_draw (cairo_t *cr, const StrataHeatFigure *f, double width, double height)
{
  StrataHeatLayout lay;
  double x, y, w, h;
  strata_style_set (cr, strata_style_background, 1.0);
  cairo_paint (cr);
  strata_frame_draw (cr, width, height, f->title, f->caption, &x, &y, &w, &h, TRUE);
  strata_heat_layout (cr, f, width, height, &lay);
  for (int p = 0; p < f->n_panels; p++)
    draw_panel (cr, f, f->panels[p], &lay.panel[p], &lay);
  if (f->legend)
    draw_legend (cr, f, &lay);
  else
    draw_colorbar (cr, f, &lay);

  /* Axis titles: rows on the left of the first panel, columns under every panel. */
  double label_h = strata_text_height (cr, STRATA_FONT_LABEL);
  double tick_h = strata_text_height (cr, STRATA_FONT_TICK);
  const StrataPanelRect *r0 = &lay.panel[0];
  strata_style_set (cr, strata_style_text, 1.0);
  double row_w = 0;
  for (int p = 0; p < f->n_panels; p++)
    row_w = MAX (row_w, max_label_width (cr, f->panels[p]->row_labels, STRATA_FONT_BOLD_TICK));
  strata_text_draw_vertical (cr, STRATA_FONT_LABEL, f->row_axis, r0->x - 6 - row_w - 6 - label_h / 2,
                             r0->y + r0->h / 2);
  double col_block = 0;
  if (lay.col_label_rot != 0) {
    for (int p = 0; p < f->n_panels; p++)
      col_block = MAX (col_block, MIN (max_label_width (cr, f->panels[p]->col_labels, STRATA_FONT_BOLD_TICK), MAX_COL_LABEL));
  } else {
    col_block = tick_h;
  }
  for (int p = 0; p < f->n_panels; p++) {
    const StrataPanelRect *r = &lay.panel[p];
    strata_text_draw (cr, STRATA_FONT_LABEL, f->col_axis, r->x + r->w / 2, r->y + r->h + 3 + lay.mark_h + col_block + 4,
                      0.5, 0, 0);
  }
}

gboolean
strata_heat_hit (const StrataHeatLayout *lay, const StrataHeatFigure *f, double x, double y,
                 int *panel, int *row, int *col)
{
  for (int p = 0; p < lay->n_panels; p++) {
    const StrataPanelRect *r = &lay->panel[p];
    if (x < r->x || y < r->y || x >= r->x + r->w || y >= r->y + r->h)
      continue;
    const StrataGrid *g = f->panels[p];
    int visual = (int) floor ((y - r->y) / r->cell_h);
    int c = (int) floor ((x - r->x) / r->cell_w);
    visual = CLAMP (visual, 0, g->rows - 1);
    *panel = p;
    *row = (f->row0_bottom ? g->rows - 1 - visual : visual) + g->row_offset;
    *col = CLAMP (c, 0, g->cols - 1) + g->col_offset;
    return TRUE;
  }
  return FALSE;
}

gboolean
strata_heat_hit_overview (const StrataHeatLayout *lay, const StrataHeatFigure *f, double x, double y,
                          int *panel, int *position)
{
  for (int p = 0; p < lay->n_panels; p++) {
    const StrataGrid *g = f->panels[p];
    double ox, oy, ow, oh;
    overview_rect (&lay->panel[p], lay, &ox, &oy, &ow, &oh);
    /* a little slack above and below: the strip is thin */
    if (!g->overview || x < ox || x >= ox + ow || y < oy - 3 || y >= oy + oh + 3)
      continue;
    *panel = p;
    *position = CLAMP ((int) floor ((x - ox) / ow * g->n_overview), 0, g->n_overview - 1);
    return TRUE;
  }
  return FALSE;
}
