/* --device and STRATA_DEVICE as a person meets them on the command line: which device runs,
 * what the JSON and the session record, and what an unusable or unknown device does (exit 1,
 * the reason on stderr, nothing on stdout, no file written).
 *
 * The expectations follow this build and machine: the test asks strata_backend_select
 * whether CUDA is usable here (it links the same kernels) and checks the CUDA answers when
 * it is, the fallbacks when it is not. Without a GPU only the second half can run. */
#include <glib/gstdio.h>
#include <math.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "strata-backend.h"
#include "strata-config.h"
#include "strata-session.h"
#include "test-cli-util.h"

static const StrataBackend *cuda; /* NULL: CUDA not usable in this build or on this machine */
static char cuda_why[256];

/* strata ARGS with STRATA_DEVICE set to `env` (NULL: unset). */
static void
strata_env (Run *r, const char *env, const char *const *args)
{
  g_auto (GStrv) envp = g_get_environ ();
  envp = env ? g_environ_setenv (envp, "STRATA_DEVICE", env, TRUE) : g_environ_unsetenv (envp, "STRATA_DEVICE");
  strata_envp (r, envp, args);
}

static JsonObject *
parse_object (JsonParser *p, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (json_parser_load_from_data (p, text, -1, &error));
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (p));
}

static guint
count_lines (const char *s)
{
  guint n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

/* `lens` on stories260K with `device` (NULL: no option) and STRATA_DEVICE `env`; its JSON on
 * stdout. */
static void
lens (Run *r, const char *env, const char *device)
{
  g_autofree char *model = data_path ("stories260K-gguf/stories260K.gguf");
  if (device)
    strata_env (r, env, (const char *[]) { "lens", model, "--prompt", "Once upon", "--device", device, "--json", "-", NULL });
  else
    strata_env (r, env, (const char *[]) { "lens", model, "--prompt", "Once upon", "--json", "-", NULL });
}

static void
assert_ran_on (const Run *r, const char *name)
{
  if (r->status != 0)
    g_error ("exit %d: %s", r->status, r->err);
  g_autoptr (JsonParser) p = json_parser_new ();
  JsonObject *o = parse_object (p, r->out);
  g_assert_cmpstr (json_object_get_string_member (o, "device"), ==, name);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (o, "model"), "device"), ==, name);
}

/* A refused device: exit 1, the reason (and `needle`) on one stderr line, nothing on stdout. */
static void
assert_refused (const Run *r, const char *needle)
{
  g_test_message ("stderr: %s", r->err);
  g_assert_cmpint (r->status, ==, 1);
  g_assert_cmpstr (r->out, ==, "");
  g_assert_cmpuint (count_lines (r->err), ==, 1);
  if (!strstr (r->err, needle))
    g_error ("expected '%s' in: %s", needle, r->err);
}

static void
test_cpu (void)
{
  g_auto (Run) r = { 0 };
  lens (&r, NULL, "cpu");
  assert_ran_on (&r, "cpu");
  g_assert_cmpstr (r.err, ==, ""); /* asked for the CPU: nothing to explain */
}

static void
test_cuda (void)
{
  g_autofree char *dir = g_dir_make_tmp ("strata-device-XXXXXX", NULL);
  g_autofree char *json = g_build_filename (dir, "out.json", NULL);
  g_autofree char *h5 = g_build_filename (dir, "out.h5", NULL);
  g_autofree char *model = data_path ("stories260K-gguf/stories260K.gguf");
  g_auto (Run) r = { 0 };
  strata_env (&r, NULL, (const char *[]) { "lens", model, "--prompt", "Once upon", "--device", "cuda", "--json", json,
                                           "--session", h5, NULL });
  if (cuda) {
    g_assert_cmpint (r.status, ==, 0);
    g_autoptr (StrataSession) s = strata_session_load (h5, NULL);
    g_assert_nonnull (s);
    g_assert_cmpstr (((StrataAnalysis *) s->analyses->pdata[0])->model.device, ==, "cuda");
  } else {
    /* The driver's (or the build's) own words, after the option that asked. */
    g_autofree char *expect = g_strdup_printf ("--device cuda: %s", cuda_why);
    assert_refused (&r, expect);
    g_assert_false (g_file_test (json, G_FILE_TEST_EXISTS));
    g_assert_false (g_file_test (h5, G_FILE_TEST_EXISTS));
  }
  g_unlink (json), g_unlink (h5), g_rmdir (dir);
  /* Every command that runs a model refuses the same way. */
  g_autofree char *tok = data_path ("stories260K/tok512.bin");
  g_autofree char *bin = data_path ("stories260K/stories260K.bin");
  g_autofree char *series = data_path ("twohop-series/cot");
  const char *const cases[][12] = {
    { "generate", model, "-n", "2", "--device", "cuda", NULL },
    { "patch", model, "--clean", "Once upon", "--corrupt", "Lily upon", "--target", "#1", "--device", "cuda", "--json", "-" },
    { "info", bin, "--tokenizer", tok, "--device", "cuda", NULL },
    { "series", series, "--ids", "2,325,325", "--target", "#298", "--device", "cuda", "--json", "-", NULL },
  };
  for (gsize i = 0; !cuda && i < G_N_ELEMENTS (cases); i++) {
    g_auto (Run) c = { 0 };
    const char *args[13] = { 0 };
    memcpy (args, cases[i], sizeof cases[i]);
    strata_env (&c, NULL, args);
    assert_refused (&c, cuda_why);
  }
}

