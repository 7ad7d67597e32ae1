import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metricValue, type ServiceProcess, startService, waitFor } from '@failway/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SHIPPED = readFileSync(new URL('../config/routes.yaml', import.meta.url), 'utf8');

/**
 * A directory laid out the way the kubelet mounts a ConfigMap: routes.yaml → ..data/routes.yaml,
 * ..data → a timestamped directory; an update writes a new directory and renames a new ..data
 * link over the old one (an atomic swap).
 */
class ConfigMapDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'failway-configmap-'));
  #version = 0;

  constructor(content: string) {
    this.update(content);
    symlinkSync('..data/routes.yaml', join(this.dir, 'routes.yaml'));
  }

  get file(): string {
    return join(this.dir, 'routes.yaml');
  }

  update(content: string): void {
    const version = `..2026_11_23_${++this.#version}`;
    mkdirSync(join(this.dir, version));
    writeFileSync(join(this.dir, version, 'routes.yaml'), content);
    symlinkSync(version, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let configMap: ConfigMapDir;
let service: ServiceProcess;

async function get(path: string): Promise<{ status: number; type: string; body: Record<string, unknown> }> {
  const res = await fetch(`${service.url}${path}`);
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    body: (await res.json()) as Record<string, unknown>,
  };
}

beforeAll(async () => {
  configMap = new ConfigMapDir(SHIPPED);
  service = await startService('route-config', {
    ROUTES_FILE: configMap.file,
    DEFAULT_FROM: 'whp',
    DEFAULT_TO: 'LTN',
    ROUTES_POLL_MS: '500',
  });
});

afterAll(async () => {
  await service?.stop();
  configMap?.remove();
});

describe('GET /routes, /routes/:id, /stations, /stations/:crs', () => {
  it('when the catalog is asked for, then it lists the routes with the default route from the environment', async () => {
    const { status, body } = await get('/routes');
    expect(status).toBe(200);
    expect(body.defaultRoute).toEqual({ from: 'WHP', to: 'LTN' });
    expect(body.routes).toContainEqual({
      id: 'whp-ltn',
      name: 'West Hampstead to Luton Airport',
      from: 'WHP',
      to: 'LTN',
    });
    expect((await get('/routes/whp-ltn')).body).toMatchObject({ from: 'WHP', to: 'LTN' });
    expect(((await get('/stations')).body.stations as unknown[]).length).toBe(21);
    expect((await get('/stations/ltn')).body).toEqual({ crs: 'LTN', name: 'Luton Airport Parkway' });
  });

  it.each([
    ['/routes/nope', 404],
    ['/stations/XYZ', 404],
    ['/stations/XY', 400],
    ['/stations/%00%0d', 400],
  ])('when GET %s, then %i problem+json', async (path, status) => {
    const res = await get(path);
    expect(res.status).toBe(status);
    expect(res.type).toContain('application/problem+json');
    expect(res.body.status).toBe(status);
  });
});

describe('when the mounted routes file changes', () => {
  it('then a valid new file is used, an invalid one is refused with the last good kept and said so, and a fix is picked up', async () => {
    configMap.update(
      `${SHIPPED}  - { id: ltn-bfr, name: Luton Airport to Blackfriars, from: LTN, to: BFR }\n`,
    );
    await waitFor(
      'the new route',
      async () => ((await get('/routes/ltn-bfr')).status === 200 ? true : undefined),
      { timeoutMs: 8_000 },
    );
    let metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metricValue(metrics, 'routeconfig_reloads_total', { result: 'success' })).toBe(1);
    expect(metricValue(metrics, 'routeconfig_routes')).toBe(7);

    configMap.update(`${SHIPPED}  - { id: bad-one, name: Broken, from: LTN, to: QQQ }\n`);
    const refusal = await waitFor(
      'the refusal log line',
      () => service.logs.find((l) => l.message === 'routes file invalid; keeping the last good config'),
      {
        timeoutMs: 8_000,
      },
    );
    expect(refusal.level).toBe('error');
    expect(refusal.errors).toEqual(['routes[6] (id "bad-one").to: "QQQ" is not a station of the catalog']);
    expect((await get('/routes/ltn-bfr')).status).toBe(200);
    expect((await get('/routes/bad-one')).status).toBe(404);
    metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metricValue(metrics, 'routeconfig_reloads_total', { result: 'failure' })).toBe(1);
    expect(metricValue(metrics, 'routeconfig_config_valid')).toBe(0);

    configMap.update(SHIPPED);
    await waitFor(
      'the fixed file',
      async () => ((await get('/routes/ltn-bfr')).status === 404 ? true : undefined),
      { timeoutMs: 8_000 },
    );
    metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metricValue(metrics, 'routeconfig_config_valid')).toBe(1);
  });
});

describe('start-up', () => {
  it('when the routes file is invalid, then the service does not start and names the bad entry', async () => {
    const broken = new ConfigMapDir(`${SHIPPED}  - { id: x, name: X, from: WHP, to: WHP }\n`);
    try {
      await expect(
        startService('route-config', { ROUTES_FILE: broken.file }, { timeoutMs: 10_000 }),
      ).rejects.toThrow(/routes\[6\] \(id "x"\)/);
    } finally {
      broken.remove();
    }
  });

  it('when DEFAULT_TO is not a station, then the service does not start and names DEFAULT_TO', async () => {
    await expect(startService('route-config', { DEFAULT_TO: 'QQQ' }, { timeoutMs: 10_000 })).rejects.toThrow(
      /DEFAULT_TO/,
    );
  });
});
