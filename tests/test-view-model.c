/* test-view-model.c: the shared view state every widget follows (no display needed). */
#include "strata-view-model.h"

static void
count_cb (StrataViewModel *m, int *n)
{
  (*n)++;
}

static StrataLensResult *
lens (int L, int T)
{
  StrataLensResult *r = g_new0 (StrataLensResult, 1);
  r->n_layers = L;
  r->T = T;
  return r;
}

static int freed;

static void
free_analysis (gpointer p)
{
  StrataAnalysis *a = p;
  g_ptr_array_unref (a->lens_results);
  g_free (a);
  freed++;
}

static StrataAnalysis *
analysis (int L, int T)
{
  StrataAnalysis *a = g_new0 (StrataAnalysis, 1);
  a->lens_results = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (a->lens_results, lens (L, T));
  a->model.config.n_layers = L;
  return a;
}

static void
test_selection (void)
{
  g_autoptr (StrataViewModel) m = strata_view_model_new ();
  int changed = 0;
  g_signal_connect (m, "changed", G_CALLBACK (count_cb), &changed);
  g_assert_cmpint (strata_view_model_get_max_layer (m), ==, -1);
  strata_view_model_set_analysis (m, 0, analysis (6, 4), free_analysis);
  g_assert_cmpint (changed, ==, 1);
  g_assert_cmpint (strata_view_model_get_max_layer (m), ==, 6);
  g_assert_cmpint (strata_view_model_get_n_positions (m), ==, 4);

  /* Layers clamp to 0..L; setting the same value is not a change. */
  strata_view_model_set_layer (m, 3);
  g_assert_cmpint (strata_view_model_get_layer (m), ==, 3);
  g_assert_cmpint (changed, ==, 2);
  strata_view_model_set_layer (m, 3);
  g_assert_cmpint (changed, ==, 2);
  strata_view_model_set_layer (m, 99);
  g_assert_cmpint (strata_view_model_get_layer (m), ==, 6);
  strata_view_model_set_layer (m, -5);
  g_assert_cmpint (strata_view_model_get_layer (m), ==, 0);
  int layer = -1;
  strata_view_model_set_layer (m, 2);
  g_object_get (m, "layer", &layer, NULL);
  g_assert_cmpint (layer, ==, 2);

  /* Positions clamp to the prompt. */
  strata_view_model_set_position (m, 10);
  g_assert_cmpint (strata_view_model_get_state (m)->position, ==, 3);

  /* A smaller result pulls the selection inside it; the old analysis is freed. */
  strata_view_model_set_layer (m, 6);
  strata_view_model_set_analysis (m, 0, analysis (4, 2), free_analysis);
  g_assert_cmpint (freed, ==, 1);
  g_assert_cmpint (strata_view_model_get_layer (m), ==, 4);
  g_assert_cmpint (strata_view_model_get_state (m)->position, ==, 1);

  /* The figure input follows compare. */
  strata_view_model_set_analysis (m, 1, analysis (8, 2), free_analysis);
  StrataFigureInput in;
  strata_view_model_fill_input (m, STRATA_FIGURE_LENS_HEATMAP, &in);
  g_assert_null (in.b);
  strata_view_model_set_compare (m, TRUE);
  strata_view_model_fill_input (m, STRATA_FIGURE_LENS_HEATMAP, &in);
  g_assert_true (in.b == strata_view_model_get_analysis (m, 1));

  /* State round trip (a saved session's view), target copied. */
  StrataViewState v = *strata_view_model_get_state (m);
  char target[] = "bridge";
  v.target = target;
  v.layer = 1;
  strata_view_model_set_state (m, &v);
  g_assert_cmpstr (strata_view_model_get_state (m)->target, ==, "bridge");
  g_assert_true (strata_view_model_get_state (m)->target != target);
  g_assert_cmpint (strata_view_model_get_layer (m), ==, 1);
  StrataAnalysis *stolen = strata_view_model_steal_analysis (m, 1);
  free_analysis (stolen);
  g_clear_object (&m);
  g_assert_cmpint (freed, ==, 3); /* every analysis given to it, once */
}

