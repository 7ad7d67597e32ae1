// Ban recovery: mid-run, every departures replica is banned through rail-sim's admin API. While
// they are banned, routes the platform has seen get their last good board, marked stale, and
// only never-seen routes get 503 with Retry-After. Then the bans are lifted and fresh boards must
// be back within a bound.
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Trend } from 'k6/metrics';
import { config, SHORT } from './lib/config.js';
import { board, checkBoard } from './lib/http.js';
import { ban, lift } from './lib/railsim.js';
import { reportSources, SYSTEM_TAGS, summaryHandler, TREND_STATS } from './lib/summary.js';
import {
  catalog,
  otherPairs,
  replicaAddresses,
  requireBanScenarioTarget,
  runSeed,
  warmUp,
} from './lib/target.js';

const RATE = config.number('RATE', SHORT ? 10 : 20);
/** Seconds from lifting the bans until every seen route must be fresh again. */
const FRESH_WITHIN_S = config.number('FRESH_WITHIN_S', SHORT ? 15 : 30);
/**
 * Phases in seconds from the start: steady load, the ban, a settle time (the replicas notice the
 * ban on their next upstream call and say so on /readyz, which the gateway checks every 2 s),
 * the banned phase, the lift, and load after it.
 */
const T = SHORT
  ? { ban: 8, settle: 4, banned: 15, after: 15 }
  : { ban: 30, settle: 5, banned: 60, after: 45 };
const bannedFrom = T.ban + T.settle;
const liftAt = bannedFrom + T.banned + 1;
// Bans a little longer than they are needed: lifted early by the script, and also over by
// themselves soon after, so fresh boards return within the bound however long the replicas
// wait before probing a ban (BAN_PROBE_INTERVAL_S, 300 s by default).
const BAN_SECONDS = liftAt - T.ban + 5;

/** Seconds from lifting the bans until each seen route answered fresh again. */
const recoverySeconds = new Trend('recovery_seconds');

const arrival = (rate, from, seconds, exec, phase) => ({
  executor: 'constant-arrival-rate',
  rate,
  timeUnit: '1s',
  duration: `${seconds}s`,
  startTime: `${from}s`,
  preAllocatedVUs: rate * 2 + 2,
  maxVUs: rate * 4 + 4,
  exec,
  tags: { phase },
});
const once = (at, exec, phase) => ({
  executor: 'per-vu-iterations',
  vus: 1,
  iterations: 1,
  startTime: `${at}s`,
  maxDuration: `${FRESH_WITHIN_S * 2 + 10}s`,
  exec,
  tags: { phase },
});

export const options = {
  scenarios: {
    before: arrival(RATE, 0, T.ban, 'seen', 'before'),
    ban: once(T.ban, 'banEveryReplica', 'ban'),
    banned: arrival(RATE, bannedFrom, T.banned, 'seenWhileBanned', 'banned'),
    unseen: arrival(1, bannedFrom, T.banned, 'unseenWhileBanned', 'banned'),
    lift: once(liftAt, 'liftBans', 'lift'),
    after: arrival(RATE, liftAt, T.after, 'seen', 'after'),
  },
  thresholds: {
    // Only the 503s of never-seen routes are expected (and not counted as failures).
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    'checks{phase:banned}': ['rate>0.99'],
    // With every replica banned, the seen routes are served from the gateway's last good boards.
    // (A rate of no samples passes: the count makes sure there were answers to judge.)
    'stale_answers{phase:banned,kind:seen}': ['rate>0.95'],
    'answers{phase:banned,kind:seen}': [`count>${T.banned * RATE * 0.8}`],
    // ...and stale boards are memory reads: fast.
    'http_req_duration{phase:banned,kind:seen}': ['p(95)<500'],
    recovery_seconds: [`max<${FRESH_WITHIN_S}`],
    'answers{phase:after,source:fresh}': ['count>0'],
    stale_answers: ['rate>=0'],
    ...reportSources,
  },
  summaryTrendStats: TREND_STATS,
  systemTags: SYSTEM_TAGS,
};

export function setup() {
  requireBanScenarioTarget(RATE * 60 + 120);
  const { routes, stations } = catalog();
  warmUp(routes);
  // Routes nobody has asked for in this run; random, so repeated runs against one long-lived
  // stack are unlikely to pick a pair an earlier run made the gateway remember.
  return {
    routes,
    unseen: otherPairs(stations, routes, runSeed()).slice(0, T.banned * 2 + 10),
    replicas: replicaAddresses(),
  };
}

const pick = (routes) => routes[Math.floor(Math.random() * routes.length)];

export function seen({ routes }) {
  checkBoard(board(pick(routes), { tags: { kind: 'seen' } }));
}

export function banEveryReplica({ unseen, replicas }) {
  for (const ip of replicas) {
    const res = ban(ip, BAN_SECONDS);
    check(res, { 'admin: replica banned': (r) => r.status === 201 });
  }
  // A never-seen route makes every replica call the upstream now and meet the ban, instead of
  // when its cached boards expire; the answer is the 503 a never-seen route should get.
  unseenRoute(unseen[unseen.length - 1]);
}

export function seenWhileBanned({ routes }) {
  const answer = board(pick(routes), { tags: { kind: 'seen' } });
  checkBoard(answer, 'banned, seen route');
  check(answer.res, {
    // No replica can fetch while banned: anything not stale is a cache hit of the last seconds.
    'banned, seen route: stale, or a cache hit': () =>
      answer.body?.stale === true || answer.body?.source === 'cache',
  });
}

function unseenRoute(route) {
  const { res, body } = board(route, {
    tags: { kind: 'unseen' },
    responseCallback: http.expectedStatuses(503),
  });
  const retryAfter = Number(res.headers['Retry-After']);
  check(res, {
    'banned, never-seen route: 503': (r) => r.status === 503,
    'banned, never-seen route: Retry-After in seconds': () => Number.isInteger(retryAfter) && retryAfter >= 1,
    'banned, never-seen route: problem+json': (r) =>
      /application\/problem\+json/.test(r.headers['Content-Type']) && body?.status === 503,
  });
}

export function unseenWhileBanned({ unseen }) {
  unseenRoute(unseen[exec.scenario.iterationInTest % (unseen.length - 1)]);
}

export function liftBans({ routes, replicas }) {
  const liftedAt = Date.now();
  for (const ip of replicas) lift(ip);
  // Until every seen route is fresh again, or twice the bound (the threshold then fails).
  const pending = new Set(routes.map((r) => `${r.from}>${r.to}`));
  while (pending.size > 0 && Date.now() - liftedAt < FRESH_WITHIN_S * 2000) {
    for (const route of routes) {
      const key = `${route.from}>${route.to}`;
      if (!pending.has(key)) continue;
      if (board(route, { tags: { kind: 'probe' } }).source === 'fresh') {
        recoverySeconds.add((Date.now() - liftedAt) / 1000);
        pending.delete(key);
      }
    }
    sleep(0.5);
  }
  for (const key of pending) {
    console.warn(`${key} was not fresh within ${FRESH_WITHIN_S * 2} s of lifting the bans`);
    recoverySeconds.add(FRESH_WITHIN_S * 2);
  }
}

export function teardown({ replicas }) {
  // Leave no ban behind, even when the run was cut short.
  for (const ip of replicas) lift(ip);
}

export const handleSummary = summaryHandler('ban-recovery');
