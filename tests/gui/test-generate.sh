#!/usr/bin/env bash
# test-generate.sh STRATA MODEL: Generate in the real window under Xvfb, used as a person would.
#
# Opens MODEL (stories260K, the GGUF copy: context 2048), types a prompt, sets "Max new tokens" to 20 in the generation
# settings (greedy, the default) and presses Generate (Ctrl+G). The trace under the prompt,
# read over AT-SPI, must equal what `strata generate` prints for the same prompt and settings;
# the lens then runs on the prompt and its continuation, and the exported figure's caption
# names the generated tokens and the position they start at (from `strata generate --json`).
# Save (Ctrl+S) writes the generation into the session: n_generated and the exact ids, read
# back with h5py. Last, a long generation (2000 tokens) cancelled with Escape: the window
# shows the cancelled notice naming the tokens it kept, the trace holds exactly those (as
# `strata generate -n K` prints them), and the lens reads them.
#
# Starts its own Xvfb (a free display chosen by the server) and a private session bus;
# stops only the processes it started. Exit 77 (skip) when Xvfb, xdotool or python3-pyatspi
# are missing: the trace is read over AT-SPI.
set -u -o pipefail

STRATA=${1:?usage: test-generate.sh STRATA MODEL}
MODEL=${2:?usage: test-generate.sh STRATA MODEL}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
PROMPT="One day, Lily met a"

for t in Xvfb xdotool dbus-daemon; do
  command -v "$t" >/dev/null || { echo "1..0 # SKIP $t not installed (tools/install-deps)"; exit 77; }
done
[ -x "$PY" ] || PY=python3
"$PY" -c 'import pyatspi, h5py' 2>/dev/null || { echo "1..0 # SKIP python3-pyatspi or python3-h5py not installed"; exit 77; }

. "$HERE/gui-session.sh"
gui_start strata-gen


FIG="$TMP/figure.svg"
# GTK keeps a few blocks for the life of the process: a sanitizer build checks memory errors
# here, not leaks at exit.
env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" GDK_BACKEND=x11 GSK_RENDERER=cairo \
    GSETTINGS_BACKEND=memory LIBGL_ALWAYS_SOFTWARE=1 XDG_RUNTIME_DIR="$TMP/run" XDG_CONFIG_HOME="$TMP/config" \
    GTK_USE_PORTAL=0 LC_ALL=C.UTF-8 STRATA_EXPORT_PATH="$FIG" STRATA_DEVICE=cpu "$STRATA" "$MODEL" >"$TMP/app.log" 2>&1 &
APP_PID=$!
gui_find_window "a window"
xdotool windowfocus "$WID" 2>/dev/null; sleep 1

# A running job disables "Run patching" (GTK 4.8 keeps a hidden revealer's children in the tree).
busy () { "$PY" "$HERE/atspi-wait.py" strata "Run patching" '!sensitive' "$1" >"$TMP/atspi.log" 2>&1; }
idle () { "$PY" "$HERE/atspi-wait.py" strata "Run patching" sensitive "$1" >"$TMP/atspi.log" 2>&1; }
# Click the accessible of ROLE named NAME (its extents over AT-SPI, relative to its window).
click () { # ROLE NAME
  local x y w h fw fh off
  read -r x y w h fw fh < <("$PY" "$HERE/atspi-extents.py" strata "$1" "$2" 2>&1) || return 1
  eval "$(xdotool getwindowgeometry --shell "$WID")"
  off=$(( (WIDTH - fw) / 2 ))
  xdotool mousemove --window "$WID" $((off + x + w / 2)) $((off + y + h / 2)) click 1; sleep 0.5
}
# The generation settings, typed as a person would: the popover beside Generate opens with
# the focus in its first field, Max new tokens; Tab moves through Temperature, Top-p, Seed
# and Stop string, Escape closes it.
set_settings () { # N TEMPERATURE TOP_P SEED [STOP]
  click "push button" "Generation settings" || fail "no Generation settings button over AT-SPI"
  "$PY" "$HERE/atspi-wait.py" strata "Max new tokens" focused 10 >"$TMP/atspi.log" 2>&1 \
    || { sed 's/^/# /' "$TMP/atspi.log"; fail "the settings did not open on Max new tokens"; }
  local v
  for v in "$1" "$2" "$3" "$4" "${5:-}"; do
    xdotool key --delay 80 ctrl+a BackSpace; [ -z "$v" ] || xdotool type --delay 30 "$v"; xdotool key --delay 80 Tab
  done
  xdotool key --delay 80 Escape; sleep 0.4
}
# The trace's text (prompt and continuation) over AT-SPI, in $TMP/trace.txt.
read_trace () {
  "$PY" - "$HERE" "$TMP/trace.txt" <<'PYEOF'
import sys
sys.path.insert(0, sys.argv[1])
from atspi_tree import find_app, walk
app = find_app("strata", 10)
for acc in walk(app):
    if acc.name == "Generated text":
        text = acc.queryText()
        open(sys.argv[2], "w").write(text.getText(0, text.characterCount))
        sys.exit(0)
print("no accessible named Generated text")
sys.exit(1)
PYEOF
}
caption_count () { grep -o '+ [0-9]* generated tokens\? (from position [0-9]*' "$FIG" | head -n1; }

