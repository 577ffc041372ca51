# gui-session.sh: sourced by the window tests (test-window.sh, test-generate.sh,
# test-long-trace.sh). `gui_start PREFIX` makes the temporary folder $TMP (PREFIX.XXXXXX),
# starts a private Xvfb (a free display chosen by the server; exit 77, skip, when it does
# not start) and a private session bus, and arranges that exit stops only what they started:
# the application (its pid in $APP_PID), the bus and what it activated, then the X server.
# `fail MESSAGE` prints a TAP failure with the end of $TMP/app.log and exits 1.
# Once the application runs: `gui_find_window WHAT` waits for its window (its id in $WID),
# `key KEYS...` types into it, `wait_until TIMEOUT_S CMD...` polls, and `export_until PATTERN
# TIMEOUT_S` exports the figure (Ctrl+E, to $FIG = STRATA_EXPORT_PATH) until it holds PATTERN.

XVFB_PID=""; BUS_PID=""; APP_PID=""

gui_cleanup () {
  for pid in $APP_PID $BUS_PID; do
    [ -n "$pid" ] || continue
    for child in $(pgrep -P "$pid" 2>/dev/null); do kill -TERM "$child" 2>/dev/null; done
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in $APP_PID $BUS_PID; do [ -n "$pid" ] && wait "$pid" 2>/dev/null; done
  [ -n "$XVFB_PID" ] && kill -TERM "$XVFB_PID" 2>/dev/null && wait "$XVFB_PID" 2>/dev/null
  rm -rf "$TMP"
}

fail () {
  echo "not ok - $*"
  echo "# ---- app log ----"; sed 's/^/# /' "$TMP/app.log" 2>/dev/null | tail -30
  exit 1
}

gui_start () {
  TMP=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  trap gui_cleanup EXIT
  Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp -noreset 3>"$TMP/display" >"$TMP/xvfb.log" 2>&1 &
  XVFB_PID=$!
  for _ in $(seq 100); do [ -s "$TMP/display" ] && break; sleep 0.1; done
  local dnum
  dnum=$(tr -dc '0-9' <"$TMP/display")
  [ -n "$dnum" ] || { echo "1..0 # SKIP Xvfb did not start"; exit 77; }
  export DISPLAY=":$dnum"

  mkdir -p "$TMP/run" "$TMP/config" && chmod 700 "$TMP/run"
  dbus-daemon --session --nofork --nopidfile --address="unix:path=$TMP/bus" >"$TMP/dbus.log" 2>&1 &
  BUS_PID=$!
  for _ in $(seq 50); do [ -S "$TMP/bus" ] && break; sleep 0.1; done
  [ -S "$TMP/bus" ] || fail "private session bus did not start"
  export DBUS_SESSION_BUS_ADDRESS="unix:path=$TMP/bus"
}

gui_find_window () { # WHAT: named in the failure
  WID=""
  for _ in $(seq 150); do
    WID=$(xdotool search --onlyvisible --pid "$APP_PID" 2>/dev/null | head -n1)
    [ -n "$WID" ] && return 0
    kill -0 "$APP_PID" 2>/dev/null || fail "strata exited before showing $1"
    sleep 0.2
  done
  fail "no window after 30 s for $1"
}

key () { xdotool windowfocus "$WID" 2>/dev/null; xdotool key --delay 80 "$@"; sleep 0.4; }

wait_until () { # TIMEOUT_S CMD...: poll CMD every 0.2 s
  local t=$1 i; shift
  for i in $(seq $((t * 5))); do "$@" && return 0; sleep 0.2; done
  return 1
}

export_until () { # PATTERN TIMEOUT_S (the lens runs in the background)
  local i
  for i in $(seq $((${2} * 2))); do
    rm -f "$FIG"
    key ctrl+e
    if [ -s "$FIG" ] && grep -q -- "$1" "$FIG"; then return 0; fi
    sleep 0.1
  done
  return 1
}
