#!/usr/bin/env bash
# Tests of the JavaScript client, its React hook and the demo page: Node tests against a real
# server, a real headless Chromium driven by playwright-core, and the npm package installed into
# fresh ESM and CommonJS projects (with React for its React entry point). Installs Debian's
# chromium when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ ! -x /usr/bin/chromium ]; then
  echo "browser-test: installing Debian's chromium"
  . scripts/apt-install.sh
  apt_install browser-test "" chromium
fi

(cd clients/js/test && npm ci --no-audit --no-fund --loglevel=error)

# The test build made this binary already when run from scripts/test.sh (same profile and
# features, so nothing is built twice); run alone, this builds it the same way.
cargo test --locked --no-run --quiet
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/wallet-auth"
mkdir -p test-artifacts

SERVER_PIDS=()
cleanup() {
  for pid in "${SERVER_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# start_server NAME [VAR=value...]: starts a server on a free port (a few tries, in case another
# process takes the port first), logging to test-artifacts/NAME.log; sets PORT.
start_server() {
  local name=$1
  shift
  local started="" pid
  for _ in 1 2 3; do
    PORT=$(free_port)
    env -u REDIS_URL -u SESSION_ENCRYPTION_KEY \
      BIND_ADDR="127.0.0.1:$PORT" COOKIE_SECURE=false AUTH_DOMAINS="127.0.0.1:$PORT" \
      AUTH_URI="http://127.0.0.1:$PORT" RATE_LIMIT_PER_MIN=0 DEMO_PAGE=true LOG_FORMAT=json \
      RUST_LOG=warn "$@" "$BIN" serve >"test-artifacts/$name.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
      if curl -fsS -m 2 "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then started=1; break; fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if [ -n "$started" ]; then
      SERVER_PIDS+=("$pid")
      return 0
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "browser-test: the $name server did not start" >&2
  cat "test-artifacts/$name.log" >&2
  exit 1
}

# The server with the defaults (any Ethereum chain), and one that accepts only chains 10 and 1
# (the client's and the demo page's chain switch).
start_server server
MAIN_PORT=$PORT
start_server server-restricted ETH_CHAIN_IDS=10,1
export WALLET_AUTH_RESTRICTED_URL="http://127.0.0.1:$PORT"
# One whose links and unlinks need a sign-in of the last 3 s (reauthentication_required).
start_server server-reauth REAUTH_MAX_AGE=3s
export WALLET_AUTH_REAUTH_URL="http://127.0.0.1:$PORT"
PORT=$MAIN_PORT

# A server on a private redis-server, for the key rotation of the tokens for other services
# (`wallet-auth keys rotate` runs against the same store): keys read again every second, tokens
# living 3 s.
if command -v redis-server >/dev/null 2>&1; then
  REDIS_PORT=$(free_port)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    >"test-artifacts/redis.log" 2>&1 &
  SERVER_PIDS+=("$!")
  for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$REDIS_PORT") 2>/dev/null && break
    sleep 0.1
  done
  export WALLET_AUTH_REDIS_STORE="redis://127.0.0.1:$REDIS_PORT"
  export WALLET_AUTH_REDIS_KEY
  WALLET_AUTH_REDIS_KEY=$(node -e 'console.log(require("crypto").randomBytes(32).toString("hex"))')
  start_server server-redis REDIS_URL="$WALLET_AUTH_REDIS_STORE" \
    SESSION_ENCRYPTION_KEY="$WALLET_AUTH_REDIS_KEY" TOKEN_KEYS_CACHE=1s TOKEN_TTL=3s
  export WALLET_AUTH_REDIS_URL="http://127.0.0.1:$PORT"
  export WALLET_AUTH_BIN="$BIN"
  PORT=$MAIN_PORT
else
  echo "browser-test: redis-server is missing (scripts/ensure-redis.sh): the key rotation test is skipped" >&2
fi

export WALLET_AUTH_URL="http://127.0.0.1:$PORT"
export ARTIFACTS_DIR="$ROOT/test-artifacts"
cd clients/js/test
timeout 600 node --test --test-concurrency=1 --test-timeout=120000 ${BROWSER_TEST_FILES:-client.test.mjs accounts.test.mjs tokens.test.mjs package.test.mjs browser.test.mjs}
