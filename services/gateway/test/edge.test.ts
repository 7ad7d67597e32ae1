import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type OtlpReceiver,
  type ServiceProcess,
  startOtlpReceiver,
  startService,
  waitFor,
} from '@failway/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The gateway as a real process (OpenTelemetry loaded as in production) on free ports, with the
// real route-config, one fake departures replica that records what the gateway sends it, and a
// local OTLP receiver.

const CLIENT_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN = 'b7ad6b7169203331';

interface Replica {
  url: string;
  /** The headers of every board request received. */
  requests: IncomingHttpHeaders[];
  server: Server;
}

async function fakeReplica(): Promise<Replica> {
  const requests: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://replica');
    res.setHeader('content-type', 'application/json');
    if (url.pathname === '/readyz') {
      res.end('{"status":"ready"}');
      return;
    }
    requests.push(req.headers);
    const now = new Date().toISOString();
    res.end(
      JSON.stringify({
        board: {
          generatedAt: now,
          locationName: 'Somewhere',
          crs: url.pathname.split('/')[2],
          filtercrs: url.searchParams.get('to'),
          trainServices: [{ std: '08:10', etd: 'On time' }],
        },
        source: 'upstream',
        ageSeconds: 0,
        fetchedAt: now,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server };
}

let otlp: OtlpReceiver;
let replica: Replica;
let routeConfig: ServiceProcess;
const processes: ServiceProcess[] = [];

async function gateway(env: Record<string, string>): Promise<ServiceProcess> {
  const proc = await startService('gateway', {
    OPS_PORT: '0',
    ROUTE_CONFIG_URL: routeConfig.url,
    DEPARTURES_URLS: `departures-a=${replica.url}`,
    HEALTH_CHECK_INTERVAL_MS: '300',
    ADMIN_TOKEN: 'edge-test-admin-token',
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
    OTEL_BSP_SCHEDULE_DELAY: '100',
    ...env,
  });
  processes.push(proc);
  await waitFor('the gateway ready', async () =>
    (await fetch(`${proc.url}/readyz`)).status === 200 ? true : undefined,
  );
  return proc;
}

beforeAll(async () => {
  otlp = await startOtlpReceiver();
  replica = await fakeReplica();
  routeConfig = await startService('route-config', {});
  processes.push(routeConfig);
});
afterAll(async () => {
  for (const proc of processes.reverse()) await proc.stop();
  replica?.server.closeAllConnections();
  replica?.server.close();
  await otlp?.close();
});

const board = (base: string, headers: Record<string, string>) =>
  fetch(`${base}/api/departures?from=WHP&to=LTN&rows=3`, { headers });

describe('the gateway process at the edge', () => {
  let gw: ServiceProcess;
  beforeAll(async () => {
    gw = await gateway({ TRACES_PER_SECOND: 'all' });
  });

  it('when started with OPS_PORT=0, then the ops port is learned from its log; /metrics and /admin answer there and 404 on the public port', async () => {
    expect(gw.opsPort).toBeGreaterThan(0);
    expect(gw.opsPort).not.toBe(gw.port);
    expect(gw.logs.find((l) => l.message === 'ops listening')).toMatchObject({ port: gw.opsPort });
    expect((await fetch(`${gw.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${gw.opsUrl}/metrics`)).status).toBe(200);
    const admin = { headers: { authorization: 'Bearer edge-test-admin-token' } };
    expect((await fetch(`${gw.url}/admin/upstreams`, admin)).status).toBe(404);
    const upstreams = await fetch(`${gw.opsUrl}/admin/upstreams`, admin);
    expect(upstreams.status).toBe(200);
    expect(await upstreams.json()).toMatchObject({ members: [{ name: 'departures-a', url: replica.url }] });
    expect((await fetch(`${gw.opsUrl}/readyz`)).status).toBe(200);
  });

  it("when a client sends traceparent and baggage, then the gateway starts its own trace linked to the client's span, the replica joins the gateway's trace, and neither the client's trace nor its baggage goes on; the request ID does", async () => {
    const requestId = 'edge-untrusted-trace';
    const res = await board(gw.url, {
      traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`,
      baggage: 'tenant=admin,role=root',
      'x-request-id': requestId,
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { servedBy: string }).servedBy).toBe('departures-a');
    const traceId = res.headers.get('x-trace-id');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(traceId).not.toBe(CLIENT_TRACE);

    const server = await waitFor('the gateway server span', () =>
      otlp.spans.find(
        (s) => s.service === 'gateway' && s.kind === 2 && s.attributes['request.id'] === requestId,
      ),
    );
    expect(server.traceId).toBe(traceId);
    expect(server.parentSpanId).toBe('');
    expect(server.links).toEqual([
      { traceId: CLIENT_TRACE, spanId: CLIENT_SPAN, attributes: { 'failway.link.untrusted_parent': true } },
    ]);
    expect(otlp.spans.filter((s) => s.traceId === CLIENT_TRACE)).toEqual([]);

    const sent = replica.requests.find((h) => h['x-request-id'] === requestId);
    expect(sent, 'the board request to the replica, with the request ID').toBeDefined();
    expect(String(sent?.traceparent)).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(sent?.baggage).toBeUndefined();
  });
});

describe('sampling at the edge', () => {
  it('when clients send sampled traceparents, then they do not decide sampling: TRACES_PER_SECOND still bounds the traces', async () => {
    // A bucket of one trace, refilled once in 1000 s: at most one of these requests is traced.
    const gw = await gateway({ TRACES_PER_SECOND: '0.001' });
    const ids = Array.from({ length: 6 }, (_, i) => `edge-sampling-${i}`);
    for (const id of ids) {
      const res = await board(gw.url, {
        traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`,
        'x-request-id': id,
      });
      expect(res.status).toBe(200);
    }
    // Every request reached the replica; give the exporter (100 ms batches) time to send.
    expect(replica.requests.filter((h) => ids.includes(String(h['x-request-id'])))).toHaveLength(6);
    await new Promise((r) => setTimeout(r, 1_000));
    const traced = otlp.spans.filter(
      (s) => s.service === 'gateway' && s.kind === 2 && ids.includes(String(s.attributes['request.id'])),
    );
    expect(traced.length).toBeLessThanOrEqual(1);
  });
});
