"""Relative motion to a client with a locked pointer. No Debian client locks the pointer, so this file
carries a small Wayland client of its own that speaks the wire protocol directly (message layouts read
from the protocol XML of libwayland-dev / wayland-protocols): it maps a window, locks the pointer on it
(zwp_pointer_constraints_v1) and records zwp_relative_pointer_v1 and wl_pointer events; the same client
checks pen samples (tablet-v2), text that is not on the keymap (text-input-v3) and the advertised globals."""

from __future__ import annotations

import array
import mmap
import os
import socket
import struct
import time
import xml.etree.ElementTree as ET

from test_compositor import session_factory  # noqa: F401  (fixture)

XML = [
    "/usr/share/wayland/wayland.xml",
    "/usr/share/wayland-protocols/stable/xdg-shell/xdg-shell.xml",
    "/usr/share/wayland-protocols/unstable/pointer-constraints/pointer-constraints-unstable-v1.xml",
    "/usr/share/wayland-protocols/unstable/relative-pointer/relative-pointer-unstable-v1.xml",
    "/usr/share/wayland-protocols/unstable/tablet/tablet-unstable-v2.xml",
    "/usr/share/wayland-protocols/unstable/text-input/text-input-unstable-v3.xml",
]


def load_protocols():
    ifaces = {}
    for path in XML:
        for iface in ET.parse(path).getroot().iter("interface"):
            reqs = {r.get("name"): (i, [(a.get("type"), a.get("interface")) for a in r.iter("arg")])
                    for i, r in enumerate(iface.iter("request"))}
            evs = [(e.get("name"), [(a.get("name"), a.get("type"), a.get("interface")) for a in e.iter("arg")])
                   for e in iface.iter("event")]
            ifaces[iface.get("name")] = (reqs, evs)
    return ifaces


class WireClient:
    def __init__(self, path: str):
        self.proto = load_protocols()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.objects = {1: "wl_display"}
        self.next_id = 2
        self.buf = b""
        self.events = []  # (interface, event, args)
        self.globals = {}

    def new(self, iface: str) -> int:
        oid = self.next_id
        self.next_id += 1
        self.objects[oid] = iface
        return oid

    def send(self, oid: int, request: str, *args, fds=()):
        opcode, sig = self.proto[self.objects[oid]][0][request]
        body = b""
        values = iter(args)
        for typ, _iface in sig:
            if typ == "fd":
                continue  # travels as SCM_RIGHTS
            val = next(values)
            if typ in ("int",):
                body += struct.pack("<i", val)
            elif typ in ("uint", "object", "new_id"):
                body += struct.pack("<I", val)
            elif typ == "fixed":
                body += struct.pack("<i", int(val * 256))
            elif typ == "string":
                s = val.encode() + b"\0"
                body += struct.pack("<I", len(s)) + s + b"\0" * (-len(s) % 4)
            else:
                raise ValueError(typ)
        msg = struct.pack("<II", oid, ((8 + len(body)) << 16) | opcode) + body
        if fds:
            self.sock.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
        else:
            self.sock.sendall(msg)

    def bind(self, iface: str, version: int) -> int:
        name, _ver = self.globals[iface]
        oid = self.new(iface)
        # wl_registry.bind(name, new_id without interface = interface string, version, id)
        s = iface.encode() + b"\0"
        body = struct.pack("<I", name) + struct.pack("<I", len(s)) + s + b"\0" * (-len(s) % 4)
        body += struct.pack("<II", version, oid)
        self.sock.sendall(struct.pack("<II", self.registry, ((8 + len(body)) << 16) | 0) + body)
        return oid

    def dispatch(self, timeout: float = 0.1):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            data = b""
        else:
            if not data:
                raise ConnectionError(f"compositor closed the connection; last events {self.events[-5:]}")
        self.buf += data
        while len(self.buf) >= 8:
            oid, word = struct.unpack_from("<II", self.buf)
            size, opcode = word >> 16, word & 0xFFFF
            if len(self.buf) < size:
                break
            payload, self.buf = self.buf[8:size], self.buf[size:]
            iface = self.objects.get(oid)
            if iface is None:
                continue
            name, sig = self.proto[iface][1][opcode]
            args, off = {}, 0
            for aname, typ, aiface in sig:
                if typ == "new_id" and aiface:
                    # An object the compositor created (e.g. a tablet tool): track its interface.
                    args[aname] = struct.unpack_from("<I", payload, off)[0]; off += 4
                    self.objects[args[aname]] = aiface
                elif typ in ("int",):
                    args[aname] = struct.unpack_from("<i", payload, off)[0]; off += 4
                elif typ in ("uint", "object", "new_id"):
                    args[aname] = struct.unpack_from("<I", payload, off)[0]; off += 4
                elif typ == "fixed":
                    args[aname] = struct.unpack_from("<i", payload, off)[0] / 256.0; off += 4
                elif typ in ("string", "array"):
                    n = struct.unpack_from("<I", payload, off)[0]; off += 4
                    raw = payload[off:off + n]; off += n + (-n % 4)
                    args[aname] = raw.rstrip(b"\0").decode(errors="replace") if typ == "string" else raw
                elif typ == "fd":
                    pass
            self.on_event(oid, iface, name, args)

    def on_event(self, oid, iface, name, args):
        self.events.append((iface, name, args))
        if iface == "wl_display" and name == "error":
            raise RuntimeError(f"wayland error: {args}")
        if iface == "wl_registry" and name == "global":
            self.globals[args["interface"]] = (args["name"], args["version"])
        if iface == "xdg_wm_base" and name == "ping":
            self.send(oid, "pong", args["serial"])

    def roundtrip(self):
        cb = self.new("wl_callback")
        self.send(1, "sync", cb)
        end = time.time() + 10
        while time.time() < end:
            self.dispatch()
            if any(e[0] == "wl_callback" and e[1] == "done" for e in self.events[-50:]):
                self.events = [e for e in self.events if e[0] != "wl_callback"]
                return
        raise TimeoutError(f"roundtrip; events {[(e[0], e[1], e[2]) for e in self.events][-10:]}")

    def wait_for(self, iface: str, name: str, timeout: float = 10.0):
        end = time.time() + timeout
        while time.time() < end:
            for e in self.events:
                if e[0] == iface and e[1] == name:
                    return e[2]
            self.dispatch()
        raise TimeoutError(f"{iface}.{name} never came; got {[(e[0], e[1]) for e in self.events][-20:]}")


