/* strata-hf-write.c: GPT-2 weights back to a Hugging Face folder (strata-hf-write.h): the
 * inverse of load_gpt2 in strata-hf.c. */
#include "strata-hf-write.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "strata-data-error.h"

/* One tensor in the file's layout, owned. */
typedef struct {
  char *name;
  gint64 rows, cols; /* cols 0: a vector */
  float *data;
} OutTensor;

static void
out_tensor_clear (gpointer p)
{
  OutTensor *t = p;
  g_free (t->name);
  g_free (t->data);
}

static void
add_copy (GArray *out, char *name, const float *src, gint64 rows, gint64 cols)
{
  OutTensor t = { name, rows, cols, g_memdup2 (src, (gsize) rows * MAX (cols, 1) * sizeof (float)) };
  g_array_append_val (out, t);
}

/* Strata's [out, in] matrices -> Conv1D's [in, out]; several of them side by side along the
 * output axis (c_attn: W_Q, W_K, W_V). */
static void
add_conv1d (GArray *out, char *name, const StrataMat *const *mats, int n, gint64 out_f, gint64 in_f)
{
  OutTensor t = { name, in_f, out_f * n, g_new (float, (gsize) in_f * out_f * n) };
  for (int s = 0; s < n; s++) {
    const float *w = mats[s]->data;
    for (gint64 o = 0; o < out_f; o++)
      for (gint64 i = 0; i < in_f; i++)
        t.data[i * out_f * n + s * out_f + o] = w[o * in_f + i];
  }
  g_array_append_val (out, t);
}

static void
add_bias3 (GArray *out, char *name, const float *a, const float *b, const float *c, gint64 n)
{
  OutTensor t = { name, 3 * n, 0, g_new (float, (gsize) 3 * n) };
  memcpy (t.data, a, n * sizeof (float));
  memcpy (t.data + n, b, n * sizeof (float));
  memcpy (t.data + 2 * n, c, n * sizeof (float));
  g_array_append_val (out, t);
}

static GArray *
hf_tensors (const StrataWeights *w)
{
  const StrataConfig *g = &w->cfg;
  gint64 C = g->d_model, F = g->d_mlp, V = g->vocab, N = g->n_ctx, HD = (gint64) g->n_heads * g->d_head;
  GArray *out = g_array_new (FALSE, FALSE, sizeof (OutTensor));
  g_array_set_clear_func (out, out_tensor_clear);
  add_copy (out, g_strdup ("wte.weight"), w->tok_embed.data, V, C);
  add_copy (out, g_strdup ("wpe.weight"), w->pos_embed.data, N, C);
  for (int l = 0; l < g->n_layers; l++) {
    const StrataLayerWeights *lw = &w->layers[l];
    const StrataMat *qkv[] = { &lw->w_q, &lw->w_k, &lw->w_v }, *o[] = { &lw->w_o }, *up[] = { &lw->w_up },
                    *down[] = { &lw->w_down };
    add_copy (out, g_strdup_printf ("h.%d.ln_1.weight", l), lw->norm1_w, C, 0);
    add_copy (out, g_strdup_printf ("h.%d.ln_1.bias", l), lw->norm1_b, C, 0);
    add_conv1d (out, g_strdup_printf ("h.%d.attn.c_attn.weight", l), qkv, 3, HD, C);
    add_bias3 (out, g_strdup_printf ("h.%d.attn.c_attn.bias", l), lw->b_q, lw->b_k, lw->b_v, HD);
    add_conv1d (out, g_strdup_printf ("h.%d.attn.c_proj.weight", l), o, 1, C, HD);
    add_copy (out, g_strdup_printf ("h.%d.attn.c_proj.bias", l), lw->b_o, C, 0);
    add_copy (out, g_strdup_printf ("h.%d.ln_2.weight", l), lw->norm2_w, C, 0);
    add_copy (out, g_strdup_printf ("h.%d.ln_2.bias", l), lw->norm2_b, C, 0);
    add_conv1d (out, g_strdup_printf ("h.%d.mlp.c_fc.weight", l), up, 1, F, C);
    add_copy (out, g_strdup_printf ("h.%d.mlp.c_fc.bias", l), lw->b_up, F, 0);
    add_conv1d (out, g_strdup_printf ("h.%d.mlp.c_proj.weight", l), down, 1, C, F);
    add_copy (out, g_strdup_printf ("h.%d.mlp.c_proj.bias", l), lw->b_down, C, 0);
  }
  add_copy (out, g_strdup ("ln_f.weight"), w->norm_f_w, C, 0);
  add_copy (out, g_strdup ("ln_f.bias"), w->norm_f_b, C, 0);
  if (!g->recipe.tied)
    add_copy (out, g_strdup ("lm_head.weight"), w->unembed.data, V, C);
  return out;
}

/* safetensors: an 8-byte little-endian header length, the JSON header padded with spaces
 * to a multiple of 8, then the tensors' bytes in the header's order. */
