#!/usr/bin/env bash
# Issue 8 soak: `agora serve` under steady load for SECONDS (default 600) — 1000 XMPP sessions
# that each send a XEP-0199 ping every second (STARTTLS, SCRAM-SHA-1, certificate checked) and
# 5000 SenML readings/s over MQTT QoS 1 through a real Mosquitto (5000 packs/s of one record by
# default) — while sampling serve's memory (VmRSS, RssAnon, RssFile) and open file descriptors
# every 10 s. At the end: readings stored = readings sent, pings answered = pings sent, the log's
# warning/error lines grouped by message, and `agora ledger verify --replay`. Prints one summary
# block; the CSV, logs and summary stay in Benchmarks/results/soak-<UTC time>/.
#
# Usage: Benchmarks/soak/run.sh [SECONDS]
# Environment:
#   AGORA_BIN            agora binary (default: `swift build -c release --product agora`, then
#                        .build/release/agora)
#   SOAK_SESSIONS (1000) SOAK_PING_INTERVAL (1 s per session)  SOAK_USERS (500 accounts)
#   SOAK_RATE (5000 readings/s)  SOAK_RECORDS (1 reading per pack; 5 gives 1000 packs/s of 5)
#   SOAK_SAMPLE (10 s between samples)  SOAK_WARMUP (60 s: the "start" sample)
#   SOAK_TLS (1; 0: plaintext c2s, as in the XMPP benchmark)
#   BENCH_DIR (/var/tmp, scratch)  KEEP=1 keeps the scratch directory (state, broker files)
# Needs gcc, libssl-dev, libmosquitto-dev, mosquitto (/usr/sbin/mosquitto), openssl, python3, ss.
# Exit status: 0 when every check passed, 1 when one failed (the summary says which).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
source Scripts/env.sh

seconds="${1:-600}"
sessions="${SOAK_SESSIONS:-1000}"
interval="${SOAK_PING_INTERVAL:-1}"
users="${SOAK_USERS:-500}"
rate="${SOAK_RATE:-5000}"
records="${SOAK_RECORDS:-1}"
sample_every="${SOAK_SAMPLE:-10}"
warmup="${SOAK_WARMUP:-60}"
tls="${SOAK_TLS:-1}"
domain=soak.test
password=soak-password-0123
sensor=soak-1
[ "$seconds" -gt 0 ] 2>/dev/null || { echo "usage: $0 [SECONDS]" >&2; exit 2; }
[ $((rate % records)) -eq 0 ] || { echo "SOAK_RATE must be a multiple of SOAK_RECORDS" >&2; exit 2; }
packs_per_s=$((rate / records))
packs=$((packs_per_s * seconds))

need() { command -v "$1" >/dev/null || { echo "missing $1: apt-get install -y $2" >&2; exit 1; }; }
need gcc gcc
need openssl openssl
need python3 python3
need ss iproute2
[ -x /usr/sbin/mosquitto ] || { echo "missing /usr/sbin/mosquitto: apt-get install -y mosquitto" >&2; exit 1; }
[ -f /usr/include/openssl/ssl.h ] || { echo "missing OpenSSL headers: apt-get install -y libssl-dev" >&2; exit 1; }
[ -f /usr/include/mosquitto.h ] || { echo "missing libmosquitto headers: apt-get install -y libmosquitto-dev" >&2; exit 1; }

if [ -n "${AGORA_BIN:-}" ]; then
    agora="$AGORA_BIN"
else
    echo "# building: swift build -c release --product agora" >&2
    swift build -c release --product agora >&2
    agora="$root/.build/release/agora"
fi
[ -x "$agora" ] || { echo "missing $agora" >&2; exit 1; }

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="$root/Benchmarks/results/soak-$stamp"
mkdir -p "$out"
work="$(mktemp -d "${BENCH_DIR:-/var/tmp}/agora-soak-XXXXXX")"
chmod 755 "$work" # the broker runs as its own user and must reach its files
pids=() # processes started here, killed by id on exit
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    if [ "${KEEP:-0}" = 1 ]; then echo "# kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
gcc -O2 -Wall -DXMPP_LOAD_TLS -o "$work/xmpp_load" Benchmarks/xmpp/xmpp_load.c -lssl -lcrypto
gcc -O2 -Wall -o "$work/load_pub" Benchmarks/mqtt/load_pub.c -lmosquitto

