/* strata-application.h: the GtkApplication (org.strata.Workbench). */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define STRATA_APPLICATION_ID "org.strata.Workbench"
#define STRATA_TYPE_APPLICATION (strata_application_get_type ())
G_DECLARE_FINAL_TYPE (StrataApplication, strata_application, STRATA, APPLICATION, GtkApplication)

/* Runs the window: no argument opens the built-in default model, a MODEL argument opens
 * that model, a FILE.h5 opens a saved session. Returns the exit status. */
int strata_application_run (int argc, char **argv);

/* The bundled default model (llama2.c stories260K), or NULL when it is not installed. */
char *strata_application_default_model (void);

G_END_DECLS
