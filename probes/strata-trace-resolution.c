/* strata-trace-resolution.c: the first cell where the lens holds a token before the trace
 * writes it (strata-trace-resolution.h states the rule), and the numbers and entities a
 * generated part writes. */
#include "strata-trace-resolution.h"

#include <string.h>

#include "strata-data-error.h"

static const StrataEnumValue trace_targets_values[] = {
  [STRATA_TRACE_TARGETS_AUTO] = { "auto", "numbers and entities of the generated part" },
  [STRATA_TRACE_TARGETS_NONE] = { "none", "typed targets only" },
};
const StrataEnumTable strata_trace_targets_table = STRATA_ENUM_TABLE ("trace targets", trace_targets_values);

static void
trace_target_free (gpointer p)
{
  StrataTraceTarget *t = p;
  g_free (t->name);
  g_array_unref (t->written);
  g_free (t);
}

void
strata_trace_resolution_free (StrataTraceResolution *t)
{
  if (!t)
    return;
  g_ptr_array_unref (t->targets);
  g_free (t);
}

static int
last_written (const StrataTraceTarget *t)
{
  return t->written->len ? g_array_index (t->written, int, t->written->len - 1) : -1;
}

/* Whether position p can hold the target: before its last writing position, and not reading
 * the target itself (an echo of the input, not a result held ahead). */
static gboolean
can_hold (const StrataTraceTarget *tt, const StrataLensResult *r, int p)
{
  return p < last_written (tt) && g_array_index (r->ids, int32_t, p) != tt->id;
}

/* The first cell in reading order (position, then layer) that holds the target (rank < K at
 * a position that can hold it); then the writing position it anticipates. */
static void
find_first (StrataTraceTarget *tt, const StrataLensResult *r, const StrataLensTarget *lt, int K)
{
  int R = r->n_layers + 1, T = r->T;
  tt->first_layer = tt->first_position = tt->written_at = tt->tokens_ahead = -1;
  for (int p = 0; p < last_written (tt) && tt->first_position < 0; p++)
    for (int k = 0; k < R && can_hold (tt, r, p); k++)
      if (lt->rank[(gsize) k * T + p] < K) {
        tt->first_layer = k;
        tt->first_position = p;
        break;
      }
  if (tt->first_position < 0)
    return;
  for (guint i = 0; i < tt->written->len && tt->written_at < 0; i++)
    if (g_array_index (tt->written, int, i) > tt->first_position)
      tt->written_at = g_array_index (tt->written, int, i);
  tt->tokens_ahead = tt->written_at - 1 - tt->first_position;
}

StrataTraceResolution *
strata_trace_resolution_new (const StrataLensResult *r, int n_generated, const StrataTraceOptions *o, GError **error)
{
  if (o->topk < 1) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "the trace top-k must be at least 1, not %d",
                 o->topk);
    return NULL;
  }
  if (!r->ids || (int) r->ids->len != r->T || n_generated < 0 || n_generated > r->T) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%d generated tokens do not fit the %d the lens read", n_generated, r->T);
    return NULL;
  }
  StrataTraceResolution *t = g_new0 (StrataTraceResolution, 1);
  t->topk = o->topk;
  t->anywhere = o->anywhere;
  t->n_layers = r->n_layers;
  t->T = r->T;
  t->targets = g_ptr_array_new_with_free_func (trace_target_free);
  int from = o->anywhere ? 0 : r->T - n_generated;
  for (guint i = 0; i < r->targets->len; i++) {
    const StrataLensTarget *lt = r->targets->pdata[i];
    StrataTraceTarget *tt = g_new0 (StrataTraceTarget, 1);
    tt->name = g_strdup (lt->name);
    tt->id = lt->id;
    tt->target = (int) i;
    tt->written = g_array_new (FALSE, FALSE, sizeof (int));
    for (int w = from; w < r->T; w++)
      if (g_array_index (r->ids, int32_t, w) == lt->id)
        g_array_append_val (tt->written, w);
    find_first (tt, r, lt, o->topk);
    g_ptr_array_add (t->targets, tt);
  }
  return t;
}

int
strata_trace_resolution_cell (const StrataTraceResolution *t, const StrataLensResult *r, int k, int p)
{
  int best = -1;
  int32_t best_rank = G_MAXINT32;
  gsize c = (gsize) k * r->T + p;
  for (guint i = 0; i < t->targets->len; i++) {
    const StrataTraceTarget *tt = t->targets->pdata[i];
    int32_t rank = ((const StrataLensTarget *) r->targets->pdata[tt->target])->rank[c];
    if (can_hold (tt, r, p) && rank < t->topk && rank < best_rank) {
      best = (int) i;
      best_rank = rank;
    }
  }
  return best;
}

/* ---- choosing targets ---- */

