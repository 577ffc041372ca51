/* strata-series.h: training dynamics, a series of checkpoints of one or two training runs
 * (e.g. CoT vs non-CoT) read over one prompt set.
 *
 * A training run is a folder of checkpoints (strata_training_run_discover): subfolders named
 * `checkpoint-N`, `step-N`, `stepN`, `step_N`, `global_stepN`, the `refs/` revisions of a
 * Hugging Face hub download (`models--org--name/refs/step1000` -> `snapshots/<hash>/`), or
 * any subfolder whose `trainer_state.json` gives `global_step`; ordered by step.
 *
 * strata_series_run() streams the checkpoints one at a time (open, run the analysis pipeline,
 * keep its aggregates, free the model) and fills each StrataSeriesCheckpoint in place. Per
 * checkpoint it keeps only what the series figures draw: the lens aggregates (MRR, mean
 * probability, top-1 fraction and resolution layer per tag, target and read position, as
 * StrataLensAggregate), the final-layer accuracy of every target at the answer position per
 * tag, and optionally the patching aggregates per tag and site. The per-prompt lens grids are
 * dropped: a checkpoint opened on its own recomputes them (strata_analysis_run on
 * StrataSeriesCheckpoint.path with StrataSeries.prompts).
 *
 * Threads: strata_series_run() may run on a worker thread while another thread reads the
 * same StrataSeries. The reader may look at the runs, the checkpoints' path, label and step
 * (fixed before the run starts) and, once strata_series_checkpoint_is_done() returns TRUE for
 * a checkpoint, at everything that checkpoint holds and at the series' settings and prompts
 * (set before the first checkpoint is marked done). Nothing else is written while it runs. */
#pragma once

#include <gio/gio.h>

#include "strata-analysis-run.h"

G_BEGIN_DECLS

/* Final-layer accuracy of one target at the answer position, over the prompts of one tag:
 * `correct` of `n` prompts have the target as the lens' top-1 at k = L (rank 0, the model's
 * own prediction). */
typedef struct {
  char *tag;
  char *target;
  int n, correct;
} StrataSeriesAccuracy;

typedef struct {
  /* Fixed by discovery. */
  char *path;                 /* the checkpoint folder (or file) strata_model_open reads */
  char *label;                /* "checkpoint-500", "step1000" (the folder or revision name) */
  gint64 step;                /* training step */

  /* Filled by strata_series_run(); read them only once the checkpoint is done. */
  int done;                   /* atomic: use strata_series_checkpoint_is_done() */
  StrataModelRef model;       /* identity: sha256 of weights and tokenizer, config */
  GPtrArray *lens_aggregates; /* StrataLensAggregate *, as strata_lens_aggregate() orders them */
  GPtrArray *accuracy;        /* StrataSeriesAccuracy *, by tag ("all" first) then target */
  GPtrArray *patch_aggregates;/* StrataPatchAggregate * per tag and site; NULL without patching */
} StrataSeriesCheckpoint;

/* One training run: its checkpoints in step order. */
typedef struct {
  char *name;                 /* the folder's name ("cot"), shown as the panel title */
  char *path;                 /* the folder as given */
  GPtrArray *checkpoints;     /* StrataSeriesCheckpoint * */
} StrataTrainingRun;

typedef struct {
  GPtrArray *runs;            /* StrataTrainingRun * (one, or two side by side) */

  /* Set by strata_series_run() before the first checkpoint is done. */
  StrataPromptSet *prompts;   /* tokenized once, by the first checkpoint opened */
  char *tokenizer_sha256;     /* every checkpoint's tokenizer has this sha256 ("" none) */
  gboolean raw;               /* the lens without the final norm */
  double threshold;           /* of the threshold resolution variant (aggregates do not use it) */
  char *answer_target;        /* the target the accuracy figure shows */
  char *answer_position;      /* named position the accuracy reads; NULL: each prompt's last */
  /* Patching (has_patch): the sites patched, in order, and how. */
  gboolean has_patch;
  GArray *patch_sites;        /* StrataPatchSite */
  StrataPatchDirection patch_direction;
  StrataPatchMetric patch_metric;
  int patch_head_pos;         /* position of the head_at site; -1: the last */
  char *patch_target;         /* target name patched; NULL: each prompt's first target */
} StrataSeries;

/* Called on the thread that runs the series, right after checkpoint `checkpoint` of run
 * `run` is filled and marked done. */
typedef void (*StrataSeriesCheckpointFunc) (StrataSeries *series, guint run, guint checkpoint, gpointer data);

/* Makes the prompt set with the first checkpoint opened (its tokenizer and BOS policy). */
typedef StrataPromptSet *(*StrataSeriesPromptsFunc) (StrataModel *model, gpointer data, GError **error);

