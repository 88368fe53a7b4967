/// The web console's pages, script and style sheet, compiled into the binary.
///
/// They are Swift literals rather than resource files because the gateway ships as one static
/// binary: there is no Foundation `Bundle` to find resources in, and no CDN or front-end build
/// step to depend on. The pages hold no inline script or style, so they run under the
/// server's Content-Security-Policy (`default-src 'self'`); the script puts every value from
/// the API into the page as text, never as HTML.
enum DashboardAssets {
    /// The sign-in form, posted to `/login`. The server replaces `{{message}}` with an
    /// HTML-escaped reason the last attempt failed, or with nothing on first view.
    static let loginPage = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Agora gateway — sign in</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="/dashboard.css">
    </head>
    <body class="signin">
    <main class="signin-box">
    <h1>Agora gateway</h1>
    <p class="muted">Sign in with your gateway account.</p>
    <p id="message" class="message" role="alert">{{message}}</p>
    <form method="post" action="/login">
    <label for="account">Account</label>
    <input id="account" name="account" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus>
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required>
    <button id="login" type="submit" class="primary">Sign in</button>
    </form>
    </main>
    </body>
    </html>
    """#

    /// The console's shell, served to a signed-in viewer; `script` fills it from
    /// `GET /api/overview`.
    static let dashboardPage = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Agora gateway</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="/dashboard.css">
    <script src="/dashboard.js" defer></script>
    </head>
    <body>
    <header class="topbar">
      <div>
        <h1 id="gateway-name">Agora gateway</h1>
        <p class="detail"><span id="gateway-domain"></span> · version <span id="gateway-version">…</span> · up <span id="uptime">…</span></p>
      </div>
      <div class="viewer">
        <span id="viewer-jid" class="mono"></span>
        <span id="viewer-role" class="role"></span>
        <form id="logout-form" method="post" action="/logout">
          <input id="csrf" type="hidden" name="csrf" value="">
          <button id="logout" type="submit">Sign out</button>
        </form>
      </div>
    </header>
    <main class="content">
      <p id="status" class="status" role="status">loading…</p>
      <div class="cards">
        <section id="card-health" class="card">
          <h2>Health</h2>
          <div id="health">…</div>
        </section>
        <section id="card-broker" class="card" hidden>
          <h2>MQTT broker</h2>
          <p id="broker-state" class="big">…</p>
        </section>
        <section id="card-sessions" class="card" hidden>
          <h2>XMPP sessions</h2>
          <p id="sessions" class="big">…</p>
          <p id="sessions-detail" class="detail"></p>
        </section>
        <section id="card-store" class="card" hidden>
          <h2>Store</h2>
          <p id="store-use" class="big">…</p>
          <p id="store-detail" class="detail"></p>
          <div id="store-meter" class="meter"><div id="store-bar"></div></div>
        </section>
        <section id="card-ledger" class="card">
          <h2>Ledger</h2>
          <p id="ledger-head" class="big">…</p>
          <p id="ledger-detail" class="detail"></p>
        </section>
        <section id="card-ingest" class="card wide" hidden>
          <div class="card-head">
            <h2>Readings ingested per minute</h2>
            <span class="detail">last 60 minutes · peak <span id="ingest-peak">0</span>/min</span>
          </div>
          <svg id="ingest-chart" class="chart" viewBox="0 0 600 120" preserveAspectRatio="none" role="img" aria-label="Readings ingested per minute over the last 60 minutes"></svg>
          <div class="axis"><span>60 min ago</span><span>now</span></div>
          <dl class="stats">
            <div><dt>stored</dt><dd id="ingest-stored">…</dd></div>
            <div><dt>dropped</dt><dd id="ingest-dropped">…</dd></div>
            <div><dt>queued</dt><dd id="ingest-queue">…</dd></div>
          </dl>
        </section>
        <section id="card-sensors" class="card wide">
          <div class="card-head">
            <h2>Sensors</h2>
            <span id="sensor-count" class="detail"></span>
            <span class="pager"><button id="sensors-prev" type="button" hidden>‹ previous</button><button id="sensors-next" type="button" hidden>next ›</button></span>
          </div>
          <div class="table-wrap">
            <table id="sensors">
              <thead>
                <tr><th>Sensor</th><th>Kind</th><th>Owner</th><th>Last reading</th><th class="num">Last value</th><th class="num">Delivery</th><th>Readings, last 24 h</th></tr>
              </thead>
              <tbody><tr class="empty"><td colspan="7">loading…</td></tr></tbody>
            </table>
          </div>
        </section>
      </div>
    </main>
    </body>
    </html>
    """#

