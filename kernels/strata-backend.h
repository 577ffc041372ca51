/* strata-backend.h: the operations a compute backend provides, as a table of functions.
 *
 * Every pointer argument named x, y, w, b, q, k, v, ... is memory of that backend (host
 * memory for the CPU, device memory for CUDA); only upload/download cross the boundary.
 * Pointer arithmetic on backend memory is allowed (it is plain or device pointers).
 * Every member is required unless its comment says optional. Shapes use the letters of
 * strata-recipe.h; R is a number of rows (B*T). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "strata-status.h"
#include "strata-weights.h"

typedef struct StrataBackend StrataBackend;

/* One AdamW step, per element in float as torch.optim.AdamW computes it (step t, 1-based),
 * every scalar formed in double by the caller and rounded to float once, as torch does:
 *   g = grad · grad_scale                       (the clipping coefficient, 1 when none)
 *   p = p · keep                                (keep = 1 - lr · weight_decay)
 *   m = beta1 · m + one_minus_beta1 · g;  v = beta2 · v + one_minus_beta2 · g²
 *   p = p - step_size · m / (sqrt(v) / bc2_sqrt + eps)
 * with step_size = lr / (1 - beta1^t) and bc2_sqrt = sqrt(1 - beta2^t). */
typedef struct {
  float keep, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, grad_scale;
  float step_size, bc2_sqrt;
} StrataAdamWUpdate;

/* What the logit lens keeps of each row of logits (logit_summary): the caller's ids, on the
 * host. */
typedef struct {
  int k;                     /* top-k per row, 1..V */
  const int32_t *targets;    /* n_targets ids whose logit and rank are kept */
  int n_targets;
  const int32_t *candidates; /* optional: ranks over these n_candidates ids too */
  int n_candidates;
} StrataLogitQuery;

/* Host arrays for R rows of a StrataLogitQuery's answer. */
typedef struct {
  double *lse;          /* (R) log-sum-exp of the row, formed in double */
  int32_t *top_ids;     /* (R, k) by logit, highest first; equal logits: the lower id first */
  float *top_logit;     /* (R, k) */
  float *target_logit;  /* (R, n_targets) */
  int32_t *target_rank; /* (R, n_targets): tokens with a strictly greater logit (0 = top-1) */
  int32_t *cand_rank;   /* (R, n_targets): candidates with a strictly greater logit; NULL: not
                         * asked (required with candidates) */
} StrataLogitSummary;

/* One range of copy_many: n floats from src to dst, both backend memory. */
typedef struct {
  float *dst;
  const float *src;
  size_t n;
} StrataCopy;

struct StrataBackend {
  const char *name; /* "cpu", "cuda" */
  void *ctx;        /* backend state (cuBLAS handle, stream, ...) */
  int host_memory;  /* its memory is host memory: weights are used in place, not copied */
  unsigned matrix_dtypes; /* bit 1 << StrataDType for each dtype `linear` and `embed` take */
  unsigned fast_dtypes;   /* of those, the ones taken as they are; the others are converted on
                           * every call (the engine converts a model once when it can afford
                           * the copy, strata_engine_new) */

  float *(*alloc) (const StrataBackend *be, size_t n_floats); /* zeroed; NULL on failure */
  void (*free) (const StrataBackend *be, void *p);
  StrataStatus (*upload) (const StrataBackend *be, void *dst, const void *src, size_t bytes);
  StrataStatus (*download) (const StrataBackend *be, void *dst, const void *src, size_t bytes);
  StrataStatus (*copy) (const StrataBackend *be, void *dst, const void *src, size_t bytes);
  /* n_copies copies described by a host array, in one launch on a device where `copy` would
   * take one each (a patching pass moves rows of every job at every layer). No range written
   * overlaps another copy's source or destination. */
  StrataStatus (*copy_many) (const StrataBackend *be, const StrataCopy *copies, int n_copies);

