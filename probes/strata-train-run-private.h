/* strata-train-run-private.h: the training items and the greedy evaluation
 * (strata-train-items.c), shared with the loop (strata-train-run.c). */
#pragma once

#include "strata-engine.h"
#include "strata-probes-private.h"
#include "strata-train-run.h"

/* Item kinds, as train.jsonl's "type" names them. */
typedef enum { ITEM_ATOMIC_ID, ITEM_ATOMIC_OOD, ITEM_TRAIN_INFERRED, ITEM_TEST_INFERRED } TrainItemKind;

/* Sequences of one target format, padded to a common length T. */
typedef struct {
  int n, T;
  int32_t *ids;   /* (n, T): the target (input, then continuation), <pad> after */
  guint8 *mask;   /* (n, T): 1 on the continuation, where the loss counts */
  guint8 *len;    /* (n): tokens of the target */
  guint8 *n_in;   /* (n): tokens of the input */
  guint8 *kind;   /* (n): TrainItemKind */
} TrainItems;

void _strata_train_items_free (TrainItems *items);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TrainItems, _strata_train_items_free)

/* The items of a dataset file in `fmt` ("cot" or "nocot"), padded with pad_id. Errors name
 * the file, the line and the problem (ids outside the vocabulary, a mask that does not
 * cover the continuation, a target longer than 16 tokens). */
TrainItems *_strata_train_items_load (const char *path, const char *fmt, int vocab, int32_t pad_id, GError **error);
/* The first `limit` items of `kind`, in file order (limit < 0: all). */
TrainItems *_strata_train_items_select (const TrainItems *items, TrainItemKind kind, int limit);

/* Greedy decoding of every item's continuation from its input; *exact the share whose whole
 * continuation matches; for two-hop items *t the share with the answer (the token before
 * </a>) right and, with CoT targets (b t </a>), *b the share with the bridge right; -1 where
 * they do not apply. */
gboolean _strata_train_items_score (StrataEngine *e, const TrainItems *items, double *exact, double *t, double *b,
                                    GError **error);
