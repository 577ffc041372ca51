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

enum { CHECKPOINT_ACTIVATED, N_SIGNALS };
static guint signals[N_SIGNALS];

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
  if (hit.checkpoint >= 0)
    strata_view_model_set_checkpoint (self->model, hit.panel, hit.checkpoint);
  g_object_thaw_notify (G_OBJECT (self->model));
  if (hit.checkpoint >= 0)
    g_signal_emit (self, signals[CHECKPOINT_ACTIVATED], 0, hit.panel, hit.checkpoint, hit.layer);
}

/* Series figures: Left and Right move the selected checkpoint along its run, Return (or
 * Enter, or Space) activates it at the selected layer, as a click on its cell does. */
static gboolean
key_pressed_cb (GtkEventControllerKey *ctl, guint keyval, guint keycode, GdkModifierType state,
                StrataFigureView *self)
{
  StrataSeries *series = strata_view_model_get_series (self->model);
  if (!STRATA_FIGURE_IS_SERIES (self->kind) || !series || series->runs->len == 0
      || (state & (GDK_CONTROL_MASK | GDK_ALT_MASK | GDK_SHIFT_MASK)))
    return FALSE;
  const StrataViewState *v = strata_view_model_get_state (self->model);
  int run = CLAMP (v->run, 0, (int) series->runs->len - 1);
  int n = (int) ((StrataTrainingRun *) series->runs->pdata[run])->checkpoints->len;
  switch (keyval) {
  case GDK_KEY_Left: case GDK_KEY_KP_Left:
    strata_view_model_set_checkpoint (self->model, run, v->checkpoint < 0 ? n - 1 : MAX (v->checkpoint - 1, 0));
    return TRUE;
  case GDK_KEY_Right: case GDK_KEY_KP_Right:
    strata_view_model_set_checkpoint (self->model, run, v->checkpoint < 0 ? 0 : MIN (v->checkpoint + 1, n - 1));
    return TRUE;
  case GDK_KEY_Return: case GDK_KEY_KP_Enter: case GDK_KEY_space:
    if (v->run < 0 || v->checkpoint < 0)
      return FALSE;
    g_signal_emit (self, signals[CHECKPOINT_ACTIVATED], 0, v->run, v->checkpoint, v->layer);
    return TRUE;
  default:
    return FALSE;
  }
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
  signals[CHECKPOINT_ACTIVATED] = g_signal_new ("checkpoint-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                                0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                                                G_TYPE_INT, G_TYPE_INT, G_TYPE_INT); /* run, checkpoint, layer */
}

static void
strata_figure_view_init (StrataFigureView *self)
{
  GtkGesture *click = gtk_gesture_click_new ();
  g_signal_connect (click, "pressed", G_CALLBACK (pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));
  GtkEventController *keys = gtk_event_controller_key_new ();
  g_signal_connect (keys, "key-pressed", G_CALLBACK (key_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);
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
