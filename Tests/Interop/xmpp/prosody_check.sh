#!/bin/bash
# Validate clients.py / hostile.py mechanics against a throwaway Prosody 0.12.
#
#   Tests/Interop/xmpp/prosody_check.sh            # run everything
#   KEEP=1 Tests/Interop/xmpp/prosody_check.sh     # leave Prosody running, print its env
#   ONLY="login chat" Tests/Interop/xmpp/prosody_check.sh
#
# Exit status = number of failed checks. clients.py scenarios must all pass.
# hostile.py `all` must pass except for the attacks listed in KNOWN, where
# Prosody 0.12 legitimately differs from Agora:
#   doctype, doctype-first, comment, pi: Prosody detects them (restricted handler in
#       util/xmppstream.lua) but mod_c2s maps every parse error to not-well-formed;
#   deep:     10^4 nested elements are accepted (no depth limit), stanza error reply;
#   preauth:  pre-auth <message> gets a service-unavailable stanza error, stream stays open;
#   bad-password: no authentication throttling in Prosody (all not-authorized).
# SASL EXTERNAL (clients.py external) is skipped: c2s EXTERNAL needs mod_client_certs.
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
PY=/usr/bin/python3
DOMAIN=${DOMAIN:-agora.test}
T=$(mktemp -d /tmp/agora-prosody.XXXXXX)
free_port() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
PORT=$(free_port); TLSPORT=$(free_port)
while [ "$TLSPORT" = "$PORT" ]; do TLSPORT=$(free_port); done

# --- PKI: CA, server cert (SAN DNS:$DOMAIN), client cert for EXTERNAL -------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj "/CN=Agora Test CA" -keyout "$T/ca.key" -out "$T/ca.pem" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$DOMAIN" \
  -keyout "$T/server.key" -out "$T/server.csr" 2>/dev/null
openssl x509 -req -in "$T/server.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
  -extfile <(printf "subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n" "$DOMAIN") \
  -out "$T/server.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=alice@$DOMAIN" \
  -keyout "$T/alice.key" -out "$T/alice.csr" 2>/dev/null
openssl x509 -req -in "$T/alice.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial -days 2 \
  -extfile <(printf "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n") \
  -out "$T/alice.pem" 2>/dev/null

mkdir -p "$T/data" "$T/certs"
cat > "$T/prosody.cfg.lua" <<EOF
run_as_root = true
daemonize = false
pidfile = "$T/prosody.pid"
data_path = "$T/data"
log = { { levels = { min = "info" }, to = "file", filename = "$T/prosody.log" } }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { $PORT }
c2s_direct_tls_ports = { $TLSPORT }
s2s_ports = { }
http_ports = { }
https_ports = { }
component_ports = { }
admin_socket = "$T/admin.sock"
c2s_require_encryption = true
authentication = "internal_hashed"
password_hash = "SHA-256"
storage = "internal"
certificates = "$T/certs"
modules_enabled = { "roster", "saslauth", "tls", "disco", "ping", "version", "offline",
                    "smacks", "presence", "message", "iq", "posix" }
modules_disabled = { "s2s" }
smacks_hibernation_time = 60
ssl = { certificate = "$T/server.pem", key = "$T/server.key" }
VirtualHost "$DOMAIN"
  ssl = { certificate = "$T/server.pem", key = "$T/server.key" }
EOF

PCTL="prosodyctl --config $T/prosody.cfg.lua"
$PCTL register alice "$DOMAIN" alicepw >/dev/null 2>&1 || { echo "register alice failed"; exit 2; }
$PCTL register bob "$DOMAIN" bobpw >/dev/null 2>&1 || { echo "register bob failed"; exit 2; }
$PCTL register carol "$DOMAIN" carolpw >/dev/null 2>&1
$PCTL register dave "$DOMAIN" davepw >/dev/null 2>&1
$PCTL register erin "$DOMAIN" erinpw >/dev/null 2>&1
$PCTL register frank "$DOMAIN" frankpw >/dev/null 2>&1

