#!/usr/bin/env bash
# test-long-trace.sh STRATA MODEL: a long trace in the real window under Xvfb.
#
# The CLI writes a session of MODEL continuing a prompt by 400 tokens (and the same run's
# pieces as JSON, the reference for labels). `strata open` shows it; on the lens figure:
# + zooms in (the export names a window of the positions), a click and a drag on the
# overview strip move it, Right and the wheel move it too,
# "Find in trace" selects a position whose piece starts the text found and brings it into
# view, a string that never occurs shows "not found", and the "Positions" field set to
# 100:140 makes the exported SVG's column labels exactly the pieces of positions 100..139.
# On the trace figure (Alt+9), "Held in top K" (Alt+K) set to 3 redraws it with K = 3.
#
# Starts its own Xvfb and a private session bus; stops only the processes it started.
# Exit 77 (skip) when Xvfb, xdotool or python3-pyatspi are missing.
set -u -o pipefail

STRATA=${1:?usage: test-long-trace.sh STRATA MODEL}
MODEL=${2:?usage: test-long-trace.sh STRATA MODEL}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

for t in Xvfb xdotool dbus-daemon; do
  command -v "$t" >/dev/null || { echo "1..0 # SKIP $t not installed (tools/install-deps)"; exit 77; }
done
[ -x "$PY" ] || PY=python3
"$PY" -c 'import pyatspi' 2>/dev/null || { echo "1..0 # SKIP python3-pyatspi not installed"; exit 77; }

. "$HERE/gui-session.sh"
gui_start strata-long

echo "1..8"
SESSION="$TMP/long.h5"
"$STRATA" lens "$MODEL" --prompt "Once upon a time" --generate 400 --session "$SESSION" --json "$TMP/long.json" \
  >"$TMP/cli.log" 2>&1 || { sed 's/^/# /' "$TMP/cli.log"; fail "strata lens --generate 400 failed"; }
T=$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["prompts"][0]["pieces"]))' "$TMP/long.json")
[ "$T" -gt 300 ] || fail "the trace has only $T positions"
# The CLI's --positions past the end: refused before anything is written.
"$STRATA" lens "$MODEL" --prompt "Once upon a time" --session "$TMP/bad.h5" --figure "$TMP/bad.svg" --positions 3:99 \
  >"$TMP/cli.log" 2>&1 && fail "strata lens --positions 3:99 accepted on a short prompt"
grep -q -- "--positions: .* of [0-9]* positions" "$TMP/cli.log" || fail "the range error names no flag or length: $(cat "$TMP/cli.log")"
[ ! -e "$TMP/bad.h5" ] && [ ! -e "$TMP/bad.svg" ] || fail "a refused --positions left an output"
echo "ok 1 - a session of $T positions written by the CLI; --positions past the end refused with nothing written"

FIG="$TMP/figure.svg"
env GDK_BACKEND=x11 GSK_RENDERER=cairo GSETTINGS_BACKEND=memory LIBGL_ALWAYS_SOFTWARE=1 \
    XDG_RUNTIME_DIR="$TMP/run" XDG_CONFIG_HOME="$TMP/config" STRATA_NO_UNSAVED_PROMPT=1 \
    STRATA_EXPORT_PATH="$FIG" "$STRATA" open "$SESSION" >"$TMP/app.log" 2>&1 &
APP_PID=$!
gui_find_window "a window"
xdotool windowfocus "$WID" 2>/dev/null; sleep 1

shown () { grep -o "Positions [0-9]* to [0-9]* of [0-9]* shown" "$FIG"; }
selected () { grep -o "Selected layer [0-9]*, position [0-9]*" "$FIG" | grep -o "[0-9]*$"; }
# Click the accessible named NAME (role ROLE) in the window.
click_on () { # ROLE NAME
  local EX EY EW EH FRW FRH
  eval "$(xdotool getwindowgeometry --shell "$WID")"
  read -r EX EY EW EH FRW FRH < <("$PY" "$HERE/atspi-extents.py" strata "$1" "$2" 2>&1) || fail "no $1 '$2' over AT-SPI"
  local OFF=$(( (WIDTH - FRW) / 2 )) # GTK's shadow around the frame: X window minus the frame, halved
  xdotool mousemove --window "$WID" $((OFF + EX + EW / 2)) $((OFF + EY + EH / 2)) click 1; sleep 0.4
}

