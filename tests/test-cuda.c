/* test-cuda.c: the CUDA backend against the CPU backend, op by op and for whole forward
 * passes (suite 'cuda').
 *
 * Each op runs on both backends with the same random inputs of awkward sizes (rows not a
 * multiple of 32, T = 1 and T = 130, D = 8/64/128, grouped heads); outputs must agree in
 * normalised error (Σ(a-b)² / Σa²) and in max |diff|, and GUARD floats after every buffer
 * must come back untouched (the ggml habit: a kernel that writes one row too far is caught
 * here, not in a later run). Forward passes on the golden checkpoints must agree with the
 * CPU and with the float64 reference within 1e-4, logits and a few cached sites.
 *
 * Without a GPU every case that needs one is skipped with the reason. For checking this
 * harness on a machine without a GPU, STRATA_TEST_BACKEND=cpu runs it with the CPU backend
 * standing in for the device (it then compares the CPU with itself). */
#include <math.h>
#include <string.h>

#include "golden-reader.h"
#include "strata-backend-cuda.h"
#include "strata-engine.h"
#include "strata-lens.h"
#include "strata-model.h"
#include "strata-patching.h"
#include "test-blocks.h"
#include "test-probe-util.h"

#define GUARD 64          /* floats after every buffer */
#define GUARD_VALUE 1.5e30f /* no op computes this from inputs in [-2, 2] */
#define NMSE_MAX 1e-10
#define ABS_MAX 1e-4

static const StrataBackend *dev;   /* backend under test; NULL: no GPU */
static char dev_reason[256];

static gboolean
need_device (void)
{
  if (dev)
    return TRUE;
  g_test_skip_printf ("no GPU: %s", dev_reason);
  return FALSE;
}

/* The same values on both backends: cpu (host, for the CPU backend) and dev (device). */
typedef struct {
  gsize n;
  float *cpu; /* n + GUARD */
  float *dev; /* n + GUARD */
} Pair;

static Pair
pair_new (gsize n, double lo, double hi)
{
  Pair p = { n, g_new (float, n + GUARD), dev->alloc (dev, n + GUARD) };
  g_assert_nonnull (p.dev);
  for (gsize i = 0; i < n + GUARD; i++)
    p.cpu[i] = i < n ? (float) g_test_rand_double_range (lo, hi) : GUARD_VALUE;
  g_assert_cmpint (dev->upload (dev, p.dev, p.cpu, (n + GUARD) * sizeof (float)), ==, STRATA_OK);
  return p;
}

static void
pair_free (Pair *p)
{
  g_free (p->cpu);
  dev->free (dev, p->dev);
}

static void
check_guard (const char *what, const char *side, const float *buf, gsize n)
{
  for (gsize i = n; i < n + GUARD; i++)
    if (buf[i] != GUARD_VALUE) {
      g_test_fail_printf ("%s: %s wrote past the end (guard float %zu is %g)", what, side, i - n,
                          buf[i]);
      return;
    }
}

/* Compare the device copy with the CPU copy after both ran the op: normalised error at most
 * nmse_max, max |diff| at most abs_max times the largest value (at least 1). */
static void
pair_check_within (const Pair *p, const char *what, double nmse_max, double abs_max)
{
  g_autofree float *got = g_new (float, p->n + GUARD);
  StrataStatus st = dev->download (dev, got, p->dev, (p->n + GUARD) * sizeof (float));
  if (st != STRATA_OK)
    g_test_message ("download: %s", dev->last_error ? dev->last_error (dev) : "");
  g_assert_cmpint (st, ==, STRATA_OK);
  check_guard (what, "the CPU reference", p->cpu, p->n);
  check_guard (what, "the device", got, p->n);
  double num = 0, den = 0, worst = 0, scale = 1;
  for (gsize i = 0; i < p->n; i++) {
    double a = p->cpu[i], b = got[i], d = fabs (a - b);
    num += d * d;
    den += a * a;
    scale = MAX (scale, fabs (a));
    if (!(d <= worst))
      worst = isnan (d) ? INFINITY : d;
  }
  double nmse = den > 0 ? num / den : num;
  g_test_message ("%-44s nmse %.2e  max |diff| %.2e", what, nmse, worst);
  if (!(nmse <= nmse_max) || !(worst <= abs_max * scale))
    g_test_fail_printf ("%s: nmse %.3g (max %g), max |diff| %.3g (max %g)", what, nmse, nmse_max,
                        worst, abs_max * scale);
}

static void
pair_check (const Pair *p, const char *what)
{
  pair_check_within (p, what, NMSE_MAX, ABS_MAX);
}

/* Run one op on both backends; the device status must be OK. */
#define BOTH(call_cpu, call_dev)                                                                   \
  do {                                                                                             \
    g_assert_cmpint ((call_cpu), ==, STRATA_OK);                                                   \
    StrataStatus st_ = (call_dev);                                                                 \
    if (st_ != STRATA_OK)                                                                          \
      g_test_message ("%s: %s", dev->name, dev->last_error ? dev->last_error (dev) : "");          \
    g_assert_cmpint (st_, ==, STRATA_OK);                                                          \
  } while (0)

static void
test_linear (void)
{
  if (!need_device ())
    return;
  const StrataBackend *cpu = strata_backend_cpu ();
  /* R, N, K, bias */
  static const int shapes[][4] = { { 1, 1, 1, 0 },     { 1, 768, 768, 1 }, { 37, 50, 33, 1 },
                                   { 130, 64, 128, 0 }, { 33, 257, 96, 1 }, { 7, 61, 32, 1 } };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    int R = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
    Pair x = pair_new ((gsize) R * K, -1, 1), w = pair_new ((gsize) N * K, -1, 1);
    Pair b = pair_new (N, -1, 1), y = pair_new ((gsize) R * N, -1, 1);
    gboolean bias = shapes[s][3];
    StrataMat wc = { w.cpu, STRATA_DTYPE_F32 }, wd = { w.dev, STRATA_DTYPE_F32 };
    BOTH (cpu->linear (cpu, y.cpu, x.cpu, &wc, bias ? b.cpu : NULL, R, N, K, STRATA_PRECISION_FP32),
          dev->linear (dev, y.dev, x.dev, &wd, bias ? b.dev : NULL, R, N, K, STRATA_PRECISION_FP32));
    g_autofree char *what = g_strdup_printf ("linear R=%d N=%d K=%d%s", R, N, K, bias ? " +b" : "");
    pair_check (&y, what);
    pair_free (&x), pair_free (&w), pair_free (&b), pair_free (&y);
  }
}

/* y = x · wᵀ + b on both backends in the three precisions (wc on the host, wd on the device,
 * the same dtype): fp32 and bf16 differ only in the order of fp32 sums; TF32 gets a tolerance
 * of one TF32 rounding (how cuBLAS rounds inputs is its own). */
