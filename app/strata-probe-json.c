/* strata-probe-json.c: the JSON that `strata lens` and `strata patch` write. The schema is
 * documented field by field in docs/probe-json.md; change both together. */
#include "strata-probe-json.h"

#include <math.h>

#include "strata-config.h"

#define MEMBER(b, name) json_builder_set_member_name ((b), (name))

static void
add_num (JsonBuilder *b, double v)
{
  if (isfinite (v))
    json_builder_add_double_value (b, v);
  else
    json_builder_add_null_value (b); /* JSON has no NaN or infinity */
}

static void
add_ids (JsonBuilder *b, const char *name, const GArray *ids)
{
  if (name)
    MEMBER (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; ids && i < ids->len; i++)
    json_builder_add_int_value (b, g_array_index (ids, int32_t, i));
  json_builder_end_array (b);
}

static void
add_pieces (JsonBuilder *b, const char *name, StrataModel *m, const GArray *ids)
{
  MEMBER (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; ids && i < ids->len; i++) {
    int32_t id = g_array_index (ids, int32_t, i);
    const char *piece = m->tokenizer ? strata_tokenizer_get_piece (m->tokenizer, id) : NULL;
    g_autofree char *fallback = g_strdup_printf ("#%d", id);
    json_builder_add_string_value (b, piece ? piece : fallback);
  }
  json_builder_end_array (b);
}

static const char *
piece_of (StrataModel *m, int32_t id, char *buf, gsize n)
{
  const char *piece = m->tokenizer ? strata_tokenizer_get_piece (m->tokenizer, id) : NULL;
  if (piece)
    return piece;
  g_snprintf (buf, n, "#%d", id);
  return buf;
}

void
strata_probe_json_header (JsonBuilder *b, const char *command, const StrataAnalysis *a)
{
  const StrataModelRef *r = &a->model;
  MEMBER (b, "strata_version"), json_builder_add_string_value (b, STRATA_VERSION);
  MEMBER (b, "command"), json_builder_add_string_value (b, command);
  MEMBER (b, "device"), json_builder_add_string_value (b, r->device && *r->device ? r->device : "unknown");
  MEMBER (b, "model");
  strata_probe_json_model (b, r);
  MEMBER (b, "prompt_source"), json_builder_add_string_value (b, a->prompts ? a->prompts->source : "");
}

void
strata_probe_json_model (JsonBuilder *b, const StrataModelRef *r)
{
  json_builder_begin_object (b);
  MEMBER (b, "path"), json_builder_add_string_value (b, r->path);
  MEMBER (b, "name"), json_builder_add_string_value (b, r->name);
  MEMBER (b, "architecture"), json_builder_add_string_value (b, r->arch);
  MEMBER (b, "format"), json_builder_add_string_value (b, r->format);
  MEMBER (b, "dtype"), json_builder_add_string_value (b, r->dtype);
  MEMBER (b, "weights_sha256"), json_builder_add_string_value (b, r->weights_sha256);
  MEMBER (b, "tokenizer_sha256"), json_builder_add_string_value (b, r->tokenizer_sha256);
  MEMBER (b, "layers"), json_builder_add_int_value (b, r->config.n_layers);
  MEMBER (b, "heads"), json_builder_add_int_value (b, r->config.n_heads);
  MEMBER (b, "vocab"), json_builder_add_int_value (b, r->config.vocab);
  MEMBER (b, "add_bos"), json_builder_add_boolean_value (b, r->add_bos);
  MEMBER (b, "device"), json_builder_add_string_value (b, r->device && *r->device ? r->device : "unknown");
  json_builder_end_object (b);
}