/* A series of two 8-layer checkpoints (one done) over one prompt of 5 tokens. */
static StrataSeries *
series (void)
{
  StrataSeries *s = strata_series_new ();
  s->prompts = g_new0 (StrataPromptSet, 1);
  s->prompts->prompts = g_ptr_array_new_with_free_func (strata_prompt_free);
  StrataPrompt *p = g_new0 (StrataPrompt, 1);
  p->ids = g_array_new (FALSE, TRUE, sizeof (int32_t));
  g_array_set_size (p->ids, 5);
  g_ptr_array_add (s->prompts->prompts, p);
  StrataTrainingRun *run = strata_training_run_new ("cot", "cot");
  for (int c = 0; c < 2; c++) {
    StrataSeriesCheckpoint *cp = strata_series_checkpoint_new ("ckpt", "ckpt", 100 * (c + 1));
    cp->model.config.n_layers = 8;
    if (c == 0)
      strata_series_checkpoint_set_done (cp);
    g_ptr_array_add (run->checkpoints, cp);
  }
  strata_series_add_run (s, run);
  return s;
}

/* On a series page the selection lives in the series: its layers and its first prompt's
 * positions, whatever analysis 0 holds; back on a checkpoint page it is pulled inside the
 * analysis again. */
static void
test_series_bounds (void)
{
  g_autoptr (StrataViewModel) m = strata_view_model_new ();
  strata_view_model_set_analysis (m, 0, analysis (4, 3), free_analysis);
  strata_view_model_set_series (m, series (), (GDestroyNotify) strata_series_free);
  g_assert_cmpint (strata_view_model_get_max_layer (m), ==, 4);
  strata_view_model_set_figure (m, STRATA_FIGURE_SERIES_HEATMAP);
  g_assert_cmpint (strata_view_model_get_max_layer (m), ==, 8);
  g_assert_cmpint (strata_view_model_get_n_positions (m), ==, 5);
  strata_view_model_set_layer (m, 7);
  strata_view_model_set_position (m, 4);
  g_assert_cmpint (strata_view_model_get_layer (m), ==, 7);
  g_assert_cmpint (strata_view_model_get_state (m)->position, ==, 4);
  strata_view_model_set_checkpoint (m, 0, 1);
  g_assert_cmpint (strata_view_model_get_state (m)->checkpoint, ==, 1);
  strata_view_model_set_figure (m, STRATA_FIGURE_TOKEN_CURVES);
  g_assert_cmpint (strata_view_model_get_layer (m), ==, 4);
  g_assert_cmpint (strata_view_model_get_state (m)->position, ==, 2);
  /* No series: a series figure's bounds are the analysis'. */
  strata_view_model_set_series (m, NULL, NULL);
  strata_view_model_set_figure (m, STRATA_FIGURE_SERIES_HEATMAP);
  g_assert_cmpint (strata_view_model_get_max_layer (m), ==, 4);
}

/* The range: clamped to the sequence, "all" when it covers it; zoom keeps the selection in
 * view and never shows fewer than 4 positions; scrolling stops at the ends; a selection
 * moved outside the range drags the range by the least amount. */
