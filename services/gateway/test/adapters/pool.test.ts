import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMetrics, type HttpClient, type Logger } from '@failway/telemetry';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { dnsMemberName, type MemberAddress, staticMemberName } from '../../src/adapters/member-names.ts';
import {
  type BreakerOptions,
  DeparturesPool,
  httpTransport,
  type Member,
  type PoolTransport,
  rankByAffinity,
} from '../../src/adapters/pool.ts';
import type { BoardQuery } from '../../src/domain/replicas.ts';

const T0 = Date.parse('2026-03-11T08:00:00.000Z');
const QUERY: BoardQuery = { from: 'WHP', to: 'LTN', rows: 10 };
const URLS = ['http://10.0.0.1:8080', 'http://10.0.0.2:8080', 'http://10.0.0.3:8080'];
/** The members as DEPARTURES_URLS gives them when unnamed: departures-a, -b, -c. */
const named = (urls: readonly string[]): MemberAddress[] =>
  urls.map((url, i) => ({ name: staticMemberName(i), url }));

type Reply = { status: number; body: unknown } | Error;

const BOARD_ANSWER = {
  board: {
    generatedAt: '2026-03-11T08:00:00Z',
    locationName: 'West Hampstead Thameslink',
    crs: 'WHP',
    filtercrs: 'LTN',
    trainServices: [{ std: '08:10', etd: 'On time', operator: 'Thameslink' }],
    nrccMessages: null,
  },
  source: 'upstream',
  ageSeconds: 0,
  fetchedAt: '2026-03-11T08:00:00.000Z',
};
const ok: Reply = { status: 200, body: BOARD_ANSWER };
const unavailable = (reason: string, retryAfter: number, bannedUntil: string | null = null): Reply => ({
  status: 503,
  body: {
    type: `urn:failway:problem:board-unavailable-${reason}`,
    status: 503,
    reason,
    retry_after_seconds: retryAfter,
    banned_until: bannedUntil,
  },
});

/** A transport whose members answer what `boards` / `readyz` say for their URL, and counts calls. */
function fakeTransport() {
  const boards = new Map<string, Reply>();
  const readyz = new Map<string, Reply>();
  const calls: string[] = [];
  const closed: string[] = [];
  const transport: PoolTransport = {
    boardClient(url): HttpClient {
      return {
        async request(path) {
          calls.push(`${url}${path}`);
          const reply = boards.get(url) ?? ok;
          if (reply instanceof Error) throw reply;
          return { status: reply.status, headers: {}, body: JSON.stringify(reply.body) };
        },
        async close() {
          closed.push(url);
        },
      };
    },
    async readyz(url) {
      const reply = readyz.get(url) ?? { status: 200, body: { status: 'ready' } };
      if (reply instanceof Error) throw reply;
      return {
        status: reply.status,
        body: typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body),
      };
    },
    close: async () => undefined,
  };
  return { transport, boards, readyz, calls, closed };
}

function quietLogger() {
  const lines: { level: string; message: string; meta: unknown }[] = [];
  const log = (level: string) => (message: string, meta?: unknown) => {
    lines.push({ level, message, meta });
  };
  return {
    logger: { info: log('info'), warn: log('warn'), error: log('error') } as unknown as Logger,
    lines,
  };
}

const pools: DeparturesPool[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.stop();
});

function setup(
  options: {
    urls?: string[];
    failover?: boolean;
    breaker?: Partial<BreakerOptions>;
    ejectSeconds?: number;
  } = {},
) {
  const clock = { now: T0 };
  const fake = fakeTransport();
  const metrics = createMetrics('gateway');
  const { logger, lines } = quietLogger();
  const pool = new DeparturesPool({
    members: named(options.urls ?? URLS),
    metrics,
    logger,
    transport: fake.transport,
    breaker: {
      errorThresholdPercentage: 50,
      volumeThreshold: 1_000,
      resetTimeoutMs: 60_000,
      rollingWindowMs: 10_000,
      ...options.breaker,
    },
    checkIntervalMs: 60_000,
    ejectSeconds: options.ejectSeconds ?? 10,
    failover: options.failover ?? true,
    clock: () => clock.now,
  });
  pools.push(pool);
  const ejections = async () =>
    ((await metrics.registry.getSingleMetric('gateway_member_ejections_total')?.get())?.values ?? []).reduce(
      (sum, v) => sum + v.value,
      0,
    );
  return { pool, clock, ...fake, metrics, lines, ejections };
}

