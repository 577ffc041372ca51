/* strata-backend-select.c: pick a backend by name, falling back to the CPU for "auto". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata-backend.h"
#include "strata-config.h"

#if STRATA_HAVE_CUDA
#include "cuda/strata-backend-cuda.h"
#endif

/* Not offered with the devices a person chooses from (STRATA_DEVICE_NAMES): the CPU standing in
 * for a device, for tests and checks on a machine without a GPU. */
#define CPU_AS_DEVICE "cpu-as-device"
#define CPU_AS_DEVICE_WHY "the CPU standing in for a device (device data paths, CPU arithmetic)"

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
  if (!strcmp (name, CPU_AS_DEVICE)) {
    snprintf (why, n, "%s", CPU_AS_DEVICE_WHY);
    return strata_backend_cpu_as_device ();
  }
  snprintf (why, n, "unknown backend \"%s\" (auto, cpu or cuda)", name);
  return NULL;
}

/* The device's name from the CUDA backend's description, "CUDA device 0: NAME (sm_90, ...)";
 * the whole description when it has another shape. */
static void
cuda_label (const char *why, char *label, size_t n)
{
  const char *name = strstr (why, ": ");
  name = name ? name + 2 : why;
  const char *end = strstr (name, " (");
  int len = end ? (int) (end - name) : (int) strlen (name);
  snprintf (label, n, "cuda (%.*s)", len, name);
}

const StrataBackend *
strata_device_choose (const char *name, StrataDeviceChoice *out)
{
  memset (out, 0, sizeof *out);
  if (!name || !*name) {
    const char *env = getenv ("STRATA_DEVICE");
    out->from_env = env && *env;
    name = out->from_env ? env : "auto";
  }
  snprintf (out->asked, sizeof out->asked, "%s", name);
  if (!strcmp (name, "cpu")) {
    snprintf (out->why, sizeof out->why, "CPU (OpenBLAS), as asked");
    snprintf (out->label, sizeof out->label, "cpu");
    return out->backend = strata_backend_cpu ();
  }
  if (!strcmp (name, CPU_AS_DEVICE)) {
    snprintf (out->why, sizeof out->why, "%s", CPU_AS_DEVICE_WHY);
    snprintf (out->label, sizeof out->label, "%s", CPU_AS_DEVICE);
    return out->backend = strata_backend_cpu_as_device ();
  }
  if (strcmp (name, "auto") != 0 && strcmp (name, "cuda") != 0) {
    snprintf (out->why, sizeof out->why, "unknown device \"%s\" (%s)", name, STRATA_DEVICE_NAMES);
    return NULL;
  }
  out->backend = try_cuda (out->why, sizeof out->why);
  if (out->backend) {
    cuda_label (out->why, out->label, sizeof out->label);
    return out->backend;
  }
  if (!strcmp (name, "cuda"))
    return NULL;
  out->fell_back = 1;
  snprintf (out->label, sizeof out->label, "cpu (auto: %s)", STRATA_HAVE_CUDA ? "no usable GPU" : "CUDA not built");
  return out->backend = strata_backend_cpu ();
}
