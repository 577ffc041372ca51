/* strata-engine-backward.c: the GPT-2 training forward, which keeps every activation its
 * backward reads, and that backward, through the backend's training operations.
 *
 * The forward is the engine's block (strata-engine-pass.c) for the GPT-2 recipe over a full
 * batch, with each layer's intermediates in their own buffers instead of reused scratch:
 * per layer the residual entering it (resid_pre), its norm, q, k, v, the pattern, z, the
 * residual after attention (resid_mid), its norm, the MLP's pre-activation and activation.
 * The residual entering layer l + 1 is the buffer after layer l's, so the stream is never
 * copied but once per half-block.
 *
 * The backward carries d/d residual (dres) from the logits down to the embeddings; at each
 * hook site it is the gradient of that activation (attn_out and resid_mid share one value,
 * as do mlp_out and resid_post: a residual add passes its gradient to both inputs). */
#include <stdlib.h>
#include <string.h>

#include "strata-train-private.h"

typedef struct {
  float *x_in, *ln1, *q, *k, *v, *pattern, *z, *x_mid, *ln2, *u, *h; /* per layer */
} LayerActs;

typedef struct {
  LayerActs *layers;
  float *x_final, *lnf, *logits;     /* x_final: the residual after the last block */
  float *dres, *dtmp, *dq, *dk, *dv, *dz, *dh;
} Acts;

static StrataStatus
reserve (StrataTrainer *t, Acts *a, int B, int T)
{
  StrataEngine *e = t->e;
  const StrataConfig *g = &e->w.cfg;
  size_t R = (size_t) B * T, C = g->d_model, HD = (size_t) g->n_heads * g->d_head;
  size_t KD = (size_t) g->n_kv_heads * g->d_head, F = g->d_mlp, V = g->vocab, L = g->n_layers;
  size_t per_layer[] = { R * C, R * C, R * HD, R * KD, R * KD, (size_t) B * g->n_heads * T * T, R * HD,
                         R * C, R * C, R * F, R * F };
  size_t tail[] = { R * C, R * C, R * V, R * C, R * C, R * HD, R * KD, R * KD, R * HD, R * F };
  size_t n_layer = sizeof per_layer / sizeof *per_layer, n_tail = sizeof tail / sizeof *tail;
  size_t total = 0;
  for (size_t i = 0; i < n_layer; i++)
    total += L * ((per_layer[i] + 15) / 16 * 16);
  for (size_t i = 0; i < n_tail; i++)
    total += (tail[i] + 15) / 16 * 16;
  if (total > t->acts_cap) {
    if (t->acts)
      e->be->free (e->be, t->acts);
    t->acts = e->be->alloc (e->be, total);
    t->acts_cap = t->acts ? total : 0;
    if (!t->acts)
      return fail (e, STRATA_ERR_MEMORY, "cannot allocate %zu floats of training activations", total);
  }
  float *at = t->acts;
  for (size_t l = 0; l < L; l++) {
    float **slots[] = { &a->layers[l].x_in, &a->layers[l].ln1, &a->layers[l].q, &a->layers[l].k,
                        &a->layers[l].v, &a->layers[l].pattern, &a->layers[l].z, &a->layers[l].x_mid,
                        &a->layers[l].ln2, &a->layers[l].u, &a->layers[l].h };
    for (size_t i = 0; i < n_layer; i++) {
      *slots[i] = at;
      at += (per_layer[i] + 15) / 16 * 16;
    }
  }
  float **slots[] = { &a->x_final, &a->lnf, &a->logits, &a->dres, &a->dtmp,
                      &a->dq, &a->dk, &a->dv, &a->dz, &a->dh };
  for (size_t i = 0; i < n_tail; i++) {
    *slots[i] = at;
    at += (tail[i] + 15) / 16 * 16;
  }
  return STRATA_OK;
}

/* ---- forward ---- */

