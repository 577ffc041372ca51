/* strata-engine-suffix.c: the forward pass restricted to the positions and layers a patch
 * can change, batched over many patches (the activation-patching fast path).
 *
 * Layout: B copies of the base sequence, each computing the S = T - p0 positions p0..T-1
 * ("compact" rows, R = B*S). Products, norms and the MLP run on the compact rows only.
 * Attention needs every key: the keys/values of positions < p0 are the base run's, copied
 * in front of the new ones into full (B, T) tensors, so RoPE and the backend's attention
 * kernel run unchanged; the queries of those prefix rows are zero and their outputs are
 * dropped. */
#include <stdlib.h>
#include <string.h>

#include "strata-engine-private.h"

typedef struct {
  float *resid, *normed;       /* (R, C) */
  float *qc, *kc, *vc;         /* (R, H*D), (R, K*D), (R, K*D) compact */
  float *qf, *kf, *vf, *zf;    /* (B, T, H*D), (B, T, K*D), (B, T, K*D), (B, T, H*D) full */
  float *pattern;              /* (B, H, T, T) */
  float *zc;                   /* (R, H*D) */
  float *attn_out, *mlp_out;   /* (R, C) */
  float *mlp_h, *mlp_up;       /* (R, F) */
  float *last;                 /* (B, C) rows read out */
  float *logits;               /* (B, V) */
} Suffix;

