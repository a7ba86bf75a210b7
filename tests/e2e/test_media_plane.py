"""The Moonlight media plane end to end with the stock client (moonlight-python) on loopback: video that
decodes and matches the test pattern, audio that decrypts, FEC under injected loss, IDR on request, every
kind of input arriving as the expected InputEvent, and a killed client freeing the session.

The host is the joined `lumen-session` (compositor + host, real media plane) started with
`--video-source test-pattern`, so the stream carries the moving test pattern instead of a desktop. Also runnable as a script (`python test_media_plane.py client ...`): one stock
client stream in this process (LiStartConnection is process-global), printing one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# Test pattern of lumen-encode's TestPattern (encode/src/source.rs; docs/media-plane.md).
COUNTER_ROWS, COUNTER_BLOCK, COUNTER_BITS, BOX = 32, 32, 16, 96


def pattern_bgr(n: int, w: int, h: int):
    import numpy as np

    def tri(v):
        v = v & 511
        return np.where(v < 256, v, 511 - v).astype(np.uint8)

    x = np.arange(w, dtype=np.int64)[None, :]
    y = np.arange(h, dtype=np.int64)[:, None]
    img = np.empty((h, w, 3), dtype=np.uint8)
    img[..., 2] = np.broadcast_to(tri(x + 4 * n), (h, w))
    img[..., 1] = np.broadcast_to(tri(y + 2 * n), (h, w))
    img[..., 0] = tri(x // 2 + y // 2 + 3 * n)
    bits = np.full(w, 128, dtype=np.uint8)
    for i in range(COUNTER_BITS):
        bits[i * COUNTER_BLOCK:(i + 1) * COUNTER_BLOCK] = 255 if (n >> (COUNTER_BITS - 1 - i)) & 1 else 0
    img[:COUNTER_ROWS, :, :] = bits[None, :, None]
    x0 = (6 * n) % (w - BOX)
    y0 = COUNTER_ROWS + (3 * n) % (h - COUNTER_ROWS - BOX)
    img[y0:y0 + BOX, x0:x0 + BOX, :] = 255
    return img


def read_counter(bgr) -> int:
    n = 0
    for i in range(COUNTER_BITS):
        px = bgr[COUNTER_ROWS // 2, i * COUNTER_BLOCK + COUNTER_BLOCK // 2]
        n = (n << 1) | int(int(px.mean()) > 128)
    return n


def psnr(a, b) -> float:
    import numpy as np

    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


# ---------------------------------------------------------------------------------------------- client side

INPUT_CDEF = """
int LiSendMouseMoveEvent(short deltaX, short deltaY);
int LiSendMousePositionEvent(short x, short y, short referenceWidth, short referenceHeight);
int LiSendMouseButtonEvent(signed char action, int button);
int LiSendKeyboardEvent(short keyCode, signed char keyAction, signed char modifiers);
int LiSendUtf8TextEvent(const char *text, unsigned int length);
int LiSendScrollEvent(signed char scrollClicks);
int LiSendHScrollEvent(signed char scrollClicks);
int LiSendTouchEvent(unsigned char eventType, unsigned int pointerId, float x, float y, float pressureOrDistance,
                     float contactAreaMajor, float contactAreaMinor, unsigned short rotation);
