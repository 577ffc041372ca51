/* strata-engine-pass.c: the transformer forward pass, written once: one block over a
 * description of which rows run from which layer.
 *
 * A pass runs n sequences ("jobs") of T tokens. A full pass (strata_engine_forward) starts
 * every job at block 0, position 0, from the embedding, and reads out every row. A patching
 * pass (strata_engine_forward_jobs, DESIGN.md section 5) continues base runs of T tokens (one
 * per prompt of a set, or one): job j is a patched copy of its base run that starts at block
 * layer_j and recomputes positions pos_j..T-1 only; its rows join at its own layer from that
 * run's resid_pre, and the keys/values of positions < pos_j at every layer come from that run
 * (causal masking leaves them unchanged by any patch at a position >= pos_j). It reads out one
 * row per job, at the job's own read position.
 *
 * Rows. Job j owns S_j = T - pos_j "compact" rows at offset off_j of one ragged batch of
 * R = sum S_j rows (a full pass: S_j = T, the (n, T) layout). Jobs are sorted by layer, so
 * the jobs running block l are a prefix of the list and their rows a prefix of the batch;
 * products, norms and the MLP run on those rows only, as one large product per weight
 * matrix, whatever each job's start. Attention needs every key: per job the base run's
 * keys/values of positions < pos_j are put in front of the new ones in full (n, T) tensors,
 * so RoPE and the backend's attention kernel run unchanged; query rows before pos_j hold
 * stale finite values and their outputs are dropped. (A full pass needs no copies: its
 * compact rows are the full tensors.)
 *
 * Two kinds of block compute fewer rows:
 *  - "single" first blocks: when every patch of a job's first block sits at pos_j in the
 *    block's MLP half (resid_mid onward), only row pos_j changes in that block: the job
 *    computes that one row there, reading every key and value from the base run and taking
 *    its attention output and resid_mid from the base run when given, and takes its other
 *    rows of the next block from the base run.
 *    Within a layer these jobs sort after the others, and their single rows sit right after
 *    the others' rows (at R_kv), so every product still runs over one contiguous range.
 *  - the last block of a patching pass: only the read-out row feeds the logits, so every
 *    row gets its keys and values (the read-out row attends to them) but only the read-out
 *    row of each job gets a query, the attention output, the MLP and the final norm.
 *
 * A decode step (strata_engine_step) is a pass of one job that starts at block 0 at the first
 * position the KV cache does not hold: its compact rows are the new tokens, embedded at their
 * own positions; each block computes their keys and values, rotates them and appends them to
 * the cache, and their queries attend to every cached key (no full tensors, no copies). Its
 * last block reads out the last row, as a patching pass's does.
 *
 * The attention pattern is formed only at the layers where a cache asks for it; elsewhere the
 * backend runs attention without the (n, H, T, T) array.
 *
 * Everything a pass reads from the host (the base runs, the patch rows) is uploaded once;
 * the rest are copies inside the backend, those of one step (a range per job) queued and run
 * as one copy_many: a device launches once where a job at a time would launch thousands. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strata-engine-private.h"

typedef struct {
  float *x, *normed;             /* (R, C) residual rows; a norm of them */
  float *q, *k, *v, *z;          /* (R, H*D), (R, K*D), (R, K*D), (R, H*D) compact */
  float *qf, *kf, *vf, *zf;      /* (n, T, ·) full; the compact ones in a full pass */
  float *pattern;                /* (n, H, T, T) */
  float *zh, *result;            /* (R, H*D), (R, C): per-head results, when cached */
  float *attn_out, *mlp_out;     /* (R, C) */
  float *mlp_h, *mlp_up;         /* (R, F) */
  float *last, *last_n;          /* (n, C) read-out rows, before and after a norm */
  float *logits;                 /* (rows, V) */
  float *base_x, *base_k, *base_v; /* (n_bases, L, T, C), (n_bases, L, T, K*D) x 2: the base runs */
  float *base_attn, *base_mid;   /* (n_bases, L, T, C) x 2: optional sites of them */
  float *patch_rows;             /* every patch's floats, packed */
} Bufs;

/* Where an activation's rows are: the residual rows of the block (compact rows of the jobs
 * that compute keys and values, then one row per single job), the rows with keys and
 * values, or one read-out row per job. */
typedef enum { ROWS_X, ROWS_KV, ROWS_READ } Rows;

typedef struct {
  StrataEngine *e;
  const Pass *p;
  Bufs b;
  int full;      /* a full pass */
  StrataKVCache *kv; /* a decode step's cache, else NULL */
  int pattern;   /* some layer's pattern is cached: room for one (n, H, T, T) array */
  int R;         /* compact rows */
  int wants_result;
  /* The block being run. */
  int n_active;  /* jobs running it */
  int n_kv;      /* of them, the first n_kv compute keys and values; the rest are singles */
  int R_kv, R_x; /* their rows; R_kv + singles */
  int read;      /* the last block of a patching pass */
  StrataCopy *copies; /* row copies queued for one copy_many */
  int n_copies, copies_cap;
} Run;

static size_t
patch_floats (const StrataConfig *g, const StrataPatch *p)
{
  return p->head >= 0 ? (size_t) g->d_head : (size_t) strata_site_row_floats (g, p->site, 1);
}

static int
wants (const Run *r, StrataSite site, int layer)
{
  for (int i = 0; i < r->p->n_caches; i++)
    if (r->p->caches[i].site == site && r->p->caches[i].layer == layer)
      return 1;
  return 0;
}

/* Whether a pass computes its logits: a full pass that neither copies them out nor caches
 * them (the lens caches residuals only) skips the unembedding, (n, T, V) floats. */
static int
needs_logits (const Run *r)
{
  return !r->full || r->p->out || wants (r, STRATA_SITE_LOGITS, -1);
}

/* ---- memory ---- */

