/* strata-recipe.c: the family presets, the config check and the names of the recipe's enums. */
#include "strata-recipe.h"

#include <math.h>
#include <string.h>

/* rope.dims 0, attn.scale 0 and embed_scale 0 stand for "the head size", "1/√D" and "√C",
 * filled in from the sizes by strata_config_set_family. Fields a config file states (epsilon,
 * theta, soft-caps, window, biases, tying) are the transformers defaults here and set by the
 * parser from the file. */
static const StrataRecipe presets[STRATA_FAMILY_N] = {
  [STRATA_FAMILY_GPT2] = {
    .norm = { STRATA_NORM_LAYERNORM, 1e-5f },
    .act = STRATA_ACT_GELU_TANH,
    .pre_norms = 1,
    .learned_pos = 1,
    .rope = { STRATA_ROPE_NONE, 0, 0.0f },
    .window_period = 1,
    .embed_scale = 1.0f,
    .qkv_bias = 1, .o_bias = 1, .mlp_bias = 1, .tied = 1,
  },
  [STRATA_FAMILY_LLAMA] = {
    .norm = { STRATA_NORM_RMSNORM, 1e-6f },
    .act = STRATA_ACT_SILU,
    .gated = 1,
    .pre_norms = 1,
    .rope = { STRATA_ROPE_HALF, 0, 10000.0f },
    .window_period = 1,
    .embed_scale = 1.0f,
  },
  [STRATA_FAMILY_NEOX] = {
    .norm = { STRATA_NORM_LAYERNORM, 1e-5f },
    .act = STRATA_ACT_GELU_ERF,
    .parallel = 1,
    .pre_norms = 1,
    .rope = { STRATA_ROPE_HALF, 0, 10000.0f },
    .window_period = 1,
    .embed_scale = 1.0f,
    .qkv_bias = 1, .o_bias = 1, .mlp_bias = 1,
  },
  /* Gemma 2: the window on layers 0, 2, 4, ... (transformers: not layer_idx % 2). */
  [STRATA_FAMILY_GEMMA2] = {
    .norm = { STRATA_NORM_RMSNORM_UNIT_OFFSET, 1e-6f },
    .act = STRATA_ACT_GELU_TANH,
    .gated = 1,
    .pre_norms = 1,
    .post_norms = 1,
    .rope = { STRATA_ROPE_HALF, 0, 10000.0f },
    .attn = { 0.0f, 50.0f, 4096 },
    .window_period = 2,
    .final_softcap = 30.0f,
    .embed_scale = 0.0f,
    .tied = 1,
  },
  [STRATA_FAMILY_QWEN3] = {
    .norm = { STRATA_NORM_RMSNORM, 1e-6f },
    .act = STRATA_ACT_SILU,
    .gated = 1,
    .pre_norms = 1,
    .qk_norm = STRATA_QK_NORM_HEAD,
    .rope = { STRATA_ROPE_HALF, 0, 10000.0f },
    .window_period = 1,
    .embed_scale = 1.0f,
  },
  /* OLMo-2: x + norm(attn(x)), then + norm(mlp(.)); q and k normed over all their heads. */
  [STRATA_FAMILY_OLMO2] = {
    .norm = { STRATA_NORM_RMSNORM, 1e-5f },
    .act = STRATA_ACT_SILU,
    .gated = 1,
    .post_norms = 1,
    .qk_norm = STRATA_QK_NORM_WHOLE,
    .rope = { STRATA_ROPE_HALF, 0, 10000.0f },
    .window_period = 1,
    .embed_scale = 1.0f,
  },
  [STRATA_FAMILY_PHI3] = {
    .norm = { STRATA_NORM_RMSNORM, 1e-5f },
    .act = STRATA_ACT_SILU,
    .gated = 1,
    .pre_norms = 1,
    .rope = { STRATA_ROPE_HALF, 0, 10000.0f },
    .window_period = 1,
    .embed_scale = 1.0f,
  },
};

