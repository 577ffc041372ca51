/* session-sample.c: see session-sample.h. */
#include "session-sample.h"

#include <float.h>
#include <math.h>
#include <string.h>

static const float edge_f32[] = { 0.0f, -0.0f, 1.0f, FLT_MIN / 4.0f, FLT_TRUE_MIN, -FLT_TRUE_MIN,
                                  FLT_MAX, -FLT_MAX, -1.0f, 1e-30f, FLT_MIN };
static const double edge_f64[] = { 0.0, -0.0, 1.0, DBL_MIN / 4.0, DBL_TRUE_MIN, -DBL_TRUE_MIN,
                                   DBL_MAX, -DBL_MAX, -1.0, 1e-300, DBL_MIN };
static const int32_t edge_i32[] = { -1, 0, 1, G_MAXINT32, G_MININT32, -2 };

static float *
f32 (const SampleOptions *o, gsize n, guint salt)
{
  float *a = g_new0 (float, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    a[i] = (o->edges && i < G_N_ELEMENTS (edge_f32))
               ? edge_f32[i]
               : (float) ((i * 7919u + salt) % 10007u) / 10007.0f;
  return a;
}

static double *
f64 (const SampleOptions *o, gsize n, guint salt)
{
  double *a = g_new0 (double, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    a[i] = (o->edges && i < G_N_ELEMENTS (edge_f64))
               ? edge_f64[i]
               : (double) ((i * 7919u + salt) % 10007u) / 10007.0;
  return a;
}

static int32_t *
i32 (const SampleOptions *o, gsize n, guint salt)
{
  int32_t *a = g_new0 (int32_t, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    a[i] = (o->edges && i < G_N_ELEMENTS (edge_i32))
               ? edge_i32[i]
               : (int32_t) ((i * 7919u + salt) % 50257u) - 1;
  return a;
}

static GArray *
i32_array (const SampleOptions *o, gsize n, guint salt)
{
  g_autofree int32_t *v = i32 (o, n, salt);
  GArray *a = g_array_sized_new (FALSE, TRUE, sizeof (int32_t), (guint) n);
  g_array_append_vals (a, v, (guint) n);
  return a;
}

/* Arrays own their elements through free functions, as the probes layer builds them. */



static const int prompt_T[] = { 5, 7, 4 };

static StrataPromptSet *
sample_prompts (const SampleOptions *o, guint salt)
{
  StrataPromptSet *set = g_new0 (StrataPromptSet, 1);
  set->source = g_strdup ("twohop/test_id.jsonl");
  set->prompts = g_ptr_array_new_with_free_func (strata_prompt_free);
  for (guint i = 0; i < G_N_ELEMENTS (prompt_T); i++) {
    StrataPrompt *p = g_new0 (StrataPrompt, 1);
    int T = prompt_T[i];
    p->text = i == 1 ? NULL : g_strdup_printf ("<e_%u> <r_1> <r_2> — prompt %u", i, i);
    p->ids = i32_array (o, T, salt + 10 * i);
    p->corrupt_ids = i == 2 ? NULL : i32_array (o, T, salt + 10 * i + 1);
    p->targets = g_array_new (FALSE, TRUE, sizeof (StrataTarget));
    StrataTarget t1 = { g_strdup ("bridge"), 17 + (int32_t) i };
    g_array_append_val (p->targets, t1);
    if (i != 1) {
      StrataTarget t2 = { g_strdup ("answer"), 50256 };
      g_array_append_val (p->targets, t2);
    }
    p->contrast = i == 0 ? -1 : 4;
    p->n_generated = i == 1 ? 2 : 0;
    p->positions = g_array_new (FALSE, TRUE, sizeof (StrataPosition));
    if (i == 0) {
      StrataPosition r1 = { g_strdup ("r1"), 1 }, r2 = { g_strdup ("r2"), 2 };
      g_array_append_val (p->positions, r1);
      g_array_append_val (p->positions, r2);
    }
    const char *const tags0[] = { "id", NULL };
    const char *const tags1[] = { "ood", "hard", NULL };
    const char *const tags2[] = { NULL };
    p->tags = g_strdupv ((char **) (i == 0 ? tags0 : i == 1 ? tags1 : tags2));
    g_ptr_array_add (set->prompts, p);
  }
  return set;
}

static int
cmp_i32 (gconstpointer a, gconstpointer b)
{
  int32_t x = *(const int32_t *) a, y = *(const int32_t *) b;
  return (x > y) - (x < y);
}

static StrataLensResult *
sample_lens_result (const SampleOptions *o, int L, int T, int topk, gboolean cand, guint salt)
{
  StrataLensResult *r = g_new0 (StrataLensResult, 1);
  r->n_layers = L;
  r->T = T;
  r->topk = topk;
  r->vocab = 50257;
  r->raw = salt % 2;
  r->threshold = o->edges ? DBL_TRUE_MIN : 0.5;
  r->ids = i32_array (o, T, salt);
  r->pieces = g_ptr_array_new_with_free_func (g_free);
  /* Byte-level pieces need not be valid UTF-8 on their own. */
  const char *pieces[] = { "<|endoftext|>", "Ġthe", "", "\xe2\x96", "é", " ", "\t" };
  for (int t = 0; t < T; t++)
    g_ptr_array_add (r->pieces, g_strdup (pieces[t % G_N_ELEMENTS (pieces)]));
  gsize ltk = (gsize) (L + 1) * T * topk, lt = (gsize) (L + 1) * T;
  r->topk_ids = i32 (o, ltk, salt + 1);
  r->topk_prob = f32 (o, ltk, salt + 2);
  r->topk_logit = f32 (o, ltk, salt + 3);
  r->targets = g_ptr_array_new_with_free_func (strata_lens_target_free);
  for (int k = 0; k < 2; k++) {
    StrataLensTarget *t = g_new0 (StrataLensTarget, 1);
    guint ts = salt + 100 * (k + 1);
    t->name = g_strdup (k == 0 ? "bridge" : "answer");
    t->id = k == 0 ? 17 : 0;
    t->prob = f32 (o, lt, ts);
    t->logprob = f32 (o, lt, ts + 1);
    t->logit = f32 (o, lt, ts + 2);
    t->rank = i32 (o, lt, ts + 3);
    t->cand_rank = (cand && k == 0) ? i32 (o, lt, ts + 4) : NULL;
    t->resolution = i32 (o, T, ts + 5);
    t->resolution_threshold = i32 (o, T, ts + 6);
    g_ptr_array_add (r->targets, t);
  }
  /* The token table (format 1.1): the distinct top-k ids, ascending, each with a piece; the
   * first piece is raw bytes that are not UTF-8 alone. The 4-token prompt has no table, as
   * in a 1.0 file. */
  if (T != 4) {
    g_autoptr (GArray) sorted = g_array_new (FALSE, FALSE, sizeof (int32_t));
    g_array_append_vals (sorted, r->topk_ids, (guint) ltk);
    g_array_sort (sorted, cmp_i32);
    r->token_ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
    r->token_pieces = g_ptr_array_new_with_free_func (g_free);
    for (guint i = 0; i < sorted->len; i++) {
      int32_t id = g_array_index (sorted, int32_t, i);
      if (i > 0 && id == g_array_index (sorted, int32_t, i - 1))
        continue;
      g_array_append_val (r->token_ids, id);
      g_ptr_array_add (r->token_pieces, r->token_ids->len == 1 ? g_strdup ("\xe2\x96") : g_strdup_printf ("tok%d", id));
    }
  }
  return r;
}

static StrataLensAggregate *
sample_lens_aggregate (const SampleOptions *o, int L, const char *tag, guint salt)
{
  StrataLensAggregate *a = g_new0 (StrataLensAggregate, 1);
  a->tag = g_strdup (tag);
  a->target = g_strdup ("bridge");
  a->position = g_strdup (salt % 2 ? "r2" : "3");
  a->n_prompts = 3;
  a->n_layers = L;
  a->mrr = f64 (o, L + 1, salt);
  a->mean_prob = f64 (o, L + 1, salt + 1);
  a->top1 = f64 (o, L + 1, salt + 2);
  a->resolution_layer = salt % 2 ? -1 : 3;
  a->resolution_counts = (int *) i32 (o, L + 2, salt + 3);
  return a;
}

static StrataPatchMap *
sample_map (const SampleOptions *o, StrataPatchSite site, int rows, int cols, guint salt)
{
  StrataPatchMap *m = g_new0 (StrataPatchMap, 1);
  m->site = site;
  m->rows = rows;
  m->cols = cols;
  m->head_pos = site == STRATA_PATCH_HEAD_AT ? 3 : -1;
  m->metric = f64 (o, (gsize) rows * cols, salt);
  m->score = f64 (o, (gsize) rows * cols, salt + 1);
  return m;
}

static StrataPatchResult *
sample_patch_result (const SampleOptions *o, const StrataPrompt *p, int L, int H, guint salt)
{
  StrataPatchResult *r = g_new0 (StrataPatchResult, 1);
  int T = (int) p->ids->len;
  r->direction = salt % 2 ? STRATA_PATCH_NOISE : STRATA_PATCH_DENOISE;
  r->method = salt % 3 ? STRATA_PATCH_EXACT : STRATA_PATCH_ATTRIBUTION;
  r->metric = salt % 3 == 0 ? STRATA_METRIC_LOGIT_DIFF : salt % 3 == 1 ? STRATA_METRIC_PROB
                                                                          : STRATA_METRIC_TOP1_CHANGE;
  r->target_name = g_strdup ("answer");
  r->target = 50256;
  r->contrast = r->metric == STRATA_METRIC_PROB ? -1 : 4;
  r->clean_ids = g_array_copy (p->ids);
  r->corrupt_ids = g_array_copy (p->corrupt_ids);
  r->answer_pos = T - 1;
  r->baseline_clean = o->edges ? -0.0 : 2.5;
  r->baseline_corrupt = o->edges ? DBL_TRUE_MIN : -1.25;
  r->small_gap = o->edges;
  r->maps = g_ptr_array_new_with_free_func (strata_patch_map_free);
  g_ptr_array_add (r->maps, sample_map (o, STRATA_PATCH_RESID_PRE, L, T, salt));
  g_ptr_array_add (r->maps, sample_map (o, STRATA_PATCH_HEAD_AT, L, H, salt + 2));
  g_ptr_array_add (r->maps, sample_map (o, STRATA_PATCH_MLP_OUT, L, T, salt + 4));
  return r;
}

static StrataPatchAggregate *
sample_patch_aggregate (const SampleOptions *o, const char *tag, StrataPatchSite site, int rows,
                        int cols, guint salt)
{
  StrataPatchAggregate *a = g_new0 (StrataPatchAggregate, 1);
  a->tag = g_strdup (tag);
  a->n_prompts = 2;
  a->site = site;
  a->rows = rows;
  a->cols = cols;
  a->mean_score = f64 (o, (gsize) rows * cols, salt);
  a->mean_metric = f64 (o, (gsize) rows * cols, salt + 1);
  return a;
}

static StrataCircuit *
sample_circuit (const SampleOptions *o, int L, int T)
{
  StrataCircuit *c = g_new0 (StrataCircuit, 1);
  c->n_layers = L;
  c->T = T;
  c->threshold = o->edges ? -0.0 : 0.1;
  c->target_name = g_strdup ("answer");
  c->nodes = g_array_new (FALSE, TRUE, sizeof (StrataCircuitNode));
  c->edges = g_array_new (FALSE, TRUE, sizeof (StrataCircuitEdge));
  g_autofree double *effect = f64 (o, 8, 900);
  for (int i = 0; i < 8; i++) {
    StrataCircuitNode n = { (StrataNodeKind) (i % 4), i % (L + 1), i % 4 == 3 ? -1 : i % T,
                            i % 4 == 3 ? i % 2 : -1, effect[i], i % 3 ? 0.25 * i : -1.0, i % 2 };
    g_array_append_val (c->nodes, n);
  }
  for (int i = 0; i < 7; i++) {
    StrataCircuitEdge e = { i, i + 1, effect[7 - i] };
    g_array_append_val (c->edges, e);
  }
  return c;
}

static StrataAnalysis *
sample_analysis (const SampleOptions *o, guint which)
{
  StrataAnalysis *a = g_new0 (StrataAnalysis, 1);
  int L = which == 0 ? 4 : 8, H = 4;
  guint salt = 1000 * (which + 1);
  StrataModelRef *m = &a->model;
  m->path = g_strdup (which == 0 ? "/models/twohop-cot" : "relative/twohop-nocot.safetensors");
  m->name = g_strdup (which == 0 ? "twohop-cot" : "twohop-nocot");
  m->arch = g_strdup (which == 0 ? "gpt2" : "llama");
  m->format = g_strdup ("hf-safetensors");
  m->dtype = g_strdup (which == 0 ? "f32" : "bf16");
  m->weights_sha256 = g_strdup ("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  m->tokenizer_sha256 = g_strdup (which == 0 ? "" : "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  m->config = (StrataConfig) {
    .n_layers = L, .d_model = 64, .n_heads = H, .n_kv_heads = which == 0 ? H : 2, .d_head = 16,
    .d_mlp = 256, .vocab = 50257, .n_ctx = 1024,
  };
  strata_config_set_family (&m->config, which == 0 ? STRATA_FAMILY_GPT2 : STRATA_FAMILY_LLAMA);
  m->config.recipe.norm.eps = o->edges ? FLT_TRUE_MIN : 1e-5f;
  m->config.recipe.rope.pairing = which == 0 ? STRATA_ROPE_NONE : STRATA_ROPE_HALF;
  m->config.recipe.rope.theta = which == 0 ? -0.0f : 10000.0f;
  m->add_bos = which == 1;
  m->device = g_strdup (which == 0 ? "cuda" : "cpu");

  a->prompts = sample_prompts (o, salt);
  a->has_lens = TRUE;
  a->lens_options = (StrataLensOptions) { .topk = 3, .raw = which == 1, .threshold = 0.5 };
  if (which == 0) {
    a->lens_candidates = i32_array (o, 6, salt + 7);
    a->lens_options.candidates = (const int32_t *) a->lens_candidates->data;
    a->lens_options.n_candidates = 6;
  }
  a->lens_results = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_lens_result_free);
  a->lens_aggregates = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_lens_aggregate_free);
  a->patch_results = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_patch_result_free);
  a->patch_aggregates = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_patch_aggregate_free);
  for (guint i = 0; i < a->prompts->prompts->len; i++) {
    const StrataPrompt *p = g_ptr_array_index (a->prompts->prompts, i);
    g_ptr_array_add (a->lens_results,
                     sample_lens_result (o, L, (int) p->ids->len, 3, which == 0, salt + 20 * i));
    if (p->corrupt_ids != NULL)
      g_ptr_array_add (a->patch_results, sample_patch_result (o, p, L, H, salt + 30 * i));
  }
  g_ptr_array_add (a->lens_aggregates, sample_lens_aggregate (o, L, "all", salt + 1));
  g_ptr_array_add (a->lens_aggregates, sample_lens_aggregate (o, L, "ood", salt + 2));
  g_ptr_array_add (a->patch_aggregates, sample_patch_aggregate (o, "all", STRATA_PATCH_RESID_PRE, L, 5, salt + 3));
  g_ptr_array_add (a->patch_aggregates, sample_patch_aggregate (o, "id", STRATA_PATCH_HEAD, L, H, salt + 4));
  if (which == 0) {
    a->circuit = sample_circuit (o, L, 5);
    StrataAttention *att = g_new0 (StrataAttention, 1);
    att->n_layers = o->attention_layers;
    att->n_heads = o->attention_heads;
    att->T = o->attention_T;
    att->pattern = f32 (o, (gsize) att->n_layers * att->n_heads * att->T * att->T, salt + 5);
    a->attention = att;
  }
  return a;
}

