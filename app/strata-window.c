/* strata-window.c: the window's widgets and how they follow the view model. */
#include <string.h>

#include "strata-window-private.h"

G_DEFINE_FINAL_TYPE (StrataWindow, strata_window, GTK_TYPE_APPLICATION_WINDOW)

static const char *const card_keys[] = { "Family", "Layers", "Width", "Heads", "Vocabulary", "Parameters",
                                         "Dtype", "Device", "BOS" };


/* ---- banner ---- */

void
strata_window_show_error (StrataWindow *self, const char *message)
{
  gtk_info_bar_set_message_type (GTK_INFO_BAR (self->banner), GTK_MESSAGE_ERROR);
  gtk_label_set_text (GTK_LABEL (self->banner_label), message);
  gtk_info_bar_set_revealed (GTK_INFO_BAR (self->banner), TRUE);
  gtk_widget_set_visible (self->banner, TRUE);
}

void
_strata_window_show_info (StrataWindow *self, const char *message)
{
  gtk_info_bar_set_message_type (GTK_INFO_BAR (self->banner), GTK_MESSAGE_WARNING);
  gtk_label_set_text (GTK_LABEL (self->banner_label), message);
  gtk_info_bar_set_revealed (GTK_INFO_BAR (self->banner), TRUE);
  gtk_widget_set_visible (self->banner, TRUE);
}

void
_strata_window_hide_error (StrataWindow *self)
{
  gtk_info_bar_set_revealed (GTK_INFO_BAR (self->banner), FALSE);
  gtk_widget_set_visible (self->banner, FALSE);
}

static void
banner_response_cb (GtkInfoBar *bar, int response, StrataWindow *self)
{
  _strata_window_hide_error (self);
}

/* ---- model cards ---- */

static void
build_card (StrataModelCard *card, const char *title)
{
  card->frame = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  card->title = gtk_label_new (title);
  gtk_label_set_xalign (GTK_LABEL (card->title), 0);
  gtk_label_set_ellipsize (GTK_LABEL (card->title), PANGO_ELLIPSIZE_MIDDLE);
  gtk_widget_add_css_class (card->title, "heading");
  gtk_box_append (GTK_BOX (card->frame), card->title);
  GtkWidget *grid = gtk_grid_new ();
  gtk_grid_set_column_spacing (GTK_GRID (grid), 12);
  gtk_grid_set_row_spacing (GTK_GRID (grid), 2);
  for (gsize i = 0; i < G_N_ELEMENTS (card_keys); i++) {
    GtkWidget *k = gtk_label_new (card_keys[i]);
    gtk_label_set_xalign (GTK_LABEL (k), 0);
    gtk_widget_add_css_class (k, "strata-card-key");
    card->values[i] = gtk_label_new ("\xe2\x80\x94");
    gtk_label_set_xalign (GTK_LABEL (card->values[i]), 0);
    gtk_label_set_selectable (GTK_LABEL (card->values[i]), FALSE);
    gtk_widget_add_css_class (card->values[i], "numeric");
    gtk_grid_attach (GTK_GRID (grid), k, 0, (int) i, 1, 1);
    gtk_grid_attach (GTK_GRID (grid), card->values[i], 1, (int) i, 1, 1);
  }
  gtk_box_append (GTK_BOX (card->frame), grid);
}

static char *
format_params (gsize n)
{
  if (n >= 1000000000)
    return g_strdup_printf ("%.2f B", n / 1e9);
  if (n >= 1000000)
    return g_strdup_printf ("%.2f M", n / 1e6);
  if (n >= 1000)
    return g_strdup_printf ("%.1f K", n / 1e3);
  return g_strdup_printf ("%zu", n);
}

static void
fill_card (StrataWindow *self, int slot)
{
  StrataModelCard *card = &self->card[slot];
  StrataModel *m = self->model[slot];
  StrataAnalysis *a = strata_view_model_get_analysis (self->view, slot);
  const StrataConfig *c = m ? &m->weights->cfg : (a ? &a->model.config : NULL);
  gtk_widget_set_visible (card->frame, slot == 0 || m || a);
  if (!c) {
    gtk_label_set_text (GTK_LABEL (card->title), slot == 0 ? "No model" : "Second checkpoint");
    for (gsize i = 0; i < G_N_ELEMENTS (card_keys); i++)
      gtk_label_set_text (GTK_LABEL (card->values[i]), "\xe2\x80\x94");
    return;
  }
  const char *name = m ? m->name : a->model.name;
  g_autofree char *title = m ? g_strdup (name) : g_strdup_printf ("%s (not loaded)", name ? name : "model");
  gtk_label_set_text (GTK_LABEL (card->title), title);
  gtk_widget_set_tooltip_text (card->title, m ? m->path : a->model.path);
  const char *arch = m ? m->arch : a->model.arch;
  g_autofree char *family = g_strdup_printf ("%s (%s)", arch ? arch : "?", strata_family_label (c->family));
  g_autofree char *layers = g_strdup_printf ("%d", c->n_layers);
  g_autofree char *width = g_strdup_printf ("%d (MLP %d)", c->d_model, c->d_mlp);
  g_autofree char *heads = c->n_kv_heads != c->n_heads ? g_strdup_printf ("%d (%d key/value)", c->n_heads, c->n_kv_heads)
                                                       : g_strdup_printf ("%d", c->n_heads);
  g_autofree char *vocab = g_strdup_printf ("%d", c->vocab);
  g_autofree char *params = m ? format_params (strata_weights_param_count (m->weights)) : g_strdup ("\xe2\x80\x94");
  /* The checkpoint's dtype; the tooltip says what the file stores and what the weights are
   * held in (F32, or as stored and widened inside each product). */
  const char *dtype = m ? strata_dtype_to_string (m->dtype) : a->model.dtype;
  g_autofree char *dtype_tip = NULL;
  if (m) {
    char held[128];
    strata_weights_dtypes_string (m->weights, held, sizeof held);
    dtype_tip = g_strdup_printf ("Stored as %s; matrices held as %s%s", m->stored_types ? m->stored_types : dtype,
                                 held, strata_weights_matrix_dtypes (m->weights) == 1u << STRATA_DTYPE_F32 ? ""
                                 : ", widened inside each product");
  }
  gtk_widget_set_tooltip_text (card->values[6], dtype_tip);
  const char *device, *device_tip;
  _strata_window_describe_device (self, slot, &device, &device_tip);
  gtk_widget_set_tooltip_text (card->values[7], device_tip);
  gboolean bos = m ? m->add_bos : a->model.add_bos;
  const char *values[] = { family, layers, width, heads, vocab, params, dtype ? dtype : "?", device,
                           bos ? "prepended" : "not prepended" };
  for (gsize i = 0; i < G_N_ELEMENTS (values); i++)
    gtk_label_set_text (GTK_LABEL (card->values[i]), values[i]);
}

void
_strata_window_update_cards (StrataWindow *self)
{
  fill_card (self, 0);
  fill_card (self, 1);
}

