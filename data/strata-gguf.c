/* strata-gguf.c: GGUF reader written by hand.
 *
 * No GGUF library is in our dependency set (ggml's gguf.cpp is C++ and pulls in ggml), and
 * the format is small: a header of counted strings, typed key/values and tensor records.
 * Every count, length and offset is checked against the bytes left before it is used, with
 * overflow-safe arithmetic, so a hostile file can only produce an error. */
#include "strata-gguf.h"

#include <string.h>

#include "strata-data-error.h"
#include "strata-gguf-quants.h"

struct _StrataGguf {
  char *source;
  GMappedFile *map;
  guint32 version;
  GHashTable *kv;       /* key -> StrataGgufValue* */
  GPtrArray *tensors;   /* StrataTensorInfo*, file order */
  GHashTable *by_name;  /* name -> StrataTensorInfo* (borrowed) */
};

typedef struct {
  const guint8 *p;
  gsize len, pos;
  const char *source;
} Cursor;

#define FAIL(code, ...)                                                            \
  G_STMT_START                                                                     \
  {                                                                                \
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_##code, __VA_ARGS__); \
    return FALSE;                                                                  \
  }                                                                                \
  G_STMT_END

static gboolean
take (Cursor *c, gsize n, const guint8 **out, const char *what, GError **error)
{
  if (n > c->len - c->pos)
    FAIL (FORMAT, "%s: truncated: %s at byte %" G_GSIZE_FORMAT " needs %" G_GSIZE_FORMAT
          " bytes, %" G_GSIZE_FORMAT " left", c->source, what, c->pos, n, c->len - c->pos);
  *out = c->p + c->pos;
  c->pos += n;
  return TRUE;
}

static gboolean
read_u32 (Cursor *c, guint32 *v, const char *what, GError **error)
{
  const guint8 *b;
  if (!take (c, 4, &b, what, error))
    return FALSE;
  memcpy (v, b, 4);
  *v = GUINT32_FROM_LE (*v);
  return TRUE;
}

static gboolean
read_u64 (Cursor *c, guint64 *v, const char *what, GError **error)
{
  const guint8 *b;
  if (!take (c, 8, &b, what, error))
    return FALSE;
  memcpy (v, b, 8);
  *v = GUINT64_FROM_LE (*v);
  return TRUE;
}

/* A counted string. Names (keys, tensor names) must be UTF-8 without NUL, since they go
 * into hash tables and messages; values are kept as they are (up to a NUL). */
static gboolean
read_string (Cursor *c, gboolean is_name, char **out, const char *what, GError **error)
{
  guint64 n;
  const guint8 *b;
  if (!read_u64 (c, &n, what, error))
    return FALSE;
  if (n > c->len - c->pos)
    FAIL (FORMAT, "%s: truncated: %s at byte %" G_GSIZE_FORMAT " claims %" G_GUINT64_FORMAT
          " bytes, %" G_GSIZE_FORMAT " left", c->source, what, c->pos, n, c->len - c->pos);
  take (c, (gsize) n, &b, what, NULL);
  if (is_name && (memchr (b, 0, n) || !g_utf8_validate ((const char *) b, (gssize) n, NULL)))
    FAIL (FORMAT, "%s: %s at byte %" G_GSIZE_FORMAT " is not valid UTF-8", c->source, what,
          c->pos - (gsize) n);
  *out = g_strndup ((const char *) b, n);
  return TRUE;
}

static gsize
scalar_size (guint32 type)
{
  switch (type) {
  case STRATA_GGUF_UINT8: case STRATA_GGUF_INT8: case STRATA_GGUF_BOOL: return 1;
  case STRATA_GGUF_UINT16: case STRATA_GGUF_INT16: return 2;
  case STRATA_GGUF_UINT32: case STRATA_GGUF_INT32: case STRATA_GGUF_FLOAT32: return 4;
  case STRATA_GGUF_UINT64: case STRATA_GGUF_INT64: case STRATA_GGUF_FLOAT64: return 8;
  default: return 0;
  }
}

