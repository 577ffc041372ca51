/* strata-weights.c: the one table of a model's tensors, and what is built on it (the arena,
 * rebasing, conversion, parameter counts). */
#include "strata-weights.h"
#include "strata-block-values.h"
#include "strata-weights-device.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Sizes a table row can name; resolved against the config by dim_size(). */
typedef enum { DIM_ONE, DIM_C, DIM_Q, DIM_KV, DIM_F, DIM_V, DIM_N, DIM_QNORM, DIM_KNORM } Dim;

/* When a tensor exists, as a function of the recipe (when_present()). */
typedef enum {
  WHEN_ALWAYS,
  WHEN_NORM_BIAS,     /* LayerNorm-kind norms */
  WHEN_PRE_NORMS,     /* norm1 and norm2: every recipe but OLMo-2's */
  WHEN_PRE_NORM_BIAS,
  WHEN_LEARNED_POS,
  WHEN_QKV_BIAS,
  WHEN_QK_NORM,
  WHEN_QK_NORM_BIAS,
  WHEN_O_BIAS,
  WHEN_POST_NORMS,
  WHEN_POST_NORM_BIAS,
  WHEN_GATED,
  WHEN_GATED_BIAS,
  WHEN_MLP_BIAS,
  WHEN_UNTIED,
  WHEN_UNEMBED_BIAS,
} When;

typedef struct {
  const char *name;
  int per_layer;
  int matrix;    /* StrataMat, in the matrix dtype; else float * */
  size_t offset; /* in StrataLayerWeights (per layer) or StrataWeights */
  Dim rows, cols;
  When when;
} Field;

#define GLOBAL_MAT(f, r, c, w) { #f, 0, 1, offsetof (StrataWeights, f), r, c, w }
#define GLOBAL_VEC(f, r, w) { #f, 0, 0, offsetof (StrataWeights, f), r, DIM_ONE, w }
#define LAYER_MAT(f, r, c, w) { #f, 1, 1, offsetof (StrataLayerWeights, f), r, c, w }
#define LAYER_VEC(f, r, w) { #f, 1, 0, offsetof (StrataLayerWeights, f), r, DIM_ONE, w }

/* In arena order: the embeddings, every layer's tensors in the order the block reads them,
 * the final norm and the unembedding. */
static const Field global_head[] = {
  GLOBAL_MAT (tok_embed, DIM_V, DIM_C, WHEN_ALWAYS),
  GLOBAL_MAT (pos_embed, DIM_N, DIM_C, WHEN_LEARNED_POS),
};
static const Field layer_fields[] = {
  LAYER_VEC (norm1_w, DIM_C, WHEN_PRE_NORMS),
  LAYER_VEC (norm1_b, DIM_C, WHEN_PRE_NORM_BIAS),
  LAYER_MAT (w_q, DIM_Q, DIM_C, WHEN_ALWAYS),
  LAYER_VEC (b_q, DIM_Q, WHEN_QKV_BIAS),
  LAYER_MAT (w_k, DIM_KV, DIM_C, WHEN_ALWAYS),
  LAYER_VEC (b_k, DIM_KV, WHEN_QKV_BIAS),
  LAYER_MAT (w_v, DIM_KV, DIM_C, WHEN_ALWAYS),
  LAYER_VEC (b_v, DIM_KV, WHEN_QKV_BIAS),
  LAYER_VEC (q_norm_w, DIM_QNORM, WHEN_QK_NORM),
  LAYER_VEC (q_norm_b, DIM_QNORM, WHEN_QK_NORM_BIAS),
  LAYER_VEC (k_norm_w, DIM_KNORM, WHEN_QK_NORM),
  LAYER_VEC (k_norm_b, DIM_KNORM, WHEN_QK_NORM_BIAS),
  LAYER_MAT (w_o, DIM_C, DIM_Q, WHEN_ALWAYS),
  LAYER_VEC (b_o, DIM_C, WHEN_O_BIAS),
  LAYER_VEC (attn_post_w, DIM_C, WHEN_POST_NORMS),
  LAYER_VEC (attn_post_b, DIM_C, WHEN_POST_NORM_BIAS),
  LAYER_VEC (norm2_w, DIM_C, WHEN_PRE_NORMS),
  LAYER_VEC (norm2_b, DIM_C, WHEN_PRE_NORM_BIAS),
  LAYER_MAT (w_gate, DIM_F, DIM_C, WHEN_GATED),
  LAYER_VEC (b_gate, DIM_F, WHEN_GATED_BIAS),
  LAYER_MAT (w_up, DIM_F, DIM_C, WHEN_ALWAYS),
  LAYER_VEC (b_up, DIM_F, WHEN_MLP_BIAS),
  LAYER_MAT (w_down, DIM_C, DIM_F, WHEN_ALWAYS),
  LAYER_VEC (b_down, DIM_C, WHEN_MLP_BIAS),
  LAYER_VEC (mlp_post_w, DIM_C, WHEN_POST_NORMS),
  LAYER_VEC (mlp_post_b, DIM_C, WHEN_POST_NORM_BIAS),
};
static const Field global_tail[] = {
  GLOBAL_VEC (norm_f_w, DIM_C, WHEN_ALWAYS),
  GLOBAL_VEC (norm_f_b, DIM_C, WHEN_NORM_BIAS),
  GLOBAL_MAT (unembed, DIM_V, DIM_C, WHEN_UNTIED),
  GLOBAL_VEC (b_unembed, DIM_V, WHEN_UNEMBED_BIAS),
};

