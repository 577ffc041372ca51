/* strata-tokenizer-bpe.c: the merge loop shared by every BPE.
 *
 * Two rules decide which adjacent pair merges next:
 *  - by rank (GPT-2 vocab.bpe, tokenizer.json merges): the pair with the lowest rank;
 *  - by score (llama2.c run.c encode(), llama.cpp's SPM tokenizer): the vocabulary entry
 *    equal to the concatenation of the two pieces with the highest score.
 * Both take the leftmost pair on ties and merge one pair at a time, which is what run.c and
 * HF tokenizers do; for GPT-2 it gives the same result as encoder.py merging every
 * occurrence of the best pair in one pass, because a pair containing a freshly merged token
 * always ranks after the merge that made it.
 *
 * Each pair's candidate is cached and only the two pairs next to a merge are recomputed,
 * so a merge costs one scan of n floats instead of n lookups. */
#include "strata-tokenizer-private.h"

#include <string.h>

static guint
merge_hash (gconstpointer key)
{
  const StrataMerge *m = key;
  return (guint) m->left * 2654435761u ^ (guint) m->right;
}

static gboolean
merge_equal (gconstpointer a, gconstpointer b)
{
  const StrataMerge *x = a, *y = b;
  return x->left == y->left && x->right == y->right;
}

gboolean
_strata_merges_add (StrataTokenizer *tok, const char *file, const char *left, const char *right,
                    gsize right_skip, int32_t rank, GError **error)
{
  int32_t l = strata_tokenizer_lookup (tok, left);
  int32_t r = strata_tokenizer_lookup (tok, right);
  /* HF drops the continuing-subword prefix's length from the right part, whatever it holds */
  g_autofree char *joined = g_strconcat (left, right + MIN (right_skip, strlen (right)), NULL);
  int32_t m = strata_tokenizer_lookup (tok, joined);
  if (l < 0 || r < 0 || m < 0) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: merge %d '%s %s' refers to a token that is not in the vocabulary ('%s')",
                 file, rank + 1, left, right, l < 0 ? left : r < 0 ? right : joined);
    return FALSE;
  }
  if (tok->merges == NULL)
    tok->merges = g_hash_table_new (merge_hash, merge_equal);
  StrataMerge *entry = &tok->merge_table[tok->n_merges++];
  *entry = (StrataMerge) { l, r, rank, m };
  /* A repeated pair keeps its first (best) rank, as a dict built in file order would not:
   * encoder.py's dict keeps the last. Real files never repeat a pair. */
  if (!g_hash_table_contains (tok->merges, entry))
    g_hash_table_add (tok->merges, entry);
  return TRUE;
}

typedef struct {
  StrataTokenizer *tok;
  StrataMergeRule rule;
  GString *buf;
} PairContext;

/* The token that merging (a, b) would make and its priority (lower merges first). */
static int32_t
pair_candidate (PairContext *ctx, int32_t a, int32_t b, double *prio)
{
  StrataTokenizer *tok = ctx->tok;
  if (ctx->rule == STRATA_MERGE_BY_RANK) {
    if (tok->merges == NULL)
      return -1;
    StrataMerge key = { a, b, 0, 0 };
    const StrataMerge *m = g_hash_table_lookup (tok->merges, &key);
    if (m == NULL)
      return -1;
    *prio = m->rank;
    return m->merged;
  }
  g_string_assign (ctx->buf, tok->pieces[a]);
  g_string_append (ctx->buf, tok->pieces[b]);
  int32_t id = strata_tokenizer_lookup (tok, ctx->buf->str);
  if (id < 0)
    return -1;
  float score = tok->scores != NULL ? tok->scores[id] : 0.0f;
  /* run.c starts its search at best_score = -1e10, so a piece scored at or below that
   * never merges. */
  if (!(score > -1e10f))
    return -1;
  *prio = -(double) score;
  return id;
}

void
_strata_bpe_merge (StrataTokenizer *tok, StrataMergeRule rule, GArray *ids)
{
  guint n = ids->len;
  if (n < 2)
    return;
  int32_t *s = (int32_t *) ids->data;
  g_autofree double *prio = g_new (double, n);     /* [n-1] priority of pair (i, i+1) */
  g_autofree int32_t *merged = g_new (int32_t, n); /* [n-1] its token, or -1 */
  PairContext ctx = { tok, rule, g_string_new (NULL) };

  for (guint i = 0; i + 1 < n; i++)
    merged[i] = pair_candidate (&ctx, s[i], s[i + 1], &prio[i]);

  for (;;) {
    int best = -1;
    for (guint i = 0; i + 1 < n; i++)
      if (merged[i] >= 0 && (best < 0 || prio[i] < prio[best]))
        best = i;
    if (best < 0)
      break;
    s[best] = merged[best];
    /* drop symbol best+1 and pair best+1 (their successors slide left) */
    memmove (&s[best + 1], &s[best + 2], (n - best - 2) * sizeof *s);
    int tail = (int) n - best - 3; /* pairs after the one that disappears */
    if (tail > 0) {
      memmove (&merged[best + 1], &merged[best + 2], tail * sizeof *merged);
      memmove (&prio[best + 1], &prio[best + 2], tail * sizeof *prio);
    }
    n--;
    if (best > 0)
      merged[best - 1] = pair_candidate (&ctx, s[best - 1], s[best], &prio[best - 1]);
    if ((guint) best + 1 < n)
      merged[best] = pair_candidate (&ctx, s[best], s[best + 1], &prio[best]);
  }
  g_array_set_size (ids, n);
  g_string_free (ctx.buf, TRUE);
}
