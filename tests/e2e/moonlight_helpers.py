"""Helpers that drive the stock Moonlight client (moonlight-python, bundling moonlight-common-c) against a
lumen host: pairing with a PIN armed through `lumen-session pin`, re-attaching a paired identity, and stream
attempts in a subprocess (LiStartConnection is process-global: one stream per process).

Also runnable as a script: `python moonlight_helpers.py stream --host H --port P --config-dir D ...` prints
one JSON line describing how the stream attempt ended.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent

# LiGetStageName numbering (moonlight-common-c Limelight.h).
STAGE_RTSP_HANDSHAKE = 4
STAGE_CONTROL_STREAM_INIT = 5
STAGE_NAMES = {
    0: "none", 1: "platform init", 2: "name resolution", 3: "audio stream init", 4: "RTSP handshake",
    5: "control stream init", 6: "video stream init", 7: "input stream init", 8: "control stream start",
    9: "video stream start", 10: "audio stream start", 11: "input stream start",
}


def make_client(config_dir: str | os.PathLike):
    """A MoonlightClient with its identity in `config_dir` (never the default ~/.moonlight-python)."""
    from moonlight_python import MoonlightClient

    return MoonlightClient(config_dir=str(config_dir))


def server_info(host: str, port: int, config_dir: str | os.PathLike):
    """`/serverinfo` over HTTP, parsed by the stock client."""
    from moonlight_python.discovery import connect_to_server
    from moonlight_python.identity import Identity

    return connect_to_server(host, Identity(str(config_dir)), port)


def pair_client(lumen_host, config_dir: str | os.PathLike, pin: str = "4711", arm: bool = True):
    """Pairs a fresh client identity in `config_dir` with `lumen_host`. The PIN is armed on the host with
    `lumen-session pin` (as the owner would) before the client starts; returns the paired client."""
    from moonlight_python.discovery import connect_to_server

    client = make_client(config_dir)
    server = connect_to_server(lumen_host.address, client._identity, lumen_host.port_base)
    if arm:
        lumen_host.admin("pin", pin)
    client.pair(server, pin=pin)
    return client


def attach_client(lumen_host, config_dir: str | os.PathLike):
    """A client using an identity that was paired earlier (e.g. before a host restart), without pairing."""
    from moonlight_python.discovery import connect_to_server
    from moonlight_python.http_client import NvHTTP

    client = make_client(config_dir)
    server = connect_to_server(lumen_host.address, client._identity, lumen_host.port_base)
    client._server = server
    client._http = NvHTTP(server.address, client._identity, http_port=server.http_port,
                          https_port=server.https_port)
    return client


def stream_attempt(lumen_host, config_dir: str | os.PathLike, *, app: str = "Desktop", width: int = 1280,
                   height: int = 720, fps: int = 30, bitrate_kbps: int = 8000, codec: str = "h264",
                   timeout: float = 90.0) -> dict:
    """Runs `start_stream()` of an already-paired identity in a subprocess; returns the JSON it printed:
    `{"result": "started"|"StreamStartError"|..., "stage": N, "error_code": N, "message": str}`."""
    cmd = [sys.executable, str(HERE / "moonlight_helpers.py"), "stream", "--host", lumen_host.address,
           "--port", str(lumen_host.port_base), "--config-dir", str(config_dir), "--app", app,
           "--width", str(width), "--height", str(height), "--fps", str(fps), "--bitrate", str(bitrate_kbps),
           "--codec", codec]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise AssertionError(f"stream helper printed no result (rc={p.returncode})\nstdout:\n{p.stdout}\nstderr:\n{p.stderr[-4000:]}")
    out = json.loads(lines[-1])
    out["stderr"] = p.stderr[-4000:]
    return out


def _stream_main(args) -> int:
    from moonlight_python.exceptions import StreamStartError

    class _Host:
        address = args.host
        port_base = args.port

    client = attach_client(_Host, args.config_dir)
    try:
        client.start_stream(app=args.app, width=args.width, height=args.height, fps=args.fps,
                            bitrate_kbps=args.bitrate, codec=args.codec, ready_timeout=5.0,
                            black_frame_threshold=-1, record_audio=False)
        result = {"result": "started"}
        client.stop_stream()
    except StreamStartError as e:
        result = {"result": "StreamStartError", "stage": e.stage, "error_code": e.error_code,
                  "stage_name": STAGE_NAMES.get(e.stage, "?"), "message": str(e)}
    except Exception as e:  # the test decides whether this is acceptable
        result = {"result": type(e).__name__, "message": str(e), "trace": traceback.format_exc()[-2000:]}
    print(json.dumps(result), flush=True)
    os._exit(0)  # skip atexit handlers of the client library (the stream is already torn down)


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stream")
    s.add_argument("--host", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--config-dir", required=True)
    s.add_argument("--app", default="Desktop")
    s.add_argument("--width", type=int, default=1280)
    s.add_argument("--height", type=int, default=720)
    s.add_argument("--fps", type=int, default=30)
    s.add_argument("--bitrate", type=int, default=8000)
    s.add_argument("--codec", default="h264")
    args = ap.parse_args()
    return _stream_main(args)


if __name__ == "__main__":
    sys.exit(main())
