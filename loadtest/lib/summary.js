// End-of-test summaries: k6's summary data as JSON (with the figures below added) and a short
// readable text, both written to SUMMARY_DIR (default test-output/k6/; k6 does not create the
// directory) and the text also to stdout.
import { config } from './config.js';
import { BOARD } from './http.js';

/** Thresholds that always hold: they only make k6 keep these tagged sub-metrics for the summary. */
const REPORT_ONLY = new Set(['count>=0', 'rate>=0']);

/** Add to a script's thresholds so the summary can show answers by source. */
export const reportSources = Object.fromEntries(
  ['fresh', 'stale', 'unavailable', 'rejected', 'error'].map((s) => [`answers{source:${s}}`, ['count>=0']]),
);

/** Trend stats every script keeps (p99 for the chaos bound; k6's default has no p99). */
export const TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'];

/** System tags kept: no `url`, so one route is not one Prometheus series per query string. */
export const SYSTEM_TAGS = [
  'status',
  'method',
  'name',
  'group',
  'check',
  'error',
  'error_code',
  'scenario',
  'expected_response',
];

const value = (data, metric, stat) => data.metrics[metric]?.values?.[stat];
const pct = (v) => (v === undefined ? '-' : `${(v * 100).toFixed(2)} %`);
const ms = (v) => (v === undefined ? '-' : `${Math.round(v)} ms`);

/** The figures a reader (and loadtest/run.ts) wants from a run. */
export function figures(data) {
  const board = `http_req_duration{name:${BOARD}}`;
  const durationMetric = data.metrics[board] ? board : 'http_req_duration';
  const sources = {};
  for (const s of ['fresh', 'stale', 'unavailable', 'rejected', 'error']) {
    sources[s] = value(data, `answers{source:${s}}`, 'count') ?? 0;
  }
  return {
    requests: value(data, 'http_reqs', 'count') ?? 0,
    requestsPerSecond: value(data, 'http_reqs', 'rate') ?? 0,
    failedShare: value(data, 'http_req_failed', 'rate') ?? 0,
    checksShare: value(data, 'checks', 'rate'),
    p95Ms: value(data, durationMetric, 'p(95)'),
    p99Ms: value(data, durationMetric, 'p(99)'),
    staleShare: value(data, 'stale_answers', 'rate'),
    answers: sources,
    bansObserved: value(data, 'bans_observed', 'count'),
    recoverySeconds: value(data, 'recovery_seconds', 'max'),
    upstreamCallsPerRouteTtl: value(data, 'upstream_calls_per_route_ttl', 'max'),
    durationSeconds: (data.state?.testRunDurationMs ?? 0) / 1000,
  };
}

function thresholdLines(data) {
  const lines = [];
  let passed = true;
  for (const [metric, m] of Object.entries(data.metrics)) {
    for (const [expr, result] of Object.entries(m.thresholds ?? {})) {
      if (!result.ok) passed = false;
      if (REPORT_ONLY.has(expr.replace(/\s+/g, ''))) continue;
      const stat = expr.match(/^\s*([a-z]+(?:\([\d.]+\))?)/)?.[1];
      const actual = stat ? m.values[stat] : undefined;
      const shown =
        actual === undefined
          ? ''
          : m.type === 'trend' && m.contains === 'time'
            ? ms(actual)
            : m.type === 'rate'
              ? pct(actual)
              : String(Math.round(actual * 100) / 100);
      lines.push(`  ${result.ok ? 'ok  ' : 'FAIL'}  ${metric.padEnd(44)} ${expr.padEnd(14)} ${shown}`);
    }
  }
  return { lines, passed };
}

/** The readable summary of a run. */
export function textSummary(name, data) {
  const f = figures(data);
  const { lines, passed } = thresholdLines(data);
  const a = f.answers;
  const rows = [
    [
      'requests',
      `${f.requests} (${f.requestsPerSecond.toFixed(1)}/s over ${f.durationSeconds.toFixed(0)} s)`,
    ],
    ['failed requests', pct(f.failedShare)],
    ['checks passed', pct(f.checksShare)],
    ['board p95 / p99', `${ms(f.p95Ms)} / ${ms(f.p99Ms)}`],
    ['stale answers', pct(f.staleShare)],
    [
      'answers by source',
      `fresh ${a.fresh} · stale ${a.stale} · unavailable ${a.unavailable} · rejected ${a.rejected} · error ${a.error}`,
    ],
  ];
  if (f.bansObserved !== undefined) rows.push(['bans observed', String(f.bansObserved)]);
  if (f.recoverySeconds !== undefined) rows.push(['fresh again after', `${f.recoverySeconds.toFixed(1)} s`]);
  if (f.upstreamCallsPerRouteTtl !== undefined)
    rows.push(['upstream calls', `${f.upstreamCallsPerRouteTtl.toFixed(2)} per route per TTL`]);
  return [
    '',
    `${name}: ${passed ? 'PASSED' : 'FAILED'} (target ${config.baseUrl})`,
    'thresholds:',
    ...lines,
    'figures:',
    ...rows.map(([k, v]) => `  ${k.padEnd(18)} ${v}`),
    '',
  ].join('\n');
}

/** A handleSummary for script `name`. */
export function summaryHandler(name) {
  return (data) => {
    const text = textSummary(name, data);
    return {
      stdout: text,
      [`${config.summaryDir}/${name}.txt`]: text,
      [`${config.summaryDir}/${name}.json`]: JSON.stringify(
        { script: name, figures: figures(data), ...data },
        null,
        2,
      ),
    };
  };
}
