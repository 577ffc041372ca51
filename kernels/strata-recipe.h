/* strata-recipe.h: a transformer family as data.
 *
 * Shape letters (fixed here, used in every comment of the project):
 *   B batch, T tokens, C model width (d_model), H query heads, K key/value heads,
 *   D head size, F MLP width, V vocabulary, L layers, N positions of the learned table,
 *   R rows (sequences x positions) of a batched product.
 *
 * The engine has one block; what differs between GPT-2, Llama, GPT-NeoX, Gemma 2 ... is a
 * recipe: which norm, which MLP, parallel or sequential attention and MLP, optional post-norms
 * and q/k norms, how positions enter, attention scale, soft-caps and windows, and which
 * tensors exist. A loader fills the sizes, starts from its family's preset
 * (strata_config_set_family) and adjusts the fields its config file states. The engine never
 * asks which family it runs; `family` is the name the recipe came from (cards, sessions).
 *
 * Op parameters travel as the small structs below, so a new option is a field, not a new
 * function signature. */
#pragma once

#include <stddef.h>

#include "strata-enum-table.h"

/* The dtypes a matrix can be held in: plain floats, and ggml's block-quantized types (a row
 * of n values is n / block blocks of fixed size, each decoding to `block` F32 values;
 * strata-dtypes.c), kept as a GGUF file stores them. */
typedef enum {
  STRATA_DTYPE_F32,
  STRATA_DTYPE_F16,
  STRATA_DTYPE_BF16,
  STRATA_DTYPE_Q4_0,
  STRATA_DTYPE_Q4_1,
  STRATA_DTYPE_Q5_0,
  STRATA_DTYPE_Q5_1,
  STRATA_DTYPE_Q8_0,
  STRATA_DTYPE_Q4_K,
  STRATA_DTYPE_Q5_K,
  STRATA_DTYPE_Q6_K,
  STRATA_DTYPE_Q2_K,
  STRATA_DTYPE_Q3_K,
  STRATA_DTYPE_IQ4_NL,
  STRATA_DTYPE_IQ4_XS,
  STRATA_DTYPE_N
} StrataDType;

/* The plain float dtypes are those below this one. */
#define STRATA_DTYPE_FIRST_BLOCK STRATA_DTYPE_Q4_0

/* How a matrix product takes its inputs (`--precision`): exactly as fp32 (the default), or
 * rounded to TF32 (10 mantissa bits, as tensor cores take fp32) or to BF16 (8 bits) before
 * the multiplications; every product and sum is fp32 either way, and so are the activations
 * between products (the residual stream, the lens). */
typedef enum {
  STRATA_PRECISION_FP32,
  STRATA_PRECISION_TF32,
  STRATA_PRECISION_BF16,
  STRATA_PRECISION_N
} StrataPrecision;

typedef enum {
  STRATA_FAMILY_GPT2,  /* LayerNorm, learned positions, GELU (tanh), fused-QKV MHA */
  STRATA_FAMILY_LLAMA, /* RMSNorm, RoPE, SwiGLU, GQA (llama, mistral, qwen2, llama2.c, GGUF) */
  STRATA_FAMILY_NEOX,  /* LayerNorm, parallel attention and MLP, partial RoPE, GELU (erf): Pythia */
  STRATA_FAMILY_GEMMA2, /* RMSNorm 1 + w, pre and post norms, GeGLU, soft-caps, windows on even layers */
  STRATA_FAMILY_QWEN3, /* Llama with per-head RMS q/k norms before RoPE */
  STRATA_FAMILY_OLMO2, /* Llama with post-norms only (no pre-norms) and whole-vector q/k norms */
  STRATA_FAMILY_PHI3,  /* Llama's block; fused qkv_proj and gate_up_proj in the file */
  STRATA_FAMILY_N
} StrataFamily;

typedef enum {
  STRATA_NORM_LAYERNORM,           /* (x - mean) / sqrt(var + eps) · w + b */
  STRATA_NORM_RMSNORM,             /* x / sqrt(mean(x²) + eps) · w */
  STRATA_NORM_RMSNORM_UNIT_OFFSET, /* x / sqrt(mean(x²) + eps) · (1 + w): Gemma */
  STRATA_NORM_N
} StrataNormKind;

typedef struct {
  StrataNormKind kind;
  float eps;
} StrataNormParams;

typedef enum {
  STRATA_ACT_GELU_TANH, /* 0.5 u (1 + tanh(sqrt(2/π) (u + 0.044715 u³))): gelu_new */
  STRATA_ACT_GELU_ERF,  /* 0.5 u (1 + erf(u / √2)): torch's exact gelu */
  STRATA_ACT_SILU,      /* u · sigmoid(u) */
  STRATA_ACT_N
} StrataActivation;

