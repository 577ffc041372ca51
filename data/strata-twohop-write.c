/* strata-twohop-write.c: the files of a generated two-hop dataset (list in
 * strata-twohop-dataset.h), in the layout of ../shared/fixtures/twohop so one analysis and
 * one trainer read both. */
#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "strata-config.h"
#include "strata-data-error.h"
#include "strata-twohop-dataset.h"

/* Every file goes to a temporary beside it (hidden and suffixed, so a left-over after a crash
 * is never taken for a dataset file) and is renamed when whole: a reader sees the previous
 * file or the complete new one. Text collects in `buf` and reaches the file every MiB, since
 * the training file of a large graph runs to gigabytes. */
#define FLUSH_BYTES (1 << 20)

typedef struct {
  char *path, *tmp;
  FILE *fp;
  GString *buf;
  int err; /* first errno of a failed write; 0 while all is well */
} Out;

static void
out_clear (Out *o)
{
  if (o->fp) {
    fclose (o->fp);
    g_unlink (o->tmp);
  }
  g_free (o->path);
  g_free (o->tmp);
  if (o->buf)
    g_string_free (o->buf, TRUE);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Out, out_clear)

static gboolean
out_open (Out *o, const char *dir, const char *name, GError **error)
{
  o->path = g_build_filename (dir, name, NULL);
  g_autofree char *tmp_name = g_strdup_printf (".%s.XXXXXX.tmp", name);
  o->tmp = g_build_filename (dir, tmp_name, NULL);
  o->buf = g_string_sized_new (FLUSH_BYTES + 4096);
  int fd = g_mkstemp_full (o->tmp, O_WRONLY | O_CLOEXEC, 0644);
  if (fd >= 0 && (o->fp = fdopen (fd, "wb")) == NULL) {
    int e = errno;
    close (fd);
    g_unlink (o->tmp);
    errno = e;
  }
  if (o->fp == NULL) {
    int e = errno;
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: cannot create a temporary file beside it: %s",
                 o->path, g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

/* Hands the buffered text to the file once it holds FLUSH_BYTES (always when `all`). */
static void
out_flush (Out *o, gboolean all)
{
  if (o->buf->len < FLUSH_BYTES && !all)
    return;
  if (o->err == 0 && fwrite (o->buf->str, 1, o->buf->len, o->fp) != o->buf->len)
    o->err = errno ? errno : EIO;
  g_string_truncate (o->buf, 0);
}

static gboolean
out_commit (Out *o, GError **error)
{
  out_flush (o, TRUE);
  if (o->err == 0 && (fflush (o->fp) != 0 || fsync (fileno (o->fp)) != 0))
    o->err = errno;
  if (fclose (o->fp) != 0 && o->err == 0)
    o->err = errno;
  o->fp = NULL;
  if (o->err == 0 && g_rename (o->tmp, o->path) != 0)
    o->err = errno;
  if (o->err != 0) {
    g_unlink (o->tmp);
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: cannot write: %s", o->path,
                 g_strerror (o->err));
    return FALSE;
  }
  return TRUE;
}

static gboolean
write_file (const char *dir, const char *name, const char *text, gsize len, GError **error)
{
  g_auto (Out) o = { 0 };
  if (!out_open (&o, dir, name, error))
    return FALSE;
  g_string_append_len (o.buf, text, (gssize) len);
  return out_commit (&o, error);
}

static gboolean
write_json (const char *dir, const char *name, JsonBuilder *b, gboolean pretty, GError **error)
{
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_pretty (gen, pretty);
  json_generator_set_root (gen, root);
  gsize len = 0;
  g_autofree char *text = json_generator_to_data (gen, &len);
  return write_file (dir, name, text, len, error);
}

/* ---- tokens ---- */

static char *
token_text (const StrataTwohopParams *p, int32_t id)
{
  if (id < p->n_entities)
    return g_strdup_printf ("<e_%d>", id);
  if (id < p->n_entities + p->n_relations)
    return g_strdup_printf ("<r_%d>", id - p->n_entities);
  return g_strdup (id == strata_twohop_answer_end_token (p) ? "</a>" : "<pad>");
}

/* ---- items (train.jsonl, test_inferred_*.jsonl) ----
 * Written with printf rather than json-glib: the paper's scale has hundreds of thousands of
 * lines, and every string is a run of <e_N>/<r_N> tokens that needs no escaping. */

static void
append_ids (GString *s, const char *key, const int32_t *ids, int n)
{
  g_string_append_printf (s, ",\"%s\":[", key);
  for (int i = 0; i < n; i++)
    g_string_append_printf (s, i ? ",%d" : "%d", ids[i]);
  g_string_append_c (s, ']');
}

static void
append_text (GString *s, const char *key, const StrataTwohopParams *p, const int32_t *ids, int n)
{
  g_string_append_printf (s, ",\"%s\":\"", key);
  for (int i = 0; i < n; i++) {
    g_autofree char *t = token_text (p, ids[i]);
    g_string_append (s, t);
  }
  g_string_append_c (s, '"');
}

/* The loss covers the tokens after the input (the generated part): 0 over the input, 1 after. */
static void
append_mask (GString *s, const char *key, int n_input, int n)
{
  g_string_append_printf (s, ",\"%s\":[", key);
  for (int i = 0; i < n; i++)
    g_string_append_printf (s, i ? ",%d" : "%d", i >= n_input);
  g_string_append_c (s, ']');
}

/* One item; r2 < 0 for an atomic fact (h r1 -> t). */
static void
append_item (GString *s, const StrataTwohopParams *p, const char *type, int32_t h, int32_t r1, int32_t r2,
             int32_t b, int32_t t, gboolean noisy)
{
  gboolean twohop = r2 >= 0;
  int32_t end = strata_twohop_answer_end_token (p);
  int32_t input[3] = { h, strata_twohop_relation_token (p, r1), twohop ? strata_twohop_relation_token (p, r2) : 0 };
  int n_in = twohop ? 3 : 2;
  int32_t cot[6], nocot[5];
  int n_cot = 0, n_nocot = 0;
  for (int i = 0; i < n_in; i++)
    cot[n_cot++] = nocot[n_nocot++] = input[i];
  if (twohop)
    cot[n_cot++] = b;
  cot[n_cot++] = nocot[n_nocot++] = t;
  cot[n_cot++] = nocot[n_nocot++] = end;

  g_string_append_printf (s, "{\"type\":\"%s\",\"h\":%d,\"r1\":%d", type, h, r1);
  if (twohop)
    g_string_append_printf (s, ",\"r2\":%d,\"b\":%d,\"t\":%d", r2, b, t);
  else
    g_string_append_printf (s, ",\"r2\":null,\"b\":null,\"t\":%d", t);
  append_text (s, "input_text", p, input, n_in);
  append_ids (s, "input_ids", input, n_in);
  append_text (s, "target_text_cot", p, cot, n_cot);
  append_ids (s, "target_ids_cot", cot, n_cot);
  append_text (s, "target_text_nocot", p, nocot, n_nocot);
  append_ids (s, "target_ids_nocot", nocot, n_nocot);
  append_mask (s, "loss_mask_cot", n_in, n_cot);
  append_mask (s, "loss_mask_nocot", n_in, n_nocot);
  g_string_append_printf (s, ",\"noisy\":%s}\n", noisy ? "true" : "false");
}

static void
append_query (GString *s, const StrataTwohopParams *p, const char *type, const StrataTwohopQuery *q)
{
  append_item (s, p, type, q->h, q->r1, q->r2, q->b, q->t, q->noisy);
}

static gboolean
write_train (const StrataTwohopDataset *d, const char *dir, GError **error)
{
  g_auto (Out) o = { 0 };
  if (!out_open (&o, dir, "train.jsonl", error))
    return FALSE;
  for (guint i = 0; i < d->train_order->len; i++) {
    guint k = (guint) g_array_index (d->train_order, int32_t, i);
    if (k < d->facts->len) {
      const StrataTwohopFact *f = &g_array_index (d->facts, StrataTwohopFact, k);
      append_item (o.buf, &d->params, f->ood ? "atomic_ood" : "atomic_id", f->h, f->r, -1, -1, f->t, FALSE);
    } else {
      append_query (o.buf, &d->params, "train_inferred", &g_array_index (d->train, StrataTwohopQuery, k - d->facts->len));
    }
    out_flush (&o, FALSE);
  }
  return out_commit (&o, error);
}

static gboolean
write_tests (const StrataTwohopDataset *d, const char *dir, GArray *queries, const char *type, GError **error)
{
  g_autofree char *name = g_strdup_printf ("%s.jsonl", type);
  g_auto (Out) o = { 0 };
  if (!out_open (&o, dir, name, error))
    return FALSE;
  for (guint i = 0; i < queries->len; i++) {
    append_query (o.buf, &d->params, type, &g_array_index (queries, StrataTwohopQuery, i));
    out_flush (&o, FALSE);
  }
  return out_commit (&o, error);
}

/* ---- prompt sets ---- */

static void
add_hash_token (JsonBuilder *b, const char *member, int32_t id)
{
  g_autofree char *t = g_strdup_printf ("#%d", id);
  json_builder_set_member_name (b, member);
  json_builder_add_string_value (b, t);
}

static void
add_id_array (JsonBuilder *b, const char *member, const int32_t *ids, int n)
{
  json_builder_set_member_name (b, member);
  json_builder_begin_array (b);
  for (int i = 0; i < n; i++)
    json_builder_add_int_value (b, ids[i]);
  json_builder_end_array (b);
}

/* Stage 1: input h r1 r2, targets bridge and answer, h corrupted (contrast: the other bridge).
 * Stage 2: input h r1 r2 b (the CoT model's second stage), target answer, b corrupted
 * (contrast: the other tail). Positions named h r1 r2 (b). */
static void
append_prompt (GString *s, const StrataTwohopParams *p, const StrataTwohopQuery *q, int stage, const char *tag)
{
  static const char *const names[] = { "h", "r1", "r2", "b" };
  int32_t ids[4] = { q->h, strata_twohop_relation_token (p, q->r1), strata_twohop_relation_token (p, q->r2), q->b };
  int n = stage == 1 ? 3 : 4;
  int32_t corrupt = stage == 1 ? q->corrupt_h : q->corrupt_b;
  int32_t contrast = stage == 1 ? q->contrast_b : q->contrast_t;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_id_array (b, "ids", ids, n);
  if (corrupt >= 0) {
    int32_t cids[4] = { ids[0], ids[1], ids[2], ids[3] };
    cids[stage == 1 ? 0 : 3] = corrupt;
    add_id_array (b, "corrupt_ids", cids, n);
  }
  json_builder_set_member_name (b, "targets");
  json_builder_begin_object (b);
  if (stage == 1)
    add_hash_token (b, "bridge", q->b);
  add_hash_token (b, "answer", q->t);
  json_builder_end_object (b);
  if (contrast >= 0)
    add_hash_token (b, "contrast", contrast);
  json_builder_set_member_name (b, "positions");
  json_builder_begin_object (b);
  for (int i = 0; i < n; i++) {
    json_builder_set_member_name (b, names[i]);
    json_builder_add_int_value (b, i);
  }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "tags");
  json_builder_begin_array (b);
  json_builder_add_string_value (b, tag);
  json_builder_end_array (b);
  json_builder_end_object (b);

  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *line = json_to_string (root, FALSE);
  g_string_append (s, line);
  g_string_append_c (s, '\n');
}

