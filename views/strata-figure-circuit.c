/* strata-figure-circuit.c: the circuit graph on a (position, layer) grid.
 *
 * Residual states sit on the grid points (layer 0 = embedding at the bottom); attention and
 * MLP outputs of block l sit half a row above resid l, left and right of the column; heads,
 * which span positions, get their own columns on the right. Node area and colour follow the
 * patching effect; a green ring marks where the lens decodes the target. */
#include <math.h>

#include "strata-figure-private.h"

static const StrataRgb decode_ring = { 0.15, 0.64, 0.41 };

static double
head_area_w (const StrataCircuitFigure *f, double col_w)
{
  return f->n_heads > 0 ? MIN (col_w, 40.0) * 0.25 * f->n_heads + 24 : 0;
}

void
strata_circuit_layout (cairo_t *cr, const StrataCircuitFigure *f, double width, double height,
                       StrataCircuitLayout *lay)
{
  double x, y, w, h;
  strata_frame_draw (cr, width, height, f->title, f->caption, &x, &y, &w, &h, FALSE);
  double label_h = strata_text_height (cr, STRATA_FONT_LABEL);
  double tick_h = strata_text_height (cr, STRATA_FONT_TICK);
  double row_w;
  strata_text_size (cr, STRATA_FONT_BOLD_TICK, "00 emb", &row_w, NULL);
  double left = label_h + 8 + row_w + 10;
  double legend_h = tick_h + 10;
  double bottom = tick_h + 6 + label_h + 6;
  const StrataCircuit *c = f->circuit;
  double avail_w = w - left - 10;
  /* solve col_w with the head block depending on it: a few iterations are plenty */
  double col_w = avail_w / c->T;
  for (int i = 0; i < 3; i++)
    col_w = (avail_w - head_area_w (f, col_w)) / c->T;
  lay->col_w = MIN (col_w, 140);
  lay->row_h = MIN ((h - legend_h - bottom) / (c->n_layers + 0.6), 90);
  lay->x = round (x + left);
  lay->y = round (y + legend_h);
  lay->w = lay->col_w * c->T;
  lay->h = lay->row_h * (c->n_layers + 0.6);
}

/* y of residual point k (fractional for component nodes). */
static double
row_y (const StrataCircuitLayout *lay, const StrataCircuit *c, double k)
{
  return lay->y + lay->h - lay->row_h * (k + 0.3);
}

static void
node_xy (const StrataCircuitLayout *lay, const StrataCircuitFigure *f, const StrataCircuitNode *n,
         double *x, double *y)
{
  const StrataCircuit *c = f->circuit;
  double cx = lay->x + (n->pos + 0.5) * lay->col_w;
  switch (n->kind) {
  case STRATA_NODE_RESID:
    *x = cx;
    *y = row_y (lay, c, n->layer);
    break;
  case STRATA_NODE_ATTN:
    *x = cx - lay->col_w * 0.2;
    *y = row_y (lay, c, n->layer + 0.5);
    break;
  case STRATA_NODE_MLP:
    *x = cx + lay->col_w * 0.2;
    *y = row_y (lay, c, n->layer + 0.5);
    break;
  case STRATA_NODE_HEAD:
  default: {
    double hw = MIN (lay->col_w, 40.0) * 0.25;
    *x = lay->x + lay->w + 24 + (n->head + 0.5) * hw;
    *y = row_y (lay, c, n->layer + 0.5);
    break;
  }
  }
}

static double
node_radius (const StrataCircuitLayout *lay, const StrataCircuitFigure *f, double effect)
{
  double rmax = MIN (MIN (lay->col_w * 0.18, lay->row_h * 0.3), 16.0);
  double rmin = MIN (2.5, rmax);
  return rmin + (rmax - rmin) * sqrt (fabs (effect) / f->max_effect);
}

static void
node_path (cairo_t *cr, StrataNodeKind kind, double x, double y, double r)
{
  switch (kind) {
  case STRATA_NODE_RESID:
    cairo_new_sub_path (cr);
    cairo_arc (cr, x, y, r, 0, 2 * G_PI);
    break;
  case STRATA_NODE_MLP:
    cairo_move_to (cr, x, y - r * 1.2);
    cairo_line_to (cr, x + r * 1.2, y);
    cairo_line_to (cr, x, y + r * 1.2);
    cairo_line_to (cr, x - r * 1.2, y);
    cairo_close_path (cr);
    break;
  case STRATA_NODE_ATTN:
  case STRATA_NODE_HEAD:
  default:
    cairo_rectangle (cr, x - r, y - r, 2 * r, 2 * r);
    break;
  }
}

