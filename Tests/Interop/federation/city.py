#!/usr/bin/python3
"""A small city of XMPP servers in network namespaces, for the federation test (issue 19).

Builds, runs, and always tears down:
  - a switch namespace with a bridge and dnsmasq (10.77.0.254): A records for every host,
    `_xmpp-server._tcp` SRV records for each domain (city.test's points at xmpp.city.test);
  - gw1.test (10.77.0.11): Agora, its s2s certificate issued by the city root, which it trusts;
  - gw2.test (10.77.0.12): Agora with its own CA's certificate and no trust anchor: dialback only;
  - city.test (10.77.0.13): Debian's Prosody 0.12, the city root as its CA file, with the
    accounts carol and dave;
  - each host namespace with its own /etc/netns/<name>/resolv.conf naming dnsmasq.
Then runs scenarios.py (slixmpp clients) and hostile.py (raw peers) inside the city's namespace,
checks gw1's and gw2's /metrics, and kills gw1 (SIGKILL) while carol buys over s2s: after a
restart, every purchase she was told of must be on gw1's ledger exactly once. Prints
"federation ok ..." and exits 0, or the reason and 1.

usage: city.py --agora PATH [--keep]
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from netns import Failed as Fail, Topology, prosody_config, run  # noqa: E402

SUBNET = '10.77.0'
HOSTS = {'gw1': 11, 'gw2': 12, 'city': 13}


class City:
    def __init__(self, agora, work):
        self.agora = agora
        self.work = Path(work)
        self.net = Topology('fed', SUBNET, HOSTS, work)
        self.ns = self.net.ns

    def network(self):
        self.net.create([
            'host-record=gw1.test,%s.11' % SUBNET, 'host-record=gw2.test,%s.12' % SUBNET,
            'host-record=rooms.gw1.test,%s.11' % SUBNET, 'host-record=pubsub.gw1.test,%s.11' % SUBNET,
            'host-record=xmpp.city.test,%s.13' % SUBNET, 'host-record=evil.test,%s.13' % SUBNET,
            'srv-host=_xmpp-server._tcp.gw1.test,gw1.test,5269,0,5',
            'srv-host=_xmpp-server._tcp.gw2.test,gw2.test,5269,0,5',
            'srv-host=_xmpp-server._tcp.city.test,xmpp.city.test,5269,0,5',
        ])

    def in_ns(self, host, *argv, timeout=300, env=None):
        return self.net.execute(host, *argv, timeout=timeout, env=env)

    # --- certificates -------------------------------------------------------------------
    def certificates(self):
        d = self.work / 'pki'
        d.mkdir()

        def ca(name, subject):
            run('openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
                '-keyout', d / (name + '.key'), '-out', d / (name + '.pem'), '-subj', '/CN=' + subject,
                '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign')

        def leaf(name, domain, issuer):
            run('openssl', 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
                '-keyout', d / (name + '.key'), '-out', d / (name + '.csr'), '-subj', '/CN=' + domain)
            ext = d / (name + '.ext')
            ext.write_text('subjectAltName=DNS:%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n'
                           'extendedKeyUsage=serverAuth,clientAuth\n' % domain)
            run('openssl', 'x509', '-req', '-in', d / (name + '.csr'), '-CA', d / (issuer + '.pem'), '-CAkey', d / (issuer + '.key'),
                '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', d / (name + '.pem'))

        ca('root', 'City of Test Root')
        ca('rogue', 'Not The City')
        leaf('city', 'city.test', 'root')
        leaf('evil', 'evil.test', 'root')           # a real city member that misbehaves
        leaf('fake-city', 'city.test', 'rogue')     # claims city.test, chains to nothing trusted
        for f in d.iterdir():
            f.chmod(0o644)
        self.pki = d

    # --- servers ------------------------------------------------------------------------
    def agora_cli(self, state, *args, stdin=None):
        return run(self.agora, *args, '--state-dir', state, stdin=stdin)

    def gateway(self, host, domain, extra_env):
        state = self.work / host / 'state'
        state.parent.mkdir()
        self.agora_cli(state, 'init', '--domain', domain)
        env = dict(os.environ, AGORA_XMPP_BIND_ADDRESS='0.0.0.0', AGORA_HTTP_PORT='8080', AGORA_HTTP_BIND_ADDRESS='127.0.0.1',
                   AGORA_S2S_ENABLED='true', AGORA_LOG_LEVEL='debug', AGORA_S2S_IDLE_S='120', AGORA_S2S_CONNECT_TIMEOUT_S='10', **extra_env)
        return state, env

    def start_gateway(self, host, state, env):
        log = self.work / host / 'serve.log'
        offset = log.stat().st_size if log.exists() else 0   # a restart appends to the same log
        self.net.spawn('agora ' + host, host, [self.agora, 'serve', '--state-dir', state], log, env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            if 'agora serve ready' in log.read_bytes()[offset:].decode(errors='replace'):
                return log
            time.sleep(0.2)
        raise Fail('%s never became ready:\n%s' % (host, log.read_text(errors='replace')[-3000:]))

    def prosody(self):
        d = self.work / 'prosody'
        (d / 'data').mkdir(parents=True)
        cfg = d / 'prosody.cfg.lua'
        cfg.write_text(prosody_config(d, 'city.test', self.net.address('city'), self.pki / 'city.pem', self.pki / 'city.key',
                                      cafile=self.pki / 'root.pem', log_level='debug'))
        for user, password in (('carol', 'carol-city-1'), ('dave', 'dave-city-22')):
            run('prosodyctl', '--config', cfg, 'register', user, 'city.test', password)
        self.net.spawn('prosody', 'city', ['prosody', '--config', cfg, '-F'], d / 'stdout.log')
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.net.listening('city', self.net.address('city'), 5269):
                return d / 'prosody.log'
            time.sleep(0.2)
        raise Fail('prosody never listened:\n%s' % (d / 'stdout.log').read_text(errors='replace')[-3000:])

    def metrics(self, host):
        r = self.in_ns(host, '/usr/bin/python3', '-c', 'import urllib.request,sys; sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:8080/metrics", timeout=10).read().decode())')
        if r.returncode != 0:
            raise Fail('metrics of %s: %s' % (host, r.stderr[-2000:]))
        return r.stdout

def counter(text, name, **labels):
    """The value of one Prometheus sample, 0 when absent."""
    want = name + ('{' + ','.join('%s="%s"' % kv for kv in sorted(labels.items())) + '}' if labels else '')
    for line in text.splitlines():
        if line.startswith(want + ' '):
            return float(line.split()[-1])
    return 0.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--agora', required=True)
    p.add_argument('--keep', action='store_true', help='keep the work directory')
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix='agora-city-')
    city = City(a.agora, work)
    logs = {}
    try:
        city.network()
        city.certificates()
        pki = city.pki
        # gw1: its CA certified by the city root (agora ca csr, signed by the city with openssl,
        # agora ca install-chain), so the server certificate its CA issues chains to the root;
        # it trusts the root in turn. A tight rate for the flood check.
        gw1, env1 = city.gateway('gw1', 'gw1.test', {
            'AGORA_S2S_TRUST_FILE': str(pki / 'root.pem'), 'AGORA_S2S_STANZAS_PER_SECOND': '50',
            'AGORA_REGISTRY_JID': 'gw2.test', 'AGORA_REGISTRY_SYNC_S': '1'})
        # gw2: its own CA's certificate, no anchors: every peer comes in by dialback. It keeps
        # the city's XEP-0347 registry, where gw1 registers its sensors.
        gw2, env2 = city.gateway('gw2', 'gw2.test', {'AGORA_REGISTRY_ENABLED': 'true', 'AGORA_REGISTRY_MEMBERS': 'gw1.test'})
        (pki / 'gw1-ca.csr').write_text(city.agora_cli(gw1, 'ca', 'csr').stdout)
        (pki / 'ca.ext').write_text('basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n'
                                    'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n'
                                    'nameConstraints=critical,permitted;DNS:gw1.test\n')
        run('openssl', 'x509', '-req', '-in', pki / 'gw1-ca.csr', '-CA', pki / 'root.pem', '-CAkey', pki / 'root.key', '-CAcreateserial',
            '-days', '2', '-extfile', pki / 'ca.ext', '-out', pki / 'gw1-ca.pem')
        (pki / 'gw1-chain.pem').write_text((pki / 'gw1-ca.pem').read_text() + (pki / 'root.pem').read_text())
        city.agora_cli(gw1, 'ca', 'install-chain', pki / 'gw1-chain.pem')
        city.agora_cli(gw1, 'user', 'add', 'alice@gw1.test', '--role', 'consumer', '--password-stdin', stdin='alice-gw1-pass\n')
        city.agora_cli(gw1, 'user', 'add', 'olga@gw1.test', '--role', 'owner', '--password-stdin', stdin='olga-gw1-pass\n')
        city.agora_cli(gw1, 'user', 'add', 'carol@city.test', '--role', 'consumer', '--remote')
        city.agora_cli(gw1, 'credit', 'mint', 'carol@city.test', '500', '--memo', 'federation test')
        city.agora_cli(gw1, 'sensor', 'add', 'street-1', '--owner', 'olga@gw1.test', '--kind', 'pm25', '--price', '2')
        city.agora_cli(gw1, 'sensor', 'add', 'old-1', '--owner', 'olga@gw1.test', '--kind', 'pm25', '--price', '1')
        city.agora_cli(gw1, 'sensor', 'freeze', 'old-1', '--reason', 'replaced by street-1')
        start = (int(time.time()) // 3600 - 3) * 3600
        records = [{'bt': start, 'n': 'pm25', 't': 0, 'v': 0.0}] + [{'n': 'pm25', 't': i * 10, 'v': i / 4} for i in range(1, 360)]
        pack = Path(work) / 'pack.json'
        pack.write_text(json.dumps(records))
        city.agora_cli(gw1, 'readings', 'ingest', '--sensor', 'street-1', pack)
        log_key = json.loads(city.agora_cli(gw1, 'status', '--json').stdout)['logKey']
        city.agora_cli(gw2, 'user', 'add', 'bob@gw2.test', '--role', 'consumer', '--password-stdin', stdin='bob-gw2-pass\n')
        logs['gw2'] = city.start_gateway('gw2', gw2, env2)   # first: gw1 registers its sensors there as it starts
        logs['gw1'] = city.start_gateway('gw1', gw1, env1)
        logs['prosody'] = city.prosody()

        # The clients, from inside the city (every server is reachable on the bridge).
        def scenarios(*extra):
            r = city.in_ns('city', '/usr/bin/python3', HERE / 'scenarios.py', '--pki', pki, '--gw1-ca', gw1 / 'xmpp' / 'ca.pem',
                           '--gw2-ca', gw2 / 'xmpp' / 'ca.pem', '--log-key', log_key, '--sensor', 'street-1', '--start', str(start),
                           *extra, timeout=300)
            if r.returncode != 0 or 'scenarios ok' not in r.stdout:
                raise Fail('scenarios.py %s exited %d:\n%s%s' % (' '.join(extra), r.returncode, r.stdout[-5000:], r.stderr[-5000:]))
            print(r.stdout.strip())
        scenarios()
        # The same from Agora's own command-line client, logged in at Prosody as carol.
        client = ['--jid', 'carol@city.test', '--server', '%s.13:5222' % SUBNET, '--ca', pki / 'root.pem']
        env = dict(os.environ, AGORA_CLIENT_PASSWORD='carol-city-1')
        found = city.in_ns('city', a.agora, 'client', 'search', *client, '--registry', 'gw2.test', '--kind', 'pm25', env=env)
        if found.returncode != 0 or 'street-1' not in found.stdout or 'at gw1.test' not in found.stdout:
            raise Fail('agora client search --registry: %d\n%s%s' % (found.returncode, found.stdout, found.stderr))
        balance = city.in_ns('city', a.agora, 'client', 'balance', *client, '--gateway', 'gw1.test', env=env)
        if balance.returncode != 0 or '498' not in balance.stdout:
            raise Fail('agora client balance --gateway gw1.test: %d\n%s%s' % (balance.returncode, balance.stdout, balance.stderr))
        print('agora client as carol@city.test: found %s in the registry; balance on gw1: %s' % (found.stdout.split()[0], balance.stdout.strip()))
        before = city.metrics('gw1')
        r = city.in_ns('city', '/usr/bin/python3', HERE / 'hostile.py', '--pki', pki, '--target', '%s.11' % SUBNET, timeout=180)
        if r.returncode != 0 or 'hostile ok' not in r.stdout:
            raise Fail('hostile.py exited %d:\n%s%s' % (r.returncode, r.stdout[-5000:], r.stderr[-5000:]))
        print(r.stdout.strip())
        scenarios('--again')

        m1, m2 = city.metrics('gw1'), city.metrics('gw2')
        checks = [
            (counter(m1, 'agora_s2s_authenticated_total', how='inbound_external') >= 1, 'gw1 authenticated no peer by certificate'),
            (counter(m1, 'agora_s2s_authenticated_total', how='outbound_external') >= 1, 'gw1 was accepted by certificate nowhere'),
            (counter(m2, 'agora_s2s_authenticated_total', how='inbound_dialback') >= 1, 'gw2 authenticated no peer by dialback'),
            (counter(m2, 'agora_s2s_authenticated_total', how='outbound_dialback') >= 1, 'gw2 was accepted by dialback nowhere'),
            (counter(m1, 'agora_s2s_refused_total', reason='invalid_from') > counter(before, 'agora_s2s_refused_total', reason='invalid_from'),
             'the forged from was not counted'),
            (counter(m1, 'agora_s2s_refused_total', reason='dialback') > counter(before, 'agora_s2s_refused_total', reason='dialback'),
             'the bad dialback key was not counted'),
            # 600 sent over two streams against one budget of 200 + 50/s: most are dropped.
            (counter(m1, 'agora_s2s_refused_total', reason='rate') >= 250, 'the flood was not held to the domain\'s rate'),
            (counter(m1, 'agora_s2s_stanzas_total', direction='inbound') > 0, 'no inbound stanza counted on gw1'),
        ]
        failed = [why for ok, why in checks if not ok]
        if failed:
            raise Fail('; '.join(failed) + '\n--- gw1 s2s metrics ---\n' + '\n'.join(l for l in m1.splitlines() if 's2s' in l)
                       + '\n--- gw2 s2s metrics ---\n' + '\n'.join(l for l in m2.splitlines() if 's2s' in l))
        # kill -9 of gw1 while carol buys over s2s: what she was told of survives, once.
        bought_log = Path(work) / 'bought.txt'
        buyer = subprocess.Popen(['ip', 'netns', 'exec', city.ns['city'], '/usr/bin/python3', HERE / 'scenarios.py', '--pki', pki,
                                  '--gw1-ca', gw1 / 'xmpp' / 'ca.pem', '--gw2-ca', gw2 / 'xmpp' / 'ca.pem', '--log-key', log_key,
                                  '--sensor', 'street-1', '--start', str(start), '--buy-until-gone'],
                                 stdout=open(bought_log, 'w'), stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline and bought_log.read_text().count('bought ') < 5 and buyer.poll() is None:
            time.sleep(0.05)
        if bought_log.read_text().count('bought ') < 5:
            buyer.kill()
            raise Fail('carol bought less than 5 before the kill:\n' + bought_log.read_text()[-3000:])
        serve1 = next(p for name, p in city.net.processes if name == 'agora gw1' and p.poll() is None)
        serve1.send_signal(signal.SIGKILL)
        serve1.wait()
        try:
            buyer.wait(timeout=60)
        except subprocess.TimeoutExpired:
            buyer.kill()
            raise Fail('the buyer did not stop after gw1 was killed:\n' + bought_log.read_text()[-3000:])
        acknowledged = bought_log.read_text().count('bought ')
        logs['gw1'] = city.start_gateway('gw1', gw1, env1)
        scenarios('--verify-purchases', str(bought_log))
        status = json.loads(city.agora_cli(gw1, 'status', '--json').stdout)
        if status.get('sumOfBalances') != status.get('totalMinted'):
            raise Fail('after the crash the balances do not add up: %s' % status)
        city.agora_cli(gw1, 'ledger', 'verify', '--replay')
        print('crash: gw1 killed after %d acknowledged purchases; all on the ledger once, balances add up, the ledger replays' % acknowledged)

        # No key material in the logs.
        for host in ('gw1', 'gw2'):
            text = logs[host].read_text(errors='replace')
            if 'PRIVATE KEY' in text:
                raise Fail('%s logged key material' % host)
        print('federation ok: Prosody <-> gw1 by certificate, Prosody <-> gw2 and gw1 <-> gw2 by dialback, a remote consumer bought and verified, hostile peers refused, purchases survived kill -9')
        return 0
    except Fail as e:
        print('FAIL:', e)
        for name, log in logs.items():
            print('--- %s log (tail) ---' % name)
            print(log.read_text(errors='replace')[-6000:])
        return 1
    finally:
        city.net.teardown()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print('kept', work)


if __name__ == '__main__':
    sys.exit(main())
