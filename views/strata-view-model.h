/* strata-view-model.h: the one view state every widget binds to.
 *
 * Holds the analyses being shown (one, or two when comparing checkpoints) and a
 * StrataViewState. Any change emits "changed"; selecting a layer in one view moves them all. */
#pragma once

#include <glib-object.h>

#include "strata-figure.h"

G_BEGIN_DECLS

#define STRATA_TYPE_VIEW_MODEL (strata_view_model_get_type ())
G_DECLARE_FINAL_TYPE (StrataViewModel, strata_view_model, STRATA, VIEW_MODEL, GObject)

typedef const char *(*StrataTokenTextFunc) (gpointer data, const StrataAnalysis *a, int32_t id);

StrataViewModel *strata_view_model_new (void);

/* Takes `analysis` (freed with `free_func`); NULL clears slot `index` (0 or 1). */
void strata_view_model_set_analysis (StrataViewModel *self, int index, StrataAnalysis *analysis,
                                     GDestroyNotify free_func);
StrataAnalysis *strata_view_model_get_analysis (StrataViewModel *self, int index);
/* Removes the analysis from the model without freeing it. */
StrataAnalysis *strata_view_model_steal_analysis (StrataViewModel *self, int index);
void strata_view_model_set_token_text (StrataViewModel *self, StrataTokenTextFunc func, gpointer data);

const StrataViewState *strata_view_model_get_state (StrataViewModel *self);
/* Copies `state` (target string included). */
void strata_view_model_set_state (StrataViewModel *self, const StrataViewState *state);

/* Residual points of the primary analysis' lens: layers run 0..max. -1 without a result.
 * While a series figure is the state's figure and a series is set: those of the series'
 * deepest checkpoint done, and the positions of its prompt set's first prompt. */
int strata_view_model_get_max_layer (StrataViewModel *self);
/* Positions of the selected prompt (0 when none). */
int strata_view_model_get_n_positions (StrataViewModel *self);

void strata_view_model_set_layer (StrataViewModel *self, int layer);   /* clamped */
int strata_view_model_get_layer (StrataViewModel *self);
void strata_view_model_set_position (StrataViewModel *self, int position);
void strata_view_model_set_head (StrataViewModel *self, int head);

/* The visible position range of the position-axis figures (StrataViewState.range_first,
 * range_count): clamped to the selected prompt's positions; one covering them all is stored
 * as "all" (count 0). The selection stays in view: a range set (or scrolled) away from it
 * takes the selection along to its nearest end, and a position selected outside the range
 * moves the range by the least amount. */
void strata_view_model_set_range (StrataViewModel *self, int first, int count);
/* The range as shown: [*first, *first + *count), the whole sequence when none is set. */
void strata_view_model_get_range (StrataViewModel *self, int *first, int *count);
/* Zoom by `factor` (< 1: fewer positions, wider cells) keeping position `anchor` at the same
 * place in the window (-1: the selected position, else the centre). */
void strata_view_model_zoom (StrataViewModel *self, double factor, int anchor);
/* Move the range by `delta` positions; it stops at either end. */
void strata_view_model_scroll_range (StrataViewModel *self, int delta);
/* Centre the range on `position` (the overview strip's click and drag). */
void strata_view_model_center_range (StrataViewModel *self, int position);
/* The first position at or after `from` (wrapping round to 0) where `query` occurs in the
 * decoded sequence (the selected prompt's pieces joined; case-insensitive): the position
 * whose piece holds the match's first byte. -1 when it does not occur. */
int strata_view_model_find (StrataViewModel *self, const char *query, int from);
void strata_view_model_set_figure (StrataViewModel *self, StrataFigureKind figure);
void strata_view_model_set_target (StrataViewModel *self, const char *target);
/* Prompt-set tag of the aggregate (MRR) curves; NULL or "all": every prompt. */
void strata_view_model_set_tag (StrataViewModel *self, const char *tag);
void strata_view_model_set_patch_site (StrataViewModel *self, StrataPatchSite site);
void strata_view_model_set_curve (StrataViewModel *self, StrataCurveQuantity curve);
void strata_view_model_set_log_color (StrataViewModel *self, gboolean log_color);
void strata_view_model_set_compare (StrataViewModel *self, gboolean compare);
/* The trace figure: a target counts as held where the lens ranks it within the top `topk`
 * (values below 1 are read as 1), and written at any position (`anywhere`) or only in the
 * generated part. */
void strata_view_model_set_trace (StrataViewModel *self, int topk, gboolean anywhere);
void strata_view_model_set_prompt (StrataViewModel *self, int prompt);

/* The series the series figures draw (taken, freed with `free_func`; NULL clears it). A
 * series still filling in on another thread may be set: redraw on "changed" (emit it with
 * strata_view_model_set_series (self, same, same_free) from the main thread after each
 * checkpoint). */
void strata_view_model_set_series (StrataViewModel *self, StrataSeries *series, GDestroyNotify free_func);
StrataSeries *strata_view_model_get_series (StrataViewModel *self);
/* The selected checkpoint of the series figures: (training run, index); -1 none. */
void strata_view_model_set_checkpoint (StrataViewModel *self, int run, int checkpoint);

/* The drawing input for a figure of `kind` as the model stands (borrowed pointers). */
void strata_view_model_fill_input (StrataViewModel *self, StrataFigureKind kind, StrataFigureInput *in);

G_END_DECLS
