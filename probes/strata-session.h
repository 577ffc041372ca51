/* strata-session.h: a whole analysis saved to one HDF5 file and opened again.
 *
 * The schema is documented in docs/session-format.md; the major version changes only with
 * an incompatible change. Saving is atomic (temporary file beside the target, flushed,
 * renamed). Opening validates everything and refuses external and virtual datasets. */
#pragma once

#include <glib.h>

#include "strata-analysis.h"
#include "strata-series.h"

G_BEGIN_DECLS

#define STRATA_SESSION_FORMAT "strata-session"
#define STRATA_SESSION_MAJOR 1
/* 1.1: lens results carry token_ids/token_pieces; 1.2: /series (a series of checkpoints) and
 * the view's series_figure, run and checkpoint; 1.3: the device of every model record. */
#define STRATA_SESSION_MINOR 5

typedef struct {
  GPtrArray *analyses;   /* StrataAnalysis * (1, or 2 when comparing; none for a series alone) */
  StrataSeries *series;  /* a series of checkpoints, or NULL (format 1.2) */
  StrataViewState view;
  char *created;         /* ISO 8601, set on first save */
  char *modified;        /* ISO 8601, set on every save */
  char *program_version; /* of the program that wrote it (set when read) */
} StrataSession;

StrataSession *strata_session_new (void);
void strata_session_free (StrataSession *s);

gboolean strata_session_save (StrataSession *s, const char *path, GError **error);
StrataSession *strata_session_load (const char *path, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataSession, strata_session_free)

G_END_DECLS
