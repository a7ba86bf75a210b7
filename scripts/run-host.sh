#!/usr/bin/env bash
# The main job: set up (idempotent), build, and run lumen-session — the headless compositor and Moonlight host
# in one process (software paths by default; no GPU needed). Its default app is a terminal (foot) when one is
# installed, else the built-in demo client (`--demo`). Extra arguments go to lumen-session.
#
# It builds the profile scripts/test.sh builds (`dev`: every dependency at opt-level 3, our crates at 1), so
# after the tests there is nothing left to build, and a first run builds only what lumen-session needs
# (README: "First run"). LUMEN_PROFILE=release builds the fully optimised binary instead (a second build of
# every crate). `lumen-session` is linked into /usr/local/bin (root) or ~/.local/bin, so the admin commands
# the host prints (`lumen-session pin 1234`) work as typed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"
export LUMEN_CACHE=${LUMEN_CACHE:-$HOME/.cache/lumen}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$LUMEN_CACHE/target}
profile=${LUMEN_PROFILE:-dev}
LUMEN_SKIP_VENV=${LUMEN_SKIP_VENV:-1} "$here/setup.sh"
case "$profile" in
    dev) dir=debug ;;
    *) dir=$profile ;;
esac
if [ "$profile" = dev ]; then
    # The very units scripts/test.sh builds: `--workspace` and one small test target make cargo resolve features
    # as `--workspace --all-targets` does (workspace members and dev-dependencies unified), so neither command
    # rebuilds what the other built. `-p lumen-compositor --bin lumen-session` alone would resolve fewer features
    # (serde_core, regex-syntax, getrandom) and rebuild those crates and all that depend on them.
    cargo build --workspace --bin lumen-session --test handle_and_sink
else
    cargo build --profile "$profile" -p lumen-compositor --bin lumen-session
fi
bin="$CARGO_TARGET_DIR/$dir/lumen-session"

# `lumen-session` on PATH: a symbolic link to this build (idempotent; a file that is not a link is left alone).
if [ -w /usr/local/bin ]; then bindir=/usr/local/bin; else bindir=$HOME/.local/bin; fi
mkdir -p "$bindir"
link="$bindir/lumen-session"
if [ -L "$link" ] || [ ! -e "$link" ]; then
    if [ "$(readlink "$link" || true)" != "$bin" ]; then
        ln -sfn "$bin" "$link"
        echo "run-host: linked $link -> $bin"
    fi
    case ":$PATH:" in
        *":$bindir:"*) ;;
        *) echo "run-host: $bindir is not on PATH: add it (export PATH=\"$bindir:\$PATH\") to type lumen-session" ;;
    esac
else
    echo "run-host: $link exists and is not a link: left as is (this build is $bin)"
fi

if command -v foot >/dev/null 2>&1; then
    app=(--desktop-app foot)
    what="a foot terminal"
else
    app=(--demo)
    what="the built-in demo client"
fi
echo "run-host: starting lumen-session (headless; \"Desktop\" shows $what); it says how to pair once it is ready"
exec "$bin" "${app[@]}" "$@"
