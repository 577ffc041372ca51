/* strata-backend-cpu-grad.h: the CPU backend's training operations (strata-backend.h),
 * kept out of the forward operations' file. */
#pragma once

#include <math.h>

#include "strata-backend.h"

/* A LayerNorm row's mean (in double) and 1 / std (biased variance, as torch.nn.LayerNorm):
 * the forward and its gradient read the same numbers. */
static inline float
_strata_cpu_layernorm_stats (const float *x, int C, float eps, double *mean_out)
{
  double mean = 0, var = 0;
  for (int c = 0; c < C; c++)
    mean += x[c];
  mean /= C;
  for (int c = 0; c < C; c++)
    var += (x[c] - mean) * (x[c] - mean);
  var /= C;
  *mean_out = mean;
  return (float) (1.0 / sqrt (var + eps));
}

StrataStatus _strata_cpu_linear_grad (const StrataBackend *be, float *dx, float *dw, float *db, const float *dy,
                                      const float *x, const float *w, int R, int N, int K, int add);
StrataStatus _strata_cpu_norm_grad (const StrataBackend *be, float *dx, float *dw, float *db, const float *dy,
                                    const float *x, const float *w, int R, int C, const StrataNormParams *p,
                                    int add);
StrataStatus _strata_cpu_activation_grad (const StrataBackend *be, float *dy, const float *u, size_t n,
                                          StrataActivation act);
StrataStatus _strata_cpu_attention_grad (const StrataBackend *be, float *dq, float *dk, float *dv, const float *dz,
                                         const float *pattern, const float *q, const float *k, const float *v,
                                         int B, int T, int H, int K, int D, const StrataAttnParams *p);
StrataStatus _strata_cpu_cross_entropy_grad (const StrataBackend *be, float *logits, double *loss,
                                             const int32_t *targets, int R, int V, float weight);
StrataStatus _strata_cpu_embed_grad (const StrataBackend *be, float *dtable, const float *dx, const int32_t *ids,
                                     int R, int C);
StrataStatus _strata_cpu_sum_squares (const StrataBackend *be, double *out, const float *x, size_t n);
StrataStatus _strata_cpu_adamw (const StrataBackend *be, float *p, const float *g, float *m, float *v, size_t n,
                                const StrataAdamWUpdate *u);