static void
test_range (void)
{
  g_autoptr (StrataViewModel) m = strata_view_model_new ();
  strata_view_model_set_analysis (m, 0, analysis (4, 400), free_analysis);
  int first, count;
  strata_view_model_get_range (m, &first, &count);
  g_assert_cmpint (first, ==, 0);
  g_assert_cmpint (count, ==, 400);
  strata_view_model_set_position (m, 200);
  strata_view_model_zoom (m, 0.25, -1);
  strata_view_model_get_range (m, &first, &count);
  g_assert_cmpint (count, ==, 100);
  g_assert_cmpint (first, ==, 150); /* the selection keeps its place: the middle */
  strata_view_model_set_position (m, 260);
  strata_view_model_get_range (m, &first, &count);
  g_assert_cmpint (first, ==, 161); /* 260 is the last shown */
  g_assert_cmpint (count, ==, 100);
  strata_view_model_scroll_range (m, -1000);
  strata_view_model_get_range (m, &first, &count);
  g_assert_cmpint (first, ==, 0); /* stops at the start; the selection comes along */
  g_assert_cmpint (strata_view_model_get_state (m)->position, ==, 99);
  strata_view_model_scroll_range (m, 1000);
  strata_view_model_get_range (m, &first, &count);
  g_assert_cmpint (first, ==, 300);
  strata_view_model_center_range (m, 120);
  strata_view_model_get_range (m, &first, &count);
  g_assert_cmpint (first, ==, 70);
  for (int i = 0; i < 20; i++)
    strata_view_model_zoom (m, 0.5, -1);
  strata_view_model_get_range (m, &first, &count);
  g_assert_cmpint (count, ==, 4);
  for (int i = 0; i < 20; i++)
    strata_view_model_zoom (m, 2.0, -1);
  g_assert_cmpint (strata_view_model_get_state (m)->range_count, ==, 0); /* back to all */
  strata_view_model_set_range (m, 390, 50);
  strata_view_model_get_range (m, &first, &count);
  g_assert_cmpint (first, ==, 350);
  g_assert_cmpint (count, ==, 50);
  /* Another sequence length: the range starts over. */
  strata_view_model_set_analysis (m, 0, analysis (4, 30), free_analysis);
  g_assert_cmpint (strata_view_model_get_state (m)->range_count, ==, 0);
}

/* Find reads the pieces joined, case-insensitively, from a position on, wrapping. */
static void
test_find (void)
{
  g_autoptr (StrataViewModel) m = strata_view_model_new ();
  StrataAnalysis *a = analysis (2, 6);
  StrataLensResult *r = a->lens_results->pdata[0];
  const char *pieces[] = { "Once", " upon", " a", " ti", "me", " Once" };
  r->pieces = g_ptr_array_new ();
  for (int j = 0; j < 6; j++)
    g_ptr_array_add (r->pieces, (gpointer) pieces[j]);
  strata_view_model_set_analysis (m, 0, a, NULL);
  g_assert_cmpint (strata_view_model_find (m, "once", 0), ==, 0);
  g_assert_cmpint (strata_view_model_find (m, "once", 1), ==, 5);
  g_assert_cmpint (strata_view_model_find (m, "Once", 5 + 1), ==, 0); /* wraps */
  g_assert_cmpint (strata_view_model_find (m, "time", 0), ==, 3);      /* across pieces */
  g_assert_cmpint (strata_view_model_find (m, "pon", 0), ==, 1);       /* inside a piece */
  g_assert_cmpint (strata_view_model_find (m, "dragon", 0), ==, -1);
  g_assert_cmpint (strata_view_model_find (m, "", 0), ==, -1);
  strata_view_model_steal_analysis (m, 0);
  g_ptr_array_unref (r->pieces);
  r->pieces = NULL;
  free_analysis (a);
}

/* The trace figure's K reads below 1 as 1 (a fresh state's 0 included); the same options
 * again are not a change. */
static void
test_trace_options (void)
{
  g_autoptr (StrataViewModel) m = strata_view_model_new ();
  int changed = 0;
  g_signal_connect (m, "changed", G_CALLBACK (count_cb), &changed);
  strata_view_model_set_trace (m, 1, FALSE);
  g_assert_cmpint (changed, ==, 0);
  strata_view_model_set_trace (m, 3, FALSE);
  g_assert_cmpint (changed, ==, 1);
  g_assert_cmpint (strata_view_model_get_state (m)->trace.topk, ==, 3);
  strata_view_model_set_trace (m, 3, TRUE);
  g_assert_cmpint (changed, ==, 2);
  g_assert_true (strata_view_model_get_state (m)->trace.anywhere);
  strata_view_model_set_trace (m, -4, TRUE);
  g_assert_cmpint (changed, ==, 3);
  g_assert_cmpint (strata_view_model_get_state (m)->trace.topk, ==, 1);
  strata_view_model_set_trace (m, 0, TRUE);
  g_assert_cmpint (changed, ==, 3);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/views/model/selection", test_selection);
  g_test_add_func ("/views/model/series-bounds", test_series_bounds);
  g_test_add_func ("/views/model/range", test_range);
  g_test_add_func ("/views/model/find", test_find);
  g_test_add_func ("/views/model/trace-options", test_trace_options);
  return g_test_run ();
}
