// npm run bench: one run, every row side by side on this machine, with wrk as the load generator
// (docs/performance.md says how and why). The rows:
//
//   ceiling-1hop      a bare node:http server answering the gateway's board bytes
//   ceiling-2hop      a bare node:http relay (keep-alive agent, streamed) in front of it
//   gateway-off/on    GET /api/departures?from=WHP&to=LTN through the gateway (cache hit)
//   departures-off/on GET /departures/WHP?to=LTN&rows=10 straight to the replica that owns it
//   fleet-upstream    several routes through the gateway: upstream calls per route per TTL
//
// Then, in this process, what a failed call costs the gateway's circuit breaker with so many calls
// in its window, opossum's defaults against the gateway's options (bench/breaker.ts).
//
// "off" is a stack with OTEL_SDK_DISABLED=true, "on" one exporting spans to the project's own
// collector build; each is the production build (`build: 'bundle'`, as the image starts it), on free
// loopback ports. Per row: req/s, p50/p90/p99, non-2xx, CPU time per request per process,
// event-loop delay p99 and resident memory per process. Prints tables, writes
// test-output/bench/bench-<time>.json and latest.json, and exits non-zero when a row is missing
// or failed. No threshold on any time or rate: a benchmark is not a timed test.
//
//   BENCH_DURATION_S   seconds per row (default 10; 3 with --quick)
//   BENCH_CONNECTIONS  wrk connections (default 32)
//   BENCH_ROUNDS       interleaved rounds of ceiling-2hop and the off/on rows (default 3; 1 with --quick)
//   BENCH_THREADS      wrk threads (default 2)
//   BENCH_NODE_ARGS    extra Node flags for every service (e.g. "--max-old-space-size=96")
//   --quick            (or BENCH_QUICK=1) every row, briefly: what CI runs
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT, type ServiceProcess, type Stack, startStack } from '@failway/stack';
import { findCollector, freePort, metricValue, simOffsetToLondonHour, waitFor } from '@failway/testkit';
import { type BreakerRow, measureBreaker, renderBreaker } from './breaker.ts';
import { cpuSeconds, HAS_PROC, machineInfo, rssBytes } from './procfs.ts';
import { type IdleMemory, type RowResult, ratiosOf, render } from './report.ts';
import { runWrk, type WrkResult, wrkPath } from './wrk.ts';

