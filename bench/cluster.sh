#!/usr/bin/env bash
# Several wallet-auth instances on one Redis Cluster, on loopback only: what a fleet behind a
# round-robin load balancer costs Redis and each instance. One command:
#
#     bench/cluster.sh
#     BIN=/path/to/release/wallet-auth CLIENT=/path/to/release/examples/bench_client bench/cluster.sh
#
# Starts a private 3-master Redis Cluster (redis-server --cluster-enabled, joined with
# `redis-cli --cluster create`, no replicas, no persistence) and INSTANCES `wallet-auth serve`
# on it (same SESSION_ENCRYPTION_KEY and settings, each its own port, session cache on). No
# balancer is installed: each load is one wrk per instance with its share of the connections,
# all reading the same token pool, so every instance validates every session, as behind a
# round-robin balancer. Sessions come from real sign-ins (examples/bench_client.rs). Phases:
#   idle        nothing but the tracking heartbeats (2 s);
#   create      SESSIONS validation sessions (one wallet each) and LOGOUT_TOKENS more sessions
#               of the same wallets (bench_client sessions, 32 concurrent, on instance 1);
#   validate    GET /api/me on every instance (bench/me.lua), the SESSIONS validation sessions,
#               DURATION s, right after they were made;
#   refresh     the same again, starting 28 s after the create phase did: each session's roles
#               come due inside it (ROLES_REFRESH, 30 s): each instance reads each account once
#               into its memo, and no record is rewritten (the roles did not change);
#   mixed       instance 1 signs in new wallets and logs out sessions of the validated wallets,
#               each paced at about WRITE_RATE/s; the other instances validate, DURATION s;
#   signin      POST /auth/verify on every instance, each pre-signed body posted once
#               (bench/once.lua), new wallets, SIGNIN_SECS s;
#   hot-create  HOT_SESSIONS sessions of ONE wallet (one slot, one master), 4 sign-ins at a time;
#   hot-validate GET /api/me of the HOT_VALIDATE youngest of them on every instance, DURATION s;
#   hot-mixed   instance 1 logs out the other sessions of that wallet at about HOT_LOGOUT_RATE/s,
#               the other instances validate, DURATION s;
#   hot-signin  POST /auth/verify of ONE new wallet on every instance, SIGNIN_SECS s.
# For each phase it prints, per instance: req/s (or sign-ins, logouts per second), p99, the
# session-cache counters of /metrics (hits, misses, invalidated sessions, flushes) and CPU; per
# master: commands/s, PING/s, scripts/s, output bytes/s, CPU, and the invalidation pushes one
# tracking connection received (messages, keys by kind, bytes), measured by a probe: one more
# RESP3 connection per master with the servers' own `CLIENT TRACKING ON BCAST PREFIX P{`, whose
# bytes are counted (so each master has INSTANCES + 1 tracking clients). Then per master: the
# tracking clients of `CLIENT LIST`, `tracking_total_keys` / `_items` / `_prefixes` (INFO stats),
# `used_memory`, and which master holds the hot wallet and the shared keys.
#
# Every step is bounded in time; the processes it starts are killed by pid on exit.
# Knobs (environment): INSTANCES (default 3), CONNS (wrk connections over all instances, 64),
# DURATION (10), SIGNIN_SECS (5), SESSIONS (2000), LOGOUT_TOKENS (2 x WRITE_RATE x DURATION),
# WRITE_RATE (200), SIGN_BODIES (5000 x SIGNIN_SECS), HOT_SESSIONS (1000, at most
# MAX_SESSIONS_PER_WALLET = 1000), HOT_VALIDATE (400), HOT_LOGOUT_RATE (50), HOT_BODIES
# (2000 x SIGNIN_SECS), KEEP_DIR (copy the raw figures there); BIN and CLIENT: release binaries
# built elsewhere (not rebuilt when both are given). Helpers: bench/lib.sh.
set -euo pipefail

cd "$(dirname "$0")/.."
. bench/lib.sh

