/* test-twohop-dataset: the generator of `strata dataset twohop` (data/strata-twohop-dataset.h).
 *
 * Checked against what is known without the generator's code:
 *  - impossible parameters are refused with a message naming them, in the API and the CLI;
 *  - invariants of the tables on a small configuration and at the papers' scale (K distinct
 *    relations per head, tails in E, the OOD share, both hops ID and consistent for training,
 *    the ID test disjoint from training, both hops OOD for the OOD test, the counts);
 *  - the written tokenizer.json read by Strata's HF reader gives the ids HF `tokenizers`
 *    gives (twohop/dataset-tokenizer-goldens.json, tools/reference/twohop_tokenizer_goldens.py);
 *  - the prompt sets load with strata_prompt_set_load on the fixture checkpoint cot-3000 (the
 *    default configuration has its vocabulary) and `strata lens` runs on them;
 *  - a write that fails leaves no temporary file and the previous dataset.json untouched.
 * tests/python/test_twohop_dataset.py checks the written files themselves. */
#include <math.h>
#include <string.h>

#include "strata-data-error.h"
#include "strata-prompt-set.h"
#include "strata-tokenizer.h"
#include "strata-twohop-dataset.h"
#include "test-cli-util.h"
#include "test-probe-util.h"

static void
rm_tree (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
    const char *name;
    while (dir && (name = g_dir_read_name (dir)) != NULL) {
      g_autofree char *child = g_build_filename (path, name, NULL);
      rm_tree (child);
    }
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

static void
test_params (void)
{
  StrataTwohopParams ok = STRATA_TWOHOP_PARAMS_DEFAULT;
  g_assert_true (strata_twohop_params_check (&ok, NULL));
  struct {
    StrataTwohopParams p;
    const char *needle;
  } cases[] = {
    { { 0, 40, 20, 0.05, 18, 0.005, 0, STRATA_TWOHOP_NOISE_TAIL, 1 }, "number of entities" },
    { { 300, 0, 1, 0.05, 18, 0.005, 0, STRATA_TWOHOP_NOISE_TAIL, 1 }, "number of relations" },
    { { 300, 40, 41, 0.05, 18, 0.005, 0, STRATA_TWOHOP_NOISE_TAIL, 1 }, "relations per entity" },
    { { 300, 40, 0, 0.05, 18, 0.005, 0, STRATA_TWOHOP_NOISE_TAIL, 1 }, "relations per entity" },
    { { 300, 40, 20, 1.5, 18, 0.005, 0, STRATA_TWOHOP_NOISE_TAIL, 1 }, "OOD fraction" },
    { { 300, 40, 20, NAN, 18, 0.005, 0, STRATA_TWOHOP_NOISE_TAIL, 1 }, "OOD fraction" },
    { { 300, 40, 20, 0.05, -1, 0.005, 0, STRATA_TWOHOP_NOISE_TAIL, 1 }, "phi" },
    { { 300, 40, 20, 0.05, 18, -0.1, 0, STRATA_TWOHOP_NOISE_TAIL, 1 }, "ID test probability" },
    { { 300, 40, 20, 0.05, 18, 0.005, 2, STRATA_TWOHOP_NOISE_TAIL, 1 }, "noise fraction" },
    { { 1000000, 100000, 20, 0.05, 18, 0.005, 0, STRATA_TWOHOP_NOISE_TAIL, 1 }, "too large" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (StrataTwohopDataset) d = strata_twohop_generate (&cases[i].p, &error);
    g_assert_null (d);
    g_assert_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED);
    g_assert_nonnull (strstr (error->message, cases[i].needle));
  }
}

/* Facts looked up by (h, r) independently of the generator's own table. */
typedef struct {
  GHashTable *tail, *ood; /* key h * R + r + 1 -> t + 1, and -> 1 when OOD */
  int R;
} Facts;

static gpointer
fact_key (const Facts *f, int32_t h, int32_t r)
{
  return GINT_TO_POINTER (h * f->R + r + 1);
}

static int32_t
fact_tail (const Facts *f, int32_t h, int32_t r)
{
  return GPOINTER_TO_INT (g_hash_table_lookup (f->tail, fact_key (f, h, r))) - 1;
}

static gboolean
fact_ood (const Facts *f, int32_t h, int32_t r)
{
  return g_hash_table_contains (f->ood, fact_key (f, h, r));
}

static gpointer
query_key (const StrataTwohopParams *p, const StrataTwohopQuery *q)
{
  return GINT_TO_POINTER (((q->h * p->n_relations) + q->r1) * p->n_relations + q->r2 + 1);
}

static void
check_invariants (const StrataTwohopParams *p)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataTwohopDataset) d = strata_twohop_generate (p, &error);
  g_assert_no_error (error);
  int E = p->n_entities, K = p->per_entity;
  Facts f = { g_hash_table_new (NULL, NULL), g_hash_table_new (NULL, NULL), p->n_relations };

  /* K distinct relations per head, tails in E, the OOD share */
  g_assert_cmpuint (d->facts->len, ==, (guint) (E * K));
  g_autofree int *per_head = g_new0 (int, E);
  guint n_ood = 0;
  for (guint i = 0; i < d->facts->len; i++) {
    const StrataTwohopFact *x = &g_array_index (d->facts, StrataTwohopFact, i);
    g_assert_cmpint (x->h, >=, 0);
    g_assert_cmpint (x->h, <, E);
    g_assert_cmpint (x->r, >=, 0);
    g_assert_cmpint (x->r, <, p->n_relations);
    g_assert_cmpint (x->t, >=, 0);
    g_assert_cmpint (x->t, <, E);
    g_assert_false (g_hash_table_contains (f.tail, fact_key (&f, x->h, x->r)));
    g_hash_table_insert (f.tail, fact_key (&f, x->h, x->r), GINT_TO_POINTER (x->t + 1));
    if (x->ood)
      g_hash_table_add (f.ood, fact_key (&f, x->h, x->r)), n_ood++;
    per_head[x->h]++;
  }
  for (int h = 0; h < E; h++)
    g_assert_cmpint (per_head[h], ==, K);
  g_assert_cmpuint (n_ood, ==, (guint) llround (p->ood_fraction * E * K));

  /* training two-hop: both hops ID, consistent unless noisy, round(xi n) noisy */
  gint64 n_id = E * K - n_ood;
  g_assert_cmpint (d->train->len, ==, MIN (llround (p->phi * (double) n_id), d->n_pool));
  g_autoptr (GHashTable) train = g_hash_table_new (NULL, NULL);
  guint noisy = 0;
  for (guint i = 0; i < d->train->len; i++) {
    const StrataTwohopQuery *q = &g_array_index (d->train, StrataTwohopQuery, i);
    int32_t b = fact_tail (&f, q->h, q->r1), t = fact_tail (&f, b, q->r2);
    g_assert_cmpint (b, >=, 0);
    g_assert_cmpint (t, >=, 0);
    g_assert_false (fact_ood (&f, q->h, q->r1) || fact_ood (&f, b, q->r2));
    gboolean right = q->b == b && q->t == t;
    g_assert_true (right != q->noisy);
    noisy += q->noisy;
    g_hash_table_add (train, query_key (p, q));
  }
  g_assert_cmpuint (g_hash_table_size (train), ==, d->train->len);
  g_assert_cmpuint (noisy, ==, (guint) llround (p->noise * d->train->len));

  /* tests: consistent; ID: both hops ID and never in training; OOD: both hops OOD */
  GArray *tests[2] = { d->test_id, d->test_ood };
  for (int k = 0; k < 2; k++)
    for (guint i = 0; i < tests[k]->len; i++) {
      const StrataTwohopQuery *q = &g_array_index (tests[k], StrataTwohopQuery, i);
      g_assert_cmpint (q->b, ==, fact_tail (&f, q->h, q->r1));
      g_assert_cmpint (q->t, ==, fact_tail (&f, q->b, q->r2));
      gboolean want_ood = k == 1;
      g_assert_true (fact_ood (&f, q->h, q->r1) == want_ood && fact_ood (&f, q->b, q->r2) == want_ood);
      g_assert_false (g_hash_table_contains (train, query_key (p, q)));
    }
  /* every query (h, r1, r2) enumerated from the facts: both OOD ones are all in the OOD
   * test, mixed ones discarded, both ID ones in the ID test or the pool */
  gint64 both_id = 0, both_ood = 0, mixed = 0;
  for (guint i = 0; i < d->facts->len; i++) {
    const StrataTwohopFact *x = &g_array_index (d->facts, StrataTwohopFact, i);
    for (int r2 = 0; r2 < p->n_relations; r2++) {
      if (fact_tail (&f, x->t, r2) < 0)
        continue;
      gboolean o1 = fact_ood (&f, x->h, x->r), o2 = fact_ood (&f, x->t, r2);
      both_ood += o1 && o2;
      mixed += o1 != o2;
      both_id += !o1 && !o2;
    }
  }
  g_assert_cmpint (both_id + both_ood + mixed, ==, (gint64) E * K * K);
  g_assert_cmpint (d->n_candidates, ==, (gint64) E * K * K);
  g_assert_cmpint (d->test_ood->len, ==, both_ood);
  g_assert_cmpint (d->n_discarded, ==, mixed);
  g_assert_cmpint (d->n_pool + d->test_id->len, ==, both_id);
  g_hash_table_unref (f.tail);
  g_hash_table_unref (f.ood);
}

