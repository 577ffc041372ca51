/* strata-session.c: the session object, the header of the file, atomic saving and checked
 * opening. The body is written and read by strata-session-write.c / -read.c. */
#include "strata-session-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "strata-config.h"

/* ---- enumerations as stored ---- */

/* Every enum stored is named by its own table (strata-enum.h, kernels/strata-recipe.h). */

/* The names listed in docs/session-format.md: a new figure or site is a format addition. */
G_STATIC_ASSERT (STRATA_FIGURE_N == 6);
G_STATIC_ASSERT (STRATA_PATCH_N_SITES == 5);

gboolean
_strata_session_set_enum (hid_t loc, const char *attr, const StrataEnumTable *e, int value,
                          GError **error)
{
  if (value < 0 || value >= e->n) {
    g_autofree char *what = strata_h5_describe (loc, attr);
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "cannot write '%s': %d is not a %s", what, value, e->what);
    return FALSE;
  }
  return strata_h5_set_string_attr (loc, attr, e->values[value].name, error);
}

gboolean
_strata_session_get_enum (hid_t loc, const char *attr, const StrataEnumTable *e, int *value,
                          GError **error)
{
  g_autofree char *s = strata_h5_get_string_attr (loc, attr, error);
  if (s == NULL)
    return FALSE;
  if (strata_enum_from_string (e, s, value))
    return TRUE;
  g_autofree char *what = strata_h5_describe (loc, attr);
  g_autofree char *list = strata_enum_join (e, ", ", ", ", -1);
  g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
               "attribute '%s' is '%s', not a known %s (%s)", what, s, e->what, list);
  return FALSE;
}

/* ---- the object ---- */

StrataSession *
strata_session_new (void)
{
  StrataSession *s = g_new0 (StrataSession, 1);
  s->analyses = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_analysis_free);
  s->view.analysis = 0;
  s->view.head = 0;
  s->view.run = s->view.checkpoint = -1;
  return s;
}

void
strata_session_free (StrataSession *s)
{
  if (s == NULL)
    return;
  g_clear_pointer (&s->analyses, g_ptr_array_unref);
  g_clear_pointer (&s->series, strata_series_free);
  strata_view_state_clear (&s->view);
  g_free (s->created);
  g_free (s->modified);
  g_free (s->program_version);
  g_free (s);
}

/* ---- saving ---- */

static gboolean
write_header (hid_t file, const char *created, const char *modified, GError **error)
{
  return strata_h5_set_string_attr (file, "format", STRATA_SESSION_FORMAT, error)
         && strata_h5_set_int_attr (file, "format_major", STRATA_SESSION_MAJOR, error)
         && strata_h5_set_int_attr (file, "format_minor", STRATA_SESSION_MINOR, error)
         && strata_h5_set_string_attr (file, "program_version", STRATA_VERSION, error)
         && strata_h5_set_string_attr (file, "created", created, error)
         && strata_h5_set_string_attr (file, "modified", modified, error);
}

static gboolean
fsync_path (const char *path, gboolean directory, GError **error)
{
  int fd = g_open (path, O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0), 0);
  if (fd < 0 || fsync (fd) != 0) {
    int saved = errno;
    if (fd >= 0)
      close (fd);
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "cannot flush %s to disk: %s",
                 directory ? "the folder" : "the file", g_strerror (saved));
    return FALSE;
  }
  return g_close (fd, error);
}

/* Everything between creating the temporary and renaming it; on failure the caller removes
 * the temporary. */
static gboolean
write_temporary (StrataSession *s, const char *tmp, const char *created, const char *modified,
                 GError **error)
{
  g_auto (StrataH5File) file = strata_h5_file_create (tmp, error);
  if (file < 0)
    return FALSE;
  if (!write_header (file, created, modified, error) || !_strata_session_write_body (file, s, error))
    return FALSE;
  /* H5Fclose with the semi close degree: fails rather than returning with data unwritten. */
  if (!strata_h5_file_close_checked (&file, error))
    return FALSE;
  return fsync_path (tmp, FALSE, error);
}

gboolean
strata_session_save (StrataSession *s, const char *path, GError **error)
{
  g_return_val_if_fail (s != NULL && path != NULL, FALSE);
  strata_h5_init ();

  /* Beside the target, so the rename stays inside one file system and is atomic; hidden
   * and suffixed so a left-over (after a crash) is never taken for a session. */
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *tmp_name = g_strdup_printf (".%s.XXXXXX.tmp", base);
  g_autofree char *tmp = g_build_filename (dir, tmp_name, NULL);
  int fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0666);
  if (fd < 0) {
    int saved = errno;
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO,
                 "%s: cannot create a temporary file in %s: %s", path, dir, g_strerror (saved));
    return FALSE;
  }
  close (fd);

  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *modified = g_date_time_format_iso8601 (now);
  const char *created = s->created != NULL ? s->created : modified;

  if (!write_temporary (s, tmp, created, modified, error)) {
    g_unlink (tmp);
    g_prefix_error (error, "%s: ", path);
    return FALSE;
  }
  if (g_rename (tmp, path) != 0) {
    int saved = errno;
    g_unlink (tmp);
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: cannot replace the file: %s",
                 path, g_strerror (saved));
    return FALSE;
  }
  /* The rename itself must reach the disk, or a crash could bring the old name back. */
  if (!fsync_path (dir, TRUE, error)) {
    g_prefix_error (error, "%s: ", path);
    return FALSE;
  }
  if (s->created == NULL)
    s->created = g_strdup (created);
  g_free (s->modified);
  s->modified = g_steal_pointer (&modified);
  return TRUE;
}

/* ---- opening ---- */

static gboolean
read_header (hid_t file, StrataSession *s, GError **error)
{
  if (!strata_h5_has_attr (file, "format")) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "not a Strata session (an HDF5 file without the 'format' attribute)");
    return FALSE;
  }
  g_autofree char *format = strata_h5_get_string_attr (file, "format", error);
  if (format == NULL)
    return FALSE;
  if (strcmp (format, STRATA_SESSION_FORMAT) != 0) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "not a Strata session (format is '%s', not '%s')", format, STRATA_SESSION_FORMAT);
    return FALSE;
  }
  gint64 major, minor;
  if (!strata_h5_get_int_attr (file, "format_major", 0, G_MAXINT32, &major, error)
      || !strata_h5_get_int_attr (file, "format_minor", 0, G_MAXINT32, &minor, error))
    return FALSE;
  /* Within a major version every change is an addition an older reader may ignore. */
  if (major != STRATA_SESSION_MAJOR) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                 "session format version %d.%d is %s; this Strata (%s) reads version %d.x",
                 (int) major, (int) minor, major > STRATA_SESSION_MAJOR ? "newer" : "unknown",
                 STRATA_VERSION, STRATA_SESSION_MAJOR);
    return FALSE;
  }
  if (!(s->program_version = strata_h5_get_string_attr (file, "program_version", error))
      || !(s->created = strata_h5_get_string_attr (file, "created", error))
      || !(s->modified = strata_h5_get_string_attr (file, "modified", error)))
    return FALSE;
  return TRUE;
}

StrataSession *
strata_session_load (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  strata_h5_init ();
  g_auto (StrataH5File) file = strata_h5_file_open_read (path, error);
  if (file < 0) {
    g_prefix_error (error, "%s: ", path);
    return NULL;
  }
  g_autoptr (StrataSession) s = strata_session_new ();
  if (!read_header (file, s, error) || !_strata_session_read_body (file, s, error)) {
    g_prefix_error (error, "%s: ", path);
    return NULL;
  }
  return g_steal_pointer (&s);
}
