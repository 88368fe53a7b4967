#!/usr/bin/python3
"""The market and the ledger over XMPP (urn:agora:market:1, urn:agora:ledger:1), as slixmpp
clients see them. Receipts, inclusion and consistency proofs are verified here, with the
independent RFC 9162 + signed-note code of Tests/Interop/verify_receipt.py and the log key.

usage: market.py --port P --domain D --ca CA --log-key VKEY --sensor S
                 --buyer JID PW --poor JID PW --owner JID PW [--timeout 60]

Expects: BUYER has 100 credits, POOR has none, OWNER owns sensor S (pm25, 5 credits per hour,
no location) and also air-2 (pm25, 20 credits), noise-1 (noise, 2 credits, at 48.1, 11.5) and
frozen-1 (pm25, frozen); BUYER holds no purchase yet. Prints one "market ok …" line and exits 0, or a reason and 1.
"""
import base64
import datetime
import hashlib
import json
import os
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from clients import Client, Fail, check, run_scenario, scenario_parser  # noqa: E402
import verify_receipt as vr  # noqa: E402
from slixmpp.exceptions import IqError  # noqa: E402

MARKET = 'urn:agora:market:1'
LEDGER = 'urn:agora:ledger:1'
RSM = 'http://jabber.org/protocol/rsm'


def rfc3339(seconds):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(seconds))


async def ask(client, kind, ns, name, attrs=None, children=(), reply=None, text=None, timeout=10):
    """One IQ to the domain; returns the result's payload element (named `reply`, or like the request)."""
    iq = client.Iq()
    iq['type'] = kind
    iq['to'] = client.args.domain
    payload = ET.Element('{%s}%s' % (ns, name), {k: str(v) for k, v in (attrs or {}).items()})
    for child in children:
        payload.append(child)
    payload.text = text
    iq.append(payload)
    result = await iq.send(timeout=timeout)
    reply = reply or name
    found = result.xml.find('{%s}%s' % (ns, reply))
    check(found is not None, '%s %s: the result has no <%s/>' % (kind, name, reply))
    return found


async def refused(client, condition, kind, ns, name, attrs=None, children=(), why='', text=None):
    """The IQ must fail with `condition` and a <text>; returns the text."""
    try:
        await ask(client, kind, ns, name, attrs, children, text=text)
    except IqError as e:
        got, text = e.iq['error']['condition'] or raw_condition(e.iq), e.iq['error']['text']
        check(got == condition, '%s %s (%s): expected %s, got %s (%s)' % (kind, name, why, condition, got, text))
        check(text, '%s %s (%s): the error has no <text>' % (kind, name, why))
        return text
    raise Fail('%s %s (%s): expected error %s, got a result' % (kind, name, why, condition))


def raw_condition(iq):
    """The condition element as sent: slixmpp 1.8 knows only RFC 3920's list (no policy-violation)."""
    error = iq.xml.find('{jabber:client}error')
    for child in (error if error is not None else []):
        ns, _, name = child.tag[1:].partition('}')
        if ns == 'urn:ietf:params:xml:ns:xmpp-stanzas' and name != 'text':
            return name
    return ''


def rsm_max(n):
    s = ET.Element('{%s}set' % RSM)
    ET.SubElement(s, '{%s}max' % RSM).text = str(n)
    return s


def consistent(first, second, first_hash, second_hash, proof):
    """RFC 9162 section 2.1.4.2: does `proof` show the tree of `first` leaves is a prefix?"""
    if first == second:
        return not proof and first_hash == second_hash
    if first & (first - 1) == 0:
        proof = [first_hash] + proof
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = vr.node(c, fr), vr.node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = vr.node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_hash and sr == second_hash


DISCOVERY = 'urn:xmpp:iot:discovery'


