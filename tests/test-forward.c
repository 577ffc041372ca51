/* test-forward.c: the CPU forward pass against reference outputs the project did not
 * compute with its own code.
 *
 * tests/data/golden/<name>/ holds a seeded Hugging Face checkpoint and golden.safetensors,
 * every TransformerLens site of a float64 torch forward with Hugging Face semantics
 * (tools/reference/make_goldens.py). stories260K-logits.safetensors holds logits, the
 * residual stream and a greedy continuation of the real llama2.c model
 * (tools/reference/stories260k_reference.py). Each case opens the checkpoint with the
 * project's loader, caches every site the golden file has, and allows max |diff| 1e-4 (an
 * fp32 rerun of the references lands within 1.5e-5). The GPT-NeoX goldens and those after
 * them (Mistral with a window shorter than the sequence, Gemma 2, Qwen3, OLMo-2, Phi-3) also
 * hold greedy ids that transformers' generate() reproduces (tools/reference/check_goldens_hf.py).
 * The logit lens at the last layer, on the reference's last resid_post, must give the
 * reference logits (the model's own final norm and output transform).
 *
 * tests/data/golden/recipes/<name>/ holds recipes through the engine alone (Gemma-like
 * soft-caps, windows and post-norms; q/k norms with partial rotary; parallel blocks with
 * learned positions): recipe.json, weights under the engine's own tensor names and golden sites of a
 * float64 torch forward written from the recipe's definition
 * (tools/reference/make_recipe_goldens.py). These cases build the config and weights
 * directly, so they check the engine without any loader. */
#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "golden-reader.h"
#include "strata-engine.h"
#include "strata-model.h"

#define TOLERANCE 1e-4

/* TransformerLens name of each site, without the "blocks.L." prefix of per-layer sites. */
typedef struct {
  StrataSite site;
  const char *name;
  gboolean per_layer;
} SiteName;

static const SiteName site_names[] = {
  { STRATA_SITE_EMBED, "hook_embed", FALSE },
  { STRATA_SITE_POS_EMBED, "hook_pos_embed", FALSE },
  { STRATA_SITE_RESID_PRE, "hook_resid_pre", TRUE },
  { STRATA_SITE_ATTN_Q, "attn.hook_q", TRUE },
  { STRATA_SITE_ATTN_K, "attn.hook_k", TRUE },
  { STRATA_SITE_ATTN_V, "attn.hook_v", TRUE },
  { STRATA_SITE_ATTN_PATTERN, "attn.hook_pattern", TRUE },
  { STRATA_SITE_ATTN_Z, "attn.hook_z", TRUE },
  { STRATA_SITE_ATTN_RESULT, "attn.hook_result", TRUE },
  { STRATA_SITE_ATTN_OUT, "hook_attn_out", TRUE },
  { STRATA_SITE_RESID_MID, "hook_resid_mid", TRUE },
  { STRATA_SITE_MLP_POST, "mlp.hook_post", TRUE },
  { STRATA_SITE_MLP_OUT, "hook_mlp_out", TRUE },
  { STRATA_SITE_RESID_POST, "hook_resid_post", TRUE },
  { STRATA_SITE_LN_FINAL, "ln_final.hook_normalized", FALSE },
  { STRATA_SITE_LOGITS, "logits", FALSE },
};
G_STATIC_ASSERT (G_N_ELEMENTS (site_names) == STRATA_SITE_COUNT);

typedef struct {
  const char *model;  /* checkpoint, relative to tests/data */
  const char *golden; /* golden file, relative to tests/data */
  StrataDType dtype;  /* as stored: the loader must report it */
  StrataRope rope;    /* the pairing the loader must record for this format */
  gboolean all_sites; /* the golden file must hold every site the family has */
  int greedy;         /* the golden's `greedy` ids follow: 0 none, 1 BOS (id 1) alone, 2 the first sequence */
} ForwardCase;

