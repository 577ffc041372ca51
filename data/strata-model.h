/* strata-model.h: a checkpoint opened from disk, validated and converted to fp32.
 *
 * strata_model_open() recognizes the format from the path:
 *   - a folder with config.json and model.safetensors or model.safetensors.index.json
 *     (Hugging Face; `tokenizer.json` or `vocab.json`+`merges.txt` beside it are used);
 *   - a `.safetensors` file (its folder must hold config.json);
 *   - a `.gguf` file (GGUF v2/v3: architectures llama, qwen2, gptneox, gemma2, qwen3, olmo2,
 *     phi3; F32, F16, BF16 and the Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K,
 *     Q6_K, IQ4_NL, IQ4_XS quantizations, each matrix decoded to fp32 or kept as stored by StrataMatrixPolicy;
 *     the embedded tokenizer);
 *   - a llama2.c `.bin` (tokenizer from `tokenizer_path`, or `tokenizer.bin`/`tok<V>.bin`
 *     beside it).
 * Every offset and shape is checked against the file before a byte of data is read. */
#pragma once

#include <glib.h>

#include "strata-backend.h"
#include "strata-tokenizer.h"
#include "strata-weights.h"

G_BEGIN_DECLS

typedef enum {
  STRATA_FORMAT_HF_SAFETENSORS,
  STRATA_FORMAT_GGUF,
  STRATA_FORMAT_LLAMA2C,
} StrataFormat;

/* The dtype the loaders keep matrices in. The CPU computes in F32: converting at load is
 * simplest; keeping a 16-bit checkpoint's matrices as stored lets a model whose F32 copy
 * would not fit in memory open (the engine then converts per product, strata-engine.h). */
typedef enum {
  STRATA_MATRICES_F32,    /* every matrix converted to F32 at load */
  STRATA_MATRICES_STORED, /* F16/BF16 as stored (F32 when a safetensors checkpoint mixes
                           * dtypes); each GGUF matrix in its own type, blocks included,
                           * where the device takes it (else F32) */
  STRATA_MATRICES_AUTO,   /* as stored when the F32 copy would take more than half of the
                           * memory available, else F32 */
} StrataMatrixPolicy;

typedef struct {
  const char *tokenizer_path; /* NULL: the checkpoint's own */
  StrataMatrixPolicy matrices;
  /* NULL or a host-memory backend: the weights are in host memory, for any engine. Else the
   * weights are loaded into this backend's memory layer by layer, with no copy of the whole
   * model on the host (strata-weights-device.h), and only an engine on it runs them. */
  const StrataBackend *device;
} StrataOpenOptions;

typedef struct {
  char *path;              /* as given */
  char *tokenizer_path;    /* as given to strata_model_open_with, or NULL */
  char *name;              /* short display name, e.g. "stories260K" */
  StrataFormat format;
  char *arch;              /* "gpt2", "llama", "mistral", "qwen2", "gpt_neox", "gemma2", ... */
  StrataDType dtype;       /* dtype of the weights as stored (compute is always fp32); for a
                              GGUF file the type most of its matrices have (Q4_K for Q4_K_M) */
  StrataMatrixPolicy policy; /* as asked of strata_model_open_with (loaders read it) */
  const StrataBackend *device; /* the same: where the loaders put the weights */
  char *stored_types;      /* GGUF: the tensor types of the file, "Q4_0 ×36, F32 ×11"; else NULL */
  StrataWeights *weights;  /* owned */
  StrataTokenizer *tokenizer; /* owned; NULL when the checkpoint has none and none was given */
  char *tokenizer_note;    /* why the checkpoint gave no tokenizer, when it can say; else NULL */
  gboolean add_bos;        /* prepend bos_id before running a prompt */
  int32_t bos_id, eos_id;  /* -1 when unknown */
  /* The SHA-256 of the weight file(s), hashed on a thread of its own while the model loads
   * and runs: read it with strata_model_get_weights_sha256(). */
  char *weights_hex;
  struct _StrataSha256Job *weights_hash; /* the hashing still running, or NULL */
} StrataModel;

/* The policy for a model that `backend` will run, or that nothing runs (NULL: its weights are
 * only described): as stored when nothing computes or when the backend takes 16-bit matrices
 * as they are (CUDA: no F32 copy of a 16-bit checkpoint anywhere), else STRATA_MATRICES_AUTO. */
StrataMatrixPolicy strata_matrix_policy_for (const StrataBackend *backend);

/* Matrices in F32 (STRATA_MATRICES_F32). */
StrataModel *strata_model_open (const char *path, const char *tokenizer_path, GError **error);
StrataModel *strata_model_open_with (const char *path, const StrataOpenOptions *options, GError **error);
/* The same checkpoint (and tokenizer) opened again for `backend`: its matrix policy, and its
 * memory when it is a device (strata_matrix_policy_for, StrataOpenOptions.device); the BOS
 * policy set on `m` is kept. For moving a model's weights to another backend. */
StrataModel *strata_model_reopen_for (const StrataModel *m, const StrataBackend *backend, GError **error);
void strata_model_free (StrataModel *model);
/* The hex SHA-256 of the model's weight file(s), the model's identity in sessions and JSON:
 * waits for the hashing thread the first time (thread-safe). NULL for a model made from
 * memory. */
const char *strata_model_get_weights_sha256 (const StrataModel *model);

const char *strata_format_to_string (StrataFormat format);

/* Tokenize `text` and apply the BOS policy. */
GArray *strata_model_encode (StrataModel *model, const char *text, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataModel, strata_model_free)

G_END_DECLS
