// npm run test:load: the ban and route scenarios with the real k6 against the real application,
// started here as `npm start` starts it (local processes, free ports), plus the telemetry those
// scenarios must leave behind in a real Prometheus, the fleet's upstream calls per route per TTL
// with route affinity and with round robin, plus the control run that must go red. Exits non-zero
// on any failure; prints a table of what happened at the end.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { canBind, REPO_ROOT, type Stack, type StackOptions, startStack } from '@failway/stack';
import {
  findTool,
  type PrometheusInstance,
  simOffsetToLondonHour,
  startPrometheus,
  waitFor,
} from '@failway/testkit';
import { parse } from 'yaml';

type ServiceEnv = NonNullable<StackOptions['serviceEnv']>;

const ADMIN_TOKEN = 'load-test-admin-token';
const OUTPUT = join(REPO_ROOT, 'test-output', 'k6', 'test-load');
const RULES_DIR = join(REPO_ROOT, 'observability', 'prometheus', 'rules');
/** Longest one k6 run may take (the short scripts take well under a minute). */
const K6_TIMEOUT_MS = 180_000;
/** The whole run, however it goes (target: 8 minutes on 2 cores). */
const TOTAL_TIMEOUT_MS = 12 * 60_000;
/** The gateway's availability SLO (observability/prometheus/rules/slo.yml). */
const SLO_ERROR_BUDGET = 0.005;
const BAN_DURATION_S = 90;

const out = (line = '') => process.stdout.write(`${line}\n`);
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;

/**
 * Every service env of one scenario, on top of what all of them share: boards from the
 * simulator's midday whatever the clock (an empty night board would look like a silent ban), and
 * the gateway's per-client limits out of the way (k6 is one client IP sending dozens a second,
 * and ban-recovery alone asks for a never-seen route every second); route-scan, whose VUs are
 * separate clients, keeps the defaults.
 */
function envFor(scenario: ServiceEnv): ServiceEnv {
  return {
    'rail-sim': { SIM_TIME_OFFSET_MIN: String(simOffsetToLondonHour(12)), ...scenario['rail-sim'] },
    departures: { ...scenario.departures },
    gateway: {
      RATE_LIMIT_PER_MIN: '1000000',
      NEW_ROUTES_PER_CLIENT_PER_MIN: '1000000',
      HEALTH_CHECK_INTERVAL_MS: '500',
      ...scenario.gateway,
    },
  };
}

/**
 * The storm: rail-sim's limit lowered to 20 calls in 10 s per IP, and the replicas' call budget
 * (600/min, bursts of 30) set far above it — the misconfiguration that gets a real deployment
 * banned — while 2 s cache TTLs keep the load reaching the upstream: both replicas are banned
 * a few seconds into the storm. The ban lasts 90 s so DeparturesReplicaBanned (`for: 1m`) can
 * fire. Replicas keep stale boards for only 10 s, so what carries users through a ban longer
 * than that is the gateway's failover (retry on another replica, then its own last good boards):
 * exactly what FAILOVER=off takes away in the control run.
 */
const STORM: ServiceEnv = {
  'rail-sim': { BAN_THRESHOLD: '20', BAN_WINDOW_S: '10', BAN_DURATION_S: String(BAN_DURATION_S) },
  departures: {
    CACHE_TTL_S: '2',
    STALE_MAX_AGE_S: '10',
    UPSTREAM_BUDGET_PER_MIN: '600',
    UPSTREAM_BUDGET_BURST: '30',
    BAN_PROBE_INTERVAL_S: '2',
  },
};

/**
 * Recovery: only the script's admin bans, never the limit (rail-sim's defaults against the
 * replicas' default budget). Short TTLs and a 2 s ban probe, so "fresh again after the bans are
 * lifted" is a matter of seconds and its bound can be tight.
 */
const RECOVERY: ServiceEnv = {
  departures: { CACHE_TTL_S: '2', BAN_PROBE_INTERVAL_S: '2' },
};

