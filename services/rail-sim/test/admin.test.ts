import { type ServiceProcess, startService, waitFor } from '@failway/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Answer, BOARD_PATH, type CallOptions, call, closeAgents, json, sample } from './support.ts';

const KEY = 'admin-test-key';
const ADMIN = 'admin-test-token';
const LOW_LATENCY = { LATENCY_MIN_MS: '0', LATENCY_MAX_MS: '5' };

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  request_id: string | null;
  field?: string;
}

interface BanView {
  ip: string;
  reason: 'limit' | 'admin';
  since: string;
  until: string;
  liftedAt?: string | null;
}

let sim: ServiceProcess;
/** Started without ADMIN_TOKEN. */
let noAdmin: ServiceProcess;

beforeAll(async () => {
  [sim, noAdmin] = await Promise.all([
    // Every request traced: a test below checks the trace ID on each line of one request.
    startService('rail-sim', {
      ...LOW_LATENCY,
      RAIL_API_KEYS: KEY,
      ADMIN_TOKEN: ADMIN,
      TRACES_PER_SECOND: 'all',
    }),
    startService('rail-sim', { ...LOW_LATENCY, RAIL_API_KEYS: KEY }),
  ]);
});

afterAll(async () => {
  await closeAgents();
  await Promise.all([sim?.stop(), noAdmin?.stop()]);
});

function admin(
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  options: {
    body?: unknown;
    token?: string | null;
    headers?: Record<string, string>;
    proc?: ServiceProcess;
  } = {},
): Promise<Answer> {
  const { token = ADMIN, proc = sim } = options;
  const headers: Record<string, string> = {
    ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    ...options.headers,
  };
  const init: CallOptions = { method, headers };
  if (options.body !== undefined) {
    init.body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  }
  return call(`${proc.url}/admin${path}`, init);
}

function board(ip: string): Promise<Answer> {
  return call(`${sim.url}${BOARD_PATH}/WHP`, { ip, headers: { 'x-apikey': KEY } });
}

async function bans(): Promise<{ active: BanView[]; history: BanView[] }> {
  const res = await admin('GET', '/bans');
  expect(res.status).toBe(200);
  return json(res);
}

function expectProblem(res: Answer, status: number, code: string): Problem {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const problem = json<Problem>(res);
  expect(problem).toMatchObject({ type: `urn:failway:problem:${code}`, status });
  expect(problem.request_id).toBe(res.headers['x-request-id']);
  return problem;
}

describe('/admin authentication', () => {
  it('when the Authorization header is missing, then it answers 401 problem+json with WWW-Authenticate', async () => {
    const res = await admin('GET', '/bans', { token: null });
    const problem = expectProblem(res, 401, 'unauthorized');
    expect(problem).toMatchObject({ title: 'Unauthorized', instance: '/admin/bans' });
    expect(res.headers['www-authenticate']).toBe('Bearer realm="rail-sim admin"');
  });

  it('when the bearer token is wrong, then it answers 401', async () => {
    for (const token of ['wrong-token', `${ADMIN}x`, ADMIN.slice(0, -1), ADMIN.toUpperCase()]) {
      const res = await admin('GET', '/bans', { token });
      expect(res.status, token).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="rail-sim admin"');
    }
    const basic = await admin('GET', '/bans', { token: null, headers: { authorization: `Basic ${ADMIN}` } });
    expect(basic.status).toBe(401);
  });

  it('when a ban is posted with a wrong token, then no ban is made', async () => {
    const res = await admin('POST', '/bans', { token: 'wrong-token', body: { ip: '127.0.0.30' } });
    expect(res.status).toBe(401);
    expect((await bans()).active.map((b) => b.ip)).not.toContain('127.0.0.30');
  });

  it('when the service runs without ADMIN_TOKEN, then the admin API does not exist (404)', async () => {
    for (const [method, path] of [
      ['GET', '/bans'],
      ['POST', '/bans'],
      ['GET', '/faults'],
      ['DELETE', '/faults'],
    ] as const) {
      const res = await admin(method, path, {
        proc: noAdmin,
        body: method === 'POST' ? { ip: '127.0.0.31' } : undefined,
      });
      expectProblem(res, 404, 'not-found');
    }
    expect(noAdmin.logs.find((l) => l.message === 'rail-sim ready')).toMatchObject({ admin_api: 'disabled' });
    expect(sim.logs.find((l) => l.message === 'rail-sim ready')).toMatchObject({ admin_api: 'enabled' });
  });
});

