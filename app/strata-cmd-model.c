/* strata-cmd-model.c: `strata info`, `strata tokenize`, `strata generate`. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "strata-cli.h"
#include "strata-engine.h"
#include "strata-generate.h"
#include "strata-enum.h"

/* Parse options shared by the model commands; leaves positional arguments in argv. */
typedef struct {
  char *tokenizer;
  gboolean json;
  char *bos; /* "on" / "off" / NULL: the model's own policy */
} ModelOptions;

static void
model_options_clear (ModelOptions *mo)
{
  g_free (mo->tokenizer);
  g_free (mo->bos);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ModelOptions, model_options_clear)

static gboolean
parse (int *argc, char ***argv, const char *params, const char *summary, ModelOptions *mo,
       GOptionEntry *extra, GError **error)
{
  GOptionEntry common[] = {
    { "tokenizer", 't', 0, G_OPTION_ARG_FILENAME, &mo->tokenizer,
      "Tokenizer file, for formats that have none inside", "FILE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &mo->json, "Machine-readable output on stdout", NULL },
    { "bos", 0, 0, G_OPTION_ARG_STRING, &mo->bos, "Prepend BOS: on or off (default: the model's policy)",
      "on|off" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (params);
  g_option_context_set_summary (ctx, summary);
  g_option_context_add_main_entries (ctx, common, NULL);
  if (extra)
    g_option_context_add_main_entries (ctx, extra, NULL);
  if (!g_option_context_parse (ctx, argc, argv, error))
    return FALSE;
  if (mo->bos && strcmp (mo->bos, "on") != 0 && strcmp (mo->bos, "off") != 0) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--bos takes on or off, not '%s'", mo->bos);
    return FALSE;
  }
  return TRUE;
}

/* `device`: the backend that will run the model, which then holds its weights from the load on
 * (NULL: host memory). */
static StrataModel *
open_model (const char *path, ModelOptions *mo, const StrataBackend *backend, const StrataBackend *device,
            gboolean need_tokenizer, GError **error)
{
  /* The matrices stay as stored when nothing computes (backend NULL), on a backend that
   * takes them so, and for a model too large for an F32 copy (the engine then converts per
   * product). */
  StrataOpenOptions oo = { mo->tokenizer, strata_matrix_policy_for (backend), device };
  StrataModel *model = strata_model_open_with (path, &oo, error);
  if (!model)
    return NULL;
  if (mo->bos)
    model->add_bos = strcmp (mo->bos, "on") == 0;
  if (need_tokenizer && !model->tokenizer) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                 "%s: the checkpoint has no tokenizer%s%s%s; pass one with --tokenizer FILE", path,
                 model->tokenizer_note ? " (" : "", model->tokenizer_note ? model->tokenizer_note : "",
                 model->tokenizer_note ? ")" : "");
    strata_model_free (model);
    return NULL;
  }
  if (model->add_bos && model->bos_id < 0) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                 "%s: BOS is requested but the model defines no BOS token", path);
    strata_model_free (model);
    return NULL;
  }
  return model;
}

/* How positions enter: a learned table, rotary pairs, or nothing. */
static const char *
positions_name (const StrataRecipe *r)
{
  switch (r->rope.pairing) {
  case STRATA_ROPE_ADJACENT: return "rope-adjacent-pairs";
  case STRATA_ROPE_HALF: return "rope-rotate-half";
  default: return r->learned_pos ? "learned" : "none";
  }
}

/* The recipe as the JSON of `strata info` shows it. */
static void
add_recipe_json (JsonBuilder *b, const StrataRecipe *r)
{
  json_builder_set_member_name (b, "recipe");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "norm"), json_builder_add_string_value (b, strata_enum_to_string (&strata_norm_table, r->norm.kind));
  json_builder_set_member_name (b, "activation"), json_builder_add_string_value (b, strata_enum_to_string (&strata_activation_table, r->act));
  json_builder_set_member_name (b, "gated_mlp"), json_builder_add_boolean_value (b, r->gated);
  json_builder_set_member_name (b, "parallel"), json_builder_add_boolean_value (b, r->parallel);
  json_builder_set_member_name (b, "pre_norms"), json_builder_add_boolean_value (b, r->pre_norms);
  json_builder_set_member_name (b, "post_norms"), json_builder_add_boolean_value (b, r->post_norms);
  json_builder_set_member_name (b, "qk_norm"), json_builder_add_string_value (b, strata_enum_to_string (&strata_qk_norm_table, r->qk_norm));
  json_builder_set_member_name (b, "rope_dims"), json_builder_add_int_value (b, r->rope.dims);
  json_builder_set_member_name (b, "attn_scale"), json_builder_add_double_value (b, r->attn.scale);
  json_builder_set_member_name (b, "attn_softcap"), json_builder_add_double_value (b, r->attn.softcap);
  json_builder_set_member_name (b, "window"), json_builder_add_int_value (b, r->attn.window);
  json_builder_set_member_name (b, "window_period"), json_builder_add_int_value (b, r->window_period);
  json_builder_set_member_name (b, "final_softcap"), json_builder_add_double_value (b, r->final_softcap);
  json_builder_set_member_name (b, "embed_scale"), json_builder_add_double_value (b, r->embed_scale);
  json_builder_end_object (b);
}

