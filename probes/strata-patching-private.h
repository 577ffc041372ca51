/* strata-patching-private.h: what the naive and the fast patching sweeps share. */
#pragma once

#include "strata-patching.h"

/* The two unpatched runs of a sweep, host arrays of one sequence of T tokens. */
typedef struct {
  int T;
  /* Source run (clean when denoising): the activations patched in. */
  float *src_resid, *src_attn, *src_mlp; /* (L, T, C) resid_pre, attn_out, mlp_out */
  float *src_z;                          /* (L, T, H*D) hook_z */
  float *src_logits;                     /* (T, V) */
  /* Base run (corrupted when denoising): the run that is patched. */
  float *base_logits;                    /* (T, V) */
  float *base_resid, *base_k, *base_v;   /* (L, T, C), (L, T, K*D) x 2; fast path only */
  float *base_attn, *base_mlp, *base_z;  /* (L, T, C) x 2, (L, T, H*D); fast path only */
  float *base_mid;                       /* (L, T, C) resid_mid (sequential blocks); fast path only */
  const float **layers;                  /* L pointers into each of the above, for `prefix` */
  StrataPrefix prefix;
  int32_t base_top1;                     /* argmax of the base run at the answer position */
} StrataPatchRuns;

gboolean _strata_patch_runs_init (StrataPatchRuns *runs, StrataEngine *e, const GArray *base_ids,
                                  const GArray *src_ids, gboolean need_prefix, GError **error);
void _strata_patch_runs_clear (StrataPatchRuns *runs);
StrataPatchResult *_strata_patch_result_new (StrataEngine *e, const StrataPrompt *prompt,
                                             const StrataTarget *target, const StrataPatchOptions *o,
                                             StrataPatchRuns *runs, gboolean need_prefix, GError **error);
int _strata_patch_cell (const StrataPatchRuns *runs, const StrataConfig *g, StrataPatchSite site,
                        int head_pos, int row, int col, int batch, StrataPatch *out, int *first_pos);
double _strata_patch_metric (const StrataPatchResult *r, const float *row, int V, int32_t base_top1);
double _strata_patch_score (const StrataPatchResult *r, double m);