static void
check_precisions (const StrataMat *wc, const StrataMat *wd, Pair *x, Pair *b, Pair *y, int R, int N, int K)
{
  const StrataBackend *cpu = strata_backend_cpu ();
  for (int p = 0; p < STRATA_PRECISION_N; p++) {
    BOTH (cpu->linear (cpu, y->cpu, x->cpu, wc, b->cpu, R, N, K, (StrataPrecision) p),
          dev->linear (dev, y->dev, x->dev, wd, b->dev, R, N, K, (StrataPrecision) p));
    g_autofree char *what = g_strdup_printf ("linear %s w, %s R=%d N=%d K=%d", strata_dtype_to_string (wc->dtype),
                                             strata_precision_to_string ((StrataPrecision) p), R, N, K);
    if (p == STRATA_PRECISION_TF32)
      pair_check_within (y, what, 1e-6, 2e-3);
    else
      pair_check (y, what);
  }
}

/* Matrices kept 16-bit on the device and the three precisions, against the CPU backend's
 * emulation (strata-backend-cpu.c: inputs rounded, fp32 products). BF16 inputs are rounded the
 * same way on both sides (to nearest even), so only the order of the fp32 sums differs; how
 * cuBLAS rounds inputs to TF32 is its own, so TF32 gets a tolerance of one TF32 rounding. The
 * largest shape needs more than one block of converted rows (STRATA_CUDA_CONVERT_BYTES). */
static void
test_linear_dtypes (void)
{
  if (!need_device ())
    return;
  static const int shapes[][3] = { { 1, 1, 1 }, { 37, 50, 33 }, { 130, 257, 96 }, { 9, 9000, 2048 } };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    int R = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
    gsize nw = (gsize) N * K;
    Pair x = pair_new ((gsize) R * K, -1, 1), w = pair_new (nw, -1, 1), b = pair_new (N, -1, 1);
    Pair y = pair_new ((gsize) R * N, -1, 1);
    g_autofree guint16 *w16 = g_new (guint16, nw);
    float *w16_dev = dev->alloc (dev, (nw + 1) / 2);
    g_assert_nonnull (w16_dev);
    for (int dt = 0; dt < STRATA_DTYPE_FIRST_BLOCK; dt++) {
      StrataMat wc = { w.cpu, STRATA_DTYPE_F32 }, wd = { w.dev, STRATA_DTYPE_F32 };
      if (dt != STRATA_DTYPE_F32) {
        strata_dtype_from_f32 ((StrataDType) dt, w.cpu, w16, nw);
        g_assert_cmpint (dev->upload (dev, w16_dev, w16, nw * 2), ==, STRATA_OK);
        wc = (StrataMat) { w16, (StrataDType) dt };
        wd = (StrataMat) { w16_dev, (StrataDType) dt };
      }
      check_precisions (&wc, &wd, &x, &b, &y, R, N, K);
    }
    dev->free (dev, w16_dev);
    pair_free (&x), pair_free (&w), pair_free (&b), pair_free (&y);
  }
}

/* Matrices and embedding tables kept in GGUF block types on the device (a quantized file's
 * bytes as they are): each value decoded one per thread (strata-block-values.h) must be the
 * CPU's bit for bit, so an embedding equals the CPU's exactly and a product differs only in
 * the order of its fp32 sums (TF32: one TF32 rounding, as above). Random blocks; K and C of
 * one and of several 256-value blocks. */
static void
test_block_dtypes (void)
{
  if (!need_device ())
    return;
  const StrataBackend *cpu = strata_backend_cpu ();
  static const int shapes[][3] = { { 1, 33, 256 }, { 37, 130, 512 }, { 9, 1000, 2048 } }; /* R, N (V), K (C) */
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    int R = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
    Pair x = pair_new ((gsize) R * K, -1, 1), b = pair_new (N, -1, 1), y = pair_new ((gsize) R * N, -1, 1);
    Pair rows = pair_new ((gsize) R * K, -1, 1);
    g_autofree int32_t *ids = g_new (int32_t, R);
    for (int r = 0; r < R; r++)
      ids[r] = r == 0 ? N - 1 : g_test_rand_int_range (0, N);
    for (int dt = STRATA_DTYPE_FIRST_BLOCK; dt < STRATA_DTYPE_N; dt++) {
      gsize bytes = strata_dtype_bytes ((StrataDType) dt, (gsize) N * K);
      g_autofree guint8 *q = random_blocks ((StrataDType) dt, (gsize) N * K);
      float *q_dev = dev->alloc (dev, (bytes + 3) / 4);
      g_assert_nonnull (q_dev);
      g_assert_cmpint (dev->upload (dev, q_dev, q, bytes), ==, STRATA_OK);
      StrataMat wc = { q, (StrataDType) dt }, wd = { q_dev, (StrataDType) dt };
      check_precisions (&wc, &wd, &x, &b, &y, R, N, K);
      BOTH (cpu->embed (cpu, rows.cpu, &wc, ids, R, K), dev->embed (dev, rows.dev, &wd, ids, R, K));
      g_autofree float *got = g_new (float, (gsize) R * K);
      g_assert_cmpint (dev->download (dev, got, rows.dev, (gsize) R * K * sizeof (float)), ==, STRATA_OK);
      g_assert_cmpmem (got, (gsize) R * K * sizeof (float), rows.cpu, (gsize) R * K * sizeof (float));
      dev->free (dev, q_dev);
    }
    pair_free (&x), pair_free (&b), pair_free (&y), pair_free (&rows);
  }
}

/* The lens's reduction of logits on the device against the CPU's: top-k ids and target ranks
 * equal (logits drawn from a few hundred values, so ties are everywhere and the order of equal
 * logits, lower id first, is exercised), logits equal, log-sum-exp within 1e-12 relative. One
 * shape has Llama 3's vocabulary, one a top-k of the whole vocabulary, one -inf logits. */
static void
test_logit_summary (void)
{
  if (!need_device ())
    return;
  const StrataBackend *cpu = strata_backend_cpu ();
  /* R, V, k, targets, candidates */
  static const int shapes[][5] = { { 1, 1, 1, 1, 0 }, { 3, 50, 50, 2, 7 }, { 7, 128256, 10, 20, 300 }, { 130, 342, 25, 3, 0 } };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    int R = shapes[s][0], V = shapes[s][1], k = shapes[s][2], n_t = shapes[s][3], n_c = shapes[s][4];
    gsize n = (gsize) R * V;
    Pair logits = pair_new (n, -1, 1);
    for (gsize i = 0; i < n; i++)
      logits.cpu[i] = s == 3 && i % 17 == 0 ? -INFINITY : (float) g_test_rand_int_range (-300, 300) / 16.0f;
    g_assert_cmpint (dev->upload (dev, logits.dev, logits.cpu, n * sizeof (float)), ==, STRATA_OK);
    g_autofree int32_t *targets = g_new (int32_t, n_t + 1), *cand = g_new (int32_t, n_c + 1);
    for (int i = 0; i < n_t; i++)
      targets[i] = i == 0 ? V - 1 : g_test_rand_int_range (0, V);
    for (int i = 0; i < n_c; i++)
      cand[i] = g_test_rand_int_range (0, V);
    StrataLogitQuery q = { k, targets, n_t, cand, n_c };
    gsize nk = (gsize) R * k, nt = (gsize) R * n_t;
    StrataLogitSummary out[2];
    for (int side = 0; side < 2; side++) {
      out[side] = (StrataLogitSummary) { g_new (double, R), g_new (int32_t, nk), g_new (float, nk), g_new (float, nt + 1),
                                         g_new (int32_t, nt + 1), n_c ? g_new (int32_t, nt + 1) : NULL };
      if (side == 0)
        g_assert_cmpint (cpu->logit_summary (cpu, logits.cpu, R, V, &q, &out[0]), ==, STRATA_OK);
      else
        BOTH (STRATA_OK, dev->logit_summary (dev, logits.dev, R, V, &q, &out[1]));
    }
    for (int r = 0; r < R; r++)
      g_assert_cmpfloat (fabs (out[0].lse[r] - out[1].lse[r]), <=, 1e-12 * MAX (1.0, fabs (out[0].lse[r])));
    g_assert_cmpmem (out[0].top_ids, nk * 4, out[1].top_ids, nk * 4);
    g_assert_cmpmem (out[0].top_logit, nk * 4, out[1].top_logit, nk * 4);
    g_assert_cmpmem (out[0].target_logit, nt * 4, out[1].target_logit, nt * 4);
    g_assert_cmpmem (out[0].target_rank, nt * 4, out[1].target_rank, nt * 4);
    if (n_c)
      g_assert_cmpmem (out[0].cand_rank, nt * 4, out[1].cand_rank, nt * 4);
    g_test_message ("logit summary R=%d V=%d k=%d targets=%d candidates=%d: equal", R, V, k, n_t, n_c);
    for (int side = 0; side < 2; side++) {
      g_free (out[side].lse), g_free (out[side].top_ids), g_free (out[side].top_logit);
      g_free (out[side].target_logit), g_free (out[side].target_rank), g_free (out[side].cand_rank);
    }
    pair_free (&logits);
  }
}

