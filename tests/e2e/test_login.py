"""Per-user login (issue 15) with a stock client: `lumen-session --system` (as root: the broker stays root,
the host drops to the system user `lumen`) shows a client with no session a greeter (agreety in foot, running
as `lumen-greeter`); the user name and password typed through Moonlight's keyboard are checked by PAM in the
broker, and the same stream then shows the user's own session, a worker running as that user. Real Unix
users are created for the tests (with passwords) and removed after."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import conftest  # noqa: E402
import moonlight_helpers  # noqa: E402
from test_session import VK_RETURN, _client_cmd  # noqa: E402
from waits import wait_until  # noqa: E402

GREETER_SHOWN = "window shown with the keyboard focus"
ASKED = "greeter: asking for the password"
LOGGED_IN = "login: the stream now shows the user's session"
# agreety's text (the issue line and "login:") on screen: light pixels right of the first 60 columns, where
# neither the pointer (drawn at its start near the top left, 69 light pixels) nor foot's cursor block can be.
# Before foot shows agreety's output the frame holds only those two, which once passed a looser check.
GREETER_TEXT = ["light", [0, 120, 60, 600], 100]

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("agreety") is None or shutil.which("useradd") is None,
                                reason="system mode needs root, agreety (greetd) and useradd")


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid in /proc/{pid}/status")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _remove_user(name: str) -> None:
    subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
    wait_until(lambda: subprocess.run(["pgrep", "-u", name], capture_output=True).returncode != 0, 10,
               f"{name}'s processes to end")
    subprocess.run(["userdel", "-r", name], capture_output=True)


@pytest.fixture
def users():
    """Real users `lumtest-alice` and `lumtest-bob` with random passwords: {name: (password, uid)}."""
    made = {}
    for short in ("alice", "bob"):
        name = f"lumtest-{short}"
        if subprocess.run(["id", name], capture_output=True).returncode == 0:
            _remove_user(name)
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True)
        password = secrets.token_urlsafe(12)
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
        made[short] = (name, password, int(subprocess.check_output(["id", "-u", name])))
    yield made
    for name, _, _ in made.values():
        _remove_user(name)


@pytest.fixture
def system_host(lumen_bin, tmp_path):
    """Factory: a started `lumen-session --system` (binary and state where the `lumen` user reaches them)."""
    subprocess.run([str(HERE.parent.parent / "scripts/deps/login.sh")], check=True, capture_output=True)
    root = Path(tempfile.mkdtemp(prefix="lumen-login-", dir="/tmp"))
    root.chmod(0o755)
    (root / "bin").mkdir(mode=0o755)
    binary = root / "bin" / "lumen-session"
    try:
        os.link(lumen_bin, binary)
    except OSError:
        shutil.copy2(lumen_bin, binary)
    out = root / "out"
    out.mkdir()
    out.chmod(0o1777)
    hosts = []

    def make(*args):
        env = {"WAYLAND_DISPLAY": "", "DISPLAY": "", "GSK_RENDERER": "cairo"}
        h = conftest.LumenHost(binary, root / "state", tmp_path / "host.log",
                               ["--system", "--runtime-dir", str(root / "rt"), "--encoder", "software",
                                "--no-xwayland", "--user-session", "foot", *args], None, False, env)
        hosts.append(h)
        return h.start()

    make.out = out
    yield make
    for h in hosts:
        h.stop()
        print(f"\n--- host log ---\n{h.log()[-4000:]}")
    shutil.rmtree(root, ignore_errors=True)


def _touch_when(host, needle: str, count: int, path: Path, timeout: float = 90.0) -> threading.Thread:
    """Touches `path` once `needle` is in the host log `count` times (the client waits for the file)."""
    def run():
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if host.log().count(needle) >= count:
                path.touch()
                return
            time.sleep(0.05)  # polling pace of the log watcher, not a wait
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _login_steps(host, tmp: Path, tag: str, user: str, password: str, out: Path, *, windows_before: int,
                 asked_before: int, logins_before: int) -> list:
    """Steps of a client that waits for the greeter, logs in, and types `id -un` in the user's terminal."""
    greeter, asked, session = tmp / f"{tag}-greeter", tmp / f"{tag}-asked", tmp / f"{tag}-session"
    _touch_when(host, GREETER_SHOWN, windows_before + 1, greeter)
    _touch_when(host, ASKED, asked_before + 1, asked)
    # The user's terminal: after the hand-over, its window has the keyboard focus.
    def session_ready():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            log = host.log()
            i = log.find(LOGGED_IN) if log.count(LOGGED_IN) > logins_before else -1
            if i >= 0 and log.count(GREETER_SHOWN) >= windows_before + 2:
                session.touch()
                return
            time.sleep(0.05)  # polling pace of the log watcher, not a wait
    threading.Thread(target=session_ready, daemon=True).start()
    return [["wait_file", str(greeter), 60], ["save_when", str(tmp / f"{tag}-greeter.npy"), GREETER_TEXT, 20],
            ["text", user], ["key", VK_RETURN], ["wait_file", str(asked), 30],
            ["text", password], ["key", VK_RETURN], ["wait_file", str(session), 60],
            ["text", f"id -un | tee {out}"], ["key", VK_RETURN], ["wait_file", str(out), 20], ["watch", 1.0]]


