/* strata-patching.c: activation patching sweeps, naive (one forward pass per patch) and
 * fast (strata_engine_forward_jobs: prefix reuse, patches batched), sharing everything
 * but the loop that runs the patched passes. */
#include "strata-patching-private.h"

#include <math.h>
#include <string.h>

#include "strata-data-error.h"
#include "strata-probes-private.h"

/* Stored in sessions and JSON: append only (strata-enum.h). */
static const StrataEnumValue site_values[] = {
  [STRATA_PATCH_RESID_PRE] = { "resid_pre" },
  [STRATA_PATCH_ATTN_OUT] = { "attn_out" },
  [STRATA_PATCH_MLP_OUT] = { "mlp_out" },
  [STRATA_PATCH_HEAD] = { "head" },
  [STRATA_PATCH_HEAD_AT] = { "head_at" },
};
G_STATIC_ASSERT (G_N_ELEMENTS (site_values) == STRATA_PATCH_N_SITES);
const StrataEnumTable strata_patch_site_table = STRATA_ENUM_TABLE ("patch site", site_values);

static const StrataEnumValue direction_values[] = {
  [STRATA_PATCH_DENOISE] = { "denoise", "denoising" },
  [STRATA_PATCH_NOISE] = { "noise", "noising" },
};
G_STATIC_ASSERT (G_N_ELEMENTS (direction_values) == STRATA_PATCH_NOISE + 1);
const StrataEnumTable strata_patch_direction_table = STRATA_ENUM_TABLE ("patch direction", direction_values);

static const StrataEnumValue metric_values[] = {
  [STRATA_METRIC_LOGIT_DIFF] = { "logit-diff", "LD", "logit difference" },
  [STRATA_METRIC_PROB] = { "prob", "P", "target probability" },
  [STRATA_METRIC_TOP1_CHANGE] = { "top1-change", "top-1 change", "top-1 change" },
};
G_STATIC_ASSERT (G_N_ELEMENTS (metric_values) == STRATA_METRIC_TOP1_CHANGE + 1);
const StrataEnumTable strata_patch_metric_table = STRATA_ENUM_TABLE ("patch metric", metric_values);

static const StrataEnumValue method_values[] = {
  [STRATA_PATCH_EXACT] = { "exact", "Activation patching" },
  [STRATA_PATCH_ATTRIBUTION] = { "attribution", "Attribution patching (estimate)" },
};
G_STATIC_ASSERT (G_N_ELEMENTS (method_values) == STRATA_PATCH_ATTRIBUTION + 1);
const StrataEnumTable strata_patch_method_table = STRATA_ENUM_TABLE ("patch method", method_values);

const char *
strata_patch_site_to_string (StrataPatchSite site)
{
  return strata_enum_to_string (&strata_patch_site_table, site);
}

gboolean
strata_patch_site_from_string (const char *s, StrataPatchSite *site)
{
  int value;
  if (!strata_enum_from_string (&strata_patch_site_table, s, &value))
    return FALSE;
  *site = (StrataPatchSite) value;
  return TRUE;
}

const char *
strata_patch_metric_to_string (StrataPatchMetric m)
{
  return strata_enum_to_string (&strata_patch_metric_table, m);
}

const char *
strata_patch_direction_to_string (StrataPatchDirection d)
{
  return strata_enum_to_string (&strata_patch_direction_table, d);
}

void
strata_patch_map_free (gpointer data)
{
  StrataPatchMap *m = data;
  g_free (m->metric), g_free (m->score);
  g_free (m);
}

void
strata_patch_result_free (StrataPatchResult *r)
{
  if (!r)
    return;
  g_free (r->target_name);
  g_clear_pointer (&r->clean_ids, g_array_unref);
  g_clear_pointer (&r->corrupt_ids, g_array_unref);
  g_clear_pointer (&r->maps, g_ptr_array_unref);
  g_free (r);
}

static int32_t
argmax (const float *row, int V)
{
  int32_t best = 0;
  for (int v = 1; v < V; v++)
    if (row[v] > row[best])
      best = v;
  return best;
}

/* The raw metric of one row of logits (V) at the answer position. */
double
_strata_patch_metric (const StrataPatchResult *r, const float *row, int V, int32_t base_top1)
{
  switch (r->metric) {
  case STRATA_METRIC_LOGIT_DIFF:
    return (double) row[r->target] - row[r->contrast];
  case STRATA_METRIC_PROB: {
    float mx = row[0];
    for (int v = 1; v < V; v++)
      mx = row[v] > mx ? row[v] : mx;
    double sum = 0;
    for (int v = 0; v < V; v++)
      sum += exp ((double) row[v] - mx);
    return exp ((double) row[r->target] - mx) / sum;
  }
  case STRATA_METRIC_TOP1_CHANGE:
    return argmax (row, V) != base_top1;
  }
  return 0;
}