static void
test_norms (void)
{
  if (!need_device ())
    return;
  const StrataBackend *cpu = strata_backend_cpu ();
  static const int shapes[][2] = { { 1, 8 }, { 37, 64 }, { 130, 768 }, { 5, 1000 }, { 3, 4096 } };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    int R = shapes[s][0], C = shapes[s][1];
    gsize n = (gsize) R * C;
    /* An offset mean, as residual streams have, tests the two-pass variance. */
    Pair x = pair_new (n, 0.5, 2), w = pair_new (C, -1, 1), b = pair_new (C, -1, 1);
    Pair y = pair_new (n, -1, 1), x2 = pair_new (n, -2, 2);
    StrataNormParams ln_p = { STRATA_NORM_LAYERNORM, 1e-5f }, rms_p = { STRATA_NORM_RMSNORM, 1e-6f };
    StrataNormParams gemma_p = { STRATA_NORM_RMSNORM_UNIT_OFFSET, 1e-6f };
    BOTH (cpu->norm (cpu, y.cpu, x.cpu, w.cpu, b.cpu, R, C, &ln_p),
          dev->norm (dev, y.dev, x.dev, w.dev, b.dev, R, C, &ln_p));
    g_autofree char *ln = g_strdup_printf ("layernorm R=%d C=%d", R, C);
    pair_check (&y, ln);
    BOTH (cpu->norm (cpu, y.cpu, x.cpu, w.cpu, NULL, R, C, &ln_p),
          dev->norm (dev, y.dev, x.dev, w.dev, NULL, R, C, &ln_p));
    g_autofree char *ln0 = g_strdup_printf ("layernorm R=%d C=%d no bias", R, C);
    pair_check (&y, ln0);
    BOTH (cpu->norm (cpu, y.cpu, x.cpu, w.cpu, NULL, R, C, &gemma_p),
          dev->norm (dev, y.dev, x.dev, w.dev, NULL, R, C, &gemma_p));
    g_autofree char *g1 = g_strdup_printf ("rmsnorm (1 + w) R=%d C=%d", R, C);
    pair_check (&y, g1);
    /* In place (y == x), as the engine's unembed does. */
    BOTH (cpu->norm (cpu, x2.cpu, x2.cpu, w.cpu, NULL, R, C, &rms_p),
          dev->norm (dev, x2.dev, x2.dev, w.dev, NULL, R, C, &rms_p));
    g_autofree char *rms = g_strdup_printf ("rmsnorm R=%d C=%d in place", R, C);
    pair_check (&x2, rms);
    pair_free (&x), pair_free (&w), pair_free (&b), pair_free (&y), pair_free (&x2);
  }
}

static void
test_embed (void)
{
  if (!need_device ())
    return;
  const StrataBackend *cpu = strata_backend_cpu ();
  static const int shapes[][3] = { { 1, 1, 8 }, { 37, 50, 33 }, { 130, 61, 768 } }; /* R, V, C */
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    int R = shapes[s][0], V = shapes[s][1], C = shapes[s][2];
    g_autofree int32_t *ids = g_new (int32_t, R);
    for (int r = 0; r < R; r++)
      ids[r] = r == 0 ? V - 1 : g_test_rand_int_range (0, V);
    gsize nt = (gsize) V * C;
    Pair table = pair_new (nt, -1, 1), out = pair_new ((gsize) R * C, -1, 1);
    g_autofree guint16 *t16 = g_new (guint16, nt);
    float *t16_dev = dev->alloc (dev, (nt + 1) / 2);
    g_assert_nonnull (t16_dev);
    for (int dt = 0; dt < STRATA_DTYPE_FIRST_BLOCK; dt++) {
      StrataMat tc = { table.cpu, STRATA_DTYPE_F32 }, td = { table.dev, STRATA_DTYPE_F32 };
      if (dt != STRATA_DTYPE_F32) { /* a 16-bit table is widened exactly on both sides */
        strata_dtype_from_f32 ((StrataDType) dt, table.cpu, t16, nt);
        g_assert_cmpint (dev->upload (dev, t16_dev, t16, nt * 2), ==, STRATA_OK);
        tc = (StrataMat) { t16, (StrataDType) dt };
        td = (StrataMat) { t16_dev, (StrataDType) dt };
      }
      BOTH (cpu->embed (cpu, out.cpu, &tc, ids, R, C),
            dev->embed (dev, out.dev, &td, ids, R, C));
      g_autofree char *what = g_strdup_printf ("embed %s R=%d V=%d C=%d", strata_dtype_to_string ((StrataDType) dt), R, V, C);
      pair_check (&out, what);
    }
    dev->free (dev, t16_dev);
    pair_free (&table), pair_free (&out);
  }
}

static void
test_rope (void)
{
  if (!need_device ())
    return;
  const StrataBackend *cpu = strata_backend_cpu ();
  static const int shapes[][4] = { { 1, 1, 4, 8 }, { 2, 130, 3, 64 }, { 3, 17, 2, 128 } };
  static const float thetas[] = { 10000.0f, 500000.0f };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (int pairing = STRATA_ROPE_ADJACENT; pairing <= STRATA_ROPE_HALF; pairing++)
      for (guint th = 0; th < G_N_ELEMENTS (thetas); th++) {
        int B = shapes[s][0], T = shapes[s][1], nh = shapes[s][2], D = shapes[s][3];
        /* Every head rotated whole, and partially (the first quarter, as Pythia does). */
        int dims = th == 0 ? D : D / 4 + D / 4 % 2;
        Pair x = pair_new ((gsize) B * T * nh * D, -2, 2);
        StrataRopeParams rp = { (StrataRope) pairing, dims, thetas[th] };
        /* From position 0, and (decoding after a cache) from a later one. */
        int pos0 = (int) s * 13;
        BOTH (cpu->rope (cpu, x.cpu, B, T, nh, D, pos0, &rp),
              dev->rope (dev, x.dev, B, T, nh, D, pos0, &rp));
        g_autofree char *what = g_strdup_printf ("rope %s B=%d T=%d nh=%d D=%d dims=%d theta=%g from %d",
                                                 pairing == STRATA_ROPE_HALF ? "half" : "adjacent",
                                                 B, T, nh, D, dims, thetas[th], pos0);
        pair_check (&x, what);
        pair_free (&x);
      }
}

