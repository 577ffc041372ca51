/* test-series: series of checkpoints (probes/strata-series.h).
 *
 *  - discovery: every folder naming the issue lists (checkpoint-N, step-N, stepN, step_N,
 *    global_stepN, trainer_state.json, a Hugging Face download's refs/), step order,
 *    duplicates and empty folders refused by name;
 *  - the series of tests/data/twohop-series equals strata_analysis_run() on each checkpoint
 *    separately (aggregates bit for bit; accuracy equal to the count of rank-0 answers in the
 *    per-prompt lens results, and to the aggregate's top-1 fraction at k = L);
 *  - progress, the per-checkpoint callback, cancelling and continuing, a reader on another
 *    thread while the series fills;
 *  - a checkpoint with another tokenizer stops the run with an error naming it;
 *  - a series saved to a session and opened again is equal, number for number. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "session-sample.h"
#include "strata-data-error.h"
#include "strata-series.h"
#include "strata-session.h"
#include "test-probe-util.h"

/* ---- discovery ---- */

static void
touch (const char *dir, const char *name, const char *contents)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  g_assert_true (g_file_set_contents (path, contents, -1, NULL));
}

static void
mkdir_in (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_assert_cmpint (g_mkdir_with_parents (path, 0755), ==, 0);
}

static void
rm_rf (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK)) {
    g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name (d))) {
      g_autofree char *child = g_build_filename (path, name, NULL);
      rm_rf (child);
    }
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

static void
assert_steps (const StrataTrainingRun *run, const gint64 *steps, const char *const *labels, guint n)
{
  g_assert_cmpuint (run->checkpoints->len, ==, n);
  for (guint i = 0; i < n; i++) {
    const StrataSeriesCheckpoint *cp = run->checkpoints->pdata[i];
    g_assert_cmpint (cp->step, ==, steps[i]);
    g_assert_cmpstr (cp->label, ==, labels[i]);
    g_assert_false (strata_series_checkpoint_is_done (cp));
  }
}

static void
test_discover_names (void)
{
  g_autofree char *dir = g_dir_make_tmp ("strata-series-XXXXXX", NULL);
  mkdir_in (dir, "checkpoint-10");
  mkdir_in (dir, "step-2");
  mkdir_in (dir, "global_step5");
  mkdir_in (dir, "step_7");
  mkdir_in (dir, "step30");
  mkdir_in (dir, "stepwise");   /* no number: not a checkpoint */
  mkdir_in (dir, "runs");       /* TensorBoard logs and the like are skipped */
  touch (dir, "checkpoint-99", "a file, not a folder");
  touch (dir, "final/trainer_state.json", "{\"global_step\": 3, \"epoch\": 1.0}");
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataTrainingRun) run = strata_training_run_discover (dir, &error);
  g_assert_no_error (error);
  g_autofree char *base = g_path_get_basename (dir);
  g_assert_cmpstr (run->name, ==, base);
  const gint64 steps[] = { 2, 3, 5, 7, 10, 30 };
  const char *const labels[] = { "step-2", "final", "global_step5", "step_7", "checkpoint-10", "step30" };
  assert_steps (run, steps, labels, G_N_ELEMENTS (steps));
  g_autofree char *final = g_build_filename (dir, "final", NULL);
  g_assert_cmpstr (((StrataSeriesCheckpoint *) run->checkpoints->pdata[1])->path, ==, final);
  rm_rf (dir);
}

static void
test_discover_refused (void)
{
  g_autofree char *dir = g_dir_make_tmp ("strata-series-XXXXXX", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_null (strata_training_run_discover (dir, &error)); /* empty */
  g_assert_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "no checkpoints found"));
  g_assert_nonnull (strstr (error->message, dir));
  g_clear_error (&error);

  mkdir_in (dir, "checkpoint-5");
  mkdir_in (dir, "global_step5");
  g_assert_null (strata_training_run_discover (dir, &error));
  g_assert_nonnull (strstr (error->message, "two checkpoints of step 5"));
  g_assert_nonnull (strstr (error->message, "checkpoint-5"));
  g_assert_nonnull (strstr (error->message, "global_step5"));
  g_clear_error (&error);

  g_autofree char *gs = g_build_filename (dir, "global_step5", NULL);
  rm_rf (gs);
  touch (dir, "latest/trainer_state.json", "{\"global_step\": \"ten\"}");
  g_assert_null (strata_training_run_discover (dir, &error));
  g_assert_nonnull (strstr (error->message, "trainer_state.json"));
  g_assert_nonnull (strstr (error->message, "global_step"));
  g_clear_error (&error);

  g_autofree char *missing = g_build_filename (dir, "nope", NULL);
  g_assert_null (strata_training_run_discover (missing, &error));
  g_assert_nonnull (strstr (error->message, "not a folder"));
  rm_rf (dir);
}

