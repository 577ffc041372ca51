/* strata-probe-fallbacks.c: weak stand-ins for the free functions of the probe result
 * types, so that sessions build and are tested before the probes branch lands.
 *
 * The probes branch defines the real (strong) ones; the linker then takes those and these
 * are never used. Delete this file once probes/ is merged. They assume the ownership the
 * session reader produces: arrays without element free functions, elements freed here. */
#include "strata-analysis.h"

#define WEAK __attribute__ ((weak))

static void
lens_target_free (StrataLensTarget *t)
{
  g_free (t->name);
  g_free (t->prob);
  g_free (t->logprob);
  g_free (t->logit);
  g_free (t->rank);
  g_free (t->cand_rank);
  g_free (t->resolution);
  g_free (t->resolution_threshold);
  g_free (t);
}

WEAK void
strata_lens_result_free (StrataLensResult *r)
{
  if (r == NULL)
    return;
  g_clear_pointer (&r->ids, g_array_unref);
  if (r->pieces != NULL)
    g_ptr_array_foreach (r->pieces, (GFunc) (void (*) (void)) g_free, NULL);
  g_clear_pointer (&r->pieces, g_ptr_array_unref);
  g_free (r->topk_ids);
  g_free (r->topk_prob);
  g_free (r->topk_logit);
  if (r->targets != NULL)
    g_ptr_array_foreach (r->targets, (GFunc) (void (*) (void)) lens_target_free, NULL);
  g_clear_pointer (&r->targets, g_ptr_array_unref);
  g_free (r);
}

WEAK void
strata_lens_aggregate_free (StrataLensAggregate *a)
{
  if (a == NULL)
    return;
  g_free (a->tag);
  g_free (a->target);
  g_free (a->position);
  g_free (a->mrr);
  g_free (a->mean_prob);
  g_free (a->top1);
  g_free (a->resolution_counts);
  g_free (a);
}

static void
patch_map_free (StrataPatchMap *m)
{
  g_free (m->metric);
  g_free (m->score);
  g_free (m);
}

WEAK void
strata_patch_result_free (StrataPatchResult *r)
{
  if (r == NULL)
    return;
  g_free (r->target_name);
  g_clear_pointer (&r->clean_ids, g_array_unref);
  g_clear_pointer (&r->corrupt_ids, g_array_unref);
  if (r->maps != NULL)
    g_ptr_array_foreach (r->maps, (GFunc) (void (*) (void)) patch_map_free, NULL);
  g_clear_pointer (&r->maps, g_ptr_array_unref);
  g_free (r);
}

WEAK void
strata_patch_aggregate_free (StrataPatchAggregate *a)
{
  if (a == NULL)
    return;
  g_free (a->tag);
  g_free (a->mean_score);
  g_free (a->mean_metric);
  g_free (a);
}

WEAK void
strata_circuit_free (StrataCircuit *c)
{
  if (c == NULL)
    return;
  g_free (c->target_name);
  g_clear_pointer (&c->nodes, g_array_unref);
  g_clear_pointer (&c->edges, g_array_unref);
  g_free (c);
}

static void
prompt_free (StrataPrompt *p)
{
  g_free (p->text);
  g_clear_pointer (&p->ids, g_array_unref);
  g_clear_pointer (&p->corrupt_ids, g_array_unref);
  if (p->targets != NULL)
    for (guint i = 0; i < p->targets->len; i++)
      g_free (g_array_index (p->targets, StrataTarget, i).name);
  g_clear_pointer (&p->targets, g_array_unref);
  if (p->positions != NULL)
    for (guint i = 0; i < p->positions->len; i++)
      g_free (g_array_index (p->positions, StrataPosition, i).name);
  g_clear_pointer (&p->positions, g_array_unref);
  g_strfreev (p->tags);
  g_free (p);
}

WEAK void
strata_prompt_set_free (StrataPromptSet *set)
{
  if (set == NULL)
    return;
  g_free (set->source);
  if (set->prompts != NULL)
    g_ptr_array_foreach (set->prompts, (GFunc) (void (*) (void)) prompt_free, NULL);
  g_clear_pointer (&set->prompts, g_ptr_array_unref);
  g_free (set);
}

WEAK void
strata_model_ref_clear (StrataModelRef *ref)
{
  g_clear_pointer (&ref->path, g_free);
  g_clear_pointer (&ref->name, g_free);
  g_clear_pointer (&ref->arch, g_free);
  g_clear_pointer (&ref->format, g_free);
  g_clear_pointer (&ref->dtype, g_free);
  g_clear_pointer (&ref->weights_sha256, g_free);
  g_clear_pointer (&ref->tokenizer_sha256, g_free);
}

WEAK void
strata_attention_free (StrataAttention *att)
{
  if (att == NULL)
    return;
  g_free (att->pattern);
  g_free (att);
}

WEAK void
strata_view_state_clear (StrataViewState *v)
{
  g_clear_pointer (&v->target, g_free);
}

static void
free_all (GPtrArray **arr, GDestroyNotify fn)
{
  if (*arr == NULL)
    return;
  g_ptr_array_foreach (*arr, (GFunc) (void (*) (void)) fn, NULL);
  g_clear_pointer (arr, g_ptr_array_unref);
}

WEAK void
strata_analysis_free (StrataAnalysis *a)
{
  if (a == NULL)
    return;
  strata_model_ref_clear (&a->model);
  g_clear_pointer (&a->prompts, strata_prompt_set_free);
  g_clear_pointer (&a->lens_candidates, g_array_unref);
  free_all (&a->lens_results, (GDestroyNotify) strata_lens_result_free);
  free_all (&a->lens_aggregates, (GDestroyNotify) strata_lens_aggregate_free);
  free_all (&a->patch_results, (GDestroyNotify) strata_patch_result_free);
  free_all (&a->patch_aggregates, (GDestroyNotify) strata_patch_aggregate_free);
  g_clear_pointer (&a->circuit, strata_circuit_free);
  g_clear_pointer (&a->attention, strata_attention_free);
  g_free (a);
}

WEAK const char *
strata_figure_kind_to_string (StrataFigureKind kind)
{
  static const char *const names[] = { "lens", "curves", "patch", "circuit", "attention" };
  return (int) kind >= 0 && kind < STRATA_FIGURE_N ? names[kind] : "?";
}

WEAK const char *
strata_patch_site_to_string (StrataPatchSite site)
{
  static const char *const names[] = { "resid_pre", "attn_out", "mlp_out", "head", "head_at" };
  return (int) site >= 0 && site < STRATA_PATCH_N_SITES ? names[site] : "?";
}

WEAK const char *
strata_patch_metric_to_string (StrataPatchMetric m)
{
  static const char *const names[] = { "logit-diff", "prob", "top1-change" };
  return (int) m >= 0 && (int) m < 3 ? names[m] : "?";
}

WEAK const char *
strata_patch_direction_to_string (StrataPatchDirection d)
{
  return d == STRATA_PATCH_NOISE ? "noise" : "denoise";
}
