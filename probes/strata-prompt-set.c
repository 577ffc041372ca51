/* strata-prompt-set.c: JSON Lines prompt sets resolved to exact token ids.
 *
 * Positions. A prompt's token sequence is the one the model runs: for "ids" exactly the
 * ids as given (no BOS is ever added); for "prompt" text the tokenizer's ids with the
 * model's BOS policy applied (strata_model_encode), so with add_bos position 0 is BOS and
 * the first text token is position 1. Positions in the file index that sequence; a
 * negative index counts from the end (-1 = last token). */
#include "strata-prompt-set.h"

#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

#include "strata-data-error.h"

void
strata_prompt_free (gpointer data)
{
  StrataPrompt *p = data;
  if (!p)
    return;
  g_free (p->text);
  g_clear_pointer (&p->ids, g_array_unref);
  g_clear_pointer (&p->corrupt_ids, g_array_unref);
  if (p->targets) {
    for (guint i = 0; i < p->targets->len; i++)
      g_free (g_array_index (p->targets, StrataTarget, i).name);
    g_array_unref (p->targets);
  }
  if (p->positions) {
    for (guint i = 0; i < p->positions->len; i++)
      g_free (g_array_index (p->positions, StrataPosition, i).name);
    g_array_unref (p->positions);
  }
  g_strfreev (p->tags);
  g_free (p);
}

static StrataPrompt *
prompt_new (void)
{
  StrataPrompt *p = g_new0 (StrataPrompt, 1);
  p->targets = g_array_new (FALSE, FALSE, sizeof (StrataTarget));
  p->positions = g_array_new (FALSE, FALSE, sizeof (StrataPosition));
  p->contrast = -1;
  return p;
}

void
strata_prompt_set_free (StrataPromptSet *set)
{
  if (!set)
    return;
  g_free (set->source);
  g_clear_pointer (&set->prompts, g_ptr_array_unref);
  g_free (set);
}

static GArray *
copy_i32 (const GArray *a)
{
  if (!a)
    return NULL;
  GArray *c = g_array_sized_new (FALSE, FALSE, sizeof (int32_t), a->len);
  g_array_append_vals (c, a->data, a->len);
  return c;
}

StrataPromptSet *
strata_prompt_set_copy (const StrataPromptSet *set)
{
  StrataPromptSet *c = g_new0 (StrataPromptSet, 1);
  c->source = g_strdup (set->source);
  c->prompts = g_ptr_array_new_full (set->prompts->len, strata_prompt_free);
  for (guint i = 0; i < set->prompts->len; i++) {
    const StrataPrompt *p = set->prompts->pdata[i];
    StrataPrompt *q = g_new0 (StrataPrompt, 1);
    q->text = g_strdup (p->text);
    q->ids = copy_i32 (p->ids);
    q->corrupt_ids = copy_i32 (p->corrupt_ids);
    q->contrast = p->contrast;
    q->n_generated = p->n_generated;
    q->targets = g_array_new (FALSE, TRUE, sizeof (StrataTarget));
    for (guint j = 0; p->targets && j < p->targets->len; j++) {
      StrataTarget t = g_array_index (p->targets, StrataTarget, j);
      t.name = g_strdup (t.name);
      g_array_append_val (q->targets, t);
    }
    q->positions = g_array_new (FALSE, TRUE, sizeof (StrataPosition));
    for (guint j = 0; p->positions && j < p->positions->len; j++) {
      StrataPosition pos = g_array_index (p->positions, StrataPosition, j);
      pos.name = g_strdup (pos.name);
      g_array_append_val (q->positions, pos);
    }
    q->tags = p->tags ? g_strdupv (p->tags) : g_new0 (char *, 1);
    g_ptr_array_add (c->prompts, q);
  }
  return c;
}

static StrataPromptSet *
set_new (const char *source)
{
  StrataPromptSet *set = g_new0 (StrataPromptSet, 1);
  set->source = g_strdup (source);
  set->prompts = g_ptr_array_new_with_free_func (strata_prompt_free);
  return set;
}

