#!/usr/bin/env bash
# Makes sure `redis-server` and `redis-cli` are on PATH, installing Debian's `redis-server` and
# `redis-tools` packages when they are not. The store tests start private redis-server processes
# (a single node and a 3-master cluster) and need both binaries. Does nothing when present.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-redis: redis-server is missing and apt-get is not available; install Redis (>= 6.2) by hand" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends redis-server redis-tools

# The package starts a system-wide instance on port 6379; the tests do not use it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
    $SUDO systemctl stop redis-server || true
fi

redis-server --version
