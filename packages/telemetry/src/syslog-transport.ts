import net from 'node:net';
import os from 'node:os';
import TransportStream from 'winston-transport';
import { safeStringify } from './json.ts';

/** Options of the pure RFC 5424 formatter. */
export interface Rfc5424Options {
  /** APP-NAME header field (truncated to 48 printable ASCII characters). */
  appName: string;
  /** HOSTNAME header field; defaults to `os.hostname()`. */
  hostname?: string;
  /** PROCID header field; defaults to the current pid. */
  procId?: string;
  /** Syslog facility 0–23; defaults to 16 (local0). */
  facility?: number;
}

/** Options of {@link SyslogTransport}. */
export interface SyslogTransportOptions extends Rfc5424Options {
  /** Syslog server host (TCP). */
  host: string;
  /** Syslog server TCP port. */
  port: number;
  /** Messages kept in memory while the server is unreachable; the oldest are dropped beyond this. Default 1000. */
  maxBuffered?: number;
  /**
   * Bytes of messages kept in memory (framed); the oldest are dropped beyond this, so a few huge
   * records cannot hold more than this however few they are. Default 1 MiB.
   */
  maxBufferedBytes?: number;
  /**
   * A server that stops reading (the socket stays full, no 'drain' for this many ms) is given up on:
   * the connection is destroyed (what it had not taken is counted as dropped) and a new one made.
   * Default 10 000.
   */
  drainTimeoutMs?: number;
  /** First reconnect delay in ms. Default 200. */
  reconnectMinMs?: number;
  /** Upper bound of the exponential reconnect delay in ms. Default 30 000. */
  reconnectMaxMs?: number;
  /** A connection attempt that has not succeeded after this many ms is aborted and retried. Default 10 000. */
  connectTimeoutMs?: number;
  /** Called with the number of messages discarded (buffer overflow, or still undelivered at `close()`). */
  onDrop?: (count: number) => void;
  /** Called with every socket error; the transport handles the error itself either way. */
  onError?: (error: Error) => void;
  /** Most verbose winston level this transport accepts. */
  level?: string;
}

/** Delivery counters of a {@link SyslogTransport}. */
export interface SyslogTransportStats {
  /** Messages accepted by the kernel (written to the TCP socket). */
  sent: number;
  /** Messages discarded by the transport. */
  dropped: number;
  /** Messages waiting in memory for a connection or for the socket to drain. */
  buffered: number;
  /** Bytes of those messages. */
  bufferedBytes: number;
  /** Connections given up on because the server stopped reading. */
  stalls: number;
  /** Whether a TCP connection to the server is currently established. */
  connected: boolean;
}

// winston npm levels plus the syslog level names, so `winston.config.syslog.levels` map 1:1 too.
const SEVERITY: Readonly<Record<string, number>> = {
  emerg: 0,
  alert: 1,
  crit: 2,
  error: 3,
  warn: 4,
  warning: 4,
  notice: 5,
  info: 6,
  http: 6,
  verbose: 7,
  debug: 7,
  silly: 7,
};
const DEFAULT_SEVERITY = 6;
const DEFAULT_FACILITY = 16;

// winston keeps the uncolorized level under this symbol (triple-beam LEVEL); `level` may carry ANSI colours.
const LEVEL = Symbol.for('level');

// IANA "example" private enterprise number, as used in RFC 5424's own examples.
const SD_ID = 'log@32473';
const SD_FIELDS = ['request_id', 'trace_id', 'span_id'] as const;

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})$/;

function headerField(value: string | undefined, maxLength: number): string {
  const printable = (value ?? '').replace(/[^\x21-\x7e]/gu, '_').slice(0, maxLength);
  return printable === '' ? '-' : printable;
}

