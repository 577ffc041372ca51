/* strata-engine-suffix.c: the forward pass restricted to the layers and positions patches
 * can change, batched over many patched copies of one base run (the activation-patching
 * fast path, DESIGN.md section 5).
 *
 * Layout. Job j (one patched copy) starts at block layer_j and recomputes positions
 * pos_j..T-1: its S_j = T - pos_j "compact" rows sit at offset off_j in one ragged batch of
 * R = sum S_j rows. Jobs are sorted by layer, so the jobs running block l are a prefix of
 * the list and the active rows a prefix of the batch; a job's rows join at its own layer,
 * copied from the base run's resid_pre. Products, norms and the MLP run on the active
 * compact rows only, as one large product per weight matrix. Attention needs every key:
 * per job the base run's keys/values of positions < pos_j (unchanged by any patch at or
 * after pos_j, by causal masking) are put in front of the new ones in full (n, T) tensors,
 * so RoPE and the backend's attention kernel run unchanged; query rows before pos_j hold
 * stale finite values and their outputs are dropped.
 *
 * The last block computes less: only the read-out row feeds the logits, so every row gets
 * its keys and values (the read-out row attends to them) but only the read-out row of each
 * job gets a query, the attention output, the MLP and the final norm.
 *
 * Everything a pass reads from the host (the base run, the patch rows) is uploaded once per
 * call; the rest are copies inside the backend. */
#include <stdlib.h>
#include <string.h>

#include "strata-engine-private.h"

typedef struct {
  float *resid, *normed;         /* (R, C) */
  float *qc, *kc, *vc, *zc;      /* (R, H*D), (R, K*D), (R, K*D), (R, H*D) compact */
  float *qf, *kf, *vf, *zf;      /* (n, T, H*D), (n, T, K*D), (n, T, K*D), (n, T, H*D) full */
  float *pattern;                /* (n, H, T, T) */
  float *attn_out, *mlp_out;     /* (R, C) */
  float *mlp_h, *mlp_up;         /* (R, F) */
  float *last, *last_n;          /* (n, C) read-out rows, before and after a norm */
  float *logits;                 /* (n, V), or (n_ids, n) */
  float *base_resid, *base_k, *base_v; /* (L, T, C), (L, T, K*D) x 2: the base run */
  float *patch_rows;             /* every patch's floats, packed */
} Suffix;

typedef struct {
  StrataEngine *e;
  Suffix s;
  const StrataSuffixJob *jobs;
  int n, T, out_pos;
  int *off;                      /* (n + 1) first compact row of each job; off[n] = R */
  size_t *patch_at;              /* offset in s.patch_rows of each job's first patch */
  int n_active, R_active;        /* jobs running the current block and their rows */
} SfxRun;

static size_t
patch_floats (const StrataConfig *g, const StrataPatch *p)
{
  if (p->head >= 0)
    return (size_t) g->d_head;
  return (size_t) strata_site_row_floats (g, p->site, 1);
}

static StrataStatus
reserve_suffix (SfxRun *run, size_t n_patch_floats, int n_ids)
{
  StrataEngine *e = run->e;
  Suffix *s = &run->s;
  const StrataConfig *g = &e->w.cfg;
  size_t R = (size_t) run->off[run->n], n = (size_t) run->n, T = (size_t) run->T;
  size_t C = g->d_model, HD = (size_t) g->n_heads * g->d_head;
  size_t KD = (size_t) g->n_kv_heads * g->d_head, F = g->d_mlp, L = g->n_layers;
  size_t nT = n * T, V = n_ids > 0 ? (size_t) n_ids : (size_t) g->vocab;
  size_t sizes[] = { R * C, R * C, R * HD, R * KD, R * KD, R * HD, nT * HD, nT * KD, nT * KD,
                     nT * HD, nT * g->n_heads * T, R * C, R * C, R * F, R * F, n * C, n * C,
                     n * V, L * T * C, L * T * KD, L * T * KD, n_patch_floats };
  float **slots[] = { &s->resid, &s->normed, &s->qc, &s->kc, &s->vc, &s->zc, &s->qf, &s->kf,
                      &s->vf, &s->zf, &s->pattern, &s->attn_out, &s->mlp_out, &s->mlp_h,
                      &s->mlp_up, &s->last, &s->last_n, &s->logits, &s->base_resid, &s->base_k,
                      &s->base_v, &s->patch_rows };
  size_t total = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
    total += (sizes[i] + 15) / 16 * 16;
  if (total > e->sfx_cap) {
    if (e->sfx)
      e->be->free (e->be, e->sfx);
    e->sfx = e->be->alloc (e->be, total);
    e->sfx_cap = e->sfx ? total : 0;
    if (!e->sfx)
      return fail (e, STRATA_ERR_MEMORY, "cannot allocate %zu floats for the patching pass", total);
  }
  float *p = e->sfx;
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    *slots[i] = p;
    p += (sizes[i] + 15) / 16 * 16;
  }
  return STRATA_OK;
}

