/* test-tokenizer-pipeline.c: tokenizer.json pipelines against Hugging Face `tokenizers`.
 *
 * tests/data/hf-pipeline holds small tokenizer.json files with the normalizers,
 * pre-tokenizers, models, added tokens, post-processors and decoders of the model families
 * (Llama 3, Qwen2, DeepSeek-R1 distills, Gemma, Llama 2 / Mistral, T5, RoBERTa, BERT-era
 * BPE, ...) and goldens.json, written by tools/reference/hf_pipeline_goldens.py from HF's
 * own encode/decode and from transformers' BOS/EOS policy. Every text is checked against
 * every tokenizer; a failure lists each text that differs. */
#include "strata-data-error.h"
#include "strata-model.h"
#include "strata-tokenizer.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "test-hf-goldens.h"

static StrataTokenizer *
load (const char *name)
{
  g_autofree char *rel = g_strdup_printf ("hf-pipeline/%s/tokenizer.json", name);
  g_autofree char *path = data_path (rel);
  g_autoptr (GError) error = NULL;
  StrataTokenizer *tok = strata_tokenizer_new_hf_json (path, &error);
  g_assert_no_error (error);
  return tok;
}

/* Every text encodes to HF's ids. */
static void
test_ids (gconstpointer data)
{
  const char *name = data;
  g_autoptr (StrataTokenizer) tok = load (name);
  g_assert_cmpuint (json_array_get_length (golden_texts ()), >=, 200);
  check_ids (tok, name, golden_entry (name));
}

static void
test_decode (gconstpointer data)
{
  const char *name = data;
  g_autoptr (StrataTokenizer) tok = load (name);
  check_decode (tok, name, golden_entry (name));
}

static void
assert_same_ids (const char *what, const int32_t *got, gsize n_got, JsonArray *want_json)
{
  g_autoptr (GArray) want = json_ids (want_json);
  g_autofree char *g = ids_str (got, n_got);
  g_autofree char *w = ids_str ((int32_t *) want->data, want->len);
  if (strcmp (g, w) != 0)
    g_test_fail_printf ("%s: got %s, want %s", what, g, w);
}

/* The special tokens around a sequence are those transformers adds (which equal what the
 * post-processor adds, unless tokenizer_config.json says otherwise). */
static void
test_specials (gconstpointer data)
{
  const char *name = data;
  g_autoptr (StrataTokenizer) tok = load (name);
  JsonObject *tf = json_object_get_object_member (
    json_object_get_object_member (golden_entry (name), "meta"), "transformers");
  g_assert_nonnull (tf);
  const int32_t *prefix, *suffix;
  gsize n_prefix, n_suffix;
  g_assert_true (strata_tokenizer_get_specials (tok, &prefix, &n_prefix, &suffix, &n_suffix));
  g_autofree char *p = g_strdup_printf ("%s prefix", name);
  g_autofree char *s = g_strdup_printf ("%s suffix", name);
  assert_same_ids (p, prefix, n_prefix, json_object_get_array_member (tf, "prefix"));
  assert_same_ids (s, suffix, n_suffix, json_object_get_array_member (tf, "suffix"));
}

/* The model adopts the tokenizer's BOS policy over its family's default. stories260K-hf is a
 * llama (default: BOS on) with 512 tokens. */
static void
test_model_bos_policy (void)
{
  static const struct {
    const char *tokenizer;
    gboolean add_bos;
    int32_t bos;
  } cases[] = {
    { "qwen2", FALSE, 1 },            /* ByteLevel post-processor: nothing added */
    { "t5-unigram", FALSE, 1 },       /* only </s> after the text */
    { "gemma", TRUE, 2 },             /* add_bos_token and a <bos> template */
    { "llama2-metaspace", TRUE, 1 },
    { "llama3", TRUE, -1 },           /* its BOS 1100 is not a token of this model */
  };
  g_autofree char *model = data_path ("stories260K-hf");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *rel = g_strdup_printf ("hf-pipeline/%s/tokenizer.json", cases[i].tokenizer);
    g_autofree char *tok = data_path (rel);
    g_autoptr (GError) error = NULL;
    g_autoptr (StrataModel) m = strata_model_open (model, tok, &error);
    g_assert_no_error (error);
    if (m->add_bos != cases[i].add_bos || m->bos_id != cases[i].bos)
      g_error ("%s: add_bos %d bos %d, want %d %d", cases[i].tokenizer, m->add_bos, m->bos_id,
               cases[i].add_bos, cases[i].bos);
  }
  /* without a tokenizer.json the family default stays */
  g_autoptr (StrataModel) m = strata_model_open (model, NULL, NULL);
  g_assert_nonnull (m);
  g_assert_true (m->add_bos);
  g_assert_cmpint (m->bos_id, ==, 1);
}

