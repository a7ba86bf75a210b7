#!/usr/bin/env bash
# lumen-compositor test set-up (idempotent): a new enough Xwayland for the X11 tests.
# Debian 12's Xwayland 22.1 lacks xwayland_shell_v1, which smithay 0.7 needs to pair X11 windows with their
# surfaces, so trixie's Xwayland (24.1) is unpacked into a private prefix together with the libraries that
# are too old in Debian 12 (glibc 2.38+ among them), and started through trixie's own dynamic loader by a
# wrapper script: $LUMEN_CACHE/xwayland/bin/Xwayland. Nothing outside that prefix is touched.
set -euo pipefail
cache=${LUMEN_CACHE:-$HOME/.cache/lumen}
prefix=$cache/xwayland
wrapper=$prefix/bin/Xwayland
stamp=$prefix/.lumen-xwayland-24.1
if [ -x "$wrapper" ] && [ -e "$stamp" ] && "$wrapper" -version 2>&1 | grep -q "24\.1"; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
echo "deb http://deb.debian.org/debian trixie main" > "$work/sources.list"
o=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
   -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "APT::Sandbox::User=root")
echo "compositor.sh: fetching Xwayland 24.1 from Debian trixie"
apt-get "${o[@]}" update -qq
# Xwayland and the libraries whose Debian 12 versions are too old for it.
pkgs=(xwayland libc6 libdecor-0-0 libdrm2 libgcrypt20 libgpg-error0 libtirpc3t64 libxau6 libepoxy0 libxcvt0
      libxfont2 libxshmfence1 libwayland-client0 libpixman-1-0 libgbm1 libxdmcp6 libbsd0 libmd0 libfontenc1
      libfreetype6 libzstd1 libpng16-16t64 libbrotli1 zlib1g libgssapi-krb5-2 libkrb5-3 libk5crypto3
      libkrb5support0 libcom-err2 libkeyutils1 libssl3t64 libexpat1 libffi8 libwayland-server0 libdrm-common
      libglvnd0 libgl1 libglx0 libx11-6 libxcb1 libxext6 libx11-xcb1 libxcb-glx0 libxcb-dri3-0 libxcb-present0
      libxcb-randr0 libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libxxf86vm1 libstdc++6 libgcc-s1)
(cd "$work/debs" && apt-get "${o[@]}" download "${pkgs[@]}" >/dev/null)
rm -rf "$prefix"
mkdir -p "$prefix/root" "$prefix/bin"
for f in "$work"/debs/*.deb; do dpkg -x "$f" "$prefix/root"; done
r=$prefix/root
cat > "$wrapper" <<WRAP
#!/bin/sh
# Trixie's Xwayland with trixie's loader and libraries (see scripts/deps/compositor.sh).
exec "$r/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$r/usr/lib/x86_64-linux-gnu:$r/lib/x86_64-linux-gnu" "$r/usr/bin/Xwayland" "\$@"
WRAP
chmod +x "$wrapper"
"$wrapper" -version 2>&1 | grep -i xwayland
touch "$stamp"
echo "compositor.sh: Xwayland ready at $wrapper"
