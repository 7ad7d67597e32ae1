import {
  metricValue,
  type OtlpReceiver,
  rawHttpExchange,
  type ServiceProcess,
  simOffsetToLondonHour,
  startOtlpReceiver,
  startService,
  startUpstreamGate,
  type UpstreamGate,
  waitFor,
} from '@failway/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ADMIN = 'component-admin-token';
const REPLICA_IP = '127.0.0.2';

let otlp: OtlpReceiver;
let railSim: ServiceProcess;
let departures: ServiceProcess;
/** Between departures and rail-sim, to hold an upstream call while callers pile up behind it. */
let gate: UpstreamGate;

async function admin(path: string, method: string, body?: unknown): Promise<Response> {
  return fetch(`${railSim.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function metrics(proc: ServiceProcess): Promise<string> {
  return (await fetch(`${proc.url}/metrics`)).text();
}

interface BoardAnswer {
  board: {
    crs: string;
    locationName: string;
    filtercrs: string | null;
    trainServices: Record<string, unknown>[] | null;
  };
  source: string;
  ageSeconds: number;
  fetchedAt: string;
  staleReason?: string;
}

beforeAll(async () => {
  otlp = await startOtlpReceiver();
  const telemetry = { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, OTEL_BSP_SCHEDULE_DELAY: '100' };
  railSim = await startService('rail-sim', {
    ...telemetry,
    RAIL_API_KEYS: 'component-key',
    ADMIN_TOKEN: ADMIN,
    LATENCY_MIN_MS: '5',
    LATENCY_MAX_MS: '20',
    // Boards show the morning peak whenever the test runs.
    SIM_TIME_OFFSET_MIN: String(simOffsetToLondonHour(8)),
  });
  gate = await startUpstreamGate(railSim.url);
  departures = await startService('departures', {
    ...telemetry,
    UPSTREAM_URL: gate.url,
    UPSTREAM_API_KEY: 'component-key',
    UPSTREAM_LOCAL_ADDRESS: REPLICA_IP,
    // Boards stay fresh for the whole file: whether a board is served from the cache never
    // depends on how fast the machine runs the tests.
    CACHE_TTL_S: '3600',
    // An upstream call the gate holds waits for the test, not for a deadline.
    UPSTREAM_TIMEOUT_MS: '60000',
  });
});

afterAll(async () => {
  await departures?.stop();
  await gate?.close();
  await railSim?.stop();
  await otlp?.close();
});

describe('GET /departures/:crs', () => {
  it('when asked for WHP to LTN, then it answers a realistic board fetched from the upstream', async () => {
    const before = Date.now();
    const res = await fetch(`${departures.url}/departures/WHP?to=LTN&rows=5`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-board-source')).toBe('upstream');
    const body = (await res.json()) as BoardAnswer;
    expect(body.source).toBe('upstream');
    expect(body.ageSeconds).toBe(0);
    expect(Date.parse(body.fetchedAt)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(body.fetchedAt)).toBeLessThanOrEqual(Date.now());
    expect(body.board).toMatchObject({
      crs: 'WHP',
      locationName: 'West Hampstead Thameslink',
      filtercrs: 'LTN',
    });
    const services = body.board.trainServices ?? [];
    expect(services.length).toBeGreaterThan(0);
    expect(services.length).toBeLessThanOrEqual(5);
    for (const s of services) {
      expect(s.std).toMatch(/^\d{2}:\d{2}$/);
      expect(String(s.etd)).toMatch(/^(On time|Delayed|Cancelled|\d{2}:\d{2})$/);
      expect(s.operator).toBe('Thameslink');
      const calls =
        (s.subsequentCallingPoints as { callingPoint: { crs: string }[] }[])[0]?.callingPoint ?? [];
      expect(calls.map((c) => c.crs)).toContain('LTN');
    }
  });

  it('when asked again within the TTL, then the cached board is served without an upstream call', async () => {
    await fetch(`${departures.url}/departures/SAC?to=BDM`);
    const before = metricValue(await metrics(railSim), 'railsim_requests_total', { outcome: 'ok' });
    const res = await fetch(`${departures.url}/departures/SAC?to=BDM&rows=2`);
    const body = (await res.json()) as BoardAnswer;
    expect(body.source).toBe('cache');
    expect(metricValue(await metrics(railSim), 'railsim_requests_total', { outcome: 'ok' })).toBe(before);
  });

  it('when asked with the entity tag of the answer it holds, then it answers 304 with the age and no body; another tag gets the board', async () => {
    const first = await fetch(`${departures.url}/departures/SAC?to=HPD&rows=10`);
    await first.arrayBuffer();
    const again = await fetch(`${departures.url}/departures/SAC?to=HPD&rows=10`);
    const answer = (await again.json()) as BoardAnswer;
    const etag = again.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-z]+-cache"$/);
    const before = metricValue(await metrics(railSim), 'railsim_requests_total', { outcome: 'ok' });
    const notModified = await fetch(`${departures.url}/departures/SAC?to=HPD&rows=10`, {
      headers: { 'if-none-match': etag as string },
    });
    expect(notModified.status).toBe(304);
    expect(await notModified.text()).toBe('');
    expect(notModified.headers.get('etag')).toBe(etag);
    expect(Number(notModified.headers.get('age'))).toBeGreaterThanOrEqual(answer.ageSeconds);
    const other = await fetch(`${departures.url}/departures/SAC?to=HPD&rows=10`, {
      headers: { 'if-none-match': '"0-cache"' },
    });
    expect(other.status).toBe(200);
    expect(((await other.json()) as BoardAnswer).fetchedAt).toBe(answer.fetchedAt);
    expect(metricValue(await metrics(railSim), 'railsim_requests_total', { outcome: 'ok' })).toBe(before);
  });

  it('when 20 callers ask for a new route at once, then the upstream is called once', async () => {
    const before = metricValue(await metrics(railSim), 'railsim_requests_total', { outcome: 'ok' }) ?? 0;
    const coalescedBefore =
      metricValue(await metrics(departures), 'departures_coalesced_requests_total') ?? 0;
    // The gate holds the first caller's upstream call until the other 19 have joined it, so the
    // callers overlap it however slowly they arrive.
    gate.hold();
    const answers = Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${departures.url}/departures/HPD?to=BDM`).then((r) => r.json() as Promise<BoardAnswer>),
      ),
    );
    try {
      await waitFor('19 callers to join the one upstream call held at the gate', async () => {
        const coalesced = metricValue(await metrics(departures), 'departures_coalesced_requests_total');
        return coalesced === coalescedBefore + 19 && gate.held.length === 1 ? true : undefined;
      });
    } finally {
      gate.release();
    }
    expect((await answers).map((a) => a.source)).toEqual(Array.from({ length: 20 }, () => 'upstream'));
    expect(metricValue(await metrics(railSim), 'railsim_requests_total', { outcome: 'ok' })).toBe(before + 1);
    expect(metricValue(await metrics(departures), 'departures_coalesced_requests_total')).toBe(
      coalescedBefore + 19,
    );
  });
});

