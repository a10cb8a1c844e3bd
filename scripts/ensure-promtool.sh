#!/usr/bin/env bash
# Makes sure `promtool` is on PATH, installing Debian's `prometheus` package when it is not.
# The metrics tests run `promtool check metrics` on a real scrape of /metrics. Does nothing
# when present.
set -euo pipefail

if command -v promtool >/dev/null 2>&1; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-promtool: promtool is missing and apt-get is not available; install Prometheus's promtool by hand" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends prometheus

# The package starts a system-wide Prometheus; the tests need only promtool.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    $SUDO systemctl stop prometheus || true
fi

promtool --version
