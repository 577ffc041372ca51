/* bench-cuda: the CUDA backend at the scales researchers work at, with ratios measured in this
 * run.
 *
 *   bench-cuda [--precision fp32|tf32|bf16] [--shapes gpt2,1b,8b] [--dir DIR]
 *
 * First, GPT-2 small (seeded random F32 weights) on one 128-token prompt, CPU time against
 * CUDA time and the largest logit difference. Then one row per shape (GPT-2 small in F32; the
 * Llama-3.2-1B and Llama-3-8B shapes in BF16, random weights written on the spot into DIR,
 * default the temporary directory, and reused when there): the time from opening the
 * checkpoint to the first logit-lens result on 16 tokens (open, upload, lens; the CUDA context
 * is created before and its time printed once), the 64-token resid_pre denoising sweep, a
 * batched forward (8 x 128 tokens) as a fraction of this GPU's cuBLAS peak in the dtype the
 * products use (fp32 sgemm; TF32 or BF16 tensor cores with --precision), and the peak device
 * memory the process held (cudaMemGetInfo after every step). Device times end with a
 * synchronisation. A benchmark, not a test: without a GPU it says so and exits 0. For checking
 * the benchmark itself on a machine without a GPU, STRATA_BENCH_BACKEND=cpu runs the rows on
 * the CPU standing in for the device (cpu-as-device: the checkpoint loaded into its "device"
 * memory as on a GPU; no peak, no device memory: those read 0). */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench-checkpoint.h"
#include "strata-backend-cuda.h"
#include "strata-lens.h"
#include "strata-patching.h"
#include "strata-weights-device.h"

static double
seconds_since (gint64 t0)
{
  return (g_get_monotonic_time () - t0) / 1e6;
}

/* Best GFLOP/s of cuBLAS on 4096³ products in the precision's dtype and compute type, timed
 * with events; 0 on failure. */
