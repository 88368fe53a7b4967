#!/usr/bin/python3
"""Operator ad-hoc commands (XEP-0050 with XEP-0004 forms) as a client sees them.

usage: adhoc.py --port P --domain D --ca CA --operator JID PW --user JID PW --sensor S

Expects: OPERATOR is an operator account, USER a consumer; sensor S exists, unfrozen, owned
by OPERATOR. Creates dave@DOMAIN (owner) through the commands and logs in as dave.
"""
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clients import Client, Fail, check, run_scenario, scenario_parser  # noqa: E402
from market import ask, refused  # noqa: E402

COMMANDS = 'http://jabber.org/protocol/commands'
XDATA = 'jabber:x:data'
ITEMS = 'http://jabber.org/protocol/disco#items'
INFO = 'http://jabber.org/protocol/disco#info'
MARKET = 'urn:agora:market:1'
DISCOVERY = 'urn:xmpp:iot:discovery'


def form(values):
    x = ET.Element('{%s}x' % XDATA, {'type': 'submit'})
    for name, value in values.items():
        field = ET.SubElement(x, '{%s}field' % XDATA, {'var': name})
        ET.SubElement(field, '{%s}value' % XDATA).text = str(value)
    return x


async def run(client, node, values=None):
    """execute, then complete with `values`: the final <command/> element."""
    first = await ask(client, 'set', COMMANDS, 'command', {'node': node, 'action': 'execute'})
    if first.get('status') == 'completed':
        return first
    check(first.get('status') == 'executing' and first.find('{%s}x' % XDATA) is not None, '%s: no form to fill in' % node)
    fields = {f.get('var') for f in first.find('{%s}x' % XDATA).findall('{%s}field' % XDATA)}
    check(set(values) <= fields, '%s: the form has no field(s) %s' % (node, set(values) - fields))
    done = await ask(client, 'set', COMMANDS, 'command', {'node': node, 'action': 'complete', 'sessionid': first.get('sessionid')},
                     [form(values)])
    check(done.get('status') == 'completed', '%s: status %s' % (node, done.get('status')))
    return done


def result_fields(command):
    x = command.find('{%s}x' % XDATA)
    return {f.get('label'): f.findtext('{%s}value' % XDATA) for f in (x.findall('{%s}field' % XDATA) if x is not None else [])}


async def items(client, a):
    iq = client.Iq()
    iq['type'], iq['to'] = 'get', a.domain
    iq.append(ET.Element('{%s}query' % ITEMS, {'node': COMMANDS}))
    reply = await iq.send(timeout=10)
    return {i.get('node'): i.get('name') for i in reply.xml.find('{%s}query' % ITEMS).findall('{%s}item' % ITEMS)}


async def visible(client, sensor):
    found = await ask(client, 'get', DISCOVERY, 'search', {'offset': 0, 'maxCount': 100}, reply='found')
    return sensor in [t.get('nodeId') for t in found]


async def scenario(a):
    op = await Client(a, a.operator[0], a.operator[1]).login()
    user = await Client(a, a.user[0], a.user[1]).login()
    dave = 'dave@' + a.domain

    # Listed and usable only by operators.
    check(await items(user, a) == {}, 'a consumer sees commands')
    await refused(user, 'forbidden', 'set', COMMANDS, 'command', {'node': 'mint', 'action': 'execute'}, why='consumer runs a command')
    listed = await items(op, a)
    check(set(listed) == {'add-user', 'invite-sensor', 'mint', 'freeze-sensor', 'unfreeze-sensor', 'status'}, 'commands: %s' % listed)
    iq = op.Iq()
    iq['type'], iq['to'] = 'get', a.domain
    iq.append(ET.Element('{%s}query' % INFO, {'node': 'mint'}))
    info = (await iq.send(timeout=10)).xml.find('{%s}query' % INFO)
    check(info.find('{%s}identity' % INFO).get('type') == 'command-node', 'disco#info of a command node')

    # add-user: refusals change nothing; then the new account logs in with its password.
    await refused(op, 'bad-request', 'set', COMMANDS, 'command', {'node': 'add-user', 'action': 'complete', 'sessionid': 'x'},
                  [form({'jid': dave, 'role': 'owner'})], why='no password')
    await refused(op, 'bad-request', 'set', COMMANDS, 'command', {'node': 'add-user', 'action': 'complete', 'sessionid': 'x'},
                  [form({'jid': dave, 'role': 'owner', 'password': 'short'})], why='weak password')
    done = await run(op, 'add-user', {'jid': dave, 'role': 'owner', 'password': 'dave-secret-5555'})
    check('dave-secret-5555' not in ET.tostring(done).decode(), 'the password is echoed in the reply')
    dave_client = await Client(a, dave, 'dave-secret-5555').login()
    await run(op, 'mint', {'jid': dave, 'amount': 40, 'memo': 'welcome'})
    # A client that submits the form with action='execute' (the default) gets it run, not a new form.
    direct = await ask(op, 'set', COMMANDS, 'command', {'node': 'mint', 'action': 'execute', 'sessionid': 'y'},
                       [form({'jid': dave, 'amount': 10, 'memo': 'top-up'})])
    check(direct.get('status') == 'completed', 'execute with a submitted form: status %s' % direct.get('status'))
    check((await ask(dave_client, 'get', MARKET, 'balance')).get('credits') == '50', 'minted credits did not arrive')
    await refused(op, 'item-not-found', 'set', COMMANDS, 'command', {'node': 'mint', 'action': 'complete', 'sessionid': 'x'},
                  [form({'jid': 'nobody@' + a.domain, 'amount': 5})], why='mint to a missing account')

    # invite-sensor shows the one-time code once.
    invited = result_fields(await run(op, 'invite-sensor', {'sensor': 'air-9', 'owner': dave, 'kind': 'pm25', 'price': 3, 'ttl': '1h'}))
    check(len(invited.get('One-time code') or '') >= 8 and invited.get('Sensor') == 'air-9', 'invitation: %s' % invited)

    # freeze / unfreeze: discovery follows.
    check(await visible(user, a.sensor), 'the sensor is not listed before freezing')
    await run(op, 'freeze-sensor', {'sensor': a.sensor, 'reason': 'maintenance'})
    check(not await visible(user, a.sensor), 'a frozen sensor is still listed')
    await run(op, 'unfreeze-sensor', {'sensor': a.sensor, 'reason': 'fixed'})
    check(await visible(user, a.sensor), 'the unfrozen sensor is not listed')

    status = result_fields(await run(op, 'status'))
    check(status.get('health') == 'ok' and status.get('accounts'), 'status: %s' % status)
    canceled = await ask(op, 'set', COMMANDS, 'command', {'node': 'mint', 'action': 'cancel', 'sessionid': 'x'})
    check(canceled.get('status') == 'canceled', 'cancel')

    for c in (op, user, dave_client):
        await c.logout()
    return 'adhoc ok: %d commands, invitation code %d characters' % (len(listed), len(invited['One-time code']))


def main():
    p = scenario_parser(__doc__, timeout=60)
    p.add_argument('--sensor', required=True)
    p.add_argument('--operator', nargs=2, required=True)
    p.add_argument('--user', nargs=2, required=True)
    run_scenario('adhoc', scenario, p.parse_args())


if __name__ == '__main__':
    main()
