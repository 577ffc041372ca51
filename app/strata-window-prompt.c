/* strata-window-prompt.c: what the prompt entry starts with for a model, and the warning
 * for text the model's tokenizer cannot represent.
 *
 * The default prompt rule (README, "The window"):
 *   1. a prompt set is loaded (Load prompt set, or `strata --prompts FILE`): the entry stays
 *      empty, its placeholder says the set is what Run reads;
 *   2. the vocabulary is made of <...> tokens (a WordLevel tokenizer of a synthetic task,
 *      such as the two-hop models' <e_17>, <r_3>): the first token of each family of
 *      <name_...> tokens, in vocabulary order, e.g. "<e_0><r_0>" -- an example of the token
 *      format built from the vocabulary, not a query taken from the training data;
 *   3. otherwise a short English sentence, the one the built-in stories260K continues. */
#include <string.h>

#include "strata-window-private.h"

#define ENGLISH_PROMPT "Once upon a time, there was a little"
#define MAX_FAMILIES 4
#define MAX_NAMED 6

static gboolean
is_angle_token (const char *piece)
{
  gsize n = piece ? strlen (piece) : 0;
  return n >= 3 && piece[0] == '<' && piece[n - 1] == '>' && !strchr (piece + 1, '<');
}

static gboolean
is_special (const StrataTokenizer *tok, int32_t id)
{
  return id == strata_tokenizer_get_bos (tok) || id == strata_tokenizer_get_eos (tok)
         || id == strata_tokenizer_get_unk (tok);
}

/* Rule 2, or NULL when the vocabulary holds anything but <...> tokens. */
static char *
angle_vocabulary_example (StrataTokenizer *tok)
{
  if (strata_tokenizer_get_kind (tok) != STRATA_TOKENIZER_WORD_LEVEL)
    return NULL;
  int V = strata_tokenizer_get_vocab_size (tok);
  g_autoptr (GString) prompt = g_string_new (NULL);
  g_autoptr (GPtrArray) families = g_ptr_array_new_with_free_func (g_free);
  for (int32_t id = 0; id < V; id++) {
    const char *piece = strata_tokenizer_get_piece (tok, id);
    if (!piece)
      continue;
    if (!is_angle_token (piece))
      return NULL;
    const char *us = strchr (piece, '_');
    if (is_special (tok, id) || !us)
      continue;
    g_autofree char *family = g_strndup (piece, (gsize) (us - piece));
    gboolean seen = FALSE;
    for (guint i = 0; i < families->len && !seen; i++)
      seen = strcmp (g_ptr_array_index (families, i), family) == 0;
    if (!seen && families->len < MAX_FAMILIES) {
      g_ptr_array_add (families, g_steal_pointer (&family));
      g_string_append (prompt, piece);
    }
  }
  return prompt->len > 0 ? g_strdup (prompt->str) : NULL;
}

char *
_strata_window_default_prompt (StrataModel *m)
{
  if (m && m->tokenizer) {
    char *example = angle_vocabulary_example (m->tokenizer);
    if (example)
      return example;
  }
  return g_strdup (ENGLISH_PROMPT);
}

/* Words to test one by one: split at white space, and before each '<' of a run of <...>
 * tokens, so "<e_1><x_9>" names "<x_9>" rather than the whole run. */
static GPtrArray *
candidate_words (const char *text)
{
  GPtrArray *words = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) parts = g_regex_split_simple ("\\s+", text, 0, 0);
  for (int i = 0; parts[i]; i++) {
    const char *w = parts[i];
    while (*w) {
      const char *end;
      if (*w == '<' && strchr (w, '>')) {
        end = strchr (w, '>') + 1;
      } else {
        end = strchr (w + 1, '<');
        if (!end)
          end = w + strlen (w);
      }
      g_ptr_array_add (words, g_strndup (w, (gsize) (end - w)));
      w = end;
    }
  }
  return words;
}

static gboolean
has_id (const GArray *ids, int32_t id)
{
  for (guint i = 0; ids && i < ids->len; i++)
    if (g_array_index (ids, int32_t, i) == id)
      return TRUE;
  return FALSE;
}

