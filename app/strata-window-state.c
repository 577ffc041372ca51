/* strata-window-state.c: window size and recent sessions, kept in a small key file
 * ($XDG_CONFIG_HOME/strata/state.ini). GSettings would need an installed schema. */
#include <glib/gstdio.h>

#include "strata-window-private.h"

#define MAX_RECENT 8

static char *
state_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "strata", "state.ini", NULL);
}

static GKeyFile *
load_state (void)
{
  GKeyFile *kf = g_key_file_new ();
  g_autofree char *path = state_path ();
  g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, NULL); /* missing or bad: defaults */
  return kf;
}

static void
store_state (GKeyFile *kf)
{
  g_autofree char *path = state_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    return;
  g_key_file_save_to_file (kf, path, NULL); /* best effort: never bother the person */
}

void
_strata_window_state_restore (StrataWindow *self)
{
  g_autoptr (GKeyFile) kf = load_state ();
  int w = g_key_file_get_integer (kf, "window", "width", NULL);
  int h = g_key_file_get_integer (kf, "window", "height", NULL);
  gtk_window_set_default_size (GTK_WINDOW (self), w >= 400 ? w : 1280, h >= 300 ? h : 800);
  if (g_key_file_get_boolean (kf, "window", "maximized", NULL))
    gtk_window_maximize (GTK_WINDOW (self));
}

void
_strata_window_state_save (StrataWindow *self)
{
  g_autoptr (GKeyFile) kf = load_state ();
  int w, h;
  gtk_window_get_default_size (GTK_WINDOW (self), &w, &h);
  gboolean max = gtk_window_is_maximized (GTK_WINDOW (self));
  if (!max && gtk_widget_get_width (GTK_WIDGET (self)) > 0) {
    w = gtk_widget_get_width (GTK_WIDGET (self));
    h = gtk_widget_get_height (GTK_WIDGET (self));
  }
  g_key_file_set_integer (kf, "window", "width", w);
  g_key_file_set_integer (kf, "window", "height", h);
  g_key_file_set_boolean (kf, "window", "maximized", max);
  store_state (kf);
}

char **
_strata_window_recent_list (void)
{
  g_autoptr (GKeyFile) kf = load_state ();
  char **list = g_key_file_get_string_list (kf, "recent", "sessions", NULL, NULL);
  return list ? list : g_new0 (char *, 1);
}

void
_strata_window_recent_add (const char *path)
{
  g_autoptr (GKeyFile) kf = load_state ();
  g_auto (GStrv) old = g_key_file_get_string_list (kf, "recent", "sessions", NULL, NULL);
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  g_strv_builder_add (b, path);
  int n = 1;
  for (int i = 0; old && old[i] && n < MAX_RECENT; i++)
    if (g_strcmp0 (old[i], path) != 0) {
      g_strv_builder_add (b, old[i]);
      n++;
    }
  g_auto (GStrv) list = g_strv_builder_end (b);
  g_key_file_set_string_list (kf, "recent", "sessions", (const char *const *) list, g_strv_length (list));
  store_state (kf);
}

void
_strata_window_rebuild_recent_menu (StrataWindow *self, GMenu *menu)
{
  g_menu_remove_all (menu);
  g_auto (GStrv) list = _strata_window_recent_list ();
  for (int i = 0; list[i]; i++) {
    g_autofree char *base = g_path_get_basename (list[i]);
    g_autoptr (GMenuItem) item = g_menu_item_new (base, NULL);
    g_menu_item_set_action_and_target_value (item, "win.open-recent", g_variant_new_string (list[i]));
    g_menu_append_item (menu, item);
  }
  if (!list[0]) {
    g_autoptr (GMenuItem) item = g_menu_item_new ("No recent sessions", "win.no-recent");
    g_menu_append_item (menu, item);
  }
}
