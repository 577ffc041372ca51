/* strata-session-read.c: a StrataSession rebuilt from an open HDF5 file.
 *
 * Every size comes from an attribute checked against a bound, and every dataset is read
 * only when its dtype and exact shape match what those sizes say, so a damaged or foreign
 * file ends in a GError, never in a short read or an overflow. Objects the reader does not
 * know (added by a newer minor version) are ignored. */
#include "strata-session-private.h"

#define TRY(expr)                                                                          \
  G_STMT_START {                                                                           \
    if (!(expr))                                                                           \
      return FALSE;                                                                        \
  } G_STMT_END

/* Bounds that no real analysis reaches; they keep products of sizes far from overflow. */
#define MAX_LAYERS (1 << 16)
#define MAX_TOKENS (1 << 24)
#define MAX_TOPK (1 << 20)
#define MAX_COUNT (1 << 24)

static gboolean
get_int (hid_t loc, const char *name, gint64 min, gint64 max, int *out, GError **error)
{
  gint64 v;
  TRY (strata_h5_get_int_attr (loc, name, min, max, &v, error));
  *out = (int) v;
  return TRUE;
}

static gboolean
get_i32 (hid_t loc, const char *name, int32_t *out, GError **error)
{
  gint64 v;
  TRY (strata_h5_get_int_attr (loc, name, G_MININT32, G_MAXINT32, &v, error));
  *out = (int32_t) v;
  return TRUE;
}

static gboolean
get_bool (hid_t loc, const char *name, gboolean *out, GError **error)
{
  gint64 v;
  TRY (strata_h5_get_int_attr (loc, name, 0, 1, &v, error));
  *out = v != 0;
  return TRUE;
}

/* A 1-D int32 dataset of any length (or of length `expect` when >= 0) as a GArray. */
static GArray *
read_garray_i32 (hid_t loc, const char *name, gssize expect, GError **error)
{
  hsize_t n;
  if (!strata_h5_read_length (loc, name, STRATA_H5_I32, &n, error))
    return NULL;
  if (expect >= 0)
    n = (hsize_t) expect; /* the read below reports a mismatch */
  if (n > MAX_TOKENS * (hsize_t) 64) {
    g_autofree char *what = strata_h5_describe (loc, name);
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "dataset '%s' is too large", what);
    return NULL;
  }
  g_autoptr (GArray) a = g_array_sized_new (FALSE, TRUE, sizeof (int32_t), (guint) n);
  g_array_set_size (a, (guint) n);
  hsize_t dims[1] = { n };
  if (!strata_h5_read_array_into (loc, name, STRATA_H5_I32, 1, dims, a->data, error))
    return NULL;
  return g_steal_pointer (&a);
}

static gboolean
read_count (hid_t g, guint *count, GError **error)
{
  int c;
  TRY (get_int (g, "count", 0, MAX_COUNT, &c, error));
  *count = (guint) c;
  return TRUE;
}

static StrataH5Group
open_member (hid_t coll, guint i, GError **error)
{
  char name[16];
  g_snprintf (name, sizeof name, STRATA_SESSION_INDEX_FORMAT, i);
  return strata_h5_group_open (coll, name, error);
}

/* A collection: the group `name` with a "count" attribute and members 000000, 000001, ...
 * Each element is made by new_element and added to `into` before it is read, so the
 * array's free function also frees an element whose reading failed halfway. */
typedef gpointer (*NewElement) (void);
typedef gboolean (*ReadElement) (hid_t member, gpointer element, GError **error);

static gboolean
read_collection (hid_t parent, const char *name, GPtrArray *into, NewElement new_element,
                 ReadElement read_element, GError **error)
{
  g_auto (StrataH5Group) g = strata_h5_group_open (parent, name, error);
  TRY (g >= 0);
  guint count;
  TRY (read_count (g, &count, error));
  for (guint i = 0; i < count; i++) {
    g_auto (StrataH5Group) m = open_member (g, i, error);
    TRY (m >= 0);
    gpointer element = new_element ();
    g_ptr_array_add (into, element);
    TRY (read_element (m, element, error));
  }
  return TRUE;
}

static gpointer
new_zeroed_aggregate (void)
{
  return g_new0 (StrataLensAggregate, 1);
}

/* ---- model ---- */

