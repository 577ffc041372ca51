/* strata-enum.c: lookups and lists over the name tables of strata-enum.h. */
#include "strata-enum.h"

#include <string.h>

const char *
strata_enum_to_string (const StrataEnumTable *t, int value)
{
  return value >= 0 && value < t->n ? t->values[value].name : "?";
}

const char *
strata_enum_get_label (const StrataEnumTable *t, int value)
{
  if (value < 0 || value >= t->n)
    return "?";
  return t->values[value].label ? t->values[value].label : t->values[value].name;
}

const char *
strata_enum_get_long_name (const StrataEnumTable *t, int value)
{
  if (value < 0 || value >= t->n || !t->values[value].long_name)
    return strata_enum_get_label (t, value);
  return t->values[value].long_name;
}

gboolean
strata_enum_from_string (const StrataEnumTable *t, const char *s, int *value)
{
  for (int i = 0; s && i < t->n; i++)
    if (strcmp (s, t->values[i].name) == 0) {
      *value = i;
      return TRUE;
    }
  return FALSE;
}

char *
strata_enum_join (const StrataEnumTable *t, const char *sep, const char *last_sep, int marked)
{
  GString *s = g_string_new (NULL);
  for (int i = 0; i < t->n; i++) {
    if (i > 0)
      g_string_append (s, i == t->n - 1 ? last_sep : sep);
    g_string_append (s, t->values[i].name);
    if (i == marked)
      g_string_append (s, " (default)");
  }
  return g_string_free (s, FALSE);
}
