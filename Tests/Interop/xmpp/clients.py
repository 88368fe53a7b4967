#!/usr/bin/python3
"""Client-side XMPP interop scenarios (slixmpp 1.8.x) for `agora serve`.

Each subcommand exits 0 on success, or non-zero with a one-line reason on
stderr. Everything runs under an overall timeout (--timeout, default 30 s).

Common arguments:
  --host 127.0.0.1 --port P --domain D --ca CA_PEM --jid J --password PW
  [--timeout S] [--debug]

Subcommands:
  login      [--direct-tls]               SCRAM-SHA-256 (STARTTLS, or XEP-0368 direct TLS), bind, presence
  external   --cert PEM --key PEM         SASL EXTERNAL with a client certificate (--password unused)
  chat       --jid2 J2 --password2 PW2    mutual subscription, presence, messages both ways, roster 'both'
  offline    --jid2 J2 --password2 PW2    J sends to offline J2's bare JID; J2 logs in, gets it with XEP-0203 delay
  offline-quota --jid2 J2 --password2 PW2 --jid3 J3 --password3 PW3
                                          J tries to fill offline J2's storage with 10 messages of 200 KB: all
                                          but two are refused (resource-constraint: J's 512 KiB share); J3's
                                          message still gets through, and J2 receives all three at login
  ping-disco                              XEP-0199, disco#info, XEP-0092, unknown-namespace IQ -> service-unavailable
  sm-resume  --jid2 J2 --password2 PW2    XEP-0198: J cut abruptly while J2 sends to J's full JID; resume, no loss

The TCP connection goes to --host:--port; the TLS certificate is verified
against --ca with --domain as the expected server name (SNI + hostname check).
"""
import argparse
import asyncio
import logging
import os
import socket
import ssl
import struct
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

NS_DELAY = '{urn:xmpp:delay}delay'


class Fail(Exception):
    pass


def check(cond, reason):
    if not cond:
        raise Fail(reason)


class Client(slixmpp.ClientXMPP):
    """A ClientXMPP that connects to a fixed address but validates the domain.

    slixmpp uses `default_domain` as TLS server_hostname for both STARTTLS and
    direct TLS; with an IP-literal address it stays '' (no hostname check!),
    so login() sets it to --domain.
    Overriding get_dns_records stops any SRV/A lookup of the domain.
    """

    def __init__(self, args, jid, password, mech='SCRAM-SHA-256', plugins=(), direct_tls=False):
        super().__init__(jid, password, sasl_mech=mech)
        self.args = args
        self.direct_tls = direct_tls
        self.ca_certs = Path(args.ca)
        for p in plugins:
            self.register_plugin(p)
        self.session_started = None
        self.add_event_handler('session_start', self._on_start)
        self.add_event_handler('failed_all_auth', lambda _: self._fail('SASL failed for %s with %s (server offered %s)' % (
            jid, mech, sorted(self['feature_mechanisms'].mech_list))))
        self.add_event_handler('failed_auth', lambda s: self._fail('SASL failure for %s: %s' % (jid, s.xml[0].tag.split('}')[-1] if len(s.xml) else '?')))
        self.add_event_handler('no_auth', lambda _: self._fail('server offered no usable SASL mechanism (wanted %s)' % mech))
        self.add_event_handler('connection_failed', lambda e: self._fail('connection failed: %s' % e))
        self.add_event_handler('ssl_invalid_chain', lambda e: self._fail('TLS certificate verification failed: %s' % e))
        self.add_event_handler('stream_error', lambda e: self._fail('stream error: %s' % e['condition']))
        self.add_event_handler('disconnected', lambda r: self._fail('disconnected before session start: %s' % (r,)))

    async def get_dns_records(self, domain, port=None):
        return [(self.args.domain, self.args.host, self.address[1])]

    def _fail(self, reason):
        if self.session_started is not None and not self.session_started.done():
            self.session_started.set_exception(Fail(reason))

    def _on_start(self, _):
        if self.session_started is not None and not self.session_started.done():
            self.session_started.set_result(True)

    async def login(self, port=None, presence=True):
        self.session_started = asyncio.get_running_loop().create_future()
        # With an IP-literal address slixmpp leaves default_domain == '' and then
        # does no hostname check at all; it is the TLS server_hostname (SNI + check).
        self.default_domain = self.args.domain
        self.connect(address=(self.args.host, port or self.args.port),
                     use_ssl=self.direct_tls, force_starttls=not self.direct_tls)
        await self.session_started
        self.session_started = None
        # slixmpp 1.8.3 never enforces force_starttls: check encryption ourselves.
        check(isinstance(self.socket, ssl.SSLObject), '%s: stream is not TLS-encrypted' % self.boundjid)
        if presence:
            self.send_presence()
        return self

    @property
    def mech(self):
        m = self['feature_mechanisms'].mech
        return m.name if m else None

    async def logout(self):
        if self.transport:
            await self.disconnect(wait=2)