char *
_strata_window_unknown_words (StrataModel *m, const char *text)
{
  if (!m || !m->tokenizer || !text || !*text)
    return NULL;
  int32_t unk = strata_tokenizer_get_unk (m->tokenizer);
  if (unk < 0)
    return NULL;
  g_autoptr (GArray) ids = strata_tokenizer_encode (m->tokenizer, text, NULL);
  if (!has_id (ids, unk))
    return NULL;
  g_autoptr (GPtrArray) words = candidate_words (text);
  g_autoptr (GString) named = g_string_new (NULL);
  guint n_unknown = 0;
  for (guint i = 0; i < words->len; i++) {
    const char *w = g_ptr_array_index (words, i);
    g_autoptr (GArray) wids = strata_tokenizer_encode (m->tokenizer, w, NULL);
    if (!has_id (wids, unk))
      continue;
    if (n_unknown < MAX_NAMED)
      g_string_append_printf (named, "%s\xe2\x80\x9c%s\xe2\x80\x9d", n_unknown ? ", " : "", w);
    n_unknown++;
  }
  const char *unk_piece = strata_tokenizer_get_piece (m->tokenizer, unk);
  g_autofree char *example = _strata_window_default_prompt (m);
  g_autofree char *hint = strata_tokenizer_get_kind (m->tokenizer) == STRATA_TOKENIZER_WORD_LEVEL
                            ? g_strdup_printf (" Its vocabulary is whole tokens: write them, e.g. %s, or load a prompt set "
                                               "(Ctrl+P).", example)
                            : g_strdup ("");
  g_autofree char *more = n_unknown > MAX_NAMED ? g_strdup_printf (" and %u more", n_unknown - MAX_NAMED) : g_strdup ("");
  if (n_unknown == 0)
    return g_strdup_printf ("%s: part of the prompt is not in the vocabulary and becomes the unknown token "
                            "\xe2\x80\x9c%s\xe2\x80\x9d; the analysis reads that token in its place.",
                            m->name, unk_piece ? unk_piece : "?");
  return g_strdup_printf ("%s: the tokenizer maps %s%s to its unknown token \xe2\x80\x9c%s\xe2\x80\x9d; the analysis "
                          "reads that token in their place.%s",
                          m->name, named->str, more,
                          unk_piece ? unk_piece : "?", hint);
}

void
_strata_window_apply_default_prompt (StrataWindow *self)
{
  GtkEditable *entry = GTK_EDITABLE (self->prompt_entry);
  const char *text = gtk_editable_get_text (entry);
  /* Only text the window put there itself is replaced; what the person typed stays. */
  gboolean automatic = !*text || g_strcmp0 (text, self->auto_prompt) == 0;
  g_autofree char *example = _strata_window_default_prompt (self->model[0]);
  g_autofree char *tooltip = NULL;
  const char *fill = example;
  if (self->prompt_set_path) {
    g_autofree char *base = g_path_get_basename (self->prompt_set_path);
    g_autofree char *placeholder = g_strdup_printf ("Run reads the prompt set %s", base);
    gtk_entry_set_placeholder_text (GTK_ENTRY (self->prompt_entry), placeholder);
    tooltip = g_strdup_printf ("A prompt set is loaded (%s): Run analyses every prompt in it. Unload it (the button "
                               "beside its name) to analyse one typed prompt, e.g. %s", self->prompt_set_path, example);
    fill = "";
  } else {
    g_autofree char *placeholder = g_strdup_printf ("e.g. %s", example);
    gtk_entry_set_placeholder_text (GTK_ENTRY (self->prompt_entry), placeholder);
    tooltip = g_strdup_printf ("The text to analyse (Return runs the lens). An example for this model: %s", example);
  }
  gtk_widget_set_tooltip_text (self->prompt_entry, tooltip);
  if (automatic) {
    g_free (self->auto_prompt);
    self->auto_prompt = g_strdup (fill);
    gtk_editable_set_text (entry, fill);
  }
}
