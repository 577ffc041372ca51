/* strata-lens-aggregate.c: lens results summarised over a prompt set, per tag ("all"
 * first, then tags in order of first appearance), target and read position. */
#include <string.h>

#include "strata-lens.h"

void
strata_lens_aggregate_free (StrataLensAggregate *a)
{
  if (!a)
    return;
  g_free (a->tag), g_free (a->target), g_free (a->position);
  g_free (a->mrr), g_free (a->mean_prob), g_free (a->top1);
  g_free (a->resolution_counts);
  g_free (a);
}

static StrataLensAggregate *
aggregate_new (const char *tag, const char *target, const char *position, int L)
{
  StrataLensAggregate *a = g_new0 (StrataLensAggregate, 1);
  a->tag = g_strdup (tag), a->target = g_strdup (target), a->position = g_strdup (position);
  a->n_layers = L;
  a->mrr = g_new0 (double, L + 1);
  a->mean_prob = g_new0 (double, L + 1);
  a->top1 = g_new0 (double, L + 1);
  a->resolution_counts = g_new0 (int, L + 2);
  a->resolution_layer = -1;
  return a;
}

/* Index of the aggregate for (tag, target, position), created in first-seen order. */
static StrataLensAggregate *
lookup (GPtrArray *out, GHashTable *index, const char *tag, const char *target, const char *pos, int L)
{
  g_autofree char *key = g_strdup_printf ("%s\x1f%s\x1f%s", tag, target, pos);
  gpointer found = g_hash_table_lookup (index, key);
  if (found)
    return out->pdata[GPOINTER_TO_UINT (found) - 1];
  StrataLensAggregate *a = aggregate_new (tag, target, pos, L);
  g_ptr_array_add (out, a);
  g_hash_table_insert (index, g_steal_pointer (&key), GUINT_TO_POINTER (out->len));
  return a;
}

static void
accumulate (StrataLensAggregate *a, const StrataLensTarget *t, int T, int p)
{
  int L = a->n_layers;
  for (int k = 0; k <= L; k++) {
    a->mrr[k] += 1.0 / (t->rank[k * T + p] + 1.0);
    a->mean_prob[k] += t->prob[k * T + p];
    a->top1[k] += t->rank[k * T + p] == 0;
  }
  a->resolution_counts[t->resolution[p] >= 0 ? t->resolution[p] : L + 1]++;
  a->n_prompts++;
}

/* Tags in order: "all", then each tag as first met in the set. */
static GPtrArray *
tag_order (const StrataPromptSet *set)
{
  GPtrArray *tags = g_ptr_array_new ();
  g_ptr_array_add (tags, (gpointer) "all");
  for (guint i = 0; i < set->prompts->len; i++) {
    const StrataPrompt *p = set->prompts->pdata[i];
    for (int j = 0; p->tags[j]; j++) {
      gboolean seen = FALSE;
      for (guint k = 0; k < tags->len && !seen; k++)
        seen = strcmp (tags->pdata[k], p->tags[j]) == 0;
      if (!seen)
        g_ptr_array_add (tags, p->tags[j]);
    }
  }
  return tags;
}

GPtrArray *
strata_lens_aggregate (const StrataPromptSet *set, GPtrArray *results)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_lens_aggregate_free);
  g_autoptr (GHashTable) index = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) tags = tag_order (set);
  guint n = MIN (set->prompts->len, results->len);
  for (guint ti = 0; ti < tags->len; ti++) {
    const char *tag = tags->pdata[ti];
    for (guint i = 0; i < n; i++) {
      const StrataPrompt *p = set->prompts->pdata[i];
      const StrataLensResult *r = results->pdata[i];
      if (!r || (ti > 0 && !g_strv_contains ((const char *const *) p->tags, tag)))
        continue;
      for (guint j = 0; j < r->targets->len; j++) {
        const StrataLensTarget *t = r->targets->pdata[j];
        if (p->positions->len > 0) {
          for (guint q = 0; q < p->positions->len; q++) {
            const StrataPosition *pos = &g_array_index (p->positions, StrataPosition, q);
            accumulate (lookup (out, index, tag, t->name, pos->name, r->n_layers), t, r->T, pos->index);
          }
        } else {
          int from = r->T <= STRATA_LENS_AGGREGATE_ALL_POSITIONS ? 0 : r->T - 1;
          for (int q = from; q < r->T; q++) {
            char name[16];
            g_snprintf (name, sizeof name, "%d", q);
            accumulate (lookup (out, index, tag, t->name, name, r->n_layers), t, r->T, q);
          }
        }
      }
    }
  }
  for (guint i = 0; i < out->len; i++) {
    StrataLensAggregate *a = out->pdata[i];
    for (int k = 0; k <= a->n_layers; k++) {
      a->mrr[k] /= a->n_prompts;
      a->mean_prob[k] /= a->n_prompts;
      a->top1[k] /= a->n_prompts;
      if (a->resolution_layer < 0 && a->mrr[k] >= 0.9)
        a->resolution_layer = k;
    }
  }
  return out;
}
