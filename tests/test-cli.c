/* The `strata` command line as a person runs it: exit codes, stdout, stderr. */
#include <json-glib/json-glib.h>
#include <math.h>
#include <glib/gstdio.h>
#include <string.h>

#include "test-cli-util.h"

/* Greedy decoding from BOS for 200 steps prints exactly llama2.c's published output for
 * stories260K (its test_all.py expected_stdout), from each of the three files. */
static void
test_generate_matches_llama2c (void)
{
  g_autofree char *expected_path = data_path ("stories260K/llama2c-expected-stdout.txt");
  g_autofree char *expected = NULL;
  g_assert_true (g_file_get_contents (expected_path, &expected, NULL, NULL));
  g_autofree char *tok = data_path ("stories260K/tok512.bin");
  const char *models[] = { "stories260K/stories260K.bin", "stories260K-gguf/stories260K.gguf", "stories260K-hf" };
  for (gsize i = 0; i < G_N_ELEMENTS (models); i++) {
    g_autofree char *model = data_path (models[i]);
    g_auto (Run) r = { 0 };
    strata (&r, (const char *[]) { "generate", model, "-n", "200", "--tokenizer", tok, NULL });
    g_assert_cmpint (r.status, ==, 0);
    g_autofree char *expected_line = g_strconcat (expected, "\n", NULL);
    g_assert_cmpstr (r.out, ==, expected_line);
  }
}

static void
test_info_json (void)
{
  g_autofree char *model = data_path ("stories260K-gguf/stories260K.gguf");
  g_auto (Run) r = { 0 };
  strata (&r, (const char *[]) { "info", model, "--json", NULL });
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_data (p, r.out, -1, NULL));
  JsonObject *o = json_node_get_object (json_parser_get_root (p));
  g_assert_cmpstr (json_object_get_string_member (o, "format"), ==, "gguf");
  g_assert_cmpint (json_object_get_int_member (o, "layers"), ==, 5);
  g_assert_cmpint (json_object_get_int_member (o, "kv_heads"), ==, 4);
  g_assert_cmpint (json_object_get_int_member (o, "vocab"), ==, 512);
  g_assert_true (json_object_get_boolean_member (o, "add_bos"));
}

static void
test_tokenize_json (void)
{
  g_autofree char *model = data_path ("stories260K/stories260K.bin");
  g_auto (Run) r = { 0 };
  strata (&r, (const char *[]) { "tokenize", model, "Lily", "--json", NULL });
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_data (p, r.out, -1, NULL));
  JsonArray *ids = json_object_get_array_member (json_node_get_object (json_parser_get_root (p)), "ids");
  g_assert_cmpint (json_array_get_int_element (ids, 0), ==, 1); /* BOS policy of llama2.c */
  g_assert_cmpint (json_array_get_length (ids), >=, 2);
}

