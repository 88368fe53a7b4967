#!/usr/bin/python3
"""Multi-user chat (XEP-0045, issue 22) as slixmpp's own xep_0045 plugin sees it, against
`agora serve`'s rooms.<domain>.

usage: muc.py SCENARIO --port P --domain D --ca CA --owner JID PW --alice JID PW --bob JID PW
              --carol JID PW --expect FILE [--timeout 60]

Scenarios:
  groups   discovery lists the service; a consumer may not create a room; the owner creates
           a members-only room (status 201, configured through the muc#roomconfig form) and
           invites ALICE while she is offline; her invitation waits in offline storage and
           she enters after the owner's three messages, receiving exactly them as history
           (delay from the room) and the subject; a non-member (BOB) is refused
           (registration-required); a direct invitation (XEP-0249) waits for CAROL while she
           is offline, and her groupchat as a non-occupant is not-acceptable;
           nicknames that differ only by case or spaces collide; a `from` a client forges is
           replaced by its occupant JID; a 40 KiB message is refused (not-acceptable) and kept
           nowhere; a flood is cut (resource-constraint) while the room
           still carries the others' messages; a member sees the member list, not the
           outcasts; the owner kicks ALICE (307) and bans BOB (301), who can no longer enter.
           Then the owner and ALICE chat (45 messages), to be found in both archives.
  restart  after a restart of serve: the room, ALICE's membership, BOB's ban, the subject and
           the history (exactly the last 10 messages the room relayed, which groups wrote
           to --expect) are all still there; ALICE pages through her archive (XEP-0313,
           XEP-0059 pages of 10, forwards, and the newest page backwards) and finds exactly
           the chats, none with CAROL; the room's archive holds every message it relayed;
           the owner's archive is refused to ALICE, the room's to BOB (an outcast).
  settings against a serve with muc.max_rooms_per_account = 3, after groups: a hidden,
           password-protected room is not listed and needs its password; a nickname change
           is seen as 303 then the new occupant; a nickname taken in another case is a
           conflict; a room configured for two turns the third away; a fourth room of the
           owner's is refused (resource-constraint); a self-ping (XEP-0410) is answered only
           under one's own nickname; a chat state is relayed; a destroyed room's archive is
           gone when a room of that name is made again.

Prints "muc SCENARIO ok …" and exits 0, or a reason.
"""
import asyncio
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clients import Client, Fail, check, next_of, quiet, run_scenario, scenario_parser  # noqa: E402
from market import raw_condition  # noqa: E402
from slixmpp.exceptions import IqError, PresenceError  # noqa: E402

PLUGINS = ('xep_0030', 'xep_0004', 'xep_0045', 'xep_0203', 'xep_0059', 'xep_0313', 'xep_0249', 'xep_0199')
MUC_USER = 'http://jabber.org/protocol/muc#user'
CONFIG = 'http://jabber.org/protocol/muc#roomconfig'
ROOM_NAME = 'group'
OWNER_LINES = ['first of the owner', 'second of the owner', 'third of the owner']
CHATS = 45


def room_of(a):
    return '%s@rooms.%s' % (ROOM_NAME, a.domain)


def statuses(presence):
    x = presence.xml.find('{%s}x' % MUC_USER)
    return {int(s.get('code')) for s in (x.findall('{%s}status' % MUC_USER) if x is not None else [])}


async def login(a, who):
    jid, password = getattr(a, who)
    c = Client(a, jid, password, plugins=PLUGINS)
    c.groupchat = asyncio.Queue()
    c.invites = asyncio.Queue()
    c.presences = asyncio.Queue()
    c.errors = asyncio.Queue()
    c.add_event_handler('groupchat_message', lambda m: c.groupchat.put_nowait(m) if m['body'] else None)
    c.add_event_handler('groupchat_invite', lambda m: c.invites.put_nowait(m))
    c.direct_invites = asyncio.Queue()
    c.add_event_handler('groupchat_direct_invite', lambda m: c.direct_invites.put_nowait(m))
    c.add_event_handler('muc::%s::presence' % room_of(a), lambda p: c.presences.put_nowait(p))
    c.add_event_handler('message_error', lambda m: c.errors.put_nowait(m))
    await c.login()
    return c


