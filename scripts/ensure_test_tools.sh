#!/usr/bin/env bash
# Install the Debian packages the tests drive, when they are missing: chromium for the
# browser tests, LibreOffice Calc and poppler's pdftotext for the printed-workbook test.
# No browser download is possible here: only the distribution packages work. Without root
# or sudo nothing is installed and the tests that need a missing tool are skipped.
set -euo pipefail
has() { command -v "$1" >/dev/null 2>&1; }
browser=()
has chromium || [ -x /usr/bin/chromium ] || browser=(chromium)
printing=()
has soffice || has libreoffice || printing+=(libreoffice-calc)
has pdftotext || printing+=(poppler-utils)
if [ ${#browser[@]} -eq 0 ] && [ ${#printing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if has sudo; then SUDO="sudo"; else
    echo "missing ${browser[*]} ${printing[*]} and not root: the tests needing them will be skipped." >&2
    exit 0
  fi
fi
$SUDO apt-get update -qq
if [ ${#browser[@]} -gt 0 ]; then
  echo "installing Debian chromium for the browser tests..." >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
if [ ${#printing[@]} -gt 0 ]; then
  echo "installing ${printing[*]} for the printed-workbook test..." >&2
  # The print check is one test: if its packages cannot be had, it is skipped, not fatal.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${printing[@]}" >/dev/null ||
    echo "could not install ${printing[*]}: the printed-workbook test will be skipped." >&2
fi
