/* strata-hf.c: Hugging Face checkpoints (config.json + safetensors, single or sharded).
 *
 * One loader per family, found through `loaders` (the config's parser chose the family).
 * GPT-2 stores Conv1D weights as [in, out]; they are transposed once here to [out, in], and
 * the fused c_attn [C, 3C] is split into W_Q, W_K, W_V. Llama-family, Gemma 2, Qwen3, OLMo-2,
 * Phi-3 and GPT-NeoX weights are already [out, in] (NeoX's fused query_key_value is split per
 * head, Phi-3's qkv_proj and gate_up_proj by rows); their W_Q/W_K rows are in HF rotate_half
 * order, recorded as STRATA_ROPE_HALF and never permuted. */
#include <json-glib/json-glib.h>
#include <string.h>
#ifdef __SSE2__
#include <xmmintrin.h>
#endif

#include "strata-data-error.h"
#include "strata-model-private.h"
#include "strata-safetensors.h"
#include "strata-weights-device.h"

typedef struct {
  GPtrArray *shards; /* StrataSafetensors*, sorted by file name */
  StrataTensorSet set;
} Checkpoint;

static void
checkpoint_clear (Checkpoint *ck)
{
  strata_tensor_set_clear (&ck->set);
  g_clear_pointer (&ck->shards, g_ptr_array_unref);
}

static gboolean
add_shard (Checkpoint *ck, const char *path, GError **error)
{
  StrataSafetensors *st = strata_safetensors_open (path, error);
  if (!st)
    return FALSE;
  g_ptr_array_add (ck->shards, st);
  return TRUE;
}

/* model.safetensors.index.json: {"weight_map": {tensor name: shard file name}}. Every
 * tensor must be in the shard the index names. */
static gboolean
open_sharded (Checkpoint *ck, const char *index_path, GError **error)
{
  g_autofree char *src = g_path_get_basename (index_path);
  g_autofree char *dir = g_path_get_dirname (index_path);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) json_error = NULL;
  JsonNode *root, *map_node;

  if (!json_parser_load_from_mapped_file (parser, index_path, &json_error)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: cannot read: %s", src, json_error->message);
    return FALSE;
  }
  root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root) || !json_object_has_member (json_node_get_object (root), "weight_map") ||
      !JSON_NODE_HOLDS_OBJECT ((map_node = json_object_get_member (json_node_get_object (root), "weight_map")))) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: no 'weight_map' object", src);
    return FALSE;
  }
  JsonObject *map = json_node_get_object (map_node);
  g_autoptr (GList) names = json_object_get_members (map);
  g_autoptr (GHashTable) files = g_hash_table_new (g_str_hash, g_str_equal); /* shard name -> index + 1 */

  for (GList *l = names; l; l = l->next) {
    JsonNode *v = json_object_get_member (map, l->data);
    const char *file = JSON_NODE_HOLDS_VALUE (v) && json_node_get_value_type (v) == G_TYPE_STRING
                         ? json_node_get_string (v) : NULL;
    /* A shard is a plain file name beside the index, never a path elsewhere. */
    if (!file || !*file || strchr (file, '/') || strchr (file, '\\') || strcmp (file, "..") == 0 || strcmp (file, ".") == 0) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: weight_map entry '%s' is not a shard file name", src, (char *) l->data);
      return FALSE;
    }
    g_hash_table_add (files, (gpointer) file);
  }
  g_autoptr (GList) sorted = g_list_sort (g_hash_table_get_keys (files), (GCompareFunc) strcmp);
  for (GList *l = sorted; l; l = l->next) {
    g_autofree char *p = g_build_filename (dir, l->data, NULL);
    if (!add_shard (ck, p, error))
      return FALSE;
    g_hash_table_insert (files, l->data, GUINT_TO_POINTER (ck->shards->len));
  }
  for (GList *l = names; l; l = l->next) {
    const char *file = json_node_get_string (json_object_get_member (map, l->data));
    StrataSafetensors *st = ck->shards->pdata[GPOINTER_TO_UINT (g_hash_table_lookup (files, file)) - 1];
    const StrataTensorInfo *t = strata_safetensors_lookup (st, l->data);
    if (!t) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: tensor '%s' is not in %s, where the weight_map puts it", src, (char *) l->data, file);
      return FALSE;
    }
    strata_tensor_set_add (&ck->set, t);
  }
  return TRUE;
}

