/* strata-model.c: format detection and the parts every loader shares. */
#include "strata-model.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "strata-data-error.h"
#include "strata-model-private.h"
#include "strata-tensor-private.h"
#include "strata-weights-device.h"

const char *
strata_model_get_weights_sha256 (const StrataModel *model)
{
  static GMutex lock;
  StrataModel *m = (StrataModel *) model; /* the digest is filled in once, under the lock */
  g_mutex_lock (&lock);
  if (m->weights_hash)
    m->weights_hex = strata_sha256_finish (g_steal_pointer (&m->weights_hash));
  g_mutex_unlock (&lock);
  return m->weights_hex;
}

void
strata_model_free (StrataModel *m)
{
  if (!m)
    return;
  g_free (m->path);
  g_free (m->tokenizer_path);
  g_free (m->name);
  g_free (m->arch);
  strata_model_get_weights_sha256 (m); /* ends the hashing thread */
  g_free (m->weights_hex);
  g_free (m->stored_types);
  g_free (m->tokenizer_note);
  strata_weights_free (m->weights);
  g_clear_pointer (&m->tokenizer, strata_tokenizer_free);
  g_free (m);
}

/* Each format's name and loader, indexed by StrataFormat. */
static const struct {
  const char *name;
  gboolean (*load) (StrataModel *model, const char *path, const char *tokenizer_path, GError **error);
} formats[] = {
  [STRATA_FORMAT_HF_SAFETENSORS] = { "safetensors", strata_hf_load },
  [STRATA_FORMAT_GGUF] = { "gguf", strata_gguf_load_model },
  [STRATA_FORMAT_LLAMA2C] = { "llama2c", strata_llama2c_load },
};

const char *
strata_format_to_string (StrataFormat format)
{
  return format >= 0 && format < G_N_ELEMENTS (formats) ? formats[format].name : "unknown";
}

/* Each matrix's dtype under the model's policy: as stored when the policy keeps the stored
 * dtypes and the backend that will run the weights takes that one, else F32. */
typedef struct {
  StrataMatrixDTypeFunc stored_of;
  void *user;
  gboolean keep;
  unsigned takes; /* the device's matrix_dtypes; every dtype for host weights (an engine
                   * converts to F32 what its backend does not take) */
} Policy;

static StrataDType
policy_dtype (const StrataWeightTensor *t, void *user)
{
  const Policy *p = user;
  StrataDType stored = p->stored_of (t, p->user);
  return p->keep && (p->takes & (1u << stored)) ? stored : STRATA_DTYPE_F32;
}

StrataWeights *
strata_model_new_weights (StrataModel *m, const StrataConfig *cfg, StrataMatrixDTypeFunc stored_of, void *user,
                          const char *source, GError **error)
{
  const char *why = strata_config_check (cfg);
  if (why) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: %s", source, why);
    return NULL;
  }
  size_t available = strata_memory_available ();
  Policy p = { stored_of, user, m->policy == STRATA_MATRICES_STORED,
               m->device ? m->device->matrix_dtypes : (1u << STRATA_DTYPE_N) - 1 };
  if (m->policy == STRATA_MATRICES_AUTO)
    p.keep = available && strata_config_weights_size (cfg, STRATA_DTYPE_F32) > available / 2;
  StrataStatus st = STRATA_OK;
  StrataWeights *w = strata_weights_new_on_device (cfg, policy_dtype, &p, m->device, &st);
  if (!w && m->device && !m->device->host_memory)
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO,
                 "%s: cannot allocate the weights on %s: they need %.2f GB, %.2f GB are free there", source,
                 m->device->name, strata_config_weights_size_typed (cfg, policy_dtype, &p) / 1e9,
                 strata_backend_memory_free (m->device) / 1e9);
  else if (!w)
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: cannot allocate the weights", source);
  return w;
}

StrataTokenizer *
strata_tokenizer_open_path (const char *path, int vocab, GError **error)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    g_autofree char *json = g_build_filename (path, "tokenizer.json", NULL);
    g_autofree char *vj = g_build_filename (path, "vocab.json", NULL);
    g_autofree char *merges = g_build_filename (path, "merges.txt", NULL);
    if (g_file_test (json, G_FILE_TEST_IS_REGULAR))
      return strata_tokenizer_new_hf_json (json, error);
    if (g_file_test (vj, G_FILE_TEST_IS_REGULAR))
      return strata_tokenizer_new_gpt2 (vj, merges, error);
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO,
                 "%s: no tokenizer.json or vocab.json + merges.txt in this folder", path);
    return NULL;
  }
  if (g_str_has_suffix (path, ".json"))
    return strata_tokenizer_new_hf_json (path, error);
  return strata_tokenizer_new_llama2c (path, vocab, error);
}

/* The display name: the folder of an HF checkpoint, else the file name without suffix. */
static char *
display_name (const char *path, StrataFormat format)
{
  g_autofree char *base = g_path_get_basename (path);
  if (format == STRATA_FORMAT_HF_SAFETENSORS && !g_file_test (path, G_FILE_TEST_IS_DIR)) {
    g_autofree char *dir = g_path_get_dirname (path);
    return g_path_get_basename (dir);
  }
  char *dot = strrchr (base, '.');
  if (dot && dot != base && format != STRATA_FORMAT_HF_SAFETENSORS)
    *dot = '\0';
  return g_steal_pointer (&base);
}

