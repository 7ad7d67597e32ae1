import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { createMetrics } from '@failway/telemetry';
import { findTool, type PrometheusInstance, REPO_ROOT, startPrometheus } from '@failway/testkit';
import { parser as logqlParser } from '@grafana/lezer-logql';
import type { SyntaxNode, Tree } from '@lezer/common';
import { parser as promqlParser } from '@prometheus-io/lezer-promql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  allPanels,
  DASHBOARDS_DIR,
  type DashboardJson,
  dashboardFiles,
  dashboardQueries,
  readDashboard,
  substitute,
} from './dashboards.ts';

const GENERATOR = resolve(DASHBOARDS_DIR, 'src/generate.ts');
const PROVISIONING = resolve(REPO_ROOT, 'observability/grafana/provisioning');
const RULES_DIR = resolve(REPO_ROOT, 'observability/prometheus/rules');
/** Every rules file, as prometheus.yml loads them (rules/*.yml); the recording rules are among them. */
const RULE_FILES = readdirSync(RULES_DIR)
  .filter((f) => f.endsWith('.yml'))
  .sort()
  .map((f) => join(RULES_DIR, f));
const TELEMETRY_DOC = resolve(REPO_ROOT, 'docs/telemetry.md');
const PINNED = ['prometheus', 'loki', 'tempo'];
const EXPECTED_UIDS = ['failway-bans', 'failway-k6', 'failway-logs', 'failway-overview', 'failway-service'];

const dashboards = dashboardFiles().map(readDashboard);
const queries = dashboardQueries();
const promql = queries.filter((q) => q.datasource === 'prometheus');
const logql = queries.filter((q) => q.datasource === 'loki');

function generate(args: string[]): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, ['--conditions=source', GENERATOR, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Text of every error node, with some context: empty when the query parses cleanly. */
function syntaxErrors(tree: Tree, text: string): string[] {
  const errors: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError)
        errors.push(`at ${node.from}: …${text.slice(Math.max(0, node.from - 20), node.from + 20)}…`);
    },
  });
  return errors;
}

/** Metric names a PromQL expression selects (the Identifier of each VectorSelector). */
function metricNames(expr: string): string[] {
  const names: string[] = [];
  promqlParser.parse(expr).iterate({
    enter(node) {
      if (node.name !== 'VectorSelector') return;
      const identifier = node.node.getChild('Identifier');
      if (identifier) names.push(expr.slice(identifier.from, identifier.to));
    },
  });
  return names;
}

/** Labels a LogQL stream selector matches on (not the label filters after `|`). */
function streamLabels(expr: string): string[] {
  const labels: string[] = [];
  logqlParser.parse(expr).iterate({
    enter(node) {
      if (node.name === 'LabelFilter' || node.name === 'PipelineExpr') return false;
      if (node.name === 'Matcher') {
        const identifier = node.node.getChild('Identifier');
        if (identifier) labels.push(expr.slice(identifier.from, identifier.to));
      }
      return undefined;
    },
  });
  return labels;
}

/**
 * Every metric name the platform exports or records: docs/telemetry.md's registry (histograms
 * with their series suffixes; the `process_*`/`nodejs_*` wildcards resolved against the real
 * prom-client registry the services use), the recording rules, Prometheus' own series, and the
 * names k6's experimental-prometheus-rw output gives the load tests' metrics.
 */
