/* strata-safetensors.c: safetensors reader; json-glib parses the header. */
#include "strata-safetensors.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "strata-data-error.h"

struct _StrataSafetensors {
  char *source;
  GMappedFile *map;      /* NULL when parsed from a caller's buffer */
  GPtrArray *tensors;    /* StrataTensorInfo*, header order */
  GHashTable *by_name;   /* name -> StrataTensorInfo* (borrowed) */
  GHashTable *metadata;  /* str -> str */
};

/* json-glib recurses once per nesting level; a header of 10^6 '[' must not exhaust the
 * stack. A real header nests three deep. */
#define MAX_JSON_DEPTH 64

#define FAIL(code, ...)                                                      \
  G_STMT_START                                                               \
  {                                                                          \
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_##code, __VA_ARGS__); \
    return NULL;                                                             \
  }                                                                          \
  G_STMT_END

void
strata_safetensors_free (StrataSafetensors *st)
{
  if (!st)
    return;
  g_free (st->source);
  g_clear_pointer (&st->map, g_mapped_file_unref);
  g_clear_pointer (&st->tensors, g_ptr_array_unref);
  g_clear_pointer (&st->by_name, g_hash_table_unref);
  g_clear_pointer (&st->metadata, g_hash_table_unref);
  g_free (st);
}

static gboolean
json_too_deep (const guint8 *p, gsize n)
{
  int depth = 0;
  gboolean in_string = FALSE;
  for (gsize i = 0; i < n; i++) {
    guint8 c = p[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = FALSE;
    } else if (c == '"') {
      in_string = TRUE;
    } else if (c == '[' || c == '{') {
      if (++depth > MAX_JSON_DEPTH)
        return TRUE;
    } else if (c == ']' || c == '}') {
      depth--;
    }
  }
  return FALSE;
}

/* A non-negative JSON integer, or FALSE. */
static gboolean
node_get_u64 (JsonNode *node, guint64 *out)
{
  if (!node || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  gint64 v = json_node_get_int (node);
  if (v < 0)
    return FALSE;
  *out = (guint64) v;
  return TRUE;
}

static gboolean
parse_dtype (const char *s, StrataDType *out)
{
  static const struct { const char *name; StrataDType dtype; } known[] = {
    { "F32", STRATA_DTYPE_F32 }, { "F16", STRATA_DTYPE_F16 }, { "BF16", STRATA_DTYPE_BF16 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (known); i++)
    if (strcmp (s, known[i].name) == 0) {
      *out = known[i].dtype;
      return TRUE;
    }
  return FALSE;
}

static gboolean
parse_metadata (StrataSafetensors *st, JsonNode *node, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: __metadata__ is not an object", st->source);
    return FALSE;
  }
  JsonObject *obj = json_node_get_object (node);
  g_autoptr (GList) keys = json_object_get_members (obj);
  for (GList *k = keys; k; k = k->next) {
    JsonNode *v = json_object_get_member (obj, k->data);
    if (!JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_STRING) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: __metadata__ value '%s' is not a string", st->source, (char *) k->data);
      return FALSE;
    }
    g_hash_table_insert (st->metadata, g_strdup (k->data), g_strdup (json_node_get_string (v)));
  }
  return TRUE;
}

/* One header entry -> StrataTensorInfo, checked against the data section
 * [data_start, data_start + data_len). */
