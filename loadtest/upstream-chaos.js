// Upstream chaos: rail-sim is made slow (answers later than the replicas' upstream timeout), then
// erratic (half its answers 500), then healthy again, all under steady load. The timeouts, stale
// boards and the gateway's failover must keep answers flowing and p99 bounded throughout.
import { check, sleep } from 'k6';
import { config, SHORT } from './lib/config.js';
import { board, checkBoard } from './lib/http.js';
import { clearFaults, setFaults } from './lib/railsim.js';
import { reportSources, SYSTEM_TAGS, summaryHandler, TREND_STATS } from './lib/summary.js';
import { requireBanScenarioTarget, routesUpTo, warmUp } from './lib/target.js';

const RATE = config.number('RATE', 20);
const ROUTES = config.number('ROUTES', 10);
/** Injected upstream latency: far past the replicas' 2 s upstream timeout (UPSTREAM_TIMEOUT_MS). */
const LATENCY_MS = config.number('LATENCY_MS', 8000);
const ERROR_RATE = config.number('ERROR_RATE', 0.5);
/**
 * A request that meets the slow upstream waits for the replica's 2 s upstream timeout and gets a
 * stale board; a stale answer that slow is served as it is (the gateway's STALE_RETRY_WITHIN_MS:
 * another replica would wait the same), so the worst case is one timeout plus queueing: p99 was
 * 2.8 s on a busy 2-core CI machine. 4 s leaves room for that and still fails when the gateway
 * retries after a slow stale answer (two timeouts in a row: p99 4.1-4.3 s measured) or when the
 * timeouts are gone (the injected 8 s).
 */
const P99_MS = config.number('P99_MS', 4000);

// Seconds: calm, slow upstream, erratic upstream, calm again.
const T = SHORT
  ? { calm: 5, latency: 15, errors: 15, after: 10 }
  : { calm: 30, latency: 60, errors: 60, after: 30 };
const total = T.calm + T.latency + T.errors + T.after;

const load = (phase, from, seconds) => ({
  executor: 'constant-arrival-rate',
  rate: RATE,
  timeUnit: '1s',
  duration: `${seconds}s`,
  startTime: `${from}s`,
  // Answers may take the whole upstream timeout: enough VUs to keep the rate meanwhile.
  preAllocatedVUs: RATE * 3,
  maxVUs: RATE * 6,
  exec: 'traffic',
  tags: { phase },
});

export const options = {
  scenarios: {
    calm: load('calm', 0, T.calm),
    latency: load('latency', T.calm, T.latency),
    errors: load('errors', T.calm + T.latency, T.errors),
    after: load('after', T.calm + T.latency + T.errors, T.after),
    faults: {
      executor: 'per-vu-iterations',
      vus: 1,
      iterations: 1,
      maxDuration: `${total + 10}s`,
      exec: 'faults',
      tags: { phase: 'faults' },
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{name:GET /api/departures}': [`p(99)<${P99_MS}`],
    checks: ['rate>0.99'],
    // The chaos must have reached users as stale boards, or the run did not test anything.
    'stale_answers{phase:latency}': ['rate>0'],
    'stale_answers{phase:errors}': ['rate>0'],
    stale_answers: ['rate>=0'],
    ...reportSources,
  },
  summaryTrendStats: TREND_STATS,
  systemTags: SYSTEM_TAGS,
};

export function setup() {
  requireBanScenarioTarget(RATE * 60);
  clearFaults();
  const routes = routesUpTo(ROUTES);
  warmUp(routes);
  return { routes };
}

export function traffic({ routes }) {
  checkBoard(board(routes[Math.floor(Math.random() * routes.length)]));
}

export function faults() {
  sleep(T.calm);
  check(setFaults({ latencyMs: LATENCY_MS, errorRate: 0 }), {
    'admin: latency injected': (r) => r.status === 200,
  });
  sleep(T.latency);
  check(setFaults({ latencyMs: 0, errorRate: ERROR_RATE }), {
    'admin: errors injected': (r) => r.status === 200,
  });
  sleep(T.errors);
  check(clearFaults(), { 'admin: faults cleared': (r) => r.status === 200 });
}

export function teardown() {
  // Leave rail-sim healthy, even when the run was cut short.
  clearFaults();
}

export const handleSummary = summaryHandler('upstream-chaos');
