/* test-figures-series.c: the series figures drawn offscreen from a hand-built series and
 * checked through their pixels (cell colours equal the colour map of the aggregate, empty
 * columns for checkpoints not done, the resolution layer outlined and "never" marked), their
 * hit test (run, checkpoint, step, layer), their description (the numbers drawn) and their
 * files. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "strata-figure.h"
#include "test-figures-util.h"
#define L 4 /* layers: residual points 0..4 */
#define T 3 /* positions h, r1, r2 */

/* ---- a hand-built series ---- */

/* MRR of "bridge" at r2 for tag all at residual point k of checkpoint c of run r: distinct
 * per cell, rising with k and with training. */
static double
mrr_of (int r, int c, int k)
{
  return MIN (1.0, 0.05 + 0.2 * k + 0.1 * c - 0.05 * r);
}

static StrataLensAggregate *
make_aggregate (const char *tag, const char *target, const char *pos, int r, int c)
{
  StrataLensAggregate *a = g_new0 (StrataLensAggregate, 1);
  a->tag = g_strdup (tag);
  a->target = g_strdup (target);
  a->position = g_strdup (pos);
  a->n_prompts = 10;
  a->n_layers = L;
  a->mrr = g_new (double, L + 1);
  a->mean_prob = g_new (double, L + 1);
  a->top1 = g_new (double, L + 1);
  a->resolution_counts = g_new0 (int, L + 2);
  a->resolution_layer = -1;
  for (int k = 0; k <= L; k++) {
    a->mrr[k] = mrr_of (r, c, k);
    a->mean_prob[k] = a->mrr[k] / 2;
    a->top1[k] = a->mrr[k] > 0.5;
    if (a->resolution_layer < 0 && a->mrr[k] >= 0.9)
      a->resolution_layer = k;
  }
  return a;
}

static StrataSeriesAccuracy *
make_accuracy (const char *tag, const char *target, int n, int correct)
{
  StrataSeriesAccuracy *a = g_new0 (StrataSeriesAccuracy, 1);
  a->tag = g_strdup (tag);
  a->target = g_strdup (target);
  a->n = n;
  a->correct = correct;
  return a;
}

/* score of resid_pre at (block l, position p) of checkpoint c of run r */
static double
score_of (int r, int c, int l, int p)
{
  return (p == 1 ? 0.2 * l + 0.1 * c : -0.1 * p) * (r == 0 ? 1 : 0.5);
}

static StrataPatchAggregate *
make_patch (const char *tag, int r, int c)
{
  StrataPatchAggregate *a = g_new0 (StrataPatchAggregate, 1);
  a->tag = g_strdup (tag);
  a->n_prompts = 10;
  a->site = STRATA_PATCH_RESID_PRE;
  a->rows = L;
  a->cols = T;
  a->mean_score = g_new (double, L * T);
  a->mean_metric = g_new0 (double, L * T);
  for (int l = 0; l < L; l++)
    for (int p = 0; p < T; p++)
      a->mean_score[l * T + p] = score_of (r, c, l, p);
  return a;
}

static StrataPrompt *
make_prompt (const char *tag)
{
  StrataPrompt *p = g_new0 (StrataPrompt, 1);
  p->ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  for (int32_t i = 0; i < T; i++)
    g_array_append_val (p->ids, i);
  p->targets = g_array_new (FALSE, FALSE, sizeof (StrataTarget));
  StrataTarget b = { g_strdup ("bridge"), 7 }, t = { g_strdup ("answer"), 8 };
  g_array_append_val (p->targets, b);
  g_array_append_val (p->targets, t);
  p->positions = g_array_new (FALSE, FALSE, sizeof (StrataPosition));
  const char *names[] = { "h", "r1", "r2" };
  for (int i = 0; i < T; i++) {
    StrataPosition pos = { g_strdup (names[i]), i };
    g_array_append_val (p->positions, pos);
  }
  p->contrast = -1;
  p->tags = g_new0 (char *, 2);
  p->tags[0] = g_strdup (tag);
  return p;
}

