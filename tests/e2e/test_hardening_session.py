"""Hardening of the network face (issue 11, items 4, 5 and 7) against a real `lumen-session` on loopback:
idle connections that used to exhaust the file limit, junk floods that used to flood the log, and stream
settings beyond what the host can do. Attackers use extra source addresses from 127.0.0.0/8."""

from __future__ import annotations

import os
import resource
import socket
import threading

import pytest

import moonlight_helpers as mh
from hostile import get, hold_connections, is_open, loopback, udp_flood, wait_until
from moonlight_python.exceptions import HttpResponseError

ANNOUNCE = (
    "v=0\r\no=android 0 14 IN IPv4 127.0.0.1\r\ns=NVIDIA Streaming Client\r\n"
    "a=x-nv-video[0].clientViewportWd:{w} \r\na=x-nv-video[0].clientViewportHt:{h} \r\n"
    "a=x-nv-video[0].maxFPS:{fps} \r\na=x-nv-video[0].packetSize:{packet} \r\n"
    "a=x-nv-vqos[0].bw.maximumBitrateKbps:{kbps} \r\na=x-nv-vqos[0].bitStreamFormat:0 \r\n"
    "m=video 47998  \r\n"
)


def rtsp(host, method: str, target: str, cseq: int, body: bytes = b"", timeout: float = 10.0) -> bytes:
    head = f"{method} {target} RTSP/1.0\r\nCSeq: {cseq}\r\nX-GS-ClientVersion: 14\r\n"
    if body:
        head += f"Content-Length: {len(body)}\r\n"
    with socket.create_connection((host.address, host.ports["rtsp"]), timeout=timeout) as s:
        s.sendall(head.encode() + b"\r\n" + body)
        out = b""
        while chunk := s.recv(4096):
            out += chunk
    return out


def announce(host, cseq: int, w=1280, h=720, fps=30, packet=1392, kbps=8000) -> bytes:
    body = ANNOUNCE.format(w=w, h=h, fps=fps, packet=packet, kbps=kbps).encode()
    return rtsp(host, "ANNOUNCE", "streamid=control/13/0", cseq, body)


def plain_launch(client, width=1280, height=720, fps=30):
    """/launch without `corever`, so the test can speak plain RTSP."""
    return client._http.launch_app(1, width, height, fps, 5000, 1, os.urandom(16), os.urandom(16), 196610, True,
                                   False, "")


# --- item 7: what a paired client may ask for --------------------------------------------------------------


def test_stream_settings_beyond_the_host_are_refused_or_clamped(lumen_host, paired_client):
    host = lumen_host()
    client, _ = paired_client(host)
    with pytest.raises(HttpResponseError) as e:  # 8192x8192 took 1.17 GB
        plain_launch(client, 8192, 8192, 60)
    assert "8192x8192" in str(e.value)
    assert host.status()["session"] is None
    plain_launch(client, 1280, 720, 1000)
    assert host.status()["session"]["launch"]["fps"] == 240
    for cseq, (method, target) in enumerate([("OPTIONS", "rtsp://127.0.0.1"), ("DESCRIBE", "rtsp://127.0.0.1"),
                                             ("SETUP", "streamid=audio/0/0"), ("SETUP", "streamid=video/0/0"),
                                             ("SETUP", "streamid=control/13/0")], start=1):
        assert rtsp(host, method, target, cseq).startswith(b"RTSP/1.0 200"), method
    # 65000-byte packets used to go out; 8192x8192 in ANNOUNCE too.
    assert announce(host, 6, packet=65000).startswith(b"RTSP/1.0 400")
    assert announce(host, 7, w=8192, h=8192).startswith(b"RTSP/1.0 400")
    assert host.status()["session"]["stream_config"] is None
    # A 4 294 967 295 kbps bitrate made every frame fail: clamped; so is the frame rate.
    assert announce(host, 8, kbps=4294967295, fps=1000).startswith(b"RTSP/1.0 200")
    c = host.status()["session"]["stream_config"]
    assert c["bitrate_kbps"] == 500000 and c["fps"] == 240 and c["packet_size"] == 1392
    assert "clamped" in host.log()


# --- item 5: junk floods are counted per source and summarized -----------------------------------------------