INSTANCES=${INSTANCES:-3}
CONNS=${CONNS:-64}
DURATION=${DURATION:-10}
SIGNIN_SECS=${SIGNIN_SECS:-5}
SESSIONS=${SESSIONS:-2000}
WRITE_RATE=${WRITE_RATE:-200}
LOGOUT_TOKENS=${LOGOUT_TOKENS:-$((2 * WRITE_RATE * DURATION))}
SIGN_BODIES=${SIGN_BODIES:-$((5000 * SIGNIN_SECS))}
HOT_SESSIONS=${HOT_SESSIONS:-1000}
HOT_VALIDATE=${HOT_VALIDATE:-400}
HOT_LOGOUT_RATE=${HOT_LOGOUT_RATE:-50}
HOT_BODIES=${HOT_BODIES:-$((2000 * SIGNIN_SECS))}
MASTERS=3
PREFIX="wa:"
[ "$INSTANCES" -ge 2 ] || { echo "INSTANCES must be at least 2" >&2; exit 2; }
[ "$HOT_SESSIONS" -le 1000 ] || { echo "HOT_SESSIONS must be at most 1000" >&2; exit 2; }
[ "$HOT_VALIDATE" -lt "$HOT_SESSIONS" ] || { echo "HOT_VALIDATE must be below HOT_SESSIONS" >&2; exit 2; }
PER=$(((CONNS + INSTANCES - 1) / INSTANCES))

bench_tools bench/cluster.sh
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
release_binaries CLIENT=bench_client
bench_init
mkdir -p "$WORK/snap" "$WORK/out"

# --- the cluster -----------------------------------------------------------------------------
MPORTS=() MPIDS=()
for k in $(seq "$MASTERS"); do
    p=$(free_port cluster)
    while [[ " ${MPORTS[*]} " == *" $p "* ]]; do p=$(free_port cluster); done
    redis_start "$p" "$WORK/m$k" --cluster-enabled yes --cluster-config-file nodes.conf \
        --cluster-node-timeout 15000
    MPORTS+=("$p")
    MPIDS+=("${PIDS[-1]}")
done
log "Redis Cluster on ports ${MPORTS[*]}"
timeout 60 redis-cli --cluster create "${MPORTS[@]/#/127.0.0.1:}" \
    --cluster-replicas 0 --cluster-yes </dev/null >"$WORK/cluster-create.log" 2>&1 ||
    { cat "$WORK/cluster-create.log" >&2; exit 1; }
cluster_ok() {
    for p in "${MPORTS[@]}"; do
        redis-cli -p "$p" CLUSTER INFO | tr -d '\r' | grep -q '^cluster_state:ok' || return 1
        redis-cli -p "$p" CLUSTER INFO | tr -d '\r' | grep -q "^cluster_known_nodes:$MASTERS" || return 1
    done
}
for _ in $(seq 300); do cluster_ok && break; sleep 0.1; done
cluster_ok || { echo "the cluster did not reach cluster_state:ok" >&2; exit 1; }

# The probes: one tracking connection per master, as the servers open theirs, whose received
# bytes are kept in a file.
bulk() { printf '$%d\r\n%s\r\n' "${#1}" "$1"; }
resp() { printf '*%d\r\n' "$#"; for a in "$@"; do bulk "$a"; done; }
for k in $(seq "$MASTERS"); do
    (
        exec 3<>"/dev/tcp/127.0.0.1/${MPORTS[k - 1]}"
        { resp HELLO 3; resp CLIENT SETNAME bench-probe
          resp CLIENT TRACKING ON BCAST PREFIX "$PREFIX{"; } >&3
        exec cat <&3 >"$WORK/probe$k"
    ) &
    PIDS+=($!)
done

# --- the instances ---------------------------------------------------------------------------
IPORTS=() IPIDS=() BASES=()
for i in $(seq "$INSTANCES"); do
    p=$(free_port)
    while [[ " ${IPORTS[*]} ${MPORTS[*]} " == *" $p "* ]]; do p=$(free_port); done
    IPORTS+=("$p")
    BASES+=("http://127.0.0.1:$p")
done
export REDIS_URL
REDIS_URL=$(printf 'redis://127.0.0.1:%s,' "${MPORTS[@]}")
REDIS_URL=${REDIS_URL%,}
export REDIS_PREFIX="$PREFIX"
# Messages name the address clients use: the balancer's in production, instance 1's here.
bench_server_env "127.0.0.1:${IPORTS[0]}"
for i in $(seq "$INSTANCES"); do
    serve_start "${IPORTS[i - 1]}" "$WORK/server$i.log"
    IPIDS+=("$SERVE_PID")