async def discovery(client, a):
    """XEP-0347 search: meta tags, filters, a location box, paging; frozen sensors never appear."""
    def search(filters, offset=0, count=20):
        children = [ET.Element('{%s}%s' % (DISCOVERY, kind), {k: str(v) for k, v in attrs.items()}) for kind, attrs in filters]
        return ask(client, 'get', DISCOVERY, 'search', {'offset': offset, 'maxCount': count}, children, reply='found')

    def ids(found):
        return sorted(t.get('nodeId') for t in found.findall('{%s}thing' % DISCOVERY))

    everything = await search([])
    check(ids(everything) == sorted([a.sensor, 'air-2', 'noise-1']), 'all unfrozen sensors: %s' % ids(everything))
    thing = next(t for t in everything.findall('{%s}thing' % DISCOVERY) if t.get('nodeId') == 'noise-1')
    tags = {m.get('name'): m.get('value') for m in thing}
    check(thing.get('jid') == a.domain and thing.get('owner') == a.owner[0], 'thing attributes: %s' % thing.attrib)
    check(tags.get('CLASS') == 'noise' and float(tags.get('PRICE')) == 2 and float(tags.get('LAT')) == 48.1, 'meta tags: %s' % tags)
    pm25 = await search([('strEq', {'name': 'CLASS', 'value': 'pm25'})])
    check(ids(pm25) == sorted([a.sensor, 'air-2']), 'CLASS=pm25: %s' % ids(pm25))
    cheap = await search([('strEq', {'name': 'CLASS', 'value': 'pm25'}), ('numRange', {'name': 'PRICE', 'min': 0, 'max': 10})])
    check(ids(cheap) == [a.sensor], 'pm25 at most 10 credits: %s' % ids(cheap))
    box = await search([('numRange', {'name': 'LAT', 'min': 48, 'max': 48.5}), ('numRange', {'name': 'LON', 'min': 11, 'max': 12})])
    check(ids(box) == ['noise-1'], 'location box: %s' % ids(box))
    masked = await search([('strMask', {'name': 'OWNER', 'value': 'own*@*', 'wildcard': '*'})])
    check(len(ids(masked)) == 3, 'owner mask: %s' % ids(masked))
    first = await search([], 0, 2)
    rest = await search([], 2, 2)
    check(first.get('more') == 'true' and rest.get('more') == 'false' and len(ids(first)) == 2 and len(ids(rest)) == 1
          and set(ids(first)) | set(ids(rest)) == set(ids(everything)), 'offset/maxCount paging')
    await refused(client, 'feature-not-implemented', 'get', DISCOVERY, 'search', {'offset': 0, 'maxCount': 5},
                  [ET.Element('{%s}notAFilter' % DISCOVERY, {'name': 'X', 'value': '1'})], why='unknown filter')
    await refused(client, 'policy-violation', 'get', DISCOVERY, 'search', {'offset': 0, 'maxCount': 10 ** 6}, why='maxCount 10^6')
    await refused(client, 'bad-request', 'get', DISCOVERY, 'search', {'maxCount': 5}, why='no offset')


PKI = 'urn:agora:pki:1'


async def pki(client, a, me, other):
    """A certificate by CSR over IQ, then a SASL EXTERNAL login with it; CA, CRL and look-ups."""
    import tempfile
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def csr_for(jid, key):
        return x509.CertificateSigningRequestBuilder().subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, jid)])).sign(key, hashes.SHA256())

    key = ec.generate_private_key(ec.SECP256R1())
    other = csr_for(other, key).public_bytes(serialization.Encoding.PEM).decode()
    await refused(client, 'forbidden', 'set', PKI, 'csr', why="a CSR for someone else's JID", text=other)
    await refused(client, 'bad-request', 'set', PKI, 'csr', why='not a CSR',
                  text='-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n')
    mine = csr_for(me, key).public_bytes(serialization.Encoding.PEM).decode()
    issued = await ask(client, 'set', PKI, 'csr', reply='certificate', text=mine)
    blocks = issued.text.split('-----END CERTIFICATE-----')[:-1]
    chain = [x509.load_pem_x509_certificate((b + '-----END CERTIFICATE-----\n').strip().encode()) for b in blocks]
    ca_pem = (await ask(client, 'get', PKI, 'ca')).text
    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    check(chain[0].issuer == ca.subject and chain[-1] == ca, 'the chain does not end in the CA')
    check(ca == x509.load_pem_x509_certificate(open(a.ca, 'rb').read()), 'pki:1 ca differs from the CA the TLS check used')
    check(chain[0].public_key().public_numbers() == key.public_key().public_numbers(), 'the certificate is not for the CSR key')
    crl = x509.load_der_x509_crl(base64.b64decode((await ask(client, 'get', PKI, 'crl')).text))
    check(crl.issuer == ca.subject and crl.is_signature_valid(ca.public_key()), 'the CRL is not signed by the CA')
    found = await ask(client, 'get', PKI, 'cert', {'serial': issued.get('serial')})
    check(found.get('subject') == me and found.get('revoked') == 'false', 'cert look-up: %s' % found.attrib)
    await refused(client, 'item-not-found', 'get', PKI, 'cert', {'serial': '00'}, why='unknown serial')

    with tempfile.TemporaryDirectory() as d:
        cert_file, key_file = os.path.join(d, 'me.pem'), os.path.join(d, 'me.key')
        open(cert_file, 'w').write(issued.text)
        open(key_file, 'wb').write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
        external = Client(a, me, '', mech='EXTERNAL')
        external.certfile, external.keyfile = cert_file, key_file
        await external.login()
        check(external.mech == 'EXTERNAL' and external.boundjid.bare == me, 'EXTERNAL login as %s' % external.boundjid)
        balance = (await ask(external, 'get', MARKET, 'balance')).get('credits')
        await external.logout()
    return issued.get('serial'), balance


