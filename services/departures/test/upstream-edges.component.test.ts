import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { metricValue, type ServiceProcess, startService, waitFor } from '@failway/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * What no real rail-sim can send: absurd ban expiries. A tiny fake upstream on loopback answers
 * each replica as its test says; every replica has its own fake, so their calls never mix.
 */
interface FakeUpstream {
  url: string;
  /** Board requests received. */
  readonly calls: number;
  /** Answers from now on: a board with trains, or a 429 with these headers. */
  answer(mode: { board: true } | { ban: Record<string, string> }): void;
  close(): Promise<void>;
}

function boardBody(): string {
  const inMinutes = (m: number) =>
    new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/London',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    }).format(new Date(Date.now() + m * 60_000));
  return JSON.stringify({
    generatedAt: new Date().toISOString(),
    locationName: 'West Hampstead Thameslink',
    crs: 'WHP',
    filtercrs: 'LTN',
    trainServices: [
      { std: inMinutes(10), etd: 'On time' },
      { std: inMinutes(25), etd: 'On time' },
    ],
  });
}

async function startFakeUpstream(): Promise<FakeUpstream> {
  let mode: { board: true } | { ban: Record<string, string> } = { board: true };
  let calls = 0;
  const server: Server = createServer((req, res) => {
    if (!req.url?.startsWith('/LDBWS/')) {
      res.writeHead(404).end();
      return;
    }
    calls += 1;
    if ('ban' in mode) {
      res.writeHead(429, { 'content-type': 'application/json', ...mode.ban }).end('{"error":"ip_banned"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(boardBody());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get calls() {
      return calls;
    },
    answer(next) {
      mode = next;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const started: { replica: ServiceProcess; upstream: FakeUpstream }[] = [];

async function replicaWithFake(env: Record<string, string>) {
  const upstream = await startFakeUpstream();
  const replica = await startService('departures', {
    UPSTREAM_URL: upstream.url,
    UPSTREAM_API_KEY: 'fake-key',
    ...env,
  });
  started.push({ replica, upstream });
  return { replica, upstream };
}

afterAll(async () => {
  for (const { replica, upstream } of started.splice(0)) {
    await replica.stop();
    await upstream.close();
  }
});

const get = (replica: ServiceProcess, path: string) =>
  fetch(`${replica.url}${path}`, { signal: AbortSignal.timeout(10_000) });

interface Answer {
  source: string;
  staleReason?: string;
  fetchedAt: string;
  board: { trainServices: unknown[] | null };
}

describe('ban expiries no upstream can break', () => {
  // Short TTL: the second ask of a route goes upstream once 1 s has passed.
  const env = {
    CACHE_TTL_S: '1',
    BAN_ASSUMED_DURATION_S: '120',
    BAN_MAX_S: '600',
    BAN_PROBE_INTERVAL_S: '0',
  };

  async function warmThenBan(ban: Record<string, string>) {
    const { replica, upstream } = await replicaWithFake(env);
    const warm = await get(replica, '/departures/WHP?to=LTN');
    expect(warm.status).toBe(200);
    const { fetchedAt } = (await warm.json()) as Answer;
    await waitFor(
      'the board to pass its TTL',
      () => (Date.now() - Date.parse(fetchedAt) > 1_200 ? true : undefined),
      { timeoutMs: 5_000, intervalMs: 50 },
    );
    upstream.answer({ ban });
    const stale = await get(replica, '/departures/WHP?to=LTN');
    return { replica, upstream, stale };
  }

  it.each([
    ['X-Ban-Expires beyond what a Date can hold', { 'x-ban-expires': '99999999999999' }],
    ['X-Ban-Expires as an out-of-range date', { 'x-ban-expires': '+275760-09-13T00:00:00.001Z' }],
    ['X-Ban-Expires in the past', { 'x-ban-expires': '2001-01-01T00:00:00Z' }],
    ['Retry-After not a number or date', { 'retry-after': 'whenever' }],
  ])(
    'when the 429 carries %s, then the stale board is served (not 500) and the ban lasts BAN_ASSUMED_DURATION_S',
    async (_label, ban) => {
      const { replica, upstream, stale } = await warmThenBan(ban);
      expect(stale.status).toBe(200);
      expect(await stale.json()).toMatchObject({ source: 'stale', staleReason: 'banned' });
      expect(upstream.calls).toBe(2);

      const ready = await get(replica, '/readyz');
      expect(ready.status).toBe(503);
      const until = Date.parse(((await ready.json()) as { until: string }).until);
      expect(until - Date.now()).toBeGreaterThan(100_000);
      expect(until - Date.now()).toBeLessThanOrEqual(120_000);

      const unseen = await get(replica, '/departures/SAC?to=LTN');
      expect(unseen.status).toBe(503);
      const problem = (await unseen.json()) as {
        reason: string;
        retry_after_seconds: number;
        banned_until: string;
      };
      expect(problem.reason).toBe('banned');
      expect(problem.retry_after_seconds).toBeLessThanOrEqual(120);
      expect(Date.parse(problem.banned_until)).toBe(until);

      const metrics = await get(replica, '/metrics');
      expect(metrics.status).toBe(200);
      expect(metricValue(await metrics.text(), 'departures_upstream_banned_until_seconds')).toBe(
        until / 1000,
      );
    },
  );

  it('when the 429 announces a ban of 30 years, then it lasts BAN_MAX_S', async () => {
    const { replica, stale } = await warmThenBan({ 'retry-after': String(30 * 365 * 86_400) });
    expect(stale.status).toBe(200);
    expect(await stale.json()).toMatchObject({ source: 'stale', staleReason: 'banned' });
    const ready = await get(replica, '/readyz');
    expect(ready.status).toBe(503);
    const until = Date.parse(((await ready.json()) as { until: string }).until);
    expect(until - Date.now()).toBeGreaterThan(590_000);
    expect(until - Date.now()).toBeLessThanOrEqual(600_000);
  });
});

describe('ban probes say what they did', () => {
  it('when a probe is due but the budget has no token, then the upstream is not called and the probe is counted and logged as no_budget', async () => {
    // One token, and the next one ten minutes away: the call that finds the ban spends it.
    const { replica, upstream } = await replicaWithFake({
      UPSTREAM_BUDGET_BURST: '1',
      UPSTREAM_BUDGET_PER_MIN: '0.1',
      BAN_PROBE_INTERVAL_S: '1',
    });
    upstream.answer({ ban: { 'retry-after': '3600' } });
    expect((await get(replica, '/departures/WHP?to=LTN')).status).toBe(503);
    const line = await waitFor('the no-budget probe log line', () =>
      replica.logs.find((l) => l.message.startsWith('ban probe skipped: no upstream budget token')),
    );
    expect(line).toMatchObject({ probe_outcome: 'no-budget', ban_style: 'http-429' });
    const metrics = await (await get(replica, '/metrics')).text();
    expect(
      metricValue(metrics, 'departures_ban_probes_total', { outcome: 'no_budget' }),
    ).toBeGreaterThanOrEqual(1);
    expect(metricValue(metrics, 'departures_ban_probes_total', { outcome: 'still_banned' })).toBe(0);
    expect(upstream.calls).toBe(1);
    expect(replica.logs.filter((l) => l.message.startsWith('probed the upstream'))).toEqual([]);
  });
});

describe('refresh-ahead', () => {
  let railSim: ServiceProcess;
  let replica: ServiceProcess;

  beforeAll(async () => {
    railSim = await startService('rail-sim', {
      RAIL_API_KEYS: 'refresh-key',
      LATENCY_MIN_MS: '0',
      LATENCY_MAX_MS: '5',
    });
    // TTL 10 s: boards are renewed once 8 s old, and the renewed board stays fresh for 10 s more.
    replica = await startService('departures', {
      UPSTREAM_URL: railSim.url,
      UPSTREAM_API_KEY: 'refresh-key',
      CACHE_TTL_S: '10',
    });
  });

  afterAll(async () => {
    await replica?.stop();
    await railSim?.stop();
  });

  it('when a route is asked for twice, then its board is renewed in the background before it expires and the next asker gets it from the cache', async () => {
    const first = (await (await get(replica, '/departures/WHP?to=LTN')).json()) as Answer;
    expect(first.source).toBe('upstream');
    expect(((await (await get(replica, '/departures/WHP?to=LTN')).json()) as Answer).source).toBe('cache');
    // Asked once only: never renewed.
    expect((await get(replica, '/departures/SAC?to=BDM')).status).toBe(200);
    const own = async () => (await get(replica, '/metrics')).text();
    // One route in demand: one token held back from cold routes once its renewal is near (the
    // bucket refills the 3-token reserve in 4.5 s; the renewal is due at 8 s).
    await waitFor(
      'a token held back for the route in demand',
      async () =>
        metricValue(await own(), 'departures_upstream_budget_reserve_tokens') === 1 ? true : undefined,
      { timeoutMs: 10_000, intervalMs: 200 },
    );

    await waitFor(
      'a refresh-ahead of the route',
      async () =>
        (metricValue(await own(), 'departures_refresh_ahead_total', { outcome: 'refreshed' }) ?? 0) >= 1
          ? true
          : undefined,
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    const renewed = (await (await get(replica, '/departures/WHP?to=LTN')).json()) as Answer;
    expect(renewed.source).toBe('cache');
    expect(Date.parse(renewed.fetchedAt) - Date.parse(first.fetchedAt)).toBeGreaterThanOrEqual(8_000);
    const metrics = await own();
    expect(metricValue(metrics, 'departures_refresh_ahead_total', { outcome: 'refreshed' })).toBe(1);
    expect(metricValue(metrics, 'departures_refresh_ahead_total', { outcome: 'failed' })).toBe(0);
    // Three upstream calls: the two first asks and the renewal of WHP→LTN, none for SAC→BDM.
    expect(metricValue(metrics, 'departures_upstream_requests_total', { outcome: 'success' })).toBe(3);
    expect(replica.logs.find((l) => l.message === 'departures ready')).toMatchObject({ refresh_ahead: 'on' });
  });
});
