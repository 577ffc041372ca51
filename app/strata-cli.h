/* strata-cli.h: the `strata` command line. Every subcommand runs headless, prints errors
 * on stderr and returns the process exit status. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "strata-engine.h"
#include "strata-generate.h"
#include "strata-model.h"
#include "strata-train-run.h"

typedef struct {
  const char *name;
  const char *summary;
  int (*run) (int argc, char **argv);
} StrataCommand;

int strata_cli_main (int argc, char **argv);

/* Shared by subcommands. */
int strata_cli_fail (GError *error);
/* Write a JSON node to `path` ("-" for stdout); atomic when a file. */
gboolean strata_cli_write_json (JsonNode *root, const char *path, GError **error);

/* An option error (G_OPTION_ERROR) with a formatted message; returns FALSE. */
gboolean strata_cli_fail_with (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
/* Outputs are written to a temporary file beside the target and renamed, so the folder must
 * exist and be writable: checked before a (possibly long) run. NULL path: nothing to check. */
gboolean strata_cli_check_writable (const char *option, const char *path, GError **error);
/* The outputs of a probe command, before it runs: --scale in (0, 16], --figure's extension
 * (and that figures were built), and each of --figure, --session, --json ('-': stdout)
 * writable. NULL paths are not given. */
gboolean strata_cli_check_outputs (const char *figure, double scale, const char *session, const char *json,
                                   GError **error);
#ifdef STRATA_HAVE_FIGURES
#include "strata-figure.h"
/* --positions A:B of a figure: the view's range, checked against the figure's sequence
 * (an error names the flag and the length). NULL `positions`: the view is left as it is. */
gboolean strata_cli_apply_positions (const char *positions, const StrataFigureInput *in, StrataViewState *v,
                                     GError **error);
#define STRATA_CLI_POSITIONS_HELP "Draw only positions A to B-1 (half-open, 0-based; ':' all; default: all)"
#endif

/* "2,325,#325" -> int32 ids (--ids). */
GArray *strata_cli_parse_ids (const char *list, GError **error);

/* strata-cli-device.c: --device, the same on every command that runs a model. The value
 * goes to strata_cli_device(), which applies strata_device_choose (the argument, else
 * STRATA_DEVICE, else auto): NULL with an error naming the reason (the driver's words for
 * cuda, the accepted names for an unknown one); when auto falls back to the CPU, one line on
 * stderr says why. `choice` (may be NULL) receives the whole choice. */
#define STRATA_CLI_DEVICE_HELP "Where the model runs: auto, cpu or cuda (default: $STRATA_DEVICE, else auto)"
#define STRATA_CLI_DEVICE_ENTRY(var) \
  { "device", 0, 0, G_OPTION_ARG_STRING, &(var), STRATA_CLI_DEVICE_HELP, "auto|cpu|cuda" }
const StrataBackend *strata_cli_device (const char *name, StrataDeviceChoice *choice, GError **error);
/* --precision beside --device: how matrix products take their inputs (strata-recipe.h). NULL
 * or "" is fp32; an unknown name is an error naming the accepted ones. */
#define STRATA_CLI_PRECISION_HELP \
  "Matrix products: fp32 (exact, default), tf32 or bf16 (inputs rounded; tensor cores on a GPU)"
#define STRATA_CLI_PRECISION_ENTRY(var) \
  { "precision", 0, 0, G_OPTION_ARG_STRING, &(var), STRATA_CLI_PRECISION_HELP, "fp32|tf32|bf16" }
gboolean strata_cli_precision (const char *name, StrataPrecision *out, GError **error);
/* An engine for `m` on `backend` with products in `precision`; NULL with the engine's reason. */
StrataEngine *strata_cli_engine_new (const StrataBackend *backend, StrataPrecision precision, StrataModel *m,
                                     GError **error);

/* strata-cli-train.c: the device a trainer runs on: strata_cli_device, except that auto
 * picks the CPU (with a line on stderr) when the device it found cannot train. `chosen`
 * (may be NULL) receives strata_cli_device's answer, where the analyses run. */
const StrataBackend *strata_cli_train_device (const char *name, const StrataBackend **chosen, GError **error);
/* Training progress on stderr: a bar with the loss and the time left on a terminal; one
 * line per evaluation with the accuracies always. */
typedef struct {
  const char *name;
  gboolean tty;
  int first_step;
  gint64 start, last; /* monotonic microseconds */
} StrataCliTrainProgress;
void strata_cli_train_progress_init (StrataCliTrainProgress *p, const char *name);
void strata_cli_train_progress_cb (int step, int total, double loss, const StrataTrainEval *eval, gpointer data);
/* The options `strata train` and `strata study` share, into a StrataTrainRunOptions (each
 * command states its own defaults in its summary). */
#define STRATA_CLI_TRAIN_ENTRIES(o) \
  { "batch", 0, 0, G_OPTION_ARG_INT, &(o).batch, "Sequences per step", "B" }, \
  { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &(o).adamw.lr, "AdamW learning rate", "LR" }, \
  { "warmup", 0, 0, G_OPTION_ARG_INT, &(o).adamw.warmup_steps, "Linear warmup steps, then constant", "N" }, \
  { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &(o).adamw.weight_decay, "AdamW weight decay of the matrices", "WD" }, \
  { "clip", 0, 0, G_OPTION_ARG_DOUBLE, &(o).adamw.max_grad_norm, "Clip the gradient norm at this (0: no clipping)", "C" }, \
  { "eval-every", 0, 0, G_OPTION_ARG_INT, &(o).eval_every, "Evaluate every N steps (0: at the end only)", "N" }, \
  { "save-every", 0, 0, G_OPTION_ARG_INT, &(o).save_every, "Write a checkpoint every N steps (0: at the end only)", "N" }, \
  { "eval-sample", 0, 0, G_OPTION_ARG_INT, &(o).eval_sample, "ID atomic and train two-hop items scored", "N" }, \
  { "layers", 0, 0, G_OPTION_ARG_INT, &(o).n_layers, "Layers of a new model", "L" }, \
  { "width", 0, 0, G_OPTION_ARG_INT, &(o).d_model, "Width of a new model", "C" }, \
  { "heads", 0, 0, G_OPTION_ARG_INT, &(o).n_heads, "Attention heads of a new model", "H" }

/* Sampling options of `strata generate` and `strata lens --generate`: greedy unless
 * --temperature is above 0; --top-p, --seed, --stop as StrataGenerateOptions reads them. */
typedef struct {
  double temperature, top_p;
  int seed;
  char *stop;
} StrataCliSampling;
#define STRATA_CLI_SAMPLING_INIT { 0, 1, 0, NULL }
#define STRATA_CLI_SAMPLING_ENTRIES(s) \
  { "temperature", 0, 0, G_OPTION_ARG_DOUBLE, &(s).temperature, "Sample at this temperature (default 0: greedy)", "T" }, \
  { "top-p", 0, 0, G_OPTION_ARG_DOUBLE, &(s).top_p, "Sample from the most probable tokens holding this much probability (default 1)", "P" }, \
  { "seed", 0, 0, G_OPTION_ARG_INT, &(s).seed, "Seed of the sampler (default 0): the same seed gives the same tokens", "S" }, \
  { "stop", 0, 0, G_OPTION_ARG_STRING, &(s).stop, "Stop once the generated text contains this", "TEXT" }
/* The generation options for n new tokens; an option out of range is an error naming it. */
gboolean strata_cli_generate_options (const StrataCliSampling *s, int n, StrataGenerateOptions *out, GError **error);

int strata_cmd_info (int argc, char **argv);
int strata_cmd_tokenize (int argc, char **argv);
int strata_cmd_generate (int argc, char **argv);
int strata_cmd_lens (int argc, char **argv);
int strata_cmd_patch (int argc, char **argv);
int strata_cmd_series (int argc, char **argv);
int strata_cmd_session_info (int argc, char **argv);
int strata_cmd_dataset (int argc, char **argv);
int strata_cmd_train (int argc, char **argv);
int strata_cmd_study (int argc, char **argv);
/* strata-cmd-view.c (builds with GTK only) */
int strata_cmd_export (int argc, char **argv);
int strata_cmd_open (int argc, char **argv);
