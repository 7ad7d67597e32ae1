import { EventEmitter, once } from 'node:events';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { currentRequestId } from '../src/context.ts';
import { AppError } from '../src/errors.ts';
import { Health, type ReadinessState } from '../src/health.ts';
import { createServiceApp, MAX_URL_LENGTH } from '../src/http.ts';
import { createLogger } from '../src/logger.ts';
import { createMetrics, type ServiceMetrics } from '../src/metrics.ts';
import { CaptureTransport, until } from './support.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TIMEOUT_MS = 5000;

interface TestApp {
  url: string;
  lines: Record<string, unknown>[];
  health: Health;
  metrics: ServiceMetrics;
  /** Access log lines ("request completed"). */
  accessLines(): Record<string, unknown>[];
}

const servers: Server[] = [];
/** Emits 'slow' when a /slow request has reached its route handler. */
const arrivals = new EventEmitter();

function routes(app: Express): void {
  app.get('/items/:id', (req, res) => {
    res.json({ id: req.params.id, requestId: currentRequestId() ?? null });
  });
  app.get('/boom', () => {
    throw new Error('secret db password');
  });
  app.get('/boom-async', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    throw new Error('secret async password');
  });
  app.get('/teapot', () => {
    throw new AppError({
      status: 418,
      code: 'teapot',
      title: 'Teapot',
      detail: 'short and stout',
      headers: { 'Retry-After': '7' },
      extensions: { field: 'pot' },
    });
  });
  app.get('/client-error', (req) => {
    // Errors from express middleware (body-parser and the like) carry status and expose.
    throw Object.assign(new Error(`bad input ${req.query.secret ?? ''}`), {
      status: 400,
      expose: req.query.expose === '1',
    });
  });
  app.get('/slow', (_req, res) => {
    const timer = setTimeout(() => res.json({ late: true }), 10_000);
    res.on('close', () => clearTimeout(timer));
    arrivals.emit('slow');
  });
}

async function startApp(
  check?: () => ReadinessState,
  responseHeaders?: Record<string, string>,
): Promise<TestApp> {
  const capture = new CaptureTransport();
  const logger = createLogger({ service: 'svc', transports: [capture] });
  const metrics = createMetrics('svc');
  const health = new Health(check);
  const app = createServiceApp({
    logger,
    metrics,
    health,
    routes,
    ...(responseHeaders ? { responseHeaders } : {}),
  });
  const server = app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    lines: capture.lines,
    health,
    metrics,
    accessLines: () => capture.lines.filter((line) => line.message === 'request completed'),
  };
}