async def scenario(a):
    key = vr.parse_vkey(a.log_key)

    def checkpoint_root(element):
        text = vr.open_note(element.text, *key)     # exits non-zero on a bad signature
        origin, size, root = text.split('\n')[:3]
        check(int(size) == int(element.get('size')), 'checkpoint size attribute differs from the note')
        return int(size), base64.b64decode(root)

    buyer = await Client(a, a.buyer[0], a.buyer[1]).login()
    poor = await Client(a, a.poor[0], a.poor[1]).login()
    owner = await Client(a, a.owner[0], a.owner[1]).login()

    await discovery(buyer, a)
    first_size, first_root = checkpoint_root(await ask(buyer, 'get', LEDGER, 'checkpoint'))
    balance = int((await ask(buyer, 'get', MARKET, 'balance')).get('credits'))
    check(balance == 100, 'buyer balance %d, expected 100' % balance)

    # A purchase, with a receipt that verifies offline against the log key.
    start = (int(time.time()) // 3600 - 5) * 3600
    # Every purchase carries the most the buyer accepts to pay (issue 14, finding 7).
    window = {'sensor': a.sensor, 'from': rfc3339(start), 'to': rfc3339(start + 7200), 'request': 'order-1', 'max-credits': 10}
    bought = await ask(buyer, 'set', MARKET, 'purchase', window)
    check(bought.get('credits') == '10' and bought.get('replayed') == 'false', 'first purchase: %s' % bought.attrib)
    receipt = json.loads(bought.find('{%s}receipt' % LEDGER).text)
    entry = json.loads(vr.verify_receipt(receipt, *key))
    check(entry['type'] == 'purchase' and entry['buyer'] == a.buyer[0] and entry['sensor'] == a.sensor,
          'the receipt is not of this purchase: %s' % entry)
    check(receipt['index'] == int(bought.get('ledger-index')), 'receipt index differs from ledger-index')

    # Idempotent by request id; the same id with other terms is a conflict.
    again = await ask(buyer, 'set', MARKET, 'purchase', window)
    check(again.get('replayed') == 'true' and again.get('id') == bought.get('id'), 'repeated request: %s' % again.attrib)
    await refused(buyer, 'conflict', 'set', MARKET, 'purchase', dict(window, to=rfc3339(start + 3600)), why='same request id, other window')

    # Bad input: each a stanza error with a reason, nothing charged.
    await refused(poor, 'not-acceptable', 'set', MARKET, 'purchase', dict(window, request='poor-1'), why='no credits')
    # Naming another account does not make it pay: the buyer is always the one logged in.
    before = int((await ask(buyer, 'get', MARKET, 'balance')).get('credits'))
    await refused(poor, 'not-acceptable', 'set', MARKET, 'purchase', dict(window, request='poor-2', buyer=a.buyer[0], account=a.buyer[0]),
                  why="a purchase naming another account as buyer")
    check(int((await ask(buyer, 'get', MARKET, 'balance')).get('credits')) == before, "another account paid for poor's purchase")
    await refused(buyer, 'bad-request', 'set', MARKET, 'purchase', dict(window, request='bad-1', **{'from': window['to'], 'to': window['from']}), why='from after to')
    await refused(buyer, 'bad-request', 'set', MARKET, 'purchase', dict(window, request='bad-2', to=rfc3339(start + 10 * 365 * 86400)), why='10-year window')
    await refused(buyer, 'item-not-found', 'set', MARKET, 'purchase', dict(window, request='bad-3', sensor='no-such-sensor'), why='unknown sensor')
    await refused(buyer, 'bad-request', 'set', MARKET, 'purchase', {'sensor': a.sensor, 'from': 'yesterday', 'to': window['to']}, why='malformed time')
    await refused(buyer, 'policy-violation', 'get', MARKET, 'purchases', children=[rsm_max(10 ** 6)], why='page of 10^6')
    balance = int((await ask(buyer, 'get', MARKET, 'balance')).get('credits'))
    check(balance == 90, 'after one purchase and refusals the balance is %d, expected 90' % balance)

    # The price is the owner's to change, and a later purchase pays the new one.
    await refused(buyer, 'forbidden', 'set', MARKET, 'price', {'sensor': a.sensor, 'credits': 1}, why='not the owner')
    await ask(owner, 'set', MARKET, 'price', {'sensor': a.sensor, 'credits': 8})
    # The price went up after the buyer looked: a bound below the new cost is refused, not charged.
    text = await refused(buyer, 'not-acceptable', 'set', MARKET, 'purchase',
                         dict(window, request='order-raised', **{'max-credits': 5, 'from': rfc3339(start + 7200), 'to': rfc3339(start + 10800)}),
                         why='price raised above max-credits')
    check('8' in text and '5' in text, 'the refusal does not say the cost and the bound: %s' % text)
    check(int((await ask(buyer, 'get', MARKET, 'balance')).get('credits')) == 90, 'a refused purchase was charged')
    await refused(buyer, 'bad-request', 'set', MARKET, 'purchase', dict(window, request='order-bad-max', **{'max-credits': '-1'}), why='negative max-credits')
    second = await ask(buyer, 'set', MARKET, 'purchase', dict(window, request='order-2', **{'from': rfc3339(start + 7200), 'to': rfc3339(start + 10800)}))
    check(second.get('credits') == '8', 'purchase after the price change cost %s, expected 8' % second.get('credits'))

    # Own purchases, paged with XEP-0059.
    page = await ask(buyer, 'get', MARKET, 'purchases', children=[rsm_max(1)])
    items = page.findall('{%s}purchase' % MARKET)
    rsm = page.find('{%s}set' % RSM)
    check(len(items) == 1 and rsm.find('{%s}count' % RSM).text == '2', 'first page: %d items, set %s' % (len(items), ET.tostring(rsm)))
    after = ET.Element('{%s}set' % RSM)
    ET.SubElement(after, '{%s}after' % RSM).text = rsm.find('{%s}last' % RSM).text
    rest = (await ask(buyer, 'get', MARKET, 'purchases', children=[after])).findall('{%s}purchase' % MARKET)
    check(len(rest) == 1 and {items[0].get('id'), rest[0].get('id')} == {bought.get('id'), second.get('id')}, 'second page: %d items' % len(rest))
    check(not (await ask(poor, 'get', MARKET, 'purchases')).findall('{%s}purchase' % MARKET), 'another account sees purchases')

    # Transfer.
    await ask(buyer, 'set', MARKET, 'transfer', {'to': a.poor[0], 'credits': 5})
    await refused(poor, 'not-acceptable', 'set', MARKET, 'transfer', {'to': a.buyer[0], 'credits': 50}, why='overdraft')
    check((await ask(poor, 'get', MARKET, 'balance')).get('credits') == '5', 'transfer did not arrive')
    check((await ask(buyer, 'get', MARKET, 'balance')).get('credits') == '77', 'buyer balance after 10 + 8 + 5')

    # The ledger: entries only to whom they concern; proofs for everyone, checked here.
    index = int(bought.get('ledger-index'))
    await refused(poor, 'forbidden', 'get', LEDGER, 'entry', {'index': index}, why="another account's purchase")
    await refused(poor, 'forbidden', 'get', LEDGER, 'receipt', {'index': index}, why="another account's purchase")
    for reader in (buyer, owner):
        got = base64.b64decode((await ask(reader, 'get', LEDGER, 'entry', {'index': index})).text)
        check(got == base64.b64decode(receipt['entry']), 'entry bytes differ from the receipt')
    await refused(buyer, 'item-not-found', 'get', LEDGER, 'entry', {'index': 10 ** 9}, why='beyond the ledger')
    size, root = checkpoint_root(await ask(poor, 'get', LEDGER, 'checkpoint'))
    inclusion = await ask(poor, 'get', LEDGER, 'inclusion', {'index': index, 'size': size})
    path = [base64.b64decode(h.text) for h in inclusion.findall('{%s}hash' % LEDGER)]
    leaf = hashlib.sha256(b'\x00' + base64.b64decode(receipt['entry'])).digest()
    check(vr.root_from_inclusion(leaf, index, size, path) == root, 'inclusion proof does not reach the checkpoint root')
    proof = await ask(poor, 'get', LEDGER, 'consistency', {'old': first_size, 'new': size})
    hashes = [base64.b64decode(h.text) for h in proof.findall('{%s}hash' % LEDGER)]
    check(consistent(first_size, size, first_root, root, hashes), 'consistency %d -> %d does not verify' % (first_size, size))
    check(not consistent(first_size, size, first_root, hashlib.sha256(b'forged').digest(), hashes), 'the consistency check accepts anything')
    await refused(poor, 'item-not-found', 'get', LEDGER, 'consistency', {'old': size, 'new': size + 1000}, why='beyond the ledger')
    await brute_force_mint(buyer, poor, a, size)

    serial, balance = await pki(buyer, a, a.buyer[0], a.poor[0])
    check(balance == '77', 'the EXTERNAL session sees balance %s' % balance)

    for c in (buyer, poor, owner):
        await c.logout()
    return 'market ok: purchases %s/%s, receipts and proofs verified, tree %d -> %d' % (
        bought.get('credits'), second.get('credits'), first_size, size)


async def brute_force_mint(buyer, poor, a, size):
    """Issue 14 finding 2: the poor account takes the leaf hash of the buyer's mint from an
    inclusion proof it may ask for (its sibling's path) and searches the amount — every
    1..1000 at every second of the last 10 minutes, as the unsalted entry it would be. The
    entry is version 2, so the search must fail; the buyer, whom the mint concerns, gets
    the entry and its salt, and its leaf is exactly the hash the poor account holds."""
    index = a.mint_index
    await refused(poor, 'forbidden', 'get', LEDGER, 'entry', {'index': index}, why="another account's mint")
    inclusion = await ask(poor, 'get', LEDGER, 'inclusion', {'index': index ^ 1, 'size': size})
    leaf = base64.b64decode(inclusion.findall('{%s}hash' % LEDGER)[0].text)
    entry = base64.b64decode((await ask(buyer, 'get', LEDGER, 'entry', {'index': index})).text)
    check(hashlib.sha256(b'\x00' + entry).digest() == leaf, 'the first hash of the sibling path is not the mint leaf')
    mint = vr.check_entry_format(entry)
    check(mint['type'] == 'credit.mint' and mint['v'] == 2 and mint['amount'] == a.mint_amount, 'not the salted mint: %s' % mint)
    def guess(amount, stamp):
        return '{"actor":"operator","amount":%d,"memo":"%s","time":"%s","to":"%s","type":"credit.mint","v":1}' % (
            amount, mint['memo'], stamp, a.buyer[0])
    # The guesses have the exact form of the entry without its salt (so the search would work on a version-1 entry).
    unsalted = {k: v for k, v in mint.items() if k != 'salt'}
    unsalted['v'] = 1
    check(guess(mint['amount'], mint['time']) == json.dumps(unsalted, sort_keys=True, separators=(',', ':')),
          'the guessed form is not the entry minus its salt')
    now = int(time.time())
    check(now - 600 <= datetime.datetime.strptime(mint['time'], '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc).timestamp() <= now,
          'the mint time lies outside the searched span')
    for t in range(now - 600, now + 60):
        stamp = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
        for amount in range(1, 1001):
            check(hashlib.sha256(b'\x00' + guess(amount, stamp).encode()).digest() != leaf, 'recovered the mint amount %d from a hash' % amount)
    # The same search with the salt the buyer was shown finds it at once: the search is sound.
    salted = json.dumps(dict(mint), sort_keys=True, separators=(',', ':')).encode()
    check(hashlib.sha256(b'\x00' + salted).digest() == leaf, 'canonical re-encoding of the mint differs')


def main():
    p = scenario_parser(__doc__, timeout=60)
    p.add_argument('--log-key', required=True)
    p.add_argument('--sensor', required=True)
    p.add_argument('--buyer', nargs=2, required=True)
    p.add_argument('--poor', nargs=2, required=True)
    p.add_argument('--owner', nargs=2, required=True)
    p.add_argument('--mint-index', type=int, required=True, help="ledger index of the operator's mint to BUYER")
    p.add_argument('--mint-amount', type=int, required=True)
    run_scenario('market', scenario, p.parse_args())


if __name__ == '__main__':
    main()
