/* strata-generate.h: continuing a token sequence with the model, greedy or sampled.
 *
 * The prompt runs once into a KV cache (strata_engine_step), then each new token runs alone
 * against the cached keys and values: a step costs O(T), not a full pass of O(T²), and the
 * logits are those of a full forward pass up to float32 rounding (tests/test-decode.c checks
 * 1e-5 at every step). Greedy takes the argmax (the lowest id on a tie). Sampling
 * draws from softmax(logits / temperature) restricted to the smallest set of most probable
 * tokens whose probability reaches top_p, with a GRand seeded by `seed`: the same settings
 * give the same tokens on every run. Generation stops after n tokens, at the model's EOS (not
 * appended), when the context is full, when the decoded continuation contains `stop`, or when
 * `cancellable` is cancelled: between tokens, and through the engine's abort function between
 * the layers of a pass (so a long pass of a large model stops within one layer). */
#pragma once

#include <gio/gio.h>

#include "strata-engine.h"
#include "strata-model.h"
#include "strata-prompt-set.h"

G_BEGIN_DECLS

typedef struct {
  int n;               /* at most this many new tokens */
  double temperature;  /* 0: greedy */
  double top_p;        /* in (0, 1]; 1: the whole vocabulary */
  guint32 seed;        /* of the sampler */
  const char *stop;    /* optional: stop once the continuation's text contains it */
  GCancellable *cancellable; /* optional */
} StrataGenerateOptions;

/* Called with each new token (already appended to ids); return FALSE to stop. */
typedef gboolean (*StrataTokenFunc) (int32_t id, gpointer data);

/* Append the continuation to `ids` (int32_t, not empty). FALSE with an error when a pass
 * fails, when it was cancelled (G_IO_ERROR_CANCELLED) or an option is out of range; the
 * tokens appended so far stay. While it runs the engine's abort function is its own (when
 * there is a cancellable); it is removed afterwards. */
gboolean strata_generate (StrataEngine *e, StrataModel *model, GArray *ids, const StrataGenerateOptions *o,
                          StrataTokenFunc on_token, gpointer data, GError **error);

/* Continue prompt `p` in place: its ids become the prompt's followed by the continuation,
 * n_generated counts the continuation, and a corrupted input (which no longer matches the
 * longer sequence) is dropped. The analysed sequence of `strata lens --generate` and of the
 * window's Generate. On failure (cancelled included) the tokens generated so far stay,
 * counted. */
gboolean strata_generate_prompt (StrataEngine *e, StrataModel *model, StrataPrompt *p, const StrataGenerateOptions *o,
                                 StrataTokenFunc on_token, gpointer data, GError **error);

G_END_DECLS
