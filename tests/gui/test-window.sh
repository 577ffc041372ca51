#!/usr/bin/env bash
# test-window.sh STRATA MODEL: the real window under Xvfb, used as a person would.
#
# Opens MODEL, types a prompt and runs the lens (Return), clicks the heatmap, moves through
# layers with Home/Up/Page Up, exports the figure (Ctrl+E; STRATA_EXPORT_PATH names the
# file so no file chooser is needed) and checks the exported SVG: well-formed, the prompt's
# pieces as column labels, the selected layer. With python3-pyatspi it also finds the
# controls "Layer", "Position", "Run", "Export" by accessible name and reads the slider, and
# the model card's Device row, switched through the Device menu's action (win.device, set
# over D-Bus): CUDA without a usable GPU keeps the device and explains in the banner; another
# backend (cpu-as-device) opens the model again and runs the lens on it; the
# products' precision (win.precision) re-creates the engines and the card says it.
#
# With TWOHOP_FIXTURES (../shared/fixtures/twohop) it also opens the two two-hop
# checkpoints with `--prompts prompts-stage1.jsonl` and checks the MRR curves and the tag
# selector.
#
# Then, with the unsaved-work question on: Ctrl+S through GTK's own save dialog (a typed
# path) writes a session `strata session-info` reads; Ctrl+W with unsaved work asks, Cancel
# keeps the window, "Close without Saving" closes it and strata exits 0.
#
# Last, Cancel within a sweep: a patching sweep of one long prompt (minutes of work), Escape
# while it runs; the window must show its cancelled notice and keep the lens it had (with
# python3-pyatspi; the notice is read by its accessible name).
#
# Then training dynamics (SERIES, a folder of checkpoints, over the prompt set SET): `strata
# --series SERIES --prompts SET` fills the series heat map, whose export names every
# checkpoint's step; a click on one of its cells (placed from the figure's extents over
# AT-SPI) opens that checkpoint on the curves page at the cell's layer, as the series figure
# itself reports the selection; Left and Return open the other checkpoint from the keyboard;
# Save Session As writes the series, and `strata open` shows a CLI-written series session.
# Then two models open at 1280x800: the Run button lies inside the window and a click on
# it runs the lens. Last, the first launch: `strata` with no argument opens the bundled
# two-hop comparison (MRR of the bridge at r2, tag id; not unsaved work), and the button
# above the figure opens stories260K in a window of its own.
#
# Starts its own Xvfb (a free display chosen by the server) and a private session bus;
# stops only the processes it started. Exit 77 (skip) when Xvfb or xdotool are missing.
set -u -o pipefail

STRATA=${1:?usage: test-window.sh STRATA MODEL}
MODEL=${2:?usage: test-window.sh STRATA MODEL [TWOHOP_FIXTURES [SERIES SET]]}
TWOHOP=${3:-}
SERIES=${4:-}
SET=${5:-}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

for t in Xvfb xdotool dbus-daemon; do
  command -v "$t" >/dev/null || { echo "1..0 # SKIP $t not installed (tools/install-deps)"; exit 77; }
done
[ -x "$PY" ] || PY=python3

. "$HERE/gui-session.sh"
gui_start strata-gui


A11Y=0
if "$PY" -c 'import pyatspi' 2>/dev/null; then A11Y=1; fi
FIG="$TMP/figure.svg"
env GDK_BACKEND=x11 GSK_RENDERER=cairo GSETTINGS_BACKEND=memory LIBGL_ALWAYS_SOFTWARE=1 \
    XDG_RUNTIME_DIR="$TMP/run" XDG_CONFIG_HOME="$TMP/config" STRATA_NO_UNSAVED_PROMPT=1 \
    STRATA_EXPORT_PATH="$FIG" $([ $A11Y = 1 ] || echo GTK_A11Y=none) \
    "$STRATA" "$MODEL" >"$TMP/app.log" 2>&1 &
APP_PID=$!

gui_find_window "a window"
echo "ok 1 - window shown"
xdotool windowfocus "$WID" 2>/dev/null; sleep 1



key ctrl+l
key ctrl+a
xdotool type --delay 30 "One day, Lily met a"
key Return
export_until "Lily" 60 || fail "the lens on the typed prompt never showed up in an export"
echo "ok 2 - lens ran on the typed prompt"

# Click a heatmap cell: selects a layer and position, and moves focus to the figure.
eval "$(xdotool getwindowgeometry --shell "$WID")"
xdotool mousemove --window "$WID" $((WIDTH * 60 / 100)) $((HEIGHT * 35 / 100)) click 1; sleep 0.5
export_until "Selected layer" 10 || fail "export after the click failed"
grep -q "Selected layer [1-5]," "$FIG" || fail "clicking the upper heatmap did not select an upper layer: $(grep -o 'Selected layer[^.]*' "$FIG")"
echo "ok 3 - clicking the heatmap selects a layer ($(grep -o 'Selected layer [0-9]*' "$FIG"))"

