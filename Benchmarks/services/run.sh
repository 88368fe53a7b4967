#!/usr/bin/env bash
# Issue 6's service goals, measured against a running `agora serve` over XMPP:
#   - history reads through urn:agora:readings:1, one session paging a sensor's history 500
#     readings at a time, without proofs (goal >= 100 000 readings/s) and with proofs='true'
#     (audit path + receipts; goal >= 20 000 readings/s);
#   - purchases through urn:agora:market:1, 20 concurrent buyers each keeping one purchase
#     outstanding, every one a durable ledger write (goal >= 2 000 purchases/s).
# How: a fresh state directory (20 consumers u0..u19 with minted credits, an owner, sensor
# bench-1 at 1 credit/hour, 100 000 readings one per second ingested as 100 SenML packs of 1000
# with `agora readings ingest`, the whole history bought by u0 so the reads go through the
# buyer's access check, not the owner's); `agora serve` pinned to CPU 1, the load generator
# Benchmarks/xmpp/xmpp_load.c (raw XMPP over epoll, SCRAM-SHA-1) pinned to CPU 0. Plaintext
# c2s on loopback, as Benchmarks/xmpp/run.sh runs every server: TLS cost is not in these
# numbers. Afterwards the server is stopped and `agora ledger verify` must pass. Prints the raw
# RESULT lines and a table: measure | result | goal | result/goal.
#
# Usage: Benchmarks/services/run.sh
# Environment: BENCH_SECONDS (10, per measurement, after a 2 s warm-up), AGORA_BIN
#   (.build/release/agora; not built here), KEEP=1 keeps the scratch directory (state, serve
#   log, generator logs), BENCH_DIR (/var/tmp), BENCH_SERVER_CPU (1), BENCH_GEN_CPU (0).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

A="${AGORA_BIN:-$root/.build/release/agora}"
secs="${BENCH_SECONDS:-10}"
server_cpu="${BENCH_SERVER_CPU:-1}"
gen_cpu="${BENCH_GEN_CPU:-0}"
domain=bench.test
password=bench-password-1
sensor=bench-1
nreadings=100000
buyers=20

if [ ! -x "$A" ]; then
    echo "missing $A: run swift build -c release --product agora (or set AGORA_BIN)" >&2
    exit 1
fi
# xmpp_load needs gcc and OpenSSL's headers; taskset and ss come with util-linux and iproute2.
missing=()
for p in gcc libssl-dev util-linux iproute2; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "# installing ${missing[*]}" >&2
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y "${missing[@]}" >&2 || { apt-get update >&2 && apt-get install -y "${missing[@]}" >&2; }
    else
        echo "missing packages: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi
if [ "$(nproc)" -lt 2 ]; then
    echo "# warning: $(nproc) core: server and load generator share it" >&2
    server_cpu=0 gen_cpu=0
fi

work="$(mktemp -d "${BENCH_DIR:-/var/tmp}/agora-services-bench-XXXXXX")"
S="$work/state"
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null || true
    if [ "${KEEP:-0}" = 1 ]; then echo "# kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

gcc -O2 -Wall -o "$work/xmpp_load" Benchmarks/xmpp/xmpp_load.c -lcrypto

# Other servers, builds or benchmarks on the machine skew everything: say so.
others="$(pgrep -a -f 'beam.smp|/usr/bin/prosody|swift-frontend|swift-build|agora serve|agora-bench|xmpp_load' \
    | grep -v " --version" | cut -c1-160 || true)"
[ -n "$others" ] && printf '# warning: other processes that may compete for the cores:\n%s\n' "$others" >&2
echo "# machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $A; server on CPU $server_cpu, load generator on CPU $gen_cpu; ${secs}s per measurement, SCRAM-SHA-1, plaintext on loopback"

rfc3339() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
# Runs an agora command against the scratch state, its output into the setup log; the log's tail on failure.
a() {
    "$A" "$@" --state-dir "$S" >> "$work/setup.log" 2>&1 || {
        echo "agora $* failed:" >&2
        tail -5 "$work/setup.log" >&2
        exit 1
    }
}

