/* strata-figure-range.c: long sequences in the heat figures. The view's position range
 * (StrataViewState.range_first/range_count) crops every axis of positions to a window
 * that reads at a useful cell width, and the panel keeps one row of the whole sequence as an
 * overview strip with the window marked. Labels of a dense axis follow one stride rule. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strata-figure-private.h"

gboolean
strata_figure_parse_range (const char *text, int n_positions, int *first, int *count, GError **error)
{
  const char *colon = text ? strchr (text, ':') : NULL;
  if (!colon)
    return g_set_error (error, STRATA_FIGURE_ERROR, STRATA_FIGURE_ERROR_RANGE,
                        "'%s' is not a range A:B (half-open, 0-based, e.g. 0:%d)", text ? text : "",
                        MIN (n_positions, 64)), FALSE;
  /* A bound left out is the start or the end of the sequence ("100:", ":50"). */
  g_autofree char *a_text = g_strstrip (g_strndup (text, (gsize) (colon - text)));
  g_autofree char *b_text = g_strstrip (g_strdup (colon + 1));
  gint64 a = 0, b = n_positions;
  if ((*a_text && !g_ascii_string_to_signed (a_text, 10, 0, G_MAXINT, &a, NULL))
      || (*b_text && !g_ascii_string_to_signed (b_text, 10, 0, G_MAXINT, &b, NULL)))
    return g_set_error (error, STRATA_FIGURE_ERROR, STRATA_FIGURE_ERROR_RANGE,
                        "'%s' is not a range A:B of non-negative whole numbers", text), FALSE;
  if (a >= b)
    return g_set_error (error, STRATA_FIGURE_ERROR, STRATA_FIGURE_ERROR_RANGE,
                        "range %s holds no position: A:B needs A < B", text), FALSE;
  if (b > n_positions)
    return g_set_error (error, STRATA_FIGURE_ERROR, STRATA_FIGURE_ERROR_RANGE,
                        "range %s is outside the sequence of %d positions: it needs 0 <= A < B <= %d", text,
                        n_positions, n_positions), FALSE;
  *first = (int) a;
  *count = (int) (b - a);
  return TRUE;
}

int
strata_label_stride (double cell, double pitch)
{
  static const int steps[] = { 1, 2, 5 };
  for (int decade = 1; decade <= 100000000; decade *= 10)
    for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
      if (steps[i] * decade * cell >= pitch)
        return steps[i] * decade;
  return 1000000000;
}

gboolean
strata_label_shown (int p, int selected, int stride)
{
  if (p == selected)
    return TRUE;
  return p % stride == 0 && (selected < 0 || abs (p - selected) >= stride);
}

/* The window [first, first + count) of a grid `n` positions long, or FALSE when the view
 * shows it all. */
static gboolean
window_of (const StrataViewState *v, int n, int *first, int *count)
{
  if (v->range_count <= 0 || n <= 0)
    return FALSE;
  *first = CLAMP (v->range_first, 0, n - 1);
  *count = CLAMP (v->range_count, 1, n - *first);
  return *count < n;
}

/* Keep columns [first, first + count) of every row. */
static void
crop_cols (StrataGrid *g, int first, int count)
{
  double *value = g_new (double, (gsize) g->rows * count);
  char **text = g->cell_text ? g_new0 (char *, (gsize) g->rows * count) : NULL;
  for (int i = 0; i < g->rows; i++)
    for (int j = 0; j < g->cols; j++) {
      gsize from = (gsize) i * g->cols + j, to = (gsize) i * count + (j - first);
      gboolean kept = j >= first && j < first + count;
      if (kept)
        value[to] = g->value[from];
      if (text && kept)
        text[to] = g_steal_pointer (&g->cell_text[from]);
      else if (text)
        g_free (g->cell_text[from]);
    }
  g_free (g->value);
  g_free (g->cell_text);
  g->value = value;
  g->cell_text = text;
  g_ptr_array_remove_range (g->col_labels, first + count, g->col_labels->len - (first + count));
  g_ptr_array_remove_range (g->col_labels, 0, first);
  if (g->trace) {
    int *trace = g_memdup2 (g->trace + first, sizeof (int) * count);
    g_free (g->trace);
    g->trace = trace;
  }
  if (g->col_mark) {
    int *mark = g_memdup2 (g->col_mark + first, sizeof (int) * count);
    g_free (g->col_mark);
    g->col_mark = mark;
  }
  for (guint i = 0; g->outlined && i < g->outlined->len;) {
    StrataGridCell *c = &g_array_index (g->outlined, StrataGridCell, i);
    if (c->col >= first && c->col < first + count)
      c->col -= first, i++;
    else
      g_array_remove_index (g->outlined, i);
  }
  g->sel_col = g->sel_col >= first && g->sel_col < first + count ? g->sel_col - first : -1;
  /* The boundary stays where it is in the sequence: drawn only when it falls inside. */
  g->first_generated_col = g->first_generated_col > first ? g->first_generated_col - first : 0;
  g->col_offset = first;
  g->cols = count;
}

/* Keep rows [first, first + count) (attention: the query positions). */
static void
crop_rows (StrataGrid *g, int first, int count)
{
  gsize keep = (gsize) count * g->cols, skip = (gsize) first * g->cols;
  memmove (g->value, g->value + skip, keep * sizeof (double));
  if (g->cell_text) {
    for (gsize i = 0; i < (gsize) g->rows * g->cols; i++)
      if (i < skip || i >= skip + keep)
        g_free (g->cell_text[i]);
    memmove (g->cell_text, g->cell_text + skip, keep * sizeof (char *));
  }
  g_ptr_array_remove_range (g->row_labels, first + count, g->row_labels->len - (first + count));
  g_ptr_array_remove_range (g->row_labels, 0, first);
  g->sel_row = g->sel_row >= first && g->sel_row < first + count ? g->sel_row - first : -1;
  g->row_offset = first;
  g->rows = count;
}

/* The row the strip shows: the selected one (the lens: the target's or the top-1's
 * probability at the selected layer), else the final layer of a layer stack. */
static void
keep_overview (StrataGrid *g, gboolean row0_bottom)
{
  int row = g->sel_row >= 0 ? g->sel_row : row0_bottom ? g->rows - 1 : 0;
  g->n_overview = g->cols;
  g->overview = g_memdup2 (g->value + (gsize) row * g->cols, sizeof (double) * g->cols);
}

void
strata_heat_figure_apply_range (StrataHeatFigure *f, const StrataViewState *v)
{
  for (int p = 0; p < f->n_panels; p++) {
    StrataGrid *g = f->panels[p];
    int first, count;
    /* A square attention map crops its query rows first: the strip reads the selected
     * query's row over every key. */
    if (f->row_positions && window_of (v, g->rows, &first, &count))
      crop_rows (g, first, count);
    if (f->col_positions && window_of (v, g->cols, &first, &count)) {
      /* The axis says which positions these are: its labels are tokens, not numbers. */
      if (p == 0 && f->col_axis) {
        char *axis = g_strdup_printf ("%s %d\xe2\x80\x93%d of %d", f->col_axis, first, first + count - 1, g->cols);
        g_free (f->col_axis);
        f->col_axis = axis;
      }
      keep_overview (g, f->row0_bottom);
      crop_cols (g, first, count);
    }
  }
}
