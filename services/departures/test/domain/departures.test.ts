import { describe, expect, it } from 'vitest';
import type { BanState, UpstreamResponse } from '../../src/domain/ban.ts';
import {
  type BoardAnswer,
  type BoardSource,
  BoardUnavailableError,
  type DeparturesObserver,
  type DeparturesOptions,
  DeparturesService,
  type ProbeOutcome,
  type RailApi,
  type RefreshAheadOutcome,
  type RequestKind,
  type UpstreamCallOutcome,
} from '../../src/domain/departures.ts';

const T0 = Date.parse('2026-03-11T08:00:00.000Z');

type ApiQuery = Parameters<RailApi['getDepartureBoard']>[0];
type Reply = (query: ApiQuery) => UpstreamResponse | Promise<UpstreamResponse>;

/** A RailApi that records its calls and answers with whatever `reply` says. */
class FakeRailApi implements RailApi {
  readonly calls: ApiQuery[] = [];
  reply: Reply = (query) => boardResponse(query.crs);

  async getDepartureBoard(query: ApiQuery): Promise<UpstreamResponse> {
    this.calls.push(query);
    return this.reply(query);
  }
}

class RecordingObserver implements DeparturesObserver {
  readonly lookups: string[] = [];
  readonly upstream: { outcome: UpstreamCallOutcome; detail: string }[] = [];
  readonly bansStarted: { ban: BanState; announced: boolean }[] = [];
  readonly bansEnded: BanState[] = [];
  budgetExhaustedCount = 0;
  readonly budgetExhaustedKinds: RequestKind[] = [];
  readonly refreshes: RefreshAheadOutcome[] = [];
  readonly probes: ProbeOutcome[] = [];
  coalescedCount = 0;
  readonly servedLog: { source: BoardSource; ageSeconds: number }[] = [];

  cacheLookup(result: 'hit' | 'miss' | 'stale'): void {
    this.lookups.push(result);
  }
  upstreamCall(outcome: UpstreamCallOutcome, detail: string): void {
    this.upstream.push({ outcome, detail });
  }
  banStarted(ban: BanState, announced: boolean): void {
    this.bansStarted.push({ ban: { ...ban }, announced });
  }
  banEnded(ban: BanState): void {
    this.bansEnded.push({ ...ban });
  }
  budgetExhausted(kind: RequestKind): void {
    this.budgetExhaustedCount += 1;
    this.budgetExhaustedKinds.push(kind);
  }
  refreshAhead(outcome: RefreshAheadOutcome): void {
    this.refreshes.push(outcome);
  }
  banProbe(outcome: ProbeOutcome): void {
    this.probes.push(outcome);
  }
  coalesced(): void {
    this.coalescedCount += 1;
  }
  served(source: BoardSource, ageSeconds: number): void {
    this.servedLog.push({ source, ageSeconds });
  }
}

function boardResponse(crs = 'WHP', services = 2): UpstreamResponse {
  const trainServices = Array.from({ length: services }, (_, i) => ({
    std: `08:${String(10 + i).padStart(2, '0')}`,
    etd: 'On time',
    platform: String(i + 1),
    destination: [{ locationName: 'Bedford', crs: 'BDM' }],
  }));
  return {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      generatedAt: '2026-03-11T08:00:00Z',
      locationName: crs === 'WHP' ? 'West Hampstead Thameslink' : `Station ${crs}`,
      crs,
      trainServices: services === 0 ? null : trainServices,
    }),
  };
}

function banned429(retryAfterSeconds: number): UpstreamResponse {
  return {
    status: 429,
    headers: { 'retry-after': String(retryAfterSeconds), 'content-type': 'application/json' },
    body: JSON.stringify({ error: 'ip_banned', retryAfterSeconds }),
  };
}

const defaults: DeparturesOptions = {
  cacheTtlSeconds: 30,
  staleMaxAgeSeconds: 600,
  cacheMaxEntries: 100,
  budgetCapacity: 100,
  budgetPerMinute: 600,
  assumedBanSeconds: 300,
  maxBanSeconds: 7_200,
  detectSilentBans: true,
  upstreamRows: 20,
  errorRetryAfterSeconds: 5,
  banProbeIntervalSeconds: 0,
  refreshAhead: true,
  refreshAheadShare: 0.3,
  refreshAheadRecentSeconds: 120,
};

function setup(options: Partial<DeparturesOptions> = {}) {
  const api = new FakeRailApi();
  const observer = new RecordingObserver();
  const clock = { now: T0 };
  const service = new DeparturesService(api, observer, { ...defaults, ...options }, () => clock.now);
  return { api, observer, clock, service };
}

async function unavailable(promise: Promise<BoardAnswer>): Promise<BoardUnavailableError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BoardUnavailableError) return error;
    throw error;
  }
  throw new Error('expected BoardUnavailableError, got a board');
}

/** Lets queued promise callbacks and I/O run, so concurrent callers all reach their await points. */
/** Makes the fake upstream hold every reply until the returned function is called. */
function holdReplies(api: FakeRailApi): () => void {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  api.reply = async (query) => {
    await gate;
    return boardResponse(query.crs);
  };
  return release;
}

