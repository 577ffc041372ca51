/* test-precision.c: the TF32 and BF16 product precisions (--precision), as the CPU backend
 * emulates them (suite 'unit')
 *
 * Rounding is checked on values whose answer follows from the formats alone (BF16 keeps 7
 * mantissa bits, TF32 10; ties go to the even neighbour). A product in a precision must equal
 * an fp32 product of the rounded inputs, whatever the matrix dtype (GGUF block quantizations
 * included) and block size. Whole
 * forwards of the real stories260K checkpoint are compared with llama2.c's float64 reference
 * logits (tools/reference/stories260k_reference.py): fp32 stays within 1e-4, each narrower
 * precision lands further away but within a bound that follows from its unit roundoff, and
 * the next-token choice holds. The measured errors are printed (the README quotes them). */
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "golden-reader.h"
#include "strata-engine.h"
#include "strata-model.h"
#include "test-blocks.h"

static float
rounded (StrataPrecision p, float v)
{
  strata_round_to_precision (p, &v, 1);
  return v;
}

static void
test_rounding (void)
{
  /* BF16: 1 + 2^-8 is half an ulp above 1 (ulp 2^-7): a tie, to the even 1. 1 + 3·2^-8 is a
   * tie between 1 + 2^-7 (odd) and 1 + 2^-6 (even). Just above a tie rounds up. */
  g_assert_cmpfloat (rounded (STRATA_PRECISION_BF16, 1.0f + 0x1p-8f), ==, 1.0f);
  g_assert_cmpfloat (rounded (STRATA_PRECISION_BF16, 1.0f + 3 * 0x1p-8f), ==, 1.0f + 0x1p-6f);
  g_assert_cmpfloat (rounded (STRATA_PRECISION_BF16, 1.0f + 0x1p-8f + 0x1p-20f), ==, 1.0f + 0x1p-7f);
  g_assert_cmpfloat (rounded (STRATA_PRECISION_BF16, -3.0f - 0x1p-9f), ==, -3.0f);
  /* TF32: ulp 2^-10 at 1. */
  g_assert_cmpfloat (rounded (STRATA_PRECISION_TF32, 1.0f + 0x1p-11f), ==, 1.0f);
  g_assert_cmpfloat (rounded (STRATA_PRECISION_TF32, 1.0f + 3 * 0x1p-11f), ==, 1.0f + 0x1p-9f);
  g_assert_cmpfloat (rounded (STRATA_PRECISION_TF32, 1.0f + 0x1p-10f), ==, 1.0f + 0x1p-10f);
  /* The largest float rounds past the largest BF16 to infinity; infinities and NaN stay. */
  g_assert_true (isinf (rounded (STRATA_PRECISION_BF16, 3.4028235e38f)));
  g_assert_true (isinf (rounded (STRATA_PRECISION_TF32, -INFINITY)));
  g_assert_true (isnan (rounded (STRATA_PRECISION_BF16, NAN)));
  /* fp32 leaves every value as it is. */
  g_assert_cmpfloat (rounded (STRATA_PRECISION_FP32, 1.0f + 0x1p-23f), ==, 1.0f + 0x1p-23f);
  /* Names round trip (the CLI's --precision words). */
  for (int p = 0; p < STRATA_PRECISION_N; p++)
    g_assert_cmpint (strata_precision_from_string (strata_precision_to_string (p)), ==, p);
  g_assert_cmpint (strata_precision_from_string ("fp16"), ==, -1);
}

/* cpu->linear of `m` (R rows of x, precision p, bias b or NULL) against the fp32 product of x
 * and `w` (m's values as F32), both rounded to p: only the BLAS's blocking may differ (rows
 * converted per block vs whole), so within 1e-5 of the largest value. */