async def refused_entry(c, a, nick, expected, room=None, **kw):
    room = room or room_of(a)
    try:
        await c['xep_0045'].join_muc_wait(room, nick, timeout=10, **kw)
    except PresenceError as e:
        got = raw_condition(e.presence)
        check(got == expected, 'entering %s as %s: %s, expected %s' % (room, nick, got, expected))
        return
    raise Fail('%s entered %s; expected %s' % (nick, room, expected))


async def sc_groups(a):
    room = room_of(a)
    room_log = []   # every body the room relayed, in its order, as the owner received them
    owner = await login(a, 'owner')
    items = await owner['xep_0030'].get_items(jid=a.domain, timeout=10)
    check(('rooms.' + a.domain) in {i[0] for i in items['disco_items']['items']}, 'the domain does not list rooms.%s' % a.domain)
    info = await owner['xep_0030'].get_info(jid='rooms.' + a.domain, timeout=10)
    check('http://jabber.org/protocol/muc' in info['disco_info']['features'], 'the service does not announce muc')

    bob = await login(a, 'bob')
    await refused_entry(bob, a, 'Bob', 'not-allowed')   # a consumer may not create rooms

    pres, _, _, _ = await owner['xep_0045'].join_muc_wait(room, 'Olga', timeout=10)
    check({110, 201} <= statuses(pres), 'the creator got statuses %s, expected 110 and 201' % statuses(pres))
    form = await owner['xep_0045'].get_room_config(room, timeout=10)
    check('muc#roomconfig_membersonly' in form.get_fields(), 'the configuration form has no membersonly field')
    submit = owner['xep_0004'].make_form(ftype='submit')
    submit.add_field(var='FORM_TYPE', value=CONFIG, ftype='hidden')
    submit.add_field(var='muc#roomconfig_roomname', value='Street sensors group')
    submit.add_field(var='muc#roomconfig_membersonly', value='1', ftype='boolean')
    submit.add_field(var='muc#roomconfig_historylength', value='10')
    await owner['xep_0045'].set_room_config(room, submit, timeout=10)
    info = await owner['xep_0030'].get_info(jid=room, timeout=10)
    features = set(info['disco_info']['features'])
    check({'muc_membersonly', 'muc_persistent', 'muc_semianonymous'} <= features, 'the room announces %s' % sorted(features))

    await refused_entry(bob, a, 'Bob', 'registration-required')

    # ALICE is offline: the invitation waits for her.
    owner['xep_0045'].invite(room, a.alice[0], reason='the street group')
    await asyncio.sleep(0.5)
    owner['xep_0045'].set_subject(room, 'Air quality on Main Street')
    for line in OWNER_LINES:
        owner.send_message(mto=room, mbody=line, mtype='groupchat')
    for line in OWNER_LINES:
        got = await next_of(owner.groupchat, 'the owner\'s own message reflected')
        check(got['body'] == line and got['from'].resource == 'Olga', 'reflected %s from %s' % (got['body'], got['from']))
        room_log.append(got['body'])

    alice = await login(a, 'alice')
    invite = await next_of(alice.invites, 'the invitation kept while alice was offline')
    check(invite['from'].bare == room, 'the invitation came from %s' % invite['from'])
    x = invite.xml.find('{%s}x' % MUC_USER)
    inv = x.find('{%s}invite' % MUC_USER) if x is not None else None
    check(inv is not None and inv.get('from', '').split('/')[0] == a.owner[0], 'the invitation does not name the owner as inviter')
    check(invite.xml.find('{urn:xmpp:delay}delay') is not None, 'the stored invitation carries no delay stamp')

    pres, subject, occupants, history = await alice['xep_0045'].join_muc_wait(room, 'Alice', maxstanzas=10, timeout=10)
    check(110 in statuses(pres), 'alice\'s self-presence lacks status 110')
    check(subject['subject'] == 'Air quality on Main Street', 'subject %r' % subject['subject'])
    check([m['body'] for m in history] == OWNER_LINES, 'history %s' % [m['body'] for m in history])
    check(all(m['from'] == room + '/Olga' for m in history), 'history senders %s' % [str(m['from']) for m in history])
    others = [p for p in occupants if p['from'].resource != 'Alice']   # slixmpp counts itself among them
    check([p['from'].resource for p in others] == ['Olga'], 'occupants seen on entering: %s' % [str(p['from']) for p in occupants])
    item = pres.xml.find('{%s}x/{%s}item' % (MUC_USER, MUC_USER))
    check(item is not None and item.get('affiliation') == 'member', 'the invitation did not make alice a member: %s' % (item.attrib if item is not None else None))
    # Semi-anonymous: alice sees no real JID behind Olga; the owner (a moderator) sees alice's.
    olga_item = others[0].xml.find('{%s}x/{%s}item' % (MUC_USER, MUC_USER))
    check(olga_item.get('jid') is None, 'a participant sees the owner\'s real JID %s' % olga_item.get('jid'))
    seen = await next_of(owner.presences, 'alice entering, seen by the owner')
    while seen['from'].resource != 'Alice':   # the owner's own presences came first
        seen = await next_of(owner.presences, 'alice entering, seen by the owner')
    seen_item = seen.xml.find('{%s}x/{%s}item' % (MUC_USER, MUC_USER))
    check(seen['from'] == room + '/Alice' and seen_item.get('jid', '').split('/')[0] == a.alice[0],
          'the owner saw %s with jid %s' % (seen['from'], seen_item.get('jid')))

    # Nicknames that differ by case or spaces collide, from another resource of alice too.
    alice2 = await login(a, 'alice')
    await refused_entry(alice2, a, ' olga', 'conflict')
    await refused_entry(alice2, a, 'ALICE', 'conflict')
    await alice2.logout()

    # A forged `from` is replaced by the sender's occupant JID.
    msg = alice.make_message(mto=room, mbody='from alice, claiming to be olga', mtype='groupchat')
    msg['from'] = a.owner[0] + '/forged'
    msg.send()
    got = await next_of(owner.groupchat, 'alice\'s message at the owner')
    check(got['from'] == room + '/Alice', 'a forged from reached the room as %s' % got['from'])
    room_log.append(got['body'])
    await next_of(alice.groupchat, 'alice\'s message reflected to her')

    # A direct invitation (XEP-0249) to CAROL, offline: kept, though it has no body.
    owner['xep_0249'].send_invitation(a.carol[0], room, reason='have a look')
    await asyncio.sleep(0.5)
    # CAROL is not in the room: her groupchat is refused.
    carol = await login(a, 'carol')
    direct = await next_of(carol.direct_invites, 'the direct invitation kept while carol was offline')
    check(direct['groupchat_invite']['jid'] == room and direct['from'].bare == a.owner[0], 'direct invitation: %s' % direct)
    carol.send_message(mto=room, mbody='let me in', mtype='groupchat')
    err = await next_of(carol.errors, 'the refusal of a non-occupant\'s groupchat')
    check(raw_condition(err) == 'not-acceptable', 'a non-occupant\'s groupchat: %s' % raw_condition(err))
    await quiet(owner.groupchat, 'the room after a non-occupant\'s message')

    # A history bomb: a 40 KiB message is not relayed (nor kept), the sender is told why.
    alice.send_message(mto=room, mbody='x' * 40960, mtype='groupchat')
    err = await next_of(alice.errors, 'the refusal of a 40 KiB groupchat message')
    check(raw_condition(err) == 'not-acceptable', 'a 40 KiB message: %s' % raw_condition(err))
    await quiet(owner.groupchat, 'the room after a 40 KiB message')

    # A member of a members-only room sees the members, not who is banned.
    listed = await alice['xep_0045'].get_affiliation_list(room, 'member', timeout=10)
    check([str(j) for j in listed] == [a.alice[0]], 'the member list a member sees: %s' % listed)
    try:
        await alice['xep_0045'].get_affiliation_list(room, 'outcast', timeout=10)
        raise Fail('a member read the outcast list')
    except IqError as e:
        check(raw_condition(e.iq) == 'forbidden', 'a member reading the outcast list: %s' % raw_condition(e.iq))

    # A flood from alice is cut; the owner still talks.
    for n in range(60):
        alice.send_message(mto=room, mbody='flood %d' % n, mtype='groupchat')
    flood_errors = flood_seen = 0
    deadline = asyncio.get_running_loop().time() + 15
    while flood_seen + flood_errors < 60 and asyncio.get_running_loop().time() < deadline:
        while not alice.errors.empty():
            if raw_condition(alice.errors.get_nowait()) == 'resource-constraint':
                flood_errors += 1
        while not owner.groupchat.empty():
            flood_seen += 1
            room_log.append(owner.groupchat.get_nowait()['body'])
        await asyncio.sleep(0.1)
    check(flood_errors > 0, 'a flood of 60 messages was not cut')
    check(flood_seen + flood_errors == 60, 'flood: %d relayed + %d refused != 60' % (flood_seen, flood_errors))
    owner.send_message(mto=room, mbody='still here', mtype='groupchat')
    got = await next_of(owner.groupchat, 'the owner\'s message after the flood')
    check(got['body'] == 'still here', 'after the flood: %s' % got['body'])
    room_log.append(got['body'])

    # BOB becomes a member, enters, and is banned.
    await owner['xep_0045'].set_affiliation(room, 'member', jid=a.bob[0], timeout=10)
    await bob['xep_0045'].join_muc_wait(room, 'Bob', maxstanzas=0, timeout=10)
    while not bob.presences.empty():
        bob.presences.get_nowait()
    await owner['xep_0045'].set_affiliation(room, 'outcast', jid=a.bob[0], reason='spam', timeout=10)
    gone = await next_of(bob.presences, 'bob\'s ban')
    while gone['type'] != 'unavailable' or gone['from'].resource != 'Bob':
        gone = await next_of(bob.presences, 'bob\'s ban')
    check(301 in statuses(gone), 'bob was removed with statuses %s, expected 301' % statuses(gone))
    outcasts = await owner['xep_0045'].get_affiliation_list(room, 'outcast', timeout=10)
    check([str(j) for j in outcasts] == [a.bob[0]], 'outcasts: %s' % outcasts)
    await refused_entry(bob, a, 'Bob', 'forbidden')

    # ALICE is kicked: out now, still a member.
    while not alice.presences.empty():
        alice.presences.get_nowait()
    await owner['xep_0045'].set_role(room, 'Alice', 'none', reason='a break', timeout=10)
    gone = await next_of(alice.presences, 'alice\'s kick')
    while gone['from'].resource != 'Alice':
        gone = await next_of(alice.presences, 'alice\'s kick')
    check(gone['type'] == 'unavailable' and 307 in statuses(gone), 'alice was kicked with %s %s' % (gone['type'], statuses(gone)))
    members = await owner['xep_0045'].get_affiliation_list(room, 'member', timeout=10)
    check([str(j) for j in members] == [a.alice[0]], 'members after the kick: %s' % members)

    # Chats between the owner and alice, archived for both (checked after the restart).
    for n in range(CHATS):
        sender, to = (owner, a.alice[0]) if n % 2 == 0 else (alice, a.owner[0])
        sender.send_message(mto=to, mbody='chat %d' % n, mtype='chat')
        await asyncio.sleep(0.01)
    await asyncio.sleep(1.0)
    Path(a.expect).write_text(json.dumps({'history': room_log[-10:], 'room': room_log}))

    for c in (owner, alice, bob, carol):
        await c.logout()
    return 'muc groups ok: created, configured, invited offline, history %d, flood %d relayed / %d refused, kick and ban' % (
        len(history), flood_seen, flood_errors)


