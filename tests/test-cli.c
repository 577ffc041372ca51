/* The `strata` command line as a person runs it: exit codes, stdout, stderr. */
#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>

typedef struct {
  int status;
  char *out, *err;
} Run;

static void
run_clear (Run *r)
{
  g_free (r->out);
  g_free (r->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Run, run_clear)

static char *
data_path (const char *rel)
{
  return g_test_build_filename (G_TEST_DIST, "data", rel, NULL);
}

/* argv after the program name, NULL-terminated. */
static void
strata (Run *r, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (char *) g_getenv ("STRATA_BIN"));
  for (; *args; args++)
    g_ptr_array_add (argv, (char *) *args);
  g_ptr_array_add (argv, NULL);
  g_autoptr (GError) error = NULL;
  int wait = 0;
  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &r->out, &r->err,
                &wait, &error);
  g_assert_no_error (error);
  r->status = WIFEXITED (wait) ? WEXITSTATUS (wait) : 128 + WTERMSIG (wait);
}

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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/app/cli/generate-matches-llama2c", test_generate_matches_llama2c);
  g_test_add_func ("/app/cli/info-json", test_info_json);
  g_test_add_func ("/app/cli/tokenize-json", test_tokenize_json);
  g_test_add_func ("/app/cli/errors", test_errors);
  return g_test_run ();
}
