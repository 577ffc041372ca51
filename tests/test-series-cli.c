/* test-series-cli: `strata series` as a person runs it, against `strata lens` run on each
 * checkpoint separately (the real binary, like test-cli.c).
 *
 *  - tests/data/twohop-series (two CoT checkpoints) over the trimmed prompt set: every
 *    aggregate of every checkpoint equal to `strata lens --json` of that checkpoint, the
 *    accuracy equal to the lens' top-1 fraction at the last layer, the figures' numbers (SVG
 *    description: resolution layer per column, MRR cell text, accuracy per step) equal to the
 *    JSON's, and the session's export equal to the direct figure;
 *  - with ../shared/fixtures/twohop: the full cot and nocot runs (9 checkpoints) over
 *    prompts-stage1.jsonl, the same comparisons, plus the accuracies every checkpoint's
 *    train_info.json logged (greedy decoding in the training script: b for CoT, t for non-CoT,
 *    id and ood) as counts;
 *  - errors: a clear message and exit status 1. */
#include <json-glib/json-glib.h>
#include <math.h>
#include <glib/gstdio.h>
#include <string.h>

#include "test-cli-util.h"

static void
strata_ok (const char *const *args)
{
  g_auto (Run) r = { 0 };
  strata (&r, args);
  if (r.status != 0)
    g_error ("strata %s failed (%d): %s", args[0], r.status, r.err);
}

static JsonNode *
load_json (const char *path)
{
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) error = NULL;
  json_parser_load_from_file (p, path, &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (p));
}

static JsonObject *
obj (JsonObject *o, const char *member)
{
  g_assert_true (json_object_has_member (o, member));
  return json_object_get_object_member (o, member);
}

