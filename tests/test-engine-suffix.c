/* test-engine-suffix: the patching fast path (strata_engine_forward_suffix and _jobs) against
 * full forward passes with the same patches, on seeded random GPT-2, Llama (GQA, RoPE),
 * GPT-NeoX (parallel blocks, partial RoPE), Gemma 2 (post-norms, soft-caps, windows) and
 * OLMo-2 (no pre-norms) weights built in memory; each again on a device-like backend: the
 * CPU's with host_memory off (the engine uploads the weights and stages a pass's inputs for
 * one transfer, as for a GPU) and its batched row copies run in reverse order. Needs only
 * kernels/. */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "strata-engine.h"

static guint32 rng_state;
static float
uniform (void)
{
  rng_state = rng_state * 1664525u + 1013904223u;
  return (float) ((rng_state >> 8) / 16777216.0 - 0.5);
}

static StrataWeights *
random_weights (StrataFamily family, int d_model)
{
  StrataConfig cfg = { .n_layers = 3, .d_model = d_model, .n_heads = 4,
                       .n_kv_heads = family == STRATA_FAMILY_LLAMA ? 2 : 4, .d_head = 8,
                       .d_mlp = 48, .vocab = 50, .n_ctx = 16 };
  /* GPT-2: learned positions, tied; Llama: RoPE half, GQA; NeoX: parallel blocks, RoPE on
   * half of each head; Gemma 2: post-norms, soft-caps, a window of 3 on layers 0 and 2;
   * OLMo-2: no pre-norms, post-norms, whole q/k norms. */
  strata_config_set_family (&cfg, family);
  cfg.recipe.norm.eps = 1e-5f;
  if (family == STRATA_FAMILY_NEOX)
    cfg.recipe.rope.dims = 4;
  if (family == STRATA_FAMILY_GEMMA2) {
    cfg.recipe.attn.window = 3;
    cfg.recipe.attn.softcap = 2.0f;
    cfg.recipe.final_softcap = 5.0f;
  }
  StrataWeights *w = strata_weights_new (&cfg, STRATA_DTYPE_F32);
  g_assert_nonnull (w);
  rng_state = 1234u + family;
  float *arena = w->arena;
  for (size_t i = 0; i < w->arena_bytes / sizeof (float); i++)
    arena[i] = 0.4f * uniform ();
  /* Norm gains near 1, as trained models have (those the recipe has). */
  for (int l = 0; l < cfg.n_layers; l++) {
    StrataLayerWeights *lw = &w->layers[l];
    float *gains[] = { lw->norm1_w, lw->norm2_w, lw->attn_post_w, lw->mlp_post_w, lw->q_norm_w, lw->k_norm_w };
    size_t qn = cfg.recipe.qk_norm == STRATA_QK_NORM_WHOLE ? (size_t) cfg.n_heads * cfg.d_head : (size_t) cfg.d_head;
    size_t kn = cfg.recipe.qk_norm == STRATA_QK_NORM_WHOLE ? (size_t) cfg.n_kv_heads * cfg.d_head : (size_t) cfg.d_head;
    size_t sizes[] = { cfg.d_model, cfg.d_model, cfg.d_model, cfg.d_model, qn, kn };
    for (size_t g = 0; g < G_N_ELEMENTS (gains); g++)
      for (size_t c = 0; gains[g] && c < sizes[g]; c++)
        gains[g][c] += 1.0f;
  }
  for (int c = 0; c < cfg.d_model; c++)
    w->norm_f_w[c] += 1.0f;
  return w;
}

typedef struct {
  int T;
  float *resid_pre, *k, *v; /* (L, T, C), (L, T, KD), (L, T, KD) */
  const float **rp, **kp, **vp;
} Base;

