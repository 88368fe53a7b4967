#!/usr/bin/python3
"""profanity (Debian's console client, libstrophe underneath) against `agora serve`, driven
in a tmux pane (issue 22): it logs in over STARTTLS verifying the server certificate against
the gateway's CA, with no "Server error enabling message carbons" nor any other server
error in its log; it joins a members-only room a slixmpp owner made and let it in, receives the owner's message and
sends one the owner receives; its bookmarks go to private storage and come back.

usage: profanity.py --port P --domain D --ca CA --work DIR --owner JID PW --alice JID PW

Prints "profanity ok …" and exits 0, or a reason (with the pane and profanity's log).
"""
import asyncio
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clients import Client, Fail, check, run_scenario, scenario_parser  # noqa: E402

PLUGINS = ('xep_0030', 'xep_0004', 'xep_0045', 'xep_0203')


class Pane:
    """profanity in a tmux session of its own, with a home of its own under DIR."""

    def __init__(self, work):
        self.home = Path(work) / 'profanity-home'
        shutil.rmtree(self.home, ignore_errors=True)
        (self.home / 'certs').mkdir(parents=True)
        self.session = 'agora-profanity-%d' % os.getpid()
        self.env = {'HOME': str(self.home), 'XDG_CONFIG_HOME': str(self.home / 'config'), 'XDG_DATA_HOME': str(self.home / 'data'),
                    'TERM': 'xterm-256color', 'PATH': os.environ.get('PATH', '/usr/bin:/bin')}

    def start(self):
        command = ' '.join('%s=%s' % kv for kv in self.env.items()) + ' profanity'
        subprocess.run(['tmux', 'new-session', '-d', '-s', self.session, '-x', '220', '-y', '60', 'env ' + command], check=True, env=self.env)

    def type(self, text):
        subprocess.run(['tmux', 'send-keys', '-t', self.session, '-l', text], check=True)
        subprocess.run(['tmux', 'send-keys', '-t', self.session, 'Enter'], check=True)

    def text(self):
        return subprocess.run(['tmux', 'capture-pane', '-p', '-t', self.session, '-S', '-200'], capture_output=True, text=True).stdout

    def log(self):
        path = self.home / 'data' / 'profanity' / 'logs' / 'profanity.log'
        return path.read_text(errors='replace') if path.exists() else ''

    async def wait_for(self, needle, what, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text():
                return
            await asyncio.sleep(0.2)
        raise Fail('%s: "%s" not shown within %ds\n--- pane ---\n%s\n--- profanity.log ---\n%s' % (
            what, needle, timeout, self.text()[-3000:], self.log()[-3000:]))

    def stop(self):
        subprocess.run(['tmux', 'kill-session', '-t', self.session], capture_output=True)


async def scenario(a):
    room = 'lobby@rooms.' + a.domain
    owner = Client(a, a.owner[0], a.owner[1], plugins=PLUGINS)
    got = asyncio.Queue()
    owner.add_event_handler('groupchat_message', lambda m: got.put_nowait(m) if m['body'] else None)
    await owner.login()
    await owner['xep_0045'].join_muc_wait(room, 'Olga', timeout=10)
    form = owner['xep_0004'].make_form(ftype='submit')
    form.add_field(var='FORM_TYPE', value='http://jabber.org/protocol/muc#roomconfig', ftype='hidden')
    form.add_field(var='muc#roomconfig_membersonly', value='1', ftype='boolean')
    await owner['xep_0045'].set_room_config(room, form, timeout=10)
    await owner['xep_0045'].set_affiliation(room, 'member', jid=a.alice[0], timeout=10)

    pane = Pane(a.work)
    shutil.copy(a.ca, pane.home / 'certs' / 'agora-ca.pem')
    subprocess.run(['openssl', 'rehash', str(pane.home / 'certs')], check=True, capture_output=True)
    pane.start()
    try:
        await pane.wait_for('Type /help', 'profanity starting')
        pane.type('/tls certpath set %s' % (pane.home / 'certs'))
        pane.type('/connect %s server %s port %d tls force' % (a.alice[0], a.host, a.port))
        await pane.wait_for('Enter password', 'the password prompt')
        pane.type(a.alice[1])
        await pane.wait_for('logged in successfully', 'the login')
        await asyncio.sleep(1.5)   # carbons, disco, roster, bookmarks: the requests after login
        log = pane.log()
        check('carbons' not in log.lower(), 'profanity logged about carbons:\n%s' % log[-2000:])
        errors = [line for line in log.splitlines() if 'IQ error received' in line]
        check(not errors, 'the server refused profanity\'s requests after login:\n%s' % '\n'.join(errors))
        check('TLS' in pane.text(), 'profanity does not show a TLS connection')

        pane.type('/join %s nick Prof' % room)
        await pane.wait_for('You have joined the room as Prof', 'joining the room')
        owner.send_message(mto=room, mbody='hello profanity', mtype='groupchat')
        while True:   # the owner's own message comes back first
            message = await asyncio.wait_for(got.get(), 10)
            if message['from'].resource == 'Olga':
                break
        await pane.wait_for('Olga: hello profanity', 'the owner\'s message in the room')
        pane.type('hello from the console')
        message = await asyncio.wait_for(got.get(), 10)
        check(message['from'] == room + '/Prof' and message['body'] == 'hello from the console', 'the owner got %s from %s' % (message['body'], message['from']))
        # Its bookmark of the room (XEP-0048 in private storage) is kept by the server.
        pane.type('/bookmark add %s autojoin on' % room)
        await asyncio.sleep(1.0)
        pane.type('/quit')
        await asyncio.sleep(1.0)
        errors = [line for line in pane.log().splitlines() if 'IQ error received' in line]
        check(not errors, 'the server refused a request of profanity:\n%s' % '\n'.join(errors))
    finally:
        pane.stop()
    alice = Client(a, a.alice[0], a.alice[1], plugins=PLUGINS)
    await alice.login()
    iq = alice.Iq()
    iq['type'] = 'get'
    query = ET.Element('{jabber:iq:private}query')
    ET.SubElement(query, '{storage:bookmarks}storage')
    iq.append(query)
    result = await iq.send(timeout=10)
    conferences = result.xml.findall('{jabber:iq:private}query/{storage:bookmarks}storage/{storage:bookmarks}conference')
    check([c.get('jid') for c in conferences] == [room], 'profanity\'s bookmarks as stored: %s' % [c.attrib for c in conferences])
    for c in (owner, alice):
        await c.logout()
    return 'profanity ok: logged in over verified TLS without server errors, joined, talked both ways, bookmark stored'


def main():
    p = scenario_parser(__doc__, timeout=90)
    p.add_argument('--work', required=True)
    p.add_argument('--owner', nargs=2, required=True, metavar=('JID', 'PW'))
    p.add_argument('--alice', nargs=2, required=True, metavar=('JID', 'PW'))
    run_scenario('profanity', scenario, p.parse_args())


if __name__ == '__main__':
    main()
