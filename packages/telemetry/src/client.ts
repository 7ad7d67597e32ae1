import { Agent, type Dispatcher, request as undiciRequest } from 'undici';
import { currentRequestId } from './context.ts';
import { exemplarFor, type ServiceMetrics } from './metrics.ts';
import { REQUEST_ID_HEADER } from './request-id.ts';
import { activeTraceIds } from './spans.ts';
import { errorKind } from './spans-entry.ts';

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

/** A response body went over the client's `maxResponseBytes`; its code is undici's. */
export class ResponseTooLargeError extends Error {
  readonly code = 'UND_ERR_RES_EXCEEDED_MAX_SIZE';
  constructor(peerService: string, maxBytes: number, cause: unknown) {
    super(`${peerService} answered with a body larger than ${maxBytes} bytes`, { cause });
    this.name = 'ResponseTooLargeError';
  }
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
      method?: Dispatcher.HttpMethod;
      headers?: Record<string, string>;
      timeoutMs?: number;
      signal?: AbortSignal;
    },
  ): Promise<HttpResponse>;
  close(): Promise<void>;
}

export { errorKind };

/**
 * An outbound HTTP client on undici: keep-alive pool, connect timeout and an overall deadline per
 * call, the request ID forwarded (the trace context is injected by the undici instrumentation),
 * and every call measured in `http_client_request_duration_seconds`.
 */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const agent = new Agent({
    connect: { timeout: options.connectTimeoutMs ?? 1_000 },
    ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 10_000,
    connections: options.connections ?? 32,
    ...(options.maxResponseBytes !== undefined ? { maxResponseSize: options.maxResponseBytes } : {}),
  });
  const defaultTimeout = options.timeoutMs ?? 3_000;
  const base = baseHref(options.baseUrl);
  return {
    async request(path, init = {}) {
      const method = init.method ?? 'GET';
      const headers: Record<string, string> = { ...init.headers };
      const requestId = currentRequestId();
      if (requestId) headers[REQUEST_ID_HEADER] = requestId;
      // A timer cleared when the call ends: AbortSignal.timeout cannot be cleared, and each one
      // that outlives its call still fires, making a TimeoutError for nothing.
      const deadline = new AbortController();
      const timeoutMs = init.timeoutMs ?? defaultTimeout;
      const timer = setTimeout(
        () => deadline.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')),
        timeoutMs,
      );
      const signal = init.signal ? AbortSignal.any([deadline.signal, init.signal]) : deadline.signal;
      const started = process.hrtime.bigint();
      let statusLabel = 'error';
      try {
        const res = await undiciRequest(`${base}${path.replace(LEADING_SLASHES, '')}`, {
          method,
          headers,
          signal,
          dispatcher: agent,
        });
        statusLabel = String(res.statusCode);
        const body = await res.body.text();
        return { status: res.statusCode, headers: res.headers, body };
      } catch (error) {
        const kind = errorKind(error);
        // A body cut off for its size is labelled so even when its status line had come.
        if (statusLabel === 'error' || kind === 'too_large') statusLabel = kind;
        if (kind === 'too_large' && options.maxResponseBytes !== undefined)
          throw new ResponseTooLargeError(options.peerService, options.maxResponseBytes, error);
        throw error;
      } finally {
        clearTimeout(timer);
        options.metrics.httpClientDuration.observe({
          labels: { peer_service: options.peerService, method, status_code: statusLabel },
          value: Number(process.hrtime.bigint() - started) / 1e9,
          exemplarLabels: exemplarFor(activeTraceIds().trace_id),
        });
      }
    },
    close: () => agent.close(),
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