function knownMetrics(): Set<string> {
  const known = new Set<string>(['ALERTS', 'ALERTS_FOR_STATE', 'up']);
  const doc = readFileSync(TELEMETRY_DOC, 'utf8');
  const metricsSection = doc.slice(doc.indexOf('## Metrics'), doc.indexOf('## Spans'));
  const wildcards: string[] = [];
  for (const line of metricsSection.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const [nameCell, typeCell] = [cells[1] ?? '', cells[2] ?? ''];
    for (const [, name] of nameCell.matchAll(/`([a-z_:*]+)`/g)) {
      if (!name) continue;
      if (name.endsWith('*')) wildcards.push(name.slice(0, -1));
      else if (typeCell === 'histogram') for (const s of ['_bucket', '_count', '_sum']) known.add(name + s);
      else known.add(name);
    }
  }
  expect(wildcards.sort()).toEqual(['nodejs_', 'process_']);
  const defaults = createMetrics('dashboards-test').registry.getMetricsAsArray();
  for (const metric of defaults) {
    const { name, type } = metric as unknown as { name: string; type: string };
    if (!wildcards.some((w) => name.startsWith(w))) continue;
    if (type === 'histogram') for (const s of ['_bucket', '_count', '_sum']) known.add(name + s);
    else known.add(name);
  }
  for (const file of RULE_FILES) {
    const rules = parse(readFileSync(file, 'utf8')) as { groups: { rules: { record?: string }[] }[] };
    for (const rule of rules.groups.flatMap((g) => g.rules)) if (rule.record) known.add(rule.record);
  }
  // k6: counters → k6_<name>_total, rates → k6_<name>_rate, gauges → k6_<name>, trends → one gauge
  // per K6_PROMETHEUS_RW_TREND_STATS stat (p(95),p(99),avg → _p95, _p99, _avg).
  for (const name of ['http_reqs', 'iterations', 'data_sent', 'data_received', 'answers'])
    known.add(`k6_${name}_total`);
  for (const name of ['http_req_failed', 'checks', 'stale_answers']) known.add(`k6_${name}_rate`);
  for (const name of ['vus', 'vus_max']) known.add(`k6_${name}`);
  for (const name of ['http_req_duration', 'http_req_waiting', 'iteration_duration'])
    for (const stat of ['p95', 'p99', 'avg']) known.add(`k6_${name}_${stat}`);
  // The OpenTelemetry Collector's own metrics (:8888) as its 0.158 Prometheus reader names them (no
  // _total suffix), and its service_graph connector's series (:8889). The pipeline end-to-end test
  // runs every dashboard query against the real collector; the send_failed counters appear only
  // once something failed, and the queue gauges only for exporters with a sending queue (OTLP).
  for (const signal of ['spans', 'log_records']) {
    for (const outcome of ['accepted', 'refused', 'failed'])
      known.add(`otelcol_receiver_${outcome}_${signal}`);
    for (const outcome of ['sent', 'send_failed']) known.add(`otelcol_exporter_${outcome}_${signal}`);
  }
  for (const name of ['queue_size', 'queue_capacity']) known.add(`otelcol_exporter_${name}`);
  for (const name of ['request_total', 'request_failed_total', 'request_server_seconds_sum'])
    known.add(`traces_service_graph_${name}`);
  return known;
}

