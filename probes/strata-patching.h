/* strata-patching.h: activation patching between a clean and a corrupted input.
 *
 * Denoising: run the corrupted input and overwrite one site with the clean activation;
 *   score = (M_patched - M_corrupt) / (M_clean - M_corrupt): 0 no recovery, 1 fully clean.
 * Noising: run the clean input with the corrupted activation;
 *   score = (M_patched - M_clean) / (M_clean - M_corrupt).
 * M is the metric at the last position: logit difference logit(target) - logit(contrast),
 * or the target's probability. "top1-change" (the paper's causal strength) scores 1 when the
 * patched run's top-1 token differs from the unpatched run's, else 0; averaged over a set
 * it is the fraction of prompts whose prediction changes.
 *
 * A patch at (layer l, position p) leaves everything below l and before p unchanged; the
 * sweep reuses the unpatched run for those and batches many patches into one pass. */
#pragma once

#include <glib.h>

#include "strata-engine.h"
#include "strata-enum.h"
#include "strata-model.h"
#include "strata-prompt-set.h"

G_BEGIN_DECLS

typedef enum {
  STRATA_PATCH_RESID_PRE,  /* (layer, position): blocks.L.hook_resid_pre */
  STRATA_PATCH_ATTN_OUT,   /* (layer, position): blocks.L.hook_attn_out */
  STRATA_PATCH_MLP_OUT,    /* (layer, position): blocks.L.hook_mlp_out */
  STRATA_PATCH_HEAD,       /* (layer, head): blocks.L.attn.hook_z of one head, every position */
  STRATA_PATCH_HEAD_AT,    /* (layer, head): the same at one chosen position only */
  STRATA_PATCH_N_SITES
} StrataPatchSite;

/* Names "resid_pre", "attn_out", "mlp_out", "head", "head_at". */
extern const StrataEnumTable strata_patch_site_table;

typedef enum {
  STRATA_PATCH_DENOISE,
  STRATA_PATCH_NOISE,
} StrataPatchDirection;

/* Names "denoise", "noise"; labels "denoising", "noising" (figure titles). */
extern const StrataEnumTable strata_patch_direction_table;

typedef enum {
  STRATA_METRIC_LOGIT_DIFF,
  STRATA_METRIC_PROB,
  STRATA_METRIC_TOP1_CHANGE,
} StrataPatchMetric;

/* Names "logit-diff", "prob", "top1-change"; labels the symbols of the score formula ("LD",
 * "P"); long names for captions ("logit difference", "target probability"). */
extern const StrataEnumTable strata_patch_metric_table;

/* How a result was obtained: real patching (a pass per patch, or the fast sweep's batched
 * equivalent), or attribution patching, its first-order estimate from one forward and one
 * backward pass: M_patched - M_run ~= (a_other - a_run) . dM/da at the site, a_run the
 * activation of the run being patched (the corrupted one when denoising) and a_other the
 * value patched in. A head's estimate sums its output's products over the positions patched. */
typedef enum {
  STRATA_PATCH_EXACT,
  STRATA_PATCH_ATTRIBUTION,
} StrataPatchMethod;
/* Names "exact", "attribution"; labels "Activation patching", "Attribution patching (estimate)"
 * (figure titles). */
extern const StrataEnumTable strata_patch_method_table;

typedef struct {
  StrataPatchSite site;
  int rows, cols;      /* L x T, or L x H for head sites */
  int head_pos;        /* STRATA_PATCH_HEAD_AT: the position patched; else -1 */
  double *metric;      /* (rows, cols): the raw metric after the patch */
  double *score;       /* (rows, cols): normalised as above */
} StrataPatchMap;

typedef struct {
  StrataPatchMethod method;
  StrataPatchDirection direction;
  StrataPatchMetric metric;
  char *target_name;
  int32_t target, contrast; /* contrast -1 for the probability metric */
  GArray *clean_ids, *corrupt_ids; /* int32_t (T) */
  int answer_pos;           /* position whose prediction is scored (T-1) */
  double baseline_clean, baseline_corrupt; /* the metric unpatched */
  gboolean small_gap;       /* |M_clean - M_corrupt| < 1e-3: scores are not meaningful */
  GPtrArray *maps;          /* StrataPatchMap *, in the order the sites were asked */
} StrataPatchResult;

typedef struct {
  const StrataPatchSite *sites;
  int n_sites;
  StrataPatchDirection direction;
  StrataPatchMetric metric;
  int head_pos;             /* for STRATA_PATCH_HEAD_AT; -1: the answer position */
} StrataPatchOptions;

/* The fast sweep (prefix reuse, batched patches). Both sweeps stop within one layer when the
 * engine's abort function asks (strata_engine_set_abort; the fast one asks it between chunks
 * too) and then fail with G_IO_ERROR_CANCELLED. */