static char *
svg_desc (const char *path)
{
  g_autofree char *svg = NULL;
  g_assert_true (g_file_get_contents (path, &svg, NULL, NULL));
  const char *a = strstr (svg, "<desc>"), *b = a ? strstr (a, "</desc>") : NULL;
  g_assert_nonnull (b);
  g_autofree char *escaped = g_strndup (a + 6, (gsize) (b - a - 6));
  /* The few entities GMarkup writes. */
  g_autoptr (GString) s = g_string_new (escaped);
  g_string_replace (s, "&quot;", "\"", 0);
  g_string_replace (s, "&apos;", "'", 0);
  g_string_replace (s, "&lt;", "<", 0);
  g_string_replace (s, "&gt;", ">", 0);
  g_string_replace (s, "&amp;", "&", 0);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static void
assert_contains (const char *haystack, const char *needle)
{
  if (!strstr (haystack, needle))
    g_error ("expected '%s' in: %s", needle, haystack);
}

/* A series run: its JSON, and for each checkpoint the JSON of `strata lens` on it alone. */
typedef struct {
  char *dir;
  JsonNode *series;
} Series;

static void
series_clear (Series *s)
{
  g_free (s->dir);
  g_clear_pointer (&s->series, json_node_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Series, series_clear)

/* Every checkpoint of the series JSON equals `strata lens` on that checkpoint: identity,
 * every aggregate member (same doubles), and the accuracy at the last position equal to the
 * aggregate's top-1 fraction at k = L at `last_pos`. */
static void
assert_equals_lens (JsonObject *series, const char *prompts, const char *tmp, const char *last_pos)
{
  JsonArray *runs = json_object_get_array_member (series, "runs");
  for (guint r = 0; r < json_array_get_length (runs); r++) {
    JsonArray *cps = json_object_get_array_member (json_array_get_object_element (runs, r), "checkpoints");
    for (guint c = 0; c < json_array_get_length (cps); c++) {
      JsonObject *cp = json_array_get_object_element (cps, c);
      g_assert_true (json_object_get_boolean_member (cp, "done"));
      const char *path = json_object_get_string_member (cp, "path");
      g_autofree char *out = g_strdup_printf ("%s/lens-%u-%u.json", tmp, r, c);
      strata_ok ((const char *[]) { "lens", path, "--prompts", prompts, "--summary", "--json", out, NULL });
      g_autoptr (JsonNode) lens_node = load_json (out);
      JsonObject *lens = json_node_get_object (lens_node);
      g_assert_cmpstr (json_object_get_string_member (obj (cp, "model"), "weights_sha256"), ==,
                       json_object_get_string_member (obj (lens, "model"), "weights_sha256"));
      g_assert_cmpstr (json_object_get_string_member (series, "tokenizer_sha256"), ==,
                       json_object_get_string_member (obj (lens, "model"), "tokenizer_sha256"));
      JsonNode *sa = json_object_get_member (cp, "aggregate"), *la = json_object_get_member (lens, "aggregate");
      if (!json_node_equal (sa, la)) {
        g_autofree char *x = json_to_string (sa, FALSE), *y = json_to_string (la, FALSE);
        g_error ("checkpoint %s: series aggregate %s differs from strata lens' %s", path, x, y);
      }
      JsonObject *acc = obj (cp, "accuracy");
      GList *tags = json_object_get_members (acc);
      for (GList *t = tags; t; t = t->next) {
        JsonObject *by_target = obj (acc, t->data);
        GList *targets = json_object_get_members (by_target);
        for (GList *g = targets; g; g = g->next) {
          JsonObject *a = obj (by_target, g->data);
          JsonObject *ag = obj (obj (obj (obj (lens, "aggregate"), t->data), g->data), last_pos);
          JsonArray *top1 = json_object_get_array_member (ag, "top1");
          double frac = json_array_get_double_element (top1, json_array_get_length (top1) - 1);
          gint64 n = json_object_get_int_member (a, "n"), correct = json_object_get_int_member (a, "correct");
          g_assert_cmpint (n, ==, json_object_get_int_member (ag, "n"));
          g_assert_cmpfloat (fabs (frac * n - correct), <, 1e-6);
          g_assert_cmpfloat (json_object_get_double_member (a, "accuracy"), ==, (double) correct / n);
        }
        g_list_free (targets);
      }
      g_list_free (tags);
    }
  }
}

/* The figures' numbers are the JSON's: the resolution layer of every column and the MRR cell
 * text (series), the accuracy of every step (accuracy), in the SVG's description. */
static void
assert_figures_match (JsonObject *series, const char *series_svg, const char *accuracy_svg, const char *tag,
                      const char *target, const char *pos)
{
  g_autofree char *desc = svg_desc (series_svg);
  g_autofree char *acc_desc = svg_desc (accuracy_svg);
  JsonArray *runs = json_object_get_array_member (series, "runs");
  const char *answer = json_object_get_string_member (obj (series, "settings"), "answer_target");
  for (guint r = 0; r < json_array_get_length (runs); r++) {
    JsonObject *run = json_array_get_object_element (runs, r);
    JsonArray *cps = json_object_get_array_member (run, "checkpoints");
    guint n = json_array_get_length (cps);
    g_autoptr (GString) trace = g_string_new (" by column:");
    g_autoptr (GString) acc = g_string_new (NULL);
    g_string_append_printf (acc, "%s%s%s (", tag, json_array_get_length (runs) > 1 ? " \xc2\xb7 " : "",
                            json_array_get_length (runs) > 1 ? json_object_get_string_member (run, "name") : "");
    JsonArray *mrr[64] = { NULL };
    g_assert_cmpuint (n, <=, G_N_ELEMENTS (mrr));
    for (guint c = 0; c < n; c++) {
      JsonObject *cp = json_array_get_object_element (cps, c);
      JsonObject *ag = obj (obj (obj (obj (cp, "aggregate"), tag), target), pos);
      gint64 step = json_object_get_int_member (cp, "step");
      JsonNode *res = json_object_get_member (ag, "resolution_layer");
      if (JSON_NODE_HOLDS_NULL (res))
        g_string_append_printf (trace, "%s %" G_GINT64_FORMAT ": never", c ? "," : "", step);
      else
        g_string_append_printf (trace, "%s %" G_GINT64_FORMAT ": %" G_GINT64_FORMAT, c ? "," : "", step,
                                json_node_get_int (res));
      mrr[c] = json_object_get_array_member (ag, "mrr");
      JsonObject *a = obj (obj (obj (cp, "accuracy"), tag), answer);
      g_string_append_printf (acc, "%sstep %" G_GINT64_FORMAT ": %.3f", c ? ", " : "", step,
                              json_object_get_double_member (a, "accuracy"));
    }
    g_string_append_c (trace, '.');
    g_string_append_c (acc, ')');
    assert_contains (desc, trace->str);
    assert_contains (acc_desc, acc->str);
    g_autoptr (GString) cells = g_string_new (" Cell text by row:");
    guint rows = json_array_get_length (mrr[0]);
    for (guint k = 0; k < rows; k++) {
      g_autofree char *label = k == 0 ? g_strdup ("0 emb") : g_strdup_printf ("%u", k);
      g_string_append_printf (cells, "%s %s:", k ? ";" : "", label);
      for (guint c = 0; c < n; c++)
        g_string_append_printf (cells, "%s %.2f", c ? "," : "", json_array_get_double_element (mrr[c], k));
    }
    g_string_append_c (cells, '.');
    assert_contains (desc, cells->str);
  }
}

static void
run_series (Series *s, const char *const *dirs, const char *prompts, gboolean two)
{
  s->dir = g_dir_make_tmp ("strata-series-cli-XXXXXX", NULL);
  g_autofree char *json = g_build_filename (s->dir, "series.json", NULL);
  g_autofree char *h5 = g_build_filename (s->dir, "series.h5", NULL);
  g_autofree char *svg = g_build_filename (s->dir, "series.svg", NULL);
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_ptr_array_add (args, "series");
  for (int i = 0; dirs[i]; i++)
    g_ptr_array_add (args, (gpointer) dirs[i]);
  const char *rest[] = { "--prompts", prompts, "--json", json, "--session", h5, "--figure", svg, "--view-tag", "id" };
  for (gsize i = 0; i < G_N_ELEMENTS (rest); i++)
    g_ptr_array_add (args, (gpointer) rest[i]);
  g_ptr_array_add (args, NULL);
  g_auto (Run) r = { 0 };
  strata (&r, (const char *const *) args->pdata);
  if (r.status != 0)
    g_error ("strata series failed (%d): %s", r.status, r.err);
  g_assert_cmpstr (r.out, ==, "");
  s->series = load_json (json);
  JsonArray *runs = json_object_get_array_member (json_node_get_object (s->series), "runs");
  g_assert_cmpuint (json_array_get_length (runs), ==, two ? 2 : 1);
}

/* The export of the saved session draws the figure the CLI drew, and the accuracy view. */
static void
export_figures (Series *s, char **series_svg, char **accuracy_svg)
{
  g_autofree char *h5 = g_build_filename (s->dir, "series.h5", NULL);
  *series_svg = g_build_filename (s->dir, "export.svg", NULL);
  *accuracy_svg = g_build_filename (s->dir, "accuracy.svg", NULL);
  strata_ok ((const char *[]) { "export", h5, "--figure", *series_svg, NULL });
  strata_ok ((const char *[]) { "export", h5, "--view", "accuracy", "--figure", *accuracy_svg, NULL });
  g_autofree char *direct = g_build_filename (s->dir, "series.svg", NULL);
  g_autofree char *a = svg_desc (direct), *b = svg_desc (*series_svg);
  g_assert_cmpstr (a, ==, b);
}

static void
rm_dir (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d))) {
    g_autofree char *p = g_build_filename (dir, name, NULL);
    g_unlink (p);
  }
  g_rmdir (dir);
}

