// Route scan: one client walks through station pairs nobody has asked for, from its own address,
// while commuters on other addresses ask for the saved routes. Every board of a new route costs
// the replicas upstream calls (which the rail API rations, and bans for), so the gateway caps new
// routes per client address (NEW_ROUTES_PER_CLIENT_PER_MIN, 20 a minute): the scanner gets 429s
// once past the cap, and the commuters must not notice it: only 200s, nearly all fresh, no
// replica banned or ejected.
//
// Distinct addresses: k6 gives each VU its own source address from K6_LOCAL_IPS (VU n the n-th
// address; setup and teardown the first), so the scanner (one VU, all its requests from one
// address) and the commuters (one VU each) are different clients to the gateway. That needs a
// target reached over loopback (npm start, npm run test:load): K6_LOCAL_IPS=127.0.0.20-127.0.0.59
// (Linux routes all of 127/8 to lo). Without it, every VU is one client and the gateway's
// per-client request limit must allow the whole run (setup checks it).
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { config, SHORT, seconds } from './lib/config.js';
import { board, checkBoard } from './lib/http.js';
import { banKey, bans } from './lib/railsim.js';
import { gatewayCounters, upstreamMembers } from './lib/services.js';
import { reportSources, SYSTEM_TAGS, summaryHandler, TREND_STATS } from './lib/summary.js';
import {
  catalog,
  otherPairs,
  requireBanScenarioTarget,
  runSeed,
  waitUntilReady,
  warmUp,
} from './lib/target.js';

const COMMUTERS = config.number('COMMUTERS', 20);
/** Unseen pairs the scanner asks for per second. */
const SCAN_RATE = config.number('SCAN_RATE', 2);
const DURATION = __ENV.DURATION || (SHORT ? '30s' : '2m');
/** The gateway's NEW_ROUTES_PER_CLIENT_PER_MIN (its default 20). */
const NEW_ROUTES_PER_MIN = config.number('NEW_ROUTES_PER_CLIENT_PER_MIN', 20);
const LOCAL_IPS = __ENV.K6_LOCAL_IPS || '';
/**
 * Most new routes one address can be served in the run: the cap in each minute the run (and its
 * setup, up to 15 s, whose warm-up sends from the first address) started. One gateway replica:
 * behind several, each keeps its own count.
 */
const SCANNER_MAX_SERVED = NEW_ROUTES_PER_MIN * Math.ceil((seconds(DURATION) + 15) / 60);
/** Commuter answers planned: one a second each. */
const PLANNED = COMMUTERS * seconds(DURATION);

/** Refusals the gateway counted (gateway_new_route_limited_total) during the run. */
const newRouteLimited = new Counter('new_routes_limited');
const ejections = new Counter('replica_ejections');
/** Replicas the gateway lists as banned at the end, and bans rail-sim started during the run. */
const bannedReplicas = new Counter('banned_replicas');
const bansObserved = new Counter('bans_observed');

export const options = {
  scenarios: {
    commuters: {
      executor: 'constant-vus',
      vus: COMMUTERS,
      duration: DURATION,
      exec: 'commute',
      tags: { kind: 'commuter' },
    },
    // One VU, so one source address for every request of the scan.
    scanner: { executor: 'constant-vus', vus: 1, duration: DURATION, exec: 'scan', tags: { kind: 'scan' } },
  },
  thresholds: {
    // Commuters do not notice the scan: only 200s, right boards, nearly all fresh.
    'http_req_failed{kind:commuter}': ['rate==0'],
    'checks{kind:commuter}': ['rate==1'],
    'stale_answers{kind:commuter}': ['rate<0.05'],
    // ...and that is a verdict on most of the planned answers (a rate of nothing passes).
    'answers{kind:commuter}': [`count>${Math.floor(PLANNED * 0.8)}`],
    // The scan happened and met the cap: the scanner was served some new routes, at most the cap
    // (more would mean its requests came from several addresses), then refused with 429s the
    // gateway counted.
    'answers{kind:scan,source:fresh}': ['count>0', `count<=${SCANNER_MAX_SERVED}`],
    'answers{kind:scan,source:rejected}': ['count>0'],
    'checks{kind:scan}': ['rate==1'],
    new_routes_limited: ['count>0'],
    // The fleet was not hurt either: no ban, no ejection.
    bans_observed: ['count==0'],
    banned_replicas: ['count==0'],
    replica_ejections: ['count==0'],
    stale_answers: ['rate>=0'],
    ...reportSources,
  },
  summaryTrendStats: TREND_STATS,
  systemTags: SYSTEM_TAGS,
};

