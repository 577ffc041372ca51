/* strata-cuda-linear.cu: y (R, N) = x (R, K) · w (N, K)ᵀ + b (N) with cuBLAS, for F32, F16,
 * BF16 and GGUF block-quantized matrices in three precisions.
 *
 * cuBLAS is column-major. A row-major (R, N) matrix is the column-major (N, R) matrix of
 * its transpose, so the product is computed as yᵀ (N, R) = w · xᵀ: w read as column-major
 * (K, N) and transposed, x read as column-major (K, R) as is. The bias is written into y
 * first and the product accumulated with beta = 1, as the CPU backend does.
 *
 * Matrices stay in their checkpoint dtype on the device. What a product needs in another
 * dtype is converted per block of rows of w into the context's scratch (at most
 * STRATA_CUDA_CONVERT_BYTES), so no layer ever exists whole in a second dtype:
 *   fp32: F32 w as it is; F16/BF16 rows widened to F32 (exact), blocks decoded to F32 (the
 *         CPU's values bit for bit, strata-block-values.h); cublasSgemm, no tensor cores.
 *   tf32: the same inputs, cublasGemmEx with CUBLAS_COMPUTE_32F_FAST_TF32 (cuBLAS rounds).
 *   bf16: x rounded to BF16 once; BF16 w as it is, other rows (decoded) rounded to BF16;
 *         cublasGemmEx with BF16 inputs, fp32 accumulation and an fp32 y. */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "strata-block-values.h"
#include "strata-cuda-private.h"

/* y (R, N) = b broadcast over rows. */
static __global__ void
bias_kernel (float *y, const float *b, size_t R, size_t N)
{
  size_t n = R * N;
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < n;
       i += (size_t) gridDim.x * blockDim.x)
    y[i] = b[i % N];
}

/* One element of `src` in `dtype` as F32 (exact; a block type's value as the CPU decodes it). */
static __device__ float
element_f32 (const void *src, StrataDType dtype, size_t i)
{
  if (dtype >= STRATA_DTYPE_FIRST_BLOCK)
    return strata_block_value (dtype, (const uint8_t *) src, i);
  if (dtype == STRATA_DTYPE_F32)
    return ((const float *) src)[i];
  if (dtype == STRATA_DTYPE_F16)
    return __half2float (((const __half *) src)[i]);
  return __bfloat162float (((const __nv_bfloat16 *) src)[i]);
}

/* dst (n) F32 = src (n) in `dtype`. */
static __global__ void
to_f32_kernel (float *dst, const void *src, StrataDType dtype, size_t n)
{
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < n;
       i += (size_t) gridDim.x * blockDim.x)
    dst[i] = element_f32 (src, dtype, i);
}

/* dst (n) BF16 = src (n) in `dtype`, rounded to nearest even (as the CPU rounds). */
static __global__ void
to_bf16_kernel (__nv_bfloat16 *dst, const void *src, StrataDType dtype, size_t n)
{
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < n;
       i += (size_t) gridDim.x * blockDim.x)
    dst[i] = __float2bfloat16_rn (element_f32 (src, dtype, i));
}

/* y[:, n0:n0+nb] (+)= x · w[n0:n0+nb]ᵀ, w rows in `wtype`, x in `xtype`; y is column block n0
 * of the (R, N) output: in cuBLAS's view rows n0.. of yᵀ, leading dimension N. */
static StrataStatus
gemm_rows (StrataCudaContext *ctx, float *y, const void *x, cudaDataType xtype, const void *w,
           cudaDataType wtype, int R, int nb, int N, int K, float beta, StrataPrecision precision)
{
  float alpha = 1.0f;
  if (precision == STRATA_PRECISION_FP32) {
    STRATA_CUBLAS_TRY (ctx, cublasSgemm (ctx->blas, CUBLAS_OP_T, CUBLAS_OP_N, nb, R, K, &alpha,
                                         (const float *) w, K, (const float *) x, K, &beta, y, N));
    return STRATA_OK;
  }
  cublasComputeType_t compute = precision == STRATA_PRECISION_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32
                                                                   : CUBLAS_COMPUTE_32F;
  STRATA_CUBLAS_TRY (ctx, cublasGemmEx (ctx->blas, CUBLAS_OP_T, CUBLAS_OP_N, nb, R, K, &alpha, w,
                                        wtype, K, x, xtype, K, &beta, y, CUDA_R_32F, N, compute,
                                        CUBLAS_GEMM_DEFAULT));
  return STRATA_OK;
}

