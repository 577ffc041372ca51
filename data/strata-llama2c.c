/* strata-llama2c.c: llama2.c `.bin` checkpoints (Karpathy's run.c format, version 0).
 *
 * Written by hand: the format is a 28-byte header of seven LE int32 (dim, hidden_dim,
 * n_layers, n_heads, n_kv_heads, vocab_size, seq_len) and raw fp32 arrays in a fixed order:
 *   token_embedding (V, C), rms_att (L, C), wq (L, H*D, C), wk (L, K*D, C), wv (L, K*D, C),
 *   wo (L, C, H*D), rms_ffn (L, C), w1 (L, F, C), w2 (L, C, F), w3 (L, F, C), rms_final (C),
 *   freq_cis_real (N, D/2), freq_cis_imag (N, D/2) [unused legacy tables],
 *   wcls (V, C) only when vocab_size < 0 (untied classifier).
 * The file size must match exactly. RoPE rotates adjacent pairs (2i, 2i+1), eps 1e-5,
 * theta 10000; run.c prepends BOS (id 1). */
#include <string.h>

#include "strata-data-error.h"
#include "strata-model-private.h"
#include "strata-tensor-private.h"

#define HEADER_BYTES 28

/* Byte cursor over the weight arrays; sizes are already validated. */
typedef struct {
  const guint8 *p;
} Reader;

static void
take (Reader *r, float *dst, guint64 n)
{
  if (dst)
    strata_dtype_convert (STRATA_DTYPE_F32, r->p, dst, n);
  r->p += n * 4;
}

/* A matrix, in its dtype. */
static void
take_mat (Reader *r, StrataMat *m, guint64 n)
{
  if (m->dtype == STRATA_DTYPE_F32) {
    take (r, m->data, n);
    return;
  }
  g_autofree float *tmp = g_new (float, n);
  take (r, tmp, n);
  strata_mat_store (m, 0, tmp, n);
}

/* Expected byte size of the file; FALSE on overflow. */
static gboolean
expected_size (const StrataConfig *c, gboolean untied, guint64 *out)
{
  guint64 C = c->d_model, L = c->n_layers, HD = (guint64) c->n_heads * c->d_head;
  guint64 KD = (guint64) c->n_kv_heads * c->d_head, F = c->d_mlp, V = c->vocab, N = c->n_ctx;
  /* Each term is below 2^62 since every size is < 2^31 and products are bounded by
   * strata_config_check; sums are checked anyway. */
  guint64 terms[] = { V * C, L * C, L * HD * C, 2 * L * KD * C, L * C * HD, L * C,
                      3 * L * F * C, C, N * (guint64) c->d_head, untied ? V * C : 0 };
  guint64 floats = 0;
  for (gsize i = 0; i < G_N_ELEMENTS (terms); i++)
    if (!g_uint64_checked_add (&floats, floats, terms[i]))
      return FALSE;
  return g_uint64_checked_mul (out, floats, 4) && g_uint64_checked_add (out, *out, HEADER_BYTES);
}

static gboolean
read_header (const guint8 *b, gsize len, const char *src, StrataConfig *cfg, gboolean *untied, GError **error)
{
  gint32 h[7];
  static const char *names[7] = { "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len" };

  if (len < HEADER_BYTES) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: file of %" G_GSIZE_FORMAT " bytes is shorter than the 28-byte llama2.c header", src, len);
    return FALSE;
  }
  memcpy (h, b, sizeof h);
  for (int i = 0; i < 7; i++) {
    h[i] = GINT32_FROM_LE (h[i]);
    /* A negative vocab_size flags an untied classifier; anything else must be positive
     * and sane (2^24 keeps every product below 2^62). */
    gint64 v = i == 5 ? ABS ((gint64) h[i]) : h[i];
    if (v <= 0 || v > (1 << 24)) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: header field %s = %d is not a positive size", src, names[i], h[i]);
      return FALSE;
    }
  }
  *untied = h[5] < 0;
  if (h[0] % h[3] != 0) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: dim %d is not a multiple of n_heads %d", src, h[0], h[3]);
    return FALSE;
  }
  *cfg = (StrataConfig) {
    .d_model = h[0], .d_mlp = h[1], .n_layers = h[2], .n_heads = h[3], .n_kv_heads = h[4],
    .vocab = (int) ABS ((gint64) h[5]), .n_ctx = h[6], .d_head = h[0] / h[3],
  };
  strata_config_set_family (cfg, STRATA_FAMILY_LLAMA);
  cfg->recipe.norm.eps = 1e-5f;
  cfg->recipe.rope.pairing = STRATA_ROPE_ADJACENT;
  cfg->recipe.rope.theta = 10000.0f;
  cfg->recipe.tied = !*untied;
  return TRUE;
}

