/* test-gguf.c: GGUF files as llama.cpp writes them: quantized tensors and the architecture
 * table.
 *
 * - /data/gguf/quants/<type>: every block type Strata decodes, on the tensors of
 *   tests/data/gguf-quants/quants.gguf (tools/reference/gguf_quants_reference.py): the F32
 *   bits must equal gguf-py's gguf.quants.dequantize, stored beside each tensor.
 * - /data/gguf/quants/malformed: block sizes, rows that are not whole blocks, byte counts
 *   past the file or onto the next tensor, types Strata does not read: an error naming the
 *   file and the tensor, never a crash.
 * - /data/gguf/arch/<name>: the seeded HF goldens converted as convert_hf_to_gguf.py does
 *   (tools/reference/make_gguf_goldens.py) load to the same config and the same weights as
 *   the HF folder, so the logits are the same bits, and match the golden within 1e-4.
 *   Gemma 2's norm weights are stored as 1 + w and run as plain RMSNorm: the same float sum
 *   the (1 + w) kernel forms, so the logits are still the same bits. gemma2-window's
 *   query_pre_attn_scalar (12, head_dim 16) is not in the file: its GGUF runs llama.cpp's
 *   head_dim^-1/2, the HF folder's logits at that scale, and misses the golden.
 * - /data/gguf/arch/gemma2-46-layers: llama.cpp's 27B scale (C / H)^-1/2, and the window's
 *   layers as sliding_window_pattern says (a pattern the recipe cannot run is refused);
 *   /data/gguf/arch/phi3-longrope: the long-context rope factors refused by name.
 * - /data/gguf/stories/<type>: stories260K quantized to Q8_0 and Q4_0 with gguf-py
 *   (tools/reference/gguf_quantize_stories.py): logits within 1e-4 of a float64 forward over
 *   the dequantized weights, and within a measured bound of the F32 original. */
#define _GNU_SOURCE /* memmem */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "golden-reader.h"
#include "strata-data-error.h"
#include "strata-backend.h"
#include "strata-engine.h"
#include "strata-gguf.h"
#include "strata-model.h"
#include "strata-tokenizer.h"
#include "test-formats-util.h"

#define QUANTS "gguf-quants/quants.gguf"
#define STORIES "stories260K-gguf/stories260K.gguf"

static StrataModel *
open_model (const char *rel)
{
  g_autofree char *p = data_path (rel);
  g_autoptr (GError) error = NULL;
  StrataModel *m = strata_model_open (p, NULL, &error);
  g_assert_no_error (error);
  return m;
}

static StrataGolden *
open_golden (const char *rel)
{
  g_autofree char *p = data_path (rel);
  g_autoptr (GError) error = NULL;
  StrataGolden *g = strata_golden_open (p, &error);
  g_assert_no_error (error);
  return g;
}

/* (B*T, V) logits of the CPU engine. */
static float *
logits_of (const StrataModel *m, const gint32 *ids, int B, int T)
{
  StrataStatus st;
  StrataEngine *e = strata_engine_new (strata_backend_cpu (), m->weights, &st);
  g_assert_cmpint (st, ==, STRATA_OK);
  float *logits = g_new (float, (gsize) B * T * m->weights->cfg.vocab);
  g_assert_cmpint (strata_engine_forward (e, ids, B, T, NULL, logits), ==, STRATA_OK);
  strata_engine_free (e);
  return logits;
}

static double
max_abs_diff (const float *a, const float *b, gsize n)
{
  double d = 0;
  for (gsize i = 0; i < n; i++)
    d = fmax (d, fabs ((double) a[i] - (double) b[i]));
  return d;
}

/* ---- dequantization against gguf-py ---- */

static void
check_decoded (StrataGguf *g, const char *name, const char *type, GArray *seen)
{
  const StrataTensorInfo *t = strata_gguf_lookup_tensor (g, name);
  g_autofree char *ename = g_strconcat (name, ".expected", NULL);
  const StrataTensorInfo *e = strata_gguf_lookup_tensor (g, ename);
  g_assert_nonnull (t);
  g_assert_nonnull (e);
  g_assert_nonnull (t->blocks);
  g_assert_cmpstr (t->blocks->name, ==, type);
  /* The kernels hold the type as a matrix dtype of the same name and block layout. */
  g_assert_cmpstr (strata_dtype_to_string (t->dtype), ==, type);
  g_assert_cmpint (strata_dtype_block (t->dtype), ==, t->blocks->block);
  g_assert_cmpuint (strata_dtype_bytes (t->dtype, t->blocks->block), ==, t->blocks->block_bytes);
  g_assert_null (e->blocks);
  g_assert_cmpint (e->dtype, ==, STRATA_DTYPE_F32);
  g_assert_cmpint (t->n_dims, ==, e->n_dims);
  for (int i = 0; i < t->n_dims; i++)
    g_assert_cmpuint (t->shape[i], ==, e->shape[i]);
  gsize n = t->n_elements, block = t->blocks->block;
  g_assert_cmpuint (t->n_bytes, ==, n / block * t->blocks->block_bytes);
  g_autofree float *got = g_new (float, n);
  g_autofree float *want = g_new (float, n);
  strata_tensor_info_to_f32 (t, got, n);
  strata_tensor_info_to_f32 (e, want, n);
  for (gsize i = 0; i < n; i++)
    if (memcmp (&got[i], &want[i], sizeof (float)) != 0) {
      g_test_fail_printf ("%s: value %" G_GSIZE_FORMAT " (block %" G_GSIZE_FORMAT ", position %" G_GSIZE_FORMAT
                          ") is %.9g, gguf-py gives %.9g", name, i, i / block, i % block, got[i], want[i]);
      return;
    }
  /* Each block from its own bytes: a decoder reads its blocks and nothing else. */
  g_autofree float *one = g_new (float, block);
  for (gsize b = 0; b < n / block; b++) {
    StrataTensorInfo part = *t;
    part.data = t->data + b * t->blocks->block_bytes;
    strata_tensor_info_to_f32 (&part, one, block);
    g_assert_cmpmem (one, block * sizeof (float), want + b * block, block * sizeof (float));
  }
  g_array_append_vals (seen, want, n);
}