"$PY" "$HERE/atspi-wait.py" strata "Generate" sensitive 60 >"$TMP/atspi.log" 2>&1 \
  || { sed 's/^/# /' "$TMP/atspi.log"; fail "no sensitive Generate button once the model is open"; }
idle 60 || fail "the window stayed busy after opening the model"
echo "ok 1 - the window shows Generate"

key ctrl+l
key ctrl+a
xdotool type --delay 30 "$PROMPT"
set_settings 20 0 1 0
key ctrl+g
export_until "generated token" 60 || fail "no figure with generated tokens after Generate: $(grep -o '<desc>[^<]*' "$FIG")"
idle 30 || fail "the window stayed busy after Generate"
"$STRATA" generate "$MODEL" --device cpu --prompt "$PROMPT" -n 20 >"$TMP/cli.txt" 2>"$TMP/cli.err" || fail "strata generate"
"$STRATA" generate "$MODEL" --device cpu --prompt "$PROMPT" -n 20 --json >"$TMP/cli.json" 2>>"$TMP/cli.err" \
  || fail "strata generate --json"
read_trace || fail "the trace is not readable over AT-SPI"
EXPECTED=$(cat "$TMP/cli.txt")  # $(...) drops the newline strata prints last
[ "$(cat "$TMP/trace.txt")" = "$EXPECTED" ] \
  || fail "the trace reads '$(cat "$TMP/trace.txt")', strata generate prints '$EXPECTED'"
echo "ok 2 - Generate with 20 greedy tokens: the trace equals strata generate's output: $EXPECTED"

read -r NP NG < <("$PY" -c 'import json, sys; j = json.load(open(sys.argv[1])); print(len(j["prompt_ids"]), len(j["ids"]))' \
  "$TMP/cli.json") || fail "strata generate --json: no ids"
S=s; [ "$NG" = 1 ] && S=""
[ "$(caption_count)" = "+ $NG generated token$S (from position $NP" ] \
  || fail "the caption says '$(caption_count)', expected '+ $NG generated token$S (from position $NP'"
grep -q "Logit lens" "$FIG" || fail "the figure after Generate is not the lens: $(grep -o '<title>[^<]*' "$FIG")"
echo "ok 3 - the lens ran on prompt and continuation; the caption says: $(caption_count)"

# Save: GTK's own save dialog (no portal on the private bus), a typed path.
SAVED="$TMP/generated.h5"
key ctrl+s
dialog_wid () { xdotool search --onlyvisible --pid "$APP_PID" 2>/dev/null | grep -vx "$WID" | head -n1; }
has_dialog () { [ -n "$(dialog_wid)" ]; }
wait_until 20 has_dialog || fail "Ctrl+S opened no save dialog"
sleep 0.5
xdotool windowfocus "$(dialog_wid)" 2>/dev/null
xdotool key --delay 80 ctrl+a
xdotool type --delay 20 "$SAVED"
xdotool key --delay 80 Return
wait_until 20 test -s "$SAVED" || fail "Ctrl+S and a typed path wrote no session file"
"$PY" - "$SAVED" "$TMP/cli.json" <<'PYEOF' || fail "the saved session does not hold the generation"
import json, sys
import h5py
cli = json.load(open(sys.argv[2]))
with h5py.File(sys.argv[1], "r") as f:
    p = f["analyses/000000/prompts/000000"]
    ids = [int(i) for i in p["ids"][()]]
    n = int(p.attrs["n_generated"])
    assert n == len(cli["ids"]), (n, len(cli["ids"]))
    assert ids == cli["prompt_ids"] + cli["ids"], (ids, cli["prompt_ids"], cli["ids"])
print(f"# session: n_generated {n}, {len(ids)} ids as strata generate made them")
PYEOF
echo "ok 4 - Save writes n_generated and the exact ids of prompt and continuation"

