#!/usr/bin/python3
"""Federation as users live it (issue 19), with slixmpp clients on three servers of the city that
city.py builds: carol and dave on Prosody (city.test), alice and olga on gw1.test, bob on gw2.test.
Runs inside the city's network namespace; every server is reached over the bridge, by address.

  1. carol (Prosody) -> alice (gw1) and back: Prosody and gw1 authenticate each other by certificate.
  2. presence subscription across domains: carol subscribes to alice, alice's client approves and
     subscribes back; each then sees the other's presence.
  3. dave (Prosody) -> bob (gw2) and back: gw2 has no trust anchors, so dialback both ways.
  4. alice (gw1) -> bob (gw2) and back: two Agoras, dialback (gw2 cannot check gw1's certificate).
  5. carol, a remote consumer of gw1: searches gw1's sensors, reads her balance, buys a window,
     verifies the receipt with the independent verifier, reads the window with proofs, verifies
     every reading; dave, who has no account on gw1, is refused.
  6. a chat to a domain nobody serves bounces to alice as remote-server-not-found.

usage: scenarios.py --pki DIR --gw1-ca PEM --gw2-ca PEM --log-key VKEY --sensor S --start T
"""
import argparse
import asyncio
import json
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'xmpp'))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from clients import Client, Fail, check, message_queue, next_of, run_scenario  # noqa: E402
from market import ask, refused, rfc3339  # noqa: E402
from readings import read_all, verify_all  # noqa: E402
import verify_receipt as vr  # noqa: E402

MARKET = 'urn:agora:market:1'
LEDGER = 'urn:agora:ledger:1'
DISCOVERY = 'urn:xmpp:iot:discovery'


def server(host, domain, ca, timeout):
    return SimpleNamespace(host=host, port=5222, domain=domain, ca=ca, timeout=timeout, debug=False)


class At:
    """A client that addresses its IQs to another domain (market.ask sends to `args.domain`)."""
    def __init__(self, client, domain):
        self.client = client
        self.args = SimpleNamespace(domain=domain)

    def Iq(self):
        return self.client.Iq()


async def chat(a_client, a_queue, b_client, b_queue, text):
    """a -> b's bare JID, then b answers a's full JID; each arrives with the sender's full JID."""
    a_client.send_message(mto=b_client.boundjid.bare, mbody=text, mtype='chat')
    got = await next_of(b_queue, 'a chat from %s to %s' % (a_client.boundjid, b_client.boundjid), timeout=30)
    check(got['body'] == text and got['from'] == a_client.boundjid, 'got %r from %s' % (got['body'], got['from']))
    b_client.send_message(mto=got['from'], mbody='re: ' + text, mtype='chat')
    back = await next_of(a_queue, 'the answer from %s' % b_client.boundjid, timeout=30)
    check(back['body'] == 're: ' + text and back['from'] == b_client.boundjid, 'answer %r from %s' % (back['body'], back['from']))


async def again(a):
    """After the hostile peers: the well-behaved ones are unaffected."""
    city = server('10.77.0.13', 'city.test', a.pki + '/root.pem', a.timeout)
    gw1 = server('10.77.0.11', 'gw1.test', a.gw1_ca, a.timeout)
    carol = await Client(city, 'carol@city.test/tablet', 'carol-city-1', mech='SCRAM-SHA-1').login()
    alice = await Client(gw1, 'alice@gw1.test/desk', 'alice-gw1-pass').login()
    # (alice's offline messages hold evil.test's honest one: only carol's count here)
    await chat(carol, message_queue(carol), alice, message_queue(alice, match=lambda m: m['from'].bare == 'carol@city.test'),
               'still friends after the attack?')
    for c in (carol, alice):
        await c.logout()
    return 'scenarios ok: carol and alice still chat after the hostile peers'


