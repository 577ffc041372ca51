/* strata-figure-data.c: normalisation. Analyses in, plain grids and series out (values in
 * [0, 1] or [-1, 1], labels, captions). No cairo here. */
#include <math.h>
#include <string.h>

#include "strata-figure-private.h"

#define LOG_FLOOR -4.0 /* log colour scale: 1e-4 .. 1 */

StrataGrid *
strata_grid_new (int rows, int cols, gboolean with_text)
{
  StrataGrid *g = g_new0 (StrataGrid, 1);
  g->rows = rows;
  g->cols = cols;
  g->value = g_new (double, (gsize) rows * cols);
  for (gsize i = 0; i < (gsize) rows * cols; i++)
    g->value[i] = NAN;
  if (with_text)
    g->cell_text = g_new0 (char *, (gsize) rows * cols);
  g->row_labels = g_ptr_array_new_with_free_func (g_free);
  g->col_labels = g_ptr_array_new_with_free_func (g_free);
  g->sel_row = g->sel_col = -1;
  return g;
}

void
strata_grid_free (StrataGrid *g)
{
  if (!g)
    return;
  if (g->cell_text)
    for (gsize i = 0; i < (gsize) g->rows * g->cols; i++)
      g_free (g->cell_text[i]);
  g_free (g->cell_text);
  g_free (g->value);
  g_ptr_array_unref (g->row_labels);
  g_ptr_array_unref (g->col_labels);
  g_free (g->title);
  g_free (g->trace);
  g_free (g->col_mark);
  if (g->outlined)
    g_array_unref (g->outlined);
  g_free (g->overview);
  g_free (g);
}

void
strata_heat_figure_free (StrataHeatFigure *f)
{
  if (!f)
    return;
  for (int i = 0; i < f->n_panels; i++)
    strata_grid_free (f->panels[i]);
  g_free (f->title);
  g_free (f->caption);
  g_free (f->row_axis);
  g_free (f->col_axis);
  g_free (f->scale_label);
  g_free (f->trace_label);
  if (f->legend)
    g_ptr_array_unref (f->legend);
  g_free (f);
}

void
strata_curve_series_free (gpointer p)
{
  StrataCurveSeries *s = p;
  g_free (s->label);
  g_free (s->y);
  g_free (s->x);
  g_free (s->item);
  g_free (s);
}

void
strata_curve_figure_free (StrataCurveFigure *f)
{
  if (!f)
    return;
  g_free (f->title);
  g_free (f->caption);
  g_free (f->x_axis);
  g_free (f->y_axis);
  if (f->series)
    g_ptr_array_unref (f->series);
  g_free (f);
}

void
strata_circuit_figure_free (StrataCircuitFigure *f)
{
  if (!f)
    return;
  g_free (f->title);
  g_free (f->caption);
  if (f->col_labels)
    g_ptr_array_unref (f->col_labels);
  g_free (f);
}

/* ---- shared lookups ---- */

const StrataLensResult *
strata_figure_data_lens_result (const StrataAnalysis *a, const StrataViewState *v)
{
  if (!a || !a->lens_results || a->lens_results->len == 0)
    return NULL;
  guint p = (guint) CLAMP (v->prompt, 0, (int) a->lens_results->len - 1);
  return g_ptr_array_index (a->lens_results, p);
}

const StrataPatchResult *
strata_figure_data_patch_result (const StrataAnalysis *a, const StrataViewState *v)
{
  if (!a || !a->patch_results || a->patch_results->len == 0)
    return NULL;
  guint p = (guint) CLAMP (v->prompt, 0, (int) a->patch_results->len - 1);
  return g_ptr_array_index (a->patch_results, p);
}

int
strata_figure_data_position (const StrataViewState *v, int T)
{
  if (v->position >= 0 && v->position < T)
    return v->position;
  return T - 1;
}

static const StrataLensTarget *
find_target (const StrataLensResult *r, const char *name)
{
  if (!name || !r->targets)
    return NULL;
  for (guint i = 0; i < r->targets->len; i++) {
    const StrataLensTarget *t = g_ptr_array_index (r->targets, i);
    if (g_strcmp0 (t->name, name) == 0)
      return t;
  }
  return NULL;
}

/* Make whitespace and control bytes visible: a cell showing " the" or "\n" must not look
 * empty. */
char *
strata_figure_visible (const char *s)
{
  GString *out = g_string_new (NULL);
  for (const char *p = s; *p; p++) {
    if (*p == ' ')
      g_string_append (out, "\xc2\xb7"); /* middle dot */
    else if (*p == '\n')
      g_string_append (out, "\xe2\x86\xb5"); /* return arrow */
    else if (*p == '\t')
      g_string_append (out, "\xe2\x86\x92");
    else if ((unsigned char) *p < 0x20)
      g_string_append_printf (out, "\\x%02x", (unsigned char) *p);
    else
      g_string_append_c (out, *p);
  }
  if (!g_utf8_validate (out->str, -1, NULL)) {
    char *fixed = g_utf8_make_valid (out->str, -1);
    g_string_free (out, TRUE);
    return fixed;
  }
  return g_string_free (out, FALSE);
}

