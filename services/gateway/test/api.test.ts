import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';
import { createServiceRuntime } from '@failway/telemetry';
import { metricValue } from '@failway/testkit';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { staticMemberName } from '../src/adapters/member-names.ts';
import { createBoardsObserver } from '../src/adapters/observer.ts';
import { DeparturesPool, httpTransport } from '../src/adapters/pool.ts';
import type { Catalog, CatalogSource } from '../src/adapters/route-config.ts';
import { createApps } from '../src/app.ts';
import { GatewayBoards } from '../src/domain/boards.ts';
import { LastGoodStore } from '../src/domain/stale-store.ts';

// The gateway app in process on a free loopback port, in front of fake departures replicas (real
// HTTP servers on loopback) whose answers each test sets.

const ADMIN = 'api-test-admin-token';
const STATIONS = ['WHP', 'LTN', 'STP', 'BDM', 'SAC', 'HPD', 'BFR', 'LBG', 'KTN', 'ZFD', 'MIL', 'RDT'];
const CATALOG: Catalog = {
  stations: STATIONS.map((crs) => ({ crs, name: `Station ${crs}` })),
  routes: [],
  defaultRoute: { from: 'WHP', to: 'LTN' },
};
const catalog: CatalogSource = { catalog: async () => CATALOG };

type Mode =
  | { kind: 'ok' }
  | { kind: 'invalid'; body: unknown }
  | { kind: 'budget'; retryAfter: number }
  | { kind: 'banned'; retryAfter: number };

interface FakeReplica {
  url: string;
  /** What the gateway calls it (DEPARTURES_URLS without names: departures-a, departures-b). */
  name: string;
  mode: Mode;
  boards: number;
  /** The age and fetch time its boards are sent with (default: fetched now, age 0). */
  age?: number;
  fetchedAt?: string;
  server: Server;
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type });
  res.end(JSON.stringify(body));
}

