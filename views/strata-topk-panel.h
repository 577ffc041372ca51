/* strata-topk-panel.h: the side panel listing the lens' top-k tokens, with their
 * probabilities, and each target's probability and rank at the selected layer and position;
 * with the trace figure, where each target the trace writes is first held. */
#pragma once

#include <gtk/gtk.h>

#include "strata-view-model.h"

G_BEGIN_DECLS

#define STRATA_TYPE_TOPK_PANEL (strata_topk_panel_get_type ())
G_DECLARE_FINAL_TYPE (StrataTopkPanel, strata_topk_panel, STRATA, TOPK_PANEL, GtkWidget)

GtkWidget *strata_topk_panel_new (StrataViewModel *model);

G_END_DECLS
