import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppError, createMetrics, type Logger } from '@failway/telemetry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RouteConfigClient } from '../../src/adapters/route-config.ts';

const T0 = Date.parse('2026-03-11T08:00:00.000Z');
const TIMEOUT_MS = 300;

/**
 * route-config on loopback: answers the catalog, or (hung) accepts every request and never
 * answers it. Counts the requests that arrive.
 */
async function fakeRouteConfig() {
  const state = { hung: false, broken: false, version: 1, requests: [] as string[] };
  const server: Server = createServer((req, res) => {
    state.requests.push(req.url ?? '');
    if (state.hung) return; // accepted, never answered
    res.setHeader('content-type', 'application/json');
    if (state.broken) {
      res.end(JSON.stringify({ stations: 'none' }));
    } else if (req.url === '/stations') {
      res.end(JSON.stringify({ stations: [{ crs: 'WHP', name: `West Hampstead v${state.version}` }] }));
    } else {
      res.end(JSON.stringify({ routes: [], defaultRoute: { from: 'WHP', to: 'LTN' } }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    state,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const logger = { info: () => undefined, warn: () => undefined, error: () => undefined } as unknown as Logger;

let routeConfig: Awaited<ReturnType<typeof fakeRouteConfig>>;
let client: RouteConfigClient;
const clock = { now: T0 };

beforeEach(async () => {
  clock.now = T0;
  routeConfig = await fakeRouteConfig();
  client = new RouteConfigClient({
    baseUrl: routeConfig.url,
    ttlSeconds: 30,
    metrics: createMetrics('gateway'),
    logger,
    timeoutMs: TIMEOUT_MS,
    retryMinMs: 1_000,
    retryMaxMs: 4_000,
    clock: () => clock.now,
  });
});

afterEach(async () => {
  await client.close();
  await routeConfig.close();
});

/** Waits (real time, bounded) until the background refresh has ended. */
async function refreshEnded(): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS * 10;
  while (client.refreshing && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(client.refreshing).toBe(false);
}

/** Waits (real time, bounded) until route-config has seen `count` requests, then checks no more came. */
async function requestsReach(count: number): Promise<void> {
  const deadline = Date.now() + 1_000;
  while (routeConfig.state.requests.length < count && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 30));
  expect(routeConfig.state.requests).toHaveLength(count);
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

describe('RouteConfigClient', () => {
  it('when route-config hangs after the first catalog, then requests are answered at once from it while one background refresh runs, retried with backoff', async () => {
    const first = await client.catalog();
    expect(first.stations[0]?.name).toBe('West Hampstead v1');
    await requestsReach(2);

    // Fresh: no request at all.
    clock.now += 29_000;
    await client.catalog();
    await requestsReach(2);

    // Older than the TTL, route-config hung: 20 requests, each answered at once, one refresh.
    routeConfig.state.hung = true;
    clock.now += 2_000;
    const { value: answers, ms } = await timed(() =>
      Promise.all(Array.from({ length: 20 }, () => client.catalog())),
    );
    expect(ms).toBeLessThan(TIMEOUT_MS / 2);
    expect(answers.every((a) => a === first)).toBe(true);
    expect(client.refreshing).toBe(true);
    for (let i = 0; i < 20; i++) {
      const one = await timed(() => client.catalog());
      expect(one.ms).toBeLessThan(TIMEOUT_MS / 2);
    }
    await requestsReach(4); // /stations and /routes, once

    // The refresh times out; the next one waits 1 s, then 2 s, then 4 s (the max), on the clock.
    await refreshEnded();
    for (const waitMs of [1_000, 2_000, 4_000, 4_000]) {
      const before = routeConfig.state.requests.length;
      clock.now += waitMs - 1;
      await client.catalog();
      expect(client.refreshing, `no refresh ${waitMs - 1} ms after a failure`).toBe(false);
      clock.now += 1;
      expect(await client.catalog()).toBe(first);
      expect(client.refreshing).toBe(true);
      await requestsReach(before + 2);
      await refreshEnded();
    }

    // route-config answers again: the next refresh brings the new catalog.
    routeConfig.state.hung = false;
    routeConfig.state.version = 2;
    clock.now += 4_000;
    expect(await client.catalog()).toBe(first);
    await refreshEnded();
    expect((await client.catalog()).stations[0]?.name).toBe('West Hampstead v2');
    // ...and the backoff is reset: fresh for the TTL, then refreshed at once when it expires.
    const requests = routeConfig.state.requests.length;
    clock.now += 29_999;
    await client.catalog();
    await requestsReach(requests);
    clock.now += 1;
    await client.catalog();
    await requestsReach(requests + 2);
  });

  it('when there is no catalog yet and route-config hangs, then the first requests wait for one shared fetch and get 503', async () => {
    routeConfig.state.hung = true;
    const { value: errors, ms } = await timed(() =>
      Promise.all(Array.from({ length: 5 }, () => client.catalog().catch((e: unknown) => e))),
    );
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    for (const e of errors) expect(e).toMatchObject({ status: 503, code: 'route-config-unavailable' });
    expect(errors[0]).toBeInstanceOf(AppError);
    await requestsReach(2);
  });

  it('when route-config answers something that is not a catalog, then that is a failed refresh and the last catalog stays', async () => {
    const first = await client.catalog();
    routeConfig.state.broken = true;
    clock.now += 31_000;
    expect(await client.catalog()).toBe(first);
    await refreshEnded();
    await requestsReach(4);
    expect(await client.catalog()).toBe(first);
    expect(client.refreshing).toBe(false); // backing off
  });
});
