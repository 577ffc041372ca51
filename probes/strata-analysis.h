/* strata-analysis.h: everything one analysis of one checkpoint holds, and the view state.
 *
 * A session (saved to HDF5) is a list of analyses (two for a side-by-side comparison) plus
 * the view state. Every member is plain data: an analysis reopens and redraws without the
 * checkpoint. */
#pragma once

#include <glib.h>

#include "strata-circuit.h"
#include "strata-enum.h"
#include "strata-lens.h"
#include "strata-model.h"
#include "strata-patching.h"
#include "strata-prompt-set.h"
#include "strata-trace-resolution.h"

G_BEGIN_DECLS

/* The identity of the checkpoint an analysis ran on. */
typedef struct {
  char *path;            /* as given */
  char *name;
  char *arch;            /* "gpt2", "llama", ... */
  char *format;          /* strata_format_to_string() */
  char *dtype;           /* strata_dtype_to_string() */
  char *weights_sha256;
  char *tokenizer_sha256;/* "" when the model has no tokenizer */
  StrataConfig config;
  gboolean add_bos;
  char *device;          /* the backend that ran it, "cpu" or "cuda", followed by " (tf32
                          * products)" or " (bf16 products)" when not exact fp32; "" when not
                          * known (not run yet, or a session of format 1.3 or older) */
} StrataModelRef;

/* Attention pattern of one prompt: (L, H, T, T) [layer][head][query][key]. */
typedef struct {
  int n_layers, n_heads, T;
  float *pattern;
} StrataAttention;

typedef struct {
  StrataModelRef model;
  StrataPromptSet *prompts;     /* NULL when nothing was run */
  /* Lens: settings, one result per prompt (same order), aggregates over the set. */
  gboolean has_lens;
  StrataLensOptions lens_options; /* candidates owned here: lens_candidates */
  GArray *lens_candidates;      /* int32_t, or NULL */
  GPtrArray *lens_results;      /* StrataLensResult * */
  GPtrArray *lens_aggregates;   /* StrataLensAggregate * */
  /* Patching: one result per prompt that has a corrupted input, aggregates per tag. */
  GPtrArray *patch_results;     /* StrataPatchResult * */
  GPtrArray *patch_aggregates;  /* StrataPatchAggregate * */
  StrataCircuit *circuit;       /* of the first patched prompt, or NULL */
  StrataAttention *attention;   /* of the first prompt, or NULL */
} StrataAnalysis;

/* The figures of one checkpoint (the window's pages, STRATA_FIGURE_N of them), then those of
 * a series of checkpoints (strata-series.h), which read StrataFigureInput.series. */
typedef enum {
  STRATA_FIGURE_LENS_HEATMAP,
  STRATA_FIGURE_TOKEN_CURVES,
  STRATA_FIGURE_PATCH_HEATMAP,
  STRATA_FIGURE_CIRCUIT,
  STRATA_FIGURE_ATTENTION,
  STRATA_FIGURE_TRACE,                            /* position x layer: where generated targets are held */
  STRATA_FIGURE_N,                                /* the checkpoint figures */
  STRATA_FIGURE_SERIES_HEATMAP = STRATA_FIGURE_N, /* training step x layer: MRR or mean probability */
  STRATA_FIGURE_SERIES_ACCURACY,                  /* final-layer accuracy against training step */
  STRATA_FIGURE_SERIES_PATCH,                     /* training step x layer: patching score of one site */
  STRATA_FIGURE_N_ALL
} StrataFigureKind;

/* Names "lens", "curves", "patch", "circuit", "attention", "trace", "series", "accuracy",
 * "series-patch"; labels "Lens", "Curves", "Patching", ... (the window's figure switcher).
 * strata_checkpoint_figure_table is the same rows up to STRATA_FIGURE_N, the kinds of
 * `strata lens|patch --view` and of a session's `/view/figure`. */
extern const StrataEnumTable strata_figure_kind_table;
extern const StrataEnumTable strata_checkpoint_figure_table;

/* TRUE for the kinds drawn from a series (StrataFigureInput.series). */
#define STRATA_FIGURE_IS_SERIES(kind) ((kind) >= STRATA_FIGURE_N && (kind) < STRATA_FIGURE_N_ALL)

typedef enum {
  STRATA_CURVE_PROB,
  STRATA_CURVE_LOGPROB,
  STRATA_CURVE_RANK,
  STRATA_CURVE_MRR,
} StrataCurveQuantity;

/* Names "prob", "logprob", "rank", "mrr"; labels "probability", ... (the window's list). */
extern const StrataEnumTable strata_curve_quantity_table;

/* What the person is looking at; shared by every view (clicking a layer moves them all). */
typedef struct {
  StrataFigureKind figure;
  int analysis;          /* which analysis is primary */
  int prompt;            /* index into the prompt set */
  int layer;             /* residual point 0..L */
  int position;
  int head;
  char *target;          /* target name shown (NULL: the top-1 token) */
  char *tag;             /* prompt-set tag the aggregate curves read (NULL: "all") */
  StrataPatchSite patch_site;
  StrataCurveQuantity curve;
  gboolean log_color;    /* logarithmic color scale for probabilities */
  gboolean compare;      /* show analyses 0 and 1 side by side */
  /* Series figures: the selected checkpoint, as (training run, checkpoint index in step
   * order); -1 none. The series heatmap reads target, tag, position (an index, named by the
   * prompt set) and curve (STRATA_CURVE_PROB: mean probability, else MRR); the patching map
   * patch_site, tag, position (or head for head sites). */
  int run;
  int checkpoint;
  /* The trace figure: its K (topk 0 is read as 1) and which writing positions count. */
  StrataTraceOptions trace;
  /* The positions the position-axis figures show: [range_first, range_first + range_count);
   * range_count 0 (the zeroed default): the whole sequence. Figures clamp it to each
   * analysis' length. Saved in sessions from format 1.5. */
  int range_first;
  int range_count;
} StrataViewState;

StrataAnalysis *strata_analysis_new (StrataModel *model);
void strata_analysis_free (StrataAnalysis *a);
void strata_model_ref_clear (StrataModelRef *ref);
void strata_model_ref_copy (StrataModelRef *dst, const StrataModelRef *src);
void strata_attention_free (StrataAttention *att);
/* The attention pattern of every layer and head for one prompt (one forward pass). */
StrataAttention *strata_attention_run (StrataEngine *engine, const StrataPrompt *prompt, GError **error);
void strata_view_state_clear (StrataViewState *v);

/* When the checkpoint at the analysis' path exists but is not the one it was made with
 * (weights sha256 differ, or it no longer opens): a plain sentence saying so, newly
 * allocated. NULL when it matches or is absent (a session opens without its model). Reads
 * and hashes the whole weight file. */
char *strata_analysis_check_model (const StrataAnalysis *a);

/* strata_figure_kind_table's name of `kind`, and the kind a name stands for. */
const char *strata_figure_kind_to_string (StrataFigureKind kind);
gboolean strata_figure_kind_from_string (const char *s, StrataFigureKind *kind);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataAnalysis, strata_analysis_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataAttention, strata_attention_free)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (StrataViewState, strata_view_state_clear)

G_END_DECLS