/* Floats of the unembedding rows (as stored) and biases of every base's ids, gathered on the
 * backend for one download (logits_of_ids). */
static size_t
ids_rows_floats (const Run *r)
{
  const StrataEngine *e = r->e;
  size_t n_w = (size_t) r->p->n_bases * r->p->n_ids;
  size_t row_bytes = strata_dtype_bytes (e->w.unembed.dtype, (size_t) e->w.cfg.d_model);
  return (n_w * row_bytes + sizeof (float) - 1) / sizeof (float) + n_w;
}

/* The scratch of a pass: each tensor's floats in `sizes` (slots as in reserve), and their
 * total with every tensor 64-byte aligned. */
#define N_SLOTS 26
static size_t
scratch_sizes (const Run *r, size_t n_patch_floats, size_t sizes[N_SLOTS])
{
  const StrataConfig *g = &r->e->w.cfg;
  const Pass *p = r->p;
  size_t R = (size_t) r->R, n = (size_t) p->n, T = (size_t) p->T, C = g->d_model;
  size_t HD = (size_t) g->n_heads * g->d_head, KD = (size_t) g->n_kv_heads * g->d_head;
  size_t F = g->d_mlp, L = g->n_layers, V = g->vocab, nT = n * T;
  size_t full_q = r->full || r->kv ? 0 : nT * HD, full_kv = r->full || r->kv ? 0 : nT * KD;
  size_t logits = r->full ? (needs_logits (r) ? R * V : 0) : p->n_ids ? ids_rows_floats (r) : n * V;
  size_t read = p->read_one ? n * C : 0, base = (size_t) p->n_bases * L * T;
  const StrataPrefix *bp = p->n_bases ? p->bases[0] : NULL;
  size_t base_attn = bp && bp->attn_out ? base * C : 0, base_mid = bp && bp->resid_mid ? base * C : 0;
  size_t all[N_SLOTS] = { R * C, R * C, R * HD, R * KD, R * KD, R * HD, full_q, full_kv, full_kv, full_q,
                          r->pattern ? nT * g->n_heads * T : 0, r->wants_result ? R * HD : 0,
                          r->wants_result ? R * C : 0, R * C, R * C, R * F, g->recipe.gated ? R * F : 0, read, read,
                          logits, base * C, base * KD, base * KD, base_attn, base_mid, n_patch_floats };
  memcpy (sizes, all, sizeof all);
  size_t total = 0;
  for (int i = 0; i < N_SLOTS; i++)
    total += (sizes[i] + 15) / 16 * 16; /* keep every tensor 64-byte aligned */
  return total;
}

static StrataStatus
reserve (Run *r, size_t n_patch_floats)
{
  StrataEngine *e = r->e;
  Bufs *b = &r->b;
  size_t sizes[N_SLOTS];
  size_t total = scratch_sizes (r, n_patch_floats, sizes);
  float **slots[N_SLOTS] = { &b->x, &b->normed, &b->q, &b->k, &b->v, &b->z, &b->qf, &b->kf, &b->vf, &b->zf,
                             &b->pattern, &b->zh, &b->result, &b->attn_out, &b->mlp_out, &b->mlp_h, &b->mlp_up,
                             &b->last, &b->last_n, &b->logits, &b->base_x, &b->base_k, &b->base_v, &b->base_attn,
                             &b->base_mid, &b->patch_rows };
  if (total > e->scratch_cap) {
    /* The old scratch is freed first: only the growth must fit. */
    TRY (strata_engine_check_memory (e, (total - e->scratch_cap) * sizeof (float), 0, "a forward pass"));
    if (e->scratch)
      e->be->free (e->be, e->scratch);
    e->scratch = e->be->alloc (e->be, total);
    e->scratch_cap = e->scratch ? total : 0;
    if (!e->scratch)
      return fail (e, STRATA_ERR_MEMORY, "cannot allocate %zu floats of activations", total);
  }
  float *at = e->scratch;
  for (int i = 0; i < N_SLOTS; i++) {
    *slots[i] = sizes[i] ? at : NULL;
    at += (sizes[i] + 15) / 16 * 16;
  }
  if (r->full) {
    b->qf = b->q, b->kf = b->k, b->vf = b->v, b->zf = b->z;
  }
  return STRATA_OK;
}

/* Upload the base runs and every patch row in one transfer. Their slots are the last of the
 * scratch, in this order, so they are laid out in host staging as they will lie on the backend
 * (a host-memory backend's scratch is the staging); per layer and array, the base runs of a
 * prompt set's pass would be thousands of transfers, each waiting for a GPU. */
static StrataStatus
upload_inputs (Run *r, size_t n_patch_floats)
{
  StrataEngine *e = r->e;
  const StrataConfig *g = &e->w.cfg;
  const Pass *p = r->p;
  size_t T = (size_t) p->T, L = g->n_layers, C = g->d_model, KD = (size_t) g->n_kv_heads * g->d_head;
  float *first = p->n_bases ? r->b.base_x : r->b.patch_rows;
  size_t span = n_patch_floats ? (size_t) (r->b.patch_rows + n_patch_floats - first) : 0;
  if (p->n_bases && !n_patch_floats) {
    float *last = r->b.base_mid ? r->b.base_mid : r->b.base_attn ? r->b.base_attn : r->b.base_v;
    span = (size_t) (last - first) + (size_t) p->n_bases * L * T * (last == r->b.base_v ? KD : C);
  }
  if (span == 0)
    return STRATA_OK;
  int host = e->be->host_memory;
  float *staging = host ? first : calloc (span, sizeof (float));
  if (!staging)
    return fail (e, STRATA_ERR_MEMORY, "cannot allocate %zu floats to upload", span);
  for (int s = 0; s < p->n_bases; s++) {
    const StrataPrefix *bp = p->bases[s];
    struct { float *dst; const float *const *src; size_t w; } arrays[] = {
      { r->b.base_x, bp->resid_pre, C }, { r->b.base_k, bp->k, KD },           { r->b.base_v, bp->v, KD },
      { r->b.base_attn, bp->attn_out, C }, { r->b.base_mid, bp->resid_mid, C },
    };
    for (size_t a = 0; a < sizeof arrays / sizeof *arrays; a++)
      for (size_t l = 0; arrays[a].src && l < L; l++)
        memcpy (staging + (arrays[a].dst - first) + ((size_t) s * L + l) * T * arrays[a].w, arrays[a].src[l],
                T * arrays[a].w * sizeof (float));
  }
  float *rows = n_patch_floats ? staging + (r->b.patch_rows - first) : NULL; /* no slot without patches */
  for (int j = 0; rows && j < p->n; j++)
    for (int i = 0; i < p->jobs[j].n_patches; i++) {
      const StrataPatch *pt = &p->jobs[j].patches[i];
      size_t n = patch_floats (g, pt);
      memcpy (rows, pt->src, n * sizeof (float));
      rows += n;
    }
  StrataStatus st = host ? STRATA_OK : e->be->upload (e->be, first, staging, span * sizeof (float));
  if (!host)
    free (staging);
  return st == STRATA_OK ? STRATA_OK : backend_fail (e, st, "the upload of the base runs and patch rows");
}

