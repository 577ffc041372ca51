/* strata-twohop-dataset.c: generation of the two-hop knowledge graph and its splits (the
 * construction and the random stream are documented in strata-twohop-dataset.h). */
#include "strata-twohop-dataset.h"

#include <math.h>
#include <string.h>

#include "strata-data-error.h"
#include "strata-rng.h"

/* Sizes are bounded so the tables fit comfortably in memory: the (entity, relation) table
 * at most 512 MiB, and at most 2^24 two-hop candidates (21 times the papers' 800000), whose
 * pool and training table then take under 1 GiB. */
#define MAX_ENTITIES 1000000
#define MAX_RELATIONS 100000
#define MAX_CELLS (G_GINT64_CONSTANT (1) << 27)
#define MAX_QUERIES (G_GINT64_CONSTANT (1) << 24)

/* The first k entries of a[0..n) become a uniform k-subset, in random order (partial
 * Fisher-Yates). */
static void
choose_prefix (StrataRng *rng, guint64 *a, gsize n, gsize k)
{
  for (gsize i = 0; i < k; i++) {
    gsize j = i + strata_rng_below (rng, n - i);
    guint64 tmp = a[i];
    a[i] = a[j];
    a[j] = tmp;
  }
}

static int
cmp_u64 (gconstpointer a, gconstpointer b)
{
  guint64 x = *(const guint64 *) a, y = *(const guint64 *) b;
  return (x > y) - (x < y);
}

/* ---- parameters ---- */

static const char *const noise_kind_names[] = { "tail", "bridge" };

const char *
strata_twohop_noise_kind_to_string (StrataTwohopNoiseKind kind)
{
  return noise_kind_names[kind];
}

gboolean
strata_twohop_noise_kind_from_string (const char *s, StrataTwohopNoiseKind *kind)
{
  for (gsize i = 0; i < G_N_ELEMENTS (noise_kind_names); i++)
    if (g_strcmp0 (s, noise_kind_names[i]) == 0) {
      *kind = (StrataTwohopNoiseKind) i;
      return TRUE;
    }
  return FALSE;
}

#define BAD(...) \
  G_STMT_START { \
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED, __VA_ARGS__); \
    return FALSE; \
  } G_STMT_END

static gboolean
check_unit (const char *name, double v, GError **error)
{
  /* written as a negation so NaN fails too */
  if (!(v >= 0 && v <= 1))
    BAD ("two-hop dataset: %s must lie in [0, 1], not %g", name, v);
  return TRUE;
}

gboolean
strata_twohop_params_check (const StrataTwohopParams *p, GError **error)
{
  if (p->n_entities < 2 || p->n_entities > MAX_ENTITIES)
    BAD ("two-hop dataset: the number of entities must lie in [2, %d], not %d", MAX_ENTITIES, p->n_entities);
  if (p->n_relations < 1 || p->n_relations > MAX_RELATIONS)
    BAD ("two-hop dataset: the number of relations must lie in [1, %d], not %d", MAX_RELATIONS, p->n_relations);
  if (p->per_entity < 1 || p->per_entity > p->n_relations)
    BAD ("two-hop dataset: relations per entity must lie in [1, %d] (the number of relations), not %d",
         p->n_relations, p->per_entity);
  gint64 cells = (gint64) p->n_entities * p->n_relations;
  gint64 candidates = (gint64) p->n_entities * p->per_entity * p->per_entity;
  if (cells > MAX_CELLS || candidates > MAX_QUERIES)
    BAD ("two-hop dataset: %d entities x %d relations (%d per entity) is too large: %" G_GINT64_FORMAT
         " (entity, relation) cells (at most %" G_GINT64_FORMAT ") and %" G_GINT64_FORMAT
         " two-hop queries (at most %" G_GINT64_FORMAT ")",
         p->n_entities, p->n_relations, p->per_entity, cells, MAX_CELLS, candidates, MAX_QUERIES);
  if (!check_unit ("the OOD fraction", p->ood_fraction, error) || !check_unit ("the ID test probability", p->test_prob, error)
      || !check_unit ("the noise fraction", p->noise, error))
    return FALSE;
  if (!(p->phi >= 0 && p->phi <= 1e6))
    BAD ("two-hop dataset: phi must lie in [0, 1e6], not %g", p->phi);
  if ((guint) p->noise_kind >= G_N_ELEMENTS (noise_kind_names))
    BAD ("two-hop dataset: unknown noise kind %d", (int) p->noise_kind);
  return TRUE;
}

