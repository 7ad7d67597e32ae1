import { type ServiceProcess, startService, waitFor } from '@failway/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { STATIONS } from '../src/domain/stations.ts';
import {
  type Answer,
  BOARD_PATH,
  type Board,
  type BoardService,
  type CallOptions,
  call,
  closeAgents,
  HHMM,
  json,
  sample,
} from './support.ts';

const KEY = 'ldbws-test-key';
const OTHER_KEY = 'ldbws-second-key';
const ADMIN = 'ldbws-admin-token';
const LOW_LATENCY = { LATENCY_MIN_MS: '0', LATENCY_MAX_MS: '5' };

/** Boards and faults: a limit high enough never to get in the way. */
let sim: ServiceProcess;
/** The per-IP limit for real: more than 3 calls a minute bans for 2 minutes. */
let limited: ServiceProcess;

beforeAll(async () => {
  [sim, limited] = await Promise.all([
    startService('rail-sim', {
      ...LOW_LATENCY,
      RAIL_API_KEYS: `${KEY}, ${OTHER_KEY}`,
      ADMIN_TOKEN: ADMIN,
      BAN_THRESHOLD: '100000',
    }),
    startService('rail-sim', {
      ...LOW_LATENCY,
      RAIL_API_KEYS: KEY,
      BAN_THRESHOLD: '3',
      BAN_WINDOW_S: '60',
      BAN_DURATION_S: '120',
    }),
  ]);
});

afterAll(async () => {
  await closeAgents();
  await Promise.all([sim?.stop(), limited?.stop()]);
});

function board(
  proc: ServiceProcess,
  crs: string,
  query = '',
  options: CallOptions & { key?: string | null } = {},
): Promise<Answer> {
  const { key = KEY, ...rest } = options;
  const headers: Record<string, string> = { ...(key === null ? {} : { 'x-apikey': key }), ...rest.headers };
  return call(`${proc.url}${BOARD_PATH}/${crs}${query ? `?${query}` : ''}`, { ...rest, headers });
}

