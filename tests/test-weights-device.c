/* test-weights-device.c: checkpoints loaded straight into a device's memory
 * (strata-weights-device.h), checked on a machine without a GPU.
 *
 * The device is a stand-in: cpu-as-device (the CPU backend's table with host_memory off) whose
 * allocations and uploads can be made to fail, so that the model loader and the engine take
 * every path a GPU takes (staging, per-layer uploads, uploads from the file's mapping, weights
 * adopted in place) while its memory stays readable here. For
 * every loader and fixture family the invariants are:
 *   - the device arena holds exactly the bytes the host loader produces, tensor for tensor;
 *   - staging never held more than the embeddings and one layer (every loader but llama2.c's
 *     releases each layer as it goes);
 *   - a forward pass on the device weights gives the same logits, bit for bit, as the same
 *     backend given host weights (which it uploads in one transfer, the path tested against
 *     PyTorch elsewhere);
 *   - an engine on another backend refuses the weights; a failed upload or allocation fails
 *     the open with a message naming the file, and leaks nothing (LSan in the sanitizer build);
 *   - a write into a released layer's staging faults instead of being lost. */
#include <glib.h>
#include <signal.h>
#include <string.h>

#include "strata-data-error.h"
#include "strata-engine.h"
#include "strata-model.h"
#include "strata-weights-device.h"

static StrataBackend stand_in;
static int uploads_left = -1; /* upload calls that succeed before one fails; -1: all */
static int fail_alloc;

static float *
stand_in_alloc (const StrataBackend *be, size_t n_floats)
{
  const StrataBackend *cpu = strata_backend_cpu ();
  return fail_alloc ? NULL : cpu->alloc (cpu, n_floats);
}

static int uploads; /* upload calls so far */

static StrataStatus
stand_in_upload (const StrataBackend *be, void *dst, const void *src, size_t bytes)
{
  const StrataBackend *cpu = strata_backend_cpu ();
  if (uploads_left == 0)
    return STRATA_ERR_BACKEND;
  if (uploads_left > 0)
    uploads_left--;
  uploads++;
  return cpu->upload (cpu, dst, src, bytes);
}

/* The stand-in, every upload and allocation succeeding again. */
static const StrataBackend *
stand_in_device (void)
{
  uploads_left = -1;
  uploads = 0;
  fail_alloc = 0;
  stand_in = *strata_backend_cpu_as_device ();
  stand_in.name = "stand-in device";
  stand_in.alloc = stand_in_alloc;
  stand_in.upload = stand_in_upload;
  return &stand_in;
}

static StrataModel *
open_on (const char *rel, const StrataBackend *device, GError **error)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", rel, NULL);
  StrataOpenOptions o = { NULL, STRATA_MATRICES_STORED, device };
  return strata_model_open_with (path, &o, error);
}

static StrataModel *
open_ok (const char *rel, const StrataBackend *device)
{
  g_autoptr (GError) error = NULL;
  StrataModel *m = open_on (rel, device, &error);
  g_assert_no_error (error);
  return m;
}

/* Offsets and sizes of every tensor, in visiting order. */
typedef struct {
  const char *arena;
  GArray *offsets; /* gsize pairs: offset, bytes */
  gsize globals;   /* bytes of tensors outside the blocks */
  gsize *layer;    /* bytes per layer */
  gsize global_vectors, layer_vectors; /* bytes of F32 vectors: outside the blocks, in one block */
} Table;

static int
table_cb (StrataWeightTensor *t, void *user)
{
  Table *tb = user;
  const char *p = t->matrix ? t->mat->data : (const char *) *t->vec;
  gsize off = (gsize) (p - tb->arena), bytes = strata_dtype_bytes (t->dtype, t->rows * t->cols);
  g_array_append_val (tb->offsets, off);
  g_array_append_val (tb->offsets, bytes);
  if (t->layer < 0)
    tb->globals += bytes;
  else
    tb->layer[t->layer] += bytes;
  if (!t->matrix && t->layer < 0)
    tb->global_vectors += bytes;
  else if (!t->matrix && t->layer == 0)
    tb->layer_vectors += bytes;
  return 0;
}

static Table
table_of (StrataWeights *w)
{
  Table tb = { w->arena, g_array_new (FALSE, FALSE, sizeof (gsize)), 0, g_new0 (gsize, w->cfg.n_layers), 0, 0 };
  strata_weights_visit (w, table_cb, &tb);
  return tb;
}

static void
table_clear (Table *tb)
{
  g_array_unref (tb->offsets);
  g_free (tb->layer);
}

