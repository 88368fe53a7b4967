#!/usr/bin/env bash
# Packaging benchmark (issue 7): what the shipped artefacts cost, side by side with Prosody
# and Mosquitto measured in the same run on the same machine.
#
#  1. size: the stripped static binary and the bytes each dependency puts in it (from the
#     linker's map, Benchmarks/size/linkmap.py), and the .deb;
#  2. time from exec to READY=1 (systemd's notify protocol, played by notify_check.py), 3 runs;
#  3. RSS of `agora serve` idle, then with N XMPP sessions (STARTTLS + SCRAM, held by
#     xmpp_sessions.py) and M registered sensors that have each published readings through a
#     real Mosquitto; VmRSS with its anonymous and file-backed parts;
#  4. the same idle RSS for Prosody (Debian's, minimal config) and Mosquitto (default config),
#     and installed sizes from dpkg;
#  5. Packaging/check-deb.sh: dpkg -i / -r / --purge in a debootstrapped Debian 12, lintian.
#
# Usage: Benchmarks/packaging/run.sh     (as root; builds the static binary if missing)
# Environment: PACKAGING_BENCH_SESSIONS (1000), PACKAGING_BENCH_SENSORS (1000),
#   PACKAGING_BENCH_SKIP_DEB=1 skips step 5, KEEP=1 keeps the scratch directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
source Scripts/env.sh
sessions="${PACKAGING_BENCH_SESSIONS:-1000}"
sensors="${PACKAGING_BENCH_SENSORS:-1000}"
arch="$(uname -m)"
binary="Packaging/out/$arch/agora"
work="$(mktemp -d /var/tmp/agora-pkgbench-XXXXXX)"
chmod 0755 "$work"   # the broker drops to its own user and reads its files here
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] && echo "kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

