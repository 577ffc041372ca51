/* strata-engine.c: the engine object and its entry points. Each checks its request in the
 * field's terms (sites, layers, positions) and describes it as a pass for
 * strata-engine-pass.c, which runs every one of them with the same block. */
#include "strata-engine.h"
#include "strata-engine-private.h"
#include "strata-weights-device.h"

#include <stdlib.h>
#include <string.h>

StrataEngine *
strata_engine_new (const StrataBackend *be, const StrataWeights *weights, StrataStatus *status)
{
  StrataEngineOptions o = { 0 };
  return strata_engine_new_with (be, weights, &o, status);
}

int
strata_engine_converts_per_product (const StrataEngine *e)
{
  return !strata_weights_matrices_in (&e->w, e->be->fast_dtypes);
}

StrataEngine *
strata_engine_new_with (const StrataBackend *be, const StrataWeights *weights, const StrataEngineOptions *o,
                        StrataStatus *status)
{
  StrataEngine *e = calloc (1, sizeof *e);
  *status = STRATA_ERR_MEMORY;
  if (!e)
    return NULL;
  e->be = be;
  if ((int) o->precision < 0 || o->precision >= STRATA_PRECISION_N) {
    *status = STRATA_ERR_ARGUMENT;
    free (e);
    return NULL;
  }
  e->precision = o->precision;
  /* Weights loaded into a device's memory run there, as they are. */
  if (weights->device) {
    if (weights->device != be || strata_weights_loading (weights) ||
        !strata_weights_matrices_in (weights, be->matrix_dtypes)) {
      *status = STRATA_ERR_ARGUMENT;
      free (e);
      return NULL;
    }
    e->w = *weights;
    *status = STRATA_OK;
    return e;
  }
  /* Matrices in a dtype the backend does not take, or takes only by converting them on every
   * product, are converted to F32 once, unless that copy would not fit. */
  const StrataWeights *w = weights;
  size_t limit = o->convert_limit ? o->convert_limit : strata_memory_available () / 2;
  int takes = strata_weights_matrices_in (weights, be->matrix_dtypes);
  if (!strata_weights_matrices_in (weights, be->fast_dtypes) &&
      (!takes || strata_weights_size_as (weights, STRATA_DTYPE_F32) <= limit)) {
    e->converted = strata_weights_convert (weights, STRATA_DTYPE_F32);
    if (!e->converted) {
      strata_engine_free (e);
      return NULL;
    }
    w = e->converted;
  }
  if (be->host_memory) {
    e->w = *w;
  } else {
    e->layers = calloc ((size_t) w->cfg.n_layers, sizeof *e->layers);
    e->arena = e->layers ? be->alloc (be, (w->arena_bytes + sizeof (float) - 1) / sizeof (float)) : NULL;
    if (!e->arena) {
      strata_engine_free (e);
      return NULL;
    }
    *status = be->upload (be, e->arena, w->arena, w->arena_bytes);
    if (*status != STRATA_OK) {
      strata_engine_free (e);
      return NULL;
    }
    strata_weights_rebase (w, e->arena, &e->w, e->layers);
    /* The device holds the weights now; a host copy made for it is not needed. */
    strata_weights_free (e->converted);
    e->converted = NULL;
  }
  *status = STRATA_OK;
  return e;
}

void
strata_engine_free (StrataEngine *e)
{
  if (!e)
    return;
  if (e->arena)
    e->be->free (e->be, e->arena);
  if (e->scratch)
    e->be->free (e->be, e->scratch);
  if (e->rows)
    e->be->free (e->be, e->rows);
  strata_weights_free (e->converted);
  free (e->layers);
  free (e);
}

const StrataConfig *
strata_engine_get_config (const StrataEngine *e)
{
  return &e->w.cfg;
}

const StrataBackend *
strata_engine_get_backend (const StrataEngine *e)
{
  return e->be;
}

StrataPrecision
strata_engine_get_precision (const StrataEngine *e)
{
  return e->precision;
}

void
strata_engine_set_abort (StrataEngine *e, StrataAbortFunc abort_fn, void *data)
{
  e->abort_fn = abort_fn;
  e->abort_data = data;
}

int
strata_engine_should_abort (const StrataEngine *e)
{
  return e->abort_fn && e->abort_fn (e->abort_data);
}

const char *
strata_engine_get_error (const StrataEngine *e)
{
  return e->error;
}

/* ---- checks ---- */

