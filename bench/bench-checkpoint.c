/* bench-checkpoint.c: see bench-checkpoint.h. Written here rather than by a Python script so
 * the benchmarks need nothing but the build. */
#include "bench-checkpoint.h"

#include <cblas.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Seeded normal values (Box-Muller over a xorshift generator): reproducible weights. */
static guint64 rng = 0x9E3779B97F4A7C15ull;
float
strata_bench_normal (float std)
{
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  double u1 = ((rng >> 11) + 1.0) / 9007199254740993.0;
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  double u2 = (rng >> 11) / 9007199254740992.0;
  return (float) (std * sqrt (-2 * log (u1)) * cos (2 * G_PI * u2));
}

typedef struct {
  char *name;
  gint64 rows, cols; /* cols 0: a vector */
  float std, mean;   /* GPT-2's seeded values (Llama's come from a pool) */
} Tensor;

static void
tensor_free (gpointer p)
{
  Tensor *t = p;
  g_free (t->name);
  g_free (t);
}

/* Appends a tensor of normal(0.02) values. */
static Tensor *
add_tensor (GPtrArray *ts, char *name, gint64 rows, gint64 cols)
{
  Tensor *t = g_new (Tensor, 1);
  *t = (Tensor) { name, rows, cols, 0.02f, 0 };
  g_ptr_array_add (ts, t);
  return t;
}

/* Creates a safetensors file and writes its header: ts[from, to) in order, every tensor of
 * `dtype` (elem_size bytes each). The caller writes the data and closes the file. */
static FILE *
begin_safetensors (const char *path, GPtrArray *ts, guint from, guint to, const char *dtype,
                   int elem_size, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  gint64 offset = 0;
  for (guint i = from; i < to; i++) {
    Tensor *t = ts->pdata[i];
    gint64 n = t->rows * (t->cols ? t->cols : 1);
    json_builder_set_member_name (b, t->name);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "dtype"), json_builder_add_string_value (b, dtype);
    json_builder_set_member_name (b, "shape");
    json_builder_begin_array (b);
    json_builder_add_int_value (b, t->rows);
    if (t->cols)
      json_builder_add_int_value (b, t->cols);
    json_builder_end_array (b);
    json_builder_set_member_name (b, "data_offsets");
    json_builder_begin_array (b);
    json_builder_add_int_value (b, offset);
    json_builder_add_int_value (b, offset + n * elem_size);
    json_builder_end_array (b);
    json_builder_end_object (b);
    offset += n * elem_size;
  }
  json_builder_end_object (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  gsize hlen;
  g_autofree char *header = json_generator_to_data (gen, &hlen);
  gsize padded = (hlen + 7) / 8 * 8;
  FILE *f = fopen (path, "wb");
  if (!f) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot write %s", path);
    return NULL;
  }
  guint64 le = GUINT64_TO_LE ((guint64) padded);
  fwrite (&le, 8, 1, f);
  fwrite (header, 1, hlen, f);
  for (gsize i = hlen; i < padded; i++)
    fputc (' ', f);
  return f;
}

gboolean
strata_bench_write_gpt2 (const char *dir, const StrataBenchGpt2 *shape, GError **error)
{
  const int L = shape->n_layers, C = shape->d_model, H = shape->n_heads, V = shape->vocab;
  const int N_CTX = shape->n_ctx;
  g_autoptr (GPtrArray) ts = g_ptr_array_new_with_free_func (tensor_free);
  add_tensor (ts, g_strdup ("wte.weight"), V, C);
  add_tensor (ts, g_strdup ("wpe.weight"), N_CTX, C)->std = 0.01f;
  add_tensor (ts, g_strdup ("ln_f.weight"), C, 0)->mean = 1;
  add_tensor (ts, g_strdup ("ln_f.bias"), C, 0);
  for (int l = 0; l < L; l++) {
    struct { const char *n; gint64 r, c; float mean; } per[] = {
      { "ln_1.weight", C, 0, 1 }, { "ln_1.bias", C, 0, 0 },
      { "attn.c_attn.weight", C, 3 * C, 0 }, { "attn.c_attn.bias", 3 * C, 0, 0 },
      { "attn.c_proj.weight", C, C, 0 }, { "attn.c_proj.bias", C, 0, 0 },
      { "ln_2.weight", C, 0, 1 }, { "ln_2.bias", C, 0, 0 },
      { "mlp.c_fc.weight", C, 4 * C, 0 }, { "mlp.c_fc.bias", 4 * C, 0, 0 },
      { "mlp.c_proj.weight", 4 * C, C, 0 }, { "mlp.c_proj.bias", C, 0, 0 },
    };
    for (gsize i = 0; i < G_N_ELEMENTS (per); i++)
      add_tensor (ts, g_strdup_printf ("h.%d.%s", l, per[i].n), per[i].r, per[i].c)->mean =
        per[i].mean;
  }
  g_autofree char *st_path = g_build_filename (dir, "model.safetensors", NULL);
  FILE *f = begin_safetensors (st_path, ts, 0, ts->len, "F32", 4, error);
  if (!f)
    return FALSE;
  float *buf = g_new (float, 4 * C * C > V * C / 8 ? 4 * C * C : V * C / 8);
  for (guint i = 0; i < ts->len; i++) {
    Tensor *t = ts->pdata[i];
    gint64 n = t->rows * (t->cols ? t->cols : 1), done = 0;
    while (done < n) {
      gint64 chunk = MIN (n - done, (gint64) 4 * C * C);
      for (gint64 j = 0; j < chunk; j++)
        buf[j] = t->mean + strata_bench_normal (t->std);
      fwrite (buf, 4, (size_t) chunk, f);
      done += chunk;
    }
  }
  g_free (buf);
  gboolean ok = fclose (f) == 0;
  g_autofree char *config = g_strdup_printf (
      "{\"model_type\": \"gpt2\", \"n_layer\": %d, \"n_embd\": %d, \"n_head\": %d, \"n_positions\": %d,"
      " \"n_ctx\": %d, \"vocab_size\": %d, \"layer_norm_epsilon\": 1e-05, \"activation_function\": \"gelu_new\"}\n",
      L, C, H, N_CTX, N_CTX, V);
  g_autofree char *cfg_path = g_build_filename (dir, "config.json", NULL);
  return ok && g_file_set_contents (cfg_path, config, -1, error);
}

