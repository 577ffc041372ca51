/* strata-gguf-model.c: a GGUF checkpoint (llama.cpp's layout) -> StrataWeights, and its
 * embedded tokenizer (SentencePiece "llama" vocabularies: strata-tokenizer-spm.c; byte-level
 * BPE "gpt2" ones as their tokenizer.json: strata-tokenizer-gguf.c).
 *
 * general.architecture picks a row of `architectures`: the prefix of its metadata keys (the
 * architecture name itself, as llama.cpp's LLM_KV names them), its family preset and the
 * recipe fields the file format fixes or llama.cpp reads for that architecture alone (fused
 * tensors, norm weights stored as 1 + w, soft-caps, which layers get the sliding window, a
 * score scale). The sizes come from the same keys for every
 * architecture (<arch>.embedding_length, .block_count, .attention.head_count, ...). Which
 * optional tensors exist (biases, a separate output matrix) is read from the file, as
 * llama.cpp does, and recorded in the recipe; every tensor of the file must then be used, so
 * nothing the model holds is silently dropped.
 *
 * Tensor names are llama.cpp's (llm_tensor_names), the same strings for every architecture:
 * one table (`gguf_names`) maps each tensor of Strata's weight table to its GGUF name (or to
 * its rows of a fused attn_qkv / ffn_up), and the recipe decides which exist. Tensors are
 * dequantized or converted to F32 as they are copied into the arena (strata-gguf-quants.c). */
#include <math.h>
#include <string.h>

#include "strata-data-error.h"
#include "strata-gguf-quants.h"
#include "strata-gguf.h"
#include "strata-model-private.h"
#include "strata-weights-device.h"

/* Where an architecture puts its sliding window (<arch>.attention.sliding_window). */
typedef enum {
  WINDOW_NONE,    /* llama.cpp reads no window for the architecture */
  WINDOW_PATTERN, /* on the layers of llama.cpp's pattern (swa_pattern, or the file's
                   * <arch>.attention.sliding_window_pattern) */
} WindowKind;

typedef struct {
  const char *arch;      /* general.architecture, and the prefix of its metadata keys */
  StrataFamily family;   /* recipe preset: norm kind, activation, gating, post/q-k norms, ... */
  StrataRope rope;       /* llama.cpp's rope type for the arch: NORM = adjacent, NEOX = half */
  gboolean fused_qkv;    /* blk.N.attn_qkv holds the rows of W_Q, W_K and W_V in turn */
  gboolean fused_gate_up; /* blk.N.ffn_up holds the rows of W_gate, then those of W_up: (2F, C) */
  gboolean parallel_key; /* <arch>.use_parallel_residual (default true) sets `parallel` */
  gboolean norm_plus_one; /* the converter stored 1 + w for every norm weight: plain RMSNorm */
  gboolean softcaps;     /* <arch>.attn_logit_softcapping and .final_logit_softcapping (default:
                          * the preset's), as llama.cpp's gemma2 reads them */
  WindowKind window;
  int swa_pattern;       /* llama.cpp's set_swa_pattern(n): the window on layers l with
                          * n == 0 || l % n < n - 1 */
  int width_scale_layers; /* a model of this many layers scales scores by (C / H)^-1/2, not
                           * D^-1/2 (llama.cpp's rule for Gemma 2 27B); 0: never */
  gboolean add_bos;      /* BOS when the file embeds no vocabulary to say (llama.cpp: SPM yes, BPE no) */
} GgufArch;

static const GgufArch architectures[] = {
  /* llama.cpp's converter permutes the W_Q/W_K rows of HF Llama checkpoints back to Meta's
   * layout, and runs `llama` with LLAMA_ROPE_TYPE_NORM: adjacent pairs (2i, 2i+1). */
  { .arch = "llama", .family = STRATA_FAMILY_LLAMA, .rope = STRATA_ROPE_ADJACENT, .add_bos = TRUE },
  /* Qwen2: weights as in HF (no permutation), LLAMA_ROPE_TYPE_NEOX = rotate_half; its q/k/v
   * biases are tensors of the file. */
  { .arch = "qwen2", .family = STRATA_FAMILY_LLAMA, .rope = STRATA_ROPE_HALF },
  /* GPT-NeoX (Pythia): convert_hf_to_gguf.py regroups query_key_value's per-head [q_h; k_h;
   * v_h] rows into [W_Q; W_K; W_V] (attn_qkv), no permutation; NEOX rope on the first
   * rope.dimension_count values of each head; LayerNorms with biases. The activation is the
   * preset's exact-erf GELU of transformers' GPTNeoX `hidden_act: gelu` (the files do not
   * name it; llama.cpp runs ggml_gelu, the tanh approximation, instead). */
  { .arch = "gptneox", .family = STRATA_FAMILY_NEOX, .rope = STRATA_ROPE_HALF, .fused_qkv = TRUE,
    .parallel_key = TRUE },
  /* Gemma 2: the converter adds 1 to every norm weight (Gemma's gain 1 + w, in float32), and
   * llama.cpp runs plain RMSNorm on them; GeGLU (tanh GELU), embedding × √C, tied (lm_head is
   * left out), NEOX rope, both soft-caps. The window (default 4096) is on layers 0, 2, 4, ...
   * (set_swa_pattern(2)), as in transformers. The file has no query_pre_attn_scalar: llama.cpp
   * scales scores by head_dim^-1/2, and by (n_embd / n_head)^-1/2 when the model has the 27B's
   * 46 layers (gemma_pytorch's config), which is what Strata does; for a checkpoint whose
   * scalar is neither, transformers and the GGUF differ. */
  { .arch = "gemma2", .family = STRATA_FAMILY_GEMMA2, .rope = STRATA_ROPE_HALF, .norm_plus_one = TRUE,
    .softcaps = TRUE, .window = WINDOW_PATTERN, .swa_pattern = 2, .width_scale_layers = 46 },
  /* Qwen3: per-head RMS q/k norms (attn_q_norm, attn_k_norm of D values) before NEOX rope;
   * attention.key_length gives D; output.weight absent when tied. */
  { .arch = "qwen3", .family = STRATA_FAMILY_QWEN3, .rope = STRATA_ROPE_HALF },
  /* OLMo-2: no pre-norms, post_attention_norm and post_ffw_norm on the sublayer outputs, q/k
   * RMS norms over all H*D (K*D) values; NEOX rope. The same arch holds OLMo-3, whose window
   * (every layer but each fourth) the recipe cannot run and which is refused. */
  { .arch = "olmo2", .family = STRATA_FAMILY_OLMO2, .rope = STRATA_ROPE_HALF, .window = WINDOW_PATTERN,
    .swa_pattern = 4 },
  /* Phi-3: attn_qkv and ffn_up fused as in HF's qkv_proj and gate_up_proj, NEOX rope on
   * rope.dimension_count values. sliding_window (0: none) applies to every layer as
   * transformers runs it and as Strata opens the HF folder; llama.cpp switches Phi-3's window
   * off at present (ggml-org/llama.cpp#13676), so for sequences longer than the window the
   * two differ. The long-context rope factors (rope_factors_long/short) are refused. */
  { .arch = "phi3", .family = STRATA_FAMILY_PHI3, .rope = STRATA_ROPE_HALF, .fused_qkv = TRUE,
    .fused_gate_up = TRUE, .window = WINDOW_PATTERN, .swa_pattern = 0 },
};

