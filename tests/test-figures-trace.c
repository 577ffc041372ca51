/* test-figures-trace.c: the trace figure shows what `strata lens --json` reports.
 *
 * One run of the real CLI on stories260K (GGUF) with --generate writes the JSON and a session;
 * the figure's data (strata_figure_data_trace), built from the session as the window and
 * `strata export` build it, must colour exactly the cells whose target rank in the JSON is
 * within the top K before the target's last writing position, at a position not reading the
 * target itself (the best-ranked target where several are), mark the writing positions and outline the JSON's first cells. */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "strata-figure-private.h"
#include "strata-session.h"
#include "test-cli-util.h"

typedef struct {
  char *dir, *json_path, *session_path;
  JsonObject *prompt;   /* prompts[0] of the JSON */
  JsonParser *parser;
  StrataSession *session;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  const char *const *extra = data;
  f->dir = g_dir_make_tmp ("strata-trace-XXXXXX", NULL);
  f->json_path = g_build_filename (f->dir, "lens.json", NULL);
  f->session_path = g_build_filename (f->dir, "lens.h5", NULL);
  g_autofree char *model = data_path ("stories260K-gguf/stories260K.gguf");
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  const char *fixed[] = { "lens", model, "--prompt", "Lily had 3 red balls and Tom had 2. Lily said", "--generate",
                          "80", "--json", f->json_path, "--session", f->session_path };
  for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
    g_ptr_array_add (args, (char *) fixed[i]);
  for (; *extra; extra++)
    g_ptr_array_add (args, (char *) *extra);
  g_ptr_array_add (args, NULL);
  g_auto (Run) r = { 0 };
  strata (&r, (const char *const *) args->pdata);
  if (r.status != 0)
    g_error ("strata lens failed (%d): %s", r.status, r.err);
  g_autoptr (GError) error = NULL;
  f->parser = json_parser_new ();
  g_assert_true (json_parser_load_from_file (f->parser, f->json_path, &error));
  g_assert_no_error (error);
  JsonArray *prompts = json_object_get_array_member (json_node_get_object (json_parser_get_root (f->parser)), "prompts");
  f->prompt = json_array_get_object_element (prompts, 0);
  f->session = strata_session_load (f->session_path, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  strata_session_free (f->session);
  g_object_unref (f->parser);
  g_unlink (f->json_path);
  g_unlink (f->session_path);
  g_rmdir (f->dir);
  g_free (f->dir), g_free (f->json_path), g_free (f->session_path);
}

/* Rank of target `name` at (k, p) in the JSON's lens grid. */
static gint64
json_rank (JsonObject *prompt, const char *name, int k, int p)
{
  JsonArray *row = json_array_get_array_element (json_object_get_array_member (prompt, "lens"), k);
  JsonObject *targets = json_object_get_object_member (json_array_get_object_element (row, p), "targets");
  return json_object_get_int_member (json_object_get_object_member (targets, name), "rank");
}

/* The figure built with K = `topk` against the JSON's ranks, cell by cell. */
static void
check_figure (Fixture *f, int topk)
{
  JsonArray *ids = json_object_get_array_member (f->prompt, "ids");
  int T = (int) json_array_get_length (ids);
  int n_generated = (int) json_object_get_int_member (f->prompt, "generated");
  g_assert_cmpint (n_generated, >, 0);
  int R = (int) json_array_get_length (json_object_get_array_member (f->prompt, "lens"));
  /* The targets written in the generated part, in the lens' order: the legend. */
  JsonArray *trace = json_object_get_array_member (f->prompt, "trace_resolution");
  g_autoptr (GPtrArray) legend = g_ptr_array_new ();
  g_autoptr (GArray) last = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GArray) target_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < json_array_get_length (trace); i++) {
    JsonObject *e = json_array_get_object_element (trace, i);
    gint64 id = json_object_get_int_member (e, "id");
    int w_last = -1;
    for (int w = T - n_generated; w < T; w++)
      if (json_array_get_int_element (ids, w) == id)
        w_last = w;
    if (w_last < 0)
      continue;
    g_ptr_array_add (legend, (gpointer) json_object_get_string_member (e, "name"));
    g_array_append_val (last, w_last);
    g_array_append_val (target_ids, id);
  }
  g_assert_cmpuint (legend->len, >, 0);

  StrataViewState v = f->session->view;
  v.trace.topk = topk;
  StrataFigureInput in = { .kind = STRATA_FIGURE_TRACE, .a = f->session->analyses->pdata[0], .view = &v };
  g_autoptr (StrataHeatFigure) fig = strata_figure_data_trace (&in);
  g_assert_nonnull (fig);
  const StrataGrid *g = fig->panels[0];
  g_assert_cmpint (g->rows, ==, R);
  g_assert_cmpint (g->cols, ==, T);
  g_assert_cmpuint (fig->legend->len, ==, legend->len);
  g_assert_cmpint (g->first_generated_col, ==, T - n_generated);
  int held = 0;
  for (int k = 0; k < R; k++)
    for (int p = 0; p < T; p++) {
      int want = -1;
      gint64 best = G_MAXINT64;
      for (guint i = 0; i < legend->len; i++) {
        gint64 rank = json_rank (f->prompt, legend->pdata[i], k, p);
        gboolean echo = json_array_get_int_element (ids, p) == g_array_index (target_ids, gint64, i);
        if (p < g_array_index (last, int, i) && !echo && rank < topk && rank < best)
          want = (int) i, best = rank;
      }
      double got = g->value[(gsize) k * T + p];
      if (want < 0 ? !isnan (got) : got != want)
        g_error ("K=%d cell (layer %d, position %d): figure %g, JSON %d", topk, k, p, got, want);
      held += want >= 0;
    }
  g_assert_cmpint (held, >, 0);

  /* Writing positions marked; first cells outlined, as trace_resolution reports them. */
  int n_marked = 0, n_first = 0;
  for (int p = 0; p < T; p++)
    n_marked += g->col_mark[p] >= 0;
  int n_written = 0;
  for (guint i = 0; i < json_array_get_length (trace); i++) {
    JsonObject *e = json_array_get_object_element (trace, i);
    g_assert_cmpint (json_object_get_int_member (e, "topk"), ==, 1); /* the JSON was run with K = 1 */
    JsonArray *written = json_object_get_array_member (e, "written");
    for (guint j = 0; j < json_array_get_length (written); j++, n_written++)
      g_assert_cmpint (g->col_mark[json_array_get_int_element (written, j)], >=, 0);
    if (topk != 1 || json_object_get_null_member (e, "first"))
      continue;
    JsonObject *first = json_object_get_object_member (e, "first");
    gboolean found = FALSE;
    for (guint j = 0; j < g->outlined->len; j++) {
      const StrataGridCell *c = &g_array_index (g->outlined, StrataGridCell, j);
      found = found || (c->row == json_object_get_int_member (first, "layer")
                        && c->col == json_object_get_int_member (first, "position"));
    }
    g_assert_true (found);
    /* ... and said in the description (SVG <desc>, accessibility). */
    g_autofree char *desc = NULL;
    strata_figure_describe (&in, NULL, &desc);
    g_autofree char *said = g_strdup_printf ("at layer %" G_GINT64_FORMAT ", position %" G_GINT64_FORMAT,
                                             json_object_get_int_member (first, "layer"),
                                             json_object_get_int_member (first, "position"));
    g_assert_nonnull (strstr (desc, said));
    n_first++;
  }
  g_assert_cmpint (n_marked, <=, n_written);
  if (topk == 1)
    g_assert_cmpuint (g->outlined->len, ==, n_first);

  /* A window of the positions (the window's zoom, --positions) shows the same cells, marks and
   * outlines, shifted. */
  int first = T / 3, count = T / 2;
  StrataViewState vr = v;
  vr.range_first = first, vr.range_count = count;
  g_autoptr (StrataHeatFigure) cropped = strata_figure_data_trace (&in);
  strata_heat_figure_apply_range (cropped, &vr);
  const StrataGrid *c = cropped->panels[0];
  g_assert_cmpint (c->cols, ==, count);
  g_assert_cmpint (c->col_offset, ==, first);
  for (int k = 0; k < R; k++)
    for (int j = 0; j < count; j++) {
      double x = c->value[(gsize) k * count + j], y = g->value[(gsize) k * T + first + j];
      g_assert_true (isnan (x) ? isnan (y) : x == y);
    }
  for (int j = 0; j < count; j++)
    g_assert_cmpint (c->col_mark[j], ==, g->col_mark[first + j]);
  guint inside = 0;
  for (guint j = 0; j < g->outlined->len; j++) {
    int col = g_array_index (g->outlined, StrataGridCell, j).col;
    inside += col >= first && col < first + count;
  }
  g_assert_cmpuint (c->outlined->len, ==, inside);
  for (guint j = 0; j < c->outlined->len; j++) {
    const StrataGridCell *o = &g_array_index (c->outlined, StrataGridCell, j);
    g_assert_cmpfloat (g->value[(gsize) o->row * T + first + o->col], ==, c->value[(gsize) o->row * count + o->col]);
  }
}