/* Bad input: a clear message naming the file on stderr, a non-zero exit, nothing on stdout. */
static void
test_errors (void)
{
  g_autofree char *dir = g_dir_make_tmp ("strata-cli-XXXXXX", NULL);
  g_autofree char *garbage = g_build_filename (dir, "garbage.gguf", NULL);
  g_assert_true (g_file_set_contents (garbage, "GGUF\x03\0\0\0 not really", 20, NULL));
  struct { const char *args[6]; const char *needle; } cases[] = {
    { { "info", "/nonexistent/model.bin", NULL }, "model.bin" },
    { { "info", garbage, NULL }, "garbage.gguf" },
    { { "frobnicate", NULL }, "unknown command" },
    { { "generate", garbage, "-n", "3", NULL }, "garbage.gguf" },
    { { "info", NULL }, "info takes one MODEL" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_auto (Run) r = { 0 };
    strata (&r, cases[i].args);
    g_assert_cmpint (r.status, !=, 0);
    g_assert_true (r.status < 128); /* an exit, not a crash */
    g_assert_nonnull (strstr (r.err, cases[i].needle));
    g_assert_cmpstr (r.out, ==, "");
  }
  g_unlink (garbage);
  g_rmdir (dir);
}

/* A run that needs more memory than is free fails before allocating it, naming the bytes
 * needed and free, and writes nothing: a generation's KV cache, a lens's arrays.
 * STRATA_MEMORY_LIMIT lowers the free memory to 90 000 bytes. */
static void
test_memory_budget (void)
{
  g_autofree char *model = data_path ("stories260K-gguf/stories260K.gguf");
  g_autofree char *dir = g_dir_make_tmp ("strata-cli-XXXXXX", NULL);
  g_autofree char *out = g_build_filename (dir, "lens.json", NULL);
  g_auto (GStrv) envp = g_environ_setenv (g_get_environ (), "STRATA_MEMORY_LIMIT", "90000", TRUE);
  struct { const char *args[9]; const char *needle; } cases[] = {
    { { "lens", model, "--prompt", "Once upon a time", "--generate", "100", "--json", out, NULL },
      "the KV cache needs 133120 bytes (0.1 MiB) of host memory, but 90000 bytes" },
    { { "lens", model, "--prompt", "Once upon a time", "--json", out, NULL }, "the lens over 5 positions needs" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_auto (Run) r = { 0 };
    strata_envp (&r, envp, cases[i].args);
    g_assert_cmpint (r.status, !=, 0);
    g_assert_true (r.status < 128);
    g_assert_nonnull (strstr (r.err, cases[i].needle));
    g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  }
  g_rmdir (dir);
}

static JsonObject *
parse_object (const char *text, JsonParser **parser)
{
  g_autoptr (GError) error = NULL;
  *parser = json_parser_new ();
  json_parser_load_from_data (*parser, text, -1, &error);
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (*parser));
}

/* Every entry of an array is an array of `n` entries. */
static void
assert_rows (JsonArray *a, guint rows, guint cols)
{
  g_assert_cmpuint (json_array_get_length (a), ==, rows);
  for (guint i = 0; i < rows; i++)
    g_assert_cmpuint (json_array_get_length (json_array_get_array_element (a, i)), ==, cols);
}

/* `strata lens` on one prompt: lens[k][p] for k = 0..L and every position, top-k sorted,
 * the targets' fields, resolution per position, the "all" aggregate. */
static void
test_lens_json (void)
{
  g_autofree char *model = data_path ("stories260K/stories260K.bin");
  g_auto (Run) r = { 0 };
  strata (&r, (const char *[]) { "lens", model, "--prompt", "Lily went to the park.", "--target", "She", "--target",
                                 "He", "--topk", "3", "--json", "-", NULL });
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o = parse_object (r.out, &parser);
  g_assert_cmpstr (json_object_get_string_member (o, "command"), ==, "lens");
  JsonObject *model_o = json_object_get_object_member (o, "model");
  guint L = (guint) json_object_get_int_member (model_o, "layers");
  g_assert_cmpuint (L, ==, 5);
  g_assert_cmpuint (strlen (json_object_get_string_member (model_o, "weights_sha256")), ==, 64);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (o, "settings"), "topk"), ==, 3);
  JsonArray *prompts = json_object_get_array_member (o, "prompts");
  g_assert_cmpuint (json_array_get_length (prompts), ==, 1);
  JsonObject *p = json_array_get_object_element (prompts, 0);
  guint T = json_array_get_length (json_object_get_array_member (p, "ids"));
  g_assert_cmpuint (T, >=, 5);
  g_assert_cmpint (json_array_get_int_element (json_object_get_array_member (p, "ids"), 0), ==, 1); /* BOS */
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (p, "pieces")), ==, T);
  JsonArray *lens = json_object_get_array_member (p, "lens");
  assert_rows (lens, L + 1, T);
  for (guint k = 0; k <= L; k++)
    for (guint q = 0; q < T; q++) {
      JsonObject *cell = json_array_get_object_element (json_array_get_array_element (lens, k), q);
      JsonArray *topk = json_object_get_array_member (cell, "topk");
      g_assert_cmpuint (json_array_get_length (topk), ==, 3);
      double prev = 2;
      for (guint j = 0; j < 3; j++) {
        JsonObject *t = json_array_get_object_element (topk, j);
        double prob = json_object_get_double_member (t, "prob");
        g_assert_true (json_object_has_member (t, "id") && json_object_has_member (t, "piece") &&
                       json_object_has_member (t, "logit"));
        g_assert_cmpfloat (prob, <=, prev);
        prev = prob;
      }
      JsonObject *she = json_object_get_object_member (json_object_get_object_member (cell, "targets"), "She");
      double prob = json_object_get_double_member (she, "prob");
      g_assert_cmpfloat_with_epsilon (log (prob), json_object_get_double_member (she, "logprob"), 1e-4);
      g_assert_true (json_object_has_member (she, "logit") && json_object_has_member (she, "id"));
      /* rank 0 exactly when it is the top-1 entry */
      gint64 rank = json_object_get_int_member (she, "rank");
      gint64 top_id = json_object_get_int_member (json_array_get_object_element (topk, 0), "id");
      g_assert_cmpint (rank == 0, ==, top_id == json_object_get_int_member (she, "id"));
    }
  JsonObject *res = json_object_get_object_member (json_object_get_object_member (p, "resolution"), "She");
  g_assert_cmpuint (json_object_get_size (res), ==, T);
  JsonObject *agg = json_object_get_object_member (json_object_get_object_member (o, "aggregate"), "all");
  JsonObject *last = json_object_get_object_member (json_object_get_object_member (agg, "She"), "0");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (last, "mrr")), ==, L + 1);
}