static gboolean
read_model (hid_t parent, StrataModelRef *m, GError **error)
{
  g_auto (StrataH5Group) g = strata_h5_group_open (parent, "model", error);
  TRY (g >= 0);
  TRY ((m->path = strata_h5_get_string_attr (g, "path", error)));
  TRY ((m->name = strata_h5_get_string_attr (g, "name", error)));
  TRY ((m->arch = strata_h5_get_string_attr (g, "arch", error)));
  TRY ((m->format = strata_h5_get_string_attr (g, "format", error)));
  TRY ((m->dtype = strata_h5_get_string_attr (g, "dtype", error)));
  TRY ((m->weights_sha256 = strata_h5_get_string_attr (g, "weights_sha256", error)));
  TRY ((m->tokenizer_sha256 = strata_h5_get_string_attr (g, "tokenizer_sha256", error)));
  TRY (get_bool (g, "add_bos", &m->add_bos, error));
  if (strata_h5_has_attr (g, "device")) /* format 1.3 */
    TRY ((m->device = strata_h5_get_string_attr (g, "device", error)));
  else
    m->device = g_strdup ("");

  StrataConfig *c = &m->config;
  g_auto (StrataH5Group) cg = strata_h5_group_open (g, "config", error);
  TRY (cg >= 0);
  int e;
  TRY (_strata_session_get_enum (cg, "family", &strata_family_table, &e, error));
  c->family = (StrataFamily) e;
  TRY (get_int (cg, "n_layers", G_MININT32, G_MAXINT32, &c->n_layers, error));
  TRY (get_int (cg, "d_model", G_MININT32, G_MAXINT32, &c->d_model, error));
  TRY (get_int (cg, "n_heads", G_MININT32, G_MAXINT32, &c->n_heads, error));
  TRY (get_int (cg, "n_kv_heads", G_MININT32, G_MAXINT32, &c->n_kv_heads, error));
  TRY (get_int (cg, "d_head", G_MININT32, G_MAXINT32, &c->d_head, error));
  TRY (get_int (cg, "d_mlp", G_MININT32, G_MAXINT32, &c->d_mlp, error));
  TRY (get_int (cg, "vocab", G_MININT32, G_MAXINT32, &c->vocab, error));
  TRY (get_int (cg, "n_ctx", G_MININT32, G_MAXINT32, &c->n_ctx, error));
  /* The recipe is the family's preset with the stored norm and RoPE settings. */
  strata_config_set_family (c, c->family);
  TRY (strata_h5_get_float_attr (cg, "norm_eps", &c->recipe.norm.eps, error));
  TRY (_strata_session_get_enum (cg, "rope", &strata_rope_table, &e, error));
  c->recipe.rope.pairing = (StrataRope) e;
  TRY (strata_h5_get_float_attr (cg, "rope_theta", &c->recipe.rope.theta, error));
  return TRUE;
}


static gboolean
read_prompt (hid_t g, StrataPrompt *p, GError **error)
{
  if (strata_h5_has_attr (g, "text"))
    TRY ((p->text = strata_h5_get_string_attr (g, "text", error)));
  TRY (get_i32 (g, "contrast", &p->contrast, error));
  TRY ((p->ids = read_garray_i32 (g, "ids", -1, error)));
  if (strata_h5_has_attr (g, "n_generated"))
    TRY (get_int (g, "n_generated", 0, p->ids->len, &p->n_generated, error));
  if (strata_h5_exists (g, "corrupt_ids"))
    TRY ((p->corrupt_ids = read_garray_i32 (g, "corrupt_ids", -1, error)));

  gsize n;
  g_auto (GStrv) names = strata_h5_read_strings (g, "target_names", -1, &n, error);
  TRY (names != NULL);
  g_autoptr (GArray) ids = read_garray_i32 (g, "target_ids", (gssize) n, error);
  TRY (ids != NULL);
  for (gsize i = 0; i < n; i++) {
    StrataTarget t = { g_steal_pointer (&names[i]), g_array_index (ids, int32_t, i) };
    g_array_append_val (p->targets, t);
  }

  g_auto (GStrv) pnames = strata_h5_read_strings (g, "position_names", -1, &n, error);
  TRY (pnames != NULL);
  g_autoptr (GArray) pidx = read_garray_i32 (g, "position_indices", (gssize) n, error);
  TRY (pidx != NULL);
  for (gsize i = 0; i < n; i++) {
    StrataPosition pos = { g_steal_pointer (&pnames[i]), g_array_index (pidx, int32_t, i) };
    g_array_append_val (p->positions, pos);
  }

  g_strfreev (p->tags);
  TRY ((p->tags = strata_h5_read_strings (g, "tags", -1, NULL, error)));
  return TRUE;
}

static StrataPromptSet *
read_prompts (hid_t parent, GError **error)
{
  g_auto (StrataH5Group) g = strata_h5_group_open (parent, "prompts", error);
  if (g < 0)
    return NULL;
  g_autoptr (StrataPromptSet) set = g_new0 (StrataPromptSet, 1);
  set->prompts = g_ptr_array_new_with_free_func (strata_prompt_free);
  if (!(set->source = strata_h5_get_string_attr (g, "source", error)))
    return NULL;
  guint count;
  if (!read_count (g, &count, error))
    return NULL;
  for (guint i = 0; i < count; i++) {
    g_auto (StrataH5Group) pg = open_member (g, i, error);
    if (pg < 0)
      return NULL;
    StrataPrompt *p = g_new0 (StrataPrompt, 1);
    p->targets = g_array_new (FALSE, TRUE, sizeof (StrataTarget));
    p->positions = g_array_new (FALSE, TRUE, sizeof (StrataPosition));
    p->tags = g_new0 (char *, 1);
    if (!read_prompt (pg, p, error)) {
      strata_prompt_free (p);
      return NULL;
    }
    g_ptr_array_add (set->prompts, p);
  }
  return g_steal_pointer (&set);
}