/** Chaos: faults, not bans (limit out of reach), and a budget that lets the faults be met often. */
const CHAOS: ServiceEnv = {
  'rail-sim': { BAN_THRESHOLD: '100000' },
  departures: { CACHE_TTL_S: '2', UPSTREAM_BUDGET_PER_MIN: '600', UPSTREAM_BUDGET_BURST: '30' },
};

/**
 * Steady load for upstream-calls (then route-browse on the same application): no bans, budgets
 * out of reach (round robin makes each replica call for every route: 20 routes every 5 s is
 * 240 calls a minute), so the figure shows who calls, not who was allowed to. A 5 s TTL makes a
 * 30 s run six TTLs, and is the shortest refresh-ahead (on, as by default) still works with.
 */
const STEADY_TTL_S = 5;
const STEADY: ServiceEnv = {
  'rail-sim': { BAN_THRESHOLD: '100000' },
  departures: {
    CACHE_TTL_S: String(STEADY_TTL_S),
    UPSTREAM_BUDGET_PER_MIN: '600',
    UPSTREAM_BUDGET_BURST: '30',
  },
};

/**
 * The scan: the services' defaults (rail-sim's limit of 60 calls a minute per IP, the replicas'
 * budget of 40 a minute, the gateway's 300 requests and 20 new routes a minute per client), as a
 * real deployment runs, but a 10 s TTL so the commuters' boards are renewed several times in the
 * run while the scanner spends upstream calls.
 */
const SCAN: ServiceEnv = {
  departures: { CACHE_TTL_S: '10' },
  gateway: { RATE_LIMIT_PER_MIN: '300', NEW_ROUTES_PER_CLIENT_PER_MIN: '20' },
};
/** Source addresses for route-scan's VUs (one each): on Linux all of 127/8 is loopback. */
const SCAN_LOCAL_IPS = '127.0.0.20-127.0.0.59';

interface Figures {
  requests: number;
  failedShare: number;
  checksShare?: number;
  p95Ms?: number;
  p99Ms?: number;
  staleShare?: number;
  bansObserved?: number;
  recoverySeconds?: number;
  upstreamCallsPerRouteTtl?: number;
  answers: Record<string, number>;
}

interface K6Summary {
  figures: Figures;
  metrics: Record<string, { thresholds?: Record<string, { ok: boolean }> }>;
}

interface Row {
  run: string;
  expected: 'pass' | 'fail';
  ok: boolean;
  outcome: string;
  seconds: number;
  figures?: Figures;
}

const rows: Row[] = [];
const checks: { what: string; ok: boolean; detail: string }[] = [];
const cleanups: (() => Promise<void>)[] = [];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findK6(): { path: string | undefined; reason: string } {
  const onPath = (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'k6'));
  const cache = process.env.FAILWAY_CACHE ?? join(homedir(), '.cache', 'failway');
  const built = (() => {
    try {
      return readdirSync(cache)
        .filter((d) => d.startsWith('k6-'))
        .sort()
        .reverse()
        .map((d) => join(cache, d, 'k6'));
    } catch {
      return [];
    }
  })();
  return findTool('k6', 'K6_BIN', [...onPath, ...built].filter(executable));
}

interface RunOptions {
  /** Prometheus's remote-write URL, for k6's results. */
  remoteWrite?: string;
  /** More environment for k6 (the script's settings). */
  env?: Record<string, string>;
}

