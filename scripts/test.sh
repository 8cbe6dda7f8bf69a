#!/usr/bin/env bash
# The README's second command: set up (with the system packages the tests
# need), then lint, format check, typecheck and every test (`pnpm check`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests
# setup.sh may have needed COREPACK_INTEGRITY_KEYS=0; repeat its choice here.
export COREPACK_ENABLE_DOWNLOAD_PROMPT=0
corepack pnpm --version >/dev/null 2>&1 || export COREPACK_INTEGRITY_KEYS=0
echo "owncdn: running the test suite on Node $(node --version)"
exec corepack pnpm run check