void
_strata_window_update_title (StrataWindow *self)
{
  StrataAnalysis *a = strata_view_model_get_analysis (self->view, 0);
  StrataSeries *series = strata_view_model_get_series (self->view);
  const char *name = self->model[0] ? self->model[0]->name : (a ? a->model.name : NULL);
  if (!name && series && series->runs->len > 0) /* a series alone: its (first) training run */
    name = ((StrataTrainingRun *) series->runs->pdata[0])->name;
  g_autofree char *session = self->session_path ? g_path_get_basename (self->session_path) : NULL;
  g_autofree char *title = g_strdup_printf ("%s%s%s%s \xe2\x80\x94 Strata", self->dirty ? "\xe2\x80\xa2 " : "",
                                            session ? session : (name ? name : "No model"), session && name ? " \xc2\xb7 " : "",
                                            session && name ? name : "");
  gtk_window_set_title (GTK_WINDOW (self), title);
}

void
_strata_window_set_dirty (StrataWindow *self, gboolean dirty)
{
  self->dirty = dirty;
  _strata_window_update_title (self);
}

StrataFigureKind
_strata_window_get_visible_figure (StrataWindow *self)
{
  GtkWidget *child = gtk_stack_get_visible_child (GTK_STACK (self->stack));
  for (int k = 0; k < STRATA_FIGURE_N_ALL; k++)
    if (self->figures[k] == child)
      return k;
  return STRATA_FIGURE_LENS_HEATMAP;
}

/* ---- controls follow the model ---- */

static void
fill_targets (StrataWindow *self)
{
  if (STRATA_FIGURE_IS_SERIES (_strata_window_get_visible_figure (self)) && strata_view_model_get_series (self->view)) {
    _strata_window_fill_series_options (self);
    return;
  }
  self->options_for_series = FALSE;
  StrataAnalysis *a = strata_view_model_get_analysis (self->view, 0);
  g_autoptr (GtkStringList) list = gtk_string_list_new (NULL);
  gtk_string_list_append (list, "top-1 token");
  const StrataViewState *v = strata_view_model_get_state (self->view);
  guint selected = 0;
  if (a && a->lens_results && a->lens_results->len > 0) {
    const StrataLensResult *r = g_ptr_array_index (a->lens_results, 0);
    for (guint i = 0; r->targets && i < r->targets->len; i++) {
      const StrataLensTarget *t = g_ptr_array_index (r->targets, i);
      gtk_string_list_append (list, t->name);
      if (g_strcmp0 (t->name, v->target) == 0)
        selected = i + 1;
    }
  }
  gtk_drop_down_set_model (GTK_DROP_DOWN (self->target_dropdown), G_LIST_MODEL (list));
  gtk_drop_down_set_selected (GTK_DROP_DOWN (self->target_dropdown), selected);

  /* MRR over a prompt set: the tags its aggregates were computed for ("all" first, as
   * strata_lens_aggregate() orders them), and the positions the set names. */
  g_autoptr (GtkStringList) tags = gtk_string_list_new (NULL);
  for (guint i = 0; a && a->lens_aggregates && i < a->lens_aggregates->len; i++) {
    const StrataLensAggregate *ag = g_ptr_array_index (a->lens_aggregates, i);
    g_autofree char *item = g_strdup_printf (STRATA_WINDOW_TAG_ITEM "%s", ag->tag);
    gboolean seen = FALSE;
    for (guint k = 0; k < g_list_model_get_n_items (G_LIST_MODEL (tags)) && !seen; k++)
      seen = g_strcmp0 (gtk_string_list_get_string (tags, k), item) == 0;
    if (!seen)
      gtk_string_list_append (tags, item);
  }
  gtk_drop_down_set_model (GTK_DROP_DOWN (self->tag_dropdown), G_LIST_MODEL (tags));
  g_autoptr (GtkStringList) names = gtk_string_list_new (NULL);
  g_array_set_size (self->posname_index, 0);
  if (a && a->prompts && a->prompts->prompts->len > 0) {
    const StrataPrompt *p = g_ptr_array_index (a->prompts->prompts, 0);
    for (guint j = 0; p->positions && j < p->positions->len; j++) {
      const StrataPosition *sp = &g_array_index (p->positions, StrataPosition, j);
      g_autofree char *item = g_strdup_printf ("at %s", sp->name);
      gtk_string_list_append (names, item);
      g_array_append_val (self->posname_index, sp->index);
    }
  }
  gtk_drop_down_set_model (GTK_DROP_DOWN (self->posname_dropdown), G_LIST_MODEL (names));

  /* Patching sites: exactly the maps the current result holds, in the order they were run
   * (a CLI session may hold only resid_pre, the window's own run all four). The view moves
   * to the first of them when the site it showed is not among them. */
  g_autoptr (GtkStringList) sites = gtk_string_list_new (NULL);
  g_array_set_size (self->site_index, 0);
  const StrataPatchResult *pr = a && a->patch_results && a->patch_results->len > 0
                                    ? g_ptr_array_index (a->patch_results, 0) : NULL;
  gboolean have_site = FALSE;
  for (guint i = 0; pr && pr->maps && i < pr->maps->len; i++) {
    const StrataPatchMap *m = g_ptr_array_index (pr->maps, i);
    int site = m->site;
    gboolean seen = FALSE;
    for (guint k = 0; k < self->site_index->len && !seen; k++)
      seen = g_array_index (self->site_index, int, k) == site;
    if (seen)
      continue;
    g_autofree char *item = NULL;
    if (m->site == STRATA_PATCH_HEAD)
      item = g_strdup ("heads (layer \xc3\x97 head)");
    else if (m->site == STRATA_PATCH_HEAD_AT)
      item = g_strdup_printf ("heads at position %d", m->head_pos);
    else
      item = g_strdup (strata_patch_site_to_string (m->site));
    gtk_string_list_append (sites, item);
    g_array_append_val (self->site_index, site);
    have_site |= m->site == v->patch_site;
  }
  gtk_drop_down_set_model (GTK_DROP_DOWN (self->site_dropdown), G_LIST_MODEL (sites));
  if (self->site_index->len > 0 && !have_site)
    strata_view_model_set_patch_site (self->view, g_array_index (self->site_index, int, 0));
}

static gboolean
has_prompt_set (StrataWindow *self)
{
  StrataAnalysis *a = strata_view_model_get_analysis (self->view, 0);
  return a && a->prompts && a->prompts->prompts->len > 1;
}

