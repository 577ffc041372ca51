/* strata-hf-write.h: a GPT-2 checkpoint written as Hugging Face stores it, for models the
 * trainer (strata-train.h) changed.
 *
 * The folder receives config.json and model.safetensors with the names the loader reads
 * (GPT2Model's, without the `transformer.` prefix, which from_pretrained accepts for
 * GPT2LMHeadModel too): Conv1D weights stored [in, out] (c_attn the concatenation of W_Q,
 * W_K, W_V along its output axis), F32, and lm_head.weight only when the unembedding is
 * not tied. Each file is written to a temporary file beside it, synced and renamed over the
 * old one: a failure leaves the old file (or none), never a half-written one. */
#pragma once

#include <glib.h>

#include "strata-weights.h"

G_BEGIN_DECLS

/* Write `w` (host memory, GPT-2 family, F32 matrices) into `dir`, created when missing.
 * bos_id and eos_id go to config.json when >= 0. */
gboolean strata_hf_write_gpt2 (const StrataWeights *w, const char *dir, int bos_id, int eos_id, GError **error);

G_END_DECLS
