/* test-figures-range.c: long sequences in the heat figures. A view's position range crops
 * the figure to those positions: the column labels drawn are the visible positions' pieces
 * on one stride (checked against the rule's invariants, not against the code's own stride),
 * a hit names absolute positions, the overview strip maps to the whole sequence, the
 * generation boundary stays on its column. And for short and long traces, at the default
 * size and a small one, every text the figures draw (caption and axis labels included) lies
 * inside the figure. Texts are read through the figures' text observer. */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "strata-figure.h"

#define W STRATA_FIGURE_DEFAULT_WIDTH
#define H STRATA_FIGURE_DEFAULT_HEIGHT
#define L 5

/* ---- a hand-built analysis: lens, patching and attention over T positions ---- */

typedef struct {
  StrataAnalysis a;
  StrataLensResult lens;
  StrataPatchResult patch;
  StrataPatchMap map;
  StrataAttention att;
  StrataPromptSet set;
  StrataPrompt prompt;
  StrataViewState v;
  StrataFigureInput in;
} Fixture;

/* Piece of position j: "p<j>", so a label names its position. Top-1 probability varies
 * along the sequence so the overview strip has something to show. */
static void
fixture_init (Fixture *f, int T, const char *text, int n_generated)
{
  memset (f, 0, sizeof *f);
  int R = L + 1;
  f->a.model.name = (char *) "toy-model";
  f->a.has_lens = TRUE;
  StrataLensResult *r = &f->lens;
  r->n_layers = L;
  r->T = T;
  r->topk = 1;
  r->vocab = 512;
  r->ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  r->pieces = g_ptr_array_new_with_free_func (g_free);
  for (int j = 0; j < T; j++) {
    int32_t id = j % 500;
    g_array_append_val (r->ids, id);
    g_ptr_array_add (r->pieces, g_strdup_printf ("p%d", j));
  }
  r->topk_ids = g_new (int32_t, (gsize) R * T);
  r->topk_prob = g_new (float, (gsize) R * T);
  r->topk_logit = g_new0 (float, (gsize) R * T);
  for (int c = 0; c < R * T; c++) {
    r->topk_ids[c] = 7;
    r->topk_prob[c] = (float) (0.5 + 0.5 * sin (c * 0.01));
  }
  r->targets = g_ptr_array_new ();
  f->a.lens_results = g_ptr_array_new ();
  g_ptr_array_add (f->a.lens_results, r);

  f->map = (StrataPatchMap) { STRATA_PATCH_RESID_PRE, L, T, -1, g_new0 (double, (gsize) L * T),
                              g_new0 (double, (gsize) L * T) };
  f->patch.target_name = (char *) "bridge";
  f->patch.target = 3;
  f->patch.contrast = -1;
  f->patch.metric = STRATA_METRIC_PROB;
  f->patch.baseline_clean = 1;
  f->patch.maps = g_ptr_array_new ();
  g_ptr_array_add (f->patch.maps, &f->map);
  f->a.patch_results = g_ptr_array_new ();
  g_ptr_array_add (f->a.patch_results, &f->patch);

  f->att = (StrataAttention) { 1, 1, T, g_new0 (float, (gsize) T * T) };
  for (int q = 0; q < T; q++)
    f->att.pattern[(gsize) q * T + q] = 1.0f;
  f->a.attention = &f->att;

  f->prompt.text = (char *) text;
  f->prompt.ids = r->ids;
  f->prompt.n_generated = n_generated;
  f->set.prompts = g_ptr_array_new ();
  g_ptr_array_add (f->set.prompts, &f->prompt);
  f->a.prompts = &f->set;

  f->v.layer = f->v.position = f->v.head = -1;
  f->in.kind = STRATA_FIGURE_LENS_HEATMAP;
  f->in.a = &f->a;
  f->in.view = &f->v;
}

static void
fixture_clear (Fixture *f)
{
  g_array_unref (f->lens.ids);
  g_ptr_array_unref (f->lens.pieces);
  g_free (f->lens.topk_ids);
  g_free (f->lens.topk_prob);
  g_free (f->lens.topk_logit);
  g_ptr_array_unref (f->lens.targets);
  g_ptr_array_unref (f->a.lens_results);
  g_free (f->map.metric);
  g_free (f->map.score);
  g_ptr_array_unref (f->patch.maps);
  g_ptr_array_unref (f->a.patch_results);
  g_free (f->att.pattern);
  g_ptr_array_unref (f->set.prompts);
}