char *
strata_figure_token_text (const StrataFigureInput *in, const StrataAnalysis *a, int32_t id)
{
  if (in->token_text) {
    const char *s = in->token_text (in->token_data, a, id);
    if (s)
      return strata_figure_visible (s);
  }
  if (a && a->lens_results) {
    /* The token tables the lens recorded (sessions 1.1) name every top-k token. */
    for (guint r = 0; r < a->lens_results->len; r++) {
      const char *piece = strata_lens_result_get_piece (g_ptr_array_index (a->lens_results, r), id);
      if (piece)
        return strata_figure_visible (piece);
    }
    for (guint r = 0; r < a->lens_results->len; r++) {
      const StrataLensResult *lr = g_ptr_array_index (a->lens_results, r);
      for (guint j = 0; lr->ids && j < lr->ids->len && lr->pieces && j < lr->pieces->len; j++)
        if (g_array_index (lr->ids, int32_t, j) == id)
          return strata_figure_visible (g_ptr_array_index (lr->pieces, j));
      for (guint t = 0; lr->targets && t < lr->targets->len; t++) {
        const StrataLensTarget *tg = g_ptr_array_index (lr->targets, t);
        if (tg->id == id && tg->name)
          return strata_figure_visible (tg->name);
      }
    }
  }
  return g_strdup_printf ("#%d", id);
}

/* How a target reads in titles and legends: a name of the prompt set with its token
 * ("bridge “·Paris”"), a token written as text shown once and quoted ("“·She”", not
 * " She “·She”"), an id with its text ("“·She” #338"). id < 0: the name alone. */
static char *
target_label (const StrataFigureInput *in, const StrataAnalysis *a, const char *name, int32_t id)
{
  g_autofree char *shown = strata_figure_visible (name ? name : "?");
  if (id < 0)
    return g_strdup_printf ("\xe2\x80\x9c%s\xe2\x80\x9d", shown);
  g_autofree char *tok = strata_figure_token_text (in, a, id);
  if (g_strcmp0 (tok, shown) == 0)
    return g_strdup_printf ("\xe2\x80\x9c%s\xe2\x80\x9d", tok);
  if (name && name[0] == '#')
    return g_strdup_printf ("\xe2\x80\x9c%s\xe2\x80\x9d %s", tok, name);
  return g_strdup_printf ("%s \xe2\x80\x9c%s\xe2\x80\x9d", shown, tok);
}

static const StrataPrompt *
shown_prompt (const StrataAnalysis *a, const StrataViewState *v)
{
  if (!a->prompts || a->prompts->prompts->len == 0)
    return NULL;
  guint p = (guint) CLAMP (v->prompt, 0, (int) a->prompts->prompts->len - 1);
  return g_ptr_array_index (a->prompts->prompts, p);
}

/* The first of T positions the model generated (StrataPrompt.n_generated); 0: none. */
static int
first_generated (const StrataAnalysis *a, const StrataViewState *v, int T)
{
  const StrataPrompt *pr = shown_prompt (a, v);
  if (!pr || pr->n_generated <= 0 || !pr->ids || (int) pr->ids->len != T)
    return 0;
  return T - pr->n_generated;
}

/* The prompt for a caption: a long text shortened, ids listed up to 24, and what the model
 * generated after it. */
static char *
prompt_text (const StrataAnalysis *a, const StrataViewState *v)
{
  enum { MAX_CHARS = 60 };
  const StrataPrompt *pr = shown_prompt (a, v);
  if (!pr)
    return g_strdup ("prompt not recorded");
  GString *s = g_string_new (NULL);
  if (pr->text && g_utf8_strlen (pr->text, -1) > MAX_CHARS) {
    g_autofree char *head = g_utf8_substring (pr->text, 0, MAX_CHARS - 1);
    g_string_append_printf (s, "prompt \xe2\x80\x9c%s\xe2\x80\xa6\xe2\x80\x9d", head);
  } else if (pr->text) {
    g_string_append_printf (s, "prompt \xe2\x80\x9c%s\xe2\x80\x9d", pr->text);
  } else {
    g_string_append (s, "prompt ids");
    for (guint i = 0; pr->ids && i < pr->ids->len && i < 24; i++)
      g_string_append_printf (s, " %d", g_array_index (pr->ids, int32_t, i));
    if (pr->ids && pr->ids->len > 24)
      g_string_append (s, " \xe2\x80\xa6");
  }
  if (pr->n_generated > 0)
    g_string_append_printf (s, " + %d generated token%s (from position %u, dashed line)", pr->n_generated,
                            pr->n_generated == 1 ? "" : "s", pr->ids->len - (guint) pr->n_generated);
  return g_string_free (s, FALSE);
}

static const char *
model_name (const StrataAnalysis *a)
{
  return a->model.name ? a->model.name : (a->model.path ? a->model.path : "model");
}

