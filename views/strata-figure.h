/* strata-figure.h: every figure Strata shows, drawn by one pure cairo function.
 *
 * The window, the CLI (`strata lens --figure`, `strata export`) and the tests all call
 * strata_figure_draw(); nothing here needs GTK or a display, only cairo and Pango. Drawing
 * is split Sysprof-style: strata-figure-data.c turns analyses into normalised grids and
 * series (values in [0, 1] or [-1, 1], labels); the draw files lay them out and paint them.
 *
 * Coordinates are cairo user units: pixels on screen and in PNG (times the scale), points
 * in SVG and PDF. */
#pragma once

#include <cairo.h>
#include <glib.h>

#include "strata-analysis.h"
#include "strata-series.h"

G_BEGIN_DECLS

typedef struct {
  StrataFigureKind kind;
  const StrataAnalysis *a;       /* primary checkpoint; may be NULL (an empty figure) */
  const StrataAnalysis *b;       /* second checkpoint when comparing, else NULL */
  /* The series the series figures (STRATA_FIGURE_IS_SERIES) draw, or NULL. Checkpoints not
   * yet done draw as empty columns, so a series filling in on another thread can be drawn
   * at any time (strata-series.h says what may be read while it runs). */
  const StrataSeries *series;
  const StrataViewState *view;   /* selection and options; never NULL */
  /* Optional: the text of a vocabulary token of analysis `a` (its model's tokenizer, when
   * loaded; NULL when unknown). Without it, tokens are named from the prompt pieces and
   * target names, else written "#id". */
  const char *(*token_text) (gpointer data, const StrataAnalysis *a, int32_t id);
  gpointer token_data;
} StrataFigureInput;

/* What lies under a point of the figure. Fields not applicable are -1. */
typedef struct {
  int panel;      /* 0: analysis a, 1: analysis b; series figures: the training run */
  int layer;      /* residual point (lens, curves, circuit, series) or block (patching, attention
                   * row, series patching) */
  int position;
  int head;
  int checkpoint; /* series figures: index of the checkpoint in the run (step order) */
  gint64 step;    /* series figures: its training step */
  /* The point is on the overview strip of a figure cropped to a position range: `position`
   * is the one under it in the whole sequence (the window moves there; nothing is selected). */
  gboolean overview;
} StrataFigureHit;

/* What activating checkpoint `checkpoint` of training run `run` of a series figure opens (the
 * window, on a click or Return): the checkpoint, and in *open_layer the residual point to
 * show: `layer` when >= 0 (the heat maps' row), else the checkpoint's last (the accuracy
 * curve reads the final layer), or -1 for a checkpoint not run yet. NULL when the input
 * has no such checkpoint. */
const StrataSeriesCheckpoint *strata_figure_series_pick (const StrataFigureInput *in, int run, int checkpoint,
                                                         int layer, int *open_layer);

/* Default size of an exported figure, in points (PDF/SVG) or pixels at scale 1 (PNG). */
#define STRATA_FIGURE_DEFAULT_WIDTH 880.0
#define STRATA_FIGURE_DEFAULT_HEIGHT 560.0

void strata_figure_draw (cairo_t *cr, double width, double height, const StrataFigureInput *in);

/* Map a point (same units as the draw) to the cell, layer or node under it. FALSE when the
 * point is outside every data area. */
gboolean strata_figure_hit_test (const StrataFigureInput *in, double width, double height,
                                 double x, double y, StrataFigureHit *hit);

/* The plot rectangle of panel `panel` (the area holding the cells or the curves), for tests
 * and for widgets that draw on top. FALSE when the figure has no such panel. */
gboolean strata_figure_get_plot_area (const StrataFigureInput *in, double width, double height,
                                      int panel, double *x, double *y, double *w, double *h);

/* Write the figure to `path`: PNG (an image `scale` times the size), SVG or PDF by the
 * extension. Written to a temporary file beside `path` and renamed over it, so a failure
 * never leaves a partial file. */
gboolean strata_figure_export (const char *path, double width, double height, double scale,
                               const StrataFigureInput *in, GError **error);

/* The height (<= `height`) at which the figure's content fills it with no empty band: a
 * heatmap whose cells reach their largest size leaves space at `height`. Exports use it
 * unless the person asks for a height. */
double strata_figure_fit_height (const StrataFigureInput *in, double width, double height);

/* FALSE when the input holds nothing for its kind (the figure would only say so). */
gboolean strata_figure_has_data (const StrataFigureInput *in);

/* Readable text of a token: the tokenizer, the prompt pieces, target names, else "#id";
 * spaces and control characters made visible. Newly allocated. */
char *strata_figure_token_text (const StrataFigureInput *in, const StrataAnalysis *a, int32_t id);

/* The figure's title, and a plain-text description (caption, axes, row and column labels),
 * for SVG <title>/<desc> and for accessibility. Either may be NULL. */
void strata_figure_describe (const StrataFigureInput *in, char **title, char **description);

/* For the CLI: one analysis, or two side by side (`b` non-NULL and v->compare), at the
 * default width and the height fitted to the content. */
gboolean strata_figure_export_analysis (const StrataAnalysis *a, const StrataAnalysis *b, StrataFigureKind kind,
                                        const StrataViewState *v, const char *path, double scale, GError **error);

/* A position range "A:B" (half-open, 0-based; "A:" and ":B" run to an end) of a sequence of
 * `n_positions`: *first and *count, or FALSE with an error that says what is wrong and gives
 * the sequence length (callers prefix the option's or field's name). */
gboolean strata_figure_parse_range (const char *text, int n_positions, int *first, int *count, GError **error);

/* The length of the figure's axis of positions in the whole sequence (the primary
 * analysis' panel), what a range is checked against; 0 when the figure has no such axis or
 * nothing to draw. */
int strata_figure_n_positions (const StrataFigureInput *in);

/* For tests: every text a figure draws is reported to `func` with its ink box in device
 * units (after any rotation), as it is drawn. NULL stops reporting. Not thread-safe. */
typedef void (*StrataFigureTextFunc) (const char *text, double x0, double y0, double x1, double y1, gpointer data);
void strata_figure_set_text_observer (StrataFigureTextFunc func, gpointer data);

/* The older spelling of strata_figure_kind_to_string() (probes/strata-analysis.h). */
#define strata_figure_kind_name(kind) strata_figure_kind_to_string (kind)

/* Colour maps, exposed so tests can check pixels against them. Components in [0, 1]. */
void strata_colormap_sequential (double t, double *r, double *g, double *b);  /* t in [0, 1] */
void strata_colormap_diverging (double t, double *r, double *g, double *b);   /* t in [-1, 1] */

#define STRATA_FIGURE_ERROR (strata_figure_error_quark ())
GQuark strata_figure_error_quark (void);
typedef enum {
  STRATA_FIGURE_ERROR_FORMAT,  /* unknown extension */
  STRATA_FIGURE_ERROR_WRITE,
  STRATA_FIGURE_ERROR_EMPTY,   /* nothing to draw for this figure */
  STRATA_FIGURE_ERROR_RANGE,   /* a position range that is not A:B inside the sequence */
} StrataFigureError;

G_END_DECLS
