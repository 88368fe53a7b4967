#!/usr/bin/python3
"""Live readings over XEP-0060 publish-subscribe (issue 21), as slixmpp's own xep_0060 client
sees them, with a sensor played by mosquitto_pub publishing SenML through the real Mosquitto
that `agora serve` ingests from. Every check compares exact (time, value) sets with what the
sensor published; the owner, who receives everything, tells when the gateway has ingested a
pack. Proofs are checked with the independent verifier (Tests/Interop/verify_receipt.py).

usage: live.py SCENARIO --port P --domain D --ca CA --log-key VKEY --mqtt-port P --mqtt-ca PEM
               --work DIR --owner JID PW [role accounts below] [--timeout 60]

Scenarios (each on its own sensor; the sensor's key and certificate are DIR/<sensor>.key, .pem):
  window   sensor street-1, --buyer --future-buyer --outsider: service discovery; the owner gets
           every reading; BUYER, with windows [T0-180, T0-60) and [T0-20, T0+600), gets exactly the
           readings timed inside them; FUTURE-BUYER, whose only window [T0+15, T0+75) starts after
           it subscribes, gets exactly the readings timed inside it (those published before it
           starts, and a live one once it has); OUTSIDER is refused (forbidden, "buy"), with no
           purchase and with a past one only, and receives nothing; items retrieved with
           max_items are the newest, filtered alike; unsubscribe ends delivery.
  proofs   sensor street-2, --proofs-buyer: subscribed with agora#proofs=true, every reading of
           every item verifies: record -> leaf -> audit path -> the batch root of the item's
           readings.commit receipt, verified with the log key. The owner's items carry no proofs.
  offline  sensor street-3, --offline-buyer: subscribes, logs out; readings published meanwhile
           are delivered at its next available presence (not before it), exactly those inside
           its window; the subscription survived and still delivers live.

Expects: OWNER owns street-1, street-2, street-3 (pm25, 1 credit per hour), and frozen-1 (frozen);
the buyers hold credits and no purchase. Prints "live SCENARIO ok …" and exits 0, or a reason.
"""
import asyncio
import base64
import calendar
import hashlib
import json
import re
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from clients import Client, Fail, check, run_scenario, scenario_parser  # noqa: E402
from market import MARKET, ask, raw_condition, rfc3339  # noqa: E402
import verify_receipt as vr  # noqa: E402
from slixmpp.exceptions import IqError  # noqa: E402
from slixmpp.xmlstream.handler import Callback  # noqa: E402
from slixmpp.xmlstream.matcher import StanzaPath  # noqa: E402

READINGS = 'urn:agora:readings:1'
LEDGER = 'urn:agora:ledger:1'
PUBSUB = 'http://jabber.org/protocol/pubsub'
PUBSUB_ERRORS = 'http://jabber.org/protocol/pubsub#errors'
PLUGINS = ('xep_0030', 'xep_0004', 'xep_0060')


def service(a):
    return 'pubsub.' + a.domain


def node_of(sensor):
    return 'sensors/' + sensor


def value(t, t0):
    """The value the sensor publishes for time t: distinct for every time of a scenario."""
    return (t - t0) / 4


def seconds(text):
    """RFC 3339 UTC, with or without a (zero) fraction -> whole epoch seconds."""
    m = re.fullmatch(r'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z', text or '')
    check(m is not None, 'reading time %r is not RFC 3339 UTC' % text)
    check(not m.group(2) or int(m.group(2)) == 0, 'reading time %s has a fraction; the sensor sent whole seconds' % text)
    return calendar.timegm(time.strptime(m.group(1), '%Y-%m-%dT%H:%M:%S'))


def inside(t, windows):
    return any(w0 <= t < w1 for w0, w1 in windows)


def show(readings, t0):
    """Times relative to T0, for messages."""
    return sorted('T0%+d' % (t - t0) for t, _ in readings)


# ------------------------------------------------------------------- the sensor (mosquitto_pub)

