/* strata-cuda-elementwise.cu: embedding gather, RoPE, GELU, SwiGLU and residual add.
 *
 * Grid-stride loops over flat indices (size_t), so any n fits a capped grid. Formulas are
 * those of the CPU backend, in the same order of operations; built without fast-math so
 * expf/tanhf are the accurate library versions. */
#include "strata-cuda-private.h"

#define GRID_STRIDE(i, n)                                                                          \
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < (n);                          \
       i += (size_t) gridDim.x * blockDim.x)

/* out (R, C) = table (V, C) [ids (R)] */
static __global__ void
embed_kernel (float *out, const float *table, const int32_t *ids, size_t R, size_t C)
{
  GRID_STRIDE (i, R * C)
    out[i] = table[(size_t) ids[i / C] * C + i % C];
}

extern "C" StrataStatus
strata_cuda_embed_forward (const StrataBackend *be, float *out, const float *table,
                           const int32_t *ids, int R, int C)
{
  StrataCudaContext *ctx = STRATA_CUDA_CTX (be);
  if (R < 0 || C < 0)
    return strata_cuda_fail_arg (ctx, "embed: negative shape");
  if (R == 0 || C == 0)
    return STRATA_OK;
  StrataStatus st = strata_cuda_reserve (ctx, (void **) &ctx->ids, &ctx->ids_cap, (size_t) R,
                                         sizeof (int32_t), "embed: token id buffer");
  if (st != STRATA_OK)
    return st;
  /* From pageable host memory the call returns once ids are staged: the caller may reuse
   * them, and the gather below is ordered after the copy on the same stream. */
  STRATA_CUDA_TRY (ctx, cudaMemcpyAsync (ctx->ids, ids, (size_t) R * sizeof (int32_t),
                                         cudaMemcpyHostToDevice, ctx->stream));
  size_t n = (size_t) R * C;
  embed_kernel<<<strata_cuda_blocks (n), STRATA_CUDA_BLOCK, 0, ctx->stream>>> (out, table,
                                                                                 ctx->ids, R, C);
  STRATA_CUDA_LAUNCHED (ctx, "embed_kernel");
  return STRATA_OK;
}

/* table (T, D/2): cos and sin of t · theta^(-2i/D), computed in double and rounded once,
 * exactly as the CPU backend does per element. */
static __global__ void
rope_table_kernel (float2 *table, int T, int D, float theta)
{
  int half = D / 2;
  GRID_STRIDE (j, (size_t) T * half) {
    int t = (int) (j / half), i = (int) (j % half);
    double angle = t * pow ((double) theta, -2.0 * i / D);
    table[j] = make_float2 ((float) cos (angle), (float) sin (angle));
  }
}

/* In place: x (B, T, nh, D); pair i of a head is (2i, 2i+1) when adjacent, else
 * (i, i + D/2). One thread per pair. */
static __global__ void
rope_kernel (float *x, const float2 *table, size_t B, int T, int nh, int D, int adjacent)
{
  int half = D / 2;
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
strata_cuda_rope_forward (const StrataBackend *be, float *x, int B, int T, int nh, int D,
                          StrataRope pairing, float theta)
{
  StrataCudaContext *ctx = STRATA_CUDA_CTX (be);
  if (B < 0 || T < 0 || nh < 0 || D < 0 || D % 2)
    return strata_cuda_fail_arg (ctx, "rope: bad shape (D must be even)");
  if (pairing == STRATA_ROPE_NONE)
    return STRATA_OK;
  size_t pairs = (size_t) T * (D / 2);
  if (!B || !nh || !pairs)
    return STRATA_OK;
  StrataStatus st = strata_cuda_reserve (ctx, (void **) &ctx->rope_table, &ctx->rope_cap, pairs,
                                         sizeof (float2), "rope: angle table");
  if (st != STRATA_OK)
    return st;
  rope_table_kernel<<<strata_cuda_blocks (pairs), STRATA_CUDA_BLOCK, 0, ctx->stream>>> (
      ctx->rope_table, T, D, theta);
  STRATA_CUDA_LAUNCHED (ctx, "rope_table_kernel");
  size_t n = (size_t) B * pairs * nh;
  rope_kernel<<<strata_cuda_blocks (n), STRATA_CUDA_BLOCK, 0, ctx->stream>>> (
      x, ctx->rope_table, B, T, nh, D, pairing == STRATA_ROPE_ADJACENT);
  STRATA_CUDA_LAUNCHED (ctx, "rope_kernel");
  return STRATA_OK;
}

/* In place: x = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³))) */
static __global__ void
gelu_kernel (float *x, size_t n)
{
  const float k = 0.7978845608028654f; /* sqrt(2/pi) */
  GRID_STRIDE (i, n) {
    float u = x[i];
    x[i] = 0.5f * u * (1.0f + tanhf (k * (u + 0.044715f * u * u * u)));
  }
}

/* gate = silu(gate) · up */
static __global__ void
swiglu_kernel (float *gate, const float *up, size_t n)
{
  GRID_STRIDE (i, n)
    gate[i] = gate[i] / (1.0f + expf (-gate[i])) * up[i];
}

/* y += x */
static __global__ void
add_kernel (float *y, const float *x, size_t n)
{
  GRID_STRIDE (i, n)
    y[i] += x[i];
}

extern "C" StrataStatus
strata_cuda_gelu_forward (const StrataBackend *be, float *x, size_t n)
{
  StrataCudaContext *ctx = STRATA_CUDA_CTX (be);
  if (!n)
    return STRATA_OK;
  gelu_kernel<<<strata_cuda_blocks (n), STRATA_CUDA_BLOCK, 0, ctx->stream>>> (x, n);
  STRATA_CUDA_LAUNCHED (ctx, "gelu_kernel");
  return STRATA_OK;
}

extern "C" StrataStatus
strata_cuda_swiglu_forward (const StrataBackend *be, float *gate, const float *up, size_t n)
{
  StrataCudaContext *ctx = STRATA_CUDA_CTX (be);
  if (!n)
    return STRATA_OK;
  swiglu_kernel<<<strata_cuda_blocks (n), STRATA_CUDA_BLOCK, 0, ctx->stream>>> (gate, up, n);
  STRATA_CUDA_LAUNCHED (ctx, "swiglu_kernel");
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