  /* y (R, N) = x (R, K) · w (N, K)ᵀ + b (N); b may be NULL. w in a dtype of matrix_dtypes.
   * The multiplications take x and w rounded to `precision` (strata_round_to_precision; a
   * BF16 w is exact in BF16 and TF32), products and sums in fp32. */
  StrataStatus (*linear) (const StrataBackend *be, float *y, const float *x, const StrataMat *w,
                          const float *b, int R, int N, int K, StrataPrecision precision);
  /* y (R, C) = norm(x) with gain w and (LayerNorm only, may be NULL) bias b (C). y may
   * equal x. */
  StrataStatus (*norm) (const StrataBackend *be, float *y, const float *x, const float *w,
                        const float *b, int R, int C, const StrataNormParams *p);
  /* out (R, C) = table[ids[r]] as F32; ids are host memory. */
  StrataStatus (*embed) (const StrataBackend *be, float *out, const StrataMat *table,
                         const int32_t *ids, int R, int C);
  /* In place: x (B, T, nh, D), row t rotated by position pos0 + t (p->pairing NONE:
   * unchanged). pos0 > 0: new rows of a sequence whose first pos0 positions ran before. */
  StrataStatus (*rope) (const StrataBackend *be, float *x, int B, int T, int nh, int D, int pos0,
                        const StrataRopeParams *p);
  /* Causal attention with grouped heads: q (B, Tq, H, D) are the last Tq of Tk positions
   * (Tq <= Tk; Tq < Tk when earlier keys come from a cache), k v (B, Tk, K, D) ->
   * z (B, Tq, H, D) and pattern (B, H, Tq, Tk) (zero where a key is not visible). pattern
   * may be NULL: then no (Tq, Tk) array is returned, and the backend bounds its scratch (the
   * CPU: blocks of query rows in 4 MiB; CUDA: a fused kernel with an online softmax, no
   * scratch). */
  StrataStatus (*attention) (const StrataBackend *be, float *z, float *pattern, const float *q,
                             const float *k, const float *v, int B, int Tq, int Tk, int H, int K,
                             int D, const StrataAttnParams *p);
  /* In place, n floats: x = act(x), times up (elementwise) when up is not NULL (gated MLPs). */
  StrataStatus (*activation) (const StrataBackend *be, float *x, const float *up, size_t n,
                              StrataActivation act);
  /* y += x, n floats. */
  StrataStatus (*add) (const StrataBackend *be, float *y, const float *x, size_t n);
  /* x *= s, n floats. */
  StrataStatus (*scale) (const StrataBackend *be, float *x, size_t n, float s);
  /* x = cap · tanh(x / cap), n floats. */
  StrataStatus (*softcap) (const StrataBackend *be, float *x, size_t n, float cap);
  /* The lens's reduction of R rows of V logits in backend memory, written to host arrays: only
   * these cross to the host, never the logits. */
  StrataStatus (*logit_summary) (const StrataBackend *be, const float *logits, int R, int V,
                                 const StrataLogitQuery *q, StrataLogitSummary *out);

  /* Training (strata-train.h). Optional as a group: NULL in a backend that cannot train,
   * which the trainer refuses with a message. F32 matrices only. "(+)=" means "=", or "+="
   * when the call's `add` is nonzero; parameter gradients (dw, db) always accumulate. */
  /* The gradients of linear: dx (R, K) (+)= dy (R, N) · w (N, K); dw (N, K) += dyᵀ · x;
   * db (N) += the column sums of dy. dx, dw or db NULL: not computed. */
  StrataStatus (*linear_grad) (const StrataBackend *be, float *dx, float *dw, float *db, const float *dy,
                               const float *x, const float *w, int R, int N, int K, int add);
  /* The gradients of norm (LayerNorm only, else STRATA_ERR_UNSUPPORTED) at its input x:
   * dx (R, C) (+)= ..., dw += ..., db += ... from dy (R, C). */
  StrataStatus (*norm_grad) (const StrataBackend *be, float *dx, float *dw, float *db, const float *dy,
                             const float *x, const float *w, int R, int C, const StrataNormParams *p, int add);
  /* In place, n floats: dy *= act'(u) (ungated GELU tanh only, else STRATA_ERR_UNSUPPORTED). */
  StrataStatus (*activation_grad) (const StrataBackend *be, float *dy, const float *u, size_t n,
                                   StrataActivation act);
  /* The gradients of attention (no soft-cap, else STRATA_ERR_UNSUPPORTED) from dz (B, T, H, D)
   * and the forward's pattern, q, k, v: dq (B, T, H, D), dk dv (B, T, K, D) are written. */
  StrataStatus (*attention_grad) (const StrataBackend *be, float *dq, float *dk, float *dv, const float *dz,
                                  const float *pattern, const float *q, const float *k, const float *v, int B,
                                  int T, int H, int K, int D, const StrataAttnParams *p);
  /* Cross-entropy: rows r with targets[r] >= 0 (host memory) add -log softmax(logits_r)[target]
   * to *loss (host) and become weight · (softmax(logits_r) - onehot(target)), the gradient of
   * weight × that loss; the other rows become 0. In place on logits (R, V). */
  StrataStatus (*cross_entropy_grad) (const StrataBackend *be, float *logits, double *loss,
                                      const int32_t *targets, int R, int V, float weight);
  /* dtable[ids[r]] += dx[r] for R rows of C; ids are host memory. */
  StrataStatus (*embed_grad) (const StrataBackend *be, float *dtable, const float *dx, const int32_t *ids,
                              int R, int C);
  /* *out (host) = the sum of x², n floats, accumulated in double. */
  StrataStatus (*sum_squares) (const StrataBackend *be, double *out, const float *x, size_t n);
  /* One AdamW update of n parameters p with gradients g and moments m, v (torch.optim.AdamW). */
  StrataStatus (*adamw) (const StrataBackend *be, float *p, const float *g, float *m, float *v, size_t n,
                         const StrataAdamWUpdate *u);