async def publish(a, sensor, t0, packs):
    """One QoS 1 SenML pack per list of times, published as the sensor with its certificate.
    mosquitto_pub -l exits once the broker has acknowledged every pack."""
    lines = [json.dumps([{'n': 'pm25', 't': t, 'v': value(t, t0)} for t in pack], separators=(',', ':')) for pack in packs]
    key, cert = '%s/%s.key' % (a.work, sensor), '%s/%s.pem' % (a.work, sensor)
    process = await asyncio.create_subprocess_exec(
        '/usr/bin/mosquitto_pub', '-I', 'client:', '-h', '127.0.0.1', '-p', str(a.mqtt_port), '--cafile', a.mqtt_ca,
        '--cert', cert, '--key', key, '-q', '1', '-t', 'agora/sensors/%s/senml' % sensor, '-l',
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(('\n'.join(lines) + '\n').encode()), 30)
    except asyncio.TimeoutError:
        process.kill()
        raise Fail('mosquitto_pub of %d packs to %s did not finish within 30 s' % (len(packs), sensor))
    check(process.returncode == 0, 'mosquitto_pub to %s exited %d: %s' % (sensor, process.returncode, err.decode().strip()[-300:]))
    return {(t, value(t, t0)) for pack in packs for t in pack}


# ------------------------------------------------------------------- what a subscriber receives

def parse_item(payload, sensor, item_id, proofs):
    """An item's <readings/>: its (time, value) list, after checking what every item must say."""
    check(payload is not None and payload.tag == '{%s}readings' % READINGS,
          'item %s of %s: the payload is %s, expected <readings xmlns=%s>' % (item_id, sensor, None if payload is None else payload.tag, READINGS))
    check(re.fullmatch(r'\d+', item_id or '') is not None, 'item id %r is not a ledger index' % item_id)
    check(payload.get('sensor') == sensor and payload.get('commit') == item_id,
          'item %s: <readings sensor=%r commit=%r>' % (item_id, payload.get('sensor'), payload.get('commit')))
    got = []
    for r in payload.findall('{%s}r' % READINGS):
        check(r.get('commit') == item_id, 'item %s holds a reading of commit %s' % (item_id, r.get('commit')))
        check(r.get('n') == 'pm25', 'item %s: reading name %r' % (item_id, r.get('n')))
        check((r.get('record') is not None) == proofs, 'item %s: a reading %s a record (proofs %s)' % (
            item_id, 'carries' if r.get('record') else 'lacks', 'on' if proofs else 'off'))
        got.append((seconds(r.get('t')), float(r.get('v'))))
    check(got, 'item %s of %s holds no reading (items with none must be left out)' % (item_id, sensor))
    check(proofs == (receipt_of(payload) is not None), 'item %s: a receipt %s (proofs %s)' % (
        item_id, 'is present' if not proofs else 'is missing', 'on' if proofs else 'off'))
    return got


def receipt_of(payload):
    """The item's <receipt xmlns='urn:agora:ledger:1'/>, as in readings:1 pages."""
    return payload.find('{%s}receipt' % LEDGER)


