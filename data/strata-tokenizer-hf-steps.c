/* strata-tokenizer-hf-steps.c: tokenizer.json normalizers and pre-tokenizers.
 *
 * Each step is HF tokenizers' own (tokenizers/src/normalizers, pre_tokenizers) redone on plain
 * UTF-8 strings:
 *  - a split is HF's find_matches (spans covering the string, each a match or not) followed
 *    by its SplitDelimiterBehavior; HF drops the empty pieces, and so do we;
 *  - regexes are PCRE2 through GRegex, with Oniguruma's meaning of \s (Unicode White_Space;
 *    PCRE2 adds U+180E), \h (a hex digit) and ^/$ (line anchors), and Oniguruma's rule for
 *    empty matches (none right where the previous match ended);
 *  - Unicode classes of Rust's char (is_whitespace, is_numeric, is_punctuation, to_lowercase)
 *    come from GLib's tables; NFC/NFD/NFKC/NFKD are g_utf8_normalize. HF's normalization
 *    and mark tables are Unicode 9.0 and its punctuation table 8.0: characters added later
 *    (strata-tokenizer-unicode.c) are left alone as HF leaves them.
 * HF tracks alignments to the original text; ids do not depend on them except in Metaspace's
 * prepend_scheme "first", which asks whether a piece starts the input. A piece is taken to
 * start it when it begins at byte 0 of the first stretch of text (exact unless a normalizer
 * inserted text that a later split cuts off). */
#include "strata-tokenizer-hf-private.h"

#include <string.h>

gboolean
_strata_hf_unsupported (StrataTokenizer *tok, const char *what, const char *type, GError **error)
{
  FAIL (STRATA_DATA_ERROR_UNSUPPORTED, "%s: %s '%s' is not supported", tok->source, what, type);
}

/* ---- Unicode classes, as Rust's char methods define them ------------------------------- */

