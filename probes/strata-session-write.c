/* strata-session-write.c: a StrataSession written into an open HDF5 file, group by group, as
 * documented in docs/session-format.md. Atomicity is strata-session.c's business. */
#include "strata-session-private.h"

#define TRY(expr)                                                                          \
  G_STMT_START {                                                                           \
    if (!(expr))                                                                           \
      return FALSE;                                                                        \
  } G_STMT_END

G_STATIC_ASSERT (sizeof (int) == sizeof (int32_t));

static gboolean
set_bool (hid_t loc, const char *name, gboolean v, GError **error)
{
  return strata_h5_set_int_attr (loc, name, v ? 1 : 0, error);
}

static gboolean
write_i32 (hid_t loc, const char *name, const void *data, gsize n, GError **error)
{
  hsize_t dims[1] = { n };
  return strata_h5_write_array (loc, name, STRATA_H5_I32, 1, dims, data, error);
}

static gboolean
write_garray_i32 (hid_t loc, const char *name, const GArray *a, GError **error)
{
  g_return_val_if_fail (a == NULL || g_array_get_element_size ((GArray *) a) == sizeof (int32_t), FALSE);
  return write_i32 (loc, name, a ? a->data : NULL, a ? a->len : 0, error);
}

static gboolean
write_f64 (hid_t loc, const char *name, const double *data, int rank, const hsize_t *dims,
           GError **error)
{
  return strata_h5_write_array (loc, name, STRATA_H5_F64, rank, dims, data, error);
}

static StrataH5Group
collection_member (hid_t coll, guint i, GError **error)
{
  char name[16];
  g_snprintf (name, sizeof name, STRATA_SESSION_INDEX_FORMAT, i);
  return strata_h5_group_create (coll, name, error);
}

/* A group with a `count` attribute. */
static StrataH5Group
collection_create (hid_t loc, const char *name, guint count, GError **error)
{
  g_auto (StrataH5Group) g = strata_h5_group_create (loc, name, error);
  if (g < 0 || !strata_h5_set_int_attr (g, "count", count, error))
    return H5I_INVALID_HID;
  return strata_h5_steal (&g);
}

/* ---- model ---- */

static gboolean
write_model (hid_t parent, const StrataModelRef *m, GError **error)
{
  g_auto (StrataH5Group) g = strata_h5_group_create (parent, "model", error);
  TRY (g >= 0);
  TRY (strata_h5_set_string_attr (g, "path", m->path, error));
  TRY (strata_h5_set_string_attr (g, "name", m->name, error));
  TRY (strata_h5_set_string_attr (g, "arch", m->arch, error));
  TRY (strata_h5_set_string_attr (g, "format", m->format, error));
  TRY (strata_h5_set_string_attr (g, "dtype", m->dtype, error));
  TRY (strata_h5_set_string_attr (g, "weights_sha256", m->weights_sha256, error));
  TRY (strata_h5_set_string_attr (g, "tokenizer_sha256", m->tokenizer_sha256, error));
  TRY (set_bool (g, "add_bos", m->add_bos, error));
  TRY (strata_h5_set_string_attr (g, "device", m->device ? m->device : "", error)); /* 1.3 */

  const StrataConfig *c = &m->config;
  g_auto (StrataH5Group) cg = strata_h5_group_create (g, "config", error);
  TRY (cg >= 0);
  TRY (_strata_session_set_enum (cg, "family", &strata_family_table, c->family, error));
  TRY (strata_h5_set_int_attr (cg, "n_layers", c->n_layers, error));
  TRY (strata_h5_set_int_attr (cg, "d_model", c->d_model, error));
  TRY (strata_h5_set_int_attr (cg, "n_heads", c->n_heads, error));
  TRY (strata_h5_set_int_attr (cg, "n_kv_heads", c->n_kv_heads, error));
  TRY (strata_h5_set_int_attr (cg, "d_head", c->d_head, error));
  TRY (strata_h5_set_int_attr (cg, "d_mlp", c->d_mlp, error));
  TRY (strata_h5_set_int_attr (cg, "vocab", c->vocab, error));
  TRY (strata_h5_set_int_attr (cg, "n_ctx", c->n_ctx, error));
  TRY (strata_h5_set_float_attr (cg, "norm_eps", c->recipe.norm.eps, error));
  TRY (_strata_session_set_enum (cg, "rope", &strata_rope_table, c->recipe.rope.pairing, error));
  TRY (strata_h5_set_float_attr (cg, "rope_theta", c->recipe.rope.theta, error));
  return TRUE;
}