double
_strata_patch_score (const StrataPatchResult *r, double m)
{
  if (r->metric == STRATA_METRIC_TOP1_CHANGE)
    return m;
  double gap = r->baseline_clean - r->baseline_corrupt;
  if (gap == 0)
    return 0; /* small_gap is set: no recovery can be measured */
  if (r->direction == STRATA_PATCH_DENOISE)
    return (m - r->baseline_corrupt) / gap;
  return (m - r->baseline_clean) / gap;
}

static gboolean
check_inputs (const StrataConfig *g, const StrataPrompt *prompt, const StrataTarget *target,
              const StrataPatchOptions *o, GError **error)
{
  if (!prompt->corrupt_ids) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "the prompt has no corrupted input: patching needs 'corrupt' or 'corrupt_ids'");
    return FALSE;
  }
  if (prompt->corrupt_ids->len != prompt->ids->len) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "clean and corrupted inputs differ in length (%u and %u tokens)", prompt->ids->len,
                 prompt->corrupt_ids->len);
    return FALSE;
  }
  if (target->id < 0 || target->id >= g->vocab) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN, "target '%s' (id %d) is outside the vocabulary",
                 target->name, target->id);
    return FALSE;
  }
  if (o->metric == STRATA_METRIC_LOGIT_DIFF && (prompt->contrast < 0 || prompt->contrast >= g->vocab)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN,
                 "the logit-difference metric needs a contrast token");
    return FALSE;
  }
  int T = (int) prompt->ids->len;
  for (int i = 0; i < o->n_sites; i++) {
    if (o->sites[i] < 0 || o->sites[i] >= STRATA_PATCH_N_SITES) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "unknown patching site %d", o->sites[i]);
      return FALSE;
    }
    if (o->sites[i] == STRATA_PATCH_HEAD_AT && (o->head_pos >= T || o->head_pos < -1)) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "head position %d is out of range for %d tokens", o->head_pos, T);
      return FALSE;
    }
  }
  return TRUE;
}

void
_strata_patch_runs_clear (StrataPatchRuns *runs)
{
  g_free (runs->src_resid), g_free (runs->src_attn), g_free (runs->src_mlp), g_free (runs->src_z);
  g_free (runs->base_resid), g_free (runs->base_k), g_free (runs->base_v);
  g_free (runs->base_attn), g_free (runs->base_mlp), g_free (runs->base_z), g_free (runs->base_mid);
  g_free (runs->base_logits), g_free (runs->src_logits);
  g_free (runs->layers);
}

/* A site a run caches at every layer into each prompt's (L, T, w) array runs[k].<field>. */
typedef struct {
  StrataSite site;
  size_t w;
  size_t field; /* offsetof (StrataPatchRuns, <array>) */
} RunSite;

static float **
run_array (StrataPatchRuns *runs, size_t field)
{
  return (float **) ((char *) runs + field);
}

/* One pass of n sequences (ids[k], all of runs[0].T tokens) caching `sites` at every layer
 * into each prompt's own arrays and the logits into its (T, V) array at `logits_field`
 * (allocated here). A pass of several goes through one staging copy of its caches, laid out as
 * the engine writes them ((n, T, w) per site and layer). */
