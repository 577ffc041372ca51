/* strata-session.h: a whole analysis saved to one HDF5 file and opened again.
 *
 * The schema is documented in docs/session-format.md; the major version changes only with
 * an incompatible change. Saving is atomic (temporary file beside the target, flushed,
 * renamed). Opening validates everything and refuses external and virtual datasets. */
#pragma once

#include <glib.h>

#include "strata-analysis.h"

G_BEGIN_DECLS

#define STRATA_SESSION_FORMAT "strata-session"
#define STRATA_SESSION_MAJOR 1
#define STRATA_SESSION_MINOR 1 /* 1.1: lens results carry token_ids/token_pieces */

typedef struct {
  GPtrArray *analyses;   /* StrataAnalysis * (1, or 2 when comparing) */
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