/* One line each for the block and, when it differs from plain causal attention, the
 * attention of the recipe. */
static void
print_recipe (const StrataConfig *c)
{
  const StrataRecipe *r = &c->recipe;
  printf ("  positions      %s", positions_name (r));
  if (r->rope.pairing != STRATA_ROPE_NONE) {
    if (r->rope.dims != c->d_head)
      printf (" on %d of %d dims", r->rope.dims, c->d_head);
    printf (" (theta %g)", r->rope.theta);
  }
  printf ("\n  block          %s, %s, %sMLP %s%s%s%s%s\n", strata_enum_get_label (&strata_norm_table, r->norm.kind),
          r->parallel ? "attention and MLP in parallel" : "attention then MLP", r->gated ? "gated " : "",
          strata_enum_get_label (&strata_activation_table, r->act), r->pre_norms ? "" : ", no pre-norms",
          r->post_norms ? ", post-norms" : "",
          r->qk_norm ? ", q/k norms " : "", r->qk_norm ? strata_enum_get_label (&strata_qk_norm_table, r->qk_norm) : "");
  if (r->attn.softcap > 0 || r->attn.window > 0 || r->final_softcap > 0 || r->embed_scale != 1.0f ||
      r->attn.scale != 1.0f / sqrtf ((float) c->d_head)) {
    printf ("  attention      scale %g", r->attn.scale);
    if (r->attn.softcap > 0)
      printf (", soft-cap %g", r->attn.softcap);
    if (r->attn.window > 0)
      printf (", window %d every %d layer%s", r->attn.window, r->window_period, r->window_period > 1 ? "s" : "");
    if (r->final_softcap > 0)
      printf ("; logits soft-cap %g", r->final_softcap);
    if (r->embed_scale != 1.0f)
      printf ("; embedding x %g", r->embed_scale);
    printf ("\n");
  }
}

