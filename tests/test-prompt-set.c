/* test-prompt-set: JSON Lines prompt sets on the stories260K tokenizer: tokens as text or
 * #ID, the BOS policy, positions, tags, and every kind of bad input with its line number. */
#include <string.h>
#include <unistd.h>

#include "strata-data-error.h"
#include "strata-prompt-set.h"
#include "test-probe-util.h"

static StrataModel *model;

static void
test_resolve (void)
{
  g_autoptr (GError) error = NULL;
  int32_t id = -1;
  g_assert_true (strata_resolve_token (model, "#5", "t", &id, &error));
  g_assert_cmpint (id, ==, 5);
  /* Exact vocabulary entry (" She" is the piece) and text that encodes to one token. */
  g_assert_true (strata_resolve_token (model, " She", "t", &id, &error));
  g_assert_cmpint (id, ==, 338);
  g_assert_true (strata_resolve_token (model, "She", "t", &id, &error));
  g_assert_cmpint (id, ==, 338);
  g_assert_false (strata_resolve_token (model, "#512", "target 'x'", &id, &error));
  g_assert_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN);
  g_assert_nonnull (strstr (error->message, "outside the vocabulary"));
  g_clear_error (&error);
  g_assert_false (strata_resolve_token (model, "Lily went", "target 'x'", &id, &error));
  g_assert_nonnull (strstr (error->message, "not a single token"));
  g_assert_nonnull (strstr (error->message, "target 'x'"));
  g_clear_error (&error);
  g_assert_false (strata_resolve_token (model, "", "t", &id, &error));
  g_clear_error (&error);
}

static void
test_load (void)
{
  g_autofree char *path = probe_temp_file (
      "{\"prompt\": \"Lily went to the park.\", \"corrupt\": \"Tim went to the park.\","
      " \"targets\": {\"she\": \"She\", \"he\": \"#346\"}, \"contrast\": \"He\","
      " \"positions\": {\"name\": 1, \"last\": -1}, \"tags\": [\"girl\", \"all\"]}\n"
      "\n"
      "{\"ids\": [317, 263, 377], \"targets\": {\"x\": 5}, \"positions\": [0, 2], \"tags\": \"ids\"}\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataPromptSet) set = strata_prompt_set_load (path, model, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (set->prompts->len, ==, 2);
  StrataPrompt *p = set->prompts->pdata[0];
  /* Text: BOS prepended (the model's policy), positions index the ids with BOS. */
  g_assert_true (model->add_bos);
  g_assert_cmpint (g_array_index (p->ids, int32_t, 0), ==, 1);
  g_assert_cmpint (g_array_index (p->ids, int32_t, 1), ==, 317);
  g_assert_cmpuint (p->ids->len, ==, 10);
  g_assert_cmpuint (p->corrupt_ids->len, ==, 10);
  g_assert_cmpint (g_array_index (p->corrupt_ids, int32_t, 1), ==, 326);
  g_assert_cmpuint (p->targets->len, ==, 2);
  g_assert_cmpstr (g_array_index (p->targets, StrataTarget, 0).name, ==, "she");
  g_assert_cmpint (g_array_index (p->targets, StrataTarget, 0).id, ==, 338);
  g_assert_cmpint (g_array_index (p->targets, StrataTarget, 1).id, ==, 346);
  g_assert_cmpint (p->contrast, ==, 346);
  g_assert_cmpstr (g_array_index (p->positions, StrataPosition, 0).name, ==, "name");
  g_assert_cmpint (g_array_index (p->positions, StrataPosition, 0).index, ==, 1);
  g_assert_cmpint (g_array_index (p->positions, StrataPosition, 1).index, ==, 9);
  g_assert_cmpuint (g_strv_length (p->tags), ==, 1); /* "all" is implicit, not listed */
  g_assert_cmpstr (p->tags[0], ==, "girl");
  /* Ids: exactly as given, no BOS. */
  p = set->prompts->pdata[1];
  g_assert_cmpuint (p->ids->len, ==, 3);
  g_assert_cmpint (g_array_index (p->ids, int32_t, 0), ==, 317);
  g_assert_cmpstr (g_array_index (p->positions, StrataPosition, 1).name, ==, "2");
  g_assert_cmpstr (p->tags[0], ==, "ids");
  g_assert_cmpint (p->contrast, ==, -1);
  g_unlink (path);
}

/* Each bad line is reported with the file and its line number (line 2 here). */
static void
check_bad (const char *line2, const char *expect)
{
  g_autofree char *text = g_strdup_printf ("{\"ids\": [5, 6]}\n%s\n", line2);
  g_autofree char *path = probe_temp_file (text);
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataPromptSet) set = strata_prompt_set_load (path, model, &error);
  g_assert_null (set);
  g_assert_nonnull (error);
  g_autofree char *where = g_strdup_printf ("%s:2:", path);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, where));
  g_assert_nonnull (strstr (error->message, expect));
  g_unlink (path);
}

