/* test-figures.c: every figure rendered offscreen from hand-built results and checked
 * through its pixels (cell colours, row count, curve points) and its files (PNG size, SVG
 * well-formed with its words, PDF valid and readable by poppler). */
#define _GNU_SOURCE
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "strata-figure.h"
#include "test-figures-util.h"

/* ---- hand-built results (the probes library is not needed to draw) ---- */

static StrataLensTarget *
make_target (const char *name, int32_t id, int R, int T)
{
  StrataLensTarget *t = g_new0 (StrataLensTarget, 1);
  t->name = g_strdup (name);
  t->id = id;
  t->prob = g_new0 (float, R * T);
  t->logprob = g_new0 (float, R * T);
  t->logit = g_new0 (float, R * T);
  t->rank = g_new0 (int32_t, R * T);
  t->resolution = g_new (int32_t, T);
  for (int j = 0; j < T; j++)
    t->resolution[j] = -1;
  return t;
}

static void
target_free (gpointer p)
{
  StrataLensTarget *t = p;
  g_free (t->name);
  g_free (t->prob);
  g_free (t->logprob);
  g_free (t->logit);
  g_free (t->rank);
  g_free (t->resolution);
  g_free (t);
}

static void
lens_free (gpointer p)
{
  StrataLensResult *r = p;
  g_array_unref (r->ids);
  g_ptr_array_unref (r->pieces);
  g_free (r->topk_ids);
  g_free (r->topk_prob);
  g_free (r->topk_logit);
  g_ptr_array_unref (r->targets);
  g_free (r);
}

/* L layers, T positions. prob of target "bridge" at (k, j) = prob (k, j). Top-1 at (k, j) is
 * token 100 + k with probability 1 - k / (2L). */
static StrataLensResult *
make_lens (int L, int T, double (*prob) (int k, int j, int L))
{
  int R = L + 1;
  StrataLensResult *r = g_new0 (StrataLensResult, 1);
  r->n_layers = L;
  r->T = T;
  r->topk = 2;
  r->vocab = 512;
  r->ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  r->pieces = g_ptr_array_new_with_free_func (g_free);
  for (int j = 0; j < T; j++) {
    int32_t id = 10 + j;
    g_array_append_val (r->ids, id);
    g_ptr_array_add (r->pieces, g_strdup_printf ("tok%d", j));
  }
  r->topk_ids = g_new (int32_t, (gsize) R * T * 2);
  r->topk_prob = g_new (float, (gsize) R * T * 2);
  r->topk_logit = g_new0 (float, (gsize) R * T * 2);
  r->targets = g_ptr_array_new_with_free_func (target_free);
  StrataLensTarget *t = make_target ("bridge", 10, R, T);
  StrataLensTarget *u = make_target ("answer", 11, R, T);
  for (int k = 0; k < R; k++)
    for (int j = 0; j < T; j++) {
      int c = k * T + j;
      r->topk_ids[c * 2] = 100 + k;
      r->topk_ids[c * 2 + 1] = 200;
      r->topk_prob[c * 2] = (float) (1.0 - k / (2.0 * L));
      r->topk_prob[c * 2 + 1] = 0.01f;
      t->prob[c] = (float) prob (k, j, L);
      t->logprob[c] = logf (MAX (t->prob[c], 1e-9f));
      t->rank[c] = t->prob[c] > 0.5f ? 0 : 5;
      u->prob[c] = (float) (0.5 * k / L);
      u->logprob[c] = logf (MAX (u->prob[c], 1e-9f));
      u->rank[c] = L - k;
    }
  t->resolution[T - 1] = L / 2;
  u->resolution[T - 1] = L;
  g_ptr_array_add (r->targets, t);
  g_ptr_array_add (r->targets, u);
  return r;
}

static double
prob_by_layer (int k, int j, int L)
{
  return (double) k / L;
}

static double
prob_top_bottom (int k, int j, int L)
{
  return k == L ? 1.0 : 0.0;
}

static void
patch_map_free (gpointer p)
{
  StrataPatchMap *m = p;
  g_free (m->metric);
  g_free (m->score);
  g_free (m);
}

static void
patch_free (gpointer p)
{
  StrataPatchResult *r = p;
  g_free (r->target_name);
  g_ptr_array_unref (r->maps);
  if (r->clean_ids)
    g_array_unref (r->clean_ids);
  g_free (r);
}

/* Scores: row 0 = +1, row 1 = -1, others 0; heads map L x H with score (h == 1). */
static StrataPatchResult *
make_patch (int L, int T, int Hh)
{
  StrataPatchResult *r = g_new0 (StrataPatchResult, 1);
  r->target_name = g_strdup ("bridge");
  r->metric = STRATA_METRIC_LOGIT_DIFF;
  r->baseline_clean = 3.0;
  r->baseline_corrupt = -1.0;
  r->maps = g_ptr_array_new_with_free_func (patch_map_free);
  StrataPatchMap *m = g_new0 (StrataPatchMap, 1);
  m->site = STRATA_PATCH_RESID_PRE;
  m->rows = L;
  m->cols = T;
  m->head_pos = -1;
  m->metric = g_new0 (double, L * T);
  m->score = g_new0 (double, L * T);
  for (int j = 0; j < T; j++) {
    m->score[0 * T + j] = 1.0;
    m->score[1 * T + j] = -1.0;
  }
  g_ptr_array_add (r->maps, m);
  StrataPatchMap *h = g_new0 (StrataPatchMap, 1);
  h->site = STRATA_PATCH_HEAD;
  h->rows = L;
  h->cols = Hh;
  h->head_pos = -1;
  h->metric = g_new0 (double, L * Hh);
  h->score = g_new0 (double, L * Hh);
  for (int k = 0; k < L; k++)
    h->score[k * Hh + 1] = 0.5;
  g_ptr_array_add (r->maps, h);
  return r;
}

