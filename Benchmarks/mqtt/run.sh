#!/usr/bin/env bash
# Issue 4 benchmark: MQTT ingestion through one local Mosquitto (configured by
# `agora broker-config`), one C libmosquitto load publisher of ~150-byte SenML packs, at
# QoS 0 and QoS 1, received by (a) a minimal C subscriber that only counts, (b) `agora serve`
# storing durably, (c) Python paho-mqtt into SQLite (WAL, 1000-row transactions).
# Usage: Benchmarks/mqtt/run.sh [COUNT]   (default 50000)
# Environment: AGORA_BIN (default: build .build/release/agora here) — another binary to
#   measure, e.g. a baseline build, measured against the same C subscriber in the same run.
set -euo pipefail
cd "$(dirname "$0")/../.."
source Scripts/env.sh
count="${1:-50000}"
work="$(mktemp -d "${BENCH_DIR:-/var/tmp}/agora-mqtt-bench-XXXXXX")"
chmod 755 "$work" # the broker runs as its own user and must reach its files
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

if [ -z "${AGORA_BIN:-}" ]; then swift build -c release --product agora >&2; fi
agora="${AGORA_BIN:-$PWD/.build/release/agora}"
gcc -O2 -o "$work/load_pub" Benchmarks/mqtt/load_pub.c -lmosquitto
gcc -O2 -o "$work/count_sub" Benchmarks/mqtt/count_sub.c -lmosquitto
export AGORA_STATE_DIR="$work/state"
"$agora" init --domain bench.example >/dev/null 2>&1
"$agora" user add owner@bench.example --role owner >/dev/null
"$agora" sensor add bench --owner owner@bench.example --kind pm25 --price 1 >/dev/null
port=$((20000 + RANDOM % 20000))
"$agora" broker-config --out "$work/broker" --port-tls "$port" --port-pair $((port + 1)) >/dev/null
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$work/bench.key" -out "$work/bench.csr" -subj /CN=bench 2>/dev/null
"$agora" ca sign "$work/bench.csr" --for sensor:bench > "$work/bench.pem" 2>/dev/null
mosquitto -c "$work/broker/mosquitto.conf" > "$work/mosquitto.log" 2>&1 & pids+=($!)
sleep 0.5
ca="$work/broker/ca.pem"; gw_cert="$AGORA_STATE_DIR/mqtt/gateway.pem"; gw_key="$AGORA_STATE_DIR/mqtt/gateway.key"
topic=agora/sensors/bench/senml
publish() { "$work/load_pub" localhost "$port" "$ca" "$work/bench.pem" "$work/bench.key" "$topic" "${2:-$count}" "$1" "${3:-0}"; }
# Waits until FILE contains TEXT (at most 20 s).
wait_for() { for _ in $(seq 400); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; echo "gave up waiting for '$2' in $1" >&2; cat "$1" >&2; exit 1; }
cpu_us() { awk '{print ($14 + $15) * 10000}' "/proc/$1/stat"; } # utime+stime in µs (100 Hz ticks)

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $count packs of ~150 B per run"
# Agora last: its persistent session stays subscribed after it stops, and the broker would
# queue the other runs' messages for it.
for qos in 0 1; do
    # (a) minimal C subscriber
    "$work/count_sub" localhost "$port" "$ca" "$gw_cert" "$gw_key" "$topic" "$count" "$qos" > "$work/a.txt" & sub=$!
    wait_for "$work/a.txt" ready; sleep 0.3
    publish "$qos" > "$work/pub.txt"
    wait $sub || true
    grep c_subscriber "$work/a.txt"

done
for qos in 0 1; do
    # (c) paho-mqtt + SQLite
    /usr/bin/python3 Benchmarks/mqtt/paho_sqlite.py localhost "$port" "$ca" "$gw_cert" "$gw_key" "$topic" "$count" "$qos" "$work/paho-$qos.db" > "$work/c.txt" & py=$!
    wait_for "$work/c.txt" ready; sleep 0.3
    publish "$qos" > "$work/pub.txt"
    wait $py || true
    grep paho_sqlite "$work/c.txt"
done
for qos in 0 1; do
    # (b) agora serve, durable
    before=$("$agora" status --json | /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["readings"])')
    "$agora" serve --client-id client:bench-agora > "$work/serve.log" 2>&1 & serve=$!; pids+=($serve)
    wait_for "$work/serve.log" "subscribed to sensor readings"
    cpu0=$(cpu_us $serve); t0=$(date +%s.%N)
    publish "$qos" > "$work/pub.txt"
    target=$((before + count)); n=$before
    while [ "$n" -lt "$target" ]; do
        sleep 0.05
        n=$("$agora" status --json | /usr/bin/python3 -c 'import json,sys;print(json.load(sys.stdin)["readings"])')
        if [ "$(awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN{print (e-s>120)}')" = 1 ]; then echo "agora: timed out at $n of $target" >&2; break; fi
    done
    t1=$(date +%s.%N); cpu1=$(cpu_us $serve)
    kill -TERM $serve; wait $serve || true
    rate=$(awk -v n=$((n - before)) -v s="$t0" -v e="$t1" 'BEGIN {printf "%.0f", n / (e - s)}')
    awk -v n=$((n - before)) -v s="$t0" -v e="$t1" -v c0="$cpu0" -v c1="$cpu1" -v q=$qos \
        'BEGIN {printf "agora_serve_qos%d %.0f msgs/s, %.2f cpu_us_per_msg (%d stored durably)\n", q, n / (e - s), (c1 - c0) / n, n}'

    # Latency at half that rate: receive-to-durable and publish-to-durable percentiles, as serve reports them when it stops.
    "$agora" serve --client-id client:bench-agora > "$work/serve.log" 2>&1 & serve=$!; pids+=($serve)
    wait_for "$work/serve.log" "subscribed to sensor readings"
    publish "$qos" $((count / 2)) $((rate / 2)) > "$work/pub.txt"
    sleep 1
    kill -TERM $serve; wait $serve || true
    echo "agora_serve_qos${qos}_at_$((rate / 2))_per_s $(grep -o 'ingest.p50_ms=[^ ]*' "$work/serve.log") $(grep -o 'ingest.p99_ms=[^ ]*' "$work/serve.log") (receive to durable) $(grep -o 'ingest.age_p50_ms=[^ ]*' "$work/serve.log") $(grep -o 'ingest.age_p99_ms=[^ ]*' "$work/serve.log") (publish to durable: the publisher stamps bt with its send time)"

done
