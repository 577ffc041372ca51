/* strata-analysis.c: an analysis of one checkpoint, its identity and the view state. */
#include "strata-analysis.h"


#include "strata-data-error.h"
#include "strata-probes-private.h"

void
strata_model_ref_clear (StrataModelRef *ref)
{
  g_clear_pointer (&ref->path, g_free);
  g_clear_pointer (&ref->name, g_free);
  g_clear_pointer (&ref->arch, g_free);
  g_clear_pointer (&ref->format, g_free);
  g_clear_pointer (&ref->dtype, g_free);
  g_clear_pointer (&ref->weights_sha256, g_free);
  g_clear_pointer (&ref->tokenizer_sha256, g_free);
  g_clear_pointer (&ref->device, g_free);
}

void
strata_model_ref_copy (StrataModelRef *dst, const StrataModelRef *src)
{
  dst->path = g_strdup (src->path);
  dst->name = g_strdup (src->name);
  dst->arch = g_strdup (src->arch);
  dst->format = g_strdup (src->format);
  dst->dtype = g_strdup (src->dtype);
  dst->weights_sha256 = g_strdup (src->weights_sha256);
  dst->tokenizer_sha256 = g_strdup (src->tokenizer_sha256);
  dst->device = g_strdup (src->device);
  dst->config = src->config;
  dst->add_bos = src->add_bos;
}

StrataAttention *
strata_attention_run (StrataEngine *e, const StrataPrompt *p, GError **error)
{
  const StrataConfig *c = strata_engine_get_config (e);
  int T = (int) p->ids->len, L = c->n_layers, H = c->n_heads;
  g_autoptr (StrataAttention) att = g_new0 (StrataAttention, 1);
  att->n_layers = L;
  att->n_heads = H;
  att->T = T;
  att->pattern = g_new0 (float, (gsize) L * H * T * T);
  g_autofree StrataCache *caches = g_new0 (StrataCache, L);
  for (int l = 0; l < L; l++)
    caches[l] = (StrataCache) { STRATA_SITE_ATTN_PATTERN, l, att->pattern + (gsize) l * H * T * T }; /* (1, H, T, T) */
  StrataHooks hooks = { caches, L, NULL, 0 };
  StrataStatus st = strata_engine_forward (e, (const int32_t *) p->ids->data, 1, T, &hooks, NULL);
  if (st != STRATA_OK) {
    _strata_probe_pass_failed (e, st, "attention pattern", error);
    return NULL;
  }
  return g_steal_pointer (&att);
}

void
strata_attention_free (StrataAttention *att)
{
  if (!att)
    return;
  g_free (att->pattern);
  g_free (att);
}

void
strata_view_state_clear (StrataViewState *v)
{
  g_clear_pointer (&v->target, g_free);
  g_clear_pointer (&v->tag, g_free);
}

StrataAnalysis *
strata_analysis_new (StrataModel *model)
{
  StrataAnalysis *a = g_new0 (StrataAnalysis, 1);
  StrataModelRef *r = &a->model;
  r->path = g_strdup (model->path ? model->path : "");
  r->name = g_strdup (model->name ? model->name : "");
  r->arch = g_strdup (model->arch ? model->arch : "");
  r->format = g_strdup (strata_format_to_string (model->format));
  r->dtype = g_strdup (strata_dtype_to_string (model->dtype));
  r->weights_sha256 = g_strdup (strata_model_get_weights_sha256 (model) ? strata_model_get_weights_sha256 (model) : "");
  const char *tok_sha = model->tokenizer ? strata_tokenizer_get_sha256 (model->tokenizer) : NULL;
  r->tokenizer_sha256 = g_strdup (tok_sha ? tok_sha : "");
  r->config = model->weights->cfg;
  r->add_bos = model->add_bos;
  r->device = g_strdup ("");
  return a;
}

