// Route browse: one departures replica is banned by the upstream (through rail-sim's admin API, in
// setup) while people browse: the route list, the stations, every saved route's board and random
// station pairs. The gateway must route around the banned replica: every answer a 200, no replica
// ejected (a ban is not a failure of the replica; its 503 `banned` sends the request to the next
// one), and the ban must show: the gateway lists exactly one replica as banned, and boards of the
// routes it owns were served by another (gateway_affinity_misses_total{reason="banned"}).
import { check, sleep } from 'k6';
import { Counter } from 'k6/metrics';
import { config, SHORT, seconds } from './lib/config.js';
import { board, checkBoard, get } from './lib/http.js';
import { ban, lift } from './lib/railsim.js';
import { gatewayCounters, upstreamMembers } from './lib/services.js';
import { reportSources, SYSTEM_TAGS, summaryHandler, TREND_STATS } from './lib/summary.js';
import { catalog, otherPairs, replicaAddresses, requireBanScenarioTarget, runSeed } from './lib/target.js';

const USERS = config.number('USERS', 5);
/**
 * Random station pairs people look at besides the saved routes. With the 6 saved routes, 18
 * routes in all: under the gateway's new-route limit (NEW_ROUTES_PER_CLIENT_PER_MIN, 20 a minute
 * per client) even when every user is one address, so the script runs against any target as it is.
 */
const PAIRS = config.number('PAIRS', 12);
const DURATION = __ENV.DURATION || (SHORT ? '20s' : '2m');
/** Boards asked for: a round (below) is 8 boards (6 saved routes, 2 pairs) and about 3 s per user. */
const PLANNED_BOARDS = Math.floor((USERS * seconds(DURATION)) / 3) * 8;
/** Long enough for the run, and over by itself soon after should teardown not lift it. */
const BAN_SECONDS = Math.ceil(seconds(DURATION)) + 60;

/** Replicas the gateway ejected during the run (gateway_member_ejections_total): must be none. */
const ejections = new Counter('replica_ejections');
/** Replicas the gateway lists as banned at the end: exactly the one banned. */
const bannedReplicas = new Counter('banned_replicas');
/** Boards of the banned replica's routes served by another (affinity misses, reason banned). */
const failovers = new Counter('ban_failovers');

export const options = {
  scenarios: {
    browse: { executor: 'constant-vus', vus: USERS, duration: DURATION },
  },
  thresholds: {
    // One replica is banned and the other is fine: nothing may fail, and a 503 is a failure.
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
    // A ban is not a broken replica: no ejection (that would also cost the routes it could
    // still serve from its cache).
    replica_ejections: ['count==0'],
    // The ban happened and was routed around: the gateway sees exactly one banned replica, and
    // boards of routes that replica owns were served by another.
    banned_replicas: ['count==1'],
    ban_failovers: ['count>0'],
    // The browsing happened: at least 70 % of the boards planned.
    answers: [`count>${Math.floor(PLANNED_BOARDS * 0.7)}`],
    stale_answers: ['rate>=0'],
    ...reportSources,
  },
  summaryTrendStats: TREND_STATS,
  systemTags: SYSTEM_TAGS,
};

export function setup() {
  // A round: 10 requests in about 3 s (at most 2.6 s of pauses) per user.
  requireBanScenarioTarget(USERS * 10 * 25 + 60);
  const notReady = upstreamMembers().filter((m) => m.state !== 'ready');
  if (notReady.length > 0) {
    throw new Error(
      `the gateway has replicas that are not ready before the ban (${notReady.map((m) => `${m.name} ${m.state}`).join(', ')}): wait for them or lift their bans`,
    );
  }
  const { routes, stations } = catalog();
  const [target, other] = replicaAddresses();
  if (!target || target === other) {
    throw new Error(
      `the replicas do not call rail-sim from distinct addresses (${target}, ${other}): banning one bans both; set REPLICA_IPS`,
    );
  }
  const res = ban(target, BAN_SECONDS);
  if (res.status !== 201) throw new Error(`rail-sim refused to ban ${target}: ${res.status} ${res.body}`);
  return {
    routes,
    pairs: otherPairs(stations, routes, runSeed()).slice(0, PAIRS),
    banned: target,
    before: gatewayCounters(),
  };
}

const pick = (list) => list[Math.floor(Math.random() * list.length)];

/** One person's round: the lists, every saved route in turn, two other pairs, a pause. */
export default function ({ routes, pairs }) {
  const lists = [
    get(`${config.baseUrl}/api/routes`, { tags: { name: 'GET /api/routes' } }),
    get(`${config.baseUrl}/api/stations`, { tags: { name: 'GET /api/stations' } }),
  ];
  check(lists, { 'lists: 200': (all) => all.every((r) => r.status === 200) });
  for (const route of routes) {
    checkBoard(board(route, { tags: { kind: 'saved' } }), 'saved route');
    sleep(0.2);
  }
  for (const route of [pick(pairs), pick(pairs)]) {
    checkBoard(board(route, { tags: { kind: 'pair' } }), 'station pair');
    sleep(0.2);
  }
  sleep(1);
}

export function teardown({ banned, before }) {
  try {
    const after = gatewayCounters();
    ejections.add(after.ejections - before.ejections);
    failovers.add(after.missesBanned - before.missesBanned);
    const members = upstreamMembers();
    const bannedNow = members.filter((m) => m.state === 'banned');
    bannedReplicas.add(bannedNow.length);
    console.warn(
      `banned ${banned}; the gateway sees ${members.map((m) => `${m.name} ${m.state}`).join(', ')}; ` +
        `${after.missesBanned - before.missesBanned} boards served around the ban, ${after.ejections - before.ejections} ejections`,
    );
  } finally {
    lift(banned);
  }
}

export const handleSummary = summaryHandler('route-browse');
