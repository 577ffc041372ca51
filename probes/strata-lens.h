/* strata-lens.h: the logit lens over every residual point and position.
 *
 * Residual point k = 0..L is the state after k blocks (k = 0: the embedding; k = L: the
 * final resid_post). logits_k = W_U · N_final(x_k) + b_U, N_final being the model's own final
 * norm with statistics recomputed on x_k; the "raw" lens skips N_final. The lens at k = L
 * equals the model's logits. Ranks are 0-based (0 = top-1) over the full vocabulary. */
#pragma once

#include <glib.h>

#include "strata-engine.h"
#include "strata-model.h"
#include "strata-prompt-set.h"

G_BEGIN_DECLS

typedef struct {
  int topk;                     /* tokens kept per (layer, position), >= 1 */
  gboolean raw;                 /* no final norm */
  double threshold;             /* probability for the threshold resolution variant */
  const int32_t *candidates;    /* optional candidate set (e.g. every entity token) */
  int n_candidates;
} StrataLensOptions;

/* Per target, arrays of (L+1, T) in row-major [layer][position]. */
typedef struct {
  char *name;
  int32_t id;
  float *prob, *logprob, *logit;
  int32_t *rank;                /* over the full vocabulary */
  int32_t *cand_rank;           /* over the candidate set; NULL without one */
  /* (T): first layer k where the target is top-1 and stays top-1 through L; -1 never. */
  int32_t *resolution;
  /* (T): first layer k where prob >= threshold and stays so through L; -1 never. */
  int32_t *resolution_threshold;
} StrataLensTarget;

typedef struct {
  int n_layers;                 /* L; rows are 0..L */
  int T, topk, vocab;
  gboolean raw;
  double threshold;
  GArray *ids;                  /* int32_t (T) */
  GPtrArray *pieces;            /* char * (T) */
  int32_t *topk_ids;            /* (L+1, T, topk) */
  float *topk_prob, *topk_logit;/* (L+1, T, topk) */
  GPtrArray *targets;           /* StrataLensTarget * */
  /* The vocabulary pieces of every token the result names (top-k ids and target ids), so
   * a result reopened without its model still shows tokens, not "#id": distinct ids in
   * ascending order (N) and their pieces (N), raw bytes as the tokenizer has them. Both
   * NULL when unknown (a model without a tokenizer, a session of format 1.0). */
  GArray *token_ids;            /* int32_t (N) */
  GPtrArray *token_pieces;      /* char * (N) */
} StrataLensResult;

/* Run the model once on `prompt` (caching resid_pre 0..L-1 and the final resid_post) and
 * unembed the (L+1)*T points in batched products of at most STRATA_LENS_LOGITS_BUDGET bytes of
 * logits each (at least one row), keeping only each row's top-k and target values: memory
 * stays bounded at any T (GPT-2 small at T = 1024 would need 2.7 GB for all rows at once).
 * A pass stopped by the engine's abort
 * function (strata_engine_set_abort) fails with G_IO_ERROR_CANCELLED. */
#define STRATA_LENS_LOGITS_BUDGET ((size_t) 64 << 20)
StrataLensResult *strata_lens_run (StrataEngine *engine, StrataModel *model,
                                   const StrataPrompt *prompt, const StrataLensOptions *opts,
                                   GError **error);

/* Called on the running thread after each unembedding chunk with the result so far: rows
 * (row = layer * T + position) 0..rows_done-1 hold their final values, the others read "not
 * computed": NaN probabilities and logits, -1 ranks and top-k ids, and every resolution is
 * -1 until the last chunk is done (it is computed after the chunks). `partial` is the
 * result being written: read it (or copy it) during the call only. */
typedef void (*StrataLensChunkFunc) (const StrataLensResult *partial, int rows_done, gpointer data);

typedef struct {
  size_t logits_budget;         /* bytes of logits per unembedding; 0: STRATA_LENS_LOGITS_BUDGET */
  StrataLensChunkFunc func;     /* optional */
  gpointer data;
} StrataLensChunking;

/* strata_lens_run with a chosen chunk size and a call after each chunk (a window fills its
 * figure while a long trace is analysed); `chunking` may be NULL. With the default budget the
 * result is bit for bit strata_lens_run's; another budget may move the products' float32
 * rounding (the BLAS may round a row by the rows beside it). */