static void
add_prompt_common (JsonBuilder *b, StrataModel *m, const StrataPrompt *p)
{
  MEMBER (b, "text");
  if (p->text)
    json_builder_add_string_value (b, p->text);
  else
    json_builder_add_null_value (b);
  add_ids (b, "ids", p->ids);
  add_pieces (b, "pieces", m, p->ids);
  MEMBER (b, "generated"), json_builder_add_int_value (b, p->n_generated);
  MEMBER (b, "tags");
  json_builder_begin_array (b);
  json_builder_add_string_value (b, "all");
  for (int i = 0; p->tags[i]; i++)
    json_builder_add_string_value (b, p->tags[i]);
  json_builder_end_array (b);
  MEMBER (b, "positions");
  json_builder_begin_object (b);
  for (guint i = 0; i < p->positions->len; i++) {
    const StrataPosition *pos = &g_array_index (p->positions, StrataPosition, i);
    MEMBER (b, pos->name), json_builder_add_int_value (b, pos->index);
  }
  json_builder_end_object (b);
  MEMBER (b, "targets");
  json_builder_begin_object (b);
  for (guint i = 0; i < p->targets->len; i++) {
    const StrataTarget *t = &g_array_index (p->targets, StrataTarget, i);
    MEMBER (b, t->name), json_builder_add_int_value (b, t->id);
  }
  json_builder_end_object (b);
  MEMBER (b, "contrast");
  if (p->contrast >= 0)
    json_builder_add_int_value (b, p->contrast);
  else
    json_builder_add_null_value (b);
}

static void
add_layer_or_null (JsonBuilder *b, int32_t layer)
{
  if (layer >= 0)
    json_builder_add_int_value (b, layer);
  else
    json_builder_add_null_value (b);
}

/* resolution[NAME][POS] for the prompt's read positions (named) or every index. */
static void
add_resolution (JsonBuilder *b, const char *name, const StrataPrompt *p, const StrataLensResult *r,
                gboolean threshold)
{
  MEMBER (b, name);
  json_builder_begin_object (b);
  for (guint i = 0; i < r->targets->len; i++) {
    const StrataLensTarget *t = r->targets->pdata[i];
    const int32_t *res = threshold ? t->resolution_threshold : t->resolution;
    MEMBER (b, t->name);
    json_builder_begin_object (b);
    if (p->positions->len > 0) {
      for (guint q = 0; q < p->positions->len; q++) {
        const StrataPosition *pos = &g_array_index (p->positions, StrataPosition, q);
        MEMBER (b, pos->name), add_layer_or_null (b, res[pos->index]);
      }
    } else {
      for (int q = 0; q < r->T; q++) {
        char key[16];
        g_snprintf (key, sizeof key, "%d", q);
        MEMBER (b, key), add_layer_or_null (b, res[q]);
      }
    }
    json_builder_end_object (b);
  }
  json_builder_end_object (b);
}

static void
add_lens_grid (JsonBuilder *b, StrataModel *m, const StrataLensResult *r)
{
  char buf[32];
  MEMBER (b, "lens");
  json_builder_begin_array (b);
  for (int k = 0; k <= r->n_layers; k++) {
    json_builder_begin_array (b);
    for (int p = 0; p < r->T; p++) {
      size_t row = (size_t) k * r->T + p;
      json_builder_begin_object (b);
      MEMBER (b, "topk");
      json_builder_begin_array (b);
      for (int j = 0; j < r->topk; j++) {
        size_t at = row * r->topk + j;
        json_builder_begin_object (b);
        MEMBER (b, "id"), json_builder_add_int_value (b, r->topk_ids[at]);
        MEMBER (b, "piece"), json_builder_add_string_value (b, piece_of (m, r->topk_ids[at], buf, sizeof buf));
        MEMBER (b, "prob"), add_num (b, r->topk_prob[at]);
        MEMBER (b, "logit"), add_num (b, r->topk_logit[at]);
        json_builder_end_object (b);
      }
      json_builder_end_array (b);
      MEMBER (b, "targets");
      json_builder_begin_object (b);
      for (guint i = 0; i < r->targets->len; i++) {
        const StrataLensTarget *t = r->targets->pdata[i];
        MEMBER (b, t->name);
        json_builder_begin_object (b);
        MEMBER (b, "id"), json_builder_add_int_value (b, t->id);
        MEMBER (b, "prob"), add_num (b, t->prob[row]);
        MEMBER (b, "logprob"), add_num (b, t->logprob[row]);
        MEMBER (b, "logit"), add_num (b, t->logit[row]);
        MEMBER (b, "rank"), json_builder_add_int_value (b, t->rank[row]);
        if (t->cand_rank)
          MEMBER (b, "candidate_rank"), json_builder_add_int_value (b, t->cand_rank[row]);
        json_builder_end_object (b);
      }
      json_builder_end_object (b);
      json_builder_end_object (b);
    }
    json_builder_end_array (b);
  }
  json_builder_end_array (b);
}