def cut(client):
    """Abort the TCP connection abruptly (RST, no </stream>, no TLS close_notify)."""
    sock = client.transport.get_extra_info('socket')
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    except OSError:
        pass
    client.transport.abort()


async def collect(queue, n, timeout, what):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Fail('%s: got %d of %d within %.0fs' % (what, len(got), n, timeout))
        try:
            got.append(await asyncio.wait_for(queue.get(), left))
        except asyncio.TimeoutError:
            pass
    return got


async def next_of(queue, what, timeout=10):
    """The next item of `queue`, or a failure naming `what` did not come."""
    try:
        return await asyncio.wait_for(queue.get(), timeout)
    except asyncio.TimeoutError:
        raise Fail('%s: nothing within %ds' % (what, timeout))


async def quiet(queue, what, seconds=1.5):
    """Fails when anything arrives on `queue` within `seconds`."""
    try:
        got = await asyncio.wait_for(queue.get(), seconds)
    except asyncio.TimeoutError:
        return
    raise Fail('%s: unexpected %s' % (what, got))


def message_queue(client, match=None):
    q = asyncio.Queue()

    def on_msg(msg):
        if msg['type'] in ('chat', 'normal') and msg['body'] and (match is None or match(msg)):
            q.put_nowait(msg)
    client.add_event_handler('message', on_msg)
    return q


# ----------------------------------------------------------------- scenarios

async def sc_login(a):
    c = Client(a, a.jid, a.password, direct_tls=a.direct_tls)
    await c.login()
    check(c.mech == 'SCRAM-SHA-256', 'SASL mechanism was %s, expected SCRAM-SHA-256' % c.mech)
    check(c.boundjid.bare == slixmpp.JID(a.jid).bare, 'bound JID %s does not match %s' % (c.boundjid, a.jid))
    check(c.boundjid.resource, 'bound JID has no resource')
    tls = c.socket.version()
    await c.logout()
    return 'login ok: %s via %s, %s, %s' % (c.boundjid, 'direct TLS' if a.direct_tls else 'STARTTLS', tls, c.mech)


async def sc_external(a):
    c = Client(a, a.jid, '', mech='EXTERNAL')
    c.certfile, c.keyfile = a.cert, a.key
    await c.login()
    check(c.mech == 'EXTERNAL', 'SASL mechanism was %s, expected EXTERNAL' % c.mech)
    check(c.boundjid.bare == slixmpp.JID(a.jid).bare, 'bound JID %s, expected bare %s' % (c.boundjid, a.jid))
    await c.logout()
    return 'external ok: %s' % c.boundjid


