/* strata-enum.h: lookups and lists over the name tables of Strata's enumerations
 * (kernels/strata-enum-table.h); CLI help and error text is generated from them. */
#pragma once

#include <glib.h>

#include "strata-enum-table.h"

G_BEGIN_DECLS

/* The row's name, label (the name where it has none) or long name (the label where it has
 * none); "?" for a value outside the table. */
const char *strata_enum_to_string (const StrataEnumTable *t, int value);
const char *strata_enum_get_label (const StrataEnumTable *t, int value);
const char *strata_enum_get_long_name (const StrataEnumTable *t, int value);
/* The value named `s` (exactly); FALSE, leaving *value alone, when none is (or s is NULL). */
gboolean strata_enum_from_string (const StrataEnumTable *t, const char *s, int *value);

/* Every name in order for help and error text, separated by `sep` and the last by
 * `last_sep`; the value `marked` (-1: none) is followed by " (default)". Newly allocated.
 * (", ", " or ", 0) gives "denoise (default) or noise"; ("|", "|", -1) "denoise|noise". */
char *strata_enum_join (const StrataEnumTable *t, const char *sep, const char *last_sep, int marked);

G_END_DECLS
