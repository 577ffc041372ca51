/* test-formats-bad.c (included by test-formats.c): malformed inputs, each derived from a
 * real fixture, each refused with a message naming the file and the problem. */

/* --- safetensors --- */

static void
test_st_truncated (Tmp *t, gconstpointer data)
{
  gsize len;
  g_autofree guint8 *b = read_fixture ("stories260K-hf/model.safetensors", &len);
  g_free (tmp_copy_fixture (t, "stories260K-hf/config.json", "config.json"));
  struct { gsize cut; const char *phrase; } cuts[] = {
    { 0, "too short" }, { 5, "too short" }, { 8, "larger than the file" }, { 100, "larger than the file" },
    { 8 + 4944, "past the end of the data section" }, { len / 2, "past the end of the data section" },
    { len - 1, "past the end of the data section" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cuts); i++) {
    g_autofree char *p = tmp_write (t, "model.safetensors", b, cuts[i].cut);
    assert_open_fails (p, NULL, "model.safetensors", cuts[i].phrase);
  }
}

static void
test_st_header_len (Tmp *t, gconstpointer data)
{
  gsize len;
  g_autofree guint8 *b = read_fixture ("stories260K-hf/model.safetensors", &len);
  g_free (tmp_copy_fixture (t, "stories260K-hf/config.json", "config.json"));
  guint64 huge = GUINT64_TO_LE ((guint64) len);
  memcpy (b, &huge, 8);
  g_autofree char *p = tmp_write (t, "model.safetensors", b, len);
  assert_open_fails (p, NULL, "model.safetensors", "larger than the file");
  guint64 big = GUINT64_TO_LE ((guint64) 200 << 20); /* inside a bigger file, over the limit */
  g_autoptr (GByteArray) a = g_byte_array_sized_new (210 << 20);
  g_byte_array_set_size (a, 210 << 20);
  memset (a->data, ' ', a->len);
  memcpy (a->data, &big, 8);
  a->data[8] = '{';
  g_autofree char *q = tmp_write (t, "model.safetensors", a->data, a->len);
  assert_open_fails (q, NULL, "model.safetensors", "exceeds");
}

static void
test_st_garbage (Tmp *t, gconstpointer data)
{
  g_free (tmp_copy_fixture (t, "stories260K-hf/config.json", "config.json"));
  g_autoptr (GRand) r = g_rand_new_with_seed (7);
  guint8 junk[4096];
  for (gsize i = 0; i < sizeof junk; i++)
    junk[i] = (guint8) g_rand_int (r);
  g_autofree char *p = tmp_write (t, "model.safetensors", junk, sizeof junk);
  assert_open_fails (p, NULL, "model.safetensors", "larger than the file");
  /* A plausible length followed by junk: not JSON. */
  guint64 n = GUINT64_TO_LE (64);
  memcpy (junk, &n, 8);
  junk[8] = '{';
  g_autofree char *q = tmp_write (t, "model.safetensors", junk, sizeof junk);
  assert_open_fails (q, NULL, "model.safetensors", "not valid JSON");
  /* Deep nesting is refused before json-glib recurses. */
  memset (junk + 8, '[', sizeof junk - 8);
  junk[8] = '{';
  n = GUINT64_TO_LE (sizeof junk - 8);
  memcpy (junk, &n, 8);
  g_autofree char *d = tmp_write (t, "model.safetensors", junk, sizeof junk);
  assert_open_fails (d, NULL, "model.safetensors", "nests deeper");
}

static void
test_st_invalid_json (Tmp *t, gconstpointer data)
{
  gsize len;
  g_autofree guint8 *b = read_fixture ("stories260K-hf/model.safetensors", &len);
  g_free (tmp_copy_fixture (t, "stories260K-hf/config.json", "config.json"));
  b[9] = '!'; /* the quote opening the first key */
  g_autofree char *p = tmp_write (t, "model.safetensors", b, len);
  assert_open_fails (p, NULL, "model.safetensors", "not valid JSON");
}