  /* Optional: message of the backend's last failure ("" when none). The engine appends it
   * to its own message. */
  const char *(*last_error) (const StrataBackend *be);
  /* Optional for host-memory backends: bytes free in the backend's memory now (CUDA:
   * cudaMemGetInfo); 0 when unknown. */
  size_t (*memory_free) (const StrataBackend *be);
};

/* Bytes free now for allocations of `be` (NULL: host memory): its memory_free, else
 * /proc/meminfo MemAvailable for host memory, so with the model's weights already resident.
 * The environment variable STRATA_MEMORY_LIMIT (bytes) caps the answer: tests set it to a
 * tiny budget to reach the out-of-memory errors. SIZE_MAX when nothing is known. */
size_t strata_backend_memory_free (const StrataBackend *be);

/* The CPU backend: OpenBLAS for products. Always available. */
const StrataBackend *strata_backend_cpu (void);
/* The CPU backend as if its memory were a device's (host_memory 0), named "cpu-as-device":
 * every path a GPU takes that moves data (weights loaded into device memory, uploads,
 * downloads, batched copies) runs with the CPU's arithmetic, so a machine without a GPU can
 * check them end to end against "cpu". Not for speed. */
const StrataBackend *strata_backend_cpu_as_device (void);

/* A backend by name: "cpu", "cuda" or "auto" (CUDA when it was built and a device answers,
 * else the CPU), or "cpu-as-device". NULL for an unknown name or an unavailable "cuda". `why` (size n) receives
 * the reason for the choice, or for the failure. */
const StrataBackend *strata_backend_select (const char *name, char *why, size_t n);

/* The device policy every command, benchmark and the window share (DESIGN.md section 3). */
#define STRATA_DEVICE_NAMES "auto, cpu or cuda"

typedef struct {
  const StrataBackend *backend; /* NULL: an unknown name, or "cuda" with no usable GPU */
  char asked[32];               /* the name that applied: the argument, STRATA_DEVICE, or "auto" */
  int from_env;                 /* `asked` came from STRATA_DEVICE */
  int fell_back;                /* "auto" chose the CPU because CUDA is not usable */
  char why[256];                /* the reason for the choice or the failure: the driver's words
                                 * for CUDA, "built without CUDA ..." in a CPU-only build */
  char label[160];              /* short, for a model card: "cpu", "cpu (auto: CUDA not built)",
                                 * "cuda (NVIDIA H200)" */
} StrataDeviceChoice;

/* Choose the device for `name` ("auto", "cpu" or "cuda"); NULL or "" reads the environment
 * variable STRATA_DEVICE, and when that is unset or empty, "auto". Returns the backend (also
 * in out->backend) or NULL, with out->why saying why either way. */
const StrataBackend *strata_device_choose (const char *name, StrataDeviceChoice *out);
