/* strata-lens.c: the logit lens. One forward pass caches the L+1 residual points, batched
 * unembeddings of a bounded number of rows turn them into logits, and one pass over each row
 * of logits gives its log-sum-exp, its top-k and every requested rank. */
#include "strata-lens.h"

#include <math.h>
#include <string.h>

#include "strata-data-error.h"
#include "strata-probes-private.h"

void
strata_lens_target_free (gpointer data)
{
  StrataLensTarget *t = data;
  g_free (t->name);
  g_free (t->prob), g_free (t->logprob), g_free (t->logit);
  g_free (t->rank), g_free (t->cand_rank);
  g_free (t->resolution), g_free (t->resolution_threshold);
  g_free (t);
}

void
strata_lens_result_free (StrataLensResult *r)
{
  if (!r)
    return;
  g_clear_pointer (&r->ids, g_array_unref);
  g_clear_pointer (&r->pieces, g_ptr_array_unref);
  g_free (r->topk_ids), g_free (r->topk_prob), g_free (r->topk_logit);
  g_clear_pointer (&r->targets, g_ptr_array_unref);
  g_clear_pointer (&r->token_ids, g_array_unref);
  g_clear_pointer (&r->token_pieces, g_ptr_array_unref);
  g_free (r);
}

const StrataLensTarget *
strata_lens_result_get_target (const StrataLensResult *r, const char *name)
{
  for (guint i = 0; i < r->targets->len; i++) {
    const StrataLensTarget *t = r->targets->pdata[i];
    if (strcmp (t->name, name) == 0)
      return t;
  }
  return NULL;
}

/* NULL stays NULL. */
static gpointer
dup_array (gconstpointer data, size_t n, size_t size)
{
  return data ? g_memdup2 (data, n * size) : NULL;
}

static char *
dup_string (gconstpointer s, gpointer unused)
{
  return g_strdup (s);
}

StrataLensResult *
strata_lens_result_copy (const StrataLensResult *r)
{
  size_t cells = (size_t) (r->n_layers + 1) * r->T, n = cells * r->topk;
  StrataLensResult *c = g_memdup2 (r, sizeof *r);
  c->ids = r->ids ? g_array_copy (r->ids) : NULL;
  c->pieces = r->pieces ? g_ptr_array_copy (r->pieces, (GCopyFunc) dup_string, NULL) : NULL;
  c->topk_ids = dup_array (r->topk_ids, n, sizeof (int32_t));
  c->topk_prob = dup_array (r->topk_prob, n, sizeof (float));
  c->topk_logit = dup_array (r->topk_logit, n, sizeof (float));
  c->targets = g_ptr_array_new_with_free_func (strata_lens_target_free);
  for (guint i = 0; r->targets && i < r->targets->len; i++) {
    const StrataLensTarget *t = r->targets->pdata[i];
    StrataLensTarget *u = g_memdup2 (t, sizeof *t);
    u->name = g_strdup (t->name);
    u->prob = dup_array (t->prob, cells, sizeof (float));
    u->logprob = dup_array (t->logprob, cells, sizeof (float));
    u->logit = dup_array (t->logit, cells, sizeof (float));
    u->rank = dup_array (t->rank, cells, sizeof (int32_t));
    u->cand_rank = dup_array (t->cand_rank, cells, sizeof (int32_t));
    u->resolution = dup_array (t->resolution, r->T, sizeof (int32_t));
    u->resolution_threshold = dup_array (t->resolution_threshold, r->T, sizeof (int32_t));
    g_ptr_array_add (c->targets, u);
  }
  c->token_ids = r->token_ids ? g_array_copy (r->token_ids) : NULL;
  c->token_pieces = r->token_pieces ? g_ptr_array_copy (r->token_pieces, (GCopyFunc) dup_string, NULL) : NULL;
  return c;
}

static int
cmp_i32 (gconstpointer a, gconstpointer b)
{
  int32_t x = *(const int32_t *) a, y = *(const int32_t *) b;
  return (x > y) - (x < y);
}

