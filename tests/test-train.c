/* test-train.c: the GPT-2 trainer against PyTorch (tools/reference/make_train_goldens.py,
 * tests/data/golden/train/golden.safetensors) on the tiny GPT-2 checkpoint of the forward
 * goldens (tests/data/golden/gpt2), plus invariants.
 *
 * Tolerances:
 *  - the loss: 1e-5 relative to the float64 reference;
 *  - every parameter gradient and every site gradient: max |diff| <= 1e-4 × the tensor's
 *    max |reference|, floored at 1 % of the model's largest parameter gradient (b_k's
 *    gradient is 0 in exact arithmetic; float32 leaves rounding there). A float32 autograd
 *    run lands within 6.4e-6 of the same measure;
 *  - the losses of 5 AdamW steps (clipping, warmup, linear decay, weight decay on the
 *    matrices only) and the gradient norms: 1e-5 relative to torch's float32 run (its own
 *    float64 rerun differs by 8.3e-7);
 *  - micro-batches scaled by their share of the counted positions accumulate the batch's
 *    gradients (1e-4 of the largest, as above);
 *  - finite differences of the inference engine's loss (an independent forward) on a few
 *    parameters: 1e-2 relative to the largest of them; and the trainer's loss equals the
 *    engine's (1e-12 relative: the same logits). */
#include <math.h>
#include <string.h>

#include "golden-reader.h"
#include "strata-model.h"
#include "strata-train.h"

#define GRAD_TOLERANCE 1e-4
#define LOSS_TOLERANCE 1e-5

typedef struct {
  StrataModel *model;
  StrataEngine *engine;
  StrataTrainer *trainer;
  StrataGolden *golden;
  gint32 *tokens, *targets;
  int B, T;
} Fixture;

static gint32 *
golden_i32 (Fixture *f, const char *name, gsize n)
{
  g_autoptr (GError) error = NULL;
  gsize got = 0;
  gint32 *v = strata_golden_dup_i32 (f->golden, name, &got, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (got, ==, n);
  return v;
}

static void
fixture_open (Fixture *f)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "golden", "gpt2", NULL);
  g_autofree char *gpath = g_test_build_filename (G_TEST_DIST, "data", "golden", "train", "golden.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  f->model = strata_model_open (path, NULL, &error);
  g_assert_no_error (error);
  f->golden = strata_golden_open (gpath, &error);
  g_assert_no_error (error);
  StrataStatus st;
  f->engine = strata_engine_new (strata_backend_cpu (), f->model->weights, &st);
  g_assert_cmpint (st, ==, STRATA_OK);
  f->trainer = strata_trainer_new (f->engine, &st);
  g_assert_cmpint (st, ==, STRATA_OK);
  int n_dims;
  gint64 shape[STRATA_GOLDEN_MAX_DIMS];
  g_assert_true (strata_golden_has (f->golden, "tokens", &n_dims, shape));
  f->B = (int) shape[0], f->T = (int) shape[1];
  f->tokens = golden_i32 (f, "tokens", (gsize) f->B * f->T);
  f->targets = golden_i32 (f, "targets", (gsize) f->B * f->T);
}

static void
fixture_close (Fixture *f)
{
  strata_trainer_free (f->trainer);
  strata_engine_free (f->engine);
  strata_model_free (f->model);
  strata_golden_free (f->golden);
  g_free (f->tokens);
  g_free (f->targets);
}