/* A prompt set written to a file: tags and named positions become the aggregate's keys. */
static void
test_lens_prompt_set (void)
{
  g_autofree char *model = data_path ("stories260K/stories260K.bin");
  g_autofree char *dir = g_dir_make_tmp ("strata-cli-XXXXXX", NULL);
  g_autofree char *set = g_build_filename (dir, "set.jsonl", NULL);
  g_autofree char *out = g_build_filename (dir, "out.json", NULL);
  const char *lines = "{\"prompt\": \"Lily went to the park.\", \"targets\": {\"she\": \"She\"}, \"positions\": {\"end\": -1}, \"tags\": [\"a\"]}\n"
                      "{\"prompt\": \"Tim went to the park.\", \"targets\": {\"she\": \"She\"}, \"positions\": {\"end\": -1}, \"tags\": [\"b\"]}\n";
  g_assert_true (g_file_set_contents (set, lines, -1, NULL));
  g_auto (Run) r = { 0 };
  strata (&r, (const char *[]) { "lens", model, "--prompts", set, "--summary", "--json", out, NULL });
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "");
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (out, &text, NULL, NULL));
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o = parse_object (text, &parser);
  JsonObject *agg = json_object_get_object_member (o, "aggregate");
  const char *tags[] = { "all", "a", "b" };
  int n[] = { 2, 1, 1 };
  for (int i = 0; i < 3; i++) {
    JsonObject *end = json_object_get_object_member (
        json_object_get_object_member (json_object_get_object_member (agg, tags[i]), "she"), "end");
    g_assert_cmpint (json_object_get_int_member (end, "n"), ==, n[i]);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (end, "top1")), ==, 6);
  }
  /* --summary leaves out the grid. */
  JsonObject *p = json_array_get_object_element (json_object_get_array_member (o, "prompts"), 0);
  g_assert_false (json_object_has_member (p, "lens"));
  g_unlink (set), g_unlink (out);
  g_rmdir (dir);
}

/* `strata lens A --compare B`: the compared checkpoint's JSON is exactly what `strata lens B`
 * writes for it (same prompts, tokenized by B); the session holds both analyses, side by side,
 * with the view the --view-* options name; a name the prompt set lacks is an error. */