/** K6_LOCAL_IPS as a range within one /24 (a.b.c.d-a.b.c.e), to tell which VU sends from where. */
const RANGE = (() => {
  const m = LOCAL_IPS.match(/^(\d+\.\d+\.\d+\.)(\d+)-\1(\d+)$/);
  return m ? { prefix: m[1], first: Number(m[2]), size: Number(m[3]) - Number(m[2]) + 1 } : undefined;
})();

/** The address VU `id` sends from (k6 hands the addresses out in VU order), when known. */
function addressOf(id) {
  return RANGE && `${RANGE.prefix}${RANGE.first + ((Math.max(id, 1) - 1) % RANGE.size)}`;
}

export function setup() {
  waitUntilReady(config.baseUrl, 'The gateway');
  if (RANGE && RANGE.size < COMMUTERS + 1)
    throw new Error(`K6_LOCAL_IPS ${LOCAL_IPS} has fewer addresses than the ${COMMUTERS + 1} VUs`);
  // Per address: a commuter sends about 60 requests a minute and the scanner SCAN_RATE a second;
  // all on one address without K6_LOCAL_IPS.
  requireBanScenarioTarget(
    LOCAL_IPS ? Math.max(60, SCAN_RATE * 60) + 60 : (COMMUTERS + SCAN_RATE) * 60 + 60,
    'or, against a target on loopback, give each VU its own address: K6_LOCAL_IPS=127.0.0.20-127.0.0.59',
  );
  const notReady = upstreamMembers().filter((m) => m.state !== 'ready');
  if (notReady.length > 0)
    throw new Error(
      `replicas not ready before the run: ${notReady.map((m) => `${m.name} ${m.state}`).join(', ')}`,
    );
  const { routes, stations } = catalog();
  // The commuters' routes are known before the scan starts, as on a platform in use.
  warmUp(routes);
  return {
    routes,
    unseen: otherPairs(stations, routes, runSeed()),
    before: gatewayCounters(),
    bansBefore: bans().history.map(banKey),
  };
}

export function commute({ routes }) {
  const answer = board(routes[Math.floor(Math.random() * routes.length)], { tags: { kind: 'commuter' } });
  checkBoard(answer, 'commuter');
  sleep(1);
}

export function scan({ unseen }) {
  const i = exec.scenario.iterationInTest;
  if (i === 0)
    console.warn(
      `the scanner is VU ${exec.vu.idInTest}, sending from ${addressOf(exec.vu.idInInstance) ?? "k6's one address"}`,
    );
  const { res, body } = board(unseen[i % unseen.length], {
    tags: { kind: 'scan' },
    // Refusals (429) and spent budgets (503) are what a scan may get; they are not failures.
    responseCallback: http.expectedStatuses(200, 429, 503),
  });
  check(res, {
    'scanner: a board, or refused past the cap': (r) => [200, 429, 503].includes(r.status),
    'scanner: a 429 is the new-route limit, with Retry-After': (r) =>
      r.status !== 429 ||
      (body?.type === 'urn:failway:problem:new-routes-rate-limited' && Number(r.headers['Retry-After']) >= 1),
  });
  sleep(1 / SCAN_RATE);
}

export function teardown({ before, bansBefore }) {
  const after = gatewayCounters();
  newRouteLimited.add(after.newRouteLimited - before.newRouteLimited);
  ejections.add(after.ejections - before.ejections);
  const members = upstreamMembers();
  bannedReplicas.add(members.filter((m) => m.state === 'banned').length);
  const seen = new Set(bansBefore);
  const started = bans().history.filter((b) => !seen.has(banKey(b)));
  bansObserved.add(started.length);
  console.warn(
    `the gateway refused ${after.newRouteLimited - before.newRouteLimited} new routes; replicas ${members
      .map((m) => `${m.name} ${m.state}`)
      .join(', ')}; ${started.length} bans during the run`,
  );
}

export const handleSummary = summaryHandler('route-scan');