/* ---- generation ---- */

void
strata_twohop_dataset_free (StrataTwohopDataset *d)
{
  if (!d)
    return;
  g_clear_pointer (&d->facts, g_array_unref);
  g_clear_pointer (&d->train, g_array_unref);
  g_clear_pointer (&d->test_id, g_array_unref);
  g_clear_pointer (&d->test_ood, g_array_unref);
  g_clear_pointer (&d->train_order, g_array_unref);
  g_free (d->tails);
  g_free (d);
}

static void
make_facts (StrataTwohopDataset *d, StrataRng *rng)
{
  const StrataTwohopParams *p = &d->params;
  g_autofree guint64 *rel = g_new (guint64, p->n_relations);
  d->tails = g_new (int32_t, (gsize) p->n_entities * p->n_relations);
  memset (d->tails, 0xff, sizeof (int32_t) * (gsize) p->n_entities * p->n_relations);
  for (int32_t h = 0; h < p->n_entities; h++) {
    for (int r = 0; r < p->n_relations; r++)
      rel[r] = (guint64) r;
    choose_prefix (rng, rel, p->n_relations, p->per_entity);
    qsort (rel, p->per_entity, sizeof *rel, cmp_u64);
    for (int k = 0; k < p->per_entity; k++) {
      StrataTwohopFact f = { h, (int32_t) rel[k], (int32_t) strata_rng_below (rng, p->n_entities), FALSE };
      d->tails[(gsize) h * p->n_relations + f.r] = f.t;
      g_array_append_val (d->facts, f);
    }
  }
  gsize n = d->facts->len;
  d->n_ood_facts = llround (p->ood_fraction * (double) n);
  g_autofree guint64 *idx = g_new (guint64, n);
  for (gsize i = 0; i < n; i++)
    idx[i] = i;
  choose_prefix (rng, idx, n, d->n_ood_facts);
  for (gint64 i = 0; i < d->n_ood_facts; i++)
    g_array_index (d->facts, StrataTwohopFact, idx[i]).ood = TRUE;
}

/* A head other than the query's whose fact for relation r exists and has a tail other than
 * `avoid`, uniform among those (the corrupted input of a prompt: the clean and corrupted runs
 * then disagree on the entity the probe reads); -1 when none does. */
static int32_t
pick_corrupt_head (const StrataTwohopDataset *d, StrataRng *rng, int32_t r, int32_t avoid, int32_t *contrast)
{
  const StrataTwohopParams *p = &d->params;
  gint64 n = 0;
  for (int32_t h = 0; h < p->n_entities; h++) {
    int32_t t = d->tails[(gsize) h * p->n_relations + r];
    n += t >= 0 && t != avoid;
  }
  if (n == 0) {
    *contrast = -1;
    return -1;
  }
  gint64 k = (gint64) strata_rng_below (rng, (guint64) n);
  for (int32_t h = 0;; h++) {
    int32_t t = d->tails[(gsize) h * p->n_relations + r];
    if (t >= 0 && t != avoid && k-- == 0) {
      *contrast = t;
      return h;
    }
  }
}

static void
add_corruptions (const StrataTwohopDataset *d, StrataRng *rng, GArray *queries)
{
  for (guint i = 0; i < queries->len; i++) {
    StrataTwohopQuery *q = &g_array_index (queries, StrataTwohopQuery, i);
    q->corrupt_h = pick_corrupt_head (d, rng, q->r1, q->b, &q->contrast_b);
    q->corrupt_b = pick_corrupt_head (d, rng, q->r2, q->t, &q->contrast_t);
  }
}

/* Candidate c = f1 * per_entity + k: first hop facts[f1] (h, r1, b), second hop the k-th fact
 * of b. */
static StrataTwohopQuery
candidate_query (const StrataTwohopDataset *d, guint64 c)
{
  int K = d->params.per_entity;
  const StrataTwohopFact *f1 = &g_array_index (d->facts, StrataTwohopFact, c / K);
  const StrataTwohopFact *f2 = &g_array_index (d->facts, StrataTwohopFact, (gsize) f1->t * K + c % K);
  return (StrataTwohopQuery) { f1->h, f1->r, f2->r, f1->t, f2->t, FALSE, -1, -1, -1, -1 };
}