class Feed:
    """The notifications of one node a client receives (the 'pubsub_publish' event of slixmpp's
    xep_0060), by item id. slixmpp raises the event with the whole message once per item, so
    items are de-duplicated by id; a second, different copy of an item is an error."""

    def __init__(self, client, sensor, proofs=False):
        self.client, self.sensor, self.node, self.proofs = client, sensor, node_of(sensor), proofs
        self.items, self.payloads, self.order, self.errors = {}, {}, [], []
        client.add_event_handler('pubsub_publish', self._on_publish)
        # Beside the plugin, the raw notifications, to say what the plugin did not pass on.
        self.sent_multi = 0
        client.register_handler(Callback('live feed %s' % self.node, StanzaPath('message/pubsub_event/items'), self._on_raw))

    def _on_raw(self, msg):
        items = msg.xml.findall('{%s#event}event/{%s#event}items' % (PUBSUB, PUBSUB))
        if any(i.get('node') == self.node and len(i.findall('{%s#event}item' % PUBSUB)) > 1 for i in items):
            self.sent_multi += 1

    def _on_publish(self, msg):
        if msg['pubsub_event']['items']['node'] != self.node:
            return
        try:
            check(msg['from'].full == service(self.client.args), 'a notification from %s' % msg['from'])
            check(msg['type'] == 'headline', 'a notification of type %s, expected headline' % msg['type'])
            # The plugin raises this event while it iterates over these items itself, and an
            # ElementBase's iterator state is shared: read the list, do not iterate again.
            for item in msg['pubsub_event']['items']['substanzas']:
                if item.name != 'item':
                    continue
                got = parse_item(item['payload'], self.sensor, item['id'], self.proofs)
                if item['id'] in self.items:
                    check(sorted(self.items[item['id']]) == sorted(got), 'item %s delivered twice, differently' % item['id'])
                    continue
                self.items[item['id']] = got
                self.payloads[item['id']] = item['payload']
                self.order.append(item['id'])
        except Fail as e:
            self.errors.append(str(e))

    def readings(self):
        check(not self.errors, '%s: %s' % (self.client.boundjid.bare, '; '.join(self.errors[:3])))
        return [r for i in self.order for r in self.items[i]]

    async def until(self, expected, what, timeout=20):
        """Until every reading of `expected` has arrived."""
        deadline = time.monotonic() + timeout
        while not set(expected) <= set(self.readings()):
            if time.monotonic() > deadline:
                raise Fail('%s: within %d s got %d of %d readings; missing %s%s' % (
                    what, timeout, len(set(expected) & set(self.readings())), len(expected),
                    sorted(t for t, _ in set(expected) - set(self.readings()))[:10],
                    '' if not self.sent_multi else " (%d notifications held several <item/>s: slixmpp 1.8.3's xep_0060 "
                    "raises no event for those, KeyError 'pubsub_event' on a stanza with xml:lang)" % self.sent_multi))
            await asyncio.sleep(0.05)

    def exactly(self, expected, t0, what):
        got = self.readings()
        check(len(got) == len(set(got)), '%s: a reading arrived twice' % what)
        check(set(got) == set(expected), '%s: got %s, expected %s' % (what, show(got, t0), show(expected, t0)))


QUIET = 1.5   # after the last expected reading, how long nothing else may arrive


# ------------------------------------------------------------------- pubsub requests

async def login(a, account):
    return await Client(a, account[0], account[1], plugins=PLUGINS).login()


async def subscribe(client, sensor, proofs=None):
    options = None
    if proofs is not None:
        options = client['xep_0004'].make_form(ftype='submit')
        options.add_field(var='FORM_TYPE', ftype='hidden', value=PUBSUB + '#subscribe_options')
        options.add_field(var='agora#proofs', value='true' if proofs else 'false')
    reply = await client['xep_0060'].subscribe(service(client.args), node_of(sensor), options=options, timeout=10)
    s = reply['pubsub']['subscription']
    check(s['subscription'] == 'subscribed' and s['node'] == node_of(sensor) and s['jid'].bare == client.boundjid.bare,
          '%s subscribing to %s: %s' % (client.boundjid.bare, node_of(sensor), s))
    return s


async def subscriptions(client):
    reply = await client['xep_0060'].get_subscriptions(service(client.args), timeout=10)
    return {(s['node'], s['subscription']) for s in reply['pubsub']['subscriptions']['substanzas']}


async def pubsub_refused(call, condition, what, app=None, text_like=None):
    """A pubsub IQ must fail with `condition` (and the XEP-0060 application condition `app`);
    returns the error's text."""
    try:
        await call
    except IqError as e:
        got, text = e.iq['error']['condition'] or raw_condition(e.iq), e.iq['error']['text']
        check(got == condition, '%s: expected %s, got %s (%s)' % (what, condition, got, text))
        if app:
            check(e.iq.xml.find('{jabber:client}error/{%s}%s' % (PUBSUB_ERRORS, app)) is not None,
                  '%s: the error has no <%s xmlns=%s/>: %s' % (what, app, PUBSUB_ERRORS, e.iq))
        if text_like:
            check(text and re.search(text_like, text, re.I), '%s: the error text %r does not match /%s/' % (what, text, text_like))
        return text
    raise Fail('%s: expected %s, got a result' % (what, condition))


