#!/usr/bin/env bash
# The job Agora exists for, end to end, in a scratch directory: a gateway and its Mosquitto
# broker start; a simulated air-quality sensor pairs with its one-time code and publishes
# readings; a consumer searches, is refused, buys a window, reads it with every proof
# verified, and checks the purchase receipt offline. Each step is printed as a person would
# type it. Everything it started is stopped at the end (or on Ctrl-C).
#
# Usage: Scripts/demo.sh [--no-build] [--agora PATH] [--scratch DIR]
#   --no-build     use .build/release/agora as it is
#   --agora PATH   use that binary for everything (e.g. Packaging/out/aarch64/agora under
#                  qemu-user: Packaging/check-aarch64.sh); implies --no-build
#   --scratch DIR  keep the state, broker, receipt and logs in DIR (made if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
build=1 agora="$repo/.build/release/agora" scratch=""
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) build=0; shift ;;
        --agora) agora="$(realpath "$2")"; build=0; shift 2 ;;
        --scratch) scratch="$2"; shift 2 ;;
        *) echo "usage: Scripts/demo.sh [--no-build] [--agora PATH] [--scratch DIR]" >&2; exit 2 ;;
    esac
done
if [ "$build" = 1 ]; then
    bash Scripts/install-deps.sh
    source Scripts/env.sh
    swift build -c release --product agora
fi
[ -x "$agora" ] || { echo "demo: no $agora (build it, or drop --no-build)" >&2; exit 1; }
# `agora` below is that binary, whatever its directory holds besides.
bin_dir="$(mktemp -d "${TMPDIR:-/tmp}/agora-demo-bin-XXXXXX")"
ln -s "$agora" "$bin_dir/agora"
export PATH="$bin_dir:$PATH"

started=$(date +%s)
if [ -n "$scratch" ]; then mkdir -p "$scratch"; scratch="$(realpath "$scratch")"; else scratch="$(mktemp -d "${TMPDIR:-/tmp}/agora-demo-XXXXXX")"; fi
# Mosquitto drops to its own user and must reach the broker directory; the state directory
# inside keeps its own 0700.
chmod 755 "$scratch"
export AGORA_STATE_DIR="$scratch/state"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$bin_dir"
}
trap cleanup EXIT INT TERM

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
say() { printf '\033[2m# %s\033[0m\n' "$*"; }
# Prints the command as typed (secrets stay in the environment), then runs it.
run() { printf '\033[1m$ %s\033[0m\n' "$*" >&2; "$@"; }

# Free ports for the broker (two listeners), XMPP and HTTP.
read -r tls_port pair_port xmpp_port http_port < <(/usr/bin/python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks: s.bind(("127.0.0.1", 0))
ports = [s.getsockname()[1] for s in socks]
for s in socks: s.close()
print(*ports)
EOF
)
# Mosquitto's two listeners must be adjacent only by convention; any two free ports do.

bold "1. The operator sets up a gateway (scratch state in $scratch)"
run agora init --domain gw.demo --name "Demo gateway" >/dev/null
run agora user add admin@gw.demo --role operator >/dev/null
run agora user add alice@gw.demo --role owner >/dev/null
printf 'bob-demo-password-1\n' | run agora user add bob@gw.demo --role consumer --password-stdin
run agora credit mint bob@gw.demo 100 --memo "welcome credits"
run agora broker-config --out "$scratch/broker" --port-tls "$tls_port" --port-pair "$pair_port" --host localhost >/dev/null
say "the broker: Debian's mosquitto, with the configuration agora wrote"
mosquitto -c "$scratch/broker/mosquitto.conf" >"$scratch/mosquitto.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do grep -q ' running$' "$scratch/mosquitto.log" && break; sleep 0.1; done
grep -q ' running$' "$scratch/mosquitto.log" || { tail -5 "$scratch/mosquitto.log" >&2; echo "demo: mosquitto did not start" >&2; exit 1; }
say "agora serve: XMPP on $xmpp_port, HTTP (metrics, dashboard) on $http_port"
AGORA_XMPP_BIND_ADDRESS=127.0.0.1 AGORA_XMPP_C2S_PORT=$xmpp_port AGORA_XMPP_TLS_PORT=0 AGORA_HTTP_PORT=$http_port \
    "$agora" serve >"$scratch/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$http_port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$http_port/readyz" >/dev/null || { echo "demo: agora serve did not become ready; see $scratch/serve.log" >&2; exit 1; }
say "ready: listening, and the broker delivers to the gateway"

bold "2. A sensor is invited, pairs with its one-time code, and publishes"
code=$(agora sensor invite air-quai-7 --owner alice@gw.demo --kind pm25 --unit ug/m3 --price 2 \
           --name "Quai de Seine" --lat 48.856613 --lon 2.352222 --frequency 1 --ttl 1h 2>/dev/null | tail -1)
printf '\033[1m$ agora sensor invite air-quai-7 --owner alice@gw.demo --kind pm25 --price 2 --lat 48.856613 --lon 2.352222 …\033[0m\n%s\n' "$code"
say "on the sensor (typed lower-case, as people do):"
run agora device pair air-quai-7 "$(printf '%s' "$code" | tr 'A-Z' 'a-z')" --broker "localhost:$pair_port" \
    --ca "$scratch/broker/ca.pem" --out "$scratch/air-quai-7"
window_start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
run agora device publish air-quai-7 --broker "localhost:$tls_port" --dir "$scratch/air-quai-7" --every 1s --simulate pm25 --count 20
window_end=$(date -u -d "+1 second" +%Y-%m-%dT%H:%M:%SZ)

bold "3. A consumer finds the sensor, is refused, buys, and reads verified data"
export AGORA_CLIENT_PASSWORD=bob-demo-password-1
client=(--jid bob@gw.demo --ca "$AGORA_STATE_DIR/xmpp/ca.pem" --server "127.0.0.1:$xmpp_port" --known-logs "$scratch/known-logs")
run agora client search "${client[@]}" --kind pm25 --near 48.8566,2.3522,2
say "reading before buying is refused:"
run agora client read air-quai-7 "${client[@]}" --from "$window_start" --to "$window_end" || true
run agora client buy air-quai-7 "${client[@]}" --from "$window_start" --to "$window_end" --max-credits 5 --receipt "$scratch/receipt.json"
run agora client read air-quai-7 "${client[@]}" --from "$window_start" --to "$window_end"
run agora client balance "${client[@]}"

bold "4. Anyone checks the receipt offline, with the log key pinned from the gateway"
log_key=$(agora client log-key "${client[@]}" 2>/dev/null)
run agora verify-receipt "$scratch/receipt.json" --log-key "$log_key"
run /usr/bin/python3 "$repo/Tests/Interop/verify_receipt.py" "$scratch/receipt.json" "$log_key"
AGORA_HTTP_PORT=$http_port run agora status

bold "Done in $(( $(date +%s) - started )) s. Stopping mosquitto and agora serve; scratch state kept in $scratch"
