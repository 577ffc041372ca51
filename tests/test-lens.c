/* test-lens: the logit lens against float64 torch goldens (tools/reference/
 * make_probe_goldens.py) on seeded GPT-2 and Llama checkpoints, the invariant lens(L) =
 * logits on stories260K, resolution layers and aggregates over a tagged set, and the chunk
 * hook's partial results on a long trace. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "strata-lens.h"
#include "test-probe-util.h"

static void
check_golden (gconstpointer data)
{
  const char *name = data;
  g_autofree char *dir = g_strdup_printf ("probe-golden/%s", name);
  g_autofree char *gold = g_strdup_printf ("probe-golden/%s/probe-golden.json", name);
  g_autoptr (StrataModel) m = probe_open (dir);
  StrataEngine *e = probe_engine (m);
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *g = probe_golden (gold, &parser);
  g_autoptr (GArray) ids = probe_json_ids (g, "clean_ids");
  g_autofree char *target = g_strdup_printf ("#%" G_GINT64_FORMAT, json_object_get_int_member (g, "target"));
  const char *const targets[] = { target, NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataPromptSet) set = strata_prompt_set_new_single (m, NULL, (int32_t *) ids->data, (int) ids->len,
                                                                  NULL, targets, NULL, &error);
  g_assert_no_error (error);
  StrataLensOptions o = { .topk = 5, .threshold = 0.5 };
  g_autoptr (StrataLensResult) r = strata_lens_run (e, m, set->prompts->pdata[0], &o, &error);
  g_assert_no_error (error);
  JsonObject *lens = json_object_get_object_member (g, "lens");
  JsonArray *prob = json_object_get_array_member (lens, "prob");
  JsonArray *logprob = json_object_get_array_member (lens, "logprob");
  JsonArray *rank = json_object_get_array_member (lens, "rank");
  JsonArray *top5 = json_object_get_array_member (lens, "top5");
  const StrataLensTarget *t = r->targets->pdata[0];
  double worst = 0;
  g_assert_cmpint (json_array_get_length (prob), ==, r->n_layers + 1);
  for (int k = 0; k <= r->n_layers; k++)
    for (int p = 0; p < r->T; p++) {
      int row = k * r->T + p;
      worst = MAX (worst, fabs (t->prob[row] - probe_json_at (prob, k, p)));
      g_assert_cmpfloat_with_epsilon (t->prob[row], probe_json_at (prob, k, p), 1e-4);
      g_assert_cmpfloat_with_epsilon (t->logprob[row], probe_json_at (logprob, k, p), 1e-4);
      g_assert_cmpint (t->rank[row], ==, (int) probe_json_at (rank, k, p));
      JsonArray *want = json_array_get_array_element (json_array_get_array_element (top5, k), p);
      for (int j = 0; j < 5; j++)
        g_assert_cmpint (r->topk_ids[row * 5 + j], ==, json_array_get_int_element (want, j));
    }
  g_test_message ("%s: largest probability difference %.3g", name, worst);
  strata_engine_free (e);
}

/* Lens at k = L equals the model's logits; the raw lens is a different thing. */
static void
test_last_equals_logits (void)
{
  g_autoptr (StrataModel) m = probe_open ("stories260K/stories260K.bin");
  StrataEngine *e = probe_engine (m);
  g_autoptr (GError) error = NULL;
  const char *const targets[] = { "She", "He", NULL };
  g_autoptr (StrataPromptSet) set = strata_prompt_set_new_single (m, "Lily went to the park.", NULL, 0, NULL,
                                                                  targets, NULL, &error);
  g_assert_no_error (error);
  StrataPrompt *p = set->prompts->pdata[0];
  int T = (int) p->ids->len, V = m->weights->cfg.vocab, L = m->weights->cfg.n_layers;
  g_autofree float *logits = g_new (float, (gsize) T * V);
  g_assert_cmpint (strata_engine_forward (e, (int32_t *) p->ids->data, 1, T, NULL, logits), ==, STRATA_OK);
  StrataLensOptions o = { .topk = 3, .threshold = 0.5 };
  g_autoptr (StrataLensResult) r = strata_lens_run (e, m, p, &o, &error);
  g_assert_no_error (error);
  for (int q = 0; q < T; q++) {
    const float *row = logits + (gsize) q * V;
    /* Top-3 at the last residual point = the three largest logits. */
    for (int j = 0; j < 3; j++)
      g_assert_cmpfloat (r->topk_logit[((gsize) L * T + q) * 3 + j], ==, row[r->topk_ids[((gsize) L * T + q) * 3 + j]]);
    for (guint i = 0; i < r->targets->len; i++) {
      const StrataLensTarget *t = r->targets->pdata[i];
      g_assert_cmpfloat (t->logit[L * T + q], ==, row[t->id]);
      int greater = 0;
      for (int v = 0; v < V; v++)
        greater += row[v] > row[t->id];
      g_assert_cmpint (t->rank[L * T + q], ==, greater);
    }
  }
  /* After "Lily went to the park." the model says " She" rather than " He". */
  const StrataLensTarget *she = strata_lens_result_get_target (r, "She");
  const StrataLensTarget *he = strata_lens_result_get_target (r, "He");
  g_assert_cmpfloat (she->prob[L * T + T - 1], >, he->prob[L * T + T - 1]);
  g_assert_cmpint (she->rank[L * T + T - 1], <, he->rank[L * T + T - 1]);
  /* Resolution: -1 or a layer from which the target stays top-1. */
  for (int q = 0; q < T; q++) {
    int res = she->resolution[q];
    if (res >= 0)
      for (int k = res; k <= L; k++)
        g_assert_cmpint (she->rank[k * T + q], ==, 0);
    else
      g_assert_cmpint (she->rank[L * T + q], !=, 0);
  }
  /* The raw lens skips the final norm: at k = L it differs from the logits. */
  StrataLensOptions raw = { .topk = 3, .raw = TRUE, .threshold = 0.5 };
  g_autoptr (StrataLensResult) rr = strata_lens_run (e, m, p, &raw, &error);
  g_assert_cmpfloat (fabs (((StrataLensTarget *) rr->targets->pdata[0])->logit[L * T] - she->logit[L * T]), >, 1e-3);
  /* Bad options. */
  StrataLensOptions bad = { .topk = 0 };
  g_assert_null (strata_lens_run (e, m, p, &bad, &error));
  g_assert_nonnull (error);
  strata_engine_free (e);
}

