/* strata-engine.h: run a model on a backend, with hooks that cache or patch activations.
 *
 * The engine owns the weights copied to its backend (converted once to dtypes the backend
 * takes) and the scratch it needs. Nothing above kernels/ knows which backend runs: callers
 * pass host arrays in and get host arrays out. Every entry point runs the same pass and
 * block (strata-engine-pass.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "strata-backend.h"
#include "strata-sites.h"
#include "strata-status.h"
#include "strata-weights.h"

typedef struct StrataEngine StrataEngine;

/* Read an activation: the whole site, copied into `dst` (host, layout of strata-sites.h). */
typedef struct {
  StrataSite site;
  int layer; /* -1 for sites outside the blocks */
  float *dst;
} StrataCache;

/* Overwrite an activation at one (sequence, position), all heads or one head, with `src`
 * (host): strata_site_row_floats() floats, or D floats when head >= 0 (per-head sites:
 * hook_q/k/v/z; a patched hook_z head is how a head's output is patched). */
typedef struct {
  StrataSite site;
  int layer;
  int batch;    /* sequence index in [0, B) */
  int pos;      /* position in [0, T) */
  int head;     /* -1: the whole row */
  const float *src;
} StrataPatch;

typedef struct {
  const StrataCache *caches;
  int n_caches;
  const StrataPatch *patches;
  int n_patches;
} StrataHooks;

/* How the engine keeps the weights on its backend. */
typedef struct {
  /* Matrices in a dtype the backend takes only by converting them on every product (16-bit
   * on the CPU) are converted to F32 once when that copy takes at most this many bytes, and
   * kept as they are otherwise (a model whose F32 copy would not fit in memory). 0: half the
   * memory the system has available now. */
  size_t convert_limit;
  /* Of every product of a forward pass, lens and sweep (strata-recipe.h); 0: exact fp32. */
  StrataPrecision precision;
} StrataEngineOptions;

/* The engine with the default options. The weights stay the caller's and must outlive the
 * engine; weights loaded into a device's memory (strata-weights-device.h) run only on that
 * backend (else STRATA_ERR_ARGUMENT) and are used in place, never copied or converted. */
StrataEngine *strata_engine_new (const StrataBackend *backend, const StrataWeights *weights,
                                 StrataStatus *status);
StrataEngine *strata_engine_new_with (const StrataBackend *backend, const StrataWeights *weights,
                                      const StrataEngineOptions *options, StrataStatus *status);
/* Whether the engine converts 16-bit matrices on every product (it kept them as they were). */
int strata_engine_converts_per_product (const StrataEngine *e);

void strata_engine_free (StrataEngine *e);

const StrataConfig *strata_engine_get_config (const StrataEngine *e);
const StrataBackend *strata_engine_get_backend (const StrataEngine *e);
StrataPrecision strata_engine_get_precision (const StrataEngine *e);
/* Asked between layers of every pass (and by callers between chunks of a sweep): a
 * nonzero answer stops the pass, which returns STRATA_ERR_CANCELLED. The function may be
 * called from the thread running the engine only; it should be cheap (an atomic read).
 * NULL removes it. */
typedef int (*StrataAbortFunc) (void *data);
void strata_engine_set_abort (StrataEngine *e, StrataAbortFunc abort_fn, void *data);
/* Whether the abort function asks to stop now (0 without one). */
int strata_engine_should_abort (const StrataEngine *e);

/* Message of the last failure, "" when none. */
const char *strata_engine_get_error (const StrataEngine *e);

/* tokens (B, T) -> logits (B, T, V) on the host (NULL: not copied out). Patches apply
 * where their site is computed, caches read after patches (a cache sees patched values). */
StrataStatus strata_engine_forward (StrataEngine *e, const int32_t *tokens, int B, int T,
                                    const StrataHooks *hooks, float *logits);

/* Bytes of the engine's backend memory a strata_engine_forward() of this shape and hooks
 * that returns no logits (as the lens runs it) needs for its activations. Weights are
 * resident already and not counted; host arrays the caller passes are the caller's. */
size_t strata_engine_forward_bytes (StrataEngine *e, int B, int T, const StrataHooks *hooks);

/* STRATA_OK when `bytes` more fit in the free memory of the engine's backend (host != 0, or a
 * host-memory backend: host memory, /proc/meminfo MemAvailable), as strata_backend_memory_free
 * says (STRATA_MEMORY_LIMIT lowers it); else STRATA_ERR_MEMORY and a message naming what,
 * the bytes needed and the bytes free. Every pass checks its own activations with it before
 * allocating them, the KV cache its keys and values; callers check their host arrays. */
StrataStatus strata_engine_check_memory (StrataEngine *e, size_t bytes, int host, const char *what);
/* Bytes a pass may hold in the engine's backend memory: what is free there (as
 * strata_engine_check_memory reads it) plus the activations the engine holds already (a
 * larger pass frees them first). */
size_t strata_engine_memory_free (StrataEngine *e);

/* Logit lens: logits (R, V) = W_U · N_final(x) + b_U for R residual rows x (R, C) given on
 * the host, through the model's own output transform (its final soft-cap). raw != 0 skips
 * the final norm. */
StrataStatus strata_engine_unembed (StrataEngine *e, const float *x, int R, int raw, float *logits);
/* The same rows reduced where the logits are (on the GPU for CUDA): only the log-sum-exp, the
 * top-k and the targets' logits and ranks come back to host arrays (strata-backend.h), never
 * the (R, V) logits. The rows are n_segments runs of consecutive rows (segment_rows[s] each,
 * summing to R; NULL with n_segments 1: all R), segment s answering queries[s] into out[s]:
 * rows of several prompts, each with its own targets, unembedded in one product. */
