extension DashboardAssets {
    /// The console's shell, served to a signed-in viewer; `script` fills it from
    /// `GET /api/overview`.
    static let dashboardPage = page(title: "Agora gateway", extraHead: #"<script src="/dashboard.js" defer></script>"#, body: #"""
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
                <tr><th>Sensor</th><th>Kind</th><th>Owner</th><th>Last reading</th><th class="num">Last value</th><th class="num">Delivery</th><th class="num">Dependability</th><th>Readings, last 24 h</th></tr>
              </thead>
              <tbody><tr class="empty"><td colspan="8">loading…</td></tr></tbody>
            </table>
          </div>
        </section>
      </div>
    </main>
    </body>
    </html>
    """#)
}