function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('DeparturesService', () => {
  it('when a route is asked for the first time, then the board comes from the upstream', async () => {
    const { api, observer, service } = setup();
    const answer = await service.getBoard({ crs: 'WHP', rows: 10 });
    expect(answer.source).toBe('upstream');
    expect(answer.ageSeconds).toBe(0);
    expect(answer.fetchedAt).toBe('2026-03-11T08:00:00.000Z');
    expect(answer.staleReason).toBeUndefined();
    expect(answer.board.locationName).toBe('West Hampstead Thameslink');
    expect(answer.board.trainServices).toHaveLength(2);
    expect(api.calls).toEqual([{ crs: 'WHP', filterCrs: undefined, numRows: 20 }]);
    expect(observer.lookups).toEqual(['miss']);
    expect(observer.upstream).toEqual([{ outcome: 'success', detail: 'board' }]);
    expect(observer.servedLog).toEqual([{ source: 'upstream', ageSeconds: 0 }]);
  });

  it('when asked again within the TTL, then the board comes from the cache without an upstream call', async () => {
    const { api, observer, clock, service } = setup();
    await service.getBoard({ crs: 'WHP', rows: 10 });
    clock.now = T0 + 12_000;
    const answer = await service.getBoard({ crs: 'WHP', rows: 10 });
    expect(answer.source).toBe('cache');
    expect(answer.ageSeconds).toBe(12);
    expect(answer.fetchedAt).toBe('2026-03-11T08:00:00.000Z');
    expect(api.calls).toHaveLength(1);
    expect(observer.lookups).toEqual(['miss', 'hit']);
  });

  it('when fewer rows are asked than the upstream gave, then trainServices is trimmed to `rows`', async () => {
    const { service } = setup();
    const first = await service.getBoard({ crs: 'WHP', rows: 1 });
    expect(first.board.trainServices).toHaveLength(1);
    // The cached board keeps all rows for callers that want more.
    const second = await service.getBoard({ crs: 'WHP', rows: 5 });
    expect(second.source).toBe('cache');
    expect(second.board.trainServices).toHaveLength(2);
  });

  it('when a destination filter is given, then it is passed on and cached under its own key', async () => {
    const { api, service } = setup();
    await service.getBoard({ crs: 'WHP', to: 'STP', rows: 3 });
    const unfiltered = await service.getBoard({ crs: 'WHP', rows: 3 });
    expect(unfiltered.source).toBe('upstream');
    expect(api.calls).toEqual([
      { crs: 'WHP', filterCrs: 'STP', numRows: 20 },
      { crs: 'WHP', filterCrs: undefined, numRows: 20 },
    ]);
  });

  describe('when the upstream bans this replica', () => {
    it('then a board answering a call sent before the ban does not end the ban', async () => {
      const { api, observer, clock, service } = setup();
      // Call 1 (route WHP) is sent and held; meanwhile call 2 (route SAC) is answered with a ban;
      // then call 1's board arrives. It was sent before the ban, so it says nothing about it.
      let release: (r: UpstreamResponse) => void = () => {};
      api.reply = () => new Promise((resolve) => (release = resolve));
      const slow = service.getBoard({ crs: 'WHP', rows: 10 });
      await settle();
      clock.now = T0 + 100;
      api.reply = () => banned429(60);
      await unavailable(service.getBoard({ crs: 'SAC', rows: 10 }));
      clock.now = T0 + 200;
      release(boardResponse('WHP'));
      expect((await slow).source).toBe('upstream');

      expect(service.ban()).toEqual({ style: 'http-429', since: T0 + 100, until: T0 + 60_100 });
      expect(observer.bansStarted).toHaveLength(1);
      expect(observer.bansEnded).toHaveLength(0);
    });

    it('then stale boards are served, the upstream is left alone until the ban ends, and a probe ends it', async () => {
      const { api, observer, clock, service } = setup();
      await service.getBoard({ crs: 'WHP', rows: 10 });

      // After the TTL, the refresh is answered with a ban.
      clock.now = T0 + 40_000;
      api.reply = () => banned429(60);
      const during = await service.getBoard({ crs: 'WHP', rows: 10 });
      expect(during.source).toBe('stale');
      expect(during.staleReason).toBe('banned');
      expect(during.ageSeconds).toBe(40);
      expect(during.board.trainServices).toHaveLength(2);
      expect(api.calls).toHaveLength(2);
      expect(service.ban()).toEqual({ style: 'http-429', since: T0 + 40_000, until: T0 + 100_000 });
      expect(observer.upstream.at(-1)).toEqual({ outcome: 'banned', detail: 'http-429' });
      expect(observer.bansStarted).toEqual([
        { ban: { style: 'http-429', since: T0 + 40_000, until: T0 + 100_000 }, announced: true },
      ]);

      // During the ban: stale from cache, no upstream call, no second ban start.
      clock.now = T0 + 70_000;
      const again = await service.getBoard({ crs: 'WHP', rows: 10 });
      expect(again).toMatchObject({ source: 'stale', staleReason: 'banned', ageSeconds: 70 });
      clock.now = T0 + 99_999;
      await service.getBoard({ crs: 'WHP', rows: 10 });
      expect(api.calls).toHaveLength(2);
      expect(observer.bansStarted).toHaveLength(1);
      expect(observer.bansEnded).toHaveLength(0);

      // At `until` the ban is over: the next request probes the upstream once and gets a board.
      clock.now = T0 + 100_000;
      expect(service.ban()).toBeUndefined();
      api.reply = (query) => boardResponse(query.crs);
      const after = await service.getBoard({ crs: 'WHP', rows: 10 });
      expect(after.source).toBe('upstream');
      expect(after.ageSeconds).toBe(0);
      expect(api.calls).toHaveLength(3);
      expect(service.ban()).toBeUndefined();
      expect(observer.bansEnded).toEqual([{ style: 'http-429', since: T0 + 40_000, until: T0 + 100_000 }]);

      // And the fresh board is cached again.
      clock.now = T0 + 110_000;
      expect((await service.getBoard({ crs: 'WHP', rows: 10 })).source).toBe('cache');
      expect(api.calls).toHaveLength(3);
    });

    it('then a route never seen before fails with reason banned and the remaining ban as retry-after', async () => {
      const { api, clock, service } = setup();
      api.reply = () => banned429(60);
      await unavailable(service.getBoard({ crs: 'WHP', rows: 10 }));
      expect(api.calls).toHaveLength(1);

      clock.now = T0 + 15_000;
      const error = await unavailable(service.getBoard({ crs: 'KGX', rows: 10 }));
      expect(error.reason).toBe('banned');
      expect(error.retryAfterSeconds).toBe(45);
      expect(error.bannedUntil).toBe(T0 + 60_000);
      expect(api.calls).toHaveLength(1);
    });

    it('then the retry-after is rounded up to whole seconds', async () => {
      const { api, clock, service } = setup();
      api.reply = () => banned429(60);
      await unavailable(service.getBoard({ crs: 'WHP', rows: 10 }));
      clock.now = T0 + 15_400;
      const error = await unavailable(service.getBoard({ crs: 'KGX', rows: 10 }));
      expect(error.retryAfterSeconds).toBe(45);
    });

    it('then a probe that is banned again starts a new ban with a new expiry', async () => {
      const { api, observer, clock, service } = setup();
      api.reply = () => banned429(60);
      await unavailable(service.getBoard({ crs: 'WHP', rows: 10 }));
      clock.now = T0 + 60_000;
      api.reply = () => banned429(120);
      const error = await unavailable(service.getBoard({ crs: 'WHP', rows: 10 }));
      expect(error.reason).toBe('banned');
      expect(error.bannedUntil).toBe(T0 + 180_000);
      expect(api.calls).toHaveLength(2);
      expect(service.ban()).toEqual({ style: 'http-429', since: T0 + 60_000, until: T0 + 180_000 });
      // The first ban was never ended by a board, so no banEnded; the re-ban counts as a new ban.
      expect(observer.bansStarted.map((b) => b.ban.until)).toEqual([T0 + 60_000, T0 + 180_000]);
      expect(observer.bansEnded).toEqual([]);
    });

    it('then an empty board where there were trains is taken as a silent ban', async () => {
      const { api, observer, clock, service } = setup();
      await service.getBoard({ crs: 'WHP', rows: 10 });
      clock.now = T0 + 31_000;
      api.reply = (query) => boardResponse(query.crs, 0);
      const answer = await service.getBoard({ crs: 'WHP', rows: 10 });
      expect(answer).toMatchObject({ source: 'stale', staleReason: 'banned' });
      expect(answer.board.trainServices).toHaveLength(2);
      expect(service.ban()).toEqual({ style: 'silent-empty', since: T0 + 31_000, until: T0 + 331_000 });
      expect(observer.bansStarted).toEqual([
        { ban: { style: 'silent-empty', since: T0 + 31_000, until: T0 + 331_000 }, announced: false },
      ]);
    });
  });

  it('when 20 callers ask for a new route at once, then one upstream call serves them all (19 coalesced)', async () => {
    const { api, observer, service } = setup();
    const release = holdReplies(api);
    const answers = Array.from({ length: 20 }, () => service.getBoard({ crs: 'WHP', rows: 1 }));
    for (let i = 0; i < 5; i += 1) await settle();
    expect(api.calls).toHaveLength(1);
    release();
    const results = await Promise.all(answers);
    expect(api.calls).toHaveLength(1);
    expect(observer.coalescedCount).toBe(19);
    for (const answer of results) {
      expect(answer.source).toBe('upstream');
      expect(answer.board.trainServices).toHaveLength(1);
    }
  });

  it('when the call budget is spent, then a new route fails with budget_exhausted and no upstream call', async () => {
    const { api, observer, service } = setup({ budgetCapacity: 2, budgetPerMinute: 0.001 });
    expect((await service.getBoard({ crs: 'WHP', rows: 5 })).source).toBe('upstream');
    expect((await service.getBoard({ crs: 'KGX', rows: 5 })).source).toBe('upstream');
    const error = await unavailable(service.getBoard({ crs: 'STP', rows: 5 }));
    expect(error.reason).toBe('budget_exhausted');
    expect(error.retryAfterSeconds).toBeGreaterThan(60);
    expect(api.calls.map((c) => c.crs)).toEqual(['WHP', 'KGX']);
    expect(observer.budgetExhaustedCount).toBe(1);
    // Cached routes are still served without spending budget.
    expect((await service.getBoard({ crs: 'WHP', rows: 5 })).source).toBe('cache');
  });

  it('when the budget is spent and a stale board exists, then the stale board is served', async () => {
    const { api, clock, service } = setup({ budgetCapacity: 1, budgetPerMinute: 0.001 });
    await service.getBoard({ crs: 'WHP', rows: 5 });
    clock.now = T0 + 45_000;
    const answer = await service.getBoard({ crs: 'WHP', rows: 5 });
    expect(answer).toMatchObject({ source: 'stale', staleReason: 'budget_exhausted', ageSeconds: 45 });
    expect(api.calls).toHaveLength(1);
  });

  it('when the only board is older than staleMaxAgeSeconds, then it is not served and the call fails', async () => {
    const { api, clock, service } = setup();
    await service.getBoard({ crs: 'WHP', rows: 5 });
    clock.now = T0 + 20_000;
    api.reply = () => banned429(3_600);
    // A 20 s old board is within the TTL: no upstream call yet.
    expect((await service.getBoard({ crs: 'WHP', rows: 5 })).source).toBe('cache');
    clock.now = T0 + 40_000;
    expect((await service.getBoard({ crs: 'WHP', rows: 5 })).source).toBe('stale');
    clock.now = T0 + 601_000;
    const error = await unavailable(service.getBoard({ crs: 'WHP', rows: 5 }));
    expect(error.reason).toBe('banned');
    expect(error.retryAfterSeconds).toBe(3_600 - 561);
  });

  it('when the board ages past staleMaxAgeSeconds while the upstream call runs, then it is not served', async () => {
    const { api, clock, service } = setup();
    await service.getBoard({ crs: 'WHP', rows: 5 });
    clock.now = T0 + 590_000;
    api.reply = () => {
      clock.now = T0 + 605_000;
      throw Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' });
    };
    const error = await unavailable(service.getBoard({ crs: 'WHP', rows: 5 }));
    expect(error.reason).toBe('upstream_error');
    expect(error.retryAfterSeconds).toBe(5);
  });

  it('when the upstream times out and a stale board exists, then it is served as stale upstream_error', async () => {
    const { api, observer, clock, service } = setup();
    await service.getBoard({ crs: 'WHP', rows: 5 });
    clock.now = T0 + 45_000;
    api.reply = () => {
      throw Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' });
    };
    const answer = await service.getBoard({ crs: 'WHP', rows: 5 });
    expect(answer).toMatchObject({ source: 'stale', staleReason: 'upstream_error', ageSeconds: 45 });
    expect(observer.upstream.at(-1)).toEqual({
      outcome: 'timeout',
      detail: 'The operation was aborted due to timeout',
    });
    expect(service.ban()).toBeUndefined();
    // An error is not a ban: the next request asks the upstream again.
    api.reply = (query) => boardResponse(query.crs);
    expect((await service.getBoard({ crs: 'WHP', rows: 5 })).source).toBe('upstream');
    expect(api.calls).toHaveLength(3);
  });

  it('when the upstream fails on a route with no board, then it throws upstream_error with errorRetryAfterSeconds', async () => {
    const { api, observer, service } = setup({ errorRetryAfterSeconds: 7 });
    api.reply = () => ({ status: 500, headers: {}, body: 'Internal Server Error' });
    const error = await unavailable(service.getBoard({ crs: 'WHP', rows: 5 }));
    expect(error.reason).toBe('upstream_error');
    expect(error.retryAfterSeconds).toBe(7);
    expect(observer.upstream).toEqual([{ outcome: 'error', detail: 'status_500' }]);
    expect(service.ban()).toBeUndefined();
  });

  it('when the upstream connection fails, then the observer records an error, not a timeout', async () => {
    const { api, observer, service } = setup();
    api.reply = () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    };
    const error = await unavailable(service.getBoard({ crs: 'WHP', rows: 5 }));
    expect(error.reason).toBe('upstream_error');
    expect(observer.upstream).toEqual([{ outcome: 'error', detail: 'connect ECONNREFUSED' }]);
  });

  it('when banned and the probe interval has passed, then one probe asks the upstream and ends a ban lifted early', async () => {
    const { api, clock, observer, service } = setup({ banProbeIntervalSeconds: 60 });
    api.reply = () => banned429(3_600);
    await unavailable(service.getBoard({ crs: 'WHP', to: 'LTN', rows: 10 }));
    expect(service.ban()).toBeDefined();
    expect(await service.probeBan()).toBe('not-due');
    expect(api.calls).toHaveLength(1);

    clock.now += 61_000;
    expect(await service.probeBan()).toBe('still-banned');
    expect(api.calls).toHaveLength(2);
    expect(api.calls[1]).toMatchObject({ crs: 'WHP', filterCrs: 'LTN' });
    expect(await service.probeBan()).toBe('not-due');

    api.reply = (query) => boardResponse(query.crs);
    clock.now += 61_000;
    expect(await service.probeBan()).toBe('ban-over');
    expect(service.ban()).toBeUndefined();
    expect(observer.bansEnded).toHaveLength(1);
    expect(await service.probeBan()).toBe('not-banned');
    expect((await service.getBoard({ crs: 'WHP', to: 'LTN', rows: 10 })).source).toBe('cache');
  });

  it('when the probe interval is 0, then a ban is waited out without probing', async () => {
    const { api, clock, service } = setup({ banProbeIntervalSeconds: 0 });
    api.reply = () => banned429(3_600);
    await unavailable(service.getBoard({ crs: 'WHP', rows: 10 }));
    clock.now += 3_000_000;
    expect(await service.probeBan()).toBe('not-due');
    expect(api.calls).toHaveLength(1);
  });
});

