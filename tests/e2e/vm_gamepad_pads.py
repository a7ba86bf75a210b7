"""Gamepads end to end under a kernel with uinput (run in the VM by `scripts/vm-tests.sh`, not by the normal
e2e run: its name does not start with `test_`): a stock client connects two controllers; inside the session
an evdev reader (raw `input_event`s from /dev/input, as a game reads them) sees two pads and the A press the
client sends; a rumble effect a game uploads and plays on pad 0 (EVIOCSFF + an EV_FF write) reaches the stock
client as a rumble message with the effect's motors.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from test_session import _client_cmd, session_host  # noqa: E402,F401 (fixture)
from waits import wait_until  # noqa: E402

EV_KEY, EV_FF, FF_RUMBLE, BTN_SOUTH = 0x01, 0x15, 0x50, 0x130
EVIOCSFF = 0x40304580  # _IOW('E', 0x80, struct ff_effect), 48 bytes on 64-bit
EVENT = struct.Struct("llHHi")  # struct input_event on 64-bit: timeval, type, code, value


def pads(session_prefix: str = "lumen ") -> dict[str, str]:
    """Name → /dev/input/eventN of the session pads the kernel lists."""
    text = Path("/proc/bus/input/devices").read_text()
    out = {}
    for block in text.split("\n\n"):
        name = re.search(r'N: Name="([^"]*)"', block)
        handlers = re.search(r"H: Handlers=(.*)", block)
        if name and handlers and name.group(1).startswith(session_prefix) and " pad " in name.group(1):
            ev = [h for h in handlers.group(1).split() if h.startswith("event")]
            if ev:
                out[name.group(1)] = f"/dev/input/{ev[0]}"
    return out


def test_two_controllers_buttons_and_rumble_through_the_stock_client(session_host, paired_client, tmp_path):
    assert os.path.exists("/dev/uinput"), "run me under scripts/vm-run"
    host = session_host("--no-xwayland")
    _, cfg = paired_client(host)
    go = tmp_path / "go"
    steps = [["wait_frame", ["any"], 120], ["pad", 0, 3, 0], ["pad", 1, 3, 0], ["wait_file", str(go), 120],
             ["pad", 0, 3, 0x1000], ["pad", 0, 3, 0], ["watch", 6.0]]
    client = subprocess.Popen(_client_cmd(host, cfg, steps, width=320, height=240, fps=30),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        found = wait_until(lambda: pads(), 120, "two session pads", until=lambda p: len(p) == 2,
                           detail=lambda: host.log()[-3000:])
        pad0 = found[sorted(found)[0]]
        fd = os.open(pad0, os.O_RDWR | os.O_NONBLOCK)
        go.write_text("go")
        # The A press the client sends after `go`.
        def saw_a() -> bool:
            try:
                data = os.read(fd, EVENT.size * 64)
            except BlockingIOError:
                return False
            return any(EVENT.unpack_from(data, i)[2:] == (EV_KEY, BTN_SOUTH, 1)
                       for i in range(0, len(data) - EVENT.size + 1, EVENT.size))
        wait_until(saw_a, 60, "BTN_SOUTH pressed on pad 0")
        # A game's rumble: struct ff_effect {type, id=-1, direction, trigger{button, interval},
        # replay{length, delay}, (pad to 16) union{rumble{strong, weak}}} = 48 bytes.
        effect = bytearray(struct.pack("HhHHHHH2xHH", FF_RUMBLE, -1, 0, 0, 0, 1000, 0, 0xC000, 0x4000).ljust(48, b"\0"))
        fcntl.ioctl(fd, EVIOCSFF, effect)
        effect_id = struct.unpack_from("h", effect, 2)[0]
        os.write(fd, EVENT.pack(0, 0, EV_FF, effect_id, 1))
        stdout, stderr = client.communicate(timeout=180)
    finally:
        if client.poll() is None:
            client.kill()
    r = [line for line in stdout.splitlines() if line.startswith("{")]
    assert r, f"client printed nothing: {stderr[-3000:]}\n{host.log()[-3000:]}"
    res = json.loads(r[-1])
    assert [0, 0xC000, 0x4000] in res["rumble"], (res.get("rumble"), host.log()[-3000:])
    os.close(fd)