const byUrl = (pool: DeparturesPool, url: string) => pool.members.find((m) => m.url === url) as Member;
const keys = Array.from({ length: 1000 }, (_, i) => `R${String(i).padStart(4, '0')}>X${i % 37}`);
const owners = (members: string[]) =>
  new Map(keys.map((k) => [k, rankByAffinity(k, members, (m) => m)[0] as string]));

describe('route affinity (rendezvous hashing)', () => {
  it('when the same route is ranked again, or the members come in another order, then the ranking is the same', () => {
    const a = rankByAffinity('WHP>LTN', URLS, (m) => m);
    expect(rankByAffinity('WHP>LTN', URLS, (m) => m)).toEqual(a);
    expect(rankByAffinity('WHP>LTN', [...URLS].reverse(), (m) => m)).toEqual(a);
    expect([...a].sort()).toEqual([...URLS].sort());
  });

  it('when 1000 routes are spread over 3 members, then each owns about a third', () => {
    const counts = new Map<string, number>();
    for (const owner of owners(URLS).values()) counts.set(owner, (counts.get(owner) ?? 0) + 1);
    for (const url of URLS) expect(counts.get(url)).toBeGreaterThan(270);
    for (const url of URLS) expect(counts.get(url)).toBeLessThan(400);
  });

  it('when a fourth member joins, then about a quarter of the routes move, all to it, none between the others', () => {
    const before = owners(URLS);
    const joined = 'http://10.0.0.4:8080';
    const after = owners([...URLS, joined]);
    const moved = keys.filter((k) => before.get(k) !== after.get(k));
    expect(moved.length).toBeGreaterThan(180);
    expect(moved.length).toBeLessThan(320);
    for (const k of moved) expect(after.get(k)).toBe(joined);
  });

  it("when a member leaves, then only its routes move, each to the route's next-ranked member", () => {
    const before = new Map(keys.map((k) => [k, rankByAffinity(k, URLS, (m) => m)]));
    const [gone, ...rest] = URLS as [string, ...string[]];
    const after = owners(rest);
    for (const k of keys) {
      const ranked = before.get(k) as string[];
      if (ranked[0] === gone) expect(after.get(k)).toBe(ranked[1]);
      else expect(after.get(k)).toBe(ranked[0]);
    }
  });
});

describe('member names and affinity', () => {
  it('when members are named, then the pool still ranks by URL: other names (or none) give the same owners', () => {
    const { pool } = setup();
    const other = setup();
    other.pool.sync(URLS.map((url, i) => ({ name: `replica-${i}`, url })));
    for (const key of keys.slice(0, 200)) {
      const urls = pool.rank(key).map((m) => m.url);
      expect(urls).toEqual(rankByAffinity(key, URLS, (u) => u));
      expect(other.pool.rank(key).map((m) => m.url)).toEqual(urls);
    }
  });

  it('when members come from DEPARTURES_URLS or DNS, then their names are opaque and the same every time', () => {
    expect([0, 1, 25, 26].map(staticMemberName)).toEqual([
      'departures-a',
      'departures-b',
      'departures-z',
      'departures-27',
    ]);
    const name = dnsMemberName('http://10.244.1.7:8082');
    expect(name).toMatch(/^departures-[0-9a-f]{8}$/);
    expect(dnsMemberName('http://10.244.1.7:8082')).toBe(name);
    expect(dnsMemberName('http://10.244.1.8:8082')).not.toBe(name);
    const { pool } = setup();
    expect(pool.views().map((v) => (v as { name: string }).name)).toEqual([
      'departures-a',
      'departures-b',
      'departures-c',
    ]);
  });
});

