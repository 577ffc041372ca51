/* strata-gguf-model.c: a GGUF `llama` checkpoint -> StrataWeights and its embedded
 * SentencePiece tokenizer.
 *
 * llama.cpp's converter permutes the rows of W_Q and W_K of HF checkpoints back to Meta's
 * layout, so GGUF llama rotates ADJACENT pairs (2i, 2i+1); the weights are used as stored. */
#include <string.h>

#include "strata-data-error.h"
#include "strata-gguf.h"
#include "strata-model-private.h"

/* An integer key that must be a positive int (sizes). */
static gboolean
get_size (StrataGguf *g, const char *key, gboolean required, gint64 fallback, int *out, GError **error)
{
  gint64 v;
  if (!strata_gguf_get_int (g, key, required, fallback, &v, error))
    return FALSE;
  if (v <= 0 || v > G_MAXINT32) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: key '%s' = %" G_GINT64_FORMAT
                 " is not a positive size", strata_gguf_get_source (g), key, v);
    return FALSE;
  }
  *out = (int) v;
  return TRUE;
}

static gboolean
read_config (StrataGguf *g, StrataConfig *cfg, GError **error)
{
  const char *src = strata_gguf_get_source (g);
  double eps, theta;
  int rope_dims;
  GError *e = NULL;
  const char *arch = strata_gguf_get_string (g, "general.architecture", &e);

  if (e) {
    g_propagate_error (error, e);
    return FALSE;
  }
  if (!arch || strcmp (arch, "llama") != 0) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                 "%s: general.architecture '%s' is not supported (llama is read)", src, arch ? arch : "(missing)");
    return FALSE;
  }
  *cfg = (StrataConfig) { 0 };
  if (!get_size (g, "llama.embedding_length", TRUE, 0, &cfg->d_model, error) ||
      !get_size (g, "llama.feed_forward_length", TRUE, 0, &cfg->d_mlp, error) ||
      !get_size (g, "llama.block_count", TRUE, 0, &cfg->n_layers, error) ||
      !get_size (g, "llama.attention.head_count", TRUE, 0, &cfg->n_heads, error) ||
      !get_size (g, "llama.attention.head_count_kv", FALSE, cfg->n_heads, &cfg->n_kv_heads, error) ||
      !get_size (g, "llama.context_length", TRUE, 0, &cfg->n_ctx, error) ||
      !strata_gguf_get_float (g, "llama.attention.layer_norm_rms_epsilon", TRUE, 0, &eps, error) ||
      !strata_gguf_get_float (g, "llama.rope.freq_base", FALSE, 10000.0, &theta, error))
    return FALSE;
  if (cfg->d_model % cfg->n_heads) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: embedding_length %d is not a multiple of head_count %d", src, cfg->d_model, cfg->n_heads);
    return FALSE;
  }
  cfg->d_head = cfg->d_model / cfg->n_heads;
  if (!get_size (g, "llama.rope.dimension_count", FALSE, cfg->d_head, &rope_dims, error))
    return FALSE;
  if (rope_dims != cfg->d_head) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                 "%s: rope.dimension_count %d differs from the head size %d (partial RoPE is not run)",
                 src, rope_dims, cfg->d_head);
    return FALSE;
  }
  if (strata_gguf_lookup (g, "llama.rope.scaling.type")) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                 "%s: rope scaling (llama.rope.scaling.type) is not supported", src);
    return FALSE;
  }

  const StrataTensorInfo *emb = strata_gguf_lookup_tensor (g, "token_embd.weight");
  if (!emb || emb->n_dims != 2 || emb->shape[0] == 0 || emb->shape[0] > G_MAXINT32) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: missing or malformed tensor 'token_embd.weight'", src);
    return FALSE;
  }
  cfg->vocab = (int) emb->shape[0];
  strata_config_set_family (cfg, STRATA_FAMILY_LLAMA);
  cfg->recipe.norm.eps = (float) eps;
  cfg->recipe.rope.pairing = STRATA_ROPE_ADJACENT; /* GGUF keeps Meta's pairing */
  cfg->recipe.rope.theta = (float) theta;
  cfg->recipe.tied = strata_gguf_lookup_tensor (g, "output.weight") == NULL;
  return TRUE;
}