/* ---- prompts ---- */

static gboolean
write_prompt (hid_t g, const StrataPrompt *p, GError **error)
{
  if (p->text != NULL)
    TRY (strata_h5_set_string_attr (g, "text", p->text, error));
  TRY (strata_h5_set_int_attr (g, "contrast", p->contrast, error));
  if (p->n_generated > 0)
    TRY (strata_h5_set_int_attr (g, "n_generated", p->n_generated, error));
  TRY (write_garray_i32 (g, "ids", p->ids, error));
  if (p->corrupt_ids != NULL)
    TRY (write_garray_i32 (g, "corrupt_ids", p->corrupt_ids, error));

  guint nt = p->targets ? p->targets->len : 0;
  g_autofree const char **names = g_new0 (const char *, nt + 1);
  g_autofree int32_t *ids = g_new0 (int32_t, nt + 1);
  for (guint i = 0; i < nt; i++) {
    const StrataTarget *t = &g_array_index (p->targets, StrataTarget, i);
    names[i] = t->name;
    ids[i] = t->id;
  }
  TRY (strata_h5_write_strings (g, "target_names", names, nt, error));
  TRY (write_i32 (g, "target_ids", ids, nt, error));

  guint np = p->positions ? p->positions->len : 0;
  g_autofree const char **pnames = g_new0 (const char *, np + 1);
  g_autofree int32_t *pidx = g_new0 (int32_t, np + 1);
  for (guint i = 0; i < np; i++) {
    const StrataPosition *pos = &g_array_index (p->positions, StrataPosition, i);
    pnames[i] = pos->name;
    pidx[i] = pos->index;
  }
  TRY (strata_h5_write_strings (g, "position_names", pnames, np, error));
  TRY (write_i32 (g, "position_indices", pidx, np, error));

  guint ntags = p->tags ? g_strv_length (p->tags) : 0;
  TRY (strata_h5_write_strings (g, "tags", (const char *const *) p->tags, ntags, error));
  return TRUE;
}

static gboolean
write_prompts (hid_t parent, const StrataPromptSet *set, GError **error)
{
  g_auto (StrataH5Group) g = collection_create (parent, "prompts", set->prompts->len, error);
  TRY (g >= 0);
  TRY (strata_h5_set_string_attr (g, "source", set->source, error));
  for (guint i = 0; i < set->prompts->len; i++) {
    g_auto (StrataH5Group) pg = collection_member (g, i, error);
    TRY (pg >= 0);
    TRY (write_prompt (pg, g_ptr_array_index (set->prompts, i), error));
  }
  return TRUE;
}

/* ---- lens ---- */

static gboolean
write_lens_target (hid_t g, const StrataLensResult *r, const StrataLensTarget *t, GError **error)
{
  hsize_t lt[2] = { (hsize_t) r->n_layers + 1, (hsize_t) r->T };
  hsize_t t1[1] = { (hsize_t) r->T };
  TRY (strata_h5_set_string_attr (g, "name", t->name, error));
  TRY (strata_h5_set_int_attr (g, "id", t->id, error));
  TRY (strata_h5_write_array (g, "prob", STRATA_H5_F32, 2, lt, t->prob, error));
  TRY (strata_h5_write_array (g, "logprob", STRATA_H5_F32, 2, lt, t->logprob, error));
  TRY (strata_h5_write_array (g, "logit", STRATA_H5_F32, 2, lt, t->logit, error));
  TRY (strata_h5_write_array (g, "rank", STRATA_H5_I32, 2, lt, t->rank, error));
  if (t->cand_rank != NULL)
    TRY (strata_h5_write_array (g, "cand_rank", STRATA_H5_I32, 2, lt, t->cand_rank, error));
  TRY (strata_h5_write_array (g, "resolution", STRATA_H5_I32, 1, t1, t->resolution, error));
  TRY (strata_h5_write_array (g, "resolution_threshold", STRATA_H5_I32, 1, t1,
                              t->resolution_threshold, error));
  return TRUE;
}

