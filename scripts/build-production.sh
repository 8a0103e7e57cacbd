#!/usr/bin/env bash
# The production build, run after `npm ci`: compile src/ into dist/, then drop the dev dependencies.
# The Dockerfile's build stage runs exactly this; test/production-start.test.ts runs it in a copy of the project
# and then starts `node dist/main.js` and `npm start` from what is left.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build
npm prune --omit=dev --no-audit --no-fund
