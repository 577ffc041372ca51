/* strata-train.h: gradients and AdamW for the GPT-2 family, through the backend interface.
 *
 * A trainer holds, for one engine, a gradient arena laid out by the weights' field table
 * (the same tensors and shapes as the weights, F32, in the engine's backend memory), the
 * AdamW moments laid out the same way (allocated at the first optimizer call: a trainer used
 * for gradients only holds none), and the activations a training forward saves for its
 * backward. The training forward is the engine's GPT-2 block written out once more
 * with every intermediate kept (strata-engine-backward.c); it computes the same values as
 * strata_engine_forward().
 *
 * Scope: the GPT-2 recipe (pre-LayerNorm, GELU tanh MLP, learned positions, no soft-caps,
 * windows, RoPE, q/k norms or post-norms; biases and a tied unembedding as the checkpoint
 * has them), F32 weights, a backend with the training operations (the CPU; the others
 * refuse with a message). The engine's error message says why a call failed.
 *
 * Loss: cross-entropy of the logits at (b, t) against targets[b, t], averaged over the
 * positions whose target is >= 0 (torch.nn.functional.cross_entropy with ignore_index, mean
 * reduction). The caller puts -1 on the prompt so the loss covers the generated tokens only.
 *
 * The optimizer step updates the engine's weights in place: on a host-memory backend (the
 * CPU) these are the StrataWeights the engine was made from. */
#pragma once

#include "strata-engine.h"

typedef struct StrataTrainer StrataTrainer;

/* NULL with *status and the engine's error set when the engine cannot train (another
 * recipe, non-F32 matrices, a backend without the training operations). */
StrataTrainer *strata_trainer_new (StrataEngine *e, StrataStatus *status);
void strata_trainer_free (StrataTrainer *t);

/* The accumulated gradients: the weights' table in backend memory (host memory on the CPU).
 * A tied unembedding's gradient is the token embedding's (one tensor). */
const StrataWeights *strata_trainer_get_grads (const StrataTrainer *t);
/* Gradients back to 0. */
StrataStatus strata_trainer_zero_grads (StrataTrainer *t);

/* Gradients with respect to an activation, written to a host array in the site's layout
 * (strata-sites.h, (B, T, C)): d objective / d activation, the activation taken as an
 * independent variable, as TransformerLens hooks see it. Sites: blocks.l.hook_resid_pre,
 * hook_attn_out, hook_resid_mid, hook_mlp_out, hook_resid_post and attn.hook_z. */
typedef StrataCache StrataGradSite;

/* A training forward over tokens (B, T) and its backward: *loss (may be NULL) receives the
 * mean cross-entropy over the positions with targets >= 0 (at least one), and the gradients
 * of `scale` × that mean are ADDED to the accumulated ones (scale 1 for one batch; for a
 * batch split into micro-batches, each one's share of the batch's counted positions). A
 * call that fails once the backward has begun (cancelled by the engine's abort check, a
 * backend failure) leaves the accumulated gradients incomplete: zero them before using them. */
StrataStatus strata_trainer_loss_grad (StrataTrainer *t, const int32_t *tokens, const int32_t *targets, int B,
                                       int T, float scale, const StrataGradSite *sites, int n_sites,
                                       double *loss);

/* The same backward for any metric of the logits at one position: dlogits (B, V) (host) is
 * d metric / d logits[b, pos, :] for each sequence b (for a logit difference between ids a
 * and c, +1 at a and -1 at c). The gradients of the metric are added to the accumulated
 * ones and written at the sites asked: attribution patching's (clean - corrupted) × gradient. */
StrataStatus strata_trainer_metric_grad (StrataTrainer *t, const int32_t *tokens, int B, int T, int pos,
                                         const float *dlogits, const StrataGradSite *sites, int n_sites);

/* Learning-rate schedules of Hugging Face's get_*_schedule_with_warmup: over the first
 * warmup_steps the factor rises linearly from 0 (step 0 uses lr · 0), then stays 1
 * (CONSTANT), falls linearly to 0 at total_steps (LINEAR), or follows a half cosine to 0 at
 * total_steps (COSINE). */
typedef enum { STRATA_LR_CONSTANT, STRATA_LR_LINEAR, STRATA_LR_COSINE } StrataLrSchedule;

/* torch.optim.AdamW with decoupled weight decay on the matrices (the token and position
 * embeddings included) and none on biases and LayerNorm gains and biases (the Hugging Face
 * Trainer's default groups), after torch.nn.utils.clip_grad_norm_ of the global L2 norm. */
typedef struct {
  double lr, beta1, beta2, eps, weight_decay;
  double max_grad_norm;     /* <= 0: no clipping */
  int warmup_steps, total_steps;
  StrataLrSchedule schedule;
} StrataAdamW;

/* The learning rate of optimizer step `step` (0-based). */
double strata_adamw_lr (const StrataAdamW *o, int step);

/* Clip the accumulated gradients, then one AdamW step of every parameter; *grad_norm (may be
 * NULL) receives the norm before clipping. The gradients are left as they are. */
StrataStatus strata_trainer_step (StrataTrainer *t, const StrataAdamW *o, double *grad_norm);
/* Optimizer steps taken. */
int strata_trainer_get_step (const StrataTrainer *t);

/* The optimizer's state, for resuming a run exactly: the AdamW moments m and v, each laid
 * out as the weights' arena (strata_trainer_state_floats() floats, host memory), and the
 * number of steps taken. Set it on a new trainer of the same model. */
size_t strata_trainer_state_floats (const StrataTrainer *t);
StrataStatus strata_trainer_get_state (const StrataTrainer *t, float *m, float *v);
StrataStatus strata_trainer_set_state (StrataTrainer *t, const float *m, const float *v, int step);