int
strata_cmd_info (int argc, char **argv)
{
  g_auto (ModelOptions) mo = { 0 };
  g_autofree char *device = NULL;
  GOptionEntry extra[] = { STRATA_CLI_DEVICE_ENTRY (device), { NULL } };
  GError *error = NULL;
  if (!parse (&argc, &argv, "MODEL", "Open and validate a checkpoint; say which device would run it.", &mo, extra,
              &error))
    return strata_cli_fail (error);
  if (argc != 2)
    return strata_cli_fail (g_error_new (G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "info takes one MODEL"));
  StrataDeviceChoice dev;
  if (!strata_cli_device (device, &dev, &error))
    return strata_cli_fail (error);
  /* What is free where a run would put the weights (host memory for the CPU), and in host
   * memory, before this command's own load takes its share. */
  size_t free_bytes = strata_backend_memory_free (dev.backend->host_memory ? NULL : dev.backend);
  size_t host_available = strata_memory_available ();
  /* In the dtype a run on that device would keep, so the card's "weights" line is true; in
   * host memory, since nothing runs. */
  g_autoptr (StrataModel) m = open_model (argv[1], &mo, dev.backend, NULL, FALSE, &error);
  if (!m)
    return strata_cli_fail (error);
  const StrataConfig *c = &m->weights->cfg;
  size_t params = strata_weights_param_count (m->weights);
  const char *tok_kind[] = { "byte-level BPE", "SentencePiece BPE", "word level" };
  /* What a run would put in the device's memory (host memory for the CPU), against what was
   * free there: a load that cannot fit is said before it is tried. */
  size_t weights_bytes = m->weights->arena_bytes;
  char held[128];
  strata_weights_dtypes_string (m->weights, held, sizeof held);
  gboolean all_f32 = strata_weights_matrix_dtypes (m->weights) == 1u << STRATA_DTYPE_F32;
  if (mo.json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "path"), json_builder_add_string_value (b, m->path);
    json_builder_set_member_name (b, "name"), json_builder_add_string_value (b, m->name);
    json_builder_set_member_name (b, "format"), json_builder_add_string_value (b, strata_format_to_string (m->format));
    json_builder_set_member_name (b, "architecture"), json_builder_add_string_value (b, m->arch);
    json_builder_set_member_name (b, "family"), json_builder_add_string_value (b, strata_family_to_string (c->family));
    json_builder_set_member_name (b, "layers"), json_builder_add_int_value (b, c->n_layers);
    json_builder_set_member_name (b, "d_model"), json_builder_add_int_value (b, c->d_model);
    json_builder_set_member_name (b, "heads"), json_builder_add_int_value (b, c->n_heads);
    json_builder_set_member_name (b, "kv_heads"), json_builder_add_int_value (b, c->n_kv_heads);
    json_builder_set_member_name (b, "d_head"), json_builder_add_int_value (b, c->d_head);
    json_builder_set_member_name (b, "d_mlp"), json_builder_add_int_value (b, c->d_mlp);
    json_builder_set_member_name (b, "vocab"), json_builder_add_int_value (b, c->vocab);
    json_builder_set_member_name (b, "context"), json_builder_add_int_value (b, c->n_ctx);
    json_builder_set_member_name (b, "positions"), json_builder_add_string_value (b, positions_name (&c->recipe));
    json_builder_set_member_name (b, "rope_theta"), json_builder_add_double_value (b, c->recipe.rope.theta);
    json_builder_set_member_name (b, "norm_eps"), json_builder_add_double_value (b, c->recipe.norm.eps);
    json_builder_set_member_name (b, "tied_embeddings"), json_builder_add_boolean_value (b, c->recipe.tied);
    add_recipe_json (b, &c->recipe);
    json_builder_set_member_name (b, "parameters"), json_builder_add_int_value (b, (gint64) params);
    json_builder_set_member_name (b, "dtype"), json_builder_add_string_value (b, strata_dtype_to_string (m->dtype));
    json_builder_set_member_name (b, "matrices_held_as"), json_builder_add_string_value (b, held);
    if (m->stored_types)
      json_builder_set_member_name (b, "stored_types"), json_builder_add_string_value (b, m->stored_types);
    json_builder_set_member_name (b, "weights_sha256"), json_builder_add_string_value (b, strata_model_get_weights_sha256 (m));
    json_builder_set_member_name (b, "tokenizer");
    if (m->tokenizer) {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "kind");
      json_builder_add_string_value (b, tok_kind[strata_tokenizer_get_kind (m->tokenizer)]);
      json_builder_set_member_name (b, "source");
      json_builder_add_string_value (b, strata_tokenizer_get_source (m->tokenizer));
      json_builder_set_member_name (b, "vocab"), json_builder_add_int_value (b, strata_tokenizer_get_vocab_size (m->tokenizer));
      json_builder_end_object (b);
    } else {
      json_builder_add_null_value (b);
      if (m->tokenizer_note)
        json_builder_set_member_name (b, "tokenizer_note"), json_builder_add_string_value (b, m->tokenizer_note);
    }
    json_builder_set_member_name (b, "add_bos"), json_builder_add_boolean_value (b, m->add_bos);
    json_builder_set_member_name (b, "bos_id"), json_builder_add_int_value (b, m->bos_id);
    json_builder_set_member_name (b, "eos_id"), json_builder_add_int_value (b, m->eos_id);
    json_builder_set_member_name (b, "device");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name"), json_builder_add_string_value (b, dev.backend->name);
    json_builder_set_member_name (b, "asked"), json_builder_add_string_value (b, dev.asked);
    json_builder_set_member_name (b, "fell_back"), json_builder_add_boolean_value (b, dev.fell_back);
    json_builder_set_member_name (b, "why"), json_builder_add_string_value (b, dev.why);
    json_builder_set_member_name (b, "label"), json_builder_add_string_value (b, dev.label); /* the window's card */
    json_builder_set_member_name (b, "weights_bytes"), json_builder_add_int_value (b, (gint64) weights_bytes);
    json_builder_set_member_name (b, "free_bytes");
    if (free_bytes == SIZE_MAX)
      json_builder_add_null_value (b);
    else
      json_builder_add_int_value (b, (gint64) free_bytes);
    json_builder_end_object (b);
    json_builder_end_object (b);
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    return strata_cli_write_json (root, "-", &error) ? 0 : strata_cli_fail (error);
  }
  printf ("%s (%s, %s)\n", m->name, strata_format_to_string (m->format), m->path);
  printf ("  architecture   %s (family %s)\n", m->arch, strata_family_to_string (c->family));
  printf ("  layers         %d\n  width          %d\n", c->n_layers, c->d_model);
  printf ("  heads          %d query, %d key/value, head size %d\n", c->n_heads, c->n_kv_heads, c->d_head);
  printf ("  MLP width      %d\n  vocabulary     %d\n  context        %d\n", c->d_mlp, c->vocab, c->n_ctx);
  print_recipe (c);
  printf ("  norm epsilon   %g\n  embeddings     %s\n", c->recipe.norm.eps, c->recipe.tied ? "tied" : "untied");
  printf ("  parameters     %zu (%.2f M)\n  dtype          %s (computed in f32)\n", params, params / 1e6,
          strata_dtype_to_string (m->dtype));
  if (m->stored_types)
    printf ("  stored as      %s\n", m->stored_types);
  if (!all_f32 && dev.backend->host_memory)
    printf ("  weights        kept in %s (%.2f GB), converted to f32 per product: an f32 copy would need %.1f GB "
            "(%.1f GB available now)\n", held, m->weights->arena_bytes / 1e9,
            strata_weights_size_as (m->weights, STRATA_DTYPE_F32) / 1e9, host_available / 1e9);
  else if (!all_f32)
    printf ("  weights        kept in %s on the %s device, %.1f GB (each product widens blocks of rows there)\n",
            held, dev.backend->name, m->weights->arena_bytes / 1e9);
  printf ("  weights sha256 %s\n", strata_model_get_weights_sha256 (m));
  if (m->tokenizer)
    printf ("  tokenizer      %s, %d pieces, %s\n", tok_kind[strata_tokenizer_get_kind (m->tokenizer)],
            strata_tokenizer_get_vocab_size (m->tokenizer), strata_tokenizer_get_source (m->tokenizer));
  else if (m->tokenizer_note)
    printf ("  tokenizer      none: %s (pass --tokenizer FILE)\n", m->tokenizer_note);
  else
    printf ("  tokenizer      none (pass --tokenizer FILE)\n");
  printf ("  BOS            %s (bos %d, eos %d)\n", m->add_bos ? "prepended" : "not prepended", m->bos_id, m->eos_id);
  printf ("  device         %s%s: %s\n", dev.label, dev.from_env ? " (from STRATA_DEVICE)" : "", dev.why);
  const char *where = dev.backend->host_memory ? "in host memory" : "on the device";
  g_autofree char *need = g_format_size (weights_bytes), *have = g_format_size (free_bytes);
  if (free_bytes == SIZE_MAX)
    printf ("  memory         the weights take %s %s (free memory unknown)\n", need, where);
  else if (weights_bytes > free_bytes)
    printf ("  memory         the weights take %s %s, more than the %s free there now: a run would not fit\n", need,
            where, have);
  else
    printf ("  memory         the weights take %s %s, %s free there now\n", need, where, have);
  return 0;
}

