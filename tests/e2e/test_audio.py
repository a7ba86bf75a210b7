"""Session audio end to end: an app in the session plays into the worker's PulseAudio-protocol server
(`paplay` of a generated WAV, through `PULSE_SERVER`), and the stock client (moonlight-python, audio decoded by
its Opus decoder) hears it: the tone's frequency (FFT) and level, in both channels. Two sessions at once: each
client hears only its own session's app.

Run as a script with `client …` it is the client side: it streams, collects the decoded audio for a while and
saves it as a .npy file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from test_session import session_host  # noqa: F401 (fixture)

RATE = 48_000


def write_tone(path: Path, freq: float, seconds: float, amplitude: float = 0.5) -> None:
    t = np.arange(int(RATE * seconds)) / RATE
    s = (amplitude * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.repeat(s, 2).tobytes())


def player(tmp_path: Path, name: str, wav: Path) -> Path:
    """An app named `name` that plays `wav` with paplay (the host names `--app` apps after their program)."""
    script = tmp_path / name
    script.write_text(f"#!/bin/sh\nexec paplay {wav}\n")
    script.chmod(0o755)
    return script


def spectrum_peak(x: np.ndarray) -> tuple[float, float]:
    """The strongest frequency of a mono signal, and its share of the signal's energy."""
    win = x * np.hanning(len(x))
    mag = np.abs(np.fft.rfft(win)) ** 2
    k = int(np.argmax(mag[1:])) + 1
    band = mag[max(k - 3, 0):k + 4].sum()
    return k * RATE / len(x), float(band / mag.sum())


def assert_tone(pcm: np.ndarray, freq: float, rms: float = 0.354) -> None:
    """Every channel of `pcm` carries a tone of `freq` (FFT peak, > 90 % of the energy) at RMS `rms` ± 0.06
    (a 0.5-amplitude sine: 0.354 of full scale)."""
    for ch in range(pcm.shape[1]):
        f, share = spectrum_peak(pcm[:, ch])
        assert abs(f - freq) < 3.0 and share > 0.9, (ch, f, share)
        level = float(np.sqrt(np.mean(pcm[:, ch] ** 2)))
        assert abs(level - rms) < 0.06, (ch, level)


def share_at(mono: np.ndarray, freq: float) -> float:
    """The share of a mono signal's energy around `freq` (how much of another tone leaked in)."""
    spec = np.abs(np.fft.rfft(mono * np.hanning(len(mono)))) ** 2
    k = int(round(freq * len(mono) / RATE))
    return float(spec[k - 3:k + 4].sum() / spec.sum())


def write_channels(path: Path, freqs: list[float], seconds: float, amplitude: float = 0.3) -> None:
    """A WAV whose channel k carries a tone of freqs[k]."""
    t = np.arange(int(RATE * seconds)) / RATE
    cols = [(amplitude * np.sin(2 * np.pi * f * t) * 32767).astype("<i2") for f in freqs]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(freqs))
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.stack(cols, axis=1).tobytes())


# Moonlight's audioConfiguration: channel mask << 16 | channel count << 8 | 0xCA.
AUDIO_CONFIGURATIONS = {2: 0x302CA, 6: 0x3F06CA, 8: 0x63F08CA}


class LibopusDecoder:
    """The test client's surround decoder, on libopus itself (as moonlight-common-c's clients decode): the
    package's own one (PyAV) takes family-1 Opus to be in Vorbis order and reorders it, and dies on 7.1.
    Same interface as `moonlight_python.audio_decoder.AudioDecoder`."""

    def __init__(self, sample_rate: int, channels: int, streams: int, coupled_streams: int, mapping: list[int]):
        import ctypes

        self._ct = ctypes
        self._lib = ctypes.CDLL("libopus.so.0")
        self._lib.opus_multistream_decoder_create.restype = ctypes.c_void_p
        self._lib.opus_multistream_decoder_create.argtypes = [
            ctypes.c_int32, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_ubyte),
            ctypes.POINTER(ctypes.c_int)]
        self._lib.opus_multistream_decode_float.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_float), ctypes.c_int,
            ctypes.c_int]
        self._lib.opus_multistream_decoder_destroy.argtypes = [ctypes.c_void_p]
        err = ctypes.c_int()
        table = (ctypes.c_ubyte * channels)(*mapping[:channels])
        self._dec = self._lib.opus_multistream_decoder_create(sample_rate, channels, streams, coupled_streams,
                                                              table, ctypes.byref(err))
        assert self._dec and err.value == 0, f"opus_multistream_decoder_create: {err.value}"
        self._pcm = (ctypes.c_float * (5760 * channels))()
        self.sample_rate, self.channels, self.decode_errors = sample_rate, channels, 0

    def decode(self, opus_data: bytes) -> list[np.ndarray]:
        n = self._lib.opus_multistream_decode_float(self._dec, bytes(opus_data), len(opus_data), self._pcm, 5760, 0)
        if n <= 0:
            self.decode_errors += 1
            return []
        return [np.ctypeslib.as_array(self._pcm)[: n * self.channels].reshape(n, self.channels).copy()]

    def close(self) -> None:
        if self._dec:
            self._lib.opus_multistream_decoder_destroy(self._dec)
            self._dec = None


