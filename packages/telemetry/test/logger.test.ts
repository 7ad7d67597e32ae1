import { spawn } from 'node:child_process';
import net from 'node:net';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestContext } from '../src/context.ts';
import { runShutdownHooks } from '../src/lifecycle.ts';
import { createLogger, STDOUT_BUFFER_BYTES, STDOUT_FLUSH_MS, StdoutTransport } from '../src/logger.ts';
import { render } from '../src/metrics.ts';
import { createServiceRuntime } from '../src/runtime.ts';
import { withSpan } from '../src/spans.ts';
import { SyslogTransport } from '../src/syslog-transport.ts';
import { CaptureTransport, until } from './support.ts';

const FIRST_FIELDS = ['timestamp', 'level', 'service', 'message', 'request_id', 'trace_id', 'span_id'];

function setup(level?: string) {
  const capture = new CaptureTransport();
  const logger = createLogger({ service: 'svc', transports: [capture], ...(level ? { level } : {}) });
  return { capture, logger, lines: capture.lines };
}

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [] }));
});

afterAll(async () => {
  await runShutdownHooks();
  trace.disable();
  context.disable();
});

describe('createLogger', () => {
  it('when a line is logged, then the contract fields come first, in order, and are all present', () => {
    const { logger, lines, capture } = setup();
    logger.info('hello', { extra: 1 });
    expect(lines).toHaveLength(1);
    const line = lines[0] ?? {};
    expect(Object.keys(line)).toEqual([...FIRST_FIELDS, 'extra']);
    expect(line).toMatchObject({ level: 'info', service: 'svc', message: 'hello', extra: 1 });
    expect(typeof line.timestamp).toBe('string');
    expect(new Date(String(line.timestamp)).toISOString()).toBe(line.timestamp);
    // One JSON object on one line.
    expect(capture.raw[0]).not.toContain('\n');
  });

  it('when no message is given, then the message key is still there, as null', () => {
    const { logger, lines } = setup();
    logger.log({ level: 'info', message: undefined as unknown as string, only: 'meta' });
    expect(Object.keys(lines[0] ?? {}).slice(0, FIRST_FIELDS.length)).toEqual(FIRST_FIELDS);
    expect(lines[0]?.message).toBeNull();
  });

  it('when logging outside a request and a span, then request_id, trace_id and span_id are null', () => {
    const { logger, lines } = setup();
    logger.warn('outside');
    expect(lines[0]).toMatchObject({ level: 'warn', request_id: null, trace_id: null, span_id: null });
    expect(Object.keys(lines[0] ?? {})).toEqual(FIRST_FIELDS);
  });

  it('when logging inside a request context, then request_id is the request ID, also after an await', async () => {
    const { logger, lines } = setup();
    await requestContext.run({ requestId: 'r-1' }, async () => {
      logger.info('before await');
      await new Promise((resolve) => setTimeout(resolve, 1));
      logger.info('after await');
    });
    logger.info('after the request');
    expect(lines.map((l) => l.request_id)).toEqual(['r-1', 'r-1', null]);
  });

  it('when logging inside an active span, then trace_id and span_id are the span IDs', async () => {
    const { logger, lines } = setup();
    const ids = await withSpan('x', {}, async (span) => {
      logger.info('in span');
      return span.spanContext();
    });
    expect(ids.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(ids.traceId).not.toBe('0'.repeat(32));
    expect(lines[0]).toMatchObject({ trace_id: ids.traceId, span_id: ids.spanId });
    logger.info('after span');
    expect(lines[1]).toMatchObject({ trace_id: null, span_id: null });
  });

  it('when a nested span is active, then the line carries the inner span ID and the shared trace ID', async () => {
    const { logger, lines } = setup();
    const [outer, inner] = await withSpan('outer', {}, async (o) =>
      withSpan('inner', {}, async (i) => {
        logger.info('nested');
        return [o.spanContext(), i.spanContext()] as const;
      }),
    );
    expect(inner.traceId).toBe(outer.traceId);
    expect(lines[0]).toMatchObject({ trace_id: inner.traceId, span_id: inner.spanId });
  });

  it('when the caller passes request_id, trace_id and span_id, then they win over the context', async () => {
    const { logger, lines } = setup();
    await requestContext.run({ requestId: 'ctx' }, () =>
      withSpan('x', {}, () => {
        logger.info('explicit', { request_id: 'given', trace_id: 't', span_id: 's' });
      }),
    );
    expect(lines[0]).toMatchObject({ request_id: 'given', trace_id: 't', span_id: 's' });
  });

  it('when the level is below the configured one, then the line is not written', () => {
    const { logger, lines } = setup('warn');
    logger.info('dropped');
    logger.error('kept');
    expect(lines.map((l) => l.message)).toEqual(['kept']);
  });

  it('when no level is configured, then info is written and debug is not', () => {
    const { logger, lines } = setup();
    logger.debug('hidden');
    logger.info('shown');
    expect(lines.map((l) => l.message)).toEqual(['shown']);
  });

  it('when an Error is passed inside the metadata, then it is serialised with name, message and stack', () => {
    const { logger, lines } = setup();
    logger.error('request failed', { err: new TypeError('boom') });
    const err = lines[0]?.err as Record<string, unknown>;
    expect(err).toMatchObject({ name: 'TypeError', message: 'boom' });
    expect(String(err.stack)).toMatch(/^TypeError: boom\n\s+at /);
  });

  it('when an Error is passed as the metadata, then its message and stack are on the line', () => {
    const { logger, lines } = setup();
    logger.error('request failed', new Error('kaput'));
    expect(lines[0]?.message).toBe('request failed kaput');
    expect(String(lines[0]?.stack)).toMatch(/^Error: kaput\n\s+at /);
    expect(Object.keys(lines[0] ?? {}).slice(0, FIRST_FIELDS.length)).toEqual(FIRST_FIELDS);
  });

  it('when an Error is logged on its own, then its message and stack are on the line', () => {
    const { logger, lines } = setup();
    logger.error(new Error('alone'));
    expect(lines[0]).toMatchObject({ level: 'error', message: 'alone', service: 'svc' });
    expect(String(lines[0]?.stack)).toMatch(/^Error: alone\n/);
  });

  it('when the metadata is circular, then logging does not throw and the cycle is marked', () => {
    const { logger, lines } = setup();
    const node: Record<string, unknown> = { name: 'node' };
    node.self = node;
    expect(() => logger.info('cycle', { node })).not.toThrow();
    expect(lines[0]?.node).toEqual({ name: 'node', self: '[Circular]' });
  });

  it('when a cycle runs through nested objects and arrays, then only the back-reference is replaced', () => {
    const { logger, lines } = setup();
    const parent: Record<string, unknown> = { id: 'p' };
    parent.children = [{ id: 'c', parent }];
    expect(() => logger.info('deep cycle', { parent })).not.toThrow();
    expect(lines[0]?.parent).toEqual({ id: 'p', children: [{ id: 'c', parent: '[Circular]' }] });
  });

  it('when the same object appears twice without a cycle, then both copies are written', () => {
    const { logger, lines } = setup();
    const station = { crs: 'PAD' };
    logger.info('shared', { from: station, to: station });
    expect(lines[0]).toMatchObject({ from: { crs: 'PAD' }, to: { crs: 'PAD' } });
  });

  it('when the metadata holds a BigInt, then it is written as a string', () => {
    const { logger, lines } = setup();
    expect(() => logger.info('big', { n: 12345678901234567890n })).not.toThrow();
    expect(lines[0]?.n).toBe('12345678901234567890');
  });
});

describe('createServiceRuntime logging to syslog', () => {
  it('when the syslog server is unreachable and many lines are logged, then logging goes on and drops are counted', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const runtime = createServiceRuntime('svc', { SYSLOG_HOST: '127.0.0.1', SYSLOG_PORT: String(port) });
    try {
      expect(runtime.env.SYSLOG_PORT).toBe(port);
      // Keep the 1,500 lines off the test output; the syslog transport stays.
      for (const transport of [...runtime.logger.transports]) {
        if (transport instanceof StdoutTransport) runtime.logger.remove(transport);
      }
      expect(runtime.logger.transports).toHaveLength(1);

      expect(() => {
        for (let i = 0; i < 1500; i++) runtime.logger.info('line', { i });
      }).not.toThrow();

      // winston hands the lines to its transports asynchronously: wait until the syslog transport
      // has accounted for every one of them, so the count below is final, not a snapshot.
      const syslog = runtime.logger.transports.find((t) => t instanceof SyslogTransport);
      if (!(syslog instanceof SyslogTransport)) throw new Error('no syslog transport');
      const accounted = () => {
        const { sent, buffered, dropped } = syslog.stats();
        return sent + buffered + dropped;
      };
      await until(() => accounted() === 1500, 5000, 'all 1,500 lines at the syslog transport');
      // 1,500 lines into the default 1,000-line buffer that never drains: the oldest 500 are dropped.
      expect(syslog.stats()).toMatchObject({ sent: 0, buffered: 1000, dropped: 500, connected: false });
      const { body } = await render(runtime.metrics.registry, undefined);
      const match = /^log_syslog_dropped_total\{service="svc"\} (\d+)$/m.exec(body);
      expect(match).not.toBeNull();
      expect(Number(match?.[1])).toBe(500);
    } finally {
      await runShutdownHooks();
    }
  });

  it('when OTEL_SERVICE_NAME is set, then it names the service on logs and metrics', async () => {
    const runtime = createServiceRuntime('default-name', { OTEL_SERVICE_NAME: 'custom', LOG_LEVEL: 'error' });
    expect(runtime.service).toBe('custom');
    expect(runtime.logger.level).toBe('error');
    expect((await render(runtime.metrics.registry, undefined)).body).toContain(
      'log_syslog_dropped_total{service="custom"} 0',
    );
    await runShutdownHooks();
  });
});