static void
test_lens_compare (void)
{
  g_autofree char *a = data_path ("twohop/cot-3000");
  g_autofree char *b = data_path ("twohop/nocot-9000");
  g_autofree char *set = data_path ("twohop/prompts-trimmed.jsonl");
  g_autofree char *dir = g_dir_make_tmp ("strata-cli-XXXXXX", NULL);
  g_autofree char *session = g_build_filename (dir, "cmp.h5", NULL);
  g_auto (Run) both = { 0 }, alone = { 0 }, info = { 0 };
  strata (&both, (const char *[]) { "lens", a, "--compare", b, "--prompts", set, "--summary", "--view", "curves", "--view-curve", "mrr",
                                    "--view-target", "bridge", "--view-position", "r2", "--view-tag", "id",
                                    "--session", session, "--json", "-", NULL });
  g_assert_cmpint (both.status, ==, 0);
  strata (&alone, (const char *[]) { "lens", b, "--prompts", set, "--summary", "--json", "-", NULL });
  g_assert_cmpint (alone.status, ==, 0);
  g_autoptr (JsonParser) p_both = NULL, p_alone = NULL;
  JsonObject *o = parse_object (both.out, &p_both);
  JsonObject *ob = parse_object (alone.out, &p_alone);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (o, "model"), "name"), ==, "cot-3000");
  JsonObject *cmp = json_object_get_object_member (o, "compare");
  g_assert_nonnull (cmp);
  /* Everything but the strata version line up member by member. */
  const char *members[] = { "model", "prompt_source", "settings", "prompts", "aggregate" };
  for (gsize i = 0; i < G_N_ELEMENTS (members); i++) {
    g_test_message ("compare.%s", members[i]);
    g_assert_true (json_node_equal (json_object_get_member (cmp, members[i]), json_object_get_member (ob, members[i])));
  }
  g_assert_false (json_node_equal (json_object_get_member (cmp, "aggregate"), json_object_get_member (o, "aggregate")));
  strata (&info, (const char *[]) { "session-info", session, NULL });
  g_assert_cmpint (info.status, ==, 0);
  g_assert_nonnull (strstr (info.out, "analysis 0: cot-3000"));
  g_assert_nonnull (strstr (info.out, "analysis 1: nocot-9000"));
  g_assert_nonnull (strstr (info.out, "view: curves figure"));
  g_assert_nonnull (strstr (info.out, "position 2, head 0, target bridge, side by side"));

  struct { const char *opt, *value, *needle; } bad[] = {
    { "--view-target", "tail", "no target 'tail'" },
    { "--view-tag", "odd", "no prompt has the tag 'odd'" },
    { "--view-position", "r3", "no position 'r3'" },
    { "--view-curve", "area", "--view-curve takes" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_auto (Run) r = { 0 };
    strata (&r, (const char *[]) { "lens", a, "--compare", b, "--prompts", set, bad[i].opt, bad[i].value,
                                   "--json", "-", NULL });
    g_assert_cmpint (r.status, ==, 1);
    g_assert_nonnull (strstr (r.err, bad[i].needle));
    g_assert_cmpstr (r.out, ==, "");
  }
  g_auto (Run) missing = { 0 };
  strata (&missing, (const char *[]) { "lens", a, "--compare", "/nonexistent/model", "--prompts", set, "--json", "-",
                                       NULL });
  g_assert_cmpint (missing.status, ==, 1);
  g_assert_nonnull (strstr (missing.err, "/nonexistent/model"));
  g_assert_cmpstr (missing.out, ==, "");
  g_unlink (session);
  g_rmdir (dir);
}

/* strata with `base` (n_base arguments) then `extra` (NULL-terminated, may be NULL); must
 * exit 0. */
static void
strata_ok (Run *r, const char *const *base, gsize n_base, const char *const *extra)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  for (gsize i = 0; i < n_base; i++)
    g_ptr_array_add (args, (gpointer) base[i]);
  for (; extra && *extra; extra++)
    g_ptr_array_add (args, (gpointer) *extra);
  g_ptr_array_add (args, NULL);
  strata (r, (const char *const *) args->pdata);
  g_assert_cmpint (r->status, ==, 0);
}

/* The ids `strata generate --json` prints: the prompt's, then the generated ones. */
static GArray *
generated_ids (const char *model, const char *prompt, const char *const *extra)
{
  const char *base[] = { "generate", model, "--prompt", prompt, "-n", "12", "--json" };
  g_auto (Run) r = { 0 };
  strata_ok (&r, base, G_N_ELEMENTS (base), extra);
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o = parse_object (r.out, &parser);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  const char *members[] = { "prompt_ids", "ids" };
  for (int m = 0; m < 2; m++) {
    JsonArray *a = json_object_get_array_member (o, members[m]);
    for (guint i = 0; i < json_array_get_length (a); i++) {
      gint64 id = json_array_get_int_element (a, i);
      g_array_append_val (ids, id);
    }
  }
  return ids;
}

/* The ids `strata lens --generate 12` ran, and how many it says were generated. */
static GArray *
lens_generated_ids (const char *model, const char *const *extra, gint64 *n_generated)
{
  const char *base[] = { "lens", model, "--prompt", "Once upon a time", "--generate", "12", "--summary", "--json", "-" };
  g_auto (Run) r = { 0 };
  strata_ok (&r, base, G_N_ELEMENTS (base), extra);
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o = parse_object (r.out, &parser);
  JsonObject *p = json_array_get_object_element (json_object_get_array_member (o, "prompts"), 0);
  *n_generated = json_object_get_int_member (p, "generated");
  JsonArray *a = json_object_get_array_member (p, "ids");
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  for (guint i = 0; i < json_array_get_length (a); i++) {
    gint64 id = json_array_get_int_element (a, i);
    g_array_append_val (ids, id);
  }
  /* The lens read every position of the whole sequence. */
  guint T = json_array_get_length (json_object_get_array_member (p, "pieces"));
  g_assert_cmpuint (T, ==, ids->len);
  return ids;
}

static void
assert_same_ids (GArray *a, GArray *b)
{
  g_assert_cmpuint (a->len, ==, b->len);
  g_assert_cmpmem (a->data, a->len * sizeof (gint64), b->data, b->len * sizeof (gint64));
}

