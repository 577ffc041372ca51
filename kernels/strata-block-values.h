/* strata-block-values.h: the layout of every matrix dtype, and one value of a block-quantized
 * matrix by its index, in C that nvcc also compiles for the GPU (a thread a value).
 *
 * The CPU decodes whole blocks (strata-dtypes.c: loops that vectorize). strata_block_value()
 * forms the same value with the same float operations in the same order, each rounded on its
 * own: on the GPU the products and sums are spelled as __fmul_rn/__fadd_rn/__fsub_rn, so that
 * nvcc cannot fuse them into one rounding (on the CPU strata-dtypes.c is compiled with
 * -ffp-contract=off). A value is therefore the same bits on both; tests/test-precision.c
 * checks strata_dtype_value() against the block decoders at every index of random blocks of
 * every type. The layouts are described in strata-dtypes.c. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "strata-recipe.h"

#ifdef __CUDACC__
#define STRATA_HD __host__ __device__
#else
#define STRATA_HD
#endif

#ifdef __CUDA_ARCH__
#define STRATA_MUL(a, b) __fmul_rn ((a), (b))
#define STRATA_ADD(a, b) __fadd_rn ((a), (b))
#define STRATA_SUB(a, b) __fsub_rn ((a), (b))
#else
#define STRATA_MUL(a, b) ((a) * (b))
#define STRATA_ADD(a, b) ((a) + (b))
#define STRATA_SUB(a, b) ((a) - (b))
#endif

/* Values per block and bytes per block (1 and the element's size for F32, F16, BF16). */
static inline STRATA_HD void
strata_dtype_layout (StrataDType dtype, int *block, int *bytes)
{
  switch (dtype) {
  case STRATA_DTYPE_F32: *block = 1, *bytes = 4; return;
  case STRATA_DTYPE_F16:
  case STRATA_DTYPE_BF16: *block = 1, *bytes = 2; return;
  case STRATA_DTYPE_Q4_0: *block = 32, *bytes = 18; return;
  case STRATA_DTYPE_Q4_1: *block = 32, *bytes = 20; return;
  case STRATA_DTYPE_Q5_0: *block = 32, *bytes = 22; return;
  case STRATA_DTYPE_Q5_1: *block = 32, *bytes = 24; return;
  case STRATA_DTYPE_Q8_0: *block = 32, *bytes = 34; return;
  case STRATA_DTYPE_Q4_K: *block = 256, *bytes = 144; return;
  case STRATA_DTYPE_Q5_K: *block = 256, *bytes = 176; return;
  case STRATA_DTYPE_Q6_K: *block = 256, *bytes = 210; return;
  case STRATA_DTYPE_Q2_K: *block = 256, *bytes = 84; return;
  case STRATA_DTYPE_Q3_K: *block = 256, *bytes = 110; return;
  case STRATA_DTYPE_IQ4_NL: *block = 32, *bytes = 18; return;
  case STRATA_DTYPE_IQ4_XS: *block = 256, *bytes = 136; return;
  default: *block = 1, *bytes = 0; return;
  }
}

/* Byte offsets in a block of its F16 scale fields: d, and m or dmin where the type has one;
 * -1 for none (plain dtypes have neither). For writing valid blocks (tests, benchmarks). */
static inline STRATA_HD void
strata_block_scale_fields (StrataDType dtype, int at[2])
{
  at[0] = at[1] = -1;
  switch (dtype) {
  case STRATA_DTYPE_Q4_1: case STRATA_DTYPE_Q5_1: case STRATA_DTYPE_Q4_K: case STRATA_DTYPE_Q5_K:
    at[0] = 0, at[1] = 2;
    return;
  case STRATA_DTYPE_Q4_0: case STRATA_DTYPE_Q5_0: case STRATA_DTYPE_Q8_0: case STRATA_DTYPE_IQ4_NL:
  case STRATA_DTYPE_IQ4_XS:
    at[0] = 0;
    return;
  case STRATA_DTYPE_Q6_K: at[0] = 208; return;
  case STRATA_DTYPE_Q2_K: at[0] = 80, at[1] = 82; return;
  case STRATA_DTYPE_Q3_K: at[0] = 108; return;
  default: return;
  }
}