void
strata_figure_note_device (GString *devices, const char *device)
{
  if (!device || !*device)
    return;
  g_auto (GStrv) known = g_strsplit (devices->str, ", ", -1);
  if (devices->len && g_strv_contains ((const char *const *) known, device))
    return;
  g_string_append_printf (devices, "%s%s", devices->len ? ", " : "", device);
}

/* " · cpu": where `a` (and `b`, may be NULL) ran; "" when the records do not say. */
static char *
device_note (const StrataAnalysis *a, const StrataAnalysis *b)
{
  g_autoptr (GString) devices = g_string_new (NULL);
  strata_figure_note_device (devices, a ? a->model.device : NULL);
  strata_figure_note_device (devices, b ? b->model.device : NULL);
  return devices->len ? g_strdup_printf (" \xc2\xb7 %s", devices->str) : g_strdup ("");
}

static void
add_pieces (GPtrArray *labels, const StrataLensResult *lr, int T)
{
  for (int j = 0; j < T; j++) {
    if (lr && lr->pieces && (guint) j < lr->pieces->len)
      g_ptr_array_add (labels, strata_figure_visible (g_ptr_array_index (lr->pieces, j)));
    else
      g_ptr_array_add (labels, g_strdup_printf ("%d", j));
  }
}

/* ---- logit lens ---- */

double
strata_figure_prob_to_unit (double p, gboolean log_color)
{
  if (isnan (p))
    return NAN;
  if (!log_color)
    return CLAMP (p, 0.0, 1.0);
  double l = p > 0 ? log10 (p) : LOG_FLOOR;
  return CLAMP ((l - LOG_FLOOR) / -LOG_FLOOR, 0.0, 1.0);
}

static StrataGrid *
lens_grid (const StrataFigureInput *in, const StrataAnalysis *a)
{
  const StrataViewState *v = in->view;
  const StrataLensResult *r = strata_figure_data_lens_result (a, v);
  if (!r || r->T <= 0 || r->n_layers < 0)
    return NULL;
  int R = r->n_layers + 1, T = r->T;
  const StrataLensTarget *t = find_target (r, v->target);
  /* A target this analysis did not read leaves its cells empty: colouring them by the
   * top-1 token instead would put two different quantities under one colour bar. */
  gboolean missing = v->target && !t;
  StrataGrid *g = strata_grid_new (R, T, TRUE);
  for (int k = 0; k < R; k++) {
    for (int j = 0; j < T; j++) {
      gsize c = (gsize) k * T + j;
      double p = t ? t->prob[c] : (!missing && r->topk > 0 ? r->topk_prob[c * r->topk] : NAN);
      g->value[c] = strata_figure_prob_to_unit (p, v->log_color);
      if (r->topk > 0)
        g->cell_text[c] = strata_figure_token_text (in, a, r->topk_ids[c * r->topk]);
    }
    g_ptr_array_add (g->row_labels, k == 0 ? g_strdup ("0 emb") : g_strdup_printf ("%d", k));
  }
  add_pieces (g->col_labels, r, T);
  g->sel_row = v->layer >= 0 && v->layer < R ? v->layer : -1;
  g->sel_col = v->position >= 0 && v->position < T ? v->position : -1;
  g->first_generated_col = first_generated (a, v, T);
  g->title = missing ? g_strdup_printf ("%s (no target %s)", model_name (a), v->target) : g_strdup (model_name (a));
  return g;
}

void
strata_figure_set_prob_scale (StrataHeatFigure *f, const StrataViewState *v)
{
  f->scale_log = v->log_color;
  f->scale_min = v->log_color ? LOG_FLOOR : 0.0;
  f->scale_max = v->log_color ? 0.0 : 1.0;
}

StrataHeatFigure *
strata_figure_data_lens (const StrataFigureInput *in)
{
  const StrataViewState *v = in->view;
  StrataGrid *ga = lens_grid (in, in->a);
  if (!ga)
    return NULL;
  StrataHeatFigure *f = g_new0 (StrataHeatFigure, 1);
  f->panels[f->n_panels++] = ga;
  if (in->b && v->compare) {
    StrataGrid *gb = lens_grid (in, in->b);
    if (gb)
      f->panels[f->n_panels++] = gb;
  }
  if (f->n_panels == 1)
    g_clear_pointer (&ga->title, g_free);
  const StrataLensResult *r = strata_figure_data_lens_result (in->a, v);
  const StrataLensTarget *t = find_target (r, v->target);
  if (!t) {
    f->title = g_strdup (f->n_panels > 1 ? "Logit lens: each model's top-1 token and its probability"
                                         : "Logit lens: top-1 token and its probability");
  } else {
    g_autofree char *label = target_label (in, in->a, t->name, t->id);
    f->title = g_strdup_printf ("Logit lens: probability of %s by layer and position", label);
  }
  f->row_axis = g_strdup ("residual point (layer)");
  f->col_axis = g_strdup ("input position");
  f->row0_bottom = TRUE;
  f->col_positions = TRUE;
  if (t) {
    g_autofree char *shown = strata_figure_visible (t->name), *tok = strata_figure_token_text (in, in->a, t->id);
    f->scale_label = g_strdup_printf ("P(%s)", t->name[0] == '#' || g_strcmp0 (shown, tok) == 0 ? tok : shown);
  } else {
    f->scale_label = g_strdup (f->n_panels > 1 ? "P(each model's top-1)" : "P(top-1)");
  }
  strata_figure_set_prob_scale (f, v);
  g_autofree char *prompt = prompt_text (in->a, v);
  g_autofree char *device = device_note (in->a, f->n_panels > 1 ? in->b : NULL);
  f->caption = g_strdup_printf ("%s%s%s%s \xc2\xb7 %s lens, %d layers \xc2\xb7 %s \xc2\xb7 cell text: top-1 token",
                                model_name (in->a), f->n_panels > 1 ? " vs " : "",
                                f->n_panels > 1 ? model_name (in->b) : "", device,
                                r->raw ? "raw (no final norm)" : "final-norm", r->n_layers, prompt);
  return f;
}

