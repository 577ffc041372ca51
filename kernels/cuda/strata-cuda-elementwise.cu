/* strata-cuda-elementwise.cu: embedding gather, RoPE, activations (gated or not), residual
 * add, scaling, soft-capping, and many row copies in one launch.
 *
 * Grid-stride loops over flat indices (size_t), so any n fits a capped grid. Formulas are
 * those of the CPU backend, in the same order of operations; built without fast-math so
 * expf/tanhf are the accurate library versions. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "strata-block-values.h"
#include "strata-cuda-private.h"

#define GRID_STRIDE(i, n)                                                                          \
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < (n);                          \
       i += (size_t) gridDim.x * blockDim.x)

/* out (R, C) = table (V, C) [ids (R)], the table in `dtype` (F16/BF16 widened exactly, blocks
 * decoded as the CPU decodes them; C holds whole blocks). */
static __global__ void
embed_kernel (float *out, const void *table, StrataDType dtype, const int32_t *ids, size_t R,
              size_t C)
{
  GRID_STRIDE (i, R * C) {
    size_t j = (size_t) ids[i / C] * C + i % C;
    if (dtype >= STRATA_DTYPE_FIRST_BLOCK)
      out[i] = strata_block_value (dtype, (const uint8_t *) table, j);
    else if (dtype == STRATA_DTYPE_F32)
      out[i] = ((const float *) table)[j];
    else if (dtype == STRATA_DTYPE_F16)
      out[i] = __half2float (((const __half *) table)[j]);
    else
      out[i] = __bfloat162float (((const __nv_bfloat16 *) table)[j]);
  }
}

extern "C" StrataStatus
strata_cuda_embed_forward (const StrataBackend *be, float *out, const StrataMat *tm,
                           const int32_t *ids, int R, int C)
{
  StrataCudaContext *ctx = STRATA_CUDA_CTX (be);
  int block, block_bytes;
  strata_dtype_layout (tm->dtype, &block, &block_bytes);
  if ((int) tm->dtype < 0 || tm->dtype >= STRATA_DTYPE_N || C % block)
    return strata_cuda_fail_arg (ctx, "embed: unknown table dtype, or rows that are not whole blocks");
  if (R < 0 || C < 0)
    return strata_cuda_fail_arg (ctx, "embed: negative shape");
  if (R == 0 || C == 0)
    return STRATA_OK;
  StrataStatus st = strata_cuda_stage (ctx, (void **) &ctx->ids, &ctx->ids_cap, ids, (size_t) R, sizeof (int32_t),
                                       "embed: token id buffer");
  if (st != STRATA_OK)
    return st;
  size_t n = (size_t) R * C;
  embed_kernel<<<strata_cuda_blocks (n), STRATA_CUDA_BLOCK, 0, ctx->stream>>> (
    out, tm->data, tm->dtype, ctx->ids, R, C);
  STRATA_CUDA_LAUNCHED (ctx, "embed_kernel");
  return STRATA_OK;
}

/* table (T, dims/2): cos and sin of (pos0 + t) · theta^(-2i/dims), computed in double and
 * rounded once, exactly as the CPU backend does per element. */
static __global__ void
rope_table_kernel (float2 *table, int T, int pos0, int dims, float theta)
{
  int half = dims / 2;
  GRID_STRIDE (j, (size_t) T * half) {
    int t = pos0 + (int) (j / half), i = (int) (j % half);
    double angle = t * pow ((double) theta, -2.0 * i / dims);
    table[j] = make_float2 ((float) cos (angle), (float) sin (angle));
  }
}

/* In place: the first `dims` values of each head of x (B, T, nh, D); pair i is (2i, 2i+1)
 * when adjacent, else (i, i + dims/2). One thread per pair. */
static __global__ void
rope_kernel (float *x, const float2 *table, size_t B, int T, int nh, int D, int dims, int adjacent)
{
  int half = dims / 2;
  GRID_STRIDE (j, B * T * nh * half) {
    int i = (int) (j % half);
    size_t row = j / half; /* (b, t, h) flattened */
    int t = (int) (row / nh % T);
    float *v = x + row * D;
    float2 cs = table[(size_t) t * half + i];
    int i0 = adjacent ? 2 * i : i;
    int i1 = adjacent ? 2 * i + 1 : i + half;
    float a = v[i0], bb = v[i1];
    v[i0] = a * cs.x - bb * cs.y;
    v[i1] = a * cs.y + bb * cs.x;
  }
}

extern "C" StrataStatus
strata_cuda_rope_forward (const StrataBackend *be, float *x, int B, int T, int nh, int D, int pos0,
                          const StrataRopeParams *p)
{
  StrataCudaContext *ctx = STRATA_CUDA_CTX (be);
  if (p->pairing == STRATA_ROPE_NONE)
    return STRATA_OK;
  int dims = p->dims;
  if (B < 0 || T < 0 || nh < 0 || D < 0 || pos0 < 0 || dims <= 0 || dims % 2 || dims > D)
    return strata_cuda_fail_arg (ctx, "rope: bad shape (rotary dims must be even and at most D)");
  size_t pairs = (size_t) T * (dims / 2);
  if (!B || !nh || !pairs)
    return STRATA_OK;
  StrataStatus st = strata_cuda_reserve (ctx, (void **) &ctx->rope_table, &ctx->rope_cap, pairs,
                                         sizeof (float2), "rope: angle table");
  if (st != STRATA_OK)
    return st;
  rope_table_kernel<<<strata_cuda_blocks (pairs), STRATA_CUDA_BLOCK, 0, ctx->stream>>> (
      ctx->rope_table, T, pos0, dims, p->theta);
  STRATA_CUDA_LAUNCHED (ctx, "rope_table_kernel");
  size_t n = (size_t) B * pairs * nh;
  rope_kernel<<<strata_cuda_blocks (n), STRATA_CUDA_BLOCK, 0, ctx->stream>>> (
      x, ctx->rope_table, B, T, nh, D, dims, p->pairing == STRATA_ROPE_ADJACENT);
  STRATA_CUDA_LAUNCHED (ctx, "rope_kernel");
  return STRATA_OK;
}

