#!/usr/bin/python3
"""Readings over XMPP (urn:agora:readings:1, and XEP-0323 through slixmpp's xep_0323 client)
as slixmpp clients see them: access by purchase,
XEP-0059 pages, and every reading's proof checked here against its readings.commit receipt
with the independent verifier (Tests/Interop/verify_receipt.py) and the log key.

usage: readings.py --port P --domain D --ca CA --log-key VKEY --sensor S --start EPOCH --count N
                   --buyer JID PW --outsider JID PW --owner JID PW

Expects: sensor S (owned by OWNER, 1 credit/hour) holds N readings at START + i seconds with
value i/4 (i < N, N ≤ 3600); BUYER has credits and no purchase of S; OUTSIDER has no purchase.
"""
import asyncio
import base64
import calendar
import hashlib
import json
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from clients import Client, Fail, check, run_scenario, scenario_parser  # noqa: E402
from market import ask, refused, rfc3339, RSM  # noqa: E402
import verify_receipt as vr  # noqa: E402

READINGS = 'urn:agora:readings:1'
MARKET = 'urn:agora:market:1'
LEDGER = 'urn:agora:ledger:1'


def seconds(t):
    """'2026-11-22T07:00:01.000000000Z' -> epoch seconds (whole seconds only here)."""
    return calendar.timegm(time.strptime(t.split('.')[0].rstrip('Z'), '%Y-%m-%dT%H:%M:%S'))


async def read_all(client, sensor, start, end, page, proofs):
    """Every reading of [start, end) page by page; returns (readings, receipts by index, pages)."""
    readings, receipts, pages, after = [], {}, 0, None
    while True:
        s = ET.Element('{%s}set' % RSM)
        ET.SubElement(s, '{%s}max' % RSM).text = str(page)
        if after:
            ET.SubElement(s, '{%s}after' % RSM).text = after
        attrs = {'sensor': sensor, 'from': rfc3339(start), 'to': rfc3339(end)}
        if proofs:
            attrs['proofs'] = 'true'
        reply = await ask(client, 'get', READINGS, 'readings', attrs, [s])
        pages += 1
        items = reply.findall('{%s}r' % READINGS)
        check(len(items) <= page, 'page of %d items, asked for at most %d' % (len(items), page))
        check(items or reply.get('more') != 'true', 'an empty page that says more')
        readings += items
        for r in reply.findall('{%s}receipt' % LEDGER):
            receipts[int(r.get('index'))] = json.loads(r.text)
        if reply.get('more') != 'true':
            return readings, receipts, pages
        after = reply.find('{%s}set' % RSM).find('{%s}last' % RSM).text


def verify_all(readings, receipts, key):
    """Each reading: its record hashes up its batch path to the commit root in a verified receipt,
    and a record of a version-2 commit carries its salt."""
    roots = {}
    for index, receipt in receipts.items():
        entry = json.loads(vr.verify_receipt(receipt, *key))    # exits non-zero if it does not verify
        check(entry['type'] == 'readings.commit' and receipt['index'] == index, 'receipt %d is not a readings.commit' % index)
        roots[index] = (base64.b64decode(entry['root']), entry['count'], entry['v'])
    for r in readings:
        commit = int(r.get('commit'))
        check(commit in roots, 'reading at %s: no receipt for its commit %d in the page' % (r.get('t'), commit))
        root, count, version = roots[commit]
        record = base64.b64decode(r.get('record'))
        if version >= 2:   # readings sealed by a version-2 commit are salted; the salt is shown to the buyer
            vr.check_salt(json.loads(record), 'the reading at %s' % r.get('t'))
        check(int(r.get('size')) == count, 'batch size differs from the commit count')
        leaf = hashlib.sha256(b'\x00' + record).digest()
        path = [base64.b64decode(h.text) for h in r.findall('{%s}hash' % READINGS)]
        check(vr.root_from_inclusion(leaf, int(r.get('leaf')), count, path) == root, 'reading at %s is not in its batch' % r.get('t'))
        fields = json.loads(record)
        check(float(fields['v']) == float(r.get('v')) and fields['t'] // 10 ** 9 == seconds(r.get('t')),
              'the record %s does not say what the attributes say (%s)' % (record, r.attrib))


