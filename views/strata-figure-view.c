/* strata-figure-view.c: draws with strata_figure_draw() and maps clicks with the same
 * layout through strata_figure_hit_test(), so what is drawn is what is hit. */
#include "strata-figure-view.h"

struct _StrataFigureView {
  GtkWidget parent_instance;
  StrataViewModel *model;
  gulong changed_id;
  StrataFigureKind kind;
};

G_DEFINE_FINAL_TYPE (StrataFigureView, strata_figure_view, GTK_TYPE_WIDGET)

static void
update_accessible (StrataFigureView *self)
{
  StrataFigureInput in;
  strata_view_model_fill_input (self->model, self->kind, &in);
  g_autofree char *title = NULL, *desc = NULL;
  strata_figure_describe (&in, &title, &desc);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, title,
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, desc ? desc : "", -1);
}

static void
model_changed_cb (StrataViewModel *model, StrataFigureView *self)
{
  gtk_widget_queue_draw (GTK_WIDGET (self));
  update_accessible (self);
}

static void
strata_figure_view_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  StrataFigureView *self = STRATA_FIGURE_VIEW (widget);
  int w = gtk_widget_get_width (widget), h = gtk_widget_get_height (widget);
  if (w <= 0 || h <= 0)
    return;
  cairo_t *cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, w, h));
  StrataFigureInput in;
  strata_view_model_fill_input (self->model, self->kind, &in);
  strata_figure_draw (cr, w, h, &in);
  cairo_destroy (cr);
}

static void
pressed_cb (GtkGestureClick *gesture, int n_press, double x, double y, StrataFigureView *self)
{
  GtkWidget *widget = GTK_WIDGET (self);
  StrataFigureInput in;
  strata_view_model_fill_input (self->model, self->kind, &in);
  StrataFigureHit hit;
  gtk_widget_grab_focus (widget);
  if (!strata_figure_hit_test (&in, gtk_widget_get_width (widget), gtk_widget_get_height (widget), x, y, &hit))
    return;
  g_object_freeze_notify (G_OBJECT (self->model));
  if (hit.layer >= 0)
    strata_view_model_set_layer (self->model, hit.layer);
  if (hit.position >= 0)
    strata_view_model_set_position (self->model, hit.position);
  if (hit.head >= 0)
    strata_view_model_set_head (self->model, hit.head);
  g_object_thaw_notify (G_OBJECT (self->model));
}

static void
strata_figure_view_dispose (GObject *object)
{
  StrataFigureView *self = STRATA_FIGURE_VIEW (object);
  if (self->model) {
    g_clear_signal_handler (&self->changed_id, self->model);
    g_clear_object (&self->model);
  }
  G_OBJECT_CLASS (strata_figure_view_parent_class)->dispose (object);
}

static void
strata_figure_view_measure (GtkWidget *widget, GtkOrientation orientation, int for_size, int *minimum,
                            int *natural, int *minimum_baseline, int *natural_baseline)
{
  *minimum = orientation == GTK_ORIENTATION_HORIZONTAL ? 320 : 240;
  *natural = orientation == GTK_ORIENTATION_HORIZONTAL ? 640 : 420;
}

static void
strata_figure_view_class_init (StrataFigureViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = strata_figure_view_dispose;
  widget_class->snapshot = strata_figure_view_snapshot;
  widget_class->measure = strata_figure_view_measure;
  gtk_widget_class_set_css_name (widget_class, "strata-figure");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
strata_figure_view_init (StrataFigureView *self)
{
  GtkGesture *click = gtk_gesture_click_new ();
  g_signal_connect (click, "pressed", G_CALLBACK (pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));
  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_hexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self), TRUE);
}

GtkWidget *
strata_figure_view_new (StrataViewModel *model, StrataFigureKind kind)
{
  StrataFigureView *self = g_object_new (STRATA_TYPE_FIGURE_VIEW, NULL);
  self->model = g_object_ref (model);
  self->kind = kind;
  self->changed_id = g_signal_connect (model, "changed", G_CALLBACK (model_changed_cb), self);
  update_accessible (self);
  return GTK_WIDGET (self);
}

StrataFigureKind
strata_figure_view_get_kind (StrataFigureView *self)
{
  return self->kind;
}

gboolean
strata_figure_view_export (StrataFigureView *self, const char *path, double scale, GError **error)
{
  StrataFigureInput in;
  strata_view_model_fill_input (self->model, self->kind, &in);
  /* The same page as `strata export`: no empty band under a heatmap whose cells are capped. */
  double height = strata_figure_fit_height (&in, STRATA_FIGURE_DEFAULT_WIDTH, STRATA_FIGURE_DEFAULT_HEIGHT);
  return strata_figure_export (path, STRATA_FIGURE_DEFAULT_WIDTH, height, scale, &in, error);
}
