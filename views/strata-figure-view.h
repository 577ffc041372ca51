/* strata-figure-view.h: a widget that draws one figure of a StrataViewModel and turns
 * clicks into selections (layer, position, head) on that model. */
#pragma once

#include <gtk/gtk.h>

#include "strata-view-model.h"

G_BEGIN_DECLS

#define STRATA_TYPE_FIGURE_VIEW (strata_figure_view_get_type ())
G_DECLARE_FINAL_TYPE (StrataFigureView, strata_figure_view, STRATA, FIGURE_VIEW, GtkWidget)

GtkWidget *strata_figure_view_new (StrataViewModel *model, StrataFigureKind kind);
StrataFigureKind strata_figure_view_get_kind (StrataFigureView *self);
/* Export at the default figure size (not the widget's), PNG/SVG/PDF by extension. */
gboolean strata_figure_view_export (StrataFigureView *self, const char *path, double scale, GError **error);

G_END_DECLS
