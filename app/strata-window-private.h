/* strata-window-private.h: what the window's files share (GNOME Text Editor style split:
 * strata-window.c builds the widgets, -actions.c the actions and keys, -run.c the
 * background jobs, -generate.c Generate and its trace, -series.c a series of checkpoints and
 * opening one of them, -session.c saving and opening, -state.c size and recent files). */
#pragma once

#include "strata-analysis.h"
#include "strata-engine.h"
#include "strata-examples.h"
#include "strata-figure-view.h"
#include "strata-model.h"
#include "strata-prompt-set.h"
#include "strata-topk-panel.h"
#include "strata-view-model.h"
#include "strata-window.h"

G_BEGIN_DECLS

/* Items of the tag list read "tag id"; the view state holds "id". */
#define STRATA_WINDOW_TAG_ITEM "tag "

typedef struct {
  GtkWidget *frame;
  GtkWidget *title;
  GtkWidget *values[9];  /* family, layers, width, heads, vocab, params, dtype, device, BOS */
} StrataModelCard;

struct _StrataWindow {
  GtkApplicationWindow parent_instance;

  StrataViewModel *view;
  StrataModel *model[2];       /* NULL when not loaded (a session opened without it) */
  StrataEngine *engine[2];
  StrataDeviceChoice device;   /* where new engines run: backend always set (-device.c) */
  StrataPrecision precision;   /* of their products (the action win.precision) */
  char *device_text;           /* the card's Device row: the label, and the precision unless fp32 */
  char *prompt_set_path;       /* loaded set (resolved against each model when run) */
  char *pending_compare;       /* second checkpoint to open once the first is open */
  char *auto_prompt;           /* the text the window put in the prompt entry itself */
  char **pending_series;       /* training-run folders to open once a prompt set is loaded */
  gboolean options_for_series; /* the options bar's lists hold the series' items */

  GCancellable *cancellable;   /* of the running job; NULL when idle */
  gint progress_permille;      /* written by the job's thread, read by a timeout */
  guint progress_source;
  char *job_name;

  char *session_path;
  gboolean dirty;
  gboolean close_confirmed;
  gboolean syncing;            /* guards widget <-> model feedback */

  GtkWidget *banner, *banner_label;
  GtkWidget *example_bar, *example_label, *example_buttons;
  const StrataExample *opening_example; /* until its first analysis arrives (its view) */
  GtkWidget *progress_revealer, *progress, *progress_label;
  StrataModelCard card[2];
  GtkWidget *prompt_entry, *corrupt_entry, *targets_entry, *contrast_entry;
  GtkWidget *prompt_set_label, *prompt_set_clear;
  GtkWidget *stack;
  GtkWidget *figures[STRATA_FIGURE_N_ALL]; /* the checkpoint pages, then the series pages */
  GtkWidget *layer_scale, *layer_label, *position_spin, *head_spin;
  GtkWidget *range_entry;        /* "A:B": the positions the figures show */
  GtkWidget *find_entry, *find_status; /* find in the decoded trace; "not found" */
  GtkWidget *target_dropdown, *curve_dropdown, *site_dropdown, *log_check, *compare_check;
  GtkWidget *tag_dropdown, *posname_dropdown; /* MRR over a prompt set: tag, named position */
  GtkWidget *quantity_dropdown;  /* series heat map: MRR or mean probability */
  GtkWidget *trace_options;      /* the trace figure: "Held in top" K, and "Written anywhere" */
  GtkWidget *trace_topk_spin, *trace_anywhere_check;
  GArray *posname_index;       /* int: the position index of each posname_dropdown item */
  GArray *site_index;          /* int (StrataPatchSite): the site of each site_dropdown item */
  GtkWidget *run_button, *patch_button, *export_button;
  GtkAdjustment *layer_adj, *position_adj, *head_adj;

  /* Generate (-generate.c): its settings, and the trace of prompt + continuation. */
  GtkWidget *gen_tokens, *gen_temperature, *gen_top_p, *gen_seed, *gen_stop;
  GtkWidget *trace_box, *trace_view, *trace_status;
  guint trace_source;          /* streams the running generation into the trace */
  /* The last generation: the prompt's text as typed, its ids followed by the continuation
   * (exact ids, n_generated of them generated). Run analyses these ids while the prompt entry
   * holds that text. NULL: none. */
  StrataPrompt *generation;
  char *generation_note;       /* why it ended early, for the banner after its lens; or NULL */
};

/* strata-window.c */
void _strata_window_update_cards (StrataWindow *self);
void _strata_window_sync_controls (StrataWindow *self);
void _strata_window_update_title (StrataWindow *self);
void _strata_window_set_dirty (StrataWindow *self, gboolean dirty);
void _strata_window_hide_error (StrataWindow *self);
void _strata_window_show_info (StrataWindow *self, const char *message);
StrataFigureKind _strata_window_get_visible_figure (StrataWindow *self);
/* The "Colour by" list after a new analysis arrives. */
void _strata_window_refresh_targets (StrataWindow *self);

