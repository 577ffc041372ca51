/* strata-dtypes.c: the matrix dtypes' layouts (values per block, bytes) and their decoding to
 * F32, strata_dtype_to_f32: at load, and in every product whose matrix is kept in a dtype the
 * backend widens as it goes (the CPU: F16, BF16 and the blocks).
 *
 * kernels/meson.build compiles this file with -O3 (the plain loops vectorize) and
 * -ffp-contract=off (below).
 *
 * The block types are ggml's quantizations.
 * Written here from the block layouts of llama.cpp's ggml/src/ggml-common.h and the decoders
 * of ggml-quants.c (dequantize_row_*), checked bit for bit against the `gguf` Python
 * package's gguf.quants.dequantize (tests/test-gguf.c, goldens written by
 * tools/reference/gguf_quants_reference.py). ggml itself is not a dependency: it is a whole
 * tensor library, and these decoders are a few lines each.
 *
 * Bit-exactness: every value is formed with the same float32 operations in the same order as
 * the references (scale × integer for the symmetric types; scale × integer + min for Q4_1 and
 * Q5_1; (d × sub-scale) × integer − (dmin × sub-min) for Q4_K and Q5_K; (d × sub-scale) ×
 * integer for Q6_K), a multiply and an add never fused into one rounding (-ffp-contract=off). F16 scales are read with the
 * kernels' exact strata_f16_to_f32. Every decoder reads exactly n_blocks × block_bytes bytes.
 *
 * Layouts (little-endian; d, m, dmin are F16; qs nibbles: low nibbles hold the first half
 * of a 32-value group, high nibbles the second):
 *   Q4_0 (32 values, 18 bytes): d, qs[16]                      x = (q - 8) d
 *   Q4_1 (32, 20): d, m, qs[16]                                x = q d + m
 *   Q5_0 (32, 22): d, qh[4] (bit j: 5th bit of value j), qs[16]  x = (q - 16) d
 *   Q5_1 (32, 24): d, m, qh[4], qs[16]                         x = q d + m
 *   Q8_0 (32, 34): d, qs[32] int8                              x = q d
 *   Q4_K (256, 144): d, dmin, scales[12] (8 6-bit scales and mins), qs[128]
 *        sub-block s (32 values): x = (d sc_s) q - (dmin m_s)
 *   Q5_K (256, 176): d, dmin, scales[12], qh[32] (bit s of qh[l]: 5th bit of value l of
 *        sub-block s), qs[128]
 *   Q6_K (256, 210): ql[128], qh[64], scales[16] int8, d: 16 groups of 16 values,
 *        x = (d sc_g) (q - 32), q = 4 low bits from ql and 2 high bits from qh.
 *   Q2_K, Q3_K, IQ4_NL and IQ4_XS: at their decoders below. */
#include "strata-weights.h"
#include "strata-block-values.h"

#include <string.h>

