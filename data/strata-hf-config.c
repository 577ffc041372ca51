/* strata-hf-config.c: Hugging Face config.json -> StrataConfig (json-glib).
 *
 * Field names and defaults follow transformers' GPT2Config, LlamaConfig, MistralConfig,
 * Qwen2Config, GPTNeoXConfig, Gemma2Config, Qwen3Config, Olmo2Config and Phi3Config; each
 * model_type has a parser in `architectures` that fills
 * the sizes and the recipe. A field that is present with the wrong JSON type is an error, never a
 * silent default; `null` counts as absent. */
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <json-glib/json-glib.h>

#include "strata-data-error.h"
#include "strata-model-private.h"

typedef struct {
  JsonObject *obj;
  const char *src; /* "config.json" */
} Fields;

static JsonNode *
field (const Fields *f, const char *key)
{
  JsonNode *n = json_object_has_member (f->obj, key) ? json_object_get_member (f->obj, key) : NULL;
  return n && !JSON_NODE_HOLDS_NULL (n) ? n : NULL;
}

static gboolean
type_error (const Fields *f, const char *key, const char *want, GError **error)
{
  g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: field '%s' must be %s", f->src, key, want);
  return FALSE;
}

static gboolean
is_type (JsonNode *n, GType t)
{
  return JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == t;
}

/* A positive int; `fallback` < 0 means the field is required. */
static gboolean
get_size (const Fields *f, const char *key, gint64 fallback, int *out, GError **error)
{
  JsonNode *n = field (f, key);
  if (!n) {
    if (fallback < 0) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: missing field '%s'", f->src, key);
      return FALSE;
    }
    *out = (int) fallback;
    return TRUE;
  }
  if (!is_type (n, G_TYPE_INT64) || json_node_get_int (n) <= 0 || json_node_get_int (n) > G_MAXINT32)
    return type_error (f, key, "a positive integer", error);
  *out = (int) json_node_get_int (n);
  return TRUE;
}

static gboolean
get_float (const Fields *f, const char *key, double fallback, float *out, GError **error)
{
  JsonNode *n = field (f, key);
  if (!n)
    *out = (float) fallback;
  else if (is_type (n, G_TYPE_DOUBLE))
    *out = (float) json_node_get_double (n);
  else if (is_type (n, G_TYPE_INT64))
    *out = (float) json_node_get_int (n);
  else
    return type_error (f, key, "a number", error);
  return TRUE;
}

static gboolean
get_bool (const Fields *f, const char *key, gboolean fallback, int *out, GError **error)
{
  JsonNode *n = field (f, key);
  if (n && !is_type (n, G_TYPE_BOOLEAN))
    return type_error (f, key, "true or false", error);
  *out = n ? json_node_get_boolean (n) : fallback;
  return TRUE;
}

static gboolean
get_string (const Fields *f, const char *key, const char *fallback, const char **out, GError **error)
{
  JsonNode *n = field (f, key);
  if (n && !is_type (n, G_TYPE_STRING))
    return type_error (f, key, "a string", error);
  *out = n ? json_node_get_string (n) : fallback;
  return TRUE;
}

/* bos/eos: an integer, or a list whose first entry is used (Llama 3 lists several eos). */
static gboolean
get_token_id (const Fields *f, const char *key, int32_t *out, GError **error)
{
  JsonNode *n = field (f, key);
  *out = -1;
  if (n && JSON_NODE_HOLDS_ARRAY (n) && json_array_get_length (json_node_get_array (n)) > 0)
    n = json_array_get_element (json_node_get_array (n), 0);
  if (!n)
    return TRUE;
  if (!is_type (n, G_TYPE_INT64) || json_node_get_int (n) < 0 || json_node_get_int (n) > G_MAXINT32)
    return type_error (f, key, "a token id", error);
  *out = (int32_t) json_node_get_int (n);
  return TRUE;
}

static gboolean
unsupported (const Fields *f, GError **error, const char *fmt, ...) G_GNUC_PRINTF (3, 4);
static gboolean
unsupported (const Fields *f, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED, "%s: %s", f->src, msg);
  return FALSE;
}

/* hidden_act / activation_function, as transformers' ACT2FN names them, among those the
 * architecture is checked with (`allowed`, names separated by spaces). */