static void
base_run (StrataEngine *e, const int32_t *tokens, int T, Base *b, float *logits)
{
  const StrataConfig *g = strata_engine_get_config (e);
  int L = g->n_layers, C = g->d_model, KD = g->n_kv_heads * g->d_head;
  b->T = T;
  b->resid_pre = g_new (float, (gsize) L * T * C);
  b->k = g_new (float, (gsize) L * T * KD);
  b->v = g_new (float, (gsize) L * T * KD);
  b->rp = g_new (const float *, L), b->kp = g_new (const float *, L), b->vp = g_new (const float *, L);
  StrataCache caches[3 * 8];
  for (int l = 0; l < L; l++) {
    b->rp[l] = b->resid_pre + (gsize) l * T * C;
    b->kp[l] = b->k + (gsize) l * T * KD;
    b->vp[l] = b->v + (gsize) l * T * KD;
    caches[3 * l] = (StrataCache) { STRATA_SITE_RESID_PRE, l, (float *) b->rp[l] };
    caches[3 * l + 1] = (StrataCache) { STRATA_SITE_ATTN_K, l, (float *) b->kp[l] };
    caches[3 * l + 2] = (StrataCache) { STRATA_SITE_ATTN_V, l, (float *) b->vp[l] };
  }
  StrataHooks hooks = { caches, 3 * L, NULL, 0 };
  g_assert_cmpint (strata_engine_forward (e, tokens, 1, T, &hooks, logits), ==, STRATA_OK);
}

static void
base_clear (Base *b)
{
  g_free (b->resid_pre), g_free (b->k), g_free (b->v);
  g_free (b->rp), g_free (b->kp), g_free (b->vp);
}