/* A patch of (site, layer) at one row: a per-layer site the block writes in place. */
static StrataStatus
check_patch (StrataEngine *e, const StrataPatch *p, int T, const char *name)
{
  const StrataConfig *g = &e->w.cfg;
  if (p->site == STRATA_SITE_ATTN_PATTERN || p->site == STRATA_SITE_ATTN_RESULT)
    return fail (e, STRATA_ERR_UNSUPPORTED, "%s cannot be patched (patch hook_z per head instead)", name);
  if (p->pos < 0 || p->pos >= T)
    return fail (e, STRATA_ERR_ARGUMENT, "%s: patch at position %d is outside %d tokens", name, p->pos, T);
  if (p->head >= 0 && strata_site_heads (g, p->site) == 0)
    return fail (e, STRATA_ERR_ARGUMENT, "%s is not split by head", name);
  if (p->head >= strata_site_heads (g, p->site))
    return fail (e, STRATA_ERR_ARGUMENT, "%s: head %d does not exist", name, p->head);
  return STRATA_OK;
}

StrataStatus
_strata_engine_check_site (StrataEngine *e, StrataSite site, int layer, char *name, int n)
{
  const StrataConfig *g = &e->w.cfg;
  if ((int) site < 0 || site >= STRATA_SITE_COUNT)
    return fail (e, STRATA_ERR_ARGUMENT, "unknown site %d", (int) site);
  strata_site_format (site, layer, name, n);
  if (strata_site_is_per_layer (site) ? (layer < 0 || layer >= g->n_layers) : layer != -1)
    return fail (e, STRATA_ERR_ARGUMENT, "%s: layer %d does not exist", name, layer);
  if (site == STRATA_SITE_POS_EMBED && !strata_site_exists (g, site))
    return fail (e, STRATA_ERR_ARGUMENT, "hook_pos_embed: this model has no learned position embedding");
  if (!strata_site_exists (g, site))
    return fail (e, STRATA_ERR_ARGUMENT, "%s: this model's blocks run attention and MLP in parallel, with no "
                 "residual between them", name);
  return STRATA_OK;
}

static StrataStatus
check_hooks (StrataEngine *e, const StrataHooks *hooks, int B, int T)
{
  if (!hooks)
    return STRATA_OK;
  char name[96];
  for (int i = 0; i < hooks->n_caches; i++)
    TRY (_strata_engine_check_site (e, hooks->caches[i].site, hooks->caches[i].layer, name, sizeof name));
  for (int i = 0; i < hooks->n_patches; i++) {
    const StrataPatch *p = &hooks->patches[i];
    TRY (_strata_engine_check_site (e, p->site, p->layer, name, sizeof name));
    if (p->batch < 0 || p->batch >= B)
      return fail (e, STRATA_ERR_ARGUMENT, "%s: patch of sequence %d outside the batch of %d", name, p->batch, B);
    TRY (check_patch (e, p, T, name));
  }
  return STRATA_OK;
}

StrataStatus
_strata_engine_check_tokens (StrataEngine *e, const int32_t *tokens, int B, int T)
{
  const StrataConfig *g = &e->w.cfg;
  if (B <= 0 || T <= 0)
    return fail (e, STRATA_ERR_ARGUMENT, "empty batch (%d sequences of %d tokens)", B, T);
  if (T > g->n_ctx)
    return fail (e, STRATA_ERR_ARGUMENT, "%d tokens exceed the model's context of %d", T, g->n_ctx);
  for (long i = 0; i < (long) B * T; i++)
    if (tokens[i] < 0 || tokens[i] >= g->vocab)
      return fail (e, STRATA_ERR_ARGUMENT, "token id %d at index %ld is outside the vocabulary (%d)", tokens[i], i,
                   g->vocab);
  return STRATA_OK;
}

