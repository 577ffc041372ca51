/* test-formats.c: checkpoint readers against the real stories260K files.
 *
 * The same model exists as llama2.c .bin, GGUF and HF safetensors (tests/data/README.md):
 * GGUF equals .bin tensor for tensor; HF equals .bin except W_Q/W_K, whose rows are
 * permuted within each head for rotate_half RoPE. Malformed inputs are made from these
 * bytes in a temp folder, and each must fail with a message naming the file. */
#define _GNU_SOURCE /* memmem */
#include <math.h>

#include "strata-tensor-private.h"
#include "test-formats-util.h"

#define ADD_TMP(path, fn) g_test_add (path, Tmp, NULL, tmp_setup, fn, tmp_teardown)
#define BIN "stories260K/stories260K.bin"
#define GGUF "stories260K-gguf/stories260K.gguf"

/* .bin alone in a temp folder, so that no tokenizer is found beside it. */
static StrataModel *
open_bin_alone (Tmp *t)
{
  g_autofree char *p = tmp_copy_fixture (t, BIN, "stories260K.bin");
  g_autoptr (GError) error = NULL;
  StrataModel *m = strata_model_open (p, NULL, &error);
  g_assert_no_error (error);
  return m;
}

static StrataModel *
open_gguf (Tmp *t)
{
  g_autofree char *p = data_path (GGUF);
  g_autoptr (GError) error = NULL;
  StrataModel *m = strata_model_open (p, NULL, &error);
  g_assert_no_error (error);
  return m;
}

static StrataModel *
open_hf (void)
{
  g_autofree char *p = data_path ("stories260K-hf");
  g_autoptr (GError) error = NULL;
  StrataModel *m = strata_model_open (p, NULL, &error);
  g_assert_no_error (error);
  return m;
}

static void
check_stories_config (const StrataModel *m, StrataRope rope, int n_ctx)
{
  const StrataConfig *c = &m->weights->cfg;
  g_assert_cmpint (c->family, ==, STRATA_FAMILY_LLAMA);
  g_assert_cmpint (c->d_model, ==, 64);
  g_assert_cmpint (c->d_mlp, ==, 172);
  g_assert_cmpint (c->n_layers, ==, 5);
  g_assert_cmpint (c->n_heads, ==, 8);
  g_assert_cmpint (c->n_kv_heads, ==, 4);
  g_assert_cmpint (c->d_head, ==, 8);
  g_assert_cmpint (c->vocab, ==, 512);
  g_assert_cmpint (c->n_ctx, ==, n_ctx);
  g_assert_cmpint (c->recipe.rope.pairing, ==, rope);
  g_assert_cmpfloat_with_epsilon (c->recipe.norm.eps, 1e-5, 1e-9);
  g_assert_cmpfloat (c->recipe.rope.theta, ==, 10000.0f);
  g_assert_cmpstr (m->arch, ==, "llama");
  g_assert_cmpint (m->dtype, ==, STRATA_DTYPE_F32);
  g_assert_true (m->add_bos);
  g_assert_cmpint (m->bos_id, ==, 1);
  g_assert_cmpint (m->eos_id, ==, 2);
  g_assert_cmpuint (strlen (strata_model_get_weights_sha256 (m)), ==, 64);
}

static void
test_llama2c_open (Tmp *t, gconstpointer data)
{
  g_autoptr (StrataModel) m = open_bin_alone (t);
  check_stories_config (m, STRATA_ROPE_ADJACENT, 512);
  g_assert_cmpint (m->format, ==, STRATA_FORMAT_LLAMA2C);
  g_assert_cmpstr (m->name, ==, "stories260K");
  g_assert_true (m->weights->cfg.recipe.tied && m->weights->unembed.data == m->weights->tok_embed.data);
  g_assert_null (m->tokenizer);
  g_assert_cmpstr (strata_model_get_weights_sha256 (m), ==, "b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696");
  /* Spot values read straight from the file: the first embedding float and rms_final[63]. */
  gsize len;
  g_autofree guint8 *b = read_fixture (BIN, &len);
  float first, last_norm;
  memcpy (&first, b + 28, 4);
  g_assert_cmpfloat (((const float *) m->weights->tok_embed.data)[0], ==, first);
  memcpy (&last_norm, b + 28 + 4 * ((gsize) 512 * 64 + 5 * 64 + 5 * 4096 + 2 * 5 * 2048 + 5 * 4096 + 5 * 64 +
                                    3 * 5 * 172 * 64 + 63), 4);
  g_assert_cmpfloat (m->weights->norm_f_w[63], ==, last_norm);
}

