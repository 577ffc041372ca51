/* golden-reader.h: the F32/I32 tensors of a golden safetensors file, for tests only.
 *
 * Golden files are written by tools/reference/ (st_write.py): an 8-byte little-endian
 * header length, a JSON header, then raw little-endian data. This reader is deliberately
 * separate from data/'s loader, so a bug there cannot hide in the comparison. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define STRATA_GOLDEN_MAX_DIMS 4

typedef struct _StrataGolden StrataGolden;

StrataGolden *strata_golden_open (const char *path, GError **error);
void strata_golden_free (StrataGolden *golden);

/* TRUE and the shape if `name` is present; FALSE (no error) if it is not. */
gboolean strata_golden_has (StrataGolden *golden, const char *name, int *n_dims,
                            gint64 shape[STRATA_GOLDEN_MAX_DIMS]);

/* Number of tensors in the file. */
guint strata_golden_count (StrataGolden *golden);

/* Owned copies of the values, n_out elements; NULL and an error if the tensor is missing,
 * has another dtype or its bytes do not fit the file. */
float *strata_golden_dup_f32 (StrataGolden *golden, const char *name, gsize *n_out, GError **error);
gint32 *strata_golden_dup_i32 (StrataGolden *golden, const char *name, gsize *n_out, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataGolden, strata_golden_free)

G_END_DECLS
