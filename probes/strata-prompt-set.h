/* strata-prompt-set.h: prompts and prompt sets (JSON Lines), resolved to exact token ids.
 *
 * One JSON object per line:
 *   {"prompt": "text" | "ids": [1, 2, ...] | ["#12", "<e_3>", ...],
 *    "corrupt": "text" | "corrupt_ids": [...],
 *    "targets": {"bridge": "<e_17>", "answer": "#3"},   // token text (exactly one token) or #ID
 *    "contrast": "<e_4>",                                // optional
 *    "positions": {"r1": 1, "r2": 2} | [1, 2],           // optional positions to read
 *    "tags": ["id"] | "ood"}                             // optional
 * Malformed lines are reported with the file name and line number. */
#pragma once

#include <glib.h>

#include "strata-model.h"

G_BEGIN_DECLS

typedef struct {
  char *name;    /* "bridge", or the token as written on the command line */
  int32_t id;
} StrataTarget;

typedef struct {
  char *name;    /* "r2", or the index as text when the set names none */
  int index;     /* position in the token sequence (BOS included) */
} StrataPosition;

typedef struct {
  char *text;           /* as given, NULL when given as ids */
  GArray *ids;          /* int32_t, BOS policy applied */
  GArray *corrupt_ids;  /* int32_t or NULL; same length as ids */
  GArray *targets;      /* StrataTarget */
  int32_t contrast;     /* -1 when none */
  GArray *positions;    /* StrataPosition; empty: every position */
  GStrv tags;           /* never NULL; "all" is implicit and not listed */
} StrataPrompt;

typedef struct {
  char *source;         /* file it came from, or "command line" */
  GPtrArray *prompts;   /* StrataPrompt */
} StrataPromptSet;

StrataPromptSet *strata_prompt_set_load (const char *path, StrataModel *model, GError **error);
/* A one-prompt set from the command line: text or ids, plus targets/contrast written as
 * token text or #ID. */
StrataPromptSet *strata_prompt_set_new_single (StrataModel *model, const char *text,
                                               const int32_t *ids, int n_ids,
                                               const char *corrupt_text,
                                               const char *const *targets, const char *contrast,
                                               GError **error);
void strata_prompt_set_free (StrataPromptSet *set);
/* A deep copy (strata_analysis_run takes the set it runs on). */
StrataPromptSet *strata_prompt_set_copy (const StrataPromptSet *set);
/* Element free function of StrataPromptSet.prompts (for code that builds sets). */
void strata_prompt_free (gpointer prompt);

/* The tags, targets and named positions of a set (NULL: none), in first-seen order (tags:
 * "all" first; positions: the first prompt's names, or indices when it names none). Tags and
 * targets are borrowed strings (free the array only); positions are owned by the array. */
GPtrArray *strata_prompt_set_list_tags (const StrataPromptSet *set);
GPtrArray *strata_prompt_set_list_targets (const StrataPromptSet *set);
GPtrArray *strata_prompt_set_list_positions (const StrataPromptSet *set);
/* The name under which aggregates read position index `pos` (the first prompt's name for it,
 * else the index as text); pos < 0: the last position of the first prompt. Newly allocated;
 * NULL without prompts. */
char *strata_prompt_set_position_name (const StrataPromptSet *set, int pos);
/* The index of a named position in the first prompt (or an index written as text when the
 * first prompt names none); -1 when none. */
int strata_prompt_set_position_index (const StrataPromptSet *set, const char *name);

/* Targets given on the command line (token text or #ID), added to every prompt of the set
 * under the name as written. */
gboolean strata_prompt_set_add_targets (StrataPromptSet *set, StrataModel *model, const char *const *targets,
                                        GError **error);
/* "#338" -> 338; "<e_17>" -> its id if it is exactly one token; else a TOKEN error naming
 * `what` (e.g. "target 'bridge'"). */
gboolean strata_resolve_token (StrataModel *model, const char *written, const char *what,
                               int32_t *id, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StrataPromptSet, strata_prompt_set_free)

G_END_DECLS