static void
test_aggregate (void)
{
  g_autoptr (StrataModel) m = probe_open ("stories260K/stories260K.bin");
  StrataEngine *e = probe_engine (m);
  g_autoptr (StrataPromptSet) set = probe_prompt_set (m,
      "{\"prompt\": \"Lily went to the park.\", \"targets\": {\"she\": \"She\"}, \"positions\": {\"end\": -1}, \"tags\": \"a\"}\n"
      "{\"prompt\": \"Tim went to the park.\", \"targets\": {\"she\": \"She\"}, \"positions\": {\"end\": -1}, \"tags\": [\"b\"]}\n"
      "{\"prompt\": \"Lily and Tim\", \"targets\": {\"she\": \"She\"}, \"positions\": {\"end\": -1}, \"tags\": [\"a\"]}\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) results = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_lens_result_free);
  StrataLensOptions o = { .topk = 2, .threshold = 0.5 };
  for (guint i = 0; i < set->prompts->len; i++)
    g_ptr_array_add (results, strata_lens_run (e, m, set->prompts->pdata[i], &o, &error));
  g_autoptr (GPtrArray) agg = strata_lens_aggregate (set, results);
  g_assert_cmpuint (agg->len, ==, 3);
  const char *tags[] = { "all", "a", "b" };
  int counts[] = { 3, 2, 1 };
  for (int i = 0; i < 3; i++) {
    StrataLensAggregate *a = agg->pdata[i];
    g_assert_cmpstr (a->tag, ==, tags[i]);
    g_assert_cmpstr (a->position, ==, "end");
    g_assert_cmpint (a->n_prompts, ==, counts[i]);
  }
  /* MRR of "all" by hand. */
  StrataLensAggregate *all = agg->pdata[0];
  for (int k = 0; k <= all->n_layers; k++) {
    double mrr = 0;
    for (guint i = 0; i < results->len; i++) {
      StrataLensResult *r = results->pdata[i];
      mrr += 1.0 / (((StrataLensTarget *) r->targets->pdata[0])->rank[k * r->T + r->T - 1] + 1.0) / 3.0;
    }
    g_assert_cmpfloat_with_epsilon (all->mrr[k], mrr, 1e-12);
    if (all->resolution_layer < 0 || k < all->resolution_layer)
      g_assert_cmpfloat (all->mrr[k], <, 0.9);
  }
  int total = 0;
  for (int k = 0; k <= all->n_layers + 1; k++)
    total += all->resolution_counts[k];
  g_assert_cmpint (total, ==, 3);
  strata_engine_free (e);
}

/* Every partial result the chunk hook saw, copied. */
typedef struct {
  GPtrArray *partials;
  GArray *rows_done;
} Chunks;

static void
keep_partial_cb (const StrataLensResult *partial, int rows_done, gpointer data)
{
  Chunks *c = data;
  g_ptr_array_add (c->partials, strata_lens_result_copy (partial));
  g_array_append_val (c->rows_done, rows_done);
}

/* Rows below rows_done of a partial hold the final values bit for bit, the others read "not
 * computed" (NaN, -1); resolutions are -1 before the last chunk. */
static void
check_partial (const StrataLensResult *p, const StrataLensResult *final, int rows_done)
{
  int R = (final->n_layers + 1) * final->T, K = final->topk;
  for (int row = 0; row < R; row++) {
    gboolean done = row < rows_done;
    for (int j = 0; j < K; j++) {
      size_t c = (size_t) row * K + j;
      if (done) {
        g_assert_cmpint (p->topk_ids[c], ==, final->topk_ids[c]);
        g_assert_true (memcmp (&p->topk_prob[c], &final->topk_prob[c], sizeof (float)) == 0);
        g_assert_true (memcmp (&p->topk_logit[c], &final->topk_logit[c], sizeof (float)) == 0);
      } else {
        g_assert_cmpint (p->topk_ids[c], ==, -1);
        g_assert_true (isnan (p->topk_prob[c]) && isnan (p->topk_logit[c]));
      }
    }
    for (guint i = 0; i < final->targets->len; i++) {
      const StrataLensTarget *t = p->targets->pdata[i], *f = final->targets->pdata[i];
      if (done) {
        g_assert_true (isfinite (t->prob[row]) && isfinite (t->logprob[row]) && isfinite (t->logit[row]));
        g_assert_true (memcmp (&t->prob[row], &f->prob[row], sizeof (float)) == 0);
        g_assert_true (memcmp (&t->logit[row], &f->logit[row], sizeof (float)) == 0);
        g_assert_cmpint (t->rank[row], ==, f->rank[row]);
      } else {
        g_assert_true (isnan (t->prob[row]) && isnan (t->logprob[row]) && isnan (t->logit[row]));
        g_assert_cmpint (t->rank[row], ==, -1);
      }
    }
  }
  for (guint i = 0; i < final->targets->len && rows_done < R; i++)
    for (int pos = 0; pos < final->T; pos++)
      g_assert_cmpint (((StrataLensTarget *) p->targets->pdata[i])->resolution[pos], ==, -1);
}

/* The largest difference of two float arrays, relative to max(1, |a|). */
static double
worst_relative (const float *a, const float *b, size_t n)
{
  double worst = 0;
  for (size_t i = 0; i < n; i++)
    worst = MAX (worst, fabs ((double) a[i] - b[i]) / MAX (1.0, fabs ((double) a[i])));
  return worst;
}

/* Two lens runs of one prompt with different unembedding chunks: floats equal up to the
 * rounding of products over a different number of rows (the BLAS may round a row by the rows
 * beside it), the same top-k ids and resolutions, and target ranks that move only among
 * near-ties (a rounding of about 1e-6 reorders tokens whose logits are that close, which on
 * this prompt moves about 6% of the ranks by 1 to 3; a row misplaced by the chunking would
 * move them by hundreds and its floats by far more than 1e-5). */
static void
assert_same_result (const StrataLensResult *a, const StrataLensResult *b)
{
  size_t cells = (size_t) (a->n_layers + 1) * a->T, n = cells * a->topk;
  g_assert_cmpint (a->T, ==, b->T);
  g_assert_true (memcmp (a->topk_ids, b->topk_ids, n * sizeof (int32_t)) == 0);
  double worst = MAX (worst_relative (a->topk_prob, b->topk_prob, n), worst_relative (a->topk_logit, b->topk_logit, n));
  int moved = 0, most_moved = 0;
  g_assert_cmpuint (a->targets->len, ==, b->targets->len);
  for (guint i = 0; i < a->targets->len; i++) {
    const StrataLensTarget *s = a->targets->pdata[i], *t = b->targets->pdata[i];
    worst = MAX (worst, worst_relative (s->prob, t->prob, cells));
    worst = MAX (worst, worst_relative (s->logprob, t->logprob, cells));
    worst = MAX (worst, worst_relative (s->logit, t->logit, cells));
    for (size_t c = 0; c < cells; c++) {
      moved += s->rank[c] != t->rank[c];
      most_moved = MAX (most_moved, abs (s->rank[c] - t->rank[c]));
    }
    g_assert_true (memcmp (s->resolution, t->resolution, a->T * sizeof (int32_t)) == 0);
    g_assert_true (memcmp (s->resolution_threshold, t->resolution_threshold, a->T * sizeof (int32_t)) == 0);
  }
  g_assert_cmpuint (a->token_ids->len, ==, b->token_ids->len);
  g_assert_true (memcmp (a->token_ids->data, b->token_ids->data, a->token_ids->len * sizeof (int32_t)) == 0);
  g_test_message ("chunked vs whole: largest relative difference %.3g; %d target ranks moved, by at most %d",
                  worst, moved, most_moved);
  g_assert_cmpfloat (worst, <=, 1e-5);
  g_assert_cmpint (most_moved, <=, 8);
}

/* A long trace (1500 tokens of the GGUF copy, context 2048) unembedded 700 rows at a time:
 * the hook sees rows growing by chunks up to (L+1)*T, each partial holds exactly the rows
 * done, and the result is the one-chunk run's (up to float32 rounding of the products). */
static void
test_chunk_hook (void)
{
  g_autoptr (StrataModel) m = probe_open ("stories260K-gguf/stories260K.gguf");
  StrataEngine *e = probe_engine (m);
  int T = 1500, V = m->weights->cfg.vocab;
  g_autofree int32_t *ids = g_new (int32_t, T);
  for (int i = 0; i < T; i++)
    ids[i] = 1 + (i * 37 + 11) % (V - 1);
  const char *const targets[] = { "#5", "#100", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataPromptSet) set = strata_prompt_set_new_single (m, NULL, ids, T, NULL, targets, NULL, &error);
  g_assert_no_error (error);
  StrataLensOptions o = { .topk = 3, .threshold = 0.5 };
  g_autoptr (StrataLensResult) whole = strata_lens_run (e, m, set->prompts->pdata[0], &o, &error);
  g_assert_no_error (error);
  Chunks c = { g_ptr_array_new_with_free_func ((GDestroyNotify) strata_lens_result_free),
               g_array_new (FALSE, FALSE, sizeof (int)) };
  StrataLensChunking chunking = { (size_t) 700 * V * sizeof (float), keep_partial_cb, &c };
  g_autoptr (StrataLensResult) r = strata_lens_run_chunked (e, m, set->prompts->pdata[0], &o, &chunking, &error);
  g_assert_no_error (error);
  int R = (r->n_layers + 1) * T;
  g_assert_cmpuint (c.rows_done->len, ==, (guint) (R + 699) / 700);
  for (guint i = 0; i < c.rows_done->len; i++) {
    int done = g_array_index (c.rows_done, int, i);
    g_assert_cmpint (done, ==, MIN (R, 700 * (int) (i + 1)));
    check_partial (c.partials->pdata[i], r, done);
  }
  assert_same_result (r, whole);
  g_ptr_array_unref (c.partials);
  g_array_unref (c.rows_done);
  strata_engine_free (e);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/probes/lens/golden/gpt2", "gpt2", check_golden);
  g_test_add_data_func ("/probes/lens/golden/llama", "llama", check_golden);
  g_test_add_func ("/probes/lens/last-equals-logits", test_last_equals_logits);
  g_test_add_func ("/probes/lens/aggregate", test_aggregate);
  g_test_add_func ("/probes/lens/chunk-hook", test_chunk_hook);
  return g_test_run ();
}
