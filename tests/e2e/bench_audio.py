"""Benchmark (not a test): the audio host latency of a session — an app's samples reach the session's audio
server → the datagrams of their Opus packet are sent by the host — with the stock client streaming. An app
(paplay of a generated tone) plays in the session for `--seconds`; the host logs the median and p99 over the
packets that carried sound when the stream ends; this prints them, with the packet duration asked for.

    ~/.cache/lumen/venv/bin/python tests/e2e/bench_audio.py [--seconds 10] [--runs 3]

What the figure holds: the time a sample waits in the server's buffer for the audio clock (the app keeps the
server's 40 ms target filled, so most of it is that buffer), the packet's duration, Opus encoding, the audio
link, and RTP/CBC/FEC/send in the host. Uses the dev-profile binary of scripts/test.sh.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import conftest  # noqa: E402
import moonlight_helpers as mh  # noqa: E402
from bench_sessions import kv  # noqa: E402
from test_audio import player, write_tone  # noqa: E402
from test_session import _client_cmd  # noqa: E402
from waits import wait_until  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        tone = tmp / "tone.wav"
        write_tone(tone, 440.0, args.seconds * args.runs + 60)
        host = conftest.bench_host(tmp, ["--app", str(player(tmp, "bench-tone", tone))])
        try:
            cfg = tmp / "client"
            mh.pair_client(host, cfg)
            for _ in range(args.runs):
                before = len(host.log())
                steps = [["wait_frame", ["any"], 90], ["stream_for", args.seconds]]
                subprocess.run(_client_cmd(host, cfg, steps, app="bench-tone", width=1280, height=720, fps=60),
                               capture_output=True, text=True, timeout=180)
                mh.attach_client(host, cfg)._http.quit_app()
                line = wait_until(lambda: [l for l in host.log()[before:].splitlines()
                                           if "audio host latency" in l], 30, "the audio latency line")[-1]
                rows.append(kv(line))
                wait_until(lambda: host.status()["sessions"], 30, "the session to end", until=lambda s: not s)
        finally:
            host.stop()
    print(f"{'run':>4} {'packets':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for i, r in enumerate(rows, 1):
        print(f"{i:>4} {r['packets']:>8} {int(r['us_p50']) / 1000:>8.1f} {int(r['us_p99']) / 1000:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
