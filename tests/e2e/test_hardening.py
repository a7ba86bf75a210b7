"""Hardening of pairing and the network face (issue 11): each test replays an attack against a real
`lumen-session` on loopback (extra source addresses from 127.0.0.0/8 play the attacker) and checks that the
owner's client still pairs and streams. Items 4 and 5 (descriptors, log floods) are in
`test_hardening_flood.py`."""

from __future__ import annotations

import os
import ssl
import subprocess
import threading

import pytest

import moonlight_helpers as mh
from hostile import STOCK_UNIQUEID, StepPair, field, get, loopback, wait_until
from moonlight_python.exceptions import HttpResponseError, PairingError


def pairing(host) -> dict:
    import json

    return json.loads(host.admin("pairing", "--json").stdout)


def _run(results: list, f):
    try:
        results.append(("ok", f()))
    except Exception as e:  # reported to the test thread
        results.append(("error", e))


def _config(tmp_path, text: str):
    conf = tmp_path / "lumen.toml"
    conf.write_text(text)
    return str(conf)


# --- item 1: the PIN goes to the attempt the owner picks -------------------------------------------------


def test_pin_goes_only_to_the_attempt_the_owner_picks(lumen_host, tmp_path):
    host = lumen_host("--config", _config(tmp_path, "[pairing]\npin_wait_secs = 60\n"))
    # The attacker parks a stage-1 request first, from another address with the stock uniqueid.
    attacker = StepPair(host, tmp_path / "attacker", pin="0000", source=loopback(0), device="evil")
    att = []
    t_att = threading.Thread(target=_run, args=(att, lambda: attacker.stage1(timeout=60)))
    t_att.start()
    wait_until(lambda: len(pairing(host)["waiting"]) == 1, what="the attacker's request to wait")
    # The owner's client starts pairing and shows its PIN.
    client = mh.make_client(tmp_path / "owner")
    server = mh.server_info(host.address, host.port_base, tmp_path / "owner")
    victim = []
    t_vic = threading.Thread(target=_run, args=(victim, lambda: client.pair(server, pin="4242")))
    t_vic.start()
    waiting = wait_until(lambda: (w := pairing(host)["waiting"]) and len(w) == 2 and w, what="two waiting requests")
    listing = host.admin("pairing").stdout
    assert "evil" in listing and "roth" in listing and loopback(0) in listing
    # With two waiting, a bare `pin` gives the PIN to nobody and lists them.
    bare = host.admin("pin", "4242", check=False)
    assert bare.returncode != 0 and "2 clients are waiting" in bare.stderr and "--client" in bare.stderr
    mine = next(w for w in waiting if w["address"] == "127.0.0.1")
    assert mine["uniqueid"] == STOCK_UNIQUEID and mine["device"] == "roth"
    out = host.admin("pin", "4242", "--client", str(mine["id"]))
    assert "PIN given to pairing request" in out.stdout and "127.0.0.1" in out.stdout
    t_vic.join(30)
    assert victim and victim[0][0] == "ok", victim
    assert len(host.clients()) == 1
    # The attacker never got the host certificate; its own /unpair ends its own request.
    assert len(pairing(host)["waiting"]) == 1
    attacker.unpair()
    t_att.join(15)
    assert att and att[0][0] == "ok", att
    _, root, _ = att[0][1]
    assert field(root, "plaincert") is None and field(root, "paired") == "0"


def test_second_stage1_is_answered_in_progress_not_a_reset(lumen_host, tmp_path):
    host = lumen_host()
    armed = host.admin("pin", "1357").stdout
    # The reply describes the real flow: nobody waits, so the PIN is armed for a while; normally the client
    # shows a PIN first and the owner enters that one.
    assert "armed for the next pairing request" in armed and "expires in 120 s" in armed
    assert "shows a PIN" in armed
    v = StepPair(host, tmp_path / "v", pin="1357")
    _, root, _ = v.stage1()
    assert field(root, "plaincert")
    assert field(v.stage2()[1], "challengeresponse")
    # A second stage 1 of the same client (uniqueid and address) while its attempt is in progress.
    _, root, _ = StepPair(host, tmp_path / "dup", pin="9999").stage1(timeout=10)
    assert field(root, "paired") == "1" and field(root, "plaincert") is None  # "already in progress"
    assert "already in progress" in host.log()
    assert field(v.stage3()[1], "pairingsecret")
    assert field(v.stage4()[1], "paired") == "1"
    assert len(host.clients()) == 1


def test_armed_pin_expires(lumen_host, tmp_path):
    host = lumen_host("--config", _config(tmp_path, "[pairing]\npin_ttl_secs = 1\npin_wait_secs = 2\n"))
    assert "expires in 1 s" in host.admin("pin", "2468").stdout
    assert host.status()["pairing"]["armed"] is True
    wait_until(lambda: host.status()["pairing"]["armed"] is False, timeout=10, what="the PIN to expire")
    client = mh.make_client(tmp_path / "late")
    server = mh.server_info(host.address, host.port_base, tmp_path / "late")
    with pytest.raises((PairingError, HttpResponseError)):
        client.pair(server, pin="2468")
    assert host.clients() == []


# --- item 2: /unpair and stray stages of others neither cancel nor lock out ------------------------------