/* One tensor a loader wants: a matrix or an F32 vector of the weights, skipped when the
 * recipe has no such tensor. */
typedef struct {
  const char *name;
  guint64 d0, d1;
  StrataMat *mat;
  float *vec;
} Wanted;

static gboolean
load_wanted (const StrataTensorSet *set, StrataWeights *w, const char *prefix, const Wanted *t, gsize n,
             GError **error)
{
  for (gsize i = 0; i < n; i++) {
    if (t[i].mat ? !t[i].mat->data : !t[i].vec)
      continue;
    g_autofree char *name = g_strconcat (prefix, t[i].name, NULL);
    if (!(t[i].mat ? strata_tensor_set_load_mat (set, name, t[i].d0, t[i].d1, t[i].mat, w, error)
                   : strata_tensor_set_load (set, name, t[i].d0, t[i].d1, t[i].vec, error)))
      return FALSE;
  }
  return TRUE;
}

/* Rows [row0, row0 + rows) of a stored (_, cols) F32 matrix into `dst` (rows, cols). */
static void
store_rows (StrataMat *dst, const float *src, guint64 row0, guint64 rows, guint64 cols)
{
  strata_mat_store (dst, 0, src + row0 * cols, rows * cols);
}

/* dst[o][i] = src[i][col0 + o] for o < out, i < in: src is little-endian F32 bytes of rows
 * `stride` floats long, at any alignment (a file's own bytes). A transpose in tiles, so that
 * reads and writes both stay in cache; with SSE, 4x4 blocks of a tile move as four vectors
 * (GPT-2 small's 340 MB of Conv1D weights: 0.47 s one float at a time on this machine). */
static void
transpose_tiles (float *dst, const void *src, guint64 in, guint64 out, guint64 stride, guint64 col0)
{
  enum { TILE = 32 };
  const char *bytes = src;
  for (guint64 i0 = 0; i0 < in; i0 += TILE)
    for (guint64 o0 = 0; o0 < out; o0 += TILE) {
      guint64 i_end = MIN (i0 + TILE, in), o_end = MIN (o0 + TILE, out), i = i0;
#ifdef __SSE2__
      for (; i + 4 <= i_end; i += 4) {
        guint64 o = o0;
        for (; o + 4 <= o_end; o += 4) {
          const float *at = (const float *) (bytes + (i * stride + col0 + o) * sizeof (float));
          __m128 r0 = _mm_loadu_ps (at), r1 = _mm_loadu_ps (at + stride), r2 = _mm_loadu_ps (at + 2 * stride);
          __m128 r3 = _mm_loadu_ps (at + 3 * stride);
          _MM_TRANSPOSE4_PS (r0, r1, r2, r3);
          _mm_storeu_ps (dst + o * in + i, r0);
          _mm_storeu_ps (dst + (o + 1) * in + i, r1);
          _mm_storeu_ps (dst + (o + 2) * in + i, r2);
          _mm_storeu_ps (dst + (o + 3) * in + i, r3);
        }
        for (; o < o_end; o++)
          for (guint64 k = i; k < i + 4; k++)
            memcpy (dst + o * in + k, bytes + (k * stride + col0 + o) * sizeof (float), sizeof (float));
      }
#endif
      for (; i < i_end; i++)
        for (guint64 o = o0; o < o_end; o++)
          memcpy (dst + o * in + i, bytes + (i * stride + col0 + o) * sizeof (float), sizeof (float));
    }
}

/* Columns [col0, col0 + out) of a Conv1D weight held as [in, stride] in `src` (as
 * transpose_tiles reads it), stored into dst as [out, in]: straight into an F32 matrix, else
 * through `scratch` (in * out floats). */
static void
store_transposed (StrataMat *dst, const void *src, guint64 in, guint64 out, guint64 stride, guint64 col0,
                  float *scratch)
{
  float *t = dst->dtype == STRATA_DTYPE_F32 ? (float *) dst->data : scratch;
  transpose_tiles (t, src, in, out, stride, col0);
  if (t == scratch)
    store_rows (dst, t, 0, out, in);
}

