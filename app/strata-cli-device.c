/* strata-cli-device.c: --device for every command that runs a model. The policy itself is
 * strata_device_choose (kernels/strata-backend.h), shared with the window and the
 * benchmarks; this file turns its answer into the command line's error or notice. */
#include <stdio.h>

#include "strata-cli.h"

const StrataBackend *
strata_cli_device (const char *name, StrataDeviceChoice *choice, GError **error)
{
  StrataDeviceChoice local;
  StrataDeviceChoice *ch = choice ? choice : &local;
  const StrataBackend *be = strata_device_choose (name, ch);
  const char *what = ch->from_env ? "STRATA_DEVICE=" : "--device ";
  if (!be) {
    strata_cli_fail_with (error, "%s%s: %s", what, ch->asked, ch->why);
    return NULL;
  }
  if (ch->fell_back)
    fprintf (stderr, "strata: %sauto: running on the CPU; CUDA is not usable: %s\n", ch->from_env ? "STRATA_DEVICE=" : "device ",
             ch->why);
  return be;
}

gboolean
strata_cli_precision (const char *name, StrataPrecision *out, GError **error)
{
  *out = STRATA_PRECISION_FP32;
  if (!name || !*name)
    return TRUE;
  int v = strata_precision_from_string (name);
  if (v < 0) {
    strata_cli_fail_with (error, "--precision takes fp32, tf32 or bf16, not '%s'", name);
    return FALSE;
  }
  *out = (StrataPrecision) v;
  return TRUE;
}

StrataEngine *
strata_cli_engine_new (const StrataBackend *backend, StrataPrecision precision, StrataModel *m, GError **error)
{
  StrataStatus st;
  StrataEngineOptions o = { 0, precision };
  StrataEngine *e = strata_engine_new_with (backend, m->weights, &o, &st);
  if (!e)
    strata_cli_fail_with (error, "cannot start the engine on %s: %s", backend->name, strata_status_to_string (st));
  return e;
}
