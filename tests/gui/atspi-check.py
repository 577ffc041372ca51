#!/usr/bin/python3
"""atspi-check.py APP LAYER: the window's controls are reachable by their accessible names
and the Layer slider reads LAYER. Exit 0 when all hold."""
import sys

from atspi_tree import find_app, walk


def main():
    name, layer = sys.argv[1], float(sys.argv[2])
    app = find_app(name, 10)
    if app is None:
        print("app not on the accessibility bus")
        return 1
    found = {}
    for acc in walk(app):
        found.setdefault((acc.getRoleName(), acc.name), acc)
    ok = True
    for role, label in (("slider", "Layer"), ("spin button", "Position"), ("push button", "Run"),
                        ("push button", "Export")):
        hit = found.get((role, label))
        print(f"{role} {label!r}: {'found' if hit else 'MISSING'}")
        ok = ok and hit is not None
    slider = found.get(("slider", "Layer"))
    if slider is not None:
        value = slider.queryValue().currentValue
        print(f"Layer value {value}")
        ok = ok and abs(value - layer) < 1e-6
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