done
# Broadcast-tracking clients of a master (the instances' and the probe).
tracking_clients() {
    redis-cli -p "$1" CLIENT LIST | grep -E 'name=(wallet-auth-tracking|bench-probe)' | grep -c 'flags=tB' || true
}
tracked() {
    for p in "${MPORTS[@]}"; do [ "$(tracking_clients "$p")" -eq $((INSTANCES + 1)) ] || return 1; done
    for b in "${BASES[@]}"; do
        [ "$(curl -fs "$b/metrics" | grep -c '^wallet_auth_session_cache_events_total')" -gt 0 ] || return 1
    done
}
for _ in $(seq 100); do tracked && break; sleep 0.1; done
tracked || { echo "tracking connections missing" >&2; exit 1; }
log "$INSTANCES instances on ports ${IPORTS[*]}, each tracking every master"

# --- measuring -------------------------------------------------------------------------------
TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
snap() {
    local d="$WORK/snap/$1" k i
    mkdir -p "$d"
    sleep 0.3 # the last pushes of the phase reach the probes
    date +%s.%N >"$d/t"
    cut -d' ' -f1-3 /proc/loadavg >"$d/load"
    for k in $(seq "$MASTERS"); do
        redis-cli -p "${MPORTS[k - 1]}" INFO everything | tr -d '\r' >"$d/info$k"
        redis-cli -p "${MPORTS[k - 1]}" CLIENT LIST | tr -d '\r' >"$d/clients$k"
        stat -c %s "$WORK/probe$k" >"$d/probe$k"
        cpu_ticks "${MPIDS[k - 1]}" >"$d/mcpu$k"
    done
    for i in $(seq "$INSTANCES"); do
        cache_counts "${BASES[i - 1]}" >"$d/cache$i"
        cpu_ticks "${IPIDS[i - 1]}" >"$d/icpu$i"
    done
}
info_field() { awk -F: -v f="$2" '$1==f {print $2; exit}' "$1"; }
calls() { awk -F'[:=,]' -v c="cmdstat_$2" '$1==c {print $3; exit}' "$1"; }

# pushes FILE FROM TO: the invalidation pushes in bytes [FROM, TO) of a probe's file:
# "messages keys record index claim audit other flushes".
pushes() {
    tail -c +$(($2 + 1)) "$1" | head -c $(($3 - $2)) | awk -v RS='\r\n' '
        st == 0 && $0 == ">2" { st = 1; next }
        st == 1 { st = 2; next }
        st == 2 { st = ($0 == "invalidate") ? 3 : 0; next }
        st == 3 {
            if ($0 ~ /^\*/) { left = substr($0, 2) + 0; msgs++; keys += left; st = left > 0 ? 4 : 0 }
            else { flushes++; st = 0 }
            next
        }
        st == 4 { st = 5; next }
        st == 5 {
            k = $0; sub(/^[^}]*}/, "", k)
            if (k ~ /^:s:/) rec++; else if (k == ":i") idx++; else if (k == ":a") cl++
            else if (k ~ /^:a[as]$/) au++; else oth++
            left--; st = left > 0 ? 4 : 0; next
        }
        END { printf "%d %d %d %d %d %d %d %d\n", msgs, keys, rec, idx, cl, au, oth, flushes }'
}