const char *
strata_lens_result_get_piece (const StrataLensResult *r, int32_t id)
{
  if (!r->token_ids || !r->token_pieces || r->token_ids->len != r->token_pieces->len)
    return NULL;
  guint lo = 0, hi = r->token_ids->len;
  while (lo < hi) { /* ids ascending: binary search */
    guint mid = lo + (hi - lo) / 2;
    int32_t x = g_array_index (r->token_ids, int32_t, mid);
    if (x == id)
      return g_ptr_array_index (r->token_pieces, mid);
    if (x < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

void
strata_lens_result_set_pieces (StrataLensResult *r, StrataModel *model, const int32_t *extra, int n_extra)
{
  g_clear_pointer (&r->token_ids, g_array_unref);
  g_clear_pointer (&r->token_pieces, g_ptr_array_unref);
  if (!model || !model->tokenizer)
    return;
  size_t n = (size_t) (r->n_layers + 1) * r->T * r->topk;
  g_autoptr (GArray) all = g_array_sized_new (FALSE, FALSE, sizeof (int32_t), (guint) n + r->targets->len);
  g_array_append_vals (all, r->topk_ids, (guint) n);
  for (guint i = 0; i < r->targets->len; i++)
    g_array_append_val (all, ((StrataLensTarget *) r->targets->pdata[i])->id);
  if (extra && n_extra > 0)
    g_array_append_vals (all, extra, (guint) n_extra);
  g_array_sort (all, cmp_i32);
  r->token_ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  r->token_pieces = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < all->len; i++) {
    int32_t id = g_array_index (all, int32_t, i);
    if (i > 0 && id == g_array_index (all, int32_t, i - 1))
      continue;
    const char *piece = strata_tokenizer_get_piece (model->tokenizer, id);
    if (!piece)
      continue;
    g_array_append_val (r->token_ids, id);
    g_ptr_array_add (r->token_pieces, g_strdup (piece));
  }
}

/* First layer k from which `ok` holds at every later layer through L; -1 when not at L. */
static int32_t
first_stable (const gboolean *ok, int L1)
{
  int32_t first = -1;
  for (int k = L1 - 1; k >= 0 && ok[k]; k--)
    first = k;
  return first;
}

static gboolean
check_options (const StrataConfig *g, const StrataPrompt *prompt, const StrataLensOptions *o,
               GError **error)
{
  if (o->topk < 1 || o->topk > g->vocab) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "top-k must lie in 1..%d, not %d",
                 g->vocab, o->topk);
    return FALSE;
  }
  for (int c = 0; c < o->n_candidates; c++)
    if (o->candidates[c] < 0 || o->candidates[c] >= g->vocab) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN,
                   "candidate id %d is outside the vocabulary", o->candidates[c]);
      return FALSE;
    }
  for (guint i = 0; i < prompt->targets->len; i++) {
    int32_t id = g_array_index (prompt->targets, StrataTarget, i).id;
    if (id < 0 || id >= g->vocab) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN, "target id %d is outside the vocabulary", id);
      return FALSE;
    }
  }
  return TRUE;
}

/* resid (B, L+1, T, C): for each of B prompts of T tokens, resid_pre of blocks 0..L-1 and the
 * final resid_post, from one forward pass of the B prompts. */
static gboolean
cache_residuals (StrataEngine *engine, const StrataPrompt *const *prompts, int B, float *resid, GError **error)
{
  const StrataConfig *g = strata_engine_get_config (engine);
  int L = g->n_layers, T = (int) prompts[0]->ids->len;
  size_t row = (size_t) T * g->d_model, plane = (size_t) B * row;
  g_autofree int32_t *tokens = g_new (int32_t, (size_t) B * T);
  for (int b = 0; b < B; b++)
    memcpy (tokens + (size_t) b * T, prompts[b]->ids->data, (size_t) T * sizeof (int32_t));
  /* The engine writes each site as (B, T, C): one prompt's planes are apart when B > 1. */
  g_autofree float *planes = B > 1 ? g_try_new (float, (size_t) (L + 1) * plane) : NULL;
  if (B > 1 && !planes) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED, "cannot allocate the residuals of %d prompts", B);
    return FALSE;
  }
  float *dst = B > 1 ? planes : resid;
  g_autofree StrataCache *caches = g_new (StrataCache, L + 1);
  for (int l = 0; l < L; l++)
    caches[l] = (StrataCache) { STRATA_SITE_RESID_PRE, l, dst + l * plane };
  caches[L] = (StrataCache) { STRATA_SITE_RESID_POST, L - 1, dst + L * plane };
  StrataHooks hooks = { caches, L + 1, NULL, 0 };
  StrataStatus st = strata_engine_forward (engine, tokens, B, T, &hooks, NULL);
  if (st != STRATA_OK)
    return _strata_probe_pass_failed (engine, st, "forward pass failed", error);
  for (int b = 0; B > 1 && b < B; b++)
    for (int k = 0; k <= L; k++)
      memcpy (resid + ((size_t) b * (L + 1) + k) * row, planes + k * plane + b * row, row * sizeof (float));
  return TRUE;
}

