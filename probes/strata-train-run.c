/* strata-train-run.c: the training loop of strata-train-run.h: model initialisation, the
 * data stream, evaluations, checkpoints and resuming. */
#include "strata-train-run.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <glib/gstdio.h>

#include "strata-hf-write.h"
#include "strata-model.h"
#include "strata-rng.h"
#include "strata-train-run-private.h"

#define STATE_FILE "optimizer_state.bin"
#define STATE_MAGIC "STRATA-ADAMW-v1"   /* 16 bytes with its NUL */

static const char *const eval_names[STRATA_TRAIN_EVAL_N] = {
  "id_atomic", "ood_atomic", "train_inferred", "test_inferred_id", "test_inferred_ood",
};

const char *
strata_train_eval_set_name (StrataTrainEvalSet set)
{
  return set < STRATA_TRAIN_EVAL_N ? eval_names[set] : "?";
}

void
strata_train_run_options_init (StrataTrainRunOptions *o)
{
  *o = (StrataTrainRunOptions) {
    .cot = TRUE, .n_layers = 6, .d_model = 128, .n_heads = 4, .steps = 3000, .batch = 512,
    .adamw = { .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.1,
               .max_grad_norm = 1.0, .warmup_steps = 300, .schedule = STRATA_LR_CONSTANT },
    .eval_every = 500, .save_every = 500, .eval_sample = 1000, .seed = 42,
  };
}

/* What a run holds while it trains. */
typedef struct {
  const StrataTrainRunOptions *o;
  const char *dataset, *out;
  const char *fmt;
  int vocab;
  int32_t end_id, pad_id;
  TrainItems *train, *eval[STRATA_TRAIN_EVAL_N];
  StrataModel *model;      /* a resumed checkpoint (owns the weights) */
  StrataWeights *weights;  /* a new model */
  StrataEngine *engine;
  StrataTrainer *trainer;
  gint64 items_seen;       /* position in the data stream */
  gint64 perm_epoch;       /* the epoch `perm` shuffles; -1 none yet */
  guint32 *perm;
  GString *log;            /* train_log.jsonl as written so far */
  StrataTrainEval last;    /* the latest evaluation */
  double t0, seconds_before; /* monotonic start (s); training seconds of the run it resumed */
} Run;

static void
run_clear (Run *r)
{
  _strata_train_items_free (r->train);
  for (int i = 0; i < STRATA_TRAIN_EVAL_N; i++)
    _strata_train_items_free (r->eval[i]);
  strata_trainer_free (r->trainer);
  strata_engine_free (r->engine);
  strata_model_free (r->model);
  strata_weights_free (r->weights);
  g_free (r->perm);
  if (r->log)
    g_string_free (r->log, TRUE);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

static gboolean
io_error (GError **error, const char *path, const char *what, int err)
{
  g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: %s: %s", path, what, g_strerror (err));
  return FALSE;
}

static gboolean
write_file (const char *path, const void *data, gsize len, GError **error)
{
  g_autoptr (GError) local = NULL;
  if (g_file_set_contents_full (path, data, (gssize) len, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &local))
    return TRUE;
  g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: %s", path, local->message);
  return FALSE;
}

/* An engine or trainer that could not be made: the engine's message when there is one. */
static gboolean
setup_failed (Run *r, StrataStatus st, const char *what, GError **error)
{
  if (r->engine)
    return _strata_probe_pass_failed (r->engine, st, what, error);
  g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED, "%s: %s", what, strata_status_to_string (st));
  return FALSE;
}

static gboolean
start_trainer (Run *r, const StrataWeights *w, const char *what, GError **error)
{
  StrataStatus st = STRATA_OK;
  if (!(r->engine = strata_engine_new (r->o->backend ? r->o->backend : strata_backend_cpu (), w, &st)) ||
      !(r->trainer = strata_trainer_new (r->engine, &st)))
    return setup_failed (r, st, what, error);
  return TRUE;
}

/* ---- the dataset ---- */