typedef void (*EditFunc) (HfFixture *f);

static void
edit_overlap (HfFixture *f)
{
  JsonArray *a = tensor_array (f, "model.norm.weight", "data_offsets");
  JsonArray *b = tensor_array (f, "model.layers.0.input_layernorm.weight", "data_offsets");
  /* Both [64] F32: give the norm the first layer norm's bytes. */
  json_array_remove_element (a, 1);
  json_array_remove_element (a, 0);
  json_array_add_int_element (a, json_array_get_int_element (b, 0));
  json_array_add_int_element (a, json_array_get_int_element (b, 1));
}

static void
edit_past_end (HfFixture *f)
{
  JsonArray *a = tensor_array (f, "model.norm.weight", "data_offsets");
  json_array_remove_element (a, 1);
  json_array_remove_element (a, 0);
  json_array_add_int_element (a, (gint64) f->data_len - 128);
  json_array_add_int_element (a, (gint64) f->data_len + 128);
}

static void
edit_begin_after_end (HfFixture *f)
{
  JsonArray *a = tensor_array (f, "model.norm.weight", "data_offsets");
  gint64 begin = json_array_get_int_element (a, 0);
  json_array_remove_element (a, 0);
  json_array_add_int_element (a, begin - 4);
}

static void
edit_wrong_size (HfFixture *f)
{
  JsonArray *s = tensor_array (f, "model.norm.weight", "shape");
  json_array_remove_element (s, 0);
  json_array_add_int_element (s, 65);
}

static void
edit_overflow (HfFixture *f)
{
  JsonArray *s = tensor_array (f, "model.norm.weight", "shape");
  json_array_add_int_element (s, G_MAXINT64);
  json_array_add_int_element (s, G_MAXINT64);
}

static void
edit_dtype (HfFixture *f)
{
  json_object_set_string_member (json_object_get_object_member (f->header, "model.norm.weight"), "dtype", "I64");
}

static void
edit_missing (HfFixture *f)
{
  json_object_remove_member (f->header, "model.norm.weight");
}

static void
edit_shape (HfFixture *f)
{
  JsonArray *s = tensor_array (f, "model.norm.weight", "shape");
  json_array_remove_element (s, 0);
  json_array_add_int_element (s, 32);
  json_array_add_int_element (s, 2);
}

static void
edit_no_offsets (HfFixture *f)
{
  json_object_remove_member (json_object_get_object_member (f->header, "model.norm.weight"), "data_offsets");
}

static const struct {
  const char *path;
  EditFunc edit;
  const char *phrase;
} st_edits[] = {
  { "/data/safetensors/overlap", edit_overlap, "overlap" },
  { "/data/safetensors/offset-past-end", edit_past_end, "past the end of the data section" },
  { "/data/safetensors/begin-after-end", edit_begin_after_end, "> end" },
  { "/data/safetensors/wrong-size", edit_wrong_size, "needs 260" },
  { "/data/safetensors/shape-overflow", edit_overflow, "overflows" },
  { "/data/safetensors/unknown-dtype", edit_dtype, "unsupported dtype I64" },
  { "/data/safetensors/missing-tensor", edit_missing, "missing tensor 'model.norm.weight'" },
  { "/data/safetensors/wrong-shape", edit_shape, "'model.norm.weight' has shape [32, 2], expected [64]" },
  { "/data/safetensors/no-offsets", edit_no_offsets, "no data_offsets" },
};

static void
test_st_edit (Tmp *t, gconstpointer data)
{
  gsize i = GPOINTER_TO_SIZE (data);
  HfFixture f;
  hf_fixture_load (&f);
  st_edits[i].edit (&f);
  g_free (tmp_hf_folder (t, &f));
  assert_open_fails (t->dir, NULL, "model.safetensors", st_edits[i].phrase);
  hf_fixture_clear (&f);
}

