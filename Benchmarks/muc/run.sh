#!/usr/bin/env bash
# Multi-user chat fan-out (issue 22): groupchat messages delivered per second to the occupants
# of one room, Agora against Debian's Prosody 0.12 (mod_muc, its defaults) in the same run,
# each server pinned to one core and the load generator (xmpp_load.c muc) to the other, set up
# as Benchmarks/xmpp/run.sh sets them up (plaintext c2s on loopback, SCRAM-SHA-1). Agora is
# measured twice: a temporary room, as Prosody's default rooms are (history in memory only),
# and a persistent room, whose history and archive (XEP-0313) Agora writes to LMDB.
#
# Usage: Benchmarks/muc/run.sh
# Environment: MUC_BENCH_OCCUPANTS (100), MUC_BENCH_SENDERS (4), MUC_BENCH_INFLIGHT (8 per
#   sender), MUC_BENCH_SECONDS (10, after a 2 s warm-up), MUC_BENCH_REPEAT (3; the median is
#   reported), XMPP_BENCH_SERVER_CPU (1), XMPP_BENCH_GEN_CPU (0), AGORA_BIN
#   (.build-release/release/agora, built here when missing), BENCH_DIR (/var/tmp), KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

occupants="${MUC_BENCH_OCCUPANTS:-100}"
senders="${MUC_BENCH_SENDERS:-4}"
inflight="${MUC_BENCH_INFLIGHT:-8}"
secs="${MUC_BENCH_SECONDS:-10}"
repeat="${MUC_BENCH_REPEAT:-3}"
server_cpu="${XMPP_BENCH_SERVER_CPU:-1}"
gen_cpu="${XMPP_BENCH_GEN_CPU:-0}"
agora="${AGORA_BIN:-$root/.build-release/release/agora}"
domain=bench.test
password=bench-password-0123
users="$occupants"

for tool in gcc taskset ss prosody; do command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y gcc util-linux iproute2 prosody)" >&2; exit 1; }; done
export PROSODY_MUC=1
source Benchmarks/xmpp/servers.sh
bench_agora
bench_workspace muc

echo "# machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# server on CPU $server_cpu, load generator on CPU $gen_cpu; a room of $occupants, $senders senders × $inflight in flight, ${secs}s × $repeat"

declare -A R
measure() { # NAME SERVER ROOM [--persistent]
    local name=$1 server=$2 room=$3
    shift 3
    : > "$work/$name.txt"
    for run in $(seq "$repeat"); do
        # A room of its own per run: occupants of the last one are gone, nothing is carried over.
        gen "$server" muc --sessions "$occupants" --room "${room/@/$run@}" --senders "$senders" --inflight "$inflight" \
            --seconds "$secs" "$@" >> "$work/$name.txt" || return 1
    done
    store "$name" "$(median < "$work/$name.txt")"
    R[$name.messages]=$(field messages "$(grep " rate=${R[$name]} " "$work/$name.txt" | head -1)")
}

prosody_setup
prosody_start
wait_server_idle
measure prosody prosody "room@conference.$domain" || true
R[prosody.rss]=$(grep VmRSS "/proc/$server_pid/status" | awk '{print $2}')
stop_server

agora_setup
agora_start
wait_server_idle
measure agora agora "room@rooms.$domain" || true
measure agora_persistent agora "stored@rooms.$domain" --persistent || true
R[agora.rss]=$(grep VmRSS "/proc/$server_pid/status" | awk '{print $2}')
stop_server

echo
echo "| server, room | deliveries/s (median of $repeat) | range | messages sent/s | CPU gen/server/other | ratio to Prosody |"
echo "|---|---|---|---|---|---|"
for name in prosody agora agora_persistent; do
    ratio=""
    [ -n "${R[$name]:-}" ] && [ -n "${R[prosody]:-}" ] && ratio=$(awk -v a="${R[$name]}" -v b="${R[prosody]}" 'BEGIN { printf "%.2f×", a / b }')
    echo "| $name | ${R[$name]:-—} | ${R[${name}_range]:-—} | ${R[$name.messages]:-—} | ${R[${name}_cpu]:-—} | ${ratio:-—} |"
done
echo
echo "Server RSS after the runs: prosody ${R[prosody.rss]:-—} kB, agora ${R[agora.rss]:-—} kB"