static gboolean
write_prompts (const StrataTwohopDataset *d, const char *dir, int stage, GError **error)
{
  g_autofree char *name = g_strdup_printf ("prompts-stage%d.jsonl", stage);
  g_auto (Out) o = { 0 };
  if (!out_open (&o, dir, name, error))
    return FALSE;
  for (guint i = 0; i < d->test_id->len; i++)
    append_prompt (o.buf, &d->params, &g_array_index (d->test_id, StrataTwohopQuery, i), stage, "id");
  for (guint i = 0; i < d->test_ood->len; i++)
    append_prompt (o.buf, &d->params, &g_array_index (d->test_ood, StrataTwohopQuery, i), stage, "ood");
  return out_commit (&o, error);
}

/* ---- vocabulary and tokenizer ---- */

static int
vocab_size (const StrataTwohopParams *p)
{
  return p->n_entities + p->n_relations + 2;
}

static void
add_vocab (JsonBuilder *b, const StrataTwohopParams *p)
{
  json_builder_begin_object (b);
  for (int32_t id = 0; id < vocab_size (p); id++) {
    g_autofree char *t = token_text (p, id);
    json_builder_set_member_name (b, t);
    json_builder_add_int_value (b, id);
  }
  json_builder_end_object (b);
}

static gboolean
write_vocab (const StrataTwohopParams *p, const char *dir, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  add_vocab (b, p);
  return write_json (dir, "vocab.json", b, TRUE, error);
}

