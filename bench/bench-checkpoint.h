/* bench-checkpoint.h: seeded GPT-2-shaped Hugging Face checkpoints for the benchmarks. */
#pragma once

#include <glib.h>

#include "strata-backend.h"
#include "strata-model.h"

typedef struct {
  int n_layers; /* L */
  int d_model;  /* C */
  int n_heads;  /* H */
  int vocab;    /* V */
  int n_ctx;    /* N */
} StrataBenchGpt2;

/* The device a benchmark runs on, by the policy of every `strata` command
 * (strata_device_choose): `--device auto|cpu|cuda` (or `--device=NAME`), taken out of argv,
 * else STRATA_DEVICE, else auto. Prints the device and why on stdout (auto's CPU fallback
 * on stderr too); NULL after printing the reason on stderr when it cannot run there. */
const StrataBackend *strata_bench_device (const char *prog, int *argc, char **argv);

/* Best single-precision GFLOP/s of OpenBLAS on large square products (2048³): the
 * machine's practical matrix-multiply peak, measured in the benchmark's own run. */
double strata_bench_sgemm_peak (void);

/* Seeded normal values (Box-Muller over a xorshift generator): the same sequence every
 * run, shared by every caller in the process. */
float strata_bench_normal (float std);

/* Write config.json and model.safetensors (every tensor F32, normal(0.02) weights, gains
 * around 1) into dir, which must exist. */
gboolean strata_bench_write_gpt2 (const char *dir, const StrataBenchGpt2 *shape, GError **error);

/* A Llama-shaped checkpoint (RMSNorm, SwiGLU, GQA, untied) in BF16. */
typedef struct {
  const char *name;
  int n_layers, d_model, n_heads, n_kv_heads, d_mlp, vocab, n_ctx;
} StrataBenchLlama;

/* Llama-3.2-1B and Llama-3-8B shapes (16 x 2048, 32/8 heads, MLP 8192; 32 x 4096, 32/8 heads,
 * MLP 14336; vocabulary 128256). */
extern const StrataBenchLlama strata_bench_llama_1b, strata_bench_llama_8b;

/* Write config.json, model-0000k-of-0000n.safetensors shards of about 4 GB and
 * model.safetensors.index.json into dir (which must exist), every tensor BF16. The weights
 * are normal(0.02) (norm gains 1) drawn once into a 64 Mi-value pool and read from it at a
 * seeded offset per tensor: a model for measuring time and memory, quickly written. */
gboolean strata_bench_write_llama (const char *dir, const StrataBenchLlama *shape, GError **error);

/* Write a GGUF file of the same shape (architecture llama, BOS/EOS ids but no vocabulary)
 * whose matrices are blocks of `quant` (Q4_0, Q8_0, Q4_K, ...), the output matrix Q6_K as
 * llama.cpp's quantizer keeps it, norm gains F32 1. Every block is random (its F16 scales small and finite), read
 * from a 64 MiB pool at a seeded offset per tensor. */
gboolean strata_bench_write_llama_gguf (const char *path, const StrataBenchLlama *shape, StrataDType quant,
                                        GError **error);

/* The GPT-2-small shape every benchmark uses (12 layers, 768 wide, 12 heads, vocabulary
 * 50257, 1024 positions), written to a temporary folder and opened. */
extern const StrataBenchGpt2 strata_bench_gpt2_small;
StrataModel *strata_bench_open_gpt2_small (GError **error);