/* vocab.json: its size and the ids of </a> and <pad>. */
static gboolean
read_vocab (Run *r, GError **error)
{
  g_autofree char *path = g_build_filename (r->dataset, "vocab.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  if (!json_parser_load_from_mapped_file (parser, path, &local)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO,
                 "%s: %s (is %s a folder written by `strata dataset twohop`?)", path, local->message, r->dataset);
    return FALSE;
  }
  JsonNode *root = json_parser_get_root (parser);
  JsonObject *v = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  JsonNode *end = v ? json_object_get_member (v, "</a>") : NULL, *pad = v ? json_object_get_member (v, "<pad>") : NULL;
  r->vocab = v ? (int) json_object_get_size (v) : 0;
  if (!end || !pad || json_node_get_value_type (end) != G_TYPE_INT64 || json_node_get_value_type (pad) != G_TYPE_INT64 ||
      json_node_get_int (end) < 0 || json_node_get_int (end) >= r->vocab || json_node_get_int (pad) < 0 ||
      json_node_get_int (pad) >= r->vocab) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: not a two-hop vocabulary (an object of token ids with </a> and <pad>)", path);
    return FALSE;
  }
  r->end_id = (int32_t) json_node_get_int (end);
  r->pad_id = (int32_t) json_node_get_int (pad);
  return TRUE;
}

static TrainItems *
load_items (Run *r, const char *name, GError **error)
{
  g_autofree char *path = g_build_filename (r->dataset, name, NULL);
  return _strata_train_items_load (path, r->fmt, r->vocab, r->pad_id, error);
}

static gboolean
load_dataset (Run *r, GError **error)
{
  g_autoptr (TrainItems) test_id = NULL, test_ood = NULL;
  if (!read_vocab (r, error) || !(r->train = load_items (r, "train.jsonl", error)) ||
      !(test_id = load_items (r, "test_inferred_id.jsonl", error)) ||
      !(test_ood = load_items (r, "test_inferred_ood.jsonl", error)))
    return FALSE;
  int k = r->o->eval_sample;
  r->eval[STRATA_TRAIN_EVAL_ID_ATOMIC] = _strata_train_items_select (r->train, ITEM_ATOMIC_ID, k);
  r->eval[STRATA_TRAIN_EVAL_OOD_ATOMIC] = _strata_train_items_select (r->train, ITEM_ATOMIC_OOD, -1);
  r->eval[STRATA_TRAIN_EVAL_TRAIN_INFERRED] = _strata_train_items_select (r->train, ITEM_TRAIN_INFERRED, k);
  r->eval[STRATA_TRAIN_EVAL_TEST_ID] = g_steal_pointer (&test_id);
  r->eval[STRATA_TRAIN_EVAL_TEST_OOD] = g_steal_pointer (&test_ood);
  return TRUE;
}

/* ---- a new model ---- */

/* Box-Muller: one standard normal from two uniforms of the stream (1 - u keeps log finite). */
static double
rng_normal (StrataRng *rng)
{
  double u1 = strata_rng_uniform (rng), u2 = strata_rng_uniform (rng);
  return sqrt (-2.0 * log (1.0 - u1)) * cos (2.0 * G_PI * u2);
}

typedef struct {
  StrataRng rng;
  int n_layers;
} InitState;

static int
init_tensor_cb (StrataWeightTensor *t, void *user)
{
  InitState *s = user;
  size_t n = t->rows * t->cols;
  float *x = t->matrix ? t->mat->data : *t->vec;
  const char *field = t->layer >= 0 ? strrchr (t->name, '.') + 1 : t->name;
  if (!t->matrix) {
    /* LayerNorm gains 1, every bias and LayerNorm bias 0 (the arena is zeroed). */
    gboolean gain = g_str_has_suffix (field, "_w");
    for (size_t i = 0; gain && i < n; i++)
      x[i] = 1.0f;
    return 0;
  }
  /* GPT-2's residual projections (attn.c_proj, mlp.c_proj) are scaled by 1/sqrt(2 L). */
  gboolean residual = strcmp (field, "w_o") == 0 || strcmp (field, "w_down") == 0;
  double std = 0.02 / (residual ? sqrt (2.0 * s->n_layers) : 1.0);
  for (size_t i = 0; i < n; i++)
    x[i] = (float) (std * rng_normal (&s->rng));
  return 0;
}