async def sc_restart(a):
    room = room_of(a)
    alice = await login(a, 'alice')
    pres, subject, _, history = await alice['xep_0045'].join_muc_wait(room, 'Alice', maxstanzas=10, timeout=10)
    bodies = [m['body'] for m in history]
    expected = json.loads(Path(a.expect).read_text())
    check(bodies == expected['history'], 'history after the restart: %s, expected the last 10 relayed: %s' % (bodies, expected['history']))
    check(subject['subject'] == 'Air quality on Main Street', 'subject after the restart: %r' % subject['subject'])
    item = pres.xml.find('{%s}x/{%s}item' % (MUC_USER, MUC_USER))
    check(item.get('affiliation') == 'member', 'alice is %s after the restart' % item.get('affiliation'))
    bob = await login(a, 'bob')
    await refused_entry(bob, a, 'Bob', 'forbidden')
    info = await alice['xep_0030'].get_info(jid=room, timeout=10)
    check('muc_membersonly' in info['disco_info']['features'], 'the room lost its configuration')

    # XEP-0313: alice pages through her chats with the owner, 10 at a time, oldest first.
    chats = [m async for m in alice['xep_0313'].iterate(with_jid=a.owner[0], rsm={'max': 10})]
    bodies = [m['mam_result']['forwarded']['stanza']['body'] for m in chats]
    check(bodies == ['chat %d' % n for n in range(CHATS)], 'alice\'s archive with the owner: %s' % bodies)
    senders = {m['mam_result']['forwarded']['stanza']['from'].bare for m in chats}
    check(senders == {a.alice[0], a.owner[0]}, 'archived senders %s' % senders)
    # The newest page first, backwards.
    newest = [m async for m in alice['xep_0313'].iterate(with_jid=a.owner[0], reverse=True, rsm={'max': 10}, total=10)]
    check([m['mam_result']['forwarded']['stanza']['body'] for m in newest] == ['chat %d' % n for n in range(CHATS - 1, CHATS - 11, -1)],
          'the newest page backwards: %s' % [m['mam_result']['forwarded']['stanza']['body'] for m in newest])
    nobody = [m async for m in alice['xep_0313'].iterate(with_jid=a.carol[0], rsm={'max': 10})]
    check(nobody == [], 'alice never wrote to carol, yet the archive has %d' % len(nobody))
    # Someone else's archive is refused.
    try:
        await alice['xep_0313'].retrieve(jid=a.owner[0], timeout=10)
        raise Fail('alice read the owner\'s archive')
    except IqError as e:
        check(raw_condition(e.iq) in ('service-unavailable', 'forbidden'), 'reading another\'s archive: %s' % raw_condition(e.iq))
    # The room's archive keeps more than its history: everything it relayed.
    relayed = [m async for m in alice['xep_0313'].iterate(jid=room, rsm={'max': 25})]
    check([m['mam_result']['forwarded']['stanza']['body'] for m in relayed] == expected['room'],
          'the room archive: %d messages, expected %d' % (len(relayed), len(expected['room'])))
    check(all(m['mam_result']['forwarded']['stanza']['from'].bare == room for m in relayed), 'room archive senders are not occupant JIDs')
    try:
        await bob['xep_0313'].retrieve(jid=room, timeout=10)
        raise Fail('an outcast read the room\'s archive')
    except IqError as e:
        check(raw_condition(e.iq) == 'forbidden', 'an outcast reading the room archive: %s' % raw_condition(e.iq))
    for c in (alice, bob):
        await c.logout()
    return 'muc restart ok: room, membership, ban, subject and %d messages of history survived; archives of %d chats and %d room messages paged' % (
        len(history), len(chats), len(relayed))


