import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import type { Express } from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { Health } from '../src/health.ts';
import { createServiceApp } from '../src/http.ts';
import { onShutdown, runShutdownHooks } from '../src/lifecycle.ts';
import { createLogger } from '../src/logger.ts';
import { createMetrics } from '../src/metrics.ts';
import {
  CLIENT_ERROR_LOGS_PER_WINDOW,
  DEFAULT_SERVER_LIMITS,
  logSampler,
  type RunningServer,
  type ServeOptions,
  serve,
} from '../src/serve.ts';
import { CaptureTransport, until } from './support.ts';

const WAIT_MS = 5000;
/** Emits 'hold' with a release function when a /hold request reaches its handler. */
const holds = new EventEmitter();

function routes(app: Express): void {
  app.get('/items/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
  // Answers only when the test says so: a request in progress during the drain.
  app.get('/hold', (_req, res) => {
    holds.emit('hold', () => res.json({ held: true }));
  });
  // Sends its headers and a first chunk, then waits: a response already on the wire.
  app.get('/stream', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first chunk\n');
    holds.emit('stream', () => res.end('last chunk\n'));
  });
  // Never answers.
  app.get('/hang', () => undefined);
}

interface Started {
  running: RunningServer;
  lines: Record<string, unknown>[];
  port: number;
}

const started: RunningServer[] = [];

async function start(options: Partial<ServeOptions> = {}): Promise<Started> {
  const capture = new CaptureTransport();
  const logger = createLogger({ service: 'svc', transports: [capture] });
  const health = new Health();
  const app = createServiceApp({ logger, metrics: createMetrics('svc'), health, routes });
  const running = await serve(app, {
    port: 0,
    host: '127.0.0.1',
    logger,
    health,
    manageProcess: false,
    ...options,
  });
  started.push(running);
  return { running, lines: capture.lines, port: running.port };
}

afterEach(async () => {
  for (const running of started.splice(0)) {
    running.server.closeAllConnections();
    running.server.close();
  }
  await runShutdownHooks();
});

/** A raw TCP client: everything received, and the moment the server closes the socket. */
function rawClient(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    received += chunk;
  });
  socket.on('error', () => undefined);
  const closed = once(socket, 'close').then(() => received);
  return {
    socket,
    connected: once(socket, 'connect'),
    received: () => received,
    /** What was received once the server closed the socket; rejects after WAIT_MS. */
    closed: () => Promise.race([closed, rejectAfter(WAIT_MS, 'the socket to close')]),
    waitFor: (text: string) => until(() => received.includes(text), WAIT_MS, JSON.stringify(text)),
  };
}

function rejectAfter(ms: number, what: string): Promise<never> {
  return new Promise((_, reject) => {
    setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms).unref();
  });
}

const statusLines = (text: string) => text.match(/HTTP\/1\.1 \d{3}[^\r]*/g) ?? [];
const bodyOf = (text: string) =>
  JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;

