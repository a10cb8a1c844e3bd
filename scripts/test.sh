#!/usr/bin/env bash
# Runs every test: unit, vectors, CLI, store suite and API tests on memory, a real
# redis-server, a local 3-node Redis Cluster and a private PostgreSQL server (the test harness
# starts and stops them), the contract-wallet tests on a local anvil chain (started and
# stopped by the harness; installed with the Solidity compiler and the Safe contracts by
# scripts/ensure-contracts.sh), then
# the JavaScript client and demo page in headless Chromium, then schemathesis against the
# OpenAPI document (no 5xx allowed), then hadolint on the Dockerfile.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-redis.sh
scripts/ensure-postgres.sh
scripts/ensure-contracts.sh
scripts/ensure-promtool.sh
cargo test --locked "$@"
scripts/browser-test.sh
scripts/schemathesis.sh
scripts/check-container.sh