void
_strata_window_sync_controls (StrataWindow *self)
{
  if (self->syncing)
    return;
  self->syncing = TRUE;
  const StrataViewState *v = strata_view_model_get_state (self->view);
  int max = strata_view_model_get_max_layer (self->view);
  gtk_adjustment_configure (self->layer_adj, MAX (v->layer, 0), 0, MAX (max, 0), 1, 4, 0);
  gtk_widget_set_sensitive (self->layer_scale, max > 0);
  g_autofree char *ll = max >= 0 ? g_strdup_printf ("Layer %d of %d%s", v->layer, max, v->layer == 0 ? " (embedding)" : "")
                                 : g_strdup ("Layer \xe2\x80\x94");
  gtk_label_set_text (GTK_LABEL (self->layer_label), ll);
  int T = strata_view_model_get_n_positions (self->view);
  gtk_adjustment_configure (self->position_adj, v->position >= 0 ? v->position : MAX (T - 1, 0), 0, MAX (T - 1, 0), 1, 4, 0);
  int first, count;
  strata_view_model_get_range (self->view, &first, &count);
  g_autofree char *range = T > 0 ? g_strdup_printf ("%d:%d", first, first + count) : g_strdup ("");
  if (g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (self->range_entry)), range) != 0)
    gtk_editable_set_text (GTK_EDITABLE (self->range_entry), range);
  gtk_widget_remove_css_class (self->range_entry, "error");
  gtk_widget_set_sensitive (self->range_entry, T > 0);
  gtk_widget_set_sensitive (self->find_entry, T > 0);
  StrataAnalysis *a = strata_view_model_get_analysis (self->view, 0);
  int H = a ? a->model.config.n_heads : 0;
  gtk_adjustment_configure (self->head_adj, v->head, 0, MAX (H - 1, 0), 1, 4, 0);
  gtk_drop_down_set_selected (GTK_DROP_DOWN (self->curve_dropdown), v->curve);
  guint site_sel = GTK_INVALID_LIST_POSITION;
  for (guint k = 0; k < self->site_index->len; k++)
    if (g_array_index (self->site_index, int, k) == (int) v->patch_site)
      site_sel = k;
  gtk_drop_down_set_selected (GTK_DROP_DOWN (self->site_dropdown), site_sel);
  gtk_check_button_set_active (GTK_CHECK_BUTTON (self->log_check), v->log_color);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (self->trace_topk_spin), MAX (v->trace.topk, 1));
  gtk_check_button_set_active (GTK_CHECK_BUTTON (self->trace_anywhere_check), v->trace.anywhere);
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (self->compare_check), v->compare);
  gtk_drop_down_set_selected (GTK_DROP_DOWN (self->quantity_dropdown), v->curve == STRATA_CURVE_PROB ? 1 : 0);
  /* Only the options of the figure on show. */
  StrataFigureKind shown = _strata_window_get_visible_figure (self);
  gboolean series_map = shown == STRATA_FIGURE_SERIES_HEATMAP && self->options_for_series;
  gboolean series_patch = shown == STRATA_FIGURE_SERIES_PATCH && self->options_for_series;
  gtk_widget_set_visible (self->target_dropdown, shown == STRATA_FIGURE_LENS_HEATMAP || series_map);
  gtk_widget_set_visible (self->curve_dropdown, shown == STRATA_FIGURE_TOKEN_CURVES);
  gtk_widget_set_visible (self->quantity_dropdown, series_map);
  gtk_widget_set_visible (self->site_dropdown, (shown == STRATA_FIGURE_PATCH_HEATMAP || series_patch)
                                                 && self->site_index->len > 0);
  gtk_widget_set_visible (self->trace_options, shown == STRATA_FIGURE_TRACE);
  gtk_widget_set_visible (self->log_check, shown == STRATA_FIGURE_LENS_HEATMAP || shown == STRATA_FIGURE_ATTENTION
                                             || (series_map && v->curve == STRATA_CURVE_PROB));
  GListModel *tags = gtk_drop_down_get_model (GTK_DROP_DOWN (self->tag_dropdown));
  guint tag_sel = 0;
  g_autofree char *tag_item = g_strdup_printf (STRATA_WINDOW_TAG_ITEM "%s", v->tag ? v->tag : "all");
  for (guint k = 0; tags && k < g_list_model_get_n_items (tags); k++)
    if (g_strcmp0 (gtk_string_list_get_string (GTK_STRING_LIST (tags), k), tag_item) == 0)
      tag_sel = k;
  gtk_drop_down_set_selected (GTK_DROP_DOWN (self->tag_dropdown), tag_sel);
  gboolean tags_apply = (shown == STRATA_FIGURE_TOKEN_CURVES && v->curve == STRATA_CURVE_MRR && has_prompt_set (self))
                        || series_map || series_patch;
  gtk_widget_set_visible (self->tag_dropdown, tags_apply && tags && g_list_model_get_n_items (tags) > 1);
  guint pos_sel = GTK_INVALID_LIST_POSITION;
  int pos_now = v->position >= 0 ? v->position : T - 1;
  for (guint k = 0; k < self->posname_index->len; k++)
    if (g_array_index (self->posname_index, int, k) == pos_now)
      pos_sel = k;
  gtk_drop_down_set_selected (GTK_DROP_DOWN (self->posname_dropdown), pos_sel);
  gboolean head_site = v->patch_site == STRATA_PATCH_HEAD || v->patch_site == STRATA_PATCH_HEAD_AT;
  gtk_widget_set_visible (self->posname_dropdown, (shown == STRATA_FIGURE_TOKEN_CURVES || series_map
                                                   || (series_patch && !head_site)) && self->posname_index->len > 0);
  gtk_widget_set_sensitive (self->compare_check, strata_view_model_get_analysis (self->view, 1) != NULL);
  self->syncing = FALSE;
}

static void
view_changed_cb (StrataViewModel *view, StrataWindow *self)
{
  _strata_window_sync_controls (self);
}

static void
layer_value_cb (GtkAdjustment *adj, StrataWindow *self)
{
  if (!self->syncing)
    strata_view_model_set_layer (self->view, (int) gtk_adjustment_get_value (adj));
}

static void
position_value_cb (GtkAdjustment *adj, StrataWindow *self)
{
  if (!self->syncing)
    strata_view_model_set_position (self->view, (int) gtk_adjustment_get_value (adj));
}

/* The range field: "A:B" of the selected prompt's positions; a bad one is marked and
 * explained in the banner, the figures keep the range they had. */
static void
range_activate_cb (GtkEntry *entry, StrataWindow *self)
{
  int T = strata_view_model_get_n_positions (self->view), first, count;
  g_autoptr (GError) error = NULL;
  if (!strata_figure_parse_range (gtk_editable_get_text (GTK_EDITABLE (entry)), T, &first, &count, &error)) {
    gtk_widget_add_css_class (GTK_WIDGET (entry), "error");
    g_autofree char *msg = g_strdup_printf ("Positions: %s", error->message);
    strata_window_show_error (self, msg);
    return;
  }
  _strata_window_hide_error (self);
  gtk_widget_remove_css_class (GTK_WIDGET (entry), "error");
  strata_view_model_set_range (self->view, first, count);
}

/* Find the text in the decoded trace from position `from` on (wrapping): select the match's
 * position (the range follows it), or say "not found". */
static void
find_from (StrataWindow *self, int from)
{
  const char *query = gtk_editable_get_text (GTK_EDITABLE (self->find_entry));
  if (!*query) {
    gtk_widget_set_visible (self->find_status, FALSE);
    gtk_widget_remove_css_class (self->find_entry, "error");
    return;
  }
  int found = strata_view_model_find (self->view, query, from);
  gtk_widget_set_visible (self->find_status, found < 0);
  if (found < 0) {
    gtk_widget_add_css_class (self->find_entry, "error");
    return;
  }
  gtk_widget_remove_css_class (self->find_entry, "error");
  strata_view_model_set_position (self->view, found);
}