static void
test_llama2c_tokenizer (void)
{
  g_autofree char *p = data_path (BIN);
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) m = strata_model_open (p, NULL, &error); /* finds tok512.bin beside it */
  g_assert_no_error (error);
  g_assert_nonnull (m->tokenizer);
  g_assert_cmpint (strata_tokenizer_get_vocab_size (m->tokenizer), ==, 512);
  g_autoptr (GArray) ids = strata_model_encode (m, "Once", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ids->len, >=, 2);
  g_assert_cmpint (g_array_index (ids, int32_t, 0), ==, 1); /* BOS prepended, as run.c does */
}

static void
test_gguf_open (Tmp *t, gconstpointer data)
{
  g_autoptr (StrataModel) m = open_gguf (t);
  check_stories_config (m, STRATA_ROPE_ADJACENT, 2048); /* the converter wrote 2048 */
  g_assert_cmpint (m->format, ==, STRATA_FORMAT_GGUF);
  /* output.weight is stored, so the model is untied; it equals the embedding bit for bit. */
  g_assert_false (m->weights->cfg.recipe.tied);
  g_assert_cmpmem (m->weights->unembed.data, 512 * 64 * 4, m->weights->tok_embed.data, 512 * 64 * 4);
  g_assert_nonnull (m->tokenizer); /* the embedded SentencePiece vocabulary */
  g_assert_cmpint (strata_tokenizer_get_vocab_size (m->tokenizer), ==, 512);
  g_assert_cmpstr (strata_model_get_weights_sha256 (m), ==, "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d");
}

static void
test_hf_open (void)
{
  g_autoptr (StrataModel) m = open_hf ();
  check_stories_config (m, STRATA_ROPE_HALF, 512);
  g_assert_cmpint (m->format, ==, STRATA_FORMAT_HF_SAFETENSORS);
  g_assert_cmpstr (m->name, ==, "stories260K-hf");
  g_assert_true (m->weights->cfg.recipe.tied); /* config says tied; the stored lm_head copy is not used */
  g_assert_cmpstr (strata_model_get_weights_sha256 (m), ==, "8086b49673a06f3133188dac99396c6e088c9fe7d3901b991e90c45fb26e548f");
}

#define N_(n) ((gsize) (n) * sizeof (float))

/* Every tensor of two stories260K models, except W_Q/W_K when `skip_qk`. */
static void
assert_same_weights (const StrataWeights *a, const StrataWeights *b, gboolean skip_qk)
{
  g_assert_cmpmem (a->tok_embed.data, N_ (512 * 64), b->tok_embed.data, N_ (512 * 64));
  g_assert_cmpmem (a->norm_f_w, N_ (64), b->norm_f_w, N_ (64));
  g_assert_cmpmem (a->unembed.data, N_ (512 * 64), b->unembed.data, N_ (512 * 64));
  for (int l = 0; l < 5; l++) {
    const StrataLayerWeights *x = &a->layers[l], *y = &b->layers[l];
    g_assert_cmpmem (x->norm1_w, N_ (64), y->norm1_w, N_ (64));
    g_assert_cmpmem (x->norm2_w, N_ (64), y->norm2_w, N_ (64));
    if (!skip_qk) {
      g_assert_cmpmem (x->w_q.data, N_ (64 * 64), y->w_q.data, N_ (64 * 64));
      g_assert_cmpmem (x->w_k.data, N_ (32 * 64), y->w_k.data, N_ (32 * 64));
    }
    g_assert_cmpmem (x->w_v.data, N_ (32 * 64), y->w_v.data, N_ (32 * 64));
    g_assert_cmpmem (x->w_o.data, N_ (64 * 64), y->w_o.data, N_ (64 * 64));
    g_assert_cmpmem (x->w_gate.data, N_ (172 * 64), y->w_gate.data, N_ (172 * 64));
    g_assert_cmpmem (x->w_up.data, N_ (172 * 64), y->w_up.data, N_ (172 * 64));
    g_assert_cmpmem (x->w_down.data, N_ (64 * 172), y->w_down.data, N_ (64 * 172));
  }
}