static void
test_quants (gconstpointer data)
{
  const char *type = data;
  g_autofree char *path = data_path (QUANTS);
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataGguf) g = strata_gguf_open (path, &error);
  g_assert_no_error (error);
  g_autofree char *lower = g_ascii_strdown (type, -1);
  g_autofree char *random = g_strconcat (lower, ".random", NULL);
  g_autofree char *quantized = g_strconcat (lower, ".quantized", NULL);
  g_autoptr (GArray) seen = g_array_new (FALSE, FALSE, sizeof (float));
  check_decoded (g, random, type, seen);
  /* gguf-py quantizes Q8_0 and Q4_0-Q5_1; the others it can only dequantize. */
  const StrataTensorInfo *r = strata_gguf_lookup_tensor (g, random);
  if (r->blocks->block == 32 && r->dtype != STRATA_DTYPE_IQ4_NL)
    check_decoded (g, quantized, type, seen);
  else
    g_assert_null (strata_gguf_lookup_tensor (g, quantized));
  /* The goldens hold what the script promises: zeros, negatives, huge and tiny values. */
  gboolean zero = FALSE, negative = FALSE, huge = FALSE, tiny = FALSE;
  for (guint i = 0; i < seen->len; i++) {
    float v = g_array_index (seen, float, i);
    zero |= v == 0;
    negative |= v < 0;
    huge |= fabsf (v) > 1e5f;
    tiny |= v != 0 && fabsf (v) < 1e-5f;
  }
  g_assert_true (zero && negative && huge && tiny);
}

/* ---- malformed files ---- */

static void
put (guint8 *b, gsize at, guint64 value, int width)
{
  if (width == 4) {
    guint32 v = GUINT32_TO_LE ((guint32) value);
    memcpy (b + at, &v, 4);
  } else {
    guint64 v = GUINT64_TO_LE (value);
    memcpy (b + at, &v, 8);
  }
}

static void
assert_error (GError *error, const char *file, const char *phrase)
{
  g_assert_nonnull (error);
  g_assert_true (error->domain == STRATA_DATA_ERROR);
  g_test_message ("error: %s", error->message);
  if (!strstr (error->message, file) || !strstr (error->message, phrase))
    g_test_fail_printf ("message '%s' should name '%s' and say '%s'", error->message, file, phrase);
}

static void
test_quants_malformed (Tmp *t, gconstpointer data)
{
  gsize len;
  g_autofree guint8 *orig = read_fixture (QUANTS, &len);
  g_autofree guint8 *b = g_memdup2 (orig, len);
  gsize q4 = gguf_after_string (orig, len, "q4_0.random"); /* 2 dims: 256 values x 4 rows, Q4_0 */
  gsize qk = gguf_after_string (orig, len, "q4_k.random");  /* 512 x 4, Q4_K */
  struct { gsize at; guint64 value; int width; gsize cut; const char *phrase; } cases[] = {
    { q4 + 20, 9, 4, 0, "tensor 'q4_0.random' has type Q8_1 (9), which Strata does not read" },
    { q4 + 20, 17, 4, 0, "tensor 'q4_0.random' has type IQ2_XS (17), which Strata does not read" },
    { q4 + 20, 99, 4, 0, "tensor 'q4_0.random' has type 99, which is not a ggml type" },
    { q4 + 20, 4, 4, 0, "tensor 'q4_0.random' has type 4, which is not a ggml type" }, /* retired Q4_2 */
    { q4 + 4, 250, 8, 0, "'q4_0.random' of type Q4_0 has rows of 250 values, not a multiple of its block of 32" },
    { qk + 4, 384, 8, 0, "'q4_k.random' of type Q4_K has rows of 384 values, not a multiple of its block of 256" },
    { q4 + 4, 288, 8, 0, "overlap" },            /* 9 blocks a row: onto q4_0.random.expected */
    { q4 + 20, 8, 4, 0, "overlap" },             /* Q8_0 blocks are 34 bytes, not 18 */
    { q4 + 12, G_GUINT64_CONSTANT (1) << 40, 8, 0, "'q4_0.random' (158329674399744 bytes at data offset" },
    { q4 + 4, G_GUINT64_CONSTANT (1) << 63, 8, 0, "tensor 'q4_0.random' shape overflows" },
    { 0, 0, 0, 1, "runs past the end of the file" }, /* cut inside the last tensor */
  };
  cases[G_N_ELEMENTS (cases) - 1].cut = len - 100;
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    memcpy (b, orig, len);
    if (cases[i].width)
      put (b, cases[i].at, cases[i].value, cases[i].width);
    g_autofree char *p = tmp_write (t, "bad.gguf", b, cases[i].cut ? cases[i].cut : len);
    g_autoptr (GError) error = NULL;
    g_autoptr (StrataGguf) g = strata_gguf_open (p, &error);
    g_test_message ("case %" G_GSIZE_FORMAT, i);
    g_assert_null (g);
    assert_error (error, "bad.gguf", cases[i].phrase);
  }
}