static void
test_matches_json (Fixture *f, gconstpointer data)
{
  check_figure (f, 1);
  check_figure (f, 3);
}

/* A session saved showing the trace figure reopens on it, with its K and its positions. */
static void
test_session_view (Fixture *f, gconstpointer data)
{
  const StrataViewState *v = &f->session->view;
  g_assert_cmpint (v->figure, ==, STRATA_FIGURE_TRACE);
  g_assert_cmpint (v->trace.topk, ==, 3);
  g_assert_true (v->trace.anywhere);
  JsonObject *settings = json_object_get_object_member (json_node_get_object (json_parser_get_root (f->parser)),
                                                        "settings");
  g_assert_cmpint (json_object_get_int_member (settings, "trace_topk"), ==, 3);
  g_assert_cmpstr (json_object_get_string_member (settings, "trace_written"), ==, "anywhere");
}

/* A trace of 2000 positions fits the figure: cells narrower than a unit stay inside the plot,
 * and a point maps back to the cell drawn there. Hand-built: one target, id 7, written at
 * 1500 and 1999, top-1 at (layer 2, position 1200). */
static void
test_long_trace (void)
{
  enum { T = 2000, L = 4 };
  StrataLensResult *r = g_new0 (StrataLensResult, 1);
  r->n_layers = L;
  r->T = T;
  r->ids = g_array_new (FALSE, TRUE, sizeof (int32_t));
  g_array_set_size (r->ids, T);
  g_array_index (r->ids, int32_t, 1500) = g_array_index (r->ids, int32_t, 1999) = 7;
  r->targets = g_ptr_array_new_with_free_func (strata_lens_target_free);
  StrataLensTarget *t = g_new0 (StrataLensTarget, 1);
  t->name = g_strdup ("seven");
  t->id = 7;
  t->rank = g_new (int32_t, (L + 1) * T);
  for (int c = 0; c < (L + 1) * T; c++)
    t->rank[c] = 100;
  t->rank[2 * T + 1200] = 0;
  g_ptr_array_add (r->targets, t);
  StrataAnalysis a = { .lens_results = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_lens_result_free) };
  g_ptr_array_add (a.lens_results, r);
  StrataViewState v = { .layer = -1, .position = -1, .trace = { 1, TRUE } };
  StrataFigureInput in = { .kind = STRATA_FIGURE_TRACE, .a = &a, .view = &v };
  double W = STRATA_FIGURE_DEFAULT_WIDTH, H = STRATA_FIGURE_DEFAULT_HEIGHT, x, y, w, h;
  g_assert_true (strata_figure_get_plot_area (&in, W, H, 0, &x, &y, &w, &h));
  g_assert_cmpfloat (x, >, 0);
  g_assert_cmpfloat (x + w, <=, W);
  StrataFigureHit hit;
  g_assert_true (strata_figure_hit_test (&in, W, H, x + (1200 + 0.5) * w / T, y + (L - 2 + 0.5) * h / (L + 1), &hit));
  g_assert_cmpint (hit.position, ==, 1200);
  g_assert_cmpint (hit.layer, ==, 2);
  g_autoptr (StrataHeatFigure) f = strata_figure_data_trace (&in);
  g_assert_cmpfloat (f->panels[0]->value[2 * T + 1200], ==, 0);
  g_assert_cmpuint (f->panels[0]->outlined->len, ==, 1);
  g_autofree char *dir = g_dir_make_tmp ("strata-trace-XXXXXX", NULL);
  g_autofree char *png = g_build_filename (dir, "long.png", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (strata_figure_export (png, W, H, 1, &in, &error));
  g_assert_no_error (error);
  g_unlink (png);
  g_rmdir (dir);
  g_ptr_array_unref (a.lens_results);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const char *const plain[] = { NULL };
  static const char *const typed[] = { "--target", "Lily", "--target", "#29", NULL };
  g_test_add ("/figures-trace/matches-json", Fixture, plain, fixture_set_up, test_matches_json, fixture_tear_down);
  g_test_add ("/figures-trace/matches-json-typed", Fixture, typed, fixture_set_up, test_matches_json,
              fixture_tear_down);
  static const char *const shown[] = { "--view", "trace", "--trace-topk", "3", "--trace-anywhere", NULL };
  g_test_add_func ("/figures-trace/long", test_long_trace);
  g_test_add ("/figures-trace/session-view", Fixture, shown, fixture_set_up, test_session_view, fixture_tear_down);
  return g_test_run ();
}
