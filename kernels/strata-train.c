/* strata-train.c: the trainer object, the checks of its entry points, and the optimizer
 * step (clipping, the schedule, AdamW). The passes are in strata-engine-backward.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strata-train-private.h"

/* What the backward implements: the GPT-2 recipe on F32 weights, on a backend that trains. */
static StrataStatus
check_trainable (StrataEngine *e)
{
  const StrataBackend *be = e->be;
  const StrataRecipe *r = &e->w.cfg.recipe;
  if (!be->linear_grad || !be->norm_grad || !be->activation_grad || !be->attention_grad ||
      !be->cross_entropy_grad || !be->embed_grad || !be->sum_squares || !be->adamw)
    return fail (e, STRATA_ERR_UNSUPPORTED, "training is not supported on the %s backend (use the CPU)", be->name);
  int gpt2 = r->norm.kind == STRATA_NORM_LAYERNORM && r->act == STRATA_ACT_GELU_TANH && !r->gated &&
             !r->parallel && r->pre_norms && !r->post_norms && r->qk_norm == STRATA_QK_NORM_NONE &&
             r->learned_pos && r->rope.pairing == STRATA_ROPE_NONE && r->attn.softcap == 0 &&
             r->attn.window == 0 && r->final_softcap == 0 && r->embed_scale == 1.0f;
  if (!gpt2)
    return fail (e, STRATA_ERR_UNSUPPORTED, "training supports the GPT-2 recipe only (pre-LayerNorm, GELU tanh, "
                 "learned positions); this model is %s", strata_family_label (e->w.cfg.family));
  if (!strata_weights_matrices_in (&e->w, 1u << STRATA_DTYPE_F32))
    return fail (e, STRATA_ERR_UNSUPPORTED, "training needs F32 weights (open the model with its matrices "
                 "converted to F32)");
  return STRATA_OK;
}

StrataTrainer *
strata_trainer_new (StrataEngine *e, StrataStatus *status)
{
  e->error[0] = '\0';
  *status = check_trainable (e);
  if (*status != STRATA_OK)
    return NULL;
  const StrataBackend *be = e->be;
  StrataTrainer *t = calloc (1, sizeof *t);
  if (t) {
    t->e = e;
    t->arena_floats = (e->w.arena_bytes + sizeof (float) - 1) / sizeof (float);
    t->grad_layers = calloc ((size_t) e->w.cfg.n_layers, sizeof *t->grad_layers);
    t->grad_arena = be->alloc (be, t->arena_floats);
  }
  if (!t || !t->grad_layers || !t->grad_arena) {
    strata_trainer_free (t);
    *status = fail (e, STRATA_ERR_MEMORY, "cannot allocate the gradients (%zu floats)", (e->w.arena_bytes + 3) / 4);
    return NULL;
  }
  /* Every tensor of the gradients sits at its weight's offset in an arena of the same size. */
  strata_weights_rebase (&e->w, t->grad_arena, &t->grads, t->grad_layers);
  return t;
}

void
strata_trainer_free (StrataTrainer *t)
{
  if (!t)
    return;
  const StrataBackend *be = t->e->be;
  float *arrays[] = { t->grad_arena, t->m, t->v, t->acts };
  for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++)
    if (arrays[i])
      be->free (be, arrays[i]);
  free (t->grad_layers);
  free (t);
}

const StrataWeights *
strata_trainer_get_grads (const StrataTrainer *t)
{
  return &t->grads;
}

int
strata_trainer_get_step (const StrataTrainer *t)
{
  return t->step;
}

size_t
strata_trainer_state_floats (const StrataTrainer *t)
{
  return t->arena_floats;
}

/* The AdamW moments, zero, allocated when the optimizer is first used: a trainer that only
 * takes gradients (attribution patching) holds none. */
static StrataStatus
need_moments (StrataTrainer *t)
{
  const StrataBackend *be = t->e->be;
  if (!t->m)
    t->m = be->alloc (be, t->arena_floats);
  if (!t->v)
    t->v = be->alloc (be, t->arena_floats);
  if (!t->m || !t->v)
    return fail (t->e, STRATA_ERR_MEMORY, "cannot allocate the optimizer state (2 x %zu floats)", t->arena_floats);
  return STRATA_OK;
}