static double
cublas_peak (StrataPrecision precision)
{
  const int n = 4096;
  int bf16 = precision == STRATA_PRECISION_BF16;
  size_t in_bytes = (size_t) n * n * (bf16 ? 2 : 4), out_bytes = (size_t) n * n * 4;
  void *a = NULL, *b = NULL, *c = NULL;
  cublasHandle_t h = NULL;
  cudaEvent_t e0 = NULL, e1 = NULL;
  double best = 0;
  cudaDataType in = bf16 ? CUDA_R_16BF : CUDA_R_32F;
  cublasComputeType_t compute = precision == STRATA_PRECISION_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  if (cudaMalloc (&a, in_bytes) || cudaMalloc (&b, in_bytes) || cudaMalloc (&c, out_bytes) ||
      cudaMemset (a, 0, in_bytes) || cudaMemset (b, 0, in_bytes) || cublasCreate (&h) ||
      cublasSetMathMode (h, CUBLAS_DEFAULT_MATH) || cudaEventCreate (&e0) || cudaEventCreate (&e1))
    goto out;
  float one = 1, zero = 0;
  for (int rep = 0; rep < 8; rep++) { /* the first warms up */
    cudaEventRecord (e0, 0);
    if (cublasGemmEx (h, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &one, a, in, n, b, in, n, &zero, c, CUDA_R_32F, n,
                      compute, CUBLAS_GEMM_DEFAULT))
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

/* Device memory in use by everything now (total - free), and the most seen so far. */
static size_t peak_used;
static gboolean on_cpu; /* STRATA_BENCH_BACKEND=cpu */

/* Wait for the device's queued work (nothing to wait for on the CPU). */
static gboolean
device_sync (void)
{
  return on_cpu || cudaDeviceSynchronize () == cudaSuccess;
}

static void
note_memory (void)
{
  size_t free_b = 0, total = 0;
  if (cudaMemGetInfo (&free_b, &total) == cudaSuccess)
    peak_used = MAX (peak_used, total - free_b);
  cudaGetLastError ();
}

/* Best wall time of `reps` forward passes of B x T tokens (after one warm-up), in seconds;
 * < 0 on failure. */
static double
time_forward (StrataEngine *e, const int32_t *tokens, int B, int T, float *logits, int reps)
{
  double best = G_MAXDOUBLE;
  for (int rep = 0; rep <= reps; rep++) {
    gint64 t0 = g_get_monotonic_time ();
    if (strata_engine_forward (e, tokens, B, T, NULL, logits) != STRATA_OK || !device_sync ()) {
      fprintf (stderr, "bench-cuda: %s forward: %s\n", strata_engine_get_backend (e)->name, strata_engine_get_error (e));
      return -1;
    }
    note_memory ();
    if (rep > 0)
      best = MIN (best, seconds_since (t0));
  }
  return best;
}

/* Matrix-product FLOPs of one pass of B x T tokens (every projection, the attention products
 * over the causal half, the unembedding). */
static double
forward_flops (const StrataConfig *g, int B, int T)
{
  double C = g->d_model, HD = (double) g->n_heads * g->d_head, KD = (double) g->n_kv_heads * g->d_head;
  double mlp = (g->recipe.gated ? 3.0 : 2.0) * C * g->d_mlp;
  double per_token = 2.0 * g->n_layers * (C * HD + 2 * C * KD + HD * C + mlp) + 2.0 * C * g->vocab;
  double attn = 2.0 * 2.0 * g->n_layers * HD * (T * (T + 1) / 2.0);
  return B * (T * per_token + attn);
}

/* 1. GPT-2 small on one prompt, CPU against CUDA, logits copied out on both. */
static gboolean
cpu_against_cuda (const StrataBackend *cuda, StrataPrecision precision)
{
  enum { T = 128 };
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) m = strata_bench_open_gpt2_small (&error);
  if (!m) {
    fprintf (stderr, "bench-cuda: %s\n", error->message);
    return FALSE;
  }
  StrataStatus st;
  StrataEngineOptions eo = { 0, precision };
  StrataEngine *ec = strata_engine_new_with (strata_backend_cpu (), m->weights, &eo, &st);
  StrataEngine *ed = ec ? strata_engine_new_with (cuda, m->weights, &eo, &st) : NULL;
  if (!ec || !ed) {
    fprintf (stderr, "bench-cuda: engine: %s (%s)\n", strata_status_to_string (st), cuda->last_error (cuda));
    strata_engine_free (ec);
    return FALSE;
  }
  int V = m->weights->cfg.vocab;
  g_autofree int32_t *tokens = g_new (int32_t, T);
  for (int i = 0; i < T; i++)
    tokens[i] = (int32_t) ((i * 7919u) % (unsigned) V);
  g_autofree float *lc = g_new (float, (gsize) T * V), *ld = g_new (float, (gsize) T * V);
  double t_cpu = time_forward (ec, tokens, 1, T, lc, 3), t_gpu = time_forward (ed, tokens, 1, T, ld, 10);
  strata_engine_free (ed);
  strata_engine_free (ec);
  if (t_cpu < 0 || t_gpu < 0)
    return FALSE;
  double worst = 0;
  for (gsize i = 0; i < (gsize) T * V; i++)
    worst = MAX (worst, fabs ((double) lc[i] - ld[i]));
  printf ("GPT-2 small, forward of 1 x %d tokens: CPU %.1f ms, CUDA %.2f ms, CUDA %.1fx faster; max |logit diff| %.2e\n",
          T, t_cpu * 1e3, t_gpu * 1e3, t_cpu / t_gpu, worst);
  return TRUE;
}

/* A checkpoint of `shape` in dir (written unless its config.json is there). */
static gboolean
ensure_checkpoint (const char *dir, const char *shape, GError **error)
{
  g_autofree char *config = g_build_filename (dir, "config.json", NULL);
  if (g_file_test (config, G_FILE_TEST_EXISTS))
    return TRUE;
  g_mkdir_with_parents (dir, 0755);
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = strcmp (shape, "gpt2") == 0 ? strata_bench_write_gpt2 (dir, &strata_bench_gpt2_small, error)
                : strata_bench_write_llama (dir, strcmp (shape, "1b") == 0 ? &strata_bench_llama_1b : &strata_bench_llama_8b,
                                            error);
  if (ok)
    printf ("  (checkpoint written to %s in %.1f s, not counted)\n", dir, seconds_since (t0));
  return ok;
}

/* 2. One row: load to first lens, the 64-token resid_pre sweep, a batched forward against the
 * peak, the peak device memory. */
static gboolean
shape_row (const StrataBackend *cuda, const char *shape, const char *root, StrataPrecision precision, double peak)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name = g_strdup_printf ("strata-bench-cuda-%s", shape);
  g_autofree char *dir = g_build_filename (root, name, NULL);
  printf ("%s:\n", shape);
  if (!ensure_checkpoint (dir, shape, &error)) {
    fprintf (stderr, "bench-cuda: %s\n", error->message);
    return FALSE;
  }
  device_sync ();
  peak_used = 0;
  note_memory ();
  size_t before = peak_used;

  enum { LENS_T = 16, SWEEP_T = 64, B = 8, T = 128 };
  gint64 t0 = g_get_monotonic_time ();
  StrataOpenOptions oo = { NULL, strata_matrix_policy_for (cuda), cuda };
  g_autoptr (StrataModel) m = strata_model_open_with (dir, &oo, &error);
  if (!m) {
    fprintf (stderr, "bench-cuda: %s\n", error->message);
    return FALSE;
  }
  double t_open = seconds_since (t0);
  StrataStatus st;
  StrataEngineOptions eo = { 0, precision };
  StrataEngine *e = strata_engine_new_with (cuda, m->weights, &eo, &st);
  if (!e) {
    fprintf (stderr, "bench-cuda: engine: %s (%s)\n", strata_status_to_string (st), cuda->last_error (cuda));
    return FALSE;
  }
  double t_engine = seconds_since (t0);
  note_memory ();
  const StrataConfig *g = &m->weights->cfg;
  StrataPrompt p = { 0 };
  p.ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  p.corrupt_ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  p.targets = g_array_new (FALSE, FALSE, sizeof (StrataTarget));
  for (int t = 0; t < SWEEP_T; t++) {
    int32_t a = (int32_t) ((t * 7919u + 13) % (unsigned) g->vocab), b = t == 5 ? (int32_t) (g->vocab / 3) : a;
    g_array_append_val (p.ids, a);
    g_array_append_val (p.corrupt_ids, b);
  }
  p.contrast = 11;
  StrataPrompt lp = p;
  lp.ids = g_array_sized_new (FALSE, FALSE, sizeof (int32_t), LENS_T);
  g_array_append_vals (lp.ids, p.ids->data, LENS_T);
  StrataLensOptions lo = { .topk = 5, .threshold = 0.5 };
  StrataLensResult *r = strata_lens_run (e, m, &lp, &lo, &error);
  double t_first_lens = seconds_since (t0);
  note_memory ();
  gboolean ok = r != NULL;
  if (!r)
    fprintf (stderr, "bench-cuda: lens: %s\n", error->message);
  strata_lens_result_free (r);
  g_array_unref (lp.ids);

  double t_sweep = -1, t_batch = -1;
  if (ok) {
    StrataTarget target = { (char *) "t", 7 };
    StrataPatchSite site = STRATA_PATCH_RESID_PRE;
    StrataPatchOptions po = { &site, 1, STRATA_PATCH_DENOISE, STRATA_METRIC_LOGIT_DIFF, -1 };
    for (int rep = 0; ok && rep < 2; rep++) { /* the first warms up */
      gint64 s0 = g_get_monotonic_time ();
      StrataPatchResult *pr = strata_patch_run (e, &p, &target, &po, &error);
      device_sync ();
      t_sweep = seconds_since (s0);
      note_memory ();
      if (!pr) {
        fprintf (stderr, "bench-cuda: sweep: %s\n", error->message);
        ok = FALSE;
      }
      strata_patch_result_free (pr);
    }
  }
  if (ok) {
    g_autofree int32_t *tokens = g_new (int32_t, B * T);
    for (int i = 0; i < B * T; i++)
      tokens[i] = (int32_t) ((i * 7919u) % (unsigned) g->vocab);
    t_batch = time_forward (e, tokens, B, T, NULL, 3);
    ok = t_batch > 0;
  }
  if (ok) {
    double gflops = forward_flops (g, B, T) / t_batch / 1e9;
    printf ("  %d layers x %d, %d/%d heads, MLP %d, vocabulary %d; matrices %s on the device, %.2f GB\n", g->n_layers,
            g->d_model, g->n_heads, g->n_kv_heads, g->d_mlp, g->vocab, strata_dtype_to_string (m->weights->tok_embed.dtype),
            m->weights->arena_bytes / 1e9);
    printf ("  load to first lens (%d tokens): %.2f s (open and upload %.2f s, engine %.2f s, lens %.2f s); host "
            "staging held at most %.2f GB\n", LENS_T, t_first_lens, t_open, t_engine - t_open, t_first_lens - t_engine,
            strata_weights_staging_peak (m->weights) / 1e9);
    printf ("  resid_pre sweep, %d tokens (%d patches): %.3f s\n", SWEEP_T, g->n_layers * SWEEP_T, t_sweep);
    printf ("  forward %d x %d tokens: %.1f ms, %.0f GFLOP/s = %.2f of the %s peak\n", B, T, t_batch * 1e3, gflops,
            peak > 0 ? gflops / peak : 0.0, strata_precision_to_string (precision));
    printf ("  peak device memory: %.2f GB (%.2f GB in use before the checkpoint opened)\n", peak_used / 1e9, before / 1e9);
  }
  g_array_unref (p.ids), g_array_unref (p.corrupt_ids), g_array_unref (p.targets);
  strata_engine_free (e);
  return ok;
}