static size_t
dim_size (const StrataConfig *g, Dim d)
{
  size_t HD = (size_t) g->n_heads * g->d_head, KD = (size_t) g->n_kv_heads * g->d_head;
  int whole = g->recipe.qk_norm == STRATA_QK_NORM_WHOLE;
  switch (d) {
  case DIM_ONE: return 1;
  case DIM_C: return (size_t) g->d_model;
  case DIM_Q: return HD;
  case DIM_KV: return KD;
  case DIM_F: return (size_t) g->d_mlp;
  case DIM_V: return (size_t) g->vocab;
  case DIM_N: return (size_t) g->n_ctx;
  case DIM_QNORM: return whole ? HD : (size_t) g->d_head;
  case DIM_KNORM: return whole ? KD : (size_t) g->d_head;
  }
  return 0;
}

static int
when_present (const StrataRecipe *r, When w)
{
  int norm_bias = r->norm.kind == STRATA_NORM_LAYERNORM;
  int qk = r->qk_norm != STRATA_QK_NORM_NONE;
  switch (w) {
  case WHEN_ALWAYS: return 1;
  case WHEN_NORM_BIAS: return norm_bias;
  case WHEN_PRE_NORMS: return r->pre_norms;
  case WHEN_PRE_NORM_BIAS: return r->pre_norms && norm_bias;
  case WHEN_LEARNED_POS: return r->learned_pos;
  case WHEN_QKV_BIAS: return r->qkv_bias;
  case WHEN_QK_NORM: return qk;
  case WHEN_QK_NORM_BIAS: return qk && norm_bias;
  case WHEN_O_BIAS: return r->o_bias;
  case WHEN_POST_NORMS: return r->post_norms;
  case WHEN_POST_NORM_BIAS: return r->post_norms && norm_bias;
  case WHEN_GATED: return r->gated;
  case WHEN_GATED_BIAS: return r->gated && r->mlp_bias;
  case WHEN_MLP_BIAS: return r->mlp_bias;
  case WHEN_UNTIED: return !r->tied;
  case WHEN_UNEMBED_BIAS: return r->unembed_bias;
  }
  return 0;
}

