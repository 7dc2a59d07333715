// DFLB dashboard. Plain browser JavaScript with no build step: the Go
// package embeds this file and serves it next to the vendored uPlot.
//
// Every data request carries the admin token as "Authorization: Bearer".
// The token lives in sessionStorage, so it is gone when the tab closes.
// Live snapshots come from GET api/events, read with fetch because
// EventSource cannot send the Authorization header.
'use strict';

(() => {
  const TOKEN_KEY = 'dflb.adminToken';
  const PAGE_SIZE = 100; // tenant rows rendered at once
  const HISTORY_REFRESH_MS = 10000;
  const RECONNECT_MS = 3000;

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    snapshot: null,
    sortKey: 'requests_per_second',
    sortDesc: true,
    filter: '',
    page: 0,
    history: null, // the last GET api/history body, merged with later points
    charts: {}, // chart element id -> {plot, names}
    abort: null, // AbortController of the running stream and timers
  };

  const $ = (id) => document.getElementById(id);

  // el builds an element. Text goes in through text nodes only, never as
  // HTML, because tenant IDs, reasons and alert texts come from outside.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  // ---- formatting ----

  function fmtRate(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return '–';
    if (v === 0) return '0';
    if (v < 10) return v.toFixed(2);
    if (v < 1000) return v.toFixed(1);
    return Math.round(v).toLocaleString('en-US');
  }

  function fmtMs(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return '–';
    if (v >= 1000) return (v / 1000).toFixed(2) + ' s';
    if (v >= 10) return v.toFixed(0) + ' ms';
    return v.toFixed(1) + ' ms';
  }

  function fmtPercent(ratio) {
    if (!ratio) return '0';
    const percent = ratio * 100;
    return percent.toFixed(percent < 10 ? 2 : 1);
  }

  function fmtTime(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString();
  }

  function fmtDateTime(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
  }

  // ---- authentication ----

  class Unauthorized extends Error {}

  function showAuth(message, isError) {
    stop();
    $('main').hidden = true;
    $('change-token').hidden = true;
    $('auth').hidden = false;
    const msg = $('auth-message');
    msg.textContent = message;
    msg.classList.toggle('error', !!isError);
    setConnection('not connected', '');
    $('token-input').value = '';
    $('token-input').focus();
  }

  function unauthorized() {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = '';
    showAuth('The admin token was rejected (HTTP 401 Unauthorized). Enter the current token.', true);
  }

  $('auth-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const token = $('token-input').value.trim();
    if (!token) {
      showAuth('No admin token entered. Enter the token to load the dashboard.', true);
      return;
    }
    state.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
    start();
  });

  $('change-token').addEventListener('click', () => {
    showAuth('Enter another admin token.', false);
  });

  async function api(path, signal) {
    const res = await fetch(path, {
      headers: { Authorization: 'Bearer ' + state.token },
      cache: 'no-store',
      signal,
    });
    if (res.status === 401) throw new Unauthorized();
    if (!res.ok) {
      let detail = res.statusText;
      try { detail = (await res.json()).error || detail; } catch (_) { /* not JSON */ }
      const err = new Error(`${path}: HTTP ${res.status}: ${detail}`);
      err.status = res.status;
      throw err;
    }
    return res.json();
  }

  function setConnection(text, cls) {
    const c = $('connection');
    c.textContent = text;
    c.className = 'connection ' + (cls || '');
  }

  function showError(message) {
    const e = $('error');
    e.hidden = !message;
    e.textContent = message || '';
  }

  // ---- life cycle ----

  function stop() {
    if (state.abort) state.abort.abort();
    state.abort = null;
  }

  function start() {
    stop();
    const abort = new AbortController();
    state.abort = abort;
    $('auth').hidden = true;
    $('main').hidden = false;
    $('change-token').hidden = false;
    showError('');
    setConnection('connecting', '');

    // The snapshot request finds a wrong token before the stream starts.
    api('api/snapshot', abort.signal)
      .then((snap) => {
        render(snap);
        stream(abort.signal);
        refreshHistory(abort.signal, true);
      })
      .catch((err) => handleFailure(err, abort.signal));
  }

  function handleFailure(err, signal) {
    if (signal.aborted) return;
    if (err instanceof Unauthorized) {
      unauthorized();
      return;
    }
    showError(err.message);
  }

  function sleep(ms, signal) {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
    });
  }

  // stream reads server-sent events from api/events and reconnects after
  // a failure until the signal aborts or the token is rejected.
  async function stream(signal) {
    let retryMs = RECONNECT_MS;
    while (!signal.aborted) {
      try {
        const res = await fetch('api/events', {
          headers: { Authorization: 'Bearer ' + state.token, Accept: 'text/event-stream' },
          cache: 'no-store',
          signal,
        });
        if (res.status === 401) { unauthorized(); return; }
        if (!res.ok || !res.body) throw new Error(`api/events: HTTP ${res.status}`);
        setConnection('live', 'live');
        showError('');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value.replace(/\r\n?/g, '\n');
          let end;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const frame = buf.slice(0, end);
            buf = buf.slice(end + 2);
            const ms = handleFrame(frame);
            if (ms) retryMs = ms;
          }
        }
        if (!signal.aborted) setConnection('reconnecting: the server closed the stream', 'down');
      } catch (err) {
        if (signal.aborted) return;
        setConnection('reconnecting: ' + err.message, 'down');
      }
      await sleep(retryMs, signal);
    }
  }

  // handleFrame applies one event and returns the retry time it sets, if
  // any. Lines starting with ":" are heartbeats.
  function handleFrame(frame) {
    let event = 'message';
    const data = [];
    let retry = 0;
    for (const line of frame.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
    }
    if (event === 'snapshot' && data.length) {
      render(JSON.parse(data.join('\n')));
    }
    return retry;
  }

  // ---- snapshot rendering ----

  function render(snap) {
    state.snapshot = snap;
    $('updated').textContent = `updated ${fmtTime(snap.time)}, rates over ${snap.window}`;
    renderAlerts(snap.alerts || []);
    renderOperation(snap.operation);
    renderInstances(snap.instances || []);
    renderTenants();
    renderDecisions(snap.decisions || []);
    renderNotifications(snap.notifications || []);
  }

  function renderAlerts(alerts) {
    const list = $('alerts');
    list.replaceChildren();
    if (!Array.isArray(alerts) || alerts.length === 0) {
      list.append(el('li', { class: 'muted', text: 'No active alerts.' }));
      return;
    }
    for (const a of alerts) {
      if (typeof a !== 'object' || a === null) {
        list.append(el('li', {}, String(a)));
        continue;
      }
      const since = a.starts_at || a.active_since;
      list.append(el('li', { class: 'alert' },
        a.severity && el('span', { class: 'badge ' + a.severity, text: a.severity }), ' ',
        a.state && el('span', { class: 'badge ' + a.state, text: a.state }), ' ',
        el('strong', { text: a.summary || a.rule || JSON.stringify(a) }),
        since && el('span', { class: 'muted', text: ` since ${fmtDateTime(since)}` }),
        a.description && el('div', { class: 'muted', text: a.description })));
    }
  }

  function renderOperation(op) {
    const box = $('operation');
    box.hidden = !op;
    if (!op) return;
    const moved = (op.moved || []).length;
    box.replaceChildren(
      el('h2', { text: `Operation #${op.id} in progress: ${op.kind}` }),
      el('div', {}, `Step ${op.step}`,
        op.create && op.create.length ? `, creating ${op.create.join(', ')}` : '',
        op.retire && op.retire.length ? `, retiring ${op.retire.join(', ')}` : '',
        moved ? `, moving ${moved} tenant${moved === 1 ? '' : 's'}` : '',
        op.cancelled ? ', being cancelled' : '',
        op.started ? ` (started ${fmtTime(op.started)})` : ''),
      (op.observed || op.reason) && el('div', { class: 'muted' },
        [op.observed, op.reason].filter(Boolean).join(' – ')));
  }

  function listPreview(items, max) {
    if (!items || items.length === 0) return '–';
    const shown = items.slice(0, max).join(', ');
    return items.length > max ? `${shown} and ${items.length - max} more` : shown;
  }

  function renderInstances(instances) {
    const box = $('instances');
    box.replaceChildren();
    if (instances.length === 0) {
      box.append(el('p', { class: 'muted', text: 'No instances.' }));
      return;
    }
    for (const inst of instances) {
      const comps = el('ul', { class: 'components' });
      for (const c of inst.components || []) {
        const status = c.up === null || c.up === undefined ? 'unknown' : (c.up ? 'up' : 'down');
        comps.append(el('li', {},
          el('span', { class: 'badge ' + status, text: status }), ` ${c.name} ${c.addr}`,
          c.inflight ? el('span', { class: 'muted', text: ` (${c.inflight} in flight)` }) : ''));
      }
      if (!comps.childElementCount) comps.append(el('li', { class: 'muted', text: 'none known' }));
      const t = inst.traffic || {};
      box.append(el('article', { class: 'instance', 'data-id': inst.id },
        el('h4', {},
          el('span', { text: inst.id }),
          el('span', { class: 'badge health ' + inst.health, text: inst.health.replace('_', ' ') }),
          el('span', { class: 'badge state ' + inst.state, text: inst.state }),
          inst.origin && el('span', { class: 'badge', text: inst.origin.replace('_', ' ') })),
        el('dl', {},
          inst.address && [el('dt', { text: 'Address' }), el('dd', { text: inst.address })],
          el('dt', { text: 'Components' }), el('dd', {}, comps),
          el('dt', { text: 'Traffic' }),
          el('dd', { text: `${fmtRate(t.requests_per_second)} req/s, ${fmtRate(t.errors_per_second)} err/s, p99 ${fmtMs(t.p99_ms)}, ${t.inflight || 0} in flight` }),
          el('dt', { text: `Tenants (${(inst.tenants || []).length})` }),
          el('dd', { text: listPreview(inst.tenants, 12) }),
          inst.guests && inst.guests.length > 0 && [
            el('dt', { text: `Guests (${inst.guests.length})` }),
            el('dd', { text: listPreview(inst.guests, 12) })])));
    }
  }

  // ---- tenant table ----

  function tenantValue(row, key) {
    if (key === 'instances') return (row.instances || []).join(',');
    if (key === 'charted') return row.charted ? 1 : 0;
    return row[key];
  }

  function compareRows(a, b) {
    const va = tenantValue(a, state.sortKey);
    const vb = tenantValue(b, state.sortKey);
    let c;
    if (typeof va === 'number' || typeof vb === 'number') c = (va || 0) - (vb || 0);
    else c = String(va || '').localeCompare(String(vb || ''));
    if (c === 0) c = a.tenant.localeCompare(b.tenant);
    return state.sortDesc ? -c : c;
  }

  function filteredTenants() {
    const rows = (state.snapshot && state.snapshot.tenants) || [];
    const f = state.filter.toLowerCase();
    const out = f ? rows.filter((r) =>
      r.tenant.includes(f) ||
      (r.placed_on || '').toLowerCase().includes(f) ||
      (r.instances || []).some((i) => i.toLowerCase().includes(f))) : rows.slice();
    out.sort(compareRows);
    return out;
  }

  // renderTenants renders one page of the filtered and sorted rows, so the
  // table holds at most PAGE_SIZE rows however many tenants there are.
  function renderTenants() {
    const rows = filteredTenants();
    const total = (state.snapshot && state.snapshot.tenants || []).length;
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    state.page = Math.min(state.page, pages - 1);
    const first = state.page * PAGE_SIZE;
    const shown = rows.slice(first, first + PAGE_SIZE);

    const body = $('tenants').tBodies[0];
    body.replaceChildren(...shown.map((r) => {
      const guestOn = (r.instances || []).filter((i) => r.placed_on && i !== r.placed_on);
      return el('tr', { 'data-tenant': r.tenant },
        el('td', { text: r.tenant }),
        el('td', { text: r.placed_on || '–' }),
        el('td', { class: guestOn.length ? 'guest' : '', title: guestOn.length ? `also served by ${guestOn.join(', ')} as a guest` : null,
          text: (r.instances || []).join(', ') || 'not routed' }),
        el('td', { class: 'num', text: fmtRate(r.requests_per_second) }),
        el('td', { class: 'num', text: fmtRate(r.errors_per_second) }),
        el('td', { class: 'num', text: fmtPercent(r.error_ratio) }),
        el('td', { class: 'num', text: r.p99_ms ? r.p99_ms.toFixed(1) : '–' }),
        el('td', { class: 'num', text: String(r.inflight || 0) }),
        el('td', { text: r.charted ? 'yes' : '' }));
    }));

    $('tenant-count').textContent = state.filter
      ? `${rows.length} of ${total} tenants match`
      : `${total} tenants`;
    $('page-info').textContent = rows.length
      ? `${first + 1}–${first + shown.length} of ${rows.length}`
      : 'no rows';
    $('page-prev').disabled = state.page === 0;
    $('page-next').disabled = state.page >= pages - 1;
    for (const th of $('tenants').tHead.rows[0].cells) {
      if (th.dataset.key === state.sortKey) th.setAttribute('aria-sort', state.sortDesc ? 'descending' : 'ascending');
      else th.removeAttribute('aria-sort');
    }
  }

  $('tenants').tHead.addEventListener('click', (ev) => {
    const th = ev.target.closest('th');
    if (!th || !th.dataset.key) return;
    if (state.sortKey === th.dataset.key) {
      state.sortDesc = !state.sortDesc;
    } else {
      state.sortKey = th.dataset.key;
      // Numeric columns sort largest first, names alphabetically.
      state.sortDesc = th.classList.contains('num');
    }
    state.page = 0;
    renderTenants();
  });

  $('tenant-filter').addEventListener('input', (ev) => {
    state.filter = ev.target.value.trim();
    state.page = 0;
    renderTenants();
  });
  $('page-prev').addEventListener('click', () => { state.page--; renderTenants(); });
  $('page-next').addEventListener('click', () => { state.page++; renderTenants(); });

  // ---- timelines ----

  function kindClass(kind) {
    if (kind.endsWith('_failed')) return 'failed';
    return 'kind-' + kind.replace(/_done$/, '');
  }

  function renderDecisions(decisions) {
    const list = $('decisions');
    list.replaceChildren();
    if (decisions.length === 0) {
      list.append(el('li', { class: 'muted', text: 'No decisions yet.' }));
      return;
    }
    for (const d of decisions.slice().reverse()) {
      const detail = [
        d.observed && `observed: ${d.observed}`,
        d.reason && `reason: ${d.reason}`,
        d.took && `took ${d.took}`,
        d.op && `op #${d.op}`,
      ].filter(Boolean).join(' · ');
      list.append(el('li', { class: 'decision', 'data-kind': d.kind },
        el('span', { class: 'when', title: fmtDateTime(d.time), text: fmtTime(d.time) }),
        el('span', { class: 'badge ' + kindClass(d.kind), text: d.kind.replace(/_/g, ' ') }), ' ',
        d.instance && el('strong', { text: d.instance + ': ' }),
        d.decided,
        detail && el('div', { class: 'detail', text: detail })));
    }
  }

  function renderNotifications(notes) {
    const list = $('notifications');
    list.replaceChildren();
    if (notes.length === 0) {
      list.append(el('li', { class: 'muted', text: 'No notifications from DFM.' }));
      return;
    }
    for (const n of notes.slice().reverse()) {
      list.append(el('li', {},
        el('span', { class: 'when', title: fmtDateTime(n.time), text: fmtTime(n.time) }),
        el('span', { class: 'badge', text: n.kind }), ' ',
        el('strong', { text: n.instance }),
        n.component && ` ${n.component}`,
        n.reason && el('div', { class: 'detail', text: n.reason })));
    }
  }

  // ---- history and charts ----

  function seriesKeys(h) {
    return JSON.stringify([Object.keys(h.instances).sort(), Object.keys(h.tenants).sort()]);
  }

  // mergeHistory appends the points of a later response to state.history.
  // It returns false for a response whose set of series differs (a tenant
  // entered or left the top), which needs a full reload.
  function mergeHistory(more) {
    const h = state.history;
    if (!h || seriesKeys(h) !== seriesKeys(more)) return false;
    const append = (dst, src) => {
      for (const m of ['requests', 'errors', 'p99_ms']) dst[m].push(...src[m]);
    };
    h.times.push(...more.times);
    append(h.overall, more.overall);
    for (const k of Object.keys(h.instances)) append(h.instances[k], more.instances[k]);
    for (const k of Object.keys(h.tenants)) append(h.tenants[k], more.tenants[k]);

    const excess = h.times.length - h.points;
    if (excess > 0) {
      const trim = (s) => { for (const m of ['requests', 'errors', 'p99_ms']) s[m].splice(0, excess); };
      h.times.splice(0, excess);
      trim(h.overall);
      Object.values(h.instances).forEach(trim);
      Object.values(h.tenants).forEach(trim);
    }
    return true;
  }

  async function refreshHistory(signal, full) {
    while (!signal.aborted) {
      try {
        const last = !full && state.history && state.history.times.length
          ? state.history.times[state.history.times.length - 1] : 0;
        const data = await api(last ? `api/history?since=${last}` : 'api/history', signal);
        if (last && !mergeHistory(data)) {
          full = true;
          continue;
        }
        if (!last) state.history = data;
        full = false;
        drawCharts();
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof Unauthorized) { unauthorized(); return; }
        $('charts-note').textContent = err.status === 404
          ? 'No history: this DFLB serves the dashboard without one.'
          : `Loading the history failed: ${err.message}`;
      }
      await sleep(HISTORY_REFRESH_MS, signal);
    }
  }

  // A series' color follows its name's position in the sorted list of
  // names, so colors change only when the set of names does.
  const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2',
    '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#ad494a', '#637939', '#8c6d31', '#843c39',
    '#7b4173', '#3182bd', '#e6550d', '#31a354', '#756bb1'];

  function drawCharts() {
    const h = state.history;
    if (!h) return;
    const minutes = Math.round(h.points * h.interval_ms / 60000);
    $('charts-note').textContent =
      `One point every ${h.interval_ms / 1000} s for the last ${minutes} minutes. ` +
      `Only the ${h.top_tenants} tenants with the highest request rate are charted; ` +
      `the overall p99 is the highest instance p99, an upper bound.`;
    const xs = h.times.map((t) => t / 1000);
    const instances = Object.keys(h.instances).sort();
    const tenants = Object.keys(h.tenants).sort();
    const metrics = [['requests', 'Requests per second', fmtRate],
      ['errors', 'Errors per second', fmtRate],
      ['p99_ms', 'p99 latency', fmtMs]];
    for (const [metric, title, fmt] of metrics) {
      const suffix = metric === 'p99_ms' ? 'p99' : metric;
      drawChart(`chart-instances-${suffix}`, title, fmt, ['all', ...instances],
        [xs, h.overall[metric], ...instances.map((k) => h.instances[k][metric])]);
      drawChart(`chart-tenants-${suffix}`, title, fmt, tenants,
        [xs, ...tenants.map((k) => h.tenants[k][metric])]);
    }
  }

  function drawChart(id, title, fmt, names, data) {
    const box = $(id);
    let points = 0;
    for (const s of data.slice(1)) points += s.filter((v) => v !== null).length;
    box.dataset.points = String(points);

    const chart = state.charts[id];
    if (chart && JSON.stringify(chart.names) === JSON.stringify(names)) {
      chart.plot.setData(data);
      return;
    }
    if (chart) chart.plot.destroy();
    box.replaceChildren();
    const opts = {
      title,
      width: Math.max(300, box.clientWidth || 400),
      height: 200,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [{}, { size: 60, values: (u, vals) => vals.map(fmt) }],
      series: [{}, ...names.map((name, i) => ({
        label: name,
        stroke: name === 'all' ? '#1d232b' : PALETTE[i % PALETTE.length],
        width: name === 'all' ? 2 : 1.25,
        value: (u, v) => fmt(v),
        points: { show: false },
      }))],
    };
    state.charts[id] = { plot: new uPlot(opts, data, box), names };
  }

  window.addEventListener('resize', () => {
    for (const [id, chart] of Object.entries(state.charts)) {
      const width = Math.max(300, $(id).clientWidth || 400);
      chart.plot.setSize({ width, height: 200 });
    }
  });

  // ---- start ----

  if (state.token) {
    start();
  } else {
    showAuth('No admin token in this tab yet. Enter it to load the dashboard.', false);
  }
})();
