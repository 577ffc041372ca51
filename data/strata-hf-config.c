/* strata-hf-config.c: Hugging Face config.json -> StrataConfig (json-glib).
 *
 * Field names and defaults follow transformers' GPT2Config, LlamaConfig, MistralConfig
 * and Qwen2Config. A field that is present with the wrong JSON type is an error, never a
 * silent default; `null` counts as absent. */
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
parse_gpt2 (const Fields *f, StrataHfConfig *hc, GError **error)
{
  StrataConfig *c = &hc->cfg;
  const char *act;
  int n_inner = 0;

  c->family = STRATA_FAMILY_GPT2;
  c->rope = STRATA_ROPE_NONE;
  if (!get_size (f, "n_layer", -1, &c->n_layers, error) || !get_size (f, "n_embd", -1, &c->d_model, error) ||
      !get_size (f, "n_head", -1, &c->n_heads, error) || !get_size (f, "vocab_size", -1, &c->vocab, error) ||
      !get_float (f, "layer_norm_epsilon", 1e-5, &c->norm_eps, error) ||
      !get_string (f, "activation_function", "gelu_new", &act, error) ||
      !get_bool (f, "tie_word_embeddings", TRUE, &hc->layout.tied, error))
    return FALSE;
  /* n_positions names the learned table; very old configs only have n_ctx. */
  if (!get_size (f, field (f, "n_positions") ? "n_positions" : "n_ctx", -1, &c->n_ctx, error))
    return FALSE;
  if (!get_size (f, "n_inner", 4 * (gint64) c->d_model, &n_inner, error))
    return FALSE;
  c->d_mlp = n_inner;
  if (strcmp (act, "gelu_new") != 0 && strcmp (act, "gelu_pytorch_tanh") != 0) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                 "%s: activation_function '%s' is not supported (gelu_new is run)", f->src, act);
    return FALSE;
  }
  if (c->d_model % c->n_heads) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: n_embd %d is not a multiple of n_head %d", f->src, c->d_model, c->n_heads);
    return FALSE;
  }
  c->n_kv_heads = c->n_heads;
  c->d_head = c->d_model / c->n_heads;
  return TRUE;
}

static gboolean
parse_llama (const Fields *f, StrataHfConfig *hc, GError **error)
{
  StrataConfig *c = &hc->cfg;
  const char *act;
  int sliding = 0, use_sliding = 0;
  gboolean qwen2 = strcmp (hc->arch, "qwen2") == 0, mistral = strcmp (hc->arch, "mistral") == 0;

  c->family = STRATA_FAMILY_LLAMA;
  c->rope = STRATA_ROPE_HALF; /* HF rotate_half pairs (i, i + D/2) */
  if (!get_size (f, "hidden_size", -1, &c->d_model, error) ||
      !get_size (f, "intermediate_size", -1, &c->d_mlp, error) ||
      !get_size (f, "num_hidden_layers", -1, &c->n_layers, error) ||
      !get_size (f, "num_attention_heads", -1, &c->n_heads, error) ||
      !get_size (f, "vocab_size", -1, &c->vocab, error) ||
      !get_size (f, "max_position_embeddings", -1, &c->n_ctx, error) ||
      !get_size (f, "num_key_value_heads", c->n_heads, &c->n_kv_heads, error) ||
      !get_size (f, "head_dim", c->d_model / c->n_heads, &c->d_head, error) ||
      !get_float (f, "rms_norm_eps", 1e-6, &c->norm_eps, error) ||
      !get_float (f, "rope_theta", 10000.0, &c->rope_theta, error) ||
      !get_string (f, "hidden_act", "silu", &act, error) ||
      !get_bool (f, "tie_word_embeddings", FALSE, &hc->layout.tied, error))
    return FALSE;
  if (field (f, "rope_scaling")) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                 "%s: field 'rope_scaling' is set; scaled RoPE is not supported", f->src);
    return FALSE;
  }
  if (strcmp (act, "silu") != 0) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                 "%s: hidden_act '%s' is not supported (silu is run)", f->src, act);
    return FALSE;
  }
  if (qwen2) {
    hc->layout.qkv_bias = TRUE; /* Qwen2Attention: q/k/v biases, none on o_proj */
  } else if (!mistral) {
    int attn_bias, mlp_bias;
    if (!get_bool (f, "attention_bias", FALSE, &attn_bias, error) || !get_bool (f, "mlp_bias", FALSE, &mlp_bias, error))
      return FALSE;
    hc->layout.qkv_bias = hc->layout.o_bias = attn_bias;
    if (mlp_bias) { /* StrataLayerWeights has no gate bias */
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                   "%s: field 'mlp_bias' is true; MLP biases are not supported for llama", f->src);
      return FALSE;
    }
  }
  /* Sliding-window attention equals full attention on sequences no longer than the
   * window, so the window bounds the context we accept. */
  if (!get_size (f, "sliding_window", 0, &sliding, error) ||
      !get_bool (f, "use_sliding_window", mistral, &use_sliding, error))
    return FALSE;
  if (use_sliding && sliding > 0 && sliding < c->n_ctx)
    c->n_ctx = sliding;
  return TRUE;
}

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
  if (strcmp (arch, "gpt2") == 0) {
    if (!parse_gpt2 (&f, hc, error))
      return FALSE;
  } else if (strcmp (arch, "llama") == 0 || strcmp (arch, "mistral") == 0 || strcmp (arch, "qwen2") == 0) {
    if (!parse_llama (&f, hc, error))
      return FALSE;
  } else {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                 "%s: model_type '%s' is not supported (gpt2, llama, mistral, qwen2)", src, arch);
    return FALSE;
  }
  if (!get_token_id (&f, "bos_token_id", &hc->bos_id, error) || !get_token_id (&f, "eos_token_id", &hc->eos_id, error))
    return FALSE;
  if (strcmp (arch, "gpt2") == 0) { /* absent ids keep GPT2Config's 50256 */
    if (hc->bos_id < 0)
      hc->bos_id = 50256;
    if (hc->eos_id < 0)
      hc->eos_id = 50256;
  }
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
