/* strata-patching-fast.c: the patching sweep as batched suffix passes, and aggregation
 * over a prompt set.
 *
 * Every cell of every map is one job: a patched copy of the base run that starts at block
 * `layer` and position `pos` (the earliest position it patches) and is scored at the
 * answer position. Jobs sorted by (layer, pos) go to strata_engine_forward_jobs() in chunks
 * of bounded size; in one chunk every job running a block shares one product per weight
 * matrix, whatever its start (a job whose first patches come after that block's keys and
 * values computes one row there: the engine decides). Two kinds of cell need no pass:
 *  - a patch that writes the bits already there (the source and base runs agree there, as
 *    at every position before the first token where the inputs differ) is dropped; a cell
 *    left with none takes the base run's metric, and a head patched at every position
 *    starts at the first position where it changes something;
 *  - in the last block, patches that cannot change its keys and values
 *    (strata_site_changes_keys) at positions other than the answer's cannot reach the
 *    answer: the cell's metric is the base run's, which the full pass reproduces bit for bit
 *    (the answer row meets the same numbers in the same products). */
#include <stdlib.h>
#include <string.h>

#include "strata-data-error.h"
#include "strata-patching-private.h"
#include "strata-probes-private.h"

typedef struct {
  int layer, pos;   /* where its pass starts; layer -1: no pass, the base run's metric */
  int map, row, col;
  int n_patches;
  StrataPatch *patches; /* into the sweep's patch list */
} Job;

static int
job_cmp (const void *a, const void *b)
{
  const Job *x = a, *y = b;
  if (x->layer != y->layer)
    return x->layer - y->layer;
  return x->pos - y->pos;
}

/* Chunk bounds: compact rows (every job's positions from its start), floats of the full
 * (jobs, T) attention tensors, and logits when every logit is asked for; within them a chunk
 * is sized to the memory the backend has free. */
#define MAX_ROWS 4096
#define MAX_FULL_FLOATS (32u << 20)
#define MAX_LOGIT_FLOATS (16u << 20)

/* The base run's floats that patch `p` overwrites. */
static const float *
base_floats (const StrataPatchRuns *runs, const StrataConfig *g, const StrataPatch *p)
{
  size_t T = (size_t) runs->T, C = g->d_model, HD = (size_t) g->n_heads * g->d_head;
  size_t row = (size_t) p->layer * T + (size_t) p->pos;
  switch (p->site) {
  case STRATA_SITE_RESID_PRE: return runs->base_resid + row * C;
  case STRATA_SITE_ATTN_OUT: return runs->base_attn + row * C;
  case STRATA_SITE_MLP_OUT: return runs->base_mlp + row * C;
  case STRATA_SITE_ATTN_Z: return runs->base_z + row * HD + (p->head >= 0 ? (size_t) p->head * g->d_head : 0);
  default: return NULL;
  }
}

/* A patch that writes the bits already there changes nothing. */
static gboolean
changes_nothing (const StrataPatchRuns *runs, const StrataConfig *g, const StrataPatch *p)
{
  const float *base = base_floats (runs, g, p);
  size_t floats = p->site == STRATA_SITE_ATTN_Z ? (size_t) (p->head >= 0 ? 1 : g->n_heads) * g->d_head
                                                : (size_t) g->d_model;
  return base && memcmp (base, p->src, floats * sizeof (float)) == 0;
}

/* Fill in where cell (row, col) of `m` starts and which patches it applies. */
static void
plan_cell (const StrataPatchRuns *runs, const StrataConfig *g, const StrataPatchMap *m, int answer_pos, Job *j,
           StrataPatch *patches)
{
  int first = 0;
  j->patches = patches;
  j->n_patches = _strata_patch_cell (runs, g, m->site, m->head_pos, j->row, j->col, 0, patches, &first);
  /* Keep the patches that change something; the pass starts at the first of them. */
  int kept = 0;
  first = runs->T;
  for (int i = 0; i < j->n_patches; i++)
    if (!changes_nothing (runs, g, &patches[i])) {
      first = MIN (first, patches[i].pos);
      patches[kept++] = patches[i];
    }
  j->n_patches = kept;
  j->layer = j->row, j->pos = first;
  if (kept == 0) {
    j->layer = -1;
    return;
  }
  /* Every patch of a cell is in block `row`; in the last block only a patch at the answer
   * or one that changes the keys and values can reach the answer. */
  gboolean reaches = j->row < g->n_layers - 1;
  for (int i = 0; i < kept && !reaches; i++)
    reaches = patches[i].pos == answer_pos || strata_site_changes_keys (patches[i].site);
  if (!reaches)
    j->layer = -1;
}

