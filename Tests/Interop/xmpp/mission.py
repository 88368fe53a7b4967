#!/usr/bin/python3
"""The whole mission, end to end, with independent peers: slixmpp clients over XMPP, a sensor
played by OpenSSL (key, CSR) and mosquitto_rr (pairing) and mosquitto_pub (readings) through a
real Mosquitto, and the independent receipt verifier.

  1. the operator (XEP-0050 commands) opens an owner and a consumer, invites a sensor and
     mints credits;
  2. the sensor pairs over MQTT with the one-time code and publishes an hour of readings;
  3. the consumer finds it (XEP-0347), is refused its readings, buys the hour, reads it
     through XEP-0323 and through readings:1 pages, and verifies every proof and receipt;
  4. the owner raises the price; a second purchase pays the new price; a window outside
     what was bought is refused;
  5. the consumer gets a certificate by CSR over IQ and logs in again with SASL EXTERNAL.
Prints the final balances as "mission ok consumer=N owner=M".

usage: mission.py --port P --domain D --ca CA --log-key VKEY --operator JID PW
                  --mqtt-port P --pair-port P --work DIR
"""
import asyncio
import base64
import hashlib
import hmac
import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from clients import Client, Fail, check, run_scenario, scenario_parser  # noqa: E402
from market import ask, refused, rfc3339, pki, LEDGER, MARKET, DISCOVERY  # noqa: E402
from readings import READINGS, read_all, readout, verify_all  # noqa: E402
from adhoc import run, result_fields  # noqa: E402
import verify_receipt as vr  # noqa: E402

SENSOR = 'air-7'


def sh(*args, stdin=None):
    result = subprocess.run(args, capture_output=True, text=True, input=stdin, timeout=60)
    check(result.returncode == 0, '%s failed: %s' % (args[0], result.stderr.strip()[-300:]))
    return result.stdout