static gboolean
write_lens_result (hid_t g, const StrataLensResult *r, GError **error)
{
  TRY (strata_h5_set_int_attr (g, "n_layers", r->n_layers, error));
  TRY (strata_h5_set_int_attr (g, "T", r->T, error));
  TRY (strata_h5_set_int_attr (g, "topk", r->topk, error));
  TRY (strata_h5_set_int_attr (g, "vocab", r->vocab, error));
  TRY (set_bool (g, "raw", r->raw, error));
  TRY (strata_h5_set_double_attr (g, "threshold", r->threshold, error));
  TRY (write_garray_i32 (g, "ids", r->ids, error));
  guint np = r->pieces ? r->pieces->len : 0;
  TRY (strata_h5_write_strings (g, "pieces", np ? (const char *const *) r->pieces->pdata : NULL,
                                np, error));
  hsize_t ltk[3] = { (hsize_t) r->n_layers + 1, (hsize_t) r->T, (hsize_t) r->topk };
  TRY (strata_h5_write_array (g, "topk_ids", STRATA_H5_I32, 3, ltk, r->topk_ids, error));
  TRY (strata_h5_write_array (g, "topk_prob", STRATA_H5_F32, 3, ltk, r->topk_prob, error));
  TRY (strata_h5_write_array (g, "topk_logit", STRATA_H5_F32, 3, ltk, r->topk_logit, error));
  if (r->token_ids && r->token_pieces) { /* format 1.1 */
    g_return_val_if_fail (r->token_ids->len == r->token_pieces->len, FALSE);
    TRY (write_garray_i32 (g, "token_ids", r->token_ids, error));
    TRY (strata_h5_write_strings (g, "token_pieces", (const char *const *) r->token_pieces->pdata,
                                  r->token_pieces->len, error));
  }

  guint nt = r->targets ? r->targets->len : 0;
  g_auto (StrataH5Group) tg = collection_create (g, "targets", nt, error);
  TRY (tg >= 0);
  for (guint i = 0; i < nt; i++) {
    g_auto (StrataH5Group) mg = collection_member (tg, i, error);
    TRY (mg >= 0);
    TRY (write_lens_target (mg, r, g_ptr_array_index (r->targets, i), error));
  }
  return TRUE;
}

static gboolean
write_lens_aggregate (hid_t g, const StrataLensAggregate *a, GError **error)
{
  TRY (strata_h5_set_string_attr (g, "tag", a->tag, error));
  TRY (strata_h5_set_string_attr (g, "target", a->target, error));
  TRY (strata_h5_set_string_attr (g, "position", a->position, error));
  TRY (strata_h5_set_int_attr (g, "n_prompts", a->n_prompts, error));
  TRY (strata_h5_set_int_attr (g, "n_layers", a->n_layers, error));
  TRY (strata_h5_set_int_attr (g, "resolution_layer", a->resolution_layer, error));
  hsize_t l1[1] = { (hsize_t) a->n_layers + 1 };
  hsize_t l2[1] = { (hsize_t) a->n_layers + 2 };
  TRY (write_f64 (g, "mrr", a->mrr, 1, l1, error));
  TRY (write_f64 (g, "mean_prob", a->mean_prob, 1, l1, error));
  TRY (write_f64 (g, "top1", a->top1, 1, l1, error));
  TRY (strata_h5_write_array (g, "resolution_counts", STRATA_H5_I32, 1, l2, a->resolution_counts, error));
  return TRUE;
}

