import {
  type Attributes,
  type Span,
  type SpanContext,
  SpanStatusCode,
  TraceFlags,
  trace,
} from '@opentelemetry/api';

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

/**
 * The active span when it belongs to a trace that is not sampled. Its children would not be
 * recorded either (every sampler here follows its parent's decision), so none need be made: the
 * active span stands in for them, and calls onwards carry its context, marked not sampled. Most
 * requests under load are in such traces (TRACES_PER_SECOND), and making a span nobody records
 * cost IDs, a context and garbage at every step (docs/performance.md).
 */
export function unsampledActiveSpan(): Span | undefined {
  const span = trace.getActiveSpan();
  return span && !span.isRecording() && isUnsampled(span.spanContext()) ? span : undefined;
}

/** A real trace (valid IDs) whose sampling decision was not to record it. */
export function isUnsampled(ctx: SpanContext | undefined): ctx is SpanContext {
  return ctx !== undefined && trace.isSpanContextValid(ctx) && (ctx.traceFlags & TraceFlags.SAMPLED) === 0;
}

/** Runs `fn` inside a new active span; failures are recorded and rethrown, the span always ends. */
export async function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  const unsampled = unsampledActiveSpan();
  if (unsampled) return fn(unsampled);
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
