import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { findTool, REPO_ROOT } from '@failway/testkit';
import { parser as promqlParser } from '@prometheus-io/lezer-promql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

const PROM_DIR = resolve(REPO_ROOT, 'observability/prometheus');
const CONFIG = join(PROM_DIR, 'prometheus.yml');
const RULES_DIR = join(PROM_DIR, 'rules');
// prometheus.yml loads rules/*.yml
const RULE_FILES = readdirSync(RULES_DIR)
  .filter((f) => f.endsWith('.yml'))
  .sort()
  .map((f) => join(RULES_DIR, f));
const TESTS_DIR = join(PROM_DIR, 'tests');
const TEST_FILES = readdirSync(TESTS_DIR)
  .filter((f) => f.endsWith('.yml'))
  .sort()
  .map((f) => join(TESTS_DIR, f));
const RUNBOOKS_DIR = resolve(REPO_ROOT, 'docs/runbooks');
const RUNBOOK_PREFIX = 'https://github.com/failway/failway/blob/main/docs/runbooks/';

const promtool = findTool('promtool', 'PROMTOOL_PATH', ['/usr/bin/promtool', '/usr/local/bin/promtool']);
if (!promtool.path) console.warn(promtool.reason);

/**
 * `promtool test rules` over every test file, again and again: promtool evaluates the rule groups
 * of one timestamp in random order, so an expectation that depends on that order fails (or
 * reads other values) only some of the runs. A run takes about a second (most of it one TSDB per
 * test group), so the runs are bounded in number and in time, and run a few at a time.
 */
const REPEAT_RUNS = 40;
const REPEAT_MIN_RUNS = 15;
const REPEAT_BUDGET_MS = 60_000;
const REPEAT_CONCURRENCY = Math.max(1, Math.min(4, availableParallelism()));