def test_unpair_and_stray_stages_from_others_cannot_cancel_or_lock_out(lumen_host, paired_client, tmp_path):
    host = lumen_host("--config", _config(tmp_path, "[pairing]\nmax_failures = 2\nlockout_secs = 60\n"))
    host.admin("pin", "1122")
    v = StepPair(host, tmp_path / "v", pin="1122")
    assert field(v.stage1()[1], "plaincert")
    att = loopback(0)
    stray = []
    for _ in range(5):
        get(host, "unpair", source=att)
        for stage in ("clientchallenge", "serverchallengeresp", "clientpairingsecret"):
            stray.append(get(host, "pair", f"&devicename=roth&{stage}=00", source=att)[1])
    # The owner's attempt goes on as if nothing happened.
    assert field(v.stage2()[1], "challengeresponse")
    assert all(field(r, "paired") == "0" and r.get("status_code") == "400" for r in stray)
    assert field(v.stage3()[1], "pairingsecret")
    assert field(v.stage4()[1], "paired") == "1"
    assert pairing(host)["locked_sources"] == []
    # Failures of the attacker's own attempts lock the attacker's address, and nobody else's.
    for i in range(2):
        host.admin("pin", "3344")
        a = StepPair(host, tmp_path / f"a{i}", pin="3344", source=att)
        assert field(a.stage1()[1], "plaincert")
        _, root, _ = a._get("clientchallenge=zz")
        assert field(root, "paired") == "0"
    locked = pairing(host)["locked_sources"]
    assert [x["address"] for x in locked] == [att] and locked[0]["locked_for_secs"] > 30
    _, root, _ = StepPair(host, tmp_path / "a-again", pin="3344", source=att).stage1(timeout=5)
    assert root.get("status_code") == "503" and "locked" in root.get("status_message")
    paired_client(host, pin="5566")  # the owner's address pairs as usual
    assert len(host.clients()) == 2


# --- item 3: a missing identity file never replaces the identity -----------------------------------------


def test_missing_identity_files_never_replace_the_identity(lumen_host, paired_client):
    host = lumen_host()
    _, cfg = paired_client(host)
    cert = ssl.get_server_certificate((host.address, host.ports["https"]))
    uid = host.status()["uniqueid"]
    for lost in (["host-cert.pem"], ["host-uniqueid"], ["host-cert.pem", "host-uniqueid"]):
        host.stop()
        for name in lost:
            (host.state_dir / name).unlink()
        host.start()
        assert ssl.get_server_certificate((host.address, host.ports["https"])) == cert, lost
        assert host.status()["uniqueid"] == uid, lost
        assert [a.name for a in mh.attach_client(host, cfg).apps()] == ["Desktop"]
        assert "rebuilt" in host.log()
    host.stop()
    before = {p.name: p.read_bytes() for p in host.state_dir.iterdir() if p.name.startswith("host-")}
    (host.state_dir / "host-key.pem").unlink()
    with pytest.raises(RuntimeError, match="exited"):
        host.start()
    assert "host-key.pem is missing" in host.log()
    after = {p.name: p.read_bytes() for p in host.state_dir.iterdir() if p.name.startswith("host-")}
    assert after == {k: v for k, v in before.items() if k != "host-key.pem"}


# --- item 6: the start PIN from a file or the environment, expiring --------------------------------------


def test_start_pin_from_file_or_environment_expires_and_is_documented(lumen_host, lumen_bin, tmp_path):
    help_text = subprocess.run([str(lumen_bin), "--help"], capture_output=True, text=True, timeout=30).stdout
    assert "--pin-file" in help_text and "LUMEN_PIN" in help_text and "expires" in help_text
    pin_file = tmp_path / "pin"
    pin_file.write_text("8080\n")
    os.chmod(pin_file, 0o600)
    host = lumen_host("--pin-file", str(pin_file))
    assert "8080" not in open(f"/proc/{host.proc.pid}/cmdline", "rb").read().decode(errors="replace")
    assert host.status()["pairing"]["armed"] is True
    mh.pair_client(host, tmp_path / "a", pin="8080", arm=False)
    assert len(host.clients()) == 1
    env_host = lumen_host("--config", _config(tmp_path, "[pairing]\npin_ttl_secs = 2\n"), env={"LUMEN_PIN": "9090"})
    assert env_host.status()["pairing"]["armed"] is True
    wait_until(lambda: env_host.status()["pairing"]["armed"] is False, timeout=10, what="the start PIN to expire")
    bad = lumen_host(env={"LUMEN_PIN": "12"}, start=False)
    with pytest.raises(RuntimeError, match="exited"):
        bad.start()
    assert "LUMEN_PIN: a PIN is 4 to 16 digits" in bad.log()


# --- item 8: errors the way clients read them; clients.json from a newer version -------------------------


def test_errors_are_http_200_with_the_status_in_the_xml(lumen_host, paired_client, tmp_path):
    host = lumen_host()
    paired_client(host)
    stranger = mh.attach_client(host, tmp_path / "stranger")
    with pytest.raises(HttpResponseError) as e:  # not requests.HTTPError: the client reads the message
        stranger.apps()
    assert e.value.args[0] == 401 or "401" in str(e.value)
    status, root, _ = get(host, "pair", "&phrase=getservercert&salt=%zz")
    assert status == 200 and root.get("status_code") == "400" and root.get("status_message")
    status, root, _ = get(host, "pair", "&clientchallenge=00")
    assert status == 200 and root.get("status_code") == "400" and field(root, "paired") == "0"


def test_clients_json_of_a_newer_version_is_refused_untouched(lumen_host, paired_client):
    host = lumen_host()
    paired_client(host)
    host.stop()
    path = host.state_dir / "clients.json"
    newer = b'{"version": 2, "clients": [], "devices": {"format": "from the future"}}'
    path.write_bytes(newer)
    with pytest.raises(RuntimeError, match="exited"):
        host.start()
    assert "newer than this lumen understands" in host.log()
    assert path.read_bytes() == newer