/* Two runs of 3 and 2 checkpoints with L = 6 and 4 layers; the last checkpoint of the first
 * run is not done (a cancelled series); patching of two sites. */
static StrataSeries *
sample_series (const SampleOptions *o)
{
  StrataSeries *s = strata_series_new ();
  s->prompts = sample_prompts (o, 9000);
  s->tokenizer_sha256 = g_strdup ("95a3c11114f765ea641fd53c93c284e0d156fb1a2c7829e88c5c48121897b043");
  s->raw = TRUE;
  s->threshold = 0.25;
  s->answer_target = g_strdup ("answer");
  s->answer_position = g_strdup ("r2");
  s->has_patch = TRUE;
  s->patch_sites = g_array_new (FALSE, FALSE, sizeof (StrataPatchSite));
  StrataPatchSite sites[] = { STRATA_PATCH_RESID_PRE, STRATA_PATCH_HEAD_AT };
  g_array_append_vals (s->patch_sites, sites, 2);
  s->patch_direction = STRATA_PATCH_NOISE;
  s->patch_metric = STRATA_METRIC_TOP1_CHANGE;
  s->patch_head_pos = 2;
  s->patch_target = g_strdup ("bridge");
  const int layers[] = { 6, 4 };
  for (guint r = 0; r < 2; r++) {
    StrataTrainingRun *run = strata_training_run_new (r ? "nocot" : "cot", r ? "/runs/nocot" : "/runs/cot");
    for (guint c = 0; c < 3 - r; c++) {
      guint salt = 9100 + 100 * r + 10 * c;
      g_autofree char *label = g_strdup_printf ("checkpoint-%u", 500 * (c + 1));
      g_autofree char *path = g_strdup_printf ("%s/%s", run->path, label);
      StrataSeriesCheckpoint *cp = strata_series_checkpoint_new (path, label, 500 * (c + 1) + (gint64) r * G_MAXINT32);
      g_ptr_array_add (run->checkpoints, cp);
      if (r == 0 && c == 2)
        continue;
      int L = layers[r];
      cp->model.path = g_strdup (path);
      cp->model.name = g_strdup (label);
      cp->model.arch = g_strdup ("gpt2");
      cp->model.format = g_strdup ("hf-safetensors");
      cp->model.dtype = g_strdup ("F32");
      cp->model.weights_sha256 = g_strdup_printf ("%064u", salt);
      cp->model.tokenizer_sha256 = g_strdup (s->tokenizer_sha256);
      cp->model.device = g_strdup (c == 0 ? "cuda" : "cpu");
      strata_config_set_family (&cp->model.config, STRATA_FAMILY_GPT2);
      cp->model.config.n_layers = L;
      cp->model.config.d_model = 128;
      cp->model.config.n_heads = cp->model.config.n_kv_heads = 4;
      cp->model.config.d_head = 32;
      cp->model.config.d_mlp = 512;
      cp->model.config.vocab = 342;
      cp->model.config.n_ctx = 8;
      cp->lens_aggregates = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_lens_aggregate_free);
      g_ptr_array_add (cp->lens_aggregates, sample_lens_aggregate (o, L, "all", salt + 1));
      g_ptr_array_add (cp->lens_aggregates, sample_lens_aggregate (o, L, "ood", salt + 2));
      cp->accuracy = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_series_accuracy_free);
      const char *tags[] = { "all", "id", "ood" };
      for (guint t = 0; t < 3; t++) {
        StrataSeriesAccuracy *acc = g_new0 (StrataSeriesAccuracy, 1);
        acc->tag = g_strdup (tags[t]);
        acc->target = g_strdup (c == 1 ? "\xe2\x80\x9c" "answer\xe2\x80\x9d" : "answer");
        acc->n = 100 + (int) salt % 7 + (int) t;
        acc->correct = (int) (salt + t) % acc->n;
        g_ptr_array_add (cp->accuracy, acc);
      }
      cp->patch_aggregates = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_patch_aggregate_free);
      g_ptr_array_add (cp->patch_aggregates, sample_patch_aggregate (o, "all", STRATA_PATCH_RESID_PRE, L, 5, salt + 3));
      g_ptr_array_add (cp->patch_aggregates, sample_patch_aggregate (o, "all", STRATA_PATCH_HEAD_AT, L, 4, salt + 5));
      strata_series_checkpoint_set_done (cp);
    }
    strata_series_add_run (s, run);
  }
  return s;
}

