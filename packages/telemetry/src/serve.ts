import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { problemType } from './errors.ts';
import type { Health } from './health.ts';
import { runShutdownHooks } from './lifecycle.ts';
import type { Logger } from './logger.ts';

export interface ServeOptions {
  port: number;
  host: string;
  logger: Logger;
  health: Health;
  /** Time between readiness turning 503 and closing the listener, so load balancers stop sending. */
  drainDelayMs?: number;
  /** Longest the whole shutdown may take before the process is forced out. */
  shutdownTimeoutMs?: number;
  /** Work to stop before telemetry is flushed (timers, upstream clients). */
  onClose?: () => Promise<void> | void;
}

export interface RunningServer {
  server: Server;
  port: number;
  url: string;
  /** Graceful shutdown: not ready → drain → close → flush telemetry. */
  shutdown(reason: string): Promise<void>;
}

/**
 * Listens, answers malformed requests with problem+json, and wires SIGTERM/SIGINT to a graceful
 * shutdown that ends the process.
 */
export async function serve(app: Express, options: ServeOptions): Promise<RunningServer> {
  const { logger, health } = options;
  const server = app.listen(options.port, options.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  // Keep-alive longer than typical proxies' idle timeouts, so a proxy never reuses a socket we closed.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket) => {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const detail = describeClientError(err);
    const body = JSON.stringify({
      type: problemType('malformed-request'),
      title: 'Bad request',
      status: 400,
      detail,
    });
    logger.warn('malformed request rejected', { code: err.code, detail });
    socket.end(
      `HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  const port = (server.address() as AddressInfo).port;
  health.markStarted();

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string): Promise<void> => {
    shuttingDown ??= (async () => {
      const timeoutMs = options.shutdownTimeoutMs ?? 10_000;
      setTimeout(() => {
        console.error(`shutdown took longer than ${timeoutMs} ms; exiting`);
        process.exit(1);
      }, timeoutMs).unref();
      logger.info('shutting down', { reason });
      health.markShuttingDown();
      if (options.drainDelayMs) await new Promise((r) => setTimeout(r, options.drainDelayMs));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await options.onClose?.();
      logger.info('stopped', { reason });
      for (const { name, error } of await runShutdownHooks())
        console.error(`shutdown hook ${name} failed`, error);
    })();
    return shuttingDown;
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void shutdown(signal).then(() => process.exit(0));
    });
  }
  // Only now say so: a supervisor that reacts to this line with SIGTERM must find the handlers
  // installed (before them, SIGTERM's default action kills the process without a drain).
  logger.info('listening', { port, host: options.host });
  return { server, port, url: `http://${options.host}:${port}`, shutdown };
}

/** Names the offending header when the parser rejected one (e.g. a CR or LF inside its value). */
function describeClientError(err: NodeJS.ErrnoException & { rawPacket?: Buffer }): string {
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
  if (err.code === 'HPE_HEADER_OVERFLOW') return 'request headers are too large';
  return `malformed HTTP request (${err.code ?? 'parse error'})`;
}