static GBytes *
safetensors_bytes (GArray *tensors)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "__metadata__");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_string_value (b, "pt");
  json_builder_end_object (b);
  guint64 offset = 0;
  for (guint i = 0; i < tensors->len; i++) {
    const OutTensor *t = &g_array_index (tensors, OutTensor, i);
    guint64 bytes = (guint64) t->rows * MAX (t->cols, 1) * sizeof (float);
    json_builder_set_member_name (b, t->name);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "dtype");
    json_builder_add_string_value (b, "F32");
    json_builder_set_member_name (b, "shape");
    json_builder_begin_array (b);
    json_builder_add_int_value (b, t->rows);
    if (t->cols > 0)
      json_builder_add_int_value (b, t->cols);
    json_builder_end_array (b);
    json_builder_set_member_name (b, "data_offsets");
    json_builder_begin_array (b);
    json_builder_add_int_value (b, (gint64) offset);
    json_builder_add_int_value (b, (gint64) (offset + bytes));
    json_builder_end_array (b);
    json_builder_end_object (b);
    offset += bytes;
  }
  json_builder_end_object (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  gsize header_len = 0;
  g_autofree char *header = json_generator_to_data (gen, &header_len);
  guint64 padded = (header_len + 7) / 8 * 8;
  GByteArray *buf = g_byte_array_sized_new ((guint) (8 + padded + offset));
  guint64 le = GUINT64_TO_LE (padded);
  g_byte_array_append (buf, (const guint8 *) &le, 8);
  g_byte_array_append (buf, (const guint8 *) header, (guint) header_len);
  for (guint64 i = header_len; i < padded; i++)
    g_byte_array_append (buf, (const guint8 *) " ", 1);
  for (guint i = 0; i < tensors->len; i++) {
    const OutTensor *t = &g_array_index (tensors, OutTensor, i);
    g_byte_array_append (buf, (const guint8 *) t->data, (guint) (t->rows * MAX (t->cols, 1) * sizeof (float)));
  }
  return g_byte_array_free_to_bytes (buf);
}

static char *
config_json (const StrataWeights *w, int bos_id, int eos_id)
{
  const StrataConfig *g = &w->cfg;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "architectures");
  json_builder_begin_array (b);
  json_builder_add_string_value (b, "GPT2LMHeadModel");
  json_builder_end_array (b);
  const struct { const char *key; const char *value; } strings[] = {
    { "model_type", "gpt2" }, { "activation_function", "gelu_new" }, { "torch_dtype", "float32" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (strings); i++) {
    json_builder_set_member_name (b, strings[i].key);
    json_builder_add_string_value (b, strings[i].value);
  }
  const struct { const char *key; gint64 value; } ints[] = {
    { "n_layer", g->n_layers }, { "n_embd", g->d_model }, { "n_head", g->n_heads }, { "n_inner", g->d_mlp },
    { "n_positions", g->n_ctx }, { "n_ctx", g->n_ctx }, { "vocab_size", g->vocab },
    { "bos_token_id", bos_id }, { "eos_token_id", eos_id },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (ints); i++)
    if (ints[i].value >= 0) {
      json_builder_set_member_name (b, ints[i].key);
      json_builder_add_int_value (b, ints[i].value);
    }
  /* The shortest decimal that gives the float back, as a double: 1e-05, not the float's
   * exact 9.99999974737875e-06. */
  char eps[32];
  for (int digits = 1; digits <= 9; digits++) {
    g_snprintf (eps, sizeof eps, "%.*g", digits, (double) g->recipe.norm.eps);
    if ((float) g_ascii_strtod (eps, NULL) == g->recipe.norm.eps)
      break;
  }
  json_builder_set_member_name (b, "layer_norm_epsilon");
  json_builder_add_double_value (b, g_ascii_strtod (eps, NULL));
  json_builder_set_member_name (b, "tie_word_embeddings");
  json_builder_add_boolean_value (b, g->recipe.tied);
  json_builder_end_object (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  return json_generator_to_data (gen, NULL);
}

static gboolean
write_file (const char *dir, const char *name, const void *data, gsize len, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) local = NULL;
  if (g_file_set_contents_full (path, data, (gssize) len, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &local))
    return TRUE;
  g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: %s", path, local->message);
  return FALSE;
}

gboolean
strata_hf_write_gpt2 (const StrataWeights *w, const char *dir, int bos_id, int eos_id, GError **error)
{
  if (w->cfg.family != STRATA_FAMILY_GPT2 || !w->cfg.recipe.learned_pos || !w->cfg.recipe.qkv_bias) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                 "%s: only GPT-2 models can be written as a Hugging Face checkpoint (this one is %s)", dir,
                 strata_family_label (w->cfg.family));
    return FALSE;
  }
  if (!strata_weights_matrices_in (w, 1u << STRATA_DTYPE_F32)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                 "%s: the checkpoint writer takes F32 weights only", dir);
    return FALSE;
  }
  if (g_mkdir_with_parents (dir, 0755) != 0) {
    int saved = errno;
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: cannot create the folder: %s", dir,
                 g_strerror (saved));
    return FALSE;
  }
  g_autoptr (GArray) tensors = hf_tensors (w);
  g_autoptr (GBytes) st = safetensors_bytes (tensors);
  g_autofree char *config = config_json (w, bos_id, eos_id);
  gsize len = 0;
  const void *data = g_bytes_get_data (st, &len);
  return write_file (dir, "model.safetensors", data, len, error) &&
         write_file (dir, "config.json", config, strlen (config), error);
}
