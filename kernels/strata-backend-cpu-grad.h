/* strata-backend-cpu-grad.h: the CPU backend's training operations (strata-backend.h),
 * kept out of the forward operations' file. */
#pragma once

#include "strata-backend.h"

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