function get(app: TestApp, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${app.url}${path}`, { headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
}

afterAll(async () => {
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    ),
  );
});

describe('createServiceApp', () => {
  describe('health endpoints', () => {
    it('when /healthz is asked, then it answers 200 even before the service has started', async () => {
      const app = await startApp();
      const res = await get(app, '/healthz');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
    });

    it('when the service goes from starting to started to shutting down, then /readyz follows', async () => {
      const app = await startApp();
      let res = await get(app, '/readyz');
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ ready: false, status: 'starting' });

      app.health.markStarted();
      res = await get(app, '/readyz');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ready' });

      app.health.markShuttingDown();
      res = await get(app, '/readyz');
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ ready: false, status: 'shutting_down' });
    });

    it("when the service's own check says not ready, then /readyz answers 503 with the check's state", async () => {
      const app = await startApp(() => ({ ready: false, status: 'banned', until: 'x' }));
      app.health.markStarted();
      const res = await get(app, '/readyz');
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toEqual({ ready: false, status: 'banned', until: 'x' });
    });

    it('when health, readiness and metrics are polled, then they write no access log line and no RED sample', async () => {
      const app = await startApp();
      for (const path of ['/healthz', '/readyz', '/metrics']) await (await get(app, path)).text();
      await (await get(app, '/items/1')).text();
      await until(() => app.accessLines().length === 1, TIMEOUT_MS, 'the /items access line');
      expect(app.lines.map((line) => line.path)).toEqual(['/items/1']);
      const metrics = await (await get(app, '/metrics')).text();
      expect(metrics).not.toMatch(/route="\/(healthz|readyz|metrics)"/);
    });
  });

  describe('request IDs', () => {
    it('when the caller sends a valid X-Request-ID, then it is echoed and used in the request context', async () => {
      const app = await startApp();
      const res = await get(app, '/items/42', { 'X-Request-ID': 'abc-123_X.y' });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-request-id')).toBe('abc-123_X.y');
      expect(await res.json()).toEqual({ id: '42', requestId: 'abc-123_X.y' });
    });

    it('when the caller sends no X-Request-ID, then a UUID is made, echoed and used', async () => {
      const app = await startApp();
      const res = await get(app, '/items/42');
      const id = res.headers.get('x-request-id');
      expect(id).toMatch(UUID);
      expect(await res.json()).toEqual({ id: '42', requestId: id });
    });

    it('when the caller sends an invalid X-Request-ID, then a UUID replaces it', async () => {
      const app = await startApp();
      const res = await get(app, '/items/42', { 'X-Request-ID': 'has;semicolon' });
      expect(res.headers.get('x-request-id')).toMatch(UUID);
      await res.text();
    });
  });

  describe('access log', () => {
    it('when a route is served, then exactly one access line is written with the route template', async () => {
      const app = await startApp();
      const started = performance.now();
      const res = await get(app, '/items/42', { 'X-Request-ID': 'req-access' });
      await res.text();
      const roundTripMs = performance.now() - started;
      // A later request's line is written after every event of the first one (its 'finish' and its
      // 'close' both try to log): once it is there, a second line for the first would be too.
      await (await get(app, '/items/43', { 'X-Request-ID': 'req-later' })).text();
      await until(
        () => app.accessLines().some((l) => l.request_id === 'req-later'),
        TIMEOUT_MS,
        'the later access line',
      );
      const lines = app.accessLines().filter((l) => l.request_id === 'req-access');
      expect(lines).toHaveLength(1);
      const line = lines[0] ?? {};
      expect(line).toMatchObject({
        level: 'info',
        service: 'svc',
        request_id: 'req-access',
        method: 'GET',
        route: '/items/:id',
        path: '/items/42',
        status: 200,
      });
      expect(typeof line.duration_ms).toBe('number');
      expect(line.duration_ms).toBeGreaterThanOrEqual(0);
      // Milliseconds (rounded to 0.1), measured inside the round trip the client saw.
      expect(line.duration_ms).toBeLessThanOrEqual(Math.ceil(roundTripMs * 10) / 10);
    });

    it('when the client hangs up before the answer, then the access line says 499', async () => {
      const app = await startApp();
      const controller = new AbortController();
      const arrived = once(arrivals, 'slow');
      const pending = fetch(`${app.url}/slow`, { signal: controller.signal });
      // Abort once the server has the request (its access line cannot exist before it ends).
      await arrived;
      controller.abort();
      await expect(pending).rejects.toThrow();
      await until(() => app.accessLines().length > 0, TIMEOUT_MS, 'the access line of /slow');
      expect(app.accessLines()[0]).toMatchObject({ route: '/slow', status: 499, level: 'warn' });
    });
  });

  describe('RED metrics', () => {
    it('when a route with a parameter is served, then the histogram is labelled by template, not by path', async () => {
      const app = await startApp();
      await (await get(app, '/items/42')).text();
      await (await get(app, '/items/43')).text();
      await (await get(app, '/nope')).text();
      await until(() => app.accessLines().length === 3, TIMEOUT_MS, 'three access lines');
      const body = await (await get(app, '/metrics')).text();
      const count = body
        .split('\n')
        .filter((line) => line.startsWith('http_server_request_duration_seconds_count{'));
      expect(count.find((line) => line.includes('route="/items/:id"'))).toMatch(
        /^http_server_request_duration_seconds_count\{(?=.*method="GET")(?=.*status_code="200")(?=.*service="svc").*\} 2$/,
      );
      expect(count.find((line) => line.includes('route="unmatched"'))).toMatch(/status_code="404"/);
      expect(body).not.toContain('/items/42');
      expect(body).not.toContain('/nope');
    });

    it('when /metrics is scraped as OpenMetrics, then it answers in OpenMetrics', async () => {
      const app = await startApp();
      const res = await get(app, '/metrics', { Accept: 'application/openmetrics-text; version=1.0.0' });
      expect(res.headers.get('content-type')).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
      expect(await res.text()).toMatch(/# EOF\n$/);
      const text = await get(app, '/metrics');
      expect(text.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await text.text()).not.toContain('# EOF');
    });
  });

  describe('problem+json errors', () => {
    it('when no route matches, then it answers 404 problem+json naming the request', async () => {
      const app = await startApp();
      const res = await get(app, '/nope?x=1', { 'X-Request-ID': 'req-404' });
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toEqual({
        type: 'urn:failway:problem:not-found',
        title: 'Not found',
        status: 404,
        detail: 'no route for GET /nope',
        instance: '/nope',
        request_id: 'req-404',
      });
      expect(body.request_id).toBe(res.headers.get('x-request-id'));
    });

    it('when a route throws an unexpected error, then it answers a generic 500 and logs the error', async () => {
      const app = await startApp();
      const res = await get(app, '/boom');
      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const text = await res.text();
      expect(text).not.toContain('secret');
      const body = JSON.parse(text) as Record<string, unknown>;
      expect(body).toMatchObject({
        type: 'urn:failway:problem:internal',
        title: 'Internal Server Error',
        status: 500,
        instance: '/boom',
        request_id: res.headers.get('x-request-id'),
      });
      await until(() => app.accessLines().length > 0, TIMEOUT_MS, 'the access line');
      const failure = app.lines.find((line) => line.message === 'request failed');
      expect(failure).toMatchObject({ level: 'error', path: '/boom', request_id: body.request_id });
      const err = failure?.err as Record<string, unknown>;
      expect(err.message).toBe('secret db password');
      expect(String(err.stack)).toContain('secret db password');
      expect(app.accessLines()[0]).toMatchObject({ level: 'error', status: 500, route: '/boom' });
    });

    it('when an async route rejects, then it answers the same generic 500', async () => {
      const app = await startApp();
      const res = await get(app, '/boom-async');
      expect(res.status).toBe(500);
      expect(await res.text()).not.toContain('secret');
    });

    it('when a route throws an AppError, then its status, headers and extensions make the answer', async () => {
      const app = await startApp();
      const res = await get(app, '/teapot', { 'X-Request-ID': 'req-pot' });
      expect(res.status).toBe(418);
      expect(res.headers.get('retry-after')).toBe('7');
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await res.json()).toEqual({
        type: 'urn:failway:problem:teapot',
        title: 'Teapot',
        status: 418,
        detail: 'short and stout',
        instance: '/teapot',
        request_id: 'req-pot',
        field: 'pot',
      });
      await until(() => app.accessLines().length > 0, TIMEOUT_MS, 'the access line');
      // An answer the service chose is not a failure to log with a stack.
      expect(app.lines.filter((line) => line.message === 'request failed')).toEqual([]);
      expect(app.accessLines()[0]).toMatchObject({ level: 'warn', status: 418, route: '/teapot' });
    });

    it('when a middleware error carries a 4xx status, then it answers that status, exposing the message only if allowed', async () => {
      const app = await startApp();
      const exposed = await get(app, '/client-error?expose=1');
      expect(exposed.status).toBe(400);
      expect(await exposed.json()).toMatchObject({
        type: 'urn:failway:problem:bad-request',
        status: 400,
        detail: 'bad input ',
      });
      const hidden = await get(app, '/client-error?secret=hunter2');
      expect(hidden.status).toBe(400);
      const text = await hidden.text();
      expect(text).not.toContain('hunter2');
      expect(JSON.parse(text)).toMatchObject({ detail: 'The request is malformed.' });
    });

    it('when a middleware error carries a 4xx status, then it is logged as a warning without a stack, not as an error', async () => {
      const app = await startApp();
      const res = await get(app, '/client-error?expose=1');
      expect(res.status).toBe(400);
      await res.text();
      await until(() => app.accessLines().length === 1, TIMEOUT_MS, 'the access line');
      const rejected = app.lines.filter((line) => line.message === 'request rejected');
      expect(rejected).toEqual([
        expect.objectContaining({ level: 'warn', status: 400, path: '/client-error', error: 'bad input ' }),
      ]);
      expect(JSON.stringify(rejected)).not.toContain('stack');
      expect(app.lines.filter((line) => line.level === 'error')).toEqual([]);
    });

    it('when a request uses a method outside the standard set, then the histogram says other and the access log the real method', async () => {
      const app = await startApp();
      for (const method of ['PROPFIND', 'MKCOL', 'GET']) {
        const status = await new Promise<number | undefined>((resolve, reject) => {
          const req = http.request(`${app.url}/items/1`, { method, agent: false }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode));
          });
          req.on('error', reject);
          req.end();
        });
        expect(status).toBeGreaterThanOrEqual(200);
      }
      await until(() => app.accessLines().length === 3, TIMEOUT_MS, 'three access lines');
      expect(app.accessLines().map((line) => line.method)).toEqual(['PROPFIND', 'MKCOL', 'GET']);
      const body = await (await get(app, '/metrics')).text();
      const methods = body
        .split('\n')
        .filter((line) => line.startsWith('http_server_request_duration_seconds_count{'))
        .map((line) => /method="([^"]*)"/.exec(line)?.[1]);
      expect(new Set(methods)).toEqual(new Set(['other', 'GET']));
      expect(body).not.toContain('PROPFIND');
      expect(body).toMatch(/http_server_request_duration_seconds_count\{(?=.*method="other").*\} 2$/m);
    });

    it('when the URL is longer than the limit, then it answers 414 problem+json before any route runs', async () => {
      const app = await startApp();
      const path = `/items/${'a'.repeat(MAX_URL_LENGTH + 1 - '/items/'.length)}`;
      expect(path.length).toBe(MAX_URL_LENGTH + 1);
      const res = await get(app, path);
      expect(res.status).toBe(414);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await res.json()).toMatchObject({
        type: 'urn:failway:problem:uri-too-long',
        status: 414,
        request_id: res.headers.get('x-request-id'),
      });
    });

    it("when response headers are set, then the service's own answers carry them, problems and 414s included, and the probes do not", async () => {
      const app = await startApp(undefined, {
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
      });
      const long = `/items/${'a'.repeat(MAX_URL_LENGTH)}`;
      for (const [path, status] of [
        ['/items/1', 200],
        ['/nowhere', 404],
        ['/teapot', 418],
        [long, 414],
      ] as const) {
        const res = await get(app, path);
        await res.text();
        expect({ path, status: res.status, nosniff: res.headers.get('x-content-type-options') }).toEqual({
          path,
          status,
          nosniff: 'nosniff',
        });
        expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      }
      const probe = await get(app, '/healthz');
      await probe.text();
      expect(probe.headers.get('x-content-type-options')).toBeNull();
    });

    it('when the URL is exactly at the limit, then it is served', async () => {
      const app = await startApp();
      const path = `/items/${'a'.repeat(MAX_URL_LENGTH - '/items/'.length)}`;
      expect(path.length).toBe(MAX_URL_LENGTH);
      const res = await get(app, path);
      expect(res.status).toBe(200);
      await res.text();
    });
  });
});