/* Arrays of "not computed" cells (see StrataLensChunkFunc). */
static float *
new_nan (size_t n)
{
  float *x = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    x[i] = NAN;
  return x;
}

static int32_t *
new_unset (size_t n)
{
  int32_t *x = g_new (int32_t, n);
  for (size_t i = 0; i < n; i++)
    x[i] = -1;
  return x;
}

static StrataLensResult *
result_new (const StrataConfig *g, StrataModel *model, const StrataPrompt *prompt,
            const StrataLensOptions *o)
{
  int L1 = g->n_layers + 1, T = (int) prompt->ids->len;
  StrataLensResult *r = g_new0 (StrataLensResult, 1);
  r->n_layers = g->n_layers;
  r->T = T, r->topk = o->topk, r->vocab = g->vocab;
  r->raw = o->raw;
  r->threshold = o->threshold;
  r->ids = g_array_copy (prompt->ids);
  r->pieces = g_ptr_array_new_with_free_func (g_free);
  for (int t = 0; t < T; t++) {
    int32_t id = g_array_index (prompt->ids, int32_t, t);
    const char *piece = model && model->tokenizer ? strata_tokenizer_get_piece (model->tokenizer, id) : NULL;
    g_ptr_array_add (r->pieces, piece ? g_strdup (piece) : g_strdup_printf ("#%d", id));
  }
  size_t n = (size_t) L1 * T * o->topk;
  r->topk_ids = new_unset (n);
  r->topk_prob = new_nan (n);
  r->topk_logit = new_nan (n);
  r->targets = g_ptr_array_new_with_free_func (strata_lens_target_free);
  for (guint i = 0; i < prompt->targets->len; i++) {
    const StrataTarget *pt = &g_array_index (prompt->targets, StrataTarget, i);
    StrataLensTarget *t = g_new0 (StrataLensTarget, 1);
    t->name = g_strdup (pt->name);
    t->id = pt->id;
    t->prob = new_nan ((size_t) L1 * T);
    t->logprob = new_nan ((size_t) L1 * T);
    t->logit = new_nan ((size_t) L1 * T);
    t->rank = new_unset ((size_t) L1 * T);
    t->cand_rank = o->n_candidates > 0 ? new_unset ((size_t) L1 * T) : NULL;
    t->resolution = new_unset (T);
    t->resolution_threshold = new_unset (T);
    g_ptr_array_add (r->targets, t);
  }
  return r;
}

/* Lens rows row0.. (n of them) from their summary: top-k probabilities from the log-sum-exp,
 * and each target's values (the summary holds them row by row, the result target by target). */
static void
fill_rows (StrataLensResult *r, int row0, int n, const StrataLogitSummary *sum)
{
  int K = r->topk, n_t = (int) r->targets->len;
  for (int i = 0; i < n; i++) {
    size_t row = (size_t) row0 + i;
    double lse = sum->lse[i];
    for (int j = 0; j < K; j++)
      r->topk_prob[row * K + j] = (float) exp (r->topk_logit[row * K + j] - lse);
    for (int j = 0; j < n_t; j++) {
      StrataLensTarget *t = r->targets->pdata[j];
      size_t at = (size_t) i * n_t + j;
      double lp = sum->target_logit[at] - lse;
      t->logit[row] = sum->target_logit[at];
      t->logprob[row] = (float) lp;
      t->prob[row] = (float) exp (lp);
      t->rank[row] = sum->target_rank[at];
      if (t->cand_rank)
        t->cand_rank[row] = sum->cand_rank[at];
    }
  }
}