def test_relative_motion_reaches_locked_pointer(session_factory):
    s = session_factory(args=["--hide-cursor"])
    c = WireClient(str(s.rt / "lumen-test"))
    c.registry = c.new("wl_registry")
    c.send(1, "get_registry", c.registry)
    c.roundtrip()
    for need in ("wl_compositor", "wl_shm", "xdg_wm_base", "wl_seat", "zwp_pointer_constraints_v1",
                 "zwp_relative_pointer_manager_v1"):
        assert need in c.globals, f"global {need} missing: {sorted(c.globals)}"
    comp = c.bind("wl_compositor", 4)
    shm = c.bind("wl_shm", 1)
    wm = c.bind("xdg_wm_base", 1)
    seat = c.bind("wl_seat", 5)
    constraints = c.bind("zwp_pointer_constraints_v1", 1)
    relmgr = c.bind("zwp_relative_pointer_manager_v1", 1)

    surface = c.new("wl_surface")
    c.send(comp, "create_surface", surface)
    xsurf = c.new("xdg_surface")
    c.send(wm, "get_xdg_surface", xsurf, surface)
    top = c.new("xdg_toplevel")
    c.send(xsurf, "get_toplevel", top)
    c.send(surface, "commit")
    conf = c.wait_for("xdg_surface", "configure")
    tconf = c.wait_for("xdg_toplevel", "configure")
    w, h = tconf["width"] or 1280, tconf["height"] or 720
    assert (w, h) == (1280, 720), "the window fills the output"
    c.send(xsurf, "ack_configure", conf["serial"])

    size = w * h * 4
    fd = os.memfd_create("lumen-test-buffer")
    os.ftruncate(fd, size)
    with mmap.mmap(fd, size) as m:
        m.write(b"\x40\x80\xc0\xff" * (w * h))
    pool = c.new("wl_shm_pool")
    c.send(shm, "create_pool", pool, size, fds=[fd])
    buf = c.new("wl_buffer")
    c.send(pool, "create_buffer", buf, 0, w, h, w * 4, 1)  # XRGB8888
    c.send(surface, "attach", buf, 0, 0)
    c.send(surface, "damage", 0, 0, w, h)
    c.send(surface, "commit")

    pointer = c.new("wl_pointer")
    c.send(seat, "get_pointer", pointer)
    rel = c.new("zwp_relative_pointer_v1")
    c.send(relmgr, "get_relative_pointer", rel, pointer)
    locked = c.new("zwp_locked_pointer_v1")
    c.send(constraints, "lock_pointer", locked, surface, pointer, 0, 2)  # no region, persistent
    c.send(surface, "commit")
    c.roundtrip()
    s.wait_windows(1)
    # The window's pixels reach the frames (B,G,R = 0x40,0x80,0xc0 → RGB c0 80 40).
    s.wait_frame(0, lambda f: (f[360, 640, :3] == [0xC0, 0x80, 0x40]).all())

    # Move the pointer onto the window: it enters and the lock activates.
    s.cmd("motion 0 640 360 1279 719")
    c.wait_for("wl_pointer", "enter")
    c.wait_for("zwp_locked_pointer_v1", "locked")
    c.events.clear()
    s.cmd("rel 0 7 3")
    s.cmd("rel 0 -2 5")
    s.cmd("motion 0 10 10 1279 719")  # absolute motion must not move a locked pointer
    end = time.time() + 10
    while time.time() < end and sum(1 for e in c.events if e[1] == "relative_motion") < 2:
        c.dispatch()
    c.roundtrip()
    rels = [(e[2]["dx"], e[2]["dy"], e[2]["dx_unaccel"], e[2]["dy_unaccel"]) for e in c.events if e[1] == "relative_motion"]
    assert rels == [(7.0, 3.0, 7.0, 3.0), (-2.0, 5.0, -2.0, 5.0)], c.events
    assert not [e for e in c.events if e[0] == "wl_pointer" and e[1] in ("motion", "leave")], \
        "a locked pointer must not report motion"
    c.sock.close()
    os.close(fd)