static void
find_changed_cb (GtkSearchEntry *entry, StrataWindow *self)
{
  find_from (self, MAX (strata_view_model_get_state (self->view)->position, 0));
}

/* Enter: the next match after the selected position. */
static void
find_next_cb (GtkSearchEntry *entry, StrataWindow *self)
{
  find_from (self, strata_view_model_get_state (self->view)->position + 1);
}

static void
head_value_cb (GtkAdjustment *adj, StrataWindow *self)
{
  if (!self->syncing)
    strata_view_model_set_head (self->view, (int) gtk_adjustment_get_value (adj));
}

static void
target_selected_cb (GtkDropDown *dd, GParamSpec *pspec, StrataWindow *self)
{
  if (self->syncing)
    return;
  guint i = gtk_drop_down_get_selected (dd);
  GtkStringObject *s = gtk_drop_down_get_selected_item (dd);
  /* The checkpoint list begins with "top-1 token" (no target); the series' holds targets only. */
  gboolean top1 = i == 0 && !self->options_for_series;
  strata_view_model_set_target (self->view, top1 || !s ? NULL : gtk_string_object_get_string (s));
}

static void
tag_selected_cb (GtkDropDown *dd, GParamSpec *pspec, StrataWindow *self)
{
  GtkStringObject *s = gtk_drop_down_get_selected_item (dd);
  if (!self->syncing && s)
    strata_view_model_set_tag (self->view, gtk_string_object_get_string (s) + strlen (STRATA_WINDOW_TAG_ITEM));
}

static void
posname_selected_cb (GtkDropDown *dd, GParamSpec *pspec, StrataWindow *self)
{
  guint i = gtk_drop_down_get_selected (dd);
  if (!self->syncing && i < self->posname_index->len)
    strata_view_model_set_position (self->view, g_array_index (self->posname_index, int, i));
}

static void
curve_selected_cb (GtkDropDown *dd, GParamSpec *pspec, StrataWindow *self)
{
  if (!self->syncing)
    strata_view_model_set_curve (self->view, gtk_drop_down_get_selected (dd));
}

static void
quantity_selected_cb (GtkDropDown *dd, GParamSpec *pspec, StrataWindow *self)
{
  if (!self->syncing)
    strata_view_model_set_curve (self->view,
                                 gtk_drop_down_get_selected (dd) == 1 ? STRATA_CURVE_PROB : STRATA_CURVE_MRR);
}

static void
site_selected_cb (GtkDropDown *dd, GParamSpec *pspec, StrataWindow *self)
{
  guint i = gtk_drop_down_get_selected (dd);
  if (!self->syncing && i < self->site_index->len)
    strata_view_model_set_patch_site (self->view, g_array_index (self->site_index, int, i));
}

static void
log_toggled_cb (GtkCheckButton *b, StrataWindow *self)
{
  if (!self->syncing)
    strata_view_model_set_log_color (self->view, gtk_check_button_get_active (b));
}

/* The trace figure's K and writing positions, from its two controls. */
static void
trace_options_cb (GtkWidget *control, StrataWindow *self)
{
  if (!self->syncing)
    strata_view_model_set_trace (self->view, gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (self->trace_topk_spin)),
                                 gtk_check_button_get_active (GTK_CHECK_BUTTON (self->trace_anywhere_check)));
}

static void
compare_toggled_cb (GtkToggleButton *b, StrataWindow *self)
{
  if (!self->syncing)
    strata_view_model_set_compare (self->view, gtk_toggle_button_get_active (b));
}

static void
stack_child_cb (GtkStack *stack, GParamSpec *pspec, StrataWindow *self)
{
  StrataFigureKind shown = _strata_window_get_visible_figure (self);
  strata_view_model_set_figure (self->view, shown);
  /* The lists name the series' targets, tags and positions on its pages, else the analysis'. */
  if (!STRATA_FIGURE_IS_SERIES (shown) != !self->options_for_series)
    _strata_window_refresh_targets (self);
  _strata_window_sync_controls (self);
}

/* Up/Down and Page Up/Page Down move through layers from anywhere except text fields. */
static gboolean
key_pressed_cb (GtkEventControllerKey *ctl, guint keyval, guint keycode, GdkModifierType state, StrataWindow *self)
{
  if (state & (GDK_CONTROL_MASK | GDK_ALT_MASK | GDK_SHIFT_MASK))
    return FALSE;
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (self));
  if (focus && (GTK_IS_TEXT (focus) || GTK_IS_EDITABLE (focus)))
    return FALSE;
  int layer = strata_view_model_get_layer (self->view);
  int max = strata_view_model_get_max_layer (self->view);
  switch (keyval) {
  case GDK_KEY_Up: case GDK_KEY_KP_Up: layer += 1; break;
  case GDK_KEY_Down: case GDK_KEY_KP_Down: layer -= 1; break;
  case GDK_KEY_Page_Up: case GDK_KEY_KP_Page_Up: layer += MAX (max / 4, 2); break;
  case GDK_KEY_Page_Down: case GDK_KEY_KP_Page_Down: layer -= MAX (max / 4, 2); break;
  case GDK_KEY_Home: layer = 0; break;
  case GDK_KEY_End: layer = max; break;
  default: return FALSE;
  }
  strata_view_model_set_layer (self->view, layer);
  return TRUE;
}

static void
checkpoint_activated_cb (StrataFigureView *figure, int run, int checkpoint, int layer, StrataWindow *self)
{
  _strata_window_open_series_checkpoint (self, run, checkpoint, layer);
}

static gboolean
close_request_cb (GtkWindow *window, StrataWindow *self)
{
  if (!_strata_window_confirm_close (self))
    return TRUE; /* a dialog asks first */
  _strata_window_cancel (self);
  _strata_window_state_save (self);
  return FALSE;
}

/* Figures name tokens through the tokenizer of the analysis' own model while it is open. */
static const char *
token_text_cb (gpointer data, const StrataAnalysis *a, int32_t id)
{
  StrataWindow *self = data;
  StrataModel *m = NULL;
  for (int i = 0; i < 2; i++)
    if (a && a == strata_view_model_get_analysis (self->view, i))
      m = self->model[i];
  if (!m || !m->tokenizer || id < 0 || id >= strata_tokenizer_get_vocab_size (m->tokenizer))
    return NULL;
  return strata_tokenizer_get_piece (m->tokenizer, id);
}

/* ---- construction ---- */

static GtkWidget *
labelled (const char *text, GtkWidget *child)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 3);
  GtkWidget *l = gtk_label_new_with_mnemonic (text);
  gtk_label_set_xalign (GTK_LABEL (l), 0);
  gtk_label_set_mnemonic_widget (GTK_LABEL (l), child);
  gtk_widget_add_css_class (l, "caption-heading");
  gtk_box_append (GTK_BOX (box), l);
  gtk_box_append (GTK_BOX (box), child);
  return box;
}

