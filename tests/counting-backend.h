/* counting-backend.h: how much work a pass did after it was asked to stop.
 *
 * The CPU backend's table with its `linear` member wrapped to count the matrix products
 * (a block runs a fixed number of them, whatever the batch), and an abort function
 * (strata_engine_set_abort) that counts its calls, records the product count at each, and
 * answers "stop" from a chosen call on. From an unstopped run, counting_layer_work() gives
 * the most products run between two consecutive abort checks (or after the last one, up to
 * the end of a pass): one layer's worth. A stopped run may run at most that many after the
 * abort first said stop. Optionally a GCancellable is cancelled from inside the k-th
 * product, the middle of a layer, for code that installs its own abort function.
 * Single-threaded tests only: the state is global. */
#pragma once

#include <gio/gio.h>

#include "strata-backend.h"
#include "strata-engine.h"

typedef struct {
  guint linear_calls;
  guint abort_calls;
  guint stop_at;            /* the abort says stop from this call on (1-based); 0: never */
  guint linear_at_stop;     /* linear_calls when it first said stop */
  GArray *linear_at_abort;  /* guint: linear_calls at every abort call */
  GCancellable *cancel;     /* cancelled inside product number cancel_at (1-based) */
  guint cancel_at;
} Counting;

static Counting counting;
static StrataBackend counting_table;

static StrataStatus
counting_linear (const StrataBackend *be, float *y, const float *x, const StrataMat *w, const float *b, int R, int N,
                 int K, StrataPrecision precision)
{
  const StrataBackend *cpu = strata_backend_cpu ();
  counting.linear_calls++;
  if (counting.cancel && counting.linear_calls == counting.cancel_at)
    g_cancellable_cancel (counting.cancel);
  return cpu->linear (cpu, y, x, w, b, R, N, K, precision);
}

static const StrataBackend *
counting_backend (void)
{
  counting_table = *strata_backend_cpu ();
  counting_table.linear = counting_linear;
  return &counting_table;
}

static int
counting_abort_cb (void *data)
{
  counting.abort_calls++;
  if (counting.linear_at_abort)
    g_array_append_val (counting.linear_at_abort, counting.linear_calls);
  if (counting.stop_at == 0 || counting.abort_calls < counting.stop_at)
    return 0;
  if (counting.abort_calls == counting.stop_at)
    counting.linear_at_stop = counting.linear_calls;
  return 1;
}

/* Forget every count (and the cancellable), then stop from abort call `stop_at` on. */
static void
counting_reset (guint stop_at)
{
  g_clear_pointer (&counting.linear_at_abort, g_array_unref);
  counting = (Counting) { 0 };
  counting.stop_at = stop_at;
  counting.linear_at_abort = g_array_new (FALSE, FALSE, sizeof (guint));
}

/* After an unstopped run: the most products between two abort checks, or after the last. */
static guint
counting_layer_work (void)
{
  guint most = 0, prev = 0;
  for (guint i = 0; i < counting.linear_at_abort->len; i++) {
    guint at = g_array_index (counting.linear_at_abort, guint, i);
    most = MAX (most, at - prev);
    prev = at;
  }
  return MAX (most, counting.linear_calls - prev);
}

static StrataEngine *
counting_engine (const StrataWeights *w)
{
  StrataStatus st;
  StrataEngine *e = strata_engine_new (counting_backend (), w, &st);
  g_assert_nonnull (e);
  return e;
}
