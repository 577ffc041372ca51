/* test-formats-arch.c (included by test-formats.c): the Gemma 2, Qwen3, OLMo-2, Phi-3 and
 * Mistral config parsers, on the golden checkpoints (tests/data/golden/) with their
 * config.json edited: what each field sets in the recipe, and that every refusal names the
 * field or the tensor. The numbers of these models are tested by test-forward.c. */

/* The golden checkpoint `golden` in t->dir, its config.json with `from` replaced by `to`
 * (once; NULL: as it is). */
static void
copy_edited (Tmp *t, const char *golden, const char *from, const char *to)
{
  g_autofree char *st = g_build_filename ("golden", golden, "model.safetensors", NULL);
  g_autofree char *json = g_build_filename ("golden", golden, "config.json", NULL);
  g_free (tmp_copy_fixture (t, st, "model.safetensors"));
  gsize len;
  g_autofree char *cfg = (char *) read_fixture (json, &len);
  g_autoptr (GString) s = g_string_new_len (cfg, (gssize) len);
  if (from)
    g_assert_cmpuint (g_string_replace (s, from, to, 1), ==, 1);
  g_free (tmp_write (t, "config.json", s->str, s->len));
}

static StrataModel *
open_edited (Tmp *t, const char *golden, const char *from, const char *to)
{
  copy_edited (t, golden, from, to);
  g_autoptr (GError) error = NULL;
  StrataModel *m = strata_model_open (t->dir, NULL, &error);
  g_assert_no_error (error);
  return m;
}

static void
fails_edited (Tmp *t, const char *golden, const char *from, const char *to, const char *file, const char *phrase)
{
  copy_edited (t, golden, from, to);
  assert_open_fails (t->dir, NULL, file, phrase);
}

static void
test_arch_gemma2 (Tmp *t, gconstpointer data)
{
  g_autoptr (StrataModel) m = open_edited (t, "gemma2-window", NULL, NULL);
  const StrataConfig *c = &m->weights->cfg;
  const StrataRecipe *r = &c->recipe;
  g_assert_cmpint (c->family, ==, STRATA_FAMILY_GEMMA2);
  g_assert_cmpint (c->d_head, ==, 16); /* head_dim, not hidden_size / heads */
  g_assert_cmpint (r->norm.kind, ==, STRATA_NORM_RMSNORM_UNIT_OFFSET);
  g_assert_true (r->pre_norms && r->post_norms && r->gated && r->tied);
  g_assert_cmpint (r->act, ==, STRATA_ACT_GELU_TANH);
  g_assert_cmpfloat_with_epsilon (r->attn.scale, 1.0 / sqrt (12.0), 1e-7); /* query_pre_attn_scalar */
  g_assert_cmpfloat (r->attn.softcap, ==, 3.0f);
  g_assert_cmpfloat (r->final_softcap, ==, 4.0f);
  g_assert_cmpint (r->attn.window, ==, 4);
  g_assert_cmpint (r->window_period, ==, 2); /* layers 0, 2, ... */
  g_assert_cmpint (strata_config_layer_attention (c, 0).window, ==, 4);
  g_assert_cmpint (strata_config_layer_attention (c, 1).window, ==, 0);
  g_assert_cmpfloat_with_epsilon (r->embed_scale, sqrt (32.0), 1e-6);
  g_assert_cmpint (c->n_ctx, ==, 16);
  /* null: no soft-cap, no window */
  g_autoptr (StrataModel) a = open_edited (t, "gemma2-window", "\"attn_logit_softcapping\": 3.0",
                                           "\"attn_logit_softcapping\": null");
  g_assert_cmpfloat (a->weights->cfg.recipe.attn.softcap, ==, 0.0f);
  g_autoptr (StrataModel) f = open_edited (t, "gemma2-window", "\"final_logit_softcapping\": 4.0",
                                           "\"final_logit_softcapping\": null");
  g_assert_cmpfloat (f->weights->cfg.recipe.final_softcap, ==, 0.0f);
  g_autoptr (StrataModel) w = open_edited (t, "gemma2-window", "\"sliding_window\": 4", "\"sliding_window\": null");
  g_assert_cmpint (w->weights->cfg.recipe.attn.window, ==, 0);
  fails_edited (t, "gemma2-window", "\"hidden_activation\": \"gelu_pytorch_tanh\"", "\"hidden_activation\": \"gelu\"",
                "config.json", "hidden_activation 'gelu' is not supported");
  fails_edited (t, "gemma2-window", "\"attn_logit_softcapping\": 3.0", "\"attn_logit_softcapping\": -3.0",
                "config.json", "field 'attn_logit_softcapping' must be a positive number or null");
  fails_edited (t, "gemma2-window", "\"query_pre_attn_scalar\": 12", "\"query_pre_attn_scalar\": \"12\"",
                "config.json", "field 'query_pre_attn_scalar' must be a number");
  fails_edited (t, "gemma2-window", "\"head_dim\": 16", "\"head_dim\": 8", "model.safetensors",
                "model.layers.0.self_attn.q_proj.weight");
}

