/* strata-sites.c: TransformerLens site names <-> (site, layer). */
#include "strata-sites.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The part after "blocks.L." for per-layer sites, the whole name otherwise. */
static const char *const site_names[STRATA_SITE_COUNT] = {
  [STRATA_SITE_EMBED] = "hook_embed",
  [STRATA_SITE_POS_EMBED] = "hook_pos_embed",
  [STRATA_SITE_RESID_PRE] = "hook_resid_pre",
  [STRATA_SITE_ATTN_Q] = "attn.hook_q",
  [STRATA_SITE_ATTN_K] = "attn.hook_k",
  [STRATA_SITE_ATTN_V] = "attn.hook_v",
  [STRATA_SITE_ATTN_PATTERN] = "attn.hook_pattern",
  [STRATA_SITE_ATTN_Z] = "attn.hook_z",
  [STRATA_SITE_ATTN_RESULT] = "attn.hook_result",
  [STRATA_SITE_ATTN_OUT] = "hook_attn_out",
  [STRATA_SITE_RESID_MID] = "hook_resid_mid",
  [STRATA_SITE_MLP_POST] = "mlp.hook_post",
  [STRATA_SITE_MLP_OUT] = "hook_mlp_out",
  [STRATA_SITE_RESID_POST] = "hook_resid_post",
  [STRATA_SITE_LN_FINAL] = "ln_final.hook_normalized",
  [STRATA_SITE_LOGITS] = "logits",
};

int
strata_site_is_per_layer (StrataSite site)
{
  return site >= STRATA_SITE_RESID_PRE && site <= STRATA_SITE_RESID_POST;
}

int
strata_site_parse (const char *name, const StrataConfig *cfg, StrataSite *site, int *layer)
{
  if (strncmp (name, "blocks.", 7) == 0) {
    char *end = NULL;
    long l = strtol (name + 7, &end, 10);
    if (end == name + 7 || *end != '.' || l < 0 || l >= cfg->n_layers)
      return -1;
    for (int s = 0; s < STRATA_SITE_COUNT; s++)
      if (strata_site_is_per_layer (s) && strcmp (end + 1, site_names[s]) == 0) {
        if (!strata_site_exists (cfg, s))
          return -1;
        *site = s;
        *layer = (int) l;
        return 0;
      }
    return -1;
  }
  for (int s = 0; s < STRATA_SITE_COUNT; s++)
    if (!strata_site_is_per_layer (s) && strcmp (name, site_names[s]) == 0) {
      if (!strata_site_exists (cfg, s))
        return -1; /* e.g. RoPE models have no positional embedding to hook */
      *site = s;
      *layer = -1;
      return 0;
    }
  return -1;
}

void
strata_site_format (StrataSite site, int layer, char *buf, int n)
{
  if (strata_site_is_per_layer (site))
    snprintf (buf, (size_t) n, "blocks.%d.%s", layer, site_names[site]);
  else
    snprintf (buf, (size_t) n, "%s", site_names[site]);
}

int
strata_site_heads (const StrataConfig *cfg, StrataSite site)
{
  switch (site) {
  case STRATA_SITE_ATTN_Q:
  case STRATA_SITE_ATTN_Z:
  case STRATA_SITE_ATTN_RESULT:
  case STRATA_SITE_ATTN_PATTERN:
    return cfg->n_heads;
  case STRATA_SITE_ATTN_K:
  case STRATA_SITE_ATTN_V:
    return cfg->n_kv_heads;
  default:
    return 0;
  }
}

long
strata_site_row_floats (const StrataConfig *cfg, StrataSite site, int T)
{
  long C = cfg->d_model, D = cfg->d_head;
  switch (site) {
  case STRATA_SITE_ATTN_Q:
  case STRATA_SITE_ATTN_Z:
    return cfg->n_heads * D;
  case STRATA_SITE_ATTN_K:
  case STRATA_SITE_ATTN_V:
    return cfg->n_kv_heads * D;
  case STRATA_SITE_ATTN_PATTERN:
    return (long) cfg->n_heads * T;
  case STRATA_SITE_ATTN_RESULT:
    return cfg->n_heads * C;
  case STRATA_SITE_MLP_POST:
    return cfg->d_mlp;
  case STRATA_SITE_LOGITS:
    return cfg->vocab;
  default:
    return C;
  }
}

int
strata_site_exists (const StrataConfig *cfg, StrataSite site)
{
  if (site == STRATA_SITE_POS_EMBED)
    return cfg->recipe.learned_pos;
  if (site == STRATA_SITE_RESID_MID)
    return !cfg->recipe.parallel;
  return site >= 0 && site < STRATA_SITE_COUNT;
}

int
strata_site_changes_keys (StrataSite site)
{
  switch (site) {
  case STRATA_SITE_EMBED:
  case STRATA_SITE_POS_EMBED:
  case STRATA_SITE_RESID_PRE:
  case STRATA_SITE_ATTN_K:
  case STRATA_SITE_ATTN_V:
    return 1;
  default:
    return 0;
  }
}

int
strata_site_block_order (StrataSite site)
{
  /* The per-layer sites are declared in the order a block computes them. */
  return strata_site_is_per_layer (site) ? (int) site - STRATA_SITE_RESID_PRE : -1;
}
