// The telemetry pipeline end to end, every part a real native process: the application (via
// startStack), syslog-ng with observability/syslog/syslog-ng.conf, the OpenTelemetry Collector
// (our build) with observability/otel-collector/config.native.yaml, and Prometheus with the repo's
// rule files. It checks what a person would check in Grafana: every dashboard query has data, the
// ban alert is up, latency exemplars lead to stored traces, a request ID leads to its log lines in
// the syslog files and in what the collector sends to Loki, and the trace spans all four services.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Stack } from '@failway/stack';
import { startStack } from '@failway/stack';
import { createLogger, runShutdownHooks } from '@failway/telemetry';
import {
  findCollector,
  findTool,
  freePort,
  type NativeProcess,
  type PrometheusInstance,
  REPO_ROOT,
  runTool,
  simOffsetToLondonHour,
  startPrometheus,
  waitFor,
} from '@failway/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardQueries } from './dashboards.ts';

const prometheusBin = findTool('prometheus', 'PROMETHEUS_PATH', [
  '/usr/bin/prometheus',
  '/usr/local/bin/prometheus',
]);
const syslogNgBin = findTool('syslog-ng', 'SYSLOG_NG_PATH', ['/usr/sbin/syslog-ng', '/usr/bin/syslog-ng']);
const collectorBin = findCollector();
const missing = [prometheusBin, syslogNgBin, collectorBin].find((t) => !t.path);
if (missing) console.warn(missing.reason);

const ADMIN = 'pipeline-admin-token';
const SERVICES = ['gateway', 'route-config', 'departures', 'rail-sim'];
/** The services a request ID reaches: rail-sim stands for the third-party rail API, which is not told it. */
const OUR_SERVICES = SERVICES.filter((s) => s !== 'rail-sim');
const REQUEST_ID = `pipeline-${randomBytes(6).toString('hex')}`;
const RULE_FILES = ['red.yml', 'slo.yml', 'alerts.yml'].map((f) =>
  resolve(REPO_ROOT, 'observability/prometheus/rules', f),
);

/**
 * Dashboard series only something outside this test produces, each with the reason. Everything
 * else on every dashboard must have data once the traffic below has run.
 */
const NOT_PRODUCED_HERE: { match: RegExp; reason: string }[] = [
  { match: /\bk6_/, reason: 'k6_* series exist only while k6 pushes them (remote write) during a load test' },
  {
    match: /\botelcol_exporter_queue_(size|capacity)\b/,
    reason:
      'the native collector exports to files, which have no sending queue; compose and Kubernetes export over OTLP, whose queue these gauges measure',
  },
];

// Each phase below asks from its own station, so every one of its requests is a cache miss and
// reaches the upstream.
const STATIONS = [
  'BDM',
  'FLT',
  'HLN',
  'LEA',
  'LUT',
  'HPD',
  'SAC',
  'RDT',
  'ELS',
  'MIL',
  'HEN',
  'BCZ',
  'CRI',
  'KTN',
];
const routes = (from: string, count: number) =>
  STATIONS.filter((s) => s !== from)
    .slice(0, count)
    .map((to) => `from=${from}&to=${to}`);

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string; boolValue?: boolean; doubleValue?: number };
}
interface FileSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
}
interface FileLogRecord {
  traceId?: string;
  spanId?: string;
  severityText?: string;
  body?: { stringValue?: string };
  attributes?: OtlpAttribute[];
}
interface FileLine {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: { spans?: FileSpan[] }[];
  }[];
  resourceLogs?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeLogs?: { logRecords?: FileLogRecord[] }[];
  }[];
}

const attrs = (list: OtlpAttribute[] | undefined): Record<string, string> =>
  Object.fromEntries(
    (list ?? []).map(({ key, value }) => [
      key,
      String(value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue ?? ''),
    ]),
  );

/** The complete JSON lines a file exporter has written so far (the last one may be half written). */
function readJsonLines(path: string): FileLine[] {
  if (!existsSync(path)) return [];
  const out: FileLine[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as FileLine);
    } catch {
      // the line being written right now
    }
  }
  return out;
}

function spansIn(path: string) {
  return readJsonLines(path).flatMap((l) =>
    (l.resourceSpans ?? []).flatMap((rs) => {
      const service = attrs(rs.resource?.attributes)['service.name'] ?? '';
      return (rs.scopeSpans ?? []).flatMap((ss) => (ss.spans ?? []).map((s) => ({ ...s, service })));
    }),
  );
}