/* ---- resolution along a generated trace ---- */

StrataHeatFigure *
strata_figure_data_trace (const StrataFigureInput *in)
{
  const StrataViewState *v = in->view;
  const StrataLensResult *r = strata_figure_data_lens_result (in->a, v);
  StrataTraceOptions o = { MAX (v->trace.topk, 1), v->trace.anywhere };
  if (!r || r->T <= 0)
    return NULL;
  int R = r->n_layers + 1, T = r->T, from = first_generated (in->a, v, T);
  g_autoptr (StrataTraceResolution) t = strata_trace_resolution_new (r, from > 0 ? T - from : 0, &o, NULL);
  if (!t)
    return NULL;
  StrataHeatFigure *f = g_new0 (StrataHeatFigure, 1);
  StrataGrid *g = strata_grid_new (R, T, FALSE);
  f->panels[f->n_panels++] = g;
  /* The legend lists the targets written in the trace; `entry` maps a target to its entry. */
  f->legend = g_ptr_array_new_with_free_func (g_free);
  f->col_positions = TRUE;
  g_autofree int *entry = g_new (int, MAX (t->targets->len, 1));
  for (guint i = 0; i < t->targets->len; i++) {
    const StrataTraceTarget *tt = t->targets->pdata[i];
    entry[i] = tt->written->len ? (int) f->legend->len : -1;
    if (entry[i] >= 0)
      g_ptr_array_add (f->legend, target_label (in, in->a, tt->name, tt->id));
  }
  for (int k = 0; k < R; k++) {
    for (int p = 0; p < T; p++) {
      int i = strata_trace_resolution_cell (t, r, k, p);
      g->value[(gsize) k * T + p] = i >= 0 ? entry[i] : NAN;
    }
    g_ptr_array_add (g->row_labels, k == 0 ? g_strdup ("0 emb") : g_strdup_printf ("%d", k));
  }
  add_pieces (g->col_labels, r, T);
  g->col_mark = g_new (int, T);
  for (int p = 0; p < T; p++)
    g->col_mark[p] = -1;
  g->outlined = g_array_new (FALSE, FALSE, sizeof (StrataGridCell));
  int n_first = 0;
  for (guint i = 0; i < t->targets->len; i++) {
    const StrataTraceTarget *tt = t->targets->pdata[i];
    for (guint j = 0; j < tt->written->len; j++)
      g->col_mark[g_array_index (tt->written, int, j)] = entry[i];
    if (tt->first_position >= 0) {
      StrataGridCell c = { tt->first_layer, tt->first_position, entry[i] };
      g_array_append_val (g->outlined, c);
      n_first++;
    }
  }
  g->sel_row = v->layer >= 0 && v->layer < R ? v->layer : -1;
  g->sel_col = v->position >= 0 && v->position < T ? v->position : -1;
  g->first_generated_col = from;
  f->title = g_strdup_printf ("Where the lens holds a token before the trace writes it (top-%d)", t->topk);
  f->row_axis = g_strdup ("residual point (layer)");
  f->col_axis = g_strdup ("input position (marks: where a target is written)");
  f->row0_bottom = TRUE;
  f->scale_label = g_strdup ("target");
  g_autofree char *prompt = prompt_text (in->a, v);
  g_autofree char *device = device_note (in->a, NULL);
  f->caption = g_strdup_printf ("%s%s \xc2\xb7 %s lens, %d layers \xc2\xb7 %s \xc2\xb7 cells: a target within the "
                                "lens' top %d before it is written %s; %u target%s written, %d held ahead "
                                "(first cell outlined)",
                                model_name (in->a), device, r->raw ? "raw (no final norm)" : "final-norm",
                                r->n_layers, prompt, t->topk, t->anywhere ? "anywhere" : "in the generated part",
                                f->legend->len, f->legend->len == 1 ? "" : "s", n_first);
  return f;
}

/* ---- patching ---- */

