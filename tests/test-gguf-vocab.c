/* test-gguf-vocab.c: byte-level BPE vocabularies embedded in GGUF (tokenizer.ggml.model "gpt2")
 * against the tokenizer.json they were converted from.
 *
 * tests/data/gguf-vocab/<name>.gguf (tools/reference/make_gguf_vocab_goldens.py) holds the
 * vocabulary of tests/data/hf-pipeline/<folder>/tokenizer.json as llama.cpp's converter writes
 * it, in a tiny model body. Opened as a model, each must:
 * - /data/gguf/vocab/<name>: give HF tokenizers' ids (hf-pipeline/goldens.json) on every text,
 *   chat formats with special tokens included, decode HF's ids as HF does, and put around a
 *   prompt what transformers puts (BOS/EOS as the file states them);
 * - give the same ids under every other tokenizer.ggml.pre name llama.cpp has for the family
 *   (through strata_gguf_new_bpe_tokenizer, without a model);
 * - /data/gguf/vocab/unknown-pre: with a pre-tokenizer name Strata does not know, or none,
 *   open without a tokenizer and say why (strata_model_encode's error, `strata info`);
 * - /data/gguf/vocab/malformed: refuse a vocabulary that cannot be a tokenizer.json's. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "strata-data-error.h"
#include "strata-gguf.h"
#include "strata-model.h"
#include "strata-tokenizer.h"
#include "test-formats-util.h"
#include "test-hf-goldens.h"

typedef struct {
  const char *file, *folder; /* gguf-vocab/<file>, hf-pipeline/<folder> */
  const char *pre;           /* tokenizer.ggml.pre the file states */
  const char *aliases[3];    /* llama.cpp's other names for the same pipeline */
  const char *chat_text, *chat_token; /* a text that must start with that added token */
} VocabCase;

static const VocabCase vocab_llama3 = {
  "gguf-vocab/llama3.gguf", "llama3", "llama-bpe", { "llama3", "llama-v3" },
  "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", "<|start_header_id|>",
};
static const VocabCase vocab_qwen2 = {
  "gguf-vocab/qwen2.gguf", "qwen2", "qwen2", { "deepseek-r1-qwen" },
  "<|im_start|>user\nHi<|im_end|>", "<|im_start|>",
};
static const VocabCase vocab_deepseek = {
  "gguf-vocab/deepseek-r1-qwen.gguf", "deepseek-r1-qwen", "deepseek-r1-qwen", { "qwen2" },
  "<｜User｜>2+2?<｜Assistant｜><think>\n", "<｜User｜>",
};
static const VocabCase vocab_gpt2 = {
  "gguf-vocab/gpt2.gguf", "gpt2", "gpt-2", { NULL }, "<|endoftext|>Hi", "<|endoftext|>",
};
static const VocabCase vocab_neox = {
  "gguf-vocab/gpt-neox.gguf", "gpt-neox", "olmo", { "mpt" }, "    indented", "    ",
};