static void
add_ids_and_pieces (JsonBuilder *b, StrataModel *m, const int32_t *ids, guint n)
{
  json_builder_set_member_name (b, "ids");
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    json_builder_add_int_value (b, ids[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "pieces");
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    json_builder_add_string_value (b, strata_tokenizer_get_piece (m->tokenizer, ids[i]));
  json_builder_end_array (b);
}

int
strata_cmd_tokenize (int argc, char **argv)
{
  g_auto (ModelOptions) mo = { 0 };
  GError *error = NULL;
  if (!parse (&argc, &argv, "MODEL TEXT", "Print the token ids and pieces of TEXT (BOS policy applied).",
              &mo, NULL, &error))
    return strata_cli_fail (error);
  if (argc != 3)
    return strata_cli_fail (g_error_new (G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "tokenize takes MODEL and TEXT"));
  g_autoptr (StrataModel) m = open_model (argv[1], &mo, NULL, NULL, TRUE, &error);
  if (!m)
    return strata_cli_fail (error);
  g_autoptr (GArray) ids = strata_model_encode (m, argv[2], &error);
  if (!ids)
    return strata_cli_fail (error);
  const int32_t *v = (const int32_t *) ids->data;
  if (mo.json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "text"), json_builder_add_string_value (b, argv[2]);
    add_ids_and_pieces (b, m, v, ids->len);
    json_builder_end_object (b);
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    return strata_cli_write_json (root, "-", &error) ? 0 : strata_cli_fail (error);
  }
  for (guint i = 0; i < ids->len; i++) {
    g_autofree char *shown = g_strescape (strata_tokenizer_get_piece (m->tokenizer, v[i]), NULL);
    printf ("%6d  \"%s\"\n", v[i], shown);
  }
  return 0;
}

/* Prints each new token's piece as it comes. */
typedef struct {
  StrataModel *model;
  gboolean after_bos; /* the first token follows BOS */
} Echo;