static const ForwardCase case_gpt2 = { "golden/gpt2", "golden/gpt2/golden.safetensors", STRATA_DTYPE_F32, STRATA_ROPE_NONE, TRUE };
static const ForwardCase case_gpt2_f16 = { "golden/gpt2-f16", "golden/gpt2-f16/golden.safetensors", STRATA_DTYPE_F16, STRATA_ROPE_NONE, TRUE };
static const ForwardCase case_llama = { "golden/llama-gqa", "golden/llama-gqa/golden.safetensors", STRATA_DTYPE_F32, STRATA_ROPE_HALF, TRUE };
static const ForwardCase case_qwen2 = { "golden/qwen2-bias", "golden/qwen2-bias/golden.safetensors", STRATA_DTYPE_F32, STRATA_ROPE_HALF, TRUE };
static const ForwardCase case_mistral = { "golden/mistral-bf16", "golden/mistral-bf16/golden.safetensors", STRATA_DTYPE_BF16, STRATA_ROPE_HALF, TRUE };
static const ForwardCase case_neox = { "golden/neox", "golden/neox/golden.safetensors", STRATA_DTYPE_F32, STRATA_ROPE_HALF, TRUE, 2 };
static const ForwardCase case_neox_seq = { "golden/neox-seq-f16", "golden/neox-seq-f16/golden.safetensors", STRATA_DTYPE_F16, STRATA_ROPE_HALF, TRUE, 2 };
static const ForwardCase case_mistral_window = { "golden/mistral-window", "golden/mistral-window/golden.safetensors", STRATA_DTYPE_F32, STRATA_ROPE_HALF, TRUE, 2 };
static const ForwardCase case_gemma2 = { "golden/gemma2-window", "golden/gemma2-window/golden.safetensors", STRATA_DTYPE_F32, STRATA_ROPE_HALF, TRUE, 2 };
static const ForwardCase case_qwen3 = { "golden/qwen3-qknorm", "golden/qwen3-qknorm/golden.safetensors", STRATA_DTYPE_BF16, STRATA_ROPE_HALF, TRUE, 2 };
static const ForwardCase case_olmo2 = { "golden/olmo2-postnorm", "golden/olmo2-postnorm/golden.safetensors", STRATA_DTYPE_F32, STRATA_ROPE_HALF, TRUE, 2 };
static const ForwardCase case_phi3 = { "golden/phi3-fused", "golden/phi3-fused/golden.safetensors", STRATA_DTYPE_F16, STRATA_ROPE_HALF, TRUE, 2 };
static const ForwardCase case_stories = { "stories260K/stories260K.bin", "golden/stories260K-logits.safetensors", STRATA_DTYPE_F32, STRATA_ROPE_ADJACENT, FALSE, 1 };

/* Shape of a site per strata-sites.h, for a run of B sequences of T tokens. */
static int
site_shape (const StrataConfig *cfg, StrataSite site, int B, int T, gint64 shape[4])
{
  int C = cfg->d_model, H = cfg->n_heads, K = cfg->n_kv_heads, D = cfg->d_head;
  gint64 s[4] = { B, T, C, 0 };
  int n = 3;
  switch (site) {
  case STRATA_SITE_ATTN_Q:
  case STRATA_SITE_ATTN_Z: s[2] = H, s[3] = D, n = 4; break;
  case STRATA_SITE_ATTN_K:
  case STRATA_SITE_ATTN_V: s[2] = K, s[3] = D, n = 4; break;
  case STRATA_SITE_ATTN_PATTERN: s[1] = H, s[2] = T, s[3] = T, n = 4; break;
  case STRATA_SITE_ATTN_RESULT: s[2] = H, s[3] = C, n = 4; break;
  case STRATA_SITE_MLP_POST: s[2] = cfg->d_mlp; break;
  case STRATA_SITE_LOGITS: s[2] = cfg->vocab; break;
  default: break;
  }
  memcpy (shape, s, sizeof s);
  return n;
}