static StrataStatus
check (StrataEngine *e, const StrataPrefix *base, const StrataSuffixJob *jobs, int n_jobs,
       int out_pos, const int32_t *ids, int n_ids)
{
  const StrataConfig *g = &e->w.cfg;
  int T = base ? base->T : 0;
  if (!base || T <= 0 || T > g->n_ctx || n_jobs <= 0 || !jobs)
    return fail (e, STRATA_ERR_ARGUMENT, "suffix forward: no base run or empty batch");
  if (out_pos < 0 || out_pos >= T)
    return fail (e, STRATA_ERR_ARGUMENT, "suffix forward: read position %d outside %d tokens", out_pos, T);
  for (int i = 0; ids && i < n_ids; i++)
    if (ids[i] < 0 || ids[i] >= g->vocab)
      return fail (e, STRATA_ERR_ARGUMENT, "suffix forward: token id %d is outside the vocabulary", ids[i]);
  for (int j = 0; j < n_jobs; j++) {
    const StrataSuffixJob *job = &jobs[j];
    if (job->layer < 0 || job->layer >= g->n_layers || job->pos < 0 || job->pos > out_pos)
      return fail (e, STRATA_ERR_ARGUMENT,
                   "suffix forward: start (layer %d, position %d) outside (%d, %d) or after the read position %d",
                   job->layer, job->pos, g->n_layers, T, out_pos);
    if (j > 0 && job->layer < jobs[j - 1].layer)
      return fail (e, STRATA_ERR_ARGUMENT, "suffix forward: jobs are not sorted by layer");
    for (int i = 0; i < job->n_patches; i++) {
      const StrataPatch *p = &job->patches[i];
      char name[96];
      strata_site_format (p->site, p->layer, name, sizeof name);
      switch (p->site) {
      case STRATA_SITE_RESID_PRE:
      case STRATA_SITE_ATTN_Z:
      case STRATA_SITE_ATTN_OUT:
      case STRATA_SITE_RESID_MID:
      case STRATA_SITE_MLP_OUT:
      case STRATA_SITE_RESID_POST:
        break;
      default:
        return fail (e, STRATA_ERR_UNSUPPORTED, "%s cannot be patched in a suffix forward", name);
      }
      if (p->layer < job->layer || p->layer >= g->n_layers || p->pos < job->pos || p->pos >= T)
        return fail (e, STRATA_ERR_ARGUMENT,
                     "%s: patch of copy %d at position %d lies in the reused prefix or outside the run", name,
                     j, p->pos);
      if (p->head >= 0 && (p->site != STRATA_SITE_ATTN_Z || p->head >= g->n_heads))
        return fail (e, STRATA_ERR_ARGUMENT, "%s: head %d does not exist", name, p->head);
    }
  }
  return STRATA_OK;
}

/* Overwrite rows of (site, layer) with the patches of the active jobs. `act` holds compact
 * rows, or in the last block (read_out) one read-out row per job: patches elsewhere cannot
 * reach the logits there and are skipped. */
static StrataStatus
apply (SfxRun *run, StrataSite site, int layer, float *act, int read_out)
{
  StrataEngine *e = run->e;
  const StrataConfig *g = &e->w.cfg;
  size_t row = (size_t) strata_site_row_floats (g, site, 1);
  for (int j = 0; j < run->n_active; j++) {
    const StrataSuffixJob *job = &run->jobs[j];
    size_t at = run->patch_at[j];
    for (int i = 0; i < job->n_patches; i++) {
      const StrataPatch *p = &job->patches[i];
      size_t n = patch_floats (g, p);
      size_t src = at;
      at += n;
      if (p->site != site || p->layer != layer || (read_out && p->pos != run->out_pos))
        continue;
      size_t r = read_out ? (size_t) j : (size_t) (run->off[j] + p->pos - job->pos);
      size_t off = r * row + (p->head >= 0 ? (size_t) p->head * g->d_head : 0);
      TRY (e->be->copy (e->be, act + off, run->s.patch_rows + src, n * sizeof (float)));
    }
  }
  return STRATA_OK;
}

/* Full (n, T, w) tensors of the active jobs: the base run's rows before pos_j (NULL: left as
 * they are), then the job's compact rows (every row, or in the last block only the read-out
 * row, given as one row per job). */