/* Visit the fields of one table row group. */
static int
visit_fields (StrataWeights *w, const Field *fields, size_t n, int layer, StrataWeightVisitFunc fn, void *user)
{
  const StrataConfig *g = &w->cfg;
  char name[64];
  for (size_t i = 0; i < n; i++) {
    const Field *f = &fields[i];
    if (!when_present (&g->recipe, f->when))
      continue;
    char *base = layer >= 0 ? (char *) &w->layers[layer] : (char *) w;
    if (layer >= 0)
      snprintf (name, sizeof name, "layers.%d.%s", layer, f->name);
    else
      snprintf (name, sizeof name, "%s", f->name);
    StrataWeightTensor t = { name, layer, dim_size (g, f->rows), dim_size (g, f->cols), STRATA_DTYPE_F32, f->matrix,
                             NULL, NULL };
    if (f->matrix) {
      t.mat = (StrataMat *) (base + f->offset);
      t.dtype = t.mat->dtype;
    } else {
      t.vec = (float **) (base + f->offset);
    }
    int stop = fn (&t, user);
    if (stop)
      return stop;
  }
  return 0;
}

int
strata_weights_visit (StrataWeights *w, StrataWeightVisitFunc fn, void *user)
{
  int stop = visit_fields (w, global_head, sizeof global_head / sizeof *global_head, -1, fn, user);
  for (int l = 0; !stop && l < w->cfg.n_layers; l++)
    stop = visit_fields (w, layer_fields, sizeof layer_fields / sizeof *layer_fields, l, fn, user);
  if (!stop)
    stop = visit_fields (w, global_tail, sizeof global_tail / sizeof *global_tail, -1, fn, user);
  return stop;
}

/* ---- carving ---- */

typedef struct {
  char *base;        /* NULL: only count */
  size_t used;       /* bytes */
  StrataMatrixDTypeFunc dtype_of;
  void *user;
} Carver;

/* Every tensor starts on a 64-byte boundary (cache lines, vector loads). */
#define ALIGN 64

static size_t
aligned_bytes (const StrataWeightTensor *t, StrataDType dt)
{
  return (strata_dtype_bytes (dt, t->rows * t->cols) + ALIGN - 1) / ALIGN * ALIGN;
}

/* A matrix's dtype as `c` chooses it; -1 when the choice is not a dtype or splits its rows'
 * blocks. */
static int
chosen_dtype (const Carver *c, const StrataWeightTensor *t)
{
  if (!t->matrix)
    return STRATA_DTYPE_F32;
  StrataDType dt = c->dtype_of (t, c->user);
  return (int) dt >= 0 && dt < STRATA_DTYPE_N && t->cols % (size_t) strata_dtype_block (dt) == 0 ? (int) dt : -1;
}

static int
carve_cb (StrataWeightTensor *t, void *user)
{
  Carver *c = user;
  int dt = chosen_dtype (c, t);
  if (dt < 0)
    return 1;
  void *p = c->base ? c->base + c->used : NULL;
  c->used += aligned_bytes (t, (StrataDType) dt);
  if (t->matrix)
    *t->mat = (StrataMat) { p, (StrataDType) dt };
  else
    *t->vec = p;
  return 0;
}

StrataDType
strata_matrix_dtype_all (const StrataWeightTensor *t, void *user)
{
  return *(const StrataDType *) user;
}

/* The unembedding of a tied model is the token embedding. */
static void
tie (StrataWeights *w)
{
  if (w->cfg.recipe.tied)
    w->unembed = w->tok_embed;
}