function logsIn(path: string) {
  return readJsonLines(path).flatMap((l) =>
    (l.resourceLogs ?? []).flatMap((rl) => {
      const resource = attrs(rl.resource?.attributes);
      return (rl.scopeLogs ?? []).flatMap((sl) =>
        (sl.logRecords ?? []).map((r) => ({ resource, record: r, attributes: attrs(r.attributes) })),
      );
    }),
  );
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
function tcpOpen(port: number): Promise<true | undefined> {
  return new Promise((resolveOpen) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolveOpen(true);
    });
    socket.once('error', () => resolveOpen(undefined));
  });
}

async function withOutput<T>(what: NativeProcess, promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- output:\n${what.output.slice(-40).join('\n')}`);
  }
}

describe.skipIf(missing !== undefined)(
  'the telemetry pipeline, natively: services → syslog-ng and collector → files, Prometheus',
  () => {
    // Set in beforeAll: a skipped suite still runs this callback and must leave nothing behind.
    let dir = '';
    let logDir = '';
    let tracesFile = '';
    let logsFile = '';
    const started = Date.now() / 1000;
    let collector: NativeProcess | undefined;
    let syslogNg: NativeProcess | undefined;
    let stack: Stack | undefined;
    let prometheus: PrometheusInstance | undefined;
    let traceId = '';
    let syslogPort = 0;
    let trickle: { stop(): Promise<void> } | undefined;

    const gateway = (query: string, headers: Record<string, string> = {}) =>
      fetch(`${stack?.gateway.url}/api/departures?${query}&rows=5`, { headers });
    const admin = (path: string, method: string, body?: unknown) =>
      fetch(`${stack?.railSim.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const promApi = async <T>(path: string): Promise<T> => {
      const body = (await (await fetch(`${prometheus?.url}${path}`)).json()) as {
        status: string;
        data: T;
        error?: string;
      };
      if (body.status !== 'success') throw new Error(`${path}: ${body.error}`);
      return body.data;
    };

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'failway-pipeline-'));
      logDir = join(dir, 'syslog');
      tracesFile = join(dir, 'traces.jsonl');
      logsFile = join(dir, 'logs.jsonl');
      const [grpc, http, syslogIn, health, ownMetrics, promExporter, sngPort] = await Promise.all(
        Array.from({ length: 7 }, () => freePort()),
      );
      syslogPort = sngPort as number;
      collector = runTool(
        collectorBin.path as string,
        [`--config=${resolve(REPO_ROOT, 'observability/otel-collector/config.native.yaml')}`],
        {
          OTLP_GRPC_PORT: String(grpc),
          OTLP_HTTP_PORT: String(http),
          SYSLOG_RECEIVER_PORT: String(syslogIn),
          HEALTH_CHECK_PORT: String(health),
          OTELCOL_METRICS_PORT: String(ownMetrics),
          PROMETHEUS_EXPORTER_PORT: String(promExporter),
          TRACES_FILE: tracesFile,
          LOGS_FILE: logsFile,
          SERVICE_GRAPH_FLUSH_INTERVAL: '1s',
        },
      );
      await withOutput(
        collector,
        waitFor(
          'the collector to be healthy',
          async () => ((await fetch(`http://127.0.0.1:${health}/`)).ok ? true : undefined),
          {
            timeoutMs: 20_000,
            intervalMs: 200,
          },
        ),
      );

      syslogNg = runTool(
        syslogNgBin.path as string,
        [
          '-F',
          '-f',
          resolve(REPO_ROOT, 'observability/syslog/syslog-ng.conf'),
          '-p',
          join(dir, 'syslog-ng.pid'),
          '-R',
          join(dir, 'syslog-ng.persist'),
          '-c',
          join(dir, 'syslog-ng.ctl'),
          '--no-caps',
        ],
        {
          SYSLOG_NG_LISTEN_IP: '127.0.0.1',
          SYSLOG_NG_LISTEN_PORT: String(syslogPort),
          SYSLOG_NG_LOG_DIR: logDir,
          SYSLOG_NG_FORWARD_HOST: '127.0.0.1',
          SYSLOG_NG_FORWARD_PORT: String(syslogIn),
        },
      );
      await withOutput(
        syslogNg,
        waitFor('syslog-ng to listen', () => tcpOpen(syslogPort), { timeoutMs: 15_000, intervalMs: 200 }),
      );

      stack = await startStack({
        ports: { gateway: 0, routeConfig: 0, departures: [0, 0], railSim: 0 },
        adminToken: ADMIN,
        keepLogs: false,
        env: {
          SYSLOG_HOST: '127.0.0.1',
          SYSLOG_PORT: String(syslogPort),
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${http}`,
          TRACES_PER_SECOND: 'all',
          OTEL_BSP_SCHEDULE_DELAY: '200',
        },
        serviceEnv: {
          'rail-sim': {
            SIM_TIME_OFFSET_MIN: String(simOffsetToLondonHour(8)),
            LATENCY_MIN_MS: '5',
            LATENCY_MAX_MS: '30',
          },
          // The test makes its cache misses in a burst, more than the default budget lets through.
          departures: { BAN_PROBE_INTERVAL_S: '2', UPSTREAM_BUDGET_BURST: '100' },
          // The ejection after the fault phase ends soon, so the trickle of traffic gets answers again.
          gateway: { HEALTH_CHECK_INTERVAL_MS: '300', RATE_LIMIT_PER_MIN: '100000', EJECT_S: '5' },
        },
      });
      const s = stack;
      const target = (job: string, instance: string, url: string) => ({
        job,
        instance,
        address: new URL(url).host,
      });
      prometheus = await startPrometheus({
        binary: prometheusBin.path as string,
        intervalSeconds: 1,
        ruleFiles: RULE_FILES,
        // Job and instance names as in observability/prometheus/prometheus.yml, which the rules and
        // dashboards are written against.
        targets: [
          // The gateway's metrics are on its ops port only.
          target('gateway', 'gateway', s.gatewayOpsUrl),
          target('route-config', 'route-config', s.routeConfig.url),
          target('departures', 'departures-a', s.departures[0].url),
          target('departures', 'departures-b', s.departures[1].url),
          target('rail-sim', 'rail-sim', s.railSim.url),
          { job: 'otel-collector', instance: 'otel-collector', address: `127.0.0.1:${ownMetrics}` },
          {
            job: 'otel-collector-spanmetrics',
            instance: 'otel-collector',
            address: `127.0.0.1:${promExporter}`,
          },
        ],
      });

      // 1. One request followed through everything, while all is well.
      const first = await gateway('from=WHP&to=LTN', { 'X-Request-ID': REQUEST_ID });
      expect(first.status).toBe(200);
      traceId = first.headers.get('x-trace-id') ?? '';
      for (const q of routes('WHP', 4)) expect((await gateway(q)).status).toBe(200);

      // 2. The rail API bans replica A; it finds out on its next cache miss and the gateway routes
      //    around it (DeparturesReplicaBanned goes pending; its `for: 1m` runs from here). The
      //    miss is asked of A itself: which replica owns a route the gateway is asked for depends
      //    on the replicas' URLs, whose ports are free ones, so six new routes through the gateway
      //    all went to B in one run of 64.
      const [addressA] = s.replicaAddresses;
      expect(addressA, 'replica A needs its own loopback address (Linux)').toBeTruthy();
      expect((await admin('/admin/bans', 'POST', { ip: addressA, seconds: 600 })).status).toBe(201);
      const missAtA = await fetch(`${s.departures[0].url}/departures/STP?to=${STATIONS[0]}`);
      expect(missAtA.status, `a cache miss at banned replica A: ${await missAtA.text()}`).toBe(503);
      await waitFor('replica A to report its ban', async () =>
        (await (await fetch(`${s.departures[0].url}/readyz`)).status) === 503 ? true : undefined,
      );
      for (const q of routes('STP', 6)) {
        const res = await gateway(q);
        expect(res.status, `${q}: ${await res.text()}`).toBe(200);
      }

      // 3. The rail API fails every call: replica B answers 503 on cache misses, the gateway ejects
      //    it and, with A banned, has nothing to give for a never-seen route: 5xx everywhere.
      expect((await admin('/admin/faults', 'POST', { errorRate: 1 })).status).toBe(200);
      const failures: number[] = [];
      for (const q of routes('BFR', 3)) failures.push((await gateway(q)).status);
      expect(failures.filter((status) => status >= 500).length).toBeGreaterThan(0);
      expect((await admin('/admin/faults', 'DELETE')).status).toBe(200);

      // A steady trickle afterwards, as real users would send, so rate() windows keep moving.
      let running = true;
      const loop = (async () => {
        const seen = ['from=WHP&to=LTN', ...routes('WHP', 4)];
        for (let i = 0; running && i < 400; i++) {
          await gateway(seen[i % seen.length] as string).catch(() => undefined);
          await new Promise((r) => setTimeout(r, 500));
        }
      })();
      trickle = {
        async stop() {
          running = false;
          await loop;
        },
      };
    }, 120_000);

    afterAll(async () => {
      await trickle?.stop();
      await prometheus?.stop();
      await stack?.stop();
      await syslogNg?.stop();
      await collector?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }, 60_000);

    it("when a request carries X-Request-ID, then its lines are in syslog-ng's file of each of our services and in the collector's logs with service.name, level and trace context", async () => {
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      const files = await waitFor(
        'the request ID in the syslog-ng file of each of our services',
        () => {
          const found = OUR_SERVICES.filter((svc) => {
            const file = join(logDir, `${svc}.log`);
            return existsSync(file) && readFileSync(file, 'utf8').includes(REQUEST_ID);
          });
          return found.length === OUR_SERVICES.length ? found : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 250 },
      );
      expect(files.sort()).toEqual([...OUR_SERVICES].sort());

      const records = await waitFor(
        'the request ID in the logs of our three services at the collector',
        () => {
          const mine = logsIn(logsFile).filter((l) => l.attributes.request_id === REQUEST_ID);
          return new Set(mine.map((l) => l.resource['service.name'])).size === OUR_SERVICES.length
            ? mine
            : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 250 },
      );
      expect([...new Set(records.map((l) => l.resource['service.name']))].sort()).toEqual(
        [...OUR_SERVICES].sort(),
      );
      for (const { resource, record, attributes } of records) {
        expect(['info', 'http', 'warn', 'error']).toContain(resource.level);
        expect(resource['deployment.environment.name']).toBeTruthy();
        expect(attributes).toMatchObject({
          trace_id: traceId,
          span_id: expect.stringMatching(/^[0-9a-f]{16}$/),
        });
        expect(record.traceId).toBe(traceId);
        expect(record.spanId).toBe(attributes.span_id);
        const line = JSON.parse(record.body?.stringValue ?? '{}') as Record<string, unknown>;
        expect(line).toMatchObject({ request_id: REQUEST_ID, service: resource['service.name'] });
      }
    });

    it('when a service logs at DEBUG and at INFO, then only the INFO line reaches the syslog files and the collector', async () => {
      const marker = randomBytes(6).toString('hex');
      const probe = createLogger({
        service: 'pipeline-probe',
        level: 'debug',
        syslog: { host: '127.0.0.1', port: syslogPort },
        transports: [],
      });
      probe.debug(`debug ${marker}`);
      probe.info(`info ${marker}`);
      await runShutdownHooks();
      const file = join(logDir, 'pipeline-probe.log');
      // The DEBUG line was sent first: once the INFO line is in, the DEBUG one would be too.
      const text = await waitFor(
        'the probe INFO line in syslog-ng',
        () =>
          existsSync(file) && readFileSync(file, 'utf8').includes(`info ${marker}`)
            ? readFileSync(file, 'utf8')
            : undefined,
        { timeoutMs: 15_000, intervalMs: 200 },
      );
      expect(text).not.toContain(`debug ${marker}`);
      const bodies = await waitFor(
        'the probe INFO line at the collector',
        () => {
          const found = logsIn(logsFile)
            .filter((l) => l.resource['service.name'] === 'pipeline-probe')
            .map((l) => l.record.body?.stringValue ?? '');
          return found.some((b) => b.includes(`info ${marker}`)) ? found : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 200 },
      );
      expect(bodies.filter((b) => b.includes(`debug ${marker}`))).toEqual([]);
    });

    it('when the request went through the gateway, then its trace in the collector spans gateway → route-config → departures → rail-sim', async () => {
      const spans = await waitFor(
        'server spans of all four services in the traces file',
        () => {
          const mine = spansIn(tracesFile).filter((s) => s.traceId === traceId);
          return new Set(mine.filter((s) => s.kind === 2).map((s) => s.service)).size === SERVICES.length
            ? mine
            : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 250 },
      );
      const byId = new Map(spans.map((s) => [s.spanId, s]));
      const callers: Record<string, string> = {
        'route-config': 'gateway',
        departures: 'gateway',
        'rail-sim': 'departures',
      };
      for (const [service, caller] of Object.entries(callers)) {
        const server = spans.find((s) => s.service === service && s.kind === 2);
        expect(byId.get(server?.parentSpanId ?? ''), `parent of the ${service} server span`).toMatchObject({
          service: caller,
          kind: 3,
        });
      }
    });

    it('when Prometheus scrapes the services, then the latency exemplars carry trace IDs that the collector stored', async () => {
      const exemplarTraceIds = async () => {
        const end = Date.now() / 1000;
        const data = await promApi<{ exemplars: { labels: Record<string, string> }[] }[]>(
          `/api/v1/query_exemplars?query=${encodeURIComponent('http_server_request_duration_seconds_bucket{service="gateway"}')}&start=${started}&end=${end}`,
        );
        return [...new Set(data.flatMap((s) => s.exemplars.map((e) => e.labels.trace_id ?? '')))];
      };
      const ids = await waitFor(
        'gateway exemplars',
        async () => ((await exemplarTraceIds()).length > 0 ? exemplarTraceIds() : undefined),
        {
          timeoutMs: 20_000,
          intervalMs: 500,
        },
      );
      for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
      // Spans are batched for a moment before they are written, so give the newest ones time.
      const missingIds = await waitFor(
        'every exemplar trace ID in the traces file',
        () => {
          const stored = new Set(spansIn(tracesFile).map((s) => s.traceId));
          const absent = ids.filter((id) => !stored.has(id));
          return absent.length === 0 ? absent : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 500 },
      );
      expect(missingIds).toEqual([]);
    });

    it("when traces flow, then the service graph edges and the collector's own metrics reach Prometheus", async () => {
      const edges = await waitFor(
        'service graph edges',
        async () => {
          const result = await (prometheus as PrometheusInstance).query(
            'sum by (client, server) (traces_service_graph_request_total)',
          );
          const found = result.map((r) => `${r.metric.client} → ${r.metric.server}`);
          const wanted = ['gateway → route-config', 'gateway → departures', 'departures → rail-sim'];
          return wanted.every((e) => found.includes(e)) ? found : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 1000 },
      );
      expect(edges).toEqual(expect.arrayContaining(['gateway → departures', 'departures → rail-sim']));
      // The collector's own metrics (8888 in compose) are scraped too. One scrape can miss its
      // timeout on a busy machine (up 0 until the next), so this waits for a successful one of each.
      const wanted = ['otel-collector', 'otel-collector-spanmetrics'];
      let seen: string[] = [];
      await waitFor(
        "a successful scrape of the collector's own metrics and of its span metrics",
        async () => {
          const up = await (prometheus as PrometheusInstance).query('up{job=~"otel-collector.*"}');
          seen = up.map((r) => `${r.metric.job}=${r.value[1]}`).sort();
          return wanted.every((job) => seen.includes(`${job}=1`)) ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 1000 },
      ).catch((error: Error) => {
        throw new Error(`${error.message}; last up: ${seen.join(', ') || 'no series'}`);
      });
    });

    it('when a departures replica is banned, then DeparturesReplicaBanned is pending or firing for it', async () => {
      const alert = await waitFor(
        'DeparturesReplicaBanned',
        async () => {
          const data = await promApi<{ alerts: { labels: Record<string, string>; state: string }[] }>(
            '/api/v1/alerts',
          );
          return data.alerts.find(
            (a) => a.labels.alertname === 'DeparturesReplicaBanned' && a.labels.instance === 'departures-a',
          );
        },
        { timeoutMs: 20_000, intervalMs: 500 },
      );
      expect(['pending', 'firing']).toContain(alert.state);
    });

    it('when the traffic has run, then every Prometheus query of every dashboard returns data', async () => {
      const queries = dashboardQueries().filter((q) => q.datasource === 'prometheus');
      expect(queries.length).toBeGreaterThan(0);
      const excused = queries.filter((q) => NOT_PRODUCED_HERE.some((n) => n.match.test(q.expr)));
      const checked = queries.filter((q) => !excused.includes(q));
      let empty: string[] = [];
      // "Alerts firing now" needs DeparturesReplicaBanned past its `for: 1m`, so this waits longest.
      await waitFor(
        'data for every dashboard query',
        async () => {
          empty = [];
          for (const q of checked) {
            if ((await (prometheus as PrometheusInstance).query(q.expr)).length === 0)
              empty.push(`${q.dashboard} › ${q.panel}: ${q.expr}`);
          }
          return empty.length === 0 ? true : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 2000 },
      ).catch((error: Error) => {
        throw new Error(`${error.message}\nqueries without data:\n${empty.join('\n')}`);
      });
      expect(empty).toEqual([]);
    }, 120_000);
  },
);