/* A quantized model whose embedding is IQ2_XS, or whose architecture is unknown: strata_model_open
 * and `strata info` name what they cannot load. */
static void
test_model_unsupported (Tmp *t, gconstpointer data)
{
  gsize len;
  g_autofree guint8 *orig = read_fixture ("stories260K-gguf/stories260K-q4_0.gguf", &len);
  g_autofree guint8 *b = g_memdup2 (orig, len);
  gsize emb = gguf_after_string (orig, len, "token_embd.weight");
  gsize arch_value = gguf_value_of (orig, len, "general.architecture") + 8; /* the string's bytes */
  struct { gsize at; const char *bytes; guint64 type; const char *phrase; } cases[] = {
    { emb + 20, NULL, 17, "tensor 'token_embd.weight' has type IQ2_XS (17), which Strata does not read" },
    { emb + 20, NULL, 16, "tensor 'token_embd.weight' has type IQ2_XXS (16), which Strata does not read" },
    { arch_value, "gemma", 0,
      "general.architecture 'gemma' is not supported (llama, qwen2, gptneox, gemma2, qwen3, olmo2, phi3 are read)" },
  };
  const char *bin = g_getenv ("STRATA_BIN");
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    memcpy (b, orig, len);
    if (cases[i].bytes)
      memcpy (b + cases[i].at, cases[i].bytes, strlen (cases[i].bytes));
    else
      put (b, cases[i].at, cases[i].type, 4);
    g_autofree char *p = tmp_write (t, "odd.gguf", b, len);
    g_autoptr (GError) error = NULL;
    g_autoptr (StrataModel) m = strata_model_open (p, NULL, &error);
    g_assert_null (m);
    assert_error (error, "odd.gguf", cases[i].phrase);
    if (!bin)
      continue;
    const char *argv[] = { bin, "info", p, NULL };
    g_autofree char *out = NULL, *err = NULL;
    int status;
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, NULL));
    g_assert_false (g_spawn_check_wait_status (status, NULL));
    g_test_message ("strata info: %s", err);
    g_assert_nonnull (strstr (err, cases[i].phrase));
  }
}

/* ---- architectures: GGUF against the HF folder it was converted from ---- */

typedef enum {
  SAME_SCALE,    /* the file states what the HF config's scale gives */
  LLAMA_CPP_SCALE, /* gemma2 with query_pre_attn_scalar != head_dim: llama.cpp's head_dim^-1/2 */
} ScaleCase;

typedef struct {
  const char *gguf, *hf, *arch;
  StrataFamily family;
  int rope_dims, parallel, qkv_bias, o_bias, tied;
  const char *pre; /* tokenizer.ggml.pre of a synthetic gpt2 vocabulary without merges, named in
                    * the tokenizer note; NULL: a synthetic SentencePiece vocabulary
                    * (tokenizer.ggml.model 'llama') */
  gboolean norm_plus_one; /* the converter stored 1 + w for the norm weights (Gemma 2) */
  ScaleCase scale;
  gboolean no_space_prefix; /* tokenizer.ggml.add_space_prefix false (Gemma's converter) */
} ArchCase;

static const ArchCase arch_neox = {
  "gguf-arch/neox.gguf", "golden/neox", "gptneox", STRATA_FAMILY_NEOX, 2, 1, 1, 1, 0, "gpt-2",
};
static const ArchCase arch_neox_seq = {
  "gguf-arch/neox-seq-f16.gguf", "golden/neox-seq-f16", "gptneox", STRATA_FAMILY_NEOX, 4, 0, 1, 1, 0, "gpt-2",
};
static const ArchCase arch_qwen2 = {
  "gguf-arch/qwen2-bias.gguf", "golden/qwen2-bias", "qwen2", STRATA_FAMILY_LLAMA, 8, 0, 1, 0, 1, "qwen2",
};
static const ArchCase arch_gemma2 = {
  "gguf-arch/gemma2-headdim.gguf", "golden/gemma2-headdim", "gemma2", STRATA_FAMILY_GEMMA2, 16, 0, 0, 0, 1, NULL, TRUE,
  SAME_SCALE, TRUE,
};
static const ArchCase arch_gemma2_scalar = {
  "gguf-arch/gemma2-window.gguf", "golden/gemma2-window", "gemma2", STRATA_FAMILY_GEMMA2, 16, 0, 0, 0, 1, NULL, TRUE,
  LLAMA_CPP_SCALE, TRUE,
};
static const ArchCase arch_qwen3 = {
  "gguf-arch/qwen3-qknorm.gguf", "golden/qwen3-qknorm", "qwen3", STRATA_FAMILY_QWEN3, 16, 0, 0, 0, 1, "qwen2",
};
static const ArchCase arch_olmo2 = {
  "gguf-arch/olmo2-postnorm.gguf", "golden/olmo2-postnorm", "olmo2", STRATA_FAMILY_OLMO2, 8, 0, 0, 0, 0, "dbrx",
};
static const ArchCase arch_phi3 = {
  "gguf-arch/phi3-fused.gguf", "golden/phi3-fused", "phi3", STRATA_FAMILY_PHI3, 8, 0, 0, 0, 0, NULL,
};

