#!/usr/bin/env bash
# Install Debian's chromium for the browser tests when it is missing.
# No browser download is possible here: only the distribution package works.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "chromium is missing and we are not root: browser tests will be skipped." >&2
    exit 0
  fi
fi
echo "installing Debian chromium for the browser tests..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