static StrataCircuit *
make_circuit (int L, int T)
{
  StrataCircuit *c = g_new0 (StrataCircuit, 1);
  c->n_layers = L;
  c->T = T;
  c->threshold = 0.1;
  c->target_name = g_strdup ("answer");
  c->nodes = g_array_new (FALSE, FALSE, sizeof (StrataCircuitNode));
  c->edges = g_array_new (FALSE, FALSE, sizeof (StrataCircuitEdge));
  /* A two-hop shape: bridge resolved at position T-2 by layer L/2, read by the last
   * position in the upper layers. */
  for (int k = 0; k <= L; k++) {
    StrataCircuitNode n = { STRATA_NODE_RESID, k, k <= L / 2 ? T - 2 : T - 1, -1, 0.2 + 0.8 * k / L, -1, k >= L / 2 };
    g_array_append_val (c->nodes, n);
    if (k > 0) {
      StrataCircuitEdge e = { (int) c->nodes->len - 2, (int) c->nodes->len - 1, n.effect };
      g_array_append_val (c->edges, e);
    }
  }
  StrataCircuitNode a = { STRATA_NODE_ATTN, L / 2, T - 1, -1, 0.7, -1, FALSE };
  StrataCircuitNode m = { STRATA_NODE_MLP, 1, T - 2, -1, -0.4, -1, FALSE };
  StrataCircuitNode h = { STRATA_NODE_HEAD, L / 2, -1, 3, 0.6, -1, FALSE };
  g_array_append_val (c->nodes, a);
  g_array_append_val (c->nodes, m);
  g_array_append_val (c->nodes, h);
  return c;
}

static void
circuit_free (StrataCircuit *c)
{
  g_free (c->target_name);
  g_array_unref (c->nodes);
  g_array_unref (c->edges);
  g_free (c);
}

typedef struct {
  StrataAnalysis a;
  StrataViewState v;
  StrataFigureInput in;
} Fixture;

static void
fixture_init (Fixture *f, int L, int T, double (*prob) (int, int, int))
{
  memset (f, 0, sizeof *f);
  f->a.model.name = g_strdup ("toy-model");
  f->a.has_lens = TRUE;
  f->a.lens_results = g_ptr_array_new_with_free_func (lens_free);
  g_ptr_array_add (f->a.lens_results, make_lens (L, T, prob));
  f->a.patch_results = g_ptr_array_new_with_free_func (patch_free);
  g_ptr_array_add (f->a.patch_results, make_patch (L, T, 4));
  f->a.circuit = make_circuit (L, T);
  StrataAttention *att = g_new0 (StrataAttention, 1);
  att->n_layers = L;
  att->n_heads = 2;
  att->T = T;
  att->pattern = g_new0 (float, L * 2 * T * T);
  for (int l = 0; l < L; l++)
    for (int hh = 0; hh < 2; hh++)
      for (int q = 0; q < T; q++)
        att->pattern[((l * 2 + hh) * T + q) * T + q] = 1.0f; /* attend to itself */
  f->a.attention = att;
  f->v.layer = f->v.position = f->v.head = -1;
  f->in.a = &f->a;
  f->in.view = &f->v;
}

static void
fixture_clear (Fixture *f)
{
  g_free (f->a.model.name);
  g_free (f->a.model.device);
  g_ptr_array_unref (f->a.lens_results);
  g_ptr_array_unref (f->a.patch_results);
  circuit_free (f->a.circuit);
  g_free (f->a.attention->pattern);
  g_free (f->a.attention);
  g_free (f->v.target);
}

/* ---- pixels ---- */

static guint32
rgb_u32 (double r, double g, double b)
{
  return ((guint32) lround (r * 255) << 16) | ((guint32) lround (g * 255) << 8) | (guint32) lround (b * 255);
}

static void
assert_color_near (guint32 got, guint32 want)
{
  for (int sh = 0; sh <= 16; sh += 8) {
    int a = (int) ((got >> sh) & 0xff), b = (int) ((want >> sh) & 0xff);
    if (ABS (a - b) > 1)
      g_error ("colour #%06x, expected #%06x", got, want);
  }
}

/* Top-left pixel of cell (row, col) inset by 2: away from the centred cell text. */
static void
cell_corner (const StrataFigureInput *in, int rows, int cols, gboolean row0_bottom, int row, int col,
             int *px, int *py)
{
  double x, y, w, h;
  g_assert_true (strata_figure_get_plot_area (in, W, H, 0, &x, &y, &w, &h));
  double cw = w / cols, ch = h / rows;
  int visual = row0_bottom ? rows - 1 - row : row;
  *px = (int) (x + col * cw + 2);
  *py = (int) (y + visual * ch + 2);
}

static void
test_lens_cell_colors (void)
{
  Fixture f;
  fixture_init (&f, 4, 5, prob_top_bottom);
  f.v.target = g_strdup ("bridge");
  f.in.kind = STRATA_FIGURE_LENS_HEATMAP;
  cairo_surface_t *s = render (&f.in);
  double r, g, b;
  int x, y;
  /* prob 1 at the last layer, 0 everywhere else */
  cell_corner (&f.in, 5, 5, TRUE, 4, 2, &x, &y);
  strata_colormap_sequential (1.0, &r, &g, &b);
  assert_color_near (pixel (s, x, y), rgb_u32 (r, g, b));
  guint32 one = pixel (s, x, y);
  cell_corner (&f.in, 5, 5, TRUE, 0, 2, &x, &y);
  strata_colormap_sequential (0.0, &r, &g, &b);
  assert_color_near (pixel (s, x, y), rgb_u32 (r, g, b));
  g_assert_cmpuint (one, !=, pixel (s, x, y));
  /* The colour map is monotone dark-going: prob 1 is darker than prob 0. */
  double r1, g1, b1;
  strata_colormap_sequential (1.0, &r1, &g1, &b1);
  g_assert_cmpfloat (r1 + g1 + b1, <, r + g + b - 1.0);
  cairo_surface_destroy (s);
  fixture_clear (&f);
}

