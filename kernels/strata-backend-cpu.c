/* strata-backend-cpu.c: the reference backend. OpenBLAS (with its own threads) for every
 * matrix product, attention included; plain loops for the rest, which are memory-bound and
 * small. (An OpenMP pool beside OpenBLAS's threads made both spin against each other on two
 * cores and halved throughput.) Every other backend is checked against this one. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strata-backend.h"

static float *
cpu_alloc (const StrataBackend *be, size_t n_floats)
{
  size_t bytes = (n_floats ? n_floats : 1) * sizeof (float);
  bytes = (bytes + 63) / 64 * 64; /* aligned_alloc wants a multiple of the alignment */
  float *p = aligned_alloc (64, bytes);
  if (p)
    memset (p, 0, bytes);
  return p;
}

static void
cpu_free (const StrataBackend *be, void *p)
{
  free (p);
}

static StrataStatus
cpu_copy (const StrataBackend *be, void *dst, const void *src, size_t bytes)
{
  if (bytes)
    memmove (dst, src, bytes);
  return STRATA_OK;
}

static StrataStatus
cpu_linear (const StrataBackend *be, float *y, const float *x, const float *w, const float *b,
            int R, int N, int K)
{
  float beta = 0.0f;
  if (b) {
    for (int r = 0; r < R; r++)
      memcpy (y + (size_t) r * N, b, (size_t) N * sizeof (float));
    beta = 1.0f;
  }
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, R, N, K, 1.0f, x, K, w, K, beta, y, N);
  return STRATA_OK;
}

static StrataStatus
cpu_layernorm (const StrataBackend *be, float *y, const float *x, const float *w, const float *b,
               int R, int C, float eps)
{
  for (int r = 0; r < R; r++) {
    const float *xr = x + (size_t) r * C;
    float *yr = y + (size_t) r * C;
    double mean = 0, var = 0;
    for (int c = 0; c < C; c++)
      mean += xr[c];
    mean /= C;
    for (int c = 0; c < C; c++)
      var += (xr[c] - mean) * (xr[c] - mean);
    var /= C; /* biased, as torch.nn.LayerNorm */
    float rstd = (float) (1.0 / sqrt (var + eps));
    for (int c = 0; c < C; c++)
      yr[c] = (float) (xr[c] - mean) * rstd * w[c] + (b ? b[c] : 0.0f);
  }
  return STRATA_OK;
}

static StrataStatus
cpu_rmsnorm (const StrataBackend *be, float *y, const float *x, const float *w, int R, int C,
             float eps)
{
  for (int r = 0; r < R; r++) {
    const float *xr = x + (size_t) r * C;
    float *yr = y + (size_t) r * C;
    double ss = 0;
    for (int c = 0; c < C; c++)
      ss += (double) xr[c] * xr[c];
    float rms = (float) (1.0 / sqrt (ss / C + eps));
    for (int c = 0; c < C; c++)
      yr[c] = xr[c] * rms * w[c];
  }
  return STRATA_OK;
}

static StrataStatus
cpu_embed (const StrataBackend *be, float *out, const float *table, const int32_t *ids, int R,
           int C)
{
  for (int r = 0; r < R; r++)
    memcpy (out + (size_t) r * C, table + (size_t) ids[r] * C, (size_t) C * sizeof (float));
  return STRATA_OK;
}

static StrataStatus
cpu_rope (const StrataBackend *be, float *x, int B, int T, int nh, int D, StrataRope pairing,
          float theta)
{
  int half = D / 2;
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++)
      for (int h = 0; h < nh; h++) {
        float *v = x + (((size_t) b * T + t) * nh + h) * D;
        for (int i = 0; i < half; i++) {
          /* Frequency of pair i: theta^(-2i/D), identical in both conventions; they differ
           * only in which two coordinates form the pair. */
          double angle = t * pow (theta, -2.0 * i / D);
          float c = (float) cos (angle), s = (float) sin (angle);
          int i0 = pairing == STRATA_ROPE_ADJACENT ? 2 * i : i;
          int i1 = pairing == STRATA_ROPE_ADJACENT ? 2 * i + 1 : i + half;
          float a = v[i0], bb = v[i1];
          v[i0] = a * c - bb * s;
          v[i1] = a * s + bb * c;
        }
      }
  return STRATA_OK;
}

static StrataStatus
cpu_attention (const StrataBackend *be, float *z, float *pattern, const float *q, const float *k,
               const float *v, int B, int T, int H, int K, int D)
{
  int group = H / K;
  float scale = 1.0f / sqrtf ((float) D);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++) {
      /* Strided views of one head: rows of q, k, v and z are H*D or K*D apart. */
      const float *qh = q + (size_t) b * T * H * D + (size_t) h * D;
      const float *kh = k + (size_t) b * T * K * D + (size_t) (h / group) * D;
      const float *vh = v + (size_t) b * T * K * D + (size_t) (h / group) * D;
      float *zh = z + (size_t) b * T * H * D + (size_t) h * D;
      float *p = pattern + ((size_t) b * H + h) * T * T;
      /* p (T, T) = scale · q_h · k_hᵀ, then a causal softmax per row. */
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, scale, qh, H * D, kh, K * D,
                   0.0f, p, T);
      for (int i = 0; i < T; i++) {
        float *row = p + (size_t) i * T;
        float mx = -INFINITY;
        for (int j = 0; j <= i; j++)
          mx = fmaxf (mx, row[j]);
        double sum = 0;
        for (int j = 0; j <= i; j++) {
          row[j] = expf (row[j] - mx);
          sum += row[j];
        }
        float inv = (float) (1.0 / sum);
        for (int j = 0; j <= i; j++)
          row[j] *= inv;
        for (int j = i + 1; j < T; j++)
          row[j] = 0.0f;
      }
      /* z_h (T, D) = p · v_h */
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.0f, p, T, vh, K * D, 0.0f,
                   zh, H * D);
    }
  return STRATA_OK;
}

static StrataStatus
cpu_gelu (const StrataBackend *be, float *x, size_t n)
{
  /* 0.5 u (1 + tanh t) = u · sigmoid(2t): the same function, written with expf, which
   * costs a third of tanhf (the GELU was a fifth of a patching sweep). */
  const float k = 0.7978845608028654f; /* sqrt(2/pi) */
  for (size_t i = 0; i < n; i++) {
    float u = x[i];
    x[i] = u / (1.0f + expf (-2.0f * k * (u + 0.044715f * u * u * u)));
  }
  return STRATA_OK;
}

static StrataStatus
cpu_swiglu (const StrataBackend *be, float *gate, const float *up, size_t n)
{
  for (size_t i = 0; i < n; i++)
    gate[i] = gate[i] / (1.0f + expf (-gate[i])) * up[i];
  return STRATA_OK;
}

static StrataStatus
cpu_add (const StrataBackend *be, float *y, const float *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    y[i] += x[i];
  return STRATA_OK;
}

static const StrataBackend cpu_backend = {
  .name = "cpu",
  .host_memory = 1,
  .alloc = cpu_alloc,
  .free = cpu_free,
  .upload = cpu_copy,
  .download = cpu_copy,
  .copy = cpu_copy,
  .linear = cpu_linear,
  .layernorm = cpu_layernorm,
  .rmsnorm = cpu_rmsnorm,
  .embed = cpu_embed,
  .rope = cpu_rope,
  .attention = cpu_attention,
  .gelu = cpu_gelu,
  .swiglu = cpu_swiglu,
  .add = cpu_add,
};

const StrataBackend *
strata_backend_cpu (void)
{
  return &cpu_backend;
}
