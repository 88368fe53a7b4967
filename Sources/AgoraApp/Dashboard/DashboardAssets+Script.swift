extension DashboardAssets {
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

        // The trust model for this viewer: dependability, then the gateway's sealed reliability.
        const trust = el('td', 'num', decimal(num(sensor.dependability)));
        trust.title = 'reputation ' + decimal(num(sensor.reputation)) + ' from ' + count(num(sensor.ratings)) + ' ratings; reliability '
          + (typeof sensor.reliability === 'number' ? decimal(sensor.reliability) : 'not sealed yet');
        if (num(sensor.ratings) === 0) trust.classList.add('muted');

        row.append(id, el('td', '', String(sensor.kind || '')), el('td', 'mono', String(sensor.owner || '')),
          last, el('td', 'num', value), delivery, trust, sparkCell);
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
          cell.colSpan = 8;
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
}