/* trace_resolution: per target where the lens first holds it before the trace writes it
 * (probes/strata-trace-resolution.h). */
static void
add_trace_resolution (JsonBuilder *b, const StrataPrompt *p, const StrataLensResult *r, const StrataTraceOptions *o)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataTraceResolution) t = strata_trace_resolution_new (r, p->n_generated, o, &error);
  MEMBER (b, "trace_resolution");
  json_builder_begin_array (b);
  for (guint i = 0; t && i < t->targets->len; i++) {
    const StrataTraceTarget *tt = t->targets->pdata[i];
    json_builder_begin_object (b);
    MEMBER (b, "name"), json_builder_add_string_value (b, tt->name);
    MEMBER (b, "id"), json_builder_add_int_value (b, tt->id);
    MEMBER (b, "topk"), json_builder_add_int_value (b, t->topk);
    MEMBER (b, "written");
    json_builder_begin_array (b);
    for (guint j = 0; j < tt->written->len; j++)
      json_builder_add_int_value (b, g_array_index (tt->written, int, j));
    json_builder_end_array (b);
    MEMBER (b, "first");
    if (tt->first_position >= 0) {
      json_builder_begin_object (b);
      MEMBER (b, "layer"), json_builder_add_int_value (b, tt->first_layer);
      MEMBER (b, "position"), json_builder_add_int_value (b, tt->first_position);
      json_builder_end_object (b);
    } else {
      json_builder_add_null_value (b);
    }
    MEMBER (b, "written_at"), add_layer_or_null (b, tt->written_at);
    MEMBER (b, "tokens_ahead"), add_layer_or_null (b, tt->tokens_ahead);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

static void
add_doubles (JsonBuilder *b, const char *name, const double *v, int n)
{
  MEMBER (b, name);
  json_builder_begin_array (b);
  for (int i = 0; i < n; i++)
    add_num (b, v[i]);
  json_builder_end_array (b);
}

void
strata_probe_json_lens (JsonBuilder *b, StrataModel *m, const StrataAnalysis *a, gboolean per_prompt_grid,
                        const StrataTraceOptions *trace)
{
  const StrataLensOptions *o = &a->lens_options;
  MEMBER (b, "settings");
  json_builder_begin_object (b);
  MEMBER (b, "lens"), json_builder_add_string_value (b, o->raw ? "raw" : "logit");
  MEMBER (b, "topk"), json_builder_add_int_value (b, o->topk);
  MEMBER (b, "threshold"), add_num (b, o->threshold);
  MEMBER (b, "candidates");
  if (a->lens_candidates)
    add_ids (b, NULL, a->lens_candidates);
  else
    json_builder_add_null_value (b);
  if (trace) {
    MEMBER (b, "trace_topk"), json_builder_add_int_value (b, trace->topk);
    MEMBER (b, "trace_written"), json_builder_add_string_value (b, trace->anywhere ? "anywhere" : "generated");
  }
  json_builder_end_object (b);

  MEMBER (b, "prompts");
  json_builder_begin_array (b);
  for (guint i = 0; i < a->prompts->prompts->len; i++) {
    const StrataPrompt *p = a->prompts->prompts->pdata[i];
    const StrataLensResult *r = a->lens_results->pdata[i];
    json_builder_begin_object (b);
    add_prompt_common (b, m, p);
    if (per_prompt_grid)
      add_lens_grid (b, m, r);
    add_resolution (b, "resolution", p, r, FALSE);
    add_resolution (b, "resolution_threshold", p, r, TRUE);
    if (trace)
      add_trace_resolution (b, p, r, trace);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);

  MEMBER (b, "aggregate");
  strata_probe_json_lens_aggregates (b, a->lens_aggregates);
}

/* aggregate[TAG][NAME][POS]; the list is ordered tag, target, position. */
void
strata_probe_json_lens_aggregates (JsonBuilder *b, GPtrArray *aggregates)
{
  json_builder_begin_object (b);
  const char *tag = NULL, *target = NULL;
  for (guint i = 0; aggregates && i < aggregates->len; i++) {
    const StrataLensAggregate *ag = aggregates->pdata[i];
    if (!tag || g_strcmp0 (tag, ag->tag) != 0) {
      if (tag)
        json_builder_end_object (b), json_builder_end_object (b);
      MEMBER (b, ag->tag);
      json_builder_begin_object (b);
      tag = ag->tag, target = NULL;
    }
    if (!target || g_strcmp0 (target, ag->target) != 0) {
      if (target)
        json_builder_end_object (b);
      MEMBER (b, ag->target);
      json_builder_begin_object (b);
      target = ag->target;
    }
    MEMBER (b, ag->position);
    json_builder_begin_object (b);
    MEMBER (b, "n"), json_builder_add_int_value (b, ag->n_prompts);
    add_doubles (b, "mrr", ag->mrr, ag->n_layers + 1);
    add_doubles (b, "mean_prob", ag->mean_prob, ag->n_layers + 1);
    add_doubles (b, "top1", ag->top1, ag->n_layers + 1);
    MEMBER (b, "resolution_layer"), add_layer_or_null (b, ag->resolution_layer);
    MEMBER (b, "resolution_counts");
    json_builder_begin_array (b);
    for (int k = 0; k <= ag->n_layers + 1; k++)
      json_builder_add_int_value (b, ag->resolution_counts[k]);
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  if (tag)
    json_builder_end_object (b), json_builder_end_object (b);
  json_builder_end_object (b);
}

static void
add_grid (JsonBuilder *b, const char *name, const double *v, int rows, int cols)
{
  MEMBER (b, name);
  json_builder_begin_array (b);
  for (int r = 0; r < rows; r++) {
    json_builder_begin_array (b);
    for (int c = 0; c < cols; c++)
      add_num (b, v[r * cols + c]);
    json_builder_end_array (b);
  }
  json_builder_end_array (b);
}

static void
add_patch_fields (JsonBuilder *b, StrataModel *m, const StrataPatchResult *r)
{
  MEMBER (b, "method"), json_builder_add_string_value (b, strata_enum_to_string (&strata_patch_method_table, r->method));
  MEMBER (b, "target");
  json_builder_begin_object (b);
  MEMBER (b, "name"), json_builder_add_string_value (b, r->target_name);
  MEMBER (b, "id"), json_builder_add_int_value (b, r->target);
  json_builder_end_object (b);
  MEMBER (b, "contrast");
  if (r->contrast >= 0)
    json_builder_add_int_value (b, r->contrast);
  else
    json_builder_add_null_value (b);
  add_ids (b, "clean_ids", r->clean_ids);
  add_pieces (b, "clean_pieces", m, r->clean_ids);
  add_ids (b, "corrupt_ids", r->corrupt_ids);
  add_pieces (b, "corrupt_pieces", m, r->corrupt_ids);
  MEMBER (b, "answer_pos"), json_builder_add_int_value (b, r->answer_pos);
  MEMBER (b, "baseline");
  json_builder_begin_object (b);
  MEMBER (b, "clean"), add_num (b, r->baseline_clean);
  MEMBER (b, "corrupt"), add_num (b, r->baseline_corrupt);
  json_builder_end_object (b);
  MEMBER (b, "small_gap"), json_builder_add_boolean_value (b, r->small_gap);
  MEMBER (b, "sites");
  json_builder_begin_object (b);
  for (guint i = 0; i < r->maps->len; i++) {
    const StrataPatchMap *mp = r->maps->pdata[i];
    MEMBER (b, strata_patch_site_to_string (mp->site));
    json_builder_begin_object (b);
    gboolean heads = mp->site == STRATA_PATCH_HEAD || mp->site == STRATA_PATCH_HEAD_AT;
    MEMBER (b, "axes");
    json_builder_begin_array (b);
    json_builder_add_string_value (b, "layer");
    json_builder_add_string_value (b, heads ? "head" : "position");
    json_builder_end_array (b);
    MEMBER (b, "head_pos");
    if (mp->head_pos >= 0)
      json_builder_add_int_value (b, mp->head_pos);
    else
      json_builder_add_null_value (b);
    add_grid (b, "metric", mp->metric, mp->rows, mp->cols);
    add_grid (b, "score", mp->score, mp->rows, mp->cols);
    json_builder_end_object (b);
  }
  json_builder_end_object (b);
}

/* circuit: the graph the circuit view draws (probes/strata-circuit.h), or null. */
static void
add_circuit (JsonBuilder *b, const StrataCircuit *c)
{
  MEMBER (b, "circuit");
  if (!c) {
    json_builder_add_null_value (b);
    return;
  }
  json_builder_begin_object (b);
  MEMBER (b, "prompt"), json_builder_add_int_value (b, 0);
  MEMBER (b, "target"), json_builder_add_string_value (b, c->target_name);
  MEMBER (b, "threshold"), add_num (b, c->threshold);
  MEMBER (b, "layers"), json_builder_add_int_value (b, c->n_layers);
  MEMBER (b, "positions"), json_builder_add_int_value (b, c->T);
  MEMBER (b, "nodes");
  json_builder_begin_array (b);
  for (guint i = 0; i < c->nodes->len; i++) {
    const StrataCircuitNode *n = &g_array_index (c->nodes, StrataCircuitNode, i);
    json_builder_begin_object (b);
    MEMBER (b, "kind"), json_builder_add_string_value (b, strata_patch_site_to_string (strata_node_kind_get_site (n->kind)));
    MEMBER (b, "layer"), json_builder_add_int_value (b, n->layer);
    MEMBER (b, "pos"), add_layer_or_null (b, n->pos);
    MEMBER (b, "head"), add_layer_or_null (b, n->head);
    MEMBER (b, "effect"), add_num (b, n->effect);
    MEMBER (b, "lens_prob");
    if (n->lens_prob >= 0)
      add_num (b, n->lens_prob);
    else
      json_builder_add_null_value (b);
    MEMBER (b, "decodes"), json_builder_add_boolean_value (b, n->decodes);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  MEMBER (b, "edges");
  json_builder_begin_array (b);
  for (guint i = 0; i < c->edges->len; i++) {
    const StrataCircuitEdge *e = &g_array_index (c->edges, StrataCircuitEdge, i);
    json_builder_begin_object (b);
    MEMBER (b, "from"), json_builder_add_int_value (b, e->from);
    MEMBER (b, "to"), json_builder_add_int_value (b, e->to);
    MEMBER (b, "weight"), add_num (b, e->weight);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
}

/* agreement: [{site, n_prompts, n_cells, pearson, k, topk_overlap, max_abs_diff}] */
static void
add_agreement (JsonBuilder *b, const GArray *agreement)
{
  MEMBER (b, "agreement");
  json_builder_begin_array (b);
  for (guint i = 0; i < agreement->len; i++) {
    const StrataPatchAgreement *ag = &g_array_index (agreement, StrataPatchAgreement, i);
    json_builder_begin_object (b);
    MEMBER (b, "site"), json_builder_add_string_value (b, strata_patch_site_to_string (ag->site));
    MEMBER (b, "n_prompts"), json_builder_add_int_value (b, ag->n_prompts);
    MEMBER (b, "n_cells"), json_builder_add_int_value (b, ag->n_cells);
    MEMBER (b, "pearson"), add_num (b, ag->pearson);
    MEMBER (b, "k"), json_builder_add_int_value (b, ag->k);
    MEMBER (b, "topk_overlap"), add_num (b, ag->topk_overlap);
    MEMBER (b, "max_abs_diff"), add_num (b, ag->max_abs_diff);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

void
strata_probe_json_patch (JsonBuilder *b, StrataModel *m, const StrataAnalysis *a,
                         const StrataPatchOptions *o, StrataPatchMethod method, const StrataAnalysisReport *report)
{
  MEMBER (b, "settings");
  json_builder_begin_object (b);
  MEMBER (b, "method"), json_builder_add_string_value (b, strata_enum_to_string (&strata_patch_method_table, method));
  MEMBER (b, "direction"), json_builder_add_string_value (b, strata_patch_direction_to_string (o->direction));
  MEMBER (b, "metric"), json_builder_add_string_value (b, strata_patch_metric_to_string (o->metric));
  MEMBER (b, "sites");
  json_builder_begin_array (b);
  for (int i = 0; i < o->n_sites; i++)
    json_builder_add_string_value (b, strata_patch_site_to_string (o->sites[i]));
  json_builder_end_array (b);
  MEMBER (b, "seconds"), add_num (b, report->patch_seconds);
  if (report->agreement)
    MEMBER (b, "exact_seconds"), add_num (b, report->exact_seconds);
  json_builder_end_object (b);

  GPtrArray *results = a->patch_results;
  /* One prompt: its fields at the top level too, as scripts for single runs expect. */
  if (results->len == 1)
    add_patch_fields (b, m, results->pdata[0]);
  MEMBER (b, "prompts");
  json_builder_begin_array (b);
  for (guint i = 0; i < results->len; i++) {
    json_builder_begin_object (b);
    add_patch_fields (b, m, results->pdata[i]);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);

  MEMBER (b, "aggregate");
  strata_probe_json_patch_aggregates (b, a->patch_aggregates);
  add_circuit (b, a->circuit);
  if (report->agreement)
    add_agreement (b, report->agreement);
}

/* aggregate[TAG] = {n, sites[SITE] = {mean_score, mean_metric}}, in the list's order. */
void
strata_probe_json_patch_aggregates (JsonBuilder *b, GPtrArray *aggregates)
{
  json_builder_begin_object (b);
  const char *tag = NULL;
  for (guint i = 0; aggregates && i < aggregates->len; i++) {
    const StrataPatchAggregate *ag = aggregates->pdata[i];
    if (!tag || g_strcmp0 (tag, ag->tag) != 0) {
      if (tag)
        json_builder_end_object (b), json_builder_end_object (b);
      MEMBER (b, ag->tag);
      json_builder_begin_object (b);
      MEMBER (b, "n"), json_builder_add_int_value (b, ag->n_prompts);
      MEMBER (b, "sites");
      json_builder_begin_object (b);
      tag = ag->tag;
    }
    MEMBER (b, strata_patch_site_to_string (ag->site));
    json_builder_begin_object (b);
    add_grid (b, "mean_score", ag->mean_score, ag->rows, ag->cols);
    add_grid (b, "mean_metric", ag->mean_metric, ag->rows, ag->cols);
    json_builder_end_object (b);
  }
  if (tag)
    json_builder_end_object (b), json_builder_end_object (b);
  json_builder_end_object (b);
}

/* ---- strata series ---- */

static void
add_string_list (JsonBuilder *b, const char *name, GPtrArray *list)
{
  MEMBER (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; i < list->len; i++)
    json_builder_add_string_value (b, list->pdata[i]);
  json_builder_end_array (b);
}

static void
add_string_or_null (JsonBuilder *b, const char *s)
{
  if (s)
    json_builder_add_string_value (b, s);
  else
    json_builder_add_null_value (b);
}

static void
add_series_settings (JsonBuilder *b, const StrataSeries *s)
{
  MEMBER (b, "settings");
  json_builder_begin_object (b);
  MEMBER (b, "lens"), json_builder_add_string_value (b, s->raw ? "raw" : "logit");
  MEMBER (b, "threshold"), add_num (b, s->threshold);
  MEMBER (b, "answer_target"), add_string_or_null (b, s->answer_target);
  MEMBER (b, "answer_position"), add_string_or_null (b, s->answer_position);
  MEMBER (b, "patch");
  if (!s->has_patch) {
    json_builder_add_null_value (b);
  } else {
    json_builder_begin_object (b);
    MEMBER (b, "direction"), json_builder_add_string_value (b, strata_patch_direction_to_string (s->patch_direction));
    MEMBER (b, "metric"), json_builder_add_string_value (b, strata_patch_metric_to_string (s->patch_metric));
    MEMBER (b, "sites");
    json_builder_begin_array (b);
    for (guint i = 0; s->patch_sites && i < s->patch_sites->len; i++)
      json_builder_add_string_value (b,
                                     strata_patch_site_to_string (g_array_index (s->patch_sites, StrataPatchSite, i)));
    json_builder_end_array (b);
    MEMBER (b, "target"), add_string_or_null (b, s->patch_target);
    MEMBER (b, "head_pos"), add_layer_or_null (b, s->patch_head_pos);
    json_builder_end_object (b);
  }
  json_builder_end_object (b);
}

/* accuracy[TAG][TARGET] = {n, correct, accuracy}; the list is ordered tag, target. */
static void
add_accuracy (JsonBuilder *b, GPtrArray *accuracy)
{
  json_builder_begin_object (b);
  const char *tag = NULL;
  for (guint i = 0; accuracy && i < accuracy->len; i++) {
    const StrataSeriesAccuracy *a = accuracy->pdata[i];
    if (!tag || g_strcmp0 (tag, a->tag) != 0) {
      if (tag)
        json_builder_end_object (b);
      MEMBER (b, a->tag);
      json_builder_begin_object (b);
      tag = a->tag;
    }
    MEMBER (b, a->target);
    json_builder_begin_object (b);
    MEMBER (b, "n"), json_builder_add_int_value (b, a->n);
    MEMBER (b, "correct"), json_builder_add_int_value (b, a->correct);
    MEMBER (b, "accuracy"), add_num (b, a->n > 0 ? (double) a->correct / a->n : NAN);
    json_builder_end_object (b);
  }
  if (tag)
    json_builder_end_object (b);
  json_builder_end_object (b);
}

static void
add_checkpoint (JsonBuilder *b, const StrataSeriesCheckpoint *cp)
{
  gboolean done = strata_series_checkpoint_is_done (cp);
  json_builder_begin_object (b);
  MEMBER (b, "step"), json_builder_add_int_value (b, cp->step);
  MEMBER (b, "label"), json_builder_add_string_value (b, cp->label);
  MEMBER (b, "path"), json_builder_add_string_value (b, cp->path);
  MEMBER (b, "done"), json_builder_add_boolean_value (b, done);
  if (done) {
    MEMBER (b, "model");
    strata_probe_json_model (b, &cp->model);
    MEMBER (b, "aggregate");
    strata_probe_json_lens_aggregates (b, cp->lens_aggregates);
    MEMBER (b, "accuracy");
    add_accuracy (b, cp->accuracy);
    MEMBER (b, "patch");
    if (cp->patch_aggregates)
      strata_probe_json_patch_aggregates (b, cp->patch_aggregates);
    else
      json_builder_add_null_value (b);
  }
  json_builder_end_object (b);
}

void
strata_probe_json_series (JsonBuilder *b, const StrataSeries *s)
{
  MEMBER (b, "strata_version"), json_builder_add_string_value (b, STRATA_VERSION);
  MEMBER (b, "command"), json_builder_add_string_value (b, "series");
  MEMBER (b, "prompt_source"), add_string_or_null (b, s->prompts ? s->prompts->source : NULL);
  MEMBER (b, "n_prompts"), json_builder_add_int_value (b, s->prompts ? s->prompts->prompts->len : 0);
  MEMBER (b, "tokenizer_sha256"), add_string_or_null (b, s->tokenizer_sha256);
  g_autoptr (GPtrArray) tags = strata_prompt_set_list_tags (s->prompts);
  g_autoptr (GPtrArray) targets = strata_prompt_set_list_targets (s->prompts);
  g_autoptr (GPtrArray) positions = strata_prompt_set_list_positions (s->prompts);
  add_string_list (b, "tags", tags);
  add_string_list (b, "targets", targets);
  add_string_list (b, "positions", positions);
  add_series_settings (b, s);
  MEMBER (b, "runs");
  json_builder_begin_array (b);
  for (guint r = 0; r < s->runs->len; r++) {
    const StrataTrainingRun *run = s->runs->pdata[r];
    json_builder_begin_object (b);
    MEMBER (b, "name"), json_builder_add_string_value (b, run->name);
    MEMBER (b, "path"), json_builder_add_string_value (b, run->path);
    MEMBER (b, "checkpoints");
    json_builder_begin_array (b);
    for (guint c = 0; c < run->checkpoints->len; c++)
      add_checkpoint (b, run->checkpoints->pdata[c]);
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}