StrataStatus
strata_trainer_get_state (const StrataTrainer *t, float *m, float *v)
{
  StrataEngine *e = t->e;
  size_t bytes = t->arena_floats * sizeof (float);
  if (!t->m || !t->v) { /* no optimizer step yet: the moments are zero */
    memset (m, 0, bytes);
    memset (v, 0, bytes);
    return STRATA_OK;
  }
  StrataStatus st = e->be->download (e->be, m, t->m, bytes);
  if (st == STRATA_OK)
    st = e->be->download (e->be, v, t->v, bytes);
  return st == STRATA_OK ? STRATA_OK : backend_fail (e, st, "reading the optimizer state");
}

StrataStatus
strata_trainer_set_state (StrataTrainer *t, const float *m, const float *v, int step)
{
  StrataEngine *e = t->e;
  size_t bytes = t->arena_floats * sizeof (float);
  TRY (need_moments (t));
  StrataStatus st = e->be->upload (e->be, t->m, m, bytes);
  if (st == STRATA_OK)
    st = e->be->upload (e->be, t->v, v, bytes);
  if (st != STRATA_OK)
    return backend_fail (e, st, "restoring the optimizer state");
  t->step = step;
  return STRATA_OK;
}

StrataStatus
strata_trainer_zero_grads (StrataTrainer *t)
{
  StrataEngine *e = t->e;
  e->error[0] = '\0';
  float *zeros = calloc (t->arena_floats, sizeof (float));
  if (!zeros)
    return fail (e, STRATA_ERR_MEMORY, "cannot allocate %zu floats of zeros", t->arena_floats);
  StrataStatus st = e->be->upload (e->be, t->grad_arena, zeros, t->arena_floats * sizeof (float));
  free (zeros);
  return st == STRATA_OK ? STRATA_OK : backend_fail (e, st, "zeroing the gradients");
}

/* The sites whose gradient the backward can write: the residual stream, what adds to it, and
 * the heads' outputs before W_O (hook_z, for attribution patching of heads). */
static StrataStatus
check_grad_sites (StrataEngine *e, const StrataGradSite *sites, int n_sites)
{
  char name[96];
  for (int i = 0; i < n_sites; i++) {
    StrataSite s = sites[i].site;
    TRY (_strata_engine_check_site (e, s, sites[i].layer, name, sizeof name));
    if (s != STRATA_SITE_RESID_PRE && s != STRATA_SITE_ATTN_OUT && s != STRATA_SITE_RESID_MID &&
        s != STRATA_SITE_MLP_OUT && s != STRATA_SITE_RESID_POST && s != STRATA_SITE_ATTN_Z)
      return fail (e, STRATA_ERR_UNSUPPORTED, "%s: gradients are available at resid_pre, attn_out, resid_mid, "
                   "mlp_out, resid_post and attn.hook_z only", name);
    if (!sites[i].dst)
      return fail (e, STRATA_ERR_ARGUMENT, "%s: no array for its gradient", name);
  }
  return STRATA_OK;
}

StrataStatus
strata_trainer_loss_grad (StrataTrainer *t, const int32_t *tokens, const int32_t *targets, int B, int T, float scale,
                          const StrataGradSite *sites, int n_sites, double *loss)
{
  StrataEngine *e = t->e;
  e->error[0] = '\0';
  TRY (_strata_engine_check_tokens (e, tokens, B, T));
  TRY (check_grad_sites (e, sites, n_sites));
  long counted = 0;
  for (long i = 0; i < (long) B * T; i++) {
    if (targets[i] >= e->w.cfg.vocab)
      return fail (e, STRATA_ERR_ARGUMENT, "target id %d at index %ld is outside the vocabulary (%d)", targets[i],
                   i, e->w.cfg.vocab);
    counted += targets[i] >= 0;
  }
  if (counted == 0)
    return fail (e, STRATA_ERR_ARGUMENT, "no position of the batch has a target (all are -1)");
  double sum = 0;
  TRY (_strata_train_pass (t, tokens, B, T, targets, scale / (float) counted, &sum, NULL, -1, sites, n_sites));
  if (loss)
    *loss = sum / (double) counted;
  return STRATA_OK;
}

