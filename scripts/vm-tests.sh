#!/usr/bin/env bash
# Tests that need kernel features this machine's kernel lacks (uinput), run under Debian's stock kernel in a
# QEMU VM (scripts/vm-run: copied from ../shared/tools, it installs what it needs on first use). Each test
# binary is built here and run in the VM. Called by scripts/test.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$(dirname "$here")"
bin=$(cargo test -p lumen-compositor --test gamepad_uinput --no-run --message-format json 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "gamepad_uinput":
        print(m["executable"])')
echo "vm-tests: virtual gamepads ($bin) under Debian's kernel"
LUMEN_REQUIRE_UINPUT=1 "$here/vm-run" -t 600 "$bin" --nocapture

# The stock client's controllers through a whole session (lumen-session, moonlight-python) in the VM.
export LUMEN_BIN_DIR="$CARGO_TARGET_DIR/debug"
echo "vm-tests: gamepads through the stock client (tests/e2e/vm_gamepad_pads.py)"
"$here/vm-run" -t 900 "$LUMEN_VENV/bin/python" -m pytest -q -x -p no:cacheprovider tests/e2e/vm_gamepad_pads.py
