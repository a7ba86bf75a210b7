"""Gamepads end to end under a kernel with uinput, uhid and hid-playstation (run in the VM by
`scripts/vm-tests.sh`, not by the normal e2e run: its name does not start with `test_`), with the stock client
(moonlight-python):
- two controllers become two Xbox pads; an evdev reader (raw `input_event`s, as a game reads them) sees the A
  press the client sends; a rumble effect a game uploads and plays on pad 0 (EVIOCSFF + an EV_FF write) reaches
  the client as a rumble message with the effect's motors;
- a PlayStation controller with motion sensors, touchpad and light bar becomes a DualSense: the client is asked
  for motion reports (0x5501) and told the light bar colour the driver sets (0x5502); its motion sample and
  touch reach the pad's motion and touchpad nodes; a game's rumble, a light bar colour and a trigger effect
  written through hidraw reach the client (0x010b, 0x5502, 0x5503);
- two sessions, one controller each: each session's apps see only their own session's pad.
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
ABS_X, ABS_Y = 0x00, 0x01
EVIOCSFF = 0x40304580  # _IOW('E', 0x80, struct ff_effect), 48 bytes on 64-bit
EVENT = struct.Struct("llHHi")  # struct input_event on 64-bit: timeval, type, code, value


def pads(session_prefix: str = "lumen ", suffix: str = "") -> dict[str, str]:
    """Name → /dev/input/eventN of the session pads the kernel lists."""
    text = Path("/proc/bus/input/devices").read_text()
    out = {}
    for block in text.split("\n\n"):
        name = re.search(r'N: Name="([^"]*)"', block)
        handlers = re.search(r"H: Handlers=(.*)", block)
        if name and handlers and name.group(1).startswith(session_prefix) and " pad " in name.group(1) \
                and name.group(1).endswith(suffix) and (suffix or name.group(1).split()[-1].isdigit()):
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


def abs_value(path: str, axis: int) -> int:
    """The current value of an absolute axis of an event node (EVIOCGABS: struct input_absinfo, 6 × s32)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = bytearray(24)
        fcntl.ioctl(fd, (2 << 30) | (24 << 16) | (ord("E") << 8) | (0x40 + axis), info)
        return struct.unpack_from("i", info)[0]
    finally:
        os.close(fd)


def sysfs_entry(cls: str, file: str, needle: str) -> Path | None:
    for p in Path(f"/sys/class/{cls}").iterdir():
        try:
            if needle in (p / file).read_text():
                return p
        except OSError:
            continue
    return None


def client_result(client, host) -> dict:
    stdout, stderr = client.communicate(timeout=180)
    r = [line for line in stdout.splitlines() if line.startswith("{")]
    assert r, f"client printed nothing: {stderr[-3000:]}\n{host.log()[-3000:]}"
    return json.loads(r[-1])


