/* golden-reader.c: see golden-reader.h. */
#include "golden-reader.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "strata-data-error.h"

struct _StrataGolden {
  char *path;
  GMappedFile *file;
  JsonParser *parser;
  JsonObject *header; /* owned by parser */
  const guint8 *data; /* start of the data section */
  gsize data_len;
};

void
strata_golden_free (StrataGolden *golden)
{
  if (golden == NULL)
    return;
  g_clear_object (&golden->parser);
  g_clear_pointer (&golden->file, g_mapped_file_unref);
  g_free (golden->path);
  g_free (golden);
}

StrataGolden *
strata_golden_open (const char *path, GError **error)
{
  g_autoptr (StrataGolden) golden = g_new0 (StrataGolden, 1);
  golden->path = g_strdup (path);
  golden->file = g_mapped_file_new (path, FALSE, error);
  if (golden->file == NULL)
    return NULL;

  const guint8 *bytes = (const guint8 *) g_mapped_file_get_contents (golden->file);
  gsize size = g_mapped_file_get_length (golden->file);
  guint64 header_len;
  if (size < 8) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: %zu bytes, shorter than the header length", path, size);
    return NULL;
  }
  memcpy (&header_len, bytes, 8);
  header_len = GUINT64_FROM_LE (header_len);
  if (header_len > size - 8) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: header of %" G_GUINT64_FORMAT " bytes runs past the end (%zu bytes)", path, header_len, size);
    return NULL;
  }

  golden->parser = json_parser_new ();
  if (!json_parser_load_from_data (golden->parser, (const char *) bytes + 8, (gssize) header_len, error)) {
    g_prefix_error (error, "%s: ", path);
    return NULL;
  }
  JsonNode *root = json_parser_get_root (golden->parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: header is not a JSON object", path);
    return NULL;
  }
  golden->header = json_node_get_object (root);
  golden->data = bytes + 8 + header_len;
  golden->data_len = size - 8 - header_len;
  return g_steal_pointer (&golden);
}

/* Element i of a JSON array as an integer; FALSE for anything else (json-glib would emit a
 * critical, which aborts a test, for a non-value node). */
static gboolean
get_int (JsonArray *a, guint i, gint64 *out)
{
  JsonNode *n = json_array_get_element (a, i);
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int (n);
  return TRUE;
}

/* Entry `name` checked against the file: dtype, shape (n_dims <= 4, each >= 0) and data
 * offsets consistent with the element size and inside the data section. */
static gboolean
lookup (StrataGolden *golden, const char *name, const char **dtype, int *n_dims,
        gint64 shape[STRATA_GOLDEN_MAX_DIMS], gsize *numel, const guint8 **bytes, GError **error)
{
  JsonNode *node = json_object_get_member (golden->header, name);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node) || g_str_equal (name, "__metadata__")) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: no tensor '%s'", golden->path, name);
    return FALSE;
  }
  JsonObject *t = json_node_get_object (node);
  JsonNode *dt = json_object_get_member (t, "dtype");
  JsonNode *sh = json_object_get_member (t, "shape");
  JsonNode *of = json_object_get_member (t, "data_offsets");
  if (dt == NULL || !JSON_NODE_HOLDS_VALUE (dt) || json_node_get_value_type (dt) != G_TYPE_STRING || sh == NULL ||
      !JSON_NODE_HOLDS_ARRAY (sh) || of == NULL || !JSON_NODE_HOLDS_ARRAY (of) ||
      json_array_get_length (json_node_get_array (of)) != 2 ||
      json_array_get_length (json_node_get_array (sh)) > STRATA_GOLDEN_MAX_DIMS)
    goto bad;

  *dtype = json_node_get_string (dt);
  JsonArray *sa = json_node_get_array (sh);
  *n_dims = (int) json_array_get_length (sa);
  guint64 n = 1;
  for (int i = 0; i < *n_dims; i++) {
    gint64 d;
    if (!get_int (sa, (guint) i, &d) || d < 0 || d > G_MAXINT32)
      goto bad;
    shape[i] = d;
    n *= (guint64) d; /* at most 4 factors below 2^31: checked against the file below */
    if (n > golden->data_len)
      goto bad;
  }
  JsonArray *oa = json_node_get_array (of);
  gint64 begin, end;
  if (!get_int (oa, 0, &begin) || !get_int (oa, 1, &end) || begin < 0 || end < begin || (guint64) end > golden->data_len || (guint64) (end - begin) != n * 4)
    goto bad;
  *numel = (gsize) n;
  *bytes = golden->data + begin;
  return TRUE;

bad:
  g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
               "%s: tensor '%s' has a malformed entry (dtype, shape or data_offsets)", golden->path, name);
  return FALSE;
}

gboolean
strata_golden_has (StrataGolden *golden, const char *name, int *n_dims, gint64 shape[STRATA_GOLDEN_MAX_DIMS])
{
  const char *dtype;
  gsize numel;
  const guint8 *bytes;
  return lookup (golden, name, &dtype, n_dims, shape, &numel, &bytes, NULL);
}

guint
strata_golden_count (StrataGolden *golden)
{
  guint n = json_object_get_size (golden->header);
  return json_object_has_member (golden->header, "__metadata__") ? n - 1 : n;
}

/* F32 and I32 are both 4-byte little-endian: copy (the data section need not be aligned)
 * and swap on big-endian hosts. */
static void *
dup_4byte (StrataGolden *golden, const char *name, const char *want, gsize *n_out, GError **error)
{
  const char *dtype;
  int n_dims;
  gint64 shape[STRATA_GOLDEN_MAX_DIMS];
  gsize numel;
  const guint8 *bytes;
  if (!lookup (golden, name, &dtype, &n_dims, shape, &numel, &bytes, error))
    return NULL;
  if (!g_str_equal (dtype, want)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: tensor '%s' is %s, expected %s",
                 golden->path, name, dtype, want);
    return NULL;
  }
  guint32 *out = g_new (guint32, MAX (numel, 1));
  memcpy (out, bytes, numel * 4);
  for (gsize i = 0; i < numel; i++)
    out[i] = GUINT32_FROM_LE (out[i]);
  *n_out = numel;
  return out;
}

float *
strata_golden_dup_f32 (StrataGolden *golden, const char *name, gsize *n_out, GError **error)
{
  return dup_4byte (golden, name, "F32", n_out, error);
}

gint32 *
strata_golden_dup_i32 (StrataGolden *golden, const char *name, gsize *n_out, GError **error)
{
  return dup_4byte (golden, name, "I32", n_out, error);
}