static gboolean
echo_token (int32_t id, gpointer data)
{
  Echo *echo = data;
  const char *piece = strata_tokenizer_get_piece (echo->model->tokenizer, id);
  /* SentencePiece's dummy prefix puts a space before the first word; like llama2.c's run.c,
   * do not print it right after BOS. */
  if (echo->after_bos && piece[0] == ' ' && strata_tokenizer_get_kind (echo->model->tokenizer) == STRATA_TOKENIZER_SPM_BPE)
    piece++;
  echo->after_bos = FALSE;
  fputs (piece, stdout);
  fflush (stdout);
  return TRUE;
}

static gboolean
generate (const StrataBackend *backend, StrataPrecision precision, StrataModel *m, GArray *ids, const StrataGenerateOptions *go, gboolean echo,
          GError **error)
{
  StrataEngine *e = strata_cli_engine_new (backend, precision, m, error);
  if (!e)
    return FALSE;
  Echo state = { m, ids->len == 1 && g_array_index (ids, int32_t, 0) == m->bos_id };
  gboolean ok = strata_generate (e, m, ids, go, echo && m->tokenizer ? echo_token : NULL, &state, error);
  strata_engine_free (e);
  return ok;
}

int
strata_cmd_generate (int argc, char **argv)
{
  g_auto (ModelOptions) mo = { 0 };
  g_autofree char *prompt = NULL, *device = NULL, *precision_name = NULL;
  int n = 32;
  StrataCliSampling sampling = STRATA_CLI_SAMPLING_INIT;
  GOptionEntry extra[] = {
    STRATA_CLI_DEVICE_ENTRY (device),
    STRATA_CLI_PRECISION_ENTRY (precision_name),
    { "prompt", 'p', 0, G_OPTION_ARG_STRING, &prompt, "Text to continue (default: empty, BOS only)", "TEXT" },
    { "tokens", 'n', 0, G_OPTION_ARG_INT, &n, "Number of tokens to generate (default 32)", "N" },
    STRATA_CLI_SAMPLING_ENTRIES (sampling),
    { NULL }
  };
  g_autofree char *stop = NULL; /* frees what the option parser allocated */
  GError *error = NULL;
  if (!parse (&argc, &argv, "MODEL", "Continue a prompt: greedy, or sampled with a seed.", &mo, extra, &error))
    return strata_cli_fail (error);
  if (argc != 2)
    return strata_cli_fail (g_error_new (G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "generate takes one MODEL"));
  stop = sampling.stop;
  StrataGenerateOptions go;
  StrataPrecision precision;
  if (!strata_cli_generate_options (&sampling, n, &go, &error) || !strata_cli_precision (precision_name, &precision, &error))
    return strata_cli_fail (error);
  const StrataBackend *backend = strata_cli_device (device, NULL, &error);
  if (!backend)
    return strata_cli_fail (error);
  g_autoptr (StrataModel) m = open_model (argv[1], &mo, backend, backend, TRUE, &error);
  if (!m)
    return strata_cli_fail (error);
  g_autoptr (GArray) ids = strata_model_encode (m, prompt ? prompt : "", &error);
  if (!ids)
    return strata_cli_fail (error);
  if (ids->len == 0)
    return strata_cli_fail (g_error_new (G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                                         "the prompt is empty and the model prepends no BOS: give --prompt"));
  guint prompt_len = ids->len;
  if (!mo.json)
    fputs (prompt ? prompt : "", stdout);
  if (!generate (backend, precision, m, ids, &go, !mo.json, &error))
    return strata_cli_fail (error);
  if (mo.json) {
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "prompt_ids");
    json_builder_begin_array (b);
    for (guint i = 0; i < prompt_len; i++)
      json_builder_add_int_value (b, g_array_index (ids, int32_t, i));
    json_builder_end_array (b);
    add_ids_and_pieces (b, m, (const int32_t *) ids->data + prompt_len, ids->len - prompt_len);
    g_autofree char *text = strata_tokenizer_decode (m->tokenizer, (const int32_t *) ids->data + prompt_len,
                                                     ids->len - prompt_len);
    json_builder_set_member_name (b, "text"), json_builder_add_string_value (b, text);
    json_builder_set_member_name (b, "device"), json_builder_add_string_value (b, backend->name);
    json_builder_set_member_name (b, "precision"), json_builder_add_string_value (b, strata_precision_to_string (precision));
    json_builder_end_object (b);
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    return strata_cli_write_json (root, "-", &error) ? 0 : strata_cli_fail (error);
  }
  putchar ('\n');
  return 0;
}