static StrataStatus
reserve_suffix (StrataEngine *e, Suffix *s, int B, int T, int S)
{
  const StrataConfig *g = &e->w.cfg;
  size_t R = (size_t) B * S, C = g->d_model, HD = (size_t) g->n_heads * g->d_head;
  size_t KD = (size_t) g->n_kv_heads * g->d_head, F = g->d_mlp, BT = (size_t) B * T;
  size_t sizes[] = { R * C, R * C, R * HD, R * KD, R * KD, BT * HD, BT * KD, BT * KD, BT * HD,
                     BT * g->n_heads * T, R * HD, R * C, R * C, R * F, R * F,
                     (size_t) B * C, (size_t) B * g->vocab };
  float **slots[] = { &s->resid, &s->normed, &s->qc, &s->kc, &s->vc, &s->qf, &s->kf, &s->vf,
                      &s->zf, &s->pattern, &s->zc, &s->attn_out, &s->mlp_out, &s->mlp_h,
                      &s->mlp_up, &s->last, &s->logits };
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

typedef struct {
  StrataEngine *e;
  const StrataPatch *patches;
  int n_patches;
  int B, T, p0, S;
  const float *zeros; /* (p0, H*D) host zeros: queries of the prefix rows, whose outputs are dropped */
} SfxRun;

/* Overwrite compact rows of (site, layer) with the patches that target them. */
static StrataStatus
apply (SfxRun *run, StrataSite site, int layer, float *act)
{
  StrataEngine *e = run->e;
  const StrataConfig *g = &e->w.cfg;
  size_t row = (size_t) strata_site_row_floats (g, site, run->T);
  for (int i = 0; i < run->n_patches; i++) {
    const StrataPatch *p = &run->patches[i];
    if (p->site != site || p->layer != layer)
      continue;
    size_t off = ((size_t) p->batch * run->S + (size_t) (p->pos - run->p0)) * row, n = row;
    if (p->head >= 0) {
      off += (size_t) p->head * g->d_head;
      n = (size_t) g->d_head;
    }
    TRY (e->be->upload (e->be, act + off, p->src, n * sizeof (float)));
  }
  return STRATA_OK;
}

static StrataStatus
check (StrataEngine *e, const StrataPrefix *base, int layer, int p0, int B,
       const StrataPatch *patches, int n_patches, int out_pos)
{
  const StrataConfig *g = &e->w.cfg;
  int T = base ? base->T : 0;
  if (!base || T <= 0 || T > g->n_ctx || B <= 0)
    return fail (e, STRATA_ERR_ARGUMENT, "suffix forward: no base run or empty batch");
  if (layer < 0 || layer >= g->n_layers || p0 < 0 || p0 >= T || out_pos < p0 || out_pos >= T)
    return fail (e, STRATA_ERR_ARGUMENT,
                 "suffix forward: start (layer %d, position %d) or read position %d outside (%d, %d)",
                 layer, p0, out_pos, g->n_layers, T);
  for (int i = 0; i < n_patches; i++) {
    const StrataPatch *p = &patches[i];
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
    if (p->layer < layer || p->layer >= g->n_layers || p->pos < p0 || p->pos >= T || p->batch < 0 ||
        p->batch >= B)
      return fail (e, STRATA_ERR_ARGUMENT,
                   "%s: patch at copy %d position %d lies in the reused prefix or outside the run",
                   name, p->batch, p->pos);
    if (p->head >= 0 && (p->site != STRATA_SITE_ATTN_Z || p->head >= g->n_heads))
      return fail (e, STRATA_ERR_ARGUMENT, "%s: head %d does not exist", name, p->head);
  }
  return STRATA_OK;
}

/* Scatter compact rows (R, n) to rows p0..T-1 of every copy in full (B, T, n), with the
 * base run's prefix (T, n) (NULL: zeros) in rows 0..p0-1. */
static StrataStatus
scatter (SfxRun *run, float *full, const float *compact, const float *prefix, size_t n)
{
  StrataEngine *e = run->e;
  const StrataBackend *be = e->be;
  size_t bytes = n * sizeof (float);
  for (int b = 0; b < run->B; b++) {
    float *dst = full + (size_t) b * run->T * n;
    if (run->p0 > 0 && prefix)
      TRY (be->upload (be, dst, prefix, (size_t) run->p0 * bytes));
    TRY (be->copy (be, dst + (size_t) run->p0 * n, compact + (size_t) b * run->S * n,
                   (size_t) run->S * bytes));
  }
  return STRATA_OK;
}

static StrataStatus
block (SfxRun *run, Suffix *s, const StrataPrefix *base, int l)
{
  StrataEngine *e = run->e;
  const StrataBackend *be = e->be;
  const StrataConfig *g = &e->w.cfg;
  const StrataLayerWeights *lw = &e->w.layers[l];
  int B = run->B, T = run->T, R = B * run->S, C = g->d_model, F = g->d_mlp;
  int H = g->n_heads, K = g->n_kv_heads, D = g->d_head;
  size_t HD = (size_t) H * D, KD = (size_t) K * D;

  TRY (apply (run, STRATA_SITE_RESID_PRE, l, s->resid));
  TRY (norm (e, s->normed, s->resid, lw->norm1_w, lw->norm1_b, R));
  TRY (be->linear (be, s->qc, s->normed, lw->w_q, lw->b_q, R, H * D, C));
  TRY (be->linear (be, s->kc, s->normed, lw->w_k, lw->b_k, R, K * D, C));
  TRY (be->linear (be, s->vc, s->normed, lw->w_v, lw->b_v, R, K * D, C));
  TRY (scatter (run, s->qf, s->qc, run->zeros, HD));
  TRY (scatter (run, s->kf, s->kc, base->k[l], KD));
  TRY (scatter (run, s->vf, s->vc, base->v[l], KD));
  if (g->rope != STRATA_ROPE_NONE) {
    TRY (be->rope (be, s->qf, B, T, H, D, g->rope, g->rope_theta));
    TRY (be->rope (be, s->kf, B, T, K, D, g->rope, g->rope_theta));
  }
  TRY (be->attention (be, s->zf, s->pattern, s->qf, s->kf, s->vf, B, T, H, K, D));
  for (int b = 0; b < B; b++)
    TRY (be->copy (be, s->zc + (size_t) b * run->S * HD, s->zf + ((size_t) b * T + run->p0) * HD,
                   (size_t) run->S * HD * sizeof (float)));
  TRY (apply (run, STRATA_SITE_ATTN_Z, l, s->zc));
  TRY (be->linear (be, s->attn_out, s->zc, lw->w_o, lw->b_o, R, C, H * D));
  TRY (apply (run, STRATA_SITE_ATTN_OUT, l, s->attn_out));
  TRY (be->add (be, s->resid, s->attn_out, (size_t) R * C));
  TRY (apply (run, STRATA_SITE_RESID_MID, l, s->resid));

  TRY (norm (e, s->normed, s->resid, lw->norm2_w, lw->norm2_b, R));
  if (g->family == STRATA_FAMILY_GPT2) {
    TRY (be->linear (be, s->mlp_h, s->normed, lw->w_up, lw->b_up, R, F, C));
    TRY (be->gelu (be, s->mlp_h, (size_t) R * F));
  } else {
    TRY (be->linear (be, s->mlp_h, s->normed, lw->w_gate, NULL, R, F, C));
    TRY (be->linear (be, s->mlp_up, s->normed, lw->w_up, lw->b_up, R, F, C));
    TRY (be->swiglu (be, s->mlp_h, s->mlp_up, (size_t) R * F));
  }
  TRY (be->linear (be, s->mlp_out, s->mlp_h, lw->w_down, lw->b_down, R, C, F));
  TRY (apply (run, STRATA_SITE_MLP_OUT, l, s->mlp_out));
  TRY (be->add (be, s->resid, s->mlp_out, (size_t) R * C));
  return apply (run, STRATA_SITE_RESID_POST, l, s->resid);
}

static StrataStatus run_suffix (SfxRun *run, Suffix *s, const StrataPrefix *base, int layer,
                                int out_pos, float *out_logits);

StrataStatus
strata_engine_forward_suffix (StrataEngine *e, const StrataPrefix *base, int layer, int pos,
                              int B, const StrataPatch *patches, int n_patches, int out_pos,
                              float *out_logits)
{
  const StrataConfig *g = &e->w.cfg;
  e->error[0] = '\0';
  TRY (check (e, base, layer, pos, B, patches, n_patches, out_pos));
  int T = base->T, S = T - pos;
  Suffix s;
  TRY (reserve_suffix (e, &s, B, T, S));
  float *zeros = calloc ((size_t) (pos > 0 ? pos : 1) * g->n_heads * g->d_head, sizeof (float));
  if (!zeros)
    return fail (e, STRATA_ERR_MEMORY, "cannot allocate the prefix queries");
  SfxRun run = { e, patches, n_patches, B, T, pos, S, zeros };
  StrataStatus st = run_suffix (&run, &s, base, layer, out_pos, out_logits);
  free (zeros);
  return st;
}

static StrataStatus
run_suffix (SfxRun *run, Suffix *s, const StrataPrefix *base, int layer, int out_pos, float *out_logits)
{
  StrataEngine *e = run->e;
  const StrataConfig *g = &e->w.cfg;
  int B = run->B, S = run->S, pos = run->p0, C = g->d_model;

  for (int b = 0; b < B; b++)
    TRY (e->be->upload (e->be, s->resid + (size_t) b * S * C, base->resid_pre[layer] + (size_t) pos * C,
                        (size_t) S * C * sizeof (float)));
  for (int l = layer; l < g->n_layers; l++)
    TRY (block (run, s, base, l));
  /* Only the read-out row of each copy is normed and unembedded. */
  for (int b = 0; b < B; b++)
    TRY (e->be->copy (e->be, s->last + (size_t) b * C, s->resid + ((size_t) b * S + (out_pos - pos)) * C,
                      (size_t) C * sizeof (float)));
  TRY (norm (e, s->last, s->last, e->w.norm_f_w, e->w.norm_f_b, B));
  TRY (e->be->linear (e->be, s->logits, s->last, e->w.unembed, e->w.b_unembed, B, g->vocab, C));
  TRY (e->be->download (e->be, out_logits, s->logits, (size_t) B * g->vocab * sizeof (float)));
  return STRATA_OK;
}