/* ---- rows ---- */

/* Queue a copy of n floats for the next flush_copies: the copies of one step (a row range per
 * job) are independent of each other, so a device runs them as one launch. */
static StrataStatus
queue_copy (Run *r, float *dst, const float *src, size_t n)
{
  if (r->n_copies == r->copies_cap) {
    int cap = r->copies_cap ? 2 * r->copies_cap : 64;
    StrataCopy *grown = realloc (r->copies, (size_t) cap * sizeof *grown);
    if (!grown)
      return fail (r->e, STRATA_ERR_MEMORY, "cannot allocate %d row copies", cap);
    r->copies = grown, r->copies_cap = cap;
  }
  r->copies[r->n_copies++] = (StrataCopy) { dst, src, n };
  return STRATA_OK;
}

static int
copy_dst_cmp (const void *a, const void *b)
{
  const StrataCopy *x = a, *y = b;
  return x->dst < y->dst ? -1 : x->dst > y->dst;
}

/* Whether any two of n copies write the same float (sorted by destination, a range starting
 * before the furthest end so far). */
static int
copies_overlap (const StrataCopy *copies, int n, StrataCopy *sorted)
{
  memcpy (sorted, copies, (size_t) n * sizeof *sorted);
  qsort (sorted, (size_t) n, sizeof *sorted, copy_dst_cmp);
  for (int i = 1; i < n; i++)
    if (sorted[i].dst < sorted[i - 1].dst + sorted[i - 1].n)
      return 1;
  return 0;
}

/* Jobs own disjoint rows, but one job's patches may write over each other (the same row
 * twice, a head inside a whole row): when the copies queued from `first` on overlap, they run
 * now, in order, the later one winning, and leave the queue. */
static StrataStatus
unqueue_overlapping (Run *r, int first)
{
  StrataEngine *e = r->e;
  int n = r->n_copies - first;
  if (n < 2)
    return STRATA_OK;
  StrataCopy *sorted = malloc ((size_t) n * sizeof *sorted);
  if (!sorted)
    return fail (e, STRATA_ERR_MEMORY, "cannot allocate %d row copies", n);
  int overlap = copies_overlap (r->copies + first, n, sorted);
  free (sorted);
  for (int i = first; overlap && i < r->n_copies; i++)
    TRY (e->be->copy (e->be, r->copies[i].dst, r->copies[i].src, r->copies[i].n * sizeof (float)));
  if (overlap)
    r->n_copies = first;
  return STRATA_OK;
}

static StrataStatus
flush_copies (Run *r)
{
  StrataEngine *e = r->e;
  int n = r->n_copies;
  r->n_copies = 0;
  TRY (e->be->copy_many (e->be, r->copies, n));
  return STRATA_OK;
}

/* Row of (job j, position pos) among `rows`, or -1 when the block has no such row. */
static long
row_of (const Run *r, int j, int pos, Rows rows)
{
  const PassJob *job = &r->p->jobs[j];
  if (rows == ROWS_READ) /* a single job's row in the last block is the read-out row */
    return pos == job->out_pos ? j : -1;
  if (j >= r->n_kv) /* a single first block: one residual row, no keys */
    return rows == ROWS_X && pos == job->pos ? r->R_kv + (j - r->n_kv) : -1;
  return job->off + pos - job->pos;
}

/* The query-path rows of job j in this block: `count` rows from compact row `row`, at
 * positions from `pos`. */
static void
query_rows (const Run *r, int j, long *row, int *pos, int *count)
{
  const PassJob *job = &r->p->jobs[j];
  *pos = r->read ? job->out_pos : job->pos;
  *count = r->read || j >= r->n_kv ? 1 : r->p->T - job->pos;
  *row = row_of (r, j, *pos, r->read ? ROWS_READ : ROWS_X);
}

/* The query path's rows: every residual row, or the read-out rows of the last block. */
static Rows
query_space (const Run *r)
{
  return r->read ? ROWS_READ : ROWS_X;
}

/* Between the compact query rows and full (n, T, w) tensors: to_full for queries, back for z. */
static StrataStatus
copy_queries (Run *r, float *full, float *compact, size_t w, int to_full)
{
  StrataEngine *e = r->e;
  for (int j = 0; j < r->n_active; j++) {
    long row;
    int pos, count;
    query_rows (r, j, &row, &pos, &count);
    float *f = full + ((size_t) j * r->p->T + pos) * w, *c = compact + (size_t) row * w;
    TRY (queue_copy (r, to_full ? f : c, to_full ? c : f, (size_t) count * w));
  }
  return flush_copies (r);
}