typedef struct {
  StrataWeightTensor t;
  char name[64];
} SavedTensor;

static int
collect_cb (StrataWeightTensor *t, void *user)
{
  SavedTensor s = { *t };
  g_strlcpy (s.name, t->name, sizeof s.name);
  g_array_append_val ((GArray *) user, s);
  return 0;
}

static gboolean
is_norm_weight (const char *name)
{
  return g_str_has_suffix (name, "norm1_w") || g_str_has_suffix (name, "norm2_w") ||
         g_str_has_suffix (name, "_post_w") || g_str_has_suffix (name, "norm_f_w");
}

/* The same tensors, bit for bit; with norm_plus_one, each norm weight of `gguf` is the float
 * 1 + w of `hf`'s (the converter's float32 sum, which the (1 + w) norm kernel also forms). */
static void
assert_same_weights (StrataWeights *gguf, StrataWeights *hf, gboolean norm_plus_one)
{
  g_autoptr (GArray) ta = g_array_new (FALSE, FALSE, sizeof (SavedTensor));
  g_autoptr (GArray) tb = g_array_new (FALSE, FALSE, sizeof (SavedTensor));
  strata_weights_visit (gguf, collect_cb, ta);
  strata_weights_visit (hf, collect_cb, tb);
  g_assert_cmpuint (ta->len, ==, tb->len);
  int n_norms = 0;
  for (guint i = 0; i < ta->len; i++) {
    SavedTensor *x = &g_array_index (ta, SavedTensor, i), *y = &g_array_index (tb, SavedTensor, i);
    g_assert_cmpstr (x->name, ==, y->name);
    g_assert_cmpuint (x->t.rows, ==, y->t.rows);
    g_assert_cmpuint (x->t.cols, ==, y->t.cols);
    gsize n = x->t.rows * x->t.cols;
    const float *pa = x->t.matrix ? x->t.mat->data : *x->t.vec, *pb = y->t.matrix ? y->t.mat->data : *y->t.vec;
    g_autofree float *want = g_memdup2 (pb, n * sizeof (float));
    if (norm_plus_one && is_norm_weight (x->name)) {
      for (gsize j = 0; j < n; j++)
        want[j] = 1.0f + want[j];
      n_norms++;
    }
    if (memcmp (pa, want, n * sizeof (float)) != 0)
      g_test_fail_printf ("tensor %s differs between GGUF and HF", x->name);
  }
  if (norm_plus_one) /* 4 a layer and the final one */
    g_assert_cmpint (n_norms, ==, 4 * gguf->cfg.n_layers + 1);
}

/* `strata info FILE` names the architecture. */
static void
check_info (const char *rel, const char *arch)
{
  const char *bin = g_getenv ("STRATA_BIN");
  if (!bin)
    return;
  g_autofree char *p = data_path (rel);
  const char *argv[] = { bin, "info", p, NULL };
  g_autofree char *out = NULL, *err = NULL;
  int status;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, NULL));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_autofree char *line = g_strdup_printf ("architecture   %s (family ", arch);
  if (!strstr (out, line))
    g_test_fail_printf ("strata info %s does not say '%s':\n%s", rel, line, out);
}

