#!/usr/bin/env bash
# The README's first command: set up, then run the three-region demo.
# Extra arguments go to `owncdn demo` (e.g. --dir /tmp/demo, --no-tour).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node packages/cli/bin/owncdn.js demo "$@"
