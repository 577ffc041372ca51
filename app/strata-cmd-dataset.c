/* strata-cmd-dataset.c: `strata dataset twohop --out DIR`, the synthetic two-hop dataset of
 * Wang et al. 2024 / Yao et al. 2025 generated from a seed (strata-twohop-dataset.h). */
#include <stdio.h>
#include <string.h>

#include "strata-cli.h"
#include "strata-twohop-dataset.h"

static void
print_counts (const StrataTwohopDataset *d, const char *dir)
{
  gint64 n_atomic = d->facts->len;
  printf ("%s: two-hop dataset, seed %" G_GUINT64_FORMAT "\n", dir, d->params.seed);
  printf ("  atomic facts       %" G_GINT64_FORMAT " (%" G_GINT64_FORMAT " ID, %" G_GINT64_FORMAT " OOD)\n",
          n_atomic, n_atomic - d->n_ood_facts, d->n_ood_facts);
  printf ("  two-hop queries    %" G_GINT64_FORMAT " (ID pool %" G_GINT64_FORMAT ", mixed discarded %" G_GINT64_FORMAT
          ")\n", d->n_candidates, d->n_pool, d->n_discarded);
  printf ("  train two-hop      %u (%" G_GINT64_FORMAT " noisy)\n", d->train->len, d->n_noisy);
  printf ("  train total        %" G_GINT64_FORMAT "\n", n_atomic + d->train->len);
  printf ("  test ID            %u\n", d->test_id->len);
  printf ("  test OOD           %u\n", d->test_ood->len);
  printf ("  vocabulary         %d tokens\n", d->params.n_entities + d->params.n_relations + 2);
}

int
strata_cmd_dataset (int argc, char **argv)
{
  StrataTwohopParams p = STRATA_TWOHOP_PARAMS_DEFAULT;
  g_autofree char *out = NULL, *noise_kind = NULL;
  gint64 seed = (gint64) p.seed;
  GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Folder to write (created if missing)", "DIR" },
    { "entities", 0, 0, G_OPTION_ARG_INT, &p.n_entities, "Number of entities |E| (default 300; the papers: 2000)", "N" },
    { "relations", 0, 0, G_OPTION_ARG_INT, &p.n_relations, "Number of relations |R| (default 40; the papers: 200)", "R" },
    { "per-entity", 0, 0, G_OPTION_ARG_INT, &p.per_entity, "Outgoing relations of every entity (default 20)", "K" },
    { "ood-fraction", 0, 0, G_OPTION_ARG_DOUBLE, &p.ood_fraction, "Share of atomic facts that are OOD (default 0.05)", "F" },
    { "phi", 0, 0, G_OPTION_ARG_DOUBLE, &p.phi, "Train two-hop items per ID atomic fact (default 18)", "P" },
    { "test-prob", 0, 0, G_OPTION_ARG_DOUBLE, &p.test_prob, "Chance that an ID two-hop query is held out for the ID test (default 0.005)", "Q" },
    { "noise", 0, 0, G_OPTION_ARG_DOUBLE, &p.noise, "Share of train two-hop items with a wrong entity (default 0)", "XI" },
    { "noise-kind", 0, 0, G_OPTION_ARG_STRING, &noise_kind, "Which entity is wrong: tail or bridge (default tail)", "tail|bridge" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed (default 42): the same seed writes the same files", "S" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("twohop --out DIR");
  g_option_context_set_summary (ctx, "Generate the synthetic two-hop dataset: training set (CoT and non-CoT targets), "
                                     "tokenizer.json and the test queries as prompt sets.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  GError *error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    return strata_cli_fail (error);
  if (argc != 2 || strcmp (argv[1], "twohop") != 0) {
    fprintf (stderr, "Usage: strata dataset twohop --out DIR [OPTION…] (the only dataset is twohop)\n");
    return 2;
  }
  if (out == NULL) {
    strata_cli_fail_with (&error, "--out DIR is required");
    return strata_cli_fail (error);
  }
  if (noise_kind && !strata_twohop_noise_kind_from_string (noise_kind, &p.noise_kind)) {
    strata_cli_fail_with (&error, "--noise-kind takes tail or bridge, not '%s'", noise_kind);
    return strata_cli_fail (error);
  }
  if (seed < 0) {
    strata_cli_fail_with (&error, "--seed must be 0 or more, not %" G_GINT64_FORMAT, seed);
    return strata_cli_fail (error);
  }
  p.seed = (guint64) seed;
  g_autoptr (StrataTwohopDataset) d = strata_twohop_generate (&p, &error);
  if (d == NULL || !strata_twohop_write (d, out, &error))
    return strata_cli_fail (error);
  print_counts (d, out);
  return 0;
}