StrataLensResult *strata_lens_run_chunked (StrataEngine *engine, StrataModel *model,
                                           const StrataPrompt *prompt, const StrataLensOptions *opts,
                                           const StrataLensChunking *chunking, GError **error);
/* The lens of every prompt of a set (StrataPrompt *), in batched passes: prompts of equal
 * length run together, up to STRATA_LENS_BATCH_TOKENS tokens and STRATA_LENS_BATCH_RESIDUALS
 * bytes of residual rows per pass, their rows unembedded together (each prompt's own targets
 * answered). Results in the set's order; each equals strata_lens_run's up to the rounding of
 * products over a different number of rows. Stops as strata_lens_run does. */
#define STRATA_LENS_BATCH_TOKENS ((size_t) 4096)
#define STRATA_LENS_BATCH_RESIDUALS ((size_t) 256 << 20)
typedef struct {
  /* Optional: after each unembedding chunk of a prompt that runs on its own (the only one of
   * its length, or too long to share a pass), as StrataLensChunkFunc, with its index. */
  void (*partial) (guint index, const StrataLensResult *partial, int rows_done, gpointer data);
  /* Optional: prompt `index` is final (called in the order the passes finish). */
  void (*done) (guint index, gpointer data);
  gpointer data;
  size_t logits_budget; /* bytes of logits per unembedding; 0: STRATA_LENS_LOGITS_BUDGET */
} StrataLensSetOptions;
/* On failure, *failed is the index of the prompt it concerns, G_MAXUINT when it concerns a
 * pass of several. */
GPtrArray *strata_lens_run_set (StrataEngine *engine, StrataModel *model, GPtrArray *prompts,
                                const StrataLensOptions *opts, const StrataLensSetOptions *set, guint *failed,
                                GError **error);
/* A deep copy (a snapshot of a partial result for another thread). */
StrataLensResult *strata_lens_result_copy (const StrataLensResult *r);
void strata_lens_result_free (StrataLensResult *r);
/* Element free function of StrataLensResult.targets (for code that builds results). */
void strata_lens_target_free (gpointer target);
const StrataLensTarget *strata_lens_result_get_target (const StrataLensResult *r, const char *name);
/* The piece of `id` from the result's token table (borrowed), or NULL when not recorded. */
const char *strata_lens_result_get_piece (const StrataLensResult *r, int32_t id);
/* Fill token_ids/token_pieces from `model`'s tokenizer (nothing without one): the top-k ids,
 * the targets and `extra` (n_extra ids, e.g. the prompt's contrast token). */
void strata_lens_result_set_pieces (StrataLensResult *r, StrataModel *model, const int32_t *extra, int n_extra);

/* Aggregates over a prompt set, per tag ("all" always), target and read position. */
typedef struct {
  char *tag;
  char *target;
  char *position;               /* position name, or its index as text */
  int n_prompts;
  int n_layers;                 /* L; arrays below have L+1 entries */
  double *mrr;                  /* mean of 1/(rank+1) */
  double *mean_prob;
  double *top1;                 /* fraction of prompts where the target is top-1 */
  int resolution_layer;         /* first layer whose MRR >= 0.9; -1 never */
  int *resolution_counts;       /* (L+2): prompts resolving at layer k; [L+1] = never */
} StrataLensAggregate;

/* aggregates: GPtrArray of StrataLensAggregate *, ordered by tag ("all" first), target,
 * position. Positions read: the prompt's named positions, else every position index of a
 * prompt of at most STRATA_LENS_AGGREGATE_ALL_POSITIONS tokens, else its last position only
 * (a generated trace of thousands of tokens would give targets x T aggregates: 32000 groups,
 * 300 MB of session metadata, for a 2000-token trace with 16 targets). */
#define STRATA_LENS_AGGREGATE_ALL_POSITIONS 64
GPtrArray *strata_lens_aggregate (const StrataPromptSet *set, GPtrArray *results);
void strata_lens_aggregate_free (StrataLensAggregate *a);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataLensResult, strata_lens_result_free)

G_END_DECLS