/* The activations, with the CPU backend's formulas and order of operations. */
static __device__ float
activate (float u, int act)
{
  switch (act) {
  case STRATA_ACT_GELU_TANH: {
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
    return u / (1.0f + expf (-2.0f * k * (u + 0.044715f * u * u * u)));
  }
  case STRATA_ACT_GELU_ERF:
    return 0.5f * u * (1.0f + erff (u * 0.70710678118654752f));
  default:
    return u / (1.0f + expf (-u));
  }
}

/* x = act(x), times up when given (gated MLPs) */
static __global__ void
activation_kernel (float *x, const float *up, size_t n, int act)
{
  GRID_STRIDE (i, n)
    x[i] = up ? activate (x[i], act) * up[i] : activate (x[i], act);
}

/* x *= s */
static __global__ void
scale_kernel (float *x, size_t n, float s)
{
  GRID_STRIDE (i, n)
    x[i] *= s;
}

/* x = cap · tanh(x / cap) */
static __global__ void
softcap_kernel (float *x, size_t n, float cap)
{
  GRID_STRIDE (i, n)
    x[i] = cap * tanhf (x[i] / cap);
}

/* y += x */
static __global__ void
add_kernel (float *y, const float *x, size_t n)
{
  GRID_STRIDE (i, n)
    y[i] += x[i];
}

extern "C" StrataStatus
strata_cuda_activation_forward (const StrataBackend *be, float *x, const float *up, size_t n,
                                StrataActivation act)
{
  StrataCudaContext *ctx = STRATA_CUDA_CTX (be);
  if (!n)
    return STRATA_OK;
  activation_kernel<<<strata_cuda_blocks (n), STRATA_CUDA_BLOCK, 0, ctx->stream>>> (x, up, n, (int) act);
  STRATA_CUDA_LAUNCHED (ctx, "activation_kernel");
  return STRATA_OK;
}

extern "C" StrataStatus
strata_cuda_scale_forward (const StrataBackend *be, float *x, size_t n, float s)
{
  StrataCudaContext *ctx = STRATA_CUDA_CTX (be);
  if (!n)
    return STRATA_OK;
  scale_kernel<<<strata_cuda_blocks (n), STRATA_CUDA_BLOCK, 0, ctx->stream>>> (x, n, s);
  STRATA_CUDA_LAUNCHED (ctx, "scale_kernel");
  return STRATA_OK;
}

extern "C" StrataStatus
strata_cuda_softcap_forward (const StrataBackend *be, float *x, size_t n, float cap)
{
  StrataCudaContext *ctx = STRATA_CUDA_CTX (be);
  if (!n)
    return STRATA_OK;
  softcap_kernel<<<strata_cuda_blocks (n), STRATA_CUDA_BLOCK, 0, ctx->stream>>> (x, n, cap);
  STRATA_CUDA_LAUNCHED (ctx, "softcap_kernel");
  return STRATA_OK;
}

extern "C" StrataStatus
strata_cuda_add_forward (const StrataBackend *be, float *y, const float *x, size_t n)
{
  StrataCudaContext *ctx = STRATA_CUDA_CTX (be);
  if (!n)
    return STRATA_OK;
  add_kernel<<<strata_cuda_blocks (n), STRATA_CUDA_BLOCK, 0, ctx->stream>>> (y, x, n);
  STRATA_CUDA_LAUNCHED (ctx, "add_kernel");
  return STRATA_OK;
}

/* Range blockIdx.x of copy_many; the blocks of grid row y stride over its floats. */
static __global__ void
copy_many_kernel (const StrataCopy *copies)
{
  StrataCopy c = copies[blockIdx.x];
  for (size_t i = blockIdx.y * (size_t) blockDim.x + threadIdx.x; i < c.n; i += (size_t) gridDim.y * blockDim.x)
    c.dst[i] = c.src[i];
}

extern "C" StrataStatus
strata_cuda_copy_many (const StrataBackend *be, const StrataCopy *copies, int n_copies)
{
  StrataCudaContext *ctx = STRATA_CUDA_CTX (be);
  if (n_copies < 0)
    return strata_cuda_fail_arg (ctx, "copy_many: negative count");
  size_t longest = 0;
  for (int i = 0; i < n_copies; i++)
    longest = copies[i].n > longest ? copies[i].n : longest;
  if (longest == 0)
    return STRATA_OK;
  StrataStatus st = strata_cuda_stage (ctx, (void **) &ctx->copies, &ctx->copies_cap, copies, (size_t) n_copies,
                                       sizeof (StrataCopy), "copy_many: range buffer");
  if (st != STRATA_OK)
    return st;
  size_t per_range = (longest + STRATA_CUDA_BLOCK - 1) / STRATA_CUDA_BLOCK;
  dim3 grid ((unsigned) n_copies, (unsigned) (per_range < 64 ? per_range : 64));
  copy_many_kernel<<<grid, STRATA_CUDA_BLOCK, 0, ctx->stream>>> (ctx->copies);
  STRATA_CUDA_LAUNCHED (ctx, "copy_many_kernel");
  return STRATA_OK;
}
