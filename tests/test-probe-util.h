/* test-probe-util.h: shared by the probe tests: test data paths, models, golden JSON. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>

#include "strata-engine.h"
#include "strata-model.h"
#include "strata-patching.h"
#include "strata-prompt-set.h"

static inline char *
probe_data_path (const char *rel)
{
  const char *root = g_getenv ("STRATA_TEST_DATA");
  return g_build_filename (root ? root : "tests/data", rel, NULL);
}

static inline StrataModel *
probe_open (const char *rel)
{
  g_autofree char *path = probe_data_path (rel);
  g_autoptr (GError) error = NULL;
  StrataModel *m = strata_model_open (path, NULL, &error);
  g_assert_no_error (error);
  return m;
}

static inline StrataEngine *
probe_engine (StrataModel *m)
{
  StrataStatus st;
  StrataEngine *e = strata_engine_new (strata_backend_cpu (), m->weights, &st);
  g_assert_nonnull (e);
  return e;
}

/* Root object of a JSON file (the parser is returned for ownership). */
static inline JsonObject *
probe_golden (const char *rel, JsonParser **parser)
{
  g_autofree char *path = probe_data_path (rel);
  g_autoptr (GError) error = NULL;
  *parser = json_parser_new ();
  json_parser_load_from_file (*parser, path, &error);
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (*parser));
}

static inline GArray *
probe_json_ids (JsonObject *o, const char *member)
{
  JsonArray *a = json_object_get_array_member (o, member);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  for (guint i = 0; i < json_array_get_length (a); i++) {
    int32_t v = (int32_t) json_array_get_int_element (a, i);
    g_array_append_val (ids, v);
  }
  return ids;
}

/* Element [i][j] of a JSON array of arrays of numbers. */
static inline double
probe_json_at (JsonArray *a, guint i, guint j)
{
  return json_array_get_double_element (json_array_get_array_element (a, i), j);
}

/* Write `text` to a fresh temporary file; returns its path. */
static inline char *
probe_temp_file (const char *text)
{
  g_autoptr (GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("strata-probe-XXXXXX.jsonl", &path, &error);
  g_assert_no_error (error);
  close (fd);
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
  return path;
}

/* A prompt set of `m` from JSONL `text` (through a temporary file, removed again). */
static inline StrataPromptSet *
probe_prompt_set (StrataModel *m, const char *text)
{
  g_autofree char *path = probe_temp_file (text);
  g_autoptr (GError) error = NULL;
  StrataPromptSet *set = strata_prompt_set_load (path, m, &error);
  g_assert_no_error (error);
  g_unlink (path);
  return set;
}

/* "Lily" + rest, corrupted to "Tim" + rest, target " She" against " He". */
static inline StrataPromptSet *
probe_lily_and_tim (StrataModel *m, const char *rest)
{
  g_autofree char *text = g_strconcat ("Lily", rest, NULL), *corrupt = g_strconcat ("Tim", rest, NULL);
  const char *const targets[] = { " She", NULL };
  g_autoptr (GError) error = NULL;
  StrataPromptSet *set = strata_prompt_set_new_single (m, text, NULL, 0, corrupt, targets, " He", &error);
  g_assert_no_error (error);
  return set;
}

/* Largest difference of two results' metrics and scores, relative to max(1, |value|): sweeps
 * that sum the same products over different numbers of rows round differently in float32. */
static inline double
probe_patch_difference (const StrataPatchResult *a, const StrataPatchResult *b)
{
  double worst = 0;
  g_assert_cmpuint (a->maps->len, ==, b->maps->len);
  for (guint i = 0; i < a->maps->len; i++) {
    const StrataPatchMap *x = a->maps->pdata[i], *y = b->maps->pdata[i];
    g_assert_cmpint (x->rows * x->cols, ==, y->rows * y->cols);
    for (int c = 0; c < x->rows * x->cols; c++)
      worst = MAX (worst, MAX (fabs (x->metric[c] - y->metric[c]) / MAX (1.0, fabs (x->metric[c])),
                               fabs (x->score[c] - y->score[c]) / MAX (1.0, fabs (x->score[c]))));
  }
  return worst;
}