/* ---- lens ---- */

static gboolean
read_lens_target (hid_t g, const StrataLensResult *r, StrataLensTarget *t, GError **error)
{
  hsize_t lt[2] = { (hsize_t) r->n_layers + 1, (hsize_t) r->T };
  hsize_t t1[1] = { (hsize_t) r->T };
  TRY ((t->name = strata_h5_get_string_attr (g, "name", error)));
  TRY (get_i32 (g, "id", &t->id, error));
  TRY ((t->prob = strata_h5_read_array (g, "prob", STRATA_H5_F32, 2, lt, error)));
  TRY ((t->logprob = strata_h5_read_array (g, "logprob", STRATA_H5_F32, 2, lt, error)));
  TRY ((t->logit = strata_h5_read_array (g, "logit", STRATA_H5_F32, 2, lt, error)));
  TRY ((t->rank = strata_h5_read_array (g, "rank", STRATA_H5_I32, 2, lt, error)));
  if (strata_h5_exists (g, "cand_rank"))
    TRY ((t->cand_rank = strata_h5_read_array (g, "cand_rank", STRATA_H5_I32, 2, lt, error)));
  TRY ((t->resolution = strata_h5_read_array (g, "resolution", STRATA_H5_I32, 1, t1, error)));
  TRY ((t->resolution_threshold = strata_h5_read_array (g, "resolution_threshold", STRATA_H5_I32,
                                                        1, t1, error)));
  return TRUE;
}

/* The token table: ids strictly ascending (the lookup is a binary search), one piece each. */
static gboolean
read_token_table (hid_t g, StrataLensResult *r, GError **error)
{
  g_autoptr (GArray) ids = read_garray_i32 (g, "token_ids", -1, error);
  TRY (ids != NULL);
  for (guint i = 1; i < ids->len; i++)
    if (g_array_index (ids, int32_t, i) <= g_array_index (ids, int32_t, i - 1)) {
      g_autofree char *what = strata_h5_describe (g, "token_ids");
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "dataset '%s' is not in strictly ascending order", what);
      return FALSE;
    }
  g_auto (GStrv) pieces = strata_h5_read_strings (g, "token_pieces", ids->len, NULL, error);
  TRY (pieces != NULL);
  r->token_pieces = g_ptr_array_new_full (ids->len, g_free);
  for (guint i = 0; i < ids->len; i++)
    g_ptr_array_add (r->token_pieces, g_steal_pointer (&pieces[i]));
  r->token_ids = g_steal_pointer (&ids);
  return TRUE;
}

static gboolean
read_lens_result (hid_t g, StrataLensResult *r, GError **error)
{
  TRY (get_int (g, "n_layers", 0, MAX_LAYERS, &r->n_layers, error));
  TRY (get_int (g, "T", 0, MAX_TOKENS, &r->T, error));
  TRY (get_int (g, "topk", 0, MAX_TOPK, &r->topk, error));
  TRY (get_int (g, "vocab", 0, G_MAXINT32, &r->vocab, error));
  TRY (get_bool (g, "raw", &r->raw, error));
  TRY (strata_h5_get_double_attr (g, "threshold", &r->threshold, error));
  TRY ((r->ids = read_garray_i32 (g, "ids", r->T, error)));
  g_auto (GStrv) pieces = strata_h5_read_strings (g, "pieces", r->T, NULL, error);
  TRY (pieces != NULL);
  for (int i = 0; i < r->T; i++)
    g_ptr_array_add (r->pieces, g_steal_pointer (&pieces[i]));

  hsize_t ltk[3] = { (hsize_t) r->n_layers + 1, (hsize_t) r->T, (hsize_t) r->topk };
  TRY ((r->topk_ids = strata_h5_read_array (g, "topk_ids", STRATA_H5_I32, 3, ltk, error)));
  TRY ((r->topk_prob = strata_h5_read_array (g, "topk_prob", STRATA_H5_F32, 3, ltk, error)));
  TRY ((r->topk_logit = strata_h5_read_array (g, "topk_logit", STRATA_H5_F32, 3, ltk, error)));
  if (strata_h5_exists (g, "token_ids")) /* format 1.1; absent in 1.0 files */
    TRY (read_token_table (g, r, error));

  g_auto (StrataH5Group) tg = strata_h5_group_open (g, "targets", error);
  TRY (tg >= 0);
  guint count;
  TRY (read_count (tg, &count, error));
  for (guint i = 0; i < count; i++) {
    g_auto (StrataH5Group) mg = open_member (tg, i, error);
    TRY (mg >= 0);
    /* Owned by r from the start, so freeing r frees a half-read target too. */
    StrataLensTarget *t = g_new0 (StrataLensTarget, 1);
    g_ptr_array_add (r->targets, t);
    TRY (read_lens_target (mg, r, t, error));
  }
  return TRUE;
}