static char *
score_definition (const StrataPatchResult *pr)
{
  const char *m = strata_enum_get_label (&strata_patch_metric_table, pr->metric);
  if (pr->metric == STRATA_METRIC_TOP1_CHANGE)
    return g_strdup ("score = 1 when the patched run's top-1 token differs from the unpatched run's, else 0");
  if (pr->direction == STRATA_PATCH_NOISE)
    return g_strdup_printf ("noising: score = (%s_patched \xe2\x88\x92 %s_clean) / (%s_clean \xe2\x88\x92 %s_corrupt); "
                            "0 = no effect, \xe2\x88\x92" "1 = fully corrupted", m, m, m, m);
  return g_strdup_printf ("denoising: score = (%s_patched \xe2\x88\x92 %s_corrupt) / (%s_clean \xe2\x88\x92 %s_corrupt); "
                          "0 = no recovery, 1 = fully clean", m, m, m, m);
}

static const StrataPatchMap *
find_map (const StrataPatchResult *pr, StrataPatchSite site)
{
  if (!pr->maps || pr->maps->len == 0)
    return NULL;
  for (guint i = 0; i < pr->maps->len; i++) {
    const StrataPatchMap *m = g_ptr_array_index (pr->maps, i);
    if (m->site == site)
      return m;
  }
  return NULL; /* never another site's map under this site's name */
}

StrataHeatFigure *
strata_figure_data_patch (const StrataFigureInput *in)
{
  const StrataViewState *v = in->view;
  const StrataPatchResult *pr = strata_figure_data_patch_result (in->a, v);
  if (!pr)
    return NULL;
  const StrataPatchMap *m = find_map (pr, v->patch_site);
  if (!m || m->rows <= 0 || m->cols <= 0)
    return NULL;
  gboolean heads = m->site == STRATA_PATCH_HEAD || m->site == STRATA_PATCH_HEAD_AT;
  /* Symmetric range: at least [-1, 1] so 1 = fully clean always looks the same. */
  double range = 1.0;
  for (int i = 0; i < m->rows * m->cols; i++)
    if (isfinite (m->score[i]))
      range = MAX (range, fabs (m->score[i]));
  StrataGrid *g = strata_grid_new (m->rows, m->cols, TRUE);
  for (int i = 0; i < m->rows * m->cols; i++) {
    g->value[i] = isfinite (m->score[i]) ? m->score[i] / range : NAN;
    /* Text only where it says something: a score that rounds to 0.00 stays a blank cell, so
     * the few sites that matter stand out instead of a grid of "0.00". */
    if (isfinite (m->score[i]) && fabs (m->score[i]) >= 0.005)
      g->cell_text[i] = g_strdup_printf ("%.2f", m->score[i]);
  }
  for (int k = 0; k < m->rows; k++)
    g_ptr_array_add (g->row_labels, g_strdup_printf ("%d", k));
  if (heads) {
    for (int h = 0; h < m->cols; h++)
      g_ptr_array_add (g->col_labels, g_strdup_printf ("H%d", h));
  } else {
    const StrataLensResult *lr = strata_figure_data_lens_result (in->a, v);
    if (lr && lr->T == m->cols) {
      add_pieces (g->col_labels, lr, m->cols);
    } else {
      for (int j = 0; j < m->cols; j++) {
        int32_t id = pr->clean_ids && (guint) j < pr->clean_ids->len ? g_array_index (pr->clean_ids, int32_t, j) : -1;
        g_ptr_array_add (g->col_labels, id >= 0 ? strata_figure_token_text (in, in->a, id) : g_strdup_printf ("%d", j));
      }
    }
  }
  g->sel_row = v->layer >= 0 && v->layer < m->rows ? v->layer : -1;
  g->sel_col = heads ? (v->head >= 0 && v->head < m->cols ? v->head : -1)
                     : (v->position >= 0 && v->position < m->cols ? v->position : -1);

  StrataHeatFigure *f = g_new0 (StrataHeatFigure, 1);
  f->panels[f->n_panels++] = g;
  g_autofree char *target = target_label (in, in->a, pr->target_name, pr->target);
  /* Heads read as what was patched: each head's output at every position, or at one. */
  g_autofree char *what = m->site == STRATA_PATCH_HEAD      ? g_strdup ("each head (every position)")
                          : m->site == STRATA_PATCH_HEAD_AT ? g_strdup_printf ("each head at position %d", m->head_pos)
                                                            : g_strdup (strata_patch_site_to_string (m->site));
  f->title = g_strdup_printf ("%s: %s (%s), target %s", strata_enum_get_label (&strata_patch_method_table, pr->method),
                              what, strata_enum_get_label (&strata_patch_direction_table, pr->direction), target);
  f->row_axis = g_strdup ("layer (block)");
  f->col_axis = g_strdup (heads ? (m->site == STRATA_PATCH_HEAD_AT ? "head (patched at one position)" : "head")
                                : "position patched");
  f->row0_bottom = TRUE;
  f->col_positions = !heads;
  f->diverging = TRUE;
  f->scale_label = g_strdup ("score");
  f->scale_min = -range;
  f->scale_max = range;
  g_autofree char *def = score_definition (pr);
  g_autofree char *prompt = prompt_text (in->a, v);
  /* Name the two tokens of a logit difference: the contrast is half the definition. */
  g_autofree char *metric = NULL;
  if (pr->metric == STRATA_METRIC_LOGIT_DIFF && pr->contrast >= 0) {
    g_autofree char *tt = strata_figure_token_text (in, in->a, pr->target);
    g_autofree char *ct = strata_figure_token_text (in, in->a, pr->contrast);
    metric = g_strdup_printf ("logit(\xe2\x80\x9c%s\xe2\x80\x9d) \xe2\x88\x92 logit(\xe2\x80\x9c%s\xe2\x80\x9d)", tt, ct);
  } else {
    metric = g_strdup (strata_enum_get_long_name (&strata_patch_metric_table, pr->metric));
  }
  g_autofree char *device = device_note (in->a, NULL);
  f->caption = g_strdup_printf ("%s%s \xc2\xb7 %s \xc2\xb7 metric %s, clean %.3g, corrupt %.3g%s \xc2\xb7 %s",
                                model_name (in->a), device, def, metric,
                                pr->baseline_clean, pr->baseline_corrupt,
                                pr->small_gap ? " (WARNING: clean and corrupt barely differ; scores are not meaningful)" : "",
                                prompt);
  return f;
}

