"""x264 side of the software-encoder choice (OpenH264 figures come from `encode-bench`): encodes the same
content as `encode-bench` (lumen's test pattern, clean and with ±16 noise) with libx264 through PyAV (the
FFmpeg build of the test venv), low-latency settings (tune zerolatency, no B-frames, CBR-ish VBV at the
target bitrate, one slice), and prints the same table columns: produced bitrate, PSNR-Y, encode p50/p99.

Run: `$VENV/bin/python encode/benches/x264_compare.py [--frames N]`.
"""

from __future__ import annotations

import argparse
import time
from fractions import Fraction

import av
import numpy as np

COUNTER_ROWS, COUNTER_BLOCK, COUNTER_BITS, BOX = 32, 32, 16, 96


def pattern_bgrx(n: int, w: int, h: int) -> np.ndarray:
    def tri(v):
        v = v & 511
        return np.where(v < 256, v, 511 - v).astype(np.uint8)

    x = np.arange(w, dtype=np.int64)[None, :]
    y = np.arange(h, dtype=np.int64)[:, None]
    img = np.zeros((h, w, 4), dtype=np.uint8)
    img[..., 2] = np.broadcast_to(tri(x + 4 * n), (h, w))
    img[..., 1] = np.broadcast_to(tri(y + 2 * n), (h, w))
    img[..., 0] = tri(x // 2 + y // 2 + 3 * n)
    bits = np.full(w, 128, dtype=np.uint8)
    for i in range(COUNTER_BITS):
        bits[i * COUNTER_BLOCK:(i + 1) * COUNTER_BLOCK] = 255 if (n >> (COUNTER_BITS - 1 - i)) & 1 else 0
    img[:COUNTER_ROWS, :, :3] = bits[None, :, None]
    x0 = (6 * n) % (w - BOX)
    y0 = COUNTER_ROWS + (3 * n) % (h - COUNTER_ROWS - BOX)
    img[y0:y0 + BOX, x0:x0 + BOX, :3] = 255
    return img


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def run(w, h, kbps, preset, threads, noisy, frames):
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = w, h, "yuv420p"
    enc.time_base = Fraction(1, 60)
    enc.framerate = 60
    enc.bit_rate = kbps * 1000
    enc.thread_count = threads
    enc.options = {"preset": preset, "tune": "zerolatency", "bf": "0",
                   "x264-params": f"vbv-maxrate={kbps}:vbv-bufsize={kbps // 60}:slices=1:keyint=infinite:scenecut=0"}
    dec = av.CodecContext.create("h264", "r")
    rng = np.random.default_rng(1)
    times, ps, nbytes = [], [], 0
    for i in range(frames):
        img = pattern_bgrx(i, w, h)
        if noisy:
            img = np.clip(img.astype(np.int16) + rng.integers(-16, 16, img.shape), 0, 255).astype(np.uint8)
        yuv = av.VideoFrame.from_ndarray(img, format="bgra").reformat(format="yuv420p")
        yuv.pts = i
        t0 = time.perf_counter()
        pkts = enc.encode(yuv)
        times.append((time.perf_counter() - t0) * 1e3)
        for p in pkts:
            nbytes += p.size
            for f in dec.decode(p):
                # zerolatency: one packet in, the same frame out.
                if i % 10 == 0:
                    ps.append(psnr(f.to_ndarray()[:h], yuv.to_ndarray()[:h]))
    t = np.array(times)
    return {"mbps": nbytes * 8 / (frames / 60) / 1e6, "psnr": float(np.mean(ps)) if ps else float("nan"),
            "p50": float(np.percentile(t, 50)), "p99": float(np.percentile(t, 99)), "fps": 1000 / float(t.mean())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=200)
    a = ap.parse_args()
    print(f"libx264 {a.frames} frames each (PyAV/FFmpeg), zerolatency, no B-frames, 1 slice")
    print("| resolution | content | encoder | bitrate target | produced | PSNR-Y | encode p50 | encode p99 | max fps |")
    print("|---|---|---|---|---|---|---|---|---|")
    for w, h, kbps in [(1280, 720, 10000), (1920, 1080, 20000)]:
        for preset, threads, noisy in [("ultrafast", 1, False), ("superfast", 1, False), ("ultrafast", 1, True),
                                       ("ultrafast", 2, True)]:
            r = run(w, h, kbps, preset, threads, noisy, a.frames)
            print(f"| {w}x{h} | {'Noisy' if noisy else 'Pattern'} | x264 {preset} {threads}t | {kbps // 1000} Mbit/s | "
                  f"{r['mbps']:.1f} Mbit/s | {r['psnr']:.1f} dB | {r['p50']:.2f} ms | {r['p99']:.2f} ms | {r['fps']:.0f} |")


if __name__ == "__main__":
    main()
