/* strata-gguf-quants.h: the ggml tensor types a GGUF file can name, and the StrataDType of
 * those Strata reads.
 *
 * A quantized row of n values is n / block blocks of `block_bytes` bytes each, back to back;
 * a block decodes to `block` consecutive F32 values of the row. The layouts and the float
 * arithmetic of each decoder are those of llama.cpp's ggml-quants.c (dequantize_row_*) and
 * the `gguf` Python package (gguf.quants), which agree bit for bit; see
 * kernels/strata-dtypes.c. */
#pragma once

#include <glib.h>

#include "strata-tensor-private.h"

G_BEGIN_DECLS

typedef struct {
  guint32 id;               /* the ggml_type number the file stores */
  int dtype;                /* the StrataDType Strata reads it as, else -1 */
  StrataBlockFormat format; /* name, block, block_bytes */
} StrataGgmlType;

/* The row of a ggml type number, or NULL when the number is not a ggml type (ids retired
 * from ggml, such as 4, 5 and 31-33, are not types). */
const StrataGgmlType *strata_ggml_type_lookup (guint32 id);

/* "Q4_0, Q4_1, ..." : the block-quantized types Strata reads, for messages. */
const char *strata_ggml_readable_quants (void);

/* The ggml type number of a dtype Strata reads (for writing GGUF files). */
guint32 strata_ggml_type_of (StrataDType dtype);

G_END_DECLS