static gboolean
write_lens (hid_t parent, const StrataAnalysis *a, GError **error)
{
  g_auto (StrataH5Group) g = strata_h5_group_create (parent, "lens", error);
  TRY (g >= 0);
  TRY (set_bool (g, "has_lens", a->has_lens, error));
  TRY (strata_h5_set_int_attr (g, "topk", a->lens_options.topk, error));
  TRY (set_bool (g, "raw", a->lens_options.raw, error));
  TRY (strata_h5_set_double_attr (g, "threshold", a->lens_options.threshold, error));
  if (a->lens_candidates != NULL)
    TRY (write_garray_i32 (g, "candidates", a->lens_candidates, error));
  else if (a->lens_options.candidates != NULL)
    TRY (write_i32 (g, "candidates", a->lens_options.candidates,
                    (gsize) MAX (a->lens_options.n_candidates, 0), error));

  guint nr = a->lens_results ? a->lens_results->len : 0;
  g_auto (StrataH5Group) rg = collection_create (g, "results", nr, error);
  TRY (rg >= 0);
  for (guint i = 0; i < nr; i++) {
    g_auto (StrataH5Group) mg = collection_member (rg, i, error);
    TRY (mg >= 0);
    TRY (write_lens_result (mg, g_ptr_array_index (a->lens_results, i), error));
  }
  guint na = a->lens_aggregates ? a->lens_aggregates->len : 0;
  g_auto (StrataH5Group) ag = collection_create (g, "aggregates", na, error);
  TRY (ag >= 0);
  for (guint i = 0; i < na; i++) {
    g_auto (StrataH5Group) mg = collection_member (ag, i, error);
    TRY (mg >= 0);
    TRY (write_lens_aggregate (mg, g_ptr_array_index (a->lens_aggregates, i), error));
  }
  return TRUE;
}

/* ---- patching ---- */

static gboolean
write_patch_map (hid_t g, const StrataPatchMap *m, GError **error)
{
  TRY (_strata_session_set_enum (g, "site", &strata_patch_site_table, m->site, error));
  TRY (strata_h5_set_int_attr (g, "rows", m->rows, error));
  TRY (strata_h5_set_int_attr (g, "cols", m->cols, error));
  TRY (strata_h5_set_int_attr (g, "head_pos", m->head_pos, error));
  hsize_t rc[2] = { (hsize_t) m->rows, (hsize_t) m->cols };
  TRY (write_f64 (g, "metric", m->metric, 2, rc, error));
  TRY (write_f64 (g, "score", m->score, 2, rc, error));
  return TRUE;
}

static gboolean
write_patch_result (hid_t g, const StrataPatchResult *r, GError **error)
{
  TRY (_strata_session_set_enum (g, "method", &strata_patch_method_table, r->method, error)); /* 1.4 */
  TRY (_strata_session_set_enum (g, "direction", &strata_patch_direction_table, r->direction, error));
  TRY (_strata_session_set_enum (g, "metric", &strata_patch_metric_table, r->metric, error));
  TRY (strata_h5_set_string_attr (g, "target_name", r->target_name, error));
  TRY (strata_h5_set_int_attr (g, "target", r->target, error));
  TRY (strata_h5_set_int_attr (g, "contrast", r->contrast, error));
  TRY (strata_h5_set_int_attr (g, "answer_pos", r->answer_pos, error));
  TRY (strata_h5_set_double_attr (g, "baseline_clean", r->baseline_clean, error));
  TRY (strata_h5_set_double_attr (g, "baseline_corrupt", r->baseline_corrupt, error));
  TRY (set_bool (g, "small_gap", r->small_gap, error));
  TRY (write_garray_i32 (g, "clean_ids", r->clean_ids, error));
  TRY (write_garray_i32 (g, "corrupt_ids", r->corrupt_ids, error));
  guint nm = r->maps ? r->maps->len : 0;
  g_auto (StrataH5Group) mg = collection_create (g, "maps", nm, error);
  TRY (mg >= 0);
  for (guint i = 0; i < nm; i++) {
    g_auto (StrataH5Group) m = collection_member (mg, i, error);
    TRY (m >= 0);
    TRY (write_patch_map (m, g_ptr_array_index (r->maps, i), error));
  }
  return TRUE;
}