/* Which fused GGUF tensor holds a Strata tensor, when the architecture fuses it. */
typedef enum { OWN, IN_QKV, IN_GATE_UP } Fused;

/* Strata's weight table names (strata_weights_visit) -> llama.cpp's. `part` is the row block
 * of the fused tensor (attn_qkv: 0 q, 1 k, 2 v; ffn_up: 0 gate, 1 up) that an architecture
 * fusing it reads instead. */
static const struct {
  const char *strata, *gguf;
  Fused fused;
  int part;
} gguf_names[] = {
  { "tok_embed", "token_embd.weight" },                 { "pos_embed", "position_embd.weight" },
  { "norm1_w", "attn_norm.weight" },                    { "norm1_b", "attn_norm.bias" },
  { "w_q", "attn_q.weight", IN_QKV, 0 },                { "b_q", "attn_q.bias", IN_QKV, 0 },
  { "w_k", "attn_k.weight", IN_QKV, 1 },                { "b_k", "attn_k.bias", IN_QKV, 1 },
  { "w_v", "attn_v.weight", IN_QKV, 2 },                { "b_v", "attn_v.bias", IN_QKV, 2 },
  { "q_norm_w", "attn_q_norm.weight" },                 { "q_norm_b", "attn_q_norm.bias" },
  { "k_norm_w", "attn_k_norm.weight" },                 { "k_norm_b", "attn_k_norm.bias" },
  { "w_o", "attn_output.weight" },                      { "b_o", "attn_output.bias" },
  { "attn_post_w", "post_attention_norm.weight" },      { "attn_post_b", "post_attention_norm.bias" },
  { "norm2_w", "ffn_norm.weight" },                     { "norm2_b", "ffn_norm.bias" },
  { "w_gate", "ffn_gate.weight", IN_GATE_UP, 0 },       { "b_gate", "ffn_gate.bias", IN_GATE_UP, 0 },
  { "w_up", "ffn_up.weight", IN_GATE_UP, 1 },           { "b_up", "ffn_up.bias", IN_GATE_UP, 1 },
  { "w_down", "ffn_down.weight" },                      { "b_down", "ffn_down.bias" },
  { "mlp_post_w", "post_ffw_norm.weight" },             { "mlp_post_b", "post_ffw_norm.bias" },
  { "norm_f_w", "output_norm.weight" },                 { "norm_f_b", "output_norm.bias" },
  { "unembed", "output.weight" },                       { "b_unembed", "output.bias" },
};

/* Tensors of scaled RoPE variants, refused by name before anything is loaded. */
static const struct {
  const char *tensor, *what;
} refused_tensors[] = {
  { "rope_freqs.weight", "Llama 3 rope scaling" },
  { "rope_factors_long.weight", "Phi-3 long-context rope scaling, LongRoPE" },
  { "rope_factors_short.weight", "Phi-3 long-context rope scaling, LongRoPE" },
};

#define FAIL(code, ...)                                                            \
  G_STMT_START                                                                     \
  {                                                                                \
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_##code, __VA_ARGS__); \
    return FALSE;                                                                  \
  }                                                                                \
  G_STMT_END

/* "<arch>.<key>", for the metadata of the architecture. */
static char *
arch_key (const GgufArch *a, const char *key)
{
  return g_strconcat (a->arch, ".", key, NULL);
}

/* An integer key of the architecture that must be a positive int (sizes). */
static gboolean
get_size (StrataGguf *g, const GgufArch *a, const char *key, gboolean required, gint64 fallback, int *out,
          GError **error)
{
  g_autofree char *k = arch_key (a, key);
  gint64 v;
  if (!strata_gguf_get_int (g, k, required, fallback, &v, error))
    return FALSE;
  if (v <= 0 || v > G_MAXINT32)
    FAIL (FORMAT, "%s: key '%s' = %" G_GINT64_FORMAT " is not a positive size", strata_gguf_get_source (g), k, v);
  *out = (int) v;
  return TRUE;
}

