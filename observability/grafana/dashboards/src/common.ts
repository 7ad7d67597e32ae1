// Shared building blocks of the Failway dashboards: pinned datasources, query and panel helpers,
// and the final layout pass that turns sections of panels into classic dashboard JSON.
import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import {
  BarAlignment,
  BigValueColorMode,
  BigValueGraphMode,
  BigValueTextMode,
  type DataSourceRef,
  GraphDrawStyle,
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  HeatmapCellLayout,
  LegendDisplayMode,
  LegendPlacement,
  LogsDedupStrategy,
  LogsSortOrder,
  ReduceDataOptionsBuilder,
  SortOrder,
  StackingConfigBuilder,
  StackingMode,
  TooltipDisplayMode,
  VisibilityMode,
  VizLegendOptionsBuilder,
  VizTooltipOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import {
  type AnnotationQuery,
  AnnotationQueryBuilder,
  type Dashboard,
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  FieldColorBuilder,
  FieldColorModeId,
  MappingType,
  type Panel,
  RowBuilder,
  type RowPanel,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type ValueMapping,
} from '@grafana/grafana-foundation-sdk/dashboard';
import {
  HeatmapColorMode,
  HeatmapColorOptionsBuilder,
  PanelBuilder as HeatmapPanel,
  RowsHeatmapOptionsBuilder,
  YAxisConfigBuilder,
} from '@grafana/grafana-foundation-sdk/heatmap';
import { PanelBuilder as LogsPanel } from '@grafana/grafana-foundation-sdk/logs';
import { DataqueryBuilder as LokiQuery } from '@grafana/grafana-foundation-sdk/loki';
import { PanelBuilder as NodeGraphPanel } from '@grafana/grafana-foundation-sdk/nodegraph';
import { DataqueryBuilder as PromQuery, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as StateTimelinePanel } from '@grafana/grafana-foundation-sdk/statetimeline';
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table';
import {
  SearchTableType,
  DataqueryBuilder as TempoQuery,
  TempoQueryType,
} from '@grafana/grafana-foundation-sdk/tempo';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { platformAlerts, runbookLinkTemplate } from './rules.ts';

/** Datasource UIDs, pinned in provisioning/datasources/datasources.yaml. */
export const PROMETHEUS: DataSourceRef = { type: 'prometheus', uid: 'prometheus' };
export const LOKI: DataSourceRef = { type: 'loki', uid: 'loki' };
export const TEMPO: DataSourceRef = { type: 'tempo', uid: 'tempo' };

export const TAGS = ['failway'];

/** The gateway's /api/departures SLO: 99.5 % of answers are not 5xx. */
export const SLO_OBJECTIVE = 0.995;
export const ERROR_BUDGET = 0.005;

export const COLORS = {
  ok: 'green',
  warn: 'orange',
  bad: 'red',
  info: 'blue',
  neutral: 'text',
} as const;

interface PromOptions {
  /** Show exemplars (trace_id) of the underlying histogram buckets. */
  exemplar?: boolean;
  /** Evaluate once at the end of the range (stat panels). */
  instant?: boolean;
  format?: 'time_series' | 'heatmap' | 'table';
}

const PROM_FORMATS = {
  time_series: PromQueryFormat.TimeSeries,
  heatmap: PromQueryFormat.Heatmap,
  table: PromQueryFormat.Table,
} as const;

/** A PromQL target. Keep `expr` instant-query-able once Grafana's variables are substituted. */
export function prom(expr: string, legendFormat = '__auto', options: PromOptions = {}): PromQuery {
  const query = new PromQuery().datasource(PROMETHEUS).expr(expr).legendFormat(legendFormat);
  if (options.instant) query.instant();
  else query.range();
  if (options.exemplar) query.exemplar(true);
  if (options.format) query.format(PROM_FORMATS[options.format]);
  return query;
}

/** A LogQL target (log lines for logs panels, metric queries for the others). */
export function loki(expr: string, legendFormat?: string): LokiQuery {
  const query = new LokiQuery().datasource(LOKI).expr(expr).queryType('range');
  if (legendFormat !== undefined) query.legendFormat(legendFormat);
  return query;
}

/** A TraceQL search listing matching traces (a table whose trace IDs open in Tempo). */
export function traceql(query: string, limit = 20): TempoQuery {
  return new TempoQuery()
    .datasource(TEMPO)
    .queryType(TempoQueryType.Traceql)
    .query(query)
    .limit(limit)
    .tableType(SearchTableType.Traces);
}

/**
 * Tempo's service graph query: Grafana asks Prometheus (the Tempo data source's serviceMap
 * datasource) for the traces_service_graph_* series the collector's service_graph connector makes,
 * and draws nodes and edges. Each filter is a label selector on those series; several are OR-ed.
 */
export function serviceMap(filters: string[] = []): TempoQuery {
  const query = new TempoQuery().datasource(TEMPO).queryType(TempoQueryType.ServiceMap);
  if (filters.length > 0) query.serviceMapQuery(filters);
  return query;
}

/** Absolute thresholds; the first step is the base colour. */
export function thresholds(base: string, ...steps: [number, string][]): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps([{ value: null, color: base }, ...steps.map(([value, color]) => ({ value, color }))]);
}

