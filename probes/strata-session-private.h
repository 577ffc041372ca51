/* strata-session-private.h: shared by strata-session*.c; not for other layers.
 *
 * Enumerations are stored as strings (names listed in docs/session-format.md), so a file
 * stays readable when an enum is reordered and is self-describing from Python. */
#pragma once

#include <glib.h>

#include "strata-h5.h"
#include "strata-session.h"

G_BEGIN_DECLS

/* Collections are groups whose members are named by their index, zero-padded to six digits
 * ("000012"), with a `count` attribute. */
#define STRATA_SESSION_INDEX_FORMAT "%06u"

/* Enums are stored by the names of their tables (strata-enum.h: strata_figure_kind_table,
 * strata_patch_site_table, ...). The two kernel-level enums of strata-weights.h have theirs
 * here. */

gboolean _strata_session_set_enum (hid_t loc, const char *attr, const StrataEnumTable *e,
                                   int value, GError **error);
gboolean _strata_session_get_enum (hid_t loc, const char *attr, const StrataEnumTable *e,
                                   int *value, GError **error);

/* Everything below `file`'s root except the header attributes. */
gboolean _strata_session_write_body (hid_t file, const StrataSession *s, GError **error);
gboolean _strata_session_read_body (hid_t file, StrataSession *s, GError **error);

G_END_DECLS
