"""lumen-compositor with real Debian Wayland clients: pixels checked in the frames that leave the
compositor (read back through the control socket), frame pacing, outputs at run time, crashes, shutdown.

Every test starts its own compositor with a private XDG_RUNTIME_DIR, Wayland socket and control socket.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from waits import wait_until


def _bin_dir() -> Path:
    d = os.environ.get("LUMEN_BIN_DIR")
    if d:
        return Path(d)
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/lumen/target"))
    return Path(target) / "debug"


def compositor_bin() -> Path:
    b = _bin_dir() / "lumen-compositor"
    if not b.exists():
        pytest.fail(f"{b} not found: build it first (cargo build -p lumen-compositor) or set LUMEN_BIN_DIR")
    return b


class Session:
    """A running lumen-compositor and its control socket."""

    def __init__(self, tmp: Path, *, renderer: str = "pixman", outputs=("1280x720@60",), args=(), apps=()):
        self.tmp = tmp
        self.rt = tmp / "rt"
        self.rt.mkdir(mode=0o700, exist_ok=True)
        self.ctl_path = tmp / "ctl.sock"
        self.log_path = tmp / "compositor.log"
        env = dict(os.environ)
        env["XDG_RUNTIME_DIR"] = str(self.rt)
        env["GSK_RENDERER"] = "cairo"
        env.pop("WAYLAND_DISPLAY", None)
        env.pop("DISPLAY", None)
        env.setdefault("RUST_LOG", "info")
        cmd = [str(compositor_bin()), "--renderer", renderer, "--control", str(self.ctl_path), "--socket", "lumen-test"]
        if outputs:
            for o in outputs:
                cmd += ["--output", o]
        else:
            cmd.append("--no-output")
        for a in apps:
            cmd += ["--app", a]
        cmd += list(args)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, env=env)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("WAYLAND_DISPLAY="):
            self.proc.kill()
            raise RuntimeError(f"compositor did not start: {line!r}\n{self.log_path.read_text()[-3000:]}")
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(str(self.ctl_path))
        self.rfile = self.sock.makefile("rb")

    def cmd(self, line: str) -> str:
        self.sock.sendall(line.encode() + b"\n")
        reply = self.rfile.readline().decode().rstrip("\n")
        if not reply.startswith("ok"):
            raise RuntimeError(f"{line!r} -> {reply!r}")
        return reply[3:]

    def stats(self, out: int = 0) -> dict:
        return {k: int(v) for k, v in (kv.split("=") for kv in self.cmd(f"stats {out}").split())}

    def windows(self) -> list[str]:
        parts = self.cmd("windows").split()
        return parts[1:]

    def wait_windows(self, n: int, timeout: float = 20.0) -> list[str]:
        return wait_until(self.windows, timeout, f"{n} window(s)", until=lambda w: len(w) == n,
                          detail=self.log_tail)

    def frame(self, out: int = 0) -> np.ndarray:
        path = self.tmp / f"frame{out}.rgba"
        size = self.cmd(f"dump {out} {path}")
        w, h = (int(x) for x in size.split("x"))
        return np.fromfile(path, dtype=np.uint8).reshape(h, w, 4)

    def wait_frame(self, out: int, pred, timeout: float = 20.0, what: str = "a matching frame") -> np.ndarray:
        """Poll frames (dumped through the control socket) until `pred(frame)` holds."""
        return wait_until(lambda: self.frame(out), timeout, f"{what} on output {out}", until=pred,
                          interval=0.1, describe=describe_frame, detail=self.log_tail, ignore=(RuntimeError,))

    def wait_frames_settle(self, out: int = 0, beyond: int = 0, quiet: float = 0.5, timeout: float = 20.0) -> dict:
        """Waits until output `out` has rendered more than `beyond` frames and then none for `quiet` seconds
        (its clients finished drawing: the compositor renders only on damage); returns the stats."""
        seen = {"frames": None, "since": time.monotonic()}

        def settled(st: dict) -> bool:
            now = time.monotonic()
            if st["frames"] != seen["frames"]:
                seen.update(frames=st["frames"], since=now)
            return st["frames"] > beyond and now - seen["since"] >= quiet
        return wait_until(lambda: self.stats(out), timeout,
                          f"output {out} to render past frame {beyond} and then stop for {quiet} s",
                          until=settled, interval=0.02, detail=self.log_tail)

    def log_tail(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.sock.sendall(b"quit\n")
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.sock.close()
        self.log.close()


@pytest.fixture
def session_factory(tmp_path):
    sessions = []

    def make(**kw):
        sub = tmp_path / f"s{len(sessions)}"
        sub.mkdir()
        s = Session(sub, **kw)
        sessions.append(s)
        return s

    yield make
    for s in sessions:
        s.close()


def describe_frame(f: np.ndarray) -> str:
    """A frame in one line (for timeout messages)."""
    return f"frame {f.shape}, mean {f[..., :3].mean():.1f}, {colorful(f)} colours"


def colorful(region: np.ndarray) -> int:
    """Number of distinct RGB colours in a region."""
    rgb = region[..., :3].reshape(-1, 3)
    return len(np.unique(rgb.view(np.dtype((np.void, 3))).ravel()))


def simple_shm_drawn(f: np.ndarray) -> bool:
    # weston-simple-shm draws a 250x250 window of concentric coloured rings at the output's origin.
    return colorful(f[30:220, 30:220]) > 100


@pytest.mark.parametrize("renderer", ["pixman", "gles"])
def test_weston_simple_shm_pixels(session_factory, renderer):
    s = session_factory(renderer=renderer, args=["--hide-cursor"])
    s.cmd("launch weston-simple-shm")
    s.wait_windows(1)
    f = s.wait_frame(0, simple_shm_drawn)
    assert f.shape == (720, 1280, 4)
    # Everything right of and below the 250x250 window is the black background.
    assert not f[:, 300:, :3].any()
    assert not f[300:, :, :3].any()


def test_foot_renders_text(session_factory):
    s = session_factory(args=["--hide-cursor"])
    s.cmd("launch foot")
    s.wait_windows(1)
    # foot fills the output (maximized) with its dark background and draws a prompt.
    f = s.wait_frame(0, lambda f: (f[700, 1270, :3] == f[5, 5, :3]).all() and colorful(f[:40, :400]) > 2)
    bg = f[360, 1000, :3]
    assert (f[700, 1270, :3] == bg).all(), "foot does not fill the output"


def test_gtk4_demo_cairo_renders(session_factory):
    s = session_factory(args=["--hide-cursor"])
    s.cmd("launch gtk4-demo")
    s.wait_windows(1)
    # The demo window fills 1280x720: its sidebar list and the content pane are drawn (many colours, not black).
    f = s.wait_frame(0, lambda f: colorful(f) > 50 and f[..., :3].mean() > 100, timeout=40)
    assert f[700, 1270, :3].any(), "gtk4-demo does not reach the bottom-right corner"


def test_undamaged_output_produces_no_frames(session_factory):
    s = session_factory(args=["--hide-cursor"])
    a = s.wait_frames_settle()  # the output's first (black) frame, then nothing
    time.sleep(1.0)  # a measurement window (ticks go on, frames must not), not a wait
    b = s.stats()
    assert b["ticks"] - a["ticks"] >= 50, (a, b)
    assert b["frames"] == a["frames"], f"frames produced without damage: {a} -> {b}"
    # A static client: frames stop once it has drawn.
    s.cmd("launch stdbuf -oL wev")
    s.wait_windows(1)
    c = s.wait_frames_settle(beyond=b["frames"])  # wev has drawn (and redrawn on focus), then nothing
    time.sleep(1.0)  # a measurement window, not a wait
    d = s.stats()
    assert d["frames"] == c["frames"], f"static client keeps producing frames: {c} -> {d}"
    assert d["ticks"] - c["ticks"] >= 50


def test_animating_client_gets_60_fps(session_factory):
    s = session_factory(outputs=("1280x720@60",), args=["--hide-cursor"])
    s.cmd("launch weston-simple-shm")
    s.wait_windows(1)
    s.wait_frame(0, simple_shm_drawn)
    a, ta = s.stats(), time.monotonic()
    time.sleep(4.0)  # a measurement window (frames counted over 4 s), not a wait
    b, tb = s.stats(), time.monotonic()
    fps = (b["frames"] - a["frames"]) / (tb - ta)
    tick_rate = (b["ticks"] - a["ticks"]) / (tb - ta)
    assert 59.0 <= fps <= 61.0, f"{fps:.2f} frames/s (ticks {tick_rate:.2f}/s)"


def test_two_outputs_and_runtime_add_remove(session_factory):
    s = session_factory(outputs=("1280x720@60", "800x600@30"), args=["--hide-cursor"])
    assert s.cmd("outputs") == "0=1280x720@60.000 1=800x600@30.000"
    new = int(s.cmd("output-add 640x480@60"))
    assert new == 2
    s.cmd("launch weston-simple-shm")
    assert s.wait_windows(1) == ["2"], "a new window goes to the newest output"
    f2 = s.wait_frame(2, simple_shm_drawn)
    assert f2.shape == (480, 640, 4)
    # Output 1 renders too (its first frame, black) at its own size.
    f1 = s.frame(1)
    assert f1.shape == (600, 800, 4) and not f1[..., :3].any()
    s.cmd("output-remove 2")
    assert s.cmd("outputs") == "0=1280x720@60.000 1=800x600@30.000"
    assert s.wait_windows(1) == ["1"], "windows of a removed output move to another one"
    f1 = s.wait_frame(1, simple_shm_drawn)
    assert f1.shape == (600, 800, 4)
    with pytest.raises(RuntimeError):
        s.cmd("stats 2")


def test_killed_client_leaves_session_running(session_factory, tmp_path):
    s = session_factory(args=["--hide-cursor"])
    pidfile = tmp_path / "pid"
    s.cmd(f"launch echo $$ > {pidfile}; exec weston-simple-shm")
    s.wait_windows(1)
    s.wait_frame(0, simple_shm_drawn)
    os.kill(int(pidfile.read_text()), signal.SIGKILL)
    s.wait_windows(0)
    a = s.stats()
    wait_until(s.stats, 5, "the output to keep ticking after the client was killed",
               until=lambda st: st["ticks"] > a["ticks"], detail=s.log_tail)
    # The window's pixels are gone from the next frame, and a new client still works.
    s.wait_frame(0, lambda f: not f[..., :3].any())
    s.cmd("launch weston-simple-shm")
    s.wait_windows(1)
    s.wait_frame(0, simple_shm_drawn)


def test_sigterm_shuts_down_cleanly_and_stops_apps(session_factory, tmp_path):
    pidfile = tmp_path / "app.pid"
    s = session_factory(apps=[f"echo $$ > {pidfile}; exec sleep 600"])
    # The file exists before the shell has written the pid into it: wait for the whole line.
    pid = int(wait_until(lambda: pidfile.read_text() if pidfile.exists() else "", 10, "the app's pid file",
                         until=lambda t: t.endswith("\n"), detail=s.log_tail))
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(10) == 0

    def app_gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    wait_until(app_gone, 5, f"the app (pid {pid}) to be gone after the session's exit", detail=s.log_tail)


def test_session_ends_with_its_apps(session_factory):
    s = session_factory(apps=["sleep 0.5"])
    assert s.proc.wait(15) == 0


def test_cursor_is_composited_and_hideable(session_factory):
    s = session_factory()
    s.cmd("launch weston-simple-shm")
    s.wait_windows(1)
    # Absolute motion to (800, 400) on the 1280x720 plane: the default arrow (black outline, white fill)
    # is drawn with its hotspot there, on the black background.
    s.cmd("motion 0 800 400 1279 719")
    arrow = (slice(400, 419), slice(800, 812))
    f = s.wait_frame(0, lambda f: (f[arrow][..., :3] == 255).all(axis=2).sum() > 30)
    assert (f[400, 800, :3] == 0).all() and (f[405, 802, :3] == 255).all()
    s.cmd("cursor hide")
    s.cmd("motion 0 900 400 1279 719")  # damage so a new frame is rendered
    s.wait_frame(0, lambda f: not f[400:419, 800:812, :3].any() and not f[400:419, 900:912, :3].any())
    s.cmd("cursor show")
    s.cmd("motion 0 800 400 1279 719")
    s.wait_frame(0, lambda f: (f[arrow][..., :3] == 255).all(axis=2).sum() > 30)
