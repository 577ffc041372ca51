/* session-sample.h: hand-built sessions for the session tests and the sample writer.
 *
 * Every array holds a formula of its element index i and a per-array salt:
 *   float32  ((i * 7919 + salt) % 10007) / 10007.0f   (each operand float32)
 *   float64  ((i * 7919 + salt) % 10007) / 10007.0
 *   int32    ((i * 7919 + salt) % 50257) - 1
 * so a reader in another language (tests/python/test_session_h5py.py) can recompute every
 * value. With `edges`, the first elements of each array are instead edge values (zero,
 * negative zero, one, denormals, extremes, -1 layers) that a lossy round trip would alter. */
#pragma once

#include <glib.h>

#include "strata-session.h"

G_BEGIN_DECLS

typedef struct {
  gboolean edges;      /* put edge values at the start of every array */
  int attention_T;     /* tokens of the attention pattern (large -> slow saves) */
  int attention_layers, attention_heads;
  gboolean series;     /* add a series of checkpoints (format 1.2): two runs, one checkpoint not done */
} SampleOptions;

StrataSession *sample_session_new (const SampleOptions *opts);

/* g_assert that every field of a and b is equal, arrays byte for byte. */
void sample_session_assert_equal (const StrataSession *a, const StrataSession *b);
/* The same for a series (NULL or not, as the other) and for a list of lens aggregates
 * (StrataLensAggregate *). */
void sample_series_assert_equal (const StrataSeries *a, const StrataSeries *b);
void sample_lens_aggregates_assert_equal (GPtrArray *a, GPtrArray *b);

G_END_DECLS
