"""atspi_tree.py: what the atspi-*.py helpers share, the accessible tree of one application
on the accessibility bus."""
import time

import pyatspi


def walk(acc, depth=0):
    """acc and everything below it, depth first (40 levels at most)."""
    yield acc
    if depth > 40:
        return
    for i in range(acc.childCount):
        child = acc.getChildAtIndex(i)
        if child is not None:
            yield from walk(child, depth + 1)


def find_app(name, wait_s):
    """The newest application called `name` (it is listed last), waiting up to wait_s
    seconds for it to appear; None when it does not."""
    end = time.monotonic() + wait_s
    while True:
        app = None
        for a in pyatspi.Registry.getDesktop(0):
            if a is not None and a.name == name:
                app = a
        if app is not None or time.monotonic() >= end:
            return app
        time.sleep(0.2)
