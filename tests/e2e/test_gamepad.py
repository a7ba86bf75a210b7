"""Gamepads where the kernel has no uinput (this build machine's): the session starts, says once why its pads
are off, and the client's controller packets change nothing else — the stream and the keyboard go on. (The
pads themselves are tested under Debian's kernel in a VM: `compositor/tests/gamepad_uinput.rs` through
`scripts/vm-tests.sh`.)
"""

from __future__ import annotations

import os

import pytest

from test_session import run_client, session_host  # noqa: F401 (fixture)


def test_without_uinput_pads_are_off_and_say_why(session_host, paired_client):
    if os.path.exists("/dev/uinput"):
        pytest.skip("this kernel has uinput: the VM test covers the pads")
    host = session_host()
    _, cfg = paired_client(host)
    r = run_client(host, cfg, [["wait_frame", ["any"], 30], ["pad", 0, 1, 0x1000], ["pad", 0, 1, 0],
                               ["pad", 1, 3, 0x2000], ["pad", 1, 1, 0], ["watch", 1.0]])
    assert r["result"] == "streamed" and not r["watch"][0]["terminated"], r
    log = host.wait_log("gamepads are off for this session")
    assert "CONFIG_INPUT_UINPUT" in log and "/dev/uinput" in log
    assert "panicked" not in host.log()