static gboolean
candidate_hops_ood (const StrataTwohopDataset *d, guint64 c, gboolean *second)
{
  int K = d->params.per_entity;
  const StrataTwohopFact *f1 = &g_array_index (d->facts, StrataTwohopFact, c / K);
  *second = g_array_index (d->facts, StrataTwohopFact, (gsize) f1->t * K + c % K).ood;
  return f1->ood;
}

static void
add_noise (StrataTwohopDataset *d, StrataRng *rng)
{
  const StrataTwohopParams *p = &d->params;
  gsize n = d->train->len;
  d->n_noisy = llround (p->noise * (double) n);
  g_autofree guint64 *idx = g_new (guint64, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    idx[i] = i;
  choose_prefix (rng, idx, n, d->n_noisy);
  for (gint64 i = 0; i < d->n_noisy; i++) {
    StrataTwohopQuery *q = &g_array_index (d->train, StrataTwohopQuery, idx[i]);
    int32_t *slot = p->noise_kind == STRATA_TWOHOP_NOISE_TAIL ? &q->t : &q->b;
    /* uniform over the n_entities - 1 other entities */
    int32_t wrong = (int32_t) strata_rng_below (rng, p->n_entities - 1);
    *slot = wrong >= *slot ? wrong + 1 : wrong;
    q->noisy = TRUE;
  }
}

StrataTwohopDataset *
strata_twohop_generate (const StrataTwohopParams *p, GError **error)
{
  if (!strata_twohop_params_check (p, error))
    return NULL;
  g_autoptr (StrataTwohopDataset) d = g_new0 (StrataTwohopDataset, 1);
  d->params = *p;
  d->facts = g_array_sized_new (FALSE, FALSE, sizeof (StrataTwohopFact), (guint) p->n_entities * p->per_entity);
  d->train = g_array_new (FALSE, FALSE, sizeof (StrataTwohopQuery));
  d->test_id = g_array_new (FALSE, FALSE, sizeof (StrataTwohopQuery));
  d->test_ood = g_array_new (FALSE, FALSE, sizeof (StrataTwohopQuery));
  d->train_order = g_array_new (FALSE, FALSE, sizeof (int32_t));
  StrataRng rng;
  strata_rng_seed (&rng, p->seed);

  make_facts (d, &rng);

  /* Every candidate in order: facts by head and relation, then the bridge's facts. */
  d->n_candidates = (gint64) d->facts->len * p->per_entity;
  g_autoptr (GArray) pool = g_array_new (FALSE, FALSE, sizeof (guint64));
  for (guint64 c = 0; c < (guint64) d->n_candidates; c++) {
    gboolean ood2, ood1 = candidate_hops_ood (d, c, &ood2);
    if (ood1 && ood2) {
      StrataTwohopQuery q = candidate_query (d, c);
      g_array_append_val (d->test_ood, q);
    } else if (ood1 || ood2) {
      d->n_discarded++;
    } else if (strata_rng_uniform (&rng) < p->test_prob) {
      StrataTwohopQuery q = candidate_query (d, c);
      g_array_append_val (d->test_id, q);
    } else {
      g_array_append_val (pool, c);
    }
  }
  d->n_pool = pool->len;

  gint64 n_id = (gint64) d->facts->len - d->n_ood_facts;
  gint64 n_train = MIN (llround (p->phi * (double) n_id), d->n_pool);
  guint64 *cand = (guint64 *) pool->data;
  choose_prefix (&rng, cand, pool->len, n_train);
  /* The chosen candidates back in candidate order, so the table reads in a stable order. */
  qsort (cand, n_train, sizeof *cand, cmp_u64);
  for (gint64 i = 0; i < n_train; i++) {
    StrataTwohopQuery q = candidate_query (d, cand[i]);
    g_array_append_val (d->train, q);
  }
  add_noise (d, &rng);
  add_corruptions (d, &rng, d->test_id);
  add_corruptions (d, &rng, d->test_ood);

  /* The training file's order: atomic facts and two-hop items shuffled together. */
  gsize n_items = d->facts->len + d->train->len;
  g_autofree guint64 *order = g_new (guint64, n_items);
  for (gsize i = 0; i < n_items; i++)
    order[i] = i;
  choose_prefix (&rng, order, n_items, n_items);
  for (gsize i = 0; i < n_items; i++) {
    int32_t v = (int32_t) order[i];
    g_array_append_val (d->train_order, v);
  }
  return g_steal_pointer (&d);
}
