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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/kernels/backend-select/names", test_names);
  g_test_add_func ("/kernels/backend-select/auto", test_auto);
  return g_test_run ();
}