/* The buffers the GPT-2 loader reuses for every layer (fresh pages per tensor cost as much as
 * the copy): `raw` holds one Conv1D weight converted to F32 when the file does not store F32,
 * `t` its transpose when the matrix is not F32. */
typedef struct {
  float *raw, *t;
} Gpt2Scratch;

/* The stored [in, out] Conv1D weight `name` as little-endian F32 bytes: the file's own bytes
 * when it stores F32 (transposed straight from the mapping, with no copy before), else
 * converted into scratch->raw. NULL with the error set. */
static const void *
conv1d_bytes (const StrataTensorSet *set, const char *name, guint64 in, guint64 out, const Gpt2Scratch *scratch,
              GError **error)
{
  const StrataTensorInfo *t = strata_tensor_set_get_checked (set, name, in, out, error);
  if (!t)
    return NULL;
  if (t->dtype == STRATA_DTYPE_F32 && G_BYTE_ORDER == G_LITTLE_ENDIAN)
    return t->data;
  strata_tensor_info_to_f32 (t, scratch->raw, t->n_elements);
  return scratch->raw;
}

/* Load a Conv1D weight stored [in, out] into dst as [out, in]. */
static gboolean
load_transposed (const StrataTensorSet *set, const char *name, guint64 in, guint64 out, StrataMat *dst,
                 const Gpt2Scratch *scratch, GError **error)
{
  const void *src = conv1d_bytes (set, name, in, out, scratch, error);
  if (src)
    store_transposed (dst, src, in, out, out, 0, scratch->t);
  return src != NULL;
}

static gboolean
load_gpt2 (const StrataTensorSet *set, StrataWeights *w, GError **error)
{
  const StrataConfig *c = &w->cfg;
  guint64 C = c->d_model, F = c->d_mlp, V = c->vocab, N = c->n_ctx;
  /* transformers' GPT2LMHeadModel saves "transformer.h.0..."; GPT2Model saves "h.0...". */
  const char *pre = strata_tensor_set_lookup (set, "transformer.wte.weight") ? "transformer." : "";
  guint64 largest = MAX (C * 3 * C, C * F);
  g_autofree float *raw = g_new (float, largest), *t = g_new (float, largest);
  const Gpt2Scratch scratch = { raw, t };
  g_autofree float *qkv_b = g_new (float, 3 * C);
  Wanted global[] = {
    { "wte.weight", V, C, &w->tok_embed, NULL }, { "wpe.weight", N, C, &w->pos_embed, NULL },
    { "ln_f.weight", C, 0, NULL, w->norm_f_w },  { "ln_f.bias", C, 0, NULL, w->norm_f_b },
  };
  gboolean ok = load_wanted (set, w, pre, global, G_N_ELEMENTS (global), error);
  for (int l = 0; ok && l < c->n_layers; l++) {
    StrataLayerWeights *lw = &w->layers[l];
    g_autofree char *p = g_strdup_printf ("%sh.%d.", pre, l);
    g_autofree char *aw = g_strconcat (p, "attn.c_attn.weight", NULL), *ab = g_strconcat (p, "attn.c_attn.bias", NULL);
    g_autofree char *ow = g_strconcat (p, "attn.c_proj.weight", NULL);
    g_autofree char *fw = g_strconcat (p, "mlp.c_fc.weight", NULL), *dw = g_strconcat (p, "mlp.c_proj.weight", NULL);
    Wanted vectors[] = {
      { "ln_1.weight", C, 0, NULL, lw->norm1_w },      { "ln_1.bias", C, 0, NULL, lw->norm1_b },
      { "attn.c_proj.bias", C, 0, NULL, lw->b_o },     { "ln_2.weight", C, 0, NULL, lw->norm2_w },
      { "ln_2.bias", C, 0, NULL, lw->norm2_b },        { "mlp.c_fc.bias", F, 0, NULL, lw->b_up },
      { "mlp.c_proj.bias", C, 0, NULL, lw->b_down },
    };
    const void *qkv = NULL;
    ok = load_wanted (set, w, p, vectors, G_N_ELEMENTS (vectors), error) &&
         load_transposed (set, ow, C, C, &lw->w_o, &scratch, error) &&
         load_transposed (set, fw, C, F, &lw->w_up, &scratch, error) &&
         load_transposed (set, dw, F, C, &lw->w_down, &scratch, error) &&
         strata_tensor_set_load (set, ab, 3 * C, 0, qkv_b, error) &&
         (qkv = conv1d_bytes (set, aw, C, 3 * C, &scratch, error)) != NULL;
    if (!ok)
      break;
    /* c_attn (C_in, 3C_out): output columns [0,C) are q, [C,2C) k, [2C,3C) v. */
    StrataMat *dst[3] = { &lw->w_q, &lw->w_k, &lw->w_v };
    float *dst_b[3] = { lw->b_q, lw->b_k, lw->b_v };
    for (int s = 0; s < 3; s++) {
      store_transposed (dst[s], qkv, C, C, 3 * C, s * C, t);
      memcpy (dst_b[s], qkv_b + s * C, C * sizeof (float));
    }
    strata_weights_layer_loaded (w, l);
  }
  if (ok && !c->recipe.tied)
    ok = strata_tensor_set_load_mat (set, "lm_head.weight", V, C, &w->unembed, w, error);
  return ok;
}