static gboolean
write_patch_aggregate (hid_t g, const StrataPatchAggregate *a, GError **error)
{
  TRY (strata_h5_set_string_attr (g, "tag", a->tag, error));
  TRY (strata_h5_set_int_attr (g, "n_prompts", a->n_prompts, error));
  TRY (_strata_session_set_enum (g, "site", &strata_patch_site_table, a->site, error));
  TRY (strata_h5_set_int_attr (g, "rows", a->rows, error));
  TRY (strata_h5_set_int_attr (g, "cols", a->cols, error));
  hsize_t rc[2] = { (hsize_t) a->rows, (hsize_t) a->cols };
  TRY (write_f64 (g, "mean_score", a->mean_score, 2, rc, error));
  TRY (write_f64 (g, "mean_metric", a->mean_metric, 2, rc, error));
  return TRUE;
}

static gboolean
write_patching (hid_t parent, const StrataAnalysis *a, GError **error)
{
  g_auto (StrataH5Group) g = strata_h5_group_create (parent, "patching", error);
  TRY (g >= 0);
  guint nr = a->patch_results ? a->patch_results->len : 0;
  g_auto (StrataH5Group) rg = collection_create (g, "results", nr, error);
  TRY (rg >= 0);
  for (guint i = 0; i < nr; i++) {
    g_auto (StrataH5Group) mg = collection_member (rg, i, error);
    TRY (mg >= 0);
    TRY (write_patch_result (mg, g_ptr_array_index (a->patch_results, i), error));
  }
  guint na = a->patch_aggregates ? a->patch_aggregates->len : 0;
  g_auto (StrataH5Group) ag = collection_create (g, "aggregates", na, error);
  TRY (ag >= 0);
  for (guint i = 0; i < na; i++) {
    g_auto (StrataH5Group) mg = collection_member (ag, i, error);
    TRY (mg >= 0);
    TRY (write_patch_aggregate (mg, g_ptr_array_index (a->patch_aggregates, i), error));
  }
  return TRUE;
}

/* ---- circuit and attention ---- */

static gboolean
write_circuit (hid_t parent, const StrataCircuit *c, GError **error)
{
  g_auto (StrataH5Group) g = strata_h5_group_create (parent, "circuit", error);
  TRY (g >= 0);
  TRY (strata_h5_set_int_attr (g, "n_layers", c->n_layers, error));
  TRY (strata_h5_set_int_attr (g, "T", c->T, error));
  TRY (strata_h5_set_double_attr (g, "threshold", c->threshold, error));
  TRY (strata_h5_set_string_attr (g, "target_name", c->target_name, error));

  /* Parallel arrays rather than a compound type: plain columns read anywhere. */
  guint n = c->nodes ? c->nodes->len : 0;
  g_autofree const char **kind = g_new0 (const char *, n + 1);
  g_autofree int32_t *layer = g_new0 (int32_t, n + 1);
  g_autofree int32_t *pos = g_new0 (int32_t, n + 1);
  g_autofree int32_t *head = g_new0 (int32_t, n + 1);
  g_autofree int32_t *decodes = g_new0 (int32_t, n + 1);
  g_autofree double *effect = g_new0 (double, n + 1);
  g_autofree double *lens_prob = g_new0 (double, n + 1);
  for (guint i = 0; i < n; i++) {
    const StrataCircuitNode *node = &g_array_index (c->nodes, StrataCircuitNode, i);
    if ((int) node->kind < 0 || (int) node->kind >= strata_node_kind_table.n) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "circuit node %u has an unknown kind %d", i, (int) node->kind);
      return FALSE;
    }
    kind[i] = strata_enum_to_string (&strata_node_kind_table, node->kind);
    layer[i] = node->layer;
    pos[i] = node->pos;
    head[i] = node->head;
    decodes[i] = node->decodes ? 1 : 0;
    effect[i] = node->effect;
    lens_prob[i] = node->lens_prob;
  }
  hsize_t nd[1] = { n };
  TRY (strata_h5_write_strings (g, "node_kind", kind, n, error));
  TRY (write_i32 (g, "node_layer", layer, n, error));
  TRY (write_i32 (g, "node_pos", pos, n, error));
  TRY (write_i32 (g, "node_head", head, n, error));
  TRY (write_f64 (g, "node_effect", effect, 1, nd, error));
  TRY (write_f64 (g, "node_lens_prob", lens_prob, 1, nd, error));
  TRY (write_i32 (g, "node_decodes", decodes, n, error));

  guint ne = c->edges ? c->edges->len : 0;
  g_autofree int32_t *from = g_new0 (int32_t, ne + 1);
  g_autofree int32_t *to = g_new0 (int32_t, ne + 1);
  g_autofree double *weight = g_new0 (double, ne + 1);
  for (guint i = 0; i < ne; i++) {
    const StrataCircuitEdge *e = &g_array_index (c->edges, StrataCircuitEdge, i);
    from[i] = e->from;
    to[i] = e->to;
    weight[i] = e->weight;
  }
  hsize_t ed[1] = { ne };
  TRY (write_i32 (g, "edge_from", from, ne, error));
  TRY (write_i32 (g, "edge_to", to, ne, error));
  TRY (write_f64 (g, "edge_weight", weight, 1, ed, error));
  return TRUE;
}

