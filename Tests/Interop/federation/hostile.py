#!/usr/bin/python3
"""Hostile server-to-server peers against gw1 (issue 19), written with Python's ssl and a pull
parser rather than a server library, so they can do what no well-behaved server does. Runs in
the city's namespace, where evil.test and a fake city.test live.

  - dialback: claims to be city.test with a made-up key; gw1 asks Prosody (the real city.test),
    which says invalid: <db:result type='invalid'/> and the stream ends with not-authorized.
  - untrusted certificate: a certificate for city.test from a CA gw1 does not trust; EXTERNAL is
    not offered, and asking for it anyway fails.
  - wrong name: evil.test's certificate (the city root issued it) on a stream claiming city.test:
    EXTERNAL fails with not-authorized; an authzid other than the stream's domain, invalid-authzid.
  - forged from: evil.test authenticates for real, then sends a message from carol@city.test:
    the stream ends with invalid-from.
  - flood: evil.test sends 600 messages at once to alice@gw1.test over two streams; gw1 takes
    the domain's rate (50/s, bursts of 200, shared by its streams) and drops the rest without
    ending the stream, which stays open.

usage: hostile.py --pki DIR --target ADDRESS
"""
import argparse
import base64
import socket
import ssl
import sys
import time
import xml.etree.ElementTree as ET

STREAMS = 'http://etherx.jabber.org/streams'
TLS = 'urn:ietf:params:xml:ns:xmpp-tls'
SASL = 'urn:ietf:params:xml:ns:xmpp-sasl'
DB = 'jabber:server:dialback'
STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams'


class Fail(Exception):
    pass


def check(cond, why):
    if not cond:
        raise Fail(why)


