"""A/V offset end to end: a flash+beep clip plays in the session and the stock client times both.

The clip is a GStreamer player from Debian, as a user would run one: `videotestsrc pattern=blink` (black and
white alternating at 2 fps, its timestamps shifted by half a second so the white frames start on whole
seconds) in a GTK window (`gtksink`, drawn with cairo into wl_shm buffers) and `audiotestsrc wave=ticks` (a
60 ms 1 kHz beep at every whole second) into the session's audio server through `pulsesink`. GStreamer
syncs both sinks to one clock (the audio sink's, which accounts for the latency the server reports), so a
flash and its beep leave the app together, as in any player.

The client (moonlight-python) stamps each video frame when its first packet arrived (`receiveTimeUs` of
moonlight-common-c, on the library's own clock, `LiGetMicroseconds`) and each audio packet when it arrived
(`perf_counter`); the client puts both on one clock by reading the two clocks back to back. A flash is a frame whose
brightness crosses halfway between the darkest and brightest frames seen, from below; a beep is an audio
packet whose level crosses a threshold from below. Each flash is paired with the nearest beep; the offset is
beep − flash (positive: the sound comes late). Run as a script with `client …` it is the client side; with
`bench` it prints the offsets of a longer run (the closing note's figure):

    ~/.cache/lumen/venv/bin/python tests/e2e/test_av_offset.py bench [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from test_session import session_host  # noqa: F401 (fixture)

# Lip sync: ITU-R BT.1359 finds sound 45 ms early or 125 ms late detectable; past ±150 ms the offset is
# plainly wrong (a sink whose latency is not accounted for shows up as hundreds of ms).
LIMIT_MS = 150.0

CLIP = ("gst-launch-1.0 -q "
        "videotestsrc pattern=blink timestamp-offset=500000000 ! "
        "video/x-raw,width=320,height=180,framerate=2/1 ! videoconvert ! gtksink "
        "audiotestsrc wave=ticks freq=1000 sine-periods-per-tick=60 tick-interval=1000000000 volume=0.8 ! "
        "audio/x-raw,rate=48000,channels=2 ! audioconvert ! pulsesink")


def flash_beep_app(tmp_path: Path, name: str = "flash-beep") -> Path:
    script = tmp_path / name
    script.write_text(f"#!/bin/sh\nexport GDK_BACKEND=wayland\nexec {CLIP}\n")
    script.chmod(0o755)
    return script


def onsets(times_us: list[int], levels: list[float], threshold: float) -> list[float]:
    """Times (ms) at which `levels` crosses `threshold` from below."""
    out = []
    for k in range(1, len(levels)):
        if levels[k] >= threshold > levels[k - 1]:
            out.append(times_us[k] / 1000.0)
    return out


def offsets(record: dict) -> tuple[list[float], list[float], list[float]]:
    """The flash onsets, the beep onsets and the offset of each flash's nearest beep (ms)."""
    v_t, v_l = record["video_t"], record["video_l"]
    a_t, a_l = record["audio_t"], record["audio_l"]
    if not v_l or not a_l:
        return [], [], []
    flashes = onsets(v_t, v_l, (min(v_l) + max(v_l)) / 2)
    beeps = onsets(a_t, a_l, 0.05)
    pairs = []
    for f in flashes:
        near = min(beeps, key=lambda b: abs(b - f), default=None)
        if near is not None and abs(near - f) < 450:
            pairs.append(near - f)
    return flashes, beeps, pairs