static StrataStatus
check_jobs (StrataEngine *e, const StrataJobBase *bases, int n_bases, const StrataSuffixJob *jobs, int n_jobs,
            int n_ids)
{
  const StrataConfig *g = &e->w.cfg;
  if (!bases || n_bases <= 0 || n_jobs <= 0 || !jobs || n_ids < 0)
    return fail (e, STRATA_ERR_ARGUMENT, "suffix forward: no base run or empty batch");
  const StrataPrefix *first = bases[0].prefix;
  for (int b = 0; b < n_bases; b++) {
    const StrataJobBase *base = &bases[b];
    const StrataPrefix *pre = base->prefix;
    if (!pre || pre->T <= 0 || pre->T > g->n_ctx || !pre->resid_pre || !pre->k || !pre->v)
      return fail (e, STRATA_ERR_ARGUMENT, "suffix forward: base run %d is missing or empty", b);
    if (pre->T != first->T || !pre->attn_out != !first->attn_out || !pre->resid_mid != !first->resid_mid)
      return fail (e, STRATA_ERR_ARGUMENT,
                   "suffix forward: base run %d differs from the first in its length or its sites", b);
    if (base->out_pos < 0 || base->out_pos >= pre->T)
      return fail (e, STRATA_ERR_ARGUMENT, "suffix forward: read position %d outside %d tokens", base->out_pos,
                   pre->T);
    if (n_ids > 0 && !base->ids)
      return fail (e, STRATA_ERR_ARGUMENT, "suffix forward: base run %d names no token ids", b);
    for (int i = 0; i < n_ids; i++)
      if (base->ids[i] < 0 || base->ids[i] >= g->vocab)
        return fail (e, STRATA_ERR_ARGUMENT, "suffix forward: token id %d is outside the vocabulary",
                     base->ids[i]);
  }
  int T = first->T;
  for (int j = 0; j < n_jobs; j++) {
    const StrataSuffixJob *job = &jobs[j];
    if (job->base < 0 || job->base >= n_bases)
      return fail (e, STRATA_ERR_ARGUMENT, "suffix forward: copy %d names base run %d of %d", j, job->base, n_bases);
    int out_pos = bases[job->base].out_pos;
    if (job->layer < 0 || job->layer >= g->n_layers || job->pos < 0 || job->pos > out_pos)
      return fail (e, STRATA_ERR_ARGUMENT,
                   "suffix forward: start (layer %d, position %d) outside (%d, %d) or after the read position %d",
                   job->layer, job->pos, g->n_layers, T, out_pos);
    if (j > 0 && job->layer < jobs[j - 1].layer)
      return fail (e, STRATA_ERR_ARGUMENT, "suffix forward: jobs are not sorted by layer");
    for (int i = 0; i < job->n_patches; i++) {
      const StrataPatch *p = &job->patches[i];
      char name[96];
      TRY (_strata_engine_check_site (e, p->site, p->layer, name, sizeof name));
      if (!strata_site_is_per_layer (p->site))
        return fail (e, STRATA_ERR_UNSUPPORTED, "%s cannot be patched in a suffix forward", name);
      if (p->layer < job->layer || p->pos < job->pos)
        return fail (e, STRATA_ERR_ARGUMENT,
                     "%s: patch of copy %d at position %d lies in the reused prefix or outside the run", name, j,
                     p->pos);
      TRY (check_patch (e, p, T, name));
    }
  }
  return STRATA_OK;
}

/* ---- entry points ---- */

/* The patches of each of B sequences, contiguous in `sorted` (room for n): sequence b's are
 * sorted[first[b] .. first[b] + count[b]). */
static void
group_by_batch (const StrataPatch *patches, int n, int B, StrataPatch *sorted, int *first, int *count)
{
  int at = 0;
  for (int b = 0; b < B; b++) {
    first[b] = at;
    for (int i = 0; i < n; i++)
      if (patches[i].batch == b)
        sorted[at++] = patches[i];
    count[b] = at - first[b];
  }
}

/* A full pass of B sequences: run it, or with `bytes` only say how much scratch it needs. */
static StrataStatus
forward_pass (StrataEngine *e, const int32_t *tokens, int B, int T, const StrataHooks *hooks, float *logits,
              size_t *bytes)
{
  int n_patches = hooks ? hooks->n_patches : 0;
  PassJob *jobs = calloc ((size_t) B, sizeof *jobs);
  StrataPatch *sorted = malloc ((size_t) (n_patches ? n_patches : 1) * sizeof *sorted);
  int *span = malloc (2 * (size_t) B * sizeof *span);
  if (!jobs || !sorted || !span) {
    free (jobs), free (sorted), free (span);
    return fail (e, STRATA_ERR_MEMORY, "cannot allocate a pass of %d sequences", B);
  }
  /* Each sequence is a job from (0, 0) with the patches of its batch index. */
  group_by_batch (hooks ? hooks->patches : NULL, n_patches, B, sorted, span, span + B);
  for (int b = 0; b < B; b++)
    jobs[b] = (PassJob) { .slot = b, .patches = sorted + span[b], .n_patches = span[B + b] };
  Pass pass = { .jobs = jobs, .n = B, .T = T, .tokens = tokens,
                .caches = hooks ? hooks->caches : NULL, .n_caches = hooks ? hooks->n_caches : 0, .out = logits };
  StrataStatus st = STRATA_OK;
  if (bytes)
    *bytes = _strata_engine_pass_bytes (e, &pass);
  else
    st = _strata_engine_run_pass (e, &pass);
  free (jobs), free (sorted), free (span);
  return st;
}

