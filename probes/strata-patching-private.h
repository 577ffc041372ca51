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
/* The same for n prompts of equal length (runs[k] for base_ids[k], src_ids[k]), each run one
 * pass over all n. */
gboolean _strata_patch_runs_init_set (StrataPatchRuns *runs, guint n, StrataEngine *e, const GArray *const *base_ids,
                                      const GArray *const *src_ids, gboolean need_prefix, GError **error);
void _strata_patch_runs_clear (StrataPatchRuns *runs);
/* A result with its maps (zero) and settings, the inputs checked; no run yet. */
StrataPatchResult *_strata_patch_result_prepare (StrataEngine *e, const StrataPrompt *prompt,
                                                 const StrataTarget *target, const StrataPatchOptions *o,
                                                 GError **error);
/* The ids of its base run (the one patched: corrupted when denoising) and of its source run. */
const GArray *_strata_patch_base_ids (const StrataPatchResult *r);
const GArray *_strata_patch_source_ids (const StrataPatchResult *r);
/* Its unpatched metrics from its runs (and runs->base_top1). */
void _strata_patch_result_set_baselines (StrataPatchResult *r, StrataPatchRuns *runs, int V);
/* All three: prepared, its runs made (runs is cleared by the caller on every path), baselines. */
StrataPatchResult *_strata_patch_result_new (StrataEngine *e, const StrataPrompt *prompt,
                                             const StrataTarget *target, const StrataPatchOptions *o,
                                             StrataPatchRuns *runs, gboolean need_prefix, GError **error);
int _strata_patch_cell (const StrataPatchRuns *runs, const StrataConfig *g, StrataPatchSite site,
                        int head_pos, int row, int col, int batch, StrataPatch *out, int *first_pos);
double _strata_patch_metric (const StrataPatchResult *r, const float *row, int V, int32_t base_top1);
double _strata_patch_score (const StrataPatchResult *r, double m);