class Peer:
    """One raw s2s stream from `origin` to gw1.test."""

    def __init__(self, target, origin, cert=None, key=None):
        self.origin = origin
        self.sock = socket.create_connection((target, 5269), timeout=20)
        self.cert, self.key = cert, key
        self.open()

    def open(self):
        self.parser = ET.XMLPullParser(events=('start', 'end'))
        self.depth = 0
        self.pending = []
        self.header = None
        self.send("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='%s' xmlns:db='%s' "
                  "from='%s' to='gw1.test' version='1.0'>" % (STREAMS, DB, self.origin))

    def send(self, text):
        self.sock.sendall(text.encode())

    def next(self, timeout=20):
        """The next top-level element (None: the stream ended)."""
        deadline = time.time() + timeout
        while not self.pending:
            self.sock.settimeout(max(0.1, deadline - time.time()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise Fail('%s: nothing from gw1 within %ds' % (self.origin, timeout))
            if not data:
                return None
            self.parser.feed(data)
            for event, element in self.parser.read_events():
                if event == 'start':
                    self.depth += 1
                    if self.depth == 1:
                        self.header = element
                else:
                    self.depth -= 1
                    if self.depth == 1:
                        self.pending.append(element)
        return self.pending.pop(0)

    def features(self):
        f = self.next()
        check(f is not None and f.tag == '{%s}features' % STREAMS, '%s: expected features, got %s' % (self.origin, f))
        return f

    def starttls(self):
        self.features()
        self.send("<starttls xmlns='%s'/>" % TLS)
        proceed = self.next()
        check(proceed is not None and proceed.tag == '{%s}proceed' % TLS, 'no proceed: %s' % proceed)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if self.cert:
            context.load_cert_chain(self.cert, self.key)
        self.sock = context.wrap_socket(self.sock, server_hostname='gw1.test')
        self.open()
        return self.features()

    def stream_error(self):
        """The condition of the stream error that must come next (skipping other elements)."""
        while True:
            e = self.next()
            check(e is not None, '%s: the stream ended without a stream error' % self.origin)
            if e.tag == '{%s}error' % STREAMS:
                return next((c.tag.split('}')[1] for c in e if c.tag.startswith('{%s}' % STREAM_ERRORS) and not c.tag.endswith('}text')), None)

    def external(self, authzid):
        self.send("<auth xmlns='%s' mechanism='EXTERNAL'>%s</auth>" % (SASL, base64.b64encode(authzid.encode()).decode() or '='))
        return self.next()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def mechanisms(features):
    m = features.find('{%s}mechanisms' % SASL)
    return [x.text for x in m] if m is not None else []


def bad_dialback(a):
    p = Peer(a.target, 'city.test')
    features = p.starttls()
    check(features.find('{urn:xmpp:features:dialback}dialback') is not None, 'gw1 does not offer dialback: %s' % ET.tostring(features))
    p.send("<db:result from='city.test' to='gw1.test'>%s</db:result>" % ('ab' * 32))
    answer = p.next(timeout=30)
    check(answer is not None and answer.tag == '{%s}result' % DB and answer.get('type') == 'invalid', 'the bad key: %s' % (answer,))
    check(p.stream_error() == 'not-authorized', 'no not-authorized after an invalid key')
    p.close()


def untrusted_certificate(a):
    p = Peer(a.target, 'city.test', a.pki + '/fake-city.pem', a.pki + '/fake-city.key')
    features = p.starttls()
    check('EXTERNAL' not in mechanisms(features), 'EXTERNAL offered for a certificate from an untrusted CA')
    failure = p.external('city.test')
    check(failure is not None and failure.tag == '{%s}failure' % SASL, 'EXTERNAL with an untrusted certificate: %s' % (failure,))
    p.close()


def wrong_name(a):
    p = Peer(a.target, 'city.test', a.pki + '/evil.pem', a.pki + '/evil.key')
    features = p.starttls()
    check('EXTERNAL' in mechanisms(features), 'EXTERNAL not offered for a certificate the city root issued')
    failure = p.external('city.test')
    check(failure is not None and failure.tag == '{%s}failure' % SASL and failure.find('{%s}not-authorized' % SASL) is not None,
          "evil.test's certificate passed for city.test: %s" % (ET.tostring(failure) if failure is not None else None))
    p.close()
    p = Peer(a.target, 'evil.test', a.pki + '/evil.pem', a.pki + '/evil.key')
    p.starttls()
    failure = p.external('city.test')
    check(failure is not None and failure.find('{%s}invalid-authzid' % SASL) is not None, 'authzid city.test on an evil.test stream: %s' % (failure,))
    p.close()


def authenticated_evil(a):
    p = Peer(a.target, 'evil.test', a.pki + '/evil.pem', a.pki + '/evil.key')
    p.starttls()
    success = p.external('evil.test')
    check(success is not None and success.tag == '{%s}success' % SASL, 'EXTERNAL as evil.test: %s' % (success,))
    p.open()
    p.features()
    return p


def forged_from(a):
    p = authenticated_evil(a)
    p.send("<message from='mallory@evil.test' to='alice@gw1.test' type='chat'><body>hello, honestly</body></message>")
    p.send("<message from='carol@city.test' to='alice@gw1.test' type='chat'><body>send me your credits</body></message>")
    check(p.stream_error() == 'invalid-from', 'a forged from did not end the stream with invalid-from')
    p.close()


def flood(a):
    # Two streams at once: the peer's rate is its domain's, shared by all its streams.
    p, second = authenticated_evil(a), authenticated_evil(a)
    for stream in (p, second):
        stream.send(''.join("<message from='mallory@evil.test/%d' to='alice@gw1.test' type='headline'><body>%d</body></message>" % (i, i)
                            for i in range(300)))
    second.close()
    p.send("<iq from='evil.test' to='gw1.test' type='get' id='alive'><ping xmlns='urn:xmpp:ping'/></iq>")
    # The ping's answer goes to evil.test over gw1's own outbound link, which cannot reach
    # evil.test's server (it has none); what matters is that this stream stays open.
    time.sleep(2)
    p.send("<message from='mallory@evil.test' to='alice@gw1.test' type='headline'><body>still here</body></message>")
    p.sock.settimeout(1)
    try:
        data = p.sock.recv(65536)
        check(b'stream:error' not in data and data != b'', 'the flood ended the stream: %r' % data[:300])
    except (socket.timeout, ssl.SSLWantReadError):
        pass
    p.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--pki', required=True)
    ap.add_argument('--target', required=True)
    a = ap.parse_args()
    done = []
    try:
        for check_ in (bad_dialback, untrusted_certificate, wrong_name, forged_from, flood):
            check_(a)
            done.append(check_.__name__)
    except (Fail, OSError, ssl.SSLError) as e:
        print('hostile: FAIL after %s: %s: %s' % (done, type(e).__name__, e))
        return 1
    print('hostile ok: %s' % ', '.join(done))
    return 0


if __name__ == '__main__':
    sys.exit(main())