async def sc_chat(a):
    A = Client(a, a.jid, a.password)
    B = Client(a, a.jid2, a.password2)
    for c in (A, B):   # explicit subscription handling, no slixmpp auto-replies
        c.auto_authorize = None
        c.auto_subscribe = False
    seen = {A: set(), B: set()}
    seen_ev = {A: asyncio.Event(), B: asyncio.Event()}

    def avail(me, other):
        def h(p):
            if p['from'].bare == other.boundjid.bare:
                seen[me].add(str(p['from']))
                if other.boundjid.full in seen[me]:
                    seen_ev[me].set()
        return h
    A.add_event_handler('presence_available', avail(A, B))
    B.add_event_handler('presence_available', avail(B, A))

    def on_sub(me, other):
        def h(p):
            if p['from'].bare != other.boundjid.bare:
                return
            me.send_presence(pto=p['from'].bare, ptype='subscribed')
            if me is B:
                me.send_presence(pto=p['from'].bare, ptype='subscribe')
        return h
    A.add_event_handler('presence_subscribe', on_sub(A, B))
    B.add_event_handler('presence_subscribe', on_sub(B, A))
    qa = message_queue(A, lambda m: m['from'].bare == B.boundjid.bare)
    qb = message_queue(B, lambda m: m['from'].bare == A.boundjid.bare)

    await A.login()
    await B.login()
    A.send_presence(pto=B.boundjid.bare, ptype='subscribe')
    for me, other in ((A, B), (B, A)):
        try:
            await asyncio.wait_for(seen_ev[me].wait(), 10)
        except asyncio.TimeoutError:
            raise Fail('%s never saw available presence from %s (saw %s)' % (me.boundjid, other.boundjid, sorted(seen[me]) or 'none'))
    for me, other in ((A, B), (B, A)):
        sub = None
        for _ in range(20):
            iq = await me.get_roster(timeout=5)
            items = iq['roster']['items']
            sub = items.get(other.boundjid.bare, {}).get('subscription') if other.boundjid.bare in items else None
            if sub == 'both':
                break
            await asyncio.sleep(0.25)
        check(sub == 'both', 'roster of %s: %s has subscription %r, expected both' % (me.boundjid.bare, other.boundjid.bare, sub))

    tag = uuid.uuid4().hex[:8]
    A.send_message(mto=B.boundjid.bare, mbody='a->b ' + tag, mtype='chat')
    B.send_message(mto=A.boundjid.full, mbody='b->a ' + tag, mtype='chat')
    (mb,) = await collect(qb, 1, 10, 'message A->B')
    (ma,) = await collect(qa, 1, 10, 'message B->A')
    check(mb['body'] == 'a->b ' + tag, 'B got body %r' % mb['body'])
    check(ma['body'] == 'b->a ' + tag, 'A got body %r' % ma['body'])
    check(mb['from'].full == A.boundjid.full, 'B got from=%s, expected %s' % (mb['from'], A.boundjid.full))
    check(ma['from'].full == B.boundjid.full, 'A got from=%s, expected %s' % (ma['from'], B.boundjid.full))
    await A.logout()
    await B.logout()
    return 'chat ok: %s <-> %s, subscription both, presences and messages delivered' % (A.boundjid, B.boundjid)


async def sc_offline(a):
    A = Client(a, a.jid, a.password)
    await A.login()
    body = 'offline ' + uuid.uuid4().hex
    A.send_message(mto=slixmpp.JID(a.jid2).bare, mbody=body, mtype='chat')
    # round-trip a ping so the message has been processed before we leave
    A.register_plugin('xep_0199')
    await A['xep_0199'].send_ping(a.domain, timeout=5)
    await A.logout()
    await asyncio.sleep(0.3)
    B = Client(a, a.jid2, a.password2)
    q = message_queue(B, lambda m: m['body'] == body)
    await B.login()   # initial presence triggers offline delivery
    (m,) = await collect(q, 1, 10, 'offline message')
    check(m['from'].bare == A.boundjid.bare, 'offline message from %s, expected %s' % (m['from'], A.boundjid.bare))
    d = m.xml.find(NS_DELAY)
    check(d is not None, 'offline message has no XEP-0203 <delay xmlns="urn:xmpp:delay"/>')
    check(d.get('stamp'), 'delay element has no stamp')
    await B.logout()
    return 'offline ok: delivered with delay stamp=%s from=%s' % (d.get('stamp'), d.get('from'))


