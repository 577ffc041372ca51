/* bench-checkpoint.c: see bench-checkpoint.h. Written here rather than by a Python script so
 * the benchmarks need nothing but the build. */
#include "bench-checkpoint.h"
#include "strata-block-values.h"
#include "strata-gguf-quants.h"

#include <cblas.h>
#include <errno.h>
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

/* The names of a Llama-shaped model's tensors in a file format: the embedding, per layer (a
 * format with the layer's number) the attention norm, q, k, v, o, the MLP norm, gate, up and
 * down, then the final norm and the unembedding. */
typedef struct {
  const char *embed, *layer[9], *norm, *unembed;
} LlamaNames;

/* The tensors of shape `s` in file order (vectors have cols 0). */
static GPtrArray *
llama_tensors (const StrataBenchLlama *s, const LlamaNames *names)
{
  gint64 C = s->d_model, D = s->d_model / s->n_heads, Q = s->n_heads * D, KV = s->n_kv_heads * D, F = s->d_mlp;
  const gint64 shapes[9][2] = { { C, 0 }, { Q, C }, { KV, C }, { KV, C }, { C, Q }, { C, 0 }, { F, C }, { F, C }, { C, F } };
  GPtrArray *ts = g_ptr_array_new_with_free_func (tensor_free);
  add_tensor (ts, g_strdup (names->embed), s->vocab, C);
  for (int l = 0; l < s->n_layers; l++)
    for (int i = 0; i < 9; i++)
      add_tensor (ts, g_strdup_printf (names->layer[i], l), shapes[i][0], shapes[i][1]);
  add_tensor (ts, g_strdup (names->norm), C, 0);
  add_tensor (ts, g_strdup (names->unembed), s->vocab, C);
  return ts;
}

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
  static const LlamaNames hf = {
    "model.embed_tokens.weight",
    { "model.layers.%d.input_layernorm.weight", "model.layers.%d.self_attn.q_proj.weight",
      "model.layers.%d.self_attn.k_proj.weight", "model.layers.%d.self_attn.v_proj.weight",
      "model.layers.%d.self_attn.o_proj.weight", "model.layers.%d.post_attention_layernorm.weight",
      "model.layers.%d.mlp.gate_proj.weight", "model.layers.%d.mlp.up_proj.weight",
      "model.layers.%d.mlp.down_proj.weight" },
    "model.norm.weight",
    "lm_head.weight",
  };
  g_autoptr (GPtrArray) ts = llama_tensors (s, &hf);

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

/* ---- GGUF ---- */

static void
put_u32 (FILE *f, guint32 v)
{
  v = GUINT32_TO_LE (v);
  fwrite (&v, 4, 1, f);
}

static void
put_u64 (FILE *f, guint64 v)
{
  v = GUINT64_TO_LE (v);
  fwrite (&v, 8, 1, f);
}

static void
put_string (FILE *f, const char *s)
{
  put_u64 (f, strlen (s));
  fwrite (s, 1, strlen (s), f);
}

enum { GGUF_U32 = 4, GGUF_F32 = 6, GGUF_STRING = 8 }; /* gguf_type */

static void
put_kv_u32 (FILE *f, const char *key, guint32 v)
{
  put_string (f, key), put_u32 (f, GGUF_U32), put_u32 (f, v);
}

/* A pool of `bytes` of random blocks of dt whose F16 scale fields (d, and m or dmin where the
 * type has one) are small and finite. */
static guint8 *
block_pool (StrataDType dt, gsize bytes)
{
  gsize bb = strata_dtype_bytes (dt, (gsize) strata_dtype_block (dt));
  gsize n = bytes / bb;
  guint8 *pool = g_malloc (n * bb);
  guint32 x = 2463534242u;
  for (gsize i = 0; i < n * bb; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    pool[i] = (guint8) x;
  }
  int at[2];
  strata_block_scale_fields (dt, at);
  float d = dt == STRATA_DTYPE_Q6_K ? 1e-5f : dt >= STRATA_DTYPE_Q4_K ? 5e-4f : 4e-3f;
  for (gsize b = 0; b < n; b++) {
    float v = d * (0.5f + (float) (b % 97) / 97.0f);
    for (int f = 0; f < 2 && at[f] >= 0; f++)
      strata_dtype_from_f32 (STRATA_DTYPE_F16, &v, pool + b * bb + at[f], 1);
  }
  return pool;
}

