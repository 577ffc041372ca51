/* strata-backend-cuda.cu: the CUDA backend's table, context and memory functions.
 *
 * One context per process, on device 0, with one stream that every kernel and cuBLAS call
 * is queued on; the engine calls the table from one thread at a time. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "strata-backend-cuda.h"
#include "strata-cuda-private.h"

static StrataStatus
vfail (StrataCudaContext *ctx, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (ctx->error, sizeof ctx->error, fmt, ap);
  va_end (ap);
  return STRATA_ERR_BACKEND;
}

StrataStatus
strata_cuda_fail (StrataCudaContext *ctx, const char *what, cudaError_t err)
{
  /* Clears a non-sticky error so the next call does not report it again. */
  cudaGetLastError ();
  return vfail (ctx, "%s: %s (%s)", what, cudaGetErrorString (err), cudaGetErrorName (err));
}

StrataStatus
strata_cuda_fail_blas (StrataCudaContext *ctx, const char *what, cublasStatus_t st)
{
  return vfail (ctx, "%s: %s (%s)", what, cublasGetStatusString (st), cublasGetStatusName (st));
}

StrataStatus
strata_cuda_fail_arg (StrataCudaContext *ctx, const char *what)
{
  vfail (ctx, "%s", what);
  return STRATA_ERR_ARGUMENT;
}

StrataStatus
strata_cuda_reserve (StrataCudaContext *ctx, void **buf, size_t *cap, size_t want, size_t elem,
                     const char *what)
{
  if (want <= *cap)
    return STRATA_OK;
  if (*buf) {
    /* The old buffer may still be read by queued work. */
    STRATA_CUDA_TRY (ctx, cudaStreamSynchronize (ctx->stream));
    STRATA_CUDA_TRY (ctx, cudaFree (*buf));
    *buf = NULL;
    *cap = 0;
  }
  cudaError_t err = cudaMalloc (buf, want * elem);
  if (err != cudaSuccess) {
    *buf = NULL;
    strata_cuda_fail (ctx, what, err);
    return STRATA_ERR_MEMORY;
  }
  *cap = want;
  return STRATA_OK;
}

StrataStatus
strata_cuda_stage (StrataCudaContext *ctx, void **buf, size_t *cap, const void *src, size_t n, size_t elem,
                   const char *what)
{
  StrataStatus st = strata_cuda_reserve (ctx, buf, cap, n, elem, what);
  if (st != STRATA_OK)
    return st;
  STRATA_CUDA_TRY (ctx, cudaMemcpyAsync (*buf, src, n * elem, cudaMemcpyHostToDevice, ctx->stream));
  return STRATA_OK;
}

static float *
cuda_alloc (const StrataBackend *be, size_t n_floats)
{
  StrataCudaContext *ctx = STRATA_CUDA_CTX (be);
  size_t bytes = (n_floats ? n_floats : 1) * sizeof (float);
  void *p = NULL;
  cudaError_t err = cudaMalloc (&p, bytes);
  if (err == cudaSuccess)
    err = cudaMemsetAsync (p, 0, bytes, ctx->stream);
  if (err == cudaSuccess)
    err = cudaStreamSynchronize (ctx->stream);
  if (err != cudaSuccess) {
    strata_cuda_fail (ctx, "cudaMalloc", err);
    if (p)
      cudaFree (p);
    return NULL;
  }
  return (float *) p;
}

static void
cuda_free (const StrataBackend *be, void *p)
{
  if (!p)
    return;
  /* cudaFree waits for the device; a failure here can only be recorded. */
  cudaError_t err = cudaFree (p);
  if (err != cudaSuccess)
    strata_cuda_fail (STRATA_CUDA_CTX (be), "cudaFree", err);
}

/* Free memory of the context's device now (the weights already resident); 0 when the
 * driver does not say. */
static size_t
cuda_memory_free (const StrataBackend *be)
{
  size_t free_bytes = 0, total = 0;
  if (cudaSetDevice (STRATA_CUDA_CTX (be)->device) != cudaSuccess ||
      cudaMemGetInfo (&free_bytes, &total) != cudaSuccess) {
    cudaGetLastError ();
    return 0;
  }
  return free_bytes;
}

/* Copies wait for the stream: the host may reuse src (upload) or read dst (download) as
 * soon as they return, and queued kernels see uploaded values in order. */
static StrataStatus
cuda_memcpy (const StrataBackend *be, void *dst, const void *src, size_t bytes,
             cudaMemcpyKind kind, const char *what)
{
  StrataCudaContext *ctx = STRATA_CUDA_CTX (be);
  if (!bytes)
    return STRATA_OK;
  cudaError_t err = cudaMemcpyAsync (dst, src, bytes, kind, ctx->stream);
  if (err == cudaSuccess && kind != cudaMemcpyDeviceToDevice)
    err = cudaStreamSynchronize (ctx->stream);
  return err == cudaSuccess ? STRATA_OK : strata_cuda_fail (ctx, what, err);
}

static StrataStatus
cuda_upload (const StrataBackend *be, void *dst, const void *src, size_t bytes)
{
  return cuda_memcpy (be, dst, src, bytes, cudaMemcpyHostToDevice, "upload");
}

static StrataStatus
cuda_download (const StrataBackend *be, void *dst, const void *src, size_t bytes)
{
  return cuda_memcpy (be, dst, src, bytes, cudaMemcpyDeviceToHost, "download");
}