static gboolean
run_set (StrataEngine *e, StrataPatchRuns *runs, guint n, const GArray *const *ids, const RunSite *sites,
         int n_sites, size_t logits_field, GError **error)
{
  const StrataConfig *g = strata_engine_get_config (e);
  int L = g->n_layers, T = runs[0].T;
  size_t V = g->vocab, floats = (size_t) T * V;
  for (guint k = 0; k < n; k++) {
    *run_array (&runs[k], logits_field) = g_new (float, (size_t) T * V);
    for (int s = 0; s < n_sites; s++)
      *run_array (&runs[k], sites[s].field) = g_new (float, (size_t) L * T * sites[s].w);
  }
  for (int s = 0; s < n_sites; s++)
    floats += (size_t) L * T * sites[s].w;
  g_autofree float *staging = n > 1 ? g_try_new (float, floats * n) : NULL;
  if (n > 1 && !staging) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                 "cannot allocate %zu bytes for the unpatched runs of %u prompts", floats * n * sizeof (float), n);
    return FALSE;
  }
  g_autofree StrataCache *caches = g_new (StrataCache, (gsize) MAX (1, n_sites * L));
  g_autofree int32_t *tokens = g_new (int32_t, (gsize) n * T);
  float *at = staging ? staging + (size_t) T * V * n : NULL;
  for (int s = 0; s < n_sites; s++)
    for (int l = 0; l < L; l++) {
      size_t plane = (size_t) T * sites[s].w;
      caches[s * L + l] = (StrataCache) { sites[s].site, l, at ? at : *run_array (&runs[0], sites[s].field) + l * plane };
      at = at ? at + plane * n : NULL;
    }
  for (guint k = 0; k < n; k++)
    memcpy (tokens + (size_t) k * T, ids[k]->data, (size_t) T * sizeof (int32_t));
  StrataHooks hooks = { caches, n_sites * L, NULL, 0 };
  StrataStatus st = strata_engine_forward (e, tokens, (int) n, T, &hooks,
                                           staging ? staging : *run_array (&runs[0], logits_field));
  if (st != STRATA_OK)
    return _strata_probe_pass_failed (e, st, "forward pass failed", error);
  for (guint k = 0; staging && k < n; k++) {
    memcpy (*run_array (&runs[k], logits_field), staging + (size_t) k * T * V, (size_t) T * V * sizeof (float));
    for (int s = 0; s < n_sites; s++)
      for (int l = 0; l < L; l++) {
        size_t plane = (size_t) T * sites[s].w;
        memcpy (*run_array (&runs[k], sites[s].field) + l * plane, caches[s * L + l].dst + k * plane,
                plane * sizeof (float));
      }
  }
  return TRUE;
}

/* The two unpatched runs of n prompts of equal length, each run as one pass over the n
 * prompts: the sources (activations to patch in) and the bases (the runs that are patched;
 * their residuals and keys/values are what the fast path reuses). */
gboolean
_strata_patch_runs_init_set (StrataPatchRuns *runs, guint n, StrataEngine *e, const GArray *const *base_ids,
                             const GArray *const *src_ids, gboolean need_prefix, GError **error)
{
  const StrataConfig *g = strata_engine_get_config (e);
  int L = g->n_layers, T = (int) base_ids[0]->len;
  size_t C = g->d_model, HD = (size_t) g->n_heads * g->d_head, KD = (size_t) g->n_kv_heads * g->d_head;
  for (guint k = 0; k < n; k++)
    runs[k] = (StrataPatchRuns) { .T = T };
  const RunSite src[] = {
    { STRATA_SITE_RESID_PRE, C, G_STRUCT_OFFSET (StrataPatchRuns, src_resid) },
    { STRATA_SITE_ATTN_OUT, C, G_STRUCT_OFFSET (StrataPatchRuns, src_attn) },
    { STRATA_SITE_MLP_OUT, C, G_STRUCT_OFFSET (StrataPatchRuns, src_mlp) },
    { STRATA_SITE_ATTN_Z, HD, G_STRUCT_OFFSET (StrataPatchRuns, src_z) },
  };
  if (!run_set (e, runs, n, src_ids, src, G_N_ELEMENTS (src), G_STRUCT_OFFSET (StrataPatchRuns, src_logits), error))
    return FALSE;
  /* The base run at every site the fast path reuses (resid_pre, keys and values, and what a
   * one-row first block takes as it was: StrataPrefix) or compares patches with (hook_z,
   * hook_mlp_out: changes_nothing in strata-patching-fast.c). */
  const RunSite base[] = {
    { STRATA_SITE_RESID_PRE, C, G_STRUCT_OFFSET (StrataPatchRuns, base_resid) },
    { STRATA_SITE_ATTN_K, KD, G_STRUCT_OFFSET (StrataPatchRuns, base_k) },
    { STRATA_SITE_ATTN_V, KD, G_STRUCT_OFFSET (StrataPatchRuns, base_v) },
    { STRATA_SITE_ATTN_OUT, C, G_STRUCT_OFFSET (StrataPatchRuns, base_attn) },
    { STRATA_SITE_ATTN_Z, HD, G_STRUCT_OFFSET (StrataPatchRuns, base_z) },
    { STRATA_SITE_MLP_OUT, C, G_STRUCT_OFFSET (StrataPatchRuns, base_mlp) },
    { STRATA_SITE_RESID_MID, C, G_STRUCT_OFFSET (StrataPatchRuns, base_mid) },
  };
  int n_base = !need_prefix ? 0 : strata_site_exists (g, STRATA_SITE_RESID_MID) ? G_N_ELEMENTS (base)
                                                                                : G_N_ELEMENTS (base) - 1;
  if (!run_set (e, runs, n, base_ids, base, n_base, G_STRUCT_OFFSET (StrataPatchRuns, base_logits), error))
    return FALSE;
  for (guint k = 0; need_prefix && k < n; k++) {
    StrataPatchRuns *r = &runs[k];
    const float *const **slots[] = { &r->prefix.resid_pre, &r->prefix.k, &r->prefix.v, &r->prefix.attn_out,
                                     &r->prefix.resid_mid };
    const float *arrays[] = { r->base_resid, r->base_k, r->base_v, r->base_attn, r->base_mid };
    size_t w[] = { C, KD, KD, C, C };
    r->layers = g_new (const float *, G_N_ELEMENTS (slots) * (gsize) L);
    r->prefix.T = T;
    for (gsize s = 0; s < G_N_ELEMENTS (slots); s++) {
      for (int l = 0; arrays[s] && l < L; l++)
        r->layers[s * L + l] = arrays[s] + (size_t) l * T * w[s];
      *slots[s] = arrays[s] ? r->layers + s * L : NULL;
    }
  }
  return TRUE;
}

