/* test-train-run: the training loop (strata-train-run.h) and `strata train`/`strata study`.
 *
 * - resume: k steps, stop, resume to 2k equals 2k steps straight, bit for bit (every loss,
 *   the log, the final weights file).
 * - by hand: with the whole training set as one batch (so the shuffle does not matter) the
 *   loop's losses equal strata_trainer_loss_grad + strata_trainer_step driven by hand on
 *   batches built here from the generated dataset in memory (not from the loop's parser).
 * - init: HF GPT-2's initialisation as statistics (std 0.02, residual projections
 *   0.02/sqrt(2L), gains 1, biases 0), and the seed decides the weights.
 * - checkpoints: they reopen with strata_model_open as GPT-2 with the dataset's tokenizer,
 *   and a series finds them in step order.
 * - accuracy: the CoT bridge accuracy the loop logs (greedy decoding of its own) equals the
 *   final-layer top-1 count of `bridge` that strata_series_run finds on the same checkpoint
 *   over prompts-stage1.jsonl, per tag (independent code, the same queries).
 * - CLI: errors for a missing dataset, an unwritable --out, a run folder already in use, a
 *   resume without a checkpoint and one of a non-GPT-2 model; a tiny `strata study twohop`. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "strata-model.h"
#include "strata-series.h"
#include "strata-train-run.h"
#include "strata-twohop-dataset.h"
#include "test-cli-util.h"

static void
rm_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  for (const char *name; dir && (name = g_dir_read_name (dir));) {
    g_autofree char *child = g_build_filename (path, name, NULL);
    if (g_file_test (child, G_FILE_TEST_IS_DIR))
      rm_tree (child);
    else
      g_unlink (child);
  }
  g_rmdir (path);
}

/* A small graph: 20 entities, 5 relations, 4 per entity. */
static StrataTwohopDataset *
small_dataset (const char *dir)
{
  StrataTwohopParams p = STRATA_TWOHOP_PARAMS_DEFAULT;
  p.n_entities = 20, p.n_relations = 5, p.per_entity = 4, p.test_prob = 0.1, p.ood_fraction = 0.1;
  g_autoptr (GError) error = NULL;
  StrataTwohopDataset *d = strata_twohop_generate (&p, &error);
  g_assert_no_error (error);
  g_assert_true (strata_twohop_write (d, dir, &error));
  g_assert_no_error (error);
  return d;
}

static void
small_options (StrataTrainRunOptions *o)
{
  strata_train_run_options_init (o);
  o->n_layers = 2, o->d_model = 32, o->n_heads = 2, o->batch = 16, o->adamw.warmup_steps = 2;
  o->eval_sample = 50;
}

typedef struct {
  GArray *losses; /* double, per step */
} Losses;

static void
collect_cb (int step, int total, double loss, const StrataTrainEval *eval, gpointer data)
{
  Losses *l = data;
  g_assert_cmpint (step, ==, (int) l->losses->len + 1);
  g_array_append_val (l->losses, loss);
}

static void
train (const char *data, const char *out, StrataTrainRunOptions *o, GArray *losses)
{
  Losses l = { losses };
  o->progress = collect_cb;
  o->progress_data = &l;
  g_autoptr (GError) error = NULL;
  g_assert_true (strata_train_run (data, out, o, &error));
  g_assert_no_error (error);
}

static GBytes *
file_bytes (const char *dir, const char *a, const char *b)
{
  g_autofree char *path = g_build_filename (dir, a, b, NULL), *text = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &text, &len, NULL));
  return g_bytes_new_take (g_steal_pointer (&text), len);
}

