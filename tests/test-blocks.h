/* test-blocks.h: random matrices in GGUF block types for the product tests (test-precision,
 * test-cuda). */
#pragma once

#include <glib.h>

#include "strata-block-values.h"
#include "strata-weights.h"

/* n values (whole blocks) of block type `dtype` as random bytes whose F16 scale fields (d, and
 * m or dmin where the type has one) are small and finite, so that every value is finite. */
static inline guint8 *
random_blocks (StrataDType dtype, gsize n)
{
  int scale_at[2];
  strata_block_scale_fields (dtype, scale_at);
  gsize block = (gsize) strata_dtype_block (dtype), block_bytes = strata_dtype_bytes (dtype, block);
  gsize n_blocks = n / block;
  guint8 *q = g_new (guint8, n_blocks * block_bytes);
  for (gsize b = 0; b < n_blocks * block_bytes; b++)
    q[b] = (guint8) g_test_rand_int_range (0, 256);
  for (gsize b = 0; b < n_blocks; b++)
    for (int f = 0; f < 2 && scale_at[f] >= 0; f++) {
      float scale = (float) g_test_rand_double_range (1e-3, 5e-2);
      strata_dtype_from_f32 (STRATA_DTYPE_F16, &scale, q + b * block_bytes + scale_at[f], 1);
    }
  return q;
}
