/* strata-cuda-attention.cu: causal attention with grouped key/value heads.
 *
 *   q (B, Tq, H, D), k v (B, Tk, K, D) -> pattern (B, H, Tq, Tk), z (B, Tq, H, D)
 *
 * The queries are the last Tq of the Tk positions (Tq < Tk: decoding with cached keys).
 *
 * Without a pattern to return (no hook reads it), one fused launch: a warp per query row walks
 * its visible keys in tiles of 32 with an online softmax (running max, rescaled fp32 sums,
 * the denominator in double), so no (Tq, Tk) array exists anywhere and memory stays O(T).
 * Heads wider than FUSED_MAX_D take the path below with the pattern in the context's scratch.
 *
 * With a pattern, three launches for the whole batch, whatever B, H and K/H are: a batched cuBLAS product
 * for the scores of every (sequence, head), a causal softmax that also zeroes the upper
 * triangle, and a batched product P · V. Query head h reads key/value head h / (H/K).
 * The heads are strided views (rows of q are H*D apart), which cuBLAS takes as leading
 * dimensions; per-head pointers are written on the device by ptrs_kernel. Row-major/
 * column-major as in strata-cuda-linear.cu: a row-major (Tq, Tk) P is the column-major Pᵀ. */
#include <math.h>

#include "strata-cuda-private.h"

/* One pointer per (b, h) into each operand. */
typedef struct {
  const float **q, **k, **v;
  float **p, **z;
} AttnPtrs;

static __global__ void
ptrs_kernel (AttnPtrs a, float *z, float *pattern, const float *q, const float *k,
             const float *v, int B, int Tq, int Tk, int H, int K, int D)
{
  int n = B * H, group = H / K;
  for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < n; idx += gridDim.x * blockDim.x) {
    int b = idx / H, h = idx % H, kv = h / group;
    a.q[idx] = q + (size_t) b * Tq * H * D + (size_t) h * D;
    a.k[idx] = k + (size_t) b * Tk * K * D + (size_t) kv * D;
    a.v[idx] = v + (size_t) b * Tk * K * D + (size_t) kv * D;
    a.z[idx] = z + (size_t) b * Tq * H * D + (size_t) h * D;
    a.p[idx] = pattern + (size_t) idx * Tq * Tk;
  }
}

/* p (rows, Tk), rows = B*H*Tq, row r is query position Tk - Tq + r % Tq: soft-capped scores
 * (cap > 0),
 * softmax over the visible keys lo <= j <= i (lo = i - window + 1 with a window), zero
 * elsewhere. One warp per row; the max in float, the sum in double, as the CPU backend does. */
static __global__ void
softmax_kernel (float *p, size_t rows, int Tq, int Tk, float cap, int window)
{
  size_t row = (blockIdx.x * (size_t) blockDim.x + threadIdx.x) / 32;
  int lane = threadIdx.x % 32;
  if (row >= rows)
    return; /* whole warps leave together: blockDim is a multiple of 32 */
  float *r = p + row * Tk;
  int i = Tk - Tq + (int) (row % Tq);
  int lo = window > 0 && i >= window ? i - window + 1 : 0;
  float mx = -INFINITY;
  for (int j = lo + lane; j <= i; j += 32) {
    if (cap > 0)
      r[j] = cap * tanhf (r[j] / cap);
    mx = fmaxf (mx, r[j]);
  }
  for (int o = 16; o > 0; o >>= 1)
    mx = fmaxf (mx, __shfl_xor_sync (0xffffffffu, mx, o));
  double sum = 0;
  for (int j = lo + lane; j <= i; j += 32) {
    float e = expf (r[j] - mx);
    r[j] = e;
    sum += e;
  }
  for (int o = 16; o > 0; o >>= 1)
    sum += __shfl_xor_sync (0xffffffffu, sum, o);
  float inv = (float) (1.0 / sum);
  for (int j = lane; j < Tk; j += 32)
    r[j] = j >= lo && j <= i ? r[j] * inv : 0.0f;
}