static StrataStatus
scatter (SfxRun *run, float *full, const float *compact, const float *prefix, size_t w, int read_out)
{
  StrataEngine *e = run->e;
  const StrataBackend *be = e->be;
  size_t bytes = w * sizeof (float);
  for (int j = 0; j < run->n_active; j++) {
    int p = run->jobs[j].pos;
    float *dst = full + (size_t) j * run->T * w;
    if (p > 0 && prefix)
      TRY (be->copy (be, dst, prefix, (size_t) p * bytes));
    if (read_out)
      TRY (be->copy (be, dst + (size_t) run->out_pos * w, compact + (size_t) j * w, bytes));
    else
      TRY (be->copy (be, dst + (size_t) p * w, compact + (size_t) run->off[j] * w,
                     (size_t) (run->T - p) * bytes));
  }
  return STRATA_OK;
}

/* The inverse: compact rows (or one read-out row per job) from full (n, T, w). */
static StrataStatus
gather (SfxRun *run, float *compact, const float *full, size_t w, int read_out)
{
  StrataEngine *e = run->e;
  size_t bytes = w * sizeof (float);
  for (int j = 0; j < run->n_active; j++) {
    int p = run->jobs[j].pos;
    const float *src = full + (size_t) j * run->T * w;
    if (read_out)
      TRY (e->be->copy (e->be, compact + (size_t) j * w, src + (size_t) run->out_pos * w, bytes));
    else
      TRY (e->be->copy (e->be, compact + (size_t) run->off[j] * w, src + (size_t) p * w,
                        (size_t) (run->T - p) * bytes));
  }
  return STRATA_OK;
}

/* The read-out row of every active job, from compact rows (R, w) into (n, w). */
static StrataStatus
read_out_rows (SfxRun *run, float *dst, const float *compact, size_t w)
{
  StrataEngine *e = run->e;
  for (int j = 0; j < run->n_active; j++)
    TRY (e->be->copy (e->be, dst + (size_t) j * w,
                      compact + (size_t) (run->off[j] + run->out_pos - run->jobs[j].pos) * w,
                      w * sizeof (float)));
  return STRATA_OK;
}

/* MLP half of a block on `x` (rows, C) in place, with its hooks. */
static StrataStatus
mlp (SfxRun *run, const StrataLayerWeights *lw, int l, float *x, int rows, int read_out)
{
  StrataEngine *e = run->e;
  const StrataBackend *be = e->be;
  const StrataConfig *g = &e->w.cfg;
  Suffix *s = &run->s;
  int C = g->d_model, F = g->d_mlp;
  TRY (norm (e, s->normed, x, lw->norm2_w, lw->norm2_b, rows));
  if (g->family == STRATA_FAMILY_GPT2) {
    TRY (be->linear (be, s->mlp_h, s->normed, lw->w_up, lw->b_up, rows, F, C));
    TRY (be->gelu (be, s->mlp_h, (size_t) rows * F));
  } else {
    TRY (be->linear (be, s->mlp_h, s->normed, lw->w_gate, NULL, rows, F, C));
    TRY (be->linear (be, s->mlp_up, s->normed, lw->w_up, lw->b_up, rows, F, C));
    TRY (be->swiglu (be, s->mlp_h, s->mlp_up, (size_t) rows * F));
  }
  TRY (be->linear (be, s->mlp_out, s->mlp_h, lw->w_down, lw->b_down, rows, C, F));
  TRY (apply (run, STRATA_SITE_MLP_OUT, l, s->mlp_out, read_out));
  TRY (be->add (be, x, s->mlp_out, (size_t) rows * C));
  return apply (run, STRATA_SITE_RESID_POST, l, x, read_out);
}

/* Block l over the active rows. In the last block (read_out) only the keys and values of
 * every row are computed, the rest for the read-out rows, left in s->last. */
