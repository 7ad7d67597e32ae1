import type { ServiceProcess, Stack } from '@failway/stack';
import { waitFor } from '@failway/stack';
import { metricValue, simOffsetToLondonTime } from '@failway/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { railSimAdmin, startApp, upstreams } from './support.ts';

/**
 * After the last train of the day the rail API answers an empty board. That is not a silent ban:
 * the replicas must serve it as the fresh board it is and stay ready. The contrast: an empty board
 * while trains are still due (rail-sim's silent ban style) is a ban, and is detected.
 *
 * rail-sim starts at 23:50 London time, when WHP → LTN has trains until 00:52 (up to 30 minutes
 * late at worst); its clock is then moved to 01:50, when every one of them has left and the board
 * (two hours ahead) is empty until the first train after 05:00.
 */

const TTL_S = 1;

interface Answer {
  board: { generatedAt: string; trainServices: { std: string; etd?: string }[] | null };
  source: 'upstream' | 'cache' | 'stale';
  fetchedAt: string;
  staleReason?: string;
}

const EVENING = simOffsetToLondonTime(23, 50);
const NIGHT = simOffsetToLondonTime(1, 50);

let app: Awaited<ReturnType<typeof startApp>>;
let stack: Stack;

beforeAll(async () => {
  app = await startApp({
    'rail-sim': { SIM_TIME_OFFSET_MIN: String(EVENING) },
    departures: { CACHE_TTL_S: String(TTL_S) },
  });
  stack = app.stack;
});

afterAll(async () => {
  await app?.stop();
});

async function board(replica: ServiceProcess): Promise<{ status: number; body: Answer }> {
  const res = await fetch(`${replica.url}/departures/WHP?to=LTN`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as Answer };
}

const trains = (answer: Answer) => answer.board.trainServices ?? [];

/** Waits until a board fetched at `fetchedAt` is older than the TTL, so the next ask goes upstream. */
async function pastTtl(fetchedAt: string): Promise<void> {
  await waitFor(
    'the board to pass its TTL',
    () => (Date.now() - Date.parse(fetchedAt) > TTL_S * 1000 + 200 ? true : undefined),
    { timeoutMs: 5_000, intervalMs: 50 },
  );
}

/** All bans a replica counted, whatever their style. */
async function bansCounted(replica: ServiceProcess): Promise<number> {
  const text = await (await fetch(`${replica.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('departures_upstream_bans_total{'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

async function readyz(replica: ServiceProcess): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${replica.url}/readyz`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function setClock(offsetMinutes: number): Promise<void> {
  const res = await railSimAdmin(stack, '/admin/clock', 'PUT', { offsetMinutes });
  expect(res.status).toBe(200);
  const view = (await (await railSimAdmin(stack, '/admin/clock', 'GET')).json()) as { offsetMinutes: number };
  expect(view.offsetMinutes).toBe(offsetMinutes);
}

/** Minutes from the board's London time (`generatedAt` is local time) to a train's departure. */
function minutesAhead(generatedAt: string, train: { std: string; etd?: string }): number {
  const m = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));
  const due = /^\d\d:\d\d$/.test(train.etd ?? '') ? (train.etd as string) : train.std;
  return ((((m(due) - m(generatedAt.slice(11, 16))) % 1440) + 1440 + 720) % 1440) - 720;
}

describe('after the last train of the day', () => {
  it('when the board empties because every train has left, then it is served fresh, both replicas stay ready and no ban is counted', async () => {
    const before = new Map<ServiceProcess, { fetchedAt: string; bans: number }>();
    for (const replica of stack.departures) {
      const evening = await board(replica);
      expect(evening.status).toBe(200);
      expect(evening.body.source).toBe('upstream');
      expect(trains(evening.body).length).toBeGreaterThan(0);
      before.set(replica, { fetchedAt: evening.body.fetchedAt, bans: await bansCounted(replica) });
    }

    await setClock(NIGHT);
    for (const replica of stack.departures) {
      const seen = before.get(replica);
      if (!seen) throw new Error('no evening board');
      await pastTtl(seen.fetchedAt);
      const night = await board(replica);
      expect(night.status).toBe(200);
      expect(night.body.source).toBe('upstream');
      expect(night.body.staleReason).toBeUndefined();
      expect(trains(night.body)).toEqual([]);
      expect(night.body.board.generatedAt.slice(11, 13)).toBe('01');

      expect((await readyz(replica)).status).toBe(200);
      expect(await bansCounted(replica)).toBe(seen.bans);
      const metrics = await (await fetch(`${replica.url}/metrics`)).text();
      expect(metricValue(metrics, 'departures_upstream_banned')).toBe(0);
      expect(replica.logs.filter((l) => l.message.startsWith('upstream banned this replica'))).toEqual([]);
    }

    // Through the gateway too: an empty board, not stale, and both replicas still in the pool.
    const res = await fetch(`${stack.gateway.url}/api/departures?from=WHP&to=LTN`);
    expect(res.status).toBe(200);
    const answer = (await res.json()) as Answer & { stale: boolean };
    expect(answer.stale).toBe(false);
    expect(trains(answer)).toEqual([]);
    // The gateway's health checks (every 300 ms here) find both replicas ready.
    expect((await upstreams(stack)).map((m) => m.state)).toEqual(['ready', 'ready']);
    for (const replica of stack.departures) expect((await readyz(replica)).status).toBe(200);
  });

  it('when trains are still due and the rail API bans silently (an empty board), then the ban is detected', async () => {
    await setClock(EVENING);
    const [replica] = stack.departures;
    const address = stack.replicaAddresses[0] ?? '127.0.0.1';
    // The night's empty board expires within the TTL; the next one has the evening's trains again.
    const evening = await waitFor(
      'a fresh evening board with trains',
      async () => {
        const answer = await board(replica);
        return answer.status === 200 && answer.body.source !== 'stale' && trains(answer.body).length > 0
          ? answer.body
          : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    // The point of the contrast: a train on it is due well after the silent ban's empty board.
    expect(trains(evening).some((t) => minutesAhead(evening.board.generatedAt, t) >= 5)).toBe(true);
    const bansBefore = await bansCounted(replica);
    const silentBefore =
      metricValue(await (await fetch(`${replica.url}/metrics`)).text(), 'departures_upstream_bans_total', {
        style: 'silent-empty',
      }) ?? 0;

    try {
      expect((await railSimAdmin(stack, '/admin/faults', 'POST', { banStyle: 'silent' })).status).toBe(200);
      expect((await railSimAdmin(stack, '/admin/bans', 'POST', { ip: address, seconds: 300 })).status).toBe(
        201,
      );
      await pastTtl(evening.fetchedAt);
      const during = await board(replica);
      expect(during.status).toBe(200);
      expect(during.body).toMatchObject({ source: 'stale', staleReason: 'banned' });
      expect(trains(during.body).length).toBeGreaterThan(0);

      const ready = await readyz(replica);
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ status: 'banned', style: 'silent-empty' });
      expect(await bansCounted(replica)).toBe(bansBefore + 1);
      expect(
        metricValue(await (await fetch(`${replica.url}/metrics`)).text(), 'departures_upstream_bans_total', {
          style: 'silent-empty',
        }),
      ).toBe(silentBefore + 1);
    } finally {
      await railSimAdmin(stack, '/admin/bans', 'DELETE');
      await railSimAdmin(stack, '/admin/faults', 'DELETE');
    }
  });
});