StrataWeights *
strata_train_new_gpt2 (const StrataTrainRunOptions *o, int vocab, int n_ctx, GError **error)
{
  StrataConfig cfg = { 0 };
  cfg.n_layers = o->n_layers;
  cfg.d_model = o->d_model;
  cfg.n_heads = cfg.n_kv_heads = o->n_heads;
  cfg.d_head = o->n_heads > 0 ? o->d_model / o->n_heads : 0;
  cfg.d_mlp = 4 * o->d_model;
  cfg.vocab = vocab;
  cfg.n_ctx = n_ctx;
  strata_config_set_family (&cfg, STRATA_FAMILY_GPT2);
  const char *bad = o->n_heads > 0 && o->d_model % o->n_heads != 0 ? "the width must be a multiple of the heads"
                                                                   : strata_config_check (&cfg);
  StrataWeights *w = bad ? NULL : strata_weights_new (&cfg, STRATA_DTYPE_F32);
  if (!w) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED, "a GPT-2 of %d layers, width %d, %d heads: %s",
                 o->n_layers, o->d_model, o->n_heads, bad ? bad : "out of memory");
    return NULL;
  }
  InitState s = { .n_layers = o->n_layers };
  strata_rng_seed (&s.rng, o->seed);
  strata_weights_visit (w, init_tensor_cb, &s);
  return w;
}

/* ---- checkpoints on disk ---- */

/* The step of a folder named checkpoint-N, else -1. */
static gint64
checkpoint_step (const char *name)
{
  if (!g_str_has_prefix (name, "checkpoint-") || !g_ascii_isdigit (name[11]))
    return -1;
  char *end = NULL;
  gint64 step = g_ascii_strtoll (name + 11, &end, 10);
  return *end == '\0' ? step : -1;
}

/* The highest step of out's checkpoint folders (-1: none); *has_log whether a log exists. */
static gint64
latest_checkpoint (const char *out, gboolean *has_log)
{
  g_autofree char *log = g_build_filename (out, "train_log.jsonl", NULL);
  *has_log = g_file_test (log, G_FILE_TEST_EXISTS);
  g_autoptr (GDir) dir = g_dir_open (out, 0, NULL);
  gint64 best = -1;
  for (const char *name; dir && (name = g_dir_read_name (dir));)
    best = MAX (best, checkpoint_step (name));
  return best;
}

typedef struct {
  char magic[16];
  gint64 step, items_seen, n_floats;
  guint64 seed;
  double seconds;
} StateHeader;

static GBytes *
state_bytes (Run *r, GError **error)
{
  size_t n = strata_trainer_state_floats (r->trainer);
  StateHeader h = { .step = strata_trainer_get_step (r->trainer), .items_seen = r->items_seen,
                    .n_floats = (gint64) n, .seed = r->o->seed,
                    .seconds = r->seconds_before + g_get_monotonic_time () / 1e6 - r->t0 };
  memcpy (h.magic, STATE_MAGIC, sizeof h.magic);
  gsize bytes = sizeof h + 2 * n * sizeof (float);
  guint8 *buf = g_malloc (bytes);
  memcpy (buf, &h, sizeof h);
  float *m = (float *) (buf + sizeof h);
  StrataStatus st = strata_trainer_get_state (r->trainer, m, m + n);
  if (st != STRATA_OK) {
    g_free (buf);
    _strata_probe_pass_failed (r->engine, st, "saving the optimizer state", error);
    return NULL;
  }
  return g_bytes_new_take (buf, bytes);
}

static gboolean
copy_file (const char *from_dir, const char *to_dir, const char *name, GError **error)
{
  g_autofree char *from = g_build_filename (from_dir, name, NULL), *to = g_build_filename (to_dir, name, NULL);
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (from, &data, &len, &local)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: %s", from, local->message);
    return FALSE;
  }
  return write_file (to, data, len, error);
}

