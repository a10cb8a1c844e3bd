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

. "$(dirname "$0")/apt-install.sh"
# The package may start a system-wide cluster on port 5432; the tests do not use it.
apt_install ensure-postgres postgresql postgresql

have_server
ls -d /usr/lib/postgresql/*/bin