async def sc_ping_disco(a):
    c = Client(a, a.jid, a.password, plugins=('xep_0030', 'xep_0199', 'xep_0092'))
    await c.login()
    try:
        t0 = time.monotonic()
        await c['xep_0199'].send_ping(a.domain, timeout=5)   # .ping() would swallow IqError from the own host
        rtt = time.monotonic() - t0
    except IqError as e:
        raise Fail('ping answered with error %s' % e.iq['error']['condition'])
    except IqTimeout:
        raise Fail('ping not answered within 5s')
    try:
        info = await c['xep_0030'].get_info(jid=a.domain, local=False, cached=False, timeout=5)
    except (IqError, IqTimeout) as e:
        raise Fail('disco#info failed: %r' % e)
    feats = set(info['disco_info']['features'])
    for f in ('urn:xmpp:ping', 'http://jabber.org/protocol/disco#info'):
        check(f in feats, 'disco#info lacks feature %s (has %s)' % (f, sorted(feats)))
    idents = info['disco_info']['identities']
    check(any(i[0] == 'server' for i in idents), 'disco#info has no identity category server: %s' % (idents,))
    try:
        ver = await c['xep_0092'].get_version(a.domain, timeout=5)
    except (IqError, IqTimeout) as e:
        raise Fail('version query failed: %r' % e)
    name = ver['software_version']['name']
    check(name, 'version reply has no name')
    iq = c.Iq()
    iq['type'] = 'get'
    iq['to'] = a.domain
    iq.append(ET.Element('{urn:example:nope}query'))
    try:
        await iq.send(timeout=5)
        raise Fail('unknown-namespace IQ got a result, expected error service-unavailable')
    except IqError as e:
        cond = e.iq['error']['condition']
        check(cond == 'service-unavailable', 'unknown-namespace IQ got error %s, expected service-unavailable' % cond)
    except IqTimeout:
        raise Fail('unknown-namespace IQ not answered within 5s')
    await c.logout()
    return 'ping-disco ok: ping rtt %.1f ms, %d features, identities %s, version %r %r' % (
        rtt * 1000, len(feats), [i[:2] for i in idents], name, ver['software_version']['version'])