async def items(client, sensor, max_items, proofs=False):
    """get_items with max_items: the (id, readings) list in the order the server sent it."""
    reply = await client['xep_0060'].get_items(service(client.args), node_of(sensor), max_items=max_items, timeout=10)
    check(reply['pubsub']['items']['node'] == node_of(sensor), 'items reply for node %r' % reply['pubsub']['items']['node'])
    return [(i['id'], parse_item(i['payload'], sensor, i['id'], proofs)) for i in reply['pubsub']['items']['substanzas']]


async def buy(client, sensor, w0, w1, request):
    await ask(client, 'set', MARKET, 'purchase', {'sensor': sensor, 'from': rfc3339(w0), 'to': rfc3339(w1),
                                                   'request': request, 'max-credits': 1})


async def until_time(t):
    while time.time() < t:
        await asyncio.sleep(min(0.2, max(0.01, t - time.time())))


# ------------------------------------------------------------------- scenarios

async def discovery(owner, a):
    """The domain lists the service; the service is a pubsub service listing one node per
    unfrozen sensor."""
    disco = owner['xep_0030']
    listed = (await disco.get_items(jid=a.domain, timeout=10))['disco_items']['items']
    check(any(str(j) == service(a) for j, _, _ in listed), 'disco#items of %s does not list %s: %s' % (a.domain, service(a), listed))
    info = (await disco.get_info(jid=service(a), timeout=10))['disco_info']
    check(any(i[0] == 'pubsub' and i[1] == 'service' for i in info['identities']), 'identities of %s: %s' % (service(a), info['identities']))
    wanted = {PUBSUB} | {PUBSUB + '#' + f for f in ('subscribe', 'retrieve-items', 'retrieve-subscriptions', 'subscription-options')}
    check(wanted <= set(info['features']), '%s lacks features %s' % (service(a), sorted(wanted - set(info['features']))))
    nodes = (await disco.get_items(jid=service(a), timeout=10))['disco_items']['items']
    check(all(str(j) == service(a) for j, _, _ in nodes), 'node items with another jid: %s' % nodes)
    names = {n for _, n, _ in nodes}
    check({node_of(s) for s in ('street-1', 'street-2', 'street-3')} <= names and node_of('frozen-1') not in names,
          'disco#items of %s: %s' % (service(a), sorted(names)))


