import { spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import winston from 'winston';
import {
  formatRfc5424,
  frameOctetCounted,
  SyslogTransport,
  type SyslogTransportOptions,
} from '../src/syslog-transport.ts';

const HOST = '127.0.0.1';
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TRANSPORT_URL = pathToFileURL(
  fileURLToPath(new URL('../src/syslog-transport.ts', import.meta.url)),
).href;

// <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG, where SD is '-' or one bracketed element.
const RFC5424 = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[(?:[^\]\\]|\\.)*\]) (.*)$/s;

interface ParsedMessage {
  pri: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  sd: string;
  msg: Record<string, unknown>;
}

function parse(message: string): ParsedMessage {
  const match = RFC5424.exec(message);
  if (!match) throw new Error(`not an RFC 5424 message: ${message}`);
  const [, pri, timestamp, hostname, appName, procId, msgId, sd, msg] = match;
  return {
    pri: Number(pri),
    timestamp: timestamp ?? '',
    hostname: hostname ?? '',
    appName: appName ?? '',
    procId: procId ?? '',
    msgId: msgId ?? '',
    sd: sd ?? '',
    msg: JSON.parse(msg ?? '') as Record<string, unknown>,
  };
}

async function until(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A syslog collector that parses RFC 6587 octet-counted frames and fails loudly on anything else. */
interface SyslogServer {
  port: number;
  frames: string[];
  errors: string[];
  connections: number;
  /** Stops reading from clients, so their kernel buffers fill up and their writes hit backpressure. */
  pause(): void;
  resume(): void;
  dropConnections(): void;
  close(): Promise<void>;
}

const servers: SyslogServer[] = [];
const transports: SyslogTransport[] = [];

async function startServer(port = 0): Promise<SyslogServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer();
  let paused = false;
  const state: SyslogServer = {
    port: 0,
    frames: [],
    errors: [],
    connections: 0,
    pause() {
      paused = true;
      for (const socket of sockets) socket.pause();
    },
    resume() {
      paused = false;
      for (const socket of sockets) socket.resume();
    },
    dropConnections() {
      for (const socket of sockets) socket.destroy();
    },
    close() {
      state.dropConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  server.on('connection', (socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const space = pending.indexOf(0x20);
        if (space === -1) return;
        const prefix = pending.subarray(0, space).toString('latin1');
        if (!/^[1-9]\d*$/.test(prefix)) {
          state.errors.push(`bad frame length prefix: ${JSON.stringify(prefix.slice(0, 40))}`);
          socket.destroy();
          return;
        }
        const length = Number(prefix);
        if (pending.length < space + 1 + length) return;
        state.frames.push(pending.subarray(space + 1, space + 1 + length).toString('utf8'));
        pending = pending.subarray(space + 1 + length);
      }
    });
    if (paused) socket.pause();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  state.port = address.port;
  servers.push(state);
  return state;
}

/** A port nobody listens on (yet): bind it, remember it, release it. */
async function reservePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  return address.port;
}

function createTransport(opts: Partial<SyslogTransportOptions> & { port: number }): SyslogTransport {
  const transport = new SyslogTransport({
    host: HOST,
    appName: 'departures',
    hostname: 'web-1',
    procId: '4242',
    reconnectMinMs: 20,
    reconnectMaxMs: 100,
    ...opts,
  });
  transports.push(transport);
  return transport;
}

function createLogger(transport: SyslogTransport): winston.Logger {
  return winston.createLogger({
    level: 'silly',
    defaultMeta: { service: 'departures' },
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports: [transport],
  });
}