static void
test_attention (void)
{
  if (!need_device ())
    return;
  const StrataBackend *cpu = strata_backend_cpu ();
  /* B, T, H, K, D: one token, MHA, GQA, MQA, a long odd T; Gemma 2's head size (the widest
   * the fused kernel takes) and a wider one (the pattern path in scratch); 1000 keys (many
   * tiles of the online softmax). */
  static const int shapes[][5] = { { 1, 1, 4, 4, 8 },    { 2, 130, 4, 2, 64 }, { 3, 33, 8, 2, 128 },
                                   { 2, 17, 6, 1, 8 },   { 1, 64, 12, 12, 64 }, { 2, 7, 4, 1, 8 },
                                   { 1, 40, 4, 2, 256 }, { 1, 9, 2, 2, 320 },  { 1, 1000, 2, 1, 64 } };
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++) {
    int B = shapes[s][0], T = shapes[s][1], H = shapes[s][2], K = shapes[s][3], D = shapes[s][4];
    gsize rq = (gsize) B * T * H * D, rk = (gsize) B * T * K * D;
    /* Scores of a few units, as trained models have, so the softmax is not flat. */
    Pair q = pair_new (rq, -2, 2), k = pair_new (rk, -2, 2), v = pair_new (rk, -1, 1);
    Pair z = pair_new (rq, -1, 1), p = pair_new ((gsize) B * H * T * T, -1, 1);
    /* Plain 1/√D; then a Gemma-like scale, soft-cap and window on every other shape. */
    StrataAttnParams ap = { 1.0f / sqrtf ((float) D), 0.0f, 0 };
    if (s % 2)
      ap = (StrataAttnParams) { 0.3f, 2.0f, 5 };
    BOTH (cpu->attention (cpu, z.cpu, p.cpu, q.cpu, k.cpu, v.cpu, B, T, T, H, K, D, &ap),
          dev->attention (dev, z.dev, p.dev, q.dev, k.dev, v.dev, B, T, T, H, K, D, &ap));
    g_autofree char *wp = g_strdup_printf ("attention pattern B=%d T=%d H=%d K=%d D=%d cap=%g window=%d", B, T,
                                           H, K, D, ap.softcap, ap.window);
    g_autofree char *wz = g_strdup_printf ("attention z       B=%d T=%d H=%d K=%d D=%d cap=%g window=%d", B, T,
                                           H, K, D, ap.softcap, ap.window);
    pair_check (&p, wp);
    pair_check (&z, wz);
    /* No pattern asked: every query through the fused kernel. */
    BOTH (cpu->attention (cpu, z.cpu, NULL, q.cpu, k.cpu, v.cpu, B, T, T, H, K, D, &ap),
          dev->attention (dev, z.dev, NULL, q.dev, k.dev, v.dev, B, T, T, H, K, D, &ap));
    g_autofree char *wf = g_strdup_printf ("attention z, no pattern B=%d T=%d H=%d K=%d D=%d", B, T, H, K, D);
    pair_check (&z, wf);
    /* Decoding: the last Tq queries of sequence 0 against all its keys, no pattern asked. */
    int Tq = MIN (T, 3);
    gsize q_at = (gsize) (T - Tq) * H * D;
    BOTH (cpu->attention (cpu, z.cpu, NULL, q.cpu + q_at, k.cpu, v.cpu, 1, Tq, T, H, K, D, &ap),
          dev->attention (dev, z.dev, NULL, q.dev + q_at, k.dev, v.dev, 1, Tq, T, H, K, D, &ap));
    g_autofree char *wd = g_strdup_printf ("attention z, last %d of T=%d, no pattern", Tq, T);
    pair_check (&z, wd);
    pair_free (&q), pair_free (&k), pair_free (&v), pair_free (&z), pair_free (&p);
  }
}

static void
test_elementwise (void)
{
  if (!need_device ())
    return;
  const StrataBackend *cpu = strata_backend_cpu ();
  static const gsize sizes[] = { 1, 31, 4097, 1000003 };
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
    gsize n = sizes[s];
    /* GELU (both forms) and SiLU over a range that reaches both tails, plain and gated. */
    Pair a = pair_new (n, -6, 6), b = pair_new (n, -2, 2), c = pair_new (n, -1, 1), e = pair_new (n, -6, 6);
    BOTH (cpu->activation (cpu, a.cpu, NULL, n, STRATA_ACT_GELU_TANH),
          dev->activation (dev, a.dev, NULL, n, STRATA_ACT_GELU_TANH));
    g_autofree char *wg = g_strdup_printf ("gelu (tanh) n=%zu", n);
    pair_check (&a, wg);
    BOTH (cpu->activation (cpu, e.cpu, c.cpu, n, STRATA_ACT_GELU_ERF),
          dev->activation (dev, e.dev, c.dev, n, STRATA_ACT_GELU_ERF));
    g_autofree char *we = g_strdup_printf ("gelu (erf) gated n=%zu", n);
    pair_check (&e, we);
    BOTH (cpu->activation (cpu, b.cpu, c.cpu, n, STRATA_ACT_SILU),
          dev->activation (dev, b.dev, c.dev, n, STRATA_ACT_SILU));
    g_autofree char *ws = g_strdup_printf ("swiglu n=%zu", n);
    pair_check (&b, ws);
    BOTH (cpu->add (cpu, c.cpu, a.cpu, n), dev->add (dev, c.dev, a.dev, n));
    g_autofree char *wa = g_strdup_printf ("add n=%zu", n);
    pair_check (&c, wa);
    BOTH (cpu->scale (cpu, c.cpu, n, 0.375f), dev->scale (dev, c.dev, n, 0.375f));
    g_autofree char *wsc = g_strdup_printf ("scale n=%zu", n);
    pair_check (&c, wsc);
    BOTH (cpu->softcap (cpu, a.cpu, n, 1.5f), dev->softcap (dev, a.dev, n, 1.5f));
    g_autofree char *wcap = g_strdup_printf ("softcap n=%zu", n);
    pair_check (&a, wcap);
    pair_free (&a), pair_free (&b), pair_free (&c), pair_free (&e);
  }
}

/* copy_many: ranges of one buffer into another, empty ones and one longer than the kernel's
 * 64 blocks of a range cover in one stride, written bit for bit where the CPU writes them and
 * nowhere else (the destination's other floats and guard untouched). */
