/* strata-model-private.h: the per-format loaders behind strata_model_open().
 *
 * Each fills model->weights, arch, dtype, tokenizer, add_bos, bos_id, eos_id and
 * weights_sha256; strata-model.c sets path, name and format and frees the model when a
 * loader fails. */
#pragma once

#include "strata-model.h"

G_BEGIN_DECLS

gboolean strata_hf_load (StrataModel *model, const char *path, const char *tokenizer_path, GError **error);
gboolean strata_gguf_load_model (StrataModel *model, const char *path, const char *tokenizer_path,
                                 GError **error);
gboolean strata_llama2c_load (StrataModel *model, const char *path, const char *tokenizer_path,
                              GError **error);

/* A tokenizer named by the person: tokenizer.json (HF), a folder with tokenizer.json or
 * vocab.json + merges.txt, or else a llama2.c tokenizer.bin of `vocab` entries. */
StrataTokenizer *strata_tokenizer_open_path (const char *path, int vocab, GError **error);

/* Allocate the model's weights with each matrix in the dtype its policy asks for, given the
 * dtype the checkpoint stores it in (`stored_of`; strata_matrix_dtype_all for one dtype); a
 * refusal of strata_config_check becomes an error that names `source`. */
StrataWeights *strata_model_new_weights (StrataModel *model, const StrataConfig *cfg, StrataMatrixDTypeFunc stored_of,
                                         void *user, const char *source, GError **error);

/* config.json of a Hugging Face checkpoint, parsed and checked. */
typedef struct {
  char *arch;                 /* model_type: gpt2, llama, mistral, qwen2, gpt_neox, gemma2, qwen3, olmo2, phi3 */
  StrataConfig cfg;           /* sizes and recipe */
  int32_t bos_id, eos_id;     /* -1 when absent */
} StrataHfConfig;

gboolean strata_hf_config_load (const char *path, StrataHfConfig *out, GError **error);
void strata_hf_config_clear (StrataHfConfig *hc);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (StrataHfConfig, strata_hf_config_clear)

G_END_DECLS