/* --- config.json --- */

static void
test_config_bad (Tmp *t, gconstpointer data)
{
  static const struct { const char *from, *to, *phrase; } edits[] = {
    { "\"hidden_size\": 64,", "", "missing field 'hidden_size'" },
    { "\"num_hidden_layers\": 5", "\"num_hidden_layers\": \"5\"", "field 'num_hidden_layers' must be a positive integer" },
    { "\"num_attention_heads\": 8", "\"num_attention_heads\": -8", "field 'num_attention_heads' must be a positive integer" },
    { "\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": [1]", "field 'rms_norm_eps' must be a number" },
    { "\"tie_word_embeddings\": true", "\"tie_word_embeddings\": 1", "field 'tie_word_embeddings' must be true or false" },
    { "\"model_type\": \"llama\"", "\"model_type\": \"bert\"", "model_type 'bert' is not supported" },
    { "\"model_type\": \"llama\",", "", "missing field 'model_type'" },
    { "\"rope_scaling\": null", "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}", "rope_scaling" },
    { "\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"", "hidden_act 'gelu'" },
    { "\"num_key_value_heads\": 4", "\"num_key_value_heads\": 3", "must divide" },
    { "\"vocab_size\": 512,", "\"vocab_size\": 512,,", "cannot read" },
  };
  HfFixture f;
  hf_fixture_load (&f);
  g_free (write_safetensors (t, "model.safetensors", f.header, f.data, f.data_len));
  hf_fixture_clear (&f);
  gsize len;
  g_autofree char *cfg = (char *) read_fixture ("stories260K-hf/config.json", &len);
  for (gsize i = 0; i < G_N_ELEMENTS (edits); i++) {
    g_autoptr (GString) s = g_string_new (cfg);
    g_assert_cmpuint (g_string_replace (s, edits[i].from, edits[i].to, 1), ==, 1);
    g_free (tmp_write (t, "config.json", s->str, s->len));
    assert_open_fails (t->dir, NULL, "config.json", edits[i].phrase);
  }
}

/* --- GGUF --- */

static void
test_gguf_bad (Tmp *t, gconstpointer data)
{
  gsize len;
  g_autofree guint8 *orig = read_fixture (GGUF, &len);
  g_autofree guint8 *b = g_memdup2 (orig, len);
  guint8 *first_tensor = memmem (b, len, "token_embd.weight", 17);
  g_assert_nonnull (first_tensor);
  gsize type_at = (gsize) (first_tensor - b) + 17 + 4 + 16; /* name, n_dims, 2 dims */
  struct { gsize at; guint64 value; int width; gsize cut; const char *phrase; } cases[] = {
    { 0, 0x58554747, 4, 0, "bad magic" },                       /* "GGUX" */
    { 4, 7, 4, 0, "unsupported GGUF version 7" },
    { 8, G_GUINT64_CONSTANT (1) << 60, 8, 0, "cannot fit" },    /* tensor count */
    { 16, G_GUINT64_CONSTANT (1) << 40, 8, 0, "cannot fit" },   /* key count */
    { 24, G_GUINT64_CONSTANT (1) << 62, 8, 0, "claims" },       /* first key length */
    { type_at, 17, 4, 0, "tensor 'token_embd.weight' has type IQ2_XS (17), which Strata does not read" },
    { type_at + 4, 3, 8, 0, "not a multiple of the alignment" },
    { type_at + 4, G_GUINT64_CONSTANT (1) << 50, 8, 0, "runs past the end of the file" },
    { type_at + 4, 131072 + 256, 8, 0, "overlap" },             /* onto output.weight */
    { 0, 0, 0, 3, "bad magic" },
    { 0, 0, 0, 100, "cannot fit in 100 bytes" },
    { 0, 0, 0, 14000, "truncated" },
    { 0, 0, 0, 14200, "past the end" },
    { 0, 0, 0, 0, "" },
  };
  cases[G_N_ELEMENTS (cases) - 1].cut = len - 4;
  cases[G_N_ELEMENTS (cases) - 1].phrase = "runs past the end of the file";
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    memcpy (b, orig, len);
    if (cases[i].width == 4) {
      guint32 v = GUINT32_TO_LE ((guint32) cases[i].value);
      memcpy (b + cases[i].at, &v, 4);
    } else if (cases[i].width == 8) {
      guint64 v = GUINT64_TO_LE (cases[i].value);
      memcpy (b + cases[i].at, &v, 8);
    }
    g_autofree char *p = tmp_write (t, "bad.gguf", b, cases[i].cut ? cases[i].cut : len);
    g_test_message ("case %" G_GSIZE_FORMAT, i);
    assert_open_fails (p, NULL, "bad.gguf", cases[i].phrase);
  }
}

/* --- llama2.c --- */

static void
test_llama2c_bad (Tmp *t, gconstpointer data)
{
  gsize len;
  g_autofree guint8 *orig = read_fixture (BIN, &len);
  g_autofree guint8 *b = g_malloc (len + 4);
  struct { int field; gint32 value; gssize delta; const char *phrase; } cases[] = {
    { -1, 0, -4, "header (tied classifier) implies 1056540" },
    { -1, 0, +4, "file has 1056544 bytes" },
    { 0, 0, 0, "dim = 0 is not a positive size" },
    { 2, -5, 0, "n_layers = -5 is not a positive size" },
    { 1, G_MAXINT32, 0, "hidden_dim = 2147483647 is not a positive size" },
    { 4, 3, 0, "must divide" },
    { 3, 7, 0, "not a multiple of n_heads" },
    { 6, 1 << 20, 0, "implies" },
    { -1, 0, 20 - (gssize) len, "shorter than the 28-byte" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    memcpy (b, orig, len);
    memset (b + len, 0, 4);
    if (cases[i].field >= 0) {
      gint32 v = GINT32_TO_LE (cases[i].value);
      memcpy (b + 4 * cases[i].field, &v, 4);
    }
    g_autofree char *p = tmp_write (t, "bad.bin", b, (gsize) ((gssize) len + cases[i].delta));
    assert_open_fails (p, NULL, "bad.bin", cases[i].phrase);
  }
}

static void
test_unknown_format (Tmp *t, gconstpointer data)
{
  g_autofree char *p = tmp_write (t, "weights.pt", "PK\3\4", 4);
  assert_open_fails (p, NULL, "weights.pt", "not a recognized checkpoint");
  g_autofree char *missing = g_build_filename (t->dir, "absent.bin", NULL);
  assert_open_fails (missing, NULL, "absent.bin", "cannot open");
  g_autofree char *dir = g_build_filename (t->dir, "empty", NULL);
  g_mkdir (dir, 0700);
  assert_open_fails (dir, NULL, "config.json", "cannot read");
  g_rmdir (dir);
}

static void
add_bad_tests (void)
{
  ADD_TMP ("/data/safetensors/truncated", test_st_truncated);
  ADD_TMP ("/data/safetensors/header-length", test_st_header_len);
  ADD_TMP ("/data/safetensors/garbage", test_st_garbage);
  ADD_TMP ("/data/safetensors/invalid-json", test_st_invalid_json);
  for (gsize i = 0; i < G_N_ELEMENTS (st_edits); i++)
    g_test_add (st_edits[i].path, Tmp, GSIZE_TO_POINTER (i), tmp_setup, test_st_edit, tmp_teardown);
  ADD_TMP ("/data/hf/config-malformed", test_config_bad);
  ADD_TMP ("/data/gguf/malformed", test_gguf_bad);
  ADD_TMP ("/data/llama2c/malformed", test_llama2c_bad);
  ADD_TMP ("/data/model/unknown-format", test_unknown_format);
}