static StrataStatus
cuda_copy (const StrataBackend *be, void *dst, const void *src, size_t bytes)
{
  return cuda_memcpy (be, dst, src, bytes, cudaMemcpyDeviceToDevice, "device copy");
}

static const char *
cuda_last_error (const StrataBackend *be)
{
  return STRATA_CUDA_CTX (be)->error;
}

/* Does nothing; launched once to learn whether this binary has code for the device. */
static __global__ void
probe_kernel (void)
{
}

static StrataCudaContext cuda_ctx;
static StrataBackend cuda_backend;
static int cuda_tried;
static char cuda_reason[256];

/* Set up device 0: NULL and a reason when it cannot be used. */
static const StrataBackend *
cuda_open (void)
{
  int count = 0;
  cudaError_t err = cudaGetDeviceCount (&count);
  if (err != cudaSuccess) {
    /* Without a driver (or with one older than the runtime) this is error 35 or 100, not a
     * count of 0. Either way there is no GPU; clear the error for later calls. */
    cudaGetLastError ();
    snprintf (cuda_reason, sizeof cuda_reason, "no usable CUDA device: %s (%s)",
              cudaGetErrorString (err), cudaGetErrorName (err));
    return NULL;
  }
  if (count <= 0) {
    snprintf (cuda_reason, sizeof cuda_reason, "no CUDA device present");
    return NULL;
  }
  StrataCudaContext *ctx = &cuda_ctx;
  const char *step = "cudaSetDevice";
  err = cudaSetDevice (0);
  if (err == cudaSuccess) {
    step = "cudaStreamCreate";
    err = cudaStreamCreateWithFlags (&ctx->stream, cudaStreamNonBlocking);
  }
  if (err != cudaSuccess) {
    cudaGetLastError ();
    snprintf (cuda_reason, sizeof cuda_reason, "CUDA device 0: %s failed: %s", step,
              cudaGetErrorString (err));
    return NULL;
  }
  cublasStatus_t st = cublasCreate (&ctx->blas);
  if (st == CUBLAS_STATUS_SUCCESS)
    st = cublasSetStream (ctx->blas, ctx->stream);
  /* Plain fp32 products (no TF32 tensor cores): results stay within 1e-4 of the CPU. */
  if (st == CUBLAS_STATUS_SUCCESS)
    st = cublasSetMathMode (ctx->blas, CUBLAS_DEFAULT_MATH);
  if (st != CUBLAS_STATUS_SUCCESS) {
    snprintf (cuda_reason, sizeof cuda_reason, "cuBLAS setup failed: %s",
              cublasGetStatusString (st));
    if (ctx->blas)
      cublasDestroy (ctx->blas);
    cudaStreamDestroy (ctx->stream);
    memset (ctx, 0, sizeof *ctx);
    return NULL;
  }

  probe_kernel<<<1, 1, 0, ctx->stream>>> ();
  err = cudaGetLastError ();
  if (err == cudaSuccess)
    err = cudaStreamSynchronize (ctx->stream);
  if (err != cudaSuccess) {
    /* cudaErrorNoKernelImageForDevice: the device is older than every -gencode target. */
    snprintf (cuda_reason, sizeof cuda_reason, "CUDA device 0 cannot run this build: %s",
              cudaGetErrorString (err));
    cudaGetLastError ();
    cublasDestroy (ctx->blas);
    cudaStreamDestroy (ctx->stream);
    memset (ctx, 0, sizeof *ctx);
    return NULL;
  }

  StrataBackend *be = &cuda_backend;
  be->name = "cuda";
  be->ctx = ctx;
  be->host_memory = 0;
  /* Matrices stay in their checkpoint dtype, GGUF blocks included: a product converts blocks
   * of rows on the device as it goes (strata-cuda-linear.cu), cheaper than any host
   * conversion, and a quantized 8B model takes its file's 5 GB, not a 32 GB F32 copy. */
  be->matrix_dtypes = be->fast_dtypes = (1u << STRATA_DTYPE_N) - 1;
  be->alloc = cuda_alloc;
  be->free = cuda_free;
  be->upload = cuda_upload;
  be->download = cuda_download;
  be->copy = cuda_copy;
  be->copy_many = strata_cuda_copy_many;
  be->linear = strata_cuda_linear_forward;
  be->norm = strata_cuda_norm_forward;
  be->embed = strata_cuda_embed_forward;
  be->rope = strata_cuda_rope_forward;
  be->attention = strata_cuda_attention_forward;
  be->activation = strata_cuda_activation_forward;
  be->add = strata_cuda_add_forward;
  be->scale = strata_cuda_scale_forward;
  be->softcap = strata_cuda_softcap_forward;
  be->logit_summary = strata_cuda_logit_summary;
  be->last_error = cuda_last_error;
  be->memory_free = cuda_memory_free;

  cudaDeviceProp prop;
  if (cudaGetDeviceProperties (&prop, 0) == cudaSuccess)
    snprintf (cuda_reason, sizeof cuda_reason, "CUDA device 0: %.120s (sm_%d%d, %.1f GiB)",
              prop.name, prop.major, prop.minor, (double) prop.totalGlobalMem / 1073741824.0);
  else
    snprintf (cuda_reason, sizeof cuda_reason, "CUDA device 0");
  cudaGetLastError ();
  return be;
}

extern "C" const StrataBackend *
strata_backend_cuda (char *err, size_t n)
{
  static const StrataBackend *answer;
  if (!cuda_tried) {
    answer = cuda_open ();
    cuda_tried = 1;
  }
  if (err && n)
    snprintf (err, n, "%s", cuda_reason);
  return answer;
}
