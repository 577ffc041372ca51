/* strata-trace-resolution.h: how far ahead of writing a token the lens already decodes it.
 *
 * Along a generated trace (chain of thought), an intermediate result -- a number, a name --
 * is written at some position w (ids[w] == its id). The lens at position p predicts token
 * p + 1, so a cell (layer k, position p) with p < w "holds" the target when the lens ranks
 * it within the top K there (rank < K, 0-based over the full vocabulary; K = 1: top-1) and
 * the token read at p is not the target itself: there the lens, at the embedding above all,
 * decodes the input token, an echo rather than a result held ahead.
 *
 * Per target: its writing positions w (in the generated part, StrataPrompt.n_generated, or
 * anywhere in the sequence with `anywhere`); the cells that hold it at some p < w_last (the
 * last writing position); the first of them in reading order (earliest position, then the
 * shallowest layer there); the writing position it anticipates, w* = the first w > p; and
 * the tokens ahead, (w* - 1) - p: 0 is the ordinary next-token prediction at w* - 1, 5 means
 * the model held the target five tokens before it had to predict it.
 *
 * Targets are those of the lens result: typed ones and, with strata_trace_add_auto_targets,
 * the numbers and entities the generated part writes, chosen before the lens runs so that
 * their rank arrays exist. */
#pragma once

#include <glib.h>

#include "strata-enum.h"
#include "strata-lens.h"
#include "strata-prompt-set.h"
#include "strata-tokenizer.h"

G_BEGIN_DECLS

/* Whether targets are chosen from the generated part (auto) or only typed (none). */
typedef enum {
  STRATA_TRACE_TARGETS_AUTO,
  STRATA_TRACE_TARGETS_NONE,
} StrataTraceTargets;

/* Names "auto", "none". */
extern const StrataEnumTable strata_trace_targets_table;

#define STRATA_TRACE_MAX_AUTO 32 /* default cap on the targets chosen automatically */

typedef struct {
  int topk;          /* K >= 1: a cell holds the target when its rank < K */
  gboolean anywhere; /* writing positions anywhere in the sequence, not only the generated part */
} StrataTraceOptions;

typedef struct {
  char *name;
  int32_t id;
  int target;           /* index into the lens result's targets */
  GArray *written;      /* int (n): the writing positions w, ascending; empty when none */
  /* The first cell holding the target before a writing position; -1 when there is none. */
  int first_layer, first_position;
  int written_at;       /* w*: the first writing position after first_position; -1 none */
  int tokens_ahead;     /* (written_at - 1) - first_position >= 0; -1 none */
} StrataTraceTarget;

typedef struct {
  int topk;
  gboolean anywhere;
  int n_layers, T;      /* the lens result's: rows 0..n_layers, positions 0..T-1 */
  GPtrArray *targets;   /* StrataTraceTarget *, one per lens target, in the result's order */
} StrataTraceResolution;

/* The trace resolution of every target of `r`, read on its sequence (r->ids) whose last
 * `n_generated` tokens the model generated (StrataPrompt.n_generated). NULL with an error
 * when K < 1 or n_generated is not in 0..T. */
StrataTraceResolution *strata_trace_resolution_new (const StrataLensResult *r, int n_generated,
                                                    const StrataTraceOptions *o, GError **error);
void strata_trace_resolution_free (StrataTraceResolution *t);

/* Which target cell (layer k, position p) shows: among the targets it holds (rank < K at a p
 * before the target's last writing position), the one the lens ranks best, the first in
 * order on a tie; the index into t->targets, or -1 when it holds none. */
int strata_trace_resolution_cell (const StrataTraceResolution *t, const StrataLensResult *r, int k, int p);

/* Whether a vocabulary piece is a number (all digits) or an entity (a capital first letter),
 * once a leading ' ', '▁' or 'Ġ' is stripped. */
gboolean strata_trace_piece_is_number (const char *piece);
gboolean strata_trace_piece_is_capitalized (const char *piece);

/* Add to `prompt`'s targets the numbers and entities its generated part writes: a token is a
 * number when its piece is all digits, an entity when its piece is capitalized and at least
 * one of its occurrences in the generated part does not begin a sentence (the preceding
 * text, read back over spaces and the ASCII quotes and brackets " ' ( ) [ ], ends in '.',
 * '!', '?' or a newline, or is the start of the sequence: nothing before it but BOS). Tokens already targets are skipped; the `max`
 * most frequent in the generated part are kept (first written first on a tie), each named by
 * its piece (its "#ID" when a target already has that name). Returns how many were added. */
int strata_trace_add_auto_targets (StrataPrompt *prompt, StrataTokenizer *tok, int32_t bos, int max);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataTraceResolution, strata_trace_resolution_free)

G_END_DECLS