function boardAt(generatedAt: string, trains: { std: string; etd: string }[] | null): UpstreamResponse {
  return {
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      generatedAt,
      locationName: 'West Hampstead Thameslink',
      crs: 'WHP',
      filtercrs: 'LTN',
      trainServices: trains,
    }),
  };
}

describe('silent bans that know the night', () => {
  it('when the board empties after the last train has left, then the empty board is served fresh and nobody is banned', async () => {
    const { api, observer, clock, service } = setup();
    api.reply = () =>
      boardAt('2026-03-12T00:20:00.0000000+00:00', [
        { std: '00:25', etd: 'On time' },
        { std: '00:30', etd: '00:33' },
      ]);
    expect((await service.getBoard({ crs: 'WHP', to: 'LTN', rows: 10 })).board.trainServices).toHaveLength(2);
    clock.now += 31_000;
    api.reply = () => boardAt('2026-03-12T00:40:00.0000000+00:00', null);
    const night = await service.getBoard({ crs: 'WHP', to: 'LTN', rows: 10 });
    expect(night).toMatchObject({ source: 'upstream', board: { trainServices: null } });
    expect(service.ban()).toBeUndefined();
    expect(observer.bansStarted).toEqual([]);
  });

  it('when the board empties while a delayed train is still expected, then it is a silent ban', async () => {
    const { api, clock, service } = setup();
    api.reply = () => boardAt('2026-03-12T00:20:00.0000000+00:00', [{ std: '00:30', etd: '00:45' }]);
    await service.getBoard({ crs: 'WHP', to: 'LTN', rows: 10 });
    clock.now += 31_000;
    api.reply = () => boardAt('2026-03-12T00:35:00.0000000+00:00', null);
    const answer = await service.getBoard({ crs: 'WHP', to: 'LTN', rows: 10 });
    expect(answer).toMatchObject({ source: 'stale', staleReason: 'banned' });
    expect(service.ban()?.style).toBe('silent-empty');
  });
});