/** Runs one k6 script; resolves with its exit code and summary (if it wrote one). */
async function k6Run(
  k6: string,
  script: string,
  stack: Stack,
  label: string,
  { remoteWrite, env = {} }: RunOptions = {},
): Promise<{ code: number | null; summary: K6Summary | undefined; seconds: number }> {
  const dir = join(OUTPUT, label);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const t0 = Date.now();
  const outputs = remoteWrite ? ['--out', 'experimental-prometheus-rw'] : [];
  const child = spawn(
    k6,
    ['run', '--quiet', '--no-usage-report', ...outputs, join(REPO_ROOT, 'loadtest', script)],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        BASE_URL: stack.gateway.url,
        GATEWAY_OPS_URL: stack.gatewayOpsUrl,
        RAILSIM_URL: stack.railSim.url,
        ADMIN_TOKEN,
        REPLICA_IPS: stack.replicaAddresses.map((a) => a ?? '127.0.0.1').join(','),
        SHORT: 'true',
        SUMMARY_DIR: dir,
        K6_NO_USAGE_REPORT: 'true',
        // As compose and the Kubernetes Job send them, for the k6 dashboard.
        ...(remoteWrite
          ? { K6_PROMETHEUS_RW_SERVER_URL: remoteWrite, K6_PROMETHEUS_RW_TREND_STATS: 'p(95),p(99),avg' }
          : {}),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const show = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) out(`    │ ${line}`);
  };
  child.stdout.on('data', show);
  child.stderr.on('data', show);
  const timer = setTimeout(() => {
    out(`    k6 ${script} still running after ${K6_TIMEOUT_MS / 1000} s: stopping it`);
    child.kill('SIGKILL');
  }, K6_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => {
    child.once('exit', (c, signal) => resolve(signal ? null : c));
    child.once('error', () => resolve(null));
  });
  clearTimeout(timer);
  let summary: K6Summary | undefined;
  try {
    summary = JSON.parse(readFileSync(join(dir, `${script.replace(/\.js$/, '')}.json`), 'utf8')) as K6Summary;
  } catch {
    summary = undefined;
  }
  return { code, summary, seconds: (Date.now() - t0) / 1000 };
}

/** The thresholds that failed in a summary (metric: expression). */
function failedThresholds(summary: K6Summary | undefined): string[] {
  if (!summary) return [];
  return Object.entries(summary.metrics).flatMap(([metric, m]) =>
    Object.entries(m.thresholds ?? {})
      .filter(([, t]) => !t.ok)
      .map(([expr]) => `${metric} ${expr}`),
  );
}

async function withStack<T>(
  name: string,
  scenario: ServiceEnv,
  run: (stack: Stack) => Promise<T>,
): Promise<T> {
  const t0 = Date.now();
  const stack = await startStack({
    ports: { gateway: 0, routeConfig: 0, departures: [0, 0], railSim: 0 },
    adminToken: ADMIN_TOKEN,
    keepLogs: false,
    serviceEnv: envFor(scenario),
    onNotice: (message) => out(`  note: ${message}`),
  });
  const stop = () => stack.stop();
  cleanups.push(stop);
  out(
    `  application up for ${name} in ${((Date.now() - t0) / 1000).toFixed(1)} s (gateway ${stack.gateway.url})`,
  );
  try {
    return await run(stack);
  } finally {
    cleanups.splice(cleanups.indexOf(stop), 1);
    await stack.stop();
  }
}

async function scenario(
  k6: string,
  stack: Stack,
  script: string,
  label: string,
  expected: 'pass' | 'fail',
  options: RunOptions = {},
): Promise<Row> {
  out(`\n▶ ${label} (expected to ${expected}) — ${elapsed()} in`);
  const { code, summary, seconds } = await k6Run(k6, script, stack, label, options);
  const failed = failedThresholds(summary);
  let ok: boolean;
  let outcome: string;
  if (expected === 'pass') {
    ok = code === 0;
    outcome = ok ? 'passed' : `k6 exit ${code}${failed.length ? `: ${failed.join('; ')}` : ''}`;
  } else {
    // Red for the right reason: k6's "thresholds crossed" (99), with the ban proven (so the
    // storm happened) and the users' answers failing. A setup error or a crash proves nothing.
    const banned = summary?.metrics.bans_observed?.thresholds?.['count>0']?.ok === true;
    const usersHurt = failed.some((f) => /^(http_req_failed|checks) /.test(f));
    ok = code === 99 && banned && usersHurt;
    outcome =
      code === 0
        ? 'went GREEN: the thresholds cannot tell working ban handling from none'
        : ok
          ? `red as expected: ${failed.join('; ')}`
          : code === 99
            ? `red, but not for the answers: ${failed.join('; ')}`
            : `k6 exit ${code}, not a threshold failure`;
  }
  const row: Row = {
    run: label,
    expected,
    ok,
    outcome,
    seconds,
    ...(summary ? { figures: summary.figures } : {}),
  };
  rows.push(row);
  return row;
}