static void
test_invariants_small (void)
{
  StrataTwohopParams p = { 40, 8, 4, 0.1, 3.0, 0.2, 0.1, STRATA_TWOHOP_NOISE_TAIL, 5 };
  check_invariants (&p);
  p.noise_kind = STRATA_TWOHOP_NOISE_BRIDGE;
  p.phi = 100; /* more than the pool: all of it */
  check_invariants (&p);
}

static void
test_invariants_paper (void)
{
  StrataTwohopParams p = { 2000, 200, 20, 0.05, 7.2, 0.005, 0.0, STRATA_TWOHOP_NOISE_TAIL, 42 };
  check_invariants (&p);
}

static gboolean
same_queries (GArray *a, GArray *b)
{
  return a->len == b->len && memcmp (a->data, b->data, (gsize) a->len * sizeof (StrataTwohopQuery)) == 0;
}

static void
test_seed (void)
{
  StrataTwohopParams p = { 60, 10, 5, 0.05, 4.0, 0.05, 0.1, STRATA_TWOHOP_NOISE_TAIL, 9 };
  g_autoptr (StrataTwohopDataset) a = strata_twohop_generate (&p, NULL);
  g_autoptr (StrataTwohopDataset) b = strata_twohop_generate (&p, NULL);
  p.seed = 10;
  g_autoptr (StrataTwohopDataset) c = strata_twohop_generate (&p, NULL);
  g_assert_cmpmem (a->facts->data, a->facts->len * sizeof (StrataTwohopFact), b->facts->data,
                   b->facts->len * sizeof (StrataTwohopFact));
  g_assert_true (same_queries (a->train, b->train) && same_queries (a->test_id, b->test_id)
                 && same_queries (a->test_ood, b->test_ood));
  g_assert_cmpmem (a->train_order->data, a->train_order->len * 4, b->train_order->data, b->train_order->len * 4);
  g_assert_false (memcmp (a->facts->data, c->facts->data, a->facts->len * sizeof (StrataTwohopFact)) == 0);
}