StrataSession *
sample_session_new (const SampleOptions *opts)
{
  StrataSession *s = strata_session_new ();
  g_ptr_array_add (s->analyses, sample_analysis (opts, 0));
  g_ptr_array_add (s->analyses, sample_analysis (opts, 1));
  if (opts->series)
    s->series = sample_series (opts);
  s->view = (StrataViewState) {
    .figure = STRATA_FIGURE_PATCH_HEATMAP, .analysis = 1, .prompt = 2, .layer = 3,
    .position = -1, .head = 2, .target = g_strdup ("bridge"), .tag = g_strdup ("ood"),
    .patch_site = STRATA_PATCH_HEAD_AT, .curve = STRATA_CURVE_MRR, .log_color = TRUE,
    .compare = TRUE, .run = opts->series ? 1 : -1, .checkpoint = opts->series ? 1 : -1,
    .trace = { 3, TRUE }, .range_first = 1, .range_count = 2,
  };
  if (opts->series)
    s->view.figure = STRATA_FIGURE_SERIES_ACCURACY;
  return s;
}

/* ---- comparison ---- */

#define CMP_MEM(a, b, n) g_assert_cmpmem ((a), (n), (b), (n))

static void
assert_garray_equal (const GArray *a, const GArray *b)
{
  g_assert_true ((a == NULL) == (b == NULL));
  if (a == NULL)
    return;
  g_assert_cmpuint (a->len, ==, b->len);
  CMP_MEM (a->data, b->data, a->len * sizeof (int32_t));
}