def test_a_dualsense_with_motion_touchpad_light_bar_and_triggers(session_host, paired_client, tmp_path):
    assert os.path.exists("/dev/uhid"), "run me under scripts/vm-run -m uhid,hid_playstation"
    host = session_host("--no-xwayland")
    _, cfg = paired_client(host)
    go = tmp_path / "go"
    # LI_CTYPE_PS = 2; capabilities: analog triggers, rumble, touchpad, accel, gyro, battery, RGB LED.
    steps = [["wait_frame", ["any"], 120], ["arrive", 0, 1, 2, 0x3FFFFF, 0xFB],
             ["wait_feedback", "motion", [0, 1, 100], 60], ["wait_feedback", "motion", [0, 2, 100], 60],
             ["wait_feedback", "led", [0, 0, 0, 128], 60],
             ["motion", 0, 1, 0.0, 9.80665, 0.0], ["pad_touch", 0, 1, 5, 0.5, 0.5, 1.0],
             ["wait_file", str(go), 120], ["watch", 6.0]]
    client = subprocess.Popen(_client_cmd(host, cfg, steps, width=320, height=240, fps=30),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        motion = wait_until(lambda: pads(suffix=" Motion Sensors"), 120, "the DualSense's motion node",
                            until=lambda p: len(p) == 1, detail=lambda: host.log()[-3000:])
        motion_name, motion_node = next(iter(motion.items()))
        name = motion_name.removesuffix(" Motion Sensors")
        touch_node = wait_until(lambda: pads(suffix=" Touchpad"), 30, "the touchpad node", until=len)
        pad_node = pads()[name]
        # The client's motion sample (1 g up Y = 8192 in the driver's units) and touch (the pad's middle).
        wait_until(lambda: abs_value(motion_node, ABS_Y), 60, "1 g on the motion node's Y", until=lambda v: v == 8192)
        wait_until(lambda: abs_value(next(iter(touch_node.values())), ABS_X), 30, "the touch at x 960",
                   until=lambda v: v == 960)
        # A game's rumble on the pad node.
        fd = os.open(pad_node, os.O_RDWR | os.O_NONBLOCK)
        effect = bytearray(struct.pack("HhHHHHH2xHH", FF_RUMBLE, -1, 0, 0, 0, 1000, 0, 0xC000, 0x4000).ljust(48, b"\0"))
        fcntl.ioctl(fd, EVIOCSFF, effect)
        os.write(fd, EVENT.pack(0, 0, EV_FF, struct.unpack_from("h", effect, 2)[0], 1))
        # The light bar through the LED class, as a desktop sets it.
        input_dir = sysfs_entry("input", "name", name + "\n")
        led = Path(f"/sys/class/leds/{input_dir.name}:rgb:indicator")
        (led / "multi_intensity").write_text("255 64 0")
        (led / "brightness").write_text("255")
        # A trigger effect through hidraw, as SDL writes it: report 0x02, both trigger flags.
        hidraw = sysfs_entry("hidraw", "device/uevent", f"HID_NAME={name}\n")
        report = bytearray(63)
        report[0], report[1], report[11], report[22], report[23] = 0x02, 0x0C, 0x26, 0x21, 0x7F
        report[12:22] = bytes(range(1, 11))
        Path(f"/dev/{hidraw.name}").write_bytes(bytes(report))
        go.write_text("go")
        res = client_result(client, host)
        os.close(fd)
    finally:
        if client.poll() is None:
            client.kill()
    assert res["result"] == "streamed", (res, host.log()[-3000:])
    assert [0, 0xC0C0, 0x4040] in res["rumble"], (res["rumble"], host.log()[-3000:])
    assert [0, 255, 64, 0] in res["led"], res["led"]
    assert [0, 0x0C, 0x21, 0x26, [0x7F] + [0] * 9, list(range(1, 11))] in res["triggers"], res["triggers"]


def test_each_sessions_apps_see_only_their_own_pads(session_host, paired_client, tmp_path):
    """Two clients, two sessions, one controller each: an app of each session (tests/e2e/pad_lister.py, which
    opens /dev/input/event* as a game does) sees exactly one pad, its own session's."""
    lists = tmp_path / "lists"
    lists.mkdir()
    host = session_host("--no-xwayland", "--desktop-app", f"python3 {HERE / 'pad_lister.py'} {lists}")
    cfgs = [paired_client(host, name=f"client-{n}")[1] for n in "ab"]
    go = tmp_path / "go"
    steps = [["wait_frame", ["any"], 120], ["pad", 0, 1, 0], ["wait_file", str(go), 180]]
    clients = [subprocess.Popen(_client_cmd(host, cfg, steps, width=320, height=240, fps=30),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for cfg in cfgs]
    try:
        both = wait_until(lambda: pads(), 180, "a pad in each session", until=lambda p: len(p) == 2,
                          detail=lambda: host.log()[-3000:])
        assert len({n.split()[1] for n in both}) == 2, f"two sessions' pads: {sorted(both)}"

        def seen() -> dict[str, list[str]]:
            out = {}
            for f in lists.glob("*.json"):
                d = json.loads(f.read_text())
                out[d["display"]] = [n for n in d["names"] if n.startswith("lumen ")]
            return out
        views = wait_until(seen, 60, "each session's app to list its pad",
                           until=lambda v: len(v) == 2 and all(len(n) == 1 for n in v.values()),
                           detail=lambda: json.dumps(seen()))
        names = sorted(n[0] for n in views.values())
        assert names == sorted(both), (views, sorted(both))
        go.write_text("go")
        for c in clients:
            assert client_result(c, host)["result"] == "streamed"
    finally:
        for c in clients:
            if c.poll() is None:
                c.kill()
    assert "each pad is visible only to this session's apps" in host.log()


def test_an_app_can_ask_for_dualsense_pads(session_host, paired_client, tmp_path):
    """`gamepad = "dualsense"` on an app of the config: a controller that never said what it is (a plain
    controller state, no arrival) becomes a DualSense while that app runs."""
    config = tmp_path / "config.toml"
    config.write_text('[[app]]\nname = "Pads"\ncmd = "sleep 600"\ngamepad = "dualsense"\n')
    host = session_host("--no-xwayland", "--config", str(config))
    _, cfg = paired_client(host)
    go = tmp_path / "go"
    steps = [["wait_frame", ["any"], 120], ["pad", 0, 1, 0], ["wait_file", str(go), 120]]
    client = subprocess.Popen(_client_cmd(host, cfg, steps, app="Pads", width=320, height=240, fps=30),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: pads(suffix=" Motion Sensors"), 120, "a DualSense for the plain controller",
                   until=lambda p: len(p) == 1, detail=lambda: host.log()[-3000:])
        go.write_text("go")
        assert client_result(client, host)["result"] == "streamed"
    finally:
        if client.poll() is None:
            client.kill()