/* ---- the texts a figure draws ---- */

typedef struct {
  char *text;
  double x0, y0, x1, y1;
} Text;

static void
text_free (gpointer p)
{
  Text *t = p;
  g_free (t->text);
  g_free (t);
}

static void
observe_cb (const char *text, double x0, double y0, double x1, double y1, gpointer data)
{
  Text *t = g_new (Text, 1);
  *t = (Text) { g_strdup (text), x0, y0, x1, y1 };
  g_ptr_array_add (data, t);
}

/* Draw the figure at width x height on a recording surface; the texts it drew. */
static GPtrArray *
drawn_texts (const StrataFigureInput *in, double width, double height)
{
  GPtrArray *texts = g_ptr_array_new_with_free_func (text_free);
  cairo_surface_t *s = cairo_recording_surface_create (CAIRO_CONTENT_COLOR, NULL);
  cairo_t *cr = cairo_create (s);
  strata_figure_set_text_observer (observe_cb, texts);
  strata_figure_draw (cr, width, height, in);
  strata_figure_set_text_observer (NULL, NULL);
  g_assert_cmpint (cairo_status (cr), ==, CAIRO_STATUS_SUCCESS);
  cairo_destroy (cr);
  cairo_surface_destroy (s);
  return texts;
}

/* The positions whose labels are drawn under the cells ("p<j>" below the plot area), in
 * order, with their boxes. */
static GArray *
column_labels (GPtrArray *texts, const StrataFigureInput *in, GPtrArray **boxes)
{
  double x, y, w, h;
  g_assert_true (strata_figure_get_plot_area (in, W, H, 0, &x, &y, &w, &h));
  GArray *pos = g_array_new (FALSE, FALSE, sizeof (int));
  *boxes = g_ptr_array_new ();
  for (guint i = 0; i < texts->len; i++) {
    Text *t = texts->pdata[i];
    char *end;
    if (t->text[0] != 'p' || t->y0 < y + h || t->y0 > y + h + 12)
      continue;
    int p = (int) g_ascii_strtoll (t->text + 1, &end, 10);
    if (*end)
      continue;
    g_array_append_val (pos, p);
    g_ptr_array_add (*boxes, t);
  }
  return pos;
}

/* The step before `s` in 1, 2, 5, 10, 20, 50, ... (s > 1). */
static int
smaller_step (int s)
{
  int d = 1;
  while (s / d >= 10)
    d *= 10;
  int lead = s / d;
  return lead == 5 ? 2 * d : lead == 2 ? d : d / 2;
}