void
strata_config_set_family (StrataConfig *cfg, StrataFamily family)
{
  cfg->family = family;
  cfg->recipe = presets[family >= 0 && family < STRATA_FAMILY_N ? family : STRATA_FAMILY_LLAMA];
  if (cfg->recipe.rope.pairing != STRATA_ROPE_NONE)
    cfg->recipe.rope.dims = cfg->d_head;
  /* The same expression the attention kernels used before the scale was a parameter, so
   * scores keep their bits. */
  cfg->recipe.attn.scale = cfg->d_head > 0 ? 1.0f / sqrtf ((float) cfg->d_head) : 0.0f;
  if (cfg->recipe.embed_scale == 0.0f)
    cfg->recipe.embed_scale = sqrtf ((float) cfg->d_model);
}

const char *
strata_config_check (const StrataConfig *cfg)
{
  const StrataRecipe *r = &cfg->recipe;
  if (cfg->n_layers <= 0 || cfg->d_model <= 0 || cfg->n_heads <= 0 || cfg->d_head <= 0 ||
      cfg->d_mlp <= 0 || cfg->vocab <= 0 || cfg->n_ctx <= 0)
    return "every size (layers, width, heads, head size, MLP width, vocabulary, context) must be positive";
  if (cfg->n_kv_heads <= 0 || cfg->n_heads % cfg->n_kv_heads != 0)
    return "the number of key/value heads must divide the number of heads";
  if ((int) cfg->family < 0 || cfg->family >= STRATA_FAMILY_N || (int) r->norm.kind < 0 ||
      r->norm.kind >= STRATA_NORM_N || (int) r->act < 0 || r->act >= STRATA_ACT_N || (int) r->qk_norm < 0 ||
      r->qk_norm >= STRATA_QK_NORM_N || (int) r->rope.pairing < 0 || r->rope.pairing >= STRATA_ROPE_N)
    return "the recipe names an unknown family, norm, activation, q/k norm or RoPE pairing";
  if (r->rope.pairing != STRATA_ROPE_NONE &&
      (r->rope.dims <= 0 || r->rope.dims % 2 != 0 || r->rope.dims > cfg->d_head || !(r->rope.theta > 0)))
    return "RoPE needs an even number of rotary dimensions, at most the head size, and a positive theta";
  if (!(r->norm.eps >= 0) || r->norm.eps > 1)
    return "the norm epsilon must lie in [0, 1]";
  if (!(r->attn.scale > 0) || !isfinite (r->attn.scale) || !(r->attn.softcap >= 0) || !(r->final_softcap >= 0) ||
      !isfinite (r->attn.softcap) || !isfinite (r->final_softcap))
    return "the attention scale must be positive and the soft-caps non-negative";
  if (r->attn.window < 0 || (r->attn.window > 0 && r->window_period < 1))
    return "an attention window needs a positive size and a layer period of at least 1";
  if (!(r->embed_scale > 0) || !isfinite (r->embed_scale))
    return "the embedding scale must be positive";
  /* Keep every tensor's element count well inside size_t and int indexing. */
  if ((double) cfg->vocab * cfg->d_model > 4e9 || (double) cfg->d_mlp * cfg->d_model > 4e9 ||
      (double) cfg->n_heads * cfg->d_head * cfg->d_model > 4e9 || cfg->n_layers > 4096 ||
      cfg->n_ctx > (1 << 24))
    return "sizes are too large";
  return NULL;
}

StrataAttnParams
strata_config_layer_attention (const StrataConfig *cfg, int layer)
{
  StrataAttnParams a = cfg->recipe.attn;
  if (a.window > 0 && layer % cfg->recipe.window_period != 0)
    a.window = 0;
  return a;
}

/* ---- names, one table per enum ---- */

