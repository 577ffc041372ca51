/* strata-h5.c: typed HDF5 handles, error stack to GError, checked typed datasets and
 * attributes. See strata-h5.h. */
#include "strata-h5.h"

#include <stdarg.h>
#include <string.h>

/* Chunks of at most this many elements (256 KiB of float32): small enough that a reader of
 * one prompt's slice decompresses little, large enough for deflate to work well. */
#define CHUNK_ELEMENTS (64 * 1024)
#define DEFLATE_LEVEL 4

void
strata_h5_init (void)
{
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    /* Errors are reported through GError; HDF5 must not print its stack on stderr. */
    H5Eset_auto2 (H5E_DEFAULT, NULL, NULL);
    g_once_init_leave (&once, 1);
  }
}

/* Close a handle, discarding any error it raises: closing happens on cleanup paths where
 * the first error is the one worth reporting. */
#define DEFINE_CLOSE(fn, h5close)                                                          \
  void fn (hid_t id)                                                                       \
  {                                                                                        \
    if (id >= 0 && h5close (id) < 0)                                                       \
      H5Eclear2 (H5E_DEFAULT);                                                             \
  }

DEFINE_CLOSE (strata_h5_file_close, H5Fclose)
DEFINE_CLOSE (strata_h5_group_close, H5Gclose)
DEFINE_CLOSE (strata_h5_dataset_close, H5Dclose)
DEFINE_CLOSE (strata_h5_space_close, H5Sclose)
DEFINE_CLOSE (strata_h5_type_close, H5Tclose)
DEFINE_CLOSE (strata_h5_attr_close, H5Aclose)
DEFINE_CLOSE (strata_h5_plist_close, H5Pclose)

typedef struct {
  char *desc;
} ErrorWalk;

static herr_t
error_walk_cb (unsigned n, const H5E_error2_t *err, void *user_data)
{
  ErrorWalk *walk = user_data;
  /* Walking upward, the first record is the innermost: the most specific description. */
  if (walk->desc == NULL && err->desc != NULL && err->desc[0] != '\0')
    walk->desc = g_strdup (err->desc);
  if (walk->desc == NULL) {
    char msg[256];
    if (H5Eget_msg (err->min_num, NULL, msg, sizeof msg) > 0)
      walk->desc = g_strdup (msg);
  }
  return 0;
}

gboolean
strata_h5_fail (GError **error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *what = g_strdup_vprintf (format, args);
  va_end (args);

  ErrorWalk walk = { NULL };
  if (H5Ewalk2 (H5E_DEFAULT, H5E_WALK_UPWARD, error_walk_cb, &walk) < 0)
    g_clear_pointer (&walk.desc, g_free);
  H5Eclear2 (H5E_DEFAULT);
  if (walk.desc != NULL)
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: %s", what, walk.desc);
  else
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s", what);
  g_free (walk.desc);
  return FALSE;
}

