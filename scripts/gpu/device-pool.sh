#!/usr/bin/env bash
# On the GPU device machine, from the folder scripts/gpu/session-bundle.sh made (carried): five consecutive
# render-pool runs of gpu-pipeline (run 1 at 1080p and 4K, runs 2-5 at 4K; every variant, the GL compute
# pass included), then (unless SKIP_SESSION=1) the 4K sessions at output scale 1 through device-session.sh.
# Usage: bash BUNDLE/device-pool.sh
set -uo pipefail
G=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/out16}; mkdir -p "$out"
for f in "$G"/gl/*.deb; do dpkg -x "$f" /; done
ldconfig
nv=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
[ -f "$nv" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$nv
W=/tmp/g16p; rm -rf "$W"; mkdir -p "$W"
tar -C "$W" -xJf "$G/native.tar.xz" bin/gpu-pipeline so || exit 1
B="env LD_LIBRARY_PATH=$W/so $W/bin/gpu-pipeline"
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nproc; date -u; } | tee "$out/pool.md"
echo "## run 1: render pool, 1080p + 4K" | tee -a "$out/pool.md"
RUST_LOG=info $B --mode render-pool --frames 1000 2>>"$out/pool.log" | tee -a "$out/pool.md"
for i in 2 3 4 5; do
  echo "## run $i: render pool, 4K" | tee -a "$out/pool.md"
  RUST_LOG=warn $B --mode render-pool --sizes 3840x2160 --frames 1000 2>>"$out/pool.log" | grep -v "^| 641" |
    tee -a "$out/pool.md"
done
grep -h "^| 3840x2160 | \(Registered\|GlCompute\) " "$out/pool.md"
echo "failed checks: $(grep -c FAIL "$out/pool.md")"
[ "${SKIP_SESSION:-0}" = 1 ] || NAME=s1 HOST_ARGS="--output-scale 1" bash "$G/device-session.sh" 12 3840x2160@60 2>&1 |
  grep -v "^{"
