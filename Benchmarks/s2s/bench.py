#!/usr/bin/python3
"""Server-to-server federation (issue 19): one s2s link between two servers, Agora <-> Agora
against Prosody <-> Prosody (Debian's 0.12) in the same run, on the same topology.

Topology (network namespaces created here and removed at the end): a switch namespace with a
bridge and dnsmasq (A and _xmpp-server._tcp SRV records), a.test at 10.78.0.1 and b.test at
10.78.0.2. Certificates from one root for both domains, trusted by both servers: the link is
authenticated with SASL EXTERNAL (XEP-0178) for the throughput runs.

Measured, per server pair:
  - relay rate: users of a.test (50 sessions, 8 pings each in flight) ping the domain b.test
    (XEP-0199); each round trip crosses the a->b link and the b->a link. rate = round trips/s,
    so stanzas relayed over s2s = 2 x rate. Both servers pinned to CPU 1, the load generator
    (xmpp_load.c) to CPU 0, in a.test's namespace on loopback c2s (plaintext, as the other
    XMPP benchmarks): what is measured is the s2s path, not c2s TLS.
  - link set-up: the first ping from a fresh a.test to b.test (resolve SRV + A, connect, STARTTLS,
    authenticate, both directions) minus a ping over the established links; with certificates
    (EXTERNAL) and with dialback (no trust anchors), REPEAT times each.
  - memory per idle link (Agora only): VmRSS of b.test before and after LINKS inbound streams
    authenticated with EXTERNAL (a wildcard certificate *.peers.test), divided by LINKS.

usage: Benchmarks/s2s/bench.py [--agora PATH] [--seconds 10] [--repeat 3] [--links 200]
Prints a Markdown table; exits non-zero on a failed run.
"""
import argparse
import base64
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'Tests/Interop/federation'))
from netns import Topology, prosody_config  # noqa: E402  (the federation test's namespaces and DNS)

SUBNET = '10.78.0'
PASSWORD = 'bench-password-0123'
USERS = 50


