#!/usr/bin/env bash
# Checks the shipped artefacts (issue 7), where the tools exist here:
#  1. the binary is static (ldd: "not a dynamic executable") and its size;
#  2. it runs `version` (stamped with the git commit), `init` and `serve` in a chroot holding
#     only itself, its state directory and /proc: a slixmpp client outside logs in and gets its
#     XMPP ping answered, and a reading published by mosquitto_pub outside, through a Mosquitto
#     outside configured by `agora broker-config` inside, is stored, and its /metrics (the
#     HTTP listener, from outside) counts it;
#  3. `systemd-analyze verify` accepts the unit and `security --offline=true` rates it ≤ 2.0;
#  4. the .deb builds, holds what it should, and its size.
# Run as root (chroot, mount). Usage: Packaging/check.sh [--arch x86_64|aarch64] [path/to/agora]
# An aarch64 binary on an x86_64 host runs under qemu-user-static through binfmt_misc
# (Packaging/qemu-binfmt.sh), inside the chroot too.
set -euo pipefail
cd "$(dirname "$0")/.."
arch="$(uname -m)"
if [ "${1:-}" = "--arch" ]; then arch="$2"; shift 2; fi
binary="${1:-Packaging/out/$arch/agora}"
[ "$arch" = "$(uname -m)" ] || Packaging/qemu-binfmt.sh
[ -x "$binary" ] || { echo "missing $binary: run Packaging/build-static.sh" >&2; exit 1; }
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

# 1. Static.
if file -b "$binary" | grep -q "statically linked"; then ok "static: $(stat -c %s "$binary") bytes stripped ($(file -b "$binary" | cut -d, -f2))"; else bad "dynamic: $(file -b "$binary")"; fi

# 2. Empty chroot.
root="$(mktemp -d /var/tmp/agora-chroot-XXXXXX)"
cleanup() {
    [ -n "${serve_pid:-}" ] && kill -9 "$serve_pid" 2>/dev/null || true
    [ -n "${broker_pid:-}" ] && kill -9 "$broker_pid" 2>/dev/null || true
    umount "$root/proc" 2>/dev/null || true
    rm -rf "$root"
}
trap cleanup EXIT
mkdir -p "$root/proc" "$root/state"
cp "$binary" "$root/agora"
mount -t proc proc "$root/proc"
commit="$(git rev-parse --short HEAD)"
if chroot "$root" /agora version | grep -q "+git\.$commit"; then ok "chroot: agora version ($(chroot "$root" /agora version))"; else bad "chroot: agora version $(chroot "$root" /agora version) (HEAD is $commit)"; fi
if chroot "$root" /agora init --domain chroot.test --state-dir /state > /dev/null 2>&1; then ok "chroot: agora init"; else bad "chroot: agora init"; fi
printf 'chroot-secret-1\n' | chroot "$root" /agora user add alice@chroot.test --role consumer --password-stdin --state-dir /state > /dev/null 2>&1 \
    && ok "chroot: agora user add" || bad "chroot: agora user add"
# MQTT: the broker outside the chroot, configured from inside it (paths rewritten to the
# outside view). The broker host is numeric: see README, "Static glibc caveats".
port=$((30000 + RANDOM % 10000))
in_chroot() { chroot "$root" /agora "$@" --state-dir /state > /dev/null 2>&1; }
in_chroot user add owner@chroot.test --role owner --password-stdin <<< owner-secret-1
in_chroot sensor add s1 --owner owner@chroot.test --kind pm25 --price 1
in_chroot broker-config --out /broker --host 127.0.0.1 --port-tls $((port + 2)) --port-pair $((port + 3))
sed -i "s| /broker/| $root/broker/|" "$root/broker/mosquitto.conf"
chgrp mosquitto "$root/broker/broker.key" "$root/broker/persistence" 2>/dev/null || true
chmod 0755 "$root"
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout "$root/s1.key" -out "$root/s1.csr" -subj /CN=s1 2>/dev/null
chroot "$root" /agora ca sign /s1.csr --for sensor:s1 --state-dir /state > "$root/s1.pem" 2>/dev/null
mosquitto -c "$root/broker/mosquitto.conf" > "$root/mosquitto.log" 2>&1 &
broker_pid=$!
AGORA_XMPP_C2S_PORT=$port AGORA_XMPP_TLS_PORT=$((port + 1)) AGORA_XMPP_BIND_ADDRESS=127.0.0.1 AGORA_HTTP_PORT=$((port + 4)) \
    chroot "$root" /agora serve --state-dir /state > "$root/serve.log" 2>&1 < /dev/null &
serve_pid=$!
for _ in $(seq 100); do grep -q "xmpp listening" "$root/serve.log" 2>/dev/null && break; sleep 0.1; done
if /usr/bin/python3 Tests/Interop/xmpp/clients.py ping-disco --port "$port" --domain chroot.test --ca "$root/state/xmpp/ca.pem" \
        --jid alice@chroot.test --password chroot-secret-1 --timeout 15 > /dev/null; then
    ok "chroot: agora serve answered an XMPP login, ping and disco from outside"
else
    bad "chroot: agora serve (log: $(tail -3 "$root/serve.log"))"
fi
# Ready means the broker has granted the gateway's subscriptions: a reading published
# before that would have no subscriber (a new gateway's first connection).
ready=""
for _ in $(seq 150); do
    ready="$(curl -sf --max-time 2 "http://127.0.0.1:$((port + 4))/readyz" || true)"
    [ -n "$ready" ] && break
    sleep 0.1
