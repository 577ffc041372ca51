/* test-backend-select.c: strata_backend_select in every build, with or without CUDA and a
 * GPU: "cpu" always, "cuda" exactly when a device answers, "auto" falls back to the CPU
 * with the reason, unknown names fail with one. */
#include <glib.h>
#include <string.h>

#include "strata-backend.h"
#include "strata-config.h"
#if STRATA_HAVE_CUDA
#include "strata-backend-cuda.h"
#endif

static void
test_names (void)
{
  char why[256] = "";
  g_assert_true (strata_backend_select ("cpu", why, sizeof why) == strata_backend_cpu ());
  g_assert_cmpstr (why, !=, "");
  g_assert_null (strata_backend_select ("tpu", why, sizeof why));
  g_assert_nonnull (strstr (why, "tpu"));
  /* why may be omitted. */
  g_assert_true (strata_backend_select ("cpu", NULL, 0) == strata_backend_cpu ());
}

static void
test_auto (void)
{
  const StrataBackend *cuda = NULL;
  char cuda_why[256] = "", why[256] = "";
#if STRATA_HAVE_CUDA
  cuda = strata_backend_cuda (cuda_why, sizeof cuda_why);
  g_assert_cmpstr (cuda_why, !=, "");
  /* The answer is kept: a second call agrees. */
  g_assert_true (strata_backend_cuda (NULL, 0) == cuda);
#endif
  g_test_message ("cuda: %s", cuda_why);
  g_assert_true (strata_backend_select ("cuda", why, sizeof why) == cuda);
  g_assert_cmpstr (why, !=, "");
  const StrataBackend *any = strata_backend_select ("auto", why, sizeof why);
  g_test_message ("auto: %s", why);
  g_assert_true (any == (cuda ? cuda : strata_backend_cpu ()));
  g_assert_cmpstr (any->name, ==, cuda ? "cuda" : "cpu");
  if (!cuda)
    g_assert_nonnull (strstr (why, "CUDA not used"));
  g_assert_true (strata_backend_select (NULL, why, sizeof why) == any);
}

/* The shared policy: the argument, else STRATA_DEVICE, else auto; a label and a reason. */
static void
test_choose (void)
{
  StrataDeviceChoice ch;
  char cuda_why[256] = "";
  const StrataBackend *cuda = strata_backend_select ("cuda", cuda_why, sizeof cuda_why);
  g_unsetenv ("STRATA_DEVICE");
  g_assert_true (strata_device_choose (NULL, &ch) == (cuda ? cuda : strata_backend_cpu ()));
  g_assert_cmpstr (ch.asked, ==, "auto");
  g_assert_false (ch.from_env);
  g_assert_cmpint (ch.fell_back, ==, cuda == NULL);
  if (!cuda) {
    g_assert_cmpstr (ch.why, ==, cuda_why); /* the driver's (or the build's) own words */
    g_assert_true (g_str_has_prefix (ch.label, "cpu (auto: "));
  } else
    g_assert_true (g_str_has_prefix (ch.label, "cuda ("));

  g_setenv ("STRATA_DEVICE", "cpu", TRUE);
  g_assert_true (strata_device_choose (NULL, &ch) == strata_backend_cpu ());
  g_assert_true (ch.from_env);
  g_assert_cmpstr (ch.label, ==, "cpu");
  g_assert_true (strata_device_choose ("", &ch) == strata_backend_cpu ());
  /* An explicit name wins over the environment. */
  g_assert_true (strata_device_choose ("cuda", &ch) == cuda);
  g_assert_false (ch.from_env);
  g_assert_cmpstr (ch.asked, ==, "cuda");
  if (!cuda)
    g_assert_cmpstr (ch.why, ==, cuda_why);

  g_setenv ("STRATA_DEVICE", "tpu", TRUE);
  g_assert_null (strata_device_choose (NULL, &ch));
  g_assert_cmpstr (ch.asked, ==, "tpu");
  g_assert_nonnull (strstr (ch.why, STRATA_DEVICE_NAMES));
  g_setenv ("STRATA_DEVICE", "", TRUE); /* empty: unset */
  g_assert_true (strata_device_choose (NULL, &ch) == (cuda ? cuda : strata_backend_cpu ()));
  g_assert_cmpstr (ch.asked, ==, "auto");
  g_unsetenv ("STRATA_DEVICE");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/backend-select/names", test_names);
  g_test_add_func ("/kernels/backend-select/auto", test_auto);
  g_test_add_func ("/kernels/backend-select/choose", test_choose);
  return g_test_run ();
}
