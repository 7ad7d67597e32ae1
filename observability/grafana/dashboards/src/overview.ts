import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  assemble,
  COLORS,
  ERROR_BUDGET,
  failwayDashboard,
  firingAlerts,
  prom,
  SLO_OBJECTIVE,
  stat,
  thresholdLines,
  thresholds,
  timeseries,
} from './common.ts';
import {
  RATE,
  SLO_MATCHERS,
  serverErrorRatio,
  serverQuantile,
  serverRate,
  sloBudgetRemaining,
  sloBurnRate,
  sloErrorRatio,
  sloErrorRatio30d,
} from './promql.ts';

export const OVERVIEW_UID = 'failway-overview';

function latencyByService(q: number, percentile: string) {
  return timeseries(
    {
      title: `Latency ${percentile} by service`,
      description:
        `${percentile} of inbound request duration per service (all routes). The gateway's line sits ` +
        'above departures, which sits above rail-sim (80–250 ms): a gap that widens points at the hop ' +
        'in between. Gateway latency jumping to DEPARTURES_TIMEOUT_MS means replicas time out and ' +
        'requests are retried. Click an exemplar dot to open its trace.',
    },
    [prom(serverQuantile(q, 'service'), '{{service}}', { exemplar: true })],
    { unit: 's', min: 0 },
  ).span(8);
}