describe('serve: limits', () => {
  it('when a service starts, then headers must come within 10 s, below the request timeout, and the connection limits are set', async () => {
    const { running } = await start();
    const { server } = running;
    expect(server.headersTimeout).toBe(10_000);
    expect(server.headersTimeout).toBeLessThan(server.requestTimeout);
    expect(server.requestTimeout).toBe(30_000);
    expect(server.keepAliveTimeout).toBe(65_000);
    expect(server.maxConnections).toBe(DEFAULT_SERVER_LIMITS.maxConnections);
    expect(server.maxRequestsPerSocket).toBe(DEFAULT_SERVER_LIMITS.maxRequestsPerSocket);
  });

  it('when more connections are opened than maxConnections, then the extra one is closed unanswered and the others still work', async () => {
    const { running, port, lines } = await start({ limits: { maxConnections: 2 } });
    const first = rawClient(port);
    const second = rawClient(port);
    await Promise.all([first.connected, second.connected]);
    await until(
      async () => (await new Promise<number>((r) => running.server.getConnections((_e, n) => r(n)))) === 2,
      WAIT_MS,
      'two accepted connections',
    );
    const third = rawClient(port);
    third.socket.write('GET /items/3 HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await third.closed()).toBe('');

    first.socket.write('GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n');
    await first.waitFor('"id":"1"');
    expect(statusLines(first.received())).toEqual(['HTTP/1.1 200 OK']);
    await until(
      () => lines.some((line) => line.message === 'connection refused: too many open connections'),
      WAIT_MS,
      'the refusal logged',
    );
    first.socket.destroy();
    second.socket.destroy();
  });

  it('when a keep-alive socket reaches maxRequestsPerSocket, then its last answer says Connection: close and more requests on it get 503', async () => {
    const { port } = await start({ limits: { maxRequestsPerSocket: 3 } });
    const client = rawClient(port);
    const request = (id: number) => `GET /items/${id} HTTP/1.1\r\nHost: x\r\n\r\n`;
    for (const id of [1, 2, 3]) {
      client.socket.write(request(id));
      await client.waitFor(`"id":"${id}"`);
    }
    expect(client.received().match(/^Connection: [\w-]+/gim)).toEqual([
      'Connection: keep-alive',
      'Connection: keep-alive',
      'Connection: close',
    ]);
    // Node leaves closing to the client it told to; one that goes on is refused.
    client.socket.write(request(4));
    await client.waitFor('HTTP/1.1 503');
    expect(statusLines(client.received())).toEqual([
      'HTTP/1.1 200 OK',
      'HTTP/1.1 200 OK',
      'HTTP/1.1 200 OK',
      'HTTP/1.1 503 Service Unavailable',
    ]);
    client.socket.destroy();
  });
});

describe('serve: malformed requests (clientError)', () => {
  it('when a header holds a control character, then it answers 400 problem+json naming it and closes', async () => {
    const { port, lines } = await start();
    const client = rawClient(port);
    client.socket.write('GET /items/1 HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n');
    const text = await client.closed();
    expect(statusLines(text)).toEqual(['HTTP/1.1 400 Bad Request']);
    expect(text).toMatch(/^Content-Type: application\/problem\+json$/m);
    expect(bodyOf(text)).toMatchObject({ type: 'urn:failway:problem:malformed-request', status: 400 });
    await until(() => lines.some((l) => l.message === 'malformed request rejected'), WAIT_MS, 'the log line');
    expect(lines.find((l) => l.message === 'malformed request rejected')).toMatchObject({ level: 'warn' });
  });

  it('when the headers are larger than Node accepts, then it answers 431', async () => {
    const { port } = await start();
    const client = rawClient(port);
    client.socket.write(`GET /items/1 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    const text = await client.closed();
    expect(statusLines(text)).toEqual(['HTTP/1.1 431 Request Header Fields Too Large']);
    expect(bodyOf(text)).toMatchObject({ type: 'urn:failway:problem:headers-too-large', status: 431 });
  });

  it('when the headers do not all come within headersTimeout, then it answers 408', async () => {
    const { port } = await start({
      limits: { headersTimeoutMs: 200, requestTimeoutMs: 1_000, connectionsCheckingIntervalMs: 50 },
    });
    const client = rawClient(port);
    client.socket.write('GET /items/1 HTTP/1.1\r\nHost: x\r\n');
    const text = await client.closed();
    expect(statusLines(text)).toEqual(['HTTP/1.1 408 Request Timeout']);
    expect(bodyOf(text)).toMatchObject({ type: 'urn:failway:problem:request-timeout', status: 408 });
  });

  it('when a malformed request follows one whose answer is already being sent, then nothing is written into that answer', async () => {
    const { port } = await start();
    const client = rawClient(port);
    const streaming = once(holds, 'stream');
    client.socket.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
    await streaming;
    await client.waitFor('first chunk');
    client.socket.write('GET /items/1 HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n');
    const text = await client.closed();
    expect(statusLines(text)).toEqual(['HTTP/1.1 200 OK']);
    expect(text).not.toContain('problem');
  });

  it('when a flood of malformed requests comes, then only a few log lines are written', async () => {
    const { port, lines } = await start();
    const floodSize = 3 * CLIENT_ERROR_LOGS_PER_WINDOW;
    const startedAt = Date.now();
    for (let i = 0; i < floodSize; i++) {
      const client = rawClient(port);
      client.socket.write('GET / HTTP/1.1\r\nX-Bad: \u0001\r\n\r\n');
      expect(statusLines(await client.closed())).toEqual(['HTTP/1.1 400 Bad Request']);
    }
    const windows = 1 + Math.floor((Date.now() - startedAt) / 10_000);
    const logged = lines.filter((l) => l.message === 'malformed request rejected').length;
    expect(logged).toBeGreaterThan(0);
    expect(logged).toBeLessThanOrEqual(CLIENT_ERROR_LOGS_PER_WINDOW * windows);
  });
});

describe('logSampler', () => {
  it('when more calls come in a window than allowed, then the rest are left out and the next line written counts them', () => {
    let now = 0;
    const sample = logSampler(3, 1_000, () => now);
    const written: number[] = [];
    for (let i = 0; i < 10; i++) sample((suppressed) => written.push(suppressed));
    expect(written).toEqual([0, 0, 0]);
    now = 999;
    sample((suppressed) => written.push(suppressed));
    expect(written).toEqual([0, 0, 0]);
    now = 1_000;
    sample((suppressed) => written.push(suppressed));
    sample((suppressed) => written.push(suppressed));
    expect(written).toEqual([0, 0, 0, 8, 0]);
  });
});

describe('serve: graceful shutdown', () => {
  it('when shutdown starts, then an answer in progress says Connection: close, idle keep-alive sockets are closed, and shutdown ends', async () => {
    const { running, port } = await start({ limits: { drainIdleMs: 50 } });
    const idle = rawClient(port);
    idle.socket.write('GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n');
    await idle.waitFor('"id":"1"');
    expect(idle.received()).toMatch(/^Connection: keep-alive$/im);

    const busy = rawClient(port);
    const held = once(holds, 'hold') as Promise<[() => void]>;
    busy.socket.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    const [release] = await held;

    const shutdown = running.shutdown('test');
    expect(await idle.closed()).not.toContain('HTTP/1.1 200 OK\r\n\r\n');
    release();
    const text = await busy.closed();
    expect(statusLines(text)).toEqual(['HTTP/1.1 200 OK']);
    expect(text).toMatch(/^Connection: close$/im);
    await shutdown;
  });

  it('when a connection outlives the drain budget and a hook throws, then it is closed and every hook still runs', async () => {
    const { running, port, lines } = await start({ closeTimeoutMs: 200 });
    const ran: string[] = [];
    onShutdown('flush spans', () => {
      ran.push('flush spans');
    });
    onShutdown('throws', () => {
      ran.push('throws');
      throw new Error('hook failed');
    });
    const client = rawClient(port);
    client.socket.write('GET /hang HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => running.server.listenerCount('request') > 0, WAIT_MS, 'server ready');
    await new Promise<void>((resolve) => {
      const check = () =>
        running.server.getConnections((_e, n) => (n === 1 ? resolve() : setTimeout(check, 5)));
      check();
    });
    await running.shutdown('test');
    expect(ran).toEqual(['throws', 'flush spans']);
    expect(await client.closed()).toBe('');
    expect(
      lines.find((l) => l.message === 'connections still open at the drain deadline were closed'),
    ).toMatchObject({ level: 'warn', open_connections: 1 });
  });

  it('when a shutdown hook hangs, then the next one still runs and the hung one is reported', async () => {
    const ran: string[] = [];
    onShutdown('after', () => {
      ran.push('after');
    });
    onShutdown('hangs', () => new Promise<void>(() => undefined));
    const failures = await runShutdownHooks({ timeoutMs: 50 });
    expect(ran).toEqual(['after']);
    expect(failures.map((f) => f.name)).toEqual(['hangs']);
  });
});