async def buy_until_gone(a):
    """Carol buys hour after hour on gw1 until a purchase fails (gw1 is killed meanwhile);
    each acknowledged purchase is printed as "bought <request> <purchase id>"."""
    city = server('10.77.0.13', 'city.test', a.pki + '/root.pem', a.timeout)
    carol = await Client(city, 'carol@city.test/crash', 'carol-city-1', mech='SCRAM-SHA-1').login()
    shop = At(carol, 'gw1.test')
    base = int(a.start) - 100 * 3600
    bought = 0
    for i in range(200):
        window = {'sensor': a.sensor, 'from': rfc3339(base + i * 3600), 'to': rfc3339(base + (i + 1) * 3600),
                  'request': 'crash-%d' % i, 'max-credits': 5}
        try:
            result = await ask(shop, 'set', MARKET, 'purchase', window, timeout=8)
        except Exception as e:   # gw1 is gone: a bounce or a timeout ends the run
            print('stopped after %d: %s' % (bought, type(e).__name__))
            break
        print('bought %s %s' % (window['request'], result.get('id')), flush=True)
        bought += 1
    await carol.logout()
    return 'scenarios ok: %d purchases acknowledged before gw1 went' % bought


async def verify_purchases(a):
    """Every purchase carol was told of is on gw1's ledger exactly once, and nothing else is."""
    acknowledged = dict(line.split()[1:3] for line in open(a.verify_purchases) if line.startswith('bought '))
    city = server('10.77.0.13', 'city.test', a.pki + '/root.pem', a.timeout)
    carol = await Client(city, 'carol@city.test/after', 'carol-city-1', mech='SCRAM-SHA-1').login()
    shop = At(carol, 'gw1.test')
    ids, after = [], None
    while True:
        page = ET.Element('{http://jabber.org/protocol/rsm}set')
        ET.SubElement(page, '{http://jabber.org/protocol/rsm}max').text = '50'
        if after:
            ET.SubElement(page, '{http://jabber.org/protocol/rsm}after').text = after
        listed = await ask(shop, 'get', MARKET, 'purchases', children=[page], timeout=30)
        items = listed.findall('{%s}purchase' % MARKET)
        ids += [p.get('id') for p in items]
        last = listed.find('{http://jabber.org/protocol/rsm}set/{http://jabber.org/protocol/rsm}last')
        if not items or last is None:
            break
        after = last.text
    check(len(ids) == len(set(ids)), 'a purchase is listed twice: %s' % ids)
    missing = [r for r, pid in acknowledged.items() if pid not in ids]
    check(not missing, 'acknowledged purchases missing after the crash: %s' % missing)
    # Beyond what was acknowledged: the first purchase of the main scenario, and at most the
    # one whose answer the crash swallowed.
    extra = len(ids) - len(acknowledged) - 1
    check(0 <= extra <= 1, '%d purchases on the ledger that carol was not told of' % extra)
    await carol.logout()
    return 'scenarios ok: all %d acknowledged purchases on gw1 exactly once after kill -9 (%d unacknowledged)' % (len(acknowledged), extra)


