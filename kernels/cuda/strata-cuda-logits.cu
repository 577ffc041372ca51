/* strata-cuda-logits.cu: the logit lens's reduction of rows of logits on the device
 * (logit_summary in strata-backend.h), so only k + 3 values per target and row cross to the
 * host, never a (R, V) block.
 *
 * One block per row. stats_kernel: the row's maximum, the sum of exp(x - max) in double
 * (the CPU sums in id order, here in a tree: the log-sum-exp agrees to ~1e-15 relative),
 * each target's logit and its ranks (counts of strictly greater logits, exact). topk_kernel:
 * k rounds of a block-wide arg-max, each round over the entries that come after the previous
 * winner in the order (logit descending, then id ascending), which is the CPU's order. NaN
 * logits are never chosen. */
#include <math.h>

#include "strata-cuda-private.h"

/* Targets whose counts one thread keeps in registers per sweep over the row. */
#define TARGET_GROUP 16

typedef struct {
  float x;
  int id; /* -1: none */
} Entry;

/* a comes before b: higher logit, or the same logit and a lower id; "none" comes last. */
static __device__ bool
before (Entry a, Entry b)
{
  if (a.id < 0)
    return false;
  if (b.id < 0)
    return true;
  return a.x > b.x || (a.x == b.x && a.id < b.id);
}

static __device__ Entry
shfl_entry (Entry e, int offset)
{
  Entry o;
  o.x = __shfl_down_sync (0xffffffffu, e.x, offset);
  o.id = __shfl_down_sync (0xffffffffu, e.id, offset);
  return o;
}

/* Block-wide reductions for blockDim.x == STRATA_CUDA_BLOCK; every thread gets the answer. */
static __device__ Entry
block_first (Entry e)
{
  __shared__ Entry warp_best[STRATA_CUDA_BLOCK / 32];
  __shared__ Entry best;
  for (int o = 16; o > 0; o /= 2) {
    Entry other = shfl_entry (e, o);
    if (before (other, e))
      e = other;
  }
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0)
    warp_best[warp] = e;
  __syncthreads ();
  if (threadIdx.x == 0) {
    Entry b = warp_best[0];
    for (int w = 1; w < STRATA_CUDA_BLOCK / 32; w++)
      if (before (warp_best[w], b))
        b = warp_best[w];
    best = b;
  }
  __syncthreads ();
  Entry answer = best;
  __syncthreads (); /* `best` is reused by the next call */
  return answer;
}

static __device__ double
block_sum (double v)
{
  __shared__ double warp_sum[STRATA_CUDA_BLOCK / 32];
  __shared__ double total;
  for (int o = 16; o > 0; o /= 2)
    v += __shfl_down_sync (0xffffffffu, v, o);
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0)
    warp_sum[warp] = v;
  __syncthreads ();
  if (threadIdx.x == 0) {
    double t = 0;
    for (int w = 0; w < STRATA_CUDA_BLOCK / 32; w++)
      t += warp_sum[w];
    total = t;
  }
  __syncthreads ();
  double answer = total;
  __syncthreads ();
  return answer;
}

/* Per row: lse, target logits, target ranks over the vocabulary and over the candidates. */
static __global__ void
stats_kernel (const float *logits, int V, const int32_t *targets, int n_t, const int32_t *cand,
              int n_cand, double *lse, float *target_logit, int32_t *target_rank, int32_t *cand_rank)
{
  const float *row = logits + (size_t) blockIdx.x * V;
  Entry top = { -INFINITY, -1 };
  for (int v = threadIdx.x; v < V; v += blockDim.x) {
    Entry e = { row[v], v };
    if (!isnan (e.x) && before (e, top))
      top = e;
  }
  float mx = block_first (top).x;
  double s = 0;
  for (int v = threadIdx.x; v < V; v += blockDim.x)
    s += exp ((double) row[v] - mx);
  s = block_sum (s);
  if (threadIdx.x == 0)
    lse[blockIdx.x] = mx + log (s);

  __shared__ int counts[2 * TARGET_GROUP];
  for (int t0 = 0; t0 < n_t; t0 += TARGET_GROUP) {
    int nt = min (TARGET_GROUP, n_t - t0);
    float tl[TARGET_GROUP];
    int over[TARGET_GROUP], over_cand[TARGET_GROUP];
    for (int i = 0; i < TARGET_GROUP; i++) {
      tl[i] = i < nt ? row[targets[t0 + i]] : INFINITY;
      over[i] = over_cand[i] = 0;
    }
    if (threadIdx.x < 2 * TARGET_GROUP)
      counts[threadIdx.x] = 0;
    __syncthreads ();
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
      float x = row[v];
      for (int i = 0; i < TARGET_GROUP; i++)
        over[i] += x > tl[i];
    }
    for (int c = threadIdx.x; c < n_cand; c += blockDim.x) {
      float x = row[cand[c]];
      for (int i = 0; i < TARGET_GROUP; i++)
        over_cand[i] += x > tl[i];
    }
    for (int i = 0; i < nt; i++) {
      atomicAdd (&counts[i], over[i]);
      atomicAdd (&counts[TARGET_GROUP + i], over_cand[i]);
    }
    __syncthreads ();
    if (threadIdx.x < nt) {
      size_t at = (size_t) blockIdx.x * n_t + t0 + threadIdx.x;
      target_logit[at] = tl[threadIdx.x];
      target_rank[at] = counts[threadIdx.x];
      if (cand_rank)
        cand_rank[at] = counts[TARGET_GROUP + threadIdx.x];
    }
    __syncthreads ();
  }
}

