import { type ServiceProcess, simOffsetToLondonTime, startService, waitFor } from '@failway/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOARD_PATH, type Board, call, closeAgents, json } from './support.ts';

const KEY = 'clock-test-key';
const ADMIN = 'clock-test-token';
const LOW_LATENCY = { LATENCY_MIN_MS: '0', LATENCY_MAX_MS: '5' };
/** Every call to the simulator is bounded by this. */
const TIMEOUT_MS = 10_000;

interface ClockView {
  offsetMinutes: number;
  configuredOffsetMinutes: number;
  simulatedNow: string;
}

interface Problem {
  type: string;
  status: number;
  detail: string;
  field?: string;
}

/** The London wall-clock time a board was generated at ("HH:MM"; LDBWS writes local time). */
function generatedHhmm(board: Board): string {
  return board.generatedAt.slice(11, 16);
}

/** Minutes from `b` to `a` on the clock face, in [-720, 720). */
function minutesBetween(a: string, b: string): number {
  const m = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));
  return ((((m(a) - m(b)) % 1440) + 1440 + 720) % 1440) - 720;
}

let sim: ServiceProcess;
let noAdmin: ServiceProcess;
const STARTED_AT = simOffsetToLondonTime(8, 0);

beforeAll(async () => {
  [sim, noAdmin] = await Promise.all([
    startService('rail-sim', {
      ...LOW_LATENCY,
      RAIL_API_KEYS: KEY,
      ADMIN_TOKEN: ADMIN,
      BAN_THRESHOLD: '100000',
      SIM_TIME_OFFSET_MIN: String(STARTED_AT),
    }),
    startService('rail-sim', { ...LOW_LATENCY, RAIL_API_KEYS: KEY }),
  ]);
});

afterAll(async () => {
  await closeAgents();
  await Promise.all([sim?.stop(), noAdmin?.stop()]);
});