def run(*args, check=True, timeout=300, env=None, stdin=None):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=env, input=stdin)
    if check and r.returncode != 0:
        sys.exit('%s failed (%d): %s%s' % (' '.join(map(str, args))[:200], r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
    return r


class Bench:
    def __init__(self, a):
        self.args = a
        self.work = Path(tempfile.mkdtemp(prefix='agora-s2s-bench-', dir=os.environ.get('BENCH_DIR', '/var/tmp')))
        self.net = Topology('sb', SUBNET, {'a': 1, 'b': 2}, self.work)
        self.ns = self.net.ns

    def network(self):
        self.net.create(['host-record=a.test,%s.1' % SUBNET, 'host-record=b.test,%s.2' % SUBNET,
                         'srv-host=_xmpp-server._tcp.a.test,a.test,5269,0,5', 'srv-host=_xmpp-server._tcp.b.test,b.test,5269,0,5'])

    def certificates(self):
        d = self.work / 'pki'
        d.mkdir()
        run('openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-keyout', d / 'root.key',
            '-out', d / 'root.pem', '-subj', '/CN=Bench Root', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign')
        for name, san in (('a', 'DNS:a.test'), ('b', 'DNS:b.test'), ('peers', 'DNS:*.peers.test')):
            run('openssl', 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', d / (name + '.key'),
                '-out', d / (name + '.csr'), '-subj', '/CN=' + name)
            (d / (name + '.ext')).write_text('subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n' % san)
            run('openssl', 'x509', '-req', '-in', d / (name + '.csr'), '-CA', d / 'root.pem', '-CAkey', d / 'root.key', '-CAcreateserial',
                '-days', '2', '-extfile', d / (name + '.ext'), '-out', d / (name + '.pem'))
        for f in d.iterdir():
            f.chmod(0o644)
        self.pki = d

    def spawn(self, host, argv, log, env=None, cpu=None):
        return self.net.spawn(argv[0] if isinstance(argv[0], str) else 'server', host, argv, log, env=env, cpu=cpu)

    def stop(self, p):
        Topology.stop(p)

    def wait_port(self, host, port):
        for _ in range(300):
            if self.net.listening(host, '127.0.0.1' if port == 5222 else self.net.address(host), port):
                return
            time.sleep(0.1)
        sys.exit('%s never listened on %d' % (host, port))

    # --- servers -------------------------------------------------------------------------------
    def agora(self, host, trust=True):
        domain = host + '.test'
        state = self.work / ('agora-' + host) / 'state'
        if not state.exists():
            state.parent.mkdir()
            run(self.args.agora, 'init', '--domain', domain, '--state-dir', state)
            if host == 'a':
                run(self.args.agora, 'user', 'add-many', '--prefix', 'u', '--count', USERS, '--role', 'consumer', '--password-stdin',
                    '--state-dir', state, stdin=PASSWORD + '\n')
        env = dict(os.environ, AGORA_STATE_DIR=str(state), AGORA_XMPP_TLS_PORT='0', AGORA_XMPP_TLS_REQUIRED='false',
                   AGORA_XMPP_BIND_ADDRESS='127.0.0.1', AGORA_XMPP_CONNECTION_RATE='0', AGORA_XMPP_THREADS='1', AGORA_HTTP_PORT='0',
                   AGORA_S2S_ENABLED='true', AGORA_S2S_CERT_FILE=str(self.pki / (host + '.pem')), AGORA_S2S_KEY_FILE=str(self.pki / (host + '.key')),
                   AGORA_S2S_STANZAS_PER_SECOND='10000000', AGORA_S2S_MAX_INBOUND='100000', AGORA_LOG_LEVEL=os.environ.get('BENCH_AGORA_LOG', 'notice'))
        if trust:
            env['AGORA_S2S_TRUST_FILE'] = str(self.pki / 'root.pem')
        p = self.spawn(host, [self.args.agora, 'serve', '--state-dir', state], state.parent / 'serve.log', env=env, cpu=1)
        self.wait_port(host, 5269)
        return p

    def prosody(self, host, trust=True):
        domain = host + '.test'
        d = self.work / ('prosody-' + host)
        if not d.exists():
            (d / 'data').mkdir(parents=True)
        ip = '%s.%d' % (SUBNET, 1 if host == 'a' else 2)
        (d / 'prosody.cfg.lua').write_text(prosody_config(d, domain, ip, self.pki / (host + '.pem'), self.pki / (host + '.key'),
                                                          cafile=(self.pki / 'root.pem') if trust else None, c2s_address='127.0.0.1', c2s_tls=False))
        if host == 'a' and not (d / 'users-done').exists():
            write_prosody_users(d / 'data', domain)
            (d / 'users-done').write_text('')
        p = self.spawn(host, ['prosody', '--config', d / 'prosody.cfg.lua', '-F'], d / 'stdout.log', cpu=1)
        self.wait_port(host, 5269)
        return p

    # --- measurements ----------------------------------------------------------------------------
    def gen(self, *args, server_pid=None):
        argv = ['ip', 'netns', 'exec', self.ns['a'], 'taskset', '-c', '0', self.xmpp_load, *map(str, args),
                '--port', '5222', '--domain', 'a.test', '--users', str(USERS), '--password', PASSWORD]
        if server_pid:
            argv += ['--server-pid', str(server_pid)]
        r = run(*argv, check=False, timeout=120)
        line = next((l for l in r.stdout.splitlines() if l.startswith('RESULT')), None)
        if r.returncode != 0 or not line:
            sys.exit('xmpp_load %s failed (%d): %s%s' % (args[0], r.returncode, r.stdout[-1500:], r.stderr[-1500:]))
        return dict(kv.split('=', 1) for kv in line.split()[1:])

    def relay(self, start):
        a, b = start('a'), start('b')
        rates = []
        try:
            self.gen('pings', '--sessions', 1, '--inflight', 1, '--seconds', 1, '--warmup', 0, '--ping-to', 'b.test')   # links up
            for _ in range(self.args.repeat):
                result = self.gen('pings', '--sessions', 50, '--inflight', 8, '--seconds', self.args.seconds, '--ping-to', 'b.test',
                                  server_pid=a.pid)
                rates.append((float(result['rate']), result.get('server_cpu', '?')))
        finally:
            self.stop(a)
            self.stop(b)
        return rates

    def setup_time(self, start, trust):
        """First-ping latency on fresh servers minus the established-link latency, REPEAT times."""
        samples = []
        for _ in range(self.args.repeat):
            a, b = start('a', trust), start('b', trust)
            try:
                first = self.ping_latency(1)
                steady = statistics.median(self.ping_latency(20))
                samples.append((first[0] - steady) * 1000)
            finally:
                self.stop(a)
                self.stop(b)
        return samples

    def ping_latency(self, n):
        script = r'''
import socket, sys, time, base64, hashlib, hmac, os, re
# One plaintext c2s session (loopback) with SCRAM-SHA-1, then N pings to b.test, one at a time.
s = socket.create_connection(("127.0.0.1", 5222)); buf = b""
def send(x): s.sendall(x.encode())
def until(pat):
    global buf
    while not re.search(pat, buf):
        d = s.recv(65536)
        if not d: sys.exit("closed: %r" % buf[-300:])
        buf += d
    m = re.search(pat, buf); buf = buf[m.end():]; return m
hdr = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='a.test' version='1.0'>"
send(hdr); until(rb"</stream:features>")
nonce = base64.b64encode(os.urandom(12)).decode(); first = "n=u0,r=" + nonce
send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>%s</auth>" % base64.b64encode(("n,," + first).encode()).decode())
ch = base64.b64decode(until(rb"<challenge[^>]*>([^<]*)</challenge>").group(1)).decode()
f = dict(kv.split("=", 1) for kv in ch.split(","))
salted = hashlib.pbkdf2_hmac("sha1", PASSWORD.encode(), base64.b64decode(f["s"]), int(f["i"]))
ck = hmac.new(salted, b"Client Key", hashlib.sha1).digest(); sk = hashlib.sha1(ck).digest()
final = "c=biws,r=" + f["r"]; auth = first + "," + ch + "," + final
sig = hmac.new(sk, auth.encode(), hashlib.sha1).digest()
proof = base64.b64encode(bytes(x ^ y for x, y in zip(ck, sig))).decode()
send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</response>" % base64.b64encode((final + ",p=" + proof).encode()).decode())
until(rb"<success"); send(hdr); until(rb"</stream:features>")
send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>"); until(rb"id=.b.")
for i in range(N):
    t = time.monotonic(); send("<iq type='get' id='q%d' to='b.test'><ping xmlns='urn:xmpp:ping'/></iq>" % i)
    m = until(rb"<iq[^>]*id=.q%d.[^>]*>" % i)
    if b"error" in m.group(0): sys.exit("ping error: %r" % m.group(0))
    print(time.monotonic() - t)
'''.replace('PASSWORD', repr(PASSWORD)).replace('N)', '%d)' % n)
        r = run('ip', 'netns', 'exec', self.ns['a'], '/usr/bin/python3', '-c', script, check=False, timeout=120)
        if r.returncode != 0:
            sys.exit('ping latency failed: %s%s' % (r.stdout[-1000:], r.stderr[-1000:]))
        return [float(x) for x in r.stdout.split()]

    def idle_links(self, links):
        """VmRSS of Agora b.test before and after `links` inbound streams authenticated by EXTERNAL."""
        b = self.agora('b')
        try:
            time.sleep(2)
            before = rss(b.pid)
            script = r'''
import socket, ssl, sys, time, base64
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ctx.load_cert_chain(PKI + "/peers.pem", PKI + "/peers.key")
held = []
def read_until(sock, token):
    data = b""
    while token not in data:
        d = sock.recv(65536)
        if not d: sys.exit("closed: %r" % data[-300:])
        data += d
for i in range(LINKS):
    origin = "p%d.peers.test" % i
    hdr = ("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' from='%s' to='b.test' version='1.0'>" % origin).encode()
    s = socket.create_connection(("B", 5269)); s.sendall(hdr); read_until(s, b"</stream:features>")
    s.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"); read_until(s, b"proceed")
    s = ctx.wrap_socket(s, server_hostname="b.test"); s.sendall(hdr); read_until(s, b"</stream:features>")
    s.sendall(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>" + base64.b64encode(origin.encode()) + b"</auth>")
    read_until(s, b"success"); s.sendall(hdr); read_until(s, b"features")
    held.append(s)
print("open", len(held)); sys.stdout.flush()
time.sleep(8)
'''.replace('PKI', repr(str(self.pki))).replace('LINKS', str(links)).replace('"B"', '"%s.2"' % SUBNET)
            p = subprocess.Popen(['ip', 'netns', 'exec', self.ns['a'], '/usr/bin/python3', '-c', script], stdout=subprocess.PIPE, text=True)
            line = p.stdout.readline()
            if not line.startswith('open'):
                p.wait()
                sys.exit('idle links failed: %s' % line)
            time.sleep(3)
            after = rss(b.pid)
            p.wait()
            return before, after
        finally:
            self.stop(b)

    def teardown(self):
        self.net.teardown()
        if not os.environ.get('KEEP'):
            shutil.rmtree(self.work, ignore_errors=True)


def rss(pid):
    for line in open('/proc/%d/status' % pid):
        if line.startswith('VmRSS:'):
            return int(line.split()[1])
    return 0


def write_prosody_users(data, domain):
    """Accounts in Prosody's internal storage, as prosodyctl register writes them (SCRAM-SHA-1)."""
    import hashlib, hmac, uuid
    d = os.path.join(data, re.sub(r'\W', lambda m: '%%%02x' % ord(m.group()), domain), 'accounts')
    os.makedirs(d, exist_ok=True)
    for i in range(USERS):
        salt, it = str(uuid.uuid4()), 10000
        salted = hashlib.pbkdf2_hmac('sha1', PASSWORD.encode(), salt.encode(), it)
        client_key = hmac.new(salted, b'Client Key', hashlib.sha1).digest()
        with open(os.path.join(d, 'u%d.dat' % i), 'w') as f:
            f.write('return {\n\t["iteration_count"] = %d;\n\t["stored_key"] = "%s";\n\t["server_key"] = "%s";\n\t["salt"] = "%s";\n};\n'
                    % (it, hashlib.sha1(client_key).hexdigest(), hmac.new(salted, b'Server Key', hashlib.sha1).hexdigest(), salt))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--agora', default=str(ROOT / '.build-release/release/agora'))
    p.add_argument('--seconds', type=float, default=10)
    p.add_argument('--repeat', type=int, default=3)
    p.add_argument('--links', type=int, default=200)
    a = p.parse_args()
    bench = Bench(a)
    bench.xmpp_load = str(bench.work / 'xmpp_load')
    run('gcc', '-O2', '-Wall', '-o', bench.xmpp_load, ROOT / 'Benchmarks/xmpp/xmpp_load.c', '-lcrypto')
    try:
        bench.network()
        bench.certificates()
        print('# machine: %d cores, %s; load average %s' % (os.cpu_count(), cpu_model(), open('/proc/loadavg').read().split()[:3]))
        print('# servers pinned to CPU 1 (both), xmpp_load to CPU 0; 50 sessions x 8 pings in flight, %gs x %d' % (a.seconds, a.repeat))
        prosody = bench.relay(lambda h, trust=True: bench.prosody(h, trust))
        agora = bench.relay(lambda h, trust=True: bench.agora(h, trust))
        pm, am = statistics.median(r for r, _ in prosody), statistics.median(r for r, _ in agora)
        print()
        print('| pair | round trips/s (median of %d) | range | s2s stanzas/s | server A CPU | ratio |' % a.repeat)
        print('|---|---|---|---|---|---|')
        for name, rates, median in (('Prosody <-> Prosody', prosody, pm), ('Agora <-> Agora', agora, am)):
            print('| %s | %.0f | %.0f–%.0f | %.0f | %s | %.2f× |' % (name, median, min(r for r, _ in rates), max(r for r, _ in rates),
                                                                  2 * median, rates[len(rates) // 2][1], median / pm))
        print()
        print('| link set-up (first ping minus an established one), ms | certificates (EXTERNAL) | dialback |')
        print('|---|---|---|')
        for name, start in (('Prosody', bench.prosody), ('Agora', bench.agora)):
            cert = bench.setup_time(start, True)
            dialback = bench.setup_time(start, False)
            print('| %s | %s | %s |' % (name, ' / '.join('%.1f' % x for x in cert), ' / '.join('%.1f' % x for x in dialback)))
        before, after = bench.idle_links(a.links)
        print()
        print('Agora b.test VmRSS: %d kB before, %d kB with %d idle inbound links authenticated by EXTERNAL: %.1f kB per link'
              % (before, after, a.links, (after - before) / a.links))
    finally:
        bench.teardown()


def cpu_model():
    for line in open('/proc/cpuinfo'):
        if line.startswith('model name'):
            return line.split(':', 1)[1].strip()
    return '?'


if __name__ == '__main__':
    main()
