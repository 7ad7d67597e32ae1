import {
  type Dashboard,
  QueryVariableBuilder,
  TextBoxVariableBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { assemble, COLORS, failwayDashboard, LOKI, logs, loki, seriesColors, timeseries } from './common.ts';

export const LOGS_UID = 'failway-logs';

// Loki indexes only service_name and level; request_id, trace_id and span_id are structured
// metadata, so they are filtered after the stream selector. An empty textbox matches every line
// (`.*` around the value), a full ID matches that request or trace.
const STREAMS = '{service_name=~"$service", level=~"$level"}';
const FILTERS = '| request_id=~".*$request_id.*" | trace_id=~".*$trace_id.*"';

/** A multi-value variable over one Loki label's values. */
function lokiLabelVariable(name: string, label: string, lokiLabel: string): QueryVariableBuilder {
  return (
    new QueryVariableBuilder(name)
      .label(label)
      .datasource(LOKI)
      .query(`label_values(${lokiLabel})`)
      .definition(`label_values(${lokiLabel})`)
      .refresh(VariableRefresh.OnTimeRangeChanged)
      .sort(VariableSort.AlphabeticalAsc)
      .multi(true)
      .includeAll(true)
      // Loki refuses a selector whose matchers all match the empty string: All is `.+`.
      .allValue('.+')
      .current({ text: 'All', value: '$__all', selected: true })
  );
}

function variables() {
  return [
    lokiLabelVariable('service', 'Service', 'service_name'),
    lokiLabelVariable('level', 'Level', 'level'),
    new TextBoxVariableBuilder('request_id')
      .label('request_id')
      .description('X-Request-ID of one request (from a response header, an access line or a span).')
      .defaultValue(''),
    new TextBoxVariableBuilder('trace_id')
      .label('trace_id')
      .description('W3C trace ID (32 hex digits), e.g. from a Tempo trace or an exemplar.')
      .defaultValue(''),
  ];
}

export function logsDashboard(): Dashboard {
  const builder = failwayDashboard({
    title: 'Failway · Logs',
    uid: LOGS_UID,
    description:
      'Log lines of every service from Loki, by service and level, narrowed to one request_id or ' +
      'trace_id. Expand a line for its fields; its trace_id opens the trace in Tempo.',
    from: 'now-1h',
    refresh: '30s',
    banAnnotation: true,
  });
  for (const variable of variables()) builder.withVariable(variable);

  return assemble(builder, [
    {
      title: 'Volume',
      panels: [
        seriesColors(
          timeseries(
            {
              title: 'Log lines by level',
              description:
                'Lines per interval by level. error lines are 5xx access lines and unexpected failures; ' +
                'warn lines are 4xx access lines, failed upstream calls and bans. A wall of warn at ' +
                'departures is the upstream refusing calls.',
            },
            [loki(`sum by (level) (count_over_time(${STREAMS} ${FILTERS} [$__auto]))`, '{{level}}')],
            { stack: true, bars: true, min: 0 },
          ),
          { error: COLORS.bad, warn: COLORS.warn, info: COLORS.ok, http: COLORS.info, debug: 'purple' },
        ).span(12),
        timeseries(
          {
            title: 'Log lines by service',
            description: 'Lines per interval by service, after the same filters as the lines below.',
          },
          [
            loki(
              `sum by (service_name) (count_over_time(${STREAMS} ${FILTERS} [$__auto]))`,
              '{{service_name}}',
            ),
          ],
          { stack: true, bars: true, min: 0 },
        ).span(12),
      ],
    },
    {
      title: 'Lines',
      panels: [
        logs(
          {
            title: 'Log lines',
            description:
              'Newest first. Expand a line for its fields: request_id follows one request through ' +
              'every service; trace_id opens its trace in Tempo ("Tempo" link). Type an ID into the ' +
              'request_id or trace_id box above to see only its lines.',
          },
          loki(`${STREAMS} ${FILTERS}`),
        ).height(20),
      ],
    },
  ]);
}