/* An F16 value (its 16 bits in h), exactly, as arithmetic without branches so that loops of it
 * vectorize: exponent and mantissa move up 13 bits and the exponent is rebiased (by 112, or to
 * 255 for infinities and NaN, payload kept); a subnormal is mant × 2^-24, exact in fp32. */
static inline STRATA_HD float
strata_f16_bits_value (uint32_t h)
{
  uint32_t em = h & 0x7fffu;
  uint32_t special = 0u - (uint32_t) (em >= 0x7c00u), subnormal = 0u - (uint32_t) (em < 0x0400u);
  union {
    uint32_t u;
    float f;
  } sub, out;
  sub.f = STRATA_MUL ((float) (int32_t) em, 5.9604644775390625e-08f); /* 2^-24 */
  out.u = (((em << 13) + 0x38000000u + (special & 0x38000000u)) & ~subnormal) | (sub.u & subnormal) |
          (h & 0x8000u) << 16;
  return out.f;
}

/* The little-endian F16 at p. */
static inline STRATA_HD float
strata_f16_value (const uint8_t *p)
{
  return strata_f16_bits_value ((uint32_t) p[0] | (uint32_t) p[1] << 8);
}

/* The 6-bit scale (min: 0) or min (1) of sub-block j of a Q4_K/Q5_K block's 12 scale bytes. */
static inline STRATA_HD int
strata_k4_scale (const uint8_t *q, int j, int min)
{
  if (j < 4)
    return q[j + 4 * min] & 63;
  return min ? (q[j + 4] >> 4) | (q[j] >> 6) << 4 : (q[j + 4] & 0x0F) | (q[j - 4] >> 6) << 4;
}

/* The 16 levels of IQ4_NL and IQ4_XS (ggml's kvalues_iq4nl). */
static inline STRATA_HD int
strata_iq4_level (int q)
{
  const int8_t levels[16] = { -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113 };
  return levels[q & 15];
}

/* The 2 bits of value i (0..255) of a Q2_K/Q3_K block's qs: halves of 128 values, each four
 * runs of 32 taking bits 2s of the half's 32 bytes. */
static inline STRATA_HD int
strata_k2_bits (const uint8_t *qs, int i)
{
  return (qs[32 * (i / 128) + i % 32] >> (2 * (i % 128 / 32))) & 3;
}