key Home Up Up
export_until "Selected layer 2," 10 || fail "Home Up Up did not select layer 2: $(grep -o 'Selected layer[^.]*' "$FIG")"
echo "ok 4 - Home, Up, Up: layer 2"
key Page_Up
export_until "Selected layer 4," 10 || fail "Page Up did not reach layer 4: $(grep -o 'Selected layer[^.]*' "$FIG")"
key Down
export_until "Selected layer 3," 10 || fail "Down did not reach layer 3"
echo "ok 5 - Page Up, Down: layers 4, 3"

"$PY" - "$FIG" <<'PYEOF' || fail "exported SVG check"
import sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[1]).getroot()
assert root.tag.endswith("svg"), root.tag
title = root.find("s:title", ns).text
desc = root.find("s:desc", ns).text
assert title.startswith("Logit lens"), title
for word in ("stories260K", "Lily", "0 emb", "Selected layer 3"):
    assert word in desc, (word, desc[:300])
w = float(root.get("width").rstrip("pt"))
assert w > 100, w
glyphs = len(root.findall(".//s:path", ns)) + len(root.findall(".//s:use", ns))
assert glyphs > 50, glyphs
PYEOF
echo "ok 6 - exported SVG is well-formed, titled, labelled with the prompt and the layer"

if [ $A11Y = 1 ]; then
  "$PY" "$HERE/atspi-check.py" strata 3 >"$TMP/atspi.log" 2>&1 || { cat "$TMP/atspi.log" | sed 's/^/# /'; fail "AT-SPI check"; }
  # The device: the card names what `strata info` says the policy chose here (STRATA_DEVICE,
  # else auto); the Device menu's action (set over D-Bus, as its radio item does) switches
  # it, and CUDA where it cannot run leaves the card as it was with the reason in the banner.
  devjson () { "$STRATA" info "$MODEL" "$@" --json 2>/dev/null \
                 | "$PY" -c 'import json,sys; d=json.load(sys.stdin)["device"]; print(d["label"]); print(d["why"])'; }
  card_reads () { "$PY" "$HERE/atspi-wait.py" strata "$1" "" 15 >"$TMP/atspi.log" 2>&1; }
  set_device () { "$PY" "$HERE/dbus-action.py" "$APP_PID" /org/strata/Workbench/window/1 device "$1" >"$TMP/dbus.log" 2>&1 \
                    || { sed 's/^/# /' "$TMP/dbus.log"; fail "could not set win.device to $1 over D-Bus"; }; }
  DEV=$(devjson | head -n1)
  [ -n "$DEV" ] || fail "strata info --json names no device label"
  card_reads "$DEV" || { sed 's/^/# /' "$TMP/atspi.log"; fail "the card's Device row does not read '$DEV'"; }
  if CUDA=$(devjson --device cuda); then
    set_device cuda
    card_reads "$(echo "$CUDA" | head -n1)" || fail "Device > CUDA: the card does not read the CUDA device"
    SAID="card reads the CUDA device after Device > CUDA"
  else
    WHY=$("$STRATA" info "$MODEL" --device cuda 2>&1 >/dev/null | sed 's/^strata: --device cuda: //')
    set_device cuda
    "$PY" "$HERE/atspi-wait.py" strata "CUDA is not available: $WHY. The models stay on $DEV." "" 15 >"$TMP/atspi.log" 2>&1 \
      || { sed 's/^/# /' "$TMP/atspi.log"; fail "Device > CUDA without a GPU: no banner with the driver's reason"; }
    card_reads "$DEV" || fail "Device > CUDA without a GPU changed the card"
    SAID="Device > CUDA here: the banner gives the reason ($WHY), the card keeps '$DEV'"
  fi
  set_device cpu
  card_reads "cpu" || { sed 's/^/# /' "$TMP/atspi.log"; fail "Device > CPU: the card does not read 'cpu'"; }
  # Another backend opens the checkpoint again for it: here the CPU standing in for a device
  # (its weights loaded into "device" memory), where the lens runs on a new prompt, then back.
  set_device cpu-as-device
  card_reads "cpu-as-device" || { sed 's/^/# /' "$TMP/atspi.log"; fail "Device cpu-as-device: the card does not read it"; }
  key ctrl+l
  key ctrl+a
  xdotool type --delay 30 "One day, Tim met a"
  key Return
  export_until "Tim" 60 || fail "the lens on the model opened again for cpu-as-device never showed up"
  set_device cpu
  card_reads "cpu" || fail "back to Device > CPU: the card does not read 'cpu'"
  set_device auto
  card_reads "$DEV" || fail "Device > Auto: the card does not read '$DEV' again"
  # The products' precision (win.precision, the same submenu): new engines, the card says it.
  set_precision () { "$PY" "$HERE/dbus-action.py" "$APP_PID" /org/strata/Workbench/window/1 precision "$1" \
                       >"$TMP/dbus.log" 2>&1 || { sed 's/^/# /' "$TMP/dbus.log"; fail "could not set win.precision"; }; }
  set_precision bf16
  card_reads "$DEV · bf16 products" || { sed 's/^/# /' "$TMP/atspi.log"; fail "BF16 Products: the card does not say it"; }
  set_precision fp32
  card_reads "$DEV" || fail "FP32 Products: the card does not read '$DEV' again"
  echo "ok 7 - AT-SPI: Layer, Position, Run, Export found; Layer reads 3; the card's Device row reads '$DEV' as strata info says; $SAID; CPU and Auto switch it; the model opened again on cpu-as-device runs the lens; BF16 products shown and undone"
