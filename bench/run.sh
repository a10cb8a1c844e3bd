#!/usr/bin/env bash
# Load benchmark of wallet-auth over a private Redis (or PostgreSQL), on loopback only. One
# command:
#
#     bench/run.sh                  # sessions on Redis
#     STORE=postgres bench/run.sh   # sessions on PostgreSQL (Debian's package, a fresh cluster
#                                   # run as the postgres user with its default settings)
#
# Installs what is missing (redis-server / redis-tools through scripts/ensure-redis.sh, Debian's
# wrk), builds the release binary and the helpers (examples/bench_client.rs,
# examples/bench_sessions.rs), starts a private redis-server and `wallet-auth serve` on free
# loopback ports, and prints:
#   - the raw signature verification rate of this machine's cores (bench_client verify-rate);
#   - the Redis GET ceiling (redis-benchmark -t get -c 64 -n 500000);
#   - the HTTP stack: GET /health on the server (every layer, a trivial handler) and on the
#     smallest axum server on the same runtime (examples/bench_floor.rs), wrk with the
#     validation run's connections, threads and duration;
#   - session validation: GET /api/me with wrk, 64 connections, 2 threads, bearer tokens rotated
#     over SESSIONS real sessions (created by real sign-ins): req/s and p99;
#   - sign-ins: POST /auth/verify with pre-signed messages (each with its own fresh nonce, each
#     posted once): successful sign-ins per second;
#   - Redis memory per sign-in of a new wallet at MEM_SESSIONS sessions (created through the
#     library, see examples/bench_sessions.rs; indexes, claim, account and audit logs included),
#     and per further session of a wallet (the same with ten sessions per wallet);
#   - the ratios validation / GET ceiling and sign-in / raw verify rate.
# Every step is bounded in time; the processes it starts are killed by pid on exit.
#
# On PostgreSQL the Redis GET ceiling and the Redis memory per session are not measured.
# Knobs (environment): STORE (redis or postgres), DURATION (validation run, s, default 10), WARMUP (validation warm-up before it, s, default 2), SIGNIN_SECS (default 5),
# SESSIONS (tokens for validation, default 2000), MEM_SESSIONS (default 100000),
# VERIFY_SECS (default 5), CONNS (default 64), THREADS (default 2), SESSION_CACHE (the server's
# session cache on Redis, default true: SESSION_CACHE=false measures validation without it);
# BIN, CLIENT, MEMBENCH, FLOOR: release binaries built elsewhere (wallet-auth, bench_client,
# bench_sessions, bench_floor), not rebuilt when all four are given. Helpers: bench/lib.sh.
set -euo pipefail

cd "$(dirname "$0")/.."
STORE=${STORE:-redis}
case "$STORE" in redis | postgres) ;; *) echo "STORE must be redis or postgres" >&2; exit 2 ;; esac
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
SIGNIN_SECS=${SIGNIN_SECS:-5}
SESSIONS=${SESSIONS:-2000}
MEM_SESSIONS=${MEM_SESSIONS:-100000}
VERIFY_SECS=${VERIFY_SECS:-5}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}

. bench/lib.sh

# --- tools -----------------------------------------------------------------------------------
bench_tools bench/run.sh
if [ "$STORE" = postgres ]; then scripts/ensure-postgres.sh >/dev/null; fi
command -v redis-benchmark >/dev/null || { echo "redis-benchmark missing (redis-tools)" >&2; exit 1; }
release_binaries CLIENT=bench_client MEMBENCH=bench_sessions FLOOR=bench_floor

# --- processes -------------------------------------------------------------------------------
bench_init
PG_PID=
# PostgreSQL's fast shutdown (SIGINT) does not wait for its clients.
bench_before_kill() { if [ -n "$PG_PID" ]; then kill -INT "$PG_PID" 2>/dev/null; fi; }

RPORT=$(free_port)
redis_start "$RPORT" "$WORK/redis"

PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
if [ "$STORE" = postgres ]; then
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    PGDIR="$WORK/pg"
    mkdir -p "$PGDIR"
    chmod 755 "$WORK"
    AS_PG=()
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$PGDIR"
        AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --reset-env)
    fi
    "${AS_PG[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust >"$WORK/initdb.log" 2>&1
    PGPORT=$(free_port)
    "${AS_PG[@]}" "$PGBIN/postgres" -D "$PGDIR/data" -p "$PGPORT" -k "$PGDIR" \
        -c listen_addresses=127.0.0.1 >"$WORK/postgres.log" 2>&1 &
    PG_PID=$!
    PIDS+=("$PG_PID")
    for _ in $(seq 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PGPORT") 2>/dev/null && break
        sleep 0.1
    done
    export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"
    unset REDIS_URL
else
    export REDIS_URL="redis://127.0.0.1:$RPORT"
    export REDIS_PREFIX="wa:"
fi
bench_server_env "127.0.0.1:$PORT"
serve_start "$PORT" "$WORK/server.log"

# --- figures ---------------------------------------------------------------------------------
log "raw signature verification rate (${VERIFY_SECS}s, all cores)"
VOUT=$(timeout $((VERIFY_SECS + 60)) "$CLIENT" verify-rate --secs "$VERIFY_SECS")
echo "$VOUT"
VERIFY_RATE=$(awk '{print $2}' <<<"$VOUT")

REDIS_GET=n/a
if [ "$STORE" = redis ]; then
log "Redis GET ceiling"
ROUT=$(timeout 300 redis-benchmark -p "$RPORT" -t get -c "$CONNS" -n 500000 -q 2>&1 | tr '\r' '\n' | grep 'requests per second' | tail -1)
echo "$ROUT"
REDIS_GET=$(sed -E 's/^GET: ([0-9.]+) requests per second.*/\1/' <<<"$ROUT")
fi

log "HTTP stack: GET /health, ${CONNS} connections, ${THREADS} threads, ${DURATION}s"
HEALTH=$(timeout $((DURATION + 60)) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" "$BASE/health" | rps)
FPORT=$(free_port)
"$FLOOR" "127.0.0.1:$FPORT" >"$WORK/floor.log" 2>&1 &
FLOOR_PID=$!
PIDS+=("$FLOOR_PID")
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$FPORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
log "HTTP floor: the smallest axum server, GET /health"
FLOOR_RPS=$(timeout $((DURATION + 60)) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$FPORT/health" | rps)
kill "$FLOOR_PID" 2>/dev/null || true
wait "$FLOOR_PID" 2>/dev/null || true

log "creating $SESSIONS sessions by real sign-ins"
timeout 300 "$CLIENT" sessions --base "$BASE" --n "$SESSIONS" --out "$WORK/tokens.txt"

# Steady state: a first pass reads every session once (from Redis, filling the session cache);
# its figures are printed apart and not used.
log "session validation warm-up: GET /api/me, ${WARMUP}s (not counted)"
TOKENS="$WORK/tokens.txt" timeout $((WARMUP + 60)) \
    wrk -t"$THREADS" -c"$CONNS" -d"${WARMUP}s" -s bench/me.lua "$BASE/api/me" | grep -E 'Requests/sec'
log "session validation: GET /api/me, ${CONNS} connections, ${THREADS} threads, ${DURATION}s"
WOUT=$(TOKENS="$WORK/tokens.txt" timeout $((DURATION + 60)) \
    wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s bench/me.lua "$BASE/api/me")
echo "$WOUT"
VALIDATION=$(rps <<<"$WOUT")
P99=$(p99_ms <<<"$WOUT")
NON2XX=$(non2xx <<<"$WOUT")

N_SIGN=$(awk -v r="$VERIFY_RATE" -v s="$SIGNIN_SECS" 'BEGIN {n=int(r*s*1.3)+1000; if (n>400000) n=400000; print n}')
log "pre-signing $N_SIGN sign-ins"
timeout 600 "$CLIENT" presign --base "$BASE" --n "$N_SIGN" --out "$WORK/bodies.txt"
log "sign-ins: POST /auth/verify, ${CONNS} connections, ${THREADS} threads, ${SIGNIN_SECS}s"
SOUT=$(BODIES="$WORK/bodies.txt" WRK_THREADS="$THREADS" timeout $((SIGNIN_SECS + 60)) \
    wrk -t"$THREADS" -c"$CONNS" -d"${SIGNIN_SECS}s" --latency -s bench/once.lua "$BASE/auth/verify")
echo "$SOUT"
SIGNIN=$(awk '/^signin_ok/ {printf "%.0f", $2 / ($8 / 1e6)}' <<<"$SOUT")
SIGNIN_FAIL=$(awk '/^signin_ok/ {print $4}' <<<"$SOUT")
EXHAUSTED=$(awk '/^signin_ok/ {print $6}' <<<"$SOUT")
SIGNIN_P99=$(p99_ms <<<"$SOUT")

BYTES=n/a
EXTRA=n/a
if [ "$STORE" = redis ]; then
log "Redis memory per session: $MEM_SESSIONS sessions through the library (WalletSessions::create over RedisStore)"
per_session() { awk '{for (i=1;i<NF;i++) if ($i=="bytes_per_session") print $(i+1)}'; }
MOUT=$(timeout 600 "$MEMBENCH" --n "$MEM_SESSIONS")
echo "$MOUT"
BYTES=$(per_session <<<"$MOUT")
# The same number of sessions, ten per wallet: a wallet's further sessions cost
# (10 x average - first) / 9 each.
MOUT10=$(timeout 600 "$MEMBENCH" --n "$MEM_SESSIONS" --per-wallet 10)
echo "$MOUT10"
EXTRA=$(awk -v a="$BYTES" -v b="$(per_session <<<"$MOUT10")" 'BEGIN {printf "%.0f", (10 * b - a) / 9}')
fi

cat <<EOF

================ wallet-auth load figures ================
store                        : ${STORE}
session cache (Redis)        : ${SESSION_CACHE}$(curl -fs "$BASE/metrics" | awk '/^wallet_auth_session_cache_events_total/ {gsub(/.*event="/, "", $1); gsub(/".*/, "", $1); printf ", %s %s", $1, $2}')
machine                      : $(nproc) cores, $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}')
raw verify rate (all cores)  : ${VERIFY_RATE} /s
redis GET ceiling (c=$CONNS)    : ${REDIS_GET} req/s
GET /health (whole stack)    : ${HEALTH} req/s (c=$CONNS, t=$THREADS, ${DURATION}s)
GET /health (bare axum floor): ${FLOOR_RPS} req/s   (stack / floor: $(ratio "$HEALTH" "$FLOOR_RPS"))
validation GET /api/me       : ${VALIDATION} req/s, p99 ${P99} ms, non-2xx ${NON2XX:-0} (${SESSIONS} sessions, c=$CONNS, t=$THREADS, ${DURATION}s)
sign-ins POST /auth/verify   : ${SIGNIN} ok/s, p99 ${SIGNIN_P99} ms, failed ${SIGNIN_FAIL}, bodies exhausted ${EXHAUSTED} (c=$CONNS, t=$THREADS, ${SIGNIN_SECS}s)
redis memory per sign-in     : ${BYTES} bytes (new wallet: ${MEM_SESSIONS} sessions created through the library, one wallet each)
redis memory per session     : ${EXTRA} bytes (a wallet's further session: the same, ten sessions per wallet)
validation / redis GET       : $(ratio "$VALIDATION" "$REDIS_GET")   (target >= 1.0, p99 < 3 ms)
sign-in / raw verify         : $(ratio "$SIGNIN" "$VERIFY_RATE")   (target >= 0.7)
memory per session           : ${EXTRA} bytes   (target <= 600)
EOF
