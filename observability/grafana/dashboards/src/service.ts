import {
  type Dashboard,
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table';
import {
  assemble,
  COLORS,
  failwayDashboard,
  LOKI,
  latencyHeatmap,
  logs,
  loki,
  PROMETHEUS,
  prom,
  serviceGraph,
  stat,
  TEMPO,
  thresholds,
  timeseries,
  traceql,
} from './common.ts';
import { clientQuantile, clientRate, RATE, serverErrorRatio, serverQuantile, serverRate } from './promql.ts';

export const SERVICE_UID = 'failway-service';

/** The dashboard's selection: one service, any of its routes. */
const SELECTED = 'service="$service", route=~"$route"';
const OF_SERVICE = 'service="$service"';

function variables() {
  const service = new QueryVariableBuilder('service')
    .label('Service')
    .description('Service to look at (its `service` label).')
    .datasource(PROMETHEUS)
    .query('label_values(http_server_request_duration_seconds_count, service)')
    .definition('label_values(http_server_request_duration_seconds_count, service)')
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .current({ text: 'gateway', value: 'gateway', selected: true });
  // "All" is `.+`, not Grafana's alternation of the values it has seen: routes that only
  // appear later in the time range still match.
  const route = new QueryVariableBuilder('route')
    .label('Route')
    .description('Route templates of the service (`unmatched` = paths no route handles).')
    .datasource(PROMETHEUS)
    .query('label_values(http_server_request_duration_seconds_count{service="$service"}, route)')
    .definition('label_values(http_server_request_duration_seconds_count{service="$service"}, route)')
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.+')
    .current({ text: 'All', value: '$__all', selected: true });
  return [service, route];
}

function quantiles(by: string, legend: string, matchers: string) {
  return [0.5, 0.95, 0.99].map((q) =>
    prom(serverQuantile(q, by, matchers), `p${q * 100}${legend}`, { exemplar: q === 0.99 }),
  );
}

export function serviceDashboard(): Dashboard {
  const builder = failwayDashboard({
    title: 'Failway · Service detail',
    uid: SERVICE_UID,
    description:
      "One service's requests, errors and latency by route, the latency heatmap with trace exemplars, " +
      'its calls to other services, its runtime, and its slow traces and error logs.',
    from: 'now-1h',
    refresh: '30s',
    banAnnotation: false,
  });
  for (const variable of variables()) builder.withVariable(variable);

  return assemble(builder, [
    {
      title: 'RED: $service',
      panels: [
        stat(
          {
            title: 'Requests/s',
            description: 'Inbound requests per second to the selected routes of the service.',
          },
          prom(serverRate('', SELECTED), 'requests/s'),
          { unit: 'reqps', decimals: 2 },
        ).span(8),
        stat(
          {
            title: '5xx ratio',
            description:
              'Share of the selected requests answered 5xx. Red above 0.5 % (the gateway SLO budget). ' +
              'Empty without traffic.',
          },
          prom(serverErrorRatio('', SELECTED), '5xx'),
          {
            unit: 'percentunit',
            decimals: 2,
            thresholds: thresholds(COLORS.ok, [0.001, COLORS.warn], [0.005, COLORS.bad]),
          },
        ).span(8),
        stat(
          {
            title: 'p95 latency',
            description: '95th percentile duration of the selected requests.',
          },
          prom(serverQuantile(0.95, '', SELECTED), 'p95'),
          { unit: 's', thresholds: thresholds(COLORS.ok, [0.5, COLORS.warn], [1, COLORS.bad]) },
        ).span(8),
        timeseries(
          {
            title: 'Requests/s by route and status',
            description:
              'Inbound requests per second by route template and status code. `unmatched` counts paths ' +
              'no route handles (scanners, typos); 499 means the client hung up before the answer.',
          },
          [prom(serverRate('route, status_code', SELECTED), '{{route}} {{status_code}}')],
          { unit: 'reqps', stack: true, min: 0, legendTable: true },
        ),
        timeseries(
          {
            title: '5xx ratio by route',
            description:
              'Share of requests answered 5xx per route. 4xx are the callers\u2019 mistakes, not errors.',
          },
          [prom(serverErrorRatio('route', SELECTED), '{{route}}')],
          { unit: 'percentunit', min: 0 },
        ),
        timeseries(
          {
            title: 'Latency quantiles',
            description:
              'p50, p95 and p99 of the selected requests, from the histogram buckets (5 ms … 10 s). ' +
              'Dots on the p99 line are exemplars: click one to open that request\u2019s trace in Tempo.',
          },
          quantiles('', '', SELECTED),
          { unit: 's', min: 0 },
        ),
        timeseries(
          {
            title: 'p95 latency by route',
            description: 'p95 per route template: which route got slow.',
          },
          [prom(serverQuantile(0.95, 'route', SELECTED), '{{route}}', { exemplar: true })],
          { unit: 's', min: 0 },
        ),
      ],
    },
    {
      title: 'Latency distribution',
      panels: [
        latencyHeatmap(
          {
            title: 'Request duration heatmap (with exemplars)',
            description:
              'Requests per histogram bucket over time; darker = more requests. A second band above the ' +
              'main one is a slow path (upstream calls, retries, timeouts). The dots are trace_id ' +
              'exemplars: hover one and choose "Open trace in Tempo".',
          },
          prom(
            `sum by (le) (increase(http_server_request_duration_seconds_bucket{${SELECTED}}[${RATE}]))`,
            '{{le}}',
            { format: 'heatmap', exemplar: true },
          ),
        ),
      ],
    },
    {
      title: 'Calls to other services',
      panels: [
        serviceGraph(
          {
            title: 'Service graph of $service',
            description:
              'The selected service, who calls it and whom it calls, from the spans ' +
              '(traces_service_graph_* where it is the client or the server, through the Tempo data ' +
              'source). Edges carry request rate, errors and latency; click a node or an edge to search ' +
              'its traces.',
          },
          ['{client="$service"}', '{server="$service"}'],
        ).height(10),
        timeseries(
          {
            title: 'Outbound calls/s by peer and status',
            description:
              'Calls the service makes, by peer service and status code (`timeout` / `error` when no ' +
              'answer came back). rail-sim 429/403/503 answers are the upstream banning this replica.',
          },
          [prom(clientRate('peer_service, status_code', OF_SERVICE), '{{peer_service}} {{status_code}}')],
          { unit: 'reqps', stack: true, min: 0 },
        ).span(8),
        timeseries(
          {
            title: 'Outbound call latency p95',
            description:
              'p95 duration of outbound calls per peer. rail-sim answers in 80–250 ms; a peer at its ' +
              'timeout means calls are being cut off (see the `timeout` status on the left).',
          },
          [prom(clientQuantile(0.95, 'peer_service', OF_SERVICE), '{{peer_service}}', { exemplar: true })],
          { unit: 's', min: 0 },
        ).span(8),
        timeseries(
          {
            title: 'Outbound calls failed',
            description:
              'Share of outbound calls per peer that got a 5xx or no answer at all (timeout, connection ' +
              'error). The gateway retries these on another replica.',
          },
          [
            prom(
              `(sum by (peer_service) (rate(http_client_request_duration_seconds_count{${OF_SERVICE}, status_code=~"5..|timeout|error"}[${RATE}])) or 0 * ${clientRate('peer_service', OF_SERVICE)}) / ${clientRate('peer_service', OF_SERVICE)}`,
              '{{peer_service}}',
            ),
          ],
          { unit: 'percentunit', min: 0 },
        ).span(8),
      ],
    },
    {
      title: 'Runtime',
      panels: [
        timeseries(
          {
            title: 'CPU per instance',
            description: 'CPU seconds used per second by each process of the service (1 = one core).',
          },
          [
            prom(
              `sum by (instance) (rate(process_cpu_seconds_total{${OF_SERVICE}}[${RATE}]))`,
              '{{instance}}',
            ),
          ],
          { unit: 'percentunit', min: 0 },
        ).span(8),
        timeseries(
          {
            title: 'Resident memory per instance',
            description: 'Resident set size of each process. A line that only grows is a leak.',
          },
          [prom(`max by (instance) (process_resident_memory_bytes{${OF_SERVICE}})`, '{{instance}}')],
          { unit: 'bytes', min: 0 },
        ).span(8),
        timeseries(
          {
            title: 'Event loop lag p99',
            description:
              'p99 event-loop delay per process. Above ~100 ms every request on that process waits, ' +
              'whatever its route.',
          },
          [prom(`max by (instance) (nodejs_eventloop_lag_p99_seconds{${OF_SERVICE}})`, '{{instance}}')],
          { unit: 's', min: 0 },
        ).span(8),
      ],
    },
    {
      title: 'Traces and logs of $service',
      panels: [
        new TablePanel()
          .title('Slowest server spans (Tempo)')
          .description(
            'Recent traces of the service with a server span over 250 ms. Click a trace ID to ' +
              'open it; in the trace, "Logs for this span" shows its log lines from Loki.',
          )
          .datasource(TEMPO)
          .withTarget(traceql('{ resource.service.name = "$service" && kind = server && duration > 250ms }'))
          .span(12)
          .height(10),
        logs(
          {
            title: 'Warnings and errors (Loki)',
            description:
              'warn and error lines of the service: 4xx/5xx access lines, failed upstream calls, bans. ' +
              'Expand a line for its request_id and trace_id; the trace_id links to Tempo.',
          },
          loki('{service_name="$service", level=~"warn|error"}'),
        )
          .datasource(LOKI)
          .span(12)
          .height(10),
      ],
    },
  ]);
}