static gboolean
format_fail (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
format_fail (GError **error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *msg = g_strdup_vprintf (format, args);
  va_end (args);
  H5Eclear2 (H5E_DEFAULT);
  g_set_error_literal (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, msg);
  return FALSE;
}

char *
strata_h5_describe (hid_t loc, const char *name)
{
  ssize_t len = H5Iget_name (loc, NULL, 0);
  if (len <= 0) {
    H5Eclear2 (H5E_DEFAULT);
    return g_strdup (name);
  }
  g_autofree char *path = g_malloc ((gsize) len + 1);
  if (H5Iget_name (loc, path, (size_t) len + 1) < 0) {
    H5Eclear2 (H5E_DEFAULT);
    return g_strdup (name);
  }
  if (strcmp (path, "/") == 0)
    return g_strconcat ("/", name, NULL);
  return g_strconcat (path, "/", name, NULL);
}

const char *
strata_h5_kind_to_string (StrataH5Kind kind)
{
  switch (kind) {
  case STRATA_H5_F32: return "float32";
  case STRATA_H5_F64: return "float64";
  case STRATA_H5_I32: return "int32";
  }
  return "?";
}

gsize
strata_h5_kind_size (StrataH5Kind kind)
{
  return kind == STRATA_H5_F64 ? 8 : 4;
}

static hid_t
kind_mem_type (StrataH5Kind kind)
{
  switch (kind) {
  case STRATA_H5_F32: return H5T_NATIVE_FLOAT;
  case STRATA_H5_F64: return H5T_NATIVE_DOUBLE;
  case STRATA_H5_I32: return H5T_NATIVE_INT32;
  }
  return H5T_NATIVE_INT32;
}

/* Little-endian on disk whatever the machine, so files compare byte for byte. */
static hid_t
kind_file_type (StrataH5Kind kind)
{
  switch (kind) {
  case STRATA_H5_F32: return H5T_IEEE_F32LE;
  case STRATA_H5_F64: return H5T_IEEE_F64LE;
  case STRATA_H5_I32: return H5T_STD_I32LE;
  }
  return H5T_STD_I32LE;
}

/* ---- files and groups ---- */

StrataH5File
strata_h5_file_create (const char *path, GError **error)
{
  strata_h5_init ();
  g_auto (StrataH5Plist) fapl = H5Pcreate (H5P_FILE_ACCESS);
  /* 1.8 object headers and superblock carry checksums, so damaged metadata is detected
   * instead of trusted; every HDF5 since 1.8 (h5py included) reads them. */
  if (fapl < 0 || H5Pset_fclose_degree (fapl, H5F_CLOSE_SEMI) < 0
      || H5Pset_libver_bounds (fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) < 0) {
    strata_h5_fail (error, "cannot set up file access");
    return H5I_INVALID_HID;
  }
  hid_t file = H5Fcreate (path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (file < 0)
    strata_h5_fail (error, "cannot create HDF5 file");
  return file;
}

StrataH5File
strata_h5_file_open_read (const char *path, GError **error)
{
  strata_h5_init ();
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO,
                 g_file_test (path, G_FILE_TEST_EXISTS) ? "not a regular file" : "no such file");
    return H5I_INVALID_HID;
  }
  htri_t is_h5 = H5Fis_hdf5 (path);
  if (is_h5 < 0) {
    strata_h5_fail (error, "cannot read the file");
    return H5I_INVALID_HID;
  }
  if (is_h5 == 0) {
    format_fail (error, "not an HDF5 file (no HDF5 signature)");
    return H5I_INVALID_HID;
  }
  hid_t file = H5Fopen (path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0)
    strata_h5_fail (error, "cannot open the HDF5 file (damaged or truncated?)");
  return file;
}

gboolean
strata_h5_file_close_checked (StrataH5File *file, GError **error)
{
  hid_t id = *file;
  *file = H5I_INVALID_HID;
  if (id < 0)
    return TRUE;
  if (H5Fflush (id, H5F_SCOPE_LOCAL) < 0) {
    strata_h5_fail (error, "cannot flush the file");
    strata_h5_file_close (id);
    return FALSE;
  }
  if (H5Fclose (id) < 0)
    return strata_h5_fail (error, "cannot close the file");
  return TRUE;
}

gboolean
strata_h5_exists (hid_t loc, const char *name)
{
  htri_t r = H5Lexists (loc, name, H5P_DEFAULT);
  if (r < 0)
    H5Eclear2 (H5E_DEFAULT);
  return r > 0;
}

StrataH5Group
strata_h5_group_create (hid_t loc, const char *name, GError **error)
{
  hid_t g = H5Gcreate2 (loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) {
    g_autofree char *what = strata_h5_describe (loc, name);
    strata_h5_fail (error, "cannot create group '%s'", what);
  }
  return g;
}

StrataH5Group
strata_h5_group_open (hid_t loc, const char *name, GError **error)
{
  g_autofree char *what = strata_h5_describe (loc, name);
  if (!strata_h5_exists (loc, name)) {
    format_fail (error, "missing group '%s'", what);
    return H5I_INVALID_HID;
  }
  H5O_info_t info;
  if (H5Oget_info_by_name (loc, name, &info, H5P_DEFAULT) < 0) {
    strata_h5_fail (error, "cannot inspect '%s'", what);
    return H5I_INVALID_HID;
  }
  if (info.type != H5O_TYPE_GROUP) {
    format_fail (error, "'%s' is not a group", what);
    return H5I_INVALID_HID;
  }
  hid_t g = H5Gopen2 (loc, name, H5P_DEFAULT);
  if (g < 0)
    strata_h5_fail (error, "cannot open group '%s'", what);
  return g;
}