static void
test_arch (gconstpointer data)
{
  const ArchCase *ac = data;
  g_autoptr (StrataModel) gg = open_model (ac->gguf);
  g_autoptr (StrataModel) hf = open_model (ac->hf);
  const StrataConfig *a = &gg->weights->cfg, *b = &hf->weights->cfg;
  const StrataRecipe *r = &a->recipe, *h = &b->recipe;

  g_assert_cmpint (gg->format, ==, STRATA_FORMAT_GGUF);
  g_assert_cmpstr (gg->arch, ==, ac->arch);
  g_assert_cmpint (gg->dtype, ==, hf->dtype);
  g_assert_cmpint (a->family, ==, ac->family);
  g_assert_cmpint (r->rope.pairing, ==, STRATA_ROPE_HALF); /* llama.cpp: NEOX rope for all of them */
  g_assert_cmpint (r->rope.dims, ==, ac->rope_dims);
  g_assert_cmpint (r->parallel, ==, ac->parallel);
  g_assert_cmpint (r->qkv_bias, ==, ac->qkv_bias);
  g_assert_cmpint (r->o_bias, ==, ac->o_bias);
  g_assert_cmpint (r->tied, ==, ac->tied);
  /* Every size and recipe field as the HF loader reads config.json, but for the norm kind and
   * the scale where the file format says otherwise. */
  g_assert_cmpint (a->n_layers, ==, b->n_layers);
  g_assert_cmpint (a->d_model, ==, b->d_model);
  g_assert_cmpint (a->n_heads, ==, b->n_heads);
  g_assert_cmpint (a->n_kv_heads, ==, b->n_kv_heads);
  g_assert_cmpint (a->d_head, ==, b->d_head);
  g_assert_cmpint (a->d_mlp, ==, b->d_mlp);
  g_assert_cmpint (a->vocab, ==, b->vocab);
  g_assert_cmpint (a->n_ctx, ==, b->n_ctx);
  if (ac->norm_plus_one) {
    g_assert_cmpint (h->norm.kind, ==, STRATA_NORM_RMSNORM_UNIT_OFFSET);
    g_assert_cmpint (r->norm.kind, ==, STRATA_NORM_RMSNORM);
  } else {
    g_assert_cmpint (r->norm.kind, ==, h->norm.kind);
  }
  g_assert_cmpfloat (r->norm.eps, ==, h->norm.eps);
  g_assert_cmpint (r->act, ==, h->act);
  g_assert_cmpint (r->gated, ==, h->gated);
  g_assert_cmpint (r->parallel, ==, h->parallel);
  g_assert_cmpint (r->pre_norms, ==, h->pre_norms);
  g_assert_cmpint (r->post_norms, ==, h->post_norms);
  g_assert_cmpint (r->qk_norm, ==, h->qk_norm);
  g_assert_cmpint (r->learned_pos, ==, h->learned_pos);
  g_assert_cmpint (r->rope.pairing, ==, h->rope.pairing);
  g_assert_cmpint (r->rope.dims, ==, h->rope.dims);
  g_assert_cmpfloat (r->rope.theta, ==, h->rope.theta);
  if (ac->scale == LLAMA_CPP_SCALE) {
    g_assert_cmpfloat (r->attn.scale, ==, 1.0f / sqrtf ((float) a->d_head));
    g_assert_cmpfloat (fabs (h->attn.scale - r->attn.scale), >, 1e-3);
  } else {
    g_assert_cmpfloat (r->attn.scale, ==, h->attn.scale);
  }
  g_assert_cmpfloat (r->attn.softcap, ==, h->attn.softcap);
  g_assert_cmpint (r->attn.window, ==, h->attn.window);
  for (int l = 0; l < a->n_layers; l++)
    g_assert_cmpint (strata_config_layer_attention (a, l).window, ==, strata_config_layer_attention (b, l).window);
  g_assert_cmpfloat (r->final_softcap, ==, h->final_softcap);
  g_assert_cmpfloat (r->embed_scale, ==, h->embed_scale);
  g_assert_cmpint (r->qkv_bias, ==, h->qkv_bias);
  g_assert_cmpint (r->o_bias, ==, h->o_bias);
  g_assert_cmpint (r->mlp_bias, ==, h->mlp_bias);
  g_assert_cmpint (r->unembed_bias, ==, h->unembed_bias);
  g_assert_cmpint (r->tied, ==, h->tied);
  assert_same_weights (gg->weights, hf->weights, ac->norm_plus_one);
  check_info (ac->gguf, ac->arch);

  g_autoptr (GError) error = NULL;
  if (ac->pre) {
    /* The synthetic BPE vocabularies have no merges (llama.cpp refuses them) and 'dbrx' is a
     * pre-tokenizer Strata does not know: no tokenizer, and the model says why
     * (tests/test-gguf-vocab.c has the real conversions). */
    g_assert_null (gg->tokenizer);
    g_assert_false (gg->add_bos);
    g_assert_nonnull (gg->tokenizer_note);
    g_test_message ("tokenizer note: %s", gg->tokenizer_note);
    g_assert_nonnull (strstr (gg->tokenizer_note, "'gpt2'"));
    g_assert_nonnull (strstr (gg->tokenizer_note, ac->pre));
    g_assert_nonnull (strstr (gg->tokenizer_note, strcmp (ac->pre, "dbrx") == 0 ? "does not know" : "has no merges"));
    g_assert_null (strata_model_encode (gg, "hello", &error));
    g_assert_nonnull (strstr (error->message, gg->tokenizer_note));
    g_clear_error (&error);
  } else {
    /* SentencePiece: built from the file, BOS by llama.cpp's default for it; the text reads
     * as if it began with a space unless the file says add_space_prefix = false (Gemma). The
     * synthetic vocabulary is <unk> <s> </s> '▁' a b c ... with no longer pieces. */
    g_assert_nonnull (gg->tokenizer);
    g_assert_true (gg->add_bos);
    g_assert_cmpint (gg->bos_id, ==, 1);
    g_autoptr (GArray) ids = strata_tokenizer_encode (gg->tokenizer, "ab c", &error);
    g_assert_no_error (error);
    int32_t with_prefix[] = { 3, 4, 5, 3, 6 }, without[] = { 4, 5, 3, 6 };
    if (ac->no_space_prefix)
      g_assert_cmpmem (ids->data, ids->len * sizeof (int32_t), without, sizeof without);
    else
      g_assert_cmpmem (ids->data, ids->len * sizeof (int32_t), with_prefix, sizeof with_prefix);
  }

  /* Same bits as the HF folder, and the float64 golden within the forward tests' 1e-4. */
  g_autofree char *golden_rel = g_build_filename (ac->hf, "golden.safetensors", NULL);
  g_autoptr (StrataGolden) golden = open_golden (golden_rel);
  gsize n_tok, n_logits;
  g_autofree gint32 *tokens = strata_golden_dup_i32 (golden, "tokens", &n_tok, &error);
  g_assert_no_error (error);
  g_autofree float *want = strata_golden_dup_f32 (golden, "logits", &n_logits, &error);
  g_assert_no_error (error);
  int B = 2, T = (int) n_tok / 2, V = a->vocab;
  g_assert_cmpuint (n_logits, ==, (gsize) B * T * V);
  g_autofree float *lg = logits_of (gg, tokens, B, T);
  if (ac->scale == LLAMA_CPP_SCALE) {
    /* query_pre_attn_scalar 12 is not in the file; llama.cpp runs head_dim^-1/2, and so does
     * Strata: the logits are the HF folder's run at that scale, and miss the golden. */
    double miss = max_abs_diff (lg, want, n_logits);
    g_test_message ("%s: max |GGUF - golden| %.2e (llama.cpp's scale 1/sqrt(%d), golden 1/sqrt(12))", ac->gguf,
                    miss, a->d_head);
    g_assert_cmpfloat (miss, >, 1e-2);
    hf->weights->cfg.recipe.attn.scale = r->attn.scale;
  }
  g_autofree float *lh = logits_of (hf, tokens, B, T);
  g_assert_cmpmem (lg, n_logits * sizeof (float), lh, n_logits * sizeof (float));
  if (ac->scale == LLAMA_CPP_SCALE)
    return;
  double err = max_abs_diff (lg, want, n_logits);
  g_test_message ("%s: max |GGUF - golden| %.2e", ac->gguf, err);
  g_assert_cmpfloat (err, <, 1e-4);

  /* The pairing is what makes them agree: the other one misses the golden (with 2 rotary
   * dims, as in `neox`, both pairings rotate the same pair). */
  if (r->rope.dims > 2) {
    gg->weights->cfg.recipe.rope.pairing = STRATA_ROPE_ADJACENT;
    g_autofree float *wrong = logits_of (gg, tokens, B, T);
    g_assert_cmpfloat (max_abs_diff (wrong, want, n_logits), >, 1e-2);
  }
}