/* huggingface_hub's cache: refs/<revision> names a snapshot; "main" has no step and two names
 * for one snapshot count once. */
static void
test_discover_hub (void)
{
  g_autofree char *tmp = g_dir_make_tmp ("strata-series-XXXXXX", NULL);
  g_autofree char *dir = g_build_filename (tmp, "models--EleutherAI--pythia-14m", NULL);
  touch (dir, "refs/step1000", "aaaa\n");
  touch (dir, "refs/main", "aaaa");
  touch (dir, "refs/step128", "bbbb");
  touch (dir, "refs/step2000", "cccc"); /* not downloaded: no snapshot */
  mkdir_in (dir, "snapshots/aaaa");
  mkdir_in (dir, "snapshots/bbbb");
  mkdir_in (dir, "blobs");
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataTrainingRun) run = strata_training_run_discover (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (run->name, ==, "EleutherAI/pythia-14m");
  const gint64 steps[] = { 128, 1000 };
  const char *const labels[] = { "step128", "step1000" };
  assert_steps (run, steps, labels, 2);
  g_autofree char *snap = g_build_filename (dir, "snapshots", "aaaa", NULL);
  g_assert_cmpstr (((StrataSeriesCheckpoint *) run->checkpoints->pdata[1])->path, ==, snap);
  rm_rf (tmp);
}

/* ---- running ---- */

static StrataSeries *
test_series (void)
{
  g_autofree char *dir = probe_data_path ("twohop-series/cot");
  g_autoptr (GError) error = NULL;
  StrataTrainingRun *run = strata_training_run_discover (dir, &error);
  g_assert_no_error (error);
  StrataSeries *s = strata_series_new ();
  strata_series_add_run (s, run);
  return s;
}

typedef struct {
  GArray *fractions;     /* double */
  GArray *done;          /* guint: run * 1000 + checkpoint, in callback order */
  GCancellable *cancel_after_first;
} Calls;

static void
progress_cb (double fraction, gpointer data)
{
  Calls *c = data;
  g_array_append_val (c->fractions, fraction);
}

static void
done_cb (StrataSeries *s, guint run, guint checkpoint, gpointer data)
{
  Calls *c = data;
  g_assert_true (strata_series_checkpoint_is_done (((StrataTrainingRun *) s->runs->pdata[run])->checkpoints->pdata[checkpoint]));
  guint v = run * 1000 + checkpoint;
  g_array_append_val (c->done, v);
  if (c->cancel_after_first)
    g_cancellable_cancel (c->cancel_after_first);
}

static void
request (StrataSeriesRequest *req, Calls *calls)
{
  static char *prompts;
  if (!prompts)
    prompts = probe_data_path ("twohop/prompts-trimmed.jsonl");
  strata_series_request_init (req);
  req->prompts_path = prompts;
  req->progress = progress_cb;
  req->progress_data = calls;
  req->checkpoint_done = done_cb;
  req->checkpoint_data = calls;
}

static void
calls_init (Calls *c)
{
  c->fractions = g_array_new (FALSE, FALSE, sizeof (double));
  c->done = g_array_new (FALSE, FALSE, sizeof (guint));
  c->cancel_after_first = NULL;
}

static void
calls_clear (Calls *c)
{
  g_array_unref (c->fractions);
  g_array_unref (c->done);
}