StrataStatus
strata_engine_forward (StrataEngine *e, const int32_t *tokens, int B, int T, const StrataHooks *hooks,
                       float *logits)
{
  e->error[0] = '\0';
  TRY (_strata_engine_check_tokens (e, tokens, B, T));
  TRY (check_hooks (e, hooks, B, T));
  return forward_pass (e, tokens, B, T, hooks, logits, NULL);
}

size_t
strata_engine_forward_bytes (StrataEngine *e, int B, int T, const StrataHooks *hooks)
{
  size_t bytes = 0;
  forward_pass (e, NULL, B, T, hooks, NULL, &bytes); /* only the shapes matter: no token is read */
  return bytes;
}

StrataStatus
strata_engine_check_memory (StrataEngine *e, size_t bytes, int host, const char *what)
{
  const StrataBackend *be = host || e->be->host_memory ? NULL : e->be;
  size_t free_bytes = strata_backend_memory_free (be);
  if (bytes <= free_bytes)
    return STRATA_OK;
  return fail (e, STRATA_ERR_MEMORY, "%s needs %zu bytes (%.1f MiB) of %s memory, but %zu bytes (%.1f MiB) are free",
               what, bytes, bytes / 1048576.0, be ? e->be->name : "host", free_bytes, free_bytes / 1048576.0);
}

/* Whether a job's first block can compute its start row only (strata-engine-pass.c): every
 * patch of that block is at the start position, in the block's MLP half (resid_mid or later:
 * the row's attention half, and every other row of the block, are the base run's), and the
 * start row is read out if that block is the last. `order` receives the block order of its
 * first patched site. (hook_z and attn_out patches come after the keys and values too, but
 * their jobs run the whole first block: taking their later rows from the base run instead
 * moved the sweep's float32 rounding by up to 1.6e-5 relative on the two-hop models for a
 * 3% saving, and results that move between versions cost researchers more than that.) */
static int
starts_single (const StrataConfig *g, const StrataSuffixJob *job, int out_pos, int *order)
{
  int first = 0;
  *order = STRATA_SITE_COUNT;
  for (int i = 0; i < job->n_patches; i++) {
    const StrataPatch *p = &job->patches[i];
    if (p->layer != job->layer)
      continue;
    if (p->pos != job->pos || strata_site_block_order (p->site) < strata_site_block_order (STRATA_SITE_RESID_MID))
      return 0;
    if (strata_site_block_order (p->site) < *order)
      *order = strata_site_block_order (p->site);
    first++;
  }
  return first > 0 && (job->layer < g->n_layers - 1 || job->pos == out_pos);
}

/* strata_engine_forward_jobs_set, or with `bytes` set only the scratch it would need. The
 * bases some job names are uploaded, in the order of their first job. */
