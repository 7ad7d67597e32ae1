// `@failway/telemetry/spans`: what domain code may import from the telemetry package. It loads
// @opentelemetry/api and nothing else (the package's main entry also loads express, winston and
// the HTTP client), so a domain module and its unit tests stay free of the HTTP and logging stack.
export { activeTraceIds, recordSpanError, withSpan } from './spans.ts';

/**
 * The error kind recorded as `status_code` (or an outcome) when no HTTP status came back:
 * `timeout`, `too_large` (the body went over the client's maxResponseBytes) or `error`.
 */
export function errorKind(error: unknown): 'timeout' | 'too_large' | 'error' {
  const e = error as { name?: string; code?: string };
  if (e.code === 'ERR_RESPONSE_TOO_LARGE') return 'too_large';
  return e.name === 'TimeoutError' || (e.code?.includes('TIMEOUT') ?? false) ? 'timeout' : 'error';
}
