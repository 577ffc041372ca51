/* strata-status.h: status codes of the compute core.
 *
 * kernels/ never exits and never aborts on bad input: every entry point returns a
 * StrataStatus, and the object it worked on keeps a human-readable message. */
#pragma once

typedef enum {
  STRATA_OK = 0,
  STRATA_ERR_ARGUMENT, /* a caller passed an impossible shape, index or site */
  STRATA_ERR_MEMORY,   /* an allocation failed (host or device) */
  STRATA_ERR_BACKEND,  /* the backend failed (driver, cuBLAS, ...) */
  STRATA_ERR_UNSUPPORTED,
  STRATA_ERR_CANCELLED, /* the caller's abort check asked to stop (strata_engine_set_abort) */
} StrataStatus;

const char *strata_status_to_string (StrataStatus status);
