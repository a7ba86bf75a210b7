"""`lumen-compositor --nested` inside a real parent X server (Xvfb; GLES on Mesa llvmpipe through EGL/X11):
a real Wayland client's pixels reach both the nested compositor's frames (control socket) and the parent's
screen (`xwd -root`); the same inside a headless lumen-compositor as the Wayland parent (GLES child, the
parent's frame dump); X input sent to the window with xdotool (XTEST) reaches the nested client (wev's log);
resizing the window resizes the output; a headless output keeps working beside the window.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from test_compositor import Session, colorful, compositor_bin, session_factory  # noqa: F401  (fixture)
from waits import wait_until

TITLE = "lumen (nested)"



class Xvfb:
    """A private parent X server; picks its own free display number (-displayfd)."""

    def __init__(self, tmp: Path):
        r, w = os.pipe()
        self.log = open(tmp / "xvfb.log", "wb")
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(w), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
            pass_fds=(w,), stdout=self.log, stderr=self.log,
        )
        os.close(w)
        with os.fdopen(r) as f:
            num = f.readline().strip()
        if not num:
            self.proc.kill()
            raise RuntimeError(f"Xvfb did not start: {(tmp / 'xvfb.log').read_text()[-2000:]}")
        self.display = f":{num}"

    def env(self) -> dict:
        e = dict(os.environ)
        e["DISPLAY"] = self.display
        e.pop("WAYLAND_DISPLAY", None)
        return e

    def xdotool(self, *args: str) -> str:
        return subprocess.run(["xdotool", *args], env=self.env(), check=True, capture_output=True,
                              text=True, timeout=20).stdout.strip()

    def screenshot(self) -> np.ndarray:
        """The whole root window as an RGB array (parsed from xwd's ZPixmap output)."""
        data = subprocess.run(["xwd", "-root", "-silent", "-display", self.display], check=True,
                              capture_output=True, timeout=20).stdout
        hdr = np.frombuffer(data[:100], dtype=">u4")
        header_size, fmt, depth, width, height = int(hdr[0]), int(hdr[2]), int(hdr[3]), int(hdr[4]), int(hdr[5])
        byte_order, bpp, bpl, ncolors = int(hdr[7]), int(hdr[11]), int(hdr[12]), int(hdr[19])
        assert fmt == 2 and bpp == 32 and depth == 24, (fmt, bpp, depth)
        off = header_size + ncolors * 12
        px = np.frombuffer(data[off:off + bpl * height], dtype=np.uint8).reshape(height, bpl)[:, :width * 4]
        px = px.reshape(height, width, 4)
        # LSBFirst (0): bytes are B, G, R, X in memory.
        return px[..., [2, 1, 0]] if byte_order == 0 else px[..., [1, 2, 3]]

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class NestedSession(Session):
    """lumen-compositor --nested on the parent X server, with its control socket."""

    def __init__(self, tmp: Path, parent_env: dict, *, size: str, outputs=(), renderer: str = "pixman"):
        self.tmp = tmp
        self.rt = tmp / "rt"
        self.rt.mkdir(mode=0o700, exist_ok=True)
        self.ctl_path = tmp / "ctl.sock"
        self.log_path = tmp / "compositor.log"
        env = dict(parent_env)
        env["XDG_RUNTIME_DIR"] = str(self.rt)
        env.setdefault("RUST_LOG", "info")
        cmd = [str(compositor_bin()), "--renderer", renderer, "--control", str(self.ctl_path),
               "--socket", "lumen-nested", "--hide-cursor", "--nested", "--nested-size", size]
        for o in outputs:
            cmd += ["--output", o]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, env=env)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("WAYLAND_DISPLAY="):
            self.proc.kill()
            raise RuntimeError(f"compositor did not start: {line!r}\n{self.log_path.read_text()[-3000:]}")
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(str(self.ctl_path))
        self.rfile = self.sock.makefile("rb")


@pytest.fixture
def parent(tmp_path):
    if shutil.which("Xvfb") is None or shutil.which("xdotool") is None:
        pytest.fail("needs xvfb and xdotool: run scripts/setup.sh (scripts/deps/compositor.apt)")
    x = Xvfb(tmp_path)
    yield x
    x.close()


@pytest.fixture
def nested_factory(tmp_path, parent):
    sessions = []

    def make(**kw):
        sub = tmp_path / f"n{len(sessions)}"
        sub.mkdir()
        s = NestedSession(sub, parent.env(), **kw)
        sessions.append(s)
        return s

    yield make
    for s in sessions:
        s.close()


def window_id(x: Xvfb, timeout: float = 20.0) -> str:
    # xdotool search exits 1 while no window matches.
    ids = wait_until(lambda: x.xdotool("search", "--name", TITLE.replace("(", r"\(").replace(")", r"\)")).split(),
                     timeout, "the nested window on the parent display", interval=0.1,
                     ignore=(subprocess.CalledProcessError,))
    return ids[0]


def window_origin(x: Xvfb, wid: str) -> tuple[int, int]:
    geo = dict(line.split("=", 1) for line in x.xdotool("getwindowgeometry", "--shell", wid).splitlines())
    return int(geo["X"]), int(geo["Y"])


def rings(region: np.ndarray) -> bool:
    # weston-simple-shm's concentric coloured rings (250x250 at the output's origin).
    return colorful(region) > 100