static gboolean
get_float (StrataGguf *g, const GgufArch *a, const char *key, gboolean required, double fallback, double *out,
           GError **error)
{
  g_autofree char *k = arch_key (a, key);
  return strata_gguf_get_float (g, k, required, fallback, out, error);
}

static gboolean
has_tensor (StrataGguf *g, const char *name)
{
  return strata_gguf_lookup_tensor (g, name) != NULL;
}

static const GgufArch *
find_arch (StrataGguf *g, GError **error)
{
  const char *src = strata_gguf_get_source (g);
  GError *e = NULL;
  const char *arch = strata_gguf_get_string (g, "general.architecture", &e);
  if (e) {
    g_propagate_error (error, e);
    return NULL;
  }
  for (gsize i = 0; arch && i < G_N_ELEMENTS (architectures); i++)
    if (strcmp (arch, architectures[i].arch) == 0)
      return &architectures[i];
  g_autoptr (GString) known = g_string_new (NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (architectures); i++)
    g_string_append_printf (known, "%s%s", i ? ", " : "", architectures[i].arch);
  if (!arch)
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: missing key 'general.architecture'", src);
  else
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                 "%s: general.architecture '%s' is not supported (%s are read)", src, arch, known->str);
  return NULL;
}

/* What Strata's recipe cannot run, refused by name before anything is loaded. */
static gboolean
refuse_unsupported (StrataGguf *g, const GgufArch *a, GError **error)
{
  const char *src = strata_gguf_get_source (g);
  g_autofree char *scaling = arch_key (a, "rope.scaling.type");
  g_autofree char *experts = arch_key (a, "expert_count");
  GError *e = NULL;
  const char *type = strata_gguf_get_string (g, scaling, &e);
  gint64 n_experts;
  if (e) {
    g_propagate_error (error, e);
    return FALSE;
  }
  if (type && strcmp (type, "none") != 0)
    FAIL (UNSUPPORTED, "%s: rope scaling '%s' (%s) is not supported", src, type, scaling);
  for (gsize i = 0; i < G_N_ELEMENTS (refused_tensors); i++)
    if (has_tensor (g, refused_tensors[i].tensor))
      FAIL (UNSUPPORTED, "%s: tensor '%s' (%s) is not supported", src, refused_tensors[i].tensor,
            refused_tensors[i].what);
  if (!strata_gguf_get_int (g, experts, FALSE, 0, &n_experts, error))
    return FALSE;
  if (n_experts > 0)
    FAIL (UNSUPPORTED, "%s: %s = %" G_GINT64_FORMAT ": mixture-of-experts models are not supported", src, experts,
          n_experts);
  return TRUE;
}

/* Which layers llama.cpp windows: <arch>.attention.sliding_window_pattern when the file has
 * it (one bool per layer, or the n of set_swa_pattern), else the row's n. */
static gboolean
window_layers (StrataGguf *g, const GgufArch *a, int n_layers, gboolean *swa, GError **error)
{
  const char *src = strata_gguf_get_source (g);
  g_autofree char *key = arch_key (a, "attention.sliding_window_pattern");
  const StrataGgufValue *v = strata_gguf_lookup (g, key);
  gint64 n = a->swa_pattern;
  if (v && v->type == STRATA_GGUF_ARRAY) {
    if (v->n != (guint64) n_layers || v->elem_type == STRATA_GGUF_STRING || !v->elems)
      FAIL (FORMAT, "%s: key '%s' must hold one bool for each of the %d layers", src, key, n_layers);
    for (int l = 0; l < n_layers; l++)
      swa[l] = strata_gguf_array_get_double (v, (guint64) l) != 0;
    return TRUE;
  }
  if (!strata_gguf_get_int (g, key, FALSE, a->swa_pattern, &n, error))
    return FALSE;
  if (n < 0 || n > G_MAXINT32)
    FAIL (FORMAT, "%s: key '%s' = %" G_GINT64_FORMAT " is not a layer count", src, key, n);
  for (int l = 0; l < n_layers; l++)
    swa[l] = n == 0 || l % n < n - 1;
  return TRUE;
}

/* The sliding window: <arch>.attention.sliding_window (absent: the preset's; 0: none) on the
 * layers llama.cpp windows, which must be every period-th layer from layer 0 for the recipe
 * to run them (strata_config_layer_attention); any other pattern is refused. Query i sees key
 * j when i - j < window, in llama.cpp (LLAMA_SWA_TYPE_STANDARD) as in transformers. */
