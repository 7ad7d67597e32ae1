// The compose stack for real: build the images, start everything, and check what a user checks
// first — a board through the gateway, Prometheus scraping every service, Grafana showing the
// dashboards. Needs a Docker engine with the compose plugin; skips with one line without one.
import { spawnSync } from 'node:child_process';
import { freePort, REPO_ROOT, waitFor } from '@failway/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const PROJECT = 'failway-compose-test';
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

  it('shows the provisioned dashboards to an anonymous viewer in Grafana', async () => {
    const res = await fetch(`${urls.grafana}/api/search?type=dash-db`);
    expect(res.status).toBe(200);
    const dashboards = (await res.json()) as { uid: string; folderTitle?: string }[];
    expect(dashboards.length).toBeGreaterThan(0);
    expect(dashboards.every((d) => d.folderTitle === 'Failway')).toBe(true);
    const admin = await fetch(`${urls.grafana}/api/admin/settings`);
    expect(admin.status, 'anonymous users are viewers, not admins').not.toBe(200);
  });
});