/* Before a pass of B prompts of T tokens: the forward pass's activations and the
 * unembedding's rows in the backend's memory, the residuals (twice when B > 1), the staging of
 * a chunk's answers and the results' arrays on the host (one budget on a host-memory backend).
 * Fails naming the bytes needed and free. */
static gboolean
check_memory (StrataEngine *engine, int B, int T, int chunk, int n_t, const StrataLensOptions *o, GError **error)
{
  const StrataConfig *g = strata_engine_get_config (engine);
  size_t R = (size_t) B * (g->n_layers + 1) * T, C = g->d_model, V = g->vocab, f = sizeof (float);
  size_t device = strata_engine_forward_bytes (engine, B, T, NULL) + (size_t) chunk * (C + V) * f;
  size_t host = (R * C * (B > 1 ? 2 : 1) + (size_t) chunk * (2 + 3 * (size_t) n_t) + R * 3 * (size_t) o->topk +
                 R * 5 * (size_t) n_t) * f;
  g_autofree char *what = B > 1 ? g_strdup_printf ("the lens over %d prompts of %d positions", B, T)
                                : g_strdup_printf ("the lens over %d positions", T);
  StrataStatus st = STRATA_OK;
  if (strata_engine_get_backend (engine)->host_memory)
    st = strata_engine_check_memory (engine, host + device, 1, what);
  else if ((st = strata_engine_check_memory (engine, device, 0, what)) == STRATA_OK)
    st = strata_engine_check_memory (engine, host, 1, what);
  return st == STRATA_OK || _strata_probe_pass_failed (engine, st, "lens", error);
}

/* The resolution layers of a result whose rows are all computed, and its token table. */
static void
finish_result (StrataLensResult *r, StrataModel *model, const StrataPrompt *prompt, const StrataLensOptions *opts)
{
  int L1 = r->n_layers + 1, T = r->T;
  g_autofree gboolean *top = g_new (gboolean, L1), *above = g_new (gboolean, L1);
  for (guint i = 0; i < r->targets->len; i++) {
    StrataLensTarget *t = r->targets->pdata[i];
    for (int p = 0; p < T; p++) {
      for (int k = 0; k < L1; k++) {
        top[k] = t->rank[k * T + p] == 0;
        above[k] = t->prob[k * T + p] >= opts->threshold;
      }
      t->resolution[p] = first_stable (top, L1);
      t->resolution_threshold[p] = first_stable (above, L1);
    }
  }
  strata_lens_result_set_pieces (r, model, &prompt->contrast, prompt->contrast >= 0 ? 1 : 0);
}

/* The lens of B prompts of equal length into their results (made by result_new): one forward
 * pass, then the B·(L+1)·T residual rows unembedded in chunks of a fixed budget of logits,
 * each chunk's rows split by prompt into segments that answer that prompt's targets. The
 * chunk function is called for a batch of one. */