static gboolean
read_window (StrataGguf *g, const GgufArch *a, StrataConfig *cfg, GError **error)
{
  const char *src = strata_gguf_get_source (g);
  StrataRecipe *r = &cfg->recipe;
  g_autofree char *key = arch_key (a, "attention.sliding_window");
  gint64 window;
  if (a->window == WINDOW_NONE)
    return TRUE;
  if (!strata_gguf_get_int (g, key, FALSE, r->attn.window, &window, error))
    return FALSE;
  if (window < 0 || window > G_MAXINT32)
    FAIL (FORMAT, "%s: key '%s' = %" G_GINT64_FORMAT " is not a window size", src, key, window);
  r->attn.window = (int) window;
  if (window == 0)
    return TRUE;

  int L = cfg->n_layers, period = 0;
  g_autofree gboolean *swa = g_new0 (gboolean, L);
  if (!window_layers (g, a, L, swa, error))
    return FALSE;
  for (int l = 1; l < L && period == 0; l++)
    period = swa[l] ? l : 0;
  period = period ? period : L; /* layer 0 alone */
  gboolean fits = TRUE, any = FALSE;
  for (int l = 0; l < L; l++) {
    fits &= swa[l] == (l % period == 0);
    any |= swa[l];
  }
  if (!any) {
    r->attn.window = 0;
    return TRUE;
  }
  if (!fits) {
    g_autoptr (GString) layers = g_string_new (NULL);
    for (int l = 0; l < L; l++)
      if (swa[l])
        g_string_append_printf (layers, "%s%d", layers->len ? ", " : "", l);
    FAIL (UNSUPPORTED, "%s: a sliding window on layers %s is not supported (Strata windows every n-th layer "
          "from layer 0)", src, layers->str);
  }
  r->window_period = period;
  return TRUE;
}

/* A positive soft-cap (llama.cpp divides by it), or the preset's when the key is absent. */
static gboolean
read_softcap (StrataGguf *g, const GgufArch *a, const char *key, float *cap, GError **error)
{
  g_autofree char *k = arch_key (a, key);
  double v;
  if (!get_float (g, a, key, FALSE, *cap, &v, error))
    return FALSE;
  if (!(v > 0) || !isfinite (v) || v > G_MAXFLOAT)
    FAIL (FORMAT, "%s: key '%s' = %g is not a positive soft-cap", strata_gguf_get_source (g), k, v);
  *cap = (float) v;
  return TRUE;
}

static gboolean
read_config (StrataGguf *g, const GgufArch *a, StrataConfig *cfg, GError **error)
{
  const char *src = strata_gguf_get_source (g);
  double eps, theta;
  int rope_dims, key_len, value_len;

  *cfg = (StrataConfig) { 0 };
  if (!refuse_unsupported (g, a, error) || !get_size (g, a, "embedding_length", TRUE, 0, &cfg->d_model, error) ||
      !get_size (g, a, "feed_forward_length", TRUE, 0, &cfg->d_mlp, error) ||
      !get_size (g, a, "block_count", TRUE, 0, &cfg->n_layers, error) ||
      !get_size (g, a, "attention.head_count", TRUE, 0, &cfg->n_heads, error) ||
      !get_size (g, a, "attention.head_count_kv", FALSE, cfg->n_heads, &cfg->n_kv_heads, error) ||
      !get_size (g, a, "context_length", TRUE, 0, &cfg->n_ctx, error) ||
      !get_float (g, a, "rope.freq_base", FALSE, 10000.0, &theta, error))
    return FALSE;
  /* The head size is embedding_length / head_count unless the file states key_length. */
  g_autofree char *kl = arch_key (a, "attention.key_length");
  if (!strata_gguf_lookup (g, kl) && cfg->d_model % cfg->n_heads)
    FAIL (FORMAT, "%s: embedding_length %d is not a multiple of head_count %d", src, cfg->d_model, cfg->n_heads);
  if (!get_size (g, a, "attention.key_length", FALSE, cfg->d_model / cfg->n_heads, &key_len, error) ||
      !get_size (g, a, "attention.value_length", FALSE, key_len, &value_len, error))
    return FALSE;
  if (value_len != key_len)
    FAIL (UNSUPPORTED, "%s: attention.value_length %d differs from key_length %d", src, value_len, key_len);
  cfg->d_head = key_len;
  if (!get_size (g, a, "rope.dimension_count", FALSE, cfg->d_head, &rope_dims, error))
    return FALSE;

  const StrataTensorInfo *emb = strata_gguf_lookup_tensor (g, "token_embd.weight");
  if (!emb || emb->n_dims != 2 || emb->shape[0] == 0 || emb->shape[0] > G_MAXINT32)
    FAIL (FORMAT, "%s: missing or malformed tensor 'token_embd.weight'", src);
  cfg->vocab = (int) emb->shape[0];

  strata_config_set_family (cfg, a->family);
  StrataRecipe *r = &cfg->recipe;
  gboolean rms = r->norm.kind != STRATA_NORM_LAYERNORM;
  if (!get_float (g, a, rms ? "attention.layer_norm_rms_epsilon" : "attention.layer_norm_epsilon", TRUE, 0, &eps,
                  error))
    return FALSE;
  r->norm.eps = (float) eps;
  r->rope.pairing = a->rope;
  r->rope.dims = rope_dims;
  r->rope.theta = (float) theta;
  if (a->parallel_key) {
    g_autofree char *k = arch_key (a, "use_parallel_residual");
    if (!strata_gguf_get_bool (g, k, TRUE, &r->parallel, error))
      return FALSE;
  }
  if (a->norm_plus_one)
    r->norm.kind = STRATA_NORM_RMSNORM;
  if (a->softcaps && (!read_softcap (g, a, "attn_logit_softcapping", &r->attn.softcap, error) ||
                      !read_softcap (g, a, "final_logit_softcapping", &r->final_softcap, error)))
    return FALSE;
  if (!read_window (g, a, cfg, error))
    return FALSE;
  /* The expression llama.cpp uses (an integer n_embd / n_head); D^-1/2 is the preset's. */
  if (a->width_scale_layers && cfg->n_layers == a->width_scale_layers)
    r->attn.scale = 1.0f / sqrtf ((float) (cfg->d_model / cfg->n_heads));
  /* Optional tensors: as the file has them (llama.cpp loads them when present). */
  r->qkv_bias = has_tensor (g, a->fused_qkv ? "blk.0.attn_qkv.bias" : "blk.0.attn_q.bias");
  r->o_bias = has_tensor (g, "blk.0.attn_output.bias");
  r->mlp_bias = has_tensor (g, "blk.0.ffn_up.bias") || has_tensor (g, "blk.0.ffn_down.bias");
  r->unembed_bias = has_tensor (g, "output.bias");
  r->tied = !has_tensor (g, "output.weight");
  return TRUE;
}

