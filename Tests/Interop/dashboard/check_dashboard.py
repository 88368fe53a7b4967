#!/usr/bin/python3
"""Drives the gateway's web console in headless Chromium, as an operator and as a consumer.

(a) a wrong password shows the sign-in form again with a message and sets no session cookie;
(b) the operator's dashboard lists at least --operator-sensors, draws the ingest chart with at
    least --min-chart-points non-zero minutes and a sparkline per sensor, shows the health, and
    the session cookie is HttpOnly and SameSite=Strict; a screenshot is saved;
(c) signing out shows the sign-in form, and the old session cookie no longer opens the dashboard;
(d) the consumer sees exactly --consumer-sensors and none of the operator-only sections;
(e) the browser console logged nothing at level SEVERE (CSP violations, script errors, 404s).

Prints a one-line JSON summary and exits 0 when all hold; exits 1 with the reason otherwise.
Needs Debian's python3-selenium, chromium and chromium-driver.

usage: check_dashboard.py --url http://127.0.0.1:PORT --operator JID:PASSWORD
           --consumer JID:PASSWORD --operator-sensors ID,ID --consumer-sensors ID
           [--min-chart-points N] [--screenshot PATH]
"""
import argparse, json, os, re, shutil, sys, tempfile, time

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

COOKIE = 'agora_session'
WAIT = 20          # seconds for any page or dashboard state to appear
CHART_POINTS = 60  # minutes in ingest.readingsPerMinute
HOURS = 24         # values in a sensor's hourly sparkline


class CheckFailed(Exception):
    pass


# One consistent read of the page, so a 15 s refresh that rebuilds the table between two
# WebDriver calls cannot leave us holding stale elements.
PAGE_STATE = r"""
const q = (s) => document.querySelector(s);
const text = (s) => (q(s) ? q(s).textContent.trim() : null);
const chart = q('#ingest-chart');
const series = chart ? chart.querySelector('path.series') : null;
return {
  signIn: !!q('form[action="/login"] #account'),
  message: text('#message'),
  dashboard: !!q('#sensors'),
  loaded: !!(document.body && document.body.dataset.loaded === 'true'),
  status: text('#status'),
  health: text('#health'),
  viewer: text('#viewer-jid'),
  chart: series ? series.getAttribute('d') : null,
  chartHeight: chart && chart.viewBox && chart.viewBox.baseVal ? chart.viewBox.baseVal.height : null,
  emptyRow: !!q('#sensors tbody tr.empty'),
  rows: Array.from(document.querySelectorAll('#sensors tbody tr[data-sensor]')).map((tr) => {
    const path = tr.querySelector('svg.sparkline path.series');
    return { id: tr.dataset.sensor, spark: path ? path.getAttribute('d') : null };
  }),
};
"""

POINT = re.compile(r'[ML]\s*(-?[0-9.]+(?:e-?[0-9]+)?)[\s,]+(-?[0-9.]+(?:e-?[0-9]+)?)')


def points(d):
    """The (x, y) points of a path drawn with M and L commands only, as dashboard.js draws."""
    return [(float(x), float(y)) for x, y in POINT.findall(d or '')]


def id_list(text):
    return {part.strip() for part in (text or '').split(',') if part.strip()}


def credentials(text):
    jid, sep, password = text.partition(':')
    if not sep or not jid or not password:
        raise argparse.ArgumentTypeError('expected JID:PASSWORD')
    return jid, password


