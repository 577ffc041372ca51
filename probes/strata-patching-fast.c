/* strata-patching-fast.c: the patching sweep as batched suffix passes, and aggregation
 * over a prompt set.
 *
 * Every cell of every map is one job that starts at block `layer` and position `first`
 * (the earliest position it patches). Jobs are sorted by (layer, first); each run of equal
 * (layer, first) is one strata_engine_forward_suffix() call with one batch copy per job,
 * so a cell costs (L - layer) blocks over T - first positions instead of a full pass. */
#include <stdlib.h>
#include <string.h>

#include "strata-data-error.h"
#include "strata-patching-private.h"

typedef struct {
  int layer, first; /* where its pass starts */
  int map, row, col;
} Job;

static int
job_cmp (const void *a, const void *b)
{
  const Job *x = a, *y = b;
  if (x->layer != y->layer)
    return x->layer - y->layer;
  return x->first - y->first;
}

/* Largest batch of one suffix pass: bounds the scratch (B copies of T rows). */
#define MAX_BATCH 64

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
  g_autoptr (GArray) jobs = g_array_new (FALSE, FALSE, sizeof (Job));
  g_autofree StrataPatch *scratch = g_new (StrataPatch, T);
  for (guint i = 0; i < r->maps->len; i++) {
    StrataPatchMap *m = r->maps->pdata[i];
    for (int row = 0; row < m->rows; row++)
      for (int col = 0; col < m->cols; col++) {
        Job j = { row, 0, (int) i, row, col };
        _strata_patch_cell (&runs, g, m->site, m->head_pos, row, col, 0, scratch, &j.first);
        g_array_append_val (jobs, j);
      }
  }
  qsort (jobs->data, jobs->len, sizeof (Job), job_cmp);

  g_autofree StrataPatch *patches = g_new (StrataPatch, (size_t) MAX_BATCH * T);
  g_autofree float *logits = g_new (float, (size_t) MAX_BATCH * V);
  gboolean ok = TRUE;
  for (guint start = 0; start < jobs->len && ok;) {
    const Job *j0 = &g_array_index (jobs, Job, start);
    guint end = start;
    int n = 0;
    while (end < jobs->len && end - start < MAX_BATCH && g_array_index (jobs, Job, end).layer == j0->layer &&
           g_array_index (jobs, Job, end).first == j0->first) {
      const Job *j = &g_array_index (jobs, Job, end);
      StrataPatchMap *m = r->maps->pdata[j->map];
      int first;
      n += _strata_patch_cell (&runs, g, m->site, m->head_pos, j->row, j->col, (int) (end - start), patches + n,
                               &first);
      end++;
    }
    int B = (int) (end - start);
    if (strata_engine_forward_suffix (e, &runs.prefix, j0->layer, j0->first, B, patches, n, r->answer_pos,
                                      logits) != STRATA_OK) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED, "patched pass failed: %s",
                   strata_engine_get_error (e));
      ok = FALSE;
      break;
    }
    for (int b = 0; b < B; b++) {
      const Job *j = &g_array_index (jobs, Job, start + b);
      StrataPatchMap *m = r->maps->pdata[j->map];
      double v = _strata_patch_metric (r, logits + (size_t) b * V, V, runs.base_top1);
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
