/* strata-cuda-private.h: what the CUDA files of the backend share; not for other layers.
 *
 * Every launcher has the signature of its table member in strata-backend.h and is named
 * strata_cuda_<op>_forward; the kernels themselves are <op>_kernel, static to their file.
 * Launchers check every CUDA and cuBLAS call: a failure becomes STRATA_ERR_BACKEND and a
 * message in the context, never an exit. Work is queued on the context's stream; only
 * download (and alloc) wait for it. */
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "strata-backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int device;
  cudaStream_t stream;
  cublasHandle_t blas;
  /* Device scratch the launchers grow on demand; freed only with the context. */
  int32_t *ids;       /* (R) token ids for embed */
  size_t ids_cap;     /* in elements */
  float2 *rope_table; /* (T, D/2) cos, sin of position t and pair i */
  size_t rope_cap;    /* in elements */
  void **attn_ptrs;   /* 5 arrays of B*H pointers for the batched attention products */
  size_t attn_cap;    /* in pointers */
  float *attn_pattern; /* (B, H, Tq, Tk) when the caller asks for no pattern */
  size_t attn_pattern_cap; /* in floats */
  void *x_bf16;        /* (R, K) a product's input rounded to BF16 */
  size_t x_bf16_cap;   /* in elements */
  void *w_convert;     /* rows of a matrix converted for one product */
  size_t w_convert_cap; /* in bytes, at most STRATA_CUDA_CONVERT_BYTES (or one row) */
  void *summary;       /* a logit summary's answers and ids before they go to the host */
  size_t summary_cap;  /* in bytes */
  StrataCopy *copies;  /* a copy_many's ranges */
  size_t copies_cap;   /* in elements */
  char error[512];
} StrataCudaContext;

#define STRATA_CUDA_CTX(be) ((StrataCudaContext *) (be)->ctx)

/* Bytes of matrix rows a product converts at a time (F16/BF16 widened to F32 for fp32 and
 * tf32 products, F32/F16 rounded to BF16 for bf16 ones). */
#define STRATA_CUDA_CONVERT_BYTES ((size_t) 64 << 20)

/* Threads per block of the elementwise and per-row kernels. */
#define STRATA_CUDA_BLOCK 256

/* Record a failure of `what` in the context and return STRATA_ERR_BACKEND. */
StrataStatus strata_cuda_fail (StrataCudaContext *ctx, const char *what, cudaError_t err);
StrataStatus strata_cuda_fail_blas (StrataCudaContext *ctx, const char *what, cublasStatus_t st);
StrataStatus strata_cuda_fail_arg (StrataCudaContext *ctx, const char *what);

#define STRATA_CUDA_TRY(ctx, call)                                                                 \
  do {                                                                                             \
    cudaError_t err_ = (call);                                                                     \
    if (err_ != cudaSuccess)                                                                       \
      return strata_cuda_fail ((ctx), #call, err_);                                                \
  } while (0)

#define STRATA_CUBLAS_TRY(ctx, call)                                                               \
  do {                                                                                             \
    cublasStatus_t st_ = (call);                                                                   \
    if (st_ != CUBLAS_STATUS_SUCCESS)                                                              \
      return strata_cuda_fail_blas ((ctx), #call, st_);                                            \
  } while (0)

/* After a <<<>>> launch: configuration errors show here, faults only at the next sync. */
#define STRATA_CUDA_LAUNCHED(ctx, name)                                                            \
  do {                                                                                             \
    cudaError_t err_ = cudaGetLastError ();                                                        \
    if (err_ != cudaSuccess)                                                                       \
      return strata_cuda_fail ((ctx), "launch of " name, err_);                                    \
  } while (0)

/* Blocks for a grid-stride loop over n items, capped so the count always fits a launch. */
static inline unsigned
strata_cuda_blocks (size_t n)
{
  size_t b = (n + STRATA_CUDA_BLOCK - 1) / STRATA_CUDA_BLOCK;
  return (unsigned) (b < 65535 * 8 ? b : 65535 * 8);
}

/* Make sure `*buf` holds at least `want` elements of `elem` bytes (contents not kept). */
StrataStatus strata_cuda_reserve (StrataCudaContext *ctx, void **buf, size_t *cap, size_t want,
                                  size_t elem, const char *what);
/* Reserve `*buf` for n elements and copy the host array `src` into it on the stream. From
 * pageable memory the copy is staged before the call returns (the caller may reuse `src`),
 * and it is ordered after the last kernel that read the buffer and before the next. */
StrataStatus strata_cuda_stage (StrataCudaContext *ctx, void **buf, size_t *cap, const void *src, size_t n,
                                size_t elem, const char *what);

/* Launchers, one per table member (strata-backend.h gives shapes and semantics). */
StrataStatus strata_cuda_linear_forward (const StrataBackend *be, float *y, const float *x,
                                         const StrataMat *w, const float *b, int R, int N, int K,
                                         StrataPrecision precision);
StrataStatus strata_cuda_norm_forward (const StrataBackend *be, float *y, const float *x,
                                       const float *w, const float *b, int R, int C,
                                       const StrataNormParams *p);
StrataStatus strata_cuda_embed_forward (const StrataBackend *be, float *out, const StrataMat *table,
                                        const int32_t *ids, int R, int C);
StrataStatus strata_cuda_rope_forward (const StrataBackend *be, float *x, int B, int T, int nh,
                                       int D, int pos0, const StrataRopeParams *p);
StrataStatus strata_cuda_attention_forward (const StrataBackend *be, float *z, float *pattern,
                                            const float *q, const float *k, const float *v,
                                            int B, int Tq, int Tk, int H, int K, int D,
                                            const StrataAttnParams *p);
StrataStatus strata_cuda_activation_forward (const StrataBackend *be, float *x, const float *up,
                                             size_t n, StrataActivation act);
StrataStatus strata_cuda_add_forward (const StrataBackend *be, float *y, const float *x, size_t n);
StrataStatus strata_cuda_scale_forward (const StrataBackend *be, float *x, size_t n, float s);
StrataStatus strata_cuda_softcap_forward (const StrataBackend *be, float *x, size_t n, float cap);
StrataStatus strata_cuda_copy_many (const StrataBackend *be, const StrataCopy *copies, int n_copies);
StrataStatus strata_cuda_logit_summary (const StrataBackend *be, const float *logits, int R, int V,
                                        const StrataLogitQuery *q, StrataLogitSummary *out);

#ifdef __cplusplus
}
#endif
