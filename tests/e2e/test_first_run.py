"""What a newcomer sees when `lumen-session` starts: the ready block is the last output (after the startup
log lines), it lists the machine's LAN addresses and a `lumen-session pin` command that works as typed (the
stock client pairs with the PIN it arms), and an app's stdout/stderr land in a log file of its own, not in the
host's log.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import moonlight_helpers as mh

RULE = "=" * 100


def _global_ipv4() -> set[str]:
    out = subprocess.run(["ip", "-o", "-4", "addr", "show", "scope", "global", "up"], capture_output=True,
                         text=True).stdout
    return {m.group(1) for m in re.finditer(r"inet (\S+)/", out)}


def _ready_block(text: str) -> list[str]:
    start = text.rfind("lumen is ready")
    assert start >= 0, text[-3000:]
    return text[text.rfind("\n", 0, start) + 1:].splitlines()


def _wait(cond, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_ready_block_comes_last_and_its_pin_command_pairs(lumen_host, lumen_bin, tmp_path):
    # `lumen-session` on PATH (as run-host.sh links it): the block then says `lumen-session`, not a path.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "lumen-session").symlink_to(lumen_bin.resolve())
    path = f"{bindir}:{os.environ.get('PATH', '')}"
    # The markers are computed by the app, so the command line the host logs does not contain them.
    app = "sh -c 'echo first-run-stdout-$((6*7)); echo first-run-stderr-$((6*7)) >&2; exec sleep 300'"
    h = lumen_host("--desktop-app", app, env={"PATH": path})

    text = h.wait_log(RULE + "\n", timeout=15)
    # A round trip through the host after the block, then nothing may follow it.
    h.status()
    text = h.log()
    assert text.endswith(RULE + "\n"), f"output after the ready block:\n{text[-3000:]}"
    assert "first-run-stderr-42" not in text and "first-run-stdout-42" not in text

    block = _ready_block(text)
    # Addresses as typed into Moonlight: `ADDR` or, with a port base that is not the default, `ADDR:PORT`.
    typed = [line.strip() for line in block if re.fullmatch(r"\s{7}[0-9a-f.:\[\]]+", line)]
    assert typed and all(t.endswith(f":{h.port_base}") for t in typed), block
    listed = [t.rsplit(":", 1)[0].strip("[]") for t in typed]
    for a in listed:
        ipaddress.ip_address(a)
    assert _global_ipv4() <= set(listed) or listed == ["127.0.0.1"], (listed, _global_ipv4())
    assert any(f"UDP {h.ports['video']} {h.ports['control']} {h.ports['audio']}" in line for line in block), block

    # The pairing step's command, run as typed (with this test's PATH), arms the PIN the stock client uses.
    cmd = next(line.strip() for line in block if line.strip().endswith(" pin 1234"))
    assert cmd.startswith("lumen-session --state-dir "), cmd
    p = subprocess.run(shlex.split(cmd), capture_output=True, text=True, timeout=30, env=dict(os.environ, PATH=path))
    assert p.returncode == 0 and "PIN is armed" in p.stdout, (p.stdout, p.stderr)
    client = mh.pair_client(h, tmp_path / "client", pin="1234", arm=False)
    assert client is not None
    assert len(h.clients()) == 1

    # A stream starts the client's session (its worker starts the desktop app): the app's output is in its
    # own file, named in the log once, and never in the host's log.
    from test_session import run_client

    run_client(h, tmp_path / "client", [["wait_frame", ["any"], 30]])
    m = re.search(r"app started.*log=(\S+)", h.wait_log("app started"))
    assert m, h.log()[-3000:]
    app_log = Path(m.group(1))
    assert app_log.parent == h.state_dir / "logs" and re.fullmatch(r"sh-\d+\.log", app_log.name), app_log
    _wait(lambda: "first-run-stderr-42" in app_log.read_text(), 10, "the app's stderr in its log file")
    assert "first-run-stdout-42" in app_log.read_text()
    assert "first-run-stderr-42" not in h.log() and "first-run-stdout-42" not in h.log()