static float *
golden_f32 (Fixture *f, const char *name, gsize n)
{
  g_autoptr (GError) error = NULL;
  gsize got = 0;
  float *v = strata_golden_dup_f32 (f->golden, name, &got, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (got, ==, n);
  return v;
}

static double
max_abs (const float *x, gsize n)
{
  double m = 0;
  for (gsize i = 0; i < n; i++)
    m = fmax (m, fabs (x[i]));
  return m;
}

/* max |got - ref| / max(max |ref|, floor), failing the test above GRAD_TOLERANCE. */
static void
check_close (const char *what, const float *got, const float *ref, gsize n, double floor)
{
  double err = 0;
  for (gsize i = 0; i < n; i++)
    err = fmax (err, fabs ((double) got[i] - ref[i]));
  double rel = err / fmax (max_abs (ref, n), floor);
  g_test_message ("%-28s max |diff| %.2e (%.2e relative)", what, err, rel);
  if (!(rel <= GRAD_TOLERANCE))
    g_test_fail_printf ("%s: max |diff| %.3g is %.3g of the reference, over %g", what, err, rel, GRAD_TOLERANCE);
}

static void
check_relative (const char *what, double got, double ref)
{
  double rel = fabs (got - ref) / fabs (ref);
  g_test_message ("%-28s %.7f vs %.7f (%.1e relative)", what, got, ref, rel);
  if (!(rel <= LOSS_TOLERANCE))
    g_test_fail_printf ("%s: %.7g vs the reference %.7g (%.2g relative, over %g)", what, got, ref, rel,
                        LOSS_TOLERANCE);
}

/* The residual-stream sites the golden file holds for `prefix` ("site." or "metric."). */
static int
golden_sites (Fixture *f, const char *prefix, StrataGradSite *sites, char names[][64], int max)
{
  static const struct { StrataSite site; const char *name; } kinds[] = {
    { STRATA_SITE_RESID_PRE, "hook_resid_pre" },   { STRATA_SITE_ATTN_OUT, "hook_attn_out" },
    { STRATA_SITE_RESID_MID, "hook_resid_mid" },   { STRATA_SITE_MLP_OUT, "hook_mlp_out" },
    { STRATA_SITE_RESID_POST, "hook_resid_post" },
  };
  const StrataConfig *g = strata_engine_get_config (f->engine);
  gsize rows = (gsize) f->B * f->T * g->d_model;
  int n = 0, n_dims;
  gint64 shape[STRATA_GOLDEN_MAX_DIMS];
  for (int l = 0; l < g->n_layers; l++)
    for (gsize k = 0; k < G_N_ELEMENTS (kinds); k++) {
      g_assert_cmpint (n, <, max);
      g_snprintf (names[n], 64, "%sblocks.%d.%s", prefix, l, kinds[k].name);
      if (!strata_golden_has (f->golden, names[n], &n_dims, shape))
        continue;
      sites[n] = (StrataGradSite) { kinds[k].site, l, g_new0 (float, rows) };
      n++;
    }
  g_assert_cmpint (n, >, 0);
  return n;
}

static void
check_sites (Fixture *f, StrataGradSite *sites, char names[][64], int n)
{
  const StrataConfig *g = strata_engine_get_config (f->engine);
  gsize rows = (gsize) f->B * f->T * g->d_model;
  for (int i = 0; i < n; i++) {
    g_autofree float *ref = golden_f32 (f, names[i], rows);
    check_close (names[i], sites[i].dst, ref, rows, 0.0);
    g_free (sites[i].dst);
  }
}

typedef struct {
  Fixture *f;
  double floor;
  int n;
} GradCheck;

static int
largest_cb (StrataWeightTensor *t, void *user)
{
  GradCheck *c = user;
  g_autofree char *name = g_strconcat ("grad.", t->name, NULL);
  g_autofree float *ref = golden_f32 (c->f, name, t->rows * t->cols);
  c->floor = fmax (c->floor, 0.01 * max_abs (ref, t->rows * t->cols));
  return 0;
}

static int
compare_cb (StrataWeightTensor *t, void *user)
{
  GradCheck *c = user;
  g_autofree char *name = g_strconcat ("grad.", t->name, NULL);
  gsize n = t->rows * t->cols;
  g_autofree float *ref = golden_f32 (c->f, name, n);
  check_close (name, t->matrix ? t->mat->data : *t->vec, ref, n, c->floor);
  c->n++;
  return 0;
}

static void
test_gradients (void)
{
  Fixture f = { 0 };
  fixture_open (&f);
  StrataGradSite sites[16];
  char names[16][64];
  int n_sites = golden_sites (&f, "site.", sites, names, 16);
  double loss = 0;
  StrataStatus st = strata_trainer_loss_grad (f.trainer, f.tokens, f.targets, f.B, f.T, 1.0f, sites, n_sites, &loss);
  g_assert_cmpstr (strata_engine_get_error (f.engine), ==, "");
  g_assert_cmpint (st, ==, STRATA_OK);
  g_autofree float *ref_loss = golden_f32 (&f, "loss", 1);
  check_relative ("loss", loss, ref_loss[0]);
  /* Every parameter of the table, each against its reference (CPU: host memory). */
  GradCheck c = { &f, 0.0, 0 };
  StrataWeights *grads = (StrataWeights *) strata_trainer_get_grads (f.trainer);
  strata_weights_visit (grads, largest_cb, &c);
  strata_weights_visit (grads, compare_cb, &c);
  g_assert_cmpint (c.n, >=, 36); /* 2 layers × 16 tensors, 2 embeddings, the final norm's 2 */
  check_sites (&f, sites, names, n_sites);
  fixture_close (&f);
}

/* A batch split into micro-batches, each scaled by its share of the counted positions,
 * accumulates the whole batch's gradients (up to the order of float sums). */
static void
test_accumulation (void)
{
  Fixture f = { 0 };
  fixture_open (&f);
  g_assert_cmpint (strata_trainer_loss_grad (f.trainer, f.tokens, f.targets, f.B, f.T, 1.0f, NULL, 0, NULL), ==,
                   STRATA_OK);
  const StrataWeights *grads = strata_trainer_get_grads (f.trainer);
  gsize n = grads->arena_bytes / sizeof (float);
  g_autofree float *whole = g_memdup2 (grads->arena, n * sizeof (float));
  g_assert_cmpint (strata_trainer_zero_grads (f.trainer), ==, STRATA_OK);
  int counted[2] = { 0, 0 }, first = 1; /* sequence 0, then the others */
  for (int i = 0; i < f.B * f.T; i++)
    counted[i >= first * f.T] += f.targets[i] >= 0;
  float share0 = (float) counted[0] / (float) (counted[0] + counted[1]);
  g_assert_cmpint (strata_trainer_loss_grad (f.trainer, f.tokens, f.targets, first, f.T, share0, NULL, 0, NULL), ==,
                   STRATA_OK);
  g_assert_cmpint (strata_trainer_loss_grad (f.trainer, f.tokens + first * f.T, f.targets + first * f.T,
                                             f.B - first, f.T, 1.0f - share0, NULL, 0, NULL), ==, STRATA_OK);
  check_close ("accumulated gradients", grads->arena, whole, n, 0.0);
  fixture_close (&f);
}

/* Attribution patching's gradient: a logit difference at one position, given on the logits. */
static void
test_metric (void)
{
  Fixture f = { 0 };
  fixture_open (&f);
  StrataGradSite sites[16];
  char names[16][64];
  int n_sites = golden_sites (&f, "metric.", sites, names, 16);
  g_autofree gint32 *pos = golden_i32 (&f, "metric_pos", 1);
  g_autofree gint32 *ids = golden_i32 (&f, "metric_ids", 2);
  int V = strata_engine_get_config (f.engine)->vocab;
  g_autofree float *dlogits = g_new0 (float, (gsize) f.B * V);
  for (int b = 0; b < f.B; b++) {
    dlogits[(gsize) b * V + ids[0]] = 1.0f;
    dlogits[(gsize) b * V + ids[1]] = -1.0f;
  }
  StrataStatus st = strata_trainer_metric_grad (f.trainer, f.tokens, f.B, f.T, pos[0], dlogits, sites, n_sites);
  g_assert_cmpstr (strata_engine_get_error (f.engine), ==, "");
  g_assert_cmpint (st, ==, STRATA_OK);
  check_sites (&f, sites, names, n_sites);
  fixture_close (&f);
}

/* Five AdamW steps with clipping, warmup and linear decay give torch's losses. */
static void
test_adamw (void)
{
  Fixture f = { 0 };
  fixture_open (&f);
  StrataAdamW o = { .lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.1,
                    .max_grad_norm = 1.0, .warmup_steps = 2, .total_steps = 6, .schedule = STRATA_LR_LINEAR };
  g_autofree float *ref_loss = golden_f32 (&f, "adamw_loss", 6);
  g_autofree float *ref_norm = golden_f32 (&f, "adamw_norm", 5);
  /* The moments start at zero (they are allocated at the first optimizer call). */
  size_t n = strata_trainer_state_floats (f.trainer);
  g_autofree float *m = g_new (float, n), *v = g_new (float, n);
  memset (m, 0xff, n * sizeof (float)), memset (v, 0xff, n * sizeof (float));
  g_assert_cmpint (strata_trainer_get_state (f.trainer, m, v), ==, STRATA_OK);
  for (size_t i = 0; i < n; i++)
    g_assert_true (m[i] == 0.0f && v[i] == 0.0f);
  for (int s = 0; s <= 5; s++) {
    double loss = 0, norm = 0;
    g_assert_cmpint (strata_trainer_zero_grads (f.trainer), ==, STRATA_OK);
    g_assert_cmpint (strata_trainer_loss_grad (f.trainer, f.tokens, f.targets, f.B, f.T, 1.0f, NULL, 0, &loss), ==,
                     STRATA_OK);
    g_autofree char *what = g_strdup_printf ("loss before step %d", s);
    check_relative (what, loss, ref_loss[s]);
    if (s == 5)
      break;
    g_assert_cmpint (strata_trainer_step (f.trainer, &o, &norm), ==, STRATA_OK);
    g_autofree char *nwhat = g_strdup_printf ("gradient norm at step %d", s);
    check_relative (nwhat, norm, ref_norm[s]);
  }
  g_assert_cmpint (strata_trainer_get_step (f.trainer), ==, 5);
  fixture_close (&f);
}

/* The mean cross-entropy over the counted positions, from the inference engine's logits. */
static double
engine_loss (Fixture *f)
{
  int V = strata_engine_get_config (f->engine)->vocab, R = f->B * f->T;
  g_autofree float *logits = g_new (float, (gsize) R * V);
  g_assert_cmpint (strata_engine_forward (f->engine, f->tokens, f->B, f->T, NULL, logits), ==, STRATA_OK);
  double sum = 0;
  int counted = 0;
  for (int r = 0; r < R; r++) {
    if (f->targets[r] < 0)
      continue;
    const float *row = logits + (gsize) r * V;
    double mx = -INFINITY, z = 0;
    for (int i = 0; i < V; i++)
      mx = fmax (mx, row[i]);
    for (int i = 0; i < V; i++)
      z += exp (row[i] - mx);
    sum += log (z) + mx - row[f->targets[r]];
    counted++;
  }
  return sum / counted;
}

typedef struct {
  const char *name;
  float *data;
} FindTensor;

static int
find_cb (StrataWeightTensor *t, void *user)
{
  FindTensor *ft = user;
  if (strcmp (t->name, ft->name) != 0)
    return 0;
  ft->data = t->matrix ? t->mat->data : *t->vec;
  return 1;
}

static float *
tensor_of (StrataWeights *w, const char *name)
{
  FindTensor ft = { name, NULL };
  strata_weights_visit (w, find_cb, &ft);
  g_assert_nonnull (ft.data);
  return ft.data;
}

/* Central differences of the engine's loss on a few parameters, one per kind of tensor. */
static void
test_finite_differences (void)
{
  Fixture f = { 0 };
  fixture_open (&f);
  double loss = 0;
  g_assert_cmpint (strata_trainer_loss_grad (f.trainer, f.tokens, f.targets, f.B, f.T, 1.0f, NULL, 0, &loss), ==,
                   STRATA_OK);
  /* The training forward runs the inference block's operations in the same order: the same
   * logits, so the same loss up to the order of the host's double sums. */
  double engine = engine_loss (&f);
  g_test_message ("loss: trainer %.15f, engine %.15f", loss, engine);
  g_assert_cmpfloat_with_epsilon (loss, engine, 1e-12 * engine);
  const StrataConfig *g = strata_engine_get_config (f.engine);
  struct { const char *name; gsize index; } probes[] = {
    { "tok_embed", (gsize) f.tokens[0] * g->d_model + 3 }, { "pos_embed", 2 * (gsize) g->d_model + 1 },
    { "layers.0.w_q", 5 * (gsize) g->d_model + 7 }, { "layers.0.norm1_w", 4 }, { "layers.1.b_up", 9 },
    { "layers.1.w_down", 11 }, { "norm_f_b", 6 },
  };
  StrataWeights *grads = (StrataWeights *) strata_trainer_get_grads (f.trainer);
  double fd[G_N_ELEMENTS (probes)], an[G_N_ELEMENTS (probes)], largest = 0;
  const float h = 1e-2f;
  for (gsize i = 0; i < G_N_ELEMENTS (probes); i++) {
    float *p = tensor_of (f.model->weights, probes[i].name) + probes[i].index, keep = *p;
    *p = keep + h;
    double up = engine_loss (&f);
    *p = keep - h;
    double down = engine_loss (&f);
    *p = keep;
    fd[i] = (up - down) / (2.0 * h);
    an[i] = tensor_of (grads, probes[i].name)[probes[i].index];
    largest = fmax (largest, fabs (an[i]));
  }
  for (gsize i = 0; i < G_N_ELEMENTS (probes); i++) {
    g_test_message ("%-18s analytic %+.6f, central difference %+.6f", probes[i].name, an[i], fd[i]);
    if (!(fabs (fd[i] - an[i]) <= 1e-2 * largest))
      g_test_fail_printf ("%s: gradient %g, central difference %g", probes[i].name, an[i], fd[i]);
  }
  fixture_close (&f);
}

/* What the trainer cannot do, it says, naming the problem. */
static void
test_refusals (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "golden", "llama-gqa", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) llama = strata_model_open (path, NULL, &error);
  g_assert_no_error (error);
  StrataStatus st;
  StrataEngine *e = strata_engine_new (strata_backend_cpu (), llama->weights, &st);
  g_assert_null (strata_trainer_new (e, &st));
  g_assert_cmpint (st, ==, STRATA_ERR_UNSUPPORTED);
  g_assert_nonnull (strstr (strata_engine_get_error (e), "GPT-2 recipe"));
  strata_engine_free (e);

  Fixture f = { 0 };
  fixture_open (&f);
  /* A backend without the training operations (CUDA today), here the CPU's without one. */
  StrataBackend no_grad = *strata_backend_cpu ();
  no_grad.name = "no-grad";
  no_grad.attention_grad = NULL;
  e = strata_engine_new (&no_grad, f.model->weights, &st);
  g_assert_null (strata_trainer_new (e, &st));
  g_assert_cmpint (st, ==, STRATA_ERR_UNSUPPORTED);
  g_assert_cmpstr (strata_engine_get_error (e), ==, "training is not supported on the no-grad backend (use the CPU)");
  strata_engine_free (e);

  int V = strata_engine_get_config (f.engine)->vocab, R = f.B * f.T;
  g_autofree gint32 *targets = g_new (gint32, R);
  for (int i = 0; i < R; i++)
    targets[i] = -1;
  st = strata_trainer_loss_grad (f.trainer, f.tokens, targets, f.B, f.T, 1.0f, NULL, 0, NULL);
  g_assert_cmpint (st, ==, STRATA_ERR_ARGUMENT);
  g_assert_nonnull (strstr (strata_engine_get_error (f.engine), "no position"));
  targets[5] = V;
  st = strata_trainer_loss_grad (f.trainer, f.tokens, targets, f.B, f.T, 1.0f, NULL, 0, NULL);
  g_assert_cmpint (st, ==, STRATA_ERR_ARGUMENT);
  g_assert_nonnull (strstr (strata_engine_get_error (f.engine), "target id"));
  float dst[1];
  StrataGradSite bad = { STRATA_SITE_ATTN_Q, 0, dst };
  st = strata_trainer_loss_grad (f.trainer, f.tokens, f.targets, f.B, f.T, 1.0f, &bad, 1, NULL);
  g_assert_cmpint (st, ==, STRATA_ERR_UNSUPPORTED);
  g_assert_nonnull (strstr (strata_engine_get_error (f.engine), "blocks.0.attn.hook_q"));
  fixture_close (&f);
}