static const StrataEnumValue family_values[STRATA_FAMILY_N] = {
  { "gpt2", "GPT-2", NULL }, { "llama", "Llama", NULL },   { "neox", "GPT-NeoX", NULL },
  { "gemma2", "Gemma 2", NULL }, { "qwen3", "Qwen3", NULL }, { "olmo2", "OLMo-2", NULL },
  { "phi3", "Phi-3", NULL },
};
const StrataEnumTable strata_family_table = STRATA_ENUM_TABLE ("model family", family_values);
static const StrataEnumValue dtype_values[STRATA_DTYPE_N] = {
  { "F32" }, { "F16" }, { "BF16" }, { "Q4_0" }, { "Q4_1" }, { "Q5_0" },
  { "Q5_1" }, { "Q8_0" }, { "Q4_K" }, { "Q5_K" }, { "Q6_K" }, { "Q2_K" }, { "Q3_K" }, { "IQ4_NL" }, { "IQ4_XS" },
};
const StrataEnumTable strata_dtype_table = STRATA_ENUM_TABLE ("dtype", dtype_values);
static const StrataEnumValue rope_values[STRATA_ROPE_N] = { { "none" }, { "adjacent" }, { "half" } };
const StrataEnumTable strata_rope_table = STRATA_ENUM_TABLE ("rope convention", rope_values);
static const StrataEnumValue norm_values[STRATA_NORM_N] = {
  { "layernorm" }, { "rmsnorm" }, { "rmsnorm_unit_offset", "rmsnorm (1 + w)" },
};
const StrataEnumTable strata_norm_table = STRATA_ENUM_TABLE ("norm", norm_values);
static const StrataEnumValue act_values[STRATA_ACT_N] = {
  { "gelu_tanh", "gelu (tanh)" }, { "gelu_erf", "gelu (erf)" }, { "silu" },
};
const StrataEnumTable strata_activation_table = STRATA_ENUM_TABLE ("activation", act_values);
static const StrataEnumValue qk_norm_values[STRATA_QK_NORM_N] = {
  { "none" }, { "head", "per-head" }, { "whole" },
};
const StrataEnumTable strata_qk_norm_table = STRATA_ENUM_TABLE ("q/k norm", qk_norm_values);
static const StrataEnumValue precision_values[STRATA_PRECISION_N] = {
  { "fp32", "FP32", "exact fp32 products" },
  { "tf32", "TF32", "products of inputs rounded to TF32" },
  { "bf16", "BF16", "products of inputs rounded to BF16" },
};
const StrataEnumTable strata_precision_table = STRATA_ENUM_TABLE ("precision", precision_values);

/* The kernels need no GLib: the few lookups they offer are written here. */
static const char *
name_of (const StrataEnumTable *t, int value, int label)
{
  if (value < 0 || value >= t->n)
    return "?";
  return label && t->values[value].label ? t->values[value].label : t->values[value].name;
}

static int
index_of (const StrataEnumTable *t, const char *name)
{
  for (int i = 0; name && i < t->n; i++)
    if (strcmp (t->values[i].name, name) == 0)
      return i;
  return -1;
}

const char *
strata_family_to_string (StrataFamily family)
{
  return name_of (&strata_family_table, (int) family, 0);
}

const char *
strata_family_label (StrataFamily family)
{
  return name_of (&strata_family_table, (int) family, 1);
}

int
strata_family_from_string (const char *name)
{
  return index_of (&strata_family_table, name);
}

const char *
strata_dtype_to_string (StrataDType dtype)
{
  return name_of (&strata_dtype_table, (int) dtype, 0);
}

const char *
strata_precision_to_string (StrataPrecision precision)
{
  return name_of (&strata_precision_table, (int) precision, 0);
}

int
strata_precision_from_string (const char *name)
{
  return index_of (&strata_precision_table, name);
}

const char *
strata_rope_to_string (StrataRope rope)
{
  return name_of (&strata_rope_table, (int) rope, 0);
}

int
strata_rope_from_string (const char *name)
{
  return index_of (&strata_rope_table, name);
}
