import { describe, expect, it } from 'vitest';
import { type BoardsObserver, GatewayBoards, NoBoardError } from '../../src/domain/boards.ts';
import type { BoardQuery, Replica, ReplicaPool, ReplicaResult } from '../../src/domain/replicas.ts';
import { LastGoodStore } from '../../src/domain/stale-store.ts';

const T0 = Date.parse('2026-03-11T08:00:00.000Z');
const QUERY: BoardQuery = { from: 'WHP', to: 'LTN', rows: 3 };

interface FakeReplica extends Replica {
  /** What asking it gives, and how long (on the fake clock) the answer takes. */
  result: ReplicaResult;
  tookMs: number;
}

function answer(source: 'upstream' | 'stale', staleReason?: string): ReplicaResult {
  return {
    kind: 'answer',
    answer: {
      board: {
        crs: 'WHP',
        trainServices: [{ std: '08:10' }, { std: '08:20' }, { std: '08:30' }, { std: '08:40' }],
      },
      source,
      ageSeconds: source === 'stale' ? 120 : 0,
      fetchedAt: new Date(T0).toISOString(),
      ...(staleReason ? { staleReason } : {}),
    },
  };
}

/** Two replicas asked in order; the fake clock advances by each answer's time. */
function setup(a: Omit<FakeReplica, 'name'>, b: Omit<FakeReplica, 'name'>, failover = true) {
  const clock = { now: T0 };
  const replicas: FakeReplica[] = [
    { name: 'a', ...a },
    { name: 'b', ...b },
  ];
  const asked: string[] = [];
  const banned: string[] = [];
  const pool: ReplicaPool<FakeReplica> = {
    pick: (exclude) => replicas.find((r) => !exclude.has(r)),
    async ask(replica) {
      asked.push(replica.name);
      clock.now += replica.tookMs;
      return replica.result;
    },
    markBanned: (replica) => banned.push(replica.name),
    earliestBanEnd: () => undefined,
  };
  const observed = { retries: 0, stale: [] as string[] };
  const observer: BoardsObserver = {
    retried: () => {
      observed.retries += 1;
    },
    staleServed: (origin) => observed.stale.push(origin),
  };
  const store = new LastGoodStore({ maxEntries: 10, maxAgeSeconds: 3_600 });
  const boards = new GatewayBoards(
    pool,
    store,
    observer,
    { failover, fallbackRetryAfterSeconds: 5, staleRetryWithinMs: 1_000 },
    () => clock.now,
  );
  return { boards, asked, banned, observed, clock };
}

describe('GatewayBoards', () => {
  it('when the first replica answers fresh, then only it is asked and the board is trimmed to the rows asked', async () => {
    const { boards, asked } = setup(
      { result: answer('upstream'), tookMs: 20 },
      { result: answer('upstream'), tookMs: 20 },
    );
    const got = await boards.getBoard(QUERY);
    expect(asked).toEqual(['a']);
    expect(got).toMatchObject({ stale: false, servedBy: 'a' });
    expect((got as { board: { trainServices: unknown[] } }).board.trainServices).toHaveLength(3);
  });

  it('when a banned replica answers stale at once, then another replica is asked and its fresh board served', async () => {
    const { boards, asked, banned, observed } = setup(
      { result: answer('stale', 'banned'), tookMs: 5 },
      { result: answer('upstream'), tookMs: 20 },
    );
    expect(await boards.getBoard(QUERY)).toMatchObject({ stale: false, servedBy: 'b' });
    expect(asked).toEqual(['a', 'b']);
    expect(banned).toEqual(['a']);
    expect(observed.retries).toBe(1);
  });

  it('when a stale answer took longer than staleRetryWithinMs, then it is served without asking another replica', async () => {
    // The upstream is slow: the replica waited out its timeout and fell back to its cache.
    const { boards, asked, observed } = setup(
      { result: answer('stale', 'upstream_error'), tookMs: 2_000 },
      { result: answer('upstream'), tookMs: 2_000 },
    );
    expect(await boards.getBoard(QUERY)).toMatchObject({ stale: true, servedBy: 'a' });
    expect(asked).toEqual(['a']);
    expect(observed).toEqual({ retries: 0, stale: ['replica'] });
  });

  it('when the first replica fails, then another is asked however long the failure took', async () => {
    const { boards, asked } = setup(
      { result: { kind: 'failed', reason: 'timeout' }, tookMs: 3_000 },
      { result: answer('upstream'), tookMs: 20 },
    );
    expect(await boards.getBoard(QUERY)).toMatchObject({ stale: false, servedBy: 'b' });
    expect(asked).toEqual(['a', 'b']);
  });

  it('when every replica fails and nothing was ever served, then NoBoardError with a Retry-After', async () => {
    const failed: ReplicaResult = { kind: 'failed', reason: 'connection refused' };
    const { boards } = setup({ result: failed, tookMs: 1 }, { result: failed, tookMs: 1 });
    const error = await boards.getBoard(QUERY).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoBoardError);
    expect((error as NoBoardError).retryAfterSeconds).toBe(5);
  });

  it('when failover is off, then a banned replica is not retried (the control run)', async () => {
    const { boards, asked } = setup(
      { result: answer('stale', 'banned'), tookMs: 5 },
      { result: answer('upstream'), tookMs: 20 },
      false,
    );
    expect(await boards.getBoard(QUERY)).toMatchObject({ stale: true, servedBy: 'a' });
    expect(asked).toEqual(['a']);
  });
});