/* A WordLevel model without a pre-tokenizer; every token is also an added special token, so
 * HF tokenizers splits a concatenation like "<e_1><r_2>" exactly (as the fixture's does). */
static gboolean
write_tokenizer (const StrataTwohopParams *p, const char *dir, GError **error)
{
  static const char *const nulls[] = { "truncation", "padding", "normalizer", "pre_tokenizer", "post_processor",
                                       "decoder" };
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, "1.0");
  for (gsize i = 0; i < G_N_ELEMENTS (nulls); i++) {
    json_builder_set_member_name (b, nulls[i]);
    json_builder_add_null_value (b);
  }
  json_builder_set_member_name (b, "added_tokens");
  json_builder_begin_array (b);
  for (int32_t id = 0; id < vocab_size (p); id++) {
    g_autofree char *t = token_text (p, id);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_int_value (b, id);
    json_builder_set_member_name (b, "content");
    json_builder_add_string_value (b, t);
    static const char *const flags[] = { "single_word", "lstrip", "rstrip", "normalized" };
    for (gsize i = 0; i < G_N_ELEMENTS (flags); i++) {
      json_builder_set_member_name (b, flags[i]);
      json_builder_add_boolean_value (b, FALSE);
    }
    json_builder_set_member_name (b, "special");
    json_builder_add_boolean_value (b, TRUE);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "model");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "WordLevel");
  json_builder_set_member_name (b, "vocab");
  add_vocab (b, p);
  json_builder_set_member_name (b, "unk_token");
  json_builder_add_string_value (b, "<pad>");
  json_builder_end_object (b);
  json_builder_end_object (b);
  if (!write_json (dir, "tokenizer.json", b, TRUE, error))
    return FALSE;

  static const char config[] = "{\n  \"tokenizer_class\" : \"PreTrainedTokenizerFast\",\n  \"eos_token\" : \"</a>\",\n"
                               "  \"pad_token\" : \"<pad>\",\n  \"unk_token\" : \"<pad>\"\n}\n";
  return write_file (dir, "tokenizer_config.json", config, sizeof config - 1, error);
}

