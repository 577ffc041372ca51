/* strata-backend-cpu-grad.c: the CPU backend's training operations: the gradients of the
 * forward operations GPT-2 uses (OpenBLAS for the products), the loss and AdamW. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strata-backend-cpu-grad.h"

StrataStatus
_strata_cpu_linear_grad (const StrataBackend *be, float *dx, float *dw, float *db, const float *dy, const float *x,
                         const float *w, int R, int N, int K, int add)
{
  if (dx)
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, R, K, N, 1.0f, dy, N, w, K, add ? 1.0f : 0.0f, dx, K);
  if (dw)
    cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, N, K, R, 1.0f, dy, N, x, K, 1.0f, dw, K);
  for (int r = 0; db && r < R; r++)
    for (int n = 0; n < N; n++)
      db[n] += dy[(size_t) r * N + n];
  return STRATA_OK;
}

/* y = x̂ · w + b with x̂ = (x - mean) · rstd: dx = rstd · (g - mean(g) - x̂ · mean(g · x̂))
 * for g = dy · w. mean and rstd are recomputed as the forward computes them. */
StrataStatus
_strata_cpu_norm_grad (const StrataBackend *be, float *dx, float *dw, float *db, const float *dy, const float *x,
                       const float *w, int R, int C, const StrataNormParams *p, int add)
{
  if (p->kind != STRATA_NORM_LAYERNORM)
    return STRATA_ERR_UNSUPPORTED;
  for (int r = 0; r < R; r++) {
    const float *xr = x + (size_t) r * C, *dyr = dy + (size_t) r * C;
    double mean;
    float rstd = _strata_cpu_layernorm_stats (xr, C, p->eps, &mean);
    double g_mean = 0, gx_mean = 0;
    for (int c = 0; c < C; c++) {
      float xh = (float) (xr[c] - mean) * rstd, g = dyr[c] * w[c];
      g_mean += g;
      gx_mean += (double) g * xh;
      if (dw)
        dw[c] += dyr[c] * xh;
      if (db)
        db[c] += dyr[c];
    }
    g_mean /= C;
    gx_mean /= C;
    for (int c = 0; dx && c < C; c++) {
      float xh = (float) (xr[c] - mean) * rstd;
      float d = rstd * (float) (dyr[c] * w[c] - g_mean - xh * gx_mean);
      dx[(size_t) r * C + c] = add ? dx[(size_t) r * C + c] + d : d;
    }
  }
  return STRATA_OK;
}

/* gelu_tanh(u) = 0.5 u (1 + tanh s), s = k (u + 0.044715 u³):
 * gelu' = 0.5 (1 + tanh s) + 0.5 u (1 - tanh² s) k (1 + 3 · 0.044715 u²), with
 * tanh s = 1 - 2 / (1 + exp 2s) (expf costs a third of tanhf, as in the forward). */
StrataStatus
_strata_cpu_activation_grad (const StrataBackend *be, float *dy, const float *u, size_t n, StrataActivation act)
{
  if (act != STRATA_ACT_GELU_TANH)
    return STRATA_ERR_UNSUPPORTED;
  const float k = 0.7978845608028654f; /* sqrt(2/pi) */
  for (size_t i = 0; i < n; i++) {
    float x = u[i], t = 1.0f - 2.0f / (1.0f + expf (2.0f * k * (x + 0.044715f * x * x * x)));
    dy[i] *= 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * k * (1.0f + 3.0f * 0.044715f * x * x);
  }
  return STRATA_OK;
}

/* Per (sequence, head), with P the pattern and S = scale · q kᵀ its scores:
 * dv += Pᵀ dz; dP = dz vᵀ; dS = P ⊙ (dP - rowsum(P ⊙ dP)); dq = scale · dS k;
 * dk += scale · dSᵀ q (heads sharing a key/value head add up). Masked keys have P = 0, so
 * dS is 0 there without a mask. */
StrataStatus
_strata_cpu_attention_grad (const StrataBackend *be, float *dq, float *dk, float *dv, const float *dz,
                            const float *pattern, const float *q, const float *k, const float *v, int B, int T,
                            int H, int K, int D, const StrataAttnParams *a)
{
  if (a->softcap > 0)
    return STRATA_ERR_UNSUPPORTED;
  float *ds = malloc ((size_t) T * T * sizeof (float));
  if (!ds)
    return STRATA_ERR_MEMORY;
  int group = H / K, HD = H * D, KD = K * D;
  memset (dk, 0, (size_t) B * T * KD * sizeof (float));
  memset (dv, 0, (size_t) B * T * KD * sizeof (float));
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++) {
      size_t qo = (size_t) b * T * HD + (size_t) h * D, ko = (size_t) b * T * KD + (size_t) (h / group) * D;
      const float *p = pattern + ((size_t) b * H + h) * T * T;
      cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1.0f, p, T, dz + qo, HD, 1.0f, dv + ko, KD);
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, 1.0f, dz + qo, HD, v + ko, KD, 0.0f, ds, T);
      for (int i = 0; i < T; i++) {
        const float *pr = p + (size_t) i * T;
        float *dr = ds + (size_t) i * T;
        double dot = 0;
        for (int j = 0; j < T; j++)
          dot += (double) pr[j] * dr[j];
        for (int j = 0; j < T; j++)
          dr[j] = pr[j] * (dr[j] - (float) dot);
      }
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, a->scale, ds, T, k + ko, KD, 0.0f, dq + qo,
                   HD);
      cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, a->scale, ds, T, q + qo, HD, 1.0f, dk + ko, KD);
    }
  free (ds);
  return STRATA_OK;
}

StrataStatus
_strata_cpu_cross_entropy_grad (const StrataBackend *be, float *logits, double *loss, const int32_t *targets, int R,
                                int V, float weight)
{
  for (int r = 0; r < R; r++) {
    float *row = logits + (size_t) r * V;
    if (targets[r] < 0) {
      memset (row, 0, (size_t) V * sizeof (float));
      continue;
    }
    float mx = -INFINITY;
    for (int i = 0; i < V; i++)
      mx = fmaxf (mx, row[i]);
    double sum = 0;
    for (int i = 0; i < V; i++)
      sum += exp ((double) row[i] - mx);
    *loss += log (sum) - ((double) row[targets[r]] - mx);
    for (int i = 0; i < V; i++)
      row[i] = weight * (float) (exp ((double) row[i] - mx) / sum);
    row[targets[r]] -= weight;
  }
  return STRATA_OK;
}

StrataStatus
_strata_cpu_embed_grad (const StrataBackend *be, float *dtable, const float *dx, const int32_t *ids, int R, int C)
{
  for (int r = 0; r < R; r++)
    for (int c = 0; c < C; c++)
      dtable[(size_t) ids[r] * C + c] += dx[(size_t) r * C + c];
  return STRATA_OK;
}

StrataStatus
_strata_cpu_sum_squares (const StrataBackend *be, double *out, const float *x, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += (double) x[i] * x[i];
  *out = s;
  return STRATA_OK;
}

StrataStatus
_strata_cpu_adamw (const StrataBackend *be, float *p, const float *g, float *m, float *v, size_t n,
                   const StrataAdamWUpdate *u)
{
  for (size_t i = 0; i < n; i++) {
    float gi = g[i] * u->grad_scale;
    p[i] *= u->keep;
    m[i] = m[i] * u->beta1 + gi * u->one_minus_beta1;
    v[i] = v[i] * u->beta2 + gi * gi * u->one_minus_beta2;
    p[i] += -u->step_size * (m[i] / (sqrtf (v[i]) / u->bc2_sqrt + u->eps));
  }
  return STRATA_OK;
}
