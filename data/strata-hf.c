/* strata-hf.c: Hugging Face checkpoints (config.json + safetensors, single or sharded).
 *
 * GPT-2 stores Conv1D weights as [in, out]; they are transposed once here to [out, in], and
 * the fused c_attn [C, 3C] is split into W_Q, W_K, W_V. Llama-family weights are already
 * [out, in]; their W_Q/W_K rows are in HF rotate_half order, recorded as STRATA_ROPE_HALF
 * and never permuted. */
#include <json-glib/json-glib.h>
#include <string.h>

#include "strata-data-error.h"
#include "strata-model-private.h"
#include "strata-safetensors.h"

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

/* Load a Conv1D weight stored [in, out] into dst as [out, in]. */
static gboolean
load_transposed (const StrataTensorSet *set, const char *name, guint64 in, guint64 out, float *dst, GError **error)
{
  g_autofree float *tmp = g_new (float, in * out);
  if (!strata_tensor_set_load (set, name, in, out, tmp, error))
    return FALSE;
  for (guint64 o = 0; o < out; o++)
    for (guint64 i = 0; i < in; i++)
      dst[o * in + i] = tmp[i * out + o];
  return TRUE;
}

static gboolean
load_gpt2 (const StrataTensorSet *set, StrataWeights *w, GError **error)
{
  const StrataConfig *c = &w->cfg;
  guint64 C = c->d_model, F = c->d_mlp, V = c->vocab, N = c->n_ctx;
  /* transformers' GPT2LMHeadModel saves "transformer.h.0..."; GPT2Model saves "h.0...". */
  const char *pre = strata_tensor_set_lookup (set, "transformer.wte.weight") ? "transformer." : "";
  g_autofree float *qkv = g_new (float, C * 3 * C);
  g_autofree float *qkv_b = g_new (float, 3 * C);
  gboolean ok = TRUE;

  {
    g_autofree char *wte = g_strconcat (pre, "wte.weight", NULL), *wpe = g_strconcat (pre, "wpe.weight", NULL);
    g_autofree char *lnw = g_strconcat (pre, "ln_f.weight", NULL), *lnb = g_strconcat (pre, "ln_f.bias", NULL);
    ok = strata_tensor_set_load (set, wte, V, C, w->tok_embed, error) &&
         strata_tensor_set_load (set, wpe, N, C, w->pos_embed, error) &&
         strata_tensor_set_load (set, lnw, C, 0, w->norm_f_w, error) &&
         strata_tensor_set_load (set, lnb, C, 0, w->norm_f_b, error);
  }
  for (int l = 0; ok && l < c->n_layers; l++) {
    StrataLayerWeights *lw = &w->layers[l];
    g_autofree char *p = g_strdup_printf ("%sh.%d.", pre, l);
    g_autofree char *ln1w = g_strconcat (p, "ln_1.weight", NULL), *ln1b = g_strconcat (p, "ln_1.bias", NULL);
    g_autofree char *ln2w = g_strconcat (p, "ln_2.weight", NULL), *ln2b = g_strconcat (p, "ln_2.bias", NULL);
    g_autofree char *aw = g_strconcat (p, "attn.c_attn.weight", NULL), *ab = g_strconcat (p, "attn.c_attn.bias", NULL);
    g_autofree char *ow = g_strconcat (p, "attn.c_proj.weight", NULL), *ob = g_strconcat (p, "attn.c_proj.bias", NULL);
    g_autofree char *fw = g_strconcat (p, "mlp.c_fc.weight", NULL), *fb = g_strconcat (p, "mlp.c_fc.bias", NULL);
    g_autofree char *dw = g_strconcat (p, "mlp.c_proj.weight", NULL), *db = g_strconcat (p, "mlp.c_proj.bias", NULL);
    ok = strata_tensor_set_load (set, ln1w, C, 0, lw->norm1_w, error) &&
         strata_tensor_set_load (set, ln1b, C, 0, lw->norm1_b, error) &&
         strata_tensor_set_load (set, aw, C, 3 * C, qkv, error) &&
         strata_tensor_set_load (set, ab, 3 * C, 0, qkv_b, error) &&
         load_transposed (set, ow, C, C, lw->w_o, error) &&
         strata_tensor_set_load (set, ob, C, 0, lw->b_o, error) &&
         strata_tensor_set_load (set, ln2w, C, 0, lw->norm2_w, error) &&
         strata_tensor_set_load (set, ln2b, C, 0, lw->norm2_b, error) &&
         load_transposed (set, fw, C, F, lw->w_up, error) &&
         strata_tensor_set_load (set, fb, F, 0, lw->b_up, error) &&
         load_transposed (set, dw, F, C, lw->w_down, error) &&
         strata_tensor_set_load (set, db, C, 0, lw->b_down, error);
    if (!ok)
      break;
    /* c_attn (C_in, 3C_out): output columns [0,C) are q, [C,2C) k, [2C,3C) v. */
    float *dst[3] = { lw->w_q, lw->w_k, lw->w_v }, *dst_b[3] = { lw->b_q, lw->b_k, lw->b_v };
    for (int s = 0; s < 3; s++) {
      for (guint64 o = 0; o < C; o++)
        for (guint64 i = 0; i < C; i++)
          dst[s][o * C + i] = qkv[i * 3 * C + s * C + o];
      memcpy (dst_b[s], qkv_b + s * C, C * sizeof (float));
    }
  }
  if (ok && !w->tied)
    ok = strata_tensor_set_load (set, "lm_head.weight", V, C, w->unembed, error);
  return ok;
}