static void
read_weights (const guint8 *b, StrataWeights *w)
{
  const StrataConfig *c = &w->cfg;
  guint64 C = c->d_model, HD = (guint64) c->n_heads * c->d_head, KD = (guint64) c->n_kv_heads * c->d_head;
  guint64 F = c->d_mlp;
  Reader r = { b + HEADER_BYTES };

  /* Per-kind arrays are stacked over layers, so walk them kind by kind. */
  take_mat (&r, &w->tok_embed, (guint64) c->vocab * C);
#define EACH_LAYER(take, field, n) \
  for (int l = 0; l < c->n_layers; l++) take (&r, &w->layers[l].field, (n))
#define VEC(r, field, n) take (r, *(field), n)
  EACH_LAYER (VEC, norm1_w, C);
  EACH_LAYER (take_mat, w_q, HD * C);
  EACH_LAYER (take_mat, w_k, KD * C);
  EACH_LAYER (take_mat, w_v, KD * C);
  EACH_LAYER (take_mat, w_o, C * HD);
  EACH_LAYER (VEC, norm2_w, C);
  EACH_LAYER (take_mat, w_gate, F * C); /* w1 */
  EACH_LAYER (take_mat, w_down, C * F); /* w2 */
  EACH_LAYER (take_mat, w_up, F * C);   /* w3 */
#undef VEC
#undef EACH_LAYER
  take (&r, w->norm_f_w, C);
  take (&r, NULL, (guint64) c->n_ctx * c->d_head); /* freq_cis_real and _imag, (N, D/2) each */
  if (!c->recipe.tied)
    take_mat (&r, &w->unembed, (guint64) c->vocab * C);
}

/* tokenizer.bin, else tok<V>.bin, beside the checkpoint. */
static char *
find_tokenizer (const char *path, int vocab)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *tok_v = g_strdup_printf ("tok%d.bin", vocab);
  const char *names[] = { "tokenizer.bin", tok_v };
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autofree char *p = g_build_filename (dir, names[i], NULL);
    if (g_file_test (p, G_FILE_TEST_IS_REGULAR))
      return g_steal_pointer (&p);
  }
  return NULL;
}

gboolean
strata_llama2c_load (StrataModel *m, const char *path, const char *tokenizer_path, GError **error)
{
  g_autofree char *src = g_path_get_basename (path);
  g_autoptr (GError) io_error = NULL;
  g_autoptr (GMappedFile) map = g_mapped_file_new (path, FALSE, &io_error);
  StrataConfig cfg;
  gboolean untied;
  guint64 want = 0;

  if (!map) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: cannot map: %s", src, io_error->message);
    return FALSE;
  }
  const guint8 *b = (const guint8 *) g_mapped_file_get_contents (map);
  gsize len = g_mapped_file_get_length (map);
  if (!read_header (b, len, src, &cfg, &untied, error))
    return FALSE;
  const char *why = strata_config_check (&cfg);
  if (why) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: %s", src, why);
    return FALSE;
  }
  if (!expected_size (&cfg, untied, &want) || want != len) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: file has %" G_GSIZE_FORMAT " bytes but the header (%s classifier) implies %" G_GUINT64_FORMAT,
                 src, len, untied ? "untied" : "tied", want);
    return FALSE;
  }
  StrataDType f32 = STRATA_DTYPE_F32;
  m->weights = strata_model_new_weights (m, &cfg, strata_matrix_dtype_all, &f32, src, error);
  if (!m->weights)
    return FALSE;
  m->weights_hash = strata_sha256_start (&map, 1); /* while the weights are read */
  read_weights (b, m->weights);
  m->arch = g_strdup ("llama");
  m->dtype = STRATA_DTYPE_F32;
  m->add_bos = TRUE;
  m->bos_id = 1;
  m->eos_id = 2;

  g_autofree char *tok = tokenizer_path ? g_strdup (tokenizer_path) : find_tokenizer (path, cfg.vocab);
  if (tok) {
    m->tokenizer = strata_tokenizer_open_path (tok, cfg.vocab, error);
    if (!m->tokenizer)
      return FALSE;
  }
  return TRUE;
}