describe('/admin/bans', () => {
  beforeEach(async () => {
    expect((await admin('DELETE', '/bans')).status).toBe(200);
  });

  it('when the ip is not an IP address, then it answers 400 problem naming ip', async () => {
    for (const ip of ['not-an-ip', '127.0.0.256', '', 'localhost']) {
      const problem = expectProblem(await admin('POST', '/bans', { body: { ip } }), 400, 'invalid-parameter');
      expect(problem.field, ip).toBe('ip');
      expect(problem.detail).toMatch(/^ip: /);
    }
    const missing = expectProblem(await admin('POST', '/bans', { body: {} }), 400, 'invalid-parameter');
    expect(missing.field).toBe('ip');
  });

  it('when the body has an unknown field, then it answers 400 naming the field', async () => {
    const res = await admin('POST', '/bans', { body: { ip: '127.0.0.32', seconds: 30, reason: 'spite' } });
    const problem = expectProblem(res, 400, 'invalid-parameter');
    expect(problem.detail).toContain('reason');
    expect((await bans()).active).toEqual([]);
  });

  it('when seconds is not a whole number from 1 to 7 days, then it answers 400 naming seconds', async () => {
    for (const seconds of [0, -5, 1.5, 7 * 86_400 + 1, '30']) {
      const res = await admin('POST', '/bans', { body: { ip: '127.0.0.33', seconds } });
      expect(expectProblem(res, 400, 'invalid-parameter').field, String(seconds)).toBe('seconds');
    }
  });

  it('when the body is not JSON, then it answers 400 problem+json', async () => {
    const res = await admin('POST', '/bans', { body: '{"ip": ' });
    expectProblem(res, 400, 'bad-request');
  });

  it('when a ban is posted, then it answers 201 and GET lists it as active and in the history', async () => {
    const before = Date.now();
    const res = await admin('POST', '/bans', { body: { ip: '127.0.0.10', seconds: 30 } });
    expect(res.status).toBe(201);
    const ban = json<BanView>(res);
    expect(ban).toMatchObject({ ip: '127.0.0.10', reason: 'admin' });
    expect(Date.parse(ban.since)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(ban.until) - Date.parse(ban.since)).toBe(30_000);

    const listed = await bans();
    expect(listed.active).toEqual([ban]);
    expect(listed.history.at(-1)).toEqual({ ...ban, liftedAt: null });
    expect((await board('127.0.0.10')).status).toBe(429);
  });

  it('when a ban is posted without seconds, then it lasts BAN_DURATION_S (default 3600)', async () => {
    const ban = json<BanView>(await admin('POST', '/bans', { body: { ip: '127.0.0.11' } }));
    expect(Date.parse(ban.until) - Date.parse(ban.since)).toBe(3_600_000);
  });

  it('when an IPv4-mapped IPv6 address is banned, then the IPv4 caller is banned', async () => {
    const res = await admin('POST', '/bans', { body: { ip: '::ffff:127.0.0.12', seconds: 30 } });
    expect(json<BanView>(res).ip).toBe('127.0.0.12');
    expect((await board('127.0.0.12')).status).toBe(429);
  });

  it('when DELETE /admin/bans/:ip lifts a ban, then the IP is served again and the history has liftedAt', async () => {
    await admin('POST', '/bans', { body: { ip: '127.0.0.13', seconds: 600 } });
    expect((await board('127.0.0.13')).status).toBe(429);
    const lifted = await admin('DELETE', '/bans/127.0.0.13');
    expect(lifted.status).toBe(200);
    expect(json(lifted)).toEqual({ lifted: 1 });
    expect((await board('127.0.0.13')).status).toBe(200);

    const listed = await bans();
    expect(listed.active).toEqual([]);
    const record = listed.history.filter((b) => b.ip === '127.0.0.13').at(-1);
    expect(record?.liftedAt).toEqual(expect.any(String));
    expect(Date.parse(record?.liftedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(record?.since ?? ''));
  });

  it('when a ban is lifted by the IPv4-mapped IPv6 address it was posted with, then it is lifted', async () => {
    await admin('POST', '/bans', { body: { ip: '::ffff:127.0.0.18', seconds: 600 } });
    const lifted = await admin('DELETE', '/bans/::ffff:127.0.0.18');
    expect(lifted.status).toBe(200);
    expect(json(lifted)).toEqual({ lifted: 1 });
    expect((await board('127.0.0.18')).status).toBe(200);
  });

  it('when DELETE /admin/bans/:ip names an IP that is not banned, then it answers 404', async () => {
    const problem = expectProblem(await admin('DELETE', '/bans/127.0.0.99'), 404, 'not-found');
    expect(problem.detail).toContain('127.0.0.99');
  });

  it('when DELETE /admin/bans is called, then every ban is lifted and counted', async () => {
    await admin('POST', '/bans', { body: { ip: '127.0.0.14', seconds: 600 } });
    await admin('POST', '/bans', { body: { ip: '127.0.0.15', seconds: 600 } });
    expect((await bans()).active).toHaveLength(2);
    const res = await admin('DELETE', '/bans');
    expect(res.status).toBe(200);
    expect(json(res)).toEqual({ lifted: 2 });
    expect((await bans()).active).toEqual([]);
    expect((await board('127.0.0.14')).status).toBe(200);
    expect((await board('127.0.0.15')).status).toBe(200);
    expect(json(await admin('DELETE', '/bans'))).toEqual({ lifted: 0 });
  });

  it('when bans are posted, then railsim_bans_total{reason="admin"} and railsim_bans_active follow', async () => {
    const read = async () => (await call(`${sim.url}/metrics`)).text;
    const labels = { reason: 'admin', service: 'rail-sim' };
    const before = sample(await read(), 'railsim_bans_total', labels) ?? Number.NaN;
    await admin('POST', '/bans', { body: { ip: '127.0.0.16', seconds: 600 } });
    await admin('POST', '/bans', { body: { ip: '127.0.0.17', seconds: 600 } });
    const text = await read();
    expect(sample(text, 'railsim_bans_total', labels)).toBe(before + 2);
    expect(sample(text, 'railsim_bans_active', { service: 'rail-sim' })).toBe(2);
    await admin('DELETE', '/bans');
    expect(sample(await read(), 'railsim_bans_active', { service: 'rail-sim' })).toBe(0);
  });
});

describe('/admin/faults', () => {
  beforeEach(async () => {
    expect((await admin('DELETE', '/faults')).status).toBe(200);
  });

  it('when nothing was injected, then GET answers no faults', async () => {
    expect(json(await admin('GET', '/faults'))).toEqual({
      latencyMs: 0,
      errorRate: 0,
      banStyle: null,
      disruption: false,
    });
  });

  it('when faults are posted one by one, then they add up until DELETE clears them', async () => {
    await admin('POST', '/faults', { body: { latencyMs: 10 } });
    const res = await admin('POST', '/faults', { body: { disruption: true, banStyle: '503' } });
    expect(json(res)).toEqual({ latencyMs: 10, errorRate: 0, banStyle: '503', disruption: true });
    expect(json(await admin('GET', '/faults'))).toEqual(json(res));
    expect(json(await admin('DELETE', '/faults'))).toEqual({
      latencyMs: 0,
      errorRate: 0,
      banStyle: null,
      disruption: false,
    });
  });

  it('when a fault is out of range or unknown, then it answers 400 and nothing changes', async () => {
    for (const [body, field] of [
      [{ errorRate: 1.5 }, 'errorRate'],
      [{ latencyMs: -1 }, 'latencyMs'],
      [{ banStyle: '418' }, 'banStyle'],
      [{ disruption: 'yes' }, 'disruption'],
    ] as const) {
      expect(expectProblem(await admin('POST', '/faults', { body }), 400, 'invalid-parameter').field).toBe(
        field,
      );
    }
    const unknown = await admin('POST', '/faults', { body: { errorRate: 1, meltdown: true } });
    expect(expectProblem(unknown, 400, 'invalid-parameter').detail).toContain('meltdown');
    expect(json(await admin('GET', '/faults'))).toMatchObject({ errorRate: 0 });
  });
});

describe('/admin request logging', () => {
  it('when a request carries X-Request-ID, then every line logged for it carries that ID and one trace_id', async () => {
    const res = await admin('POST', '/bans', {
      body: { ip: '127.0.0.20', seconds: 30 },
      headers: { 'x-request-id': 'test-admin-1' },
    });
    expect(res.status).toBe(201);
    expect(res.headers['x-request-id']).toBe('test-admin-1');
    const access = await waitFor('the access log line of test-admin-1', () =>
      sim.logs.find((l) => l.request_id === 'test-admin-1' && l.message === 'request completed'),
    );
    expect(access).toMatchObject({ method: 'POST', route: '/admin/bans', status: 201 });
    const lines = sim.logs.filter((l) => l.request_id === 'test-admin-1');
    expect(lines.map((l) => l.message)).toEqual(['client IP banned by an operator', 'request completed']);
    const traceIds = new Set(lines.map((l) => l.trace_id));
    expect(traceIds.size).toBe(1);
    expect([...traceIds][0]).toMatch(/^[0-9a-f]{32}$/);
    // No other request's lines share the trace.
    expect(sim.logs.filter((l) => l.trace_id === access.trace_id)).toHaveLength(lines.length);
  });
});
