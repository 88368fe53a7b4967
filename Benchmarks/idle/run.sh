#!/usr/bin/env bash
# Issue 15's idle goal: what an idle gateway costs — broker connected, no XMPP sessions, no
# readings. For each binary (the baseline first, then the fresh build) in the same run: a fresh
# state directory (`agora init`, `agora broker-config`), its own Mosquitto, `agora serve` with
# the systemd notify socket and watchdog set as the shipped unit sets them (Type=notify,
# WatchdogSec=30s), plaintext XMPP on free loopback ports. Once serve has said READY=1 and the
# broker has connected it, a short settle, then IDLE_SECONDS of idling, over which it reports
#   - context switches per second, voluntary + involuntary, summed over all the process's
#     threads (/proc/PID/task/*/status), and
#   - CPU ms per minute: utime+stime from /proc/PID/stat (10 ms ticks), and the same from the
#     threads' schedstat run time (ns; the tick count is too coarse for a few ms a minute),
# then the threads that woke, by name (comm), with their own counts.
# Goal (issue 15): < 5 context switches/s and < 10 ms CPU per minute.
#
# Usage: Benchmarks/idle/run.sh
# Environment: IDLE_SECONDS (60), SETTLE_SECONDS (5), AGORA_BIN (.build/debug/agora: the
#   baseline is a debug build too; not built here), AGORA_BASELINE_BIN
#   (/var/tmp/agora-baseline/agora-debug; skipped when missing), KEEP=1 keeps the scratch
#   directory, BENCH_DIR (/var/tmp).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
new_bin="${AGORA_BIN:-$root/.build/debug/agora}"
baseline_bin="${AGORA_BASELINE_BIN:-/var/tmp/agora-baseline/agora-debug}"
idle="${IDLE_SECONDS:-60}"
settle="${SETTLE_SECONDS:-5}"
python=/usr/bin/python3

[ -x "$new_bin" ] || { echo "missing $new_bin: run swift build (or set AGORA_BIN)" >&2; exit 1; }
command -v mosquitto >/dev/null || { echo "missing mosquitto: apt-get install mosquitto" >&2; exit 1; }

work="$(mktemp -d "${BENCH_DIR:-/var/tmp}/agora-idle-bench-XXXXXX")"
chmod 755 "$work" # the broker may run as its own user and must reach its files
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    if [ "${KEEP:-0}" = 1 ]; then echo "# kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

port_free() { ! ss -Hltn "sport = :$1" | grep -q LISTEN; }
# Four consecutive free ports: MQTT TLS, MQTT pairing, XMPP c2s, XMPP TLS.
free_ports() {
    local p
    while :; do
        p=$((20000 + RANDOM % 20000))
        port_free "$p" && port_free $((p + 1)) && port_free $((p + 2)) && port_free $((p + 3)) && { echo "$p"; return; }
    done
}
# Waits (at most 60 s) until FILE holds TEXT, while process PID lives.
wait_for() {
    for _ in $(seq 600); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        kill -0 "$3" 2>/dev/null || { echo "process $3 exited while waiting for '$2' in $1" >&2; tail -20 "$1" >&2; return 1; }
        sleep 0.1
    done
    echo "gave up waiting for '$2' in $1" >&2; tail -20 "$1" >&2; return 1
}

# Snapshot of every thread of PID: tid comm voluntary involuntary ticks(utime+stime) run_ns.
snapshot() {
    "$python" - "$1" <<'EOF'
import os, sys
pid = sys.argv[1]
for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
    base = f"/proc/{pid}/task/{tid}"
    try:
        comm = open(f"{base}/comm").read().strip().replace(" ", "_")
        status = dict(line.split(":", 1) for line in open(f"{base}/status") if ":" in line)
        stat = open(f"{base}/stat").read().rsplit(")", 1)[1].split()
        run_ns = open(f"{base}/schedstat").read().split()[0]
    except OSError:
        continue  # the thread ended meanwhile
    print(tid, comm, status["voluntary_ctxt_switches"].strip(), status["nonvoluntary_ctxt_switches"].strip(),
          int(stat[11]) + int(stat[12]), run_ns)
EOF
}