function clock(
  method: 'GET' | 'PUT',
  body?: unknown,
  options: { token?: string | null; proc?: ServiceProcess } = {},
): Promise<Response> {
  const { token = ADMIN, proc = sim } = options;
  return fetch(`${proc.url}/admin/clock`, {
    method,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
}

async function board(crs: string, query = ''): Promise<Board> {
  const res = await call(`${sim.url}${BOARD_PATH}/${crs}${query ? `?${query}` : ''}`, {
    headers: { 'x-apikey': KEY },
  });
  expect(res.status).toBe(200);
  return json<Board>(res);
}

describe('GET /admin/clock', () => {
  it('when asked, then it shows the configured shift and the time boards are generated at', async () => {
    const res = await clock('GET');
    expect(res.status).toBe(200);
    const view = (await res.json()) as ClockView;
    expect(view).toMatchObject({ offsetMinutes: STARTED_AT, configuredOffsetMinutes: STARTED_AT });
    const expected = Date.now() + STARTED_AT * 60_000;
    expect(Math.abs(Date.parse(view.simulatedNow) - expected)).toBeLessThan(5_000);
    expect(Math.abs(minutesBetween(generatedHhmm(await board('WHP')), '08:00'))).toBeLessThanOrEqual(1);
  });
});

describe('PUT /admin/clock', () => {
  it('when the clock is moved past the last train, then boards are generated at the new time and are empty; moved back, the trains return', async () => {
    const night = simOffsetToLondonTime(1, 50);
    const res = await clock('PUT', { offsetMinutes: night });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ offsetMinutes: night, configuredOffsetMinutes: STARTED_AT });
    expect(((await (await clock('GET')).json()) as ClockView).offsetMinutes).toBe(night);

    const empty = await board('WHP', 'filterCrs=LTN&filterType=to');
    expect(Math.abs(minutesBetween(generatedHhmm(empty), '01:50'))).toBeLessThanOrEqual(1);
    expect(empty.trainServices).toBeNull();
    // Log lines reach the parent a little after the answer (stdout is buffered for up to 100 ms).
    const moved = await waitFor('the "simulated clock moved" log line', () =>
      sim.logs.find((l) => l.message === 'simulated clock moved'),
    );
    expect(moved).toMatchObject({
      offset_minutes: night,
      level: 'warn',
    });

    expect((await clock('PUT', { offsetMinutes: STARTED_AT })).status).toBe(200);
    const morning = await board('WHP', 'filterCrs=LTN&filterType=to');
    expect(Math.abs(minutesBetween(generatedHhmm(morning), '08:00'))).toBeLessThanOrEqual(1);
    expect(morning.trainServices?.length).toBeGreaterThan(0);
  });

  it('when the caller is banned silently, then the empty board carries the moved clock too', async () => {
    const evening = simOffsetToLondonTime(20, 0);
    expect((await clock('PUT', { offsetMinutes: evening })).status).toBe(200);
    const admin = (path: string, method: string, body?: unknown) =>
      fetch(`${sim.url}/admin${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    try {
      expect((await admin('/faults', 'POST', { banStyle: 'silent' })).status).toBe(200);
      expect((await admin('/bans', 'POST', { ip: '127.0.0.1', seconds: 60 })).status).toBe(201);
      const silent = await board('WHP');
      expect(silent.trainServices).toBeNull();
      expect(Math.abs(minutesBetween(generatedHhmm(silent), '20:00'))).toBeLessThanOrEqual(1);
    } finally {
      await admin('/bans', 'DELETE');
      await admin('/faults', 'DELETE');
      await clock('PUT', { offsetMinutes: STARTED_AT });
    }
  });

  it.each([
    ['more than a day ahead', { offsetMinutes: 1441 }, 'offsetMinutes'],
    ['more than a day back', { offsetMinutes: -1441 }, 'offsetMinutes'],
    ['a fraction', { offsetMinutes: 1.5 }, 'offsetMinutes'],
    ['a string', { offsetMinutes: '60' }, 'offsetMinutes'],
    ['missing', {}, 'offsetMinutes'],
  ])(
    'when offsetMinutes is %s, then 400 problem+json naming it and the clock stays',
    async (_label, body, field) => {
      const res = await clock('PUT', body);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const problem = (await res.json()) as Problem;
      expect(problem).toMatchObject({ type: 'urn:failway:problem:invalid-parameter', status: 400, field });
      expect(((await (await clock('GET')).json()) as ClockView).offsetMinutes).toBe(STARTED_AT);
    },
  );

  it('when the bounds themselves are asked for, then they are accepted', async () => {
    for (const offsetMinutes of [1440, -1440, 0]) {
      const res = await clock('PUT', { offsetMinutes });
      expect(res.status, String(offsetMinutes)).toBe(200);
      expect(((await res.json()) as ClockView).offsetMinutes).toBe(offsetMinutes);
    }
    expect((await clock('PUT', { offsetMinutes: STARTED_AT })).status).toBe(200);
  });

  it('when the body has an unknown field or is not JSON, then 400 and the clock stays', async () => {
    const extra = await clock('PUT', { offsetMinutes: 10, speed: 2 });
    expect(extra.status).toBe(400);
    expect(((await extra.json()) as Problem).detail).toContain('speed');
    expect((await clock('PUT', '{"offsetMinutes": ')).status).toBe(400);
    expect(((await (await clock('GET')).json()) as ClockView).offsetMinutes).toBe(STARTED_AT);
  });

  it('when the token is missing or wrong, then 401 and the clock stays', async () => {
    expect((await clock('PUT', { offsetMinutes: 5 }, { token: null })).status).toBe(401);
    expect((await clock('PUT', { offsetMinutes: 5 }, { token: 'wrong-token' })).status).toBe(401);
    expect((await clock('GET', undefined, { token: 'wrong-token' })).status).toBe(401);
    expect(((await (await clock('GET')).json()) as ClockView).offsetMinutes).toBe(STARTED_AT);
  });

  it('when the service runs without ADMIN_TOKEN, then there is no clock to move (404)', async () => {
    expect((await clock('PUT', { offsetMinutes: 5 }, { proc: noAdmin })).status).toBe(404);
    expect((await clock('GET', undefined, { proc: noAdmin })).status).toBe(404);
  });
});
