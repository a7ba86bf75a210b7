"""Input injected through the compositor's control socket (as core `InputEvent`s) reaching real clients:
keys typed into foot run a shell command, a click and wheel act on gtk4-demo, touch reaches wev."""

from __future__ import annotations

import time

import numpy as np

from test_compositor import session_factory  # noqa: F401  (fixture)

VK = {c: 0x41 + i for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")}
VK[" "] = 0x20
VK_RETURN = 0x0D


def type_vk(s, text: str):
    for ch in text:
        s.cmd(f"key {VK[ch]} down")
        s.cmd(f"key {VK[ch]} up")


def test_keys_typed_into_foot_run_a_command(session_factory, tmp_path):
    s = session_factory(args=["--hide-cursor"])
    target = tmp_path / "typed-by-lumen"
    s.cmd("launch foot")
    s.wait_windows(1)
    # Wait until foot drew its prompt (the shell is ready).
    s.wait_frame(0, lambda f: len(np.unique(f[:40, :400, :3].reshape(-1, 3), axis=0)) > 2)
    time.sleep(0.5)
    # "touch " through VK codes (the keyboard path), the path through UTF-8 text (≤ 32 bytes per event).
    type_vk(s, "touch ")
    path = str(target)
    for i in range(0, len(path), 24):
        s.cmd(f"text {path[i:i + 24]}")
    s.cmd(f"key {VK_RETURN} down")
    s.cmd(f"key {VK_RETURN} up")
    end = time.time() + 10
    while not target.exists() and time.time() < end:
        time.sleep(0.1)
    assert target.exists(), s.log_tail()


def test_shift_modifier_from_client_flags(session_factory, tmp_path):
    """Moonlight sends the modifier state with each key: SHIFT set on 'a' must type 'A'."""
    s = session_factory(args=["--hide-cursor"])
    target = tmp_path / "upper"
    s.cmd("launch foot")
    s.wait_windows(1)
    s.wait_frame(0, lambda f: len(np.unique(f[:40, :400, :3].reshape(-1, 3), axis=0)) > 2)
    time.sleep(0.5)
    s.cmd(f"text echo ")
    s.cmd(f"key {VK['a']} down 0x01")  # SHIFT in the modifier flags, no shift key event
    s.cmd(f"key {VK['a']} up 0x01")
    s.cmd(f"key {VK['b']} down 0x00")
    s.cmd(f"key {VK['b']} up 0x00")
    path = str(target)
    s.cmd("text  >")
    for i in range(0, len(path), 24):
        s.cmd(f"text {path[i:i + 24]}")
    s.cmd(f"key {VK_RETURN} down")
    s.cmd(f"key {VK_RETURN} up")
    end = time.time() + 10
    while not (target.exists() and target.read_text().strip()) and time.time() < end:
        time.sleep(0.1)
    assert target.read_text().strip() == "Ab"


def test_click_and_scroll_act_on_gtk4_demo(session_factory):
    s = session_factory(args=["--hide-cursor"])
    s.cmd("launch gtk4-demo")
    s.wait_windows(1)
    s.wait_frame(0, lambda f: f[..., :3].mean() > 100, timeout=40)
    time.sleep(1.0)
    before = s.frame(0)
    # Click a row of the demo list in the sidebar (absolute position on a 1280x720 reference plane).
    s.cmd("motion 0 120 300 1279 719")
    s.cmd("button 1 down")
    s.cmd("button 1 up")
    # The click selects another demo: the header bar title (centre top) changes.
    title = (slice(0, 46), slice(400, 880))
    s.wait_frame(0, lambda f: (f[title] != before[title]).any(), timeout=10)
    time.sleep(0.5)
    clicked = s.frame(0)
    # Wheel down 5 notches over the sidebar: the list scrolls (Moonlight: negative = down); the title stays.
    sidebar = (slice(60, 700), slice(0, 215))
    s.cmd("scroll 0 -600")
    scrolled = s.wait_frame(0, lambda f: (f[sidebar] != clicked[sidebar]).any(), timeout=10)
    time.sleep(0.5)
    scrolled = s.frame(0)
    assert (scrolled[title] == clicked[title]).all()
    # Scroll back up: the sidebar returns to what it showed before.
    s.cmd("scroll 0 600")
    s.wait_frame(0, lambda f: (f[sidebar] == clicked[sidebar]).mean() > 0.99, timeout=10)


def test_touch_reaches_wev(session_factory, tmp_path):
    s = session_factory(args=["--hide-cursor"])
    log = tmp_path / "wev.log"
    s.cmd(f"launch stdbuf -oL wev > {log} 2>&1")
    s.wait_windows(1)
    time.sleep(1.0)
    s.cmd("touch 0 down 7 0.5 0.5")
    s.cmd("touch 0 move 7 0.6 0.5")
    s.cmd("touch 0 up 7 0.6 0.5")
    end = time.time() + 10
    text = ""
    while time.time() < end:
        text = log.read_text(errors="replace")
        if "wl_touch" in text and "up" in text.split("wl_touch")[-1]:
            break
        time.sleep(0.1)
    assert "wl_touch] down" in text, text[-2000:]
    assert "wl_touch] motion" in text
    assert "wl_touch] up" in text