/* Run "cot": steps 100, 200, 400, all done; run "nocot": steps 100, 300 done, 500 not yet. */
static StrataSeries *
make_series (void)
{
  StrataSeries *s = strata_series_new ();
  s->prompts = g_new0 (StrataPromptSet, 1);
  s->prompts->source = g_strdup ("/data/prompts-stage1.jsonl");
  s->prompts->prompts = g_ptr_array_new_with_free_func (strata_prompt_free);
  g_ptr_array_add (s->prompts->prompts, make_prompt ("id"));
  g_ptr_array_add (s->prompts->prompts, make_prompt ("ood"));
  s->tokenizer_sha256 = g_strdup ("");
  s->answer_target = g_strdup ("answer");
  s->has_patch = TRUE;
  s->patch_sites = g_array_new (FALSE, FALSE, sizeof (StrataPatchSite));
  StrataPatchSite site = STRATA_PATCH_RESID_PRE;
  g_array_append_val (s->patch_sites, site);
  s->patch_direction = STRATA_PATCH_NOISE;
  s->patch_metric = STRATA_METRIC_TOP1_CHANGE;
  const char *names[] = { "cot", "nocot" };
  const gint64 steps[2][3] = { { 100, 200, 400 }, { 100, 300, 500 } };
  for (int r = 0; r < 2; r++) {
    StrataTrainingRun *run = strata_training_run_new (names[r], names[r]);
    for (int c = 0; c < 3; c++) {
      g_autofree char *label = g_strdup_printf ("checkpoint-%" G_GINT64_FORMAT, steps[r][c]);
      StrataSeriesCheckpoint *cp = strata_series_checkpoint_new (label, label, steps[r][c]);
      g_ptr_array_add (run->checkpoints, cp);
      if (r == 1 && c == 2)
        continue; /* not run yet */
      cp->model.config.n_layers = L;
      cp->model.device = g_strdup ("cpu");
      cp->lens_aggregates = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_lens_aggregate_free);
      g_ptr_array_add (cp->lens_aggregates, make_aggregate ("all", "bridge", "r2", r, c));
      g_ptr_array_add (cp->lens_aggregates, make_aggregate ("all", "bridge", "r1", r, c + 3));
      cp->accuracy = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_series_accuracy_free);
      g_ptr_array_add (cp->accuracy, make_accuracy ("all", "answer", 10, 2 + 3 * c + r));
      g_ptr_array_add (cp->accuracy, make_accuracy ("id", "answer", 5, 1 + c));
      cp->patch_aggregates = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_patch_aggregate_free);
      g_ptr_array_add (cp->patch_aggregates, make_patch ("all", r, c));
      strata_series_checkpoint_set_done (cp);
    }
    strata_series_add_run (s, run);
  }
  return s;
}

typedef struct {
  StrataSeries *s;
  StrataViewState v;
  StrataFigureInput in;
} Fixture;

static void
fixture_init (Fixture *f, StrataFigureKind kind)
{
  memset (f, 0, sizeof *f);
  f->s = make_series ();
  f->v.layer = f->v.position = f->v.run = f->v.checkpoint = -1;
  f->v.curve = STRATA_CURVE_MRR;
  f->in.kind = kind;
  f->in.series = f->s;
  f->in.view = &f->v;
}

static void
fixture_clear (Fixture *f)
{
  strata_series_free (f->s);
  strata_view_state_clear (&f->v);
}

/* ---- pixels ---- */

static void
rgb_of (cairo_surface_t *s, int x, int y, double *r, double *g, double *b)
{
  guint32 p = pixel (s, x, y);
  *r = ((p >> 16) & 0xff) / 255.0;
  *g = ((p >> 8) & 0xff) / 255.0;
  *b = (p & 0xff) / 255.0;
}

static void
assert_rgb_near (cairo_surface_t *s, int x, int y, double r, double g, double b)
{
  double pr, pg, pb;
  rgb_of (s, x, y, &pr, &pg, &pb);
  if (fabs (pr - r) > 1.5 / 255 || fabs (pg - g) > 1.5 / 255 || fabs (pb - b) > 1.5 / 255)
    g_error ("pixel (%d, %d) is (%.3f, %.3f, %.3f), expected (%.3f, %.3f, %.3f)", x, y, pr, pg, pb, r, g, b);
}

static gboolean
reddish (cairo_surface_t *s, int x, int y)
{
  double r, g, b;
  rgb_of (s, x, y, &r, &g, &b);
  return r > g + 0.35 && r > b + 0.3;
}