static void
test_vocab (gconstpointer data)
{
  const VocabCase *vc = data;
  g_autofree char *path = data_path (vc->file);
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) m = strata_model_open (path, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (m->tokenizer);
  g_assert_null (m->tokenizer_note);
  StrataTokenizer *tok = m->tokenizer;
  g_assert_cmpint (strata_tokenizer_get_kind (tok), ==, STRATA_TOKENIZER_BYTE_BPE);
  g_assert_cmpint (strata_tokenizer_get_vocab_size (tok), ==, m->weights->cfg.vocab);
  g_assert_nonnull (strata_tokenizer_get_sha256 (tok));
  JsonObject *entry = golden_entry (vc->folder);
  g_assert_nonnull (entry);

  guint agree = check_ids (tok, vc->file, entry);
  check_decode (tok, vc->file, entry);
  g_test_message ("%s (pre '%s'): %u of %u texts as HF tokenizers", vc->file, vc->pre, agree,
                  json_array_get_length (json_object_get_array_member (golden_root (), "texts")));

  /* A chat format: the special token is one id, the first. */
  g_autoptr (GArray) chat = strata_tokenizer_encode (tok, vc->chat_text, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_array_index (chat, int32_t, 0), ==, strata_tokenizer_lookup (tok, vc->chat_token));
  g_assert_cmpint (strata_tokenizer_lookup (tok, vc->chat_token), >=, 0);

  /* BOS/EOS: what transformers puts around a text, and the ids the tokenizer.json names. */
  JsonObject *tf = json_object_get_object_member (json_object_get_object_member (entry, "meta"), "transformers");
  g_autoptr (GArray) prefix = json_ids (json_object_get_array_member (tf, "prefix"));
  g_autoptr (GArray) suffix = json_ids (json_object_get_array_member (tf, "suffix"));
  const int32_t *pre, *suf;
  gsize n_pre, n_suf;
  g_assert_true (strata_tokenizer_get_specials (tok, &pre, &n_pre, &suf, &n_suf));
  g_autofree char *gp = ids_str (pre, n_pre), *gs = ids_str (suf, n_suf);
  g_autofree char *wp = ids_str ((int32_t *) prefix->data, prefix->len);
  g_autofree char *ws = ids_str ((int32_t *) suffix->data, suffix->len);
  g_assert_cmpstr (gp, ==, wp);
  g_assert_cmpstr (gs, ==, ws);
  g_assert_cmpint (m->add_bos, ==, prefix->len > 0);
  g_autoptr (GArray) run = strata_model_encode (m, "plain text", &error);
  g_autoptr (GArray) bare = strata_tokenizer_encode (tok, "plain text", NULL);
  g_assert_no_error (error);
  g_assert_cmpuint (run->len, ==, bare->len + prefix->len);
  if (prefix->len > 0)
    g_assert_cmpint (g_array_index (run, int32_t, 0), ==, g_array_index (prefix, int32_t, 0));

  g_autofree char *rel = g_strdup_printf ("hf-pipeline/%s/tokenizer.json", vc->folder);
  g_autofree char *json = data_path (rel);
  g_autoptr (StrataTokenizer) hf = strata_tokenizer_new_hf_json (json, &error);
  g_assert_no_error (error);
  g_assert_cmpint (strata_tokenizer_get_bos (tok), ==, strata_tokenizer_get_bos (hf));
  g_assert_cmpint (strata_tokenizer_get_eos (tok), ==, strata_tokenizer_get_eos (hf));
  g_assert_cmpint (m->eos_id, ==, strata_tokenizer_get_eos (hf));
  /* the pieces read as the tokenizer.json's do */
  for (int id = 0; id < strata_tokenizer_get_vocab_size (tok); id++)
    g_assert_cmpstr (strata_tokenizer_get_piece (tok, id), ==, strata_tokenizer_get_piece (hf, id));

  /* llama.cpp's other names for the family: the same pipeline */
  g_autoptr (StrataGguf) g = strata_gguf_open (path, &error);
  g_assert_no_error (error);
  for (gsize k = 0; k < G_N_ELEMENTS (vc->aliases) && vc->aliases[k]; k++) {
    g_autoptr (StrataTokenizer) alias = strata_gguf_new_bpe_tokenizer (g, vc->aliases[k], m->weights->cfg.vocab, &error);
    g_assert_no_error (error);
    g_autofree char *what = g_strdup_printf ("%s as '%s'", vc->file, vc->aliases[k]);
    g_assert_cmpuint (check_ids (alias, what, entry), ==, agree);
  }
}

/* A pre-tokenizer name Strata does not know (or none): the model opens without a tokenizer and
 * says why, in its note, in the error of an encode and in `strata info`. */
static void
test_unknown_pre (void)
{
  g_autofree char *src = data_path ("gguf-vocab/qwen2.gguf");
  gsize len;
  g_autofree char *orig = NULL;
  g_assert_true (g_file_get_contents (src, &orig, &len, NULL));
  gsize pre = gguf_value_of ((guint8 *) orig, len, "tokenizer.ggml.pre") + 8; /* the string's bytes */
  gsize key = gguf_value_of ((guint8 *) orig, len, "tokenizer.ggml.pre") - 4 - strlen ("tokenizer.ggml.pre");
  g_assert_cmpmem (orig + pre, 5, "qwen2", 5);
  struct { gsize at; const char *bytes; const char *phrase; } cases[] = {
    { pre, "qwen9", "names pre-tokenizer 'qwen9' (tokenizer.ggml.pre), which Strata does not know" },
    { key, "tokenizer.ggml.prX", "names no pre-tokenizer (tokenizer.ggml.pre)" },
  };
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("strata-vocab-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *p = g_build_filename (dir, "odd.gguf", NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *b = g_memdup2 (orig, len);
    memcpy (b + cases[i].at, cases[i].bytes, strlen (cases[i].bytes));
    g_assert_true (g_file_set_contents (p, b, (gssize) len, NULL));
    g_autoptr (StrataModel) m = strata_model_open (p, NULL, &error);
    g_assert_no_error (error);
    g_assert_null (m->tokenizer);
    g_assert_nonnull (m->tokenizer_note);
    g_test_message ("note: %s", m->tokenizer_note);
    g_assert_nonnull (strstr (m->tokenizer_note, cases[i].phrase));
    g_assert_nonnull (strstr (m->tokenizer_note, "llama-bpe, llama3, llama-v3, qwen2")); /* what it reads */
    g_assert_null (strstr (m->tokenizer_note, "odd.gguf")); /* the model's name comes first wherever it shows */
    g_assert_null (strata_model_encode (m, "hello", &error));
    g_assert_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN);
    g_assert_nonnull (strstr (error->message, m->tokenizer_note));
    g_clear_error (&error);

    const char *bin = g_getenv ("STRATA_BIN");
    if (!bin)
      continue;
    const char *argv[] = { bin, "info", p, NULL };
    g_autofree char *out = NULL, *err = NULL;
    int status;
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, NULL));
    g_assert_true (g_spawn_check_wait_status (status, NULL));
    if (!strstr (out, "tokenizer      none: ") || !strstr (out, cases[i].phrase))
      g_test_fail_printf ("strata info does not give the note:\n%s", out);
  }
  g_unlink (p);
  g_rmdir (dir);
}

