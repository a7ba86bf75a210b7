"""Benchmark (not a test): 1, 2 and 4 stock clients streaming 1280x720@60 at once, each in its own session, on
this machine. Prints per round: host latency p50/p99 of each session (frame rendered → last datagram sent, the
figure the client shows), CPU of each session's worker and of the host, animated (weston-simple-shm) and idle
(foot, nothing changing), and the host ↔ worker hop p50/p99 of each session.

    ~/.cache/lumen/venv/bin/python tests/e2e/bench_sessions.py [--seconds 10] [--encoder-clock ticker]

`--encoder-clock ticker` runs the sessions' encoders on a ticker of their own (the design before the output's
frame clock drove them), to show what the one clock saves in host latency.

Uses the dev-profile binary of scripts/test.sh (LUMEN_BIN_DIR or the cache's target/debug).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import conftest  # noqa: E402
import moonlight_helpers as mh  # noqa: E402
from test_session import _client_cmd  # noqa: E402
from waits import wait_until  # noqa: E402


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu(pid: int) -> float:
    """CPU of a worker and of every process below it (its apps)."""
    total = cpu_seconds(pid)
    for task in Path(f"/proc/{pid}/task").glob("*"):
        kids = (task / "children")
        if kids.exists():
            for c in kids.read_text().split():
                total += children_cpu(int(c))
    return total


def kv(line: str) -> dict:
    return dict(t.split("=", 1) for t in line.split() if "=" in t)


def round_trip(host, cfgs, app, seconds, tmp: Path):
    n = len(cfgs)
    go = tmp / f"go-{app.split()[0]}-{n}"
    steps = [["wait_frame", ["any"], 90], ["wait_file", str(go), 90], ["stream_for", seconds]]
    log_before = len(host.log())
    procs = [subprocess.Popen(_client_cmd(host, c, steps, app=app.split()[0], width=1280, height=720, fps=60),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cfgs]
    try:
        wait_until(lambda: host.status()["sessions"], 90, f"{n} streaming sessions",
                   until=lambda s: len(s) == n and all(x["media_running"] for x in s))
    except AssertionError:
        for p in procs:
            p.kill()
            out, err = p.communicate()
            print(out[-2000:], err[-2000:], file=sys.stderr)
        print(host.log()[log_before:][-6000:], file=sys.stderr)
        raise
    time.sleep(2.0)  # warm-up left out of the window (stream start, first IDRs), not a wait
    workers = [w["pid"] for w in host.status()["media_plane"]["workers"]]
    ids = {str(x["session"]) for x in host.status()["sessions"]}
    go.touch()
    c0 = [children_cpu(p) for p in workers]
    h0, t0 = cpu_seconds(host.proc.pid), time.monotonic()
    time.sleep(seconds * 0.8)  # the measurement window, not a wait
    c1 = [children_cpu(p) for p in workers]
    h1, t1 = cpu_seconds(host.proc.pid), time.monotonic()
    for p in procs:
        p.communicate(timeout=120)
    for c in cfgs:  # Moonlight's quit: the sessions end, their links close and log their hop figures
        mh.attach_client(host, c)._http.quit_app()
    wait_until(lambda: host.status()["sessions"], 30, "the sessions to end", until=lambda s: not s)
    def hop_lines():
        return {kv(l)["session"]: kv(l) for l in host.log()[log_before:].splitlines()
                if "worker link hop" in l and kv(l).get("session") in ids}
    # The last line of each session (at its link's close) covers its last 1024 units.
    hops = wait_until(hop_lines, 15, "the sessions' hop lines", until=lambda h: len(h) == n)
    text = host.log()[log_before:]
    lat = [kv(l) for l in text.splitlines() if "host processing time" in l and int(kv(l).get("frames", 0)) > 30]
    wall = t1 - t0
    return {
        "latency": [(int(x["host_us_p50"]), int(x["host_us_p99"]), int(x["frames"])) for x in lat[-n:]],
        "worker_cpu": [100.0 * (b - a) / wall for a, b in zip(c0, c1)],
        "host_cpu": 100.0 * (h1 - h0) / wall,
        "hop": [(int(h["hop_us_p50"]), int(h["hop_us_p99"])) for h in hops.values()],
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", default="1,2,4")
    ap.add_argument("--encoder-clock", choices=["output", "ticker"], default="output")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        host = conftest.bench_host(tmp, ["--max-sessions", "4", "--app", "weston-simple-shm", "--app", "foot sh",
                                         "--encoder-clock", args.encoder_clock])
        try:
            cfgs = [tmp / f"client-{i}" for i in range(4)]
            for c in cfgs:
                mh.pair_client(host, c)
            for n in (int(x) for x in args.rounds.split(",")):
                for app, state in (("weston-simple-shm", "animated"), ("foot sh", "idle")):
                    r = round_trip(host, cfgs[:n], app, args.seconds, tmp)
                    rows.append((n, state, r))
        finally:
            host.stop()
    print(f"encoder clock: {args.encoder_clock}")
    print(f"{'sessions':>8} {'state':<9} {'host latency p50/p99 ms, each session':<44} "
          f"{'worker CPU % each':<26} {'host CPU %':>10}  {'hop p50/p99 us, each':<30}")
    for n, state, r in rows:
        lat = " ".join(f"{a / 1000:.1f}/{b / 1000:.1f}" for a, b, _ in r["latency"]) or "-"
        cpu = " ".join(f"{c:.0f}" for c in r["worker_cpu"])
        hop = " ".join(f"{a}/{b}" for a, b in r["hop"]) or "-"
        print(f"{n:>8} {state:<9} {lat:<44} {cpu:<26} {r['host_cpu']:>10.1f}  {hop:<30}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
