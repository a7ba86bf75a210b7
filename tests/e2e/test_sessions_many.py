"""Many Moonlight clients at once, each in its own session (issue 12): three stock clients with distinct
paired certificates launch at the same instant and stream different apps at different modes, each sees only
its own app (PSNR against its own worker's frame), text typed by one reaches only its app; `kill -9` of one
worker terminates only that client while the others keep streaming, and a relaunch gets a fresh worker; a
client beyond `--max-sessions` gets 503 and nothing else changes; Moonlight's quit ends the app.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np

from test_session import VK_RETURN, _client_cmd, psnr, run_client, session_host  # noqa: F401 (fixture)
from waits import wait_until

# (app, width, height, fps, the predicate of its first picture)
CLIENTS = {
    "a": ("foot", 1280, 720, 60, ["prompt"]),
    "b": ("gtk4-demo", 1920, 1080, 30, ["bright", 100]),
    "c": ("weston-simple-shm", 1366, 768, 60, ["any"]),
}


def _start(host, cfg, name, steps):
    app, w, h, fps, _ = CLIENTS[name]
    return subprocess.Popen(_client_cmd(host, cfg, steps, app=app, width=w, height=h, fps=fps),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(p, host, timeout=120):
    out, err = p.communicate(timeout=timeout)
    lines = [l for l in out.splitlines() if l.startswith("{")]
    assert lines, f"client printed nothing (rc={p.returncode}):\n{err[-3000:]}\n{host.log()[-3000:]}"
    r = json.loads(lines[-1])
    assert r["result"] == "streamed", (r, host.log()[-4000:])
    return r


def _sessions(host) -> dict:
    """app name -> the session's status entry."""
    return {s["launch"]["app_name"]: s for s in host.status()["sessions"]}


def test_three_clients_stream_their_own_sessions_at_once(session_host, paired_client, tmp_path):
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    host = session_host("--max-sessions", "3", "--app", "foot sh", "--app", "gtk4-demo", "--app",
                        "weston-simple-shm", "--frame-dump", str(dumps))
    cfgs = {n: paired_client(host, name=f"client-{n}")[1] for n in CLIENTS}
    trig, trig2 = tmp_path / "dump-now", tmp_path / "kill-done"
    typed = tmp_path / "typed-by-a"
    dec = {n: tmp_path / f"decoded-{n}.npy" for n in CLIENTS}
    # Each client's dump directory is a link the test makes once it knows which session is whose.
    link = {n: tmp_path / f"dump-{n}" for n in CLIENTS}

    def first_steps(n):
        pred = CLIENTS[n][4]
        steps = [["wait_frame", pred, 90], ["wait_file", str(trig), 90]]
        if n != "c":  # weston-simple-shm animates: its frame cannot be matched to one dump
            steps += [["request_dump", str(link[n])], ["wait_file", str(link[n] / "frame.rgba"), 15],
                      ["save_when", str(dec[n]), ["psnr", str(link[n]), 28.0], 30]]
        else:
            steps += [["save_when", str(dec[n]), ["any"], 10]]
        return steps

    steps = {
        "a": first_steps("a") + [["text", f"echo a-only > {typed}"], ["key", VK_RETURN],
                                 ["wait_file", str(typed), 15], ["wait_file", str(trig2), 60], ["watch", 3.0]],
        "b": first_steps("b") + [["wait_terminated", 60]],
        "c": first_steps("c") + [["wait_file", str(trig2), 60], ["watch", 3.0]],
    }
    # All three launch at the same instant.
    procs = {n: _start(host, cfgs[n], n, steps[n]) for n in CLIENTS}
    try:
        wait_until(lambda: len(host.status()["sessions"]) == 3 and all(
            s["media_running"] for s in host.status()["sessions"]), 90, "three streaming sessions",
            describe=lambda v: json.dumps(host.status()["sessions"])[:2000])
        sessions = _sessions(host)
        for n, (app, w, h, fps, _) in CLIENTS.items():
            s = sessions[app]
            assert (s["stream_config"]["width"], s["stream_config"]["height"]) == (w, h), s
            link[n].symlink_to(dumps / f"session-{s['session']}")
        assert len({s["client_id"] for s in sessions.values()}) == 3
        # All three share the standard media ports: their pings and ENet connects are told apart by the
        # session's ping payload and connect data alone (one client address for all three).
        assert len({json.dumps(s["media_ports"], sort_keys=True) for s in sessions.values()}) == 1, sessions
        assert next(iter(sessions.values()))["media_ports"]["video"] == host.port_base + 9, sessions
        workers = {w["session"]: w["pid"] for w in host.status()["media_plane"]["workers"]}
        assert len(set(workers.values())) == 3, workers
        trig.touch()
        # A's and B's decoded frames match their own worker's picture; C's is its own size.
        wait_until(lambda: all(p.exists() for p in dec.values()) and typed.exists(), 90,
                   "each client's own picture and A's typed command",
                   describe=lambda v: str({n: p.exists() for n, p in dec.items()}))
        frames = {n: np.load(p) for n, p in dec.items()}
        for n, (app, w, h, fps, _) in CLIENTS.items():
            assert frames[n].shape == (h, w, 3), (n, frames[n].shape)
        ref_a = np.frombuffer((link["a"] / "frame.rgba").read_bytes(), np.uint8).reshape(720, 1280, 4)[..., :3][..., ::-1]
        assert psnr(frames["a"], ref_a) >= 28.0
        # Text typed by A ran in A's terminal only: the others show no terminal.
        assert typed.read_text().strip() == "a-only"
        assert frames["b"].mean() > 100 and abs(float(frames["b"].mean()) - float(frames["a"].mean())) > 30

        # kill -9 of B's worker: B is terminated within 2 s, A and C go on without a gap over 100 ms (C
        # animates; A shows an idle terminal, repeated once a second).
        b_session = sessions["gtk4-demo"]["session"]
        killed_at = time.monotonic()
        os.kill(workers[b_session], signal.SIGKILL)
        trig2.touch()
        rb = _result(procs["b"], host)
        assert rb["terminated_at"] - killed_at < 2.0, rb["terminated_at"] - killed_at
        ra, rc = _result(procs["a"], host), _result(procs["c"], host)
        print("watch after the kill:", {"a": ra["watch"], "c": rc["watch"]})
        for r in (ra, rc):
            assert not r["watch"][0]["terminated"], r
        assert rc["watch"][0]["frames"] > 100 and rc["watch"][0]["max_gap_ms"] <= 100, rc["watch"]
        assert ra["watch"][0]["frames"] >= 2, ra["watch"]
        host.wait_log("worker crashed or failed", timeout=10)
        # A relaunch of B gets a fresh worker.
        run_client(host, cfgs["b"], [["wait_frame", ["bright", 100], 90]], app="gtk4-demo", width=1920,
                   height=1080, fps=30)
        workers2 = {w["session"]: w["pid"] for w in host.status()["media_plane"]["workers"]}
        assert workers2.get(b_session) not in (None, workers[b_session]), (workers, workers2)

        # A fourth client is turned away with 503; nothing else changes.
        _, cfg_d = paired_client(host, name="client-d")
        p = subprocess.run(_client_cmd(host, cfg_d, [["wait_frame", ["any"], 10]], app="foot"),
                           capture_output=True, text=True, timeout=60)
        first = json.loads([l for l in p.stdout.splitlines() if l.startswith("{")][0])
        assert first["result"] != "streamed" and "503" in first.get("message", ""), first
        assert len(host.status()["sessions"]) == 3
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()