def _client_main(args) -> int:
    import moonlight_helpers as mh

    if args.channels != 2:
        # The package's API streams stereo; its stream configuration takes any layout (and its decoder
        # handles surround with a mapping-family-1 OpusHead).
        import moonlight_python as mp
        import moonlight_python._stream_manager as msm
        plain = mp.StreamConfig
        mp.StreamConfig = lambda **kw: plain(audio_configuration=AUDIO_CONFIGURATIONS[args.channels], **kw)
        msm.AudioDecoder = LibopusDecoder

    class _Host:
        address = args.host
        port_base = args.port

    client = mh.attach_client(_Host, args.config_dir)
    client.start_stream(app=args.app, width=640, height=360, fps=30, bitrate_kbps=2000, codec="h264",
                        ready_timeout=10.0, black_frame_threshold=-1, record_audio=True)
    sub = client._stream_manager.subscribe_audio()
    chunks = []
    arrivals = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < args.seconds:  # the recording window, not a wait
        c = sub.get(timeout=0.5)
        if c is not None and time.monotonic() - t0 > args.skip:
            chunks.append(np.asarray(c.data, dtype=np.float32))
            arrivals.append(round(time.monotonic() - t0, 3))
    pcm = np.concatenate(chunks) if chunks else np.zeros((0, 2), np.float32)
    np.save(args.out, pcm)
    print(json.dumps({"result": "recorded", "samples": int(pcm.shape[0]), "arrivals": arrivals}), flush=True)
    os._exit(0)


def record(host, cfg, app: str, out: Path, seconds: float = 6.0, skip: float = 2.0,
           channels: int = 2) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "client", "--host", host.address,
                             "--port", str(host.port_base), "--config-dir", str(cfg), "--app", app,
                             "--seconds", str(seconds), "--skip", str(skip), "--out", str(out),
                             "--channels", str(channels)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(p: subprocess.Popen, host, out: Path, with_arrivals: bool = False):
    stdout, stderr = p.communicate(timeout=120)
    assert '"recorded"' in stdout, f"client rc={p.returncode}: {stdout[-2000:]} {stderr[-3000:]}\n{host.log()[-3000:]}"
    if with_arrivals:
        r = json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])
        return np.load(out), r["arrivals"]
    return np.load(out)


def test_an_app_in_the_session_is_heard_by_the_client(session_host, paired_client, tmp_path):
    tone = tmp_path / "tone440.wav"
    write_tone(tone, 440.0, 30.0)
    host = session_host("--app", str(player(tmp_path, "tone-440", tone)))
    _, cfg = paired_client(host)
    pcm = finish(record(host, cfg, "tone-440", tmp_path / "a.npy"), host, tmp_path / "a.npy")
    assert pcm.shape[0] > RATE * 3 and pcm.shape[1] == 2, pcm.shape
    assert_tone(pcm, 440.0)
    host.wait_log("session audio server listening", timeout=5)


def test_a_gstreamer_player_is_heard_too(session_host, paired_client, tmp_path):
    """GStreamer's pulsesink (libpulse with its own buffer, latency and volume requests) plays an 880 Hz tone."""
    script = tmp_path / "gst-tone"
    script.write_text("#!/bin/sh\nexec gst-launch-1.0 -q audiotestsrc freq=880 volume=0.5 ! audioconvert ! "
                      "audioresample ! pulsesink\n")
    script.chmod(0o755)
    host = session_host("--app", str(script))
    _, cfg = paired_client(host)
    pcm = finish(record(host, cfg, "gst-tone", tmp_path / "g.npy"), host, tmp_path / "g.npy")
    assert pcm.shape[0] > RATE * 3 and pcm.shape[1] == 2, pcm.shape
    assert_tone(pcm, 880.0)