static StrataStatus
block (SfxRun *run, int l, int read_out)
{
  StrataEngine *e = run->e;
  const StrataBackend *be = e->be;
  const StrataConfig *g = &e->w.cfg;
  const StrataLayerWeights *lw = &e->w.layers[l];
  Suffix *s = &run->s;
  int n = run->n_active, T = run->T, R = run->R_active, C = g->d_model;
  int H = g->n_heads, K = g->n_kv_heads, D = g->d_head;
  size_t HD = (size_t) H * D, KD = (size_t) K * D;
  const float *bk = s->base_k + (size_t) l * T * KD, *bv = s->base_v + (size_t) l * T * KD;

  TRY (apply (run, STRATA_SITE_RESID_PRE, l, s->resid, 0));
  TRY (norm (e, s->normed, s->resid, lw->norm1_w, lw->norm1_b, R));
  TRY (be->linear (be, s->kc, s->normed, lw->w_k, lw->b_k, R, K * D, C));
  TRY (be->linear (be, s->vc, s->normed, lw->w_v, lw->b_v, R, K * D, C));
  if (read_out) {
    TRY (read_out_rows (run, s->last_n, s->normed, C));
    TRY (be->linear (be, s->qc, s->last_n, lw->w_q, lw->b_q, n, H * D, C));
  } else {
    TRY (be->linear (be, s->qc, s->normed, lw->w_q, lw->b_q, R, H * D, C));
  }
  TRY (scatter (run, s->qf, s->qc, NULL, HD, read_out));
  TRY (scatter (run, s->kf, s->kc, bk, KD, 0));
  TRY (scatter (run, s->vf, s->vc, bv, KD, 0));
  if (g->rope != STRATA_ROPE_NONE) {
    TRY (be->rope (be, s->qf, n, T, H, D, g->rope, g->rope_theta));
    TRY (be->rope (be, s->kf, n, T, K, D, g->rope, g->rope_theta));
  }
  TRY (be->attention (be, s->zf, s->pattern, s->qf, s->kf, s->vf, n, T, H, K, D));
  TRY (gather (run, s->zc, s->zf, HD, read_out));
  int rows = read_out ? n : R;
  float *x = s->resid;
  if (read_out) {
    TRY (read_out_rows (run, s->last, s->resid, C));
    x = s->last;
  }
  TRY (apply (run, STRATA_SITE_ATTN_Z, l, s->zc, read_out));
  TRY (be->linear (be, s->attn_out, s->zc, lw->w_o, lw->b_o, rows, C, H * D));
  TRY (apply (run, STRATA_SITE_ATTN_OUT, l, s->attn_out, read_out));
  TRY (be->add (be, x, s->attn_out, (size_t) rows * C));
  TRY (apply (run, STRATA_SITE_RESID_MID, l, x, read_out));
  return mlp (run, lw, l, x, rows, read_out);
}

/* Upload the base run and every patch row once. */
static StrataStatus
upload_inputs (SfxRun *run, const StrataPrefix *base, float *staging)
{
  StrataEngine *e = run->e;
  const StrataConfig *g = &e->w.cfg;
  Suffix *s = &run->s;
  size_t T = (size_t) run->T, C = g->d_model, KD = (size_t) g->n_kv_heads * g->d_head;
  for (int l = 0; l < g->n_layers; l++) {
    TRY (e->be->upload (e->be, s->base_resid + l * T * C, base->resid_pre[l], T * C * sizeof (float)));
    TRY (e->be->upload (e->be, s->base_k + l * T * KD, base->k[l], T * KD * sizeof (float)));
    TRY (e->be->upload (e->be, s->base_v + l * T * KD, base->v[l], T * KD * sizeof (float)));
  }
  size_t at = 0;
  for (int j = 0; j < run->n; j++)
    for (int i = 0; i < run->jobs[j].n_patches; i++) {
      const StrataPatch *p = &run->jobs[j].patches[i];
      size_t n = patch_floats (g, p);
      memcpy (staging + at, p->src, n * sizeof (float));
      at += n;
    }
  if (at > 0)
    TRY (e->be->upload (e->be, s->patch_rows, staging, at * sizeof (float)));
  return STRATA_OK;
}

