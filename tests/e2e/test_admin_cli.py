"""The owner's CLI does what the admin page does (`docs/admin.md`): pairing with a name, apps added, edited and
removed (saved to the config, seen by the stock client), sessions, ending one, the recent log lines, and the
admin password file.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading

import moonlight_helpers as mh
from waits import wait_until


def _json(host, *args):
    return json.loads(host.admin(*args, "--json").stdout)


def test_pin_with_a_name_names_the_device(lumen_host, tmp_path):
    host = lumen_host()
    cfg = tmp_path / "client"
    done = {}
    t = threading.Thread(target=lambda: done.setdefault("client", mh.pair_client(host, cfg, "4711", arm=False)))
    t.start()
    wait_until(lambda: _json(host, "pairing")["waiting"], 30, "the client to wait for its PIN")
    bad = host.admin("pin", "4711", "--name", "bell\x07", check=False)
    assert bad.returncode != 0 and "client name" in bad.stderr, bad
    host.admin("pin", "4711", "--name", "Kitchen tablet")
    t.join(60)
    assert "client" in done, "pairing did not finish"
    assert [c["name"] for c in host.clients()] == ["Kitchen tablet"]


def test_apps_sessions_and_logs_from_the_cli(lumen_host, paired_client):
    host = lumen_host()
    _, cfg = paired_client(host)
    added = host.admin("app-add", "--name", "Hello", "--command", "sh -c 'exec sleep 100'",
                       "--working-dir", "/tmp", "--env", "GREETING=hi there")
    assert "added app" in added.stdout
    apps = _json(host, "apps")
    hello = next(a for a in apps if a["name"] == "Hello")
    assert hello["editable"] and hello["env"] == {"GREETING": "hi there"} and hello["working_dir"] == "/tmp"
    assert not next(a for a in apps if a["name"] == "Desktop")["editable"]
    config = (host.state_dir / "config.toml").read_text()
    assert "[[app]]" in config and 'name = "Hello"' in config, config
    assert stat.S_IMODE(os.stat(host.state_dir / "config.toml").st_mode) == 0o600
    assert "Hello" in [a.name for a in mh.attach_client(host, cfg)._http.get_app_list()]

    host.admin("app-edit", str(hello["id"]), "--name", "Hello 2", "--command", "sleep 100")
    assert [a["name"] for a in _json(host, "apps")] == ["Desktop", "Hello 2"]
    refused = host.admin("app-edit", "1", "--name", "X", "--command", "true", check=False)
    assert refused.returncode != 0 and "not editable" in refused.stderr
    bad = host.admin("app-add", "--name", "Bad", "--command", "x", "--env", "1A=2", check=False)
    assert bad.returncode != 0 and "variable name" in bad.stderr
    host.admin("app-remove", str(hello["id"]))
    assert [a["name"] for a in _json(host, "apps")] == ["Desktop"]
    assert "Hello" not in (host.state_dir / "config.toml").read_text()

    assert _json(host, "sessions") == []
    assert "no session" in host.admin("sessions").stdout
    gone = host.admin("end-session", "99", check=False)
    assert gone.returncode != 0 and "no session 99" in gone.stderr
    logs = host.admin("logs").stdout
    assert "app added by the owner" in logs and "app removed by the owner" in logs, logs[-2000:]


def test_admin_password_is_stored_hashed_and_private(lumen_host):
    host = lumen_host()
    short = subprocess.run([str(host.binary), "--state-dir", str(host.state_dir), "admin-password"],
                           input="short\n", capture_output=True, text=True, timeout=30)
    assert short.returncode != 0 and "8 to" in short.stderr
    ok = subprocess.run([str(host.binary), "--state-dir", str(host.state_dir), "admin-password"],
                        input="correct horse battery\n", capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    path = host.state_dir / "admin_password"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = path.read_text()
    assert text.startswith("$argon2id$") and "correct horse" not in text
    host.wait_log("admin page listening")
