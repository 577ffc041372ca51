/* bench-large: a checkpoint whose F32 copy does not fit in this machine's memory, on the CPU.
 *
 *   bench-large [--device auto|cpu|cuda] [1b|8b] [DIR]
 *
 * Writes a Llama-shaped BF16 checkpoint into DIR (default: a folder in the temporary
 * directory; kept, and reused when its config.json is there) in shards with an index, then
 * opens it as the CLI does (matrices kept in BF16 on a GPU, and on the CPU when the F32 copy
 * would take more than half of the available memory), creates the engine on the chosen device (on the CPU it converts the 16-bit matrices per
 * product when it cannot afford the copy) and runs the logit lens on 16 tokens. Prints each
 * step's time, the peak resident memory against the F32 copy's size and the memory the system
 * had available, and the lens's top token at the last position. A benchmark, not a test. */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "bench-checkpoint.h"
#include "strata-lens.h"

static double
seconds_since (gint64 t0)
{
  return (g_get_monotonic_time () - t0) / 1e6;
}

static double
peak_rss_gb (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1e6; /* KiB on Linux */
}

int
main (int argc, char **argv)
{
  const StrataBackend *be = strata_bench_device ("bench-large", &argc, argv);
  if (!be)
    return 1;
  const StrataBenchLlama *shape = argc > 1 && strcmp (argv[1], "1b") == 0 ? &strata_bench_llama_1b : &strata_bench_llama_8b;
  g_autofree char *dir = argc > 2 ? g_strdup (argv[2]) : g_build_filename (g_get_tmp_dir (), shape->name, NULL);
  g_autofree char *config = g_build_filename (dir, "config.json", NULL);
  g_autoptr (GError) error = NULL;
  double available = strata_memory_available () / 1e9;
  printf ("bench-large: %s shape (%d layers, %d wide, %d/%d heads, MLP %d, vocabulary %d), %.1f GB available\n",
          shape->name, shape->n_layers, shape->d_model, shape->n_heads, shape->n_kv_heads, shape->d_mlp, shape->vocab,
          available);
  if (!g_file_test (config, G_FILE_TEST_EXISTS)) {
    g_mkdir_with_parents (dir, 0755);
    printf ("writing the BF16 checkpoint to %s ...\n", dir);
    gint64 t0 = g_get_monotonic_time ();
    if (!strata_bench_write_llama (dir, shape, &error)) {
      fprintf (stderr, "bench-large: %s\n", error->message);
      return 1;
    }
    printf ("written in %.1f s\n", seconds_since (t0));
  }

  gint64 t0 = g_get_monotonic_time ();
  StrataOpenOptions oo = { NULL, strata_matrix_policy_for (be), be };
  g_autoptr (StrataModel) m = strata_model_open_with (dir, &oo, &error);
  if (!m) {
    fprintf (stderr, "bench-large: %s\n", error->message);
    return 1;
  }
  double f32_gb = strata_weights_size_as (m->weights, STRATA_DTYPE_F32) / 1e9;
  printf ("open (validate, load; the sha256 too unless it runs on its own thread): %.1f s; matrices held as %s, %.1f GB (the F32 copy: %.1f GB); peak RSS %.1f GB\n",
          seconds_since (t0), strata_dtype_to_string (m->weights->tok_embed.dtype), m->weights->arena_bytes / 1e9,
          f32_gb, peak_rss_gb ());

  StrataStatus st;
  t0 = g_get_monotonic_time ();
  StrataEngine *e = strata_engine_new (be, m->weights, &st);
  if (!e) {
    fprintf (stderr, "bench-large: engine on %s: %s\n", be->name, strata_status_to_string (st));
    return 1;
  }
  printf ("engine: %.1f s, %s\n", seconds_since (t0),
          strata_engine_converts_per_product (e) ? "16-bit matrices converted per product" : "F32 matrices");

  enum { T = 16 };
  StrataPrompt p = { 0 };
  p.ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  p.targets = g_array_new (FALSE, FALSE, sizeof (StrataTarget));
  for (int t = 0; t < T; t++) {
    int32_t id = (int32_t) ((t * 7919u + 128000u) % (unsigned) shape->vocab);
    g_array_append_val (p.ids, id);
  }
  StrataLensOptions lo = { .topk = 5, .threshold = 0.5 };
  t0 = g_get_monotonic_time ();
  g_autoptr (StrataLensResult) r = strata_lens_run (e, m, &p, &lo, &error);
  if (!r) {
    fprintf (stderr, "bench-large: lens: %s\n", error->message);
    return 1;
  }
  double lens_s = seconds_since (t0), peak = peak_rss_gb ();
  gsize last = ((gsize) r->n_layers * r->T + r->T - 1) * r->topk;
  printf ("lens on %d tokens (%d residual points): %.1f s; top token at the last position: #%d (p = %.3g)\n", T,
          r->n_layers + 1, lens_s, r->topk_ids[last], r->topk_prob[last]);
  t0 = g_get_monotonic_time ();
  const char *sha = strata_model_get_weights_sha256 (m);
  printf ("sha256 of the shards %.12s...: waited %.1f s for it after the lens\n", sha ? sha : "", seconds_since (t0));
  printf ("peak RSS %.1f GB = %.2f of the F32 copy (%.1f GB), %.2f of the memory available at the start (%.1f GB)\n",
          peak, peak / f32_gb, f32_gb, peak / available, available);
  g_array_unref (p.ids);
  g_array_unref (p.targets);
  strata_engine_free (e);
  return 0;
}
