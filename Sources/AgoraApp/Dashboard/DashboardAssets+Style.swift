extension DashboardAssets {
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