async function fakeReplica(): Promise<FakeReplica> {
  const replica = { mode: { kind: 'ok' }, boards: 0 } as FakeReplica;
  replica.server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://replica');
    if (url.pathname === '/readyz') return send(res, 200, { status: 'ready' });
    const crs = url.pathname.split('/')[2] ?? '';
    replica.boards += 1;
    const mode = replica.mode;
    if (mode.kind === 'invalid') return send(res, 200, mode.body);
    if (mode.kind === 'budget' || mode.kind === 'banned') {
      const reason = mode.kind === 'budget' ? 'budget_exhausted' : 'banned';
      return send(
        res,
        503,
        {
          type: `urn:failway:problem:board-unavailable-${reason}`,
          status: 503,
          reason,
          retry_after_seconds: mode.retryAfter,
          banned_until:
            mode.kind === 'banned' ? new Date(Date.now() + mode.retryAfter * 1000).toISOString() : null,
        },
        'application/problem+json',
      );
    }
    send(res, 200, {
      board: {
        generatedAt: new Date().toISOString(),
        locationName: `Station ${crs}`,
        crs,
        filtercrs: url.searchParams.get('to'),
        trainServices: [
          { std: '08:10', etd: 'On time' },
          { std: '08:25', etd: 'On time' },
          { std: '08:40', etd: 'Delayed' },
        ],
      },
      source: 'upstream',
      ageSeconds: replica.age ?? 0,
      fetchedAt: replica.fetchedAt ?? new Date().toISOString(),
    });
  });
  await new Promise<void>((resolve) => replica.server.listen(0, '127.0.0.1', resolve));
  replica.url = `http://127.0.0.1:${(replica.server.address() as AddressInfo).port}`;
  return replica;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(
  options: {
    rateLimitPerMinute?: number;
    newRoutesPerMinute?: number;
    replicas?: number;
    trustProxy?: string[];
  } = {},
) {
  const replicas = await Promise.all(Array.from({ length: options.replicas ?? 2 }, () => fakeReplica()));
  replicas.forEach((r, i) => {
    r.name = staticMemberName(i);
  });
  cleanups.push(async () => {
    for (const r of replicas) {
      r.server.closeAllConnections();
      await new Promise((resolve) => r.server.close(resolve));
    }
  });
  const runtime = createServiceRuntime('gateway', { LOG_LEVEL: 'error' });
  const pool = new DeparturesPool({
    members: replicas.map((r) => ({ name: r.name, url: r.url })),
    metrics: runtime.metrics,
    logger: runtime.logger,
    transport: httpTransport({
      metrics: runtime.metrics,
      timeoutMs: 2_000,
      connectTimeoutMs: 500,
      readyzTimeoutMs: 500,
    }),
    breaker: {
      errorThresholdPercentage: 50,
      volumeThreshold: 4,
      resetTimeoutMs: 5_000,
      rollingWindowMs: 10_000,
    },
    checkIntervalMs: 60_000,
    ejectSeconds: 10,
    failover: true,
  });
  cleanups.push(() => pool.stop());
  await pool.checkAll();
  const boards = new GatewayBoards(
    pool,
    new LastGoodStore({ maxEntries: 100, maxAgeSeconds: 3_600 }),
    createBoardsObserver(runtime.metrics),
    { failover: true, fallbackRetryAfterSeconds: 5, staleRetryWithinMs: 1_000 },
  );
  const apps = createApps({
    runtime,
    routes: catalog,
    boards,
    pool,
    rateLimitPerMinute: options.rateLimitPerMinute ?? 1_000,
    newRoutesPerClientPerMinute: options.newRoutesPerMinute ?? 1_000,
    adminToken: ADMIN,
    trustProxy: options.trustProxy ?? [],
  });
  const listen = async (app: typeof apps.public) => {
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const base = await listen(apps.public);
  const ops = await listen(apps.ops);
  const byUrl = (url: string) => replicas.find((r) => r.url === url) as FakeReplica;
  return {
    base,
    ops,
    replicas,
    pool,
    /** The fake replica that owns the route, then the next-ranked one. */
    ranked: (from: string, to: string) => pool.rank(`${from}>${to}`).map((m) => byUrl(m.url)),
    board: (from: string, to: string) => fetch(`${base}/api/departures?from=${from}&to=${to}&rows=3`),
    metrics: async () => (await fetch(`${ops}/metrics`)).text(),
  };
}

const json = async (res: Response) => (await res.json()) as Record<string, unknown>;

describe('gateway API over HTTP', () => {
  it('when one client sends more than RATE_LIMIT_PER_MIN requests a minute, then 429 problem+json with Retry-After', async () => {
    const { base } = await start({ rateLimitPerMinute: 3 });
    for (let i = 0; i < 3; i++) expect((await fetch(`${base}/api/stations`)).status).toBe(200);
    const res = await fetch(`${base}/api/stations`);
    expect(res.status).toBe(429);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await json(res)).toMatchObject({
      status: 429,
      detail: expect.stringMatching(/more than 3 requests a minute/),
    });
  });

  it('when one client asks for more new routes a minute than the cap, then 429 says why, while routes served before still answer', async () => {
    const { board, base, metrics } = await start({ newRoutesPerMinute: 2 });
    expect((await board('WHP', 'LTN')).status).toBe(200);
    expect((await board('WHP', 'STP')).status).toBe(200);
    const limited = await board('WHP', 'BDM');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('content-type')).toContain('application/problem+json');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const body = await json(limited);
    expect(body).toMatchObject({ status: 429, type: 'urn:failway:problem:new-routes-rate-limited' });
    expect(body.detail).toMatch(/^more than 2 new routes a minute from this address: WHP to BDM/);
    expect(body.retry_after_seconds).toBe(retryAfter);
    // The RateLimit headers stay those of the overall limit.
    expect(limited.headers.get('ratelimit-policy')).toMatch(/q=1000/);

    // Known routes are not counted, however often; bad input is still a 400, not a 429.
    for (let i = 0; i < 5; i++) expect((await board('WHP', 'LTN')).status).toBe(200);
    expect((await board('WHP', 'STP')).status).toBe(200);
    expect((await board('WHP', 'XXX')).status).toBe(400);
    expect((await fetch(`${base}/api/departures?from=WHP`)).status).toBe(400);
    expect(metricValue(await metrics(), 'gateway_new_route_limited_total')).toBe(1);
  });

  it('when the same route is asked again and again, then its owner serves it every time; other routes spread over both replicas', async () => {
    const { board, replicas, ranked } = await start();
    const [owner] = ranked('STP', 'BDM');
    const servedBy = new Set<string>();
    for (let i = 0; i < 6; i++) servedBy.add(String((await json(await board('STP', 'BDM'))).servedBy));
    expect([...servedBy]).toEqual([owner?.name]);
    for (const from of STATIONS.slice(2)) await board(from, 'WHP');
    expect(replicas.every((r) => r.boards > 0)).toBe(true);
  });

  it('when the same board is asked again at another age or for other rows, then the answer says so (bodies are kept per age and rows)', async () => {
    const { board, ranked } = await start();
    const [owner] = ranked('WHP', 'LTN');
    if (!owner) throw new Error('no owner');
    owner.fetchedAt = '2026-03-11T08:00:00.000Z';
    owner.age = 0;
    expect(await json(await board('WHP', 'LTN'))).toMatchObject({
      ageSeconds: 0,
      fetchedAt: owner.fetchedAt,
    });
    owner.age = 7;
    const older = await board('WHP', 'LTN');
    expect(older.headers.get('age')).toBe('7');
    const olderBody = await json(older);
    expect(olderBody).toMatchObject({ ageSeconds: 7, fetchedAt: owner.fetchedAt });
    expect((olderBody.board as { trainServices: unknown[] }).trainServices).toHaveLength(3);
    const fewer = await fetch(`${older.url.replace('rows=3', 'rows=1')}`);
    expect(((await json(fewer)).board as { trainServices: unknown[] }).trainServices).toHaveLength(1);
  });

  it('when the owner answers 200 with something that is not a board, then the next replica serves and the owner is ejected', async () => {
    const { board, ranked, ops, metrics } = await start();
    const [owner, next] = ranked('WHP', 'SAC') as [FakeReplica, FakeReplica];
    owner.mode = { kind: 'invalid', body: { board: { crs: 'WHP' }, source: 'upstream' } };
    const res = await board('WHP', 'SAC');
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ stale: false, servedBy: next.name });
    const members = (await json(
      await fetch(`${ops}/admin/upstreams`, { headers: { authorization: `Bearer ${ADMIN}` } }),
    )) as { members: { url: string; state: string; lastError: string }[] };
    expect(members.members.find((m) => m.url === owner.url)).toMatchObject({
      state: 'ejected',
      lastError: 'invalid_answer',
    });
    const text = await metrics();
    expect(metricValue(text, 'gateway_member_ejections_total', { reason: 'invalid_answer' })).toBe(1);
    expect(metricValue(text, 'gateway_affinity_misses_total', { reason: 'failed' })).toBe(1);
    expect(metricValue(text, 'gateway_retries_total')).toBe(1);
  });

  it('when the owner is out of upstream budget, then the next replica serves, and nobody is ejected', async () => {
    const { board, ranked, metrics } = await start();
    const [owner, next] = ranked('HPD', 'BFR') as [FakeReplica, FakeReplica];
    owner.mode = { kind: 'budget', retryAfter: 2 };
    expect(await json(await board('HPD', 'BFR'))).toMatchObject({ servedBy: next.name });
    const text = await metrics();
    expect(metricValue(text, 'gateway_affinity_misses_total', { reason: 'budget_exhausted' })).toBe(1);
    expect(metricValue(text, 'gateway_member_ejections_total')).toBeUndefined();
    expect(metricValue(text, 'gateway_pool_members', { state: 'ready' })).toBe(2);
  });

  it('when every replica is out of upstream budget and no board is kept, then 503 upstream-budget-exhausted with the soonest Retry-After', async () => {
    const { board, replicas, metrics } = await start();
    (replicas[0] as FakeReplica).mode = { kind: 'budget', retryAfter: 7 };
    (replicas[1] as FakeReplica).mode = { kind: 'budget', retryAfter: 3 };
    const res = await board('LBG', 'KTN');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('3');
    const body = await json(res);
    expect(body).toMatchObject({
      type: 'urn:failway:problem:upstream-budget-exhausted',
      retry_after_seconds: 3,
    });
    expect(body.detail).toMatch(/call budget.*try again in 3 seconds/);
    expect(replicas.map((r) => r.boards)).toEqual([1, 1]);
    expect(metricValue(await metrics(), 'gateway_pool_members', { state: 'ready' })).toBe(2);
  });
});