/* `strata lens --generate N` runs exactly the ids `strata generate` prints for the same
 * settings, greedy and sampled (a seed gives the same tokens on every run; another seed,
 * other tokens), and says how many of them the model wrote. */
static void
test_lens_generate (void)
{
  g_autofree char *model = data_path ("stories260K/stories260K.bin");
  gint64 n = -1;
  const char *once = "Once upon a time";
  g_autoptr (GArray) greedy = generated_ids (model, once, NULL);
  g_autoptr (GArray) lens_greedy = lens_generated_ids (model, NULL, &n);
  assert_same_ids (greedy, lens_greedy);
  g_assert_cmpint (n, ==, 12);
  g_assert_cmpuint (greedy->len, ==, 5 + 12); /* BOS and 4 prompt tokens, then 12 */

  const char *seed2[] = { "--temperature", "1.5", "--seed", "2", NULL };
  const char *seed3[] = { "--temperature", "1.5", "--seed", "3", "--top-p", "0.95", NULL };
  g_autoptr (GArray) sampled = generated_ids (model, once, seed2);
  g_autoptr (GArray) again = generated_ids (model, once, seed2);
  g_autoptr (GArray) lens_sampled = lens_generated_ids (model, seed2, &n);
  assert_same_ids (sampled, again);
  assert_same_ids (sampled, lens_sampled);
  g_autoptr (GArray) other = generated_ids (model, once, seed3);
  g_assert_false (other->len == sampled->len && memcmp (other->data, sampled->data, other->len * sizeof (gint64)) == 0);
  g_assert_false (sampled->len == greedy->len && memcmp (sampled->data, greedy->data, greedy->len * sizeof (gint64)) == 0);

  /* A prompt set: prompt i continues as `strata generate --seed S + i` would. */
  g_autofree char *dir = g_dir_make_tmp ("strata-cli-XXXXXX", NULL);
  g_autofree char *set = g_build_filename (dir, "set.jsonl", NULL);
  g_assert_true (g_file_set_contents (set, "{\"prompt\": \"Once upon a time\", \"targets\": {\"t\": \" the\"}}\n"
                                           "{\"prompt\": \"Lily went to the park\", \"targets\": {\"t\": \" the\"}}\n", -1, NULL));
  g_auto (Run) r = { 0 };
  strata (&r, (const char *[]) { "lens", model, "--prompts", set, "--generate", "12", "--temperature", "1.5", "--seed",
                                 "2", "--summary", "--json", "-", NULL });
  g_assert_cmpint (r.status, ==, 0);
  g_autoptr (JsonParser) parser = NULL;
  JsonArray *prompts = json_object_get_array_member (parse_object (r.out, &parser), "prompts");
  const char *seed3_only[] = { "--temperature", "1.5", "--seed", "3", NULL };
  g_autoptr (GArray) first = generated_ids (model, once, seed2);
  g_autoptr (GArray) second = generated_ids (model, "Lily went to the park", seed3_only);
  GArray *expect[] = { first, second };
  for (guint i = 0; i < 2; i++) {
    JsonArray *ids = json_object_get_array_member (json_array_get_object_element (prompts, i), "ids");
    g_assert_cmpuint (json_array_get_length (ids), ==, expect[i]->len);
    for (guint k = 0; k < expect[i]->len; k++)
      g_assert_cmpint (json_array_get_int_element (ids, k), ==, g_array_index (expect[i], gint64, k));
  }
  g_unlink (set);
  g_rmdir (dir);

  struct { const char *args[12]; const char *needle; } bad[] = {
    { { "lens", model, "--prompt", "Once", "--generate", "4", "--top-p", "0", "--json", "-" }, "--top-p" },
    { { "lens", model, "--prompt", "Once", "--generate", "4", "--temperature", "-1", "--json", "-" }, "--temperature" },
    { { "lens", model, "--prompt", "Once", "--generate", "-4", "--json", "-" }, "negative" },
    { { "lens", model, "--prompt", "Once", "--compare", model, "--generate", "4", "--json", "-" }, "--generate" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_auto (Run) r = { 0 };
    strata (&r, bad[i].args);
    g_assert_cmpint (r.status, ==, 1);
    g_assert_nonnull (strstr (r.err, bad[i].needle));
    g_assert_cmpstr (r.out, ==, "");
  }
}

/* `strata patch`: sites[SITE].metric and .score as [layer][position], baselines, ids, the
 * circuit; the naive loop gives the same scores. */
static void
test_patch_json (void)
{
  g_autofree char *model = data_path ("stories260K/stories260K.bin");
  JsonObject *o[2];
  JsonParser *parsers[2];
  for (int naive = 0; naive < 2; naive++) {
    g_auto (Run) r = { 0 };
    strata (&r, (const char *[]) { "patch", model, "--clean", "Lily went to the park.", "--corrupt",
                                   "Tim went to the park.", "--target", "She", "--contrast", "He", "--json", "-",
                                   naive ? "--naive" : NULL, NULL });
    g_assert_cmpint (r.status, ==, 0);
    o[naive] = parse_object (r.out, &parsers[naive]);
  }
  guint L = (guint) json_object_get_int_member (json_object_get_object_member (o[0], "model"), "layers");
  guint T = json_array_get_length (json_object_get_array_member (o[0], "clean_ids"));
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (o[0], "corrupt_ids")), ==, T);
  JsonObject *base = json_object_get_object_member (o[0], "baseline");
  g_assert_cmpfloat (json_object_get_double_member (base, "clean"), >, json_object_get_double_member (base, "corrupt"));
  const char *sites[] = { "resid_pre", "attn_out", "mlp_out" };
  for (int i = 0; i < 3; i++) {
    JsonObject *s = json_object_get_object_member (json_object_get_object_member (o[0], "sites"), sites[i]);
    JsonObject *sn = json_object_get_object_member (json_object_get_object_member (o[1], "sites"), sites[i]);
    JsonArray *score = json_object_get_array_member (s, "score"), *naive = json_object_get_array_member (sn, "score");
    assert_rows (score, L, T);
    assert_rows (json_object_get_array_member (s, "metric"), L, T);
    for (guint l = 0; l < L; l++)
      for (guint q = 0; q < T; q++)
        g_assert_cmpfloat_with_epsilon (
            json_array_get_double_element (json_array_get_array_element (score, l), q),
            json_array_get_double_element (json_array_get_array_element (naive, l), q), 1e-4);
  }
  /* resid_pre 0 at the name (position 1 after BOS) restores everything. */
  JsonArray *resid = json_object_get_array_member (
      json_object_get_object_member (json_object_get_object_member (o[0], "sites"), "resid_pre"), "score");
  g_assert_cmpfloat_with_epsilon (json_array_get_double_element (json_array_get_array_element (resid, 0), 1), 1.0, 1e-4);
  JsonObject *circuit = json_object_get_object_member (o[0], "circuit");
  g_assert_cmpfloat (json_object_get_double_member (circuit, "threshold"), ==, 0.1);
  JsonArray *nodes = json_object_get_array_member (circuit, "nodes"), *edges = json_object_get_array_member (circuit, "edges");
  g_assert_cmpuint (json_array_get_length (nodes), >, 1);
  g_assert_cmpuint (json_array_get_length (edges), >, 0);
  for (guint i = 0; i < json_array_get_length (edges); i++) {
    JsonObject *e = json_array_get_object_element (edges, i);
    g_assert_cmpint (json_object_get_int_member (e, "to"), <, json_array_get_length (nodes));
  }
  g_object_unref (parsers[0]), g_object_unref (parsers[1]);
}

