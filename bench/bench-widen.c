/* bench-widen: what keeping a matrix in its checkpoint's dtype costs on the CPU.
 *
 *   bench-widen
 *
 * The CPU backend widens a kept matrix (F16, BF16, a GGUF block quantization) to F32 a block
 * of rows at a time inside every product (strata-dtypes.c). For each dtype this prints the
 * widening's nanoseconds per value and its ratio to copying the same F32 values, then a
 * (16 x 4096) x (4096 x 4096)^T product with the matrix kept in that dtype against the same
 * product of an F32 matrix, each pair measured in turn in the same run (best of 9). Random values (blocks with
 * small finite scales). A benchmark, not a test. */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "strata-backend.h"
#include "strata-block-values.h"

/* The best of 9 runs of fn(a) and of fn(b), taken in turn so that both see the same load on
 * a shared machine. */
static void
best_seconds (void (*fn) (gpointer), gpointer a, gpointer b, double *best_a, double *best_b)
{
  *best_a = *best_b = G_MAXDOUBLE;
  for (int rep = 0; rep < 9; rep++) {
    gint64 t0 = g_get_monotonic_time ();
    fn (a);
    gint64 t1 = g_get_monotonic_time ();
    fn (b);
    *best_a = MIN (*best_a, (t1 - t0) / 1e6);
    *best_b = MIN (*best_b, (g_get_monotonic_time () - t1) / 1e6);
  }
}

typedef struct {
  StrataDType dtype;
  const guint8 *src;
  float *dst, *x, *y;
  gsize n;
  int R, N, K;
} Job;

static void
widen (gpointer data)
{
  Job *j = data;
  strata_dtype_to_f32 (j->dtype, j->src, j->dst, j->n);
}

static void
product (gpointer data)
{
  Job *j = data;
  const StrataBackend *cpu = strata_backend_cpu ();
  StrataMat m = { (void *) j->src, j->dtype };
  cpu->linear (cpu, j->y, j->x, &m, NULL, j->R, j->N, j->K, STRATA_PRECISION_FP32);
}

int
main (void)
{
  const int R = 16, N = 4096, K = 4096;
  gsize n = (gsize) N * K;
  g_autofree guint8 *src = g_malloc (n * 4);
  g_autofree float *dst = g_new (float, n), *x = g_new (float, (gsize) R * K), *y = g_new (float, (gsize) R * N);
  guint32 s = 2463534242u;
  for (gsize i = 0; i < n * 4; i++) {
    s ^= s << 13, s ^= s >> 17, s ^= s << 5;
    src[i] = (guint8) s;
  }
  for (gsize i = 0; i < (gsize) R * K; i++)
    x[i] = (float) (i % 17) / 17.0f - 0.5f;
  /* F32 from small random values, for the copy and the reference product. */
  for (gsize i = 0; i < n; i++) {
    float v = ((float) (src[i] % 200) - 100.0f) * 1e-4f;
    memcpy (src + 4 * i, &v, 4);
  }
  Job f32 = { STRATA_DTYPE_F32, src, dst, x, y, n, R, N, K };
  printf ("bench-widen: %d x %d matrix, products of %d rows; each dtype against F32 in turn\n", N, K, R);
  printf ("%-6s %10s %12s %12s %12s %14s %12s\n", "dtype", "ns/value", "F32 copy", "x F32 copy", "product ms",
          "F32 product", "x F32");
  for (int dt = STRATA_DTYPE_F16; dt < STRATA_DTYPE_N; dt++) {
    g_autofree guint8 *kept = g_malloc (strata_dtype_bytes ((StrataDType) dt, n));
    gsize block = (gsize) strata_dtype_block ((StrataDType) dt), bb = strata_dtype_bytes ((StrataDType) dt, block);
    int at[2];
    strata_block_scale_fields ((StrataDType) dt, at);
    for (gsize b = 0; b < n / block; b++) {
      memcpy (kept + b * bb, src + (b * bb) % (n * 4 - bb), bb);
      for (int f = 0; f < 2 && at[f] >= 0; f++) { /* small finite scales (and mins) */
        float d = 1e-3f;
        strata_dtype_from_f32 (STRATA_DTYPE_F16, &d, kept + b * bb + at[f], 1);
      }
    }
    if (block == 1) /* F16/BF16: the F32 values rounded */
      strata_dtype_from_f32 ((StrataDType) dt, (const float *) src, kept, n);
    Job j = { (StrataDType) dt, kept, dst, x, y, n, R, N, K };
    double w, copy_s, p, f32_product_s;
    best_seconds (widen, &j, &f32, &w, &copy_s);
    best_seconds (product, &j, &f32, &p, &f32_product_s);
    printf ("%-6s %10.3f %12.3f %12.2f %12.1f %14.1f %12.2f\n", strata_dtype_to_string ((StrataDType) dt), w / n * 1e9,
            copy_s / n * 1e9, w / copy_s, p * 1e3, f32_product_s * 1e3, p / f32_product_s);
  }
  return 0;
}
