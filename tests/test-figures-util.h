/* test-figures-util.h: a figure drawn offscreen at the default size, and its pixels; for
 * test-figures.c and test-figures-series.c. */
#pragma once

#include <glib.h>

#include "strata-figure.h"

#define W STRATA_FIGURE_DEFAULT_WIDTH
#define H STRATA_FIGURE_DEFAULT_HEIGHT

static inline cairo_surface_t *
render (const StrataFigureInput *in)
{
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, (int) W, (int) H);
  cairo_t *cr = cairo_create (s);
  strata_figure_draw (cr, W, H, in);
  g_assert_cmpint (cairo_status (cr), ==, CAIRO_STATUS_SUCCESS);
  cairo_destroy (cr);
  cairo_surface_flush (s);
  return s;
}

/* The pixel at (x, y) as 0xRRGGBB. */
static inline guint32
pixel (cairo_surface_t *s, int x, int y)
{
  const unsigned char *d = cairo_image_surface_get_data (s);
  int stride = cairo_image_surface_get_stride (s);
  g_assert_true (x >= 0 && y >= 0 && x < cairo_image_surface_get_width (s) && y < cairo_image_surface_get_height (s));
  return *(const guint32 *) (d + y * stride + x * 4) & 0xffffff;
}