static gboolean
write_attention (hid_t parent, const StrataAttention *att, GError **error)
{
  g_auto (StrataH5Group) g = strata_h5_group_create (parent, "attention", error);
  TRY (g >= 0);
  TRY (strata_h5_set_int_attr (g, "n_layers", att->n_layers, error));
  TRY (strata_h5_set_int_attr (g, "n_heads", att->n_heads, error));
  TRY (strata_h5_set_int_attr (g, "T", att->T, error));
  hsize_t dims[4] = { (hsize_t) att->n_layers, (hsize_t) att->n_heads, (hsize_t) att->T,
                      (hsize_t) att->T };
  return strata_h5_write_array (g, "pattern", STRATA_H5_F32, 4, dims, att->pattern, error);
}

/* ---- analysis, view, body ---- */

static gboolean
write_analysis (hid_t g, const StrataAnalysis *a, GError **error)
{
  TRY (write_model (g, &a->model, error));
  if (a->prompts != NULL)
    TRY (write_prompts (g, a->prompts, error));
  TRY (write_lens (g, a, error));
  TRY (write_patching (g, a, error));
  if (a->circuit != NULL)
    TRY (write_circuit (g, a->circuit, error));
  if (a->attention != NULL)
    TRY (write_attention (g, a->attention, error));
  return TRUE;
}

/* ---- series (format 1.2) ---- */

static gboolean
write_accuracy (hid_t parent, GPtrArray *acc, GError **error)
{
  g_auto (StrataH5Group) g = strata_h5_group_create (parent, "accuracy", error);
  TRY (g >= 0);
  guint n = acc ? acc->len : 0;
  g_autofree const char **tags = g_new0 (const char *, n + 1);
  g_autofree const char **targets = g_new0 (const char *, n + 1);
  g_autofree int32_t *count = g_new0 (int32_t, n + 1);
  g_autofree int32_t *correct = g_new0 (int32_t, n + 1);
  for (guint i = 0; i < n; i++) {
    const StrataSeriesAccuracy *a = acc->pdata[i];
    tags[i] = a->tag;
    targets[i] = a->target;
    count[i] = a->n;
    correct[i] = a->correct;
  }
  TRY (strata_h5_write_strings (g, "tag", tags, n, error));
  TRY (strata_h5_write_strings (g, "target", targets, n, error));
  TRY (write_i32 (g, "n", count, n, error));
  TRY (write_i32 (g, "correct", correct, n, error));
  return TRUE;
}