def test_nested_window_shows_client_and_headless_output_keeps_working(nested_factory, parent):
    s = nested_factory(size="800x600@60", outputs=("320x240@30",))
    wid = window_id(parent)
    # Output 0 is the headless one; the window's output (1) is the newest, so the client goes there.
    s.cmd("launch weston-simple-shm")
    s.wait_windows(1)
    f = s.wait_frame(1, lambda f: rings(f[30:220, 30:220, :3]), timeout=20)
    assert f.shape == (600, 800, 4), f.shape

    # The same pixels on the parent's screen, inside the nested window.
    def parent_shows_rings():
        ox, oy = window_origin(parent, wid)
        shot = parent.screenshot()
        return rings(shot[oy + 30:oy + 220, ox + 30:ox + 220])
    wait_until(parent_shows_rings, 20, "the client on the parent screen", interval=0.1, detail=s.log_tail)

    # Nothing but black outside the client on the parent (the window is not garbage).
    ox, oy = window_origin(parent, wid)
    shot = parent.screenshot()
    assert shot[oy + 400:oy + 580, ox + 500:ox + 780].max() == 0

    # The headless output beside the window still ticks at its own rate.
    a = s.stats(0)["ticks"]
    time.sleep(1.0)  # a measurement window (ticks counted over 1 s), not a wait
    b = s.stats(0)["ticks"]
    assert 20 <= b - a <= 40, (a, b)


def test_parent_input_reaches_nested_client(nested_factory, parent, tmp_path):
    s = nested_factory(size="640x480@60")
    wid = window_id(parent)
    log = tmp_path / "wev.log"
    s.cmd(f"launch stdbuf -oL wev > {log} 2>&1")
    s.wait_windows(1)
    # wev has committed its first buffer (the compositor gives it the keyboard focus then): it is mapped
    # under the pointer's target position.
    wait_until(lambda: log.read_text(errors="replace"), 10, "wev's keyboard focus",
               until=lambda t: "wl_keyboard] enter" in t, describe=lambda t: t[-2000:], detail=s.log_tail)
    parent.xdotool("windowfocus", "--sync", wid)
    parent.xdotool("mousemove", "--window", wid, "120", "90")
    parent.xdotool("click", "1")
    parent.xdotool("key", "a")
    parent.xdotool("click", "5")

    def seen():
        text = log.read_text(errors="replace")
        return text if ("wl_pointer] button" in text and "wl_keyboard] key" in text
                        and "wl_pointer] axis" in text) else None
    text = wait_until(seen, 15, "the parent's input in wev's log", interval=0.1,
                      detail=lambda: f"{log.read_text(errors='replace')[-3000:]}\n{s.log_tail()}")
    # The pointer entered at the position inside the window (output pixels = window pixels).
    assert "x, y: 120.000000, 90.000000" in text, text[-3000:]
    assert "button: 272 (left), state: 1 (pressed)" in text
    # "a": evdev 30, which wev prints as xkb keycode 38, and the client's keymap makes it 'a'.
    assert "key: 38; state: 1 (pressed)" in text and "utf8: 'a'" in text
    # Wheel down (X button 5) → positive vertical axis in Wayland.
    assert "axis: 0 (vertical), value: 15.000000" in text


def test_window_resize_resizes_the_output(nested_factory, parent):
    s = nested_factory(size="640x480@60")
    wid = window_id(parent)
    s.cmd("launch weston-simple-shm")
    s.wait_windows(1)
    s.wait_frame(0, lambda f: f.shape == (480, 640, 4) and rings(f[30:220, 30:220, :3]), timeout=20)
    parent.xdotool("windowsize", "--sync", wid, "900", "500")
    f = s.wait_frame(0, lambda f: f.shape == (500, 900, 4) and rings(f[30:220, 30:220, :3]), timeout=20)
    assert f.shape == (500, 900, 4)

    def parent_shows_rings():
        ox, oy = window_origin(parent, wid)
        shot = parent.screenshot()
        return rings(shot[oy + 30:oy + 220, ox + 30:ox + 220])
    wait_until(parent_shows_rings, 20, "the client on the parent screen after the resize", interval=0.1,
               detail=s.log_tail)


def test_nested_on_a_wayland_parent(session_factory, tmp_path):
    """A headless lumen-compositor is the parent desktop; the nested one (GLES renderer, winit on Wayland)
    is one of its windows. The parent maximises it, so the nested output follows to 1280x720."""
    parent = session_factory(args=["--hide-cursor"])
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env["WAYLAND_DISPLAY"] = str(parent.rt / "lumen-test")
    sub = tmp_path / "child"
    sub.mkdir()
    child = NestedSession(sub, env, size="800x600@60", renderer="gles")
    try:
        parent.wait_windows(1)
        child.cmd("launch weston-simple-shm")
        child.wait_windows(1)
        f = child.wait_frame(0, lambda f: f.shape == (720, 1280, 4) and rings(f[30:220, 30:220, :3]), timeout=20)
        assert f[400:700, 600:1200, :3].max() == 0
        p = parent.wait_frame(0, lambda f: rings(f[30:220, 30:220, :3]), timeout=20)
        # Exactly the client's 250x250 is non-black on the parent: the child's frame arrived unscaled.
        ys, xs = np.nonzero(p[..., :3].max(axis=2))
        assert ys.max() < 260 and xs.max() < 260, (ys.max(), xs.max())
    finally:
        child.close()