# A long generation, cancelled. With the KV cache stories260K writes 2000 tokens (its GGUF
# copy's context) in about 1.2 s on the command line here and longer in the window, which
# streams them: Escape as soon as the window is busy lands while it runs.
set_settings 2000 0 1 0
key ctrl+g
busy 20 || fail "the long generation did not start"
BEFORE=$(caption_count)
key Escape
# The lens of the cancelled generation replaces the figure (the window is briefly idle between
# the two jobs, so wait for the new caption rather than for idleness).
new_lens () { export_until "generated token" 1 && [ "$(caption_count)" != "$BEFORE" ]; }
wait_until 60 new_lens || fail "no lens of the cancelled generation: $(grep -o '<desc>[^<]*' "$FIG")"
idle 60 || fail "the window stayed busy after Escape"
K=$(caption_count | sed 's/^+ \([0-9]*\) .*/\1/')
[ -n "$K" ] && [ "$K" -gt 0 ] && [ "$K" -lt 2000 ] || fail "the cancelled generation's caption says '$(caption_count)'"
S=s; [ "$K" = 1 ] && S=""
NOTICE="Generation cancelled after $K token$S; the lens reads the prompt and the tokens generated so far."
# The banner's first line (a note on the attention pattern of a long sequence may follow).
"$PY" "$HERE/atspi-wait.py" strata "^$NOTICE" "" 10 >"$TMP/atspi.log" 2>&1 \
  || { sed 's/^/# /' "$TMP/atspi.log"; fail "no notice '$NOTICE'"; }
"$STRATA" generate "$MODEL" --device cpu --prompt "$PROMPT" -n "$K" >"$TMP/cli-k.txt" 2>>"$TMP/cli.err" \
  || fail "strata generate -n $K"
read_trace || fail "the trace is not readable after Cancel"
[ "$(cat "$TMP/trace.txt")" = "$(cat "$TMP/cli-k.txt")" ] \
  || fail "after Cancel the trace reads '$(cat "$TMP/trace.txt")', strata generate -n $K prints '$(cat "$TMP/cli-k.txt")'"
kill -0 "$APP_PID" 2>/dev/null || fail "strata died after Cancel"
echo "ok 5 - Escape during a 2000-token generation: the notice, the $K tokens kept in the trace (as strata generate -n $K), the lens on them"

# Sampled, with a stop string: the same tokens as strata generate with the same settings, and
# the banner says why it ended early.
set_settings 40 1 0.9 2 .
key ctrl+g
SAMPLED=(--temperature 1 --top-p 0.9 --seed 2 --stop . -n 40)
"$STRATA" generate "$MODEL" --device cpu --prompt "$PROMPT" "${SAMPLED[@]}" >"$TMP/cli-s.txt" 2>>"$TMP/cli.err" \
  || fail "strata generate ${SAMPLED[*]}"
"$STRATA" generate "$MODEL" --device cpu --prompt "$PROMPT" "${SAMPLED[@]}" --json >"$TMP/cli-s.json" 2>>"$TMP/cli.err" \
  || fail "strata generate ${SAMPLED[*]} --json"
K=$("$PY" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["ids"]))' "$TMP/cli-s.json")
[ "$K" -lt 40 ] || fail "seed 2 was chosen to stop at the stop string, yet strata generate made $K tokens"
NOTICE="Generation stopped after $K tokens at the stop string “.”."
"$PY" "$HERE/atspi-wait.py" strata "$NOTICE" "" 20 >"$TMP/atspi.log" 2>&1 \
  || { sed 's/^/# /' "$TMP/atspi.log"; fail "no notice '$NOTICE'"; }
read_trace || fail "the trace is not readable after the sampled generation"
[ "$(cat "$TMP/trace.txt")" = "$(cat "$TMP/cli-s.txt")" ] \
  || fail "sampled: the trace reads '$(cat "$TMP/trace.txt")', strata generate prints '$(cat "$TMP/cli-s.txt")'"
echo "ok 6 - temperature 1, top-p 0.9, seed 2, stop '.': the trace equals strata generate's: $(cat "$TMP/cli-s.txt")"

# Run on the same prompt reads the generation again (its exact ids); an edited prompt is
# read as typed. Ctrl+S saves to the session file of test 4 and clears the unsaved mark in
# the title, which the run's end sets again.
title_dirty () { xdotool getwindowname "$WID" 2>/dev/null | grep -q "^•"; }
title_clean () { xdotool getwindowname "$WID" 2>/dev/null | grep -q "Strata" && ! title_dirty; }
idle 30 || fail "the sampled generation's lens never ended"
key ctrl+s
wait_until 10 title_clean || fail "Ctrl+S did not clear the unsaved mark: $(xdotool getwindowname "$WID")"
key ctrl+Return
wait_until 30 title_dirty || fail "Run after Generate never ended"
export_until "+ $K generated tokens" 10 || fail "Run on the unchanged prompt lost the generation: $(caption_count)"
key ctrl+l
key End
xdotool type --delay 30 " big"
key Return
export_until "prompt “$PROMPT big”" 30 || fail "Run on the edited prompt did not analyse the typed text"
grep -q "generated token" "$FIG" && fail "Run on the edited prompt still reads the generation: $(caption_count)"
echo "ok 7 - Run re-reads the generation while the prompt is unchanged, and the typed text once it is edited"
echo "1..7"
exit 0