describe('ban expiry the upstream cannot break', () => {
  const absurd = (headers: Record<string, string>): UpstreamResponse => ({
    status: 429,
    headers,
    body: '{"error":"ip_banned"}',
  });

  it('when the upstream announces an expiry beyond what a Date can hold, then the stale board is served and the ban lasts the assumed duration', async () => {
    const { api, clock, service } = setup();
    await service.getBoard({ crs: 'WHP', rows: 5 });
    clock.now = T0 + 40_000;
    api.reply = () => absurd({ 'x-ban-expires': '99999999999999' });
    const answer = await service.getBoard({ crs: 'WHP', rows: 5 });
    expect(answer).toMatchObject({ source: 'stale', staleReason: 'banned' });
    expect(service.ban()).toEqual({ style: 'http-429', since: T0 + 40_000, until: T0 + 340_000 });
    const unseen = await unavailable(service.getBoard({ crs: 'KGX', rows: 5 }));
    expect(unseen).toMatchObject({ reason: 'banned', retryAfterSeconds: 300, bannedUntil: T0 + 340_000 });
  });

  it('when the upstream announces a ban of years, then it lasts maxBanSeconds', async () => {
    const { api, service } = setup({ maxBanSeconds: 900 });
    api.reply = () => absurd({ 'retry-after': String(50 * 365 * 86_400) });
    const error = await unavailable(service.getBoard({ crs: 'WHP', rows: 5 }));
    expect(error).toMatchObject({ reason: 'banned', retryAfterSeconds: 900, bannedUntil: T0 + 900_000 });
  });
});