static void
test_arch_qwen3 (Tmp *t, gconstpointer data)
{
  g_autoptr (StrataModel) m = open_edited (t, "qwen3-qknorm", NULL, NULL);
  const StrataConfig *c = &m->weights->cfg;
  g_assert_cmpint (c->family, ==, STRATA_FAMILY_QWEN3);
  g_assert_cmpint (c->recipe.qk_norm, ==, STRATA_QK_NORM_HEAD);
  g_assert_cmpint (c->d_head, ==, 16);
  g_assert_false (c->recipe.qkv_bias || c->recipe.o_bias);
  g_assert_cmpfloat (c->recipe.rope.theta, ==, 1e6f);
  g_assert_cmpint (c->recipe.attn.window, ==, 0);
  /* Newer transformers write rope_theta inside rope_parameters. */
  g_autoptr (StrataModel) p = open_edited (t, "qwen3-qknorm", "\"rope_scaling\": null",
                                           "\"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 5e5}");
  g_assert_cmpfloat (p->weights->cfg.recipe.rope.theta, ==, 5e5f);
  /* A window on some layers: the context is capped at it, which is exact on every layer. */
  g_autoptr (StrataModel) w = open_edited (t, "qwen3-qknorm", "\"sliding_window\": null,\n  \"use_sliding_window\": false",
                                           "\"sliding_window\": 4,\n  \"use_sliding_window\": true");
  g_assert_cmpint (w->weights->cfg.n_ctx, ==, 4);
  fails_edited (t, "qwen3-qknorm", "\"rope_scaling\": null",
                "\"rope_parameters\": {\"rope_type\": \"yarn\", \"factor\": 4.0, \"rope_theta\": 1e6}", "config.json",
                "field 'rope_parameters' has rope_type 'yarn'");
  fails_edited (t, "qwen3-qknorm", "\"attention_bias\": false", "\"attention_bias\": true", "model.safetensors",
                "model.layers.0.self_attn.q_proj.bias");
  fails_edited (t, "qwen3-qknorm", "\"head_dim\": 16,", "", "model.safetensors", "self_attn.q_proj.weight");
}

static void
test_arch_olmo2 (Tmp *t, gconstpointer data)
{
  g_autoptr (StrataModel) m = open_edited (t, "olmo2-postnorm", NULL, NULL);
  const StrataConfig *c = &m->weights->cfg;
  g_assert_cmpint (c->family, ==, STRATA_FAMILY_OLMO2);
  g_assert_false (c->recipe.pre_norms);
  g_assert_true (c->recipe.post_norms);
  g_assert_cmpint (c->recipe.qk_norm, ==, STRATA_QK_NORM_WHOLE);
  g_assert_null (m->weights->layers[0].norm1_w);
  g_assert_null (m->weights->layers[1].norm2_w);
  g_assert_nonnull (m->weights->layers[1].attn_post_w);
  g_assert_false (c->recipe.tied);
  fails_edited (t, "olmo2-postnorm", "\"rope_scaling\": null", "\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 2.0}",
                "config.json", "field 'rope_scaling' is set (type 'linear')");
}