class Console:
    def __init__(self, url, operator, consumer, screenshot):
        self.url = url.rstrip('/')
        self.operator, self.consumer = operator, consumer
        self.screenshot = screenshot
        self.profile = tempfile.mkdtemp(prefix='agora-dashboard-')
        self.console = []  # (step, entry)
        options = webdriver.ChromeOptions()
        options.binary_location = '/usr/bin/chromium'
        for argument in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                         '--window-size=1280,900', '--user-data-dir=' + self.profile,
                         '--no-first-run', '--disable-extensions', '--password-store=basic'):
            options.add_argument(argument)
        options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
        self.driver = webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=options)
        self.driver.set_page_load_timeout(WAIT)
        self.driver.set_script_timeout(10)
        self.driver.set_window_size(1280, 900)

    def close(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    # -- helpers ------------------------------------------------------------------------------

    def state(self):
        return self.driver.execute_script(PAGE_STATE)

    def wait(self, what, predicate, timeout=WAIT, why=None):
        """Polls the page until predicate(state) is true; returns that state or fails with
        `what`, `why()` (what the predicate found missing) and the last state seen."""
        deadline = time.monotonic() + timeout
        state = None
        while True:
            try:
                state = self.state()
                if predicate(state):
                    return state
            except WebDriverException:
                pass  # mid-navigation; read again
            if time.monotonic() > deadline:
                reason = (': ' + why()) if why else ''
                raise CheckFailed('%s: not within %d s%s (page %s, last state %s)'
                                  % (what, timeout, reason, self.driver.current_url, json.dumps(brief(state))))
            time.sleep(0.25)

    def drain_console(self, step):
        for entry in self.driver.get_log('browser'):
            self.console.append((step, entry))

    def sign_in(self, jid, password):
        form = self.driver.find_element(By.CSS_SELECTOR, 'form[action="/login"]')
        account = self.driver.find_element(By.ID, 'account')
        account.clear()
        account.send_keys(jid)
        secret = self.driver.find_element(By.ID, 'password')
        secret.clear()
        secret.send_keys(password)
        self.driver.find_element(By.ID, 'login').click()
        self.wait_gone(form, 'the sign-in form was posted')

    def wait_gone(self, element, what):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                element.is_enabled()  # raises once the page it belongs to is gone
            except WebDriverException:
                return
            time.sleep(0.1)
        raise CheckFailed('%s, but the page did not change within %d s' % (what, WAIT))

    def session_cookie(self):
        return self.driver.get_cookie(COOKIE)

    def visible(self, element_id):
        found = self.driver.find_elements(By.ID, element_id)
        if not found:
            raise CheckFailed('the dashboard has no #%s' % element_id)
        return found[0].is_displayed()

    # -- steps --------------------------------------------------------------------------------

    def wrong_password(self):
        self.driver.get(self.url + '/')
        state = self.wait('the sign-in form at ' + self.url + '/', lambda s: s['signIn'])
        if state['message']:
            raise CheckFailed('the first sign-in page already shows a message: %r' % state['message'])
        jid, password = self.operator
        self.sign_in(jid, password + '-wrong')
        state = self.wait('the sign-in form with a message after a wrong password',
                          lambda s: s['signIn'] and s['message'])
        if '{{' in state['message']:
            raise CheckFailed('the server did not fill the message placeholder: %r' % state['message'])
        if state['dashboard']:
            raise CheckFailed('a wrong password showed the dashboard')
        if self.session_cookie() is not None:
            raise CheckFailed('a wrong password set the %s cookie' % COOKIE)
        self.drain_console('wrong password')
        return state['message']

    def operator_dashboard(self, expected, min_chart_points):
        jid, password = self.operator
        self.sign_in(jid, password)
        problems = []

        def complete(s):
            problems.clear()
            if not s['dashboard'] or not s['loaded']:
                problems.append('dashboard not loaded (status %r)' % s['status'])
                return False
            ids = {row['id'] for row in s['rows']}
            if not expected <= ids:
                problems.append('missing sensors %s (shown: %s)' % (sorted(expected - ids), sorted(ids)))
            chart = points(s['chart'])
            height = s['chartHeight'] or 0
            nonzero = [p for p in chart if p[1] < height - 1e-6]
            if len(chart) != CHART_POINTS:
                problems.append('ingest chart has %d points, not %d' % (len(chart), CHART_POINTS))
            if len(nonzero) < min_chart_points:
                problems.append('ingest chart has %d non-zero points, fewer than %d'
                                % (len(nonzero), min_chart_points))
            for row in s['rows']:
                if len(points(row['spark'])) != HOURS:
                    problems.append('sensor %s: sparkline has %d points, not %d'
                                    % (row['id'], len(points(row['spark'])), HOURS))
            if 'ready' not in (s['health'] or ''):
                problems.append('#health reads %r' % s['health'])
            if (s['viewer'] or '').lower() != jid.lower():
                problems.append('#viewer-jid reads %r, not %r' % (s['viewer'], jid))
            return not problems

        state = self.wait('the operator dashboard', complete, why=lambda: '; '.join(problems))

        if self.screenshot:
            os.makedirs(os.path.dirname(os.path.abspath(self.screenshot)), exist_ok=True)
            if not self.driver.save_screenshot(self.screenshot):
                raise CheckFailed('could not save the screenshot to ' + self.screenshot)

        cookie = self.session_cookie()
        if cookie is None:
            raise CheckFailed('signed in, but there is no %s cookie' % COOKIE)
        if cookie.get('httpOnly') is not True:
            raise CheckFailed('the %s cookie is not HttpOnly: %s' % (COOKIE, cookie))
        if cookie.get('sameSite') != 'Strict':
            raise CheckFailed('the %s cookie is not SameSite=Strict: %s' % (COOKIE, cookie))
        self.drain_console('operator dashboard')
        chart = points(state['chart'])
        return state, cookie, len(chart), sum(1 for p in chart if p[1] < state['chartHeight'] - 1e-6)

    def sign_out(self, old_cookie):
        table = self.driver.find_element(By.ID, 'sensors')
        self.driver.find_element(By.ID, 'logout').click()
        self.wait_gone(table, 'the sign-out form was posted')
        self.wait('the sign-in form after signing out', lambda s: s['signIn'] and not s['dashboard'])
        # The server must have ended the session, not only asked the browser to forget it.
        self.driver.delete_cookie(COOKIE)
        self.driver.add_cookie({'name': COOKIE, 'value': old_cookie['value'], 'path': '/',
                                'httpOnly': True, 'sameSite': 'Strict'})
        self.driver.get(self.url + '/')
        self.wait('the sign-in form when the signed-out session cookie is sent again (the server must end the session)',
                  lambda s: s['signIn'] and not s['dashboard'])
        self.driver.delete_cookie(COOKIE)
        self.drain_console('sign out')

    def consumer_dashboard(self, expected):
        jid, password = self.consumer
        self.sign_in(jid, password)
        state = self.wait('the consumer dashboard',
                          lambda s: s['dashboard'] and s['loaded'] and (s['rows'] or s['emptyRow']))
        shown = {row['id'] for row in state['rows']}
        if shown != expected:
            raise CheckFailed('the consumer sees sensors %s, expected exactly %s'
                              % (sorted(shown), sorted(expected)))
        if not shown and not state['emptyRow']:
            raise CheckFailed('an empty sensor list shows no "no sensors to show" row')
        for element_id in ('sessions', 'store-use', 'ingest-chart', 'broker-state'):
            if self.visible(element_id):
                raise CheckFailed('the consumer sees the operator-only #%s' % element_id)
        self.drain_console('consumer dashboard')
        return state


def brief(state):
    if not isinstance(state, dict):
        return state
    shown = dict(state)
    shown['rows'] = [row['id'] for row in state.get('rows') or []]
    shown['chart'] = '%d points' % len(points(state.get('chart')))
    return shown


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--url', required=True, help='http://127.0.0.1:PORT')
    parser.add_argument('--operator', required=True, type=credentials, metavar='JID:PASSWORD')
    parser.add_argument('--consumer', required=True, type=credentials, metavar='JID:PASSWORD')
    parser.add_argument('--operator-sensors', type=id_list, default=set(), metavar='ID,ID',
                        help='sensor ids the operator must see (at least)')
    parser.add_argument('--consumer-sensors', type=id_list, default=set(), metavar='ID,ID',
                        help='sensor ids the consumer must see (exactly)')
    parser.add_argument('--min-chart-points', type=int, default=1, metavar='N',
                        help='non-zero minutes the ingest chart must show')
    parser.add_argument('--screenshot', metavar='PATH', help='where to save the operator dashboard')
    args = parser.parse_args()

    console = None
    try:
        console = Console(args.url, args.operator, args.consumer, args.screenshot)
        message = console.wrong_password()
        operator, cookie, chart_points, nonzero = console.operator_dashboard(
            args.operator_sensors, args.min_chart_points)
        console.sign_out(cookie)
        consumer = console.consumer_dashboard(args.consumer_sensors)
        console.drain_console('end')
        severe = [(step, entry) for step, entry in console.console if entry.get('level') == 'SEVERE']
        if severe:
            for step, entry in severe:
                print('console (%s): %s' % (step, entry.get('message')), file=sys.stderr)
            raise CheckFailed('the browser console has %d SEVERE entries, the first (%s): %s'
                              % (len(severe), severe[0][0], severe[0][1].get('message')))
        print(json.dumps({
            'ok': True,
            'wrongPasswordMessage': message,
            'operatorSensors': sorted(row['id'] for row in operator['rows']),
            'consumerSensors': sorted(row['id'] for row in consumer['rows']),
            'chartPoints': chart_points,
            'chartNonZeroPoints': nonzero,
            'health': operator['health'],
            'cookie': {'httpOnly': cookie.get('httpOnly'), 'sameSite': cookie.get('sameSite')},
            'consoleEntries': len(console.console),
            'screenshot': args.screenshot,
        }))
        return 0
    except CheckFailed as failure:
        print('check_dashboard: FAILED: %s' % failure, file=sys.stderr)
        return 1
    except WebDriverException as error:
        first = (error.msg or str(error)).strip().split('\n')[0]  # not chromedriver's stack
        print('check_dashboard: FAILED: WebDriver: %s' % first, file=sys.stderr)
        return 1
    finally:
        if console is not None:
            console.close()


if __name__ == '__main__':
    sys.exit(main())