export_until "Logit lens" 30 || fail "the session's lens never showed"
grep -q "Positions [0-9]* to" "$FIG" && fail "a fresh session should show the whole trace: $(shown)"
# Focus the figure (a click on its cells selects a cell), then zoom in twice.
eval "$(xdotool getwindowgeometry --shell "$WID")"
xdotool mousemove --window "$WID" $((WIDTH * 50 / 100)) $((HEIGHT * 40 / 100)) click 1; sleep 0.5
key plus plus
export_until "Positions [0-9]* to [0-9]* of $T shown" 10 || fail "+ did not zoom in"
read -r A B <<<"$(shown | awk '{print $2, $4}')"
[ $((B - A + 1)) -le $((T / 3)) ] || fail "two steps of zoom show $((B - A + 1)) of $T positions"
echo "ok 2 - + + zooms to positions $A..$B of $T"

# The overview strip runs along the top of the figure's frame, under the title (about 46
# units below the figure's top edge): a click at 85% of the figure's width moves the window
# right past its old end, a drag from there to 15% brings its start before the old start.
eval "$(xdotool getwindowgeometry --shell "$WID")"
read -r FX FY FW FH FRW FRH < <("$PY" "$HERE/atspi-extents.py" strata image "Logit lens" 2>&1) \
  || fail "the lens figure has no extents over AT-SPI"
OFF=$(( (WIDTH - FRW) / 2 ))
SY=$((OFF + FY + 46))
xdotool mousemove --window "$WID" $((OFF + FX + FW * 85 / 100)) "$SY" click 1; sleep 0.5
export_until "Positions" 10 || fail "no export after the strip click"
read -r A5 B5 <<<"$(shown | awk '{print $2, $4}')"
[ "$A5" -gt "$B" ] || fail "a click on the strip at 85% left the window at $A5..$B5 (was $A..$B)"
xdotool mousemove --window "$WID" $((OFF + FX + FW * 85 / 100)) "$SY" mousedown 1 \
  mousemove --window "$WID" $((OFF + FX + FW * 50 / 100)) "$SY" mousemove --window "$WID" $((OFF + FX + FW * 15 / 100)) "$SY" \
  mouseup 1; sleep 0.5
export_until "Positions" 10 || fail "no export after the strip drag"
read -r A6 B6 <<<"$(shown | awk '{print $2, $4}')"
[ "$A6" -lt "$A" ] && [ "$A6" -lt "$A5" ] || fail "a drag along the strip to 15% left the window at $A6..$B6 (was $A..$B)"
echo "ok 3 - the overview strip: a click moves the window to $A5..$B5, a drag back to $A6..$B6"

# Right moves the selection; pressed past the window's end, the window follows.
P0=$(selected)
N=$((B - P0 + 3))
for _ in $(seq "$N"); do xdotool key Right; done; sleep 0.5
export_until "position $((P0 + N))" 10 || fail "Right x$N did not select position $((P0 + N)): $(grep -o 'Selected[^.]*' "$FIG")"
read -r A2 B2 <<<"$(shown | awk '{print $2, $4}')"
[ "$B2" -eq $((P0 + N)) ] || fail "after Right past the end the window is $A2..$B2, not ending at $((P0 + N))"
# The wheel scrolls the window on (down: later positions).
xdotool click 5 click 5; sleep 0.5
export_until "Positions" 10 || fail "no export after the wheel"
read -r A3 B3 <<<"$(shown | awk '{print $2, $4}')"
[ "$A3" -gt "$A2" ] || fail "the wheel did not scroll the window on: $A2..$B2 then $A3..$B3"
echo "ok 4 - Right moves the selection to $((P0 + N)) and the window follows ($A2..$B2); the wheel scrolls it to $A3..$B3"

