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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/views/model/selection", test_selection);
  return g_test_run ();
}