static gboolean
read_lens_aggregate (hid_t g, StrataLensAggregate *a, GError **error)
{
  TRY ((a->tag = strata_h5_get_string_attr (g, "tag", error)));
  TRY ((a->target = strata_h5_get_string_attr (g, "target", error)));
  TRY ((a->position = strata_h5_get_string_attr (g, "position", error)));
  TRY (get_int (g, "n_prompts", 0, G_MAXINT32, &a->n_prompts, error));
  TRY (get_int (g, "n_layers", 0, MAX_LAYERS, &a->n_layers, error));
  TRY (get_int (g, "resolution_layer", -1, MAX_LAYERS, &a->resolution_layer, error));
  hsize_t l1[1] = { (hsize_t) a->n_layers + 1 };
  hsize_t l2[1] = { (hsize_t) a->n_layers + 2 };
  TRY ((a->mrr = strata_h5_read_array (g, "mrr", STRATA_H5_F64, 1, l1, error)));
  TRY ((a->mean_prob = strata_h5_read_array (g, "mean_prob", STRATA_H5_F64, 1, l1, error)));
  TRY ((a->top1 = strata_h5_read_array (g, "top1", STRATA_H5_F64, 1, l1, error)));
  TRY ((a->resolution_counts = strata_h5_read_array (g, "resolution_counts", STRATA_H5_I32, 1, l2,
                                                     error)));
  return TRUE;
}

static gpointer
new_lens_result (void)
{
  StrataLensResult *r = g_new0 (StrataLensResult, 1);
  r->pieces = g_ptr_array_new_with_free_func (g_free);
  r->targets = g_ptr_array_new_with_free_func (strata_lens_target_free);
  return r;
}

static gboolean
read_lens (hid_t parent, StrataAnalysis *a, GError **error)
{
  g_auto (StrataH5Group) g = strata_h5_group_open (parent, "lens", error);
  TRY (g >= 0);
  TRY (get_bool (g, "has_lens", &a->has_lens, error));
  TRY (get_int (g, "topk", G_MININT32, G_MAXINT32, &a->lens_options.topk, error));
  TRY (get_bool (g, "raw", &a->lens_options.raw, error));
  TRY (strata_h5_get_double_attr (g, "threshold", &a->lens_options.threshold, error));
  if (strata_h5_exists (g, "candidates")) {
    TRY ((a->lens_candidates = read_garray_i32 (g, "candidates", -1, error)));
    a->lens_options.candidates = (const int32_t *) a->lens_candidates->data;
    a->lens_options.n_candidates = (int) a->lens_candidates->len;
  }

  return read_collection (g, "results", a->lens_results, new_lens_result,
                          (ReadElement) read_lens_result, error)
         && read_collection (g, "aggregates", a->lens_aggregates, new_zeroed_aggregate,
                             (ReadElement) read_lens_aggregate, error);
}

/* ---- patching ---- */

static gboolean
read_map_header (hid_t g, StrataPatchSite *site, int *rows, int *cols, GError **error)
{
  int e;
  TRY (_strata_session_get_enum (g, "site", &strata_patch_site_table, &e, error));
  *site = (StrataPatchSite) e;
  TRY (get_int (g, "rows", 0, MAX_LAYERS, rows, error));
  TRY (get_int (g, "cols", 0, MAX_TOKENS, cols, error));
  return TRUE;
}

static gboolean
read_patch_map (hid_t g, StrataPatchMap *m, GError **error)
{
  TRY (read_map_header (g, &m->site, &m->rows, &m->cols, error));
  TRY (get_int (g, "head_pos", -1, MAX_TOKENS, &m->head_pos, error));
  hsize_t rc[2] = { (hsize_t) m->rows, (hsize_t) m->cols };
  TRY ((m->metric = strata_h5_read_array (g, "metric", STRATA_H5_F64, 2, rc, error)));
  TRY ((m->score = strata_h5_read_array (g, "score", STRATA_H5_F64, 2, rc, error)));
  return TRUE;
}

static gpointer
new_patch_map (void)
{
  return g_new0 (StrataPatchMap, 1);
}

