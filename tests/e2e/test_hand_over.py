"""The hand-over (the login issue's mechanism: greeter → the user's session on the same stream): while a stock
client streams, `lumen-session hand-over N` moves the session to a fresh worker — the client keeps decoding,
is never terminated, and sees the new worker's picture; the old worker is gone."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from test_session import _client_cmd, session_host  # noqa: E402,F401 (fixture)
from waits import wait_until  # noqa: E402


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def _sessions(host) -> list[dict]:
    return json.loads(host.admin("sessions", "--json").stdout)


def _workers(host) -> dict[int, int]:
    """session -> its worker's pid."""
    return {w["session"]: w["pid"] for w in host.status()["media_plane"]["workers"]}


def test_a_stream_moves_to_a_new_worker_without_the_client_noticing(session_host, paired_client, tmp_path):
    host = session_host("--desktop-app", "weston-simple-shm")
    _, cfg = paired_client(host)
    go = tmp_path / "go"
    steps = [["wait_frame", ["rings"], 60], ["wait_file", str(go), 60], ["watch", 10.0]]
    client = subprocess.Popen(_client_cmd(host, cfg, steps, width=640, height=480, fps=30),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        sessions = wait_until(lambda: [s for s in _sessions(host) if s["state"] == "streaming"], 60,
                              "the session to stream", detail=lambda: host.log()[-3000:])
        sid = sessions[0]["session"]
        old = _workers(host)[sid]
        go.write_text("go")
        out = host.admin("hand-over", str(sid))
        new = int(re.search(r"worker (\d+)", out.stdout).group(1))
        assert new != old
        stdout, stderr = client.communicate(timeout=120)
    finally:
        if client.poll() is None:
            client.kill()
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    assert lines, f"client printed nothing: {stderr[-3000:]}\n{host.log()[-3000:]}"
    res = json.loads(lines[-1])
    assert res["result"] == "streamed", (res, host.log()[-3000:])
    watch = res["watch"][0]
    # The stream went on through the hand-over: not terminated, frames all along, a short gap at most.
    assert not watch["terminated"], (watch, host.log()[-3000:])
    assert watch["frames"] >= 100, (watch, host.log()[-3000:])
    assert watch["max_gap_ms"] < 3000, (watch, host.log()[-3000:])
    log = host.log()
    assert "hand-over: the stream now comes from a new worker" in log
    assert "video now from the new worker" in log
    assert "hand-over: the old worker ended" in log or wait_until(
        lambda: "hand-over: the old worker ended" in host.log(), 10, "the old worker to end")
    assert not _alive(old), f"the old worker {old} still runs"
    assert _workers(host)[sid] == new