static void
forward_logits (StrataEngine *e, const StrataConfig *c, float *logits, int T)
{
  int32_t tokens[8];
  for (int i = 0; i < T; i++)
    tokens[i] = (int32_t) ((7 + 13 * i) % c->vocab);
  g_assert_cmpint (strata_engine_forward (e, tokens, 1, T, NULL, logits), ==, STRATA_OK);
}

static void
test_same_weights (gconstpointer data)
{
  const char *rel = data;
  const StrataBackend *dev = stand_in_device ();
  g_autoptr (StrataModel) host = open_ok (rel, NULL);
  g_autoptr (StrataModel) on_dev = open_ok (rel, dev);
  StrataWeights *hw = host->weights, *dw = on_dev->weights;

  g_assert_null (hw->device);
  g_assert_true (dw->device == dev);
  g_assert_false (strata_weights_loading (dw));
  g_assert_true (dw->arena != hw->arena);
  g_assert_cmpuint (dw->arena_bytes, ==, hw->arena_bytes);
  Table ht = table_of (hw), dt = table_of (dw);
  g_assert_cmpuint (ht.offsets->len, ==, dt.offsets->len);
  g_assert_cmpmem (ht.offsets->data, ht.offsets->len * sizeof (gsize), dt.offsets->data, dt.offsets->len * sizeof (gsize));
  for (guint i = 0; i < ht.offsets->len; i += 2) {
    gsize off = g_array_index (ht.offsets, gsize, i), bytes = g_array_index (ht.offsets, gsize, i + 1);
    g_assert_cmpmem ((const char *) hw->arena + off, bytes, (const char *) dw->arena + off, bytes);
  }
  if (hw->cfg.recipe.tied)
    g_assert_true (dw->unembed.data == dw->tok_embed.data);

  /* What staging held at most: the embeddings and one layer, for the loaders that release
   * layers as they go (llama2.c stores tensor kinds across layers, so it sends all at the
   * end; its models are small). */
  gsize widest = 0;
  for (int l = 0; l < hw->cfg.n_layers; l++)
    widest = MAX (widest, ht.layer[l]);
  gsize peak = strata_weights_staging_peak (dw);
  g_test_message ("%s: staging peak %zu bytes of %zu (globals %zu, widest layer %zu)", rel, peak, hw->arena_bytes,
                  ht.globals, widest);
  if (on_dev->format != STRATA_FORMAT_LLAMA2C)
    g_assert_cmpuint (peak, <=, ht.globals + widest);
  table_clear (&ht);
  table_clear (&dt);

  /* The same pass over both: the device weights adopted in place, the host ones uploaded. */
  StrataStatus st;
  StrataEngine *e_dev = strata_engine_new (dev, dw, &st);
  g_assert_nonnull (e_dev);
  StrataEngine *e_up = strata_engine_new (dev, hw, &st);
  g_assert_nonnull (e_up);
  int T = MIN (6, hw->cfg.n_ctx);
  gsize n = (gsize) T * hw->cfg.vocab;
  g_autofree float *a = g_new (float, n), *b = g_new (float, n);
  forward_logits (e_dev, &dw->cfg, a, T);
  forward_logits (e_up, &hw->cfg, b, T);
  g_assert_cmpmem (a, n * sizeof (float), b, n * sizeof (float));
  strata_engine_free (e_dev);
  strata_engine_free (e_up);

  /* Device weights run on their device only. */
  g_assert_null (strata_engine_new (strata_backend_cpu (), dw, &st));
  g_assert_cmpint (st, ==, STRATA_ERR_ARGUMENT);
}

/* A 16-bit or quantized checkpoint (safetensors or GGUF) kept as stored never converts its
 * matrices: all of them go from the file's mapping to the device, and staging holds only F32
 * vectors (the norms' gains), at most those of the globals and one layer. */
static void
test_stored_matrices_skip_staging (gconstpointer data)
{
  g_autoptr (StrataModel) m = open_ok (data, stand_in_device ());
  StrataDType held = m->weights->tok_embed.dtype;
  g_assert_cmpint (held, !=, STRATA_DTYPE_F32);
  Table tb = table_of (m->weights);
  gsize peak = strata_weights_staging_peak (m->weights);
  g_test_message ("%s: %s matrices, staging peak %zu bytes (vectors: %zu global, %zu per layer)", (const char *) data,
                  strata_dtype_to_string (held), peak, tb.global_vectors, tb.layer_vectors);
  g_assert_cmpuint (peak, <=, tb.global_vectors + tb.layer_vectors);
  g_assert_cmpuint (peak, >, 0);
  table_clear (&tb);
}

/* A device whose products take F32, F16 and BF16 only gets a quantized file's blocks decoded
 * to F32 at load, its F16 matrices kept: the logits of the host load that keeps the blocks,
 * bit for bit. */