typedef enum {
  STRATA_ROPE_NONE,     /* no rotation (learned absolute positions, or none) */
  STRATA_ROPE_ADJACENT, /* rotate pairs (2i, 2i+1) of each head: llama2.c, GGUF, Meta, GPT-J */
  STRATA_ROPE_HALF,     /* rotate pairs (i, i + dims/2): Hugging Face rotate_half */
  STRATA_ROPE_N
} StrataRope;

/* Rotary embedding of the first `dims` values of each head (the rest pass through):
 * pair i turns by position · theta^(-2i/dims). */
typedef struct {
  StrataRope pairing;
  int dims;
  float theta;
} StrataRopeParams;

/* scores = scale · q·k, then softcap · tanh(scores / softcap) when softcap > 0; key j is
 * visible from query i when j <= i and, with window > 0, i - j < window. */
typedef struct {
  float scale;
  float softcap;
  int window;
} StrataAttnParams;

typedef enum {
  STRATA_QK_NORM_NONE,
  STRATA_QK_NORM_HEAD,  /* each head's D values, weight (D): Qwen3, Gemma 3 */
  STRATA_QK_NORM_WHOLE, /* all H*D (K*D) values, weight (H*D) (K*D): OLMo-2 */
  STRATA_QK_NORM_N
} StrataQkNorm;

typedef struct {
  StrataNormParams norm;   /* every norm of the model: blocks, final, post and q/k norms */
  StrataActivation act;
  int gated;               /* MLP act(x·W_gateᵀ) ⊙ x·W_upᵀ (SwiGLU, GeGLU); else act(x·W_upᵀ) */
  int parallel;            /* attention and MLP both read the block's input (GPT-NeoX) */
  int pre_norms;           /* norms on the attention and MLP inputs; 0: they read the residual
                            * as it is (OLMo-2), and norm1/norm2 do not exist */
  int post_norms;          /* norms on the attention and MLP outputs (Gemma 2, OLMo-2) */
  StrataQkNorm qk_norm;    /* on queries and keys, before RoPE */
  int learned_pos;         /* a learned (N, C) position table added to the embedding */
  StrataRopeParams rope;
  StrataAttnParams attn;   /* its window applies to the layers l with l % window_period == 0 */
  int window_period;
  float final_softcap;     /* logits = cap · tanh(logits / cap); 0: none */
  float embed_scale;       /* the token embedding times this (Gemma: √C); 1: none */
  /* Which optional tensors exist. LayerNorm-kind norms always have a bias. */
  int qkv_bias, o_bias, mlp_bias, unembed_bias;
  int tied;                /* the unembedding is the token embedding */
} StrataRecipe;

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
  StrataRecipe recipe;
} StrataConfig;

/* Fill cfg->family and cfg->recipe with the family's preset; the sizes must be set (the
 * preset's rotary dims are D and its attention scale 1/√D). Loaders then adjust. */
void strata_config_set_family (StrataConfig *cfg, StrataFamily family);

/* NULL when a forward pass can run the config, else a static message (zero sizes, H not
 * divisible by K, rotary dims odd or larger than D, ...). */
const char *strata_config_check (const StrataConfig *cfg);

/* The attention parameters of layer l (the window only where the recipe puts it). */
StrataAttnParams strata_config_layer_attention (const StrataConfig *cfg, int layer);

/* Values per block: 1 for F32, F16 and BF16. */
int strata_dtype_block (StrataDType dtype);
/* Bytes of n consecutive values of a row (n a multiple of the block). */
size_t strata_dtype_bytes (StrataDType dtype, size_t n);

/* The name tables of the recipe's enums (strata-enum-table.h): stored names as sessions and
 * `strata info --json` write them, labels as cards show them. */
extern const StrataEnumTable strata_family_table;     /* gpt2 "GPT-2", llama, neox, gemma2, qwen3, olmo2, phi3 */
extern const StrataEnumTable strata_dtype_table;      /* F32, F16, BF16, Q4_0, ..., IQ4_XS */
extern const StrataEnumTable strata_rope_table;       /* none, adjacent, half */
extern const StrataEnumTable strata_norm_table;       /* layernorm, rmsnorm, rmsnorm_unit_offset */
extern const StrataEnumTable strata_activation_table; /* gelu_tanh, gelu_erf, silu */
extern const StrataEnumTable strata_qk_norm_table;    /* none, head, whole */
extern const StrataEnumTable strata_precision_table;  /* fp32, tf32, bf16 */

/* Lookups for code below probes/ (which has strata-enum.h): the name, the label, or the
 * value of a name (-1 when unknown); "?" out of range. */
const char *strata_family_to_string (StrataFamily family);
const char *strata_family_label (StrataFamily family);
int strata_family_from_string (const char *name);
const char *strata_dtype_to_string (StrataDType dtype);
const char *strata_precision_to_string (StrataPrecision precision);
int strata_precision_from_string (const char *name);
const char *strata_rope_to_string (StrataRope rope);
int strata_rope_from_string (const char *name);