async def scenario(a):
    if a.again:
        return await again(a)
    if a.buy_until_gone:
        return await buy_until_gone(a)
    if a.verify_purchases:
        return await verify_purchases(a)
    city = server('10.77.0.13', 'city.test', a.pki + '/root.pem', a.timeout)
    gw1 = server('10.77.0.11', 'gw1.test', a.gw1_ca, a.timeout)
    gw2 = server('10.77.0.12', 'gw2.test', a.gw2_ca, a.timeout)
    carol = await Client(city, 'carol@city.test/phone', 'carol-city-1', mech='SCRAM-SHA-1').login()   # Prosody's best
    dave = await Client(city, 'dave@city.test/laptop', 'dave-city-22', mech='SCRAM-SHA-1').login()
    alice = await Client(gw1, 'alice@gw1.test/desk', 'alice-gw1-pass').login()
    bob = await Client(gw2, 'bob@gw2.test/desk', 'bob-gw2-pass').login()
    queues = {c: message_queue(c) for c in (carol, dave, alice, bob)}

    # 1. Prosody <-> gw1 (certificates).
    await chat(carol, queues[carol], alice, queues[alice], 'hello from the city hall')
    # 2. Presence across domains: slixmpp approves and subscribes back by default.
    seen = {carol: asyncio.get_running_loop().create_future(), alice: asyncio.get_running_loop().create_future()}
    for me, other in ((carol, alice), (alice, carol)):
        def on_available(presence, me=me, other=other):
            if presence['from'].bare == other.boundjid.bare and not seen[me].done():
                seen[me].set_result(str(presence['from']))
        me.add_event_handler('presence_available', on_available)
    carol.send_presence(pto='alice@gw1.test', ptype='subscribe')
    try:
        carol_saw = await asyncio.wait_for(seen[carol], 30)
        alice_saw = await asyncio.wait_for(seen[alice], 30)
    except asyncio.TimeoutError:
        raise Fail('presence across domains: carol saw alice: %s, alice saw carol: %s' % (seen[carol].done(), seen[alice].done()))
    check(carol_saw == str(alice.boundjid) and alice_saw == str(carol.boundjid), 'presence from %s / %s' % (carol_saw, alice_saw))
    roster = await alice.get_roster()
    item = roster['roster']['items'].get('carol@city.test')
    check(item is not None and item['subscription'] in ('both', 'from', 'to'), "alice's roster item for carol: %s" % item)

    # Servers answer for themselves across the federation (XEP-0199 pings to the domains).
    for target in ('city.test', 'gw2.test'):
        iq = alice.Iq()
        iq['type'], iq['to'] = 'get', target
        iq.append(ET.Element('{urn:xmpp:ping}ping'))
        pong = await iq.send(timeout=30)
        check(pong['type'] == 'result' and pong['from'] == target, 'ping %s: %s' % (target, pong))

    # gw1's components are domains of their own to the federation: carol's server opens
    # streams to them, and they answer over links of their own (dialback: gw1's
    # certificate names gw1.test only).
    for component, category in (('rooms.gw1.test', 'conference'), ('pubsub.gw1.test', 'pubsub')):
        info = await ask(At(carol, component), 'get', 'http://jabber.org/protocol/disco#info', 'query')
        identities = [i.get('category') for i in info.findall('{http://jabber.org/protocol/disco#info}identity')]
        check(category in identities, 'disco#info of %s from city.test: %s' % (component, identities))

    # 3. Prosody <-> gw2 (dialback), 4. gw1 <-> gw2 (two Agoras).
    await chat(dave, queues[dave], bob, queues[bob], 'dialback, please')
    await chat(alice, queues[alice], bob, queues[bob], 'from one gateway to the next')

    # 5. carol finds a gw1 sensor in the city's registry on gw2 (gw1 registered it there over
    #    s2s; its frozen sensor is not listed), then buys it on gw1 over s2s, with proofs.
    registry = At(carol, 'gw2.test')
    deadline = time.time() + 30
    while True:
        found = await ask(registry, 'get', DISCOVERY, 'search', {'offset': 0, 'maxCount': 10},
                          [ET.Element('{%s}strEq' % DISCOVERY, {'name': 'CLASS', 'value': 'pm25'})], reply='found')
        listed = {(t.get('jid'), t.get('nodeId')): t for t in found.findall('{%s}thing' % DISCOVERY)}
        if ('gw1.test', a.sensor) in listed or time.time() > deadline:
            break
        await asyncio.sleep(0.5)
    check(('gw1.test', a.sensor) in listed, "the registry on gw2 does not list gw1's %s: %s" % (a.sensor, list(listed)))
    check(('gw1.test', 'old-1') not in listed, 'the registry lists a frozen sensor')
    tags = {m.get('name'): m.get('value') for m in listed[('gw1.test', a.sensor)]}
    check(tags.get('PRICE') in ('2', '2.0') and tags.get('OWNER') == 'olga@gw1.test', 'registered tags: %s' % tags)
    key = vr.parse_vkey(a.log_key)
    shop = At(carol, listed[('gw1.test', a.sensor)].get('jid'))
    found = await ask(shop, 'get', DISCOVERY, 'search', {'offset': 0, 'maxCount': 10}, reply='found')
    things = {t.get('nodeId'): t for t in found.findall('{%s}thing' % DISCOVERY)}
    check(a.sensor in things and things[a.sensor].get('jid') == 'gw1.test', 'search from city.test: %s' % list(things))
    check((await ask(shop, 'get', MARKET, 'balance')).get('credits') == '500', 'carol has no 500 credits on gw1')
    start = int(a.start)
    window = {'sensor': a.sensor, 'from': rfc3339(start), 'to': rfc3339(start + 3600), 'request': 'carol-1', 'max-credits': 5}
    bought = await ask(shop, 'set', MARKET, 'purchase', window)
    check(bought.get('credits') == '2', 'an hour at 2 an hour cost %s' % bought.get('credits'))
    receipt = json.loads(bought.find('{%s}receipt' % LEDGER).text)
    entry = json.loads(vr.verify_receipt(receipt, *key))
    check(entry['type'] == 'purchase' and entry['buyer'] == 'carol@city.test' and entry['sensor'] == a.sensor, 'receipt: %s' % entry)
    readings, receipts, pages = await read_all(shop, a.sensor, start, start + 3600, 100, True)
    check(len(readings) == 360, 'carol read %d readings of the hour, expected 360' % len(readings))
    verify_all(readings, receipts, key)
    await refused(shop, 'forbidden', 'get', 'urn:agora:readings:1', 'readings',
                  {'sensor': a.sensor, 'from': rfc3339(start + 3600), 'to': rfc3339(start + 7200)}, why='beyond the window bought')
    await refused(shop, 'item-not-found', 'set', MARKET, 'purchase', dict(window, request='carol-2', sensor='nowhere'), why='unknown sensor')
    # What keeps an account's own data is for gw1's accounts only: a remote sender cannot make
    # gw1 store private XML, a roster or a block list under its JID.
    await refused(shop, 'service-unavailable', 'set', 'jabber:iq:private', 'query', children=[ET.Element('{urn:example:junk}junk')],
                  why='private storage for a remote JID')
    await refused(shop, 'service-unavailable', 'get', 'jabber:iq:roster', 'query', why='a roster for a remote JID')
    await refused(shop, 'service-unavailable', 'set', 'urn:xmpp:blocking', 'block', children=[ET.Element('{urn:xmpp:blocking}item', {'jid': 'x@y.test'})],
                  why='a block list for a remote JID')
    try:
        await ask(At(dave, 'gw1.test'), 'get', MARKET, 'balance')
        raise Fail('dave, who has no account on gw1, was told a balance')
    except Exception as e:
        check('IqError' in type(e).__name__, 'dave: %r' % e)

    # 6. Nobody serves nowhere.test: the stanza comes back with remote-server-not-found.
    errors = asyncio.Queue()
    alice.add_event_handler('message_error', errors.put_nowait)
    alice.send_message(mto='someone@nowhere.test', mbody='anyone?', mtype='chat')
    bounced = await next_of(errors, 'the bounce from nowhere.test', timeout=30)
    check(bounced['error']['condition'] == 'remote-server-not-found', 'bounce: %s' % bounced['error']['condition'])

    for c in (carol, dave, alice, bob):
        await c.logout()
    return 'scenarios ok: chats both ways over certificates and dialback, presence subscribed across domains, ' \
           'a remote purchase with its receipt and %d proven readings, a bounce' % len(readings)


def main():
    p = argparse.ArgumentParser()
    for name in ('--pki', '--gw1-ca', '--gw2-ca', '--log-key', '--sensor', '--start'):
        p.add_argument(name, required=True)
    p.add_argument('--timeout', type=float, default=240)
    p.add_argument('--again', action='store_true', help='only check that carol and alice still chat')
    p.add_argument('--buy-until-gone', action='store_true', help='carol buys until gw1 stops answering')
    p.add_argument('--verify-purchases', help="the output of --buy-until-gone: check gw1's ledger against it")
    p.add_argument('--debug', action='store_true')
    run_scenario('scenarios', scenario, p.parse_args())


if __name__ == '__main__':
    main()
