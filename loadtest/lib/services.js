// What the services say about themselves: counters from their /metrics (Prometheus text; rail-sim
// serves it on its API port, the gateway on its ops port, GATEWAY_OPS_URL) and the gateway's view
// of its departures replicas (GET /admin/upstreams, also on the ops port). Scripts read counters before
// and after their load and judge the difference, so they work against a long-lived target too.
import http from 'k6/http';
import { config } from './config.js';
import { admin, json, params } from './http.js';

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Every sample of `${url}/metrics`: [{name, labels, value}]; throws when it cannot be read. */
export function scrape(url) {
  const res = http.get(`${url}/metrics`, params({ tags: { name: 'GET /metrics' } }));
  if (res.status !== 200)
    throw new Error(
      `${url}/metrics answered ${res.status || res.error}: the script reads the services' counters`,
    );
  const samples = [];
  for (const line of String(res.body).split('\n')) {
    if (line.startsWith('#')) continue;
    const m = line.match(SAMPLE);
    if (!m) continue;
    const labels = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(LABEL)) labels[k] = v;
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of `name` over the samples whose labels include `labels` (0 when there are none). */
export function total(samples, name, labels = {}) {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Board requests rail-sim has answered, whatever the outcome: every upstream call of the fleet. */
export function upstreamCalls() {
  const samples = scrape(config.railsimUrl);
  if (!samples.some((s) => s.name.startsWith('railsim_'))) {
    throw new Error(`${config.railsimUrl}/metrics has no railsim_* metrics: is RAILSIM_URL rail-sim?`);
  }
  return total(samples, 'railsim_requests_total');
}

/** The gateway's counters the scripts judge: ejections, affinity misses, new-route refusals. */
export function gatewayCounters() {
  const samples = scrape(config.gatewayOpsUrl);
  return {
    ejections: total(samples, 'gateway_member_ejections_total'),
    missesBanned: total(samples, 'gateway_affinity_misses_total', { reason: 'banned' }),
    newRouteLimited: total(samples, 'gateway_new_route_limited_total'),
  };
}

/** The gateway's departures replicas ({name, state, ...}); throws naming ADMIN_TOKEN when refused. */
export function upstreamMembers() {
  const res = admin('GET', `${config.gatewayOpsUrl}/admin/upstreams`, undefined, {
    responseCallback: http.expectedStatuses(200, 401, 403, 404),
  });
  const members = json(res)?.members;
  if (res.status !== 200 || !Array.isArray(members)) {
    throw new Error(
      `the gateway's GET ${config.gatewayOpsUrl}/admin/upstreams answered ${res.status || res.error}: set GATEWAY_OPS_URL to its ops port and ADMIN_TOKEN to its admin token`,
    );
  }
  return members;
}