static void
assert_prompts_equal (const StrataPromptSet *a, const StrataPromptSet *b)
{
  g_assert_true ((a == NULL) == (b == NULL));
  if (a == NULL)
    return;
  g_assert_cmpstr (a->source, ==, b->source);
  g_assert_cmpuint (a->prompts->len, ==, b->prompts->len);
  for (guint i = 0; i < a->prompts->len; i++) {
    const StrataPrompt *p = g_ptr_array_index (a->prompts, i), *q = g_ptr_array_index (b->prompts, i);
    g_assert_cmpstr (p->text, ==, q->text);
    assert_garray_equal (p->ids, q->ids);
    assert_garray_equal (p->corrupt_ids, q->corrupt_ids);
    g_assert_cmpint (p->contrast, ==, q->contrast);
    g_assert_cmpint (p->n_generated, ==, q->n_generated);
    g_assert_cmpuint (p->targets->len, ==, q->targets->len);
    for (guint k = 0; k < p->targets->len; k++) {
      g_assert_cmpstr (g_array_index (p->targets, StrataTarget, k).name, ==,
                       g_array_index (q->targets, StrataTarget, k).name);
      g_assert_cmpint (g_array_index (p->targets, StrataTarget, k).id, ==,
                       g_array_index (q->targets, StrataTarget, k).id);
    }
    g_assert_cmpuint (p->positions->len, ==, q->positions->len);
    for (guint k = 0; k < p->positions->len; k++) {
      g_assert_cmpstr (g_array_index (p->positions, StrataPosition, k).name, ==,
                       g_array_index (q->positions, StrataPosition, k).name);
      g_assert_cmpint (g_array_index (p->positions, StrataPosition, k).index, ==,
                       g_array_index (q->positions, StrataPosition, k).index);
    }
    g_assert_true (g_strv_equal ((const char *const *) p->tags, (const char *const *) q->tags));
  }
}

