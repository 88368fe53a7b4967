#!/usr/bin/python3
"""Crash and power-loss tests for `agora serve`, with real peers under load.

usage: crash.py [--kills 20] [--seed N] [--agora PATH] [--keep] [--inject-loss]
       crash.py --power-cut [--cuts 5] [--seed N] [--agora PATH] [--keep] [--inject-loss]   (root)

Run it with Debian's /usr/bin/python3 (it has slixmpp). It sets up a gateway in a fresh
directory under /var/tmp ($AGORA_CRASH_DIR): `agora init`, an owner and four buyers (`agora
user add --password-stdin`), a million credits for each buyer (`agora credit mint`), sensor
s1 (`agora sensor add`, 1 credit per hour) with a certificate from an OpenSSL CSR (`agora ca
sign --for sensor:s1`), and Mosquitto configured by `agora broker-config` on random loopback
ports. Then, again and again, it starts `agora serve`, loads it, and ends it without warning:

- purchases over XMPP (slixmpp, `urn:agora:market:1`): four buyers with two purchases in
  flight each (at most 150 a second in all), every one with its own request id and a
  one-hour window (1 credit). A purchase is *acknowledged* once its IQ result reached the
  client. Purchases whose answer was cut off are *in doubt* and are sent again, same
  request id, after the restart, as a real client would: "exactly once" is tested across
  the crash, not only assumed;
- readings over MQTT: `mosquitto_pub -l` at QoS 1 with the sensor's certificate, packs of
  8 SenML records, every reading with its own millisecond time and its number as value.
  The broker is never killed and keeps Agora's persistent session; Agora PUBACKs a message
  only once it is durable (Sources/AgoraMQTT/MosquittoClient.swift), so what a crash cut
  off is delivered again after the restart. After a crash, the readings that count as
  acknowledged are those a `readings.commit` entry covers; at the end, every reading the
  broker accepted must have been stored, exactly once.

Crash mode (default): `kill -9` at a random moment, `--kills` times: usually 0.2-2 s into
the load, one time in five within 0.4 s of the start (opening the store, binding,
connecting to the broker, taking the backlog the broker kept while Agora was down).

Power-cut mode (`--power-cut`, root): the state directory is on ext4 on a loop device (a
256 MiB sparse image file). At a random moment agora is frozen with SIGSTOP, the image file
is copied, agora is SIGKILLed, the live filesystem is unmounted and its loop device
detached, and the *copy* is attached on a new loop device and mounted in its place (the
mount replays ext4's journal). The checks run against the copy, and the next round serves
from it, as a gateway does when power comes back.
What the copy holds: the loop driver writes into the image file's page cache whatever the
filesystem above it submits, and an fsync there (LMDB's commit) returns only after its
blocks reached the image and the flush was passed down. So the copy holds every synced
write, plus whatever subset of unsynced writes the kernel's writeback (ext4 journal commits
every 1, 5 or 30 s, varied per round; dirty-page flushing) happened to submit: the disk a
power cut leaves behind when the drive honours flushes.
Limits of the model: it is not a torn-page simulation (each block of the copy is wholly
old or wholly new; LMDB relies on its meta page being written atomically, which real flash
may not give); it never reorders or drops writes a drive claimed were durable (a lying
write cache); writes racing the copy land in it or not, block by block, at random; and the
broker (and its own persistence) is never cut. The acknowledged set is what the clients
had been told before the SIGSTOP (replies already on the wire count too: they were sent
after their sync).

After every crash, on the state the crash left and before the restart:
1. `agora ledger verify --replay` exits 0;
2. the ledger extends the one the previous check saw, byte for byte (nothing once on the
   disk disappears);
3. every acknowledged purchase is on the ledger exactly once (by buyer and request id), at
   the index its reply gave, with its id, window and amount; no purchase appears twice and
   none that nobody asked for; the checkpoint in every receipt a client got has the root of
   the ledger's first treeSize entries as they are now, and the receipt's entry bytes are
   the ledger's (no acknowledged history rewritten);
4. `agora status --json`: sumOfBalances == totalMinted == what was minted, and the owner's
   balance equals the number of purchases on the ledger;
5. `agora readings export --sensor s1 --format json` holds exactly as many readings as the
   `readings.commit` entries count (none missing, none uncommitted); where a commit's time
   range overlaps no other's, its exported readings reproduce its Merkle root; every
   reading's time is exactly the one it was published with, every one was published, and
   none is stored twice (redelivered messages are not stored again).

Throughout, the owner watches the sensor live (`agora client watch s1 --format json`, issue
21): it reconnects after each kill and fetches what it missed. At the end every committed
reading must have reached it exactly once — pushed live, kept for it while it was away, or
fetched over the gap — and nothing else.

Finally the gateway is restarted once more, in-doubt purchases are settled, the publisher
stops (mosquitto_pub exits once the broker acknowledged every message), the broker's queue
drains, `agora serve` stops with SIGTERM, and the checks run a last time, plus: every
published reading is stored (a reading lost anywhere between the broker and the store
fails the run). Prints

    crash ok kills=20 purchases_acked=N readings_committed=M lost=0 ...
    power-cut ok cuts=5 purchases_acked=N readings_committed=M lost=0 ...

and exits 0; on a violation it prints what was lost or wrong, keeps the work directory and
exits 1 (2: set-up failed; 3: the script itself failed). `--inject-loss` tests the checks:
in the first round it puts back a snapshot of the store taken partway through the load
(mdb_copy; in power-cut mode an earlier copy of the image), and the run must FAIL with LOST.
"""
import argparse
import asyncio
import base64
import bisect
import calendar
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import logging
from pathlib import Path

logging.basicConfig(level=logging.CRITICAL)   # slixmpp's and asyncio's chatter

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / 'Tests' / 'Interop' / 'xmpp'))
sys.path.insert(0, str(ROOT / 'Tests' / 'Interop'))
from clients import Client  # noqa: E402
from market import MARKET, ask, rfc3339  # noqa: E402
from slixmpp.exceptions import IqError, IqTimeout  # noqa: E402

