import { describe, expect, it } from 'vitest';
import { type BoardsObserver, GatewayBoards, NoBoardError } from '../../src/domain/boards.ts';
import type {
  BoardQuery,
  Replica,
  ReplicaPool,
  ReplicaResult,
  SkipReason,
} from '../../src/domain/replicas.ts';
import { LastGoodStore } from '../../src/domain/stale-store.ts';

const T0 = Date.parse('2026-03-11T08:00:00.000Z');
const QUERY: BoardQuery = { from: 'WHP', to: 'LTN', rows: 3 };

interface FakeReplica extends Replica {
  /** What asking it gives, and how long (on the fake clock) the answer takes. */
  result: ReplicaResult;
  tookMs: number;
  /** Its state in the pool; only `undefined` (ready) replicas are picked. */
  out?: 'banned' | 'ejected' | 'down';
}
type Spec = Omit<FakeReplica, 'name'>;

function answer(source: 'upstream' | 'stale', staleReason?: string, ageSeconds?: number): ReplicaResult {
  return {
    kind: 'answer',
    answer: {
      board: {
        generatedAt: new Date(T0).toISOString(),
        locationName: 'West Hampstead Thameslink',
        crs: 'WHP',
        trainServices: [{ std: '08:10' }, { std: '08:20' }, { std: '08:30' }, { std: '08:40' }],
      },
      source,
      ageSeconds: ageSeconds ?? (source === 'stale' ? 120 : 0),
      fetchedAt: new Date(T0 - (ageSeconds ?? 0) * 1000).toISOString(),
      ...(staleReason ? { staleReason: staleReason as 'banned' } : {}),
    },
  };
}

const fresh = (tookMs = 20): Spec => ({ result: answer('upstream'), tookMs });
const failed = (reason = 'timeout', tookMs = 1): Spec => ({ result: { kind: 'failed', reason }, tookMs });
const outOfBudget = (retryAfterSeconds: number): Spec => ({
  result: { kind: 'unavailable', reason: 'budget_exhausted', retryAfterSeconds, bannedUntil: undefined },
  tookMs: 2,
});
const bannedAnswer = (bannedUntil: number): Spec => ({
  result: {
    kind: 'unavailable',
    reason: 'banned',
    retryAfterSeconds: (bannedUntil - T0) / 1000,
    bannedUntil,
  },
  tookMs: 2,
});

/**
 * Replicas ranked in the order given (the first is the route's owner); the fake clock advances by
 * each answer's time.
 */
function setup(specs: Spec[], options: { failover?: boolean; banEnd?: number } = {}) {
  const failover = options.failover ?? true;
  const clock = { now: T0 };
  const replicas: FakeReplica[] = specs.map((spec, i) => ({ name: 'abcdefgh'[i] as string, ...spec }));
  const asked: string[] = [];
  const banned: string[] = [];
  const pool: ReplicaPool<FakeReplica> = {
    pick: (key, exclude) => {
      expect(key).toBe('WHP>LTN');
      return replicas.find((r) => !exclude.has(r) && (!failover || r.out === undefined));
    },
    owner: () => replicas[0],
    unavailableBecause: (replica) => replica.out,
    size: () => replicas.length,
    async ask(replica) {
      asked.push(replica.name);
      clock.now += replica.tookMs;
      if (replica.result.kind === 'unavailable' && replica.result.reason === 'banned')
        banned.push(replica.name);
      return replica.result;
    },
    markBanned: (replica) => banned.push(replica.name),
    earliestBanEnd: () => options.banEnd,
  };
  const observed = { retries: 0, stale: [] as string[], misses: [] as SkipReason[] };
  const observer: BoardsObserver = {
    retried: () => {
      observed.retries += 1;
    },
    staleServed: (origin) => observed.stale.push(origin),
    affinityMiss: (reason) => observed.misses.push(reason),
  };
  const store = new LastGoodStore({ maxEntries: 10, maxAgeSeconds: 3_600 });
  const boards = new GatewayBoards(
    pool,
    store,
    observer,
    { failover, fallbackRetryAfterSeconds: 5, staleRetryWithinMs: 1_000 },
    () => clock.now,
  );
  return { boards, replicas, asked, banned, observed, clock };
}