typedef struct {
  StrataTensorSet set;
  const GgufArch *arch;
  const StrataConfig *cfg;
  gboolean check_only;   /* first pass: shapes only, before the arena is allocated */
  GHashTable *used;      /* GGUF tensor names the recipe reads */
  char *fused_name[2];   /* the fused tensor decoded in fused[1] (a matrix) or fused[0] (a bias) */
  float *fused[2];
  StrataWeights *w;      /* the weights being loaded (second pass) */
  int layer;             /* the layer of the tensor loaded last, -1 outside the blocks */
  GError **error;
} Loader;

/* Where weight tensor t lives in the file: its GGUF name (newly allocated), and for a part of
 * a fused tensor (attn_qkv holds H*D rows of q, then K*D of k, then K*D of v; ffn_up
 * (fused_gate_up) F rows of gate, then F of up) the fused tensor's rows and t's first row.
 * NULL with an error when the recipe's tensor has no GGUF name. */
static char *
gguf_name_of (const Loader *ld, const StrataWeightTensor *t, guint64 *fused_rows, guint64 *row0, GError **error)
{
  const char *field = t->layer >= 0 ? strrchr (t->name, '.') + 1 : t->name;
  gsize i = 0;
  while (i < G_N_ELEMENTS (gguf_names) && strcmp (gguf_names[i].strata, field) != 0)
    i++;
  if (i == G_N_ELEMENTS (gguf_names)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                 "%s: the recipe needs tensor '%s', which has no GGUF name", ld->set.source, t->name);
    return NULL;
  }
  Fused fused = gguf_names[i].fused;
  *fused_rows = *row0 = 0;
  if ((fused == IN_QKV && ld->arch->fused_qkv) || (fused == IN_GATE_UP && ld->arch->fused_gate_up)) {
    const StrataConfig *c = ld->cfg;
    guint64 HD = (guint64) c->n_heads * c->d_head, KD = (guint64) c->n_kv_heads * c->d_head, F = (guint64) c->d_mlp;
    guint64 sizes[3] = { HD, KD, KD };
    if (fused == IN_GATE_UP)
      sizes[0] = sizes[1] = F, sizes[2] = 0;
    *fused_rows = sizes[0] + sizes[1] + sizes[2];
    for (int k = 0; k < gguf_names[i].part; k++)
      *row0 += sizes[k];
    return g_strdup_printf ("blk.%d.%s.%s", t->layer, fused == IN_QKV ? "attn_qkv" : "ffn_up",
                            t->matrix ? "weight" : "bias");
  }
  return t->layer >= 0 ? g_strdup_printf ("blk.%d.%s", t->layer, gguf_names[i].gguf) : g_strdup (gguf_names[i].gguf);
}

/* A tensor from its row block of a fused tensor. A matrix kept in the fused tensor's own
 * dtype takes its rows' bytes as they are (rows are whole blocks); otherwise the fused
 * tensor is decoded once, for its first part, and kept for the others (one matrix and one
 * bias at a time: the weight table visits a layer's parts in order). */
static gboolean
load_fused_part (Loader *ld, StrataWeightTensor *t, const char *name, guint64 total, guint64 row0)
{
  guint64 cols = t->matrix ? t->cols : 0;
  const StrataTensorInfo *ft = strata_tensor_set_get_checked (&ld->set, name, total, cols, ld->error);
  if (!ft)
    return FALSE;
  if (t->matrix && ft->dtype == t->mat->dtype && (ft->blocks || G_BYTE_ORDER == G_LITTLE_ENDIAN)) {
    gsize row_bytes = strata_dtype_bytes (ft->dtype, t->cols);
    strata_weights_store_bytes (ld->w, t->mat->data, ft->data + row0 * row_bytes, t->rows * row_bytes);
    return TRUE;
  }
  int slot = t->matrix ? 1 : 0;
  if (g_strcmp0 (name, ld->fused_name[slot]) != 0) {
    g_clear_pointer (&ld->fused_name[slot], g_free);
    g_free (ld->fused[slot]);
    ld->fused[slot] = g_new (float, total * (cols ? cols : 1));
    strata_tensor_info_to_f32 (ft, ld->fused[slot], ft->n_elements);
    ld->fused_name[slot] = g_strdup (name);
  }
  if (t->matrix)
    strata_mat_store (t->mat, 0, ld->fused[slot] + row0 * t->cols, t->rows * t->cols);
  else
    memcpy (*t->vec, ld->fused[slot] + row0, t->rows * sizeof (float));
  return TRUE;
}