StrataPatchResult *
strata_patch_run (StrataEngine *e, const StrataPrompt *prompt, const StrataTarget *target,
                  const StrataPatchOptions *opts, GError **error)
{
  StrataPatchRuns runs;
  g_autoptr (StrataPatchResult) r = _strata_patch_result_new (e, prompt, target, opts, &runs, TRUE, error);
  if (!r) {
    _strata_patch_runs_clear (&runs);
    return NULL;
  }
  const StrataConfig *g = strata_engine_get_config (e);
  int T = runs.T, V = g->vocab;
  size_t full_per_job = (size_t) T * ((size_t) g->n_heads * T + 2 * (size_t) g->n_heads * g->d_head +
                                      2 * (size_t) g->n_kv_heads * g->d_head);
  guint n_cells = 0;
  for (guint i = 0; i < r->maps->len; i++)
    n_cells += ((StrataPatchMap *) r->maps->pdata[i])->rows * ((StrataPatchMap *) r->maps->pdata[i])->cols;
  g_autofree Job *jobs = g_new0 (Job, n_cells);
  g_autofree StrataPatch *patches = g_new (StrataPatch, (size_t) n_cells * T);
  guint n = 0;
  for (guint i = 0; i < r->maps->len; i++) {
    StrataPatchMap *m = r->maps->pdata[i];
    for (int row = 0; row < m->rows; row++)
      for (int col = 0; col < m->cols; col++, n++) {
        jobs[n] = (Job) { 0, 0, (int) i, row, col, 0, NULL };
        plan_cell (&runs, g, m, r->answer_pos, &jobs[n], patches + (size_t) n * T);
      }
  }
  qsort (jobs, n_cells, sizeof (Job), job_cmp);

  /* Logit difference needs two logits per job; the other metrics all of them. */
  gboolean two = r->metric == STRATA_METRIC_LOGIT_DIFF;
  int32_t ids[2] = { r->target, r->contrast };
  int per_job = two ? 2 : V;
  g_autofree StrataSuffixJob *chunk = g_new (StrataSuffixJob, n_cells);
  g_autofree float *out = NULL;
  size_t out_cap = 0;
  const float *base_row = runs.base_logits + (size_t) r->answer_pos * V;
  /* Three quarters of it: the host arrays of the sweep (its output, the patch rows on their
   * way up) come on top. */
  size_t budget = strata_engine_memory_free (e) / 4 * 3;
  gboolean ok = TRUE;
  for (guint start = 0; start < n_cells && ok;) {
    if (jobs[start].layer < 0) {
      StrataPatchMap *m = r->maps->pdata[jobs[start].map];
      double v = _strata_patch_metric (r, base_row, V, runs.base_top1);
      m->metric[jobs[start].row * m->cols + jobs[start].col] = v;
      m->score[jobs[start].row * m->cols + jobs[start].col] = _strata_patch_score (r, v);
      start++;
      continue;
    }
    guint end = start;
    size_t rows = 0;
    while (end < n_cells && (end == start || (rows + (size_t) (T - jobs[end].pos) <= MAX_ROWS &&
                                             (end - start + 1) * full_per_job <= MAX_FULL_FLOATS &&
                                             (end - start + 1) * (size_t) per_job <= MAX_LOGIT_FLOATS))) {
      const Job *j = &jobs[end];
      chunk[end - start] = (StrataSuffixJob) { j->layer, j->pos, j->patches, j->n_patches };
      rows += (size_t) (T - j->pos);
      end++;
    }
    /* The engine asks between layers; asking between chunks too stops a sweep of many
     * short chunks as soon. */
    if (!_strata_probe_check_abort (e, error)) {
      ok = FALSE;
      break;
    }
    /* Halved until its activations fit in what the backend has free (a chunk of one job
     * that does not fit fails in the engine, naming the bytes needed and free). */
    while (end - start > 1 && strata_engine_forward_jobs_bytes (e, &runs.prefix, chunk, (int) (end - start),
                                                                r->answer_pos, two ? ids : NULL, two ? 2 : 0)
                                  > budget)
      end = start + (end - start) / 2;
    int B = (int) (end - start);
    if ((size_t) B * per_job > out_cap) {
      out_cap = (size_t) B * per_job;
      g_free (out);
      out = g_new (float, out_cap);
    }
    StrataStatus st = strata_engine_forward_jobs (e, &runs.prefix, chunk, B, r->answer_pos, two ? ids : NULL,
                                                  two ? 2 : 0, out);
    if (st != STRATA_OK) {
      ok = _strata_probe_pass_failed (e, st, "patched pass failed", error);
      break;
    }
    for (int b = 0; b < B; b++) {
      const Job *j = &jobs[start + b];
      StrataPatchMap *m = r->maps->pdata[j->map];
      const float *row = out + (size_t) b * per_job;
      double v = two ? (double) row[0] - row[1] : _strata_patch_metric (r, row, V, runs.base_top1);
      m->metric[j->row * m->cols + j->col] = v;
      m->score[j->row * m->cols + j->col] = _strata_patch_score (r, v);
    }
    start = end;
  }
  _strata_patch_runs_clear (&runs);
  return ok ? g_steal_pointer (&r) : NULL;
}