static void
test_blocks_decoded_for_a_16_bit_device (void)
{
  const char *rel = "stories260K-gguf/stories260K-q8_0.gguf";
  const StrataBackend *dev = stand_in_device ();
  stand_in.matrix_dtypes = 1u << STRATA_DTYPE_F32 | 1u << STRATA_DTYPE_F16 | 1u << STRATA_DTYPE_BF16;
  g_autoptr (StrataModel) on_dev = open_ok (rel, dev);
  g_autoptr (StrataModel) host = open_ok (rel, NULL);
  unsigned f16 = 1u << STRATA_DTYPE_F16;
  g_assert_cmpuint (strata_weights_matrix_dtypes (on_dev->weights), ==, 1u << STRATA_DTYPE_F32 | f16);
  g_assert_cmpuint (strata_weights_matrix_dtypes (host->weights), ==, 1u << STRATA_DTYPE_Q8_0 | f16);
  StrataStatus st;
  StrataEngine *e_dev = strata_engine_new (dev, on_dev->weights, &st);
  g_assert_nonnull (e_dev);
  StrataEngineOptions eo = { .convert_limit = 1 }; /* the host engine decodes the blocks per product */
  StrataEngine *e_host = strata_engine_new_with (strata_backend_cpu (), host->weights, &eo, &st);
  g_assert_nonnull (e_host);
  g_assert_true (strata_engine_converts_per_product (e_host));
  int T = 6;
  gsize n = (gsize) T * host->weights->cfg.vocab;
  g_autofree float *a = g_new (float, n), *b = g_new (float, n);
  forward_logits (e_dev, &on_dev->weights->cfg, a, T);
  forward_logits (e_host, &host->weights->cfg, b, T);
  g_assert_cmpmem (a, n * sizeof (float), b, n * sizeof (float));
  strata_engine_free (e_dev);
  strata_engine_free (e_host);
}

static void
test_upload_failure (void)
{
  const StrataBackend *dev = stand_in_device ();
  g_autoptr (StrataModel) whole = open_ok ("golden/llama-gqa", dev);
  int total = uploads;
  g_assert_cmpint (total, >, 10);
  /* Each upload of the load in turn fails. */
  for (int after = 0; after < total; after++) {
    uploads_left = after;
    g_autoptr (GError) error = NULL;
    g_autoptr (StrataModel) m = open_on ("golden/llama-gqa", dev, &error);
    g_assert_null (m);
    g_assert_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO);
    g_assert_nonnull (strstr (error->message, "llama-gqa"));
    g_assert_nonnull (strstr (error->message, "cannot upload the weights to stand-in device"));
  }
}

static void
test_alloc_failure (void)
{
  const StrataBackend *dev = stand_in_device ();
  fail_alloc = 1;
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) m = open_on ("golden/gpt2", dev, &error);
  g_assert_null (m);
  g_assert_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "cannot allocate the weights on stand-in device: they need"));
  g_assert_nonnull (strstr (error->message, "GB are free there"));
}

/* A config whose layers span several pages, so releasing one leaves whole pages. */
static StrataConfig
wide_config (void)
{
  StrataConfig c = { .n_layers = 3, .d_model = 256, .n_heads = 4, .n_kv_heads = 4, .d_head = 64, .d_mlp = 512,
                      .vocab = 64, .n_ctx = 32 };
  strata_config_set_family (&c, STRATA_FAMILY_LLAMA);
  return c;
}

static void
test_late_write_faults (void)
{
  if (g_test_subprocess ()) {
    StrataConfig c = wide_config ();
    StrataStatus st;
    StrataWeights *w = strata_weights_new_on_device (&c, strata_matrix_dtype_all, &(StrataDType) { STRATA_DTYPE_F32 },
                                                     stand_in_device (), &st);
    g_assert_nonnull (w);
    float *up = w->layers[0].w_up.data;
    up[0] = 1.0f;
    strata_weights_layer_loaded (w, 0);
    up[c.d_mlp * c.d_model / 2] = 2.0f; /* released: must fault */
    return;
  }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
}

static void
test_host_backend_is_host_weights (void)
{
  StrataConfig c = wide_config ();
  StrataStatus st;
  StrataWeights *w = strata_weights_new_on_device (&c, strata_matrix_dtype_all, &(StrataDType) { STRATA_DTYPE_F32 },
                                                   strata_backend_cpu (), &st);
  g_assert_cmpint (st, ==, STRATA_OK);
  g_assert_null (w->device);
  float x = 3.0f;
  strata_weights_store_bytes (w, w->norm_f_w, &x, sizeof x);
  strata_weights_layer_loaded (w, 0);
  g_assert_cmpint (strata_weights_finish_upload (w), ==, STRATA_OK);
  g_assert_cmpfloat (w->norm_f_w[0], ==, 3.0f);
  g_assert_cmpuint (strata_weights_staging_peak (w), ==, 0);
  strata_weights_free (w);
}

