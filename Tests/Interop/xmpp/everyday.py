#!/usr/bin/python3
"""The extensions everyday clients expect (issue 22), with slixmpp's own plugins against
`agora serve`: XEP-0280 carbons, XEP-0191 blocking, XEP-0352 client state indication.

usage: everyday.py SCENARIO --port P --domain D --ca CA --owner JID PW --alice JID PW --bob JID PW
                   [--timeout 60]

Scenarios:
  carbons   ALICE on two resources, the second with carbons on, a third without: a chat BOB
            sends to the first is copied to the second as <received/>, one the first sends to
            BOB as <sent/>; a message marked <private/> is not copied; the third gets nothing.
  blocking  ALICE blocks BOB (the list and the push to her other resource show it): BOB's
            chat to her is refused (service-unavailable) and never arrives, hers to him is
            refused with <blocked/>; once unblocked, his chat arrives again.
  csi       OWNER creates an open room, BOB enters; OWNER goes inactive: BOB's three presence
            changes are held while his groupchat message arrives at once; OWNER active again
            gets exactly one presence from BOB, the last.
  pep       ALICE's desk publishes her nickname (XEP-0172 through slixmpp's xep_0163) and a
            XEP-0402 bookmark with XEP-0223 publish-options; her phone is told of both; she
            reads them back; a conflicting publish-option is refused (precondition-not-met);
            BOB, without a subscription, reads neither; a retraction reaches the phone.

Prints "everyday SCENARIO ok …" and exits 0, or a reason.
"""
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clients import Client, Fail, check, next_of, quiet, run_scenario, scenario_parser  # noqa: E402
from market import raw_condition  # noqa: E402

PLUGINS = ('xep_0030', 'xep_0004', 'xep_0045', 'xep_0280', 'xep_0191', 'xep_0352', 'xep_0203', 'xep_0060', 'xep_0163', 'xep_0172')
CARBONS = 'urn:xmpp:carbons:2'
FORWARD = 'urn:xmpp:forward:0'


async def login(a, who, resource=None):
    jid, password = getattr(a, who)
    c = Client(a, jid + ('/' + resource if resource else ''), password, plugins=PLUGINS)
    c.chats = asyncio.Queue()
    c.received = asyncio.Queue()
    c.sent = asyncio.Queue()
    c.errors = asyncio.Queue()
    c.pushes = asyncio.Queue()
    c.presences = asyncio.Queue()
    c.groupchat = asyncio.Queue()
    c.add_event_handler('message', lambda m: c.chats.put_nowait(m) if m['type'] in ('chat', 'normal') and m['body'] else None)
    c.add_event_handler('carbon_received', lambda m: c.received.put_nowait(m))
    c.add_event_handler('carbon_sent', lambda m: c.sent.put_nowait(m))
    c.add_event_handler('message_error', lambda m: c.errors.put_nowait(m))
    c.add_event_handler('blocked', lambda iq: c.pushes.put_nowait(('block', iq)))
    c.add_event_handler('unblocked', lambda iq: c.pushes.put_nowait(('unblock', iq)))
    c.add_event_handler('groupchat_message', lambda m: c.groupchat.put_nowait(m) if m['body'] else None)
    await c.login()
    return c


def forwarded_body(carbon, direction):
    inner = carbon.xml.find('{%s}%s/{%s}forwarded/{jabber:client}message' % (CARBONS, direction, FORWARD))
    check(inner is not None, 'a %s carbon without the forwarded message: %s' % (direction, carbon))
    body = inner.find('{jabber:client}body')
    return inner, body.text if body is not None else None


async def sc_carbons(a):
    desk = await login(a, 'alice', 'desk')
    phone = await login(a, 'alice', 'phone')
    tablet = await login(a, 'alice', 'tablet')   # carbons off
    bob = await login(a, 'bob')
    await phone['xep_0280'].enable(timeout=10)
    bob.send_message(mto=desk.boundjid.full, mbody='hello desk', mtype='chat')
    got = await next_of(desk.chats, 'bob\'s chat at the desk')
    check(got['body'] == 'hello desk', 'desk got %s' % got['body'])
    carbon = await next_of(phone.received, 'the received carbon at the phone')
    check(carbon['from'] == phone.boundjid.bare, 'a carbon from %s, not the account' % carbon['from'])
    inner, body = forwarded_body(carbon, 'received')
    check(body == 'hello desk' and inner.get('from', '').startswith(a.bob[0]), 'received carbon: %s from %s' % (body, inner.get('from')))
    desk.send_message(mto=a.bob[0], mbody='hello bob', mtype='chat')
    carbon = await next_of(phone.sent, 'the sent carbon at the phone')
    inner, body = forwarded_body(carbon, 'sent')
    check(body == 'hello bob' and inner.get('to') == a.bob[0], 'sent carbon: %s to %s' % (body, inner.get('to')))
    await next_of(bob.chats, 'alice\'s chat at bob')
    private = bob.make_message(mto=desk.boundjid.full, mbody='for the desk only', mtype='chat')
    private.xml.append(private.xml.makeelement('{%s}private' % CARBONS, {}))
    private.send()
    await next_of(desk.chats, 'the private chat at the desk')
    await quiet(phone.received, 'the phone, for a private message')
    await quiet(tablet.received, 'the tablet without carbons')
    await quiet(tablet.sent, 'the tablet without carbons')
    check(tablet.chats.empty(), 'the tablet got a chat addressed to the desk')
    for c in (desk, phone, tablet, bob):
        await c.logout()
    return 'everyday carbons ok: received and sent copied to the resource that asked, private and carbon-less ones left alone'


