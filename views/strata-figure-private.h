/* strata-figure-private.h: what the figure files share: normalised data, styling, text.
 *
 * Normalisation (strata-figure-data.c) turns an analysis into a StrataHeatFigure, a
 * StrataCurveFigure or a StrataCircuitFigure: plain values already mapped to [0, 1]
 * (sequential) or [-1, 1] (diverging), labels and captions. The draw files know nothing of
 * analyses; the data file knows nothing of cairo. */
#pragma once

#include <pango/pangocairo.h>

#include "strata-figure.h"

G_BEGIN_DECLS

/* ---- normalised data ---- */

typedef struct {
  int rows, cols;
  double *value;          /* (rows, cols): [0, 1], or [-1, 1] when diverging; NAN: no data */
  char **cell_text;       /* (rows * cols) or NULL; entries may be NULL */
  GPtrArray *row_labels;  /* char * (rows) */
  GPtrArray *col_labels;  /* char * (cols) */
  int sel_row, sel_col;   /* -1: none */
  char *title;            /* panel title (the checkpoint name when comparing), or NULL */
  /* Optional (cols): a row traced across the columns (the resolution layer of a series):
   * the row index, STRATA_TRACE_NEVER (marked above the column), or STRATA_TRACE_NONE. */
  int *trace;
} StrataGrid;

#define STRATA_TRACE_NEVER (-1)
#define STRATA_TRACE_NONE (-2)

typedef struct {
  char *title, *caption;
  char *row_axis, *col_axis;
  gboolean diverging;
  gboolean row0_bottom;       /* row 0 (the embedding) at the bottom, like a layer stack */
  char *scale_label;          /* colour bar label */
  double scale_min, scale_max;/* data values at the two ends of the colour bar */
  gboolean scale_log;         /* colour bar ticks are powers of ten */
  char *trace_label;          /* what the panels' trace is, for descriptions; NULL: none */
  int n_panels;
  StrataGrid *panels[2];
} StrataHeatFigure;

typedef struct {
  char *label;
  double *y;               /* (n) in axis units (NAN: missing) */
  int n;
  int color;               /* palette index */
  gboolean dashed;         /* second checkpoint */
  int mark;                /* resolution layer, -1 none */
  /* Optional, on a numeric x axis (StrataCurveFigure.x_numeric): the x of each point (n), and
   * what a hit on the point names: `group` (the training run) and item[i] (the checkpoint). */
  double *x;
  int group;
  int *item;
} StrataCurveSeries;

typedef struct {
  char *title, *caption, *x_axis, *y_axis;
  int n_layers;            /* x runs 0..n_layers (unless x_numeric) */
  gboolean x_numeric;      /* x runs x_min..x_max (training steps); points at series' x */
  double x_min, x_max;
  double y_min, y_max;     /* axis range; y_min may be > y_max (rank: best at the top) */
  gboolean y_log10;        /* tick labels are 10^y */
  int sel_layer;
  double sel_x;            /* x_numeric: the selected x (a rule is drawn there); NAN none */
  GPtrArray *series;       /* StrataCurveSeries * */
} StrataCurveFigure;

typedef struct {
  char *title, *caption;
  const StrataCircuit *circuit;
  GPtrArray *col_labels;   /* char * (T) */
  double max_effect;       /* for scaling node sizes and edge widths */
  int n_heads;             /* head columns drawn beside the positions (0: none) */
  int sel_layer, sel_pos;
} StrataCircuitFigure;

StrataGrid *strata_grid_new (int rows, int cols, gboolean with_text);
void strata_grid_free (StrataGrid *g);
void strata_heat_figure_free (StrataHeatFigure *f);
void strata_curve_figure_free (StrataCurveFigure *f);
void strata_circuit_figure_free (StrataCircuitFigure *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataHeatFigure, strata_heat_figure_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataCurveFigure, strata_curve_figure_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataCircuitFigure, strata_circuit_figure_free)

/* NULL when the input holds nothing for that figure. */
StrataHeatFigure *strata_figure_data_lens (const StrataFigureInput *in);
StrataHeatFigure *strata_figure_data_patch (const StrataFigureInput *in);
StrataHeatFigure *strata_figure_data_attention (const StrataFigureInput *in);
StrataCurveFigure *strata_figure_data_curves (const StrataFigureInput *in);
StrataCircuitFigure *strata_figure_data_circuit (const StrataFigureInput *in);
/* strata-figure-series.c */
StrataHeatFigure *strata_figure_data_series (const StrataFigureInput *in);
StrataHeatFigure *strata_figure_data_series_patch (const StrataFigureInput *in);
StrataCurveFigure *strata_figure_data_series_accuracy (const StrataFigureInput *in);
/* The checkpoint of run `run` shown in column `col` of a series heat figure (columns are a
 * run's checkpoints in step order), or NULL. */
const StrataSeriesCheckpoint *strata_figure_series_checkpoint (const StrataFigureInput *in, int run, int col);
/* Shared by the data files. */
char *strata_figure_visible (const char *s);
/* Captions name the device that ran (a model record's `device`): append it to the list
 * `devices` (", " between) unless it is unknown ("" or NULL) or already there. A caption then
 * adds " · LIST" after the model names: " · cpu", or " · cpu, cuda" for mixed records. */
