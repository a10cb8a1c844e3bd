# shellcheck shell=bash
# Shell helpers shared by the load benchmarks (bench/run.sh, bench/cluster.sh), sourced from
# the repository's root. Why a file of its own: both scripts install the same tools, find or
# build the same release binaries, start private redis-server and `wallet-auth serve`
# processes on free loopback ports, kill them by pid on exit, and read wrk's output the same
# way; one copy of each keeps them measuring alike.
#
# Every process a script starts goes into PIDS (the helpers here do it); `bench_init` sets the
# trap that kills them on exit, after calling `bench_before_kill` when the script defines one.

log() { printf '== %s\n' "$*" >&2; }

# Installs what is missing: redis-server / redis-tools (scripts/ensure-redis.sh), Debian's wrk;
# fails when curl is missing.
bench_tools() {
    scripts/ensure-redis.sh >/dev/null
    if ! command -v wrk >/dev/null 2>&1; then
        log "installing wrk"
        . scripts/apt-install.sh
        apt_install "$1" "" wrk
    fi
    command -v curl >/dev/null || { echo "curl missing" >&2; exit 1; }
}

# release_binaries VAR=example...: sets BIN to the release `wallet-auth` and each VAR to the
# release example of that name, keeping any of them already set in the environment (for
# binaries built elsewhere). Builds (cargo build --release, at most 30 min) only those not given.
release_binaries() {
    local target=${CARGO_TARGET_DIR:-target} build=() pair var ex
    [ -n "${BIN:-}" ] || build+=(--bin wallet-auth)
    for pair in "$@"; do
        var=${pair%%=*} ex=${pair#*=}
        [ -n "${!var:-}" ] || build+=(--example "$ex")
    done
    if [ ${#build[@]} -gt 0 ]; then
        log "building (release)"
        timeout 1800 cargo build --release "${build[@]}"
    fi
    BIN=${BIN:-$target/release/wallet-auth}
    for pair in "$@"; do
        var=${pair%%=*} ex=${pair#*=}
        printf -v "$var" '%s' "${!var:-$target/release/examples/$ex}"
    done
    for var in BIN "${@%%=*}"; do
        [ -x "${!var}" ] || { echo "$var=${!var} is not an executable" >&2; exit 1; }
    done
}

# A private work directory and the exit trap killing every pid in PIDS.
bench_init() {
    WORK=$(mktemp -d)
    PIDS=()
    trap bench_cleanup EXIT
}

bench_cleanup() {
    if declare -F bench_before_kill >/dev/null; then bench_before_kill || true; fi
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A free loopback port (with `cluster`: one whose cluster bus port, +10000, is free too), below
# the kernel's range of ephemeral ports, so that no outgoing connection can take it before the
# server binds it.
free_port() {
    local p low span
    low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    span=$((low - 10000))
    [ "${1:-}" != cluster ] || span=$((span - 10000))
    [ "$span" -gt 100 ] || span=20000
    for _ in $(seq 200); do
        p=$((10000 + RANDOM % span))
        if ! port_busy "$p" && { [ "${1:-}" != cluster ] || ! port_busy $((p + 10000)); }; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# redis_start PORT DIR [ARGS...]: a private redis-server on 127.0.0.1:PORT (no persistence,
# files in DIR), waited for (10 s at most).
redis_start() {
    local port=$1 dir=$2
    shift 2
    mkdir -p "$dir"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
        --daemonize no "$@" >"$dir/redis.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    redis-cli -p "$port" ping >/dev/null || { cat "$dir/redis.log" >&2; exit 1; }
}

# serve_start PORT LOG: `wallet-auth serve` on 127.0.0.1:PORT with the exported environment,
# waited for (10 s at most); its pid in SERVE_PID.
serve_start() {
    local port=$1 out=$2
    BIND_ADDR="127.0.0.1:$port" "$BIN" serve >"$out" 2>&1 &
    SERVE_PID=$!
    PIDS+=("$SERVE_PID")
    for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
    curl -fs "http://127.0.0.1:$port/health" >/dev/null || { cat "$out" >&2; exit 1; }
}

# The server settings of a benchmark: a fresh shared encryption key, no rate limits, no
# binding, plain cookies, 1 000 sessions per wallet, warnings only. DOMAIN: the host:port put in
# signed messages (the address clients use: the balancer's, or the one instance's).
bench_server_env() {
    SESSION_ENCRYPTION_KEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
    export SESSION_ENCRYPTION_KEY
    export AUTH_DOMAINS="$1"
    export AUTH_URI="http://$1/login"
    export RATE_LIMIT_PER_MIN=0
    export SESSION_BINDING=off
    export COOKIE_SECURE=false
    export MAX_SESSIONS_PER_WALLET=1000
    export RUST_LOG=warn
    export SESSION_CACHE=${SESSION_CACHE:-true}
}

# Reading wrk's output (stdin).
rps() { awk '/^Requests\/sec:/ {print $2}'; }
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; printf "%.2f", v}'; }
p99_ms() { awk '$1=="99%" {print $2}' | to_ms; }
non2xx() { awk '/Non-2xx/ {n=$5} END {print n+0}'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 > 0) printf "%.2f", a / b; else print "n/a"}'; }

# The session-cache counters of a server's /metrics: "hit miss invalidation flush".
cache_counts() {
    curl -fs "$1/metrics" | awk '
        /^wallet_auth_session_cache_events_total/ {
            e = $1; sub(/.*event="/, "", e); sub(/".*/, "", e); v[e] = $2
        }
        END { printf "%d %d %d %d\n", v["hit"], v["miss"], v["invalidation"], v["flush"] }'
}