async function noBoard(promise: Promise<unknown>): Promise<NoBoardError> {
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(NoBoardError);
  return error as NoBoardError;
}

describe('GatewayBoards', () => {
  it('when the owner answers fresh, then only it is asked, the board is trimmed to the rows asked and no affinity miss is counted', async () => {
    const { boards, asked, observed } = setup([fresh(), fresh()]);
    const got = await boards.getBoard(QUERY);
    expect(asked).toEqual(['a']);
    expect(got).toMatchObject({ stale: false, servedBy: 'a' });
    expect((got as { board: { trainServices: unknown[] } }).board.trainServices).toHaveLength(3);
    expect(observed).toEqual({ retries: 0, stale: [], misses: [] });
  });

  it('when a banned replica answers stale at once, then another replica is asked and its fresh board served', async () => {
    const { boards, asked, banned, observed } = setup([
      { result: answer('stale', 'banned'), tookMs: 5 },
      fresh(),
    ]);
    expect(await boards.getBoard(QUERY)).toMatchObject({ stale: false, servedBy: 'b' });
    expect(asked).toEqual(['a', 'b']);
    expect(banned).toEqual(['a']);
    expect(observed.retries).toBe(1);
    expect(observed.misses).toEqual(['banned']);
  });

  it('when a stale answer took longer than staleRetryWithinMs, then it is served without asking another replica', async () => {
    // The upstream is slow: the replica waited out its timeout and fell back to its cache.
    const { boards, asked, observed } = setup([
      { result: answer('stale', 'upstream_error'), tookMs: 2_000 },
      { result: answer('upstream'), tookMs: 2_000 },
    ]);
    expect(await boards.getBoard(QUERY)).toMatchObject({ stale: true, servedBy: 'a' });
    expect(asked).toEqual(['a']);
    expect(observed).toEqual({ retries: 0, stale: ['replica'], misses: [] });
  });

  it('when every replica answers stale at once, then the youngest stale answer is served', async () => {
    const { boards, asked, observed } = setup([
      { result: answer('stale', 'banned', 300), tookMs: 5 },
      { result: answer('stale', 'budget_exhausted', 40), tookMs: 5 },
      { result: answer('stale', 'upstream_error', 90), tookMs: 5 },
    ]);
    expect(await boards.getBoard(QUERY)).toMatchObject({ stale: true, servedBy: 'b', ageSeconds: 40 });
    expect(asked).toEqual(['a', 'b', 'c']);
    expect(observed.stale).toEqual(['replica']);
    expect(observed.misses).toEqual(['banned']);
  });

  it('when the owner fails, then the next-ranked replica is asked however long the failure took', async () => {
    const { boards, asked, observed } = setup([failed('timeout', 3_000), fresh()]);
    expect(await boards.getBoard(QUERY)).toMatchObject({ stale: false, servedBy: 'b' });
    expect(asked).toEqual(['a', 'b']);
    expect(observed.misses).toEqual(['failed']);
  });

  it('when replicas keep failing, then one request makes at most one retry after them', async () => {
    const { boards, asked } = setup([failed(), failed(), fresh(), fresh()]);
    const error = await noBoard(boards.getBoard(QUERY));
    expect(asked).toEqual(['a', 'b']);
    expect(error.reason).toBe('unavailable');
    expect(error.retryAfterSeconds).toBe(5);
  });

  it('when the owner is out of upstream budget, then the next-ranked replica serves the route', async () => {
    const { boards, asked, observed } = setup([outOfBudget(2), fresh()]);
    expect(await boards.getBoard(QUERY)).toMatchObject({ stale: false, servedBy: 'b' });
    expect(asked).toEqual(['a', 'b']);
    expect(observed.misses).toEqual(['budget_exhausted']);
  });

  it('when budgets and bans keep replicas from answering, then every replica is asked once, more than two in all', async () => {
    const { boards, asked } = setup([outOfBudget(2), bannedAnswer(T0 + 60_000), outOfBudget(4), fresh()]);
    expect(await boards.getBoard(QUERY)).toMatchObject({ servedBy: 'd' });
    expect(asked).toEqual(['a', 'b', 'c', 'd']);
  });

  it('when every replica is out of budget and no board is kept, then NoBoardError says so with the soonest Retry-After', async () => {
    const { boards, asked } = setup([outOfBudget(7), outOfBudget(3), outOfBudget(9)]);
    const error = await noBoard(boards.getBoard(QUERY));
    expect(asked).toEqual(['a', 'b', 'c']);
    expect(error.reason).toBe('budget_exhausted');
    expect(error.allBanned).toBe(false);
    expect(error.retryAfterSeconds).toBe(3);
  });

  it("when every replica is out of budget but the route was served before, then the gateway's own last good board is served", async () => {
    const { boards, replicas, observed } = setup([fresh(), fresh()]);
    await boards.getBoard(QUERY);
    for (const r of replicas) Object.assign(r, outOfBudget(3));
    const got = await boards.getBoard(QUERY);
    expect(got).toMatchObject({
      stale: true,
      source: 'stale',
      servedBy: 'gateway',
      staleReason: 'replicas_unavailable',
    });
    expect(observed.stale).toEqual(['gateway']);
  });

  it("when every replica is out and the route was served before, then the gateway's own last good board is served with its age", async () => {
    const { boards, replicas, clock } = setup([fresh(), fresh()]);
    await boards.getBoard(QUERY);
    clock.now += 90_000;
    for (const r of replicas) r.out = 'down';
    const got = await boards.getBoard(QUERY);
    expect(got).toMatchObject({ stale: true, servedBy: 'gateway', ageSeconds: 90 });
    expect((got as { board: { trainServices: unknown[] } }).board.trainServices).toHaveLength(3);
  });

  it('when a replica rejects the request (4xx), then its answer is passed through and no other replica is asked', async () => {
    const problem = { status: 400, detail: 'to: must differ' };
    const { boards, asked } = setup([
      { result: { kind: 'rejected', status: 400, body: problem }, tookMs: 1 },
      fresh(),
    ]);
    expect(await boards.getBoard(QUERY)).toEqual({ rejected: { status: 400, body: problem } });
    expect(asked).toEqual(['a']);
  });

  it('when every replica is banned and nothing is kept, then NoBoardError carries the end of the earliest ban', async () => {
    const { boards, replicas } = setup([fresh(), fresh()], { banEnd: T0 + 240_000 });
    for (const r of replicas) r.out = 'banned';
    const error = await noBoard(boards.getBoard(QUERY));
    expect(error.reason).toBe('banned');
    expect(error.allBanned).toBe(true);
    expect(error.retryAfterSeconds).toBe(240);
  });

  it('when the owner is ejected, then the next-ranked replica serves and the miss says why', async () => {
    const { boards, replicas, asked, observed } = setup([fresh(), fresh()]);
    (replicas[0] as FakeReplica).out = 'ejected';
    expect(await boards.getBoard(QUERY)).toMatchObject({ servedBy: 'b' });
    expect(asked).toEqual(['b']);
    expect(observed).toMatchObject({ retries: 0, misses: ['ejected'] });
  });

  it('when a route was served fresh, then the gateway knows it', async () => {
    const { boards } = setup([fresh()]);
    expect(boards.knows(QUERY)).toBe(false);
    await boards.getBoard(QUERY);
    expect(boards.knows(QUERY)).toBe(true);
    expect(boards.knows({ from: 'WHP', to: 'BDM' })).toBe(false);
  });

  it('when failover is off, then a banned replica is not retried (the control run)', async () => {
    const { boards, asked } = setup([{ result: answer('stale', 'banned'), tookMs: 5 }, fresh()], {
      failover: false,
    });
    expect(await boards.getBoard(QUERY)).toMatchObject({ stale: true, servedBy: 'a' });
    expect(asked).toEqual(['a']);
  });

  it('when failover is off and the replica fails, then there is no retry and no last good board', async () => {
    const { boards, replicas, asked } = setup([fresh(), fresh()], { failover: false });
    await boards.getBoard(QUERY);
    for (const r of replicas) Object.assign(r, failed());
    await noBoard(boards.getBoard(QUERY));
    expect(asked).toEqual(['a', 'a']);
  });
});
