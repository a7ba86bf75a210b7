#!/usr/bin/env bash
# Tests that need kernel features this machine's kernel lacks (uinput, uhid, hid-playstation), run under
# Debian's stock kernel in a QEMU VM (scripts/vm-run: copied from ../shared/tools, it installs what it needs on
# first use). Each test binary is built here and run in the VM. Called by scripts/test.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$(dirname "$here")"
# uhid and the DualSense driver: nothing loads drivers in the VM (no udev), so they are loaded up front.
modules=uhid,hid_playstation

test_binary() {
  cargo test -p lumen-compositor --test "$1" --no-run --message-format json 2>/dev/null \
    | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == sys.argv[1]:
        print(m["executable"])' "$1"
}

for t in gamepad_uinput gamepad_dualsense; do
  bin=$(test_binary "$t")
  echo "vm-tests: virtual gamepads, $t ($bin) under Debian's kernel"
  LUMEN_REQUIRE_UINPUT=1 LUMEN_REQUIRE_UHID=1 "$here/vm-run" -m "$modules" -t 600 "$bin" --nocapture
done

# dmabuf for real: GLES on GBM (vgem's card0, Mesa llvmpipe) renders into dmabuf pool targets and a dmabuf
# Wayland client (weston-simple-dmabuf-egl) draws; its pixels reach the encoder (compositor/tests/dmabuf_vgem.rs).
bin=$(test_binary dmabuf_vgem)
echo "vm-tests: dmabuf targets and a dmabuf client on vgem ($bin) under Debian's kernel"
# softpipe: under TCG, llvmpipe's JIT aborts the compositor ("LLVM ERROR: 64-bit code requested on a subtarget
# that doesn't support it!") on its first render; softpipe interprets the shaders instead.
GALLIUM_DRIVER=softpipe LUMEN_REQUIRE_VGEM=1 "$here/vm-run" -m vgem -t 900 "$bin" --nocapture

# The stock client's controllers through whole sessions (lumen-session, moonlight-python) in the VM.
export LUMEN_BIN_DIR="$CARGO_TARGET_DIR/debug"
echo "vm-tests: gamepads through the stock client (tests/e2e/vm_gamepad_pads.py)"
"$here/vm-run" -m "$modules" -t 900 "$LUMEN_VENV/bin/python" -m pytest -q -x -p no:cacheprovider tests/e2e/vm_gamepad_pads.py

# Moonlight FEC vs the lumen transport under netem loss in a network namespace: the test sets lo's netem qdisc
# itself for each profile (random 5 %, random 10 %, bursty) and streams 4K-sized frames (4 MB IDRs).
bin=$(cargo test -p lumen-core --test transport_netem --no-run --message-format json 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "transport_netem":
        print(m["executable"])')
echo "vm-tests: lumen transport under netem loss ($bin)"
# Receive buffers of 32 MB (the VM's CPU is slow: with the default 208 KiB the kernel, not netem, drops).
"$here/vm-run" -m sch_netem -t 600 bash -c "sysctl -qw net.core.rmem_default=33554432 net.core.rmem_max=33554432 \
  && ip netns add lossy && ip netns exec lossy ip link set lo up \
  && LUMEN_NETEM=1 ip netns exec lossy $bin --nocapture"
