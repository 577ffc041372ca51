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
  int prompt;       /* its prompt within the group */
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

/* One prompt of a group: its result (maps filled in as the passes return) and its runs. */
typedef struct {
  StrataPatchResult *result;
  StrataPatchRuns runs;
  int32_t ids[2];   /* target and contrast: its logit difference */
} Sweep;

/* Host bytes of one prompt's runs (StrataPatchRuns with the fast path's base sites). */
static size_t
runs_bytes (const StrataConfig *g, int T)
{
  size_t C = g->d_model, HD = (size_t) g->n_heads * g->d_head, KD = (size_t) g->n_kv_heads * g->d_head;
  return ((size_t) g->n_layers * T * (7 * C + 2 * HD + 2 * KD) + 2 * (size_t) T * g->vocab) * sizeof (float);
}

static void
set_cell (StrataPatchResult *r, const Job *j, double v)
{
  StrataPatchMap *m = r->maps->pdata[j->map];
  m->metric[j->row * m->cols + j->col] = v;
  m->score[j->row * m->cols + j->col] = _strata_patch_score (r, v);
}

/* The set's progress callback, and the prompts done before a group. */
typedef struct {
  StrataPatchProgress fn;
  gpointer data;
  double done;
} GroupProgress;

/* Every cell of the group's prompts (n, equal length, all or none by logit difference), as
 * batched passes over all of them; progress after each pass but the last. FALSE with the
 * error set. */
static gboolean
sweep_group (StrataEngine *e, Sweep *sw, guint n, const GroupProgress *progress, GError **error)
{
  const StrataConfig *g = strata_engine_get_config (e);
  int T = sw[0].runs.T, V = g->vocab;
  size_t full_per_job = (size_t) T * ((size_t) g->n_heads * T + 2 * (size_t) g->n_heads * g->d_head +
                                      2 * (size_t) g->n_kv_heads * g->d_head);
  guint n_cells = 0;
  for (guint k = 0; k < n; k++)
    for (guint i = 0; i < sw[k].result->maps->len; i++)
      n_cells += ((StrataPatchMap *) sw[k].result->maps->pdata[i])->rows *
                 ((StrataPatchMap *) sw[k].result->maps->pdata[i])->cols;
  g_autofree Job *jobs = g_new0 (Job, n_cells);
  g_autofree StrataPatch *patches = g_new (StrataPatch, (size_t) n_cells * T);
  g_autofree StrataJobBase *bases = g_new (StrataJobBase, n);
  guint c = 0;
  for (guint k = 0; k < n; k++) {
    StrataPatchResult *r = sw[k].result;
    sw[k].ids[0] = r->target, sw[k].ids[1] = r->contrast;
    bases[k] = (StrataJobBase) { &sw[k].runs.prefix, r->answer_pos, sw[k].ids };
    for (guint i = 0; i < r->maps->len; i++) {
      StrataPatchMap *m = r->maps->pdata[i];
      for (int row = 0; row < m->rows; row++)
        for (int col = 0; col < m->cols; col++, c++) {
          jobs[c] = (Job) { 0, 0, (int) k, (int) i, row, col, 0, NULL };
          plan_cell (&sw[k].runs, g, m, r->answer_pos, &jobs[c], patches + (size_t) c * T);
        }
    }
  }
  qsort (jobs, n_cells, sizeof (Job), job_cmp);

  /* Logit difference needs two logits per job; the other metrics all of them. */
  gboolean two = sw[0].result->metric == STRATA_METRIC_LOGIT_DIFF;
  int per_job = two ? 2 : V;
  g_autofree StrataSuffixJob *chunk = g_new (StrataSuffixJob, n_cells);
  g_autofree float *out = NULL;
  size_t out_cap = 0;
  /* Three quarters of it: the host arrays of the sweep (its output, the patch rows on their
   * way up) come on top. */
  size_t budget = strata_engine_memory_free (e) / 4 * 3;
  for (guint start = 0; start < n_cells;) {
    if (jobs[start].layer < 0) {
      Sweep *s = &sw[jobs[start].prompt];
      const float *base_row = s->runs.base_logits + (size_t) s->result->answer_pos * V;
      set_cell (s->result, &jobs[start], _strata_patch_metric (s->result, base_row, V, s->runs.base_top1));
      start++;
      continue;
    }
    guint end = start;
    size_t rows = 0;
    while (end < n_cells && (end == start || (rows + (size_t) (T - jobs[end].pos) <= MAX_ROWS &&
                                             (end - start + 1) * full_per_job <= MAX_FULL_FLOATS &&
                                             (end - start + 1) * (size_t) per_job <= MAX_LOGIT_FLOATS))) {
      const Job *j = &jobs[end];
      chunk[end - start] = (StrataSuffixJob) { j->layer, j->pos, j->patches, j->n_patches, j->prompt };
      rows += (size_t) (T - j->pos);
      end++;
    }
    /* The engine asks between layers; asking between chunks too stops a sweep of many
     * short chunks as soon. */
    if (!_strata_probe_check_abort (e, error))
      return FALSE;
    /* Halved until its activations fit in what the backend has free (a chunk of one job
     * that does not fit fails in the engine, naming the bytes needed and free). */
    while (end - start > 1 &&
           strata_engine_forward_jobs_set_bytes (e, bases, (int) n, chunk, (int) (end - start), two ? 2 : 0) > budget)
      end = start + (end - start) / 2;
    int B = (int) (end - start);
    if ((size_t) B * per_job > out_cap) {
      out_cap = (size_t) B * per_job;
      g_free (out);
      out = g_new (float, out_cap);
    }
    StrataStatus st = strata_engine_forward_jobs_set (e, bases, (int) n, chunk, B, two ? 2 : 0, out);
    if (st != STRATA_OK)
      return _strata_probe_pass_failed (e, st, "patched pass failed", error);
    for (int b = 0; b < B; b++) {
      const Job *j = &jobs[start + b];
      Sweep *s = &sw[j->prompt];
      const float *row = out + (size_t) b * per_job;
      set_cell (s->result, j, two ? (double) row[0] - row[1] : _strata_patch_metric (s->result, row, V, s->runs.base_top1));
    }
    start = end;
    if (progress->fn && end < n_cells)
      progress->fn (progress->done + (double) n * end / n_cells, progress->data);
  }
  return TRUE;
}