/* Special tokens are never split, in chat formats as in training. */
static void
test_chat_formats (void)
{
  static const struct {
    const char *tokenizer, *text;
    const char *pieces[8];
  } cases[] = {
    { "qwen2", "<|im_start|>user\nHi<|im_end|>", { "<|im_start|>", NULL } },
    { "llama3", "<|start_header_id|>user<|end_header_id|>", { "<|start_header_id|>", NULL } },
    { "deepseek-r1-qwen", "<｜User｜>2+2?<｜Assistant｜><think>\n", { "<｜User｜>", NULL } },
    { "gemma", "<start_of_turn>user\nHi<end_of_turn>", { "<start_of_turn>", NULL } },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (StrataTokenizer) tok = load (cases[i].tokenizer);
    g_autoptr (GArray) ids = strata_tokenizer_encode (tok, cases[i].text, NULL);
    g_assert_nonnull (ids);
    int32_t first = strata_tokenizer_lookup (tok, cases[i].pieces[0]);
    g_assert_cmpint (first, >=, 0);
    g_assert_cmpint (g_array_index (ids, int32_t, 0), ==, first);
    g_assert_cmpstr (strata_tokenizer_get_piece (tok, first), ==, cases[i].pieces[0]);
  }
}

static void
expect_error (const char *json, int code, const char *needle)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("strata-pipe-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *path = g_build_filename (dir, "tokenizer.json", NULL);
  g_assert_true (g_file_set_contents (path, json, -1, NULL));
  g_autoptr (StrataTokenizer) tok = strata_tokenizer_new_hf_json (path, &error);
  g_unlink (path);
  g_rmdir (dir);
  g_assert_null (tok);
  g_assert_error (error, STRATA_DATA_ERROR, code);
  if (strstr (error->message, path) == NULL || strstr (error->message, needle) == NULL)
    g_error ("message '%s' lacks the path or '%s'", error->message, needle);
}

#define BPE_MODEL "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": []}"

/* What Strata does not run is refused by name, with the file. */
static void
test_unsupported (void)
{
  const int U = STRATA_DATA_ERROR_UNSUPPORTED, F = STRATA_DATA_ERROR_FORMAT;
  expect_error ("{\"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"\"}, "
                BPE_MODEL "}", U, "normalizer 'Precompiled' is not supported");
  expect_error ("{\"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"NFC\"}, "
                "{\"type\": \"BertNormalizer\"}]}, " BPE_MODEL "}", U,
                "normalizer 'BertNormalizer' is not supported");
  expect_error ("{\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": "
                "\"UnicodeScripts\"}]}, " BPE_MODEL "}", U,
                "pre_tokenizer 'UnicodeScripts' is not supported");
  expect_error ("{\"decoder\": {\"type\": \"CTC\"}, " BPE_MODEL "}", U,
                "decoder 'CTC' is not supported");
  expect_error ("{\"post_processor\": {\"type\": \"Magic\"}, " BPE_MODEL "}", U,
                "post_processor 'Magic' is not supported");
  expect_error ("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", U, "'WordPiece'");
  expect_error ("{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, "
                "\"behavior\": \"Isolated\", \"invert\": false}, " BPE_MODEL "}", U,
                "pre_tokenizer Split pattern '(' does not compile");
  expect_error ("{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"String\": \" \"}, "
                "\"behavior\": \"Sideways\"}, " BPE_MODEL "}", F, "behavior 'Sideways'");
  expect_error ("{\"pre_tokenizer\": {\"type\": \"Split\", \"behavior\": \"Removed\"}, "
                BPE_MODEL "}", F, "Split needs a pattern");
  expect_error ("{\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"ab\"}, "
                BPE_MODEL "}", F, "Metaspace needs one character");
  expect_error ("{\"pre_tokenizer\": {\"type\": \"Metaspace\", \"replacement\": \"_\", "
                "\"prepend_scheme\": \"sometimes\"}, " BPE_MODEL "}", F, "'sometimes'");
  expect_error ("{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": "
                "[{\"SpecialToken\": {\"id\": \"<s>\", \"type_id\": 0}}], \"special_tokens\": {}}, "
                BPE_MODEL "}", F, "names '<s>'");
  expect_error ("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], "
                "\"dropout\": 0.1}}", U, "dropout");
  expect_error ("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", 0.0], [\"b\"]]}}", F,
                "model.vocab[1]");
  expect_error ("{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", 0.0]], \"unk_id\": 3}}",
                F, "unk_id");
  expect_error ("{\"added_tokens\": [{\"id\": 1, \"content\": \"x\"}], " BPE_MODEL "}", F,
                "added token 'x' has id 1, which the model gives to 'b'");
  /* json-glib reads a lone surrogate escape as bytes that are not UTF-8; HF refuses it too */
  expect_error ("{\"added_tokens\": [{\"id\": 1, \"content\": \"x\\ud800y\"}], \"model\": "
                "{\"type\": \"WordLevel\", \"vocab\": {\"a\": 0}}}", F, "lone UTF-16 surrogate");
}

