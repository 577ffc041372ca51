/* strata-engine-private.h: the engine's state, shared by the files that implement it
 * (strata-engine.c: the full forward; strata-engine-suffix.c: the patching fast path). */
#pragma once

#include <stdarg.h>
#include <stdio.h>

#include "strata-engine.h"

/* Activations of one block. A forward pass reuses one set for every layer; a backward
 * pass will allocate one set per layer (these are exactly the tensors it needs). */
typedef struct {
  float *normed;   /* (R, C) norm1(x), then norm2(x) */
  float *q, *k, *v;/* (R, H*D), (R, K*D), (R, K*D) */
  float *pattern;  /* (B, H, T, T) */
  float *z;        /* (R, H*D) */
  float *zh;       /* (R, H*D) one head of z, the rest zero: per-head results */
  float *result;   /* (R, C) */
  float *attn_out; /* (R, C) */
  float *mlp_h;    /* (R, F) */
  float *mlp_up;   /* (R, F) SwiGLU only */
  float *mlp_out;  /* (R, C) */
} LayerActs;

struct StrataEngine {
  const StrataBackend *be;
  StrataWeights w;            /* tensor table in backend memory */
  StrataLayerWeights *layers; /* storage for w.layers when copied */
  float *arena;               /* backend copy of the weights, NULL when used in place */
  int cap_B, cap_T;           /* scratch sized for this batch */
  float *scratch;
  float *resid;               /* (R, C) */
  float *pos;                 /* (R, C) */
  float *logits;              /* (R, V) */
  float *rows;                /* (rows_cap, C) unembed input */
  int rows_cap;
  LayerActs acts;
  float *sfx;                 /* scratch of strata_engine_forward_suffix */
  size_t sfx_cap;             /* floats */
  StrataAbortFunc abort_fn;   /* asked between layers; NULL: never stop */
  void *abort_data;
  char error[512];
};

/* Stop the pass when the caller's abort check asks to. */
#define CHECK_ABORT(e)                                                                 \
  do {                                                                                 \
    if (strata_engine_should_abort (e))                                                \
      return fail ((e), STRATA_ERR_CANCELLED, "cancelled");                            \
  } while (0)

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

/* The family's norm: LayerNorm with bias (GPT-2) or RMSNorm (Llama). */
static inline StrataStatus
norm (StrataEngine *e, float *y, const float *x, const float *w, const float *b, int R)
{
  const StrataConfig *g = &e->w.cfg;
  if (g->family == STRATA_FAMILY_GPT2)
    return e->be->layernorm (e->be, y, x, w, b, R, g->d_model, g->norm_eps);
  return e->be->rmsnorm (e->be, y, x, w, R, g->d_model, g->norm_eps);
}