static StrataStatus
forward (StrataTrainer *t, const Acts *a, const int32_t *tokens, const int32_t *positions, int B, int T)
{
  StrataEngine *e = t->e;
  const StrataBackend *be = e->be;
  const StrataConfig *g = &e->w.cfg;
  int R = B * T, C = g->d_model, HD = g->n_heads * g->d_head, KD = g->n_kv_heads * g->d_head;
  int F = g->d_mlp;
  size_t RC = (size_t) R * C;
  float *x = a->layers[0].x_in;
  TRY (be->embed (be, x, &e->w.tok_embed, tokens, R, C));
  TRY (be->embed (be, a->dtmp, &e->w.pos_embed, positions, R, C));
  TRY (be->add (be, x, a->dtmp, RC));
  for (int l = 0; l < g->n_layers; l++) {
    CHECK_ABORT (e);
    const StrataLayerWeights *lw = &e->w.layers[l];
    const LayerActs *s = &a->layers[l];
    StrataAttnParams attn = strata_config_layer_attention (g, l);
    float *next = l + 1 < g->n_layers ? a->layers[l + 1].x_in : a->x_final;
    TRY (norm_rows (e, s->ln1, s->x_in, lw->norm1_w, lw->norm1_b, R, C));
    TRY (be->linear (be, s->q, s->ln1, &lw->w_q, lw->b_q, R, HD, C, STRATA_PRECISION_FP32));
    TRY (be->linear (be, s->k, s->ln1, &lw->w_k, lw->b_k, R, KD, C, STRATA_PRECISION_FP32));
    TRY (be->linear (be, s->v, s->ln1, &lw->w_v, lw->b_v, R, KD, C, STRATA_PRECISION_FP32));
    TRY (be->attention (be, s->z, s->pattern, s->q, s->k, s->v, B, T, T, g->n_heads, g->n_kv_heads, g->d_head,
                        &attn));
    TRY (be->linear (be, a->dtmp, s->z, &lw->w_o, lw->b_o, R, C, HD, STRATA_PRECISION_FP32));
    TRY (be->copy (be, s->x_mid, s->x_in, RC * sizeof (float)));
    TRY (be->add (be, s->x_mid, a->dtmp, RC));
    TRY (norm_rows (e, s->ln2, s->x_mid, lw->norm2_w, lw->norm2_b, R, C));
    TRY (be->linear (be, s->u, s->ln2, &lw->w_up, lw->b_up, R, F, C, STRATA_PRECISION_FP32));
    TRY (be->copy (be, s->h, s->u, (size_t) R * F * sizeof (float)));
    TRY (be->activation (be, s->h, NULL, (size_t) R * F, g->recipe.act));
    TRY (be->linear (be, a->dtmp, s->h, &lw->w_down, lw->b_down, R, C, F, STRATA_PRECISION_FP32));
    TRY (be->copy (be, next, s->x_mid, RC * sizeof (float)));
    TRY (be->add (be, next, a->dtmp, RC));
  }
  TRY (norm_rows (e, a->lnf, a->x_final, e->w.norm_f_w, e->w.norm_f_b, R, C));
  TRY (be->linear (be, a->logits, a->lnf, &e->w.unembed, e->w.b_unembed, R, g->vocab, C, STRATA_PRECISION_FP32));
  return STRATA_OK;
}

/* ---- backward ---- */

/* Write `grad` (R rows of `width` floats) to every grad site asking for (site, layer). */
static StrataStatus
grad_hook (StrataTrainer *t, const float *grad, size_t width, StrataSite site, int layer, int R,
           const StrataGradSite *sites, int n_sites)
{
  StrataEngine *e = t->e;
  for (int i = 0; i < n_sites; i++)
    if (sites[i].site == site && sites[i].layer == layer)
      TRY (e->be->download (e->be, sites[i].dst, grad, (size_t) R * width * sizeof (float)));
  return STRATA_OK;
}

#define MAT(m) ((const float *) (m).data)
#define GRAD(m) ((float *) (m).data)

