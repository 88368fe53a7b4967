#!/usr/bin/env bash
# exec → READY=1 of `agora serve` (systemd's notify protocol, played by notify_check.py) for
# the x86_64 binary natively and the aarch64 binary under qemu-user emulation, side by side,
# on the same fresh store each (issue 17). Emulation is not a board: the aarch64 figure is
# for information, an upper bound far above what a Cortex-A53/A72 would take.
#
# Usage: Benchmarks/packaging/start-ready.sh [runs]   (root, for binfmt_misc; builds what is missing)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-3}"
Packaging/qemu-binfmt.sh
work="$(mktemp -d /var/tmp/agora-start-XXXXXX)"
trap 'rm -rf "$work"' EXIT
for arch in x86_64 aarch64; do
    binary="Packaging/out/$arch/agora"
    [ -x "$binary" ] || Packaging/build-static.sh --arch "$arch" > /dev/null
    state="$work/$arch"
    "$binary" init --domain start.test --state-dir "$state" > /dev/null 2>&1
    port=$((20000 + RANDOM % 20000))
    for run in $(seq "$runs"); do
        ms="$(AGORA_XMPP_C2S_PORT=$port AGORA_XMPP_TLS_PORT=$((port + 1)) AGORA_XMPP_BIND_ADDRESS=127.0.0.1 AGORA_HTTP_PORT=0 \
            /usr/bin/python3 Tests/Interop/systemd/notify_check.py 300000 -- "$binary" serve --state-dir "$state" 2>/dev/null \
            | grep -o 'ready_ms=[0-9]*' | cut -d= -f2 || true)"
        echo "$arch run $run: exec to READY=1 ${ms:-FAILED} ms"
    done
done