describe('telemetry of one request', () => {
  it('when a request is served, then every log line of it in departures and rail-sim has one trace_id, and departures its request_id, which the rail API is not told', async () => {
    const requestId = 'component-logs-1';
    const res = await fetch(`${departures.url}/departures/WHP?to=FLT`, {
      headers: { 'X-Request-ID': requestId },
    });
    expect(res.headers.get('x-request-id')).toBe(requestId);
    // Each access line is written once its service's answer is out, so it can reach us after the
    // answer: wait for both of them, the last lines either service writes for the request.
    // rail-sim stands for the third-party rail API: it gets the trace context but not our request
    // ID, so its lines are found by the trace and carry an ID of its own.
    const lines = await waitFor('the access lines of both services', () => {
      const ours = departures.logs.filter((l) => l.request_id === requestId);
      const traceId = ours.find((l) => l.message === 'request completed')?.trace_id;
      const theirs = railSim.logs.filter((l) => traceId !== undefined && l.trace_id === traceId);
      return traceId && theirs.some((l) => l.message === 'request completed')
        ? [...ours, ...theirs]
        : undefined;
    });
    expect(railSim.logs.filter((l) => l.request_id === requestId)).toEqual([]);
    const traceIds = new Set(lines.map((l) => l.trace_id));
    expect(traceIds.size).toBe(1);
    expect([...traceIds][0]).toMatch(/^[0-9a-f]{32}$/);
    for (const line of lines) {
      for (const field of ['timestamp', 'level', 'service', 'message', 'request_id', 'trace_id', 'span_id']) {
        expect(line[field], `${field} in ${JSON.stringify(line)}`).toBeTruthy();
      }
    }
    const access = lines.filter((l) => l.message === 'request completed');
    expect(access.map((l) => l.service).sort()).toEqual(['departures', 'rail-sim']);
    expect(access.find((l) => l.service === 'departures')).toMatchObject({
      route: '/departures/:crs',
      status: 200,
      method: 'GET',
    });
  });

  it('when a request fetches from the upstream, then one trace holds the server span, the cache span and the rail-sim call with rail-sim under it', async () => {
    const requestId = 'component-trace-1';
    await fetch(`${departures.url}/departures/WHP?to=LUT`, { headers: { 'X-Request-ID': requestId } });
    const server = await waitFor('the departures server span', () =>
      otlp.spans.find(
        (s) => s.service === 'departures' && s.kind === 2 && s.attributes['request.id'] === requestId,
      ),
    );
    const trace = await waitFor('the rail-sim server span in the same trace', () => {
      const spans = otlp.spans.filter((s) => s.traceId === server.traceId);
      return spans.some((s) => s.service === 'rail-sim' && s.kind === 2) ? spans : undefined;
    });
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const descendsFrom = (span: { parentSpanId: string }, ancestorId: string): boolean => {
      let parent = byId.get(span.parentSpanId);
      for (let depth = 0; parent && depth < 20; depth++) {
        if (parent.spanId === ancestorId) return true;
        parent = byId.get(parent.parentSpanId);
      }
      return false;
    };
    expect(server.parentSpanId).toBe('');
    expect(server.attributes['http.route']).toBe('/departures/:crs');
    const cache = trace.find((s) => s.name === 'cache.lookup');
    expect(cache?.attributes['cache.result']).toBe('miss');
    expect(cache && descendsFrom(cache, server.spanId)).toBe(true);
    const client = trace.find((s) => s.service === 'departures' && s.kind === 3);
    expect(client && descendsFrom(client, server.spanId)).toBe(true);
    const upstreamServer = trace.find((s) => s.service === 'rail-sim' && s.kind === 2);
    expect(upstreamServer?.parentSpanId).toBe(client?.spanId);
    // The rail API gets the trace context, not our request ID: rail-sim made one of its own.
    expect(upstreamServer?.attributes['request.id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('when probes and scrapers call /healthz, /readyz and /metrics, then no spans are made for them', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics'])
      expect((await fetch(`${departures.url}${path}`)).status).toBe(200);
    const marker = 'component-after-ops';
    await fetch(`${departures.url}/departures/WHP?to=LTN`, { headers: { 'X-Request-ID': marker } });
    // Spans are exported in order, so once the later request's span is here the earlier ones would be too.
    await waitFor('the later request span', () =>
      otlp.spans.find((s) => s.attributes['request.id'] === marker),
    );
    const ops = otlp.spans.filter((s) =>
      /\/(healthz|readyz|metrics)\b/.test(
        String(s.attributes['url.path'] ?? s.attributes['http.target'] ?? s.name),
      ),
    );
    expect(ops).toEqual([]);
  });

  it('when Prometheus scrapes with OpenMetrics, then the RED histogram has the route template and trace_id exemplars', async () => {
    const om = await fetch(`${departures.url}/metrics`, {
      headers: { accept: 'application/openmetrics-text; version=1.0.0' },
    });
    expect(om.headers.get('content-type')).toContain('application/openmetrics-text');
    const text = await om.text();
    expect(text).toMatch(
      /http_server_request_duration_seconds_bucket\{le="[^"]+",service="departures",method="GET",route="\/departures\/:crs",status_code="200"\} \d+ # \{trace_id="[0-9a-f]{32}"\}/,
    );
    expect(text).not.toMatch(/route="\/departures\/WHP"/);
    const plain = await fetch(`${departures.url}/metrics`);
    expect(plain.headers.get('content-type')).toContain('text/plain');
    const plainText = await plain.text();
    expect(plainText).toContain('http_server_request_duration_seconds_count');
    expect(plainText).not.toContain('# {trace_id');
  });
});

