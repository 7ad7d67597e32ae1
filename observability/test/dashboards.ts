// Reads the committed Grafana dashboards (observability/grafana/dashboards/*.json) and lists every
// query in them with Grafana's variables substituted, so tests can parse them and run them against
// a real Prometheus exactly as Grafana would send them.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '@failway/testkit';

export const DASHBOARDS_DIR = resolve(REPO_ROOT, 'observability/grafana/dashboards');

export interface DashboardQuery {
  dashboard: string;
  panel: string;
  datasource: 'prometheus' | 'loki' | 'tempo';
  expr: string;
}

interface DataSourceRef {
  type?: string;
  uid?: string;
}

interface Target {
  refId?: string;
  datasource?: DataSourceRef;
  expr?: string;
  query?: string;
  queryType?: string;
  serviceMapQuery?: string | string[];
}

export interface PanelJson {
  id?: number;
  type: string;
  title?: string;
  description?: string;
  datasource?: DataSourceRef;
  targets?: Target[];
  panels?: PanelJson[];
  options?: Record<string, unknown>;
}

interface VariableJson {
  type: string;
  name: string;
  query?: unknown;
  current?: { value?: string | string[] };
  includeAll?: boolean;
  allValue?: string;
  options?: { value: string }[];
}

export interface AnnotationJson {
  name: string;
  enable?: boolean;
  datasource?: DataSourceRef;
  target?: Target;
  filter?: { exclude?: boolean; ids: number[] };
  useValueForTime?: boolean;
}

export interface DashboardJson {
  uid: string;
  title: string;
  time?: { from: string; to: string };
  panels: PanelJson[];
  templating?: { list?: VariableJson[] };
  annotations?: { list?: AnnotationJson[] };
}

/**
 * Grafana's global variables, at values a dashboard gets with its default time range and a 15 s
 * scrape interval ($__rate_interval is at least four scrape intervals).
 */
const GLOBALS: Record<string, string> = {
  __rate_interval: '1m',
  __interval: '15s',
  __interval_ms: '15000',
  __auto: '1m',
  __range: '1h',
  __range_s: '3600',
  __range_ms: '3600000',
};

const DATASOURCES = new Set(['prometheus', 'loki', 'tempo']);

/** Absolute paths of the committed dashboard JSON files. */
export function dashboardFiles(): string[] {
  return readdirSync(DASHBOARDS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => join(DASHBOARDS_DIR, f));
}

export function readDashboard(path: string): DashboardJson {
  return JSON.parse(readFileSync(path, 'utf8')) as DashboardJson;
}

/** Every panel, including those inside collapsed rows. */
export function allPanels(dashboard: DashboardJson): PanelJson[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** What each of the dashboard's variables stands for when the caller gives no value. */
function defaults(dashboard: DashboardJson): Record<string, string> {
  const values: Record<string, string> = {};
  for (const v of dashboard.templating?.list ?? []) {
    const current = Array.isArray(v.current?.value) ? v.current?.value[0] : v.current?.value;
    if (current === '$__all' || (current === undefined && v.includeAll)) values[v.name] = v.allValue ?? '.*';
    else if (current !== undefined) values[v.name] = current;
    else if (v.type === 'textbox') values[v.name] = typeof v.query === 'string' ? v.query : '';
    else values[v.name] = v.options?.[0]?.value ?? '';
  }
  return values;
}

/**
 * Replaces $var, ${var} and ${var:format} (the format is ignored: values here are plain words
 * or regexes meant as such). An unknown variable is a broken dashboard, so it throws.
 */
export function substitute(expr: string, values: Record<string, string>, where = ''): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (match, braced?: string, bare?: string) => {
    const name = (braced ?? bare) as string;
    const value = values[name];
    if (value === undefined) throw new Error(`${where}: unknown variable ${match} in ${expr}`);
    return value;
  });
}

function datasourceOf(target: Target, panel: PanelJson | undefined, where: string) {
  const uid = target.datasource?.uid ?? panel?.datasource?.uid;
  if (!uid || !DATASOURCES.has(uid)) throw new Error(`${where}: datasource uid ${uid} is not pinned`);
  return uid as DashboardQuery['datasource'];
}

/** What the Tempo data source's service map asks Prometheus for (per filter, OR-ed): requests and their duration per edge. */
const SERVICE_MAP_METRICS = [
  'traces_service_graph_request_total',
  'traces_service_graph_request_server_seconds_sum',
];

/**
 * The PromQL Grafana runs for a Tempo `serviceMap` query: for each metric, one
 * `sum by (client, server) (rate(<metric>{<filter>}[$__range]))` per filter of serviceMapQuery,
 * joined with `or` (grafana/grafana#81037). Listed as Prometheus queries, which is where they run.
 */
export function serviceMapPromql(target: Target): string[] {
  const filters = [target.serviceMapQuery ?? ''].flat();
  const matchers = (filters.length > 0 ? filters : ['']).map((f) => /\{(.*)\}/.exec(f)?.[1] ?? '');
  return SERVICE_MAP_METRICS.map((metric) =>
    matchers.map((m) => `sum by (client, server) (rate(${metric}{${m}}[$__range]))`).join(' or '),
  );
}

/** Every query of every committed dashboard JSON, with template variables substituted ($var, ${var},
 *  ${var:regex}, $__rate_interval, $__interval, $__range...) from `vars` or sensible defaults. Tempo
 *  service map targets are listed as the Prometheus queries Grafana makes of them. */
export function dashboardQueries(vars: Record<string, string> = {}): DashboardQuery[] {
  const queries: DashboardQuery[] = [];
  for (const file of dashboardFiles()) {
    const dashboard = readDashboard(file);
    const values = { ...GLOBALS, ...defaults(dashboard), ...vars };
    const add = (panel: string, target: Target, owner: PanelJson | undefined) => {
      const where = `${dashboard.uid} › ${panel}`;
      const datasource = datasourceOf(target, owner, where);
      if (datasource === 'tempo' && target.queryType === 'serviceMap') {
        serviceMapPromql(target).forEach((expr, i) => {
          const name = `${where} (service map query ${i + 1})`;
          queries.push({
            dashboard: dashboard.uid,
            panel: `${panel} (service map ${i + 1})`,
            datasource: 'prometheus',
            expr: substitute(expr, values, name),
          });
        });
        return;
      }
      const raw = datasource === 'tempo' ? target.query : target.expr;
      if (raw === undefined || raw.trim() === '') throw new Error(`${where}: empty query`);
      queries.push({ dashboard: dashboard.uid, panel, datasource, expr: substitute(raw, values, where) });
    };
    for (const panel of allPanels(dashboard)) {
      for (const target of panel.targets ?? []) {
        add(`${panel.title ?? panel.type} [${target.refId ?? '?'}]`, target, panel);
      }
    }
    for (const annotation of dashboard.annotations?.list ?? []) {
      if (annotation.target) {
        add(
          `annotation: ${annotation.name}`,
          { datasource: annotation.datasource, ...annotation.target },
          undefined,
        );
      }
    }
  }
  return queries;
}