describe('DeparturesPool.pick', () => {
  it("when every member is ready, then a route always goes to its owner, and excluding it gives the ranking's next", () => {
    const { pool } = setup();
    const ranked = pool.rank('WHP>LTN');
    expect(pool.owner('WHP>LTN')).toBe(ranked[0]);
    for (let i = 0; i < 5; i++) expect(pool.pick('WHP>LTN', new Set())).toBe(ranked[0]);
    expect(pool.pick('WHP>LTN', new Set([ranked[0] as Member]))).toBe(ranked[1]);
    expect(pool.pick('WHP>LTN', new Set(ranked.slice(0, 2)))).toBe(ranked[2]);
    expect(pool.pick('WHP>LTN', new Set(ranked))).toBeUndefined();
  });

  it('when the owner is banned, ejected or down, then the next-ranked eligible member is picked', async () => {
    const { pool, readyz } = setup();
    const [first, second, third] = pool.rank('STP>BDM') as [Member, Member, Member];
    readyz.set(first.url, { status: 503, body: { status: 'banned' } });
    pool.markBanned(first, undefined);
    expect(pool.unavailableBecause(first)).toBe('banned');
    expect(pool.pick('STP>BDM', new Set())).toBe(second);
    readyz.set(second.url, new Error('connect ECONNREFUSED'));
    await pool.checkAll();
    expect(pool.unavailableBecause(second)).toBe('down');
    expect(pool.pick('STP>BDM', new Set())).toBe(third);
  });

  it('when FAILOVER is off, then members take turns whatever the route and their state (the control run)', () => {
    const { pool } = setup({ failover: false });
    pool.markBanned(pool.members[0] as Member, undefined);
    const picked = Array.from({ length: 6 }, () => pool.pick('WHP>LTN', new Set())?.url);
    expect(new Set(picked).size).toBe(3);
    expect(picked.slice(0, 3).sort()).toEqual([...URLS].sort());
  });
});