/* The written tokenizer.json read by Strata gives HF tokenizers' ids for every golden text. */
static void
test_tokenizer (void)
{
  JsonParser *parser = NULL;
  JsonObject *root = probe_golden ("twohop/dataset-tokenizer-goldens.json", &parser);
  JsonArray *configs = json_object_get_array_member (root, "configs");
  g_assert_cmpuint (json_array_get_length (configs), >=, 2);
  for (guint c = 0; c < json_array_get_length (configs); c++) {
    JsonObject *cfg = json_array_get_object_element (configs, c);
    g_autofree char *dir = g_dir_make_tmp ("strata-twohop-XXXXXX", NULL);
    g_autoptr (GPtrArray) args = g_ptr_array_new ();
    const char *head[] = { "dataset", "twohop", "--out", dir };
    for (gsize i = 0; i < G_N_ELEMENTS (head); i++)
      g_ptr_array_add (args, (char *) head[i]);
    JsonArray *flags = json_object_get_array_member (cfg, "args");
    for (guint i = 0; i < json_array_get_length (flags); i++)
      g_ptr_array_add (args, (char *) json_array_get_string_element (flags, i));
    g_ptr_array_add (args, NULL);
    g_auto (Run) r = { 0 };
    strata (&r, (const char *const *) args->pdata);
    g_assert_cmpint (r.status, ==, 0);

    g_autofree char *path = g_build_filename (dir, "tokenizer.json", NULL);
    g_autoptr (GError) error = NULL;
    StrataTokenizer *tok = strata_tokenizer_new_hf_json (path, &error);
    g_assert_no_error (error);
    g_assert_cmpint (strata_tokenizer_get_vocab_size (tok), ==, json_object_get_int_member (cfg, "vocab_size"));
    JsonArray *texts = json_object_get_array_member (cfg, "texts");
    JsonArray *ids = json_object_get_array_member (cfg, "ids");
    for (guint i = 0; i < json_array_get_length (texts); i++) {
      const char *text = json_array_get_string_element (texts, i);
      JsonArray *want = json_array_get_array_element (ids, i);
      g_autoptr (GArray) got = strata_tokenizer_encode (tok, text, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (got->len, ==, json_array_get_length (want));
      for (guint k = 0; k < got->len; k++)
        g_assert_cmpint (g_array_index (got, int32_t, k), ==, json_array_get_int_element (want, k));
      /* no decoder: the pieces concatenated give the text back */
      g_autofree char *back = strata_tokenizer_decode (tok, (const int32_t *) got->data, got->len);
      g_assert_cmpstr (back, ==, text);
    }
    strata_tokenizer_free (tok);
    rm_tree (dir);
  }
  g_object_unref (parser);
}

static void
check_prompt_set (const char *path, StrataModel *m, const StrataTwohopDataset *d, int stage)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataPromptSet) set = strata_prompt_set_load (path, m, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (set->prompts->len, ==, d->test_id->len + d->test_ood->len);
  for (guint i = 0; i < set->prompts->len; i++) {
    const StrataPrompt *pr = set->prompts->pdata[i];
    gboolean id = i < d->test_id->len;
    GArray *src = id ? d->test_id : d->test_ood;
    const StrataTwohopQuery *q = &g_array_index (src, StrataTwohopQuery, id ? i : i - d->test_id->len);
    g_assert_cmpstr (pr->tags[0], ==, id ? "id" : "ood");
    g_assert_cmpuint (pr->ids->len, ==, stage == 1 ? 3 : 4);
    g_assert_cmpint (g_array_index (pr->ids, int32_t, 0), ==, q->h);
    g_assert_cmpint (g_array_index (pr->ids, int32_t, 2), ==, d->params.n_entities + q->r2);
    g_assert_nonnull (pr->corrupt_ids);
    const StrataTarget *last = &g_array_index (pr->targets, StrataTarget, pr->targets->len - 1);
    g_assert_cmpstr (last->name, ==, "answer");
    g_assert_cmpint (last->id, ==, q->t);
    if (stage == 1) {
      const StrataTarget *bridge = &g_array_index (pr->targets, StrataTarget, 0);
      g_assert_cmpstr (bridge->name, ==, "bridge");
      g_assert_cmpint (bridge->id, ==, q->b);
    }
    g_assert_cmpint (pr->contrast, >=, 0);
  }
  g_assert_cmpint (strata_prompt_set_position_index (set, "r2"), ==, 2);
}