static void
assert_lens_equal (const StrataLensResult *a, const StrataLensResult *b)
{
  g_assert_cmpint (a->n_layers, ==, b->n_layers);
  g_assert_cmpint (a->T, ==, b->T);
  g_assert_cmpint (a->topk, ==, b->topk);
  g_assert_cmpint (a->vocab, ==, b->vocab);
  g_assert_cmpint (a->raw, ==, b->raw);
  CMP_MEM (&a->threshold, &b->threshold, sizeof (double));
  assert_garray_equal (a->ids, b->ids);
  g_assert_cmpuint (a->pieces->len, ==, b->pieces->len);
  for (guint i = 0; i < a->pieces->len; i++)
    g_assert_cmpstr (g_ptr_array_index (a->pieces, i), ==, g_ptr_array_index (b->pieces, i));
  gsize ltk = (gsize) (a->n_layers + 1) * a->T * a->topk, lt = (gsize) (a->n_layers + 1) * a->T;
  CMP_MEM (a->topk_ids, b->topk_ids, ltk * 4);
  CMP_MEM (a->topk_prob, b->topk_prob, ltk * 4);
  CMP_MEM (a->topk_logit, b->topk_logit, ltk * 4);
  g_assert_true ((a->token_ids == NULL) == (b->token_ids == NULL));
  g_assert_true ((a->token_pieces == NULL) == (b->token_pieces == NULL));
  if (a->token_ids != NULL) {
    assert_garray_equal (a->token_ids, b->token_ids);
    g_assert_cmpuint (a->token_pieces->len, ==, b->token_pieces->len);
    for (guint i = 0; i < a->token_pieces->len; i++)
      g_assert_cmpstr (g_ptr_array_index (a->token_pieces, i), ==, g_ptr_array_index (b->token_pieces, i));
  }
  g_assert_cmpuint (a->targets->len, ==, b->targets->len);
  for (guint i = 0; i < a->targets->len; i++) {
    const StrataLensTarget *s = g_ptr_array_index (a->targets, i), *t = g_ptr_array_index (b->targets, i);
    g_assert_cmpstr (s->name, ==, t->name);
    g_assert_cmpint (s->id, ==, t->id);
    CMP_MEM (s->prob, t->prob, lt * 4);
    CMP_MEM (s->logprob, t->logprob, lt * 4);
    CMP_MEM (s->logit, t->logit, lt * 4);
    CMP_MEM (s->rank, t->rank, lt * 4);
    g_assert_true ((s->cand_rank == NULL) == (t->cand_rank == NULL));
    if (s->cand_rank != NULL)
      CMP_MEM (s->cand_rank, t->cand_rank, lt * 4);
    CMP_MEM (s->resolution, t->resolution, (gsize) a->T * 4);
    CMP_MEM (s->resolution_threshold, t->resolution_threshold, (gsize) a->T * 4);
  }
}

