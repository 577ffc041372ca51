#!/usr/bin/python3
"""atspi-wait.py APP NAME STATE TIMEOUT_S: wait until the application APP has an accessible
named NAME (a label's text, a button's name; "^TEXT": a name that begins with TEXT, as a
banner whose first line is TEXT) that is in STATE ("sensitive", "focusable", ...
as pyatspi.stateToString writes them), or not in it ("!sensitive"), or simply exists ("").
Exit 0 when it does, 1 after TIMEOUT_S (printing what it saw), 2 when APP is not on the
accessibility bus.

GTK 4.8 sets no "showing" state on widgets and keeps a concealed revealer's children in
the tree, so "is a job running" is best read from a control that a job disables (the
"Run patching" button is insensitive while a job runs). A hidden info bar is not in the
tree: its message is there only while shown."""
import sys
import time

import pyatspi

from atspi_tree import find_app, walk


def matches(app, name, state):
    seen = []
    for acc in walk(app):
        try:
            if not (acc.name.startswith(name[1:]) if name.startswith("^") else acc.name == name):
                continue
            states = [pyatspi.stateToString(s) for s in acc.getState().getStates()]
        except Exception:  # an object that went away while we looked
            continue
        seen.append(states)
        if not state:
            return True, seen
        if state.startswith("!") and state[1:] not in states:
            return True, seen
        if not state.startswith("!") and state in states:
            return True, seen
    return False, seen


def main():
    name, text, state, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    end = time.monotonic() + timeout
    app = find_app(name, timeout)
    if app is None:
        print("app not on the accessibility bus")
        return 2
    seen = []
    while True:
        ok, seen = matches(app, text, state)
        if ok:
            return 0
        if time.monotonic() >= end:
            break
        time.sleep(0.3)
    print(f"{text!r} {state!r} not seen; accessibles of that name: {seen}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