static void
test_auto (void)
{
  g_auto (Run) r = { 0 };
  lens (&r, NULL, "auto");
  assert_ran_on (&r, cuda ? "cuda" : "cpu");
  if (cuda)
    g_assert_cmpstr (r.err, ==, "");
  else {
    /* One line says why it is the CPU. */
    g_assert_cmpuint (count_lines (r.err), ==, 1);
    g_assert_nonnull (strstr (r.err, "auto"));
    g_assert_nonnull (strstr (r.err, cuda_why));
  }
  /* No option and no STRATA_DEVICE: auto, the same answer. */
  g_auto (Run) d = { 0 };
  lens (&d, NULL, NULL);
  assert_ran_on (&d, cuda ? "cuda" : "cpu");
  g_assert_cmpstr (d.err, ==, r.err);
}

static void
test_env (void)
{
  g_auto (Run) r = { 0 };
  lens (&r, "cpu", NULL);
  assert_ran_on (&r, "cpu");
  g_assert_cmpstr (r.err, ==, ""); /* cpu as asked (by the environment): no fallback line */
  /* --device overrides STRATA_DEVICE, both ways. */
  g_auto (Run) o = { 0 };
  lens (&o, "cuda", "cpu");
  assert_ran_on (&o, "cpu");
  g_auto (Run) back = { 0 };
  lens (&back, "cpu", "auto");
  assert_ran_on (&back, cuda ? "cuda" : "cpu");
  if (!cuda) {
    g_auto (Run) c = { 0 };
    lens (&c, "cuda", NULL);
    assert_refused (&c, "STRATA_DEVICE=cuda");
    g_assert_nonnull (strstr (c.err, cuda_why));
  }
  g_auto (Run) bad = { 0 };
  lens (&bad, "tpu", NULL);
  assert_refused (&bad, "STRATA_DEVICE=tpu");
  g_assert_nonnull (strstr (bad.err, STRATA_DEVICE_NAMES));
}

static void
test_unknown (void)
{
  g_auto (Run) r = { 0 };
  lens (&r, NULL, "tpu");
  assert_refused (&r, "--device tpu");
  g_assert_nonnull (strstr (r.err, STRATA_DEVICE_NAMES));
}

