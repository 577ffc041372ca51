/* bench-large: a checkpoint whose F32 copy does not fit in this machine's memory, on the CPU.
 *
 *   bench-large [--device auto|cpu|cuda] [1b|8b] [bf16|q4_0|q8_0|q4_k] [DIR]
 *
 * Writes a Llama-shaped checkpoint into DIR (default: a folder in the temporary directory;
 * kept, and reused when its config.json or GGUF file is there): BF16 safetensors shards with
 * an index, or one GGUF file of random blocks of that quantization (output matrix Q6_K), then
 * opens it as the CLI does (matrices kept as stored on the CPU when the F32 copy would take more
 * than half of the available memory; kept as stored on a GPU),
 * creates the engine on the chosen device (on the CPU it decodes the stored matrices per
 * product when it cannot afford the copy), runs the logit lens on 16 tokens, then 4 greedy
 * decode steps with a KV cache after them. Prints each step's time, the peak resident memory against the F32 copy's size and the memory the system
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
  static const struct {
    const char *name, *label;
    StrataDType dtype;
  } stored_as[] = { { "bf16", "BF16 safetensors", STRATA_DTYPE_BF16 }, { "q4_0", "Q4_0 GGUF", STRATA_DTYPE_Q4_0 },
                    { "q8_0", "Q8_0 GGUF", STRATA_DTYPE_Q8_0 }, { "q4_k", "Q4_K GGUF", STRATA_DTYPE_Q4_K } };
  gsize kind = 0;
  while (argc > 2 && kind + 1 < G_N_ELEMENTS (stored_as) && strcmp (argv[2], stored_as[kind].name) != 0)
    kind++;
  gboolean named = argc > 2 && strcmp (argv[2], stored_as[kind].name) == 0, gguf = kind > 0;
  const char *dir_arg = argc > (named ? 3 : 2) ? argv[named ? 3 : 2] : NULL;
  g_autofree char *leaf = gguf ? g_strdup_printf ("%s-%s", shape->name, stored_as[kind].name) : g_strdup (shape->name);
  g_autofree char *dir = dir_arg ? g_strdup (dir_arg) : g_build_filename (g_get_tmp_dir (), leaf, NULL);
  g_autofree char *gguf_file = g_strdup_printf ("model-%s.gguf", stored_as[kind].name);
  g_autofree char *model_path = gguf ? g_build_filename (dir, gguf_file, NULL) : g_strdup (dir);
  g_autofree char *config = gguf ? g_strdup (model_path) : g_build_filename (dir, "config.json", NULL);
  g_autoptr (GError) error = NULL;
  double available = strata_memory_available () / 1e9;
  printf ("bench-large: %s shape (%d layers, %d wide, %d/%d heads, MLP %d, vocabulary %d), stored as %s, %.1f GB "
          "available\n", shape->name, shape->n_layers, shape->d_model, shape->n_heads, shape->n_kv_heads, shape->d_mlp,
          shape->vocab, stored_as[kind].label, available);
  if (!g_file_test (config, G_FILE_TEST_EXISTS)) {
    g_mkdir_with_parents (dir, 0755);
    printf ("writing the checkpoint to %s ...\n", gguf ? model_path : dir);
    gint64 t0 = g_get_monotonic_time ();
    if (gguf ? !strata_bench_write_llama_gguf (model_path, shape, stored_as[kind].dtype, &error)
             : !strata_bench_write_llama (dir, shape, &error)) {
      fprintf (stderr, "bench-large: %s\n", error->message);
      return 1;
    }
    printf ("written in %.1f s\n", seconds_since (t0));
  }

  gint64 t0 = g_get_monotonic_time ();
  StrataOpenOptions oo = { NULL, strata_matrix_policy_for (be), be };
  g_autoptr (StrataModel) m = strata_model_open_with (model_path, &oo, &error);
  if (!m) {
    fprintf (stderr, "bench-large: %s\n", error->message);
    return 1;
  }
  double f32_gb = strata_weights_size_as (m->weights, STRATA_DTYPE_F32) / 1e9;
  char held[128];
  strata_weights_dtypes_string (m->weights, held, sizeof held);
  printf ("open (validate, load; the sha256 too unless it runs on its own thread): %.1f s; matrices held as %s, %.1f GB (the F32 copy: %.1f GB); peak RSS %.1f GB\n",
          seconds_since (t0), held, m->weights->arena_bytes / 1e9, f32_gb, peak_rss_gb ());

  StrataStatus st;
  t0 = g_get_monotonic_time ();
  StrataEngine *e = strata_engine_new (be, m->weights, &st);
  if (!e) {
    fprintf (stderr, "bench-large: engine on %s: %s\n", be->name, strata_status_to_string (st));
    return 1;
  }
  printf ("engine: %.1f s, %s\n", seconds_since (t0),
          strata_engine_converts_per_product (e) ? "stored matrices decoded per product" : "F32 matrices");

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
  /* Greedy decode steps with a KV cache (as strata generate runs), after the prompt's prefill. */
  enum { STEPS = 4 };
  StrataKVCache *cache = strata_kv_cache_new (e, T + STEPS);
  g_autofree float *logits = g_new (float, shape->vocab);
  int32_t next = 0;
  gboolean stepped = cache && strata_engine_step (e, cache, (const int32_t *) p.ids->data, T, logits) == STRATA_OK;
  t0 = g_get_monotonic_time ();
  for (int s = 0; stepped && s < STEPS; s++) {
    for (int v = 1; v < shape->vocab; v++)
      next = logits[v] > logits[next] ? v : next;
    stepped = strata_engine_step (e, cache, &next, 1, logits) == STRATA_OK;
  }
  if (!stepped) {
    fprintf (stderr, "bench-large: decode step: %s\n", strata_engine_get_error (e));
    return 1;
  }
  printf ("decode steps with a KV cache: %.2f s a token (%d steps)\n", seconds_since (t0) / STEPS, STEPS);
  strata_kv_cache_free (cache);
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