/* Per row: the first k entries of the order, one block-wide arg-max per entry. */
static __global__ void
topk_kernel (const float *logits, int V, int k, int32_t *top_ids, float *top_logit)
{
  const float *row = logits + (size_t) blockIdx.x * V;
  Entry prev = { INFINITY, -1 }; /* round 0: every entry comes after it */
  for (int j = 0; j < k; j++) {
    Entry best = { -INFINITY, -1 };
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
      Entry e = { row[v], v };
      bool after = prev.id < 0 || before (prev, e);
      if (!isnan (e.x) && after && before (e, best))
        best = e;
    }
    best = block_first (best);
    if (threadIdx.x == 0) {
      top_ids[(size_t) blockIdx.x * k + j] = best.id;
      top_logit[(size_t) blockIdx.x * k + j] = best.id >= 0 ? best.x : NAN;
    }
    if (best.id < 0) { /* fewer orderable logits than k: the rest stay "none" */
      for (int r = j + 1 + (int) threadIdx.x; r < k; r += blockDim.x) {
        top_ids[(size_t) blockIdx.x * k + r] = -1;
        top_logit[(size_t) blockIdx.x * k + r] = NAN;
      }
      return;
    }
    prev = best;
  }
}

extern "C" StrataStatus
strata_cuda_logit_summary (const StrataBackend *be, const float *logits, int R, int V,
                           const StrataLogitQuery *q, StrataLogitSummary *out)
{
  StrataCudaContext *ctx = STRATA_CUDA_CTX (be);
  if (R < 0 || V <= 0 || q->k < 1 || q->k > V || q->n_targets < 0 || q->n_candidates < 0)
    return strata_cuda_fail_arg (ctx, "logit summary: bad shape");
  if (q->n_candidates > 0 && !out->cand_rank)
    return strata_cuda_fail_arg (ctx, "logit summary: candidates without cand_rank");
  if (R == 0)
    return STRATA_OK;
  size_t n_ids = (size_t) q->n_targets + q->n_candidates;
  size_t nt = (size_t) R * q->n_targets, nk = (size_t) R * q->k;
  /* One device buffer: lse (R doubles) first for alignment, then the int32/float arrays. */
  size_t bytes = R * sizeof (double) + nk * 8 + nt * 12 + n_ids * 4;
  StrataStatus st = strata_cuda_reserve (ctx, &ctx->summary, &ctx->summary_cap, bytes, 1,
                                         "logit summary buffer");
  if (st != STRATA_OK)
    return st;
  char *p = (char *) ctx->summary;
  double *lse = (double *) p;
  int32_t *top_ids = (int32_t *) (p + R * sizeof (double));
  float *top_logit = (float *) (top_ids + nk);
  float *target_logit = (float *) (top_logit + nk);
  int32_t *target_rank = (int32_t *) (target_logit + nt);
  int32_t *cand_rank = target_rank + nt;
  int32_t *ids = cand_rank + nt;
  if (q->n_targets)
    STRATA_CUDA_TRY (ctx, cudaMemcpyAsync (ids, q->targets, (size_t) q->n_targets * 4,
                                           cudaMemcpyHostToDevice, ctx->stream));
  if (q->n_candidates)
    STRATA_CUDA_TRY (ctx, cudaMemcpyAsync (ids + q->n_targets, q->candidates,
                                           (size_t) q->n_candidates * 4, cudaMemcpyHostToDevice,
                                           ctx->stream));
  stats_kernel<<<R, STRATA_CUDA_BLOCK, 0, ctx->stream>>> (
    logits, V, ids, q->n_targets, ids + q->n_targets, q->n_candidates, lse, target_logit,
    target_rank, q->n_candidates > 0 ? cand_rank : NULL);
  STRATA_CUDA_LAUNCHED (ctx, "stats_kernel");
  topk_kernel<<<R, STRATA_CUDA_BLOCK, 0, ctx->stream>>> (logits, V, q->k, top_ids, top_logit);
  STRATA_CUDA_LAUNCHED (ctx, "topk_kernel");

  struct { void *dst; const void *src; size_t bytes; } copies[] = {
    { out->lse, lse, R * sizeof (double) },
    { out->top_ids, top_ids, nk * 4 },
    { out->top_logit, top_logit, nk * 4 },
    { out->target_logit, target_logit, nt * 4 },
    { out->target_rank, target_rank, nt * 4 },
    { out->cand_rank, cand_rank, q->n_candidates > 0 ? nt * 4 : 0 },
  };
  for (size_t i = 0; i < sizeof copies / sizeof *copies; i++)
    if (copies[i].bytes)
      STRATA_CUDA_TRY (ctx, cudaMemcpyAsync (copies[i].dst, copies[i].src, copies[i].bytes,
                                             cudaMemcpyDeviceToHost, ctx->stream));
  /* The host reads the arrays (and may reuse the id arrays) as soon as this returns. */
  STRATA_CUDA_TRY (ctx, cudaStreamSynchronize (ctx->stream));
  return STRATA_OK;
}