async def sc_sm_resume(a):
    A = Client(a, a.jid, a.password, plugins=('xep_0198',))
    B = Client(a, a.jid2, a.password2)
    A['xep_0198'].allow_resume = True
    events = {'bind': 0, 'resumed': 0, 'enabled': 0}
    A.add_event_handler('session_bind', lambda _: events.__setitem__('bind', events['bind'] + 1))
    A.add_event_handler('session_resumed', lambda _: events.__setitem__('resumed', events['resumed'] + 1))
    enabled = asyncio.Event()

    def on_enabled(s):
        events['enabled'] += 1
        enabled.set()
    A.add_event_handler('sm_enabled', on_enabled)
    tag = uuid.uuid4().hex[:6]
    q = message_queue(A, lambda m: m['body'].startswith('sm %s ' % tag))

    await A.login()
    try:
        await asyncio.wait_for(enabled.wait(), 5)
    except asyncio.TimeoutError:
        raise Fail('XEP-0198 was not enabled (server offers sm: %s)' % ('sm' in A.features or 'unknown'))
    check(A['xep_0198'].sm_id, 'XEP-0198 enabled without resumption id')
    await B.login()
    full = A.boundjid.full
    sent = []

    def send(i):
        body = 'sm %s %03d' % (tag, i)
        B.send_message(mto=full, mbody=body, mtype='chat')
        sent.append(body)

    for i in range(0, 5):             # phase 1: delivered normally
        send(i)
    got = [m['body'] for m in await collect(q, 5, 10, 'pre-cut messages')]
    A.transport.pause_reading()        # phase 2: arrive at A's socket but A never reads them
    for i in range(5, 10):
        send(i)
    await asyncio.sleep(0.5)
    before_cut = len(got) + q.qsize()   # anything of phase 2 already parsed would show here
    gone = asyncio.get_running_loop().create_future()
    A.add_event_handler('disconnected', lambda _: gone.done() or gone.set_result(True), disposable=True)
    cut(A)
    await asyncio.wait_for(gone, 5)
    for i in range(10, 20):            # phase 3: sent while A is gone
        send(i)
    await asyncio.sleep(0.5)

    resumed = asyncio.get_running_loop().create_future()
    A.add_event_handler('session_resumed', lambda _: resumed.done() or resumed.set_result(True), disposable=True)
    A.add_event_handler('session_bind', lambda _: resumed.done() or resumed.set_exception(Fail('server did a new bind instead of resuming')), disposable=True)
    A.add_event_handler('sm_failed', lambda s: resumed.done() or resumed.set_exception(Fail('resume refused: <failed/> %s' % s)))
    A.add_event_handler('failed_all_auth', lambda _: resumed.done() or resumed.set_exception(Fail('re-auth failed')))
    A.default_domain = a.domain
    A.connect(address=(a.host, a.port))
    await asyncio.wait_for(resumed, 10)
    check(events['resumed'] == 1 and events['bind'] == 1, 'expected 1 bind + 1 resume, got %s' % events)
    check(A.boundjid.full == full, 'full JID changed across resume: %s -> %s' % (full, A.boundjid.full))
    check(isinstance(A.socket, ssl.SSLObject), 'resumed stream is not encrypted')
    got += [m['body'] for m in await collect(q, len(sent) - len(got), 10, 'messages after resume (%d before)' % len(got))]
    await asyncio.sleep(0.5)  # catch duplicates
    while not q.empty():
        got.append(q.get_nowait()['body'])
    missing = [s for s in sent if s not in got]
    dups = sorted({g for g in got if got.count(g) > 1})
    check(not missing, 'lost %d messages: %s' % (len(missing), missing))
    check(not dups, 'duplicated messages: %s' % dups)
    check(len(got) == len(sent), 'received %d, sent %d' % (len(got), len(sent)))
    await A.logout()
    await B.logout()
    return ('sm-resume ok: %d/%d messages (%d read before the cut, %d in flight at the cut, %d sent while away), '
            'resumed (binds=%d resumes=%d), order %s') % (
        len(got), len(sent), before_cut, 10 - before_cut, 10, events['bind'], events['resumed'],
        'kept' if got == sent else 'CHANGED')


def error_queue(client):
    """The message errors `client` receives, in order."""
    q = asyncio.Queue()
    client.add_event_handler('message_error', lambda m: q.put_nowait(m))
    return q


async def expect_nothing(queue, seconds, what):
    """Fails with `what` if anything arrives on `queue` within `seconds`."""
    try:
        e = await asyncio.wait_for(queue.get(), seconds)
    except asyncio.TimeoutError:
        return
    raise Fail('%s: %s' % (what, e['error']['condition']))


async def sc_offline_quota(a):
    """Issue 14, finding 6: one account filled another's offline storage (100 messages of
    200 KB) and genuine messages were refused. Now one sender has a share of it."""
    A = Client(a, a.jid, a.password)
    errors = error_queue(A)
    await A.login()
    victim = slixmpp.JID(a.jid2).bare
    tag = uuid.uuid4().hex
    for i in range(10):
        A.send_message(mto=victim, mbody='%s %d %s' % (tag, i, 'x' * 200_000), mtype='chat')
    refused = await collect(errors, 8, 20, 'refusals of the flood')
    conditions = {m['error']['condition'] for m in refused}
    check(conditions == {'resource-constraint'}, 'the flood was refused with %s' % conditions)
    await expect_nothing(errors, 1.0, 'more than 8 of the 10 messages refused')
    await A.logout()

    C = Client(a, a.jid3, a.password3)
    c_errors = error_queue(C)
    await C.login()
    genuine = 'genuine ' + tag
    C.send_message(mto=victim, mbody=genuine, mtype='chat')
    C.register_plugin('xep_0199')
    await C['xep_0199'].send_ping(a.domain, timeout=5)
    await expect_nothing(c_errors, 1.5, 'a genuine message was refused after the flood')
    await C.logout()

    B = Client(a, a.jid2, a.password2)
    q = message_queue(B, lambda m: tag in m['body'])
    await B.login()
    got = await collect(q, 3, 10, 'offline messages after the flood')
    bodies = sorted(m['body'][:60] for m in got)
    check(any(b.startswith(genuine) for b in bodies) and any(b.startswith('%s 0 ' % tag) for b in bodies)
          and any(b.startswith('%s 1 ' % tag) for b in bodies),
          'delivered: %s' % bodies)
    await B.logout()
    return 'offline-quota ok: 8 of 10 flood messages refused (resource-constraint), the genuine one delivered'