/* Element i of a little-endian numeric buffer, widened. */
static void
decode_scalar (guint32 type, const guint8 *b, StrataGgufValue *v)
{
  guint8 u8 = b[0];
  guint16 u16;
  guint32 u32;
  guint64 u64;
  float f32;
  double f64;
  switch (type) {
  case STRATA_GGUF_UINT8: case STRATA_GGUF_BOOL: v->num.u = u8; break;
  case STRATA_GGUF_INT8: v->num.i = (gint8) u8; break;
  case STRATA_GGUF_UINT16: memcpy (&u16, b, 2); v->num.u = GUINT16_FROM_LE (u16); break;
  case STRATA_GGUF_INT16: memcpy (&u16, b, 2); v->num.i = (gint16) GUINT16_FROM_LE (u16); break;
  case STRATA_GGUF_UINT32: memcpy (&u32, b, 4); v->num.u = GUINT32_FROM_LE (u32); break;
  case STRATA_GGUF_INT32: memcpy (&u32, b, 4); v->num.i = (gint32) GUINT32_FROM_LE (u32); break;
  case STRATA_GGUF_UINT64: memcpy (&u64, b, 8); v->num.u = GUINT64_FROM_LE (u64); break;
  case STRATA_GGUF_INT64: memcpy (&u64, b, 8); v->num.i = (gint64) GUINT64_FROM_LE (u64); break;
  case STRATA_GGUF_FLOAT32:
    memcpy (&u32, b, 4);
    u32 = GUINT32_FROM_LE (u32);
    memcpy (&f32, &u32, 4);
    v->num.f = f32;
    break;
  case STRATA_GGUF_FLOAT64:
    memcpy (&u64, b, 8);
    u64 = GUINT64_FROM_LE (u64);
    memcpy (&f64, &u64, 8);
    v->num.f = f64;
    break;
  }
}

static void
value_free (StrataGgufValue *v)
{
  g_free (v->str);
  g_strfreev (v->strs);
  g_free (v);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataGgufValue, value_free)

static gboolean
read_value (Cursor *c, const char *key, StrataGgufValue *v, GError **error)
{
  gsize sz = scalar_size (v->type);
  const guint8 *b;

  if (sz)
    return take (c, sz, &b, key, error) && (decode_scalar (v->type, b, v), TRUE);
  if (v->type == STRATA_GGUF_STRING)
    return read_string (c, FALSE, &v->str, key, error);
  if (v->type != STRATA_GGUF_ARRAY)
    FAIL (FORMAT, "%s: key '%s' has unknown value type %u", c->source, key, (guint) v->type);

  guint32 et;
  if (!read_u32 (c, &et, key, error) || !read_u64 (c, &v->n, key, error))
    return FALSE;
  v->elem_type = et;
  gsize esz = scalar_size (et);
  if (esz) {
    /* n × esz <= bytes left, without overflow. */
    if (v->n > (c->len - c->pos) / esz)
      FAIL (FORMAT, "%s: array '%s' of %" G_GUINT64_FORMAT " elements runs past the end of the file",
            c->source, key, v->n);
    return take (c, (gsize) v->n * esz, &v->elems, key, error);
  }
  if (et == STRATA_GGUF_STRING) {
    /* Each string takes at least its 8-byte length: bounds the allocation by the file. */
    if (v->n > (c->len - c->pos) / 8)
      FAIL (FORMAT, "%s: array '%s' of %" G_GUINT64_FORMAT " strings runs past the end of the file",
            c->source, key, v->n);
    v->strs = g_new0 (char *, (gsize) v->n + 1);
    for (guint64 i = 0; i < v->n; i++)
      if (!read_string (c, FALSE, &v->strs[i], key, error))
        return FALSE;
    return TRUE;
  }
  if (et == STRATA_GGUF_ARRAY)
    FAIL (UNSUPPORTED, "%s: array '%s' holds arrays, which are not read", c->source, key);
  FAIL (FORMAT, "%s: array '%s' has unknown element type %u", c->source, key, et);
}

