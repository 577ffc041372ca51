/* test-blocks.h: random matrices in GGUF block types for the product tests (test-precision,
 * test-cuda). */
#pragma once

#include <glib.h>

#include "strata-weights.h"

/* n values (whole blocks) of block type `dtype` as random bytes whose F16 scale fields (d, and
 * m or dmin where the type has one) are small and finite, so that every value is finite. */
static inline guint8 *
random_blocks (StrataDType dtype, gsize n)
{
  static const int scale_at[STRATA_DTYPE_N][2] = {
    [STRATA_DTYPE_Q4_0] = { 0, -1 }, [STRATA_DTYPE_Q4_1] = { 0, 2 },  [STRATA_DTYPE_Q5_0] = { 0, -1 },
    [STRATA_DTYPE_Q5_1] = { 0, 2 },  [STRATA_DTYPE_Q8_0] = { 0, -1 }, [STRATA_DTYPE_Q4_K] = { 0, 2 },
    [STRATA_DTYPE_Q5_K] = { 0, 2 },  [STRATA_DTYPE_Q6_K] = { 208, -1 },
  };
  gsize block = (gsize) strata_dtype_block (dtype), block_bytes = strata_dtype_bytes (dtype, block);
  gsize n_blocks = n / block;
  guint8 *q = g_new (guint8, n_blocks * block_bytes);
  for (gsize b = 0; b < n_blocks * block_bytes; b++)
    q[b] = (guint8) g_test_rand_int_range (0, 256);
  for (gsize b = 0; b < n_blocks; b++)
    for (int f = 0; f < 2 && scale_at[dtype][f] >= 0; f++) {
      float scale = (float) g_test_rand_double_range (1e-3, 5e-2);
      strata_dtype_from_f32 (STRATA_DTYPE_F16, &scale, q + b * block_bytes + scale_at[dtype][f], 1);
    }
  return q;
}
