"""Desktop audio (`--nested --desktop-audio`): the nested session's sound comes from the user's own
PulseAudio server (a real `pulseaudio` daemon started for the test, with a null sink as its default device):
lumen loads a sink of its own there, the app it launches plays into it through `PULSE_SINK`, and the stock
client hears the app; the user's other streams stay on their own sink; the sink goes with the session.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from test_audio import RATE, assert_tone, finish, player, record, share_at, write_tone
from test_compositor_nested import parent  # noqa: F401  (fixture)
from test_session import session_host  # noqa: F401  (fixture)
from waits import wait_until


class UserPulse:
    """A user's PulseAudio daemon on a private socket, with a null sink `desktop` as its default."""

    def __init__(self, tmp: Path):
        if shutil.which("pulseaudio") is None:
            pytest.fail("needs the pulseaudio daemon: run scripts/setup.sh (scripts/deps/audio.apt)")
        rt, home = tmp / "pa-rt", tmp / "pa-home"
        rt.mkdir(mode=0o700)
        home.mkdir()
        self.socket = rt / "native"
        self.server = f"unix:{self.socket}"
        self.log_path = tmp / "pulseaudio.log"
        env = {**os.environ, "XDG_RUNTIME_DIR": str(rt), "HOME": str(home)}
        self.proc = subprocess.Popen(
            ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit", "--use-pid-file=no",
             "--log-target=stderr", "-L", f"module-native-protocol-unix socket={self.socket} auth-anonymous=1",
             "-L", "module-null-sink sink_name=desktop", "-L", "module-always-sink"],
            env=env, stdout=subprocess.DEVNULL, stderr=open(self.log_path, "w"))
        wait_until(lambda: self.pactl("info", check=False).returncode == 0, 15, "the user's pulseaudio to answer",
                   detail=lambda: self.log_path.read_text()[-2000:])

    def pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["pactl", *args], env={**os.environ, "PULSE_SERVER": self.server},
                              capture_output=True, text=True, timeout=10, check=check)

    def sinks(self) -> list[str]:
        return [line.split("\t")[1] for line in self.pactl("list", "short", "sinks").stdout.splitlines()]

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def user_pulse(tmp_path):
    p = UserPulse(tmp_path)
    yield p
    p.close()


def test_desktop_audio_streams_the_sessions_sink_of_the_users_server(parent, user_pulse, session_host,
                                                                      paired_client, tmp_path):
    tone = tmp_path / "tone.wav"
    write_tone(tone, 440.0, 30.0)
    host = session_host("--nested", "--nested-size", "640x360@30", "--desktop-audio",
                        "--app", str(player(tmp_path, "desktop-tone", tone)),
                        env={"DISPLAY": parent.display, "PULSE_SERVER": user_pulse.server})
    host.wait_log("desktop audio: the session's apps play into this sink", timeout=10)
    ours = [s for s in user_pulse.sinks() if s.startswith("lumen_")]
    assert len(ours) == 1, user_pulse.sinks()
    # Another stream of the user's, on the user's own sink, is not the session's sound.
    other = tmp_path / "other.wav"
    write_tone(other, 1000.0, 30.0)
    elsewhere = subprocess.Popen(["paplay", "--device=desktop", str(other)],
                                 env={**os.environ, "PULSE_SERVER": user_pulse.server})
    try:
        _, cfg = paired_client(host)
        out = tmp_path / "d.npy"
        pcm = finish(record(host, cfg, "desktop-tone", out), host, out)
    finally:
        elsewhere.terminate()
    assert pcm.shape[0] > RATE * 3 and pcm.shape[1] == 2, pcm.shape
    assert_tone(pcm, 440.0)
    assert share_at(pcm.mean(axis=1), 1000.0) < 1e-3, "the user's other stream leaked into the session"
    host.stop()
    assert not [s for s in user_pulse.sinks() if s.startswith("lumen_")], user_pulse.sinks()


def test_desktop_audio_without_a_user_server_says_why(parent, session_host, tmp_path):
    missing = tmp_path / "no-such-server"
    with pytest.raises(RuntimeError) as e:
        session_host("--nested", "--desktop-audio", env={"DISPLAY": parent.display,
                                                         "PULSE_SERVER": f"unix:{missing}"})
    assert "--desktop-audio" in str(e.value) and "audio server" in str(e.value), str(e.value)[-2000:]