/** Maps exact numeric values to text and colour (state timelines, stats). */
export function valueText(entries: Record<string, { text: string; color: string }>): ValueMapping[] {
  const options: Record<string, { text: string; color: string; index: number }> = {};
  Object.entries(entries).forEach(([value, result], index) => {
    options[value] = { ...result, index };
  });
  return [{ type: MappingType.ValueToText, options }];
}

export interface PanelText {
  title: string;
  /** What the panel shows and what to look for. */
  description: string;
}

function legend(table = false): VizLegendOptionsBuilder {
  const builder = new VizLegendOptionsBuilder()
    .showLegend(true)
    .placement(table ? LegendPlacement.Right : LegendPlacement.Bottom)
    .displayMode(table ? LegendDisplayMode.Table : LegendDisplayMode.List)
    .calcs(table ? ['lastNotNull', 'max'] : []);
  return builder;
}

/** Time series panel: lines, multi tooltip sorted by value, legend below. */
export function timeseries(
  text: PanelText,
  targets: Builder<Dataquery>[],
  options: { unit?: string; stack?: boolean; bars?: boolean; legendTable?: boolean; min?: number } = {},
): TimeseriesPanel {
  const panel = new TimeseriesPanel()
    .title(text.title)
    .description(text.description)
    .datasource(datasourceOf(targets))
    .targets(targets)
    .unit(options.unit ?? 'short')
    .lineWidth(1)
    .fillOpacity(options.stack || options.bars ? 60 : 10)
    .legend(legend(options.legendTable))
    .tooltip(new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending))
    .span(12)
    .height(8);
  if (options.min !== undefined) panel.min(options.min);
  if (options.stack) panel.stacking(new StackingConfigBuilder().mode(StackingMode.Normal));
  if (options.bars) panel.drawStyle(GraphDrawStyle.Bars).barAlignment(BarAlignment.Center);
  return panel;
}

/**
 * Latency heatmap of a Prometheus histogram (query format `heatmap`, buckets as rows) with the
 * buckets' trace_id exemplars drawn on top: click one to open its trace in Tempo.
 */
export function latencyHeatmap(text: PanelText, target: PromQuery): HeatmapPanel {
  return new HeatmapPanel()
    .title(text.title)
    .description(text.description)
    .datasource(PROMETHEUS)
    .withTarget(target)
    .calculate(false)
    .rowsFrame(new RowsHeatmapOptionsBuilder().layout(HeatmapCellLayout.Le))
    .yAxis(new YAxisConfigBuilder().unit('s').decimals(3))
    .color(
      new HeatmapColorOptionsBuilder()
        .mode(HeatmapColorMode.Scheme)
        .scheme('Oranges')
        .exponent(0.5)
        .steps(64)
        .reverse(false),
    )
    .cellGap(1)
    .showValue(VisibilityMode.Never)
    .exemplarsColor('rgba(31, 96, 196, 0.9)')
    .span(24)
    .height(10);
}

/** Logs panel with log details on (the SDK's default is off), newest first. */
export function logs(text: PanelText, target: LokiQuery): LogsPanel {
  return new LogsPanel()
    .title(text.title)
    .description(text.description)
    .datasource(LOKI)
    .withTarget(target)
    .showTime(true)
    .showLabels(false)
    .showCommonLabels(false)
    .wrapLogMessage(true)
    .prettifyLogMessage(false)
    .enableLogDetails(true)
    .enableInfiniteScrolling(true)
    .dedupStrategy(LogsDedupStrategy.None)
    .sortOrder(LogsSortOrder.Descending)
    .span(24)
    .height(14);
}

/** Draws the panel's thresholds (after the base step) as dashed lines. */
export function thresholdLines(panel: TimeseriesPanel, config: ThresholdsConfigBuilder): TimeseriesPanel {
  return panel
    .thresholds(config)
    .thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.Dashed));
}

