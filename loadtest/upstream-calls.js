// Upstream calls: how many calls the whole fleet makes to the rail API per route per cache TTL
// under steady load. Every route is asked for several times per TTL, spread evenly, for many
// TTLs; rail-sim counts every call it gets. With route affinity each route has one owner, so one
// replica's cache serves it and the fleet calls about once per route per TTL; with plain round
// robin (the gateway's FAILOVER=off, what it did before affinity) every replica caches every
// route and the fleet calls about once per route per TTL per replica.
import { Counter, Trend } from 'k6/metrics';
import { config, SHORT, seconds } from './lib/config.js';
import { board, checkBoard } from './lib/http.js';
import { upstreamCalls } from './lib/services.js';
import { reportSources, SYSTEM_TAGS, summaryHandler, TREND_STATS } from './lib/summary.js';
import { requireClientLimit, routesUpTo, waitUntilReady, warmUp } from './lib/target.js';

const ROUTES = config.number('ROUTES', 20);
const RATE = config.number('RATE', 20);
const DURATION = __ENV.DURATION || (SHORT ? '30s' : '3m');
/** The departures replicas' CACHE_TTL_S (their default 30 s): the unit of the figure. */
const TTL_S = config.number('CACHE_TTL_S', 30);
/**
 * Upper bound of the figure: 1.3 by default; `off` reports it without judging (the round-robin
 * run). Affinity makes it 1.0 in theory: refresh-ahead renews a route in demand in the last 20 %
 * of its TTL, on a 1 s tick, so a renewal can come up to a fifth early (1.25 at worst, about 1.0
 * when the TTL is a whole number of ticks), and a few routes met by both replicas at the start
 * add a little. Round robin measures about 2.0 with two replicas: one replica in three fetching a
 * route it does not own already crosses 1.3.
 */
const MAX =
  __ENV.MAX_CALLS_PER_ROUTE_TTL === 'off' ? undefined : config.number('MAX_CALLS_PER_ROUTE_TTL', 1.3);

/** Fleet-wide upstream calls per route per TTL over the load (one sample, from teardown). */
const callsPerRouteTtl = new Trend('upstream_calls_per_route_ttl');
/** Upstream calls rail-sim counted during the load. */
const calls = new Counter('upstream_calls');

export const options = {
  scenarios: {
    steady: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: RATE + 2,
      maxVUs: RATE * 3,
    },
  },
  thresholds: {
    // A healthy platform with room to spare (no bans, budgets out of reach): nothing may fail.
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
    // The load really ran: at least 90 % of the planned answers (every route several times a TTL).
    answers: [`count>${Math.floor(RATE * seconds(DURATION) * 0.9)}`],
    // The figure. At least 0.7: each route is asked for several times a TTL, so a fleet that
    // calls less is not caching for CACHE_TTL_S (the figure would be measured in the wrong unit).
    upstream_calls_per_route_ttl: ['min>=0.7', ...(MAX === undefined ? [] : [`max<=${MAX}`])],
    upstream_calls: ['count>0'],
    stale_answers: ['rate>=0'],
    ...reportSources,
  },
  summaryTrendStats: TREND_STATS,
  systemTags: SYSTEM_TAGS,
};

export function setup() {
  waitUntilReady(config.baseUrl, 'The gateway');
  waitUntilReady(config.railsimUrl, 'rail-sim');
  if (seconds(DURATION) < 4 * TTL_S) {
    throw new Error(
      `DURATION ${DURATION} spans fewer than 4 cache TTLs (CACHE_TTL_S=${TTL_S}): the figure would be mostly edge effects; lengthen DURATION or give the target's TTL`,
    );
  }
  requireClientLimit(RATE * 60 + 60);
  const routes = routesUpTo(ROUTES);
  if (RATE / routes.length < 2 / TTL_S) {
    throw new Error(
      `${RATE} requests a second over ${routes.length} routes asks for each less than twice a TTL: raise RATE`,
    );
  }
  // Every route once before counting, so the window holds steady state, not first fetches.
  warmUp(routes, 0.05);
  return { routes, calls: upstreamCalls(), at: Date.now() };
}

export default function ({ routes }) {
  // At random, as people ask: routes asked for in turn would move in step with the gateway's
  // round robin (request n to replica n mod 2, route n mod 20) and pin each route to one replica,
  // hiding what round robin costs. At RATE / ROUTES a second, each route is asked for about
  // 5 times a TTL at 5 s; a TTL without a single ask is rare (under 1 %) and refresh-ahead
  // renews routes in demand anyway.
  checkBoard(board(routes[Math.floor(Math.random() * routes.length)], { tags: { kind: 'steady' } }));
}

export function teardown({ routes, calls: before, at }) {
  const made = upstreamCalls() - before;
  const ttls = (Date.now() - at) / 1000 / TTL_S;
  const figure = made / (routes.length * ttls);
  calls.add(made);
  callsPerRouteTtl.add(figure);
  console.warn(
    `${made} upstream calls for ${routes.length} routes over ${ttls.toFixed(1)} TTLs of ${TTL_S} s: ` +
      `${figure.toFixed(2)} per route per TTL${MAX === undefined ? ' (not judged)' : ` (bound ${MAX})`}`,
  );
}

export const handleSummary = summaryHandler('upstream-calls');
