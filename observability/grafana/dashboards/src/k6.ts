import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  assemble,
  COLORS,
  ERROR_BUDGET,
  failwayDashboard,
  prom,
  seriesColors,
  stat,
  stateTimeline,
  thresholdLines,
  thresholds,
  timeseries,
  valueText,
} from './common.ts';
import { RATE, SLO_MATCHERS, serverErrorRatio, serverQuantile, serverRate } from './promql.ts';

export const K6_UID = 'failway-k6';

// k6's experimental-prometheus-rw output (k6 run -o experimental-prometheus-rw, with
// K6_PROMETHEUS_RW_TREND_STATS=p(95),p(99),avg): counters become k6_<name>_total, rates
// k6_<name>_rate, gauges k6_<name>, and each trend one gauge per stat (k6_<name>_p95, _p99, _avg)
// with times converted to seconds. Rates and trend stats are k6's own running values since the
// start of the run, per tag set (name, method, status, scenario, …), not per interval.

export function k6Dashboard(): Dashboard {
  const builder = failwayDashboard({
    title: 'Failway · k6 load tests',
    uid: K6_UID,
    description:
      'What k6 saw during a load test (pushed by its Prometheus remote-write output) next to what the ' +
      'gateway measured and how the replicas were banned meanwhile.',
    from: 'now-30m',
    refresh: '10s',
    banAnnotation: true,
  });

  return assemble(builder, [
    {
      title: 'k6: load and answers',
      panels: [
        stat(
          { title: 'Virtual users', description: 'VUs k6 runs right now (k6_vus).' },
          prom('sum(k6_vus)', 'VUs'),
        ),
        stat(
          {
            title: 'Requests/s (k6)',
            description: 'HTTP requests k6 sends per second, all scenarios (k6_http_reqs_total).',
          },
          prom(`sum(rate(k6_http_reqs_total[${RATE}]))`, 'requests/s'),
          { unit: 'reqps', decimals: 1 },
        ),
        stat(
          {
            title: 'Failed requests (k6)',
            description:
              'Share of the run\u2019s requests k6 counted as failed (http_req_failed: status outside ' +
              'the expected 200–399 unless the script says otherwise), worst request name.',
          },
          prom('max(k6_http_req_failed_rate)', 'failed'),
          {
            unit: 'percentunit',
            decimals: 2,
            thresholds: thresholds(COLORS.ok, [ERROR_BUDGET, COLORS.bad]),
          },
        ),
        stat(
          {
            title: 'Checks passed',
            description:
              'Share of the run\u2019s checks that passed, worst check (k6_checks_rate). Below 100 % ' +
              'means some answers were not what the script expects.',
          },
          prom('min(k6_checks_rate)', 'checks'),
          {
            unit: 'percentunit',
            decimals: 2,
            thresholds: thresholds(COLORS.bad, [0.99, COLORS.warn], [1, COLORS.ok]),
          },
        ),
        stat(
          {
            title: 'Stale answers (k6)',
            description:
              'Share of the run\u2019s board answers that were stale (the load tests\u2019 custom ' +
              'stale_answers rate). Expected during a ban storm; the point is that they are answers.',
          },
          prom('max(k6_stale_answers_rate)', 'stale'),
          { unit: 'percentunit', decimals: 1, thresholds: thresholds(COLORS.ok, [0.01, COLORS.warn]) },
        ),
        stat(
          {
            title: 'k6 p95 (run)',
            description: 'k6\u2019s p95 of http_req_duration since the run started, slowest request name.',
          },
          prom('max(k6_http_req_duration_p95)', 'p95'),
          { unit: 's', thresholds: thresholds(COLORS.ok, [0.5, COLORS.warn], [1, COLORS.bad]) },
        ),
        timeseries(
          {
            title: 'k6 requests/s by status',
            description:
              'Requests per second k6 sent, by the status it got (0 = no answer: timeout or refused).',
          },
          [prom(`sum by (status) (rate(k6_http_reqs_total[${RATE}]))`, '{{status}}')],
          { unit: 'reqps', stack: true, min: 0 },
        ).span(8),
        seriesColors(
          timeseries(
            {
              title: 'Answers by source (k6)',
              description:
                'Board answers per second as the load test classified them (k6_answers_total{source}): ' +
                'fresh, stale (a banned replica\u2019s or the gateway\u2019s last good board), ' +
                'unavailable (503), rejected (4xx) or error. Stale grows while replicas are banned; ' +
                'unavailable and error should stay near 0.',
            },
            [prom(`sum by (source) (rate(k6_answers_total[${RATE}]))`, '{{source}}')],
            { unit: 'reqps', stack: true, min: 0 },
          ),
          {
            fresh: COLORS.ok,
            stale: COLORS.warn,
            unavailable: COLORS.bad,
            rejected: 'purple',
            error: 'dark-red',
          },
        ).span(8),
        timeseries(
          {
            title: 'k6 latency (run so far)',
            description:
              'k6\u2019s p95, p99 and average of http_req_duration per request name, each a running ' +
              'value since the start of the run (so it moves slowly late in a run).',
          },
          [
            prom('max by (name) (k6_http_req_duration_p95)', 'p95 {{name}}'),
            prom('max by (name) (k6_http_req_duration_p99)', 'p99 {{name}}'),
            prom('max by (name) (k6_http_req_duration_avg)', 'avg {{name}}'),
          ],
          { unit: 's', min: 0 },
        ).span(8),
        timeseries(
          {
            title: 'Virtual users',
            description: 'VUs over time: the shape of the load profile.',
          },
          [prom('sum(k6_vus)', 'VUs')],
          { min: 0 },
        ).span(8),
        timeseries(
          {
            title: 'Checks by name',
            description: 'Pass rate of each check since the start of the run.',
          },
          [prom('min by (check) (k6_checks_rate)', '{{check}}')],
          { unit: 'percentunit', min: 0 },
        ).span(8),
        timeseries(
          {
            title: 'Failed and stale shares by scenario',
            description:
              'k6\u2019s http_req_failed and stale_answers rates per scenario, since the start of the run.',
          },
          [
            prom('max by (scenario) (k6_http_req_failed_rate)', 'failed {{scenario}}'),
            prom('max by (scenario) (k6_stale_answers_rate)', 'stale {{scenario}}'),
          ],
          { unit: 'percentunit', min: 0 },
        ).span(8),
      ],
    },
    {
      title: 'Gateway meanwhile',
      panels: [
        timeseries(
          {
            title: 'Gateway /api/departures requests/s by status',
            description:
              'What the gateway itself counted. It should match k6\u2019s request rate; a gap means ' +
              'requests that never reached it.',
          },
          [prom(serverRate('status_code', SLO_MATCHERS), '{{status_code}}')],
          { unit: 'reqps', stack: true, min: 0 },
        ).span(8),
        thresholdLines(
          timeseries(
            {
              title: 'Gateway 5xx ratio',
              description:
                '5xx share of /api/departures answers at the gateway, against the SLO\u2019s 0.5 % (dashed).',
            },
            [prom(serverErrorRatio('', SLO_MATCHERS), '5xx ratio')],
            { unit: 'percentunit', min: 0 },
          ),
          thresholds(COLORS.ok, [ERROR_BUDGET, COLORS.bad]),
        ).span(8),
        timeseries(
          {
            title: 'Gateway latency /api/departures',
            description:
              'p95 and p99 measured at the gateway. k6\u2019s own numbers add the network and the client.',
          },
          [
            prom(serverQuantile(0.95, '', SLO_MATCHERS), 'p95', { exemplar: true }),
            prom(serverQuantile(0.99, '', SLO_MATCHERS), 'p99'),
          ],
          { unit: 's', min: 0 },
        ).span(8),
        stateTimeline(
          {
            title: 'Upstream ban state per replica',
            description: 'Red while the upstream bans a departures replica (departures_upstream_banned).',
          },
          [prom('max by (instance) (departures_upstream_banned)', '{{instance}}')],
          valueText({
            '0': { text: 'serving', color: COLORS.ok },
            '1': { text: 'banned', color: COLORS.bad },
          }),
        ),
        seriesColors(
          timeseries(
            {
              title: 'Stale answers at the gateway by origin',
              description:
                'Stale boards the gateway served per second: from a replica, or its own last good board.',
            },
            [prom(`sum by (origin) (rate(gateway_stale_responses_total[${RATE}]))`, '{{origin}}')],
            { unit: 'reqps', stack: true, min: 0 },
          ),
          { replica: COLORS.warn, gateway: COLORS.bad },
        ),
      ],
    },
  ]);
}