StrataStatus
strata_trainer_metric_grad (StrataTrainer *t, const int32_t *tokens, int B, int T, int pos, const float *dlogits,
                            const StrataGradSite *sites, int n_sites)
{
  StrataEngine *e = t->e;
  e->error[0] = '\0';
  TRY (_strata_engine_check_tokens (e, tokens, B, T));
  TRY (check_grad_sites (e, sites, n_sites));
  if (pos < 0 || pos >= T)
    return fail (e, STRATA_ERR_ARGUMENT, "metric position %d is outside %d tokens", pos, T);
  if (!dlogits)
    return fail (e, STRATA_ERR_ARGUMENT, "no gradient of the metric on the logits");
  return _strata_train_pass (t, tokens, B, T, NULL, 0.0f, NULL, dlogits, pos, sites, n_sites);
}

/* ---- the optimizer ---- */

double
strata_adamw_lr (const StrataAdamW *o, int step)
{
  int w = o->warmup_steps, rest = o->total_steps - w;
  if (step < w)
    return o->lr * (double) step / (double) (w > 1 ? w : 1);
  double progress = (double) (step - w) / (double) (rest > 1 ? rest : 1);
  switch (o->schedule) {
  case STRATA_LR_LINEAR: return o->lr * fmax (0.0, 1.0 - progress);
  case STRATA_LR_COSINE: return o->lr * fmax (0.0, 0.5 * (1.0 + cos (M_PI * progress)));
  default: return o->lr;
  }
}

typedef struct {
  StrataTrainer *t;
  StrataAdamWUpdate u;
  double lr, weight_decay;
  StrataStatus st;
} StepState;

/* One parameter tensor: its gradient and moments sit at the same offset in their arenas.
 * Matrices (embeddings included) decay; biases and norm parameters do not. */
static int
adamw_cb (StrataWeightTensor *wt, void *user)
{
  StepState *s = user;
  StrataTrainer *t = s->t;
  float *p = wt->matrix ? wt->mat->data : *wt->vec;
  size_t off = (size_t) (p - (float *) t->e->w.arena), n = wt->rows * wt->cols;
  StrataAdamWUpdate u = s->u;
  u.keep = (float) (1.0 - s->lr * (wt->matrix ? s->weight_decay : 0.0));
  s->st = t->e->be->adamw (t->e->be, p, t->grad_arena + off, t->m + off, t->v + off, n, &u);
  return s->st != STRATA_OK;
}

StrataStatus
strata_trainer_step (StrataTrainer *t, const StrataAdamW *o, double *grad_norm)
{
  StrataEngine *e = t->e;
  e->error[0] = '\0';
  /* Padding between tensors holds zero gradients: the arena's sum of squares is the norm's. */
  double ss = 0;
  TRY (e->be->sum_squares (e->be, &ss, t->grad_arena, t->arena_floats));
  double norm = sqrt (ss);
  if (grad_norm)
    *grad_norm = norm;
  if (!isfinite (norm))
    return fail (e, STRATA_ERR_ARGUMENT, "the gradient norm is not finite (%g); no step taken", norm);
  TRY (need_moments (t));
  double lr = strata_adamw_lr (o, t->step);
  t->step++;
  double coef = o->max_grad_norm > 0 ? fmin (1.0, o->max_grad_norm / (norm + 1e-6)) : 1.0;
  StrataAdamWUpdate u = {
    .beta1 = (float) o->beta1, .one_minus_beta1 = (float) (1.0 - o->beta1),
    .beta2 = (float) o->beta2, .one_minus_beta2 = (float) (1.0 - o->beta2),
    .eps = (float) o->eps, .grad_scale = (float) coef,
    .step_size = (float) (lr / (1.0 - pow (o->beta1, t->step))),
    .bc2_sqrt = (float) sqrt (1.0 - pow (o->beta2, t->step)),
  };
  StepState s = { t, u, lr, o->weight_decay, STRATA_OK };
  strata_weights_visit (&e->w, adamw_cb, &s);
  return s.st == STRATA_OK ? STRATA_OK : backend_fail (e, s.st, "adamw");
}