def _result(p: subprocess.Popen, host) -> dict:
    stdout, stderr = p.communicate(timeout=240)
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    assert lines, f"client printed nothing: {stderr[-3000:]}\n{host.log()[-4000:]}"
    r = json.loads(lines[-1])
    assert r["result"] == "streamed", (r, host.log()[-4000:])
    return r


def _workers(host) -> list[dict]:
    return host.status()["media_plane"]["workers"]


def test_a_client_logs_in_at_the_greeter_and_the_same_stream_shows_the_users_session(
        system_host, users, paired_client, tmp_path):
    host = system_host()
    alice, password, alice_uid = users["alice"]
    # The network-facing host runs as `lumen`, not root; its broker child stays root.
    lumen_uid = int(subprocess.check_output(["id", "-u", "lumen"]))
    assert _uid_of(host.proc.pid) == lumen_uid != 0
    _, cfg = paired_client(host)
    out = system_host.out / "alice-id"
    steps = _login_steps(host, tmp_path, "a", alice, password, out, windows_before=0, asked_before=0,
                         logins_before=0)
    p = subprocess.Popen(_client_cmd(host, cfg, steps, width=1280, height=720, fps=30),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    greeter_pid = wait_until(lambda: [w["worker_pid"] for w in _workers(host) if w["role"] == "greeter"], 60,
                             "the greeter worker", detail=lambda: host.log()[-3000:])[0]
    assert _uid_of(greeter_pid) == int(subprocess.check_output(["id", "-u", "lumen-greeter"]))
    # The greeter sees none of the users' homes (its own mount namespace hides /home).
    assert alice in os.listdir("/home")
    assert os.listdir(f"/proc/{greeter_pid}/root/home") == []
    r = _result(p, host)
    # The greeter was on screen: agreety's light text on foot's dark background.
    greeter = np.load(tmp_path / "a-greeter.npy")
    assert int((greeter[:120, 60:600].min(axis=2) > 150).sum()) > 100
    # `id -un` typed in the user's terminal, through the same stream, printed the user.
    assert out.read_text().strip() == alice
    assert not r["watch"][0]["terminated"]
    log = host.log()
    assert "broker: login accepted" in log and password not in log
    workers = _workers(host)
    mine = [w for w in workers if w["role"] == "user"]
    assert len(mine) == 1 and mine[0]["user"] == alice, workers
    # The session's worker process (a child of its root PAM session helper) runs as alice.
    assert _uid_of(mine[0]["worker_pid"]) == alice_uid
    assert _uid_of(mine[0]["pid"]) == 0, "the PAM session helper is root"
    assert wait_until(lambda: not _alive(greeter_pid), 10, "the greeter worker to exit")
    # The hand-over: password accepted → the user's session streams.
    ms = [float(m) for m in re.findall(r"handover_ms=([\d.]+)", log)]
    print(f"hand-over (password accepted -> the user's session streams): {ms} ms")
    # The client is bound to its first login's user.
    client = [c for c in host.clients()]
    assert client[0]["user"] == alice, client

    # The bound client comes back: its running session, no greeter, no password.
    started = log.count("broker: worker started")
    out2 = system_host.out / "alice-id-again"
    alice_pid = mine[0]["worker_pid"]
    # Then she logs out (the session's terminal exits): the same stream shows a fresh greeter.
    back = tmp_path / "back"
    windows = log.count(GREETER_SHOWN)
    _touch_when(host, GREETER_SHOWN, windows + 1, back)
    r2 = _result(subprocess.Popen(_client_cmd(host, cfg, [["wait_frame", ["prompt"], 30],
                                                          ["text", f"id -un | tee {out2}"], ["key", VK_RETURN],
                                                          ["wait_file", str(out2), 20], ["text", "exit"],
                                                          ["key", VK_RETURN], ["wait_file", str(back), 30],
                                                          ["watch", 1.0]], width=1280, height=720, fps=30),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), host)
    assert out2.read_text().strip() == alice
    log = host.log()
    # Reattached: no worker was started until the logout's greeter.
    assert "login: the user's session ended: back to the greeter" in log
    assert log.count("broker: worker started") == started + 1, "a worker was started for the reattach"
    assert not r2["watch"][0]["terminated"]
    assert wait_until(lambda: not _alive(alice_pid), 10, "alice's worker to end after the logout")
    assert [w["role"] for w in _workers(host)] == ["greeter"]


def test_two_users_side_by_side_and_failed_logins(system_host, users, paired_client, tmp_path):
    host = system_host()
    (alice, apw, alice_uid), (bob, bpw, bob_uid) = users["alice"], users["bob"]
    _, cfg_a = paired_client(host, name="a")
    _, cfg_b = paired_client(host, name="b")
    out_a, out_b = system_host.out / "a", system_host.out / "b"
    # Client A logs in as alice; client B first types a wrong password four times, then logs in as bob.
    steps_a = _login_steps(host, tmp_path, "a", alice, apw, out_a, windows_before=0, asked_before=0, logins_before=0)
    pa = subprocess.Popen(_client_cmd(host, cfg_a, steps_a, width=1280, height=720, fps=30),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _result(pa, host)
    assert out_a.read_text().strip() == alice

    marks = [tmp_path / f"fail-{i}" for i in range(5)]
    _touch_when(host, GREETER_SHOWN, 3, marks[0])
    for i in range(1, 5):
        _touch_when(host, ASKED, 1 + i, marks[i])
    failures = [["wait_file", str(marks[0]), 60]]
    for i in range(1, 5):
        failures += [["text", bob], ["key", VK_RETURN], ["wait_file", str(marks[i]), 60],
                     ["text", "not-" + bpw], ["key", VK_RETURN]]
    # After the fourth failure (held by the limit first), bob's real password.
    retry = tmp_path / "retry"
    _touch_when(host, "greeter: login failed", 4, retry, timeout=120)
    asked_final = tmp_path / "asked-final"
    _touch_when(host, ASKED, 6, asked_final, timeout=120)
    session = tmp_path / "b-session"
    _touch_when(host, LOGGED_IN, 2, session, timeout=180)
    steps_b = failures + [["wait_file", str(retry), 90], ["text", bob], ["key", VK_RETURN],
                          ["wait_file", str(asked_final), 30], ["text", bpw], ["key", VK_RETURN],
                          ["wait_file", str(session), 60], ["stream_for", 2.0],
                          ["text", f"id -un | tee {out_b}"], ["key", VK_RETURN], ["wait_file", str(out_b), 20]]
    pb = subprocess.Popen(_client_cmd(host, cfg_b, steps_b, width=1280, height=720, fps=30),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _result(pb, host)
    assert out_b.read_text().strip() == bob
    log = host.log()
    # Each failure was logged with the client's address, never the password; the fourth was held.
    fails = [line for line in log.splitlines() if "broker: login failed" in line]
    assert len(fails) == 4 and all("127.0.0.1" in f and bob in f for f in fails), fails
    assert "greeter: login delayed: too many failed logins" in log
    assert bpw not in log and apw not in log
    # Two users' sessions side by side, each a worker of its own user.
    users_now = {w["user"]: w["worker_pid"] for w in _workers(host) if w["role"] == "user"}
    assert set(users_now) == {alice, bob}
    assert _uid_of(users_now[alice]) == alice_uid and _uid_of(users_now[bob]) == bob_uid
    bound = sorted(c["user"] for c in host.clients())
    assert bound == [alice, bob], bound


def test_a_client_bound_by_the_owner_reaches_the_users_running_session_without_the_greeter(
        system_host, users, paired_client, tmp_path):
    host = system_host()
    alice, apw, alice_uid = users["alice"]
    _, cfg_a = paired_client(host, name="a")
    out_a = system_host.out / "a"
    _result(subprocess.Popen(_client_cmd(host, cfg_a, _login_steps(host, tmp_path, "a", alice, apw, out_a,
                                                                   windows_before=0, asked_before=0,
                                                                   logins_before=0), width=1280, height=720, fps=30),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), host)
    alice_pid = [w["worker_pid"] for w in _workers(host) if w["role"] == "user"][0]
    # The owner pairs a second device bound to alice: it reaches her running session, no greeter, no password.
    cfg_b = tmp_path / "b"
    client = moonlight_helpers.make_client(cfg_b)
    from moonlight_python.discovery import connect_to_server
    server = connect_to_server(host.address, client._identity, host.port_base)
    host.admin("pin", "4712", "--user", alice)
    client.pair(server, pin="4712")
    assert {c["user"] for c in host.clients()} == {alice}
    started = host.log().count("broker: worker started")
    out_b = system_host.out / "b"
    _result(subprocess.Popen(_client_cmd(host, cfg_b, [["wait_frame", ["prompt"], 30],
                                                       ["text", f"id -un | tee {out_b}"], ["key", VK_RETURN],
                                                       ["wait_file", str(out_b), 20]], width=1280, height=720, fps=30),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), host)
    assert out_b.read_text().strip() == alice
    assert host.log().count("broker: worker started") == started, "a greeter or a new session was started"
    assert "reattaches the user's running session without a password" in host.log()
    assert [w["worker_pid"] for w in _workers(host) if w["role"] == "user"] == [alice_pid]
    assert _uid_of(alice_pid) == alice_uid


def test_without_reattach_a_returning_client_types_the_password_for_its_running_session(
        system_host, users, paired_client, tmp_path):
    host = system_host("--reattach-without-password", "false")
    alice, apw, alice_uid = users["alice"]
    _, cfg = paired_client(host)
    out1, out2 = system_host.out / "first", system_host.out / "again"
    _result(subprocess.Popen(_client_cmd(host, cfg, _login_steps(host, tmp_path, "a", alice, apw, out1, windows_before=0,
                                                                 asked_before=0, logins_before=0),
                                         width=1280, height=720, fps=30),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), host)
    first = [w["worker_pid"] for w in _workers(host) if w["role"] == "user"]
    # Back again: the greeter first (her session waits behind it), then her same session.
    log = host.log()
    steps = _login_steps(host, tmp_path, "b", alice, apw, out2, windows_before=log.count(GREETER_SHOWN),
                         asked_before=log.count(ASKED), logins_before=log.count(LOGGED_IN))
    # Her terminal is already mapped: the session is ready once the stream shows it (no new window).
    ready = tmp_path / "b-session"
    steps[steps.index(["wait_file", str(ready), 60])] = ["wait_file", str(tmp_path / "b-back"), 60]
    _touch_when(host, "login: back to the user's running session", 1, tmp_path / "b-back")
    _result(subprocess.Popen(_client_cmd(host, cfg, steps, width=1280, height=720, fps=30),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), host)
    assert out2.read_text().strip() == alice
    log = host.log()
    assert "login: the running session waits for its password" in log
    assert [w["worker_pid"] for w in _workers(host) if w["role"] == "user"] == first
    assert _uid_of(first[0]) == alice_uid