#define FUSED_WARPS 4   /* query rows per block */
#define FUSED_MAX_D 256 /* head size the per-lane accumulators hold (Gemma 2: 256) */

/* z (B, Tq, H, D) without the pattern: warp w of block x takes query row
 * r = x · FUSED_WARPS + w = (b · Tq + iq) · H + h (the row order of q and z). Lane l scores key
 * j0 + l of each tile, then every lane adds the tile's 32 weighted value rows into its D / 32
 * accumulators (d = l + 32 c): reads of a value row are coalesced across the warp. */
static __global__ void
fused_kernel (float *z, const float *q, const float *k, const float *v, int B, int Tq, int Tk, int H,
              int K, int D, float scale, float cap, int window)
{
  extern __shared__ float q_rows[]; /* (FUSED_WARPS, D) */
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  size_t row = (size_t) blockIdx.x * FUSED_WARPS + warp;
  if (row >= (size_t) B * Tq * H)
    return; /* whole warps leave; the kernel has no block-wide barrier */
  int h = (int) (row % H), iq = (int) (row / H % Tq), b = (int) (row / H / Tq);
  int i = Tk - Tq + iq, lo = window > 0 && i >= window ? i - window + 1 : 0;
  size_t stride = (size_t) K * D; /* between the keys (values) of consecutive positions */
  const float *kb = k + (size_t) b * Tk * stride + (size_t) (h / (H / K)) * D;
  const float *vb = v + (size_t) b * Tk * stride + (size_t) (h / (H / K)) * D;
  float *qw = q_rows + warp * D;
  for (int d = lane; d < D; d += 32)
    qw[d] = q[row * D + d];
  __syncwarp ();

  float m = -INFINITY, acc[FUSED_MAX_D / 32];
  double l = 0;
#pragma unroll
  for (int c = 0; c < FUSED_MAX_D / 32; c++)
    acc[c] = 0.0f;
  for (int j0 = lo; j0 <= i; j0 += 32) {
    int j = j0 + lane;
    float s = -INFINITY;
    if (j <= i) {
      const float *kr = kb + (size_t) j * stride;
      float dot = 0.0f;
      for (int d = 0; d < D; d++)
        dot += qw[d] * kr[d];
      s = scale * dot;
      if (cap > 0)
        s = cap * tanhf (s / cap);
    }
    float tile_max = s;
    for (int o = 16; o > 0; o >>= 1)
      tile_max = fmaxf (tile_max, __shfl_xor_sync (0xffffffffu, tile_max, o));
    float m_new = fmaxf (m, tile_max);
    float keep = expf (m - m_new); /* 0 on the first tile (m = -inf) */
    float p = j <= i ? expf (s - m_new) : 0.0f;
    double tile_sum = p;
    for (int o = 16; o > 0; o >>= 1)
      tile_sum += __shfl_xor_sync (0xffffffffu, tile_sum, o);
    l = l * keep + tile_sum;
#pragma unroll
    for (int c = 0; c < FUSED_MAX_D / 32; c++)
      acc[c] *= keep;
    int n = min (32, i - j0 + 1);
    for (int t = 0; t < n; t++) {
      float pt = __shfl_sync (0xffffffffu, p, t);
      const float *vr = vb + (size_t) (j0 + t) * stride;
#pragma unroll
      for (int c = 0; c < FUSED_MAX_D / 32; c++)
        if (lane + 32 * c < D)
          acc[c] += pt * vr[lane + 32 * c];
    }
    m = m_new;
  }
  float inv = (float) (1.0 / l);
#pragma unroll
  for (int c = 0; c < FUSED_MAX_D / 32; c++)
    if (lane + 32 * c < D)
      z[row * D + lane + 32 * c] = acc[c] * inv;
}

