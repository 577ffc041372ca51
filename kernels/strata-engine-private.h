/* strata-engine-private.h: the engine's state and the pass that every entry point runs
 * (strata-engine.c: the public calls; strata-engine-pass.c: the pass and its one block). */
#pragma once

#include <stdarg.h>
#include <stdio.h>

#include "strata-engine.h"

struct StrataEngine {
  const StrataBackend *be;
  StrataWeights w;            /* tensor table in backend memory */
  StrataLayerWeights *layers; /* storage for w.layers when copied */
  void *arena;                /* backend copy of the weights, NULL when used in place */
  StrataWeights *converted;   /* host copy in dtypes the backend takes, when the model's were not */
  StrataPrecision precision;  /* of every forward product (training runs fp32) */
  float *scratch;             /* activations of a pass, grown on demand */
  size_t scratch_cap;         /* floats */
  float *rows;                /* (rows_cap, C + V) unembed input and output */
  int rows_cap;
  StrataAbortFunc abort_fn;   /* asked between layers; NULL: never stop */
  void *abort_data;
  char error[512];
};

static inline StrataStatus
fail (StrataEngine *e, StrataStatus st, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (e->error, sizeof e->error, fmt, ap);
  va_end (ap);
  return st;
}

/* A failed step keeps the first message; a backend's own message (CUDA, cuBLAS) is
 * appended when it has one. */
static inline StrataStatus
backend_fail (StrataEngine *e, StrataStatus st, const char *expr)
{
  const char *why = e->be->last_error ? e->be->last_error (e->be) : "";
  return fail (e, st, "%s failed in the %s backend%s%s", expr, e->be->name, why[0] ? ": " : "", why);
}

#define TRY(expr)                                              \
  do {                                                         \
    StrataStatus st_ = (expr);                                 \
    if (st_ != STRATA_OK)                                      \
      return e->error[0] ? st_ : backend_fail (e, st_, #expr); \
  } while (0)

/* Stop the pass when the caller's abort check asks to. */
#define CHECK_ABORT(e)                                        \
  do {                                                        \
    if (strata_engine_should_abort (e))                       \
      return fail ((e), STRATA_ERR_CANCELLED, "cancelled");   \
  } while (0)

/* The model's norm with its parameters, over R rows of C. */
static inline StrataStatus
norm_rows (StrataEngine *e, float *y, const float *x, const float *w, const float *b, int R, int C)
{
  return e->be->norm (e->be, y, x, w, b, R, C, &e->w.cfg.recipe.norm);
}

struct StrataKVCache {
  const StrataBackend *be;
  float *k, *v;               /* (L, capacity, K*D) each, backend memory; keys after RoPE */
  int capacity, length;
};

/* One sequence of a pass (a patched copy of the base run, or a sequence of the full pass).
 * See strata-engine-pass.c for the row layout. */
typedef struct {
  int layer, pos;             /* first block it runs; first position it recomputes */
  int single;                 /* its first block computes row `pos` only ... */
  int first_order;            /* ... where it holds the base run's values up to this site
                               * (strata_site_block_order of its first patched site) */
  int off;                    /* first of its compact rows */
  int slot;                   /* where its output goes (the caller's order) */
  int base;                   /* the base run it continues: an index into Pass.bases */
  int out_pos;                /* its read position (a patching pass, a decode step) */
  const StrataPatch *patches; /* patches of this sequence (`batch` ignored) */
  int n_patches;
  size_t patch_at;            /* offset of its patch rows in the uploaded buffer (floats) */
} PassJob;

typedef struct {
  PassJob *jobs;              /* sorted by (layer, single) */
  int n, T;
  int read_one;               /* each job reads out one row, at its out_pos; 0: every row (a full pass) */
  const int32_t *tokens;      /* (n, T): a full pass starts from the embedding */
  const StrataPrefix *const *bases; /* else rows and keys/values before each job's start come from
                               * its base run: n_bases runs of T tokens, all with the same sites */
  int n_bases;
  StrataKVCache *kv;          /* a decode step: one job whose tokens are positions pos..T-1 and
                               * whose earlier keys/values are in the cache, which gains its own */
  const StrataCache *caches;  /* full passes only */
  int n_caches;
  const int32_t *const *ids;  /* n_bases entries: the n_ids vocabulary ids whose logits the jobs
                               * of that base return; NULL: every logit */
  int n_ids;
  float *out;                 /* host: (n, V) or (n, n_ids) in the jobs' slot order; a full
                               * pass: (n, T, V); NULL: nothing copied out */
} Pass;

/* Checks every entry point shares (strata-engine.c), with the engine's error set: the site
 * exists in this model at this layer (its name written to `name`, size n); B × T token ids
 * inside the vocabulary and the context. */
StrataStatus _strata_engine_check_site (StrataEngine *e, StrataSite site, int layer, char *name, int n);
StrataStatus _strata_engine_check_tokens (StrataEngine *e, const int32_t *tokens, int B, int T);

/* Run the pass (strata-engine-pass.c). The caller has checked its inputs. */
StrataStatus _strata_engine_run_pass (StrataEngine *e, const Pass *p);
/* The bytes of backend scratch the pass needs (what _strata_engine_run_pass reserves). */
size_t _strata_engine_pass_bytes (StrataEngine *e, const Pass *p);
