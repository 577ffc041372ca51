/* strata-probe-json.h: members of the JSON object written by `strata lens` and
 * `strata patch` (docs/probe-json.md). Each function adds members to an open object. */
#pragma once

#include <json-glib/json-glib.h>

#include "strata-analysis.h"

/* strata_version, command, model (identity), prompt_source. */
void strata_probe_json_header (JsonBuilder *b, const char *command, const StrataAnalysis *a);
/* settings, prompts[i] (lens grid when per_prompt_grid), aggregate. */
void strata_probe_json_lens (JsonBuilder *b, StrataModel *m, const StrataAnalysis *a,
                             gboolean per_prompt_grid);
/* settings, the single prompt's fields at the top level, prompts[i], aggregate, circuit. */
void strata_probe_json_patch (JsonBuilder *b, StrataModel *m, const StrataAnalysis *a,
                              const StrataPatchOptions *o, double elapsed_s);
