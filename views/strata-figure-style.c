/* strata-figure-style.c: colours, colour maps and Pango text shared by every figure. */
#include <math.h>

#include "strata-figure-private.h"

G_DEFINE_QUARK (strata-figure-error-quark, strata_figure_error)

/* GNOME HIG palette, so figures sit well beside the window. */
const StrataRgb strata_style_text = { 0.14, 0.12, 0.19 };       /* dark 4 */
const StrataRgb strata_style_muted = { 0.37, 0.36, 0.39 };      /* dark 1 */
const StrataRgb strata_style_axis = { 0.60, 0.60, 0.59 };       /* light 5 */
const StrataRgb strata_style_grid = { 0.87, 0.87, 0.85 };       /* light 3 */
const StrataRgb strata_style_background = { 1.0, 1.0, 1.0 };
const StrataRgb strata_style_highlight = { 0.90, 0.38, 0.0 };   /* orange 4 */
const StrataRgb strata_style_nodata = { 0.94, 0.93, 0.92 };

/* Six strong colours, then six lighter ones of other hues, so the trace figure tells a dozen
 * targets apart before colours repeat. */
static const StrataRgb series_palette[] = {
  { 0.11, 0.44, 0.85 },  /* blue 4 */
  { 0.90, 0.38, 0.0 },   /* orange 4 */
  { 0.15, 0.64, 0.41 },  /* green 5 */
  { 0.51, 0.24, 0.61 },  /* purple 3 */
  { 0.75, 0.11, 0.16 },  /* red 4 */
  { 0.53, 0.37, 0.24 },  /* brown 3 */
  { 0.90, 0.65, 0.04 },  /* yellow 5 */
  { 0.38, 0.63, 0.92 },  /* blue 2 */
  { 0.20, 0.82, 0.48 },  /* green 3 */
  { 0.86, 0.54, 0.87 },  /* purple 1 */
  { 0.80, 0.67, 0.56 },  /* brown 1 */
  { 0.37, 0.36, 0.39 },  /* dark 1 */
};

StrataRgb
strata_style_series (int i)
{
  return series_palette[(guint) i % G_N_ELEMENTS (series_palette)];
}

void
strata_style_set (cairo_t *cr, StrataRgb c, double alpha)
{
  cairo_set_source_rgba (cr, c.r, c.g, c.b, alpha);
}

/* Piecewise-linear maps through a few stops. The sequential map runs from near-white to a
 * deep blue with monotone lightness, so probability reads the same in grey print. */
static const double seq_stops[][3] = {
  { 0.969, 0.973, 0.984 },
  { 0.776, 0.859, 0.937 },
  { 0.420, 0.682, 0.839 },
  { 0.129, 0.443, 0.710 },
  { 0.031, 0.188, 0.420 },
};
/* Blue (negative) - white (zero) - red (positive). */
static const double div_stops[][3] = {
  { 0.129, 0.400, 0.675 },
  { 0.573, 0.773, 0.871 },
  { 0.969, 0.969, 0.969 },
  { 0.957, 0.647, 0.510 },
  { 0.698, 0.094, 0.169 },
};

static void
interp (const double (*stops)[3], int n, double t, double *r, double *g, double *b)
{
  if (!(t >= 0.0))
    t = 0.0;
  if (t > 1.0)
    t = 1.0;
  double x = t * (n - 1);
  int i = (int) floor (x);
  if (i >= n - 1)
    i = n - 2;
  double f = x - i;
  *r = stops[i][0] + f * (stops[i + 1][0] - stops[i][0]);
  *g = stops[i][1] + f * (stops[i + 1][1] - stops[i][1]);
  *b = stops[i][2] + f * (stops[i + 1][2] - stops[i][2]);
}

void
strata_colormap_sequential (double t, double *r, double *g, double *b)
{
  interp (seq_stops, G_N_ELEMENTS (seq_stops), t, r, g, b);
}

void
strata_colormap_diverging (double t, double *r, double *g, double *b)
{
  interp (div_stops, G_N_ELEMENTS (div_stops), (t + 1.0) / 2.0, r, g, b);
}

static const char *
font_name (StrataFont font)
{
  switch (font) {
  case STRATA_FONT_TITLE: return "DejaVu Sans Bold 12";
  case STRATA_FONT_LABEL: return "DejaVu Sans 9.5";
  case STRATA_FONT_TICK: return "DejaVu Sans 8.5";
  case STRATA_FONT_BOLD_TICK: return "DejaVu Sans Bold 8.5";
  case STRATA_FONT_CELL: return "DejaVu Sans Condensed 8";
  case STRATA_FONT_CAPTION: return "DejaVu Sans 8.5";
  default: return "DejaVu Sans 9";
  }
}

/* Sizes in cairo units, whatever the surface's resolution: 1 pt = 1 unit. */
static PangoLayout *
make_layout (cairo_t *cr, StrataFont font, const char *text)
{
  PangoLayout *layout = pango_cairo_create_layout (cr);
  pango_cairo_context_set_resolution (pango_layout_get_context (layout), 72.0);
  PangoFontDescription *desc = pango_font_description_from_string (font_name (font));
  pango_layout_set_font_description (layout, desc);
  pango_font_description_free (desc);
  pango_layout_set_text (layout, text ? text : "", -1);
  return layout;
}