/* strata-window-actions.c */
void _strata_window_install_actions (StrataWindow *self);
void _strata_window_update_actions (StrataWindow *self);
void _strata_window_export_to (StrataWindow *self, const char *path);

/* strata-window-run.c */
#define STRATA_WINDOW_CANCELLED_MESSAGE "Cancelled; the previous results are unchanged."
gboolean _strata_window_is_busy (StrataWindow *self);
/* A background job: shows the progress bar with `what`, disables what must wait, and runs
 * `thread` on `job` (freed with free_job) in a GTask whose cancellable is the window's until
 * _strata_window_end_job(); `done` runs on the main thread when it ends. */
void _strata_window_start_job (StrataWindow *self, const char *what, gpointer job, GDestroyNotify free_job,
                               GTaskThreadFunc thread, GAsyncReadyCallback done);
void _strata_window_end_job (StrataWindow *self);
/* A GTask job's end on the main thread: _strata_window_end_job(), then TRUE when it
 * succeeded; else FALSE with the cancelled notice or the error in the banner. */
gboolean _strata_window_finish_job (StrataWindow *self, GAsyncResult *result);
void _strata_window_run_lens (StrataWindow *self, gboolean patching);
void _strata_window_cancel (StrataWindow *self);
void _strata_window_set_model (StrataWindow *self, int slot, StrataModel *model);

/* strata-window-prompt.c: the entry's default prompt for a model (the rule is at the top of
 * that file), and a banner sentence naming the words the model's tokenizer maps to its
 * unknown token (NULL when there are none). */
char *_strata_window_default_prompt (StrataModel *m);
char *_strata_window_unknown_words (StrataModel *m, const char *text);
/* Fill the prompt entry by that rule, unless it holds text the person typed. */
void _strata_window_apply_default_prompt (StrataWindow *self);

/* strata-window-example.c: the line naming the open example, with the others one click
 * away; its view (the tag the MRR curves open on) once its first analysis arrives. */
GtkWidget *_strata_window_example_bar_new (StrataWindow *self);
void _strata_window_example_apply_view (StrataWindow *self);
/* Another checkpoint or a session replaces the example: its line goes. */
void _strata_window_example_forget (StrataWindow *self);

/* strata-window-generate.c: the Generate row (button and settings) and the trace below it,
 * for the sidebar under the prompt entry. Generate (win.generate) continues the prompt on
 * the window's engine, streaming the tokens into the trace, then runs the lens on the prompt
 * and its continuation. */
GtkWidget *_strata_window_generate_box_new (StrataWindow *self);
void _strata_window_generate (StrataWindow *self);
/* The generation no longer describes what Run reads (another model, an edited prompt). */
void _strata_window_forget_generation (StrataWindow *self);

/* strata-window-series.c */
void _strata_window_choose_series (StrataWindow *self);
/* Open the folders that waited for a prompt set now that one is loaded; without one
 * (prompts_loaded FALSE: the person chose none) forget them. */
void _strata_window_resume_series (StrataWindow *self, gboolean prompts_loaded);
/* The series pages are in the switcher only while the view model holds a series. */
void _strata_window_update_series_pages (StrataWindow *self);
/* Fill the options bar's target, tag, named-position and site lists from the series. */
void _strata_window_fill_series_options (StrataWindow *self);
/* Open checkpoint `checkpoint` of run `run` of the series in slot 0, run it as the series
 * did and show it on the curves page at `layer` (-1: its last). */
void _strata_window_open_series_checkpoint (StrataWindow *self, int run, int checkpoint, int layer);

/* strata-window-device.c: the device (STRATA_DEVICE, else auto; the action win.device). */
void _strata_window_device_init (StrataWindow *self);
const StrataBackend *_strata_window_get_backend (StrataWindow *self);
StrataPrecision _strata_window_get_precision (StrataWindow *self);
/* An engine for `model` on `backend` in `precision` (a job's copy of the window's choice),
 * callable from a job's thread; NULL with the error set. */
StrataEngine *_strata_window_engine_new (const StrataBackend *backend, StrataPrecision precision, StrataModel *model,
                                         GError **error);
/* The model card's Device row of `slot`: its text and tooltip (NULL: none), borrowed. */
void _strata_window_describe_device (StrataWindow *self, int slot, const char **text, const char **tooltip);
/* The Device submenu: Auto, CPU, CUDA as radio items of win.device, then FP32, TF32, BF16
 * products as radio items of win.precision. */
GMenuModel *_strata_window_device_menu (void);

/* strata-window-session.c */
void _strata_window_save (StrataWindow *self, gboolean save_as);
void _strata_window_choose_session (StrataWindow *self);
gboolean _strata_window_confirm_close (StrataWindow *self);

/* strata-window-state.c: window size and recent sessions in $XDG_CONFIG_HOME/strata/state.ini */
void _strata_window_state_restore (StrataWindow *self);
void _strata_window_state_save (StrataWindow *self);
void _strata_window_recent_add (const char *path);
char **_strata_window_recent_list (void);
void _strata_window_rebuild_recent_menu (StrataWindow *self, GMenu *menu);

G_END_DECLS