def config_form(c, **fields):
    form = c['xep_0004'].make_form(ftype='submit')
    form.add_field(var='FORM_TYPE', value=CONFIG, ftype='hidden')
    for name, value in fields.items():
        form.add_field(var='muc#roomconfig_' + name, value=value)
    return form


async def sc_settings(a):
    """Run against a serve with muc.max_rooms_per_account = 3, after groups (one room, 'group')."""
    service = 'rooms.' + a.domain
    secret, small = 'secret@' + service, 'small@' + service
    owner = await login(a, 'owner')
    bob = await login(a, 'bob')
    carol = await login(a, 'carol')
    # A hidden, password-protected room: not listed, and entered only with the password.
    await owner['xep_0045'].join_muc_wait(secret, 'Olga', timeout=10)
    await owner['xep_0045'].set_room_config(secret, config_form(owner, publicroom='0', passwordprotectedroom='1', roomsecret='s3cret'), timeout=10)
    listed = {i[0] for i in (await owner['xep_0030'].get_items(jid=service, timeout=10))['disco_items']['items']}
    check(room_of(a) in listed and secret not in listed, 'the service lists %s' % sorted(listed))
    await refused_entry(bob, a, 'Bob', 'not-authorized', room=secret)
    await refused_entry(bob, a, 'Bob', 'not-authorized', room=secret, password='wrong')
    await bob['xep_0045'].join_muc_wait(secret, 'Bob', password='s3cret', maxstanzas=0, timeout=10)
    # A nickname change: everyone sees Bob leave (303, with the new nickname) and Robert arrive.
    seen = asyncio.Queue()
    owner.add_event_handler('muc::%s::presence' % secret, lambda p: seen.put_nowait(p) if p['from'].resource in ('Bob', 'Robert') else None)
    bob.send_presence(pto=secret + '/Robert')
    gone = await next_of(seen, 'bob leaving his old nickname')
    while gone['from'].resource != 'Bob' or gone['type'] != 'unavailable':
        gone = await next_of(seen, 'bob leaving his old nickname')
    item = gone.xml.find('{%s}x/{%s}item' % (MUC_USER, MUC_USER))
    check(303 in statuses(gone) and item.get('nick') == 'Robert', 'the nickname change: %s %s' % (statuses(gone), item.attrib))
    came = await next_of(seen, 'Robert arriving')
    check(came['from'].resource == 'Robert' and came['type'] != 'unavailable', 'after the change: %s' % came['from'])
    # Taking the owner's nickname in another case is a conflict; he stays Robert.
    errors = asyncio.Queue()
    bob.add_event_handler('muc::%s::presence-error' % secret, lambda p: errors.put_nowait(p))
    bob.send_presence(pto=secret + '/OLGA')
    err = await next_of(errors, 'the refusal of a taken nickname')
    check(err['error']['condition'] == 'conflict', 'taking OLGA: %s' % err['error']['condition'])
    # A room for two: the third is turned away.
    await owner['xep_0045'].join_muc_wait(small, 'Olga', timeout=10)
    await owner['xep_0045'].set_room_config(small, config_form(owner, maxusers='2'), timeout=10)
    await bob['xep_0045'].join_muc_wait(small, 'Bob', maxstanzas=0, timeout=10)
    await refused_entry(carol, a, 'Carol', 'service-unavailable', room=small)
    # Three rooms are the owner's share: a fourth is refused.
    await refused_entry(owner, a, 'Olga', 'resource-constraint', room='fourth@' + service)
    # XEP-0410 self-ping: answered while in under that nickname, not-acceptable otherwise.
    await bob['xep_0199'].send_ping(secret + '/Robert', timeout=10)
    try:
        await carol['xep_0199'].send_ping(secret + '/Robert', timeout=10)
        raise Fail('a self-ping for someone else\'s nickname was answered')
    except IqError as e:
        check(raw_condition(e.iq) == 'not-acceptable', 'a foreign self-ping: %s' % raw_condition(e.iq))
    # A chat state (no body) is relayed, not refused.
    state = bob.make_message(mto=small, mtype='groupchat')
    state.xml.append(state.xml.makeelement('{http://jabber.org/protocol/chatstates}active', {}))
    bob_errors = asyncio.Queue()
    bob.add_event_handler('message_error', lambda m: bob_errors.put_nowait(m))
    state.send()
    await quiet(bob_errors, 'a chat state in a room')
    # A destroyed room takes its archive along: the next room of that name starts empty.
    owner.send_message(mto=small, mbody='before the end', mtype='groupchat')
    await asyncio.sleep(0.5)
    before = [m async for m in owner['xep_0313'].iterate(jid=small, rsm={'max': 10})]
    check([m['mam_result']['forwarded']['stanza']['body'] for m in before] == ['before the end'], 'the archive before: %s' % len(before))
    await owner['xep_0045'].destroy(small, reason='done', timeout=10)
    await owner['xep_0045'].join_muc_wait(small, 'Olga', timeout=10)
    await owner['xep_0045'].set_room_config(small, config_form(owner), timeout=10)
    after = [m async for m in owner['xep_0313'].iterate(jid=small, rsm={'max': 10})]
    check(after == [], 'a new room of a destroyed one\'s name shows %d of its messages' % len(after))
    for c in (owner, bob, carol):
        await c.logout()
    return 'muc settings ok: hidden and password-protected, nickname change, a full room, the rooms quota, self-ping, a destroyed room\'s archive'


SCENARIOS = {'groups': sc_groups, 'restart': sc_restart, 'settings': sc_settings}


def main():
    p = scenario_parser(__doc__, timeout=60)
    p.add_argument('scenario', choices=sorted(SCENARIOS))
    p.add_argument('--expect', required=True, help='where groups writes the history restart must find')
    for role in ('owner', 'alice', 'bob', 'carol'):
        p.add_argument('--' + role, nargs=2, metavar=('JID', 'PW'), required=True)
    run_scenario('muc ' + p.parse_args().scenario, SCENARIOS[p.parse_args().scenario], p.parse_args())


if __name__ == '__main__':
    main()