static gboolean
site_exists (const StrataConfig *cfg, StrataSite site)
{
  return strata_site_exists (cfg, site);
}

/* max |a - b| over n floats; NaN (e.g. a value the engine never wrote) counts as infinite. */
static double
max_abs_diff (const float *a, const float *b, gsize n)
{
  double worst = 0;
  for (gsize i = 0; i < n; i++) {
    double d = fabs ((double) a[i] - (double) b[i]);
    if (!(d <= worst))
      worst = isnan (d) ? INFINITY : d;
  }
  return worst;
}

static float *
new_nan_buffer (gsize n)
{
  float *p = g_new (float, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    p[i] = NAN;
  return p;
}

static void
check_error (const char *what, double err)
{
  g_test_message ("%-36s max |diff| %.2e", what, err);
  if (!(err <= TOLERANCE))
    g_test_fail_printf ("%s: max |diff| %.3g exceeds %g", what, err, TOLERANCE);
}

static StrataModel *
open_case_model (const ForwardCase *fc)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", fc->model, NULL);
  g_autoptr (GError) error = NULL;
  StrataModel *model = strata_model_open (path, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  g_assert_cmpint (model->dtype, ==, fc->dtype);
  g_assert_cmpint (model->weights->cfg.recipe.rope.pairing, ==, fc->rope);
  return model;
}

/* ---- recipe cases: config and weights straight from recipe.json and weights.safetensors ---- */

static int
json_int (JsonObject *o, const char *key)
{
  g_assert_true (json_object_has_member (o, key));
  return (int) json_object_get_int_member (o, key);
}

/* The index of `value` among `names`, failing the test when it is not there. */
static int
json_enum (JsonObject *o, const char *key, const char *const *names, int n)
{
  const char *v = json_object_get_string_member (o, key);
  for (int i = 0; i < n; i++)
    if (g_strcmp0 (v, names[i]) == 0)
      return i;
  g_test_fail_printf ("recipe.json: %s '%s' is unknown", key, v);
  return 0;
}

static void
config_from_recipe (JsonObject *o, StrataConfig *c)
{
  static const char *const norms[] = { "layernorm", "rmsnorm", "rmsnorm_unit_offset" };
  static const char *const acts[] = { "gelu_tanh", "gelu_erf", "silu" };
  static const char *const qk[] = { "none", "head", "whole" };
  static const char *const ropes[] = { "none", "adjacent", "half" };
  *c = (StrataConfig) { .family = STRATA_FAMILY_LLAMA, /* a label only: the recipe says it all */
                        .n_layers = json_int (o, "n_layers"), .d_model = json_int (o, "d_model"),
                        .n_heads = json_int (o, "n_heads"), .n_kv_heads = json_int (o, "n_kv_heads"),
                        .d_head = json_int (o, "d_head"), .d_mlp = json_int (o, "d_mlp"),
                        .vocab = json_int (o, "vocab"), .n_ctx = json_int (o, "n_ctx") };
  StrataRecipe *r = &c->recipe;
  r->norm.kind = (StrataNormKind) json_enum (o, "norm", norms, G_N_ELEMENTS (norms));
  r->norm.eps = (float) json_object_get_double_member (o, "norm_eps");
  r->act = (StrataActivation) json_enum (o, "activation", acts, G_N_ELEMENTS (acts));
  r->gated = json_object_get_boolean_member (o, "gated");
  r->parallel = json_object_get_boolean_member (o, "parallel");
  /* Keys added after the first recipe goldens are written only when they differ from their
   * default, so those files keep their bytes. */
  r->pre_norms = json_object_get_boolean_member_with_default (o, "pre_norms", TRUE);
  r->post_norms = json_object_get_boolean_member (o, "post_norms");
  r->qk_norm = (StrataQkNorm) json_enum (o, "qk_norm", qk, G_N_ELEMENTS (qk));
  r->learned_pos = json_object_get_boolean_member (o, "learned_pos");
  r->rope.pairing = (StrataRope) json_enum (o, "rope", ropes, G_N_ELEMENTS (ropes));
  r->rope.dims = json_int (o, "rope_dims");
  r->rope.theta = (float) json_object_get_double_member (o, "rope_theta");
  r->attn.scale = (float) json_object_get_double_member (o, "attn_scale");
  r->attn.softcap = (float) json_object_get_double_member (o, "attn_softcap");
  r->attn.window = json_int (o, "window");
  r->window_period = json_int (o, "window_period");
  r->final_softcap = (float) json_object_get_double_member (o, "final_softcap");
  r->embed_scale = (float) json_object_get_double_member (o, "embed_scale");
  r->qkv_bias = json_object_get_boolean_member (o, "qkv_bias");
  r->o_bias = json_object_get_boolean_member (o, "o_bias");
  r->mlp_bias = json_object_get_boolean_member (o, "mlp_bias");
  r->unembed_bias = json_object_get_boolean_member (o, "unembed_bias");
  r->tied = json_object_get_boolean_member (o, "tied");
}

typedef struct {
  StrataGolden *file;
  int used;
} WeightsFile;

/* Every tensor the recipe's table names must be in the file, with its shape. */
static int
fill_tensor_cb (StrataWeightTensor *t, void *user)
{
  WeightsFile *wf = user;
  int nd;
  gint64 shape[4];
  if (!strata_golden_has (wf->file, t->name, &nd, shape)) {
    g_test_fail_printf ("weights.safetensors lacks %s", t->name);
    return 1;
  }
  g_assert_cmpint (shape[0], ==, (gint64) t->rows);
  g_assert_cmpint (nd == 2 ? shape[1] : 1, ==, (gint64) t->cols);
  g_autoptr (GError) error = NULL;
  gsize n;
  g_autofree float *v = strata_golden_dup_f32 (wf->file, t->name, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, t->rows * t->cols);
  memcpy (t->matrix ? t->mat->data : *t->vec, v, n * sizeof (float));
  wf->used++;
  return 0;
}

static StrataModel *
open_recipe_model (const char *dir)
{
  g_autofree char *json = g_test_build_filename (G_TEST_DIST, "data", dir, "recipe.json", NULL);
  g_autofree char *weights = g_test_build_filename (G_TEST_DIST, "data", dir, "weights.safetensors", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (json_parser_load_from_file (parser, json, &error));
  g_assert_no_error (error);
  StrataConfig cfg;
  config_from_recipe (json_node_get_object (json_parser_get_root (parser)), &cfg);
  g_assert_null (strata_config_check (&cfg));
  StrataModel *model = g_new0 (StrataModel, 1);
  model->weights = strata_weights_new (&cfg, STRATA_DTYPE_F32);
  g_assert_nonnull (model->weights);
  WeightsFile wf = { strata_golden_open (weights, &error), 0 };
  g_assert_no_error (error);
  g_assert_cmpint (strata_weights_visit (model->weights, fill_tensor_cb, &wf), ==, 0);
  /* ... and every tensor of the file is one of the table's (none left unread). */
  g_assert_cmpint (wf.used, ==, strata_golden_count (wf.file));
  strata_golden_free (wf.file);
  return model;
}

static StrataGolden *
open_case_golden (const ForwardCase *fc)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", fc->golden, NULL);
  g_autoptr (GError) error = NULL;
  StrataGolden *golden = strata_golden_open (path, &error);
  g_assert_no_error (error);
  return golden;
}

static StrataEngine *
new_cpu_engine (StrataModel *model)
{
  StrataStatus st = STRATA_OK;
  StrataEngine *e = strata_engine_new (strata_backend_cpu (), model->weights, &st);
  g_assert_cmpstr (strata_status_to_string (st), ==, strata_status_to_string (STRATA_OK));
  g_assert_nonnull (e);
  return e;
}

static void
run_or_fail (StrataEngine *e, const gint32 *tokens, int B, int T, const StrataHooks *hooks, float *logits)
{
  StrataStatus st = strata_engine_forward (e, tokens, B, T, hooks, logits);
  if (st != STRATA_OK)
    g_test_message ("forward: %s", strata_engine_get_error (e));
  g_assert_cmpstr (strata_status_to_string (st), ==, strata_status_to_string (STRATA_OK));
}

/* Run the golden tokens with a cache on every site the golden file holds and compare
 * each, and the logits output, with the reference. */
static void
check_sites (StrataModel *model, StrataGolden *golden, const ForwardCase *fc, StrataEngine *e)
{
  const StrataConfig *cfg = &model->weights->cfg;
  g_autoptr (GError) error = NULL;
  int nd;
  gint64 tshape[4];
  g_assert_true (strata_golden_has (golden, "tokens", &nd, tshape));
  g_assert_cmpint (nd, ==, 2);
  int B = (int) tshape[0], T = (int) tshape[1];
  gsize n_tok;
  g_autofree gint32 *tokens = strata_golden_dup_i32 (golden, "tokens", &n_tok, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n_tok, ==, (gsize) B * T);
  g_assert_cmpint (T, <=, cfg->n_ctx);

  g_autoptr (GArray) caches = g_array_new (FALSE, FALSE, sizeof (StrataCache));
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) refs = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) sizes = g_array_new (FALSE, FALSE, sizeof (gsize));
  for (guint s = 0; s < G_N_ELEMENTS (site_names); s++) {
    const SiteName *sn = &site_names[s];
    for (int l = 0; l < (sn->per_layer ? cfg->n_layers : 1); l++) {
      char *name = sn->per_layer ? g_strdup_printf ("blocks.%d.%s", l, sn->name) : g_strdup (sn->name);
      gint64 shape[4], want[4];
      if (!strata_golden_has (golden, name, &nd, shape)) {
        if (fc->all_sites && site_exists (cfg, sn->site))
          g_test_fail_printf ("golden file lacks %s", name);
        g_free (name);
        continue;
      }
      /* The golden layout and strata-sites.h must agree before values are compared. */
      g_assert_cmpint (nd, ==, site_shape (cfg, sn->site, B, T, want));
      for (int i = 0; i < nd; i++)
        g_assert_cmpint (shape[i], ==, want[i]);
      gsize n;
      float *ref = strata_golden_dup_f32 (golden, name, &n, &error);
      g_assert_no_error (error);
      StrataCache c = { sn->site, sn->per_layer ? l : -1, new_nan_buffer (n) };
      g_array_append_val (caches, c);
      g_array_append_val (sizes, n);
      g_ptr_array_add (names, name);
      g_ptr_array_add (refs, ref);
    }
  }
  g_assert_cmpuint (caches->len, >, 0);

  gsize n_logits = (gsize) B * T * cfg->vocab;
  g_autofree float *logits = new_nan_buffer (n_logits);
  StrataHooks hooks = { (const StrataCache *) caches->data, (int) caches->len, NULL, 0 };
  run_or_fail (e, tokens, B, T, &hooks, logits);

  gsize n_ref;
  g_autofree float *ref_logits = strata_golden_dup_f32 (golden, "logits", &n_ref, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (n_ref, ==, n_logits);
  check_error ("logits (forward output)", max_abs_diff (logits, ref_logits, n_logits));
  for (guint i = 0; i < caches->len; i++) {
    StrataCache *c = &g_array_index (caches, StrataCache, i);
    check_error (names->pdata[i], max_abs_diff (c->dst, refs->pdata[i], g_array_index (sizes, gsize, i)));
    g_free (c->dst);
  }
}

