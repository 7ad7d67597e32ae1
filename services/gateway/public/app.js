// The departures board: route picker, board table, stale banner, and the request and trace IDs
// of the data shown. No framework: a few fetches and DOM updates.

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 30_000;
let stations = [];
let routes = [];
let refreshTimer;

function option(value, label) {
  const el = document.createElement('option');
  el.value = value;
  el.textContent = label;
  return el;
}

function stationName(crs) {
  return stations.find((s) => s.crs === crs)?.name ?? crs;
}

function minutesText(seconds) {
  const minutes = Math.round(seconds / 60);
  if (minutes < 1) return 'less than a minute';
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

function statusOf(service) {
  if (service.isCancelled || service.etd === 'Cancelled') {
    return {
      css: 'cancelled',
      text: `Cancelled${service.cancelReason ? `: ${service.cancelReason.replace(/^This train has been cancelled because of /, '')}` : ''}`,
    };
  }
  if (service.etd === 'On time') return { css: 'on-time', text: 'On time' };
  const reason = service.delayReason
    ? `: ${service.delayReason.replace(/^This train has been delayed by /, '')}`
    : '';
  if (service.etd === 'Delayed') return { css: 'late', text: `Delayed${reason}` };
  return { css: 'late', text: `Late${reason}` };
}

function renderBoard(data) {
  const body = $('board').querySelector('tbody');
  body.replaceChildren();
  const services = data.board.trainServices ?? [];
  for (const service of services) {
    const status = statusOf(service);
    const row = document.createElement('tr');
    row.className = status.css;
    const cells = [
      ['time', service.std],
      ['destination', (service.destination ?? []).map((d) => d.locationName).join(' & ')],
      ['platform', service.platform ?? '–'],
      ['expected', service.etd],
      ['status', status.text],
    ];
    for (const [css, text] of cells) {
      const td = document.createElement('td');
      td.className = css;
      td.textContent = text;
      row.append(td);
    }
    body.append(row);
  }
  $('empty').hidden = services.length > 0;
  $('board-title').textContent = `${data.from.name} to ${data.to.name}`;
  document.title = `${data.from.name} to ${data.to.name} — Failway`;
  const banner = $('stale-banner');
  if (data.stale) {
    banner.textContent = `Live times are unavailable right now. These trains are from ${minutesText(data.ageSeconds)} ago.`;
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
  $('served-by').textContent = `${data.servedBy} (${data.source})`;
  const fetched = $('fetched-at');
  fetched.dateTime = data.fetchedAt;
  fetched.textContent = new Date(data.fetchedAt).toLocaleTimeString();
}

function showIds(res) {
  $('request-id').textContent = res.headers.get('x-request-id') ?? '–';
  $('trace-id').textContent = res.headers.get('x-trace-id') ?? '–';
}

async function loadBoard(from, to) {
  clearTimeout(refreshTimer);
  $('loading').textContent = 'Loading trains…';
  $('error').hidden = true;
  try {
    const res = await fetch(
      `/api/departures?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&rows=10`,
      {
        headers: { accept: 'application/json' },
      },
    );
    showIds(res);
    const data = await res.json();
    if (!res.ok) {
      $('board').querySelector('tbody').replaceChildren();
      $('stale-banner').hidden = true;
      $('board-title').textContent = `${stationName(from)} to ${stationName(to)}`;
      $('error').textContent = data.detail ?? `The board could not be loaded (${res.status}).`;
      $('error').hidden = false;
    } else {
      renderBoard(data);
    }
  } catch {
    $('error').textContent = 'The board could not be loaded: check your connection.';
    $('error').hidden = false;
  } finally {
    $('loading').textContent = '';
    refreshTimer = setTimeout(() => loadBoard(from, to), REFRESH_MS);
  }
}

function choose(from, to) {
  $('from').value = from;
  $('to').value = to;
  const preset = routes.find((r) => r.from === from && r.to === to);
  $('preset').value = preset ? preset.id : '';
  const url = new URL(window.location.href);
  url.searchParams.set('from', from);
  url.searchParams.set('to', to);
  history.replaceState(null, '', url);
  return loadBoard(from, to);
}

async function start() {
  try {
    const [routesRes, stationsRes] = await Promise.all([fetch('/api/routes'), fetch('/api/stations')]);
    if (!routesRes.ok || !stationsRes.ok) throw new Error('catalog unavailable');
    const catalog = await routesRes.json();
    routes = catalog.routes;
    stations = (await stationsRes.json()).stations;
    for (const s of stations) {
      $('from').append(option(s.crs, s.name));
      $('to').append(option(s.crs, s.name));
    }
    for (const r of routes) $('preset').append(option(r.id, r.name));
    const params = new URL(window.location.href).searchParams;
    const known = (crs) => stations.some((s) => s.crs === crs);
    const from = known(params.get('from')?.toUpperCase())
      ? params.get('from').toUpperCase()
      : catalog.defaultRoute.from;
    const to = known(params.get('to')?.toUpperCase())
      ? params.get('to').toUpperCase()
      : catalog.defaultRoute.to;
    await choose(from, to);
  } catch {
    $('board-title').textContent = 'Departures';
    $('error').textContent = 'The list of stations could not be loaded. Try again in a few seconds.';
    $('error').hidden = false;
  }
}

$('preset').addEventListener('change', (event) => {
  const route = routes.find((r) => r.id === event.target.value);
  if (route) void choose(route.from, route.to);
});
$('route-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const from = $('from').value;
  const to = $('to').value;
  if (from === to) {
    $('error').textContent = 'Pick two different stations.';
    $('error').hidden = false;
    return;
  }
  void choose(from, to);
});

void start();
