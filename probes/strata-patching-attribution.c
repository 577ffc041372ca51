/* strata-patching-attribution.c: attribution patching, the first-order estimate of every
 * patching effect from one backward pass (strata-patching.h, StrataPatchMethod).
 *
 * The run being patched (the corrupted input when denoising) is differentiated once: the
 * gradient of the metric at the answer position with respect to every site's activation.
 * Patching cell (site, layer, position) would change the metric by about
 * (a_source - a_run) . dM/da there; a head's cell sums its hook_z products over the
 * positions it patches. The baselines are the real unpatched metrics, so the scores read as
 * real patching's. */
#include <math.h>
#include <string.h>

#include "strata-patching-private.h"
#include "strata-probes-private.h"
#include "strata-train.h"

/* d metric / d logits at the answer position of the run being patched. */
static void
metric_gradient (const StrataPatchResult *r, const float *row, int V, float *d)
{
  memset (d, 0, sizeof *d * V);
  if (r->metric == STRATA_METRIC_LOGIT_DIFF) {
    d[r->target] += 1.0f;
    d[r->contrast] -= 1.0f;
    return;
  }
  /* Probability of the target: dp_t / dlogit_v = p_t (1[v = t] - p_v). */
  float mx = row[0];
  for (int v = 1; v < V; v++)
    mx = MAX (mx, row[v]);
  double sum = 0;
  for (int v = 0; v < V; v++)
    sum += exp ((double) row[v] - mx);
  double pt = exp ((double) row[r->target] - mx) / sum;
  for (int v = 0; v < V; v++)
    d[v] = (float) (-pt * exp ((double) row[v] - mx) / sum);
  d[r->target] += (float) pt;
}

static double
dot_diff (const float *source, const float *run, const float *grad, size_t n)
{
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += ((double) source[i] - run[i]) * grad[i];
  return s;
}

/* The estimate of every cell of `m` from the two runs' activations and the gradients. */
static void
fill_map (StrataPatchResult *r, StrataPatchMap *m, const StrataPatchRuns *runs, const float *g_resid,
          const float *g_attn, const float *g_mlp, const float *g_z, const StrataConfig *g, double m_run)
{
  int T = runs->T, C = g->d_model, D = g->d_head;
  size_t HD = (size_t) g->n_heads * D;
  for (int l = 0; l < m->rows; l++)
    for (int col = 0; col < m->cols; col++) {
      double delta = 0;
      size_t row = ((size_t) l * T + col) * C;
      switch (m->site) {
      case STRATA_PATCH_RESID_PRE:
        delta = dot_diff (runs->src_resid + row, runs->base_resid + row, g_resid + row, C);
        break;
      case STRATA_PATCH_ATTN_OUT:
        delta = dot_diff (runs->src_attn + row, runs->base_attn + row, g_attn + row, C);
        break;
      case STRATA_PATCH_MLP_OUT:
        delta = dot_diff (runs->src_mlp + row, runs->base_mlp + row, g_mlp + row, C);
        break;
      case STRATA_PATCH_HEAD:
      case STRATA_PATCH_HEAD_AT:
      default:
        for (int t = m->site == STRATA_PATCH_HEAD ? 0 : m->head_pos; t < T; t++) {
          size_t at = ((size_t) l * T + t) * HD + (size_t) col * D;
          delta += dot_diff (runs->src_z + at, runs->base_z + at, g_z + at, D);
          if (m->site == STRATA_PATCH_HEAD_AT)
            break;
        }
        break;
      }
      double v = m_run + delta;
      m->metric[l * m->cols + col] = v;
      m->score[l * m->cols + col] = _strata_patch_score (r, v);
    }
}

StrataPatchResult *
strata_patch_run_attribution (StrataEngine *e, const StrataPrompt *prompt, const StrataTarget *target,
                              const StrataPatchOptions *opts, GError **error)
{
  if (opts->metric == STRATA_METRIC_TOP1_CHANGE) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "attribution patching needs a differentiable metric (logit-diff or prob), not top1-change");
    return NULL;
  }
  StrataStatus st;
  StrataTrainer *trainer = strata_trainer_new (e, &st);
  if (!trainer) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "attribution patching needs a backward pass: %s",
                 strata_engine_get_error (e));
    return NULL;
  }
  StrataPatchRuns runs;
  g_autoptr (StrataPatchResult) r = _strata_patch_result_new (e, prompt, target, opts, &runs, TRUE, error);
  gboolean ok = r != NULL;
  if (ok) {
    const StrataConfig *g = strata_engine_get_config (e);
    int L = g->n_layers, T = runs.T, V = g->vocab, C = g->d_model;
    size_t HD = (size_t) g->n_heads * g->d_head;
    r->method = STRATA_PATCH_ATTRIBUTION;
    const float *run_row = runs.base_logits + (size_t) r->answer_pos * V;
    double m_run = r->direction == STRATA_PATCH_DENOISE ? r->baseline_corrupt : r->baseline_clean;
    g_autofree float *dlogits = g_new (float, V);
    metric_gradient (r, run_row, V, dlogits);
    g_autofree float *g_resid = g_new (float, (size_t) L * T * C), *g_attn = g_new (float, (size_t) L * T * C);
    g_autofree float *g_mlp = g_new (float, (size_t) L * T * C), *g_z = g_new (float, (size_t) L * T * HD);
    g_autofree StrataGradSite *sites = g_new (StrataGradSite, 4 * L);
    for (int l = 0; l < L; l++) {
      sites[4 * l] = (StrataGradSite) { STRATA_SITE_RESID_PRE, l, g_resid + (size_t) l * T * C };
      sites[4 * l + 1] = (StrataGradSite) { STRATA_SITE_ATTN_OUT, l, g_attn + (size_t) l * T * C };
      sites[4 * l + 2] = (StrataGradSite) { STRATA_SITE_MLP_OUT, l, g_mlp + (size_t) l * T * C };
      sites[4 * l + 3] = (StrataGradSite) { STRATA_SITE_ATTN_Z, l, g_z + (size_t) l * T * HD };
    }
    const GArray *run_ids = r->direction == STRATA_PATCH_DENOISE ? r->corrupt_ids : r->clean_ids;
    st = strata_trainer_metric_grad (trainer, (const int32_t *) run_ids->data, 1, T, r->answer_pos, dlogits, sites,
                                     4 * L);
    ok = st == STRATA_OK || _strata_probe_pass_failed (e, st, "backward pass failed", error);
    for (guint i = 0; ok && i < r->maps->len; i++)
      fill_map (r, r->maps->pdata[i], &runs, g_resid, g_attn, g_mlp, g_z, g, m_run);
  }
  _strata_patch_runs_clear (&runs);
  strata_trainer_free (trainer);
  return ok ? g_steal_pointer (&r) : NULL;
}
