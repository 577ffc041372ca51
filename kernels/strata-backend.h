/* strata-backend.h: the operations a compute backend provides, as a table of functions.
 *
 * Every pointer argument named x, y, w, b, q, k, v, ... is memory of that backend (host
 * memory for the CPU, device memory for CUDA); only upload/download cross the boundary.
 * Pointer arithmetic on backend memory is allowed (it is plain or device pointers).
 * Every member is required unless its comment says optional. Shapes use the letters of
 * strata-weights.h; R is a number of rows (B*T). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "strata-status.h"
#include "strata-weights.h"

typedef struct StrataBackend StrataBackend;

struct StrataBackend {
  const char *name; /* "cpu", "cuda" */
  void *ctx;        /* backend state (cuBLAS handle, stream, ...) */
  int host_memory;  /* its memory is host memory: weights are used in place, not copied */

  float *(*alloc) (const StrataBackend *be, size_t n_floats); /* zeroed; NULL on failure */
  void (*free) (const StrataBackend *be, void *p);
  StrataStatus (*upload) (const StrataBackend *be, void *dst, const void *src, size_t bytes);
  StrataStatus (*download) (const StrataBackend *be, void *dst, const void *src, size_t bytes);
  StrataStatus (*copy) (const StrataBackend *be, void *dst, const void *src, size_t bytes);

  /* y (R, N) = x (R, K) · w (N, K)ᵀ + b (N); b may be NULL. */
  StrataStatus (*linear) (const StrataBackend *be, float *y, const float *x, const float *w,
                          const float *b, int R, int N, int K);
  /* y (R, C) = LayerNorm(x) with gain w and bias b (C). y may equal x. */
  StrataStatus (*layernorm) (const StrataBackend *be, float *y, const float *x, const float *w,
                             const float *b, int R, int C, float eps);
  /* y (R, C) = x · rsqrt(mean(x²) + eps) · w. y may equal x. */
  StrataStatus (*rmsnorm) (const StrataBackend *be, float *y, const float *x, const float *w,
                           int R, int C, float eps);
  /* out (R, C) = table[ids[r]]; ids are host memory. */
  StrataStatus (*embed) (const StrataBackend *be, float *out, const float *table,
                         const int32_t *ids, int R, int C);
  /* In place: x (B, T, nh, D) rotated by position t with the given pairing. */
  StrataStatus (*rope) (const StrataBackend *be, float *x, int B, int T, int nh, int D,
                        StrataRope pairing, float theta);
  /* Causal attention with grouped heads: q (B, T, H, D), k v (B, T, K, D) ->
   * pattern (B, H, T, T) (zero above the diagonal) and z (B, T, H, D). */
  StrataStatus (*attention) (const StrataBackend *be, float *z, float *pattern, const float *q,
                             const float *k, const float *v, int B, int T, int H, int K, int D);
  /* In place: x = gelu_tanh(x), n floats. */
  StrataStatus (*gelu) (const StrataBackend *be, float *x, size_t n);
  /* gate = silu(gate) · up, n floats. */
  StrataStatus (*swiglu) (const StrataBackend *be, float *gate, const float *up, size_t n);
  /* y += x, n floats. */
  StrataStatus (*add) (const StrataBackend *be, float *y, const float *x, size_t n);
};

/* The CPU backend: OpenBLAS for products. Always available. */
const StrataBackend *strata_backend_cpu (void);
