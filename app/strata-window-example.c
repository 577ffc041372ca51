/* strata-window-example.c: opening a bundled example (strata-examples.h) in the window, and
 * the line above the figures that says what it is, with the other examples one click away. */
#include "strata-window-private.h"

#include "strata-examples.h"

void
strata_window_open_example (StrataWindow *self, const StrataExample *example)
{
  if (!strata_example_available (example)) {
    g_autofree char *msg = g_strdup_printf ("The example \xe2\x80\x9c%s\xe2\x80\x9d is not installed: open a checkpoint "
                                            "with Ctrl+O.", example->title);
    strata_window_show_error (self, msg);
    return;
  }
  g_autofree char *a = strata_example_file (example->models[0]);
  g_autofree char *b = example->models[1] ? strata_example_file (example->models[1]) : NULL;
  g_autofree char *prompts = example->prompts ? strata_example_file (example->prompts) : NULL;
  self->opening_example = example;
  strata_window_set_prompt_set (self, prompts);
  if (b)
    strata_window_open_pair (self, a, b);
  else
    strata_window_open_model (self, a, 0, TRUE);
  gtk_label_set_text (GTK_LABEL (self->example_label), example->about ? example->about : "");
  gtk_widget_set_visible (self->example_bar, example->about != NULL);
  for (GtkWidget *child = gtk_widget_get_first_child (self->example_buttons); child;
       child = gtk_widget_get_next_sibling (child))
    gtk_widget_set_visible (child, g_strcmp0 (g_object_get_data (G_OBJECT (child), "example"), example->id) != 0);
}

void
_strata_window_example_apply_view (StrataWindow *self)
{
  const StrataExample *example = g_steal_pointer (&self->opening_example);
  if (!example)
    return;
  if (example->tag)
    strata_view_model_set_tag (self->view, example->tag);
  _strata_window_set_dirty (self, FALSE); /* nothing of the person's to save yet */
}

void
_strata_window_example_forget (StrataWindow *self)
{
  if (self->opening_example)
    return; /* the example opening its own checkpoints */
  gtk_widget_set_visible (self->example_bar, FALSE);
}

static void
example_bar_response_cb (GtkInfoBar *bar, int response, StrataWindow *self)
{
  gtk_widget_set_visible (self->example_bar, FALSE);
}

GtkWidget *
_strata_window_example_bar_new (StrataWindow *self)
{
  self->example_bar = gtk_info_bar_new ();
  gtk_info_bar_set_message_type (GTK_INFO_BAR (self->example_bar), GTK_MESSAGE_INFO);
  gtk_info_bar_set_show_close_button (GTK_INFO_BAR (self->example_bar), TRUE);
  self->example_label = gtk_label_new ("");
  gtk_label_set_wrap (GTK_LABEL (self->example_label), TRUE);
  gtk_label_set_xalign (GTK_LABEL (self->example_label), 0);
  gtk_widget_set_hexpand (self->example_label, TRUE);
  gtk_info_bar_add_child (GTK_INFO_BAR (self->example_bar), self->example_label);
  /* The other examples, one click each (each opens in its own window). */
  self->example_buttons = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  for (gsize i = 0; i < strata_n_examples; i++) {
    g_autofree char *label = g_strdup_printf ("Open %s", strata_examples[i].title);
    GtkWidget *button = gtk_button_new_with_label (label);
    gtk_actionable_set_action_name (GTK_ACTIONABLE (button), "app.open-example");
    gtk_actionable_set_action_target (GTK_ACTIONABLE (button), "s", strata_examples[i].id);
    g_object_set_data (G_OBJECT (button), "example", (gpointer) strata_examples[i].id);
    gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
    gtk_box_append (GTK_BOX (self->example_buttons), button);
  }
  gtk_info_bar_add_child (GTK_INFO_BAR (self->example_bar), self->example_buttons);
  gtk_widget_set_visible (self->example_bar, FALSE);
  g_signal_connect (self->example_bar, "response", G_CALLBACK (example_bar_response_cb), self);
  return self->example_bar;
}