static gboolean
get_activation (const Fields *f, const char *key, const char *fallback, const char *allowed, StrataActivation *act,
                GError **error)
{
  static const struct { const char *name; StrataActivation act; } known[] = {
    { "gelu_new", STRATA_ACT_GELU_TANH }, { "gelu_pytorch_tanh", STRATA_ACT_GELU_TANH },
    { "gelu", STRATA_ACT_GELU_ERF },      { "silu", STRATA_ACT_SILU },
  };
  const char *name;
  if (!get_string (f, key, fallback, &name, error))
    return FALSE;
  g_auto (GStrv) names = g_strsplit (allowed, " ", -1);
  for (gsize i = 0; i < G_N_ELEMENTS (known); i++)
    if (strcmp (name, known[i].name) == 0 && g_strv_contains ((const char *const *) names, name)) {
      *act = known[i].act;
      return TRUE;
    }
  g_autofree char *list = g_strjoinv (", ", names);
  return unsupported (f, error, "%s '%s' is not supported (%s %s run)", key, name, list, names[1] ? "are" : "is");
}

/* `key` (rope_theta), or rope_parameters.rope_theta as newer transformers save it; any rope scaling
 * (rope_scaling, or a rope_parameters type other than "default": linear, dynamic, yarn,
 * longrope, su, llama3) is refused, naming the field and the type. */
static gboolean
get_rope_theta (const Fields *f, const char *key, double fallback, float *theta, GError **error)
{
  JsonNode *scaling = field (f, "rope_scaling"), *params = field (f, "rope_parameters");
  if (scaling) {
    JsonObject *o = JSON_NODE_HOLDS_OBJECT (scaling) ? json_node_get_object (scaling) : NULL;
    Fields sf = { o, f->src };
    const char *type = NULL;
    if (o && !get_string (&sf, field (&sf, "rope_type") ? "rope_type" : "type", NULL, &type, error))
      return FALSE;
    return unsupported (f, error, "field 'rope_scaling' is set%s%s%s; scaled RoPE is not supported",
                        type ? " (type '" : "", type ? type : "", type ? "')" : "");
  }
  if (!params)
    return get_float (f, key, fallback, theta, error);
  if (!JSON_NODE_HOLDS_OBJECT (params))
    return type_error (f, "rope_parameters", "an object", error);
  Fields pf = { json_node_get_object (params), f->src };
  const char *type;
  if (!get_string (&pf, "rope_type", "default", &type, error))
    return FALSE;
  if (strcmp (type, "default") != 0)
    return unsupported (f, error, "field 'rope_parameters' has rope_type '%s'; scaled RoPE is not supported", type);
  return get_float (&pf, "rope_theta", fallback, theta, error);
}

/* A soft-cap or window that a config states as a positive number, or null for none: absent
 * gives `fallback`, null gives 0 (transformers: `if config.x is not None`). */
static gboolean
get_positive_or_null (const Fields *f, const char *key, double fallback, double *out, GError **error)
{
  JsonNode *n = json_object_has_member (f->obj, key) ? json_object_get_member (f->obj, key) : NULL;
  if (!n) {
    *out = fallback;
    return TRUE;
  }
  if (JSON_NODE_HOLDS_NULL (n)) {
    *out = 0;
    return TRUE;
  }
  if (is_type (n, G_TYPE_DOUBLE))
    *out = json_node_get_double (n);
  else if (is_type (n, G_TYPE_INT64))
    *out = (double) json_node_get_int (n);
  else
    *out = -1;
  if (!(*out > 0) || *out > G_MAXINT32)
    return type_error (f, key, "a positive number or null", error);
  return TRUE;
}

/* Sizes as LlamaConfig and its descendants name them. head_dim and num_key_value_heads default
 * to `head_dim` and `kv` when those are positive (Gemma2Config: 256 and 16; Qwen3Config: 128
 * and 32), else to hidden_size / num_attention_heads and num_attention_heads. */
