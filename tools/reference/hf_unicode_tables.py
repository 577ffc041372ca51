#!/usr/bin/env python3
"""Writes data/strata-tokenizer-unicode.c: where HF tokenizers' Unicode data differs from
GLib's.

HF tokenizers takes NFC/NFD/NFKC/NFKD and StripAccents' "combining mark" from the crate
unicode-normalization-alignments, whose tables are Unicode 9.0, and Punctuation's
"is_punctuation" from unicode_categories, whose tables are Unicode 8.0 (probed with
tokenizers 0.23.3: every mark, reordering mark and punctuation character of 9.0 / 8.0 and
earlier is known to it, none added later). GLib 2.74 knows Unicode 15.0. Three lists:
  norm:  characters assigned after Unicode 9.0 that are not inert under normalization for
         GLib (a mark, a non-zero combining class, a decomposition, or part of another
         character's canonical decomposition); HF treats them as unassigned, so Strata
         normalizes the text around them and keeps them as they are;
  mark:  characters GLib and HF disagree on as combining marks (new marks, and the few whose
         category changed since 9.0, such as U+1CF3);
  punct: characters at or above U+0080 GLib and HF disagree on as punctuation (new ones, and
         those whose category changed since 8.0, such as U+166D).
Rust's std and regex crate (Digits, Lowercase, Whitespace's and single_word's \w) and the
Oniguruma of HF's regexes know Unicode 16.0, GLib 15.0 and PCRE2 10.42 14.0:
  numeric, word: characters GLib and HF disagree on (all of Unicode 15.1 and 16.0);
  lowercase:     characters HF lowercases otherwise than GLib's simple mapping does;
  \p{..}:        for each general category a regex may name, the characters Oniguruma puts
                 in it and PCRE2 does not (Unicode 15.0 to 16.0), added to the class when a
                 pattern is compiled. PCRE2's classes are taken to be Python's unicodedata
                 (both Unicode 14.0).
Ages come from Perl's Unicode::UCD (Unicode 14 on Debian 12); characters of Unicode 15.0 are
those GLib assigns and Python's unicodedata (14.0) does not. The mark and punct lists are
measured: HF's StripAccents and Punctuation on every character, against GLib. The script
then checks every character's NFC/NFD/NFKC/NFKD, with the norm list applied, against HF's.

Run in the venv of tests/data/TOKENIZERS.md (made with --system-site-packages, so Debian's
python3-gi is there for GLib; perl is Debian's):
  /work/venv-tok/bin/python tools/reference/hf_unicode_tables.py
"""
import subprocess
import unicodedata

from gi.repository import GLib
from tokenizers import Regex, normalizers, pre_tokenizers

OUT = "data/strata-tokenizer-unicode.c"
PUNCT = {GLib.UnicodeType.CONNECT_PUNCTUATION, GLib.UnicodeType.DASH_PUNCTUATION,
         GLib.UnicodeType.CLOSE_PUNCTUATION, GLib.UnicodeType.FINAL_PUNCTUATION,
         GLib.UnicodeType.INITIAL_PUNCTUATION, GLib.UnicodeType.OTHER_PUNCTUATION,
         GLib.UnicodeType.OPEN_PUNCTUATION}
WORD = {GLib.UnicodeType.LOWERCASE_LETTER, GLib.UnicodeType.MODIFIER_LETTER,
        GLib.UnicodeType.OTHER_LETTER, GLib.UnicodeType.TITLECASE_LETTER,
        GLib.UnicodeType.UPPERCASE_LETTER, GLib.UnicodeType.LETTER_NUMBER,
        GLib.UnicodeType.SPACING_MARK, GLib.UnicodeType.ENCLOSING_MARK,
        GLib.UnicodeType.NON_SPACING_MARK, GLib.UnicodeType.DECIMAL_NUMBER,
        GLib.UnicodeType.CONNECT_PUNCTUATION}
NUMERIC = {GLib.UnicodeType.DECIMAL_NUMBER, GLib.UnicodeType.LETTER_NUMBER,
           GLib.UnicodeType.OTHER_NUMBER}
CATEGORIES = ["L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No",
              "P", "Pc", "S"]
MODES = {"NFC": GLib.NormalizeMode.NFC, "NFD": GLib.NormalizeMode.NFD,
         "NFKC": GLib.NormalizeMode.NFKC, "NFKD": GLib.NormalizeMode.NFKD}