static void
test_copy_many (void)
{
  if (!need_device ())
    return;
  const StrataBackend *cpu = strata_backend_cpu ();
  enum { N = 100000 };
  Pair src = pair_new (N, -2, 2), dst = pair_new (N, -1, 1);
  static const struct { gsize from, to, n; } ranges[] = {
    { 0, 5, 3 }, { 10, 0, 0 }, { 17, 9, 1 }, { 100, 200, 257 }, { 1000, 40000, 20000 }, { 99990, 99990, 10 },
  };
  StrataCopy on_cpu[G_N_ELEMENTS (ranges)], on_dev[G_N_ELEMENTS (ranges)];
  for (guint i = 0; i < G_N_ELEMENTS (ranges); i++) {
    on_cpu[i] = (StrataCopy) { dst.cpu + ranges[i].to, src.cpu + ranges[i].from, ranges[i].n };
    on_dev[i] = (StrataCopy) { dst.dev + ranges[i].to, src.dev + ranges[i].from, ranges[i].n };
  }
  BOTH (cpu->copy_many (cpu, on_cpu, G_N_ELEMENTS (ranges)), dev->copy_many (dev, on_dev, G_N_ELEMENTS (ranges)));
  pair_check_within (&dst, "copy_many", 0, 0);
  BOTH (cpu->copy_many (cpu, on_cpu, 0), dev->copy_many (dev, on_dev, 0));
  pair_free (&src), pair_free (&dst);
}

/* A bad shape is a status and a message, not a crash or an exit. */
static void
test_bad_shape (void)
{
  if (!need_device ())
    return;
  if (dev == strata_backend_cpu ()) {
    g_test_skip ("the CPU backend does not check shapes");
    return;
  }
  StrataAttnParams ap = { 0.35f, 0.0f, 0 };
  StrataStatus st = dev->attention (dev, NULL, NULL, NULL, NULL, NULL, 1, 4, 4, 3, 2, 8, &ap);
  g_assert_cmpint (st, !=, STRATA_OK);
  if (dev->last_error)
    g_assert_cmpstr (dev->last_error (dev), !=, "");
}

/* ---- whole forward passes ---------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *model;  /* relative to tests/data */
  const char *golden; /* relative to tests/data */
} ForwardCase;

static const ForwardCase forward_cases[] = {
  { "gpt2", "golden/gpt2", "golden/gpt2/golden.safetensors" },
  { "gpt2-f16", "golden/gpt2-f16", "golden/gpt2-f16/golden.safetensors" },
  { "llama-gqa", "golden/llama-gqa", "golden/llama-gqa/golden.safetensors" },
  { "qwen2-bias", "golden/qwen2-bias", "golden/qwen2-bias/golden.safetensors" },
  { "mistral-bf16", "golden/mistral-bf16", "golden/mistral-bf16/golden.safetensors" },
  { "stories260k", "stories260K/stories260K.bin", "golden/stories260K-logits.safetensors" },
  /* windows, soft-caps, post-norms, no pre-norms, q/k norms, split fused projections */
  { "mistral-window", "golden/mistral-window", "golden/mistral-window/golden.safetensors" },
  { "gemma2-window", "golden/gemma2-window", "golden/gemma2-window/golden.safetensors" },
  { "qwen3-qknorm", "golden/qwen3-qknorm", "golden/qwen3-qknorm/golden.safetensors" },
  { "olmo2-postnorm", "golden/olmo2-postnorm", "golden/olmo2-postnorm/golden.safetensors" },
  { "phi3-fused", "golden/phi3-fused", "golden/phi3-fused/golden.safetensors" },
};

static double
max_abs_diff (const float *a, const float *b, gsize n)
{
  double worst = 0;
  for (gsize i = 0; i < n; i++) {
    double d = fabs ((double) a[i] - (double) b[i]);
    if (!(d <= worst))
      worst = isnan (d) ? INFINITY : d;
  }
  return worst;
}

static void
expect_close (const char *what, double err)
{
  g_test_message ("%-44s max |diff| %.2e", what, err);
  if (!(err <= ABS_MAX))
    g_test_fail_printf ("%s: max |diff| %.3g exceeds %g", what, err, ABS_MAX);
}

/* A fixture model under tests/data. */
static StrataModel *
open_data_model (const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", name, NULL);
  /* As the commands open it for the device: F16/BF16 checkpoints stay 16-bit there (the CPU
   * engine beside it converts its own copy). */
  StrataOpenOptions oo = { NULL, strata_matrix_policy_for (dev) };
  StrataModel *model = strata_model_open_with (path, &oo, &error);
  g_assert_no_error (error);
  return model;
}

static StrataEngine *
engine_or_fail (const StrataBackend *be, StrataModel *model)
{
  StrataStatus st = STRATA_OK;
  StrataEngine *e = strata_engine_new (be, model->weights, &st);
  if (!e && be->last_error)
    g_test_message ("%s engine: %s", be->name, be->last_error (be));
  g_assert_cmpint (st, ==, STRATA_OK);
  g_assert_nonnull (e);
  return e;
}

static void
forward_or_fail (StrataEngine *e, const int32_t *tokens, int B, int T, const StrataHooks *hooks,
                 float *logits)
{
  StrataStatus st = strata_engine_forward (e, tokens, B, T, hooks, logits);
  if (st != STRATA_OK)
    g_test_message ("forward on %s: %s", strata_engine_get_backend (e)->name,
                    strata_engine_get_error (e));
  g_assert_cmpint (st, ==, STRATA_OK);
}

/* Sites cached on both backends: the first block's attention in detail (per-head results
 * exercise the engine's copy/upload path), the last residual, the final norm. */
typedef struct {
  StrataSite site;
  int last_layer; /* layer L-1 instead of 0 */
  const char *name;
} CachedSite;

static const CachedSite cached_sites[] = {
  { STRATA_SITE_ATTN_PATTERN, 0, "blocks.0.attn.hook_pattern" },
  { STRATA_SITE_ATTN_Z, 0, "blocks.0.attn.hook_z" },
  { STRATA_SITE_ATTN_RESULT, 0, "blocks.0.attn.hook_result" },
  { STRATA_SITE_MLP_POST, 0, "blocks.0.mlp.hook_post" },
  { STRATA_SITE_RESID_POST, 1, "blocks.L-1.hook_resid_post" },
  { STRATA_SITE_LN_FINAL, 0, "ln_final.hook_normalized" },
};

/* Run tokens (B, T) on the CPU and on the device with the cached sites and one patch of
 * resid_pre in the last block; compare logits and every site. */
