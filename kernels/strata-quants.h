/* strata-quants.h: the decoders of the block-quantized matrix dtypes (strata-quants.c), for
 * strata_dtype_to_f32. */
#pragma once

#include <stddef.h>

#include "strata-recipe.h"

/* n values (a multiple of the block) of a block-quantized `dtype` at `src` (any alignment)
 * -> dst F32. */
void _strata_quant_decode (StrataDType dtype, const void *src, float *dst, size_t n);