def assigned_upto_9():
    perl = ('use Unicode::UCD qw(prop_invlist); for my $a (qw(1.1 2.0 2.1 3.0 3.1 3.2 4.0 4.1 '
            '5.0 5.1 5.2 6.0 6.1 6.2 6.3 7.0 8.0 9.0)) { print join(" ", prop_invlist("Age=$a")), '
            '"\\n"; }')
    total = set()
    for line in subprocess.run(["perl", "-e", perl], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        inv = list(map(int, line.split()))
        for i in range(0, len(inv), 2):
            total.update(range(inv[i], inv[i + 1] if i + 1 < len(inv) else 0x110000))
    return total


def ranges(cs):
    out = []
    for c in sorted(cs):
        if out and out[-1][1] == c:
            out[-1][1] = c + 1
        else:
            out.append([c, c + 1])
    return out


def table(name, cs):
    rs = ranges(cs)
    body = []
    for i in range(0, len(rs), 4):
        body.append("  " + " ".join(f"{{ 0x{a:05X}, 0x{b:05X} }}," for a, b in rs[i:i + 4]))
    return (f"/* {len(cs)} characters in {len(rs)} ranges [start, end) */\n"
            f"static const guint32 {name}[][2] = {{\n" + "\n".join(body) + "\n};\n")


def glib_word(c):
    """_strata_unichar_is_word before its table."""
    return GLib.unichar_type(chr(c)) in WORD or c in (0x200C, 0x200D) or \
        0x24B6 <= c <= 0x24E9 or 0x1F130 <= c <= 0x1F149 or 0x1F150 <= c <= 0x1F169 or \
        0x1F170 <= c <= 0x1F189


def glib_lower(c):
    """lowercase() in strata-tokenizer-hf-steps.c before its table."""
    if c == 0x130:
        return "i\u0307"
    if 0x2160 <= c <= 0x216F:
        return chr(c + 0x10)
    if 0x24B6 <= c <= 0x24CF:
        return chr(c + 0x1A)
    r = GLib.unichar_tolower(chr(c))
    return r if isinstance(r, str) else chr(r)


def batched(pre, cs, sep="\x01"):
    """The characters a pre-tokenizer isolates, tested 20,000 at a time between separators."""
    out = set()
    for i in range(0, len(cs), 20000):
        text = sep.join(chr(c) for c in cs[i:i + 20000])
        for piece, _ in pre.pre_tokenize_str(text):
            if len(piece) == 1 and piece != sep:
                out.add(ord(piece))
    return out


def class_text(cs):
    return "".join(f"\\\\x{{{a:X}}}" if b == a + 1 else f"\\\\x{{{a:X}}}-\\\\x{{{b - 1:X}}}"
                   for a, b in ranges(cs))


def glib_normalize(s, mode, norm):
    """What strata-tokenizer-hf-steps.c does: the stretches between `norm` characters."""
    out, cur = [], []
    for ch in s:
        if ord(ch) in norm:
            out.append(GLib.utf8_normalize("".join(cur), -1, mode) if cur else "")
            out.append(ch)
            cur = []
        else:
            cur.append(ch)
    if cur:
        out.append(GLib.utf8_normalize("".join(cur), -1, mode))
    return "".join(out)


def main():
    upto9 = assigned_upto_9()
    chars = [c for c in range(0x110000)
             if not 0xD800 <= c < 0xE000
             and GLib.unichar_type(chr(c)) not in (GLib.UnicodeType.UNASSIGNED,
                                                    GLib.UnicodeType.PRIVATE_USE,
                                                    GLib.UnicodeType.SURROGATE)]
    in_decomposition = set()
    for c in range(0x110000):
        d = unicodedata.decomposition(chr(c)) if not 0xD800 <= c < 0xE000 else ""
        if d and not d.startswith("<"):
            in_decomposition.update(int(x, 16) for x in d.split())
    strip = normalizers.StripAccents()
    punct_split = pre_tokenizers.Punctuation()
    norm, mark, punct = set(), set(), set()
    for c in chars:
        s = chr(c)
        if c not in upto9 and (GLib.unichar_ismark(s) or GLib.unichar_combining_class(s) != 0 or
                               GLib.utf8_normalize(s, -1, GLib.NormalizeMode.ALL) != s or
                               GLib.utf8_normalize(s, -1, GLib.NormalizeMode.DEFAULT) != s or
                               c in in_decomposition):
            norm.add(c)
        if GLib.unichar_ismark(s) != (strip.normalize_str(s) == ""):
            mark.add(c)
        if c >= 0x80 and (GLib.unichar_type(s) in PUNCT) != \
                (len(punct_split.pre_tokenize_str("x" + s + "x")) == 3):
            punct.add(c)

    everything = [c for c in range(0x20, 0x110000) if not 0xD800 <= c < 0xE000 and c != 0x7F]
    onig_only = {}
    for cat in CATEGORIES:
        onig = batched(pre_tokenizers.Split(Regex(r"\p{%s}" % cat), behavior="isolated"),
                       everything)
        pcre = {c for c in everything if unicodedata.category(chr(c)).startswith(cat)}
        if pcre - onig:  # category changes since 14.0 (U+1171E Mn -> Mc): left as they are
            print(f"\\p{{{cat}}}: PCRE2 only: {[hex(c) for c in sorted(pcre - onig)]}")
        if onig - pcre:
            onig_only[cat] = onig - pcre
    # Oniguruma's \d is Nd; its \w is Alphabetic, marks, Nd and Pc, which the C side writes
    # as ONIG_WORD (Alphabetic = L, Nl and the circled letters) plus "w" here
    def onig(rx):
        return batched(pre_tokenizers.Split(Regex(rx), behavior="isolated"), everything)
    assert onig(r"\d") == {c for c in everything if unicodedata.category(chr(c)) == "Nd"} | \
        onig_only.get("Nd", set())
    pcre_w = {c for c in everything
              if unicodedata.category(chr(c))[:1] in "LM" or unicodedata.category(chr(c)) in
              ("Nl", "Nd", "Pc") or 0x24B6 <= c <= 0x24E9 or
              0x1F130 <= c <= 0x1F149 or 0x1F150 <= c <= 0x1F169 or 0x1F170 <= c <= 0x1F189}
    onig_w = onig(r"\w")
    assert not pcre_w - onig_w, sorted(pcre_w - onig_w)[:10]
    onig_only["w"] = onig_w - pcre_w
    # inside a class Oniguruma's \w leaves out U+00B2, B3, B9, BC-BE, which it has outside
    onig_wc = onig(r"[\w]")
    assert not pcre_w - onig_wc, sorted(pcre_w - onig_wc)[:10]
    onig_only["w-in-class"] = onig_wc - pcre_w
    numeric = batched(pre_tokenizers.Digits(individual_digits=True), everything)
    numeric_differs = {c for c in everything
                       if (c in numeric) != (GLib.unichar_type(chr(c)) in NUMERIC)}
    low = normalizers.Lowercase()
    lower = {c: low.normalize_str(chr(c)) for c in everything
             if low.normalize_str(chr(c)) != glib_lower(c)}
    ws = pre_tokenizers.Whitespace()
    word_differs = set()
    for c in everything:
        if c not in numeric_differs and GLib.unichar_type(chr(c)) != GLib.UnicodeType.UNASSIGNED \
                and c not in onig_only.get("L", ()):
            continue  # known to GLib: checked below in one pass
        if (len(ws.pre_tokenize_str("a" + chr(c) + "a")) == 1) != glib_word(c):
            word_differs.add(c)
    known = [c for c in everything if c not in word_differs]
    hf_word = {c for c in known if len(ws.pre_tokenize_str("a" + chr(c) + "a")) == 1}
    assert all((c in hf_word) == glib_word(c) for c in known)

    # every character (but NUL, which no C string holds), and every character after a letter
    # and before a reordering mark, normalizes as HF normalizes it
    hf = {name: getattr(normalizers, name)() for name in MODES}
    bad = []
    for c in chars[1:]:
        for probe in (chr(c), "a" + chr(c) + "\u0334", "a\u0316" + chr(c)):
            for name, mode in MODES.items():
                if glib_normalize(probe, mode, norm) != hf[name].normalize_str(probe):
                    bad.append((hex(c), name, probe))
    assert not bad, bad[:20]

    with open(OUT, "w") as f:
        f.write(f"""/* strata-tokenizer-unicode.c: where HF tokenizers' Unicode data differs from GLib's.
 *
 * Written by tools/reference/hf_unicode_tables.py (see its docstring); do not edit. HF's
 * normalizers and StripAccents use Unicode 9.0 tables and its Punctuation Unicode 8.0
 * tables; GLib {GLib.MAJOR_VERSION}.{GLib.MINOR_VERSION} knows Unicode 15.0. For HF a character added since is unassigned:
 * it neither decomposes, nor reorders, nor composes; and a few characters changed category
 * since (U+1CF3 was a mark, U+166D punctuation). */
#include "strata-tokenizer-hf-private.h"

#include <string.h>

""")
        f.write(table("norm_unknown", norm) + "\n")
        f.write(table("mark_differs", mark) + "\n")
        f.write(table("punct_differs", punct) + "\n")
        f.write(table("numeric_differs", numeric_differs) + "\n")
        f.write(table("word_differs", word_differs) + "\n")
        f.write(f"/* {len(lower)} characters HF lowercases otherwise than GLib */\n"
                "static const struct {\n  guint32 c;\n  const char *lower;\n} lower_differs[] = {\n")
        for c, l in sorted(lower.items()):
            esc = "".join(f"\\x{b:02x}" for b in l.encode())
            f.write(f'  {{ 0x{c:05X}, "{esc}" }},\n')
        f.write("};\n\n")
        f.write("/* \\\\p{..} classes: what Oniguruma adds to PCRE2's, as class text */\n"
                "static const struct {\n  const char *name;\n  const char *extra;\n} onig_classes[] = {\n")
        for cat, cs in onig_only.items():
            f.write(f'  {{ "{cat}", "{class_text(cs)}" }},\n')
        f.write("};\n")
        f.write("""
static gboolean
in_ranges (const guint32 (*r)[2], gsize n, gunichar c)
{
  gsize lo = 0, hi = n;
  while (lo < hi) {
    gsize m = lo + (hi - lo) / 2;
    if (c < r[m][0])
      hi = m;
    else if (c >= r[m][1])
      lo = m + 1;
    else
      return TRUE;
  }
  return FALSE;
}

gboolean
_strata_hf_norm_unknown (gunichar c)
{
  return in_ranges (norm_unknown, G_N_ELEMENTS (norm_unknown), c);
}

gboolean
_strata_hf_is_mark (gunichar c)
{
  /* g_unichar_ismark answers a bit mask, not TRUE */
  return (g_unichar_ismark (c) != 0) != in_ranges (mark_differs, G_N_ELEMENTS (mark_differs), c);
}

gboolean
_strata_hf_punct_differs (gunichar c)
{
  return in_ranges (punct_differs, G_N_ELEMENTS (punct_differs), c);
}

gboolean
_strata_hf_numeric_differs (gunichar c)
{
  return in_ranges (numeric_differs, G_N_ELEMENTS (numeric_differs), c);
}

gboolean
_strata_hf_word_differs (gunichar c)
{
  return in_ranges (word_differs, G_N_ELEMENTS (word_differs), c);
}

const char *
_strata_hf_lower_differs (gunichar c)
{
  gsize lo = 0, hi = G_N_ELEMENTS (lower_differs);
  while (lo < hi) {
    gsize m = lo + (hi - lo) / 2;
    if (c < lower_differs[m].c)
      hi = m;
    else if (c > lower_differs[m].c)
      lo = m + 1;
    else
      return lower_differs[m].lower;
  }
  return NULL;
}

const char *
_strata_hf_onig_class (const char *name, gsize len)
{
  for (gsize i = 0; i < G_N_ELEMENTS (onig_classes); i++)
    if (strlen (onig_classes[i].name) == len && strncmp (onig_classes[i].name, name, len) == 0)
      return onig_classes[i].extra;
  return NULL;
}
""")
    print(f"{OUT}: {len(norm)} normalization, {len(mark)} mark, {len(punct)} punctuation, "
          f"{len(numeric_differs)} numeric, {len(word_differs)} word, {len(lower)} lowercase "
          f"characters; classes {', '.join(f'{k} +{len(v)}' for k, v in onig_only.items())}; "
          f"{len(chars)} characters normalize as HF does")


if __name__ == "__main__":
    main()