static gboolean
get_decoder_sizes (const Fields *f, StrataConfig *c, gint64 head_dim, gint64 kv, GError **error)
{
  if (!get_size (f, "hidden_size", -1, &c->d_model, error) ||
      !get_size (f, "intermediate_size", -1, &c->d_mlp, error) ||
      !get_size (f, "num_hidden_layers", -1, &c->n_layers, error) ||
      !get_size (f, "num_attention_heads", -1, &c->n_heads, error) ||
      !get_size (f, "vocab_size", -1, &c->vocab, error) ||
      !get_size (f, "max_position_embeddings", -1, &c->n_ctx, error))
    return FALSE;
  return get_size (f, "num_key_value_heads", kv > 0 ? kv : c->n_heads, &c->n_kv_heads, error) &&
         get_size (f, "head_dim", head_dim > 0 ? head_dim : c->d_model / c->n_heads, &c->d_head, error);
}

/* Mistral and Phi-3: `sliding_window` on every layer (null: none). transformers' mask lets
 * query i see key j when i - j < sliding_window, the recipe's window; the context stays
 * max_position_embeddings. */
static gboolean
get_window_every_layer (const Fields *f, double fallback, StrataRecipe *r, GError **error)
{
  double window;
  if (!get_positive_or_null (f, "sliding_window", fallback, &window, error))
    return FALSE;
  r->attn.window = (int) window;
  r->window_period = 1;
  return TRUE;
}

/* Qwen2 and Qwen3 put their window (use_sliding_window) only on some layers, which ones
 * depending on max_window_layers and on the transformers version; attention within the window
 * is full attention, so the window bounds the context accepted instead, and every sequence
 * runs exactly whichever layers have it. */
static gboolean
cap_context_at_window (const Fields *f, StrataConfig *c, GError **error)
{
  int sliding = 0, use_sliding;
  if (!get_size (f, "sliding_window", 0, &sliding, error) ||
      !get_bool (f, "use_sliding_window", FALSE, &use_sliding, error))
    return FALSE;
  if (use_sliding && sliding > 0 && sliding < c->n_ctx)
    c->n_ctx = sliding;
  return TRUE;
}

/* Multi-head attention over the whole width: D = C / H, every head its own keys. */
static gboolean
split_heads (const Fields *f, const char *width_key, const char *heads_key, StrataConfig *c, GError **error)
{
  if (c->d_model % c->n_heads) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: %s %d is not a multiple of %s %d", f->src,
                 width_key, c->d_model, heads_key, c->n_heads);
    return FALSE;
  }
  c->n_kv_heads = c->n_heads;
  c->d_head = c->d_model / c->n_heads;
  return TRUE;
}

static gboolean
parse_gpt2 (const Fields *f, StrataHfConfig *hc, GError **error)
{
  StrataConfig *c = &hc->cfg;
  int n_inner = 0, tied;
  float eps;
  StrataActivation act;

  if (!get_size (f, "n_layer", -1, &c->n_layers, error) || !get_size (f, "n_embd", -1, &c->d_model, error) ||
      !get_size (f, "n_head", -1, &c->n_heads, error) || !get_size (f, "vocab_size", -1, &c->vocab, error) ||
      !get_float (f, "layer_norm_epsilon", 1e-5, &eps, error) ||
      !get_bool (f, "tie_word_embeddings", TRUE, &tied, error))
    return FALSE;
  /* n_positions names the learned table; very old configs only have n_ctx. */
  if (!get_size (f, field (f, "n_positions") ? "n_positions" : "n_ctx", -1, &c->n_ctx, error))
    return FALSE;
  if (!get_size (f, "n_inner", 4 * (gint64) c->d_model, &n_inner, error))
    return FALSE;
  c->d_mlp = n_inner;
  if (!get_activation (f, "activation_function", "gelu_new", "gelu_new gelu_pytorch_tanh gelu", &act, error) ||
      !split_heads (f, "n_embd", "n_head", c, error))
    return FALSE;
  strata_config_set_family (c, STRATA_FAMILY_GPT2);
  c->recipe.norm.eps = eps;
  c->recipe.act = act;
  c->recipe.tied = tied;
  return TRUE;
}