StrataPatchResult *strata_patch_run (StrataEngine *engine, const StrataPrompt *prompt,
                                     const StrataTarget *target, const StrataPatchOptions *opts,
                                     GError **error);
/* One prompt of strata_patch_run_set(). */
typedef struct {
  const StrataPrompt *prompt;
  const StrataTarget *target;
  StrataPatchOptions options;
} StrataPatchRequest;

/* How many prompts of a set are swept so far: a group's prompts count in proportion to its
 * cells done, after each of its patched passes but the last, then whole when the group is
 * done. Strictly growing, ending at the number of prompts. */
typedef void (*StrataPatchProgress) (double n_done, gpointer data);

/* Host bytes of prompts' unpatched runs a set's sweep holds at once (each prompt's residual
 * stream, keys, values and site outputs, both runs' logits), and at most an eighth of the free
 * host memory (strata_backend_memory_free); a larger prompt runs alone. */
#define STRATA_PATCH_GROUP_BYTES ((size_t) 256 << 20)

/* The fast sweep of many prompts: prompts of equal length, all or none scored by a logit
 * difference, are swept together (their cells batched into shared passes, up to
 * STRATA_PATCH_GROUP_BYTES of runs at once), so short prompts fill products a prompt alone
 * leaves small. Results in the order of `requests`, each equal to strata_patch_run() of its
 * prompt up to the rounding of products over a different number of rows. On failure NULL,
 * with *failed the index of the request it concerns, G_MAXUINT when it concerns a pass of
 * several prompts. */
GPtrArray *strata_patch_run_set (StrataEngine *engine, const StrataPatchRequest *requests, guint n,
                                 StrataPatchProgress progress, gpointer data, guint *failed, GError **error);
/* The obvious alternative: one full forward pass per patch. Same numbers; for the
 * benchmark and as the test oracle. */
StrataPatchResult *strata_patch_run_naive (StrataEngine *engine, const StrataPrompt *prompt,
                                           const StrataTarget *target,
                                           const StrataPatchOptions *opts, GError **error);
/* Attribution patching (StrataPatchMethod): every site and position of `opts` from one forward
 * pass of each input and one backward pass of the metric; metric and score hold the
 * estimates, the baselines the real unpatched metrics. Needs a backend and recipe with a
 * backward pass (strata_engine_can_backward); the metric must be differentiable (not
 * top1-change). */
StrataPatchResult *strata_patch_run_attribution (StrataEngine *engine, const StrataPrompt *prompt,
                                                 const StrataTarget *target,
                                                 const StrataPatchOptions *opts, GError **error);

void strata_patch_result_free (StrataPatchResult *r);

/* How well an estimate (attribution patching) agrees with real patching on one site. Each
 * prompt is compared on its own (its scores share one normalisation; pooled over prompts, the
 * few with a small clean-corrupt gap would dominate), then the measures are averaged. */
typedef struct {
  StrataPatchSite site;
  int n_prompts;        /* prompts with this site in both results */
  int n_cells;          /* cells over those prompts */
  double pearson;       /* mean per-prompt correlation of the scores (prompts where either map
                         * is constant left out); NAN when none is left */
  int k;                /* cells in a prompt's top k: a fifth of its cells, 1..STRATA_PATCH_AGREEMENT_TOPK
                         * (the largest k used, when prompts differ in length) */
  double topk_overlap;  /* mean share of a prompt's top-k cells by |score| that both results pick */
  double max_abs_diff;  /* largest |estimate - exact| score */
} StrataPatchAgreement;
#define STRATA_PATCH_AGREEMENT_TOPK 10
/* One entry per site of estimate[0] found in both results of some prompt: estimate[i]
 * against exact[i], i < n. GArray of StrataPatchAgreement. */
GArray *strata_patch_agreement (const StrataPatchResult *const *estimate, const StrataPatchResult *const *exact,
                                guint n);
/* Element free function of StrataPatchResult.maps (for code that builds results). */
void strata_patch_map_free (gpointer map);

/* Mean score and metric over prompts sharing a tag ("all" always first). */
typedef struct {
  char *tag;
  int n_prompts;
  StrataPatchSite site;
  int rows, cols;
  double *mean_score;   /* (rows, cols) */
  double *mean_metric;  /* (rows, cols) */
} StrataPatchAggregate;

GPtrArray *strata_patch_aggregate (const StrataPromptSet *set, GPtrArray *results);
void strata_patch_aggregate_free (StrataPatchAggregate *a);

/* The names of the tables above. */
const char *strata_patch_site_to_string (StrataPatchSite site);
gboolean strata_patch_site_from_string (const char *s, StrataPatchSite *site);
const char *strata_patch_metric_to_string (StrataPatchMetric m);
const char *strata_patch_direction_to_string (StrataPatchDirection d);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataPatchResult, strata_patch_result_free)

G_END_DECLS
