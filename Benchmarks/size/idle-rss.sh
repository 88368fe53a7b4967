#!/usr/bin/env bash
# Idle RSS of `agora serve` for one or more binaries, side by side in the same run (issue 17):
# each on a fresh store (no broker, XMPP and HTTP on loopback), read 5 s after it listens, 3
# runs each, interleaved. VmRSS with its anonymous and file-backed parts (/proc/PID/status).
#
# Usage: Benchmarks/size/idle-rss.sh BINARY [BINARY…]    e.g. an older build against Packaging/out/x86_64/agora
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$#" -gt 0 ] || { echo "usage: $0 BINARY [BINARY…]" >&2; exit 2; }
work="$(mktemp -d /var/tmp/agora-idle-rss-XXXXXX)"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
for run in 1 2 3; do
    for binary in "$@"; do
        state="$work/state-$run-$(basename "$(dirname "$binary")")-$RANDOM"
        "$binary" init --domain idle.test --state-dir "$state" > /dev/null 2>&1
        port=$((20000 + RANDOM % 20000))
        AGORA_XMPP_C2S_PORT=$port AGORA_XMPP_TLS_PORT=0 AGORA_XMPP_BIND_ADDRESS=127.0.0.1 AGORA_HTTP_PORT=$((port + 1)) \
            "$binary" serve --state-dir "$state" > "$state.log" 2>&1 &
        pid=$!
        for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
        sleep 5
        awk -v b="$binary" -v r="$run" '/^VmRSS/ {v=$2} /^RssAnon/ {a=$2} /^RssFile/ {f=$2}
            END {printf "run %d  %-40s VmRSS %5.1f MB  anonymous %4.1f MB  file-backed %5.1f MB\n", r, b, v/1024, a/1024, f/1024}' "/proc/$pid/status"
        kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
    done
done
