import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { findTool, REPO_ROOT } from '@failway/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

const PROM_DIR = resolve(REPO_ROOT, 'observability/prometheus');
const CONFIG = join(PROM_DIR, 'prometheus.yml');
const RULES_DIR = join(PROM_DIR, 'rules');
const RULE_FILES = [join(RULES_DIR, 'recording.yml'), join(RULES_DIR, 'alerts.yml')];
const TESTS_DIR = join(PROM_DIR, 'tests');
const TEST_FILES = readdirSync(TESTS_DIR)
  .filter((f) => f.endsWith('.yml'))
  .sort()
  .map((f) => join(TESTS_DIR, f));
const RUNBOOKS_DIR = resolve(REPO_ROOT, 'docs/runbooks');
const RUNBOOK_PREFIX = 'https://github.com/failway/failway/blob/main/docs/runbooks/';

const promtool = findTool('promtool', 'PROMTOOL_PATH', ['/usr/bin/promtool', '/usr/local/bin/promtool']);
if (!promtool.path) console.warn(promtool.reason);

function run(args: string[]): { status: number | null; output: string } {
  const result = spawnSync(promtool.path as string, args, {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
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
  tests: { alert_rule_test?: AlertTestCase[]; promql_expr_test?: unknown[] }[];
}

const readYaml = <T>(path: string): T => parse(readFileSync(path, 'utf8')) as T;
const alerts = readYaml<RuleFile>(join(RULES_DIR, 'alerts.yml')).groups.flatMap((g) =>
  g.rules.filter((r) => r.alert),
);
const alertCases = TEST_FILES.flatMap((f) =>
  readYaml<TestFile>(f).tests.flatMap((t) => t.alert_rule_test ?? []),
);

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
        'TargetDown',
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
    expect(output).toContain('SUCCESS');
    // rule_files are resolved relative to the config file; both must have been found and checked
    for (const f of RULE_FILES) expect(output).toContain(f.slice(PROM_DIR.length + 1));
  });

  it('accepts both rule files', () => {
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
