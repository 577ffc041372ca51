/* strata-window.h: the workbench window. */
#pragma once

#include <gtk/gtk.h>

#include "strata-application.h"
#include "strata-examples.h"

G_BEGIN_DECLS

#define STRATA_TYPE_WINDOW (strata_window_get_type ())
G_DECLARE_FINAL_TYPE (StrataWindow, strata_window, STRATA, WINDOW, GtkApplicationWindow)

StrataWindow *strata_window_new (StrataApplication *app);
/* Open a checkpoint in the background into slot 0 (primary) or 1 (compared); with
 * `run_lens`, run the lens on the prompt once it is open. */
void strata_window_open_model (StrataWindow *self, const char *path, int slot, gboolean run_lens);
/* Open `a` as the primary and `b` as the compared checkpoint, run the lens on both and
 * show them side by side. */
void strata_window_open_pair (StrataWindow *self, const char *a, const char *b);
void strata_window_open_session (StrataWindow *self, const char *path);
/* Open a bundled example: its checkpoint(s), prompt set and view, with a line saying what it is. */
void strata_window_open_example (StrataWindow *self, const StrataExample *example);
/* Training dynamics: the checkpoints of one or two training-run folders (`dirs`, NULL
 * terminated), each run over the window's prompt set in the background; the series pages
 * fill in checkpoint by checkpoint. Without a prompt set it asks for one first. */
void strata_window_open_series (StrataWindow *self, const char *const *dirs);
/* The prompt set Run analyses instead of the typed prompt (JSON Lines, resolved against
 * each model when run); NULL unloads it. */
void strata_window_set_prompt_set (StrataWindow *self, const char *path);
/* The error banner. */
void strata_window_show_error (StrataWindow *self, const char *message);

G_END_DECLS