else
  echo "ok 7 # SKIP python3-pyatspi not installed"
fi
kill -0 "$APP_PID" 2>/dev/null || fail "strata died during the test"
for child in $(pgrep -P "$APP_PID" 2>/dev/null); do kill -TERM "$child" 2>/dev/null; done
kill -TERM "$APP_PID" 2>/dev/null; wait "$APP_PID" 2>/dev/null; APP_PID=""

# A session saved by the CLI at layer 3, its model deleted: the window opens it with the
# lens figure and layer 3 restored, and names the top-k tokens from the session alone
# (" saw", top-1 at the last position of layer 5, is neither in the prompt nor a target).
mkdir "$TMP/model"
cp "$MODEL" "$(dirname "$MODEL")"/tok512.bin "$TMP/model/" 2>/dev/null || cp "$MODEL" "$TMP/model/"
"$STRATA" lens "$TMP/model/$(basename "$MODEL")" --prompt "Lily went to the park. She" --target " She" --layer 3 \
  --session "$TMP/saved.h5" 2>"$TMP/app.log" || fail "strata lens --session"
rm -rf "$TMP/model"
env GDK_BACKEND=x11 GSK_RENDERER=cairo GSETTINGS_BACKEND=memory LIBGL_ALWAYS_SOFTWARE=1 GTK_A11Y=none \
    XDG_RUNTIME_DIR="$TMP/run" XDG_CONFIG_HOME="$TMP/config" STRATA_NO_UNSAVED_PROMPT=1 \
    STRATA_EXPORT_PATH="$FIG" "$STRATA" "$TMP/saved.h5" >"$TMP/app.log" 2>&1 &
APP_PID=$!
gui_find_window "the session"
export_until "Selected layer 3," 20 || fail "the session did not restore layer 3: $(grep -o 'Selected layer[^.]*' "$FIG")"
grep -q "Logit lens" "$FIG" || fail "the session did not restore the lens figure"
grep -q "·saw" "$FIG" || fail "the reopened session does not name the top-k token ·saw"
grep -q "#[0-9]" "$FIG" && fail "the reopened session shows tokens as #id: $(grep -o '#[0-9]*' "$FIG" | head -3)"
echo "ok 8 - a session without its model reopens at layer 3 with the lens figure and real tokens"

title_dirty () { xdotool getwindowname "$WID" 2>/dev/null | grep -q "^•"; }
title_clean () { xdotool getwindowname "$WID" 2>/dev/null | grep -q "Strata" && ! title_dirty; }
# the one visible window of the app that is not the main window (a dialog), or nothing
dialog_wid () { xdotool search --onlyvisible --pid "$APP_PID" 2>/dev/null | grep -vx "$WID" | head -n1; }
has_dialog () { [ -n "$(dialog_wid)" ]; }
no_dialog () { [ -z "$(dialog_wid)" ]; }
app_gone () { ! kill -0 "$APP_PID" 2>/dev/null; }

