// The bench's result as aligned text tables (stdout) — the JSON file holds the same numbers.

export const SERVICE_LABELS = [
  'gateway',
  'departures-a',
  'departures-b',
  'route-config',
  'rail-sim',
  'collector',
] as const;
export const CEILING_LABELS = ['ceiling-server', 'ceiling-relay'] as const;
/** Short column names. */
const SHORT: Record<string, string> = {
  gateway: 'gw',
  'departures-a': 'dep-a',
  'departures-b': 'dep-b',
  'route-config': 'rcfg',
  'rail-sim': 'rsim',
  collector: 'otelcol',
  'ceiling-server': 'c-srv',
  'ceiling-relay': 'c-relay',
  wrk: 'wrk',
  harness: 'bench',
};

export interface RowResult {
  id: string;
  title: string;
  url: string;
  telemetry: 'off' | 'on' | 'n/a';
  ok: boolean;
  problems: string[];
  requests?: number;
  durationS?: number;
  reqPerSec?: number;
  p50Ms?: number;
  p90Ms?: number;
  p99Ms?: number;
  p99OverP50?: number;
  non2xx?: number;
  socketErrors?: { connect: number; read: number; write: number; timeout: number };
  /** µs of CPU (user + system) per request, per process label (and `wrk`); null: not measurable here. */
  cpuUsPerRequest: Record<string, number | null>;
  /** nodejs_eventloop_lag_p99_seconds over the run, in ms, per process label. */
  eventLoopP99Ms: Record<string, number | null>;
  /** VmRSS right after the run, bytes. */
  rssAfterBytes: Record<string, number | null>;
  /** Spans the collector accepted per request (telemetry on). */
  spansPerRequest?: number;
  extra?: Record<string, unknown>;
}

const ms = (v: number | null | undefined) =>
  v === null || v === undefined ? 'n/a' : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0);
const int = (v: number | null | undefined) =>
  v === null || v === undefined ? 'n/a' : Math.round(v).toLocaleString('en-US');
const mb = (v: number | null | undefined) =>
  v === null || v === undefined ? 'n/a' : (v / 2 ** 20).toFixed(0);

/** Columns right-aligned except the first; '-' where a row has no such process. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function perProcess(
  results: RowResult[],
  pick: (r: RowResult) => Record<string, number | null>,
  format: (v: number | null) => string,
  labels: readonly string[],
): string {
  const present = labels.filter((l) => results.some((r) => l in pick(r)));
  return table(
    ['row', ...present.map((l) => SHORT[l] ?? l)],
    results.map((r) => [r.id, ...present.map((l) => (l in pick(r) ? format(pick(r)[l] ?? null) : '-'))]),
  );
}

export interface Ratios {
  gatewayOffPctOfCeiling2hop?: number;
  gatewayOnPctOfCeiling2hop?: number;
  telemetryCostGatewayPct?: number;
  telemetryCostDeparturesPct?: number;
}

/** `a` as a percentage of `b`. */
export function pctOf(a: number, b: number): number | undefined {
  return b === 0 ? undefined : (100 * a) / b;
}

/** What going from `off` to `on` costs, as a percentage of `off`. */
export function costPct(off: number, on: number): number | undefined {
  return off === 0 ? undefined : (100 * (off - on)) / off;
}

/** A row's req/s in each interleaved round (kept in the median round's `extra`); none: []. */
function roundsOf(row: RowResult | undefined): (number | null)[] {
  const each = row?.extra?.roundsReqPerSec;
  return Array.isArray(each) ? (each as (number | null)[]) : [];
}

/** `f(a, b)` for the req/s of rows `a` and `b` in each round; undefined where either has none. */
export function byRound(
  results: readonly RowResult[],
  a: string,
  b: string,
  f: (a: number, b: number) => number | undefined,
): (number | undefined)[] {
  const row = (id: string) => results.find((r) => r.id === id);
  const bs = roundsOf(row(b));
  return roundsOf(row(a)).map((x, i) => {
    const y = bs[i];
    return x === null || y === null || y === undefined ? undefined : f(x, y);
  });
}

