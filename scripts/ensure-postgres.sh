#!/usr/bin/env bash
# Makes sure PostgreSQL's server binaries (`initdb`, `postgres`, `pg_isready`) are installed,
# installing Debian's `postgresql` package when they are not. The store and API tests start a
# private server (a temporary cluster on a free loopback port, run as the `postgres` user when
# the tests run as root) and look the binaries up on PATH, then in
# /usr/lib/postgresql/<version>/bin. Does nothing when present.
set -euo pipefail

have_server() {
    if command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1; then
        return 0
    fi
    for dir in /usr/lib/postgresql/*/bin; do
        if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ] && [ -x "$dir/pg_isready" ]; then
            return 0
        fi
    done
    return 1
}

if have_server; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-postgres: PostgreSQL is missing and apt-get is not available; install PostgreSQL (>= 13) by hand" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends postgresql

# The package may start a system-wide cluster on port 5432; the tests do not use it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet postgresql 2>/dev/null; then
    $SUDO systemctl stop postgresql || true
fi

have_server
ls -d /usr/lib/postgresql/*/bin
