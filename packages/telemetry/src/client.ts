import type { Agent, AgentOptions } from 'node:http';
import { urlToHttpOptions } from 'node:url';
import { context, propagation, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { currentRequestId } from './context.ts';
import { exemplarFor, type ServiceMetrics } from './metrics.ts';
import { http, https } from './node-http.ts';
import { REQUEST_ID_HEADER } from './request-id.ts';
import { activeTraceIds, recordSpanError, unsampledActiveSpan } from './spans.ts';
import { errorKind } from './spans-entry.ts';

const tracer = trace.getTracer('@failway/telemetry/client');

/** Paths polled by probes and scrapers: calls to them make no span (they would drown the rest). */
const OPS_PATHS: ReadonlySet<string> = new Set(['healthz', 'readyz', 'metrics']);

/** Whether `relativePath` (the path without its leading slashes) is one of OPS_PATHS. */
function isOpsPath(relativePath: string): boolean {
  const query = relativePath.indexOf('?');
  return OPS_PATHS.has(query === -1 ? relativePath : relativePath.slice(0, query));
}

export interface HttpClientOptions {
  /** Name of the service called, the `peer_service` label. */
  peerService: string;
  baseUrl: string;
  metrics: ServiceMetrics;
  /** Local address outgoing connections are bound to (each replica looks like its own client IP). */
  localAddress?: string | undefined;
  connectTimeoutMs?: number;
  /** Deadline for the whole call: connect, headers and body. */
  timeoutMs?: number;
  keepAliveTimeoutMs?: number;
  connections?: number;
  /**
   * Largest response body accepted, in bytes; a longer one (by Content-Length or as it streams)
   * fails the call with a ResponseTooLargeError, recorded as `too_large`. Unlimited when unset.
   */
  maxResponseBytes?: number;
}

/** A response body went over the client's `maxResponseBytes` (errorKind: `too_large`). */
export class ResponseTooLargeError extends Error {
  readonly code = 'ERR_RESPONSE_TOO_LARGE';
  constructor(peer: string, maxBytes: number) {
    super(`${peer} answered with a body larger than ${maxBytes} bytes`);
    this.name = 'ResponseTooLargeError';
  }
}

/** No TCP connection within the connect timeout (errorKind: `timeout`). */
export class ConnectTimeoutError extends Error {
  readonly code = 'ERR_CONNECT_TIMEOUT';
  constructor(peer: string, timeoutMs: number) {
    super(`no connection to ${peer} within ${timeoutMs} ms`);
    this.name = 'ConnectTimeoutError';
  }
}

/** The connection closed before the whole answer had come. */
export class ResponseCutOffError extends Error {
  readonly code = 'ERR_RESPONSE_CUT_OFF';
  constructor(peer: string) {
    super(`${peer} closed the connection before the whole answer had come`);
    this.name = 'ResponseCutOffError';
  }
}

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS';

export interface SendOptions {
  /** A keep-alive agent of the URL's scheme (`keepAliveAgent`). */
  agent: Agent;
  /** Who is called, for error messages. */
  peer: string;
  method?: HttpMethod;
  headers?: Record<string, string>;
  /** Ends the call: it rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** Deadline for the whole call (connect, headers and body): it rejects with a `TimeoutError`. */
  timeoutMs?: number | undefined;
  connectTimeoutMs: number;
  maxResponseBytes?: number | undefined;
  localAddress?: string | undefined;
}

/** A keep-alive agent for `url`'s scheme; idle sockets close after `idleMs` (or the server's hint). */
export function keepAliveAgent(url: string, options: { idleMs: number; connections: number }): Agent {
  const agentOptions: AgentOptions = {
    keepAlive: true,
    maxSockets: options.connections,
    maxFreeSockets: options.connections,
    timeout: options.idleMs,
  };
  return url.startsWith('https:') ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
}

/**
 * One HTTP request on node:http: a connect timeout, the body read whole (bounded by
 * `maxResponseBytes`, by Content-Length or as it streams), and the signal's reason as the error
 * when it aborts. A socket whose call failed is destroyed, never reused.
 *
 * node:http rather than undici: in a side-by-side run (docs/performance.md) undici's client cost
 * about 7 µs more CPU per call, 8 MB more heap and 20 MB more resident memory (its HTTP parser is
 * WebAssembly, compiled in every process), for features these calls do not use.
 */
export function sendRequest(target: string | RequestTarget, options: SendOptions): Promise<HttpResponse> {
  const { signal, maxResponseBytes: max, timeoutMs } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let settled = false;
    let connectTimer: NodeJS.Timeout | undefined;
    let deadline: NodeJS.Timeout | undefined;
    const onAbort = () => fail(signal?.reason);
    const done = () => {
      settled = true;
      clearTimeout(connectTimer);
      clearTimeout(deadline);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (error: unknown) => {
      if (settled) return;
      done();
      req.destroy();
      reject(error);
    };
    const to = typeof target === 'string' ? requestTarget(target) : target;
    const req = (to.protocol === 'https:' ? https : http).request({
      protocol: to.protocol,
      hostname: to.hostname,
      port: to.port,
      path: to.path,
      agent: options.agent,
      method: options.method ?? 'GET',
      headers: options.headers,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    // Set once the request exists (a header node:http refuses throws above, rejecting the call):
    // one timer, cleared when the call ends. AbortSignal.timeout cannot be cleared, and each one
    // that outlived its call still fired, making a TimeoutError for nothing.
    if (timeoutMs !== undefined) {
      deadline = setTimeout(
        () => fail(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')),
        timeoutMs,
      );
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('socket', (socket) => {
      if (!socket.connecting) return; // a kept-alive connection, already open
      connectTimer = setTimeout(
        () => fail(new ConnectTimeoutError(options.peer, options.connectTimeoutMs)),
        options.connectTimeoutMs,
      );
      socket.once('connect', () => clearTimeout(connectTimer));
    });
    req.on('error', fail);
    req.on('response', (res) => {
      const tooLarge = () => fail(new ResponseTooLargeError(options.peer, max ?? 0));
      if (max !== undefined && Number(res.headers['content-length']) > max) {
        tooLarge();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (max !== undefined && size > max) tooLarge();
        else chunks.push(chunk);
      });
      res.on('end', () => {
        if (settled) return;
        done();
        const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body.toString('utf8') });
      });
      res.on('error', fail);
      res.on('close', () => {
        if (!res.complete) fail(new ResponseCutOffError(options.peer));
      });
    });
    req.end();
  });
}

/**
 * Where a call goes, as node:http takes it: a client parses its base URL once, where a URL string
 * would be parsed again for every call.
 */
export interface RequestTarget {
  protocol: string;
  /** Without the brackets of an IPv6 literal. */
  hostname: string;
  port: string | number | undefined;
  /** Path and query. */
  path: string;
}

/** `url` as a RequestTarget. */
export function requestTarget(url: string | URL): RequestTarget {
  const options = urlToHttpOptions(typeof url === 'string' ? new URL(url) : url);
  return {
    protocol: options.protocol ?? 'http:',
    hostname: options.hostname ?? 'localhost',
    port: options.port ?? undefined,
    path: options.path ?? '/',
  };
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface HttpClient {
  request(
    path: string,
    init?: {
      method?: HttpMethod;
      headers?: Record<string, string>;
      timeoutMs?: number;
      signal?: AbortSignal;
    },
  ): Promise<HttpResponse>;
  close(): Promise<void>;
}

export { errorKind };

/**
 * The client span of one call, per the HTTP semantic conventions, and the trace context injected
 * into its headers (`traceparent` with the sampling decision, so the callee follows it whether
 * the trace is recorded or not).
 *
 * Made here rather than by @opentelemetry/instrumentation-undici, as the server span is made by
 * the request middleware (http.ts): allocation profiles put that instrumentation, with undici,
 * among the largest allocators of a gateway request (attributes parsed from the URL and headers
 * and a histogram recorded on a meter nobody reads, for every call, recorded or not), where this
 * client already knows the method, URL and peer (docs/performance.md).
 */
function startClientSpan(
  method: string,
  href: string,
  peerService: string,
  requestId: string | undefined,
  headers: Record<string, string>,
): Span | undefined {
  const parent = context.active();
  if (unsampledActiveSpan()) {
    propagation.inject(parent, headers);
    return undefined;
  }
  const span = tracer.startSpan(method, { kind: SpanKind.CLIENT }, parent);
  // Attributes only for a span that is recorded: most calls under load are not sampled.
  if (span.isRecording()) {
    const url = new URL(href);
    span.setAttributes({
      'http.request.method': method,
      'url.full': href,
      'url.path': url.pathname,
      'url.scheme': url.protocol.slice(0, -1),
      'server.address': url.hostname,
      'server.port': Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
      'peer.service': peerService,
      ...(requestId ? { 'request.id': requestId } : {}),
    });
  }
  propagation.inject(trace.setSpan(parent, span), headers);
  return span;
}

/**
 * An outbound HTTP client: keep-alive pool, connect timeout and an overall deadline per call, the
 * request ID forwarded, a client span per call with the trace context injected, and every call
 * measured in `http_client_request_duration_seconds`.
 */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const base = baseHref(options.baseUrl);
  const origin = requestTarget(base);
  const agent = keepAliveAgent(base, {
    idleMs: options.keepAliveTimeoutMs ?? 10_000,
    connections: options.connections ?? 32,
  });
  const connectTimeoutMs = options.connectTimeoutMs ?? 1_000;
  const defaultTimeout = options.timeoutMs ?? 3_000;
  return {
    async request(path, init = {}) {
      const method = init.method ?? 'GET';
      const headers: Record<string, string> = { ...init.headers };
      const requestId = currentRequestId();
      if (requestId) headers[REQUEST_ID_HEADER] = requestId;
      const relativePath = path.replace(LEADING_SLASHES, '');
      const url = `${base}${relativePath}`;
      const span = isOpsPath(relativePath)
        ? undefined
        : startClientSpan(method, url, options.peerService, requestId, headers);
      const started = process.hrtime.bigint();
      let statusLabel = 'error';
      try {
        const res = await sendRequest(
          {
            protocol: origin.protocol,
            hostname: origin.hostname,
            port: origin.port,
            path: `${origin.path}${relativePath}`,
          },
          {
            agent,
            peer: options.peerService,
            method,
            headers,
            signal: init.signal,
            timeoutMs: init.timeoutMs ?? defaultTimeout,
            connectTimeoutMs,
            maxResponseBytes: options.maxResponseBytes,
            localAddress: options.localAddress,
          },
        );
        statusLabel = String(res.status);
        if (span?.isRecording()) {
          span.setAttribute('http.response.status_code', res.status);
          if (res.status >= 400) {
            span.setStatus({ code: SpanStatusCode.ERROR });
            span.setAttribute('error.type', statusLabel);
          }
        }
        return res;
      } catch (error) {
        statusLabel = errorKind(error);
        if (span) recordSpanError(span, error);
        throw error;
      } finally {
        span?.end();
        options.metrics.httpClientDuration.observe({
          labels: { peer_service: options.peerService, method, status_code: statusLabel },
          value: Number(process.hrtime.bigint() - started) / 1e9,
          // The caller's span: the exemplar leads to the trace where this call sits.
          exemplarLabels: exemplarFor(activeTraceIds().trace_id),
        });
      }
    },
    close: async () => agent.destroy(),
  };
}

const LEADING_SLASHES = /^\/+/;

/** The base URL as a prefix that paths are appended to: its path always ends with `/`. */
function baseHref(baseUrl: string): string {
  const base = new URL(baseUrl);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  base.search = '';
  base.hash = '';
  return base.href;
}

/**
 * `path` below the base URL's own path: `https://api.example/rail` + `/LDBWS/x` is
 * `https://api.example/rail/LDBWS/x`, where `new URL(path, base)` would drop `/rail` (real APIs
 * are often served under a product path prefix).
 */
export function resolveUrl(baseUrl: string, path: string): URL {
  return new URL(`${baseHref(baseUrl)}${path.replace(LEADING_SLASHES, '')}`);
}
