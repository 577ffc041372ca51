/* strata-backend-select.c: pick a backend by name, falling back to the CPU for "auto". */
#include <stdio.h>
#include <string.h>

#include "strata-backend.h"
#include "strata-config.h"

#if STRATA_HAVE_CUDA
#include "cuda/strata-backend-cuda.h"
#endif

/* The CUDA backend, or NULL with the reason in why. */
static const StrataBackend *
try_cuda (char *why, size_t n)
{
#if STRATA_HAVE_CUDA
  return strata_backend_cuda (why, n);
#else
  snprintf (why, n, "built without CUDA (meson -Dcuda=enabled)");
  return NULL;
#endif
}

const StrataBackend *
strata_backend_select (const char *name, char *why, size_t n)
{
  char local[256];
  if (!why || !n) {
    why = local;
    n = sizeof local;
  }
  if (!name || !strcmp (name, "auto")) {
    char reason[256];
    const StrataBackend *be = try_cuda (reason, sizeof reason);
    if (be) {
      snprintf (why, n, "%s", reason);
      return be;
    }
    snprintf (why, n, "CPU (OpenBLAS); CUDA not used: %s", reason);
    return strata_backend_cpu ();
  }
  if (!strcmp (name, "cpu")) {
    snprintf (why, n, "CPU (OpenBLAS), as asked");
    return strata_backend_cpu ();
  }
  if (!strcmp (name, "cuda"))
    return try_cuda (why, n);
  snprintf (why, n, "unknown backend \"%s\" (auto, cpu or cuda)", name);
  return NULL;
}
