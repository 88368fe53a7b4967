#!/usr/bin/env bash
# Message archive (XEP-0313, issue 22): the latency of a page of 50 over an archive of a
# million messages, as a client sees it (query sent → 50 result messages and the IQ result
# read), the server pinned to one core and the load generator (xmpp_load.c) to the other.
# The archive is filled through the server itself: xmpp_load's messages mode between two
# accounts until MAM_BENCH_MESSAGES chats were delivered (each is in both archives). Each
# query asks for the page after a random time of the fill, so pages come from anywhere in the
# archive, not only its warm end. Goal: p99 < 5 ms.
#
# Usage: Benchmarks/mam/run.sh
# Environment: MAM_BENCH_MESSAGES (1000000), MAM_BENCH_QUERIES (2000), XMPP_BENCH_SERVER_CPU (1),
#   XMPP_BENCH_GEN_CPU (0), AGORA_BIN (.build-release/release/agora, built here when missing),
#   BENCH_DIR (/var/tmp), KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

target="${MAM_BENCH_MESSAGES:-1000000}"
queries="${MAM_BENCH_QUERIES:-2000}"
server_cpu="${XMPP_BENCH_SERVER_CPU:-1}"
gen_cpu="${XMPP_BENCH_GEN_CPU:-0}"
agora="${AGORA_BIN:-$root/.build-release/release/agora}"
domain=bench.test
password=bench-password-0123
users=2

for tool in gcc taskset ss; do command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }; done
source Benchmarks/xmpp/servers.sh
bench_agora
bench_workspace mam

echo "# machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
agora_setup
# Archives large enough for the whole fill.
export AGORA_XMPP_ARCHIVE_MAX_MESSAGES=$((2 * target + 1000000)) AGORA_XMPP_ARCHIVE_MAX_BYTES=$((1 << 40))
agora_start
wait_server_idle

fill_start=$(date +%s)
delivered=0
while [ "$delivered" -lt "$target" ]; do
    out=$(gen agora messages --pairs 1 --inflight 64 --seconds 20 --warmup 0)
    delivered=$((delivered + $(field count "$out")))
    echo "#   filled: $delivered of $target chats" >&2
done
fill_end=$(date +%s)
sleep 2   # the archive writes coalesce behind the deliveries: let the last ones land
echo "# filled $delivered chats in $((fill_end - fill_start)) s (each archived for sender and receiver)"
archive_bytes=$(du -sb "$work/agora/state/agora.mdb" 2>/dev/null | cut -f1 || echo "?")

r=$(gen agora mam --from "$fill_start" --to $((fill_end - 5)) --n "$queries")
echo
echo "| archive | queries | page | p50 | p99 | max | queries/s | CPU gen/server/other |"
echo "|---|---|---|---|---|---|---|---|"
echo "| $delivered messages (store ${archive_bytes} B) | $(field queries "$r") | $(field page "$r") | $(field p50_ms "$r") ms | $(field p99_ms "$r") ms | $(field max_ms "$r") ms | $(field rate "$r") | $(cpu "$r") |"
stop_server