@pytest.mark.parametrize("channels", [6, 8])
def test_surround_channels_arrive_on_their_own_channels(session_host, paired_client, tmp_path, channels):
    """5.1 and 7.1: a tone of its own frequency on each channel of the app's stream arrives on the same channel
    at the stock client (the DESCRIBE mapping the client reads is the encoder's), decoded by libopus."""
    freqs = [300.0 + 170.0 * k for k in range(channels)]
    wav = tmp_path / f"ch{channels}.wav"
    write_channels(wav, freqs, 30.0)
    host = session_host("--app", str(player(tmp_path, f"tones-{channels}", wav)))
    _, cfg = paired_client(host)
    out = tmp_path / f"s{channels}.npy"
    pcm = finish(record(host, cfg, f"tones-{channels}", out, channels=channels), host, out)
    assert pcm.shape[1] == channels and pcm.shape[0] > RATE * 3, pcm.shape
    heard = [spectrum_peak(pcm[:, ch]) for ch in range(channels)]
    # Which app channel each client channel carries (its tone's index), and how clean it is.
    order = [int(round((f - 300.0) / 170.0)) for f, _ in heard]
    assert order == list(range(channels)), f"client channel k carries app channel {order}"
    assert all(share > 0.8 for _, share in heard), heard


def test_silence_costs_nothing_and_sound_comes_back(session_host, paired_client, tmp_path):
    """No app plays for the first seconds: no audio packet is sent at all (nothing is encoded); then an app
    starts and the client, which kept streaming, hears it."""
    tone = tmp_path / "late.wav"
    write_tone(tone, 660.0, 30.0)
    script = tmp_path / "late-tone"
    script.write_text(f"#!/bin/sh\nsleep 5\nexec paplay {tone}\n")
    script.chmod(0o755)
    host = session_host("--app", str(script))
    _, cfg = paired_client(host)
    pcm, arrivals = finish(record(host, cfg, "late-tone", tmp_path / "l.npy", seconds=9.0, skip=1.0), host,
                           tmp_path / "l.npy", with_arrivals=True)
    # The stream starts about a second before the app plays: after the hangover nothing arrives until then.
    quiet = [t for t in arrivals if 1.0 <= t <= 2.5]
    assert not quiet, f"{len(quiet)} audio chunks while nothing played"
    assert pcm.shape[0] > RATE * 2, pcm.shape
    freq, share = spectrum_peak(pcm[-RATE * 2:, 0])
    assert abs(freq - 660.0) < 3.0 and share > 0.9, (freq, share)


def test_two_sessions_each_hear_only_their_own_app(session_host, paired_client, tmp_path):
    apps = {"a": (440.0, tmp_path / "a.wav"), "b": (1000.0, tmp_path / "b.wav")}
    for freq, path in apps.values():
        write_tone(path, freq, 30.0)
    names = {n: f"tone-{n}" for n in apps}
    scripts = [player(tmp_path, names[n], p) for n, (_, p) in apps.items()]
    host = session_host("--max-sessions", "2", *[x for s in scripts for x in ("--app", str(s))])
    cfgs = {n: paired_client(host, name=f"client-{n}")[1] for n in apps}
    procs = {n: record(host, cfgs[n], names[n], tmp_path / f"{n}.npy") for n in apps}
    got = {n: finish(procs[n], host, tmp_path / f"{n}.npy") for n in apps}
    for n, (freq, _) in apps.items():
        mono = got[n].mean(axis=1)
        peak, share = spectrum_peak(mono)
        assert abs(peak - freq) < 3.0 and share > 0.9, (n, peak, share)
        other = [f for m, (f, _) in apps.items() if m != n][0]
        leak = share_at(mono, other)
        assert leak < 1e-3, (n, "hears the other session", leak)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("client")
    c.add_argument("--host", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--config-dir", type=Path, required=True)
    c.add_argument("--app", required=True)
    c.add_argument("--seconds", type=float, default=6.0)
    c.add_argument("--skip", type=float, default=2.0)
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--channels", type=int, default=2)
    sys.exit(_client_main(ap.parse_args()))
