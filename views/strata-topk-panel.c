/* strata-topk-panel.c: rebuilt from the view model on every change (k is small; the trace
 * resolution it lists with the trace figure is a pass over (L+1) x T ranks per target). */
#include "strata-topk-panel.h"

struct _StrataTopkPanel {
  GtkWidget parent_instance;
  StrataViewModel *model;
  gulong changed_id;
  GtkWidget *box;       /* the one child: a vertical box */
  GtkWidget *heading;
  GtkWidget *grid;
};

G_DEFINE_FINAL_TYPE (StrataTopkPanel, strata_topk_panel, GTK_TYPE_WIDGET)

static const StrataLensResult *
lens_result (StrataTopkPanel *self)
{
  StrataAnalysis *a = strata_view_model_get_analysis (self->model, 0);
  const StrataViewState *v = strata_view_model_get_state (self->model);
  if (!a || !a->lens_results || a->lens_results->len == 0)
    return NULL;
  return g_ptr_array_index (a->lens_results, (guint) CLAMP (v->prompt, 0, (int) a->lens_results->len - 1));
}

static void
add_row (StrataTopkPanel *self, int row, const char *token, double prob, const char *extra, gboolean bold)
{
  GtkWidget *name = gtk_label_new (token);
  gtk_label_set_xalign (GTK_LABEL (name), 0);
  gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_END);
  gtk_label_set_max_width_chars (GTK_LABEL (name), 14);
  gtk_widget_add_css_class (name, "monospace");
  if (bold)
    gtk_widget_add_css_class (name, "heading");
  GtkWidget *bar = gtk_level_bar_new_for_interval (0, 1);
  gtk_level_bar_set_value (GTK_LEVEL_BAR (bar), CLAMP (prob, 0, 1));
  /* no "low/high" colour offsets: length is the message */
  gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (bar), GTK_LEVEL_BAR_OFFSET_LOW);
  gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (bar), GTK_LEVEL_BAR_OFFSET_HIGH);
  gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (bar), GTK_LEVEL_BAR_OFFSET_FULL);
  gtk_widget_set_valign (bar, GTK_ALIGN_CENTER);
  gtk_widget_set_hexpand (bar, TRUE);
  gtk_widget_set_size_request (bar, 60, -1);
  g_autofree char *p = extra ? g_strdup_printf ("%.3f  %s", prob, extra) : g_strdup_printf ("%.3f", prob);
  GtkWidget *value = gtk_label_new (p);
  gtk_label_set_xalign (GTK_LABEL (value), 1);
  gtk_widget_add_css_class (value, "numeric");
  gtk_widget_add_css_class (value, "dim-label");
  gtk_grid_attach (GTK_GRID (self->grid), name, 0, row, 1, 1);
  gtk_grid_attach (GTK_GRID (self->grid), bar, 1, row, 1, 1);
  gtk_grid_attach (GTK_GRID (self->grid), value, 2, row, 1, 1);
}

static GtkWidget *
section_label (const char *text)
{
  GtkWidget *l = gtk_label_new (text);
  gtk_label_set_xalign (GTK_LABEL (l), 0);
  gtk_widget_add_css_class (l, "heading");
  gtk_widget_set_margin_top (l, 10);
  return l;
}

/* While the trace figure shows: per target the trace writes, its first cell held before it
 * is written and how many tokens ahead (probes/strata-trace-resolution.h). */
static void
add_trace_rows (StrataTopkPanel *self, const StrataLensResult *r, int row)
{
  StrataAnalysis *a = strata_view_model_get_analysis (self->model, 0);
  const StrataViewState *v = strata_view_model_get_state (self->model);
  if (v->figure != STRATA_FIGURE_TRACE || !a->prompts || a->prompts->prompts->len == 0)
    return;
  const StrataPrompt *p = g_ptr_array_index (a->prompts->prompts,
                                             (guint) CLAMP (v->prompt, 0, (int) a->prompts->prompts->len - 1));
  StrataTraceOptions o = { MAX (v->trace.topk, 1), v->trace.anywhere };
  g_autoptr (StrataTraceResolution) t = strata_trace_resolution_new (r, p->n_generated, &o, NULL);
  if (!t)
    return;
  g_autofree char *title = g_strdup_printf ("First held before written (top %d)", t->topk);
  gtk_grid_attach (GTK_GRID (self->grid), section_label (title), 0, row++, 3, 1);
  for (guint i = 0; i < t->targets->len; i++) {
    const StrataTraceTarget *tt = g_ptr_array_index (t->targets, i);
    if (tt->written->len == 0)
      continue;
    g_autofree char *where = tt->first_position >= 0
                               ? g_strdup_printf ("layer %d, position %d: %d ahead", tt->first_layer,
                                                  tt->first_position, tt->tokens_ahead)
                               : g_strdup ("not held before written");
    GtkWidget *name = gtk_label_new (tt->name);
    gtk_label_set_xalign (GTK_LABEL (name), 0);
    gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_END);
    gtk_label_set_max_width_chars (GTK_LABEL (name), 14);
    gtk_widget_add_css_class (name, "monospace");
    GtkWidget *value = gtk_label_new (where);
    gtk_label_set_xalign (GTK_LABEL (value), 1);
    gtk_widget_add_css_class (value, "numeric");
    gtk_widget_add_css_class (value, "dim-label");
    gtk_grid_attach (GTK_GRID (self->grid), name, 0, row, 1, 1);
    gtk_grid_attach (GTK_GRID (self->grid), value, 1, row++, 2, 1);
  }
}