/* The default configuration has the fixture's vocabulary (342 tokens), so its prompt sets
 * load on the fixture checkpoint and the lens runs on them. */
static void
test_prompt_sets (void)
{
  StrataTwohopParams p = STRATA_TWOHOP_PARAMS_DEFAULT;
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataTwohopDataset) d = strata_twohop_generate (&p, &error);
  g_assert_no_error (error);
  g_autofree char *dir = g_dir_make_tmp ("strata-twohop-XXXXXX", NULL);
  g_assert_true (strata_twohop_write (d, dir, &error));
  g_assert_no_error (error);
  StrataModel *m = probe_open ("twohop/cot-3000");
  g_assert_cmpint (m->weights->cfg.vocab, ==, p.n_entities + p.n_relations + 2);
  g_autofree char *stage1 = g_build_filename (dir, "prompts-stage1.jsonl", NULL);
  g_autofree char *stage2 = g_build_filename (dir, "prompts-stage2.jsonl", NULL);
  check_prompt_set (stage1, m, d, 1);
  check_prompt_set (stage2, m, d, 2);
  strata_model_free (m);

  g_autofree char *model = probe_data_path ("twohop/cot-3000");
  g_autofree char *json = g_build_filename (dir, "lens.json", NULL);
  g_auto (Run) r = { 0 };
  strata (&r, (const char *const[]) { "lens", model, "--device", "cpu", "--prompts", stage1, "--json", json, NULL });
  g_assert_cmpstr (r.err, ==, "");
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_file_test (json, G_FILE_TEST_IS_REGULAR));
  rm_tree (dir);
}