async def readout(client, sensor, flags, fields=None):
    """A XEP-0323 read-out through slixmpp's own xep_0323 client: (outcome, fields, error)."""
    done = asyncio.get_running_loop().create_future()
    got = {'accepted': False, 'fields': [], 'error': None}

    def callback(from_jid, result, nodeId=None, timestamp=None, fields=None, error_msg=None):
        if result == 'accepted':
            got['accepted'] = True
        elif result == 'fields':
            got['fields'] += [(seconds(timestamp), f) for f in fields]
        elif not done.done() and result in ('done', 'rejected', 'failure'):
            got['error'] = error_msg
            done.set_result(result)

    client['xep_0323'].request_data(client.boundjid.full, client.args.domain, callback, nodeIds=[sensor], fields=fields, flags=flags)
    outcome = await asyncio.wait_for(done, 15)
    return outcome, got


async def sensordata(buyer, outsider, owner, a, start, half, end):
    """XEP-0323: momentary and historical read-outs, accepted then fields messages, or rejected."""
    outcome, got = await readout(owner, a.sensor, {'momentary': 'true'})
    check(outcome == 'done' and got['accepted'], 'owner momentary: %s %s' % (outcome, got['error']))
    check([(t, f['name'], float(f['value'])) for t, f in got['fields']] == [(end - 1, 'pm25', (end - 1 - start) / 4)],
          'owner momentary read-out: %s' % got['fields'][:3])
    check(got['fields'][0][1].get('flags', {}).get('momentary') == 'true', 'momentary flag missing')
    # The newest reading lies outside what the buyer bought: accepted, but nothing in it.
    outcome, got = await readout(buyer, a.sensor, {'momentary': 'true'})
    check(outcome == 'done' and got['fields'] == [], 'buyer momentary outside its window: %s' % got['fields'][:3])
    outcome, got = await readout(buyer, a.sensor, {'historical': 'true', 'from': rfc3339(start + 10), 'to': rfc3339(start + 260)}, fields=['pm25'])
    check(outcome == 'done', 'buyer historical: %s %s' % (outcome, got['error']))
    check([(t, float(f['value'])) for t, f in got['fields']] == [(start + i, i / 4) for i in range(10, 260)],
          'historical read-out: %d fields, first %s' % (len(got['fields']), got['fields'][:2]))
    outcome, got = await readout(buyer, a.sensor, {'historical': 'true', 'from': rfc3339(half), 'to': rfc3339(end)})
    check(outcome == 'rejected' and got['error'], 'buyer historical outside its purchase: %s' % outcome)
    outcome, got = await readout(outsider, a.sensor, {'historical': 'true', 'from': rfc3339(start), 'to': rfc3339(start + 10)})
    check(outcome == 'rejected', 'outsider historical: %s' % outcome)
    return len(got['fields'])


async def limits(owner, a, start, end):
    """Per-session and per-reply limits: requests beyond 16 in progress are refused with
    resource-constraint (the others are answered); pages of large readings end early with
    more='true' instead of outgrowing the connection's buffer, and paging still gets them all."""
    attrs = {'sensor': a.sensor, 'from': rfc3339(start), 'to': rfc3339(end), 'proofs': 'true'}
    page = ET.Element('{%s}set' % RSM)
    ET.SubElement(page, '{%s}max' % RSM).text = '1000'

    async def one():
        try:
            # Sixteen proof pages of 1 000 readings, parsed by Python: patience on a loaded
            # machine (the bound is what is checked here, not the speed).
            await ask(owner, 'get', READINGS, 'readings', attrs, [page], timeout=60)
            return 'ok'
        except Exception as e:
            return getattr(e, 'iq', None) is not None and (e.iq['error']['condition'] or 'resource-constraint') or repr(e)
    outcomes = await asyncio.gather(*[one() for _ in range(48)])
    check(set(outcomes) <= {'ok', 'resource-constraint'}, 'burst outcomes: %s' % set(outcomes))
    check(outcomes.count('resource-constraint') >= 1 and outcomes.count('ok') >= 16, 'burst of 48: %d answered, %d refused' % (
        outcomes.count('ok'), outcomes.count('resource-constraint')))
    await ask(owner, 'get', READINGS, 'readings', attrs, [page])   # and it answers again

    if a.big_sensor:
        got, _, pages = await read_all(owner, a.big_sensor, start, end, 1000, True)
        check(len(got) == a.big_count and pages > 1, 'large readings: %d of %d in %d pages' % (len(got), a.big_count, pages))
        check(all(len(r.get('vs', '')) == 1000 for r in got), 'large values came back altered')


