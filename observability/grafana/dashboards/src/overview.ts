import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  assemble,
  COLORS,
  ERROR_BUDGET,
  failwayDashboard,
  firingAlerts,
  prom,
  referenceLines,
  SLO_OBJECTIVE,
  seriesColors,
  serviceGraph,
  stat,
  stateTimeline,
  thresholdLines,
  thresholds,
  timeseries,
  valueText,
} from './common.ts';
import {
  COLLECTOR,
  LONGEST_WINDOW,
  PLATFORM_JOBS,
  RATE,
  SLO_MATCHERS,
  serverErrorRatio,
  serverQuantile,
  serverRate,
  sloBudgetRemaining,
  sloBurnRate,
  sloErrorRatio,
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
            title: 'Availability /api/departures (last 3 days)',
            description:
              "Share of the gateway's GET /api/departures answers over the last 3 days that were not 5xx " +
              '(recording rule slo:gateway_departures_errors:ratio_rate3d). The SLO is 99.5 % over 30 days, ' +
              'but Prometheus keeps 3 days of data here, so this is the longest window it can honestly ' +
              'show: red below 99.5 %. Stale boards count as good answers, which is the point.',
          },
          prom(`1 - ${sloErrorRatio(LONGEST_WINDOW)}`, 'availability', { instant: true }),
          {
            unit: 'percentunit',
            decimals: 3,
            graph: false,
            thresholds: thresholds(COLORS.bad, [SLO_OBJECTIVE, COLORS.ok]),
          },
        ),
        stat(
          {
            title: 'Error budget left at the 3-day pace',
            description:
              'Share of the error budget (0.5 % of answers may be 5xx) that would be left after 30 days if ' +
              'the last 3 days (all the data Prometheus keeps) were the pace: 100 % = no 5xx at all; 0 % = ' +
              'the SLO exactly met; negative = that pace misses it. Orange under 25 %.',
          },
          prom(sloBudgetRemaining(LONGEST_WINDOW), 'budget left', { instant: true }),
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
      title: 'Service graph',
      panels: [
        serviceGraph({
          title: 'Service graph',
          description:
            'Who calls whom, from the spans: one node per service (its request rate and latency), one edge ' +
            'per caller → callee pair (traces_service_graph_* from the collector\u2019s service_graph ' +
            'connector, read through the Tempo data source). Click a node or an edge for its request rate, ' +
            'errors and latency, or to search its traces. gateway → departures and departures → rail-sim ' +
            'carry the boards; rail-sim\u2019s error rate is the upstream refusing calls.',
        }),
      ],
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
    {
      title: 'route-config: stations and routes',
      panels: [
        stat(
          {
            title: 'Routes file valid',
            description:
              'Whether route-config uses the routes file on disk (routeconfig_config_valid): valid, or refused ' +
              'because it is invalid, in which case route-config keeps serving its last good catalog and ' +
              'RouteConfigInvalid fires after a minute. Its log line "routes file invalid" names every bad entry.',
          },
          prom('min(routeconfig_config_valid{job="route-config"})', 'valid'),
          { graph: false, thresholds: thresholds(COLORS.bad, [1, COLORS.ok]) },
        )
          .mappings(
            valueText({
              '0': { text: 'refused', color: COLORS.bad },
              '1': { text: 'valid', color: COLORS.ok },
            }),
          )
          .span(6)
          .height(8),
        seriesColors(
          timeseries(
            {
              title: 'Routes file reloads by result',
              description:
                'Reloads after the routes file changed (routeconfig_reloads_total): success, or failure (the ' +
                'file was invalid or unreadable and the last good catalog was kept). A failure here and ' +
                'no success after it is a change that has not taken effect.',
            },
            [
              prom(
                `sum by (result) (increase(routeconfig_reloads_total{job="route-config"}[${RATE}]))`,
                '{{result}}',
              ),
            ],
            { bars: true, min: 0 },
          ),
          { success: COLORS.ok, failure: COLORS.bad },
        ).span(9),
        timeseries(
          {
            title: 'Catalog in use',
            description:
              'Stations and preset routes in the catalog route-config serves (routeconfig_stations, ' +
              'routeconfig_routes). A change of the file shows here once it is accepted; a refused one ' +
              'leaves these lines flat.',
          },
          [
            prom('max(routeconfig_stations{job="route-config"})', 'stations'),
            prom('max(routeconfig_routes{job="route-config"})', 'routes'),
          ],
          { min: 0 },
        ).span(9),
      ],
    },
    {
      title: 'Telemetry pipeline',
      panels: [
        stateTimeline(
          {
            title: 'Scrape targets up',
            description:
              "Whether Prometheus can scrape each of Failway's targets (up), one lane per job and instance: " +
              'down means the process is gone, unreachable or its /metrics fails, and FailwayTargetDown ' +
              'fires after 2 minutes. Its series are then missing from every other panel.',
          },
          [prom(`max by (job, instance) (up{job=~"${PLATFORM_JOBS}"})`, '{{job}} {{instance}}')],
          valueText({
            '0': { text: 'down', color: COLORS.bad },
            '1': { text: 'up', color: COLORS.ok },
          }),
        ).span(24),
        timeseries(
          {
            title: 'Spans into the collector',
            description:
              'Spans the OpenTelemetry Collector took in per second, by receiver: accepted, refused (the ' +
              'memory_limiter pushed back: the collector is short of memory) and failed (could not be ' +
              'passed on). Anything but accepted means traces are being lost.',
          },
          [
            prom(
              `sum by (receiver) (rate(otelcol_receiver_accepted_spans{${COLLECTOR}}[${RATE}]))`,
              'accepted {{receiver}}',
            ),
            prom(
              `sum by (receiver) (rate(otelcol_receiver_refused_spans{${COLLECTOR}}[${RATE}]))`,
              'refused {{receiver}}',
            ),
            prom(
              `sum by (receiver) (rate(otelcol_receiver_failed_spans{${COLLECTOR}}[${RATE}]))`,
              'failed {{receiver}}',
            ),
          ],
          { unit: 'ops', min: 0 },
        ).span(8),
        timeseries(
          {
            title: 'Log records into the collector',
            description:
              'Log records the collector took in per second from syslog-ng (the syslog receiver), accepted, ' +
              'refused or failed. On Kubernetes the services log to stdout and Alloy ships them to Loki, so ' +
              'this panel has no data there.',
          },
          [
            prom(
              `sum by (receiver) (rate(otelcol_receiver_accepted_log_records{${COLLECTOR}}[${RATE}]))`,
              'accepted {{receiver}}',
            ),
            prom(
              `sum by (receiver) (rate(otelcol_receiver_refused_log_records{${COLLECTOR}}[${RATE}]))`,
              'refused {{receiver}}',
            ),
            prom(
              `sum by (receiver) (rate(otelcol_receiver_failed_log_records{${COLLECTOR}}[${RATE}]))`,
              'failed {{receiver}}',
            ),
          ],
          { unit: 'ops', min: 0 },
        ).span(8),
        timeseries(
          {
            title: 'Sent and failed by exporter',
            description:
              'Spans and log records the collector delivered per second, by exporter (Tempo, Loki), and ' +
              'those it gave up on after its retries (send_failed: the backend was down or refused them). ' +
              'The failed lines read 0 while nothing has failed.',
          },
          [
            prom(
              `sum by (exporter) (rate(otelcol_exporter_sent_spans{${COLLECTOR}}[${RATE}]))`,
              'sent spans {{exporter}}',
            ),
            prom(
              `sum by (exporter) (rate(otelcol_exporter_send_failed_spans{${COLLECTOR}}[${RATE}])) or 0 * sum by (exporter) (rate(otelcol_exporter_sent_spans{${COLLECTOR}}[${RATE}]))`,
              'failed spans {{exporter}}',
            ),
            prom(
              `sum by (exporter) (rate(otelcol_exporter_sent_log_records{${COLLECTOR}}[${RATE}]))`,
              'sent logs {{exporter}}',
            ),
            prom(
              `sum by (exporter) (rate(otelcol_exporter_send_failed_log_records{${COLLECTOR}}[${RATE}])) or 0 * sum by (exporter) (rate(otelcol_exporter_sent_log_records{${COLLECTOR}}[${RATE}]))`,
              'failed logs {{exporter}}',
            ),
          ],
          { unit: 'ops', min: 0 },
        ).span(8),
        referenceLines(
          timeseries(
            {
              title: 'Exporter queue',
              description:
                'Batches waiting in each exporter\u2019s sending queue, against its capacity (dashed). A ' +
                'queue that grows means the backend (Tempo, Loki) is slow or down; at capacity the ' +
                'collector drops new data, which then shows as failed on the left.',
            },
            [
              prom(`max by (exporter) (otelcol_exporter_queue_size{${COLLECTOR}})`, '{{exporter}}'),
              prom(
                `max by (exporter) (otelcol_exporter_queue_capacity{${COLLECTOR}})`,
                '{{exporter}} capacity',
              ),
            ],
            { min: 0 },
          ),
          '.* capacity$',
          COLORS.bad,
        ).span(12),
        timeseries(
          {
            title: 'Syslog records dropped by the services',
            description:
              'Log records each service dropped because its syslog buffer (1,000 records) was full while ' +
              'syslog-ng was unreachable (log_syslog_dropped_total). Their stdout copy is kept. syslog-ng ' +
              'counts its own drops (a collector away longer than log-fifo-size lasts): ' +
              '`docker compose exec syslog-ng syslog-ng-ctl stats`, column dropped.',
          },
          [
            prom(
              `sum by (service) (increase(log_syslog_dropped_total{job=~"${PLATFORM_JOBS}"}[${RATE}]))`,
              '{{service}}',
            ),
          ],
          { bars: true, min: 0 },
        ).span(12),
      ],
    },
  ]);
}