afterEach(async () => {
  for (const transport of transports.splice(0)) transport.close();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe('formatRfc5424', () => {
  const opts = { appName: 'departures', hostname: 'web-1', procId: '4242', facility: 16 };

  it('when a record has request and trace ids, then they become escaped SD-PARAMs and the record becomes the JSON MSG', () => {
    const record = {
      level: 'warn',
      message: 'upstream "slow"',
      timestamp: '2025-01-02T03:04:05.678Z',
      request_id: 'req "1" \\ ] end',
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      span_id: '',
      msgid: 'UPSTREAM',
    };
    const message = formatRfc5424(record, opts);
    expect(message.startsWith('<132>1 2025-01-02T03:04:05.678Z web-1 departures 4242 UPSTREAM ')).toBe(true);
    expect(message).toContain(
      '[log@32473 level="warn" request_id="req \\"1\\" \\\\ \\] end" trace_id="4bf92f3577b34da6a3ce929d0e0e4736"]',
    );
    expect(parse(message).msg).toEqual(record);
  });

  it('when the level is missing or unknown, then severity is informational and SD is "-" or only the level', () => {
    expect(formatRfc5424({ message: 'x' }, opts)).toMatch(/^<134>1 \S+ web-1 departures 4242 - - \{/);
    expect(formatRfc5424({ level: 'trace', message: 'x' }, opts)).toContain('<134>1 ');
    expect(formatRfc5424({ level: 'debug', message: 'x' }, { ...opts, facility: 1 })).toContain('<15>1 ');
  });

  it('when header values are too long, contain spaces or are empty, then they are sanitised to RFC 5424 limits', () => {
    const parsed = parse(
      formatRfc5424(
        { level: 'info', message: 'x', msgid: 'm'.repeat(40) },
        { appName: `my app ${'a'.repeat(60)}`, hostname: '', procId: 'p'.repeat(200) },
      ),
    );
    expect(parsed.appName).toBe(`my_app_${'a'.repeat(41)}`);
    expect(parsed.hostname).toBe('-');
    expect(parsed.procId).toBe('p'.repeat(128));
    expect(parsed.msgId).toBe('m'.repeat(32));
  });

  it('when no hostname or procid is given, then the OS hostname and the pid are used', () => {
    const parsed = parse(formatRfc5424({ level: 'info', message: 'x' }, { appName: 'a' }));
    expect(parsed.hostname).toBe(
      os
        .hostname()
        .replace(/[^\x21-\x7e]/gu, '_')
        .slice(0, 255) || '-',
    );
    expect(parsed.procId).toBe(String(process.pid));
  });

  it('when the timestamp is missing or not ISO 8601, then the current time is used', () => {
    for (const timestamp of [undefined, 'yesterday', 1_700_000_000_000]) {
      const before = Date.now();
      const parsed = parse(formatRfc5424({ level: 'info', message: 'x', timestamp }, opts));
      expect(parsed.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(Date.parse(parsed.timestamp)).toBeGreaterThanOrEqual(before);
    }
  });

  it('when metadata is circular or holds a BigInt, then the record is still serialised', () => {
    const meta: Record<string, unknown> = { level: 'info', message: 'x', big: 10n };
    meta.self = meta;
    expect(parse(formatRfc5424(meta, opts)).msg).toMatchObject({ big: '10', self: '[Circular]' });
  });
});

describe('formatRfc5424 with shared objects', () => {
  it('when one object appears twice without a cycle, then MSG has it both times', () => {
    const station = { crs: 'WHP' };
    const msg = formatRfc5424(
      { level: 'info', message: 'm', from: station, to: station },
      { appName: 'a', hostname: 'h', procId: '1' },
    );
    const json = JSON.parse(msg.slice(msg.indexOf('{'))) as { from: unknown; to: unknown };
    expect(json.to).toEqual({ crs: 'WHP' });
  });
});

describe('frameOctetCounted', () => {
  it('when the message has multibyte characters, then the prefix counts UTF-8 bytes, not characters', () => {
    const text = 'Zürich → Genève 🚆';
    expect(text.length).toBe(18);
    const frame = frameOctetCounted(text);
    expect(frame.toString('utf8')).toBe(`24 ${text}`);
    expect(frame.length).toBe('24 '.length + 24);
  });
});

describe('SyslogTransport', () => {
  it('when records are logged, then each arrives as one RFC 5424 frame with PRI, header, SD and JSON MSG', async () => {
    const server = await startServer();
    const logger = createLogger(createTransport({ port: server.port }));

    logger.error('boom', { request_id: 'r"1]', trace_id: 't\\1', span_id: 's1' });
    logger.warn('careful', { request_id: 'r2' });
    logger.info('hello');

    await until(() => server.frames.length >= 3, 5000, '3 frames');
    const [error, warn, info] = server.frames.map(parse);
    expect([error?.pri, warn?.pri, info?.pri]).toEqual([16 * 8 + 3, 16 * 8 + 4, 16 * 8 + 6]);
    for (const parsed of [error, warn, info]) {
      expect(parsed).toMatchObject({ hostname: 'web-1', appName: 'departures', procId: '4242', msgId: '-' });
      expect(parsed?.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    }
    expect(error?.sd).toBe('[log@32473 level="error" request_id="r\\"1\\]" trace_id="t\\\\1" span_id="s1"]');
    expect(warn?.sd).toBe('[log@32473 level="warn" request_id="r2"]');
    expect(info?.sd).toBe('[log@32473 level="info"]');
    expect(error?.msg).toMatchObject({
      level: 'error',
      message: 'boom',
      service: 'departures',
      request_id: 'r"1]',
      trace_id: 't\\1',
      span_id: 's1',
    });
    expect(info?.msg).toMatchObject({ message: 'hello', service: 'departures' });
    expect(server.errors).toEqual([]);
  });

  it('when many multibyte messages are logged in a burst, then they arrive as separate frames in order', async () => {
    const server = await startServer();
    const transport = createTransport({ port: server.port });
    const logger = createLogger(transport);
    await until(() => transport.stats().connected, 5000, 'connection');

    const count = 500;
    for (let i = 0; i < count; i++) logger.info(`Zürich → Genève 🚆 départ ${i}`);

    await until(() => server.frames.length >= count, 10_000, `${count} frames`);
    expect(server.errors).toEqual([]);
    expect(server.frames.map((frame) => parse(frame).msg.message)).toEqual(
      Array.from({ length: count }, (_, i) => `Zürich → Genève 🚆 départ ${i}`),
    );
    expect(transport.stats()).toMatchObject({ sent: count, dropped: 0, buffered: 0, connected: true });
  });

  it('when the server is down at start, then logging returns at once and messages are delivered once it comes up', async () => {
    const port = await reservePort();
    const errors: Error[] = [];
    const transport = createTransport({ port, onError: (error) => errors.push(error) });
    // Logging does not wait for the network: winston is called back while no connection exists.
    let answered = 0;
    const log = transport.log.bind(transport);
    transport.log = (info, callback) =>
      log(info, () => {
        if (!transport.stats().connected) answered++;
        callback();
      });
    const logger = createLogger(transport);

    expect(() => {
      for (let i = 0; i < 3; i++) logger.info(`early ${i}`);
    }).not.toThrow();

    await until(() => transport.stats().buffered === 3, 5000, '3 records buffered');
    await until(() => errors.length >= 2, 5000, 'a few failed connection attempts');
    expect(answered).toBe(3);
    expect(transport.stats()).toMatchObject({ connected: false, buffered: 3, sent: 0 });

    const server = await startServer(port);
    await until(() => server.frames.length >= 3, 5000, '3 frames');
    expect(server.frames.map((frame) => parse(frame).msg.message)).toEqual(['early 0', 'early 1', 'early 2']);
    expect(transport.stats()).toMatchObject({ connected: true, buffered: 0, sent: 3, dropped: 0 });
  });

  it('when the buffer overflows while the server is down, then the oldest messages are dropped and counted', async () => {
    const port = await reservePort();
    let onDropTotal = 0;
    const transport = createTransport({
      port,
      maxBuffered: 5,
      onDrop: (count) => {
        onDropTotal += count;
      },
    });
    const logger = createLogger(transport);

    for (let i = 0; i < 20; i++) logger.info(`message ${i}`);
    await until(() => transport.stats().dropped === 15, 2000, '15 drops');
    expect(onDropTotal).toBe(15);
    expect(transport.stats()).toMatchObject({ buffered: 5, dropped: 15 });

    const server = await startServer(port);
    await until(() => server.frames.length >= 5, 5000, '5 frames');
    await transport.flush(1000);
    expect(server.frames.map((frame) => parse(frame).msg.message)).toEqual([
      'message 15',
      'message 16',
      'message 17',
      'message 18',
      'message 19',
    ]);
  });

  it('when the buffer is over maxBufferedBytes while the server is down, then the oldest messages are dropped however few there are', async () => {
    const port = await reservePort();
    const transport = createTransport({ port, maxBuffered: 1000, maxBufferedBytes: 10_000 });
    const logger = createLogger(transport);
    const padding = 'x'.repeat(2000);
    for (let i = 0; i < 20; i++) logger.info(`big ${i}`, { padding });
    await until(
      () => transport.stats().buffered + transport.stats().dropped === 20,
      2000,
      '20 records handled',
    );
    const { buffered, bufferedBytes, dropped } = transport.stats();
    expect(bufferedBytes).toBeLessThanOrEqual(10_000);
    expect(buffered).toBeGreaterThan(0);
    expect(dropped).toBe(20 - buffered);

    const server = await startServer(port);
    await until(() => server.frames.length >= buffered, 5000, `${buffered} frames`);
    expect(server.frames.map((frame) => parse(frame).msg.message)).toEqual(
      Array.from({ length: buffered }, (_, i) => `big ${20 - buffered + i}`),
    );
  });

  it('when one record alone is larger than maxBufferedBytes, then it is dropped and the others kept', async () => {
    const transport = createTransport({ port: await reservePort(), maxBufferedBytes: 1000 });
    const logger = createLogger(transport);
    logger.info('small');
    logger.info('huge', { padding: 'x'.repeat(2000) });
    await until(() => transport.stats().dropped === 1, 2000, 'the huge record dropped');
    expect(transport.stats()).toMatchObject({ buffered: 1, dropped: 1 });
    expect(transport.stats().bufferedBytes).toBeLessThanOrEqual(1000);
  });

  it('when the server stops reading, then after drainTimeoutMs the connection is given up, counted, and a new one made', async () => {
    const server = await startServer();
    const errors: Error[] = [];
    const transport = createTransport({
      port: server.port,
      maxBuffered: 1000,
      maxBufferedBytes: 64 * 1024 * 1024,
      drainTimeoutMs: 200,
      onError: (error) => errors.push(error),
    });
    const logger = createLogger(transport);
    await until(() => transport.stats().connected, 5000, 'connection');
    server.pause();

    // Up to 25 MB: more than loopback socket buffers take, so the socket stays full.
    const padding = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 400 && transport.stats().stalls === 0; i++) {
      logger.info(`stuck ${i}`, { padding });
      if (i % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
    }
    await until(() => server.connections >= 2, 5000, 'a new connection after the stall');
    expect(transport.stats().stalls).toBe(1);
    expect(transport.stats().dropped).toBeGreaterThan(0);
    expect(errors.map((e) => e.message)).toContain('syslog server stopped reading: no drain within 200 ms');

    server.resume();
    logger.info('after the stall');
    await until(
      () => server.frames.some((frame) => parse(frame).msg.message === 'after the stall'),
      10_000,
      'a record sent on the new connection',
    );
  });

  it('when the server closes the connection mid-run, then the transport reconnects and later messages arrive', async () => {
    const server = await startServer();
    const transport = createTransport({ port: server.port });
    const logger = createLogger(transport);

    logger.info('before');
    await until(() => server.frames.length >= 1, 5000, 'first frame');
    server.dropConnections();

    await until(() => server.connections >= 2, 5000, 'a reconnect');
    for (let i = 0; i < 3; i++) logger.info(`after ${i}`);
    await until(() => server.frames.length >= 4, 5000, '4 frames');
    expect(server.frames.map((frame) => parse(frame).msg.message)).toEqual([
      'before',
      'after 0',
      'after 1',
      'after 2',
    ]);
  });

  it('when the server reads slower than we log, then writing waits for drain and everything arrives in order', async () => {
    const server = await startServer();
    const count = 3000;
    const transport = createTransport({
      port: server.port,
      maxBuffered: count,
      maxBufferedBytes: 64 * 1024 * 1024,
    });
    const logger = createLogger(transport);
    await until(() => transport.stats().connected, 5000, 'connection');
    server.pause();

    // ~24 MB: more than loopback socket buffers take, so socket.write() must report backpressure.
    const padding = 'x'.repeat(8000);
    for (let i = 0; i < count; i++) logger.info(`slow ${i}`, { padding });
    await until(() => transport.stats().buffered > 0, 5000, 'backpressure');
    const { buffered, sent } = transport.stats();
    expect(buffered + sent).toBeLessThanOrEqual(count);
    expect(transport.stats().dropped).toBe(0);

    server.resume();
    await until(() => server.frames.length >= count, 20_000, `${count} frames`);
    expect(server.errors).toEqual([]);
    expect(server.frames.map((frame) => parse(frame).msg.message)).toEqual(
      Array.from({ length: count }, (_, i) => `slow ${i}`),
    );
    await transport.flush(2000);
    expect(transport.stats()).toMatchObject({ sent: count, buffered: 0, dropped: 0 });
  });

  it('when flush() is awaited, then it resolves once everything is handed to the socket', async () => {
    const server = await startServer();
    const transport = createTransport({ port: server.port });
    const logger = createLogger(transport);

    for (let i = 0; i < 10; i++) logger.info(`flushed ${i}`);
    await until(() => transport.stats().sent + transport.stats().buffered === 10, 2000, 'records enqueued');
    await transport.flush(2000);
    expect(transport.stats()).toMatchObject({ sent: 10, buffered: 0 });
    await until(() => server.frames.length >= 10, 5000, '10 frames');
  });

  it('when flush() is awaited while the server is down, then it resolves (not rejects) after its timeout', async () => {
    const transport = createTransport({ port: await reservePort() });
    createLogger(transport).info('stuck');
    await until(() => transport.stats().buffered === 1, 2000, 'record enqueued');

    // On a fake clock: flush(300) must resolve exactly when its 300 ms are up, however busy the machine.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      let settled = false;
      const flushed = transport.flush(300).then(() => {
        settled = true;
      });
      await vi.advanceTimersByTimeAsync(299);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(settled).toBe(true);
      await expect(flushed).resolves.toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
    expect(transport.stats().buffered).toBe(1);
  });

  it('when the logger is closed, then buffered messages count as dropped and nothing reconnects', async () => {
    const port = await reservePort();
    // Equal bounds take the jitter out: every reconnect comes exactly 20 ms after the last failure.
    const schedule = { reconnectMinMs: 20, reconnectMaxMs: 20 };
    const closedErrors: Error[] = [];
    const transport = createTransport({ port, ...schedule, onError: (error) => closedErrors.push(error) });
    const logger = createLogger(transport);
    logger.info('never delivered');
    await until(
      () => transport.stats().buffered === 1 && closedErrors.length >= 1,
      2000,
      'record enqueued and a failed connection attempt',
    );

    logger.close();
    expect(transport.stats()).toMatchObject({ buffered: 0, dropped: 1, connected: false });
    const errorsAtClose = closedErrors.length;

    // A transport left open on the same schedule keeps trying the same dead port. Its third retry
    // is due 60 ms after close, well after the closed one's next retry (due within 20 ms) would
    // have been made and failed: by then the closed transport has had its chance to reconnect.
    const controlErrors: Error[] = [];
    const control = createTransport({ port, ...schedule, onError: (error) => controlErrors.push(error) });
    await until(() => controlErrors.length >= 4, 5000, 'four failed attempts of the open transport');
    expect(closedErrors).toHaveLength(errorsAtClose);

    // And once the server is up, only the open transport connects.
    const server = await startServer(port);
    await until(() => control.stats().connected, 5000, 'the open transport to connect');
    expect(server.connections).toBe(1);
    expect(transport.stats().connected).toBe(false);
  });

  it.each([
    ['after logger.close()', 'logger.close();'],
    ['without close()', ''],
  ])(
    'when a child process logs to a dead and a live server and returns from main %s, then it exits by itself',
    async (_label, closeCall) => {
      const server = await startServer();
      const deadPort = await reservePort();
      const script = `
      import winston from 'winston';
      import { SyslogTransport } from ${JSON.stringify(TRANSPORT_URL)};
      const dead = new SyslogTransport({ host: '127.0.0.1', port: ${deadPort}, appName: 'child', reconnectMinMs: 50 });
      const live = new SyslogTransport({ host: '127.0.0.1', port: ${server.port}, appName: 'child' });
      const logger = winston.createLogger({ transports: [dead, live] });
      logger.info('hello from child');
      await live.flush(2000);
      ${closeCall}
      // What is left when main returns: a ref'd timer or socket would hold the process open.
      process.stdout.write(JSON.stringify(process.getActiveResourcesInfo()) + '\\n');
    `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      // Only a bound for a child that never ends; how soon it ends is checked through what it left.
      const exitCode = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve(null);
        }, 20_000);
        // 'close' comes after 'exit' once stdout and stderr are drained.
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });

      expect(stderr).not.toMatch(/Error/);
      expect(exitCode).toBe(0);
      const left = JSON.parse(stdout) as string[];
      // Requests in flight (a connect, a shutdown, a write) end by themselves; handles would not.
      expect(
        left.filter((resource) => /^(Timeout|TCPSocketWrap|TCPWrap|TCPServerWrap)$/.test(resource)),
      ).toEqual([]);
      await until(() => server.frames.length >= 1, 2000, 'the child frame');
      expect(parse(server.frames[0] ?? '').msg.message).toBe('hello from child');
    },
  );
});