/* The cell of (row, col) in panel `panel` (row 0 at the bottom): its rectangle. */
static void
cell_rect (const StrataFigureInput *in, int panel, int rows, int cols, int row, int col, double *cx, double *cy,
           double *cw, double *ch)
{
  double x, y, w, h;
  g_assert_true (strata_figure_get_plot_area (in, W, H, panel, &x, &y, &w, &h));
  *cw = w / cols;
  *ch = h / rows;
  *cx = x + col * *cw;
  *cy = y + (rows - 1 - row) * *ch;
}

/* A point of a cell away from its text (centred) and the trace (its outline and the link at
 * the column's right edge): the left part, a quarter down. */
static void
cell_probe (const StrataFigureInput *in, int panel, int rows, int cols, int row, int col, int *px, int *py)
{
  double x, y, w, h;
  cell_rect (in, panel, rows, cols, row, col, &x, &y, &w, &h);
  *px = (int) (x + 7);
  *py = (int) (y + h / 4 + 2);
}

static void
test_series_cells (void)
{
  Fixture f;
  fixture_init (&f, STRATA_FIGURE_SERIES_HEATMAP);
  cairo_surface_t *s = render (&f.in);
  double r, g, b;
  int x, y;
  for (int run = 0; run < 2; run++) {
    for (int c = 0; c < 3; c++) {
      for (int k = 0; k <= L; k++) {
        cell_probe (&f.in, run, L + 1, 3, k, c, &x, &y);
        if (run == 1 && c == 2) {
          /* not run yet: the no-data colour of strata-figure-style.c */
          assert_rgb_near (s, x, y, 0.94, 0.93, 0.92);
          continue;
        }
        /* One colour scale for both panels: the value alone decides the colour. */
        strata_colormap_sequential (mrr_of (run, c, k), &r, &g, &b);
        assert_rgb_near (s, x, y, r, g, b);
      }
    }
  }
  cairo_surface_destroy (s);

  /* Mean probability on a log scale instead. */
  f.v.curve = STRATA_CURVE_PROB;
  f.v.log_color = TRUE;
  s = render (&f.in);
  cell_probe (&f.in, 0, L + 1, 3, 2, 1, &x, &y);
  double p = mrr_of (0, 1, 2) / 2;
  strata_colormap_sequential (CLAMP ((log10 (p) + 4) / 4, 0, 1), &r, &g, &b);
  assert_rgb_near (s, x, y, r, g, b);
  cairo_surface_destroy (s);
  fixture_clear (&f);
}

/* The resolution layer: outlined where it is (the first k with MRR >= 0.9), a ring above the
 * columns that never reach 0.9, and the description states it column by column. */
static void
test_series_trace (void)
{
  Fixture f;
  fixture_init (&f, STRATA_FIGURE_SERIES_HEATMAP);
  g_autofree char *title = NULL, *desc = NULL;
  strata_figure_describe (&f.in, &title, &desc);
  /* cot: mrr reaches 0.9 at k = 5 (never: k <= 4), k = 4 (0.95), k = 4 (1.0); nocot: never,
   * k = 4 (0.9), no data yet. */
  g_assert_nonnull (strstr (desc, "Resolution layer (first layer whose MRR \xe2\x89\xa5 0.9) by column: "
                                  "100: never, 200: 4, 400: 4."));
  g_assert_nonnull (strstr (desc, "by column: 100: never, 300: 4, 500: no data."));
  g_assert_nonnull (strstr (desc, "Panel cot."));
  g_assert_nonnull (strstr (desc, "not run yet (5 of 6 checkpoints done)"));
  /* The device the checkpoints ran on, once, after the runs. */
  g_assert_true (g_str_has_prefix (desc, "cot (3 checkpoints) vs nocot (3 checkpoints) \xc2\xb7 cpu \xc2\xb7 "));
  g_assert_nonnull (strstr (title, "MRR of \xe2\x80\x9c" "bridge\xe2\x80\x9d by training step and layer at position r2, tag all"));

  cairo_surface_t *s = render (&f.in);
  double x, y, w, h;
  /* The outline of cot's step-200 cell at k = 4: 2 units inside its left edge, mid-height. */
  cell_rect (&f.in, 0, L + 1, 3, 4, 1, &x, &y, &w, &h);
  g_assert_true (reddish (s, (int) (x + 2), (int) (y + h / 2)));
  /* ... and none on the cell below. */
  cell_rect (&f.in, 0, L + 1, 3, 3, 1, &x, &y, &w, &h);
  g_assert_false (reddish (s, (int) (x + 2), (int) (y + h / 2)));
  /* A ring in the band above the never column (step 100), none above step 200. */
  gboolean ring = FALSE, other = FALSE;
  cell_rect (&f.in, 0, L + 1, 3, L, 0, &x, &y, &w, &h);
  for (int py = (int) y - 14; py < (int) y; py++)
    for (int px = (int) x; px < (int) (x + w); px++)
      ring = ring || reddish (s, px, py);
  cell_rect (&f.in, 0, L + 1, 3, L, 1, &x, &y, &w, &h);
  for (int py = (int) y - 14; py < (int) y - 3; py++)
    for (int px = (int) x + 4; px < (int) (x + w) - 4; px++)
      other = other || reddish (s, px, py);
  g_assert_true (ring);
  g_assert_false (other);
  cairo_surface_destroy (s);
  fixture_clear (&f);
}

