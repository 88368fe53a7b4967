# Shared by Benchmarks/xmpp/run.sh and Benchmarks/muc/run.sh (sourced, not run): Prosody,
# ejabberd and Agora set up and started the same way, each pinned to $server_cpu, and `gen`,
# which runs the load generator pinned to $gen_cpu. The caller sets work, domain, password,
# users, port_base, server_cpu, gen_cpu, agora and pids (or calls bench_workspace for the
# last three of those and the generator).

# The scratch directory (removed on exit unless KEEP=1, with every server still running),
# the load generator built into it, and a random port range: `bench_workspace NAME`.
bench_workspace() {
    work="$(mktemp -d "${BENCH_DIR:-/var/tmp}/agora-$1-bench-XXXXXX")"
    pids=()
    trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; if [ "${KEEP:-0}" = 1 ]; then echo "# kept $work" >&2; else rm -rf "$work"; fi' EXIT
    gcc -O2 -Wall -o "$work/xmpp_load" Benchmarks/xmpp/xmpp_load.c -lcrypto
    port_base=$((20000 + RANDOM % 20000))
}

# A release build of agora for a benchmark that found none at $agora.
bench_agora() {
    if [ ! -x "$agora" ]; then
        source Scripts/env.sh
        swift build -c release --scratch-path .build-release --product agora >&2
    fi
}

# Waits until TCP PORT on 127.0.0.1 is listening (at most 60 s).
wait_port() {
    for _ in $(seq 600); do
        ss -Hltn "sport = :$1" | grep -q LISTEN && return 0
        sleep 0.1
    done
    echo "port $1 never opened" >&2
    return 1
}

# ---------------------------------------------------------------------------------------------
# Prosody 0.12 (Debian): Debian's default module set minus "limits" (the throttle), "tls" (TLS
# off) and "posix" (daemonizing); internal_hashed storage; epoll backend; listen backlog 4096.
prosody_setup() {
    local d="$work/prosody"
    mkdir -p "$d/data" "$d/certs"
    prosody_port=$port_base
    cat > "$d/prosody.cfg.lua" <<EOF
run_as_root = true
pidfile = "$d/prosody.pid"
data_path = "$d/data"
certificates = "$d/certs"
admin_socket = "$d/prosody.sock"
log = { { levels = { min = "warn" }, to = "file", filename = "$d/prosody.log" } }
network_backend = "epoll"
network_settings = { tcp_backlog = 4096 }
c2s_ports = { $prosody_port }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = { }
s2s_ports = { }
s2s_direct_tls_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }
c2s_require_encryption = false
s2s_require_encryption = false
allow_unencrypted_plain_auth = false
authentication = "internal_hashed"
modules_enabled = {
	"disco"; "roster"; "saslauth"; "blocklist"; "bookmarks"; "carbons"; "dialback"; "pep";
	"private"; "smacks"; "vcard4"; "vcard_legacy"; "csi_simple"; "invites"; "invites_adhoc";
	"invites_register"; "ping"; "register"; "time"; "uptime"; "version"; "admin_adhoc"; "admin_shell";
}
VirtualHost "$domain"
EOF
    # Multi-user chat for Benchmarks/muc/run.sh: Debian's mod_muc with its defaults (rooms not
    # persistent, 20 messages of history in memory, no rate limit), anyone may create rooms.
    if [ "${PROSODY_MUC:-0}" = 1 ]; then
        printf 'Component "conference.%s" "muc"\n    restrict_room_creation = false\n' "$domain" >> "$d/prosody.cfg.lua"
    fi
    # Accounts written straight into Prosody's internal storage (what prosodyctl register
    # writes, ~0.06 s per process): SCRAM-SHA-1, 10000 iterations (Prosody's default), UUID salt.
    python3 - "$d/data" "$domain" "$password" "$users" <<'EOF'
import hashlib, hmac, os, re, sys, uuid
data, domain, password, users = sys.argv[1], sys.argv[2], sys.argv[3].encode(), int(sys.argv[4])
d = os.path.join(data, re.sub(r"\W", lambda m: "%%%02x" % ord(m.group()), domain), "accounts")
os.makedirs(d, exist_ok=True)
for i in range(users):
    salt, it = str(uuid.uuid4()), 10000
    salted = hashlib.pbkdf2_hmac("sha1", password, salt.encode(), it)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha1).digest()
    stored = hashlib.sha1(client_key).hexdigest()
    server = hmac.new(salted, b"Server Key", hashlib.sha1).hexdigest()
    with open(os.path.join(d, "u%d.dat" % i), "w") as f:
        f.write('return {\n\t["iteration_count"] = %d;\n\t["stored_key"] = "%s";\n\t["server_key"] = "%s";\n\t["salt"] = "%s";\n};\n'
                % (it, stored, server, salt))
EOF
}
prosody_start() {
    taskset -c "$server_cpu" prosody --config "$work/prosody/prosody.cfg.lua" -F >> "$work/prosody/stdout.log" 2>&1 &
    server_pid=$!
    wrapper_pid=$!
    pids+=("$!")
    port=$prosody_port
    wait_port "$port"
}

