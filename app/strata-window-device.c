/* strata-window-device.c: the device the window's engines run on (DESIGN.md section 3).
 *
 * The policy is the command line's (strata_device_choose): STRATA_DEVICE, else auto. The
 * model cards name the device, with auto's reason when it fell back to the CPU (the whole
 * reason in the tooltip). The menu's Device submenu is the stateful action win.device
 * ("auto", "cpu", "cuda"); choosing another device re-creates the engines of the open
 * models off the main thread, as opening a model creates them; a model's weights live where
 * the device it was opened for wants them (a GPU's memory, 16-bit matrices as stored), so
 * another device opens its checkpoint again (strata_model_reopen_for). A device that cannot run
 * (CUDA without a usable GPU) leaves everything as it was and says why in the banner. The
 * same submenu's second section is win.precision ("fp32", "tf32", "bf16": --precision),
 * which re-creates the engines the same way; the card adds it when it is not fp32. */
#include <stdio.h>

#include "strata-window-private.h"

/* The menu's names for the radio items. */
static const char *
device_title (const char *name)
{
  return g_strcmp0 (name, "cuda") == 0 ? "CUDA" : g_strcmp0 (name, "cpu") == 0 ? "CPU" : "Auto";
}

const StrataBackend *
_strata_window_get_backend (StrataWindow *self)
{
  return self->device.backend;
}

StrataPrecision
_strata_window_get_precision (StrataWindow *self)
{
  return self->precision;
}

StrataEngine *
_strata_window_engine_new (const StrataBackend *backend, StrataPrecision precision, StrataModel *model, GError **error)
{
  StrataStatus st = STRATA_OK;
  StrataEngineOptions o = { 0, precision };
  StrataEngine *e = strata_engine_new_with (backend, model->weights, &o, &st);
  if (!e)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot start the engine on %s: %s", backend->name,
                 strata_status_to_string (st));
  return e;
}

/* The card's words for the window's device: its label, and the precision when not fp32. */
static void
update_device_text (StrataWindow *self)
{
  g_free (self->device_text);
  self->device_text = self->precision == STRATA_PRECISION_FP32
                        ? g_strdup (self->device.label)
                        : g_strdup_printf ("%s \xc2\xb7 %s products", self->device.label,
                                           strata_precision_to_string (self->precision));
}

void
_strata_window_describe_device (StrataWindow *self, int slot, const char **text, const char **tooltip)
{
  *text = "\xe2\x80\x94";
  *tooltip = NULL;
  if (self->engine[slot]) {
    const StrataBackend *be = strata_engine_get_backend (self->engine[slot]);
    if (be == self->device.backend) {
      *text = self->device_text;
      *tooltip = self->device.why;
    } else {
      *text = be->name;
    }
    return;
  }
  /* A session opened without its model: where its analysis ran, when the file says. */
  StrataAnalysis *a = strata_view_model_get_analysis (self->view, slot);
  if (a && a->model.device && *a->model.device) {
    *text = a->model.device;
    *tooltip = "Where the saved analysis ran";
  }
}

/* ---- switching: new engines for the open models, off the main thread ---- */

typedef struct {
  StrataDeviceChoice choice;
  StrataPrecision precision;
  StrataModel *model[2];    /* borrowed: the window keeps them while it is busy */
  gboolean reopen[2];       /* the model's engine runs on another backend */
  StrataModel *reopened[2]; /* new: the checkpoint opened again for choice.backend */
  StrataEngine *engine[2];  /* new, on choice.backend in `precision` */
} DeviceJob;

static void
device_job_free (DeviceJob *j)
{
  for (int s = 0; s < 2; s++) {
    if (j->engine[s]) /* before the model whose weights it runs */
      strata_engine_free (j->engine[s]);
    if (j->reopened[s])
      strata_model_free (j->reopened[s]);
  }
  g_free (j);
}

static void
device_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  DeviceJob *j = data;
  for (int s = 0; s < 2; s++) {
    GError *error = NULL;
    if (!j->model[s])
      continue;
    if (j->reopen[s] && !(j->reopened[s] = strata_model_reopen_for (j->model[s], j->choice.backend, &error))) {
      g_task_return_error (task, error);
      return;
    }
    StrataModel *m = j->reopened[s] ? j->reopened[s] : j->model[s];
    if (!(j->engine[s] = _strata_window_engine_new (j->choice.backend, j->precision, m, &error))) {
      g_prefix_error (&error, "%s: ", m->name);
      g_task_return_error (task, error);
      return;
    }
  }
  g_task_return_boolean (task, TRUE);
}

static void
apply_choice (StrataWindow *self, const StrataDeviceChoice *choice, StrataPrecision precision)
{
  self->device = *choice;
  self->precision = precision;
  update_device_text (self);
  GAction *a = g_action_map_lookup_action (G_ACTION_MAP (self), "device");
  g_simple_action_set_state (G_SIMPLE_ACTION (a), g_variant_new_string (choice->asked));
  a = g_action_map_lookup_action (G_ACTION_MAP (self), "precision");
  g_simple_action_set_state (G_SIMPLE_ACTION (a), g_variant_new_string (strata_precision_to_string (precision)));
  _strata_window_update_cards (self);
}

static void
device_done_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  StrataWindow *self = STRATA_WINDOW (source);
  DeviceJob *j = g_task_get_task_data (G_TASK (result));
  g_autoptr (GError) error = NULL;
  _strata_window_end_job (self);
  if (!g_task_propagate_boolean (G_TASK (result), &error)) {
    g_autofree char *msg = g_strdup_printf ("%s; the models stay on %s.", error->message, self->device_text);
    strata_window_show_error (self, msg);
    return;
  }
  for (int s = 0; s < 2; s++) {
    if (!j->engine[s])
      continue;
    g_clear_pointer (&self->engine[s], strata_engine_free);
    if (j->reopened[s]) { /* the same checkpoint: the prompt's ids and the analyses still hold */
      g_clear_pointer (&self->model[s], strata_model_free);
      self->model[s] = g_steal_pointer (&j->reopened[s]);
    }
    self->engine[s] = g_steal_pointer (&j->engine[s]);
  }
  _strata_window_hide_error (self);
  apply_choice (self, &j->choice, j->precision);
}