static void
test_series_hit (void)
{
  Fixture f;
  fixture_init (&f, STRATA_FIGURE_SERIES_HEATMAP);
  double x, y, w, h;
  StrataFigureHit hit;
  cell_rect (&f.in, 1, L + 1, 3, 3, 1, &x, &y, &w, &h);
  g_assert_true (strata_figure_hit_test (&f.in, W, H, x + w / 2, y + h / 2, &hit));
  g_assert_cmpint (hit.panel, ==, 1);
  g_assert_cmpint (hit.layer, ==, 3);
  g_assert_cmpint (hit.checkpoint, ==, 1);
  g_assert_cmpint (hit.step, ==, 300);
  g_assert_cmpint (hit.position, ==, -1);
  cell_rect (&f.in, 0, L + 1, 3, 0, 2, &x, &y, &w, &h);
  g_assert_true (strata_figure_hit_test (&f.in, W, H, x + 1, y + h - 1, &hit));
  g_assert_cmpint (hit.panel, ==, 0);
  g_assert_cmpint (hit.layer, ==, 0);
  g_assert_cmpint (hit.checkpoint, ==, 2);
  g_assert_cmpint (hit.step, ==, 400);
  g_assert_false (strata_figure_hit_test (&f.in, W, H, 2, 2, &hit));
  g_assert_cmpint (hit.checkpoint, ==, -1);

  /* The selection follows the view: the selected checkpoint's column in its run only. */
  f.v.run = 1;
  f.v.checkpoint = 0;
  f.v.layer = 2;
  g_autofree char *desc = NULL;
  strata_figure_describe (&f.in, NULL, &desc);
  g_assert_nonnull (strstr (desc, "Selected checkpoint 0 of run 1."));
  fixture_clear (&f);
}

/* What a click opens: the cell under the pointer names the checkpoint (its folder) and the
 * layer; the accuracy curve, which has no layer, opens at the checkpoint's last; a column
 * not run yet still names its checkpoint but no layer. */
static void
test_series_pick (void)
{
  Fixture f;
  fixture_init (&f, STRATA_FIGURE_SERIES_HEATMAP);
  double x, y, w, h;
  StrataFigureHit hit;
  int layer = 99;
  cell_rect (&f.in, 0, L + 1, 3, 2, 1, &x, &y, &w, &h);
  g_assert_true (strata_figure_hit_test (&f.in, W, H, x + w / 2, y + h / 2, &hit));
  const StrataSeriesCheckpoint *cp = strata_figure_series_pick (&f.in, hit.panel, hit.checkpoint, hit.layer, &layer);
  g_assert_nonnull (cp);
  g_assert_cmpstr (cp->path, ==, "checkpoint-200");
  g_assert_cmpint (layer, ==, 2);

  cell_rect (&f.in, 1, L + 1, 3, 4, 2, &x, &y, &w, &h);
  g_assert_true (strata_figure_hit_test (&f.in, W, H, x + w / 2, y + h / 2, &hit));
  cp = strata_figure_series_pick (&f.in, hit.panel, hit.checkpoint, hit.layer, &layer);
  g_assert_cmpstr (cp->path, ==, "checkpoint-500");
  g_assert_cmpint (layer, ==, 4);
  cp = strata_figure_series_pick (&f.in, 1, 2, -1, &layer);
  g_assert_cmpstr (cp->path, ==, "checkpoint-500");
  g_assert_cmpint (layer, ==, -1);

  cp = strata_figure_series_pick (&f.in, 1, 1, -1, &layer);
  g_assert_cmpstr (cp->path, ==, "checkpoint-300");
  g_assert_cmpint (layer, ==, L);
  g_assert_null (strata_figure_series_pick (&f.in, 1, 3, 0, &layer));
  g_assert_null (strata_figure_series_pick (&f.in, 2, 0, 0, &layer));
  g_assert_null (strata_figure_series_pick (&f.in, -1, 0, 0, &layer));
  g_assert_cmpint (layer, ==, -1);
  fixture_clear (&f);
}

