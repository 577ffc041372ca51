/* strata-figure.c: the one entry point that draws, hit-tests and measures any figure. */
#include <math.h>

#include "strata-figure-private.h"

static const char *
empty_message (StrataFigureKind kind)
{
  switch (kind) {
  case STRATA_FIGURE_LENS_HEATMAP:
    return "No logit-lens result yet: type a prompt and run the lens.";
  case STRATA_FIGURE_TOKEN_CURVES:
    return "No target curves yet: run the lens with one or more targets.";
  case STRATA_FIGURE_PATCH_HEATMAP:
    return "No patching result yet: give a corrupted prompt and a target, then run patching.";
  case STRATA_FIGURE_CIRCUIT:
    return "No circuit yet: run patching first.";
  case STRATA_FIGURE_ATTENTION:
    return "No attention pattern yet: run the lens.";
  default:
    return "Nothing to show.";
  }
}

static StrataHeatFigure *
heat_data (const StrataFigureInput *in)
{
  switch (in->kind) {
  case STRATA_FIGURE_LENS_HEATMAP: return strata_figure_data_lens (in);
  case STRATA_FIGURE_PATCH_HEATMAP: return strata_figure_data_patch (in);
  case STRATA_FIGURE_ATTENTION: return strata_figure_data_attention (in);
  default: return NULL;
  }
}

static gboolean
is_heat (StrataFigureKind kind)
{
  return kind == STRATA_FIGURE_LENS_HEATMAP || kind == STRATA_FIGURE_PATCH_HEATMAP
         || kind == STRATA_FIGURE_ATTENTION;
}

void
strata_figure_draw (cairo_t *cr, double width, double height, const StrataFigureInput *in)
{
  cairo_save (cr);
  if (in->a && is_heat (in->kind)) {
    g_autoptr (StrataHeatFigure) f = heat_data (in);
    if (f) {
      strata_heat_draw (cr, f, width, height);
      cairo_restore (cr);
      return;
    }
  } else if (in->a && in->kind == STRATA_FIGURE_TOKEN_CURVES) {
    g_autoptr (StrataCurveFigure) f = strata_figure_data_curves (in);
    if (f) {
      strata_curve_draw (cr, f, width, height);
      cairo_restore (cr);
      return;
    }
  } else if (in->a && in->kind == STRATA_FIGURE_CIRCUIT) {
    g_autoptr (StrataCircuitFigure) f = strata_figure_data_circuit (in);
    if (f) {
      strata_circuit_draw (cr, f, width, height);
      cairo_restore (cr);
      return;
    }
  }
  const StrataPatchResult *pr = in->a && in->kind == STRATA_FIGURE_PATCH_HEATMAP
                                    ? strata_figure_data_patch_result (in->a, in->view)
                                    : NULL;
  if (pr) {
    g_autofree char *msg = g_strdup_printf ("This patching run has no %s map: run patching with --site %s.",
                                            strata_patch_site_to_string (in->view->patch_site),
                                            strata_patch_site_to_string (in->view->patch_site));
    strata_figure_draw_empty (cr, width, height, msg);
  } else {
    strata_figure_draw_empty (cr, width, height, empty_message (in->kind));
  }
  cairo_restore (cr);
}

double
strata_figure_fit_height (const StrataFigureInput *in, double width, double height)
{
  if (!in->a || !is_heat (in->kind))
    return height;
  g_autoptr (StrataHeatFigure) f = heat_data (in);
  if (!f)
    return height;
  cairo_t *cr = strata_figure_scratch_cr ();
  StrataHeatLayout lay;
  strata_heat_layout (cr, f, width, height, &lay);
  cairo_destroy (cr);
  return MAX (height - floor (lay.spare_h), 16);
}

gboolean
strata_figure_hit_test (const StrataFigureInput *in, double width, double height, double x,
                        double y, StrataFigureHit *hit)
{
  hit->panel = hit->layer = hit->position = hit->head = -1;
  if (!in->a)
    return FALSE;
  cairo_t *cr = strata_figure_scratch_cr ();
  gboolean found = FALSE;
  if (is_heat (in->kind)) {
    g_autoptr (StrataHeatFigure) f = heat_data (in);
    StrataHeatLayout lay;
    int panel, row, col;
    if (f) {
      strata_heat_layout (cr, f, width, height, &lay);
      if (strata_heat_hit (&lay, f, x, y, &panel, &row, &col)) {
        found = TRUE;
        hit->panel = panel;
        if (in->kind == STRATA_FIGURE_ATTENTION) {
          hit->position = row;  /* the query row */
        } else {
          hit->layer = row;
          gboolean heads = in->kind == STRATA_FIGURE_PATCH_HEATMAP
                           && (in->view->patch_site == STRATA_PATCH_HEAD || in->view->patch_site == STRATA_PATCH_HEAD_AT);
          if (heads)
            hit->head = col;
          else
            hit->position = col;
        }
      }
    }
  } else if (in->kind == STRATA_FIGURE_TOKEN_CURVES) {
    g_autoptr (StrataCurveFigure) f = strata_figure_data_curves (in);
    StrataCurveLayout lay;
    if (f) {
      strata_curve_layout (cr, f, width, height, &lay);
      hit->layer = strata_curve_hit (&lay, f, x, y);
      found = hit->layer >= 0;
      hit->panel = found ? 0 : -1;
    }
  } else if (in->kind == STRATA_FIGURE_CIRCUIT) {
    g_autoptr (StrataCircuitFigure) f = strata_figure_data_circuit (in);
    StrataCircuitLayout lay;
    if (f) {
      strata_circuit_layout (cr, f, width, height, &lay);
      found = strata_circuit_hit (&lay, f, x, y, &hit->layer, &hit->position);
      hit->panel = found ? 0 : -1;
    }
  }
  cairo_destroy (cr);
  return found;
}

