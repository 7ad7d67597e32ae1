// Smoke: every public route answers, with two users for a short while. Run it first against any
// deployment; if this fails, the other scripts would only measure a broken target.
import { check, sleep } from 'k6';
import http from 'k6/http';
import { config, SHORT } from './lib/config.js';
import { board, checkBoard, get, json } from './lib/http.js';
import { profile } from './lib/profiles.js';
import { reportSources, SYSTEM_TAGS, summaryHandler, TREND_STATS } from './lib/summary.js';
import { catalog, waitUntilReady } from './lib/target.js';

export const options = {
  scenarios: { smoke: profile('smoke', { duration: __ENV.DURATION || (SHORT ? '10s' : '30s') }) },
  thresholds: {
    // Nothing may fail and every answer must be right: there is no load to excuse anything.
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
    // Board answers on an idle platform: a cache hit takes milliseconds, an upstream call up to
    // rail-sim's 250 ms; 1 s is the gateway's latency alert (GatewayLatencyP95High).
    'http_req_duration{name:GET /api/departures}': ['p(95)<1000'],
    ...reportSources,
  },
  summaryTrendStats: TREND_STATS,
  systemTags: SYSTEM_TAGS,
};

export function setup() {
  waitUntilReady(config.baseUrl, 'The gateway');
  return catalog();
}

const expectedStatus = (status) => ({ responseCallback: http.expectedStatuses(status) });

// One user, a pause between rounds: about 4 requests a second, under the gateway's default
// per-client limit (300 a minute), so smoke runs against `npm start` as it comes.
export default function ({ routes, stations }) {
  const page = get(`${config.baseUrl}/`, { tags: { name: 'GET /' } });
  check(page, {
    'board page: 200 HTML': (r) => r.status === 200 && /text\/html/.test(r.headers['Content-Type']),
  });

  const list = get(`${config.baseUrl}/api/routes`, { tags: { name: 'GET /api/routes' } });
  check(list, { 'routes: 200 with routes': (r) => r.status === 200 && json(r)?.routes?.length > 0 });
  const all = get(`${config.baseUrl}/api/stations`, { tags: { name: 'GET /api/stations' } });
  check(all, {
    'stations: 200 with stations': (r) => r.status === 200 && json(r)?.stations?.length === stations.length,
  });

  for (const route of routes) checkBoard(board(route), 'board');

  // Bad input is a 400 problem that names the field, never a 5xx.
  const bad = get(`${config.baseUrl}/api/departures?from=WHP&to=X1`, {
    tags: { name: 'GET /api/departures (bad input)' },
    ...expectedStatus(400),
  });
  check(bad, {
    'bad input: 400 problem naming the field': (r) =>
      r.status === 400 &&
      /application\/problem\+json/.test(r.headers['Content-Type']) &&
      /\bto\b/.test(json(r)?.detail ?? ''),
  });

  for (const path of ['/healthz', '/readyz']) {
    check(get(`${config.baseUrl}${path}`, { tags: { name: `GET ${path}` } }), {
      [`${path}: 200`]: (r) => r.status === 200,
    });
  }
  sleep(2);
}

export const handleSummary = summaryHandler('smoke');
