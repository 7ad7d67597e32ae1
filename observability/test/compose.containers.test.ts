// The compose stack for real: build the images, start everything, and check what a user checks
// first — a board through the gateway, Prometheus scraping every service, Grafana showing the
// dashboards with healthy datasources, and one request followed into Tempo (its trace) and Loki
// (its log lines) through Grafana. Needs a Docker engine with the compose plugin; skips with one
// line without one. `npm run test:containers` runs only this file.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, REPO_ROOT, waitFor } from '@failway/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const PROJECT = 'failway-compose-test';
const GRAFANA_PASSWORD = 'compose-test-password';
const DASHBOARD_UIDS = readdirSync(join(REPO_ROOT, 'observability/grafana/dashboards'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => f.slice(0, -'.json'.length));
const UP_TIMEOUT_S = 600;

function docker(args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 60_000) {
  const result = spawnSync('docker', args, { cwd: REPO_ROOT, env, encoding: 'utf8', timeout: timeoutMs });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
  return { ok: result.status === 0, output: result.error ? String(result.error) : output };
}

/** Why the test cannot run here, or '' when a Docker engine and compose answer. */
function unavailable(): string {
  const info = docker(['info', '--format', '{{.ServerVersion}}'], process.env, 15_000);
  if (!info.ok) return `no Docker engine: ${info.output.split('\n').at(-1) ?? 'docker info failed'}`;
  const compose = docker(['compose', 'version'], process.env, 15_000);
  if (!compose.ok) return 'no Docker engine with the compose plugin: `docker compose version` failed';
  return '';
}

const reason = unavailable();
if (reason) console.warn(`compose.containers.test: ${reason}; skipping`);

describe.skipIf(Boolean(reason))('docker compose up', () => {
  const urls = { gateway: '', prometheus: '', grafana: '' };
  let env: NodeJS.ProcessEnv = {};

  beforeAll(
    async () => {
      // Free host ports and a subnet of its own, so a stack the user already runs is left alone
      // (the shell environment wins over .env in compose).
      const [gateway, grafana, prometheus, railSim] = await Promise.all([
        freePort(),
        freePort(),
        freePort(),
        freePort(),
      ]);
      env = {
        ...process.env,
        BIND_ADDRESS: '127.0.0.1',
        GATEWAY_PORT: String(gateway),
        GRAFANA_PORT: String(grafana),
        PROMETHEUS_PORT: String(prometheus),
        RAILSIM_PORT: String(railSim),
        FAILWAY_SUBNET: '172.31.90.0/24',
        DEPARTURES_A_IP: '172.31.90.12',
        DEPARTURES_B_IP: '172.31.90.13',
        GRAFANA_ADMIN_PASSWORD: GRAFANA_PASSWORD,
        // The images run with NODE_ENV=production, which refuses a missing or demo token.
        ADMIN_TOKEN: 'compose-test-admin-token',
      };
      urls.gateway = `http://127.0.0.1:${gateway}`;
      urls.grafana = `http://127.0.0.1:${grafana}`;
      urls.prometheus = `http://127.0.0.1:${prometheus}`;
      const up = docker(
        [
          'compose',
          '-p',
          PROJECT,
          'up',
          '--build',
          '--detach',
          '--wait',
          '--wait-timeout',
          String(UP_TIMEOUT_S),
        ],
        env,
        (UP_TIMEOUT_S + 300) * 1000,
      );
      if (!up.ok) {
        const logs = docker(['compose', '-p', PROJECT, 'logs', '--no-color', '--tail', '30'], env);
        throw new Error(`docker compose up failed:\n${up.output.slice(-3000)}\n${logs.output.slice(-6000)}`);
      }
    },
    (UP_TIMEOUT_S + 360) * 1000,
  );

  afterAll(() => {
    if (Object.keys(env).length)
      docker(['compose', '-p', PROJECT, 'down', '--volumes', '--timeout', '20'], env, 180_000);
  }, 200_000);

  it('serves a departures board through the gateway', async () => {
    const res = await fetch(`${urls.gateway}/api/departures?from=WHP&to=LTN&rows=5`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    const body = (await res.json()) as { from: { crs: string }; board: { trainServices: unknown[] } };
    expect(body.from.crs).toBe('WHP');
    expect(Array.isArray(body.board.trainServices)).toBe(true);
  });

  it('has Prometheus scraping every service and the collector', async () => {
    const expected = ['departures', 'gateway', 'otel-collector', 'rail-sim', 'route-config'];
    const up = await waitFor(
      'every scrape target up',
      async () => {
        const res = await fetch(`${urls.prometheus}/api/v1/targets?state=active`);
        const body = (await res.json()) as {
          data: { activeTargets: { labels: { job: string; instance: string }; health: string }[] };
        };
        const healthy = body.data.activeTargets.filter((t) => t.health === 'up');
        const jobs = new Set(healthy.map((t) => t.labels.job));
        const replicas = healthy.filter((t) => t.labels.job === 'departures').length;
        return expected.every((j) => jobs.has(j)) && replicas === 2 ? [...jobs].sort() : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 2_000 },
    );
    expect(up).toEqual(expect.arrayContaining(expected));
  });

  it('shows the provisioned dashboards to an anonymous visitor in Grafana', async () => {
    const res = await fetch(`${urls.grafana}/api/search?type=dash-db`);
    expect(res.status).toBe(200);
    const dashboards = (await res.json()) as { uid: string; folderTitle?: string }[];
    expect(dashboards.map((d) => d.uid).sort()).toEqual([...DASHBOARD_UIDS].sort());
    expect(dashboards.every((d) => d.folderTitle === 'Failway')).toBe(true);
    const admin = await fetch(`${urls.grafana}/api/admin/settings`);
    expect(admin.status, 'anonymous visitors are editors, not admins').not.toBe(200);
  });

  it('has every provisioned datasource healthy', async () => {
    for (const uid of ['prometheus', 'loki', 'tempo']) {
      const health = await waitFor(
        `Grafana datasource ${uid} healthy`,
        async () => {
          const res = await grafana(`/api/datasources/uid/${uid}/health`);
          const body = (await res.json()) as { status?: string; message?: string };
          return res.ok && body.status === 'OK' ? body : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 2_000 },
      );
      expect(health.status, uid).toBe('OK');
    }
  });

  it('follows one request into Tempo (its trace) and Loki (its log lines)', async () => {
    const requestId = `compose-test-${Date.now()}`;
    const res = await fetch(`${urls.gateway}/api/departures?from=WHP&to=SAC&rows=3`, {
      headers: { 'X-Request-ID': requestId },
    });
    expect(res.status).toBe(200);
    const traceId = res.headers.get('x-trace-id');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);

    // Through Grafana's datasource proxy: Tempo and Loki publish no ports of their own.
    const services = await waitFor(
      'the trace in Tempo',
      async () => {
        const trace = await grafana(`/api/datasources/proxy/uid/tempo/api/v2/traces/${traceId}`);
        if (!trace.ok) return undefined;
        const names = serviceNames(await trace.json());
        const unique = [...new Set(names)].sort();
        return ['departures', 'gateway', 'rail-sim'].every((n) => unique.includes(n)) ? unique : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 3_000 },
    );
    // route-config joins the trace only when the gateway's station cache is cold (ROUTES_CACHE_S).
    expect(services).toEqual(expect.arrayContaining(['departures', 'gateway', 'rail-sim']));

    const query = `{service_name="gateway"} | request_id="${requestId}"`;
    const lines = await waitFor(
      "the request's log lines in Loki",
      async () => {
        const params = new URLSearchParams({ query, since: '15m', limit: '50' });
        const loki = await grafana(`/api/datasources/proxy/uid/loki/loki/api/v1/query_range?${params}`);
        if (!loki.ok) return undefined;
        const body = (await loki.json()) as { data: { result: { values: [string, string][] }[] } };
        const values = body.data.result.flatMap((r) => r.values.map(([, line]) => line));
        return values.length > 0 ? values : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 3_000 },
    );
    expect(lines.some((l) => l.includes(requestId))).toBe(true);
  });

  /** Every `service.name` resource attribute in an OTLP-JSON trace, however deep. */
  function serviceNames(node: unknown): string[] {
    if (Array.isArray(node)) return node.flatMap(serviceNames);
    if (!node || typeof node !== 'object') return [];
    const record = node as { key?: unknown; value?: { stringValue?: unknown } };
    const own =
      record.key === 'service.name' && typeof record.value?.stringValue === 'string'
        ? [record.value.stringValue]
        : [];
    return [...own, ...Object.values(node).flatMap(serviceNames)];
  }

  /** Grafana's API as the admin (datasource health and proxy need more than a viewer). */
  function grafana(path: string): Promise<Response> {
    const auth = Buffer.from(`admin:${GRAFANA_PASSWORD}`).toString('base64');
    return fetch(`${urls.grafana}${path}`, { headers: { authorization: `Basic ${auth}` } });
  }
});