gboolean
strata_figure_get_plot_area (const StrataFigureInput *in, double width, double height, int panel,
                             double *x, double *y, double *w, double *h)
{
  if (!in->a)
    return FALSE;
  cairo_t *cr = strata_figure_scratch_cr ();
  gboolean ok = FALSE;
  if (is_heat (in->kind)) {
    g_autoptr (StrataHeatFigure) f = heat_data (in);
    StrataHeatLayout lay;
    if (f && panel >= 0 && panel < f->n_panels) {
      strata_heat_layout (cr, f, width, height, &lay);
      *x = lay.panel[panel].x;
      *y = lay.panel[panel].y;
      *w = lay.panel[panel].w;
      *h = lay.panel[panel].h;
      ok = TRUE;
    }
  } else if (in->kind == STRATA_FIGURE_TOKEN_CURVES) {
    g_autoptr (StrataCurveFigure) f = strata_figure_data_curves (in);
    StrataCurveLayout lay;
    if (f && panel == 0) {
      strata_curve_layout (cr, f, width, height, &lay);
      *x = lay.x, *y = lay.y, *w = lay.w, *h = lay.h;
      ok = TRUE;
    }
  } else if (in->kind == STRATA_FIGURE_CIRCUIT) {
    g_autoptr (StrataCircuitFigure) f = strata_figure_data_circuit (in);
    StrataCircuitLayout lay;
    if (f && panel == 0) {
      strata_circuit_layout (cr, f, width, height, &lay);
      *x = lay.x, *y = lay.y, *w = lay.w, *h = lay.h;
      ok = TRUE;
    }
  }
  cairo_destroy (cr);
  return ok;
}

/* Whether the input has anything to draw for its kind (exports refuse empty figures). */
gboolean
strata_figure_has_data (const StrataFigureInput *in)
{
  double x, y, w, h;
  return strata_figure_get_plot_area (in, STRATA_FIGURE_DEFAULT_WIDTH, STRATA_FIGURE_DEFAULT_HEIGHT, 0, &x, &y, &w, &h);
}

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

void
strata_figure_describe (const StrataFigureInput *in, char **title, char **description)
{
  g_autoptr (GString) s = g_string_new (NULL);
  char *t = NULL;
  if (in->a && is_heat (in->kind)) {
    g_autoptr (StrataHeatFigure) f = heat_data (in);
    if (f) {
      t = g_strdup (f->title);
      g_string_append_printf (s, "%s. Rows: %s; columns: %s; colour: %s.", f->caption, f->row_axis, f->col_axis,
                              f->scale_label);
      for (int p = 0; p < f->n_panels; p++) {
        if (f->panels[p]->title)
          g_string_append_printf (s, " Panel %s.", f->panels[p]->title);
        append_labels (s, "Row labels", f->panels[p]->row_labels);
        append_labels (s, "Column labels", f->panels[p]->col_labels);
        append_cell_text (s, f->panels[p]);
      }
    }
  } else if (in->a && in->kind == STRATA_FIGURE_TOKEN_CURVES) {
    g_autoptr (StrataCurveFigure) f = strata_figure_data_curves (in);
    if (f) {
      t = g_strdup (f->title);
      g_string_append_printf (s, "%s. x: %s; y: %s. Series:", f->caption, f->x_axis, f->y_axis);
      for (guint i = 0; i < f->series->len; i++) {
        const StrataSeries *se = g_ptr_array_index (f->series, i);
        gboolean any = FALSE;
        for (int k = 0; k < se->n && !any; k++)
          any = isfinite (se->y[k]);
        if (any)
          g_string_append_printf (s, "%s %s (resolution layer %d)", i ? "," : "", se->label, se->mark);
        else
          g_string_append_printf (s, "%s %s (no data at this position)", i ? "," : "", se->label);
      }
      g_string_append_c (s, '.');
    }
  } else if (in->a && in->kind == STRATA_FIGURE_CIRCUIT) {
    g_autoptr (StrataCircuitFigure) f = strata_figure_data_circuit (in);
    if (f) {
      t = g_strdup (f->title);
      g_string_append_printf (s, "%s. %u nodes, %u edges.", f->caption, f->circuit->nodes->len,
                              f->circuit->edges ? f->circuit->edges->len : 0);
      append_labels (s, "Positions", f->col_labels);
    }
  }
  if (!t) {
    t = g_strdup (empty_message (in->kind));
  } else {
    g_string_append_printf (s, " Selected layer %d, position %d, head %d.", in->view->layer, in->view->position,
                            in->view->head);
  }
  if (title)
    *title = t;
  else
    g_free (t);
  if (description)
    *description = g_string_free (g_steal_pointer (&s), FALSE);
}