def test_quit_from_the_client_ends_the_app(session_host, paired_client, tmp_path):
    """Moonlight's quit (stop the stream, then `/cancel`) ends the app; a later launch starts it afresh."""
    import moonlight_helpers as mh

    host = session_host("--app", "foot sh")
    _, cfg = paired_client(host)
    run_client(host, cfg, [["wait_frame", ["prompt"], 60]], app="foot")
    m = host.wait_log("app started")
    pid = int(m.split("app started")[1].split("pid=")[1].split()[0])
    assert Path(f"/proc/{pid}").exists()
    mh.attach_client(host, cfg)._http.quit_app()
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), 10, "the app to end after quit")
    assert host.status()["sessions"] == []
    run_client(host, cfg, [["wait_frame", ["prompt"], 60]], app="foot")
    assert host.log().count("app started") == 2


def test_a_held_modifier_is_released_when_the_client_leaves(session_host, paired_client, tmp_path):
    """A client that leaves holding Ctrl does not leave it held: the next client's typing is plain text."""
    target = tmp_path / "typed-after"
    host = session_host("--desktop-app", "foot sh")
    _, cfg = paired_client(host)
    p = subprocess.Popen(_client_cmd(host, cfg, [["wait_frame", ["prompt"], 60], ["key_down", 0x11], ["hang"]]),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert json.loads(line)["result"] == "started", (line, host.log()[-3000:])
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    host.wait_log("releasing what the departed client held", timeout=20)
    run_client(host, cfg, [["wait_frame", ["prompt"], 60], ["text", f"echo plain > {target}"], ["key", VK_RETURN],
                           ["wait_file", str(target), 15]])
    assert target.read_text().strip() == "plain"


def test_an_odd_mode_streams_at_the_next_even_size(session_host, paired_client, tmp_path):
    host = session_host("--desktop-app", "foot sh")
    _, cfg = paired_client(host)
    f = tmp_path / "odd.npy"
    run_client(host, cfg, [["save_when", str(f), ["prompt"], 60]], width=1365, height=767, fps=30)
    # The stock client announces 1365x766 (it evens the height itself); the odd width streams as 1366.
    h, w, _ = np.load(f).shape
    assert w == 1366 and h in (766, 768), (h, w)
    assert 'odd mode: streaming the next even size asked="1365x' in host.log()


def test_an_x11_app_streams_as_a_moonlight_app(session_host, paired_client, tmp_path):
    """`--app xclock`: the session's Xwayland (the set-up's, found by the host) runs it, and it streams."""
    host = session_host("--app", "xclock -update 1 -bg white -fg black -hd black -hl black")
    _, cfg = paired_client(host)
    f = tmp_path / "xclock.npy"
    run_client(host, cfg, [["save_when", str(f), ["clock_face"], 60]], app="xclock")
    assert np.load(f).shape == (720, 1280, 3)
    assert "X11 apps: each session starts Xwayland" in host.log()


def test_a_wrong_app_command_is_a_clean_error(session_host, paired_client, tmp_path):
    host = session_host("--app", "no-such-command-xyz --flag")
    _, cfg = paired_client(host)
    p = subprocess.run(_client_cmd(host, cfg, [["wait_frame", ["any"], 10]], app="no-such-command-xyz"),
                       capture_output=True, text=True, timeout=60)
    first = json.loads([l for l in p.stdout.splitlines() if l.startswith("{")][0])
    assert first["result"] != "streamed", first
    host.wait_log("no such command: no-such-command-xyz", timeout=10)
    assert host.proc.poll() is None


def test_text_is_as_readable_at_4k_as_at_1080p(session_host, paired_client, tmp_path):
    """The output scale: a 3840x2160 session runs at scale 2 (auto), so foot's text is as tall, in share of the
    picture, as at 1920x1080."""
    from test_session import COLOUR_BARS

    host = session_host("--desktop-app", COLOUR_BARS)
    _, cfg = paired_client(host)

    def red_rows(f):
        b, g, r = (f[:200, :, k].astype(int) for k in range(3))
        return int((((r > g + 30) & (r > b + 30)).sum(axis=1) > 50).sum())

    small, big = tmp_path / "1080.npy", tmp_path / "2160.npy"
    run_client(host, cfg, [["save_when", str(small), ["bars"], 60]], width=1920, height=1080, fps=30)
    run_client(host, cfg, [["save_when", str(big), ["bars"], 120]], width=3840, height=2160, fps=30)
    h1, h2 = red_rows(np.load(small)), red_rows(np.load(big))
    assert h1 > 5 and 1.8 <= h2 / h1 <= 2.2, (h1, h2)
    assert "output scale set" in host.log() and "scale=2" in host.log()


def test_text_outside_the_keymap_reaches_foot(session_host, paired_client, tmp_path):
    """UTF-8 text with characters that are not on the US keymap (✓ é ß) reaches foot, which has no text-input:
    each goes through a one-character keymap."""
    target = tmp_path / "utf8"
    host = session_host("--desktop-app", "foot sh")
    _, cfg = paired_client(host)
    run_client(host, cfg, [["wait_frame", ["prompt"], 60], ["text", f"echo ✓éß > {target}"], ["key", VK_RETURN],
                           ["wait_file", str(target), 15]])
    wait_until(lambda: target.read_text(), 5, "the typed line", until=lambda t: t.endswith("\n"))
    assert target.read_text().strip() == "✓éß"


def test_a_session_nobody_streams_ends_after_the_idle_timeout(session_host, paired_client, tmp_path):
    """A client that leaves without quitting keeps its session for a resume — but not forever: after
    `--session-idle-timeout` the session, its app and its worker end (a streaming session is never idle)."""
    host = session_host("--session-idle-timeout", "2", "--app", "foot sh")
    _, cfg = paired_client(host)
    # Streams for longer than the timeout: not reaped while it streams.
    run_client(host, cfg, [["wait_frame", ["prompt"], 60], ["stream_for", 4]], app="foot")
    assert "nobody streamed the session" not in host.log()
    m = host.wait_log("app started")
    pid = int(m.split("app started")[1].split("pid=")[1].split()[0])
    # The client left without quitting: 2 s later the session ends, with its app and worker.
    host.wait_log("nobody streamed the session: ending it", timeout=15)
    wait_until(lambda: host.status()["sessions"], 10, "the session to end", until=lambda s: s == [])
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), 10, "the app to end")
    host.wait_log("session worker ended", timeout=10)
    assert "reason=IdleTimeout" in host.log()