static void
add_accuracy (JsonBuilder *b, const StrataTrainEval *ev)
{
  json_builder_begin_object (b);
  for (int i = 0; i < STRATA_TRAIN_EVAL_N; i++) {
    json_builder_set_member_name (b, eval_names[i]);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "exact");
    json_builder_add_double_value (b, ev->exact[i]);
    if (ev->t[i] >= 0) {
      json_builder_set_member_name (b, "t");
      json_builder_add_double_value (b, ev->t[i]);
    }
    if (ev->b[i] >= 0) {
      json_builder_set_member_name (b, "b");
      json_builder_add_double_value (b, ev->b[i]);
    }
    json_builder_end_object (b);
  }
  json_builder_end_object (b);
}

static char *
json_text (JsonBuilder *b, gboolean pretty)
{
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_pretty (gen, pretty);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

static char *
train_info_json (Run *r, int step)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "step");
  json_builder_add_int_value (b, step);
  json_builder_set_member_name (b, "fmt");
  json_builder_add_string_value (b, r->fmt);
  json_builder_set_member_name (b, "accuracy");
  add_accuracy (b, &r->last);
  json_builder_set_member_name (b, "train_seconds");
  json_builder_add_double_value (b, r->seconds_before + g_get_monotonic_time () / 1e6 - r->t0);
  json_builder_end_object (b);
  return json_text (b, TRUE);
}

/* Remove a folder this module wrote (plain files only). */
static void
remove_folder (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  for (const char *name; dir && (name = g_dir_read_name (dir));) {
    g_autofree char *file = g_build_filename (path, name, NULL);
    g_unlink (file);
  }
  g_rmdir (path);
}

static gboolean
save_checkpoint (Run *r, int step, GError **error)
{
  g_autofree char *name = g_strdup_printf ("checkpoint-%d", step);
  g_autofree char *hidden = g_strdup_printf (".%s.partial", name);
  g_autofree char *final = g_build_filename (r->out, name, NULL), *tmp = g_build_filename (r->out, hidden, NULL);
  remove_folder (tmp); /* a left-over of a killed run */
  const StrataWeights *w = r->model ? r->model->weights : r->weights;
  g_autofree char *info = train_info_json (r, step), *info_path = g_build_filename (tmp, "train_info.json", NULL);
  g_autofree char *state_path = g_build_filename (tmp, STATE_FILE, NULL);
  g_autoptr (GBytes) state = NULL;
  gboolean ok = strata_hf_write_gpt2 (w, tmp, r->end_id, r->end_id, error) &&
                copy_file (r->dataset, tmp, "tokenizer.json", error) &&
                copy_file (r->dataset, tmp, "tokenizer_config.json", error) &&
                write_file (info_path, info, strlen (info), error) && (state = state_bytes (r, error)) != NULL &&
                write_file (state_path, g_bytes_get_data (state, NULL), g_bytes_get_size (state), error);
  if (ok && g_rename (tmp, final) != 0)
    ok = io_error (error, final, "cannot rename the finished checkpoint into place", errno);
  if (!ok)
    remove_folder (tmp);
  return ok;
}

/* Continue from the latest checkpoint: weights, optimizer state, data position, and the log
 * up to that step. */
