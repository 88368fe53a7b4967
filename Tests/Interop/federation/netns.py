"""Hosts as network namespaces on one bridge, with their own DNS (dnsmasq): what the federation
test (city.py) and the s2s benchmark (Benchmarks/s2s/bench.py) build, and always tear down.

A switch namespace holds the bridge and dnsmasq at <subnet>.254; each host namespace has one
veth into the bridge and its own /etc/netns/<name>/resolv.conf (naming dnsmasq) and hosts file
(only localhost), which `ip netns exec` mounts over /etc: every program there, Agora's res_query
and Prosody's libunbound alike, resolves through dnsmasq and nothing of the machine leaks in.
"""
import os
import shutil
import signal
import subprocess
from pathlib import Path


class Failed(Exception):
    pass


def run(*args, check=True, stdin=None, env=None, timeout=120):
    r = subprocess.run([str(a) for a in args], input=stdin, capture_output=True, text=True, env=env, timeout=timeout)
    if check and r.returncode != 0:
        raise Failed('%s exited %d:\n%s%s' % (' '.join(map(str, args))[:300], r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
    return r


class Topology:
    """`hosts`: name -> last octet of its address in `subnet` (a /24 such as "10.77.0")."""

    def __init__(self, tag, subnet, hosts, work):
        self.subnet = subnet
        self.hosts = dict(hosts)
        self.work = Path(work)
        tag = '%s%d' % (tag, os.getpid() % 100000)
        self.ns = {name: '%s-%s' % (tag, name) for name in list(self.hosts) + ['sw']}
        self.processes = []
        self.created = []

    def address(self, host):
        return '%s.%d' % (self.subnet, self.hosts[host])

    def create(self, dns_records):
        """The namespaces, the bridge, and dnsmasq serving `dns_records` (dnsmasq config lines
        such as host-record=… and srv-host=…)."""
        sw = self.ns['sw']
        for name in self.ns.values():
            run('ip', 'netns', 'add', name)
            self.created.append(name)
            run('ip', '-n', name, 'link', 'set', 'lo', 'up')
        run('ip', '-n', sw, 'link', 'add', 'br0', 'type', 'bridge')
        run('ip', '-n', sw, 'addr', 'add', '%s.254/24' % self.subnet, 'dev', 'br0')
        run('ip', '-n', sw, 'link', 'set', 'br0', 'up')
        for host in self.hosts:
            ns = self.ns[host]
            run('ip', '-n', sw, 'link', 'add', 'p-' + host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
            run('ip', '-n', sw, 'link', 'set', 'p-' + host, 'master', 'br0', 'up')
            run('ip', '-n', ns, 'addr', 'add', self.address(host) + '/24', 'dev', 'eth0')
            run('ip', '-n', ns, 'link', 'set', 'eth0', 'up')
            etc = Path('/etc/netns') / ns
            etc.mkdir(parents=True, exist_ok=True)
            (etc / 'resolv.conf').write_text('nameserver %s.254\noptions timeout:1 attempts:2\n' % self.subnet)
            (etc / 'hosts').write_text('127.0.0.1 localhost\n')
        conf = self.work / 'dnsmasq.conf'
        conf.write_text('\n'.join(['no-resolv', 'no-hosts', 'bind-interfaces', 'listen-address=%s.254' % self.subnet, 'user=root',
                                   'log-queries', 'log-facility=%s' % (self.work / 'dnsmasq.log')] + list(dns_records)) + '\n')
        self.spawn('dnsmasq', 'sw', ['dnsmasq', '--keep-in-foreground', '--conf-file=%s' % conf], self.work / 'dnsmasq.out')

    def spawn(self, name, host, argv, log, env=None, cpu=None):
        """Starts `argv` in `host`'s namespace (pinned to `cpu` if given); `ip netns exec` and
        taskset exec the program, so the returned process's pid is the program's."""
        pin = ['taskset', '-c', str(cpu)] if cpu is not None else []
        p = subprocess.Popen(['ip', 'netns', 'exec', self.ns[host]] + pin + [str(a) for a in argv], stdout=open(log, 'ab'),
                             stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.processes.append((name, p))
        return p

    def execute(self, host, *argv, timeout=300, env=None, check=False):
        return run('ip', 'netns', 'exec', self.ns[host], *argv, timeout=timeout, check=check, env=env)

    def listening(self, host, address, port):
        return self.execute(host, 'bash', '-c', 'exec 3<>/dev/tcp/%s/%d' % (address, port)).returncode == 0

    @staticmethod
    def stop(p):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def teardown(self):
        for _, p in reversed(self.processes):
            self.stop(p)
        for name in self.created:
            run('ip', 'netns', 'del', name, check=False)
            shutil.rmtree(Path('/etc/netns') / name, ignore_errors=True)


def prosody_config(directory, domain, s2s_address, certificate, key, cafile=None, c2s_address=None, c2s_tls=True, log_level='warn'):
    """A Prosody 0.12 configuration for one domain in a namespace: c2s on 5222 (on `c2s_address`,
    all interfaces by default; TLS required unless `c2s_tls` is false), s2s on 5269 with TLS
    required, dialback allowed (`s2s_secure_auth = false`), certificates checked against
    `cafile` (none: every peer comes in by dialback)."""
    trust = ('cafile = "%s"; ' % cafile) if cafile else ''
    c2s = ('c2s_interfaces = { "%s" }\ns2s_interfaces = { "%s" }' % (c2s_address, s2s_address)) if c2s_address \
        else 'interfaces = { "%s" }' % s2s_address
    return '''
run_as_root = true
pidfile = "{d}/prosody.pid"
data_path = "{d}/data"
admin_socket = "{d}/prosody.sock"
log = {{ {{ levels = {{ min = "{level}" }}, to = "file", filename = "{d}/prosody.log" }} }}
network_backend = "epoll"
network_settings = {{ tcp_backlog = 4096 }}
{interfaces}
c2s_ports = {{ 5222 }}
s2s_ports = {{ 5269 }}
c2s_direct_tls_ports = {{ }}
s2s_direct_tls_ports = {{ }}
component_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
c2s_require_encryption = {c2s_tls}
s2s_require_encryption = true
s2s_secure_auth = false
authentication = "internal_hashed"
-- libunbound answers the special-use .test (RFC 6761) with NXDOMAIN itself; let dnsmasq answer.
unbound = {{ options = {{ ["local-zone:"] = "test. transparent" }} }}
ssl = {{ certificate = "{certificate}"; key = "{key}"; {trust}}}
modules_enabled = {{ "disco"; "roster"; "saslauth"; "tls"; "dialback"; "ping"; "presence"; "s2s_auth_certs" }}
VirtualHost "{domain}"
'''.format(d=directory, level=log_level, interfaces=c2s, c2s_tls='true' if c2s_tls else 'false', certificate=certificate, key=key,
           trust=trust, domain=domain)