const StrataBenchGpt2 strata_bench_gpt2_small = { 12, 768, 12, 50257, 1024 };

const StrataBenchLlama strata_bench_llama_1b = { "llama-1b", 16, 2048, 32, 8, 8192, 128256, 8192 };
const StrataBenchLlama strata_bench_llama_8b = { "llama-8b", 32, 4096, 32, 8, 14336, 128256, 8192 };

/* One shard: its header (BF16 tensors in order) and data. */
static gboolean
write_shard (const char *path, GPtrArray *ts, guint from, guint to, const guint16 *pool, gsize pool_n,
             GError **error)
{
  FILE *f = begin_safetensors (path, ts, from, to, "BF16", 2, error);
  if (!f)
    return FALSE;
  const guint16 one = 0x3f80; /* 1.0 in BF16 */
  for (guint i = from; i < to; i++) {
    Tensor *t = ts->pdata[i];
    if (!t->cols) {
      for (gint64 j = 0; j < t->rows; j++)
        fwrite (&one, 2, 1, f);
      continue;
    }
    gint64 n = t->rows * t->cols;
    gsize at = (gsize) (i * 7919u) % pool_n;
    while (n > 0) {
      gsize chunk = MIN ((gsize) n, pool_n - at);
      fwrite (pool + at, 2, chunk, f);
      n -= (gint64) chunk;
      at = 0;
    }
  }
  return fclose (f) == 0;
}

