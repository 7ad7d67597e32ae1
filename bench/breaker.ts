// The bench's circuit-breaker section: what a failed call to a replica costs the gateway's circuit
// breaker (opossum) with so many calls already in its rolling window, opossum's defaults against
// the gateway's options (breakerOptions: counts only, no latency percentiles, no snapshots). Run in
// the bench's own process, after the HTTP rows, with CPU time from process.cpuUsage().
//
// Why it is measured: with its defaults, opossum keeps every call's latency in the window and works
// out percentiles by copying and sorting them all, once a second on a timer and on every failed
// call. At the gateway's throughput the window holds tens of thousands of calls (docs/performance.md,
// profile 17).
import CircuitBreaker from 'opossum';
import { breakerOptions } from '../services/gateway/src/adapters/pool.ts';
import { breakerSettings, loadConfig } from '../services/gateway/src/config.ts';
import { table } from './report.ts';

export interface BreakerRow {
  /** Calls already in the rolling window when the failures come. */
  windowCalls: number;
  /** CPU time per failed call (µs), opossum's defaults and the gateway's options. */
  failureUs: { defaults: number; gateway: number };
  /** CPU time of one look at the window's stats (ms): what the defaults' timer does every second. */
  statsMs: { defaults: number; gateway: number };
}

/** The gateway's defaults, from its config with no BREAKER_* set; the threshold is not reached here. */
const SETTINGS = breakerSettings(loadConfig({}));

const cpuUs = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

async function measure(
  options: CircuitBreaker.Options,
  windowCalls: number,
  failures: number,
): Promise<{ failureUs: number; statsMs: number }> {
  let failing = false;
  const breaker = new CircuitBreaker(async () => {
    if (failing) throw new Error('replica failed');
    return 'answer';
  }, options);
  try {
    for (let i = 0; i < windowCalls; i++) await breaker.fire();
    const statsFrom = cpuUs();
    void breaker.stats;
    const statsMs = (cpuUs() - statsFrom) / 1_000;
    failing = true;
    const from = cpuUs();
    for (let i = 0; i < failures; i++) await breaker.fire().catch(() => undefined);
    const failureUs = (cpuUs() - from) / failures;
    if (!breaker.closed) throw new Error('the circuit opened: the measurement needs it closed');
    return { failureUs, statsMs };
  } finally {
    breaker.shutdown();
  }
}

/** One row per window size; `failures` failed calls measured in each. */
export async function measureBreaker(
  windowSizes: readonly number[],
  failures: number,
): Promise<BreakerRow[]> {
  const gateway = breakerOptions(SETTINGS);
  // The same options with opossum's defaults for the two it leaves on unless told `false`.
  const defaults: CircuitBreaker.Options = {
    ...gateway,
    rollingPercentilesEnabled: undefined,
    enableSnapshots: undefined,
  };
  // Once each, not counted: the first calls run before the JIT has compiled opossum's paths.
  await measure(defaults, 1_000, 10);
  await measure(gateway, 1_000, 10);
  const rows: BreakerRow[] = [];
  for (const windowCalls of windowSizes) {
    const d = await measure(defaults, windowCalls, failures);
    const g = await measure(gateway, windowCalls, failures);
    rows.push({
      windowCalls,
      failureUs: { defaults: d.failureUs, gateway: g.failureUs },
      statsMs: { defaults: d.statsMs, gateway: g.statsMs },
    });
  }
  return rows;
}

/** The section as printed under the HTTP tables. */
export function renderBreaker(rows: readonly BreakerRow[]): string {
  const num = (n: number, digits: number) =>
    n.toLocaleString('en-GB', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return [
    `Circuit breaker (opossum), CPU time with so many calls in its ${SETTINGS.rollingWindowMs / 1_000} s window (this process):`,
    table(
      [
        'calls in window',
        'per failure, defaults',
        'per failure, gateway',
        'stats once, defaults',
        'stats once, gateway',
      ],
      rows.map((r) => [
        num(r.windowCalls, 0),
        `${num(r.failureUs.defaults, 1)} µs`,
        `${num(r.failureUs.gateway, 1)} µs`,
        `${num(r.statsMs.defaults, 2)} ms`,
        `${num(r.statsMs.gateway, 2)} ms`,
      ]),
    ),
    '  (the defaults work the stats out on every failure and once a second on a timer; the gateway keeps counts only)',
  ].join('\n');
}