typedef struct {
  /* How each checkpoint opens: tokenizer file (NULL: its own), matrix policy; bos -1: the
   * model's policy, 0 off, 1 on. */
  StrataOpenOptions open;
  const StrataBackend *backend;       /* where every checkpoint runs (NULL: the CPU); recorded
                                       * in each checkpoint's model record */
  StrataPrecision precision;          /* of the products (0: fp32), recorded with the device */
  int bos;
  /* The prompt set when series->prompts is NULL: make_prompts when set, else loaded from
   * prompts_path. */
  const char *prompts_path;
  StrataSeriesPromptsFunc make_prompts;
  gpointer make_prompts_data;

  gboolean raw;
  double threshold;
  /* Accuracy: every target is scored at the answer position; answer_target names the one the
   * accuracy figure shows (NULL: "answer" when the set has such a target, else the first).
   * answer_position: a named position every prompt has (NULL: each prompt's last). */
  const char *answer_target;
  const char *answer_position;

  /* Patching through training (optional): the paper's causal strength is direction noise,
   * metric top1-change. The sites are borrowed. */
  gboolean patch;
  StrataPatchOptions patch_options;
  const char *patch_target;

  StrataProgressFunc progress;        /* over the whole series; optional */
  gpointer progress_data;
  StrataSeriesCheckpointFunc checkpoint_done; /* optional */
  gpointer checkpoint_data;
  GCancellable *cancellable;          /* optional; stops within one layer of one pass */
} StrataSeriesRequest;

/* The checkpoints of `dir` in step order. Errors name the folder: no checkpoint found, two
 * checkpoints of one step, an unreadable trainer_state.json. */
StrataTrainingRun *strata_training_run_discover (const char *dir, GError **error);
void strata_training_run_free (StrataTrainingRun *run);

/* An empty series; add runs (taken) before running it. */
StrataSeries *strata_series_new (void);
void strata_series_add_run (StrataSeries *series, StrataTrainingRun *run);
void strata_series_free (StrataSeries *series);

/* The lens, no patching, threshold 0.5, the model's BOS policy. */
void strata_series_request_init (StrataSeriesRequest *req);

/* Run every checkpoint not yet done, one at a time, round robin over the runs (the first
 * checkpoint of each run, then the second, ...) so both panels fill together. A series with
 * no checkpoint done takes its settings from `req` (and its prompt set, unless it has one);
 * once one is done, a later call continues with the series' own settings and prompt set (a
 * series reopened from a session continues where it stopped) and reads only req's open
 * options, callbacks and cancellable. Each checkpoint's tokenizer must have the sha256 of the
 * first one opened and every checkpoint of a run the same number of layers: otherwise the run
 * stops with an error naming the checkpoint. Errors begin with the checkpoint's path; a
 * cancelled run fails with G_IO_ERROR_CANCELLED. The checkpoints done so far stay done. */
gboolean strata_series_run (StrataSeries *series, const StrataSeriesRequest *req, GError **error);

/* The single-checkpoint pipeline as the series ran it, for opening one checkpoint of the
 * series on its own (the window, on a click): the lens with STRATA_ANALYSIS_TOPK top tokens,
 * the series' raw and threshold settings, and with `patch` (when the series patched) its
 * patching settings (sites borrowed from `series`). Run it with
 * strata_analysis_run (engine, model of cp->path, strata_prompt_set_copy (series->prompts),
 * req, ...): its aggregates equal the checkpoint's (tested). */
void strata_series_init_analysis_request (const StrataSeries *series, gboolean patch, StrataAnalysisRequest *req);

gboolean strata_series_checkpoint_is_done (const StrataSeriesCheckpoint *cp);
/* Checkpoints done / all, over every run. */
guint strata_series_count_done (const StrataSeries *series, guint *total);

/* Lookups in a done checkpoint (NULL when absent). tag NULL means "all". */
const StrataLensAggregate *strata_series_checkpoint_get_aggregate (const StrataSeriesCheckpoint *cp,
                                                                    const char *tag, const char *target,
                                                                    const char *position);
const StrataSeriesAccuracy *strata_series_checkpoint_get_accuracy (const StrataSeriesCheckpoint *cp,
                                                                    const char *tag, const char *target);
const StrataPatchAggregate *strata_series_checkpoint_get_patch (const StrataSeriesCheckpoint *cp,
                                                                 const char *tag, StrataPatchSite site);

void strata_series_accuracy_free (StrataSeriesAccuracy *acc);
void strata_series_checkpoint_free (StrataSeriesCheckpoint *cp);
/* A checkpoint to fill (for readers and tests that build series): not done, no results. */
StrataSeriesCheckpoint *strata_series_checkpoint_new (const char *path, const char *label, gint64 step);
StrataTrainingRun *strata_training_run_new (const char *name, const char *path);
/* Mark a checkpoint filled by hand (a session reader, a test) as done. */
void strata_series_checkpoint_set_done (StrataSeriesCheckpoint *cp);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataSeries, strata_series_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataTrainingRun, strata_training_run_free)

G_END_DECLS