static gboolean
resume (Run *r, gint64 step, GError **error)
{
  g_autofree char *name = g_strdup_printf ("checkpoint-%" G_GINT64_FORMAT, step);
  g_autofree char *dir = g_build_filename (r->out, name, NULL), *state_path = g_build_filename (dir, STATE_FILE, NULL);
  if (!(r->model = strata_model_open (dir, NULL, error)))
    return FALSE;
  const StrataConfig *cfg = &r->model->weights->cfg;
  if (cfg->family != STRATA_FAMILY_GPT2 || cfg->vocab != r->vocab || cfg->n_ctx < r->train->T) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                 "%s: the trainer continues GPT-2 models of this dataset (vocabulary %d, at least %d positions); "
                 "this is a %s with vocabulary %d and %d positions", dir, r->vocab, r->train->T,
                 strata_family_label (cfg->family), cfg->vocab, cfg->n_ctx);
    return FALSE;
  }
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (state_path, &data, &len, &local)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: %s (a checkpoint without its optimizer state "
                 "cannot be resumed)", state_path, local->message);
    return FALSE;
  }
  StateHeader h;
  if (!start_trainer (r, r->model->weights, dir, error))
    return FALSE;
  size_t n = strata_trainer_state_floats (r->trainer);
  if (len < sizeof h || (memcpy (&h, data, sizeof h), memcmp (h.magic, STATE_MAGIC, sizeof h.magic) != 0) ||
      h.n_floats != (gint64) n || len != sizeof h + 2 * n * sizeof (float) || h.step != step || h.items_seen < 0) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: not the optimizer state of this checkpoint (wrong magic, size or step)", state_path);
    return FALSE;
  }
  const float *m = (const float *) (data + sizeof h);
  StrataStatus st = strata_trainer_set_state (r->trainer, m, m + n, (int) h.step);
  if (st != STRATA_OK)
    return _strata_probe_pass_failed (r->engine, st, state_path, error);
  r->items_seen = h.items_seen;
  r->seconds_before = h.seconds;
  /* The log keeps the evaluations up to the resumed step. */
  g_autofree char *log_path = g_build_filename (r->out, "train_log.jsonl", NULL), *log = NULL;
  if (g_file_get_contents (log_path, &log, NULL, NULL)) {
    g_auto (GStrv) lines = g_strsplit (log, "\n", -1);
    for (int i = 0; lines[i]; i++) {
      const char *p = strstr (lines[i], "\"step\":");
      if (p && g_ascii_strtoll (p + 7, NULL, 10) <= step)
        g_string_append_printf (r->log, "%s\n", lines[i]);
    }
  }
  return TRUE;
}

/* ---- the loop ---- */

/* Item g of the endless stream (see the header). */
static guint32
stream_item (Run *r, gint64 g)
{
  guint32 N = (guint32) r->train->n;
  gint64 epoch = g / N;
  if (epoch != r->perm_epoch) {
    StrataRng rng;
    strata_rng_seed (&rng, r->o->seed ^ ((guint64) (epoch + 1) * G_GUINT64_CONSTANT (0x9e3779b97f4a7c15)));
    for (guint32 i = 0; i < N; i++)
      r->perm[i] = i;
    for (guint32 i = N - 1; i > 0; i--) {
      guint32 j = (guint32) strata_rng_below (&rng, (guint64) i + 1), t = r->perm[i];
      r->perm[i] = r->perm[j];
      r->perm[j] = t;
    }
    r->perm_epoch = epoch;
  }
  return r->perm[g % N];
}

/* The next batch: tokens (B, T) and targets (B, T), target t the token at t + 1 where the
 * mask counts it, else -1. */
static void
next_batch (Run *r, int B, int32_t *tokens, int32_t *targets)
{
  int T = r->train->T;
  for (int b = 0; b < B; b++) {
    guint32 k = stream_item (r, r->items_seen++);
    const int32_t *ids = r->train->ids + (gsize) k * T;
    const guint8 *mask = r->train->mask + (gsize) k * T;
    for (int t = 0; t < T; t++) {
      tokens[b * T + t] = ids[t];
      targets[b * T + t] = t + 1 < T && mask[t + 1] ? ids[t + 1] : -1;
    }
  }
}

static gboolean
evaluate (Run *r, int step, double loss, GError **error)
{
  StrataTrainEval *ev = &r->last;
  ev->step = step;
  ev->loss = loss;
  for (int i = 0; i < STRATA_TRAIN_EVAL_N; i++) {
    ev->n[i] = r->eval[i]->n;
    if (!_strata_train_items_score (r->engine, r->eval[i], &ev->exact[i], &ev->t[i], &ev->b[i], error))
      return FALSE;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "step");
  json_builder_add_int_value (b, step);
  json_builder_set_member_name (b, "loss");
  json_builder_add_double_value (b, loss);
  json_builder_set_member_name (b, "lr");
  StrataAdamW adamw = r->o->adamw;
  adamw.total_steps = r->o->steps;
  json_builder_add_double_value (b, strata_adamw_lr (&adamw, step - 1));
  json_builder_set_member_name (b, "elapsed_s");
  json_builder_add_double_value (b, r->seconds_before + g_get_monotonic_time () / 1e6 - r->t0);
  json_builder_set_member_name (b, "acc");
  add_accuracy (b, ev);
  json_builder_end_object (b);
  g_autofree char *line = json_text (b, FALSE);
  g_string_append_printf (r->log, "%s\n", line);
  g_autofree char *path = g_build_filename (r->out, "train_log.jsonl", NULL);
  return write_file (path, r->log->str, r->log->len, error);
}