/* The global tensors of Llama and its descendants. */
static gboolean
load_llama_globals (const StrataTensorSet *set, StrataWeights *w, GError **error)
{
  const StrataConfig *c = &w->cfg;
  guint64 C = c->d_model, V = c->vocab;
  Wanted global[] = {
    { "model.embed_tokens.weight", V, C, &w->tok_embed, NULL }, { "model.norm.weight", C, 0, NULL, w->norm_f_w },
    { "lm_head.weight", V, C, c->recipe.tied ? NULL : &w->unembed, NULL }, /* tied: the embedding */
  };
  return load_wanted (set, w, "", global, G_N_ELEMENTS (global), error);
}

/* What a Llama-style family calls the norms around its sublayers (NULL: it has none). */
typedef struct {
  const char *norm2;     /* before the MLP */
  const char *attn_post; /* on the attention output */
  const char *mlp_post;  /* on the MLP output */
} NormNames;

/* Llama, Qwen3, Gemma 2, OLMo-2: separate q/k/v/o and gate/up/down projections under
 * model.layers.N.; a tensor the recipe lacks (a bias, a q/k norm, a pre-norm) is not read. */
static gboolean
load_decoder (const StrataTensorSet *set, StrataWeights *w, const NormNames *nn, GError **error)
{
  const StrataConfig *c = &w->cfg;
  guint64 C = c->d_model, HD = (guint64) c->n_heads * c->d_head, KD = (guint64) c->n_kv_heads * c->d_head;
  guint64 F = c->d_mlp;
  gboolean whole = c->recipe.qk_norm == STRATA_QK_NORM_WHOLE;
  guint64 QN = whole ? HD : (guint64) c->d_head, KN = whole ? KD : (guint64) c->d_head;
  gboolean ok = load_llama_globals (set, w, error);
  for (int l = 0; ok && l < c->n_layers; l++) {
    StrataLayerWeights *lw = &w->layers[l];
    g_autofree char *norm2 = g_strconcat (nn->norm2 ? nn->norm2 : "", ".weight", NULL);
    g_autofree char *attn_post = g_strconcat (nn->attn_post ? nn->attn_post : "", ".weight", NULL);
    g_autofree char *mlp_post = g_strconcat (nn->mlp_post ? nn->mlp_post : "", ".weight", NULL);
    Wanted t[] = {
      { "input_layernorm.weight", C, 0, NULL, lw->norm1_w },
      { "self_attn.q_proj.weight", HD, C, &lw->w_q, NULL }, { "self_attn.q_proj.bias", HD, 0, NULL, lw->b_q },
      { "self_attn.k_proj.weight", KD, C, &lw->w_k, NULL }, { "self_attn.k_proj.bias", KD, 0, NULL, lw->b_k },
      { "self_attn.v_proj.weight", KD, C, &lw->w_v, NULL }, { "self_attn.v_proj.bias", KD, 0, NULL, lw->b_v },
      { "self_attn.q_norm.weight", QN, 0, NULL, lw->q_norm_w }, { "self_attn.k_norm.weight", KN, 0, NULL, lw->k_norm_w },
      { "self_attn.o_proj.weight", C, HD, &lw->w_o, NULL }, { "self_attn.o_proj.bias", C, 0, NULL, lw->b_o },
      { attn_post, C, 0, NULL, nn->attn_post ? lw->attn_post_w : NULL },
      { norm2, C, 0, NULL, nn->norm2 ? lw->norm2_w : NULL },
      { "mlp.gate_proj.weight", F, C, &lw->w_gate, NULL }, { "mlp.gate_proj.bias", F, 0, NULL, lw->b_gate },
      { "mlp.up_proj.weight", F, C, &lw->w_up, NULL },     { "mlp.up_proj.bias", F, 0, NULL, lw->b_up },
      { "mlp.down_proj.weight", C, F, &lw->w_down, NULL }, { "mlp.down_proj.bias", C, 0, NULL, lw->b_down },
      { mlp_post, C, 0, NULL, nn->mlp_post ? lw->mlp_post_w : NULL },
    };
    g_autofree char *prefix = g_strdup_printf ("model.layers.%d.", l);
    ok = load_wanted (set, w, prefix, t, G_N_ELEMENTS (t), error);
    if (ok)
      strata_weights_layer_loaded (w, l);
  }
  return ok;
}