static StrataStatus
run_jobs (SfxRun *run, const int32_t *ids, int n_ids, float *out)
{
  StrataEngine *e = run->e;
  const StrataConfig *g = &e->w.cfg;
  Suffix *s = &run->s;
  int C = g->d_model, L = g->n_layers, V = g->vocab, n = run->n;
  run->n_active = 0;
  for (int l = run->jobs[0].layer; l < L; l++) {
    /* Jobs starting here join with the base run's residual rows. */
    while (run->n_active < n && run->jobs[run->n_active].layer == l) {
      int j = run->n_active++, p = run->jobs[j].pos;
      TRY (e->be->copy (e->be, s->resid + (size_t) run->off[j] * C, s->base_resid + ((size_t) l * run->T + p) * C,
                        (size_t) (run->T - p) * C * sizeof (float)));
    }
    run->R_active = run->off[run->n_active];
    CHECK_ABORT (e);
    TRY (block (run, l, l == L - 1));
  }
  TRY (norm (e, s->last_n, s->last, e->w.norm_f_w, e->w.norm_f_b, n));
  if (!ids) {
    TRY (e->be->linear (e->be, s->logits, s->last_n, e->w.unembed, e->w.b_unembed, n, V, C));
    TRY (e->be->download (e->be, out, s->logits, (size_t) n * V * sizeof (float)));
    return STRATA_OK;
  }
  /* Only the asked logits: dot products of the normed rows with those rows of the
   * unembedding, on the host in double (n_ids * C * n multiply-adds; no product kernel
   * for one column rounds like the full product's, so take the exact sum instead). */
  size_t rows_f = (size_t) n * C, w_f = (size_t) n_ids * C;
  float *host = malloc ((rows_f + w_f + (size_t) n_ids) * sizeof (float));
  if (!host)
    return fail (e, STRATA_ERR_MEMORY, "cannot allocate %d logits", n * n_ids);
  float *w = host + rows_f, *bias = w + w_f;
  StrataStatus st = e->be->download (e->be, host, s->last_n, rows_f * sizeof (float));
  for (int k = 0; k < n_ids && st == STRATA_OK; k++) {
    st = e->be->download (e->be, w + (size_t) k * C, e->w.unembed + (size_t) ids[k] * C, (size_t) C * sizeof (float));
    bias[k] = 0.0f;
    if (st == STRATA_OK && e->w.b_unembed)
      st = e->be->download (e->be, bias + k, e->w.b_unembed + ids[k], sizeof (float));
  }
  for (int j = 0; j < n && st == STRATA_OK; j++)
    for (int k = 0; k < n_ids; k++) {
      double acc = bias[k];
      const float *x = host + (size_t) j * C, *wk = w + (size_t) k * C;
      for (int c = 0; c < C; c++)
        acc += (double) x[c] * wk[c];
      out[(size_t) j * n_ids + k] = (float) acc;
    }
  free (host);
  return st == STRATA_OK ? STRATA_OK : backend_fail (e, st, "logits download");
}

StrataStatus
strata_engine_forward_jobs (StrataEngine *e, const StrataPrefix *base, const StrataSuffixJob *jobs,
                            int n_jobs, int out_pos, const int32_t *ids, int n_ids, float *out)
{
  const StrataConfig *g = &e->w.cfg;
  e->error[0] = '\0';
  TRY (check (e, base, jobs, n_jobs, out_pos, ids, n_ids));
  SfxRun run = { e, { 0 }, jobs, n_jobs, base->T, out_pos, NULL, NULL, 0, 0 };
  run.off = malloc ((size_t) (n_jobs + 1) * sizeof *run.off);
  run.patch_at = malloc ((size_t) n_jobs * sizeof *run.patch_at);
  float *staging = NULL;
  StrataStatus st = STRATA_ERR_MEMORY;
  if (run.off && run.patch_at) {
    size_t floats = 0;
    run.off[0] = 0;
    for (int j = 0; j < n_jobs; j++) {
      run.off[j + 1] = run.off[j] + base->T - jobs[j].pos;
      run.patch_at[j] = floats;
      for (int i = 0; i < jobs[j].n_patches; i++)
        floats += patch_floats (g, &jobs[j].patches[i]);
    }
    staging = malloc ((floats ? floats : 1) * sizeof (float));
    if (staging && (st = reserve_suffix (&run, floats, ids ? n_ids : 0)) == STRATA_OK &&
        (st = upload_inputs (&run, base, staging)) == STRATA_OK)
      st = run_jobs (&run, ids, n_ids, out);
  }
  if (st == STRATA_ERR_MEMORY && !e->error[0])
    fail (e, st, "cannot allocate the patching pass of %d copies", n_jobs);
  free (staging);
  free (run.off);
  free (run.patch_at);
  return st;
}

/* The one-start form: B copies from (layer, pos), patches distributed by their `batch`. */
StrataStatus
strata_engine_forward_suffix (StrataEngine *e, const StrataPrefix *base, int layer, int pos,
                              int B, const StrataPatch *patches, int n_patches, int out_pos,
                              float *out_logits)
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
  if (!jobs || !sorted) {
    free (jobs), free (sorted);
    return fail (e, STRATA_ERR_MEMORY, "cannot allocate %d copies", B);
  }
  int at = 0;
  for (int b = 0; b < B; b++) {
    jobs[b] = (StrataSuffixJob) { layer, pos, sorted + at, 0 };
    for (int i = 0; i < n_patches; i++)
      if (patches[i].batch == b)
        sorted[at++] = patches[i], jobs[b].n_patches++;
  }
  StrataStatus st = strata_engine_forward_jobs (e, base, jobs, B, out_pos, NULL, 0, out_logits);
  free (jobs), free (sorted);
  return st;
}
