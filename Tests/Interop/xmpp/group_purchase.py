#!/usr/bin/python3
"""The thesis's publish-invite-join workflow on Agora's market (issue 22): an owner gathers
buyers in a members-only room and proposes a group purchase of its sensor's data; each
member pays its share over urn:agora:market:1; the last share completes it and every
member reads the window like any buyer. A second group misses its deadline and everyone
is refunded. Every step's receipt verifies offline (Tests/Interop/verify_receipt.py).

usage: group_purchase.py --port P --domain D --ca CA --log-key VKEY --sensor S
                         --owner JID PW --alice JID PW --bob JID PW --carol JID PW --dave JID PW

Expects: OWNER owns S at 3 credits per hour; ALICE, BOB, CAROL hold 100 credits each, DAVE
any; nobody holds a purchase. Prints "group purchase ok …" and exits 0, or a reason.
"""
import asyncio
import json
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from clients import Client, Fail, check, run_scenario, scenario_parser  # noqa: E402
from market import MARKET, LEDGER, ask, refused, rfc3339  # noqa: E402
import verify_receipt as vr  # noqa: E402

READINGS = 'urn:agora:readings:1'
RSM = 'http://jabber.org/protocol/rsm'
PLUGINS = ('xep_0030', 'xep_0004', 'xep_0045', 'xep_0203')


async def login(a, who):
    c = Client(a, getattr(a, who)[0], getattr(a, who)[1], plugins=PLUGINS)
    c.groupchat = asyncio.Queue()
    c.add_event_handler('groupchat_message', lambda m: c.groupchat.put_nowait(m) if m['body'] else None)
    return await c.login()


def receipts(element, key):
    """Every receipt in a reply, verified; their entries."""
    return [json.loads(vr.verify_receipt(json.loads(r.text), *key)) for r in element.findall('{%s}receipt' % LEDGER)]


async def balance(c):
    return int((await ask(c, 'get', MARKET, 'balance')).get('credits'))


async def may_read(c, a, start, end):
    s = ET.Element('{%s}set' % RSM)
    ET.SubElement(s, '{%s}max' % RSM).text = '10'
    try:
        await ask(c, 'get', READINGS, 'readings', {'sensor': a.sensor, 'from': rfc3339(start), 'to': rfc3339(end)}, [s])
        return True
    except Exception as e:   # IqError: forbidden
        if 'forbidden' in str(e) or 'not-authorized' in str(e):
            return False
        raise