async def sc_blocking(a):
    alice = await login(a, 'alice', 'one')
    other = await login(a, 'alice', 'two')
    bob = await login(a, 'bob')
    await other['xep_0191'].get_blocked(timeout=10)   # asks for the list: gets its pushes
    await alice['xep_0191'].block(a.bob[0], timeout=10)
    listed = await alice['xep_0191'].get_blocked(timeout=10)
    check({str(j) for j in listed['blocklist']['items']} == {a.bob[0]}, 'block list: %s' % listed['blocklist']['items'])
    kind, push = await next_of(other.pushes, 'the block pushed to alice\'s other resource')
    check(kind == 'block' and {str(j) for j in push['block']['items']} == {a.bob[0]}, 'push: %s %s' % (kind, push))
    bob.send_message(mto=a.alice[0], mbody='are you there?', mtype='chat')
    err = await next_of(bob.errors, 'the refusal of bob\'s chat')
    check(raw_condition(err) == 'service-unavailable', 'bob\'s chat to alice: %s' % raw_condition(err))
    check(err.xml.find('{jabber:client}error/{urn:xmpp:blocking:errors}blocked') is None, 'bob learnt he is blocked')
    await quiet(alice.chats, 'alice, from a blocked sender')
    await quiet(other.chats, 'alice\'s other resource, from a blocked sender')
    alice.send_message(mto=a.bob[0], mbody='hi', mtype='chat')
    err = await next_of(alice.errors, 'the refusal of alice\'s chat to whom she blocks')
    check(raw_condition(err) == 'not-acceptable' and err.xml.find('{jabber:client}error/{urn:xmpp:blocking:errors}blocked') is not None,
          'alice\'s chat to bob: %s' % err)
    await quiet(bob.chats, 'bob, from alice who blocks him')
    await alice['xep_0191'].unblock(a.bob[0], timeout=10)
    kind, _ = await next_of(other.pushes, 'the unblock pushed')
    check(kind == 'unblock', 'push after unblocking: %s' % kind)
    bob.send_message(mto=alice.boundjid.full, mbody='now?', mtype='chat')   # the bare JID would pick either resource
    got = await next_of(alice.chats, 'bob\'s chat once unblocked')
    check(got['body'] == 'now?', 'after unblocking: %s' % got['body'])
    for c in (alice, other, bob):
        await c.logout()
    return 'everyday blocking ok: refused both ways, pushed, unblocked'


async def sc_csi(a):
    room = 'csi@rooms.' + a.domain
    owner = await login(a, 'owner')
    bob = await login(a, 'bob')
    check(owner['xep_0352'].enabled, 'the server did not offer client state indication')
    await owner['xep_0045'].join_muc_wait(room, 'Olga', timeout=10)
    form = owner['xep_0004'].make_form(ftype='submit')   # an instant room: the defaults
    await owner['xep_0045'].set_room_config(room, form, timeout=10)
    presences = asyncio.Queue()
    owner.add_event_handler('muc::%s::presence' % room, lambda p: presences.put_nowait(p) if p['from'].resource == 'Bob' else None)
    await bob['xep_0045'].join_muc_wait(room, 'Bob', timeout=10)
    await next_of(presences, 'bob entering')
    owner['xep_0352'].send_inactive()
    await asyncio.sleep(0.5)
    for status in ('one', 'two', 'three'):
        bob.send_presence(pto=room + '/Bob', pstatus=status)
    bob.send_message(mto=room, mbody='a message is not held', mtype='groupchat')
    got = await next_of(owner.groupchat, 'bob\'s message while the owner is inactive')
    check(got['body'] == 'a message is not held', 'got %s' % got['body'])
    await quiet(presences, 'the owner while inactive')
    owner['xep_0352'].send_active()
    got = await next_of(presences, 'the held presence once active')
    check(got['status'] == 'three', 'the held presence says %r, expected the last, three' % got['status'])
    await quiet(presences, 'the owner after the held presence')
    for c in (owner, bob):
        await c.logout()
    return 'everyday csi ok: three presence changes held while inactive, the last delivered on active, messages not held'