static gboolean
lens_batch (StrataEngine *engine, const StrataPrompt *const *prompts, int B, const StrataLensOptions *opts,
            const StrataLensChunking *chunking, StrataLensResult **results, GError **error)
{
  const StrataConfig *g = strata_engine_get_config (engine);
  int L1 = g->n_layers + 1, T = (int) prompts[0]->ids->len, V = g->vocab, C = g->d_model;
  int per_prompt = L1 * T, R = B * per_prompt, n_t = 0;
  for (int b = 0; b < B; b++)
    n_t = MAX (n_t, (int) results[b]->targets->len);
  /* Rows per unembedding: a fixed budget of logits. Each row is scanned on its own, but the
   * BLAS may round a row's products differently with the number of rows beside it (OpenBLAS
   * on AMD EPYC: up to 6e-7 relative in a logit), so another budget can move the last bits. */
  size_t budget = chunking && chunking->logits_budget ? chunking->logits_budget : STRATA_LENS_LOGITS_BUDGET;
  int chunk = (int) MIN ((size_t) R, MAX ((size_t) 1, budget / ((size_t) V * sizeof (float))));
  if (!check_memory (engine, B, T, chunk, n_t, opts, error))
    return FALSE;
  g_autofree float *resid = g_try_new (float, (size_t) R * C);
  if (!resid) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED, "cannot allocate %d residual rows", R);
    return FALSE;
  }
  if (!cache_residuals (engine, prompts, B, resid, error))
    return FALSE;
  /* Each prompt's query: its own targets. Only what the results keep crosses from the
   * backend (never the logits). */
  g_autofree StrataLogitQuery *query = g_new (StrataLogitQuery, B);
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  for (int b = 0; b < B; b++) {
    GPtrArray *targets = results[b]->targets;
    int32_t *tids = g_new (int32_t, targets->len + 1);
    for (guint i = 0; i < targets->len; i++)
      tids[i] = ((StrataLensTarget *) targets->pdata[i])->id;
    g_ptr_array_add (ids, tids);
    query[b] = (StrataLogitQuery) { opts->topk, tids, (int) targets->len, opts->candidates, opts->n_candidates };
  }
  size_t staged = (size_t) chunk * n_t + 1;
  g_autofree double *lse = g_new (double, chunk);
  g_autofree float *target_logit = g_new (float, staged);
  g_autofree int32_t *target_rank = g_new (int32_t, staged);
  g_autofree int32_t *cand_rank = opts->n_candidates > 0 ? g_new (int32_t, staged) : NULL;
  /* A chunk covers at most B prompts' rows. */
  g_autofree int *seg_rows = g_new (int, B), *seg_prompt = g_new (int, B), *seg_first = g_new (int, B);
  g_autofree StrataLogitQuery *seg_query = g_new (StrataLogitQuery, B);
  g_autofree StrataLogitSummary *seg_out = g_new (StrataLogitSummary, B);

  for (int row0 = 0; row0 < R; row0 += chunk) {
    int rows = MIN (chunk, R - row0), n_seg = 0;
    for (int row = row0; row < row0 + rows; n_seg++) {
      int b = row / per_prompt, first = row - b * per_prompt, n = MIN (row0 + rows, (b + 1) * per_prompt) - row;
      size_t at = (size_t) (row - row0), top = (size_t) first * opts->topk;
      seg_rows[n_seg] = n, seg_prompt[n_seg] = b, seg_first[n_seg] = first, seg_query[n_seg] = query[b];
      seg_out[n_seg] = (StrataLogitSummary) { lse + at, results[b]->topk_ids + top, results[b]->topk_logit + top,
                                              target_logit + at * n_t, target_rank + at * n_t,
                                              cand_rank ? cand_rank + at * n_t : NULL };
      row += n;
    }
    StrataStatus st = strata_engine_unembed_summary (engine, resid + (size_t) row0 * C, rows, opts->raw, seg_rows,
                                                     n_seg, seg_query, seg_out);
    if (st != STRATA_OK)
      return _strata_probe_pass_failed (engine, st, "unembedding failed", error);
    for (int s = 0; s < n_seg; s++)
      fill_rows (results[seg_prompt[s]], seg_first[s], seg_rows[s], &seg_out[s]);
    if (B == 1 && chunking && chunking->func)
      chunking->func (results[0], row0 + rows, chunking->data);
  }
  return TRUE;
}

StrataLensResult *
strata_lens_run (StrataEngine *engine, StrataModel *model, const StrataPrompt *prompt,
                 const StrataLensOptions *opts, GError **error)
{
  return strata_lens_run_chunked (engine, model, prompt, opts, NULL, error);
}

StrataLensResult *
strata_lens_run_chunked (StrataEngine *engine, StrataModel *model, const StrataPrompt *prompt,
                         const StrataLensOptions *opts, const StrataLensChunking *chunking, GError **error)
{
  const StrataConfig *g = strata_engine_get_config (engine);
  if (!check_options (g, prompt, opts, error))
    return NULL;
  StrataLensResult *r = result_new (g, model, prompt, opts);
  if (!lens_batch (engine, &prompt, 1, opts, chunking, &r, error)) {
    strata_lens_result_free (r);
    return NULL;
  }
  finish_result (r, model, prompt, opts);
  return r;
}