/* llama, mistral and qwen2: the Llama family, differing in biases and windows. */
static gboolean
parse_llama (const Fields *f, StrataHfConfig *hc, GError **error)
{
  StrataConfig *c = &hc->cfg;
  int tied;
  float eps, theta;
  StrataActivation act;
  gboolean qwen2 = strcmp (hc->arch, "qwen2") == 0, mistral = strcmp (hc->arch, "mistral") == 0;

  if (!get_decoder_sizes (f, c, 0, 0, error) || !get_float (f, "rms_norm_eps", 1e-6, &eps, error) ||
      !get_rope_theta (f, "rope_theta", 10000.0, &theta, error) || !get_bool (f, "tie_word_embeddings", FALSE, &tied, error))
    return FALSE;
  if (!get_activation (f, "hidden_act", "silu", "silu", &act, error))
    return FALSE;
  strata_config_set_family (c, STRATA_FAMILY_LLAMA);
  StrataRecipe *r = &c->recipe;
  r->norm.eps = eps;
  r->rope.theta = theta; /* HF rotate_half pairs (i, i + D/2) */
  r->act = act;
  r->tied = tied;
  if (qwen2) {
    r->qkv_bias = TRUE; /* Qwen2Attention: q/k/v biases, none on o_proj */
  } else if (!mistral) {
    int attn_bias, mlp_bias;
    if (!get_bool (f, "attention_bias", FALSE, &attn_bias, error) || !get_bool (f, "mlp_bias", FALSE, &mlp_bias, error))
      return FALSE;
    r->qkv_bias = r->o_bias = attn_bias;
    r->mlp_bias = mlp_bias; /* gate, up and down projections alike */
  }
  if (mistral) /* MistralConfig's sliding_window defaults to 4096 */
    return get_window_every_layer (f, 4096, r, error);
  return cap_context_at_window (f, c, error);
}

/* gemma2: RMSNorm with gain 1 + w before and after attention and the MLP, GeGLU, the token
 * embedding times sqrt(hidden_size), scores scaled by query_pre_attn_scalar^-1/2 and
 * soft-capped, the window on even layers, logits soft-capped, tied (Gemma2Config defaults). */
static gboolean
parse_gemma2 (const Fields *f, StrataHfConfig *hc, GError **error)
{
  StrataConfig *c = &hc->cfg;
  int tied, attn_bias;
  float eps, theta, scalar;
  double attn_cap, final_cap, window;
  StrataActivation act;

  if (!get_decoder_sizes (f, c, 256, 16, error) || !get_float (f, "rms_norm_eps", 1e-6, &eps, error) ||
      !get_rope_theta (f, "rope_theta", 10000.0, &theta, error) || !get_bool (f, "tie_word_embeddings", TRUE, &tied, error) ||
      !get_bool (f, "attention_bias", FALSE, &attn_bias, error) ||
      !get_float (f, "query_pre_attn_scalar", 224, &scalar, error) ||
      !get_positive_or_null (f, "attn_logit_softcapping", 50.0, &attn_cap, error) ||
      !get_positive_or_null (f, "final_logit_softcapping", 30.0, &final_cap, error) ||
      !get_positive_or_null (f, "sliding_window", 4096, &window, error) ||
      !get_activation (f, "hidden_activation", "gelu_pytorch_tanh", "gelu_pytorch_tanh", &act, error))
    return FALSE;
  if (!(scalar > 0))
    return type_error (f, "query_pre_attn_scalar", "a positive number", error);
  strata_config_set_family (c, STRATA_FAMILY_GEMMA2);
  StrataRecipe *r = &c->recipe;
  r->norm.eps = eps;
  r->rope.theta = theta;
  r->act = act;
  r->tied = tied;
  r->qkv_bias = r->o_bias = attn_bias;
  r->attn.scale = (float) (1.0 / sqrt ((double) scalar));
  r->attn.softcap = (float) attn_cap;
  r->final_softcap = (float) final_cap;
  r->attn.window = (int) window; /* window_period 2: layers 0, 2, 4, ... */
  return TRUE;
}

/* qwen3, olmo2 and phi3: Llama's sizes and SwiGLU, with what each adds. */
static gboolean
parse_llama_like (const Fields *f, StrataHfConfig *hc, StrataFamily family, gint64 head_dim, gint64 kv,
                  double eps_default, GError **error)
{
  StrataConfig *c = &hc->cfg;
  int tied;
  float eps, theta;
  StrataActivation act;
  if (!get_decoder_sizes (f, c, head_dim, kv, error) || !get_float (f, "rms_norm_eps", eps_default, &eps, error) ||
      !get_rope_theta (f, "rope_theta", 10000.0, &theta, error) || !get_bool (f, "tie_word_embeddings", FALSE, &tied, error) ||
      !get_activation (f, "hidden_act", "silu", "silu", &act, error))
    return FALSE;
  strata_config_set_family (c, family);
  c->recipe.norm.eps = eps; /* the q/k norms' too */
  c->recipe.rope.theta = theta;
  c->recipe.act = act;
  c->recipe.tied = tied;
  return TRUE;
}