async def sc_window(a):
    sensor = 'street-1'
    t0 = int(time.time())
    owner = await login(a, a.owner)
    buyer = await login(a, a.buyer)
    future = await login(a, a.future_buyer)
    outsider = await login(a, a.outsider)
    feeds = {c: Feed(c, sensor) for c in (owner, buyer, future, outsider)}
    await discovery(owner, a)

    bought = [(t0 - 180, t0 - 60), (t0 - 20, t0 + 600)]      # one past window, one current
    coming = [(t0 + 15, t0 + 75)]                              # starts after the subscription
    await buy(buyer, sensor, *bought[0], request='live-w1')
    await buy(buyer, sensor, *bought[1], request='live-w2')
    await buy(future, sensor, *coming[0], request='live-f1')

    for c in (owner, buyer, future):
        await subscribe(c, sensor)
    text = await pubsub_refused(outsider['xep_0060'].subscribe(service(a), node_of(sensor), timeout=10),
                                'forbidden', 'subscribe without a purchase', text_like=r'buy|purchas')
    await pubsub_refused(buyer['xep_0060'].subscribe(service(a), node_of('no-such-sensor'), timeout=10),
                         'item-not-found', 'subscribe to an unknown sensor')
    await pubsub_refused(buyer['xep_0060'].subscribe(service(a), node_of('frozen-1'), timeout=10),
                         'item-not-found', 'subscribe to a frozen sensor')
    await pubsub_refused(buyer['xep_0060'].subscribe(service(a), node_of(sensor), subscribee=outsider.boundjid.bare, timeout=10),
                         'bad-request', 'subscribe on behalf of another account', app='invalid-jid')
    check((node_of(sensor), 'subscribed') in await subscriptions(buyer), 'the buyer\'s subscriptions: %s' % await subscriptions(buyer))
    check((node_of(sensor), 'subscribed') in await subscriptions(future), 'the future buyer\'s subscriptions')
    check(not any(n == node_of(sensor) for n, _ in await subscriptions(outsider)), 'the refused outsider is subscribed')

    # Readings before, inside and after each window; those of the last packs lie ahead of the
    # gateway's clock by at most 90 s (it takes up to 10 minutes).
    packs = [[t0 - 300, t0 - 181], [t0 - 180, t0 - 179, t0 - 100], [t0 - 61, t0 - 60, t0 - 59], [t0 - 21, t0 - 20, t0 - 10],
             [t0 + 14, t0 + 15, t0 + 40], [t0 + 74, t0 + 75, t0 + 90]]
    published = await publish(a, sensor, t0, packs)
    await feeds[owner].until(published, 'the owner, main packs')
    # Once the future window has begun, a reading timed now; then a last pack (one commit each).
    await until_time(t0 + 16)
    x = await publish(a, sensor, t0, [[t0 - 250, t0 + 16]])
    await feeds[owner].until(x, 'the owner, pack X')
    y = await publish(a, sensor, t0, [[t0 - 150, t0 - 30, t0 - 5]])
    await feeds[owner].until(y, 'the owner, pack Y')
    published |= x | y

    expected = {c: {r for r in published if inside(r[0], w)} for c, w in ((buyer, bought), (future, coming))}
    # The last reading each buyer may see was published last for it: once it is in, the rest is too.
    await feeds[buyer].until(expected[buyer], 'the buyer of %s' % show(expected[buyer], t0))
    await feeds[future].until(expected[future], 'the future buyer of %s' % show(expected[future], t0))
    await asyncio.sleep(QUIET)
    feeds[owner].exactly(published, t0, 'the owner')
    feeds[buyer].exactly(expected[buyer], t0, 'the buyer of [T0-180, T0-60) and [T0-20, T0+600)')
    feeds[future].exactly(expected[future], t0, 'the buyer of [T0+15, T0+75) (a window to come at subscription)')
    feeds[outsider].exactly(set(), t0, 'the outsider')
    for c, w in ((buyer, bought), (future, coming)):   # a buyer's item is the owner's same item, filtered
        for i, got in feeds[c].items.items():
            check(i in feeds[owner].items and set(got) == {r for r in feeds[owner].items[i] if inside(r[0], w)},
                  'item %s: %s, the owner\'s is %s' % (i, show(got, t0), show(feeds[owner].items.get(i, ()), t0)))

    # Retrieving items: the newest, oldest first, with the same filter.
    owner_ids = sorted(feeds[owner].items, key=int)
    x_id, y_id = owner_ids[-2], owner_ids[-1]
    check(set(feeds[owner].items[x_id]) == x and set(feeds[owner].items[y_id]) == y, 'packs X and Y are not the newest two items')
    live_items = {i: show(r, t0) for i, r in sorted(feeds[owner].items.items(), key=lambda e: int(e[0]))}

    def retrieved(got, expected, what):
        check([(i, set(r)) for i, r in got] == expected, '%s: got %s, expected %s (the items as published: %s)' % (
            what, [(i, show(r, t0)) for i, r in got], [(i, show(r, t0)) for i, r in expected], live_items))

    retrieved(await items(owner, sensor, 2), [(x_id, x), (y_id, y)], 'owner max_items=2')
    retrieved(await items(buyer, sensor, 1), [(y_id, {r for r in y if inside(r[0], bought)})], 'buyer max_items=1')
    retrieved(await items(buyer, sensor, 2), [(x_id, {r for r in x if inside(r[0], bought)}), (y_id, {r for r in y if inside(r[0], bought)})],
              'buyer max_items=2')
    got = await items(future, sensor, 2)   # Y holds nothing of its window: left out, before or after taking the newest 2
    check(0 < len(got) <= 2 and got[-1][0] == x_id and [i for i, _ in got] == sorted((i for i, _ in got), key=int)
          and all(set(r) == set(feeds[future].items.get(i, ())) for i, r in got),
          'future buyer max_items=2: got %s, expected at most 2 items ending with %s, each as received live: %s' % (
              [(i, show(r, t0)) for i, r in got], x_id, {i: show(r, t0) for i, r in feeds[future].items.items()}))
    try:
        leaked = [r for _, rs in await items(outsider, sensor, 10) for r in rs]
    except IqError:
        leaked = []
    check(not leaked, 'the outsider retrieved %s' % show(leaked, t0))

    # A purchase of a past window only still does not allow a subscription.
    await buy(outsider, sensor, t0 - 7200, t0 - 3600, request='live-past')
    await pubsub_refused(outsider['xep_0060'].subscribe(service(a), node_of(sensor), timeout=10),
                         'forbidden', 'subscribe with only a past window', text_like=r'buy|purchas')

    # Unsubscribed, the buyer receives no more.
    await buyer['xep_0060'].unsubscribe(service(a), node_of(sensor), timeout=10)
    before = len(feeds[buyer].readings())
    z = await publish(a, sensor, t0, [[t0 - 90]])
    await feeds[owner].until(z, 'the owner, pack Z')
    await asyncio.sleep(QUIET)
    check(len(feeds[buyer].readings()) == before, 'the buyer received %s after unsubscribing' % show(feeds[buyer].readings()[before:], t0))
    check(not any(n == node_of(sensor) for n, _ in await subscriptions(buyer)), 'still subscribed after unsubscribe')
    await pubsub_refused(buyer['xep_0060'].unsubscribe(service(a), node_of(sensor), timeout=10),
                         'unexpected-request', 'unsubscribe twice', app='not-subscribed')
    feeds[outsider].exactly(set(), t0, 'the outsider, at the end')
    for c in (owner, buyer, future, outsider):
        await c.logout()
    return 'live window ok: owner %d readings in %d items, buyer %d, future buyer %d, outsider 0 (refused: %r)' % (
        len(published | z), len(feeds[owner].items), len(expected[buyer]), len(expected[future]), text)


