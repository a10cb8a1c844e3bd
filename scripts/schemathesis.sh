#!/usr/bin/env bash
# Property-based fuzzing of the running server from its own /openapi.json with Schemathesis:
# every documented operation, positive and negative inputs, bounded in examples and time.
# Fails on any 5xx. Installs a pinned Schemathesis into a venv under the target directory.
# Runs on a private redis-server with real credentials so that every operation is reached
# past its guard: the admin token on /admin/*, wallet sessions from real sign-ins (local
# secp256k1 keys signing EIP-4361 messages, `examples/bench_client.rs sessions`) on the rest,
# and a legacy user made with `wallet-auth user add`. The operations that end the session they
# are called with (refresh, logout, logout-all, revoke, the user's logout) and token minting
# (limited per session and minute) get a fresh session for every test case
# (scripts/schemathesis_hooks.py). Fails unless every documented operation answered 2xx at
# least once (reached past its guard).
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
REDIS_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
LOG="$(mktemp)"
TOKENS="$(mktemp)"
POOL="$(mktemp)"
SERVER_PID=
REDIS_PID=
cleanup() {
  for pid in "$SERVER_PID" "$REDIS_PID"; do
    if [ -n "$pid" ]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -f "$LOG" "$TOKENS" "$POOL"
}
trap cleanup EXIT

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
REDIS_PID=$!
for _ in $(seq 1 50); do
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
SESSION_ENCRYPTION_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
export SESSION_ENCRYPTION_KEY
USER_NAME=schemathesis
USER_PASSWORD="schemathesis-password-$RANDOM$RANDOM"
printf '%s\n' "$USER_PASSWORD" | env -u DATABASE_URL "$BIN" user add "$USER_NAME" >/dev/null

env -u DATABASE_URL \
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
# Two sessions for the runs that keep their session, and a pool for the operations that end
# theirs (one per test case; each from its own wallet), all signed in for real.
"$SIGNIN" sessions --base "$BASE" --n 2 --out "$TOKENS"
"$SIGNIN" sessions --base "$BASE" --n "${POOL_SIZE:-8000}" --out "$POOL"
# The account routes that need a fresh signature (a link) or a known identity (an unlink, a
# role change) cannot be reached by random cases: walk them once for real.
"$SIGNIN" accounts --base "$BASE" --admin-token "$ADMIN_TOKEN"
token() { sed -n "${1}p" "$TOKENS"; }
export SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$PWD/scripts${PYTHONPATH:+:$PYTHONPATH}"
export WA_SESSION_POOL="$POOL" WA_SIGNIN_UA="$SIGNIN_UA" WA_BASE="$BASE"
export WA_USER="$USER_NAME" WA_PASSWORD="$USER_PASSWORD"

status=0
# One worker: with two, the Python 3.11 interpreter the venv uses can fail inside hypothesis
# (concurrent `ast.parse` of its strategies' source: "AST constructor recursion depth
# mismatch"), an error of the tool, not of the server.
run() {
  local label="$1"
  shift
  echo "== schemathesis: $label"
  timeout 170 "$VENV/bin/schemathesis" run "$BASE/openapi.json" \
    --checks not_a_server_error \
    --max-examples "$MAX_EXAMPLES" \
    --max-time "$MAX_TIME" \
    --request-timeout 10 \
    --workers 1 \
    --seed "${SCHEMATHESIS_SEED:-1}" \
    --suppress-health-check all \
    "$@" || status=$?
}

# Everything but the admin routes and the operations that end the session, with a session.
# (One regex: schemathesis keeps only the last --exclude-path-regex.)
run "wallet session" -H "Authorization: Bearer $(token 1)" -H "User-Agent: $SIGNIN_UA" \
  --exclude-path-regex '^/admin/|^/auth/sessions/|^/auth/(refresh|logout|logout-all|token)$|^/auth/user/logout$|^/api/user/me$'

# The admin routes with the admin token.
run "admin token" -H "Authorization: Bearer $ADMIN_TOKEN" --include-path-regex '^/admin/'
# The operations that end their session: a fresh wallet or user session per test case.
run "a fresh session per test case" \
  --include-path-regex '^/auth/sessions/|^/auth/(refresh|logout|logout-all|token)$|^/auth/user/logout$|^/api/user/me$'

# What the server answered, by route (from its request log).
echo "== statuses answered, by route (server request log)"
python3 - "$LOG" "$BASE/openapi.json" <<'PY'
import collections, json, sys, urllib.request
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
failed = False
if any(s >= 500 for c in seen.values() for s in c):
    print("a 5xx was answered", file=sys.stderr)
    failed = True
with urllib.request.urlopen(sys.argv[2], timeout=10) as r:
    doc = json.load(r)
for path, item in doc["paths"].items():
    # The request log names routes as axum matched them: `{session_id}`, not `{sessionId}`.
    for method in item:
        if method not in ("get", "put", "post", "delete", "patch"):
            continue
        key = next(
            (k for k in seen if k[1] == method.upper()
             and k[0].split("{")[0] == path.split("{")[0]
             and k[0].count("{") == path.count("{")),
            None,
        )
        if key is None or not any(200 <= s < 300 for s in seen[key]):
            print(f"never answered 2xx: {method.upper()} {path}", file=sys.stderr)
            failed = True
sys.exit(1 if failed else 0)
PY
[ $? -eq 0 ] || status=1

if grep -q '"level":"ERROR"' "$LOG"; then
  echo "server logged errors during the run:" >&2
  grep '"level":"ERROR"' "$LOG" >&2 || true
  status=1
fi
exit "$status"