describe('when the upstream bans this replica', () => {
  // A replica of its own, so its bans and its short TTL leave the other tests alone.
  const BANNED_IP = '127.0.0.3';
  let replica: ServiceProcess;

  beforeAll(async () => {
    replica = await startService('departures', {
      UPSTREAM_URL: railSim.url,
      UPSTREAM_API_KEY: 'component-key',
      UPSTREAM_LOCAL_ADDRESS: BANNED_IP,
      CACHE_TTL_S: '1',
      // A ban the upstream does not time (an HTML 403) is taken to last 1 s: short enough to see
      // it run out, while rail-sim's own ban on the address lasts minutes.
      BAN_ASSUMED_DURATION_S: '1',
      // No probing: only the expiry ends a ban here.
      BAN_PROBE_INTERVAL_S: '0',
    });
  });

  afterAll(async () => {
    await replica?.stop();
    await admin('/admin/bans', 'DELETE');
    await admin('/admin/faults', 'DELETE');
  });

  const bannedCalls = async () =>
    metricValue(await metrics(railSim), 'railsim_requests_total', { outcome: 'banned' }) ?? 0;

  it('then it recovers by itself once the ban has expired, without asking the upstream, and serves fresh boards again', async () => {
    expect((await admin('/admin/faults', 'POST', { banStyle: '403' })).status).toBe(200);
    expect((await admin('/admin/bans', 'POST', { ip: BANNED_IP, seconds: 300 })).status).toBe(201);
    const refused = await fetch(`${replica.url}/departures/WHP?to=BDM`);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ status: 503, reason: 'banned' });
    expect(metricValue(await metrics(replica), 'departures_upstream_bans_total', { style: 'http-403' })).toBe(
      1,
    );
    const upstreamRefusals = await bannedCalls();

    // rail-sim still bans the address: only the replica's own clock can end the ban it assumed.
    await waitFor(
      'readiness to come back',
      async () => ((await fetch(`${replica.url}/readyz`)).status === 200 ? true : undefined),
      { timeoutMs: 8_000, intervalMs: 100 },
    );
    expect(metricValue(await metrics(replica), 'departures_upstream_banned')).toBe(0);
    expect(await bannedCalls()).toBe(upstreamRefusals);

    expect((await admin(`/admin/bans/${BANNED_IP}`, 'DELETE')).status).toBe(200);
    expect((await admin('/admin/faults', 'DELETE')).status).toBe(200);
    const fresh = (await (await fetch(`${replica.url}/departures/WHP?to=BDM`)).json()) as BoardAnswer;
    expect(fresh.source).toBe('upstream');
    await waitFor('the ban-over log line', () =>
      replica.logs.find((l) => l.message.startsWith('upstream ban is over')),
    );
  });

  it('then readiness turns 503 until the announced expiry, cached boards are served stale and unseen routes get 503', async () => {
    const warm = await fetch(`${replica.url}/departures/WHP?to=BDM`);
    expect(warm.status).toBe(200);
    const warmBody = (await warm.json()) as BoardAnswer;
    // Serving the board again needs the upstream once it is older than the 1 s TTL.
    await waitFor(
      'the cached board to pass its TTL',
      () => (Date.now() - Date.parse(warmBody.fetchedAt) > 1_000 ? true : undefined),
      { timeoutMs: 5_000, intervalMs: 50 },
    );
    // Long enough that nothing below can outlast it.
    const ban = await admin('/admin/bans', 'POST', { ip: BANNED_IP, seconds: 300 });
    expect(ban.status).toBe(201);
    const banUntil = Date.parse(((await ban.json()) as { until: string }).until);

    const stale = await fetch(`${replica.url}/departures/WHP?to=BDM`);
    expect(stale.status).toBe(200);
    expect(stale.headers.get('warning')).toContain('110');
    const staleBody = (await stale.json()) as BoardAnswer;
    expect(staleBody).toMatchObject({
      source: 'stale',
      staleReason: 'banned',
      fetchedAt: warmBody.fetchedAt,
    });
    expect(staleBody.ageSeconds).toBeGreaterThanOrEqual(1);

    const ready = await fetch(`${replica.url}/readyz`);
    expect(ready.status).toBe(503);
    const readyBody = (await ready.json()) as { status: string; until: string };
    expect(readyBody.status).toBe('banned');
    // The expiry rail-sim announced (Retry-After rounds up, so never earlier).
    expect(Date.parse(readyBody.until)).toBeGreaterThanOrEqual(banUntil);

    const unseen = await fetch(`${replica.url}/departures/LEA?to=BDM`);
    expect(unseen.status).toBe(503);
    expect(unseen.headers.get('content-type')).toContain('application/problem+json');
    expect(Number(unseen.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await unseen.json()).toMatchObject({ status: 503, reason: 'banned' });

    const during = await metrics(replica);
    expect(metricValue(during, 'departures_upstream_banned')).toBe(1);
    expect(metricValue(during, 'departures_upstream_bans_total', { style: 'http-429' })).toBe(1);
    expect(metricValue(during, 'departures_cache_lookups_total', { result: 'stale' })).toBeGreaterThanOrEqual(
      1,
    );
    const warning = await waitFor('the ban warning', () =>
      replica.logs.find(
        (l) => l.message.startsWith('upstream banned this replica') && l.ban_style === 'http-429',
      ),
    );
    expect(warning.level).toBe('warn');
  });
});