gboolean
strata_bench_write_llama (const char *dir, const StrataBenchLlama *s, GError **error)
{
  gint64 C = s->d_model, D = s->d_model / s->n_heads, Q = s->n_heads * D, KV = s->n_kv_heads * D;
  g_autoptr (GPtrArray) ts = g_ptr_array_new_with_free_func (tensor_free);
  add_tensor (ts, g_strdup ("model.embed_tokens.weight"), s->vocab, C);
  for (int l = 0; l < s->n_layers; l++) {
    add_tensor (ts, g_strdup_printf ("model.layers.%d.input_layernorm.weight", l), C, 0);
    add_tensor (ts, g_strdup_printf ("model.layers.%d.self_attn.q_proj.weight", l), Q, C);
    add_tensor (ts, g_strdup_printf ("model.layers.%d.self_attn.k_proj.weight", l), KV, C);
    add_tensor (ts, g_strdup_printf ("model.layers.%d.self_attn.v_proj.weight", l), KV, C);
    add_tensor (ts, g_strdup_printf ("model.layers.%d.self_attn.o_proj.weight", l), C, Q);
    add_tensor (ts, g_strdup_printf ("model.layers.%d.post_attention_layernorm.weight", l), C, 0);
    add_tensor (ts, g_strdup_printf ("model.layers.%d.mlp.gate_proj.weight", l), s->d_mlp, C);
    add_tensor (ts, g_strdup_printf ("model.layers.%d.mlp.up_proj.weight", l), s->d_mlp, C);
    add_tensor (ts, g_strdup_printf ("model.layers.%d.mlp.down_proj.weight", l), C, s->d_mlp);
  }
  add_tensor (ts, g_strdup ("model.norm.weight"), C, 0);
  add_tensor (ts, g_strdup ("lm_head.weight"), s->vocab, C);

  gsize pool_n = (gsize) 64 << 20;
  g_autofree guint16 *pool = g_new (guint16, pool_n);
  for (gsize i = 0; i < pool_n; i++) {
    float v = strata_bench_normal (0.02f);
    guint32 bits;
    memcpy (&bits, &v, 4);
    pool[i] = (guint16) ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
  }
  /* Shards of about 4 GB, split between tensors. */
  g_autoptr (GArray) starts = g_array_new (FALSE, FALSE, sizeof (guint));
  gint64 bytes = 0;
  for (guint i = 0; i < ts->len; i++) {
    Tensor *t = ts->pdata[i];
    if (i == 0 || bytes >= ((gint64) 4 << 30)) {
      g_array_append_val (starts, i);
      bytes = 0;
    }
    bytes += t->rows * (t->cols ? t->cols : 1) * 2;
  }
  guint n_shards = starts->len;
  g_autoptr (JsonBuilder) index = json_builder_new ();
  json_builder_begin_object (index);
  json_builder_set_member_name (index, "weight_map");
  json_builder_begin_object (index);
  for (guint k = 0; k < n_shards; k++) {
    guint from = g_array_index (starts, guint, k), to = k + 1 < n_shards ? g_array_index (starts, guint, k + 1) : ts->len;
    g_autofree char *file = g_strdup_printf ("model-%05u-of-%05u.safetensors", k + 1, n_shards);
    g_autofree char *path = g_build_filename (dir, file, NULL);
    printf ("  %s\n", path);
    if (!write_shard (path, ts, from, to, pool, pool_n, error))
      return FALSE;
    for (guint i = from; i < to; i++) {
      json_builder_set_member_name (index, ((Tensor *) ts->pdata[i])->name);
      json_builder_add_string_value (index, file);
    }
  }
  json_builder_end_object (index);
  json_builder_end_object (index);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (index);
  json_generator_set_root (gen, root);
  g_autofree char *index_path = g_build_filename (dir, "model.safetensors.index.json", NULL);
  if (!json_generator_to_file (gen, index_path, error))
    return FALSE;
  g_autofree char *config = g_strdup_printf (
      "{\"model_type\": \"llama\", \"hidden_size\": %d, \"intermediate_size\": %d, \"num_hidden_layers\": %d,"
      " \"num_attention_heads\": %d, \"num_key_value_heads\": %d, \"vocab_size\": %d,"
      " \"max_position_embeddings\": %d, \"rms_norm_eps\": 1e-05, \"rope_theta\": 500000.0,"
      " \"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\", \"bos_token_id\": 128000,"
      " \"eos_token_id\": 128001}\n",
      s->d_model, s->d_mlp, s->n_layers, s->n_heads, s->n_kv_heads, s->vocab, s->n_ctx);
  g_autofree char *cfg_path = g_build_filename (dir, "config.json", NULL);
  return g_file_set_contents (cfg_path, config, -1, error);
}

StrataModel *
strata_bench_open_gpt2_small (GError **error)
{
  g_autofree char *dir = g_build_filename (g_get_tmp_dir (), "strata-bench-gpt2-small", NULL);
  g_mkdir_with_parents (dir, 0755);
  printf ("writing a seeded GPT-2-small-shaped checkpoint to %s ...\n", dir);
  if (!strata_bench_write_gpt2 (dir, &strata_bench_gpt2_small, error))
    return NULL;
  return strata_model_open (dir, NULL, error);
}

const StrataBackend *
strata_bench_device (const char *prog, int *argc, char **argv)
{
  const char *name = NULL;
  int kept = 1;
  for (int i = 1; i < *argc; i++) {
    if (strcmp (argv[i], "--device") == 0 && i + 1 < *argc)
      name = argv[++i];
    else if (g_str_has_prefix (argv[i], "--device="))
      name = argv[i] + strlen ("--device=");
    else
      argv[kept++] = argv[i];
  }
  *argc = kept;
  argv[kept] = NULL;
  StrataDeviceChoice ch;
  const StrataBackend *be = strata_device_choose (name, &ch);
  if (!be) {
    fprintf (stderr, "%s: %s%s: %s\n", prog, ch.from_env ? "STRATA_DEVICE=" : "--device ", ch.asked, ch.why);
    return NULL;
  }
  if (ch.fell_back)
    fprintf (stderr, "%s: device auto: running on the CPU; CUDA is not usable: %s\n", prog, ch.why);
  printf ("device: %s (%s)\n", ch.label, ch.why);
  return be;
}

/* Best single-precision GFLOP/s of OpenBLAS on large square products: the machine's
 * practical matrix-multiply peak. */
double
strata_bench_sgemm_peak (void)
{
  const int n = 2048;
  float *a = g_new (float, (gsize) n * n), *b = g_new (float, (gsize) n * n), *c = g_new (float, (gsize) n * n);
  for (gsize i = 0; i < (gsize) n * n; i++)
    a[i] = strata_bench_normal (1), b[i] = strata_bench_normal (1);
  double best = 0;
  for (int rep = 0; rep < 5; rep++) {
    gint64 t0 = g_get_monotonic_time ();
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    double s = (g_get_monotonic_time () - t0) / 1e6;
    best = MAX (best, 2.0 * n * n * n / s / 1e9);
  }
  g_free (a), g_free (b), g_free (c);
  return best;
}