gboolean
strata_resolve_token (StrataModel *model, const char *written, const char *what, int32_t *id,
                      GError **error)
{
  int V = model->weights->cfg.vocab;
  if (!written || !*written) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN, "%s: empty token", what);
    return FALSE;
  }
  if (written[0] == '#' && written[1]) {
    char *end = NULL;
    gint64 v = g_ascii_strtoll (written + 1, &end, 10);
    if (*end == '\0') {
      if (v < 0 || v >= V) {
        g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN,
                     "%s: token id %s is outside the vocabulary (0..%d)", what, written, V - 1);
        return FALSE;
      }
      *id = (int32_t) v;
      return TRUE;
    }
  }
  if (!model->tokenizer) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN,
                 "%s: '%s' is text but the model has no tokenizer; write the token as #ID", what, written);
    return FALSE;
  }
  /* The vocabulary entry itself first ("<e_17>", "Ġthe"), then the text encoded without BOS. */
  int32_t exact = strata_tokenizer_lookup (model->tokenizer, written);
  if (exact >= 0 && exact < V) {
    *id = exact;
    return TRUE;
  }
  g_autoptr (GError) tok_error = NULL;
  g_autoptr (GArray) ids = strata_tokenizer_encode (model->tokenizer, written, &tok_error);
  if (!ids) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN, "%s: unknown token '%s' (%s)", what,
                 written, tok_error->message);
    return FALSE;
  }
  if (ids->len != 1) {
    GString *shown = g_string_new (NULL);
    for (guint i = 0; i < ids->len; i++)
      g_string_append_printf (shown, "%s#%d", i ? " " : "", g_array_index (ids, int32_t, i));
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN,
                 "%s: '%s' is not a single token (it encodes to %u tokens: %s)", what, written, ids->len,
                 ids->len ? shown->str : "none");
    g_string_free (shown, TRUE);
    return FALSE;
  }
  if (g_array_index (ids, int32_t, 0) < 0 || g_array_index (ids, int32_t, 0) >= V) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN,
                 "%s: '%s' maps to an id outside the model's vocabulary", what, written);
    return FALSE;
  }
  *id = g_array_index (ids, int32_t, 0);
  return TRUE;
}

/* A token written in JSON: an integer id or a string (text or #ID). */
static gboolean
node_token (StrataModel *model, JsonNode *node, const char *what, int32_t *id, GError **error)
{
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64) {
    gint64 v = json_node_get_int (node);
    g_autofree char *written = g_strdup_printf ("#%" G_GINT64_FORMAT, v);
    return strata_resolve_token (model, written, what, id, error);
  }
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    return strata_resolve_token (model, json_node_get_string (node), what, id, error);
  g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: a token is an id or a string", what);
  return FALSE;
}

static GArray *
node_ids (StrataModel *model, JsonNode *node, const char *what, GError **error)
{
  if (!JSON_NODE_HOLDS_ARRAY (node)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "'%s' must be an array of tokens", what);
    return NULL;
  }
  JsonArray *a = json_node_get_array (node);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  for (guint i = 0; i < json_array_get_length (a); i++) {
    g_autofree char *item = g_strdup_printf ("'%s' item %u", what, i);
    int32_t id;
    if (!node_token (model, json_array_get_element (a, i), item, &id, error))
      return NULL;
    g_array_append_val (ids, id);
  }
  return g_steal_pointer (&ids);
}

static GArray *
text_ids (StrataModel *model, const char *text, GError **error)
{
  if (!model->tokenizer) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN,
                 "%s has no tokenizer: give the prompt as ids (or a tokenizer with --tokenizer)",
                 model->path ? model->path : "the model");
    return NULL;
  }
  return strata_model_encode (model, text, error);
}

static gboolean
add_position (StrataPrompt *p, const char *name, gint64 index, GError **error)
{
  gint64 T = p->ids->len, at = index < 0 ? T + index : index;
  if (at < 0 || at >= T) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "position '%s' = %" G_GINT64_FORMAT " is out of range for %" G_GINT64_FORMAT " tokens",
                 name, index, T);
    return FALSE;
  }
  StrataPosition pos = { g_strdup (name), (int) at };
  g_array_append_val (p->positions, pos);
  return TRUE;
}