static void
compare_run (StrataModel *model, StrataEngine *ec, StrataEngine *ed, const int32_t *tokens, int B,
             int T, const float *ref_logits, const char *label)
{
  const StrataConfig *cfg = &model->weights->cfg;
  int n_sites = G_N_ELEMENTS (cached_sites);
  StrataCache cc[G_N_ELEMENTS (cached_sites)], cd[G_N_ELEMENTS (cached_sites)];
  gsize sizes[G_N_ELEMENTS (cached_sites)];
  for (int i = 0; i < n_sites; i++) {
    StrataSite site = cached_sites[i].site;
    int layer = !strata_site_is_per_layer (site) ? -1 : cached_sites[i].last_layer ? cfg->n_layers - 1 : 0;
    sizes[i] = (gsize) B * T * strata_site_row_floats (cfg, site, T);
    cc[i] = (StrataCache) { site, layer, g_new0 (float, sizes[i]) };
    cd[i] = (StrataCache) { site, layer, g_new0 (float, sizes[i]) };
  }
  g_autofree float *patch = g_new (float, cfg->d_model);
  for (int c = 0; c < cfg->d_model; c++)
    patch[c] = (float) g_test_rand_double_range (-1, 1);
  StrataPatch p = { STRATA_SITE_RESID_PRE, cfg->n_layers - 1, B - 1, T - 1, -1, patch };
  StrataHooks hc = { cc, n_sites, &p, 1 }, hd = { cd, n_sites, &p, 1 };

  gsize nl = (gsize) B * T * cfg->vocab;
  g_autofree float *lc = g_new (float, nl), *ld = g_new (float, nl);
  g_autofree float *pc = g_new (float, nl), *pd = g_new (float, nl);
  forward_or_fail (ec, tokens, B, T, NULL, lc);
  forward_or_fail (ed, tokens, B, T, NULL, ld);
  forward_or_fail (ec, tokens, B, T, &hc, pc);
  forward_or_fail (ed, tokens, B, T, &hd, pd);

  g_autofree char *w0 = g_strdup_printf ("%s logits cpu vs %s", label, dev->name);
  expect_close (w0, max_abs_diff (lc, ld, nl));
  if (ref_logits) {
    g_autofree char *w1 = g_strdup_printf ("%s logits %s vs reference", label, dev->name);
    expect_close (w1, max_abs_diff (ld, ref_logits, nl));
  }
  g_autofree char *w2 = g_strdup_printf ("%s patched logits", label);
  expect_close (w2, max_abs_diff (pc, pd, nl));
  /* The patch must have changed something, or it was not applied. */
  g_assert_cmpfloat (max_abs_diff (lc, pc, nl), >, 0);
  for (int i = 0; i < n_sites; i++) {
    g_autofree char *w = g_strdup_printf ("%s %s", label, cached_sites[i].name);
    expect_close (w, max_abs_diff (cc[i].dst, cd[i].dst, sizes[i]));
    g_free (cc[i].dst), g_free (cd[i].dst);
  }
}

static void
test_forward (gconstpointer data)
{
  if (!need_device ())
    return;
  const ForwardCase *fc = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *gpath = g_test_build_filename (G_TEST_DIST, "data", fc->golden, NULL);
  g_autoptr (StrataModel) model = open_data_model (fc->model);
  g_autoptr (StrataGolden) golden = strata_golden_open (gpath, &error);
  g_assert_no_error (error);
  const StrataConfig *cfg = &model->weights->cfg;

  int nd;
  gint64 shape[STRATA_GOLDEN_MAX_DIMS];
  g_assert_true (strata_golden_has (golden, "tokens", &nd, shape));
  int B = (int) shape[0], T = (int) shape[1];
  gsize n;
  g_autofree gint32 *tokens = strata_golden_dup_i32 (golden, "tokens", &n, &error);
  g_assert_no_error (error);
  g_autofree float *ref = strata_golden_dup_f32 (golden, "logits", &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, (gsize) B * T * cfg->vocab);

  StrataEngine *ec = engine_or_fail (strata_backend_cpu (), model);
  StrataEngine *ed = engine_or_fail (dev, model);
  compare_run (model, ec, ed, tokens, B, T, ref, "golden tokens");

  /* The longest run the model allows up to 130 tokens, two sequences of random ids: odd
   * T past a warp multiple where the context permits (stories260K: 512). */
  int T2 = MIN (130, cfg->n_ctx), B2 = 2;
  g_autofree int32_t *ids = g_new (int32_t, B2 * T2);
  for (int i = 0; i < B2 * T2; i++)
    ids[i] = g_test_rand_int_range (0, cfg->vocab);
  g_autofree char *label = g_strdup_printf ("random B=%d T=%d", B2, T2);
  compare_run (model, ec, ed, ids, B2, T2, NULL, label);

  /* A single token. */
  compare_run (model, ec, ed, ids, 1, 1, NULL, "one token");
  strata_engine_free (ed);
  strata_engine_free (ec);
}

/* A checkpoint loaded straight into device memory (StrataOpenOptions.device: per-layer
 * uploads through staging, 16-bit matrices from the file's mapping) holds exactly the bytes of
 * the host load, and runs the same logits as the host weights uploaded in one transfer. */
static void
test_load_to_device (gconstpointer data)
{
  if (!need_device ())
    return;
  g_autoptr (StrataModel) host = open_data_model (data);
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", data, NULL);
  StrataOpenOptions oo = { NULL, strata_matrix_policy_for (dev), dev };
  g_autoptr (StrataModel) on_dev = strata_model_open_with (path, &oo, &error);
  g_assert_no_error (error);
  StrataWeights *hw = host->weights, *dw = on_dev->weights;
  g_assert_cmpuint (dw->arena_bytes, ==, hw->arena_bytes);
  if (!dev->host_memory) {
    g_assert_true (dw->device == dev);
    g_autofree char *back = g_malloc (dw->arena_bytes);
    g_assert_cmpint (dev->download (dev, back, dw->arena, dw->arena_bytes), ==, STRATA_OK);
    /* Padding between tensors is zero on both sides. */
    g_assert_cmpmem (back, dw->arena_bytes, hw->arena, hw->arena_bytes);
  }
  const StrataConfig *c = &hw->cfg;
  int T = MIN (24, c->n_ctx);
  g_autofree int32_t *ids = g_new (int32_t, T);
  for (int i = 0; i < T; i++)
    ids[i] = g_test_rand_int_range (0, c->vocab);
  gsize n = (gsize) T * c->vocab;
  g_autofree float *a = g_new (float, n), *b = g_new (float, n);
  StrataEngine *e_dev = engine_or_fail (dev, on_dev), *e_up = engine_or_fail (dev, host);
  g_assert_cmpint (strata_engine_forward (e_dev, ids, 1, T, NULL, a), ==, STRATA_OK);
  g_assert_cmpint (strata_engine_forward (e_up, ids, 1, T, NULL, b), ==, STRATA_OK);
  expect_close ("device-loaded vs uploaded weights", max_abs_diff (a, b, n));
  strata_engine_free (e_dev);
  strata_engine_free (e_up);
}

/* The patching fast path (strata_engine_forward_jobs: ragged batch, jobs joining at their own
 * layer, the last block computed for the read-out row only) on the device against the CPU,
 * with every logit and with two chosen ids, on one model of each family. */