def test_pen_reaches_tablet_v2_client(session_factory):
    s = session_factory(args=["--hide-cursor"])
    c = WireClient(str(s.rt / "lumen-test"))
    c.registry = c.new("wl_registry")
    c.send(1, "get_registry", c.registry)
    c.roundtrip()
    assert "zwp_tablet_manager_v2" in c.globals
    comp = c.bind("wl_compositor", 4)
    shm = c.bind("wl_shm", 1)
    wm = c.bind("xdg_wm_base", 1)
    seat = c.bind("wl_seat", 5)
    tablets = c.bind("zwp_tablet_manager_v2", 1)
    tseat = c.new("zwp_tablet_seat_v2")
    c.send(tablets, "get_tablet_seat", tseat, seat)
    surface = c.new("wl_surface")
    c.send(comp, "create_surface", surface)
    xsurf = c.new("xdg_surface")
    c.send(wm, "get_xdg_surface", xsurf, surface)
    top = c.new("xdg_toplevel")
    c.send(xsurf, "get_toplevel", top)
    c.send(surface, "commit")
    conf = c.wait_for("xdg_surface", "configure")
    c.send(xsurf, "ack_configure", conf["serial"])
    w, h = 1280, 720
    fd = os.memfd_create("lumen-test-buffer")
    os.ftruncate(fd, w * h * 4)
    pool = c.new("wl_shm_pool")
    c.send(shm, "create_pool", pool, w * h * 4, fds=[fd])
    buf = c.new("wl_buffer")
    c.send(pool, "create_buffer", buf, 0, w, h, w * 4, 1)
    c.send(surface, "attach", buf, 0, 0)
    c.send(surface, "damage", 0, 0, w, h)
    c.send(surface, "commit")
    c.roundtrip()
    s.wait_windows(1)
    s.wait_frame(0, lambda f: True)
    c.events.clear()
    s.cmd("pen 0 hover 0.5 0.5 0.2")
    s.cmd("pen 0 down 0.5 0.5 0.75")
    s.cmd("pen 0 move 0.25 0.5 0.5")
    s.cmd("pen 0 up 0.25 0.5 0.0")
    s.cmd("pen 0 leave 0.25 0.5 0.0")
    c.wait_for("zwp_tablet_tool_v2", "proximity_out")
    c.roundtrip()
    names = [e[1] for e in c.events if e[0] == "zwp_tablet_tool_v2"]
    assert any(e[0] == "zwp_tablet_seat_v2" and e[1] == "tablet_added" for e in c.events)
    assert any(e[0] == "zwp_tablet_seat_v2" and e[1] == "tool_added" for e in c.events)
    for ev in ("proximity_in", "down", "motion", "pressure", "up", "proximity_out", "frame"):
        assert ev in names, (ev, names)
    motions = [e[2] for e in c.events if e[0] == "zwp_tablet_tool_v2" and e[1] == "motion"]
    # Surface-local coordinates: the window fills the 1280x720 output at its origin.
    assert any(abs(m["x"] - 0.25 * 1279) < 1 and abs(m["y"] - 0.5 * 719) < 1 for m in motions), motions
    pressures = [e[2]["pressure"] for e in c.events if e[1] == "pressure"]
    assert any(abs(p - 0.75 * 65535) < 2 for p in pressures), pressures
    c.sock.close()
    os.close(fd)