/* Greedy decoding from `prefix` must give the reference ids (each reference step's top-2
 * logits are far apart compared with fp32 noise: >= 0.13 for stories260K, >= 0.035 for the
 * NeoX goldens). */
static void
check_greedy (StrataModel *model, StrataGolden *golden, StrataEngine *e, const gint32 *prefix, gsize n_prefix)
{
  g_autoptr (GError) error = NULL;
  gsize n_greedy;
  g_autofree gint32 *want = strata_golden_dup_i32 (golden, "greedy", &n_greedy, &error);
  g_assert_no_error (error);
  int V = model->weights->cfg.vocab;
  gsize total = n_prefix + n_greedy;
  g_autofree gint32 *ids = g_new (gint32, total);
  g_autofree float *logits = g_new (float, total * (gsize) V);
  memcpy (ids, prefix, n_prefix * sizeof (gint32));
  for (gsize t = n_prefix; t < total; t++) {
    run_or_fail (e, ids, 1, (int) t, NULL, logits);
    const float *last = logits + (t - 1) * (gsize) V;
    int best = 0;
    for (int v = 1; v < V; v++)
      if (last[v] > last[best])
        best = v;
    ids[t] = best;
    if (ids[t] != want[t - n_prefix]) {
      g_test_fail_printf ("greedy step %zu: got token %d, reference %d", t - n_prefix + 1, ids[t], want[t - n_prefix]);
      break;
    }
  }
}

