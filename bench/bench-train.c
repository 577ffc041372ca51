/* bench-train: training throughput of the GPT-2 trainer (strata-train.h) at the two-hop
 * study's shape (6 layers, 128 wide, 4 heads, vocabulary 342, 8 positions; seeded random
 * weights written here as a Hugging Face checkpoint) and its batch of 512 sequences, one
 * full step (forward, backward, AdamW) at a time, against this machine's single-precision
 * matrix-multiply peak measured in the same run. Prints tokens per second and the ratio;
 * it is a benchmark, not a test. */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>

#include "bench-checkpoint.h"
#include "strata-model.h"
#include "strata-train.h"

enum { L = 6, C = 128, H = 4, V = 342, T = 8, B = 512, PROMPT = 4, STEPS = 6 };

int
main (int argc, char **argv)
{
  const StrataBackend *be = strata_bench_device ("bench-train", &argc, argv);
  if (!be)
    return 1;
  const StrataBenchGpt2 shape = { L, C, H, V, T };
  g_autofree char *dir = g_build_filename (g_get_tmp_dir (), "strata-bench-twohop-shape", NULL);
  g_mkdir_with_parents (dir, 0755);
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) m = strata_bench_write_gpt2 (dir, &shape, &error) ? strata_model_open (dir, NULL, &error)
                                                                            : NULL;
  if (!m) {
    fprintf (stderr, "bench-train: %s\n", error->message);
    return 1;
  }
  StrataStatus st;
  StrataEngine *e = strata_engine_new (be, m->weights, &st);
  StrataTrainer *t = e ? strata_trainer_new (e, &st) : NULL;
  if (!t) {
    fprintf (stderr, "bench-train: %s\n", e ? strata_engine_get_error (e) : strata_status_to_string (st));
    return 1;
  }
  /* Sequences of T tokens; the loss counts the positions after a PROMPT-token prompt, as the
   * study's loss covers the generated tokens only. */
  static int32_t tokens[B * T], targets[B * T];
  for (int i = 0; i < B * T; i++)
    tokens[i] = (int32_t) ((i * 7919u + 13) % V);
  for (int i = 0; i < B * T; i++)
    targets[i] = i % T >= PROMPT - 1 && i % T < T - 1 ? tokens[i + 1] : -1;
  const StrataAdamW opt = { .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.1,
                            .max_grad_norm = 1.0, .warmup_steps = 300, .schedule = STRATA_LR_CONSTANT };

  double peak = strata_bench_sgemm_peak ();
  double best = 1e9, loss = 0;
  for (int s = 0; s < STEPS; s++) { /* the first step warms up; take the best */
    gint64 t0 = g_get_monotonic_time ();
    if (strata_trainer_zero_grads (t) != STRATA_OK ||
        strata_trainer_loss_grad (t, tokens, targets, B, T, 1.0f, NULL, 0, &loss) != STRATA_OK ||
        strata_trainer_step (t, &opt, NULL) != STRATA_OK) {
      fprintf (stderr, "bench-train: %s\n", strata_engine_get_error (e));
      return 1;
    }
    best = MIN (best, (g_get_monotonic_time () - t0) / 1e6);
  }
  /* Matrix-product FLOPs of the forward as the CPU runs it: q k v o (4C²) and the MLP (8C²)
   * per layer and token, both attention products over the full T × T, the unembedding;
   * the backward runs two products (input and weight gradients) for each of them. */
  double R = (double) B * T;
  double forward = 2.0 * R * L * 12.0 * C * C + 4.0 * B * (double) T * T * C * L + 2.0 * R * V * C;
  double gflops = 3.0 * forward / best / 1e9;
  printf ("machine sgemm peak (2048^3, OpenBLAS): %.1f GFLOP/s\n", peak);
  printf ("training step on %s, two-hop shape (%d layers, %d wide), batch %d x %d tokens: %.1f ms, "
          "%.0f tokens/s, %.1f GFLOP/s (loss %.3f)\n", be->name, L, C, B, T, best * 1e3, R / best, gflops, loss);
  printf ("fraction of the CPU's sgemm peak: %.2f\n", gflops / peak);
  strata_trainer_free (t);
  strata_engine_free (e);
  return 0;
}
