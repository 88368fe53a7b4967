#!/usr/bin/env bash
# Issue 18's /metrics goal: a scrape of `agora serve` with 1000 sensors (each with readings,
# through a real Mosquitto) and 1000 XMPP sessions takes < 10 ms and, at Prometheus' 15 s
# interval, < 1 % of a core. Side by side in the same run: Prosody's own mod_http_openmetrics
# (Debian's Prosody 0.12) holding the same 1000 sessions, scraped the same way.
#
# For each server: SCRAPES scrapes one after another with curl (time_total: connect, request,
# the whole body), then p50/p99/max; CPU per scrape from /proc/PID/stat (utime+stime, 10 ms
# ticks) over the scrapes minus the same span idle, and that as a share of a core at one
# scrape per 15 s. Also: the exposition's size and series count, and the dashboard's page
# weight (login page, dashboard page, script, style, and /api/overview as an operator sees it).
#
# Usage: Benchmarks/metrics/run.sh     (as root: it raises the descriptor limit)
# Environment: AGORA_BIN (.build-release/release/agora; build it with
#   `swift build -c release --scratch-path .build-release --product agora`), METRICS_BENCH_SENSORS
#   (1000), METRICS_BENCH_SESSIONS (1000), SCRAPES (200), KEEP=1 keeps the scratch directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
agora="${AGORA_BIN:-$root/.build-release/release/agora}"
sensors="${METRICS_BENCH_SENSORS:-1000}"
sessions="${METRICS_BENCH_SESSIONS:-1000}"
scrapes="${SCRAPES:-200}"
python=/usr/bin/python3
[ -x "$agora" ] || { echo "missing $agora (see the usage above)" >&2; exit 1; }
for p in prosody mosquitto curl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || { apt-get update -q >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$p" >/dev/null; }
done
systemctl stop prosody mosquitto 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"

work="$(mktemp -d /var/tmp/agora-metrics-bench-XXXXXX)"
chmod 0755 "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
wait_port() { for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz="$(getconf CLK_TCK)"

# hold_sessions NAME PORT CA: $sessions XMPP sessions (STARTTLS, SCRAM) held open in the background
# by xmpp_sessions.py (its pid in $holder) once every one is bound.
hold_sessions() {
    local name="$1" port="$2" ca="$3"
    "$python" Benchmarks/packaging/xmpp_sessions.py --port "$port" --domain bench.test --ca "$ca" \
        --prefix u --users "$sessions" --sessions "$sessions" --password bench-password-1 > "$work/$name-sessions.out" 2> "$work/$name-sessions.err" &
    holder=$!
    pids+=("$holder")
    for _ in $(seq 600); do grep -q '^READY' "$work/$name-sessions.out" && break; kill -0 "$holder" 2>/dev/null || break; sleep 0.5; done
    grep -q '^READY' "$work/$name-sessions.out" || { echo "$name: sessions never came up: $(tail -3 "$work/$name-sessions.err")" >&2; exit 1; }
}

# scrape NAME PID URL: SCRAPES timed scrapes, then the same span idle, and the summary line.
scrape() {
    local name="$1" pid="$2" url="$3"
    curl -sf "$url" > "$work/$name.metrics" || { echo "$name: $url does not answer" >&2; exit 1; }
    local t0 c0 t1 c1 c2
    t0="$(date +%s.%N)"; c0="$(ticks "$pid")"
    for _ in $(seq "$scrapes"); do curl -s -o /dev/null -w '%{time_total}\n' "$url"; done > "$work/$name.times"
    t1="$(date +%s.%N)"; c1="$(ticks "$pid")"
    sleep "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
    c2="$(ticks "$pid")"
    sort -n "$work/$name.times" | awk -v name="$name" -v n="$scrapes" -v busy="$((c1 - c0))" -v idle="$((c2 - c1))" -v hz="$hz" \
        -v bytes="$(stat -c %s "$work/$name.metrics")" -v series="$(grep -vc '^#' "$work/$name.metrics")" '
        { t[NR] = $1 * 1000 }
        END {
            cpu = (busy - idle) * 1000 / hz / n; if (cpu < 0) cpu = 0
            printf "%-8s scrape p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms | CPU %5.2f ms/scrape = %.3f %% of a core at 15 s | %d bytes, %d series\n",
                name, t[int(n * 0.5)], t[int(n * 0.99)], t[n], cpu, cpu / 15000 * 100, bytes, series
            printf "%s_p50=%f\n%s_cpu=%f\n", name, t[int(n * 0.5)], name, cpu > "/dev/stderr"
        }' 2>> "$work/summary"
}

# --- Agora: accounts, sensors with readings, the broker connected, sessions -------------------
state="$work/state"
a() { "$agora" "$@" --state-dir "$state"; }
a init --domain bench.test > /dev/null
echo bench-password-1 | a user add-many --prefix u --count "$sessions" --role consumer --password-stdin > /dev/null
echo operator-password-1 | a user add op@bench.test --role operator --password-stdin > /dev/null
a user add owner@bench.test --role owner > /dev/null
a sensor add-many --prefix s --count "$sensors" --owner owner@bench.test --kind pm25 --price 1 --frequency 60 > /dev/null
# Ten readings per sensor over the last hour, stored as an operator's backfill would store them
# (one readings.commit each): the broker binds every client id to its certificate, so one
# publisher cannot speak for 1000 sensors, and 1000 sensor certificates would only cost time.
now=$(( $(date +%s) - 3600 ))
for i in $(seq 0 $((sensors - 1))); do
    "$python" -c "import sys; print('[' + ','.join('{\"n\":\"pm25\",\"t\":%d,\"v\":%d}' % ($now + 360 * t, $i + t) for t in range(10)) + ']')" \
        | a readings ingest --sensor "s$i" - > /dev/null
done
port=$((20000 + RANDOM % 20000))
a broker-config --out "$work/broker" --host 127.0.0.1 --dns localhost --port-tls "$((port + 10))" --port-pair "$((port + 11))" > /dev/null
mosquitto -c "$work/broker/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
pids+=("$!")
wait_port "$((port + 10))"
export AGORA_XMPP_C2S_PORT="$port" AGORA_XMPP_TLS_PORT="$((port + 1))" AGORA_XMPP_BIND_ADDRESS=127.0.0.1 \
    AGORA_XMPP_CONNECTION_RATE=0 AGORA_XMPP_MAX_SESSIONS=$((sessions + 100)) AGORA_HTTP_PORT="$((port + 2))"
"$agora" serve --state-dir "$state" > "$work/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
wait_port "$((port + 2))"
hold_sessions agora "$port" "$state/xmpp/ca.pem"
stored="$(a status --json | "$python" -c 'import json,sys; print(json.load(sys.stdin)["readings"])')"
sleep 2
echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); steal now: $(awk '/^cpu / {print $9}' /proc/stat) ticks"
echo "# agora: $sensors sensors, ${stored:-0} readings stored, $(curl -s "http://127.0.0.1:$((port + 2))/metrics" | awk '/^agora_xmpp_sessions\{state="bound"\}/ {print $2}') XMPP sessions bound"
scrape agora "$serve_pid" "http://127.0.0.1:$((port + 2))/metrics"

# The dashboard's page weight, as an operator loads it (sensors table capped at 500 rows).
jar="$work/cookies"
curl -s -c "$jar" -o /dev/null -d "account=op@bench.test&password=operator-password-1" -H "Origin: http://127.0.0.1:$((port + 2))" "http://127.0.0.1:$((port + 2))/login"
total=0
for path in / /dashboard.js /dashboard.css /api/overview; do
    size="$(curl -s -b "$jar" -o /dev/null -w '%{size_download}' "http://127.0.0.1:$((port + 2))$path")"
    gz="$(curl -s -b "$jar" "http://127.0.0.1:$((port + 2))$path" | gzip -9 | wc -c)"
    printf "# dashboard %-14s %7d bytes (%6d gzipped)\n" "$path" "$size" "$gz"
    total=$((total + size))
done
echo "# dashboard page weight: $total bytes transferred (no compression on the wire)"
login_size="$(curl -s -o /dev/null -w '%{size_download}' "http://127.0.0.1:$((port + 2))/")"
echo "# login page: $login_size bytes (+ dashboard.css)"
kill "$holder" 2>/dev/null || true
kill "$serve_pid" 2>/dev/null || true

# --- Prosody: the same sessions, its mod_http_openmetrics ---------------------------------------
pd="$work/prosody"
mkdir -p "$pd/data/bench%2etest/accounts" "$pd/certs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.test \
    -addext subjectAltName=DNS:bench.test -keyout "$pd/certs/bench.test.key" -out "$pd/certs/bench.test.crt" 2> /dev/null
for i in $(seq 0 $((sessions - 1))); do printf 'return {\n\t["password"] = "bench-password-1";\n};\n' > "$pd/data/bench%2etest/accounts/u$i.dat"; done
cat > "$pd/prosody.cfg.lua" <<CFG
run_as_root = true
pidfile = "$pd/prosody.pid"
data_path = "$pd/data"
certificates = "$pd/certs"
authentication = "internal_plain"
log = { { levels = { min = "warn" }, to = "file", filename = "$pd/prosody.log" } }
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "http_openmetrics" }
statistics = "internal"
statistics_interval = "manual"
c2s_ports = { $((port + 30)) }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = { }
s2s_ports = { }
s2s_direct_tls_ports = { }
component_ports = { }
http_ports = { $((port + 31)) }
http_interfaces = { "127.0.0.1" }
https_ports = { }
limits = { c2s = { rate = "100mb/s" } }
VirtualHost "bench.test"
CFG
prosody --config "$pd/prosody.cfg.lua" -F > "$pd/stdout.log" 2>&1 &
p_pid=$!
pids+=("$p_pid")
wait_port "$((port + 30))"
hold_sessions prosody "$((port + 30))" "$pd/certs/bench.test.crt"
sleep 2
echo "# prosody $(dpkg-query -W -f='${Version}' prosody): $(curl -s "http://127.0.0.1:$((port + 31))/metrics" | awk '/^prosody_mod_c2s__connections\{.*type="c2s".*\}/ {s += $2} END {print s + 0}') c2s connections"
scrape prosody "$p_pid" "http://127.0.0.1:$((port + 31))/metrics"
kill "$holder" 2>/dev/null || true
source "$work/summary"
awk -v a="$agora_p50" -v p="$prosody_p50" -v ac="$agora_cpu" -v pc="$prosody_cpu" \
    'BEGIN { printf "ratio agora/prosody: scrape p50 %.2f x, CPU per scrape %s\n", a / p, (pc > 0 ? sprintf("%.2f x", ac / pc) : "n/a (prosody under one tick)") }'