typedef struct {
  const StrataLensSetOptions *set;
  guint index;
} LensPartial;

static void
partial_cb (const StrataLensResult *partial, int rows_done, gpointer data)
{
  LensPartial *p = data;
  p->set->partial (p->index, partial, rows_done, p->set->data);
}

static int
cmp_by_length (gconstpointer a, gconstpointer b, gpointer prompts)
{
  const StrataPrompt *pa = g_ptr_array_index ((GPtrArray *) prompts, *(const guint *) a);
  const StrataPrompt *pb = g_ptr_array_index ((GPtrArray *) prompts, *(const guint *) b);
  if (pa->ids->len != pb->ids->len)
    return pa->ids->len < pb->ids->len ? -1 : 1;
  return *(const guint *) a < *(const guint *) b ? -1 : 1; /* stable: set order within a length */
}

/* Prompts of T tokens one pass takes: at most STRATA_LENS_BATCH_TOKENS tokens and
 * STRATA_LENS_BATCH_RESIDUALS bytes of residual rows. */
static int
batch_size (const StrataConfig *g, int T, int available)
{
  size_t per_prompt = (size_t) (g->n_layers + 1) * T * g->d_model * sizeof (float);
  size_t by_tokens = STRATA_LENS_BATCH_TOKENS / (size_t) MAX (T, 1), by_bytes = STRATA_LENS_BATCH_RESIDUALS / per_prompt;
  return (int) MAX ((size_t) 1, MIN ((size_t) available, MIN (by_tokens, by_bytes)));
}

GPtrArray *
strata_lens_run_set (StrataEngine *engine, StrataModel *model, GPtrArray *prompts, const StrataLensOptions *opts,
                     const StrataLensSetOptions *set, guint *failed, GError **error)
{
  const StrataConfig *g = strata_engine_get_config (engine);
  guint n = prompts->len;
  *failed = G_MAXUINT;
  for (guint i = 0; i < n; i++)
    if (!check_options (g, prompts->pdata[i], opts, error)) {
      *failed = i;
      return NULL;
    }
  g_autoptr (GPtrArray) results = g_ptr_array_new_full (n, (GDestroyNotify) strata_lens_result_free);
  g_ptr_array_set_size (results, (int) n);
  g_autofree guint *order = g_new (guint, n + 1);
  for (guint i = 0; i < n; i++)
    order[i] = i;
  g_qsort_with_data (order, (int) n, sizeof *order, cmp_by_length, prompts);
  g_autofree const StrataPrompt **batch = g_new (const StrataPrompt *, n + 1);
  g_autofree StrataLensResult **out = g_new (StrataLensResult *, n + 1);
  for (guint i = 0; i < n;) {
    guint T = ((StrataPrompt *) prompts->pdata[order[i]])->ids->len, same = 1;
    while (i + same < n && ((StrataPrompt *) prompts->pdata[order[i + same]])->ids->len == T)
      same++;
    int B = batch_size (g, (int) T, (int) same);
    for (int b = 0; b < B; b++) {
      batch[b] = prompts->pdata[order[i + b]];
      out[b] = results->pdata[order[i + b]] = result_new (g, model, batch[b], opts);
    }
    /* A prompt of its own reports each chunk (a long trace filling in). */
    guint first = order[i];
    LensPartial partial = { set, first };
    StrataLensChunking chunking = { set ? set->logits_budget : 0, B == 1 && set && set->partial ? partial_cb : NULL,
                                    &partial };
    if (!lens_batch (engine, batch, B, opts, &chunking, out, error)) {
      if (B == 1)
        *failed = first;
      return NULL;
    }
    for (int b = 0; b < B; b++) {
      finish_result (out[b], model, batch[b], opts);
      if (set && set->done)
        set->done (order[i + b], set->data);
    }
    i += (guint) B;
  }
  return g_steal_pointer (&results);
}
