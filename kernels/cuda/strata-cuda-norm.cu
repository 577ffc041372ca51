/* strata-cuda-norm.cu: LayerNorm and RMSNorm (with w or 1 + w), one block per row of C values.
 *
 * Sums are taken in double, as the CPU backend takes them, so the statistics agree to
 * rounding and the result to a few float ulps; the kernels are memory-bound, so double
 * arithmetic costs nothing measurable. y may equal x: each thread reads the values it
 * writes, after the statistics are known. */
#include "strata-cuda-private.h"

/* Sum of v over the block (blockDim.x a multiple of 32, at most 1024); every thread gets
 * the result. `shared` holds 32 doubles. */
static __device__ double
block_sum (double v, double *shared)
{
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync (0xffffffffu, v, o);
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  __syncthreads (); /* shared may still be read by a previous call */
  if (lane == 0)
    shared[warp] = v;
  __syncthreads ();
  v = lane < warps ? shared[lane] : 0.0;
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync (0xffffffffu, v, o);
  return v;
}

/* y (R, C) = (x - mean) · rstd · w + b, one row per block. */
static __global__ void
layernorm_kernel (float *y, const float *x, const float *w, const float *b, int C, float eps)
{
  __shared__ double shared[32];
  const float *xr = x + (size_t) blockIdx.x * C;
  float *yr = y + (size_t) blockIdx.x * C;
  double s = 0;
  for (int c = threadIdx.x; c < C; c += blockDim.x)
    s += xr[c];
  double mean = block_sum (s, shared) / C;
  double v = 0;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    double d = xr[c] - mean;
    v += d * d;
  }
  double var = block_sum (v, shared) / C; /* biased, as torch.nn.LayerNorm */
  float rstd = (float) (1.0 / sqrt (var + eps));
  for (int c = threadIdx.x; c < C; c += blockDim.x)
    yr[c] = (float) (xr[c] - mean) * rstd * w[c] + (b ? b[c] : 0.0f);
}

/* y (R, C) = x · rsqrt(mean(x²) + eps) · w (or · (1 + w): Gemma), one row per block. */
static __global__ void
rmsnorm_kernel (float *y, const float *x, const float *w, int C, float eps, int unit_offset)
{
  __shared__ double shared[32];
  const float *xr = x + (size_t) blockIdx.x * C;
  float *yr = y + (size_t) blockIdx.x * C;
  double s = 0;
  for (int c = threadIdx.x; c < C; c += blockDim.x)
    s += (double) xr[c] * xr[c];
  double ss = block_sum (s, shared);
  float rms = (float) (1.0 / sqrt (ss / C + eps));
  for (int c = threadIdx.x; c < C; c += blockDim.x)
    yr[c] = xr[c] * rms * (unit_offset ? 1.0f + w[c] : w[c]);
}

/* Threads for a row of C: enough warps to cover it in a few passes, at most 1024. */
static int
row_threads (int C)
{
  int t = 32;
  while (t < 1024 && t < C)
    t *= 2;
  return t;
}

extern "C" StrataStatus
strata_cuda_norm_forward (const StrataBackend *be, float *y, const float *x, const float *w, const float *b,
                          int R, int C, const StrataNormParams *p)
{
  StrataCudaContext *ctx = STRATA_CUDA_CTX (be);
  if (R < 0 || C <= 0)
    return strata_cuda_fail_arg (ctx, "norm: bad shape");
  /* Rows go on the x dimension of the grid (up to 2^31 - 1). */
  if (R == 0)
    return STRATA_OK;
  if (p->kind == STRATA_NORM_LAYERNORM) {
    layernorm_kernel<<<R, row_threads (C), 0, ctx->stream>>> (y, x, w, b, C, p->eps);
    STRATA_CUDA_LAUNCHED (ctx, "layernorm_kernel");
  } else {
    rmsnorm_kernel<<<R, row_threads (C), 0, ctx->stream>>> (y, x, w, C, p->eps,
                                                             p->kind == STRATA_NORM_RMSNORM_UNIT_OFFSET);
    STRATA_CUDA_LAUNCHED (ctx, "rmsnorm_kernel");
  }
  return STRATA_OK;
}