/* The logit lens at the last residual point is the model's own final norm and output
 * transform (the final soft-cap of Gemma 2 too): on the reference's last resid_post it must
 * give the reference logits. */
static void
check_lens (StrataModel *model, StrataGolden *golden, StrataEngine *e)
{
  const StrataConfig *cfg = &model->weights->cfg;
  g_autofree char *name = g_strdup_printf ("blocks.%d.hook_resid_post", cfg->n_layers - 1);
  g_autoptr (GError) error = NULL;
  int nd;
  gint64 shape[4];
  if (!strata_golden_has (golden, name, &nd, shape))
    return;
  gsize n, n_ref;
  g_autofree float *x = strata_golden_dup_f32 (golden, name, &n, &error);
  g_assert_no_error (error);
  g_autofree float *ref = strata_golden_dup_f32 (golden, "logits", &n_ref, &error);
  g_assert_no_error (error);
  int R = (int) (n / (gsize) cfg->d_model);
  g_assert_cmpuint (n_ref, ==, (gsize) R * cfg->vocab);
  g_autofree float *lens = new_nan_buffer (n_ref);
  g_assert_cmpint (strata_engine_unembed (e, x, R, 0, lens), ==, STRATA_OK);
  check_error ("lens at the last layer vs logits", max_abs_diff (lens, ref, n_ref));
}