static StrataStatus
jobs_pass (StrataEngine *e, const StrataJobBase *bases, int n_bases, const StrataSuffixJob *jobs, int n_jobs,
           int n_ids, float *out, size_t *bytes)
{
  e->error[0] = '\0';
  TRY (check_jobs (e, bases, n_bases, jobs, n_jobs, n_ids));
  PassJob *pj = calloc ((size_t) n_jobs, sizeof *pj);
  int *slot_of = malloc ((size_t) n_bases * sizeof *slot_of);
  const StrataPrefix **used = malloc ((size_t) n_bases * sizeof *used);
  const int32_t **used_ids = malloc ((size_t) n_bases * sizeof *used_ids);
  if (!pj || !slot_of || !used || !used_ids) {
    free (pj), free (slot_of), free (used), free (used_ids);
    return fail (e, STRATA_ERR_MEMORY, "cannot allocate the patching pass of %d copies", n_jobs);
  }
  int n_used = 0;
  for (int b = 0; b < n_bases; b++)
    slot_of[b] = -1;
  for (int j = 0; j < n_jobs; j++) {
    const StrataJobBase *base = &bases[jobs[j].base];
    if (slot_of[jobs[j].base] < 0) {
      used[n_used] = base->prefix, used_ids[n_used] = base->ids;
      slot_of[jobs[j].base] = n_used++;
    }
  }
  /* Within a layer the single jobs go last (their rows follow the others'); the order of
   * the output stays the caller's through `slot`. */
  int n = 0;
  for (int start = 0; start < n_jobs;) {
    int end = start;
    while (end < n_jobs && jobs[end].layer == jobs[start].layer)
      end++;
    for (int single = 0; single < 2; single++)
      for (int j = start; j < end; j++) {
        int order, out_pos = bases[jobs[j].base].out_pos;
        if (starts_single (&e->w.cfg, &jobs[j], out_pos, &order) == single)
          pj[n++] = (PassJob) { .layer = jobs[j].layer, .pos = jobs[j].pos, .single = single, .first_order = order,
                                .slot = j, .base = slot_of[jobs[j].base], .out_pos = out_pos,
                                .patches = jobs[j].patches, .n_patches = jobs[j].n_patches };
      }
    start = end;
  }
  Pass pass = { .jobs = pj, .n = n_jobs, .T = bases[0].prefix->T, .read_one = 1, .bases = used, .n_bases = n_used,
                .ids = n_ids ? used_ids : NULL, .n_ids = n_ids, .out = out };
  StrataStatus st = STRATA_OK;
  if (bytes)
    *bytes = _strata_engine_pass_bytes (e, &pass);
  else
    st = _strata_engine_run_pass (e, &pass);
  if (st == STRATA_ERR_MEMORY && !e->error[0])
    fail (e, st, "cannot allocate the patching pass of %d copies", n_jobs);
  free (pj), free (slot_of), free (used), free (used_ids);
  return st;
}

StrataStatus
strata_engine_forward_jobs_set (StrataEngine *e, const StrataJobBase *bases, int n_bases,
                                const StrataSuffixJob *jobs, int n_jobs, int n_ids, float *out)
{
  return jobs_pass (e, bases, n_bases, jobs, n_jobs, n_ids, out, NULL);
}

size_t
strata_engine_forward_jobs_set_bytes (StrataEngine *e, const StrataJobBase *bases, int n_bases,
                                      const StrataSuffixJob *jobs, int n_jobs, int n_ids)
{
  size_t bytes = 0;
  return jobs_pass (e, bases, n_bases, jobs, n_jobs, n_ids, NULL, &bytes) == STRATA_OK ? bytes : 0;
}

StrataStatus
strata_engine_forward_jobs (StrataEngine *e, const StrataPrefix *base, const StrataSuffixJob *jobs, int n_jobs,
                            int out_pos, const int32_t *ids, int n_ids, float *out)
{
  StrataJobBase one = { base, out_pos, ids };
  return jobs_pass (e, &one, 1, jobs, n_jobs, ids ? n_ids : 0, out, NULL);
}

size_t
strata_engine_memory_free (StrataEngine *e)
{
  size_t free_bytes = strata_backend_memory_free (e->be->host_memory ? NULL : e->be);
  size_t held = e->scratch_cap * sizeof (float);
  return free_bytes > SIZE_MAX - held ? SIZE_MAX : free_bytes + held;
}

/* The one-start form: B copies from (layer, pos), patches distributed by their `batch`. */
StrataStatus
strata_engine_forward_suffix (StrataEngine *e, const StrataPrefix *base, int layer, int pos, int B,
                              const StrataPatch *patches, int n_patches, int out_pos, float *out_logits)
{
  e->error[0] = '\0';
  if (B <= 0)
    return fail (e, STRATA_ERR_ARGUMENT, "suffix forward: no base run or empty batch");
  if (out_pos < pos)
    return fail (e, STRATA_ERR_ARGUMENT, "suffix forward: read position %d is before the start %d", out_pos, pos);
  for (int i = 0; i < n_patches; i++)
    if (patches[i].batch < 0 || patches[i].batch >= B)
      return fail (e, STRATA_ERR_ARGUMENT, "suffix forward: patch %d is for copy %d of %d", i, patches[i].batch, B);
  StrataSuffixJob *jobs = calloc ((size_t) B, sizeof *jobs);
  StrataPatch *sorted = malloc ((size_t) (n_patches ? n_patches : 1) * sizeof *sorted);
  int *span = malloc (2 * (size_t) B * sizeof *span);
  if (!jobs || !sorted || !span) {
    free (jobs), free (sorted), free (span);
    return fail (e, STRATA_ERR_MEMORY, "cannot allocate %d copies", B);
  }
  group_by_batch (patches, n_patches, B, sorted, span, span + B);
  for (int b = 0; b < B; b++)
    jobs[b] = (StrataSuffixJob) { layer, pos, sorted + span[b], span[B + b] };
  StrataStatus st = strata_engine_forward_jobs (e, base, jobs, B, out_pos, NULL, 0, out_logits);
  free (jobs), free (sorted), free (span);
  return st;
}