/* ---- dataset.json ---- */

static void
add_int (JsonBuilder *b, const char *name, gint64 v)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, v);
}

static void
add_double (JsonBuilder *b, const char *name, double v)
{
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, v);
}

static gboolean
write_meta (const StrataTwohopDataset *d, const char *dir, GError **error)
{
  const StrataTwohopParams *p = &d->params;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "generator");
  json_builder_add_string_value (b, "strata dataset twohop");
  add_int (b, "generator_version", STRATA_TWOHOP_GENERATOR_VERSION);
  json_builder_set_member_name (b, "strata_version");
  json_builder_add_string_value (b, STRATA_VERSION);
  json_builder_set_member_name (b, "random");
  json_builder_add_string_value (b, "xoshiro256** seeded by splitmix64");

  json_builder_set_member_name (b, "params");
  json_builder_begin_object (b);
  add_int (b, "n_entities", p->n_entities);
  add_int (b, "n_relations", p->n_relations);
  add_int (b, "facts_per_entity", p->per_entity);
  add_double (b, "ood_frac", p->ood_fraction);
  add_double (b, "phi", p->phi);
  add_double (b, "p_test_id", p->test_prob);
  add_double (b, "noise", p->noise);
  json_builder_set_member_name (b, "noise_kind");
  json_builder_add_string_value (b, strata_twohop_noise_kind_to_string (p->noise_kind));
  /* as text: a 64-bit seed does not survive a JSON reader that parses numbers as doubles */
  g_autofree char *seed = g_strdup_printf ("%" G_GUINT64_FORMAT, p->seed);
  json_builder_set_member_name (b, "seed");
  json_builder_add_string_value (b, seed);
  json_builder_end_object (b);

  gint64 n_atomic = d->facts->len;
  json_builder_set_member_name (b, "counts");
  json_builder_begin_object (b);
  add_int (b, "atomic", n_atomic);
  add_int (b, "atomic_id", n_atomic - d->n_ood_facts);
  add_int (b, "atomic_ood", d->n_ood_facts);
  add_int (b, "twohop_candidates", d->n_candidates);
  add_int (b, "pool_id_train", d->n_pool);
  add_int (b, "discarded_mixed", d->n_discarded);
  add_int (b, "train_inferred", d->train->len);
  add_int (b, "train_noisy", d->n_noisy);
  add_int (b, "train_total", n_atomic + d->train->len);
  add_int (b, "test_inferred_id", d->test_id->len);
  add_int (b, "test_inferred_ood", d->test_ood->len);
  json_builder_end_object (b);

  add_int (b, "vocab_size", vocab_size (p));
  json_builder_set_member_name (b, "token_ids");
  json_builder_begin_object (b);
  int32_t ranges[2][2] = { { 0, p->n_entities - 1 }, { p->n_entities, p->n_entities + p->n_relations - 1 } };
  for (int i = 0; i < 2; i++)
    add_id_array (b, i == 0 ? "entity" : "relation", ranges[i], 2);
  add_int (b, "</a>", strata_twohop_answer_end_token (p));
  add_int (b, "<pad>", strata_twohop_answer_end_token (p) + 1);
  json_builder_end_object (b);
  json_builder_end_object (b);
  return write_json (dir, "dataset.json", b, TRUE, error);
}

gboolean
strata_twohop_write (const StrataTwohopDataset *d, const char *dir, GError **error)
{
  if (g_mkdir_with_parents (dir, 0755) != 0 || g_access (dir, W_OK) != 0) {
    int e = errno;
    g_set_error (error, STRATA_DATA_ERROR, STRATA_DATA_ERROR_IO, "%s: cannot write in this folder: %s", dir,
                 g_strerror (e));
    return FALSE;
  }
  /* dataset.json last: its presence says every other file is complete. */
  return write_vocab (&d->params, dir, error) && write_tokenizer (&d->params, dir, error)
         && write_train (d, dir, error) && write_tests (d, dir, d->test_id, "test_inferred_id", error)
         && write_tests (d, dir, d->test_ood, "test_inferred_ood", error) && write_prompts (d, dir, 1, error)
         && write_prompts (d, dir, 2, error) && write_meta (d, dir, error);
}
