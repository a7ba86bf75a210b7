"""Shared fixtures of lumen's end-to-end tests (every e2e test may use them).

* `lumen_bin`: path of the `lumen-session` binary (from `$LUMEN_BIN_DIR`, else `$CARGO_TARGET_DIR/debug`).
* `free_port_base()`: a random base port whose whole Sunshine port set (BASE-5 .. BASE+21) is free.
* `lumen_host(*args, ...)`: a factory that starts `lumen-session` with a temp state dir, a free port base
  and `--no-mdns` (unless `mdns=True`), captures its log, waits until it serves, and kills it at teardown.
  The returned `LumenHost` has `.address`, `.port_base`, `.ports`, `.state_dir`, `.log()`, `.admin(...)`,
  `.status()`, `.stop()`, `.kill()`, `.restart()`.
* `paired_client(host, pin=...)`: a factory that pairs a fresh stock-client identity (temp `config_dir`) with
  a host, arming the PIN through `lumen-session pin`; returns `(client, config_dir)`.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import moonlight_helpers  # noqa: E402

ADDRESS = "127.0.0.1"


def _bin_dir() -> Path:
    d = os.environ.get("LUMEN_BIN_DIR")
    if d:
        return Path(d)
    target = os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/lumen/target"))
    return Path(target) / "debug"


@pytest.fixture(scope="session")
def lumen_bin() -> Path:
    b = _bin_dir() / "lumen-session"
    if not b.exists():
        pytest.fail(f"{b} not found: build it first (cargo build -p lumen-compositor --bin lumen-session) or set LUMEN_BIN_DIR")
    return b


def _port_free(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_port_base() -> int:
    """A base port whose offsets -5 .. +21 are all free (TCP and UDP), chosen at random so that several test
    processes can run at once."""
    rng = random.SystemRandom()
    for _ in range(200):
        base = rng.randrange(20000, 60000)
        if all(_port_free(base + off) for off in (-5, 0, 9, 10, 11, 21)):
            return base
    raise RuntimeError("no free port base found")


class LumenHost:
    """One running `lumen-session`."""

    def __init__(self, binary: Path, state_dir: Path, log_path: Path, args: list[str], port_base: int | None,
                 mdns: bool, env: dict | None):
        self.binary = binary
        self.state_dir = state_dir
        self.log_path = log_path
        self.args = list(args)
        self.mdns = mdns
        self.env = dict(os.environ, RUST_LOG=os.environ.get("LUMEN_TEST_LOG", "info"), **(env or {}))
        self.address = ADDRESS
        self.port_base = port_base or free_port_base()
        self.proc: subprocess.Popen | None = None

    @property
    def ports(self) -> dict:
        b = self.port_base
        return {"http": b, "https": b - 5, "rtsp": b + 21, "video": b + 9, "control": b + 10, "audio": b + 11}

    def command(self) -> list[str]:
        cmd = [str(self.binary), "--state-dir", str(self.state_dir), "--port", str(self.port_base)]
        if not self.mdns:
            cmd.append("--no-mdns")
        return cmd + self.args

    def start(self, timeout: float = 30.0) -> "LumenHost":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lumen-session exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            try:
                with socket.create_connection((self.address, self.port_base), timeout=0.5):
                    pass
                if (self.state_dir / "admin.sock").exists():
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"lumen-session did not start within {timeout}s:\n{self.log()[-4000:]}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, needle: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            if needle in text:
                return text
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} not in the host log:\n{self.log()[-4000:]}")

    def admin(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Runs `lumen-session --state-dir DIR <args>` (an admin command against this host)."""
        p = subprocess.run([str(self.binary), "--state-dir", str(self.state_dir), *args],
                           capture_output=True, text=True, timeout=30)
        if check and p.returncode != 0:
            raise AssertionError(f"lumen-session {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return p

    def status(self) -> dict:
        return json.loads(self.admin("status", "--json").stdout)

    def clients(self) -> list[dict]:
        return json.loads(self.admin("clients", "--json").stdout)

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> "LumenHost":
        self.stop()
        return self.start()


def bench_host(tmp: Path, args: list[str]) -> LumenHost:
    """For the benchmark scripts (not the tests): a started `lumen-session` with the software encoder, a
    private XDG_RUNTIME_DIR under `tmp`, no parent display, GTK on cairo; the binary of `scripts/test.sh`
    (or `LUMEN_SESSION_BIN`)."""
    binary = Path(os.environ.get("LUMEN_SESSION_BIN") or _bin_dir() / "lumen-session")
    rt = tmp / "rt"
    rt.mkdir(mode=0o700)
    env = {"XDG_RUNTIME_DIR": str(rt), "WAYLAND_DISPLAY": "", "DISPLAY": "", "GSK_RENDERER": "cairo"}
    host = LumenHost(binary, tmp / "state", tmp / "host.log", ["--encoder", "software", *args], None, False, env)
    return host.start()


@pytest.fixture
def lumen_host(lumen_bin, tmp_path):
    """Factory: `lumen_host(*extra_args, state_dir=None, port_base=None, mdns=False, env=None, start=True)`."""
    hosts: list[LumenHost] = []

    def make(*args: str, state_dir: Path | None = None, port_base: int | None = None, mdns: bool = False,
             env: dict | None = None, start: bool = True) -> LumenHost:
        n = len(hosts)
        sd = state_dir or (tmp_path / f"lumen-state-{n}")
        h = LumenHost(lumen_bin, sd, tmp_path / f"lumen-{n}.log", list(args), port_base, mdns, env)
        hosts.append(h)
        return h.start() if start else h

    yield make
    panicked = []
    for h in hosts:
        h.stop()
        log = h.log()
        if log:
            print(f"\n--- lumen-session log ({h.log_path}) ---\n{log[-3000:]}")
        if "panicked at" in log:
            panicked.append(str(h.log_path))
    if panicked:
        pytest.fail(f"lumen-session panicked during the test (see {', '.join(panicked)})")


@pytest.fixture
def paired_client(tmp_path):
    """Factory: `paired_client(host, pin="4711", name=None)` -> (client, config_dir)."""
    counter = [0]

    def make(host: LumenHost, pin: str = "4711", name: str | None = None):
        counter[0] += 1
        cfg = tmp_path / (name or f"client-{counter[0]}")
        client = moonlight_helpers.pair_client(host, cfg, pin=pin)
        return client, cfg

    return make
