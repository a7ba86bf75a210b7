#!/usr/bin/env bash
# Builds every cargo-fuzz target of lumen (core/fuzz and stream/fuzz) on the *stable* toolchain, and with
# `--run SECS` also runs each target for SECS seconds (a smoke run: it fails on the first crash).
#
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address, sanitizer coverage); RUSTC_BOOTSTRAP=1 lets the
# stable compiler accept them, so neither CI nor a developer needs a nightly toolchain. cargo-fuzz itself is
# installed by scripts/deps/fuzz.sh (part of scripts/setup.sh). Builds go to their own target dir
# ($LUMEN_CACHE/target-fuzz): the sanitizer flags would otherwise rebuild the main target from scratch.
#
#   scripts/fuzz-build.sh               # build all targets
#   scripts/fuzz-build.sh --run 5       # build, then run each target for 5 s
#   scripts/fuzz-build.sh --run 600 stream rtsp_request   # a 10-minute campaign of one target
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
run_secs=0
if [ "${1:-}" = "--run" ]; then
  run_secs=${2:?--run needs a number of seconds}
  shift 2
fi
only_crate=${1:-}
only_target=${2:-}
export PATH="$HOME/.cargo/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz-build: cargo-fuzz is not installed (scripts/setup.sh installs it: scripts/deps/fuzz.sh)" >&2
  exit 1
fi
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${LUMEN_FUZZ_TARGET_DIR:-${LUMEN_CACHE:-$HOME/.cache/lumen}/target-fuzz}
for crate in core stream; do
  [ -n "$only_crate" ] && [ "$crate" != "$only_crate" ] && continue
  echo "== fuzz targets of $crate/fuzz (stable toolchain, RUSTC_BOOTSTRAP=1)"
  (cd "$root/$crate" && cargo fuzz build)
  [ "$run_secs" -gt 0 ] || continue
  for target in $(cd "$root/$crate" && cargo fuzz list); do
    [ -n "$only_target" ] && [ "$target" != "$only_target" ] && continue
    corpus="${LUMEN_FUZZ_CORPUS_DIR:-${LUMEN_CACHE:-$HOME/.cache/lumen}/fuzz-corpus}/$crate/$target"
    mkdir -p "$corpus"
    echo "== $crate/$target for ${run_secs}s (corpus $corpus)"
    (cd "$root/$crate" && cargo fuzz run "$target" "$corpus" -- -max_total_time="$run_secs" -print_final_stats=1)
  done
done
echo "== fuzz targets built"
