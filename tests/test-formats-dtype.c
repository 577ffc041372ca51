/* test-formats-dtype.c (included by test-formats.c): F16/BF16 conversion, sharded
 * checkpoints and the GPT-2 Conv1D mapping, on files written by the test. */

/* Independent decoders (ldexp on the fields), to check strata_f16_to_f32 against. */
static double
ref_f16 (guint16 h)
{
  int e = (h >> 10) & 31, m = h & 1023;
  double v = e == 0 ? ldexp (m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp (1024 + m, e - 25);
  return (h & 0x8000) ? -v : v;
}

/* fp32 -> f16, round to nearest even (values here are finite and < 65504). */
static guint16
to_f16 (float f)
{
  guint32 x;
  memcpy (&x, &f, 4);
  guint16 sign = (x >> 16) & 0x8000;
  float a = fabsf (f);
  if (a < 6.103515625e-05f) /* f16 subnormal: a × 2^24 is exact in fp32, rint rounds to even */
    return sign | (guint16) rintf (a * 16777216.0f);
  guint32 m = x & 0x7fffff, rem = m & 0x1fff;
  guint16 h = (guint16) ((((x >> 23) & 0xff) - 112) << 10 | (m >> 13));
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
    h++; /* a carry into the exponent is the right answer */
  return sign | h;
}

static void
test_f16_values (void)
{
  for (guint32 h = 0; h < 65536; h++) {
    float got = strata_f16_to_f32 ((guint16) h);
    double want = ref_f16 ((guint16) h);
    if (isnan (want))
      g_assert_true (isnan (got));
    else
      g_assert_cmpfloat (got, ==, want);
  }
  /* The bulk conversion (its own branch-free, vectorized loop) gives every value's bits,
   * NaN payloads and signed zeros included; from an odd address too. */
  g_autofree guint16 *all = g_new (guint16, 65536 + 1);
  g_autofree float *bulk = g_new (float, 65536), *one = g_new (float, 65536);
  for (guint32 h = 0; h < 65536; h++) {
    guint16 le = GUINT16_TO_LE ((guint16) h);
    memcpy ((char *) all + 1 + 2 * h, &le, 2);
    one[h] = strata_f16_to_f32 ((guint16) h);
  }
  strata_dtype_to_f32 (STRATA_DTYPE_F16, (char *) all + 1, bulk, 65536);
  g_assert_cmpmem (bulk, 65536 * sizeof (float), one, 65536 * sizeof (float));
  g_assert_cmpfloat (strata_f16_to_f32 (0x3c00), ==, 1.0f);
  g_assert_cmpfloat (strata_f16_to_f32 (0x7bff), ==, 65504.0f);
  g_assert_cmpfloat (strata_f16_to_f32 (0x0001), ==, ldexpf (1, -24));
  g_assert_true (signbit (strata_f16_to_f32 (0x8000)));
  g_assert_cmpfloat (strata_bf16_to_f32 (0x3f80), ==, 1.0f);
  g_assert_cmpfloat (strata_bf16_to_f32 (0xc0a0), ==, -5.0f);
  g_assert_true (isinf (strata_bf16_to_f32 (0x7f80)));
}

/* Rewrite the HF fixture with every tensor in `dtype`; fill `expect` with the fp32 values
 * the reader must produce for model.embed_tokens.weight. */
static void
write_hf_converted (Tmp *t, StrataDType dtype, float *expect)
{
  HfFixture f;
  hf_fixture_load (&f);
  g_autoptr (JsonObject) hdr = json_object_new ();
  g_autoptr (GByteArray) data = g_byte_array_new ();
  g_autoptr (GList) names = json_object_get_members (f.header);
  for (GList *l = names; l; l = l->next) {
    JsonObject *e = json_object_get_object_member (f.header, l->data);
    if (strcmp (l->data, "__metadata__") == 0) {
      json_object_set_object_member (hdr, l->data, json_object_ref (e));
      continue;
    }
    JsonArray *offs = json_object_get_array_member (e, "data_offsets");
    gint64 begin = json_array_get_int_element (offs, 0), n = (json_array_get_int_element (offs, 1) - begin) / 4;
    guint begin2 = data->len;
    for (gint64 i = 0; i < n; i++) {
      float v;
      memcpy (&v, f.data + begin + 4 * i, 4);
      guint32 bits;
      memcpy (&bits, &v, 4);
      guint16 h = dtype == STRATA_DTYPE_F16 ? to_f16 (v) : (guint16) (bits >> 16); /* bf16: truncate */
      if (strcmp (l->data, "model.embed_tokens.weight") == 0)
        expect[i] = dtype == STRATA_DTYPE_F16 ? (float) ref_f16 (h) : strata_bf16_to_f32 (h);
      h = GUINT16_TO_LE (h);
      g_byte_array_append (data, (guint8 *) &h, 2);
    }
    JsonObject *ne = json_object_new ();
    json_object_set_string_member (ne, "dtype", strata_dtype_to_string (dtype));
    json_object_set_array_member (ne, "shape", json_array_ref (json_object_get_array_member (e, "shape")));
    JsonArray *no = json_array_new ();
    json_array_add_int_element (no, begin2);
    json_array_add_int_element (no, data->len);
    json_object_set_array_member (ne, "data_offsets", no);
    json_object_set_object_member (hdr, l->data, ne);
  }
  g_free (tmp_copy_fixture (t, "stories260K-hf/config.json", "config.json"));
  g_free (write_safetensors (t, "model.safetensors", hdr, data->data, data->len));
  hf_fixture_clear (&f);
}

static void
test_hf_half (Tmp *t, gconstpointer data)
{
  StrataDType dtype = GPOINTER_TO_INT (data);
  g_autofree float *expect = g_new (float, 512 * 64);
  write_hf_converted (t, dtype, expect);
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) m = strata_model_open (t->dir, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (m->dtype, ==, dtype);
  g_assert_cmpmem (m->weights->tok_embed.data, N_ (512 * 64), expect, N_ (512 * 64));
  /* Against the fp32 original: within half an ulp of the narrow type. */
  g_autoptr (StrataModel) ref = open_hf ();
  double tol = dtype == STRATA_DTYPE_F16 ? ldexp (1, -11) : ldexp (1, -7);
  for (int i = 0; i < 64 * 64; i++) {
    float a = MAT_F32 (m->weights->layers[2].w_q)[i], b = MAT_F32 (ref->weights->layers[2].w_q)[i];
    g_assert_cmpfloat (fabsf (a - b), <=, tol * fabsf (b) + 6e-8);
  }
}

/* Split the HF fixture into two shards with an index. */
static void
test_hf_sharded (Tmp *t, gconstpointer data)
{
  HfFixture f;
  hf_fixture_load (&f);
  g_autoptr (JsonObject) a = json_object_new (), b = json_object_new (), map = json_object_new ();
  g_autoptr (GList) names = json_object_get_members (f.header);
  guint i = 0;
  for (GList *l = names; l; l = l->next, i++) {
    if (strcmp (l->data, "__metadata__") == 0)
      continue;
    JsonObject *shard = i % 2 ? a : b;
    json_object_set_object_member (shard, l->data, json_object_ref (json_object_get_object_member (f.header, l->data)));
    json_object_set_string_member (map, l->data, i % 2 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
  }
  /* Both shards carry the whole data section; each header names only its own tensors. */
  g_free (write_safetensors (t, "model-00001-of-00002.safetensors", a, f.data, f.data_len));
  g_free (write_safetensors (t, "model-00002-of-00002.safetensors", b, f.data, f.data_len));
  g_free (tmp_copy_fixture (t, "stories260K-hf/config.json", "config.json"));
  g_autoptr (JsonObject) index = json_object_new ();
  json_object_set_object_member (index, "weight_map", json_object_ref (map));
  g_autoptr (JsonNode) root = json_node_init_object (json_node_alloc (), index);
  g_autofree char *json = json_to_string (root, FALSE);
  g_free (tmp_write (t, "model.safetensors.index.json", json, strlen (json)));
  hf_fixture_clear (&f);

  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) m = strata_model_open (t->dir, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (StrataModel) ref = open_hf ();
  assert_same_weights (m->weights, ref->weights, FALSE);

  /* An index that points outside the folder, or at the wrong shard, is refused. */
  json_object_set_string_member (map, "model.norm.weight", "../model.safetensors");
  g_autofree char *json2 = json_to_string (root, FALSE);
  g_free (tmp_write (t, "model.safetensors.index.json", json2, strlen (json2)));
  assert_open_fails (t->dir, NULL, "model.safetensors.index.json", "is not a shard file name");
  const char *other = strcmp (json_object_get_string_member (map, "lm_head.weight"), "model-00001-of-00002.safetensors") == 0
                        ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors";
  json_object_set_string_member (map, "model.norm.weight", "model-00001-of-00002.safetensors");
  json_object_set_string_member (map, "lm_head.weight", other);
  g_autofree char *json3 = json_to_string (root, FALSE);
  g_free (tmp_write (t, "model.safetensors.index.json", json3, strlen (json3)));
  assert_open_fails (t->dir, NULL, "model.safetensors.index.json", "where the weight_map puts it");
}

/* A tiny GPT-2 whose every weight value encodes its tensor and index, so the Conv1D
 * transposes and the c_attn split can be checked element by element. */
static void
add_f32 (JsonObject *hdr, GByteArray *data, const char *name, int d0, int d1, float tag)
{
  JsonObject *e = json_object_new ();
  JsonArray *shape = json_array_new (), *offs = json_array_new ();
  gint64 n = (gint64) d0 * (d1 ? d1 : 1);
  json_array_add_int_element (shape, d0);
  if (d1)
    json_array_add_int_element (shape, d1);
  json_array_add_int_element (offs, data->len);
  for (gint64 i = 0; i < n; i++) {
    float v = tag * 10000.0f + (float) i;
    g_byte_array_append (data, (guint8 *) &v, 4);
  }
  json_array_add_int_element (offs, data->len);
  json_object_set_string_member (e, "dtype", "F32");
  json_object_set_array_member (e, "shape", shape);
  json_object_set_array_member (e, "data_offsets", offs);
  json_object_set_object_member (hdr, name, e);
}

static void
test_gpt2_mapping (Tmp *t, gconstpointer data)
{
  enum { L = 2, C = 8, H = 2, V = 10, N = 16, F = 32 };
  const char *cfg = "{\"model_type\": \"gpt2\", \"n_layer\": 2, \"n_embd\": 8, \"n_head\": 2, "
                    "\"n_positions\": 16, \"vocab_size\": 10, \"activation_function\": \"gelu_new\"}";
  g_autoptr (JsonObject) hdr = json_object_new ();
  g_autoptr (GByteArray) d = g_byte_array_new ();
  add_f32 (hdr, d, "transformer.wte.weight", V, C, 1);
  add_f32 (hdr, d, "transformer.wpe.weight", N, C, 2);
  add_f32 (hdr, d, "transformer.ln_f.weight", C, 0, 3);
  add_f32 (hdr, d, "transformer.ln_f.bias", C, 0, 4);
  for (int l = 0; l < L; l++) {
    struct { const char *n; int d0, d1; } ts[] = {
      { "ln_1.weight", C, 0 }, { "ln_1.bias", C, 0 }, { "attn.c_attn.weight", C, 3 * C }, { "attn.c_attn.bias", 3 * C, 0 },
      { "attn.c_proj.weight", C, C }, { "attn.c_proj.bias", C, 0 }, { "ln_2.weight", C, 0 }, { "ln_2.bias", C, 0 },
      { "mlp.c_fc.weight", C, F }, { "mlp.c_fc.bias", F, 0 }, { "mlp.c_proj.weight", F, C }, { "mlp.c_proj.bias", C, 0 },
      { "attn.bias", 1, N * N }, /* the causal-mask buffer, ignored */
    };
    for (gsize i = 0; i < G_N_ELEMENTS (ts); i++) {
      g_autofree char *name = g_strdup_printf ("transformer.h.%d.%s", l, ts[i].n);
      add_f32 (hdr, d, name, ts[i].d0, ts[i].d1, (float) (10 + 20 * l + i));
    }
  }
  g_free (tmp_write (t, "config.json", cfg, strlen (cfg)));
  g_free (write_safetensors (t, "model.safetensors", hdr, d->data, d->len));
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) m = strata_model_open (t->dir, NULL, &error);
  g_assert_no_error (error);
  const StrataWeights *w = m->weights;
  g_assert_cmpint (w->cfg.family, ==, STRATA_FAMILY_GPT2);
  g_assert_cmpint (w->cfg.d_mlp, ==, F);
  g_assert_cmpint (w->cfg.recipe.rope.pairing, ==, STRATA_ROPE_NONE);
  g_assert_true (w->cfg.recipe.tied);
  g_assert_false (m->add_bos);
  g_assert_cmpint (m->bos_id, ==, -1); /* 50256 does not exist in a vocabulary of 10 */
  g_assert_cmpfloat (MAT_F32 (w->pos_embed)[N * C - 1], ==, 20000.0f + N * C - 1);
  g_assert_cmpfloat (w->norm_f_b[3], ==, 40003.0f);
#define TAG(l, i) ((float) (10 + 20 * (l) + (i)) * 10000.0f)
  for (int l = 0; l < L; l++) {
    const StrataLayerWeights *lw = &w->layers[l];
    for (int o = 0; o < C; o++)
      for (int i = 0; i < C; i++) {
        /* Conv1D c_attn is (C_in, 3C_out): W_Q[o][i] = c_attn[i][o], W_K at column C + o. */
        g_assert_cmpfloat (MAT_F32 (lw->w_q)[o * C + i], ==, TAG (l, 2) + i * 3 * C + o);
        g_assert_cmpfloat (MAT_F32 (lw->w_k)[o * C + i], ==, TAG (l, 2) + i * 3 * C + C + o);
        g_assert_cmpfloat (MAT_F32 (lw->w_v)[o * C + i], ==, TAG (l, 2) + i * 3 * C + 2 * C + o);
        g_assert_cmpfloat (MAT_F32 (lw->w_o)[o * C + i], ==, TAG (l, 4) + i * C + o);
      }
    for (int o = 0; o < C; o++) {
      g_assert_cmpfloat (lw->b_k[o], ==, TAG (l, 3) + C + o);
      g_assert_cmpfloat (lw->b_down[o], ==, TAG (l, 11) + o);
    }
    for (int o = 0; o < F; o++)
      for (int i = 0; i < C; i++) {
        g_assert_cmpfloat (MAT_F32 (lw->w_up)[o * C + i], ==, TAG (l, 8) + i * F + o);
        g_assert_cmpfloat (MAT_F32 (lw->w_down)[i * F + o], ==, TAG (l, 10) + o * C + i);
      }
  }
#undef TAG
}

static void
add_dtype_tests (void)
{
  g_test_add_func ("/data/dtype/f16-all-values", test_f16_values);
  g_test_add ("/data/safetensors/f16", Tmp, GINT_TO_POINTER (STRATA_DTYPE_F16), tmp_setup, test_hf_half, tmp_teardown);
  g_test_add ("/data/safetensors/bf16", Tmp, GINT_TO_POINTER (STRATA_DTYPE_BF16), tmp_setup, test_hf_half, tmp_teardown);
  ADD_TMP ("/data/hf/sharded", test_hf_sharded);
  ADD_TMP ("/data/hf/gpt2-mapping", test_gpt2_mapping);
}