static void
rebuild (StrataTopkPanel *self)
{
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (self->grid)))
    gtk_grid_remove (GTK_GRID (self->grid), child);
  const StrataLensResult *r = lens_result (self);
  const StrataViewState *v = strata_view_model_get_state (self->model);
  if (!r || r->T <= 0) {
    gtk_label_set_text (GTK_LABEL (self->heading), "Top tokens");
    GtkWidget *l = gtk_label_new ("Run the lens to see the top tokens at each layer.");
    gtk_label_set_wrap (GTK_LABEL (l), TRUE);
    gtk_label_set_xalign (GTK_LABEL (l), 0);
    gtk_widget_add_css_class (l, "dim-label");
    gtk_grid_attach (GTK_GRID (self->grid), l, 0, 0, 3, 1);
    return;
  }
  int k = CLAMP (v->layer, 0, r->n_layers);
  int pos = v->position >= 0 && v->position < r->T ? v->position : r->T - 1;
  StrataFigureInput in;
  strata_view_model_fill_input (self->model, STRATA_FIGURE_LENS_HEATMAP, &in);
  g_autofree char *piece = r->ids && (guint) pos < r->ids->len
                             ? strata_figure_token_text (&in, in.a, g_array_index (r->ids, int32_t, pos))
                             : g_strdup ("");
  g_autofree char *heading = g_strdup_printf ("Layer %d%s, position %d \xe2\x80\x9c%s\xe2\x80\x9d", k,
                                              k == 0 ? " (embedding)" : "", pos, piece);
  gtk_label_set_text (GTK_LABEL (self->heading), heading);
  /* A lens still filling in (the window shows it while it runs): this cell has no value yet. */
  if (r->topk_ids[((gsize) k * r->T + pos) * r->topk] < 0) {
    GtkWidget *l = gtk_label_new ("Not computed yet: the lens is still running.");
    gtk_label_set_xalign (GTK_LABEL (l), 0);
    gtk_widget_add_css_class (l, "dim-label");
    gtk_grid_attach (GTK_GRID (self->grid), l, 0, 0, 3, 1);
    return;
  }
  int row = 0;
  for (int i = 0; i < r->topk; i++) {
    gsize c = ((gsize) k * r->T + pos) * r->topk + i;
    g_autofree char *tok = strata_figure_token_text (&in, in.a, r->topk_ids[c]);
    add_row (self, row++, tok, r->topk_prob[c], NULL, i == 0);
  }
  if (r->targets && r->targets->len > 0) {
    gtk_grid_attach (GTK_GRID (self->grid), section_label ("Targets"), 0, row++, 3, 1);
    for (guint t = 0; t < r->targets->len; t++) {
      const StrataLensTarget *tg = g_ptr_array_index (r->targets, t);
      gsize c = (gsize) k * r->T + pos;
      g_autofree char *extra = g_strdup_printf ("rank %d", tg->rank[c]);
      add_row (self, row++, tg->name, tg->prob[c], extra, FALSE);
    }
  }
  add_trace_rows (self, r, row);
}

static void
model_changed_cb (StrataViewModel *model, StrataTopkPanel *self)
{
  rebuild (self);
}

static void
strata_topk_panel_dispose (GObject *object)
{
  StrataTopkPanel *self = STRATA_TOPK_PANEL (object);
  if (self->model) {
    g_clear_signal_handler (&self->changed_id, self->model);
    g_clear_object (&self->model);
  }
  g_clear_pointer (&self->box, gtk_widget_unparent);
  G_OBJECT_CLASS (strata_topk_panel_parent_class)->dispose (object);
}

static void
strata_topk_panel_class_init (StrataTopkPanelClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = strata_topk_panel_dispose;
  gtk_widget_class_set_layout_manager_type (GTK_WIDGET_CLASS (klass), GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (GTK_WIDGET_CLASS (klass), "strata-topk");
}

static void
strata_topk_panel_init (StrataTopkPanel *self)
{
  self->box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 8);
  gtk_widget_set_parent (self->box, GTK_WIDGET (self));
  self->heading = gtk_label_new ("Top tokens");
  gtk_label_set_xalign (GTK_LABEL (self->heading), 0);
  gtk_label_set_wrap (GTK_LABEL (self->heading), TRUE);
  gtk_widget_add_css_class (self->heading, "heading");
  self->grid = gtk_grid_new ();
  gtk_grid_set_row_spacing (GTK_GRID (self->grid), 4);
  gtk_grid_set_column_spacing (GTK_GRID (self->grid), 8);
  gtk_box_append (GTK_BOX (self->box), self->heading);
  gtk_box_append (GTK_BOX (self->box), self->grid);
}

GtkWidget *
strata_topk_panel_new (StrataViewModel *model)
{
  StrataTopkPanel *self = g_object_new (STRATA_TYPE_TOPK_PANEL, NULL);
  self->model = g_object_ref (model);
  self->changed_id = g_signal_connect (model, "changed", G_CALLBACK (model_changed_cb), self);
  rebuild (self);
  return GTK_WIDGET (self);
}