static StrataStatus
backward (StrataTrainer *t, const Acts *a, const int32_t *tokens, const int32_t *positions, int B, int T,
          const StrataGradSite *sites, int n_sites)
{
  StrataEngine *e = t->e;
  const StrataBackend *be = e->be;
  const StrataConfig *g = &e->w.cfg;
  const StrataNormParams *np = &g->recipe.norm;
  const StrataWeights *gw = &t->grads;
  int R = B * T, C = g->d_model, H = g->n_heads, K = g->n_kv_heads, D = g->d_head;
  int HD = H * D, KD = K * D, F = g->d_mlp, L = g->n_layers;
  /* a->logits holds d objective / d logits. */
  TRY (be->linear_grad (be, a->dtmp, GRAD (gw->unembed), gw->b_unembed, a->logits, a->lnf, MAT (e->w.unembed), R,
                        g->vocab, C, 0));
  TRY (be->norm_grad (be, a->dres, gw->norm_f_w, gw->norm_f_b, a->dtmp, a->x_final, e->w.norm_f_w, R, C, np, 0));
  for (int l = L - 1; l >= 0; l--) {
    CHECK_ABORT (e);
    const StrataLayerWeights *lw = &e->w.layers[l], *lg = &gw->layers[l];
    const LayerActs *s = &a->layers[l];
    StrataAttnParams attn = strata_config_layer_attention (g, l);
    TRY (grad_hook (t, a->dres, C, STRATA_SITE_RESID_POST, l, R, sites, n_sites));
    TRY (grad_hook (t, a->dres, C, STRATA_SITE_MLP_OUT, l, R, sites, n_sites));
    TRY (be->linear_grad (be, a->dh, GRAD (lg->w_down), lg->b_down, a->dres, s->h, MAT (lw->w_down), R, C, F, 0));
    TRY (be->activation_grad (be, a->dh, s->u, (size_t) R * F, g->recipe.act));
    TRY (be->linear_grad (be, a->dtmp, GRAD (lg->w_up), lg->b_up, a->dh, s->ln2, MAT (lw->w_up), R, F, C, 0));
    TRY (be->norm_grad (be, a->dres, lg->norm2_w, lg->norm2_b, a->dtmp, s->x_mid, lw->norm2_w, R, C, np, 1));
    TRY (grad_hook (t, a->dres, C, STRATA_SITE_RESID_MID, l, R, sites, n_sites));
    TRY (grad_hook (t, a->dres, C, STRATA_SITE_ATTN_OUT, l, R, sites, n_sites));
    TRY (be->linear_grad (be, a->dz, GRAD (lg->w_o), lg->b_o, a->dres, s->z, MAT (lw->w_o), R, C, HD, 0));
    TRY (grad_hook (t, a->dz, HD, STRATA_SITE_ATTN_Z, l, R, sites, n_sites));
    TRY (be->attention_grad (be, a->dq, a->dk, a->dv, a->dz, s->pattern, s->q, s->k, s->v, B, T, H, K, D, &attn));
    TRY (be->linear_grad (be, a->dtmp, GRAD (lg->w_q), lg->b_q, a->dq, s->ln1, MAT (lw->w_q), R, HD, C, 0));
    TRY (be->linear_grad (be, a->dtmp, GRAD (lg->w_k), lg->b_k, a->dk, s->ln1, MAT (lw->w_k), R, KD, C, 1));
    TRY (be->linear_grad (be, a->dtmp, GRAD (lg->w_v), lg->b_v, a->dv, s->ln1, MAT (lw->w_v), R, KD, C, 1));
    TRY (be->norm_grad (be, a->dres, lg->norm1_w, lg->norm1_b, a->dtmp, s->x_in, lw->norm1_w, R, C, np, 1));
    TRY (grad_hook (t, a->dres, C, STRATA_SITE_RESID_PRE, l, R, sites, n_sites));
  }
  TRY (be->embed_grad (be, GRAD (gw->tok_embed), a->dres, tokens, R, C));
  TRY (be->embed_grad (be, GRAD (gw->pos_embed), a->dres, positions, R, C));
  return STRATA_OK;
}

/* d metric / d logits: dlogits (B, V) at position pos of each sequence, 0 elsewhere. */
static StrataStatus
upload_dlogits (StrataTrainer *t, float *dst, const float *dlogits, int B, int T, int pos)
{
  StrataEngine *e = t->e;
  size_t V = e->w.cfg.vocab;
  float *host = calloc ((size_t) B * T * V, sizeof (float));
  if (!host)
    return fail (e, STRATA_ERR_MEMORY, "cannot allocate %d rows of logit gradients", B * T);
  for (int b = 0; b < B; b++)
    memcpy (host + ((size_t) b * T + pos) * V, dlogits + (size_t) b * V, V * sizeof (float));
  StrataStatus st = e->be->upload (e->be, dst, host, (size_t) B * T * V * sizeof (float));
  free (host);
  return st == STRATA_OK ? STRATA_OK : backend_fail (e, st, "logit gradients upload");
}

StrataStatus
_strata_train_pass (StrataTrainer *t, const int32_t *tokens, int B, int T, const int32_t *targets, float weight,
                    double *loss_sum, const float *dlogits, int pos, const StrataGradSite *sites, int n_sites)
{
  StrataEngine *e = t->e;
  const StrataConfig *g = &e->w.cfg;
  int R = B * T;
  Acts a = { calloc ((size_t) g->n_layers, sizeof (LayerActs)) };
  int32_t *positions = malloc ((size_t) R * sizeof *positions);
  StrataStatus st = a.layers && positions ? STRATA_OK
                                          : fail (e, STRATA_ERR_MEMORY, "cannot allocate the training pass");
  for (int i = 0; st == STRATA_OK && i < R; i++)
    positions[i] = i % T;
  if (st == STRATA_OK)
    st = reserve (t, &a, B, T);
  if (st == STRATA_OK)
    st = forward (t, &a, tokens, positions, B, T);
  if (st == STRATA_OK && targets) {
    st = e->be->cross_entropy_grad (e->be, a.logits, loss_sum, targets, R, g->vocab, weight);
    if (st != STRATA_OK)
      st = backend_fail (e, st, "cross_entropy_grad");
  } else if (st == STRATA_OK) {
    st = upload_dlogits (t, a.logits, dlogits, B, T, pos);
  }
  if (st == STRATA_OK)
    st = backward (t, &a, tokens, positions, B, T, sites, n_sites);
  free (positions);
  free (a.layers);
  return st;
}