/* qwen3: q_norm and k_norm over each head's head_dim values before RoPE; attention_bias puts
 * biases on q, k, v and o alike (Qwen3Config: head_dim 128, 32 key/value heads by default). */
static gboolean
parse_qwen3 (const Fields *f, StrataHfConfig *hc, GError **error)
{
  int attn_bias;
  if (!parse_llama_like (f, hc, STRATA_FAMILY_QWEN3, 128, 32, 1e-6, error) ||
      !get_bool (f, "attention_bias", FALSE, &attn_bias, error))
    return FALSE;
  hc->cfg.recipe.qkv_bias = hc->cfg.recipe.o_bias = attn_bias;
  return cap_context_at_window (f, &hc->cfg, error);
}

/* olmo2: no norms before attention and the MLP; their outputs are normed
 * (post_attention_layernorm, post_feedforward_layernorm) before the residual add, and q, k
 * are normed over all H*D (K*D) values. */
static gboolean
parse_olmo2 (const Fields *f, StrataHfConfig *hc, GError **error)
{
  int attn_bias;
  if (!parse_llama_like (f, hc, STRATA_FAMILY_OLMO2, 0, 0, 1e-5, error) ||
      !get_bool (f, "attention_bias", FALSE, &attn_bias, error))
    return FALSE;
  hc->cfg.recipe.qkv_bias = hc->cfg.recipe.o_bias = attn_bias;
  return TRUE;
}

/* phi3: Llama's block with fused projections in the file (the loader splits them), rotary
 * on the first partial_rotary_factor of each head, sliding_window on every layer. The
 * long-context variants' rope_scaling (longrope, su) is refused by get_rope_theta. */
static gboolean
parse_phi3 (const Fields *f, StrataHfConfig *hc, GError **error)
{
  float factor;
  StrataConfig *c = &hc->cfg;
  if (!parse_llama_like (f, hc, STRATA_FAMILY_PHI3, 0, 0, 1e-5, error) ||
      !get_float (f, "partial_rotary_factor", 1.0, &factor, error))
    return FALSE;
  /* transformers: int(head_dim * partial_rotary_factor), computed in double. */
  double dims = (double) c->d_head * (double) factor;
  if (!(factor > 0 && factor <= 1) || (int) dims % 2 != 0 || (int) dims == 0)
    return unsupported (f, error,
                        "partial_rotary_factor %g gives %d rotary dimensions of %d; an even, positive number is run",
                        factor, (int) dims, c->d_head);
  c->recipe.rope.dims = (int) dims;
  return get_window_every_layer (f, 0, &c->recipe, error);
}

/* gpt_neox (Pythia): parallel attention and MLP by default, rotary on the first
 * rotary_pct of each head (rotate_half), untied embed_out, biases everywhere. */