const out = (line = '') => process.stdout.write(`${line}\n`);
const note = (line: string) => process.stdout.write(`bench: ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Settings

function usage(message: string): never {
  console.error(
    `bench: ${message}\nusage: npm run bench [-- --quick]   (env: BENCH_DURATION_S, BENCH_ROUNDS, BENCH_CONNECTIONS, BENCH_THREADS, BENCH_NODE_ARGS)`,
  );
  process.exit(2);
}
const argv = process.argv.slice(2);
for (const arg of argv) if (arg !== '--quick') usage(`unknown argument ${arg}`);
const QUICK =
  argv.includes('--quick') || process.env.BENCH_QUICK === '1' || process.env.BENCH_QUICK === 'true';

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max)
    usage(`${name}=${raw} must be a whole number from ${min} to ${max}`);
  return value;
}

const DURATION_S = intEnv('BENCH_DURATION_S', QUICK ? 3 : 10, 1, 600);
/**
 * Rounds of the two-hop ceiling and the four off/on rows, interleaved (ceiling-2hop, gateway-off,
 * gateway-on, departures-off, departures-on, again): on a shared machine the CPU available drifts
 * by several percent over minutes, which one run of each, minutes apart, turned into a telemetry
 * "cost" of either sign, and a ceiling 25 % apart between runs. Each row reports its median round.
 */
const ROUNDS = intEnv('BENCH_ROUNDS', QUICK ? 1 : 3, 1, 20);
const CONNECTIONS = intEnv('BENCH_CONNECTIONS', 32, 1, 1_000);
const THREADS = Math.min(intEnv('BENCH_THREADS', 2, 1, 64), CONNECTIONS);
const WARMUP_S = QUICK ? 1 : 3;
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
/** The departures replicas' cache TTL in both stacks: the unit of the fleet figure. */
const CACHE_TTL_S = 5;
/** Routes the fleet row spreads its load over. */
const FLEET_ROUTES = 12;
const FLEET_DURATION_S = QUICK ? 2 * CACHE_TTL_S : Math.max(DURATION_S, 3 * CACHE_TTL_S);
/** The rows run in interleaved rounds (see ROUNDS). */
const ROUND_ROW_IDS = [
  'ceiling-2hop',
  'gateway-off',
  'gateway-on',
  'departures-off',
  'departures-on',
] as const;
const ADMIN_TOKEN = 'bench-admin-token';
const ZERO_PORTS = { gateway: 0, routeConfig: 0, departures: [0, 0] as [number, number], railSim: 0 };
const GATEWAY_PATH = '/api/departures?from=WHP&to=LTN';
const DEPARTURES_PATH = '/departures/WHP?to=LTN&rows=10';
const OUTPUT_DIR = join(REPO_ROOT, 'test-output', 'bench');
/** Every row the run must produce, in the order they are printed. */
const ROW_IDS = [
  'ceiling-1hop',
  'ceiling-2hop',
  'gateway-off',
  'gateway-on',
  'departures-off',
  'departures-on',
  'fleet-upstream',
] as const;
/** The whole run, however it goes: six stack-or-ceiling starts plus every row, with room. */
const TOTAL_TIMEOUT_MS =
  (120 +
    (ROW_IDS.length + (ROUNDS - 1) * ROUND_ROW_IDS.length) * (WARMUP_S + DURATION_S + 20) +
    FLEET_DURATION_S +
    3 * 60) *
  1_000;

// ---------------------------------------------------------------------------------------------
// Clean-up: everything started is registered here and stopped in reverse, however the run ends.

const controller = new AbortController();
const signal = controller.signal;
const cleanups: { what: string; run: () => Promise<unknown> }[] = [];
async function cleanup(): Promise<void> {
  while (cleanups.length) {
    const next = cleanups.pop();
    if (!next) break;
    try {
      await next.run();
    } catch (error) {
      console.error(`bench: stopping ${next.what} failed: ${(error as Error).message}`);
    }
  }
}
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`bench: ${sig}, stopping everything`);
    controller.abort(new Error(`interrupted (${sig})`));
    void cleanup().then(() => process.exit(130));
  });
}
const totalTimer = setTimeout(
  () => controller.abort(new Error(`the whole run took over ${TOTAL_TIMEOUT_MS / 1000} s`)),
  TOTAL_TIMEOUT_MS,
);
totalTimer.unref();

// ---------------------------------------------------------------------------------------------
// Processes measured by a row: a pid (CPU, memory) and how to read its event-loop delay.

interface Measured {
  label: string;
  pid: number | undefined;
  /** Reads (and resets) the event-loop delay p99 in seconds; undefined when it has none (Go). */
  lag?: () => Promise<number | undefined>;
  alive: () => boolean;
  recent?: () => string[];
}

async function getText(url: string, timeoutMs = 5_000): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${text.slice(0, 200)}`);
  return text;
}

/** Sum of every sample of `name` (all label sets) in Prometheus/OpenMetrics text. */
function sumMetric(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const value = Number(line.replace(/^[^{ ]+(\{[^}]*\})?\s+/, '').split(' ')[0]);
    if (Number.isFinite(value)) total += value;
  }
  return total;
}

function serviceMeasured(proc: ServiceProcess): Measured {
  return {
    label: proc.label,
    pid: proc.child.pid,
    // The gateway serves /metrics on its ops port only.
    lag: async () =>
      metricValue(await getText(`${proc.opsUrl ?? proc.url}/metrics`), 'nodejs_eventloop_lag_p99_seconds'),
    alive: () => proc.child.exitCode === null && proc.child.signalCode === null,
    recent: () => proc.recent,
  };
}

// ---------------------------------------------------------------------------------------------
// Ceiling processes (bench/ceiling.mjs) and the collector

interface Child {
  child: ChildProcess;
  port: number;
  output: string[];
  stop(): Promise<void>;
}

function stopper(child: ChildProcess): () => Promise<void> {
  const exited = new Promise<void>((r) => {
    if (child.exitCode !== null || child.signalCode !== null) r();
    else child.once('exit', () => r());
  });
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
  };
}