describe('ops endpoints off the public port', () => {
  it('when /metrics and /admin/upstreams are asked on the public port, then 404; on the ops port, 200; health on both', async () => {
    const { base, ops } = await start();
    const admin = { headers: { authorization: `Bearer ${ADMIN}` } };
    const publicMetrics = await fetch(`${base}/metrics`);
    expect(publicMetrics.status).toBe(404);
    expect(publicMetrics.headers.get('content-type')).toContain('application/problem+json');
    expect((await fetch(`${base}/admin/upstreams`, admin)).status).toBe(404);
    const metrics = await fetch(`${ops}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('gateway_pool_members');
    const upstreams = await fetch(`${ops}/admin/upstreams`, admin);
    expect(upstreams.status).toBe(200);
    expect(((await json(upstreams)).members as { name: string }[]).map((m) => m.name).sort()).toEqual([
      'departures-a',
      'departures-b',
    ]);
    expect((await fetch(`${ops}/admin/upstreams`)).status).toBe(401);
    for (const url of [base, ops]) expect((await fetch(`${url}/healthz`)).status).toBe(200);
    // One readiness (here not started: serve() marks it), the same on both ports.
    const readyz = await Promise.all([base, ops].map(async (url) => (await fetch(`${url}/readyz`)).status));
    expect(readyz[0]).toBe(readyz[1]);
    // The API and the board page are not on the ops port.
    expect((await fetch(`${ops}/api/stations`)).status).toBe(404);
  });

  it('when anything is asked on the public port, then the answer carries the page policy headers, errors included', async () => {
    const { base } = await start();
    for (const path of ['/api/departures?from=WHP&to=LTN', '/api/departures?from=XXX', '/nowhere', '/']) {
      const res = await fetch(`${base}${path}`);
      await res.arrayBuffer();
      expect({ path, csp: res.headers.get('content-security-policy') }).toEqual({
        path,
        csp: expect.stringContaining("frame-ancestors 'none'"),
      });
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });

  it('when a board is served, then it names the replica by its opaque name, never an address', async () => {
    const { board } = await start();
    const body = await json(await board('WHP', 'LTN'));
    expect(body.servedBy).toMatch(/^departures-[ab]$/);
  });
});

// Real requests from distinct loopback source addresses (Linux routes all of 127/8 to lo).
const SOURCES = ['127.0.0.2', '127.0.0.3', '127.0.0.4'] as const;
const canBind = (address: string) =>
  new Promise<boolean>((resolve) => {
    const server = createTcpServer();
    server.once('error', () => resolve(false));
    server.listen(0, address, () => server.close(() => resolve(true)));
  });
const bindable = (await Promise.all(SOURCES.map(canBind))).every(Boolean);

describe.skipIf(!bindable)('client addresses behind TRUST_PROXY', () => {
  const agents: Agent[] = [];
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.close();
  });
  /** GET `url` from `source`, with `headers`; the status. */
  const from = async (source: string, url: string, headers: Record<string, string> = {}) => {
    const dispatcher = new Agent({ localAddress: source });
    agents.push(dispatcher);
    const res = await request(url, { headers, dispatcher });
    await res.body.dump();
    return res.statusCode;
  };

  it('when no proxy is trusted (the default), then a client that invents a new X-Forwarded-For for every request is still limited by its own address, and other addresses are not', async () => {
    const { base } = await start({ rateLimitPerMinute: 3 });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push(
        await from('127.0.0.2', `${base}/api/stations`, { 'x-forwarded-for': `198.51.100.${i}` }),
      );
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(await from('127.0.0.3', `${base}/api/stations`)).toBe(200);
  });

  it('when the ingress is trusted by CIDR, then its clients are told apart by X-Forwarded-For, a spoofed entry in front of the one the ingress appended changes nothing, and an untrusted peer cannot pose as the ingress', async () => {
    const { base } = await start({ rateLimitPerMinute: 3, trustProxy: ['127.0.0.2/32'] });
    // Through the ingress (127.0.0.2): each client its own budget, keyed by the address the
    // ingress appended, whatever the client put before it.
    const spoofed: number[] = [];
    for (let i = 0; i < 5; i++) {
      spoofed.push(
        await from('127.0.0.2', `${base}/api/stations`, {
          'x-forwarded-for': `198.51.100.${i}, 203.0.113.7`,
        }),
      );
    }
    expect(spoofed).toEqual([200, 200, 200, 429, 429]);
    expect(await from('127.0.0.2', `${base}/api/stations`, { 'x-forwarded-for': '203.0.113.8' })).toBe(200);
    // A peer that is not the ingress: its X-Forwarded-For is not believed at all.
    const direct: number[] = [];
    for (let i = 0; i < 5; i++)
      direct.push(
        await from('127.0.0.4', `${base}/api/stations`, { 'x-forwarded-for': `203.0.113.${50 + i}` }),
      );
    expect(direct).toEqual([200, 200, 200, 429, 429]);
  });
});
