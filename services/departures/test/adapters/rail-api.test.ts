import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpClient, createMetrics, requestContext } from '@failway/telemetry';
import { afterEach, describe, expect, it } from 'vitest';
import { createRailApi } from '../../src/adapters/rail-api.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A loopback server that answers `{}` and keeps the headers of every request. */
async function recorder(): Promise<{ url: string; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    res.setHeader('content-type', 'application/json');
    res.end('{}');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('the rail API client', () => {
  it("when a board is asked for while serving a request, then the rail API gets the key but not the request's X-Request-ID; an internal hop gets it", async () => {
    const rail = await recorder();
    const internal = await recorder();
    const metrics = createMetrics('departures');
    const api = createRailApi({ baseUrl: rail.url, apiKey: 'k-123', timeoutMs: 2_000, metrics });
    const hop = createHttpClient({ peerService: 'route-config', baseUrl: internal.url, metrics });
    try {
      await requestContext.run({ requestId: 'client-chosen-id' }, async () => {
        await api.getDepartureBoard({ crs: 'WHP', filterCrs: 'LTN', numRows: 10 });
        await hop.request('/routes');
      });
    } finally {
      await api.close();
      await hop.close();
    }
    expect(rail.seen).toHaveLength(1);
    expect(rail.seen[0]?.['x-apikey']).toBe('k-123');
    expect(rail.seen[0]?.['x-request-id']).toBeUndefined();
    expect(internal.seen[0]?.['x-request-id']).toBe('client-chosen-id');
  });
});