static gboolean
parse_positions (StrataPrompt *p, JsonNode *node, GError **error)
{
  if (JSON_NODE_HOLDS_OBJECT (node)) {
    JsonObject *o = json_node_get_object (node);
    g_autoptr (GList) names = json_object_get_members (o);
    for (GList *l = names; l; l = l->next) {
      JsonNode *v = json_object_get_member (o, l->data);
      if (!JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_INT64) {
        g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                     "position '%s' must be an integer index", (const char *) l->data);
        return FALSE;
      }
      if (!add_position (p, l->data, json_node_get_int (v), error))
        return FALSE;
    }
    return TRUE;
  }
  if (JSON_NODE_HOLDS_ARRAY (node)) {
    JsonArray *a = json_node_get_array (node);
    for (guint i = 0; i < json_array_get_length (a); i++) {
      JsonNode *v = json_array_get_element (a, i);
      if (!JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_INT64) {
        g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "positions[%u] must be an integer", i);
        return FALSE;
      }
      gint64 idx = json_node_get_int (v);
      gint64 at = idx < 0 ? (gint64) p->ids->len + idx : idx;
      g_autofree char *name = g_strdup_printf ("%" G_GINT64_FORMAT, at);
      if (!add_position (p, name, idx, error))
        return FALSE;
    }
    return TRUE;
  }
  g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
               "'positions' must be an object of name: index or an array of indices");
  return FALSE;
}

static gboolean
parse_tags (StrataPrompt *p, JsonNode *node, GError **error)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING) {
    g_strv_builder_add (b, json_node_get_string (node));
  } else if (JSON_NODE_HOLDS_ARRAY (node)) {
    JsonArray *a = json_node_get_array (node);
    for (guint i = 0; i < json_array_get_length (a); i++) {
      JsonNode *v = json_array_get_element (a, i);
      if (!JSON_NODE_HOLDS_VALUE (v) || json_node_get_value_type (v) != G_TYPE_STRING) {
        g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "tags[%u] must be a string", i);
        return FALSE;
      }
      /* "all" is implicit: listing it would count the prompt twice. */
      if (strcmp (json_node_get_string (v), "all") != 0)
        g_strv_builder_add (b, json_node_get_string (v));
    }
  } else if (!JSON_NODE_HOLDS_NULL (node)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "'tags' must be a string or an array of strings");
    return FALSE;
  }
  g_strfreev (p->tags);
  p->tags = g_strv_builder_end (b);
  return TRUE;
}

static gboolean
check_corrupt (StrataPrompt *p, GError **error)
{
  if (p->corrupt_ids && p->corrupt_ids->len != p->ids->len) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "clean and corrupted inputs differ in length (%u and %u tokens); patching needs equal lengths",
                 p->ids->len, p->corrupt_ids->len);
    return FALSE;
  }
  return TRUE;
}

static gboolean
check_length (StrataModel *model, const GArray *ids, GError **error)
{
  int n_ctx = model->weights->cfg.n_ctx;
  if (ids->len == 0) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "the prompt has no tokens");
    return FALSE;
  }
  if ((int) ids->len > n_ctx) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "the prompt has %u tokens, more than the model's context of %d", ids->len, n_ctx);
    return FALSE;
  }
  return TRUE;
}