/* Every site against the golden, then, where the golden has them, greedy ids: from BOS
 * alone (stories260K), or continuing the first golden sequence (GPT-NeoX). */
static void
test_forward (gconstpointer data)
{
  const ForwardCase *fc = data;
  g_autoptr (StrataModel) model = open_case_model (fc);
  g_autoptr (StrataGolden) golden = open_case_golden (fc);
  StrataEngine *e = new_cpu_engine (model);
  check_sites (model, golden, fc, e);
  check_lens (model, golden, e);
  if (fc->greedy == 1) {
    const gint32 bos = 1; /* BOS of llama2.c models */
    check_greedy (model, golden, e, &bos, 1);
  } else if (fc->greedy == 2) {
    g_autoptr (GError) error = NULL;
    int nd;
    gint64 shape[4];
    g_assert_true (strata_golden_has (golden, "tokens", &nd, shape));
    gsize n;
    g_autofree gint32 *tokens = strata_golden_dup_i32 (golden, "tokens", &n, &error);
    g_assert_no_error (error);
    check_greedy (model, golden, e, tokens, (gsize) shape[1]);
  }
  strata_engine_free (e);
}

/* A recipe through the engine alone, against its float64 torch forward, site by site. */
static void
test_forward_recipe (gconstpointer data)
{
  const char *name = data;
  g_autofree char *dir = g_build_filename ("golden", "recipes", name, NULL);
  g_autofree char *golden_path = g_build_filename (dir, "golden.safetensors", NULL);
  ForwardCase fc = { dir, golden_path, STRATA_DTYPE_F32, STRATA_ROPE_NONE, TRUE };
  StrataModel *model = open_recipe_model (dir);
  g_autoptr (StrataGolden) golden = open_case_golden (&fc);
  StrataEngine *e = new_cpu_engine (model);
  check_sites (model, golden, &fc, e);
  check_lens (model, golden, e);
  strata_engine_free (e);
  strata_weights_free (model->weights);
  g_free (model);
}