prosody --config "$T/prosody.cfg.lua" -F >"$T/prosody.out" 2>&1 &
PPID_=$!
cleanup() { kill "$PPID_" 2>/dev/null; wait "$PPID_" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1
done

C="--host 127.0.0.1 --port $PORT --domain $DOMAIN --ca $T/ca.pem"
echo "prosody: dir=$T c2s=$PORT direct-tls=$TLSPORT domain=$DOMAIN"
if [ -n "${KEEP:-}" ]; then
  echo "export T=$T PORT=$PORT TLSPORT=$TLSPORT DOMAIN=$DOMAIN"
  echo "Prosody running as pid $PPID_; Ctrl-C to stop"; wait "$PPID_"; exit 0
fi

declare -a RESULTS
FAILS=0
run() { # name, command...
  local name=$1; shift
  case " ${ONLY:-$name} " in *" $name "*) ;; *) return;; esac
  local out rc t0=$(date +%s.%N)
  out=$("$@" 2>&1); rc=$?
  printf '%s\n' "$out" | sed "s/^/  [$name] /"
  RESULTS+=("$(printf '%-16s rc=%d %5.1fs' "$name" $rc "$(awk "BEGIN{print $(date +%s.%N) - $t0}")")")
  [ $rc -eq 0 ] || FAILS=$((FAILS+1))
}
CL="$PY $HERE/clients.py"
HO="$PY $HERE/hostile.py"
run login       $CL login $C --jid alice@$DOMAIN --password alicepw
run direct-tls  $CL login $C --jid alice@$DOMAIN --password alicepw --direct-tls --port $TLSPORT
run chat        $CL chat $C --jid alice@$DOMAIN --password alicepw --jid2 bob@$DOMAIN --password2 bobpw
run offline     $CL offline $C --jid carol@$DOMAIN --password carolpw --jid2 dave@$DOMAIN --password2 davepw
run ping-disco  $CL ping-disco $C --jid alice@$DOMAIN --password alicepw
run sm-resume   $CL sm-resume $C --jid erin@$DOMAIN --password erinpw --jid2 frank@$DOMAIN --password2 frankpw
# SASL EXTERNAL for c2s needs a community module (mod_client_certs) in Prosody: only with ONLY=external.
case " ${ONLY:-} " in *" external "*)
run external    $CL external $C --jid alice@$DOMAIN --cert $T/alice.pem --key $T/alice.key ;; esac

# hostile.py all: Prosody is known to differ from Agora's expectations on these attacks
# (see KNOWN below); any *other* FAIL line counts as a failure of this check.
KNOWN="doctype doctype-first comment pi deep preauth bad-password"
case " ${ONLY:-hostile-all} " in *" hostile-all "*)
  out=$($HO all $C --jid alice@$DOMAIN --password alicepw --jid2 bob@$DOMAIN --password2 bobpw 2>&1)
  printf '%s\n' "$out" | sed "s/^/  [hostile-all] /"
  unexpected=""
  for n in $(printf '%s\n' "$out" | grep -E ', FAIL( |$)' | cut -d: -f1); do
    case " $KNOWN " in *" $n "*) ;; *) unexpected="$unexpected $n";; esac
  done
  for n in $KNOWN; do printf '%s\n' "$out" | grep -q "^$n: .*, ok" && echo "  note: Prosody now passes $n"; done
  printf '%s\n' "$out" | grep -q '^watchdog: .*, ok$' || unexpected="$unexpected watchdog"
  RESULTS+=("$(printf '%-16s %s' hostile-all "${unexpected:+UNEXPECTED FAIL:$unexpected}")${unexpected:-only known Prosody deviations}")
  [ -z "$unexpected" ] || FAILS=$((FAILS+1)) ;;
esac

echo "---- summary (prosody log: $T/prosody.log) ----"
printf '%s\n' "${RESULTS[@]}"
exit $FAILS