gboolean
strata_bench_write_llama_gguf (const char *path, const StrataBenchLlama *s, StrataDType quant, GError **error)
{
  static const LlamaNames gguf = {
    "token_embd.weight",
    { "blk.%d.attn_norm.weight", "blk.%d.attn_q.weight", "blk.%d.attn_k.weight", "blk.%d.attn_v.weight",
      "blk.%d.attn_output.weight", "blk.%d.ffn_norm.weight", "blk.%d.ffn_gate.weight", "blk.%d.ffn_up.weight",
      "blk.%d.ffn_down.weight" },
    "output_norm.weight",
    "output.weight",
  };
  gint64 C = s->d_model, F = s->d_mlp;
  g_autoptr (GPtrArray) ts = llama_tensors (s, &gguf);

  FILE *f = fopen (path, "wb");
  if (!f) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "%s: %s", path, g_strerror (errno));
    return FALSE;
  }
  fwrite ("GGUF", 1, 4, f);
  put_u32 (f, 3);
  put_u64 (f, ts->len);
  put_u64 (f, 11);
  put_string (f, "general.architecture"), put_u32 (f, GGUF_STRING), put_string (f, "llama");
  put_kv_u32 (f, "llama.block_count", (guint32) s->n_layers);
  put_kv_u32 (f, "llama.context_length", (guint32) s->n_ctx);
  put_kv_u32 (f, "llama.embedding_length", (guint32) C);
  put_kv_u32 (f, "llama.feed_forward_length", (guint32) F);
  put_kv_u32 (f, "llama.attention.head_count", (guint32) s->n_heads);
  put_kv_u32 (f, "llama.attention.head_count_kv", (guint32) s->n_kv_heads);
  put_kv_u32 (f, "tokenizer.ggml.bos_token_id", 128000); /* Llama 3's, as the safetensors config says */
  put_kv_u32 (f, "tokenizer.ggml.eos_token_id", 128001);
  put_string (f, "llama.rope.freq_base"), put_u32 (f, GGUF_F32);
  float theta = 500000.0f, eps = 1e-5f;
  fwrite (&theta, 4, 1, f);
  put_string (f, "llama.attention.layer_norm_rms_epsilon"), put_u32 (f, GGUF_F32);
  fwrite (&eps, 4, 1, f);
  /* Tensor infos (dims innermost first), data offsets 32-byte aligned. */
  guint64 offset = 0;
  for (guint i = 0; i < ts->len; i++) {
    Tensor *t = ts->pdata[i];
    StrataDType dt = !t->cols ? STRATA_DTYPE_F32 : i + 1 == ts->len ? STRATA_DTYPE_Q6_K : quant;
    put_string (f, t->name);
    put_u32 (f, t->cols ? 2 : 1);
    put_u64 (f, (guint64) (t->cols ? t->cols : t->rows));
    if (t->cols)
      put_u64 (f, (guint64) t->rows);
    put_u32 (f, strata_ggml_type_of (dt));
    put_u64 (f, offset);
    offset += (strata_dtype_bytes (dt, (gsize) (t->rows * (t->cols ? t->cols : 1))) + 31) / 32 * 32;
  }
  static const guint8 zeros[32];
  fwrite (zeros, 1, (gsize) ((32 - ftell (f) % 32) % 32), f);
  gsize pool_bytes = (gsize) 64 << 20;
  g_autofree guint8 *pool = block_pool (quant, pool_bytes), *pool6 = block_pool (STRATA_DTYPE_Q6_K, pool_bytes);
  const float one = 1.0f;
  for (guint i = 0; i < ts->len; i++) {
    Tensor *t = ts->pdata[i];
    gsize bytes;
    if (!t->cols) {
      for (gint64 j = 0; j < t->rows; j++)
        fwrite (&one, 4, 1, f);
      bytes = (gsize) t->rows * 4;
    } else {
      StrataDType dt = i + 1 == ts->len ? STRATA_DTYPE_Q6_K : quant;
      const guint8 *src = dt == quant ? pool : pool6;
      gsize bb = strata_dtype_bytes (dt, (gsize) strata_dtype_block (dt)), n_pool = pool_bytes / bb * bb;
      bytes = strata_dtype_bytes (dt, (gsize) (t->rows * t->cols));
      gsize left = bytes, at = (gsize) (i * 7919u) % (n_pool / bb) * bb;
      while (left > 0) {
        gsize chunk = MIN (left, n_pool - at);
        fwrite (src + at, 1, chunk, f);
        left -= chunk;
        at = 0;
      }
    }
    fwrite (zeros, 1, (32 - bytes % 32) % 32, f);
  }
  if (fclose (f) != 0) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_IO, "%s: cannot write", path);
    return FALSE;
  }
  return TRUE;
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
