import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { type AddressInfo, Server as NetServer, type Socket } from 'node:net';
import type { Express } from 'express';
import { problemType } from './errors.ts';
import type { Health } from './health.ts';
import { runShutdownHooks } from './lifecycle.ts';
import type { Logger } from './logger.ts';
import { http } from './node-http.ts';

/**
 * The limits every service's HTTP server runs with (docs/security.md says what each protects).
 * Node's own defaults suit a server behind nothing: a 60 s headers timeout checked every 30 s
 * (a slow client could hold a socket 90 s before sending a full request line) and no connection cap.
 */
export interface ServerLimits {
  /** Longest a client may take to send the request headers, from their first byte (408 after). */
  headersTimeoutMs: number;
  /** Longest a client may take to send the whole request, headers and body (408 after). */
  requestTimeoutMs: number;
  /**
   * How often the two timeouts above are checked; a timeout fires up to this much late. Node's
   * default is 30 s, which would turn a 10 s headers timeout into up to 40 s.
   */
  connectionsCheckingIntervalMs: number;
  /**
   * An idle keep-alive socket is closed after this long. Longer than the idle timeout of the proxies
   * in front (nginx ingress and cloud load balancers: 60 s), so a proxy never reuses a socket we
   * just closed. The idle wait between two requests does not count towards headersTimeoutMs (Node
   * times the headers from the first byte of each request), so this may exceed it.
   */
  keepAliveTimeoutMs: number;
  /** Most open client connections; more are closed at once (Node's `server.maxConnections`). */
  maxConnections: number;
  /**
   * Requests served on one keep-alive socket; the last one says `Connection: close`. Makes long-lived
   * proxy connections reconnect now and then, which spreads them over new replicas.
   */
  maxRequestsPerSocket: number;
  /** During the drain, a keep-alive socket idle this long is closed (clients re-send elsewhere). */
  drainIdleMs: number;
}

export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  connectionsCheckingIntervalMs: 1_000,
  keepAliveTimeoutMs: 65_000,
  maxConnections: 1_000,
  maxRequestsPerSocket: 1_000,
  drainIdleMs: 1_000,
};

/** Part of the shutdown budget kept for the shutdown hooks (flushing spans and syslog). */
export const HOOKS_RESERVE_MS = 3_000;
/** Longest one shutdown hook may take before the next one runs anyway. */
export const HOOK_TIMEOUT_MS = 2_500;
/** Malformed-request and dropped-connection log lines: at most this many per window... */
export const CLIENT_ERROR_LOGS_PER_WINDOW = 10;
/** ...of this length; the next line written says how many were left out. */
export const CLIENT_ERROR_LOG_WINDOW_MS = 10_000;

export interface ServeOptions {
  port: number;
  host: string;
  logger: Logger;
  health: Health;
  /** Time between readiness turning 503 and closing the listener, so load balancers stop sending. */
  drainDelayMs?: number;
  /** Longest the whole shutdown may take before the process is forced out. Default 10 s. */
  shutdownTimeoutMs?: number;
  /**
   * Longest the drain (drain delay + waiting for connections to finish) may take; connections still
   * open then are closed. Default: shutdownTimeoutMs less HOOKS_RESERVE_MS.
   */
  closeTimeoutMs?: number;
  /** Work to stop before telemetry is flushed (timers, upstream clients). */
  onClose?: () => Promise<void> | void;
  /** Overrides of DEFAULT_SERVER_LIMITS (e.g. HTTP_MAX_CONNECTIONS). */
  limits?: Partial<ServerLimits>;
  /**
   * Install SIGTERM/SIGINT handlers that shut down and exit, and a hard exit when the shutdown
   * overruns shutdownTimeoutMs (default). Off in tests that run the server in-process.
   */
  manageProcess?: boolean;
}

export interface RunningServer {
  server: Server;
  port: number;
  url: string;
  /** Graceful shutdown: not ready → drain → close → flush telemetry. */
  shutdown(reason: string): Promise<void>;
}

/**
 * Listens with DEFAULT_SERVER_LIMITS, answers malformed requests the way Node does (400/408/431,
 * never in the middle of a response) with problem+json, and wires SIGTERM/SIGINT to a graceful
 * shutdown that ends the process: readiness off, keep-alive clients told `Connection: close`,
 * idle sockets closed, and the shutdown hooks run even when the drain overruns or a hook fails.
 */