static void
test_resume (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("strata-train-XXXXXX", NULL);
  g_autofree char *data = g_build_filename (tmp, "data", NULL), *straight = g_build_filename (tmp, "straight", NULL);
  g_autofree char *resumed = g_build_filename (tmp, "resumed", NULL);
  g_autoptr (StrataTwohopDataset) d = small_dataset (data);
  enum { K = 4 };
  StrataTrainRunOptions o;
  small_options (&o);
  o.steps = 2 * K, o.eval_every = o.save_every = K;
  g_autoptr (GArray) a = g_array_new (FALSE, FALSE, sizeof (double)), b = g_array_new (FALSE, FALSE, sizeof (double));
  train (data, straight, &o, a);
  o.steps = K; /* a run stopped after K steps ... */
  train (data, resumed, &o, b);
  o.steps = 2 * K, o.resume = TRUE; /* ... resumed to 2K */
  g_autoptr (GArray) rest = g_array_new (FALSE, FALSE, sizeof (double));
  Losses l = { rest };
  o.progress = collect_cb, o.progress_data = &l;
  g_array_set_size (rest, K); /* the callback checks the step numbers: they continue at K + 1 */
  g_autoptr (GError) error = NULL;
  g_assert_true (strata_train_run (data, resumed, &o, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (rest->len, ==, 2 * K);
  for (int i = K; i < 2 * K; i++)
    g_array_append_val (b, g_array_index (rest, double, i));
  g_assert_cmpuint (a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++)
    g_assert_cmpfloat (g_array_index (a, double, i), ==, g_array_index (b, double, i));
  /* The loss fell: the run learned something (a resume of nothing would also be equal). */
  g_assert_cmpfloat (g_array_index (a, double, 2 * K - 1), <, g_array_index (a, double, 0));
  g_autoptr (GBytes) wa = file_bytes (straight, "checkpoint-8", "model.safetensors");
  g_autoptr (GBytes) wb = file_bytes (resumed, "checkpoint-8", "model.safetensors");
  g_assert_true (g_bytes_equal (wa, wb));
  g_autoptr (GBytes) sa = file_bytes (straight, "checkpoint-8", "optimizer_state.bin");
  g_autoptr (GBytes) sb = file_bytes (resumed, "checkpoint-8", "optimizer_state.bin");
  g_assert_cmpuint (g_bytes_get_size (sa), ==, g_bytes_get_size (sb));
  /* The log: the same evaluations (its elapsed seconds differ, so compare the steps and accuracies). */
  g_autoptr (GBytes) la = file_bytes (straight, "train_log.jsonl", NULL), lb = file_bytes (resumed, "train_log.jsonl", NULL);
  g_auto (GStrv) lines_a = g_strsplit (g_bytes_get_data (la, NULL), "\n", -1);
  g_auto (GStrv) lines_b = g_strsplit (g_bytes_get_data (lb, NULL), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines_a), ==, 3);
  g_assert_cmpuint (g_strv_length (lines_b), ==, 3);
  for (int i = 0; i < 2; i++)
    g_assert_cmpstr (strstr (lines_a[i], "\"acc\""), ==, strstr (lines_b[i], "\"acc\""));
  rm_tree (tmp);
}

/* Tokens and targets of every training item, built from the dataset in memory. */
static int
full_batch (const StrataTwohopDataset *d, int T, int32_t **tokens, int32_t **targets)
{
  const StrataTwohopParams *p = &d->params;
  int n = (int) (d->facts->len + d->train->len);
  int32_t end = strata_twohop_answer_end_token (p), pad = end + 1;
  *tokens = g_new (int32_t, (gsize) n * T);
  *targets = g_new (int32_t, (gsize) n * T);
  for (int i = 0; i < n; i++) {
    int32_t seq[8];
    int len, n_in;
    if (i < (int) d->facts->len) {
      const StrataTwohopFact *f = &g_array_index (d->facts, StrataTwohopFact, i);
      int32_t s[] = { f->h, strata_twohop_relation_token (p, f->r), f->t, end };
      memcpy (seq, s, sizeof s), len = 4, n_in = 2;
    } else {
      const StrataTwohopQuery *q = &g_array_index (d->train, StrataTwohopQuery, i - d->facts->len);
      int32_t s[] = { q->h, strata_twohop_relation_token (p, q->r1), strata_twohop_relation_token (p, q->r2), q->b,
                      q->t, end };
      memcpy (seq, s, sizeof s), len = 6, n_in = 3;
    }
    for (int t = 0; t < T; t++) {
      (*tokens)[i * T + t] = t < len ? seq[t] : pad;
      /* position t predicts token t + 1 where that token follows the input */
      (*targets)[i * T + t] = t + 1 < len && t + 1 >= n_in ? seq[t + 1] : -1;
    }
  }
  return n;
}

static void
test_by_hand (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("strata-train-XXXXXX", NULL);
  g_autofree char *data = g_build_filename (tmp, "data", NULL), *out = g_build_filename (tmp, "run", NULL);
  g_autoptr (StrataTwohopDataset) d = small_dataset (data);
  enum { T = 6, STEPS = 3 };
  g_autofree int32_t *tokens = NULL, *targets = NULL;
  int n = full_batch (d, T, &tokens, &targets);
  StrataTrainRunOptions o;
  small_options (&o);
  o.batch = n, o.steps = STEPS, o.eval_every = o.save_every = 0;
  g_autoptr (GArray) loop = g_array_new (FALSE, FALSE, sizeof (double));
  train (data, out, &o, loop);

  int vocab = d->params.n_entities + d->params.n_relations + 2;
  g_autoptr (GError) error = NULL;
  StrataWeights *w = strata_train_new_gpt2 (&o, vocab, T, &error);
  g_assert_no_error (error);
  StrataStatus st;
  StrataEngine *e = strata_engine_new (strata_backend_cpu (), w, &st);
  StrataTrainer *t = strata_trainer_new (e, &st);
  g_assert_nonnull (t);
  StrataAdamW adamw = o.adamw;
  adamw.total_steps = STEPS;
  for (int s = 0; s < STEPS; s++) {
    double loss = 0;
    g_assert_cmpint (strata_trainer_zero_grads (t), ==, STRATA_OK);
    g_assert_cmpint (strata_trainer_loss_grad (t, tokens, targets, n, T, 1.0f, NULL, 0, &loss), ==, STRATA_OK);
    g_assert_cmpint (strata_trainer_step (t, &adamw, NULL), ==, STRATA_OK);
    /* The loop's batch holds the same items in another order: sums in another order. */
    double want = g_array_index (loop, double, s);
    g_test_message ("step %d: loop %.9g, by hand %.9g", s + 1, want, loss);
    g_assert_cmpfloat_with_epsilon (loss, want, 1e-5 * fabs (want));
  }
  strata_trainer_free (t);
  strata_engine_free (e);
  strata_weights_free (w);
  rm_tree (tmp);
}

static void
cancel_cb (int step, int total, double loss, const StrataTrainEval *eval, gpointer data)
{
  if (step == 3)
    g_cancellable_cancel (data);
}

/* Cancelled after step 3 of 6 (saving every 2): a cancelled error, checkpoint-2 kept and
 * resumable. */
static void
test_cancel (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("strata-train-XXXXXX", NULL);
  g_autofree char *data = g_build_filename (tmp, "data", NULL), *out = g_build_filename (tmp, "run", NULL);
  g_autoptr (StrataTwohopDataset) d = small_dataset (data);
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  StrataTrainRunOptions o;
  small_options (&o);
  o.steps = 6, o.eval_every = o.save_every = 2;
  o.cancellable = cancel, o.progress = cancel_cb, o.progress_data = cancel;
  g_autoptr (GError) error = NULL;
  g_assert_false (strata_train_run (data, out, &o, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_autoptr (StrataTrainingRun) run = strata_training_run_discover (out, NULL);
  g_assert_nonnull (run);
  g_assert_cmpuint (run->checkpoints->len, ==, 1);
  g_assert_cmpint (((StrataSeriesCheckpoint *) run->checkpoints->pdata[0])->step, ==, 2);
  g_autoptr (GArray) rest = g_array_new (FALSE, FALSE, sizeof (double));
  g_array_set_size (rest, 2); /* resumed at step 3 */
  o.resume = TRUE, o.cancellable = NULL;
  train (data, out, &o, rest);
  g_assert_cmpuint (rest->len, ==, 6);
  rm_tree (tmp);
}

static double
std_of (const float *x, size_t n, double *mean)
{
  double s = 0, ss = 0;
  for (size_t i = 0; i < n; i++)
    s += x[i], ss += (double) x[i] * x[i];
  *mean = s / n;
  return sqrt (ss / n - *mean * *mean);
}

static void
test_init (void)
{
  StrataTrainRunOptions o;
  strata_train_run_options_init (&o); /* 6 layers, 128 wide */
  g_autoptr (GError) error = NULL;
  StrataWeights *w = strata_train_new_gpt2 (&o, 342, 8, &error), *same = strata_train_new_gpt2 (&o, 342, 8, &error);
  o.seed++;
  StrataWeights *other = strata_train_new_gpt2 (&o, 342, 8, &error);
  g_assert_no_error (error);
  int C = w->cfg.d_model, L = w->cfg.n_layers;
  double mean;
  /* 128 x 128 values: the sample std is within a few per cent of the true one. */
  g_assert_cmpfloat_with_epsilon (std_of (w->layers[2].w_q.data, (size_t) C * C, &mean), 0.02, 0.001);
  g_assert_cmpfloat (fabs (mean), <, 0.001);
  g_assert_cmpfloat_with_epsilon (std_of (w->tok_embed.data, (size_t) 342 * C, &mean), 0.02, 0.001);
  double resid = 0.02 / sqrt (2.0 * L);
  g_assert_cmpfloat_with_epsilon (std_of (w->layers[1].w_o.data, (size_t) C * C, &mean), resid, resid * 0.05);
  g_assert_cmpfloat_with_epsilon (std_of (w->layers[4].w_down.data, (size_t) C * 4 * C, &mean), resid, resid * 0.05);
  for (int i = 0; i < C; i++) {
    g_assert_cmpfloat (w->layers[3].norm1_w[i], ==, 1.0f);
    g_assert_cmpfloat (w->norm_f_w[i], ==, 1.0f);
    g_assert_cmpfloat (w->layers[3].norm2_b[i], ==, 0.0f);
    g_assert_cmpfloat (w->layers[0].b_o[i], ==, 0.0f);
  }
  g_assert_true (w->unembed.data == w->tok_embed.data); /* tied, as GPT-2 */
  g_assert_cmpmem (w->arena, w->arena_bytes, same->arena, same->arena_bytes);
  g_assert_false (memcmp (w->arena, other->arena, w->arena_bytes) == 0);
  strata_weights_free (w);
  strata_weights_free (same);
  strata_weights_free (other);
}

static void
test_checkpoints (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("strata-train-XXXXXX", NULL);
  g_autofree char *data = g_build_filename (tmp, "data", NULL), *out = g_build_filename (tmp, "run", NULL);
  g_autoptr (StrataTwohopDataset) d = small_dataset (data);
  StrataTrainRunOptions o;
  small_options (&o);
  o.steps = 5, o.eval_every = 2, o.save_every = 2;
  g_autoptr (GArray) losses = g_array_new (FALSE, FALSE, sizeof (double));
  train (data, out, &o, losses);
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataTrainingRun) run = strata_training_run_discover (out, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (run->checkpoints->len, ==, 3); /* 2, 4 and the last, 5 */
  const gint64 steps[] = { 2, 4, 5 };
  for (guint i = 0; i < 3; i++)
    g_assert_cmpint (((StrataSeriesCheckpoint *) run->checkpoints->pdata[i])->step, ==, steps[i]);
  g_autofree char *last = g_build_filename (out, "checkpoint-5", NULL);
  g_autoptr (StrataModel) m = strata_model_open (last, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (m->arch, ==, "gpt2");
  g_assert_cmpint (m->weights->cfg.n_layers, ==, 2);
  g_assert_cmpint (m->weights->cfg.vocab, ==, 20 + 5 + 2);
  g_assert_nonnull (m->tokenizer);
  g_autoptr (GArray) ids = strata_tokenizer_encode (m->tokenizer, "<e_3><r_2></a>", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ids->len, ==, 3);
  g_assert_cmpint (g_array_index (ids, int32_t, 0), ==, 3);
  g_assert_cmpint (g_array_index (ids, int32_t, 1), ==, 20 + 2);
  g_assert_cmpint (g_array_index (ids, int32_t, 2), ==, 25);
  /* No temporary folder is left behind. */
  g_autoptr (GDir) dir = g_dir_open (out, 0, NULL);
  for (const char *name; (name = g_dir_read_name (dir));)
    g_assert_false (name[0] == '.');
  rm_tree (tmp);
}

static void
test_accuracy (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("strata-train-XXXXXX", NULL);
  g_autofree char *data = g_build_filename (tmp, "data", NULL), *out = g_build_filename (tmp, "run", NULL);
  g_autoptr (StrataTwohopDataset) d = small_dataset (data);
  StrataTrainRunOptions o;
  small_options (&o);
  o.steps = 150, o.eval_every = o.save_every = 0, o.adamw.lr = 1e-2;
  g_autoptr (GArray) losses = g_array_new (FALSE, FALSE, sizeof (double));
  train (data, out, &o, losses);

  g_autoptr (GError) error = NULL;
  g_autoptr (StrataSeries) s = strata_series_new ();
  strata_series_add_run (s, strata_training_run_discover (out, &error));
  g_assert_no_error (error);
  StrataSeriesRequest req;
  strata_series_request_init (&req);
  g_autofree char *prompts = g_build_filename (data, "prompts-stage1.jsonl", NULL);
  req.prompts_path = prompts;
  g_assert_true (strata_series_run (s, &req, &error));
  g_assert_no_error (error);
  const StrataTrainingRun *run = s->runs->pdata[0];
  const StrataSeriesCheckpoint *cp = run->checkpoints->pdata[0];
  g_autoptr (GBytes) info = file_bytes (out, "checkpoint-150", "train_info.json");
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, g_bytes_get_data (info, NULL), (gssize) g_bytes_get_size (info), NULL));
  JsonObject *acc = json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)), "accuracy");
  const char *tags[] = { "id", "ood" }, *sets[] = { "test_inferred_id", "test_inferred_ood" };
  int some_right = 0, some_wrong = 0;
  for (int i = 0; i < 2; i++) {
    const StrataSeriesAccuracy *a = strata_series_checkpoint_get_accuracy (cp, tags[i], "bridge");
    g_assert_nonnull (a);
    double b = json_object_get_double_member (json_object_get_object_member (acc, sets[i]), "b");
    g_test_message ("%s: bridge %d of %d (series), b %.6f (loop)", tags[i], a->correct, a->n, b);
    g_assert_cmpint (a->correct, ==, (int) lround (b * a->n));
    some_right += a->correct > 0, some_wrong += a->correct < a->n;
  }
  /* Not a trivial agreement: the model got some bridges right and some wrong. */
  g_assert_true (some_right && some_wrong);
  rm_tree (tmp);
}