export function overviewDashboard(): Dashboard {
  const builder = failwayDashboard({
    title: 'Failway · Platform overview',
    uid: OVERVIEW_UID,
    description:
      'RED metrics per service, the gateway /api/departures SLO (99.5 % non-5xx) and its error budget, ' +
      'and whether Failway is still answering while the upstream bans replicas.',
    from: 'now-1h',
    refresh: '30s',
    banAnnotation: true,
  });

  return assemble(builder, [
    {
      title: 'Is Failway answering?',
      panels: [
        stat(
          {
            title: 'Availability /api/departures (30d)',
            description:
              "Share of the gateway's GET /api/departures answers over the last 30 days that were not 5xx. " +
              'The SLO is 99.5 %: red below it. Stale boards count as good answers, which is the point.',
          },
          prom(`1 - (${sloErrorRatio30d()})`, 'availability', { instant: true }),
          {
            unit: 'percentunit',
            decimals: 3,
            graph: false,
            thresholds: thresholds(COLORS.bad, [SLO_OBJECTIVE, COLORS.ok]),
          },
        ),
        stat(
          {
            title: 'Error budget remaining (30d)',
            description:
              'Share of the 30-day error budget (0.5 % of answers may be 5xx) not spent yet. 100 % = no 5xx ' +
              'at all; 0 % = the SLO is exactly met; negative = the SLO is missed. Orange under 25 %.',
          },
          prom(sloBudgetRemaining(), 'budget remaining', { instant: true }),
          {
            unit: 'percentunit',
            decimals: 1,
            graph: false,
            thresholds: thresholds(COLORS.bad, [0, COLORS.warn], [0.25, COLORS.ok]),
          },
        ),
        stat(
          {
            title: 'Replicas ready',
            description:
              'Departures replicas the gateway routes to right now (its pool, health-checked every 2 s). ' +
              "Red at 0: every board is then the gateway's last good one, or a 503. Orange at 1: one " +
              'more ban and the gateway has nowhere to go.',
          },
          prom('max(gateway_pool_members{state="ready"}) or vector(0)', 'ready'),
          { thresholds: thresholds(COLORS.bad, [1, COLORS.warn], [2, COLORS.ok]) },
        ),
        stat(
          {
            title: 'Replicas banned upstream',
            description:
              'Departures replicas the upstream rail API bans right now. A ban lasts up to 60 minutes; ' +
              'while banned a replica is not ready and answers only stale boards. See Failway · Ban handling.',
          },
          prom('sum(departures_upstream_banned) or vector(0)', 'banned'),
          { thresholds: thresholds(COLORS.ok, [1, COLORS.warn], [2, COLORS.bad]) },
        ),
        stat(
          {
            title: 'Stale answers/s',
            description:
              'Stale boards the gateway served per second (from a banned replica or its own last good ' +
              'board). Non-zero during bans is expected — Failway keeps answering — but it should go ' +
              'back to 0 when the bans end.',
          },
          prom(`sum(rate(gateway_stale_responses_total[${RATE}])) or vector(0)`, 'stale/s'),
          { unit: 'reqps', decimals: 2, thresholds: thresholds(COLORS.ok, [0.001, COLORS.warn]) },
        ),
        stat(
          {
            title: 'Gateway p95 /api/departures',
            description:
              "95th percentile duration of the gateway's /api/departures answers. Cached boards answer in " +
              'milliseconds; a fresh upstream call adds 80–250 ms; a replica timing out adds the timeout.',
          },
          prom(serverQuantile(0.95, '', SLO_MATCHERS), 'p95'),
          { unit: 's', thresholds: thresholds(COLORS.ok, [0.5, COLORS.warn], [1, COLORS.bad]) },
        ),
      ],
    },
    {
      title: 'Firing alerts',
      panels: [firingAlerts()],
    },
    {
      title: 'RED per service',
      panels: [
        timeseries(
          {
            title: 'Request rate by service',
            description:
              'Inbound requests per second per service. The gateway carries the user traffic; departures ' +
              'should see about the same (one call per board request, two on a retry); rail-sim only ' +
              'the cache misses, kept under the per-replica call budget.',
          },
          [prom(serverRate('service'), '{{service}}')],
          { unit: 'reqps', min: 0 },
        ),
        thresholdLines(
          timeseries(
            {
              title: '5xx ratio by service',
              description:
                'Share of inbound requests answered 5xx, per service. 4xx (bad input, rate limits) and 499 ' +
                '(client gone) are not errors. Departures 5xx while banned with nothing cached is expected; ' +
                'the gateway should stay near 0 by retrying and serving its last good board. Dashed: the ' +
                "SLO's 0.5 %.",
            },
            [prom(serverErrorRatio('service'), '{{service}}')],
            { unit: 'percentunit', min: 0 },
          ),
          thresholds(COLORS.ok, [ERROR_BUDGET, COLORS.bad]),
        ),
        latencyByService(0.5, 'p50'),
        latencyByService(0.95, 'p95'),
        latencyByService(0.99, 'p99'),
      ],
    },
    {
      title: 'SLO: gateway /api/departures 99.5 % non-5xx',
      panels: [
        thresholdLines(
          timeseries(
            {
              title: 'Error ratio vs objective',
              description:
                '5xx share of /api/departures answers over 5 minutes (recording rule ' +
                'slo:gateway_departures_errors:ratio_rate5m). Above the dashed 0.5 % line the error ' +
                'budget is being spent faster than the SLO allows. Short spikes are fine; a plateau is not.',
            },
            [prom(sloErrorRatio('5m'), 'error ratio 5m')],
            { unit: 'percentunit', min: 0 },
          ),
          thresholds(COLORS.ok, [ERROR_BUDGET, COLORS.bad]),
        ).span(8),
        thresholdLines(
          timeseries(
            {
              title: 'Error budget burn rate',
              description:
                'How many times faster than sustainable the budget burns (1 = the whole 30-day budget in ' +
                '30 days), from the recorded error ratios. GatewayErrorBudgetBurnFast fires when both 1h ' +
                'and 5m are above 14.4, GatewayErrorBudgetBurnSlow when both 6h and 30m are above 6; the ' +
                'dashed lines mark both thresholds.',
            },
            [
              prom(sloBurnRate('5m'), 'burn rate 5m'),
              prom(sloBurnRate('30m'), 'burn rate 30m'),
              prom(sloBurnRate('1h'), 'burn rate 1h'),
              prom(sloBurnRate('6h'), 'burn rate 6h'),
            ],
            { min: 0 },
          ),
          thresholds(COLORS.ok, [6, COLORS.warn], [14.4, COLORS.bad]),
        ).span(8),
        timeseries(
          {
            title: '/api/departures answers by status',
            description:
              'Gateway /api/departures answers per second by status code. 200 includes stale boards; 503 ' +
              "means no replica and no last good board; 429 is the gateway's own per-client rate limit.",
          },
          [prom(serverRate('status_code', SLO_MATCHERS), '{{status_code}}')],
          { unit: 'reqps', stack: true, min: 0 },
        ).span(8),
        stat(
          {
            title: 'Burn rate 1h',
            description:
              "Budget burn over the last hour (the fast alert's long window). Red above 14.4: at that pace " +
              '2 % of the 30-day budget goes every hour.',
          },
          prom(sloBurnRate('1h'), '1h'),
          { decimals: 2, thresholds: thresholds(COLORS.ok, [1, COLORS.warn], [14.4, COLORS.bad]) },
        ),
        stat(
          {
            title: 'Burn rate 6h',
            description:
              "Budget burn over the last 6 hours (the slow alert's long window). Orange above 6: 5 % of " +
              'the 30-day budget in 6 hours.',
          },
          prom(sloBurnRate('6h'), '6h'),
          { decimals: 2, thresholds: thresholds(COLORS.ok, [1, COLORS.warn], [6, COLORS.bad]) },
        ),
        stat(
          {
            title: 'Budget spent in the last 3 days',
            description:
              'Share of the 30-day error budget spent over the last 3 days (recorded 3d ratio × 3/30 ÷ ' +
              'budget). A tenth of the budget per 3 days is the sustainable pace; more is orange.',
          },
          prom(`${sloErrorRatio('3d')} * 3 / 30 / ${ERROR_BUDGET}`, 'spent 3d'),
          {
            unit: 'percentunit',
            decimals: 1,
            thresholds: thresholds(COLORS.ok, [0.1, COLORS.warn], [0.5, COLORS.bad]),
          },
        ),
      ],
    },
  ]);
}
