/* strata-figure-view.h: a widget that draws one figure of a StrataViewModel and turns
 * clicks into selections (layer, position, head, a series' checkpoint) on that model.
 *
 * Signal "checkpoint-activated" (int run, int checkpoint, int layer), series figures only:
 * a click on a checkpoint's cell or point (after it is selected), or Return on the selected
 * checkpoint; layer is the row clicked or the selected layer, -1 where the figure has none
 * (the accuracy curve). The window opens that checkpoint on its own. */
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