int
main (int argc, char **argv)
{
  g_autofree char *precision_name = NULL, *shapes = NULL, *dir = NULL;
  GOptionEntry entries[] = {
    { "precision", 0, 0, G_OPTION_ARG_STRING, &precision_name, "fp32 (default), tf32 or bf16", "P" },
    { "shapes", 0, 0, G_OPTION_ARG_STRING, &shapes, "Rows to run (default gpt2,1b,8b)", "LIST" },
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, "Where the checkpoints are written (default: the temporary directory)", "DIR" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- the CUDA backend at 124M, 1B and 8B");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    fprintf (stderr, "bench-cuda: %s\n", error->message);
    return 2;
  }
  int p = precision_name ? strata_precision_from_string (precision_name) : STRATA_PRECISION_FP32;
  if (p < 0) {
    fprintf (stderr, "bench-cuda: --precision takes fp32, tf32 or bf16\n");
    return 2;
  }
  StrataPrecision precision = (StrataPrecision) p;

  gint64 t0 = g_get_monotonic_time ();
  char why[256];
  on_cpu = g_strcmp0 (g_getenv ("STRATA_BENCH_BACKEND"), "cpu") == 0;
  const StrataBackend *cuda = on_cpu ? strata_backend_cpu_as_device () : strata_backend_cuda (why, sizeof why);
  if (!cuda) {
    printf ("bench-cuda: skipped, %s\n", why);
    return 0;
  }
  printf ("%s; context created in %.2f s; products: %s\n", on_cpu ? "STRATA_BENCH_BACKEND=cpu: the CPU stands in" : why,
          seconds_since (t0), strata_precision_table.values[precision].long_name);
  if (!on_cpu && !cpu_against_cuda (cuda, precision))
    return 1;
  double peak = on_cpu ? 0 : cublas_peak (precision);
  printf ("cuBLAS peak (4096^3, %s): %.0f GFLOP/s\n", strata_precision_to_string (precision), peak);
  g_auto (GStrv) rows = g_strsplit (shapes ? shapes : "gpt2,1b,8b", ",", -1);
  int status = 0;
  for (int i = 0; rows[i]; i++) {
    if (strcmp (rows[i], "gpt2") != 0 && strcmp (rows[i], "1b") != 0 && strcmp (rows[i], "8b") != 0) {
      fprintf (stderr, "bench-cuda: unknown shape '%s' (gpt2, 1b, 8b)\n", rows[i]);
      return 2;
    }
    if (!shape_row (cuda, rows[i], dir ? dir : g_get_tmp_dir (), precision, peak))
      status = 1;
  }
  return status;
}
