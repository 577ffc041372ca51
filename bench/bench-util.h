/* bench-util.h: what the benchmarks share. */
#pragma once

#include <glib.h>

/* Seeded normal values (Box-Muller over a xorshift generator): reproducible weights. */
extern guint64 bench_rng;
float bench_normal (float std);

/* Write a seeded GPT-2 checkpoint (L layers, width C, H heads, vocabulary V, N_CTX
 * positions) into the existing folder `dir`. */
gboolean bench_write_gpt2 (const char *dir, int L, int C, int H, int V, int N_CTX, GError **error);