static inline uint32_t
u32_at (const uint8_t *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static void
decode_q4_0 (const uint8_t *restrict b, float *restrict y, size_t n_blocks)
{
  for (size_t i = 0; i < n_blocks; i++, b += 18, y += 32) {
    const float d = strata_f16_value (b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < 16; j++) /* low nibbles, then high: loops that vectorize */
      y[j] = (float) ((qs[j] & 0x0F) - 8) * d;
    for (int j = 0; j < 16; j++)
      y[j + 16] = (float) ((qs[j] >> 4) - 8) * d;
  }
}

static void
decode_q4_1 (const uint8_t *restrict b, float *restrict y, size_t n_blocks)
{
  for (size_t i = 0; i < n_blocks; i++, b += 20, y += 32) {
    const float d = strata_f16_value (b), m = strata_f16_value (b + 2);
    const uint8_t *qs = b + 4;
    for (int j = 0; j < 16; j++)
      y[j] = (float) (qs[j] & 0x0F) * d + m;
    for (int j = 0; j < 16; j++)
      y[j + 16] = (float) (qs[j] >> 4) * d + m;
  }
}

static void
decode_q5_0 (const uint8_t *restrict b, float *restrict y, size_t n_blocks)
{
  for (size_t i = 0; i < n_blocks; i++, b += 22, y += 32) {
    const float d = strata_f16_value (b);
    const uint32_t qh = u32_at (b + 2);
    const uint8_t *qs = b + 6;
    for (int j = 0; j < 16; j++) {
      int lo = (qs[j] & 0x0F) | (int) ((qh >> j) & 1) << 4;
      int hi = (qs[j] >> 4) | (int) ((qh >> (j + 16)) & 1) << 4;
      y[j] = (float) (lo - 16) * d;
      y[j + 16] = (float) (hi - 16) * d;
    }
  }
}

static void
decode_q5_1 (const uint8_t *restrict b, float *restrict y, size_t n_blocks)
{
  for (size_t i = 0; i < n_blocks; i++, b += 24, y += 32) {
    const float d = strata_f16_value (b), m = strata_f16_value (b + 2);
    const uint32_t qh = u32_at (b + 4);
    const uint8_t *qs = b + 8;
    for (int j = 0; j < 16; j++) {
      int lo = (qs[j] & 0x0F) | (int) ((qh >> j) & 1) << 4;
      int hi = (qs[j] >> 4) | (int) ((qh >> (j + 16)) & 1) << 4;
      y[j] = (float) lo * d + m;
      y[j + 16] = (float) hi * d + m;
    }
  }
}

static void
decode_q8_0 (const uint8_t *restrict b, float *restrict y, size_t n_blocks)
{
  for (size_t i = 0; i < n_blocks; i++, b += 34, y += 32) {
    const float d = strata_f16_value (b);
    for (int j = 0; j < 32; j++)
      y[j] = (float) (int8_t) b[2 + j] * d;
  }
}

/* One Q4_K or Q5_K block: 8 sub-blocks of 32 values; qh (Q5_K; NULL for Q4_K) gives each
 * value its 5th bit. */
static inline void
decode_k_block (const uint8_t *b, const uint8_t *qh, const uint8_t *qs, float *y)
{
  const float d = strata_f16_value (b), dmin = strata_f16_value (b + 2);
  const uint8_t *scales = b + 4;
  for (int s = 0; s < 8; s += 2, qs += 32) { /* 64 values: low nibbles, then high */
    const float d1 = d * (float) strata_k4_scale (scales, s, 0), m1 = dmin * (float) strata_k4_scale (scales, s, 1);
    const float d2 = d * (float) strata_k4_scale (scales, s + 1, 0);
    const float m2 = dmin * (float) strata_k4_scale (scales, s + 1, 1);
    for (int l = 0; l < 32; l++)
      *y++ = d1 * (float) ((qs[l] & 0x0F) | (qh ? ((qh[l] >> s) & 1) << 4 : 0)) - m1;
    for (int l = 0; l < 32; l++)
      *y++ = d2 * (float) ((qs[l] >> 4) | (qh ? ((qh[l] >> (s + 1)) & 1) << 4 : 0)) - m2;
  }
}

static void
decode_q4_k (const uint8_t *restrict b, float *restrict y, size_t n_blocks)
{
  for (size_t i = 0; i < n_blocks; i++, b += 144, y += 256)
    decode_k_block (b, NULL, b + 16, y);
}

static void
decode_q5_k (const uint8_t *restrict b, float *restrict y, size_t n_blocks)
{
  for (size_t i = 0; i < n_blocks; i++, b += 176, y += 256)
    decode_k_block (b, b + 16, b + 48, y);
}

static void
decode_q6_k (const uint8_t *restrict b, float *restrict y, size_t n_blocks)
{
  for (size_t i = 0; i < n_blocks; i++, b += 210, y += 256) {
    const float d = strata_f16_value (b + 208);
    for (int half = 0; half < 2; half++) { /* 128 values each */
      const uint8_t *ql = b + 64 * half, *qh = b + 128 + 32 * half;
      const int8_t *sc = (const int8_t *) (b + 192 + 8 * half);
      float *out = y + 128 * half;
      for (int g = 0; g < 2; g++) { /* groups of 16 values share a scale */
        const float d1 = d * (float) sc[g], d2 = d * (float) sc[g + 2];
        const float d3 = d * (float) sc[g + 4], d4 = d * (float) sc[g + 6];
        for (int l = 16 * g; l < 16 * g + 16; l++) {
          int q1 = ((ql[l] & 0x0F) | ((qh[l] >> 0) & 3) << 4) - 32;
          int q2 = ((ql[l + 32] & 0x0F) | ((qh[l] >> 2) & 3) << 4) - 32;
          int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
          int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
          out[l] = d1 * (float) q1;
          out[l + 32] = d2 * (float) q2;
          out[l + 64] = d3 * (float) q3;
          out[l + 96] = d4 * (float) q4;
        }
      }
    }
  }
}


/* Q2_K (256, 84): scales[16] (a 4-bit scale and a 4-bit min per 16 values), qs[64], d, dmin.
 * Value i takes 2 bits of qs (strata_k2_bits): x = (d sc) q - (dmin m). */
static void
decode_q2_k (const uint8_t *restrict b, float *restrict y, size_t n_blocks)
{
  for (size_t i = 0; i < n_blocks; i++, b += 84, y += 256) {
    const float d = strata_f16_value (b + 80), dmin = strata_f16_value (b + 82);
    for (int g = 0; g < 16; g++) { /* 16 values: half g / 8, bits 2 (g / 2 % 4), bytes 16 (g % 2) */
      const float dl = d * (float) (b[g] & 0x0F), ml = dmin * (float) (b[g] >> 4);
      const uint8_t *qs = b + 16 + 32 * (g / 8) + 16 * (g % 2);
      int shift = 2 * (g / 2 % 4);
      for (int l = 0; l < 16; l++)
        y[16 * g + l] = dl * (float) ((qs[l] >> shift) & 3) - ml;
    }
  }
}

/* Q3_K (256, 110): hmask[32], qs[64], scales[12] (16 6-bit scales: low 4 bits in bytes 0-7,
 * high 2 bits in bytes 8-11), d. Value i: 2 bits of qs as in Q2_K, less 4 where bit i / 32 of
 * hmask[i % 32] is clear: x = (d (sc - 32)) q. */
static void
decode_q3_k (const uint8_t *restrict b, float *restrict y, size_t n_blocks)
{
  for (size_t i = 0; i < n_blocks; i++, b += 110, y += 256) {
    const float d = strata_f16_value (b + 108);
    const uint8_t *sc = b + 96;
    for (int g = 0; g < 16; g++) {
      int low = g < 8 ? sc[g] & 0x0F : sc[g - 8] >> 4, high = (sc[8 + g % 4] >> (2 * (g / 4))) & 3;
      const float dl = d * (float) ((low | high << 4) - 32);
      const uint8_t *qs = b + 32 + 32 * (g / 8) + 16 * (g % 2), *hm = b + 16 * (g % 2);
      int shift = 2 * (g / 2 % 4), bit = g / 2; /* value 16 g + l: hmask bit (16 g + l) / 32 */
      for (int l = 0; l < 16; l++)
        y[16 * g + l] = dl * (float) (((qs[l] >> shift) & 3) - ((hm[l] >> bit) & 1 ? 0 : 4));
    }
  }
}

/* IQ4_NL (32, 18): d, qs[16]; x = d level(q), the low nibbles' levels then the high ones'. */
static void
decode_iq4_nl (const uint8_t *restrict b, float *restrict y, size_t n_blocks)
{
  for (size_t i = 0; i < n_blocks; i++, b += 18, y += 32) {
    const float d = strata_f16_value (b);
    for (int j = 0; j < 16; j++)
      y[j] = d * (float) strata_iq4_level (b[2 + j]);
    for (int j = 0; j < 16; j++)
      y[j + 16] = d * (float) strata_iq4_level (b[2 + j] >> 4);
  }
}

/* IQ4_XS (256, 136): d, scales_h (2 bits a sub-block of 32), scales_l[4] (4 bits), qs[128]:
 * x = (d (sc - 32)) level(q), each sub-block as an IQ4_NL block. */
static void
decode_iq4_xs (const uint8_t *restrict b, float *restrict y, size_t n_blocks)
{
  for (size_t i = 0; i < n_blocks; i++, b += 136, y += 256) {
    const float d = strata_f16_value (b);
    const unsigned scales_h = b[2] | (unsigned) b[3] << 8;
    for (int ib = 0; ib < 8; ib++) {
      int ls = ((b[4 + ib / 2] >> (4 * (ib % 2))) & 0x0F) | ((scales_h >> (2 * ib)) & 3) << 4;
      const float dl = d * (float) (ls - 32);
      const uint8_t *qs = b + 8 + 16 * ib;
      for (int j = 0; j < 16; j++)
        y[32 * ib + j] = dl * (float) strata_iq4_level (qs[j]);
      for (int j = 0; j < 16; j++)
        y[32 * ib + j + 16] = dl * (float) strata_iq4_level (qs[j] >> 4);
    }
  }
}

/* The decoder of each block type. */
static void (*const decoders[STRATA_DTYPE_N]) (const uint8_t *src, float *dst, size_t n_blocks) = {
  [STRATA_DTYPE_Q4_0] = decode_q4_0, [STRATA_DTYPE_Q4_1] = decode_q4_1, [STRATA_DTYPE_Q5_0] = decode_q5_0,
  [STRATA_DTYPE_Q5_1] = decode_q5_1, [STRATA_DTYPE_Q8_0] = decode_q8_0, [STRATA_DTYPE_Q4_K] = decode_q4_k,
  [STRATA_DTYPE_Q5_K] = decode_q5_k, [STRATA_DTYPE_Q6_K] = decode_q6_k, [STRATA_DTYPE_Q2_K] = decode_q2_k,
  [STRATA_DTYPE_Q3_K] = decode_q3_k, [STRATA_DTYPE_IQ4_NL] = decode_iq4_nl, [STRATA_DTYPE_IQ4_XS] = decode_iq4_xs,
};

int
strata_dtype_block (StrataDType dtype)
{
  int block, bytes;
  strata_dtype_layout (dtype, &block, &bytes);
  return block;
}

size_t
strata_dtype_bytes (StrataDType dtype, size_t n)
{
  int block, bytes;
  strata_dtype_layout (dtype, &block, &bytes);
  return n / (size_t) block * (size_t) bytes;
}

float
strata_dtype_value (StrataDType dtype, const void *src, size_t i)
{
  if (dtype >= STRATA_DTYPE_FIRST_BLOCK)
    return strata_block_value (dtype, src, i);
  float v;
  strata_dtype_to_f32 (dtype, (const char *) src + strata_dtype_bytes (dtype, i), &v, 1);
  return v;
}

void
strata_dtype_to_f32 (StrataDType dtype, const void *src, float *dst, size_t n)
{
  /* One loop per plain dtype, each free of branches so that it vectorizes. */
  const unsigned char *s = src;
  uint16_t v;
  switch (dtype) {
  case STRATA_DTYPE_F32:
    memcpy (dst, src, n * sizeof (float));
    break;
  case STRATA_DTYPE_F16:
    for (size_t i = 0; i < n; i++) {
      memcpy (&v, s + 2 * i, 2);
      dst[i] = strata_f16_bits_value (v);
    }
    break;
  case STRATA_DTYPE_BF16:
    for (size_t i = 0; i < n; i++) {
      memcpy (&v, s + 2 * i, 2);
      uint32_t bits = (uint32_t) v << 16; /* bf16 is the top half of an fp32 */
      memcpy (dst + i, &bits, 4);
    }
    break;
  default:
    decoders[dtype] (src, dst, n / (size_t) strata_dtype_block (dtype));
    break;
  }
}
