#!/usr/bin/env bash
# Set-up step (run by scripts/setup.sh): cargo-fuzz from crates.io, pinned, for scripts/fuzz-build.sh.
# Idempotent: nothing happens when this version is installed already.
set -euo pipefail
version=0.13.2
export PATH="$HOME/.cargo/bin:$PATH"
if cargo fuzz --version 2>/dev/null | grep -q " $version"; then
  exit 0
fi
echo "setup: installing cargo-fuzz $version (crates.io)"
cargo install cargo-fuzz --locked --version "$version"
