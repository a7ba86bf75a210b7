"""lumen's own client over the lumen transport, and a stock client at the same host.

* `lumen-client` (clients/lumen-client) pairs with `lumen-session` by PIN, lists the apps, launches Desktop
  and negotiates the lumen transport in RTSP (`a=x-lumen-transport` offered in DESCRIBE, accepted in
  ANNOUNCE): GF(2^16) FEC, ChaCha20-Poly1305 per datagram, capture timestamps. It decodes the H.264 frames
  headless; the last one must match the compositor's own frame (its `--frame-dump`) at PSNR >= 30 dB, and
  it reports capture -> decoded latency percentiles.
* The same host then streams to the stock client (moonlight-python), which must still get Moonlight media
  and decode foot's colour bars.
* With `--moonlight-media` lumen-client takes Moonlight's datagrams instead (GF(2^8), no lumen framing).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from test_session import COLOUR_BARS, bars, psnr, run_client, session_host, wait_for  # noqa: E402,F401


def client_bin() -> Path:
    import conftest

    return conftest._bin_dir() / "lumen-client"


def lumen_client(host, state: Path, *args: str, timeout: float = 150.0) -> subprocess.CompletedProcess:
    cmd = [str(client_bin()), "--host", host.address, "--port", str(host.port_base), "--state-dir", str(state), *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"lumen-client {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-4000:]}\n" \
                              f"--- host ---\n{host.log()[-3000:]}"
    return p


def pair(host, state: Path, pin: str = "4711") -> None:
    host.admin("pin", pin)
    lumen_client(host, state, "pair", "--pin", pin)


def json_lines(text: str) -> list[dict]:
    return [json.loads(l) for l in text.splitlines() if l.startswith("{")]


def test_lumen_client_streams_desktop_over_the_lumen_transport(session_host, paired_client, tmp_path):
    dumps = tmp_path / "dump"
    dumps.mkdir()
    host = session_host("--desktop-app", COLOUR_BARS, "--frame-dump", str(dumps))
    dump = dumps / "session-1"
    state = tmp_path / "lumen-client"
    pair(host, state)
    apps = lumen_client(host, state, "apps").stdout
    assert "Desktop" in apps, apps

    saved = tmp_path / "last.rgb"
    cmd = [str(client_bin()), "--host", host.address, "--port", str(host.port_base), "--state-dir", str(state),
           "stream", "--headless", "--app", "Desktop", "--width", "1280", "--height", "720", "--fps", "30",
           "--duration", "14", "--save-frame", str(saved)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Once foot has drawn (a few seconds in), ask the compositor for its frame; the client keeps decoding the
    # same still picture until its duration ends and saves the last one.
    wait_for(lambda: "session output created" in host.log(), 30, "the session's output", host)
    time.sleep(6)
    (dump / "request").touch()
    wait_for(lambda: (dump / "frame.rgba").exists(), 15, "the frame dump", host)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, f"lumen-client stream failed ({proc.returncode}):\n{err[-4000:]}\n{host.log()[-3000:]}"
    lines = json_lines(out)
    frames = [l for l in lines if "frame" in l]
    summary = lines[-1]
    assert summary.get("summary") and summary["transport"]["name"] == "lumen", summary
    decoded = [f for f in frames if f["decoded"]]
    # The desktop is still: the compositor renders (and the encoder sends) only damaged frames.
    assert len(decoded) >= 3, (len(decoded), err[-3000:])
    assert frames[0]["idr"], frames[0]
    # The latency probe: every decoded lumen frame carries its capture time (same machine, same clock).
    assert summary["latency_samples"] == len(decoded), summary
    assert 0 < summary["latency_p50_ms"] <= summary["latency_p99_ms"] < 1000, summary
    print(f"lumen transport: {len(decoded)} frames decoded, capture->decoded p50 {summary['latency_p50_ms']} ms, "
          f"p99 {summary['latency_p99_ms']} ms")

    w, h, _ = (int(v) for v in (dump / "frame.txt").read_text().split())
    assert (w, h) == (1280, 720)
    ref = np.frombuffer((dump / "frame.rgba").read_bytes(), np.uint8).reshape(h, w, 4)[..., :3][..., ::-1]  # BGR
    got = np.frombuffer(saved.read_bytes(), np.uint8).reshape(720, 1280, 3)[..., ::-1]  # RGB -> BGR
    red, green, blue = bars(ref)
    assert red > 100 and green > 100 and blue > 100, f"foot's colour bars are not in the frame: {red, green, blue}"
    value = psnr(got, ref)
    assert value >= 30.0, f"PSNR {value:.1f} dB against the compositor's frame"
    log = host.log()
    assert "client accepted the lumen transport" in log and "video: lumen transport" in log, log[-3000:]

    # A stock client at the same host still gets Moonlight media (and the session it launches decodes).
    _, cfg = paired_client(host)
    decoded_stock = tmp_path / "stock.npy"
    r = run_client(host, cfg, [["save_when", str(decoded_stock), ["bars"], 40]])
    assert r["saved"][str(decoded_stock)] == [720, 1280, 3]
    assert host.log().count("video: lumen transport") == 1, "the stock client's stream must not use the lumen transport"


def test_lumen_client_takes_moonlight_media_when_asked(session_host, tmp_path):
    """`--moonlight-media`: Moonlight's datagrams (no lumen offer accepted); input typed by lumen-client reaches
    the host's seat as the expected events."""
    events = tmp_path / "input.jsonl"
    host = session_host("--desktop-app", "weston-simple-shm", env={"LUMEN_INPUT_LOG": str(events)})
    state = tmp_path / "lumen-client"
    pair(host, state)
    p = lumen_client(host, state, "stream", "--headless", "--moonlight-media", "--fps", "30", "--frames", "30",
                     "--duration", "40", "--type-text", "hi", "--mouse-move", "5,-3")
    lines = json_lines(p.stdout)
    summary = lines[-1]
    assert summary["transport"]["name"] == "moonlight", summary
    assert summary["frames"] >= 30, summary
    assert "video: lumen transport" not in host.log()
    wait_for(lambda: events.exists() and "MouseMove" in events.read_text(), 5, "the input events", host)
    got = [json.loads(l)["event"] for l in events.read_text().splitlines()]
    assert got == ['Text("h")', 'Text("i")', "MouseMove { dx: 5, dy: -3 }"], got


def test_lumen_transport_recovers_injected_loss_and_raises_fec(session_host, tmp_path):
    """10 % of the video datagrams dropped by the host (test hook): GF(2^16) parity rebuilds the frames, the
    client's loss reports reach the host, and the host raises the FEC percentage above the negotiated 20 %."""
    host = session_host("--desktop-app", "weston-simple-shm", env={"LUMEN_TEST_VIDEO_LOSS_PCT": "10"})
    state = tmp_path / "lumen-client"
    pair(host, state)
    p = lumen_client(host, state, "stream", "--headless", "--fps", "30", "--duration", "12")
    lines = json_lines(p.stdout)
    frames = [l for l in lines if "frame" in l]
    summary = lines[-1]
    assert summary["transport"]["name"] == "lumen", summary
    recovered = sum(f["recovered"] for f in frames)
    decoded = sum(1 for f in frames if f["decoded"])
    assert recovered > 0, "no frame needed parity: was loss injected?"
    assert decoded >= 60, (decoded, len(frames))
    wait_for(lambda: "lumen FEC follows the reported loss" in host.log(), 5, "the FEC change", host)
    print(f"10 % injected loss: {decoded} frames decoded, {recovered} data shards rebuilt from parity")
