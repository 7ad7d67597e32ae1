import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConnectTimeoutError,
  createHttpClient,
  errorKind,
  type HttpClient,
  ResponseCutOffError,
  ResponseTooLargeError,
  resolveUrl,
} from '../src/client.ts';
import { requestContext } from '../src/context.ts';
import { createMetrics, render, type ServiceMetrics } from '../src/metrics.ts';

interface Seen {
  url: string | undefined;
  method: string | undefined;
  headers: http.IncomingHttpHeaders;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
}

let server: http.Server;
let baseUrl: string;
const seen: Seen[] = [];
const clients: HttpClient[] = [];
let metrics: ServiceMetrics;

function client(options: Partial<Parameters<typeof createHttpClient>[0]> = {}): HttpClient {
  const c = createHttpClient({ peerService: 'upstream', baseUrl, metrics, ...options });
  clients.push(c);
  return c;
}

/** The `_count` of the client histogram for one label set, 0 when the series does not exist. */
async function clientCount(labels: Record<string, string>): Promise<number> {
  const { body } = await render(metrics.registry, undefined);
  const line = body
    .split('\n')
    .find(
      (l) =>
        l.startsWith('http_client_request_duration_seconds_count{') &&
        Object.entries(labels).every(([key, value]) => l.includes(`${key}="${value}"`)),
    );
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** A port on 127.0.0.1 with nothing listening. */
async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * What settles first: `call`, or a timer of `ms` armed now (after the call armed its own deadline).
 * Node fires timers in deadline order, so with `ms` between the deadline the call should have and
 * the one it must not have, the right deadline wins and the wrong one loses however late the machine
 * runs them: no wall-clock bound is needed to tell which deadline ended the call.
 */
async function firstOf<T>(call: Promise<T>, ms: number, label: string): Promise<T | string> {
  let timer: NodeJS.Timeout | undefined;
  const sentinel = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(label), ms);
  });
  try {
    return await Promise.race([call, sentinel]);
  } finally {
    clearTimeout(timer);
  }
}

