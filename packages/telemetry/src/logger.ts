import sonicBoom from 'sonic-boom';
import winston from 'winston';
import Transport from 'winston-transport';
import { currentRequestId } from './context.ts';
import { safeStringify } from './json.ts';
import { onShutdown } from './lifecycle.ts';
import { activeTraceIds } from './spans.ts';
import { SyslogTransport } from './syslog-transport.ts';

export type Logger = winston.Logger;

export interface LoggerOptions {
  service: string;
  level?: string;
  /** RFC 5424 over TCP, in addition to stdout. */
  syslog?: { host: string; port: number } | undefined;
  /** Called with the number of syslog messages dropped because the buffer was full. */
  onSyslogDrop?: (count: number) => void;
  /** Called with the number of stdout lines dropped because stdout was not read (buffer full). */
  onStdoutDrop?: (count: number) => void;
  /** Replaces stdout (tests). */
  transports?: Transport[];
}

const MESSAGE = Symbol.for('message');
const FIRST_FIELDS = ['timestamp', 'level', 'service', 'message', 'request_id', 'trace_id', 'span_id'];

/**
 * Puts the correlation fields on every record: request_id from the request context,
 * trace_id/span_id from the active span (the winston instrumentation sets them too when it runs;
 * doing it here keeps them present in processes started without it), null when there is none.
 */
const correlate = (service: string) =>
  winston.format((info) => {
    info.service ??= service;
    info.timestamp ??= new Date().toISOString();
    if (info.request_id === undefined) info.request_id = currentRequestId() ?? null;
    if (info.trace_id === undefined || info.span_id === undefined) {
      const ids = activeTraceIds();
      info.trace_id ??= ids.trace_id;
      info.span_id ??= ids.span_id;
    }
    delete info.trace_flags;
    return info;
  })();

/** One JSON object per line, the contract fields first so a person reading stdout finds them. */
const orderedJson = winston.format((info) => {
  const record = info as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of FIRST_FIELDS) out[key] = record[key] ?? null;
  // for…in rather than Object.entries: no array per field for every line (a record is a plain object).
  for (const key in record) if (!(key in out)) out[key] = record[key];
  (info as Record<symbol, unknown>)[MESSAGE] = safeStringify(out);
  return info;
})();

/** Most a service keeps of log lines stdout has not taken yet; beyond it, lines are dropped. */
export const STDOUT_BUFFER_BYTES = 8 * 1024 * 1024;
/** Longest a log line waits in that buffer before it is written. */
export const STDOUT_FLUSH_MS = 100;

/**
 * Writes each record's JSON line to stdout through a buffered, asynchronous stream (sonic-boom,
 * pino's writer). Node writes to a pipe synchronously, one write(2) per line, and a busy service
 * spent more time there than on the request itself (docs/performance.md); here lines go out
 * together, in writes of 4 kB or more, and none waits longer than STDOUT_FLUSH_MS. At shutdown
 * the logger waits until every line is written (`drained`); at any other exit what is still
 * buffered is written synchronously, but a write already in flight then (at most 16 kB) can be
 * lost if stdout is not being read fast enough for it to finish.
 */
export class StdoutTransport extends Transport {
  readonly #stream: sonicBoom.SonicBoom;
  readonly #flushAtExit = () => this.flush();

  constructor(onDrop?: (count: number) => void) {
    super();
    this.#stream = new sonicBoom.SonicBoom({
      fd: 1,
      sync: false,
      // Lines wait until 4 kB are due or STDOUT_FLUSH_MS have passed, whichever comes first.
      minLength: 4096,
      periodicFlush: STDOUT_FLUSH_MS,
      maxLength: STDOUT_BUFFER_BYTES,
    });
    this.#stream.on('drop', () => onDrop?.(1));
    process.once('exit', this.#flushAtExit);
  }

  override log(info: Record<symbol, unknown>, callback: () => void): void {
    this.#stream.write(`${String(info[MESSAGE])}\n`);
    callback();
  }

  /**
   * Resolves once every line handed to the stream so far is written (including a write in
   * flight), or after `timeoutMs` when stdout is not being read.
   */
  drained(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      try {
        this.#stream.flush(() => {
          clearTimeout(timer);
          resolve();
        });
      } catch {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  /** Writes what is buffered, synchronously; nothing when stdout is gone (EPIPE). */
  flush(): void {
    try {
      this.#stream.flushSync();
    } catch {
      // stdout is gone: nothing left to write to
    }
  }

  /** Called when the logger lets go of the transport (logger.close()). */
  override close(): void {
    this.flush();
    process.off('exit', this.#flushAtExit);
  }
}

/**
 * The service logger: JSON lines on stdout with timestamp, level, service, message, request_id,
 * trace_id and span_id on every line; optionally the same records as RFC 5424 syslog over TCP.
 */
export function createLogger(options: LoggerOptions): Logger {
  const stdout = options.transports ? undefined : new StdoutTransport(options.onStdoutDrop);
  const transports: Transport[] = options.transports ?? [stdout as StdoutTransport];
  let syslog: SyslogTransport | undefined;
  if (options.syslog) {
    syslog = new SyslogTransport({
      host: options.syslog.host,
      port: options.syslog.port,
      appName: options.service,
      ...(options.onSyslogDrop ? { onDrop: options.onSyslogDrop } : {}),
    });
    transports.push(syslog);
  }
  const logger = winston.createLogger({
    level: options.level ?? 'info',
    format: winston.format.combine(
      winston.format.errors({ stack: true }),
      correlate(options.service),
      orderedJson,
    ),
    transports,
  });
  onShutdown('logger', async () => {
    await Promise.all([syslog?.flush(2000), stdout?.drained(2000)]);
    // Closes every transport: the stdout one writes anything logged since.
    logger.close();
  });
  return logger;
}
