#!/usr/bin/env bash
# Issue 23: trust score query latency at 10^5 ratings and 10^3 sensors (goal < 1 ms), the
# scores of every sensor for a dependability-sorted search (goal < 5 ms), and the baseline
# the issue names, the same query answered by reading the whole ledger.
# Usage: Benchmarks/trust/run.sh [RATINGS] [SENSORS]   (defaults 100000 1000)
set -euo pipefail
cd "$(dirname "$0")/../.."
source Scripts/env.sh
work="$(mktemp -d "${BENCH_DIR:-/var/tmp}/agora-trust-bench-XXXXXX")"
trap 'rm -rf "$work"' EXIT
swift build -c release --scratch-path .build-release --product agora-trust-bench >&2
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
.build-release/release/agora-trust-bench "$work" "${1:-100000}" "${2:-1000}"