/* `info` says what it would use, and why. */
static void
test_info (void)
{
  g_autofree char *model = data_path ("stories260K-gguf/stories260K.gguf");
  g_auto (Run) r = { 0 };
  strata_env (&r, NULL, (const char *[]) { "info", model, "--device", "auto", NULL });
  g_assert_cmpint (r.status, ==, 0);
  const char *line = strstr (r.out, "\n  device ");
  g_assert_nonnull (line);
  g_autofree char *expect = cuda ? g_strdup ("cuda (") : g_strdup_printf ("cpu (auto: %s): %s", STRATA_HAVE_CUDA ? "no usable GPU" : "CUDA not built", cuda_why);
  if (!strstr (line, expect))
    g_error ("expected '%s' in: %s", expect, line);

  g_auto (Run) j = { 0 };
  strata_env (&j, NULL, (const char *[]) { "info", model, "--device", "auto", "--json", NULL });
  g_assert_cmpint (j.status, ==, 0);
  g_autoptr (JsonParser) p = json_parser_new ();
  JsonObject *d = json_object_get_object_member (parse_object (p, j.out), "device");
  g_assert_cmpstr (json_object_get_string_member (d, "name"), ==, cuda ? "cuda" : "cpu");
  g_assert_cmpstr (json_object_get_string_member (d, "asked"), ==, "auto");
  g_assert_cmpint (json_object_get_boolean_member (d, "fell_back"), ==, cuda == NULL);
  g_assert_cmpstr (json_object_get_string_member (d, "why"), ==, cuda_why);

  /* A small BF16 checkpoint as a run on each device would hold it: converted to F32 once on
   * the CPU, kept in BF16 on a GPU. */
  g_autofree char *bf16 = data_path ("golden/mistral-bf16");
  for (int on_cuda = 0; on_cuda <= (cuda != NULL); on_cuda++) {
    g_auto (Run) h = { 0 };
    strata_env (&h, NULL, (const char *[]) { "info", bf16, "--device", on_cuda ? "cuda" : "cpu", "--json", NULL });
    g_assert_cmpint (h.status, ==, 0);
    g_autoptr (JsonParser) hp = json_parser_new ();
    JsonObject *o = parse_object (hp, h.out);
    g_assert_cmpstr (json_object_get_string_member (o, "matrices_held_as"), ==, on_cuda ? "BF16" : "F32");
    /* The bytes a run holds: every parameter in the dtype held (F32 vectors included), no
     * more than 64 bytes of alignment per tensor (fewer than 64 tensors here) on top. */
    JsonObject *d = json_object_get_object_member (o, "device");
    gint64 params = json_object_get_int_member (o, "parameters");
    gint64 bytes = json_object_get_int_member (d, "weights_bytes");
    g_assert_cmpint (bytes, >=, params * (on_cuda ? 2 : 4));
    g_assert_cmpint (bytes, <=, params * 4 + 64 * 64);
    g_assert_cmpint (json_object_get_int_member (d, "free_bytes"), >, 0);
  }

  /* Too little free memory: said before anything runs. */
  g_auto (GStrv) envp = g_environ_setenv (g_get_environ (), "STRATA_MEMORY_LIMIT", "1000", TRUE);
  g_auto (Run) tight = { 0 };
  strata_envp (&tight, envp, (const char *[]) { "info", bf16, "--device", "cpu", NULL });
  g_assert_cmpint (tight.status, ==, 0);
  /* g_format_size puts a no-break space before the unit. */
  g_assert_nonnull (strstr (tight.out, "more than the 1.0\xc2\xa0kB free there now: a run would not fit"));
}

