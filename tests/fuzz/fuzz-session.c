/* fuzz-session.c: libFuzzer target for the session reader (strata_session_load, HDF5).
 *
 * Each input is a whole session file. It is written to a file (the reader takes a path and
 * checks it is a regular file, as it does for a person's file) and opened; the reader must
 * return a session or an error, never crash, leak or read out of bounds. What it returns is
 * then used the way `strata export`, `session-info` and the window use it: every series
 * lookup, every figure's normalised data and description, and the figures of the series and
 * the one the saved view shows drawn on a small surface and hit-tested (the layout and axis
 * arithmetic on hostile-but-valid numbers: steps near 2^63, 65536 layers, NaN).
 *
 * HDF5 checksums its metadata (superblock v2, object headers), so nearly every byte flip of
 * a valid file ends at "checksum mismatch" before the reader sees it. The custom mutator
 * therefore recomputes, after libFuzzer's mutation, the checksums of the superblock and of
 * every object header chunk (OHDR, and the OCHK continuation chunks its messages point to),
 * which is where attributes live: the mutated dtypes, sizes, counts and names then reach
 * Strata's checks (and libhdf5's decoders). One input in four keeps its broken checksums.
 * Fractal heaps and v2 B-trees (dense attribute and link storage) keep theirs. */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "strata-figure.h"
#include "strata-session.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);
size_t LLVMFuzzerMutate (uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator (uint8_t *data, size_t size, size_t max_size, unsigned int seed);

#include "h5-checksums.h"

size_t
LLVMFuzzerCustomMutator (uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
  size = LLVMFuzzerMutate (data, size, max_size);
  if (seed % 4 != 0)
    fix_checksums (data, size);
  return size;
}

/* ---- the target ---- */

static char *
scratch_path (void)
{
  static char *path;
  if (!path) {
    const char *dir = g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR) ? "/dev/shm" : g_get_tmp_dir ();
    path = g_strdup_printf ("%s/strata-fuzz-session-%d.h5", dir, (int) getpid ());
  }
  return path;
}

static gboolean
write_input (const char *path, const guint8 *data, size_t size)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return FALSE;
  size_t done = 0;
  while (done < size) {
    ssize_t n = write (fd, data + done, size - done);
    if (n <= 0)
      break;
    done += (size_t) n;
  }
  close (fd);
  return done == size;
}

/* What export, session-info and the window do with a session: look things up, normalise
 * every figure, describe it. */
static void
use_session (StrataSession *s)
{
  StrataViewState v = s->view;
  StrataFigureInput in = { .view = &v };
  in.a = s->analyses->len > 0 ? s->analyses->pdata[0] : NULL;
  in.b = s->analyses->len > 1 ? s->analyses->pdata[1] : NULL;
  in.series = s->series;
  if (s->series) {
    guint total;
    strata_series_count_done (s->series, &total);
    g_autoptr (GPtrArray) tags = strata_prompt_set_list_tags (s->series->prompts);
    g_autoptr (GPtrArray) targets = strata_prompt_set_list_targets (s->series->prompts);
    g_autoptr (GPtrArray) positions = strata_prompt_set_list_positions (s->series->prompts);
    g_free (strata_prompt_set_position_name (s->series->prompts, v.position));
  }
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 320, 200);
  for (int k = 0; k < STRATA_FIGURE_N_ALL; k++) {
    in.kind = (StrataFigureKind) k;
    g_autofree char *title = NULL, *desc = NULL;
    strata_figure_describe (&in, &title, &desc);
    if (!STRATA_FIGURE_IS_SERIES (k) && k != (int) v.figure)
      continue;
    cairo_t *cr = cairo_create (surface);
    strata_figure_draw (cr, 320, 200, &in);
    cairo_destroy (cr);
    StrataFigureHit hit;
    strata_figure_hit_test (&in, 320, 200, 160, 100, &hit);
  }
  cairo_surface_destroy (surface);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  const char *path = scratch_path ();
  if (!write_input (path, data, size))
    return 0;
  GError *error = NULL;
  StrataSession *s = strata_session_load (path, &error);
  if (s) {
    use_session (s);
    strata_session_free (s);
  }
  g_clear_error (&error);
  return 0;
}