/** Single big number of the latest value, with a sparkline. */
export function stat(
  text: PanelText,
  target: PromQuery,
  options: { unit?: string; thresholds?: ThresholdsConfigBuilder; decimals?: number; graph?: boolean } = {},
): StatPanel {
  const panel = new StatPanel()
    .title(text.title)
    .description(text.description)
    .datasource(PROMETHEUS)
    .withTarget(target)
    .unit(options.unit ?? 'short')
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .graphMode(options.graph === false ? BigValueGraphMode.None : BigValueGraphMode.Area)
    .colorMode(BigValueColorMode.Value)
    .textMode(BigValueTextMode.Auto)
    .thresholds(options.thresholds ?? thresholds(COLORS.info))
    .span(4)
    .height(5);
  if (options.decimals !== undefined) panel.decimals(options.decimals);
  return panel;
}

/** One lane per series, coloured by the value mapped to a state name. */
export function stateTimeline(
  text: PanelText,
  targets: Builder<Dataquery>[],
  mappings: ValueMapping[],
): StateTimelinePanel {
  return new StateTimelinePanel()
    .title(text.title)
    .description(text.description)
    .datasource(datasourceOf(targets))
    .targets(targets)
    .mappings(mappings)
    .colorScheme(new FieldColorBuilder().mode(FieldColorModeId.Thresholds))
    .thresholds(thresholds(COLORS.ok))
    .showValue(VisibilityMode.Never)
    .mergeValues(true)
    .rowHeight(0.8)
    .fillOpacity(80)
    .legend(new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.List))
    .tooltip(new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.None))
    .span(12)
    .height(8);
}

function datasourceOf(targets: Builder<Dataquery>[]): DataSourceRef {
  const refs = new Set(targets.map((t) => (t.build() as { datasource?: DataSourceRef }).datasource?.uid));
  if (refs.size !== 1)
    throw new Error(`a panel's targets must share one datasource, got ${[...refs].join(', ')}`);
  const [uid] = refs;
  const ref = [PROMETHEUS, LOKI, TEMPO].find((ds) => ds.uid === uid);
  if (!ref) throw new Error(`unknown datasource uid ${uid}`);
  return ref;
}

/** The platform's alerts (observability/prometheus/rules), as one regex matcher on `alertname`. */
export function platformAlertMatcher(): string {
  const names = platformAlerts().map((a) => a.name);
  return `alertname=~"${names.join('|')}"`;
}

/**
 * Failway's alerts Prometheus is firing right now (its ALERTS series), one row each, the alert name
 * linking its runbook. There is no Alertmanager in the stack, so this table is where a firing alert
 * is seen; alerts of other rule sets in the same Prometheus (kube-prometheus-stack's) are not listed.
 */
export function firingAlerts(): TablePanel {
  const runbook = runbookLinkTemplate();
  return new TablePanel()
    .title('Alerts firing now')
    .description(
      "Failway's alerts (observability/prometheus/rules/*.yml) that Prometheus evaluates as firing right " +
        'now; alerts of other rule sets in the same Prometheus are left out. Click an alert name for its ' +
        'runbook (docs/runbooks/<alertname>.md). Pending alerts are not shown.',
    )
    .datasource(PROMETHEUS)
    .withTarget(
      prom(
        `sum by (alertname, severity, service, instance) (ALERTS{alertstate="firing", ${platformAlertMatcher()}})`,
        '',
        { instant: true, format: 'table' },
      ),
    )
    .withTransformation({
      id: 'organize',
      options: { excludeByName: { Time: true, Value: true }, indexByName: { alertname: 0, severity: 1 } },
    })
    .overrideByName('alertname', [
      { id: 'links', value: [{ title: 'Runbook', url: runbook, targetBlank: true }] },
    ])
    .noValue('No alert is firing')
    .span(24)
    .height(6);
}

/**
 * The service graph as a node graph: one node per service with its request rate, edges with the
 * calls between them (traces_service_graph_* from the collector's service_graph connector, read
 * through the Tempo data source). `filters` narrow it (see serviceMap).
 */
export function serviceGraph(text: PanelText, filters: string[] = []): NodeGraphPanel {
  return new NodeGraphPanel()
    .title(text.title)
    .description(text.description)
    .datasource(TEMPO)
    .withTarget(serviceMap(filters))
    .span(24)
    .height(12);
}

/** What every Failway dashboard shares: tags, shared crosshair, links to the others, the ban annotation. */
export function failwayDashboard(options: {
  title: string;
  uid: string;
  description: string;
  from: string;
  refresh: string;
  banAnnotation: boolean;
}): DashboardBuilder {
  const builder = new DashboardBuilder(options.title)
    .uid(options.uid)
    .description(options.description)
    .tags(TAGS)
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .time({ from: options.from, to: 'now' })
    .refresh(options.refresh)
    .timezone('browser')
    .link(failwayLinks());
  return options.banAnnotation ? builder.annotation(banAnnotation()) : builder;
}

