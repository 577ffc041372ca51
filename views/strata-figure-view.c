/* strata-figure-view.c: draws with strata_figure_draw() and maps clicks with the same
 * layout through strata_figure_hit_test(), so what is drawn is what is hit.
 *
 * Long traces: Ctrl + wheel and + / - zoom the view's position range, the wheel (either
 * axis) scrolls it, Left / Right move the selected position (the range follows), and a
 * click or drag on the overview strip moves the range there. */
#include "strata-figure-view.h"

#include <math.h>

struct _StrataFigureView {
  GtkWidget parent_instance;
  StrataViewModel *model;
  gulong changed_id;
  StrataFigureKind kind;
  gboolean dragging_overview;
  int pointer_position;        /* the position under the pointer; -1 none */
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
  if (!strata_figure_hit_test (&in, gtk_widget_get_width (widget), gtk_widget_get_height (widget), x, y, &hit)
      || hit.overview) /* the strip moves the range (drag_cb), it selects nothing */
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

/* The overview strip: where a press or drag on it lands, the range is centred. */
static gboolean
center_on_overview (StrataFigureView *self, double x, double y)
{
  GtkWidget *widget = GTK_WIDGET (self);
  StrataFigureInput in;
  strata_view_model_fill_input (self->model, self->kind, &in);
  StrataFigureHit hit;
  if (!strata_figure_hit_test (&in, gtk_widget_get_width (widget), gtk_widget_get_height (widget), x, y, &hit)
      || !hit.overview)
    return FALSE;
  strata_view_model_center_range (self->model, hit.position);
  return TRUE;
}

static void
drag_begin_cb (GtkGestureDrag *gesture, double x, double y, StrataFigureView *self)
{
  self->dragging_overview = center_on_overview (self, x, y);
  if (!self->dragging_overview)
    gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_DENIED);
}

static void
drag_update_cb (GtkGestureDrag *gesture, double dx, double dy, StrataFigureView *self)
{
  double x, y;
  if (!self->dragging_overview || !gtk_gesture_drag_get_start_point (gesture, &x, &y))
    return;
  /* Along the strip even when the pointer strays above or below it. */
  StrataFigureInput in;
  strata_view_model_fill_input (self->model, self->kind, &in);
  double px, py, pw, ph;
  GtkWidget *widget = GTK_WIDGET (self);
  if (!strata_figure_get_plot_area (&in, gtk_widget_get_width (widget), gtk_widget_get_height (widget), 0, &px, &py,
                                    &pw, &ph))
    return;
  center_on_overview (self, CLAMP (x + dx, px, px + pw - 1), y);
}

/* Whether the figure has an axis of positions the range applies to. */
static gboolean
has_positions (StrataFigureView *self)
{
  StrataFigureInput in;
  strata_view_model_fill_input (self->model, self->kind, &in);
  return strata_figure_n_positions (&in) > 0;
}

/* Ctrl + wheel zooms about the position under the pointer; the wheel scrolls the range
 * (vertical or horizontal wheel alike; a notch moves a tenth of the range). */
static gboolean
scroll_cb (GtkEventControllerScroll *ctl, double dx, double dy, StrataFigureView *self)
{
  if (!has_positions (self))
    return FALSE;
  GdkModifierType state = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (ctl));
  double delta = fabs (dy) >= fabs (dx) ? dy : dx;
  if (delta == 0)
    return FALSE;
  int first, count;
  strata_view_model_get_range (self->model, &first, &count);
  if (state & GDK_CONTROL_MASK) {
    strata_view_model_zoom (self->model, delta < 0 ? 0.8 : 1.25, self->pointer_position);
    return TRUE;
  }
  int step = MAX (count / 10, 1);
  strata_view_model_scroll_range (self->model, delta > 0 ? step : -step);
  return TRUE;
}

/* The position under the pointer, where Ctrl + wheel zooms (-1: none). */
static void
motion_cb (GtkEventControllerMotion *ctl, double x, double y, StrataFigureView *self)
{
  GtkWidget *widget = GTK_WIDGET (self);
  StrataFigureInput in;
  strata_view_model_fill_input (self->model, self->kind, &in);
  StrataFigureHit hit;
  self->pointer_position = strata_figure_hit_test (&in, gtk_widget_get_width (widget), gtk_widget_get_height (widget),
                                                   x, y, &hit) && !hit.overview ? hit.position : -1;
}

/* Checkpoint figures with positions: Left / Right move the selected position (the range
 * follows), + / - zoom the range about it. */
static gboolean
position_key (StrataFigureView *self, guint keyval)
{
  int T = strata_view_model_get_n_positions (self->model);
  if (T <= 0)
    return FALSE;
  const StrataViewState *v = strata_view_model_get_state (self->model);
  int p = v->position >= 0 ? v->position : T - 1;
  switch (keyval) {
  case GDK_KEY_Left: case GDK_KEY_KP_Left:
    strata_view_model_set_position (self->model, MAX (p - 1, 0));
    return TRUE;
  case GDK_KEY_Right: case GDK_KEY_KP_Right:
    strata_view_model_set_position (self->model, MIN (p + 1, T - 1));
    return TRUE;
  case GDK_KEY_plus: case GDK_KEY_equal: case GDK_KEY_KP_Add:
    if (!has_positions (self))
      return FALSE;
    strata_view_model_zoom (self->model, 0.5, -1);
    return TRUE;
  case GDK_KEY_minus: case GDK_KEY_KP_Subtract:
    if (!has_positions (self))
      return FALSE;
    strata_view_model_zoom (self->model, 2.0, -1);
    return TRUE;
  default:
    return FALSE;
  }
}

/* Series figures: Left and Right move the selected checkpoint along its run, Return (or
 * Enter, or Space) activates it at the selected layer, as a click on its cell does. */
static gboolean
key_pressed_cb (GtkEventControllerKey *ctl, guint keyval, guint keycode, GdkModifierType state,
                StrataFigureView *self)
{
  if (!STRATA_FIGURE_IS_SERIES (self->kind))
    return !(state & (GDK_CONTROL_MASK | GDK_ALT_MASK)) && position_key (self, keyval);
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
  GtkGesture *drag = gtk_gesture_drag_new ();
  g_signal_connect (drag, "drag-begin", G_CALLBACK (drag_begin_cb), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (drag_update_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drag));
  GtkEventController *scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_BOTH_AXES
                                                                | GTK_EVENT_CONTROLLER_SCROLL_DISCRETE);
  g_signal_connect (scroll, "scroll", G_CALLBACK (scroll_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), scroll);
  GtkEventController *motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "motion", G_CALLBACK (motion_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);
  self->pointer_position = -1;
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
