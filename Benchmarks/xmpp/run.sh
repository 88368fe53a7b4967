#!/usr/bin/env bash
# XMPP benchmark: Agora against Debian's Prosody and ejabberd, configured the same way (one
# domain on 127.0.0.1, plaintext c2s on loopback, SCRAM-SHA-1, per-connection throttles off),
# each server pinned to one core and the load generator (xmpp_load.c, raw XMPP over epoll) to
# the other. Prints one table. See Benchmarks/README.md ("XMPP") for the method.
#
# Usage: Benchmarks/xmpp/run.sh [prosody] [ejabberd] [agora]     (default: all three)
# Environment: XMPP_BENCH_SECONDS (10, per rate measurement, after a 2 s warm-up),
#   XMPP_BENCH_REPEAT (3 runs of each rate measurement; the median is reported),
#   XMPP_BENCH_USERS (500), XMPP_BENCH_IDLE (5000 idle sessions), XMPP_BENCH_LOGINS (3000),
#   XMPP_BENCH_CYCLES (1000), XMPP_BENCH_SERVER_CPU (1), XMPP_BENCH_GEN_CPU (0),
#   AGORA_BIN (.build/release/agora; not built here), BENCH_DIR (/var/tmp), KEEP=1 keeps the
#   scratch directory (configs, logs, raw RESULT lines).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"

servers=("$@")
[ ${#servers[@]} -eq 0 ] && servers=(prosody ejabberd agora)
secs="${XMPP_BENCH_SECONDS:-10}"
users="${XMPP_BENCH_USERS:-500}"
idle_sessions="${XMPP_BENCH_IDLE:-5000}"
logins="${XMPP_BENCH_LOGINS:-3000}"
cycles="${XMPP_BENCH_CYCLES:-1000}"
repeat="${XMPP_BENCH_REPEAT:-3}"
server_cpu="${XMPP_BENCH_SERVER_CPU:-1}"
gen_cpu="${XMPP_BENCH_GEN_CPU:-0}"
agora="${AGORA_BIN:-$root/.build/release/agora}"
domain=bench.test
password=bench-password-0123

for s in "${servers[@]}"; do
    case "$s" in prosody | ejabberd | agora) ;; *) echo "usage: $0 [prosody] [ejabberd] [agora]" >&2; exit 1 ;; esac
done
need() { command -v "$1" >/dev/null || { echo "missing $1: apt-get install -y $2" >&2; exit 1; }; }
need gcc gcc
need taskset util-linux
need ss iproute2
need python3 python3
[ -f /usr/include/openssl/evp.h ] || { echo "missing OpenSSL headers: apt-get install -y libssl-dev" >&2; exit 1; }
for s in "${servers[@]}"; do
    case "$s" in
    prosody) need prosody prosody ;;
    ejabberd) need ejabberdctl ejabberd; need erl erlang-base ;;
    agora) [ -x "$agora" ] || { echo "missing $agora: swift build -c release --product agora (or set AGORA_BIN)" >&2; exit 1; } ;;
    esac
done

work="$(mktemp -d "${BENCH_DIR:-/var/tmp}/agora-xmpp-bench-XXXXXX")"
pids=() # the running server's processes (started here), killed by id on exit
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    if [ "${KEEP:-0}" = 1 ]; then echo "# kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((idle_sessions + 1000)) ]; then
    echo "open-file limit $(ulimit -n) is too low for $idle_sessions sessions" >&2
    exit 1
fi

gcc -O2 -Wall -o "$work/xmpp_load" Benchmarks/xmpp/xmpp_load.c -lcrypto

# Other servers or builds on the machine skew everything: say so.
others="$(pgrep -a -f 'beam.smp|/usr/bin/prosody|swift-frontend|swift-build' | grep -v " --version" || true)"
[ -n "$others" ] && printf '# warning: other processes that may compete for the cores:\n%s\n' "$others" >&2
echo "# machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# server on CPU $server_cpu, load generator on CPU $gen_cpu; $users users, ${secs}s per rate, SCRAM-SHA-1"

port_base=$((20000 + RANDOM % 20000))