function durationSeconds(text: string): number {
  const parts = [...text.matchAll(/(\d+)(ms|s|m|h)/g)];
  return parts.reduce(
    (sum, [, n, unit]) =>
      sum + Number(n) * { ms: 0.001, s: 1, m: 60, h: 3600 }[unit as 'ms' | 's' | 'm' | 'h'],
    0,
  );
}

/** `for:` of an alert in the repo's rule files, in seconds. */
function alertFor(name: string): number {
  for (const file of readdirSync(RULES_DIR).filter((f) => f.endsWith('.yml'))) {
    const doc = parse(readFileSync(join(RULES_DIR, file), 'utf8')) as {
      groups?: { rules?: { alert?: string; for?: string }[] }[];
    };
    for (const group of doc.groups ?? []) {
      const rule = group.rules?.find((r) => r.alert === name);
      if (rule) return durationSeconds(rule.for ?? '0s');
    }
  }
  throw new Error(`alert ${name} is not in ${RULES_DIR}`);
}

async function scalar(prometheus: PrometheusInstance, expr: string): Promise<number | undefined> {
  const result = await prometheus.query(expr);
  return result.length > 0 ? Number(result[0]?.value[1]) : undefined;
}

function check(what: string, ok: boolean, detail: string): void {
  checks.push({ what, ok, detail });
  out(`  ${ok ? 'ok  ' : 'FAIL'} ${what}: ${detail}`);
}