/* Gemma 2 with the 27B's 46 layers (a small synthetic file): llama.cpp's (C / H)^-1/2 score
 * scale; and which layers get the window, as gemma2.attention.sliding_window_pattern says it
 * (llama.cpp's set_swa_pattern(n): layers l with n == 0 || l % n < n - 1). */
static void
test_gemma2_layers (Tmp *t, gconstpointer data)
{
  gsize len;
  g_autofree guint8 *orig = read_fixture ("gguf-arch/gemma2-46layers.gguf", &len);
  g_autofree guint8 *b = g_memdup2 (orig, len);
  gsize pattern = gguf_value_of (orig, len, "gemma2.attention.sliding_window_pattern");
  gsize window = gguf_value_of (orig, len, "gemma2.attention.sliding_window");
  struct { gsize at; guint64 value; int want_window, want_period; const char *phrase; } cases[] = {
    { pattern, 2, 4, 2, NULL },  /* as written: layers 0, 2, 4, ... */
    { pattern, 0, 4, 1, NULL },  /* every layer */
    { pattern, 1, 0, 0, NULL },  /* none */
    { window, 0, 0, 0, NULL },   /* no window at all */
    { pattern, 3, 0, 0, "a sliding window on layers 0, 1, 3, 4, 6, 7, 9," },
    { pattern, 4, 0, 0, "(Strata windows every n-th layer from layer 0)" }, /* OLMo-3's */
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    memcpy (b, orig, len);
    put (b, cases[i].at, cases[i].value, 4);
    g_autofree char *p = tmp_write (t, "g46.gguf", b, len);
    g_autoptr (GError) error = NULL;
    g_autoptr (StrataModel) m = strata_model_open (p, NULL, &error);
    g_test_message ("case %" G_GSIZE_FORMAT, i);
    if (cases[i].phrase) {
      g_assert_null (m);
      assert_error (error, "g46.gguf", cases[i].phrase);
      continue;
    }
    g_assert_no_error (error);
    const StrataConfig *c = &m->weights->cfg;
    g_assert_cmpint (c->n_layers, ==, 46);
    g_assert_cmpint (c->d_head, ==, 8);
    g_assert_cmpfloat (c->recipe.attn.scale, ==, 1.0f / sqrtf (8.0f / 2.0f)); /* not 1/sqrt(D) */
    for (int l = 0; l < c->n_layers; l++) {
      int swa = cases[i].want_window && l % cases[i].want_period == 0;
      g_assert_cmpint (strata_config_layer_attention (c, l).window, ==, swa ? cases[i].want_window : 0);
    }
  }
}

/* Phi-3's long-context rope factors (tensor rope_factors_long/short.weight) are refused by name
 * (the file here has one of them instead of blk.0.attn_output.weight, a name of the same length). */
static void
test_phi3_longrope (Tmp *t, gconstpointer data)
{
  gsize len;
  g_autofree guint8 *b = read_fixture ("gguf-arch/phi3-fused.gguf", &len);
  guint8 *at = memmem (b, len, "blk.0.attn_output.weight", 24);
  g_assert_nonnull (at);
  memcpy (at, "rope_factors_long.weight", 24);
  g_autofree char *p = tmp_write (t, "long.gguf", b, len);
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) m = strata_model_open (p, NULL, &error);
  g_assert_null (m);
  assert_error (error, "long.gguf",
                "tensor 'rope_factors_long.weight' (Phi-3 long-context rope scaling, LongRoPE) is not supported");
}

/* ---- stories260K quantized ---- */