StrataWeights *
strata_weights_new_typed (const StrataConfig *cfg, StrataMatrixDTypeFunc dtype_of, void *user)
{
  if (strata_config_check (cfg))
    return NULL;
  StrataWeights *w = calloc (1, sizeof *w);
  if (!w)
    return NULL;
  w->cfg = *cfg;
  w->layers = calloc ((size_t) cfg->n_layers, sizeof *w->layers);
  Carver c = { NULL, 0, dtype_of, user };
  if (!w->layers || strata_weights_visit (w, carve_cb, &c)) {
    strata_weights_free (w);
    return NULL;
  }
  w->arena_bytes = c.used;
  /* Anonymous pages: zero without being written, page-aligned (a multiple of ALIGN), and
   * touched first by the loader that fills them (a memset would touch every page twice). */
  void *arena = mmap (NULL, c.used ? c.used : ALIGN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (arena == MAP_FAILED) {
    strata_weights_free (w);
    return NULL;
  }
  w->arena = arena;
  c = (Carver) { w->arena, 0, dtype_of, user };
  strata_weights_visit (w, carve_cb, &c);
  tie (w);
  return w;
}

StrataWeights *
strata_weights_new (const StrataConfig *cfg, StrataDType matrix_dtype)
{
  return strata_weights_new_typed (cfg, strata_matrix_dtype_all, &matrix_dtype);
}

void
strata_weights_free (StrataWeights *w)
{
  if (!w)
    return;
  if (w->device)
    _strata_weights_device_free (w);
  else if (w->arena)
    munmap (w->arena, w->arena_bytes ? w->arena_bytes : ALIGN);
  free (w->layers);
  free (w);
}

static int
count_cb (StrataWeightTensor *t, void *user)
{
  *(size_t *) user += t->rows * t->cols;
  return 0;
}

size_t
strata_weights_param_count (const StrataWeights *w)
{
  size_t n = 0;
  strata_weights_visit ((StrataWeights *) w, count_cb, &n);
  return n;
}

typedef struct {
  Carver carver;
  size_t bytes;
} Size;

static int
size_cb (StrataWeightTensor *t, void *user)
{
  Size *sz = user;
  int dt = chosen_dtype (&sz->carver, t);
  if (dt < 0)
    return 1;
  sz->bytes += aligned_bytes (t, (StrataDType) dt);
  return 0;
}

size_t
strata_weights_size_as (const StrataWeights *w, StrataDType matrix_dtype)
{
  Size sz = { { NULL, 0, strata_matrix_dtype_all, &matrix_dtype }, 0 };
  return strata_weights_visit ((StrataWeights *) w, size_cb, &sz) ? 0 : sz.bytes;
}

size_t
strata_config_weights_size_typed (const StrataConfig *cfg, StrataMatrixDTypeFunc dtype_of, void *user)
{
  StrataWeights w = { .cfg = *cfg };
  w.layers = calloc ((size_t) (cfg->n_layers > 0 ? cfg->n_layers : 1), sizeof *w.layers);
  if (!w.layers || strata_config_check (cfg))
    return free (w.layers), 0;
  Size sz = { { NULL, 0, dtype_of, user }, 0 };
  int refused = strata_weights_visit (&w, size_cb, &sz);
  free (w.layers);
  return refused ? 0 : sz.bytes;
}

size_t
strata_config_weights_size (const StrataConfig *cfg, StrataDType matrix_dtype)
{
  return strata_config_weights_size_typed (cfg, strata_matrix_dtype_all, &matrix_dtype);
}

size_t
strata_memory_available (void)
{
  FILE *f = fopen ("/proc/meminfo", "r");
  char line[256];
  unsigned long long kb = 0;
  while (f && fgets (line, sizeof line, f))
    if (sscanf (line, "MemAvailable: %llu kB", &kb) == 1)
      break;
  if (f)
    fclose (f);
  if (kb == 0) {
    long pages = sysconf (_SC_AVPHYS_PAGES), size = sysconf (_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (size_t) pages * (size_t) size : 0;
  }
  return (size_t) kb * 1024;
}

/* ---- rebasing and conversion ---- */

typedef struct {
  const char *old_base;
  char *new_base;
} Rebase;

static int
rebase_cb (StrataWeightTensor *t, void *user)
{
  Rebase *r = user;
  if (t->matrix)
    t->mat->data = r->new_base + ((const char *) t->mat->data - r->old_base);
  else
    *t->vec = (float *) (r->new_base + ((const char *) *t->vec - r->old_base));
  return 0;
}

void
strata_weights_rebase (const StrataWeights *w, void *new_arena, StrataWeights *out,
                       StrataLayerWeights *out_layers)
{
  *out = *w;
  out->arena = new_arena;
  out->layers = out_layers;
  memcpy (out_layers, w->layers, (size_t) w->cfg.n_layers * sizeof *out_layers);
  Rebase r = { w->arena, new_arena };
  strata_weights_visit (out, rebase_cb, &r);
  tie (out);
}

/* Copy the tensors in visiting order: the source and the copy have the same table. */
typedef struct {
  StrataWeights *dst;
  StrataWeightTensor *dst_tensors; /* filled by collect_cb */
  int n;
} Collect;

static int
collect_cb (StrataWeightTensor *t, void *user)
{
  Collect *c = user;
  c->dst_tensors[c->n++] = *t;
  return 0;
}

typedef struct {
  Collect *dst;
  int i;
  float *staging; /* one tensor's floats */
} CopyState;

static int
copy_cb (StrataWeightTensor *t, void *user)
{
  CopyState *s = user;
  StrataWeightTensor *d = &s->dst->dst_tensors[s->i++];
  size_t n = t->rows * t->cols;
  if (!t->matrix) {
    memcpy (*d->vec, *t->vec, n * sizeof (float));
  } else if (t->mat->dtype == d->mat->dtype) {
    memcpy (d->mat->data, t->mat->data, strata_dtype_bytes (t->mat->dtype, n));
  } else if (d->mat->dtype == STRATA_DTYPE_F32) {
    strata_dtype_to_f32 (t->mat->dtype, t->mat->data, d->mat->data, n);
  } else if (t->mat->dtype == STRATA_DTYPE_F32) {
    strata_dtype_from_f32 (d->mat->dtype, t->mat->data, d->mat->data, n);
  } else {
    /* F16 <-> BF16, or blocks to F16/BF16, go through F32 (exact on the way up). */
    strata_dtype_to_f32 (t->mat->dtype, t->mat->data, s->staging, n);
    strata_dtype_from_f32 (d->mat->dtype, s->staging, d->mat->data, n);
  }
  return 0;
}

static int
max_tensor_cb (StrataWeightTensor *t, void *user)
{
  size_t *m = user;
  if (t->rows * t->cols > *m)
    *m = t->rows * t->cols;
  return 0;
}

StrataWeights *
strata_weights_convert (const StrataWeights *w, StrataDType matrix_dtype)
{
  if ((int) matrix_dtype < 0 || matrix_dtype >= STRATA_DTYPE_FIRST_BLOCK)
    return NULL;
  StrataWeights *dst = strata_weights_new (&w->cfg, matrix_dtype);
  if (!dst)
    return NULL;
  size_t n = 0, biggest = 0;
  strata_weights_visit (dst, count_cb, &n);
  strata_weights_visit ((StrataWeights *) w, max_tensor_cb, &biggest);
  Collect c = { dst, calloc (n ? n : 1, sizeof (StrataWeightTensor)), 0 };
  CopyState s = { &c, 0, malloc ((biggest ? biggest : 1) * sizeof (float)) };
  if (!c.dst_tensors || !s.staging) {
    free (c.dst_tensors), free (s.staging);
    strata_weights_free (dst);
    return NULL;
  }
  strata_weights_visit (dst, collect_cb, &c);
  strata_weights_visit ((StrataWeights *) w, copy_cb, &s);
  free (c.dst_tensors), free (s.staging);
  return dst;
}

typedef struct {
  unsigned mask;
} Mask;

static int
outside_mask_cb (StrataWeightTensor *t, void *user)
{
  return t->matrix && !(((Mask *) user)->mask & (1u << t->dtype));
}

int
strata_weights_matrices_in (const StrataWeights *w, unsigned mask)
{
  Mask m = { mask };
  return !strata_weights_visit ((StrataWeights *) w, outside_mask_cb, &m);
}

static int
add_dtype_cb (StrataWeightTensor *t, void *user)
{
  if (t->matrix)
    ((Mask *) user)->mask |= 1u << t->dtype;
  return 0;
}

unsigned
strata_weights_matrix_dtypes (const StrataWeights *w)
{
  Mask m = { 0 };
  strata_weights_visit ((StrataWeights *) w, add_dtype_cb, &m);
  return m.mask;
}

void
strata_weights_dtypes_string (const StrataWeights *w, char *buf, size_t n)
{
  unsigned mask = strata_weights_matrix_dtypes (w);
  size_t used = 0;
  if (n)
    buf[0] = '\0';
  for (int dt = STRATA_DTYPE_N - 1; dt >= 0 && used < n; dt--) /* blocks first: most of the bytes */
    if (mask & (1u << dt)) {
      int k = snprintf (buf + used, n - used, "%s%s", used ? "+" : "", strata_dtype_to_string ((StrataDType) dt));
      used += k > 0 ? (size_t) k : 0;
    }
}

/* ---- element conversions ---- */

static float
bits_to_f32 (uint32_t bits)
{
  float f;
  memcpy (&f, &bits, sizeof f);
  return f;
}

static uint32_t
f32_to_bits (float f)
{
  uint32_t b;
  memcpy (&b, &f, sizeof b);
  return b;
}

float
strata_f16_to_f32 (uint16_t h)
{
  return strata_f16_bits_value (h);
}

float
strata_bf16_to_f32 (uint16_t b)
{
  return bits_to_f32 ((uint32_t) b << 16); /* bf16 is the top half of an fp32 */
}

static uint16_t
f32_to_bf16 (float f)
{
  uint32_t b = f32_to_bits (f);
  if ((b & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it a NaN */
    return (uint16_t) ((b >> 16) | 0x40);
  b += 0x7fffu + ((b >> 16) & 1); /* round to nearest even */
  return (uint16_t) (b >> 16);
}

static uint16_t
f32_to_f16 (float f)
{
  uint32_t b = f32_to_bits (f);
  uint16_t sign = (uint16_t) ((b >> 16) & 0x8000);
  float a = fabsf (f);
  if (isnan (f))
    return sign | 0x7e00;
  if (a >= 65520.0f) /* rounds to infinity */
    return sign | 0x7c00;
  if (a < 6.103515625e-05f) /* subnormal: multiples of 2^-24, rounded to nearest even */
    return sign | (uint16_t) nearbyintf (a * 16777216.0f);
  uint32_t m = f32_to_bits (a);
  uint32_t exp = (m >> 23) - 112, mant = m & 0x7fffff;
  uint32_t h = (exp << 10) | (mant >> 13), rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
    h++; /* a carry into the exponent is the right answer */
  return sign | (uint16_t) h;
}

void
strata_round_to_precision (StrataPrecision precision, float *x, size_t n)
{
  if (precision == STRATA_PRECISION_FP32)
    return;
  /* BF16 keeps the top 16 bits of the float, TF32 the top 19 (sign, 8 exponent, 10 mantissa). */
  int drop = precision == STRATA_PRECISION_BF16 ? 16 : 13;
  uint32_t half = (1u << (drop - 1)) - 1, mask = ~((1u << drop) - 1);
  for (size_t i = 0; i < n; i++) {
    uint32_t b = f32_to_bits (x[i]);
    if ((b & 0x7f800000u) == 0x7f800000u) /* NaN or infinity: as it is */
      continue;
    b = (b + half + ((b >> drop) & 1)) & mask;
    memcpy (x + i, &b, 4);
  }
}

void
strata_dtype_from_f32 (StrataDType dtype, const float *src, void *dst, size_t n)
{
  unsigned char *d = dst;
  for (size_t i = 0; i < n; i++) {
    uint16_t v;
    switch (dtype) {
    case STRATA_DTYPE_F32:
      memcpy (d + 4 * i, src + i, 4);
      break;
    case STRATA_DTYPE_F16:
      v = f32_to_f16 (src[i]);
      memcpy (d + 2 * i, &v, 2);
      break;
    case STRATA_DTYPE_BF16:
      v = f32_to_bf16 (src[i]);
      memcpy (d + 2 * i, &v, 2);
      break;
    default: /* block types are not written from F32 */
      break;
    }
  }
}