/* A request's place in the order of groups: by length, then logit difference or not. */
typedef struct {
  guint len;
  int logit_diff;
  guint index;
} Order;

static int
order_cmp (const void *a, const void *b)
{
  const Order *x = a, *y = b;
  if (x->len != y->len)
    return x->len < y->len ? -1 : 1;
  if (x->logit_diff != y->logit_diff)
    return x->logit_diff - y->logit_diff;
  return x->index < y->index ? -1 : x->index > y->index; /* the caller's order within a group */
}

GPtrArray *
strata_patch_run_set (StrataEngine *e, const StrataPatchRequest *requests, guint n, StrataPatchProgress progress,
                      gpointer data, guint *failed, GError **error)
{
  const StrataConfig *g = strata_engine_get_config (e);
  g_autofree Order *order = g_new (Order, n ? n : 1);
  for (guint i = 0; i < n; i++)
    order[i] = (Order) { requests[i].prompt->ids->len, requests[i].options.metric == STRATA_METRIC_LOGIT_DIFF, i };
  qsort (order, n, sizeof *order, order_cmp);
  g_autoptr (GPtrArray) results = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_patch_result_free);
  g_ptr_array_set_size (results, (gint) n);
  g_autofree Sweep *sw = g_new0 (Sweep, n ? n : 1);
  guint done = 0;
  *failed = G_MAXUINT;
  /* The runs of a group and their staging copy (twice the runs) in a quarter of free memory. */
  size_t group_bytes = MIN (STRATA_PATCH_GROUP_BYTES, strata_backend_memory_free (NULL) / 8);
  for (guint start = 0; start < n;) {
    /* A group: equal keys, up to group_bytes of runs (at least one prompt). */
    guint end = start;
    size_t bytes = 0, each = runs_bytes (g, (int) order[start].len);
    while (end < n && order[end].len == order[start].len && order[end].logit_diff == order[start].logit_diff &&
           (end == start || bytes + each <= group_bytes))
      bytes += each, end++;
    guint m = end - start;
    gboolean ok = TRUE;
    guint made = 0;
    for (; made < m && ok; made++) {
      const StrataPatchRequest *q = &requests[order[start + made].index];
      if (!(sw[made].result = _strata_patch_result_prepare (e, q->prompt, q->target, &q->options, error))) {
        *failed = order[start + made].index;
        ok = FALSE;
      }
    }
    if (ok) {
      *failed = m == 1 ? order[start].index : G_MAXUINT;
      g_autofree const GArray **base_ids = g_new (const GArray *, m), **src_ids = g_new (const GArray *, m);
      g_autofree StrataPatchRuns *runs = g_new (StrataPatchRuns, m);
      for (guint k = 0; k < m; k++)
        base_ids[k] = _strata_patch_base_ids (sw[k].result), src_ids[k] = _strata_patch_source_ids (sw[k].result);
      ok = _strata_patch_runs_init_set (runs, m, e, base_ids, src_ids, TRUE, error);
      for (guint k = 0; k < m; k++) {
        sw[k].runs = runs[k];
        if (ok)
          _strata_patch_result_set_baselines (sw[k].result, &sw[k].runs, g->vocab);
      }
      GroupProgress gp = { progress, data, done };
      ok = ok && sweep_group (e, sw, m, &gp, error);
    }
    for (guint k = 0; k < made; k++) {
      if (ok)
        results->pdata[order[start + k].index] = g_steal_pointer (&sw[k].result);
      strata_patch_result_free (sw[k].result);
      _strata_patch_runs_clear (&sw[k].runs);
      sw[k] = (Sweep) { 0 };
    }
    if (!ok)
      return NULL;
    done += m;
    if (progress)
      progress (done, data);
    start = end;
  }
  return g_steal_pointer (&results);
}

StrataPatchResult *
strata_patch_run (StrataEngine *e, const StrataPrompt *prompt, const StrataTarget *target,
                  const StrataPatchOptions *opts, GError **error)
{
  StrataPatchRequest one = { prompt, target, *opts };
  guint failed;
  g_autoptr (GPtrArray) results = strata_patch_run_set (e, &one, 1, NULL, NULL, &failed, error);
  return results ? g_steal_pointer (&results->pdata[0]) : NULL;
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
