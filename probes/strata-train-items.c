/* strata-train-items.c: the training file's items as padded token arrays, and their
 * accuracy under greedy decoding (definitions in strata-train-run.h). */
#include <json-glib/json-glib.h>
#include <string.h>

#include "strata-train-run-private.h"

/* Two-hop targets have at most 6 tokens; rows of MAX_LEN keep the first pass small at the
 * papers' scale (hundreds of thousands of items). */
enum { MAX_LEN = 16, EVAL_CHUNK = 512 };

void
_strata_train_items_free (TrainItems *items)
{
  if (!items)
    return;
  g_free (items->ids);
  g_free (items->mask);
  g_free (items->len);
  g_free (items->n_in);
  g_free (items->kind);
  g_free (items);
}

static TrainItems *
items_new (int n, int T)
{
  TrainItems *items = g_new0 (TrainItems, 1);
  items->n = n;
  items->T = T;
  items->ids = g_new0 (int32_t, (gsize) n * T);
  items->mask = g_new0 (guint8, (gsize) n * T);
  items->len = g_new0 (guint8, n);
  items->n_in = g_new0 (guint8, n);
  items->kind = g_new0 (guint8, n);
  return items;
}

static gboolean
line_error (GError **error, const char *path, guint line, const char *what)
{
  g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: line %u: %s", path, line, what);
  return FALSE;
}

/* One parsed line: kind, target ids and mask into row `row` of the arrays (T = MAX_LEN). */
static gboolean
parse_item (JsonObject *o, const char *fmt, int vocab, const char *path, guint line, int32_t *ids, guint8 *mask,
            guint8 *len, guint8 *n_in, guint8 *kind, GError **error)
{
  static const char *const kinds[] = { "atomic_id", "atomic_ood", "train_inferred", "test_inferred_id",
                                       "test_inferred_ood" };
  g_autofree char *ids_key = g_strdup_printf ("target_ids_%s", fmt);
  g_autofree char *mask_key = g_strdup_printf ("loss_mask_%s", fmt);
  JsonNode *type = json_object_get_member (o, "type");
  JsonNode *ids_node = json_object_get_member (o, ids_key), *mask_node = json_object_get_member (o, mask_key);
  JsonNode *input_node = json_object_get_member (o, "input_ids");
  if (!type || json_node_get_value_type (type) != G_TYPE_STRING)
    return line_error (error, path, line, "no \"type\" string");
  const char *type_s = json_node_get_string (type);
  int k = -1;
  for (int i = 0; i < (int) G_N_ELEMENTS (kinds); i++)
    if (strcmp (type_s, kinds[i]) == 0)
      k = MIN (i, ITEM_TEST_INFERRED);
  if (k < 0)
    return line_error (error, path, line, "\"type\" is not a two-hop item type");
  if (!ids_node || !JSON_NODE_HOLDS_ARRAY (ids_node) || !mask_node || !JSON_NODE_HOLDS_ARRAY (mask_node) ||
      !input_node || !JSON_NODE_HOLDS_ARRAY (input_node)) {
    g_autofree char *msg = g_strdup_printf ("needs the arrays input_ids, %s and %s", ids_key, mask_key);
    return line_error (error, path, line, msg);
  }
  JsonArray *a = json_node_get_array (ids_node), *m = json_node_get_array (mask_node);
  guint n = json_array_get_length (a), ni = json_array_get_length (json_node_get_array (input_node));
  if (n < 2 || n > MAX_LEN || json_array_get_length (m) != n || ni < 1 || ni >= n)
    return line_error (error, path, line, "the target, its mask and the input have inconsistent lengths");
  for (guint i = 0; i < n; i++) {
    gint64 id = json_array_get_int_element (a, i), bit = json_array_get_int_element (m, i);
    if (id < 0 || id >= vocab)
      return line_error (error, path, line, "a target id outside the vocabulary");
    /* The loss covers exactly the continuation: the trainer predicts nothing of the input. */
    if (bit != (i >= ni))
      return line_error (error, path, line, "the loss mask does not cover exactly the tokens after the input");
    ids[i] = (int32_t) id;
    mask[i] = (guint8) bit;
  }
  *len = (guint8) n;
  *n_in = (guint8) ni;
  *kind = (guint8) k;
  return TRUE;
}