/* Llama, Mistral, Qwen2 and Qwen3 (whose q_norm/k_norm the recipe adds). */
static gboolean
load_llama (const StrataTensorSet *set, StrataWeights *w, GError **error)
{
  static const NormNames names = { "post_attention_layernorm", NULL, NULL };
  return load_decoder (set, w, &names, error);
}

/* Gemma 2: input_layernorm, post_attention_layernorm (on the attention output),
 * pre_feedforward_layernorm and post_feedforward_layernorm; stored gains are w of 1 + w. */
static gboolean
load_gemma2 (const StrataTensorSet *set, StrataWeights *w, GError **error)
{
  static const NormNames names = { "pre_feedforward_layernorm", "post_attention_layernorm", "post_feedforward_layernorm" };
  return load_decoder (set, w, &names, error);
}

/* OLMo-2: no input_layernorm; its post_attention_layernorm is on the attention output. */
static gboolean
load_olmo2 (const StrataTensorSet *set, StrataWeights *w, GError **error)
{
  static const NormNames names = { NULL, "post_attention_layernorm", "post_feedforward_layernorm" };
  return load_decoder (set, w, &names, error);
}

/* Phi-3: qkv_proj (H*D + 2*K*D, C) holds the rows of q, then k, then v; gate_up_proj (2F, C)
 * the rows of gate, then up (transformers splits the outputs with chunk(2)). */
static gboolean
load_phi3 (const StrataTensorSet *set, StrataWeights *w, GError **error)
{
  const StrataConfig *c = &w->cfg;
  guint64 C = c->d_model, HD = (guint64) c->n_heads * c->d_head, KD = (guint64) c->n_kv_heads * c->d_head;
  guint64 F = c->d_mlp;
  g_autofree float *qkv = g_new (float, (HD + 2 * KD) * C);
  g_autofree float *gate_up = g_new (float, 2 * F * C);
  gboolean ok = load_llama_globals (set, w, error);
  for (int l = 0; ok && l < c->n_layers; l++) {
    StrataLayerWeights *lw = &w->layers[l];
    Wanted t[] = {
      { "input_layernorm.weight", C, 0, NULL, lw->norm1_w },
      { "self_attn.o_proj.weight", C, HD, &lw->w_o, NULL },
      { "post_attention_layernorm.weight", C, 0, NULL, lw->norm2_w },
      { "mlp.down_proj.weight", C, F, &lw->w_down, NULL },
    };
    g_autofree char *prefix = g_strdup_printf ("model.layers.%d.", l);
    g_autofree char *qkv_name = g_strconcat (prefix, "self_attn.qkv_proj.weight", NULL);
    g_autofree char *gate_up_name = g_strconcat (prefix, "mlp.gate_up_proj.weight", NULL);
    ok = load_wanted (set, w, prefix, t, G_N_ELEMENTS (t), error) &&
         strata_tensor_set_load (set, qkv_name, HD + 2 * KD, C, qkv, error) &&
         strata_tensor_set_load (set, gate_up_name, 2 * F, C, gate_up, error);
    if (!ok)
      break;
    store_rows (&lw->w_q, qkv, 0, HD, C);
    store_rows (&lw->w_k, qkv, HD, KD, C);
    store_rows (&lw->w_v, qkv, HD + KD, KD, C);
    store_rows (&lw->w_gate, gate_up, 0, F, C);
    store_rows (&lw->w_up, gate_up, F, F, C);
    strata_weights_layer_loaded (w, l);
  }
  return ok;
}

