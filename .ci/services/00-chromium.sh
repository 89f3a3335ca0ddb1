#!/usr/bin/env bash
# The editor's browser tests drive Debian's Chromium through playwright-core (no browser download here).
set -uo pipefail
if [ -x /usr/lib/chromium/chromium ]; then echo "chromium: $(/usr/lib/chromium/chromium --version 2>/dev/null)"; exit 0; fi
echo "chromium: installing Debian's package"
SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends chromium >/tmp/sluice-apt.log 2>&1 \
  || { $SUDO apt-get update >>/tmp/sluice-apt.log 2>&1 && $SUDO apt-get install -y --no-install-recommends chromium >>/tmp/sluice-apt.log 2>&1; } \
  || { tail -20 /tmp/sluice-apt.log; exit 1; }
echo "chromium: $(/usr/lib/chromium/chromium --version 2>/dev/null)"