static void
check_emulated (const StrataMat *m, const float *w, const float *x, const float *b, int R, int N, int K,
                StrataPrecision p)
{
  const StrataBackend *cpu = strata_backend_cpu ();
  g_autofree float *wr = g_memdup2 (w, (gsize) N * K * sizeof (float));
  g_autofree float *xr = g_memdup2 (x, (gsize) R * K * sizeof (float));
  g_autofree float *y = g_new (float, (gsize) R * N), *ref = g_new0 (float, (gsize) R * N);
  strata_round_to_precision (p, wr, (gsize) N * K);
  strata_round_to_precision (p, xr, (gsize) R * K);
  for (int r = 0; b && r < R; r++)
    memcpy (ref + (gsize) r * N, b, N * sizeof (float));
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, R, N, K, 1.0f, xr, K, wr, K, 1.0f, ref, N);
  g_assert_cmpint (cpu->linear (cpu, y, x, m, b, R, N, K, p), ==, STRATA_OK);
  double worst = 0, scale = 0;
  for (gsize i = 0; i < (gsize) R * N; i++) {
    worst = MAX (worst, fabs ((double) y[i] - ref[i]));
    scale = MAX (scale, fabs ((double) ref[i]));
  }
  g_test_message ("%s matrix, %s products of %d row%s: max |diff| %.2e of %.2f", strata_dtype_to_string (m->dtype),
                  strata_precision_to_string (p), R, R > 1 ? "s" : "", worst, scale);
  g_assert_cmpfloat (scale, >, 0);
  g_assert_cmpfloat (worst, <=, 1e-5 * scale);
}

/* A product in precision p equals the fp32 product of x and w rounded to p, for F32, F16 and
 * BF16 matrices, with a bias, over more rows than one conversion block holds. */
static void
test_linear_emulation (void)
{
  const int R = 5, N = 1500, K = 3000; /* 4.5 M weights: more than one 4 M-float block */
  g_autofree float *x = g_new (float, (gsize) R * K), *w = g_new (float, (gsize) N * K);
  g_autofree float *b = g_new (float, N), *wr = g_new (float, (gsize) N * K);
  g_autofree guint16 *w16 = g_new (guint16, (gsize) N * K);
  for (gsize i = 0; i < (gsize) R * K; i++)
    x[i] = (float) g_test_rand_double_range (-2, 2);
  for (gsize i = 0; i < (gsize) N * K; i++)
    w[i] = (float) g_test_rand_double_range (-1, 1);
  for (int n = 0; n < N; n++)
    b[n] = (float) g_test_rand_double_range (-1, 1);
  for (int dt = 0; dt < STRATA_DTYPE_FIRST_BLOCK; dt++)
    for (int p = 0; p < STRATA_PRECISION_N; p++) {
      StrataMat m = { w, STRATA_DTYPE_F32 };
      if (dt != STRATA_DTYPE_F32) {
        strata_dtype_from_f32 (dt, w, w16, (gsize) N * K);
        m = (StrataMat) { w16, dt };
      }
      strata_dtype_to_f32 (m.dtype, m.data, wr, (gsize) N * K);
      check_emulated (&m, wr, x, b, R, N, K, p);
    }
}

/* The same for matrices kept in a GGUF block quantization: the CPU decodes blocks of rows per
 * product, and the product equals the fp32 product of the decoded matrix (the decoders
 * themselves are checked against gguf-py in test-gguf) rounded to the precision, for one row
 * (a decode step: blocks of rows sized to stay in cache) and several; embedding rows decode
 * exactly, and so does every value one at a time (strata_dtype_value, the GPU's decoding).
 * Random blocks, their F16 scale fields set to small finite values. */
static void
test_linear_blocks (void)
{
  const StrataBackend *cpu = strata_backend_cpu ();
  const int R = 5, N = 1100, K = 4096; /* 4.5 M weights: two conversion blocks of rows */
  g_autofree float *x = g_new (float, (gsize) R * K), *wr = g_new (float, (gsize) N * K);
  g_autofree float *rows = g_new (float, (gsize) 3 * K);
  for (gsize i = 0; i < (gsize) R * K; i++)
    x[i] = (float) g_test_rand_double_range (-2, 2);
  for (int dt = STRATA_DTYPE_FIRST_BLOCK; dt < STRATA_DTYPE_N; dt++) {
    g_autofree guint8 *q = random_blocks (dt, (gsize) N * K);
    strata_dtype_to_f32 (dt, q, wr, (gsize) N * K);
    /* The one-value decoding the CUDA backend runs gives every value's bits. */
    for (gsize k = 0; k < (gsize) N * K; k++) {
      float v = strata_dtype_value (dt, q, k);
      if (memcmp (&v, &wr[k], sizeof v) != 0) {
        g_test_fail_printf ("%s value %" G_GSIZE_FORMAT ": %.9g one at a time, %.9g by blocks",
                            strata_dtype_to_string (dt), k, v, wr[k]);
        return;
      }
    }
    StrataMat m = { q, dt };
    for (int p = 0; p < STRATA_PRECISION_N; p++) {
      check_emulated (&m, wr, x, NULL, 1, N, K, p);
      check_emulated (&m, wr, x, NULL, R, N, K, p);
    }
    const gint32 ids[3] = { N - 1, 0, 517 };
    g_assert_cmpint (cpu->embed (cpu, rows, &m, ids, 3, K), ==, STRATA_OK);
    for (int r = 0; r < 3; r++)
      g_assert_cmpmem (rows + (gsize) r * K, K * sizeof (float), wr + (gsize) ids[r] * K, K * sizeof (float));
  }
}