/** Links every Failway dashboard to the others, keeping the time range and shared variables. */
export function failwayLinks(): DashboardLinkBuilder {
  return new DashboardLinkBuilder('Failway')
    .type(DashboardLinkType.Dashboards)
    .tags(TAGS)
    .asDropdown(true)
    .includeVars(true)
    .keepTime(true)
    .targetBlank(false);
}

/**
 * Upstream bans as annotations: one region per ban and replica, from its start to its end, read
 * from departures_upstream_banned (Grafana joins consecutive samples of a series into one region).
 * Grafana draws them on every time series and state timeline panel of the dashboard.
 */
export function banAnnotation(): AnnotationQueryBuilder {
  return new AnnotationQueryBuilder()
    .name('Upstream bans')
    .datasource(PROMETHEUS)
    .enable(true)
    .iconColor(COLORS.bad)
    .target(prom('max by (instance) (departures_upstream_banned{job="departures"}) == 1').refId('Anno'))
    .step('15s')
    .titleFormat('Upstream ban')
    .textFormat('{{instance}} banned by the upstream')
    .tagKeys('instance')
    .useValueForTime(false);
}

const BUILT_IN_ANNOTATION: AnnotationQuery = {
  builtIn: 1,
  datasource: { type: 'grafana', uid: '-- Grafana --' },
  enable: true,
  hide: true,
  iconColor: 'rgba(0, 211, 255, 1)',
  name: 'Annotations & Alerts',
  type: 'dashboard',
};

export interface Section {
  /** Row title. */
  title: string;
  /** Panels left to right, wrapping at the grid's 24 columns; each keeps its span and height. */
  panels: Builder<Panel>[];
}

const GRID_WIDTH = 24;

/**
 * Builds the dashboard with its panels laid out in expanded rows. Classic dashboard JSON keeps the
 * panels of an expanded row after the row (not inside it), so the rows are laid out here rather than
 * with RowBuilder.withPanel, which would nest them and collapse the row.
 */
export function assemble(builder: DashboardBuilder, sections: Section[]): Dashboard {
  const dashboard = builder.build();
  const panels: (Panel | RowPanel)[] = [];
  let id = 1;
  let y = 0;
  for (const section of sections) {
    const row = new RowBuilder(section.title).collapsed(false).id(id++).build();
    row.gridPos = { h: 1, w: GRID_WIDTH, x: 0, y };
    row.panels = [];
    panels.push(row);
    y += 1;
    let x = 0;
    let lineHeight = 0;
    for (const panelBuilder of section.panels) {
      const panel = panelBuilder.build();
      const w = panel.gridPos?.w ?? 12;
      const h = panel.gridPos?.h ?? 8;
      if (x + w > GRID_WIDTH) {
        x = 0;
        y += lineHeight;
        lineHeight = 0;
      }
      panel.id = id++;
      panel.gridPos = { h, w, x, y };
      // Dataquery is an opaque variant type in the SDK; every query kind we build has a refId.
      panel.targets?.forEach((target, index) => {
        const query = target as { refId?: string };
        query.refId ??= String.fromCharCode(65 + index);
      });
      panels.push(panel);
      x += w;
      lineHeight = Math.max(lineHeight, h);
    }
    y += lineHeight;
  }
  dashboard.panels = panels;
  dashboard.templating = { list: dashboard.templating.list ?? [] };
  dashboard.annotations = {
    list: [BUILT_IN_ANNOTATION, ...(dashboard.annotations.list ?? [])],
  };
  return dashboard;
}

/** Fixed colours for named series (e.g. cache results, pool states). */
export function seriesColors<P extends TimeseriesPanel | StateTimelinePanel>(
  panel: P,
  colors: Record<string, string>,
): P {
  for (const [name, color] of Object.entries(colors)) {
    panel.overrideByName(name, [{ id: 'color', value: { mode: 'fixed', fixedColor: color } }]);
  }
  return panel;
}

/** Series matching `regexp` drawn as dashed reference lines (budgets, limits). */
export function referenceLines(panel: TimeseriesPanel, regexp: string, color: string): TimeseriesPanel {
  return panel.overrideByRegexp(regexp, [
    { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
    { id: 'custom.lineWidth', value: 2 },
    { id: 'custom.fillOpacity', value: 0 },
    { id: 'custom.stacking', value: { mode: 'none', group: 'A' } },
    { id: 'color', value: { mode: 'fixed', fixedColor: color } },
  ]);
}