void LiRequestIdrFrame(void);
"""


def _client_main(args) -> int:
    import cffi
    import moonlight_helpers as mh
    import moonlight_python.stream as st

    class _Host:
        address = args.host
        port_base = args.port

    out: dict = {}
    client = mh.attach_client(_Host, args.config_dir)
    t0 = time.monotonic()
    try:
        client.start_stream(app="Desktop", width=args.width, height=args.height, fps=args.fps,
                            bitrate_kbps=args.bitrate, codec="h264", ready_timeout=10.0,
                            black_frame_threshold=-1, record_audio=True)
    except Exception as e:
        print(json.dumps({"result": type(e).__name__, "message": str(e)}), flush=True)
        os._exit(0)
    out["start_s"] = time.monotonic() - t0
    ffi = cffi.FFI()
    ffi.cdef(INPUT_CDEF)
    lib = ffi.dlopen(st._find_shared_lib())
    if args.hang:
        print(json.dumps({"result": "started", **out}), flush=True)
        time.sleep(600)  # parked until the test kills this process, not a wait
    frames = []
    psnrs = []
    counters = []
    idr_req_at = None
    audio_chunks = 0
    sub = client._stream_manager.subscribe()
    asub = client._stream_manager.subscribe_audio() if client._stream_manager.has_audio else None
    t_start = time.monotonic()
    while time.monotonic() - t_start < args.seconds:  # a measurement window: frames over args.seconds
        f = sub.get(timeout=1.0)
        if f is None:
            continue
        c = read_counter(f.data)
        frames.append((f.frame_number, f.frame_type, c))
        counters.append(c)
        if len(frames) % 10 == 0:
            psnrs.append(psnr(f.data, pattern_bgr(c, f.data.shape[1], f.data.shape[0])))
        if idr_req_at is None and time.monotonic() - t_start > args.seconds / 2:
            idr_req_at = f.frame_number
            lib.LiRequestIdrFrame()
        if asub is not None:
            # Bounded drain: audio keeps arriving while we read.
            for _ in range(64):
                if asub.get(timeout=0) is None:
                    break
                audio_chunks += 1
    if args.input:
        # Space events out: the client batches mouse motion for about 1 ms.
        calls = [
            lambda: lib.LiSendKeyboardEvent(0x8041 - 0x10000, 0x03, 0),
            lambda: lib.LiSendKeyboardEvent(0x8041 - 0x10000, 0x04, 0),
            lambda: lib.LiSendUtf8TextEvent("hé".encode(), len("hé".encode())),
            lambda: lib.LiSendMouseMoveEvent(7, -3),
            lambda: lib.LiSendMousePositionEvent(640, 360, 1280, 720),
            lambda: lib.LiSendMouseButtonEvent(0x07, 1),
            lambda: lib.LiSendMouseButtonEvent(0x08, 1),
            lambda: lib.LiSendMouseButtonEvent(0x07, 3),
            lambda: lib.LiSendMouseButtonEvent(0x08, 3),
            lambda: lib.LiSendScrollEvent(1),
            lambda: lib.LiSendHScrollEvent(-1),
            lambda: lib.LiSendTouchEvent(0x01, 5, 0.25, 0.5, 1.0, 0.0, 0.0, 0xFFFF),
            lambda: lib.LiSendTouchEvent(0x02, 5, 0.25, 0.5, 0.0, 0.0, 0.0, 0xFFFF),
        ]
        out["input_rc"] = []
        for c in calls:
            out["input_rc"].append(c())
            time.sleep(0.05)  # the pace between input events (see above), not a wait
        # Stop only once the host has the last event (two touch events; the control stream keeps the order),
        # else stopping the stream could drop events still queued in the client.
        if args.input_log:
            from waits import wait_until

            def touches() -> int:
                return Path(args.input_log).read_text().count("Touch(") if Path(args.input_log).exists() else 0
            try:
                wait_until(touches, 10, "the host to log the last input event", until=lambda n: n >= 2)
            except AssertionError as e:
                out["input_wait"] = str(e)  # the test's checks of the log say what is missing
    out.update({"result": "streamed", "frames": frames, "psnr": psnrs, "idr_req_at": idr_req_at,
                "audio_chunks": audio_chunks})
    print(json.dumps(out), flush=True)
    try:
        client.stop_stream()
    finally:
        os._exit(0)


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("client")
    s.add_argument("--host", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--config-dir", required=True)
    s.add_argument("--width", type=int, default=1280)
    s.add_argument("--height", type=int, default=720)
    s.add_argument("--fps", type=int, default=60)
    s.add_argument("--bitrate", type=int, default=10000)
    s.add_argument("--seconds", type=float, default=6.0)
    s.add_argument("--input", action="store_true")
    s.add_argument("--input-log", help="the host's LUMEN_INPUT_LOG: after --input, wait until it has the last event")
    s.add_argument("--hang", action="store_true", help="start, print, then hang (to be killed)")
    return _client_main(ap.parse_args())


# ------------------------------------------------------------------------------------------------ tests

def _run_client(host, cfg, *extra, timeout=90.0) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "client", "--host", host.address, "--port",
           str(host.port_base), "--config-dir", str(cfg), *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    assert lines, f"client printed nothing (rc={p.returncode}):\n{p.stderr[-4000:]}"
    return json.loads(lines[-1])


@pytest.fixture
def media_host(lumen_host, tmp_path):
    """A `lumen-session` whose sessions stream the media plane's test pattern (no compositor output), with a
    tone playing in the session (a silent session sends no audio at all)."""
    from test_audio import write_tone

    tone = tmp_path / "media-tone.wav"
    write_tone(tone, 440.0, 60.0)

    def make(env=None):
        return lumen_host("--video-source", "test-pattern", "--encoder", "software", "--desktop-app",
                          f"paplay {tone}", env=env)

    yield make


def _check_stream(r: dict, min_seconds: float = 5.0):
    assert r["result"] == "streamed", r
    frames = r["frames"]
    assert frames, "no frames"
    numbers = [f[0] for f in frames]
    span = max(numbers) - min(numbers) + 1
    assert span >= 60 * min_seconds * 0.9, f"only {span} frames in the stream"
    ratio = len(set(numbers)) / span
    print(f"media: {len(set(numbers))} of {span} frames decoded ({ratio:.3f}), PSNR min {min(r['psnr'] or [0]):.1f} dB")
    assert ratio >= 0.95, f"{len(set(numbers))} of {span} frames decoded ({ratio:.3f})"
    counters = [f[2] for f in frames]
    assert all(b > a for a, b in zip(counters, counters[1:])), "embedded counters must increase"
    assert r["psnr"] and min(r["psnr"]) >= 30.0, f"PSNR vs the source frames: {r['psnr']}"
    return frames


def test_stream_video_audio_idr_and_input(media_host, paired_client, tmp_path):
    input_log = tmp_path / "input.jsonl"
    host = media_host(env={"LUMEN_INPUT_LOG": str(input_log)})
    _, cfg = paired_client(host)
    r = _run_client(host, cfg, "--seconds", "6", "--input", "--input-log", str(input_log))
    frames = _check_stream(r)
    assert r["start_s"] < 2.0 + 1.0, f"first frame {r['start_s']:.2f} s after start_stream"
    assert r["audio_chunks"] > 100, f"{r['audio_chunks']} audio chunks decoded"
    # IDR on request: the client decodes an IDR after its request (client frame types: 1 = IDR) ...
    req = r["idr_req_at"]
    idr = [f[0] for f in frames if f[0] > req and f[1] == 1]
    assert idr, "no IDR frame after LiRequestIdrFrame"
    # ... and the host sent it as its next or second frame after the request arrived, by the host's own
    # count (the client's frame number at the request lags the host by its receive queue, which grew to 9
    # frames on a loaded machine while the host answered within 2).
    answers = [int(n) for n in re.findall(r"IDR (?:request answered|answered later than 2 frames).* frames=(\d+)",
                                          host.log())]
    assert answers and answers[-1] <= 2, f"the host's IDR answers (frames after the request): {answers}"
    assert all(rc == 0 for rc in r["input_rc"]), r["input_rc"]
    events = [json.loads(l)["event"] for l in input_log.read_text().splitlines()]
    text = "\n".join(events)
    for needle in ["Key { action: Down, vk: 65", "Key { action: Up, vk: 65", "MouseMove { dx: 7, dy: -3 }",
                   "MousePosition { x: 640, y: 360", "MouseButton { action: Press, button: Left }",
                   "MouseButton { action: Release, button: Left }", "MouseButton { action: Press, button: Right }",
                   "Scroll { amount: 120 }", "HScroll { amount: -120 }", "Touch("]:
        assert needle in text, f"{needle!r} not among the input events:\n{text}"
    assert any(e.startswith("Text(") for e in events), text
    # Order: key down before key up before the button presses.
    assert text.index("Key { action: Down") < text.index("Key { action: Up") < text.index("MouseButton")


def test_fec_recovers_injected_video_loss(media_host, paired_client):
    host = media_host(env={"LUMEN_TEST_VIDEO_LOSS_PCT": "10"})
    _, cfg = paired_client(host)
    r = _run_client(host, cfg, "--seconds", "6")
    assert "injecting random video loss" in host.log()
    _check_stream(r)


def test_killed_client_frees_the_session(media_host, paired_client, tmp_path):
    host = media_host()
    _, cfg = paired_client(host)
    cmd = [sys.executable, str(Path(__file__).resolve()), "client", "--host", host.address, "--port",
           str(host.port_base), "--config-dir", str(cfg), "--hang"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert json.loads(line)["result"] == "started", line
    p.send_signal(signal.SIGKILL)
    p.wait()
    t = time.monotonic()
    host.wait_log("media session ended", timeout=15.0)
    assert time.monotonic() - t < 15.0
    # Malformed datagrams on the media ports after the session are harmless; a new launch works.
    r = _run_client(host, cfg, "--seconds", "2")
    assert r["result"] == "streamed", r


if __name__ == "__main__":
    sys.exit(main())
