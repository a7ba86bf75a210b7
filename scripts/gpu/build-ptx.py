#!/usr/bin/env python3
"""Compile encode/kernels/convert.cu to PTX with NVRTC (no CUDA toolkit needed).

NVRTC comes from the PyPI wheel nvidia-cuda-nvrtc (pin: 13.0.88, no newer than the oldest driver lumen
supports): `pip download --no-deps nvidia-cuda-nvrtc==13.0.88` and unzip it, then
    LD_LIBRARY_PATH=/path/to/nvidia/cu13/lib LUMEN_NVRTC=/path/to/nvidia/cu13/lib/libnvrtc.so.13 \
        python3 scripts/gpu/build-ptx.py
(LD_LIBRARY_PATH lets NVRTC find libnvrtc-builtins beside it.)
The PTX is committed (encode/kernels/convert.ptx) and embedded in lumen-encode with include_str!, so a
machine without CUDA builds everything; the driver JIT-compiles the PTX for the GPU it runs on.
"""
import ctypes, os, pathlib, sys

root = pathlib.Path(__file__).resolve().parents[2]
src = root / "encode/kernels/convert.cu"
out = root / "encode/kernels/convert.ptx"
lib = ctypes.CDLL(os.environ.get("LUMEN_NVRTC", "libnvrtc.so.13"))

def check(rc, prog=None):
    if rc != 0:
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        msg = lib.nvrtcGetErrorString(rc).decode()
        if prog is not None:
            n = ctypes.c_size_t()
            lib.nvrtcGetProgramLogSize(prog, ctypes.byref(n))
            buf = ctypes.create_string_buffer(n.value)
            lib.nvrtcGetProgramLog(prog, buf)
            msg += "\n" + buf.value.decode()
        sys.exit("nvrtc: " + msg)

prog = ctypes.c_void_p()
check(lib.nvrtcCreateProgram(ctypes.byref(prog), src.read_bytes(), b"convert.cu", 0, None, None))
# compute_75: the oldest GPU with NVENC that lumen targets (Turing); the driver JITs it for newer GPUs.
opts = [b"--gpu-architecture=compute_75", b"-std=c++17", b"--use_fast_math", b"-default-device"]
arr = (ctypes.c_char_p * len(opts))(*opts)
rc = lib.nvrtcCompileProgram(prog, len(opts), arr)
check(rc, prog)
n = ctypes.c_size_t()
check(lib.nvrtcGetPTXSize(prog, ctypes.byref(n)))
buf = ctypes.create_string_buffer(n.value)
check(lib.nvrtcGetPTX(prog, buf))
def fnv1a64(data: bytes) -> int:
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h

# The first line records which source the PTX came from; encode/tests/gpu_colour.rs checks it, so a
# kernel edit without a PTX rebuild fails CI.
stamp = f"// lumen convert.cu fnv1a64 {fnv1a64(src.read_bytes()):016x}\n".encode()
out.write_bytes(stamp + buf.value)
print(f"wrote {out} ({len(buf.value)} bytes)")
