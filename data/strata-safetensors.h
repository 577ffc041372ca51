/* strata-safetensors.h: a validated, memory-mapped safetensors file.
 *
 * Layout: u64 LE header length N, N bytes of JSON {name: {dtype, shape, data_offsets:
 * [begin, end]}, "__metadata__": {str: str}}, then the data section; offsets are relative
 * to the start of the data section. Every entry is checked before any data is read:
 * known dtype, offsets inside the data section, size = dtype size × prod(shape), no two
 * tensors overlapping. */
#pragma once

#include <glib.h>

#include "strata-tensor-private.h"

G_BEGIN_DECLS

typedef struct _StrataSafetensors StrataSafetensors;

/* Headers above this are refused before allocating anything for them. */
#define STRATA_SAFETENSORS_MAX_HEADER (100u * 1024 * 1024)

StrataSafetensors *strata_safetensors_open (const char *path, GError **error);

/* Validate the whole file held in `bytes` (the header and every offset against
 * `length`). The result borrows `bytes`; `source` names the file in messages. This is the
 * entry point of the fuzz target. */
StrataSafetensors *strata_safetensors_parse (const guint8 *bytes, gsize length, const char *source,
                                             GError **error);
void strata_safetensors_free (StrataSafetensors *st);

const char *strata_safetensors_get_source (const StrataSafetensors *st);
/* The mapping (NULL for a parsed buffer), for hashing. */
GMappedFile *strata_safetensors_get_mapped_file (const StrataSafetensors *st);
guint strata_safetensors_get_n_tensors (const StrataSafetensors *st);
/* In header order. */
const StrataTensorInfo *strata_safetensors_get_tensor (const StrataSafetensors *st, guint i);
const StrataTensorInfo *strata_safetensors_lookup (const StrataSafetensors *st, const char *name);
/* `__metadata__` value for `key`, or NULL. */
const char *strata_safetensors_get_metadata (const StrataSafetensors *st, const char *key);

/* Copy-convert a tensor to fp32; dst holds n_dst floats, which must equal the tensor's
 * element count. */
gboolean strata_safetensors_read_f32 (const StrataSafetensors *st, const char *name, float *dst,
                                      gsize n_dst, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataSafetensors, strata_safetensors_free)

G_END_DECLS