gboolean
_strata_unichar_is_white_space (gunichar c)
{
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

/* char::is_numeric: Nd, Nl, No. */
static gboolean
is_numeric (gunichar c, gpointer unused)
{
  GUnicodeType t = g_unichar_type (c);
  gboolean n = t == G_UNICODE_DECIMAL_NUMBER || t == G_UNICODE_LETTER_NUMBER ||
               t == G_UNICODE_OTHER_NUMBER;
  return n != _strata_hf_numeric_differs (c);
}

/* HF's is_punc: ASCII punctuation (symbols such as $+<=>^`|~ included) or a P* category
 * of Unicode 8.0. */
static gboolean
is_punc (gunichar c, gpointer unused)
{
  if (c < 0x80)
    return g_ascii_ispunct ((char) c);
  gboolean p;
  switch (g_unichar_type (c)) {
  case G_UNICODE_CONNECT_PUNCTUATION:
  case G_UNICODE_DASH_PUNCTUATION:
  case G_UNICODE_CLOSE_PUNCTUATION:
  case G_UNICODE_FINAL_PUNCTUATION:
  case G_UNICODE_INITIAL_PUNCTUATION:
  case G_UNICODE_OTHER_PUNCTUATION:
  case G_UNICODE_OPEN_PUNCTUATION:
    p = TRUE;
    break;
  default:
    p = FALSE;
  }
  return p != _strata_hf_punct_differs (c);
}

static gboolean
is_white (gunichar c, gpointer unused)
{
  return _strata_unichar_is_white_space (c);
}

static gboolean
is_char (gunichar c, gpointer ch)
{
  return c == GPOINTER_TO_UINT (ch);
}

/* The Rust regex crate's \w: Alphabetic, marks, Nd, Pc, joiners. Alphabetic is the letters,
 * Nl and Other_Alphabetic, whose members outside the marks are the circled letters. */
gboolean
_strata_unichar_is_word (gunichar c)
{
  gboolean w;
  switch (g_unichar_type (c)) {
  case G_UNICODE_LOWERCASE_LETTER:
  case G_UNICODE_MODIFIER_LETTER:
  case G_UNICODE_OTHER_LETTER:
  case G_UNICODE_TITLECASE_LETTER:
  case G_UNICODE_UPPERCASE_LETTER:
  case G_UNICODE_LETTER_NUMBER:
  case G_UNICODE_SPACING_MARK:
  case G_UNICODE_ENCLOSING_MARK:
  case G_UNICODE_NON_SPACING_MARK:
  case G_UNICODE_DECIMAL_NUMBER:
  case G_UNICODE_CONNECT_PUNCTUATION:
    w = TRUE;
    break;
  default:
    w = c == 0x200C || c == 0x200D || (c >= 0x24B6 && c <= 0x24E9) ||
        (c >= 0x1F130 && c <= 0x1F149) || (c >= 0x1F150 && c <= 0x1F169) ||
        (c >= 0x1F170 && c <= 0x1F189);
  }
  return w != _strata_hf_word_differs (c);
}

/* ---- regexes ----------------------------------------------------------------------------- */

/* Oniguruma's \w: Alphabetic (letters, Nl, the circled letters), marks, Nd, Pc. PCRE2's
 * (10.42) is letters, numbers and '_'. */
#define ONIG_WORD                                                                             \
  "\\p{L}\\p{Nl}\\p{M}\\p{Nd}\\p{Pc}\\x{24B6}-\\x{24E9}\\x{1F130}-\\x{1F149}\\x{1F150}-\\x{1F169}"   \
  "\\x{1F170}-\\x{1F189}"

/* Appends a class body (inside [...]) or, outside a class, the whole bracket. */
static void
append_class (GString *s, int depth, gboolean neg, const char *body, const char *extra)
{
  g_string_append (s, depth ? "" : neg ? "[^" : "[");
  g_string_append (s, body);
  if (extra != NULL)
    g_string_append (s, extra);
  g_string_append (s, depth ? "" : "]");
}

/* Oniguruma's (Ruby syntax) escapes that PCRE2 reads otherwise, rewritten. Inside a class the
 * replacement is the bare list; \S and \H inside a class have no such list and stay (they
 * differ from Oniguruma only on U+180E and on what \H means). \w and \d become Oniguruma's
 * classes; they and \p{..} general categories get the characters Oniguruma's Unicode 16.0
 * has and PCRE2's 14.0 lacks (a negated one inside a class cannot, and stays). */
static char *
onig_to_pcre (const char *p)
{
  GString *s = g_string_new (NULL);
  int depth = 0; /* inside [...]: PCRE2 does not nest classes, so depth is 0 or 1 */
  while (*p != '\0') {
    if (p[0] == '\\' && p[1] != '\0') {
      if (p[1] == 'Q') { /* \Q...\E: literal, copied as is */
        const char *e = strstr (p + 2, "\\E");
        gsize n = e != NULL ? (gsize) (e + 2 - p) : strlen (p);
        g_string_append_len (s, p, n);
        p += n;
        continue;
      }
      if ((p[1] == 'p' || p[1] == 'P') && p[2] != '\0') {
        /* \p{X} \pX \P{X} \p{^X}: Oniguruma's class is PCRE2's plus newer characters */
        const char *name = p + 2, *close = NULL;
        gsize n = 1;
        if (*name == '{' && (close = strchr (name, '}')) != NULL) {
          name++;
          n = close - name;
        }
        gboolean neg = p[1] == 'P';
        if (n > 0 && *name == '^') {
          neg = !neg;
          name++;
          n--;
        }
        const char *extra = _strata_hf_onig_class (name, n);
        gsize whole = close != NULL ? (gsize) (close + 1 - p) : 3;
        if (extra != NULL && (depth == 0 || !neg)) {
          g_autofree char *cls = g_strdup_printf ("\\p{%.*s}", (int) n, name);
          append_class (s, depth, neg, cls, extra);
        } else {
          g_string_append_len (s, p, whole); /* a negated class inside [...]: as PCRE2 has it */
        }
        p += whole;
        continue;
      }
      if (p[1] == 'w' || p[1] == 'd' || ((p[1] == 'W' || p[1] == 'D') && depth == 0)) {
        gboolean word = p[1] == 'w' || p[1] == 'W';
        /* Oniguruma's \w inside a class lacks a few Latin-1 numbers it has outside */
        const char *extra = !word     ? _strata_hf_onig_class ("Nd", 2)
                            : depth ? _strata_hf_onig_class ("w-in-class", 10)
                                    : _strata_hf_onig_class ("w", 1);
        append_class (s, depth, p[1] == 'W' || p[1] == 'D', word ? ONIG_WORD : "\\p{Nd}",
                      extra);
        p += 2;
        continue;
      }
      const char *rep = NULL;
      switch (p[1]) {
      case 's':
        rep = depth ? STRATA_UNICODE_WS : "[" STRATA_UNICODE_WS "]";
        break;
      case 'S':
        rep = depth ? NULL : "[^" STRATA_UNICODE_WS "]";
        break;
      case 'h':
        rep = depth ? "0-9a-fA-F" : "[0-9a-fA-F]";
        break;
      case 'H':
        rep = depth ? NULL : "[^0-9a-fA-F]";
        break;
      }
      if (rep != NULL)
        g_string_append (s, rep);
      else
        g_string_append_len (s, p, 2);
      p += 2;
      continue;
    }
    if (p[0] == '[' && depth == 0) {
      depth = 1;
      g_string_append_c (s, *p++);
      if (*p == '^')
        g_string_append_c (s, *p++);
      if (*p == ']') /* a ']' first in a class is a literal */
        g_string_append_c (s, *p++);
      continue;
    }
    if (p[0] == '[' && p[1] == ':' && depth) { /* [:alpha:] inside a class */
      const char *e = strstr (p + 2, ":]");
      if (e != NULL) {
        g_string_append_len (s, p, e + 2 - p);
        p = e + 2;
        continue;
      }
    }
    if (p[0] == ']' && depth)
      depth = 0;
    g_string_append_c (s, *p++);
  }
  return g_string_free (s, FALSE);
}

GRegex *
_strata_hf_regex_new (const char *pattern, gboolean literal, GError **error)
{
  g_autofree char *escaped = literal ? g_regex_escape_string (pattern, -1) : NULL;
  g_autofree char *pcre = onig_to_pcre (literal ? escaped : pattern);
  return g_regex_new (pcre, G_REGEX_OPTIMIZE | G_REGEX_MULTILINE | G_REGEX_NEWLINE_LF, 0, error);
}

gboolean
_strata_hf_regex_spans (GRegex *re, const char *s, gsize len, GArray *spans, GError **error)
{
  GError *local = NULL;
  g_autoptr (GMatchInfo) info = NULL;
  gboolean have_prev = FALSE;
  gsize prev_end = 0;
  g_regex_match_full (re, s, (gssize) len, 0, 0, &info, &local);
  while (local == NULL && g_match_info_matches (info)) {
    gint start, end;
    g_match_info_fetch_pos (info, 0, &start, &end);
    /* Oniguruma's iterator refuses an empty match where the last match ended; GLib then
     * moves on by one character, as Oniguruma does. */
    if (!(start == end && have_prev && (gsize) end == prev_end)) {
      gsize pair[2] = { (gsize) start, (gsize) end };
      g_array_append_vals (spans, pair, 2);
      have_prev = TRUE;
      prev_end = (gsize) end;
    }
    g_match_info_next (info, &local);
  }
  if (local != NULL) {
    g_propagate_prefixed_error (error, local, "regex: ");
    return FALSE;
  }
  return TRUE;
}

/* ---- splitting --------------------------------------------------------------------------- */

typedef struct {
  gsize start, end;
  gboolean match;
} Span;

/* HF find_matches for a regex: the matches and the stretches between them, in order. */
static gboolean
regex_find (GRegex *re, const char *s, gsize len, GArray *out, GError **error)
{
  if (len == 0) {
    Span e = { 0, 0, FALSE };
    g_array_append_val (out, e);
    return TRUE;
  }
  g_autoptr (GArray) m = g_array_new (FALSE, FALSE, sizeof (gsize));
  if (!_strata_hf_regex_spans (re, s, len, m, error))
    return FALSE;
  gsize prev = 0;
  for (guint i = 0; i + 1 < m->len; i += 2) {
    gsize a = g_array_index (m, gsize, i), b = g_array_index (m, gsize, i + 1);
    if (prev != a) {
      Span gap = { prev, a, FALSE };
      g_array_append_val (out, gap);
    }
    Span hit = { a, b, TRUE };
    g_array_append_val (out, hit);
    prev = b;
  }
  if (prev != len) {
    Span tail = { prev, len, FALSE };
    g_array_append_val (out, tail);
  }
  return TRUE;
}

typedef gboolean (*CharPred) (gunichar c, gpointer data);

/* HF find_matches for a character predicate: every matching character is a match. */
static void
char_find (const char *s, gsize len, CharPred pred, gpointer data, GArray *out)
{
  if (len == 0) {
    Span e = { 0, 0, FALSE };
    g_array_append_val (out, e);
    return;
  }
  gsize last = 0;
  for (const char *p = s; p < s + len; p = g_utf8_next_char (p)) {
    gsize b = p - s, n = g_utf8_next_char (p) - p;
    if (pred (g_utf8_get_char (p), data)) {
      if (last < b) {
        Span gap = { last, b, FALSE };
        g_array_append_val (out, gap);
      }
      Span hit = { b, b + n, TRUE };
      g_array_append_val (out, hit);
      last = b + n;
    }
  }
  if (len > last) {
    Span tail = { last, len, FALSE };
    g_array_append_val (out, tail);
  }
}

/* NormalizedString::split: the spans turned into the pieces kept, by `behavior`. Each kept
 * span is appended to `keep` as a Span (its `match` unused). */
static void
apply_behavior (GArray *spans, StrataSplitBehavior behavior, GArray *keep)
{
  Span *sp = (Span *) spans->data;
  guint n = spans->len;
  gboolean prev = FALSE;
  switch (behavior) {
  case STRATA_SPLIT_ISOLATED:
    g_array_append_vals (keep, sp, n);
    return;
  case STRATA_SPLIT_REMOVED:
    for (guint i = 0; i < n; i++)
      if (!sp[i].match)
        g_array_append_val (keep, sp[i]);
    return;
  case STRATA_SPLIT_CONTIGUOUS:
    for (guint i = 0; i < n; i++) {
      if (sp[i].match == prev && keep->len > 0)
        g_array_index (keep, Span, keep->len - 1).end = sp[i].end;
      else
        g_array_append_val (keep, sp[i]);
      prev = sp[i].match;
    }
    return;
  case STRATA_SPLIT_MERGED_WITH_PREVIOUS:
    for (guint i = 0; i < n; i++) {
      if (sp[i].match && !prev && keep->len > 0)
        g_array_index (keep, Span, keep->len - 1).end = sp[i].end;
      else
        g_array_append_val (keep, sp[i]);
      prev = sp[i].match;
    }
    return;
  case STRATA_SPLIT_MERGED_WITH_NEXT: {
    /* HF folds from the end: a match joins the piece after it */
    guint first = keep->len;
    for (guint i = n; i-- > 0;) {
      if (sp[i].match && !prev && keep->len > first)
        g_array_index (keep, Span, keep->len - 1).start = sp[i].start;
      else
        g_array_append_val (keep, sp[i]);
      prev = sp[i].match;
    }
    for (guint a = first, b = keep->len - 1; keep->len > first && a < b; a++, b--) {
      Span t = g_array_index (keep, Span, a);
      g_array_index (keep, Span, a) = g_array_index (keep, Span, b);
      g_array_index (keep, Span, b) = t;
    }
    return;
  }
  }
}

/* ---- normalizers ------------------------------------------------------------------------- */

static gboolean
read_pattern (StrataTokenizer *tok, JsonObject *o, const char *what, GRegex **out,
              GError **error)
{
  JsonObject *pat = _strata_json_object (o, "pattern");
  const char *str = _strata_json_string (pat, "String");
  const char *re = _strata_json_string (pat, "Regex");
  if (str == NULL && re == NULL)
    FAIL (STRATA_DATA_ERROR_FORMAT, "%s: %s needs a pattern {\"String\": ...} or {\"Regex\": ...}",
          tok->source, what);
  g_autoptr (GError) local = NULL;
  *out = _strata_hf_regex_new (str != NULL ? str : re, str != NULL, &local);
  if (*out == NULL)
    FAIL (STRATA_DATA_ERROR_UNSUPPORTED, "%s: %s pattern '%s' does not compile: %s",
          tok->source, what, str != NULL ? str : re, local->message);
  return TRUE;
}

gboolean
_strata_hf_read_replace (StrataTokenizer *tok, JsonObject *o, const char *what, GRegex **regex,
                         char **content, GError **error)
{
  const char *c = _strata_json_string (o, "content");
  if (c == NULL)
    FAIL (STRATA_DATA_ERROR_FORMAT, "%s: %s needs a \"content\"", tok->source, what);
  if (!read_pattern (tok, o, what, regex, error))
    return FALSE;
  *content = g_strdup (c);
  return TRUE;
}

static gboolean
read_norm (StrataTokenizer *tok, JsonObject *o, const char *type, GError **error)
{
  static const struct {
    const char *name;
    StrataNormKind kind;
  } plain[] = {
    { "NFC", STRATA_NORM_NFC },
    { "NFD", STRATA_NORM_NFD },
    { "NFKC", STRATA_NORM_NFKC },
    { "NFKD", STRATA_NORM_NFKD },
    { "Lowercase", STRATA_NORM_LOWERCASE },
    { "StripAccents", STRATA_NORM_STRIP_ACCENTS },
    { "Nmt", STRATA_NORM_NMT },
    { "ByteLevel", STRATA_NORM_BYTE_LEVEL },
  };
  StrataNormalizer n = { 0 };
  for (guint i = 0; i < G_N_ELEMENTS (plain); i++) {
    if (strcmp (type, plain[i].name) == 0) {
      n.kind = plain[i].kind;
      g_array_append_val (tok->hf->normalizers, n);
      return TRUE;
    }
  }
  if (strcmp (type, "Replace") == 0) {
    n.kind = STRATA_NORM_REPLACE;
    if (!_strata_hf_read_replace (tok, o, "normalizer Replace", &n.regex, &n.content, error))
      return FALSE;
  } else if (strcmp (type, "Prepend") == 0) {
    const char *prepend = _strata_json_string (o, "prepend");
    if (prepend == NULL)
      FAIL (STRATA_DATA_ERROR_FORMAT, "%s: normalizer Prepend needs a \"prepend\"", tok->source);
    n.kind = STRATA_NORM_PREPEND;
    n.content = g_strdup (prepend);
  } else if (strcmp (type, "Strip") == 0) {
    n.kind = STRATA_NORM_STRIP;
    n.left = _strata_json_bool (o, "strip_left", TRUE);
    n.right = _strata_json_bool (o, "strip_right", TRUE);
  } else {
    return _strata_hf_unsupported (tok, "normalizer", type, error);
  }
  g_array_append_val (tok->hf->normalizers, n);
  return TRUE;
}

const StrataHfSteps _strata_hf_normalizers = { "normalizer", "normalizers", "normalizers",
                                               read_norm };

/* Rust's char::to_lowercase: the simple mapping, except U+0130 that lowercases to two
 * characters (the only unconditional multi-character lowercase mapping). GLib maps only
 * letters; the Roman numerals (Nl) and circled letters (So) have lowercase forms too. */
static void
lowercase (GString *s)
{
  GString *out = g_string_sized_new (s->len);
  for (const char *p = s->str; p < s->str + s->len; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    const char *other = _strata_hf_lower_differs (c); /* characters newer than GLib's */
    if (other != NULL)
      g_string_append (out, other);
    else if (c == 0x130)
      g_string_append (out, "i\xcc\x87");
    else if (c >= 0x2160 && c <= 0x216F)
      g_string_append_unichar (out, c + 0x10);
    else if (c >= 0x24B6 && c <= 0x24CF)
      g_string_append_unichar (out, c + 0x1A);
    else
      g_string_append_unichar (out, g_unichar_tolower (c));
  }
  g_string_assign (s, out->str);
  g_string_free (out, TRUE);
}

gboolean
_strata_hf_replace (GRegex *re, const char *content, GString *s, GError **error)
{
  g_autoptr (GArray) m = g_array_new (FALSE, FALSE, sizeof (gsize));
  if (s->len == 0 || !_strata_hf_regex_spans (re, s->str, s->len, m, error))
    return s->len == 0;
  if (m->len == 0)
    return TRUE;
  GString *out = g_string_sized_new (s->len);
  gsize prev = 0;
  for (guint i = 0; i + 1 < m->len; i += 2) {
    gsize a = g_array_index (m, gsize, i), b = g_array_index (m, gsize, i + 1);
    g_string_append_len (out, s->str + prev, a - prev);
    g_string_append (out, content);
    prev = b;
  }
  g_string_append_len (out, s->str + prev, s->len - prev);
  g_string_assign (s, out->str);
  g_string_free (out, TRUE);
  return TRUE;
}

static void
strip (GString *s, gboolean left, gboolean right)
{
  const char *start = s->str, *end = s->str + s->len;
  while (left && start < end && _strata_unichar_is_white_space (g_utf8_get_char (start)))
    start = g_utf8_next_char (start);
  while (right && end > start) {
    const char *prev = g_utf8_prev_char (end);
    if (!_strata_unichar_is_white_space (g_utf8_get_char (prev)))
      break;
    end = prev;
  }
  g_string_truncate (s, end - s->str);
  g_string_erase (s, 0, start - s->str);
}

/* Keeps the characters `keep` accepts, mapped by `map` (NULL: as they are). */
static void
filter_map (GString *s, gboolean (*keep) (gunichar), gunichar (*map) (gunichar))
{
  GString *out = g_string_sized_new (s->len);
  for (const char *p = s->str; p < s->str + s->len; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    if (keep (c))
      g_string_append_unichar (out, map != NULL ? map (c) : c);
  }
  g_string_assign (s, out->str);
  g_string_free (out, TRUE);
}

/* StripAccents keeps what is not a combining mark of Unicode 9.0. */
static gboolean
not_mark (gunichar c)
{
  return !_strata_hf_is_mark (c);
}

/* Nmt: drop ASCII controls, read other spaces as ' ' (tokenizers' do_nmt). */
static gboolean
nmt_keep (gunichar c)
{
  return !((c >= 0x01 && c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
           c == 0x8F || c == 0x9F);
}

static gunichar
nmt_map (gunichar c)
{
  switch (c) {
  case 0x09:
  case 0x0A:
  case 0x0C:
  case 0x0D:
  case 0x1680:
  case 0x2028:
  case 0x2029:
  case 0x2581:
  case 0xFEFF:
  case 0xFFFD:
    return ' ';
  default:
    return c >= 0x200B && c <= 0x200F ? ' ' : c;
  }
}

static void
byte_level (GString *s)
{
  GString *out = g_string_sized_new (s->len * 2);
  for (gsize i = 0; i < s->len; i++)
    g_string_append (out, _strata_gpt2_byte_char ((guint8) s->str[i]));
  g_string_assign (s, out->str);
  g_string_free (out, TRUE);
}

/* g_utf8_normalize, with each character newer than HF's tables kept as an inert starter:
 * nothing decomposes it, reorders across it or composes with it, so the stretches between
 * such characters normalize on their own. */
static void
unicode_normalize (GString *s, GNormalizeMode mode)
{
  GString *out = g_string_sized_new (s->len);
  gsize start = 0, i = 0;
  while (start < s->len) {
    while (i < s->len && !_strata_hf_norm_unknown (g_utf8_get_char (s->str + i)))
      i = g_utf8_next_char (s->str + i) - s->str;
    if (i > start) {
      g_autofree char *n = g_utf8_normalize (s->str + start, i - start, mode);
      if (n != NULL) /* NULL only for invalid UTF-8, which never gets here */
        g_string_append (out, n);
    }
    if (i < s->len) { /* the inert character itself */
      gsize next = g_utf8_next_char (s->str + i) - s->str;
      g_string_append_len (out, s->str + i, next - i);
      i = next;
    }
    start = i;
  }
  g_string_assign (s, out->str);
  g_string_free (out, TRUE);
}

gboolean
_strata_hf_normalize (StrataHf *hf, GString *s, GError **error)
{
  for (guint i = 0; i < hf->normalizers->len; i++) {
    const StrataNormalizer *n = &g_array_index (hf->normalizers, StrataNormalizer, i);
    switch (n->kind) {
    case STRATA_NORM_NFC:
      unicode_normalize (s, G_NORMALIZE_NFC);
      break;
    case STRATA_NORM_NFD:
      unicode_normalize (s, G_NORMALIZE_NFD);
      break;
    case STRATA_NORM_NFKC:
      unicode_normalize (s, G_NORMALIZE_NFKC);
      break;
    case STRATA_NORM_NFKD:
      unicode_normalize (s, G_NORMALIZE_NFKD);
      break;
    case STRATA_NORM_LOWERCASE:
      lowercase (s);
      break;
    case STRATA_NORM_REPLACE:
      if (!_strata_hf_replace (n->regex, n->content, s, error))
        return FALSE;
      break;
    case STRATA_NORM_PREPEND:
      if (s->len > 0)
        g_string_prepend (s, n->content);
      break;
    case STRATA_NORM_STRIP:
      strip (s, n->left, n->right);
      break;
    case STRATA_NORM_STRIP_ACCENTS:
      filter_map (s, not_mark, NULL);
      break;
    case STRATA_NORM_NMT:
      filter_map (s, nmt_keep, nmt_map);
      break;
    case STRATA_NORM_BYTE_LEVEL:
      byte_level (s);
      break;
    }
  }
  return TRUE;
}

/* ---- pre-tokenizers ---------------------------------------------------------------------- */

static gboolean
read_behavior (StrataTokenizer *tok, JsonObject *o, const char *what, gboolean required,
               StrataSplitBehavior *out, GError **error)
{
  static const char *const names[] = {
    [STRATA_SPLIT_REMOVED] = "Removed",
    [STRATA_SPLIT_ISOLATED] = "Isolated",
    [STRATA_SPLIT_MERGED_WITH_PREVIOUS] = "MergedWithPrevious",
    [STRATA_SPLIT_MERGED_WITH_NEXT] = "MergedWithNext",
    [STRATA_SPLIT_CONTIGUOUS] = "Contiguous",
  };
  const char *b = _strata_json_string (o, "behavior");
  if (b == NULL && !required)
    return TRUE;
  for (guint i = 0; b != NULL && i < G_N_ELEMENTS (names); i++) {
    if (strcmp (b, names[i]) == 0) {
      *out = (StrataSplitBehavior) i;
      return TRUE;
    }
  }
  FAIL (STRATA_DATA_ERROR_FORMAT, "%s: %s behavior '%s' is not one of Removed, Isolated, "
        "MergedWithPrevious, MergedWithNext, Contiguous", tok->source, what,
        b != NULL ? b : "(none)");
}

static gboolean
read_prepend_scheme (StrataTokenizer *tok, JsonObject *o, StrataPrepend *out, GError **error)
{
  const char *scheme = _strata_json_string (o, "prepend_scheme");
  JsonNode *legacy = json_object_get_member (o, "add_prefix_space");
  *out = STRATA_PREPEND_ALWAYS;
  if (scheme != NULL) {
    if (strcmp (scheme, "always") == 0)
      *out = STRATA_PREPEND_ALWAYS;
    else if (strcmp (scheme, "first") == 0)
      *out = STRATA_PREPEND_FIRST;
    else if (strcmp (scheme, "never") == 0)
      *out = STRATA_PREPEND_NEVER;
    else
      FAIL (STRATA_DATA_ERROR_FORMAT, "%s: Metaspace prepend_scheme '%s' is not one of "
            "always, first, never", tok->source, scheme);
  }
  /* older files: add_prefix_space false means never, and must not contradict the scheme */
  if (legacy != NULL && !_strata_json_bool (o, "add_prefix_space", TRUE)) {
    if (*out != STRATA_PREPEND_NEVER && scheme != NULL)
      FAIL (STRATA_DATA_ERROR_FORMAT, "%s: Metaspace add_prefix_space does not match "
            "prepend_scheme '%s'", tok->source, scheme);
    *out = STRATA_PREPEND_NEVER;
  }
  return TRUE;
}

static gboolean
read_pre (StrataTokenizer *tok, JsonObject *o, const char *type, GError **error)
{
  StrataPreStep p = { 0 };
  if (strcmp (type, "Split") == 0) {
    p.kind = STRATA_PRE_SPLIT;
    p.invert = _strata_json_bool (o, "invert", FALSE);
    if (!read_behavior (tok, o, "pre_tokenizer Split", TRUE, &p.behavior, error) ||
        !read_pattern (tok, o, "pre_tokenizer Split", &p.regex, error))
      return FALSE;
  } else if (strcmp (type, "ByteLevel") == 0) {
    return _strata_hf_add_byte_level (tok, _strata_json_bool (o, "add_prefix_space", TRUE),
                                      _strata_json_bool (o, "use_regex", TRUE), error);
  } else if (strcmp (type, "Metaspace") == 0) {
    p.kind = STRATA_PRE_METASPACE;
    p.split = _strata_json_bool (o, "split", TRUE);
    if (!_strata_hf_read_char (tok, o, "replacement", "pre_tokenizer Metaspace", &p.ch,
                               error) ||
        !read_prepend_scheme (tok, o, &p.prepend, error))
      return FALSE;
  } else if (strcmp (type, "Digits") == 0) {
    p.kind = STRATA_PRE_DIGITS;
    p.behavior = _strata_json_bool (o, "individual_digits", FALSE) ? STRATA_SPLIT_ISOLATED
                                                                   : STRATA_SPLIT_CONTIGUOUS;
  } else if (strcmp (type, "Punctuation") == 0) {
    p.kind = STRATA_PRE_PUNCTUATION;
    p.behavior = STRATA_SPLIT_ISOLATED;
    if (!read_behavior (tok, o, "pre_tokenizer Punctuation", FALSE, &p.behavior, error))
      return FALSE;
  } else if (strcmp (type, "Whitespace") == 0) {
    p.kind = STRATA_PRE_WHITESPACE;
  } else if (strcmp (type, "WhitespaceSplit") == 0) {
    p.kind = STRATA_PRE_WHITESPACE_SPLIT;
  } else if (strcmp (type, "BertPreTokenizer") == 0) {
    /* split on whitespace (removed), then on punctuation (isolated) */
    p.kind = STRATA_PRE_WHITESPACE_SPLIT;
    g_array_append_val (tok->hf->pre, p);
    p.kind = STRATA_PRE_PUNCTUATION;
    p.behavior = STRATA_SPLIT_ISOLATED;
  } else if (strcmp (type, "CharDelimiterSplit") == 0) {
    p.kind = STRATA_PRE_CHAR_DELIMITER;
    if (!_strata_hf_read_char (tok, o, "delimiter", "pre_tokenizer CharDelimiterSplit", &p.ch,
                               error))
      return FALSE;
  } else {
    return _strata_hf_unsupported (tok, "pre_tokenizer", type, error);
  }
  g_array_append_val (tok->hf->pre, p);
  return TRUE;
}

gboolean
_strata_hf_add_byte_level (StrataTokenizer *tok, gboolean add_prefix_space, gboolean use_regex,
                           GError **error)
{
  StrataPreStep p = { .kind = STRATA_PRE_BYTE_LEVEL, .add_prefix_space = add_prefix_space };
  /* tokenizers' ByteLevel regex (GPT-2's), read as Oniguruma reads it */
  if (use_regex &&
      (p.regex = _strata_hf_regex_new ("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+|"
                                       " ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
                                       FALSE, error)) == NULL)
    return FALSE;
  g_array_append_val (tok->hf->pre, p);
  tok->byte_level = TRUE;
  return TRUE;
}

const StrataHfSteps _strata_hf_pre_tokenizers = { "pre_tokenizer", "pretokenizers",
                                                  "pre-tokenizers", read_pre };

/* Adds the kept spans of a piece (at `base` in the arena) as pieces. */
static void
push_spans (GArray *next, const StrataPiece *piece, gsize base, GArray *keep)
{
  for (guint i = 0; i < keep->len; i++) {
    const Span *k = &g_array_index (keep, Span, i);
    if (k->end > k->start) {
      StrataPiece p = { base + k->start, k->end - k->start, piece->first && k->start == 0 };
      g_array_append_val (next, p);
    }
  }
}

/* Whitespace: runs of \w and runs of [^\w\s] are the matches, kept (Invert + Removed). */
static void
whitespace_spans (const char *s, gsize len, GArray *keep)
{
  int run = 0; /* 0 none, 1 word, 2 other */
  for (const char *p = s; p < s + len; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    int kind = _strata_unichar_is_word (c) ? 1 : _strata_unichar_is_white_space (c) ? 0 : 2;
    gsize b = p - s, e = g_utf8_next_char (p) - s;
    if (kind != 0 && kind == run) {
      g_array_index (keep, Span, keep->len - 1).end = e;
    } else if (kind != 0) {
      Span sp = { b, e, TRUE };
      g_array_append_val (keep, sp);
    }
    run = kind;
  }
}

/* Metaspace on one piece: ' ' -> the replacement, then the prepend scheme (nothing is
 * prepended to a piece that now starts with the replacement), then the split. */
static void
metaspace (const StrataPreStep *st, StrataPieces *pc, const StrataPiece *piece, GArray *next)
{
  char rep[8];
  int n = g_unichar_to_utf8 (st->ch, rep);
  g_autoptr (GString) t = g_string_sized_new (piece->len + n);
  for (gsize i = 0; i < piece->len; i++) {
    char c = pc->arena->str[piece->off + i];
    if (c == ' ')
      g_string_append_len (t, rep, n);
    else
      g_string_append_c (t, c);
  }
  gsize base = pc->arena->len;
  gboolean prepend = st->prepend == STRATA_PREPEND_ALWAYS ||
                     (st->prepend == STRATA_PREPEND_FIRST && piece->first);
  if (prepend && g_utf8_get_char (t->str) != st->ch)
    g_string_append_len (pc->arena, rep, n);
  g_string_append_len (pc->arena, t->str, t->len);
  StrataPiece whole = { base, pc->arena->len - base, piece->first };
  if (!st->split) {
    g_array_append_val (next, whole);
    return;
  }
  g_autoptr (GArray) spans = g_array_new (FALSE, FALSE, sizeof (Span));
  g_autoptr (GArray) keep = g_array_new (FALSE, FALSE, sizeof (Span));
  char_find (pc->arena->str + base, whole.len, is_char, GUINT_TO_POINTER (st->ch), spans);
  apply_behavior (spans, STRATA_SPLIT_MERGED_WITH_NEXT, keep);
  push_spans (next, &whole, base, keep);
}

/* ByteLevel on one piece: the prefix space, the GPT-2 split, then bytes -> characters. */
static gboolean
byte_level_piece (const StrataPreStep *st, StrataPieces *pc, const StrataPiece *piece,
                  GArray *next, GError **error)
{
  StrataPiece src = *piece;
  if (st->add_prefix_space && pc->arena->str[piece->off] != ' ') {
    g_autofree char *copy = g_strndup (pc->arena->str + piece->off, piece->len);
    src.off = pc->arena->len;
    g_string_append_c (pc->arena, ' ');
    g_string_append_len (pc->arena, copy, piece->len);
    src.len = piece->len + 1;
  }
  g_autoptr (GArray) spans = g_array_new (FALSE, FALSE, sizeof (Span));
  if (st->regex != NULL) {
    if (!regex_find (st->regex, pc->arena->str + src.off, src.len, spans, error))
      return FALSE;
  } else {
    Span all = { 0, src.len, FALSE };
    g_array_append_val (spans, all);
  }
  for (guint i = 0; i < spans->len; i++) {
    const Span *s = &g_array_index (spans, Span, i);
    if (s->end == s->start)
      continue;
    StrataPiece p = { pc->arena->len, 0, src.first && s->start == 0 };
    for (gsize b = s->start; b < s->end; b++) {
      guint8 byte = (guint8) pc->arena->str[src.off + b]; /* read before the arena grows */
      g_string_append (pc->arena, _strata_gpt2_byte_char (byte));
    }
    p.len = pc->arena->len - p.off;
    g_array_append_val (next, p);
  }
  return TRUE;
}

static gboolean
pre_step (const StrataPreStep *st, StrataPieces *pc, const StrataPiece *piece, GArray *next,
          GError **error)
{
  g_autoptr (GArray) spans = g_array_new (FALSE, FALSE, sizeof (Span));
  g_autoptr (GArray) keep = g_array_new (FALSE, FALSE, sizeof (Span));
  const char *s = pc->arena->str + piece->off;
  StrataSplitBehavior behavior = st->behavior;
  switch (st->kind) {
  case STRATA_PRE_BYTE_LEVEL:
    return byte_level_piece (st, pc, piece, next, error);
  case STRATA_PRE_METASPACE:
    metaspace (st, pc, piece, next);
    return TRUE;
  case STRATA_PRE_SPLIT:
    if (!regex_find (st->regex, s, piece->len, spans, error))
      return FALSE;
    for (guint i = 0; st->invert && i < spans->len; i++)
      g_array_index (spans, Span, i).match = !g_array_index (spans, Span, i).match;
    break;
  case STRATA_PRE_DIGITS:
    char_find (s, piece->len, is_numeric, NULL, spans);
    break;
  case STRATA_PRE_PUNCTUATION:
    char_find (s, piece->len, is_punc, NULL, spans);
    break;
  case STRATA_PRE_WHITESPACE:
    whitespace_spans (s, piece->len, keep);
    push_spans (next, piece, piece->off, keep);
    return TRUE;
  case STRATA_PRE_WHITESPACE_SPLIT:
    char_find (s, piece->len, is_white, NULL, spans);
    behavior = STRATA_SPLIT_REMOVED;
    break;
  case STRATA_PRE_CHAR_DELIMITER:
    char_find (s, piece->len, is_char, GUINT_TO_POINTER (st->ch), spans);
    behavior = STRATA_SPLIT_REMOVED;
    break;
  }
  apply_behavior (spans, behavior, keep);
  push_spans (next, piece, piece->off, keep);
  return TRUE;
}

gboolean
_strata_hf_pre_tokenize (StrataHf *hf, const char *text, gsize len, gboolean first,
                         StrataPieces *out, GError **error)
{
  if (len == 0)
    return TRUE;
  g_autoptr (GArray) cur = g_array_new (FALSE, FALSE, sizeof (StrataPiece));
  StrataPiece whole = { out->arena->len, len, first };
  g_string_append_len (out->arena, text, len);
  g_array_append_val (cur, whole);
  for (guint i = 0; i < hf->pre->len; i++) {
    const StrataPreStep *st = &g_array_index (hf->pre, StrataPreStep, i);
    g_autoptr (GArray) next = g_array_new (FALSE, FALSE, sizeof (StrataPiece));
    for (guint k = 0; k < cur->len; k++) {
      StrataPiece piece = g_array_index (cur, StrataPiece, k); /* a copy: the arena may move */
      if (!pre_step (st, out, &piece, next, error))
        return FALSE;
    }
    g_array_unref (cur);
    cur = g_steal_pointer (&next);
  }
  g_array_append_vals (out->pieces, cur->data, cur->len);
  return TRUE;
}
