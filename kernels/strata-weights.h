/* strata-weights.h: the one description of a transformer that every backend runs.
 *
 * Shape letters (fixed here, used in every comment of the project):
 *   B batch, T tokens, C model width (d_model), H query heads, K key/value heads,
 *   D head size, F MLP width, V vocabulary, L layers, N positions of the learned table.
 *
 * Every matrix is stored row-major as [out, in] (PyTorch nn.Linear), whatever the file
 * format: y = x · Wᵀ + b. Loaders convert (GPT-2's Conv1D [in, out] is transposed once at
 * load). RoPE is NOT folded into the weights: the pairing convention of the file format is
 * recorded in the config and applied by the kernel, so W_Q and W_K are exactly the file's.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef enum {
  STRATA_FAMILY_GPT2,  /* LayerNorm, learned positions, GELU (tanh), fused-QKV MHA */
  STRATA_FAMILY_LLAMA, /* RMSNorm, RoPE, SwiGLU, GQA (llama, mistral, qwen2, llama2.c, GGUF) */
} StrataFamily;

typedef enum {
  STRATA_ROPE_NONE,     /* learned absolute positions (GPT-2) */
  STRATA_ROPE_ADJACENT, /* rotate pairs (2i, 2i+1) of each head: llama2.c, GGUF, Meta */
  STRATA_ROPE_HALF,     /* rotate pairs (i, i + D/2): Hugging Face rotate_half */
} StrataRope;

typedef struct {
  StrataFamily family;
  int n_layers;   /* L */
  int d_model;    /* C */
  int n_heads;    /* H */
  int n_kv_heads; /* K, divides H */
  int d_head;     /* D */
  int d_mlp;      /* F */
  int vocab;      /* V */
  int n_ctx;      /* N: longest sequence the model accepts */
  float norm_eps;
  StrataRope rope;
  float rope_theta;
} StrataConfig;

/* Pointers into StrataWeights.arena. Optional tensors are NULL. */
typedef struct {
  float *norm1_w, *norm1_b; /* (C), (C) bias only for LayerNorm */
  float *w_q, *b_q;         /* (H*D, C), (H*D) */
  float *w_k, *b_k;         /* (K*D, C), (K*D) */
  float *w_v, *b_v;         /* (K*D, C), (K*D) */
  float *w_o, *b_o;         /* (C, H*D), (C) */
  float *norm2_w, *norm2_b; /* (C), (C) */
  float *w_gate;            /* (F, C) SwiGLU only */
  float *w_up, *b_up;       /* (F, C), (F): GPT-2 c_fc, Llama up_proj */
  float *w_down, *b_down;   /* (C, F), (C) */
} StrataLayerWeights;

typedef struct {
  StrataConfig cfg;
  float *tok_embed;            /* (V, C) */
  float *pos_embed;            /* (N, C) GPT-2 only */
  StrataLayerWeights *layers;  /* L entries */
  float *norm_f_w, *norm_f_b;  /* (C), (C) */
  float *unembed;              /* (V, C); equals tok_embed when tied */
  float *b_unembed;            /* (V) or NULL */
  int tied;                    /* unembed shares tok_embed's storage */
  /* All tensors above live in one allocation, so a backend can copy it in one transfer
   * and rebase the pointers (strata_weights_rebase). */
  float *arena;
  size_t arena_floats;
} StrataWeights;

/* Check the config for values no forward pass can run (zero sizes, H not divisible by K,
 * C != H*D for GPT-2, odd D with RoPE, ...). Returns NULL when fine, else a static
 * message. */
const char *strata_config_check (const StrataConfig *cfg);

/* Lay out every tensor the family needs in one zeroed arena. has_bias flags follow the
 * family (GPT-2: every bias) unless qkv_bias asks for q/k/v biases on a Llama model. */
typedef struct {
  int qkv_bias;      /* Llama family: q/k/v projections have biases (qwen2) */
  int o_bias;        /* Llama family: o_proj has a bias */
  int mlp_bias;      /* Llama family: MLP projections have biases */
  int tied;          /* unembed is tok_embed */
  int unembed_bias;  /* the unembedding has a bias */
} StrataWeightsLayout;

StrataWeights *strata_weights_new (const StrataConfig *cfg, const StrataWeightsLayout *layout);
void strata_weights_free (StrataWeights *w);

/* Number of distinct parameters (tied tensors counted once). */
size_t strata_weights_param_count (const StrataWeights *w);

/* Fill `out` with the same tensor table pointing into `new_arena` (a copy of w->arena in
 * another memory space, e.g. the GPU). out->layers must have room for L entries. */
void strata_weights_rebase (const StrataWeights *w, float *new_arena, StrataWeights *out,
                            StrataLayerWeights *out_layers);
