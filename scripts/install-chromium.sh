#!/usr/bin/env bash
# Installs headless Chromium (Debian's `chromium` package) for the browser tests in test/browser/.
# Idempotent: does nothing when /usr/bin/chromium is already there. Needs root (or passwordless sudo);
# without it, it says so and exits 0: the browser test is then skipped with a visible message.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "== chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  echo "== chromium not installed and not root: skipping (browser tests will be skipped)" >&2
  exit 0
fi

echo "== installing chromium (apt-get)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium
echo "== chromium installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
