/* test-twohop: the logit lens on the two-hop checkpoints (tests/data/twohop: cot-3000 and
 * nocot-9000, trimmed prompt set of 60 id and 40 ood test queries).
 *
 * Checked against what is known without our lens code:
 *  - the final-layer top-1 fraction equals greedy accuracy measured by an argmax over
 *    strata_engine_forward() logits, and agrees with the training logs (train_info.json):
 *    cot-3000 predicts the bridge at r2 for every test query (b accuracy 1.000 id and ood),
 *    nocot-9000 never predicts the answer at r2 for an ood query (t accuracy 0.000);
 *  - the lens at k = L equals the logits;
 *  - aggregates recomputed by hand from the per-prompt results, tags counted;
 *  - bridge MRR by layer at r1 and r2 equals a float64 torch reference
 *    (tools/reference/twohop_lens_reference.py -> twohop/lens-reference.json) within 1e-4.
 * With ../shared/fixtures/twohop present, the full 554 id / 301 ood sets reproduce the
 * logged accuracies exactly (counts, not rates). */
#include <math.h>
#include <string.h>

#include "strata-lens.h"
#include "test-probe-util.h"

typedef struct {
  StrataModel *m;
  StrataEngine *e;
  StrataPromptSet *set;
  GPtrArray *results;    /* StrataLensResult * */
  GPtrArray *aggregates; /* StrataLensAggregate * */
} Run;

static void
run_lens (Run *r, const char *model, const char *prompts_path)
{
  g_autoptr (GError) error = NULL;
  r->m = probe_open (model);
  r->e = probe_engine (r->m);
  r->set = strata_prompt_set_load (prompts_path, r->m, &error);
  g_assert_no_error (error);
  r->results = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_lens_result_free);
  StrataLensOptions o = { .topk = 3, .threshold = 0.5 };
  for (guint i = 0; i < r->set->prompts->len; i++) {
    StrataLensResult *lr = strata_lens_run (r->e, r->m, r->set->prompts->pdata[i], &o, &error);
    g_assert_no_error (error);
    g_ptr_array_add (r->results, lr);
  }
  r->aggregates = strata_lens_aggregate (r->set, r->results);
}

static void
run_clear (Run *r)
{
  g_ptr_array_unref (r->aggregates);
  g_ptr_array_unref (r->results);
  strata_prompt_set_free (r->set);
  strata_engine_free (r->e);
  strata_model_free (r->m);
}

static const StrataLensAggregate *
find_agg (const Run *r, const char *tag, const char *target, const char *pos)
{
  for (guint i = 0; i < r->aggregates->len; i++) {
    const StrataLensAggregate *a = r->aggregates->pdata[i];
    if (strcmp (a->tag, tag) == 0 && strcmp (a->target, target) == 0 && strcmp (a->position, pos) == 0)
      return a;
  }
  g_assert_not_reached ();
  return NULL;
}

static int
position_of (const StrataPrompt *p, const char *name)
{
  for (guint i = 0; i < p->positions->len; i++)
    if (strcmp (g_array_index (p->positions, StrataPosition, i).name, name) == 0)
      return g_array_index (p->positions, StrataPosition, i).index;
  g_assert_not_reached ();
  return -1;
}

static int32_t
target_of (const StrataPrompt *p, const char *name)
{
  for (guint i = 0; i < p->targets->len; i++)
    if (strcmp (g_array_index (p->targets, StrataTarget, i).name, name) == 0)
      return g_array_index (p->targets, StrataTarget, i).id;
  g_assert_not_reached ();
  return -1;
}

/* Greedy next token at `pos` by an argmax over the forward logits: how many prompts of
 * `tag` predict `target` there. Also checks the lens at k = L against those logits. */
static int
greedy_hits (const Run *r, const char *tag, const char *target, const char *pos_name, int *n)
{
  int V = r->m->weights->cfg.vocab, L = r->m->weights->cfg.n_layers, hits = 0;
  *n = 0;
  for (guint i = 0; i < r->set->prompts->len; i++) {
    const StrataPrompt *p = r->set->prompts->pdata[i];
    if (strcmp (tag, "all") != 0 && !g_strv_contains ((const char *const *) p->tags, tag))
      continue;
    int T = (int) p->ids->len, q = position_of (p, pos_name);
    g_autofree float *logits = g_new (float, (gsize) T * V);
    g_assert_cmpint (strata_engine_forward (r->e, (const int32_t *) p->ids->data, 1, T, NULL, logits), ==, STRATA_OK);
    const float *row = logits + (gsize) q * V;
    int best = 0;
    for (int v = 1; v < V; v++)
      if (row[v] > row[best])
        best = v;
    hits += best == target_of (p, target);
    (*n)++;
    const StrataLensResult *lr = r->results->pdata[i];
    const StrataLensTarget *t = strata_lens_result_get_target (lr, target);
    g_assert_cmpfloat_with_epsilon (t->logit[L * T + q], row[t->id], 1e-5);
    g_assert_cmpint (lr->topk_ids[((gsize) L * T + q) * lr->topk], ==, best);
  }
  return hits;
}

