/* test-trace-resolution.c: the first-held rule on hand-built lens results whose answers are
 * worked out by hand in the comments, and the number/entity test of pieces. */
#include <glib.h>

#include "strata-trace-resolution.h"

enum { L = 3, T = 10 };

/* A result over ids (T) with one target of id `id`, every rank 50 (not held). */
static StrataLensResult *
make_result (const int32_t *ids, int32_t id)
{
  StrataLensResult *r = g_new0 (StrataLensResult, 1);
  r->n_layers = L;
  r->T = T;
  r->ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_array_append_vals (r->ids, ids, T);
  r->targets = g_ptr_array_new_with_free_func (strata_lens_target_free);
  StrataLensTarget *t = g_new0 (StrataLensTarget, 1);
  t->name = g_strdup ("x");
  t->id = id;
  t->rank = g_new (int32_t, (L + 1) * T);
  for (int c = 0; c < (L + 1) * T; c++)
    t->rank[c] = 50;
  g_ptr_array_add (r->targets, t);
  return r;
}

static int32_t *
rank_of (StrataLensResult *r)
{
  return ((StrataLensTarget *) r->targets->pdata[0])->rank;
}

/* Written at 5 and 8 (both generated: the last 6 of 10). Held top-1 at (layer 2, position 3)
 * and (layer 1, position 3): the earliest position is 3, its shallowest layer 1; the first
 * writing position after 3 is 5, so 5 - 1 - 3 = 1 token ahead. Ranks at position 8 and later
 * do not count (no writing position after them). */
static void
test_first_cell (void)
{
  const int32_t ids[T] = { 1, 2, 3, 4, 0, 9, 0, 0, 9, 0 };
  g_autoptr (StrataLensResult) r = make_result (ids, 9);
  int32_t *rank = rank_of (r);
  rank[2 * T + 3] = 0;
  rank[1 * T + 3] = 0;
  rank[0 * T + 8] = 0;
  rank[0 * T + 9] = 0;
  StrataTraceOptions o = { 1, FALSE };
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataTraceResolution) t = strata_trace_resolution_new (r, 6, &o, &error);
  g_assert_no_error (error);
  const StrataTraceTarget *tt = t->targets->pdata[0];
  g_assert_cmpuint (tt->written->len, ==, 2);
  g_assert_cmpint (g_array_index (tt->written, int, 0), ==, 5);
  g_assert_cmpint (g_array_index (tt->written, int, 1), ==, 8);
  g_assert_cmpint (tt->first_layer, ==, 1);
  g_assert_cmpint (tt->first_position, ==, 3);
  g_assert_cmpint (tt->written_at, ==, 5);
  g_assert_cmpint (tt->tokens_ahead, ==, 1);
  g_assert_cmpint (strata_trace_resolution_cell (t, r, 1, 3), ==, 0);
  g_assert_cmpint (strata_trace_resolution_cell (t, r, 0, 8), ==, -1);
  g_assert_cmpint (strata_trace_resolution_cell (t, r, 0, 3), ==, -1);
}

/* Rank 1 (second) at (layer 3, position 6): held with K = 2, not with K = 1; 8 - 1 - 6 = 1. */
static void
test_topk (void)
{
  const int32_t ids[T] = { 1, 2, 3, 4, 0, 0, 0, 0, 9, 0 };
  g_autoptr (StrataLensResult) r = make_result (ids, 9);
  rank_of (r)[3 * T + 6] = 1;
  StrataTraceOptions k1 = { 1, FALSE }, k2 = { 2, FALSE };
  g_autoptr (StrataTraceResolution) t1 = strata_trace_resolution_new (r, 6, &k1, NULL);
  g_autoptr (StrataTraceResolution) t2 = strata_trace_resolution_new (r, 6, &k2, NULL);
  const StrataTraceTarget *a = t1->targets->pdata[0], *b = t2->targets->pdata[0];
  g_assert_cmpint (a->first_position, ==, -1);
  g_assert_cmpint (a->tokens_ahead, ==, -1);
  g_assert_cmpint (b->first_layer, ==, 3);
  g_assert_cmpint (b->first_position, ==, 6);
  g_assert_cmpint (b->tokens_ahead, ==, 1);
}

/* Written at 2 in the prompt part only: nothing counts unless `anywhere`. */
static void
test_anywhere (void)
{
  const int32_t ids[T] = { 1, 2, 9, 4, 0, 0, 0, 0, 0, 0 };
  g_autoptr (StrataLensResult) r = make_result (ids, 9);
  rank_of (r)[0 * T + 0] = 0;
  StrataTraceOptions gen = { 1, FALSE }, any = { 1, TRUE };
  g_autoptr (StrataTraceResolution) tg = strata_trace_resolution_new (r, 6, &gen, NULL);
  g_autoptr (StrataTraceResolution) ta = strata_trace_resolution_new (r, 6, &any, NULL);
  const StrataTraceTarget *a = tg->targets->pdata[0], *b = ta->targets->pdata[0];
  g_assert_cmpuint (a->written->len, ==, 0);
  g_assert_cmpint (a->first_position, ==, -1);
  g_assert_cmpint (b->first_position, ==, 0);
  g_assert_cmpint (b->tokens_ahead, ==, 1); /* 2 - 1 - 0 */
}

static void
test_bad_options (void)
{
  const int32_t ids[T] = { 0 };
  g_autoptr (StrataLensResult) r = make_result (ids, 9);
  StrataTraceOptions k0 = { 0, FALSE }, k1 = { 1, FALSE };
  g_autoptr (GError) e1 = NULL, e2 = NULL;
  g_assert_null (strata_trace_resolution_new (r, 0, &k0, &e1));
  g_assert_nonnull (e1);
  g_assert_null (strata_trace_resolution_new (r, T + 1, &k1, &e2));
  g_assert_nonnull (e2);
}

/* Pieces as tokenizers show or store them: a space, '▁' or 'Ġ' before the word. */
static void
test_pieces (void)
{
  g_assert_true (strata_trace_piece_is_number ("42"));
  g_assert_true (strata_trace_piece_is_number (" 7"));
  g_assert_true (strata_trace_piece_is_number ("\xe2\x96\x81" "2026"));
  g_assert_true (strata_trace_piece_is_number ("\xc4\xa0" "3"));
  g_assert_false (strata_trace_piece_is_number (" "));
  g_assert_false (strata_trace_piece_is_number ("3rd"));
  g_assert_false (strata_trace_piece_is_number ("  3")); /* one marker only */
  g_assert_true (strata_trace_piece_is_capitalized (" Lily"));
  g_assert_true (strata_trace_piece_is_capitalized ("\xc4\xa0" "Paris"));
  g_assert_true (strata_trace_piece_is_capitalized ("\xc3\x89mile")); /* É */
  g_assert_false (strata_trace_piece_is_capitalized (" lily"));
  g_assert_false (strata_trace_piece_is_capitalized ("<e_17>"));
  g_assert_false (strata_trace_piece_is_capitalized (""));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/trace-resolution/first-cell", test_first_cell);
  g_test_add_func ("/trace-resolution/topk", test_topk);
  g_test_add_func ("/trace-resolution/anywhere", test_anywhere);
  g_test_add_func ("/trace-resolution/bad-options", test_bad_options);
  g_test_add_func ("/trace-resolution/pieces", test_pieces);
  return g_test_run ();
}