static void
test_test_data (void)
{
  g_autofree char *dir = data_path ("twohop-series/cot");
  g_autofree char *prompts = data_path ("twohop/prompts-trimmed.jsonl");
  g_auto (Series) s = { 0 };
  run_series (&s, (const char *[]) { dir, NULL }, prompts, FALSE);
  JsonObject *o = json_node_get_object (s.series);
  g_assert_cmpstr (json_object_get_string_member (o, "command"), ==, "series");
  g_assert_cmpint (json_object_get_int_member (o, "n_prompts"), ==, 100);
  JsonArray *cps = json_object_get_array_member (json_array_get_object_element (json_object_get_array_member (o, "runs"), 0),
                                                 "checkpoints");
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (cps, 0), "step"), ==, 500);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (cps, 1), "step"), ==, 3000);
  assert_equals_lens (o, prompts, s.dir, "r2");
  g_autofree char *series_svg = NULL, *accuracy_svg = NULL;
  export_figures (&s, &series_svg, &accuracy_svg);
  assert_figures_match (o, series_svg, accuracy_svg, "id", "bridge", "r2");
  g_autofree char *h5 = g_build_filename (s.dir, "series.h5", NULL);
  g_auto (Run) info = { 0 };
  strata (&info, (const char *[]) { "session-info", h5, NULL });
  g_assert_cmpint (info.status, ==, 0);
  assert_contains (info.out, "series: 1 training run, 2 of 2 checkpoints done");
  rm_dir (s.dir);
}