static gboolean
load_llama (const StrataTensorSet *set, StrataWeights *w, GError **error)
{
  const StrataConfig *c = &w->cfg;
  guint64 C = c->d_model, HD = (guint64) c->n_heads * c->d_head, KD = (guint64) c->n_kv_heads * c->d_head;
  guint64 F = c->d_mlp, V = c->vocab;
  gboolean ok = strata_tensor_set_load (set, "model.embed_tokens.weight", V, C, w->tok_embed, error) &&
                strata_tensor_set_load (set, "model.norm.weight", C, 0, w->norm_f_w, error);

  for (int l = 0; ok && l < c->n_layers; l++) {
    StrataLayerWeights *lw = &w->layers[l];
    struct { const char *name; guint64 d0, d1; float *dst; } t[] = {
      { "input_layernorm.weight", C, 0, lw->norm1_w },
      { "self_attn.q_proj.weight", HD, C, lw->w_q },   { "self_attn.q_proj.bias", HD, 0, lw->b_q },
      { "self_attn.k_proj.weight", KD, C, lw->w_k },   { "self_attn.k_proj.bias", KD, 0, lw->b_k },
      { "self_attn.v_proj.weight", KD, C, lw->w_v },   { "self_attn.v_proj.bias", KD, 0, lw->b_v },
      { "self_attn.o_proj.weight", C, HD, lw->w_o },   { "self_attn.o_proj.bias", C, 0, lw->b_o },
      { "post_attention_layernorm.weight", C, 0, lw->norm2_w },
      { "mlp.gate_proj.weight", F, C, lw->w_gate },    { "mlp.up_proj.weight", F, C, lw->w_up },
      { "mlp.down_proj.weight", C, F, lw->w_down },
    };
    for (gsize i = 0; ok && i < G_N_ELEMENTS (t); i++) {
      if (!t[i].dst) /* a bias this layout does not have */
        continue;
      g_autofree char *name = g_strdup_printf ("model.layers.%d.%s", l, t[i].name);
      ok = strata_tensor_set_load (set, name, t[i].d0, t[i].d1, t[i].dst, error);
    }
  }
  if (ok && !w->tied)
    ok = strata_tensor_set_load (set, "lm_head.weight", V, C, w->unembed, error);
  return ok;
}

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

static gboolean
load_checkpoint (StrataModel *m, const StrataHfConfig *hc, Checkpoint *ck, const char *dir,
                 const char *tokenizer_path, GError **error)
{
  gboolean gpt2 = hc->cfg.family == STRATA_FAMILY_GPT2;

  m->weights = strata_weights_new_checked (&hc->cfg, &hc->layout, "config.json", error);
  if (!m->weights)
    return FALSE;
  if (!(gpt2 ? load_gpt2 (&ck->set, m->weights, error) : load_llama (&ck->set, m->weights, error)))
    return FALSE;
  /* Loading succeeded, so the embedding exists under one of these names. */
  const StrataTensorInfo *emb = strata_tensor_set_lookup (&ck->set, gpt2 ? "wte.weight" : "model.embed_tokens.weight");
  if (!emb)
    emb = strata_tensor_set_lookup (&ck->set, "transformer.wte.weight");
  m->dtype = emb->dtype;
  m->arch = g_strdup (hc->arch);
  m->bos_id = hc->bos_id < hc->cfg.vocab ? hc->bos_id : -1;
  m->eos_id = hc->eos_id < hc->cfg.vocab ? hc->eos_id : -1;
  m->add_bos = !gpt2; /* transformers: Llama tokenizers add BOS, GPT-2's does not */
  if (!read_add_bos (dir, &m->add_bos, error))
    return FALSE;

  g_autofree GMappedFile **maps = g_new0 (GMappedFile *, ck->shards->len + 1);
  for (guint i = 0; i < ck->shards->len; i++)
    maps[i] = strata_safetensors_get_mapped_file (ck->shards->pdata[i]);
  m->weights_sha256 = strata_sha256_mapped_files (maps, ck->shards->len);

  GError *tok_error = NULL;
  m->tokenizer = tokenizer_path ? strata_tokenizer_open_path (tokenizer_path, hc->cfg.vocab, &tok_error)
                                : open_hf_tokenizer (dir, hc->cfg.vocab, &tok_error);
  if (tok_error) {
    g_propagate_error (error, tok_error);
    return FALSE;
  }
  return TRUE;
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
