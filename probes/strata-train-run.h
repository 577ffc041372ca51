/* strata-train-run.h: training a GPT-2 from scratch on a two-hop dataset folder (as
 * `strata dataset twohop` writes it, strata-twohop-dataset.h), with the accuracies of the
 * fixture's README logged as it goes and checkpoints a series opens as they are.
 *
 * The model: GPT-2 with the given layers, width and heads, positions as long as the longest
 * training sequence, the dataset's vocabulary; initialised as Hugging Face's GPT2 init does
 * (every matrix and embedding normal(0, 0.02), the residual projections attn.c_proj and
 * mlp.c_proj normal(0, 0.02 / sqrt(2 L)), biases 0, LayerNorm gains 1), the normals drawn
 * by Box-Muller from the seeded stream of strata-rng.h in the weights' table order.
 *
 * Data: train.jsonl, CoT or non-CoT targets and their loss masks (the loss covers the tokens
 * after the input). The items form one endless stream: item g of the stream is item
 * perm_e[g mod N] of the file, e = g / N, each epoch's permutation a Fisher-Yates shuffle
 * seeded from (seed, e). A batch is the next `batch` items of the stream, so a run resumed at
 * any step reads exactly the items an uninterrupted run would.
 *
 * Every eval_every steps (and at the last): greedy decoding, scored as an exact match of the
 * whole continuation including </a>, on ID atomic facts (the first eval_sample atomic_id
 * items of train.jsonl), OOD atomic facts (all atomic_ood), train two-hop (the first
 * eval_sample train_inferred), test_inferred_id.jsonl and test_inferred_ood.jsonl; for
 * two-hop items also the answer token alone (t) and, with CoT, the bridge alone (b). One line
 * per eval goes to OUT/train_log.jsonl.
 *
 * Every save_every steps (and at the last): OUT/checkpoint-STEP/ with config.json,
 * model.safetensors (strata-hf-write.h), tokenizer.json and tokenizer_config.json from the
 * dataset, train_info.json (step, format, accuracies at the last eval, seconds) and
 * optimizer_state.bin (AdamW moments, step, items read, seed: what resuming needs). The
 * folder is written under a hidden name and renamed when whole.
 *
 * Resuming (resume TRUE) continues from the checkpoint of OUT with the highest step: its
 * weights, moments and data position; with the same options the run then takes exactly the
 * steps, losses and weights of an uninterrupted one (tested). */
#pragma once

#include <gio/gio.h>

#include "strata-backend.h"
#include "strata-train.h"

G_BEGIN_DECLS

/* The evaluation sets, in train_log.jsonl's order. */
typedef enum {
  STRATA_TRAIN_EVAL_ID_ATOMIC,
  STRATA_TRAIN_EVAL_OOD_ATOMIC,
  STRATA_TRAIN_EVAL_TRAIN_INFERRED,
  STRATA_TRAIN_EVAL_TEST_ID,
  STRATA_TRAIN_EVAL_TEST_OOD,
  STRATA_TRAIN_EVAL_N
} StrataTrainEvalSet;

/* "id_atomic", "ood_atomic", "train_inferred", "test_inferred_id", "test_inferred_ood" */
const char *strata_train_eval_set_name (StrataTrainEvalSet set);

/* Accuracies of one evaluation; t and b are -1 where they do not apply. */
typedef struct {
  int step;
  double loss; /* mean training loss of the steps since the previous evaluation */
  double exact[STRATA_TRAIN_EVAL_N], t[STRATA_TRAIN_EVAL_N], b[STRATA_TRAIN_EVAL_N];
  int n[STRATA_TRAIN_EVAL_N]; /* items scored */
} StrataTrainEval;

/* After every step with its loss; with `eval` set right after an evaluation. */
typedef void (*StrataTrainProgressFunc) (int step, int total, double loss, const StrataTrainEval *eval,
                                         gpointer data);

typedef struct {
  gboolean cot;            /* CoT targets (else non-CoT) */
  int n_layers, d_model, n_heads; /* a new model's shape (a resumed run keeps its own) */
  int steps;               /* optimizer steps in all (a resumed run stops there too) */
  int batch;
  StrataAdamW adamw;       /* total_steps is set to `steps` */
  int eval_every, save_every; /* 0: only at the last step */
  int eval_sample;         /* ID atomic and train two-hop items scored */
  guint64 seed;            /* initialisation and data order */
  gboolean resume;
  const StrataBackend *backend; /* one with the training operations (NULL: the CPU) */
  StrataTrainProgressFunc progress;
  gpointer progress_data;
  GCancellable *cancellable; /* checked between steps and evaluations */
} StrataTrainRunOptions;

/* The fixture's model and optimizer (README of ../shared/fixtures/twohop): 6 layers, 128
 * wide, 4 heads, batch 512, AdamW lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.1,
 * 300 warmup steps then constant, clipping at 1; 3000 steps, CoT, eval and save every 500,
 * eval_sample 1000, seed 42. */
void strata_train_run_options_init (StrataTrainRunOptions *o);

/* A new GPT-2 of the options' shape and seed, initialised as described above: vocab tokens,
 * n_ctx positions, F32. NULL with an error naming the shape when it cannot run. */
StrataWeights *strata_train_new_gpt2 (const StrataTrainRunOptions *o, int vocab, int n_ctx, GError **error);

/* Train on `dataset_dir` into `out_dir` (created when missing). Errors name the file and the
 * problem: a missing or malformed dataset file, an out folder that already holds a run (when
 * not resuming) or no checkpoint with an optimizer state (when resuming), a resumed
 * checkpoint that is not a GPT-2 of this vocabulary, a failed write. A cancelled run fails
 * with G_IO_ERROR_CANCELLED; the checkpoints written so far stay. */
gboolean strata_train_run (const char *dataset_dir, const char *out_dir, const StrataTrainRunOptions *o,
                           GError **error);

G_END_DECLS
