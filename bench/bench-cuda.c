/* bench-cuda: the CUDA backend against the CPU on a GPT-2-small-shaped model (12 layers,
 * 768 wide, vocabulary 50257, seeded random weights), with ratios measured in this run:
 *   1. one 128-token prompt, CPU time / CUDA time (and the largest logit difference);
 *   2. a batch of 32 prompts of 128 tokens on CUDA, tokens/s and GFLOP/s against this
 *      GPU's fp32 cuBLAS sgemm peak (4096³, no TF32 — the math mode the backend uses).
 * Device times end with a device synchronisation and leave the logits on the device (the
 * engine copies them out only when asked). A benchmark, not a test: without a GPU it says
 * so and exits 0. */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>

#include "bench-checkpoint.h"
#include "strata-backend-cuda.h"
#include "strata-engine.h"
#include "strata-model.h"

enum { L = 12, C = 768, H = 12, V = 50257, N_CTX = 1024, T = 128, BATCH = 32 };

/* Best fp32 GFLOP/s of cuBLAS on 4096³ products, timed with events; 0 on failure. */
static double
cublas_peak (void)
{
  const int n = 4096;
  size_t bytes = (size_t) n * n * sizeof (float);
  float *a = NULL, *b = NULL, *c = NULL;
  cublasHandle_t h = NULL;
  cudaEvent_t e0 = NULL, e1 = NULL;
  double best = 0;
  if (cudaMalloc ((void **) &a, bytes) || cudaMalloc ((void **) &b, bytes) ||
      cudaMalloc ((void **) &c, bytes) || cudaMemset (a, 0, bytes) || cudaMemset (b, 0, bytes) ||
      cublasCreate (&h) || cublasSetMathMode (h, CUBLAS_DEFAULT_MATH) || cudaEventCreate (&e0) ||
      cudaEventCreate (&e1))
    goto out;
  float one = 1, zero = 0;
  for (int rep = 0; rep < 8; rep++) { /* the first warms up */
    cudaEventRecord (e0, 0);
    if (cublasSgemm (h, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &one, a, n, b, n, &zero, c, n))
      goto out;
    cudaEventRecord (e1, 0);
    float ms = 0;
    if (cudaEventSynchronize (e1) || cudaEventElapsedTime (&ms, e0, e1))
      goto out;
    if (rep > 0)
      best = MAX (best, 2.0 * n * n * n / (ms / 1e3) / 1e9);
  }
out:
  if (e0)
    cudaEventDestroy (e0);
  if (e1)
    cudaEventDestroy (e1);
  if (h)
    cublasDestroy (h);
  cudaFree (a), cudaFree (b), cudaFree (c);
  cudaGetLastError ();
  return best;
}

/* Best wall time of `reps` forward passes (after one warm-up), in seconds; < 0 on failure. */
static double
time_forward (StrataEngine *e, const int32_t *tokens, int B, float *logits, int reps)
{
  double best = INFINITY;
  for (int rep = 0; rep <= reps; rep++) {
    gint64 t0 = g_get_monotonic_time ();
    if (strata_engine_forward (e, tokens, B, T, NULL, logits) != STRATA_OK ||
        cudaDeviceSynchronize () != cudaSuccess) {
      fprintf (stderr, "bench-cuda: %s forward: %s\n", strata_engine_get_backend (e)->name,
               strata_engine_get_error (e));
      return -1;
    }
    if (rep > 0)
      best = MIN (best, (g_get_monotonic_time () - t0) / 1e6);
  }
  return best;
}

/* Matrix-product FLOPs of one pass of B sequences (as bench-forward counts them). */
static double
forward_flops (int B)
{
  double linear = 2.0 * T * L * 12.0 * C * C;
  double attn = 2.0 * 2.0 * L * C * (T * (T + 1) / 2.0);
  double unembed = 2.0 * T * (double) V * C;
  return B * (linear + attn + unembed);
}

int
main (int argc, char **argv)
{
  char why[256];
  const StrataBackend *cuda = strata_backend_cuda (why, sizeof why);
  if (!cuda) {
    printf ("bench-cuda: skipped, %s\n", why);
    return 0;
  }
  printf ("%s\n", why);

  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) m = strata_bench_open_gpt2_small (&error);
  if (!m) {
    fprintf (stderr, "bench-cuda: %s\n", error->message);
    return 1;
  }
  StrataStatus st;
  StrataEngine *ec = strata_engine_new (strata_backend_cpu (), m->weights, &st);
  StrataEngine *ed = strata_engine_new (cuda, m->weights, &st);
  if (!ec || !ed) {
    fprintf (stderr, "bench-cuda: engine: %s (%s)\n", strata_status_to_string (st),
             cuda->last_error (cuda));
    return 1;
  }
  g_autofree int32_t *tokens = g_new (int32_t, BATCH * T);
  for (int i = 0; i < BATCH * T; i++)
    tokens[i] = (int32_t) ((i * 7919u) % V);

  /* 1. One prompt, CPU against CUDA, logits copied out on both. */
  g_autofree float *lc = g_new (float, (gsize) T * V), *ld = g_new (float, (gsize) T * V);
  double t_cpu = time_forward (ec, tokens, 1, lc, 3);
  double t_gpu = time_forward (ed, tokens, 1, ld, 10);
  if (t_cpu < 0 || t_gpu < 0)
    return 1;
  double worst = 0;
  for (gsize i = 0; i < (gsize) T * V; i++)
    worst = MAX (worst, fabs ((double) lc[i] - ld[i]));
  printf ("forward, 1 x %d tokens: CPU %.1f ms, CUDA %.2f ms, CUDA %.1fx faster; max |logit diff| %.2e\n",
          T, t_cpu * 1e3, t_gpu * 1e3, t_cpu / t_gpu, worst);

  /* 2. A batch on CUDA against the cuBLAS peak. */
  double peak = cublas_peak ();
  double t_batch = time_forward (ed, tokens, BATCH, NULL, 5);
  if (t_batch < 0)
    return 1;
  double gflops = forward_flops (BATCH) / t_batch / 1e9;
  printf ("cuBLAS sgemm peak (4096^3, fp32): %.0f GFLOP/s\n", peak);
  printf ("forward, %d x %d tokens on CUDA: %.1f ms, %.0f tokens/s, %.0f GFLOP/s\n", BATCH, T,
          t_batch * 1e3, BATCH * T / t_batch, gflops);
  printf ("fraction of sgemm peak: %.2f\n", peak > 0 ? gflops / peak : 0.0);
  strata_engine_free (ed);
  strata_engine_free (ec);
  return 0;
}