/* The series equals the single-checkpoint pipeline, checkpoint by checkpoint. */
static void
test_run_equals_pipeline (void)
{
  g_autoptr (StrataSeries) s = test_series ();
  Calls calls;
  calls_init (&calls);
  StrataSeriesRequest req;
  request (&req, &calls);
  g_autoptr (GError) error = NULL;
  g_assert_true (strata_series_run (s, &req, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (s->answer_target, ==, "answer");
  g_assert_null (s->answer_position);
  g_assert_cmpuint (s->prompts->prompts->len, ==, 100);

  const StrataTrainingRun *run = s->runs->pdata[0];
  for (guint c = 0; c < run->checkpoints->len; c++) {
    const StrataSeriesCheckpoint *cp = run->checkpoints->pdata[c];
    g_assert_true (strata_series_checkpoint_is_done (cp));
    g_autoptr (StrataModel) m = strata_model_open (cp->path, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (cp->model.weights_sha256, ==, strata_model_get_weights_sha256 (m));
    g_assert_cmpstr (s->tokenizer_sha256, ==, strata_tokenizer_get_sha256 (m->tokenizer));
    StrataEngine *e = probe_engine (m);
    g_autofree char *prompts = probe_data_path ("twohop/prompts-trimmed.jsonl");
    StrataPromptSet *set = strata_prompt_set_load (prompts, m, &error);
    g_assert_no_error (error);
    StrataAnalysisRequest ar;
    strata_analysis_request_init (&ar); /* top-10, as strata lens: aggregates do not depend on it */
    g_autoptr (StrataAnalysis) a = strata_analysis_run (e, m, set, &ar, NULL, &error);
    g_assert_no_error (error);
    strata_engine_free (e);
    sample_lens_aggregates_assert_equal (cp->lens_aggregates, a->lens_aggregates);
    g_assert_null (cp->patch_aggregates);

    /* Accuracy: the answer's rank at k = L, last position, counted here from the per-prompt
     * results; and for the bridge at r2, the aggregate's top-1 fraction at k = L. */
    const char *tags[] = { "all", "id", "ood" };
    const char *targets[] = { "bridge", "answer" };
    for (guint t = 0; t < G_N_ELEMENTS (tags); t++) {
      for (guint g = 0; g < G_N_ELEMENTS (targets); g++) {
        int n = 0, correct = 0;
        for (guint i = 0; i < a->prompts->prompts->len; i++) {
          const StrataPrompt *p = a->prompts->prompts->pdata[i];
          if (t > 0 && !g_strv_contains ((const char *const *) p->tags, tags[t]))
            continue;
          const StrataLensResult *r = a->lens_results->pdata[i];
          const StrataLensTarget *lt = strata_lens_result_get_target (r, targets[g]);
          n++;
          correct += lt->rank[r->n_layers * r->T + r->T - 1] == 0;
        }
        const StrataSeriesAccuracy *acc = strata_series_checkpoint_get_accuracy (cp, tags[t], targets[g]);
        g_assert_nonnull (acc);
        g_assert_cmpint (acc->n, ==, n);
        g_assert_cmpint (acc->correct, ==, correct);
        const StrataLensAggregate *ag = strata_series_checkpoint_get_aggregate (cp, tags[t], targets[g], "r2");
        g_assert_cmpfloat (ag->top1[ag->n_layers] * ag->n_prompts, ==, (double) correct);
      }
    }
  }
  /* What the series shows: the CoT model resolves the bridge at r2 (id) at layer 6 at step
   * 500 and at layer 4 at step 3000 (docs/twohop.md on the full set; the same here). */
  const StrataLensAggregate *a500 =
    strata_series_checkpoint_get_aggregate (run->checkpoints->pdata[0], "id", "bridge", "r2");
  const StrataLensAggregate *a3000 =
    strata_series_checkpoint_get_aggregate (run->checkpoints->pdata[1], "id", "bridge", "r2");
  g_assert_cmpint (a500->resolution_layer, ==, 6);
  g_assert_cmpint (a3000->resolution_layer, ==, 4);
  /* The CoT model answers b at r2 for every test query by step 3000 (train_info.json: b
   * accuracy 1.000), so t is "correct" there exactly where t = b. */
  const StrataSeriesAccuracy *b3000 = strata_series_checkpoint_get_accuracy (run->checkpoints->pdata[1], "all", "bridge");
  g_assert_cmpint (b3000->correct, ==, b3000->n);
  int same = 0;
  for (guint i = 0; i < s->prompts->prompts->len; i++) {
    const StrataPrompt *p = s->prompts->prompts->pdata[i];
    same += g_array_index (p->targets, StrataTarget, 0).id == g_array_index (p->targets, StrataTarget, 1).id;
  }
  g_assert_cmpint (strata_series_checkpoint_get_accuracy (run->checkpoints->pdata[1], "all", "answer")->correct, ==, same);

  /* Progress: non-decreasing, ends at 1; one callback per checkpoint in step order. */
  g_assert_cmpuint (calls.fractions->len, >, 2);
  for (guint i = 1; i < calls.fractions->len; i++)
    g_assert_cmpfloat (g_array_index (calls.fractions, double, i), >=, g_array_index (calls.fractions, double, i - 1));
  g_assert_cmpfloat (g_array_index (calls.fractions, double, calls.fractions->len - 1), ==, 1.0);
  g_assert_cmpuint (calls.done->len, ==, 2);
  g_assert_cmpuint (g_array_index (calls.done, guint, 0), ==, 0);
  g_assert_cmpuint (g_array_index (calls.done, guint, 1), ==, 1);
  calls_clear (&calls);
}

/* Two runs are filled round robin: checkpoint 0 of each, then checkpoint 1. A named answer
 * position is read where the set names it. */
static void
test_run_two_runs (void)
{
  g_autoptr (StrataSeries) s = test_series ();
  g_autofree char *dir = probe_data_path ("twohop-series/cot");
  g_autoptr (GError) error = NULL;
  strata_series_add_run (s, strata_training_run_discover (dir, &error));
  g_assert_no_error (error);
  Calls calls;
  calls_init (&calls);
  StrataSeriesRequest req;
  request (&req, &calls);
  req.answer_target = "bridge";
  req.answer_position = "r1";
  g_assert_true (strata_series_run (s, &req, &error));
  g_assert_no_error (error);
  const guint order[] = { 0, 1000, 1, 1001 };
  g_assert_cmpuint (calls.done->len, ==, 4);
  for (guint i = 0; i < 4; i++)
    g_assert_cmpuint (g_array_index (calls.done, guint, i), ==, order[i]);
  g_assert_cmpstr (s->answer_position, ==, "r1");
  for (guint c = 0; c < 2; c++) {
    const StrataSeriesCheckpoint *cp = ((StrataTrainingRun *) s->runs->pdata[0])->checkpoints->pdata[c];
    const StrataLensAggregate *ag = strata_series_checkpoint_get_aggregate (cp, "ood", "bridge", "r1");
    const StrataSeriesAccuracy *acc = strata_series_checkpoint_get_accuracy (cp, "ood", "bridge");
    g_assert_cmpint (acc->n, ==, 40);
    g_assert_cmpfloat (ag->top1[ag->n_layers] * ag->n_prompts, ==, (double) acc->correct);
  }
  calls_clear (&calls);
}

/* Cancelled after the first checkpoint: it stays done, the second is not; a second call runs
 * only the second and gives the numbers of an uninterrupted run. */
static void
test_run_cancel_continue (void)
{
  g_autoptr (StrataSeries) s = test_series ();
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  Calls calls;
  calls_init (&calls);
  calls.cancel_after_first = cancel;
  StrataSeriesRequest req;
  request (&req, &calls);
  req.cancellable = cancel;
  g_autoptr (GError) error = NULL;
  g_assert_false (strata_series_run (s, &req, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  guint total;
  g_assert_cmpuint (strata_series_count_done (s, &total), ==, 1);
  g_assert_cmpuint (total, ==, 2);

  g_cancellable_reset (cancel);
  calls.cancel_after_first = NULL;
  g_array_set_size (calls.done, 0);
  g_assert_true (strata_series_run (s, &req, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (calls.done->len, ==, 1);
  g_assert_cmpuint (g_array_index (calls.done, guint, 0), ==, 1);

  g_autoptr (StrataSeries) fresh = test_series ();
  req.cancellable = NULL;
  g_assert_true (strata_series_run (fresh, &req, &error));
  const StrataTrainingRun *resumed = s->runs->pdata[0], *once = fresh->runs->pdata[0];
  for (guint c = 0; c < 2; c++) {
    const StrataSeriesCheckpoint *p = resumed->checkpoints->pdata[c], *q = once->checkpoints->pdata[c];
    sample_lens_aggregates_assert_equal (p->lens_aggregates, q->lens_aggregates);
  }
  calls_clear (&calls);
}

/* The window's way: the series runs on a worker thread while the main thread reads every
 * checkpoint that is done. */
typedef struct {
  StrataSeries *s;
  StrataSeriesRequest req;
  gboolean ok;
  int finished;
} Worker;

static gpointer
worker_main (gpointer data)
{
  Worker *w = data;
  w->ok = strata_series_run (w->s, &w->req, NULL);
  g_atomic_int_set (&w->finished, 1);
  return NULL;
}

static void
test_run_threaded_reader (void)
{
  g_autoptr (StrataSeries) s = test_series ();
  Calls calls;
  calls_init (&calls);
  Worker w = { s };
  request (&w.req, &calls);
  w.req.progress = NULL; /* the callbacks append to arrays this thread does not read */
  GThread *t = g_thread_new ("series", worker_main, &w);
  guint reads = 0;
  while (!g_atomic_int_get (&w.finished)) {
    const StrataTrainingRun *run = s->runs->pdata[0];
    for (guint c = 0; c < run->checkpoints->len; c++) {
      const StrataSeriesCheckpoint *cp = run->checkpoints->pdata[c];
      if (!strata_series_checkpoint_is_done (cp))
        continue;
      const StrataLensAggregate *ag = strata_series_checkpoint_get_aggregate (cp, "all", "bridge", "r2");
      g_assert_nonnull (ag);
      g_assert_cmpint (ag->n_prompts, ==, 100);
      g_assert_nonnull (s->prompts);
      reads++;
    }
    g_usleep (1000);
  }
  g_thread_join (t);
  g_assert_true (w.ok);
  g_assert_cmpuint (strata_series_count_done (s, NULL), ==, 2);
  g_test_message ("%u reads of done checkpoints while the series ran", reads);
  calls_clear (&calls);
}

/* A checkpoint whose tokenizer differs from the first one's stops the run, named. */
static void
test_run_tokenizer_mismatch (void)
{
  g_autofree char *dir = g_dir_make_tmp ("strata-series-XXXXXX", NULL);
  g_autofree char *rel = probe_data_path ("twohop/cot-3000");
  g_autofree char *src = g_canonicalize_filename (rel, NULL); /* the links point at it */
  const char *files[] = { "config.json", "model.safetensors", "tokenizer_config.json", "tokenizer.json" };
  for (int step = 1; step <= 2; step++) {
    g_autofree char *name = g_strdup_printf ("checkpoint-%d", step);
    mkdir_in (dir, name);
    for (gsize i = 0; i < G_N_ELEMENTS (files); i++) {
      g_autofree char *from = g_build_filename (src, files[i], NULL);
      g_autofree char *to = g_build_filename (dir, name, files[i], NULL);
      if (step == 2 && strcmp (files[i], "tokenizer.json") == 0) {
        /* The same vocabulary, other bytes: another sha256. */
        g_autofree char *text = NULL;
        gsize len;
        g_assert_true (g_file_get_contents (from, &text, &len, NULL));
        g_autofree char *changed = g_strconcat (text, "\n", NULL);
        g_assert_true (g_file_set_contents (to, changed, -1, NULL));
      } else {
        g_assert_cmpint (symlink (from, to), ==, 0);
      }
    }
  }
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataSeries) s = strata_series_new ();
  strata_series_add_run (s, strata_training_run_discover (dir, &error));
  g_assert_no_error (error);
  Calls calls;
  calls_init (&calls);
  StrataSeriesRequest req;
  request (&req, &calls);
  g_assert_false (strata_series_run (s, &req, &error));
  g_autofree char *second = g_build_filename (dir, "checkpoint-2", NULL);
  g_autofree char *first = g_build_filename (dir, "checkpoint-1", NULL);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, second));
  g_assert_nonnull (strstr (error->message, "tokenizer"));
  g_assert_nonnull (strstr (error->message, first));
  g_assert_cmpuint (strata_series_count_done (s, NULL), ==, 1);
  calls_clear (&calls);
  rm_rf (dir);
}

/* ---- sessions ---- */

/* Saved with one checkpoint done (a cancelled run) and with patching; opened equal. */
static void
test_session_roundtrip (void)
{
  g_autoptr (StrataSeries) s = test_series ();
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  Calls calls;
  calls_init (&calls);
  calls.cancel_after_first = cancel;
  StrataSeriesRequest req;
  request (&req, &calls);
  req.cancellable = cancel;
  StrataPatchSite sites[] = { STRATA_PATCH_RESID_PRE, STRATA_PATCH_MLP_OUT };
  req.patch = TRUE;
  req.patch_options.sites = sites;
  req.patch_options.n_sites = 2;
  req.patch_target = "bridge";
  g_autoptr (GError) error = NULL;
  g_assert_false (strata_series_run (s, &req, &error));
  g_clear_error (&error);

  g_autofree char *dir = g_dir_make_tmp ("strata-series-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "series.h5", NULL);
  g_autoptr (StrataSession) session = strata_session_new ();
  session->series = g_steal_pointer (&s);
  session->view.figure = STRATA_FIGURE_SERIES_PATCH;
  session->view.run = 0;
  session->view.checkpoint = 1;
  session->view.tag = g_strdup ("ood");
  session->view.patch_site = STRATA_PATCH_MLP_OUT;
  g_assert_true (strata_session_save (session, path, &error));
  g_assert_no_error (error);
  g_autoptr (StrataSession) back = strata_session_load (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back->series);
  g_assert_cmpuint (back->analyses->len, ==, 0);
  sample_series_assert_equal (session->series, back->series);
  g_assert_cmpint (back->view.figure, ==, STRATA_FIGURE_SERIES_PATCH);
  g_assert_cmpint (back->view.run, ==, 0);
  g_assert_cmpint (back->view.checkpoint, ==, 1);
  g_assert_cmpstr (back->view.tag, ==, "ood");
  g_assert_cmpint (back->view.patch_site, ==, STRATA_PATCH_MLP_OUT);
  g_assert_cmpuint (strata_series_count_done (back->series, NULL), ==, 1);

  /* Opening a checkpoint on its own (what the window does on a click) recomputes the
   * per-prompt results; their aggregates are the checkpoint's. */
  {
    const StrataSeriesCheckpoint *first = ((StrataTrainingRun *) back->series->runs->pdata[0])->checkpoints->pdata[0];
    g_autoptr (StrataModel) m = strata_model_open (first->path, NULL, &error);
    g_assert_no_error (error);
    StrataEngine *e = probe_engine (m);
    StrataAnalysisRequest ar;
    strata_series_init_analysis_request (back->series, TRUE, &ar);
    g_autoptr (StrataAnalysis) a =
      strata_analysis_run (e, m, strata_prompt_set_copy (back->series->prompts), &ar, NULL, &error);
    g_assert_no_error (error);
    strata_engine_free (e);
    g_assert_cmpuint (a->lens_results->len, ==, back->series->prompts->prompts->len);
    sample_lens_aggregates_assert_equal (first->lens_aggregates, a->lens_aggregates);
    g_assert_cmpuint (a->patch_aggregates->len, ==, first->patch_aggregates->len);
    for (guint i = 0; i < a->patch_aggregates->len; i++) {
      const StrataPatchAggregate *u = a->patch_aggregates->pdata[i], *v = first->patch_aggregates->pdata[i];
      g_assert_cmpint (u->site, ==, v->site);
      g_assert_cmpmem (u->mean_score, u->rows * u->cols * sizeof (double), v->mean_score,
                       v->rows * v->cols * sizeof (double));
    }
  }

  /* The reopened series continues where it stopped, with its own prompt set and settings. */
  g_cancellable_reset (cancel);
  calls.cancel_after_first = NULL;
  g_assert_true (strata_series_run (back->series, &req, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (strata_series_count_done (back->series, NULL), ==, 2);
  const StrataSeriesCheckpoint *cp = ((StrataTrainingRun *) back->series->runs->pdata[0])->checkpoints->pdata[1];
  g_assert_nonnull (strata_series_checkpoint_get_patch (cp, "id", STRATA_PATCH_MLP_OUT));
  g_assert_null (strata_series_checkpoint_get_patch (cp, "id", STRATA_PATCH_ATTN_OUT));
  calls_clear (&calls);
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/series/discover/names", test_discover_names);
  g_test_add_func ("/series/discover/refused", test_discover_refused);
  g_test_add_func ("/series/discover/hub", test_discover_hub);
  g_test_add_func ("/series/run/equals-pipeline", test_run_equals_pipeline);
  g_test_add_func ("/series/run/two-runs", test_run_two_runs);
  g_test_add_func ("/series/run/cancel-continue", test_run_cancel_continue);
  g_test_add_func ("/series/run/threaded-reader", test_run_threaded_reader);
  g_test_add_func ("/series/run/tokenizer-mismatch", test_run_tokenizer_mismatch);
  g_test_add_func ("/series/session/roundtrip", test_session_roundtrip);
  return g_test_run ();
}