StrataStatus strata_engine_unembed_summary (StrataEngine *e, const float *x, int R, int raw,
                                            const int *segment_rows, int n_segments,
                                            const StrataLogitQuery *queries, StrataLogitSummary *out);

/* The unpatched run that strata_engine_forward_suffix() continues: host arrays of one
 * sequence of T tokens, as cached by strata_engine_forward() (B = 1). */
typedef struct {
  int T;
  const float *const *resid_pre; /* L entries, each (T, C): blocks.l.hook_resid_pre */
  const float *const *k;         /* L entries, each (T, K*D): blocks.l.attn.hook_k (pre-RoPE) */
  const float *const *v;         /* L entries, each (T, K*D): blocks.l.attn.hook_v */
  /* Optional (NULL when not given), L entries each (T, C): hook_attn_out and hook_resid_mid.
   * A job whose first block computes one row (strata_engine_forward_jobs) takes these values
   * there, so that row holds the base run's bits up to its first patched site. */
  const float *const *attn_out, *const *resid_mid;
} StrataPrefix;

/* One patched copy of a base run in strata_engine_forward_jobs() (_set). */
typedef struct {
  int layer;                  /* first block it runs, 0..L-1 */
  int pos;                    /* first position it recomputes, <= its base's read position */
  const StrataPatch *patches; /* its patches (`batch` is ignored): layer >= `layer`, pos >= `pos`,
                               * at any per-layer site but the pattern and hook_result */
  int n_patches;
  int base;                   /* _set: the index of its base run; else 0 */
} StrataSuffixJob;

/* One base run of strata_engine_forward_jobs_set() and how its jobs are read out. */
typedef struct {
  const StrataPrefix *prefix;
  int out_pos;                /* the read position of its jobs */
  const int32_t *ids;         /* the call's n_ids vocabulary ids whose logits its jobs return;
                               * NULL when n_ids is 0 */
} StrataJobBase;

/* The activation-patching fast path (DESIGN.md section 5), one batched pass for many
 * patched copies of base sequences (several prompts' runs of equal length T, or one). Job j
 * runs blocks layer_j..L-1 over positions pos_j..T-1 only: its residual rows start from its
 * base's resid_pre[layer_j], and the keys/values of positions < pos_j at every layer come
 * from that base run (causal masking leaves them unchanged by any patch at a position >=
 * pos_j). Jobs must be sorted by layer; each job's rows join the batch at its own layer, so
 * one product per weight matrix serves every job running that block, whichever its base.
 * hook_resid_pre at `layer` itself is applied before the block runs. A job whose patches in
 * its first block all sit at `pos` in the block's MLP half (resid_mid onward) computes only
 * row `pos` there. Output, for its base's read position, per job: with n_ids == 0 the logits
 * (n_jobs, V); else only the logits of its base's n_ids vocabulary ids, (n_jobs, n_ids), each
 * a dot product summed in double on the host. Equal to strata_engine_forward() with the same
 * patches, up to the rounding of matrix products over a different number of rows. Every base
 * gives the same optional sites; only the bases some job names are uploaded. Host memory is
 * read once per call (those base runs and every patch row are uploaded together). */
StrataStatus strata_engine_forward_jobs_set (StrataEngine *e, const StrataJobBase *bases, int n_bases,
                                             const StrataSuffixJob *jobs, int n_jobs, int n_ids, float *out);
/* Bytes of the engine's backend memory that call would hold for its activations (the base runs
 * and the patch rows included): a caller sizes its batches with it against
 * strata_engine_memory_free(). 0 when the arguments are invalid (the call would fail). */
size_t strata_engine_forward_jobs_set_bytes (StrataEngine *e, const StrataJobBase *bases, int n_bases,
                                             const StrataSuffixJob *jobs, int n_jobs, int n_ids);
/* The same over one base run, read at out_pos; ids NULL: every logit. */
StrataStatus strata_engine_forward_jobs (StrataEngine *e, const StrataPrefix *base,
                                         const StrataSuffixJob *jobs, int n_jobs, int out_pos,
                                         const int32_t *ids, int n_ids, float *out);

/* The same for B copies that all start at (layer, pos); copy b receives the patches whose
 * `batch` is b. out_logits (B, V). */
StrataStatus strata_engine_forward_suffix (StrataEngine *e, const StrataPrefix *base, int layer,
                                           int pos, int B, const StrataPatch *patches,
                                           int n_patches, int out_pos, float *out_logits);

/* Incremental decoding: the keys and values of the positions one sequence has run so far,
 * kept in the backend's memory (device memory on CUDA) for every layer, so each new token
 * runs every block over its own row only. Keys are stored after RoPE (each is rotated once,
 * at its own position), values as computed. The cache belongs to the engine it was made for
 * and must be freed before it. */
typedef struct StrataKVCache StrataKVCache;

/* A cache for up to `capacity` positions (at most the model's context): L x capacity x K*D
 * floats each for keys and values. NULL with the engine's error when it cannot be allocated. */
StrataKVCache *strata_kv_cache_new (StrataEngine *e, int capacity);
void strata_kv_cache_free (StrataKVCache *c);
/* Positions it holds (0 when new). */
int strata_kv_cache_length (const StrataKVCache *c);

/* Run N new tokens at positions length..length+N-1 of the cached sequence through every block
 * (the same block as every pass, over those rows only, attending to the cached keys and
 * values), append their keys and values, and write the last new row's logits (V) to `logits`.
 * N is the prompt's length for the first step (the prefill), then 1. Equal to the last row
 * of strata_engine_forward() on the whole sequence up to the rounding of products over fewer
 * rows. No hooks: a run that caches or patches activations uses strata_engine_forward(). */
StrataStatus strata_engine_step (StrataEngine *e, StrataKVCache *c, const int32_t *tokens, int N,
                                 float *logits);
