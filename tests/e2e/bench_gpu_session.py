"""Benchmark (not a test): one stock client (moonlight-python's moonlight-common-c) streams `lumen-session --demo`
at each mode, once per renderer (`--renderer auto`, then `--renderer pixman`), on this machine. Prints per run
the renderer and frame path the host chose (its status JSON and log), the host latency p50/p99 (frame
rendered → last datagram sent, the figure the client shows; the host's own summary line over the session's
last 1024 frames), the frame rate the client decoded, and the CPU of the session's worker (compositor,
encoder, demo client) and of the host process over the measurement window.

    python tests/e2e/bench_gpu_session.py [--modes 1920x1080@60,3840x2160@60] [--renderers auto,pixman]
        [--seconds 10] [--encoder auto] [--host-args '--output-scale 1'] [--markdown OUT.md] [--logs DIR]

Written for the GPU machine (docs/gpu.md, "A stock client on the GPU machine"), where it runs with the
device's python3.12 and the client's wheels unpacked on PYTHONPATH; it runs anywhere a `lumen-session`
(LUMEN_SESSION_BIN, else the dev-profile binary of scripts/test.sh) and moonlight-python are.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import conftest  # noqa: E402
import moonlight_helpers as mh  # noqa: E402
from bench_sessions import children_cpu, cpu_seconds, kv  # noqa: E402
from test_session import _client_cmd  # noqa: E402
from waits import wait_until  # noqa: E402

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def one_run(binary: Path, tmp: Path, mode: str, renderer: str, encoder: str, seconds: float,
            extra: list[str]) -> dict:
    size, fps = mode.split("@")
    width, height = (int(v) for v in size.split("x"))
    tag = f"{renderer}-{width}x{height}"
    rt = tmp / f"rt-{tag}"
    rt.mkdir(mode=0o700)
    env = {"XDG_RUNTIME_DIR": str(rt), "WAYLAND_DISPLAY": "", "DISPLAY": ""}
    host = conftest.LumenHost(binary, tmp / f"state-{tag}", tmp / f"host-{tag}.log",
                              ["--encoder", encoder, "--renderer", renderer, "--demo", "--no-xwayland", *extra], None,
                              False, env)
    host.start(timeout=60)
    try:
        cfg = tmp / f"client-{tag}"
        mh.pair_client(host, cfg)
        go = tmp / f"go-{tag}"
        steps = [["wait_frame", ["any"], 90], ["wait_file", str(go), 90], ["watch", seconds]]
        client = subprocess.Popen(_client_cmd(host, cfg, steps, width=width, height=height, fps=int(fps)),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_until(lambda: host.status()["sessions"], 90, "a streaming session",
                       until=lambda s: len(s) == 1 and s[0]["media_running"])
        except AssertionError:
            client.kill()
            out, err = client.communicate()
            print(out[-2000:], err[-3000:], host.log()[-6000:], file=sys.stderr)
            raise
        time.sleep(2.0)  # warm-up left out of the window (stream start, first IDRs), not a wait
        status = host.status()
        workers = [w["pid"] for w in status["media_plane"]["workers"]]
        go.touch()
        c0 = [children_cpu(p) for p in workers]
        h0, t0 = cpu_seconds(host.proc.pid), time.monotonic()
        time.sleep(seconds * 0.8)  # the measurement window (inside the client's watch), not a wait
        c1 = [children_cpu(p) for p in workers]
        h1, t1 = cpu_seconds(host.proc.pid), time.monotonic()
        out, err = client.communicate(timeout=seconds + 120)
        lines = [l for l in out.splitlines() if l.startswith("{")]
        result = json.loads(lines[-1]) if lines else {"result": "no output", "stderr": err[-3000:]}
        mh.attach_client(host, cfg)._http.quit_app()  # Moonlight's quit: the session ends and logs its figures
        wait_until(lambda: host.status()["sessions"], 30, "the session to end", until=lambda s: not s)
        text = ANSI.sub("", host.log())
        lat = [kv(l) for l in text.splitlines() if "host processing time" in l and int(kv(l).get("frames", 0)) > 30]
        chosen = [l for l in text.splitlines() if "session encoder and renderer chosen" in l or "fed by GPU" in l
                  or "registered with CUDA" in l or "CUDA works" in l
                  or "no CUDA" in l]
        watch = (result.get("watch") or [{}])[-1]
        wall = t1 - t0
        mp = status["media_plane"]
        return {
            "mode": mode + (f" ({' '.join(extra)})" if extra else ""), "renderer_arg": renderer, "renderer": mp.get("renderer"), "frame_path": mp.get("frame_path"),
            "encoder": mp.get("encoder"), "renderer_reason": mp.get("renderer_reason"),
            "client": result.get("result"), "client_frames": watch.get("frames"), "client_seconds": seconds,
            "client_max_gap_ms": watch.get("max_gap_ms"),
            "host_lat": lat[-1] if lat else None,
            "worker_cpu": sum(100.0 * (b - a) / wall for a, b in zip(c0, c1)),
            "host_cpu": 100.0 * (h1 - h0) / wall,
            "log_lines": chosen[:8],
        }
    finally:
        host.stop()
        if host.log_path.exists():
            host.log_path.replace(tmp / f"host-{tag}.done.log")


def table(rows: list[dict]) -> str:
    out = ["| mode | --renderer → renderer, frame path | encoder | client fps (decoded) | host latency p50 / p99 ms "
           "| encode p50 / p99 ms | frames | worker CPU % | host CPU % |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lat = r["host_lat"] or {}
        ms = lambda k: f"{int(lat[k]) / 1000:.1f}" if k in lat else "-"  # noqa: E731
        fps = f"{r['client_frames'] / r['client_seconds']:.1f}" if r.get("client_frames") else "-"
        out.append(f"| {r['mode']} | {r['renderer_arg']} → {r['renderer']}, `{r['frame_path']}` | {r['encoder']} | "
                   f"{fps} | {ms('host_us_p50')} / {ms('host_us_p99')} | {ms('encode_us_p50')} / {ms('encode_us_p99')} "
                   f"| {lat.get('frames', '-')} | {r['worker_cpu']:.0f} | {r['host_cpu']:.0f} |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--modes", default="1920x1080@60,3840x2160@60")
    ap.add_argument("--renderers", default="auto,pixman")
    ap.add_argument("--encoder", default="auto")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--host-args", default="", help="more lumen-session flags, e.g. '--output-scale 1'")
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--logs", type=Path, help="copy the hosts' logs into this folder")
    args = ap.parse_args()
    binary = Path(os.environ.get("LUMEN_SESSION_BIN") or conftest._bin_dir() / "lumen-session")
    rows = []
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        for mode in args.modes.split(","):
            for renderer in args.renderers.split(","):
                try:
                    r = one_run(binary, tmp, mode, renderer, args.encoder, args.seconds, shlex.split(args.host_args))
                except Exception as e:  # one failed run still leaves the others' figures
                    print(f"{mode} {renderer}: {type(e).__name__}: {str(e)[-3000:]}", file=sys.stderr)
                    continue
                rows.append(r)
                print(json.dumps(r), flush=True)
        if args.logs:
            args.logs.mkdir(parents=True, exist_ok=True)
            for f in tmp.glob("host-*.done.log"):
                (args.logs / f.name).write_text(ANSI.sub("", f.read_text(errors="replace")))
    md = table(rows)
    print(md)
    if args.markdown:
        args.markdown.write_text(md + "\n")
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