extern "C" StrataStatus
strata_cuda_attention_forward (const StrataBackend *be, float *z, float *pattern, const float *q,
                               const float *k, const float *v, int B, int Tq, int Tk, int H, int K,
                               int D, const StrataAttnParams *ap)
{
  StrataCudaContext *ctx = STRATA_CUDA_CTX (be);
  if (B < 0 || Tq < 0 || Tk < Tq || H <= 0 || K <= 0 || D <= 0 || H % K)
    return strata_cuda_fail_arg (ctx, "attention: bad shape (K must divide H, Tq <= Tk)");
  int n = B * H;
  if (n == 0 || Tq == 0)
    return STRATA_OK;
  StrataStatus st;
  if (!pattern && D <= FUSED_MAX_D) {
    size_t rows = (size_t) n * Tq, blocks = (rows + FUSED_WARPS - 1) / FUSED_WARPS;
    if (blocks > 0x7fffffff)
      return strata_cuda_fail_arg (ctx, "attention: too many rows for one launch");
    fused_kernel<<<(unsigned) blocks, FUSED_WARPS * 32, FUSED_WARPS * D * sizeof (float), ctx->stream>>> (
      z, q, k, v, B, Tq, Tk, H, K, D, ap->scale, ap->softcap, ap->window);
    STRATA_CUDA_LAUNCHED (ctx, "fused_kernel");
    return STRATA_OK;
  }
  if (!pattern) {
    st = strata_cuda_reserve (ctx, (void **) &ctx->attn_pattern, &ctx->attn_pattern_cap,
                              (size_t) n * Tq * Tk, sizeof (float), "attention: pattern scratch");
    if (st != STRATA_OK)
      return st;
    pattern = ctx->attn_pattern;
  }

  st = strata_cuda_reserve (ctx, (void **) &ctx->attn_ptrs, &ctx->attn_cap,
                                         (size_t) 5 * n, sizeof (void *), "attention: pointers");
  if (st != STRATA_OK)
    return st;
  AttnPtrs a;
  a.q = (const float **) ctx->attn_ptrs;
  a.k = (const float **) ctx->attn_ptrs + n;
  a.v = (const float **) ctx->attn_ptrs + 2 * (size_t) n;
  a.p = (float **) ctx->attn_ptrs + 3 * (size_t) n;
  a.z = (float **) ctx->attn_ptrs + 4 * (size_t) n;
  ptrs_kernel<<<strata_cuda_blocks (n), STRATA_CUDA_BLOCK, 0, ctx->stream>>> (a, z, pattern, q,
                                                                                k, v, B, Tq, Tk, H, K, D);
  STRATA_CUDA_LAUNCHED (ctx, "ptrs_kernel");

  /* Pᵀ (Tk, Tq) column-major = scale · k_h · q_hᵀ, i.e. P[i][j] = scale · q_i · k_j. */
  float scale = ap->scale, one = 1.0f, zero = 0.0f;
  STRATA_CUBLAS_TRY (ctx, cublasSgemmBatched (ctx->blas, CUBLAS_OP_T, CUBLAS_OP_N, Tk, Tq, D,
                                              &scale, a.k, K * D, a.q, H * D, &zero, a.p, Tk, n));

  size_t rows = (size_t) n * Tq;
  size_t blocks = (rows * 32 + STRATA_CUDA_BLOCK - 1) / STRATA_CUDA_BLOCK;
  if (blocks > 0x7fffffff)
    return strata_cuda_fail_arg (ctx, "attention: too many rows for one launch");
  softmax_kernel<<<(unsigned) blocks, STRATA_CUDA_BLOCK, 0, ctx->stream>>> (pattern, rows, Tq, Tk, ap->softcap,
                                                                            ap->window);
  STRATA_CUDA_LAUNCHED (ctx, "softmax_kernel");

  /* z_hᵀ (D, Tq) column-major = v_hᵀ · Pᵀ, i.e. z[i][d] = Σ_j P[i][j] · v[j][d]. */
  STRATA_CUBLAS_TRY (ctx, cublasSgemmBatched (ctx->blas, CUBLAS_OP_N, CUBLAS_OP_N, D, Tq, Tk, &one,
                                              (const float *const *) a.v, K * D,
                                              (const float *const *) a.p, Tk, &zero, a.z, H * D,
                                              n));
  return STRATA_OK;
}