/* Unigram without unk: text it cannot cover is an error, as in HF. BPE without unk drops
 * the character, as HF does. */
static void
test_unknown_text (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("strata-pipe-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "tokenizer.json", NULL);
  const char *uni = "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1.0], [\"b\", -2.0], "
                    "[\"ab\", -1.5]]}}";
  g_assert_true (g_file_set_contents (path, uni, -1, NULL));
  g_autoptr (StrataTokenizer) tok = strata_tokenizer_new_hf_json (path, &error);
  g_assert_no_error (error);
  g_autoptr (GArray) ok = strata_tokenizer_encode (tok, "abba", &error);
  g_assert_no_error (error);
  int32_t want[] = { 2, 1, 0 };
  g_assert_cmpmem (ok->data, ok->len * sizeof (int32_t), want, sizeof want);
  g_assert_null (strata_tokenizer_encode (tok, "abc", &error));
  g_assert_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN);
  g_clear_error (&error);

  const char *bpe = "{" BPE_MODEL "}";
  g_assert_true (g_file_set_contents (path, bpe, -1, NULL));
  g_autoptr (StrataTokenizer) b = strata_tokenizer_new_hf_json (path, &error);
  g_assert_no_error (error);
  g_autoptr (GArray) dropped = strata_tokenizer_encode (b, "acb", &error);
  g_assert_no_error (error);
  int32_t want_b[] = { 0, 1 };
  g_assert_cmpmem (dropped->data, dropped->len * sizeof (int32_t), want_b, sizeof want_b);

  /* an empty entry is a piece that shows as nothing (the fuzzer's first find) */
  const char *empty = "{\"model\": {\"type\": \"WordLevel\", \"vocab\": {\"\": 0, \"a\": 1}}}";
  g_assert_true (g_file_set_contents (path, empty, -1, NULL));
  g_autoptr (StrataTokenizer) e = strata_tokenizer_new_hf_json (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (strata_tokenizer_get_piece (e, 0), ==, "");
  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  JsonObject *all = json_object_get_object_member (golden_root (), "tokenizers");
  g_autoptr (GList) names = json_object_get_members (all);
  for (GList *l = names; l != NULL; l = l->next) {
    const char *name = l->data;
    JsonObject *meta = json_object_get_object_member (json_object_get_object_member (all, name),
                                                      "meta");
    g_autofree char *ids = g_strdup_printf ("/data/tokenizer/pipeline/%s/ids", name);
    g_autofree char *dec = g_strdup_printf ("/data/tokenizer/pipeline/%s/decode", name);
    g_autofree char *sp = g_strdup_printf ("/data/tokenizer/pipeline/%s/specials", name);
    g_test_add_data_func (ids, name, test_ids);
    if (json_object_get_boolean_member (meta, "has_decoder"))
      g_test_add_data_func (dec, name, test_decode);
    g_test_add_data_func (sp, name, test_specials);
  }
  g_test_add_func ("/data/tokenizer/pipeline/model-bos-policy", test_model_bos_policy);
  g_test_add_func ("/data/tokenizer/pipeline/chat-formats", test_chat_formats);
  g_test_add_func ("/data/tokenizer/pipeline/unsupported", test_unsupported);
  g_test_add_func ("/data/tokenizer/pipeline/unknown-text", test_unknown_text);
  int status = g_test_run ();
  g_clear_pointer (&goldens, json_node_unref);
  return status;
}