/* ---- attention ---- */

StrataHeatFigure *
strata_figure_data_attention (const StrataFigureInput *in)
{
  const StrataViewState *v = in->view;
  const StrataAttention *att = in->a ? in->a->attention : NULL;
  if (!att || !att->pattern || att->T <= 0 || att->n_layers <= 0 || att->n_heads <= 0)
    return NULL;
  int l = CLAMP (v->layer, 0, att->n_layers - 1);
  int h = CLAMP (v->head, 0, att->n_heads - 1);
  int T = att->T;
  const float *p = att->pattern + ((gsize) l * att->n_heads + h) * T * T;
  StrataGrid *g = strata_grid_new (T, T, FALSE);
  for (int q = 0; q < T; q++)
    for (int k = 0; k <= q; k++) /* causal: keys after the query stay "no data" */
      g->value[q * T + k] = strata_figure_prob_to_unit (p[q * T + k], v->log_color);
  const StrataLensResult *lr = strata_figure_data_lens_result (in->a, v);
  if (!(lr && lr->T == T))
    lr = NULL;
  add_pieces (g->row_labels, lr, T);
  add_pieces (g->col_labels, lr, T);
  g->sel_row = v->position >= 0 && v->position < T ? v->position : -1;

  StrataHeatFigure *f = g_new0 (StrataHeatFigure, 1);
  f->panels[f->n_panels++] = g;
  f->title = g_strdup_printf ("Attention pattern: layer %d, head %d", l, h);
  f->row_axis = g_strdup ("query position");
  f->col_axis = g_strdup ("key position");
  f->row_positions = f->col_positions = TRUE;
  f->scale_label = g_strdup ("attention weight");
  strata_figure_set_prob_scale (f, v);
  g_autofree char *prompt = prompt_text (in->a, v);
  g_autofree char *device = device_note (in->a, NULL);
  f->caption = g_strdup_printf ("%s%s \xc2\xb7 blocks.%d.attn.hook_pattern, head %d of %d \xc2\xb7 %s",
                                model_name (in->a), device, l, h, att->n_heads, prompt);
  return f;
}

/* ---- token curves ---- */

/* The name the prompt set gives position `pos` (its first prompt's table: "r2"), else
 * the index as text, the way strata_lens_aggregate() names positions. */
static char *
position_name (const StrataAnalysis *a, int pos)
{
  if (a->prompts && a->prompts->prompts->len > 0) {
    const StrataPrompt *pr = g_ptr_array_index (a->prompts->prompts, 0);
    for (guint j = 0; pr->positions && j < pr->positions->len; j++) {
      const StrataPosition *sp = &g_array_index (pr->positions, StrataPosition, j);
      if (sp->index == pos)
        return g_strdup (sp->name);
    }
  }
  return g_strdup_printf ("%d", pos);
}

/* MRR curves read the aggregate over the prompt set (more than one prompt); a single
 * prompt has no aggregate worth the name and shows its own 1/(rank+1). */
static gboolean
uses_aggregates (const StrataAnalysis *a, const StrataViewState *v)
{
  return v->curve == STRATA_CURVE_MRR && a->lens_aggregates && a->lens_aggregates->len > 0 && a->prompts
         && a->prompts->prompts->len > 1;
}

/* The aggregate of exactly (tag, target, position), or NULL: never one of another position
 * or tag, which would plot numbers the title does not describe. */