def test_junk_floods_are_summarized_not_logged_per_message(lumen_host, paired_client):
    host = lumen_host()
    client, _ = paired_client(host)
    plain_launch(client)
    steps = [("OPTIONS", "rtsp://127.0.0.1"), ("DESCRIBE", "rtsp://127.0.0.1"), ("SETUP", "streamid=audio/0/0"),
             ("SETUP", "streamid=video/0/0"), ("SETUP", "streamid=control/13/0")]
    for cseq, (method, target) in enumerate(steps, start=1):
        assert rtsp(host, method, target, cseq).startswith(b"RTSP/1.0 200")
    assert announce(host, 6).startswith(b"RTSP/1.0 200")
    assert rtsp(host, "PLAY", "/", 7).startswith(b"RTSP/1.0 200")
    wait_until(lambda: host.status()["session"]["media_running"], what="the media session")
    before = len(host.log().encode())
    p = host.ports
    # 30,000 junk datagrams at the media ports (the session waits for the client's pings meanwhile) ...
    udp_flood(host.address, [p["video"], p["control"], p["audio"]], 30000, sources=4)
    # ... and junk on the TCP ports: garbage RTSP, malformed nvhttp queries, unpaired app requests.
    for i in range(300):
        src = loopback(i % 10)
        with socket.create_connection((host.address, p["rtsp"]), timeout=5, source_address=(src, 0)) as s:
            s.sendall(b"GARBAGE\r\n\r\n")
            s.recv(100)
        get(host, "pair", "&salt=%zz", source=src)
        get(host, "applist", source=src)
    # One line per message was ~150 bytes x 30,900 (4.6 MB); now the first of each kind and source is logged
    # and then one summary line per source and window.
    grown = len(host.log().encode()) - before
    assert grown < 40_000, f"the log grew by {grown} bytes under the flood"
    host.wait_log("(summary)", timeout=15)
    grown = len(host.log().encode()) - before
    print(f"\nlog growth under a flood of 30,000 datagrams and 900 TCP junk requests: {grown} bytes")
    assert grown < 40_000, f"the log grew by {grown} bytes under the flood and its summary"
    assert host.status()["session"] is not None  # the host still serves


# --- item 4: file descriptors -------------------------------------------------------------------------------


@pytest.fixture
def many_fds():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 4500:
        pytest.skip(f"the hard open-file limit ({hard}) is too low to hold 2,000 connections on both ends")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_stock_client_pairs_and_streams_while_2000_idle_connections_are_held(lumen_host, many_fds, tmp_path):
    host = lumen_host(start=False)
    base_command = host.command
    # Started the way most systems start it: soft limit 1,024 (the hard one stays where it is).
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    host.command = lambda: ["prlimit", f"--nofile=1024:{hard}", "--"] + base_command()
    host.start()
    p = host.ports
    stop = threading.Event()
    first_round = threading.Event()
    held: list[socket.socket] = []
    lock = threading.Lock()

    def attacker():
        # 1,000 idle connections each to HTTP and HTTPS from 25 addresses, re-opened as the host closes them.
        while not stop.is_set():
            with lock:
                alive = []
                for s in held:
                    if is_open(s):
                        alive.append(s)
                    else:
                        s.close()
                held[:] = alive
                need = 2000 - len(held)
            if need > 0:
                fresh = hold_connections(host.address, p["http"], need // 2, per_source=40)
                fresh += hold_connections(host.address, p["https"], need - need // 2, per_source=40, first_source=30)
                with lock:
                    held.extend(fresh)
            first_round.set()
            stop.wait(0.5)

    t = threading.Thread(target=attacker, daemon=True)
    t.start()
    try:
        assert first_round.wait(120), "the attacker did not finish opening its connections"
        client = mh.pair_client(host, tmp_path / "owner", pin="7777")
        assert len(host.clients()) == 1
        assert len(held) >= 1500, f"only {len(held)} idle connections held"
        r = mh.stream_attempt(host, tmp_path / "owner")
        assert r["result"] == "started", r
    finally:
        stop.set()
        t.join(30)
        for s in held:
            s.close()
    assert "raised the open-file limit" in host.log()
    del client


def test_one_address_cannot_hold_more_than_its_share(lumen_host):
    host = lumen_host()
    socks = hold_connections(host.address, host.ports["rtsp"], 300, per_source=300, first_source=200)
    try:
        def open_count():
            return sum(1 for s in socks if is_open(s))

        assert len(socks) == 300
        wait_until(lambda: open_count() <= 64, timeout=4, what="the host to close connections over the cap")
        # An idle connection is closed within seconds, not minutes.
        wait_until(lambda: open_count() == 0, timeout=15, what="idle connections to be closed")
    finally:
        for s in socks:
            s.close()
    assert get(host, "serverinfo")[0] == 200
