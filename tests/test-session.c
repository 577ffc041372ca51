/* test-session.c: sessions saved to HDF5 and opened again.
 *
 * Round trips compare every array byte for byte; damaged, foreign and hostile files must end
 * in a GError naming the file and the problem; a save killed half-way must leave the
 * previous file intact. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "session-sample.h"
#include "strata-config.h"
#include "strata-h5.h"
#include "strata-session.h"

/* ---- helpers ---- */

typedef struct {
  char *dir;
  char *path; /* dir/session.h5 */
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  GError *error = NULL;
  f->dir = g_dir_make_tmp ("strata-session-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "session.h5", NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  GDir *d = g_dir_open (f->dir, 0, NULL);
  const char *name;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
    g_autofree char *p = g_build_filename (f->dir, name, NULL);
    g_unlink (p);
  }
  if (d != NULL)
    g_dir_close (d);
  g_rmdir (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

static const SampleOptions plain = { FALSE, 6, 2, 3 };
static const SampleOptions edges = { TRUE, 6, 2, 3 };

static void
save_sample (const char *path, const SampleOptions *o)
{
  g_autoptr (StrataSession) s = sample_session_new (o);
  GError *error = NULL;
  g_assert_true (strata_session_save (s, path, &error));
  g_assert_no_error (error);
}

/* Load must fail with a message that names the file and contains `problem`. */
static void
assert_load_fails (const char *path, const char *problem)
{
  GError *error = NULL;
  g_autoptr (StrataSession) s = strata_session_load (path, &error);
  g_assert_null (s);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_true (error->domain == STRATA_DATA_ERROR);
  g_assert_true (g_str_has_prefix (error->message, path));
  if (strstr (error->message, problem) == NULL)
    g_error ("expected '%s' in: %s", problem, error->message);
  g_clear_error (&error);
}

static hid_t
open_rw (const char *path)
{
  strata_h5_init ();
  hid_t file = H5Fopen (path, H5F_ACC_RDWR, H5P_DEFAULT);
  g_assert_cmpint (file, >=, 0);
  return file;
}

static void
close_rw (hid_t file)
{
  g_assert_cmpint (H5Fclose (file), >=, 0);
}

/* ---- round trips ---- */

static void
roundtrip (Fixture *f, const SampleOptions *o)
{
  g_autoptr (StrataSession) s = sample_session_new (o);
  GError *error = NULL;
  g_assert_true (strata_session_save (s, f->path, &error));
  g_assert_no_error (error);
  g_assert_nonnull (s->created);
  g_assert_nonnull (s->modified);

  g_autoptr (StrataSession) t = strata_session_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (t);
  sample_session_assert_equal (s, t);
  g_assert_cmpstr (t->created, ==, s->created);
  g_assert_cmpstr (t->modified, ==, s->modified);
  g_assert_cmpstr (t->program_version, ==, STRATA_VERSION);

  /* Saving what was loaded writes the same session again: the reader misses nothing the
   * writer needs. */
  g_autofree char *again = g_build_filename (f->dir, "again.h5", NULL);
  g_assert_true (strata_session_save (t, again, &error));
  g_assert_no_error (error);
  g_autoptr (StrataSession) u = strata_session_load (again, &error);
  g_assert_no_error (error);
  sample_session_assert_equal (s, u);
  g_assert_cmpstr (u->created, ==, s->created); /* created survives a re-save */
}

static void
test_roundtrip_plain (Fixture *f, gconstpointer data)
{
  roundtrip (f, &plain);
}

static void
test_roundtrip_edges (Fixture *f, gconstpointer data)
{
  roundtrip (f, &edges);
}

/* Empty collections and zero-sized arrays (no chunking possible) round-trip too. */
static void
test_roundtrip_empty (Fixture *f, gconstpointer data)
{
  g_autoptr (StrataSession) s = strata_session_new ();
  GError *error = NULL;
  g_assert_true (strata_session_save (s, f->path, &error));
  g_assert_no_error (error);
  g_autoptr (StrataSession) t = strata_session_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (t->analyses->len, ==, 0);
  g_assert_null (t->view.target);
  g_assert_null (t->view.tag);

  SampleOptions zero = { FALSE, 0, 2, 3 };
  g_autoptr (StrataSession) z = sample_session_new (&zero);
  StrataAnalysis *a = g_ptr_array_index (z->analyses, 1);
  StrataPrompt *p = g_ptr_array_index (a->prompts->prompts, 0);
  g_array_set_size (p->ids, 0);
  g_array_set_size (p->corrupt_ids, 0);
  g_assert_true (strata_session_save (z, f->path, &error));
  g_assert_no_error (error);
  g_autoptr (StrataSession) y = strata_session_load (f->path, &error);
  g_assert_no_error (error);
  sample_session_assert_equal (z, y);
  StrataAnalysis *b = g_ptr_array_index (y->analyses, 0);
  g_assert_cmpint (b->attention->T, ==, 0);
}

/* ---- damaged and foreign files ---- */

static void
test_missing_file (Fixture *f, gconstpointer data)
{
  assert_load_fails (f->path, "no such file");
}

static void
test_truncated (Fixture *f, gconstpointer data)
{
  save_sample (f->path, &plain);
  g_autofree char *bytes = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (f->path, &bytes, &len, NULL));
  g_assert_cmpuint (len, >, 4096);
  const gsize cuts[] = { 0, 7, 96, 511, len / 5, len / 3, len / 2, len - len / 4, len - 100, len - 1 };
  for (gsize i = 0; i < G_N_ELEMENTS (cuts); i++) {
    g_autofree char *cut = g_strdup_printf ("%s/cut-%" G_GSIZE_FORMAT ".h5", f->dir, cuts[i]);
    g_assert_true (g_file_set_contents (cut, bytes, (gssize) cuts[i], NULL));
    g_test_message ("cut at %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT, cuts[i], len);
    /* Below the superblock there is no signature; above it HDF5 sees the end of file short
     * of the end it recorded. */
    assert_load_fails (cut, cuts[i] < 96 ? "not an HDF5 file" : "truncated");
  }
}

/* The first offset from `at` on whose `n` bytes no global heap collection of the file lies
 * (a collection: "GCOL", version, 3 reserved bytes, its size as 8 little-endian bytes). */
static gsize
past_global_heaps (const char *file, gsize len, gsize at, gsize n)
{
  gboolean moved = TRUE;
  while (moved) {
    moved = FALSE;
    for (gsize start = 0; start + 16 <= len; start++) {
      if (memcmp (file + start, "GCOL", 4) != 0)
        continue;
      gsize size = 0;
      for (int i = 7; i >= 0; i--)
        size = size << 8 | (guint8) file[start + 8 + i];
      if (start < at + n && at < start + size) {
        at = start + size;
        moved = TRUE;
      }
    }
  }
  return at;
}

static void
test_garbage (Fixture *f, gconstpointer data)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  gsize n = 64 * 1024;
  g_autofree guint8 *bytes = g_malloc (n);
  for (gsize i = 0; i < n; i++)
    bytes[i] = (guint8) g_rand_int (rand);
  g_assert_true (g_file_set_contents (f->path, (char *) bytes, (gssize) n, NULL));
  assert_load_fails (f->path, "not an HDF5 file");

  /* A valid signature followed by noise. */
  static const guint8 sig[8] = { 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n' };
  memcpy (bytes, sig, sizeof sig);
  g_assert_true (g_file_set_contents (f->path, (char *) bytes, (gssize) n, NULL));
  assert_load_fails (f->path, "cannot open the HDF5 file");

  /* A real session with noise written over parts of it: an error or (when only string
   * bytes were hit, which HDF5 does not checksum) a session, never a crash. Noise over a
   * global heap collection ("GCOL", where every variable-length string lives) is moved past
   * it: libhdf5 1.10.8 itself crashes decoding a damaged collection, inside H5Aread/H5Dread
   * before Strata sees a byte (tests/fuzz/README.md); such a window would test libhdf5. */
  save_sample (f->path, &plain);
  g_autofree char *good = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (f->path, &good, &len, NULL));
  int failed = 0;
  for (int k = 1; k < 16; k++) {
    g_autofree char *bad = g_memdup2 (good, len);
    gsize at = len * k / 16;
    at = past_global_heaps (good, len, at, 512);
    for (gsize i = at; i < at + 512 && i < len; i++)
      bad[i] = (char) g_rand_int (rand);
    g_assert_true (g_file_set_contents (f->path, bad, (gssize) len, NULL));
    GError *error = NULL;
    g_autoptr (StrataSession) s = strata_session_load (f->path, &error);
    if (s == NULL) {
      g_test_message ("noise at %" G_GSIZE_FORMAT ": %s", at, error->message);
      g_assert_true (g_str_has_prefix (error->message, f->path));
      failed++;
    }
    g_clear_error (&error);
  }
  g_assert_cmpint (failed, >=, 4);
}

static void
test_foreign (Fixture *f, gconstpointer data)
{
  strata_h5_init ();
  hid_t file = H5Fcreate (f->path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  g_assert_cmpint (file, >=, 0);
  hsize_t dims[1] = { 3 };
  float v[3] = { 1, 2, 3 };
  GError *error = NULL;
  g_assert_true (strata_h5_write_array (file, "weights", STRATA_H5_F32, 1, dims, v, &error));
  close_rw (file);
  assert_load_fails (f->path, "not a Strata session");

  file = open_rw (f->path);
  g_assert_true (strata_h5_set_string_attr (file, "format", "keras", &error));
  close_rw (file);
  assert_load_fails (f->path, "format is 'keras'");
}

static void
test_missing_group (Fixture *f, gconstpointer data)
{
  save_sample (f->path, &plain);
  hid_t file = open_rw (f->path);
  g_assert_cmpint (H5Ldelete (file, "/analyses/000000/lens", H5P_DEFAULT), >=, 0);
  close_rw (file);
  assert_load_fails (f->path, "missing group '/analyses/000000/lens'");

  save_sample (f->path, &plain);
  file = open_rw (f->path);
  g_assert_cmpint (H5Ldelete (file, "/analyses/000001/patching/results/000001", H5P_DEFAULT), >=, 0);
  close_rw (file);
  assert_load_fails (f->path, "missing group '/analyses/000001/patching/results/000001'");

  save_sample (f->path, &plain);
  file = open_rw (f->path);
  g_assert_cmpint (H5Ldelete (file, "/analyses/000000/lens/results/000002/targets/000001/rank",
                              H5P_DEFAULT), >=, 0);
  close_rw (file);
  assert_load_fails (f->path, "missing dataset '/analyses/000000/lens/results/000002/targets/000001/rank'");

  save_sample (f->path, &plain);
  file = open_rw (f->path);
  g_assert_cmpint (H5Ldelete (file, "/view", H5P_DEFAULT), >=, 0);
  close_rw (file);
  assert_load_fails (f->path, "missing group '/view'");
}

/* Replace dataset `name` in `group` of the saved sample by one of another dtype or shape. */
static void
replace_dataset (const char *path, const char *group, const char *name, StrataH5Kind kind,
                 int rank, const hsize_t *dims)
{
  hid_t file = open_rw (path);
  hid_t g = H5Gopen2 (file, group, H5P_DEFAULT);
  g_assert_cmpint (g, >=, 0);
  g_assert_cmpint (H5Ldelete (g, name, H5P_DEFAULT), >=, 0);
  gsize n = 1;
  for (int i = 0; i < rank; i++)
    n *= dims[i];
  g_autofree double *zeros = g_new0 (double, n);
  GError *error = NULL;
  g_assert_true (strata_h5_write_array (g, name, kind, rank, dims, zeros, &error));
  g_assert_no_error (error);
  H5Gclose (g);
  close_rw (file);
}

static void
test_wrong_dtype (Fixture *f, gconstpointer data)
{
  /* topk_ids of prompt 0 in analysis 0: (L+1, T, topk) = (5, 5, 3). */
  const char *res = "/analyses/000000/lens/results/000000";
  hsize_t ltk[3] = { 5, 5, 3 };
  save_sample (f->path, &plain);
  replace_dataset (f->path, res, "topk_ids", STRATA_H5_F32, 3, ltk);
  assert_load_fails (f->path, "'/analyses/000000/lens/results/000000/topk_ids' has type float32, expected int32");

  save_sample (f->path, &plain);
  replace_dataset (f->path, res, "topk_prob", STRATA_H5_F64, 3, ltk);
  assert_load_fails (f->path, "topk_prob' has type float64, expected float32");

  save_sample (f->path, &plain);
  hsize_t wrong[3] = { 5, 4, 3 };
  replace_dataset (f->path, res, "topk_prob", STRATA_H5_F32, 3, wrong);
  assert_load_fails (f->path, "topk_prob' has shape (5, 4, 3), expected (5, 5, 3)");

  save_sample (f->path, &plain);
  hsize_t flat[1] = { 75 };
  replace_dataset (f->path, res, "topk_prob", STRATA_H5_F32, 1, flat);
  assert_load_fails (f->path, "topk_prob' has 1 dimensions, expected 3");

  /* Attributes are typed too. */
  save_sample (f->path, &plain);
  hid_t file = open_rw (f->path);
  hid_t g = H5Gopen2 (file, res, H5P_DEFAULT);
  GError *error = NULL;
  g_assert_true (strata_h5_set_string_attr (g, "T", "five", &error));
  H5Gclose (g);
  close_rw (file);
  assert_load_fails (f->path, "attribute '/analyses/000000/lens/results/000000/T' has type string, expected an integer");

  save_sample (f->path, &plain);
  file = open_rw (f->path);
  g = H5Gopen2 (file, "/view", H5P_DEFAULT);
  g_assert_true (strata_h5_set_string_attr (g, "figure", "sankey", &error));
  H5Gclose (g);
  close_rw (file);
  assert_load_fails (f->path, "'/view/figure' is 'sankey', not a known figure");

  /* A float32 where float64 is kept would round: refused. */
  save_sample (f->path, &plain);
  file = open_rw (f->path);
  g = H5Gopen2 (file, "/analyses/000000/lens", H5P_DEFAULT);
  g_assert_true (strata_h5_set_float_attr (g, "threshold", 0.5f, &error));
  H5Gclose (g);
  close_rw (file);
  assert_load_fails (f->path, "threshold' has type float32, expected float64");
}

/* ---- series (format 1.2) ---- */

static const SampleOptions with_series = { FALSE, 6, 2, 3, TRUE };
static const SampleOptions edges_series = { TRUE, 6, 2, 3, TRUE };

static void
test_roundtrip_series (Fixture *f, gconstpointer data)
{
  roundtrip (f, &with_series);
  roundtrip (f, &edges_series);
}

static void
set_attr_at (const char *path, const char *group, const char *name, const char *string, gint64 value)
{
  hid_t file = open_rw (path);
  hid_t g = H5Oopen (file, group, H5P_DEFAULT);
  g_assert_cmpint (g, >=, 0);
  GError *error = NULL;
  if (H5Aexists (g, name) > 0)
    g_assert_cmpint (H5Adelete (g, name), >=, 0);
  g_assert_true (string ? strata_h5_set_string_attr (g, name, string, &error)
                        : strata_h5_set_int_attr (g, name, value, &error));
  g_assert_no_error (error);
  H5Oclose (g);
  close_rw (file);
}

/* Hostile series: every count, size and name is checked before it is trusted. */
static void
test_series_hostile (Fixture *f, gconstpointer data)
{
  const char *cp = "/series/runs/000000/checkpoints/000000";
  save_sample (f->path, &with_series);
  hsize_t three[1] = { 3 };
  hid_t file = open_rw (f->path);
  hid_t g = H5Gopen2 (file, "/series/runs/000000/checkpoints/000000/accuracy", H5P_DEFAULT);
  g_assert_cmpint (H5Ldelete (g, "correct", H5P_DEFAULT), >=, 0);
  int32_t too_many[3] = { 1, 1000, 1 };
  GError *error = NULL;
  g_assert_true (strata_h5_write_array (g, "correct", STRATA_H5_I32, 1, three, too_many, &error));
  H5Gclose (g);
  close_rw (file);
  assert_load_fails (f->path, "accuracy/correct'[1] is 1000 of");

  save_sample (f->path, &with_series);
  hsize_t two[1] = { 2 };
  replace_dataset (f->path, "/series/runs/000000/checkpoints/000000/accuracy", "n", STRATA_H5_I32, 1, two);
  assert_load_fails (f->path, "accuracy/n' has shape (2,), expected (3,)");

  save_sample (f->path, &with_series);
  set_attr_at (f->path, "/view", "series_figure", "lens", 0);
  assert_load_fails (f->path, "'/view/series_figure' names 'lens', not a series figure");

  save_sample (f->path, &with_series);
  set_attr_at (f->path, "/view", "series_figure", "sankey", 0);
  assert_load_fails (f->path, "'/view/series_figure' is 'sankey', not a known figure");

  save_sample (f->path, &with_series);
  set_attr_at (f->path, "/view", "figure", "series", 0); /* never written there: 1.1 readers would refuse it */
  assert_load_fails (f->path, "'/view/figure' is 'series', not a known figure");

  save_sample (f->path, &with_series);
  file = open_rw (f->path);
  g = H5Gopen2 (file, "/series", H5P_DEFAULT);
  g_assert_cmpint (H5Ldelete (g, "patch_sites", H5P_DEFAULT), >=, 0);
  const char *sites[] = { "resid_pre", "sankey" };
  g_assert_true (strata_h5_write_strings (g, "patch_sites", sites, 2, &error));
  H5Gclose (g);
  close_rw (file);
  assert_load_fails (f->path, "'/series/patch_sites'[1] is 'sankey', not a known patch site");

  save_sample (f->path, &with_series);
  set_attr_at (f->path, "/series/runs", "count", NULL, 3);
  assert_load_fails (f->path, "/series/runs/000002");

  save_sample (f->path, &with_series);
  set_attr_at (f->path, "/series/runs/000000/checkpoints/000000/lens_aggregates/000000", "n_layers", NULL, 7);
  assert_load_fails (f->path, "lens_aggregates/000000/mrr' has shape (7,), expected (8,)");

  /* A checkpoint marked done must hold its results. */
  save_sample (f->path, &with_series);
  file = open_rw (f->path);
  g = H5Gopen2 (file, cp, H5P_DEFAULT);
  g_assert_cmpint (H5Ldelete (g, "model", H5P_DEFAULT), >=, 0);
  H5Gclose (g);
  close_rw (file);
  assert_load_fails (f->path, "000000/model");

  /* ... and one not done is read without them. */
  save_sample (f->path, &with_series);
  set_attr_at (f->path, cp, "done", NULL, 0);
  g_autoptr (StrataSession) s = strata_session_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_false (strata_series_checkpoint_is_done (((StrataTrainingRun *) s->series->runs->pdata[0])->checkpoints->pdata[0]));
  g_assert_cmpuint (strata_series_count_done (s->series, NULL), ==, 3);

  save_sample (f->path, &with_series);
  set_attr_at (f->path, cp, "done", NULL, 2);
  assert_load_fails (f->path, "done' is 2");
}

/* A chunk larger than its dataset (valid HDF5 for a dataset that may grow; never written by
 * Strata) is refused before HDF5 reads it: HDF5 1.10.8 overruns its buffer on such a file
 * when the chunk claims more than its compressed data holds (found by tests/fuzz). */
static void
test_oversized_chunks (Fixture *f, gconstpointer data)
{
  const char *res = "/analyses/000000/lens/results/000000/targets/000000";
  save_sample (f->path, &plain);
  hid_t file = open_rw (f->path);
  hid_t g = H5Gopen2 (file, res, H5P_DEFAULT);
  g_assert_cmpint (H5Ldelete (g, "logit", H5P_DEFAULT), >=, 0);
  hsize_t dims[2] = { 5, 5 }, maxdims[2] = { H5S_UNLIMITED, H5S_UNLIMITED }, chunk[2] = { 5, 64 };
  hid_t space = H5Screate_simple (2, dims, maxdims);
  hid_t dcpl = H5Pcreate (H5P_DATASET_CREATE);
  g_assert_cmpint (H5Pset_chunk (dcpl, 2, chunk), >=, 0);
  hid_t d = H5Dcreate2 (g, "logit", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  g_assert_cmpint (d, >=, 0);
  float zeros[25] = { 0 };
  g_assert_cmpint (H5Dwrite (d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros), >=, 0);
  H5Dclose (d);
  H5Pclose (dcpl);
  H5Sclose (space);
  H5Gclose (g);
  close_rw (file);
  assert_load_fails (f->path, "targets/000000/logit' has chunks of (5, 64), larger than its shape (5, 5)");
}

/* A 1.2 session (no `device` in the model records) opens with the device unknown (""). */
static void
test_format_1_2 (Fixture *f, gconstpointer data)
{
  save_sample (f->path, &with_series);
  hid_t file = open_rw (f->path);
  for (int a = 0; a < 2; a++) {
    g_autofree char *model = g_strdup_printf ("/analyses/%06d/model", a);
    g_assert_cmpint (H5Adelete_by_name (file, model, "device", H5P_DEFAULT), >=, 0);
  }
  int deleted = 0;
  for (int r = 0; r < 2; r++)
    for (int c = 0; c < 8; c++) {
      g_autofree char *model = g_strdup_printf ("/series/runs/%06d/checkpoints/%06d/model", r, c);
      if (H5Lexists (file, "/series/runs", H5P_DEFAULT) > 0 && H5Oexists_by_name (file, model, H5P_DEFAULT) > 0
          && H5Aexists_by_name (file, model, "device", H5P_DEFAULT) > 0) {
        g_assert_cmpint (H5Adelete_by_name (file, model, "device", H5P_DEFAULT), >=, 0);
        deleted++;
      }
    }
  g_assert_cmpint (deleted, >, 0);
  GError *error = NULL;
  g_assert_true (strata_h5_set_int_attr (file, "format_minor", 2, &error));
  close_rw (file);
  g_autoptr (StrataSession) s = strata_session_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (s->analyses->len, ==, 2);
  for (guint a = 0; a < 2; a++)
    g_assert_cmpstr (((StrataAnalysis *) s->analyses->pdata[a])->model.device, ==, "");
  const StrataSeriesCheckpoint *cp = ((StrataTrainingRun *) s->series->runs->pdata[0])->checkpoints->pdata[0];
  g_assert_cmpstr (cp->model.device, ==, "");
  /* The device itself round-trips (the sample has both). */
  g_autoptr (StrataSession) fresh = sample_session_new (&with_series);
  g_assert_cmpstr (((StrataAnalysis *) fresh->analyses->pdata[0])->model.device, ==, "cuda");
}

/* A 1.1 session (no /series, no series view attributes) opens as before; a reader of 1.1
 * would find in a 1.2 file only what it knows (checked here by deleting what 1.2 adds). */
static void
test_format_1_1 (Fixture *f, gconstpointer data)
{
  save_sample (f->path, &with_series);
  hid_t file = open_rw (f->path);
  g_assert_cmpint (H5Ldelete (file, "series", H5P_DEFAULT), >=, 0);
  hid_t v = H5Gopen2 (file, "/view", H5P_DEFAULT);
  g_assert_cmpint (H5Adelete (v, "series_figure"), >=, 0);
  g_assert_cmpint (H5Adelete (v, "run"), >=, 0);
  g_assert_cmpint (H5Adelete (v, "checkpoint"), >=, 0);
  H5Gclose (v);
  GError *error = NULL;
  g_assert_true (strata_h5_set_int_attr (file, "format_minor", 1, &error));
  close_rw (file);
  g_autoptr (StrataSession) s = strata_session_load (f->path, &error);
  g_assert_no_error (error);
  g_assert_null (s->series);
  g_assert_cmpuint (s->analyses->len, ==, 2);
  g_assert_cmpint (s->view.figure, ==, STRATA_FIGURE_LENS_HEATMAP); /* what `figure` holds */
  g_assert_cmpint (s->view.run, ==, -1);
  g_assert_cmpint (s->view.checkpoint, ==, -1);
}

/* A 1.0 file (no token tables) still opens; its results name tokens without pieces. */
static void
test_format_1_0 (Fixture *f, gconstpointer data)
{
  GError *error = NULL;
  save_sample (f->path, &plain);
  hid_t file = open_rw (f->path);
  g_assert_true (strata_h5_set_int_attr (file, "format_minor", 0, &error));
  for (int a = 0; a < 2; a++)
    for (int i = 0; i < 3; i++) {
      g_autofree char *res = g_strdup_printf ("/analyses/%06d/lens/results/%06d", a, i);
      hid_t g = H5Gopen2 (file, res, H5P_DEFAULT);
      if (g < 0)
        continue;
      if (H5Lexists (g, "token_ids", H5P_DEFAULT) > 0) {
        g_assert_cmpint (H5Ldelete (g, "token_ids", H5P_DEFAULT), >=, 0);
        g_assert_cmpint (H5Ldelete (g, "token_pieces", H5P_DEFAULT), >=, 0);
      }
      H5Gclose (g);
    }
  close_rw (file);
  g_autoptr (StrataSession) s = strata_session_load (f->path, &error);
  g_assert_no_error (error);
  g_autoptr (StrataSession) expect = sample_session_new (&plain);
  for (guint a = 0; a < expect->analyses->len; a++) {
    StrataAnalysis *an = g_ptr_array_index (expect->analyses, a);
    for (guint i = 0; i < an->lens_results->len; i++) {
      StrataLensResult *r = g_ptr_array_index (an->lens_results, i);
      g_clear_pointer (&r->token_ids, g_array_unref);
      g_clear_pointer (&r->token_pieces, g_ptr_array_unref);
    }
  }
  sample_session_assert_equal (expect, s);
}

/* The token table is looked up by binary search: its ids must ascend, one piece each. */
static void
test_bad_token_table (Fixture *f, gconstpointer data)
{
  const char *res = "/analyses/000000/lens/results/000000";
  hsize_t three[1] = { 3 };
  save_sample (f->path, &plain);
  replace_dataset (f->path, res, "token_ids", STRATA_H5_I32, 1, three);
  assert_load_fails (f->path, "token_ids' is not in strictly ascending order");

  /* Pieces of another length than the ids: refused by shape. */
  save_sample (f->path, &plain);
  hid_t file = open_rw (f->path);
  hid_t g = H5Gopen2 (file, res, H5P_DEFAULT);
  g_assert_cmpint (H5Ldelete (g, "token_pieces", H5P_DEFAULT), >=, 0);
  const char *one[] = { "x" };
  GError *error = NULL;
  g_assert_true (strata_h5_write_strings (g, "token_pieces", one, 1, &error));
  H5Gclose (g);
  close_rw (file);
  assert_load_fails (f->path, "token_pieces");
}

static void
test_versions (Fixture *f, gconstpointer data)
{
  GError *error = NULL;
  save_sample (f->path, &plain);
  hid_t file = open_rw (f->path);
  g_assert_true (strata_h5_set_int_attr (file, "format_major", STRATA_SESSION_MAJOR + 1, &error));
  close_rw (file);
  g_autofree char *newer = g_strdup_printf ("session format version %d.%d is newer", STRATA_SESSION_MAJOR + 1,
                                            STRATA_SESSION_MINOR);
  assert_load_fails (f->path, newer);

  /* A newer minor version adds things an older reader ignores. */
  save_sample (f->path, &plain);
  file = open_rw (f->path);
  g_assert_true (strata_h5_set_int_attr (file, "format_minor", STRATA_SESSION_MINOR + 3, &error));
  hid_t g = H5Gcreate2 (file, "/analyses/000000/sae", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  g_assert_cmpint (g, >=, 0);
  g_assert_true (strata_h5_set_string_attr (g, "dictionary", "future", &error));
  H5Gclose (g);
  g = H5Gopen2 (file, "/view", H5P_DEFAULT);
  g_assert_true (strata_h5_set_int_attr (g, "zoom", 3, &error));
  H5Gclose (g);
  close_rw (file);
  g_autoptr (StrataSession) s = strata_session_load (f->path, &error);
  g_assert_no_error (error);
  g_autoptr (StrataSession) expect = sample_session_new (&plain);
  sample_session_assert_equal (expect, s);
}

static void
test_external (Fixture *f, gconstpointer data)
{
  save_sample (f->path, &plain);
  g_autofree char *ext = g_build_filename (f->dir, "outside.bin", NULL);
  g_autofree char *raw = g_malloc0 (5 * 4);
  g_assert_true (g_file_set_contents (ext, raw, 5 * 4, NULL));

  hid_t file = open_rw (f->path);
  const char *group = "/analyses/000000/prompts/000000";
  hid_t g = H5Gopen2 (file, group, H5P_DEFAULT);
  g_assert_cmpint (H5Ldelete (g, "ids", H5P_DEFAULT), >=, 0);
  hid_t dcpl = H5Pcreate (H5P_DATASET_CREATE);
  g_assert_cmpint (H5Pset_external (dcpl, ext, 0, 5 * 4), >=, 0);
  hsize_t dims[1] = { 5 };
  hid_t space = H5Screate_simple (1, dims, NULL);
  hid_t d = H5Dcreate2 (g, "ids", H5T_STD_I32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  g_assert_cmpint (d, >=, 0);
  H5Dclose (d);
  H5Sclose (space);
  H5Pclose (dcpl);
  H5Gclose (g);
  close_rw (file);
  assert_load_fails (f->path, "'/analyses/000000/prompts/000000/ids' has its data in external files");
}

static void
test_virtual (Fixture *f, gconstpointer data)
{
  save_sample (f->path, &plain);
  hid_t file = open_rw (f->path);
  const char *group = "/analyses/000000/prompts/000000";
  hid_t g = H5Gopen2 (file, group, H5P_DEFAULT);
  g_assert_cmpint (H5Ldelete (g, "ids", H5P_DEFAULT), >=, 0);
  hsize_t dims[1] = { 5 };
  hid_t space = H5Screate_simple (1, dims, NULL);
  hid_t dcpl = H5Pcreate (H5P_DATASET_CREATE);
  /* Mapped onto another dataset of the same file: still refused, a session is plain data. */
  g_assert_cmpint (H5Pset_virtual (dcpl, space, ".", "/analyses/000001/prompts/000000/ids", space), >=, 0);
  hid_t d = H5Dcreate2 (g, "ids", H5T_STD_I32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  g_assert_cmpint (d, >=, 0);
  H5Dclose (d);
  H5Pclose (dcpl);
  H5Sclose (space);
  H5Gclose (g);
  close_rw (file);
  assert_load_fails (f->path, "'/analyses/000000/prompts/000000/ids' is a virtual dataset");
}

static void
test_bad_edges (Fixture *f, gconstpointer data)
{
  save_sample (f->path, &plain);
  hid_t file = open_rw (f->path);
  hid_t d = H5Dopen2 (file, "/analyses/000000/circuit/edge_to", H5P_DEFAULT);
  int32_t to[7] = { 1, 2, 3, 4, 5, 6, 99 };
  g_assert_cmpint (H5Dwrite (d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, to), >=, 0);
  H5Dclose (d);
  close_rw (file);
  assert_load_fails (f->path, "joins nodes 6 and 99, but there are 8 nodes");
}

/* ---- atomic saving ---- */

static GPtrArray *
list_dir (const char *dir)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  if (d != NULL)
    g_dir_close (d);
  return names;
}

static gboolean
has_temporary (const char *dir)
{
  g_autoptr (GPtrArray) names = list_dir (dir);
  for (guint i = 0; i < names->len; i++)
    if (g_str_has_prefix (names->pdata[i], ".session.h5.") && g_str_has_suffix (names->pdata[i], ".tmp"))
      return TRUE;
  return FALSE;
}

static void
remove_temporaries (const char *dir)
{
  g_autoptr (GPtrArray) names = list_dir (dir);
  for (guint i = 0; i < names->len; i++) {
    const char *n = names->pdata[i];
    /* Anything but the session and its temporaries would be a stray file. */
    g_assert_true (strcmp (n, "session.h5") == 0
                   || (g_str_has_prefix (n, ".session.h5.") && g_str_has_suffix (n, ".tmp")));
    if (n[0] == '.') {
      g_autofree char *p = g_build_filename (dir, n, NULL);
      g_unlink (p);
    }
  }
}

static void
test_killed_mid_write (Fixture *f, gconstpointer data)
{
  /* Big enough that deflating the attention pattern takes a while (16 MiB of float32). */
  const SampleOptions big = { FALSE, 256, 8, 8 };
  g_autoptr (StrataSession) original = sample_session_new (&plain);
  GError *error = NULL;
  g_assert_true (strata_session_save (original, f->path, &error));
  g_assert_no_error (error);
  g_autofree char *original_bytes = NULL;
  gsize original_len = 0;
  g_assert_true (g_file_get_contents (f->path, &original_bytes, &original_len, NULL));

  const int delays_ms[] = { 0, 1, 3, 10, 30, 60, 120, 250 };
  int killed = 0;
  for (gsize i = 0; i < G_N_ELEMENTS (delays_ms); i++) {
    pid_t pid = fork ();
    g_assert_cmpint (pid, >=, 0);
    if (pid == 0) {
      g_autoptr (StrataSession) s = sample_session_new (&big);
      _exit (strata_session_save (s, f->path, NULL) ? 0 : 1);
    }
    /* Wait for the temporary to appear, so the kill lands while the file is written. */
    gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
    int status = 0;
    pid_t done = 0;
    while (!has_temporary (f->dir) && (done = waitpid (pid, &status, WNOHANG)) == 0
           && g_get_monotonic_time () < deadline)
      g_usleep (200);
    if (done == 0) {
      g_usleep (delays_ms[i] * 1000);
      kill (pid, SIGKILL);
      g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
    }
    g_autoptr (StrataSession) now = strata_session_load (f->path, &error);
    g_assert_no_error (error);
    g_autofree char *bytes = NULL;
    gsize len = 0;
    g_assert_true (g_file_get_contents (f->path, &bytes, &len, NULL));
    gboolean old_file = len == original_len && memcmp (bytes, original_bytes, len) == 0;
    if (WIFSIGNALED (status) && old_file) {
      g_test_message ("killed after %d ms", delays_ms[i]);
      killed++;
      sample_session_assert_equal (original, now);
    } else if (WIFSIGNALED (status)) {
      /* Killed in the instant after the rename, while the process was exiting: the new
       * session, whole. */
      g_test_message ("killed after %d ms, after the rename", delays_ms[i]);
      g_autoptr (StrataSession) expect = sample_session_new (&big);
      sample_session_assert_equal (expect, now);
      g_assert_true (strata_session_save (original, f->path, &error));
      g_assert_no_error (error);
      g_free (original_bytes);
      g_assert_true (g_file_get_contents (f->path, &original_bytes, &original_len, NULL));
    } else {
      /* The save finished first: the new session replaced the old one whole. */
      g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
      g_test_message ("save finished before a kill after %d ms", delays_ms[i]);
      g_autoptr (StrataSession) expect = sample_session_new (&big);
      sample_session_assert_equal (expect, now);
      g_assert_true (strata_session_save (original, f->path, &error));
      g_assert_no_error (error);
      g_free (original_bytes);
      g_assert_true (g_file_get_contents (f->path, &original_bytes, &original_len, NULL));
    }
    remove_temporaries (f->dir);
  }
  g_assert_cmpint (killed, >=, 3);
}

/* A write that fails half-way (the file size limit stands in for a full disk) removes its
 * temporary and leaves the old file as it was. */
static void
test_full_disk (Fixture *f, gconstpointer data)
{
  save_sample (f->path, &plain);
  g_autofree char *before = NULL;
  gsize before_len;
  g_assert_true (g_file_get_contents (f->path, &before, &before_len, NULL));

  pid_t pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0) {
    signal (SIGXFSZ, SIG_IGN);
    struct rlimit lim = { 256 * 1024, 256 * 1024 };
    setrlimit (RLIMIT_FSIZE, &lim);
    const SampleOptions big = { FALSE, 128, 8, 8 };
    g_autoptr (StrataSession) s = sample_session_new (&big);
    GError *error = NULL;
    gboolean ok = strata_session_save (s, f->path, &error);
    /* 3: saved anyway; 4: failed without naming the file; 0: failed properly. */
    _exit (ok ? 3 : g_str_has_prefix (error->message, f->path) ? 0 : 4);
  }
  int status;
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_assert_false (has_temporary (f->dir));
  g_autofree char *after = NULL;
  gsize after_len;
  g_assert_true (g_file_get_contents (f->path, &after, &after_len, NULL));
  g_assert_cmpmem (before, before_len, after, after_len);
}

static void
test_unwritable (Fixture *f, gconstpointer data)
{
  g_autoptr (StrataSession) s = sample_session_new (&plain);
  g_autofree char *path = g_build_filename (f->dir, "no-such-folder", "s.h5", NULL);
  GError *error = NULL;
  g_assert_false (strata_session_save (s, path, &error));
  g_assert_nonnull (error);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_assert_nonnull (strstr (error->message, "cannot create a temporary file"));
  g_clear_error (&error);
}

/* `strata session-info` reads a session without a model and says what it holds; a bad file
 * gives exit status 1 and the reader's message. */
static void
test_cli_info (Fixture *f, gconstpointer data)
{
  const char *bin = g_getenv ("STRATA_BIN");
  if (bin == NULL) {
    g_test_skip ("STRATA_BIN is not set");
    return;
  }
  save_sample (f->path, &plain);
  const char *argv[] = { bin, "session-info", f->path, NULL };
  g_autofree char *out = NULL, *err = NULL;
  int wait = 0;
  GError *error = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                               &wait, &error));
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (wait) && WEXITSTATUS (wait) == 0);
  g_assert_nonnull (strstr (out, "analysis 0: twohop-cot (gpt2"));
  g_assert_nonnull (strstr (out, "lens       3 results, 2 aggregates"));
  g_assert_nonnull (strstr (out, "view: patch figure, analysis 1, prompt 2, layer 3"));

  g_assert_true (g_file_set_contents (f->path, "not hdf5", -1, NULL));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                               &wait, &error));
  g_assert_true (WIFEXITED (wait) && WEXITSTATUS (wait) == 1);
  g_assert_nonnull (strstr (err, "not an HDF5 file"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  strata_h5_init ();
#define ADD(path, fn) g_test_add ("/session/" path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("roundtrip/plain", test_roundtrip_plain);
  ADD ("roundtrip/edges", test_roundtrip_edges);
  ADD ("roundtrip/empty", test_roundtrip_empty);
  ADD ("error/missing-file", test_missing_file);
  ADD ("error/truncated", test_truncated);
  ADD ("error/garbage", test_garbage);
  ADD ("error/foreign", test_foreign);
  ADD ("error/missing-group", test_missing_group);
  ADD ("error/wrong-dtype", test_wrong_dtype);
  ADD ("error/versions", test_versions);
  ADD ("compat/format-1.0", test_format_1_0);
  ADD ("error/token-table", test_bad_token_table);
  ADD ("error/external", test_external);
  ADD ("error/virtual", test_virtual);
  ADD ("error/circuit-edges", test_bad_edges);
  ADD ("roundtrip/series", test_roundtrip_series);
  ADD ("error/series", test_series_hostile);
  ADD ("compat/format-1.2", test_format_1_2);
  ADD ("compat/format-1.1", test_format_1_1);
  ADD ("error/oversized-chunks", test_oversized_chunks);
  ADD ("atomic/killed-mid-write", test_killed_mid_write);
  ADD ("atomic/full-disk", test_full_disk);
  ADD ("atomic/unwritable", test_unwritable);
  ADD ("cli/session-info", test_cli_info);
  return g_test_run ();
}