typedef struct {
  const char *file, *golden, *type;
  double bound; /* max |logits - F32 logits| allowed, from the measured value */
  gboolean greedy_as_f32;
  StrataDType dtype; /* of `type` */
} StoriesCase;

/* max |logits - F32 logits| over the 16 golden positions x 512, measured by this test (and
 * by gguf_quantize_stories.py in float64): Q8_0 0.213, Q4_0 4.51, on logits up to 20.5. The
 * bounds leave ~20% above the measurement. */
static const StoriesCase stories_q8 = {
  "stories260K-gguf/stories260K-q8_0.gguf", "golden/stories260K-q8_0-logits.safetensors", "Q8_0", 0.25, TRUE,
  STRATA_DTYPE_Q8_0,
};
static const StoriesCase stories_q4 = {
  "stories260K-gguf/stories260K-q4_0.gguf", "golden/stories260K-q4_0-logits.safetensors", "Q4_0", 5.5, FALSE,
  STRATA_DTYPE_Q4_0,
};

static void
check_greedy_from_bos (const StrataModel *m, const gint32 *want, gsize n)
{
  int V = m->weights->cfg.vocab;
  g_autofree gint32 *ids = g_new (gint32, n + 1);
  ids[0] = 1; /* BOS */
  for (gsize t = 1; t <= n; t++) {
    g_autofree float *logits = logits_of (m, ids, 1, (int) t);
    const float *last = logits + (t - 1) * (gsize) V;
    int best = 0;
    for (int v = 1; v < V; v++)
      if (last[v] > last[best])
        best = v;
    ids[t] = best;
    if (best != want[t - 1]) {
      g_test_fail_printf ("greedy step %" G_GSIZE_FORMAT ": token %d, reference %d", t, best, want[t - 1]);
      return;
    }
  }
}

/* The same file with its matrices kept as stored (STRATA_MATRICES_STORED): each matrix holds
 * the file's blocks (or F16 rows) byte for byte, the arena is the quantized size, and an
 * engine that may not convert (the CPU decoding rows per product) gives the logits of the
 * load that decoded everything to F32, to the BLAS's blocking; in host memory and on a
 * stand-in device alike. */
static void
check_kept_quantized (const StoriesCase *sc, const StrataModel *decoded, const float *want, const gint32 *tokens,
                      int T)
{
  g_autofree char *path = data_path (sc->file);
  g_autoptr (GError) error = NULL;
  StrataDType q = sc->dtype;
  const StrataBackend *devices[] = { NULL, strata_backend_cpu_as_device () };
  for (gsize d = 0; d < G_N_ELEMENTS (devices); d++) {
    StrataOpenOptions o = { NULL, STRATA_MATRICES_STORED, devices[d] };
    g_autoptr (StrataModel) kept = strata_model_open_with (path, &o, &error);
    g_assert_no_error (error);
    const StrataWeights *w = kept->weights;
    g_assert_cmpuint (strata_weights_matrix_dtypes (w), ==, 1u << q | 1u << STRATA_DTYPE_F16);
    g_assert_cmpint (w->layers[0].w_down.dtype, ==, STRATA_DTYPE_F16); /* rows of 172: not blocks */
    g_assert_cmpint (w->tok_embed.dtype, ==, q);
    g_assert_cmpuint (strata_weights_param_count (w), ==, strata_weights_param_count (decoded->weights));
    g_assert_cmpuint (w->arena_bytes * 3, <, decoded->weights->arena_bytes);
    if (!devices[d]) { /* the bytes are the file's */
      g_autoptr (StrataGguf) g = strata_gguf_open (path, &error);
      g_assert_no_error (error);
      const StrataTensorInfo *t = strata_gguf_lookup_tensor (g, "blk.1.attn_v.weight");
      g_assert_cmpmem (w->layers[1].w_v.data, t->n_bytes, t->data, t->n_bytes);
    }
    StrataEngineOptions eo = { .convert_limit = 1 }; /* no F32 copy is affordable */
    StrataStatus st;
    const StrataBackend *be = devices[d] ? devices[d] : strata_backend_cpu ();
    StrataEngine *e = strata_engine_new_with (be, w, &eo, &st);
    g_assert_cmpint (st, ==, STRATA_OK);
    g_assert_true (strata_engine_converts_per_product (e));
    gsize n = (gsize) T * w->cfg.vocab;
    g_autofree float *logits = g_new (float, n);
    g_assert_cmpint (strata_engine_forward (e, tokens, 1, T, NULL, logits), ==, STRATA_OK);
    strata_engine_free (e);
    double diff = max_abs_diff (logits, want, n);
    g_test_message ("%s kept as %s (%.0f KB, decoded %.0f KB)%s: max |diff| %.2e against the decoded load", sc->file,
                    sc->type, w->arena_bytes / 1e3, decoded->weights->arena_bytes / 1e3,
                    devices[d] ? " on cpu-as-device" : "", diff);
    g_assert_cmpfloat (diff, <=, 1e-5);
  }
}