/* `strata patch --method attribution --agreement` on the two-hop prompt set: the results say
 * they are estimates (JSON, figure), the agreement covers every prompt, and where the clean
 * and corrupted activations are equal (resid_pre 0 after the head entity: the same token and
 * position) the estimate is exactly no change. Bad combinations exit 1. */
static void
test_patch_attribution (void)
{
  g_autofree char *model = data_path ("twohop/cot-3000");
  g_autofree char *set = data_path ("twohop/prompts-trimmed.jsonl");
  g_autofree char *dir = g_dir_make_tmp ("strata-attribution-XXXXXX", NULL);
  g_autofree char *svg = g_build_filename (dir, "attribution.svg", NULL);
  g_auto (Run) r = { 0 };
  strata (&r, (const char *[]) { "patch", model, "--prompts", set, "--target", "bridge", "--method", "attribution",
                                 "--agreement", "--figure", svg, "--json", "-", NULL });
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.err, "attribution vs real patching, mlp_out"));
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *o = parse_object (r.out, &parser);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (o, "settings"), "method"), ==,
                   "attribution");
  JsonArray *prompts = json_object_get_array_member (o, "prompts");
  guint n = json_array_get_length (prompts);
  g_assert_cmpuint (n, >, 1);
  for (guint i = 0; i < n; i++) {
    JsonObject *p = json_array_get_object_element (prompts, i);
    g_assert_cmpstr (json_object_get_string_member (p, "method"), ==, "attribution");
    JsonArray *ids = json_object_get_array_member (p, "clean_ids"), *cids = json_object_get_array_member (p, "corrupt_ids");
    JsonArray *resid0 = json_array_get_array_element (
        json_object_get_array_member (json_object_get_object_member (json_object_get_object_member (p, "sites"), "resid_pre"),
                                      "score"), 0);
    for (guint t = 0; t < json_array_get_length (ids); t++)
      if (json_array_get_int_element (ids, t) == json_array_get_int_element (cids, t))
        g_assert_cmpfloat (json_array_get_double_element (resid0, t), ==, 0.0);
  }
  JsonArray *agreement = json_object_get_array_member (o, "agreement");
  g_assert_cmpuint (json_array_get_length (agreement), ==, 3);
  for (guint i = 0; i < 3; i++) {
    JsonObject *ag = json_array_get_object_element (agreement, i);
    g_assert_cmpint (json_object_get_int_member (ag, "n_prompts"), ==, n);
    double rho = json_object_get_double_member (ag, "pearson"), overlap = json_object_get_double_member (ag, "topk_overlap");
    g_assert_cmpfloat (rho, >=, -1.0);
    g_assert_cmpfloat (rho, <=, 1.0);
    g_assert_cmpfloat (overlap, >=, 0.0);
    g_assert_cmpfloat (overlap, <=, 1.0);
  }
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (svg, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, "Attribution patching (estimate)"));

  g_autofree char *llama = data_path ("stories260K/stories260K.bin");
  const char *const *bad[] = {
    (const char *[]) { "patch", model, "--prompts", set, "--target", "bridge", "--agreement", "--json", "-", NULL },
    (const char *[]) { "patch", model, "--prompts", set, "--target", "bridge", "--method", "attribution", "--metric",
                       "top1-change", "--json", "-", NULL },
    (const char *[]) { "patch", model, "--prompts", set, "--target", "bridge", "--method", "guess", "--json", "-", NULL },
    (const char *[]) { "patch", llama, "--clean", "Lily went", "--corrupt", "Tim went", "--target", "She",
                       "--method", "attribution", "--metric", "prob", "--json", "-", NULL },
  };
  const char *says[] = { "--method attribution", "differentiable", "--method", "backward pass" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_auto (Run) b = { 0 };
    strata (&b, bad[i]);
    g_assert_cmpint (b.status, ==, 1);
    g_assert_nonnull (strstr (b.err, says[i]));
  }
  g_unlink (svg);
  g_rmdir (dir);
}