/* Row (layer, pos) of job `job`'s base run in one of the uploaded base arrays of rows of w. */
static const float *
base_row (const Run *r, const float *base, const PassJob *job, int layer, int pos, size_t w)
{
  size_t L = (size_t) r->e->w.cfg.n_layers, T = (size_t) r->p->T;
  return base + (((size_t) job->base * L + (size_t) layer) * T + (size_t) pos) * w;
}

/* Full (n, T, K*D) keys or values of block l: the base run's in front of each job's own,
 * all of them for single first blocks. */
static StrataStatus
scatter_keys (Run *r, int l, float *full, const float *compact, const float *base)
{
  StrataEngine *e = r->e;
  size_t T = (size_t) r->p->T, w = (size_t) e->w.cfg.n_kv_heads * e->w.cfg.d_head;
  for (int j = 0; j < r->n_active; j++) {
    const PassJob *job = &r->p->jobs[j];
    float *dst = full + (size_t) j * T * w;
    const float *from = base_row (r, base, job, l, 0, w);
    int single = j >= r->n_kv;
    int prefix = single ? job->pos + 1 : job->pos;
    if (prefix > 0)
      TRY (queue_copy (r, dst, from, (size_t) prefix * w));
    if (!single)
      TRY (queue_copy (r, dst + (size_t) job->pos * w, compact + (size_t) job->off * w, (T - (size_t) job->pos) * w));
  }
  return flush_copies (r);
}

/* The read-out row of every job, from residual rows (R_x, w) into (n, w). */
static StrataStatus
gather_read_rows (Run *r, float *dst, const float *rows, size_t w)
{
  StrataEngine *e = r->e;
  for (int j = 0; j < r->n_active; j++) {
    long row = row_of (r, j, r->p->jobs[j].out_pos, ROWS_X);
    TRY (queue_copy (r, dst + (size_t) j * w, rows + (size_t) row * w, w));
  }
  return flush_copies (r);
}

/* ---- hooks ---- */

/* The base run's values of `site` at layer l, when the caller gave them (NULL otherwise). */
static const float *
base_site (const Run *r, StrataSite site)
{
  switch (site) {
  case STRATA_SITE_RESID_PRE: return r->b.base_x;
  case STRATA_SITE_ATTN_OUT: return r->b.base_attn;
  case STRATA_SITE_RESID_MID: return r->b.base_mid;
  default: return NULL;
  }
}

/* Single first rows hold the base run's values up to and including their first patched
 * site (a patch may cover part of the row, one head): the values a full pass has there. */
static StrataStatus
base_rows (Run *r, StrataSite site, int layer, float *act, Rows rows)
{
  StrataEngine *e = r->e;
  const float *base = base_site (r, site);
  size_t w = (size_t) strata_site_row_floats (&e->w.cfg, site, 1);
  for (int j = r->n_kv; base && j < r->n_active; j++) {
    const PassJob *job = &r->p->jobs[j];
    long row = row_of (r, j, job->pos, rows);
    if (strata_site_block_order (site) > job->first_order || row < 0)
      continue;
    TRY (queue_copy (r, act + (size_t) row * w, base_row (r, base, job, layer, job->pos, w), w));
  }
  return flush_copies (r);
}

/* Overwrite rows of (site, layer) in `act` with the patches of the running jobs, then copy
 * the whole site to every cache that asks (full passes: act holds (n, T) rows). */
static StrataStatus
hook (Run *r, StrataSite site, int layer, float *act, Rows rows)
{
  StrataEngine *e = r->e;
  const StrataConfig *g = &e->w.cfg;
  const Pass *p = r->p;
  size_t row_floats = (size_t) strata_site_row_floats (g, site, 1);
  if (layer >= 0 && r->n_kv < r->n_active)
    TRY (base_rows (r, site, layer, act, rows));
  int n_jobs = layer < 0 && r->full ? p->n : r->n_active;
  for (int j = 0; j < n_jobs; j++) {
    const PassJob *job = &p->jobs[j];
    size_t at = job->patch_at;
    int first = r->n_copies;
    for (int i = 0; i < job->n_patches; i++) {
      const StrataPatch *pt = &job->patches[i];
      size_t n = patch_floats (g, pt), src = at;
      at += n;
      if (pt->site != site || pt->layer != layer)
        continue;
      long row = layer < 0 ? job->off + pt->pos : row_of (r, j, pt->pos, rows);
      if (row < 0)
        continue; /* a row this block does not compute cannot reach the read-out */
      size_t off = (size_t) row * row_floats + (pt->head >= 0 ? (size_t) pt->head * g->d_head : 0);
      TRY (queue_copy (r, act + off, r->b.patch_rows + src, n));
    }
    TRY (unqueue_overlapping (r, first));
  }
  TRY (flush_copies (r));
  for (int i = 0; i < p->n_caches; i++) {
    const StrataCache *c = &p->caches[i];
    if (c->site != site || c->layer != layer)
      continue;
    size_t floats = (size_t) p->n * p->T * (size_t) strata_site_row_floats (g, site, p->T);
    StrataStatus st = e->be->download (e->be, c->dst, act, floats * sizeof (float));
    if (st != STRATA_OK)
      return fail (e, st, "cache download failed");
  }
  return STRATA_OK;
}

/* Per-head outputs z_h · W_O[:, h]ᵀ, only when a cache asks (full passes): each head is one
 * product of z with every other head zeroed, so W_O is used as stored. */