# The servers' set-up, start and stop, and the generator's wrapper: shared with Benchmarks/muc/run.sh.
source Benchmarks/xmpp/servers.sh

declare -A R
for s in "${servers[@]}"; do
    echo "# $s" >&2
    "${s}_setup"
    # Phase 1, fresh server: pings and messages (alternating, $repeat times each: runs on this
    # VM vary by ±20 %, the median is kept), $cycles login/logout cycles, pings again.
    "${s}_start"
    wait_server_idle
    : > "$work/p.txt"
    : > "$work/m.txt"
    ok=1
    for _ in $(seq "$repeat"); do
        gen "$s" pings --sessions 50 --inflight 16 --seconds "$secs" >> "$work/p.txt" || { ok=0; break; }
        gen "$s" messages --pairs 25 --inflight 16 --seconds "$secs" >> "$work/m.txt" || { ok=0; break; }
    done
    [ $ok = 1 ] || { stop_server; continue; }
    store "$s.pings" "$(median < "$work/p.txt")"
    store "$s.messages" "$(median < "$work/m.txt")"
    r=$(gen "$s" cycles --n "$cycles" --conc 1) || { stop_server; continue; }
    R[$s.cycles]=$(field rate "$r")
    : > "$work/p.txt"
    for _ in $(seq "$repeat"); do
        gen "$s" pings --sessions 50 --inflight 16 --seconds "$secs" >> "$work/p.txt" || { ok=0; break; }
    done
    [ $ok = 1 ] || { stop_server; continue; }
    store "$s.pings_after" "$(median < "$work/p.txt")"
    stop_server
    # Phase 2, fresh server (the key cache is warm: no PBKDF2 in the generator): login rate.
    "${s}_start"
    wait_server_idle
    r=$(gen "$s" logins --n "$logins" --conc 50) || { stop_server; continue; }
    R[$s.logins]=$(field rate "$r")
    R[$s.logins_cpu]=$(cpu "$r")
    stop_server
    # Phase 3, fresh server: RSS per idle authenticated session.
    "${s}_start"
    wait_server_idle
    r=$(gen "$s" idle --sessions "$idle_sessions" --conc 100 --settle 5) || { stop_server; continue; }
    R[$s.rss_idle]=$(field rss_before_kb "$r")
    R[$s.idle_after]=$(field rss_after_kb "$r")
    R[$s.per_session]=$(field per_session_kb "$r")
    stop_server
done

echo
echo "| server | logins/s | pings/s | messages/s | idle RSS | KB per idle session ($idle_sessions) | pings/s after $cycles cycles | after/before |"
echo "|---|---|---|---|---|---|---|---|"
for s in "${servers[@]}"; do
    pb="${R[$s.pings]:-}"
    pa="${R[$s.pings_after]:-}"
    ratio=""
    [ -n "$pb" ] && [ -n "$pa" ] && ratio=$(awk -v a="$pa" -v b="$pb" 'BEGIN { printf "%.2f", a / b }')
    idle=""
    [ -n "${R[$s.rss_idle]:-}" ] && idle=$(awk -v k="${R[$s.rss_idle]}" 'BEGIN { printf "%.1f MB", k / 1024 }')
    echo "| $s | ${R[$s.logins]:-—} | ${pb:-—} | ${R[$s.messages]:-—} | ${idle:-—} | ${R[$s.per_session]:-—} | ${pa:-—} | ${ratio:-—} |"
done
echo
[ -f "$work/disturbed.txt" ] && sed 's/^/warning: disturbed measurement: /' "$work/disturbed.txt"
echo "Ranges over the $repeat runs, and CPU of the median run in % of one core (generator/server/everything else):"
for s in "${servers[@]}"; do
    echo "- $s: pings ${R[$s.pings_range]:-—} (${R[$s.pings_cpu]:-—}), messages ${R[$s.messages_range]:-—} (${R[$s.messages_cpu]:-—}), pings after cycles ${R[$s.pings_after_range]:-—}; logins ${R[$s.logins_cpu]:-—}; sequential cycles ${R[$s.cycles]:-—}/s; RSS before/after $idle_sessions idle sessions: ${R[$s.rss_idle]:-—}/${R[$s.idle_after]:-—} kB"
done
