#!/usr/bin/env bash
# test-export-cli.sh STRATA WRITE_SAMPLE_SESSION: `strata export FILE.h5 --figure OUT`
# redraws every saved figure with no model and no display, in all three formats.
set -u -o pipefail
STRATA=${1:?}; WRITE=${2:?}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/strata-export.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
n=0
ok () { n=$((n + 1)); echo "ok $n - $*"; }
fail () { echo "not ok - $*"; exit 1; }

"$WRITE" "$TMP/s.h5" >/dev/null || fail "could not write a sample session"
for view in lens curves patch circuit attention; do
  for ext in svg pdf png; do
    out="$TMP/$view.$ext"
    env -u DISPLAY -u WAYLAND_DISPLAY "$STRATA" export "$TMP/s.h5" --figure "$out" --view "$view" 2>"$TMP/err" \
      || fail "strata export --view $view --figure .$ext: $(cat "$TMP/err")"
    case $ext in
      svg) /usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); assert r.tag.endswith("svg")' "$out" \
             || fail "$view.svg is not well-formed";;
      pdf) head -c 5 "$out" | grep -q '%PDF-' || fail "$view.pdf has no PDF header";;
      png) head -c 8 "$out" | od -An -tx1 | grep -q '89 50 4e 47' || fail "$view.png has no PNG signature";;
    esac
  done
  ok "export --view $view: svg, pdf, png"
done
# Errors: a bad view name, an unknown extension, a missing file: a message, exit 1, no output.
"$STRATA" export "$TMP/s.h5" --figure "$TMP/x.svg" --view nope 2>"$TMP/err" && fail "bad --view accepted"
grep -q "nope" "$TMP/err" || fail "bad --view message does not name it"
"$STRATA" export "$TMP/s.h5" --figure "$TMP/x.jpg" 2>"$TMP/err" && fail ".jpg accepted"
grep -q "x.jpg" "$TMP/err" || fail "bad extension message does not name the file"
"$STRATA" export "$TMP/missing.h5" --figure "$TMP/x.svg" 2>"$TMP/err" && fail "missing session accepted"
grep -q "missing.h5" "$TMP/err" || fail "missing session message does not name the file"
[ ! -e "$TMP/x.svg" ] && [ ! -e "$TMP/x.jpg" ] || fail "a failed export left a file"
ok "export errors are messages naming the problem"
echo "1..$n"