gboolean
_strata_patch_runs_init (StrataPatchRuns *runs, StrataEngine *e, const GArray *base_ids, const GArray *src_ids,
                         gboolean need_prefix, GError **error)
{
  return _strata_patch_runs_init_set (runs, 1, e, &base_ids, &src_ids, need_prefix, error);
}

/* The patches of cell (row, col) of a map, written into `out` for copy `batch`; returns how
 * many (T for a head over every position, else 1) and the first position they touch. */
int
_strata_patch_cell (const StrataPatchRuns *runs, const StrataConfig *g, StrataPatchSite site,
                    int head_pos, int row, int col, int batch, StrataPatch *out, int *first_pos)
{
  int T = runs->T, C = g->d_model, D = g->d_head;
  size_t HD = (size_t) g->n_heads * D;
  size_t plane = (size_t) row * T * C + (size_t) col * C;
  switch (site) {
  case STRATA_PATCH_RESID_PRE:
    out[0] = (StrataPatch) { STRATA_SITE_RESID_PRE, row, batch, col, -1, runs->src_resid + plane };
    break;
  case STRATA_PATCH_ATTN_OUT:
    out[0] = (StrataPatch) { STRATA_SITE_ATTN_OUT, row, batch, col, -1, runs->src_attn + plane };
    break;
  case STRATA_PATCH_MLP_OUT:
    out[0] = (StrataPatch) { STRATA_SITE_MLP_OUT, row, batch, col, -1, runs->src_mlp + plane };
    break;
  case STRATA_PATCH_HEAD:
    for (int t = 0; t < T; t++)
      out[t] = (StrataPatch) { STRATA_SITE_ATTN_Z, row, batch, t, col,
                               runs->src_z + ((size_t) row * T + t) * HD + (size_t) col * D };
    *first_pos = 0;
    return T;
  case STRATA_PATCH_HEAD_AT:
  default:
    out[0] = (StrataPatch) { STRATA_SITE_ATTN_Z, row, batch, head_pos, col,
                             runs->src_z + ((size_t) row * T + head_pos) * HD + (size_t) col * D };
    *first_pos = head_pos;
    return 1;
  }
  *first_pos = col;
  return 1;
}

StrataPatchResult *
_strata_patch_result_prepare (StrataEngine *e, const StrataPrompt *prompt, const StrataTarget *target,
                              const StrataPatchOptions *o, GError **error)
{
  const StrataConfig *g = strata_engine_get_config (e);
  if (!check_inputs (g, prompt, target, o, error))
    return NULL;
  StrataPatchResult *r = g_new0 (StrataPatchResult, 1);
  int T = (int) prompt->ids->len;
  r->direction = o->direction;
  r->metric = o->metric;
  r->target_name = g_strdup (target->name);
  r->target = target->id;
  r->contrast = o->metric == STRATA_METRIC_LOGIT_DIFF ? prompt->contrast : -1;
  r->clean_ids = g_array_copy (prompt->ids);
  r->corrupt_ids = g_array_copy (prompt->corrupt_ids);
  r->answer_pos = T - 1;
  r->maps = g_ptr_array_new_with_free_func (strata_patch_map_free);
  for (int i = 0; i < o->n_sites; i++) {
    StrataPatchMap *m = g_new0 (StrataPatchMap, 1);
    gboolean heads = o->sites[i] == STRATA_PATCH_HEAD || o->sites[i] == STRATA_PATCH_HEAD_AT;
    m->site = o->sites[i];
    m->rows = g->n_layers;
    m->cols = heads ? g->n_heads : T;
    m->head_pos = o->sites[i] == STRATA_PATCH_HEAD_AT ? (o->head_pos >= 0 ? o->head_pos : r->answer_pos) : -1;
    m->metric = g_new0 (double, (size_t) m->rows * m->cols);
    m->score = g_new0 (double, (size_t) m->rows * m->cols);
    g_ptr_array_add (r->maps, m);
  }
  return r;
}

