#!/usr/bin/env bash
# Makes sure `promtool` is on PATH, installing Debian's `prometheus` package when it is not.
# The metrics tests run `promtool check metrics` on a real scrape of /metrics. Does nothing
# when present.
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
    exit 0
fi

. "$(dirname "$0")/apt-install.sh"
# The package starts a system-wide Prometheus; the tests need only promtool.
apt_install ensure-promtool prometheus prometheus

promtool --version