/* Value i (counted from `src`, whole blocks) of a matrix in a block dtype. */
static inline STRATA_HD float
strata_block_value (StrataDType dtype, const uint8_t *src, size_t i)
{
  int block, bytes;
  strata_dtype_layout (dtype, &block, &bytes);
  const uint8_t *b = src + i / (size_t) block * (size_t) bytes;
  int j = (int) (i % (size_t) block);
  switch (dtype) {
  case STRATA_DTYPE_Q4_0: {
    int q = j < 16 ? b[2 + j] & 0x0F : b[2 + j - 16] >> 4;
    return STRATA_MUL ((float) (q - 8), strata_f16_value (b));
  }
  case STRATA_DTYPE_Q4_1: {
    int q = j < 16 ? b[4 + j] & 0x0F : b[4 + j - 16] >> 4;
    return STRATA_ADD (STRATA_MUL ((float) q, strata_f16_value (b)), strata_f16_value (b + 2));
  }
  case STRATA_DTYPE_Q5_0:
  case STRATA_DTYPE_Q5_1: {
    int one = dtype == STRATA_DTYPE_Q5_1; /* d, m, qh, qs; else d, qh, qs */
    const uint8_t *qh = b + 2 + 2 * one, *qs = qh + 4;
    uint32_t high = (uint32_t) qh[0] | (uint32_t) qh[1] << 8 | (uint32_t) qh[2] << 16 | (uint32_t) qh[3] << 24;
    int q = (j < 16 ? qs[j] & 0x0F : qs[j - 16] >> 4) | (int) ((high >> j) & 1) << 4;
    if (!one)
      return STRATA_MUL ((float) (q - 16), strata_f16_value (b));
    return STRATA_ADD (STRATA_MUL ((float) q, strata_f16_value (b)), strata_f16_value (b + 2));
  }
  case STRATA_DTYPE_Q8_0:
    return STRATA_MUL ((float) (int8_t) b[2 + j], strata_f16_value (b));
  case STRATA_DTYPE_Q4_K:
  case STRATA_DTYPE_Q5_K: {
    /* 64 values a pair of sub-blocks: 32 low nibbles (sub-block 2p), 32 high (2p + 1). */
    int five = dtype == STRATA_DTYPE_Q5_K, pair = j / 64, hi = j % 64 >= 32, l = j % 32, sub = 2 * pair + hi;
    const uint8_t *qh = b + 16, *qs = b + 16 + 32 * five + 32 * pair;
    int q = (hi ? qs[l] >> 4 : qs[l] & 0x0F) | (five ? ((qh[l] >> sub) & 1) << 4 : 0);
    float d1 = STRATA_MUL (strata_f16_value (b), (float) strata_k4_scale (b + 4, sub, 0));
    float m1 = STRATA_MUL (strata_f16_value (b + 2), (float) strata_k4_scale (b + 4, sub, 1));
    return STRATA_SUB (STRATA_MUL (d1, (float) q), m1);
  }
  case STRATA_DTYPE_Q6_K: {
    /* Halves of 128 values; in each, quarter k of 32 values takes ql's low (k even) or high
     * nibbles of bytes l or l + 32 (k odd) and bits 2k of qh[l], scale group 2k + l / 16. */
    int half = j / 128, k = j % 128 / 32, l = j % 32;
    const uint8_t *ql = b + 64 * half + 32 * (k & 1), *qh = b + 128 + 32 * half;
    const int8_t *sc = (const int8_t *) (b + 192 + 8 * half);
    int q = ((k < 2 ? ql[l] & 0x0F : ql[l] >> 4) | ((qh[l] >> (2 * k)) & 3) << 4) - 32;
    return STRATA_MUL (STRATA_MUL (strata_f16_value (b + 208), (float) sc[l / 16 + 2 * k]), (float) q);
  }
  case STRATA_DTYPE_Q2_K: { /* scales[16] (4-bit scale, 4-bit min per 16 values), qs[64], d, dmin */
    int sc = b[j / 16];
    float dl = STRATA_MUL (strata_f16_value (b + 80), (float) (sc & 0x0F));
    float ml = STRATA_MUL (strata_f16_value (b + 82), (float) (sc >> 4));
    return STRATA_SUB (STRATA_MUL (dl, (float) strata_k2_bits (b + 16, j)), ml);
  }
  case STRATA_DTYPE_Q3_K: { /* hmask[32], qs[64], scales[12] (16 6-bit), d; -4 where hmask is 0 */
    const uint8_t *sc = b + 96;
    int g = j / 16, low = g < 8 ? sc[g] & 0x0F : sc[g - 8] >> 4, high = (sc[8 + g % 4] >> (2 * (g / 4))) & 3;
    int q = strata_k2_bits (b + 32, j) - (((b[j % 32] >> (j / 32)) & 1) ? 0 : 4);
    float dl = STRATA_MUL (strata_f16_value (b + 108), (float) ((low | high << 4) - 32));
    return STRATA_MUL (dl, (float) q);
  }
  case STRATA_DTYPE_IQ4_NL: { /* d, qs[16]: levels of the low nibbles, then the high ones */
    int q = j < 16 ? b[2 + j] : b[2 + j - 16] >> 4;
    return STRATA_MUL (strata_f16_value (b), (float) strata_iq4_level (q));
  }
  case STRATA_DTYPE_IQ4_XS: { /* d, scales_h (2 bits a sub-block), scales_l[4] (4), qs[128] */
    int ib = j / 32, k = j % 32;
    int ls = ((b[4 + ib / 2] >> (4 * (ib % 2))) & 0x0F) | (((b[2] | b[3] << 8) >> (2 * ib)) & 3) << 4;
    int q = k < 16 ? b[8 + 16 * ib + k] : b[8 + 16 * ib + k - 16] >> 4;
    float dl = STRATA_MUL (strata_f16_value (b), (float) (ls - 32));
    return STRATA_MUL (dl, (float) strata_iq4_level (q));
  }
  default:
    return 0.0f;
  }
}
