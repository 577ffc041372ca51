/* strata-probe-json.h: members of the JSON object written by `strata lens` and
 * `strata patch` (docs/probe-json.md). Each function adds members to an open object. */
#pragma once

#include <json-glib/json-glib.h>

#include "strata-analysis-run.h"
#include "strata-series.h"

/* strata_version, command, model (identity), prompt_source. */
void strata_probe_json_header (JsonBuilder *b, const char *command, const StrataAnalysis *a);
/* The model object of the header (path, name, architecture, sha256s, sizes). */
void strata_probe_json_model (JsonBuilder *b, const StrataModelRef *model);
/* The value of `aggregate` of `strata lens` (StrataLensAggregate *) and of `strata patch`
 * (StrataPatchAggregate *): an object, after a member name. */
void strata_probe_json_lens_aggregates (JsonBuilder *b, GPtrArray *aggregates);
void strata_probe_json_patch_aggregates (JsonBuilder *b, GPtrArray *aggregates);
/* settings, prompts[i] (lens grid when per_prompt_grid; trace_resolution with `trace`, else
 * NULL), aggregate. */
void strata_probe_json_lens (JsonBuilder *b, StrataModel *m, const StrataAnalysis *a,
                             gboolean per_prompt_grid, const StrataTraceOptions *trace);
/* settings (with the method and the run's timing), the single prompt's fields at the top
 * level, prompts[i], aggregate, circuit, and the report's agreement with real patching. */
void strata_probe_json_patch (JsonBuilder *b, StrataModel *m, const StrataAnalysis *a,
                              const StrataPatchOptions *o, StrataPatchMethod method,
                              const StrataAnalysisReport *report);

/* The whole object `strata series` writes (docs/probe-json.md): version, command, prompt set,
 * settings, runs[r].checkpoints[c] with each done checkpoint's model, aggregate, accuracy and
 * patching aggregate. */
void strata_probe_json_series (JsonBuilder *b, const StrataSeries *series);