describe('demand-first budget', () => {
  /** Capacity 10 with no refill to speak of: every token taken stays taken within a test. */
  const tight = { budgetCapacity: 10, budgetPerMinute: 0.001 };

  it('when nothing is in demand, then cold routes may use the whole bucket', async () => {
    const { service, observer } = setup(tight);
    for (let i = 0; i < 10; i += 1)
      await service.getBoard({ crs: `A${String.fromCharCode(65 + i)}A`, rows: 1 });
    expect(service.budgetReserve()).toBe(0);
    const error = await unavailable(service.getBoard({ crs: 'ZZZ', rows: 1 }));
    expect(error.reason).toBe('budget_exhausted');
    expect(observer.budgetExhaustedKinds).toEqual(['cold']);
  });

  it('when routes are in demand, then cold routes stop at the reserve and the routes in demand still get tokens', async () => {
    const { api, clock, observer, service } = setup(tight);
    // Three routes asked twice: in demand (3 tokens spent, the second asks are cache hits).
    for (const crs of ['WHP', 'STP', 'LTN']) await service.getBoard({ crs, rows: 1 });
    for (const crs of ['WHP', 'STP', 'LTN']) await service.getBoard({ crs, rows: 1 });
    expect(service.budgetReserve()).toBe(3);
    // 7 tokens left: cold routes may take 4, leaving the reserve of 3.
    for (const crs of ['AAA', 'BBB', 'CCC', 'DDD']) await service.getBoard({ crs, rows: 1 });
    const cold = await unavailable(service.getBoard({ crs: 'EEE', rows: 1 }));
    expect(cold.reason).toBe('budget_exhausted');
    expect(cold.retryAfterSeconds).toBeGreaterThan(3_600);
    expect(observer.budgetExhaustedKinds).toEqual(['cold']);
    expect(service.budgetTokens()).toBeCloseTo(3, 3);
    // A route in demand whose board expired takes one of the reserved tokens.
    clock.now += 31_000;
    const calls = api.calls.length;
    expect((await service.getBoard({ crs: 'WHP', rows: 1 })).source).toBe('upstream');
    expect(api.calls).toHaveLength(calls + 1);
  });

  it('when a cold route with a stale board is held back by the reserve, then its stale board is served', async () => {
    const { clock, service } = setup({ ...tight, refreshAheadRecentSeconds: 30 });
    await service.getBoard({ crs: 'AAA', rows: 1 });
    clock.now = T0 + 20_000;
    for (const crs of ['WHP', 'STP', 'LTN']) await service.getBoard({ crs, rows: 1 });
    for (const crs of ['WHP', 'STP', 'LTN']) await service.getBoard({ crs, rows: 1 });
    for (const crs of ['BBB', 'CCC', 'DDD']) await service.getBoard({ crs, rows: 1 });
    expect(service.budgetTokens()).toBeCloseTo(3, 3);
    // AAA's only other ask was 31 s ago, so it is cold: the reserve keeps the last 3 tokens.
    clock.now = T0 + 31_000;
    const answer = await service.getBoard({ crs: 'AAA', rows: 1 });
    expect(answer).toMatchObject({ source: 'stale', staleReason: 'budget_exhausted', ageSeconds: 31 });
  });

  it('when the reserve is capped by the share, then many routes in demand hold back no more than share × capacity', async () => {
    const { service } = setup(tight);
    for (let round = 0; round < 2; round += 1)
      for (const crs of ['AAA', 'BBB', 'CCC', 'DDD', 'EEE']) await service.getBoard({ crs, rows: 1 });
    expect(service.budgetReserve()).toBe(3);
  });

  it('when routes stop being asked for, then they leave demand after refreshAheadRecentSeconds', async () => {
    const { clock, service } = setup(tight);
    await service.getBoard({ crs: 'WHP', rows: 1 });
    clock.now += 60_000;
    await service.getBoard({ crs: 'WHP', rows: 1 });
    expect(service.budgetReserve()).toBe(1);
    clock.now = T0 + 120_000;
    expect(service.budgetReserve()).toBe(1);
    clock.now = T0 + 120_001;
    expect(service.budgetReserve()).toBe(0);
  });

  it('when the boards of the routes in demand stay fresh beyond the refill horizon, then nothing is held back yet; as their renewals come due, the reserve grows', async () => {
    // 40/min refills the 3-token reserve in 4.5 s; the boards are due for renewal at 24 s (80 % of 30 s).
    const { clock, service } = setup({ budgetCapacity: 10, budgetPerMinute: 40 });
    for (let round = 0; round < 2; round += 1)
      for (const crs of ['WHP', 'STP', 'LTN']) await service.getBoard({ crs, rows: 1 });
    expect(service.budgetReserve()).toBe(0);
    // A cold route may take a token now: the routes in demand get theirs back by the time they need them.
    expect((await service.getBoard({ crs: 'AAA', rows: 1 })).source).toBe('upstream');
    clock.now = T0 + 19_400;
    expect(service.budgetReserve()).toBe(0);
    clock.now = T0 + 19_500;
    expect(service.budgetReserve()).toBe(3);
  });

  it('when refresh-ahead cannot run (TTL under 5 s), then a route in demand counts from the end of its TTL', async () => {
    // TTL 4 s, 4 tokens a minute: the 3-token reserve refills in 45 s, so any board kept counts.
    const { service } = setup({ cacheTtlSeconds: 4, budgetCapacity: 10, budgetPerMinute: 4 });
    await service.getBoard({ crs: 'WHP', rows: 1 });
    await service.getBoard({ crs: 'WHP', rows: 1 });
    expect(service.budgetReserve()).toBe(1);
    const fast = setup({ cacheTtlSeconds: 4, budgetCapacity: 10, budgetPerMinute: 600 });
    await fast.service.getBoard({ crs: 'WHP', rows: 1 });
    await fast.service.getBoard({ crs: 'WHP', rows: 1 });
    // 600/min refills the reserve in 0.3 s: the board (good for 4 s) does not count yet.
    expect(fast.service.budgetReserve()).toBe(0);
    // Due at 4 s (the next ask), not at 3.2 s (refresh-ahead's 80 %), since nothing renews it ahead.
    fast.clock.now = T0 + 3_000;
    expect(fast.service.budgetReserve()).toBe(0);
    fast.clock.now = T0 + 3_700;
    expect(fast.service.budgetReserve()).toBe(1);
  });

  it('when refresh-ahead is off, then there is no reserve: cold routes may use the whole bucket', async () => {
    const { service } = setup({ ...tight, refreshAhead: false });
    for (const crs of ['WHP', 'STP', 'LTN']) await service.getBoard({ crs, rows: 1 });
    for (const crs of ['WHP', 'STP', 'LTN']) await service.getBoard({ crs, rows: 1 });
    expect(service.budgetReserve()).toBe(0);
    for (const crs of ['AAA', 'BBB', 'CCC', 'DDD', 'EEE', 'FFF', 'GGG'])
      await service.getBoard({ crs, rows: 1 });
    expect((await unavailable(service.getBoard({ crs: 'HHH', rows: 1 }))).reason).toBe('budget_exhausted');
  });

  it('when a route in demand finds the bucket empty, then budget exhaustion is counted as demand', async () => {
    const { clock, observer, service } = setup({ budgetCapacity: 1, budgetPerMinute: 0.001 });
    await service.getBoard({ crs: 'WHP', rows: 1 });
    clock.now += 31_000;
    const answer = await service.getBoard({ crs: 'WHP', rows: 1 });
    expect(answer).toMatchObject({ source: 'stale', staleReason: 'budget_exhausted' });
    expect(observer.budgetExhaustedKinds).toEqual(['demand']);
  });
});