beforeAll(async () => {
  metrics = createMetrics('svc');
  server = http.createServer((req, res) => {
    seen.push({
      url: req.url,
      method: req.method,
      headers: req.headers,
      remoteAddress: req.socket.remoteAddress,
      remotePort: req.socket.remotePort,
    });
    if (req.url === '/hang') return; // never answers
    if (req.url?.startsWith('/big')) {
      // 64 KiB, with a Content-Length (/big-declared) or streamed in chunks without one (/big).
      const body = Buffer.alloc(64 * 1024, 'x');
      if (req.url === '/big-declared') res.writeHead(200, { 'content-length': body.length });
      else res.writeHead(200);
      for (let i = 0; i < body.length; i += 4096) res.write(body.subarray(i, i + 4096));
      res.end();
      return;
    }
    if (req.url === '/cut') {
      // Promises 1000 bytes, sends 10, then hangs up.
      res.writeHead(200, { 'content-length': 1000 });
      res.write('0123456789', () => res.socket?.destroy());
      return;
    }
    if (req.url === '/missing') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes' });
    res.end(JSON.stringify({ ok: true }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('resolveUrl', () => {
  it.each([
    ['http://127.0.0.1:8090', '/LDBWS/api/x?numRows=2', 'http://127.0.0.1:8090/LDBWS/api/x?numRows=2'],
    ['http://127.0.0.1:8090/', '/readyz', 'http://127.0.0.1:8090/readyz'],
    ['https://api.example/rail-data', '/LDBWS/api/x', 'https://api.example/rail-data/LDBWS/api/x'],
    ['https://api.example/rail-data/', 'LDBWS/api/x', 'https://api.example/rail-data/LDBWS/api/x'],
  ])('when the base is %s and the path %s, then the URL keeps the base path', (base, path, expected) => {
    expect(resolveUrl(base, path).href).toBe(expected);
  });
});

describe('createHttpClient', () => {
  it('when the server answers, then status, headers and body come back', async () => {
    const res = await client().request('/ok?x=1');
    expect(res.status).toBe(200);
    expect(res.headers['x-upstream']).toBe('yes');
    expect(JSON.parse(res.body)).toEqual({ ok: true });
    expect(seen.at(-1)).toMatchObject({ url: '/ok?x=1', method: 'GET' });
  });

  it('when the base URL has a path, then requests go below it (an API under a product prefix)', async () => {
    await client({ baseUrl: `${baseUrl}/rail-data` }).request('/ok?x=1');
    expect(seen.at(-1)).toMatchObject({ url: '/rail-data/ok?x=1' });
  });

  it('when called inside a request context, then the request ID is forwarded as x-request-id', async () => {
    await requestContext.run({ requestId: 'rid-9' }, () => client().request('/ctx'));
    expect(seen.at(-1)?.headers['x-request-id']).toBe('rid-9');
  });

  it('when called outside a request context, then no x-request-id is sent', async () => {
    await client().request('/no-ctx', { headers: { 'x-custom': '1' } });
    expect(seen.at(-1)?.headers['x-request-id']).toBeUndefined();
    expect(seen.at(-1)?.headers['x-custom']).toBe('1');
  });

  it('when a call completes, then it is counted by peer service, method and status code', async () => {
    const c = client({ peerService: 'counted' });
    await c.request('/a');
    await c.request('/b', { method: 'POST' });
    await c.request('/missing');
    expect(await clientCount({ peer_service: 'counted', method: 'GET', status_code: '200' })).toBe(1);
    expect(await clientCount({ peer_service: 'counted', method: 'POST', status_code: '200' })).toBe(1);
    expect(await clientCount({ peer_service: 'counted', method: 'GET', status_code: '404' })).toBe(1);
    expect(await clientCount({ peer_service: 'counted', service: 'svc' })).toBeGreaterThan(0);
  });

  it('when the server never answers, then the call rejects at the deadline and is counted as a timeout', async () => {
    const c = client({ peerService: 'slow', timeoutMs: 200 });
    const started = performance.now();
    // Ended by its own 200 ms deadline, not by the 3 s default one.
    const error = await firstOf(
      c.request('/hang').catch((e: unknown) => e),
      1_000,
      'still pending after 1 s',
    );
    expect(error).toBeInstanceOf(Error);
    expect(errorKind(error)).toBe('timeout');
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    expect(await clientCount({ peer_service: 'slow', status_code: 'timeout' })).toBe(1);
  });

  it('when a per-call timeout is given, then it overrides the client default', async () => {
    const c = client({ peerService: 'per-call', timeoutMs: 10_000 });
    // Ended by the call's 100 ms deadline, not by the client's 10 s one.
    const error = await firstOf(
      c.request('/hang', { timeoutMs: 100 }).catch((e: unknown) => e),
      1_000,
      'still pending after 1 s',
    );
    expect(error).toBeInstanceOf(Error);
    expect(errorKind(error)).toBe('timeout');
    expect(await clientCount({ peer_service: 'per-call', status_code: 'timeout' })).toBe(1);
  });

  it('when a header is one node:http refuses, then the call rejects at once, and nothing fires after it', async () => {
    const c = client({ peerService: 'bad-header', timeoutMs: 50 });
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      // e.g. an ETag a replica sent, asked with in If-None-Match: a line break is refused.
      await expect(c.request('/ok', { headers: { 'if-none-match': 'a\nb' } })).rejects.toMatchObject({
        code: 'ERR_INVALID_CHAR',
      });
      // Past the call's deadline: its timer must not have outlived it.
      await new Promise((resolve) => setTimeout(resolve, 120));
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(await clientCount({ peer_service: 'bad-header', status_code: 'error' })).toBe(1);
  });

  it("when the caller's signal aborts, then the call rejects and is counted as an error, not a timeout", async () => {
    const c = client({ peerService: 'aborted' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expect(c.request('/hang', { signal: controller.signal })).rejects.toThrow();
    expect(await clientCount({ peer_service: 'aborted', status_code: 'error' })).toBe(1);
  });

  it('when nothing listens on the port, then the call rejects and is counted as an error', async () => {
    const port = await closedPort();
    const c = client({ peerService: 'down', baseUrl: `http://127.0.0.1:${port}` });
    const error = await c.request('/').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(errorKind(error)).toBe('error');
    expect(await clientCount({ peer_service: 'down', method: 'GET', status_code: 'error' })).toBe(1);
    expect(await clientCount({ peer_service: 'down', status_code: 'timeout' })).toBe(0);
  });

  it('when the server hangs up before the whole body, then the call rejects as an error, counted so', async () => {
    const c = client({ peerService: 'cut' });
    const error = await c.request('/cut').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(errorKind(error)).toBe('error');
    expect(await clientCount({ peer_service: 'cut', status_code: 'error' })).toBe(1);
  });

  it('when calls follow one another, then they share one kept-alive connection', async () => {
    const c = client({ peerService: 'kept' });
    const ports = new Set<number | undefined>();
    for (let i = 0; i < 5; i++) {
      await c.request('/kept');
      ports.add(seen.at(-1)?.remotePort);
    }
    expect(ports.size).toBe(1);
  });

  it('when a local address is given, then connections come from it', async () => {
    await client({ localAddress: '127.0.0.3' }).request('/from');
    expect(seen.at(-1)?.url).toBe('/from');
    expect(seen.at(-1)?.remoteAddress).toMatch(/^(::ffff:)?127\.0\.0\.3$/);
  });
});

describe('createHttpClient with maxResponseBytes', () => {
  it.each([
    ['streamed without a Content-Length', '/big'],
    ['announced by its Content-Length', '/big-declared'],
  ])(
    'when a body %s is larger, then the call rejects as too_large and is counted so',
    async (_what, path) => {
      const before = await clientCount({ peer_service: 'capped', status_code: 'too_large' });
      const capped = client({ peerService: 'capped', maxResponseBytes: 16 * 1024 });
      const error = await capped.request(path).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({
        name: 'ResponseTooLargeError',
        code: 'ERR_RESPONSE_TOO_LARGE',
        message: 'capped answered with a body larger than 16384 bytes',
      });
      expect(errorKind(error)).toBe('too_large');
      expect(await clientCount({ peer_service: 'capped', status_code: 'too_large' })).toBe(before + 1);
    },
  );

  it('when a body is within the limit, or no limit is set, then it comes back whole', async () => {
    expect((await client({ maxResponseBytes: 64 * 1024 }).request('/big')).body).toHaveLength(64 * 1024);
    expect((await client().request('/big')).body).toHaveLength(64 * 1024);
  });
});

describe('errorKind', () => {
  it.each([
    ['a TimeoutError', Object.assign(new Error('t'), { name: 'TimeoutError' }), 'timeout'],
    ['a connect timeout', new ConnectTimeoutError('peer', 1_000), 'timeout'],
    ['an answer cut off', new ResponseCutOffError('peer'), 'error'],
    ['a refused connection', Object.assign(new Error('r'), { code: 'ECONNREFUSED' }), 'error'],
    ['a body over maxResponseBytes', new ResponseTooLargeError('peer', 1), 'too_large'],
    ['an AbortError', Object.assign(new Error('a'), { name: 'AbortError' }), 'error'],
    ['a non-error value', 'boom', 'error'],
  ])('when given %s, then it says %s', (_what, error, kind) => {
    expect(errorKind(error)).toBe(kind);
  });
});