static void
test_series_accuracy (void)
{
  Fixture f;
  fixture_init (&f, STRATA_FIGURE_SERIES_ACCURACY);
  g_assert_true (strata_figure_has_data (&f.in));
  g_autofree char *title = NULL, *desc = NULL;
  strata_figure_describe (&f.in, &title, &desc);
  g_assert_nonnull (strstr (title, "\xe2\x80\x9c" "answer\xe2\x80\x9d"));
  /* correct = 2 + 3c + r of 10 (all), 1 + c of 5 (id); ood has none: no data. */
  g_assert_nonnull (strstr (desc, "all \xc2\xb7 cot (step 100: 0.200, step 200: 0.500, step 400: 0.800)"));
  g_assert_nonnull (strstr (desc, "id \xc2\xb7 nocot (step 100: 0.200, step 300: 0.400, step 500: no data)"));
  g_assert_nonnull (strstr (desc, "ood \xc2\xb7 cot (step 100: no data"));

  /* Clicking a point names its run, checkpoint and step. x runs over steps 100..500. */
  double x, y, w, h;
  g_assert_true (strata_figure_get_plot_area (&f.in, W, H, 0, &x, &y, &w, &h));
  StrataFigureHit hit;
  double px = x + w * (300.0 - 100) / 400, py = y + h * (1 - 0.6); /* nocot, step 300, all: 6/10 */
  g_assert_true (strata_figure_hit_test (&f.in, W, H, px + 2, py - 2, &hit));
  g_assert_cmpint (hit.panel, ==, 1);
  g_assert_cmpint (hit.checkpoint, ==, 1);
  g_assert_cmpint (hit.step, ==, 300);
  px = x + w * (400.0 - 100) / 400, py = y + h * (1 - 0.8); /* cot, step 400, all: 8/10 */
  g_assert_true (strata_figure_hit_test (&f.in, W, H, px, py, &hit));
  g_assert_cmpint (hit.panel, ==, 0);
  g_assert_cmpint (hit.checkpoint, ==, 2);
  g_assert_cmpint (hit.step, ==, 400);
  g_assert_false (strata_figure_hit_test (&f.in, W, H, x + w / 2, y + 3, &hit));

  /* Points are drawn where the hit test finds them. */
  cairo_surface_t *s = render (&f.in);
  double r, g, b;
  rgb_of (s, (int) px, (int) py, &r, &g, &b);
  g_assert_cmpfloat (r + g + b, <, 2.5); /* not the white background */
  cairo_surface_destroy (s);
  fixture_clear (&f);
}

static void
test_series_patch (void)
{
  Fixture f;
  fixture_init (&f, STRATA_FIGURE_SERIES_PATCH);
  f.v.patch_site = STRATA_PATCH_RESID_PRE;
  f.v.position = 1; /* r1 */
  cairo_surface_t *s = render (&f.in);
  /* The range is symmetric, at least [-1, 1]: every score here lies inside it. */
  for (int run = 0; run < 2; run++)
    for (int c = 0; c < 2; c++)
      for (int l = 0; l < L; l++) {
        int x, y;
        double r, g, b;
        cell_probe (&f.in, run, L, 3, l, c, &x, &y);
        strata_colormap_diverging (score_of (run, c, l, 1), &r, &g, &b);
        assert_rgb_near (s, x, y, r, g, b);
      }
  cairo_surface_destroy (s);
  g_autofree char *title = NULL;
  strata_figure_describe (&f.in, &title, NULL);
  g_assert_cmpstr (title, ==, "Causal strength through training: resid_pre at position r1, tag all");
  StrataFigureHit hit;
  double x, y, w, h;
  cell_rect (&f.in, 0, L, 3, 2, 1, &x, &y, &w, &h);
  g_assert_true (strata_figure_hit_test (&f.in, W, H, x + w / 2, y + h / 2, &hit));
  g_assert_cmpint (hit.layer, ==, 2);
  g_assert_cmpint (hit.checkpoint, ==, 1);
  g_assert_cmpint (hit.step, ==, 200);

  /* A site the series did not patch: nothing to draw, and it says so. */
  f.v.patch_site = STRATA_PATCH_MLP_OUT;
  g_assert_false (strata_figure_has_data (&f.in));
  g_autofree char *t2 = NULL;
  strata_figure_describe (&f.in, &t2, NULL);
  g_assert_nonnull (strstr (t2, "No series patching"));
  fixture_clear (&f);
}