/* The logits of R host rows, left in the engine's backend memory at *out (R, V). */
static StrataStatus
unembed_rows (StrataEngine *e, const float *x, int R, int raw, float **out)
{
  const StrataConfig *g = &e->w.cfg;
  const StrataBackend *be = e->be;
  e->error[0] = '\0';
  if (R <= 0)
    return fail (e, STRATA_ERR_ARGUMENT, "no rows to unembed");
  if (R > e->rows_cap) {
    if (e->rows)
      be->free (be, e->rows);
    e->rows = be->alloc (be, (size_t) R * (g->d_model + g->vocab));
    e->rows_cap = e->rows ? R : 0;
    if (!e->rows)
      return fail (e, STRATA_ERR_MEMORY, "cannot allocate %d rows for the unembedding", R);
  }
  float *xr = e->rows, *lr = e->rows + (size_t) R * g->d_model;
  TRY (be->upload (be, xr, x, (size_t) R * g->d_model * sizeof (float)));
  if (!raw)
    TRY (norm_rows (e, xr, xr, e->w.norm_f_w, e->w.norm_f_b, R, g->d_model));
  TRY (be->linear (be, lr, xr, &e->w.unembed, e->w.b_unembed, R, g->vocab, g->d_model, e->precision));
  if (g->recipe.final_softcap > 0)
    TRY (be->softcap (be, lr, (size_t) R * g->vocab, g->recipe.final_softcap));
  *out = lr;
  return STRATA_OK;
}

StrataStatus
strata_engine_unembed (StrataEngine *e, const float *x, int R, int raw, float *logits)
{
  float *lr = NULL;
  StrataStatus st = unembed_rows (e, x, R, raw, &lr);
  if (st != STRATA_OK)
    return st;
  TRY (e->be->download (e->be, logits, lr, (size_t) R * e->w.cfg.vocab * sizeof (float)));
  return STRATA_OK;
}

StrataStatus
strata_engine_unembed_summary (StrataEngine *e, const float *x, int R, int raw, const int *segment_rows,
                               int n_segments, const StrataLogitQuery *queries, StrataLogitSummary *out)
{
  int V = e->w.cfg.vocab;
  e->error[0] = '\0';
  int total = 0;
  for (int s = 0; s < n_segments; s++) {
    const StrataLogitQuery *q = &queries[s];
    int rows = segment_rows ? segment_rows[s] : R;
    if (rows < 0 || q->k < 1 || q->k > V || q->n_targets < 0 || q->n_candidates < 0 ||
        (q->n_candidates > 0 && !out[s].cand_rank))
      return fail (e, STRATA_ERR_ARGUMENT, "lens summary: %d rows, top-k %d of %d tokens, %d targets, %d candidates",
                   rows, q->k, V, q->n_targets, q->n_candidates);
    for (int i = 0; i < q->n_targets + q->n_candidates; i++) {
      int32_t id = i < q->n_targets ? q->targets[i] : q->candidates[i - q->n_targets];
      if (id < 0 || id >= V)
        return fail (e, STRATA_ERR_ARGUMENT, "lens summary: token id %d is outside the vocabulary", id);
    }
    total += rows;
  }
  if (n_segments < 1 || total != R)
    return fail (e, STRATA_ERR_ARGUMENT, "lens summary: %d segments of %d rows in all, for %d rows", n_segments, total, R);
  float *lr = NULL;
  StrataStatus st = unembed_rows (e, x, R, raw, &lr);
  if (st != STRATA_OK)
    return st;
  for (int s = 0, row = 0; s < n_segments; s++) {
    int rows = segment_rows ? segment_rows[s] : R;
    if (rows > 0)
      TRY (e->be->logit_summary (e->be, lr + (size_t) row * V, rows, V, &queries[s], &out[s]));
    row += rows;
  }
  return STRATA_OK;
}