BOOKMARKS = 'urn:xmpp:bookmarks:1'
NICK = 'http://jabber.org/protocol/nick'


def private_options(a, c, access='whitelist'):
    form = c['xep_0004'].make_form(ftype='submit')
    form.add_field(var='FORM_TYPE', ftype='hidden', value='http://jabber.org/protocol/pubsub#publish-options')
    form.add_field(var='pubsub#persist_items', value='true')
    form.add_field(var='pubsub#access_model', value=access)
    form.add_field(var='pubsub#max_items', value='max')
    return form


async def sc_pep(a):
    import xml.etree.ElementTree as ET
    from slixmpp.exceptions import IqError
    desk = await login(a, 'alice', 'desk')
    phone = await login(a, 'alice', 'phone')
    bob = await login(a, 'bob')
    events = asyncio.Queue()
    phone.add_event_handler('pubsub_publish', lambda m: events.put_nowait(('publish', m)))
    phone.add_event_handler('pubsub_retract', lambda m: events.put_nowait(('retract', m)))
    info = await desk['xep_0030'].get_info(jid=desk.boundjid.bare, timeout=10)
    check('http://jabber.org/protocol/pubsub#publish-options' in info['disco_info']['features'], 'the account does not offer publish-options')
    check(('pubsub', 'pep', None, None) in info['disco_info']['identities'], 'the account has no pubsub/pep identity: %s' % info['disco_info']['identities'])

    await desk['xep_0172'].publish_nick('Alice in Wonderland', timeout=10)
    kind, message = await next_of(events, 'the nickname event at the phone')
    check(kind == 'publish' and message['pubsub_event']['items']['node'] == NICK and message['from'] == a.alice[0], 'event: %s' % message)
    check('Alice in Wonderland' in str(message), 'the event does not carry the nickname: %s' % message)

    room = 'street@rooms.' + a.domain
    conference = ET.Element('{%s}conference' % BOOKMARKS, {'name': 'Street', 'autojoin': 'true'})
    ET.SubElement(conference, '{%s}nick' % BOOKMARKS).text = 'Alice'
    await desk['xep_0060'].publish(None, BOOKMARKS, id=room, payload=conference, options=private_options(a, desk), timeout=10)
    kind, message = await next_of(events, 'the bookmark event at the phone')
    check(kind == 'publish' and message['pubsub_event']['items']['node'] == BOOKMARKS, 'event: %s' % message)
    stored = await phone['xep_0060'].get_items(None, BOOKMARKS, timeout=10)
    ids = [item['id'] for item in stored['pubsub']['items']]
    check(ids == [room], 'bookmarks read back: %s' % ids)
    # The same node with another access model: a precondition that does not hold.
    try:
        await desk['xep_0060'].publish(None, BOOKMARKS, id='other@rooms.' + a.domain, payload=conference, options=private_options(a, desk, 'open'), timeout=10)
        raise Fail('a publish with a conflicting access model was accepted')
    except IqError as e:
        check(raw_condition(e.iq) == 'conflict' and e.iq.xml.find('.//{http://jabber.org/protocol/pubsub#errors}precondition-not-met') is not None,
              'a conflicting publish-option: %s' % e.iq)
    # BOB has no subscription to alice's presence: neither her bookmarks nor her nickname.
    for node in (BOOKMARKS, NICK):
        try:
            await bob['xep_0060'].get_items(a.alice[0], node, timeout=10)
            raise Fail('bob read alice\'s %s' % node)
        except IqError as e:
            check(raw_condition(e.iq) in ('not-authorized', 'forbidden'), 'bob reading %s: %s' % (node, raw_condition(e.iq)))
    await desk['xep_0060'].retract(None, BOOKMARKS, room, timeout=10)
    kind, message = await next_of(events, 'the retraction at the phone')
    check(kind == 'retract', 'after the retraction: %s' % kind)
    stored = await phone['xep_0060'].get_items(None, BOOKMARKS, timeout=10)
    check(len(stored['pubsub']['items']) == 0, 'bookmarks after the retraction: %s' % stored)
    for c in (desk, phone, bob):
        await c.logout()
    return 'everyday pep ok: nickname and bookmark published, pushed to the other resource, read back, guarded, retracted'


SCENARIOS = {'carbons': sc_carbons, 'blocking': sc_blocking, 'csi': sc_csi, 'pep': sc_pep}


def main():
    p = scenario_parser(__doc__, timeout=60)
    p.add_argument('scenario', choices=sorted(SCENARIOS))
    for role in ('owner', 'alice', 'bob'):
        p.add_argument('--' + role, nargs=2, metavar=('JID', 'PW'), required=True)
    p.add_argument('--carol', nargs=2, metavar=('JID', 'PW'), help='unused here; accepted so every script takes the same accounts')
    a = p.parse_args()
    run_scenario('everyday ' + a.scenario, SCENARIOS[a.scenario], a)


if __name__ == '__main__':
    main()