/* Top-1 id of each of T rows of V logits. */
static void
argmax_rows (const float *logits, int T, int V, int *out)
{
  for (int t = 0; t < T; t++) {
    const float *row = logits + (gsize) t * V;
    int best = 0;
    for (int v = 1; v < V; v++)
      if (row[v] > row[best])
        best = v;
    out[t] = best;
  }
}

/* stories260K in each precision against the float64 reference logits. */
static void
test_forward_error (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "stories260K", "stories260K.bin", NULL);
  g_autofree char *tok = g_test_build_filename (G_TEST_DIST, "data", "stories260K", "tok512.bin", NULL);
  g_autofree char *gpath = g_test_build_filename (G_TEST_DIST, "data", "golden", "stories260K-logits.safetensors", NULL);
  g_autoptr (StrataModel) m = strata_model_open (path, tok, &error);
  g_assert_no_error (error);
  g_autoptr (StrataGolden) golden = strata_golden_open (gpath, &error);
  g_assert_no_error (error);
  gsize nt, nl;
  g_autofree gint32 *tokens = strata_golden_dup_i32 (golden, "tokens", &nt, &error);
  g_assert_no_error (error);
  g_autofree float *ref = strata_golden_dup_f32 (golden, "logits", &nl, &error);
  g_assert_no_error (error);
  int T = (int) nt, V = m->weights->cfg.vocab;
  g_assert_cmpuint (nl, ==, (gsize) T * V);
  g_autofree float *logits = g_new (float, nl);
  g_autofree int *ref_top = g_new (int, T), *top = g_new (int, T);
  argmax_rows (ref, T, V, ref_top);
  /* Worst relative error of one product's inputs: 2^-24 (fp32), 2^-11 (TF32), 2^-8 (BF16). */
  static const double unit[] = { 0x1p-24, 0x1p-11, 0x1p-8 };
  double previous = -1;
  for (int p = 0; p < STRATA_PRECISION_N; p++) {
    StrataEngineOptions eo = { 0, p };
    StrataStatus st;
    StrataEngine *e = strata_engine_new_with (strata_backend_cpu (), m->weights, &eo, &st);
    g_assert_nonnull (e);
    g_assert_cmpint (strata_engine_get_precision (e), ==, p);
    g_assert_cmpint (strata_engine_forward (e, tokens, 1, T, NULL, logits), ==, STRATA_OK);
    strata_engine_free (e);
    double worst = 0, scale = 0;
    for (gsize i = 0; i < nl; i++) {
      worst = MAX (worst, fabs ((double) logits[i] - ref[i]));
      scale = MAX (scale, fabs ((double) ref[i]));
    }
    argmax_rows (logits, T, V, top);
    int same = 0;
    for (int t = 0; t < T; t++)
      same += top[t] == ref_top[t];
    g_test_message ("stories260K, %s products: logits max |diff| %.3e (largest logit %.1f), top-1 equal at %d of %d",
                    strata_precision_to_string (p), worst, scale, same, T);
    if (p == STRATA_PRECISION_FP32) {
      g_assert_cmpfloat (worst, <=, 1e-4);
    } else {
      /* Rounding the inputs of 5 layers' products moves logits by a small multiple of the unit
       * roundoff times their size; it must show (the precision was applied) and stay bounded. */
      g_assert_cmpfloat (worst, >, previous);
      g_assert_cmpfloat (worst, <=, 16 * unit[p] * scale);
    }
    previous = worst;
    g_assert_cmpint (same, >=, T - 1);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/precision/rounding", test_rounding);
  g_test_add_func ("/kernels/precision/linear-emulation", test_linear_emulation);
  g_test_add_func ("/kernels/precision/linear-blocks", test_linear_blocks);
  g_test_add_func ("/kernels/precision/forward-error", test_forward_error);
  return g_test_run ();
}