static void
entry_activate_cb (GtkEntry *entry, StrataWindow *self)
{
  _strata_window_run_lens (self, FALSE);
}

static GtkWidget *
build_sidebar (StrataWindow *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 14);
  gtk_widget_add_css_class (box, "strata-sidebar");
  build_card (&self->card[0], "No model");
  build_card (&self->card[1], "Second checkpoint");
  gtk_box_append (GTK_BOX (box), self->card[0].frame);
  gtk_box_append (GTK_BOX (box), self->card[1].frame);
  gtk_widget_set_visible (self->card[1].frame, FALSE);
  gtk_box_append (GTK_BOX (box), gtk_separator_new (GTK_ORIENTATION_HORIZONTAL));

  self->prompt_entry = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (self->prompt_entry), "Text to analyse");
  self->corrupt_entry = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (self->corrupt_entry), "Same length, for patching");
  self->targets_entry = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (self->targets_entry), "Tokens or #ids, e.g. \" girl\" #34");
  self->contrast_entry = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (self->contrast_entry), "One token, e.g. \" boy\"");
  /* Return in any input field runs the lens. */
  g_signal_connect (self->prompt_entry, "activate", G_CALLBACK (entry_activate_cb), self);
  g_signal_connect (self->targets_entry, "activate", G_CALLBACK (entry_activate_cb), self);
  gtk_box_append (GTK_BOX (box), labelled ("_Prompt", self->prompt_entry));
  gtk_box_append (GTK_BOX (box), _strata_window_generate_box_new (self));
  gtk_box_append (GTK_BOX (box), labelled ("C_orrupted prompt", self->corrupt_entry));
  gtk_box_append (GTK_BOX (box), labelled ("_Targets", self->targets_entry));
  gtk_box_append (GTK_BOX (box), labelled ("Co_ntrast", self->contrast_entry));

  GtkWidget *set_row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *load = gtk_button_new_with_mnemonic ("Load prompt _set…");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (load), "win.load-prompts");
  self->prompt_set_label = gtk_label_new ("");
  gtk_label_set_ellipsize (GTK_LABEL (self->prompt_set_label), PANGO_ELLIPSIZE_START);
  gtk_widget_add_css_class (self->prompt_set_label, "dim-label");
  self->prompt_set_clear = gtk_button_new_from_icon_name ("edit-clear-symbolic");
  gtk_widget_set_tooltip_text (self->prompt_set_clear, "Unload the prompt set: Run reads the typed prompt again");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->prompt_set_clear), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  "Unload prompt set", -1);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->prompt_set_clear), "win.unload-prompts");
  gtk_widget_add_css_class (self->prompt_set_clear, "flat");
  gtk_widget_set_visible (self->prompt_set_clear, FALSE);
  gtk_widget_set_hexpand (self->prompt_set_label, TRUE);
  gtk_label_set_xalign (GTK_LABEL (self->prompt_set_label), 0);
  gtk_box_append (GTK_BOX (set_row), load);
  gtk_box_append (GTK_BOX (set_row), self->prompt_set_label);
  gtk_box_append (GTK_BOX (set_row), self->prompt_set_clear);
  gtk_box_append (GTK_BOX (box), set_row);

  /* The primary actions sit in a footer below the scroller: visible whatever the cards hold. */
  GtkWidget *buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_box_set_homogeneous (GTK_BOX (buttons), TRUE);
  gtk_widget_add_css_class (buttons, "strata-actions");
  self->run_button = gtk_button_new_with_label ("Run");
  gtk_widget_set_tooltip_text (self->run_button, "Run the logit lens (Ctrl+Return)");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->run_button), "win.run-lens");
  gtk_widget_add_css_class (self->run_button, "suggested-action");
  self->patch_button = gtk_button_new_with_label ("Run patching");
  gtk_widget_set_tooltip_text (self->patch_button, "Activation patching sweep (Ctrl+Shift+Return)");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->patch_button), "win.run-patching");
  gtk_box_append (GTK_BOX (buttons), self->run_button);
  gtk_box_append (GTK_BOX (buttons), self->patch_button);
  gtk_box_append (GTK_BOX (box), gtk_separator_new (GTK_ORIENTATION_HORIZONTAL));
  gtk_box_append (GTK_BOX (box), strata_topk_panel_new (self->view));

  GtkWidget *scroller = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), box);
  gtk_widget_set_vexpand (scroller, TRUE);
  GtkWidget *sidebar = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  gtk_box_append (GTK_BOX (sidebar), scroller);
  gtk_box_append (GTK_BOX (sidebar), gtk_separator_new (GTK_ORIENTATION_HORIZONTAL));
  gtk_box_append (GTK_BOX (sidebar), buttons);
  gtk_widget_set_size_request (sidebar, 300, -1);
  return sidebar;
}

static GtkWidget *
dropdown (const char *const *items, const char *accessible)
{
  GtkWidget *dd = gtk_drop_down_new_from_strings (items);
  gtk_accessible_update_property (GTK_ACCESSIBLE (dd), GTK_ACCESSIBLE_PROPERTY_LABEL, accessible, -1);
  gtk_widget_set_valign (dd, GTK_ALIGN_CENTER);
  return dd;
}

/* The figure switcher and the options of the figure on show: one row while both fit, else
 * the options wrap below the switcher, so neither widens the window (1280 px with the
 * series pages and the series' options on show). */