# ---------------------------------------------------------------------------------------------
# State: accounts, one sensor with its certificate, the broker.
export AGORA_STATE_DIR="$work/state"
"$agora" init --domain "$domain" > "$work/init.log" 2>&1
printf '%s\n' "$password" | "$agora" user add-many --prefix u --count "$users" --role consumer --password-stdin \
    > "$work/users.log" 2>&1
printf '%s\n' "$password" | "$agora" user add "owner@$domain" --role owner --password-stdin >> "$work/users.log" 2>&1
"$agora" sensor add "$sensor" --owner "owner@$domain" --kind pm25 --price 1 --unit ug/m3 > /dev/null
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$work/sensor.key" \
    -out "$work/sensor.csr" -subj "/CN=$sensor" 2>/dev/null
"$agora" ca sign "$work/sensor.csr" --for "sensor:$sensor" > "$work/sensor.pem" 2>/dev/null
"$agora" ca show > "$work/ca.pem"

free_port() { # a random loopback port nobody listens on
    local p
    while :; do
        p=$((20000 + RANDOM % 30000))
        ss -Hltn "sport = :$p" | grep -q LISTEN || { echo "$p"; return; }
    done
}
wait_port() {
    for _ in $(seq 600); do ss -Hltn "sport = :$1" | grep -q LISTEN && return 0; sleep 0.1; done
    echo "port $1 never opened" >&2
    return 1
}
wait_for() { # FILE TEXT: at most 60 s
    for _ in $(seq 1200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    echo "gave up waiting for '$2' in $1" >&2
    tail -20 "$1" >&2
    return 1
}
mqtt_port=$(free_port)
"$agora" broker-config --out "$work/broker" --port-tls "$mqtt_port" --port-pair $((mqtt_port + 1)) > /dev/null
/usr/sbin/mosquitto -c "$work/broker/mosquitto.conf" > "$out/mosquitto.log" 2>&1 &
broker_pid=$!
pids+=("$broker_pid")
wait_port "$mqtt_port"

# ---------------------------------------------------------------------------------------------
# agora serve: the shipped defaults, but loopback ports, no direct-TLS listener and no per-address
# connection rate limit (every session comes from 127.0.0.1).
c2s_port=$(free_port)
xmpp_env=(AGORA_XMPP_C2S_PORT="$c2s_port" AGORA_XMPP_TLS_PORT=0 AGORA_XMPP_BIND_ADDRESS=127.0.0.1
    AGORA_XMPP_CONNECTION_RATE=0 AGORA_QUOTAS_LEDGER_WRITES_PER_MINUTE=0)  # load far above the per-account quota
tls_args=(--starttls --tls-ca "$work/ca.pem")
if [ "$tls" = 0 ]; then
    xmpp_env+=(AGORA_XMPP_TLS_REQUIRED=false)
    tls_args=()
fi
env "${xmpp_env[@]}" "$agora" serve > "$out/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
wait_for "$out/serve.log" "subscribed to sensor readings"
wait_port "$c2s_port"
sleep 1

# ---------------------------------------------------------------------------------------------
# Sampling: every SOAK_SAMPLE s one CSV row — serve's memory, fds, threads, CPU of serve, the broker,
# the load generators and everything else on the machine (% of one core over the interval), and the
# readings stored so far.
csv="$out/samples.csv"
# store_map_rss_kb: the part of VmRSS that is the LMDB store's memory map (agora.mdb, from smaps);
# rss_rest_kb = rss_kb - store_map_rss_kb. store_used_kb and map_kb: `agora status` (usedBytes, mapSize).
echo "t_s,rss_kb,rss_anon_kb,rss_file_kb,store_map_rss_kb,rss_rest_kb,vm_size_kb,fds,threads,serve_cpu_pct,broker_cpu_pct,gen_cpu_pct,other_cpu_pct,readings_stored,ledger_entries,store_used_kb,map_kb,loadavg1" > "$csv"
ticks() { [ -r "/proc/$1/stat" ] && sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}' || echo 0; }
machine_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
status_field() { "$agora" status --json 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])" 2>/dev/null || echo -1; }
gen_pids=()
sampler() {
    local t0="$1" hz prev_t prev_s prev_b prev_g prev_m
    hz=$(getconf CLK_TCK)
    gen_ticks() { local s=0 p; for p in "${gen_pids[@]}"; do s=$((s + $(ticks "$p"))); done; echo "$s"; }
    prev_t=$(date +%s.%N); prev_s=$(ticks "$serve_pid"); prev_b=$(ticks "$broker_pid"); prev_g=$(gen_ticks); prev_m=$(machine_ticks)
    while kill -0 "$serve_pid" 2>/dev/null; do
        local now s b g m st fds thr json mdb
        now=$(date +%s.%N)
        s=$(ticks "$serve_pid"); b=$(ticks "$broker_pid"); g=$(gen_ticks); m=$(machine_ticks)
        st=$(awk '/^VmRSS:/{r=$2} /^RssAnon:/{a=$2} /^RssFile:/{f=$2} /^VmSize:/{v=$2} /^Threads:/{t=$2}
                  END {print r "," a "," f "," v "," t}' "/proc/$serve_pid/status" 2>/dev/null) || break
        fds=$(ls "/proc/$serve_pid/fd" 2>/dev/null | wc -l)
        mdb=$(awk '/^[0-9a-f]+-[0-9a-f]+ / {m = ($NF ~ /agora\.mdb$/)} m && /^Rss:/ {s += $2} END {print s + 0}' \
            "/proc/$serve_pid/smaps" 2>/dev/null || echo 0)
        json=$("$agora" status --json 2>/dev/null || echo '{}')
        python3 - "$now" "$t0" "$prev_t" "$st" "$fds" "$s" "$prev_s" "$b" "$prev_b" "$g" "$prev_g" "$m" "$prev_m" "$hz" "$json" "$mdb" <<'EOF' >> "$csv"
import json, sys
now, t0, pt = map(float, sys.argv[1:4])
rss, anon, file_, vsz, thr = sys.argv[4].split(",")
fds = sys.argv[5]
s, ps, b, pb, g, pg, m, pm = map(float, sys.argv[6:14])
g = max(g, pg)  # a load generator that exited no longer counts: no negative interval
hz = float(sys.argv[14])
try:
    st = json.loads(sys.argv[15])
except ValueError:
    st = {}
el = max(now - pt, 1e-3)
pct = lambda d: 100 * d / hz / el
other = max(0.0, (m - pm) - (s - ps) - (b - pb) - (g - pg))
load = open("/proc/loadavg").read().split()[0]
mdb = int(sys.argv[16])
print(f"{now - t0:.1f},{rss},{anon},{file_},{mdb},{int(rss) - mdb},{vsz},{fds},{thr},{pct(s - ps):.1f},{pct(b - pb):.1f},"
      f"{pct(g - pg):.1f},{pct(other):.1f},{st.get('readings', -1)},{st.get('ledgerEntries', -1)},"
      f"{st.get('usedBytes', -1024) // 1024},{st.get('mapSize', -1024) // 1024},{load}")
EOF
        prev_t=$now; prev_s=$s; prev_b=$b; prev_g=$g; prev_m=$m
        # sleep to the next multiple of the sample interval after t0
        local next
        next=$(python3 -c "import math,sys; t0,n,i=map(float,sys.argv[1:]); k=math.floor((n-t0)/i)+1; print(max(0.0,t0+k*i-n))" \
            "$t0" "$(date +%s.%N)" "$sample_every")
        sleep "$next"
        [ -e "$work/stop-sampling" ] && break
    done
}

echo "# machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# agora: $("$agora" version) ($agora); soak of ${seconds}s: $sessions XMPP sessions ($( [ "$tls" = 0 ] && echo plaintext || echo STARTTLS)), one ping each per ${interval}s; $rate readings/s as $packs_per_s packs/s of $records over MQTT QoS 1"
others="$(pgrep -a -f 'swift-frontend|swift-build|swift-test|xctest|afl-|libfuzzer|-fuzz' | cut -c1-120 | head -5 || true)"
[ -n "$others" ] && printf '# other work on the machine (competes for the cores):\n%s\n' "$others"

# XMPP sessions first (logins take a few seconds), then the publisher; t = 0 when both run. The
# sessions keep pinging 5 s longer than the publisher publishes, so that the sample at t = SECONDS
# still sees both loads.
"$work/xmpp_load" soak --port "$c2s_port" --domain "$domain" --password "$password" --users "$users" \
    --sessions "$sessions" --interval "$interval" --seconds $((seconds + 5)) --server-pid "$serve_pid" \
    --key-cache "$work/keys.cache" "${tls_args[@]}" > "$out/xmpp_load.log" 2> "$out/xmpp_load.err" &
xmpp_pid=$!
pids+=("$xmpp_pid")
wait_for "$out/xmpp_load.log" ALL_UP || { cat "$out/xmpp_load.err" >&2; exit 1; }
"$work/load_pub" localhost "$mqtt_port" "$work/broker/ca.pem" "$work/sensor.pem" "$work/sensor.key" \
    "agora/sensors/$sensor/senml" "$packs" 1 "$packs_per_s" "$records" > "$out/load_pub.log" 2>&1 &
pub_pid=$!
pids+=("$pub_pid")
gen_pids=("$xmpp_pid" "$pub_pid")
t0=$(date +%s.%N)
sampler "$t0" &
sampler_pid=$!
pids+=("$sampler_pid")

xmpp_rc=0; wait "$xmpp_pid" || xmpp_rc=$?
pub_rc=0; wait "$pub_pid" || pub_rc=$?
t_load_end=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$(date +%s.%N)")
sent_readings=$(( $(sed -n 's/^published \([0-9]*\) .*/\1/p' "$out/load_pub.log" || echo 0) * records ))
# All acknowledged at QoS 1 means the broker has them; wait (60 s at most) until serve stored them.
stored=$(status_field readings)
for _ in $(seq 120); do
    [ "$stored" -ge "$sent_readings" ] && break
    sleep 0.5
    stored=$(status_field readings)
done
sleep "$sample_every" # one more sample, idle after the load
touch "$work/stop-sampling"
wait "$sampler_pid" 2>/dev/null || true
fds_final=$(ls "/proc/$serve_pid/fd" | wc -l)
kill -TERM "$serve_pid"
serve_rc=0; wait "$serve_pid" || serve_rc=$?
kill -TERM "$broker_pid" 2>/dev/null || true
wait "$broker_pid" 2>/dev/null || true
stored=$(status_field readings)
verify_rc=0
"$agora" ledger verify --replay > "$out/verify.log" 2>&1 || verify_rc=$?

# ---------------------------------------------------------------------------------------------
# Summary (also in $out/summary.txt).
python3 - "$csv" "$out" "$warmup" "$t_load_end" "$sent_readings" "$stored" "$xmpp_rc" "$pub_rc" "$serve_rc" \
    "$verify_rc" "$seconds" "$fds_final" <<'EOF' | tee "$out/summary.txt"
import csv, re, sys
from collections import Counter
path, out, warmup, t_end, sent, stored, xmpp_rc, pub_rc, serve_rc, verify_rc, seconds, fds_final = sys.argv[1:]
warmup, t_end, seconds = float(warmup), float(t_end), float(seconds)
sent, stored = int(sent), int(stored)
rows = [r for r in csv.DictReader(open(path))]
for r in rows:
    for k in r:
        r[k] = float(r[k])
load = [r for r in rows if r["t_s"] <= seconds + 0.5]        # samples while both loads ran
steady = [r for r in load if r["t_s"] >= warmup - 0.5] or load  # from the warm-up on
ok = True
problems = []

def slope(key):  # least squares, units per minute, over the steady samples
    xs = [r["t_s"] / 60 for r in steady]; ys = [r[key] for r in steady]
    n = len(xs)
    if n < 2: return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0

print("=" * 100)
print(f"soak summary  ({len(rows)} samples; load ran {t_end:.0f} s; start = first sample at >= {warmup:.0f} s, "
      f"end = last sample under load)")
s, e = steady[0], steady[-1]
print(f"{'':16} {'start':>10} {'end':>10} {'max':>10} {'end-start':>10} {'slope/min':>10}   (t {s['t_s']:.0f} s -> {e['t_s']:.0f} s)")
for key, unit, name in [("rss_kb", "KB", "VmRSS"), ("rss_anon_kb", "KB", "RssAnon"), ("rss_file_kb", "KB", "RssFile"),
                        ("store_map_rss_kb", "KB", "store map"), ("rss_rest_kb", "KB", "VmRSS-map"),
                        ("store_used_kb", "KB", "store used"), ("fds", "", "open fds"), ("threads", "", "threads")]:
    mx = max(r[key] for r in load)
    print(f"{name + (' (' + unit + ')' if unit else ''):16} {s[key]:>10.0f} {e[key]:>10.0f} {mx:>10.0f} "
          f"{e[key] - s[key]:>+10.0f} {slope(key):>+10.1f}")
after = [r for r in rows if r["t_s"] > t_end + 0.5]
if after:
    a = after[-1]
    print(f"{'idle after load':16} VmRSS {a['rss_kb']:.0f} KB, RssAnon {a['rss_anon_kb']:.0f} KB, fds {a['fds']:.0f} "
          f"(t {a['t_s']:.0f} s); fds just before SIGTERM: {fds_final}")
cpu = lambda k: sum(r[k] for r in load[1:]) / max(1, len(load) - 1)
print(f"CPU (% of one core, mean under load): serve {cpu('serve_cpu_pct'):.0f}, broker {cpu('broker_cpu_pct'):.0f}, "
      f"load generators {cpu('gen_cpu_pct'):.0f}, other work on the machine {cpu('other_cpu_pct'):.0f} "
      f"(max {max(r['other_cpu_pct'] for r in load):.0f}); load average {min(r['loadavg1'] for r in load):.2f}-{max(r['loadavg1'] for r in load):.2f}")

# Flatness. Growth over the steady window (by the fitted slope) must stay under 2 % of the start
# value, for the process's own memory: RssAnon (heap, stacks) and VmRSS without the store's map.
# The map's resident pages are the LMDB file itself (clean or written-back pages of agora.mdb,
# shared with the page cache): they grow with the data stored, as any mmap'd database's do, and
# are reported, not judged. fds must end where they started (within 2).
window_min = (e["t_s"] - s["t_s"]) / 60
for key, name, judged in [("rss_kb", "VmRSS", False), ("rss_anon_kb", "RssAnon", True), ("rss_rest_kb", "VmRSS-map", True)]:
    growth = slope(key) * window_min
    flat = growth <= 0.02 * s[key]
    print(f"{name}: fitted growth {growth:+.0f} KB over {window_min:.1f} min ({100 * growth / s[key]:+.2f} % of start) -> "
          f"{'flat' if flat else 'NOT flat'}{'' if judged else ' (store map included: not judged)'}")
    if judged and not flat: ok = False; problems.append(f"{name} grows")
if window_min > 0:
    mg, ug = slope("store_map_rss_kb") * window_min, slope("store_used_kb") * window_min
    print(f"store map resident: {mg:+.0f} KB over the window while the store grew {ug:+.0f} KB "
          f"({100 * mg / ug if ug else 0:.0f} % of it)")
fd_flat = abs(e["fds"] - s["fds"]) <= 2 and max(r["fds"] for r in steady) - min(r["fds"] for r in steady) <= 10
print(f"open fds: {s['fds']:.0f} -> {e['fds']:.0f} (range {min(r['fds'] for r in steady):.0f}-{max(r['fds'] for r in steady):.0f} "
      f"after warm-up) -> {'flat' if fd_flat else 'NOT flat'}")
if not fd_flat: ok = False; problems.append("fds not flat")

res = open(f"{out}/xmpp_load.log").read()
m = re.search(r"RESULT mode=soak .*", res)
if m:
    kv = dict(x.split("=", 1) for x in m.group(0).split()[1:] if "=" in x)
    print(f"pings: sent {kv['sent']}, answered {kv['answered']}, lost {kv['lost']} ({kv['rate']}/s over {kv['seconds']} s; "
          f"latency p50 {kv['p50_ms']} ms, p99 {kv['p99_ms']} ms, p99.9 {kv['p999_ms']} ms, max {kv['max_ms']} ms; "
          f"late {kv['late']}, schedule slips {kv['behind']})")
    if kv["sent"] != kv["answered"]: ok = False; problems.append("pings unanswered")
else:
    ok = False; problems.append(f"xmpp_load failed (exit {xmpp_rc})")
    print(f"pings: xmpp_load exit {xmpp_rc}: " + open(f"{out}/xmpp_load.err").read().strip()[-600:])
pub = open(f"{out}/load_pub.log").read().strip()
print(f"readings: sent {sent} (acknowledged at QoS 1; {pub.splitlines()[-1] if pub else 'no output'}), stored {stored} "
      f"-> {'equal' if sent == stored and sent > 0 else 'DIFFERENT'}")
if sent != stored or sent == 0 or pub_rc != "0": ok = False; problems.append("readings stored != sent")

# The log: warning and above, grouped by level and message (metadata stripped).
levels = Counter(); groups = Counter()
# swift-log's StreamLogHandler: "<time> <level> <label>: <key=value ...> [<source>] <message>"
line_re = re.compile(r"^\S+ (trace|debug|info|notice|warning|error|critical) [^:\s]+:(.*)$")
source_re = re.compile(r"(?:^| )\[[A-Za-z][A-Za-z0-9_]*\] (.*)$")
for line in open(f"{out}/serve.log", errors="replace"):
    m = line_re.match(line.rstrip("\n"))
    if not m:
        if line.strip(): groups[("?", "not a log line: " + line.strip()[:100])] += 1
        continue
    levels[m.group(1)] += 1
    if m.group(1) in ("warning", "error", "critical"):
        msg = source_re.search(m.group(2))
        groups[(m.group(1), msg.group(1) if msg else m.group(2).strip())] += 1
# Expected at warning level: none under this load. (Add patterns here, with the reason, as they are understood.)
expected = []
print(f"serve log: {sum(levels.values())} lines ({', '.join(f'{k} {v}' for k, v in sorted(levels.items()))})")
if not groups:
    print("  no warning/error lines")
for (lvl, msg), n in groups.most_common():
    exp = any(re.search(p, msg) for p, _ in expected)
    print(f"  {n:>7} {lvl:8} {msg[:110]}{'  (expected)' if exp else ''}")
    if not exp: ok = False; problems.append(f"log: {lvl} {msg[:60]}")
stop = [l for l in open(f"{out}/serve.log", errors="replace") if "agora serve stopped" in l]
if stop:  # the counters serve logs when it stops
    kv = dict(x.split("=", 1) for x in stop[-1].split() if "=" in x)
    keys = ["ingest.packs", "ingest.stored", "ingest.queue_full", "ingest.malformed", "ingest.store_failed",
            "ingest.p50_ms", "ingest.p99_ms", "store.batches", "store.failed_requests", "xmpp.connections",
            "xmpp.logins", "xmpp.auth_failures", "xmpp.stream_errors", "xmpp.iq_errors", "xmpp.refused_connections"]
    print("  serve's counters at stop (ingest.p50/p99_ms: receive to durable over the last 100 000 packs): ")
    print("                            " + " ".join(f"{k}={kv.get(k, '?')}" for k in keys[:8]))
    print("                            " + " ".join(f"{k}={kv.get(k, '?')}" for k in keys[8:]))
else:
    print("  serve logged no counters at stop")
print(f"serve exit status after SIGTERM: {serve_rc}")
if serve_rc != "0": ok = False; problems.append("serve exit status")
vlog = open(f"{out}/verify.log").read().strip().splitlines()
print(f"ledger verify --replay: exit {verify_rc}: {vlog[-1] if vlog else ''}")
if verify_rc != "0": ok = False; problems.append("ledger verify failed")
print(f"result: {'PASS' if ok else 'FAIL: ' + '; '.join(dict.fromkeys(problems))}")
print(f"files: {out}")
print("=" * 100)
sys.exit(0 if ok else 1)
EOF
