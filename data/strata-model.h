/* strata-model.h: a checkpoint opened from disk, validated and converted to fp32.
 *
 * strata_model_open() recognizes the format from the path:
 *   - a folder with config.json and model.safetensors or model.safetensors.index.json
 *     (Hugging Face; `tokenizer.json` or `vocab.json`+`merges.txt` beside it are used);
 *   - a `.safetensors` file (its folder must hold config.json);
 *   - a `.gguf` file (GGUF v2/v3: architectures llama, qwen2, gptneox; F32, F16, BF16 and
 *     the Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K quantizations, dequantized to fp32;
 *     the embedded SentencePiece tokenizer);
 *   - a llama2.c `.bin` (tokenizer from `tokenizer_path`, or `tokenizer.bin`/`tok<V>.bin`
 *     beside it).
 * Every offset and shape is checked against the file before a byte of data is read. */
#pragma once

#include <glib.h>

#include "strata-tokenizer.h"
#include "strata-weights.h"

G_BEGIN_DECLS

typedef enum {
  STRATA_FORMAT_HF_SAFETENSORS,
  STRATA_FORMAT_GGUF,
  STRATA_FORMAT_LLAMA2C,
} StrataFormat;

typedef struct {
  char *path;              /* as given */
  char *name;              /* short display name, e.g. "stories260K" */
  StrataFormat format;
  char *arch;              /* "gpt2", "llama", "mistral", "qwen2", "gpt_neox" */
  StrataDType dtype;       /* dtype of the weights as stored (compute is always fp32); F32
                              for GGUF quantizations, which decode to it at load */
  char *stored_types;      /* GGUF: the tensor types of the file, "Q4_0 ×36, F32 ×11"; else NULL */
  StrataWeights *weights;  /* owned */
  StrataTokenizer *tokenizer; /* owned; NULL when the checkpoint has none and none was given */
  char *tokenizer_note;    /* why the checkpoint gave no tokenizer, when it can say; else NULL */
  gboolean add_bos;        /* prepend bos_id before running a prompt */
  int32_t bos_id, eos_id;  /* -1 when unknown */
  char *weights_sha256;    /* of the weight file(s), hex */
} StrataModel;

StrataModel *strata_model_open (const char *path, const char *tokenizer_path, GError **error);
void strata_model_free (StrataModel *model);

const char *strata_format_to_string (StrataFormat format);

/* Tokenize `text` and apply the BOS policy. */
GArray *strata_model_encode (StrataModel *model, const char *text, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataModel, strata_model_free)

G_END_DECLS