describe('refresh-ahead', () => {
  /** WHP asked twice at T0 (so in demand), its board fetched at T0. */
  async function inDemand(options: Partial<DeparturesOptions> = {}) {
    const ctx = setup(options);
    await ctx.service.getBoard({ crs: 'WHP', to: 'LTN', rows: 5 });
    await ctx.service.getBoard({ crs: 'WHP', to: 'LTN', rows: 5 });
    return ctx;
  }

  it('when a route in demand enters the last 20 % of its TTL, then it is renewed and the next asker gets a fresh board from the cache', async () => {
    const { api, clock, observer, service } = await inDemand();
    clock.now = T0 + 23_900;
    expect(await service.refreshAhead()).toEqual({ refreshed: 0, skipped_budget: 0, failed: 0 });
    expect(api.calls).toHaveLength(1);
    clock.now = T0 + 24_000;
    expect(await service.refreshAhead()).toEqual({ refreshed: 1, skipped_budget: 0, failed: 0 });
    expect(api.calls).toHaveLength(2);
    expect(api.calls[1]).toEqual({ crs: 'WHP', filterCrs: 'LTN', numRows: 20 });
    expect(observer.refreshes).toEqual(['refreshed']);
    // Renewed: nothing more to do until this board is due in turn.
    expect(await service.refreshAhead()).toEqual({ refreshed: 0, skipped_budget: 0, failed: 0 });
    clock.now = T0 + 31_000;
    const answer = await service.getBoard({ crs: 'WHP', to: 'LTN', rows: 5 });
    expect(answer).toMatchObject({ source: 'cache', ageSeconds: 7 });
    expect(api.calls).toHaveLength(2);
    // Served boards only: refresh-ahead is not a request.
    expect(observer.servedLog.map((s) => s.source)).toEqual(['upstream', 'cache', 'cache']);
  });

  it('when a route was asked for once only, then it is not renewed', async () => {
    const { api, clock, service } = setup();
    await service.getBoard({ crs: 'WHP', rows: 5 });
    clock.now = T0 + 29_000;
    await service.refreshAhead();
    expect(api.calls).toHaveLength(1);
  });

  it('when nobody asked for the route within refreshAheadRecentSeconds, then it is no longer renewed', async () => {
    const { api, clock, service } = await inDemand({ staleMaxAgeSeconds: 3_600 });
    clock.now = T0 + 24_000;
    await service.refreshAhead();
    clock.now = T0 + 48_000;
    await service.refreshAhead();
    expect(api.calls).toHaveLength(3);
    clock.now = T0 + 120_001;
    await service.refreshAhead();
    expect(api.calls).toHaveLength(3);
  });

  it('when the budget has no token, then the renewal is skipped (not queued, no upstream call, not counted as a refused request)', async () => {
    const { api, clock, observer, service } = await inDemand({ budgetCapacity: 1, budgetPerMinute: 0.001 });
    clock.now = T0 + 25_000;
    expect(await service.refreshAhead()).toEqual({ refreshed: 0, skipped_budget: 1, failed: 0 });
    expect(api.calls).toHaveLength(1);
    expect(observer.refreshes).toEqual(['skipped_budget']);
    expect(observer.budgetExhaustedCount).toBe(0);
  });

  it('when a renewal fails, then the board is kept and the route waits errorRetryAfterSeconds before the next try', async () => {
    const { api, clock, observer, service } = await inDemand({ errorRetryAfterSeconds: 5 });
    clock.now = T0 + 25_000;
    api.reply = () => ({ status: 500, headers: {}, body: 'oops' });
    expect(await service.refreshAhead()).toEqual({ refreshed: 0, skipped_budget: 0, failed: 1 });
    clock.now = T0 + 29_999;
    expect(await service.refreshAhead()).toEqual({ refreshed: 0, skipped_budget: 0, failed: 0 });
    expect(api.calls).toHaveLength(2);
    expect((await service.getBoard({ crs: 'WHP', to: 'LTN', rows: 5 })).source).toBe('cache');
    api.reply = (query) => boardResponse(query.crs);
    clock.now = T0 + 30_001;
    expect(await service.refreshAhead()).toEqual({ refreshed: 1, skipped_budget: 0, failed: 0 });
    expect(observer.refreshes).toEqual(['failed', 'refreshed']);
  });

  it('when banned, then nothing is renewed and the upstream is left alone', async () => {
    const { api, clock, service } = await inDemand();
    clock.now = T0 + 10_000;
    api.reply = () => banned429(600);
    await unavailable(service.getBoard({ crs: 'KGX', rows: 5 }));
    clock.now = T0 + 26_000;
    expect(await service.refreshAhead()).toEqual({ refreshed: 0, skipped_budget: 0, failed: 0 });
    expect(api.calls).toHaveLength(2);
  });

  it('when many routes are due at once, then a tick starts at most the reserve (3) of calls, oldest first, and none while they are in flight', async () => {
    const { api, clock, service } = setup({ budgetCapacity: 10, budgetPerMinute: 600 });
    const routes = ['AAA', 'BBB', 'CCC', 'DDD', 'EEE', 'FFF'];
    for (const [i, crs] of routes.entries()) {
      clock.now = T0 + i * 100;
      await service.getBoard({ crs, rows: 1 });
      await service.getBoard({ crs, rows: 1 });
    }
    const release = holdReplies(api);
    clock.now = T0 + 25_000;
    const first = service.refreshAhead();
    await settle();
    expect(api.calls.slice(6).map((c) => c.crs)).toEqual(['AAA', 'BBB', 'CCC']);
    expect(await service.refreshAhead()).toEqual({ refreshed: 0, skipped_budget: 0, failed: 0 });
    expect(api.calls).toHaveLength(9);
    release();
    expect(await first).toEqual({ refreshed: 3, skipped_budget: 0, failed: 0 });
    expect(await service.refreshAhead()).toEqual({ refreshed: 3, skipped_budget: 0, failed: 0 });
    expect(api.calls.slice(9).map((c) => c.crs)).toEqual(['DDD', 'EEE', 'FFF']);
  });

  it('when a request comes while the renewal is in flight, then it joins that call', async () => {
    const { api, clock, observer, service } = await inDemand();
    const release = holdReplies(api);
    clock.now = T0 + 31_000;
    const tick = service.refreshAhead();
    await settle();
    const asked = service.getBoard({ crs: 'WHP', to: 'LTN', rows: 5 });
    release();
    expect((await asked).source).toBe('upstream');
    await tick;
    expect(api.calls).toHaveLength(2);
    expect(observer.coalescedCount).toBe(1);
  });

  it('when the TTL is too short for a 1 s tick to land in its last 20 %, then refresh-ahead is inactive', async () => {
    expect(setup({ cacheTtlSeconds: 4 }).service.refreshAheadActive).toBe(false);
    expect(setup({ cacheTtlSeconds: 5 }).service.refreshAheadActive).toBe(true);
    expect(setup({ refreshAhead: false }).service.refreshAheadActive).toBe(false);
    const { api, clock, service } = await inDemand({ cacheTtlSeconds: 4 });
    clock.now = T0 + 3_500;
    await service.refreshAhead();
    expect(api.calls).toHaveLength(1);
  });

  it('when a renewal finds the night has come (empty board, all trains gone), then it stores the empty board', async () => {
    const { api, clock, service } = setup();
    api.reply = () => boardAt('2026-03-12T00:29:00.0000000+00:00', [{ std: '00:30', etd: 'On time' }]);
    await service.getBoard({ crs: 'WHP', to: 'LTN', rows: 5 });
    await service.getBoard({ crs: 'WHP', to: 'LTN', rows: 5 });
    clock.now = T0 + 25_000;
    api.reply = () => boardAt('2026-03-12T00:33:00.0000000+00:00', null);
    expect(await service.refreshAhead()).toEqual({ refreshed: 1, skipped_budget: 0, failed: 0 });
    expect(service.ban()).toBeUndefined();
    expect((await service.getBoard({ crs: 'WHP', to: 'LTN', rows: 5 })).board.trainServices).toBeNull();
  });
});

