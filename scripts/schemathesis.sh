#!/usr/bin/env bash
# Property-based fuzzing of the running server from its own /openapi.json with Schemathesis:
# every documented operation, positive and negative inputs, bounded in examples and time.
# Fails on any 5xx. Installs a pinned Schemathesis into a venv under the target directory.
#   scripts/schemathesis.sh              # default: 30 examples per operation
#   MAX_EXAMPLES=100 scripts/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
MAX_EXAMPLES="${MAX_EXAMPLES:-30}"
MAX_TIME="${MAX_TIME:-90}"
TARGET="${CARGO_TARGET_DIR:-target}"
VENV="$TARGET/schemathesis-venv"
ADMIN_TOKEN="schemathesis-admin-token-0123456789abcdef"

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --locked --quiet
BIN="$TARGET/debug/wallet-auth"

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
LOG="$(mktemp)"
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -f "$LOG"
}
trap cleanup EXIT

env -u REDIS_URL -u SESSION_ENCRYPTION_KEY \
  BIND_ADDR="127.0.0.1:$PORT" \
  AUTH_DOMAINS="127.0.0.1:$PORT" \
  AUTH_URI="http://127.0.0.1:$PORT" \
  COOKIE_SECURE=false \
  RATE_LIMIT_PER_MIN=0 \
  ADMIN_TOKEN="$ADMIN_TOKEN" \
  LOG_FORMAT=json \
  RUST_LOG=warn \
  "$BIN" serve >"$LOG" 2>&1 &
SERVER_PID=$!

for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "the server did not start:" >&2
    cat "$LOG" >&2
    exit 1
  fi
  sleep 0.1
done

# The admin token is sent on every request: admin routes get fuzzed past their guard, and
# wallet routes see it as an unknown wallet token (401).
status=0
timeout 170 "$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/openapi.json" \
  --checks not_a_server_error \
  --max-examples "$MAX_EXAMPLES" \
  --max-time "$MAX_TIME" \
  --request-timeout 10 \
  --workers 2 \
  --seed "${SCHEMATHESIS_SEED:-1}" \
  --suppress-health-check all \
  -H "Authorization: Bearer $ADMIN_TOKEN" || status=$?

if grep -q '"level":"ERROR"' "$LOG"; then
  echo "server logged errors during the run:" >&2
  grep '"level":"ERROR"' "$LOG" >&2 || true
  status=1
fi
exit "$status"