static const StrataLensAggregate *
find_aggregate (const StrataAnalysis *a, const char *tag, const char *target, const char *pos_name)
{
  for (guint i = 0; a->lens_aggregates && i < a->lens_aggregates->len; i++) {
    const StrataLensAggregate *ag = g_ptr_array_index (a->lens_aggregates, i);
    if (g_strcmp0 (ag->tag, tag ? tag : "all") == 0 && g_strcmp0 (ag->target, target) == 0
        && g_strcmp0 (ag->position, pos_name) == 0)
      return ag;
  }
  return NULL;
}

static void
add_series_for (StrataCurveFigure *f, const StrataFigureInput *in, const StrataAnalysis *a,
                gboolean dashed, gboolean with_model, int *n_prompts)
{
  const StrataViewState *v = in->view;
  const StrataLensResult *r = strata_figure_data_lens_result (a, v);
  if (!r || !r->targets)
    return;
  int R = r->n_layers + 1;
  int pos = strata_figure_data_position (v, r->T);
  gboolean agg = uses_aggregates (a, v);
  g_autofree char *pos_name = position_name (a, pos);
  for (guint i = 0; i < r->targets->len; i++) {
    const StrataLensTarget *t = g_ptr_array_index (r->targets, i);
    StrataCurveSeries *s = g_new0 (StrataCurveSeries, 1);
    s->n = R;
    s->y = g_new (double, R);
    s->color = (int) i;
    s->dashed = dashed;
    s->mark = t->resolution ? t->resolution[pos] : -1;
    /* Over a set a target name stands for a different token in every prompt: name it
     * alone. One prompt: the token too ("#id" reads better with its text). */
    g_autofree char *name = agg ? g_strdup (t->name) : target_label (in, a, t->name, t->id);
    s->label = with_model ? g_strdup_printf ("%s (%s)", name, model_name (a)) : g_strdup (name);
    const StrataLensAggregate *ag = agg ? find_aggregate (a, v->tag, t->name, pos_name) : NULL;
    if (agg) {
      s->mark = ag ? ag->resolution_layer : -1;
      if (ag && n_prompts)
        *n_prompts = MAX (*n_prompts, ag->n_prompts);
    }
    if (s->mark < 0 || s->mark > r->n_layers) /* -1 "never", and nothing outside the axis */
      s->mark = -1;
    for (int k = 0; k < R; k++) {
      gsize c = (gsize) k * r->T + pos;
      switch (v->curve) {
      case STRATA_CURVE_PROB: s->y[k] = t->prob[c]; break;
      case STRATA_CURVE_LOGPROB: s->y[k] = MAX (t->logprob[c], -30.0); break;
      case STRATA_CURVE_RANK: s->y[k] = log10 ((double) t->rank[c] + 1.0); break;
      case STRATA_CURVE_MRR:
        if (agg)
          s->y[k] = ag && k <= ag->n_layers ? ag->mrr[k] : NAN;
        else
          s->y[k] = 1.0 / ((double) t->rank[c] + 1.0);
        break;
      default: s->y[k] = NAN;
      }
    }
    g_ptr_array_add (f->series, s);
  }
}

/* "“bridge”, “answer”" or the one target with its token: what the curves are of. */
static char *
targets_phrase (const StrataFigureInput *in, const StrataLensResult *r, gboolean agg)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < r->targets->len && i < 4; i++) {
    const StrataLensTarget *t = g_ptr_array_index (r->targets, i);
    g_autofree char *label = agg ? g_strdup_printf ("\xe2\x80\x9c%s\xe2\x80\x9d", t->name)
                                 : target_label (in, in->a, t->name, t->id);
    g_string_append_printf (s, "%s%s", i ? ", " : "", label);
  }
  if (r->targets->len > 4)
    g_string_append (s, ", \xe2\x80\xa6");
  return g_string_free (s, FALSE);
}

