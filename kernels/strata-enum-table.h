/* strata-enum-table.h: the shape of an enumeration's name table (plain C, for every layer).
 *
 * Every enum whose values leave the program (session files, JSON, CLI words) or are shown to
 * the person (cards, window controls, figure text) has exactly one table, declared beside the
 * enum: one row per value, in enum order. Files store the names, so a table only ever grows
 * at the end. Lookups and lists over tables are in probes/strata-enum.h. */
#pragma once

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
#define STRATA_ENUM_TABLE(what, values) { (what), (values), (int) (sizeof (values) / sizeof *(values)) }
