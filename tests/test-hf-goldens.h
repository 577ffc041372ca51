/* test-hf-goldens.h: tests/data/hf-pipeline/goldens.json (tools/reference/hf_pipeline_goldens.py),
 * HF tokenizers' ids and decodes of every text, and the checks of a tokenizer against them;
 * for test-tokenizer-pipeline.c and test-gguf-vocab.c. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "strata-tokenizer.h"
#include "test-formats-util.h" /* data_path */

/* goldens.json, read once */
static JsonNode *goldens;

static inline JsonObject *
golden_root (void)
{
  if (goldens == NULL) {
    g_autofree char *path = data_path ("hf-pipeline/goldens.json");
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (GError) error = NULL;
    json_parser_load_from_file (parser, path, &error);
    g_assert_no_error (error);
    goldens = json_node_copy (json_parser_get_root (parser));
  }
  return json_node_get_object (goldens);
}

static inline JsonArray *
golden_texts (void)
{
  return json_object_get_array_member (golden_root (), "texts");
}

/* The goldens of hf-pipeline/<folder>/tokenizer.json. */
static inline JsonObject *
golden_entry (const char *folder)
{
  return json_object_get_object_member (json_object_get_object_member (golden_root (), "tokenizers"),
                                        folder);
}

static inline GArray *
json_ids (JsonArray *a)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  for (guint i = 0; a != NULL && i < json_array_get_length (a); i++) {
    int32_t id = (int32_t) json_array_get_int_element (a, i);
    g_array_append_val (ids, id);
  }
  return ids;
}

static inline char *
ids_str (const int32_t *ids, guint n)
{
  GString *s = g_string_new ("[");
  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, i ? ", %d" : "%d", ids[i]);
  g_string_append (s, "]");
  return g_string_free (s, FALSE);
}

static inline gboolean
same_ids (const GArray *a, const GArray *b)
{
  return a->len == b->len && (a->len == 0 || memcmp (a->data, b->data, a->len * sizeof (int32_t)) == 0);
}

/* Every golden text encodes to HF's ids; the failures listed (up to 8). Returns the count of
 * texts that agree. */
static inline guint
check_ids (StrataTokenizer *tok, const char *what, JsonObject *entry)
{
  JsonArray *texts = golden_texts ();
  JsonArray *ids = json_object_get_array_member (entry, "ids");
  g_assert_cmpuint (json_array_get_length (ids), ==, json_array_get_length (texts));
  g_autoptr (GString) report = g_string_new (NULL);
  guint bad = 0, n = json_array_get_length (texts);
  for (guint i = 0; i < n; i++) {
    const char *text = json_array_get_string_element (texts, i);
    g_autoptr (GArray) want = json_ids (json_array_get_array_element (ids, i));
    g_autoptr (GError) error = NULL;
    g_autoptr (GArray) got = strata_tokenizer_encode (tok, text, &error);
    g_assert_no_error (error);
    if (!same_ids (got, want) && bad++ < 8) {
      g_autofree char *g = ids_str ((int32_t *) got->data, got->len);
      g_autofree char *w = ids_str ((int32_t *) want->data, want->len);
      g_autofree char *shown = g_strescape (text, NULL);
      g_string_append_printf (report, "\n  text %u '%s':\n    got  %s\n    want %s", i, shown, g, w);
    }
  }
  if (bad > 0)
    g_test_fail_printf ("%s: %u of %u texts differ from HF tokenizers:%s", what, bad, n, report->str);
  return n - bad;
}

/* decode(HF's ids) is HF's decode: the text itself where HF round-trips. */
static inline void
check_decode (StrataTokenizer *tok, const char *what, JsonObject *entry)
{
  JsonArray *texts = golden_texts ();
  JsonArray *ids = json_object_get_array_member (entry, "ids");
  JsonObject *decoded = json_object_get_object_member (entry, "decoded");
  g_assert_nonnull (decoded);
  g_autoptr (GString) report = g_string_new (NULL);
  guint bad = 0, exact = 0;
  for (guint i = 0; i < json_array_get_length (texts); i++) {
    g_autofree char *key = g_strdup_printf ("%u", i);
    const char *want = json_object_has_member (decoded, key)
                         ? json_object_get_string_member (decoded, key)
                         : json_array_get_string_element (texts, i);
    exact += !json_object_has_member (decoded, key);
    g_autoptr (GArray) in = json_ids (json_array_get_array_element (ids, i));
    g_autofree char *got = strata_tokenizer_decode (tok, (int32_t *) in->data, in->len);
    if (strcmp (got, want) != 0 && bad++ < 8) {
      g_autofree char *g = g_strescape (got, NULL);
      g_autofree char *w = g_strescape (want, NULL);
      g_string_append_printf (report, "\n  text %u:\n    got  '%s'\n    want '%s'", i, g, w);
    }
  }
  if (bad > 0)
    g_test_fail_printf ("%s: %u decodes differ from HF:%s", what, bad, report->str);
  g_test_message ("%s: %u of %u texts round-trip exactly", what, exact,
                  json_array_get_length (texts));
}