/* strata_weights_visit callback: one tensor of the recipe, checked or loaded. */
static int
load_one_cb (StrataWeightTensor *t, void *user)
{
  Loader *ld = user;
  /* The visit goes layer by layer: the one before is complete when another begins. */
  if (!ld->check_only && t->layer != ld->layer) {
    if (ld->layer >= 0)
      strata_weights_layer_loaded (ld->w, ld->layer);
    ld->layer = t->layer;
  }
  guint64 fused_rows, row0, cols = t->matrix ? t->cols : 0;
  g_autofree char *name = gguf_name_of (ld, t, &fused_rows, &row0, ld->error);
  if (!name)
    return 1;
  if (ld->check_only) {
    gboolean ok = strata_tensor_set_get_checked (&ld->set, name, fused_rows ? fused_rows : t->rows, cols,
                                                 ld->error) != NULL;
    g_hash_table_add (ld->used, g_steal_pointer (&name));
    return !ok;
  }
  if (fused_rows)
    return !load_fused_part (ld, t, name, fused_rows, row0);
  return !(t->matrix ? strata_tensor_set_load_mat (&ld->set, name, t->rows, t->cols, t->mat, ld->w, ld->error)
                     : strata_tensor_set_load (&ld->set, name, t->rows, 0, *t->vec, ld->error));
}

/* The dtype the file stores matrix t in (strata_model_new_weights): the check pass found
 * every name. */
static StrataDType
stored_dtype_cb (const StrataWeightTensor *t, void *user)
{
  const Loader *ld = user;
  guint64 fused_rows, row0;
  g_autofree char *name = gguf_name_of (ld, t, &fused_rows, &row0, NULL);
  const StrataTensorInfo *ft = name ? strata_tensor_set_lookup (&ld->set, name) : NULL;
  return ft ? ft->dtype : STRATA_DTYPE_F32;
}

/* Check every tensor the recipe needs against the file (names, shapes) and that the file
 * holds nothing else, then allocate the weights and load them. The check comes first so that
 * sizes stated in the metadata never allocate more than the file's own tensors hold. */
static gboolean
load_weights (StrataModel *m, StrataGguf *g, const GgufArch *a, const StrataConfig *cfg, GError **error)
{
  const char *src = strata_gguf_get_source (g);
  const char *why = strata_config_check (cfg);
  if (why)
    FAIL (FORMAT, "%s: %s", src, why);
  Loader ld = { .arch = a, .cfg = cfg, .check_only = TRUE, .error = error };
  ld.used = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  strata_tensor_set_init (&ld.set, src);
  for (guint i = 0; i < strata_gguf_get_n_tensors (g); i++)
    strata_tensor_set_add (&ld.set, strata_gguf_get_tensor (g, i));

  /* A weights struct without an arena: the visit only reads the config and the layers. */
  StrataWeights shape_only = { .cfg = *cfg };
  shape_only.layers = g_new0 (StrataLayerWeights, cfg->n_layers);
  gboolean ok = strata_weights_visit (&shape_only, load_one_cb, &ld) == 0;
  g_free (shape_only.layers);
  for (guint i = 0; ok && i < strata_gguf_get_n_tensors (g); i++) {
    const char *name = strata_gguf_get_tensor (g, i)->name;
    if (!g_hash_table_contains (ld.used, name)) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                   "%s: tensor '%s' is not part of a %s model as Strata runs it", src, name, a->arch);
      ok = FALSE;
    }
  }
  if (ok) {
    ld.check_only = FALSE;
    ld.layer = -1;
    /* Each matrix keeps the file's dtype where the policy asks (a model too large for an F32
     * copy, a GPU for 16-bit ones): F16, BF16, or its quantized blocks, which the CPU decodes
     * per product. */
    ld.w = m->weights = strata_model_new_weights (m, cfg, stored_dtype_cb, &ld, src, error);
    ok = m->weights && strata_weights_visit (m->weights, load_one_cb, &ld) == 0;
  }
  strata_tensor_set_clear (&ld.set);
  g_hash_table_unref (ld.used);
  for (int i = 0; i < 2; i++) {
    g_free (ld.fused[i]);
    g_free (ld.fused_name[i]);
  }
  return ok;
}

/* The file's dtype: the one most of its matrices (2-D tensors) are stored in, Q4_K for a
 * Q4_K_M file (ties: the lower dtype). */
static StrataDType
main_matrix_dtype (StrataGguf *g)
{
  guint count[STRATA_DTYPE_N] = { 0 };
  for (guint i = 0; i < strata_gguf_get_n_tensors (g); i++) {
    const StrataTensorInfo *t = strata_gguf_get_tensor (g, i);
    if (t->n_dims == 2)
      count[t->dtype]++;
  }
  int best = STRATA_DTYPE_F32;
  for (int dt = 0; dt < STRATA_DTYPE_N; dt++)
    best = count[dt] > count[best] ? dt : best;
  return (StrataDType) best;
}

/* "Q8_0 ×37, F16 ×5, F32 ×11": the tensor types of the file, most frequent first. */
static char *
describe_types (StrataGguf *g)
{
  g_autoptr (GHashTable) count = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) order = g_ptr_array_new ();
  for (guint i = 0; i < strata_gguf_get_n_tensors (g); i++) {
    const StrataTensorInfo *t = strata_gguf_get_tensor (g, i);
    const char *name = t->blocks ? t->blocks->name : strata_dtype_to_string (t->dtype);
    guint n = GPOINTER_TO_UINT (g_hash_table_lookup (count, name));
    if (n == 0)
      g_ptr_array_add (order, (gpointer) name);
    g_hash_table_insert (count, (gpointer) name, GUINT_TO_POINTER (n + 1));
  }
  GString *s = g_string_new (NULL);
  while (order->len > 0) {
    guint best = 0;
    for (guint i = 1; i < order->len; i++)
      if (GPOINTER_TO_UINT (g_hash_table_lookup (count, order->pdata[i])) >
          GPOINTER_TO_UINT (g_hash_table_lookup (count, order->pdata[best])))
        best = i;
    const char *name = order->pdata[best];
    g_string_append_printf (s, "%s%s ×%u", s->len ? ", " : "", name,
                            GPOINTER_TO_UINT (g_hash_table_lookup (count, name)));
    g_ptr_array_remove_index (order, best);
  }
  return g_string_free (s, FALSE);
}