static void
test_stories (gconstpointer data)
{
  const StoriesCase *sc = data;
  g_autoptr (StrataModel) q = open_model (sc->file);
  g_autoptr (StrataModel) f32 = open_model (STORIES);
  g_autoptr (GError) error = NULL;

  g_assert_cmpstr (q->arch, ==, "llama");
  g_assert_cmpint (q->dtype, ==, sc->dtype); /* the type of most matrices (ffn_down is F16) */
  g_autofree char *types = g_strdup_printf ("%s ×31, F32 ×11, F16 ×5", sc->type);
  g_assert_cmpstr (q->stored_types, ==, types);
  g_assert_true (q->weights->cfg.recipe.tied); /* output.weight, a copy of the embedding, left out */
  g_assert_cmpint (q->weights->cfg.recipe.rope.pairing, ==, STRATA_ROPE_ADJACENT);
  g_assert_nonnull (q->tokenizer); /* the SentencePiece vocabulary, copied over */
  g_assert_true (q->add_bos);

  g_autoptr (StrataGolden) golden = open_golden (sc->golden);
  gsize n_tok, n_logits, n_greedy;
  g_autofree gint32 *tokens = strata_golden_dup_i32 (golden, "tokens", &n_tok, &error);
  g_assert_no_error (error);
  g_autofree float *want = strata_golden_dup_f32 (golden, "logits", &n_logits, &error);
  g_assert_no_error (error);
  g_autofree gint32 *greedy = strata_golden_dup_i32 (golden, "greedy", &n_greedy, &error);
  g_assert_no_error (error);
  int T = (int) n_tok;
  g_autofree float *lq = logits_of (q, tokens, 1, T);
  g_autofree float *lf = logits_of (f32, tokens, 1, T);

  /* What the file holds, exactly: a float64 forward over gguf-py's dequantization. */
  double err = max_abs_diff (lq, want, n_logits);
  /* What quantization costs, against the F32 original. */
  double cost = max_abs_diff (lq, lf, n_logits), mean = 0;
  int V = q->weights->cfg.vocab, same_top = 0;
  for (gsize i = 0; i < n_logits; i++)
    mean += fabs ((double) lq[i] - (double) lf[i]) / (double) n_logits;
  for (int t = 0; t < T; t++) {
    int bq = 0, bf = 0;
    for (int v = 1; v < V; v++) {
      bq = lq[t * V + v] > lq[t * V + bq] ? v : bq;
      bf = lf[t * V + v] > lf[t * V + bf] ? v : bf;
    }
    same_top += bq == bf;
  }
  g_test_message ("%s: max |Strata - float64 reference| %.2e; |%s - F32| max %.4f (bound %.2f), mean %.4f; "
                  "same top-1 at %d of %d positions", sc->file, err, sc->type, cost, sc->bound, mean, same_top, T);
  g_assert_cmpfloat (err, <, 1e-4);
  g_assert_cmpfloat (cost, <, sc->bound);
  g_assert_cmpfloat (cost, >, 1e-3); /* the file is really quantized */

  check_greedy_from_bos (q, greedy, n_greedy);
  check_kept_quantized (sc, q, lq, tokens, T);
  if (sc->greedy_as_f32) {
    /* Q8_0 keeps all 40 greedy tokens of the F32 model (stories260k_reference.py). */
    g_autoptr (StrataGolden) f32_golden = open_golden ("golden/stories260K-logits.safetensors");
    gsize n;
    g_autofree gint32 *f32_greedy = strata_golden_dup_i32 (f32_golden, "greedy", &n, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (n, ==, n_greedy);
    g_assert_cmpmem (greedy, n * sizeof (gint32), f32_greedy, n * sizeof (gint32));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const char *const types[] = { "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K",
                                       "Q2_K", "Q3_K", "IQ4_NL", "IQ4_XS" };
  for (gsize i = 0; i < G_N_ELEMENTS (types); i++) {
    g_autofree char *path = g_strdup_printf ("/data/gguf/quants/%s", types[i]);
    g_test_add_data_func (path, types[i], test_quants);
  }
  g_test_add ("/data/gguf/quants/malformed", Tmp, NULL, tmp_setup, test_quants_malformed, tmp_teardown);
  g_test_add ("/data/gguf/model/unsupported", Tmp, NULL, tmp_setup, test_model_unsupported, tmp_teardown);
  g_test_add_data_func ("/data/gguf/arch/gptneox", &arch_neox, test_arch);
  g_test_add_data_func ("/data/gguf/arch/gptneox-sequential-f16", &arch_neox_seq, test_arch);
  g_test_add_data_func ("/data/gguf/arch/qwen2", &arch_qwen2, test_arch);
  g_test_add_data_func ("/data/gguf/arch/gemma2", &arch_gemma2, test_arch);
  g_test_add_data_func ("/data/gguf/arch/gemma2-query-pre-attn-scalar", &arch_gemma2_scalar, test_arch);
  g_test_add_data_func ("/data/gguf/arch/qwen3", &arch_qwen3, test_arch);
  g_test_add_data_func ("/data/gguf/arch/olmo2", &arch_olmo2, test_arch);
  g_test_add_data_func ("/data/gguf/arch/phi3", &arch_phi3, test_arch);
  g_test_add ("/data/gguf/arch/gemma2-46-layers", Tmp, NULL, tmp_setup, test_gemma2_layers, tmp_teardown);
  g_test_add ("/data/gguf/arch/phi3-longrope", Tmp, NULL, tmp_setup, test_phi3_longrope, tmp_teardown);
  g_test_add_data_func ("/data/gguf/stories/q8_0", &stories_q8, test_stories);
  g_test_add_data_func ("/data/gguf/stories/q4_0", &stories_q4, test_stories);
  return g_test_run ();
}
