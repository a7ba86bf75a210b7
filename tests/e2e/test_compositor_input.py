"""Input injected through the compositor's control socket (as core `InputEvent`s) reaching real clients:
keys typed into foot run a shell command, a click and wheel act on gtk4-demo, touch reaches wev."""

from __future__ import annotations

import numpy as np

from test_compositor import session_factory  # noqa: F401  (fixture)
from waits import wait_until

VK = {c: 0x41 + i for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")}
VK[" "] = 0x20
VK_RETURN = 0x0D


def type_vk(s, text: str):
    for ch in text:
        s.cmd(f"key {VK[ch]} down")
        s.cmd(f"key {VK[ch]} up")


def prompt_drawn(f) -> bool:
    return len(np.unique(f[:40, :400, :3].reshape(-1, 3), axis=0)) > 2


def test_keys_typed_into_foot_run_a_command(session_factory, tmp_path):
    s = session_factory(args=["--hide-cursor"])
    target = tmp_path / "typed-by-lumen"
    s.cmd("launch foot")
    s.wait_windows(1)
    # Wait until foot drew its prompt: the shell is reading, and foot has keyboard focus (given on its
    # first buffer commit).
    s.wait_frame(0, prompt_drawn, what="foot's prompt")
    # "touch " through VK codes (the keyboard path), the path through UTF-8 text (≤ 32 bytes per event).
    type_vk(s, "touch ")
    path = str(target)
    for i in range(0, len(path), 24):
        s.cmd(f"text {path[i:i + 24]}")
    s.cmd(f"key {VK_RETURN} down")
    s.cmd(f"key {VK_RETURN} up")
    wait_until(target.exists, 10, f"{target} (touched by the typed command)", detail=s.log_tail)


def test_shift_modifier_from_client_flags(session_factory, tmp_path):
    """Moonlight sends the modifier state with each key: SHIFT set on 'a' must type 'A'."""
    s = session_factory(args=["--hide-cursor"])
    target = tmp_path / "upper"
    s.cmd("launch foot")
    s.wait_windows(1)
    s.wait_frame(0, prompt_drawn, what="foot's prompt")
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
    # The shell creates the file before echo writes into it: wait for the whole line.
    text = wait_until(lambda: target.read_text() if target.exists() else "", 10, f"the line echoed into {target}",
                      until=lambda t: t.endswith("\n"), detail=s.log_tail)
    assert text.strip() == "Ab"


def test_click_and_scroll_act_on_gtk4_demo(session_factory):
    s = session_factory(args=["--hide-cursor"])
    s.cmd("launch gtk4-demo")
    s.wait_windows(1)
    s.wait_frame(0, lambda f: f[..., :3].mean() > 100, timeout=40, what="gtk4-demo drawn")
    s.wait_frames_settle()  # gtk4-demo finished drawing (nothing rendered for a while)
    before = s.frame(0)
    # Click a row of the demo list in the sidebar (absolute position on a 1280x720 reference plane).
    s.cmd("motion 0 120 300 1279 719")
    s.cmd("button 1 down")
    s.cmd("button 1 up")
    # The click selects another demo: the header bar title (centre top) changes.
    title = (slice(0, 46), slice(400, 880))
    s.wait_frame(0, lambda f: (f[title] != before[title]).any(), timeout=10, what="a new title")
    s.wait_frames_settle()  # the new demo page and the selection finished drawing
    clicked = s.frame(0)
    # Wheel down 5 notches over the sidebar: the list scrolls (Moonlight: negative = down); the title stays.
    sidebar = (slice(60, 700), slice(0, 215))
    s.cmd("scroll 0 -600")
    s.wait_frame(0, lambda f: (f[sidebar] != clicked[sidebar]).any(), timeout=10, what="the sidebar scrolled")
    s.wait_frames_settle()  # the (kinetic) scroll came to rest
    scrolled = s.frame(0)
    assert (scrolled[title] == clicked[title]).all()
    # Scroll back up: the sidebar returns to what it showed before.
    s.cmd("scroll 0 600")
    s.wait_frame(0, lambda f: (f[sidebar] == clicked[sidebar]).mean() > 0.99, timeout=10,
                 what="the sidebar scrolled back")


def test_touch_reaches_wev(session_factory, tmp_path):
    s = session_factory(args=["--hide-cursor"])
    log = tmp_path / "wev.log"
    s.cmd(f"launch stdbuf -oL wev > {log} 2>&1")
    s.wait_windows(1)
    # wev has drawn and has focus (the compositor focuses a window on its first buffer commit).
    wait_until(lambda: log.read_text(errors="replace"), 10, "wev's keyboard focus",
               until=lambda t: "wl_keyboard] enter" in t, describe=lambda t: t[-2000:], detail=s.log_tail)
    s.cmd("touch 0 down 7 0.5 0.5")
    s.cmd("touch 0 move 7 0.6 0.5")
    s.cmd("touch 0 up 7 0.6 0.5")
    text = wait_until(lambda: log.read_text(errors="replace"), 10, "the touch up in wev's log",
                      until=lambda t: "wl_touch] up" in t, describe=lambda t: t[-2000:], detail=s.log_tail)
    assert "wl_touch] down" in text, text[-2000:]
    assert "wl_touch] motion" in text
    assert "wl_touch] up" in text