/* Count runs of non-background pixels down a vertical line through the first column. */
static int
count_rows (const StrataFigureInput *in, cairo_surface_t *s)
{
  double x, y, w, h;
  g_assert_true (strata_figure_get_plot_area (in, W, H, 0, &x, &y, &w, &h));
  int runs = 0;
  gboolean inside = FALSE;
  for (int py = (int) y - 3; py < (int) (y + h) + 3; py++) {
    gboolean cell = pixel (s, (int) x + 3, py) != 0xffffff;
    if (cell && !inside)
      runs++;
    inside = cell;
  }
  return runs;
}

static void
test_lens_rows (void)
{
  const int sizes[][2] = { { 4, 5 }, { 8, 6 }, { 12, 10 }, { 5, 30 } };
  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++) {
    Fixture f;
    fixture_init (&f, sizes[i][0], sizes[i][1], prob_by_layer);
    f.v.target = g_strdup ("bridge");
    f.in.kind = STRATA_FIGURE_LENS_HEATMAP;
    cairo_surface_t *s = render (&f.in);
    g_assert_cmpint (count_rows (&f.in, s), ==, sizes[i][0] + 1);
    cairo_surface_destroy (s);
    fixture_clear (&f);
  }
}

static void
test_lens_hit (void)
{
  Fixture f;
  fixture_init (&f, 6, 4, prob_by_layer);
  f.in.kind = STRATA_FIGURE_LENS_HEATMAP;
  double x, y, w, h;
  g_assert_true (strata_figure_get_plot_area (&f.in, W, H, 0, &x, &y, &w, &h));
  StrataFigureHit hit;
  /* Row 0 (embedding) is at the bottom. */
  g_assert_true (strata_figure_hit_test (&f.in, W, H, x + w * (2.5 / 4), y + h - 1, &hit));
  g_assert_cmpint (hit.layer, ==, 0);
  g_assert_cmpint (hit.position, ==, 2);
  g_assert_true (strata_figure_hit_test (&f.in, W, H, x + 1, y + 1, &hit));
  g_assert_cmpint (hit.layer, ==, 6);
  g_assert_cmpint (hit.position, ==, 0);
  g_assert_false (strata_figure_hit_test (&f.in, W, H, 1, 1, &hit));
  fixture_clear (&f);
}

static void
test_lens_selection (void)
{
  Fixture f;
  fixture_init (&f, 4, 5, prob_by_layer);
  f.in.kind = STRATA_FIGURE_LENS_HEATMAP;
  cairo_surface_t *plain = render (&f.in);
  f.v.layer = 2;
  f.v.position = 1;
  cairo_surface_t *sel = render (&f.in);
  /* The selected cell is framed in the highlight colour; elsewhere nothing moves. */
  double x, y, w, h;
  g_assert_true (strata_figure_get_plot_area (&f.in, W, H, 0, &x, &y, &w, &h));
  double cw = w / 5, ch = h / 5;
  int fx = (int) (x + 1 * cw - 1), fy = (int) (y + (4 - 2) * ch + ch / 2);
  guint32 frame = pixel (sel, fx, fy);
  g_assert_cmpuint (frame, !=, pixel (plain, fx, fy));
  assert_color_near (frame, rgb_u32 (0.90, 0.38, 0.0));
  g_assert_cmpuint (pixel (sel, (int) (x + 4 * cw + 3), (int) (y + 3)), ==, pixel (plain, (int) (x + 4 * cw + 3), (int) (y + 3)));
  cairo_surface_destroy (plain);
  cairo_surface_destroy (sel);
  fixture_clear (&f);
}

static void
test_lens_compare (void)
{
  Fixture f, g;
  fixture_init (&f, 8, 5, prob_by_layer);
  fixture_init (&g, 6, 5, prob_top_bottom);
  f.in.kind = STRATA_FIGURE_LENS_HEATMAP;
  f.in.b = &g.a;
  f.v.compare = TRUE;
  f.v.target = g_strdup ("bridge");
  double x0, y0, w0, h0, x1, y1, w1, h1;
  g_assert_true (strata_figure_get_plot_area (&f.in, W, H, 0, &x0, &y0, &w0, &h0));
  g_assert_true (strata_figure_get_plot_area (&f.in, W, H, 1, &x1, &y1, &w1, &h1));
  g_assert_cmpfloat (x1, >, x0 + w0);
  StrataFigureHit hit;
  g_assert_true (strata_figure_hit_test (&f.in, W, H, x1 + 2, y1 + 2, &hit));
  g_assert_cmpint (hit.panel, ==, 1);
  g_assert_cmpint (hit.layer, ==, 6);
  fixture_clear (&f);
  fixture_clear (&g);
}

static void
test_patch_diverging (void)
{
  Fixture f;
  fixture_init (&f, 4, 5, prob_by_layer);
  f.in.kind = STRATA_FIGURE_PATCH_HEATMAP;
  f.v.patch_site = STRATA_PATCH_RESID_PRE;
  cairo_surface_t *s = render (&f.in);
  double r, g, b;
  int x, y;
  cell_corner (&f.in, 4, 5, TRUE, 0, 1, &x, &y);
  strata_colormap_diverging (1.0, &r, &g, &b);
  assert_color_near (pixel (s, x, y), rgb_u32 (r, g, b));
  cell_corner (&f.in, 4, 5, TRUE, 1, 1, &x, &y);
  strata_colormap_diverging (-1.0, &r, &g, &b);
  assert_color_near (pixel (s, x, y), rgb_u32 (r, g, b));
  cell_corner (&f.in, 4, 5, TRUE, 3, 1, &x, &y);
  strata_colormap_diverging (0.0, &r, &g, &b);
  assert_color_near (pixel (s, x, y), rgb_u32 (r, g, b));
  /* Zero is neutral: equal red and blue. */
  g_assert_cmpfloat (fabs (r - b), <, 0.01);
  cairo_surface_destroy (s);

  /* The head map: L x H, clicks give heads. */
  f.v.patch_site = STRATA_PATCH_HEAD;
  double px, py, pw, ph;
  g_assert_true (strata_figure_get_plot_area (&f.in, W, H, 0, &px, &py, &pw, &ph));
  StrataFigureHit hit;
  g_assert_true (strata_figure_hit_test (&f.in, W, H, px + pw * (3.5 / 4), py + ph - 2, &hit));
  g_assert_cmpint (hit.head, ==, 3);
  g_assert_cmpint (hit.layer, ==, 0);
  g_assert_cmpint (hit.position, ==, -1);
  fixture_clear (&f);
}

