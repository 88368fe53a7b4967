#!/usr/bin/env bash
# Issue 15's measurements, "before and after" in one run: each benchmark runs the baseline
# binary and the new one back to back on the same machine, against the same references
# (the counting C MQTT subscriber; Prosody for XMPP), so the ratios compare like with like.
#
#   MQTT ingest, QoS 0 and 1: CPU µs per reading and msgs/s, each against the C subscriber
#                             (Benchmarks/mqtt/run.sh)
#   purchases with 20 buyers, readings pages over XMPP (Benchmarks/services/run.sh)
#   XMPP pings/s and messages/s, Prosody beside both (Benchmarks/xmpp/run.sh)
#   an idle gateway's context switches and CPU (Benchmarks/idle/run.sh; debug builds, as
#   the goal was measured)
#
# Usage: Benchmarks/before-after.sh BASELINE_RELEASE NEW_RELEASE [BASELINE_DEBUG NEW_DEBUG]
# Environment: MQTT_COUNT (50000), and each script's own (BENCH_SECONDS, XMPP_BENCH_*, …).
# Nothing else should run on the machine meanwhile: the scripts pin server and load to the
# two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 BASELINE_RELEASE NEW_RELEASE [BASELINE_DEBUG NEW_DEBUG]" >&2; exit 2; }
base="$1"; new="$2"
for bin in "$base" "$new"; do [ -x "$bin" ] || { echo "missing $bin" >&2; exit 1; }; done
label() { [ "$1" = "$base" ] && echo baseline || echo new; }

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%FT%TZ)"
echo "# baseline: $base ($("$base" version 2>/dev/null || echo '?'))"
echo "# new:      $new ($("$new" version 2>/dev/null || echo '?'))"
for bin in "$base" "$new"; do
    echo; echo "## MQTT ingest — $(label "$bin")"
    AGORA_BIN="$bin" Benchmarks/mqtt/run.sh "${MQTT_COUNT:-50000}"
done
for bin in "$base" "$new"; do
    echo; echo "## purchases and readings over XMPP — $(label "$bin")"
    AGORA_BIN="$bin" Benchmarks/services/run.sh
done
echo; echo "## XMPP — Prosody (reference)"
Benchmarks/xmpp/run.sh prosody
for bin in "$base" "$new"; do
    echo; echo "## XMPP — $(label "$bin")"
    AGORA_BIN="$bin" Benchmarks/xmpp/run.sh agora
done
if [ $# -ge 4 ]; then
    echo; echo "## idle gateway (debug builds)"
    AGORA_BASELINE_BIN="$3" AGORA_BIN="$4" Benchmarks/idle/run.sh
fi