export async function serve(app: Express, options: ServeOptions): Promise<RunningServer> {
  const { logger, health } = options;
  const limits: ServerLimits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: limits.connectionsCheckingIntervalMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
    },
    app,
  );
  server.maxConnections = limits.maxConnections;
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket;

  const drain = trackForDrain(server);
  const sampled = logSampler(CLIENT_ERROR_LOGS_PER_WINDOW, CLIENT_ERROR_LOG_WINDOW_MS);
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) =>
    answerClientError(err, socket, (detail) =>
      sampled((suppressed) =>
        logger.warn('malformed request rejected', {
          code: err.code,
          detail,
          ...(suppressed ? { suppressed } : {}),
        }),
      ),
    ),
  );
  server.on('drop', (data?: { remoteAddress?: string }) =>
    sampled((suppressed) =>
      logger.warn('connection refused: too many open connections', {
        max_connections: limits.maxConnections,
        remote_address: data?.remoteAddress,
        ...(suppressed ? { suppressed } : {}),
      }),
    ),
  );

  server.listen(options.port, options.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  health.markStarted();

  const manageProcess = options.manageProcess ?? true;
  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    shuttingDown ??= (async () => {
      const timeoutMs = options.shutdownTimeoutMs ?? 10_000;
      const closeTimeoutMs = options.closeTimeoutMs ?? Math.max(0, timeoutMs - HOOKS_RESERVE_MS);
      const closeDeadline = Date.now() + closeTimeoutMs;
      const hardExit = manageProcess
        ? setTimeout(() => {
            console.error(`shutdown took longer than ${timeoutMs} ms; exiting`);
            process.exit(1);
          }, timeoutMs).unref()
        : undefined;
      try {
        logger.info('shutting down', { reason });
        health.markShuttingDown();
        drain.start(limits.drainIdleMs);
        if (options.drainDelayMs) {
          await sleep(Math.min(options.drainDelayMs, Math.max(0, closeDeadline - Date.now())));
        }
        const open = await drain.close(Math.max(0, closeDeadline - Date.now()));
        if (open > 0) {
          logger.warn('connections still open at the drain deadline were closed', {
            open_connections: open,
            close_timeout_ms: closeTimeoutMs,
          });
        }
        await options.onClose?.();
        logger.info('stopped', { reason });
      } catch (error) {
        logger.error('shutdown failed; flushing telemetry anyway', { err: error, reason });
      } finally {
        // Spans and log buffers are flushed whatever happened above.
        for (const { name, error } of await runShutdownHooks({ timeoutMs: HOOK_TIMEOUT_MS })) {
          console.error(`shutdown hook ${name} failed`, error);
        }
        if (hardExit) clearTimeout(hardExit);
      }
    })();
    return shuttingDown;
  };
  if (manageProcess) {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        void shutdown(signal).then(() => process.exit(0));
      });
    }
  }
  // Only now say so: a supervisor that reacts to this line with SIGTERM must find the handlers
  // installed (before them, SIGTERM's default action kills the process without a drain).
  logger.info('listening', { port, host: options.host });
  return { server, port, url: `http://${options.host}:${port}`, shutdown };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Follows each socket's requests so the drain can treat busy and idle keep-alive sockets apart:
 * once started, every response not yet begun says `Connection: close` (Node then closes the socket
 * after it), and a socket with no request in progress is closed after `drainIdleMs` of idleness.
 * Idle sockets are not closed at once (as `server.close()` would): a client that has just received
 * an answer is likely about to send on that socket, and would see it reset.
 */