static StrataStatus
head_results (Run *r, const StrataLayerWeights *lw, int l)
{
  StrataEngine *e = r->e;
  const StrataConfig *g = &e->w.cfg;
  const StrataCache *c = NULL;
  for (int i = 0; i < r->p->n_caches; i++)
    if (r->p->caches[i].site == STRATA_SITE_ATTN_RESULT && r->p->caches[i].layer == l)
      c = &r->p->caches[i];
  int R = r->R, H = g->n_heads, D = g->d_head, C = g->d_model;
  Bufs *b = &r->b;
  float *host = malloc ((size_t) R * C * sizeof (float));
  float *zeros = e->be->alloc (e->be, (size_t) H * D); /* backend memory, zeroed */
  StrataStatus st = host && zeros ? STRATA_OK : STRATA_ERR_MEMORY;
  for (int h = 0; h < H && st == STRATA_OK; h++) {
    st = e->be->copy (e->be, b->zh, b->z, (size_t) R * H * D * sizeof (float));
    /* Zero the other heads of every row: one batched copy from zeros on the backend. */
    for (int row = 0; row < R && st == STRATA_OK; row++) {
      float *at = b->zh + (size_t) row * H * D;
      if (h > 0)
        st = queue_copy (r, at, zeros, (size_t) h * D);
      if (st == STRATA_OK && h < H - 1)
        st = queue_copy (r, at + (size_t) (h + 1) * D, zeros, (size_t) (H - 1 - h) * D);
    }
    if (st == STRATA_OK)
      st = flush_copies (r);
    if (st == STRATA_OK)
      st = e->be->linear (e->be, b->result, b->zh, &lw->w_o, NULL, R, C, H * D, e->precision);
    if (st == STRATA_OK)
      st = e->be->download (e->be, host, b->result, (size_t) R * C * sizeof (float));
    for (int row = 0; row < R && st == STRATA_OK; row++)
      memcpy (c->dst + ((size_t) row * H + h) * C, host + (size_t) row * C, (size_t) C * sizeof (float));
  }
  free (host);
  if (zeros)
    e->be->free (e->be, zeros);
  return st == STRATA_OK ? STRATA_OK : fail (e, st, "per-head results failed");
}

/* ---- the block ---- */

/* Queries and keys normed per head (each head's D values) or whole, before RoPE. */
static StrataStatus
qk_norms (Run *r, const StrataLayerWeights *lw, int rows_q, int rows_kv)
{
  StrataEngine *e = r->e;
  const StrataConfig *g = &e->w.cfg;
  int H = g->n_heads, K = g->n_kv_heads, D = g->d_head;
  switch (g->recipe.qk_norm) {
  case STRATA_QK_NORM_HEAD:
    TRY (norm_rows (e, r->b.q, r->b.q, lw->q_norm_w, lw->q_norm_b, rows_q * H, D));
    TRY (norm_rows (e, r->b.k, r->b.k, lw->k_norm_w, lw->k_norm_b, rows_kv * K, D));
    break;
  case STRATA_QK_NORM_WHOLE:
    TRY (norm_rows (e, r->b.q, r->b.q, lw->q_norm_w, lw->q_norm_b, rows_q, H * D));
    TRY (norm_rows (e, r->b.k, r->b.k, lw->k_norm_w, lw->k_norm_b, rows_kv, K * D));
    break;
  default:
    break;
  }
  return STRATA_OK;
}

/* The norm before attention or the MLP: `rows` rows of x (rows, C) normed into dst, or copied
 * as they are when the recipe has no pre-norms (OLMo-2 norms sublayer outputs only). A copy,
 * not a pointer to x: a parallel block adds attn_out to x before its MLP reads the input. */
static StrataStatus
pre_norm (Run *r, float *dst, const float *x, const float *w, const float *b, int rows)
{
  StrataEngine *e = r->e;
  int C = e->w.cfg.d_model;
  if (e->w.cfg.recipe.pre_norms)
    return norm_rows (e, dst, x, w, b, rows, C);
  return e->be->copy (e->be, dst, x, (size_t) rows * C * sizeof (float));
}

/* The MLP on `in` (rows, C) into b.mlp_out, with its hooks. */
static StrataStatus
mlp (Run *r, const StrataLayerWeights *lw, int l, const float *in, int rows)
{
  StrataEngine *e = r->e;
  const StrataBackend *be = e->be;
  const StrataConfig *g = &e->w.cfg;
  Bufs *b = &r->b;
  int C = g->d_model, F = g->d_mlp;
  if (g->recipe.gated) {
    TRY (be->linear (be, b->mlp_h, in, &lw->w_gate, lw->b_gate, rows, F, C, e->precision));
    TRY (be->linear (be, b->mlp_up, in, &lw->w_up, lw->b_up, rows, F, C, e->precision));
    TRY (be->activation (be, b->mlp_h, b->mlp_up, (size_t) rows * F, g->recipe.act));
  } else {
    TRY (be->linear (be, b->mlp_h, in, &lw->w_up, lw->b_up, rows, F, C, e->precision));
    TRY (be->activation (be, b->mlp_h, NULL, (size_t) rows * F, g->recipe.act));
  }
  TRY (hook (r, STRATA_SITE_MLP_POST, l, b->mlp_h, query_space (r)));
  TRY (be->linear (be, b->mlp_out, b->mlp_h, &lw->w_down, lw->b_down, rows, C, F, e->precision));
  if (g->recipe.post_norms)
    TRY (norm_rows (e, b->mlp_out, b->mlp_out, lw->mlp_post_w, lw->mlp_post_b, rows, C));
  return hook (r, STRATA_SITE_MLP_OUT, l, b->mlp_out, query_space (r));
}

/* A decode step's attention in block l: the new rows' keys (rotated at their positions) and
 * values join the cache, and the query rows (the last one in the last block) attend to every
 * key the cache holds. */