static void
test_suffix_jobs (gconstpointer data)
{
  if (!need_device ())
    return;
  g_autoptr (StrataModel) model = open_data_model (data);
  const StrataConfig *cfg = &model->weights->cfg;
  StrataEngine *ec = engine_or_fail (strata_backend_cpu (), model), *ed = engine_or_fail (dev, model);
  enum { T = 7, NJ = 5 };
  int L = cfg->n_layers, C = cfg->d_model, V = cfg->vocab, KD = cfg->n_kv_heads * cfg->d_head;
  int32_t tokens[T];
  for (int t = 0; t < T; t++)
    tokens[t] = (int32_t) ((t * 13 + 5) % V);
  g_autofree float *resid = g_new (float, (gsize) L * T * C), *k = g_new (float, (gsize) L * T * KD);
  g_autofree float *v = g_new (float, (gsize) L * T * KD), *base_logits = g_new (float, (gsize) T * V);
  g_autofree const float **rp = g_new (const float *, L), **kp = g_new (const float *, L);
  g_autofree const float **vp = g_new (const float *, L);
  g_autofree StrataCache *caches = g_new (StrataCache, 3 * L);
  for (int l = 0; l < L; l++) {
    rp[l] = resid + (gsize) l * T * C, kp[l] = k + (gsize) l * T * KD, vp[l] = v + (gsize) l * T * KD;
    caches[3 * l] = (StrataCache) { STRATA_SITE_RESID_PRE, l, (float *) rp[l] };
    caches[3 * l + 1] = (StrataCache) { STRATA_SITE_ATTN_K, l, (float *) kp[l] };
    caches[3 * l + 2] = (StrataCache) { STRATA_SITE_ATTN_V, l, (float *) vp[l] };
  }
  StrataHooks h = { caches, 3 * L, NULL, 0 };
  forward_or_fail (ec, tokens, 1, T, &h, base_logits);
  StrataPrefix base = { T, rp, kp, vp };
  g_autofree float *src = g_new (float, C);
  for (int c = 0; c < C; c++)
    src[c] = (float) g_test_rand_double_range (-1, 1);
  StrataPatch patches[NJ] = {
    { STRATA_SITE_RESID_PRE, 0, 0, 2, -1, src },
    { STRATA_SITE_ATTN_OUT, 0, 0, 4, -1, src },
    { STRATA_SITE_MLP_OUT, L - 1, 0, T - 1, -1, src },
    { STRATA_SITE_ATTN_Z, L - 1, 0, T - 1, 1, src },
    { STRATA_SITE_RESID_PRE, L - 1, 0, 3, -1, src },
  };
  StrataSuffixJob jobs[NJ] = {
    { 0, 2, &patches[0], 1 }, { 0, 4, &patches[1], 1 }, { L - 1, 1, &patches[2], 1 },
    { L - 1, T - 1, &patches[3], 1 }, { L - 1, 3, &patches[4], 1 },
  };
  g_autofree float *oc = g_new (float, (gsize) NJ * V), *od = g_new (float, (gsize) NJ * V);
  g_assert_cmpint (strata_engine_forward_jobs (ec, &base, jobs, NJ, T - 1, NULL, 0, oc), ==, STRATA_OK);
  StrataStatus st = strata_engine_forward_jobs (ed, &base, jobs, NJ, T - 1, NULL, 0, od);
  if (st != STRATA_OK)
    g_test_message ("jobs on %s: %s", dev->name, strata_engine_get_error (ed));
  g_assert_cmpint (st, ==, STRATA_OK);
  expect_close ("suffix jobs, every logit", max_abs_diff (oc, od, (gsize) NJ * V));
  int32_t ids[2] = { 1, V - 1 };
  float tc[NJ * 2], td[NJ * 2];
  g_assert_cmpint (strata_engine_forward_jobs (ec, &base, jobs, NJ, T - 1, ids, 2, tc), ==, STRATA_OK);
  g_assert_cmpint (strata_engine_forward_jobs (ed, &base, jobs, NJ, T - 1, ids, 2, td), ==, STRATA_OK);
  expect_close ("suffix jobs, two logits", max_abs_diff (tc, td, NJ * 2));
  for (int j = 0; j < NJ; j++)
    for (int i = 0; i < 2; i++)
      g_assert_cmpfloat_with_epsilon (td[j * 2 + i], od[(gsize) j * V + ids[i]], 1e-4);
  strata_engine_free (ec);
  strata_engine_free (ed);
}

/* KV-cached decode steps on the device (keys and values kept in device memory) against the
 * CPU's full pass: a prefill of 3, then one token at a time through the whole context. */
static void
test_decode (gconstpointer data)
{
  if (!need_device ())
    return;
  g_autoptr (StrataModel) model = open_data_model (data);
  const StrataConfig *cfg = &model->weights->cfg;
  StrataEngine *ec = engine_or_fail (strata_backend_cpu (), model), *ed = engine_or_fail (dev, model);
  int T = cfg->n_ctx, V = cfg->vocab;
  g_autofree int32_t *tokens = g_new (int32_t, T);
  for (int t = 0; t < T; t++)
    tokens[t] = (int32_t) ((t * 13 + 5) % V);
  g_autofree float *full = g_new (float, (gsize) T * V), *step = g_new (float, V);
  StrataKVCache *cache = strata_kv_cache_new (ed, T);
  g_assert_nonnull (cache);
  for (int len = 3; len <= T; len++) {
    int from = len == 3 ? 0 : len - 1;
    StrataStatus st = strata_engine_step (ed, cache, tokens + from, len - from, step);
    if (st != STRATA_OK)
      g_test_message ("step on %s: %s", dev->name, strata_engine_get_error (ed));
    g_assert_cmpint (st, ==, STRATA_OK);
    forward_or_fail (ec, tokens, 1, len, NULL, full);
    g_autofree char *what = g_strdup_printf ("decode step to %d tokens", len);
    expect_close (what, max_abs_diff (step, full + (gsize) (len - 1) * V, (gsize) V));
  }
  strata_kv_cache_free (cache);
  strata_engine_free (ec);
  strata_engine_free (ed);
}

/* The two-hop study's 100 prompts of 3 tokens (tests/data/twohop), for `model`. */
static StrataPromptSet *
twohop_prompt_set (StrataModel *model)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "twohop", "prompts-trimmed.jsonl", NULL);
  StrataPromptSet *set = strata_prompt_set_load (path, model, &error);
  g_assert_no_error (error);
  return set;
}

/* The lens over the two-hop prompt set (100 prompts of 3 tokens: shared passes, rows of many
 * prompts unembedded together, each prompt's targets reduced on the device), in the model's
 * BF16 copy too (16-bit matrices on the device): the same top-k ids, target ranks and
 * resolution layers as the CPU's, probabilities within 1e-5. */