static GtkWidget *
build_options_bar (StrataWindow *self)
{
  GtkWidget *flow = gtk_flow_box_new ();
  gtk_flow_box_set_selection_mode (GTK_FLOW_BOX (flow), GTK_SELECTION_NONE);
  gtk_flow_box_set_min_children_per_line (GTK_FLOW_BOX (flow), 1);
  gtk_flow_box_set_max_children_per_line (GTK_FLOW_BOX (flow), 2);
  gtk_flow_box_set_column_spacing (GTK_FLOW_BOX (flow), 8);
  gtk_flow_box_set_row_spacing (GTK_FLOW_BOX (flow), 6);
  GtkWidget *switcher = gtk_stack_switcher_new ();
  gtk_stack_switcher_set_stack (GTK_STACK_SWITCHER (switcher), GTK_STACK (self->stack));
  gtk_widget_add_css_class (switcher, "strata-switcher"); /* buttons as wide as their labels */
  gtk_widget_set_halign (switcher, GTK_ALIGN_START);
  GtkWidget *bar = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  gtk_widget_set_halign (bar, GTK_ALIGN_END);
  gtk_widget_set_hexpand (bar, TRUE);
  gtk_flow_box_append (GTK_FLOW_BOX (flow), switcher);
  gtk_flow_box_append (GTK_FLOW_BOX (flow), bar);
  for (GtkWidget *c = gtk_widget_get_first_child (flow); c; c = gtk_widget_get_next_sibling (c))
    gtk_widget_set_focusable (c, FALSE); /* the wrappers; the controls inside keep their focus */
  const char *targets[] = { "top-1 token", NULL };
  self->target_dropdown = dropdown (targets, "Colour by");
  gtk_widget_set_tooltip_text (self->target_dropdown, "What the lens heatmap colours: the top-1 token or a target");
  /* Item i is curve quantity i. */
  g_autofree const char **curves = g_new0 (const char *, strata_curve_quantity_table.n + 1);
  for (int i = 0; i < strata_curve_quantity_table.n; i++)
    curves[i] = strata_enum_get_label (&strata_curve_quantity_table, i);
  self->curve_dropdown = dropdown (curves, "Curve quantity");
  const char *no_sites[] = { NULL };
  self->site_dropdown = dropdown (no_sites, "Patching site");
  gtk_widget_set_tooltip_text (self->site_dropdown, "Which map of the patching run to show: the sites it patched");
  self->site_index = g_array_new (FALSE, FALSE, sizeof (int));
  self->log_check = gtk_check_button_new_with_mnemonic ("_Log colour");
  const char *none[] = { NULL };
  self->tag_dropdown = dropdown (none, "Tag");
  gtk_widget_set_tooltip_text (self->tag_dropdown, "Which prompts of the set the MRR averages over: all, or one tag");
  self->posname_dropdown = dropdown (none, "Named position");
  gtk_widget_set_tooltip_text (self->posname_dropdown, "The position the curves read, by the name the prompt set gives it");
  self->posname_index = g_array_new (FALSE, FALSE, sizeof (int));
  const char *quantities[] = { "MRR", "mean probability", NULL };
  self->quantity_dropdown = dropdown (quantities, "Series quantity");
  gtk_widget_set_tooltip_text (self->quantity_dropdown, "What the series heat map colours: the MRR of the target or "
                                                        "its mean probability over the prompts");
  gtk_box_append (GTK_BOX (bar), self->target_dropdown);
  gtk_box_append (GTK_BOX (bar), self->posname_dropdown);
  gtk_box_append (GTK_BOX (bar), self->tag_dropdown);
  gtk_box_append (GTK_BOX (bar), self->curve_dropdown);
  gtk_box_append (GTK_BOX (bar), self->quantity_dropdown);
  gtk_box_append (GTK_BOX (bar), self->site_dropdown);
  gtk_box_append (GTK_BOX (bar), self->log_check);
  self->trace_options = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *held = gtk_label_new_with_mnemonic ("Held in top _K");
  gtk_widget_add_css_class (held, "dim-label");
  self->trace_topk_spin = gtk_spin_button_new_with_range (1, 1000, 1);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->trace_topk_spin), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  "Held in top K", -1);
  gtk_widget_set_tooltip_text (self->trace_topk_spin, "A target counts as held where the lens ranks it within the "
                                                      "top K (strata lens --trace-topk)");
  self->trace_anywhere_check = gtk_check_button_new_with_mnemonic ("Written _anywhere");
  gtk_widget_set_tooltip_text (self->trace_anywhere_check, "Count the positions where a target is written anywhere in "
                                                           "the sequence, not only in the generated part "
                                                           "(--trace-anywhere)");
  gtk_label_set_mnemonic_widget (GTK_LABEL (held), self->trace_topk_spin);
  gtk_box_append (GTK_BOX (self->trace_options), held);
  gtk_box_append (GTK_BOX (self->trace_options), self->trace_topk_spin);
  gtk_box_append (GTK_BOX (self->trace_options), self->trace_anywhere_check);
  gtk_box_append (GTK_BOX (bar), self->trace_options);
  gtk_widget_set_margin_start (flow, 12);
  gtk_widget_set_margin_end (flow, 12);
  gtk_widget_set_margin_top (flow, 6);
  gtk_widget_set_margin_bottom (flow, 6);
  g_signal_connect (self->target_dropdown, "notify::selected", G_CALLBACK (target_selected_cb), self);
  g_signal_connect (self->curve_dropdown, "notify::selected", G_CALLBACK (curve_selected_cb), self);
  g_signal_connect (self->quantity_dropdown, "notify::selected", G_CALLBACK (quantity_selected_cb), self);
  g_signal_connect (self->tag_dropdown, "notify::selected", G_CALLBACK (tag_selected_cb), self);
  g_signal_connect (self->posname_dropdown, "notify::selected", G_CALLBACK (posname_selected_cb), self);
  g_signal_connect (self->site_dropdown, "notify::selected", G_CALLBACK (site_selected_cb), self);
  g_signal_connect (self->log_check, "toggled", G_CALLBACK (log_toggled_cb), self);
  g_signal_connect (self->trace_topk_spin, "value-changed", G_CALLBACK (trace_options_cb), self);
  g_signal_connect (self->trace_anywhere_check, "toggled", G_CALLBACK (trace_options_cb), self);
  return flow;
}

/* Long traces: the positions the figures show (Ctrl + wheel and + / - on the figure zoom
 * them) and a search through the decoded text, in a row of their own under the figure so
 * the options bar and the layer slider keep their room. */
static GtkWidget *
build_trace_bar (StrataWindow *self)
{
  GtkWidget *bar = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_widget_set_halign (bar, GTK_ALIGN_END);
  gtk_widget_set_margin_start (bar, 12);
  gtk_widget_set_margin_end (bar, 12);
  gtk_widget_set_margin_bottom (bar, 4);
  GtkWidget *label = gtk_label_new ("Positions");
  gtk_widget_add_css_class (label, "dim-label");
  gtk_box_append (GTK_BOX (bar), label);
  self->range_entry = gtk_entry_new ();
  gtk_editable_set_width_chars (GTK_EDITABLE (self->range_entry), 9);
  gtk_entry_set_placeholder_text (GTK_ENTRY (self->range_entry), "A:B");
  gtk_widget_set_tooltip_text (self->range_entry, "Positions the figures show, A:B (half-open, from 0); "
                                                  "Ctrl + wheel or + / - on the figure zooms, the wheel scrolls");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->range_entry), GTK_ACCESSIBLE_PROPERTY_LABEL, "Positions", -1);
  self->find_entry = gtk_search_entry_new ();
  gtk_editable_set_width_chars (GTK_EDITABLE (self->find_entry), 12);
  gtk_widget_set_tooltip_text (self->find_entry, "Find a token or text in the trace; Enter: next match");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->find_entry), GTK_ACCESSIBLE_PROPERTY_LABEL, "Find in trace", -1);
  self->find_status = gtk_label_new ("not found");
  gtk_widget_add_css_class (self->find_status, "error");
  gtk_widget_set_visible (self->find_status, FALSE);
  gtk_box_append (GTK_BOX (bar), self->range_entry);
  gtk_box_append (GTK_BOX (bar), self->find_entry);
  gtk_box_append (GTK_BOX (bar), self->find_status);
  g_signal_connect (self->range_entry, "activate", G_CALLBACK (range_activate_cb), self);
  g_signal_connect (self->find_entry, "search-changed", G_CALLBACK (find_changed_cb), self);
  g_signal_connect (self->find_entry, "activate", G_CALLBACK (find_next_cb), self);
  return bar;
}

