/* strata-weights.h: the tensors of a transformer, laid out once.
 *
 * Every matrix is stored row-major as [out, in] (PyTorch nn.Linear), whatever the file
 * format: y = x · Wᵀ + b. Loaders convert (GPT-2's Conv1D [in, out] is transposed once at
 * load, fused projections are split). RoPE is NOT folded into the weights: the pairing
 * convention of the file format is recorded in the recipe and applied by the kernel, so
 * W_Q and W_K are exactly the file's.
 *
 * Matrices (embeddings, projections, unembedding) carry their dtype, each its own: F32, or
 * F16/BF16 or a ggml block quantization (strata-recipe.h) as a checkpoint stores them; a
 * backend says which dtypes its products take and the engine converts the others to F32
 * once. Norm weights and biases are always F32.
 *
 * Which tensors exist and their shapes follow from the config alone, through one table
 * (strata-weights.c): it drives carving the arena, rebasing pointers to device memory,
 * conversion, counting parameters and naming tensors. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "strata-recipe.h"

/* A (rows, cols) matrix in `dtype`; data NULL when the recipe has no such matrix. */
typedef struct {
  void *data;
  StrataDType dtype;
} StrataMat;

/* Pointers into StrataWeights.arena. Optional tensors are NULL. */
typedef struct {
  float *norm1_w, *norm1_b;         /* (C), (C); absent without pre-norms */
  StrataMat w_q; float *b_q;        /* (H*D, C), (H*D) */
  StrataMat w_k; float *b_k;        /* (K*D, C), (K*D) */
  StrataMat w_v; float *b_v;        /* (K*D, C), (K*D) */
  float *q_norm_w, *q_norm_b;       /* (D) per head, or (H*D) whole */
  float *k_norm_w, *k_norm_b;       /* (D) per head, or (K*D) whole */
  StrataMat w_o; float *b_o;        /* (C, H*D), (C) */
  float *attn_post_w, *attn_post_b; /* (C), (C) */
  float *norm2_w, *norm2_b;         /* (C), (C); absent without pre-norms */
  StrataMat w_gate; float *b_gate;  /* (F, C), (F): gated MLPs */
  StrataMat w_up; float *b_up;      /* (F, C), (F): GPT-2 c_fc, Llama up_proj */
  StrataMat w_down; float *b_down;  /* (C, F), (C) */
  float *mlp_post_w, *mlp_post_b;   /* (C), (C) */
} StrataLayerWeights;

typedef struct {
  StrataConfig cfg;
  StrataMat tok_embed;              /* (V, C) */
  StrataMat pos_embed;              /* (N, C) learned positions only */
  StrataLayerWeights *layers;       /* L entries */
  float *norm_f_w, *norm_f_b;       /* (C), (C) */
  StrataMat unembed;                /* (V, C); equals tok_embed when tied */
  float *b_unembed;                 /* (V) */
  /* Every tensor above lives in one allocation, so a backend can copy it in one transfer
   * and rebase the pointers. */
  void *arena;
  size_t arena_bytes;
  /* NULL: the arena is host memory. Else the backend whose memory holds it
   * (strata-weights-device.h): only an engine on that backend runs these weights. */
  const struct StrataBackend *device;
  struct _StrataWeightsStaging *staging; /* while a loader fills device weights */
} StrataWeights;

/* Allocate every tensor the config's recipe has in one zeroed arena, matrices in
 * `matrix_dtype`. NULL when strata_config_check refuses the config or memory runs out. */
StrataWeights *strata_weights_new (const StrataConfig *cfg, StrataDType matrix_dtype);
void strata_weights_free (StrataWeights *w);

/* Number of distinct parameters (the tied unembedding counted once). */
size_t strata_weights_param_count (const StrataWeights *w);

/* One tensor of the table, as strata_weights_visit() shows it. */
typedef struct {
  const char *name;  /* "tok_embed", "layers.3.w_q", ... (at most 32 bytes) */
  int layer;         /* -1 outside the blocks */
  size_t rows, cols; /* cols 1 for vectors */
  StrataDType dtype;
  int matrix;        /* a StrataMat (`mat` set) rather than an F32 vector (`vec` set) */
  StrataMat *mat;
  float **vec;
} StrataWeightTensor;