static void
test_cross_gguf_bin (Tmp *t, gconstpointer data)
{
  g_autoptr (StrataModel) bin = open_bin_alone (t);
  g_autoptr (StrataModel) gguf = open_gguf (t);
  assert_same_weights (bin->weights, gguf->weights, FALSE);
}

/* HF row h*8 + j*4 + i holds llama2.c row h*8 + 2*i + j (i < 4, j < 2), per head h. */
static void
assert_half_permuted (const float *hf, const float *adj, int n_heads)
{
  for (int h = 0; h < n_heads; h++)
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 2; j++)
        g_assert_cmpmem (hf + (gsize) (h * 8 + j * 4 + i) * 64, N_ (64), adj + (gsize) (h * 8 + 2 * i + j) * 64, N_ (64));
}

static void
test_cross_hf_bin (Tmp *t, gconstpointer data)
{
  g_autoptr (StrataModel) bin = open_bin_alone (t);
  g_autoptr (StrataModel) hf = open_hf ();
  assert_same_weights (bin->weights, hf->weights, TRUE);
  for (int l = 0; l < 5; l++) {
    assert_half_permuted (hf->weights->layers[l].w_q.data, bin->weights->layers[l].w_q.data, 8);
    assert_half_permuted (hf->weights->layers[l].w_k.data, bin->weights->layers[l].w_k.data, 4);
  }
  /* The permutation is not the identity: the pairing logic is what makes them agree. */
  g_assert_true (memcmp (hf->weights->layers[0].w_q.data, bin->weights->layers[0].w_q.data, N_ (64 * 64)) != 0);
}

static void
test_llama2c_untied (Tmp *t, gconstpointer data)
{
  /* A negative vocab_size flags a classifier appended after the freq_cis tables. */
  gsize len;
  g_autofree guint8 *b = read_fixture (BIN, &len);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_byte_array_append (out, b, (guint) len);
  gint32 v = GINT32_TO_LE (-512);
  memcpy (out->data + 20, &v, 4);
  g_autofree float *cls = g_new (float, 512 * 64);
  for (int i = 0; i < 512 * 64; i++)
    cls[i] = (float) i;
  g_byte_array_append (out, (guint8 *) cls, N_ (512 * 64));
  g_autofree char *p = tmp_write (t, "untied.bin", out->data, out->len);
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) m = strata_model_open (p, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (m->weights->cfg.recipe.tied);
  g_assert_cmpmem (m->weights->unembed.data, N_ (512 * 64), cls, N_ (512 * 64));
  /* The same header on the tied-size file must be refused. */
  g_autofree char *q = tmp_write (t, "short.bin", out->data, len);
  assert_open_fails (q, NULL, "short.bin", "untied classifier");
}

#include "test-formats-bad.c"
#include "test-formats-dtype.c"
#include "test-formats-arch.c"

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  ADD_TMP ("/data/llama2c/open", test_llama2c_open);
  g_test_add_func ("/data/llama2c/tokenizer", test_llama2c_tokenizer);
  ADD_TMP ("/data/llama2c/untied", test_llama2c_untied);
  ADD_TMP ("/data/gguf/open", test_gguf_open);
  g_test_add_func ("/data/hf/open", test_hf_open);
  ADD_TMP ("/data/cross/gguf-vs-bin", test_cross_gguf_bin);
  ADD_TMP ("/data/cross/hf-vs-bin", test_cross_hf_bin);
  add_bad_tests ();
  add_dtype_tests ();
  add_arch_tests ();
  return g_test_run ();
}