/* ---- numeric datasets ---- */

static gboolean
count_elements (int rank, const hsize_t *dims, gsize elem, gsize *n_out)
{
  gsize n = 1;
  for (int i = 0; i < rank; i++)
    if (!g_size_checked_mul (&n, n, (gsize) dims[i]))
      return FALSE;
  gsize bytes;
  if (!g_size_checked_mul (&bytes, n, elem) || bytes > G_MAXSSIZE)
    return FALSE;
  *n_out = n;
  return TRUE;
}

/* Shrink the outer dimensions first until a chunk holds at most CHUNK_ELEMENTS, so a chunk
 * is a run of whole rows whenever the rows are small. */
static void
choose_chunk (int rank, const hsize_t *dims, hsize_t *chunk)
{
  hsize_t n = 1;
  for (int i = 0; i < rank; i++) {
    chunk[i] = dims[i];
    n *= dims[i];
  }
  for (int i = 0; i < rank && n > CHUNK_ELEMENTS; i++) {
    hsize_t inner = n / chunk[i];
    hsize_t keep = inner >= CHUNK_ELEMENTS ? 1 : CHUNK_ELEMENTS / inner;
    if (keep < chunk[i]) {
      chunk[i] = keep;
      n = inner * keep;
    }
  }
}

static gboolean
deflate_available (void)
{
  static gsize once = 0;
  static gboolean available;
  if (g_once_init_enter (&once)) {
    available = H5Zfilter_avail (H5Z_FILTER_DEFLATE) > 0 && H5Zfilter_avail (H5Z_FILTER_SHUFFLE) > 0;
    H5Eclear2 (H5E_DEFAULT);
    g_once_init_leave (&once, 1);
  }
  return available;
}

