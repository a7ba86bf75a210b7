#!/usr/bin/env bash
# Builds the folder a GPU device run of issue 16 carries (docs/gpu.md, "A stock client on the GPU machine"):
# release `lumen-session` and `gpu-pipeline` (stripped), the shared libraries they link that the lent VMs lack
# (copied from this Debian machine), the EGL loader .debs and xkb-data, the stock client (moonlight-python's
# cp312 wheels and their needs, for the device's python3.12, unpacked and xz-compressed), the e2e driver
# (tests/e2e/bench_gpu_session.py and the helpers it imports), and the device scripts. About 48 MB.
# Usage: CARGO_TARGET_DIR=... bash scripts/gpu/session-bundle.sh DIR   (DIR inside the repository and ignored
# by git, e.g. .gpu16b; name it in the device run's `carry`).
set -euo pipefail
dir=$(realpath -m "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
T=${CARGO_TARGET_DIR:-$HOME/.cache/lumen/target}/release
(cd "$root" && cargo build --release -p lumen-compositor --bin lumen-session -p lumen-encode --bin gpu-pipeline)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/so" "$stage/whl" "$dir/gl" "$dir/e2e"
for b in lumen-session gpu-pipeline; do strip -o "$stage/bin/$b" "$T/$b"; done
# Everything ldd resolves except the C/C++ runtime (the device's own, newer, is used), plus the Wayland
# client library the built-in demo client opens at run time.
{ for b in lumen-session gpu-pipeline; do ldd "$stage/bin/$b" | awk '/=>/ {print $3}'; done
  echo /lib/x86_64-linux-gnu/libwayland-client.so.0; } |
  grep -v -E '/(libc|libm|libgcc_s|libstdc\+\+|libpthread|libdl|librt|ld-linux-x86-64)\.so' | sort -u |
  while read -r so; do cp -L "$so" "$stage/so/"; done
tar -C "$stage" -cf - bin so | xz -9 -T0 > "$dir/native.tar.xz"
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64'
(cd "$dir/gl" && apt-get $o download libegl1 libglvnd0 libgles2 libopengl0 libgl1 libglx0 >/dev/null)
(cd "$dir" && rm -f xkb-data_*.deb && apt-get $o download xkb-data >/dev/null)
# The stock client as tests/requirements.txt pins it, and the versions of its needs the dev venv holds.
plat='--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64
      --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform manylinux_2_5_x86_64'
pins=$(grep -E '^moonlight-python==' "$root/tests/requirements.txt")
pins="$pins av==18.1.0 cffi==2.1.1 cryptography==50.0.2 numpy==2.4.6 requests==2.34.2 certifi==2026.10.19.post1
      charset-normalizer==3.5.3 idna==3.20 urllib3==2.8.0 zeroconf==0.154.0 ifaddr==0.2.0 pycparser==3.12
      pytest==8.3.4 iniconfig==2.3.1 pluggy==1.7.0 packaging==26.4"
# shellcheck disable=SC2086
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $plat \
  -d "$stage/whl" $pins
# shellcheck disable=SC2086
python3 -m pip install -q --no-index --no-deps --no-compile --only-binary=:all: --python-version 3.12 \
  --implementation cp $plat --target "$stage/site16" "$stage"/whl/*.whl
(cd "$stage/site16" && rm -rf bin numpy/_core/include numpy/f2py numpy/_pyinstaller numpy/random/_examples \
  av/include && find . -name '*.pyi' -delete && find . -name '*.pxd' -delete &&
  find . -depth -type d \( -name __pycache__ -o -path '*numpy*/tests' \) -exec rm -rf {} +)
tar -C "$stage" -cf - site16 | xz -9 -T0 > "$dir/py.tar.xz"
cp "$root"/tests/e2e/{bench_gpu_session,bench_sessions,conftest,moonlight_helpers,test_session,waits}.py "$dir/e2e/"
cp "$root"/scripts/gpu/device-session.sh "$root"/scripts/gpu/device-pool.sh "$dir/"
du -sh "$dir"