DOMAIN = 'crash.test'
SENSOR = 's1'
OWNER = 'owner@' + DOMAIN
BUYERS = ['buyer%d@%s' % (i, DOMAIN) for i in range(4)]
MINT = 1_000_000
IN_FLIGHT = 2            # purchases in flight per buyer
PURCHASES_PER_S = 150    # at most, all buyers together: the checks' cost grows with the ledger
PACK = 8                 # readings per MQTT message
PACKS_PER_S = 20
WINDOW_BASE = 1_577_836_800  # 2020-01-01T00:00:00Z: purchase n of a buyer covers hour n from here


class Violation(Exception):
    """Agora broke a promise: the test fails with this message."""


class SetupError(Exception):
    pass


def log(msg):
    print('[%6.1fs] %s' % (time.monotonic() - START, msg), flush=True)


START = time.monotonic()


# ------------------------------------------------------------------ the gateway's processes

class Gateway:
    """The `agora` CLI and `agora serve` on one state directory."""

    def __init__(self, agora, work, state):
        self.agora, self.work, self.state = agora, Path(work), Path(state)
        self.serve = None
        self.port = None
        self.log_path = self.work / 'serve.log'
        self.starts = 0

    def cli(self, *args, stdin=None, check=True):
        p = subprocess.run([self.agora, *args, '--state-dir', str(self.state)], input=stdin,
                           capture_output=True, text=True, timeout=300)
        if check and p.returncode != 0:
            raise Violation('agora %s exited %d: %s' % (' '.join(args), p.returncode, (p.stderr or p.stdout).strip()[-2000:]))
        return p

    def spawn(self):
        """Starts `agora serve`; returns the log offset its lines start at."""
        self.starts += 1
        # The load is four buyers at 150 purchases a second together: far above the per-account
        # quota an operator would set, which is not what this test is about.
        env = dict(os.environ, AGORA_XMPP_C2S_PORT=str(self.port), AGORA_XMPP_TLS_PORT='0',
                   AGORA_XMPP_BIND_ADDRESS='127.0.0.1', AGORA_XMPP_CONNECTION_RATE='0',
                   AGORA_QUOTAS_LEDGER_WRITES_PER_MINUTE='0')
        with open(self.log_path, 'a') as f:
            f.write('----- start %d\n' % self.starts)
            offset = f.tell()
            self.serve = subprocess.Popen([self.agora, 'serve', '--state-dir', str(self.state)], stdin=subprocess.DEVNULL,
                                          stdout=f, stderr=subprocess.STDOUT, env=env)
        return offset

    def wait_ready(self, offset, timeout=30):
        """Until the log since `offset` says XMPP listens and the broker is connected."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_since(offset)
            if 'xmpp listening' in text and 'connected to the broker' in text:
                return
            if self.serve.poll() is not None:
                raise Violation('agora serve exited %s at start %d:\n%s' % (self.serve.returncode, self.starts, text[-3000:]))
            time.sleep(0.02)
        raise Violation('agora serve not ready after %ds at start %d:\n%s' % (timeout, self.starts, self.log_since(offset)[-3000:]))

    def log_since(self, offset):
        with open(self.log_path, errors='replace') as f:
            f.seek(offset)
            return f.read()

    def start(self, first=False):
        """Starts serve and waits until it is ready; moves to another port if its own is taken.

        Ports are below Linux's ephemeral range (32768-60999), so no outgoing connection can
        take the port while serve is down; another test may, rarely."""
        for attempt in range(5):
            if first or attempt > 0:
                self.port = random.randint(20_000, 32_000)
            offset = self.spawn()
            try:
                self.wait_ready(offset)
                return
            except Violation:
                text = self.log_since(offset)
                self.reap()
                if 'in use' in text and attempt < 4:
                    continue
                raise

    def kill(self, sig=signal.SIGKILL):
        """Sends `sig` to serve, which must still be running: dying by itself is a failure."""
        if self.serve is None:
            return
        if self.serve.poll() is not None:
            text = self.log_path.read_text(errors='replace')[-3000:]
            if 'in use' in text.rsplit('----- start', 1)[-1]:
                raise SetupError('another process took port %d while agora serve was down' % self.port)
            raise Violation('agora serve died by itself (exit %s) at start %d:\n%s' % (self.serve.returncode, self.starts, text))
        os.kill(self.serve.pid, sig)
        if sig == signal.SIGKILL:
            self.serve.wait()
            self.serve = None

    def reap(self):
        """Ends serve whatever its state (a failed start, clean-up)."""
        if self.serve is not None:
            if self.serve.poll() is None:
                self.serve.kill()
            self.serve.wait()
            self.serve = None

    def stop_gracefully(self):
        self.serve.send_signal(signal.SIGTERM)
        try:
            code = self.serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise Violation('agora serve did not stop within 30 s of SIGTERM')
        self.serve = None
        if code != 0:
            raise Violation('agora serve exited %d after SIGTERM' % code)


def setup(gw, work):
    """State, accounts, credits, the sensor and its certificate."""
    gw.cli('init', '--domain', DOMAIN)
    gw.cli('user', 'add', OWNER, '--role', 'owner', '--password-stdin', stdin='owner-secret-1\n')
    for jid in BUYERS:
        gw.cli('user', 'add', jid, '--role', 'consumer', '--password-stdin', stdin=password(jid) + '\n')
        gw.cli('credit', 'mint', jid, str(MINT))
    gw.cli('sensor', 'add', SENSOR, '--owner', OWNER, '--kind', 'pm25', '--price', '1')
    key, csr = work / 's1.key', work / 's1.csr'
    subprocess.run(['openssl', 'req', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
                    '-keyout', str(key), '-out', str(csr), '-subj', '/CN=' + SENSOR], check=True, capture_output=True)
    (work / 's1.pem').write_text(gw.cli('ca', 'sign', str(csr), '--for', 'sensor:' + SENSOR).stdout)


def password(jid):
    return jid.split('@')[0] + '-secret-42'


def free_port_pair():
    """The first of two consecutive TCP ports free now: the kernel picks one (bind port 0),
    the next is checked by binding it. Both are closed again, so another process may still
    take one: the broker's start moves on when its port is in use."""
    for _ in range(100):
        with socket.socket() as first:
            first.bind(('', 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(('', port + 1))
                except OSError:
                    continue
                return port
    raise SetupError('found no two consecutive free TCP ports')


def logged_subscription(line, client, topic_filter):
    """Whether `line` is Mosquitto's log of a subscription: 'TIME: CLIENT QOS FILTER'."""
    fields = line.split(': ', 1)[-1].split(' ')
    return len(fields) == 3 and fields[0] == client and fields[1].isdigit() and fields[2] == topic_filter


class Broker:
    """Mosquitto as `agora broker-config` configures it, on two consecutive free ports.

    It runs a copy of that configuration that also logs every subscription (Mosquitto's
    default log types must then be named too), so the run can wait until the gateway is
    subscribed instead of a fixed time; Tests/TestSupport/Mosquitto.swift does the same."""

    LOGGING = ('\n# Added by crash.py: the default log types and every subscription.\n'
               'log_type error\nlog_type warning\nlog_type notice\nlog_type information\nlog_type subscribe\n')

    def __init__(self, work):
        self.work = work
        self.process = None
        self.port = None
        self.log_path = None

    def start(self, gw):
        """Configures and starts the broker, and returns once it has bound both listeners
        (it logs 'running' only then); on a port taken meanwhile, again on others."""
        for attempt in range(5):
            self.port = free_port_pair()
            shutil.rmtree(self.work / 'broker', ignore_errors=True)
            gw.cli('broker-config', '--out', str(self.work / 'broker'), '--host', '127.0.0.1',
                   '--port-tls', str(self.port), '--port-pair', str(self.port + 1))
            conf = self.work / 'broker' / 'mosquitto-test.conf'
            conf.write_text((self.work / 'broker' / 'mosquitto.conf').read_text() + self.LOGGING)
            self.log_path = self.work / ('mosquitto-%d.log' % attempt)
            self.process = subprocess.Popen(['/usr/sbin/mosquitto', '-c', str(conf)],
                                            stdin=subprocess.DEVNULL, stdout=open(self.log_path, 'w'), stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 20
            while self.process.poll() is None and time.monotonic() < deadline:
                if any('mosquitto version' in line and line.endswith(' running') for line in self.log().splitlines()):
                    return
                time.sleep(0.02)
            self.stop()
            if 'in use' not in self.log():
                raise SetupError('mosquitto did not start: %s' % self.log()[-2000:])
        raise SetupError('mosquitto found its port in use five times: %s' % self.log()[-2000:])

    def log(self):
        return self.log_path.read_text(errors='replace')

    def wait_for_gateway(self, timeout=20):
        """Until the broker has subscribed the gateway to readings: from then on it keeps
        them for the gateway's session, whether agora serve is up or not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(logged_subscription(line, 'agora:gateway', 'agora/sensors/+/senml') for line in self.log().splitlines()):
                return
            time.sleep(0.02)
        raise SetupError('the gateway did not subscribe within %d s: %s' % (timeout, self.log()[-2000:]))

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


# ------------------------------------------------------------------ MQTT readings

class Publisher:
    """`mosquitto_pub -l` (QoS 1, the sensor's certificate) fed packs from a thread.

    Reading k has value k and time base + k ms (exact in SenML's seconds: bt whole, t in ms)."""

    def __init__(self, work, port):
        self.base = int(time.time()) - 3600
        self.next = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.died = False
        ca, cert, key = work / 'broker' / 'ca.pem', work / 's1.pem', work / 's1.key'
        self.process = subprocess.Popen(
            ['/usr/bin/mosquitto_pub', '-h', '127.0.0.1', '-p', str(port), '--cafile', str(ca), '--cert', str(cert),
             '--key', str(key), '-q', '1', '-i', 'client:crash-sensor', '-t', 'agora/sensors/%s/senml' % SENSOR, '-l'],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=open(work / 'mosquitto_pub.log', 'a'), text=True)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def expected_time(self, k):
        return (self.base + k // 1000) * 1_000_000_000 + (k % 1000) * 1_000_000

    def pack(self, first):
        records = []
        for k in range(first, first + PACK):
            record = {'bt': self.base + k // 1000, 't': float('%.3f' % ((k % 1000) / 1000)), 'n': 'pm25', 'u': 'ug/m3', 'v': k}
            if k == first:
                record['bn'] = SENSOR + ':'
            records.append(record)
        return json.dumps(records, separators=(',', ':'))

    def _run(self):
        interval = 1.0 / PACKS_PER_S
        due = time.monotonic()
        while not self.stopping.is_set():
            with self.lock:
                first = self.next
                self.next += PACK
            try:
                self.process.stdin.write(self.pack(first) + '\n')
                self.process.stdin.flush()
            except (BrokenPipeError, ValueError):
                self.died = True
                return
            due += interval
            time.sleep(max(0.0, due - time.monotonic()))

    @property
    def published(self):
        with self.lock:
            return self.next

    def finish(self):
        """Stops feeding and waits until mosquitto_pub has had every message acknowledged."""
        self.stopping.set()
        self.thread.join()
        self.process.stdin.close()
        try:
            code = self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise SetupError('mosquitto_pub did not finish')
        if code != 0 or self.died:
            raise SetupError('mosquitto_pub failed (exit %s); see mosquitto_pub.log' % code)

    def kill(self):
        self.stopping.set()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class Watcher:
    """`agora client watch` as the sensor's owner, for the whole run: its JSON lines are what
    reached the subscriber. It reconnects by itself after each kill (the port stays the same)."""

    def __init__(self, gw, work):
        self.path = work / 'watch.jsonl'
        self.port = gw.port
        self.process = subprocess.Popen(
            [gw.agora, 'client', 'watch', SENSOR, '--format', 'json', '--jid', OWNER, '--password-stdin',
             '--server', '127.0.0.1:%d' % gw.port, '--ca', str(gw.state / 'xmpp' / 'ca.pem'),
             '--known-logs', str(work / 'known-logs'), '--timeout', '10'],
            stdin=subprocess.PIPE, stdout=open(self.path, 'w'), stderr=open(work / 'watch.log', 'w'), text=True)
        self.process.stdin.write('owner-secret-1\n')
        self.process.stdin.close()
        # Subscribed before the first reading is published: what is committed before a
        # subscription exists is nobody's to receive.
        deadline = time.monotonic() + 30
        while 'watching' not in (work / 'watch.log').read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SetupError('agora client watch did not subscribe: %s' % (work / 'watch.log').read_text()[-2000:])
            time.sleep(0.05)

    def values(self):
        """The reading numbers printed so far, in order."""
        values = []
        with open(self.path) as f:
            for line in f:
                if line.endswith('\n'):
                    values.append(int(json.loads(line)['v']))
        return values

    def check(self, gw, committed, timeout=60):
        """Every committed reading printed once, and nothing else, within `timeout`."""
        if gw.port != self.port:
            raise SetupError('agora serve moved to port %d (%d was taken meanwhile); the watcher cannot follow' % (gw.port, self.port))
        deadline = time.monotonic() + timeout
        values = self.values()
        while len(values) < len(committed) and time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Violation('agora client watch exited %s: %s' % (self.process.returncode, (self.path.parent / 'watch.log').read_text()[-2000:]))
            time.sleep(0.2)
            values = self.values()
        twice = sorted(k for k in set(values) if values.count(k) > 1) if len(values) != len(set(values)) else []
        if twice:
            raise Violation('the live watcher printed %d readings more than once (numbers %s)' % (len(values) - len(set(values)), twice[:10]))
        missed = sorted(set(committed) - set(values))
        if missed:
            raise Violation('LOST (live): %d of %d committed readings never reached the watching owner (numbers %s…); watch.log: %s' % (
                len(missed), len(committed), missed[:10], (self.path.parent / 'watch.log').read_text()[-1500:]))
        extra = sorted(set(values) - set(committed))
        if extra:
            raise Violation('the live watcher printed readings that were never committed: %s' % extra[:10])
        return len(values)

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


# ------------------------------------------------------------------ XMPP purchases

class Book:
    """What the clients asked for and what they were told."""

    def __init__(self):
        self.sent = {}        # (buyer, request) -> (from, to)
        self.acked = {}       # (buyer, request) -> reply attributes + receipt
        self.in_doubt = {b: [] for b in BUYERS}   # requests to send again
        self.hours = {b: 0 for b in BUYERS}
        self.retried = 0
        self.replayed = 0
        self.doubted = set()  # every request whose answer a crash ever cut off
        self.ledger = []      # the entries' bytes at the last check

    def new_request(self, buyer, cycle):
        n = self.hours[buyer]
        self.hours[buyer] += 1
        request = 'c%d-%s-%d' % (cycle, buyer.split('@')[0], n)
        start = WINDOW_BASE + n * 3600
        self.sent[(buyer, request)] = (rfc3339(start), rfc3339(start + 3600))
        return request


async def load(gw, book, cycle, duration, args, snapshot=None):
    """Purchases by every buyer until `duration` has passed, then kill (or the power cut)."""
    ns = argparse.Namespace(host='127.0.0.1', port=gw.port, domain=DOMAIN, ca=str(gw.state / 'xmpp' / 'ca.pem'))
    clients = {}
    for jid in BUYERS:
        clients[jid] = await asyncio.wait_for(Client(ns, jid, password(jid)).login(presence=False), 20)
    refusals = []

    async def worker(buyer):
        client = clients[buyer]
        interval = len(BUYERS) * IN_FLIGHT / PURCHASES_PER_S
        due = time.monotonic() + random.uniform(0, interval)
        while True:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            due = max(due + interval, time.monotonic())
            retry = bool(book.in_doubt[buyer])
            request = book.in_doubt[buyer].pop() if retry else book.new_request(buyer, cycle)
            book.retried += retry
            window = book.sent[(buyer, request)]
            try:
                reply = await ask(client, 'set', MARKET, 'purchase',
                                  {'sensor': SENSOR, 'from': window[0], 'to': window[1], 'request': request, 'max-credits': 1})
            except (asyncio.CancelledError, IqTimeout):
                book.in_doubt[buyer].append(request)
                book.doubted.add((buyer, request))
                raise
            except IqError as e:
                refusals.append('%s %s: %s %s' % (buyer, request, e.iq['error']['condition'], e.iq['error']['text']))
                return
            receipt = reply.find('{urn:agora:ledger:1}receipt')
            book.acked[(buyer, request)] = {
                'id': reply.get('id'), 'from': reply.get('from'), 'to': reply.get('to'), 'credits': reply.get('credits'),
                'index': int(reply.get('ledger-index')), 'replayed': reply.get('replayed'),
                'receipt': json.loads(receipt.text) if receipt is not None else None}
            book.replayed += reply.get('replayed') == 'true'

    tasks = [asyncio.ensure_future(worker(b)) for b in BUYERS for _ in range(IN_FLIGHT)]
    if snapshot is not None:
        # Self-test: the state as it was partway through, to be put back after the crash.
        await asyncio.sleep(duration / 3)
        snapshot()
        acked = len(book.acked)
        await asyncio.sleep(duration * 2 / 3)
        if len(book.acked) == acked:
            raise SetupError('self-test: no purchase was acknowledged after the snapshot')
    else:
        await asyncio.sleep(duration)
    if args.power_cut:
        gw.kill(signal.SIGSTOP)
        wait_stopped(gw.serve.pid)
    else:
        gw.kill()
    # Replies already on the wire were sent after their commit: let them in, then give up.
    await asyncio.sleep(0.3)
    for t in tasks:
        t.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for r in results:
        if isinstance(r, Exception) and not isinstance(r, (asyncio.CancelledError, IqTimeout)):
            raise r
    for c in clients.values():
        if c.transport:
            c.transport.abort()
    if refusals:
        raise Violation('purchases were refused: %s' % '; '.join(refusals[:5]))


async def settle(gw, book, args):
    """After the last restart: send every in-doubt purchase again until each has its answer."""
    ns = argparse.Namespace(host='127.0.0.1', port=gw.port, domain=DOMAIN, ca=str(gw.state / 'xmpp' / 'ca.pem'))
    for buyer in BUYERS:
        client = await asyncio.wait_for(Client(ns, buyer, password(buyer)).login(presence=False), 20)
        while book.in_doubt[buyer]:
            request = book.in_doubt[buyer].pop()
            book.retried += 1
            window = book.sent[(buyer, request)]
            try:
                reply = await ask(client, 'set', MARKET, 'purchase', {'sensor': SENSOR, 'from': window[0], 'to': window[1], 'request': request, 'max-credits': 1})
            except IqError as e:
                raise Violation('retried purchase %s refused: %s' % (request, e.iq['error']['condition']))
            receipt = reply.find('{urn:agora:ledger:1}receipt')
            book.acked[(buyer, request)] = {
                'id': reply.get('id'), 'from': reply.get('from'), 'to': reply.get('to'), 'credits': reply.get('credits'),
                'index': int(reply.get('ledger-index')), 'replayed': reply.get('replayed'),
                'receipt': json.loads(receipt.text) if receipt is not None else None}
            book.replayed += reply.get('replayed') == 'true'
        await client.logout()


def run_async(coro):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(coro)
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()


def wait_stopped(pid):
    """Until every thread of `pid` is stopped (SIGSTOP is delivered asynchronously)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        states = []
        for tid in os.listdir('/proc/%d/task' % pid):
            with open('/proc/%d/task/%s/stat' % (pid, tid)) as f:
                states.append(f.read().rsplit(')', 1)[1].split()[0])
        if all(s in ('T', 't') for s in states):
            return
        time.sleep(0.001)
    raise SetupError('agora serve did not stop on SIGSTOP')


# ------------------------------------------------------------------ the checks

def leaf(entry_bytes):
    return hashlib.sha256(b'\x00' + entry_bytes).digest()


def node(left, right):
    return hashlib.sha256(b'\x01' + left + right).digest()


def mth(hashes):
    """RFC 9162 section 2.1.1 Merkle tree hash over leaf hashes."""
    if not hashes:
        return hashlib.sha256(b'').digest()
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node(mth(hashes[:k]), mth(hashes[k:]))


class Roots:
    """The root of every prefix of a list of leaf hashes, from a compact range (O(log n) each)."""

    def __init__(self, leaves):
        self.roots = [hashlib.sha256(b'').digest()]
        stack = []   # (height, hash)
        for i, h in enumerate(leaves):
            height, cur = 0, h
            while stack and stack[-1][0] == height:
                cur = node(stack.pop()[1], cur)
                height += 1
            stack.append((height, cur))
            root = stack[-1][1]
            for _, left in reversed(stack[:-1]):
                root = node(left, root)
            self.roots.append(root)

    def at(self, size):
        return self.roots[size]


def check(gw, book, pub, label):
    """Everything acknowledged survived on the state in gw.state; returns the counts."""
    verify = gw.cli('ledger', 'verify', '--replay', check=False)
    if verify.returncode != 0:
        raise Violation('%s: agora ledger verify --replay exited %d: %s' % (label, verify.returncode, (verify.stderr or verify.stdout).strip()[-2000:]))

    # The ledger, exactly as stored: the text form prints each entry's bytes after its index.
    lines = gw.cli('ledger', 'show', '--limit', '1000000000').stdout.split('\n')
    raw = []
    for i, line in enumerate(l for l in lines if l):
        index, _, entry = line.partition('\t')
        if index != str(i):
            raise Violation('%s: ledger show: line %d is %r' % (label, i, line[:300]))
        raw.append(entry.encode())
    try:
        entries = [json.loads(e) for e in raw]
    except ValueError as e:
        raise Violation('%s: ledger show: an entry is not JSON (%s)' % (label, e))
    shown = parsed(gw.cli('ledger', 'show', '--json', '--limit', '1000000000'), label)
    if len(shown) != len(entries) or any(s['entry'] != e for s, e in zip(shown, entries)):
        raise Violation('%s: ledger show --json and the text form disagree' % label)
    roots = Roots([leaf(e) for e in raw])
    # Nothing a previous check saw on the "disk" may disappear or change: the ledger only grows.
    if raw[:len(book.ledger)] != book.ledger:
        first = next(i for i, (a, b) in enumerate(zip(raw + [None] * len(book.ledger), book.ledger)) if a != b)
        raise Violation('%s: LOST: the ledger had %d entries at the previous check and now has %d; entry %d %s'
                        % (label, len(book.ledger), len(raw), first, 'is gone' if first >= len(raw) else 'differs'))
    book.ledger = raw

    # Purchases: each acknowledged one exactly once, where and as its reply said.
    purchases = {}
    for index, e in enumerate(entries):
        if e['type'] == 'purchase':
            purchases.setdefault((e['buyer'], e['request']), []).append(index)
    for key, indices in purchases.items():
        if len(indices) > 1:
            raise Violation('%s: purchase %s is on the ledger %d times (entries %s)' % (label, key, len(indices), indices))
        if key not in book.sent:
            raise Violation('%s: the ledger has purchase %s that no client asked for' % (label, key))
        e = entries[indices[0]]
        if (rfc3339_of(e['from']), rfc3339_of(e['to'])) != book.sent[key] or e['sensor'] != SENSOR:
            raise Violation('%s: purchase %s on the ledger has other terms: %s' % (label, key, e))
    # Every acknowledged purchase is looked for before any is checked in detail, so a loss is
    # reported as one (and not as the mismatch it also causes further on).
    for key, told in book.acked.items():
        if not purchases.get(key):
            raise Violation('%s: LOST: the client was told purchase %s succeeded (ledger index %d), the ledger has no such purchase'
                            % (label, key, told['index']))
    for key, told in book.acked.items():
        indices = purchases[key]
        if indices[0] != told['index'] or told['credits'] != '1' or entries[indices[0]]['id'] != told['id']:
            raise Violation('%s: purchase %s: told index %d, id %s, %s credits; ledger has it at %d as %s'
                            % (label, key, told['index'], told['id'], told['credits'], indices[0], entries[indices[0]]))
        receipt = told['receipt']
        if receipt is None:
            raise Violation('%s: purchase %s: its reply had no receipt' % (label, key))
        size = receipt['treeSize']
        note = receipt['checkpoint'].split('\n')
        root = base64.b64decode(note[2])
        if int(note[1]) != size or size > len(raw) or roots.at(size) != root:
            # The first `size` entries are not what the client was shown: acknowledged history is gone.
            raise Violation('%s: LOST: purchase %s: the checkpoint in its receipt (size %d) does not match the ledger as it is now (size %d)'
                            % (label, key, size, len(raw)))
        if base64.b64decode(receipt['entry']) != raw[told['index']]:
            raise Violation('%s: purchase %s: the entry in its receipt differs from the ledger\'s' % (label, key))

    # Credits.
    status = parsed(gw.cli('status', '--json'), label)
    if not status['sumOfBalances'] == status['totalMinted'] == MINT * len(BUYERS):
        raise Violation('%s: sumOfBalances %s, totalMinted %s, minted %d' % (label, status['sumOfBalances'], status['totalMinted'], MINT * len(BUYERS)))
    earned = parsed(gw.cli('credit', 'balance', OWNER), label)
    if earned != len(purchases):
        raise Violation('%s: the owner holds %d credits for %d purchases of 1 credit' % (label, earned, len(purchases)))

    # Readings: exactly what the commits count, each commit's own where it can be told apart.
    commits = [e for e in entries if e['type'] == 'readings.commit' and e['sensor'] == SENSOR]
    gw_export = gw.cli('readings', 'export', '--sensor', SENSOR, '--format', 'json')
    exported = gw_export.stdout
    records = parsed(gw_export, label)
    committed = sum(c['count'] for c in commits)
    values = {}
    for r in records:
        k = int(r['v'])
        if r['n'] != SENSOR + ':pm25' or not 0 <= k < pub.published:
            raise Violation('%s: exported reading %s was never published' % (label, r))
        if r['t'] != pub.expected_time(k):
            raise Violation('%s: reading %d exported at %d ns, published at %d ns' % (label, k, r['t'], pub.expected_time(k)))
        values[k] = values.get(k, 0) + 1
    if len(records) < committed:
        raise Violation('%s: LOST: readings.commit entries count %d readings, the export has %d' % (label, committed, len(records)))
    if len(records) > committed:
        raise Violation('%s: the export has %d readings, the readings.commit entries count only %d' % (label, len(records), committed))
    rows = exported[1:-2].split('},{') if records else []
    by_time = {}
    for r, text in zip(records, rows):
        text = text if text.startswith('{') else '{' + text
        text = text if text.endswith('}') else text + '}'
        if json.loads(text) != r:
            raise Violation('%s: could not split the export into records' % label)
        by_time.setdefault(r['t'], []).append(text.encode())
    times = sorted(by_time)
    spans = sorted(((ns_of(c['first']), ns_of(c['last']), c) for c in commits), key=lambda span: span[:2])
    rooted = 0
    group, group_end = [], None
    for span in spans + [None]:
        if span is not None and group and span[0] <= group_end:
            group.append(span)
            group_end = max(group_end, span[1])
            continue
        if group:
            lo, hi = group[0][0], group_end
            inside = [b for t in times_between(times, lo, hi) for b in by_time[t]]
            want = sum(g[2]['count'] for g in group)
            if len(inside) != want:
                raise Violation('%s: LOST: commits %s..%s count %d readings, the export has %d there'
                                % (label, group[0][2]['first'], group[-1][2]['last'], want, len(inside)))
            if len(group) == 1:
                leaves = sorted(inside, key=lambda b: (json.loads(b)['t'], b))
                if base64.b64encode(mth([leaf(b) for b in leaves])).decode() != group[0][2]['root']:
                    raise Violation('%s: the readings of commit %s..%s do not reproduce its Merkle root'
                                    % (label, group[0][2]['first'], group[0][2]['last']))
                rooted += 1
        if span is not None:
            group, group_end = [span], span[1]
    duplicates = sum(n - 1 for n in values.values())
    if duplicates:
        twice = sorted(k for k, n in values.items() if n > 1)
        raise Violation('%s: %d readings are stored more than once (numbers %s)' % (label, duplicates, twice[:10]))
    return {'entries': len(entries), 'purchases': len(purchases), 'committed': committed, 'commits': len(commits),
            'rooted': rooted, 'values': values, 'duplicates': duplicates}


def missing_ranges(values, published):
    """[lo, hi) ranges of reading numbers below `published` that are not in `values`."""
    gaps, start = [], None
    for k in range(published):
        if k not in values:
            start = k if start is None else start
        elif start is not None:
            gaps.append((start, k))
            start = None
    if start is not None:
        gaps.append((start, published))
    return gaps


def mdb_snapshot(state, work):
    """A consistent copy of the store while serve runs (LMDB's own mdb_copy)."""
    target = work / 'snapshot.mdb'
    p = subprocess.run(['mdb_copy', '-n', str(state / 'agora.mdb'), str(target)], capture_output=True, text=True)
    if p.returncode != 0:
        raise SetupError('mdb_copy: %s' % p.stderr.strip())
    return target


def parsed(process, label):
    """A CLI command's JSON output (a number is JSON too), or a Violation showing what it printed."""
    try:
        return json.loads(process.stdout)
    except ValueError:
        raise Violation('%s: agora %s printed what is not JSON: %r (stderr %r)'
                        % (label, ' '.join(process.args[1:-2]), process.stdout[:500], process.stderr[-500:]))


def times_between(times, lo, hi):
    return times[bisect.bisect_left(times, lo):bisect.bisect_right(times, hi)]


def ns_of(text):
    """RFC 3339 with nine fractional digits (readings.commit first/last) to ns since 1970."""
    whole, _, fraction = text.rstrip('Z').partition('.')
    seconds = calendar.timegm(time.strptime(whole, '%Y-%m-%dT%H:%M:%S'))
    return seconds * 1_000_000_000 + int((fraction + '000000000')[:9])


def rfc3339_of(value):
    return value if isinstance(value, str) else rfc3339(value)


# ------------------------------------------------------------------ power cut: loop devices

class Disk:
    """A loop-mounted ext4 image at `mountpoint`; `cut()` swaps in a copy of what reached it."""

    def __init__(self, work, mountpoint):
        self.work, self.mountpoint = Path(work), Path(mountpoint)
        self.generation = 0
        self.image = None
        self.loop = None
        self.attached = []   # every loop device this run attached (cleanup)
        self.mounted = False

    def sh(self, *cmd):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise SetupError('%s: %s' % (' '.join(cmd), p.stderr.strip()))
        return p.stdout.strip()

    def create(self):
        self.image = self.work / 'disk-0.img'
        self.sh('truncate', '-s', '256M', str(self.image))
        self.sh('mkfs.ext4', '-q', '-F', str(self.image))
        self.attach_and_mount()

    def attach_and_mount(self):
        self.loop = self.sh('losetup', '--find', '--show', str(self.image))
        self.attached.append(self.loop)
        self.mountpoint.mkdir(exist_ok=True)
        # ext4's journal commit interval, varied: how much unsynced work writeback pushes
        # to the "disk" before the next cut.
        self.commit_s = random.choice([1, 5, 30])
        self.sh('mount', '-t', 'ext4', '-o', 'commit=%d' % self.commit_s, self.loop, str(self.mountpoint))
        self.mounted = True

    def unmount_and_detach(self):
        if self.mounted:
            self.sh('umount', str(self.mountpoint))
            self.mounted = False
        if self.loop:
            self.sh('losetup', '-d', self.loop)
            self.attached.remove(self.loop)
            self.loop = None

    def copy(self):
        """The image as the loop device left it (no sync: what had reached the 'disk')."""
        self.generation += 1
        copy = self.work / ('disk-%d.img' % self.generation)
        self.sh('cp', '--sparse=always', str(self.image), str(copy))
        return copy

    @staticmethod
    def needs_recovery(image):
        """Whether ext4 left its journal to replay (the filesystem was not cleanly unmounted)."""
        features = subprocess.run(['dumpe2fs', '-h', str(image)], capture_output=True, text=True).stdout
        return 'needs_recovery' in features

    def switch_to(self, copy):
        """Power comes back: the live filesystem goes away, the copy is mounted in its place."""
        old = self.image
        self.unmount_and_detach()
        old.unlink()
        self.image = copy
        self.attach_and_mount()

    def cleanup(self):
        if self.mounted:
            if subprocess.run(['umount', str(self.mountpoint)], capture_output=True).returncode != 0:
                subprocess.run(['umount', '-l', str(self.mountpoint)], capture_output=True)
            self.mounted = False
        for loop in list(self.attached):
            subprocess.run(['losetup', '-d', loop], capture_output=True)
            self.attached.remove(loop)


# ------------------------------------------------------------------ the run

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--kills', type=int, default=20, help='crash mode: how many kill -9 (default 20)')
    p.add_argument('--power-cut', action='store_true', help='power cuts on a loop-mounted ext4 instead (root)')
    p.add_argument('--cuts', type=int, default=5, help='power-cut mode: how many cuts (default 5)')
    p.add_argument('--seed', type=int, default=None)
    p.add_argument('--agora', default=os.environ.get('AGORA_BIN', str(ROOT / '.build' / 'debug' / 'agora')))
    p.add_argument('--keep', action='store_true', help='keep the work directory')
    p.add_argument('--inject-loss', action='store_true',
                   help='self-test of the checks: in the first round, put back a snapshot of the store taken partway '
                        'through the load (crash: mdb_copy; power cut: an earlier copy of the image), so work the '
                        'clients were told about is lost; the run must then FAIL with LOST')
    p.add_argument('--timeout', type=float, default=600, help='give up after this many seconds (default 600)')
    args = p.parse_args()

    def overall_timeout(*_):
        raise SetupError('overall timeout of %.0f s' % args.timeout)
    signal.signal(signal.SIGALRM, overall_timeout)
    signal.alarm(int(args.timeout))
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    random.seed(seed)
    mode = 'power-cut' if args.power_cut else 'crash'
    rounds = args.cuts if args.power_cut else args.kills
    if args.power_cut and os.geteuid() != 0:
        print('%s: FAIL: power-cut mode needs root (losetup, mkfs.ext4, mount)' % mode, file=sys.stderr)
        return 2
    if not os.access(args.agora, os.X_OK):
        print('%s: FAIL: no agora executable at %s (build it, or pass --agora)' % (mode, args.agora), file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix='agora-%s-' % mode, dir=os.environ.get('AGORA_CRASH_DIR', '/var/tmp')))
    os.chmod(work, 0o755)   # the broker drops to its own user and must read its files
    log('%s test: seed %d, work directory %s, %s' % (mode, seed, work, args.agora))
    disk = Disk(work, work / 'disk') if args.power_cut else None
    broker = Broker(work)
    gw = None
    pub = None
    watcher = None
    ok = False
    try:
        if disk:
            disk.create()
            state = disk.mountpoint / 'state'
        else:
            state = work / 'state'
        # One binary for the whole run, even if the build folder relinks it meanwhile.
        agora = work / 'agora'
        shutil.copy2(args.agora, agora)
        gw = Gateway(str(agora), work, state)
        setup(gw, work)
        broker.start(gw)
        book = Book()
        gw.start(first=True)
        # Readings only once the gateway's subscription exists: the broker queues nothing for
        # a client it has never seen.
        broker.wait_for_gateway()
        watcher = Watcher(gw, work)
        pub = Publisher(work, broker.port)
        stats = None
        startup_kill = False
        snapshots, kills, recovered = [], [], 0
        for cycle in range(1, rounds + 1):
            if startup_kill:
                # A crash while starting: the gateway may be opening the store, or just ready.
                time.sleep(random.uniform(0, 0.4))
                gw.kill()
                moment = 'during start-up'
            else:
                duration = random.uniform(0.2, 2.0) if not args.power_cut else random.uniform(0.5, 3.0)
                before = len(book.acked)
                snapshot = None
                if args.inject_loss and cycle == 1:
                    duration = 1.5
                    snapshot = (lambda: snapshots.append(disk.copy())) if disk else (
                        lambda: snapshots.append(mdb_snapshot(state, work)))
                run_async(load(gw, book, cycle, duration, args, snapshot))
                moment = 'after %.2fs of load (%d purchases acknowledged)' % (duration, len(book.acked) - before)
            kills.append(pub.published)
            if disk:
                copy = disk.copy()
                gw.kill()
                if snapshots:
                    copy.unlink()
                    copy = snapshots.pop()
                    moment += ' [self-test: an earlier copy of the disk]'
                recovered += Disk.needs_recovery(copy)
                moment += ', power cut (ext4 commit=%ds)' % disk.commit_s
                disk.switch_to(copy)
            elif snapshots:
                shutil.copyfile(snapshots.pop(), state / 'agora.mdb')
                (state / 'agora.mdb-lock').unlink(missing_ok=True)
                moment += ' [self-test: the store put back to a snapshot taken partway]'
            checked = time.monotonic()
            stats = check(gw, book, pub, '%s %d' % (mode, cycle))
            log('%s %d %s: ok, ledger %d entries, %d purchases, %d of %d readings in %d commits (%d root-checked) [checks %.1fs]' % (
                mode, cycle, moment, stats['entries'], stats['purchases'], stats['committed'], kills[-1], stats['commits'],
                stats['rooted'], time.monotonic() - checked))
            if cycle < rounds:
                startup_kill = not args.power_cut and random.random() < 0.2
                if startup_kill:
                    gw.spawn()    # killed in the next round, ready or not
                else:
                    gw.start()
        # The last restart: settle what is in doubt, drain the broker, stop cleanly, check again.
        gw.start()
        run_async(settle(gw, book, args))
        pub.finish()
        last, quiet = -1, 0
        deadline = time.monotonic() + 30
        while quiet < 5 and time.monotonic() < deadline:
            n = json.loads(gw.cli('status', '--json').stdout)['readings']
            quiet = quiet + 1 if n == last else 0
            last = n
            time.sleep(0.2)
        # What the watcher must have got: every reading stored, read while serve still runs.
        stored = [int(r['v']) for r in parsed(gw.cli('readings', 'export', '--sensor', SENSOR, '--format', 'json'), 'live check')]
        watched = watcher.check(gw, stored)
        watcher.kill()
        gw.stop_gracefully()
        stats = check(gw, book, pub, '%s final' % mode)
        published = pub.published
        gaps = missing_ranges(stats['values'], published)
        missing = sum(hi - lo for lo, hi in gaps)
        if gaps:
            raise Violation('LOST: %d of %d readings the broker accepted were never stored: %s' % (
                missing, published, ', '.join('%d..%d (published before %s %d)' % (
                    lo, hi - 1, mode, bisect.bisect_left(kills, lo + 1) + 1) for lo, hi in gaps[:10])))
        extra = ' journal_replays=%d' % recovered if args.power_cut else ''
        print('%s ok %s=%d purchases_acked=%d readings_committed=%d lost=%d purchases_in_doubt=%d retried=%d replayed=%d '
              'readings_published=%d duplicates=%d ledger_entries=%d readings_watched=%d%s seed=%d' % (
                  mode, 'cuts' if args.power_cut else 'kills', rounds, len(book.acked), stats['committed'], missing,
                  len(book.doubted), book.retried, book.replayed, published, stats['duplicates'], stats['entries'], watched, extra, seed),
              flush=True)
        ok = True
        return 0
    except Violation as e:
        print('%s: FAIL: %s' % (mode, e), file=sys.stderr)
        if not args.inject_loss or args.keep:
            print('%s: seed %d; work directory kept: %s' % (mode, seed, work), file=sys.stderr)
        return 1
    except SetupError as e:
        print('%s: FAIL (set-up): %s' % (mode, e), file=sys.stderr)
        return 2
    except Exception as e:
        import traceback
        traceback.print_exc()
        print('%s: FAIL (unexpected %s): %s; seed %d, work directory %s' % (mode, type(e).__name__, e, seed, work), file=sys.stderr)
        return 3
    finally:
        signal.alarm(0)
        if gw:
            gw.reap()
        if pub:
            pub.kill()
        if watcher:
            watcher.kill()
        broker.stop()
        if disk:
            disk.cleanup()
        if (ok or args.inject_loss) and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        if not ok and gw and not args.inject_loss:
            tail = gw.log_path.read_text(errors='replace')[-3000:] if gw.log_path.exists() else ''
            print('--- serve.log (tail) ---\n%s' % tail, file=sys.stderr)


if __name__ == '__main__':
    sys.exit(main())