/* The embedded SentencePiece vocabulary (tokenizer.ggml.model "llama"). */
static gboolean
load_spm (StrataModel *m, StrataGguf *g, GError **error)
{
  const char *src = strata_gguf_get_source (g);
  const StrataGgufValue *tokens = strata_gguf_lookup (g, "tokenizer.ggml.tokens");
  const StrataGgufValue *scores = strata_gguf_lookup (g, "tokenizer.ggml.scores");
  const StrataGgufValue *types = strata_gguf_lookup (g, "tokenizer.ggml.token_type");
  if (!tokens || tokens->type != STRATA_GGUF_ARRAY || tokens->elem_type != STRATA_GGUF_STRING ||
      tokens->n == 0 || tokens->n > (guint64) m->weights->cfg.vocab)
    FAIL (FORMAT, "%s: tokenizer.ggml.tokens must be 1 to %d strings", src, m->weights->cfg.vocab);
  gsize n = (gsize) tokens->n;
  if ((scores && (scores->type != STRATA_GGUF_ARRAY || scores->n != n || scores->elem_type == STRATA_GGUF_STRING ||
                  !scores->elems)) ||
      (types && (types->type != STRATA_GGUF_ARRAY || types->n != n || types->elem_type == STRATA_GGUF_STRING ||
                 !types->elems)))
    FAIL (FORMAT, "%s: tokenizer.ggml.scores/token_type must be numeric arrays of %" G_GSIZE_FORMAT " entries", src, n);
  g_autofree float *sc = g_new0 (float, n);
  g_autofree int32_t *ty = types ? g_new0 (int32_t, n) : NULL;
  for (gsize i = 0; i < n; i++) {
    sc[i] = scores ? (float) strata_gguf_array_get_double (scores, i) : 0.0f;
    double type = ty ? strata_gguf_array_get_double (types, i) : 0;
    /* A token type is a small integer (llama.cpp's 1..6): anything else is a damaged file,
     * and casting it would be undefined behaviour (found by fuzz-gguf: a NaN). */
    if (!(type >= 0 && type <= 1000) || type != (int32_t) type)
      FAIL (FORMAT, "%s: tokenizer.ggml.token_type[%" G_GSIZE_FORMAT "] is %g, not a token type", src, i, type);
    if (ty)
      ty[i] = (int32_t) type;
  }
  m->tokenizer = strata_tokenizer_new_spm (src, tokens->strs, sc, ty, (int) n, error);
  if (m->tokenizer == NULL)
    return FALSE;
  /* SentencePiece's add_dummy_prefix: Gemma's converter writes false, llama.cpp's default is
   * true */
  gboolean prefix;
  if (!strata_gguf_get_bool (g, "tokenizer.ggml.add_space_prefix", TRUE, &prefix, error))
    return FALSE;
  strata_tokenizer_set_add_space_prefix (m->tokenizer, prefix);
  return TRUE;
}

/* A bool key that may be absent: 1, 0, or -1 when the file does not state it. */
static gboolean
get_flag (StrataGguf *g, const char *key, int *out, GError **error)
{
  gboolean b;
  *out = -1;
  if (strata_gguf_lookup (g, key) == NULL)
    return TRUE;
  if (!strata_gguf_get_bool (g, key, FALSE, &b, error))
    return FALSE;
  *out = b ? 1 : 0;
  return TRUE;
}

/* An id key that may be absent (-1); an id outside the vocabulary is none, as llama.cpp
 * reads it. */
static gboolean
get_id (StrataGguf *g, const char *key, int n_vocab, int32_t *out, GError **error)
{
  gint64 id;
  if (!strata_gguf_get_int (g, key, FALSE, -1, &id, error))
    return FALSE;
  *out = id >= 0 && id < n_vocab ? (int32_t) id : -1;
  return TRUE;
}

StrataTokenizer *
strata_gguf_new_bpe_tokenizer (StrataGguf *g, const char *pre, int max_tokens, GError **error)
{
  const char *src = strata_gguf_get_source (g);
  const StrataGgufValue *tokens = strata_gguf_lookup (g, "tokenizer.ggml.tokens");
  const StrataGgufValue *types = strata_gguf_lookup (g, "tokenizer.ggml.token_type");
  const StrataGgufValue *merges = strata_gguf_lookup (g, "tokenizer.ggml.merges");
  if (!tokens || tokens->type != STRATA_GGUF_ARRAY || tokens->elem_type != STRATA_GGUF_STRING ||
      tokens->n == 0 || tokens->n > (guint64) max_tokens) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: tokenizer.ggml.tokens must be 1 to %d strings", src, max_tokens);
    return NULL;
  }
  gsize n = (gsize) tokens->n;
  if (types && (types->type != STRATA_GGUF_ARRAY || types->n != n || types->elem_type == STRATA_GGUF_STRING ||
                !types->elems)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: tokenizer.ggml.token_type must be a numeric array of %" G_GSIZE_FORMAT " entries", src, n);
    return NULL;
  }
  if (merges && (merges->type != STRATA_GGUF_ARRAY || (merges->n > 0 && merges->elem_type != STRATA_GGUF_STRING) ||
                 merges->n > G_MAXINT32)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: tokenizer.ggml.merges must be an array of strings", src);
    return NULL;
  }
  g_autofree int32_t *ty = types ? g_new (int32_t, n) : NULL;
  for (gsize i = 0; ty && i < n; i++) {
    double t = strata_gguf_array_get_double (types, i);
    ty[i] = t >= 0 && t <= 255 ? (int32_t) t : -1; /* not a type: as llama.cpp, undefined */
  }
  StrataGgufBpe v = {
    .pre = pre, .tokens = tokens->strs, .types = ty, .n_tokens = (int) n,
    .merges = merges ? merges->strs : NULL, .n_merges = merges ? (int) merges->n : -1,
  };
  if (!get_id (g, "tokenizer.ggml.bos_token_id", (int) n, &v.bos, error) ||
      !get_id (g, "tokenizer.ggml.eos_token_id", (int) n, &v.eos, error) ||
      !get_flag (g, "tokenizer.ggml.add_bos_token", &v.add_bos, error) ||
      !get_flag (g, "tokenizer.ggml.add_eos_token", &v.add_eos, error))
    return NULL;
  return strata_tokenizer_new_gguf_bpe (src, &v, error);
}