void
strata_text_size (cairo_t *cr, StrataFont font, const char *text, double *w, double *h)
{
  g_autoptr (PangoLayout) layout = make_layout (cr, font, text);
  int pw, ph;
  pango_layout_get_size (layout, &pw, &ph);
  if (w)
    *w = (double) pw / PANGO_SCALE;
  if (h)
    *h = (double) ph / PANGO_SCALE;
}

double
strata_text_height (cairo_t *cr, StrataFont font)
{
  double h;
  strata_text_size (cr, font, "Ag", NULL, &h);
  return h;
}

static StrataFigureTextFunc text_observer;
static gpointer text_observer_data;

void
strata_figure_set_text_observer (StrataFigureTextFunc func, gpointer data)
{
  text_observer = func;
  text_observer_data = data;
}

/* Report a layout about to be shown at the current point to the test observer: its ink
 * box's four corners in device units, so rotated labels report where they really land. */
static void
observe_layout (cairo_t *cr, PangoLayout *layout)
{
  if (!text_observer)
    return;
  PangoRectangle ink;
  pango_layout_get_extents (layout, &ink, NULL);
  double ox, oy;
  cairo_get_current_point (cr, &ox, &oy);
  double x0 = G_MAXDOUBLE, y0 = G_MAXDOUBLE, x1 = -G_MAXDOUBLE, y1 = -G_MAXDOUBLE;
  for (int corner = 0; corner < 4; corner++) {
    double x = ox + (double) (ink.x + (corner & 1 ? ink.width : 0)) / PANGO_SCALE;
    double y = oy + (double) (ink.y + (corner & 2 ? ink.height : 0)) / PANGO_SCALE;
    cairo_user_to_device (cr, &x, &y);
    x0 = MIN (x0, x), y0 = MIN (y0, y), x1 = MAX (x1, x), y1 = MAX (y1, y);
  }
  text_observer (pango_layout_get_text (layout), x0, y0, x1, y1, text_observer_data);
}

double
strata_text_draw (cairo_t *cr, StrataFont font, const char *text, double x, double y,
                  double xalign, double yalign, double max_width)
{
  g_autoptr (PangoLayout) layout = make_layout (cr, font, text);
  if (max_width > 0) {
    pango_layout_set_width (layout, (int) (max_width * PANGO_SCALE));
    pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_END);
  }
  int pw, ph;
  pango_layout_get_size (layout, &pw, &ph);
  double w = (double) pw / PANGO_SCALE, h = (double) ph / PANGO_SCALE;
  cairo_save (cr);
  cairo_move_to (cr, x - xalign * w, y - yalign * h);
  observe_layout (cr, layout);
  pango_cairo_show_layout (cr, layout);
  cairo_new_path (cr); /* no current point left for the next arc to connect from */
  cairo_restore (cr);
  return w;
}

void
strata_text_draw_vertical (cairo_t *cr, StrataFont font, const char *text, double x, double y)
{
  cairo_save (cr);
  cairo_translate (cr, x, y);
  cairo_rotate (cr, -G_PI / 2);
  strata_text_draw (cr, font, text, 0, 0, 0.5, 0.5, 0);
  cairo_restore (cr);
}

void
strata_frame_draw (cairo_t *cr, double width, double height, const char *title,
                   const char *caption, double *x, double *y, double *w, double *h,
                   gboolean paint)
{
  const double pad = 14.0;
  double top = pad, bottom = height - pad;
  if (title) {
    double th = strata_text_height (cr, STRATA_FONT_TITLE);
    if (paint) {
      strata_style_set (cr, strata_style_text, 1.0);
      strata_text_draw (cr, STRATA_FONT_TITLE, title, pad, top, 0, 0, width - 2 * pad);
    }
    top += th + 8;
  }
  if (caption) {
    /* The caption wraps: model, metric and prompt can be long. */
    g_autoptr (PangoLayout) layout = make_layout (cr, STRATA_FONT_CAPTION, caption);
    pango_layout_set_width (layout, (int) ((width - 2 * pad) * PANGO_SCALE));
    pango_layout_set_wrap (layout, PANGO_WRAP_WORD_CHAR);
    int pw, ph;
    pango_layout_get_size (layout, &pw, &ph);
    double ch = (double) ph / PANGO_SCALE;
    bottom -= ch;
    if (paint) {
      strata_style_set (cr, strata_style_muted, 1.0);
      cairo_move_to (cr, pad, bottom);
      observe_layout (cr, layout);
      pango_cairo_show_layout (cr, layout);
      cairo_new_path (cr);
    }
    bottom -= 8;
  }
  *x = pad;
  *y = top;
  *w = MAX (width - 2 * pad, 1);
  *h = MAX (bottom - top, 1);
}

void
strata_figure_draw_empty (cairo_t *cr, double width, double height, const char *message)
{
  strata_style_set (cr, strata_style_background, 1.0);
  cairo_paint (cr);
  strata_style_set (cr, strata_style_muted, 1.0);
  strata_text_draw (cr, STRATA_FONT_LABEL, message, width / 2, height / 2, 0.5, 0.5, width - 20);
}

cairo_t *
strata_figure_scratch_cr (void)
{
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, 1, 1);
  cairo_t *cr = cairo_create (s);
  cairo_surface_destroy (s);
  return cr;
}