TrainItems *
_strata_train_items_load (const char *path, const char *fmt, int vocab, int32_t pad_id, GError **error)
{
  g_autofree char *text = NULL;
  gsize size = 0;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &text, &size, &local)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: %s", path, local->message);
    return NULL;
  }
  guint n_lines = 0;
  for (gsize i = 0; i < size; i++)
    n_lines += text[i] == '\n';
  g_autoptr (TrainItems) all = items_new ((int) n_lines + 1, MAX_LEN);
  g_autoptr (JsonParser) parser = json_parser_new ();
  int n = 0, T = 0;
  char *line = text, *end = text + size;
  for (guint line_no = 1; line < end; line_no++) {
    char *nl = memchr (line, '\n', (gsize) (end - line));
    if (!nl)
      nl = end;
    *nl = '\0';
    if (nl > line) {
      if (!json_parser_load_from_data (parser, line, nl - line, &local)
          || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
        line_error (error, path, line_no, local ? local->message : "not a JSON object");
        return NULL;
      }
      gsize row = (gsize) n * MAX_LEN;
      if (!parse_item (json_node_get_object (json_parser_get_root (parser)), fmt, vocab, path, line_no,
                       all->ids + row, all->mask + row, &all->len[n], &all->n_in[n], &all->kind[n], error))
        return NULL;
      T = MAX (T, all->len[n]);
      n++;
    }
    line = nl + 1;
  }
  if (n == 0) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: no items", path);
    return NULL;
  }
  TrainItems *items = items_new (n, T);
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < T; j++) {
      items->ids[(gsize) i * T + j] = j < all->len[i] ? all->ids[(gsize) i * MAX_LEN + j] : pad_id;
      items->mask[(gsize) i * T + j] = j < all->len[i] ? all->mask[(gsize) i * MAX_LEN + j] : 0;
    }
    items->len[i] = all->len[i];
    items->n_in[i] = all->n_in[i];
    items->kind[i] = all->kind[i];
  }
  return items;
}

TrainItems *
_strata_train_items_select (const TrainItems *items, TrainItemKind kind, int limit)
{
  int n = 0;
  for (int i = 0; i < items->n; i++)
    n += items->kind[i] == kind;
  if (limit >= 0)
    n = MIN (n, limit);
  TrainItems *out = items_new (n, items->T);
  for (int i = 0, k = 0; i < items->n && k < n; i++) {
    if (items->kind[i] != kind)
      continue;
    memcpy (out->ids + (gsize) k * items->T, items->ids + (gsize) i * items->T, items->T * sizeof (int32_t));
    memcpy (out->mask + (gsize) k * items->T, items->mask + (gsize) i * items->T, items->T);
    out->len[k] = items->len[i];
    out->n_in[k] = items->n_in[i];
    out->kind[k] = kind;
    k++;
  }
  return out;
}

/* Greedy continuation of items [first, first + B), which share their input and target
 * lengths: (B, len) tokens, the input copied and the rest generated one position a pass. */
static gboolean
decode_chunk (StrataEngine *e, const TrainItems *items, int first, int B, int32_t *tokens, float *logits,
              GError **error)
{
  int n_in = items->n_in[first], len = items->len[first], V = strata_engine_get_config (e)->vocab;
  for (int b = 0; b < B; b++)
    memcpy (tokens + (gsize) b * len, items->ids + (gsize) (first + b) * items->T, n_in * sizeof (int32_t));
  for (int T = n_in; T < len; T++) {
    /* The sequences so far are (B, T) rows of a (B, len) array: pass them packed. */
    g_autofree int32_t *packed = g_new (int32_t, (gsize) B * T);
    for (int b = 0; b < B; b++)
      memcpy (packed + (gsize) b * T, tokens + (gsize) b * len, T * sizeof (int32_t));
    StrataStatus st = strata_engine_forward (e, packed, B, T, NULL, logits);
    if (st != STRATA_OK)
      return _strata_probe_pass_failed (e, st, "evaluation pass", error);
    for (int b = 0; b < B; b++) {
      const float *row = logits + ((gsize) b * T + T - 1) * V;
      int best = 0;
      for (int v = 1; v < V; v++)
        best = row[v] > row[best] ? v : best;
      tokens[(gsize) b * len + T] = best;
    }
  }
  return TRUE;
}

gboolean
_strata_train_items_score (StrataEngine *e, const TrainItems *items, double *exact, double *t, double *b,
                           GError **error)
{
  *exact = 0, *t = -1, *b = -1;
  if (items->n == 0)
    return TRUE;
  int V = strata_engine_get_config (e)->vocab;
  g_autofree int32_t *tokens = g_new (int32_t, (gsize) EVAL_CHUNK * items->T);
  g_autofree float *logits = g_new (float, (gsize) EVAL_CHUNK * items->T * V);
  int n_exact = 0, n_t = 0, n_b = 0, has_t = 0, has_b = 0;
  for (int first = 0; first < items->n;) {
    int B = 1;
    while (first + B < items->n && B < EVAL_CHUNK && items->n_in[first + B] == items->n_in[first] &&
           items->len[first + B] == items->len[first])
      B++;
    if (!decode_chunk (e, items, first, B, tokens, logits, error))
      return FALSE;
    int n_in = items->n_in[first], len = items->len[first], n_gen = len - n_in;
    for (int i = 0; i < B; i++) {
      const int32_t *want = items->ids + (gsize) (first + i) * items->T, *got = tokens + (gsize) i * len;
      n_exact += memcmp (want + n_in, got + n_in, n_gen * sizeof (int32_t)) == 0;
      gboolean twohop = items->kind[first + i] >= ITEM_TRAIN_INFERRED;
      if (twohop) /* the answer comes right before </a> */
        has_t = 1, n_t += want[len - 2] == got[len - 2];
      if (twohop && n_gen == 3) /* b t </a>: the CoT bridge first */
        has_b = 1, n_b += want[n_in] == got[n_in];
    }
    first += B;
  }
  *exact = (double) n_exact / items->n;
  if (has_t)
    *t = (double) n_t / items->n;
  if (has_b)
    *b = (double) n_b / items->n;
  return TRUE;
}