static void
test_attention (void)
{
  Fixture f;
  fixture_init (&f, 3, 6, prob_by_layer);
  f.in.kind = STRATA_FIGURE_ATTENTION;
  f.v.layer = 1;
  f.v.head = 1;
  cairo_surface_t *s = render (&f.in);
  double r, g, b;
  int x, y;
  /* query 2 attends to itself with weight 1; key 4 > query 2 is masked (no data). */
  cell_corner (&f.in, 6, 6, FALSE, 2, 2, &x, &y);
  strata_colormap_sequential (1.0, &r, &g, &b);
  assert_color_near (pixel (s, x, y), rgb_u32 (r, g, b));
  cell_corner (&f.in, 6, 6, FALSE, 2, 0, &x, &y);
  strata_colormap_sequential (0.0, &r, &g, &b);
  assert_color_near (pixel (s, x, y), rgb_u32 (r, g, b));
  cell_corner (&f.in, 6, 6, FALSE, 2, 4, &x, &y);
  assert_color_near (pixel (s, x, y), rgb_u32 (0.94, 0.93, 0.92));
  cairo_surface_destroy (s);
  fixture_clear (&f);
}

static void
test_curves (void)
{
  Fixture f;
  fixture_init (&f, 4, 5, prob_by_layer);
  f.in.kind = STRATA_FIGURE_TOKEN_CURVES;
  f.v.curve = STRATA_CURVE_PROB;
  cairo_surface_t *s = render (&f.in);
  double x, y, w, h;
  g_assert_true (strata_figure_get_plot_area (&f.in, W, H, 0, &x, &y, &w, &h));
  /* "bridge" at the last position: prob k/L, so the point of layer L sits at the top
   * right, in the first series colour (blue). */
  guint32 p = pixel (s, (int) lround (x + w), (int) lround (y));
  assert_color_near (p, rgb_u32 (0.11, 0.44, 0.85));
  /* Clicking near layer 3 selects layer 3. */
  StrataFigureHit hit;
  g_assert_true (strata_figure_hit_test (&f.in, W, H, x + w * 3 / 4 + 4, y + h / 2, &hit));
  g_assert_cmpint (hit.layer, ==, 3);
  cairo_surface_destroy (s);

  /* Every quantity draws. */
  for (int q = STRATA_CURVE_PROB; q <= STRATA_CURVE_MRR; q++) {
    f.v.curve = q;
    s = render (&f.in);
    cairo_surface_destroy (s);
  }
  fixture_clear (&f);
}

static void
test_circuit (void)
{
  const int layers[] = { 6, 8, 12 };
  for (gsize i = 0; i < G_N_ELEMENTS (layers); i++) {
    Fixture f;
    fixture_init (&f, layers[i], 5, prob_by_layer);
    f.in.kind = STRATA_FIGURE_CIRCUIT;
    cairo_surface_t *s = render (&f.in);
    double x, y, w, h;
    g_assert_true (strata_figure_get_plot_area (&f.in, W, H, 0, &x, &y, &w, &h));
    /* Rows are at least 20 units apart even with 12 layers (readable). */
    g_assert_cmpfloat (h / (layers[i] + 0.6), >=, 20);
    /* the node of the last layer at the last position is drawn: a non-white pixel there */
    StrataFigureHit hit;
    int L = layers[i];
    double row_h = h / (L + 0.6);
    double cx = x + (4 + 0.5) * (w / 5), cy = y + h - row_h * (L + 0.3);
    g_assert_cmpuint (pixel (s, (int) cx, (int) cy), !=, 0xffffff);
    g_assert_true (strata_figure_hit_test (&f.in, W, H, cx, cy, &hit));
    g_assert_cmpint (hit.layer, ==, L);
    g_assert_cmpint (hit.position, ==, 4);
    cairo_surface_destroy (s);
    fixture_clear (&f);
  }
}

