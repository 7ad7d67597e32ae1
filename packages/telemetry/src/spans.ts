import { type Attributes, type Span, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';

const tracer = trace.getTracer('@failway/telemetry');

/**
 * Marks a span as failed the same way everywhere: exception event, ERROR status, `error.type`.
 * The caller rethrows and ends the span in `finally`.
 */
export function recordSpanError(span: Span, error: unknown): void {
  const err = error instanceof Error ? error : new Error(String(error));
  span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
  span.setAttribute('error.type', (err as { code?: string }).code ?? err.name);
}

/** Runs `fn` inside a new active span; failures are recorded and rethrown, the span always ends. */
export async function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      recordSpanError(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * The trace and span IDs of `span`, or nulls when there is none or it is not sampled: a trace ID
 * on a log line, an exemplar or an X-Trace-ID header always leads to a recorded trace.
 */
export function traceIdsOf(span: Span | undefined): { trace_id: string | null; span_id: string | null } {
  const ctx = span?.spanContext();
  if (!ctx || !trace.isSpanContextValid(ctx) || (ctx.traceFlags & TraceFlags.SAMPLED) === 0)
    return { trace_id: null, span_id: null };
  return { trace_id: ctx.traceId, span_id: ctx.spanId };
}

/** The trace and span IDs of the active span (see traceIdsOf). */
export function activeTraceIds(): { trace_id: string | null; span_id: string | null } {
  return traceIdsOf(trace.getActiveSpan());
}