# Start a window that will exit on its own, with a fresh config folder; sets APP_PID and WID.
# GTK and its libraries keep a few blocks for the life of the process, so a sanitizer build
# checks memory errors here but not leaks at exit. ARGs replace the model on the command line
# ("(none)": no argument at all); LAUNCH_A11Y=1 keeps the window on the accessibility bus.
launch_closable () { # CONFIG_NAME [ARG...]
  local config=$1; shift
  [ $# -gt 0 ] || set -- "$MODEL"
  [ "$1" != "(none)" ] || set -- # `strata` with no argument
  mkdir -p "$TMP/$config"
  env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" GDK_BACKEND=x11 GSK_RENDERER=cairo GSETTINGS_BACKEND=memory LIBGL_ALWAYS_SOFTWARE=1 \
      $([ "${LAUNCH_A11Y:-0}" = 1 ] || echo GTK_A11Y=none) \
      XDG_RUNTIME_DIR="$TMP/run" XDG_CONFIG_HOME="$TMP/$config" GTK_USE_PORTAL=0 \
      STRATA_EXPORT_PATH="$FIG" "$STRATA" "$@" >"$TMP/app.log" 2>&1 &
  APP_PID=$!
  gui_find_window "a window ($config)"
}

# The two-hop workflow: two checkpoints and a prompt set from the command line; the run over
# the set shows the MRR curves of both models at r2 with their resolution layers, and the
# tag selector switches them to the in-distribution prompts. Numbers: docs/twohop.md.
if [ -n "$TWOHOP" ] && [ -f "$TWOHOP/prompts-stage1.jsonl" ] && [ -d "$TWOHOP/cot/checkpoint-3000" ] \
   && [ -d "$TWOHOP/nocot/checkpoint-9000" ]; then
  for child in $(pgrep -P "$APP_PID" 2>/dev/null); do kill -TERM "$child" 2>/dev/null; done
  kill -TERM "$APP_PID" 2>/dev/null; wait "$APP_PID" 2>/dev/null; APP_PID=""
  mkdir -p "$TMP/config2"
  env GDK_BACKEND=x11 GSK_RENDERER=cairo GSETTINGS_BACKEND=memory LIBGL_ALWAYS_SOFTWARE=1 GTK_A11Y=none \
      XDG_RUNTIME_DIR="$TMP/run" XDG_CONFIG_HOME="$TMP/config2" STRATA_NO_UNSAVED_PROMPT=1 \
      STRATA_EXPORT_PATH="$FIG" "$STRATA" --prompts "$TWOHOP/prompts-stage1.jsonl" \
      "$TWOHOP/cot/checkpoint-3000" "$TWOHOP/nocot/checkpoint-9000" >"$TMP/app.log" 2>&1 &
  APP_PID=$!
  gui_find_window "a window"
  export_until "MRR of" 120 || fail "the prompt-set run never showed the MRR curves"
  title=$(grep -o '<title>[^<]*' "$FIG")
  echo "$title" | grep -q "at position r2, tag all (855 prompts)" || fail "MRR title: $title"
  grep -q "bridge (checkpoint-3000) (resolution layer 5)" "$FIG" || fail "cot bridge at r2 (all) should resolve at 5"
  grep -q "bridge (checkpoint-9000) (resolution layer -1)" "$FIG" || fail "nocot bridge at r2 should never resolve"
  echo "ok 9 - strata --prompts SET A B: MRR curves of both checkpoints at r2 over 855 prompts"
  # The tag list sits second from the right of the options bar: open it, take the next tag.
  eval "$(xdotool getwindowgeometry --shell "$WID")"
  xdotool mousemove --window "$WID" $((WIDTH - 140)) 73 click 1; sleep 0.8
  key Down Return
  export_until "tag id (554 prompts)" 10 || fail "the tag selector did not switch to id: $(grep -o '<title>[^<]*' "$FIG")"
  grep -q "bridge (checkpoint-3000) (resolution layer 4)" "$FIG" || fail "cot bridge at r2 (id) should resolve at 4"
  grep -q "answer (checkpoint-9000) (resolution layer 6)" "$FIG" || fail "nocot answer at r2 (id) should resolve at 6"
  echo "ok 10 - tag id: cot resolves the bridge at 4, nocot the answer at 6"
else
  echo "ok 9 # SKIP two-hop fixtures not found (${TWOHOP:-none given})"
  echo "ok 10 # SKIP two-hop fixtures not found"
fi

# Save and the question about unsaved work (issue 5), with the prompt on this time. Ctrl+S on
# a window with no session file opens the save chooser (GtkFileChooserNative falls back to
# GTK's own dialog here, no portal on the private bus): type a path, Return; the file must be
# a session `strata session-info` reads and the title loses its unsaved mark. A new run marks
# it unsaved again; Ctrl+W then asks; Cancel keeps the window, "Close without Saving" closes.
if [ -n "$APP_PID" ]; then
  for child in $(pgrep -P "$APP_PID" 2>/dev/null); do kill -TERM "$child" 2>/dev/null; done
  kill -TERM "$APP_PID" 2>/dev/null; wait "$APP_PID" 2>/dev/null; APP_PID=""
fi
launch_closable config3
export_until "Logit lens" 60 || fail "the default lens never ran (save test)"

wait_until 20 title_dirty || fail "a fresh lens run should mark the window unsaved: $(xdotool getwindowname "$WID")"
SAVED="$TMP/window-saved.h5"
key ctrl+s
wait_until 20 has_dialog || fail "Ctrl+S opened no save dialog"
DLG=$(dialog_wid)
sleep 0.5
xdotool windowfocus "$DLG" 2>/dev/null
xdotool key --delay 80 ctrl+a
xdotool type --delay 20 "$SAVED"
xdotool key --delay 80 Return
wait_until 20 test -s "$SAVED" || fail "Ctrl+S and a typed path wrote no session file"
wait_until 20 no_dialog || fail "the save dialog stayed open"
wait_until 10 title_clean || fail "the title still says unsaved after Save: $(xdotool getwindowname "$WID")"
"$STRATA" session-info "$SAVED" >"$TMP/info.txt" 2>&1 || { sed 's/^/# /' "$TMP/info.txt"; fail "session-info could not read the window's session"; }
grep -q "stories260K" "$TMP/info.txt" || { sed 's/^/# /' "$TMP/info.txt"; fail "session-info does not name the model"; }
echo "ok 11 - Ctrl+S: the save dialog writes a session that strata session-info reads; the title drops its unsaved mark"

key ctrl+Return
wait_until 60 title_dirty || fail "a new run did not mark the window unsaved"
key ctrl+w
wait_until 10 has_dialog || fail "closing with unsaved work asked nothing"
DLG=$(dialog_wid)
# The question's buttons share its bottom row: Close without Saving, Cancel, Save.
eval "$(xdotool getwindowgeometry --shell "$DLG")"
DW=$WIDTH; DH=$HEIGHT
sleep 0.5
xdotool mousemove --window "$DLG" $((DW / 2)) $((DH - 18)) click 1
wait_until 10 no_dialog || fail "Cancel did not dismiss the question"
sleep 0.5
kill -0 "$APP_PID" 2>/dev/null || fail "Cancel closed the window anyway"
xdotool search --onlyvisible --pid "$APP_PID" 2>/dev/null | grep -qx "$WID" || fail "the window is gone after Cancel"
title_dirty || fail "after Cancel the work should still be unsaved"
echo "ok 12 - closing with unsaved work asks; Cancel keeps the window and its work"

key ctrl+w
wait_until 10 has_dialog || fail "the second close asked nothing"
DLG=$(dialog_wid)
sleep 0.5
xdotool mousemove --window "$DLG" $((DW / 6)) $((DH - 18)) click 1
wait_until 20 app_gone || fail "Close without Saving did not close the window"
wait "$APP_PID" 2>/dev/null; rc=$?; APP_PID=""
[ "$rc" = 0 ] || fail "strata exited with $rc after Close without Saving"
"$STRATA" session-info "$SAVED" >/dev/null 2>&1 || fail "discarding changed the saved session"
echo "ok 13 - Close without Saving closes the window; the saved session is untouched"

# 14: closing a window that was never saved, answering Save: the save dialog comes, the
# session is written, then the window closes and strata exits cleanly.
launch_closable config4
wait_until 60 title_dirty || fail "the default lens never marked the window unsaved (save-on-close test)"
key ctrl+w
wait_until 10 has_dialog || fail "closing an unsaved window asked nothing"
DLG=$(dialog_wid)
eval "$(xdotool getwindowgeometry --shell "$DLG")"
sleep 0.5
xdotool mousemove --window "$DLG" $((WIDTH * 5 / 6)) $((HEIGHT - 18)) click 1
SAVED2="$TMP/closing-saved.h5"
wait_until 20 has_dialog || fail "answering Save opened no save dialog"
DLG=$(dialog_wid)
sleep 0.5
xdotool windowfocus "$DLG" 2>/dev/null
xdotool key --delay 80 ctrl+a
xdotool type --delay 20 "$SAVED2"
xdotool key --delay 80 Return
wait_until 20 app_gone || fail "the window did not close after saving"
wait "$APP_PID" 2>/dev/null; rc=$?; APP_PID=""
[ "$rc" = 0 ] || { sed 's/^/# /' "$TMP/app.log"; fail "strata exited with $rc after Save on close"; }
"$STRATA" session-info "$SAVED2" >/dev/null 2>&1 || fail "Save on close wrote no readable session"
echo "ok 14 - closing an unsaved window and answering Save: the dialog saves, then the window closes"

# 15: Escape during a long patching sweep stops it within a layer. One prompt of 474 tokens
# (stories260K's context is 512): its sweep (every layer and position of resid_pre, attn_out
# and mlp_out, and every head) runs for minutes (about 150 s in the optimized build here,
# several times that with sanitizers), and a sweep of one prompt has no later prompt to stop
# at. Escape a few seconds into it; the cancelled notice must come within 60 s, and the
# window must still show the lens it had (a finished sweep would show the patching map).
if [ $A11Y = 1 ]; then
  LONG="$TMP/long.jsonl"
  S="Lily went to the park. She saw a big dog and a small cat. They played with a red ball all day. "
  P=""; for _ in $(seq 13); do P="$P$S"; done
  printf '{"prompt": "Lily went. %sShe", "corrupt": "Tim went. %sShe", "targets": {"she": " She"}, "contrast": " He"}\n' \
    "$P" "$P" >"$LONG"
  LAUNCH_A11Y=1 launch_closable config5 --prompts "$LONG" "$MODEL"
  wait_until 120 title_dirty || fail "the lens over the long prompt never finished"
  export_until "Logit lens" 30 || fail "the long prompt's lens figure never showed up"
  # A running job disables "Run patching"; the notice is in the tree only while shown.
  busy () { "$PY" "$HERE/atspi-wait.py" strata "Run patching" '!sensitive' "$1" >"$TMP/atspi.log" 2>&1; }
  key ctrl+shift+Return
  busy 30 || { sed 's/^/# /' "$TMP/atspi.log"; fail "patching did not start"; }
  sleep 3
  busy 1 || fail "the sweep ended within 3 s: too short to test Cancel"
  t0=$(date +%s)
  key Escape
  "$PY" "$HERE/atspi-wait.py" strata "Cancelled; the previous results are unchanged." "" 60 >"$TMP/atspi.log" 2>&1 \
    || { sed 's/^/# /' "$TMP/atspi.log"; fail "no cancelled notice within 60 s of Escape during the sweep"; }
  echo "# the cancelled notice came $(( $(date +%s) - t0 )) s after Escape"
  export_until "Logit lens" 10 || fail "after Cancel the window does not answer Export, or lost its lens figure: $(grep -o '<title>[^<]*' "$FIG")"
  grep -q "Activation patching" "$FIG" && fail "the cancelled sweep replaced the results"
  "$PY" "$HERE/atspi-wait.py" strata "Run patching" sensitive 10 >"$TMP/atspi.log" 2>&1 \
    || { sed 's/^/# /' "$TMP/atspi.log"; fail "Run patching stayed disabled after Cancel"; }
  kill -0 "$APP_PID" 2>/dev/null || fail "strata died after Cancel"
  for child in $(pgrep -P "$APP_PID" 2>/dev/null); do kill -TERM "$child" 2>/dev/null; done
  kill -TERM "$APP_PID" 2>/dev/null; wait "$APP_PID" 2>/dev/null; APP_PID=""
  echo "ok 15 - Escape during a long patching sweep: the cancelled notice, the lens kept, the window answers"
else
  echo "ok 15 # SKIP python3-pyatspi not installed (the notice is read over AT-SPI)"
fi

# 16: a series from the command line. It is done when its export names both steps and no
# column is left to run.
series_done () {
  rm -f "$FIG"; key ctrl+e
  [ -s "$FIG" ] && grep -q "Column labels: 500, 3000\." "$FIG" && ! grep -q "not run yet" "$FIG"
}
# Which checkpoint (index in the run) and layer the series figure shows as selected.
series_selection () { # -> "CHECKPOINT LAYER", from the series page's export
  key alt+6
  rm -f "$FIG"; key ctrl+e
  local c k
  c=$(grep -o "Selected checkpoint [0-9]* of run 0" "$FIG" | grep -o "[0-9]*" | head -n1)
  k=$(grep -o "Selected layer [0-9]*," "$FIG" | grep -o "[0-9]*")
  echo "$c $k"
}
title_names () { xdotool getwindowname "$WID" 2>/dev/null | grep -q "$1"; }
if [ -n "$SERIES" ] && [ -d "$SERIES/checkpoint-500" ] && [ -f "$SET" ]; then
  LAUNCH_A11Y=$A11Y launch_closable config6 --series "$SERIES" --prompts "$SET"
  wait_until 60 series_done || fail "the series never finished: $(grep -o '<title>[^<]*' "$FIG"; grep -o 'Column labels[^.]*' "$FIG")"
  grep -q "<title>MRR of “bridge” by training step and layer at position r2, tag all" "$FIG" \
    || fail "series title: $(grep -o '<title>[^<]*' "$FIG")"
  grep -q "cot (2 checkpoints)" "$FIG" || fail "the series export does not name the run"
  "$PY" - "$FIG" <<'PYEOF' || fail "exported series SVG check"
import sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[1]).getroot()
desc = root.find("s:desc", ns).text
assert "Row labels: 0 emb, 1, 2, 3, 4, 5, 6." in desc, desc[:400]
assert "500: never, 3000: 5" in desc, desc[:600]
PYEOF
  echo "ok 16 - strata --series: the series heat map fills in; its export names steps 500 and 3000"

  if [ $A11Y = 1 ]; then
    # 17: click the 3000 column's cell at layer 4: the figure (AT-SPI role image) spans the
    # page; at 1280x800 the cells sit at the left of its plot (x 22%, y 37% of the figure).
    read -r FX FY FW FH FRW FRH < <("$PY" "$HERE/atspi-extents.py" strata image "MRR of" 2>&1) \
      || fail "the series figure has no extents over AT-SPI"
    eval "$(xdotool getwindowgeometry --shell "$WID")"
    OFF=$(( (WIDTH - FRW) / 2 )) # GTK's shadow around the frame: X window minus the frame, halved
    xdotool mousemove --window "$WID" $((OFF + FX + FW * 22 / 100)) $((OFF + FY + FH * 37 / 100)) click 1
    wait_until 60 title_names "checkpoint-" || fail "a click on the series opened no checkpoint: $(xdotool getwindowname "$WID")"
    export_until "MRR of" 30 || fail "the opened checkpoint shows no MRR curves"
    OPENED=$(xdotool getwindowname "$WID" | grep -o "checkpoint-[0-9]*")
    grep -q "($OPENED)\|$OPENED ·" "$FIG" || fail "the curves do not name $OPENED: $(grep -o '<desc>.\{0,200\}' "$FIG")"
    CURVE_LAYER=$(grep -o "Selected layer [0-9]*," "$FIG" | grep -o "[0-9]*")
    read -r SEL_CP SEL_LAYER < <(series_selection)
    STEPS=(500 3000)
    [ -n "$SEL_CP" ] && [ "checkpoint-${STEPS[$SEL_CP]}" = "$OPENED" ] \
      || fail "the series selected checkpoint '$SEL_CP' but the window opened $OPENED"
    [ "$SEL_LAYER" = "$CURVE_LAYER" ] || fail "the series selected layer $SEL_LAYER, the curves show $CURVE_LAYER"
    [ "$OPENED" = checkpoint-3000 ] && [ "$SEL_LAYER" = 4 ] \
      || fail "the click at the 3000 column, layer 4 opened $OPENED at layer $SEL_LAYER"
    "$PY" "$HERE/atspi-wait.py" strata "Layer 4 of 6" "" 10 >"$TMP/atspi.log" 2>&1 \
      || { sed 's/^/# /' "$TMP/atspi.log"; fail "the layer bar does not read Layer 4 of 6"; }
    echo "ok 17 - a click on a series cell opens $OPENED at layer $SEL_LAYER on the curves page (Layer 4 of 6)"

    # 18: keyboard: on the series page Left selects the previous checkpoint, Return opens it
    # (a click beside the cells, on the title, gives the figure the focus).
    xdotool mousemove --window "$WID" $((OFF + FX + FW - 30)) $((OFF + FY + 10)) click 1; sleep 0.3
    key Left Return
    wait_until 60 title_names "checkpoint-500" || fail "Left, Return on the series did not open checkpoint-500: $(xdotool getwindowname "$WID")"
    export_until "checkpoint-500" 30 || fail "the curves after Return do not name checkpoint-500"
    grep -q "Selected layer 4," "$FIG" || fail "Return opened checkpoint-500 at another layer: $(grep -o 'Selected layer[^.]*' "$FIG")"
    echo "ok 18 - Left, Return on the series page opens checkpoint-500 at the same layer"
  else
    echo "ok 17 # SKIP python3-pyatspi not installed (the figure's extents come over AT-SPI)"
    echo "ok 18 # SKIP python3-pyatspi not installed"
  fi

  # 19: Save Session As writes the series (session-info names it); a CLI series session opens
  # in the window with its heat map.
  SAVED3="$TMP/series-window.h5"
  key ctrl+shift+s
  wait_until 20 has_dialog || fail "Ctrl+Shift+S opened no save dialog"
  DLG=$(dialog_wid); sleep 0.5
  xdotool windowfocus "$DLG" 2>/dev/null
  xdotool key --delay 80 ctrl+a
  xdotool type --delay 20 "$SAVED3"
  xdotool key --delay 80 Return
  wait_until 20 test -s "$SAVED3" || fail "Save Session As wrote no file with a series loaded"
  "$STRATA" session-info "$SAVED3" >"$TMP/info.txt" 2>&1 || { sed 's/^/# /' "$TMP/info.txt"; fail "session-info on the window's series session"; }
  grep -qi "series" "$TMP/info.txt" && grep -q "checkpoint-3000" "$TMP/info.txt" \
    || { sed 's/^/# /' "$TMP/info.txt"; fail "the window's session does not hold the series"; }
  for child in $(pgrep -P "$APP_PID" 2>/dev/null); do kill -TERM "$child" 2>/dev/null; done
  kill -TERM "$APP_PID" 2>/dev/null; wait "$APP_PID" 2>/dev/null; APP_PID=""
  "$STRATA" series "$SERIES" --prompts "$SET" --view-tag id --session "$TMP/series-cli.h5" 2>"$TMP/app.log" \
    || fail "strata series --session"
  launch_closable config7 open "$TMP/series-cli.h5"
  export_until "by training step and layer" 20 || fail "strata open of a series session shows no series figure: $(grep -o '<title>[^<]*' "$FIG")"
  grep -q "tag id" "$FIG" || fail "the series session's tag was not restored: $(grep -o '<title>[^<]*' "$FIG")"
  grep -q "Column labels: 500, 3000\." "$FIG" || fail "the series session's figure lacks the steps"
  for child in $(pgrep -P "$APP_PID" 2>/dev/null); do kill -TERM "$child" 2>/dev/null; done
  kill -TERM "$APP_PID" 2>/dev/null; wait "$APP_PID" 2>/dev/null; APP_PID=""
  echo "ok 19 - Save Session As writes the series; strata open shows a CLI series session (tag id)"
