/* strata-h5.h: a thin GLib-style layer over the HDF5 C library (1.10).
 *
 * - Typed auto-cleanups for every kind of hid_t, so each handle is closed on every path:
 *     g_auto (StrataH5Group) g = strata_h5_group_open (file, "analyses", error);
 *   A handle that is H5I_INVALID_HID is left alone.
 * - The HDF5 error stack becomes the GError message (the innermost, most specific
 *   description); HDF5's own printing to stderr is switched off by strata_h5_init().
 * - Datasets of float32, float64 and int32 of a given rank and shape are written chunked and
 *   deflate-compressed (shuffled first), and read back only after their dtype class, size,
 *   rank and exact shape were checked. External storage and virtual datasets are refused:
 *   a session must never make the reader open other files.
 *
 * Every message names the object by its full path inside the file; callers prefix the file
 * name (g_prefix_error). Errors are in STRATA_DATA_ERROR: FORMAT for content that is not
 * what the schema says, IO for HDF5 calls that fail. */
#pragma once

#include <glib.h>
#include <hdf5.h>

#include "strata-data-error.h"

G_BEGIN_DECLS

typedef hid_t StrataH5File;
typedef hid_t StrataH5Group;
typedef hid_t StrataH5Dataset;
typedef hid_t StrataH5Space;
typedef hid_t StrataH5Type;
typedef hid_t StrataH5Attr;
typedef hid_t StrataH5Plist;

void strata_h5_file_close (StrataH5File id);
void strata_h5_group_close (StrataH5Group id);
void strata_h5_dataset_close (StrataH5Dataset id);
void strata_h5_space_close (StrataH5Space id);
void strata_h5_type_close (StrataH5Type id);
void strata_h5_attr_close (StrataH5Attr id);
void strata_h5_plist_close (StrataH5Plist id);

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (StrataH5File, strata_h5_file_close, H5I_INVALID_HID)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (StrataH5Group, strata_h5_group_close, H5I_INVALID_HID)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (StrataH5Dataset, strata_h5_dataset_close, H5I_INVALID_HID)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (StrataH5Space, strata_h5_space_close, H5I_INVALID_HID)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (StrataH5Type, strata_h5_type_close, H5I_INVALID_HID)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (StrataH5Attr, strata_h5_attr_close, H5I_INVALID_HID)
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (StrataH5Plist, strata_h5_plist_close, H5I_INVALID_HID)

/* Take a handle out of an auto-cleaned variable (returns it, leaves H5I_INVALID_HID). */
static inline hid_t
strata_h5_steal (hid_t *id)
{
  hid_t v = *id;
  *id = H5I_INVALID_HID;
  return v;
}

/* Silence HDF5's automatic error printing (once per process). Every function below calls
 * it; call it yourself before using raw HDF5 calls. */
void strata_h5_init (void);

/* Set `error` to "<what>: <innermost HDF5 description>" and clear the HDF5 error stack.
 * Returns FALSE so that `return strata_h5_fail (...)` reads naturally. */
gboolean strata_h5_fail (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* The full path of `loc` joined with `name` ("/analyses/000000/lens"), for messages. */
char *strata_h5_describe (hid_t loc, const char *name);

typedef enum {
  STRATA_H5_F32,
  STRATA_H5_F64,
  STRATA_H5_I32,
} StrataH5Kind;

const char *strata_h5_kind_to_string (StrataH5Kind kind); /* "float32", "float64", "int32" */
gsize strata_h5_kind_size (StrataH5Kind kind);

#define STRATA_H5_MAX_RANK 4

/* Files. Creating truncates. A created file uses the HDF5 1.8 format (checksummed
 * metadata) and a "semi" close degree: closing fails while an object in it is still open,
 * instead of silently leaving data unwritten. */
StrataH5File strata_h5_file_create (const char *path, GError **error);
StrataH5File strata_h5_file_open_read (const char *path, GError **error);
/* H5Fflush then H5Fclose; sets *file to H5I_INVALID_HID whatever happens. */
gboolean strata_h5_file_close_checked (StrataH5File *file, GError **error);

/* Groups. */
StrataH5Group strata_h5_group_create (hid_t loc, const char *name, GError **error);
StrataH5Group strata_h5_group_open (hid_t loc, const char *name, GError **error);
/* TRUE when `name` is a link in `loc` (a missing optional member is not an error). */
gboolean strata_h5_exists (hid_t loc, const char *name);

/* Numeric datasets, row-major. dims may contain zeros (stored contiguous, unfiltered). */
gboolean strata_h5_write_array (hid_t loc, const char *name, StrataH5Kind kind, int rank,
                                const hsize_t *dims, const void *data, GError **error);
/* Read into `out`, which holds exactly the product of dims elements of `kind`. */
gboolean strata_h5_read_array_into (hid_t loc, const char *name, StrataH5Kind kind, int rank,
                                    const hsize_t *dims, void *out, GError **error);
/* The same into a new g_malloc buffer (never NULL on success, even for zero elements). */
gpointer strata_h5_read_array (hid_t loc, const char *name, StrataH5Kind kind, int rank,
                               const hsize_t *dims, GError **error);
/* The shape of a 1-D dataset of `kind` (validated like a read), for ragged data whose
 * length the file itself says. */
gboolean strata_h5_read_length (hid_t loc, const char *name, StrataH5Kind kind, hsize_t *n,
                                GError **error);

/* Variable-length UTF-8 string arrays (1-D). NULL entries are written as "". */
gboolean strata_h5_write_strings (hid_t loc, const char *name, const char *const *strv, gsize n,
                                  GError **error);
/* A NULL-terminated array of n strings; n_expected < 0 accepts any length. */
GStrv strata_h5_read_strings (hid_t loc, const char *name, gssize n_expected, gsize *n,
                              GError **error);

/* Scalar attributes. Strings are variable-length UTF-8 (fixed-length ones are read too);
 * integers are int64 on disk read back with a range check; floats keep their width so that
 * a float32 round-trips bit for bit. */
gboolean strata_h5_set_string_attr (hid_t loc, const char *name, const char *value, GError **error);
gboolean strata_h5_set_int_attr (hid_t loc, const char *name, gint64 value, GError **error);
gboolean strata_h5_set_double_attr (hid_t loc, const char *name, double value, GError **error);
gboolean strata_h5_set_float_attr (hid_t loc, const char *name, float value, GError **error);

gboolean strata_h5_has_attr (hid_t loc, const char *name);
char *strata_h5_get_string_attr (hid_t loc, const char *name, GError **error);
gboolean strata_h5_get_int_attr (hid_t loc, const char *name, gint64 min, gint64 max, gint64 *out,
                                 GError **error);
gboolean strata_h5_get_double_attr (hid_t loc, const char *name, double *out, GError **error);
gboolean strata_h5_get_float_attr (hid_t loc, const char *name, float *out, GError **error);

G_END_DECLS