static StrataPrompt *
parse_line (StrataModel *model, JsonNode *root, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "a line must be a JSON object");
    return NULL;
  }
  JsonObject *o = json_node_get_object (root);
  g_autoptr (GList) members = json_object_get_members (o);
  static const char *known[] = { "prompt", "ids", "corrupt", "corrupt_ids", "targets", "contrast",
                                 "positions", "tags", "meta", NULL };
  for (GList *l = members; l; l = l->next)
    if (!g_strv_contains (known, l->data)) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "unknown key '%s'", (const char *) l->data);
      return NULL;
    }
  StrataPrompt *p = prompt_new ();
  p->tags = g_new0 (char *, 1);
  gboolean has_text = json_object_has_member (o, "prompt"), has_ids = json_object_has_member (o, "ids");
  if (has_text == has_ids) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "give exactly one of 'prompt' and 'ids'");
    goto fail;
  }
  if (has_text) {
    JsonNode *n = json_object_get_member (o, "prompt");
    if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "'prompt' must be a string");
      goto fail;
    }
    p->text = g_strdup (json_node_get_string (n));
    p->ids = text_ids (model, p->text, error);
  } else {
    p->ids = node_ids (model, json_object_get_member (o, "ids"), "ids", error);
  }
  if (!p->ids || !check_length (model, p->ids, error))
    goto fail;
  if (json_object_has_member (o, "corrupt") && json_object_has_member (o, "corrupt_ids")) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "give at most one of 'corrupt' and 'corrupt_ids'");
    goto fail;
  }
  if (json_object_has_member (o, "corrupt")) {
    JsonNode *n = json_object_get_member (o, "corrupt");
    if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "'corrupt' must be a string");
      goto fail;
    }
    if (!(p->corrupt_ids = text_ids (model, json_node_get_string (n), error)))
      goto fail;
  } else if (json_object_has_member (o, "corrupt_ids")) {
    if (!(p->corrupt_ids = node_ids (model, json_object_get_member (o, "corrupt_ids"), "corrupt_ids", error)))
      goto fail;
  }
  if (!check_corrupt (p, error))
    goto fail;
  if (json_object_has_member (o, "targets")) {
    JsonNode *n = json_object_get_member (o, "targets");
    if (!JSON_NODE_HOLDS_OBJECT (n)) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "'targets' must be an object of name: token");
      goto fail;
    }
    JsonObject *t = json_node_get_object (n);
    g_autoptr (GList) names = json_object_get_members (t);
    for (GList *l = names; l; l = l->next) {
      g_autofree char *what = g_strdup_printf ("target '%s'", (const char *) l->data);
      StrataTarget target = { NULL, -1 };
      if (!node_token (model, json_object_get_member (t, l->data), what, &target.id, error))
        goto fail;
      target.name = g_strdup (l->data);
      g_array_append_val (p->targets, target);
    }
  }
  if (json_object_has_member (o, "contrast") &&
      !node_token (model, json_object_get_member (o, "contrast"), "contrast", &p->contrast, error))
    goto fail;
  if (json_object_has_member (o, "positions") &&
      !parse_positions (p, json_object_get_member (o, "positions"), error))
    goto fail;
  if (json_object_has_member (o, "tags") && !parse_tags (p, json_object_get_member (o, "tags"), error))
    goto fail;
  return p;
fail:
  strata_prompt_free (p);
  return NULL;
}

StrataPromptSet *
strata_prompt_set_load (const char *path, StrataModel *model, GError **error)
{
  g_autofree char *contents = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &contents, &len, error))
    return NULL;
  if (memchr (contents, '\0', len)) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: contains a NUL byte; not a text file", path);
    return NULL;
  }
  g_autoptr (StrataPromptSet) set = set_new (path);
  g_auto (GStrv) lines = g_strsplit (contents, "\n", -1);
  g_autoptr (JsonParser) parser = json_parser_new ();
  for (guint i = 0; lines[i]; i++) {
    g_strstrip (lines[i]);
    if (lines[i][0] == '\0')
      continue;
    g_autoptr (GError) local = NULL;
    StrataPrompt *p = NULL;
    if (json_parser_load_from_data (parser, lines[i], -1, &local))
      p = parse_line (model, json_parser_get_root (parser), &local);
    if (!p) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s:%u: %s", path, i + 1, local->message);
      return NULL;
    }
    g_ptr_array_add (set->prompts, p);
  }
  if (set->prompts->len == 0) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: no prompts", path);
    return NULL;
  }
  return g_steal_pointer (&set);
}

StrataPromptSet *
strata_prompt_set_new_single (StrataModel *model, const char *text, const int32_t *ids, int n_ids,
                              const char *corrupt_text, const char *const *targets,
                              const char *contrast, GError **error)
{
  g_autoptr (StrataPromptSet) set = set_new ("command line");
  StrataPrompt *p = prompt_new ();
  p->tags = g_new0 (char *, 1);
  g_ptr_array_add (set->prompts, p);
  if (text) {
    p->text = g_strdup (text);
    p->ids = text_ids (model, text, error);
    if (!p->ids)
      return NULL;
  } else {
    p->ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
    for (int i = 0; i < n_ids; i++) {
      if (ids[i] < 0 || ids[i] >= model->weights->cfg.vocab) {
        g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN,
                     "id %d at index %d is outside the vocabulary (0..%d)", ids[i], i, model->weights->cfg.vocab - 1);
        return NULL;
      }
      g_array_append_val (p->ids, ids[i]);
    }
  }
  if (!check_length (model, p->ids, error))
    return NULL;
  if (corrupt_text && !(p->corrupt_ids = text_ids (model, corrupt_text, error)))
    return NULL;
  if (!check_corrupt (p, error))
    return NULL;
  for (int i = 0; targets && targets[i]; i++) {
    g_autofree char *what = g_strdup_printf ("target '%s'", targets[i]);
    StrataTarget t = { NULL, -1 };
    if (!strata_resolve_token (model, targets[i], what, &t.id, error))
      return NULL;
    t.name = g_strdup (targets[i]);
    g_array_append_val (p->targets, t);
  }
  if (contrast && !strata_resolve_token (model, contrast, "contrast", &p->contrast, error))
    return NULL;
  return g_steal_pointer (&set);
}

