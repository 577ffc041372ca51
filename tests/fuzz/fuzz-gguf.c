/* fuzz-gguf.c: libFuzzer target for the GGUF header parser.
 * Each input is a whole file; the parser must return a model or an error, never crash. */
#include "strata-gguf.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  GError *error = NULL;
  StrataGguf *g = strata_gguf_parse (data, size, "fuzz.gguf", &error);
  if (g) {
    float sink[16];
    for (guint i = 0; i < strata_gguf_get_n_tensors (g); i++) {
      const StrataTensorInfo *t = strata_gguf_get_tensor (g, i);
      strata_dtype_convert (t->dtype, t->data, sink, MIN (t->n_elements, G_N_ELEMENTS (sink)));
      if (t->n_bytes)
        (void) *(volatile const guint8 *) (t->data + t->n_bytes - 1);
    }
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
    strata_gguf_free (g);
  }
  g_clear_error (&error);
  return 0;
}
