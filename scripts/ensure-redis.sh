#!/usr/bin/env bash
# Makes sure `redis-server` and `redis-cli` are on PATH, installing Debian's `redis-server` and
# `redis-tools` packages when they are not. The store tests start private redis-server processes
# (a single node and a 3-master cluster) and need both binaries. Does nothing when present.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
    exit 0
fi

. "$(dirname "$0")/apt-install.sh"
# The package starts a system-wide instance on port 6379; the tests do not use it.
apt_install ensure-redis redis-server redis-server redis-tools

redis-server --version
