#!/usr/bin/env bash
# The main job: set up (idempotent), build, and run lumen-session — the headless compositor and Moonlight host
# in one process (software paths by default; no GPU needed). Its default app is a terminal (foot) when one is
# installed, else the built-in demo client (`--demo`). Extra arguments go to lumen-session.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"
export LUMEN_CACHE=${LUMEN_CACHE:-$HOME/.cache/lumen}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$LUMEN_CACHE/target}
LUMEN_SKIP_VENV=${LUMEN_SKIP_VENV:-1} "$here/setup.sh"
cargo build --release -p lumen-compositor --bin lumen-session
bin="$CARGO_TARGET_DIR/release/lumen-session"
if command -v foot >/dev/null 2>&1; then
    app=(--desktop-app foot)
    what="a foot terminal"
else
    app=(--demo)
    what="the built-in demo client"
fi
cat <<MSG
lumen: starting lumen-session (headless; the "Desktop" app shows $what).
To pair a Moonlight client, start pairing in the client, then on this machine run:
    $bin pin <the PIN the client shows>
Paired clients: $bin clients      Remove one: $bin unpair <ID>
MSG
exec "$bin" "${app[@]}" "$@"
