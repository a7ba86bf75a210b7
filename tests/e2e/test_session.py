"""`lumen-session` (the joined compositor + Moonlight host) end to end with the stock client on loopback:
a real Wayland client's pixels in the decoded stream (PSNR against the compositor's own frame), typing into
foot, a click on a GTK4 demo widget, an output per launch at the client's mode, and a session and app that
survive the client vanishing and are resumed.

Also runnable as a script (`python test_session.py client ...`): one stock-client stream in this process
(LiStartConnection is process-global) running a list of steps, printing one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from waits import wait_until  # noqa: E402

VK_RETURN = 0x0D

INPUT_CDEF = """
int LiSendMousePositionEvent(short x, short y, short referenceWidth, short referenceHeight);
int LiSendMouseButtonEvent(signed char action, int button);
int LiSendKeyboardEvent(short keyCode, signed char keyAction, signed char modifiers);
int LiSendUtf8TextEvent(const char *text, unsigned int length);
int LiSendMultiControllerEvent(short controllerNumber, short activeGamepadMask, int buttonFlags,
                               unsigned char leftTrigger, unsigned char rightTrigger, short leftStickX,
                               short leftStickY, short rightStickX, short rightStickY);
int LiSendControllerArrivalEvent(uint8_t controllerNumber, uint16_t activeGamepadMask, uint8_t type,
                                 uint32_t supportedButtonFlags, uint16_t capabilities);
int LiSendControllerMotionEvent(uint8_t controllerNumber, uint8_t motionType, float x, float y, float z);
int LiSendControllerTouchEvent(uint8_t controllerNumber, uint8_t eventType, uint32_t pointerId, float x, float y,
                               float pressure);
