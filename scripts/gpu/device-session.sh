#!/usr/bin/env bash
# On the GPU device machine, from the folder scripts/gpu/session-bundle.sh made (carried): a stock client
# (moonlight-python's moonlight-common-c, its cp312 wheels unpacked on PYTHONPATH for the device's own
# python3.12) streams `lumen-session --demo` once per renderer (auto, pixman) at each mode, through
# tests/e2e/bench_gpu_session.py. Tables in $OUT/$NAME.md, the hosts' logs in $OUT/logs.
# Usage: [NAME=a] [HOST_ARGS='--output-scale 1'] bash BUNDLE/device-session.sh [seconds] [modes]
set -uo pipefail
G=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out16}; mkdir -p "$out"
W=/tmp/g16; rm -rf "$W"; mkdir -p "$W/xkb"
if command -v nvidia-smi >/dev/null; then
  # The glvnd EGL loader into / (the lent VMs have NVIDIA's EGL but no libEGL.so.1); never on a dev machine.
  for f in "$G"/gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  nv=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  [ -f "$nv" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$nv
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
fi
t=$(date +%s)
tar -C "$W" -xJf "$G/native.tar.xz" && tar -C "$W" -xJf "$G/py.tar.xz" && dpkg -x "$G"/xkb-data_*.deb "$W/xkb" || exit 1
echo "unpacked in $(( $(date +%s) - t )) s; $(nproc) cores; $(python3 -V)"
# The carried libraries only for lumen-session (and its workers and apps), not for python.
cat > "$W/lumen-session" <<EOS
#!/bin/sh
export LD_LIBRARY_PATH=$W/so
exec $W/bin/lumen-session "\$@"
EOS
chmod +x "$W/lumen-session"
export XKB_CONFIG_ROOT=$W/xkb/usr/share/X11/xkb LUMEN_SESSION_BIN=$W/lumen-session PYTHONPATH=$W/site16 \
  PYTHONUNBUFFERED=1 PYTHONNOUSERSITE=1
python3 -S -c 'import moonlight_python, av, numpy, cffi, cryptography; print("client:", moonlight_python.__file__)' || exit 1
n=${NAME:-a}
python3 -S "$G/e2e/bench_gpu_session.py" --seconds "${1:-10}" --modes "${2:-1920x1080@60,3840x2160@60}" \
  --host-args "${HOST_ARGS:-}" --markdown "$out/$n.md" --logs "$out/logs" 2>&1 | tee "$out/$n.log"
for f in "$out"/logs/*.log; do
  echo "== $f"
  grep -E "session encoder and renderer chosen|CUDA works|no CUDA|fed by GPU|registered with CUDA|host processing time|ERROR|panicked" "$f" |
    cut -c1-330 | head -12
done