function admin(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<Answer> {
  return call(`${sim.url}/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function metrics(proc: ServiceProcess): Promise<string> {
  const res = await call(`${proc.url}/metrics`);
  expect(res.status).toBe(200);
  return res.text;
}

/** `…T08:01:02.1230000+00:00` as a Date (JavaScript only reads milliseconds). */
function generatedAtMs(generatedAt: string): number {
  return Date.parse(generatedAt.replace(/(\.\d{3})\d+/, '$1'));
}

function expectLdbwsService(s: BoardService, tiploc: string): void {
  expect(s.std).toMatch(HHMM);
  expect(s.etd).toMatch(/^(On time|Delayed|Cancelled|([01]\d|2[0-3]):[0-5]\d)$/);
  expect(s.platform === null || /^[0-9A-Z]{1,3}$/.test(s.platform)).toBe(true);
  expect(s.operator).toBe('Thameslink');
  expect(s.operatorCode).toBe('TL');
  expect(s.serviceID).toMatch(new RegExp(`^\\d{7}${tiploc.padEnd(8, '_')}$`));
  expect(s.destination).toHaveLength(1);
  expect(s.destination[0]?.crs).toMatch(/^[A-Z]{3}$/);
  expect(s.destination[0]?.locationName).toEqual(expect.any(String));
  expect(s.origin).toHaveLength(1);
}

/**
 * Retry-After is the whole seconds left of the ban, rounded up: waiting that long from the answer
 * (sent between `before` and `after`) outlasts the ban, and by less than a second.
 */
function expectRetryAfterReachesExpiry(
  retryAfter: number,
  until: number,
  before: number,
  after: number,
): void {
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(after + retryAfter * 1000).toBeGreaterThanOrEqual(until);
  expect(before + retryAfter * 1000).toBeLessThan(until + 1000);
}

/**
 * A board query that has trains right now. Trains run 05:00–00:30 London time and a board reaches
 * at most 239 minutes ahead (timeOffset 119 + timeWindow 120), so WHP→LTN looks ahead when it is
 * night; in the half hour after about 00:55 no train to Luton leaves WHP within reach, and then
 * other stations' late or early trains are used. Found once, from the simulator itself.
 */
let withTrains: Promise<{ crs: string; tiploc: string; query: string; board: Board }> | undefined;
function windowWithTrains() {
  withTrains ??= (async () => {
    const candidates = [
      { crs: 'WHP', query: 'filterCrs=LTN&timeOffset=0&timeWindow=120' },
      { crs: 'WHP', query: 'filterCrs=LTN&timeOffset=119&timeWindow=120' },
      ...STATIONS.flatMap((s) =>
        [0, 119].map((offset) => ({ crs: s.crs, query: `timeOffset=${offset}&timeWindow=120` })),
      ),
    ];
    for (const c of candidates) {
      const res = await board(sim, c.crs, c.query);
      expect(res.status).toBe(200);
      const b = json<Board>(res);
      const tiploc = STATIONS.find((s) => s.crs === c.crs)?.tiploc ?? c.crs;
      if (b.trainServices !== null) return { ...c, tiploc, board: b };
    }
    throw new Error('no station has a train within reach at this time');
  })();
  return withTrains;
}

describe('GET /LDBWS/api/20220120/GetDepBoardWithDetails/:crs', () => {
  afterEach(async () => {
    expect((await admin('DELETE', '/faults')).status).toBe(200);
    expect((await admin('DELETE', '/bans')).status).toBe(200);
  });

  it('when asked for WHP filtered to LTN, then it answers an LDBWS board of West Hampstead', async () => {
    const before = Date.now();
    const res = await board(sim, 'WHP', 'filterCrs=LTN&numRows=5');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const b = json<Board>(res);
    expect(b).toMatchObject({
      locationName: 'West Hampstead Thameslink',
      crs: 'WHP',
      filtercrs: 'LTN',
      filterLocationName: 'Luton Airport Parkway',
      filterType: 0,
      busServices: null,
      ferryServices: null,
      nrccMessages: null,
    });
    expect(b.generatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}[+-]\d\d:\d\d$/);
    expect(generatedAtMs(b.generatedAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(generatedAtMs(b.generatedAt)).toBeLessThanOrEqual(Date.now() + 1000);
    // At night there may be no train within the next two hours; when there are, they are LDBWS services.
    for (const s of b.trainServices ?? []) expectLdbwsService(s, 'WHMPSTM');
    expect((b.trainServices ?? []).length).toBeLessThanOrEqual(5);
  });

  it('when a window with trains is asked for, then each service has std, etd, platform, operator, serviceID and destination', async () => {
    const found = await windowWithTrains();
    const services = found.board.trainServices ?? [];
    expect(services.length).toBeGreaterThan(0);
    expect(services.length).toBeLessThanOrEqual(10);
    for (const s of services) expectLdbwsService(s, found.tiploc);
    if (found.board.filtercrs === 'LTN') {
      for (const s of services) {
        expect(s.subsequentCallingPoints[0]?.callingPoint.map((p) => p.crs)).toContain('LTN');
      }
    }
  });

  it('when numRows is given, then at most that many services are listed', async () => {
    const found = await windowWithTrains();
    const one = json<Board>(await board(sim, found.crs, `${found.query}&numRows=1`));
    expect(one.trainServices).toHaveLength(1);
    expect(one.trainServices?.[0]?.serviceID).toBe(found.board.trainServices?.[0]?.serviceID);
    const none = json<Board>(await board(sim, found.crs, `${found.query}&numRows=0`));
    expect(none.trainServices).toBeNull();
  });

  it('when the CRS is in lower case, then the board is for the upper-case station', async () => {
    const res = await board(sim, 'whp');
    expect(res.status).toBe(200);
    expect(json<Board>(res)).toMatchObject({ crs: 'WHP', locationName: 'West Hampstead Thameslink' });
  });

  it('when the x-apikey header is missing, then it answers 401', async () => {
    const res = await board(sim, 'WHP', '', { key: null });
    expect(res.status).toBe(401);
    expect(json(res)).toEqual({ message: 'Authorization has been denied for this request.' });
  });

  it('when the x-apikey is wrong, then it answers 401', async () => {
    for (const key of ['not-the-key', `${KEY}x`, KEY.slice(0, -1), KEY.toUpperCase()]) {
      const res = await board(sim, 'WHP', '', { key });
      expect(res.status, key).toBe(401);
      expect(json(res)).toEqual({ message: 'Authorization has been denied for this request.' });
    }
  });

  it('when any key of RAIL_API_KEYS is sent, then it is accepted', async () => {
    expect((await board(sim, 'WHP', '', { key: KEY })).status).toBe(200);
    expect((await board(sim, 'WHP', '', { key: OTHER_KEY })).status).toBe(200);
  });

  it('when the CRS is unknown, then it answers 500 like the real API', async () => {
    const res = await board(sim, 'XYZ');
    expect(res.status).toBe(500);
    expect(json(res)).toEqual({ message: 'Unexpected server error' });
  });

  it('when numRows is not a whole number in 0–150, then it answers 400 naming numRows', async () => {
    for (const [value, message] of [
      ['abc', 'numRows must be a whole number'],
      ['1.5', 'numRows must be a whole number'],
      ['151', 'numRows must be between 0 and 150'],
      ['-1', 'numRows must be between 0 and 150'],
    ]) {
      const res = await board(sim, 'WHP', `numRows=${value}`);
      expect(res.status, value).toBe(400);
      expect(json(res)).toEqual({ message });
    }
  });

  it('when timeOffset, timeWindow or filterType are out of range, then it answers 400 naming them', async () => {
    const cases = [
      ['timeOffset=120', 'timeOffset must be between -120 and 119'],
      ['timeWindow=121', 'timeWindow must be between -120 and 120'],
      ['filterType=sideways', 'filterType must be "to" or "from"'],
    ];
    for (const [query, message] of cases) {
      const res = await board(sim, 'WHP', query);
      expect(res.status, query).toBe(400);
      expect(json(res)).toEqual({ message });
    }
  });

  it('when the errorRate fault is 1, then every call answers 500 until the faults are cleared', async () => {
    expect(json(await admin('POST', '/faults', { errorRate: 1 }))).toMatchObject({ errorRate: 1 });
    for (let i = 0; i < 3; i++) {
      const res = await board(sim, 'WHP');
      expect(res.status).toBe(500);
      expect(json(res)).toEqual({ message: 'Unexpected server error' });
    }
    expect((await admin('DELETE', '/faults')).status).toBe(200);
    expect((await board(sim, 'WHP')).status).toBe(200);
  });

  it('when the latencyMs fault is 300, then a call takes at least 300 ms, and none after the faults are cleared', async () => {
    await admin('POST', '/faults', { latencyMs: 300 });
    const slow = await board(sim, 'WHP');
    expect(slow.status).toBe(200);
    expect(slow.ms).toBeGreaterThanOrEqual(300);
    // Cleared from a latency no call could wait out: a call held by it would run into the client's
    // 10 s deadline (and the test's own), so an answer at all shows the latency is gone.
    expect((await admin('POST', '/faults', { latencyMs: 60_000 })).status).toBe(200);
    await admin('DELETE', '/faults');
    const fast = await board(sim, 'WHP');
    expect(fast.status).toBe(200);
  });

  it('when the disruption fault is on, then boards carry an NRCC message', async () => {
    await admin('POST', '/faults', { disruption: true });
    const b = json<Board>(await board(sim, 'WHP'));
    expect(b.nrccMessages).toEqual([{ value: expect.stringMatching(/\S/) }]);
    await admin('DELETE', '/faults');
    expect(json<Board>(await board(sim, 'WHP')).nrccMessages).toBeNull();
  });

  it('when banStyle is 403 and the caller is banned, then it gets 403 with an HTML page', async () => {
    await admin('POST', '/faults', { banStyle: '403' });
    expect((await admin('POST', '/bans', { ip: '127.0.0.4', seconds: 30 })).status).toBe(201);
    const res = await board(sim, 'WHP', '', { ip: '127.0.0.4' });
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('Access Denied');
    expect(res.headers['retry-after']).toBeUndefined();
  });

  it('when banStyle is 503 and the caller is banned, then it gets 503 with Retry-After', async () => {
    await admin('POST', '/faults', { banStyle: '503' });
    const ban = json<{ until: string }>(await admin('POST', '/bans', { ip: '127.0.0.5', seconds: 30 }));
    const before = Date.now();
    const res = await board(sim, 'WHP', '', { ip: '127.0.0.5' });
    const after = Date.now();
    expect(res.status).toBe(503);
    expect(res.text).toBe('Service Unavailable');
    const retryAfter = Number(res.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(30);
    expectRetryAfterReachesExpiry(retryAfter, Date.parse(ban.until), before, after);
  });

  it('when banStyle is silent and the caller is banned, then it gets 200 with a board without trains', async () => {
    const found = await windowWithTrains();
    await admin('POST', '/faults', { banStyle: 'silent' });
    await admin('POST', '/bans', { ip: '127.0.0.6', seconds: 30 });
    const res = await board(sim, found.crs, found.query, { ip: '127.0.0.6' });
    expect(res.status).toBe(200);
    const b = json<Board>(res);
    expect(b.crs).toBe(found.crs);
    expect(b.trainServices).toBeNull();
    // The same question from a caller that is not banned still has trains.
    expect(json<Board>(await board(sim, found.crs, found.query)).trainServices).not.toBeNull();
  });

  it('when the banStyle fault is cleared, then BAN_STYLE (429) applies again', async () => {
    await admin('POST', '/faults', { banStyle: '403' });
    await admin('POST', '/bans', { ip: '127.0.0.7', seconds: 30 });
    expect((await board(sim, 'WHP', '', { ip: '127.0.0.7' })).status).toBe(403);
    expect(json(await admin('POST', '/faults', { banStyle: null }))).toMatchObject({ banStyle: null });
    const res = await board(sim, 'WHP', '', { ip: '127.0.0.7' });
    expect(res.status).toBe(429);
    expect(json(res)).toMatchObject({ error: 'ip_banned' });
  });

  it('when a banned caller sends no key, then it gets 401 before the ban is looked at', async () => {
    await admin('POST', '/bans', { ip: '127.0.0.8', seconds: 30 });
    expect((await board(sim, 'WHP', '', { ip: '127.0.0.8', key: null })).status).toBe(401);
    expect((await board(sim, 'WHP', '', { ip: '127.0.0.8' })).status).toBe(429);
  });
});

describe('GET /LDBWS/api/20220120/GetDepBoardWithDetails/:crs, per-IP limit (BAN_THRESHOLD 3 per 60 s)', () => {
  it('when the caller exceeds BAN_THRESHOLD, then it is banned and gets 429 with Retry-After, while other IPs are served', async () => {
    for (let i = 1; i <= 3; i++) {
      expect((await board(limited, 'WHP', '', { ip: '127.0.0.2' })).status, `call ${i}`).toBe(200);
    }
    const before = Date.now();
    const banned = await board(limited, 'WHP', '', { ip: '127.0.0.2' });
    const after = Date.now();
    expect(banned.status).toBe(429);
    const retryAfter = Number(banned.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(119);
    expect(retryAfter).toBeLessThanOrEqual(120);
    const expires = banned.headers['x-ban-expires'] ?? '';
    expect(Date.parse(expires)).toBeGreaterThanOrEqual(before + 120_000);
    expect(Date.parse(expires)).toBeLessThanOrEqual(after + 120_000);
    expectRetryAfterReachesExpiry(retryAfter, Date.parse(expires), before, after);
    expect(json(banned)).toEqual({ error: 'ip_banned', retryAfterSeconds: retryAfter, bannedUntil: expires });

    // Still banned, by the same ban.
    const again = await board(limited, 'WHP', '', {
      ip: '127.0.0.2',
      headers: { 'x-request-id': 'ldbws-still-banned' },
    });
    expect(again.status).toBe(429);
    expect(json(again)).toMatchObject({ bannedUntil: expires });

    // The limit is per source IP.
    expect((await board(limited, 'WHP', '', { ip: '127.0.0.3' })).status).toBe(200);

    const text = await metrics(limited);
    expect(sample(text, 'railsim_bans_total', { reason: 'limit', service: 'rail-sim' })).toBe(1);
    expect(sample(text, 'railsim_bans_total', { reason: 'admin', service: 'rail-sim' })).toBe(0);
    expect(sample(text, 'railsim_bans_active', { service: 'rail-sim' })).toBe(1);
    expect(sample(text, 'railsim_requests_total', { outcome: 'banned', service: 'rail-sim' })).toBe(2);

    const warning = await waitFor('the ban to be logged', () =>
      limited.logs.find((l) => l.message === 'client IP banned for exceeding the request limit'),
    );
    expect(warning).toMatchObject({
      level: 'warn',
      client_ip: '127.0.0.2',
      banned_until: expires,
      ban_style: '429',
    });
    // A second ban warning would come from the later banned call, before that call's access line.
    await waitFor('the access line of the later banned call', () =>
      limited.logs.find((l) => l.request_id === 'ldbws-still-banned' && l.message === 'request completed'),
    );
    expect(
      limited.logs.filter((l) => l.message === 'client IP banned for exceeding the request limit'),
    ).toHaveLength(1);
  });

  it('when calls are refused for a wrong key, then they do not count towards the limit', async () => {
    for (let i = 0; i < 5; i++) {
      expect((await board(limited, 'WHP', '', { ip: '127.0.0.9', key: 'wrong-key' })).status).toBe(401);
    }
    for (let i = 1; i <= 3; i++) {
      expect((await board(limited, 'WHP', '', { ip: '127.0.0.9' })).status, `call ${i}`).toBe(200);
    }
    expect((await board(limited, 'WHP', '', { ip: '127.0.0.9' })).status).toBe(429);
  });
});
