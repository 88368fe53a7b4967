#!/usr/bin/env bash
# Issue 21: live readings (XEP-0060) from a real Mosquitto through `agora serve` to real TLS
# XMPP subscribers (agora-live-bench, AgoraClient: one connection and one account each, every
# account a buyer of the sensor it watches).
#   1. the ingest rate with no subscriber (the baseline every other run is set against);
#   2. 100 subscribers of one sensor, without and with proofs: readings/s delivered, and the
#      server CPU per delivered item beyond the ingest's own (serve's utime+stime, less the
#      baseline's for the same readings, over the items delivered);
#   3. the same 100 at half the ingest rate: publish-to-delivery latency p50/p99 (goal p99 < 100 ms);
#   4. one subscriber that stops reading: the ingest rate beside the baseline's, and what the
#      gateway dropped for it (its per-session queue, gap markers);
#   5. 1000 subscribers across 1000 sensors, without and with proofs.
# Usage: Benchmarks/live/run.sh [READINGS]   (default 5000 per run)
# Environment: AGORA_BIN, LIVE_BENCH (default: release builds here, in .build-release).
set -euo pipefail
cd "$(dirname "$0")/../.."
source Scripts/env.sh
ulimit -n "$(ulimit -Hn)"   # a thousand TLS connections each for the publisher, the broker, serve and the subscribers
count="${1:-5000}"
work="$(mktemp -d "${BENCH_DIR:-/var/tmp}/agora-live-bench-XXXXXX")"
chmod 755 "$work"   # the broker runs as its own user and must reach its files
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
if [ -z "${AGORA_BIN:-}" ] || [ -z "${LIVE_BENCH:-}" ]; then
    swift build -c release --scratch-path .build-release --product agora >&2
    swift build -c release --scratch-path .build-release --product agora-live-bench >&2
fi
agora="${AGORA_BIN:-$PWD/.build-release/release/agora}"
bench="${LIVE_BENCH:-$PWD/.build-release/release/agora-live-bench}"
gcc -O2 -o "$work/live_pub" Benchmarks/live/live_pub.c -lmosquitto