gboolean
strata_h5_write_array (hid_t loc, const char *name, StrataH5Kind kind, int rank,
                       const hsize_t *dims, const void *data, GError **error)
{
  g_return_val_if_fail (rank >= 1 && rank <= STRATA_H5_MAX_RANK, FALSE);
  g_autofree char *what = strata_h5_describe (loc, name);
  gsize n;
  if (!count_elements (rank, dims, strata_h5_kind_size (kind), &n))
    return format_fail (error, "dataset '%s' is too large", what);
  g_return_val_if_fail (n == 0 || data != NULL, FALSE);

  g_auto (StrataH5Space) space = H5Screate_simple (rank, dims, NULL);
  if (space < 0)
    return strata_h5_fail (error, "cannot create the dataspace of '%s'", what);
  g_auto (StrataH5Plist) dcpl = H5Pcreate (H5P_DATASET_CREATE);
  if (dcpl < 0)
    return strata_h5_fail (error, "cannot create the properties of '%s'", what);
  /* Chunks cannot have a zero dimension: empty datasets stay contiguous. */
  if (n > 0) {
    hsize_t chunk[STRATA_H5_MAX_RANK];
    choose_chunk (rank, dims, chunk);
    if (H5Pset_chunk (dcpl, rank, chunk) < 0)
      return strata_h5_fail (error, "cannot set the chunks of '%s'", what);
    if (deflate_available () && (H5Pset_shuffle (dcpl) < 0 || H5Pset_deflate (dcpl, DEFLATE_LEVEL) < 0))
      return strata_h5_fail (error, "cannot set the compression of '%s'", what);
  }
  g_auto (StrataH5Dataset) dset = H5Dcreate2 (loc, name, kind_file_type (kind), space,
                                              H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (dset < 0)
    return strata_h5_fail (error, "cannot create dataset '%s'", what);
  if (n > 0 && H5Dwrite (dset, kind_mem_type (kind), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    return strata_h5_fail (error, "cannot write dataset '%s'", what);
  return TRUE;
}

/* Storage a session must never have: data in other files, or assembled from them. */
static gboolean
check_storage (hid_t dset, const char *what, GError **error)
{
  g_auto (StrataH5Plist) dcpl = H5Dget_create_plist (dset);
  if (dcpl < 0)
    return strata_h5_fail (error, "cannot read the properties of '%s'", what);
  H5D_layout_t layout = H5Pget_layout (dcpl);
  if (layout < 0)
    return strata_h5_fail (error, "cannot read the layout of '%s'", what);
  if (layout == H5D_VIRTUAL)
    return format_fail (error, "dataset '%s' is a virtual dataset, which sessions may not contain", what);
  int n_external = H5Pget_external_count (dcpl);
  if (n_external < 0)
    return strata_h5_fail (error, "cannot read the storage of '%s'", what);
  if (n_external > 0)
    return format_fail (error, "dataset '%s' has its data in external files, which sessions may not use", what);
  return TRUE;
}

static const char *
describe_type (hid_t type, char *buf, gsize size)
{
  H5T_class_t cls = H5Tget_class (type);
  gsize bytes = H5Tget_size (type);
  const char *name = "other";
  switch (cls) {
  case H5T_INTEGER: name = H5Tget_sign (type) == H5T_SGN_NONE ? "uint" : "int"; break;
  case H5T_FLOAT: name = "float"; break;
  case H5T_STRING: name = "string"; break;
  case H5T_COMPOUND: name = "compound"; break;
  case H5T_ENUM: name = "enum"; break;
  default: break;
  }
  H5Eclear2 (H5E_DEFAULT);
  if (cls == H5T_INTEGER || cls == H5T_FLOAT)
    g_snprintf (buf, size, "%s%zu", name, bytes * 8);
  else
    g_snprintf (buf, size, "%s", name);
  return buf;
}

static char *
dims_to_string (int rank, const hsize_t *dims)
{
  GString *s = g_string_new ("(");
  for (int i = 0; i < rank; i++)
    g_string_append_printf (s, i ? ", %llu" : "%llu", (unsigned long long) dims[i]);
  if (rank == 1)
    g_string_append_c (s, ',');
  g_string_append_c (s, ')');
  return g_string_free (s, FALSE);
}

/* Open the dataset `name`, refusing a missing one and external or virtual storage. */
static StrataH5Dataset
open_dataset (hid_t loc, const char *name, const char *what, GError **error)
{
  if (!strata_h5_exists (loc, name)) {
    format_fail (error, "missing dataset '%s'", what);
    return H5I_INVALID_HID;
  }
  g_auto (StrataH5Dataset) dset = H5Dopen2 (loc, name, H5P_DEFAULT);
  if (dset < 0) {
    strata_h5_fail (error, "cannot open dataset '%s'", what);
    return H5I_INVALID_HID;
  }
  if (!check_storage (dset, what, error))
    return H5I_INVALID_HID;
  return strata_h5_steal (&dset);
}

/* Chunks no larger than the dataset in any dimension. HDF5 allows larger ones (for datasets
 * that grow), Strata never writes them, and HDF5 1.10.8 reads past its buffer when a chunk
 * claims more elements than its compressed data holds (tests/fuzz/README.md): refused before
 * any read. */
static gboolean
check_chunks (hid_t dset, int rank, const hsize_t *dims, const char *what, GError **error)
{
  g_auto (StrataH5Plist) dcpl = H5Dget_create_plist (dset);
  if (dcpl < 0)
    return strata_h5_fail (error, "cannot read the properties of '%s'", what);
  if (H5Pget_layout (dcpl) != H5D_CHUNKED)
    return TRUE;
  hsize_t chunk[STRATA_H5_MAX_RANK];
  int chunk_rank = H5Pget_chunk (dcpl, STRATA_H5_MAX_RANK, chunk);
  if (chunk_rank < 0)
    return strata_h5_fail (error, "cannot read the chunks of '%s'", what);
  gboolean ok = chunk_rank == rank;
  for (int i = 0; ok && i < rank; i++)
    ok = chunk[i] >= 1 && chunk[i] <= MAX (dims[i], 1);
  if (!ok) {
    g_autofree char *c = dims_to_string (MIN (chunk_rank, STRATA_H5_MAX_RANK), chunk);
    g_autofree char *d = dims_to_string (rank, dims);
    return format_fail (error, "dataset '%s' has chunks of %s, larger than its shape %s", what, c, d);
  }
  return TRUE;
}

/* Open `name` as a dataset of `kind` with `rank` dimensions; fill `dims` with its shape. */
static StrataH5Dataset
open_checked (hid_t loc, const char *name, StrataH5Kind kind, int rank, hsize_t *dims,
              const char *what, GError **error)
{
  g_auto (StrataH5Dataset) dset = open_dataset (loc, name, what, error);
  if (dset < 0)
    return H5I_INVALID_HID;

  g_auto (StrataH5Type) type = H5Dget_type (dset);
  if (type < 0) {
    strata_h5_fail (error, "cannot read the type of '%s'", what);
    return H5I_INVALID_HID;
  }
  H5T_class_t cls = H5Tget_class (type);
  gsize size = H5Tget_size (type);
  gboolean ok = (kind == STRATA_H5_I32) ? cls == H5T_INTEGER && H5Tget_sign (type) == H5T_SGN_2
                                          : cls == H5T_FLOAT;
  if (!ok || size != strata_h5_kind_size (kind)) {
    char buf[32];
    format_fail (error, "dataset '%s' has type %s, expected %s", what,
                 describe_type (type, buf, sizeof buf), strata_h5_kind_to_string (kind));
    return H5I_INVALID_HID;
  }

  g_auto (StrataH5Space) space = H5Dget_space (dset);
  if (space < 0) {
    strata_h5_fail (error, "cannot read the shape of '%s'", what);
    return H5I_INVALID_HID;
  }
  int file_rank = H5Sget_simple_extent_ndims (space);
  if (file_rank < 0) {
    strata_h5_fail (error, "cannot read the shape of '%s'", what);
    return H5I_INVALID_HID;
  }
  if (H5Sget_simple_extent_type (space) != H5S_SIMPLE || file_rank != rank) {
    format_fail (error, "dataset '%s' has %d dimensions, expected %d", what, file_rank, rank);
    return H5I_INVALID_HID;
  }
  if (H5Sget_simple_extent_dims (space, dims, NULL) < 0) {
    strata_h5_fail (error, "cannot read the shape of '%s'", what);
    return H5I_INVALID_HID;
  }
  if (!check_chunks (dset, rank, dims, what, error))
    return H5I_INVALID_HID;
  return strata_h5_steal (&dset);
}

gboolean
strata_h5_read_array_into (hid_t loc, const char *name, StrataH5Kind kind, int rank,
                           const hsize_t *dims, void *out, GError **error)
{
  g_return_val_if_fail (rank >= 1 && rank <= STRATA_H5_MAX_RANK, FALSE);
  g_autofree char *what = strata_h5_describe (loc, name);
  hsize_t file_dims[STRATA_H5_MAX_RANK];
  g_auto (StrataH5Dataset) dset = open_checked (loc, name, kind, rank, file_dims, what, error);
  if (dset < 0)
    return FALSE;
  if (memcmp (file_dims, dims, sizeof (hsize_t) * rank) != 0) {
    g_autofree char *found = dims_to_string (rank, file_dims);
    g_autofree char *expected = dims_to_string (rank, dims);
    return format_fail (error, "dataset '%s' has shape %s, expected %s", what, found, expected);
  }
  gsize n;
  if (!count_elements (rank, dims, strata_h5_kind_size (kind), &n))
    return format_fail (error, "dataset '%s' is too large", what);
  if (n > 0 && H5Dread (dset, kind_mem_type (kind), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
    return strata_h5_fail (error, "cannot read dataset '%s'", what);
  return TRUE;
}

gpointer
strata_h5_read_array (hid_t loc, const char *name, StrataH5Kind kind, int rank,
                      const hsize_t *dims, GError **error)
{
  gsize n;
  if (!count_elements (rank, dims, strata_h5_kind_size (kind), &n)) {
    g_autofree char *what = strata_h5_describe (loc, name);
    format_fail (error, "dataset '%s' is too large", what);
    return NULL;
  }
  g_autofree char *buf = g_malloc (MAX (n, 1) * strata_h5_kind_size (kind));
  if (!strata_h5_read_array_into (loc, name, kind, rank, dims, buf, error))
    return NULL;
  return g_steal_pointer (&buf);
}

gboolean
strata_h5_read_length (hid_t loc, const char *name, StrataH5Kind kind, hsize_t *n, GError **error)
{
  g_autofree char *what = strata_h5_describe (loc, name);
  hsize_t dims[1];
  g_auto (StrataH5Dataset) dset = open_checked (loc, name, kind, 1, dims, what, error);
  if (dset < 0)
    return FALSE;
  *n = dims[0];
  return TRUE;
}

/* ---- strings ---- */

static StrataH5Type
vlen_string_type (void)
{
  hid_t t = H5Tcopy (H5T_C_S1);
  if (t < 0)
    return H5I_INVALID_HID;
  if (H5Tset_size (t, H5T_VARIABLE) < 0 || H5Tset_cset (t, H5T_CSET_UTF8) < 0) {
    strata_h5_type_close (t);
    return H5I_INVALID_HID;
  }
  return t;
}

gboolean
strata_h5_write_strings (hid_t loc, const char *name, const char *const *strv, gsize n,
                         GError **error)
{
  g_autofree char *what = strata_h5_describe (loc, name);
  g_auto (StrataH5Type) type = vlen_string_type ();
  if (type < 0)
    return strata_h5_fail (error, "cannot create the string type of '%s'", what);
  hsize_t dims[1] = { n };
  g_auto (StrataH5Space) space = H5Screate_simple (1, dims, NULL);
  if (space < 0)
    return strata_h5_fail (error, "cannot create the dataspace of '%s'", what);
  g_auto (StrataH5Dataset) dset = H5Dcreate2 (loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT,
                                              H5P_DEFAULT);
  if (dset < 0)
    return strata_h5_fail (error, "cannot create dataset '%s'", what);
  if (n == 0)
    return TRUE;
  g_autofree const char **buf = g_new (const char *, n);
  for (gsize i = 0; i < n; i++)
    buf[i] = strv[i] != NULL ? strv[i] : "";
  if (H5Dwrite (dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
    return strata_h5_fail (error, "cannot write dataset '%s'", what);
  return TRUE;
}

GStrv
strata_h5_read_strings (hid_t loc, const char *name, gssize n_expected, gsize *n_out,
                        GError **error)
{
  g_autofree char *what = strata_h5_describe (loc, name);
  g_auto (StrataH5Dataset) dset = open_dataset (loc, name, what, error);
  if (dset < 0)
    return NULL;
  g_auto (StrataH5Type) ftype = H5Dget_type (dset);
  if (ftype < 0) {
    strata_h5_fail (error, "cannot read the type of '%s'", what);
    return NULL;
  }
  htri_t is_vlen = H5Tget_class (ftype) == H5T_STRING ? H5Tis_variable_str (ftype) : 0;
  if (is_vlen <= 0) {
    char buf[32];
    format_fail (error, "dataset '%s' has type %s, expected variable-length strings", what,
                 describe_type (ftype, buf, sizeof buf));
    return NULL;
  }
  g_auto (StrataH5Space) space = H5Dget_space (dset);
  hsize_t dims[1];
  if (space < 0 || H5Sget_simple_extent_type (space) != H5S_SIMPLE
      || H5Sget_simple_extent_ndims (space) != 1 || H5Sget_simple_extent_dims (space, dims, NULL) < 0) {
    format_fail (error, "dataset '%s' is not a one-dimensional array", what);
    return NULL;
  }
  if (n_expected >= 0 && dims[0] != (hsize_t) n_expected) {
    format_fail (error, "dataset '%s' has %llu strings, expected %lld", what,
                 (unsigned long long) dims[0], (long long) n_expected);
    return NULL;
  }
  if (dims[0] > G_MAXINT32) {
    format_fail (error, "dataset '%s' is too large", what);
    return NULL;
  }
  gsize n = (gsize) dims[0];
  g_auto (GStrv) result = g_new0 (char *, n + 1);
  if (n > 0) {
    g_auto (StrataH5Type) mtype = vlen_string_type ();
    if (mtype < 0 || H5Tset_cset (mtype, H5Tget_cset (ftype)) < 0) {
      strata_h5_fail (error, "cannot create the string type of '%s'", what);
      return NULL;
    }
    g_autofree char **raw = g_new0 (char *, n);
    if (H5Dread (dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0) {
      strata_h5_fail (error, "cannot read dataset '%s'", what);
      return NULL;
    }
    for (gsize i = 0; i < n; i++)
      result[i] = g_strdup (raw[i] != NULL ? raw[i] : "");
    if (H5Dvlen_reclaim (mtype, space, H5P_DEFAULT, raw) < 0) {
      strata_h5_fail (error, "cannot release the strings of '%s'", what);
      return NULL;
    }
  }
  if (n_out != NULL)
    *n_out = n;
  return g_steal_pointer (&result);
}

/* ---- attributes ---- */

static gboolean
set_attr (hid_t loc, const char *name, hid_t file_type, hid_t mem_type, const void *value,
          GError **error)
{
  g_auto (StrataH5Space) space = H5Screate (H5S_SCALAR);
  if (space < 0)
    return strata_h5_fail (error, "cannot create a scalar dataspace");
  /* Replace an attribute of the same name: saving an object twice must not fail. */
  if (H5Aexists (loc, name) > 0 && H5Adelete (loc, name) < 0) {
    g_autofree char *what = strata_h5_describe (loc, name);
    return strata_h5_fail (error, "cannot replace attribute '%s'", what);
  }
  g_auto (StrataH5Attr) attr = H5Acreate2 (loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (attr < 0 || H5Awrite (attr, mem_type, value) < 0) {
    g_autofree char *what = strata_h5_describe (loc, name);
    return strata_h5_fail (error, "cannot write attribute '%s'", what);
  }
  return TRUE;
}

gboolean
strata_h5_set_string_attr (hid_t loc, const char *name, const char *value, GError **error)
{
  g_auto (StrataH5Type) type = vlen_string_type ();
  if (type < 0)
    return strata_h5_fail (error, "cannot create a string type");
  const char *v = value != NULL ? value : "";
  return set_attr (loc, name, type, type, &v, error);
}

gboolean
strata_h5_set_int_attr (hid_t loc, const char *name, gint64 value, GError **error)
{
  return set_attr (loc, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value, error);
}

gboolean
strata_h5_set_double_attr (hid_t loc, const char *name, double value, GError **error)
{
  return set_attr (loc, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value, error);
}

gboolean
strata_h5_set_float_attr (hid_t loc, const char *name, float value, GError **error)
{
  return set_attr (loc, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, &value, error);
}

gboolean
strata_h5_has_attr (hid_t loc, const char *name)
{
  htri_t r = H5Aexists (loc, name);
  if (r < 0)
    H5Eclear2 (H5E_DEFAULT);
  return r > 0;
}

/* Open a scalar attribute and its type; `what` is set for messages. */
static StrataH5Attr
open_attr (hid_t loc, const char *name, hid_t *type, char **what, GError **error)
{
  *what = strata_h5_describe (loc, name);
  if (!strata_h5_has_attr (loc, name)) {
    format_fail (error, "missing attribute '%s'", *what);
    return H5I_INVALID_HID;
  }
  g_auto (StrataH5Attr) attr = H5Aopen (loc, name, H5P_DEFAULT);
  if (attr < 0) {
    strata_h5_fail (error, "cannot open attribute '%s'", *what);
    return H5I_INVALID_HID;
  }
  g_auto (StrataH5Space) space = H5Aget_space (attr);
  hssize_t npoints = space >= 0 ? H5Sget_simple_extent_npoints (space) : -1;
  if (npoints != 1) {
    format_fail (error, "attribute '%s' is not a single value", *what);
    return H5I_INVALID_HID;
  }
  *type = H5Aget_type (attr);
  if (*type < 0) {
    strata_h5_fail (error, "cannot read the type of attribute '%s'", *what);
    return H5I_INVALID_HID;
  }
  return strata_h5_steal (&attr);
}

static gboolean
attr_type_fail (hid_t type, const char *what, const char *expected, GError **error)
{
  char buf[32];
  return format_fail (error, "attribute '%s' has type %s, expected %s", what,
                      describe_type (type, buf, sizeof buf), expected);
}

char *
strata_h5_get_string_attr (hid_t loc, const char *name, GError **error)
{
  g_auto (StrataH5Type) ftype = H5I_INVALID_HID;
  g_autofree char *what = NULL;
  g_auto (StrataH5Attr) attr = open_attr (loc, name, &ftype, &what, error);
  if (attr < 0)
    return NULL;
  if (H5Tget_class (ftype) != H5T_STRING) {
    attr_type_fail (ftype, what, "string", error);
    return NULL;
  }
  g_auto (StrataH5Type) mtype = H5Tcopy (H5T_C_S1);
  if (mtype < 0 || H5Tset_cset (mtype, H5Tget_cset (ftype)) < 0) {
    strata_h5_fail (error, "cannot create a string type for '%s'", what);
    return NULL;
  }
  htri_t is_vlen = H5Tis_variable_str (ftype);
  if (is_vlen > 0) {
    char *raw = NULL;
    if (H5Tset_size (mtype, H5T_VARIABLE) < 0 || H5Aread (attr, mtype, &raw) < 0) {
      strata_h5_fail (error, "cannot read attribute '%s'", what);
      return NULL;
    }
    char *value = g_strdup (raw != NULL ? raw : "");
    H5free_memory (raw);
    return value;
  }
  /* Fixed-length strings (as other writers may produce): read with room for a NUL. */
  gsize size = H5Tget_size (ftype);
  if (is_vlen < 0 || size == 0 || size > (1u << 20)) {
    format_fail (error, "attribute '%s' is not a readable string", what);
    return NULL;
  }
  g_autofree char *buf = g_malloc0 (size + 1);
  if (H5Tset_size (mtype, size + 1) < 0 || H5Tset_strpad (mtype, H5T_STR_NULLTERM) < 0
      || H5Aread (attr, mtype, buf) < 0) {
    strata_h5_fail (error, "cannot read attribute '%s'", what);
    return NULL;
  }
  return g_steal_pointer (&buf);
}

gboolean
strata_h5_get_int_attr (hid_t loc, const char *name, gint64 min, gint64 max, gint64 *out,
                        GError **error)
{
  g_auto (StrataH5Type) ftype = H5I_INVALID_HID;
  g_autofree char *what = NULL;
  g_auto (StrataH5Attr) attr = open_attr (loc, name, &ftype, &what, error);
  if (attr < 0)
    return FALSE;
  if (H5Tget_class (ftype) != H5T_INTEGER || H5Tget_size (ftype) > 8)
    return attr_type_fail (ftype, what, "an integer", error);
  gint64 value;
  if (H5Aread (attr, H5T_NATIVE_INT64, &value) < 0)
    return strata_h5_fail (error, "cannot read attribute '%s'", what);
  if (value < min || value > max)
    return format_fail (error, "attribute '%s' is %lld, outside %lld..%lld", what,
                        (long long) value, (long long) min, (long long) max);
  *out = value;
  return TRUE;
}

static gboolean
get_float_attr (hid_t loc, const char *name, gsize size, hid_t mem_type, void *out,
                GError **error)
{
  g_auto (StrataH5Type) ftype = H5I_INVALID_HID;
  g_autofree char *what = NULL;
  g_auto (StrataH5Attr) attr = open_attr (loc, name, &ftype, &what, error);
  if (attr < 0)
    return FALSE;
  /* The exact width: a float32 stored as float64 (or back) would not round-trip. */
  if (H5Tget_class (ftype) != H5T_FLOAT || H5Tget_size (ftype) != size)
    return attr_type_fail (ftype, what, size == 8 ? "float64" : "float32", error);
  if (H5Aread (attr, mem_type, out) < 0)
    return strata_h5_fail (error, "cannot read attribute '%s'", what);
  return TRUE;
}

gboolean
strata_h5_get_double_attr (hid_t loc, const char *name, double *out, GError **error)
{
  return get_float_attr (loc, name, 8, H5T_NATIVE_DOUBLE, out, error);
}

gboolean
strata_h5_get_float_attr (hid_t loc, const char *name, float *out, GError **error)
{
  return get_float_attr (loc, name, 4, H5T_NATIVE_FLOAT, out, error);
}