static void
test_cli_errors (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("strata-train-XXXXXX", NULL);
  g_autofree char *data = g_build_filename (tmp, "data", NULL), *out = g_build_filename (tmp, "run", NULL);
  g_autoptr (StrataTwohopDataset) d = small_dataset (data);
  g_autofree char *missing = g_build_filename (tmp, "nothing", NULL);
  {
    g_auto (Run) r = { 0 };
    strata (&r, (const char *[]) { "train", missing, "--out", out, NULL });
    g_assert_cmpint (r.status, ==, 1);
    g_assert_nonnull (strstr (r.err, "vocab.json"));
    g_assert_nonnull (strstr (r.err, "strata dataset twohop"));
  }
  {
    g_autofree char *file = g_build_filename (tmp, "file", NULL), *under = g_build_filename (file, "run", NULL);
    g_assert_true (g_file_set_contents (file, "x", 1, NULL));
    g_auto (Run) r = { 0 };
    strata (&r, (const char *[]) { "train", data, "--out", under, "--steps", "1", NULL });
    g_assert_cmpint (r.status, ==, 1);
    g_assert_nonnull (strstr (r.err, under));
  }
  {
    g_auto (Run) r = { 0 };
    strata (&r, (const char *[]) { "train", data, "--out", out, "--resume", NULL });
    g_assert_cmpint (r.status, ==, 1);
    g_assert_nonnull (strstr (r.err, "no checkpoint-N folder to resume from"));
  }
  {
    g_auto (Run) r = { 0 };
    strata (&r, (const char *[]) { "train", data, "--out", out, "--steps", "1", "--layers", "1", "--width", "16",
                                   "--heads", "2", "--batch", "4", NULL });
    g_assert_cmpint (r.status, ==, 0);
    g_auto (Run) again = { 0 };
    strata (&again, (const char *[]) { "train", data, "--out", out, "--steps", "1", NULL });
    g_assert_cmpint (again.status, ==, 1);
    g_assert_nonnull (strstr (again.err, "already holds a training run"));
  }
  {
    /* A Llama checkpoint where the run's latest checkpoint should be. */
    g_autofree char *llama = g_build_filename (tmp, "llama", NULL), *cp = g_build_filename (llama, "checkpoint-3", NULL);
    g_assert_cmpint (g_mkdir_with_parents (cp, 0755), ==, 0);
    const char *files[] = { "config.json", "model.safetensors", "tokenizer.json" };
    for (gsize i = 0; i < G_N_ELEMENTS (files); i++) {
      g_autofree char *src = data_path ("stories260K-hf"), *from = g_build_filename (src, files[i], NULL);
      g_autofree char *to = g_build_filename (cp, files[i], NULL), *text = NULL;
      gsize len = 0;
      if (g_file_get_contents (from, &text, &len, NULL))
        g_assert_true (g_file_set_contents (to, text, (gssize) len, NULL));
    }
    g_auto (Run) r = { 0 };
    strata (&r, (const char *[]) { "train", data, "--out", llama, "--resume", NULL });
    g_assert_cmpint (r.status, ==, 1);
    g_assert_nonnull (strstr (r.err, "continues GPT-2 models"));
  }
  {
    /* A damaged test file and a mask that also covers the input: the file, line and problem. */
    g_autofree char *bad = g_build_filename (tmp, "bad", NULL), *bad_out = g_build_filename (tmp, "bad-run", NULL);
    g_autoptr (StrataTwohopDataset) again = small_dataset (bad);
    g_autofree char *ood = g_build_filename (bad, "test_inferred_ood.jsonl", NULL);
    g_assert_true (g_file_set_contents (ood, "{\"type\":\"test_inferred_ood\"", -1, NULL));
    g_auto (Run) r = { 0 };
    strata (&r, (const char *[]) { "train", bad, "--out", bad_out, NULL });
    g_assert_cmpint (r.status, ==, 1);
    g_assert_nonnull (strstr (r.err, "test_inferred_ood.jsonl: line 1"));
    const char *line = "{\"type\":\"test_inferred_ood\",\"input_ids\":[1,21,22],\"target_ids_cot\":[1,21,22,3,4,25],"
                       "\"loss_mask_cot\":[1,1,1,1,1,1]}\n";
    g_assert_true (g_file_set_contents (ood, line, -1, NULL));
    g_auto (Run) r2 = { 0 };
    strata (&r2, (const char *[]) { "train", bad, "--out", bad_out, NULL });
    g_assert_cmpint (r2.status, ==, 1);
    g_assert_nonnull (strstr (r2.err, "line 1: the loss mask does not cover exactly the tokens after the input"));
  }
  {
    g_auto (Run) r = { 0 };
    strata (&r, (const char *[]) { "train", data, "--out", out, "--cot", "--no-cot", NULL });
    g_assert_cmpint (r.status, ==, 1);
    g_assert_nonnull (strstr (r.err, "not both"));
  }
  rm_tree (tmp);
}

