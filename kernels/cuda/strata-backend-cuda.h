/* strata-backend-cuda.h: the CUDA backend (cuBLAS for products, small kernels for the rest).
 *
 * Plain C API, no GLib. Device memory comes from the table's alloc and is owned by whoever
 * allocated it; one free path (the table's free). */
#pragma once

#include <stddef.h>

#include "strata-backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The backend on device 0, created on first call and kept for the process. NULL when no
 * usable GPU answers (no driver, driver too old, no device, no kernel image for its
 * architecture, context or cuBLAS failure), with the reason written to err (size n); on
 * success err gets the device's name. Later calls return the same answer. */
const StrataBackend *strata_backend_cuda (char *err, size_t n);

#ifdef __cplusplus
}
#endif