else
  for n in 16 17 18 19; do echo "ok $n # SKIP series test copies not found (${SERIES:-none given})"; done
fi

# 20: two models at 1280x800: the sidebar holds two model cards, yet Run lies inside the
# window, and a click on it runs the lens on a newly typed prompt.
if [ $A11Y = 1 ]; then
  [ -n "$APP_PID" ] && { kill -TERM "$APP_PID" 2>/dev/null; wait "$APP_PID" 2>/dev/null; APP_PID=""; }
  LAUNCH_A11Y=1 launch_closable config8 "$MODEL" "$MODEL"
  export_until "stories260K vs stories260K" 60 || fail "the two models' lens never ran"
  read -r RX RY RW RH FRW FRH < <("$PY" "$HERE/atspi-extents.py" strata "push button" Run 2>&1) \
    || fail "no Run button over AT-SPI"
  [ "$RY" -ge 0 ] && [ $((RY + RH)) -le "$FRH" ] && [ $((RX + RW)) -le "$FRW" ] \
    || fail "Run at $RX,$RY ${RW}x$RH lies outside the ${FRW}x$FRH window"
  key ctrl+l
  key ctrl+a
  xdotool type --delay 30 "Lily and Tom"
  eval "$(xdotool getwindowgeometry --shell "$WID")"
  OFF=$(( (WIDTH - FRW) / 2 ))
  xdotool mousemove --window "$WID" $((OFF + RX + RW / 2)) $((OFF + RY + RH / 2)) click 1
  export_until "Tom" 60 || fail "a click on Run did not run the lens on the new prompt"
  echo "ok 20 - two models at ${FRW}x$FRH: Run at y $RY..$((RY + RH)) is inside the window, and a click runs"
  kill -TERM "$APP_PID" 2>/dev/null; wait "$APP_PID" 2>/dev/null; APP_PID=""
