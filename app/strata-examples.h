/* strata-examples.h: the examples that come with Strata (from tests/data; installed under
 * datadir/strata): what `strata` opens with no argument, and the Examples menu. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *id;          /* "twohop", "stories260K": the menu action's parameter */
  const char *title;       /* menu label */
  const char *models[2];   /* relative to the examples folder; models[1] NULL: one checkpoint */
  const char *prompts;     /* prompt set, relative; NULL: the window's default prompt */
  const char *tag;         /* prompt tag the MRR curves open on; NULL: all */
  const char *about;       /* one line shown above the figures while it is open */
} StrataExample;

/* The examples in menu order; the first is what `strata` opens with no argument. */
extern const StrataExample strata_examples[];
extern const gsize strata_n_examples;

const StrataExample *strata_example_lookup (const char *id);

/* An example's file: the installed copy first, then the source tree the program was built
 * from; NULL when neither has it. */
char *strata_example_file (const char *relative);

/* TRUE when every file of the example is present. */
gboolean strata_example_available (const StrataExample *example);

G_END_DECLS
