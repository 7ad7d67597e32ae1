/**
 * The production build runs as the image lays it out. The Dockerfile's runtime stage holds, per
 * service, only its package.json, its bundle/ (scripts/bundle.ts) and its data folders (gateway
 * public/, route-config config/): no node_modules, no workspace packages, no sources. Here the
 * whole application runs from such a copy in a fresh temporary folder, with no node_modules in
 * any folder above it, so a dependency left out of a bundle fails the start or the request that
 * needs it, as it would in the image.
 *
 * Knob: BUNDLE_TEST_BUILD=0 does not run `npm run build` first (the bundles must then exist).
 */
import { cpSync, existsSync, mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ensureProductionBuild, REPO_ROOT, SERVICE_NAMES, type Stack, startStack } from '@failway/stack';
import { type OtlpReceiver, simOffsetToLondonHour, startOtlpReceiver, waitFor } from '@failway/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, ZERO_PORTS } from './support.ts';

/** What the Dockerfile's build stage puts into /out for a service, besides bundle/. */
const FILES_PER_SERVICE = ['package.json', 'bundle', 'public', 'config'];

let root: string;
let stack: Stack;
let otlp: OtlpReceiver;

/** Every folder from `dir` up to the file system's root. */
function folderAndParents(dir: string): string[] {
  const parent = dirname(dir);
  return parent === dir ? [dir] : [dir, ...folderAndParents(parent)];
}

beforeAll(async () => {
  ensureProductionBuild({ run: process.env.BUNDLE_TEST_BUILD !== '0' });
  root = mkdtempSync(join(tmpdir(), 'failway-image-layout-'));
  for (const service of SERVICE_NAMES) {
    for (const entry of FILES_PER_SERVICE) {
      const from = join(REPO_ROOT, 'services', service, entry);
      if (existsSync(from)) cpSync(from, join(root, 'services', service, entry), { recursive: true });
    }
  }
  otlp = await startOtlpReceiver();
  stack = await startStack({
    build: 'bundle',
    root,
    ports: ZERO_PORTS,
    adminToken: ADMIN,
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, OTEL_BSP_SCHEDULE_DELAY: '100' },
    serviceEnv: { 'rail-sim': { SIM_TIME_OFFSET_MIN: String(simOffsetToLondonHour(8)) } },
  });
});

afterAll(async () => {
  await stack?.stop();
  await otlp?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('the production bundles, laid out as the image is', () => {
  it('are all there is: no node_modules in the copy or above it, and every process runs from the copy', () => {
    const holders = folderAndParents(join(root, 'services', 'gateway')).filter((dir) =>
      existsSync(join(dir, 'node_modules')),
    );
    expect(holders).toEqual([]);
    if (process.platform !== 'linux') return;
    for (const proc of stack.all()) {
      expect(readlinkSync(`/proc/${proc.child.pid}/cwd`), proc.label).toBe(join(root, 'services', proc.name));
    }
  });

  it('serve a board end to end, traced through all four services', async () => {
    const res = await fetch(`${stack.gateway.url}/api/departures?from=WHP&to=LTN&rows=5`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      from: { name: string };
      board: { trainServices: { operator: string }[] | null };
    };
    expect(body.from.name).toBe('West Hampstead Thameslink');
    expect(body.board.trainServices?.length).toBeGreaterThan(0);
    // Spans leave through the bundled OTLP exporter: one trace with a server span in every service.
    const traceId = res.headers.get('x-trace-id');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const services = await waitFor('server spans of all four services', () => {
      const names = new Set(
        otlp.spans.filter((s) => s.traceId === traceId && s.kind === 2).map((s) => s.service),
      );
      return names.size === 4 ? names : undefined;
    });
    expect([...services].sort()).toEqual(['departures', 'gateway', 'rail-sim', 'route-config']);
  });

  it('serve the board page, the contract and the metrics', async () => {
    const page = await fetch(`${stack.gateway.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');
    const contract = await fetch(`${stack.gateway.url}/openapi.json`);
    expect(contract.status).toBe(200);
    expect(((await contract.json()) as { openapi: string }).openapi).toMatch(/^3\./);
    const metrics = await fetch(`${stack.gatewayOpsUrl}/metrics`);
    expect(await metrics.text()).toMatch(
      /^http_server_request_duration_seconds_count\{[^}]*route="\/api\/departures"/m,
    );
  });
});
