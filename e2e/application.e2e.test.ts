import type { Stack } from '@failway/stack';
import {
  metricValue,
  type OtlpReceiver,
  rawHttpExchange,
  startUpstreamGate,
  type UpstreamGate,
  waitFor,
} from '@failway/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, railSimAdmin, startApp, upstreams } from './support.ts';

interface GatewayAnswer {
  from: { crs: string; name: string };
  to: { crs: string; name: string };
  board: { trainServices: Record<string, unknown>[] | null; locationName: string };
  source: string;
  stale: boolean;
  ageSeconds: number;
  servedBy: string;
}

let app: Awaited<ReturnType<typeof startApp>>;
let stack: Stack;
let otlp: OtlpReceiver;
let gate: UpstreamGate;

beforeAll(async () => {
  gate = await startUpstreamGate();
  app = await startApp({
    // The replicas reach rail-sim through the gate; nothing calls it before the stack is up.
    // No deadline or heuristic here may decide an outcome by how fast the machine is: a call held
    // on purpose (see 'losing a replica') waits for the test, and a banned replica's stale answer
    // is always followed by asking the other one.
    departures: { UPSTREAM_URL: gate.url, UPSTREAM_TIMEOUT_MS: '60000' },
    gateway: { DEPARTURES_TIMEOUT_MS: '60000', STALE_RETRY_WITHIN_MS: '60000' },
  });
  stack = app.stack;
  otlp = app.otlp;
  gate.target = stack.railSim.url;
});
afterAll(async () => {
  await app?.stop();
  await gate?.close();
});

const api = (query: string, headers: Record<string, string> = {}) =>
  fetch(`${stack.gateway.url}/api/departures?${query}`, { headers });

describe('one request through the whole application', () => {
  it("when a commuter asks for WHP to LTN, then a realistic board comes back, its request ID is in our services' logs (not sent to the rail API) and one trace spans all four services", async () => {
    const requestId = 'e2e-first-board';
    const res = await api('from=WHP&to=LTN&rows=5', { 'X-Request-ID': requestId });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe(requestId);
    const traceId = res.headers.get('x-trace-id');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const body = (await res.json()) as GatewayAnswer;
    expect(body.from).toEqual({ crs: 'WHP', name: 'West Hampstead Thameslink' });
    expect(body.to.name).toBe('Luton Airport Parkway');
    expect(body).toMatchObject({ source: 'upstream', stale: false });
    const services = body.board.trainServices ?? [];
    expect(services.length).toBeGreaterThan(0);
    expect(services.length).toBeLessThanOrEqual(5);
    for (const s of services)
      expect(s).toMatchObject({ operator: 'Thameslink', std: expect.stringMatching(/^\d\d:\d\d$/) });

    const logsBy = await waitFor('log lines in our three services', () => {
      const by = new Map<string, unknown[]>();
      for (const proc of stack.all()) {
        const lines = proc.logs.filter((l) => l.request_id === requestId);
        if (lines.length > 0) by.set(proc.name, lines);
      }
      return by.size === 3 ? by : undefined;
    });
    expect([...logsBy.keys()].sort()).toEqual(['departures', 'gateway', 'route-config']);
    for (const lines of logsBy.values())
      for (const line of lines as { trace_id: string }[]) expect(line.trace_id).toBe(traceId);

    const trace = await waitFor('server spans of all four services', () => {
      const spans = otlp.spans.filter((s) => s.traceId === traceId);
      const servers = new Set(spans.filter((s) => s.kind === 2).map((s) => s.service));
      return servers.size === 4 ? spans : undefined;
    });
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const gatewayServer = trace.find((s) => s.service === 'gateway' && s.kind === 2);
    expect(gatewayServer?.parentSpanId).toBe('');
    expect(gatewayServer?.attributes['request.id']).toBe(requestId);
    // Every other server span hangs under a client span of the service that called it.
    const callers: Record<string, string> = {
      'route-config': 'gateway',
      departures: 'gateway',
      'rail-sim': 'departures',
    };
    for (const [service, caller] of Object.entries(callers)) {
      const server = trace.find((s) => s.service === service && s.kind === 2);
      const parent = server ? byId.get(server.parentSpanId) : undefined;
      expect(parent, `parent of the ${service} server span`).toMatchObject({ service: caller, kind: 3 });
    }
    const orphans = trace.filter((s) => s.parentSpanId !== '' && !byId.has(s.parentSpanId));
    expect(orphans).toEqual([]);
    const member = trace.find((s) => s.service === 'gateway' && s.attributes['gateway.member'] !== undefined);
    expect(String(member?.attributes['gateway.member'])).toMatch(/^departures-[ab]$/);
    expect(body.servedBy).toMatch(/^departures-[ab]$/);
    // rail-sim (the rail API) logged the call, but never saw our request ID.
    const railSimServer = trace.find((s) => s.service === 'rail-sim' && s.kind === 2);
    expect(railSimServer?.attributes['request.id']).not.toBe(requestId);
    expect(stack.railSim.logs.filter((l) => l.request_id === requestId)).toEqual([]);
  });

  it('when /metrics and /admin/upstreams are asked on the public port, then 404; on the ops port, 200', async () => {
    expect(stack.gatewayOpsUrl).not.toBe(stack.gateway.url);
    expect((await fetch(`${stack.gateway.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${stack.gatewayOpsUrl}/metrics`)).status).toBe(200);
    expect(
      (await fetch(`${stack.gateway.url}/admin/upstreams`, { headers: { authorization: `Bearer ${ADMIN}` } }))
        .status,
    ).toBe(404);
    expect((await upstreams(stack)).map((m) => m.name)).toEqual(['departures-a', 'departures-b']);
  });
});