/* Typed weights: a checkpoint stored in F16/BF16, its matrices kept in that dtype, runs on
 * the CPU (which takes F32 only, so the engine converts them once) with the very bits of the
 * F32 load; and the 16-bit copy really is 16-bit (a matrix of an F32 checkpoint changes). */
static void
test_typed_weights (gconstpointer data)
{
  const ForwardCase *fc = data;
  g_autoptr (StrataModel) model = open_case_model (fc);
  const StrataWeights *w = model->weights;
  StrataWeights *narrow = strata_weights_convert (w, fc->dtype);
  g_assert_nonnull (narrow);
  g_assert_true (strata_weights_matrices_in (narrow, 1u << fc->dtype));
  g_assert_false (strata_weights_matrices_in (narrow, 1u << STRATA_DTYPE_F32));
  g_assert_cmpuint (strata_weights_param_count (narrow), ==, strata_weights_param_count (w));
  g_assert_cmpuint (narrow->arena_bytes, <, w->arena_bytes);
  int B = 2, T = 7, V = w->cfg.vocab;
  gint32 tokens[14];
  for (int i = 0; i < B * T; i++)
    tokens[i] = (i * 13 + 5) % V;
  g_autofree float *wide_logits = g_new (float, (gsize) B * T * V);
  g_autofree float *narrow_logits = g_new (float, (gsize) B * T * V);
  StrataEngine *e = new_cpu_engine (model);
  run_or_fail (e, tokens, B, T, NULL, wide_logits);
  strata_engine_free (e);
  StrataStatus st;
  e = strata_engine_new (strata_backend_cpu (), narrow, &st);
  g_assert_nonnull (e);
  run_or_fail (e, tokens, B, T, NULL, narrow_logits);
  strata_engine_free (e);
  g_assert_cmpmem (narrow_logits, (gsize) B * T * V * sizeof (float), wide_logits, (gsize) B * T * V * sizeof (float));
  strata_weights_free (narrow);

  /* An F32 checkpoint rounded to the same dtype is another model. */
  g_autoptr (StrataModel) f32 = open_case_model (&case_gpt2);
  StrataWeights *rounded = strata_weights_convert (f32->weights, fc->dtype);
  g_assert_nonnull (rounded);
  gsize n = (gsize) f32->weights->cfg.d_model * f32->weights->cfg.d_model;
  g_autofree float *back = g_new (float, n);
  strata_dtype_to_f32 (fc->dtype, rounded->layers[0].w_q.data, back, n);
  g_assert_true (memcmp (back, f32->weights->layers[0].w_q.data, n * sizeof (float)) != 0);
  strata_weights_free (rounded);
}

/* A 16-bit checkpoint kept as stored (STRATA_MATRICES_STORED) holds the file's bytes, and
 * an engine that may not afford the F32 copy converts per product: the same logits as the F32
 * load to rounding (blocks of rows are separate products). */
