/* fuzz-gguf.c: libFuzzer target for the GGUF reader and model loader.
 * Each input is a whole file; the parser must return a model or an error, never crash.
 * What it parses is then decoded (every tensor's first and last blocks, whatever its type)
 * and loaded as a model: the architecture table, the config, the shape checks before the
 * arena is allocated, the dequantization of every tensor (or, for inputs of odd size, each
 * matrix kept as stored), fused q/k/v, the tokenizer (which then encodes and decodes a short
 * text). */
#include "strata-gguf.h"
#include "strata-model.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* The first and the last block (or element) of a tensor, decoded. */
static void
decode_ends (const StrataTensorInfo *t)
{
  float sink[256 * 2];
  guint64 unit = t->blocks ? t->blocks->block : 1;
  guint64 unit_bytes = t->blocks ? t->blocks->block_bytes : strata_dtype_bytes (t->dtype, 1);
  if (t->n_elements == 0)
    return;
  strata_tensor_info_to_f32 (t, sink, MIN (t->n_elements, 2 * unit));
  StrataTensorInfo last = *t;
  last.data = t->data + t->n_bytes - unit_bytes;
  strata_tensor_info_to_f32 (&last, sink, unit);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  GError *error = NULL;
  StrataGguf *g = strata_gguf_parse (data, size, "fuzz.gguf", &error);
  if (g) {
    for (guint i = 0; i < strata_gguf_get_n_tensors (g); i++)
      decode_ends (strata_gguf_get_tensor (g, i));
    /* The typed getters on keys the model loader reads. */
    gint64 n;
    double f;
    GError *e = NULL;
    strata_gguf_get_int (g, "llama.block_count", TRUE, 0, &n, &e);
    g_clear_error (&e);
    strata_gguf_get_float (g, "llama.attention.layer_norm_rms_epsilon", TRUE, 0, &f, &e);
    g_clear_error (&e);
    const StrataGgufValue *v = strata_gguf_lookup (g, "tokenizer.ggml.scores");
    if (v && v->type == STRATA_GGUF_ARRAY && v->n)
      (void) strata_gguf_array_get_double (v, v->n - 1);

    StrataModel *m = g_new0 (StrataModel, 1);
    /* Matrices decoded to F32, or kept as stored (blocks and fused parts copied as bytes). */
    m->policy = size % 2 ? STRATA_MATRICES_STORED : STRATA_MATRICES_F32;
    if (strata_gguf_model_fill (m, g, NULL, &e) && m->tokenizer) {
      /* the embedded vocabulary at work: special tokens, NFC, digits, bytes */
      GArray *ids = strata_tokenizer_encode (m->tokenizer, "<|im_start|>Hi e\xcc\x81 12345\n\t<think>", NULL);
      if (ids) {
        g_free (strata_tokenizer_decode (m->tokenizer, (const int32_t *) ids->data, ids->len));
        g_array_unref (ids);
      }
    }
    g_clear_error (&e);
    strata_model_free (m);
    strata_gguf_free (g);
  }
  g_clear_error (&error);
  return 0;
}