static gboolean
read_tensor_info (Cursor *c, StrataGguf *g, StrataTensorInfo *t, GError **error)
{
  guint32 n_dims, type;
  guint64 dims[STRATA_TENSOR_MAX_DIMS];

  if (!read_string (c, TRUE, &t->name, "tensor name", error) || !read_u32 (c, &n_dims, t->name, error))
    return FALSE;
  if (n_dims == 0 || n_dims > 4) /* GGML_MAX_DIMS */
    FAIL (FORMAT, "%s: tensor '%s' has %u dimensions (1 to 4 allowed)", c->source, t->name, n_dims);
  for (guint32 i = 0; i < n_dims; i++)
    if (!read_u64 (c, &dims[i], t->name, error))
      return FALSE;
  if (!read_u32 (c, &type, t->name, error) || !read_u64 (c, &t->offset, t->name, error))
    return FALSE;
  const StrataGgmlType *gt = strata_ggml_type_lookup (type);
  if (!gt)
    FAIL (FORMAT, "%s: tensor '%s' has type %u, which is not a ggml type", c->source, t->name, type);
  if (gt->dtype < 0)
    FAIL (UNSUPPORTED, "%s: tensor '%s' has type %s (%u), which Strata does not read (F32, F16, BF16, %s are read)",
          c->source, t->name, gt->format.name, type, strata_ggml_readable_quants ());
  t->dtype = (StrataDType) gt->dtype;
  t->blocks = gt->format.block > 1 ? &gt->format : NULL;
  t->n_dims = (int) n_dims;
  for (guint32 i = 0; i < n_dims; i++)
    t->shape[i] = dims[n_dims - 1 - i]; /* innermost first -> outermost first */
  if (t->blocks && dims[0] % t->blocks->block)
    FAIL (FORMAT, "%s: tensor '%s' of type %s has rows of %" G_GUINT64_FORMAT
          " values, not a multiple of its block of %u", c->source, t->name, t->blocks->name, dims[0], t->blocks->block);
  if (!strata_tensor_info_compute_size (t))
    FAIL (FORMAT, "%s: tensor '%s' shape overflows", c->source, t->name);
  t->source = g->source;
  return TRUE;
}

static gboolean
parse_tensors (Cursor *c, StrataGguf *g, guint64 n_tensors, GError **error)
{
  gint64 alignment = 32;
  const StrataGgufValue *al = g_hash_table_lookup (g->kv, "general.alignment");
  if (al) {
    if (al->type != STRATA_GGUF_UINT32 || al->num.u == 0 || (al->num.u & (al->num.u - 1)))
      FAIL (FORMAT, "%s: general.alignment must be a power of two (u32)", c->source);
    alignment = (gint64) al->num.u;
  }
  for (guint64 i = 0; i < n_tensors; i++) {
    g_autoptr (StrataTensorInfo) t = g_new0 (StrataTensorInfo, 1);
    if (!read_tensor_info (c, g, t, error))
      return FALSE;
    if (g_hash_table_contains (g->by_name, t->name))
      FAIL (FORMAT, "%s: tensor '%s' appears twice", c->source, t->name);
    g_hash_table_insert (g->by_name, t->name, t);
    g_ptr_array_add (g->tensors, g_steal_pointer (&t));
  }

  /* Data starts at the next multiple of the alignment; alignment <= 2^32 keeps it exact. */
  guint64 start = ((guint64) c->pos + (guint64) alignment - 1) / (guint64) alignment * (guint64) alignment;
  if (n_tensors > 0 && start > c->len)
    FAIL (FORMAT, "%s: tensor data would start at byte %" G_GUINT64_FORMAT " past the end (%" G_GSIZE_FORMAT " bytes)",
          c->source, start, c->len);
  guint64 data_len = start <= c->len ? c->len - start : 0;
  for (guint i = 0; i < g->tensors->len; i++) {
    StrataTensorInfo *t = g->tensors->pdata[i];
    if (t->offset % (guint64) alignment)
      FAIL (FORMAT, "%s: tensor '%s' offset %" G_GUINT64_FORMAT " is not a multiple of the alignment %" G_GINT64_FORMAT,
            c->source, t->name, t->offset, alignment);
    if (t->offset > data_len || t->n_bytes > data_len - t->offset)
      FAIL (FORMAT, "%s: tensor '%s' (%" G_GUINT64_FORMAT " bytes at data offset %" G_GUINT64_FORMAT
            ") runs past the end of the file", c->source, t->name, t->n_bytes, t->offset);
    t->offset += start;
    t->data = c->p + t->offset;
  }
  return strata_tensors_check_overlap (g->tensors, c->source, error);
}