static void
test_study (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("strata-study-XXXXXX", NULL);
  g_autofree char *out = g_build_filename (tmp, "study", NULL);
  g_auto (Run) r = { 0 };
  strata (&r, (const char *[]) { "study", "twohop", "--out", out, "--entities", "20", "--relations", "5",
                                 "--per-entity", "4", "--steps-cot", "4", "--steps-nocot", "4", "--eval-every", "2",
                                 "--save-every", "2", "--layers", "2", "--width", "16", "--heads", "2", "--batch", "8",
                                 "--noise", "0.1", "--noise-kind", "bridge", "--precision", "bf16", "--no-window",
                                 NULL });
  g_test_message ("%s%s", r.out, r.err);
  g_assert_cmpint (r.status, ==, 0);
  /* The dataset the study trained on records its noise. */
  g_autofree char *info = g_build_filename (out, "data", "dataset.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_file (parser, info, NULL));
  JsonObject *params = json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)), "params");
  g_assert_cmpfloat (json_object_get_double_member (params, "noise"), ==, 0.1);
  g_assert_cmpstr (json_object_get_string_member (params, "noise_kind"), ==, "bridge");
  const char *files[] = { "data/train.jsonl", "cot/checkpoint-4/model.safetensors", "nocot/checkpoint-4/train_info.json",
                          "study.h5", "stage2.h5" };
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autofree char *path = g_build_filename (out, files[i], NULL);
    g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
  }
  g_assert_nonnull (strstr (r.out, "final accuracies"));
  g_assert_nonnull (strstr (r.out, "bridge at r2 (id"));
  g_assert_nonnull (strstr (r.out, "causal strength (id"));
  /* Its analyses ran with the products it asked for, as the session records them. */
  g_autofree char *session = g_build_filename (out, "study.h5", NULL);
  g_auto (Run) si = { 0 };
  strata (&si, (const char *[]) { "session-info", session, NULL });
  g_assert_cmpint (si.status, ==, 0);
  g_assert_nonnull (strstr (si.out, "(bf16 products)"));
  g_auto (Run) again = { 0 };
  strata (&again, (const char *[]) { "study", "twohop", "--out", out, "--no-window", NULL });
  g_assert_cmpint (again.status, ==, 1);
  g_assert_nonnull (strstr (again.err, "already holds a study"));
  g_auto (Run) bad = { 0 };
  g_autofree char *other = g_build_filename (tmp, "other", NULL);
  strata (&bad, (const char *[]) { "study", "twohop", "--out", other, "--noise-kind", "head", "--no-window", NULL });
  g_assert_cmpint (bad.status, ==, 1);
  g_assert_nonnull (strstr (bad.err, "--noise-kind takes tail or bridge, not 'head'"));
  g_assert_false (g_file_test (other, G_FILE_TEST_EXISTS));
  g_auto (Run) bad_precision = { 0 };
  strata (&bad_precision, (const char *[]) { "study", "twohop", "--out", other, "--precision", "fp16", "--no-window", NULL });
  g_assert_cmpint (bad_precision.status, ==, 1);
  g_assert_nonnull (strstr (bad_precision.err, "--precision takes fp32, tf32 or bf16, not 'fp16'"));
  g_assert_false (g_file_test (other, G_FILE_TEST_EXISTS));
  rm_tree (tmp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/train-run/resume", test_resume);
  g_test_add_func ("/train-run/cancel", test_cancel);
  g_test_add_func ("/train-run/by-hand", test_by_hand);
  g_test_add_func ("/train-run/init", test_init);
  g_test_add_func ("/train-run/checkpoints", test_checkpoints);
  g_test_add_func ("/train-run/accuracy", test_accuracy);
  g_test_add_func ("/train-run/cli-errors", test_cli_errors);
  g_test_add_func ("/train-run/study", test_study);
  return g_test_run ();
}
