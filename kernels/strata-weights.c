/* strata-weights.c: layout of a model's tensors in one arena. */
#include "strata-weights.h"

#include <stdlib.h>
#include <string.h>

const char *
strata_config_check (const StrataConfig *cfg)
{
  if (cfg->n_layers <= 0 || cfg->d_model <= 0 || cfg->n_heads <= 0 || cfg->d_head <= 0 ||
      cfg->d_mlp <= 0 || cfg->vocab <= 0 || cfg->n_ctx <= 0)
    return "every size (layers, width, heads, head size, MLP width, vocabulary, context) must be positive";
  if (cfg->n_kv_heads <= 0 || cfg->n_heads % cfg->n_kv_heads != 0)
    return "the number of key/value heads must divide the number of heads";
  if (cfg->family == STRATA_FAMILY_GPT2 && cfg->n_heads * cfg->d_head != cfg->d_model)
    return "GPT-2 needs heads x head size = width";
  if (cfg->family == STRATA_FAMILY_GPT2 && cfg->rope != STRATA_ROPE_NONE)
    return "GPT-2 uses learned positions, not RoPE";
  if (cfg->family == STRATA_FAMILY_LLAMA && cfg->rope == STRATA_ROPE_NONE)
    return "the Llama family needs RoPE";
  if (cfg->rope != STRATA_ROPE_NONE && (cfg->d_head % 2 != 0 || !(cfg->rope_theta > 0)))
    return "RoPE needs an even head size and a positive theta";
  if (!(cfg->norm_eps >= 0) || cfg->norm_eps > 1)
    return "the norm epsilon must lie in [0, 1]";
  /* Keep every tensor's element count well inside size_t and int indexing. */
  if ((double) cfg->vocab * cfg->d_model > 4e9 || (double) cfg->d_mlp * cfg->d_model > 4e9 ||
      (double) cfg->n_heads * cfg->d_head * cfg->d_model > 4e9 || cfg->n_layers > 4096 ||
      cfg->n_ctx > (1 << 24))
    return "sizes are too large";
  return NULL;
}

typedef struct {
  float *base;
  size_t used;
  int counting; /* first pass only counts */
} Carver;

static float *
carve (Carver *c, size_t n)
{
  float *p = c->counting ? NULL : c->base + c->used;
  c->used += n;
  return p;
}

static void
lay_out (StrataWeights *w, const StrataWeightsLayout *lo, Carver *c)
{
  const StrataConfig *g = &w->cfg;
  size_t C = g->d_model, HD = (size_t) g->n_heads * g->d_head, KD = (size_t) g->n_kv_heads * g->d_head;
  size_t F = g->d_mlp, V = g->vocab;
  int gpt2 = g->family == STRATA_FAMILY_GPT2;
  int qkv_b = gpt2 || lo->qkv_bias, o_b = gpt2 || lo->o_bias, mlp_b = gpt2 || lo->mlp_bias;

  w->tok_embed = carve (c, V * C);
  w->pos_embed = gpt2 ? carve (c, (size_t) g->n_ctx * C) : NULL;
  for (int l = 0; l < g->n_layers; l++) {
    StrataLayerWeights *lw = &w->layers[l];
    lw->norm1_w = carve (c, C);
    lw->norm1_b = gpt2 ? carve (c, C) : NULL;
    lw->w_q = carve (c, HD * C);
    lw->b_q = qkv_b ? carve (c, HD) : NULL;
    lw->w_k = carve (c, KD * C);
    lw->b_k = qkv_b ? carve (c, KD) : NULL;
    lw->w_v = carve (c, KD * C);
    lw->b_v = qkv_b ? carve (c, KD) : NULL;
    lw->w_o = carve (c, C * HD);
    lw->b_o = o_b ? carve (c, C) : NULL;
    lw->norm2_w = carve (c, C);
    lw->norm2_b = gpt2 ? carve (c, C) : NULL;
    lw->w_gate = gpt2 ? NULL : carve (c, F * C);
    lw->w_up = carve (c, F * C);
    lw->b_up = mlp_b ? carve (c, F) : NULL;
    lw->w_down = carve (c, C * F);
    lw->b_down = mlp_b ? carve (c, C) : NULL;
  }
  w->norm_f_w = carve (c, C);
  w->norm_f_b = gpt2 ? carve (c, C) : NULL;
  w->tied = lo->tied;
  w->unembed = lo->tied ? w->tok_embed : carve (c, V * C);
  w->b_unembed = lo->unembed_bias ? carve (c, V) : NULL;
}

StrataWeights *
strata_weights_new (const StrataConfig *cfg, const StrataWeightsLayout *layout)
{
  if (strata_config_check (cfg))
    return NULL;
  StrataWeights *w = calloc (1, sizeof *w);
  if (!w)
    return NULL;
  w->cfg = *cfg;
  w->layers = calloc ((size_t) cfg->n_layers, sizeof *w->layers);
  Carver c = { .counting = 1 };
  if (w->layers)
    lay_out (w, layout, &c);
  w->arena_floats = c.used;
  w->arena = w->layers ? calloc (c.used, sizeof (float)) : NULL;
  if (!w->arena) {
    strata_weights_free (w);
    return NULL;
  }
  c = (Carver) { .base = w->arena };
  lay_out (w, layout, &c);
  return w;
}

void
strata_weights_free (StrataWeights *w)
{
  if (!w)
    return;
  free (w->arena);
  free (w->layers);
  free (w);
}

size_t
strata_weights_param_count (const StrataWeights *w)
{
  return w->arena_floats;
}

#define REBASE(p) ((p) ? new_arena + ((p) - w->arena) : NULL)

void
strata_weights_rebase (const StrataWeights *w, float *new_arena, StrataWeights *out,
                       StrataLayerWeights *out_layers)
{
  *out = *w;
  out->arena = new_arena;
  out->layers = out_layers;
  out->tok_embed = REBASE (w->tok_embed);
  out->pos_embed = REBASE (w->pos_embed);
  out->norm_f_w = REBASE (w->norm_f_w);
  out->norm_f_b = REBASE (w->norm_f_b);
  out->unembed = REBASE (w->unembed);
  out->b_unembed = REBASE (w->b_unembed);
  for (int l = 0; l < w->cfg.n_layers; l++) {
    const StrataLayerWeights *a = &w->layers[l];
    StrataLayerWeights *b = &out_layers[l];
    b->norm1_w = REBASE (a->norm1_w);
    b->norm1_b = REBASE (a->norm1_b);
    b->w_q = REBASE (a->w_q);
    b->b_q = REBASE (a->b_q);
    b->w_k = REBASE (a->w_k);
    b->b_k = REBASE (a->b_k);
    b->w_v = REBASE (a->w_v);
    b->b_v = REBASE (a->b_v);
    b->w_o = REBASE (a->w_o);
    b->b_o = REBASE (a->b_o);
    b->norm2_w = REBASE (a->norm2_w);
    b->norm2_b = REBASE (a->norm2_b);
    b->w_gate = REBASE (a->w_gate);
    b->w_up = REBASE (a->w_up);
    b->b_up = REBASE (a->b_up);
    b->w_down = REBASE (a->w_down);
    b->b_down = REBASE (a->b_down);
  }
}