static void
test_arch_phi3 (Tmp *t, gconstpointer data)
{
  g_autoptr (StrataModel) m = open_edited (t, "phi3-fused", NULL, NULL);
  const StrataConfig *c = &m->weights->cfg;
  g_assert_cmpint (c->family, ==, STRATA_FAMILY_PHI3);
  g_assert_cmpint (c->recipe.rope.dims, ==, c->d_head);
  g_assert_cmpint (c->recipe.attn.window, ==, 2047); /* sliding_window on every layer */
  g_assert_cmpint (c->recipe.window_period, ==, 1);
  g_assert_cmpint (c->n_ctx, ==, 16);
  g_autoptr (StrataModel) p = open_edited (t, "phi3-fused", "\"rope_scaling\": null,",
                                           "\"rope_scaling\": null, \"partial_rotary_factor\": 0.75,");
  g_assert_cmpint (p->weights->cfg.recipe.rope.dims, ==, 6); /* int(8 * 0.75) */
  /* The 128k-context models' rope_scaling, in both spellings. */
  fails_edited (t, "phi3-fused", "\"rope_scaling\": null",
                "\"rope_scaling\": {\"type\": \"longrope\", \"short_factor\": [1.0], \"long_factor\": [1.0]}",
                "config.json", "field 'rope_scaling' is set (type 'longrope'); scaled RoPE is not supported");
  fails_edited (t, "phi3-fused", "\"rope_scaling\": null",
                "\"rope_scaling\": {\"type\": \"su\", \"short_factor\": [1.0], \"long_factor\": [1.0]}", "config.json",
                "field 'rope_scaling' is set (type 'su')");
  fails_edited (t, "phi3-fused", "\"rope_scaling\": null,", "\"rope_scaling\": null, \"partial_rotary_factor\": 0.4,",
                "config.json", "partial_rotary_factor 0.4 gives 3 rotary dimensions");
  fails_edited (t, "phi3-fused", "\"num_key_value_heads\": 2", "\"num_key_value_heads\": 4", "model.safetensors",
                "model.layers.0.self_attn.qkv_proj.weight");
}

static void
test_arch_mistral_window (Tmp *t, gconstpointer data)
{
  g_autoptr (StrataModel) m = open_edited (t, "mistral-window", NULL, NULL);
  const StrataConfig *c = &m->weights->cfg;
  /* The window on every layer, the context max_position_embeddings (no longer capped). */
  g_assert_cmpint (c->recipe.attn.window, ==, 4);
  g_assert_cmpint (c->recipe.window_period, ==, 1);
  g_assert_cmpint (strata_config_layer_attention (c, 1).window, ==, 4);
  g_assert_cmpint (c->n_ctx, ==, 16);
  g_autoptr (StrataModel) n = open_edited (t, "mistral-window", "\"sliding_window\": 4", "\"sliding_window\": null");
  g_assert_cmpint (n->weights->cfg.recipe.attn.window, ==, 0);
}

/* An unknown model_type is refused with the list of those that open. */
static void
test_arch_unknown (Tmp *t, gconstpointer data)
{
  fails_edited (t, "gemma2-window", "\"model_type\": \"gemma2\"", "\"model_type\": \"gemma3_text\"", "config.json",
                "model_type 'gemma3_text' is not supported (gpt2, llama, mistral, qwen2, gpt_neox, gemma2, qwen3, "
                "olmo2, phi3)");
}

static void
add_arch_tests (void)
{
  ADD_TMP ("/data/hf/arch/gemma2", test_arch_gemma2);
  ADD_TMP ("/data/hf/arch/qwen3", test_arch_qwen3);
  ADD_TMP ("/data/hf/arch/olmo2", test_arch_olmo2);
  ADD_TMP ("/data/hf/arch/phi3", test_arch_phi3);
  ADD_TMP ("/data/hf/arch/mistral-window", test_arch_mistral_window);
  ADD_TMP ("/data/hf/arch/unknown", test_arch_unknown);
}
