/* test-hf-write.c: a GPT-2 checkpoint written by strata_hf_write_gpt2() opens with the
 * project's loader to the same bits and the same config, for the tiny golden GPT-2 and a
 * two-hop checkpoint (tests/data/twohop); other models are refused with a message. (transformers' from_pretrained on the written folder is checked by hand:
 * tools/reference/README.md.) */
#include <glib/gstdio.h>
#include <string.h>

#include "strata-data-error.h"
#include "strata-hf-write.h"
#include "strata-model.h"

typedef struct {
  StrataWeightTensor *tensors;
  int n;
} Table;

static int
collect_cb (StrataWeightTensor *t, void *user)
{
  Table *tb = user;
  tb->tensors[tb->n++] = *t;
  return 0;
}

/* Every tensor of b equal to a's, bit for bit, in the same table. */
static void
assert_same_weights (StrataWeights *a, StrataWeights *b)
{
  g_assert_cmpint (a->cfg.n_layers, ==, b->cfg.n_layers);
  g_assert_cmpint (a->cfg.d_model, ==, b->cfg.d_model);
  g_assert_cmpint (a->cfg.n_heads, ==, b->cfg.n_heads);
  g_assert_cmpint (a->cfg.d_mlp, ==, b->cfg.d_mlp);
  g_assert_cmpint (a->cfg.vocab, ==, b->cfg.vocab);
  g_assert_cmpint (a->cfg.n_ctx, ==, b->cfg.n_ctx);
  g_assert_cmpfloat (a->cfg.recipe.norm.eps, ==, b->cfg.recipe.norm.eps);
  g_assert_cmpint (a->cfg.recipe.tied, ==, b->cfg.recipe.tied);
  g_assert_cmpint (a->cfg.recipe.act, ==, b->cfg.recipe.act);
  Table ta = { g_new (StrataWeightTensor, 4096), 0 }, tb = { g_new (StrataWeightTensor, 4096), 0 };
  strata_weights_visit (a, collect_cb, &ta);
  strata_weights_visit (b, collect_cb, &tb);
  g_assert_cmpint (ta.n, ==, tb.n);
  for (int i = 0; i < ta.n; i++) {
    StrataWeightTensor *x = &ta.tensors[i], *y = &tb.tensors[i];
    g_assert_cmpuint (x->rows * x->cols, ==, y->rows * y->cols);
    const void *px = x->matrix ? x->mat->data : *x->vec, *py = y->matrix ? y->mat->data : *y->vec;
    if (memcmp (px, py, x->rows * x->cols * sizeof (float)) != 0)
      g_test_fail_printf ("%s differs after writing and reopening", x->name);
  }
  g_free (ta.tensors);
  g_free (tb.tensors);
}

static void
roundtrip (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) model = strata_model_open (path, NULL, &error);
  g_assert_no_error (error);
  g_autofree char *dir = g_dir_make_tmp ("strata-hf-write-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *out = g_build_filename (dir, "ckpt", NULL);
  g_assert_true (strata_hf_write_gpt2 (model->weights, out, model->bos_id, model->eos_id, &error));
  g_assert_no_error (error);
  g_autoptr (StrataModel) again = strata_model_open (out, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (again->bos_id, ==, model->bos_id);
  assert_same_weights (model->weights, again->weights);
  g_autofree char *st = g_build_filename (out, "model.safetensors", NULL);
  g_autofree char *cfg = g_build_filename (out, "config.json", NULL);
  g_remove (st), g_remove (cfg), g_rmdir (out), g_rmdir (dir);
}

static void
test_roundtrip_golden (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "golden", "gpt2", NULL);
  roundtrip (path);
}

static void
test_roundtrip_twohop (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "twohop", "cot-3000", NULL);
  roundtrip (path);
}

/* Widths that are not multiples of the loader's 4x4 transpose blocks (C = 10, MLP 30, the
 * fused QKV split at columns 10 and 20), seeded random weights: the same bits again. */
static void
test_roundtrip_odd_shapes (void)
{
  StrataConfig cfg = { .n_layers = 2, .d_model = 10, .n_heads = 2, .n_kv_heads = 2, .d_head = 5, .d_mlp = 30,
                       .vocab = 13, .n_ctx = 7 };
  strata_config_set_family (&cfg, STRATA_FAMILY_GPT2);
  cfg.recipe.norm.eps = 1e-5f;
  g_autoptr (StrataModel) model = g_new0 (StrataModel, 1);
  model->weights = strata_weights_new (&cfg, STRATA_DTYPE_F32);
  model->bos_id = model->eos_id = -1;
  float *arena = model->weights->arena;
  guint32 state = 99;
  for (size_t i = 0; i < model->weights->arena_bytes / sizeof (float); i++) {
    state = state * 1664525u + 1013904223u;
    arena[i] = (float) ((state >> 8) / 16777216.0 - 0.5);
  }
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("strata-hf-write-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *out = g_build_filename (dir, "ckpt", NULL);
  g_assert_true (strata_hf_write_gpt2 (model->weights, out, -1, -1, &error));
  g_assert_no_error (error);
  g_autoptr (StrataModel) again = strata_model_open (out, NULL, &error);
  g_assert_no_error (error);
  assert_same_weights (model->weights, again->weights);
  g_autofree char *st = g_build_filename (out, "model.safetensors", NULL);
  g_autofree char *cfgp = g_build_filename (out, "config.json", NULL);
  g_remove (st), g_remove (cfgp), g_rmdir (out), g_rmdir (dir);
}

static void
test_refuses_other_families (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "golden", "llama-gqa", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) model = strata_model_open (path, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (strata_hf_write_gpt2 (model->weights, "/nonexistent/never-written", -1, -1, &error));
  g_assert_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "only GPT-2"));
  g_assert_false (g_file_test ("/nonexistent/never-written", G_FILE_TEST_EXISTS));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/data/hf-write/roundtrip-golden", test_roundtrip_golden);
  g_test_add_func ("/data/hf-write/roundtrip-twohop", test_roundtrip_twohop);
  g_test_add_func ("/data/hf-write/roundtrip-odd-shapes", test_roundtrip_odd_shapes);
  g_test_add_func ("/data/hf-write/refuses-other-families", test_refuses_other_families);
  return g_test_run ();
}