void
strata_gguf_free (StrataGguf *g)
{
  if (!g)
    return;
  g_free (g->source);
  g_clear_pointer (&g->map, g_mapped_file_unref);
  g_clear_pointer (&g->kv, g_hash_table_unref);
  g_clear_pointer (&g->by_name, g_hash_table_unref);
  g_clear_pointer (&g->tensors, g_ptr_array_unref);
  g_free (g);
}

StrataGguf *
strata_gguf_parse (const guint8 *bytes, gsize length, const char *source, GError **error)
{
  Cursor c = { bytes, length, 0, source };
  const guint8 *magic;
  guint64 n_tensors, n_kv;
  guint32 version;

  if (length < 4 || (take (&c, 4, &magic, "magic", NULL), memcmp (magic, "GGUF", 4) != 0)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: bad magic, not a GGUF file", source);
    return NULL;
  }
  if (!read_u32 (&c, &version, "version", error))
    return NULL;
  if (version != 2 && version != 3) { /* v1 used 32-bit counts; v2 and v3 read alike */
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                 "%s: unsupported GGUF version %u (2 and 3 are read)", source, version);
    return NULL;
  }
  if (!read_u64 (&c, &n_tensors, "tensor count", error) || !read_u64 (&c, &n_kv, "key count", error))
    return NULL;
  /* A key/value takes at least 13 bytes, a tensor record at least 32: refuse counts the
   * file cannot hold before looping over them. */
  if (n_kv > (length - c.pos) / 13 || n_tensors > (length - c.pos) / 32) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: %" G_GUINT64_FORMAT " keys and %" G_GUINT64_FORMAT " tensors cannot fit in %" G_GSIZE_FORMAT " bytes",
                 source, n_kv, n_tensors, length);
    return NULL;
  }

  g_autoptr (StrataGguf) g = g_new0 (StrataGguf, 1);
  g->source = g_strdup (source);
  g->version = version;
  g->kv = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) value_free);
  g->tensors = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_tensor_info_free);
  g->by_name = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint64 i = 0; i < n_kv; i++) {
    g_autofree char *key = NULL;
    guint32 type;
    g_autoptr (StrataGgufValue) v = g_new0 (StrataGgufValue, 1);
    if (!read_string (&c, TRUE, &key, "key", error) || !read_u32 (&c, &type, key, error))
      return NULL;
    v->type = type;
    if (!read_value (&c, key, v, error))
      return NULL;
    if (g_hash_table_contains (g->kv, key)) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: key '%s' appears twice", source, key);
      return NULL;
    }
    g_hash_table_insert (g->kv, g_steal_pointer (&key), g_steal_pointer (&v));
  }
  if (!parse_tensors (&c, g, n_tensors, error))
    return NULL;
  return g_steal_pointer (&g);
}

StrataGguf *
strata_gguf_open (const char *path, GError **error)
{
  g_autoptr (GError) io_error = NULL;
  g_autofree char *source = g_path_get_basename (path);
  g_autoptr (GMappedFile) map = g_mapped_file_new (path, FALSE, &io_error);
  if (!map) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: cannot map: %s", source, io_error->message);
    return NULL;
  }
  StrataGguf *g = strata_gguf_parse ((const guint8 *) g_mapped_file_get_contents (map),
                                     g_mapped_file_get_length (map), source, error);
  if (g)
    g->map = g_steal_pointer (&map);
  return g;
}

const char *strata_gguf_get_source (const StrataGguf *g) { return g->source; }
guint32 strata_gguf_get_version (const StrataGguf *g) { return g->version; }
GMappedFile *strata_gguf_get_mapped_file (const StrataGguf *g) { return g->map; }
guint strata_gguf_get_n_tensors (const StrataGguf *g) { return g->tensors->len; }