def verify_item(item_id, payload, key):
    """Every reading of the item: its record hashes up its audit path to the root of the
    item's readings.commit entry, whose receipt verifies with the log key."""
    receipt = json.loads(receipt_of(payload).text)
    check(receipt.get('index') == int(item_id), 'item %s carries the receipt of entry %s' % (item_id, receipt.get('index')))
    entry = json.loads(vr.verify_receipt(receipt, *key))   # exits non-zero if it does not verify
    check(entry['type'] == 'readings.commit' and entry['sensor'] == 'street-2',
          'item %s: the receipt\'s entry is %s' % (item_id, entry))
    root, count = base64.b64decode(entry['root']), entry['count']
    for r in payload.findall('{%s}r' % READINGS):
        record = base64.b64decode(r.get('record'))
        fields = json.loads(record)
        if entry['v'] >= 2:
            vr.check_salt(fields, 'the reading at %s' % r.get('t'))
        check(int(r.get('size')) == count, 'item %s: size %s, the commit counts %d' % (item_id, r.get('size'), count))
        leaf = hashlib.sha256(b'\x00' + record).digest()
        path = [base64.b64decode(h.text) for h in r.findall('{%s}hash' % READINGS)]
        check(vr.root_from_inclusion(leaf, int(r.get('leaf')), count, path) == root, 'the reading at %s is not in its batch' % r.get('t'))
        check(float(fields['v']) == float(r.get('v')) and fields['t'] // 10 ** 9 == seconds(r.get('t')),
              'the record %s does not say what the attributes say (%s)' % (record, r.attrib))
    return count


async def sc_proofs(a):
    sensor = 'street-2'
    key = vr.parse_vkey(a.log_key)
    t0 = int(time.time())
    owner = await login(a, a.owner)
    buyer = await login(a, a.proofs_buyer)
    feeds = {owner: Feed(owner, sensor, proofs=False), buyer: Feed(buyer, sensor, proofs=True)}
    window = [(t0 - 120, t0 + 60)]
    await buy(buyer, sensor, *window[0], request='live-proofs')
    await subscribe(owner, sensor)
    await subscribe(buyer, sensor, proofs=True)
    form = (await buyer['xep_0060'].get_subscription_options(service(a), node_of(sensor), buyer.boundjid.bare, timeout=10))['pubsub']['options']['options']
    check(str(form.get_values().get('agora#proofs')).lower() in ('true', '1'), 'the buyer\'s options: %s' % form.get_values())

    # Batches partly inside the window: a buyer's audit paths pass through readings it did not buy.
    packs = [[t0 - 200, t0 - 120, t0 - 100], [t for t in range(t0 - 145, t0 - 105) if t != t0 - 120],
             [t0 - 50, t0 - 40, t0 + 59, t0 + 60], [t0 - 61, t0 - 1]]
    published = await publish(a, sensor, t0, packs)
    await feeds[owner].until(published, 'the owner')
    expected = {r for r in published if inside(r[0], window)}
    await feeds[buyer].until(expected, 'the buyer with proofs')
    await asyncio.sleep(QUIET)
    feeds[owner].exactly(published, t0, 'the owner')
    feeds[buyer].exactly(expected, t0, 'the buyer with proofs')
    sizes = [verify_item(i, p, key) for i, p in feeds[buyer].payloads.items()]
    check(sum(sizes) > len(expected), 'no batch held readings outside the window (%s)' % sizes)
    for c in (owner, buyer):
        await c.logout()
    return 'live proofs ok: %d readings in %d items verified against their readings.commit receipts (batches of %s)' % (
        len(expected), len(sizes), sizes)