def pair(a, code):
    """The sensor's side of pairing: a key and CSR from OpenSSL, the HMAC proof, and the
    request/response over the bootstrap listener with mosquitto_rr."""
    key, csr = os.path.join(a.work, 'sensor.key'), os.path.join(a.work, 'sensor.csr')
    sh('openssl', 'req', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
       '-keyout', key, '-out', csr, '-subj', '/CN=' + SENSOR)
    pem = open(csr).read()
    der = ssl.PEM_cert_to_DER_cert(pem.replace('CERTIFICATE REQUEST', 'CERTIFICATE'))
    proof_key = hashlib.sha256(('agora-pair:' + code).encode()).digest()
    request = json.dumps({'csr': pem, 'proof': base64.b64encode(hmac.new(proof_key, der, hashlib.sha256).digest()).decode()})
    # mosquitto_rr publishes the request only once the broker has acknowledged its
    # subscription to the response topic, then prints the response. The broker takes only
    # client ids that begin with 'client:'. (Its -W may never fire: the test runner's children
    # inherit blocked signals; the subprocess timeout bounds the wait.)
    try:
        result = subprocess.run(['mosquitto_rr', '-h', '127.0.0.1', '-p', str(a.pair_port), '--cafile', a.ca, '-q', '1',
                                 '-i', 'client:mission-sensor', '-t', 'agora/pair/%s/request' % SENSOR,
                                 '-e', 'agora/pair/%s/response' % SENSOR, '-m', request, '-W', '20'],
                                capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise Fail('pairing: no response within 30 s')
    response = json.loads(result.stdout or '{}')
    check(response.get('status') == 'ok', 'pairing: %s %s' % (response, result.stderr.strip()))
    cert = os.path.join(a.work, 'sensor.pem')
    open(cert, 'w').write(response['cert'])
    return cert, key


def publish_hour(a, cert, key, start):
    """An hour of readings, one every 10 s, value i/8, as SenML packs of 60 records (QoS 1)."""
    lines = []
    for pack in range(6):
        records = [{'n': 'pm25', 'u': 'ug/m3', 't': start + 10 * i, 'v': i / 8} for i in range(pack * 60, (pack + 1) * 60)]
        lines.append(json.dumps(records, separators=(',', ':')))
    sh('mosquitto_pub', '-I', 'client:', '-h', '127.0.0.1', '-p', str(a.mqtt_port), '--cafile', a.ca, '--cert', cert, '--key', key, '-q', '1',
       '-t', 'agora/sensors/%s/senml' % SENSOR, '-l', stdin='\n'.join(lines) + '\n')


async def scenario(a):
    key = vr.parse_vkey(a.log_key)
    owner, consumer = ('olga@' + a.domain, 'olga-secret-1234'), ('carl@' + a.domain, 'carl-secret-5678')
    op = await Client(a, a.operator[0], a.operator[1]).login()

    # 1. The operator sets the gateway up with ad-hoc commands.
    await run(op, 'add-user', {'jid': owner[0], 'role': 'owner', 'password': owner[1]})
    await run(op, 'add-user', {'jid': consumer[0], 'role': 'consumer', 'password': consumer[1]})
    invitation = result_fields(await run(op, 'invite-sensor', {'sensor': SENSOR, 'owner': owner[0], 'kind': 'pm25', 'price': 2,
                                                               'unit': 'ug/m3', 'name': 'Main Street air', 'ttl': '1h'}))
    await run(op, 'mint', {'jid': consumer[0], 'amount': 100, 'memo': 'mission'})

    # 2. The sensor pairs over MQTT and publishes an hour of readings.
    cert, sensor_key = pair(a, invitation['One-time code'])
    start = (int(time.time()) // 3600 - 3) * 3600
    publish_hour(a, cert, sensor_key, start)
    olga = await Client(a, owner[0], owner[1], plugins=('xep_0323',)).login()
    for _ in range(100):
        stored, _, _ = await read_all(olga, SENSOR, start, start + 3600, 1000, False)
        if len(stored) == 360:
            break
        await asyncio.sleep(0.2)
    check(len(stored) == 360, 'the owner sees %d of 360 published readings' % len(stored))

    # 3. The consumer finds the sensor, is refused, buys the hour, reads and verifies it.
    carl = await Client(a, consumer[0], consumer[1], plugins=('xep_0323',)).login()
    found = await ask(carl, 'get', DISCOVERY, 'search', {'offset': 0, 'maxCount': 10},
                      [_filter('strEq', name='CLASS', value='pm25')], reply='found')
    check([t.get('nodeId') for t in found] == [SENSOR], 'discovery: %s' % [t.get('nodeId') for t in found])
    hour = {'sensor': SENSOR, 'from': rfc3339(start), 'to': rfc3339(start + 3600)}
    await refused(carl, 'forbidden', 'get', READINGS, 'readings', hour, why='before buying')
    bought = await ask(carl, 'set', MARKET, 'purchase', dict(hour, request='mission-1', **{'max-credits': 2}))
    check(bought.get('credits') == '2', 'first purchase cost %s, expected 2' % bought.get('credits'))
    entry = json.loads(vr.verify_receipt(json.loads(bought.find('{%s}receipt' % LEDGER).text), *key))
    check(entry['type'] == 'purchase' and entry['buyer'] == consumer[0], 'purchase receipt: %s' % entry)
    pages, receipts, count = await read_all(carl, SENSOR, start, start + 3600, 100, True)
    check(len(pages) == 360 and [float(r.get('v')) for r in pages] == [i / 8 for i in range(360)], 'readings:1 pages')
    verify_all(pages, receipts, key)
    outcome, got = await readout(carl, SENSOR, {'historical': 'true', 'from': rfc3339(start), 'to': rfc3339(start + 3600)})
    check(outcome == 'done' and len(got['fields']) == 360, 'XEP-0323 read-out: %s, %d fields' % (outcome, len(got['fields'])))

    # 4. A new price for the next purchase; outside the bought windows stays refused.
    await ask(olga, 'set', MARKET, 'price', {'sensor': SENSOR, 'credits': 5})
    second = await ask(carl, 'set', MARKET, 'purchase', {'sensor': SENSOR, 'from': rfc3339(start + 3600), 'to': rfc3339(start + 7200),
                                                         'request': 'mission-2', 'max-credits': 5})
    check(second.get('credits') == '5', 'second purchase cost %s, expected the new price 5' % second.get('credits'))
    await refused(carl, 'forbidden', 'get', READINGS, 'readings', {'sensor': SENSOR, 'from': rfc3339(start - 3600), 'to': rfc3339(start)},
                  why='the hour before the purchase')
    outcome, _ = await readout(carl, SENSOR, {'historical': 'true', 'from': rfc3339(start - 600), 'to': rfc3339(start + 600)})
    check(outcome == 'rejected', 'XEP-0323 across the window edge: %s' % outcome)

    # 5. A certificate by CSR over IQ, then SASL EXTERNAL (pki() does both).
    _, balance = await pki(carl, a, consumer[0], owner[0])
    check(balance == '93', 'consumer balance after 2 + 5 credits: %s' % balance)
    owner_balance = (await ask(olga, 'get', MARKET, 'balance')).get('credits')
    check(owner_balance == '7', 'owner earned %s, expected 7' % owner_balance)

    for c in (op, olga, carl):
        await c.logout()
    # The one-time code goes to the test too, which checks it reached no log line.
    return 'mission ok consumer=%s owner=%s readings=%d commits=%d code=%s' % (
        balance, owner_balance, len(pages), len(receipts), invitation['One-time code'])


def _filter(kind, **attrs):
    import xml.etree.ElementTree as ET
    return ET.Element('{%s}%s' % (DISCOVERY, kind), attrs)


def main():
    p = scenario_parser(__doc__, timeout=120)
    p.add_argument('--log-key', required=True)
    p.add_argument('--operator', nargs=2, required=True)
    p.add_argument('--mqtt-port', type=int, required=True)
    p.add_argument('--pair-port', type=int, required=True)
    p.add_argument('--work', required=True)
    run_scenario('mission', scenario, p.parse_args())


if __name__ == '__main__':
    main()