static gboolean
read_patch_result (hid_t g, StrataPatchResult *r, GError **error)
{
  int e;
  if (strata_h5_has_attr (g, "method")) { /* format 1.4; before, every result was exact */
    TRY (_strata_session_get_enum (g, "method", &strata_patch_method_table, &e, error));
    r->method = (StrataPatchMethod) e;
  }
  TRY (_strata_session_get_enum (g, "direction", &strata_patch_direction_table, &e, error));
  r->direction = (StrataPatchDirection) e;
  TRY (_strata_session_get_enum (g, "metric", &strata_patch_metric_table, &e, error));
  r->metric = (StrataPatchMetric) e;
  TRY ((r->target_name = strata_h5_get_string_attr (g, "target_name", error)));
  TRY (get_i32 (g, "target", &r->target, error));
  TRY (get_i32 (g, "contrast", &r->contrast, error));
  TRY (get_int (g, "answer_pos", -1, MAX_TOKENS, &r->answer_pos, error));
  TRY (strata_h5_get_double_attr (g, "baseline_clean", &r->baseline_clean, error));
  TRY (strata_h5_get_double_attr (g, "baseline_corrupt", &r->baseline_corrupt, error));
  TRY (get_bool (g, "small_gap", &r->small_gap, error));
  TRY ((r->clean_ids = read_garray_i32 (g, "clean_ids", -1, error)));
  TRY ((r->corrupt_ids = read_garray_i32 (g, "corrupt_ids", r->clean_ids->len, error)));

  return read_collection (g, "maps", r->maps, new_patch_map, (ReadElement) read_patch_map, error);
}

static gboolean
read_patch_aggregate (hid_t g, StrataPatchAggregate *a, GError **error)
{
  TRY ((a->tag = strata_h5_get_string_attr (g, "tag", error)));
  TRY (get_int (g, "n_prompts", 0, G_MAXINT32, &a->n_prompts, error));
  TRY (read_map_header (g, &a->site, &a->rows, &a->cols, error));
  hsize_t rc[2] = { (hsize_t) a->rows, (hsize_t) a->cols };
  TRY ((a->mean_score = strata_h5_read_array (g, "mean_score", STRATA_H5_F64, 2, rc, error)));
  TRY ((a->mean_metric = strata_h5_read_array (g, "mean_metric", STRATA_H5_F64, 2, rc, error)));
  return TRUE;
}

static gpointer
new_patch_result (void)
{
  StrataPatchResult *r = g_new0 (StrataPatchResult, 1);
  r->maps = g_ptr_array_new_with_free_func (strata_patch_map_free);
  return r;
}

static gpointer
new_patch_aggregate (void)
{
  return g_new0 (StrataPatchAggregate, 1);
}

static gboolean
read_patching (hid_t parent, StrataAnalysis *a, GError **error)
{
  g_auto (StrataH5Group) g = strata_h5_group_open (parent, "patching", error);
  TRY (g >= 0);
  return read_collection (g, "results", a->patch_results, new_patch_result,
                          (ReadElement) read_patch_result, error)
         && read_collection (g, "aggregates", a->patch_aggregates, new_patch_aggregate,
                             (ReadElement) read_patch_aggregate, error);
}

/* ---- circuit and attention ---- */

static gboolean
read_circuit_nodes (hid_t g, StrataCircuit *c, GError **error)
{
  hsize_t n;
  TRY (strata_h5_read_length (g, "node_layer", STRATA_H5_I32, &n, error));
  if (n > MAX_COUNT) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "circuit has too many nodes");
    return FALSE;
  }
  hsize_t d[1] = { n };
  g_auto (GStrv) kind = strata_h5_read_strings (g, "node_kind", (gssize) n, NULL, error);
  TRY (kind != NULL);
  g_autofree int32_t *layer = strata_h5_read_array (g, "node_layer", STRATA_H5_I32, 1, d, error);
  TRY (layer != NULL);
  g_autofree int32_t *pos = strata_h5_read_array (g, "node_pos", STRATA_H5_I32, 1, d, error);
  TRY (pos != NULL);
  g_autofree int32_t *head = strata_h5_read_array (g, "node_head", STRATA_H5_I32, 1, d, error);
  TRY (head != NULL);
  g_autofree double *effect = strata_h5_read_array (g, "node_effect", STRATA_H5_F64, 1, d, error);
  TRY (effect != NULL);
  g_autofree double *lens_prob = strata_h5_read_array (g, "node_lens_prob", STRATA_H5_F64, 1, d, error);
  TRY (lens_prob != NULL);
  g_autofree int32_t *decodes = strata_h5_read_array (g, "node_decodes", STRATA_H5_I32, 1, d, error);
  TRY (decodes != NULL);
  for (hsize_t i = 0; i < n; i++) {
    int k;
    if (!strata_enum_from_string (&strata_node_kind_table, kind[i], &k)) {
      g_autofree char *what = strata_h5_describe (g, "node_kind");
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "'%s'[%llu] is '%s', not a known node kind", what, (unsigned long long) i, kind[i]);
      return FALSE;
    }
    StrataCircuitNode node = { (StrataNodeKind) k, layer[i], pos[i], head[i], effect[i],
                               lens_prob[i], decodes[i] != 0 };
    g_array_append_val (c->nodes, node);
  }
  return TRUE;
}