/* Call fn on every tensor the recipe has, in arena order (the tied unembedding is not a
 * tensor of its own). fn returns nonzero to stop; the visit returns that value. */
typedef int (*StrataWeightVisitFunc) (StrataWeightTensor *t, void *user);
int strata_weights_visit (StrataWeights *w, StrataWeightVisitFunc fn, void *user);

/* The dtype of matrix t as an arena is laid out (t->dtype is not set yet); a block dtype must
 * divide the matrix's rows (t->cols) into whole blocks. */
typedef StrataDType (*StrataMatrixDTypeFunc) (const StrataWeightTensor *t, void *user);
/* The function that gives every matrix the dtype `user` points to. */
StrataDType strata_matrix_dtype_all (const StrataWeightTensor *t, void *user);

/* strata_weights_new with each matrix in the dtype `dtype_of` chooses (a GGUF file mixing
 * Q4_K, Q6_K and F16 tensors keeps each as stored). NULL also when a choice is refused. */
StrataWeights *strata_weights_new_typed (const StrataConfig *cfg, StrataMatrixDTypeFunc dtype_of, void *user);

/* Fill `out` with the same tensor table pointing into `new_arena` (a copy of w->arena in
 * another memory space, e.g. the GPU). out->layers must have room for L entries. */
void strata_weights_rebase (const StrataWeights *w, void *new_arena, StrataWeights *out,
                            StrataLayerWeights *out_layers);

/* A copy with every matrix in `matrix_dtype` (F32, F16 or BF16): F32 from F16/BF16/blocks
 * exactly; to F16/BF16 by rounding to nearest even. NULL when memory runs out. */
StrataWeights *strata_weights_convert (const StrataWeights *w, StrataDType matrix_dtype);

/* Bytes the same tensors would take with every matrix in `matrix_dtype`; the same for the
 * weights of a config, before they exist. */
size_t strata_weights_size_as (const StrataWeights *w, StrataDType matrix_dtype);
size_t strata_config_weights_size (const StrataConfig *cfg, StrataDType matrix_dtype);
/* The same with each matrix in the dtype `dtype_of` chooses (0 when refused). */
size_t strata_config_weights_size_typed (const StrataConfig *cfg, StrataMatrixDTypeFunc dtype_of, void *user);

/* Bytes the system has available now (MemAvailable), or 0 when unknown: what decides whether
 * an F32 copy of the weights is affordable. */
size_t strata_memory_available (void);

/* Whether every matrix is in a dtype of `mask` (bit 1 << dtype). */
int strata_weights_matrices_in (const StrataWeights *w, unsigned mask);
/* The dtypes the matrices are held in (bit 1 << dtype for each). */
unsigned strata_weights_matrix_dtypes (const StrataWeights *w);
/* The same as words for a card or a message: "F32", "Q6_K+Q4_0+F16" (block types first),
 * written to buf (size n, truncated to fit). */
void strata_weights_dtypes_string (const StrataWeights *w, char *buf, size_t n);

/* n elements of `src` in `dtype` (any alignment, little-endian host; for a block dtype, n a
 * multiple of its block) -> dst F32. */
void strata_dtype_to_f32 (StrataDType dtype, const void *src, float *dst, size_t n);
/* Value i of `src` in `dtype` (counted from src; whole blocks for a block dtype), as
 * strata_dtype_to_f32 gives it: strata-block-values.h's one-value decoding, which the CUDA
 * backend runs. */
float strata_dtype_value (StrataDType dtype, const void *src, size_t i);
/* n F32 values -> dst in `dtype` (F32, F16 or BF16), rounding to nearest even (F32: a copy). */
void strata_dtype_from_f32 (StrataDType dtype, const float *src, void *dst, size_t n);
/* In place, n values: each rounded to the nearest value the precision's products take
 * (to nearest even; NaN and infinities kept); FP32 leaves them as they are. */
void strata_round_to_precision (StrataPrecision precision, float *x, size_t n);
float strata_f16_to_f32 (uint16_t h);
float strata_bf16_to_f32 (uint16_t b);