static void
test_empty (void)
{
  StrataAnalysis a = { 0 };
  StrataViewState v = { .layer = -1, .position = -1 };
  StrataFigureInput in = { .kind = STRATA_FIGURE_LENS_HEATMAP, .a = &a, .view = &v };
  for (int k = 0; k < STRATA_FIGURE_N; k++) {
    in.kind = k;
    cairo_surface_t *s = render (&in);
    cairo_surface_destroy (s);
    g_assert_false (strata_figure_has_data (&in));
  }
  g_autofree char *dir = g_dir_make_tmp ("strata-fig-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "x.png", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_false (strata_figure_export_analysis (&a, NULL, STRATA_FIGURE_LENS_HEATMAP, &v, path, 1, &error));
  g_assert_error (error, STRATA_FIGURE_ERROR, STRATA_FIGURE_ERROR_EMPTY);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_rmdir (dir);
}

/* Patching cells carry text only where the score is informative: |score| >= 0.005. */
static void
test_patch_blank_zero (void)
{
  Fixture f;
  fixture_init (&f, 4, 5, prob_by_layer);
  f.in.kind = STRATA_FIGURE_PATCH_HEATMAP;
  f.v.patch_site = STRATA_PATCH_RESID_PRE;
  StrataPatchMap *m = g_ptr_array_index (((StrataPatchResult *) g_ptr_array_index (f.a.patch_results, 0))->maps, 0);
  m->score[3 * 5 + 2] = 0.004;  /* rounds to 0.00: blank */
  m->score[3 * 5 + 3] = -0.03;  /* informative */
  g_autofree char *desc = NULL;
  strata_figure_describe (&f.in, NULL, &desc);
  g_assert_nonnull (strstr (desc, "1.00"));
  g_assert_nonnull (strstr (desc, "-1.00"));
  g_assert_nonnull (strstr (desc, "-0.03"));
  g_assert_null (strstr (desc, "0.00"));
  /* The layer x head map: only head 1 (0.50) is written. */
  f.v.patch_site = STRATA_PATCH_HEAD;
  g_autofree char *heads = NULL;
  strata_figure_describe (&f.in, NULL, &heads);
  g_assert_nonnull (strstr (heads, "0.50"));
  g_assert_null (strstr (heads, "0.00"));
  fixture_clear (&f);
}

/* Comparing two checkpoints: a target one of them did not read is left empty (no data),
 * never silently replaced by that model's own top-1 token under the other's colour bar. */
static void
test_lens_compare_target (void)
{
  Fixture f, g;
  fixture_init (&f, 4, 5, prob_by_layer);
  fixture_init (&g, 4, 5, prob_by_layer);
  StrataLensResult *rb = g_ptr_array_index (g.a.lens_results, 0);
  g_ptr_array_remove_index (rb->targets, 0); /* b has "answer" only */
  g_free (g.a.model.name);
  g.a.model.name = g_strdup ("other-model");
  f.in.kind = STRATA_FIGURE_LENS_HEATMAP;
  f.in.b = &g.a;
  f.v.compare = TRUE;
  f.v.target = g_strdup ("bridge");
  cairo_surface_t *s = render (&f.in);
  double x, y, w, h;
  g_assert_true (strata_figure_get_plot_area (&f.in, W, H, 1, &x, &y, &w, &h));
  assert_color_near (pixel (s, (int) x + 2, (int) y + 2), rgb_u32 (0.94, 0.93, 0.92));
  cairo_surface_destroy (s);
  g_autofree char *desc = NULL;
  strata_figure_describe (&f.in, NULL, &desc);
  g_assert_nonnull (strstr (desc, "other-model (no target bridge)"));
  g_assert_nonnull (strstr (desc, "colour: P(bridge"));
  g_free (f.v.target);
  f.v.target = NULL;
  g_autofree char *top1 = NULL;
  strata_figure_describe (&f.in, NULL, &top1);
  g_assert_nonnull (strstr (top1, "P(each model's top-1)"));
  fixture_clear (&f);
  fixture_clear (&g);
}

/* Every checkpoint caption names the device after the model names, short; a record that
 * does not know its device (a session older than format 1.3) adds nothing. */
static void
test_caption_device (void)
{
  Fixture f, g;
  fixture_init (&f, 4, 5, prob_by_layer);
  fixture_init (&g, 4, 5, prob_by_layer);
  f.a.model.device = g_strdup ("cpu");
  g.a.model.device = g_strdup ("cpu");
  g_free (g.a.model.name);
  g.a.model.name = g_strdup ("other-model");
  for (int k = 0; k < STRATA_FIGURE_N; k++) {
    f.in.kind = (StrataFigureKind) k;
    f.in.b = NULL;
    f.v.compare = FALSE;
    g_autofree char *desc = NULL;
    strata_figure_describe (&f.in, NULL, &desc);
    if (!g_str_has_prefix (desc, "toy-model \xc2\xb7 cpu \xc2\xb7 "))
      g_error ("%s: %s", strata_figure_kind_to_string (f.in.kind), desc);
  }
  /* Two checkpoints on one device: said once; on two: both. */
  f.in.kind = STRATA_FIGURE_LENS_HEATMAP;
  f.in.b = &g.a;
  f.v.compare = TRUE;
  g_autofree char *same = NULL;
  strata_figure_describe (&f.in, NULL, &same);
  g_assert_true (g_str_has_prefix (same, "toy-model vs other-model \xc2\xb7 cpu \xc2\xb7 "));
  g_free (g.a.model.device);
  g.a.model.device = g_strdup ("cuda");
  g_autofree char *mixed = NULL;
  strata_figure_describe (&f.in, NULL, &mixed);
  g_assert_true (g_str_has_prefix (mixed, "toy-model vs other-model \xc2\xb7 cpu, cuda \xc2\xb7 "));
  g_free (f.a.model.device);
  f.a.model.device = g_strdup (""); /* unknown */
  f.in.b = NULL;
  f.v.compare = FALSE;
  g_autofree char *unknown = NULL;
  strata_figure_describe (&f.in, NULL, &unknown);
  g_assert_true (g_str_has_prefix (unknown, "toy-model \xc2\xb7 final-norm lens"));
  fixture_clear (&f);
  fixture_clear (&g);
}

static void
prompt_free (gpointer p)
{
  StrataPrompt *pr = p;
  g_array_unref (pr->ids);
  g_array_unref (pr->positions);
  g_strfreev (pr->tags);
  g_free (pr);
}

static void
aggregate_free (gpointer p)
{
  StrataLensAggregate *ag = p;
  g_free (ag->tag);
  g_free (ag->target);
  g_free (ag->position);
  g_free (ag->mrr);
  g_free (ag);
}

/* A prompt followed by what the model generated: the caption says how much and from where
 * (a long text shortened), and a dashed line marks the boundary between the last prompt
 * column and the first generated one, not elsewhere. */
static void
test_lens_generated (void)
{
  Fixture f;
  const int L = 4, T = 12, from = 8;
  fixture_init (&f, L, T, prob_by_layer);
  StrataPromptSet set = { (char *) "command line", g_ptr_array_new_with_free_func (prompt_free) };
  StrataPrompt *pr = g_new0 (StrataPrompt, 1);
  pr->text = (char *) "Once upon a time, in a small village near the big green forest, there lived a little";
  pr->ids = g_array_ref (((StrataLensResult *) f.a.lens_results->pdata[0])->ids);
  pr->positions = g_array_new (FALSE, TRUE, sizeof (StrataPosition));
  pr->tags = g_new0 (char *, 1);
  pr->n_generated = T - from;
  g_ptr_array_add (set.prompts, pr);
  f.a.prompts = &set;
  f.in.kind = STRATA_FIGURE_LENS_HEATMAP;
  g_autofree char *desc = NULL;
  strata_figure_describe (&f.in, NULL, &desc);
  g_assert_nonnull (strstr (desc, "prompt \xe2\x80\x9cOnce upon a time, in a small village near the big green for"
                                  "\xe2\x80\xa6\xe2\x80\x9d + 4 generated tokens (from position 8, dashed line)"));
  /* The line: against the same figure without a generated part, the plot area differs
   * only within two pixels of the boundary before column 8, and along much of its height. */
  cairo_surface_t *s = render (&f.in);
  pr->n_generated = 0;
  cairo_surface_t *plain = render (&f.in);
  double x, y, w, h;
  g_assert_true (strata_figure_get_plot_area (&f.in, W, H, 0, &x, &y, &w, &h));
  double boundary = x + from * (w / T);
  int near = 0, elsewhere = 0;
  for (int py = (int) y; py < (int) (y + h); py++)
    for (int px = (int) x; px < (int) (x + w); px++)
      if (pixel (s, px, py) != pixel (plain, px, py))
        fabs (px + 0.5 - boundary) <= 2.5 ? near++ : elsewhere++;
  g_assert_cmpint (elsewhere, ==, 0);
  g_assert_cmpint (near, >, h / 4);
  cairo_surface_destroy (plain);
  cairo_surface_destroy (s);
  f.a.prompts = NULL;
  pr->text = NULL;
  g_ptr_array_unref (set.prompts);
  fixture_clear (&f);
}

/* MRR of `target` at `pos` for `tag`: constant `level` from layer `from` on, else 0.1. */
static StrataLensAggregate *
make_aggregate (const char *tag, const char *target, const char *pos, int L, int n, int from, double level)
{
  StrataLensAggregate *ag = g_new0 (StrataLensAggregate, 1);
  ag->tag = g_strdup (tag);
  ag->target = g_strdup (target);
  ag->position = g_strdup (pos);
  ag->n_prompts = n;
  ag->n_layers = L;
  ag->mrr = g_new (double, L + 1);
  for (int k = 0; k <= L; k++)
    ag->mrr[k] = k >= from ? level : 0.1;
  ag->resolution_layer = level >= 0.9 ? from : -1;
  return ag;
}

/* A two-prompt set with named positions h 0, r1 1, r2 2 and tags id / ood, and the MRR
 * aggregates the lens would compute over it. */
static void
add_prompt_set (StrataAnalysis *a, StrataPromptSet *set, int L, int id_from)
{
  set->source = (char *) "prompts-stage1.jsonl";
  set->prompts = g_ptr_array_new_with_free_func (prompt_free);
  static const char *const tags[2] = { "id", "ood" };
  for (int i = 0; i < 2; i++) {
    StrataPrompt *pr = g_new0 (StrataPrompt, 1);
    pr->ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
    pr->positions = g_array_new (FALSE, FALSE, sizeof (StrataPosition));
    static const char *const names[3] = { "h", "r1", "r2" };
    for (int j = 0; j < 3; j++) {
      int32_t id = 10 + j;
      g_array_append_val (pr->ids, id);
      StrataPosition sp = { (char *) names[j], j };
      g_array_append_val (pr->positions, sp);
    }
    const char *tv[] = { tags[i], NULL };
    pr->tags = g_strdupv ((char **) tv);
    g_ptr_array_add (set->prompts, pr);
  }
  a->prompts = set;
  a->lens_aggregates = g_ptr_array_new_with_free_func (aggregate_free);
  g_ptr_array_add (a->lens_aggregates, make_aggregate ("all", "bridge", "r2", L, 2, id_from, 0.6));
  g_ptr_array_add (a->lens_aggregates, make_aggregate ("id", "bridge", "r2", L, 1, id_from, 0.95));
  g_ptr_array_add (a->lens_aggregates, make_aggregate ("id", "answer", "r2", L, 1, L, 0.5));
  g_ptr_array_add (a->lens_aggregates, make_aggregate ("id", "bridge", "r1", L, 1, 1, 0.97));
}

/* MRR over a prompt set, two checkpoints: the curves read the aggregate of the chosen tag
 * at the chosen named position, the same target names for both, resolution layers from
 * the aggregates; a position nothing was aggregated at says so instead of plotting
 * something else. */
static void
test_curves_mrr_set (void)
{
  Fixture f, g;
  StrataPromptSet sa = { 0 }, sb = { 0 };
  fixture_init (&f, 6, 3, prob_by_layer);
  fixture_init (&g, 6, 3, prob_by_layer);
  g_free (g.a.model.name);
  g.a.model.name = g_strdup ("nocot");
  add_prompt_set (&f.a, &sa, 6, 4);
  add_prompt_set (&g.a, &sb, 6, 6);
  f.in.kind = STRATA_FIGURE_TOKEN_CURVES;
  f.in.b = &g.a;
  f.v.compare = TRUE;
  f.v.curve = STRATA_CURVE_MRR;
  f.v.position = 2;
  f.v.tag = g_strdup ("id");
  g_autofree char *title = NULL, *desc = NULL;
  strata_figure_describe (&f.in, &title, &desc);
  g_assert_nonnull (strstr (title, "MRR of \xe2\x80\x9c" "bridge\xe2\x80\x9d, \xe2\x80\x9c" "answer\xe2\x80\x9d"));
  g_assert_nonnull (strstr (title, "at position r2, tag id (1 prompts)"));
  /* resolution layers: bridge id at 4 (primary), 6 (second); answer never reaches 0.9 */
  g_assert_nonnull (strstr (desc, "bridge (toy-model) (resolution layer 4)"));
  g_assert_nonnull (strstr (desc, "bridge (nocot) (resolution layer 6)"));
  g_assert_nonnull (strstr (desc, "answer (nocot) (resolution layer -1)"));
  g_assert_nonnull (strstr (desc, "both checkpoints read the same targets"));

  /* The bridge point of layer 4 sits at MRR 0.95 in the first series colour. */
  cairo_surface_t *s = render (&f.in);
  double x, y, w, h;
  g_assert_true (strata_figure_get_plot_area (&f.in, W, H, 0, &x, &y, &w, &h));
  assert_color_near (pixel (s, (int) lround (x + w * 4 / 6), (int) lround (y + h * (1 - 0.95))),
                     rgb_u32 (0.11, 0.44, 0.85));
  cairo_surface_destroy (s);

  /* Tag "all" (NULL) reads the "all" aggregate: resolution never (0.6). */
  g_clear_pointer (&f.v.tag, g_free);
  g_autofree char *all = NULL;
  strata_figure_describe (&f.in, NULL, &all);
  g_assert_nonnull (strstr (all, "bridge (toy-model) (resolution layer -1)"));
  /* Position h has no aggregate: no curve, not the curve of another position. */
  f.v.position = 0;
  f.v.tag = g_strdup ("id");
  g_autofree char *none_title = NULL, *none = NULL;
  strata_figure_describe (&f.in, &none_title, &none);
  g_assert_nonnull (strstr (none_title, "at position h, tag id (0 prompts)"));
  g_assert_nonnull (strstr (none, "bridge (toy-model) (no data at this position)"));
  s = render (&f.in);
  cairo_surface_destroy (s);

  g_ptr_array_unref (sa.prompts);
  g_ptr_array_unref (sb.prompts);
  g_ptr_array_unref (f.a.lens_aggregates);
  g_ptr_array_unref (g.a.lens_aggregates);
  fixture_clear (&f);
  fixture_clear (&g);
  g_free (f.v.tag);
}

/* ---- files ---- */

typedef struct {
  GString *text;
  int depth, max_depth;
  gboolean saw_svg;
} SvgParse;

static void
svg_start (GMarkupParseContext *ctx, const char *name, const char **an, const char **av, gpointer data,
           GError **error)
{
  SvgParse *p = data;
  if (strcmp (name, "svg") == 0)
    p->saw_svg = TRUE;
  p->depth++;
  p->max_depth = MAX (p->max_depth, p->depth);
}

static void
svg_end (GMarkupParseContext *ctx, const char *name, gpointer data, GError **error)
{
  ((SvgParse *) data)->depth--;
}

static void
svg_text (GMarkupParseContext *ctx, const char *text, gsize len, gpointer data, GError **error)
{
  g_string_append_len (((SvgParse *) data)->text, text, (gssize) len);
}

static void
test_export_svg (void)
{
  Fixture f;
  fixture_init (&f, 4, 5, prob_by_layer);
  f.v.target = g_strdup ("bridge");
  f.in.kind = STRATA_FIGURE_LENS_HEATMAP;
  g_autofree char *dir = g_dir_make_tmp ("strata-fig-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "lens.svg", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (strata_figure_export (path, W, H, 1, &f.in, &error));
  g_assert_no_error (error);
  g_autofree char *data = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  /* GMarkup does not read the XML declaration or DOCTYPE: start at the root. */
  const char *root = strstr (data, "<svg");
  g_assert_nonnull (root);
  SvgParse p = { g_string_new (NULL), 0, 0, FALSE };
  GMarkupParser parser = { svg_start, svg_end, svg_text, NULL, NULL };
  GMarkupParseContext *ctx = g_markup_parse_context_new (&parser, 0, &p, NULL);
  g_assert_true (g_markup_parse_context_parse (ctx, root, -1, &error));
  g_assert_no_error (error);
  g_assert_true (g_markup_parse_context_end_parse (ctx, &error));
  g_assert_no_error (error);
  g_markup_parse_context_free (ctx);
  g_assert_true (p.saw_svg);
  g_assert_cmpint (p.depth, ==, 0);
  g_assert_nonnull (strstr (p.text->str, "Logit lens: probability of bridge"));
  g_assert_nonnull (strstr (p.text->str, "toy-model"));
  g_assert_nonnull (strstr (p.text->str, "0 emb, 1, 2, 3, 4"));
  g_assert_nonnull (strstr (p.text->str, "tok0, tok1, tok2, tok3, tok4"));
  g_string_free (p.text, TRUE);
  /* No temporary file left beside it. */
  GDir *d = g_dir_open (dir, 0, NULL);
  int n = 0;
  while (g_dir_read_name (d))
    n++;
  g_dir_close (d);
  g_assert_cmpint (n, ==, 1);
  g_unlink (path);
  g_rmdir (dir);
  fixture_clear (&f);
}

static void
test_export_png_scale (void)
{
  Fixture f;
  fixture_init (&f, 4, 5, prob_by_layer);
  f.in.kind = STRATA_FIGURE_PATCH_HEATMAP;
  g_autofree char *dir = g_dir_make_tmp ("strata-fig-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "patch.PNG", NULL);
  g_autoptr (GError) error = NULL;
  /* Overwrites an existing file. */
  g_assert_true (g_file_set_contents (path, "old", 3, NULL));
  g_assert_true (strata_figure_export (path, 400, 300, 2.0, &f.in, &error));
  g_assert_no_error (error);
  cairo_surface_t *s = cairo_image_surface_create_from_png (path);
  g_assert_cmpint (cairo_surface_status (s), ==, CAIRO_STATUS_SUCCESS);
  g_assert_cmpint (cairo_image_surface_get_width (s), ==, 800);
  g_assert_cmpint (cairo_image_surface_get_height (s), ==, 600);
  cairo_surface_destroy (s);
  g_unlink (path);

  /* Bad extension, bad scale and a missing folder fail cleanly. */
  g_autofree char *bad = g_build_filename (dir, "patch.jpg", NULL);
  g_assert_false (strata_figure_export (bad, W, H, 1, &f.in, &error));
  g_assert_error (error, STRATA_FIGURE_ERROR, STRATA_FIGURE_ERROR_FORMAT);
  g_clear_error (&error);
  g_assert_false (strata_figure_export (path, W, H, 0, &f.in, &error));
  g_assert_error (error, STRATA_FIGURE_ERROR, STRATA_FIGURE_ERROR_WRITE);
  g_clear_error (&error);
  g_autofree char *nodir = g_build_filename (dir, "no", "such", "x.pdf", NULL);
  g_assert_false (strata_figure_export (nodir, W, H, 1, &f.in, &error));
  g_assert_error (error, STRATA_FIGURE_ERROR, STRATA_FIGURE_ERROR_WRITE);
  g_assert_nonnull (strstr (error->message, nodir));
  g_assert_false (g_file_test (bad, G_FILE_TEST_EXISTS));
  g_rmdir (dir);
  fixture_clear (&f);
}

static void
test_export_pdf (void)
{
  Fixture f;
  fixture_init (&f, 4, 5, prob_by_layer);
  f.in.kind = STRATA_FIGURE_TOKEN_CURVES;
  g_autofree char *dir = g_dir_make_tmp ("strata-fig-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "curves.pdf", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (strata_figure_export_analysis (&f.a, NULL, STRATA_FIGURE_TOKEN_CURVES, &f.v, path, 1, &error));
  g_assert_no_error (error);
  g_autofree char *data = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  g_assert_cmpuint (len, >, 1000);
  g_assert_true (g_str_has_prefix (data, "%PDF-"));
  g_assert_nonnull (memmem (data + len - 32, 32, "%%EOF", 5));

  g_autofree char *pdftoppm = g_find_program_in_path ("pdftoppm");
  g_autofree char *pdftotext = g_find_program_in_path ("pdftotext");
  if (pdftoppm) {
    g_autofree char *prefix = g_build_filename (dir, "page", NULL);
    const char *argv[] = { pdftoppm, "-png", "-r", "40", "-singlefile", path, prefix, NULL };
    int status;
    g_autofree char *err = NULL;
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, &err, &status, &error));
    g_assert_true (g_spawn_check_wait_status (status, &error));
    g_autofree char *png = g_strconcat (prefix, ".png", NULL);
    cairo_surface_t *s = cairo_image_surface_create_from_png (png);
    g_assert_cmpint (cairo_surface_status (s), ==, CAIRO_STATUS_SUCCESS);
    /* 880 pt at 40 dpi */
    g_assert_cmpint (cairo_image_surface_get_width (s), ==, (int) lround (W * 40 / 72));
    cairo_surface_destroy (s);
    g_unlink (png);
  } else {
    g_test_message ("pdftoppm not found: PDF rendering not checked");
  }
  if (pdftotext) {
    const char *argv[] = { pdftotext, path, "-", NULL };
    g_autofree char *out = NULL;
    int status;
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL, &status, &error));
    g_assert_nonnull (strstr (out, "by layer at position"));
    g_assert_nonnull (strstr (out, "bridge"));
    g_assert_nonnull (strstr (out, "toy-model"));
  }
  g_unlink (path);
  g_rmdir (dir);
  fixture_clear (&f);
}