/* No checkpoint done, no series, a series figure asked of an analysis: empty figures, and an
 * export refuses them. */
static void
test_series_empty (void)
{
  g_autoptr (StrataSeries) s = strata_series_new ();
  StrataTrainingRun *run = strata_training_run_new ("cot", "cot");
  g_ptr_array_add (run->checkpoints, strata_series_checkpoint_new ("c", "checkpoint-1", 1));
  strata_series_add_run (s, run);
  StrataViewState v = { .layer = -1, .position = -1, .run = -1, .checkpoint = -1 };
  StrataFigureInput in = { .series = s, .view = &v };
  StrataAnalysis a = { 0 };
  for (int k = STRATA_FIGURE_N; k < STRATA_FIGURE_N_ALL; k++) {
    in.kind = k;
    g_assert_false (strata_figure_has_data (&in));
    cairo_surface_destroy (render (&in));
    in.series = NULL;
    in.a = &a;
    g_assert_false (strata_figure_has_data (&in));
    cairo_surface_destroy (render (&in));
    in.series = s;
    in.a = NULL;
  }
  g_autofree char *dir = g_dir_make_tmp ("strata-fig-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "x.svg", NULL);
  g_autoptr (GError) error = NULL;
  in.kind = STRATA_FIGURE_SERIES_HEATMAP;
  g_assert_false (strata_figure_export (path, W, H, 1, &in, &error));
  g_assert_error (error, STRATA_FIGURE_ERROR, STRATA_FIGURE_ERROR_EMPTY);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_rmdir (dir);
}

/* Every series figure as PNG, SVG and PDF; STRATA_TEST_FIGURE_DIR keeps them to look at. */
static void
test_series_export (void)
{
  const char *keep = g_getenv ("STRATA_TEST_FIGURE_DIR");
  g_autofree char *dir = keep ? g_strdup (keep) : g_dir_make_tmp ("strata-fig-XXXXXX", NULL);
  Fixture f;
  fixture_init (&f, STRATA_FIGURE_SERIES_HEATMAP);
  f.v.run = 0;
  f.v.checkpoint = 1;
  f.v.layer = 4;
  const char *ext[] = { "png", "svg", "pdf" };
  for (int k = STRATA_FIGURE_N; k < STRATA_FIGURE_N_ALL; k++) {
    f.in.kind = k;
    for (gsize e = 0; e < G_N_ELEMENTS (ext); e++) {
      g_autofree char *name = g_strdup_printf ("%s.%s", strata_figure_kind_to_string (k), ext[e]);
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autoptr (GError) error = NULL;
      double height = strata_figure_fit_height (&f.in, W, H);
      g_assert_true (strata_figure_export (path, W, height, 1, &f.in, &error));
      g_assert_no_error (error);
      if (e == 1) { /* the SVG carries the description */
        g_autofree char *text = NULL;
        g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
        g_assert_nonnull (strstr (text, "<desc>"));
      }
      if (!keep)
        g_unlink (path);
    }
  }
  if (!keep)
    g_rmdir (dir);
  fixture_clear (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/figures/series/cells", test_series_cells);
  g_test_add_func ("/figures/series/trace", test_series_trace);
  g_test_add_func ("/figures/series/hit", test_series_hit);
  g_test_add_func ("/figures/series/pick", test_series_pick);
  g_test_add_func ("/figures/series/accuracy", test_series_accuracy);
  g_test_add_func ("/figures/series/patch", test_series_patch);
  g_test_add_func ("/figures/series/empty", test_series_empty);
  g_test_add_func ("/figures/series/export", test_series_export);
  return g_test_run ();
}