function trackForDrain(server: Server) {
  const busy = new Map<Socket, number>();
  const responses = new Set<ServerResponse>();
  let draining = false;
  let idleMs = 0;

  server.on('connection', (socket: Socket) => {
    busy.set(socket, 0);
    socket.once('close', () => busy.delete(socket));
  });
  // Before the app's listener, so the header is set before any handler can write.
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    responses.add(res);
    if (draining) {
      res.setHeader('Connection', 'close');
      // An idle timer set by the drain must not cut this request short.
      socket.setTimeout(0);
    }
    res.once('close', () => {
      responses.delete(res);
      const left = (busy.get(socket) ?? 1) - 1;
      if (busy.has(socket)) busy.set(socket, left);
    });
  });

  return {
    start(drainIdleMs: number): void {
      if (draining) return;
      draining = true;
      idleMs = drainIdleMs;
      for (const res of responses) if (!res.headersSent) res.setHeader('Connection', 'close');
      // Sockets whose answer had already begun become idle after it; Node arms this timeout then.
      server.keepAliveTimeout = idleMs;
      (server as Server & { keepAliveTimeoutBuffer?: number }).keepAliveTimeoutBuffer = 0;
      for (const [socket, count] of busy) if (count === 0) socket.setTimeout(idleMs);
    },
    /** Stops listening and waits up to `timeoutMs` for every connection to end; returns how many were still open. */
    async close(timeoutMs: number): Promise<number> {
      // net.Server's close, not http.Server's: that one also closes idle sockets at once.
      const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      });
      const late = await Promise.race([closed.then(() => false), timedOut]);
      clearTimeout(timer);
      const open = late ? busy.size : 0;
      if (late) {
        server.closeAllConnections();
        await closed;
      }
      // Stops the timeout checks (http.Server's close does that; the listener is already closed).
      server.close(() => undefined);
      return open;
    },
  };
}

const STATUS_LINES: Record<number, string> = {
  400: '400 Bad Request',
  408: '408 Request Timeout',
  413: '413 Content Too Large',
  431: '431 Request Header Fields Too Large',
};

const PROBLEM_CODES: Record<number, string> = {
  400: 'malformed-request',
  408: 'request-timeout',
  413: 'content-too-large',
  431: 'headers-too-large',
};

/**
 * Node's own `clientError` behaviour with a problem+json body: nothing is written when a response
 * has already begun on the socket (that would corrupt it), 431/413/408 where they apply, 400
 * otherwise; the socket is closed either way. `log` is called with a description of the error.
 */
function answerClientError(
  err: NodeJS.ErrnoException & { rawPacket?: Buffer },
  socket: Socket,
  log: (detail: string) => void,
): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  const status =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 431
      : err.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
        ? 413
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 408
          : 400;
  const detail = describeClientError(err, status);
  log(detail);
  if (inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({
    type: problemType(PROBLEM_CODES[status] as string),
    title: (STATUS_LINES[status] as string).slice(4),
    status,
    detail,
  });
  socket.write(
    `HTTP/1.1 ${STATUS_LINES[status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  // Ends once the answer is written; a client that never reads cannot keep the socket.
  socket.destroySoon();
  setTimeout(() => socket.destroy(), 1_000).unref();
}

/** Names the offending header when the parser rejected one (e.g. a CR or LF inside its value). */
function describeClientError(err: NodeJS.ErrnoException & { rawPacket?: Buffer }, status: number): string {
  if (status === 408) return 'the request was not received in time';
  if (status === 431) return 'request headers are too large';
  if (status === 413) return 'chunk extensions are too large';
  const raw = err.rawPacket?.toString('latin1') ?? '';
  const lines = raw.split('\n').slice(1);
  for (const line of lines) {
    const value = line.endsWith('\r') ? line.slice(0, -1) : line;
    const colon = value.indexOf(':');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we look for
    if (colon > 0 && /[\r\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) {
      return `header ${value.slice(0, colon)} contains a control character (CR, LF or NUL are not allowed)`;
    }
  }
  return `malformed HTTP request (${err.code ?? 'parse error'})`;
}

/**
 * At most `max` calls of `write` per `windowMs`; the first call let through after a window with
 * calls left out gets their number, so a flood of bad requests costs a few log lines, not one each.
 */
export function logSampler(max: number, windowMs: number, clock: () => number = Date.now) {
  let windowStart = Number.NEGATIVE_INFINITY;
  let written = 0;
  let suppressed = 0;
  return (write: (suppressed: number) => void): void => {
    const now = clock();
    if (now - windowStart >= windowMs) {
      windowStart = now;
      written = 0;
    }
    if (written >= max) {
      suppressed++;
      return;
    }
    written++;
    const left = suppressed;
    suppressed = 0;
    write(left);
  };
}