static void
test_unfinished_weights_refused (void)
{
  StrataConfig c = wide_config ();
  StrataStatus st;
  const StrataBackend *dev = stand_in_device ();
  StrataWeights *w = strata_weights_new_on_device (&c, strata_matrix_dtype_all, &(StrataDType) { STRATA_DTYPE_F32 },
                                                   dev, &st);
  g_assert_true (strata_weights_loading (w));
  g_assert_null (strata_engine_new (dev, w, &st));
  g_assert_cmpint (st, ==, STRATA_ERR_ARGUMENT);
  strata_weights_free (w); /* frees staging and device arena of a load that never finished */
}

/* A model opened again for another backend (the window's device switch): the same file and
 * tokenizer, the BOS policy it was given, its weights where the new backend wants them and
 * equal to an open for that backend from the start. */
static void
test_reopen_for (void)
{
  const StrataBackend *dev = stand_in_device ();
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "stories260K", "stories260K.bin", NULL);
  g_autofree char *tok = g_test_build_filename (G_TEST_DIST, "data", "stories260K", "tok512.bin", NULL);
  g_autoptr (StrataModel) host = strata_model_open (path, tok, &error);
  g_assert_no_error (error);
  host->add_bos = !host->add_bos;
  g_autoptr (StrataModel) moved = strata_model_reopen_for (host, dev, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (moved->path, ==, host->path);
  g_assert_cmpstr (moved->tokenizer_path, ==, tok);
  g_assert_nonnull (moved->tokenizer);
  g_assert_cmpint (moved->add_bos, ==, host->add_bos);
  g_assert_true (moved->weights->device == dev);
  g_assert_cmpuint (moved->weights->arena_bytes, ==, host->weights->arena_bytes); /* F32, as the CPU-like policy wants */
  g_assert_cmpmem (moved->weights->arena, moved->weights->arena_bytes, host->weights->arena, host->weights->arena_bytes);
  g_autoptr (StrataModel) back = strata_model_reopen_for (moved, strata_backend_cpu (), &error);
  g_assert_no_error (error);
  g_assert_null (back->weights->device);
  g_assert_cmpmem (back->weights->arena, back->weights->arena_bytes, host->weights->arena, host->weights->arena_bytes);
  g_assert_cmpstr (strata_model_get_weights_sha256 (back), ==, strata_model_get_weights_sha256 (host));
}

static const char *checkpoints[] = {
  "golden/gpt2",           "golden/gpt2-f16",        "golden/llama-gqa",
  "golden/mistral-bf16",   "golden/neox",            "golden/neox-seq-f16",
  "golden/gemma2-window",  "golden/olmo2-postnorm",  "golden/phi3-fused",
  "golden/qwen2-bias",     "golden/qwen3-qknorm",    "stories260K-hf",
  "stories260K/stories260K.bin", "stories260K-gguf/stories260K-q8_0.gguf",
  "gguf-arch/gemma2-window.gguf", "gguf-arch/neox.gguf", "gguf-arch/phi3-fused.gguf",
  "gguf-arch/qwen3-qknorm.gguf",
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (checkpoints); i++) {
    g_autofree char *name = g_strdup_printf ("/weights-device/same-weights/%s", checkpoints[i]);
    g_test_add_data_func (name, checkpoints[i], test_same_weights);
  }
  g_test_add_data_func ("/weights-device/stored-matrices-skip-staging/safetensors-bf16", "golden/mistral-bf16",
                        test_stored_matrices_skip_staging);
  g_test_add_data_func ("/weights-device/stored-matrices-skip-staging/gguf-bf16", "gguf-arch/qwen3-qknorm.gguf",
                        test_stored_matrices_skip_staging);
  g_test_add_data_func ("/weights-device/stored-matrices-skip-staging/gguf-q8_0",
                        "stories260K-gguf/stories260K-q8_0.gguf", test_stored_matrices_skip_staging);
  g_test_add_func ("/weights-device/blocks-decoded-for-a-16-bit-device", test_blocks_decoded_for_a_16_bit_device);
  g_test_add_func ("/weights-device/upload-failure", test_upload_failure);
  g_test_add_func ("/weights-device/reopen-for", test_reopen_for);
  g_test_add_func ("/weights-device/alloc-failure", test_alloc_failure);
  g_test_add_func ("/weights-device/late-write-faults", test_late_write_faults);
  g_test_add_func ("/weights-device/host-backend", test_host_backend_is_host_weights);
  g_test_add_func ("/weights-device/unfinished-refused", test_unfinished_weights_refused);
  return g_test_run ();
}
