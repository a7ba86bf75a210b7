#!/usr/bin/env bash
# Runs the GPU device test on an NVIDIA machine that has the driver but no glvnd EGL loader (the lent
# H100/H200 VMs). Expects, in the repository root (ignored folders carried to the machine):
#   .gl/*.deb            Debian's libegl1 libglvnd0 libgles2 libopengl0 ... (apt-get download)
#   .gpu-carry/gpu-pipeline   the binary built here: cargo build -p lumen-encode --bin gpu-pipeline
#   .gpu-libs/*.deb      (optional) the shared libraries lumen_render links (libgbm1 libpixman-1-0 libdrm2
#                        libwayland-server0 libexpat1 libffi8), unpacked into a private prefix, not into /
# Usage: bash scripts/gpu/device-run.sh [gpu-pipeline args...]; output also goes to $OUT/gpu-pipeline.md.
set -uo pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
if ls .gpu-libs/*.deb >/dev/null 2>&1; then
    for f in .gpu-libs/*.deb; do dpkg -x "$f" /tmp/gpu-libs; done
    export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/tmp/gpu-libs/usr/lib/x86_64-linux-gnu:/tmp/gpu-libs/lib/x86_64-linux-gnu
fi
nv=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
if [ -f "$nv" ] && ! ls /usr/share/glvnd/egl_vendor.d/*nvidia* >/dev/null 2>&1; then
    export __EGL_VENDOR_LIBRARY_FILENAMES=$nv
fi
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
out=${OUT:-/tmp}
RUST_LOG=${RUST_LOG:-info} .gpu-carry/gpu-pipeline "$@" 2>"$out/gpu-pipeline.log" | tee "$out/gpu-pipeline.md"
rc=${PIPESTATUS[0]}
tail -n 20 "$out/gpu-pipeline.log"
exit "$rc"
