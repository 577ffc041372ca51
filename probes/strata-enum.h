/* strata-enum.h: the names of Strata's enumerations, one table per enum.
 *
 * Every enum whose values leave the program (session files, JSON, CLI words) or are shown
 * to the person (window controls, figure text) has exactly one StrataEnumTable, declared
 * beside the enum: one row per value, in enum order. Session files store the names, so a
 * table only ever grows at the end; CLI help and error text is generated from it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *name;       /* stored (session files, JSON) and typed (CLI): "logit-diff" */
  const char *label;      /* shown (window, figure titles): "LD"; NULL where none */
  const char *long_name;  /* spelled out (figure captions): "logit difference"; NULL where none */
} StrataEnumValue;

typedef struct {
  const char *what;              /* the enum in messages: "patch metric" */
  const StrataEnumValue *values; /* (n) indexed by enum value */
  int n;
} StrataEnumTable;

/* A table over a static array of rows: STRATA_ENUM_TABLE ("patch metric", metric_values). */
#define STRATA_ENUM_TABLE(what, values) { (what), (values), G_N_ELEMENTS (values) }

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