static void
legend_item (cairo_t *cr, double *x, double y, StrataNodeKind kind, gboolean ring, const char *text)
{
  StrataRgb fill;
  strata_colormap_diverging (0.7, &fill.r, &fill.g, &fill.b);
  node_path (cr, kind, *x + 6, y, 5);
  strata_style_set (cr, fill, 1.0);
  cairo_fill_preserve (cr);
  strata_style_set (cr, ring ? decode_ring : strata_style_muted, 1.0);
  cairo_set_line_width (cr, ring ? 2.5 : 1.0);
  cairo_stroke (cr);
  strata_style_set (cr, strata_style_muted, 1.0);
  *x += 16 + strata_text_draw (cr, STRATA_FONT_TICK, text, *x + 16, y, 0, 0.5, 0) + 18;
}

void
strata_circuit_draw (cairo_t *cr, const StrataCircuitFigure *f, double width, double height)
{
  double x, y, w, h;
  StrataCircuitLayout lay;
  const StrataCircuit *c = f->circuit;
  strata_style_set (cr, strata_style_background, 1.0);
  cairo_paint (cr);
  strata_frame_draw (cr, width, height, f->title, f->caption, &x, &y, &w, &h, TRUE);
  strata_circuit_layout (cr, f, width, height, &lay);
  double tick_h = strata_text_height (cr, STRATA_FONT_TICK);
  double label_h = strata_text_height (cr, STRATA_FONT_LABEL);

  /* Legend above the graph. */
  double lx = lay.x;
  double ly = y + tick_h / 2;
  legend_item (cr, &lx, ly, STRATA_NODE_RESID, FALSE, "residual state");
  legend_item (cr, &lx, ly, STRATA_NODE_ATTN, FALSE, "attention out / head");
  legend_item (cr, &lx, ly, STRATA_NODE_MLP, FALSE, "MLP out");
  legend_item (cr, &lx, ly, STRATA_NODE_RESID, TRUE, "lens decodes target");

  /* Selected row and column bands. */
  if (f->sel_layer >= 0 && f->sel_layer <= c->n_layers) {
    strata_style_set (cr, strata_style_highlight, 0.10);
    cairo_rectangle (cr, lay.x, row_y (&lay, c, f->sel_layer) - lay.row_h * 0.25, lay.w, lay.row_h * 0.5);
    cairo_fill (cr);
  }
  if (f->sel_pos >= 0 && f->sel_pos < c->T) {
    strata_style_set (cr, strata_style_highlight, 0.07);
    cairo_rectangle (cr, lay.x + f->sel_pos * lay.col_w, lay.y, lay.col_w, lay.h);
    cairo_fill (cr);
  }

  /* Grid: one faint line per residual point, one per position. */
  cairo_set_line_width (cr, 1);
  strata_style_set (cr, strata_style_grid, 1.0);
  for (int k = 0; k <= c->n_layers; k++) {
    double yy = round (row_y (&lay, c, k)) + 0.5;
    cairo_move_to (cr, lay.x, yy);
    cairo_line_to (cr, lay.x + lay.w, yy);
  }
  for (int j = 0; j < c->T; j++) {
    double xx = round (lay.x + (j + 0.5) * lay.col_w) + 0.5;
    cairo_move_to (cr, xx, lay.y);
    cairo_line_to (cr, xx, lay.y + lay.h);
  }
  cairo_stroke (cr);

  /* Labels. */
  for (int k = 0; k <= c->n_layers; k++) {
    gboolean sel = k == f->sel_layer;
    g_autofree char *t = k == 0 ? g_strdup ("0 emb") : g_strdup_printf ("%d", k);
    strata_style_set (cr, sel ? strata_style_highlight : strata_style_muted, 1.0);
    strata_text_draw (cr, sel ? STRATA_FONT_BOLD_TICK : STRATA_FONT_TICK, t, lay.x - 8, row_y (&lay, c, k), 1, 0.5, 0);
  }
  for (int j = 0; j < c->T; j++) {
    gboolean sel = j == f->sel_pos;
    strata_style_set (cr, sel ? strata_style_highlight : strata_style_muted, 1.0);
    strata_text_draw (cr, sel ? STRATA_FONT_BOLD_TICK : STRATA_FONT_TICK, g_ptr_array_index (f->col_labels, j),
                      lay.x + (j + 0.5) * lay.col_w, lay.y + lay.h + 4, 0.5, 0, lay.col_w - 2);
  }
  strata_style_set (cr, strata_style_text, 1.0);
  strata_text_draw_vertical (cr, STRATA_FONT_LABEL, "residual point (layer)", x + label_h / 2, lay.y + lay.h / 2);
  strata_text_draw (cr, STRATA_FONT_LABEL, "input position", lay.x + lay.w / 2, lay.y + lay.h + 4 + tick_h + 4, 0.5, 0, 0);
  if (f->n_heads > 0) {
    double hx = lay.x + lay.w + 24;
    strata_style_set (cr, strata_style_muted, 1.0);
    strata_text_draw (cr, STRATA_FONT_TICK, "heads", hx, lay.y + lay.h + 4, 0, 0, 0);
  }

  /* Edges under the nodes; width and opacity by strength. */
  double max_w = 1e-9;
  for (guint i = 0; c->edges && i < c->edges->len; i++)
    max_w = MAX (max_w, fabs (g_array_index (c->edges, StrataCircuitEdge, i).weight));
  for (guint i = 0; c->edges && i < c->edges->len; i++) {
    const StrataCircuitEdge *e = &g_array_index (c->edges, StrataCircuitEdge, i);
    if (e->from < 0 || e->to < 0 || (guint) e->from >= c->nodes->len || (guint) e->to >= c->nodes->len)
      continue;
    double x0, y0, x1, y1;
    node_xy (&lay, f, &g_array_index (c->nodes, StrataCircuitNode, e->from), &x0, &y0);
    node_xy (&lay, f, &g_array_index (c->nodes, StrataCircuitNode, e->to), &x1, &y1);
    double s = fabs (e->weight) / max_w;
    strata_style_set (cr, strata_style_muted, 0.25 + 0.5 * s);
    cairo_set_line_width (cr, 0.75 + 4.0 * s);
    double my = (y0 + y1) / 2;
    cairo_move_to (cr, x0, y0);
    cairo_curve_to (cr, x0, my, x1, my, x1, y1);
    cairo_stroke (cr);
  }

  /* Nodes. */
  for (guint i = 0; i < c->nodes->len; i++) {
    const StrataCircuitNode *n = &g_array_index (c->nodes, StrataCircuitNode, i);
    if (n->layer < 0 || n->layer > c->n_layers || (n->kind != STRATA_NODE_HEAD && (n->pos < 0 || n->pos >= c->T)))
      continue;
    double nx, ny, r = node_radius (&lay, f, n->effect);
    node_xy (&lay, f, n, &nx, &ny);
    StrataRgb fill;
    strata_colormap_diverging (n->effect / f->max_effect, &fill.r, &fill.g, &fill.b);
    node_path (cr, n->kind, nx, ny, r);
    strata_style_set (cr, fill, 1.0);
    cairo_fill_preserve (cr);
    strata_style_set (cr, strata_style_muted, 1.0);
    cairo_set_line_width (cr, 1.0);
    cairo_stroke (cr);
    if (n->decodes) {
      node_path (cr, n->kind, nx, ny, r + 3);
      strata_style_set (cr, decode_ring, 1.0);
      cairo_set_line_width (cr, 2.5);
      cairo_stroke (cr);
    }
  }
}

gboolean
strata_circuit_hit (const StrataCircuitLayout *lay, const StrataCircuitFigure *f, double x, double y,
                    int *layer, int *pos)
{
  const StrataCircuit *c = f->circuit;
  if (x < lay->x || x >= lay->x + lay->w || y < lay->y || y >= lay->y + lay->h)
    return FALSE;
  *pos = CLAMP ((int) floor ((x - lay->x) / lay->col_w), 0, c->T - 1);
  double k = (lay->y + lay->h - y) / lay->row_h - 0.3;
  *layer = CLAMP ((int) lround (k), 0, c->n_layers);
  return TRUE;
}