void
sample_lens_aggregates_assert_equal (GPtrArray *a, GPtrArray *b)
{
  g_assert_cmpuint (a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++) {
    const StrataLensAggregate *x = g_ptr_array_index (a, i), *y = g_ptr_array_index (b, i);
    g_assert_cmpstr (x->tag, ==, y->tag);
    g_assert_cmpstr (x->target, ==, y->target);
    g_assert_cmpstr (x->position, ==, y->position);
    g_assert_cmpint (x->n_prompts, ==, y->n_prompts);
    g_assert_cmpint (x->n_layers, ==, y->n_layers);
    g_assert_cmpint (x->resolution_layer, ==, y->resolution_layer);
    CMP_MEM (x->mrr, y->mrr, (gsize) (x->n_layers + 1) * 8);
    CMP_MEM (x->mean_prob, y->mean_prob, (gsize) (x->n_layers + 1) * 8);
    CMP_MEM (x->top1, y->top1, (gsize) (x->n_layers + 1) * 8);
    CMP_MEM (x->resolution_counts, y->resolution_counts, (gsize) (x->n_layers + 2) * 4);
  }
}

static void
assert_patch_aggregates_equal (GPtrArray *a, GPtrArray *b)
{
  g_assert_true ((a == NULL) == (b == NULL));
  if (a == NULL)
    return;
  g_assert_cmpuint (a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++) {
    const StrataPatchAggregate *x = g_ptr_array_index (a, i), *y = g_ptr_array_index (b, i);
    g_assert_cmpstr (x->tag, ==, y->tag);
    g_assert_cmpint (x->n_prompts, ==, y->n_prompts);
    g_assert_cmpint (x->site, ==, y->site);
    g_assert_cmpint (x->rows, ==, y->rows);
    g_assert_cmpint (x->cols, ==, y->cols);
    CMP_MEM (x->mean_score, y->mean_score, (gsize) x->rows * x->cols * 8);
    CMP_MEM (x->mean_metric, y->mean_metric, (gsize) x->rows * x->cols * 8);
  }
}