# ---------------------------------------------------------------------------------------------
# State: accounts, sensor, credits, readings, u0's purchase of the whole history.
echo "# setting up $S" >&2
a init --domain "$domain"
printf '%s\n' "$password" | a user add-many --prefix u --count "$buyers" --role consumer --password-stdin
printf 'owner-password-1\n' | a user add "owner@$domain" --role owner --password-stdin
a sensor add "$sensor" --owner "owner@$domain" --kind pm25 --price 1
for i in $(seq 0 $((buyers - 1))); do
    a credit mint "u$i@$domain" 100000000 --memo bench
done

# 100 000 readings, one per second from START (so every one is in the past), value i/4, as SenML
# packs: [{"bt":START,"n":"pm25","t":i,"v":i/4},{"n":"pm25","t":i+1,"v":...},...]. A pack must
# stay under the gateway's 64 KiB limit: halve the pack size until every file does.
start=$(( $(date +%s) / 3600 * 3600 - 200000 ))
pack=1000
while :; do
    rm -rf "$work/packs"
    mkdir -p "$work/packs"
    awk -v start="$start" -v n="$nreadings" -v pack="$pack" -v dir="$work/packs" 'BEGIN {
        for (p = 0; p * pack < n; p++) {
            f = sprintf("%s/%05d.json", dir, p)
            printf "[" > f
            for (i = p * pack; i < (p + 1) * pack && i < n; i++) {
                if (i == p * pack) printf("{\"bt\":%d,\"n\":\"pm25\",\"t\":%d,\"v\":%.2f}", start, i, i / 4) > f
                else printf(",{\"n\":\"pm25\",\"t\":%d,\"v\":%.2f}", i, i / 4) > f
            }
            printf "]" > f
            close(f)
        }
    }'
    largest=$(stat -c %s "$work"/packs/*.json | sort -n | tail -1)
    [ "$largest" -lt 65536 ] && break
    [ "$pack" -le 1 ] && { echo "a one-record pack is $largest bytes: over 64 KiB" >&2; exit 1; }
    pack=$((pack / 2))
done
echo "# ingesting $nreadings readings from $(rfc3339 "$start") in $(ls "$work/packs" | wc -l) packs of $pack (largest $largest bytes)" >&2
for f in "$work"/packs/*.json; do
    a readings ingest --sensor "$sensor" "$f"
done
a purchase --buyer "u0@$domain" --sensor "$sensor" --from "$(rfc3339 "$start")" \
    --to "$(rfc3339 $((start + nreadings)))" --request-id all

# ---------------------------------------------------------------------------------------------
# Serve: plaintext c2s on a free random port (another benchmark may be running), no
# connection-rate limit.
port_free() { ! ss -Hltn "sport = :$1" | grep -q LISTEN; }
for _ in $(seq 50); do
    port=$((20000 + RANDOM % 20000))
    port_free "$port" && port_free $((port + 1)) && break
done
# Waits until TCP PORT on 127.0.0.1 is listening (at most 60 s) while the server lives.
wait_port() {
    for _ in $(seq 600); do
        ss -Hltn "sport = :$1" | grep -q LISTEN && return 0
        kill -0 "$server_pid" 2>/dev/null || { echo "agora serve exited:" >&2; tail -20 "$work/serve.log" >&2; return 1; }
        sleep 0.1
    done
    echo "port $1 never opened" >&2
    return 1
}
# Waits until the server has finished its start-up work: < 3 % of a core over one second (at most 60 s).
wait_server_idle() {
    local x y
    for _ in $(seq 60); do
        x=$(sed 's/.*) //' "/proc/$server_pid/stat" | awk '{print $12 + $13}')
        sleep 1
        y=$(sed 's/.*) //' "/proc/$server_pid/stat" | awk '{print $12 + $13}')
        [ $((y - x)) -lt $(($(getconf CLK_TCK) * 3 / 100 + 1)) ] && return 0
    done
    echo "# agora serve still busy after 60 s" >&2
}
AGORA_XMPP_C2S_PORT=$port AGORA_XMPP_TLS_PORT=$((port + 1)) AGORA_XMPP_BIND_ADDRESS=127.0.0.1 \
    AGORA_XMPP_TLS_REQUIRED=false AGORA_XMPP_CONNECTION_RATE=0 AGORA_QUOTAS_LEDGER_WRITES_PER_MINUTE=0 \
    taskset -c "$server_cpu" "$A" serve --state-dir "$S" >> "$work/serve.log" 2>&1 &
server_pid=$!
wait_port "$port"
wait_server_idle
echo "# agora serve (pid $server_pid) on 127.0.0.1:$port" >&2

# Runs the load generator; prints its RESULT line (also into $work/results.txt), or, when it
# fails, "RESULT mode=NAME failed" and the tail of its log on stderr.
gen() {
    local name=$1 out
    shift
    if out="$(taskset -c "$gen_cpu" "$work/xmpp_load" "$@" --port "$port" --domain "$domain" --password "$password" \
        --mech SCRAM-SHA-1 --server-pid "$server_pid" --seconds "$secs" 2> "$work/gen-$name.log" | grep '^RESULT')"; then
        echo "$out" >> "$work/results.txt"
        echo "# $name: ${out#RESULT }" >&2
        echo "$out"
    else
        echo "xmpp_load $name failed:" >&2
        tail -5 "$work/gen-$name.log" >&2
        echo "RESULT mode=$name failed"
    fi
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

r_plain=$(gen readings readings --sessions 1 --users 1 --sensor "$sensor" --from "$start" --count "$nreadings" --page 500)
r_proofs=$(gen readings-proofs readings --sessions 1 --users 1 --sensor "$sensor" --from "$start" --count "$nreadings" --page 500 --proofs)
# Each buyer buys consecutive one-hour windows from its own range (xmpp_load's default range of
# 2000 hours per session would run out above ~3 300 purchases/s over a 10 s run): room for
# 2 000 purchases/s per buyer over the warm-up and the measurement.
r_buy=$(gen purchases purchases --sessions "$buyers" --users "$buyers" --sensor "$sensor" \
    --hours-per-session "$(awk -v s="$secs" 'BEGIN { printf "%d", (s + 5) * 2000 }')")

# Stop the server (SIGTERM, at most 30 s), then audit the ledger the purchases wrote.
kill -TERM "$server_pid" 2>/dev/null || true
for _ in $(seq 300); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$server_pid" 2>/dev/null; then
    echo "# agora serve did not stop within 30 s of SIGTERM: killed" >&2
    kill -9 "$server_pid" 2>/dev/null || true
fi
serve_status=0
wait "$server_pid" 2>/dev/null || serve_status=$?
server_pid=""
verify_status=0
"$A" ledger verify --state-dir "$S" > "$work/verify.log" 2>&1 || verify_status=$?

echo
echo "$r_plain"
echo "$r_proofs"
echo "$r_buy"
echo
row() { # measure, RESULT line, goal, unit
    local rate ratio
    rate=$(field rate "$2")
    if [ -n "$rate" ]; then
        ratio=$(awk -v r="$rate" -v g="$3" 'BEGIN { printf "%.2f", r / g }')
        echo "| $1 | $rate $4 | ≥ $3 | $ratio |"
    else
        echo "| $1 | failed | ≥ $3 | — |"
    fi
}
echo "| measure | result | goal | result/goal |"
echo "|---|---|---|---|"
row "readings:1 pages of 500, 1 session, no proofs" "$r_plain" 100000 "readings/s"
row "readings:1 pages of 500, 1 session, proofs='true'" "$r_proofs" 20000 "readings/s"
row "market:1 purchases, $buyers buyers, one outstanding each" "$r_buy" 2000 "purchases/s"
echo
failed=0
for r in "$r_plain" "$r_proofs" "$r_buy"; do [ -n "$(field rate "$r")" ] || failed=1; done
echo "agora serve exit status after SIGTERM: $serve_status"
echo "ledger verify (exit $verify_status): $(head -1 "$work/verify.log")"
if [ "$verify_status" != 0 ]; then
    failed=1
    sed 's/^/  /' "$work/verify.log" | head -20
fi
exit $failed
