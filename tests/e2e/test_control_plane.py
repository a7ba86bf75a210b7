"""End-to-end tests of lumen's Moonlight control plane with the stock client (moonlight-python, which bundles
moonlight-common-c): discovery info, pairing, HTTPS admission, app list/launch/resume/cancel, the RTSP
handshake, persistence, the admin CLI and mDNS. Everything runs on loopback against a real `lumen-session`."""

from __future__ import annotations

import http.client
import os
import random
import socket
import ssl
import stat
import struct
import threading
import time
from xml.etree import ElementTree

import pytest
import requests

import moonlight_helpers as mh
from waits import wait_until
from moonlight_python.exceptions import HttpResponseError, PairingError, WrongPinError
from moonlight_python.http_client import NvHTTP

FULL_HANDSHAKE = ["options", "describe", "setup_audio", "setup_video", "setup_control", "announce", "play"]


def http_get(host, path, query="", https=False, timeout=5):
    port = host.ports["https"] if https else host.ports["http"]
    url = f"{'https' if https else 'http'}://{host.address}:{port}/{path}?uniqueid=0123456789ABCDEF&uuid=1{query}"
    return requests.get(url, timeout=timeout, verify=False)


def xml_root(text):
    return ElementTree.fromstring(text)


def rtsp_exchange(host, data: bytes, timeout=5.0) -> bytes:
    with socket.create_connection((host.address, host.ports["rtsp"]), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return out
            out += chunk


def test_serverinfo_on_http_and_https(lumen_host, paired_client):
    host = lumen_host()
    for https in (False, True):
        r = http_get(host, "serverinfo", https=https)
        assert r.status_code == 200
        root = xml_root(r.text)
        assert root.get("status_code") == "200"
        f = {c.tag: c.text for c in root}
        assert f["appversion"] == "7.1.431.-1"
        assert int(f["ServerCodecModeSupport"]) == 0x1  # the session's media plane streams H.264 only
        assert int(f["HttpsPort"]) == host.port_base - 5
        assert f["state"] == "SUNSHINE_SERVER_FREE" and f["currentgame"] == "0"
        assert len(f["uniqueid"]) == 32 and f["hostname"] and f["mac"].count(":") == 5
        assert f["MaxLumaPixelsHEVC"] == "0" and f["PairStatus"] == "0"
    # The stock client parses it the same way.
    info = mh.server_info(host.address, host.port_base, host.state_dir.parent / "probe")
    assert info.app_version == "7.1.431.-1" and info.server_codec_mode_support == 1
    assert info.https_port == host.port_base - 5


def test_pair_list_launch_and_full_rtsp_handshake(lumen_host, paired_client):
    host = lumen_host()
    client, cfg = paired_client(host, pin="8642")
    assert [c["name"] for c in host.clients()] == ["roth"]
    apps = client.apps()
    assert [a.name for a in apps] == ["Desktop"] and apps[0].id == 1

    r = mh.stream_attempt(host, cfg, width=1280, height=720, fps=30, bitrate_kbps=8000)
    # lumen-session runs the real media plane: the handshake completes and the stream starts.
    assert_stream_started(r)

    st = host.status()
    s = st["session"]
    assert st["state"] == "busy"
    assert s["rtsp_steps"] == FULL_HANDSHAKE
    assert s["rtsp_encrypted"] is True  # corever=1 -> rtspenc://
    assert s["negotiated_codec"] == "h264"
    c = s["stream_config"]
    assert (c["width"], c["height"], c["fps"]) == (1280, 720, 30)
    assert c["configured_bitrate_kbps"] == 8000 and 0 < c["bitrate_kbps"] <= 8000
    assert c["packet_size"] > 1000 and c["min_fec_packets"] == 2
    assert c["codec"] == "h264" and c["audio_channels"] == 2 and c["audio_packet_duration_ms"] == 5
    assert c["use_reliable_udp"] == 13 and c["encryption_enabled"] & 0x1  # control stream v2
    # The client uses ping payloads and connect data (0x2): the host accepts only pings with this session's
    # X-SS-Ping-Payload and an ENet connect with its X-SS-Connect-Data — and the stream ran on them.
    assert c["ml_feature_flags"] & 0x2
    assert s["launch"]["app_name"] == "Desktop" and (s["launch"]["width"], s["launch"]["height"]) == (1280, 720)
    assert s["media_ports"] == {"video": host.port_base + 9, "control": host.port_base + 10, "audio": host.port_base + 11}
    mp = st["media_plane"]
    assert mp["plane"] == "workers" and mp["encoder"] in ("software", "nvenc") and mp["video_source"] == "desktop"
    assert [w["session"] for w in mp["workers"]] == [s["session"]]
    assert mp["media"]["plane"] == "moonlight"

    # Over plain HTTP the caller is unknown: "free" (its /launch then reattaches its own session). Over
    # HTTPS with its certificate the client sees its own session (stream/tests/busy.rs).
    info = mh.server_info(host.address, host.port_base, cfg)
    assert info.state == "SUNSHINE_SERVER_FREE" and info.current_game == 0

    # The stock client launches Desktop again: its own session is reattached (new key), RTSP runs again.
    key_id = s["launch"]["key_id"]
    assert_stream_started(mh.stream_attempt(host, cfg, width=1280, height=720, fps=30))
    s2 = host.status()["session"]
    assert s2["rtsp_steps"] == FULL_HANDSHAKE and s2["launch"]["key_id"] != key_id
    assert s2["session"] == s["session"] and "reattaching the client's session" in host.log()
    client.quit_app()  # /cancel
    assert host.status()["session"] is None
    assert mh.server_info(host.address, host.port_base, cfg).state == "SUNSHINE_SERVER_FREE"


def assert_stream_started(r):
    assert r["result"] == "started", r


def test_hevc_is_offered_only_with_an_hevc_encoder(lumen_host, paired_client):
    host = lumen_host()
    _, cfg = paired_client(host)
    hevc_encoder = bool(host.status()["server_codec_mode_support"] & 0x100)
    r = mh.stream_attempt(host, cfg, codec="hevc", width=640, height=480)
    if not hevc_encoder:
        # The decoder expects HEVC while the host sends H.264, so only the handshake is checked here.
        assert r["result"] != "StreamStartError" or r["stage"] > mh.STAGE_RTSP_HANDSHAKE, r
    s = host.status()["session"]
    assert s["rtsp_steps"] == FULL_HANDSHAKE
    # Without an HEVC encoder DESCRIBE carries no HEVC marker and the client falls back to H.264 in ANNOUNCE.
    assert s["negotiated_codec"] == ("hevc" if hevc_encoder else "h264")
    assert (s["stream_config"]["width"], s["stream_config"]["height"]) == (640, 480)


def test_describe_offer_contents(lumen_host, paired_client):
    host = lumen_host()
    client, _ = paired_client(host)
    nv = client._http
    key, iv = os.urandom(16), os.urandom(16)
    url = nv.launch_app(1, 800, 600, 60, 5000, 1, key, iv, 196610, True, False, "")  # no corever: plain RTSP
    assert url == f"rtsp://127.0.0.1:{host.port_base + 21}"
    reply = rtsp_exchange(host, b"DESCRIBE rtsp://0.0.0.0:1 RTSP/1.0\r\nCSeq: 2\r\nX-GS-ClientVersion: 14\r\n"
                                b"Accept: application/sdp\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"RTSP/1.0 200 OK") and b"CSeq: 2" in head
    text = body.decode()
    assert "a=x-ss-general.featureFlags:3" in text  # pen/touch, controller touchpad and motion
    assert "a=x-ss-general.encryptionSupported:7" in text
    assert "sprop-parameter-sets=AAAAAU" not in text and "AV1/90000" not in text


def test_wrong_pin_fails_cleanly_logged_and_rate_limited(lumen_host, tmp_path):
    from hostile import StepPair

    conf = tmp_path / "lumen.toml"
    conf.write_text("[pairing]\nmax_failures = 2\nlockout_secs = 60\npin_wait_secs = 5\n")
    host = lumen_host("--config", str(conf))
    # The stock client sees a wrong PIN after stage 3 and aborts with /unpair: logged, not a failure (issue 11).
    host.admin("pin", "1111")
    client = mh.make_client(tmp_path / "c0")
    server = mh.server_info(host.address, host.port_base, tmp_path / "c0")
    with pytest.raises(WrongPinError):
        client.pair(server, pin="2222")
    host.wait_log("pairing failed")
    assert host.status()["pairing"]["locked_sources"] == []
    # A client that goes on to stage 4 with a wrong PIN fails there; two such failures lock its address.
    for i in range(2):
        host.admin("pin", "1111")
        p = StepPair(host, tmp_path / f"c{i + 1}", pin="2222")
        p.stage1(), p.stage2(), p.stage3()
        _, root, _ = p.stage4()
        assert root.find("paired").text == "0"
    host.wait_log("rate-limited")
    assert host.status()["pairing"]["locked_sources"][0]["locked_for_secs"] > 30
    # Locked: even the right PIN is refused, immediately and cleanly.
    host.admin("pin", "3333")
    client = mh.make_client(tmp_path / "c-right")
    server = mh.server_info(host.address, host.port_base, tmp_path / "c-right")
    t = time.monotonic()
    with pytest.raises(HttpResponseError, match="locked"):
        client.pair(server, pin="3333")
    assert time.monotonic() - t < 5
    assert "pairing attempt refused: rate-limited" in host.log()
    assert host.clients() == []


def test_pairing_without_an_armed_pin_times_out_cleanly(lumen_host, tmp_path):
    conf = tmp_path / "lumen.toml"
    conf.write_text("[pairing]\npin_wait_secs = 1\n")
    host = lumen_host("--config", str(conf))
    client = mh.make_client(tmp_path / "c")
    server = mh.server_info(host.address, host.port_base, tmp_path / "c")
    with pytest.raises(HttpResponseError, match="not entered on the host in time"):
        client.pair(server, pin="1234")
    assert "timed out waiting for `lumen-session pin`" in host.log()


def test_pin_armed_after_the_client_started_pairing(lumen_host, tmp_path):
    host = lumen_host()
    client = mh.make_client(tmp_path / "c")
    server = mh.server_info(host.address, host.port_base, tmp_path / "c")
    err = []
    t = threading.Thread(target=lambda: err.append(_try(lambda: client.pair(server, pin="5150"))))
    t.start()
    host.wait_log("a client wants to pair")
    host.admin("pin", "5150")
    t.join(30)
    assert err == [None]
    assert len(host.clients()) == 1


def _try(f):
    try:
        f()
        return None
    except Exception as e:  # reported to the test thread
        return e


def test_unpaired_certificate_gets_nothing(lumen_host, paired_client, tmp_path):
    host = lumen_host()
    paired_client(host)
    stranger = mh.attach_client(host, tmp_path / "stranger")
    with pytest.raises((HttpResponseError, requests.HTTPError)):
        stranger.apps()
    key, iv = os.urandom(16), os.urandom(16)
    with pytest.raises((HttpResponseError, requests.HTTPError)):
        stranger._http.launch_app(1, 1280, 720, 30, 5000, 1, key, iv, 196610, True, False, "corever=1")
    for path in ("applist", "launch", "resume", "cancel", "appasset"):
        # HTTP 200 with the status in the XML, so that clients show the message (spec §3.1, issue 11).
        r = http_get(host, path, "&appid=1", https=True)  # no client certificate at all
        assert r.status_code == 200 and xml_root(r.text).get("status_code") == "401"
        r = http_get(host, path, "&appid=1", https=False)  # plain HTTP never serves them
        assert r.status_code == 200 and xml_root(r.text).get("status_code") == "401"
    assert host.status()["session"] is None
    # With no launched session, RTSP gives no session either.
    reply = rtsp_exchange(host, b"OPTIONS rtsp://127.0.0.1 RTSP/1.0\r\nCSeq: 1\r\n\r\n")
    assert reply.startswith(b"RTSP/1.0 454")
    assert "refusing a request from an unpaired client" in host.log()


def test_second_client_pairs_independently_and_unpair(lumen_host, paired_client):
    host = lumen_host()
    a, _ = paired_client(host, pin="1234")
    b, _ = paired_client(host, pin="9876")
    ids = [c["id"] for c in host.clients()]
    assert len(ids) == 2 and ids[0] != ids[1]
    assert [x.name for x in a.apps()] == ["Desktop"] and [x.name for x in b.apps()] == ["Desktop"]
    host.admin("unpair", ids[0])
    with pytest.raises((HttpResponseError, requests.HTTPError)):
        a.apps()
    assert [x.name for x in b.apps()] == ["Desktop"]
    assert [c["id"] for c in host.clients()] == [ids[1]]
    assert host.admin("unpair", "ffffffff", check=False).returncode != 0


def test_pairings_and_host_certificate_survive_restart(lumen_host, paired_client):
    host = lumen_host()
    _, cfg = paired_client(host)
    cert_before = ssl.get_server_certificate((host.address, host.ports["https"]))
    uid = host.status()["uniqueid"]
    host.restart()
    assert ssl.get_server_certificate((host.address, host.ports["https"])) == cert_before
    assert host.status()["uniqueid"] == uid
    again = mh.attach_client(host, cfg)
    assert [x.name for x in again.apps()] == ["Desktop"]
    key_mode = stat.S_IMODE(os.stat(host.state_dir / "host-key.pem").st_mode)
    assert key_mode == 0o600
    assert stat.S_IMODE(os.stat(host.state_dir).st_mode) == 0o700


def test_state_file_killed_mid_write_never_loses_pairings(lumen_host, paired_client):
    host = lumen_host()
    paired_client(host, pin="1111")
    paired_client(host, pin="2222")
    ids = sorted(c["id"] for c in host.clients())
    rng = random.Random(7)
    for round_ in range(6):
        stop = threading.Event()
        renamed = [0]

        def rewrite_loop():
            n = 0
            while not stop.is_set():
                if host.admin("rename", ids[n % 2], f"name-{round_}-{n}", check=False).returncode == 0:
                    renamed[0] += 1
                n += 1

        t = threading.Thread(target=rewrite_loop)
        t.start()
        wait_until(lambda: renamed[0], 10, "the first rename of the round (rewrites under way)",
                   detail=lambda: host.log()[-2000:])
        time.sleep(rng.random() * 0.3)  # a random kill point among the rewrites (fuzzing), not a wait
        host.kill()  # SIGKILL in the middle of a stream of atomic rewrites
        stop.set()
        t.join()
        host.start()
        assert sorted(c["id"] for c in host.clients()) == ids, host.log()[-2000:]
    # A torn temp file from a crash is ignored and cleaned up.
    (host.state_dir / "clients.json.tmp-1-deadbeef").write_bytes(b'{"version":1,"clients":[{"id":')
    host.restart()
    assert sorted(c["id"] for c in host.clients()) == ids
    assert not any(".tmp-" in p.name for p in host.state_dir.iterdir())


def test_launch_resume_cancel_and_appasset(lumen_host, paired_client, tmp_path):
    conf = tmp_path / "apps.toml"
    conf.write_text('[[app]]\nname = "Terminal"\ncmd = "foot"\n')
    host = lumen_host("--config", str(conf), "--app", "weston-terminal")
    client, _ = paired_client(host)
    apps = client.apps()
    assert [a.name for a in apps] == ["Desktop", "Terminal", "weston-terminal"]
    for a in apps:
        conn = http.client.HTTPSConnection(host.address, host.ports["https"], timeout=5,
                                           context=client._http._make_ssl_context())
        conn.request("GET", f"/appasset?uniqueid=0123456789ABCDEF&appid={a.id}&AssetType=2&AssetIdx=0")
        r = conn.getresponse()
        assert r.status == 200 and r.getheader("Content-Type") == "image/png"
        assert r.read()[:8] == b"\x89PNG\r\n\x1a\n"
        conn.close()
    nv = client._http
    key, iv = os.urandom(16), os.urandom(16)
    url = nv.launch_app(2, 1920, 1080, 60, 20000, 1, key, iv, 196610, True, False, "corever=1")
    assert url == f"rtspenc://127.0.0.1:{host.port_base + 21}"
    s = host.status()["session"]
    assert s["launch"]["app_name"] == "Terminal" and s["launch"]["app_cmd"] == "foot"
    assert s["launch"]["key_id"] == struct.unpack(">i", iv[:4])[0]
    assert (s["launch"]["width"], s["launch"]["height"], s["launch"]["fps"]) == (1920, 1080, 60)
    # One app at a time.
    with pytest.raises(HttpResponseError):
        nv.launch_app(1, 1280, 720, 30, 5000, 1, key, iv, 196610, True, False, "corever=1")
    iv2 = os.urandom(16)
    assert nv.resume_app(key, iv2, 196610, "corever=1") == url
    s = host.status()["session"]
    assert s["launch"]["key_id"] == struct.unpack(">i", iv2[:4])[0] and s["launch"]["app_id"] == 2
    nv.quit_app()
    assert host.status()["session"] is None
    with pytest.raises(HttpResponseError):
        nv.resume_app(key, iv2, 196610, "corever=1")


def test_rtsp_refuses_plaintext_on_an_encrypted_session_and_garbage(lumen_host, paired_client):
    host = lumen_host()
    client, _ = paired_client(host)
    key, iv = os.urandom(16), os.urandom(16)
    client._http.launch_app(1, 1280, 720, 30, 5000, 1, key, iv, 196610, True, False, "corever=1")
    assert rtsp_exchange(host, b"OPTIONS rtsp://0.0.0.0:1 RTSP/1.0\r\nCSeq: 1\r\n\r\n") == b""
    assert rtsp_exchange(host, b"\x80\x00\x00\x10" + os.urandom(40)) == b""  # bad tag
    client._http.quit_app()
    client._http.launch_app(1, 1280, 720, 30, 5000, 1, key, iv, 196610, True, False, "")
    assert rtsp_exchange(host, b"NOT RTSP AT ALL\r\n\r\n") == b""
    assert rtsp_exchange(host, b"OPTIONS x RTSP/1.0\r\nCSeq: 9\r\n\r\n").startswith(b"RTSP/1.0 200 OK\r\nCSeq: 9")
    assert "RTSP connection failed" in host.log()


def test_malformed_http_queries_get_a_clean_error(lumen_host):
    host = lumen_host()
    conn = http.client.HTTPConnection(host.address, host.ports["http"], timeout=5)
    conn.request("GET", "/pair?uniqueid=0123456789ABCDEF&phrase=getservercert&salt=%zz")  # sent verbatim
    r = conn.getresponse()
    assert r.status == 200 and xml_root(r.read()).get("status_code") == "400"
    conn.close()
    r = http_get(host, "pair", "&phrase=getservercert&salt=00&clientcert=11")
    assert xml_root(r.text).find("paired").text == "0"
    r = http_get(host, "nothing-here")
    assert r.status_code == 404
    assert "malformed nvhttp query" in host.log()
    assert http_get(host, "serverinfo").status_code == 200  # still serving


def test_admin_socket_and_cli(lumen_host):
    host = lumen_host()
    sock = host.state_dir / "admin.sock"
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
    bad = host.admin("pin", "12", check=False)
    assert bad.returncode != 0 and "4 to 16 digits" in bad.stderr
    host.admin("pin", "123456")
    assert host.status()["pairing"]["armed"] is True
    assert host.admin("clients").stdout == ""
    host.stop()
    assert not sock.exists()
    gone = host.admin("status", check=False)
    assert gone.returncode != 0 and "cannot reach a running lumen-session" in gone.stderr


def test_mdns_announces_nvstream_on_loopback(lumen_host):
    zeroconf = pytest.importorskip("zeroconf")
    host = lumen_host(mdns=True)
    found = {}
    ev = threading.Event()

    class Listener(zeroconf.ServiceListener):
        def add_service(self, zc, type_, name):
            info = zc.get_service_info(type_, name, timeout=3000)
            if info and info.port == host.port_base:
                found["name"] = name
                found["addresses"] = info.parsed_addresses()
                ev.set()

        def update_service(self, zc, type_, name):
            self.add_service(zc, type_, name)

        def remove_service(self, zc, type_, name):
            pass

    zc = zeroconf.Zeroconf(interfaces=["127.0.0.1"])
    try:
        zeroconf.ServiceBrowser(zc, "_nvstream._tcp.local.", Listener())
        assert ev.wait(15), f"no _nvstream._tcp announcement for port {host.port_base}\n{host.log()[-2000:]}"
    finally:
        zc.close()
    assert found["name"].endswith("._nvstream._tcp.local.")
    # Whichever interface answered, the advertised address reaches this host (checked by its uniqueid).
    uid = host.status()["uniqueid"]
    v4 = [a for a in found["addresses"] if ":" not in a]
    assert v4, found
    for addr in v4:
        r = requests.get(f"http://{addr}:{host.port_base}/serverinfo?uniqueid=0123456789ABCDEF&uuid=1", timeout=5)
        assert xml_root(r.text).find("uniqueid").text == uid


def test_pin_given_at_start_arms_the_first_attempt_only(lumen_host, tmp_path):
    host = lumen_host("--pin", "2468")
    assert host.status()["pairing"]["armed"] is True
    mh.pair_client(host, tmp_path / "a", pin="2468", arm=False)
    assert host.status()["pairing"]["armed"] is False
    assert len(host.clients()) == 1


def test_https_serverinfo_reports_pairing_and_rename(lumen_host, paired_client):
    host = lumen_host()
    client, _ = paired_client(host)
    xml = client._http.open_https("serverinfo")
    assert xml_root(xml).find("PairStatus").text == "1"
    cid = host.clients()[0]["id"]
    host.admin("rename", cid[:6], "living-room tv")
    assert host.clients()[0]["name"] == "living-room tv"
    assert host.admin("rename", cid, "x" * 200, check=False).returncode != 0