describe('ban probes say what they did', () => {
  it('when the budget has no token at probe time, then no call is made, the outcome is no-budget and the probe is retried once a token is back', async () => {
    // One token a minute; the ban-finding call spends the only one.
    const { api, clock, observer, service } = setup({
      budgetCapacity: 1,
      budgetPerMinute: 1,
      banProbeIntervalSeconds: 10,
    });
    api.reply = () => banned429(3_600);
    await unavailable(service.getBoard({ crs: 'WHP', rows: 5 }));
    clock.now = T0 + 11_000;
    expect(await service.probeBan()).toBe('no-budget');
    expect(api.calls).toHaveLength(1);
    expect(observer.probes).toEqual(['no-budget']);
    expect(service.ban()).toBeDefined();
    // The token is back 60 s after it was taken; not before.
    clock.now = T0 + 59_000;
    expect(await service.probeBan()).toBe('not-due');
    clock.now = T0 + 61_000;
    expect(await service.probeBan()).toBe('still-banned');
    expect(api.calls).toHaveLength(2);
    expect(observer.probes).toEqual(['no-budget', 'still-banned']);
  });

  it('when the probe call fails without a verdict, then the outcome is error and the ban stays', async () => {
    const { api, clock, observer, service } = setup({ banProbeIntervalSeconds: 10 });
    api.reply = () => banned429(3_600);
    await unavailable(service.getBoard({ crs: 'WHP', rows: 5 }));
    clock.now = T0 + 11_000;
    api.reply = () => ({ status: 500, headers: {}, body: 'oops' });
    expect(await service.probeBan()).toBe('error');
    expect(observer.probes).toEqual(['error']);
    expect(service.ban()).toBeDefined();
  });

  it('when the probe gets a board, then the outcome is ban-over', async () => {
    const { api, clock, observer, service } = setup({ banProbeIntervalSeconds: 10 });
    api.reply = () => banned429(3_600);
    await unavailable(service.getBoard({ crs: 'WHP', rows: 5 }));
    clock.now = T0 + 11_000;
    api.reply = (query) => boardResponse(query.crs);
    expect(await service.probeBan()).toBe('ban-over');
    expect(observer.probes).toEqual(['ban-over']);
    expect(service.ban()).toBeUndefined();
  });
});
