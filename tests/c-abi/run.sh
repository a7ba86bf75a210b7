#!/usr/bin/env bash
# C ABI harness: compiles each C test here against include/lumen_core.h, links it once with the cdylib
# (liblumen_core.so) and once with the staticlib (liblumen_core.a) from $LUMEN_BIN_DIR (default
# $CARGO_TARGET_DIR/debug, default /root/.cache/lumen/target/debug), and runs both; then once more linked with
# the cdylib under AddressSanitizer + UndefinedBehaviorSanitizer (leak checking on), so an out-of-bounds access,
# use-after-free, double free or leak across the ABI fails the run. fec.c always; frame.c (the receive path)
# when present.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-/root/.cache/lumen/target}
lib=${LUMEN_BIN_DIR:-$target/debug}
for f in liblumen_core.so liblumen_core.a; do
  [ -e "$lib/$f" ] || { echo "c-abi: $lib/$f is missing (build lumen-core first)" >&2; exit 1; }
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Native libraries a Rust staticlib needs on Linux.
static_libs=(-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)
cflags=(-std=c11 -O1 -g -Wall -Wextra -Werror -I"$root/include")
sanitize=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
ran=0
for src in "$here/fec.c" "$here/frame.c"; do
  [ -e "$src" ] || continue
  name=$(basename "$src" .c)
  gcc "${cflags[@]}" "$src" -o "$out/$name-shared" -L"$lib" -llumen_core -Wl,-rpath,"$lib"
  gcc "${cflags[@]}" "$src" -o "$out/$name-static" "$lib/liblumen_core.a" "${static_libs[@]}"
  gcc "${cflags[@]}" "${sanitize[@]}" "$src" -o "$out/$name-asan" -L"$lib" -llumen_core -Wl,-rpath,"$lib"
  # The shared build must really load the cdylib, the static one must not.
  shared_deps=$(ldd "$out/$name-shared")
  static_deps=$(ldd "$out/$name-static")
  [[ $shared_deps == *liblumen_core.so* ]] || { echo "c-abi: $name-shared does not load the .so" >&2; exit 1; }
  [[ $static_deps != *liblumen_core* ]] || { echo "c-abi: $name-static links the .so" >&2; exit 1; }
  for kind in shared static asan; do
    echo "== c-abi $name ($kind)"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "$out/$name-$kind"
    ran=$((ran + 1))
  done
done
echo "c-abi: $ran harness runs passed"