async function startCeiling(mode: 'server' | 'relay', env: Record<string, string>): Promise<Child> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bench', 'ceiling.mjs'), mode], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const stop = stopper(child);
  cleanups.push({ what: `ceiling ${mode}`, run: stop });
  child.stderr.setEncoding('utf8').on('data', (c: string) => output.push(c));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ceiling ${mode} did not start within 10 s`)), 10_000);
    child.once('exit', (code) =>
      reject(new Error(`ceiling ${mode} exited with ${code}: ${output.join('')}`)),
    );
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve((JSON.parse(line) as { port: number }).port);
      } catch {
        reject(new Error(`ceiling ${mode} printed ${line}`));
      }
    });
  });
  return { child, port, output, stop };
}

function ceilingMeasured(label: string, c: Child): Measured {
  return {
    label,
    pid: c.child.pid,
    lag: async () =>
      (JSON.parse(await getText(`http://127.0.0.1:${c.port}/__bench/lag`)) as { p99: number }).p99,
    alive: () => c.child.exitCode === null && c.child.signalCode === null,
    recent: () => c.output.slice(-10),
  };
}

interface Collector extends Child {
  endpoint: string;
  metricsUrl: string;
  tracesFile: string;
}

async function startCollector(bin: string, scratch: string): Promise<Collector> {
  const [otlp, health, metrics] = [await freePort(), await freePort(), await freePort()];
  const tracesFile = join(scratch, 'traces.pb');
  const child = spawn(bin, [`--config=${join(REPO_ROOT, 'bench', 'otel-collector.yaml')}`], {
    env: {
      PATH: process.env.PATH ?? '',
      OTLP_HTTP_PORT: String(otlp),
      HEALTH_CHECK_PORT: String(health),
      OTELCOL_METRICS_PORT: String(metrics),
      TRACES_FILE: tracesFile,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (c: Buffer) => {
    output.push(c.toString());
    if (output.length > 50) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const stop = stopper(child);
  cleanups.push({ what: 'collector', run: stop });
  await waitFor(
    'the collector to answer its health check',
    async () => {
      if (child.exitCode !== null) throw new Error(`the collector exited: ${output.join('').slice(-1_000)}`);
      const res = await fetch(`http://127.0.0.1:${health}/`).catch(() => undefined);
      return res?.status === 200 ? true : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  return {
    child,
    port: otlp,
    output,
    stop,
    endpoint: `http://127.0.0.1:${otlp}`,
    metricsUrl: `http://127.0.0.1:${metrics}/metrics`,
    tracesFile,
  };
}

async function acceptedSpans(collector: Collector): Promise<number> {
  const text = await getText(collector.metricsUrl);
  return (
    sumMetric(text, 'otelcol_receiver_accepted_spans') +
    sumMetric(text, 'otelcol_receiver_accepted_spans_total')
  );
}

/** Waits until the collector's accepted-span count stops moving (the SDKs' last batches are in). */
async function settledSpans(collector: Collector): Promise<number> {
  let last = await acceptedSpans(collector);
  const deadline = Date.now() + 4_000;
  while (Date.now() < deadline) {
    await sleep(400);
    const now = await acceptedSpans(collector);
    if (now === last) return now;
    last = now;
  }
  return last;
}

// ---------------------------------------------------------------------------------------------
// The stacks

function startBenchStack(telemetry: 'off' | 'on', collector?: Collector): Promise<Stack> {
  return startStack({
    ports: ZERO_PORTS,
    adminToken: ADMIN_TOKEN,
    build: 'bundle',
    keepLogs: false,
    signal,
    onNotice: (message) => note(message),
    env:
      telemetry === 'on'
        ? // The SDK's batches fill long before 5 s under load; a short schedule only makes the
          // last spans of a row reach the collector before its span count is read.
          { OTEL_EXPORTER_OTLP_ENDPOINT: collector?.endpoint ?? '', OTEL_BSP_SCHEDULE_DELAY: '500' }
        : { OTEL_SDK_DISABLED: 'true' },
    serviceEnv: {
      // Boards of the morning peak whatever the time of day, quick simulated upstream answers, and
      // no bans (the fleet row calls for a dozen routes every TTL).
      'rail-sim': {
        SIM_TIME_OFFSET_MIN: String(simOffsetToLondonHour(8)),
        LATENCY_MIN_MS: '5',
        LATENCY_MAX_MS: '30',
        BAN_THRESHOLD: '100000',
      },
      departures: {
        CACHE_TTL_S: String(CACHE_TTL_S),
        UPSTREAM_BUDGET_PER_MIN: '600',
        UPSTREAM_BUDGET_BURST: '30',
      },
      // wrk is one client address sending thousands a second.
      gateway: { RATE_LIMIT_PER_MIN: '1000000', NEW_ROUTES_PER_CLIENT_PER_MIN: '1000000' },
    },
    ...(NODE_ARGS.length ? { processOptions: () => ({ nodeArgs: NODE_ARGS }) } : {}),
  });
}

/** Starts a stack that is stopped at the end of the run (or by `stop`), whatever happens. */
async function startManaged(name: string, start: () => Promise<Stack>): Promise<Stack> {
  const t0 = Date.now();
  note(`starting the ${name} stack (production build)`);
  const stack = await start();
  cleanups.push({ what: `${name} stack`, run: () => stack.stop() });
  note(`${name} stack ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return stack;
}

/**
 * The round of a row with the median throughput, with every round's req/s in `extra`; a failed
 * round makes the row failed.
 */
function medianRound(rounds: RowResult[]): RowResult | undefined {
  const failed = rounds.find((r) => !r.ok);
  const sorted = [...rounds].sort((a, b) => (a.reqPerSec ?? 0) - (b.reqPerSec ?? 0));
  const pick = failed ?? sorted[Math.floor((sorted.length - 1) / 2)];
  if (!pick) return undefined;
  return {
    ...pick,
    extra: { ...pick.extra, roundsReqPerSec: rounds.map((r) => r.reqPerSec ?? null) },
  };
}

function stackMeasured(stack: Stack, collector?: Collector): Measured[] {
  const list = stack.all().map(serviceMeasured);
  if (collector) {
    list.push({
      label: 'collector',
      pid: collector.child.pid,
      alive: () => collector.child.exitCode === null,
      recent: () => collector.output.slice(-10),
    });
  }
  return list;
}

function idleMemory(stackName: string, measured: Measured[]): IdleMemory {
  return {
    stack: stackName,
    rssBytes: Object.fromEntries(measured.map((m) => [m.label, rssBytes(m.pid) ?? null])),
  };
}

/** Sum of one counter over the departures replicas' /metrics. */
async function departuresCounter(stack: Stack, name: string): Promise<number[]> {
  return Promise.all(stack.departures.map(async (d) => sumMetric(await getText(`${d.url}/metrics`), name)));
}

// ---------------------------------------------------------------------------------------------
// One row

interface RowSpec {
  id: (typeof ROW_IDS)[number];
  title: string;
  url: string;
  telemetry: RowResult['telemetry'];
  measured: Measured[];
  script?: string;
  durationS?: number;
  collector?: Collector;
}

async function runRow(spec: RowSpec): Promise<RowResult> {
  const result: RowResult = {
    id: spec.id,
    title: spec.title,
    url: spec.url,
    telemetry: spec.telemetry,
    ok: false,
    problems: [],
    cpuUsPerRequest: {},
    eventLoopP99Ms: {},
    rssAfterBytes: {},
  };
  const durationS = spec.durationS ?? DURATION_S;
  note(
    `${spec.id}: ${WARMUP_S} s warm-up, then ${durationS} s of wrk -c${CONNECTIONS} -t${THREADS} on ${spec.url}`,
  );
  const wrk = (d: number) =>
    runWrk({
      url: spec.url,
      durationS: d,
      connections: CONNECTIONS,
      threads: THREADS,
      signal,
      ...(spec.script ? { script: spec.script } : {}),
    });
  let run: WrkResult;
  try {
    await wrk(WARMUP_S);
    // Reading the delay resets prom-client's histogram: what is read after the run is the run's.
    await Promise.all(spec.measured.map((m) => m.lag?.().catch(() => undefined)));
    const spans0 = spec.collector ? await settledSpans(spec.collector) : 0;
    const cpu0 = spec.measured.map((m) => cpuSeconds(m.pid));
    const harness0 = cpuSeconds(process.pid);
    run = await wrk(durationS);
    const harness1 = cpuSeconds(process.pid);
    const cpu1 = spec.measured.map((m) => cpuSeconds(m.pid));
    spec.measured.forEach((m, i) => {
      result.rssAfterBytes[m.label] = rssBytes(m.pid) ?? null;
      const [a, b] = [cpu0[i], cpu1[i]];
      result.cpuUsPerRequest[m.label] =
        a === undefined || b === undefined || run.requests === 0 ? null : ((b - a) * 1e6) / run.requests;
    });
    result.cpuUsPerRequest.wrk =
      run.wrkCpuS === undefined || run.requests === 0 ? null : (run.wrkCpuS * 1e6) / run.requests;
    // This process meanwhile (it reads the services' log lines): a check that it stays out of the way.
    result.cpuUsPerRequest.harness =
      harness0 === undefined || harness1 === undefined || run.requests === 0
        ? null
        : ((harness1 - harness0) * 1e6) / run.requests;
    for (const m of spec.measured) {
      if (!m.lag) continue;
      const lag = await m.lag().catch(() => undefined);
      result.eventLoopP99Ms[m.label] = lag === undefined ? null : lag * 1_000;
    }
    if (spec.collector && run.requests > 0) {
      result.spansPerRequest = ((await settledSpans(spec.collector)) - spans0) / run.requests;
    }
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    result.problems.push((error as Error).message);
    return result;
  }
  Object.assign(result, {
    requests: run.requests,
    durationS: run.durationS,
    reqPerSec: run.reqPerSec,
    p50Ms: run.p50Ms,
    p90Ms: run.p90Ms,
    p99Ms: run.p99Ms,
    p99OverP50: run.p50Ms > 0 ? run.p99Ms / run.p50Ms : undefined,
    non2xx: run.non2xx,
    socketErrors: run.socketErrors,
  });
  if (run.requests === 0) result.problems.push('no request completed');
  if (run.non2xx > 0) result.problems.push(`${run.non2xx} answers were not 2xx/3xx`);
  const socketErrors = Object.entries(run.socketErrors).filter(([, n]) => n > 0);
  if (socketErrors.length)
    result.problems.push(`socket errors: ${socketErrors.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  for (const m of spec.measured) {
    if (!m.alive()) {
      result.problems.push(
        `${m.label} is no longer running; its last output:\n${m.recent?.().join('\n') ?? ''}`,
      );
    }
  }
  result.ok = result.problems.length === 0;
  note(
    `${spec.id}: ${Math.round(run.reqPerSec)} req/s, p50 ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(2)} ms${
      result.ok ? '' : ` — FAILED: ${result.problems.join('; ')}`
    }`,
  );
  return result;
}

function failedRow(id: string, title: string, url: string, problem: string): RowResult {
  return {
    id,
    title,
    url,
    telemetry: 'n/a',
    ok: false,
    problems: [problem],
    cpuUsPerRequest: {},
    eventLoopP99Ms: {},
    rssAfterBytes: {},
  };
}

// ---------------------------------------------------------------------------------------------
// The run

interface Board {
  body: Buffer;
  contentType: string;
}

/** A stack's URLs under test: the gateway's cached path, and its route owner's own. */
interface Urls {
  gateway: string;
  departures: string;
  /** The replica that owns the route (`departures-a`). */
  replica: string;
}

async function fetchBoard(url: string): Promise<Board> {
  const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${body.toString('utf8').slice(0, 300)}`);
  return { body, contentType: res.headers.get('content-type') ?? 'application/json' };
}

/** The departures replica whose responses counter moved when `warm` ran: the route's owner. */
async function ownerOf(stack: Stack, warm: () => Promise<unknown>): Promise<number> {
  const before = await departuresCounter(stack, 'departures_responses_total');
  await warm();
  const after = await departuresCounter(stack, 'departures_responses_total');
  const moved = after.findIndex((n, i) => n > (before[i] ?? 0));
  return moved === -1 ? 0 : moved;
}

/**
 * Readies a stack for its rows: finds the route's owner, fetches the gateway's board (the bytes
 * the ceilings serve) and the owner's own, then lets it settle a second (idle memory is next).
 */
async function readyForRows(stack: Stack): Promise<{ urls: Urls; board: Board }> {
  const gateway = `${stack.gateway.url}${GATEWAY_PATH}`;
  const owner = await ownerOf(stack, () => fetchBoard(gateway));
  const board = await fetchBoard(gateway);
  const departures = `${stack.departures[owner]?.url}${DEPARTURES_PATH}`;
  await fetchBoard(departures);
  await sleep(1_000);
  return { urls: { gateway, departures, replica: `departures-${'ab'[owner]}` }, board };
}

/** Named routes first, then pairs of neighbouring stations, up to `count` distinct routes. */
async function fleetRoutes(gatewayUrl: string, count: number): Promise<string[]> {
  const { routes } = JSON.parse(await getText(`${gatewayUrl}/api/routes`)) as {
    routes: { from: string; to: string }[];
  };
  const { stations } = JSON.parse(await getText(`${gatewayUrl}/api/stations`)) as {
    stations: { crs: string }[];
  };
  const keys = new Set(routes.map((r) => `${r.from}-${r.to}`));
  for (let i = 0; keys.size < count && i + 1 < stations.length; i++) {
    const [a, b] = [stations[i]?.crs, stations[i + 1]?.crs];
    if (a && b) keys.add(`${a}-${b}`);
  }
  return [...keys].slice(0, count).map((k) => {
    const [from, to] = k.split('-');
    return `/api/departures?from=${from}&to=${to}`;
  });
}

/** A wrk script sending `paths` in turn, each request formatted once up front. */
function roundRobinScript(dir: string, paths: string[]): string {
  const file = join(dir, 'routes.lua');
  writeFileSync(
    file,
    [
      `local paths = { ${paths.map((p) => JSON.stringify(p)).join(', ')} }`,
      'local requests = {}',
      'local i = 0',
      'init = function(args)',
      '  for k, p in ipairs(paths) do requests[k] = wrk.format("GET", p) end',
      '  i = math.random(#paths) - 1',
      'end',
      'request = function()',
      '  i = i % #requests + 1',
      '  return requests[i]',
      'end',
      '',
    ].join('\n'),
  );
  return file;
}

function gitDescription(): { commit: string | null; dirty: boolean | null } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    return { commit, dirty: status.trim() !== '' };
  } catch {
    return { commit: null, dirty: null };
  }
}

async function main(): Promise<number> {
  const wrk = wrkPath();
  if (!wrk) {
    console.error(
      'bench: wrk is not installed (Debian: apt-get install wrk, or source scripts/install-tools.sh --all)',
    );
    return 1;
  }
  const collectorBin = findCollector();
  if (!collectorBin.path) {
    console.error(
      `bench: the telemetry-on rows need the project's collector: ${collectorBin.reason.replace(/; skipping$/, '')}`,
    );
    return 1;
  }
  const startedAt = new Date();
  const machine = machineInfo();
  const git = gitDescription();
  const settings = {
    quick: QUICK,
    durationS: DURATION_S,
    rounds: ROUNDS,
    warmupS: WARMUP_S,
    connections: CONNECTIONS,
    threads: THREADS,
    loadGenerator: `wrk (${wrk})`,
    build: 'bundle',
    nodeArgs: NODE_ARGS,
    cacheTtlS: CACHE_TTL_S,
    fleetRoutes: FLEET_ROUTES,
    fleetDurationS: FLEET_DURATION_S,
    gatewayPath: GATEWAY_PATH,
    departuresPath: DEPARTURES_PATH,
  };
  note(
    `${machine.cpuCount} × ${machine.cpuModel}, ${(machine.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${machine.node}, ${machine.os} ${machine.kernel}${
      HAS_PROC ? '' : ' (no /proc: CPU and memory columns are n/a)'
    }; ${QUICK ? 'quick run' : 'full run'}: ${DURATION_S} s per row, ${ROUNDS} round${ROUNDS === 1 ? '' : 's'} of ceiling-2hop and the off/on rows`,
  );
  const load1 = Number(machine.loadAverage?.split(' ')[0]);
  if (load1 > machine.cpuCount / 2) {
    note(
      `the machine is busy (load average ${machine.loadAverage} on ${machine.cpuCount} CPUs): every row shares the CPUs with it, so compare rows of a run on a quiet machine`,
    );
  }
  const scratch = mkdtempSync(join(tmpdir(), 'failway-bench-'));
  cleanups.push({
    what: 'scratch directory',
    run: async () => rmSync(scratch, { recursive: true, force: true }),
  });

  const results = new Map<string, RowResult>();
  const idle: IdleMemory[] = [];
  let board: Board | undefined;
  let fleet: Record<string, unknown> | undefined;

  // 1. The telemetry-off stack: the board bytes for the ceilings.
  let off: { stack: Stack; urls: Urls } | undefined;
  try {
    const stack = await startManaged('telemetry-off', () => startBenchStack('off'));
    const ready = await readyForRows(stack);
    board = ready.board;
    idle.push(idleMemory('telemetry off', stackMeasured(stack)));
    off = { stack, urls: ready.urls };
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    note(`telemetry-off stack: ${(error as Error).message}`);
  }

  // 2. The ceilings, on the gateway's own bytes, while the only stack up is idle. The one-hop row
  // runs once here; the two-hop row, which the gateway is compared with, runs in every round below.
  let ceiling: { relayUrl: string; measured: Measured[]; stop(): Promise<void> } | undefined;
  if (board) {
    const bodyFile = join(scratch, 'board.json');
    writeFileSync(bodyFile, board.body);
    try {
      const server = await startCeiling('server', { BODY_FILE: bodyFile, CONTENT_TYPE: board.contentType });
      const relay = await startCeiling('relay', { TARGET_PORT: String(server.port) });
      const measured = [ceilingMeasured('ceiling-server', server), ceilingMeasured('ceiling-relay', relay)];
      const [serverOnly] = measured;
      results.set(
        'ceiling-1hop',
        await runRow({
          id: 'ceiling-1hop',
          title: 'bare node:http server, same bytes',
          url: `http://127.0.0.1:${server.port}${GATEWAY_PATH}`,
          telemetry: 'n/a',
          measured: serverOnly ? [serverOnly] : [],
        }),
      );
      ceiling = {
        relayUrl: `http://127.0.0.1:${relay.port}${GATEWAY_PATH}`,
        measured,
        async stop() {
          await relay.stop();
          await server.stop();
        },
      };
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      note(`ceilings: ${(error as Error).message}`);
    }
  }

  // 3. The telemetry-on stack, exporting every span to the project's collector.
  let on: { stack: Stack; collector: Collector; urls: Urls } | undefined;
  try {
    const collector = await startCollector(collectorBin.path, scratch);
    const stack = await startManaged('telemetry-on', () => startBenchStack('on', collector));
    const { urls } = await readyForRows(stack);
    idle.push(idleMemory('telemetry on', stackMeasured(stack, collector)));
    on = { stack, collector, urls };
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    note(`telemetry-on stack: ${(error as Error).message}`);
  }

  // 4. The two-hop ceiling and the off and on rows in interleaved rounds, whatever is not
  // measured idle.
  const rounds = new Map<string, RowResult[]>(ROUND_ROW_IDS.map((id) => [id, []]));
  /** What a round's row `id` measures, or undefined when its stack or the ceiling did not start. */
  const roundRow = (id: (typeof ROUND_ROW_IDS)[number]): RowSpec | undefined => {
    if (id === 'ceiling-2hop') {
      return ceiling
        ? {
            id,
            title: 'bare node:http relay (keep-alive) in front of it',
            url: ceiling.relayUrl,
            telemetry: 'n/a',
            measured: ceiling.measured,
          }
        : undefined;
    }
    const telemetry = id.endsWith('-on') ? 'on' : 'off';
    const target = telemetry === 'on' ? on : off;
    if (!target) return undefined;
    const collector = telemetry === 'on' ? on?.collector : undefined;
    const gateway = id.startsWith('gateway');
    const how = telemetry === 'on' ? 'on (exporting)' : 'off';
    return {
      id,
      title: gateway
        ? `gateway, cached board, telemetry ${how}`
        : `${target.urls.replica} direct, cached board, telemetry ${how}`,
      url: gateway ? target.urls.gateway : target.urls.departures,
      telemetry,
      measured: stackMeasured(target.stack, collector),
      ...(collector ? { collector } : {}),
    };
  };
  for (let round = 1; round <= ROUNDS; round++) {
    if (ROUNDS > 1) note(`round ${round} of ${ROUNDS}`);
    for (const id of ROUND_ROW_IDS) {
      const spec = roundRow(id);
      if (spec) rounds.get(id)?.push(await runRow(spec));
    }
  }
  await ceiling?.stop();
  for (const [id, list] of rounds) {
    const row = medianRound(list);
    if (row) results.set(id, row);
  }
  if (on) {
    const file = statSync(on.collector.tracesFile, { throwIfNoEntry: false });
    await on.stack.stop();
    if (file)
      note(`the collector wrote ${(file.size / 2 ** 20).toFixed(1)} MB of spans (protobuf), now deleted`);
    await on.collector.stop();
  }

  // 5. Fleet-wide upstream calls per route per TTL (telemetry off): every route warmed first.
  if (off) {
    const { stack } = off;
    try {
      const paths = await fleetRoutes(stack.gateway.url, FLEET_ROUTES);
      for (const path of paths) await fetchBoard(`${stack.gateway.url}${path}`);
      const script = roundRobinScript(scratch, paths);
      const calls0 = await departuresCounter(stack, 'departures_upstream_requests_total');
      const rail0 = sumMetric(await getText(`${stack.railSim.url}/metrics`), 'railsim_requests_total');
      const from = Date.now();
      const row = await runRow({
        id: 'fleet-upstream',
        title: `gateway over ${paths.length} routes (fleet upstream calls)`,
        url: stack.gateway.url,
        telemetry: 'off',
        measured: stackMeasured(stack),
        script,
        durationS: FLEET_DURATION_S,
      });
      const windowS = (Date.now() - from) / 1_000;
      const calls1 = await departuresCounter(stack, 'departures_upstream_requests_total');
      const rail1 = sumMetric(await getText(`${stack.railSim.url}/metrics`), 'railsim_requests_total');
      const byReplica = calls1.map((n, i) => n - (calls0[i] ?? 0));
      const calls = byReplica.reduce((a, b) => a + b, 0);
      // The counting window is the row's warm-up and run, between the two counter reads.
      const perRouteTtl = calls / (paths.length * (windowS / CACHE_TTL_S));
      fleet = {
        routes: paths,
        cacheTtlS: CACHE_TTL_S,
        windowS: Number(windowS.toFixed(1)),
        upstreamCalls: calls,
        upstreamCallsByReplica: byReplica,
        railSimRequests: rail1 - rail0,
        callsPerRoutePerTtl: perRouteTtl,
      };
      row.extra = fleet;
      results.set('fleet-upstream', row);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      note(`fleet row: ${(error as Error).message}`);
    }
    await stack.stop();
  }

  // The breaker section: the stacks are stopped, so this process has the machine to itself.
  let breaker: BreakerRow[] | undefined;
  try {
    note('circuit breaker: failed calls with 1,000, 10,000 and 70,000 calls in the window');
    breaker = await measureBreaker([1_000, 10_000, 70_000], QUICK ? 20 : 100);
  } catch (error) {
    note(`circuit breaker: ${(error as Error).message}`);
  }

  // Report: every row in order; a missing one is a failed one.
  const rows = ROW_IDS.map((id) => results.get(id) ?? failedRow(id, id, '', 'the row did not run'));
  const ratios = ratiosOf(rows);
  const fleetLine = fleet
    ? `  fleet-wide upstream calls per route per TTL (${(fleet.routes as string[]).length} routes, TTL ${CACHE_TTL_S} s, ${fleet.windowS} s, ideal ≈ 1): ${(fleet.callsPerRoutePerTtl as number).toFixed(2)} (${fleet.upstreamCalls} calls: ${(fleet.upstreamCallsByReplica as number[]).join(' + ')} by replica; rail-sim counted ${fleet.railSimRequests})`
    : '  fleet-wide upstream calls per route per TTL: n/a (the row did not run)';

  out();
  out(
    `Failway bench — ${startedAt.toISOString()} — commit ${git.commit?.slice(0, 12) ?? 'unknown'}${git.dirty ? ' (with uncommitted changes)' : ''}`,
  );
  out(
    `${machine.cpuCount} × ${machine.cpuModel}, ${(machine.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${machine.node}, ${machine.os} ${machine.kernel}; wrk -t${THREADS} -c${CONNECTIONS}, ${DURATION_S} s per row after ${WARMUP_S} s warm-up, ceiling-2hop and off/on rows: median of ${ROUNDS} interleaved round${ROUNDS === 1 ? '' : 's'}, production build`,
  );
  out();
  out(render(rows, ratios, idle, fleetLine));
  out();
  out(breaker ? renderBreaker(breaker) : 'Circuit breaker: n/a (the measurement failed)');
  const failed = rows.filter((r) => !r.ok);
  for (const r of failed) out(`FAILED ${r.id}: ${r.problems.join('; ')}`);

  mkdirSync(OUTPUT_DIR, { recursive: true });
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    git,
    machine,
    settings,
    board: board ? { bytes: board.body.length, contentType: board.contentType } : null,
    rows,
    idleMemory: idle,
    ratios,
    fleet: fleet ?? null,
    breaker: breaker ?? null,
    ok: failed.length === 0 && breaker !== undefined,
  };
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const file = join(OUTPUT_DIR, `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, json);
  writeFileSync(join(OUTPUT_DIR, 'latest.json'), json);
  out();
  out(`bench: wrote ${file.replace(`${REPO_ROOT}/`, '')} and test-output/bench/latest.json`);
  if (failed.length) out(`bench: ${failed.length} of ${rows.length} rows failed or did not run`);
  if (!breaker) out('bench: the circuit-breaker measurement failed');
  return report.ok ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(`bench: ${(error as Error).message}`);
  code = interrupted ? 130 : 1;
} finally {
  await cleanup();
}
if (!interrupted) process.exit(code);