static void
add_unique (GPtrArray *list, const char *s)
{
  for (guint i = 0; i < list->len; i++)
    if (strcmp (list->pdata[i], s) == 0)
      return;
  g_ptr_array_add (list, (gpointer) s);
}

GPtrArray *
strata_prompt_set_list_tags (const StrataPromptSet *set)
{
  GPtrArray *tags = g_ptr_array_new ();
  g_ptr_array_add (tags, (gpointer) "all");
  for (guint i = 0; set && i < set->prompts->len; i++) {
    const StrataPrompt *p = set->prompts->pdata[i];
    for (int j = 0; p->tags && p->tags[j]; j++)
      add_unique (tags, p->tags[j]);
  }
  return tags;
}

GPtrArray *
strata_prompt_set_list_targets (const StrataPromptSet *set)
{
  GPtrArray *targets = g_ptr_array_new ();
  for (guint i = 0; set && i < set->prompts->len; i++) {
    const StrataPrompt *p = set->prompts->pdata[i];
    for (guint j = 0; p->targets && j < p->targets->len; j++)
      add_unique (targets, g_array_index (p->targets, StrataTarget, j).name);
  }
  return targets;
}

GPtrArray *
strata_prompt_set_list_positions (const StrataPromptSet *set)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  if (!set || set->prompts->len == 0)
    return out;
  const StrataPrompt *p = set->prompts->pdata[0];
  if (p->positions && p->positions->len > 0) {
    for (guint j = 0; j < p->positions->len; j++)
      g_ptr_array_add (out, g_strdup (g_array_index (p->positions, StrataPosition, j).name));
  } else {
    for (guint j = 0; p->ids && j < p->ids->len; j++)
      g_ptr_array_add (out, g_strdup_printf ("%u", j));
  }
  return out;
}

char *
strata_prompt_set_position_name (const StrataPromptSet *set, int pos)
{
  if (!set || set->prompts->len == 0)
    return NULL;
  const StrataPrompt *p = set->prompts->pdata[0];
  if (pos < 0)
    pos = p->ids ? (int) p->ids->len - 1 : 0;
  for (guint j = 0; p->positions && j < p->positions->len; j++) {
    const StrataPosition *sp = &g_array_index (p->positions, StrataPosition, j);
    if (sp->index == pos)
      return g_strdup (sp->name);
  }
  return g_strdup_printf ("%d", pos);
}

int
strata_prompt_set_position_index (const StrataPromptSet *set, const char *name)
{
  if (!name || !set || set->prompts->len == 0)
    return -1;
  const StrataPrompt *p = set->prompts->pdata[0];
  for (guint j = 0; p->positions && j < p->positions->len; j++) {
    const StrataPosition *sp = &g_array_index (p->positions, StrataPosition, j);
    if (strcmp (sp->name, name) == 0)
      return sp->index;
  }
  char *end = NULL;
  gint64 v = g_ascii_strtoll (name, &end, 10);
  if (*name && !*end && v >= 0 && p->ids && v < (gint64) p->ids->len && (!p->positions || p->positions->len == 0))
    return (int) v;
  return -1;
}

gboolean
strata_prompt_set_add_targets (StrataPromptSet *set, StrataModel *model, const char *const *targets, GError **error)
{
  for (int i = 0; targets && targets[i]; i++) {
    g_autofree char *what = g_strdup_printf ("target '%s'", targets[i]);
    int32_t id;
    if (!strata_resolve_token (model, targets[i], what, &id, error))
      return FALSE;
    for (guint j = 0; j < set->prompts->len; j++) {
      StrataTarget t = { g_strdup (targets[i]), id };
      g_array_append_val (((StrataPrompt *) set->prompts->pdata[j])->targets, t);
    }
  }
  return TRUE;
}
