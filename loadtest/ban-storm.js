// Ban storm: arrival-rate load across many routes, heavy enough that rail-sim (with its limit
// lowered for the test, see docs/load-testing.md) bans the departures replicas during the run.
// The promise under test: users keep getting boards (fresh, or stale and marked so) while the
// upstream bans the platform. The run also proves a ban happened: without one it proves nothing.
import { Counter } from 'k6/metrics';
import { config, SHORT } from './lib/config.js';
import { board, checkBoard } from './lib/http.js';
import { profile } from './lib/profiles.js';
import { banKey, bans } from './lib/railsim.js';
import { reportSources, SYSTEM_TAGS, summaryHandler, TREND_STATS } from './lib/summary.js';
import { requireBanScenarioTarget, routesUpTo, warmUp } from './lib/target.js';

const ROUTES = config.number('ROUTES', 12);
const RATE = config.number('RATE', 30);
const P95_MS = config.number('P95_MS', 1000);

/** Bans rail-sim started (its limit, not an operator) during the run, counted in teardown. */
const bansObserved = new Counter('bans_observed');

export const options = {
  scenarios: {
    storm: profile(__ENV.PROFILE || 'stress', {
      rate: RATE,
      duration: __ENV.DURATION || (SHORT ? '30s' : '3m'),
    }),
  },
  thresholds: {
    // Error budget of the run: the gateway's SLO is 99.5 %, and a ban is exactly what failover
    // is for, so a storm may not spend more than 1 % of requests.
    http_req_failed: ['rate<0.01'],
    // Stale boards are served from memory, so a ban must not slow answers down: 1 s is the
    // gateway's latency alert (GatewayLatencyP95High). P95_MS overrides it for slow targets.
    'http_req_duration{name:GET /api/departures}': [`p(95)<${P95_MS}`],
    // Right answers, not only 200s: a board, the request ID echoed, stale boards marked.
    checks: ['rate>0.99'],
    // No ban, no proof: the storm must have made rail-sim ban at least one replica.
    bans_observed: ['count>0'],
    stale_answers: ['rate>=0'],
    ...reportSources,
  },
  summaryTrendStats: TREND_STATS,
  systemTags: SYSTEM_TAGS,
};

export function setup() {
  // The stress profile peaks at 1.5x RATE.
  requireBanScenarioTarget(RATE * 1.5 * 60);
  const routes = routesUpTo(ROUTES);
  warmUp(routes);
  return { routes, before: bans().history.map(banKey) };
}

export default function ({ routes }) {
  checkBoard(board(routes[Math.floor(Math.random() * routes.length)]));
}

export function teardown({ before }) {
  const seen = new Set(before);
  const started = bans().history.filter((b) => b.reason === 'limit' && !seen.has(banKey(b)));
  bansObserved.add(started.length);
  if (started.length === 0) {
    console.warn(
      'rail-sim banned nobody during the storm: lower its limit (BAN_THRESHOLD, BAN_WINDOW_S) or raise the ' +
        "replicas' budget (UPSTREAM_BUDGET_PER_MIN) as docs/load-testing.md describes; the run fails.",
    );
  } else {
    console.warn(`rail-sim banned ${started.map((b) => b.ip).join(', ')} during the storm`);
  }
}

export const handleSummary = summaryHandler('ban-storm');
