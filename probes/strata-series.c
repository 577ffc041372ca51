/* strata-series.c: series of checkpoints: the objects, finding a run's checkpoints on disk,
 * and lookups. The pipeline that fills them is strata-series-run.c. */
#include "strata-series.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

#include "strata-data-error.h"

/* ---- objects ---- */

void
strata_series_accuracy_free (StrataSeriesAccuracy *acc)
{
  if (!acc)
    return;
  g_free (acc->tag);
  g_free (acc->target);
  g_free (acc);
}

StrataSeriesCheckpoint *
strata_series_checkpoint_new (const char *path, const char *label, gint64 step)
{
  StrataSeriesCheckpoint *cp = g_new0 (StrataSeriesCheckpoint, 1);
  cp->path = g_strdup (path);
  cp->label = g_strdup (label);
  cp->step = step;
  return cp;
}

void
strata_series_checkpoint_free (StrataSeriesCheckpoint *cp)
{
  if (!cp)
    return;
  g_free (cp->path);
  g_free (cp->label);
  strata_model_ref_clear (&cp->model);
  g_clear_pointer (&cp->lens_aggregates, g_ptr_array_unref);
  g_clear_pointer (&cp->accuracy, g_ptr_array_unref);
  g_clear_pointer (&cp->patch_aggregates, g_ptr_array_unref);
  g_free (cp);
}

gboolean
strata_series_checkpoint_is_done (const StrataSeriesCheckpoint *cp)
{
  return g_atomic_int_get (&cp->done) != 0;
}

void
strata_series_checkpoint_set_done (StrataSeriesCheckpoint *cp)
{
  /* A full barrier: everything written to the checkpoint before is visible to a thread that
   * then sees done. */
  g_atomic_int_set (&cp->done, 1);
}

StrataTrainingRun *
strata_training_run_new (const char *name, const char *path)
{
  StrataTrainingRun *run = g_new0 (StrataTrainingRun, 1);
  run->name = g_strdup (name);
  run->path = g_strdup (path);
  run->checkpoints = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_series_checkpoint_free);
  return run;
}

void
strata_training_run_free (StrataTrainingRun *run)
{
  if (!run)
    return;
  g_free (run->name);
  g_free (run->path);
  g_clear_pointer (&run->checkpoints, g_ptr_array_unref);
  g_free (run);
}

StrataSeries *
strata_series_new (void)
{
  StrataSeries *s = g_new0 (StrataSeries, 1);
  s->runs = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_training_run_free);
  s->threshold = 0.5;
  return s;
}

void
strata_series_add_run (StrataSeries *series, StrataTrainingRun *run)
{
  g_ptr_array_add (series->runs, run);
}

void
strata_series_free (StrataSeries *s)
{
  if (!s)
    return;
  g_clear_pointer (&s->runs, g_ptr_array_unref);
  g_clear_pointer (&s->prompts, strata_prompt_set_free);
  g_free (s->tokenizer_sha256);
  g_free (s->answer_target);
  g_free (s->answer_position);
  g_clear_pointer (&s->patch_sites, g_array_unref);
  g_free (s->patch_target);
  g_free (s);
}

guint
strata_series_count_done (const StrataSeries *series, guint *total)
{
  guint done = 0, all = 0;
  for (guint r = 0; r < series->runs->len; r++) {
    const StrataTrainingRun *run = series->runs->pdata[r];
    for (guint c = 0; c < run->checkpoints->len; c++, all++)
      done += strata_series_checkpoint_is_done (run->checkpoints->pdata[c]);
  }
  if (total)
    *total = all;
  return done;
}

/* ---- finding checkpoints ---- */

/* The step a checkpoint's name states: checkpoint-N, step-N, stepN, step_N, global_stepN,
 * global_step_N, global_step-N. */