static StrataStatus
cached_attention (Run *r, int l, int rows_q, const StrataAttnParams *attn)
{
  StrataEngine *e = r->e;
  const StrataBackend *be = e->be;
  const StrataConfig *g = &e->w.cfg;
  const StrataRopeParams *rope = &g->recipe.rope;
  Bufs *b = &r->b;
  StrataKVCache *kv = r->kv;
  int T = r->p->T, pos = r->p->jobs[0].pos, H = g->n_heads, K = g->n_kv_heads, D = g->d_head;
  size_t KD = (size_t) K * D, layer = (size_t) l * kv->capacity * KD, bytes = (size_t) r->R_kv * KD * sizeof (float);
  TRY (be->rope (be, b->q, 1, rows_q, H, D, T - rows_q, rope));
  TRY (be->rope (be, b->k, 1, r->R_kv, K, D, pos, rope));
  TRY (be->copy (be, kv->k + layer + (size_t) pos * KD, b->k, bytes));
  TRY (be->copy (be, kv->v + layer + (size_t) pos * KD, b->v, bytes));
  return be->attention (be, b->z, NULL, b->q, kv->k + layer, kv->v + layer, 1, rows_q, T, H, K, D, attn);
}

/* Block l over the running jobs' rows. In the last block of a patching pass or a decode
 * step the residual of the read-out rows ends in b.last; else in b.x. */
static StrataStatus
block (Run *r, int l)
{
  StrataEngine *e = r->e;
  const StrataBackend *be = e->be;
  const StrataConfig *g = &e->w.cfg;
  const StrataRecipe *rc = &g->recipe;
  const StrataLayerWeights *lw = &e->w.layers[l];
  Bufs *b = &r->b;
  int n = r->n_active, T = r->p->T, C = g->d_model;
  int H = g->n_heads, K = g->n_kv_heads, D = g->d_head;
  size_t HD = (size_t) H * D, KD = (size_t) K * D;
  int rows_q = r->read ? n : r->R_x; /* rows of the query path */
  Rows q_space = query_space (r);
  StrataAttnParams attn = strata_config_layer_attention (g, l);

  TRY (hook (r, STRATA_SITE_RESID_PRE, l, b->x, ROWS_X));
  float *xq = b->x, *nq = b->normed; /* the query path's residual and its norm */
  TRY (pre_norm (r, b->normed, b->x, lw->norm1_w, lw->norm1_b, r->R_x));
  if (r->read) {
    TRY (gather_read_rows (r, b->last, b->x, C));
    TRY (gather_read_rows (r, b->last_n, b->normed, C));
    xq = b->last, nq = b->last_n;
  }
  TRY (be->linear (be, b->k, b->normed, &lw->w_k, lw->b_k, r->R_kv, (int) KD, C, e->precision));
  TRY (be->linear (be, b->v, b->normed, &lw->w_v, lw->b_v, r->R_kv, (int) KD, C, e->precision));
  TRY (be->linear (be, b->q, nq, &lw->w_q, lw->b_q, rows_q, (int) HD, C, e->precision));
  TRY (qk_norms (r, lw, rows_q, r->R_kv));
  TRY (hook (r, STRATA_SITE_ATTN_Q, l, b->q, q_space));
  TRY (hook (r, STRATA_SITE_ATTN_K, l, b->k, ROWS_KV));
  TRY (hook (r, STRATA_SITE_ATTN_V, l, b->v, ROWS_KV));
  if (r->kv)
    TRY (cached_attention (r, l, rows_q, &attn));
  else {
    if (!r->full) {
      TRY (copy_queries (r, b->qf, b->q, HD, 1));
      TRY (scatter_keys (r, l, b->kf, b->k, b->base_k));
      TRY (scatter_keys (r, l, b->vf, b->v, b->base_v));
    }
    float *pattern = wants (r, STRATA_SITE_ATTN_PATTERN, l) ? b->pattern : NULL;
    TRY (be->rope (be, b->qf, n, T, H, D, 0, &rc->rope));
    TRY (be->rope (be, b->kf, n, T, K, D, 0, &rc->rope));
    TRY (be->attention (be, b->zf, pattern, b->qf, b->kf, b->vf, n, T, T, H, K, D, &attn));
    if (pattern)
      TRY (hook (r, STRATA_SITE_ATTN_PATTERN, l, pattern, ROWS_X));
    if (!r->full)
      TRY (copy_queries (r, b->zf, b->z, HD, 0));
  }
  TRY (hook (r, STRATA_SITE_ATTN_Z, l, b->z, q_space));
  if (wants (r, STRATA_SITE_ATTN_RESULT, l))
    TRY (head_results (r, lw, l));
  TRY (be->linear (be, b->attn_out, b->z, &lw->w_o, lw->b_o, rows_q, C, (int) HD, e->precision));
  if (rc->post_norms)
    TRY (norm_rows (e, b->attn_out, b->attn_out, lw->attn_post_w, lw->attn_post_b, rows_q, C));
  TRY (hook (r, STRATA_SITE_ATTN_OUT, l, b->attn_out, q_space));
  size_t n_floats = (size_t) rows_q * C;
  if (rc->parallel) { /* the MLP reads the block's input too */
    TRY (pre_norm (r, b->normed, xq, lw->norm2_w, lw->norm2_b, rows_q));
    TRY (be->add (be, xq, b->attn_out, n_floats));
  } else {
    TRY (be->add (be, xq, b->attn_out, n_floats));
    TRY (hook (r, STRATA_SITE_RESID_MID, l, xq, q_space));
    TRY (pre_norm (r, b->normed, xq, lw->norm2_w, lw->norm2_b, rows_q));
  }
  TRY (mlp (r, lw, l, b->normed, rows_q));
  TRY (be->add (be, xq, b->mlp_out, n_floats));
  return hook (r, STRATA_SITE_RESID_POST, l, xq, q_space);
}

/* ---- the pass around the blocks ---- */

