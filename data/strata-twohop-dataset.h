/* strata-twohop-dataset.h: the synthetic two-hop knowledge graph of Wang et al. 2024
 * ("Grokked Transformers are Implicit Reasoners") as Yao et al. 2025 use it, generated from
 * a seed, and written as a training set, a tokenizer and Strata prompt sets.
 *
 * Construction (the one of ../shared/fixtures/twohop, whose data/meta.json these defaults
 * reproduce count for count):
 *  - Every entity h, as head, gets `per_entity` distinct relations drawn without replacement
 *    from the `n_relations`; each (h, r) gets a tail drawn uniformly from all entities. That
 *    is n_entities x per_entity atomic facts.
 *  - OOD facts: exactly round(ood_fraction x |atomic|) of the atomic facts, drawn uniformly
 *    without replacement from all of them (a share of facts, not of entities: in the
 *    fixture's 300 OOD facts 188 different heads occur). Every atomic fact, ID or OOD, is in
 *    training.
 *  - Two-hop candidates: every query (h, r1, r2) with b = r1(h) and t = r2(b) existing,
 *    n_entities x per_entity^2 of them. Both hops ID: the ID test set with probability
 *    test_prob, else the training pool. Both hops OOD: the OOD test set. One of each:
 *    discarded. The pool is downsampled uniformly to min(round(phi x |atomic ID|), |pool|).
 *  - Noise: round(noise x |train two-hop|) training two-hop items, drawn uniformly, get a
 *    wrong tail (STRATA_TWOHOP_NOISE_TAIL) or a wrong bridge (..._BRIDGE, the tail stays
 *    r2(true bridge)); the wrong entity is uniform over the other entities.
 *
 * Randomness: one xoshiro256** stream seeded through splitmix64 from `seed` (both by Blackman
 * and Vigna), drawn in a fixed order; integers below n by rejection, so no modulo bias and no
 * floating point in any choice except the test_prob draw (53-bit uniform double). The same
 * seed gives the same tables on every platform. */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

/* Bumped whenever the same parameters would give other tables or other files. */
#define STRATA_TWOHOP_GENERATOR_VERSION 1

typedef enum {
  STRATA_TWOHOP_NOISE_TAIL,   /* t replaced by a wrong entity */
  STRATA_TWOHOP_NOISE_BRIDGE, /* b replaced by a wrong entity (visible in the CoT target only) */
} StrataTwohopNoiseKind;

typedef struct {
  int n_entities;      /* |E| */
  int n_relations;     /* |R| */
  int per_entity;      /* outgoing relations of every entity */
  double ood_fraction; /* share of atomic facts held out of two-hop training */
  double phi;          /* train two-hop items per ID atomic fact */
  double test_prob;    /* chance that an ID two-hop query goes to the ID test set */
  double noise;        /* xi: share of train two-hop items with a wrong entity */
  StrataTwohopNoiseKind noise_kind;
  guint64 seed;
} StrataTwohopParams;

/* The configuration of ../shared/fixtures/twohop (data/meta.json). The papers' scale is
 * n_entities 2000, n_relations 200, per_entity 20. */
#define STRATA_TWOHOP_PARAMS_DEFAULT { 300, 40, 20, 0.05, 18.0, 0.005, 0.0, STRATA_TWOHOP_NOISE_TAIL, 42 }

typedef struct {
  int32_t h, r, t;
  gboolean ood;
} StrataTwohopFact;

typedef struct {
  int32_t h, r1, r2, b, t; /* b and t as written (noisy items: one of them wrong) */
  gboolean noisy;
  /* Test queries: the corrupted inputs of the prompt sets, -1 when no entity qualifies.
   * Stage 1: corrupt_h replaces h, an entity whose r1-fact exists with bridge contrast_b != b.
   * Stage 2: corrupt_b replaces b, an entity whose r2-fact exists with tail contrast_t != t. */
  int32_t corrupt_h, contrast_b, corrupt_b, contrast_t;
} StrataTwohopQuery;

typedef struct {
  StrataTwohopParams params;
  GArray *facts;      /* StrataTwohopFact [n_entities * per_entity], by head, relation ascending */
  GArray *train;      /* StrataTwohopQuery: the downsampled two-hop training items */
  GArray *test_id;    /* StrataTwohopQuery: both hops ID, never in training */
  GArray *test_ood;   /* StrataTwohopQuery: both hops OOD */
  GArray *train_order; /* int32_t [facts + train]: the order of the training file; i < facts->len
                          is fact i, else train item i - facts->len */
  int32_t *tails;     /* [n_entities * n_relations]: r(h), -1 where h has no relation r */
  gint64 n_candidates, n_pool, n_discarded, n_ood_facts, n_noisy;
} StrataTwohopDataset;

/* FALSE with a STRATA_DATA_ERROR_UNSUPPORTED error naming the parameter and its bounds. */
gboolean strata_twohop_params_check (const StrataTwohopParams *p, GError **error);
StrataTwohopDataset *strata_twohop_generate (const StrataTwohopParams *p, GError **error);
void strata_twohop_dataset_free (StrataTwohopDataset *d);

const char *strata_twohop_noise_kind_to_string (StrataTwohopNoiseKind kind);
/* "tail" or "bridge"; FALSE for anything else. */
gboolean strata_twohop_noise_kind_from_string (const char *s, StrataTwohopNoiseKind *kind);

/* Token ids: <e_i> = i, <r_j> = n_entities + j, </a> = n_entities + n_relations, <pad> one more. */
static inline int32_t
strata_twohop_relation_token (const StrataTwohopParams *p, int32_t r)
{
  return p->n_entities + r;
}
static inline int32_t
strata_twohop_answer_end_token (const StrataTwohopParams *p)
{
  return p->n_entities + p->n_relations;
}

/* Writes into `dir` (created if missing): train.jsonl, test_inferred_id.jsonl,
 * test_inferred_ood.jsonl (items as in the fixture's data/: type, h, r1, r2, b, t, input and
 * both targets as text and ids, plus the loss masks and the noise flag), prompts-stage1.jsonl
 * and prompts-stage2.jsonl (the test queries as Strata prompt sets, tags id/ood), vocab.json,
 * tokenizer.json (HF WordLevel), tokenizer_config.json and, last, dataset.json (parameters,
 * counts, generator version). Each file appears whole or not at all (temporary file, then
 * rename). */
gboolean strata_twohop_write (const StrataTwohopDataset *d, const char *dir, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataTwohopDataset, strata_twohop_dataset_free)

G_END_DECLS