static double
logged_accuracy (const char *model, const char *split, const char *which)
{
  g_autofree char *rel = g_strdup_printf ("%s/train_info.json", model);
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *info = probe_golden (rel, &parser);
  JsonObject *acc = json_object_get_object_member (json_object_get_object_member (info, "accuracy"), split);
  return json_object_get_double_member (acc, which);
}

/* Final-layer top-1 fraction = greedy accuracy; the logs' perfect and zero accuracies hold
 * on every subset. */
static void
test_greedy_consistency (void)
{
  g_autofree char *prompts = probe_data_path ("twohop/prompts-trimmed.jsonl");
  Run cot = { 0 }, nocot = { 0 };
  run_lens (&cot, "twohop/cot-3000", prompts);
  run_lens (&nocot, "twohop/nocot-9000", prompts);
  struct { Run *r; const char *tag, *target; } cases[] = {
    { &cot, "id", "bridge" }, { &cot, "ood", "bridge" }, { &nocot, "id", "answer" }, { &nocot, "ood", "answer" },
  };
  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++) {
    int n, hits = greedy_hits (cases[c].r, cases[c].tag, cases[c].target, "r2", &n);
    const StrataLensAggregate *a = find_agg (cases[c].r, cases[c].tag, cases[c].target, "r2");
    g_assert_cmpint (a->n_prompts, ==, n);
    g_assert_cmpfloat_with_epsilon (a->top1[a->n_layers], (double) hits / n, 1e-12);
    g_test_message ("%s %s at r2: greedy %d/%d", cases[c].tag, cases[c].target, hits, n);
  }
  g_assert_cmpfloat (logged_accuracy ("twohop/cot-3000", "test_inferred_id", "b"), ==, 1.0);
  g_assert_cmpfloat (logged_accuracy ("twohop/cot-3000", "test_inferred_ood", "b"), ==, 1.0);
  g_assert_cmpfloat (logged_accuracy ("twohop/nocot-9000", "test_inferred_ood", "t"), ==, 0.0);
  int L = cot.m->weights->cfg.n_layers;
  g_assert_cmpfloat (find_agg (&cot, "id", "bridge", "r2")->top1[L], ==, 1.0);
  g_assert_cmpfloat (find_agg (&cot, "ood", "bridge", "r2")->top1[L], ==, 1.0);
  g_assert_cmpfloat (find_agg (&nocot, "ood", "answer", "r2")->top1[L], ==, 0.0);
  run_clear (&cot);
  run_clear (&nocot);
}

/* Every aggregate recomputed from the per-prompt results; tags counted. */
static void
test_aggregates_by_hand (void)
{
  g_autofree char *prompts = probe_data_path ("twohop/prompts-trimmed.jsonl");
  Run r = { 0 };
  run_lens (&r, "twohop/nocot-9000", prompts);
  /* 3 tags x 2 targets x 3 positions, "all" first. */
  g_assert_cmpuint (r.aggregates->len, ==, 18);
  g_assert_cmpstr (((StrataLensAggregate *) r.aggregates->pdata[0])->tag, ==, "all");
  const char *tags[] = { "all", "id", "ood" }, *targets[] = { "bridge", "answer" }, *positions[] = { "h", "r1", "r2" };
  int counts[] = { 100, 60, 40 };
  for (int ti = 0; ti < 3; ti++)
    for (int gi = 0; gi < 2; gi++)
      for (int pi = 0; pi < 3; pi++) {
        const StrataLensAggregate *a = find_agg (&r, tags[ti], targets[gi], positions[pi]);
        int L = a->n_layers, n = 0;
        g_autofree double *mrr = g_new0 (double, L + 1), *prob = g_new0 (double, L + 1), *top1 = g_new0 (double, L + 1);
        g_autofree int *res = g_new0 (int, L + 2);
        for (guint i = 0; i < r.set->prompts->len; i++) {
          const StrataPrompt *p = r.set->prompts->pdata[i];
          if (ti > 0 && !g_strv_contains ((const char *const *) p->tags, tags[ti]))
            continue;
          const StrataLensResult *lr = r.results->pdata[i];
          const StrataLensTarget *t = strata_lens_result_get_target (lr, targets[gi]);
          int q = position_of (p, positions[pi]), T = lr->T;
          for (int k = 0; k <= L; k++) {
            mrr[k] += 1.0 / (t->rank[k * T + q] + 1);
            prob[k] += t->prob[k * T + q];
            top1[k] += t->rank[k * T + q] == 0;
          }
          /* The resolution layer by its definition: top-1 from k through L. */
          int first = L + 1;
          for (int k = L; k >= 0 && t->rank[k * T + q] == 0; k--)
            first = k;
          res[first]++;
          n++;
        }
        g_assert_cmpint (a->n_prompts, ==, counts[ti]);
        g_assert_cmpint (n, ==, counts[ti]);
        int resolution = -1;
        for (int k = 0; k <= L; k++) {
          g_assert_cmpfloat_with_epsilon (a->mrr[k], mrr[k] / n, 1e-12);
          g_assert_cmpfloat_with_epsilon (a->mean_prob[k], prob[k] / n, 1e-9);
          g_assert_cmpfloat_with_epsilon (a->top1[k], top1[k] / n, 1e-12);
          if (resolution < 0 && mrr[k] / n >= 0.9)
            resolution = k;
        }
        g_assert_cmpint (a->resolution_layer, ==, resolution);
        for (int k = 0; k <= L + 1; k++)
          g_assert_cmpint (a->resolution_counts[k], ==, res[k]);
      }
  run_clear (&r);
}

