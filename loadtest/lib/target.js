// What every script does before its load: make sure the target is up (and fail fast, with a
// message that says what to do, when it is not), learn its stations and routes, warm routes up.
import { sleep } from 'k6';
import http from 'k6/http';
import { config } from './config.js';
import { admin, board, json, params } from './http.js';

/**
 * Waits (bounded by READY_TIMEOUT_S) until `${url}/readyz` answers 200; throws otherwise, which
 * makes k6 stop before any load with a non-zero exit code.
 */
export function waitUntilReady(url, what) {
  const deadline = Date.now() + config.readyTimeoutSeconds * 1000;
  let last = 'no answer';
  while (Date.now() < deadline) {
    const res = http.get(`${url}/readyz`, params({ timeout: '2s', tags: { name: 'GET /readyz' } }));
    if (res.status === 200) return;
    last = res.error || `HTTP ${res.status}`;
    sleep(0.5);
  }
  throw new Error(
    `${what} at ${url} is not ready after ${config.readyTimeoutSeconds} s (${last}). Start the application ` +
      '(npm start, or docker compose up) or point the script elsewhere (BASE_URL, RAILSIM_URL).',
  );
}

/** Checks rail-sim's admin API answers with ADMIN_TOKEN; throws a message that says what is wrong. */
export function requireRailSimAdmin() {
  const res = admin('GET', `${config.railsimUrl}/admin/faults`, undefined, {
    responseCallback: http.expectedStatuses(200, 401, 403, 404),
  });
  if (res.status !== 200) {
    throw new Error(
      `rail-sim's admin API at ${config.railsimUrl}/admin answered ${res.status || res.error}: ` +
        'set RAILSIM_URL and ADMIN_TOKEN (npm start uses dev-admin-token).',
    );
  }
}

/** The gateway's stations and named routes. */
export function catalog() {
  const routes = json(
    http.get(`${config.baseUrl}/api/routes`, params({ tags: { name: 'GET /api/routes' } })),
  );
  const stations = json(
    http.get(`${config.baseUrl}/api/stations`, params({ tags: { name: 'GET /api/stations' } })),
  );
  if (!routes?.routes?.length || !stations?.stations?.length) {
    throw new Error(`${config.baseUrl}/api/routes or /api/stations did not list anything`);
  }
  return {
    routes: routes.routes.map((r) => ({ from: r.from, to: r.to })),
    stations: stations.stations.map((s) => s.crs),
  };
}

/** Every ordered pair of distinct stations, minus `exclude`, shuffled with `seed`. */
export function otherPairs(stations, exclude, seed) {
  const taken = new Set(exclude.map((r) => `${r.from}>${r.to}`));
  const pairs = [];
  for (const from of stations) {
    for (const to of stations) if (from !== to && !taken.has(`${from}>${to}`)) pairs.push({ from, to });
  }
  // mulberry32: a small seeded PRNG, so a run's route choice can be repeated (SEED=...).
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = pairs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pairs[i], pairs[j]] = [pairs[j], pairs[i]];
  }
  return pairs;
}

/**
 * Asks for each route until a fresh board comes back (a few tries each), so the platform has
 * seen every route before the scenario starts. Paced, so warming up bans nobody by itself.
 */
export function warmUp(routes, pauseSeconds = 0.2) {
  const cold = [];
  for (const route of routes) {
    let fresh = false;
    for (let attempt = 0; attempt < 5 && !fresh; attempt++) {
      fresh = board(route, { tags: { phase: 'setup' } }).source === 'fresh';
      if (!fresh) sleep(0.5);
    }
    if (!fresh) cold.push(`${route.from}>${route.to}`);
    sleep(pauseSeconds);
  }
  if (cold.length > 0)
    throw new Error(`no fresh board for ${cold.join(', ')} during warm-up: is the platform banned already?`);
}

/**
 * The gateway limits requests per client IP (RATE_LIMIT_PER_MIN, 300 by default) and k6 is one
 * client: throws, naming the setting, when the limit is below what the script will send, instead
 * of letting a run of 429s pass for a verdict on ban handling. Reads the draft-8 RateLimit-Policy
 * header (`"300-in-1min"; q=300; w=60`); no header, no limit to check.
 */
export function requireClientLimit(perMinute, remedy = 'or lower RATE') {
  const res = http.get(`${config.baseUrl}/api/routes`, params({ tags: { name: 'GET /api/routes' } }));
  const policy = String(res.headers['Ratelimit-Policy'] ?? '');
  const quota = Number(policy.match(/\bq=(\d+)/)?.[1]);
  const window = Number(policy.match(/\bw=(\d+)/)?.[1]);
  if (!quota || !window) return;
  const allowed = (quota * 60) / window;
  if (allowed < perMinute) {
    throw new Error(
      `the gateway allows ${allowed} requests a minute from one client and this run sends about ${Math.ceil(perMinute)}: ` +
        `start it with RATE_LIMIT_PER_MIN=1000000 (docs/load-testing.md), ${remedy}.`,
    );
  }
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * The addresses rail-sim sees the departures replicas call from, for ban-recovery to ban:
 * REPLICA_IPS when set (compose passes the containers' fixed addresses); else the replicas the
 * gateway knows, when it knows them by IP (Kubernetes: the headless Service's pod IPs, which
 * are also their source addresses inside the cluster); else the loopback aliases of `npm start`.
 */
export function replicaAddresses() {
  if (__ENV.REPLICA_IPS) return config.replicaIps;
  const res = admin('GET', `${config.gatewayOpsUrl}/admin/upstreams`, undefined, {
    responseCallback: http.expectedStatuses(200, 401, 403, 404),
  });
  // Members are named (departures-a); their address is in `url`, which only the ops port shows.
  const hosts = (json(res)?.members ?? []).map((m) =>
    String(m.url ?? '').replace(/^https?:\/\/|:\d+\/?$/g, ''),
  );
  const remote = hosts.filter((h) => IPV4.test(h) && !h.startsWith('127.'));
  return remote.length > 0 && remote.length === hosts.length ? remote : config.replicaIps;
}

/**
 * setup() of a ban scenario: the gateway and rail-sim are up, rail-sim's admin API takes
 * ADMIN_TOKEN, and the gateway's per-client limit lets `perMinute` requests through (else the
 * error names RATE_LIMIT_PER_MIN and `remedy`).
 */
export function requireBanScenarioTarget(perMinute, remedy) {
  waitUntilReady(config.baseUrl, 'The gateway');
  waitUntilReady(config.railsimUrl, 'rail-sim');
  requireRailSimAdmin();
  requireClientLimit(perMinute, remedy);
}

/** The seed of this run's random choices: SEED, else the clock (repeated runs pick other pairs). */
export function runSeed() {
  return Number(__ENV.SEED || Date.now() % 2 ** 31);
}

/** The target's named routes, topped up with other station pairs to `count`. */
export function routesUpTo(count) {
  const { routes: named, stations } = catalog();
  return [...named, ...otherPairs(stations, named, runSeed())].slice(0, Math.max(named.length, count));
}