void
strata_patch_aggregate_free (StrataPatchAggregate *a)
{
  if (!a)
    return;
  g_free (a->tag);
  g_free (a->mean_score), g_free (a->mean_metric);
  g_free (a);
}

static StrataPatchAggregate *
find_or_add (GPtrArray *out, const char *tag, const StrataPatchMap *m)
{
  for (guint i = 0; i < out->len; i++) {
    StrataPatchAggregate *a = out->pdata[i];
    if (strcmp (a->tag, tag) == 0 && a->site == m->site && a->rows == m->rows && a->cols == m->cols)
      return a;
  }
  StrataPatchAggregate *a = g_new0 (StrataPatchAggregate, 1);
  a->tag = g_strdup (tag);
  a->site = m->site;
  a->rows = m->rows, a->cols = m->cols;
  a->mean_score = g_new0 (double, (size_t) m->rows * m->cols);
  a->mean_metric = g_new0 (double, (size_t) m->rows * m->cols);
  g_ptr_array_add (out, a);
  return a;
}

static void
add_result (GPtrArray *out, const char *tag, const StrataPatchResult *r)
{
  for (guint i = 0; i < r->maps->len; i++) {
    const StrataPatchMap *m = r->maps->pdata[i];
    StrataPatchAggregate *a = find_or_add (out, tag, m);
    for (int c = 0; c < m->rows * m->cols; c++) {
      a->mean_score[c] += m->score[c];
      a->mean_metric[c] += m->metric[c];
    }
    a->n_prompts++;
  }
}

/* results: one per prompt of the set (NULL where none), or one per prompt that has a
 * corrupted input, in order. */
GPtrArray *
strata_patch_aggregate (const StrataPromptSet *set, GPtrArray *results)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_patch_aggregate_free);
  gboolean aligned = results->len == set->prompts->len;
  /* "all" first: a first pass adds every result under "all", a second the tags. */
  for (int pass = 0; pass < 2; pass++) {
    guint next = 0;
    for (guint i = 0; i < set->prompts->len; i++) {
      const StrataPrompt *p = set->prompts->pdata[i];
      const StrataPatchResult *r = NULL;
      if (aligned)
        r = results->pdata[i];
      else if (p->corrupt_ids && next < results->len)
        r = results->pdata[next++];
      if (!r)
        continue;
      if (pass == 0)
        add_result (out, "all", r);
      else
        for (int t = 0; p->tags[t]; t++)
          add_result (out, p->tags[t], r);
    }
  }
  for (guint i = 0; i < out->len; i++) {
    StrataPatchAggregate *a = out->pdata[i];
    for (int c = 0; c < a->rows * a->cols; c++) {
      a->mean_score[c] /= a->n_prompts;
      a->mean_metric[c] /= a->n_prompts;
    }
  }
  return out;
}
