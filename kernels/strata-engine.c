/* strata-engine.c: the transformer forward pass, written once per family over the backend
 * table, with hook points at every TransformerLens site. */
#include "strata-engine.h"
#include "strata-engine-private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

StrataEngine *
strata_engine_new (const StrataBackend *be, const StrataWeights *weights, StrataStatus *status)
{
  StrataEngine *e = calloc (1, sizeof *e);
  *status = STRATA_ERR_MEMORY;
  if (!e)
    return NULL;
  e->be = be;
  if (be->host_memory) {
    e->w = *weights;
  } else {
    e->layers = calloc ((size_t) weights->cfg.n_layers, sizeof *e->layers);
    e->arena = e->layers ? be->alloc (be, weights->arena_floats) : NULL;
    if (!e->arena) {
      strata_engine_free (e);
      return NULL;
    }
    *status = be->upload (be, e->arena, weights->arena, weights->arena_floats * sizeof (float));
    if (*status != STRATA_OK) {
      strata_engine_free (e);
      return NULL;
    }
    strata_weights_rebase (weights, e->arena, &e->w, e->layers);
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
  if (e->sfx)
    e->be->free (e->be, e->sfx);
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

/* One allocation for every scratch tensor of a (B, T) run. */
static StrataStatus
reserve (StrataEngine *e, int B, int T)
{
  if (B <= e->cap_B && T <= e->cap_T)
    return STRATA_OK;
  const StrataConfig *g = &e->w.cfg;
  B = B > e->cap_B ? B : e->cap_B;
  T = T > e->cap_T ? T : e->cap_T;
  size_t R = (size_t) B * T, C = g->d_model, HD = (size_t) g->n_heads * g->d_head;
  size_t KD = (size_t) g->n_kv_heads * g->d_head, F = g->d_mlp, V = g->vocab;
  size_t sizes[] = { R * C, R * C, R * V, R * C, R * HD, R * KD, R * KD,
                     (size_t) B * g->n_heads * T * T, R * HD, R * HD, R * C, R * C, R * F, R * F, R * C };
  float **slots[] = { &e->resid, &e->pos, &e->logits, &e->acts.normed, &e->acts.q, &e->acts.k,
                      &e->acts.v, &e->acts.pattern, &e->acts.z, &e->acts.zh, &e->acts.result,
                      &e->acts.attn_out, &e->acts.mlp_h, &e->acts.mlp_up, &e->acts.mlp_out };
  size_t total = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
    total += (sizes[i] + 15) / 16 * 16; /* keep every tensor 64-byte aligned */
  if (e->scratch)
    e->be->free (e->be, e->scratch);
  e->scratch = e->be->alloc (e->be, total);
  e->cap_B = e->cap_T = 0;
  if (!e->scratch)
    return fail (e, STRATA_ERR_MEMORY, "cannot allocate %zu floats of activations", total);
  float *p = e->scratch;
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
    *slots[i] = p;
    p += (sizes[i] + 15) / 16 * 16;
  }
  e->cap_B = B;
  e->cap_T = T;
  return STRATA_OK;
}

typedef struct {
  StrataEngine *e;
  const StrataHooks *hooks;
  int B, T;
} Run;

static int
wants (const Run *run, StrataSite site, int layer)
{
  if (!run->hooks)
    return 0;
  for (int i = 0; i < run->hooks->n_caches; i++)
    if (run->hooks->caches[i].site == site && run->hooks->caches[i].layer == layer)
      return 1;
  return 0;
}

/* Apply the patches of (site, layer) to `act`, then copy it to every cache that asks. */
static StrataStatus
hook (Run *run, StrataSite site, int layer, float *act)
{
  if (!run->hooks)
    return STRATA_OK;
  StrataEngine *e = run->e;
  const StrataConfig *g = &e->w.cfg;
  long row = strata_site_row_floats (g, site, run->T);
  for (int i = 0; i < run->hooks->n_patches; i++) {
    const StrataPatch *p = &run->hooks->patches[i];
    if (p->site != site || p->layer != layer)
      continue;
    size_t off = ((size_t) p->batch * run->T + p->pos) * row;
    size_t n = (size_t) row;
    if (p->head >= 0) {
      off += (size_t) p->head * g->d_head;
      n = (size_t) g->d_head;
    }
    StrataStatus st = e->be->upload (e->be, act + off, p->src, n * sizeof (float));
    if (st != STRATA_OK)
      return fail (e, st, "patch upload failed");
  }
  for (int i = 0; i < run->hooks->n_caches; i++) {
    const StrataCache *c = &run->hooks->caches[i];
    if (c->site != site || c->layer != layer)
      continue;
    StrataStatus st = e->be->download (e->be, c->dst, act,
                                       (size_t) run->B * run->T * row * sizeof (float));
    if (st != STRATA_OK)
      return fail (e, st, "cache download failed");
  }
  return STRATA_OK;
}

static StrataStatus
check_hooks (StrataEngine *e, const StrataHooks *hooks, int B, int T)
{
  if (!hooks)
    return STRATA_OK;
  const StrataConfig *g = &e->w.cfg;
  char name[96];
  for (int i = 0; i < hooks->n_caches + hooks->n_patches; i++) {
    int is_patch = i >= hooks->n_caches;
    StrataSite site = is_patch ? hooks->patches[i - hooks->n_caches].site : hooks->caches[i].site;
    int layer = is_patch ? hooks->patches[i - hooks->n_caches].layer : hooks->caches[i].layer;
    if ((int) site < 0 || site >= STRATA_SITE_COUNT)
      return fail (e, STRATA_ERR_ARGUMENT, "unknown site %d", (int) site);
    strata_site_format (site, layer, name, sizeof name);
    if (strata_site_is_per_layer (site) ? (layer < 0 || layer >= g->n_layers) : layer != -1)
      return fail (e, STRATA_ERR_ARGUMENT, "%s: layer %d does not exist", name, layer);
    if (site == STRATA_SITE_POS_EMBED && g->family != STRATA_FAMILY_GPT2)
      return fail (e, STRATA_ERR_ARGUMENT, "hook_pos_embed: this model has RoPE, no position embedding");
    if (!is_patch)
      continue;
    const StrataPatch *p = &hooks->patches[i - hooks->n_caches];
    if (site == STRATA_SITE_ATTN_PATTERN || site == STRATA_SITE_ATTN_RESULT)
      return fail (e, STRATA_ERR_UNSUPPORTED, "%s cannot be patched (patch hook_z per head instead)", name);
    if (p->batch < 0 || p->batch >= B || p->pos < 0 || p->pos >= T)
      return fail (e, STRATA_ERR_ARGUMENT, "%s: patch at sequence %d position %d is outside (%d, %d)",
                   name, p->batch, p->pos, B, T);
    if (p->head >= strata_site_heads (g, site) && p->head >= 0)
      return fail (e, STRATA_ERR_ARGUMENT, "%s: head %d does not exist", name, p->head);
    if (p->head >= 0 && strata_site_heads (g, site) == 0)
      return fail (e, STRATA_ERR_ARGUMENT, "%s is not split by head", name);
  }
  return STRATA_OK;
}

/* Per-head outputs z_h · W_O[:, h]ᵀ, only when a cache asks: each head is one product of
 * z with every other head zeroed, so W_O is used as stored. */
static StrataStatus
head_results (Run *run, const StrataLayerWeights *lw, int l)
{
  StrataEngine *e = run->e;
  const StrataConfig *g = &e->w.cfg;
  const StrataCache *c = NULL;
  for (int i = 0; i < run->hooks->n_caches; i++)
    if (run->hooks->caches[i].site == STRATA_SITE_ATTN_RESULT && run->hooks->caches[i].layer == l)
      c = &run->hooks->caches[i];
  int R = run->B * run->T, H = g->n_heads, D = g->d_head, C = g->d_model;
  LayerActs *a = &e->acts;
  float *host = malloc ((size_t) R * C * sizeof (float));
  if (!host)
    return fail (e, STRATA_ERR_MEMORY, "cannot allocate per-head results");
  StrataStatus st = STRATA_OK;
  for (int h = 0; h < H && st == STRATA_OK; h++) {
    st = e->be->copy (e->be, a->zh, a->z, (size_t) R * H * D * sizeof (float));
    /* Zero the other heads: upload zeros over them row by row. */
    float *zeros = calloc ((size_t) H * D, sizeof (float));
    for (int r = 0; r < R && st == STRATA_OK && zeros; r++) {
      if (h > 0)
        st = e->be->upload (e->be, a->zh + (size_t) r * H * D, zeros, (size_t) h * D * sizeof (float));
      if (st == STRATA_OK && h < H - 1)
        st = e->be->upload (e->be, a->zh + (size_t) r * H * D + (size_t) (h + 1) * D, zeros,
                            (size_t) (H - 1 - h) * D * sizeof (float));
    }
    if (!zeros)
      st = STRATA_ERR_MEMORY;
    free (zeros);
    if (st == STRATA_OK)
      st = e->be->linear (e->be, a->result, a->zh, lw->w_o, NULL, R, C, H * D);
    if (st == STRATA_OK)
      st = e->be->download (e->be, host, a->result, (size_t) R * C * sizeof (float));
    for (int r = 0; r < R && st == STRATA_OK; r++)
      memcpy (c->dst + ((size_t) r * H + h) * C, host + (size_t) r * C, (size_t) C * sizeof (float));
  }
  free (host);
  return st == STRATA_OK ? STRATA_OK : fail (e, st, "per-head results failed");
}

static StrataStatus
attention_block (Run *run, const StrataLayerWeights *lw, int l)
{
  StrataEngine *e = run->e;
  const StrataBackend *be = e->be;
  const StrataConfig *g = &e->w.cfg;
  LayerActs *a = &e->acts;
  int B = run->B, T = run->T, R = B * T, C = g->d_model;
  int H = g->n_heads, K = g->n_kv_heads, D = g->d_head;

  TRY (norm (e, a->normed, e->resid, lw->norm1_w, lw->norm1_b, R));
  TRY (be->linear (be, a->q, a->normed, lw->w_q, lw->b_q, R, H * D, C));
  TRY (be->linear (be, a->k, a->normed, lw->w_k, lw->b_k, R, K * D, C));
  TRY (be->linear (be, a->v, a->normed, lw->w_v, lw->b_v, R, K * D, C));
  TRY (hook (run, STRATA_SITE_ATTN_Q, l, a->q));
  TRY (hook (run, STRATA_SITE_ATTN_K, l, a->k));
  TRY (hook (run, STRATA_SITE_ATTN_V, l, a->v));
  if (g->rope != STRATA_ROPE_NONE) {
    TRY (be->rope (be, a->q, B, T, H, D, g->rope, g->rope_theta));
    TRY (be->rope (be, a->k, B, T, K, D, g->rope, g->rope_theta));
  }
  TRY (be->attention (be, a->z, a->pattern, a->q, a->k, a->v, B, T, H, K, D));
  TRY (hook (run, STRATA_SITE_ATTN_PATTERN, l, a->pattern));
  TRY (hook (run, STRATA_SITE_ATTN_Z, l, a->z));
  if (wants (run, STRATA_SITE_ATTN_RESULT, l))
    TRY (head_results (run, lw, l));
  TRY (be->linear (be, a->attn_out, a->z, lw->w_o, lw->b_o, R, C, H * D));
  TRY (hook (run, STRATA_SITE_ATTN_OUT, l, a->attn_out));
  TRY (be->add (be, e->resid, a->attn_out, (size_t) R * C));
  return hook (run, STRATA_SITE_RESID_MID, l, e->resid);
}

static StrataStatus
mlp_block (Run *run, const StrataLayerWeights *lw, int l)
{
  StrataEngine *e = run->e;
  const StrataBackend *be = e->be;
  const StrataConfig *g = &e->w.cfg;
  LayerActs *a = &e->acts;
  int R = run->B * run->T, C = g->d_model, F = g->d_mlp;

  TRY (norm (e, a->normed, e->resid, lw->norm2_w, lw->norm2_b, R));
  if (g->family == STRATA_FAMILY_GPT2) {
    TRY (be->linear (be, a->mlp_h, a->normed, lw->w_up, lw->b_up, R, F, C));
    TRY (be->gelu (be, a->mlp_h, (size_t) R * F));
  } else {
    TRY (be->linear (be, a->mlp_h, a->normed, lw->w_gate, NULL, R, F, C));
    TRY (be->linear (be, a->mlp_up, a->normed, lw->w_up, lw->b_up, R, F, C));
    TRY (be->swiglu (be, a->mlp_h, a->mlp_up, (size_t) R * F));
  }
  TRY (hook (run, STRATA_SITE_MLP_POST, l, a->mlp_h));
  TRY (be->linear (be, a->mlp_out, a->mlp_h, lw->w_down, lw->b_down, R, C, F));
  TRY (hook (run, STRATA_SITE_MLP_OUT, l, a->mlp_out));
  TRY (be->add (be, e->resid, a->mlp_out, (size_t) R * C));
  return hook (run, STRATA_SITE_RESID_POST, l, e->resid);
}

static StrataStatus
embed (Run *run, const int32_t *tokens)
{
  StrataEngine *e = run->e;
  const StrataBackend *be = e->be;
  const StrataConfig *g = &e->w.cfg;
  int B = run->B, T = run->T, R = B * T, C = g->d_model;

  TRY (be->embed (be, e->resid, e->w.tok_embed, tokens, R, C));
  TRY (hook (run, STRATA_SITE_EMBED, -1, e->resid));
  if (g->family == STRATA_FAMILY_GPT2) {
    for (int b = 0; b < B; b++)
      TRY (be->copy (be, e->pos + (size_t) b * T * C, e->w.pos_embed, (size_t) T * C * sizeof (float)));
    TRY (hook (run, STRATA_SITE_POS_EMBED, -1, e->pos));
    TRY (be->add (be, e->resid, e->pos, (size_t) R * C));
  }
  return STRATA_OK;
}

StrataStatus
strata_engine_forward (StrataEngine *e, const int32_t *tokens, int B, int T,
                       const StrataHooks *hooks, float *logits)
{
  const StrataConfig *g = &e->w.cfg;
  e->error[0] = '\0';
  if (B <= 0 || T <= 0)
    return fail (e, STRATA_ERR_ARGUMENT, "empty batch (%d sequences of %d tokens)", B, T);
  if (T > g->n_ctx)
    return fail (e, STRATA_ERR_ARGUMENT, "%d tokens exceed the model's context of %d", T, g->n_ctx);
  for (long i = 0; i < (long) B * T; i++)
    if (tokens[i] < 0 || tokens[i] >= g->vocab)
      return fail (e, STRATA_ERR_ARGUMENT, "token id %d at index %ld is outside the vocabulary (%d)",
                   tokens[i], i, g->vocab);
  TRY (check_hooks (e, hooks, B, T));
  TRY (reserve (e, B, T));

  Run run = { e, hooks, B, T };
  int R = B * T;
  TRY (embed (&run, tokens));
  for (int l = 0; l < g->n_layers; l++) {
    const StrataLayerWeights *lw = &e->w.layers[l];
    CHECK_ABORT (e);
    TRY (hook (&run, STRATA_SITE_RESID_PRE, l, e->resid));
    TRY (attention_block (&run, lw, l));
    TRY (mlp_block (&run, lw, l));
  }
  TRY (norm (e, e->acts.normed, e->resid, e->w.norm_f_w, e->w.norm_f_b, R));
  TRY (hook (&run, STRATA_SITE_LN_FINAL, -1, e->acts.normed));
  TRY (e->be->linear (e->be, e->logits, e->acts.normed, e->w.unembed, e->w.b_unembed, R, g->vocab,
                      g->d_model));
  TRY (hook (&run, STRATA_SITE_LOGITS, -1, e->logits));
  if (logits)
    TRY (e->be->download (e->be, logits, e->logits, (size_t) R * g->vocab * sizeof (float)));
  return STRATA_OK;
}

StrataStatus
strata_engine_unembed (StrataEngine *e, const float *x, int R, int raw, float *logits)
{
  const StrataConfig *g = &e->w.cfg;
  const StrataBackend *be = e->be;
  e->error[0] = '\0';
  if (R <= 0)
    return fail (e, STRATA_ERR_ARGUMENT, "no rows to unembed");
  /* Reuse the run scratch when it is large enough, else keep a dedicated buffer. */
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
    TRY (norm (e, xr, xr, e->w.norm_f_w, e->w.norm_f_b, R));
  TRY (be->linear (be, lr, xr, e->w.unembed, e->w.b_unembed, R, g->vocab, g->d_model));
  TRY (be->download (be, logits, lr, (size_t) R * g->vocab * sizeof (float)));
  return STRATA_OK;
}
