/* fuzz-safetensors.c: libFuzzer target for the safetensors header parser.
 * Each input is a whole file; the parser must return a model or an error, never crash. */
#include "strata-safetensors.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  GError *error = NULL;
  StrataSafetensors *st = strata_safetensors_parse (data, size, "fuzz.safetensors", &error);
  if (st) {
    /* Touch every tensor's bytes: the parser promised they are inside the input. */
    float sink[16];
    for (guint i = 0; i < strata_safetensors_get_n_tensors (st); i++) {
      const StrataTensorInfo *t = strata_safetensors_get_tensor (st, i);
      strata_dtype_convert (t->dtype, t->data, sink, MIN (t->n_elements, G_N_ELEMENTS (sink)));
      if (t->n_bytes)
        (void) *(volatile const guint8 *) (t->data + t->n_bytes - 1);
    }
    strata_safetensors_free (st);
  }
  g_clear_error (&error);
  return 0;
}