    /// Served at `/dashboard.js`: fetches `/api/overview`, renders it, refreshes every 15 s,
    /// and goes to `/` when the API answers 401.
    static let script = #"""
    // Agora gateway console: reads GET /api/overview every 15 s and renders it into the page.
    // The page's CSP forbids inline code, so all behaviour lives here. Every value from the API
    // goes in through textContent or an SVG attribute, never as HTML.
    'use strict';

    (() => {
      const REFRESH_MS = 15000;
      const SVG_NS = 'http://www.w3.org/2000/svg';
      let timer = 0;

      const byId = (id) => document.getElementById(id);
      const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
      const list = (v) => (Array.isArray(v) ? v : []);
      const count = (v) => num(v).toLocaleString('en-US');
      const decimal = (v) => v.toLocaleString('en-US', { maximumFractionDigits: 3 });
      const round2 = (v) => Math.round(v * 100) / 100;

      function setText(id, text) {
        const node = byId(id);
        if (node) node.textContent = text;
      }

      function setHidden(id, hidden) {
        const node = byId(id);
        if (node) node.hidden = hidden;
      }

      function el(tag, className, text) {
        const node = document.createElement(tag);
        if (className) node.className = className;
        if (text !== undefined) node.textContent = text;
        return node;
      }

      function svgEl(tag, attributes) {
        const node = document.createElementNS(SVG_NS, tag);
        for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
        return node;
      }

      function bytes(n) {
        const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
        let value = num(n);
        let unit = 0;
        while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
        const shown = unit === 0 || value >= 100 ? String(Math.round(value)) : value.toFixed(1).replace(/\.0$/, '');
        return shown + ' ' + units[unit];
      }

      function duration(seconds) {
        let s = Math.max(0, Math.floor(num(seconds)));
        const d = Math.floor(s / 86400);
        const h = Math.floor((s % 86400) / 3600);
        const m = Math.floor((s % 3600) / 60);
        s %= 60;
        if (d) return d + ' d ' + h + ' h';
        if (h) return h + ' h ' + m + ' min';
        if (m) return m + ' min ' + s + ' s';
        return s + ' s';
      }

      // Seconds since an RFC 3339 time, or null when there is none. The browser's clock, not the
      // gateway's: a small skew shows as "just now".
      function secondsSince(iso) {
        if (typeof iso !== 'string') return null;
        const at = Date.parse(iso);
        return Number.isNaN(at) ? null : Math.max(0, (Date.now() - at) / 1000);
      }

      function ago(seconds) {
        if (seconds < 5) return 'just now';
        if (seconds < 60) return Math.floor(seconds) + ' s ago';
        if (seconds < 3600) return Math.floor(seconds / 60) + ' min ago';
        if (seconds < 86400) return Math.floor(seconds / 3600) + ' h ago';
        return Math.floor(seconds / 86400) + ' d ago';
      }

      function percent(fraction) {
        const p = num(fraction) * 100;
        return (p >= 99.95 ? '100' : p.toFixed(1)) + ' %';
      }

      // Draws one point per value, left to right, into the svg's viewBox: zero on the bottom edge,
      // the largest value `pad` units below the top edge. The check script relies on both.
      function plot(svg, values, pad, decorate) {
        const box = svg.viewBox.baseVal;
        const width = box.width;
        const height = box.height;
        const points = list(values).map((v) => Math.max(0, num(v)));
        const max = Math.max(1, ...points);
        const step = points.length > 1 ? width / (points.length - 1) : 0;
        const d = points.map((v, i) =>
          (i ? 'L' : 'M') + round2(i * step) + ',' + round2(height - (v / max) * (height - pad))).join('');
        const children = [];
        if (decorate) {
          children.push(svgEl('line', { class: 'grid', x1: 0, y1: height, x2: width, y2: height }));
          children.push(svgEl('line', { class: 'grid peak', x1: 0, y1: pad, x2: width, y2: pad }));
        }
        if (points.length) {
          children.push(svgEl('path', { class: 'area', d: d + 'L' + round2(step * (points.length - 1)) + ',' + height + 'L0,' + height + 'Z' }));
          children.push(svgEl('path', { class: 'series', d }));
        }
        svg.replaceChildren(...children);
      }

      function renderGateway(overview) {
        const gateway = overview.gateway || {};
        const name = gateway.name || gateway.domain || 'Agora gateway';
        setText('gateway-name', name);
        document.title = name + ' — Agora';
        setText('gateway-domain', gateway.domain || '');
        setText('gateway-version', gateway.version || '?');
        setText('uptime', duration(gateway.uptimeSeconds));
        const viewer = overview.viewer || {};
        setText('viewer-jid', viewer.jid || '');
        setText('viewer-role', viewer.role || '');
        const csrf = byId('csrf');
        if (csrf) csrf.value = typeof overview.csrf === 'string' ? overview.csrf : '';

        const ready = gateway.ready === true;
        const children = [el('span', 'badge ' + (ready ? 'ok' : 'bad'), ready ? 'ready' : 'not ready')];
        const problems = list(gateway.problems);
        if (problems.length) {
          const ul = el('ul', 'problems');
          for (const problem of problems) ul.append(el('li', '', String(problem)));
          children.push(ul);
        }
        byId('health').replaceChildren(...children);
      }

      function renderBroker(broker) {
        setHidden('card-broker', !broker);
        if (!broker) return;
        const node = byId('broker-state');
        if (!broker.configured) {
          node.textContent = 'not configured';
          node.className = 'big dot';
        } else {
          node.textContent = broker.connected ? 'connected' : 'disconnected';
          node.className = 'big dot ' + (broker.connected ? 'ok' : 'bad');
        }
      }

      function renderSessions(sessions) {
        setHidden('card-sessions', !sessions);
        if (!sessions) return;
        setText('sessions', count(sessions.bound) + ' bound');
        setText('sessions-detail', count(sessions.negotiating) + ' negotiating · ' + count(sessions.detached) + ' detached');
      }

      function renderStore(store) {
        setHidden('card-store', !store);
        if (!store) return;
        const used = num(store.usedBytes);
        const max = num(store.maxBytes);
        const fraction = max > 0 ? Math.min(1, used / max) : 0;
        setText('store-use', bytes(used));
        setText('store-detail', max > 0 ? percent(fraction) + ' of ' + bytes(max) : 'no size limit reported');
        byId('store-bar').style.width = (fraction * 100).toFixed(1) + '%';
        byId('store-meter').classList.toggle('high', fraction > 0.8);
      }

      function renderLedger(ledger) {
        setHidden('card-ledger', !ledger);
        if (!ledger) return;
        const entries = num(ledger.entries);
        const size = num(ledger.checkpointSize);
        setText('ledger-head', count(entries) + (entries === 1 ? ' entry' : ' entries'));
        let detail;
        if (typeof ledger.checkpointAgeSeconds !== 'number') {
          detail = 'no checkpoint yet';
        } else {
          detail = 'checkpoint at ' + count(size) + ', ' + duration(ledger.checkpointAgeSeconds) + ' old';
          if (entries > size) detail += ' · ' + count(entries - size) + ' not yet in it';
        }
        setText('ledger-detail', detail);
      }

      function renderIngest(ingest) {
        setHidden('card-ingest', !ingest);
        if (!ingest) return;
        const perMinute = list(ingest.readingsPerMinute);
        setText('ingest-peak', count(Math.max(0, ...perMinute.map(num))));
        setText('ingest-stored', count(ingest.stored));
        setText('ingest-dropped', count(ingest.dropped));
        setText('ingest-queue', count(ingest.queueDepth));
        byId('ingest-dropped').classList.toggle('low', num(ingest.dropped) > 0);
        plot(byId('ingest-chart'), perMinute, 6, true);
      }

      function sensorRow(sensor) {
        const row = el('tr');
        row.dataset.sensor = String(sensor.id);

        const id = el('td', 'mono', String(sensor.id));
        if (sensor.frozen) id.append(el('span', 'tag', 'frozen'));
        if (sensor.name) id.append(el('span', 'name', String(sensor.name)));

        const last = el('td');
        const age = secondsSince(sensor.lastReadingAt);
        if (age === null) {
          last.textContent = 'never';
          last.className = 'muted';
        } else {
          last.textContent = ago(age);
          last.title = sensor.lastReadingAt;
          const frequency = num(sensor.frequencySeconds);
          if (frequency > 0 && age > 3 * frequency) last.className = 'stale';
        }

        const value = typeof sensor.lastValue === 'number'
          ? decimal(sensor.lastValue) + (sensor.unit ? ' ' + sensor.unit : '')
          : '—';
        const delivery = el('td', 'num', typeof sensor.delivery === 'number' ? percent(sensor.delivery) : '—');
        if (typeof sensor.delivery === 'number' && sensor.delivery < 0.9) delivery.classList.add('low');

        const hourly = list(sensor.hourly);
        const total = hourly.reduce((sum, v) => sum + Math.max(0, num(v)), 0);
        const spark = svgEl('svg', {
          class: 'sparkline', viewBox: '0 0 120 22', preserveAspectRatio: 'none',
          role: 'img', 'aria-label': count(total) + ' readings in the last 24 hours',
        });
        plot(spark, hourly, 2, false);
        const sparkCell = el('td');
        sparkCell.title = count(total) + ' readings in the last 24 hours';
        sparkCell.append(spark);

        row.append(id, el('td', '', String(sensor.kind || '')), el('td', 'mono', String(sensor.owner || '')),
          last, el('td', 'num', value), delivery, sparkCell);
        return row;
      }

      // The overview carries one page of sensors (sensorsPageSize of sensorsTotal).
      let page = 0;

      function renderSensors(sensors, total, size) {
        const shown = list(sensors).filter((s) => s && typeof s === 'object' && s.id !== undefined && s.id !== null);
        const all = typeof total === 'number' ? total : shown.length;
        const first = page * (size || 0);
        setText('sensor-count', all > shown.length
          ? (first + 1) + '–' + (first + shown.length) + ' of ' + all + ' sensors'
          : (shown.length === 1 ? '1 sensor' : shown.length + ' sensors'));
        byId('sensors-prev').hidden = page === 0;
        byId('sensors-next').hidden = !(size && first + shown.length < all);
        const body = byId('sensors').tBodies[0];
        if (!shown.length) {
          const cell = el('td', '', 'no sensors to show');
          cell.colSpan = 7;
          const row = el('tr', 'empty');
          row.append(cell);
          body.replaceChildren(row);
          return;
        }
        body.replaceChildren(...shown.map(sensorRow));
      }

      function status(text, failed) {
        const node = byId('status');
        node.textContent = text;
        node.classList.toggle('error', failed);
      }

      async function load() {
        clearTimeout(timer);
        try {
          const response = await fetch('/api/overview?page=' + page, {
            credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' },
          });
          if (response.status === 401) {
            // The session ended (signed out elsewhere, expired): "/" shows the sign-in form.
            window.location.assign('/');
            return;
          }
          if (!response.ok) throw new Error('the gateway answered ' + response.status);
          const overview = await response.json();
          if (!overview || typeof overview !== 'object') throw new Error('the gateway sent no overview');
          renderGateway(overview);
          renderBroker(overview.broker);
          renderSessions(overview.sessions);
          renderStore(overview.store);
          renderLedger(overview.ledger);
          renderIngest(overview.ingest);
          renderSensors(overview.sensors, overview.sensorsTotal, overview.sensorsPageSize);
          status('updated ' + new Date().toLocaleTimeString() + ' · every 15 s', false);
          document.body.dataset.loaded = 'true';
        } catch (error) {
          status('update failed: ' + (error && error.message ? error.message : String(error)) + ' · retrying', true);
        }
        timer = setTimeout(load, REFRESH_MS);
      }

      byId('sensors-prev').addEventListener('click', () => { page = Math.max(0, page - 1); load(); });
      byId('sensors-next').addEventListener('click', () => { page += 1; load(); });
      load();
    })();
    """#

    /// Served at `/dashboard.css`, for both pages.
    static let style = #"""
    /* Agora gateway console. System fonts only: the page's CSP loads nothing from elsewhere. */
    .pager { margin-left: auto; display: flex; gap: 6px; }
    .pager button { font: inherit; font-size: 12px; padding: 2px 8px; border: 1px solid #dde1e6; border-radius: 4px; background: #fff; cursor: pointer; }
    :root {
      --bg: #f4f5f7; --panel: #fff; --line: #dde1e6; --text: #1c222b; --muted: #66707c;
      --accent: #2563c9; --ok: #1e7f46; --ok-bg: #e2f3e8; --bad: #bf3a30; --bad-bg: #fbe8e6;
      --warn: #9a5b00;
      --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
      --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
    }
    * { box-sizing: border-box; }
    [hidden] { display: none !important; }
    html { background: var(--bg); color: var(--text); font: 14px/1.45 var(--sans); }
    body { margin: 0; }
    h1, h2, p { margin: 0; }
    h1 { font-size: 18px; font-weight: 600; }
    h2 { font-size: 11px; font-weight: 600; letter-spacing: .06em; text-transform: uppercase; color: var(--muted); margin-bottom: 6px; }
    .muted, .detail { color: var(--muted); }
    .detail { font-size: 12px; margin-top: 2px; }
    .mono { font-family: var(--mono); font-size: 13px; }
    button { font: inherit; padding: 5px 12px; border: 1px solid var(--line); border-radius: 4px; background: var(--panel); color: var(--text); cursor: pointer; }
    button:hover { border-color: var(--accent); }
    button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }

    .topbar { display: flex; justify-content: space-between; align-items: center; gap: 16px; padding: 10px 20px; background: var(--panel); border-bottom: 1px solid var(--line); }
    .viewer { display: flex; align-items: center; gap: 10px; }
    .viewer form { margin: 0; }
    .role { font-size: 11px; text-transform: uppercase; letter-spacing: .05em; padding: 1px 6px; border-radius: 3px; background: #e6edfa; color: var(--accent); }
    .role:empty { display: none; }

    .content { max-width: 1400px; margin: 0 auto; padding: 14px 20px 32px; }
    .status { font-size: 12px; color: var(--muted); margin-bottom: 10px; }
    .status.error { color: var(--bad); }
    .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 12px; }
    .card { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; min-width: 0; }
    .card.wide { grid-column: 1 / -1; }
    .card-head { display: flex; justify-content: space-between; align-items: baseline; gap: 12px; }
    .big { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }

    .badge { display: inline-block; padding: 1px 12px; border-radius: 999px; font-size: 16px; font-weight: 600; }
    .badge.ok { background: var(--ok-bg); color: var(--ok); }
    .badge.bad { background: var(--bad-bg); color: var(--bad); }
    .problems { margin: 6px 0 0; padding-left: 18px; font-size: 12px; color: var(--bad); }
    .dot::before { content: ""; display: inline-block; width: 10px; height: 10px; margin-right: 8px; border-radius: 50%; background: var(--muted); vertical-align: 1px; }
    .dot.ok::before { background: var(--ok); }
    .dot.bad::before { background: var(--bad); }