static void
check_family (StrataFamily family, const StrataBackend *be, StrataDType dtype)
{
  /* BF16: an odd width, so that an unembedding row is not whole floats. */
  StrataWeights *w = random_weights (family, dtype == STRATA_DTYPE_F32 ? 32 : 33);
  if (dtype != STRATA_DTYPE_F32) {
    StrataWeights *narrow = strata_weights_convert (w, dtype);
    strata_weights_free (w);
    w = narrow;
  }
  StrataStatus st;
  StrataEngineOptions eo = { .convert_limit = 1 }; /* 16-bit matrices kept as they are */
  StrataEngine *e = strata_engine_new_with (be, w, &eo, &st);
  g_assert_nonnull (e);
  const StrataConfig *g = strata_engine_get_config (e);
  enum { T = 7 };
  int V = g->vocab, C = g->d_model, D = g->d_head;
  int32_t tokens[T] = { 3, 17, 9, 41, 0, 22, 8 };
  float *full = g_new (float, (gsize) T * V);
  Base base;
  base_run (e, tokens, T, &base, full);
  StrataPrefix pre = { T, base.rp, base.kp, base.vp };

  /* No patch: the suffix run reproduces the base logits at the last position. */
  float *out = g_new (float, (gsize) 4 * V);
  for (int l = 0; l < g->n_layers; l++)
    for (int p = 0; p < T; p++) {
      g_assert_cmpint (strata_engine_forward_suffix (e, &pre, l, p, 1, NULL, 0, T - 1, out),
                       ==, STRATA_OK);
      for (int v = 0; v < V; v++)
        g_assert_cmpfloat_with_epsilon (out[v], full[(T - 1) * V + v], 1e-5);
    }

  /* Four different patches in one batch, each equal to a full forward with that patch. */
  float src[64];
  for (int i = 0; i < C; i++)
    src[i] = 0.7f * uniform ();
  int layer = 1, pos = 3;
  StrataPatch patches[4] = {
    { STRATA_SITE_RESID_PRE, 1, 0, 3, -1, src },
    { STRATA_SITE_ATTN_OUT, 1, 1, 4, -1, src },
    { STRATA_SITE_MLP_OUT, 2, 2, 6, -1, src },
    { STRATA_SITE_ATTN_Z, 1, 3, 5, 2, src },
  };
  g_assert_cmpint (strata_engine_forward_suffix (e, &pre, layer, pos, 4, patches, 4, T - 1, out),
                   ==, STRATA_OK);
  for (int b = 0; b < 4; b++) {
    StrataPatch one = patches[b];
    one.batch = 0;
    StrataHooks hooks = { NULL, 0, &one, 1 };
    g_assert_cmpint (strata_engine_forward (e, tokens, 1, T, &hooks, full), ==, STRATA_OK);
    double worst = 0, scale = 1; /* fp32 sums in another order: relative to the logits' size */
    for (int v = 0; v < V; v++) {
      worst = MAX (worst, fabs (out[b * V + v] - full[(T - 1) * V + v]));
      scale = MAX (scale, fabs (full[(T - 1) * V + v]));
    }
    g_test_message ("patch %d: largest difference %.3g, largest logit %.3g", b, worst, scale);
    g_assert_cmpfloat (worst, <=, 1e-6 * scale);
  }
  (void) D;

  /* Jobs with their own starts in one ragged pass, read as two chosen logits: each equals a
   * full forward with its patch (the last block computes only the read-out row). */
  StrataSuffixJob jobs[5] = {
    { 0, 2, &patches[0], 0 },      /* no patch from (0, 2): the base logits */
    { 1, 3, &patches[0], 1 },      /* resid_pre (1, 3) */
    { 1, 4, &patches[1], 1 },      /* attn_out (1, 4) */
    { 2, 6, &patches[2], 1 },      /* mlp_out (2, 6): the read-out row of the last block */
    { 2, 5, &patches[3], 1 },      /* not sorted by position: allowed */
  };
  StrataPatch late = { STRATA_SITE_ATTN_Z, 2, 0, 5, 2, src };
  jobs[4].patches = &late;
  int32_t ids[2] = { 7, 31 };
  float two[5 * 2];
  g_assert_cmpint (strata_engine_forward_jobs (e, &pre, jobs, 5, T - 1, ids, 2, two), ==, STRATA_OK);
  for (int j = 0; j < 5; j++) {
    StrataPatch one = jobs[j].n_patches ? jobs[j].patches[0] : patches[0];
    one.batch = 0;
    StrataHooks hooks = { NULL, 0, &one, jobs[j].n_patches };
    g_assert_cmpint (strata_engine_forward (e, tokens, 1, T, &hooks, full), ==, STRATA_OK);
    for (int k = 0; k < 2; k++)
      g_assert_cmpfloat_with_epsilon (two[j * 2 + k], full[(T - 1) * V + ids[k]], 1e-5);
  }
  /* Two base runs (two prompts of T tokens) in one pass, each read at its own position with
   * its own ids, jobs of both mixed within a layer: each equals a full forward of its own
   * tokens with its patch. */
  int32_t tokens2[T] = { 5, 17, 44, 2, 13, 30, 21 };
  float *full2 = g_new (float, (gsize) T * V);
  Base base2;
  base_run (e, tokens2, T, &base2, full2);
  StrataPrefix pre2 = { T, base2.rp, base2.kp, base2.vp };
  int32_t ids2[2] = { 4, 7 };
  StrataJobBase bases[2] = { { &pre, T - 1, ids }, { &pre2, T - 2, ids2 } };
  StrataPatch at5 = { STRATA_SITE_MLP_OUT, 1, 0, 5, -1, src };
  StrataSuffixJob mixed[5] = {
    { 0, 2, NULL, 0, 1 },           /* no patch: the second run's logits at T-2 */
    { 1, 3, &patches[0], 1, 1 },    /* resid_pre (1, 3) of the second run */
    { 1, 3, &patches[0], 1, 0 },    /* the same patch in the first */
    { 1, 5, &at5, 1, 1 },           /* mlp_out (1, 5) in the second, its read position: one row there */
    { 2, 5, &late, 1, 0 },          /* hook_z of head 2 at (2, 5) in the first */
  };
  g_assert_cmpint (strata_engine_forward_jobs_set (e, bases, 2, mixed, 5, 2, two), ==, STRATA_OK);
  g_assert_cmpuint (strata_engine_forward_jobs_set_bytes (e, bases, 2, mixed, 5, 2), >, 0);
  for (int j = 0; j < 5; j++) {
    const StrataJobBase *b = &bases[mixed[j].base];
    StrataPatch one = mixed[j].n_patches ? mixed[j].patches[0] : patches[0];
    one.batch = 0;
    StrataHooks hooks = { NULL, 0, &one, mixed[j].n_patches };
    g_assert_cmpint (strata_engine_forward (e, mixed[j].base ? tokens2 : tokens, 1, T, &hooks, full), ==, STRATA_OK);
    for (int k = 0; k < 2; k++)
      g_assert_cmpfloat_with_epsilon (two[j * 2 + k], full[b->out_pos * V + b->ids[k]], 1e-5);
  }
  /* Every logit of each job's read position, too. */
  float *all = g_new (float, (gsize) 5 * V);
  g_assert_cmpint (strata_engine_forward_jobs_set (e, bases, 2, mixed, 5, 0, all), ==, STRATA_OK);
  for (int j = 0; j < 5; j++)
    for (int k = 0; k < 2; k++)
      g_assert_cmpfloat_with_epsilon (all[(gsize) j * V + bases[mixed[j].base].ids[k]], two[j * 2 + k], 1e-5);
  g_free (all);
  /* A job naming a base that is not there, bases of different lengths: refused with a message. */
  mixed[0].base = 2;
  g_assert_cmpint (strata_engine_forward_jobs_set (e, bases, 2, mixed, 5, 2, two), ==, STRATA_ERR_ARGUMENT);
  g_assert_nonnull (strstr (strata_engine_get_error (e), "base run 2 of 2"));
  mixed[0].base = 1;
  StrataPrefix shorter = { T - 1, base2.rp, base2.kp, base2.vp };
  bases[1].prefix = &shorter;
  g_assert_cmpint (strata_engine_forward_jobs_set (e, bases, 2, mixed, 5, 2, two), ==, STRATA_ERR_ARGUMENT);
  g_assert_nonnull (strstr (strata_engine_get_error (e), "differs from the first"));
  g_assert_cmpuint (strata_engine_forward_jobs_set_bytes (e, bases, 2, mixed, 5, 2), ==, 0);
  base_clear (&base2);
  g_free (full2);

  /* Two patches of one sequence on the same row, then a head inside it: the later one wins, in
   * a full pass and in a patching job alike (they are not batched with each other). */
  float other[64];
  for (int i = 0; i < C; i++)
    other[i] = -0.3f * uniform ();
  StrataPatch twice[3] = { { STRATA_SITE_ATTN_Z, 1, 0, 3, -1, src }, { STRATA_SITE_ATTN_Z, 1, 0, 3, -1, other },
                           { STRATA_SITE_ATTN_Z, 1, 0, 3, 1, src } };
  float *want = g_new (float, (gsize) T * V), *got = g_new (float, (gsize) T * V);
  StrataPatch last[2] = { twice[1], twice[2] };
  StrataHooks h_all = { NULL, 0, twice, 3 }, h_last = { NULL, 0, last, 2 };
  g_assert_cmpint (strata_engine_forward (e, tokens, 1, T, &h_last, want), ==, STRATA_OK);
  g_assert_cmpint (strata_engine_forward (e, tokens, 1, T, &h_all, got), ==, STRATA_OK);
  g_assert_cmpmem (got, (gsize) T * V * sizeof (float), want, (gsize) T * V * sizeof (float));
  StrataSuffixJob overlapping[2] = { { 1, 3, twice, 3 }, { 1, 3, last, 2 } };
  g_assert_cmpint (strata_engine_forward_jobs (e, &pre, overlapping, 2, T - 1, NULL, 0, got), ==, STRATA_OK);
  g_assert_cmpmem (got, (gsize) V * sizeof (float), got + V, (gsize) V * sizeof (float));
  for (int v = 0; v < V; v++)
    g_assert_cmpfloat_with_epsilon (got[v], want[(T - 1) * V + v], 1e-5);
  g_free (want), g_free (got);

  /* Jobs out of layer order are refused. */
  StrataSuffixJob unsorted[2] = { { 2, 0, NULL, 0 }, { 1, 0, NULL, 0 } };
  g_assert_cmpint (strata_engine_forward_jobs (e, &pre, unsorted, 2, T - 1, ids, 2, two), ==, STRATA_ERR_ARGUMENT);

  /* A patch inside the reused prefix is refused with a message. */
  StrataPatch early = { STRATA_SITE_RESID_PRE, 1, 0, 1, -1, src };
  g_assert_cmpint (strata_engine_forward_suffix (e, &pre, 1, 2, 1, &early, 1, T - 1, out),
                   ==, STRATA_ERR_ARGUMENT);
  g_assert_nonnull (strstr (strata_engine_get_error (e), "prefix"));

  g_free (out), g_free (full);
  base_clear (&base);
  strata_engine_free (e);
  strata_weights_free (w);
}