/* New engines for the open models on `choice` in `precision`, in the background; only the
 * card's words change when every open engine already runs so. */
static void
switch_engines (StrataWindow *self, const StrataDeviceChoice *choice, StrataPrecision precision)
{
  gboolean same = TRUE;
  for (int s = 0; s < 2; s++)
    same = same && (!self->engine[s] || (strata_engine_get_backend (self->engine[s]) == choice->backend &&
                                         strata_engine_get_precision (self->engine[s]) == precision));
  if (same) { /* e.g. cpu -> auto that falls back to the CPU */
    apply_choice (self, choice, precision);
    return;
  }
  DeviceJob *j = g_new0 (DeviceJob, 1);
  j->choice = *choice;
  j->precision = precision;
  for (int s = 0; s < 2; s++) {
    j->model[s] = self->engine[s] ? self->model[s] : NULL;
    j->reopen[s] = self->engine[s] && strata_engine_get_backend (self->engine[s]) != choice->backend;
  }
  g_autofree char *what = g_strdup_printf ("Starting the engines on %s (%s products)\xe2\x80\xa6", choice->label,
                                           strata_precision_to_string (precision));
  _strata_window_start_job (self, what, j, (GDestroyNotify) device_job_free, device_thread, device_done_cb);
}

static void
device_change_state_cb (GSimpleAction *action, GVariant *value, gpointer data)
{
  StrataWindow *self = data;
  const char *name = g_variant_get_string (value, NULL);
  if (g_strcmp0 (name, self->device.asked) == 0)
    return;
  if (_strata_window_is_busy (self)) {
    strata_window_show_error (self, "Wait for the running job to finish or cancel it before changing the device.");
    return;
  }
  StrataDeviceChoice choice;
  if (!strata_device_choose (name, &choice)) {
    /* The state stays: the menu keeps the device that runs. */
    g_autofree char *msg = g_strdup_printf ("%s is not available: %s. The models stay on %s.", device_title (name),
                                            choice.why, self->device_text);
    strata_window_show_error (self, msg);
    return;
  }
  switch_engines (self, &choice, self->precision);
}

static void
precision_change_state_cb (GSimpleAction *action, GVariant *value, gpointer data)
{
  StrataWindow *self = data;
  int p = strata_precision_from_string (g_variant_get_string (value, NULL));
  if (p < 0 || (StrataPrecision) p == self->precision)
    return;
  if (_strata_window_is_busy (self)) {
    strata_window_show_error (self, "Wait for the running job to finish or cancel it before changing the precision.");
    return;
  }
  switch_engines (self, &self->device, (StrataPrecision) p);
}

void
_strata_window_device_init (StrataWindow *self)
{
  /* STRATA_DEVICE, else auto; a value that cannot run here falls back to auto, said once on
   * stderr and in the banner. */
  StrataDeviceChoice env;
  if (!strata_device_choose (NULL, &env)) {
    g_autofree char *msg = g_strdup_printf ("STRATA_DEVICE=%s: %s. Using Auto instead.", env.asked, env.why);
    fprintf (stderr, "strata: %s\n", msg);
    strata_device_choose ("auto", &self->device);
    strata_window_show_error (self, msg);
  } else {
    self->device = env;
  }
  self->precision = STRATA_PRECISION_FP32;
  update_device_text (self);
  GSimpleAction *a = g_simple_action_new_stateful ("device", G_VARIANT_TYPE_STRING,
                                                   g_variant_new_string (self->device.asked));
  g_signal_connect (a, "change-state", G_CALLBACK (device_change_state_cb), self);
  g_action_map_add_action (G_ACTION_MAP (self), G_ACTION (a));
  g_object_unref (a);
  a = g_simple_action_new_stateful ("precision", G_VARIANT_TYPE_STRING, g_variant_new_string ("fp32"));
  g_signal_connect (a, "change-state", G_CALLBACK (precision_change_state_cb), self);
  g_action_map_add_action (G_ACTION_MAP (self), G_ACTION (a));
  g_object_unref (a);
}

GMenuModel *
_strata_window_device_menu (void)
{
  GMenu *menu = g_menu_new ();
  g_autoptr (GMenu) devices = g_menu_new (), products = g_menu_new ();
  const char *names[] = { "auto", "cpu", "cuda" };
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autoptr (GMenuItem) item = g_menu_item_new (device_title (names[i]), NULL);
    g_menu_item_set_action_and_target_value (item, "win.device", g_variant_new_string (names[i]));
    g_menu_append_item (devices, item);
  }
  const char *titles[STRATA_PRECISION_N] = { "FP32 Products (Exact)", "TF32 Products", "BF16 Products" };
  for (int p = 0; p < STRATA_PRECISION_N; p++) {
    g_autoptr (GMenuItem) item = g_menu_item_new (titles[p], NULL);
    g_menu_item_set_action_and_target_value (item, "win.precision",
                                             g_variant_new_string (strata_precision_to_string ((StrataPrecision) p)));
    g_menu_append_item (products, item);
  }
  g_menu_append_section (menu, NULL, G_MENU_MODEL (devices));
  g_menu_append_section (menu, NULL, G_MENU_MODEL (products));
  return G_MENU_MODEL (menu);
}
