/* strata-tokenizer-unigram.c: the Unigram model of a tokenizer.json (SentencePiece
 * conversions: T5, ALBERT, XLNet, mT5 and the like).
 *
 * HF's Unigram::encode_optimized, step for step: a Viterbi pass over the byte positions of a
 * piece of text. At each character boundary every vocabulary entry that is a prefix of the
 * rest of the text extends the best path that ends here by its score (f64, as in the file);
 * when no entry covers exactly the next character, the unknown token covers it with the
 * lowest score minus 10. Ties keep the first candidate seen (shorter entries are seen first).
 * Walking back, adjacent unknown spans fuse into one; a span that is not an entry becomes
 * its <0xXX> byte pieces when byte_fallback is on and all of them exist, else the unknown id.
 *
 * The prefix search runs over the entries sorted by their bytes: the entries that share the
 * first k bytes of the text form one run of that order, narrowed by binary search on byte k.
 * It needs no trie and only one int per entry. */
#include "strata-tokenizer-hf-private.h"

#include <math.h>
#include <string.h>

#define K_UNK_PENALTY 10.0

static gint
compare_pieces (gconstpointer a, gconstpointer b, gpointer data)
{
  const StrataTokenizer *tok = data;
  int32_t x = *(const int32_t *) a, y = *(const int32_t *) b;
  gsize lx = tok->hf->piece_len[x], ly = tok->hf->piece_len[y];
  int c = memcmp (tok->pieces[x], tok->pieces[y], MIN (lx, ly));
  if (c != 0)
    return c;
  if (lx != ly)
    return lx < ly ? -1 : 1;
  return x < y ? -1 : x > y; /* equal entries: HF's map keeps the last id, found last here */
}

gboolean
_strata_unigram_prepare (StrataTokenizer *tok, GError **error)
{
  StrataHf *hf = tok->hf;
  int n = hf->n_model;
  hf->piece_len = g_new (gsize, MAX (n, 1));
  hf->sorted = g_new (int32_t, MAX (n, 1));
  hf->min_score = INFINITY;
  for (int i = 0; i < n; i++) {
    hf->piece_len[i] = strlen (tok->pieces[i]);
    hf->sorted[i] = i;
    hf->min_score = MIN (hf->min_score, hf->scores[i]);
  }
  g_qsort_with_data (hf->sorted, n, sizeof *hf->sorted, compare_pieces, tok);
  return TRUE;
}

/* Within sorted[lo, hi) (entries that share their first k bytes with the text, longer than
 * k), the run whose byte k equals `b`. */
static void
narrow (const StrataHf *hf, char **pieces, gsize k, guint8 b, gsize *lo, gsize *hi)
{
  gsize a = *lo, z = *hi;
  while (a < z) { /* first entry with byte k >= b */
    gsize m = a + (z - a) / 2;
    if ((guint8) pieces[hf->sorted[m]][k] < b)
      a = m + 1;
    else
      z = m;
  }
  gsize start = a;
  z = *hi;
  while (a < z) { /* first entry with byte k > b */
    gsize m = a + (z - a) / 2;
    if ((guint8) pieces[hf->sorted[m]][k] <= b)
      a = m + 1;
    else
      z = m;
  }
  *lo = start;
  *hi = a;
}

typedef struct {
  int32_t id;
  double score;
  gssize starts_at; /* -1: not reached yet */
} Node;