def _client_main(args) -> int:
    import moonlight_helpers as mh

    class _Host:
        address = args.host
        port_base = args.port

    client = mh.attach_client(_Host, args.config_dir)
    client.start_stream(app=args.app, width=640, height=360, fps=60, bitrate_kbps=4000, codec="h264",
                        ready_timeout=10.0, black_frame_threshold=-1, record_audio=True)
    sm = client._stream_manager
    vsub, asub = sm.subscribe(), sm.subscribe_audio()
    # moonlight-common-c's clock → perf_counter's (the narrowest of a few back-to-back readings).
    import ctypes

    import moonlight_python
    lib = ctypes.CDLL(str(Path(moonlight_python.__file__).parent / "libmoonlight-common-c.so"))
    lib.LiGetMicroseconds.restype = ctypes.c_uint64
    best = None
    for _ in range(20):
        a = time.perf_counter()
        li = lib.LiGetMicroseconds()
        b = time.perf_counter()
        if best is None or b - a < best[0]:
            best = (b - a, (a + b) / 2 * 1e6 - li)
    li_to_perf = best[1]
    rec = {"video_t": [], "video_l": [], "audio_t": [], "audio_l": []}
    t0 = time.monotonic()
    while time.monotonic() - t0 < args.seconds:  # the recording window, not a wait
        f = vsub.get(timeout=0.02)
        if f is not None:
            rec["video_t"].append(f.receive_time_us + li_to_perf)
            rec["video_l"].append(float(f.data[::4, ::4].mean()))
        while (c := asub.get(timeout=0)) is not None:
            rec["audio_t"].append(c.receive_time_us)
            rec["audio_l"].append(float(np.abs(np.asarray(c.data)).max()))
    print(json.dumps({"result": "recorded", **rec}), flush=True)
    os._exit(0)


def record(host, cfg, app: str, seconds: float) -> dict:
    p = subprocess.run([sys.executable, str(Path(__file__).resolve()), "client", "--host", host.address,
                        "--port", str(host.port_base), "--config-dir", str(cfg), "--app", app,
                        "--seconds", str(seconds)], capture_output=True, text=True, timeout=seconds + 90)
    lines = [line for line in p.stdout.splitlines() if line.startswith('{"result": "recorded"')]
    assert lines, f"client rc={p.returncode}: {p.stdout[-2000:]} {p.stderr[-3000:]}\n{host.log()[-3000:]}"
    return json.loads(lines[-1])


def test_a_flash_and_its_beep_arrive_together(session_host, paired_client, tmp_path):
    host = session_host("--app", str(flash_beep_app(tmp_path)))
    _, cfg = paired_client(host)
    rec = record(host, cfg, "flash-beep", 7.0)
    flashes, beeps, pairs = offsets(rec)
    what = f"flashes at {flashes} ms, beeps at {beeps} ms, offsets {pairs}"
    # About one flash a second after the player starts (it takes a moment to map its window).
    assert len(pairs) >= 3, what
    assert all(abs(o) < LIMIT_MS for o in pairs), what
    print(f"A/V offsets (beep - flash, ms): {[round(o, 1) for o in pairs]}")


def _bench(args) -> int:
    import tempfile

    import conftest
    import moonlight_helpers as mh

    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        host = conftest.bench_host(tmp, ["--app", str(flash_beep_app(tmp))])
        try:
            cfg = tmp / "client"
            mh.pair_client(host, cfg)
            rec = record(host, cfg, "flash-beep", args.seconds)
        finally:
            host.stop()
    flashes, beeps, pairs = offsets(rec)
    print(f"flashes {len(flashes)}, beeps {len(beeps)}, pairs {len(pairs)}")
    if pairs:
        p = np.array(pairs)
        print(f"{'beep - flash (ms)':>18} {'p50':>7} {'min':>7} {'max':>7} {'mean':>7}")
        print(f"{'':>18} {np.median(p):>7.1f} {p.min():>7.1f} {p.max():>7.1f} {p.mean():>7.1f}")
    return 0 if pairs else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("client")
    c.add_argument("--host", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--config-dir", type=Path, required=True)
    c.add_argument("--app", required=True)
    c.add_argument("--seconds", type=float, default=7.0)
    b = sub.add_parser("bench")
    b.add_argument("--seconds", type=float, default=20.0)
    a = ap.parse_args()
    sys.exit(_client_main(a) if a.cmd == "client" else _bench(a))