cpu_us() { awk '{print ($14 + $15) * 10000}' "/proc/$1/stat"; }   # utime+stime, 100 Hz ticks
stored() { "$agora" status --json --state-dir "$1" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["readings"])'; }
wait_for() { for _ in $(seq 6000); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; echo "gave up waiting for '$2' in $1" >&2; tail -20 "$1" >&2; exit 1; }
metric() { curl -s "http://127.0.0.1:$http/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# start STATE SENSORS SUBSCRIBERS: a gateway with that many sensors and buyers, its broker, serve.
start() {
    local state="$work/$1"
    "$bench" setup "$state" "$2" "$3" >&2
    port=$((20000 + RANDOM % 10000)); xmpp=$((port + 2)); http=$((port + 3))
    "$agora" broker-config --state-dir "$state" --out "$work/broker-$1" --port-tls "$port" --port-pair $((port + 1)) >/dev/null
    # A key and a certificate per sensor, as pairing would give them (keys two at a time; the
    # CA signs one after another, each a ledger entry).
    mkdir -p "$work/certs-$1"
    seq 0 $(($2 - 1)) | xargs -P 2 -I K openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
        -keyout "$work/certs-$1/sK.key" -out "$work/certs-$1/sK.csr" -subj /CN=sK 2>/dev/null
    for k in $(seq 0 $(($2 - 1))); do
        "$agora" ca sign "$work/certs-$1/s$k.csr" --for "sensor:s$k" --state-dir "$state" > "$work/certs-$1/s$k.pem" 2>/dev/null
    done
    mosquitto -c "$work/broker-$1/mosquitto.conf" > "$state/mosquitto.log" 2>&1 & pids+=($!)
    AGORA_XMPP_C2S_PORT=$xmpp AGORA_XMPP_TLS_PORT=0 AGORA_XMPP_BIND_ADDRESS=127.0.0.1 AGORA_XMPP_CONNECTION_RATE=0 \
        AGORA_XMPP_MAX_SESSIONS=4000 AGORA_HTTP_PORT=$http AGORA_LOG_LEVEL=warning \
        "$agora" serve --state-dir "$state" > "$state/serve.log" 2>&1 & serve=$!; pids+=($serve)
    for _ in $(seq 400); do curl -sf "http://127.0.0.1:$http/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
    curl -sf "http://127.0.0.1:$http/readyz" >/dev/null || { echo "serve not ready" >&2; tail -20 "$state/serve.log" >&2; exit 1; }
    publish_args=(localhost "$port" "$work/broker-$1/ca.pem" "$work/certs-$1" "$2")
    current="$state"
}

# publish COUNT RATE: waits until every reading is durable; prints "SECONDS CPU_US" of serve.
publish() {
    local before cpu0 t0 target
    before=$(stored "$current"); target=$((before + $1))
    # One publisher per 250 sensors (libmosquitto's select() limit), sharing count and rate;
    # the clock starts once all are connected.
    local sensors=${publish_args[4]} procs=$(( (${publish_args[4]} + 249) / 250 )) p pubs=()
    rm -f "$work/go"
    for p in $(seq 0 $((procs - 1))); do
        local first=$((p * 250)) n=$(( sensors - p * 250 < 250 ? sensors - p * 250 : 250 ))
        LIVE_PUB_GO="$work/go" "$work/live_pub" "${publish_args[@]:0:4}" "$first" "$n" $(($1 / procs)) "$(echo "$2 / $procs" | bc -l)" \
            > "$work/pub-$p.out" & pubs+=($!)
    done
    for p in $(seq 0 $((procs - 1))); do wait_for "$work/pub-$p.out" connected; done
    cpu0=$(cpu_us "$serve"); t0=$(date +%s.%N); touch "$work/go"
    for p in "${pubs[@]}"; do wait "$p"; done
    while [ "$(stored "$current")" -lt "$target" ]; do sleep 0.02; done
    echo "$(echo "$(date +%s.%N) - $t0" | bc -l) $(( $(cpu_us "$serve") - cpu0 ))"
}

# watch SUBSCRIBERS SENSORS PROOFS EXPECTED [STALLED]: subscribers in the background until ready.
watch() {
    "$bench" watch "$xmpp" "$current/xmpp/ca.pem" "$2" "$1" "$3" "$4" 120 "${5:-0}" > "$work/watch.out" 2> "$work/watch.err" & watcher=$!
    wait_for "$work/watch.out" ready
}

if [ -z "${ONLY_MANY:-}" ]; then
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $count readings a run, one per MQTT pack"
start one 1 102
read -r base_s base_cpu < <(publish "$count" 0)
base_rate=$(echo "$count / $base_s" | bc -l)
printf 'baseline, no subscriber: %d readings durable in %.2f s = %.0f readings/s, serve CPU %.1f µs a reading\n' \
    "$count" "$base_s" "$base_rate" "$(echo "$base_cpu / $count" | bc -l)"

for proofs in false true; do
    watch 100 1 "$proofs" $((100 * count))
    read -r s cpu < <(publish "$count" 0)
    wait "$watcher" || true
    result=$(tail -1 "$work/watch.out")
    delivered=$(echo "$result" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["readings"])')
    seconds=$(echo "$result" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')
    items=$(echo "$result" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["items"])')
    printf '100 subscribers of 1 sensor, proofs=%s: %d of %d readings delivered in %d items, %.0f readings/s delivered; serve CPU beyond the baseline %.2f µs an item delivered (%.2f a reading)\n  %s\n' \
        "$proofs" "$delivered" $((100 * count)) "$items" "$(echo "$delivered / $seconds" | bc -l)" \
        "$(echo "($cpu - $base_cpu) / $items" | bc -l)" "$(echo "($cpu - $base_cpu) / $delivered" | bc -l)" "$result"
done

half=$(printf '%.0f' "$(echo "$base_rate / 2" | bc -l)")
watch 100 1 false $((100 * count))
publish "$count" "$half" > /dev/null
wait "$watcher" || true
printf '100 subscribers at half the ingest rate (%s readings/s): %s\n' "$half" "$(tail -1 "$work/watch.out")"
# Half the ingest rate asks more of the fan-out than it gives (above); the latency of a load
# it keeps up with, 1000 readings/s (100 000 deliveries/s):
watch 100 1 false $((100 * count))
publish "$count" 1000 > /dev/null
wait "$watcher" || true
printf '100 subscribers at 1000 readings/s: %s\n' "$(tail -1 "$work/watch.out")"

# The stalled subscriber asks for proofs (items ten times larger), and five times the
# readings go by, so that its connection's buffers fill and the gateway has to drop.
dropped0=$(metric 'agora_live_dropped_total{reason="slow_session"}')
watch 1 1 true $((5 * count)) 1
read -r s cpu < <(publish $((5 * count)) 0)
wait "$watcher" || true
printf 'one subscriber reading and one stalled, proofs: %d readings durable in %.2f s = %.0f readings/s (baseline %.0f: ratio %.2f); dropped for the stalled session: %s\n  %s\n' \
    $((5 * count)) "$s" "$(echo "5 * $count / $s" | bc -l)" "$base_rate" "$(echo "(5 * $count / $s) / $base_rate" | bc -l)" \
    "$(echo "$(metric 'agora_live_dropped_total{reason="slow_session"}') - $dropped0" | bc)" "$(tail -1 "$work/watch.out")"
kill "$serve"; wait "$serve" 2>/dev/null || true
fi

start many 1000 1000
read -r base_s base_cpu < <(publish "$count" 0)
printf 'baseline over 1000 sensors: %d readings durable in %.2f s = %.0f readings/s\n' "$count" "$base_s" "$(echo "$count / $base_s" | bc -l)"
for proofs in false true; do
    watch 1000 1000 "$proofs" "$count"
    read -r s cpu < <(publish "$count" 0)
    wait "$watcher" || true
    result=$(tail -1 "$work/watch.out")
    items=$(echo "$result" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["items"])')
    printf '1000 subscribers across 1000 sensors, proofs=%s: serve CPU beyond the baseline %.2f µs an item delivered\n  %s\n' \
        "$proofs" "$(echo "($cpu - $base_cpu) / $items" | bc -l)" "$result"
done
