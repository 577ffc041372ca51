/* test-forward.c: the CPU forward pass against reference outputs the project did not
 * compute with its own code.
 *
 * tests/data/golden/<name>/ holds a seeded Hugging Face checkpoint and golden.safetensors,
 * every TransformerLens site of a float64 torch forward with Hugging Face semantics
 * (tools/reference/make_goldens.py). stories260K-logits.safetensors holds logits, the
 * residual stream and a greedy continuation of the real llama2.c model
 * (tools/reference/stories260k_reference.py). Each case opens the checkpoint with the
 * project's loader, caches every site the golden file has, and allows max |diff| 1e-4 (an
 * fp32 rerun of the references lands within 1.5e-5). */
#include <math.h>
#include <string.h>

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
} ForwardCase;

static const ForwardCase case_gpt2 = { "golden/gpt2", "golden/gpt2/golden.safetensors", STRATA_DTYPE_F32, STRATA_ROPE_NONE, TRUE };
static const ForwardCase case_gpt2_f16 = { "golden/gpt2-f16", "golden/gpt2-f16/golden.safetensors", STRATA_DTYPE_F16, STRATA_ROPE_NONE, TRUE };
static const ForwardCase case_llama = { "golden/llama-gqa", "golden/llama-gqa/golden.safetensors", STRATA_DTYPE_F32, STRATA_ROPE_HALF, TRUE };
static const ForwardCase case_qwen2 = { "golden/qwen2-bias", "golden/qwen2-bias/golden.safetensors", STRATA_DTYPE_F32, STRATA_ROPE_HALF, TRUE };
static const ForwardCase case_mistral = { "golden/mistral-bf16", "golden/mistral-bf16/golden.safetensors", STRATA_DTYPE_BF16, STRATA_ROPE_HALF, TRUE };
static const ForwardCase case_stories = { "stories260K/stories260K.bin", "golden/stories260K-logits.safetensors", STRATA_DTYPE_F32, STRATA_ROPE_ADJACENT, FALSE };

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

static void
test_forward (gconstpointer data)
{
  const ForwardCase *fc = data;
  g_autoptr (StrataModel) model = open_case_model (fc);
  g_autoptr (StrataGolden) golden = open_case_golden (fc);
  StrataEngine *e = new_cpu_engine (model);
  check_sites (model, golden, fc, e);
  strata_engine_free (e);
}

/* stories260K: the sites, then greedy decoding from BOS alone must give the reference ids
 * (each step's top-2 logits are >= 0.13 apart in the reference, far above fp32 noise). */
static void
test_forward_stories (gconstpointer data)
{
  const ForwardCase *fc = data;
  g_autoptr (StrataModel) model = open_case_model (fc);
  g_autoptr (StrataGolden) golden = open_case_golden (fc);
  StrataEngine *e = new_cpu_engine (model);
  check_sites (model, golden, fc, e);

  g_autoptr (GError) error = NULL;
  gsize n_greedy;
  g_autofree gint32 *want = strata_golden_dup_i32 (golden, "greedy", &n_greedy, &error);
  g_assert_no_error (error);
  int V = model->weights->cfg.vocab;
  g_autofree gint32 *ids = g_new (gint32, n_greedy + 1);
  g_autofree float *logits = g_new (float, (n_greedy + 1) * (gsize) V);
  ids[0] = 1; /* BOS of llama2.c models */
  for (gsize t = 1; t <= n_greedy; t++) {
    run_or_fail (e, ids, 1, (int) t, NULL, logits);
    const float *last = logits + (t - 1) * (gsize) V;
    int best = 0;
    for (int v = 1; v < V; v++)
      if (last[v] > last[best])
        best = v;
    ids[t] = best;
    if (ids[t] != want[t - 1]) {
      g_test_fail_printf ("greedy step %zu: got token %d, reference %d", t, ids[t], want[t - 1]);
      break;
    }
  }
  strata_engine_free (e);
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
  g_test_add_data_func ("/kernels/forward/stories260k", &case_stories, test_forward_stories);
  return g_test_run ();
}
