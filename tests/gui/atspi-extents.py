#!/usr/bin/python3
"""atspi-extents.py APP ROLE NAME: print "X Y W H WIN_W WIN_H" for the first accessible of
application APP with role ROLE (as pyatspi's getRoleName writes it: "push button", "image")
whose name starts with NAME: its extents relative to its window, and the size of that
window (the application's frame). Exit 1 when there is none, 2 when APP is not on the
accessibility bus."""
import sys

import pyatspi

from atspi_tree import find_app, walk


def main():
    app_name, role, name = sys.argv[1], sys.argv[2], sys.argv[3]
    app = find_app(app_name, 10)
    if app is None:
        print("app not on the accessibility bus")
        return 2
    for frame in (app.getChildAtIndex(i) for i in range(app.childCount)):
        if frame is None or frame.getRoleName() != "frame":
            continue
        fe = frame.queryComponent().getExtents(pyatspi.WINDOW_COORDS)
        for acc in walk(frame):
            try:
                if acc.getRoleName() == role and (acc.name or "").startswith(name):
                    e = acc.queryComponent().getExtents(pyatspi.WINDOW_COORDS)
                    print(e.x, e.y, e.width, e.height, fe.width, fe.height)
                    return 0
            except Exception:  # an object that went away while we looked
                continue
    print(f"no {role!r} named {name!r}...")
    return 1


if __name__ == "__main__":
    sys.exit(main())