static StrataStatus
embed (Run *r)
{
  StrataEngine *e = r->e;
  const StrataBackend *be = e->be;
  const StrataConfig *g = &e->w.cfg;
  int R = r->R, C = g->d_model;
  TRY (be->embed (be, r->b.x, &e->w.tok_embed, r->p->tokens, R, C));
  if (g->recipe.embed_scale != 1.0f)
    TRY (be->scale (be, r->b.x, (size_t) R * C, g->recipe.embed_scale));
  TRY (hook (r, STRATA_SITE_EMBED, -1, r->b.x, ROWS_X));
  if (!g->recipe.learned_pos)
    return STRATA_OK;
  int32_t *positions = malloc ((size_t) R * sizeof *positions);
  if (!positions)
    return fail (e, STRATA_ERR_MEMORY, "cannot allocate %d positions", R);
  /* Every job of a full pass starts at 0; a decode step's one job at the cache's length. */
  int pos0 = r->p->jobs[0].pos, S = r->p->T - pos0;
  for (int i = 0; i < R; i++)
    positions[i] = pos0 + i % S;
  /* attn_out is free until the first block: it holds the position rows. */
  StrataStatus st = be->embed (be, r->b.attn_out, &e->w.pos_embed, positions, R, C);
  free (positions);
  TRY (st);
  TRY (hook (r, STRATA_SITE_POS_EMBED, -1, r->b.attn_out, ROWS_X));
  return be->add (be, r->b.x, r->b.attn_out, (size_t) R * C);
}

/* Before block l: the single jobs of block l-1 take all their rows (row pos from the block,
 * the later ones from the base run, which a change of row pos alone left as they were);
 * then the jobs starting at l join with the base run's residual rows. */
static StrataStatus
enter_block (Run *r, int l)
{
  StrataEngine *e = r->e;
  const Pass *p = r->p;
  size_t T = (size_t) p->T, C = e->w.cfg.d_model;
  /* Backwards, one at a time: each job's rows start at or after its single row, never over an
   * earlier job's single row, but a row moved may land on a later job's slot. The rest of its
   * rows (from the base run) go in one launch with the new jobs' rows below: every range
   * written is its own job's. */
  for (int j = r->n_active - 1; j >= r->n_kv; j--) {
    const PassJob *job = &p->jobs[j];
    size_t slot = (size_t) (r->R_kv + (j - r->n_kv));
    if ((size_t) job->off != slot)
      TRY (e->be->copy (e->be, r->b.x + (size_t) job->off * C, r->b.x + slot * C, C * sizeof (float)));
  }
  for (int j = r->n_active - 1; j >= r->n_kv; j--) {
    const PassJob *job = &p->jobs[j];
    if ((size_t) job->pos + 1 < T)
      TRY (queue_copy (r, r->b.x + ((size_t) job->off + 1) * C, base_row (r, r->b.base_x, job, l, job->pos + 1, C),
                       (T - job->pos - 1) * C));
  }
  int first_new = r->n_active;
  while (r->n_active < p->n && p->jobs[r->n_active].layer == l)
    r->n_active++;
  r->n_kv = first_new;
  while (r->n_kv < r->n_active && !p->jobs[r->n_kv].single)
    r->n_kv++;
  r->R_kv = r->n_kv < p->n ? p->jobs[r->n_kv].off : r->R;
  r->R_x = r->R_kv + (r->n_active - r->n_kv);
  for (int j = first_new; p->n_bases && j < r->n_active; j++) {
    const PassJob *job = &p->jobs[j];
    long row = row_of (r, j, job->pos, ROWS_X);
    size_t rows = job->single ? 1 : T - (size_t) job->pos;
    TRY (queue_copy (r, r->b.x + (size_t) row * C, base_row (r, r->b.base_x, job, l, job->pos, C), rows * C));
  }
  return flush_copies (r);
}

/* Only the asked logits: dot products of the normed read-out rows with those rows of the
 * unembedding, on the host in double (n_ids * C * n multiply-adds; no product kernel for one
 * column rounds like the full product's, so take the exact sum instead). */
static StrataStatus
logits_of_ids (Run *r, const float *normed)
{
  StrataEngine *e = r->e;
  const StrataBackend *be = e->be;
  const StrataConfig *g = &e->w.cfg;
  const Pass *p = r->p;
  int n = p->n, C = g->d_model, n_ids = p->n_ids, n_w = p->n_bases * n_ids;
  size_t rows_f = (size_t) n * C, w_f = (size_t) n_w * C;
  size_t row_bytes = strata_dtype_bytes (e->w.unembed.dtype, (size_t) C);
  size_t stored_f = ids_rows_floats (r) - (size_t) n_w;
  float *host = malloc ((rows_f + w_f + (size_t) n_w + stored_f) * sizeof (float));
  if (!host)
    return fail (e, STRATA_ERR_MEMORY, "cannot allocate %d logits", n * n_ids);
  float *w = host + rows_f, *bias = w + w_f; /* (n_bases, n_ids) rows of the unembedding, biases */
  char *stored = (char *) (bias + n_w);      /* the same rows as stored */
  /* The rows (and biases) gathered on the backend, then downloaded at once: one batched copy
   * (one copy per row when a row is not whole floats: a 16-bit odd width, most blocks) and two transfers,
   * instead of a transfer per id. */
  char *dev_rows = (char *) r->b.logits;
  float *dev_bias = r->b.logits + stored_f;
  int batched = row_bytes % sizeof (float) == 0;
  StrataStatus st = be->download (be, host, normed, rows_f * sizeof (float));
  for (int k = 0; k < n_w && st == STRATA_OK; k++) {
    int32_t id = p->ids[k / n_ids][k % n_ids];
    char *dst = dev_rows + (size_t) k * row_bytes;
    const char *src = (const char *) e->w.unembed.data + (size_t) id * row_bytes;
    st = batched ? queue_copy (r, (float *) dst, (const float *) src, row_bytes / sizeof (float))
                 : be->copy (be, dst, src, row_bytes);
    if (st == STRATA_OK && e->w.b_unembed)
      st = queue_copy (r, dev_bias + k, e->w.b_unembed + id, 1);
  }
  if (st == STRATA_OK)
    st = flush_copies (r);
  if (st == STRATA_OK)
    st = be->download (be, stored, dev_rows, (size_t) n_w * row_bytes);
  for (int k = 0; k < n_w && st == STRATA_OK; k++)
    strata_dtype_to_f32 (e->w.unembed.dtype, stored + (size_t) k * row_bytes, w + (size_t) k * C, (size_t) C);
  if (st == STRATA_OK && e->w.b_unembed)
    st = be->download (be, bias, dev_bias, (size_t) n_w * sizeof (float));
  else
    memset (bias, 0, (size_t) n_w * sizeof (float));
  float cap = g->recipe.final_softcap;
  for (int j = 0; j < n && st == STRATA_OK; j++)
    for (int k0 = p->jobs[j].base * n_ids, k = 0; k < n_ids; k++) {
      double acc = bias[k0 + k];
      const float *x = host + (size_t) j * C, *wk = w + (size_t) (k0 + k) * C;
      for (int c = 0; c < C; c++)
        acc += (double) x[c] * wk[c];
      float v = (float) acc;
      p->out[(size_t) p->jobs[j].slot * n_ids + k] = cap > 0 ? cap * tanhf (v / cap) : v;
    }
  free (host);
  return st == STRATA_OK ? STRATA_OK : backend_fail (e, st, "logits download");
}