static gboolean
parse_neox (const Fields *f, StrataHfConfig *hc, GError **error)
{
  StrataConfig *c = &hc->cfg;
  int parallel, tied, attn_bias;
  float eps, theta, pct;
  StrataActivation act;

  if (!get_size (f, "hidden_size", -1, &c->d_model, error) ||
      !get_size (f, "intermediate_size", -1, &c->d_mlp, error) ||
      !get_size (f, "num_hidden_layers", -1, &c->n_layers, error) ||
      !get_size (f, "num_attention_heads", -1, &c->n_heads, error) ||
      !get_size (f, "vocab_size", -1, &c->vocab, error) ||
      !get_size (f, "max_position_embeddings", -1, &c->n_ctx, error) ||
      !get_float (f, "layer_norm_eps", 1e-5, &eps, error) || !get_float (f, "rotary_pct", 0.25, &pct, error) ||
      !get_rope_theta (f, field (f, "rope_theta") ? "rope_theta" : "rotary_emb_base", 10000.0, &theta, error) ||
      !get_bool (f, "use_parallel_residual", TRUE, &parallel, error) ||
      !get_bool (f, "tie_word_embeddings", FALSE, &tied, error) ||
      !get_bool (f, "attention_bias", TRUE, &attn_bias, error) ||
      !get_activation (f, "hidden_act", "gelu", "gelu gelu_new gelu_pytorch_tanh", &act, error) ||
      !split_heads (f, "hidden_size", "num_attention_heads", c, error))
    return FALSE;
  strata_config_set_family (c, STRATA_FAMILY_NEOX);
  StrataRecipe *r = &c->recipe;
  r->norm.eps = eps;
  r->rope.theta = theta;
  /* transformers: rotary_ndims = int(head_size * rotary_pct), computed in double. */
  double dims = (double) c->d_head * (double) pct;
  if (!(pct > 0 && pct <= 1) || (int) dims % 2 != 0 || (int) dims == 0)
    return unsupported (f, error, "rotary_pct %g gives %d rotary dimensions of %d; an even, positive number is run",
                        pct, (int) dims, c->d_head);
  r->rope.dims = (int) dims;
  r->parallel = parallel;
  r->tied = tied;
  r->qkv_bias = r->o_bias = attn_bias;
  r->act = act;
  return TRUE;
}

/* model_type -> the parser of its config. */
static const struct {
  const char *model_type;
  gboolean (*parse) (const Fields *f, StrataHfConfig *hc, GError **error);
  int32_t default_bos_eos; /* when config.json names none; -1: none */
} architectures[] = {
  { "gpt2", parse_gpt2, 50256 }, /* GPT2Config's defaults */
  { "llama", parse_llama, -1 },
  { "mistral", parse_llama, -1 },
  { "qwen2", parse_llama, -1 },
  { "gpt_neox", parse_neox, -1 },
  { "gemma2", parse_gemma2, -1 },
  { "qwen3", parse_qwen3, -1 },
  { "olmo2", parse_olmo2, -1 },
  { "phi3", parse_phi3, -1 },
};

gboolean
strata_hf_config_load (const char *path, StrataHfConfig *hc, GError **error)
{
  g_autofree char *src = g_path_get_basename (path);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) json_error = NULL;
  const char *arch;

  memset (hc, 0, sizeof *hc);
  if (!json_parser_load_from_mapped_file (parser, path, &json_error)) {
    g_set_error (error, STRATA_DATA_ERROR,
                 json_error->domain == JSON_PARSER_ERROR ? STRATA_DATA_ERROR_FORMAT : STRATA_DATA_ERROR_IO,
                 "%s: cannot read: %s", src, json_error->message);
    return FALSE;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: not a JSON object", src);
    return FALSE;
  }
  Fields f = { json_node_get_object (root), src };
  if (!get_string (&f, "model_type", NULL, &arch, error))
    return FALSE;
  if (!arch) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: missing field 'model_type'", src);
    return FALSE;
  }
  hc->arch = g_strdup (arch);
  gsize a = 0;
  while (a < G_N_ELEMENTS (architectures) && strcmp (arch, architectures[a].model_type) != 0)
    a++;
  if (a == G_N_ELEMENTS (architectures)) {
    g_autoptr (GString) known = g_string_new (NULL);
    for (gsize i = 0; i < G_N_ELEMENTS (architectures); i++)
      g_string_append_printf (known, "%s%s", i ? ", " : "", architectures[i].model_type);
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                 "%s: model_type '%s' is not supported (%s)", src, arch, known->str);
    return FALSE;
  }
  if (!architectures[a].parse (&f, hc, error))
    return FALSE;
  if (!get_token_id (&f, "bos_token_id", &hc->bos_id, error) || !get_token_id (&f, "eos_token_id", &hc->eos_id, error))
    return FALSE;
  if (hc->bos_id < 0)
    hc->bos_id = architectures[a].default_bos_eos;
  if (hc->eos_id < 0)
    hc->eos_id = architectures[a].default_bos_eos;
  const char *why = strata_config_check (&hc->cfg);
  if (why) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: %s", src, why);
    return FALSE;
  }
  return TRUE;
}

void
strata_hf_config_clear (StrataHfConfig *hc)
{
  g_clear_pointer (&hc->arch, g_free);
}