async def sc_offline(a):
    sensor = 'street-3'
    t0 = int(time.time())
    owner = await login(a, a.owner)
    owner_feed = Feed(owner, sensor)
    await subscribe(owner, sensor)
    buyer = await login(a, a.offline_buyer)
    window = [(t0 - 120, t0 + 60)]
    await buy(buyer, sensor, *window[0], request='live-offline')
    await subscribe(buyer, sensor)
    await buyer.logout()
    await asyncio.sleep(0.5)

    published = await publish(a, sensor, t0, [[t0 - 150, t0 - 100, t0 - 50], [t0 - 10, t0 + 70], [t0 - 130, t0 - 20]])
    await owner_feed.until(published, 'the owner')
    expected = {r for r in published if inside(r[0], window)}

    again = Client(a, a.offline_buyer[0], a.offline_buyer[1], plugins=PLUGINS)
    feed = Feed(again, sensor)
    await again.login(presence=False)
    await asyncio.sleep(QUIET)
    check(not feed.readings(), 'stored items arrived before the available presence: %s' % show(feed.readings(), t0))
    check((node_of(sensor), 'subscribed') in await subscriptions(again), 'the subscription did not survive the logout')
    again.send_presence()
    await feed.until(expected, 'the buyer back online')
    await asyncio.sleep(QUIET)
    feed.exactly(expected, t0, 'the buyer back online')
    stored = len(feed.items)
    # And live again.
    live = await publish(a, sensor, t0, [[t0 - 5, t0 - 125]])
    await owner_feed.until(live, 'the owner, live pack')
    await feed.until({r for r in live if inside(r[0], window)}, 'the buyer, live again')
    await asyncio.sleep(QUIET)
    feed.exactly(expected | {r for r in live if inside(r[0], window)}, t0, 'the buyer, live again')
    for c in (owner, again):
        await c.logout()
    return 'live offline ok: %d readings in %d stored items at the next presence, then live' % (len(expected), stored)


SCENARIOS = {'window': sc_window, 'proofs': sc_proofs, 'offline': sc_offline}
ROLES = {'window': ('buyer', 'future_buyer', 'outsider'), 'proofs': ('proofs_buyer',), 'offline': ('offline_buyer',)}


def main():
    p = scenario_parser(__doc__, timeout=60)
    p.add_argument('scenario', choices=sorted(SCENARIOS))
    p.add_argument('--log-key', required=True)
    p.add_argument('--mqtt-port', type=int, required=True)
    p.add_argument('--mqtt-ca', required=True, help="the broker's CA certificate (PEM)")
    p.add_argument('--work', required=True, help='where the sensors\' keys and certificates are')
    p.add_argument('--owner', nargs=2, required=True, metavar=('JID', 'PW'))
    for role in ('buyer', 'future-buyer', 'outsider', 'proofs-buyer', 'offline-buyer'):
        p.add_argument('--' + role, nargs=2, metavar=('JID', 'PW'))
    a = p.parse_args()
    for role in ROLES[a.scenario]:
        if not getattr(a, role):
            p.error('%s needs --%s' % (a.scenario, role.replace('_', '-')))
    run_scenario('live ' + a.scenario, SCENARIOS[a.scenario], a)


if __name__ == '__main__':
    main()