static StrataTensorInfo *
parse_entry (const StrataSafetensors *st, const char *name, JsonNode *node, const guint8 *bytes,
             guint64 data_start, guint64 data_len, GError **error)
{
  const char *src = st->source;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    FAIL (FORMAT, "%s: entry for tensor '%s' is not an object", src, name);
  JsonObject *obj = json_node_get_object (node);
  JsonNode *dtype_n = json_object_get_member (obj, "dtype");
  JsonNode *shape_n = json_object_get_member (obj, "shape");
  JsonNode *offs_n = json_object_get_member (obj, "data_offsets");

  if (!dtype_n || !JSON_NODE_HOLDS_VALUE (dtype_n) || json_node_get_value_type (dtype_n) != G_TYPE_STRING)
    FAIL (FORMAT, "%s: tensor '%s' has no dtype string", src, name);
  if (!shape_n || !JSON_NODE_HOLDS_ARRAY (shape_n))
    FAIL (FORMAT, "%s: tensor '%s' has no shape array", src, name);
  if (!offs_n || !JSON_NODE_HOLDS_ARRAY (offs_n))
    FAIL (FORMAT, "%s: tensor '%s' has no data_offsets array", src, name);

  g_autoptr (StrataTensorInfo) t = g_new0 (StrataTensorInfo, 1);
  t->name = g_strdup (name);
  t->source = src;
  const char *dtype = json_node_get_string (dtype_n);
  if (!parse_dtype (dtype, &t->dtype))
    FAIL (UNSUPPORTED, "%s: tensor '%s' has unsupported dtype %s (F32, F16 and BF16 are read)",
          src, name, dtype);

  JsonArray *shape = json_node_get_array (shape_n);
  guint n_dims = json_array_get_length (shape);
  if (n_dims > STRATA_TENSOR_MAX_DIMS)
    FAIL (UNSUPPORTED, "%s: tensor '%s' has %u dimensions (at most %d)", src, name, n_dims,
          STRATA_TENSOR_MAX_DIMS);
  t->n_dims = (int) n_dims;
  for (guint i = 0; i < n_dims; i++)
    if (!node_get_u64 (json_array_get_element (shape, i), &t->shape[i]))
      FAIL (FORMAT, "%s: tensor '%s' has a shape entry that is not a non-negative integer", src, name);

  JsonArray *offs = json_node_get_array (offs_n);
  guint64 begin, end;
  if (json_array_get_length (offs) != 2 || !node_get_u64 (json_array_get_element (offs, 0), &begin) ||
      !node_get_u64 (json_array_get_element (offs, 1), &end))
    FAIL (FORMAT, "%s: tensor '%s' data_offsets is not two non-negative integers", src, name);
  if (begin > end)
    FAIL (FORMAT, "%s: tensor '%s' data_offsets begin %" G_GUINT64_FORMAT " > end %" G_GUINT64_FORMAT,
          src, name, begin, end);
  if (end > data_len)
    FAIL (FORMAT, "%s: tensor '%s' ends at byte %" G_GUINT64_FORMAT
          " past the end of the data section (%" G_GUINT64_FORMAT " bytes)", src, name, end, data_len);
  if (!strata_tensor_info_compute_size (t))
    FAIL (FORMAT, "%s: tensor '%s' shape overflows", src, name);
  if (t->n_bytes != end - begin) {
    g_autofree char *s = strata_shape_to_string (t->n_dims, t->shape);
    FAIL (FORMAT, "%s: tensor '%s' holds %" G_GUINT64_FORMAT " bytes but %s %s needs %" G_GUINT64_FORMAT,
          src, name, end - begin, dtype, s, t->n_bytes);
  }
  t->offset = data_start + begin;
  t->data = bytes + t->offset;
  return g_steal_pointer (&t);
}