/* The session records the device: read back by the session API and `strata session-info`. */
static void
test_session (void)
{
  g_autofree char *dir = g_dir_make_tmp ("strata-device-XXXXXX", NULL);
  g_autofree char *h5 = g_build_filename (dir, "lens.h5", NULL);
  g_autofree char *model = data_path ("stories260K-gguf/stories260K.gguf");
  g_autofree char *other = data_path ("stories260K/stories260K.bin");
  g_autofree char *tok = data_path ("stories260K/tok512.bin");
  g_auto (Run) r = { 0 };
  strata_env (&r, NULL, (const char *[]) { "lens", model, "--prompt", "Once upon", "--compare", other, "--tokenizer", tok,
                                           "--device", "cpu", "--session", h5, NULL });
  if (r.status != 0)
    g_error ("exit %d: %s", r.status, r.err);
  GError *error = NULL;
  g_autoptr (StrataSession) s = strata_session_load (h5, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (s->analyses->len, ==, 2); /* --compare runs on the same device */
  for (guint i = 0; i < 2; i++)
    g_assert_cmpstr (((StrataAnalysis *) s->analyses->pdata[i])->model.device, ==, "cpu");
  g_auto (Run) info = { 0 };
  strata_env (&info, NULL, (const char *[]) { "session-info", h5, NULL });
  g_assert_cmpint (info.status, ==, 0);
  g_assert_nonnull (strstr (info.out, "  device     cpu\n"));
  g_unlink (h5), g_rmdir (dir);
}

/* generate, patch and series take the option too and say where they ran. */
static void
test_commands (void)
{
  g_autofree char *model = data_path ("stories260K-gguf/stories260K.gguf");
  g_auto (Run) g = { 0 };
  strata_env (&g, NULL, (const char *[]) { "generate", model, "-n", "3", "--device", "cpu", "--json", NULL });
  g_assert_cmpint (g.status, ==, 0);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_cmpstr (json_object_get_string_member (parse_object (p, g.out), "device"), ==, "cpu");

  g_auto (Run) pa = { 0 };
  strata_env (&pa, "cuda", (const char *[]) { "patch", model, "--clean", "Once upon", "--corrupt", "Lily upon", "--target", "#1", "--contrast", "#2",
                                               "--device", "cpu", "--json", "-", NULL });
  assert_ran_on (&pa, "cpu");

  g_autofree char *series = data_path ("twohop-series/cot");
  g_auto (Run) se = { 0 };
  strata_env (&se, "cpu", (const char *[]) { "series", series, "--ids", "2,325,325", "--target", "#298", "--json", "-", NULL });
  g_assert_cmpint (se.status, ==, 0);
  g_autoptr (JsonParser) q = json_parser_new ();
  JsonArray *runs = json_object_get_array_member (parse_object (q, se.out), "runs");
  JsonArray *cps = json_object_get_array_member (json_array_get_object_element (runs, 0), "checkpoints");
  g_assert_cmpuint (json_array_get_length (cps), >, 0);
  for (guint i = 0; i < json_array_get_length (cps); i++) {
    JsonObject *m = json_object_get_object_member (json_array_get_object_element (cps, i), "model");
    g_assert_cmpstr (json_object_get_string_member (m, "device"), ==, "cpu");
  }
}

/* Two JSON answers of the same command on two devices: every string, integer, boolean and
 * null equal (ids, ranks, resolution layers: the discrete results), every float within 1e-4
 * of the larger of 1 and its size; "device" and "seconds" members are where they may differ. */
static void
json_agree (JsonNode *a, JsonNode *b, const char *path, double *worst)
{
  JsonNodeType ta = json_node_get_node_type (a);
  if (ta != json_node_get_node_type (b))
    g_error ("%s: a %s and a %s", path, json_node_type_name (a), json_node_type_name (b));
  if (ta == JSON_NODE_OBJECT) {
    JsonObject *oa = json_node_get_object (a), *ob = json_node_get_object (b);
    g_assert_cmpuint (json_object_get_size (oa), ==, json_object_get_size (ob));
    g_autoptr (GList) members = json_object_get_members (oa);
    for (GList *m = members; m; m = m->next) {
      const char *name = m->data;
      if (strcmp (name, "device") == 0 || strcmp (name, "seconds") == 0)
        continue;
      if (!json_object_has_member (ob, name))
        g_error ("%s.%s: only on one side", path, name);
      g_autofree char *sub = g_strdup_printf ("%s.%s", path, name);
      json_agree (json_object_get_member (oa, name), json_object_get_member (ob, name), sub, worst);
    }
  } else if (ta == JSON_NODE_ARRAY) {
    JsonArray *xa = json_node_get_array (a), *xb = json_node_get_array (b);
    g_assert_cmpuint (json_array_get_length (xa), ==, json_array_get_length (xb));
    for (guint i = 0; i < json_array_get_length (xa); i++) {
      g_autofree char *sub = g_strdup_printf ("%s[%u]", path, i);
      json_agree (json_array_get_element (xa, i), json_array_get_element (xb, i), sub, worst);
    }
  } else if (ta == JSON_NODE_VALUE) {
    GType va = json_node_get_value_type (a), vb = json_node_get_value_type (b);
    /* A float that happens to be whole is written without a point and reads as an integer. */
    gboolean numbers = (va == G_TYPE_DOUBLE || va == G_TYPE_INT64) && (vb == G_TYPE_DOUBLE || vb == G_TYPE_INT64);
    if (va != vb && !numbers)
      g_error ("%s: %s and %s", path, g_type_name (va), g_type_name (vb));
    if (numbers && (va == G_TYPE_DOUBLE || vb == G_TYPE_DOUBLE)) {
      double x = json_node_get_double (a), y = json_node_get_double (b), d = fabs (x - y) / MAX (1.0, fabs (x));
      *worst = MAX (*worst, d);
      if (!(d <= 1e-4))
        g_error ("%s: %.9g and %.9g", path, x, y);
    } else if (va == G_TYPE_STRING) {
      g_assert_cmpstr (json_node_get_string (a), ==, json_node_get_string (b));
    } else {
      g_assert_cmpint (json_node_get_int (a), ==, json_node_get_int (b));
    }
  }
}

/* A command over the two-hop prompt set on the CPU and on a device: the same answers. The
 * device is the GPU when there is one, and always "cpu-as-device", the CPU's arithmetic behind
 * every path that moves data to and from a device (weights loaded into its memory, uploads,
 * batched copies, downloads), so those paths run end to end on every machine. */
static void
test_cpu_vs_device (gconstpointer data)
{
  const char *device = data;
  if (!strcmp (device, "cuda") && !cuda) {
    g_test_skip_printf ("no usable CUDA: %s", cuda_why);
    return;
  }
  g_autofree char *model = data_path ("twohop/cot-3000");
  g_autofree char *prompts = data_path ("twohop/prompts-trimmed.jsonl");
  /* The lens with candidate ranks, the lens without the final norm, patching at the residual
   * stream, attention and MLP outputs (default) and per head. (The default top-10: further down,
   * this model's logits come within 8e-7 of each other, where float32 rounding may order them
   * either way.) */
  const char *const commands[][10] = {
    { "lens", model, "--prompts", prompts, "--candidates-prefix", "<e_", NULL },
    { "lens", model, "--prompts", prompts, "--raw", NULL },
    { "patch", model, "--prompts", prompts, "--target", "bridge", NULL },
    { "patch", model, "--prompts", prompts, "--target", "bridge", "--site", "head", NULL },
    { "generate", model, "--prompt", "<e_12> <r_3>", "-n", "3", NULL },
  };
  for (gsize c = 0; c < G_N_ELEMENTS (commands); c++) {
    g_auto (Run) on_cpu = { 0 }, on_device = { 0 };
    g_autoptr (JsonParser) from_cpu = json_parser_new (), from_device = json_parser_new ();
    Run *runs[2] = { &on_cpu, &on_device };
    JsonParser *parsers[2] = { from_cpu, from_device };
    const char *devices[2] = { "cpu", device };
    for (int d = 0; d < 2; d++) {
      const char *args[16] = { 0 };
      int n = 0;
      for (; n < 10 && commands[c][n]; n++)
        args[n] = commands[c][n];
      args[n++] = "--json";
      if (strcmp (commands[c][0], "generate") != 0) /* its --json takes no file */
        args[n++] = "-";
      args[n++] = "--device", args[n++] = devices[d];
      strata_env (runs[d], NULL, args);
      if (runs[d]->status != 0)
        g_error ("%s on %s: exit %d: %s", commands[c][0], devices[d], runs[d]->status, runs[d]->err);
      g_assert_true (json_parser_load_from_data (parsers[d], runs[d]->out, -1, NULL));
    }
    double worst = 0;
    json_agree (json_parser_get_root (from_cpu), json_parser_get_root (from_device), commands[c][0], &worst);
    g_test_message ("command %zu (%s): cpu and %s agree, worst relative float difference %.2e", c, commands[c][0],
                    device, worst);
  }
}

/* --precision: recorded with the device, refused when unknown (exit 1, nothing written). */
static void
test_precision (void)
{
  g_autofree char *model = data_path ("stories260K-gguf/stories260K.gguf");
  g_auto (Run) r = { 0 };
  strata_env (&r, NULL, (const char *[]) { "lens", model, "--prompt", "Once upon", "--device", "cpu", "--precision", "bf16",
                                           "--json", "-", NULL });
  assert_ran_on (&r, "cpu (bf16 products)");
  g_auto (Run) g = { 0 };
  strata_env (&g, NULL, (const char *[]) { "generate", model, "-n", "2", "--device", "cpu", "--precision", "tf32", "--json", NULL });
  g_assert_cmpint (g.status, ==, 0);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_cmpstr (json_object_get_string_member (parse_object (p, g.out), "precision"), ==, "tf32");
  g_auto (Run) bad = { 0 };
  strata_env (&bad, NULL, (const char *[]) { "lens", model, "--prompt", "Once upon", "--precision", "fp16", "--json", "-", NULL });
  assert_refused (&bad, "--precision takes fp32, tf32 or bf16, not 'fp16'");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (!g_getenv ("STRATA_BIN")) {
    g_test_skip ("STRATA_BIN is not set");
    return g_test_run ();
  }
  cuda = strata_backend_select ("cuda", cuda_why, sizeof cuda_why);
  g_test_message ("cuda here: %s", cuda ? "usable" : cuda_why);
  g_test_add_func ("/cli-device/cpu", test_cpu);
  g_test_add_func ("/cli-device/cuda", test_cuda);
  g_test_add_func ("/cli-device/auto", test_auto);
  g_test_add_func ("/cli-device/env", test_env);
  g_test_add_func ("/cli-device/unknown", test_unknown);
  g_test_add_func ("/cli-device/info", test_info);
  g_test_add_func ("/cli-device/session", test_session);
  g_test_add_func ("/cli-device/commands", test_commands);
  g_test_add_data_func ("/cli-device/cpu-vs-cuda", "cuda", test_cpu_vs_device);
  g_test_add_data_func ("/cli-device/cpu-vs-cpu-as-device", "cpu-as-device", test_cpu_vs_device);
  g_test_add_func ("/cli-device/precision", test_precision);
  return g_test_run ();
}