describe('Grafana dashboards as code', () => {
  it('has the five dashboards, each committed as <uid>.json, uids unique', () => {
    expect(dashboards.map((d) => d.uid).sort()).toEqual(EXPECTED_UIDS);
    for (const file of dashboardFiles()) {
      const dashboard = readDashboard(file);
      expect(file.endsWith(`/${dashboard.uid}.json`)).toBe(true);
    }
  });

  it('commits the JSON the sources generate (npm run dashboards -- --check)', () => {
    const { status, output } = generate(['--check']);
    expect(output).toBe('');
    expect(status).toBe(0);
  });

  it('--check exits 1 and names the file when a committed dashboard is stale', () => {
    const dir = mkdtempSync(join(tmpdir(), 'failway-dashboards-'));
    try {
      cpSync(DASHBOARDS_DIR, dir, { recursive: true, filter: (src) => !src.includes('/src') });
      const path = join(dir, 'failway-bans.json');
      writeFileSync(path, readFileSync(path, 'utf8').replace('"failway-bans"', '"failway-bans-edited"'));
      writeFileSync(join(dir, 'left-over.json'), '{}\n');
      const { status, output } = generate(['--check', '--dir', dir]);
      expect(status).toBe(1);
      expect(output).toMatch(/stale: .*failway-bans\.json/);
      expect(output).toMatch(/no source: .*left-over\.json/);
      expect(output).not.toMatch(/failway-overview/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has a pinned datasource on every panel and every query, ids and titles in order', () => {
    for (const dashboard of dashboards) {
      const panels = allPanels(dashboard);
      const ids = panels.map((p) => p.id);
      expect(new Set(ids).size, `${dashboard.uid}: panel ids repeat`).toBe(ids.length);
      for (const panel of panels.filter((p) => p.type !== 'row')) {
        const where = `${dashboard.uid} › ${panel.title}`;
        expect(panel.title, where).toBeTruthy();
        expect(PINNED, `${where}: panel datasource`).toContain(panel.datasource?.uid);
        expect(panel.targets?.length, `${where}: no query`).toBeGreaterThan(0);
        for (const target of panel.targets ?? []) {
          expect(target.datasource?.uid ?? panel.datasource?.uid, `${where}: query datasource`).toBe(
            panel.datasource?.uid,
          );
        }
      }
      for (const variable of dashboard.templating?.list ?? []) {
        const ds = (variable as { datasource?: { uid?: string } }).datasource;
        if (variable.type === 'query')
          expect(PINNED, `${dashboard.uid} $${variable.name}`).toContain(ds?.uid);
      }
    }
  });

  it('lists queries from every dashboard, with no variable left unsubstituted', () => {
    expect(new Set(queries.map((q) => q.dashboard))).toEqual(new Set(EXPECTED_UIDS));
    for (const q of queries) expect(q.expr, `${q.dashboard} › ${q.panel}`).not.toContain('$');
    expect(promql.length).toBeGreaterThan(40);
    expect(logql.length).toBeGreaterThan(3);
  });

  it('substitutes variables from the caller, and refuses unknown ones', () => {
    const withService = dashboardQueries({ service: 'departures', __rate_interval: '2m' });
    const heatmap = withService.find((q) => q.dashboard === 'failway-service' && q.panel.includes('heatmap'));
    expect(heatmap?.expr).toBe(
      'sum by (le) (increase(http_server_request_duration_seconds_bucket{service="departures", route=~".+"}[2m]))',
    );
    const braced = ['rate(x[$', '{w:text}])'].join(''); // ${w:text}, spelt so no linter takes it for JS
    expect(substitute(braced, { w: '5m' })).toBe('rate(x[5m])');
    expect(() => substitute('rate(x[$nope])', {}, 'here')).toThrow(/unknown variable \$nope/);
  });

  it('writes PromQL that parses', () => {
    for (const q of promql) {
      expect(
        syntaxErrors(promqlParser.parse(q.expr), q.expr),
        `${q.dashboard} › ${q.panel}: ${q.expr}`,
      ).toEqual([]);
    }
    // The parser does flag broken PromQL (so the check above can fail).
    expect(syntaxErrors(promqlParser.parse('sum(rate(x[5m])'), 'sum(rate(x[5m])')).not.toEqual([]);
  });

  it('writes LogQL that parses, selecting streams only by service_name and level', () => {
    for (const q of logql) {
      const where = `${q.dashboard} › ${q.panel}: ${q.expr}`;
      expect(syntaxErrors(logqlParser.parse(q.expr), q.expr), where).toEqual([]);
      const labels = streamLabels(q.expr);
      expect(labels.length, where).toBeGreaterThan(0);
      for (const label of labels) expect(['service_name', 'level'], where).toContain(label);
    }
    const broken = '{service_name="x" | request_id="y"';
    expect(syntaxErrors(logqlParser.parse(broken), broken)).not.toEqual([]);
    expect(streamLabels('{request_id="a"} | trace_id="b"')).toEqual(['request_id']);
  });

  it('queries only metrics the services export, the rules record or k6 pushes', () => {
    const known = knownMetrics();
    const unknown = promql.flatMap((q) =>
      metricNames(q.expr)
        .filter((name) => !known.has(name))
        .map((name) => `${q.dashboard} › ${q.panel}: ${name}`),
    );
    expect(unknown).toEqual([]);
    const variableMetrics = dashboards.flatMap((d) =>
      (d.templating?.list ?? [])
        .filter((v) => (v as { datasource?: { uid?: string } }).datasource?.uid === 'prometheus')
        .flatMap((v) => [...String(v.query).matchAll(/label_values\((\w+)/g)].map((m) => m[1] as string)),
    );
    expect(variableMetrics.length).toBeGreaterThan(0);
    for (const name of variableMetrics) expect(known.has(name), name).toBe(true);
    // The check does catch a misspelt name.
    expect(
      metricNames('sum(rate(departures_upstream_request_total[5m]))').filter((n) => !known.has(n)),
    ).toEqual(['departures_upstream_request_total']);
  });

  it('uses $__rate_interval for every rate (longer windows come from the recording rules)', () => {
    const raw = dashboards.flatMap((d) =>
      allPanels(d).flatMap((p) =>
        (p.targets ?? []).map((t) => ({ d: d.uid, p: p.title, expr: t.expr ?? '' })),
      ),
    );
    for (const { d, p, expr } of raw) {
      for (const [, window] of expr.matchAll(/(?:rate|increase)\([^[]*\[([^\]]+)\]\)/g)) {
        expect(window, `${d} › ${p}: ${expr}`).toBe('$__rate_interval');
      }
    }
  });

  it('draws the service latency heatmap from histogram buckets with exemplars on', () => {
    const service = dashboards.find((d) => d.uid === 'failway-service') as DashboardJson;
    const heatmap = allPanels(service).find((p) => p.type === 'heatmap');
    expect(heatmap?.datasource?.uid).toBe('prometheus');
    const target = heatmap?.targets?.[0] as { expr: string; exemplar?: boolean; format?: string };
    expect(target.exemplar).toBe(true);
    expect(target.format).toBe('heatmap');
    expect(target.expr).toMatch(/http_server_request_duration_seconds_bucket/);
    expect(heatmap?.options?.calculate).toBe(false);
    expect(heatmap?.options?.exemplars).toMatchObject({ color: expect.any(String) });
  });

  it('shows log details in every logs panel', () => {
    const logsPanels = dashboards.flatMap((d) => allPanels(d).filter((p) => p.type === 'logs'));
    expect(logsPanels.length).toBeGreaterThan(0);
    for (const panel of logsPanels) expect(panel.options?.enableLogDetails, panel.title).toBe(true);
  });

  it('gives the logs dashboard textboxes for request_id and trace_id, filtered as structured metadata', () => {
    const logs = dashboards.find((d) => d.uid === 'failway-logs') as DashboardJson;
    const textboxes = (logs.templating?.list ?? []).filter((v) => v.type === 'textbox').map((v) => v.name);
    expect(textboxes.sort()).toEqual(['request_id', 'trace_id']);
    const lines = dashboardQueries({ request_id: 'req-1', trace_id: 'abc' }).find(
      (q) => q.dashboard === 'failway-logs' && q.panel.startsWith('Log lines ['),
    );
    expect(lines?.expr).toBe(
      '{service_name=~".+", level=~".+"} | request_id=~".*req-1.*" | trace_id=~".*abc.*"',
    );
  });
});

/** Alert names and runbook URLs of every rules file. */
function ruleAlerts(): { name: string; runbook: string }[] {
  return RULE_FILES.flatMap((f) =>
    (
      parse(readFileSync(f, 'utf8')) as {
        groups: { rules: { alert?: string; annotations?: Record<string, string> }[] }[];
      }
    ).groups
      .flatMap((g) => g.rules)
      .flatMap((r) => (r.alert ? [{ name: r.alert, runbook: r.annotations?.runbook_url ?? '' }] : [])),
  );
}

const byUid = (uid: string) => dashboards.find((d) => d.uid === uid) as DashboardJson;

interface FieldOverride {
  matcher: { id: string; options: string };
  properties: { id: string; value: { title?: string; url: string }[] }[];
}

describe('what the dashboards show of the platform', () => {
  it("lists only Failway's alerts in the alerts table, each linking its runbook", () => {
    const table = allPanels(byUid('failway-overview')).find((p) => p.title === 'Alerts firing now');
    const expr = table?.targets?.[0]?.expr ?? '';
    const matcher = /alertname=~"([^"]+)"/.exec(expr)?.[1] ?? '';
    const alerts = ruleAlerts();
    expect(matcher.split('|').sort()).toEqual(alerts.map((a) => a.name).sort());
    expect(expr).toMatch(
      /^sum by \(alertname, severity, service, instance\) \(ALERTS\{alertstate="firing", alertname=~"/,
    );
    const overrides = (table as unknown as { fieldConfig: { overrides: FieldOverride[] } }).fieldConfig
      .overrides;
    const link = overrides
      .find((o) => o.matcher.id === 'byName' && o.matcher.options === 'alertname')
      ?.properties.find((p) => p.id === 'links')?.value[0];
    expect(link?.url).toBeTruthy();
    const cell = ['$', '{__value.raw}'].join('');
    for (const alert of alerts) expect(link?.url.replace(cell, alert.name), alert.name).toBe(alert.runbook);
  });

  it('draws every ban from start to end on the time series of the Overview and Bans dashboards', () => {
    for (const uid of ['failway-overview', 'failway-bans']) {
      const dashboard = byUid(uid);
      const bans = (dashboard.annotations?.list ?? []).filter((a) =>
        /departures_upstream_banned\b.*== 1$/.test(a.target?.expr ?? ''),
      );
      expect(bans, uid).toHaveLength(1);
      const [ban] = bans;
      // Prometheus annotations join consecutive samples into one region (start → end) unless the
      // value is used as the time, which would make each sample a point.
      expect(ban?.datasource?.uid, uid).toBe('prometheus');
      expect(ban?.enable, uid).toBe(true);
      expect(ban?.useValueForTime ?? false, uid).toBe(false);
      expect(ban?.filter, `${uid}: the annotation shows on every panel`).toBeUndefined();
      expect(allPanels(dashboard).filter((p) => p.type === 'timeseries').length, uid).toBeGreaterThan(3);
    }
  });

  it('shows the service graph as a node graph: all of it on the Overview, the chosen service on Service detail', () => {
    const graph = (uid: string) => allPanels(byUid(uid)).filter((p) => p.type === 'nodeGraph');
    const [overview] = graph('failway-overview');
    expect(overview?.datasource?.uid).toBe('tempo');
    expect(overview?.targets?.[0]).toMatchObject({ queryType: 'serviceMap' });
    expect(overview?.targets?.[0]?.serviceMapQuery ?? []).toEqual([]);
    const [service] = graph('failway-service');
    expect(service?.targets?.[0]).toMatchObject({
      queryType: 'serviceMap',
      serviceMapQuery: ['{client="$service"}', '{server="$service"}'],
    });
    // What Grafana then asks Prometheus for: the collector's service graph series.
    const asked = dashboardQueries({ service: 'departures' }).filter(
      (q) => q.dashboard === 'failway-service' && q.panel.includes('service map'),
    );
    expect(asked.map((q) => q.expr)).toContain(
      'sum by (client, server) (rate(traces_service_graph_request_total{client="departures"}[1h])) or ' +
        'sum by (client, server) (rate(traces_service_graph_request_total{server="departures"}[1h]))',
    );
  });

  it("watches the platform's scrape jobs, the collector's traffic and route-config on the Overview", () => {
    const prometheusYml = parse(
      readFileSync(resolve(REPO_ROOT, 'observability/prometheus/prometheus.yml'), 'utf8'),
    ) as {
      scrape_configs: { job_name: string }[];
    };
    const jobs = prometheusYml.scrape_configs.map((j) => j.job_name).filter((j) => j !== 'prometheus');
    const overview = promql.filter((q) => q.dashboard === 'failway-overview');
    const up = overview.find((q) => /\bup\{job=~"/.test(q.expr));
    expect(
      /up\{job=~"([^"]+)"/
        .exec(up?.expr ?? '')?.[1]
        ?.split('|')
        .sort(),
    ).toEqual(jobs.sort());
    const read = new Set(overview.flatMap((q) => metricNames(q.expr)));
    for (const name of [
      'routeconfig_config_valid',
      'routeconfig_reloads_total',
      'routeconfig_routes',
      'otelcol_receiver_accepted_spans',
      'otelcol_receiver_refused_spans',
      'otelcol_receiver_failed_spans',
      'otelcol_receiver_accepted_log_records',
      'otelcol_receiver_refused_log_records',
      'otelcol_receiver_failed_log_records',
      'otelcol_exporter_send_failed_spans',
      'otelcol_exporter_queue_size',
      'log_syslog_dropped_total',
    ])
      expect(read, name).toContain(name);
  });
});

/** A Prometheus duration (`90s`, `1h30m`, `3d`) in seconds. */
function seconds(duration: string): number {
  const units: Record<string, number> = {
    ms: 0.001,
    s: 1,
    m: 60,
    h: 3600,
    d: 86_400,
    w: 604_800,
    y: 31_536_000,
  };
  let total = 0;
  const rest = duration.replace(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/g, (_, n: string, unit: string) => {
    total += Number(n) * (units[unit] as number);
    return '';
  });
  if (rest !== '' || duration === '') throw new Error(`unreadable duration ${duration}`);
  return total;
}

/**
 * How far back `expr` reads, in seconds: for each range selector, its range plus the offsets and
 * subquery ranges around it; the longest of them.
 */
function lookback(expr: string): number {
  let longest = 0;
  const durationOf = (node: SyntaxNode | null | undefined) =>
    node ? seconds(expr.slice(node.from, node.to)) : 0;
  promqlParser.parse(expr).iterate({
    enter(ref) {
      if (ref.name !== 'MatrixSelector') return;
      let total = durationOf(ref.node.getChild('DurationExpr'));
      for (let up = ref.node.parent; up; up = up.parent) {
        if (up.name === 'OffsetExpr') total += durationOf(up.getChild('OffsetDurationExpr'));
        if (up.name === 'SubqueryExpr') total += durationOf(up.getChild('DurationExpr'));
      }
      longest = Math.max(longest, total);
    },
  });
  return longest;
}

/** Prometheus retention of each stack: compose's command flag and kube-prometheus-stack's value. */
function retentions(): Record<string, number> {
  const compose = parse(readFileSync(resolve(REPO_ROOT, 'compose.yaml'), 'utf8'), { merge: true }) as {
    services: { prometheus: { command: string[] } };
  };
  const flag = compose.services.prometheus.command.find((c) =>
    c.startsWith('--storage.tsdb.retention.time='),
  );
  const kps = parse(
    readFileSync(resolve(REPO_ROOT, 'k8s/helm/kube-prometheus-stack-values.yaml'), 'utf8'),
  ) as {
    prometheus: { prometheusSpec: { retention?: string } };
  };
  // Without the flag or the value Prometheus keeps 15 days (its default, and the chart's 10d).
  return {
    compose: seconds(flag?.split('=')[1] ?? '15d'),
    kubernetes: seconds(kps.prometheus.prometheusSpec.retention ?? '10d'),
  };
}

describe('history the queries ask for', () => {
  const kept = retentions();
  const ruleExprs = RULE_FILES.flatMap((f) =>
    (
      parse(readFileSync(f, 'utf8')) as {
        groups: { rules: { record?: string; alert?: string; expr: string }[] }[];
      }
    ).groups
      .flatMap((g) => g.rules)
      .map((r) => ({ where: `${basename(f)} › ${r.record ?? r.alert}`, expr: r.expr })),
  );

  it('parses durations and finds the longest range, offsets and subqueries included', () => {
    expect(seconds('1h30m')).toBe(5400);
    expect(lookback('sum(rate(x[5m] offset 1h)) / max_over_time(rate(y[1m])[30m:1m])')).toBe(3900);
    expect(lookback('x')).toBe(0);
  });

  it('never reaches further back than the Prometheus of compose and of Kubernetes keeps', () => {
    expect(Object.values(kept).every((s) => s >= 86_400)).toBe(true);
    const limit = Math.min(...Object.values(kept));
    const tooLong: string[] = [];
    for (const q of promql)
      if (lookback(q.expr) > limit) tooLong.push(`${q.dashboard} › ${q.panel}: ${q.expr}`);
    for (const r of ruleExprs) if (lookback(r.expr) > limit) tooLong.push(`${r.where}: ${r.expr}`);
    // A dashboard's default time range is a range too ($__range, and what its graphs show).
    for (const d of dashboards) {
      const from = /^now-(\w+)$/.exec(d.time?.from ?? '')?.[1];
      expect(from, `${d.uid} time.from`).toBeDefined();
      if (seconds(from as string) > limit) tooLong.push(`${d.uid}: default time range now-${from}`);
    }
    expect(tooLong, `longer than ${limit / 86_400} days (retention ${JSON.stringify(kept)})`).toEqual([]);
    // The check does catch a 30-day window.
    expect(lookback('sum(rate(http_server_request_duration_seconds_count[30d]))')).toBeGreaterThan(limit);
  });

  // The SLO is defined over 30 days; a panel over the 3 days Prometheus keeps must not say 30.
  it('says "3 days" in the title of every panel over the 3-day window, and nowhere "30 days"', () => {
    const titled = dashboards.flatMap((d) =>
      allPanels(d)
        .filter((p) => p.type !== 'row')
        .map((p) => ({ title: p.title ?? '', exprs: (p.targets ?? []).map((t) => t.expr ?? '') })),
    );
    const over3d = titled.filter((p) => p.exprs.some((e) => /ratio_rate3d\b|\[3d\]/.test(e)));
    expect(over3d.length).toBeGreaterThanOrEqual(3);
    for (const p of over3d) expect(p.title).toMatch(/\b3[- ]day/);
    for (const p of titled) expect(p.title).not.toMatch(/\b30\s?d\b|30[- ]day/);
  });
});

interface Datasource {
  name: string;
  uid: string;
  type: string;
  url: string;
  jsonData?: Record<string, unknown>;
}

describe('Grafana provisioning', () => {
  const datasources = (
    parse(readFileSync(join(PROVISIONING, 'datasources/datasources.yaml'), 'utf8')) as {
      datasources: Datasource[];
    }
  ).datasources;
  const byUid = (uid: string) => datasources.find((d) => d.uid === uid) as Datasource;

  it('pins the three datasources to their uids and compose hostnames', () => {
    expect(datasources.map((d) => [d.uid, d.type, d.url])).toEqual([
      ['prometheus', 'prometheus', 'http://prometheus:9090'],
      ['loki', 'loki', 'http://loki:3100'],
      ['tempo', 'tempo', 'http://tempo:3200'],
    ]);
  });

  it('links Prometheus exemplars (trace_id) to Tempo', () => {
    expect(byUid('prometheus').jsonData?.exemplarTraceIdDestinations).toEqual([
      expect.objectContaining({ name: 'trace_id', datasourceUid: 'tempo' }),
    ]);
  });

  it('links Tempo spans to their Loki lines by trace_id, and to the service map and node graph', () => {
    const json = byUid('tempo').jsonData as Record<string, Record<string, unknown>>;
    const toLogs = json.tracesToLogsV2 as Record<string, unknown>;
    expect(toLogs).toMatchObject({ datasourceUid: 'loki', filterByTraceID: true });
    expect(toLogs.tags).toEqual([{ key: 'service.name', value: 'service_name' }]);
    // Grafana expands ${...} from its environment in provisioning files: its own variables are $${...}.
    expect(toLogs.query).toBe('{$${__tags}} | trace_id="$${__trace.traceId}"');
    const query = (toLogs.query as string)
      .replaceAll('$$', '$')
      .replace(/\$\{__tags\}/, 'service_name="gateway"');
    const expr = query.replace(/\$\{__trace\.traceId\}/, '0af7651916cd43dd8448eb211c80319c');
    expect(syntaxErrors(logqlParser.parse(expr), expr)).toEqual([]);
    expect(json.serviceMap).toEqual({ datasourceUid: 'prometheus' });
    expect(json.nodeGraph).toEqual({ enabled: true });
  });

  it('turns the trace_id structured metadata of Loki lines into a Tempo link', () => {
    expect(byUid('loki').jsonData?.derivedFields).toEqual([
      expect.objectContaining({
        matcherType: 'label',
        matcherRegex: 'trace_id',
        datasourceUid: 'tempo',
        url: '$${__value.raw}',
      }),
    ]);
  });

  it('escapes every Grafana variable in the datasources from environment expansion', () => {
    const text = readFileSync(join(PROVISIONING, 'datasources/datasources.yaml'), 'utf8');
    const code = text
      .split('\n')
      .filter((l) => !l.trim().startsWith('#'))
      .join('\n');
    expect(code.match(/(?<!\$)\$(?!\$)/g) ?? []).toEqual([]);
  });

  it('loads the dashboards from the mounted folder into "Failway"', () => {
    const files = readdirSync(join(PROVISIONING, 'dashboards'));
    expect(files).toEqual(['failway.yaml']);
    const { providers } = parse(readFileSync(join(PROVISIONING, 'dashboards/failway.yaml'), 'utf8')) as {
      providers: { type: string; folder: string; options: { path: string } }[];
    };
    expect(providers).toEqual([
      expect.objectContaining({
        type: 'file',
        folder: 'Failway',
        options: expect.objectContaining({ path: '/var/lib/grafana/dashboards' }),
      }),
    ]);
    // Grafana loads every *.json under that folder: only dashboards may be there.
    for (const file of readdirSync(DASHBOARDS_DIR).filter((f) => f.endsWith('.json'))) {
      expect(EXPECTED_UIDS.map((u) => `${u}.json`)).toContain(file);
    }
  });
});

const prometheus = findTool('prometheus', 'PROMETHEUS_PATH', [
  '/usr/bin/prometheus',
  '/usr/local/bin/prometheus',
]);
if (!prometheus.path) console.warn(prometheus.reason);

describe.skipIf(!prometheus.path)('dashboard PromQL against a real Prometheus', () => {
  let server: PrometheusInstance;
  beforeAll(async () => {
    server = await startPrometheus({
      binary: prometheus.path as string,
      targets: [],
      ruleFiles: RULE_FILES,
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function accepted(expr: string): Promise<string> {
    const res = await fetch(`${server.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; errorType?: string; error?: string };
    return body.status === 'success' ? 'ok' : `${body.errorType}: ${body.error}`;
  }

  it('accepts every dashboard PromQL query', async () => {
    const rejected: string[] = [];
    for (const q of promql) {
      const result = await accepted(q.expr);
      if (result !== 'ok') rejected.push(`${q.dashboard} › ${q.panel}: ${result}`);
    }
    expect(rejected).toEqual([]);
    expect(await accepted('sum(rate(x[5m])')).toMatch(/bad_data/);
  });
});

describe.skipIf(!existsSync(resolve(REPO_ROOT, 'loadtest')))('k6 custom metrics', () => {
  it('are declared by the load tests under the names the k6 dashboard queries', () => {
    const scripts = readdirSync(resolve(REPO_ROOT, 'loadtest'), { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.js') || f.endsWith('.ts'))
      .map((f) => readFileSync(resolve(REPO_ROOT, 'loadtest', f), 'utf8'))
      .join('\n');
    expect(scripts).toMatch(/new Rate\(\s*['"]stale_answers['"]/);
    expect(scripts).toMatch(/new Counter\(\s*['"]answers['"]/);
  });
});