describe('bans', () => {
  const routes = [
    'WHP&to=LTN',
    'WHP&to=SAC',
    'WHP&to=BDM',
    'STP&to=BDM',
    'BFR&to=HPD',
    'SAC&to=LBG',
    'LTN&to=WHP',
    'HPD&to=STP',
  ];

  it('when the rail API bans one replica, then the next 50 requests all succeed fresh and the gateway shows it banned', async () => {
    const [replicaA] = stack.replicaAddresses;
    expect(replicaA).toBe('127.0.0.2');
    expect((await railSimAdmin(stack, '/admin/bans', 'POST', { ip: replicaA, seconds: 300 })).status).toBe(
      201,
    );
    const answers: { status: number; stale: boolean }[] = [];
    for (let i = 0; i < 50; i++) {
      const res = await api(`from=${routes[i % routes.length]}`);
      const body = (await res.json()) as GatewayAnswer;
      answers.push({ status: res.status, stale: body.stale });
    }
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(answers.filter((a) => a.stale)).toEqual([]);
    // A replica learns of its ban on its next upstream call. Which routes replica A owns depends
    // on its (free) port, and the routes above may all be cached already, so A is asked directly
    // for a route no one has fetched: its 429 is what makes it, then the gateway, see the ban.
    await fetch(`${stack.departures[0].url}/departures/CTK?to=BTN`);
    const members = await waitFor('replica A to show as banned', async () => {
      const list = await upstreams(stack);
      return list.some((m) => m.state === 'banned') ? list : undefined;
    });
    const banned = members.find((m) => m.state === 'banned');
    expect(banned?.name).toBe(stack.departures[0].label);
    expect(Date.parse(banned?.bannedUntil ?? '')).toBeGreaterThan(Date.now());
    const metrics = await (await fetch(`${stack.gatewayOpsUrl}/metrics`)).text();
    expect(metricValue(metrics, 'gateway_pool_members', { state: 'banned' })).toBe(1);
    expect(metricValue(metrics, 'gateway_pool_members', { state: 'ready' })).toBe(1);
  });

  it('when both replicas are banned, then seen routes get their last board marked stale and an unseen route gets 503 with Retry-After', async () => {
    expect(
      (await railSimAdmin(stack, '/admin/bans', 'POST', { ip: stack.replicaAddresses[1], seconds: 300 }))
        .status,
    ).toBe(201);
    // Replica B learns of its ban on its next upstream call: a route it has not cached yet.
    await api('from=MIL&to=RDT');
    await waitFor('both replicas banned', async () =>
      (await upstreams(stack)).every((m) => m.state === 'banned') ? true : undefined,
    );

    const res = await api('from=WHP&to=LTN&rows=3');
    expect(res.status).toBe(200);
    expect(res.headers.get('warning')).toMatch(/^110 /);
    const body = (await res.json()) as GatewayAnswer;
    expect(body).toMatchObject({ stale: true, source: 'stale', servedBy: 'gateway' });
    expect(body.ageSeconds).toBeGreaterThanOrEqual(0);
    expect(body.board.trainServices?.length).toBeLessThanOrEqual(3);

    const unseen = await api('from=HEN&to=ELS');
    expect(unseen.status).toBe(503);
    expect(unseen.headers.get('content-type')).toContain('application/problem+json');
    const retryAfter = Number(unseen.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(200);
    expect(retryAfter).toBeLessThanOrEqual(300);
    expect(((await unseen.json()) as { detail: string }).detail).toMatch(/try again in \d+ minutes/);
    const metrics = await (await fetch(`${stack.gatewayOpsUrl}/metrics`)).text();
    expect(
      metricValue(metrics, 'gateway_stale_responses_total', { origin: 'gateway' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('when the bans are lifted, then both replicas come back by themselves and boards are fresh again', async () => {
    expect((await railSimAdmin(stack, '/admin/bans', 'DELETE')).status).toBe(200);
    // Nothing asks the banned replicas for boards (readiness keeps traffic away): each finds out by
    // probing the upstream on its own (BAN_PROBE_INTERVAL_S is 2 s here).
    await waitFor(
      'both replicas ready',
      async () => ((await upstreams(stack)).every((m) => m.state === 'ready') ? true : undefined),
      {
        timeoutMs: 15_000,
        intervalMs: 250,
      },
    );
    const body = (await (await api('from=HEN&to=ELS')).json()) as GatewayAnswer;
    expect(body.stale).toBe(false);
  });
});

describe('bad input at the gateway', () => {
  const cases: [string, string, number, string | null][] = [
    ['an unknown station', 'from=XYZ&to=LTN', 400, 'from'],
    ['from equal to to', 'from=WHP&to=WHP', 400, 'to'],
    ['a missing from', 'to=LTN', 400, 'from'],
    ['a missing to', 'from=WHP', 400, 'to'],
    ['rows=100000', 'from=WHP&to=LTN&rows=100000', 400, 'rows'],
    ['from[]=x', 'from[]=x&to=LTN', 400, 'from'],
    ['from given twice', 'from=WHP&from=LTN&to=SAC', 400, 'from'],
    ['a path in from', 'from=..%2F..%2Fetc%2Fpasswd&to=LTN', 400, 'from'],
    ['an oversize query', `from=WHP&to=LTN&pad=${'x'.repeat(10_000)}`, 414, null],
  ];
  it.each(cases.map(([label, query, status, field]) => ({ label, query, status, field })))(
    'when $label, then $status problem+json',
    async ({ query, status, field }) => {
      const res = await api(query);
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const body = (await res.json()) as { field?: string; status: number };
      expect(body.status).toBe(status);
      if (field) expect(body.field).toBe(field);
    },
  );

  it.each(['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/api/../../package.json', '/.env'])(
    'when GET %s, then 4xx and no file from outside the page',
    async (path) => {
      const res = await fetch(`${stack.gateway.url}${path}`);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(await res.text()).not.toMatch(/root:|"workspaces"/);
    },
  );

  it('when a header carries a bare CR, then 400 problem+json, never 5xx', async () => {
    const raw = await rawHttpExchange(
      stack.gateway.port,
      'GET /api/departures?from=WHP&to=LTN HTTP/1.1\r\nHost: x\r\nX-Request-ID: a\rb\r\n\r\n',
    );
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).toContain('application/problem+json');
  });
});

describe('losing a replica', () => {
  const STEADY = ['WHP&to=LTN', 'WHP&to=SAC', 'STP&to=BDM'];
  const batch = () => Promise.all(STEADY.map(async (r) => (await api(`from=${r}`)).status));
  const gatewayMetrics = async () => (await fetch(`${stack.gatewayOpsUrl}/metrics`)).text();

  it('when a departures replica process is killed with a request in hand and under steady requests, then no request fails', async () => {
    expect((await upstreams(stack)).map((m) => m.state)).toEqual(['ready', 'ready']);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push(...(await batch()));

    // A route neither replica has seen: whichever replica the gateway gives it to must call
    // rail-sim, and that call waits at the gate, so the replica still has the request in hand when
    // it is killed, however the gateway chooses and however slow the machine is.
    const retriesBefore = metricValue(await gatewayMetrics(), 'gateway_retries_total') ?? 0;
    gate.hold();
    let rescued: Promise<Response> | undefined;
    let victim: (typeof stack.departures)[number] | undefined;
    try {
      rescued = api('from=KTN&to=ZFD');
      // Only this request's call: a replica may also be renewing a board ahead of its TTL.
      const call = await waitFor('the upstream call of the request to reach the gate', () =>
        gate.held.find((held) => held.path.includes('/KTN') && held.path.includes('filterCrs=ZFD')),
      );
      const index = stack.replicaAddresses.indexOf(call.from ?? '');
      victim = stack.departures[index];
      expect(victim, `the replica calling from ${call.from}`).toBeDefined();
      victim?.child.kill('SIGKILL');
      await victim?.exited;
    } finally {
      // The other replica's call for the same request (the gateway's retry) may go through now.
      gate.release();
    }
    const survivor = stack.departures.find((d) => d !== victim);
    const victimName = victim?.label;

    // The gateway lost the replica mid-request and asked the other one instead.
    const answer = (await rescued) as Response;
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ stale: false, servedBy: survivor?.label });
    const after = await gatewayMetrics();
    expect(metricValue(after, 'gateway_retries_total')).toBe(retriesBefore + 1);
    const ejections = after
      .split('\n')
      .filter((l) => l.startsWith('gateway_member_ejections_total{') && l.includes(`member="${victimName}"`));
    expect(ejections).toHaveLength(1);
    expect(ejections[0]).not.toMatch(/reason="(timeout|upstream_error)"/);

    // Steady requests go on until the health checks have found the replica gone, and a few after.
    await waitFor('the killed replica to be out of the pool', async () => {
      statuses.push(...(await batch()));
      return (await upstreams(stack)).find((m) => m.name === victimName)?.state === 'down' ? true : undefined;
    });
    for (let i = 0; i < 5; i++) statuses.push(...(await batch()));
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  });
});