StrataSafetensors *
strata_safetensors_parse (const guint8 *bytes, gsize length, const char *source, GError **error)
{
  guint64 header_len;

  if (length < 8)
    FAIL (FORMAT, "%s: file of %" G_GSIZE_FORMAT " bytes is too short for a safetensors header",
          source, length);
  memcpy (&header_len, bytes, 8);
  header_len = GUINT64_FROM_LE (header_len);
  if (header_len > length - 8)
    FAIL (FORMAT, "%s: header length %" G_GUINT64_FORMAT " is larger than the file (%" G_GSIZE_FORMAT " bytes)",
          source, header_len, length);
  if (header_len > STRATA_SAFETENSORS_MAX_HEADER)
    FAIL (FORMAT, "%s: header length %" G_GUINT64_FORMAT " exceeds the %u byte limit", source,
          header_len, STRATA_SAFETENSORS_MAX_HEADER);
  if (header_len < 2 || bytes[8] != '{')
    FAIL (FORMAT, "%s: header is not a JSON object", source);
  if (json_too_deep (bytes + 8, header_len))
    FAIL (FORMAT, "%s: header JSON nests deeper than %d levels", source, MAX_JSON_DEPTH);

  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) json_error = NULL;
  if (!json_parser_load_from_data (parser, (const char *) bytes + 8, (gssize) header_len, &json_error))
    FAIL (FORMAT, "%s: header is not valid JSON: %s", source, json_error->message);
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    FAIL (FORMAT, "%s: header is not a JSON object", source);

  g_autoptr (StrataSafetensors) st = g_new0 (StrataSafetensors, 1);
  st->source = g_strdup (source);
  st->tensors = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_tensor_info_free);
  st->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  st->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  guint64 data_start = 8 + header_len, data_len = length - data_start;
  JsonObject *obj = json_node_get_object (root);
  g_autoptr (GList) names = json_object_get_members (obj);
  for (GList *l = names; l; l = l->next) {
    const char *name = l->data;
    JsonNode *node = json_object_get_member (obj, name);
    if (strcmp (name, "__metadata__") == 0) {
      if (!parse_metadata (st, node, error))
        return NULL;
      continue;
    }
    StrataTensorInfo *t = parse_entry (st, name, node, bytes, data_start, data_len, error);
    if (!t)
      return NULL;
    g_ptr_array_add (st->tensors, t);
    g_hash_table_insert (st->by_name, t->name, t);
  }
  if (!strata_tensors_check_overlap (st->tensors, source, error))
    return NULL;
  return g_steal_pointer (&st);
}

StrataSafetensors *
strata_safetensors_open (const char *path, GError **error)
{
  g_autoptr (GError) io_error = NULL;
  g_autofree char *source = g_path_get_basename (path);
  g_autoptr (GMappedFile) map = g_mapped_file_new (path, FALSE, &io_error);
  if (!map)
    FAIL (IO, "%s: cannot map: %s", source, io_error->message);
  StrataSafetensors *st = strata_safetensors_parse ((const guint8 *) g_mapped_file_get_contents (map),
                                                    g_mapped_file_get_length (map), source, error);
  if (st)
    st->map = g_steal_pointer (&map);
  return st;
}

const char *
strata_safetensors_get_source (const StrataSafetensors *st)
{
  return st->source;
}

GMappedFile *
strata_safetensors_get_mapped_file (const StrataSafetensors *st)
{
  return st->map;
}

guint
strata_safetensors_get_n_tensors (const StrataSafetensors *st)
{
  return st->tensors->len;
}

const StrataTensorInfo *
strata_safetensors_get_tensor (const StrataSafetensors *st, guint i)
{
  return i < st->tensors->len ? st->tensors->pdata[i] : NULL;
}

const StrataTensorInfo *
strata_safetensors_lookup (const StrataSafetensors *st, const char *name)
{
  return g_hash_table_lookup (st->by_name, name);
}

const char *
strata_safetensors_get_metadata (const StrataSafetensors *st, const char *key)
{
  return g_hash_table_lookup (st->metadata, key);
}

gboolean
strata_safetensors_read_f32 (const StrataSafetensors *st, const char *name, float *dst, gsize n_dst,
                             GError **error)
{
  const StrataTensorInfo *t = strata_safetensors_lookup (st, name);
  if (!t) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: missing tensor '%s'",
                 st->source, name);
    return FALSE;
  }
  if (t->n_elements != n_dst) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: tensor '%s' has %" G_GUINT64_FORMAT " elements, the caller expected %" G_GSIZE_FORMAT,
                 st->source, name, t->n_elements, n_dst);
    return FALSE;
  }
  strata_dtype_convert (t->dtype, t->data, dst, n_dst);
  return TRUE;
}
