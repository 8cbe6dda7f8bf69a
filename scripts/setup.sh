#!/usr/bin/env bash
# Sets up a fresh clone: checks Node, gets pnpm through corepack, installs the
# Debian packages a task needs (when root; otherwise says what to install),
# installs the npm dependencies from the lockfile and builds dist/.
#
#   scripts/setup.sh            what the demo needs
#   scripts/setup.sh --tests    also what the test suite needs
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[ "${1:-}" = "--tests" ] && want_tests=1

say() { printf 'owncdn setup: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# --- Node.js -----------------------------------------------------------------
command -v node >/dev/null || die "Node.js is not installed (need 20.19 or newer: https://nodejs.org/)"
node -e '
  const [maj, min] = process.versions.node.split(".").map(Number);
  if (maj < 20 || (maj === 20 && min < 19)) { console.error(`owncdn setup: Node ${process.versions.node} is too old (need 20.19 or newer)`); process.exit(1); }
'

# --- pnpm through corepack -----------------------------------------------------
export COREPACK_ENABLE_DOWNLOAD_PROMPT=0
if ! command -v corepack >/dev/null; then
  say "corepack is missing (Node 25 and later no longer bundle it); installing it with npm"
  npm install --global --no-audit --no-fund corepack >/dev/null || die "could not install corepack: run 'npm install --global corepack' and try again"
fi
if ! corepack pnpm --version >/dev/null 2>&1; then
  # Some registry mirrors publish no npm signatures, which corepack checks by
  # default ("No compatible signature found"); the lockfile still pins every
  # dependency's integrity hash.
  say "corepack could not verify pnpm's registry signature; retrying without signature keys"
  export COREPACK_INTEGRITY_KEYS=0
  corepack pnpm --version >/dev/null || die "corepack could not fetch pnpm (see the error above)"
fi

# --- Debian packages -----------------------------------------------------------
need=()
have() { command -v "$1" >/dev/null 2>&1; }
if [ "$want_tests" = 1 ]; then
  have rsync || need+=(rsync)
  have sshd || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
  have ssh || need+=(openssh-client)
  have ssh-keygen || need+=(openssh-client)
  have pebble || need+=(pebble)
  have dig || need+=(dnsutils)
  have openssl || need+=(openssl)
  have systemd-analyze || need+=(systemd)
fi
if [ ${#need[@]} -gt 0 ]; then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  if [ "$(id -u)" = 0 ] && have apt-get; then
    say "installing ${need[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || die "apt-get install ${need[*]} failed"
  else
    die "missing system packages: ${need[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${need[*]}) and run this again."
  fi
fi

# --- npm dependencies and build --------------------------------------------------
corepack pnpm install --frozen-lockfile --reporter=silent
corepack pnpm run --silent build