/* The piece without its word-start marker: a space, '▁' (U+2581) or 'Ġ' (U+0120). */
static const char *
strip_marker (const char *piece)
{
  if (g_str_has_prefix (piece, " "))
    return piece + 1;
  if (g_str_has_prefix (piece, "\xe2\x96\x81"))
    return piece + 3;
  if (g_str_has_prefix (piece, "\xc4\xa0"))
    return piece + 2;
  return piece;
}

gboolean
strata_trace_piece_is_number (const char *piece)
{
  const char *s = strip_marker (piece);
  if (!*s)
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isdigit (*s))
      return FALSE;
  return TRUE;
}

gboolean
strata_trace_piece_is_capitalized (const char *piece)
{
  const char *s = strip_marker (piece);
  return *s && g_utf8_validate (s, -1, NULL) && g_unichar_isupper (g_utf8_get_char (s));
}

/* A newline as a piece shows it: the byte itself, a SentencePiece byte token, GPT-2's 'Ċ'. */
static gboolean
piece_has_newline (const char *piece)
{
  return strchr (piece, '\n') || strcmp (piece, "<0x0A>") == 0 || strstr (piece, "\xc4\x8a");
}

/* Whether the token at `w` begins a sentence: the text before it, over spaces, quotes and
 * brackets (an opening quote: `. "Tom`; a closing one: `." Tom`), ends in '.', '!', '?' or a
 * newline, or there is none (BOS only). */
static gboolean
begins_sentence (const StrataPrompt *prompt, StrataTokenizer *tok, int32_t bos, int w)
{
  for (int q = w - 1; q >= 0; q--) {
    int32_t id = g_array_index (prompt->ids, int32_t, q);
    if (id == bos)
      return TRUE;
    const char *piece = strata_tokenizer_get_piece (tok, id);
    if (!piece)
      return FALSE;
    if (piece_has_newline (piece))
      return TRUE;
    g_autofree char *text = g_strdup (strip_marker (piece));
    gsize n = strlen (text);
    while (n > 0 && strchr (" \"'()[]", text[n - 1]))
      n--;
    if (n == 0)
      continue;
    return text[n - 1] == '.' || text[n - 1] == '!' || text[n - 1] == '?';
  }
  return TRUE;
}

typedef struct {
  int32_t id;
  int count, first;
  gboolean qualifies;
} Candidate;

static gint
by_frequency (gconstpointer a, gconstpointer b)
{
  const Candidate *x = a, *y = b;
  if (x->count != y->count)
    return y->count - x->count;
  return x->first - y->first;
}

static gboolean
is_target (const StrataPrompt *prompt, int32_t id, const char *name)
{
  for (guint i = 0; i < prompt->targets->len; i++) {
    const StrataTarget *t = &g_array_index (prompt->targets, StrataTarget, i);
    if (t->id == id || (name && g_strcmp0 (t->name, name) == 0))
      return TRUE;
  }
  return FALSE;
}

int
strata_trace_add_auto_targets (StrataPrompt *prompt, StrataTokenizer *tok, int32_t bos, int max)
{
  int T = (int) prompt->ids->len;
  g_autoptr (GArray) cands = g_array_new (FALSE, FALSE, sizeof (Candidate));
  g_autoptr (GHashTable) index = g_hash_table_new (NULL, NULL); /* id -> position in cands + 1 */
  for (int w = T - prompt->n_generated; w < T; w++) {
    int32_t id = g_array_index (prompt->ids, int32_t, w);
    const char *piece = id == bos ? NULL : strata_tokenizer_get_piece (tok, id);
    gboolean number = piece && strata_trace_piece_is_number (piece);
    if (!piece || (!number && !strata_trace_piece_is_capitalized (piece)) || is_target (prompt, id, NULL))
      continue;
    guint at = GPOINTER_TO_UINT (g_hash_table_lookup (index, GINT_TO_POINTER (id)));
    if (at == 0) {
      Candidate c = { id, 0, w, FALSE };
      g_array_append_val (cands, c);
      at = cands->len;
      g_hash_table_insert (index, GINT_TO_POINTER (id), GUINT_TO_POINTER (at));
    }
    Candidate *c = &g_array_index (cands, Candidate, at - 1);
    c->count++;
    c->qualifies = c->qualifies || number || !begins_sentence (prompt, tok, bos, w);
  }
  g_array_sort (cands, by_frequency);
  int added = 0;
  for (guint i = 0; i < cands->len && added < max; i++) {
    const Candidate *c = &g_array_index (cands, Candidate, i);
    if (!c->qualifies)
      continue;
    const char *piece = strata_tokenizer_get_piece (tok, c->id);
    StrataTarget t = { is_target (prompt, -1, piece) ? g_strdup_printf ("#%d", c->id) : g_strdup (piece), c->id };
    g_array_append_val (prompt->targets, t);
    added++;
  }
  return added;
}