/** The storm with Prometheus watching, then what the storm must have left in Prometheus. */
async function stormWithTelemetry(k6: string, prometheusBin: string, stack: Stack): Promise<void> {
  const banFor = alertFor('DeparturesReplicaBanned');
  if (BAN_DURATION_S < banFor + 20) {
    throw new Error(
      `BAN_DURATION_S ${BAN_DURATION_S} is too short for DeparturesReplicaBanned (for: ${banFor} s)`,
    );
  }
  const prometheus = await startPrometheus({
    binary: prometheusBin,
    // The gateway serves /metrics on its ops port only.
    targets: stack
      .all()
      .map((p) => ({ job: p.name, instance: p.label, address: `127.0.0.1:${p.opsPort ?? p.port}` })),
    ruleFiles: readdirSync(RULES_DIR)
      .filter((f) => f.endsWith('.yml'))
      .map((f) => join(RULES_DIR, f)),
    intervalSeconds: 1,
  });
  const stop = () => prometheus.stop();
  cleanups.push(stop);
  try {
    const targets = stack.all().length;
    await waitFor(
      'Prometheus to scrape every service',
      async () => ((await scalar(prometheus, 'sum(up)')) === targets ? true : undefined),
      { timeoutMs: 20_000, intervalMs: 500 },
    );
    const bansBefore = (await scalar(prometheus, 'sum(departures_upstream_bans_total)')) ?? 0;
    const row = await scenario(k6, stack, 'ban-storm.js', 'ban-storm', 'pass', {
      remoteWrite: `${prometheus.url}/api/v1/write`,
    });
    const stormEnded = Date.now();

    out('  telemetry after the storm:');
    const bansAfter = await waitFor(
      'departures_upstream_bans_total to rise',
      async () => {
        const v = (await scalar(prometheus, 'sum(departures_upstream_bans_total)')) ?? 0;
        return v > bansBefore ? v : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 500 },
    ).catch(() => undefined);
    check(
      'departures_upstream_bans_total rose',
      bansAfter !== undefined,
      `${bansBefore} before the storm, ${bansAfter ?? 'no more'} after`,
    );

    // The names the k6 dashboard reads: k6's own results, pushed by remote write.
    const staleAnswers = await scalar(prometheus, 'sum(k6_answers_total{source="stale"})');
    const staleRate = await scalar(prometheus, 'max(max_over_time(k6_stale_answers_rate[10m]))');
    check(
      'k6 results in Prometheus (k6_answers_total, k6_stale_answers_rate)',
      staleAnswers !== undefined && staleAnswers > 0 && staleRate !== undefined,
      `${staleAnswers ?? 'no'} stale answers counted, stale share up to ${staleRate === undefined ? '-' : `${(staleRate * 100).toFixed(1)} %`}`,
    );

    const ratio = await scalar(prometheus, 'slo:gateway_departures_errors:ratio_rate5m');
    check(
      'gateway error ratio within the SLO',
      ratio !== undefined && ratio <= SLO_ERROR_BUDGET,
      ratio === undefined
        ? 'slo:gateway_departures_errors:ratio_rate5m has no value (no traffic recorded?)'
        : `${(ratio * 100).toFixed(3)} % 5xx over the run (budget ${SLO_ERROR_BUDGET * 100} %)`,
    );

    // The ban began a few seconds into the storm; the alert fires `for:` after that. Bounded.
    const boundMs = (banFor + 30) * 1000;
    out(`  waiting (at most ${boundMs / 1000} s) for DeparturesReplicaBanned to fire (for: ${banFor} s)…`);
    const fired = await waitFor(
      'DeparturesReplicaBanned to fire',
      async () => {
        const firing = await prometheus.query(
          'ALERTS{alertname="DeparturesReplicaBanned", alertstate="firing"}',
        );
        return firing.length > 0 ? firing.map((a) => a.metric.instance ?? '?') : undefined;
      },
      { timeoutMs: boundMs, intervalMs: 1_000 },
    ).catch(() => undefined);
    check(
      'DeparturesReplicaBanned fired',
      fired !== undefined,
      fired
        ? `for ${fired.join(', ')}, ${((Date.now() - stormEnded) / 1000).toFixed(0)} s after the storm ended`
        : `not firing within ${boundMs / 1000} s`,
    );
    if (!row.ok) out('  (the storm itself failed; see above)');
  } finally {
    cleanups.splice(cleanups.indexOf(stop), 1);
    await prometheus.stop();
  }
}

const pct = (v: number | undefined) => (v === undefined ? '-' : `${(v * 100).toFixed(2)}%`);
const msText = (v: number | undefined) => (v === undefined ? '-' : `${Math.round(v)}`);