static gboolean
write_checkpoint (hid_t g, const StrataSeriesCheckpoint *cp, GError **error)
{
  gboolean done = strata_series_checkpoint_is_done (cp);
  TRY (strata_h5_set_string_attr (g, "path", cp->path, error));
  TRY (strata_h5_set_string_attr (g, "label", cp->label, error));
  TRY (strata_h5_set_int_attr (g, "step", cp->step, error));
  TRY (set_bool (g, "done", done, error));
  if (!done)
    return TRUE; /* not run yet: no results */
  TRY (write_model (g, &cp->model, error));
  guint na = cp->lens_aggregates ? cp->lens_aggregates->len : 0;
  g_auto (StrataH5Group) ag = collection_create (g, "lens_aggregates", na, error);
  TRY (ag >= 0);
  for (guint i = 0; i < na; i++) {
    g_auto (StrataH5Group) mg = collection_member (ag, i, error);
    TRY (mg >= 0);
    TRY (write_lens_aggregate (mg, cp->lens_aggregates->pdata[i], error));
  }
  TRY (write_accuracy (g, cp->accuracy, error));
  if (cp->patch_aggregates) {
    g_auto (StrataH5Group) pg = collection_create (g, "patch_aggregates", cp->patch_aggregates->len, error);
    TRY (pg >= 0);
    for (guint i = 0; i < cp->patch_aggregates->len; i++) {
      g_auto (StrataH5Group) mg = collection_member (pg, i, error);
      TRY (mg >= 0);
      TRY (write_patch_aggregate (mg, cp->patch_aggregates->pdata[i], error));
    }
  }
  return TRUE;
}

static gboolean
write_training_run (hid_t g, const StrataTrainingRun *run, GError **error)
{
  TRY (strata_h5_set_string_attr (g, "name", run->name, error));
  TRY (strata_h5_set_string_attr (g, "path", run->path, error));
  g_auto (StrataH5Group) cg = collection_create (g, "checkpoints", run->checkpoints->len, error);
  TRY (cg >= 0);
  for (guint i = 0; i < run->checkpoints->len; i++) {
    g_auto (StrataH5Group) mg = collection_member (cg, i, error);
    TRY (mg >= 0);
    TRY (write_checkpoint (mg, run->checkpoints->pdata[i], error));
  }
  return TRUE;
}

static gboolean
write_series (hid_t file, const StrataSeries *s, GError **error)
{
  g_auto (StrataH5Group) g = strata_h5_group_create (file, "series", error);
  TRY (g >= 0);
  TRY (strata_h5_set_string_attr (g, "tokenizer_sha256", s->tokenizer_sha256 ? s->tokenizer_sha256 : "", error));
  TRY (set_bool (g, "raw", s->raw, error));
  TRY (strata_h5_set_double_attr (g, "threshold", s->threshold, error));
  if (s->answer_target)
    TRY (strata_h5_set_string_attr (g, "answer_target", s->answer_target, error));
  if (s->answer_position)
    TRY (strata_h5_set_string_attr (g, "answer_position", s->answer_position, error));
  TRY (set_bool (g, "has_patch", s->has_patch, error));
  if (s->has_patch) {
    TRY (_strata_session_set_enum (g, "patch_direction", &strata_patch_direction_table, s->patch_direction, error));
    TRY (_strata_session_set_enum (g, "patch_metric", &strata_patch_metric_table, s->patch_metric, error));
    TRY (strata_h5_set_int_attr (g, "patch_head_pos", s->patch_head_pos, error));
    if (s->patch_target)
      TRY (strata_h5_set_string_attr (g, "patch_target", s->patch_target, error));
    guint n = s->patch_sites ? s->patch_sites->len : 0;
    g_autofree const char **sites = g_new0 (const char *, n + 1);
    for (guint i = 0; i < n; i++) {
      int site = g_array_index (s->patch_sites, StrataPatchSite, i);
      if (site < 0 || site >= strata_patch_site_table.n) {
        g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "series patching site %u is unknown (%d)", i,
                     site);
        return FALSE;
      }
      sites[i] = strata_patch_site_to_string (site);
    }
    TRY (strata_h5_write_strings (g, "patch_sites", sites, n, error));
  }
  if (s->prompts)
    TRY (write_prompts (g, s->prompts, error));
  g_auto (StrataH5Group) rg = collection_create (g, "runs", s->runs->len, error);
  TRY (rg >= 0);
  for (guint i = 0; i < s->runs->len; i++) {
    g_auto (StrataH5Group) mg = collection_member (rg, i, error);
    TRY (mg >= 0);
    TRY (write_training_run (mg, s->runs->pdata[i], error));
  }
  return TRUE;
}

