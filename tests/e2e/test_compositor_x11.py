"""X11 apps through Xwayland started by the compositor. Needs Xwayland >= 23.1: scripts/deps/compositor.sh
puts trixie's into $LUMEN_CACHE/xwayland/bin, which these tests put first on PATH."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest

from test_compositor import Session, session_factory  # noqa: F401  (fixture)
from waits import wait_until

XWAYLAND_DIR = Path(os.environ.get("LUMEN_CACHE", str(Path.home() / ".cache/lumen"))) / "xwayland" / "bin"


@pytest.fixture
def new_xwayland(monkeypatch):
    if not (XWAYLAND_DIR / "Xwayland").exists():
        pytest.fail(f"{XWAYLAND_DIR}/Xwayland missing: run scripts/setup.sh (scripts/deps/compositor.sh)")
    monkeypatch.setenv("PATH", f"{XWAYLAND_DIR}:{os.environ['PATH']}")


def display_number(s: Session, timeout: float = 20.0) -> int:
    m = wait_until(lambda: re.search(r"Xwayland ready: DISPLAY=:(\d+)", s.log_tail()), timeout,
                   "Xwayland ready in the compositor log", detail=s.log_tail)
    return int(m.group(1))


def test_x11_client_pixels_and_input(session_factory, new_xwayland, tmp_path):
    s = session_factory(args=["--xwayland", "--hide-cursor"])
    display_number(s)
    s.cmd("launch xclock -update 1 -bg white -fg black -hd black -hl black")
    s.wait_windows(1)
    # xclock fills the output: a white face with black marks and hands.
    f = s.wait_frame(0, lambda f: (f[..., :3] == 255).all(axis=2).mean() > 0.8 and (f[..., :3] < 64).all(axis=2).sum() > 500)
    assert (f[700, 1270, :3] == 255).all()
    # Keyboard and buttons reach an X11 client (xev logs them).
    log = tmp_path / "xev.log"
    s.cmd(f"launch stdbuf -oL xev > {log} 2>&1")
    s.wait_windows(2)
    # xev is on top (unobscured), fills the output, and the window manager has set its state (the last step
    # of mapping it): the pointer and keys sent next land in it.
    wait_until(lambda: log.read_text(errors="replace"), 10, "xev mapped over the output",
               until=lambda t: "VisibilityUnobscured" in t and "width 1280, height 720" in t and "_NET_WM_STATE" in t,
               describe=lambda t: t[-2000:], detail=s.log_tail)
    s.cmd("motion 0 640 360 1279 719")
    s.cmd("button 1 down")
    s.cmd("button 1 up")
    s.cmd("key 0x41 down")
    s.cmd("key 0x41 up")
    text = wait_until(lambda: log.read_text(errors="replace"), 10, "xev's ButtonPress and KeyPress",
                      until=lambda t: "KeyPress" in t and "ButtonPress" in t, describe=lambda t: t[-2000:],
                      detail=s.log_tail)
    assert re.search(r"KeyPress event.*\n.*\n.*keysym 0x61, a\)", text), text[-2000:]


def test_sigterm_removes_x_lock(session_factory, new_xwayland):
    s = session_factory(args=["--xwayland"])
    n = display_number(s)
    lock = Path(f"/tmp/.X{n}-lock")
    assert lock.exists()
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(10) == 0
    assert not lock.exists(), "stale X lock file after SIGTERM"


def test_too_old_xwayland_is_reported(tmp_path):
    """Debian 12's own Xwayland (22.1) is refused with a clear message."""
    out = subprocess.run(["Xwayland", "-version"], capture_output=True, text=True)
    if "Version 22." not in out.stdout + out.stderr:
        pytest.skip("the system Xwayland is not the old Debian 12 one")
    with pytest.raises(RuntimeError):
        Session(tmp_path, args=["--xwayland"])
    log = (tmp_path / "compositor.log").read_text()
    assert "too old" in log and "23.1" in log, log[-2000:]