function table(): void {
  const head = [
    'run',
    'expect',
    'result',
    'requests',
    'failed',
    'checks',
    'p95 ms',
    'p99 ms',
    'stale',
    'bans',
    'took',
  ];
  const body = rows.map((r) => [
    r.run,
    r.expected,
    r.ok ? 'OK' : 'FAIL',
    String(r.figures?.requests ?? '-'),
    pct(r.figures?.failedShare),
    pct(r.figures?.checksShare),
    msText(r.figures?.p95Ms),
    msText(r.figures?.p99Ms),
    pct(r.figures?.staleShare),
    r.figures?.bansObserved === undefined ? '-' : String(r.figures.bansObserved),
    `${r.seconds.toFixed(0)} s`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  out('\n══ test:load summary ══');
  out(line(head));
  out(line(widths.map((w) => '─'.repeat(w))));
  for (const b of body) out(line(b));
  for (const r of rows) if (!r.ok || r.expected === 'fail') out(`  ${r.run}: ${r.outcome}`);
  if (rows.some((r) => r.run === 'control'))
    out('  control = ban-storm with the gateway started with FAILOVER=off');
  const recovery = rows.find((r) => r.figures?.recoverySeconds !== undefined)?.figures?.recoverySeconds;
  if (recovery !== undefined)
    out(`  ban-recovery: fresh boards again ${recovery.toFixed(1)} s after the bans were lifted`);
  const calls = (run: string) => rows.find((r) => r.run === run)?.figures?.upstreamCallsPerRouteTtl;
  const [affinity, roundRobin] = [calls('upstream-calls'), calls('upstream-calls-rr')];
  if (affinity !== undefined || roundRobin !== undefined) {
    const figure = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(2)).padStart(5);
    out(`  upstream calls per route per TTL, fleet-wide, steady load (TTL ${STEADY_TTL_S} s, two replicas):`);
    out(`    before: round robin (FAILOVER=off)  ${figure(roundRobin)}   not judged`);
    out(`    after:  route affinity              ${figure(affinity)}   bound 1.3, goal 1.1`);
  }
  if (checks.length > 0) out('telemetry after ban-storm:');
  for (const c of checks) out(`  ${c.ok ? 'OK  ' : 'FAIL'} ${c.what}: ${c.detail}`);
}

/** Every run `npm run test:load` makes, in order; LOAD_SCENARIOS picks a subset by these names. */
const SCENARIOS = [
  'ban-storm',
  'ban-recovery',
  'smoke',
  'upstream-chaos',
  'upstream-calls',
  'route-browse',
  'route-scan',
  'control',
] as const;

async function main(): Promise<number> {
  // LOAD_SCENARIOS=ban-storm,control runs a subset while working on one of them; a name that is
  // not a scenario is an error, never a run of nothing that reports PASSED.
  const only = (process.env.LOAD_SCENARIOS ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const unknown = only.filter((name) => !(SCENARIOS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    out(
      `test:load FAILED: LOAD_SCENARIOS names ${unknown.map((n) => `'${n}'`).join(', ')}, which ${unknown.length === 1 ? 'is not a scenario' : 'are not scenarios'}; the scenarios are ${SCENARIOS.join(', ')}`,
    );
    return 2;
  }
  const wanted = (name: (typeof SCENARIOS)[number]) => only.length === 0 || only.includes(name);
  const k6 = findK6();
  const prometheus = findTool('prometheus', 'PROMETHEUS_BIN', [
    '/usr/bin/prometheus',
    '/usr/local/bin/prometheus',
  ]);
  if (!k6.path || !prometheus.path) {
    // findTool has already thrown under CI=true; on a laptop say what is missing and how to get it.
    out(
      `test:load SKIPPED: ${[k6, prometheus]
        .filter((t) => !t.path)
        .map((t) => t.reason)
        .join('; ')}`,
    );
    out('Install them with: source scripts/install-tools.sh --all   (k6 is built with Go once, then cached)');
    return 0;
  }
  out(`k6 ${k6.path}, prometheus ${prometheus.path}; summaries in ${OUTPUT}`);
  mkdirSync(OUTPUT, { recursive: true });
  const bin = k6.path;
  if (wanted('ban-storm'))
    await withStack('ban-storm', STORM, (stack) => stormWithTelemetry(bin, prometheus.path as string, stack));
  if (wanted('ban-recovery'))
    await withStack('ban-recovery', RECOVERY, (stack) =>
      scenario(bin, stack, 'ban-recovery.js', 'ban-recovery', 'pass'),
    );
  if (wanted('upstream-chaos') || wanted('smoke'))
    await withStack('smoke and upstream-chaos', CHAOS, async (stack) => {
      // Smoke first: seconds, and a broken route shows up here rather than as chaos.
      if (wanted('smoke')) await scenario(bin, stack, 'smoke.js', 'smoke', 'pass');
      if (wanted('upstream-chaos')) await scenario(bin, stack, 'upstream-chaos.js', 'upstream-chaos', 'pass');
    });
  const steadyEnv = { CACHE_TTL_S: String(STEADY_TTL_S) };
  if (wanted('upstream-calls') || wanted('route-browse'))
    await withStack('upstream-calls and route-browse', STEADY, async (stack) => {
      if (wanted('upstream-calls'))
        await scenario(bin, stack, 'upstream-calls.js', 'upstream-calls', 'pass', { env: steadyEnv });
      // After the measurement: its ban must not be in the figure.
      if (wanted('route-browse')) await scenario(bin, stack, 'route-browse.js', 'route-browse', 'pass');
    });
  if (wanted('upstream-calls'))
    // The same steady load through plain round robin, what the gateway did before route affinity:
    // the "before" figure, reported, not judged.
    await withStack(
      'upstream-calls with round robin (FAILOVER=off)',
      { ...STEADY, gateway: { FAILOVER: 'off' } },
      (stack) =>
        scenario(bin, stack, 'upstream-calls.js', 'upstream-calls-rr', 'pass', {
          env: { ...steadyEnv, MAX_CALLS_PER_ROUTE_TTL: 'off' },
        }),
    );
  if (wanted('route-scan')) {
    // macOS has only 127.0.0.1 unless aliased: then every VU is one client, and the gateway's
    // request limit must allow them all (the scan's proofs still hold; the addresses are untested).
    const [first, last] = SCAN_LOCAL_IPS.split('-') as [string, string];
    const addresses = (await canBind(first)) && (await canBind(last));
    if (!addresses) out(`  note: cannot bind ${SCAN_LOCAL_IPS} here, so route-scan's VUs share one address`);
    await withStack(
      'route-scan',
      addresses ? SCAN : { ...SCAN, gateway: { ...SCAN.gateway, RATE_LIMIT_PER_MIN: '1000000' } },
      (stack) =>
        scenario(bin, stack, 'route-scan.js', 'route-scan', 'pass', {
          env: {
            ...(addresses ? { K6_LOCAL_IPS: SCAN_LOCAL_IPS } : {}),
            NEW_ROUTES_PER_CLIENT_PER_MIN: '20',
          },
        }),
    );
  }
  if (wanted('control'))
    await withStack('the control run (FAILOVER=off)', { ...STORM, gateway: { FAILOVER: 'off' } }, (stack) =>
      scenario(bin, stack, 'ban-storm.js', 'control', 'fail'),
    );

  table();
  const missing = SCENARIOS.filter((name) => wanted(name) && !rows.some((r) => r.run === name));
  const failures = rows.filter((r) => !r.ok).length + checks.filter((c) => !c.ok).length + missing.length;
  if (missing.length > 0) out(`  not run: ${missing.join(', ')}`);
  out(
    failures === 0
      ? `\ntest:load PASSED in ${elapsed()}`
      : `\ntest:load FAILED (${failures} failures) in ${elapsed()}`,
  );
  return failures === 0 ? 0 : 1;
}

async function cleanUp(): Promise<void> {
  for (const stop of cleanups.splice(0).reverse()) await stop().catch(() => undefined);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    out(`\n${signal}: stopping everything`);
    void cleanUp().then(() => process.exit(130));
  });
}
const watchdog = setTimeout(() => {
  out(`\ntest:load FAILED: still running after ${TOTAL_TIMEOUT_MS / 60_000} minutes`);
  void cleanUp().then(() => process.exit(1));
}, TOTAL_TIMEOUT_MS);
watchdog.unref();

try {
  process.exitCode = await main();
} catch (error) {
  out(`\ntest:load FAILED: ${(error as Error).message}`);
  if (rows.length > 0 || checks.length > 0) table();
  process.exitCode = 1;
} finally {
  await cleanUp();
}
