#!/usr/bin/env bash
# lumen's login host set-up (idempotent; docs/login.md): the system users the host and the greeter run as,
# and the PAM service file /etc/pam.d/lumen.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
for u in lumen lumen-greeter; do
  if ! getent passwd "$u" >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u"
    echo "login.sh: created the system user $u"
  fi
done
if ! cmp -s "$here/packaging/pam.d/lumen" /etc/pam.d/lumen 2>/dev/null; then
  install -m 0644 "$here/packaging/pam.d/lumen" /etc/pam.d/lumen
  echo "login.sh: installed /etc/pam.d/lumen"
fi
