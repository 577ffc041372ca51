#!/usr/bin/python3
"""dbus-action.py PID OBJECT_PATH ACTION VALUE: set the state of the stateful string action
ACTION (e.g. "device") of the window the process PID exports at OBJECT_PATH (e.g.
/org/strata/Workbench/window/1) on the session bus, as a menu's radio item would. GApplication
exports its windows' actions on D-Bus even with G_APPLICATION_NON_UNIQUE; the process is
found by its pid among the bus's connections. Exit 0 once sent, 1 when PID has no connection
exporting the action."""
import sys
import time

from gi.repository import Gio, GLib


def main():
    pid, path, action, value = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    call = lambda method, args, reply: bus.call_sync(
        "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", method, args,
        GLib.VariantType(reply), Gio.DBusCallFlags.NONE, -1, None).unpack()[0]
    for _ in range(50):
        for name in call("ListNames", None, "(as)"):
            if not name.startswith(":"):
                continue
            try:
                if call("GetConnectionUnixProcessID", GLib.Variant("(s)", (name,)), "(u)") != pid:
                    continue
                group = bus.call_sync(name, path, "org.gtk.Actions", "List", None, GLib.VariantType("(as)"),
                                      Gio.DBusCallFlags.NONE, -1, None).unpack()[0]
            except GLib.Error:
                continue
            if action in group:
                bus.call_sync(name, path, "org.gtk.Actions", "SetState",
                              GLib.Variant("(sva{sv})", (action, GLib.Variant("s", value), {})), None,
                              Gio.DBusCallFlags.NONE, -1, None)
                return 0
        time.sleep(0.2)
    print(f"no connection of pid {pid} exports {action} at {path}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
