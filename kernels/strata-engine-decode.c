/* strata-engine-decode.c: incremental decoding. The KV cache object, and the step that runs
 * new tokens as a decode pass of strata-engine-pass.c (the same block as every pass). */
#include "strata-engine.h"
#include "strata-engine-private.h"

#include <stdlib.h>

StrataKVCache *
strata_kv_cache_new (StrataEngine *e, int capacity)
{
  const StrataConfig *g = &e->w.cfg;
  e->error[0] = '\0';
  if (capacity <= 0 || capacity > g->n_ctx) {
    fail (e, STRATA_ERR_ARGUMENT, "KV cache of %d positions: the model's context is %d", capacity, g->n_ctx);
    return NULL;
  }
  size_t floats = (size_t) g->n_layers * capacity * g->n_kv_heads * g->d_head;
  if (strata_engine_check_memory (e, 2 * floats * sizeof (float), 0, "the KV cache") != STRATA_OK)
    return NULL;
  StrataKVCache *c = calloc (1, sizeof *c);
  if (c) {
    *c = (StrataKVCache) { .be = e->be, .capacity = capacity };
    c->k = e->be->alloc (e->be, floats);
    c->v = c->k ? e->be->alloc (e->be, floats) : NULL;
  }
  if (!c || !c->v) {
    fail (e, STRATA_ERR_MEMORY, "cannot allocate a KV cache of %d positions (%zu MiB on the %s backend)",
          capacity, 2 * floats * sizeof (float) >> 20, e->be->name);
    strata_kv_cache_free (c);
    return NULL;
  }
  return c;
}

void
strata_kv_cache_free (StrataKVCache *c)
{
  if (!c)
    return;
  if (c->k)
    c->be->free (c->be, c->k);
  if (c->v)
    c->be->free (c->be, c->v);
  free (c);
}

int
strata_kv_cache_length (const StrataKVCache *c)
{
  return c->length;
}

StrataStatus
strata_engine_step (StrataEngine *e, StrataKVCache *c, const int32_t *tokens, int N, float *logits)
{
  const StrataConfig *g = &e->w.cfg;
  e->error[0] = '\0';
  if (c->be != e->be)
    return fail (e, STRATA_ERR_ARGUMENT, "decode step: the KV cache belongs to another backend");
  if (N <= 0 || c->length + N > c->capacity)
    return fail (e, STRATA_ERR_ARGUMENT, "decode step: %d new tokens after %d do not fit the cache of %d positions",
                 N, c->length, c->capacity);
  for (int i = 0; i < N; i++)
    if (tokens[i] < 0 || tokens[i] >= g->vocab)
      return fail (e, STRATA_ERR_ARGUMENT, "decode step: token id %d is outside the vocabulary (%d)", tokens[i],
                   g->vocab);
  int T = c->length + N;
  PassJob job = { .pos = c->length, .out_pos = T - 1 };
  Pass pass = { .jobs = &job, .n = 1, .T = T, .read_one = 1, .tokens = tokens, .kv = c, .out = logits };
  StrataStatus st = _strata_engine_run_pass (e, &pass);
  if (st == STRATA_OK)
    c->length = T;
  return st;
}
