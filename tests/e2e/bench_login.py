"""Benchmark (not a test): the login's hand-over time on this machine. One stock client, one real user
(created here, removed after), `lumen-session --system`: N cycles of typing the name and password at the
greeter, the stream switching to the user's session, and logging out (`exit` in the user's terminal) back to
the greeter. Prints p50/p99 of "password accepted → the user's session streams" (the host switched the
stream's route) and "password accepted → first frame from the user's worker" (its first access unit sent
after the switch), and the process tree with users at the end (the user logged in once more).

    sudo LUMEN_BIN_DIR=~/.cache/lumen/target/debug ~/.cache/lumen/venv/bin/python tests/e2e/bench_login.py [--cycles 20]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import conftest  # noqa: E402
import moonlight_helpers as mh  # noqa: E402
from test_login import ASKED, GREETER_SHOWN, LOGGED_IN, _remove_user, _touch_when  # noqa: E402
from test_session import VK_RETURN, _client_cmd  # noqa: E402

ACCEPTED = "greeter: password accepted"
FIRST_FRAME = "first frame from the new worker"


def _at(line: str) -> datetime:
    return datetime.fromisoformat(line.split()[0].rstrip("Z"))


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=20)
    args = ap.parse_args()
    user = "lumtest-bench"
    if subprocess.run(["id", user], capture_output=True).returncode == 0:
        _remove_user(user)
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", user], check=True)
    password = secrets.token_urlsafe(12)
    subprocess.run(["chpasswd"], input=f"{user}:{password}\n", text=True, check=True)
    subprocess.run([str(HERE.parent.parent / "scripts/deps/login.sh")], check=True, capture_output=True)
    root = Path(tempfile.mkdtemp(prefix="lumen-login-bench-", dir="/tmp"))
    root.chmod(0o755)
    (root / "bin").mkdir(mode=0o755)
    binary = root / "bin" / "lumen-session"
    shutil.copy2(conftest._bin_dir() / "lumen-session", binary)
    host = conftest.LumenHost(binary, root / "state", root / "host.log",
                              ["--system", "--runtime-dir", str(root / "rt"), "--encoder", "software",
                               "--no-xwayland", "--user-session", "foot"], None, False,
                              {"WAYLAND_DISPLAY": "", "DISPLAY": "", "GSK_RENDERER": "cairo"})
    try:
        host.start()
        cfg = root / "client"
        mh.pair_client(host, cfg)
        steps: list = []
        for i in range(args.cycles + 1):
            greeter, asked, session = (root / f"{k}-{i}" for k in ("greeter", "asked", "session"))
            # Greeter windows: 1 per cycle before it; user terminals: 1 per cycle before it.
            _touch_when(host, GREETER_SHOWN, 2 * i + 1, greeter, timeout=600)
            _touch_when(host, ASKED, i + 1, asked, timeout=600)
            _touch_when(host, GREETER_SHOWN, 2 * i + 2, session, timeout=600)
            steps += [["wait_file", str(greeter), 60], ["text", user], ["key", VK_RETURN], ["wait_file", str(asked), 30],
                      ["text", password], ["key", VK_RETURN], ["wait_file", str(session), 60]]
            if i < args.cycles:
                steps += [["stream_for", 0.5], ["text", "exit"], ["key", VK_RETURN]]
        p = subprocess.run(_client_cmd(host, cfg, steps, width=1280, height=720, fps=60), capture_output=True,
                           text=True, timeout=120 + 30 * args.cycles)
        if '"result": "streamed"' not in p.stdout:
            print(p.stdout[-2000:], p.stderr[-2000:], host.log()[-4000:], sep="\n")
            return 1
        tree = subprocess.run(["ps", "-eo", "pid,ppid,user:14,args", "--forest"], capture_output=True, text=True).stdout
        lines = host.log().splitlines()
        switch, first = [], []
        for n, line in enumerate(lines):
            if ACCEPTED not in line:
                continue
            t0 = _at(line)
            rest = lines[n + 1:]
            done = next((x for x in rest if LOGGED_IN in x), None)
            frame = next((x for x in rest if FIRST_FRAME in x), None)
            if done and frame:
                switch.append((_at(done) - t0).total_seconds() * 1000)
                first.append((_at(frame) - t0).total_seconds() * 1000)
        print(f"\nlogins measured: {len(switch)} (cycles {args.cycles} + 1), 1280x720@60, software encoder")
        print("| password accepted → | p50 ms | p99 ms | max ms |")
        print("|---|---|---|---|")
        for name, v in (("the user's session streams (route switched)", switch),
                        ("first frame from the user's worker sent", first)):
            print(f"| {name} | {_pct(v, 0.5):.1f} | {_pct(v, 0.99):.1f} | {max(v):.1f} |")
        print("\nprocess tree (lumen's part):")
        keep = [ln for ln in tree.splitlines() if "lumen-session" in ln or "foot" in ln or "PID" in ln
                or "agreety" in ln or " sh" in ln.split("\\_")[-1][:4]]
        print("\n".join(keep))
    finally:
        host.stop()
        _remove_user(user)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