/* Decide by the first bytes where they are distinctive (GGUF), else by the name. */
static gboolean
detect_format (const char *path, StrataFormat *format, GError **error)
{
  g_autofree char *src = g_path_get_basename (path);
  guint8 magic[4] = { 0 };
  gsize got = 0;

  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    *format = STRATA_FORMAT_HF_SAFETENSORS;
    return TRUE;
  }
  FILE *f = fopen (path, "rb");
  if (!f) {
    /* The whole path as given: a mistyped folder is the usual cause. */
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: cannot open: %s", path, g_strerror (errno));
    return FALSE;
  }
  got = fread (magic, 1, sizeof magic, f);
  fclose (f);
  gboolean gguf_magic = got == 4 && memcmp (magic, "GGUF", 4) == 0;
  if (gguf_magic || g_str_has_suffix (path, ".gguf"))
    *format = STRATA_FORMAT_GGUF; /* a .gguf without the magic is reported by the reader */
  else if (g_str_has_suffix (path, ".safetensors") || g_str_has_suffix (path, ".safetensors.index.json"))
    *format = STRATA_FORMAT_HF_SAFETENSORS;
  else if (g_str_has_suffix (path, ".bin"))
    *format = STRATA_FORMAT_LLAMA2C;
  else {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_UNSUPPORTED,
                 "%s: not a recognized checkpoint (an HF folder, .safetensors, .gguf or llama2.c .bin)", src);
    return FALSE;
  }
  return TRUE;
}

/* The BOS policy. A loader sets the format's own (GGUF add_bos_token, llama2.c always, an HF
 * family's transformers default corrected by tokenizer_config.json's add_bos_token); a
 * tokenizer that states its own (a tokenizer.json: its post-processor, or
 * tokenizer_config.json beside it, see strata_tokenizer_get_specials) decides instead, with
 * the first token it puts before a sequence as BOS. That is what transformers does for
 * Llama 3 (a template with <|begin_of_text|>), Qwen2 (a ByteLevel post-processor: no BOS,
 * although config.json names a bos_token_id) and Gemma (add_bos_token and a <bos> template).
 * A token after the sequence (T5's </s>) is not appended: a prompt is text to continue. */
static void
adopt_tokenizer_policy (StrataModel *m)
{
  const int32_t *prefix, *suffix;
  gsize n_prefix, n_suffix;
  if (m->tokenizer == NULL ||
      !strata_tokenizer_get_specials (m->tokenizer, &prefix, &n_prefix, &suffix, &n_suffix))
    return;
  m->add_bos = n_prefix > 0;
  if (n_prefix > 0) /* a BOS the model has no row for is no BOS: the CLI reports it */
    m->bos_id = prefix[0] < m->weights->cfg.vocab ? prefix[0] : -1;
}

StrataModel *
strata_model_open (const char *path, const char *tokenizer_path, GError **error)
{
  StrataOpenOptions o = { tokenizer_path, STRATA_MATRICES_F32 };
  return strata_model_open_with (path, &o, error);
}

StrataMatrixPolicy
strata_matrix_policy_for (const StrataBackend *backend)
{
  unsigned sixteen = 1u << STRATA_DTYPE_F16 | 1u << STRATA_DTYPE_BF16;
  if (!backend || (backend->fast_dtypes & sixteen) == sixteen)
    return STRATA_MATRICES_STORED;
  return STRATA_MATRICES_AUTO;
}

StrataModel *
strata_model_open_with (const char *path, const StrataOpenOptions *o, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autoptr (StrataModel) m = g_new0 (StrataModel, 1);
  const char *tokenizer_path = o->tokenizer_path;
  m->policy = o->matrices;
  m->device = o->device;

  if (!detect_format (path, &m->format, error))
    return NULL;
  m->path = g_strdup (path);
  m->tokenizer_path = g_strdup (tokenizer_path);
  m->name = display_name (path, m->format);
  m->bos_id = m->eos_id = -1;
  if (!formats[m->format].load (m, path, tokenizer_path, error))
    return NULL;
  StrataStatus st = strata_weights_finish_upload (m->weights);
  if (st != STRATA_OK) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: cannot upload the weights to %s: %s", m->name,
                 m->device->name, strata_status_to_string (st));
    return NULL;
  }
  adopt_tokenizer_policy (m);
  return g_steal_pointer (&m);
}

StrataModel *
strata_model_reopen_for (const StrataModel *m, const StrataBackend *backend, GError **error)
{
  StrataOpenOptions o = { m->tokenizer_path, strata_matrix_policy_for (backend), backend };
  StrataModel *again = strata_model_open_with (m->path, &o, error);
  if (again)
    again->add_bos = m->add_bos;
  return again;
}

GArray *
strata_model_encode (StrataModel *m, const char *text, GError **error)
{
  if (!m->tokenizer) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_TOKEN,
                 "%s: the model has no tokenizer%s%s; give one with its path", m->name,
                 m->tokenizer_note ? ": " : "", m->tokenizer_note ? m->tokenizer_note : "");
    return NULL;
  }
  GArray *ids = strata_tokenizer_encode (m->tokenizer, text, error);
  if (ids && m->add_bos && m->bos_id >= 0)
    g_array_prepend_val (ids, m->bos_id);
  return ids;
}