/* One prompt from the command line (--ids, --target) is a series too. */
static void
test_single_prompt (void)
{
  g_autofree char *dir = data_path ("twohop-series/cot");
  g_auto (Run) r = { 0 };
  strata (&r, (const char *[]) { "series", dir, "--ids", "2,325,325", "--target", "#298", "--json", "-", NULL });
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_data (p, r.out, -1, NULL));
  JsonObject *o = json_node_get_object (json_parser_get_root (p));
  JsonArray *cps = json_object_get_array_member (json_array_get_object_element (json_object_get_array_member (o, "runs"), 0),
                                                 "checkpoints");
  /* The bridge of h = <e_2>, r1 = <r_25> is <e_298> (prompts-stage1.jsonl, first line): the
   * trained CoT model puts it top-1 at r2 (position 2). */
  JsonObject *acc = obj (obj (obj (json_array_get_object_element (cps, 1), "accuracy"), "all"), "#298");
  g_assert_cmpint (json_object_get_int_member (acc, "n"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (acc, "correct"), ==, 1);
}

static void
test_errors (void)
{
  g_autofree char *dir = data_path ("twohop-series/cot");
  g_autofree char *prompts = data_path ("twohop/prompts-trimmed.jsonl");
  g_autofree char *empty = g_dir_make_tmp ("strata-series-cli-XXXXXX", NULL);
  struct {
    const char *args[12];
    const char *needle;
  } cases[] = {
    { { "series", empty, "--prompts", prompts, "--json", "-", NULL }, "no checkpoints found" },
    { { "series", "/nonexistent/run", "--prompts", prompts, "--json", "-", NULL }, "/nonexistent/run: not a folder" },
    { { "series", dir, "--json", "-", NULL }, "exactly one of --prompts" },
    { { "series", dir, "--ids", "2,325,325", "--json", "-", NULL }, "need at least one --target" },
    { { "series", dir, "--prompts", prompts, NULL }, "at least one of --json" },
    { { "series", dir, dir, dir, "--prompts", prompts, "--json", "-", NULL }, "one or two folders" },
    { { "series", dir, "--prompts", prompts, "--figure", "x.png", "--view", "lens", NULL }, "--view takes series" },
    { { "series", dir, "--prompts", prompts, "--figure", "x.png", "--view", "series-patch", NULL }, "needs --patch" },
    { { "series", dir, "--prompts", prompts, "--json", "-", "--site", "mlp_out", NULL }, "need --patch" },
    { { "series", dir, "--prompts", prompts, "--json", "-", "--answer-pos", "r9", NULL }, "no position named 'r9'" },
    { { "series", dir, "--prompts", prompts, "--json", "-", "--view-target", "nope", NULL }, "no target 'nope'" },
    { { "lens", dir, "--prompts", prompts, "--figure", "x.png", "--view", "series", NULL }, "--view takes lens" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_auto (Run) r = { 0 };
    strata (&r, cases[i].args);
    g_assert_cmpint (r.status, ==, 1);
    assert_contains (r.err, cases[i].needle);
    g_assert_cmpstr (r.out, ==, "");
  }
  g_rmdir (empty);
}

/* ---- the full fixtures ---- */

static char *
fixtures (void)
{
  const char *root = g_getenv ("STRATA_SHARED_FIXTURES");
  g_autofree char *twohop = root ? g_build_filename (root, "twohop", NULL) : NULL;
  g_autofree char *probe = twohop ? g_build_filename (twohop, "prompts-stage1.jsonl", NULL) : NULL;
  return probe && g_file_test (probe, G_FILE_TEST_EXISTS) ? g_steal_pointer (&twohop) : NULL;
}

/* The logged greedy accuracy (train_info.json) as a count of n prompts. */
static gint64
logged (const char *checkpoint, const char *split, const char *which, gint64 n)
{
  g_autofree char *path = g_build_filename (checkpoint, "train_info.json", NULL);
  g_autoptr (JsonNode) node = load_json (path);
  JsonObject *o = obj (obj (json_node_get_object (node), "accuracy"), split);
  return (gint64) llround (json_object_get_double_member (o, which) * n);
}

static void
test_fixtures (void)
{
  g_autofree char *twohop = fixtures ();
  if (!twohop) {
    g_test_skip ("../shared/fixtures/twohop is not here (STRATA_SHARED_FIXTURES)");
    return;
  }
  g_autofree char *cot = g_build_filename (twohop, "cot", NULL);
  g_autofree char *nocot = g_build_filename (twohop, "nocot", NULL);
  g_autofree char *prompts = g_build_filename (twohop, "prompts-stage1.jsonl", NULL);
  g_auto (Series) s = { 0 };
  gint64 t0 = g_get_monotonic_time ();
  run_series (&s, (const char *[]) { cot, nocot, NULL }, prompts, TRUE);
  g_test_message ("series of 9 checkpoints x 855 prompts: %.1f s", (g_get_monotonic_time () - t0) / 1e6);
  JsonObject *o = json_node_get_object (s.series);
  assert_equals_lens (o, prompts, s.dir, "r2");
  g_autofree char *series_svg = NULL, *accuracy_svg = NULL;
  export_figures (&s, &series_svg, &accuracy_svg);
  assert_figures_match (o, series_svg, accuracy_svg, "id", "bridge", "r2");

  /* What docs/twohop.md reports, by step: the bridge at r2 (id) resolves at 6 then 4 in the
   * CoT run and never in the non-CoT run; at r1 (id) the non-CoT run resolves it at never, 6,
   * 4, 3, 3. */
  const int cot_r2[] = { 6, 4, 4, 4 }, nocot_r1[] = { -1, 6, 4, 3, 3 };
  JsonArray *runs = json_object_get_array_member (o, "runs");
  for (guint r = 0; r < 2; r++) {
    JsonArray *cps = json_object_get_array_member (json_array_get_object_element (runs, r), "checkpoints");
    g_assert_cmpuint (json_array_get_length (cps), ==, r == 0 ? 4 : 5);
    for (guint c = 0; c < json_array_get_length (cps); c++) {
      JsonObject *cp = json_array_get_object_element (cps, c);
      JsonObject *id = obj (obj (cp, "aggregate"), "id");
      JsonNode *r2 = json_object_get_member (obj (obj (id, "bridge"), "r2"), "resolution_layer");
      JsonNode *r1 = json_object_get_member (obj (obj (id, "bridge"), "r1"), "resolution_layer");
      if (r == 0) {
        g_assert_cmpint (json_node_get_int (r2), ==, cot_r2[c]);
      } else {
        g_assert_true (JSON_NODE_HOLDS_NULL (r2));
        g_assert_cmpint (JSON_NODE_HOLDS_NULL (r1) ? -1 : json_node_get_int (r1), ==, nocot_r1[c]);
      }
      /* The model's own prediction at r2 is what the training script decoded greedily: b for
       * CoT, t for non-CoT; the counts equal its logged accuracies. */
      const char *path = json_object_get_string_member (cp, "path");
      const char *target = r == 0 ? "bridge" : "answer", *which = r == 0 ? "b" : "t";
      JsonObject *acc = obj (cp, "accuracy");
      gint64 id_correct = json_object_get_int_member (obj (obj (acc, "id"), target), "correct");
      gint64 ood_correct = json_object_get_int_member (obj (obj (acc, "ood"), target), "correct");
      g_assert_cmpint (id_correct, ==, logged (path, "test_inferred_id", which, 554));
      g_assert_cmpint (ood_correct, ==, logged (path, "test_inferred_ood", which, 301));
    }
  }
  rm_dir (s.dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/series-cli/test-data", test_test_data);
  g_test_add_func ("/series-cli/single-prompt", test_single_prompt);
  g_test_add_func ("/series-cli/errors", test_errors);
  g_test_add_func ("/series-cli/fixtures", test_fixtures);
  return g_test_run ();
}