    .meter { height: 6px; margin-top: 8px; border-radius: 3px; background: #e7eaee; overflow: hidden; }
    .meter > div { width: 0; height: 100%; background: var(--accent); }
    .meter.high > div { background: var(--bad); }

    .chart { display: block; width: 100%; height: 140px; margin-top: 8px; overflow: visible; }
    .series { fill: none; stroke: var(--accent); stroke-width: 1.5; stroke-linejoin: round; vector-effect: non-scaling-stroke; }
    .area { fill: var(--accent); fill-opacity: .12; stroke: none; }
    .grid { stroke: var(--line); stroke-width: 1; vector-effect: non-scaling-stroke; }
    .grid.peak { stroke-dasharray: 3 3; }
    .axis { display: flex; justify-content: space-between; font-size: 11px; color: var(--muted); }
    .stats { display: flex; gap: 28px; margin: 8px 0 0; }
    .stats div { display: flex; align-items: baseline; gap: 6px; }
    .stats dt { font-size: 12px; color: var(--muted); }
    .stats dd { margin: 0; font-weight: 600; font-variant-numeric: tabular-nums; }

    .table-wrap { overflow-x: auto; margin-top: 6px; }
    table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
    th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: middle; white-space: nowrap; }
    th { font-size: 12px; font-weight: 600; color: var(--muted); background: #fafbfc; }
    tbody tr:hover { background: #f6f8fb; }
    th.num, td.num { text-align: right; }
    tr.empty td { padding: 18px; text-align: center; color: var(--muted); }
    .name { display: block; font-family: var(--sans); font-size: 12px; color: var(--muted); }
    .tag { margin-left: 6px; padding: 0 5px; border-radius: 3px; font-family: var(--sans); font-size: 11px; background: #eceff3; color: var(--muted); }
    .stale { color: var(--warn); }
    .low { color: var(--bad); }
    .sparkline { display: block; width: 120px; height: 22px; overflow: visible; }

    .signin { display: flex; min-height: 100vh; align-items: center; justify-content: center; }
    .signin-box { width: 320px; padding: 24px; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; }
    .signin-box h1 { margin-bottom: 2px; }
    .signin-box label { display: block; margin: 12px 0 4px; font-size: 12px; font-weight: 600; color: var(--muted); }
    .signin-box input { width: 100%; padding: 7px 9px; font: inherit; border: 1px solid var(--line); border-radius: 4px; }
    .signin-box input:focus { outline: 2px solid #bcd0f5; border-color: var(--accent); }
    .signin-box button { width: 100%; margin-top: 18px; padding: 8px; }
    .message { margin-top: 14px; padding: 7px 10px; border-radius: 4px; font-size: 13px; background: var(--bad-bg); color: var(--bad); }
    .message:empty { display: none; }
    """#
}
