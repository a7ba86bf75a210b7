#!/usr/bin/env bash
# The one command that sets up and runs every test of lumen (this is what .ci/run calls).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"
export LUMEN_CACHE=${LUMEN_CACHE:-$HOME/.cache/lumen}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$LUMEN_CACHE/target}
export LUMEN_VENV=${LUMEN_VENV:-$LUMEN_CACHE/venv}
"$here/setup.sh"

echo "== cargo fmt --check"
cargo fmt --all -- --check
for fuzz in core/fuzz stream/fuzz; do (cd "$fuzz" && cargo fmt -- --check); done
echo "== cargo clippy (workspace, all targets, warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo build (workspace, all targets)"
cargo build --workspace --all-targets
echo "== cargo test (unit, property, integration, and the tidy test: tests/tidy)"
cargo test --workspace

echo "== fuzz targets (cargo-fuzz on stable with RUSTC_BOOTSTRAP=1): build, and 5 s of fuzzing each"
bash scripts/fuzz-build.sh --run 5

echo "== kernel VM tests (uinput gamepads under Debian's kernel: scripts/vm-tests.sh)"
bash scripts/vm-tests.sh

export LUMEN_BIN_DIR="$CARGO_TARGET_DIR/debug"
echo "== C ABI harness (shared, static, and under AddressSanitizer + UBSan)"
bash tests/c-abi/run.sh
echo "== end-to-end tests (stock Moonlight client, real Wayland clients)"
"$LUMEN_VENV/bin/python" -m pytest -q -x tests/e2e
echo "== all tests passed"
