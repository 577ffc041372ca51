/* strata-patching-agreement.c: how well attribution patching's estimates agree with real
 * patching on the same sites (strata-patching.h). */
#include <math.h>
#include <stdlib.h>

#include "strata-patching.h"

typedef struct {
  double key;
  gsize cell;
} Ranked;

static int
by_key_descending (const void *a, const void *b)
{
  double x = ((const Ranked *) a)->key, y = ((const Ranked *) b)->key;
  return (x < y) - (x > y);
}

/* The indices of the k cells of largest |v|, as a mask over the n cells. */
static guint8 *
top_cells (const double *v, gsize n, int k)
{
  g_autofree Ranked *r = g_new (Ranked, n);
  for (gsize i = 0; i < n; i++)
    r[i] = (Ranked) { fabs (v[i]), i };
  qsort (r, n, sizeof *r, by_key_descending);
  guint8 *mask = g_new0 (guint8, n);
  for (int i = 0; i < k; i++)
    mask[r[i].cell] = 1;
  return mask;
}

static double
pearson (const double *x, const double *y, gsize n)
{
  double mx = 0, my = 0;
  for (gsize i = 0; i < n; i++)
    mx += x[i], my += y[i];
  mx /= n, my /= n;
  double sxy = 0, sxx = 0, syy = 0;
  for (gsize i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxx > 0 && syy > 0 ? sxy / sqrt (sxx * syy) : NAN;
}

static const StrataPatchMap *
find_map (const StrataPatchResult *r, const StrataPatchMap *like)
{
  for (guint i = 0; i < r->maps->len; i++) {
    const StrataPatchMap *m = r->maps->pdata[i];
    if (m->site == like->site && m->rows == like->rows && m->cols == like->cols && m->head_pos == like->head_pos)
      return m;
  }
  return NULL;
}

GArray *
strata_patch_agreement (const StrataPatchResult *const *estimate, const StrataPatchResult *const *exact, guint n)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (StrataPatchAgreement));
  for (guint s = 0; n > 0 && s < estimate[0]->maps->len; s++) {
    const StrataPatchMap *first = estimate[0]->maps->pdata[s];
    StrataPatchAgreement ag = { .site = first->site };
    double r_sum = 0, overlap_sum = 0;
    int n_r = 0, n_overlap = 0;
    for (guint p = 0; p < n; p++) {
      const StrataPatchMap *a = find_map (estimate[p], first), *b = find_map (exact[p], first);
      if (!a || !b)
        continue;
      gsize cells = (gsize) a->rows * a->cols;
      const double *x = a->score, *y = b->score;
      ag.n_prompts++;
      ag.n_cells += (int) cells;
      for (gsize i = 0; i < cells; i++)
        ag.max_abs_diff = MAX (ag.max_abs_diff, fabs (x[i] - y[i]));
      double r = pearson (x, y, cells);
      if (!isnan (r))
        r_sum += r, n_r++;
      int k = (int) CLAMP ((cells + 4) / 5, 1, STRATA_PATCH_AGREEMENT_TOPK);
      ag.k = MAX (ag.k, k);
      g_autofree guint8 *tx = top_cells (x, cells, k), *ty = top_cells (y, cells, k);
      int both = 0;
      for (gsize i = 0; i < cells; i++)
        both += tx[i] && ty[i];
      overlap_sum += (double) both / k, n_overlap++;
    }
    if (ag.n_prompts == 0)
      continue;
    ag.pearson = n_r ? r_sum / n_r : NAN;
    ag.topk_overlap = n_overlap ? overlap_sum / n_overlap : NAN;
    g_array_append_val (out, ag);
  }
  return out;
}