static void
assert_analysis_equal (const StrataAnalysis *a, const StrataAnalysis *b)
{
  const StrataModelRef *m = &a->model, *n = &b->model;
  g_assert_cmpstr (m->path, ==, n->path);
  g_assert_cmpstr (m->name, ==, n->name);
  g_assert_cmpstr (m->arch, ==, n->arch);
  g_assert_cmpstr (m->format, ==, n->format);
  g_assert_cmpstr (m->dtype, ==, n->dtype);
  g_assert_cmpstr (m->weights_sha256, ==, n->weights_sha256);
  g_assert_cmpstr (m->tokenizer_sha256, ==, n->tokenizer_sha256);
  g_assert_cmpint (m->add_bos, ==, n->add_bos);
  g_assert_cmpstr (m->device, ==, n->device);
  CMP_MEM (&m->config, &n->config, sizeof (StrataConfig)); /* g_new0: padding is zero */

  assert_prompts_equal (a->prompts, b->prompts);
  g_assert_cmpint (a->has_lens, ==, b->has_lens);
  g_assert_cmpint (a->lens_options.topk, ==, b->lens_options.topk);
  g_assert_cmpint (a->lens_options.raw, ==, b->lens_options.raw);
  CMP_MEM (&a->lens_options.threshold, &b->lens_options.threshold, sizeof (double));
  g_assert_cmpint (a->lens_options.n_candidates, ==, b->lens_options.n_candidates);
  assert_garray_equal (a->lens_candidates, b->lens_candidates);
  if (b->lens_candidates != NULL)
    g_assert_true (b->lens_options.candidates == (const int32_t *) b->lens_candidates->data);

  g_assert_cmpuint (a->lens_results->len, ==, b->lens_results->len);
  for (guint i = 0; i < a->lens_results->len; i++)
    assert_lens_equal (g_ptr_array_index (a->lens_results, i), g_ptr_array_index (b->lens_results, i));

  sample_lens_aggregates_assert_equal (a->lens_aggregates, b->lens_aggregates);

  g_assert_cmpuint (a->patch_results->len, ==, b->patch_results->len);
  for (guint i = 0; i < a->patch_results->len; i++) {
    const StrataPatchResult *x = g_ptr_array_index (a->patch_results, i);
    const StrataPatchResult *y = g_ptr_array_index (b->patch_results, i);
    g_assert_cmpint (x->method, ==, y->method);
    g_assert_cmpint (x->direction, ==, y->direction);
    g_assert_cmpint (x->metric, ==, y->metric);
    g_assert_cmpstr (x->target_name, ==, y->target_name);
    g_assert_cmpint (x->target, ==, y->target);
    g_assert_cmpint (x->contrast, ==, y->contrast);
    g_assert_cmpint (x->answer_pos, ==, y->answer_pos);
    CMP_MEM (&x->baseline_clean, &y->baseline_clean, 8);
    CMP_MEM (&x->baseline_corrupt, &y->baseline_corrupt, 8);
    g_assert_cmpint (x->small_gap, ==, y->small_gap);
    assert_garray_equal (x->clean_ids, y->clean_ids);
    assert_garray_equal (x->corrupt_ids, y->corrupt_ids);
    g_assert_cmpuint (x->maps->len, ==, y->maps->len);
    for (guint k = 0; k < x->maps->len; k++) {
      const StrataPatchMap *p = g_ptr_array_index (x->maps, k), *q = g_ptr_array_index (y->maps, k);
      g_assert_cmpint (p->site, ==, q->site);
      g_assert_cmpint (p->rows, ==, q->rows);
      g_assert_cmpint (p->cols, ==, q->cols);
      g_assert_cmpint (p->head_pos, ==, q->head_pos);
      CMP_MEM (p->metric, q->metric, (gsize) p->rows * p->cols * 8);
      CMP_MEM (p->score, q->score, (gsize) p->rows * p->cols * 8);
    }
  }

  assert_patch_aggregates_equal (a->patch_aggregates, b->patch_aggregates);

  g_assert_true ((a->circuit == NULL) == (b->circuit == NULL));
  if (a->circuit != NULL) {
    const StrataCircuit *x = a->circuit, *y = b->circuit;
    g_assert_cmpint (x->n_layers, ==, y->n_layers);
    g_assert_cmpint (x->T, ==, y->T);
    CMP_MEM (&x->threshold, &y->threshold, 8);
    g_assert_cmpstr (x->target_name, ==, y->target_name);
    g_assert_cmpuint (x->nodes->len, ==, y->nodes->len);
    /* Field by field: struct padding is not part of the data. */
    for (guint i = 0; i < x->nodes->len; i++) {
      const StrataCircuitNode *p = &g_array_index (x->nodes, StrataCircuitNode, i);
      const StrataCircuitNode *q = &g_array_index (y->nodes, StrataCircuitNode, i);
      g_assert_cmpint (p->kind, ==, q->kind);
      g_assert_cmpint (p->layer, ==, q->layer);
      g_assert_cmpint (p->pos, ==, q->pos);
      g_assert_cmpint (p->head, ==, q->head);
      CMP_MEM (&p->effect, &q->effect, 8);
      CMP_MEM (&p->lens_prob, &q->lens_prob, 8);
      g_assert_cmpint (p->decodes, ==, q->decodes);
    }
    g_assert_cmpuint (x->edges->len, ==, y->edges->len);
    for (guint i = 0; i < x->edges->len; i++) {
      const StrataCircuitEdge *p = &g_array_index (x->edges, StrataCircuitEdge, i);
      const StrataCircuitEdge *q = &g_array_index (y->edges, StrataCircuitEdge, i);
      g_assert_cmpint (p->from, ==, q->from);
      g_assert_cmpint (p->to, ==, q->to);
      CMP_MEM (&p->weight, &q->weight, 8);
    }
  }

  g_assert_true ((a->attention == NULL) == (b->attention == NULL));
  if (a->attention != NULL) {
    const StrataAttention *x = a->attention, *y = b->attention;
    g_assert_cmpint (x->n_layers, ==, y->n_layers);
    g_assert_cmpint (x->n_heads, ==, y->n_heads);
    g_assert_cmpint (x->T, ==, y->T);
    CMP_MEM (x->pattern, y->pattern, (gsize) x->n_layers * x->n_heads * x->T * x->T * 4);
  }
}