# Load generators: one wrk per instance, in the background; `wait_load` waits for them all.
LOADS=()
wrk_me() { # wrk_me PHASE INSTANCE TOKENS SECS
    local out="$WORK/out/$1.i$2"
    TOKENS="$3" TOKEN_OFFSET=$((2 * 7919 * $2)) timeout $(($4 + 60)) \
        wrk -t1 -c"$PER" -d"$4s" --latency -s bench/me.lua "${BASES[$2 - 1]}/api/me" >"$out" 2>&1 &
    LOADS+=($!)
    PIDS+=($!)
}
wrk_once() { # wrk_once PHASE INSTANCE MODE LINES SECS CONNS [DELAY_MS]
    local out="$WORK/out/$1.i$2.$3"
    local path=/auth/verify
    [ "$3" = logout ] && path=/auth/logout
    MODE="$3" LINES="$4" WRK_THREADS=1 DELAY_MS="${7:-}" timeout $(($5 + 60)) \
        wrk -t1 -c"$6" -d"$5s" --latency -s bench/once.lua "${BASES[$2 - 1]}$path" >"$out" 2>&1 &
    LOADS+=($!)
    PIDS+=($!)
}
wait_load() {
    local p
    for p in "${LOADS[@]}"; do wait "$p"; done
    LOADS=()
}
# Splits FILE into INSTANCES files FILE.1 … (round robin by line).
split_lines() { awk -v n="$INSTANCES" -v f="$1" '{print > (f "." (NR - 1) % n + 1)}' "$1"; }
presign() { # presign N OUT [WALLETS]
    timeout 600 "$CLIENT" presign --base "${BASES[0]}" --n "$1" --out "$2" ${3:+--wallets "$3"}
}
PHASES=()
declare -A DESC MADE # MADE: the sign-ins of a phase made by bench_client (not by wrk)
phase_start() { log "$1: $2"; PHASES+=("$1"); DESC[$1]=$2; snap "$1.0"; }
phase_end() { snap "$1.1"; }

# --- the phases ------------------------------------------------------------------------------
phase_start idle "nothing but the heartbeats, 2 s"
sleep 2
phase_end idle

phase_start create "$((SESSIONS + LOGOUT_TOKENS)) sign-ins over $SESSIONS new wallets (bench_client sessions on instance 1)"
timeout 600 "$CLIENT" sessions --base "${BASES[0]}" --n $((SESSIONS + LOGOUT_TOKENS)) \
    --wallets "$SESSIONS" --out "$WORK/all.txt"
phase_end create
MADE[create]=$((SESSIONS + LOGOUT_TOKENS))
head -n "$SESSIONS" "$WORK/all.txt" >"$WORK/tokens.txt"
tail -n +$((SESSIONS + 1)) "$WORK/all.txt" >"$WORK/logout.txt"

phase_start validate "GET /api/me on all $INSTANCES instances, $SESSIONS sessions made in the create phase, c=$PER each, ${DURATION}s"
for i in $(seq "$INSTANCES"); do wrk_me validate "$i" "$WORK/tokens.txt" "$DURATION"; done
wait_load
phase_end validate

# Bodies for the sign-in runs, signed now (nonces live 5 minutes).
log "pre-signing $SIGN_BODIES sign-ins and $((2 * WRITE_RATE * DURATION)) for the mixed run"
presign "$SIGN_BODIES" "$WORK/bodies.txt"
split_lines "$WORK/bodies.txt"
presign $((2 * WRITE_RATE * DURATION)) "$WORK/mixed-bodies.txt"

# A session's roles come due ROLES_REFRESH (30 s) after it was made: this run starts 28 s after
# the create phase did (the validation sessions are its first third), so that each of them does
# inside it. Each instance then reads each account once into its memo; a record is rewritten
# only when its roles changed, which they do not here.
since() { awk -v t="$(cat "$WORK/snap/$1/t")" -v n="$(date +%s.%N)" 'BEGIN {printf "%.1f", n - t}'; }
pause=$(awk -v e="$(since create.0)" 'BEGIN {d = 28 - e; printf "%.2f", (d > 0 ? d : 0)}')
log "waiting ${pause}s for the sessions to near ROLES_REFRESH"
sleep "$pause"
phase_start refresh "GET /api/me on all $INSTANCES instances as in validate, the sessions made $(since create.1)-$(since create.0) s before: their roles come due at 30 s (a memo read per account and instance, no record write), c=$PER each, ${DURATION}s"
for i in $(seq "$INSTANCES"); do wrk_me refresh "$i" "$WORK/tokens.txt" "$DURATION"; done
wait_load
phase_end refresh

# Two connections each, DELAY_MS apart: about WRITE_RATE requests per second each.
DELAY=$((2000 / WRITE_RATE))
phase_start mixed "instance 1: sign-ins (new wallets) and logouts (of the validated wallets), ~${WRITE_RATE}/s each; instances 2-$INSTANCES: GET /api/me, ${DURATION}s"
wrk_once mixed 1 verify "$WORK/mixed-bodies.txt" "$DURATION" 2 "$DELAY"
wrk_once mixed 1 logout "$WORK/logout.txt" "$DURATION" 2 "$DELAY"
for i in $(seq 2 "$INSTANCES"); do wrk_me mixed "$i" "$WORK/tokens.txt" "$DURATION"; done
wait_load
phase_end mixed