async def scenario(a):
    key = vr.parse_vkey(a.log_key)
    room = 'buyers@rooms.' + a.domain
    owner, alice, bob, carol, dave = [await login(a, who) for who in ('owner', 'alice', 'bob', 'carol', 'dave')]
    members = {'alice': alice, 'bob': bob, 'carol': carol}
    before = {name: await balance(c) for name, c in members.items()}
    owner_before = await balance(owner)

    # Publish: a members-only room; invite: the buyers; join: they enter.
    await owner['xep_0045'].join_muc_wait(room, 'Olga', timeout=10)
    form = owner['xep_0004'].make_form(ftype='submit')
    form.add_field(var='FORM_TYPE', value='http://jabber.org/protocol/muc#roomconfig', ftype='hidden')
    form.add_field(var='muc#roomconfig_membersonly', value='1', ftype='boolean')
    await owner['xep_0045'].set_room_config(room, form, timeout=10)
    for name in members:
        owner['xep_0045'].invite(room, getattr(a, name)[0], reason='a joint purchase of street data')
    await asyncio.sleep(0.5)
    for name, c in members.items():
        await c['xep_0045'].join_muc_wait(room, name.capitalize(), maxstanzas=0, timeout=10)

    # The proposal: three hours at 3 credits, 3 credits each, to be paid within a minute.
    end = (int(time.time()) // 3600) * 3600
    start = end - 3 * 3600
    terms = {'sensor': a.sensor, 'from': rfc3339(start), 'to': rfc3339(end), 'deadline': rfc3339(int(time.time()) + 60),
             'room': room, 'request': 'street-group-1'}
    opened = await ask(owner, 'set', MARKET, 'group-open', terms, [ET.Element('{%s}member' % MARKET, {'jid': getattr(a, n)[0]}) for n in members],
                       reply='group')
    group = opened.get('id')
    entries = receipts(opened, key)
    check(len(entries) == 1 and entries[0]['type'] == 'group.open' and entries[0]['id'] == group, 'group.open receipt: %s' % entries)
    check(opened.get('credits') == '9' and [m.get('share') for m in opened.findall('{%s}member' % MARKET)] == ['3', '3', '3'],
          'the group\'s terms: %s' % ET.tostring(opened))
    owner.send_message(mto=room, mbody='group purchase %s: 3 credits each' % group, mtype='groupchat')
    for name, c in members.items():
        got = await asyncio.wait_for(c.groupchat.get(), 10)
        check(group in got['body'], '%s read %s' % (name, got['body']))

    # Before every share is paid, nobody reads.
    check(not await may_read(alice, a, start, end), 'alice reads before the group is complete')
    # Outsiders cannot pay in, nor see the group.
    await refused(dave, 'forbidden', 'set', MARKET, 'group-pay', {'id': group}, why='a non-member paying in')
    await refused(dave, 'forbidden', 'get', MARKET, 'group', {'id': group}, why='a non-member looking at the group')

    completed = None
    for name, c in members.items():
        paid = await ask(c, 'set', MARKET, 'group-pay', {'id': group}, reply='group')
        kinds = [e['type'] for e in receipts(paid, key)]
        check(kinds[0] == 'group.pay', '%s\'s receipt: %s' % (name, kinds))
        if len(kinds) == 2:
            check(kinds[1] == 'group.complete' and name == 'carol', 'completed by %s: %s' % (name, kinds))
            completed = paid
    check(completed is not None and completed.get('state') == 'complete', 'the last share did not complete the purchase')
    for name, c in members.items():
        check(await may_read(c, a, start, end), '%s paid and cannot read the window' % name)
        check(await balance(c) == before[name] - 3, '%s\'s balance after paying' % name)
    check(not await may_read(dave, a, start, end), 'dave reads what he did not pay for')
    check(await balance(owner) == owner_before + 9, 'the owner was not paid 9 credits')

    # A second group: bob does not pay before the deadline; alice's share comes back.
    terms2 = dict(terms, **{'from': rfc3339(start - 3 * 3600), 'to': rfc3339(start), 'deadline': rfc3339(int(time.time()) + 4), 'request': 'street-group-2'})
    opened2 = await ask(owner, 'set', MARKET, 'group-open', terms2,
                        [ET.Element('{%s}member' % MARKET, {'jid': getattr(a, n)[0]}) for n in ('alice', 'bob')], reply='group')
    group2 = opened2.get('id')
    await ask(alice, 'set', MARKET, 'group-pay', {'id': group2}, reply='group')
    check(await balance(alice) == before['alice'] - 3 - 5, 'alice paid her 5 of 9')   # 9 split in two: 5 and 4
    deadline = time.monotonic() + 20
    state = None
    while time.monotonic() < deadline:
        state = (await ask(alice, 'get', MARKET, 'group', {'id': group2})).get('state')
        if state == 'refunded':
            break
        await asyncio.sleep(0.5)
    check(state == 'refunded', 'the second group is %s after its deadline' % state)
    await refused(bob, 'forbidden', 'set', MARKET, 'group-pay', {'id': group2}, why='paying after the refund')
    check(await balance(alice) == before['alice'] - 3, 'alice\'s share was not refunded')
    check(not await may_read(alice, a, start - 3 * 3600, start), 'alice reads the window of a refunded group')

    for c in (owner, alice, bob, carol, dave):
        await c.logout()
    return 'group purchase ok: 3 shares paid, completed with receipts, all read; a missed deadline refunded'


def main():
    p = scenario_parser(__doc__, timeout=90)
    p.add_argument('--log-key', required=True)
    p.add_argument('--sensor', required=True)
    for role in ('owner', 'alice', 'bob', 'carol', 'dave'):
        p.add_argument('--' + role, nargs=2, metavar=('JID', 'PW'), required=True)
    run_scenario('group purchase', scenario, p.parse_args())


if __name__ == '__main__':
    main()
