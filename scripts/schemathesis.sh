#!/usr/bin/env bash
# Property-based fuzzing of the running server from its own /openapi.json with Schemathesis:
# every documented operation, positive and negative inputs, bounded in examples and time.
# Fails on any 5xx. Installs a pinned Schemathesis into a venv under the target directory.
# Runs with real credentials so that every operation is reached past its guard: the admin
# token on /admin/*, and wallet sessions from real sign-ins (local secp256k1 keys signing
# EIP-4361 messages, `examples/bench_client.rs sessions`) on the rest; each operation that
# ends its session (refresh, logout, logout-all, revoke) gets a session of its own.
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

# The binary and the bench client come from the test build (cargo test builds examples too):
# the same profile and features, so nothing is built twice.
cargo test --locked --no-run --quiet
BIN="$TARGET/debug/wallet-auth"
SIGNIN="$TARGET/debug/examples/bench_client"
# Sessions are bound to the User-Agent of the sign-in; schemathesis sends the same one.
SIGNIN_UA="wallet-auth-bench/1"

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
LOG="$(mktemp)"
TOKENS="$(mktemp)"
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -f "$LOG" "$TOKENS"
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
  RUST_LOG=warn,wallet_auth::http=info \
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

BASE="http://127.0.0.1:$PORT"
# Six sessions of six wallets, signed in for real.
"$SIGNIN" sessions --base "$BASE" --n 6 --out "$TOKENS"
token() { sed -n "${1}p" "$TOKENS"; }

status=0
run() {
  local label="$1"
  shift
  echo "== schemathesis: $label"
  timeout 170 "$VENV/bin/schemathesis" run "$BASE/openapi.json" \
    --checks not_a_server_error \
    --max-examples "$MAX_EXAMPLES" \
    --max-time "$MAX_TIME" \
    --request-timeout 10 \
    --workers 2 \
    --seed "${SCHEMATHESIS_SEED:-1}" \
    --suppress-health-check all \
    "$@" || status=$?
}

# Everything but the admin routes and the operations that end the session, with a session.
# (One regex: schemathesis keeps only the last --exclude-path-regex.)
run "wallet session" -H "Authorization: Bearer $(token 1)" -H "User-Agent: $SIGNIN_UA" \
  --exclude-path /auth/refresh --exclude-path /auth/logout --exclude-path /auth/logout-all \
  --exclude-path-regex '^/admin/|^/auth/sessions/'

# The admin routes with the admin token.
run "admin token" -H "Authorization: Bearer $ADMIN_TOKEN" --include-path-regex '^/admin/'
# Each session-ending operation with a session of its own.
n=2
for path in /auth/refresh /auth/logout /auth/logout-all; do
  run "wallet session: $path" -H "Authorization: Bearer $(token "$n")" \
    -H "User-Agent: $SIGNIN_UA" --include-path "$path"
  n=$((n + 1))
done
run "wallet session: DELETE /auth/sessions/{sessionId}" -H "Authorization: Bearer $(token "$n")" \
  -H "User-Agent: $SIGNIN_UA" --include-path-regex '^/auth/sessions/'

# What the server answered, by route (from its request log): schemathesis counts an operation
# whose session ended at its first request as answering only 401; the log shows it was reached.
echo "== statuses answered, by route (server request log)"
python3 - "$LOG" <<'PY'
import collections, json, sys
seen = collections.defaultdict(collections.Counter)
for line in open(sys.argv[1]):
    try:
        l = json.loads(line)
    except ValueError:
        continue
    if l.get("message") == "request":
        seen[(l["route"], l["method"])][l["status"]] += 1
for (route, method), statuses in sorted(seen.items()):
    print(f"{method:7} {route:45} " + " ".join(f"{s}x{n}" for s, n in sorted(statuses.items())))
if any(s >= 500 for c in seen.values() for s in c):
    print("a 5xx was answered", file=sys.stderr)
    sys.exit(1)
PY
[ $? -eq 0 ] || status=1

if grep -q '"level":"ERROR"' "$LOG"; then
  echo "server logged errors during the run:" >&2
  grep '"level":"ERROR"' "$LOG" >&2 || true
  status=1
fi
exit "$status"