describe('DeparturesPool.ask', () => {
  it('when a member answers a valid board, then it is the answer, with the fields the contract does not name passed through', async () => {
    const { pool, calls } = setup();
    const member = pool.members[0] as Member;
    const result = await pool.ask(member, QUERY);
    expect(result).toMatchObject({ kind: 'answer', answer: { source: 'upstream' } });
    if (result.kind !== 'answer') throw new Error('expected an answer');
    expect(result.answer.board.nrccMessages).toBeNull();
    expect(result.answer.board.trainServices?.[0]?.operator).toBe('Thameslink');
    expect(calls).toEqual([`${member.url}/departures/WHP?to=LTN&rows=10`]);
  });

  it('when a member tagged its answer, then the next request carries the tag and a 304 is that answer at the age the Age header gives', async () => {
    const { pool } = setup();
    const member = pool.members[0] as Member;
    const sent: (string | undefined)[] = [];
    const replies = [
      { status: 200, headers: { etag: '"a1-upstream"', age: '0' }, body: JSON.stringify(BOARD_ANSWER) },
      { status: 304, headers: { etag: '"a1-upstream"', age: '7' }, body: '' },
    ];
    Object.assign(member, {
      client: {
        async request(_path: string, init?: { headers?: Record<string, string> }) {
          sent.push(init?.headers?.['if-none-match']);
          return replies.shift() ?? { status: 500, headers: {}, body: '' };
        },
        close: async () => undefined,
      } satisfies HttpClient,
    });
    const first = await pool.ask(member, QUERY);
    const second = await pool.ask(member, QUERY);
    expect(sent).toEqual([undefined, '"a1-upstream"']);
    expect(first).toMatchObject({ kind: 'answer', answer: { source: 'upstream', ageSeconds: 0 } });
    expect(second).toMatchObject({ kind: 'answer', answer: { source: 'upstream', ageSeconds: 7 } });
    if (second.kind !== 'answer' || first.kind !== 'answer') throw new Error('expected answers');
    expect(second.answer.board).toEqual(first.answer.board);
  });

  it('when a member answers 304 to a request that carried no tag, then that is a failure, not an empty board', async () => {
    const { pool, boards } = setup();
    const member = pool.members[0] as Member;
    boards.set(member.url, { status: 304, body: '' });
    expect(await pool.ask(member, QUERY)).toMatchObject({ kind: 'failed', reason: 'status_304' });
  });

  it('when a member fails, then it is ejected for EJECT_S and back once that has passed', async () => {
    const { pool, boards, clock, ejections } = setup({ ejectSeconds: 10 });
    const member = pool.members[0] as Member;
    boards.set(member.url, new Error('socket hang up'));
    expect(await pool.ask(member, QUERY)).toMatchObject({ kind: 'failed', reason: 'connection_error' });
    expect(member.state(clock.now)).toBe('ejected');
    expect(pool.unavailableBecause(member)).toBe('ejected');
    expect(await ejections()).toBe(1);
    clock.now += 9_999;
    expect(member.state(clock.now)).toBe('ejected');
    clock.now += 2;
    expect(member.state(clock.now)).toBe('ready');
  });

  it('when a member times out, then the reason says timeout', async () => {
    const { pool, boards } = setup();
    const member = pool.members[0] as Member;
    boards.set(member.url, Object.assign(new Error('aborted'), { name: 'TimeoutError' }));
    expect(await pool.ask(member, QUERY)).toMatchObject({ kind: 'failed', reason: 'timeout' });
  });

  it('when a member fails often enough, then its circuit opens and it is not called until the reset timeout', async () => {
    const { pool, boards, calls, clock } = setup({
      breaker: { volumeThreshold: 4, errorThresholdPercentage: 50, resetTimeoutMs: 100 },
      ejectSeconds: 1,
    });
    const member = pool.members[0] as Member;
    boards.set(member.url, { status: 500, body: 'oops' });
    for (let i = 0; i < 3; i++) {
      expect(await pool.ask(member, QUERY)).toMatchObject({ kind: 'failed', reason: 'status_500' });
      expect(member.circuit()).toBe('closed');
    }
    await pool.ask(member, QUERY);
    expect(member.circuit()).toBe('open');
    clock.now += 60_000; // the ejection is over; the open circuit alone keeps it out
    expect(member.state(clock.now)).toBe('ejected');
    const callsBefore = calls.length;
    expect(await pool.ask(member, QUERY)).toMatchObject({ kind: 'failed', reason: 'circuit_open' });
    expect(calls.length).toBe(callsBefore);
    // Half-open after the reset timeout (real time, opossum's timer): one good call closes it.
    boards.set(member.url, ok);
    const deadline = Date.now() + 2_000;
    while (member.circuit() !== 'half-open' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(member.circuit()).toBe('half-open');
    expect(await pool.ask(member, QUERY)).toMatchObject({ kind: 'answer' });
    expect(member.circuit()).toBe('closed');
  });

  it("when a member fails now and then among many good calls, then each failure is counted without sorting the window's latencies", async () => {
    const { pool, boards } = setup({ breaker: { volumeThreshold: 10, errorThresholdPercentage: 50 } });
    const member = pool.members[0] as Member;
    boards.set(member.url, ok);
    for (let i = 0; i < 500; i++) await pool.ask(member, QUERY);
    boards.set(member.url, { status: 500, body: 'oops' });
    // opossum's defaults keep every call's latency and sort them all on each failure (percentiles):
    // at the gateway's throughput, milliseconds per failure (docs/performance.md, profile 17).
    const sort = vi.spyOn(Array.prototype, 'sort');
    try {
      for (let i = 0; i < 5; i++) {
        expect(await pool.ask(member, QUERY)).toMatchObject({ kind: 'failed', reason: 'status_500' });
      }
      expect(sort.mock.contexts.filter((a) => Array.isArray(a) && a.length >= 500)).toEqual([]);
    } finally {
      sort.mockRestore();
    }
    expect(member.breaker.stats).toMatchObject({ fires: 505, successes: 500, failures: 5 });
    expect(member.circuit()).toBe('closed');
  });

  it('when a member says its upstream budget is spent, then that is a distinct result: no ejection, no breaker failure', async () => {
    const { pool, boards, clock, ejections } = setup({
      breaker: { volumeThreshold: 2, errorThresholdPercentage: 10 },
    });
    const member = pool.members[0] as Member;
    boards.set(member.url, unavailable('budget_exhausted', 2));
    for (let i = 0; i < 10; i++) {
      expect(await pool.ask(member, QUERY)).toEqual({
        kind: 'unavailable',
        reason: 'budget_exhausted',
        retryAfterSeconds: 2,
        bannedUntil: undefined,
      });
    }
    expect(member.circuit()).toBe('closed');
    expect(member.breaker.stats.failures).toBe(0);
    expect(member.state(clock.now)).toBe('ready');
    expect(await ejections()).toBe(0);
    // It still serves the routes it has cached: it stays eligible.
    expect(pool.unavailableBecause(member)).toBeUndefined();
  });

  it('when a member says it is banned, then it is marked banned until the end it gave, with no ejection and no breaker failure', async () => {
    const { pool, boards, clock, ejections } = setup({
      breaker: { volumeThreshold: 2, errorThresholdPercentage: 10 },
    });
    const member = pool.members[0] as Member;
    const until = new Date(T0 + 300_000).toISOString();
    boards.set(member.url, unavailable('banned', 300, until));
    for (let i = 0; i < 5; i++) {
      expect(await pool.ask(member, QUERY)).toMatchObject({ kind: 'unavailable', reason: 'banned' });
    }
    expect(member.state(clock.now)).toBe('banned');
    expect(member.readiness).toEqual({ kind: 'banned', until: T0 + 300_000 });
    expect(member.breaker.stats.failures).toBe(0);
    expect(member.circuit()).toBe('closed');
    expect(await ejections()).toBe(0);
  });

  it('when a member answers 503 because the upstream fails, then that is a failure of the member', async () => {
    const { pool, boards, clock } = setup();
    const member = pool.members[0] as Member;
    boards.set(member.url, unavailable('upstream_error', 30));
    expect(await pool.ask(member, QUERY)).toMatchObject({ kind: 'failed', reason: 'upstream_error' });
    expect(member.state(clock.now)).toBe('ejected');
  });

  it.each([
    ['not a board', { hello: 'world' }],
    [
      'a board without trains list of objects',
      { ...BOARD_ANSWER, board: { ...BOARD_ANSWER.board, trainServices: 'none' } },
    ],
    ['an unknown source', { ...BOARD_ANSWER, source: 'guess' }],
    ['a negative age', { ...BOARD_ANSWER, ageSeconds: -5 }],
    ['a fetch time that is no time', { ...BOARD_ANSWER, fetchedAt: 'yesterday' }],
    ['HTML', '<html>maintenance</html>'],
  ])(
    'when a member answers 200 with %s, then it is an invalid_answer failure: ejected and counted by the breaker',
    async (_what, body) => {
      const { pool, boards, clock, lines } = setup();
      const member = pool.members[0] as Member;
      boards.set(member.url, { status: 200, body });
      expect(await pool.ask(member, QUERY)).toEqual({ kind: 'failed', reason: 'invalid_answer' });
      expect(member.state(clock.now)).toBe('ejected');
      expect(member.breaker.stats.failures).toBe(1);
      expect(lines.some((l) => l.level === 'warn' && /not a board/.test(l.message))).toBe(true);
    },
  );

  it('when a member rejects the request (4xx), then the rejection is passed on and the member stays in', async () => {
    const { pool, boards, clock } = setup();
    const member = pool.members[0] as Member;
    boards.set(member.url, { status: 400, body: { status: 400, field: 'to' } });
    expect(await pool.ask(member, QUERY)).toEqual({
      kind: 'rejected',
      status: 400,
      body: { status: 400, field: 'to' },
    });
    expect(member.state(clock.now)).toBe('ready');
  });
});

describe('DeparturesPool readiness checks', () => {
  it('when /readyz says 200, 503 banned with until, 503 otherwise, or cannot be reached, then ready, banned, down, down', async () => {
    const { pool, readyz } = setup();
    const [a, b, c] = pool.members as [Member, Member, Member];
    readyz.set(a.url, { status: 200, body: { status: 'ready' } });
    readyz.set(b.url, { status: 503, body: { status: 'banned', until: '2026-03-11T09:00:00.000Z' } });
    readyz.set(c.url, { status: 503, body: { status: 'draining' } });
    await pool.checkAll();
    expect(a.readiness).toEqual({ kind: 'ready' });
    expect(b.readiness).toEqual({ kind: 'banned', until: Date.parse('2026-03-11T09:00:00.000Z') });
    expect(c.readiness).toEqual({ kind: 'down', reason: 'draining' });
    expect(a.lastCheckedAt).toBe(T0);

    readyz.set(a.url, Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    readyz.set(b.url, { status: 503, body: { status: 'banned' } });
    readyz.set(c.url, { status: 500, body: 'not json' });
    await pool.checkAll();
    expect(a.readiness).toEqual({ kind: 'down', reason: 'ECONNREFUSED' });
    expect(b.readiness).toEqual({ kind: 'banned', until: undefined });
    expect(c.readiness).toEqual({ kind: 'down', reason: 'status_500' });
  });

  it('over real HTTP on loopback: a replica that answers is ready, a closed port is down, a silent one is down after READYZ_TIMEOUT_MS', async () => {
    const servers: Server[] = [];
    const listen = async (handler: Parameters<typeof createServer>[1]) => {
      const server = createServer(handler);
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    };
    const transport = httpTransport({
      metrics: createMetrics('gateway'),
      timeoutMs: 500,
      connectTimeoutMs: 200,
      readyzTimeoutMs: 200,
    });
    try {
      const ready = await listen((_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end('{"status":"ready"}');
      });
      const hung = await listen(() => undefined);
      const closed = await listen(() => undefined);
      await new Promise<void>((resolve) => servers.pop()?.close(() => resolve()));
      const pool = new DeparturesPool({
        members: named([ready, hung, closed]),
        metrics: createMetrics('gateway'),
        logger: quietLogger().logger,
        transport,
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
      pools.push(pool);
      const started = Date.now();
      await pool.checkAll();
      expect(Date.now() - started).toBeLessThan(1_500);
      const states = pool.members.map((m) => [
        m.url,
        m.readiness.kind,
        (m.readiness as { reason?: string }).reason,
      ]);
      expect(states).toEqual([
        [ready, 'ready', undefined],
        [hung, 'down', 'timeout'],
        [closed, 'down', 'ECONNREFUSED'],
      ]);
    } finally {
      for (const s of servers) {
        s.closeAllConnections();
        s.close();
      }
    }
  });
});

describe('DeparturesPool membership', () => {
  it('when sync names other URLs, then members are added and removed, survivors keep their state, and gone clients are closed', () => {
    const { pool, closed } = setup();
    const survivor = byUrl(pool, URLS[1] as string);
    pool.markBanned(survivor, T0 + 1000);
    pool.sync([...named(URLS).slice(1), { name: 'departures-z', url: 'http://10.0.0.9:8080' }]);
    expect(pool.members.map((m) => m.url)).toEqual([URLS[1], URLS[2], 'http://10.0.0.9:8080']);
    expect(byUrl(pool, URLS[1] as string)).toBe(survivor);
    expect(survivor.readiness.kind).toBe('banned');
    expect(closed).toEqual([URLS[0]]);
    expect(pool.size()).toBe(3);
  });

  it('when a member joins, then the routes it now ranks first go to it at once (no ranking is kept from before)', () => {
    const { pool } = setup({ urls: URLS.slice(0, 2) });
    const joining = 'http://10.0.0.9:8080';
    // A route the joining member will own, and ask for it before it joins.
    const route = keys.find(
      (k) => rankByAffinity(k, [...URLS.slice(0, 2), joining], (u) => u)[0] === joining,
    );
    if (!route) throw new Error('no route owned by the joining member among the test keys');
    expect(pool.pick(route, new Set())?.url).not.toBe(joining);
    pool.sync([...named(URLS.slice(0, 2)), { name: 'departures-z', url: joining }]);
    expect(pool.owner(route)?.url).toBe(joining);
    expect(pool.pick(route, new Set())?.url).toBe(joining);
  });

  it('when a member leaves, then its per-member series (ejections, circuit state) leave with it; the others stay', async () => {
    const { pool, boards, metrics } = setup();
    const [gone, stays] = pool.members as [Member, Member, Member];
    boards.set(gone.url, new Error('refused'));
    boards.set(stays.url, { status: 500, body: 'boom' });
    await pool.ask(gone, QUERY);
    await pool.ask(stays, QUERY);
    const series = async () => {
      const text = (await metrics.registry.metrics()).split('\n');
      return {
        ejections: text.filter((l) => l.startsWith('gateway_member_ejections_total{')),
        circuits: text.filter((l) => l.startsWith('gateway_circuit_state{')),
      };
    };
    const before = await series();
    expect(before.ejections.filter((l) => l.includes(`member="${gone.name}"`))).toHaveLength(1);
    expect(before.circuits).toHaveLength(3);
    pool.sync(named(URLS).slice(1));
    const after = await series();
    expect(after.ejections.filter((l) => l.includes(`member="${gone.name}"`))).toEqual([]);
    expect(after.ejections.filter((l) => l.includes(`member="${stays.name}"`))).toHaveLength(1);
    expect(after.circuits).toHaveLength(2);
    expect(after.circuits.join('\n')).not.toContain(`member="${gone.name}"`);
  });

  it('when every member is banned with a known end, then earliestBanEnd is the soonest; otherwise undefined', () => {
    const { pool } = setup();
    const [a, b, c] = pool.members as [Member, Member, Member];
    expect(pool.earliestBanEnd()).toBeUndefined();
    pool.markBanned(a, T0 + 300_000);
    pool.markBanned(b, T0 + 120_000);
    expect(pool.earliestBanEnd()).toBeUndefined(); // c still serves
    pool.markBanned(c, undefined);
    expect(pool.earliestBanEnd()).toBeUndefined(); // c's end is unknown
    pool.markBanned(c, T0 + 600_000);
    expect(pool.earliestBanEnd()).toBe(T0 + 120_000);
    // A stale "banned" answer without an end keeps the end known from before.
    pool.markBanned(b, undefined);
    expect(pool.earliestBanEnd()).toBe(T0 + 120_000);
  });
});