/** What a logging child script imports: createLogger and the shutdown hooks serve() runs. */
const CHILD_IMPORTS = [
  `import { createLogger } from ${JSON.stringify(new URL('../src/logger.ts', import.meta.url).href)};`,
  `import { runShutdownHooks } from ${JSON.stringify(new URL('../src/lifecycle.ts', import.meta.url).href)};`,
].join('\n');

/** Runs `body` (after `createLogger` is imported) in a child Node; its stdout lines and exit code. */
function runLoggingChild(
  body: string,
): Promise<{ lines: string[]; code: number | null; firstLineAt: number }> {
  const script = `${CHILD_IMPORTS}\n${body}`;
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--conditions=source', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    let firstLineAt = -1;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (firstLineAt < 0) firstLineAt = Date.now() - started;
      out += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ lines: out.split('\n').filter(Boolean), code, firstLineAt });
    });
  });
}

/**
 * Runs `body` in a child Node whose stdout nobody reads until it writes `ready` to stderr; then
 * collects stdout to the end. Its stderr text and stdout lines.
 */
function runUnreadChild(body: string): Promise<{ lines: string[]; stderr: string; code: number | null }> {
  const script = `${CHILD_IMPORTS}\n${body}`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=source', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      err += chunk;
      if (err.includes('ready'))
        child.stdout.on('data', (c: string) => {
          out += c;
        });
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ lines: out.split('\n').filter(Boolean), stderr: err, code });
    });
  });
}

