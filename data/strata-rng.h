/* strata-rng.h: the seeded random stream of everything Strata generates (the two-hop
 * dataset, the trainer's initialisation and data order): xoshiro256** (Blackman and Vigna
 * 2018) seeded through splitmix64. The same seed gives the same numbers on every platform:
 * integers below n by rejection (no modulo bias), floating point only where a caller asks
 * for a uniform double. */
#pragma once

#include <glib.h>

typedef struct {
  guint64 s[4];
} StrataRng;

static inline guint64
strata_splitmix64 (guint64 *x)
{
  guint64 z = (*x += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static inline void
strata_rng_seed (StrataRng *rng, guint64 seed)
{
  for (int i = 0; i < 4; i++)
    rng->s[i] = strata_splitmix64 (&seed);
}

static inline guint64
strata_rng_rotl (guint64 x, int k)
{
  return (x << k) | (x >> (64 - k));
}

static inline guint64
strata_rng_next (StrataRng *rng)
{
  guint64 *s = rng->s;
  guint64 result = strata_rng_rotl (s[1] * 5, 7) * 9;
  guint64 t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = strata_rng_rotl (s[3], 45);
  return result;
}

/* Uniform in [0, n), n >= 1: draws past the largest multiple of n are rejected. */
static inline guint64
strata_rng_below (StrataRng *rng, guint64 n)
{
  guint64 limit = G_MAXUINT64 - G_MAXUINT64 % n;
  guint64 x;
  do
    x = strata_rng_next (rng);
  while (x >= limit);
  return x % n;
}

/* Uniform in [0, 1) with 53 bits. */
static inline double
strata_rng_uniform (StrataRng *rng)
{
  return (double) (strata_rng_next (rng) >> 11) * 0x1.0p-53;
}