static void
test_cli_errors (void)
{
  g_autofree char *dir = g_dir_make_tmp ("strata-twohop-XXXXXX", NULL);
  g_autofree char *file = g_build_filename (dir, "a-file", NULL);
  g_autofree char *under_file = g_build_filename (file, "out", NULL);
  g_assert_true (g_file_set_contents (file, "x", 1, NULL));
  struct {
    const char *args[8];
    const char *needle;
  } cases[] = {
    { { "dataset", "twohop", "--out", dir, "--per-entity", "41", NULL }, "relations per entity" },
    { { "dataset", "twohop", "--out", dir, "--entities", "0", NULL }, "number of entities" },
    { { "dataset", "twohop", "--out", dir, "--noise-kind", "head", NULL }, "--noise-kind" },
    { { "dataset", "twohop", "--out", dir, "--seed", "-1", NULL }, "--seed" },
    { { "dataset", "twohop", NULL }, "--out" },
    { { "dataset", "twohop", "--out", under_file, NULL }, under_file },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_auto (Run) r = { 0 };
    strata (&r, cases[i].args);
    g_assert_cmpint (r.status, ==, 1);
    g_assert_nonnull (strstr (r.err, cases[i].needle));
    g_assert_cmpstr (r.out, ==, "");
  }
  g_auto (Run) usage = { 0 };
  strata (&usage, (const char *const[]) { "dataset", "frobnicate", "--out", dir, NULL });
  g_assert_cmpint (usage.status, ==, 2);
  rm_tree (dir);
}

/* A write that fails half-way (train.jsonl cannot be replaced: a folder holds its name) keeps
 * the previous dataset.json and leaves no temporary file behind. */
static void
test_failed_write (void)
{
  StrataTwohopParams p = { 20, 4, 2, 0.05, 2.0, 0.1, 0.0, STRATA_TWOHOP_NOISE_TAIL, 1 };
  g_autoptr (StrataTwohopDataset) a = strata_twohop_generate (&p, NULL);
  p.seed = 2;
  g_autoptr (StrataTwohopDataset) b = strata_twohop_generate (&p, NULL);
  g_autofree char *dir = g_dir_make_tmp ("strata-twohop-XXXXXX", NULL);
  g_assert_true (strata_twohop_write (a, dir, NULL));
  g_autofree char *meta = g_build_filename (dir, "dataset.json", NULL);
  g_autofree char *train = g_build_filename (dir, "train.jsonl", NULL);
  g_autofree char *before = NULL;
  g_assert_true (g_file_get_contents (meta, &before, NULL, NULL));
  g_unlink (train);
  g_mkdir (train, 0755);

  g_autoptr (GError) error = NULL;
  g_assert_false (strata_twohop_write (b, dir, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "train.jsonl"));
  g_autofree char *after = NULL;
  g_assert_true (g_file_get_contents (meta, &after, NULL, NULL));
  g_assert_cmpstr (after, ==, before);
  g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
  const char *name;
  while ((name = g_dir_read_name (listing)) != NULL)
    g_assert_false (strstr (name, "train.jsonl.") != NULL); /* g_file_set_contents' temporaries */
  rm_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/data/twohop-dataset/params", test_params);
  g_test_add_func ("/data/twohop-dataset/invariants-small", test_invariants_small);
  g_test_add_func ("/data/twohop-dataset/invariants-paper", test_invariants_paper);
  g_test_add_func ("/data/twohop-dataset/seed", test_seed);
  g_test_add_func ("/data/twohop-dataset/tokenizer", test_tokenizer);
  g_test_add_func ("/data/twohop-dataset/prompt-sets", test_prompt_sets);
  g_test_add_func ("/data/twohop-dataset/cli-errors", test_cli_errors);
  g_test_add_func ("/data/twohop-dataset/failed-write", test_failed_write);
  return g_test_run ();
}
