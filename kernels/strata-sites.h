/* strata-sites.h: named activation sites, as TransformerLens names them.
 *
 * Layouts (host copies, row-major), for a run of B sequences of T tokens:
 *   hook_embed, hook_pos_embed, resid_pre/mid/post, attn_out, mlp_out,
 *   ln_final.hook_normalized                  (B, T, C)
 *   attn.hook_q, attn.hook_z                  (B, T, H, D)   q before RoPE, like TL
 *   attn.hook_k, attn.hook_v                  (B, T, K, D)   K = key/value heads
 *   attn.hook_pattern                         (B, H, T, T)   softmax(q·kᵀ/√D), causal
 *   attn.hook_result                          (B, T, H, C)   z_h · W_O[:, h]ᵀ (no bias)
 *   mlp.hook_post                             (B, T, F)      after the activation (times up when gated)
 *   logits                                    (B, T, V)
 */
#pragma once

typedef enum {
  STRATA_SITE_EMBED,
  STRATA_SITE_POS_EMBED,
  STRATA_SITE_RESID_PRE,
  STRATA_SITE_ATTN_Q,
  STRATA_SITE_ATTN_K,
  STRATA_SITE_ATTN_V,
  STRATA_SITE_ATTN_PATTERN,
  STRATA_SITE_ATTN_Z,
  STRATA_SITE_ATTN_RESULT,
  STRATA_SITE_ATTN_OUT,
  STRATA_SITE_RESID_MID,
  STRATA_SITE_MLP_POST,
  STRATA_SITE_MLP_OUT,
  STRATA_SITE_RESID_POST,
  STRATA_SITE_LN_FINAL,
  STRATA_SITE_LOGITS,
  STRATA_SITE_COUNT
} StrataSite;

#include "strata-recipe.h"

/* "blocks.3.hook_resid_pre" -> (STRATA_SITE_RESID_PRE, 3); "hook_embed" -> (.., -1).
 * Returns 0 on success, -1 if the name is unknown or the layer missing/out of range. */
int strata_site_parse (const char *name, const StrataConfig *cfg, StrataSite *site, int *layer);
/* Writes the TransformerLens name into buf (size n). */
void strata_site_format (StrataSite site, int layer, char *buf, int n);
/* True for sites that exist once per block (layer index required). */
int strata_site_is_per_layer (StrataSite site);
/* Floats per (batch, position) row of the site; for the pattern, H*T (one query row per head). */
long strata_site_row_floats (const StrataConfig *cfg, StrataSite site, int T);
/* Heads a per-head site has (H or K), 0 for sites that are not split by head. */
int strata_site_heads (const StrataConfig *cfg, StrataSite site);
/* Whether the model has the site: hook_pos_embed needs learned positions, hook_resid_mid
 * sequential blocks. */
int strata_site_exists (const StrataConfig *cfg, StrataSite site);
/* Whether a patch of the site at (layer l, position p) can change the keys and values of
 * block l, and so other positions of that block: the embedding sites, resid_pre and the
 * keys and values themselves. A patch anywhere else in block l changes only row p there
 * and reaches other positions through later blocks (causal attention). */
int strata_site_changes_keys (StrataSite site);
/* Order of the per-layer sites within a block (resid_pre 0 ... resid_post last); -1 for
 * sites outside the blocks. */
int strata_site_block_order (StrataSite site);