void
strata_analysis_free (StrataAnalysis *a)
{
  if (!a)
    return;
  strata_model_ref_clear (&a->model);
  g_clear_pointer (&a->prompts, strata_prompt_set_free);
  g_clear_pointer (&a->lens_candidates, g_array_unref);
  g_clear_pointer (&a->lens_results, g_ptr_array_unref);
  g_clear_pointer (&a->lens_aggregates, g_ptr_array_unref);
  g_clear_pointer (&a->patch_results, g_ptr_array_unref);
  g_clear_pointer (&a->patch_aggregates, g_ptr_array_unref);
  g_clear_pointer (&a->circuit, strata_circuit_free);
  g_clear_pointer (&a->attention, strata_attention_free);
  g_free (a);
}

/* Stored in sessions: append only (strata-enum.h). */
static const StrataEnumValue figure_kind_values[] = {
  [STRATA_FIGURE_LENS_HEATMAP] = { "lens", "Lens" },
  [STRATA_FIGURE_TOKEN_CURVES] = { "curves", "Curves" },
  [STRATA_FIGURE_PATCH_HEATMAP] = { "patch", "Patching" },
  [STRATA_FIGURE_CIRCUIT] = { "circuit", "Circuit" },
  [STRATA_FIGURE_ATTENTION] = { "attention", "Attention" },
  [STRATA_FIGURE_TRACE] = { "trace", "Trace" },
  [STRATA_FIGURE_SERIES_HEATMAP] = { "series", "Series" },
  [STRATA_FIGURE_SERIES_ACCURACY] = { "accuracy", "Accuracy" },
  [STRATA_FIGURE_SERIES_PATCH] = { "series-patch", "Series patching" },
};
G_STATIC_ASSERT (G_N_ELEMENTS (figure_kind_values) == STRATA_FIGURE_N_ALL);
const StrataEnumTable strata_figure_kind_table = STRATA_ENUM_TABLE ("figure", figure_kind_values);
const StrataEnumTable strata_checkpoint_figure_table = { "figure", figure_kind_values, STRATA_FIGURE_N };

static const StrataEnumValue curve_quantity_values[] = {
  [STRATA_CURVE_PROB] = { "prob", "probability" },
  [STRATA_CURVE_LOGPROB] = { "logprob", "log-probability" },
  [STRATA_CURVE_RANK] = { "rank", "rank" },
  [STRATA_CURVE_MRR] = { "mrr", "MRR" },
};
G_STATIC_ASSERT (G_N_ELEMENTS (curve_quantity_values) == STRATA_CURVE_MRR + 1);
const StrataEnumTable strata_curve_quantity_table = STRATA_ENUM_TABLE ("curve quantity", curve_quantity_values);

const char *
strata_figure_kind_to_string (StrataFigureKind kind)
{
  return strata_enum_to_string (&strata_figure_kind_table, kind);
}

gboolean
strata_figure_kind_from_string (const char *s, StrataFigureKind *kind)
{
  int value;
  if (!strata_enum_from_string (&strata_figure_kind_table, s, &value))
    return FALSE;
  *kind = (StrataFigureKind) value;
  return TRUE;
}

char *
strata_analysis_check_model (const StrataAnalysis *a)
{
  const StrataModelRef *m = &a->model;
  if (!m->path || !*m->path || !g_file_test (m->path, G_FILE_TEST_EXISTS))
    return NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) model = strata_model_open (m->path, NULL, &error);
  if (!model)
    return g_strdup_printf ("the checkpoint at %s cannot be opened to check that it is the one this session was "
                            "made with (%s); the figures show the saved results", m->path, error->message);
  if (g_strcmp0 (strata_model_get_weights_sha256 (model), m->weights_sha256) != 0)
    return g_strdup_printf ("the checkpoint at %s has changed since this session was saved: its weights have "
                            "sha256 %s, the session was made with %s; the figures show the saved results",
                            m->path, strata_model_get_weights_sha256 (model), m->weights_sha256);
  return NULL;
}
