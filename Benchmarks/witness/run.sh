#!/usr/bin/env bash
# Issue 20: (1) how many checkpoints one witness cosigns per second of its CPU, each with a
# consistency proof over a log of 2^20 entries, for LOGS logs (default 100) checkpointing
# together; the goal is 100 logs every second on one core. (2) The end-to-end delay from a
# purchase to a receipt with k = 2 cosignatures: three gateways on loopback witnessing
# each other, at the default checkpoint interval (1 s).
# Usage: Benchmarks/witness/run.sh [LOGS] [ROUNDS] [SAMPLES]
set -euo pipefail
cd "$(dirname "$0")/../.."
logs="${1:-100}" rounds="${2:-20}" samples="${3:-10}"
swift build -c release --scratch-path .build-release --product agora >&2
swift build -c release --scratch-path .build-release --product agora-witness-load >&2
bin=.build-release/release
work="$(mktemp -d /var/tmp/agora-witness-bench-XXXXXX)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
wait_for() { for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; echo "timed out waiting for $2 in $1" >&2; exit 1; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks_per_second=$(getconf CLK_TCK)

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

# (1) One witness, LOGS logs.
head -c 32 /dev/urandom > "$work/seed"
$bin/agora init --domain witness.example --state-dir "$work/w" > /dev/null 2>&1
keys="$($bin/agora-witness-load keys "$work/seed" 0 "$logs")"
port=$((20000 + RANDOM % 20000))
AGORA_XMPP_C2S_PORT=$port AGORA_XMPP_TLS_PORT=$((port + 1)) AGORA_XMPP_BIND_ADDRESS=127.0.0.1 AGORA_HTTP_PORT=$((port + 2)) \
    AGORA_WITNESS_LOGS="$keys" $bin/agora serve --state-dir "$work/w" > "$work/w.log" 2>&1 &
pids+=($!)
witness=$!
wait_for "$work/w.log" "agora serve ready"
before=$(cpu_ticks "$witness")
load="$($bin/agora-witness-load drive "$work/seed" $((port + 2)) "$logs" "$rounds")"
after=$(cpu_ticks "$witness")
cosigned=$(sed -n 's/^cosigned \([0-9]*\) .*/\1/p' <<< "$load")
cpu=$(awk "BEGIN { printf \"%.2f\", ($after - $before) / $ticks_per_second }")
per_core=$(awk "BEGIN { printf \"%.0f\", $cosigned / ($cpu > 0 ? $cpu : 0.01) }")
echo "witness: $load"
echo "witness: $cpu s of CPU for $cosigned cosignatures: $per_core per CPU-second; goal 100 logs x 1/s: ratio $(awk "BEGIN { printf \"%.1f\", $per_core / 100 }")x"
kill -9 "$witness"

# (2) Three gateways on loopback, each witnessing the other two, k = 2.
declare -A logkey witkey
for n in 1 2 3; do
    logkey[$n]="$($bin/agora init --domain gw$n.example --state-dir "$work/gw$n" 2>/dev/null | tail -1)"
    witkey[$n]="$($bin/agora witness key --state-dir "$work/gw$n" 2>/dev/null)"
done
base=$((20000 + RANDOM % 20000))
for n in 1 2 3; do
    logs_of_others="" peers=""
    for m in 1 2 3; do
        [ "$m" = "$n" ] && continue
        logs_of_others+="${logs_of_others:+,}${logkey[$m]}"
        peers+="${peers:+,}http://127.0.0.1:$((base + m * 10 + 2)) ${witkey[$m]}"
    done
    AGORA_XMPP_C2S_PORT=$((base + n * 10)) AGORA_XMPP_TLS_PORT=$((base + n * 10 + 1)) AGORA_XMPP_BIND_ADDRESS=127.0.0.1 \
        AGORA_HTTP_PORT=$((base + n * 10 + 2)) AGORA_WITNESS_LOGS="$logs_of_others" AGORA_WITNESS_PEERS="$peers" AGORA_WITNESS_MIN_COSIGNATURES=2 \
        $bin/agora serve --state-dir "$work/gw$n" > "$work/gw$n.log" 2>&1 &
    pids+=($!)
done
for n in 1 2 3; do wait_for "$work/gw$n.log" "agora serve ready"; done
gw1=(--state-dir "$work/gw1")
printf 'owner-pass-1\n' | $bin/agora user add owner@gw1.example --role owner --password-stdin "${gw1[@]}" > /dev/null 2>&1
printf 'buyer-pass-1\n' | $bin/agora user add buyer@gw1.example --role consumer --password-stdin "${gw1[@]}" > /dev/null 2>&1
$bin/agora credit mint buyer@gw1.example 1000 "${gw1[@]}" > /dev/null 2>&1
$bin/agora sensor add air-1 --owner owner@gw1.example --kind pm25 --price 1 "${gw1[@]}" > /dev/null 2>&1
delays=()
for i in $(seq "$samples"); do
    hour=$(printf '%02d' $((i % 24)))
    start=$(date +%s.%N)
    $bin/agora purchase --buyer buyer@gw1.example --sensor air-1 --from "2026-1$((i / 24 % 2))-0$((i / 48 % 9 + 1))T$hour:00:00Z" \
        --to "2026-1$((i / 24 % 2))-0$((i / 48 % 9 + 1))T$hour:30:00Z" "${gw1[@]}" > /dev/null 2>&1
    size=$(AGORA_HTTP_PORT=0 $bin/agora status --json "${gw1[@]}" 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ledgerEntries"])')
    entry=$((size - 1))
    until $bin/agora ledger receipt "$entry" "${gw1[@]}" 2>/dev/null > "$work/r.json" \
        && $bin/agora verify-receipt "$work/r.json" --log-key "${logkey[1]}" --witness "${witkey[2]}" --witness "${witkey[3]}" --min-witnesses 2 > /dev/null 2>&1; do
        sleep 0.05
    done
    delays+=("$(awk "BEGIN { printf \"%.3f\", $(date +%s.%N) - $start }")")
done
sorted=$(printf '%s\n' "${delays[@]}" | sort -n)
echo "purchase to receipt with 2 cosignatures (checkpoint interval 1 s), $samples samples: median $(sed -n "$(( (samples + 1) / 2 ))p" <<< "$sorted") s, max $(tail -1 <<< "$sorted") s"