/* Bridge MRR at r1 and r2, per tag and layer, against the float64 torch reference. */
static void
test_reference (void)
{
  g_autofree char *prompts = probe_data_path ("twohop/prompts-trimmed.jsonl");
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *ref = probe_golden ("twohop/lens-reference.json", &parser);
  JsonObject *models = json_object_get_object_member (ref, "models");
  const char *names[] = { "cot-3000", "nocot-9000" }, *tags[] = { "all", "id", "ood" }, *pos[] = { "r1", "r2" };
  for (int mi = 0; mi < 2; mi++) {
    g_autofree char *dir = g_strdup_printf ("twohop/%s", names[mi]);
    Run r = { 0 };
    run_lens (&r, dir, prompts);
    JsonObject *bridge = json_object_get_object_member (json_object_get_object_member (models, names[mi]), "bridge");
    double worst = 0;
    for (int ti = 0; ti < 3; ti++)
      for (int pi = 0; pi < 2; pi++) {
        JsonObject *want = json_object_get_object_member (json_object_get_object_member (bridge, tags[ti]), pos[pi]);
        const StrataLensAggregate *a = find_agg (&r, tags[ti], "bridge", pos[pi]);
        JsonArray *mrr = json_object_get_array_member (want, "mrr"), *top1 = json_object_get_array_member (want, "top1");
        g_assert_cmpint (json_object_get_int_member (want, "n"), ==, a->n_prompts);
        g_assert_cmpuint (json_array_get_length (mrr), ==, a->n_layers + 1);
        for (int k = 0; k <= a->n_layers; k++) {
          worst = MAX (worst, fabs (a->mrr[k] - json_array_get_double_element (mrr, k)));
          g_assert_cmpfloat_with_epsilon (a->mrr[k], json_array_get_double_element (mrr, k), 1e-4);
          g_assert_cmpfloat_with_epsilon (a->top1[k], json_array_get_double_element (top1, k), 1e-4);
        }
        JsonNode *res = json_object_get_member (want, "resolution_layer");
        g_assert_cmpint (a->resolution_layer, ==, JSON_NODE_HOLDS_NULL (res) ? -1 : json_node_get_int (res));
      }
    g_test_message ("%s: largest bridge MRR difference to torch %.3g", names[mi], worst);
    run_clear (&r);
  }
}

/* The full test sets of ../shared/fixtures/twohop reproduce the logged greedy accuracies as
 * counts: 510/554 = 0.92058 for nocot-9000's answer on test_inferred_id, and every bridge
 * of cot-3000 (554/554 id, 301/301 ood). */
static void
test_full_set (void)
{
  const char *root = g_getenv ("STRATA_SHARED_FIXTURES");
  g_autofree char *prompts = root ? g_build_filename (root, "twohop", "prompts-stage1.jsonl", NULL) : NULL;
  if (!prompts || !g_file_test (prompts, G_FILE_TEST_EXISTS)) {
    g_test_skip ("../shared/fixtures/twohop is not here");
    return;
  }
  struct { const char *model, *tag, *split, *target, *which; } cases[] = {
    { "twohop/nocot-9000", "id", "test_inferred_id", "answer", "t" },
    { "twohop/nocot-9000", "ood", "test_inferred_ood", "answer", "t" },
    { "twohop/cot-3000", "id", "test_inferred_id", "bridge", "b" },
    { "twohop/cot-3000", "ood", "test_inferred_ood", "bridge", "b" },
  };
  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++) {
    Run r = { 0 };
    run_lens (&r, cases[c].model, prompts);
    int n, hits = greedy_hits (&r, cases[c].tag, cases[c].target, "r2", &n);
    double logged = logged_accuracy (cases[c].model, cases[c].split, cases[c].which);
    const StrataLensAggregate *a = find_agg (&r, cases[c].tag, cases[c].target, "r2");
    g_test_message ("%s %s: %d/%d greedy, logged %.7f", cases[c].model, cases[c].tag, hits, n, logged);
    g_assert_cmpint (hits, ==, (int) lround (logged * n));
    g_assert_cmpfloat_with_epsilon (a->top1[a->n_layers], (double) hits / n, 1e-12);
    run_clear (&r);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/probes/twohop/greedy-consistency", test_greedy_consistency);
  g_test_add_func ("/probes/twohop/aggregates-by-hand", test_aggregates_by_hand);
  g_test_add_func ("/probes/twohop/reference", test_reference);
  g_test_add_func ("/probes/twohop/full-set", test_full_set);
  return g_test_run ();
}
