#!/usr/bin/env bash
# Installs the programs the benchmarks compare owncdn with (Debian/Ubuntu, as
# root): nginx and Caddy (origin), gdnsd, Knot and PowerDNS with its geoip
# backend (geodns), and the load generators wrk and dnsperf; rsync and sshd for
# the sync benchmark. Their own services are not started: each benchmark
# starts what it needs on loopback and stops it afterwards.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "bench/install-anchors.sh: run as root (it uses apt-get), or install by hand:" >&2
  echo "  sudo apt-get install nginx caddy wrk gdnsd knot pdns-server pdns-backend-geoip dnsperf rsync openssh-server dnsutils" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d stops the packages' init scripts from starting system-wide daemons.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends \
  nginx caddy wrk gdnsd knot pdns-server pdns-backend-geoip dnsperf rsync openssh-server openssh-client dnsutils
echo "anchors installed: nginx caddy wrk gdnsd knot pdns dnsperf"
