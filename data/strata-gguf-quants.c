/* strata-gguf-quants.c: the ggml tensor types a GGUF file can name, and which of them
 * Strata reads (the block-quantized ones through the kernels' decoders, strata-dtypes.c). */
#include "strata-gguf-quants.h"

/* Every ggml type by its number (ggml.h, enum ggml_type), with the block sizes of
 * ggml-common.h; the StrataDType where Strata reads the type (the block sizes of those are
 * the kernels' too: tests/test-gguf.c checks that they agree). */
#define PLAIN(id, dt, name, bytes) { id, dt, { name, 1, bytes } }
#define QUANT(id, dt, name, block, bytes) { id, dt, { name, block, bytes } }
static const StrataGgmlType types[] = {
  PLAIN (0, STRATA_DTYPE_F32, "F32", 4),
  PLAIN (1, STRATA_DTYPE_F16, "F16", 2),
  QUANT (2, STRATA_DTYPE_Q4_0, "Q4_0", 32, 18),
  QUANT (3, STRATA_DTYPE_Q4_1, "Q4_1", 32, 20),
  QUANT (6, STRATA_DTYPE_Q5_0, "Q5_0", 32, 22),
  QUANT (7, STRATA_DTYPE_Q5_1, "Q5_1", 32, 24),
  QUANT (8, STRATA_DTYPE_Q8_0, "Q8_0", 32, 34),
  QUANT (9, -1, "Q8_1", 32, 36),
  QUANT (10, STRATA_DTYPE_Q2_K, "Q2_K", 256, 84),
  QUANT (11, STRATA_DTYPE_Q3_K, "Q3_K", 256, 110),
  QUANT (12, STRATA_DTYPE_Q4_K, "Q4_K", 256, 144),
  QUANT (13, STRATA_DTYPE_Q5_K, "Q5_K", 256, 176),
  QUANT (14, STRATA_DTYPE_Q6_K, "Q6_K", 256, 210),
  QUANT (15, -1, "Q8_K", 256, 292),
  QUANT (16, -1, "IQ2_XXS", 256, 66),
  QUANT (17, -1, "IQ2_XS", 256, 74),
  QUANT (18, -1, "IQ3_XXS", 256, 98),
  QUANT (19, -1, "IQ1_S", 256, 50),
  QUANT (20, STRATA_DTYPE_IQ4_NL, "IQ4_NL", 32, 18),
  QUANT (21, -1, "IQ3_S", 256, 110),
  QUANT (22, -1, "IQ2_S", 256, 82),
  QUANT (23, STRATA_DTYPE_IQ4_XS, "IQ4_XS", 256, 136),
  PLAIN (24, -1, "I8", 1),
  PLAIN (25, -1, "I16", 2),
  PLAIN (26, -1, "I32", 4),
  PLAIN (27, -1, "I64", 8),
  PLAIN (28, -1, "F64", 8),
  QUANT (29, -1, "IQ1_M", 256, 56),
  PLAIN (30, STRATA_DTYPE_BF16, "BF16", 2),
  QUANT (34, -1, "TQ1_0", 256, 54),
  QUANT (35, -1, "TQ2_0", 256, 66),
  QUANT (39, -1, "MXFP4", 32, 17),
  QUANT (40, -1, "NVFP4", 64, 36),
  QUANT (41, -1, "Q1_0", 128, 18),
};
#undef PLAIN
#undef QUANT

const StrataGgmlType *
strata_ggml_type_lookup (guint32 id)
{
  for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
    if (types[i].id == id)
      return &types[i];
  return NULL;
}

guint32
strata_ggml_type_of (StrataDType dtype)
{
  for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
    if (types[i].dtype == (int) dtype)
      return types[i].id;
  g_return_val_if_reached (0);
}

static gpointer
list_readable (gpointer unused)
{
  GString *s = g_string_new (NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
    if (types[i].format.block > 1 && types[i].dtype >= 0)
      g_string_append_printf (s, "%s%s", s->len ? ", " : "", types[i].format.name);
  return g_string_free (s, FALSE); /* kept for the life of the process */
}

const char *
strata_ggml_readable_quants (void)
{
  static GOnce once = G_ONCE_INIT;
  return g_once (&once, list_readable, NULL);
}