phase_start signin "POST /auth/verify on all $INSTANCES instances, new wallets, c=$PER each, ${SIGNIN_SECS}s"
for i in $(seq "$INSTANCES"); do
    wrk_once signin "$i" verify "$WORK/bodies.txt.$i" "$SIGNIN_SECS" "$PER"
done
wait_load
phase_end signin

# Four at a time: each sign-in of a wallet walks all its sessions in one script, and 32 at once
# on a 1 000-session wallet overrun the store timeout (500 ms) on a busy machine.
phase_start hot-create "$HOT_SESSIONS sign-ins of ONE wallet, 4 at a time (bench_client sessions on instance 1)"
timeout 600 "$CLIENT" sessions --base "${BASES[0]}" --n "$HOT_SESSIONS" --wallets 1 --concurrency 4 \
    --out "$WORK/hot.txt"
phase_end hot-create
MADE[hot-create]=$HOT_SESSIONS
# The youngest for validation: they stay below ROLES_REFRESH (30 s) through the hot phases, so
# that the hot wallet's writes in them are the logouts alone.
head -n $((HOT_SESSIONS - HOT_VALIDATE)) "$WORK/hot.txt" >"$WORK/hot-logout.txt"
tail -n "$HOT_VALIDATE" "$WORK/hot.txt" >"$WORK/hot-tokens.txt"

phase_start hot-validate "GET /api/me of $HOT_VALIDATE sessions of ONE wallet on all $INSTANCES instances, ${DURATION}s"
for i in $(seq "$INSTANCES"); do wrk_me hot-validate "$i" "$WORK/hot-tokens.txt" "$DURATION"; done
wait_load
phase_end hot-validate

phase_start hot-mixed "instance 1: logouts of that wallet's other sessions, ~${HOT_LOGOUT_RATE}/s; instances 2-$INSTANCES: GET /api/me of it, ${DURATION}s"
wrk_once hot-mixed 1 logout "$WORK/hot-logout.txt" "$DURATION" 1 $((1000 / HOT_LOGOUT_RATE))
for i in $(seq 2 "$INSTANCES"); do wrk_me hot-mixed "$i" "$WORK/hot-tokens.txt" "$DURATION"; done
wait_load
phase_end hot-mixed

log "pre-signing $HOT_BODIES sign-ins of one new wallet"
presign "$HOT_BODIES" "$WORK/hot-bodies.txt" 1
split_lines "$WORK/hot-bodies.txt"
phase_start hot-signin "POST /auth/verify of ONE new wallet on all $INSTANCES instances, c=$PER each, ${SIGNIN_SECS}s"
for i in $(seq "$INSTANCES"); do
    wrk_once hot-signin "$i" verify "$WORK/hot-bodies.txt.$i" "$SIGNIN_SECS" "$PER"
done
wait_load
phase_end hot-signin

# --- where the keys are ----------------------------------------------------------------------
# The hot wallet's index: the biggest hash of each master.
HOT_INDEX=
for k in $(seq "$MASTERS"); do
    HOT_INDEX+=$(timeout 120 redis-cli -p "${MPORTS[k - 1]}" --bigkeys 2>/dev/null |
        awk -v m="$k" '/Biggest +hash found/ {printf " m%d: %s %s fields;", m, $4, $6}')
done
SHARED=()
for k in $(seq "$MASTERS"); do
    while read -r key; do
        [ -n "$key" ] && SHARED+=("$key@m$k")
    done < <(timeout 60 redis-cli -p "${MPORTS[k - 1]}" --scan |
        grep -v -e "^$PREFIX{" -e "^${PREFIX}n:" -e "^${PREFIX}acct:" | sort)
done

# --- summary ---------------------------------------------------------------------------------
if [ -n "${KEEP_DIR:-}" ]; then
    mkdir -p "$KEEP_DIR"
    cp -r "$WORK/snap" "$WORK/out" "$KEEP_DIR/"
    cp "$WORK"/probe* "$WORK"/server*.log "$KEEP_DIR/"
