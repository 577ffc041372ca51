/* strata-train-private.h: the trainer's state, shared by strata-train.c (the object, its
 * checks and AdamW) and strata-engine-backward.c (the training forward and backward). */
#pragma once

#include "strata-engine-private.h"
#include "strata-train.h"

struct StrataTrainer {
  StrataEngine *e;
  StrataWeights grads;           /* the weights' table over grad_arena */
  StrataLayerWeights *grad_layers;
  float *grad_arena, *m, *v;     /* backend memory, each laid out as the weights' arena */
  size_t arena_floats;
  float *acts;                   /* the saved activations of a pass, grown on demand */
  size_t acts_cap;               /* floats */
  int step;                      /* optimizer steps taken */
};

/* One training forward over tokens (B, T), saving what the backward reads, then the backward
 * from d objective / d logits: the cross-entropy against `targets` times `weight`, adding the
 * loss summed over the counted positions to *loss_sum; or, when targets is NULL, dlogits
 * (B, V) at position `pos` (host). Parameter gradients are added to t->grads; the sites
 * asked receive their gradients. The caller has checked its inputs. */
StrataStatus _strata_train_pass (StrataTrainer *t, const int32_t *tokens, int B, int T, const int32_t *targets,
                                 float weight, double *loss_sum, const float *dlogits, int pos,
                                 const StrataGradSite *sites, int n_sites);