void
sample_series_assert_equal (const StrataSeries *a, const StrataSeries *b)
{
  g_assert_true ((a == NULL) == (b == NULL));
  if (!a)
    return;
  assert_prompts_equal (a->prompts, b->prompts);
  g_assert_cmpstr (a->tokenizer_sha256, ==, b->tokenizer_sha256);
  g_assert_cmpint (a->raw, ==, b->raw);
  CMP_MEM (&a->threshold, &b->threshold, 8);
  g_assert_cmpstr (a->answer_target, ==, b->answer_target);
  g_assert_cmpstr (a->answer_position, ==, b->answer_position);
  g_assert_cmpint (a->has_patch, ==, b->has_patch);
  if (a->has_patch) {
    g_assert_cmpuint (a->patch_sites->len, ==, b->patch_sites->len);
    CMP_MEM (a->patch_sites->data, b->patch_sites->data, a->patch_sites->len * sizeof (StrataPatchSite));
    g_assert_cmpint (a->patch_direction, ==, b->patch_direction);
    g_assert_cmpint (a->patch_metric, ==, b->patch_metric);
    g_assert_cmpint (a->patch_head_pos, ==, b->patch_head_pos);
    g_assert_cmpstr (a->patch_target, ==, b->patch_target);
  }
  g_assert_cmpuint (a->runs->len, ==, b->runs->len);
  for (guint r = 0; r < a->runs->len; r++) {
    const StrataTrainingRun *x = g_ptr_array_index (a->runs, r), *y = g_ptr_array_index (b->runs, r);
    g_assert_cmpstr (x->name, ==, y->name);
    g_assert_cmpstr (x->path, ==, y->path);
    g_assert_cmpuint (x->checkpoints->len, ==, y->checkpoints->len);
    for (guint c = 0; c < x->checkpoints->len; c++) {
      const StrataSeriesCheckpoint *p = g_ptr_array_index (x->checkpoints, c);
      const StrataSeriesCheckpoint *q = g_ptr_array_index (y->checkpoints, c);
      g_assert_cmpstr (p->path, ==, q->path);
      g_assert_cmpstr (p->label, ==, q->label);
      g_assert_cmpint (p->step, ==, q->step);
      g_assert_cmpint (strata_series_checkpoint_is_done (p), ==, strata_series_checkpoint_is_done (q));
      if (!strata_series_checkpoint_is_done (p))
        continue;
      g_assert_cmpstr (p->model.weights_sha256, ==, q->model.weights_sha256);
      g_assert_cmpstr (p->model.device, ==, q->model.device);
      g_assert_cmpint (p->model.config.n_layers, ==, q->model.config.n_layers);
      sample_lens_aggregates_assert_equal (p->lens_aggregates, q->lens_aggregates);
      g_assert_cmpuint (p->accuracy->len, ==, q->accuracy->len);
      for (guint i = 0; i < p->accuracy->len; i++) {
        const StrataSeriesAccuracy *u = g_ptr_array_index (p->accuracy, i), *v = g_ptr_array_index (q->accuracy, i);
        g_assert_cmpstr (u->tag, ==, v->tag);
        g_assert_cmpstr (u->target, ==, v->target);
        g_assert_cmpint (u->n, ==, v->n);
        g_assert_cmpint (u->correct, ==, v->correct);
      }
      assert_patch_aggregates_equal (p->patch_aggregates, q->patch_aggregates);
    }
  }
}

void
sample_session_assert_equal (const StrataSession *a, const StrataSession *b)
{
  sample_series_assert_equal (a->series, b->series);
  g_assert_cmpuint (a->analyses->len, ==, b->analyses->len);
  for (guint i = 0; i < a->analyses->len; i++)
    assert_analysis_equal (g_ptr_array_index (a->analyses, i), g_ptr_array_index (b->analyses, i));
  const StrataViewState *v = &a->view, *w = &b->view;
  g_assert_cmpint (v->figure, ==, w->figure);
  g_assert_cmpint (v->analysis, ==, w->analysis);
  g_assert_cmpint (v->prompt, ==, w->prompt);
  g_assert_cmpint (v->layer, ==, w->layer);
  g_assert_cmpint (v->position, ==, w->position);
  g_assert_cmpint (v->head, ==, w->head);
  g_assert_cmpstr (v->target, ==, w->target);
  g_assert_cmpstr (v->tag, ==, w->tag);
  g_assert_cmpint (v->patch_site, ==, w->patch_site);
  g_assert_cmpint (v->curve, ==, w->curve);
  g_assert_cmpint (v->log_color, ==, w->log_color);
  g_assert_cmpint (v->compare, ==, w->compare);
  g_assert_cmpint (v->run, ==, w->run);
  g_assert_cmpint (v->checkpoint, ==, w->checkpoint);
  g_assert_cmpint (v->trace.topk, ==, w->trace.topk);
  g_assert_cmpint (v->trace.anywhere, ==, w->trace.anywhere);
  g_assert_cmpint (v->range_first, ==, w->range_first);
  g_assert_cmpint (v->range_count, ==, w->range_count);
}