fi

delta() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%d", b - a}'; }
per_s() { awk -v n="$1" -v s="$2" 'BEGIN {printf "%.0f", n / s}'; }
pct() { awk -v t="$1" -v s="$2" -v h="$TICK" 'BEGIN {printf "%.0f%%", 100 * t / h / s}'; }

instance_line() { # PHASE INSTANCE SECS
    local a="$WORK/snap/$1.0" b="$WORK/snap/$1.1" i=$2 secs=$3 f what="" c0 c1 n
    for f in "$WORK/out/$1.i$i"*; do
        [ -e "$f" ] || continue
        case "$f" in
            *.verify | *.logout)
                what+=$(awk -v m="${f##*.}" '/_ok / {printf "%s %.0f/s (fail %d, exhausted %d)", m, $2 / ($8 / 1e6), $4, $6}' "$f")
                what+=", p99 $(p99_ms <"$f") ms; "
                n=$(awk '/_ok / {print $2}' "$f")
                if [ "${f##*.}" = verify ]; then SIGNINS=$((SIGNINS + n)); else LOGOUTS=$((LOGOUTS + n)); fi ;;
            *)
                what+="$(rps <"$f") req/s, p99 $(p99_ms <"$f") ms, non-2xx $(non2xx <"$f"); "
                VALIDATIONS=$((VALIDATIONS + $(awk '/requests in/ {print $1}' "$f"))) ;;
        esac
    done
    read -r -a c0 <"$a/cache$i"
    read -r -a c1 <"$b/cache$i"
    local hit=$((c1[0] - c0[0])) miss=$((c1[1] - c0[1]))
    printf '  instance %d: %scache hit %d miss %d (hits %s) invalidated %d flush %d; CPU %s\n' "$i" \
        "${what:-no wrk; }" "$hit" "$miss" \
        "$(awk -v h="$hit" -v m="$miss" 'BEGIN {if (h + m > 0) printf "%.1f%%", 100 * h / (h + m); else print "n/a"}')" \
        $((c1[2] - c0[2])) $((c1[3] - c0[3])) "$(pct $(($(cat "$b/icpu$i") - $(cat "$a/icpu$i"))) "$secs")"
}

master_line() { # PHASE MASTER SECS
    local a="$WORK/snap/$1.0" b="$WORK/snap/$1.1" k=$2 secs=$3 p
    local cmds ping scripts out pa pb
    cmds=$(delta "$(info_field "$a/info$k" total_commands_processed)" "$(info_field "$b/info$k" total_commands_processed)")
    ping=$(delta "$(calls "$a/info$k" ping)" "$(calls "$b/info$k" ping)")
    scripts=$(($(delta "$(calls "$a/info$k" evalsha)" "$(calls "$b/info$k" evalsha)") + $(delta "$(calls "$a/info$k" eval)" "$(calls "$b/info$k" eval)")))
    out=$(delta "$(info_field "$a/info$k" total_net_output_bytes)" "$(info_field "$b/info$k" total_net_output_bytes)")
    pa=$(cat "$a/probe$k") pb=$(cat "$b/probe$k")
    read -r -a p < <(pushes "$WORK/probe$k" "$pa" "$pb")
    CMDS=$((CMDS + cmds)) PUSH_KEYS=$((PUSH_KEYS + p[1])) PUSH_BYTES=$((PUSH_BYTES + pb - pa))
    OUT=$((OUT + out - (pb - pa)))
    printf '  master %d: %s cmd/s (PING %s/s, scripts %s/s), out %s B/s, CPU %s, used_memory %s\n' "$k" \
        "$(per_s "$cmds" "$secs")" "$(per_s "$ping" "$secs")" "$(per_s "$scripts" "$secs")" \
        "$(per_s "$out" "$secs")" "$(pct $(($(cat "$b/mcpu$k") - $(cat "$a/mcpu$k"))) "$secs")" \
        "$(info_field "$b/info$k" used_memory)"
    printf '            pushes to one tracking connection: %d messages, %d keys (record %d, index %d, claim %d, audit %d, other %d), %d flushes, %d bytes (%s B/key); to the %d instances: %d B/s = %s of the output\n' \
        "${p[0]}" "${p[1]}" "${p[2]}" "${p[3]}" "${p[4]}" "${p[5]}" "${p[6]}" "${p[7]}" $((pb - pa)) \
        "$(ratio $((pb - pa)) "${p[1]}")" "$INSTANCES" "$(per_s $((INSTANCES * (pb - pa))) "$secs")" \
        "$(awk -v a=$((INSTANCES * (pb - pa))) -v o="$out" -v pr=$((pb - pa)) 'BEGIN {if (o - pr > 0) printf "%.0f%%", 100 * a / (o - pr); else print "n/a"}')"
}

