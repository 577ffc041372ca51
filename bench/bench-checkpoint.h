/* bench-checkpoint.h: seeded GPT-2-shaped Hugging Face checkpoints for the benchmarks. */
#pragma once

#include <glib.h>

#include "strata-model.h"

typedef struct {
  int n_layers; /* L */
  int d_model;  /* C */
  int n_heads;  /* H */
  int vocab;    /* V */
  int n_ctx;    /* N */
} StrataBenchGpt2;

/* Seeded normal values (Box-Muller over a xorshift generator): the same sequence every
 * run, shared by every caller in the process. */
float strata_bench_normal (float std);

/* Write config.json and model.safetensors (every tensor F32, normal(0.02) weights, gains
 * around 1) into dir, which must exist. */
gboolean strata_bench_write_gpt2 (const char *dir, const StrataBenchGpt2 *shape, GError **error);

/* The GPT-2-small shape every benchmark uses (12 layers, 768 wide, 12 heads, vocabulary
 * 50257, 1024 positions), written to a temporary folder and opened. */
extern const StrataBenchGpt2 strata_bench_gpt2_small;
StrataModel *strata_bench_open_gpt2_small (GError **error);
