/* strata_generate_prompt: the analysed sequence of a generation (the prompt's ids, then the
 * continuation, counted in n_generated), checked against llama2.c's published greedy output
 * for stories260K; and a cancelled generation, between tokens and in the middle of a pass,
 * keeping exactly the tokens it had made (the window's Generate relies on both); and the
 * sampler's nucleus against its definition, a sort of the whole vocabulary. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "counting-backend.h"
#include "strata-generate.h"
#include "strata-probes-private.h"
#include "test-probe-util.h"

static StrataPromptSet *
single (StrataModel *m, const char *text, const char *corrupt)
{
  g_autoptr (GError) error = NULL;
  StrataPromptSet *set = strata_prompt_set_new_single (m, text, NULL, 0, corrupt, NULL, NULL, &error);
  g_assert_no_error (error);
  return set;
}

/* Greedy from BOS: the continuation reads as llama2.c's run.c prints it (its test_all.py
 * expected_stdout; run.c drops the space SentencePiece puts before the first word). */
static void
test_greedy_matches_llama2c (void)
{
  g_autoptr (StrataModel) m = probe_open ("stories260K/stories260K.bin");
  StrataEngine *e = probe_engine (m);
  g_autofree char *expected_path = probe_data_path ("stories260K/llama2c-expected-stdout.txt");
  g_autofree char *expected = NULL;
  g_assert_true (g_file_get_contents (expected_path, &expected, NULL, NULL));
  g_autoptr (StrataPromptSet) set = single (m, "", NULL);
  StrataPrompt *p = set->prompts->pdata[0];
  g_assert_cmpuint (p->ids->len, ==, 1);
  g_assert_cmpint (g_array_index (p->ids, int32_t, 0), ==, m->bos_id);
  StrataGenerateOptions go = { .n = 40, .top_p = 1 };
  g_autoptr (GError) error = NULL;
  g_assert_true (strata_generate_prompt (e, m, p, &go, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (p->n_generated, ==, 40);
  g_assert_cmpuint (p->ids->len, ==, 41);
  g_assert_cmpint (g_array_index (p->ids, int32_t, 0), ==, m->bos_id);
  g_autofree char *text = strata_tokenizer_decode (m->tokenizer, (const int32_t *) p->ids->data + 1, 40);
  g_assert_true (text[0] == ' ');
  g_test_message ("40 greedy tokens: \"%s\"", text + 1);
  g_assert_true (g_str_has_prefix (expected, text + 1));
  strata_engine_free (e);
}

/* The prompt's ids stay in front; a corrupted input, which no longer matches the longer
 * sequence, is dropped. */
static void
test_prompt_kept (void)
{
  g_autoptr (StrataModel) m = probe_open ("stories260K/stories260K.bin");
  StrataEngine *e = probe_engine (m);
  g_autoptr (StrataPromptSet) set = single (m, "One day, Lily met a", "One day, Tim met a");
  StrataPrompt *p = set->prompts->pdata[0];
  g_assert_nonnull (p->corrupt_ids);
  g_autoptr (GArray) before = g_array_copy (p->ids);
  StrataGenerateOptions go = { .n = 5, .top_p = 1 };
  g_autoptr (GError) error = NULL;
  g_assert_true (strata_generate_prompt (e, m, p, &go, NULL, NULL, &error));
  g_assert_cmpint (p->n_generated, ==, 5);
  g_assert_cmpuint (p->ids->len, ==, before->len + 5);
  g_assert_cmpmem (p->ids->data, before->len * sizeof (int32_t), before->data, before->len * sizeof (int32_t));
  g_assert_null (p->corrupt_ids);
  strata_engine_free (e);
}

typedef struct {
  GCancellable *cancel;
  guint after;   /* cancel once this many tokens have come */
  guint seen;
} CancelAfter;

static gboolean
cancel_after_cb (int32_t id, gpointer data)
{
  CancelAfter *c = data;
  if (++c->seen == c->after)
    g_cancellable_cancel (c->cancel);
  return TRUE;
}

/* Generate from "One day, Lily met a" on `e` with `go`; the prompt with what it made. */
static StrataPromptSet *
generate_cancelled (StrataEngine *e, StrataModel *m, StrataGenerateOptions *go, CancelAfter *after)
{
  StrataPromptSet *set = single (m, "One day, Lily met a", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_false (strata_generate_prompt (e, m, set->prompts->pdata[0], go, after ? cancel_after_cb : NULL, after,
                                          &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (strata_engine_should_abort (e), ==, 0); /* the generation's abort function is gone */
  return set;
}

/* The first `n` generated ids of `p` are those of the uncancelled run `full`. */
static void
assert_prefix (const StrataPrompt *p, const StrataPrompt *full, int n)
{
  g_assert_cmpint (p->n_generated, ==, n);
  g_assert_cmpuint (p->ids->len, ==, full->ids->len - (guint) full->n_generated + (guint) n);
  g_assert_cmpmem (p->ids->data, p->ids->len * sizeof (int32_t), full->ids->data, p->ids->len * sizeof (int32_t));
}

/* Cancelled after the 3rd token, in the middle of the 4th pass, and before the first: the
 * run fails with G_IO_ERROR_CANCELLED and keeps the 3, 3 and 0 tokens it had; in the middle
 * of a pass it stops within one layer's work. Each pass runs the same number of matrix
 * products (the counting backend's), whatever the length. */
static void
test_cancel_keeps_tokens (void)
{
  g_autoptr (StrataModel) m = probe_open ("stories260K/stories260K.bin");
  StrataEngine *e = counting_engine (m->weights);
  const int n = 6;
  StrataGenerateOptions go = { .n = n, .top_p = 1 };
  g_autoptr (GError) error = NULL;

  counting_reset (0);
  strata_engine_set_abort (e, counting_abort_cb, NULL);
  g_autoptr (StrataPromptSet) full_set = single (m, "One day, Lily met a", NULL);
  const StrataPrompt *full = full_set->prompts->pdata[0];
  g_assert_true (strata_generate_prompt (e, m, full_set->prompts->pdata[0], &go, NULL, NULL, &error));
  g_assert_no_error (error);
  strata_engine_set_abort (e, NULL, NULL);
  g_assert_cmpint (full->n_generated, ==, n);
  guint total = counting.linear_calls, pass = total / n, layer = counting_layer_work ();
  g_assert_cmpuint (pass * n, ==, total);
  g_test_message ("%u products a pass, at most %u between two abort checks", pass, layer);

  g_autoptr (GCancellable) c1 = g_cancellable_new ();
  CancelAfter after = { c1, 3, 0 };
  go.cancellable = c1;
  counting_reset (0);
  g_autoptr (StrataPromptSet) s1 = generate_cancelled (e, m, &go, &after);
  assert_prefix (s1->prompts->pdata[0], full, 3);
  g_assert_cmpuint (counting.linear_calls, ==, 3 * pass); /* no 4th pass began */

  g_autoptr (GCancellable) c2 = g_cancellable_new ();
  go.cancellable = c2;
  counting_reset (0);
  counting.cancel = c2;
  counting.cancel_at = 3 * pass + pass / 2;
  g_autoptr (StrataPromptSet) s2 = generate_cancelled (e, m, &go, NULL);
  assert_prefix (s2->prompts->pdata[0], full, 3);
  g_test_message ("cancelled in product %u: %u more after it (a layer: %u)", counting.cancel_at,
                  counting.linear_calls - counting.cancel_at, layer);
  g_assert_cmpuint (counting.linear_calls - counting.cancel_at, <=, layer);

  g_autoptr (GCancellable) c3 = g_cancellable_new ();
  g_cancellable_cancel (c3);
  go.cancellable = c3;
  counting_reset (0);
  g_autoptr (StrataPromptSet) s3 = generate_cancelled (e, m, &go, NULL);
  assert_prefix (s3->prompts->pdata[0], full, 0);
  g_assert_cmpuint (counting.linear_calls, ==, 0);

  g_clear_pointer (&counting.linear_at_abort, g_array_unref);
  strata_engine_free (e);
}

/* Nucleus sampling as defined: every token's exp((logit - max) / t), the vocabulary sorted by
 * it (ties by id), the shortest prefix whose mass reaches top_p of the total, and a walk along
 * that prefix against one uniform draw scaled to its mass. */
static int
by_probability (const void *a, const void *b)
{
  const StrataCandidate *x = a, *y = b;
  if (x->p != y->p)
    return x->p < y->p ? 1 : -1;
  return x->id - y->id;
}

static int32_t
sample_by_sorting (const float *logits, int V, double t, double top_p, GRand *rng)
{
  g_autofree StrataCandidate *c = g_new (StrataCandidate, V);
  float max = logits[0];
  for (int v = 1; v < V; v++)
    max = MAX (max, logits[v]);
  double sum = 0;
  for (int v = 0; v < V; v++) {
    c[v] = (StrataCandidate) { exp ((logits[v] - max) / t), v };
    sum += c[v].p;
  }
  qsort (c, (size_t) V, sizeof *c, by_probability);
  int kept = 0;
  double mass = 0;
  while (kept < V && (kept == 0 || mass < top_p * sum))
    mass += c[kept++].p;
  double u = g_rand_double (rng) * mass, acc = 0;
  for (int i = 0; i < kept; i++) {
    acc += c[i].p;
    if (u < acc)
      return c[i].id;
  }
  return c[kept - 1].id;
}

/* The sampler draws what the definition draws, with the same generator state, over peaked
 * and flat logits, repeated values (ties), a vocabulary of one, and top_p from a sliver to 1. */
static void
test_sampler_matches_definition (void)
{
  const int sizes[] = { 1, 2, 7, 512, 5003 };
  const double top_ps[] = { 1e-9, 0.1, 0.5, 0.9, 0.95, 1.0 };
  const double temps[] = { 0.3, 1.0, 2.5 };
  guint draws = 0;
  for (guint si = 0; si < G_N_ELEMENTS (sizes); si++) {
    int V = sizes[si];
    g_autofree float *logits = g_new (float, V);
    g_autofree StrataCandidate *scratch = g_new (StrataCandidate, V);
    for (int trial = 0; trial < 8; trial++) {
      for (int v = 0; v < V; v++) /* even trials: coarse values, so many tie */
        logits[v] = trial % 2 ? (float) g_test_rand_double_range (-12, 12) : (float) g_test_rand_int_range (-3, 3);
      for (guint pi = 0; pi < G_N_ELEMENTS (top_ps); pi++)
        for (guint ti = 0; ti < G_N_ELEMENTS (temps); ti++) {
          guint32 seed = g_test_rand_int ();
          g_autoptr (GRand) a = g_rand_new_with_seed (seed), b = g_rand_new_with_seed (seed);
          for (int k = 0; k < 4; k++, draws++)
            g_assert_cmpint (_strata_sample (logits, V, temps[ti], top_ps[pi], a, scratch), ==,
                             sample_by_sorting (logits, V, temps[ti], top_ps[pi], b));
        }
    }
  }
  g_test_message ("%u draws equal to the definition's", draws);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/probes/generate/greedy-matches-llama2c", test_greedy_matches_llama2c);
  g_test_add_func ("/probes/generate/sampler-matches-definition", test_sampler_matches_definition);
  g_test_add_func ("/probes/generate/prompt-kept", test_prompt_kept);
  g_test_add_func ("/probes/generate/cancel-keeps-tokens", test_cancel_keeps_tokens);
  return g_test_run ();
}