/* The schedules at the points their definitions fix (transformers' get_*_schedule_with_warmup). */
static void
test_schedules (void)
{
  StrataAdamW o = { .lr = 2.0, .warmup_steps = 4, .total_steps = 12 };
  for (int s = STRATA_LR_CONSTANT; s <= STRATA_LR_COSINE; s++) {
    o.schedule = s;
    g_assert_cmpfloat (strata_adamw_lr (&o, 0), ==, 0.0);
    g_assert_cmpfloat_with_epsilon (strata_adamw_lr (&o, 2), 1.0, 1e-12);
    g_assert_cmpfloat_with_epsilon (strata_adamw_lr (&o, 4), 2.0, 1e-12);
  }
  o.schedule = STRATA_LR_CONSTANT;
  g_assert_cmpfloat_with_epsilon (strata_adamw_lr (&o, 100), 2.0, 1e-12);
  o.schedule = STRATA_LR_LINEAR;
  g_assert_cmpfloat_with_epsilon (strata_adamw_lr (&o, 8), 1.0, 1e-12);
  g_assert_cmpfloat (strata_adamw_lr (&o, 20), ==, 0.0);
  o.schedule = STRATA_LR_COSINE;
  g_assert_cmpfloat_with_epsilon (strata_adamw_lr (&o, 8), 1.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (strata_adamw_lr (&o, 12), 0.0, 1e-12);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/train/gradients", test_gradients);
  g_test_add_func ("/kernels/train/accumulation", test_accumulation);
  g_test_add_func ("/kernels/train/metric", test_metric);
  g_test_add_func ("/kernels/train/adamw", test_adamw);
  g_test_add_func ("/kernels/train/finite-differences", test_finite_differences);
  g_test_add_func ("/kernels/train/refusals", test_refusals);
  g_test_add_func ("/kernels/train/schedules", test_schedules);
  return g_test_run ();
}