# Find a word of the generated text (after the window), the way the reference pieces hold it.
WORD=$("$PY" - "$TMP/long.json" "$B3" <<'PYEOF'
import json, sys
pieces = json.load(open(sys.argv[1]))["prompts"][0]["pieces"]
after = int(sys.argv[2]) + 1
for j in range(after, len(pieces)):
    w = pieces[j].strip()
    if len(w) >= 4 and w.isalpha():
        print(w)
        break
PYEOF
)
[ -n "$WORD" ] || fail "no word to find after position $B3"
click_on entry "Find in trace"
xdotool type --delay 30 "$WORD"; sleep 0.3
xdotool key Return; sleep 0.5
export_until "Selected layer" 10 || fail "no export after the search"
P=$(selected)
read -r A4 B4 <<<"$(shown | awk '{print $2, $4}')"
"$PY" - "$TMP/long.json" "$WORD" "$P" "$A3" "$B3" <<'PYEOF' || fail "Find in trace '$WORD' selected position $P"
import json, sys
pieces = json.load(open(sys.argv[1]))["prompts"][0]["pieces"]
word, p, a3, b3 = sys.argv[2].casefold(), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
text = "".join(pieces).casefold()
start = len("".join(pieces[:p]).casefold())
# the match begins inside piece p
assert any(text.startswith(word, start + k) for k in range(len(pieces[p].casefold()))), (p, pieces[p])
PYEOF
[ "$P" -ge "$A4" ] && [ "$P" -le "$B4" ] || fail "the match at $P is outside the window $A4..$B4"
# A hidden label is not in GTK 4.8's accessible tree: "not found" is there only while shown.
"$PY" "$HERE/atspi-wait.py" strata "not found" "" 1 >/dev/null 2>&1 && fail "'not found' shows after a match"
key ctrl+a
xdotool type --delay 30 "qqzzxq"; sleep 0.3
xdotool key Return; sleep 0.5
"$PY" "$HERE/atspi-wait.py" strata "not found" "" 10 >"$TMP/atspi.log" 2>&1 \
  || { sed 's/^/# /' "$TMP/atspi.log"; fail "no visible 'not found' for a string the trace lacks"; }
echo "ok 5 - Find in trace '$WORD' selects position $P (in view: $A4..$B4); 'qqzzxq' shows not found"

# Type a range into the Positions field: the export's column labels are those positions.
click_on text "Positions"
key ctrl+a
xdotool type --delay 30 "100:140"; sleep 0.2
xdotool key Return; sleep 0.5
export_until "Positions 100 to 139 of $T shown" 10 || fail "the Positions field 100:140 did not set the range: $(shown)"
echo "ok 6 - the Positions field sets positions 100..139"
"$PY" - "$FIG" "$TMP/long.json" <<'PYEOF' || fail "the exported column labels are not the pieces of 100..139"
import json, sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
desc = ET.parse(sys.argv[1]).getroot().find("s:desc", ns).text
pieces = json.load(open(sys.argv[2]))["prompts"][0]["pieces"]
def visible(s):  # as figures write tokens: spaces, newlines, tabs and control bytes shown
    out = ""
    for c in s:
        if c == " ": out += "\u00b7"
        elif c == "\n": out += "\u21b5"
        elif c == "\t": out += "\u2192"
        elif ord(c) < 0x20: out += "\\x%02x" % ord(c)
        else: out += c
    return out
want = "Column labels: " + ", ".join(visible(p) for p in pieces[100:140]) + "."
assert want in desc, (want, desc[:600])
PYEOF
echo "ok 7 - the exported SVG's column labels are exactly the pieces of positions 100..139"

key alt+9
export_until "before the trace writes it (top-1)" 10 || fail "Alt+9 did not show the trace figure with K = 1"
key alt+k ctrl+a
xdotool type --delay 30 "3"; sleep 0.2
xdotool key Tab; sleep 0.5
export_until "before the trace writes it (top-3)" 10 \
  || fail "Held in top K = 3 did not redraw the trace figure: $(grep -o 'Where the lens[^<]*' "$FIG" | head -n1)"
echo "ok 8 - the trace figure's Held in top K field sets K = 3"
kill -0 "$APP_PID" 2>/dev/null || fail "strata died during the test"