const StrataTensorInfo *
strata_gguf_get_tensor (const StrataGguf *g, guint i)
{
  return i < g->tensors->len ? g->tensors->pdata[i] : NULL;
}

const StrataTensorInfo *
strata_gguf_lookup_tensor (const StrataGguf *g, const char *name)
{
  return g_hash_table_lookup (g->by_name, name);
}

const StrataGgufValue *
strata_gguf_lookup (const StrataGguf *g, const char *key)
{
  return g_hash_table_lookup (g->kv, key);
}

static gboolean
is_int_type (StrataGgufType t)
{
  return t <= STRATA_GGUF_INT32 || t == STRATA_GGUF_UINT64 || t == STRATA_GGUF_INT64;
}

static gboolean
is_signed_type (StrataGgufType t)
{
  return t == STRATA_GGUF_INT8 || t == STRATA_GGUF_INT16 || t == STRATA_GGUF_INT32 || t == STRATA_GGUF_INT64;
}

gboolean
strata_gguf_get_int (const StrataGguf *g, const char *key, gboolean required, gint64 fallback,
                     gint64 *out, GError **error)
{
  const StrataGgufValue *v = strata_gguf_lookup (g, key);
  if (!v) {
    if (required)
      FAIL (FORMAT, "%s: missing key '%s'", g->source, key);
    *out = fallback;
    return TRUE;
  }
  if (!is_int_type (v->type))
    FAIL (FORMAT, "%s: key '%s' is not an integer", g->source, key);
  if (!is_signed_type (v->type) && v->num.u > G_MAXINT64)
    FAIL (FORMAT, "%s: key '%s' is out of range", g->source, key);
  *out = is_signed_type (v->type) ? v->num.i : (gint64) v->num.u;
  return TRUE;
}

gboolean
strata_gguf_get_float (const StrataGguf *g, const char *key, gboolean required, double fallback,
                       double *out, GError **error)
{
  const StrataGgufValue *v = strata_gguf_lookup (g, key);
  if (!v) {
    if (required)
      FAIL (FORMAT, "%s: missing key '%s'", g->source, key);
    *out = fallback;
    return TRUE;
  }
  if (v->type == STRATA_GGUF_FLOAT32 || v->type == STRATA_GGUF_FLOAT64)
    *out = v->num.f;
  else if (is_int_type (v->type))
    *out = is_signed_type (v->type) ? (double) v->num.i : (double) v->num.u;
  else
    FAIL (FORMAT, "%s: key '%s' is not a number", g->source, key);
  return TRUE;
}

gboolean
strata_gguf_get_bool (const StrataGguf *g, const char *key, gboolean fallback, gboolean *out, GError **error)
{
  const StrataGgufValue *v = strata_gguf_lookup (g, key);
  if (!v) {
    *out = fallback;
    return TRUE;
  }
  if (v->type != STRATA_GGUF_BOOL)
    FAIL (FORMAT, "%s: key '%s' is not a bool", g->source, key);
  *out = v->num.u != 0;
  return TRUE;
}

const char *
strata_gguf_get_string (const StrataGguf *g, const char *key, GError **error)
{
  const StrataGgufValue *v = strata_gguf_lookup (g, key);
  if (v && v->type != STRATA_GGUF_STRING) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: key '%s' is not a string",
                 g->source, key);
    return NULL;
  }
  return v ? v->str : NULL;
}

double
strata_gguf_array_get_double (const StrataGgufValue *v, guint64 i)
{
  gsize esz = scalar_size (v->elem_type);
  if (v->type != STRATA_GGUF_ARRAY || !esz || i >= v->n)
    return 0;
  StrataGgufValue one = { .type = v->elem_type };
  decode_scalar (v->elem_type, v->elems + i * esz, &one);
  if (v->elem_type == STRATA_GGUF_FLOAT32 || v->elem_type == STRATA_GGUF_FLOAT64)
    return one.num.f;
  return is_signed_type (v->elem_type) ? (double) one.num.i : (double) one.num.u;
}