static gboolean
step_from_name (const char *name, gint64 *step)
{
  static const char *const prefixes[] = { "checkpoint", "global_step", "step" };
  for (gsize i = 0; i < G_N_ELEMENTS (prefixes); i++) {
    if (!g_str_has_prefix (name, prefixes[i]))
      continue;
    const char *p = name + strlen (prefixes[i]);
    if (*p == '-' || *p == '_')
      p++;
    if (!g_ascii_isdigit (*p))
      return FALSE;
    char *end = NULL;
    errno = 0;
    guint64 v = g_ascii_strtoull (p, &end, 10);
    if (*end || errno || v > G_MAXINT64)
      return FALSE;
    *step = (gint64) v;
    return TRUE;
  }
  return FALSE;
}

/* `global_step` of HF Trainer's trainer_state.json in `dir`. FALSE without error when the
 * file is absent; with an error naming the file when it does not say. */
static gboolean
step_from_trainer_state (const char *dir, gint64 *step, GError **error)
{
  g_autofree char *path = g_build_filename (dir, "trainer_state.json", NULL);
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return FALSE;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  if (!json_parser_load_from_mapped_file (parser, path, &local)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: %s", path, local->message);
    return FALSE;
  }
  JsonNode *root = json_parser_get_root (parser);
  JsonObject *o = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  JsonNode *n = o ? json_object_get_member (o, "global_step") : NULL;
  if (!n || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64 || json_node_get_int (n) < 0) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: 'global_step' must be a non-negative integer", path);
    return FALSE;
  }
  *step = json_node_get_int (n);
  return TRUE;
}

static int
compare_step (gconstpointer a, gconstpointer b)
{
  const StrataSeriesCheckpoint *x = *(StrataSeriesCheckpoint *const *) a, *y = *(StrataSeriesCheckpoint *const *) b;
  if (x->step != y->step)
    return x->step < y->step ? -1 : 1;
  return strcmp (x->label, y->label);
}

/* The step of checkpoint folder `path` named `name`: from the name, else trainer_state.json.
 * FALSE without error: not a checkpoint. */
static gboolean
checkpoint_step (const char *path, const char *name, gint64 *step, GError **error)
{
  if (step_from_name (name, step))
    return TRUE;
  return step_from_trainer_state (path, step, error);
}

/* A Hugging Face hub download: refs/<revision> holds a commit hash, snapshots/<hash>/ the files. */
static gboolean
discover_hub (StrataTrainingRun *run, const char *dir, GError **error)
{
  g_autofree char *refs = g_build_filename (dir, "refs", NULL);
  g_autoptr (GDir) d = g_dir_open (refs, 0, error);
  if (!d)
    return FALSE;
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *name;
  while ((name = g_dir_read_name (d))) {
    g_autofree char *ref = g_build_filename (refs, name, NULL);
    if (!g_file_test (ref, G_FILE_TEST_IS_REGULAR))
      continue; /* refs/pr/ and the like */
    g_autofree char *hash = NULL;
    if (!g_file_get_contents (ref, &hash, NULL, error))
      return FALSE;
    g_strstrip (hash);
    if (!*hash || strchr (hash, '/') || strcmp (hash, "..") == 0 || strcmp (hash, ".") == 0) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: not a commit hash", ref);
      return FALSE;
    }
    g_autofree char *snap = g_build_filename (dir, "snapshots", hash, NULL);
    if (!g_file_test (snap, G_FILE_TEST_IS_DIR))
      continue; /* a revision that was not downloaded */
    gint64 step;
    if (!checkpoint_step (snap, name, &step, error)) {
      if (error && *error)
        return FALSE;
      continue; /* "main" and other revisions without a step */
    }
    if (g_hash_table_contains (seen, hash))
      continue; /* two names for one snapshot */
    g_hash_table_add (seen, g_strdup (hash));
    g_ptr_array_add (run->checkpoints, strata_series_checkpoint_new (snap, name, step));
  }
  return TRUE;
}

static gboolean
discover_subfolders (StrataTrainingRun *run, const char *dir, GError **error)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, error);
  if (!d)
    return FALSE;
  const char *name;
  while ((name = g_dir_read_name (d))) {
    g_autofree char *path = g_build_filename (dir, name, NULL);
    if (!g_file_test (path, G_FILE_TEST_IS_DIR))
      continue;
    gint64 step;
    if (!checkpoint_step (path, name, &step, error)) {
      if (error && *error)
        return FALSE;
      continue;
    }
    g_ptr_array_add (run->checkpoints, strata_series_checkpoint_new (path, name, step));
  }
  return TRUE;
}

