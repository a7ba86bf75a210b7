#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine, run as root: apt packages, Rust build caches,
# and the Python venv with the pinned stock Moonlight client used by the tests.
# Each area of the project lists its apt packages in scripts/deps/*.apt (one package per line, '#' comments).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cache=${LUMEN_CACHE:-$HOME/.cache/lumen}
mkdir -p "$cache"

pkgs=$(cat "$here"/deps/*.apt 2>/dev/null | sed 's/#.*//' | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
missing=()
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Rust toolchain: this project needs a recent stable Rust (Debian 12's rustc is too old).
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then export PATH="$HOME/.cargo/bin:$PATH"; else
    echo "setup: installing Rust with rustup"
    command -v curl >/dev/null || apt-get install -y -qq curl
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi

# The test command checks formatting and lints: rustfmt and clippy must be there (a minimal profile lacks them).
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  if command -v rustup >/dev/null 2>&1; then
    echo "setup: adding the rustfmt and clippy components"
    rustup component add rustfmt clippy
  else
    echo "setup: cargo fmt / cargo clippy are missing and there is no rustup to add them" >&2
    exit 1
  fi
fi

# Extra set-up steps of each area (idempotent scripts: scripts/deps/*.sh).
for s in "$here"/deps/*.sh; do
  [ -e "$s" ] || continue
  bash "$s"
done

# The stock Moonlight client (moonlight-python, pinned) and test tools, in a venv of their own.
if [ "${LUMEN_SKIP_VENV:-0}" = 1 ]; then echo "setup: done (no test venv requested)"; exit 0; fi
venv=${LUMEN_VENV:-$cache/venv}
req="$root/tests/requirements.txt"
stamp="$venv/.lumen-req-$(sha256sum "$req" | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  echo "setup: creating the test venv at $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  touch "$stamp"
fi
echo "setup: done"