static gboolean
read_circuit_edges (hid_t g, StrataCircuit *c, GError **error)
{
  hsize_t n;
  TRY (strata_h5_read_length (g, "edge_from", STRATA_H5_I32, &n, error));
  if (n > MAX_COUNT) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "circuit has too many edges");
    return FALSE;
  }
  hsize_t d[1] = { n };
  g_autofree int32_t *from = strata_h5_read_array (g, "edge_from", STRATA_H5_I32, 1, d, error);
  TRY (from != NULL);
  g_autofree int32_t *to = strata_h5_read_array (g, "edge_to", STRATA_H5_I32, 1, d, error);
  TRY (to != NULL);
  g_autofree double *weight = strata_h5_read_array (g, "edge_weight", STRATA_H5_F64, 1, d, error);
  TRY (weight != NULL);
  for (hsize_t i = 0; i < n; i++) {
    /* A view follows these indices: they must name nodes that exist. */
    if (from[i] < 0 || to[i] < 0 || (guint) from[i] >= c->nodes->len || (guint) to[i] >= c->nodes->len) {
      g_autofree char *what = strata_h5_describe (g, "edge_from");
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "circuit edge %llu (%s) joins nodes %d and %d, but there are %u nodes",
                   (unsigned long long) i, what, from[i], to[i], c->nodes->len);
      return FALSE;
    }
    StrataCircuitEdge e = { from[i], to[i], weight[i] };
    g_array_append_val (c->edges, e);
  }
  return TRUE;
}

static StrataCircuit *
read_circuit (hid_t parent, GError **error)
{
  g_auto (StrataH5Group) g = strata_h5_group_open (parent, "circuit", error);
  if (g < 0)
    return NULL;
  g_autoptr (StrataCircuit) c = g_new0 (StrataCircuit, 1);
  c->nodes = g_array_new (FALSE, TRUE, sizeof (StrataCircuitNode));
  c->edges = g_array_new (FALSE, TRUE, sizeof (StrataCircuitEdge));
  if (!get_int (g, "n_layers", 0, MAX_LAYERS, &c->n_layers, error)
      || !get_int (g, "T", 0, MAX_TOKENS, &c->T, error)
      || !strata_h5_get_double_attr (g, "threshold", &c->threshold, error)
      || !(c->target_name = strata_h5_get_string_attr (g, "target_name", error))
      || !read_circuit_nodes (g, c, error) || !read_circuit_edges (g, c, error))
    return NULL;
  return g_steal_pointer (&c);
}

static StrataAttention *
read_attention (hid_t parent, GError **error)
{
  g_auto (StrataH5Group) g = strata_h5_group_open (parent, "attention", error);
  if (g < 0)
    return NULL;
  int L, H, T;
  if (!get_int (g, "n_layers", 0, MAX_LAYERS, &L, error) || !get_int (g, "n_heads", 0, MAX_LAYERS, &H, error)
      || !get_int (g, "T", 0, MAX_TOKENS, &T, error))
    return NULL;
  hsize_t dims[4] = { (hsize_t) L, (hsize_t) H, (hsize_t) T, (hsize_t) T };
  float *pattern = strata_h5_read_array (g, "pattern", STRATA_H5_F32, 4, dims, error);
  if (pattern == NULL)
    return NULL;
  StrataAttention *att = g_new0 (StrataAttention, 1);
  att->n_layers = L;
  att->n_heads = H;
  att->T = T;
  att->pattern = pattern;
  return att;
}

/* ---- analysis, view, body ---- */

static gboolean
read_analysis (hid_t g, StrataAnalysis *a, GError **error)
{
  TRY (read_model (g, &a->model, error));
  if (strata_h5_exists (g, "prompts"))
    TRY ((a->prompts = read_prompts (g, error)));
  TRY (read_lens (g, a, error));
  TRY (read_patching (g, a, error));
  if (strata_h5_exists (g, "circuit"))
    TRY ((a->circuit = read_circuit (g, error)));
  if (strata_h5_exists (g, "attention"))
    TRY ((a->attention = read_attention (g, error)));
  return TRUE;
}