extern "C" StrataStatus
strata_cuda_linear_forward (const StrataBackend *be, float *y, const float *x, const StrataMat *wm,
                            const float *b, int R, int N, int K, StrataPrecision precision)
{
  StrataCudaContext *ctx = STRATA_CUDA_CTX (be);
  if (R < 0 || N < 0 || K < 0)
    return strata_cuda_fail_arg (ctx, "linear: negative shape");
  if ((int) precision < 0 || precision >= STRATA_PRECISION_N)
    return strata_cuda_fail_arg (ctx, "linear: unknown precision");
  int w_block, w_block_bytes;
  strata_dtype_layout (wm->dtype, &w_block, &w_block_bytes);
  if ((int) wm->dtype < 0 || wm->dtype >= STRATA_DTYPE_N || K % w_block)
    return strata_cuda_fail_arg (ctx, "linear: unknown matrix dtype, or rows that are not whole blocks");
  if (R == 0 || N == 0)
    return STRATA_OK;
  float beta = 0.0f;
  if (b) {
    size_t n = (size_t) R * N;
    bias_kernel<<<strata_cuda_blocks (n), STRATA_CUDA_BLOCK, 0, ctx->stream>>> (y, b, R, N);
    STRATA_CUDA_LAUNCHED (ctx, "bias_kernel");
    beta = 1.0f;
  }
  if (K == 0) {
    /* An empty sum: y is the bias or 0 (cuBLAS rejects lda = 0). */
    if (!b)
      STRATA_CUDA_TRY (ctx, cudaMemsetAsync (y, 0, (size_t) R * N * sizeof (float), ctx->stream));
    return STRATA_OK;
  }

  int bf16 = precision == STRATA_PRECISION_BF16;
  const void *xin = x;
  cudaDataType xtype = CUDA_R_32F;
  if (bf16) {
    size_t n = (size_t) R * K;
    StrataStatus st = strata_cuda_reserve (ctx, &ctx->x_bf16, &ctx->x_bf16_cap, n,
                                           sizeof (__nv_bfloat16), "linear: BF16 input buffer");
    if (st != STRATA_OK)
      return st;
    to_bf16_kernel<<<strata_cuda_blocks (n), STRATA_CUDA_BLOCK, 0, ctx->stream>>> (
      (__nv_bfloat16 *) ctx->x_bf16, x, STRATA_DTYPE_F32, n);
    STRATA_CUDA_LAUNCHED (ctx, "to_bf16_kernel");
    xin = ctx->x_bf16;
    xtype = CUDA_R_16BF;
  }

  /* The matrix as it is when the product takes its dtype. */
  if ((wm->dtype == STRATA_DTYPE_F32 && !bf16) || (wm->dtype == STRATA_DTYPE_BF16 && bf16))
    return gemm_rows (ctx, y, xin, xtype, wm->data, bf16 ? CUDA_R_16BF : CUDA_R_32F, R, N, N, K,
                      beta, precision);

  /* Otherwise blocks of rows converted into scratch. */
  size_t out_elem = bf16 ? sizeof (__nv_bfloat16) : sizeof (float);
  size_t rows = STRATA_CUDA_CONVERT_BYTES / ((size_t) K * out_elem);
  int block = rows < 1 ? 1 : rows > (size_t) N ? N : (int) rows;
  StrataStatus st = strata_cuda_reserve (ctx, &ctx->w_convert, &ctx->w_convert_cap,
                                         (size_t) block * K * out_elem, 1,
                                         "linear: matrix conversion buffer");
  if (st != STRATA_OK)
    return st;
  size_t row_bytes = (size_t) K / w_block * w_block_bytes;
  for (int n0 = 0; n0 < N; n0 += block) {
    int nb = N - n0 < block ? N - n0 : block;
    size_t n = (size_t) nb * K;
    const void *src = (const char *) wm->data + (size_t) n0 * row_bytes;
    if (bf16)
      to_bf16_kernel<<<strata_cuda_blocks (n), STRATA_CUDA_BLOCK, 0, ctx->stream>>> (
        (__nv_bfloat16 *) ctx->w_convert, src, wm->dtype, n);
    else
      to_f32_kernel<<<strata_cuda_blocks (n), STRATA_CUDA_BLOCK, 0, ctx->stream>>> (
        (float *) ctx->w_convert, src, wm->dtype, n);
    STRATA_CUDA_LAUNCHED (ctx, "matrix conversion kernel");
    /* Queued on the same stream: the next block's conversion waits for this product. */
    st = gemm_rows (ctx, y + n0, xin, xtype, ctx->w_convert, bf16 ? CUDA_R_16BF : CUDA_R_32F, R,
                    nb, N, K, beta, precision);
    if (st != STRATA_OK)
      return st;
  }
  return STRATA_OK;
}