function run(args: string[]): { status: number | null; output: string } {
  const result = spawnSync(promtool.path as string, args, {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function runAsync(args: string[]): Promise<{ status: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(promtool.path as string, args, { cwd: REPO_ROOT, timeout: 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', fail);
    child.on('close', (status) => done({ status, output: `${stdout}${stderr}` }));
  });
}

/** Up to `runs` runs of promtool, `concurrency` at a time, starting none after `budgetMs`. */
async function repeatRuns(args: string[], runs: number, budgetMs: number, concurrency: number) {
  const deadline = Date.now() + budgetMs;
  const results: { status: number | null; output: string }[] = [];
  let started = 0;
  const worker = async () => {
    while (started < runs && Date.now() < deadline) {
      const i = started++;
      results[i] = await runAsync(args);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface AlertTestCase {
  alertname: string;
  eval_time: string;
  exp_alerts?: { exp_labels?: Record<string, string>; exp_annotations?: Record<string, string> }[];
}
interface TestFile {
  rule_files: string[];
  tests: {
    input_series?: { series: string; values: string }[];
    alert_rule_test?: AlertTestCase[];
    promql_expr_test?: unknown[];
  }[];
}
interface Group {
  file: string;
  name: string;
  rules: Rule[];
}

const readYaml = <T>(path: string): T => parse(readFileSync(path, 'utf8')) as T;
const groups: Group[] = RULE_FILES.flatMap((f) =>
  readYaml<RuleFile>(f).groups.map((g) => ({ ...g, file: basename(f) })),
);
const alerts = groups.flatMap((g) => g.rules.filter((r) => r.alert));
const ruleName = (r: Rule) => (r.alert ?? r.record) as string;
/** Where each recorded metric name is recorded: group and position in it. */
const recorded = new Map<string, { group: Group; index: number }[]>();
for (const group of groups)
  group.rules.forEach((rule, index) => {
    if (rule.record) recorded.set(rule.record, [...(recorded.get(rule.record) ?? []), { group, index }]);
  });
const testFiles = TEST_FILES.map((f) => ({ file: basename(f), doc: readYaml<TestFile>(f) }));
const alertCases = testFiles.flatMap(({ doc }) => doc.tests.flatMap((t) => t.alert_rule_test ?? []));

/**
 * Metric names a PromQL expression (or a promtool input series, which is written as a selector)
 * selects: each VectorSelector's name, or its `__name__="…"` matcher. Throws on a syntax error or
 * on a selector whose metric name it cannot tell, rather than miss a name.
 */
function metricNames(expr: string): string[] {
  const names: string[] = [];
  const problems: string[] = [];
  promqlParser.parse(expr).iterate({
    enter(ref) {
      if (ref.type.isError) problems.push(`syntax error at ${ref.from}`);
      if (ref.name !== 'VectorSelector') return;
      const identifier = ref.node.getChild('Identifier');
      if (identifier) {
        names.push(expr.slice(identifier.from, identifier.to));
        return;
      }
      const byName = ref.node
        .getChild('LabelMatchers')
        ?.getChildren('UnquotedLabelMatcher')
        .find((m) => {
          const label = m.getChild('LabelName');
          return (
            label &&
            expr.slice(label.from, label.to) === '__name__' &&
            m.getChild('MatchOp')?.getChild('EqlSingle')
          );
        })
        ?.getChild('StringLiteral');
      if (byName) names.push(JSON.parse(expr.slice(byName.from, byName.to)) as string);
      else problems.push(`no metric name in ${expr.slice(ref.from, ref.to)}`);
    },
  });
  if (problems.length > 0) throw new Error(`${expr}: ${problems.join('; ')}`);
  return names;
}

/**
 * Every metric name an expression reads: the ones it selects and, through the recording rules
 * among them, the names those rules read, down to raw (scraped) metrics.
 */
function readsTransitively(expr: string, seen = new Set<string>()): Set<string> {
  for (const name of metricNames(expr)) {
    if (seen.has(name)) continue;
    seen.add(name);
    for (const { group, index } of recorded.get(name) ?? [])
      readsTransitively((group.rules[index] as Rule).expr, seen);
  }
  return seen;
}

/** The platform's scrape jobs: every job of prometheus.yml but Prometheus' own. */
const PLATFORM_JOBS = readYaml<{ scrape_configs: { job_name: string }[] }>(CONFIG)
  .scrape_configs.map((j) => j.job_name)
  .filter((j) => j !== 'prometheus');

/**
 * Selectors of scraped (not recorded) metrics in `expr` that are not limited to the platform's
 * jobs by a `job` matcher (`job="x"` or `job=~"x|y"` with every alternative a platform job).
 */
function unscopedSelectors(expr: string): string[] {
  const unscoped: string[] = [];
  promqlParser.parse(expr).iterate({
    enter(ref) {
      if (ref.name !== 'VectorSelector') return;
      const text = expr.slice(ref.from, ref.to);
      const identifier = ref.node.getChild('Identifier');
      if (identifier && recorded.has(expr.slice(identifier.from, identifier.to))) return;
      const job = ref.node
        .getChild('LabelMatchers')
        ?.getChildren('UnquotedLabelMatcher')
        .find((m) => {
          const label = m.getChild('LabelName');
          return label && expr.slice(label.from, label.to) === 'job';
        });
      const op = job?.getChild('MatchOp');
      const literal = job?.getChild('StringLiteral');
      const value = literal ? (JSON.parse(expr.slice(literal.from, literal.to)) as string) : '';
      const jobs = op?.getChild('EqlSingle') ? [value] : op?.getChild('EqlRegex') ? value.split('|') : [];
      if (jobs.length === 0 || !jobs.every((j) => PLATFORM_JOBS.includes(j))) unscoped.push(text);
    },
  });
  return unscoped;
}

describe('the Prometheus alert and runbook catalogue', () => {
  it('has the alerts the stack relies on', () => {
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'GatewayErrorBudgetBurnFast',
        'GatewayErrorBudgetBurnSlow',
        'GatewayLatencyP95High',
        'DeparturesReplicaBanned',
        'DeparturesAllReplicasBanned',
        'StaleBoardsServed',
        'UpstreamBudgetExhausted',
        'FailwayTargetDown',
        'RouteConfigInvalid',
      ]),
    );
  });

  it.each(alerts.map((a) => [a.alert as string, a] as const))(
    '%s has severity, summary, description and a runbook that exists',
    (name, alert) => {
      expect(['critical', 'warning']).toContain(alert.labels?.severity);
      expect(alert.annotations?.summary).toBeTruthy();
      expect(alert.annotations?.description).toBeTruthy();
      const url = alert.annotations?.runbook_url ?? '';
      expect(url).toBe(`${RUNBOOK_PREFIX}${name}.md`);
      const file = join(RUNBOOKS_DIR, url.slice(RUNBOOK_PREFIX.length));
      expect(existsSync(file), `${file} is missing`).toBe(true);
      expect(readFileSync(join(RUNBOOKS_DIR, 'README.md'), 'utf8')).toContain(`(${name}.md)`);
    },
  );

  it.each(alerts.map((a) => [a.alert as string] as const))(
    '%s is unit-tested firing and not firing',
    (name) => {
      const cases = alertCases.filter((c) => c.alertname === name);
      expect(
        cases.some((c) => (c.exp_alerts ?? []).length > 0),
        `no case where ${name} fires`,
      ).toBe(true);
      expect(
        cases.some((c) => (c.exp_alerts ?? []).length === 0),
        `no case where ${name} stays quiet`,
      ).toBe(true);
    },
  );

  it('parses metric names out of PromQL and input series', () => {
    expect(metricNames('count by (service) (a == 1) == count by (service) (b{x="y"})')).toEqual(['a', 'b']);
    expect(metricNames('histogram_quantile(0.95, sum by (le) (rate(c_bucket[5m]))) > 1')).toEqual([
      'c_bucket',
    ]);
    expect(metricNames('{__name__="d", instance="x"}')).toEqual(['d']);
    expect(() => metricNames('{__name__=~"e.*"}')).toThrow(/no metric name/);
    expect(() => metricNames('sum(rate(f[5m])')).toThrow(/syntax error/);
  });

  // Prometheus evaluates the rules of a group in order, at one timestamp, but each group on its
  // own (promtool: in random order): a rule reading a recording rule of another group, or a later
  // one of its own, sees the value of the previous evaluation some of the time.
  it('evaluates every rule that reads a recording rule after it, in the same group', () => {
    const readers: string[] = [];
    const problems: string[] = [];
    for (const group of groups)
      group.rules.forEach((rule, index) => {
        for (const name of new Set(metricNames(rule.expr))) {
          for (const source of recorded.get(name) ?? []) {
            readers.push(ruleName(rule));
            if (source.group === group && source.index < index) continue;
            problems.push(
              `${ruleName(rule)} (${group.file} › ${group.name}) reads ${name}, recorded in ` +
                (source.group === group
                  ? 'the same group but after it'
                  : `${source.group.file} › ${source.group.name}`),
            );
          }
        }
      });
    expect(problems).toEqual([]);
    // not vacuously: the alerts over recording rules were seen reading them
    expect(readers).toEqual(
      expect.arrayContaining([
        'GatewayErrorBudgetBurnFast',
        'GatewayErrorBudgetBurnSlow',
        'GatewayLatencyP95High',
      ]),
    );
  });

  // A quiet case with no series the alert reads passes whatever the rule says.
  it('feeds every quiet alert case a series the alert reads, directly or through recording rules', () => {
    const problems: string[] = [];
    let quiet = 0;
    for (const { file, doc } of testFiles)
      doc.tests.forEach((test, i) => {
        const fed = new Set((test.input_series ?? []).flatMap((s) => metricNames(s.series)));
        for (const c of test.alert_rule_test ?? []) {
          if ((c.exp_alerts ?? []).length > 0) continue;
          quiet++;
          const alert = alerts.find((a) => a.alert === c.alertname);
          if (!alert) {
            problems.push(`${file} test ${i + 1}: no alert ${c.alertname}`);
            continue;
          }
          const reads = readsTransitively(alert.expr);
          if (![...reads].some((name) => fed.has(name)))
            problems.push(
              `${file} test ${i + 1}: ${c.alertname} quiet at ${c.eval_time}, but no input series of ` +
                `${[...reads].join(', ')} (only ${[...fed].join(', ') || 'none'})`,
            );
        }
      });
    expect(quiet).toBeGreaterThan(0);
    expect(problems).toEqual([]);
  });

  // In a Prometheus that scrapes more than Failway (kube-prometheus-stack on kind), `up == 0` is
  // red for any target in the cluster.
  it("limits every alert over scraped metrics to the platform's jobs", () => {
    expect(PLATFORM_JOBS.sort()).toEqual([
      'departures',
      'gateway',
      'otel-collector',
      'otel-collector-spanmetrics',
      'rail-sim',
      'route-config',
    ]);
    const problems = alerts.flatMap((a) => unscopedSelectors(a.expr).map((s) => `${a.alert}: ${s}`));
    expect(problems).toEqual([]);
    expect(unscopedSelectors('up == 0')).toEqual(['up']);
    expect(unscopedSelectors('up{job=~"gateway|node-exporter"} == 0')).toHaveLength(1);
    expect(unscopedSelectors('slo:gateway_departures_errors:ratio_rate1h > 1')).toEqual([]);
    // The Kubernetes ServiceMonitors (and the gateway's PodMonitor, on its ops port) give the same
    // job names (jobLabel app.kubernetes.io/name).
    const monitors = readFileSync(resolve(REPO_ROOT, 'k8s/components/observability/monitors.yaml'), 'utf8');
    expect(monitors).toContain('jobLabel: app.kubernetes.io/name');
    expect(monitors).toContain('values: [route-config, departures, rail-sim]');
    expect(monitors).toMatch(
      /kind: PodMonitor\n[\s\S]*?app\.kubernetes\.io\/name: gateway\n[\s\S]*?- port: ops/,
    );
  });

  it('keeps the ban alerts quick enough for short-interval test stacks', () => {
    for (const name of ['DeparturesReplicaBanned', 'DeparturesAllReplicasBanned']) {
      expect(alerts.find((a) => a.alert === name)?.for).toBe('1m');
    }
  });
});

describe.skipIf(!promtool.path)('promtool', () => {
  let tmp = '';
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'failway-promtool-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('accepts prometheus.yml, with its rule files', () => {
    const { status, output } = run(['check', 'config', CONFIG]);
    expect(status, output).toBe(0);
    expect(output).toContain(`SUCCESS: ${RULE_FILES.length} rule files found`);
    // rule_files are resolved relative to the config file; all must have been found and checked
    for (const f of RULE_FILES) expect(output).toContain(f.slice(PROM_DIR.length + 1));
  });

  it('accepts every rule file', () => {
    const { status, output } = run(['check', 'rules', ...RULE_FILES]);
    expect(status, output).toBe(0);
  });

  it('passes every rule unit test', () => {
    expect(TEST_FILES.length).toBeGreaterThan(0);
    const { status, output } = run(['test', 'rules', ...TEST_FILES]);
    expect(status, output).toBe(0);
    expect(output).toContain('SUCCESS');
    expect(output).not.toContain('FAILED');
  });

  it(
    `passes every rule unit test the same way, run after run (up to ${REPEAT_RUNS} runs)`,
    async () => {
      const started = Date.now();
      const runs = await repeatRuns(
        ['test', 'rules', ...TEST_FILES],
        REPEAT_RUNS,
        REPEAT_BUDGET_MS,
        REPEAT_CONCURRENCY,
      );
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      expect(runs.length, `only ${runs.length} runs in ${seconds} s`).toBeGreaterThanOrEqual(REPEAT_MIN_RUNS);
      const first = runs[0]?.output ?? '';
      const failed = runs.filter((r) => r.status !== 0);
      const differing = runs.filter((r) => r.output !== first);
      const detail = (failed[0] ?? differing[0] ?? runs[0])?.output ?? '';
      expect(
        { failed: failed.length, differing: differing.length },
        `of ${runs.length} runs (${seconds} s), ${failed.length} failed and ${differing.length} differed from the first:\n${detail}`,
      ).toEqual({ failed: 0, differing: 0 });
    },
    REPEAT_BUDGET_MS + 60_000,
  );

  it('fails a unit test whose expectation is wrong', () => {
    const source = join(TESTS_DIR, 'alerts.test.yml');
    const doc = readYaml<TestFile>(source);
    // the copy lives elsewhere: its rule_files must point back at the real rules
    doc.rule_files = doc.rule_files.map((f) => resolve(dirname(source), f));
    const firing = doc.tests
      .flatMap((t) => t.alert_rule_test ?? [])
      .find((c) => c.alertname === 'DeparturesReplicaBanned' && (c.exp_alerts ?? []).length > 0);
    expect(firing).toBeDefined();
    const labels = firing?.exp_alerts?.[0]?.exp_labels as Record<string, string>;
    labels.severity = 'critical'; // the rule says warning
    const copy = join(tmp, basename(source));
    writeFileSync(copy, stringify(doc));

    const { status, output } = run(['test', 'rules', copy]);
    expect(status, output).not.toBe(0);
    expect(output).toContain('FAILED');
    expect(output).toContain('DeparturesReplicaBanned');
  });
});
