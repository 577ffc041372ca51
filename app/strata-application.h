/* strata-application.h: the GtkApplication (org.strata.Workbench). */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define STRATA_APPLICATION_ID "org.strata.Workbench"
#define STRATA_TYPE_APPLICATION (strata_application_get_type ())
G_DECLARE_FINAL_TYPE (StrataApplication, strata_application, STRATA, APPLICATION, GtkApplication)

/* Runs the window: no argument opens the first bundled example (strata-examples.h), a MODEL
 * argument opens that model, a FILE.h5 opens a saved session. Without a display: a one-line
 * error naming the headless commands, exit 1. Returns the exit status. */
int strata_application_run (int argc, char **argv);

G_END_DECLS