/* The CPU backend as a device: memory the engine treats as not the host's, and copy_many
 * running its copies last to first (the contract says no copy writes another's range, so a
 * pass must compute the same bits in any order; a device runs them at once). */
static StrataBackend device_like;

static StrataStatus
copy_many_backwards (const StrataBackend *be, const StrataCopy *copies, int n_copies)
{
  const StrataBackend *cpu = strata_backend_cpu ();
  for (int i = n_copies - 1; i >= 0; i--)
    if (cpu->copy (cpu, copies[i].dst, copies[i].src, copies[i].n * sizeof (float)) != STRATA_OK)
      return STRATA_ERR_BACKEND;
  return STRATA_OK;
}

typedef struct {
  const char *name;
  StrataFamily family;
} Family;

static const Family families[] = {
  { "gpt2", STRATA_FAMILY_GPT2 },     { "llama", STRATA_FAMILY_LLAMA },   { "neox", STRATA_FAMILY_NEOX },
  { "gemma2", STRATA_FAMILY_GEMMA2 }, { "olmo2", STRATA_FAMILY_OLMO2 },
};

static void
test_family (gconstpointer data)
{
  check_family (((const Family *) data)->family, strata_backend_cpu (), STRATA_DTYPE_F32);
}

static const StrataBackend *
device_like_backend (void)
{
  device_like = *strata_backend_cpu_as_device ();
  device_like.copy_many = copy_many_backwards;
  return &device_like;
}

static void
test_family_device_like (gconstpointer data)
{
  check_family (((const Family *) data)->family, device_like_backend (), STRATA_DTYPE_F32);
}

/* The same with BF16 matrices kept as they are, 33 wide: what a GPU runs for a 16-bit
 * checkpoint, and unembedding rows a batched float copy cannot move. */
static void
test_family_device_like_bf16 (gconstpointer data)
{
  check_family (((const Family *) data)->family, device_like_backend (), STRATA_DTYPE_BF16);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (families); i++) {
    g_autofree char *plain = g_strdup_printf ("/kernels/suffix/%s", families[i].name);
    g_autofree char *device = g_strdup_printf ("/kernels/suffix/%s/device-like", families[i].name);
    g_test_add_data_func (plain, &families[i], test_family);
    g_autofree char *bf16 = g_strdup_printf ("/kernels/suffix/%s/device-like-bf16", families[i].name);
    g_test_add_data_func (device, &families[i], test_family_device_like);
    g_test_add_data_func (bf16, &families[i], test_family_device_like_bf16);
  }
  return g_test_run ();
}