int LiSendControllerBatteryEvent(uint8_t controllerNumber, uint8_t batteryState, uint8_t batteryPercentage);
"""


# ---------------------------------------------------------------------------------------------- client side

def _client_main(args) -> int:
    import cffi
    import moonlight_helpers as mh
    import moonlight_python.stream as st

    class _Host:
        address = args.host
        port_base = args.port

    steps = json.loads(args.steps)
    out: dict = {"saved": {}, "rumble": [], "motion": [], "led": [], "triggers": []}
    # The host's controller feedback (moonlight-common-c's `rumble`, `setMotionEventState`, `setControllerLED`
    # and `setAdaptiveTriggers` callbacks), recorded for the gamepad tests.
    plain_callbacks = st.StreamingSession._make_connection_callbacks

    def with_feedback(self):
        cl = plain_callbacks(self)

        @self._ffi.callback("void(unsigned short, unsigned short, unsigned short)")
        def rumble(controller, low, high):
            out["rumble"].append([controller, low, high])

        @self._ffi.callback("void(uint16_t, uint8_t, uint16_t)")
        def motion(controller, motion_type, rate_hz):
            out["motion"].append([controller, motion_type, rate_hz])

        @self._ffi.callback("void(uint16_t, uint8_t, uint8_t, uint8_t)")
        def led(controller, r, g, b):
            out["led"].append([controller, r, g, b])

        @self._ffi.callback("void(uint16_t, uint8_t, uint8_t, uint8_t, uint8_t *, uint8_t *)")
        def triggers(controller, flags, type_left, type_right, left, right):
            out["triggers"].append([controller, flags, type_left, type_right, list(self._ffi.unpack(left, 10)),
                                    list(self._ffi.unpack(right, 10))])
        self._callbacks.extend([rumble, motion, led, triggers])
        cl.rumble, cl.setMotionEventState, cl.setControllerLED, cl.setAdaptiveTriggers = rumble, motion, led, triggers
        return cl
    st.StreamingSession._make_connection_callbacks = with_feedback
    client = mh.attach_client(_Host, args.config_dir)
    try:
        client.start_stream(app=args.app, width=args.width, height=args.height, fps=args.fps,
                            bitrate_kbps=args.bitrate, codec="h264", ready_timeout=10.0,
                            black_frame_threshold=-1, record_audio=False)
    except Exception as e:
        print(json.dumps({"result": type(e).__name__, "message": str(e)}), flush=True)
        os._exit(0)
    ffi = cffi.FFI()
    ffi.cdef(INPUT_CDEF)
    lib = ffi.dlopen(st._find_shared_lib())
    sm = client._stream_manager
    rcs = []
    saved: dict = {}  # path -> the frame saved there (a reference for "changed")
    for step in steps:
        op = step[0]
        if op == "stream_for":
            time.sleep(step[1])  # a measurement window (the host counts the frames), not a wait
        elif op == "hang":
            print(json.dumps({"result": "started"}), flush=True)
            time.sleep(600)  # parked until the test kills this process, not a wait
        elif op == "text":
            b = step[1].encode()
            for i in range(0, len(b), 24):
                rcs.append(lib.LiSendUtf8TextEvent(b[i:i + 24], len(b[i:i + 24])))
                time.sleep(0.02)  # typing pace between input events, not a wait
        elif op == "key":
            rcs.append(lib.LiSendKeyboardEvent(step[1], 0x03, 0))
            time.sleep(0.02)  # typing pace between input events, not a wait
            rcs.append(lib.LiSendKeyboardEvent(step[1], 0x04, 0))
            time.sleep(0.02)  # typing pace between input events, not a wait
        elif op == "pad":
            # ["pad", controller, active_mask, buttons]: one multi-controller state.
            _, n, mask, btn = step
            rcs.append(lib.LiSendMultiControllerEvent(n, mask, btn, 0, 0, 0, 0, 0, 0))
            time.sleep(0.02)  # pace between input events, not a wait
        elif op == "arrive":
            # ["arrive", controller, active_mask, type, supported_buttons, capabilities]: a controller arrives.
            rcs.append(lib.LiSendControllerArrivalEvent(*step[1:]))
            time.sleep(0.02)  # pace between input events, not a wait
        elif op == "motion":
            # ["motion", controller, 1 accel | 2 gyro, x, y, z]
            rcs.append(lib.LiSendControllerMotionEvent(*step[1:]))
            time.sleep(0.02)  # pace between input events, not a wait
        elif op == "pad_touch":
            # ["pad_touch", controller, event, pointer_id, x, y, pressure]: a touch on the controller's touchpad.
            rcs.append(lib.LiSendControllerTouchEvent(*step[1:]))
            time.sleep(0.02)  # pace between input events, not a wait
        elif op == "wait_feedback":
            # ["wait_feedback", "motion" | "led" | "rumble", value, timeout]: the host's feedback arrives.
            _, key, value, timeout = step
            if not _client_wait(out, lambda: value in out[key], timeout, f"{key} feedback {value}",
                                lambda v: f"{key}: {out[key][-8:]}"):
                break
        elif op == "key_down":
            # ["key_down", vk]: press and hold (the client then leaves without releasing it).
            rcs.append(lib.LiSendKeyboardEvent(step[1], 0x03, 0))
        elif op == "click":
            _, x, y, rw, rh = step
            rcs.append(lib.LiSendMousePositionEvent(x, y, rw, rh))
            time.sleep(0.1)  # pace: the client batches mouse motion, the button must not overtake it
            rcs.append(lib.LiSendMouseButtonEvent(0x07, 1))
            time.sleep(0.05)  # pace between input events, not a wait
            rcs.append(lib.LiSendMouseButtonEvent(0x08, 1))
        elif op == "watch":
            # ["watch", seconds]: how the stream goes for a while — decoded frames, the largest gap between
            # two of them, and whether the connection was terminated.
            t_end = time.monotonic() + step[1]
            last_f, last_t, gap, n = sm.latest_frame, time.monotonic(), 0.0, 0
            while time.monotonic() < t_end and not sm._session.is_terminated:
                f = sm.latest_frame
                now = time.monotonic()
                if f is not None and f is not last_f:
                    gap, last_f, last_t, n = max(gap, now - last_t), f, now, n + 1
                time.sleep(0.002)  # polling pace of the measurement, not a wait
            gap = max(gap, time.monotonic() - last_t) if n else gap
            out.setdefault("watch", []).append(
                {"frames": n, "max_gap_ms": round(gap * 1000, 1), "terminated": sm._session.is_terminated})
        elif op == "wait_terminated":
            # ["wait_terminated", timeout]: the host ends the stream; the moment (CLOCK_MONOTONIC) is recorded.
            if not _client_wait(out, lambda: sm._session.is_terminated, step[1], "the stream's termination",
                                lambda v: "still streaming"):
                break
            out["terminated_at"] = time.monotonic()
        elif op == "request_dump":
            Path(step[1], "request").touch()
        elif op == "wait_file":
            # ["wait_file", path, timeout]: a file the host (or a typed command) writes.
            _, path, timeout = step
            if not _client_wait(out, lambda: Path(path).exists(), timeout, f"the file {path}", lambda v: "absent"):
                break
        elif op in ("wait_frame", "save_when"):
            # ["wait_frame", predicate, timeout] / ["save_when", path, predicate, timeout]: the first decoded
            # frame (the newest one at each poll) for which the predicate holds; "save_when" saves it.
            path, pred, timeout = step[1:] if op == "save_when" else (None, *step[1:])
            measure, ok = _frame_measure(pred, saved)
            seen = {"frame": None, "measured": None}

            def probe():
                f = sm.latest_frame
                if f is not None and (f is not seen["frame"] or pred[0] == "still"):
                    seen.update(frame=f, measured=measure(f.data))
                return seen
            what = f"a decoded frame with {pred}" + (f" (to save as {path})" if path else "")
            if not _client_wait(out, probe, timeout, what,
                                lambda v: f"frame {list(v['frame'].data.shape)}, {pred[0]}: {v['measured']}"
                                if v["frame"] is not None else "no frame yet",
                                until=lambda v: v["frame"] is not None and ok(v["measured"])):
                break
            if path is not None:
                # Whole or not at all: a test may poll for the file and load it the moment it appears (a 6 MB
                # 1080p frame written in place was once read half-written).
                part = f"{path}.part"
                with open(part, "wb") as f:
                    np.save(f, seen["frame"].data)
                os.replace(part, path)
                saved[path] = seen["frame"].data
                out["saved"][path] = list(seen["frame"].data.shape)
        else:
            raise ValueError(op)
    out.update({"result": out.get("result", "streamed"), "input_rc": rcs})
    print(json.dumps(out), flush=True)
    try:
        client.stop_stream()
    finally:
        os._exit(0)


def _client_wait(out: dict, probe, timeout: float, what: str, describe, until=bool) -> bool:
    """`waits.wait_until` inside the client: on success notes how long the wait took; at the deadline ends
    the step list with `result: wait_timeout` and the message (what, last observed state)."""
    t = time.monotonic()
    try:
        wait_until(probe, timeout, what, until=until, describe=describe, interval=0.02)
    except AssertionError as e:
        out.update({"result": "wait_timeout", "message": str(e)})
        return False
    out.setdefault("waits", []).append([what, round(time.monotonic() - t, 2)])
    return True


def _frame_measure(pred: list, saved: dict):
    """The quantity a frame predicate looks at, as a function of a decoded (BGR) frame, and the test of it.
    Predicates: ["any"], ["bars"] (foot's colour bars), ["prompt"] (foot's), ["light", region, n], ["bright", mean], ["rings"] (weston-simple-shm),
    ["white_square"] (the demo client's), ["clock_face"] (xclock in black on white), ["still", seconds] (no change for that long), ["changed", saved_path, {"region": [y0, y1, x0, x1] | None,
    "diff": d, "min_pixels": n | "min_fraction": x}] (pixels whose largest channel difference to an earlier
    saved frame is over d), ["psnr", frame_dump_dir, dB] (against the compositor's frame dump)."""
    kind = pred[0]
    if kind == "any":
        return (lambda f: f.shape), (lambda m: True)
    if kind == "bars":
        return bars, (lambda m: min(m) > 100)
    if kind == "prompt":
        # Light pixels at the top left (foot draws its light text and its cursor block on a dark background):
        # more than lumen's pointer arrow (69 white pixels, `compositor/src/cursor.rs`), which sits there
        # from the start and alone met the old bound of 20. A shell's "# " with foot's block is ~120.
        return (lambda f: int((f[:40, :400].min(axis=2) > 150).sum())), (lambda m: m > 69 + 20)
    if kind == "light":
        # ["light", [y0, y1, x0, x1], n]: more than n light pixels (every channel over 150) in the region.
        y0, y1, x0, x1 = pred[1]
        return (lambda f: int((f[y0:y1, x0:x1].min(axis=2) > 150).sum())), (lambda m: m > pred[2])
    if kind == "bright":
        return (lambda f: round(float(f.mean()), 1)), (lambda m: m > pred[1])
    if kind == "rings":
        from test_compositor import colorful

        return (lambda f: colorful(f[30:220, 30:220])), (lambda m: m > 100)
    if kind == "clock_face":
        # xclock drawn in black on white: mostly white, with its marks and hands in black.
        return (lambda f: (round(float((f.min(axis=2) >= 240).mean()), 3), int((f.max(axis=2) < 64).sum()))), \
            (lambda m: m[0] > 0.8 and m[1] > 300)
    if kind == "white_square":
        return (lambda f: int((f.min(axis=2) > 235).sum())), (lambda m: m > 100 * 100)
    if kind == "changed":
        _, ref_path, o = pred
        region = (slice(o["region"][0], o["region"][1]), slice(o["region"][2], o["region"][3])) if o.get(
            "region") else (slice(None), slice(None))

        def changed(f):
            ref = saved[ref_path]
            mask = np.abs(ref[region].astype(np.int16) - f[region].astype(np.int16)).max(axis=2) > o["diff"]
            return int(mask.sum()) if "min_pixels" in o else round(float(mask.mean()), 3)
        return changed, (lambda m: m > o.get("min_pixels", o.get("min_fraction")))
    if kind == "still":
        # Seconds since the picture last changed (pixels whose largest channel difference is over 40, more
        # than 20 of them: the encoder's noise on a repeated frame is not a change).
        st = {"ref": None, "since": time.monotonic()}

        def still_for(f):
            if f is not st["ref"] and (st["ref"] is None or (np.abs(
                    st["ref"].astype(np.int16) - f.astype(np.int16)).max(axis=2) > 40).sum() > 20):
                st.update(ref=f, since=time.monotonic())
            return round(time.monotonic() - st["since"], 2)
        return still_for, (lambda m: m >= pred[1])
    if kind == "psnr":
        _, dump, db = pred

        def value(f):
            w, h, _ = (int(v) for v in Path(dump, "frame.txt").read_text().split())
            ref = np.frombuffer(Path(dump, "frame.rgba").read_bytes(), np.uint8).reshape(h, w, 4)[..., :3][..., ::-1]
            return round(psnr(f, ref), 2)
        return value, (lambda m: m >= db)
    raise ValueError(pred)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure_main(args) -> int:
    """Host processing latency (median/p99 from the host's own summary line) while weston-simple-shm
    animates, per mode; then the CPU use of an idle streamed session (foot, nothing changing)."""
    import tempfile

    import conftest
    import moonlight_helpers as mh

    binary = Path(os.environ.get("LUMEN_SESSION_BIN") or conftest._bin_dir() / "lumen-session")
    rows = []
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)

        def start(app):
            rt = tmp / f"rt-{time.monotonic_ns()}"
            rt.mkdir(mode=0o700)
            env = {"XDG_RUNTIME_DIR": str(rt), "WAYLAND_DISPLAY": "", "DISPLAY": ""}
            h = conftest.LumenHost(binary, tmp / f"state-{time.monotonic_ns()}", tmp / f"log-{time.monotonic_ns()}",
                                   ["--encoder", "software", "--desktop-app", app], None, False, env)
            h.start()
            cfg = tmp / f"client-{time.monotonic_ns()}"
            mh.pair_client(h, cfg)
            return h, cfg

        for (w, hgt) in [(1280, 720), (1920, 1080)]:
            h, cfg = start("weston-simple-shm")
            run_client(h, cfg, [["stream_for", args.seconds]], width=w, height=hgt, fps=60)
            h.wait_log("host processing time", timeout=10)
            line = [l for l in h.log().splitlines() if "host processing time" in l][-1]
            kv = dict(t.split("=", 1) for t in line.split() if "=" in t)
            rows.append((f"{w}x{hgt}@60 weston-simple-shm", kv["frames"], kv["encode_us_p50"], kv["encode_us_p99"],
                         kv["host_us_p50"], kv["host_us_p99"]))
            h.stop()
        h, cfg = start(COLOUR_BARS)
        p = subprocess.Popen(_client_cmd(h, cfg, [["wait_frame", ["bars"], 30], ["hang"]]), stdout=subprocess.PIPE,
                             text=True)
        p.stdout.readline()
        time.sleep(2.0)  # a warm-up left out of the measurement window (the stream's start), not a wait
        c0, t0 = _cpu_seconds(h.proc.pid), time.monotonic()
        time.sleep(args.idle_seconds)  # the measurement window (idle CPU), not a wait
        c1, t1 = _cpu_seconds(h.proc.pid), time.monotonic()
        p.kill()
        p.wait()
        h.stop()
    print(f"{'stream':<32} {'frames':>7} {'enc p50':>9} {'enc p99':>9} {'host p50':>9} {'host p99':>9}  (us)")
    for r in rows:
        print(f"{r[0]:<32} {r[1]:>7} {r[2]:>9} {r[3]:>9} {r[4]:>9} {r[5]:>9}")
    print(f"idle streamed session (1280x720@60, foot, nothing changing): "
          f"{100.0 * (c1 - c0) / (t1 - t0):.2f} % of one core over {t1 - t0:.0f} s")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure", help="print host latency and idle CPU figures (docs/session.md)")
    m.add_argument("--seconds", type=float, default=15.0)
    m.add_argument("--idle-seconds", type=float, default=20.0)
    s = sub.add_parser("client")
    s.add_argument("--host", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--config-dir", required=True)
    s.add_argument("--app", default="Desktop")
    s.add_argument("--width", type=int, default=1280)
    s.add_argument("--height", type=int, default=720)
    s.add_argument("--fps", type=int, default=60)
    s.add_argument("--bitrate", type=int, default=20000)
    s.add_argument("--steps", default="[]")
    args = ap.parse_args()
    return _measure_main(args) if args.cmd == "measure" else _client_main(args)


# ------------------------------------------------------------------------------------------------ helpers

def _client_cmd(host, cfg, steps, *, app="Desktop", width=1280, height=720, fps=60):
    return [sys.executable, str(Path(__file__).resolve()), "client", "--host", host.address, "--port",
            str(host.port_base), "--config-dir", str(cfg), "--app", app, "--width", str(width), "--height",
            str(height), "--fps", str(fps), "--steps", json.dumps(steps)]


def run_client(host, cfg, steps, timeout=120.0, **kw) -> dict:
    p = subprocess.run(_client_cmd(host, cfg, steps, **kw), capture_output=True, text=True, timeout=timeout)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    assert lines, f"client printed nothing (rc={p.returncode}):\n{p.stderr[-4000:]}\n{host.log()[-3000:]}"
    r = json.loads(lines[-1])
    if r["result"] == "wait_timeout":
        raise AssertionError(f"client: {r['message']}\n{host.log()[-3000:]}")
    assert r["result"] == "streamed", (r, host.log()[-3000:])
    assert all(rc == 0 for rc in r.get("input_rc", [])), r
    return r


def psnr(a, b) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def wait_for(pred, timeout, what, host):
    wait_until(pred, timeout, what, detail=lambda: host.log()[-4000:])


@pytest.fixture
def session_host(lumen_host, tmp_path):
    """A `lumen-session` streaming its desktop, with a private XDG_RUNTIME_DIR and GTK on cairo."""

    import conftest

    def make(*args, env=None):
        rt = tmp_path / f"rt-{time.monotonic_ns()}"
        rt.mkdir(mode=0o700)
        e = {"XDG_RUNTIME_DIR": str(rt), "GSK_RENDERER": "cairo", "WAYLAND_DISPLAY": "", "DISPLAY": "",
             **(env or {})}
        args = ("--encoder", "software", "--socket", "lumen-session-test", *args)
        binary = os.environ.get("LUMEN_SESSION_BIN")
        if not binary:
            return lumen_host(*args, env=e)
        h = conftest.LumenHost(Path(binary), tmp_path / f"state-{time.monotonic_ns()}",
                               tmp_path / f"session-{time.monotonic_ns()}.log", list(args), None, False, e)
        make.hosts.append(h)
        return h.start()

    make.hosts = []
    yield make
    for h in make.hosts:
        h.stop()
        print(f"\n--- host log ---\n{h.log()[-3000:]}")


COLOUR_BARS = ("foot sh -c 'printf \"\\033[41m%40s\\033[42m%40s\\033[44m%40s\\033[0m\\n\" \"\" \"\" \"\"; "
               "exec sleep 1000'")


def bars(bgr):
    """Pixels of foot's red, green and blue bars (its pastel palette) on the first text row."""
    row = bgr[8].astype(int)
    b, g, r = row[:, 0], row[:, 1], row[:, 2]
    return (int(((r > g + 30) & (r > b + 30)).sum()), int(((g > r + 20) & (g > b + 20)).sum()),
            int(((b > r + 30) & (b > g - 10)).sum()))


# -------------------------------------------------------------------------------------------------- tests

@pytest.mark.parametrize("renderer", ["pixman", "gles"])
def test_desktop_streams_a_wayland_clients_pixels(session_host, paired_client, tmp_path, renderer):
    """Desktop at 1280x720@60: the decoded picture is foot's (coloured bars drawn by a real Wayland client),
    PSNR >= 30 dB against the frame the compositor rendered for that output. With `--renderer gles` (Mesa
    llvmpipe here) the frames are GL textures read back on the compositor thread for the software encoder."""
    dumps = tmp_path / "dump"
    dumps.mkdir()
    host = session_host("--renderer", renderer, "--desktop-app", COLOUR_BARS, "--frame-dump", str(dumps))
    dump = dumps / "session-1"  # the first session's worker dumps here
    _, cfg = paired_client(host)
    decoded = tmp_path / "decoded.npy"
    # Once foot's bars are in the stream, the compositor's frame is dumped, and the decoded frame that
    # matches it (the encoder's quality settles over a few frames) is saved.
    r = run_client(host, cfg, [["wait_frame", ["bars"], 30], ["request_dump", str(dump)],
                               ["wait_file", str(dump / "frame.rgba"), 10],
                               ["save_when", str(decoded), ["psnr", str(dump), 30.0], 10]])
    assert r["saved"][str(decoded)] == [720, 1280, 3]
    wait_for(lambda: (dump / "frame.rgba").exists(), 5, "the frame dump", host)
    w, h, _ = (int(v) for v in (dump / "frame.txt").read_text().split())
    assert (w, h) == (1280, 720)
    ref = np.frombuffer((dump / "frame.rgba").read_bytes(), np.uint8).reshape(h, w, 4)[..., :3][..., ::-1]  # BGR
    got = np.load(decoded)
    # The compositor's frame really shows foot's red, green and blue bars on the first text row.
    red, green, blue = bars(ref)
    assert red > 100 and green > 100 and blue > 100, f"foot's colour bars are not in the frame: {red, green, blue}"
    value = psnr(got, ref)
    assert value >= 30.0, f"PSNR {value:.1f} dB against the compositor's frame"
    assert "session output created" in host.log() and "1280x720" in host.log()
    assert host.status()["media_plane"]["renderer"] == renderer


def test_typing_into_foot_runs_a_command_and_shows_it(session_host, paired_client, tmp_path):
    target = tmp_path / "typed-through-moonlight"
    host = session_host("--desktop-app", "foot sh")
    _, cfg = paired_client(host)
    before, after = tmp_path / "before.npy", tmp_path / "after.npy"
    cmd = f"echo streamed-keys > {target}"
    top = (slice(0, 60), slice(0, 900))
    # The prompt is drawn (the shell reads; foot has the keyboard focus) and the picture is still.
    r = run_client(host, cfg, [["wait_frame", ["prompt"], 30], ["save_when", str(before), ["still", 0.3], 10],
                               ["key", 0x45], ["key", 0x43], ["key", 0x48], ["key", 0x4F],  # "echo" as VK keys
                               ["text", cmd[4:]], ["key", VK_RETURN], ["wait_file", str(target), 10],
                               ["save_when", str(after), ["changed", str(before), {
                                   "region": [0, 60, 0, 900], "diff": 60, "min_pixels": 200}], 10]])
    wait_for(target.exists, 10, "the file written by the typed command", host)
    assert target.read_text().strip() == "streamed-keys"
    a, b = np.load(before), np.load(after)
    # The typed command line shows in the streamed picture: the top text rows changed, the lower half not.
    changed = np.abs(a[top].astype(int) - b[top].astype(int)).max(axis=2) > 60
    assert changed.sum() > 200, f"only {changed.sum()} pixels of the command line changed"


def test_click_at_absolute_position_lands_on_gtk4_widget(session_host, paired_client, tmp_path):
    host = session_host("--desktop-app", "gtk4-demo")
    _, cfg = paired_client(host)
    before, after = tmp_path / "before.npy", tmp_path / "after.npy"
    # The client's reference plane (2560x1440) differs from the output (1280x720): the host scales.
    title = (slice(0, 46), slice(400, 880))
    # gtk4-demo is drawn and has finished drawing, then the click.
    r = run_client(host, cfg, [["wait_frame", ["bright", 100], 40], ["save_when", str(before), ["still", 0.5], 20],
                               ["click", 240, 600, 2560, 1440],
                               ["save_when", str(after), ["changed", str(before), {
                                   "region": [0, 46, 400, 880], "diff": 40, "min_pixels": 50}], 10]])
    a, b = np.load(before), np.load(after)
    assert a[..., :3].mean() > 100, "gtk4-demo is not on screen"
    # Clicking a row of the demo list selects another demo: the header bar title (centre top) changes,
    # while the far right of the list stays as it was.
    assert (np.abs(a[title].astype(int) - b[title].astype(int)) > 40).sum() > 50, "the click did not select a demo"


def test_output_follows_each_launch_mode(session_host, paired_client, tmp_path):
    host = session_host("--desktop-app", COLOUR_BARS)
    _, cfg = paired_client(host)
    f1 = tmp_path / "f1.npy"
    run_client(host, cfg, [["save_when", str(f1), ["bars"], 30]], width=1920, height=1080, fps=30)
    assert np.load(f1).shape == (1080, 1920, 3)
    wait_for(lambda: "1920x1080@30" in host.log(), 5, "a 1920x1080@30 output", host)
    # /cancel: the output goes; the next launch at another size gets a new output of that size.
    import moonlight_helpers as mh

    mh.attach_client(host, cfg)._http.quit_app()
    wait_for(lambda: host.log().count("session output removed") >= 1, 10, "the output removal", host)
    f2 = tmp_path / "f2.npy"
    run_client(host, cfg, [["save_when", str(f2), ["bars"], 30]], width=1024, height=768, fps=60)
    assert np.load(f2).shape == (768, 1024, 3)
    assert "1024x768@60" in host.log()
    # The app survived and fills the new output: its red bar is on the first text row.
    assert min(bars(np.load(f2))) > 100, bars(np.load(f2))


def test_session_and_app_survive_the_client_vanishing(session_host, paired_client, tmp_path):
    host = session_host("--desktop-app", COLOUR_BARS)
    _, cfg = paired_client(host)
    p = subprocess.Popen(_client_cmd(host, cfg, [["wait_frame", ["bars"], 30], ["hang"]]), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert json.loads(line)["result"] == "started", (line, host.log()[-3000:])
    p.send_signal(signal.SIGKILL)
    p.wait()
    wait_for(lambda: "session output removed" in host.log(), 20, "the session output to go", host)
    assert host.proc.poll() is None
    # A new client resumes: the same app (foot's bars) is streamed.
    f = tmp_path / "resumed.npy"
    run_client(host, cfg, [["save_when", str(f), ["bars"], 30]])
    assert min(bars(np.load(f))) > 100, f"foot's bars are not in the resumed stream: {bars(np.load(f))}"
    assert host.log().count("app started") == 1


def test_configured_app_exit_ends_the_stream(session_host, paired_client, tmp_path):
    """A configured app (not Desktop) is started at launch; when it exits the stream ends (as Sunshine)."""
    quit_file = tmp_path / "quit"
    # The app exits when the test creates quit_file (its shell polls for it).
    host = session_host("--app", f"foot sh -c 'while [ ! -e {quit_file} ]; do sleep 0.05; done'")
    _, cfg = paired_client(host)
    p = subprocess.Popen(_client_cmd(host, cfg, [["wait_frame", ["any"], 30], ["hang"]], app="foot"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert json.loads(line)["result"] == "started", (line, host.log()[-3000:])
        quit_file.touch()
        wait_for(lambda: "the session's app exited" in host.log(), 15, "the app's exit", host)
        wait_for(lambda: "reason=AppExited" in host.log() and "session output removed" in host.log(), 10,
                 "the stream to end", host)
        # The session ended with its app: the host is free again (Sunshine's behaviour).
        import moonlight_helpers as mh

        wait_for(lambda: host.status()["session"] is None, 10, "the live session to end", host)
        info = mh.server_info(host.address, host.port_base, cfg)
        assert info.state == "SUNSHINE_SERVER_FREE" and info.current_game == 0, (info.state, info.current_game)
    finally:
        p.kill()
        p.wait()


def test_builtin_demo_client_streams_motion(session_host, paired_client, tmp_path):
    """`--demo` (the default app of scripts/run-host.sh without a terminal): a window with a moving picture."""
    host = session_host("--demo")
    _, cfg = paired_client(host)
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    run_client(host, cfg, [["save_when", str(a), ["white_square"], 30],
                           ["save_when", str(b), ["changed", str(a), {"diff": 40, "min_fraction": 0.2}], 10]])
    fa, fb = np.load(a), np.load(b)
    assert "demo client mapped" in host.log()
    # `--renderer auto` (the default): GLES only on a GPU that is not a software rasterizer, with the reason in
    # the status (this machine and CI: Mesa llvmpipe at most, so Pixman on the CPU path).
    plane = host.status()["media_plane"]
    if plane["renderer"] == "pixman":
        assert plane["renderer_reason"].startswith("auto: no usable GPU"), plane
        assert plane["frame_path"] == "cpu", plane
    else:
        assert plane["renderer_reason"].startswith("auto: a GPU renders"), plane
    # The bouncing square is white; the sweep behind it is not.
    assert (fa.min(axis=2) > 235).sum() > 100 * 100, "no white square in the picture"
    assert (np.abs(fa.astype(int) - fb.astype(int)).max(axis=2) > 40).mean() > 0.2, "the picture does not move"


if __name__ == "__main__":
    sys.exit(main())