# ---------------------------------------------------------------------------------------------
# ejabberd 23.01 (Debian): Debian's default ejabberd.yml with only the c2s listener (plaintext,
# starttls_required false, shaper none, max_stanza_size infinity, backlog 4096), c2s_shaper none,
# max_user_sessions infinity, mod_fail2ban dropped, ACME off; Mnesia spool in the scratch dir,
# SCRAM-SHA-1 stored keys (auth_password_format: scram, as Debian ships it). Run as the current
# user through ejabberdctl (its ctl config sets EXEC_CMD=as_current_user), Erlang distribution on
# a fixed loopback port instead of epmd.
ejabberd_setup() {
    local d="$work/ejabberd"
    mkdir -p "$d/spool" "$d/logs"
    ejabberd_port=$((port_base + 1))
    ejabberd_dist=$((port_base + 2))
    ejabberd_node="ejbench$port_base@localhost"
    ejabberd_cookie="$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    cat > "$d/ejabberdctl.cfg" <<EOF
EXEC_CMD=as_current_user
ERLANG_NODE=$ejabberd_node
ERL_DIST_PORT=$ejabberd_dist
INET_DIST_INTERFACE=127.0.0.1
ERL_OPTIONS="-setcookie $ejabberd_cookie"
EJABBERD_PID_PATH=$d/ejabberd.pid
EJABBERD_BYPASS_WARNINGS=true
EOF
    sed "s/@DOMAIN@/$domain/; s/@PORT@/$ejabberd_port/" Benchmarks/xmpp/ejabberd.yml > "$d/ejabberd.yml"
}
ejabberd_rpc() { # Erlang expression with N bound to the node
    erl -sname "rpc$$" -hidden -noinput -setcookie "$ejabberd_cookie" -erl_epmd_port "$ejabberd_dist" \
        -dist_listen false -start_epmd false -eval "N = '$ejabberd_node', $1, halt()."
}
ejabberd_start() {
    (cd "$work/ejabberd" && exec taskset -c "$server_cpu" ejabberdctl --config "$work/ejabberd/ejabberd.yml" \
        --ctl-config "$work/ejabberd/ejabberdctl.cfg" --spool "$work/ejabberd/spool" --logs "$work/ejabberd/logs" \
        foreground >> "$work/ejabberd/stdout.log" 2>&1) &
    wrapper_pid=$!
    pids+=("$!")
    port=$ejabberd_port
    wait_port "$port"
    server_pid="$(pgrep -f "beam.smp.*-sname $ejabberd_node" | head -1)"
    pids+=("$server_pid")
    # The c2s port opens before ejabberd has finished starting (Mnesia tables are still being
    # set up): wait for the boot to complete.
    ejabberd_rpc 'W = fun W(0) -> timeout; W(K) -> case rpc:call(N, init, get_status, []) of {started, started} -> ok; _ -> timer:sleep(200), W(K - 1) end end, io:format("~p~n", [W(300)])' \
        > "$work/ejabberd/boot.txt"
    grep -qx ok "$work/ejabberd/boot.txt" || { echo "ejabberd did not finish starting: $(cat "$work/ejabberd/boot.txt")" >&2; exit 1; }
    if [ ! -e "$work/ejabberd/users-done" ]; then
        # One Erlang node registers every account through ejabberd_auth (ejabberdctl register
        # starts a VM per account, ~1 s each).
        ejabberd_rpc "R = [rpc:call(N, ejabberd_auth, try_register, [list_to_binary(\"u\" ++ integer_to_list(I)), <<\"$domain\">>, <<\"$password\">>]) || I <- lists:seq(0, $users - 1)], io:format(\"~p~n\", [lists:usort(R)])" \
            > "$work/ejabberd/register.txt"
        grep -qx '\[ok\]' "$work/ejabberd/register.txt" || { echo "ejabberd registration: $(cat "$work/ejabberd/register.txt")" >&2; exit 1; }
        touch "$work/ejabberd/users-done"
    fi
    echo "# ejabberd schedulers online: $(ejabberd_rpc 'io:format("~p", [rpc:call(N, erlang, system_info, [schedulers_online])])')" >&2
}

