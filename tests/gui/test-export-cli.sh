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
# --positions A:B: the lens figure's column labels are those of the whole figure's A..B-1
# (read from the SVG description; ':' is the whole sequence, without the flag the range the
# session saved); a range past the end names the flag and the length.
desc_labels () { /usr/bin/python3 -c 'import sys, re, xml.etree.ElementTree as E
d = E.parse(sys.argv[1]).getroot().find("{http://www.w3.org/2000/svg}desc").text
print(re.search(r"Column labels: (.*?)\. ", d).group(1))' "$1"; }
"$STRATA" export "$TMP/s.h5" --figure "$TMP/all.svg" --view lens --positions : 2>"$TMP/err" \
  || fail "export lens --positions : $(cat "$TMP/err")"
T=$(desc_labels "$TMP/all.svg" | awk -F', ' '{print NF}')
[ "$T" -ge 3 ] || fail "the sample lens has $T positions"
grep -q "Positions [0-9]* to" "$TMP/all.svg" && fail "--positions : did not draw the whole sequence"
# Without --positions, the range the session saved (the sample's view: 2 positions from 1).
"$STRATA" export "$TMP/s.h5" --figure "$TMP/saved.svg" --view lens 2>"$TMP/err" || fail "export lens: $(cat "$TMP/err")"
grep -q "Positions 1 to 2 of $T shown" "$TMP/saved.svg" || fail "export without --positions ignored the saved range"
"$STRATA" export "$TMP/s.h5" --figure "$TMP/part.svg" --view lens --positions 1:3 2>"$TMP/err" \
  || fail "export --positions 1:3: $(cat "$TMP/err")"
[ "$(desc_labels "$TMP/part.svg")" = "$(desc_labels "$TMP/all.svg" | awk -F', ' '{print $2 ", " $3}')" ] \
  || fail "--positions 1:3 labels '$(desc_labels "$TMP/part.svg")', the whole figure's 1..2 are '$(desc_labels "$TMP/all.svg")'"
grep -q "Positions 1 to 2 of $T shown" "$TMP/part.svg" || fail "--positions 1:3: the description does not say which positions"
"$STRATA" export "$TMP/s.h5" --figure "$TMP/y.svg" --view lens --positions "2:$((T + 5))" 2>"$TMP/err" \
  && fail "a range past the end accepted"
grep -q -- "--positions: .*$T positions" "$TMP/err" || fail "range error does not name the flag and the length: $(cat "$TMP/err")"
[ ! -e "$TMP/y.svg" ] || fail "a failed --positions export left a file"
ok "export --positions 1:3 draws positions 1..2 of $T; 2:$((T + 5)) is refused naming --positions and $T"
echo "1..$n"
