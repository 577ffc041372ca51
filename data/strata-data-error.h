/* strata-data-error.h: the error domain of everything that reads files.
 *
 * A bad file is an expected event: every message names the file and the problem, e.g.
 * "model.safetensors: tensor 'h.0.attn.c_attn.weight' ends at byte 9000 past the end of
 * the data section (8192 bytes)". */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define STRATA_DATA_ERROR (strata_data_error_quark ())
GQuark strata_data_error_quark (void);

typedef enum {
  STRATA_DATA_ERROR_IO,          /* cannot open, read, map or write */
  STRATA_DATA_ERROR_FORMAT,      /* the bytes are not what the format says */
  STRATA_DATA_ERROR_UNSUPPORTED, /* valid, but an architecture/dtype/version we do not run */
  STRATA_DATA_ERROR_TOKEN,       /* text or token that the tokenizer cannot map */
} StrataDataError;

G_END_DECLS