StrataCurveFigure *
strata_figure_data_curves (const StrataFigureInput *in)
{
  const StrataViewState *v = in->view;
  const StrataLensResult *r = strata_figure_data_lens_result (in->a, v);
  if (!r || !r->targets || r->targets->len == 0)
    return NULL;
  StrataCurveFigure *f = g_new0 (StrataCurveFigure, 1);
  f->series = g_ptr_array_new_with_free_func (strata_curve_series_free);
  gboolean two = in->b && v->compare && strata_figure_data_lens_result (in->b, v);
  gboolean agg = uses_aggregates (in->a, v);
  int n_prompts = 0;
  add_series_for (f, in, in->a, FALSE, two, &n_prompts);
  if (two)
    add_series_for (f, in, in->b, TRUE, TRUE, NULL);
  f->n_layers = r->n_layers;
  if (two) {
    const StrataLensResult *rb = strata_figure_data_lens_result (in->b, v);
    f->n_layers = MAX (f->n_layers, rb->n_layers);
  }
  f->sel_layer = v->layer >= 0 && v->layer <= f->n_layers ? v->layer : -1;
  int pos = strata_figure_data_position (v, r->T);
  g_autofree char *piece = r->pieces && (guint) pos < r->pieces->len ? strata_figure_visible (g_ptr_array_index (r->pieces, pos))
                                                                     : g_strdup_printf ("%d", pos);
  const char *what = "Probability";
  switch (v->curve) {
  case STRATA_CURVE_PROB:
    f->y_min = 0; f->y_max = 1; what = "Probability";
    f->y_axis = g_strdup ("probability");
    break;
  case STRATA_CURVE_LOGPROB: {
    double lo = 0;
    for (guint i = 0; i < f->series->len; i++) {
      StrataCurveSeries *s = g_ptr_array_index (f->series, i);
      for (int k = 0; k < s->n; k++)
        if (isfinite (s->y[k]))
          lo = MIN (lo, s->y[k]);
    }
    f->y_min = floor (lo); f->y_max = 0; what = "Log-probability";
    f->y_axis = g_strdup ("log-probability (nats)");
    break;
  }
  case STRATA_CURVE_RANK: {
    double hi = 1;
    for (guint i = 0; i < f->series->len; i++) {
      StrataCurveSeries *s = g_ptr_array_index (f->series, i);
      for (int k = 0; k < s->n; k++)
        if (isfinite (s->y[k]))
          hi = MAX (hi, s->y[k]);
    }
    f->y_min = ceil (hi); f->y_max = 0; f->y_log10 = TRUE; what = "Rank";
    f->y_axis = g_strdup ("rank + 1 (log scale; 1 = top-1)");
    break;
  }
  case STRATA_CURVE_MRR:
    f->y_min = 0; f->y_max = 1; what = agg ? "MRR" : "Reciprocal rank";
    f->y_axis = g_strdup (agg ? "MRR = mean 1/(rank+1) over the prompts" : "1/(rank+1)");
    break;
  }
  f->x_axis = g_strdup ("residual point (layer; 0 = embedding)");
  g_autofree char *targets = targets_phrase (in, r, agg);
  if (agg) {
    g_autofree char *pos_name = position_name (in->a, pos);
    f->title = g_strdup_printf ("%s of %s by layer at position %s, tag %s (%d prompts)", what, targets, pos_name,
                                v->tag ? v->tag : "all", n_prompts);
  } else {
    f->title = g_strdup_printf ("%s of %s by layer at position %d \xe2\x80\x9c%s\xe2\x80\x9d", what, targets, pos, piece);
  }
  g_autofree char *set_name = agg ? g_path_get_basename (in->a->prompts->source) : NULL;
  g_autofree char *prompt = agg ? g_strdup_printf ("prompt set %s (%u prompts)", set_name,
                                                   in->a->prompts->prompts->len)
                                : prompt_text (in->a, v);
  g_autofree char *device = device_note (in->a, two ? in->b : NULL);
  f->caption = g_strdup_printf ("%s%s%s%s \xc2\xb7 %s \xc2\xb7 markers: resolution layer (%s)%s",
                                model_name (in->a), two ? " (solid) vs " : "", two ? model_name (in->b) : "", device,
                                prompt,
                                agg ? "first layer with MRR \xe2\x89\xa5 0.9"
                                    : "first layer where the target is top-1 through the last",
                                two ? "; both checkpoints read the same targets" : "");
  return f;
}

/* ---- circuit ---- */

StrataCircuitFigure *
strata_figure_data_circuit (const StrataFigureInput *in)
{
  const StrataViewState *v = in->view;
  const StrataCircuit *c = in->a ? in->a->circuit : NULL;
  if (!c || !c->nodes || c->T <= 0 || c->n_layers <= 0)
    return NULL;
  StrataCircuitFigure *f = g_new0 (StrataCircuitFigure, 1);
  f->circuit = c;
  f->col_labels = g_ptr_array_new_with_free_func (g_free);
  const StrataLensResult *lr = strata_figure_data_lens_result (in->a, v);
  add_pieces (f->col_labels, lr && lr->T == c->T ? lr : NULL, c->T);
  f->max_effect = 1e-9;
  for (guint i = 0; i < c->nodes->len; i++) {
    const StrataCircuitNode *n = &g_array_index (c->nodes, StrataCircuitNode, i);
    f->max_effect = MAX (f->max_effect, fabs (n->effect));
    if (n->kind == STRATA_NODE_HEAD)
      f->n_heads = MAX (f->n_heads, n->head + 1);
  }
  f->sel_layer = v->layer;
  f->sel_pos = v->position;
  const StrataPatchResult *cpr = strata_figure_data_patch_result (in->a, v);
  g_autofree char *target = target_label (in, in->a, c->target_name,
                                          cpr && g_strcmp0 (cpr->target_name, c->target_name) == 0 ? cpr->target : -1);
  f->title = g_strdup_printf ("Circuit for target %s", target);
  g_autofree char *prompt = prompt_text (in->a, v);
  g_autofree char *device = device_note (in->a, NULL);
  f->caption = g_strdup_printf ("%s%s \xc2\xb7 nodes and edges with |effect| \xe2\x89\xa5 %.2g; size and colour = patching "
                                "effect, ring = the lens decodes the target there (top-1); edge width = strength \xc2\xb7 %s",
                                model_name (in->a), device, c->threshold, prompt);
  return f;
}
