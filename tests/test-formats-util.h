/* test-formats-util.h: temp folders, fixture bytes, a safetensors writer and GGUF offsets for
 * the file-format tests (test-formats.c, test-gguf.c, test-gguf-vocab.c). Malformed files are
 * always derived from the real fixtures here. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "strata-data-error.h"
#include "strata-model.h"

/* The F32 values of a matrix the loaders filled (they load F32). */
#define MAT_F32(m) ((const float *) (m).data)

typedef struct {
  char *dir;
} Tmp;

static inline void
tmp_setup (Tmp *t, gconstpointer data)
{
  t->dir = g_dir_make_tmp ("strata-formats-XXXXXX", NULL);
  g_assert_nonnull (t->dir);
}

static inline void
tmp_teardown (Tmp *t, gconstpointer data)
{
  g_autoptr (GDir) d = g_dir_open (t->dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d))) {
    g_autofree char *p = g_build_filename (t->dir, name, NULL);
    g_remove (p);
  }
  g_rmdir (t->dir);
  g_free (t->dir);
}

static inline char *
data_path (const char *rel)
{
  const char *root = g_getenv ("STRATA_TEST_DATA");
  g_assert_nonnull (root);
  return g_build_filename (root, rel, NULL);
}

static inline guint8 *
read_fixture (const char *rel, gsize *len)
{
  g_autofree char *p = data_path (rel);
  char *bytes = NULL;
  g_assert_true (g_file_get_contents (p, &bytes, len, NULL));
  return (guint8 *) bytes;
}

static inline char *
tmp_write (Tmp *t, const char *name, const void *bytes, gsize len)
{
  char *p = g_build_filename (t->dir, name, NULL);
  g_assert_true (g_file_set_contents (p, bytes, (gssize) len, NULL));
  return p;
}

static inline char *
tmp_copy_fixture (Tmp *t, const char *rel, const char *name)
{
  gsize len;
  g_autofree guint8 *b = read_fixture (rel, &len);
  return tmp_write (t, name, b, len);
}

/* Open must fail with a STRATA_DATA_ERROR naming `file` and containing `phrase`. */
static inline void
assert_open_fails (const char *path, const char *tokenizer, const char *file, const char *phrase)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (StrataModel) m = strata_model_open (path, tokenizer, &error);
  g_assert_null (m);
  g_assert_nonnull (error);
  g_assert_true (error->domain == STRATA_DATA_ERROR);
  g_test_message ("error: %s", error->message);
  if (!strstr (error->message, file) || !strstr (error->message, phrase))
    g_test_fail_printf ("message '%s' should name '%s' and say '%s'", error->message, file, phrase);
}

/* A safetensors file: header JSON padded with spaces to a multiple of 8, then data. */
static inline char *
write_safetensors (Tmp *t, const char *name, JsonObject *header, const guint8 *data, gsize len)
{
  g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (root, header);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, root);
  gsize hlen;
  g_autofree char *json = json_generator_to_data (gen, &hlen);
  gsize padded = (hlen + 7) / 8 * 8;
  g_autoptr (GByteArray) out = g_byte_array_new ();
  guint64 le = GUINT64_TO_LE ((guint64) padded);
  g_byte_array_append (out, (const guint8 *) &le, 8);
  g_byte_array_append (out, (const guint8 *) json, (guint) hlen);
  for (gsize i = hlen; i < padded; i++)
    g_byte_array_append (out, (const guint8 *) " ", 1);
  g_byte_array_append (out, data, (guint) len);
  return tmp_write (t, name, out->data, out->len);
}

/* The HF fixture's header (as a JSON object, owned) and its data section. */
typedef struct {
  guint8 *file;
  gsize len;
  JsonObject *header;
  const guint8 *data;
  gsize data_len;
} HfFixture;

static inline void
hf_fixture_load (HfFixture *f)
{
  guint64 hlen;
  f->file = read_fixture ("stories260K-hf/model.safetensors", &f->len);
  memcpy (&hlen, f->file, 8);
  hlen = GUINT64_FROM_LE (hlen);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_data (p, (char *) f->file + 8, (gssize) hlen, NULL));
  f->header = json_object_ref (json_node_get_object (json_parser_get_root (p)));
  f->data = f->file + 8 + hlen;
  f->data_len = f->len - 8 - hlen;
}

static inline void
hf_fixture_clear (HfFixture *f)
{
  json_object_unref (f->header);
  g_free (f->file);
}

/* Put config.json beside a (possibly edited) copy of the HF weights. */
static inline char *
tmp_hf_folder (Tmp *t, HfFixture *f)
{
  g_free (tmp_copy_fixture (t, "stories260K-hf/config.json", "config.json"));
  return write_safetensors (t, "model.safetensors", f->header, f->data, f->data_len);
}

static inline JsonArray *
tensor_array (HfFixture *f, const char *tensor, const char *member)
{
  return json_object_get_array_member (json_object_get_object_member (f->header, tensor), member);
}

/* GGUF: the byte offset just after the first counted string `s` (u64 length, then its bytes)
 * in b[0..len). After a tensor's name stands its record: n_dims (u32), dims (u64, innermost
 * first), type (u32), offset (u64). */
static inline gsize
gguf_after_string (const guint8 *b, gsize len, const char *s)
{
  gsize n = strlen (s);
  guint64 le = GUINT64_TO_LE ((guint64) n);
  for (gsize at = 0; at + 8 + n <= len; at++)
    if (memcmp (b + at, &le, 8) == 0 && memcmp (b + at + 8, s, n) == 0)
      return at + 8 + n;
  g_error ("'%s' is not in the file", s);
}

/* GGUF: the byte offset of the value of metadata key `key` (after the key and its u32 type). */
static inline gsize
gguf_value_of (const guint8 *b, gsize len, const char *key)
{
  return gguf_after_string (b, len, key) + 4;
}