/* GPT-NeoX: query_key_value (3C, C) holds, per head h, the rows of q_h, k_h and v_h in turn
 * (transformers views it as (H, 3, D)). */
static gboolean
load_neox (const StrataTensorSet *set, StrataWeights *w, GError **error)
{
  const StrataConfig *c = &w->cfg;
  guint64 C = c->d_model, F = c->d_mlp, V = c->vocab, H = c->n_heads, D = c->d_head;
  Wanted global[] = {
    { "gpt_neox.embed_in.weight", V, C, &w->tok_embed, NULL },
    { "gpt_neox.final_layer_norm.weight", C, 0, NULL, w->norm_f_w },
    { "gpt_neox.final_layer_norm.bias", C, 0, NULL, w->norm_f_b },
    { "embed_out.weight", V, C, c->recipe.tied ? NULL : &w->unembed, NULL },
  };
  g_autofree float *qkv = g_new (float, 3 * C * C);
  g_autofree float *qkv_b = g_new (float, 3 * C);
  g_autofree float *part = g_new (float, C * C);
  gboolean ok = load_wanted (set, w, "", global, G_N_ELEMENTS (global), error);
  for (int l = 0; ok && l < c->n_layers; l++) {
    StrataLayerWeights *lw = &w->layers[l];
    Wanted t[] = {
      { "input_layernorm.weight", C, 0, NULL, lw->norm1_w },    { "input_layernorm.bias", C, 0, NULL, lw->norm1_b },
      { "attention.dense.weight", C, C, &lw->w_o, NULL },         { "attention.dense.bias", C, 0, NULL, lw->b_o },
      { "post_attention_layernorm.weight", C, 0, NULL, lw->norm2_w },
      { "post_attention_layernorm.bias", C, 0, NULL, lw->norm2_b },
      { "mlp.dense_h_to_4h.weight", F, C, &lw->w_up, NULL },      { "mlp.dense_h_to_4h.bias", F, 0, NULL, lw->b_up },
      { "mlp.dense_4h_to_h.weight", C, F, &lw->w_down, NULL },    { "mlp.dense_4h_to_h.bias", C, 0, NULL, lw->b_down },
    };
    g_autofree char *prefix = g_strdup_printf ("gpt_neox.layers.%d.", l);
    g_autofree char *qw = g_strconcat (prefix, "attention.query_key_value.weight", NULL);
    g_autofree char *qb = g_strconcat (prefix, "attention.query_key_value.bias", NULL);
    ok = load_wanted (set, w, prefix, t, G_N_ELEMENTS (t), error) && strata_tensor_set_load (set, qw, 3 * C, C, qkv, error);
    if (ok && lw->b_q)
      ok = strata_tensor_set_load (set, qb, 3 * C, 0, qkv_b, error);
    StrataMat *dst[3] = { &lw->w_q, &lw->w_k, &lw->w_v };
    float *dst_b[3] = { lw->b_q, lw->b_k, lw->b_v };
    for (int s = 0; ok && s < 3; s++) {
      for (guint64 h = 0; h < H; h++) {
        memcpy (part + h * D * C, qkv + (3 * h + s) * D * C, D * C * sizeof (float));
        if (dst_b[s])
          memcpy (dst_b[s] + h * D, qkv_b + (3 * h + s) * D, D * sizeof (float));
      }
      store_rows (dst[s], part, 0, C, C);
    }
    if (ok)
      strata_weights_layer_loaded (w, l);
  }
  return ok;
}