# ---------------------------------------------------------------------------------------------
# Agora: `agora init`, accounts via `user add-many` (falls back to one `user add` per account),
# `agora serve` with plaintext c2s on loopback, no connection-rate limit, one XMPP thread.
agora_setup() {
    local d="$work/agora"
    mkdir -p "$d"
    agora_port=$((port_base + 3))
    export AGORA_STATE_DIR="$d/state"
    "$agora" init --domain "$domain" > "$d/init.log" 2>&1
    if ! printf '%s\n' "$password" | "$agora" user add-many --prefix u --count "$users" \
        --role consumer --password-stdin > "$d/users.log" 2>&1; then
        echo "# agora: user add-many failed ($(tail -1 "$d/users.log")); adding $users accounts one by one" >&2
        for i in $(seq 0 $((users - 1))); do
            printf '%s\n' "$password" | "$agora" user add "u$i@$domain" --role consumer \
                --password-stdin >> "$d/users.log" 2>&1
        done
    fi
}
agora_start() {
    # Rooms: anyone creates them and no per-occupant rate limit, as Prosody's defaults (the
    # other measurements never touch rooms).
    AGORA_MUC_CREATORS=everyone AGORA_MUC_MESSAGES_PER_SECOND=100000 \
    AGORA_XMPP_C2S_PORT=$agora_port AGORA_XMPP_TLS_PORT=0 AGORA_XMPP_TLS_REQUIRED=false \
        AGORA_XMPP_BIND_ADDRESS=127.0.0.1 AGORA_XMPP_MAX_SESSIONS=20000 AGORA_XMPP_CONNECTION_RATE=0 \
        AGORA_XMPP_THREADS=1 AGORA_STATE_DIR="$work/agora/state" taskset -c "$server_cpu" "$agora" serve \
        >> "$work/agora/serve.log" 2>&1 &
    server_pid=$!
    wrapper_pid=$!
    pids+=("$!")
    port=$agora_port
    wait_port "$port"
}

# ---------------------------------------------------------------------------------------------

# Waits until the server has finished its start-up work: less than 3 % of a core over one second
# (at most 60 s).
wait_server_idle() {
    local a b
    sleep 1
    for _ in $(seq 60); do
        a=$(sed 's/.*) //' "/proc/$server_pid/stat" | awk '{print $12 + $13}')
        sleep 1
        b=$(sed 's/.*) //' "/proc/$server_pid/stat" | awk '{print $12 + $13}')
        [ $((b - a)) -lt $(($(getconf CLK_TCK) * 3 / 100 + 1)) ] && return 0
    done
    echo "#   $server_pid still busy after 60 s" >&2
}

stop_server() {
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$wrapper_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" "$wrapper_pid" 2>/dev/null || true
    wait "$wrapper_pid" 2>/dev/null || true
    pids=() # one server at a time: nothing of ours is left running (and stale ids may be reused)
    sleep 1
}

# Busy CPU of the whole machine over 2 s, in % of one core.
machine_busy() {
    local a b
    a=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat)
    sleep 2
    b=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat)
    echo $(((b - a) * 100 / $(getconf CLK_TCK) / 2))
}
# Waits (at most XMPP_BENCH_QUIET_WAIT seconds, default 900) until the machine is quiet: someone
# else's build on one of the two cores halves a server's throughput.
wait_quiet() {
    local waited=0 busy
    while busy=$(machine_busy) && [ "$busy" -gt 15 ] && [ "$waited" -lt "${XMPP_BENCH_QUIET_WAIT:-900}" ]; do
        [ "$waited" = 0 ] && echo "#   machine busy (${busy}% of a core): waiting for it to be quiet" >&2
        sleep 8
        waited=$((waited + 10))
    done
}

# Runs the load generator; prints its RESULT line (also kept in $work/results.txt).
gen() {
    local name=$1 mode=$2
    shift 2
    local out
    wait_quiet
    out="$(taskset -c "$gen_cpu" "$work/xmpp_load" "$mode" --port "$port" --domain "$domain" --users "$users" \
        --password "$password" --server-pid "$server_pid" --key-cache "$work/keys-$name" "$@" 2>> "$work/gen-$name.log" \
        | grep '^RESULT')" || { echo "xmpp_load $mode against $name failed:" >&2; tail -5 "$work/gen-$name.log" >&2; return 1; }
    echo "$name $out" >> "$work/results.txt"
    local other
    other=$(sed -n 's/.* other_cpu=\([0-9]*\)%.*/\1/p' <<<"$out")
    if [ "${other:-0}" -gt 10 ]; then echo "$name $mode: other processes used ${other}% of a core" >> "$work/disturbed.txt"; fi
    echo "#   $name: ${out#RESULT }" >&2
    echo "$out"
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
cpu() { echo "$(field gen_cpu "$1")/$(field server_cpu "$1")/$(field other_cpu "$1")"; }

# Median of the rates in the RESULT lines on stdin, "median min max gen/server/other-cpu-of-median".
median() {
    local sorted n
    sorted=$(while read -r l; do echo "$(field rate "$l") $(cpu "$l")"; done | sort -n)
    n=$(wc -l <<<"$sorted")
    echo "$(sed -n "$(((n + 1) / 2))p" <<<"$sorted" | cut -d' ' -f1) $(head -1 <<<"$sorted" | cut -d' ' -f1)" \
        "$(tail -1 <<<"$sorted" | cut -d' ' -f1) $(sed -n "$(((n + 1) / 2))p" <<<"$sorted" | cut -d' ' -f2)"
}
store() { # KEY "median min max cpu"
    local a
    read -ra a <<<"$2"
    R[$1]=${a[0]}
    R[$1_range]="${a[1]}–${a[2]}"
    R[$1_cpu]=${a[3]}
}