void strata_figure_note_device (GString *devices, const char *device);
/* A probability on the colour scale: [0, 1] linear, or log10 from 1e-4 to 1 (log_color). */
double strata_figure_prob_to_unit (double p, gboolean log_color);
/* The colour bar of probabilities: linear 0..1 or powers of ten 1e-4..1. */
void strata_figure_set_prob_scale (StrataHeatFigure *f, const StrataViewState *v);
void strata_curve_series_free (gpointer series);

/* The lens result the view selects in `a` (prompt clamped), or NULL. */
const StrataLensResult *strata_figure_data_lens_result (const StrataAnalysis *a, const StrataViewState *v);
const StrataPatchResult *strata_figure_data_patch_result (const StrataAnalysis *a, const StrataViewState *v);
/* Position the view reads at: v->position when valid, else the last position. */
int strata_figure_data_position (const StrataViewState *v, int T);

/* ---- drawing ---- */

typedef enum {
  STRATA_FONT_TITLE,
  STRATA_FONT_LABEL,
  STRATA_FONT_TICK,
  STRATA_FONT_CELL,
  STRATA_FONT_CAPTION,
  STRATA_FONT_BOLD_TICK,
} StrataFont;

typedef struct { double r, g, b; } StrataRgb;

extern const StrataRgb strata_style_text, strata_style_muted, strata_style_axis, strata_style_grid,
  strata_style_background, strata_style_highlight, strata_style_nodata;
StrataRgb strata_style_series (int i);
void strata_style_set (cairo_t *cr, StrataRgb c, double alpha);

/* Draw `text` with its box aligned at (x, y) (xalign/yalign 0 = left/top, 0.5 centre, 1
 * right/bottom); `max_width` > 0 ellipsizes. Returns the width drawn. */
double strata_text_draw (cairo_t *cr, StrataFont font, const char *text, double x, double y,
                         double xalign, double yalign, double max_width);
/* Same, rotated 90 degrees counter-clockwise (vertical axis titles); (x, y) is the centre. */
void strata_text_draw_vertical (cairo_t *cr, StrataFont font, const char *text, double x, double y);
void strata_text_size (cairo_t *cr, StrataFont font, const char *text, double *w, double *h);
double strata_text_height (cairo_t *cr, StrataFont font);

/* Title at the top, caption at the bottom; shrink *area to what lies between. */
void strata_frame_draw (cairo_t *cr, double width, double height, const char *title,
                        const char *caption, double *x, double *y, double *w, double *h,
                        gboolean paint);
void strata_figure_draw_empty (cairo_t *cr, double width, double height, const char *message);

/* Heat figures: layout, draw, hit. */
typedef struct {
  double x, y, w, h;     /* cell area */
  double cell_w, cell_h;
} StrataPanelRect;

typedef struct {
  int n_panels;
  StrataPanelRect panel[2];
  double bar_x, bar_y, bar_w, bar_h;  /* colour bar */
  double col_label_rot;               /* 0 or the angle column labels are drawn at */
  double spare_h;                     /* height left unused below the cells (cells at their cap) */
  double band;                        /* above the cells, for a trace's "never" marks (0: none) */
} StrataHeatLayout;

void strata_heat_layout (cairo_t *cr, const StrataHeatFigure *f, double width, double height,
                         StrataHeatLayout *lay);
void strata_heat_draw (cairo_t *cr, const StrataHeatFigure *f, double width, double height);
gboolean strata_heat_hit (const StrataHeatLayout *lay, const StrataHeatFigure *f, double x,
                          double y, int *panel, int *row, int *col);

typedef struct {
  double x, y, w, h;     /* plot area */
  double legend_x, legend_y;
} StrataCurveLayout;

void strata_curve_layout (cairo_t *cr, const StrataCurveFigure *f, double width, double height,
                          StrataCurveLayout *lay);
void strata_curve_draw (cairo_t *cr, const StrataCurveFigure *f, double width, double height);
int strata_curve_hit (const StrataCurveLayout *lay, const StrataCurveFigure *f, double x, double y);
/* On a numeric x axis: the point nearest (x, y) within a few units, as series and point
 * index; FALSE when none is near. */
gboolean strata_curve_hit_point (const StrataCurveLayout *lay, const StrataCurveFigure *f, double x, double y,
                                 int *series, int *point);

typedef struct {
  double x, y, w, h;     /* node area */
  double col_w, row_h;
} StrataCircuitLayout;

void strata_circuit_layout (cairo_t *cr, const StrataCircuitFigure *f, double width, double height,
                            StrataCircuitLayout *lay);
void strata_circuit_draw (cairo_t *cr, const StrataCircuitFigure *f, double width, double height);
gboolean strata_circuit_hit (const StrataCircuitLayout *lay, const StrataCircuitFigure *f, double x,
                             double y, int *layer, int *pos);

/* A scratch cairo context for measuring text when no drawing surface is at hand. */
cairo_t *strata_figure_scratch_cr (void);

G_END_DECLS