static gboolean
read_view (hid_t file, StrataViewState *v, GError **error)
{
  g_auto (StrataH5Group) g = strata_h5_group_open (file, "view", error);
  TRY (g >= 0);
  int e;
  TRY (_strata_session_get_enum (g, "figure", &strata_checkpoint_figure_table, &e, error));
  v->figure = (StrataFigureKind) e;
  if (strata_h5_has_attr (g, "series_figure")) { /* format 1.2 */
    TRY (_strata_session_get_enum (g, "series_figure", &strata_figure_kind_table, &e, error));
    if (!STRATA_FIGURE_IS_SERIES (e)) {
      g_autofree char *what = strata_h5_describe (g, "series_figure");
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "attribute '%s' names '%s', not a series figure",
                   what, strata_figure_kind_to_string (e));
      return FALSE;
    }
    v->figure = (StrataFigureKind) e;
  }
  if (strata_h5_has_attr (g, "checkpoint_figure")) { /* format 1.4 */
    TRY (_strata_session_get_enum (g, "checkpoint_figure", &strata_checkpoint_figure_table, &e, error));
    v->figure = (StrataFigureKind) e;
  }
  v->trace = (StrataTraceOptions) { 1, FALSE };
  if (strata_h5_has_attr (g, "trace_topk"))
    TRY (get_int (g, "trace_topk", 1, G_MAXINT32, &v->trace.topk, error));
  if (strata_h5_has_attr (g, "trace_anywhere"))
    TRY (get_bool (g, "trace_anywhere", &v->trace.anywhere, error));
  v->range_first = v->range_count = 0; /* format 1.5; before, the whole sequence */
  if (strata_h5_has_attr (g, "range_count")) {
    TRY (get_int (g, "range_first", 0, G_MAXINT32, &v->range_first, error));
    TRY (get_int (g, "range_count", 1, G_MAXINT32, &v->range_count, error));
  }
  v->run = v->checkpoint = -1;
  if (strata_h5_has_attr (g, "run"))
    TRY (get_int (g, "run", -1, MAX_COUNT, &v->run, error));
  if (strata_h5_has_attr (g, "checkpoint"))
    TRY (get_int (g, "checkpoint", -1, MAX_COUNT, &v->checkpoint, error));
  TRY (get_int (g, "analysis", G_MININT32, G_MAXINT32, &v->analysis, error));
  TRY (get_int (g, "prompt", G_MININT32, G_MAXINT32, &v->prompt, error));
  TRY (get_int (g, "layer", G_MININT32, G_MAXINT32, &v->layer, error));
  TRY (get_int (g, "position", G_MININT32, G_MAXINT32, &v->position, error));
  TRY (get_int (g, "head", G_MININT32, G_MAXINT32, &v->head, error));
  if (strata_h5_has_attr (g, "target"))
    TRY ((v->target = strata_h5_get_string_attr (g, "target", error)));
  if (strata_h5_has_attr (g, "tag"))
    TRY ((v->tag = strata_h5_get_string_attr (g, "tag", error)));
  TRY (_strata_session_get_enum (g, "patch_site", &strata_patch_site_table, &e, error));
  v->patch_site = (StrataPatchSite) e;
  TRY (_strata_session_get_enum (g, "curve", &strata_curve_quantity_table, &e, error));
  v->curve = (StrataCurveQuantity) e;
  TRY (get_bool (g, "log_color", &v->log_color, error));
  TRY (get_bool (g, "compare", &v->compare, error));
  return TRUE;
}

/* ---- series (format 1.2) ---- */

static GPtrArray *
read_accuracy (hid_t parent, GError **error)
{
  g_auto (StrataH5Group) g = strata_h5_group_open (parent, "accuracy", error);
  if (g < 0)
    return NULL;
  gsize n;
  g_auto (GStrv) tags = strata_h5_read_strings (g, "tag", -1, &n, error);
  if (!tags)
    return NULL;
  if (n > MAX_COUNT) {
    g_autofree char *what = strata_h5_describe (g, "tag");
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "dataset '%s' is too large", what);
    return NULL;
  }
  g_auto (GStrv) targets = strata_h5_read_strings (g, "target", (gssize) n, NULL, error);
  if (!targets)
    return NULL;
  hsize_t d[1] = { n };
  g_autofree int32_t *count = strata_h5_read_array (g, "n", STRATA_H5_I32, 1, d, error);
  if (!count)
    return NULL;
  g_autofree int32_t *correct = strata_h5_read_array (g, "correct", STRATA_H5_I32, 1, d, error);
  if (!correct)
    return NULL;
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_series_accuracy_free);
  for (gsize i = 0; i < n; i++) {
    if (count[i] < 0 || correct[i] < 0 || correct[i] > count[i]) {
      g_autofree char *what = strata_h5_describe (g, "correct");
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "'%s'[%" G_GSIZE_FORMAT "] is %d of %d prompts; expected 0 <= correct <= n", what, i, correct[i],
                   count[i]);
      return NULL;
    }
    StrataSeriesAccuracy *a = g_new0 (StrataSeriesAccuracy, 1);
    /* Copied, not stolen: a NULL left in a GStrv would end g_strfreev there, and a later
     * row's error would leak the rest. */
    a->tag = g_strdup (tags[i]);
    a->target = g_strdup (targets[i]);
    a->n = count[i];
    a->correct = correct[i];
    g_ptr_array_add (out, a);
  }
  return g_steal_pointer (&out);
}