describe('the stdout log stream', () => {
  it('when a service logs many lines and shuts down at once, then every line reaches stdout, whole and in order', async () => {
    const { lines, code } = await runLoggingChild(`
      const logger = createLogger({ service: 'svc' });
      for (let i = 0; i < 3000; i++) logger.info('line', { i });
      // What serve() does on SIGTERM: the shutdown hooks, then exit.
      setImmediate(async () => {
        await runShutdownHooks();
        process.exit(3);
      });
    `);
    expect(code).toBe(3);
    expect(lines).toHaveLength(3000);
    expect(lines.map((l) => (JSON.parse(l) as { i: number }).i)).toEqual([...Array(3000).keys()]);
  });

  it('when a service logs one line and goes on running, then the line is written within the flush interval', async () => {
    const { lines, firstLineAt } = await runLoggingChild(`
      const logger = createLogger({ service: 'svc' });
      setTimeout(() => logger.info('lone line'), 300);
      // Stays alive until the line has had time to leave, then exits without logging more.
      setTimeout(() => process.exit(0), 300 + ${STDOUT_FLUSH_MS} * 20);
    `);
    expect(lines.map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['lone line']);
    // Written before the exit's own flush: by the periodic flush, not only at exit.
    expect(firstLineAt).toBeLessThan(300 + STDOUT_FLUSH_MS * 20);
  });

  it('when nothing reads stdout, then the buffer stops at its bound, the lines beyond it are dropped and counted, and the rest arrive whole', async () => {
    const total = 12_000;
    const { lines, stderr, code } = await runUnreadChild(`
      let dropped = 0;
      const logger = createLogger({ service: 'svc', onStdoutDrop: (n) => { dropped += n; } });
      const pad = 'x'.repeat(1000);
      for (let i = 0; i < ${total}; i++) logger.info('line', { i, pad });
      setTimeout(async () => {
        process.stderr.write('dropped=' + dropped + ' ready\\n');
        await runShutdownHooks({ timeoutMs: 20_000 });
        process.exit(0);
      }, 200);
    `);
    expect(code).toBe(0);
    const dropped = Number(/dropped=(\d+)/.exec(stderr)?.[1]);
    // About 12 MB were logged into an 8 MiB bound while nothing read the pipe.
    expect(dropped).toBeGreaterThan(0);
    expect(lines.length + dropped).toBe(total);
    expect(lines.length * 1_050).toBeLessThanOrEqual(STDOUT_BUFFER_BYTES + 512 * 1024);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('when the stdout transport is used, then it is the one transport of a plain service logger', () => {
    const logger = createLogger({ service: 'svc' });
    expect(logger.transports.map((t) => t.constructor)).toEqual([StdoutTransport]);
    logger.close();
  });
});