static GtkWidget *
build_layer_bar (StrataWindow *self)
{
  GtkWidget *bar = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_widget_add_css_class (bar, "strata-layerbar");
  GtkWidget *prev = gtk_button_new_from_icon_name ("go-down-symbolic");
  gtk_widget_set_tooltip_text (prev, "Previous layer (Down)");
  gtk_accessible_update_property (GTK_ACCESSIBLE (prev), GTK_ACCESSIBLE_PROPERTY_LABEL, "Previous layer", -1);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (prev), "win.layer-prev");
  GtkWidget *next = gtk_button_new_from_icon_name ("go-up-symbolic");
  gtk_widget_set_tooltip_text (next, "Next layer (Up)");
  gtk_accessible_update_property (GTK_ACCESSIBLE (next), GTK_ACCESSIBLE_PROPERTY_LABEL, "Next layer", -1);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (next), "win.layer-next");
  self->layer_adj = gtk_adjustment_new (0, 0, 1, 1, 4, 0);
  self->layer_scale = gtk_scale_new (GTK_ORIENTATION_HORIZONTAL, self->layer_adj);
  gtk_scale_set_digits (GTK_SCALE (self->layer_scale), 0);
  gtk_scale_set_draw_value (GTK_SCALE (self->layer_scale), FALSE);
  gtk_widget_set_hexpand (self->layer_scale, TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->layer_scale), GTK_ACCESSIBLE_PROPERTY_LABEL, "Layer", -1);
  self->layer_label = gtk_label_new ("Layer \xe2\x80\x94");
  gtk_label_set_width_chars (GTK_LABEL (self->layer_label), 22);
  gtk_label_set_xalign (GTK_LABEL (self->layer_label), 0);
  gtk_widget_add_css_class (self->layer_label, "numeric");
  self->position_adj = gtk_adjustment_new (0, 0, 0, 1, 4, 0);
  self->position_spin = gtk_spin_button_new (self->position_adj, 1, 0);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->position_spin), GTK_ACCESSIBLE_PROPERTY_LABEL, "Position", -1);
  self->head_adj = gtk_adjustment_new (0, 0, 0, 1, 4, 0);
  self->head_spin = gtk_spin_button_new (self->head_adj, 1, 0);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->head_spin), GTK_ACCESSIBLE_PROPERTY_LABEL, "Head", -1);
  GtkWidget *pos_label = gtk_label_new ("Position");
  GtkWidget *head_label = gtk_label_new ("Head");
  gtk_widget_add_css_class (pos_label, "dim-label");
  gtk_widget_add_css_class (head_label, "dim-label");
  gtk_box_append (GTK_BOX (bar), prev);
  gtk_box_append (GTK_BOX (bar), self->layer_scale);
  gtk_box_append (GTK_BOX (bar), next);
  gtk_box_append (GTK_BOX (bar), self->layer_label);
  gtk_box_append (GTK_BOX (bar), pos_label);
  gtk_box_append (GTK_BOX (bar), self->position_spin);
  gtk_box_append (GTK_BOX (bar), head_label);
  gtk_box_append (GTK_BOX (bar), self->head_spin);
  g_signal_connect (self->layer_adj, "value-changed", G_CALLBACK (layer_value_cb), self);
  g_signal_connect (self->position_adj, "value-changed", G_CALLBACK (position_value_cb), self);
  g_signal_connect (self->head_adj, "value-changed", G_CALLBACK (head_value_cb), self);
  return bar;
}

static GMenuModel *
build_menu (StrataWindow *self)
{
  GMenu *menu = g_menu_new ();
  GMenu *files = g_menu_new ();
  g_menu_append (files, "Open Model…", "win.open-model");
  g_menu_append (files, "Open Second Checkpoint…", "win.open-compare");
  g_menu_append (files, "Open Series…", "win.open-series");
  g_menu_append (files, "Load Prompt Set…", "win.load-prompts");
  GMenu *examples = g_menu_new ();
  for (gsize i = 0; i < strata_n_examples; i++) {
    g_autofree char *action = g_strdup_printf ("app.open-example('%s')", strata_examples[i].id);
    g_menu_append (examples, strata_examples[i].title, action);
  }
  g_menu_append_submenu (files, "Examples", G_MENU_MODEL (examples));
  g_object_unref (examples);
  g_menu_append_section (menu, NULL, G_MENU_MODEL (files));
  GMenu *session = g_menu_new ();
  g_menu_append (session, "Open Session…", "win.open-session");
  GMenu *recent = g_menu_new ();
  _strata_window_rebuild_recent_menu (self, recent);
  g_menu_append_submenu (session, "Recent Sessions", G_MENU_MODEL (recent));
  g_object_set_data_full (G_OBJECT (self), "recent-menu", recent, g_object_unref);
  g_menu_append (session, "Save Session", "win.save");
  g_menu_append (session, "Save Session As…", "win.save-as");
  g_menu_append_section (menu, NULL, G_MENU_MODEL (session));
  GMenu *fig = g_menu_new ();
  g_menu_append (fig, "Export Figure…", "win.export");
  g_autoptr (GMenuModel) device = _strata_window_device_menu ();
  g_menu_append_submenu (fig, "Device", device);
  g_menu_append_section (menu, NULL, G_MENU_MODEL (fig));
  GMenu *app = g_menu_new ();
  g_menu_append (app, "Keyboard Shortcuts", "win.show-help-overlay");
  g_menu_append (app, "Quit", "app.quit");
  g_menu_append_section (menu, NULL, G_MENU_MODEL (app));
  g_object_unref (files);
  g_object_unref (session);
  g_object_unref (fig);
  g_object_unref (app);
  return G_MENU_MODEL (menu);
}

static void
strata_window_dispose (GObject *object)
{
  StrataWindow *self = STRATA_WINDOW (object);
  _strata_window_cancel (self);
  if (self->progress_source) {
    g_source_remove (self->progress_source);
    self->progress_source = 0;
  }
  g_clear_handle_id (&self->trace_source, g_source_remove);
  G_OBJECT_CLASS (strata_window_parent_class)->dispose (object);
}

static void
strata_window_finalize (GObject *object)
{
  StrataWindow *self = STRATA_WINDOW (object);
  if (self->view)
    g_signal_handlers_disconnect_by_data (self->view, self);
  g_clear_object (&self->view);
  for (int i = 0; i < 2; i++) {
    g_clear_pointer (&self->engine[i], strata_engine_free);
    g_clear_pointer (&self->model[i], strata_model_free);
  }
  g_free (self->prompt_set_path);
  g_free (self->pending_compare);
  g_free (self->auto_prompt);
  g_clear_pointer (&self->generation, strata_prompt_free);
  g_free (self->generation_note);
  g_strfreev (self->pending_series);
  if (self->posname_index)
    g_array_unref (self->posname_index);
  if (self->site_index)
    g_array_unref (self->site_index);
  g_free (self->session_path);
  g_free (self->job_name);
  g_free (self->device_text);
  G_OBJECT_CLASS (strata_window_parent_class)->finalize (object);
}