SCENARIOS = {
    'login': sc_login, 'external': sc_external, 'chat': sc_chat, 'offline': sc_offline, 'offline-quota': sc_offline_quota,
    'ping-disco': sc_ping_disco, 'sm-resume': sc_sm_resume,
}


def scenario_parser(description, timeout):
    """The arguments every scenario script takes: where the server is and how long to wait."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--domain', required=True)
    p.add_argument('--ca', required=True, help='CA certificate (PEM) the server certificate must chain to')
    p.add_argument('--timeout', type=float, default=timeout)
    p.add_argument('--debug', action='store_true')
    return p


def run_scenario(name, scenario, a):
    """Runs `scenario(a)` under the overall timeout; prints its line and exits 0, or prints
    the reason and exits 2 (timeout), 1 (a failed check) or 3 (anything else)."""
    logging.basicConfig(level=logging.DEBUG if a.debug else logging.CRITICAL,
                        format='%(asctime)s %(levelname)s %(name)s %(message)s')
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        msg = loop.run_until_complete(asyncio.wait_for(scenario(a), a.timeout))
    except asyncio.TimeoutError:
        sys.stderr.write('%s: FAIL: overall timeout %.0fs\n' % (name, a.timeout))
        sys.stderr.flush()
        os._exit(2)
    except Fail as e:
        sys.stderr.write('%s: FAIL: %s\n' % (name, e))
        sys.stderr.flush()
        os._exit(1)
    except Exception as e:
        sys.stderr.write('%s: FAIL: %s: %s\n' % (name, type(e).__name__, e))
        sys.stderr.flush()
        os._exit(3)
    print(msg)
    sys.stdout.flush()
    os._exit(0)


def main():
    p = scenario_parser(__doc__, timeout=30)
    p.add_argument('scenario', choices=sorted(SCENARIOS))
    p.add_argument('--jid', required=True)
    p.add_argument('--password', default='')
    p.add_argument('--jid2')
    p.add_argument('--password2', default='')
    p.add_argument('--jid3')
    p.add_argument('--password3', default='')
    p.add_argument('--direct-tls', action='store_true', help='login: XEP-0368 direct TLS to --port')
    p.add_argument('--cert', help='external: client certificate PEM')
    p.add_argument('--key', help='external: client key PEM')
    a = p.parse_args()
    if a.scenario in ('chat', 'offline', 'offline-quota', 'sm-resume') and not a.jid2:
        p.error('%s needs --jid2/--password2' % a.scenario)
    if a.scenario == 'offline-quota' and not a.jid3:
        p.error('offline-quota needs --jid3/--password3')
    if a.scenario == 'external' and not (a.cert and a.key):
        p.error('external needs --cert and --key')
    if not a.jid.count('@'):
        a.jid = '%s@%s' % (a.jid, a.domain)
    if a.jid2 and not a.jid2.count('@'):
        a.jid2 = '%s@%s' % (a.jid2, a.domain)
    if a.jid3 and not a.jid3.count('@'):
        a.jid3 = '%s@%s' % (a.jid3, a.domain)
    run_scenario(a.scenario, SCENARIOS[a.scenario], a)


if __name__ == '__main__':
    main()