describe('bad input', () => {
  const cases: [string, string, number, string | null][] = [
    ['/departures/XX', '/departures/XX', 400, 'crs'],
    ['/departures/WH1', '/departures/WH1', 400, 'crs'],
    ['/departures/WHP?rows=-1', '/departures/WHP?rows=-1', 400, 'rows'],
    ['/departures/WHP?rows=abc', '/departures/WHP?rows=abc', 400, 'rows'],
    ['/departures/WHP?rows=11', '/departures/WHP?rows=11', 400, 'rows'],
    ['/departures/WHP?to=L', '/departures/WHP?to=L', 400, 'to'],
    ['/departures/WHP?to=WHP', '/departures/WHP?to=WHP', 400, 'to'],
    ['/departures/WHP?to=LTN&to=LUT', '/departures/WHP?to=LTN&to=LUT', 400, 'to'],
    ['/departures/%E0%A4%A', '/departures/%E0%A4%A', 400, null],
    ['/departures/WHP?to=LTN&x=<10 kB>', `/departures/WHP?to=LTN&x=${'a'.repeat(10_000)}`, 414, null],
    ['/nope', '/nope', 404, null],
  ];
  it.each(cases.map(([label, path, status, field]) => ({ label, path, status, field })))(
    'when GET $label, then $status problem+json (naming the field if any)',
    async ({ path, status, field }) => {
      const res = await fetch(`${departures.url}${path}`);
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const body = (await res.json()) as {
        status: number;
        detail: string;
        field?: string;
        request_id: string;
      };
      expect(body.status).toBe(status);
      expect(body.request_id).toBe(res.headers.get('x-request-id'));
      if (field) {
        expect(body.field).toBe(field);
        expect(body.detail).toContain(field);
      }
    },
  );

  it('when the X-Request-ID header is not acceptable, then a new one is made and echoed', async () => {
    for (const bad of ['has space', 'x'.repeat(129), 'semi;colon']) {
      const res = await fetch(`${departures.url}/departures/WHP?to=LTN`, {
        headers: { 'X-Request-ID': bad },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('when a header carries a bare CR, then 400 problem+json names the header, never a 5xx', async () => {
    const raw = await rawHttpExchange(
      departures.port,
      'GET /departures/WHP HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-ID: abc\rdef\r\n\r\n',
    );
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).toContain('application/problem+json');
    expect(raw).toMatch(/X-Request-ID/i);
  });
});

describe('graceful shutdown', () => {
  it('when SIGTERM arrives, then the replica logs its stop and exits 0 promptly', async () => {
    const extra = await startService('departures', {
      UPSTREAM_URL: railSim.url,
      UPSTREAM_API_KEY: 'component-key',
    });
    const code = await extra.stop();
    const seen = () =>
      `messages: ${extra.logs.map((l) => l.message).join(' | ')}\noutput: ${extra.output.join('\n')}`;
    // Promptly: the forced exit when the drain outlasts its 10 s timeout exits 1, and stop()'s
    // SIGKILL after 10 s gives 128; only a drain that finished in time exits 0.
    expect(code, seen()).toBe(0);
    expect(
      extra.logs.map((l) => l.message),
      seen(),
    ).toEqual(expect.arrayContaining(['shutting down', 'stopped']));
  });

  it('when a required variable is missing, then it exits non-zero naming the variable', async () => {
    await expect(
      startService('departures', { UPSTREAM_URL: railSim.url }, { timeoutMs: 10_000 }),
    ).rejects.toThrow(/UPSTREAM_API_KEY/);
  });
});