static gboolean
read_checkpoint (hid_t g, StrataSeriesCheckpoint *cp, GError **error)
{
  TRY ((cp->path = strata_h5_get_string_attr (g, "path", error)));
  TRY ((cp->label = strata_h5_get_string_attr (g, "label", error)));
  TRY (strata_h5_get_int_attr (g, "step", G_MININT64, G_MAXINT64, &cp->step, error));
  gboolean done;
  TRY (get_bool (g, "done", &done, error));
  if (!done)
    return TRUE;
  TRY (read_model (g, &cp->model, error));
  cp->lens_aggregates = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_lens_aggregate_free);
  TRY (read_collection (g, "lens_aggregates", cp->lens_aggregates, new_zeroed_aggregate,
                        (ReadElement) read_lens_aggregate, error));
  TRY ((cp->accuracy = read_accuracy (g, error)));
  if (strata_h5_exists (g, "patch_aggregates")) {
    cp->patch_aggregates = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_patch_aggregate_free);
    TRY (read_collection (g, "patch_aggregates", cp->patch_aggregates, new_patch_aggregate,
                          (ReadElement) read_patch_aggregate, error));
  }
  strata_series_checkpoint_set_done (cp);
  return TRUE;
}

static gpointer
new_checkpoint (void)
{
  return strata_series_checkpoint_new (NULL, NULL, 0);
}

static gboolean
read_training_run (hid_t g, StrataTrainingRun *run, GError **error)
{
  TRY ((run->name = strata_h5_get_string_attr (g, "name", error)));
  TRY ((run->path = strata_h5_get_string_attr (g, "path", error)));
  return read_collection (g, "checkpoints", run->checkpoints, new_checkpoint, (ReadElement) read_checkpoint, error);
}

static gpointer
new_training_run (void)
{
  return strata_training_run_new (NULL, NULL);
}

static gboolean
read_series_patch (hid_t g, StrataSeries *s, GError **error)
{
  int e;
  TRY (_strata_session_get_enum (g, "patch_direction", &strata_patch_direction_table, &e, error));
  s->patch_direction = (StrataPatchDirection) e;
  TRY (_strata_session_get_enum (g, "patch_metric", &strata_patch_metric_table, &e, error));
  s->patch_metric = (StrataPatchMetric) e;
  TRY (get_int (g, "patch_head_pos", -1, MAX_TOKENS, &s->patch_head_pos, error));
  if (strata_h5_has_attr (g, "patch_target"))
    TRY ((s->patch_target = strata_h5_get_string_attr (g, "patch_target", error)));
  gsize n;
  g_auto (GStrv) sites = strata_h5_read_strings (g, "patch_sites", -1, &n, error);
  TRY (sites != NULL);
  s->patch_sites = g_array_new (FALSE, FALSE, sizeof (StrataPatchSite));
  for (gsize i = 0; i < n; i++) {
    StrataPatchSite site;
    if (!strata_patch_site_from_string (sites[i], &site)) {
      g_autofree char *what = strata_h5_describe (g, "patch_sites");
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "'%s'[%" G_GSIZE_FORMAT "] is '%s', not a known %s", what, i, sites[i], strata_patch_site_table.what);
      return FALSE;
    }
    g_array_append_val (s->patch_sites, site);
  }
  return TRUE;
}

static StrataSeries *
read_series (hid_t file, GError **error)
{
  g_auto (StrataH5Group) g = strata_h5_group_open (file, "series", error);
  if (g < 0)
    return NULL;
  g_autoptr (StrataSeries) s = strata_series_new ();
  if (!(s->tokenizer_sha256 = strata_h5_get_string_attr (g, "tokenizer_sha256", error))
      || !get_bool (g, "raw", &s->raw, error) || !strata_h5_get_double_attr (g, "threshold", &s->threshold, error)
      || !get_bool (g, "has_patch", &s->has_patch, error))
    return NULL;
  if (strata_h5_has_attr (g, "answer_target")
      && !(s->answer_target = strata_h5_get_string_attr (g, "answer_target", error)))
    return NULL;
  if (strata_h5_has_attr (g, "answer_position")
      && !(s->answer_position = strata_h5_get_string_attr (g, "answer_position", error)))
    return NULL;
  if (s->has_patch && !read_series_patch (g, s, error))
    return NULL;
  if (strata_h5_exists (g, "prompts") && !(s->prompts = read_prompts (g, error)))
    return NULL;
  if (!read_collection (g, "runs", s->runs, new_training_run, (ReadElement) read_training_run, error))
    return NULL;
  return g_steal_pointer (&s);
}

static gpointer
new_analysis (void)
{
  StrataAnalysis *a = g_new0 (StrataAnalysis, 1);
  a->lens_results = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_lens_result_free);
  a->lens_aggregates = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_lens_aggregate_free);
  a->patch_results = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_patch_result_free);
  a->patch_aggregates = g_ptr_array_new_with_free_func ((GDestroyNotify) strata_patch_aggregate_free);
  return a;
}

gboolean
_strata_session_read_body (hid_t file, StrataSession *s, GError **error)
{
  TRY (read_collection (file, "analyses", s->analyses, new_analysis, (ReadElement) read_analysis, error));
  if (strata_h5_exists (file, "series")) /* format 1.2 */
    TRY ((s->series = read_series (file, error)));
  return read_view (file, &s->view, error);
}
