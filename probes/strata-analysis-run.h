/* strata-analysis-run.h: the analysis pipeline, written once for the window and for
 * `strata lens` and `strata patch`.
 *
 * Given an engine, its model and a prompt set (with targets), one call runs, in order:
 *  1. patching (when asked) of every prompt that has a corrupted input, timed;
 *  2. the logit lens (when asked) of every prompt, and its aggregates over the set;
 *  3. the circuit of the first patched prompt (|effect| >= STRATA_ANALYSIS_CIRCUIT_THRESHOLD,
 *     decoding marks from that prompt's lens);
 *  4. the attention pattern of the first prompt (when asked, and only below a size cap).
 * It reports progress as a fraction and stops on a GCancellable: between prompts, and through
 * the engine's abort function between the layers of every pass, so a long patching sweep
 * stops within one layer. It may run on any thread (the window runs it in a GTask's). */
#pragma once

#include <gio/gio.h>

#include "strata-analysis.h"

G_BEGIN_DECLS

/* Top tokens kept per layer and position when the caller does not choose. */
#define STRATA_ANALYSIS_TOPK 10
/* The circuit keeps nodes and edges with |patching effect| at least this. */
#define STRATA_ANALYSIS_CIRCUIT_THRESHOLD 0.1
/* The attention pattern (L * H * T * T floats) is kept only up to this many floats (256 MB),
 * so a long prompt on a large model does not exhaust memory. */
#define STRATA_ANALYSIS_MAX_ATTENTION_FLOATS ((gsize) 64 << 20)

/* fraction in [0, 1], non-decreasing; called on the thread that runs the pipeline. */
typedef void (*StrataProgressFunc) (double fraction, gpointer data);
/* After each unembedding chunk of the lens of prompt `index` (0-based), on the thread that runs
 * the pipeline; `partial` is the result being written (StrataLensChunkFunc says what it holds
 * and for how long it may be read). */
typedef void (*StrataLensPartialFunc) (guint index, const StrataLensResult *partial, int rows_done, gpointer data);

typedef struct {
  /* The lens over every prompt. */
  gboolean lens;
  StrataLensOptions lens_options;   /* the candidates are copied into the analysis */

  /* Patching; the sites are borrowed. */
  gboolean patch;
  StrataPatchOptions patch_options;
  /* The target patched: a target of that name in the prompt, else this token as written
   * (text or #ID) for every prompt. NULL: each prompt's first target. */
  const char *patch_target;
  /* Logit difference where a prompt has a contrast token, its probability elsewhere
   * (patch_options.metric is then not read). */
  gboolean patch_metric_by_contrast;
  /* Skip a prompt without a corrupted input (or without a target to patch), though at least
   * one must be patched; FALSE: such a prompt is an error naming it. */
  gboolean patch_skip_incomplete;
  gboolean patch_naive;             /* one full pass per patch (the reference loop) */
  StrataPatchMethod patch_method;   /* real patching, or attribution patching's estimate */
  /* With the attribution method: also run real patching on the same sites, and report how
   * well the estimate agrees (StrataAnalysisReport.agreement); the results stay the estimates. */
  gboolean patch_agreement;

  /* The attention pattern of the first prompt. */
  gboolean attention;
  gsize attention_max_floats;       /* 0: STRATA_ANALYSIS_MAX_ATTENTION_FLOATS */

  StrataProgressFunc progress;      /* optional */
  gpointer progress_data;
  StrataLensPartialFunc lens_partial; /* optional: a figure that fills in while the lens runs */
  gpointer lens_partial_data;
  GCancellable *cancellable;        /* optional */
} StrataAnalysisRequest;

/* What a run has to say besides its results; filled as far as the run got, also when it
 * fails (a warning printed before the error that ended the run). */
typedef struct {
  double patch_seconds;             /* wall time of the patching loop (of the estimates only, with agreement) */
  double exact_seconds;             /* with patch_agreement: wall time of the real patching */
  GArray *agreement;                /* with patch_agreement: StrataPatchAgreement per site, pooled over prompts */
  GPtrArray *warnings;              /* char *: "prompt 2: |M_clean - M_corrupt| = ... is tiny; ..." */
  char *attention_note;             /* why the attention pattern was not kept, or NULL */
} StrataAnalysisReport;

/* The lens with STRATA_ANALYSIS_TOPK tokens and threshold 0.5; no patching, no attention. */
void strata_analysis_request_init (StrataAnalysisRequest *req);

/* Run `req` on `prompts` (taken: the analysis holds it, and it is freed on failure). Errors
 * of one prompt begin "prompt N: " ("prompt N (lens): " for the lens of a patching run); a
 * cancelled run fails with G_IO_ERROR_CANCELLED. While it runs the engine's abort function
 * is the pipeline's (when there is a cancellable); it is removed afterwards. `report` may be
 * NULL; else it must be zero-initialised or hold an earlier report, which is replaced; the
 * caller clears it. */
StrataAnalysis *strata_analysis_run (StrataEngine *engine, StrataModel *model, StrataPromptSet *prompts,
                                     const StrataAnalysisRequest *req, StrataAnalysisReport *report,
                                     GError **error);
void strata_analysis_report_clear (StrataAnalysisReport *report);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (StrataAnalysisReport, strata_analysis_report_clear)

G_END_DECLS