static void
test_bad (void)
{
  check_bad ("{\"ids\": [5, 6]", "");                                        /* bad JSON */
  check_bad ("[1, 2]", "JSON object");
  check_bad ("{\"ids\": [5], \"targets\": {\"t\": \"#99999\"}}", "outside the vocabulary");
  check_bad ("{\"ids\": [5], \"targets\": {\"t\": \"Lily went\"}}", "not a single token");
  check_bad ("{\"ids\": [5], \"targets\": {\"t\": [1]}}", "target 't'");
  check_bad ("{\"prompt\": \"Lily went to the park.\", \"corrupt\": \"Tim ran.\"}", "differ in length");
  check_bad ("{\"ids\": [5, 6], \"corrupt_ids\": [5]}", "differ in length");
  check_bad ("{\"ids\": [5, 6], \"positions\": {\"r2\": 2}}", "out of range");
  check_bad ("{\"ids\": [5, 6], \"positions\": [-3]}", "out of range");
  check_bad ("{\"ids\": [5, 6], \"prompt\": \"x\"}", "exactly one of");
  check_bad ("{\"idz\": [5, 6]}", "unknown key 'idz'");
  check_bad ("{\"ids\": []}", "no tokens");
  check_bad ("{\"ids\": [5], \"tags\": [3]}", "tags[0]");
}

static void
test_empty_and_missing (void)
{
  g_autofree char *path = probe_temp_file ("\n\n");
  g_autoptr (GError) error = NULL;
  g_assert_null (strata_prompt_set_load (path, model, &error));
  g_assert_nonnull (strstr (error->message, "no prompts"));
  g_clear_error (&error);
  g_unlink (path);
  g_assert_null (strata_prompt_set_load ("/nonexistent/set.jsonl", model, &error));
  g_assert_nonnull (error);
}

static void
test_single (void)
{
  g_autoptr (GError) error = NULL;
  const char *const targets[] = { "She", NULL };
  g_autoptr (StrataPromptSet) set = strata_prompt_set_new_single (model, "Lily went to the park.", NULL, 0,
                                                                  "Tim went to the park.", targets, "He", &error);
  g_assert_no_error (error);
  StrataPrompt *p = set->prompts->pdata[0];
  g_assert_cmpstr (g_array_index (p->targets, StrataTarget, 0).name, ==, "She");
  g_assert_cmpint (p->contrast, ==, 346);
  g_assert_null (strata_prompt_set_new_single (model, "Lily went to the park.", NULL, 0, "Tim ran.", targets, NULL,
                                               &error));
  g_assert_nonnull (strstr (error->message, "differ in length"));
  g_clear_error (&error);
  int32_t ids[] = { 5, 600 };
  g_assert_null (strata_prompt_set_new_single (model, NULL, ids, 2, NULL, NULL, NULL, &error));
  g_assert_nonnull (strstr (error->message, "outside the vocabulary"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  model = probe_open ("stories260K/stories260K.bin");
  g_test_add_func ("/probes/prompt-set/resolve", test_resolve);
  g_test_add_func ("/probes/prompt-set/load", test_load);
  g_test_add_func ("/probes/prompt-set/bad-lines", test_bad);
  g_test_add_func ("/probes/prompt-set/empty", test_empty_and_missing);
  g_test_add_func ("/probes/prompt-set/single", test_single);
  int rc = g_test_run ();
  strata_model_free (model);
  return rc;
}