/* Every kind exported as PNG; kept in $STRATA_TEST_FIGURE_DIR when set (to look at them). */
static void
test_gallery (void)
{
  const char *keep = g_getenv ("STRATA_TEST_FIGURE_DIR");
  g_autofree char *dir = keep ? g_strdup (keep) : g_dir_make_tmp ("strata-fig-XXXXXX", NULL);
  Fixture f, g;
  fixture_init (&f, 8, 6, prob_by_layer);
  fixture_init (&g, 8, 6, prob_top_bottom);
  g_free (g.a.model.name);
  g.a.model.name = g_strdup ("toy-model-nocot");
  f.v.layer = 3;
  f.v.position = 4;
  f.v.target = g_strdup ("bridge");
  for (int k = 0; k < STRATA_FIGURE_N; k++) {
    for (int compare = 0; compare <= 1; compare++) {
      if (compare && k != STRATA_FIGURE_LENS_HEATMAP && k != STRATA_FIGURE_TOKEN_CURVES)
        continue;
      f.in.kind = k;
      f.in.b = compare ? &g.a : NULL;
      f.v.compare = compare;
      g_autofree char *name = g_strdup_printf ("%s%s.png", strata_figure_kind_name (k), compare ? "-compare" : "");
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autoptr (GError) error = NULL;
      g_assert_true (strata_figure_export (path, W, H, 1, &f.in, &error));
      g_assert_no_error (error);
      if (!keep)
        g_unlink (path);
    }
  }
  if (!keep)
    g_rmdir (dir);
  fixture_clear (&f);
  fixture_clear (&g);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/figures/lens/cell-colors", test_lens_cell_colors);
  g_test_add_func ("/figures/lens/rows", test_lens_rows);
  g_test_add_func ("/figures/lens/hit", test_lens_hit);
  g_test_add_func ("/figures/lens/selection", test_lens_selection);
  g_test_add_func ("/figures/lens/compare", test_lens_compare);
  g_test_add_func ("/figures/patch/diverging", test_patch_diverging);
  g_test_add_func ("/figures/patch/blank-zero", test_patch_blank_zero);
  g_test_add_func ("/figures/lens/compare-target", test_lens_compare_target);
  g_test_add_func ("/figures/curves/mrr-set", test_curves_mrr_set);
  g_test_add_func ("/figures/attention", test_attention);
  g_test_add_func ("/figures/caption-device", test_caption_device);
  g_test_add_func ("/figures/lens-generated", test_lens_generated);
  g_test_add_func ("/figures/curves", test_curves);
  g_test_add_func ("/figures/circuit", test_circuit);
  g_test_add_func ("/figures/empty", test_empty);
  g_test_add_func ("/figures/export/svg", test_export_svg);
  g_test_add_func ("/figures/export/png-scale", test_export_png_scale);
  g_test_add_func ("/figures/export/pdf", test_export_pdf);
  g_test_add_func ("/figures/export/gallery", test_gallery);
  return g_test_run ();
}