# The difference of two snapshots over SECONDS, with the process's own utime+stime ticks.
report() {
    "$python" - "$@" <<'EOF'
import os, sys
label, before_file, after_file, seconds, ticks0, ticks1 = sys.argv[1:7]
seconds = float(seconds)
hz = os.sysconf("SC_CLK_TCK")
def load(path):
    rows = {}
    for line in open(path):
        tid, comm, vol, invol, ticks, run_ns = line.split()
        rows[tid] = (comm, int(vol), int(invol), int(ticks), int(run_ns))
    return rows
before, after = load(before_file), load(after_file)
threads = []
for tid, (comm, vol, invol, ticks, run_ns) in after.items():
    v0, i0, n0 = before.get(tid, (comm, 0, 0, 0, 0))[1], before.get(tid, (comm, 0, 0, 0, 0))[2], before.get(tid, (comm, 0, 0, 0, 0))[4]
    threads.append((vol - v0, invol - i0, run_ns - n0, tid, comm, tid not in before))
switches = sum(t[0] + t[1] for t in threads)
run_ns = sum(t[2] for t in threads)
stat_ms = (int(ticks1) - int(ticks0)) * 1000 / hz
print(f"RESULT {label} ctxt_switches_per_s={switches / seconds:.2f} cpu_ms_per_min={stat_ms * 60 / seconds:.1f} "
      f"cpu_ms_per_min_schedstat={run_ns / 1e6 * 60 / seconds:.2f} threads={len(after)} window_s={seconds:.1f}")
print(f"# {label}: threads that woke (switches/s voluntary+involuntary, CPU ms/min), busiest first:")
for vol, invol, ns, tid, comm, new in sorted(threads, key=lambda t: -(t[0] + t[1])):
    if vol + invol == 0:
        continue
    print(f"#   {comm:<24} tid {tid:<8} {(vol + invol) / seconds:8.2f}/s ({vol} + {invol})  {ns / 1e6 * 60 / seconds:7.2f} ms/min{'  (started in the window)' if new else ''}")
silent = [t[4] for t in threads if t[0] + t[1] == 0]
if silent:
    print(f"#   silent: {len(silent)} threads ({', '.join(sorted(set(silent)))})")
EOF
}

# Notify socket listener: records what serve sends to $NOTIFY_SOCKET (READY=1, WATCHDOG=1, …).
notify_listener() {
    exec "$python" - "$1" "$2" <<'EOF'
import socket, sys
path, out = sys.argv[1:3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a", buffering=1) as f:
    f.write("listening\n")
    while True:
        f.write(s.recv(4096).decode(errors="replace").replace("\n", " ") + "\n")
EOF
}

echo "# machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# idle window ${idle}s after READY=1, broker connected and ${settle}s settling; no XMPP sessions, no readings"
others="$(pgrep -a -f 'swift-frontend|swift-build|agora serve|xmpp_load|load_pub' | cut -c1-120 || true)"
[ -n "$others" ] && printf '# warning: other processes that may compete for the cores:\n%s\n' "$others" | head -5 >&2

measure() {
    local label=$1 bin=$2
    local dir="$work/$label" state="$work/$label/state"
    mkdir -p "$dir"; chmod 755 "$dir"
    local port; port=$(free_ports)
    "$bin" init --domain idle.test --state-dir "$state" > "$dir/setup.log" 2>&1
    "$bin" broker-config --state-dir "$state" --out "$dir/broker" --port-tls "$port" --port-pair $((port + 1)) >> "$dir/setup.log" 2>&1
    mosquitto -c "$dir/broker/mosquitto.conf" > "$dir/mosquitto.log" 2>&1 & local broker=$!; pids+=($broker)
    notify_listener "$dir/notify.sock" "$dir/notify.log" & local listener=$!; pids+=($listener)
    wait_for "$dir/notify.log" listening "$listener"
    NOTIFY_SOCKET="$dir/notify.sock" WATCHDOG_USEC=30000000 \
    AGORA_XMPP_C2S_PORT=$((port + 2)) AGORA_XMPP_TLS_PORT=$((port + 3)) AGORA_XMPP_BIND_ADDRESS=127.0.0.1 \
        "$bin" serve --state-dir "$state" --client-id "client:idle-$label" > "$dir/serve.log" 2>&1 & local serve=$!; pids+=($serve)
    wait_for "$dir/notify.log" "READY=1" "$serve"
    wait_for "$dir/serve.log" "subscribed to sensor readings" "$serve"
    sleep "$settle"
    local t0 t1 k0 k1
    snapshot "$serve" > "$dir/before.txt"; k0=$(sed 's/.*) //' "/proc/$serve/stat" | awk '{print $12 + $13}'); t0=$(date +%s.%N)
    sleep "$idle"
    snapshot "$serve" > "$dir/after.txt"; k1=$(sed 's/.*) //' "/proc/$serve/stat" | awk '{print $12 + $13}'); t1=$(date +%s.%N)
    report "$label" "$dir/before.txt" "$dir/after.txt" "$(awk -v s="$t0" -v e="$t1" 'BEGIN {print e - s}')" "$k0" "$k1"
    grep -q "connected to the broker" "$dir/serve.log" || echo "# $label: the broker connection was lost during the window" >&2
    kill -TERM "$serve" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$serve" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$serve" "$broker" "$listener" 2>/dev/null || true
    wait "$serve" "$broker" "$listener" 2>/dev/null || true
}

if [ -x "$baseline_bin" ]; then
    echo "# baseline: $baseline_bin"
    measure baseline "$baseline_bin"
else
    echo "# baseline $baseline_bin missing: skipped" >&2
fi
echo "# new: $new_bin"
measure new "$new_bin"