{
    echo
    echo "================ wallet-auth on Redis Cluster: $INSTANCES instances, $MASTERS masters ================"
    echo "machine: $(nproc) cores, $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}'); everything on them: $MASTERS redis-server, $INSTANCES wallet-auth, wrk, bench_client"
    echo "redis: $(redis-server --version | awk '{print $3}'); wrk connections: $PER per instance; heartbeat predicted $((50 * INSTANCES)) PING/s per master"
    echo "load average before the run: $LOAD_BEFORE"
    for ph in "${PHASES[@]}"; do
        secs=$(awk -v a="$(cat "$WORK/snap/$ph.0/t")" -v b="$(cat "$WORK/snap/$ph.1/t")" 'BEGIN {printf "%.2f", b - a}')
        echo
        echo "-- $ph: ${DESC[$ph]} (${secs} s measured; load average $(cat "$WORK/snap/$ph.1/load"))"
        VALIDATIONS=0 SIGNINS=${MADE[$ph]:-0} LOGOUTS=0 CMDS=0 PUSH_KEYS=0 PUSH_BYTES=0 OUT=0
        for i in $(seq "$INSTANCES"); do instance_line "$ph" "$i" "$secs"; done
        for k in $(seq "$MASTERS"); do master_line "$ph" "$k" "$secs"; done
        ops=$((VALIDATIONS + SIGNINS + LOGOUTS))
        printf '  all: %d validations, %d sign-ins, %d logouts; Redis %d commands (%s per request); pushes to one tracking connection %d keys, %d bytes (%s B per sign-in or logout); output to the instances %d bytes, of which pushes %s\n' \
            "$VALIDATIONS" "$SIGNINS" "$LOGOUTS" "$CMDS" "$(ratio "$CMDS" "$ops")" "$PUSH_KEYS" "$PUSH_BYTES" \
            "$(ratio "$PUSH_BYTES" $((SIGNINS + LOGOUTS)))" "$OUT" \
            "$(awk -v a=$((INSTANCES * PUSH_BYTES)) -v o="$OUT" 'BEGIN {if (o > 0) printf "%.0f%%", 100 * a / o; else print "n/a"}')"
    done
    echo
    echo "-- tracking on Redis (at the end)"
    last="$WORK/snap/${PHASES[-1]}.1"
    for k in $(seq "$MASTERS"); do
        printf '  master %d: tracking_clients %s (connected %s); tracking_total_keys %s, _items %s, _prefixes %s; keys %s; used_memory %s, mem_clients_normal %s; tracking connections tot-mem: %s\n' "$k" \
            "$(info_field "$last/info$k" tracking_clients)" "$(info_field "$last/info$k" connected_clients)" \
            "$(info_field "$last/info$k" tracking_total_keys)" "$(info_field "$last/info$k" tracking_total_items)" \
            "$(info_field "$last/info$k" tracking_total_prefixes)" \
            "$(awk -F'[:=,]' '$1=="db0" {print $3}' "$last/info$k")" "$(info_field "$last/info$k" used_memory)" \
            "$(info_field "$last/info$k" mem_clients_normal)" \
            "$(grep -e 'name=wallet-auth-tracking' -e 'name=bench-probe' "$last/clients$k" | sed -E 's/.*name=([^ ]*).* flags=([^ ]*).* tot-mem=([0-9]+).*/\3 (\1, flags \2)/' | sort | uniq -c | tr -s ' ' | paste -sd';' -)"
    done
    echo "  biggest wallet index per master:${HOT_INDEX:- none}"
    echo "  shared keys (outside every wallet's slot): ${SHARED[*]:-none}"
}