for p in python3-paho-mqtt prosody mosquitto; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || { apt-get update -q >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$p" >/dev/null; }
done
systemctl stop prosody mosquitto 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"   # 2 descriptors per session (client and server side), plus the rest

mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# VmRSS, RssAnon and RssFile of PID in MB: "rss anon file".
rss_of() { awk '/^VmRSS/ {r=$2} /^RssAnon/ {a=$2} /^RssFile/ {f=$2} END {printf "%.1f %.1f %.1f", r/1024, a/1024, f/1024}' "/proc/$1/status"; }
wait_port() { for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

# --- 1. Size -----------------------------------------------------------------------------------
AGORA_LINK_MAP="$work/agora.map" Packaging/build-static.sh > /dev/null
binary_bytes="$(stat -c %s "$binary")"
deb="$(Packaging/build-deb.sh 2>/dev/null)"
deb_bytes="$(stat -c %s "$deb")"
echo "== size"
echo "stripped static binary: $binary_bytes bytes ($(mb $((binary_bytes / 1024))) MB)"
size -A "$binary" | awk '$1 ~ /^\.(text|rodata|eh_frame|eh_frame_hdr|data\.rel\.ro|data)$/ {printf "  section %-14s %10d bytes\n", $1, $2}'
echo "bytes each input puts into the loaded sections (linker map; unwind tables are not attributed):"
/usr/bin/python3 Benchmarks/size/linkmap.py "$work/agora.map" | sed 's/^/  /'
echo ".deb: $deb_bytes bytes ($(mb $((deb_bytes / 1024))) MB), $(basename "$deb")"

# --- State: accounts, sensors, a broker --------------------------------------------------------
state="$work/state"
a() { "$binary" "$@" --state-dir "$state"; }
a init --domain bench.test > /dev/null
echo bench-password-1 | a user add-many --prefix u --count "$sessions" --role consumer --password-stdin > /dev/null
a user add owner@bench.test --role owner --password-stdin <<< owner-password-1 > /dev/null
a sensor add-many --prefix s --count "$sensors" --owner owner@bench.test --kind pm25 --price 1 > /dev/null
port=$((20000 + RANDOM % 20000))
a broker-config --out "$work/broker" --host 127.0.0.1 --dns localhost --port-tls "$((port + 10))" --port-pair "$((port + 11))" > /dev/null
mosquitto -c "$work/broker/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
pids+=("$!")
wait_port "$((port + 10))"
export AGORA_XMPP_C2S_PORT="$port" AGORA_XMPP_TLS_PORT="$((port + 1))" AGORA_XMPP_BIND_ADDRESS=127.0.0.1 \
    AGORA_XMPP_CONNECTION_RATE=0 AGORA_XMPP_MAX_SESSIONS=$((sessions + 100))

# --- 2. exec → READY=1 -------------------------------------------------------------------------
echo "== start"
for run in 1 2 3; do
    /usr/bin/python3 Tests/Interop/systemd/notify_check.py 300000 -- "$binary" serve --state-dir "$state" 2>/dev/null \
        | grep -o "ready_ms=[0-9]*" | sed "s/^/run $run: exec to READY=1, /; s/ready_ms=\(.*\)/\1 ms/"
done

# --- 3. RSS: idle, then loaded -----------------------------------------------------------------
"$binary" serve --state-dir "$state" > "$work/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
wait_port "$port"
sleep 3
read -r idle_rss idle_anon idle_file <<< "$(rss_of "$serve_pid")"
/usr/bin/python3 Benchmarks/packaging/xmpp_sessions.py --port "$port" --domain bench.test --ca "$state/xmpp/ca.pem" \
    --prefix u --users "$sessions" --sessions "$sessions" --password bench-password-1 > "$work/sessions.out" 2> "$work/sessions.err" &
holder_pid=$!
pids+=("$holder_pid")
for _ in $(seq 600); do grep -q '^READY' "$work/sessions.out" && break; kill -0 "$holder_pid" 2>/dev/null || break; sleep 0.5; done
grep -q '^READY' "$work/sessions.out" || { echo "sessions never came up: $(tail -3 "$work/sessions.err")" >&2; exit 1; }
# Every sensor publishes 10 readings (QoS 1) through the broker, with the gateway's own
# certificate (the ACL lets it write every sensor topic; sensors' own certificates would only
# cost the benchmark 1000 key pairs).
/usr/bin/python3 - "$((port + 10))" "$state/mqtt" "$sensors" <<'EOF'
import sys, time, paho.mqtt.client as mqtt
port, d, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = mqtt.Client(client_id="client:bench-publisher")
c.tls_set(ca_certs=d + "/ca.pem", certfile=d + "/gateway.pem", keyfile=d + "/gateway.key")
c.connect("localhost", port)
c.loop_start()
now = int(time.time()) - 60
infos = [c.publish("agora/sensors/s%d/senml" % i, '[{"bn":"s%d:","bt":%d,"n":"pm25","v":%d}' % (i, now, i)
                   + "".join(',{"n":"pm25","t":%d,"v":%d}' % (t, i + t) for t in range(1, 10)) + "]", qos=1)
         for i in range(n)]
for info in infos:
    info.wait_for_publish(30)
c.loop_stop()
EOF
for _ in $(seq 120); do
    stored="$(a status --json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["readings"])' || echo 0)"
    [ "$stored" -ge $((sensors * 10)) ] && break
    sleep 0.5
done
sleep 3
read -r load_rss load_anon load_file <<< "$(rss_of "$serve_pid")"
kill "$holder_pid" 2>/dev/null || true
echo "== RSS of agora serve"
echo "idle: VmRSS $idle_rss MB (anonymous $idle_anon MB, file-backed $idle_file MB)"
echo "with $sessions XMPP sessions (STARTTLS, SCRAM-SHA-1, bound, available) and $sensors sensors ($stored readings stored):"
echo "      VmRSS $load_rss MB (anonymous $load_anon MB, file-backed $load_file MB)"
awk -v a="$load_anon" -v b="$idle_anon" -v n="$sessions" 'BEGIN { printf "      %.1f KB anonymous per session+sensor pair\n", (a - b) * 1024 / n }'
kill "$serve_pid" 2>/dev/null || true

# --- 4. Baselines ------------------------------------------------------------------------------
echo "== baselines (same run)"
mosquitto -p "$((port + 20))" > "$work/mosquitto-idle.log" 2>&1 &
m_pid=$!
pids+=("$m_pid")
wait_port "$((port + 20))"
sleep 2
echo "mosquitto $(dpkg-query -W -f='${Version}' mosquitto) idle (default config): VmRSS/anon/file $(rss_of "$m_pid") MB"
kill "$m_pid"
pd="$work/prosody"
mkdir -p "$pd/data" "$pd/certs"
cat > "$pd/prosody.cfg.lua" <<EOF
run_as_root = true
pidfile = "$pd/prosody.pid"
data_path = "$pd/data"
certificates = "$pd/certs"
log = { { levels = { min = "warn" }, to = "file", filename = "$pd/prosody.log" } }
c2s_ports = { $((port + 30)) }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = { }
s2s_ports = { }
s2s_direct_tls_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }
VirtualHost "bench.test"
EOF
prosody --config "$pd/prosody.cfg.lua" -F > "$pd/stdout.log" 2>&1 &
p_pid=$!
pids+=("$p_pid")
wait_port "$((port + 30))"
sleep 2
echo "prosody $(dpkg-query -W -f='${Version}' prosody) idle (Debian's modules): VmRSS/anon/file $(rss_of "$p_pid") MB"
kill "$p_pid"
for p in prosody lua5.4 mosquitto libmosquitto1; do
    echo "installed size of $p: $(dpkg-query -W -f='${Installed-Size}' "$p" 2>/dev/null || echo '?') KiB"
done

# --- 5. The .deb in Debian 12 ------------------------------------------------------------------
if [ "${PACKAGING_BENCH_SKIP_DEB:-0}" != 1 ]; then
    echo "== install in a debootstrapped Debian 12"
    Packaging/check-deb.sh "$deb"
fi