/* The tensors of each family, and where its token embedding is (for the stored dtype). */
static const struct {
  StrataFamily family;
  gboolean (*load) (const StrataTensorSet *set, StrataWeights *w, GError **error);
  const char *embedding[2];
  gboolean add_bos; /* transformers' tokenizer default, before tokenizer_config.json */
} loaders[] = {
  { STRATA_FAMILY_GPT2, load_gpt2, { "wte.weight", "transformer.wte.weight" }, FALSE },
  { STRATA_FAMILY_LLAMA, load_llama, { "model.embed_tokens.weight", NULL }, TRUE },
  { STRATA_FAMILY_NEOX, load_neox, { "gpt_neox.embed_in.weight", NULL }, FALSE },
  { STRATA_FAMILY_GEMMA2, load_gemma2, { "model.embed_tokens.weight", NULL }, TRUE },
  { STRATA_FAMILY_QWEN3, load_llama, { "model.embed_tokens.weight", NULL }, FALSE },
  { STRATA_FAMILY_OLMO2, load_olmo2, { "model.embed_tokens.weight", NULL }, FALSE },
  { STRATA_FAMILY_PHI3, load_phi3, { "model.embed_tokens.weight", NULL }, TRUE },
};

/* add_bos_token of tokenizer_config.json, when the file exists and states it. */
static gboolean
read_add_bos (const char *dir, gboolean *add_bos, GError **error)
{
  g_autofree char *path = g_build_filename (dir, "tokenizer_config.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) json_error = NULL;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return TRUE;
  if (!json_parser_load_from_mapped_file (parser, path, &json_error)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "tokenizer_config.json: cannot read: %s",
                 json_error->message);
    return FALSE;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    return TRUE;
  JsonObject *obj = json_node_get_object (root);
  JsonNode *n = json_object_has_member (obj, "add_bos_token") ? json_object_get_member (obj, "add_bos_token") : NULL;
  if (n && !JSON_NODE_HOLDS_NULL (n)) {
    if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "tokenizer_config.json: field 'add_bos_token' must be true or false");
      return FALSE;
    }
    *add_bos = json_node_get_boolean (n);
  }
  return TRUE;
}

static StrataTokenizer *
open_hf_tokenizer (const char *dir, int vocab, GError **error)
{
  g_autofree char *json = g_build_filename (dir, "tokenizer.json", NULL);
  g_autofree char *vj = g_build_filename (dir, "vocab.json", NULL);
  g_autofree char *merges = g_build_filename (dir, "merges.txt", NULL);
  if (g_file_test (json, G_FILE_TEST_IS_REGULAR))
    return strata_tokenizer_new_hf_json (json, error);
  if (g_file_test (vj, G_FILE_TEST_IS_REGULAR) && g_file_test (merges, G_FILE_TEST_IS_REGULAR))
    return strata_tokenizer_new_gpt2 (vj, merges, error);
  return NULL;
}

/* Open the weight file(s) named by `path` into ck. */
static gboolean
open_checkpoint (Checkpoint *ck, const char *path, gboolean is_dir, const char *dir, GError **error)
{
  g_autofree char *single = g_build_filename (dir, "model.safetensors", NULL);
  g_autofree char *index = g_build_filename (dir, "model.safetensors.index.json", NULL);

  if (!is_dir && g_str_has_suffix (path, ".index.json")) {
    ck->set.source = "model.safetensors.index.json";
    return open_sharded (ck, path, error);
  }
  if (!is_dir || g_file_test (single, G_FILE_TEST_IS_REGULAR)) {
    if (!add_shard (ck, is_dir ? single : path, error))
      return FALSE;
    StrataSafetensors *st = ck->shards->pdata[0];
    ck->set.source = strata_safetensors_get_source (st);
    for (guint i = 0; i < strata_safetensors_get_n_tensors (st); i++)
      strata_tensor_set_add (&ck->set, strata_safetensors_get_tensor (st, i));
    return TRUE;
  }
  if (g_file_test (index, G_FILE_TEST_IS_REGULAR)) {
    ck->set.source = "model.safetensors.index.json";
    return open_sharded (ck, index, error);
  }
  g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO,
               "%s: no model.safetensors or model.safetensors.index.json beside config.json", dir);
  return FALSE;
}

