/* strata-tensor.c: dtype conversion, size checks and the name table shared by the readers. */
#include "strata-tensor-private.h"

#include <math.h>
#include <string.h>

#include <openssl/evp.h>

#include "strata-data-error.h"
#include "strata-weights-device.h"

void
strata_tensor_info_free (StrataTensorInfo *t)
{
  if (!t)
    return;
  g_free (t->name);
  g_free (t);
}

void
strata_dtype_convert (StrataDType dtype, const guint8 *src, float *dst, gsize n)
{
  /* The files are little-endian; src has no alignment guarantee (safetensors does not
   * pad), hence the byte-wise reads. */
  switch (dtype) {
  case STRATA_DTYPE_F32:
    for (gsize i = 0; i < n; i++) {
      guint32 v;
      memcpy (&v, src + 4 * i, 4);
      v = GUINT32_FROM_LE (v);
      memcpy (dst + i, &v, 4);
    }
    break;
  default:
    for (gsize i = 0; i < n; i++) {
      guint16 v;
      memcpy (&v, src + 2 * i, 2);
      v = GUINT16_FROM_LE (v);
      dst[i] = dtype == STRATA_DTYPE_F16 ? strata_f16_to_f32 (v) : strata_bf16_to_f32 (v);
    }
    break;
  }
}

gboolean
strata_tensor_info_compute_size (StrataTensorInfo *t)
{
  guint64 n = 1;
  for (int i = 0; i < t->n_dims; i++)
    if (!g_uint64_checked_mul (&n, n, t->shape[i]))
      return FALSE;
  t->n_elements = n;
  if (!t->blocks)
    return g_uint64_checked_mul (&t->n_bytes, n, strata_dtype_bytes (t->dtype, 1));
  /* Blocks never straddle rows: the innermost dimension holds whole blocks. */
  if (t->n_dims < 1 || t->blocks->block == 0 || t->shape[t->n_dims - 1] % t->blocks->block)
    return FALSE;
  return g_uint64_checked_mul (&t->n_bytes, n / t->blocks->block, t->blocks->block_bytes);
}

void
strata_tensor_info_to_f32 (const StrataTensorInfo *t, float *dst, guint64 n)
{
  if (t->blocks)
    strata_dtype_to_f32 (t->dtype, t->data, dst, (gsize) n);
  else
    strata_dtype_convert (t->dtype, t->data, dst, (gsize) n);
}

static gint
compare_offset (gconstpointer a, gconstpointer b)
{
  const StrataTensorInfo *x = *(StrataTensorInfo *const *) a, *y = *(StrataTensorInfo *const *) b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

gboolean
strata_tensors_check_overlap (GPtrArray *tensors, const char *source, GError **error)
{
  /* Not g_ptr_array_copy: that would carry the free function over to the copy. */
  g_autoptr (GPtrArray) sorted = g_ptr_array_sized_new (tensors->len);
  for (guint i = 0; i < tensors->len; i++)
    g_ptr_array_add (sorted, tensors->pdata[i]);
  g_ptr_array_sort (sorted, compare_offset);
  for (guint i = 1; i < sorted->len; i++) {
    const StrataTensorInfo *a = sorted->pdata[i - 1], *b = sorted->pdata[i];
    /* Empty tensors occupy no bytes and cannot overlap anything. */
    if (a->n_bytes > 0 && b->n_bytes > 0 && a->offset + a->n_bytes > b->offset) {
      g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                   "%s: tensors '%s' and '%s' overlap (bytes %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT
                   " and %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT ")",
                   source, a->name, b->name, a->offset, a->offset + a->n_bytes, b->offset,
                   b->offset + b->n_bytes);
      return FALSE;
    }
  }
  return TRUE;
}

