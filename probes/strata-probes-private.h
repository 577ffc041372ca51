/* strata-probes-private.h: what every probe shares when a pass of the engine fails. */
#pragma once

#include <gio/gio.h>

#include "strata-data-error.h"
#include "strata-engine.h"

/* Turn a failed pass (status `st`) into a GError. A pass stopped by the engine's abort check
 * (strata_engine_set_abort) is G_IO_ERROR_CANCELLED, as GCancellable users expect, not a
 * failure; anything else is "WHAT: the engine's message". Returns FALSE for `return`. */
static inline gboolean
_strata_probe_pass_failed (StrataEngine *e, StrataStatus st, const char *what, GError **error)
{
  if (st == STRATA_ERR_CANCELLED)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Cancelled");
  else
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED, "%s: %s", what, strata_engine_get_error (e));
  return FALSE;
}

/* The engine's abort function of a probe that stops on a GCancellable (GCancellable is
 * thread-safe): data is the cancellable. */
static inline int
_strata_probe_cancelled_cb (void *data)
{
  return g_cancellable_is_cancelled (data);
}

/* Between two passes of a long probe: the same abort check the engine asks between layers. */
static inline gboolean
_strata_probe_check_abort (StrataEngine *e, GError **error)
{
  if (!strata_engine_should_abort (e))
    return TRUE;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Cancelled");
  return FALSE;
}

/* A token of the vocabulary and its unnormalised probability, for sampling. */
typedef struct {
  double p;
  int32_t id;
} StrataCandidate;

/* One draw from softmax(logits / t) over the top_p nucleus: the fewest most probable tokens
 * (ties by id) whose probability reaches top_p, walked in that order against one uniform draw
 * of `rng` (strata-generate.c). c: room for V candidates. */
int32_t _strata_sample (const float *logits, int V, double t, double top_p, GRand *rng, StrataCandidate *c);