async def scenario(a):
    key = vr.parse_vkey(a.log_key)
    start, half, end = a.start, a.start + a.count // 2, a.start + a.count
    buyer = await Client(a, a.buyer[0], a.buyer[1], plugins=('xep_0323',)).login()
    outsider = await Client(a, a.outsider[0], a.outsider[1], plugins=('xep_0323',)).login()
    owner = await Client(a, a.owner[0], a.owner[1], plugins=('xep_0323',)).login()
    window = {'sensor': a.sensor, 'from': rfc3339(start), 'to': rfc3339(half)}

    await refused(buyer, 'forbidden', 'get', READINGS, 'readings', window, why='before buying')
    await ask(buyer, 'set', MARKET, 'purchase', dict(window, request='readings-1', **{'max-credits': 1}))  # 1 credit per hour

    # The bought half, with proofs, in pages of 500: every reading exact and proven.
    got, receipts, pages = await read_all(buyer, a.sensor, start, half, 500, True)
    check(len(got) == half - start, 'bought window: %d readings, expected %d' % (len(got), half - start))
    check([seconds(r.get('t')) for r in got] == list(range(start, half)), 'times are not exactly START + i')
    check([float(r.get('v')) for r in got] == [i / 4 for i in range(half - start)], 'values are not exactly i/4')
    verify_all(got, receipts, key)

    # Outside what was bought: refused, with a reason.
    await refused(buyer, 'forbidden', 'get', READINGS, 'readings', dict(window, to=rfc3339(end)), why='window larger than bought')
    await refused(buyer, 'forbidden', 'get', READINGS, 'readings', dict(window, **{'from': rfc3339(half), 'to': rfc3339(end)}), why='the other half')
    await refused(outsider, 'forbidden', 'get', READINGS, 'readings', window, why='no purchase')
    # Bad requests.
    big = ET.Element('{%s}set' % RSM)
    ET.SubElement(big, '{%s}max' % RSM).text = str(10 ** 6)
    await refused(buyer, 'policy-violation', 'get', READINGS, 'readings', window, [big], why='page of 10^6')
    await refused(buyer, 'bad-request', 'get', READINGS, 'readings', dict(window, **{'from': rfc3339(half), 'to': rfc3339(start)}), why='from after to')
    await refused(buyer, 'item-not-found', 'get', READINGS, 'readings', dict(window, sensor='no-such-sensor'), why='unknown sensor')
    # Past 2262 nanoseconds overflow 64 bits: refused, and the server keeps answering.
    await refused(buyer, 'bad-request', 'get', READINGS, 'readings', dict(window, to='2300-01-01T00:00:00Z'), why='year 2300')

    # The owner reads everything without buying; without proofs, in pages of 1000.
    everything, receipts, owner_pages = await read_all(owner, a.sensor, start, end, 1000, False)
    check(len(everything) == a.count and not receipts, 'owner: %d readings, %d receipts' % (len(everything), len(receipts)))
    check(all(r.get('record') is None for r in everything), 'readings without proofs carry records')

    await sensordata(buyer, outsider, owner, a, start, half, end)
    await limits(owner, a, start, end)

    for c in (buyer, outsider, owner):
        await c.logout()
    return 'readings ok: %d proven readings in %d pages over %d commits; owner read %d in %d pages' % (
        len(got), pages, len(receipts) or len({r.get('commit') for r in got}), len(everything), owner_pages)


def main():
    p = scenario_parser(__doc__, timeout=90)
    p.add_argument('--log-key', required=True)
    p.add_argument('--sensor', required=True)
    p.add_argument('--start', type=int, required=True)
    p.add_argument('--count', type=int, required=True)
    p.add_argument('--big-sensor', help='a sensor with BIG_COUNT readings of 1000-character strings, owned by OWNER')
    p.add_argument('--big-count', type=int, default=0)
    for role in ('buyer', 'outsider', 'owner'):
        p.add_argument('--' + role, nargs=2, required=True)
    run_scenario('readings', scenario, p.parse_args())


if __name__ == '__main__':
    main()