const GArray *
_strata_patch_base_ids (const StrataPatchResult *r)
{
  return r->direction == STRATA_PATCH_DENOISE ? r->corrupt_ids : r->clean_ids;
}

const GArray *
_strata_patch_source_ids (const StrataPatchResult *r)
{
  return r->direction == STRATA_PATCH_DENOISE ? r->clean_ids : r->corrupt_ids;
}

void
_strata_patch_result_set_baselines (StrataPatchResult *r, StrataPatchRuns *runs, int V)
{
  gboolean denoise = r->direction == STRATA_PATCH_DENOISE;
  const float *base_row = runs->base_logits + (size_t) r->answer_pos * V;
  const float *src_row = runs->src_logits + (size_t) r->answer_pos * V;
  runs->base_top1 = argmax (base_row, V);
  double m_base = _strata_patch_metric (r, base_row, V, runs->base_top1);
  double m_src = _strata_patch_metric (r, src_row, V, runs->base_top1);
  r->baseline_clean = denoise ? m_src : m_base;
  r->baseline_corrupt = denoise ? m_base : m_src;
  r->small_gap = r->metric != STRATA_METRIC_TOP1_CHANGE && fabs (r->baseline_clean - r->baseline_corrupt) < 1e-3;
}

StrataPatchResult *
_strata_patch_result_new (StrataEngine *e, const StrataPrompt *prompt, const StrataTarget *target,
                          const StrataPatchOptions *o, StrataPatchRuns *runs, gboolean need_prefix,
                          GError **error)
{
  memset (runs, 0, sizeof *runs); /* the caller clears it on every path */
  g_autoptr (StrataPatchResult) r = _strata_patch_result_prepare (e, prompt, target, o, error);
  if (!r || !_strata_patch_runs_init (runs, e, _strata_patch_base_ids (r), _strata_patch_source_ids (r), need_prefix,
                                      error))
    return NULL;
  _strata_patch_result_set_baselines (r, runs, strata_engine_get_config (e)->vocab);
  return g_steal_pointer (&r);
}

StrataPatchResult *
strata_patch_run_naive (StrataEngine *e, const StrataPrompt *prompt, const StrataTarget *target,
                        const StrataPatchOptions *opts, GError **error)
{
  StrataPatchRuns runs;
  g_autoptr (StrataPatchResult) r = _strata_patch_result_new (e, prompt, target, opts, &runs, FALSE, error);
  if (!r) {
    _strata_patch_runs_clear (&runs);
    return NULL;
  }
  const StrataConfig *g = strata_engine_get_config (e);
  int T = runs.T, V = g->vocab;
  const GArray *base_ids = r->direction == STRATA_PATCH_DENOISE ? r->corrupt_ids : r->clean_ids;
  g_autofree StrataPatch *patches = g_new (StrataPatch, T);
  g_autofree float *logits = g_new (float, (size_t) T * V);
  gboolean ok = TRUE;
  for (guint i = 0; i < r->maps->len && ok; i++) {
    StrataPatchMap *m = r->maps->pdata[i];
    for (int row = 0; row < m->rows && ok; row++)
      for (int col = 0; col < m->cols && ok; col++) {
        int first;
        int n = _strata_patch_cell (&runs, g, m->site, m->head_pos, row, col, 0, patches, &first);
        StrataHooks hooks = { NULL, 0, patches, n };
        StrataStatus st = strata_engine_forward (e, (const int32_t *) base_ids->data, 1, T, &hooks, logits);
        if (st != STRATA_OK) {
          ok = _strata_probe_pass_failed (e, st, "patched forward pass failed", error);
          break;
        }
        double v = _strata_patch_metric (r, logits + (size_t) r->answer_pos * V, V, runs.base_top1);
        m->metric[row * m->cols + col] = v;
        m->score[row * m->cols + col] = _strata_patch_score (r, v);
      }
  }
  _strata_patch_runs_clear (&runs);
  return ok ? g_steal_pointer (&r) : NULL;
}