function sdValue(value: string): string {
  return value.replace(/["\\\]]/g, (char) => `\\${char}`);
}

function scalar(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  return undefined;
}

function timestampOf(value: unknown): string {
  if (typeof value === 'string' && ISO_TIMESTAMP.test(value) && !Number.isNaN(Date.parse(value))) {
    return value;
  }
  return new Date().toISOString();
}

function levelOf(record: Readonly<Record<string | symbol, unknown>>): string | undefined {
  return scalar(record[LEVEL]) ?? scalar(record.level);
}

// Log metadata is arbitrary user data: a cycle, a BigInt or a throwing toJSON must not lose the line.
function safeJson(record: Readonly<Record<string, unknown>>): string {
  try {
    return safeStringify(record);
  } catch {
    return JSON.stringify({ level: scalar(record.level), message: scalar(record.message) });
  }
}

/**
 * Formats a winston record as an RFC 5424 syslog message (without transport framing):
 * `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`, where MSG is the JSON of the record.
 */
export function formatRfc5424(record: Readonly<Record<string, unknown>>, opts: Rfc5424Options): string {
  const facility = opts.facility ?? DEFAULT_FACILITY;
  const level = levelOf(record);
  const severity = (level !== undefined ? SEVERITY[level] : undefined) ?? DEFAULT_SEVERITY;
  const pri = facility * 8 + severity;

  const timestamp = timestampOf(record.timestamp);
  const hostname = headerField(opts.hostname ?? os.hostname(), 255);
  const appName = headerField(opts.appName, 48);
  const procId = headerField(opts.procId ?? String(process.pid), 128);
  const msgId = headerField(scalar(record.msgid), 32);

  const params: string[] = [];
  if (level !== undefined && level !== '') params.push(`level="${sdValue(level)}"`);
  for (const field of SD_FIELDS) {
    const value = scalar(record[field]);
    if (value !== undefined && value !== '') params.push(`${field}="${sdValue(value)}"`);
  }
  const sd = params.length > 0 ? `[${SD_ID} ${params.join(' ')}]` : '-';

  return `<${pri}>1 ${timestamp} ${hostname} ${appName} ${procId} ${msgId} ${sd} ${safeJson(record)}`;
}

/** Frames a message with RFC 6587 octet counting: `<byte length in UTF-8> <msg>`. */
export function frameOctetCounted(msg: string): Buffer {
  const body = Buffer.from(msg, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isInteger(result) || result < 1) throw new RangeError(`${name} must be a positive integer`);
  return result;
}

interface FlushWaiter {
  resolve: () => void;
  timer: NodeJS.Timeout;
}

/**
 * winston transport sending RFC 5424 messages over TCP with RFC 6587 octet-counting framing.
 * Logging never blocks or throws: records are buffered (bounded, oldest dropped) while the server is
 * unreachable, and the transport reconnects with jittered exponential backoff. Neither the socket nor the
 * reconnect timer keeps the process alive; call {@link SyslogTransport.flush} before exiting to deliver the rest.
 */
export class SyslogTransport extends TransportStream {
  readonly #host: string;
  readonly #port: number;
  readonly #format: Required<Rfc5424Options>;
  readonly #maxBuffered: number;
  readonly #maxBufferedBytes: number;
  readonly #drainTimeoutMs: number;
  readonly #reconnectMinMs: number;
  readonly #reconnectMaxMs: number;
  readonly #connectTimeoutMs: number;
  readonly #onDrop: ((count: number) => void) | undefined;
  readonly #onError: ((error: Error) => void) | undefined;

  #queue: Buffer[] = [];
  #queueBytes = 0;
  #drainTimer: NodeJS.Timeout | null = null;
  #stalls = 0;
  #socket: net.Socket | null = null;
  #connected = false;
  #waitingForDrain = false;
  #pumpScheduled = false;
  #closed = false;
  #attempt = 0;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #destroyTimer: NodeJS.Timeout | null = null;
  #flushWaiters = new Set<FlushWaiter>();
  #sent = 0;
  #dropped = 0;

  /** Creates the transport and starts connecting right away. Throws a RangeError on invalid options. */
  constructor(opts: SyslogTransportOptions) {
    super(opts.level !== undefined ? { level: opts.level } : {});
    const facility = opts.facility ?? DEFAULT_FACILITY;
    if (!Number.isInteger(facility) || facility < 0 || facility > 23) {
      throw new RangeError('facility must be an integer between 0 and 23');
    }
    if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) {
      throw new RangeError('port must be an integer between 1 and 65535');
    }
    this.#host = opts.host;
    this.#port = opts.port;
    this.#format = {
      appName: opts.appName,
      hostname: opts.hostname ?? os.hostname(),
      procId: opts.procId ?? String(process.pid),
      facility,
    };
    this.#maxBuffered = positiveInt('maxBuffered', opts.maxBuffered, 1000);
    this.#maxBufferedBytes = positiveInt('maxBufferedBytes', opts.maxBufferedBytes, 1024 * 1024);
    this.#drainTimeoutMs = positiveInt('drainTimeoutMs', opts.drainTimeoutMs, 10_000);
    this.#reconnectMinMs = positiveInt('reconnectMinMs', opts.reconnectMinMs, 200);
    this.#reconnectMaxMs = Math.max(
      this.#reconnectMinMs,
      positiveInt('reconnectMaxMs', opts.reconnectMaxMs, 30_000),
    );
    this.#connectTimeoutMs = positiveInt('connectTimeoutMs', opts.connectTimeoutMs, 10_000);
    this.#onDrop = opts.onDrop;
    this.#onError = opts.onError;
    this.#connect();
  }

  /** winston entry point: enqueues the record and calls `callback` without waiting for the network. */
  log(info: Record<string, unknown>, callback: () => void): void {
    setImmediate(() => this.emit('logged', info));
    if (this.#closed) {
      this.#drop(1);
    } else {
      try {
        this.#enqueue(frameOctetCounted(formatRfc5424(info, this.#format)));
      } catch {
        this.#drop(1);
      }
    }
    callback();
  }

  /** Current delivery counters. */
  stats(): SyslogTransportStats {
    return {
      sent: this.#sent,
      dropped: this.#dropped,
      buffered: this.#queue.length,
      bufferedBytes: this.#queueBytes,
      stalls: this.#stalls,
      connected: this.#connected,
    };
  }

  /**
   * Resolves once every buffered message has been handed to the kernel, or after `timeoutMs`
   * (whichever comes first). Never rejects.
   */
  flush(timeoutMs = 2000): Promise<void> {
    if (this.#isFlushed()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      // Deliberately not unref()ed: an awaited flush at shutdown must keep the loop alive until it is done.
      const waiter: FlushWaiter = {
        resolve,
        timer: setTimeout(() => {
          this.#flushWaiters.delete(waiter);
          resolve();
        }, timeoutMs),
      };
      this.#flushWaiters.add(waiter);
    });
  }

  /**
   * Stops reconnecting and closes the connection; winston calls it on `logger.close()`.
   * Messages still buffered are handed to an open connection, otherwise counted as dropped.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;

    const socket = this.#socket;
    if (socket && this.#connected) {
      // end() still flushes everything written before it, so ignore backpressure for this last batch.
      socket.cork();
      for (const frame of this.#queue) socket.write(frame, this.#onWritten);
      this.#queue = [];
      this.#queueBytes = 0;
      socket.uncork();
      socket.end();
      // A server that never answers our FIN must not leave a half-closed socket behind.
      this.#destroyTimer = setTimeout(() => socket.destroy(), 1000);
      this.#destroyTimer.unref();
    } else {
      socket?.destroy();
      this.#drop(this.#queue.length);
      this.#queue = [];
      this.#queueBytes = 0;
    }
    this.#clearDrainTimer();
    this.#checkFlushed();
  }

  #enqueue(frame: Buffer): void {
    if (frame.length > this.#maxBufferedBytes) {
      this.#drop(1);
      return;
    }
    let excess = 0;
    let freed = 0;
    // Oldest first, until both the count and the bytes leave room for this frame.
    while (
      excess < this.#queue.length &&
      (this.#queue.length - excess >= this.#maxBuffered ||
        this.#queueBytes - freed + frame.length > this.#maxBufferedBytes)
    ) {
      freed += (this.#queue[excess] as Buffer).length;
      excess++;
    }
    if (excess > 0) {
      this.#queue.splice(0, excess);
      this.#queueBytes -= freed;
      this.#drop(excess);
    }
    this.#queue.push(frame);
    this.#queueBytes += frame.length;
    this.#schedulePump();
  }

  #drop(count: number): void {
    if (count <= 0) return;
    this.#dropped += count;
    try {
      this.#onDrop?.(count);
    } catch {
      // A faulty drop callback must not turn logging into a crash.
    }
  }

  // Batches the records of one synchronous burst into a single corked write.
  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    queueMicrotask(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    const socket = this.#socket;
    if (!socket || !this.#connected || this.#waitingForDrain || this.#queue.length === 0) return;
    let written = 0;
    let bytes = 0;
    socket.cork();
    for (const frame of this.#queue) {
      written++;
      bytes += frame.length;
      if (!socket.write(frame, this.#onWritten)) {
        this.#waitingForDrain = true;
        this.#armDrainTimer(socket);
        break;
      }
    }
    this.#queue.splice(0, written);
    this.#queueBytes -= bytes;
    socket.uncork();
  }

  // The socket is full: the server has this long to take something before it is given up on.
  #armDrainTimer(socket: net.Socket): void {
    this.#clearDrainTimer();
    this.#drainTimer = setTimeout(() => {
      this.#drainTimer = null;
      if (this.#socket !== socket || !this.#waitingForDrain) return;
      this.#stalls++;
      socket.destroy(new Error(`syslog server stopped reading: no drain within ${this.#drainTimeoutMs} ms`));
    }, this.#drainTimeoutMs);
    this.#drainTimer.unref();
  }

  #clearDrainTimer(): void {
    if (this.#drainTimer) clearTimeout(this.#drainTimer);
    this.#drainTimer = null;
  }

  #onWritten = (error?: Error | null): void => {
    // A write still in the socket's buffer when it was destroyed (a stalled server) is lost.
    if (error) this.#drop(1);
    else this.#sent++;
    this.#checkFlushed();
  };

  #connect(): void {
    if (this.#closed) return;
    const socket = net.connect({ host: this.#host, port: this.#port });
    this.#socket = socket;
    socket.setKeepAlive(true);
    socket.setNoDelay(true);
    socket.unref();
    socket.setTimeout(this.#connectTimeoutMs);
    // The server is not supposed to talk back, but the readable side must flow to ever see its FIN.
    socket.resume();

    socket.on('timeout', () => {
      if (!this.#connected) socket.destroy(new Error(`connect timeout after ${this.#connectTimeoutMs} ms`));
    });
    socket.on('connect', () => {
      socket.setTimeout(0);
      this.#connected = true;
      this.#attempt = 0;
      this.#pump();
    });
    socket.on('drain', () => {
      this.#waitingForDrain = false;
      this.#clearDrainTimer();
      this.#pump();
      this.#checkFlushed();
    });
    socket.on('error', (error: Error) => {
      try {
        this.#onError?.(error);
      } catch {
        // Same as onDrop: observers must not crash the service.
      }
    });
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      this.#connected = false;
      this.#waitingForDrain = false;
      this.#clearDrainTimer();
      if (this.#destroyTimer) clearTimeout(this.#destroyTimer);
      this.#destroyTimer = null;
      this.#scheduleReconnect();
      this.#checkFlushed();
    });
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnectTimer) return;
    const exponential = Math.min(this.#reconnectMaxMs, this.#reconnectMinMs * 2 ** this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 32);
    // Equal jitter keeps the growth but spreads the reconnects of many instances after a syslog restart.
    const delay = Math.max(this.#reconnectMinMs, exponential / 2 + (Math.random() * exponential) / 2);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#connect();
    }, delay);
    this.#reconnectTimer.unref();
  }

  #isFlushed(): boolean {
    return this.#queue.length === 0 && (this.#socket === null || this.#socket.writableLength === 0);
  }

  #checkFlushed(): void {
    if (this.#flushWaiters.size === 0 || !this.#isFlushed()) return;
    for (const waiter of this.#flushWaiters) {
      clearTimeout(waiter.timer);
      waiter.resolve();
    }
    this.#flushWaiters.clear();
  }
}