/* `--positions A:B` with `--session`: the session keeps the window the figure shows, so
 * `strata export` redraws it without the flag, and `--positions :` draws the whole sequence. */
static void
test_positions_session (void)
{
  g_autofree char *model = data_path ("stories260K/stories260K.bin");
  g_autofree char *dir = g_dir_make_tmp ("strata-positions-XXXXXX", NULL);
  g_autofree char *h5 = g_build_filename (dir, "s.h5", NULL), *fig = g_build_filename (dir, "lens.svg", NULL);
  g_autofree char *again = g_build_filename (dir, "again.svg", NULL), *whole = g_build_filename (dir, "whole.svg", NULL);
  g_auto (Run) r = { 0 };
  strata (&r, (const char *[]) { "lens", model, "--prompt", "Once upon a time there was a little girl named Lily",
                                 "--positions", "2:6", "--figure", fig, "--session", h5, NULL });
  g_assert_cmpint (r.status, ==, 0);
  g_auto (Run) e = { 0 }, w = { 0 };
  strata (&e, (const char *[]) { "export", h5, "--figure", again, NULL });
  g_assert_cmpint (e.status, ==, 0);
  strata (&w, (const char *[]) { "export", h5, "--figure", whole, "--positions", ":", NULL });
  g_assert_cmpint (w.status, ==, 0);
  g_autofree char *a = NULL, *b = NULL, *c = NULL;
  g_assert_true (g_file_get_contents (fig, &a, NULL, NULL) && g_file_get_contents (again, &b, NULL, NULL)
                 && g_file_get_contents (whole, &c, NULL, NULL));
  const char *shown = strstr (a, "Positions 2 to 5 of ");
  g_assert_nonnull (shown);
  g_autofree char *line = g_strndup (shown, strcspn (shown, "."));
  g_assert_nonnull (strstr (b, line));
  g_assert_null (strstr (c, "Positions "));
  for (const char *f[] = { h5, fig, again, whole, NULL }, **p = f; *p; p++)
    g_unlink (*p);
  g_rmdir (dir);
}