char *
strata_shape_to_string (int n_dims, const guint64 *shape)
{
  GString *s = g_string_new ("[");
  for (int i = 0; i < n_dims; i++)
    g_string_append_printf (s, "%s%" G_GUINT64_FORMAT, i ? ", " : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

void
strata_tensor_set_init (StrataTensorSet *set, const char *source)
{
  set->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  set->source = source;
}

void
strata_tensor_set_clear (StrataTensorSet *set)
{
  g_clear_pointer (&set->by_name, g_hash_table_unref);
}

void
strata_tensor_set_add (StrataTensorSet *set, const StrataTensorInfo *t)
{
  g_hash_table_insert (set->by_name, t->name, (gpointer) t);
}

const StrataTensorInfo *
strata_tensor_set_lookup (const StrataTensorSet *set, const char *name)
{
  return g_hash_table_lookup (set->by_name, name);
}

const StrataTensorInfo *
strata_tensor_set_get_checked (const StrataTensorSet *set, const char *name, guint64 d0, guint64 d1, GError **error)
{
  const StrataTensorInfo *t = strata_tensor_set_lookup (set, name);
  guint64 want[2] = { d0, d1 };
  int want_dims = d1 ? 2 : 1;

  if (!t) {
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: missing tensor '%s'", set->source, name);
    return NULL;
  }
  if (t->n_dims != want_dims || t->shape[0] != d0 || (d1 && t->shape[1] != d1)) {
    g_autofree char *found = strata_shape_to_string (t->n_dims, t->shape);
    g_autofree char *expected = strata_shape_to_string (want_dims, want);
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT,
                 "%s: tensor '%s' has shape %s, expected %s", t->source, name, found, expected);
    return NULL;
  }
  return t;
}

gboolean
strata_tensor_set_load (const StrataTensorSet *set, const char *name, guint64 d0, guint64 d1,
                        float *dst, GError **error)
{
  const StrataTensorInfo *t = strata_tensor_set_get_checked (set, name, d0, d1, error);
  if (!t)
    return FALSE;
  strata_tensor_info_to_f32 (t, dst, t->n_elements);
  return TRUE;
}

void
strata_mat_store (StrataMat *m, gsize first, const float *src, gsize n)
{
  strata_dtype_from_f32 (m->dtype, src, (char *) m->data + strata_dtype_bytes (m->dtype, first), n);
}

gboolean
strata_tensor_set_load_mat (const StrataTensorSet *set, const char *name, guint64 d0, guint64 d1, StrataMat *dst,
                            StrataWeights *w, GError **error)
{
  const StrataTensorInfo *t = strata_tensor_set_get_checked (set, name, d0, d1, error);
  if (!t)
    return FALSE;
  /* Kept as stored: the bytes are the values (blocks are read byte by byte on any host). */
  if (t->dtype == dst->dtype && (t->blocks || G_BYTE_ORDER == G_LITTLE_ENDIAN)) {
    strata_weights_store_bytes (w, dst->data, t->data, t->n_bytes);
    return TRUE;
  }
  if (dst->dtype >= STRATA_DTYPE_FIRST_BLOCK) { /* the loaders ask for blocks only as stored */
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_FORMAT, "%s: tensor '%s' is %s, cannot be kept as %s",
                 t->source, name, strata_dtype_to_string (t->dtype), strata_dtype_to_string (dst->dtype));
    return FALSE;
  }
  if (dst->dtype == STRATA_DTYPE_F32) {
    strata_tensor_info_to_f32 (t, dst->data, t->n_elements);
    return TRUE;
  }
  g_autofree float *tmp = g_new (float, d0 * d1);
  strata_tensor_info_to_f32 (t, tmp, t->n_elements);
  strata_mat_store (dst, 0, tmp, d0 * d1);
  return TRUE;
}

StrataDType
strata_tensor_set_matrix_dtype (const StrataTensorSet *set)
{
  GHashTableIter it;
  gpointer value;
  int common = -1;
  g_hash_table_iter_init (&it, set->by_name);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    const StrataTensorInfo *t = value;
    if (t->n_dims != 2)
      continue;
    if (common >= 0 && (int) t->dtype != common)
      return STRATA_DTYPE_F32;
    common = (int) t->dtype;
  }
  return common >= 0 ? (StrataDType) common : STRATA_DTYPE_F32;
}

char *
strata_sha256_mapped_files (GMappedFile **files, guint n)
{
  EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  gboolean ok = ctx && EVP_DigestInit_ex (ctx, EVP_sha256 (), NULL) == 1;
  for (guint i = 0; ok && i < n; i++)
    ok = EVP_DigestUpdate (ctx, g_mapped_file_get_contents (files[i]), g_mapped_file_get_length (files[i])) == 1;
  ok = ok && EVP_DigestFinal_ex (ctx, digest, &len) == 1;
  EVP_MD_CTX_free (ctx);
  if (!ok)
    return g_strdup (""); /* only when OpenSSL itself fails: no provenance rather than a wrong one */
  GString *hex = g_string_sized_new (2 * len);
  for (unsigned int i = 0; i < len; i++)
    g_string_append_printf (hex, "%02x", digest[i]);
  return g_string_free (hex, FALSE);
}

struct _StrataSha256Job {
  GThread *thread;
  GMappedFile **files;
  guint n;
  char *hex;
};

static gpointer
sha256_thread (gpointer data)
{
  StrataSha256Job *job = data;
  job->hex = strata_sha256_mapped_files (job->files, job->n);
  return NULL;
}

StrataSha256Job *
strata_sha256_start (GMappedFile **files, guint n)
{
  StrataSha256Job *job = g_new0 (StrataSha256Job, 1);
  /* Files that take a large part of memory are hashed now, before the loader reads them:
   * read twice at once they evict each other's pages (an 8B BF16 checkpoint on a 24 GiB
   * machine took 90 s to open and run the lens that way, 67 s hashed first). */
  guint64 bytes = 0;
  for (guint i = 0; i < n; i++)
    bytes += g_mapped_file_get_length (files[i]);
  if (bytes > strata_memory_available () / 4) {
    job->hex = strata_sha256_mapped_files (files, n);
    return job;
  }
  job->files = g_new (GMappedFile *, n ? n : 1);
  job->n = n;
  for (guint i = 0; i < n; i++)
    job->files[i] = g_mapped_file_ref (files[i]);
  job->thread = g_thread_new ("strata-sha256", sha256_thread, job);
  return job;
}

char *
strata_sha256_finish (StrataSha256Job *job)
{
  if (job->thread)
    g_thread_join (job->thread);
  for (guint i = 0; i < job->n; i++)
    g_mapped_file_unref (job->files[i]);
  g_free (job->files);
  char *hex = job->hex;
  g_free (job);
  return hex;
}