static void
test_stored_per_product (gconstpointer data)
{
  const ForwardCase *fc = data;
  g_autoptr (StrataModel) wide = open_case_model (fc);
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", fc->model, NULL);
  g_autoptr (GError) error = NULL;
  StrataOpenOptions o = { NULL, STRATA_MATRICES_STORED };
  g_autoptr (StrataModel) kept = strata_model_open_with (path, &o, &error);
  g_assert_no_error (error);
  g_assert_true (strata_weights_matrices_in (kept->weights, 1u << fc->dtype));
  g_assert_cmpuint (strata_weights_param_count (kept->weights), ==, strata_weights_param_count (wide->weights));
  int B = 2, T = 7, V = wide->weights->cfg.vocab;
  gint32 tokens[14];
  for (int i = 0; i < B * T; i++)
    tokens[i] = (i * 17 + 3) % V;
  g_autofree float *a = g_new (float, (gsize) B * T * V);
  g_autofree float *b = g_new (float, (gsize) B * T * V);
  StrataEngine *e = new_cpu_engine (wide);
  run_or_fail (e, tokens, B, T, NULL, a);
  g_assert_false (strata_engine_converts_per_product (e));
  strata_engine_free (e);
  StrataEngineOptions eo = { .convert_limit = 1 }; /* no F32 copy is affordable */
  StrataStatus st;
  e = strata_engine_new_with (strata_backend_cpu (), kept->weights, &eo, &st);
  g_assert_nonnull (e);
  g_assert_true (strata_engine_converts_per_product (e));
  run_or_fail (e, tokens, B, T, NULL, b);
  strata_engine_free (e);
  double worst = max_abs_diff (a, b, (gsize) B * T * V);
  g_test_message ("per-product conversion vs the F32 load: max |diff| %.2e", worst);
  g_assert_cmpfloat (worst, <=, 1e-5);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/kernels/forward/gpt2", &case_gpt2, test_forward);
  g_test_add_data_func ("/kernels/forward/gpt2-f16", &case_gpt2_f16, test_forward);
  g_test_add_data_func ("/kernels/forward/llama-gqa", &case_llama, test_forward);
  g_test_add_data_func ("/kernels/forward/qwen2-bias", &case_qwen2, test_forward);
  g_test_add_data_func ("/kernels/forward/mistral-bf16", &case_mistral, test_forward);
  g_test_add_data_func ("/kernels/forward/neox", &case_neox, test_forward);
  g_test_add_data_func ("/kernels/forward/neox-seq-f16", &case_neox_seq, test_forward);
  g_test_add_data_func ("/kernels/forward/mistral-window", &case_mistral_window, test_forward);
  g_test_add_data_func ("/kernels/forward/gemma2-window", &case_gemma2, test_forward);
  g_test_add_data_func ("/kernels/forward/qwen3-qknorm", &case_qwen3, test_forward);
  g_test_add_data_func ("/kernels/forward/olmo2-postnorm", &case_olmo2, test_forward);
  g_test_add_data_func ("/kernels/forward/phi3-fused", &case_phi3, test_forward);
  g_test_add_data_func ("/kernels/forward/stories260k", &case_stories, test_forward);
  g_test_add_data_func ("/kernels/weights/typed-bf16", &case_mistral, test_typed_weights);
  g_test_add_data_func ("/kernels/weights/typed-f16", &case_gpt2_f16, test_typed_weights);
  g_test_add_data_func ("/kernels/weights/per-product-bf16", &case_mistral, test_stored_per_product);
  g_test_add_data_func ("/kernels/weights/per-product-f16", &case_neox_seq, test_stored_per_product);
  g_test_add_data_func ("/kernels/forward/recipe/gemma-like", "gemma-like", test_forward_recipe);
  g_test_add_data_func ("/kernels/forward/recipe/qknorm-partial", "qknorm-partial", test_forward_recipe);
  g_test_add_data_func ("/kernels/forward/recipe/parallel-learned", "parallel-learned", test_forward_recipe);
  return g_test_run ();
}