static gboolean
write_view (hid_t file, const StrataViewState *v, GError **error)
{
  g_auto (StrataH5Group) g = strata_h5_group_create (file, "view", error);
  TRY (g >= 0);
  /* `figure` names a checkpoint figure, as every 1.x reader knows them; a series figure goes
   * to `series_figure` (1.2), the trace figure to `checkpoint_figure` (1.4), which older
   * readers ignore (they then show the lens). */
  if (STRATA_FIGURE_IS_SERIES (v->figure)) {
    TRY (_strata_session_set_enum (g, "figure", &strata_checkpoint_figure_table, STRATA_FIGURE_LENS_HEATMAP, error));
    TRY (_strata_session_set_enum (g, "series_figure", &strata_figure_kind_table, v->figure, error));
  } else if (v->figure == STRATA_FIGURE_TRACE) {
    TRY (_strata_session_set_enum (g, "figure", &strata_checkpoint_figure_table, STRATA_FIGURE_LENS_HEATMAP, error));
    TRY (_strata_session_set_enum (g, "checkpoint_figure", &strata_checkpoint_figure_table, v->figure, error));
  } else {
    TRY (_strata_session_set_enum (g, "figure", &strata_checkpoint_figure_table, v->figure, error));
  }
  TRY (strata_h5_set_int_attr (g, "run", v->run, error));
  TRY (strata_h5_set_int_attr (g, "checkpoint", v->checkpoint, error));
  TRY (strata_h5_set_int_attr (g, "analysis", v->analysis, error));
  TRY (strata_h5_set_int_attr (g, "prompt", v->prompt, error));
  TRY (strata_h5_set_int_attr (g, "layer", v->layer, error));
  TRY (strata_h5_set_int_attr (g, "position", v->position, error));
  TRY (strata_h5_set_int_attr (g, "head", v->head, error));
  if (v->target != NULL)
    TRY (strata_h5_set_string_attr (g, "target", v->target, error));
  if (v->tag != NULL)
    TRY (strata_h5_set_string_attr (g, "tag", v->tag, error));
  TRY (_strata_session_set_enum (g, "patch_site", &strata_patch_site_table, v->patch_site, error));
  TRY (_strata_session_set_enum (g, "curve", &strata_curve_quantity_table, v->curve, error));
  TRY (set_bool (g, "log_color", v->log_color, error));
  TRY (set_bool (g, "compare", v->compare, error));
  TRY (strata_h5_set_int_attr (g, "trace_topk", MAX (v->trace.topk, 1), error));
  TRY (set_bool (g, "trace_anywhere", v->trace.anywhere, error));
  if (v->range_count > 0) { /* 1.5: the positions the figures show */
    TRY (strata_h5_set_int_attr (g, "range_first", MAX (v->range_first, 0), error));
    TRY (strata_h5_set_int_attr (g, "range_count", v->range_count, error));
  }
  return TRUE;
}

gboolean
_strata_session_write_body (hid_t file, const StrataSession *s, GError **error)
{
  guint n = s->analyses ? s->analyses->len : 0;
  g_auto (StrataH5Group) g = collection_create (file, "analyses", n, error);
  TRY (g >= 0);
  for (guint i = 0; i < n; i++) {
    g_auto (StrataH5Group) ag = collection_member (g, i, error);
    TRY (ag >= 0);
    TRY (write_analysis (ag, g_ptr_array_index (s->analyses, i), error));
  }
  if (s->series)
    TRY (write_series (file, s->series, error));
  return write_view (file, &s->view, error);
}