static void
strata_window_class_init (StrataWindowClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = strata_window_dispose;
  G_OBJECT_CLASS (klass)->finalize = strata_window_finalize;
}

static void
strata_window_init (StrataWindow *self)
{
  self->view = strata_view_model_new ();
  strata_view_model_set_token_text (self->view, token_text_cb, self);

  GtkWidget *header = gtk_header_bar_new ();
  GtkWidget *open = gtk_button_new_with_mnemonic ("_Open");
  gtk_widget_set_tooltip_text (open, "Open a checkpoint: HF folder, .safetensors, .gguf or llama2.c .bin (Ctrl+O)");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (open), "win.open-model");
  gtk_header_bar_pack_start (GTK_HEADER_BAR (header), open);
  self->compare_check = gtk_toggle_button_new_with_mnemonic ("Co_mpare");
  gtk_widget_set_tooltip_text (self->compare_check,
                               "Show the second checkpoint beside the first (Ctrl+D); open it with Ctrl+Shift+O");
  g_signal_connect (self->compare_check, "toggled", G_CALLBACK (compare_toggled_cb), self);
  gtk_header_bar_pack_start (GTK_HEADER_BAR (header), self->compare_check);
  GtkWidget *menu = gtk_menu_button_new ();
  gtk_menu_button_set_icon_name (GTK_MENU_BUTTON (menu), "open-menu-symbolic");
  gtk_accessible_update_property (GTK_ACCESSIBLE (menu), GTK_ACCESSIBLE_PROPERTY_LABEL, "Main menu", -1);
  g_autoptr (GMenuModel) menu_model = build_menu (self);
  gtk_menu_button_set_menu_model (GTK_MENU_BUTTON (menu), menu_model);
  gtk_header_bar_pack_end (GTK_HEADER_BAR (header), menu);
  self->export_button = gtk_button_new_from_icon_name ("document-save-as-symbolic");
  gtk_widget_set_tooltip_text (self->export_button, "Export the figure as PNG, SVG or PDF (Ctrl+E)");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->export_button), GTK_ACCESSIBLE_PROPERTY_LABEL, "Export", -1);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->export_button), "win.export");
  gtk_header_bar_pack_end (GTK_HEADER_BAR (header), self->export_button);
  gtk_window_set_titlebar (GTK_WINDOW (self), header);

  GtkWidget *outer = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  self->banner = gtk_info_bar_new ();
  self->banner_label = gtk_label_new ("");
  gtk_label_set_wrap (GTK_LABEL (self->banner_label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (self->banner_label), 0);
  gtk_label_set_selectable (GTK_LABEL (self->banner_label), TRUE);
  gtk_info_bar_add_child (GTK_INFO_BAR (self->banner), self->banner_label);
  gtk_info_bar_set_show_close_button (GTK_INFO_BAR (self->banner), TRUE);
  gtk_widget_set_visible (self->banner, FALSE);
  g_signal_connect (self->banner, "response", G_CALLBACK (banner_response_cb), self);
  gtk_box_append (GTK_BOX (outer), self->banner);
  gtk_box_append (GTK_BOX (outer), _strata_window_example_bar_new (self));

  GtkWidget *prog = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  gtk_widget_set_margin_start (prog, 12);
  gtk_widget_set_margin_end (prog, 12);
  gtk_widget_set_margin_top (prog, 4);
  gtk_widget_set_margin_bottom (prog, 4);
  self->progress_label = gtk_label_new ("");
  self->progress = gtk_progress_bar_new ();
  gtk_widget_set_hexpand (self->progress, TRUE);
  gtk_widget_set_valign (self->progress, GTK_ALIGN_CENTER);
  GtkWidget *cancel = gtk_button_new_with_mnemonic ("_Cancel");
  gtk_actionable_set_action_name (GTK_ACTIONABLE (cancel), "win.cancel");
  gtk_box_append (GTK_BOX (prog), self->progress_label);
  gtk_box_append (GTK_BOX (prog), self->progress);
  gtk_box_append (GTK_BOX (prog), cancel);
  self->progress_revealer = gtk_revealer_new ();
  gtk_revealer_set_child (GTK_REVEALER (self->progress_revealer), prog);
  gtk_box_append (GTK_BOX (outer), self->progress_revealer);

  GtkWidget *paned = gtk_paned_new (GTK_ORIENTATION_HORIZONTAL);
  gtk_widget_set_vexpand (paned, TRUE);
  gtk_paned_set_start_child (GTK_PANED (paned), build_sidebar (self));
  gtk_paned_set_resize_start_child (GTK_PANED (paned), FALSE);
  gtk_paned_set_shrink_start_child (GTK_PANED (paned), FALSE);
  GtkWidget *main = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  self->stack = gtk_stack_new ();
  gtk_stack_set_transition_type (GTK_STACK (self->stack), GTK_STACK_TRANSITION_TYPE_NONE);
  for (int k = 0; k < STRATA_FIGURE_N_ALL; k++) {
    self->figures[k] = strata_figure_view_new (self->view, k);
    gtk_stack_add_titled (GTK_STACK (self->stack), self->figures[k], strata_figure_kind_to_string (k),
                          strata_enum_get_label (&strata_figure_kind_table, k));
    if (STRATA_FIGURE_IS_SERIES (k))
      g_signal_connect (self->figures[k], "checkpoint-activated", G_CALLBACK (checkpoint_activated_cb), self);
  }
  gtk_box_append (GTK_BOX (main), build_options_bar (self));
  gtk_box_append (GTK_BOX (main), gtk_separator_new (GTK_ORIENTATION_HORIZONTAL));
  gtk_box_append (GTK_BOX (main), self->stack);
  gtk_box_append (GTK_BOX (main), build_trace_bar (self));
  gtk_box_append (GTK_BOX (main), build_layer_bar (self));
  gtk_paned_set_end_child (GTK_PANED (paned), main);
  gtk_box_append (GTK_BOX (outer), paned);
  gtk_window_set_child (GTK_WINDOW (self), outer);
  g_signal_connect (self->stack, "notify::visible-child", G_CALLBACK (stack_child_cb), self);

  GtkEventController *keys = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (key_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);

  g_signal_connect (self->view, "changed", G_CALLBACK (view_changed_cb), self);
  g_signal_connect (self, "close-request", G_CALLBACK (close_request_cb), self);
  _strata_window_device_init (self);
  _strata_window_install_actions (self);
  _strata_window_update_series_pages (self);
  _strata_window_state_restore (self);
  _strata_window_sync_controls (self);
  _strata_window_update_cards (self);
  _strata_window_update_title (self);
}

StrataWindow *
strata_window_new (StrataApplication *app)
{
  return g_object_new (STRATA_TYPE_WINDOW, "application", app, NULL);
}

void
_strata_window_refresh_targets (StrataWindow *self)
{
  self->syncing = TRUE;
  fill_targets (self);
  self->syncing = FALSE;
}