gboolean
_strata_unigram_encode (StrataTokenizer *tok, const char *w, gsize size, GArray *out,
                        GError **error)
{
  const StrataHf *hf = tok->hf;
  double unk_score = hf->min_score - K_UNK_PENALTY;
  g_autofree Node *best = g_new (Node, size + 1);
  for (gsize i = 0; i <= size; i++)
    best[i] = (Node) { 0, 0.0, -1 };

  for (gsize at = 0; at < size;) {
    double here = best[at].score;
    gsize mblen = g_utf8_next_char (w + at) - (w + at);
    gboolean single = FALSE;
    gsize lo = 0, hi = (gsize) hf->n_model;
    for (gsize k = 0; at + k < size && lo < hi; k++) {
      /* entries of exactly k bytes sort first in the run: they are not longer than k */
      while (lo < hi && hf->piece_len[hf->sorted[lo]] == k)
        lo++;
      narrow (hf, tok->pieces, k, (guint8) w[at + k], &lo, &hi);
      if (lo == hi || hf->piece_len[hf->sorted[lo]] != k + 1)
        continue;
      gsize end = lo; /* equal entries: the last one's id */
      while (end + 1 < hi && hf->piece_len[hf->sorted[end + 1]] == k + 1)
        end++;
      int32_t id = hf->sorted[end];
      Node *target = &best[at + k + 1];
      double cand = hf->scores[id] + here;
      if (target->starts_at < 0 || cand > target->score)
        *target = (Node) { id, cand, (gssize) at };
      if (k + 1 == mblen)
        single = TRUE;
    }
    if (!single) {
      Node *target = &best[at + mblen];
      double cand = unk_score + here;
      if (target->starts_at < 0 || cand > target->score) {
        if (tok->unk_id < 0) {
          g_autofree char *ch = g_strndup (w + at, mblen);
          g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN,
                       "%s: '%s' is not in the Unigram vocabulary and there is no unk_id",
                       tok->source, ch);
          return FALSE;
        }
        *target = (Node) { tok->unk_id, cand, (gssize) at };
      }
    }
    at += mblen;
  }

  /* Walk back: spans in reverse order (start, end, id), unknown neighbours fused into one
   * span whose id is looked up again (-1), as HF looks every span up by its text. */
  g_autoptr (GArray) spans = g_array_new (FALSE, FALSE, sizeof (gssize) * 3);
  gsize fused_end = 0;
  gboolean in_unk = FALSE;
  for (gsize end = size; end > 0;) {
    const Node *node = &best[end];
    gsize start = (gsize) node->starts_at;
    if (node->id == tok->unk_id) {
      if (!in_unk)
        fused_end = end;
      in_unk = TRUE;
    } else {
      if (in_unk) {
        gssize u[3] = { (gssize) end, (gssize) fused_end, -1 };
        g_array_append_val (spans, u);
        in_unk = FALSE;
      }
      gssize sp[3] = { (gssize) start, (gssize) end, node->id };
      g_array_append_val (spans, sp);
    }
    end = start;
  }
  if (in_unk) {
    gssize u[3] = { 0, (gssize) fused_end, -1 };
    g_array_append_val (spans, u);
  }

  for (guint i = spans->len; i-- > 0;) {
    const gssize *sp = &g_array_index (spans, gssize, 3 * i);
    gsize s[2] = { (gsize) sp[0], (gsize) sp[1] };
    /* an entry's id is the one the Viterbi pass took (the last of equal entries, as HF's
     * map keeps); a fused unknown span is looked up */
    int32_t id = sp[2] >= 0 ? (int32_t) sp[2]
                            : _strata_tokenizer_model_lookup (tok, w + s[0], s[1] - s[0]);
    if (id < 0 && tok->byte_fallback) {
      g_autoptr (GArray) bytes = g_array_new (FALSE, FALSE, sizeof (int32_t));
      for (gsize b = s[0]; b < s[1]; b++) {
        int32_t bid = _strata_tokenizer_byte_id (tok, (guint8) w[b]);
        if (bid < 0)
          break;
        g_array_append_val (bytes, bid);
      }
      if (bytes->len == s[1] - s[0]) {
        g_array_append_vals (out, bytes->data, bytes->len);
        continue;
      }
    }
    if (id < 0)
      id = tok->unk_id;
    if (id < 0) {
      g_autofree char *text = g_strndup (w + s[0], s[1] - s[0]);
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN,
                   "%s: '%s' is not in the Unigram vocabulary and there is no unk_id",
                   tok->source, text);
      return FALSE;
    }
    g_array_append_val (out, id);
  }
  return TRUE;
}