static gboolean
due (int step, int every, int last)
{
  return step == last || (every > 0 && step % every == 0);
}

static gboolean
check_options (const StrataTrainRunOptions *o, GError **error)
{
  const char *bad = o->steps < 1 ? "steps must be at least 1"
                  : o->batch < 1 ? "the batch must be at least 1"
                  : o->eval_every < 0 || o->save_every < 0 ? "eval and save intervals must be 0 or more"
                  : o->eval_sample < 0 ? "the eval sample must be 0 or more"
                  : !(o->adamw.lr > 0) ? "the learning rate must be above 0"
                  : o->adamw.warmup_steps < 0 ? "warmup must be 0 steps or more" : NULL;
  if (bad)
    g_set_error_literal (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED, bad);
  return bad == NULL;
}

gboolean
strata_train_run (const char *dataset_dir, const char *out_dir, const StrataTrainRunOptions *o, GError **error)
{
  g_auto (Run) r = { .o = o, .dataset = dataset_dir, .out = out_dir, .fmt = o->cot ? "cot" : "nocot",
                     .perm_epoch = -1, .log = g_string_new (NULL), .t0 = g_get_monotonic_time () / 1e6 };
  if (!check_options (o, error) || !load_dataset (&r, error))
    return FALSE;
  if (g_mkdir_with_parents (out_dir, 0755) != 0)
    return io_error (error, out_dir, "cannot create the folder", errno);
  gboolean has_log;
  gint64 latest = latest_checkpoint (out_dir, &has_log);
  if (o->resume && latest < 0) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: no checkpoint-N folder to resume from", out_dir);
    return FALSE;
  }
  if (!o->resume && (latest >= 0 || has_log)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO,
                 "%s: already holds a training run (resume it, or train into another folder)", out_dir);
    return FALSE;
  }
  r.perm = g_new (guint32, r.train->n);
  if (o->resume ? !resume (&r, latest, error) : !(r.weights = strata_train_new_gpt2 (o, r.vocab, r.train->T, error)) || !start_trainer (&r, r.weights, "the trainer", error))
    return FALSE;
  StrataStatus st;
  StrataAdamW adamw = o->adamw;
  adamw.total_steps = o->steps;
  int B = o->batch, T = r.train->T;
  g_autofree int32_t *tokens = g_new (int32_t, (gsize) B * T), *targets = g_new (int32_t, (gsize) B * T);
  double loss_sum = 0;
  int loss_n = 0;
  for (int step = strata_trainer_get_step (r.trainer) + 1; step <= o->steps; step++) {
    if (g_cancellable_set_error_if_cancelled (o->cancellable, error))
      return FALSE;
    next_batch (&r, B, tokens, targets);
    double loss = 0;
    if ((st = strata_trainer_zero_grads (r.trainer)) != STRATA_OK ||
        (st = strata_trainer_loss_grad (r.trainer, tokens, targets, B, T, 1.0f, NULL, 0, &loss)) != STRATA_OK ||
        (st = strata_trainer_step (r.trainer, &adamw, NULL)) != STRATA_OK) {
      g_autofree char *what = g_strdup_printf ("training step %d", step);
      return _strata_probe_pass_failed (r.engine, st, what, error);
    }
    loss_sum += loss, loss_n++;
    gboolean eval = due (step, o->eval_every, o->steps), save = due (step, o->save_every, o->steps);
    if ((eval || save) && !evaluate (&r, step, loss_sum / loss_n, error))
      return FALSE;
    if (eval || save)
      loss_sum = 0, loss_n = 0;
    if (save && !save_checkpoint (&r, step, error))
      return FALSE;
    if (o->progress)
      o->progress (step, o->steps, loss, eval || save ? &r.last : NULL, o->progress_data);
  }
  return TRUE;
}