def test_globals_of_issue_5_are_advertised(session_factory):
    s = session_factory()
    c = WireClient(str(s.rt / "lumen-test"))
    c.registry = c.new("wl_registry")
    c.send(1, "get_registry", c.registry)
    c.roundtrip()
    expected = {
        "wl_compositor", "wl_subcompositor", "wl_shm", "xdg_wm_base", "zxdg_decoration_manager_v1",
        "wl_output", "zxdg_output_manager_v1", "wl_seat", "zwp_relative_pointer_manager_v1",
        "zwp_pointer_constraints_v1", "wp_presentation", "wp_viewporter", "wp_fractional_scale_manager_v1",
        "wl_data_device_manager", "zwp_primary_selection_device_manager_v1", "wp_cursor_shape_manager_v1",
        "xdg_activation_v1", "zwp_idle_inhibit_manager_v1", "zwp_tablet_manager_v2", "zwp_text_input_manager_v3",
        "wp_fifo_manager_v1", "wp_commit_timing_manager_v1", "zwp_linux_dmabuf_v1", "wp_single_pixel_buffer_manager_v1",
    }
    missing = expected - set(c.globals)
    assert not missing, f"missing globals: {sorted(missing)}"
    # Without a render node the dmabuf global is v3 (v4 needs a main device for feedback).
    assert c.globals["zwp_linux_dmabuf_v1"][1] == 3
    assert c.globals["wl_seat"][1] >= 5
    c.sock.close()


def mapped_client(s, extra=()):
    """A WireClient with a 1280x720 window mapped (and keyboard-focused on its first buffer)."""
    c = WireClient(str(s.rt / "lumen-test"))
    c.registry = c.new("wl_registry")
    c.send(1, "get_registry", c.registry)
    c.roundtrip()
    comp = c.bind("wl_compositor", 4)
    shm = c.bind("wl_shm", 1)
    wm = c.bind("xdg_wm_base", 1)
    c.seat = c.bind("wl_seat", 5)
    c.extra = {name: c.bind(name, ver) for name, ver in extra}
    c.surface = c.new("wl_surface")
    c.send(comp, "create_surface", c.surface)
    xsurf = c.new("xdg_surface")
    c.send(wm, "get_xdg_surface", xsurf, c.surface)
    top = c.new("xdg_toplevel")
    c.send(xsurf, "get_toplevel", top)
    c.send(c.surface, "commit")
    conf = c.wait_for("xdg_surface", "configure")
    c.send(xsurf, "ack_configure", conf["serial"])
    w, h = 1280, 720
    c.fd = os.memfd_create("lumen-test-buffer")
    os.ftruncate(c.fd, w * h * 4)
    pool = c.new("wl_shm_pool")
    c.send(shm, "create_pool", pool, w * h * 4, fds=[c.fd])
    buf = c.new("wl_buffer")
    c.send(pool, "create_buffer", buf, 0, w, h, w * 4, 1)
    return c, buf


def test_text_not_on_the_keymap_goes_through_a_one_character_keymap(session_factory):
    s = session_factory(args=["--hide-cursor"])
    c, buf = mapped_client(s)
    kb = c.new("wl_keyboard")
    c.send(c.seat, "get_keyboard", kb)
    c.send(c.surface, "attach", buf, 0, 0)
    c.send(c.surface, "commit")
    c.roundtrip()
    s.wait_windows(1)
    c.wait_for("wl_keyboard", "enter")
    c.roundtrip()
    c.events.clear()
    s.cmd("text жa")  # 'ж' is not on the US keymap, 'a' is
    deadline = time.monotonic() + 10  # an event with a deadline: the four key events arrive
    while time.monotonic() < deadline and len([e for e in c.events if e[1] == "key"]) < 4:
        c.roundtrip()
    kinds = [(e[0], e[1]) for e in c.events if e[0] == "wl_keyboard" and e[1] in ("keymap", "key")]
    keys = [(e[2]["key"], e[2]["state"]) for e in c.events if e[0] == "wl_keyboard" and e[1] == "key"]
    # 'ж': a keymap with it on the spare key 240, the key down and up, the seat's keymap back; then 'a' (30).
    assert keys == [(240, 1), (240, 0), (30, 1), (30, 0)], c.events
    assert kinds[:4] == [("wl_keyboard", "keymap"), ("wl_keyboard", "key"), ("wl_keyboard", "key"),
                         ("wl_keyboard", "keymap")], kinds
    c.sock.close()
    os.close(c.fd)