/* Vocabularies no tokenizer.json converts to: errors that name the source and the fault. */
static void
test_malformed (void)
{
  char *tokens[] = { "a", "b", "ab", "c", "a" }, *bad_text[] = { "a", "b\xff" };
  char *merges[] = { "a b", "a c", "ab" };
  int32_t types[] = { 1, 1, 1, 1, 1 }, control_first[] = { 3, 1, 1, 1, 1 };
  struct { StrataGgufBpe v; int code; const char *phrase; } cases[] = {
    { { "qwen2", tokens, types, 4, merges, 1, -1, -1, -1, -1 }, 0, NULL },
    { { "qwen2", tokens, control_first, 5, merges, 1, -1, -1, -1, -1 }, STRATA_DATA_ERROR_FORMAT,
      "token 'a' has ids 0 and 4" }, /* (an added token made before: freed, found by fuzz-gguf) */
    { { "qwen2", tokens, types, 3, merges, 2, -1, -1, -1, -1 }, STRATA_DATA_ERROR_FORMAT,
      "merge 2 'a c' refers to a token that is not in the vocabulary" },
    { { "qwen2", tokens, types, 4, merges + 2, 1, -1, -1, -1, -1 }, STRATA_DATA_ERROR_FORMAT,
      "tokenizer.ggml.merges[0] 'ab' is not two tokens" },
    { { "qwen2", tokens, types, 4, merges, 1, -1, -1, 1, -1 }, STRATA_DATA_ERROR_FORMAT,
      "tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id names no token" },
    { { "llama-bpe", tokens, types, 4, merges, 1, -1, -1, -1, -1 }, STRATA_DATA_ERROR_FORMAT,
      "add_bos_token is true by default" },
    { { "gpt-4o", tokens, types, 4, merges, 1, -1, -1, -1, -1 }, STRATA_DATA_ERROR_UNSUPPORTED,
      "names pre-tokenizer 'gpt-4o'" },
    { { "qwen2", tokens, types, 0, merges, 1, -1, -1, -1, -1 }, STRATA_DATA_ERROR_FORMAT, "empty" },
    { { "qwen2", bad_text, types, 2, merges, 0, -1, -1, -1, -1 }, STRATA_DATA_ERROR_FORMAT,
      "token 1 of tokenizer.ggml.tokens is not UTF-8 text" }, /* found by fuzz-gguf */
    { { "qwen2", tokens, types, 4, NULL, -1, -1, -1, -1, -1 }, STRATA_DATA_ERROR_UNSUPPORTED,
      "has no merges (tokenizer.ggml.merges)" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (StrataTokenizer) tok = strata_tokenizer_new_gguf_bpe ("x.gguf", &cases[i].v, &error);
    if (cases[i].phrase == NULL) {
      g_assert_no_error (error);
      g_autoptr (GArray) ids = strata_tokenizer_encode (tok, "abc", &error);
      g_assert_no_error (error);
      int32_t want[] = { 2, 3 };
      g_assert_cmpmem (ids->data, ids->len * sizeof (int32_t), want, sizeof want);
      continue;
    }
    g_assert_null (tok);
    g_assert_error (error, STRATA_DATA_ERROR, cases[i].code);
    if (!g_str_has_prefix (error->message, "x.gguf: ") || !strstr (error->message, cases[i].phrase))
      g_test_fail_printf ("case %" G_GSIZE_FORMAT ": message '%s' should say '%s'", i, error->message,
                          cases[i].phrase);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/data/gguf/vocab/llama3", &vocab_llama3, test_vocab);
  g_test_add_data_func ("/data/gguf/vocab/qwen2", &vocab_qwen2, test_vocab);
  g_test_add_data_func ("/data/gguf/vocab/deepseek-r1-qwen", &vocab_deepseek, test_vocab);
  g_test_add_data_func ("/data/gguf/vocab/gpt2", &vocab_gpt2, test_vocab);
  g_test_add_data_func ("/data/gguf/vocab/gpt-neox", &vocab_neox, test_vocab);
  g_test_add_func ("/data/gguf/vocab/unknown-pre", test_unknown_pre);
  g_test_add_func ("/data/gguf/vocab/malformed", test_malformed);
  int status = g_test_run ();
  g_clear_pointer (&goldens, json_node_unref);
  return status;
}