/* The final norm and the unembedding of the read-out rows (every row of a full pass). */
static StrataStatus
finish (Run *r)
{
  StrataEngine *e = r->e;
  const StrataBackend *be = e->be;
  const StrataConfig *g = &e->w.cfg;
  const Pass *p = r->p;
  int read = p->read_one, rows = read ? p->n : r->R, C = g->d_model, V = g->vocab;
  Rows space = read ? ROWS_READ : ROWS_X;
  TRY (norm_rows (e, r->b.normed, read ? r->b.last : r->b.x, e->w.norm_f_w, e->w.norm_f_b, rows, C));
  TRY (hook (r, STRATA_SITE_LN_FINAL, -1, r->b.normed, space));
  if (p->n_ids)
    return logits_of_ids (r, r->b.normed);
  if (!needs_logits (r))
    return STRATA_OK;
  TRY (be->linear (be, r->b.logits, r->b.normed, &e->w.unembed, e->w.b_unembed, rows, V, C, e->precision));
  if (g->recipe.final_softcap > 0)
    TRY (be->softcap (be, r->b.logits, (size_t) rows * V, g->recipe.final_softcap));
  TRY (hook (r, STRATA_SITE_LOGITS, -1, r->b.logits, space));
  if (!p->out)
    return STRATA_OK;
  size_t row_bytes = (size_t) V * sizeof (float);
  int in_order = 1;
  for (int j = 0; read && j < p->n; j++)
    in_order &= p->jobs[j].slot == j;
  if (in_order)
    return be->download (be, p->out, r->b.logits, (size_t) rows * row_bytes) == STRATA_OK
               ? STRATA_OK : backend_fail (e, STRATA_ERR_BACKEND, "logits download");
  float *host = malloc ((size_t) rows * row_bytes);
  if (!host)
    return fail (e, STRATA_ERR_MEMORY, "cannot allocate %d rows of logits", rows);
  StrataStatus st = be->download (be, host, r->b.logits, (size_t) rows * row_bytes);
  for (int j = 0; st == STRATA_OK && j < p->n; j++)
    memcpy (p->out + (size_t) p->jobs[j].slot * V, host + (size_t) j * V, row_bytes);
  free (host);
  return st == STRATA_OK ? STRATA_OK : backend_fail (e, st, "logits download");
}

/* The run of pass p before its scratch: each job's rows and patch offsets, which sites are
 * cached. Returns the floats of every patch row. */
static size_t
run_init (Run *r, StrataEngine *e, const Pass *p)
{
  const StrataConfig *g = &e->w.cfg;
  *r = (Run) { .e = e, .p = p, .full = p->n_bases == 0 && p->kv == NULL, .kv = p->kv };
  size_t patch_floats_total = 0;
  for (int j = 0; j < p->n; j++) {
    p->jobs[j].off = r->R;
    p->jobs[j].patch_at = patch_floats_total;
    r->R += p->T - p->jobs[j].pos;
    for (int i = 0; i < p->jobs[j].n_patches; i++)
      patch_floats_total += patch_floats (g, &p->jobs[j].patches[i]);
  }
  for (int l = 0; l < g->n_layers; l++) {
    r->wants_result |= wants (r, STRATA_SITE_ATTN_RESULT, l);
    r->pattern |= wants (r, STRATA_SITE_ATTN_PATTERN, l);
  }
  return patch_floats_total;
}

size_t
_strata_engine_pass_bytes (StrataEngine *e, const Pass *p)
{
  Run r;
  size_t sizes[N_SLOTS], patch = run_init (&r, e, p);
  return scratch_sizes (&r, patch, sizes) * sizeof (float);
}

/* The embedding (a pass from the tokens), every block from the first job's, the read-out. */
static StrataStatus
run_blocks (Run *r)
{
  StrataEngine *e = r->e;
  const Pass *p = r->p;
  if (!p->n_bases)
    TRY (embed (r));
  for (int l = p->jobs[0].layer; l < e->w.cfg.n_layers; l++) {
    CHECK_ABORT (e);
    TRY (enter_block (r, l));
    r->read = p->read_one && l == e->w.cfg.n_layers - 1;
    TRY (block (r, l));
  }
  return finish (r);
}

StrataStatus
_strata_engine_run_pass (StrataEngine *e, const Pass *p)
{
  Run r;
  size_t patch_floats_total = run_init (&r, e, p);
  StrataStatus st = reserve (&r, patch_floats_total);
  if (st == STRATA_OK)
    st = upload_inputs (&r, patch_floats_total);
  if (st == STRATA_OK)
    st = run_blocks (&r);
  free (r.copies);
  return st;
}