/* The tokenizer of a checkpoint, opened on a thread of its own while the weights load. */
typedef struct {
  const char *dir, *path; /* path: the --tokenizer file, else NULL: the checkpoint's own */
  int vocab;
  StrataTokenizer *tokenizer;
  GError *error;
} TokenizerOpen;

static gpointer
open_tokenizer_thread (gpointer data)
{
  TokenizerOpen *t = data;
  t->tokenizer = t->path ? strata_tokenizer_open_path (t->path, t->vocab, &t->error)
                         : open_hf_tokenizer (t->dir, t->vocab, &t->error);
  return NULL;
}

static gboolean
load_checkpoint (StrataModel *m, const StrataHfConfig *hc, Checkpoint *ck, const char *dir,
                 const char *tokenizer_path, GError **error)
{
  gsize li = 0;
  while (li < G_N_ELEMENTS (loaders) && loaders[li].family != hc->cfg.family)
    li++;
  g_assert (li < G_N_ELEMENTS (loaders)); /* every family a parser sets has a loader */
  /* The file's digest (large files first, alone; else on a thread) and the tokenizer (on a
   * thread) while the weights load: GPT-2 small's transposes, hash and vocabulary overlap. */
  g_autofree GMappedFile **maps = g_new0 (GMappedFile *, ck->shards->len + 1);
  for (guint i = 0; i < ck->shards->len; i++)
    maps[i] = strata_safetensors_get_mapped_file (ck->shards->pdata[i]);
  m->weights_hash = strata_sha256_start (maps, ck->shards->len);
  TokenizerOpen tok = { dir, tokenizer_path, hc->cfg.vocab, NULL, NULL };
  GThread *tok_thread = g_thread_new ("strata-tokenizer", open_tokenizer_thread, &tok);

  StrataDType stored = strata_tensor_set_matrix_dtype (&ck->set);
  m->weights = strata_model_new_weights (m, &hc->cfg, strata_matrix_dtype_all, &stored, "config.json", error);
  gboolean ok = m->weights && loaders[li].load (&ck->set, m->weights, error);
  g_thread_join (tok_thread);
  m->tokenizer = tok.tokenizer;
  if (ok && tok.error) {
    g_propagate_error (error, tok.error);
    return FALSE;
  }
  g_clear_error (&tok.error);
  if (!ok)
    return FALSE;
  /* Loading succeeded, so the embedding exists under one of the names. */
  const StrataTensorInfo *emb = strata_tensor_set_lookup (&ck->set, loaders[li].embedding[0]);
  if (!emb)
    emb = strata_tensor_set_lookup (&ck->set, loaders[li].embedding[1]);
  m->dtype = emb->dtype;
  m->arch = g_strdup (hc->arch);
  m->bos_id = hc->bos_id < hc->cfg.vocab ? hc->bos_id : -1;
  m->eos_id = hc->eos_id < hc->cfg.vocab ? hc->eos_id : -1;
  m->add_bos = loaders[li].add_bos;
  return read_add_bos (dir, &m->add_bos, error);
}

gboolean
strata_hf_load (StrataModel *m, const char *path, const char *tokenizer_path, GError **error)
{
  gboolean is_dir = g_file_test (path, G_FILE_TEST_IS_DIR);
  g_autofree char *dir = is_dir ? g_strdup (path) : g_path_get_dirname (path);
  g_autofree char *config = g_build_filename (dir, "config.json", NULL);
  g_auto (StrataHfConfig) hc = { 0 };
  Checkpoint ck = { g_ptr_array_new_with_free_func ((GDestroyNotify) strata_safetensors_free), { 0 } };

  strata_tensor_set_init (&ck.set, "model.safetensors");
  gboolean ok = strata_hf_config_load (config, &hc, error) && open_checkpoint (&ck, path, is_dir, dir, error) &&
                load_checkpoint (m, &hc, &ck, dir, tokenizer_path, error);
  checkpoint_clear (&ck);
  return ok;
}