/* "models--org--name" (a hub cache folder) reads as "org/name". */
static char *
run_name (const char *dir)
{
  g_autofree char *base = g_path_get_basename (dir);
  if (g_str_has_prefix (base, "models--")) {
    g_auto (GStrv) parts = g_strsplit (base + 8, "--", -1);
    return g_strjoinv ("/", parts);
  }
  return g_steal_pointer (&base);
}

StrataTrainingRun *
strata_training_run_discover (const char *dir, GError **error)
{
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: not a folder of checkpoints", dir);
    return NULL;
  }
  g_autofree char *name = run_name (dir);
  g_autoptr (StrataTrainingRun) run = strata_training_run_new (name, dir);
  g_autofree char *refs = g_build_filename (dir, "refs", NULL);
  g_autofree char *snapshots = g_build_filename (dir, "snapshots", NULL);
  gboolean hub = g_file_test (refs, G_FILE_TEST_IS_DIR) && g_file_test (snapshots, G_FILE_TEST_IS_DIR);
  if (!(hub ? discover_hub (run, dir, error) : discover_subfolders (run, dir, error)))
    return NULL;
  if (run->checkpoints->len == 0) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: no checkpoints found (subfolders named checkpoint-N, step-N or global_stepN, or "
                 "holding a trainer_state.json; or the refs/ of a Hugging Face download)", dir);
    return NULL;
  }
  g_ptr_array_sort (run->checkpoints, compare_step);
  for (guint i = 1; i < run->checkpoints->len; i++) {
    const StrataSeriesCheckpoint *a = run->checkpoints->pdata[i - 1], *b = run->checkpoints->pdata[i];
    if (a->step == b->step) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: two checkpoints of step %" G_GINT64_FORMAT ": %s and %s", dir, a->step, a->label, b->label);
      return NULL;
    }
  }
  return g_steal_pointer (&run);
}

/* ---- lookups ---- */

const StrataLensAggregate *
strata_series_checkpoint_get_aggregate (const StrataSeriesCheckpoint *cp, const char *tag, const char *target,
                                        const char *position)
{
  if (!strata_series_checkpoint_is_done (cp) || !cp->lens_aggregates)
    return NULL;
  for (guint i = 0; i < cp->lens_aggregates->len; i++) {
    const StrataLensAggregate *a = cp->lens_aggregates->pdata[i];
    if (g_strcmp0 (a->tag, tag ? tag : "all") == 0 && g_strcmp0 (a->target, target) == 0
        && g_strcmp0 (a->position, position) == 0)
      return a;
  }
  return NULL;
}

const StrataSeriesAccuracy *
strata_series_checkpoint_get_accuracy (const StrataSeriesCheckpoint *cp, const char *tag, const char *target)
{
  if (!strata_series_checkpoint_is_done (cp) || !cp->accuracy)
    return NULL;
  for (guint i = 0; i < cp->accuracy->len; i++) {
    const StrataSeriesAccuracy *a = cp->accuracy->pdata[i];
    if (g_strcmp0 (a->tag, tag ? tag : "all") == 0 && g_strcmp0 (a->target, target) == 0)
      return a;
  }
  return NULL;
}

const StrataPatchAggregate *
strata_series_checkpoint_get_patch (const StrataSeriesCheckpoint *cp, const char *tag, StrataPatchSite site)
{
  if (!strata_series_checkpoint_is_done (cp) || !cp->patch_aggregates)
    return NULL;
  for (guint i = 0; i < cp->patch_aggregates->len; i++) {
    const StrataPatchAggregate *a = cp->patch_aggregates->pdata[i];
    if (g_strcmp0 (a->tag, tag ? tag : "all") == 0 && a->site == site)
      return a;
  }
  return NULL;
}