done
if [ -n "$ready" ]; then
    ok "chroot: /readyz answered ready once the broker granted the subscriptions"
else
    bad "chroot: /readyz never ready ($(curl -s --max-time 2 "http://127.0.0.1:$((port + 4))/readyz"); serve: $(grep -i mqtt "$root/serve.log" | tail -2))"
fi
reading_time=$(( $(date +%s) - 60 ))
mosquitto_pub -I client: -h 127.0.0.1 -p $((port + 2)) --cafile "$root/broker/ca.pem" --cert "$root/s1.pem" --key "$root/s1.key" -q 1 \
    -t agora/sensors/s1/senml -m "[{\"n\":\"pm25\",\"t\":$reading_time,\"v\":42.5}]" 2> "$root/pub.log" || true
exported=""
for _ in $(seq 50); do
    exported="$(chroot "$root" /agora readings export --sensor s1 --format csv --state-dir /state 2>/dev/null || true)"
    grep -q "42.5" <<< "$exported" && break
    sleep 0.2
done
if grep -q "42.5" <<< "$exported"; then
    ok "chroot: agora serve ingested a reading published over MQTT from outside"
else
    bad "chroot: MQTT reading not stored (pub: $(cat "$root/pub.log"); serve: $(grep -i mqtt "$root/serve.log" | tail -2))"
fi
metrics="$(curl -sf --max-time 5 "http://127.0.0.1:$((port + 4))/metrics" || true)"
if grep -q '^agora_ingest_readings_total 1$' <<< "$metrics"; then
    ok "chroot: agora serve's /metrics answered from outside and counted the reading"
else
    bad "chroot: /metrics (got: $(head -c 300 <<< "$metrics"); serve: $(grep -i http "$root/serve.log" | tail -2))"
fi
# The same broker reached by a name its certificate does not carry (it names 127.0.0.1 only):
# the static binary's libmosquitto (on BoringSSL) must refuse it, not connect.
kill "$serve_pid" 2>/dev/null || true
wait "$serve_pid" 2>/dev/null || true
# The name is resolved from the chroot's own files only: without nsswitch.conf static glibc
# asks DNS first (127.0.0.1:53 with no resolv.conf), which on a machine with a resolver there
# but no route out waits out its timeouts before the files are read.
mkdir -p "$root/etc" && echo "127.0.0.1 localhost" > "$root/etc/hosts" && echo "hosts: files" > "$root/etc/nsswitch.conf"
AGORA_MQTT_HOST=localhost AGORA_XMPP_C2S_PORT=$port AGORA_XMPP_TLS_PORT=$((port + 1)) AGORA_XMPP_BIND_ADDRESS=127.0.0.1 AGORA_HTTP_PORT=$((port + 4)) \
    chroot "$root" /agora serve --state-dir /state > "$root/serve-wrong-name.log" 2>&1 < /dev/null &
serve_pid=$!
for _ in $(seq 600); do grep -q "not connected to the broker" "$root/serve-wrong-name.log" && break; sleep 0.1; done
if grep -q "not connected to the broker.*TLS\|TLS.*not connected to the broker" "$root/serve-wrong-name.log" \
        && ! grep -q "connected to the broker$\|\] connected to the broker" "$root/serve-wrong-name.log"; then
    ok "chroot: a broker certificate that does not name the host is refused (TLS error, not connected)"
else
    bad "chroot: broker reached as 'localhost' with a certificate for 127.0.0.1 (log: $(tail -5 "$root/serve-wrong-name.log"); broker: $(tail -5 "$root/mosquitto.log"))"
fi
kill -9 "$serve_pid" "$broker_pid" 2>/dev/null || true
wait "$serve_pid" "$broker_pid" 2>/dev/null || true
serve_pid= broker_pid=

# 3. The unit.
unit="$(mktemp -d)/agora.service"
sed "s|/usr/bin/agora|$(readlink -f "$binary")|" systemd/agora.service > "$unit"
if out="$(systemd-analyze verify "$unit" 2>&1)" && [ -z "$(printf '%s' "$out" | grep -v 'Unknown key name\|ProtectProc\|ProcSubset' || true)" ]; then
    ok "systemd-analyze verify"
else
    bad "systemd-analyze verify: $out"
fi
exposure="$(systemd-analyze security --offline=true "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for agora.service: \([0-9.]*\).*/\1/p')"
if [ -n "$exposure" ] && awk "BEGIN { exit !($exposure <= 2.0) }"; then ok "systemd-analyze security: exposure $exposure"; else bad "systemd-analyze security: exposure '${exposure}'"; fi

# 4. The package.
deb="$(Packaging/build-deb.sh --arch "$arch")"
contents="$(dpkg-deb --contents "$deb")"
conffiles="$(dpkg-deb --info "$deb" conffiles)"
depends="$(dpkg-deb --field "$deb" Depends)"
if grep -q "./usr/bin/agora" <<< "$contents" && grep -q "./lib/systemd/system/agora.service" <<< "$contents" \
        && grep -q /etc/agora/agora.toml <<< "$conffiles" && [ -z "$depends" ]; then
    ok "deb: $(basename "$deb"), $(stat -c %s "$deb") bytes, no Depends, conffile /etc/agora/agora.toml"
else
    bad "deb contents: $contents"
fi
exit "$fail"
