#!/usr/bin/python3
"""Hostile raw-socket XMPP client (no slixmpp) for `agora serve`.

Each attack asserts the exact RFC 6120 stream error (or stanza error) the
server must answer with, and that the server then closes the stream
(</stream:stream> then EOF) within a few seconds.

  hostile.py ATTACK --host 127.0.0.1 --port P --domain D --ca CA_PEM \
             --jid J --password PW [--jid2 J2 --password2 PW2] [--timeout S] [--debug]

Attacks (expected result):
  doctype         <!DOCTYPE> with billion-laughs entities after the (post-TLS) stream header -> restricted-xml
  doctype-first   the same DOCTYPE as the very first bytes on the TCP connection             -> restricted-xml
  comment         <!-- x --> inside the authenticated stream                                -> restricted-xml
  pi              <?foo bar?> inside the authenticated stream                               -> restricted-xml
  huge            one <message> with a 10 MiB body, sent in chunks                         -> policy-violation
  deep            10^4 nested elements in one stanza                                        -> policy-violation
  utf8            invalid UTF-8 bytes in a message body                                     -> not-well-formed
  preauth         <message> after TLS, before SASL                                          -> not-authorized
  forged-from     A sends from='admin@D/x' to B (needs --jid2): B sees A's real full JID, or A gets invalid-from
  roster-push     A sends B's full JID an IQ set whose roster query hides behind a decoy first child
                  (needs --jid2): A gets forbidden, B receives nothing
  long-localpart  SCRAM with a 2 KiB username -> <failure> not-authorized|malformed-request;
                  message to <2KiB>@D -> stanza error jid-malformed
  unknown-ns      IQ get to D with an unknown namespace -> stanza error service-unavailable
  bad-password    20 wrong SCRAM attempts: later ones temporary-auth-failure; right password works within 120 s
  all             every attack in turn while a watchdog (--jid2) pings the server every 200 ms
                  (each ping must be answered within 2 s); one line per attack:
                  `attack: expected X, got Y, ok|FAIL`
"""
import argparse
import base64
import hashlib
import hmac
import os
import secrets
import socket
import ssl
import sys
import threading
import time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

NS_STREAM = 'http://etherx.jabber.org/streams'
NS_STREAMS = 'urn:ietf:params:xml:ns:xmpp-streams'
NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls'
NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl'
NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind'
NS_CLIENT = 'jabber:client'
DEBUG = False


def q(ns, tag):
    return '{%s}%s' % (ns, tag)


def local(tag):
    return tag.split('}', 1)[-1]


class Closed(Exception):
    """The server ended the stream or the connection."""


class Fail(Exception):
    pass


