#!/usr/bin/env bash
# The main job: set up (idempotent), build, and run the lumen streaming host on this machine
# (software paths by default; no GPU needed). Extra arguments go to lumen-session.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"
export LUMEN_CACHE=${LUMEN_CACHE:-$HOME/.cache/lumen}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$LUMEN_CACHE/target}
LUMEN_SKIP_VENV=${LUMEN_SKIP_VENV:-1} "$here/setup.sh"
cargo build --release --locked -p lumen-stream --bin lumen-session
bin="$CARGO_TARGET_DIR/release/lumen-session"
cat <<MSG
lumen: starting the host. To pair a Moonlight client, start pairing in the client, then on this machine run:
    $bin pin <the PIN the client shows>
Paired clients: $bin clients      Remove one: $bin unpair <ID>
MSG
exec "$bin" "$@"