static void
test_lens_prompt_set (void)
{
  if (!need_device ())
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) model = open_data_model ("twohop/cot-3000");
  g_autoptr (StrataPromptSet) set = twohop_prompt_set (model);
  StrataLensOptions lo = { .topk = 10, .threshold = 0.5 };
  StrataEngine *ec = engine_or_fail (strata_backend_cpu (), model);
  guint failed;
  g_autoptr (GPtrArray) want = strata_lens_run_set (ec, model, set->prompts, &lo, NULL, &failed, &error);
  g_assert_no_error (error);
  for (int bf16 = 0; bf16 < 2; bf16++) {
    StrataWeights *narrow = bf16 ? strata_weights_convert (model->weights, STRATA_DTYPE_BF16) : NULL;
    StrataStatus st;
    StrataEngine *ed = strata_engine_new (dev, bf16 ? narrow : model->weights, &st);
    g_assert_nonnull (ed);
    StrataEngine *ref = bf16 ? strata_engine_new (strata_backend_cpu (), narrow, &st) : NULL;
    g_autoptr (GPtrArray) base = bf16 ? strata_lens_run_set (ref, model, set->prompts, &lo, NULL, &failed, &error) : NULL;
    g_assert_no_error (error);
    g_autoptr (GPtrArray) got = strata_lens_run_set (ed, model, set->prompts, &lo, NULL, &failed, &error);
    if (!got)
      g_test_message ("%s", error->message);
    g_assert_no_error (error);
    GPtrArray *expect = bf16 ? base : want;
    double worst = 0;
    for (guint i = 0; i < got->len; i++) {
      const StrataLensResult *a = expect->pdata[i], *b = got->pdata[i];
      gsize cells = (gsize) (a->n_layers + 1) * a->T, n = cells * a->topk;
      g_assert_cmpmem (a->topk_ids, n * 4, b->topk_ids, n * 4);
      for (gsize c = 0; c < n; c++)
        worst = MAX (worst, fabs ((double) a->topk_prob[c] - b->topk_prob[c]));
      for (guint j = 0; j < a->targets->len; j++) {
        const StrataLensTarget *x = a->targets->pdata[j], *y = b->targets->pdata[j];
        g_assert_cmpmem (x->rank, cells * 4, y->rank, cells * 4);
        g_assert_cmpmem (x->resolution, a->T * 4, y->resolution, a->T * 4);
        for (gsize c = 0; c < cells; c++)
          worst = MAX (worst, fabs ((double) x->prob[c] - y->prob[c]));
      }
    }
    g_test_message ("lens over %u prompts, %s matrices: discrete results equal, max |prob diff| %.2e", got->len,
                    bf16 ? "BF16" : "F32", worst);
    g_assert_cmpfloat (worst, <=, 1e-5);
    strata_engine_free (ed);
    strata_engine_free (ref);
    strata_weights_free (narrow);
  }
  strata_engine_free (ec);
}

/* The patching sweep of the two-hop prompt set in shared passes (strata_patch_run_set: 100
 * prompts' cells batched together, every patch site, logit difference read as two logits) on
 * the device against the CPU: every metric and score within 1e-4 relative. */
static void
test_patch_prompt_set (void)
{
  if (!need_device ())
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) model = open_data_model ("twohop/cot-3000");
  g_autoptr (StrataPromptSet) set = twohop_prompt_set (model);
  static const StrataPatchSite sites[] = { STRATA_PATCH_RESID_PRE, STRATA_PATCH_ATTN_OUT, STRATA_PATCH_MLP_OUT,
                                           STRATA_PATCH_HEAD, STRATA_PATCH_HEAD_AT };
  guint n = set->prompts->len;
  g_autofree StrataPatchRequest *req = g_new (StrataPatchRequest, n);
  for (guint i = 0; i < n; i++) {
    const StrataPrompt *p = set->prompts->pdata[i];
    req[i] = (StrataPatchRequest) { p, &g_array_index (p->targets, StrataTarget, 1),
                                    { sites, G_N_ELEMENTS (sites), STRATA_PATCH_DENOISE, STRATA_METRIC_LOGIT_DIFF, -1 } };
  }
  StrataEngine *ec = engine_or_fail (strata_backend_cpu (), model), *ed = engine_or_fail (dev, model);
  guint failed;
  g_autoptr (GPtrArray) want = strata_patch_run_set (ec, req, n, NULL, NULL, &failed, &error);
  g_assert_no_error (error);
  g_autoptr (GPtrArray) got = strata_patch_run_set (ed, req, n, NULL, NULL, &failed, &error);
  if (!got)
    g_test_message ("%s", error->message);
  g_assert_no_error (error);
  double worst = 0;
  for (guint i = 0; i < n; i++)
    worst = MAX (worst, probe_patch_difference (want->pdata[i], got->pdata[i]));
  g_test_message ("patching over %u prompts in shared passes: max relative difference %.2e", n, worst);
  g_assert_cmpfloat (worst, <=, 1e-4);
  strata_engine_free (ed);
  strata_engine_free (ec);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  const char *which = g_getenv ("STRATA_TEST_BACKEND");
  if (which && !strcmp (which, "cpu")) {
    dev = strata_backend_cpu ();
    g_snprintf (dev_reason, sizeof dev_reason, "harness check: CPU standing in for the device");
  } else {
    dev = strata_backend_cuda (dev_reason, sizeof dev_reason);
  }
  g_test_message ("device: %s", dev_reason);

  g_test_add_func ("/cuda/op/linear", test_linear);
  g_test_add_func ("/cuda/op/linear-dtypes", test_linear_dtypes);
  g_test_add_func ("/cuda/op/block-dtypes", test_block_dtypes);
  g_test_add_func ("/cuda/op/logit-summary", test_logit_summary);
  g_test_add_func ("/cuda/op/norms", test_norms);
  g_test_add_func ("/cuda/op/embed", test_embed);
  g_test_add_func ("/cuda/op/rope", test_rope);
  g_test_add_func ("/cuda/op/attention", test_attention);
  g_test_add_func ("/cuda/op/elementwise", test_elementwise);
  g_test_add_func ("/cuda/op/copy-many", test_copy_many);
  g_test_add_func ("/cuda/op/bad-shape", test_bad_shape);
  for (guint i = 0; i < G_N_ELEMENTS (forward_cases); i++) {
    g_autofree char *path = g_strdup_printf ("/cuda/forward/%s", forward_cases[i].name);
    g_test_add_data_func (path, &forward_cases[i], test_forward);
  }
  g_test_add_data_func ("/cuda/load-to-device/gpt2", "golden/gpt2", test_load_to_device);
  g_test_add_data_func ("/cuda/load-to-device/mistral-bf16", "golden/mistral-bf16", test_load_to_device);
  g_test_add_data_func ("/cuda/load-to-device/neox-seq-f16", "golden/neox-seq-f16", test_load_to_device);
  g_test_add_data_func ("/cuda/load-to-device/stories260K-q8_0", "stories260K-gguf/stories260K-q8_0.gguf",
                        test_load_to_device);
  g_test_add_data_func ("/cuda/suffix-jobs/gpt2", "golden/gpt2", test_suffix_jobs);
  g_test_add_data_func ("/cuda/suffix-jobs/llama-gqa", "golden/llama-gqa", test_suffix_jobs);
  g_test_add_data_func ("/cuda/suffix-jobs/gemma2-window", "golden/gemma2-window", test_suffix_jobs);
  g_test_add_data_func ("/cuda/suffix-jobs/olmo2-postnorm", "golden/olmo2-postnorm", test_suffix_jobs);
  g_test_add_func ("/cuda/lens/prompt-set", test_lens_prompt_set);
  g_test_add_func ("/cuda/patch/prompt-set", test_patch_prompt_set);
  g_test_add_data_func ("/cuda/decode/gpt2", "golden/gpt2", test_decode);
  g_test_add_data_func ("/cuda/decode/neox", "golden/neox", test_decode);
  g_test_add_data_func ("/cuda/decode/gemma2-window", "golden/gemma2-window", test_decode);
  g_test_add_data_func ("/cuda/decode/mistral-window", "golden/mistral-window", test_decode);
  return g_test_run ();
}