class Raw:
    """One raw XMPP c2s connection: blocking socket, incremental parser."""

    def __init__(self, a, name='raw'):
        self.a = a
        self.name = name
        self.sock = None
        self.parser = None
        self.depth = 0
        self.root = None
        self.pending = []         # parsed top-level elements not yet consumed
        self.stream_end = False   # saw </stream:stream>
        self.eof = None           # None | 'eof' | 'reset' | 'error: ...'
        self.stream_error = None  # condition of a <stream:error/> seen while reading
        self.jid = None

    # ---------------------------------------------------------------- I/O
    def log(self, d, data):
        if DEBUG:
            sys.stderr.write('%s %s %s %r\n' % (time.strftime('%H:%M:%S'), self.name, d, data[:300]))

    def open_tcp(self):
        self.sock = socket.create_connection((self.a.host, self.a.port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.log('>>', data)
        self.sock.sendall(data)

    def header(self):
        return ("<?xml version='1.0'?><stream:stream to=%s version='1.0' xml:lang='en' "
                "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" % quoteattr(self.a.domain))

    def reset_parser(self):
        self.parser = ET.XMLPullParser(events=('start', 'end'))
        self.depth = 0
        self.root = None

    def feed(self, data):
        self.log('<<', data)
        try:
            self.parser.feed(data)
            for ev, el in self.parser.read_events():
                if ev == 'start':
                    if self.depth == 0:
                        self.root = el
                    self.depth += 1
                else:
                    self.depth -= 1
                    if self.depth == 0:
                        self.stream_end = True
                    elif self.depth == 1:
                        self.pending.append(el)
                        if el.tag == q(NS_STREAM, 'error'):
                            self.stream_error = error_condition(el, NS_STREAMS)
                        self.root.remove(el)
        except ET.ParseError as e:
            self.eof = 'server sent malformed XML: %s' % e

    def pump(self, timeout):
        """Read once (up to timeout). Returns False when nothing more can come."""
        if self.eof:
            return False
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return True
        except (ConnectionResetError, BrokenPipeError):
            self.eof = 'reset'
            return False
        except (ssl.SSLError, OSError) as e:
            self.eof = 'error: %s' % e
            return False
        if not data:
            self.eof = 'eof'
            return False
        self.feed(data)
        return True

    def next(self, timeout=5.0, want=None):
        """Next top-level element (matching want(el) if given); raises Closed/Fail."""
        deadline = time.monotonic() + timeout
        while True:
            for i, el in enumerate(self.pending):
                if el.tag == q(NS_STREAM, 'error'):
                    raise Closed('stream error %s' % error_condition(el, NS_STREAMS))
                if want is None or want(el):
                    del self.pending[i]
                    return el
            if self.stream_end:
                raise Closed('stream closed by server')
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail('%s: timeout waiting for %s' % (self.name, 'element' if want is None else 'expected element'))
            if not self.pump(left) and not self.pending:
                raise Closed(self.eof or 'closed')

    def open_stream(self):
        self.reset_parser()
        self.send(self.header())
        feats = self.next(10, lambda e: e.tag == q(NS_STREAM, 'features'))
        return feats

    # ------------------------------------------------------- negotiation
    def starttls(self):
        self.open_tcp()
        feats = self.open_stream()
        if feats.find(q(NS_TLS, 'starttls')) is None:
            raise Fail('server does not offer STARTTLS')
        self.send("<starttls xmlns='%s'/>" % NS_TLS)
        r = self.next(10)
        if r.tag != q(NS_TLS, 'proceed'):
            raise Fail('STARTTLS answered with %s' % local(r.tag))
        ctx = ssl.create_default_context(cafile=self.a.ca)
        self.sock.settimeout(10)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=self.a.domain)
        return self.open_stream()

    def mechanisms(self, feats):
        m = feats.find(q(NS_SASL, 'mechanisms'))
        return [x.text for x in m] if m is not None else []

    def scram(self, user, password, timeout=10):
        """SCRAM-SHA-256. Returns (True, None) or (False, failure condition)."""
        cnonce = base64.b64encode(secrets.token_bytes(18)).decode()
        uname = user.replace('=', '=3D').replace(',', '=2C')
        first_bare = 'n=%s,r=%s' % (uname, cnonce)
        self.send("<auth xmlns='%s' mechanism='SCRAM-SHA-256'>%s</auth>" % (
            NS_SASL, base64.b64encode(('n,,' + first_bare).encode()).decode()))
        is_sasl = lambda e: e.tag.startswith('{%s}' % NS_SASL)
        r = self.next(timeout, is_sasl)
        if local(r.tag) == 'failure':
            return False, error_condition(r, NS_SASL)
        if local(r.tag) != 'challenge':
            raise Fail('SCRAM: unexpected %s' % local(r.tag))
        server_first = base64.b64decode(r.text or '').decode()
        attrs = dict(kv.split('=', 1) for kv in server_first.split(','))
        nonce, salt, it = attrs['r'], base64.b64decode(attrs['s']), int(attrs['i'])
        if not nonce.startswith(cnonce):
            raise Fail('SCRAM: server nonce does not extend ours')
        salted = hashlib.pbkdf2_hmac('sha256', password.encode(), salt, it)
        ckey = hmac.new(salted, b'Client Key', hashlib.sha256).digest()
        without_proof = 'c=biws,r=' + nonce
        auth_msg = ','.join((first_bare, server_first, without_proof)).encode()
        csig = hmac.new(hashlib.sha256(ckey).digest(), auth_msg, hashlib.sha256).digest()
        proof = bytes(x ^ y for x, y in zip(ckey, csig))
        self.send("<response xmlns='%s'>%s</response>" % (NS_SASL, base64.b64encode(
            ('%s,p=%s' % (without_proof, base64.b64encode(proof).decode())).encode()).decode()))
        r = self.next(timeout, is_sasl)
        if local(r.tag) == 'failure':
            return False, error_condition(r, NS_SASL)
        if local(r.tag) != 'success':
            raise Fail('SCRAM: unexpected %s after proof' % local(r.tag))
        skey = hmac.new(salted, b'Server Key', hashlib.sha256).digest()
        ssig = base64.b64encode(hmac.new(skey, auth_msg, hashlib.sha256).digest()).decode()
        final = base64.b64decode(r.text or '').decode()
        if final != 'v=' + ssig:
            raise Fail('SCRAM: bad server signature %r' % final)
        return True, None

    def login(self, jid, password, resource=None, presence=False):
        feats = self.starttls()
        if 'SCRAM-SHA-256' not in self.mechanisms(feats):
            raise Fail('SCRAM-SHA-256 not offered (%s)' % self.mechanisms(feats))
        ok, cond = self.scram(jid.split('@')[0], password)
        if not ok:
            raise Fail('%s: auth as %s failed: %s' % (self.name, jid, cond))
        feats = self.open_stream()
        self.send("<iq type='set' id='bind1'><bind xmlns='%s'>%s</bind></iq>" % (
            NS_BIND, '<resource>%s</resource>' % escape(resource) if resource else ''))
        r = self.next(10, lambda e: e.get('id') == 'bind1')
        j = r.find('%s/%s' % (q(NS_BIND, 'bind'), q(NS_BIND, 'jid')))
        if r.get('type') != 'result' or j is None:
            raise Fail('bind failed')
        self.jid = j.text
        # RFC 3921 session establishment, only if advertised as mandatory
        sess = feats.find('{urn:ietf:params:xml:ns:xmpp-session}session')
        if sess is not None and sess.find('{urn:ietf:params:xml:ns:xmpp-session}optional') is None:
            self.send("<iq type='set' id='sess1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
            self.next(10, lambda e: e.get('id') == 'sess1')
        if presence:
            self.send('<presence/>')
        return self

    def close(self):
        try:
            if self.sock:
                self.sock.close()
        except OSError:
            pass

    # ------------------------------------------------------------ checks
    def expect_stream_error(self, timeout=5.0, close_timeout=5.0):
        """Wait for a stream error; then for </stream:stream> and EOF.

        Returns (condition or 'none'/'eof...', close description, closed_ok)."""
        deadline = time.monotonic() + timeout
        while self.stream_error is None and not self.stream_end and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.pump(left)
        cond = self.stream_error
        if cond is None:
            if self.stream_end or self.eof:
                cond = 'no stream error (%s)' % ('stream end' if self.stream_end else self.eof)
            else:
                errs = ['%s %s' % (local(e.tag), error_condition(e, NS_STANZAS))
                        for e in self.pending if e.get('type') == 'error']
                cond = 'no stream error within %.0fs%s' % (timeout, ' (stanza error: %s)' % ', '.join(errs) if errs else '')
                return cond, 'still open', False
        deadline = time.monotonic() + close_timeout
        while not self.eof and time.monotonic() < deadline:
            self.pump(deadline - time.monotonic())
        if self.stream_end and self.eof in ('eof', 'reset'):
            how = '</stream:stream> then %s' % ('EOF' if self.eof == 'eof' else 'RST')
            return cond, how, True
        if not self.eof:
            return cond, 'not closed within %.0fs (stream end %s)' % (close_timeout, 'seen' if self.stream_end else 'not seen'), False
        return cond, '%s without </stream:stream>' % self.eof if not self.stream_end else self.eof, False

    def send_tolerant(self, chunks, stop_on_error=True):
        """Send chunks, reading in between; stop quietly if the server closes.

        Returns bytes sent."""
        sent = 0
        for c in chunks:
            try:
                self.sock.settimeout(10)
                self.sock.sendall(c)
                sent += len(c)
            except (BrokenPipeError, ConnectionResetError, socket.timeout, ssl.SSLError, OSError):
                break
            while self.pump(0.001) and not self.eof and (self.sock.pending() if isinstance(self.sock, ssl.SSLSocket) else False):
                pass
            if stop_on_error and (self.stream_error or self.stream_end or self.eof):
                break
        return sent


def error_condition(el, ns):
    for c in el:
        if c.tag.startswith('{%s}' % ns) and local(c.tag) != 'text':
            return local(c.tag)
    # stanza errors: <error><condition xmlns=stanzas/></error>
    e = el.find(q(NS_CLIENT, 'error'))
    if e is not None:
        return error_condition(e, NS_STANZAS)
    return 'unknown'


# ===================================================================== attacks
# Each returns (expected, got, ok, detail)

def stream_verdict(conn, expected, t=5.0):
    cond, how, closed = conn.expect_stream_error(t)
    ok = cond == expected and closed
    return expected, cond, ok, how


LAUGHS = ("<!DOCTYPE lolz [<!ENTITY lol 'lol'>"
          + ''.join("<!ENTITY lol%d '%s'>" % (i, ('&lol%d;' % (i - 1) if i > 1 else '&lol;') * 10) for i in range(1, 10))
          + "]>")


def at_doctype(a):
    c = Raw(a, 'doctype')
    try:
        c.starttls()
        c.send(LAUGHS + '<message><body>&lol9;</body></message>')
        return stream_verdict(c, 'restricted-xml')
    finally:
        c.close()


def at_doctype_first(a):
    c = Raw(a, 'doctype-first')
    try:
        c.open_tcp()
        c.reset_parser()
        c.send("<?xml version='1.0'?>" + LAUGHS + c.header()[len("<?xml version='1.0'?>"):])
        return stream_verdict(c, 'restricted-xml')
    finally:
        c.close()


def authed(a, name, resource=None):
    return Raw(a, name).login(a.jid, a.password, resource=resource)


def at_inline(a, name, payload, expected):
    c = authed(a, name)
    try:
        c.send(payload)
        return stream_verdict(c, expected)
    finally:
        c.close()


def at_comment(a):
    return at_inline(a, 'comment', '<!-- x -->', 'restricted-xml')


def at_pi(a):
    return at_inline(a, 'pi', '<?foo bar?>', 'restricted-xml')


def at_utf8(a):
    return at_inline(a, 'utf8', b"<message to=%s type='chat'><body>bad \xff\xfe\xc3\x28 utf8</body></message>" %
                     quoteattr(a.domain).encode(), 'not-well-formed')


def at_deep(a):
    n = 10_000
    payload = "<message to=%s>%s%s</message>" % (quoteattr(a.domain), '<a>' * n, '</a>' * n)
    c = authed(a, 'deep')
    try:
        c.send_tolerant([payload.encode()[i:i + 16384] for i in range(0, len(payload), 16384)])
        return stream_verdict(c, 'policy-violation')
    finally:
        c.close()


def at_huge(a):
    c = authed(a, 'huge')
    try:
        size = 10 * 1024 * 1024
        chunk = b'A' * 65536

        def gen():
            yield ("<message to=%s type='chat'><body>" % quoteattr(a.domain)).encode()
            for _ in range(size // len(chunk)):
                yield chunk
            yield b'</body></message>'
        sent = c.send_tolerant(gen())
        e, got, ok, how = stream_verdict(c, 'policy-violation', 10)
        return e, got, ok, '%s; sent %.1f MiB before stopping' % (how, sent / 1048576)
    finally:
        c.close()


def at_preauth(a):
    c = Raw(a, 'preauth')
    try:
        c.starttls()
        c.send("<message to=%s type='chat'><body>hi</body></message>" % quoteattr(a.jid))
        return stream_verdict(c, 'not-authorized')
    finally:
        c.close()


def at_forged_from(a):
    if not a.jid2:
        raise Fail('forged-from needs --jid2/--password2')
    A = authed(a, 'forged-A', 'forgerA')
    B = Raw(a, 'forged-B').login(a.jid2, a.password2, resource='victimB', presence=True)
    try:
        tag = secrets.token_hex(4)
        A.send("<message from=%s to=%s type='chat' id='f1'><body>forged %s</body></message>" % (
            quoteattr('admin@%s/x' % a.domain), quoteattr(B.jid), tag))
        try:
            m = B.next(5, lambda e: local(e.tag) == 'message' and (e.findtext(q(NS_CLIENT, 'body')) or '') == 'forged ' + tag)
        except Fail:
            m = None
        except Closed as e:
            return 'from stamped or invalid-from', 'B closed: %s' % e, False, ''
        A.pump(0.2)
        if A.stream_error:
            cond, how, closed = A.expect_stream_error(1)
            return 'from stamped or invalid-from', 'stream error %s' % cond, cond == 'invalid-from' and closed, how + (
                '; B still got it from %s' % m.get('from') if m is not None else '')
        if m is None:
            return 'from stamped or invalid-from', 'message not delivered, no stream error', False, ''
        frm = m.get('from')
        return ('from stamped or invalid-from', 'delivered from=%s' % frm, frm == A.jid,
                'stamped with sender full JID' if frm == A.jid else 'FORGED FROM ACCEPTED (A is %s)' % A.jid)
    finally:
        A.close()
        B.close()


def at_roster_push(a):
    """Issue 14, finding 8: only the server pushes roster changes (RFC 6121 §2.1.6). The
    check once looked at the first child only, so a decoy before the query got through."""
    if not a.jid2:
        raise Fail('roster-push needs --jid2/--password2')
    A = authed(a, 'roster-A', 'pusherA')
    B = Raw(a, 'roster-B').login(a.jid2, a.password2, resource='victimB', presence=True)
    try:
        A.send("<iq type='set' id='rp1' to=%s><x xmlns='urn:example:decoy'/>"
               "<query xmlns='jabber:iq:roster'><item jid=%s subscription='both'/></query></iq>" % (
                   quoteattr(B.jid), quoteattr('mallory@%s' % a.domain)))
        r = A.next(5, lambda e: e.get('id') == 'rp1')
        cond = error_condition(r, NS_STANZAS) if r.get('type') == 'error' else r.get('type')
        try:
            pushed = B.next(1.5, lambda e: e.get('id') == 'rp1')
        except Fail:
            pushed = None
        ok = cond == 'forbidden' and pushed is None
        return 'forbidden, nothing delivered', '%s%s' % (cond, '; B received the push' if pushed is not None else ''), ok, ''
    finally:
        A.close()
        B.close()


def at_unknown_ns(a):
    c = authed(a, 'unknown-ns')
    try:
        c.send("<iq type='get' id='u1' to=%s><query xmlns='urn:example:nope'/></iq>" % quoteattr(a.domain))
        r = c.next(5, lambda e: e.get('id') == 'u1')
        got = 'type=%s %s' % (r.get('type'), error_condition(r, NS_STANZAS) if r.get('type') == 'error' else '')
        cond = error_condition(r, NS_STANZAS) if r.get('type') == 'error' else 'result'
        return 'service-unavailable', cond, cond == 'service-unavailable', got.strip()
    finally:
        c.close()


def at_long_localpart(a):
    long_user = 'l' * 2048
    exp = 'failure not-authorized|malformed-request; jid-malformed'
    c = Raw(a, 'long-sasl')
    try:
        c.starttls()
        try:
            ok, cond = c.scram(long_user, 'whatever')
        except Closed as e:
            return exp, 'SASL: stream closed: %s' % e, False, ''
        if ok:
            return exp, 'SASL succeeded with 2 KiB username', False, ''
        sasl_ok = cond in ('not-authorized', 'malformed-request')
        # the connection must stay usable (retry SASL) or have been closed cleanly
        c.pump(0.3)
        if c.stream_end or c.eof:
            _, how, closed = c.expect_stream_error(0.1, 3)
            after = 'closed (%s)' % how
            after_ok = closed
        else:
            try:
                ok2, cond2 = c.scram(a.jid.split('@')[0], a.password)
                after = 'usable (retry: %s)' % ('success' if ok2 else cond2)
                after_ok = True
            except Closed as e:
                _, how, closed = c.expect_stream_error(0.1, 3)
                after, after_ok = 'closed on retry: %s (%s)' % (e, how), closed
    finally:
        c.close()
    m = authed(a, 'long-to')
    try:
        m.send("<message to=%s type='chat' id='lj1'><body>x</body></message>" % quoteattr('%s@%s' % ('m' * 2048, a.domain)))
        try:
            r = m.next(5, lambda e: e.get('id') == 'lj1')
            scond = error_condition(r, NS_STANZAS) if r.get('type') == 'error' else 'type=%s' % r.get('type')
        except Closed as e:
            scond = 'stream closed: %s' % e
        except Fail:
            scond = 'no reply'
    finally:
        m.close()
    got = 'failure %s, %s; %s' % (cond, after, scond)
    return exp, got, sasl_ok and after_ok and scond == 'jid-malformed', ''


def at_bad_password(a):
    user = a.jid.split('@')[0]
    conds = []
    for i in range(20):
        c = Raw(a, 'badpw%d' % i)
        t0 = time.monotonic()
        try:
            c.starttls()
            ok, cond = c.scram(user, 'wrong-%s' % secrets.token_hex(4))
            conds.append((cond if not ok else 'SUCCESS?!', time.monotonic() - t0))
        except Closed as e:
            conds.append(('closed: %s' % e, time.monotonic() - t0))
        finally:
            c.close()
    last_fail = time.monotonic()
    t_start = last_fail
    succeeded = None
    retries = 0
    while time.monotonic() - t_start < 120:
        retries += 1
        c = Raw(a, 'goodpw')
        try:
            c.starttls()
            ok, cond = c.scram(user, a.password)
            if ok:
                succeeded = time.monotonic() - t_start
                break
        except (Closed, Fail, OSError):
            pass
        finally:
            c.close()
        time.sleep(1)
    names = [x for x, _ in conds]
    summary = ' '.join('%d:%s(%.0fms)' % (i + 1, {'not-authorized': 'NA', 'temporary-auth-failure': 'TAF'}.get(x, x), t * 1000)
                       for i, (x, t) in enumerate(conds))
    throttled = 'temporary-auth-failure' in names[5:]
    got = '%d not-authorized, %d temporary-auth-failure, %d other; right password %s' % (
        names.count('not-authorized'), names.count('temporary-auth-failure'),
        len(names) - names.count('not-authorized') - names.count('temporary-auth-failure'),
        'accepted after %.1fs back-off (%d tries)' % (succeeded, retries) if succeeded is not None else 'NOT accepted within 120s')
    return ('later attempts temporary-auth-failure; right password within 120s', got,
            throttled and succeeded is not None, summary)


def at_silent(a):
    """Log in, then never send another byte: a server that pings idle clients
    (xmpp.ping_interval_s) must give up on this one with connection-timeout."""
    c = authed(a, 'silent')
    try:
        return stream_verdict(c, 'connection-timeout', t=a.silent_wait)
    finally:
        c.close()


def at_conflict(a):
    """RFC 6120 §7.7.2.2: a second login with the same resource replaces the first, which
    gets a conflict stream error; the new session works."""
    first = authed(a, 'conflict1', resource='same-resource')
    second = None
    try:
        second = authed(a, 'conflict2', resource='same-resource')
        expected, got, ok, how = stream_verdict(first, 'conflict')
        ok = ok and second.jid.endswith('/same-resource')
        return expected, got, ok, how + '; new session bound as ' + str(second.jid)
    finally:
        first.close()
        if second:
            second.close()


def at_max_sessions(a):
    """With xmpp.max_sessions = 1: a second bound session is refused with resource-constraint."""
    first = authed(a, 'ms1', resource='one')
    second = Raw(a, 'ms2')
    try:
        second.starttls()
        ok, cond = second.scram(a.jid.split('@')[0], a.password)
        if not ok:
            raise Fail('second login failed before bind: %s' % cond)
        second.open_stream()
        second.send("<iq type='set' id='bind2'><bind xmlns='%s'><resource>two</resource></bind></iq>" % NS_BIND)
        return stream_verdict(second, 'resource-constraint')
    finally:
        second.close()
        first.close()


def at_connection_rate(a):
    """With a low xmpp.connection_rate: a burst of 12 connections from one address gets
    policy-violation on the ones beyond the rate, and the first ones are served."""
    conns, refused, served = [], 0, 0
    try:
        for i in range(12):
            c = Raw(a, 'burst%d' % i)
            c.open_tcp()
            c.reset_parser()
            c.send(c.header())
            conns.append(c)
        for c in conns:
            cond, _, _ = c.expect_stream_error(timeout=0.5, close_timeout=1)
            if cond == 'policy-violation':
                refused += 1
            elif cond.startswith('no stream error within'):
                served += 1
        ok = refused >= 1 and served >= 1
        return 'policy-violation beyond the rate', '%d refused, %d served' % (refused, served), ok, ''
    finally:
        for c in conns:
            c.close()


ATTACKS = {
    'doctype': at_doctype, 'doctype-first': at_doctype_first, 'comment': at_comment, 'pi': at_pi,
    'huge': at_huge, 'deep': at_deep, 'utf8': at_utf8, 'preauth': at_preauth,
    'forged-from': at_forged_from, 'roster-push': at_roster_push, 'long-localpart': at_long_localpart,
    'unknown-ns': at_unknown_ns, 'bad-password': at_bad_password, 'silent': at_silent,
    'max-sessions': at_max_sessions, 'connection-rate': at_connection_rate, 'conflict': at_conflict,
}
ORDER = ['doctype', 'doctype-first', 'comment', 'pi', 'huge', 'deep', 'utf8', 'preauth',
         'forged-from', 'roster-push', 'unknown-ns', 'long-localpart', 'conflict', 'bad-password']


class Watchdog(threading.Thread):
    """Authenticated session pinging the server every 200 ms on its own thread."""

    def __init__(self, a):
        super().__init__(daemon=True)
        self.a = a
        self.stop = threading.Event()
        self.sent = 0
        self.answered = 0
        self.misses = []
        self.max_rtt = 0.0
        self.error = None
        self.conn = Raw(a, 'watchdog').login(a.jid2, a.password2, resource='watchdog')

    def run(self):
        c = self.conn
        out = {}
        nxt = time.monotonic()
        try:
            while not self.stop.is_set():
                now = time.monotonic()
                if now >= nxt:
                    pid = 'wd%d' % self.sent
                    c.send("<iq type='get' id='%s' to=%s><ping xmlns='urn:xmpp:ping'/></iq>" % (pid, quoteattr(self.a.domain)))
                    out[pid] = now
                    self.sent += 1
                    nxt = now + 0.2
                if not c.pump(min(0.05, max(nxt - time.monotonic(), 0.001))):
                    raise Closed(c.eof)
                if c.stream_error or c.stream_end:
                    raise Closed('stream error %s' % c.stream_error if c.stream_error else 'stream end')
                for el in c.pending:
                    pid = el.get('id')
                    if pid in out:
                        rtt = time.monotonic() - out.pop(pid)
                        self.max_rtt = max(self.max_rtt, rtt)
                        if el.get('type') != 'result':
                            self.misses.append('%s answered %s' % (pid, el.get('type')))
                        elif rtt > 2:
                            self.misses.append('%s answered after %.2fs' % (pid, rtt))
                        else:
                            self.answered += 1
                c.pending.clear()
                now = time.monotonic()
                for pid, t in list(out.items()):
                    if now - t > 2:
                        self.misses.append('%s unanswered after 2s' % pid)
                        out.pop(pid)
        except Exception as e:
            self.error = '%s: %s' % (type(e).__name__, e)
        # let the last pings come back
        end = time.monotonic() + 2
        while out and time.monotonic() < end and not self.error:
            c.pump(0.1)
            for el in c.pending:
                if el.get('id') in out:
                    out.pop(el.get('id'))
                    self.answered += 1
            c.pending.clear()
        for pid in out:
            self.misses.append('%s unanswered at end' % pid)
        c.close()


def run_one(a, name):
    t0 = time.monotonic()
    try:
        expected, got, ok, detail = ATTACKS[name](a)
    except (Fail, Closed, OSError, ssl.SSLError) as e:
        expected, got, ok, detail = '(attack setup)', '%s: %s' % (type(e).__name__, e), False, ''
    line = '%s: expected %s, got %s, %s' % (name, expected, got, 'ok' if ok else 'FAIL')
    print(line + ('   [%s; %.1fs]' % (detail, time.monotonic() - t0) if detail or DEBUG else '   [%.1fs]' % (time.monotonic() - t0)))
    sys.stdout.flush()
    return ok


def main():
    global DEBUG
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('attack', choices=sorted(ATTACKS) + ['all'])
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--domain', required=True)
    p.add_argument('--ca', required=True)
    p.add_argument('--jid', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--jid2')
    p.add_argument('--password2', default='')
    p.add_argument('--timeout', type=float, help='overall timeout (default 30 s; bad-password 180 s; all 420 s)')
    p.add_argument('--silent-wait', type=float, default=20, help='silent: how long to wait for the server to give up')
    p.add_argument('--debug', action='store_true')
    a = p.parse_args()
    DEBUG = a.debug
    for k in ('jid', 'jid2'):
        v = getattr(a, k)
        if v and '@' not in v:
            setattr(a, k, '%s@%s' % (v, a.domain))
    if a.attack == 'all' and not a.jid2:
        p.error('all needs --jid2/--password2 (watchdog account)')
    timeout = a.timeout or {'all': 420, 'bad-password': 180}.get(a.attack, 30)

    def on_timeout():
        sys.stderr.write('%s: FAIL: overall timeout %.0fs\n' % (a.attack, timeout))
        sys.stderr.flush()
        os._exit(2)
    t = threading.Timer(timeout, on_timeout)
    t.daemon = True
    t.start()

    if a.attack != 'all':
        ok = run_one(a, a.attack)
        if not ok:
            sys.stderr.write('%s: FAIL: expectation not met\n' % a.attack)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0 if ok else 1)

    try:
        wd = Watchdog(a)
    except Exception as e:
        sys.stderr.write('all: FAIL: watchdog login: %s\n' % e)
        os._exit(1)
    wd.start()
    failed = [n for n in ORDER if not run_one(a, n)]
    time.sleep(0.5)
    wd.stop.set()
    wd.join(10)
    wd_ok = not wd.error and not wd.misses and wd.sent > 0
    print('watchdog: expected every ping answered within 2s, got %d/%d answered, max rtt %.0f ms%s, %s' % (
        wd.answered, wd.sent, wd.max_rtt * 1000,
        (', error ' + wd.error if wd.error else '') + (', misses: %s' % wd.misses[:5] if wd.misses else ''),
        'ok' if wd_ok else 'FAIL'))
    if not wd_ok:
        failed.append('watchdog')
    sys.stdout.flush()
    if failed:
        sys.stderr.write('all: FAIL: %s\n' % ' '.join(failed))
        sys.stderr.flush()
        os._exit(1)
    os._exit(0)


if __name__ == '__main__':
    main()
