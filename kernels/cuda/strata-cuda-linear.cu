/* strata-cuda-linear.cu: y (R, N) = x (R, K) · w (N, K)ᵀ + b (N) with cuBLAS.
 *
 * cuBLAS is column-major. A row-major (R, N) matrix is the column-major (N, R) matrix of
 * its transpose, so the product is computed as yᵀ (N, R) = w · xᵀ: w read as column-major
 * (K, N) and transposed, x read as column-major (K, R) as is. The bias is written into y
 * first and the product accumulated with beta = 1, as the CPU backend does. */
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

extern "C" StrataStatus
strata_cuda_linear_forward (const StrataBackend *be, float *y, const float *x, const StrataMat *wm,
                            const float *b, int R, int N, int K)
{
  StrataCudaContext *ctx = STRATA_CUDA_CTX (be);
  if (wm->dtype != STRATA_DTYPE_F32)
    return strata_cuda_fail_arg (ctx, "linear: this backend takes F32 matrices only");
  const float *w = (const float *) wm->data;
  if (R < 0 || N < 0 || K < 0)
    return strata_cuda_fail_arg (ctx, "linear: negative shape");
  if (R == 0 || N == 0)
    return STRATA_OK;
  float alpha = 1.0f, beta = 0.0f;
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
  STRATA_CUBLAS_TRY (ctx, cublasSgemm (ctx->blas, CUBLAS_OP_T, CUBLAS_OP_N, N, R, K, &alpha, w,
                                       K, x, K, &beta, y, N));
  return STRATA_OK;
}