else
  echo "ok 20 # SKIP python3-pyatspi not installed (extents come over AT-SPI)"
fi
# 21: the first launch. `strata` with no argument opens the bundled two-hop comparison on the
# MRR curves of the bridge at r2 over the id queries, both checkpoints named; that is not
# unsaved work; the line above the figure opens stories260K in a window of its own.
LAUNCH_A11Y=$A11Y launch_closable config9 "(none)"
T0=$(date +%s%N)
export_until "MRR of “bridge”, “answer” by layer at position r2, tag id (60 prompts)" 30 \
  || fail "strata with no argument did not open the two-hop comparison: $(grep -o '<title>[^<]*' "$FIG")"
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
grep -q "bridge (cot-3000)" "$FIG" && grep -q "bridge (nocot-9000)" "$FIG" \
  || fail "the first launch's curves do not name both checkpoints"
wait_until 5 title_clean || fail "the bundled example counts as unsaved work: $(xdotool getwindowname "$WID")"
if [ $A11Y = 1 ]; then
  read -r BX BY BW BH FRW FRH < <("$PY" "$HERE/atspi-extents.py" strata "push button" "Open Stories260K" 2>&1) \
    || fail "no Open Stories260K button over AT-SPI"
  eval "$(xdotool getwindowgeometry --shell "$WID")"
  OFF=$(( (WIDTH - FRW) / 2 ))
  xdotool mousemove --window "$WID" $((OFF + BX + BW / 2)) $((OFF + BY + BH / 2)) click 1
  stories_window () { xdotool search --onlyvisible --pid "$APP_PID" --name "stories260K" >/dev/null 2>&1; }
  wait_until 30 stories_window || fail "Open Stories260K opened no stories260K window"
  echo "ok 21 - strata with no argument: the two-hop comparison at r2, tag id (figure within ${MS} ms of the window); one click opens stories260K"
else
  echo "ok 21 - strata with no argument: the two-hop comparison at r2, tag id (figure within ${MS} ms of the window)"
fi
kill -TERM "$APP_PID" 2>/dev/null; wait "$APP_PID" 2>/dev/null; APP_PID=""
echo "1..21"
exit 0