static gboolean
load_tensors (StrataGguf *g, StrataWeights *w, GError **error)
{
  const StrataConfig *c = &w->cfg;
  guint64 C = c->d_model, HD = (guint64) c->n_heads * c->d_head, KD = (guint64) c->n_kv_heads * c->d_head;
  guint64 F = c->d_mlp, V = c->vocab;
  StrataTensorSet set;
  gboolean ok = TRUE;

  strata_tensor_set_init (&set, strata_gguf_get_source (g));
  for (guint i = 0; i < strata_gguf_get_n_tensors (g); i++)
    strata_tensor_set_add (&set, strata_gguf_get_tensor (g, i));

  ok = ok && strata_tensor_set_load_mat (&set, "token_embd.weight", V, C, &w->tok_embed, error);
  ok = ok && strata_tensor_set_load (&set, "output_norm.weight", C, 0, w->norm_f_w, error);
  if (!c->recipe.tied)
    ok = ok && strata_tensor_set_load_mat (&set, "output.weight", V, C, &w->unembed, error);
  for (int l = 0; ok && l < c->n_layers; l++) {
    StrataLayerWeights *lw = &w->layers[l];
    struct { const char *name; guint64 d0, d1; StrataMat *mat; float *vec; } t[] = {
      { "attn_norm", C, 0, NULL, lw->norm1_w },      { "attn_q", HD, C, &lw->w_q, NULL },
      { "attn_k", KD, C, &lw->w_k, NULL },           { "attn_v", KD, C, &lw->w_v, NULL },
      { "attn_output", C, HD, &lw->w_o, NULL },      { "ffn_norm", C, 0, NULL, lw->norm2_w },
      { "ffn_gate", F, C, &lw->w_gate, NULL },       { "ffn_up", F, C, &lw->w_up, NULL },
      { "ffn_down", C, F, &lw->w_down, NULL },
    };
    for (gsize i = 0; ok && i < G_N_ELEMENTS (t); i++) {
      g_autofree char *name = g_strdup_printf ("blk.%d.%s.weight", l, t[i].name);
      ok = t[i].mat ? strata_tensor_set_load_mat (&set, name, t[i].d0, t[i].d1, t[i].mat, error)
                    : strata_tensor_set_load (&set, name, t[i].d0, t[i].d1, t[i].vec, error);
    }
  }
  strata_tensor_set_clear (&set);
  return ok;
}

static gboolean
load_tokenizer (StrataModel *m, StrataGguf *g, GError **error)
{
  const char *src = strata_gguf_get_source (g);
  GError *e = NULL;
  const char *kind = strata_gguf_get_string (g, "tokenizer.ggml.model", &e);
  if (e) {
    g_propagate_error (error, e);
    return FALSE;
  }
  if (!kind || strcmp (kind, "llama") != 0)
    return TRUE; /* no embedded SentencePiece vocabulary: the model has no tokenizer */

  const StrataGgufValue *tokens = strata_gguf_lookup (g, "tokenizer.ggml.tokens");
  const StrataGgufValue *scores = strata_gguf_lookup (g, "tokenizer.ggml.scores");
  const StrataGgufValue *types = strata_gguf_lookup (g, "tokenizer.ggml.token_type");
  if (!tokens || tokens->type != STRATA_GGUF_ARRAY || tokens->elem_type != STRATA_GGUF_STRING ||
      tokens->n == 0 || tokens->n > (guint64) m->weights->cfg.vocab) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: tokenizer.ggml.tokens must be 1 to %d strings", src, m->weights->cfg.vocab);
    return FALSE;
  }
  gsize n = (gsize) tokens->n;
  if ((scores && (scores->type != STRATA_GGUF_ARRAY || scores->n != n || scores->elem_type == STRATA_GGUF_STRING ||
                  !scores->elems)) ||
      (types && (types->type != STRATA_GGUF_ARRAY || types->n != n || types->elem_type == STRATA_GGUF_STRING ||
                 !types->elems))) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: tokenizer.ggml.scores/token_type must be numeric arrays of %" G_GSIZE_FORMAT " entries", src, n);
    return FALSE;
  }
  g_autofree float *sc = g_new0 (float, n);
  g_autofree int32_t *ty = types ? g_new0 (int32_t, n) : NULL;
  for (gsize i = 0; i < n; i++) {
    sc[i] = scores ? (float) strata_gguf_array_get_double (scores, i) : 0.0f;
    if (ty)
      ty[i] = (int32_t) strata_gguf_array_get_double (types, i);
  }
  m->tokenizer = strata_tokenizer_new_spm (src, tokens->strs, sc, ty, (int) n, error);
  return m->tokenizer != NULL;
}

gboolean
strata_gguf_load_model (StrataModel *m, const char *path, const char *tokenizer_path, GError **error)
{
  g_autoptr (StrataGguf) g = strata_gguf_open (path, error);
  StrataConfig cfg;
  gint64 bos, eos;

  if (!g || !read_config (g, &cfg, error))
    return FALSE;
  m->weights = strata_model_new_weights (m, &cfg, STRATA_DTYPE_F32, strata_gguf_get_source (g), error);
  if (!m->weights || !load_tensors (g, m->weights, error))
    return FALSE;
  m->arch = g_strdup ("llama");
  m->dtype = strata_gguf_lookup_tensor (g, "token_embd.weight")->dtype;

  if (!strata_gguf_get_int (g, "tokenizer.ggml.bos_token_id", FALSE, -1, &bos, error) ||
      !strata_gguf_get_int (g, "tokenizer.ggml.eos_token_id", FALSE, -1, &eos, error) ||
      !strata_gguf_get_bool (g, "tokenizer.ggml.add_bos_token", TRUE, &m->add_bos, error))
    return FALSE;
  m->bos_id = bos >= 0 && bos < cfg.vocab ? (int32_t) bos : -1;
  m->eos_id = eos >= 0 && eos < cfg.vocab ? (int32_t) eos : -1;

  if (tokenizer_path)
    m->tokenizer = strata_tokenizer_open_path (tokenizer_path, cfg.vocab, error);
  else if (!load_tokenizer (m, g, error))
    return FALSE;
  if (tokenizer_path && !m->tokenizer)
    return FALSE;

  GMappedFile *map = strata_gguf_get_mapped_file (g);
  m->weights_sha256 = strata_sha256_mapped_files (&map, 1);
  return TRUE;
}