static gboolean
boxes_overlap (const Text *a, const Text *b)
{
  return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

/* A range whose cells are wide: every visible position is labelled, horizontally, and only
 * those. */
static void
test_labels_all (void)
{
  Fixture f;
  fixture_init (&f, 40, "a short prompt", 0);
  f.v.range_first = 10;
  f.v.range_count = 10;
  g_autoptr (GPtrArray) texts = drawn_texts (&f.in, W, H);
  g_autoptr (GPtrArray) boxes = NULL;
  g_autoptr (GArray) pos = column_labels (texts, &f.in, &boxes);
  g_assert_cmpuint (pos->len, ==, 10);
  for (int j = 0; j < 10; j++)
    g_assert_cmpint (g_array_index (pos, int, j), ==, 10 + j);
  for (guint i = 0; i + 1 < boxes->len; i++)
    g_assert_false (boxes_overlap (boxes->pdata[i], boxes->pdata[i + 1]));
  fixture_clear (&f);
}

/* A range of 600 positions of 1200: labels stand on one stride s of 1, 2, 5, 10, ... over
 * absolute positions; every multiple of s at least s from the selection is labelled, the
 * selection always; no two labels touch; and the next smaller stride would not fit. */
static void
test_labels_stride (void)
{
  Fixture f;
  fixture_init (&f, 1200, "a prompt", 0);
  f.v.range_first = 100;
  f.v.range_count = 600;
  f.v.position = 333;
  g_autoptr (GPtrArray) texts = drawn_texts (&f.in, W, H);
  g_autoptr (GPtrArray) boxes = NULL;
  g_autoptr (GArray) pos = column_labels (texts, &f.in, &boxes);
  g_assert_cmpuint (pos->len, >=, 3);
  int s = G_MAXINT;
  for (guint i = 0; i + 1 < pos->len; i++) {
    int a = g_array_index (pos, int, i), b = g_array_index (pos, int, i + 1);
    g_assert_cmpint (b, >, a);
    if (a != 333 && b != 333)
      s = MIN (s, b - a);
  }
  gboolean nice = FALSE;
  for (int d = 1; d <= 1000; d *= 10)
    nice = nice || s == d || s == 2 * d || s == 5 * d;
  g_assert_true (nice);
  g_autoptr (GHashTable) shown = g_hash_table_new (NULL, NULL);
  for (guint i = 0; i < pos->len; i++)
    g_hash_table_add (shown, GINT_TO_POINTER (g_array_index (pos, int, i)));
  for (int p = 100; p < 700; p++) {
    gboolean want = p == 333 || (p % s == 0 && ABS (p - 333) >= s);
    if (want != g_hash_table_contains (shown, GINT_TO_POINTER (p)))
      g_error ("position %d: labelled %d, the stride-%d rule says %d", p,
               g_hash_table_contains (shown, GINT_TO_POINTER (p)), s, want);
  }
  for (guint i = 0; i < boxes->len; i++)
    for (guint j = i + 1; j < boxes->len; j++)
      g_assert_false (boxes_overlap (boxes->pdata[i], boxes->pdata[j]));
  /* Not needlessly sparse: at the next smaller stride, neighbouring labels would stand
   * closer than twice a label's thickness. */
  double x, y, w, h;
  g_assert_true (strata_figure_get_plot_area (&f.in, W, H, 0, &x, &y, &w, &h));
  double cell = w / 600, label_w = 0;
  for (guint i = 0; i < boxes->len; i++)
    label_w = MAX (label_w, ((Text *) boxes->pdata[i])->x1 - ((Text *) boxes->pdata[i])->x0);
  if (s > 1)
    g_assert_cmpfloat (smaller_step (s) * cell, <, 2 * label_w);
  fixture_clear (&f);
}

/* Hits name absolute positions; the overview strip maps across the whole sequence. */
static void
test_hit (void)
{
  Fixture f;
  fixture_init (&f, 300, "a prompt", 0);
  f.v.range_first = 120;
  f.v.range_count = 30;
  double x, y, w, h;
  g_assert_true (strata_figure_get_plot_area (&f.in, W, H, 0, &x, &y, &w, &h));
  StrataFigureHit hit;
  for (int c = 0; c < 30; c += 7) {
    g_assert_true (strata_figure_hit_test (&f.in, W, H, x + (c + 0.5) * w / 30, y + h - 1, &hit));
    g_assert_false (hit.overview);
    g_assert_cmpint (hit.layer, ==, 0);
    g_assert_cmpint (hit.position, ==, 120 + c);
  }
  /* The strip lies just above the cells: the first row above them where a hit says so. */
  double sy = y - 1;
  while (sy > 0 && !(strata_figure_hit_test (&f.in, W, H, x + w / 2, sy, &hit) && hit.overview))
    sy -= 1;
  g_assert_cmpfloat (sy, >, y - 30);
  for (int p = 0; p < 300; p += 37) {
    g_assert_true (strata_figure_hit_test (&f.in, W, H, x + (p + 0.5) * w / 300, sy, &hit));
    g_assert_true (hit.overview);
    g_assert_cmpint (hit.position, ==, p);
  }
  /* Without a range, no strip: the same point hits nothing. */
  f.v.range_count = 0;
  double x0, y0, w0, h0;
  g_assert_true (strata_figure_get_plot_area (&f.in, W, H, 0, &x0, &y0, &w0, &h0));
  g_assert_false (strata_figure_hit_test (&f.in, W, H, x + w / 2, y0 - 1, &hit) && hit.overview);
  /* Patching columns and attention queries are positions too. */
  f.v.range_count = 30;
  f.in.kind = STRATA_FIGURE_PATCH_HEATMAP;
  g_assert_true (strata_figure_get_plot_area (&f.in, W, H, 0, &x, &y, &w, &h));
  g_assert_true (strata_figure_hit_test (&f.in, W, H, x + 3.5 * w / 30, y + 1, &hit));
  g_assert_cmpint (hit.position, ==, 123);
  f.in.kind = STRATA_FIGURE_ATTENTION;
  g_assert_true (strata_figure_get_plot_area (&f.in, W, H, 0, &x, &y, &w, &h));
  g_assert_true (strata_figure_hit_test (&f.in, W, H, x + 1, y + 4.5 * h / 30, &hit));
  g_assert_cmpint (hit.position, ==, 124);
  fixture_clear (&f);
}

/* Two checkpoints side by side (sequences of 300 and 250): both panels show the window, and a
 * hit in the second names its absolute position. */
static void
test_compare (void)
{
  Fixture f, g;
  fixture_init (&f, 300, "a prompt", 0);
  fixture_init (&g, 250, "a prompt", 0);
  f.in.b = &g.a;
  f.v.compare = TRUE;
  f.v.range_first = 120;
  f.v.range_count = 30;
  g_autoptr (GPtrArray) texts = drawn_texts (&f.in, W, H);
  g_autoptr (GPtrArray) boxes = NULL;
  g_autoptr (GArray) pos = column_labels (texts, &f.in, &boxes);
  g_assert_cmpuint (pos->len, >, 0);
  for (guint i = 0; i < pos->len; i++) {
    g_assert_cmpint (g_array_index (pos, int, i), >=, 120);
    g_assert_cmpint (g_array_index (pos, int, i), <, 150);
  }
  double x, y, w, h;
  g_assert_true (strata_figure_get_plot_area (&f.in, W, H, 1, &x, &y, &w, &h));
  StrataFigureHit hit;
  g_assert_true (strata_figure_hit_test (&f.in, W, H, x + 3.5 * w / 30, y + 1, &hit));
  g_assert_cmpint (hit.panel, ==, 1);
  g_assert_cmpint (hit.position, ==, 123);
  fixture_clear (&f);
  fixture_clear (&g);
}

/* Pixels of the plot area that differ between two draws, near x = `at` (within 2.5) and
 * elsewhere. */
static void
diff_pixels (const StrataFigureInput *in, int n_generated, StrataPrompt *pr, double at, int *near, int *elsewhere)
{
  cairo_surface_t *s[2];
  for (int i = 0; i < 2; i++) {
    pr->n_generated = i == 0 ? n_generated : 0;
    s[i] = cairo_image_surface_create (CAIRO_FORMAT_RGB24, (int) W, (int) H);
    cairo_t *cr = cairo_create (s[i]);
    strata_figure_draw (cr, W, H, in);
    cairo_destroy (cr);
    cairo_surface_flush (s[i]);
  }
  pr->n_generated = n_generated;
  double x, y, w, h;
  g_assert_true (strata_figure_get_plot_area (in, W, H, 0, &x, &y, &w, &h));
  int stride = cairo_image_surface_get_stride (s[0]);
  *near = *elsewhere = 0;
  for (int py = (int) y; py < (int) (y + h); py++)
    for (int px = (int) x; px < (int) (x + w); px++) {
      gsize o = (gsize) py * stride + (gsize) px * 4;
      if (memcmp (cairo_image_surface_get_data (s[0]) + o, cairo_image_surface_get_data (s[1]) + o, 4) != 0)
        fabs (px + 0.5 - at) <= 2.5 ? (*near)++ : (*elsewhere)++;
    }
  cairo_surface_destroy (s[0]);
  cairo_surface_destroy (s[1]);
}

/* The dashed line of the generation boundary (position 250 of 300) lands before the
 * boundary's column of the window, and is left out when the window does not hold it. */
static void
test_boundary (void)
{
  Fixture f;
  fixture_init (&f, 300, "a prompt", 50);
  f.v.range_first = 230;
  f.v.range_count = 40;
  double x, y, w, h;
  g_assert_true (strata_figure_get_plot_area (&f.in, W, H, 0, &x, &y, &w, &h));
  int near, elsewhere;
  diff_pixels (&f.in, 50, &f.prompt, x + (250 - 230) * w / 40, &near, &elsewhere);
  g_assert_cmpint (elsewhere, ==, 0);
  g_assert_cmpint (near, >, h / 4);
  f.v.range_first = 100;
  diff_pixels (&f.in, 50, &f.prompt, -100, &near, &elsewhere);
  g_assert_cmpint (near + elsewhere, ==, 0);
  fixture_clear (&f);
}

/* The must-hold: caption and axis labels stay inside the figure, for short and long traces
 * (a long prompt text too), with and without a range, at the default size and a small one. */
static void
test_text_inside (void)
{
  g_autoptr (GString) long_text = g_string_new (NULL);
  while (long_text->len < 4000)
    g_string_append (long_text, "Once upon a time, in a village by the sea, a girl named Lily found a shell. ");
  const struct { int T; const char *text; int generated; } traces[] = {
    { 6, "Once upon", 0 },
    { 1200, long_text->str, 1000 },
  };
  const double sizes[][2] = { { W, H }, { 480, 320 } };
  const StrataFigureKind kinds[] = { STRATA_FIGURE_LENS_HEATMAP, STRATA_FIGURE_PATCH_HEATMAP, STRATA_FIGURE_ATTENTION };
  int checked = 0;
  for (guint t = 0; t < G_N_ELEMENTS (traces); t++) {
    Fixture f;
    fixture_init (&f, traces[t].T, traces[t].text, traces[t].generated);
    for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
      for (int ranged = 0; ranged < 2; ranged++)
        for (guint z = 0; z < G_N_ELEMENTS (sizes); z++) {
          f.in.kind = kinds[k];
          f.v.range_first = ranged ? traces[t].T / 3 : 0;
          f.v.range_count = ranged ? MAX (traces[t].T / 4, 1) : 0;
          f.v.position = traces[t].T / 2;
          f.v.layer = 2;
          double w = sizes[z][0], h = sizes[z][1];
          g_autoptr (GPtrArray) texts = drawn_texts (&f.in, w, h);
          g_assert_cmpuint (texts->len, >, 5);
          for (guint i = 0; i < texts->len; i++) {
            const Text *x = texts->pdata[i];
            if (x->x0 < -0.01 || x->y0 < -0.01 || x->x1 > w + 0.01 || x->y1 > h + 0.01)
              g_error ("%s, %d positions%s, %gx%g: text \xe2\x80\x9c%.40s\xe2\x80\x9d at (%.1f, %.1f)-(%.1f, %.1f) "
                       "leaves the figure", strata_figure_kind_to_string (kinds[k]), traces[t].T,
                       ranged ? " (a range)" : "", w, h, x->text, x->x0, x->y0, x->x1, x->y1);
            checked++;
          }
        }
    fixture_clear (&f);
  }
  g_test_message ("%d texts inside their figures", checked);
}

static void
test_parse (void)
{
  int first, count;
  g_assert_true (strata_figure_parse_range ("10:20", 421, &first, &count, NULL));
  g_assert_cmpint (first, ==, 10);
  g_assert_cmpint (count, ==, 10);
  g_assert_true (strata_figure_parse_range ("400:", 421, &first, &count, NULL));
  g_assert_cmpint (first, ==, 400);
  g_assert_cmpint (count, ==, 21);
  g_assert_true (strata_figure_parse_range (":5", 421, &first, &count, NULL));
  g_assert_cmpint (first, ==, 0);
  g_assert_cmpint (count, ==, 5);
  const char *bad[] = { "10", "5-9", "20:10", "3:3", "0:422", "-1:4", "a:b", "1:2:3" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_assert_false (strata_figure_parse_range (bad[i], 421, &first, &count, &error));
    g_assert_error (error, STRATA_FIGURE_ERROR, STRATA_FIGURE_ERROR_RANGE);
  }
  g_autoptr (GError) error = NULL;
  g_assert_false (strata_figure_parse_range ("400:500", 421, &first, &count, &error));
  g_assert_nonnull (strstr (error->message, "421 positions"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/figures/range/labels-all", test_labels_all);
  g_test_add_func ("/figures/range/labels-stride", test_labels_stride);
  g_test_add_func ("/figures/range/hit", test_hit);
  g_test_add_func ("/figures/range/compare", test_compare);
  g_test_add_func ("/figures/range/boundary", test_boundary);
  g_test_add_func ("/figures/range/text-inside", test_text_inside);
  g_test_add_func ("/figures/range/parse", test_parse);
  return g_test_run ();
}
