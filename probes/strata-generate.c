/* strata-generate.c: greedy and seeded nucleus sampling over KV-cached decode steps. */
#include "strata-generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strata-probes-private.h"

static int32_t
argmax (const float *logits, int V)
{
  int32_t best = 0;
  for (int v = 1; v < V; v++)
    if (logits[v] > logits[best])
      best = v;
  return best;
}

/* Whether a candidate comes before another: the more probable first, ties by id. */
static gboolean
before (const StrataCandidate *a, const StrataCandidate *b)
{
  return a->p != b->p ? a->p > b->p : a->id < b->id;
}

static void
sift_down (StrataCandidate *h, int n, int i)
{
  for (;;) {
    int l = 2 * i + 1, first = i;
    if (l < n && before (&h[l], &h[first]))
      first = l;
    if (l + 1 < n && before (&h[l + 1], &h[first]))
      first = l + 1;
    if (first == i)
      return;
    StrataCandidate t = h[i];
    h[i] = h[first], h[first] = t;
    i = first;
  }
}

int32_t
_strata_sample (const float *logits, int V, double t, double top_p, GRand *rng, StrataCandidate *c)
{
  double max = logits[argmax (logits, V)], sum = 0;
  for (int v = 0; v < V; v++) {
    c[v] = (StrataCandidate) { exp ((logits[v] - max) / t), v };
    sum += c[v].p;
  }
  /* The nucleus in order, most probable first, taken from a heap: O(V + k log V) for k kept
   * tokens, where sorting the vocabulary (128256 for Llama 3) cost more than a decode step on
   * a GPU. Each one taken goes to the end: the nucleus is c[V-1], c[V-2], ... */
  for (int i = V / 2 - 1; i >= 0; i--)
    sift_down (c, V, i);
  int kept = 0, n = V;
  double mass = 0;
  while (kept < V && (kept == 0 || mass < top_p * sum)) {
    StrataCandidate top = c[0];
    c[0] = c[--n];
    c[n] = top;
    sift_down (c, n, 0);
    mass += top.p;
    kept++;
  }
  double u = g_rand_double (rng) * mass, acc = 0;
  for (int i = 0; i < kept; i++) {
    acc += c[V - 1 - i].p;
    if (u < acc)
      return c[V - 1 - i].id;
  }
  return c[V - kept].id;
}

static gboolean
generate (StrataEngine *e, StrataModel *model, GArray *ids, const StrataGenerateOptions *o, StrataTokenFunc on_token,
          gpointer data, GError **error)
{
  const StrataConfig *c = &model->weights->cfg;
  if (ids->len == 0 || o->n < 0 || !(o->temperature >= 0) || !(o->top_p > 0 && o->top_p <= 1)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "generation needs a prompt, n >= 0, a temperature >= 0 and top-p in (0, 1]");
    return FALSE;
  }
  guint first = ids->len;
  int room = c->n_ctx - (int) first, steps = o->n < room ? o->n : room;
  if (steps <= 0)
    return TRUE;
  g_autofree float *logits = g_new (float, c->vocab);
  g_autofree StrataCandidate *scratch = o->temperature > 0 ? g_new (StrataCandidate, c->vocab) : NULL;
  g_autoptr (GRand) rng = g_rand_new_with_seed (o->seed);
  /* The last new token needs no step of its own: the cache holds every position but it. */
  StrataKVCache *cache = strata_kv_cache_new (e, (int) first + steps - 1);
  if (!cache)
    return _strata_probe_pass_failed (e, STRATA_ERR_MEMORY, "generation", error);
  gboolean ok = TRUE;
  for (int step = 0; step < steps; step++) {
    /* The prompt in one step, then each new token. */
    int from = step == 0 ? 0 : (int) ids->len - 1;
    StrataStatus st = strata_engine_step (e, cache, (const int32_t *) ids->data + from, (int) ids->len - from, logits);
    if (st != STRATA_OK) {
      ok = _strata_probe_pass_failed (e, st, "decode step", error);
      break;
    }
    int32_t next = o->temperature > 0 ? _strata_sample (logits, c->vocab, o->temperature, o->top_p, rng, scratch)
                                      : argmax (logits, c->vocab);
    if (next == model->eos_id)
      break;
    g_array_append_val (ids, next);
    if (on_token && !on_token (next, data))
      break;
    if (o->stop && *o->stop && model->tokenizer) {
      g_autofree char *text = strata_tokenizer_decode (model->tokenizer, (const int32_t *) ids->data + first,
                                                       ids->len - first);
      if (text && strstr (text, o->stop))
        break;
    }
    if (g_cancellable_set_error_if_cancelled (o->cancellable, error)) {
      ok = FALSE;
      break;
    }
  }
  strata_kv_cache_free (cache);
  return ok;
}

gboolean
strata_generate (StrataEngine *e, StrataModel *model, GArray *ids, const StrataGenerateOptions *o,
                 StrataTokenFunc on_token, gpointer data, GError **error)
{
  if (o->cancellable)
    strata_engine_set_abort (e, _strata_probe_cancelled_cb, o->cancellable);
  gboolean ok = generate (e, model, ids, o, on_token, data, error);
  if (o->cancellable)
    strata_engine_set_abort (e, NULL, NULL);
  return ok;
}

gboolean
strata_generate_prompt (StrataEngine *e, StrataModel *model, StrataPrompt *p, const StrataGenerateOptions *o,
                        StrataTokenFunc on_token, gpointer data, GError **error)
{
  guint before = p->ids->len;
  gboolean ok = strata_generate (e, model, p->ids, o, on_token, data, error);
  p->n_generated = (int) (p->ids->len - before);
  g_clear_pointer (&p->corrupt_ids, g_array_unref);
  return ok;
}