/* Every bad input of issue 3: non-zero exit (not a crash), a message on stderr, nothing on
 * stdout. */
static void
test_probe_errors (void)
{
  g_autofree char *model = data_path ("stories260K/stories260K.bin");
  g_autofree char *dir = g_dir_make_tmp ("strata-cli-XXXXXX", NULL);
  g_autofree char *bad = g_build_filename (dir, "bad.jsonl", NULL);
  g_autofree char *badpos = g_build_filename (dir, "pos.jsonl", NULL);
  g_autofree char *badtok = g_build_filename (dir, "tok.jsonl", NULL);
  g_assert_true (g_file_set_contents (bad, "{\"prompt\": \"Lily\", \"targets\": {\"s\": \"She\"}}\n{\"prompt\": \"Tim\", \"targets\": \n", -1, NULL));
  g_assert_true (g_file_set_contents (badpos, "{\"prompt\": \"Lily went\", \"targets\": {\"s\": \"She\"}, \"positions\": {\"x\": 99}}\n", -1, NULL));
  g_assert_true (g_file_set_contents (badtok, "\n{\"prompt\": \"Lily\", \"targets\": {\"s\": \"elephant\"}}\n", -1, NULL));
  g_autofree char *bad_line = g_strdup_printf ("%s:2", bad);
  g_autofree char *badpos_line = g_strdup_printf ("%s:1", badpos);
  g_autofree char *badtok_line = g_strdup_printf ("%s:2", badtok);
  struct { const char *args[20]; const char *needle; } cases[] = {
    { { "lens", model, "--prompts", bad, "--json", "-" }, bad_line },
    { { "lens", model, "--prompt", "Lily", "--target", "#99999", "--json", "-" }, "outside the vocabulary" },
    { { "lens", model, "--prompt", "Lily", "--target", "elephant", "--json", "-" }, "not a single token" },
    { { "lens", model, "--prompts", badtok, "--json", "-" }, badtok_line },
    { { "patch", model, "--clean", "Lily went to the park.", "--corrupt", "Tim went", "--target", "She", "--contrast",
        "He", "--json", "-" }, "differ in length" },
    { { "lens", model, "--prompts", badpos, "--json", "-" }, "out of range" },
    { { "patch", model, "--clean", "Lily", "--corrupt", "Tim", "--target", "She", "--contrast", "He", "--site",
        "head_at", "--head-pos", "99", "--json", "-" }, "out of range" },
    { { "patch", model, "--clean", "Lily", "--corrupt", "Tim", "--target", "elephant", "--contrast", "He", "--json",
        "-" }, "not a single token" },
    { { "patch", model, "--clean", "Lily", "--corrupt", "Tim", "--target", "She", "--json", "-" }, "contrast" },
    { { "lens", model, "--prompt", "Lily", NULL }, "--json" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_auto (Run) r = { 0 };
    strata (&r, cases[i].args);
    g_test_message ("%s -> %d: %s", cases[i].args[0], r.status, r.err);
    g_assert_cmpint (r.status, !=, 0);
    g_assert_true (r.status < 128); /* an exit, not a crash */
    g_assert_nonnull (strstr (r.err, cases[i].needle));
    g_assert_cmpstr (r.out, ==, "");
  }
  g_unlink (bad), g_unlink (badpos), g_unlink (badtok);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/app/cli/generate-matches-llama2c", test_generate_matches_llama2c);
  g_test_add_func ("/app/cli/info-json", test_info_json);
  g_test_add_func ("/app/cli/tokenize-json", test_tokenize_json);
  g_test_add_func ("/app/cli/errors", test_errors);
  g_test_add_func ("/app/cli/lens-json", test_lens_json);
  g_test_add_func ("/app/cli/lens-prompt-set", test_lens_prompt_set);
  g_test_add_func ("/app/cli/lens-compare", test_lens_compare);
  g_test_add_func ("/app/cli/lens-generate", test_lens_generate);
  g_test_add_func ("/app/cli/positions-session", test_positions_session);
  g_test_add_func ("/app/cli/memory-budget", test_memory_budget);
  g_test_add_func ("/app/cli/patch-json", test_patch_json);
  g_test_add_func ("/app/cli/patch-attribution", test_patch_attribution);
  g_test_add_func ("/app/cli/probe-errors", test_probe_errors);
  return g_test_run ();
}