/* The embedded byte-level BPE vocabulary (tokenizer.ggml.model "gpt2"). A pre-tokenizer
 * Strata does not know leaves the model without a tokenizer and says why. */
static gboolean
load_bpe (StrataModel *m, StrataGguf *g, GError **error)
{
  g_autoptr (GError) e = NULL;
  const char *pre = strata_gguf_get_string (g, "tokenizer.ggml.pre", error);
  if (pre == NULL && strata_gguf_lookup (g, "tokenizer.ggml.pre") != NULL)
    return FALSE; /* not a string */
  m->tokenizer = strata_gguf_new_bpe_tokenizer (g, pre, m->weights->cfg.vocab, &e);
  if (m->tokenizer != NULL)
    return TRUE;
  if (!g_error_matches (e, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED)) {
    g_propagate_error (error, g_steal_pointer (&e));
    return FALSE;
  }
  /* the message without its "source: " (the model's name comes first wherever the note shows) */
  const char *src = strata_gguf_get_source (g);
  const char *why = e->message;
  if (g_str_has_prefix (why, src) && g_str_has_prefix (why + strlen (src), ": "))
    why += strlen (src) + 2;
  m->tokenizer_note = g_strdup (why);
  return TRUE;
}

/* The tokenizer the file embeds, or a note saying why there is none. */
static gboolean
load_tokenizer (StrataModel *m, StrataGguf *g, const char *kind, GError **error)
{
  if (!kind)
    m->tokenizer_note = g_strdup ("the file embeds no vocabulary (no tokenizer.ggml.model)");
  else if (strcmp (kind, "llama") == 0)
    return load_spm (m, g, error);
  else if (strcmp (kind, "gpt2") == 0)
    return load_bpe (m, g, error);
  else
    m->tokenizer_note = g_strdup_printf ("tokenizer.ggml.model '%s' is not read", kind);
  return TRUE;
}

gboolean
strata_gguf_model_fill (StrataModel *m, StrataGguf *g, const char *tokenizer_path, GError **error)
{
  StrataConfig cfg;
  gint64 bos, eos;
  GError *e = NULL;

  const GgufArch *a = find_arch (g, error);
  if (!a || !read_config (g, a, &cfg, error))
    return FALSE;
  /* The file's digest while the weights load (strata_sha256_start: large files first). */
  GMappedFile *map = strata_gguf_get_mapped_file (g);
  if (map)
    m->weights_hash = strata_sha256_start (&map, 1);
  if (!load_weights (m, g, a, &cfg, error))
    return FALSE;
  m->arch = g_strdup (a->arch);
  m->dtype = main_matrix_dtype (g);
  m->stored_types = describe_types (g);

  const char *kind = strata_gguf_get_string (g, "tokenizer.ggml.model", &e);
  if (e) {
    g_propagate_error (error, e);
    return FALSE;
  }
  /* llama.cpp's default: BOS for SentencePiece vocabularies, none for BPE; the file's
   * tokenizer.ggml.add_bos_token overrides it. A byte-level BPE tokenizer built from the file
   * states its own policy (llama.cpp's default for its pre-tokenizer name, e.g. BOS for
   * Llama 3's, or add_bos_token), which strata_model_open adopts. */
  gboolean add_bos = kind ? strcmp (kind, "llama") == 0 : a->add_bos;
  if (!strata_gguf_get_int (g, "tokenizer.ggml.bos_token_id", FALSE, -1, &bos, error) ||
      !strata_gguf_get_int (g, "tokenizer.ggml.eos_token_id", FALSE, -1, &eos, error) ||
      !strata_gguf_get_bool (g, "tokenizer.ggml.add_bos_token", add_bos, &m->add_bos, error))
    return FALSE;
  m->bos_id = bos >= 0 && bos < cfg.vocab ? (int32_t) bos : -1;
  m->eos_id = eos >= 0 && eos < cfg.vocab ? (int32_t) eos : -1;

  if (tokenizer_path) {
    m->tokenizer = strata_tokenizer_open_path (tokenizer_path, cfg.vocab, error);
    if (!m->tokenizer)
      return FALSE;
  } else if (!load_tokenizer (m, g, kind, error)) {
    return FALSE;
  }

  return TRUE;
}

gboolean
strata_gguf_load_model (StrataModel *m, const char *path, const char *tokenizer_path, GError **error)
{
  g_autoptr (StrataGguf) g = strata_gguf_open (path, error);
  return g && strata_gguf_model_fill (m, g, tokenizer_path, error);
}