/** The median of the defined values; undefined when there are none. */
export function median(values: readonly (number | undefined)[]): number | undefined {
  const sorted = values.filter((v): v is number => v !== undefined).sort((x, y) => x - y);
  if (sorted.length === 0) return undefined;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/**
 * Each ratio compares two rows of the same round, then takes the median over the rounds. The
 * median rows of two ids can come from different rounds, minutes apart, and a ratio of those
 * carried the drift between the rounds (a telemetry "cost" of 1.8 % from rounds whose own pairs
 * cost 14.3, 1.8 and 11.9 %).
 */
export function ratiosOf(results: readonly RowResult[]): Ratios {
  return {
    gatewayOffPctOfCeiling2hop: median(byRound(results, 'gateway-off', 'ceiling-2hop', pctOf)),
    gatewayOnPctOfCeiling2hop: median(byRound(results, 'gateway-on', 'ceiling-2hop', pctOf)),
    telemetryCostGatewayPct: median(byRound(results, 'gateway-off', 'gateway-on', costPct)),
    telemetryCostDeparturesPct: median(byRound(results, 'departures-off', 'departures-on', costPct)),
  };
}

export interface IdleMemory {
  stack: string;
  rssBytes: Record<string, number | null>;
}

export function render(results: RowResult[], ratios: Ratios, idle: IdleMemory[], fleet?: string): string {
  const out: string[] = [];
  out.push(
    table(
      ['row', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p99/p50', 'non-2xx', 'sock err', 'spans/req', 'result'],
      results.map((r) => [
        r.id,
        int(r.reqPerSec),
        ms(r.p50Ms),
        ms(r.p90Ms),
        ms(r.p99Ms),
        r.p99OverP50 === undefined ? 'n/a' : r.p99OverP50.toFixed(1),
        int(r.non2xx),
        r.socketErrors ? String(Object.values(r.socketErrors).reduce((a, b) => a + b, 0)) : 'n/a',
        r.spansPerRequest === undefined ? '-' : r.spansPerRequest.toFixed(1),
        r.ok ? 'ok' : 'FAILED',
      ]),
    ),
  );
  const labels = [...CEILING_LABELS, ...SERVICE_LABELS];
  out.push('', 'CPU time per request (µs, user + system, from /proc/<pid>/stat over the run):');
  out.push(perProcess(results, (r) => r.cpuUsPerRequest, int, [...labels, 'wrk', 'harness']));
  out.push(
    '',
    'Event-loop delay p99 over the run (ms; prom-client nodejs_eventloop_lag_p99_seconds, 10 ms resolution):',
  );
  out.push(perProcess(results, (r) => r.eventLoopP99Ms, ms, labels));
  out.push('', 'Resident memory (VmRSS, MB): idle before any load, then right after each row:');
  out.push(
    perProcess(
      [
        ...idle.map((i) => ({ id: `idle (${i.stack})`, rssAfterBytes: i.rssBytes }) as unknown as RowResult),
        ...results,
      ],
      (r) => r.rssAfterBytes,
      mb,
      labels,
    ),
  );
  const pct = (v: number | undefined) => (v === undefined ? 'n/a' : `${v.toFixed(1)} %`);
  const rounds = results.map((r) => ({ id: r.id, each: roundsOf(r) })).filter((r) => r.each.length > 0);
  const several = rounds.some((r) => r.each.length > 1);
  out.push(
    '',
    several ? 'Ratios (each the median over the rounds of the two rows of one round):' : 'Ratios:',
    `  gateway req/s as % of ceiling-2hop: telemetry off ${pct(ratios.gatewayOffPctOfCeiling2hop)}, on ${pct(ratios.gatewayOnPctOfCeiling2hop)}`,
    `  telemetry on (exporting) vs off, throughput cost: gateway ${pct(ratios.telemetryCostGatewayPct)}, departures ${pct(ratios.telemetryCostDeparturesPct)}`,
  );
  if (fleet) out.push(fleet);
  if (several) {
    out.push('  req/s of each interleaved round (the rows above are the median rounds):');
    for (const r of rounds)
      out.push(`    ${r.id.padEnd(15)} ${r.each.map((n) => (n === null ? 'n/a' : int(n))).join(' / ')}`);
    const side = (a: string, b: string, f: (a: number, b: number) => number | undefined) =>
      byRound(results, a, b, f).map(pct).join(' / ');
    // The ceiling ran in the same rounds: each round's ratio shows how much of the spread is drift.
    out.push('  gateway req/s as % of ceiling-2hop in each round:');
    for (const id of ['gateway-off', 'gateway-on'])
      out.push(`    ${id.padEnd(15)} ${side(id, 'ceiling-2hop', pctOf)}`);
    out.push('  telemetry cost in each round:');
    out.push(`    ${'gateway'.padEnd(15)} ${side('gateway-off', 'gateway-on', costPct)}`);
    out.push(`    ${'departures'.padEnd(15)} ${side('departures-off', 'departures-on', costPct)}`);
  }
  return out.join('\n');
}
