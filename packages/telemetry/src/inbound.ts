import {
  type Context,
  createContextKey,
  type Span,
  type SpanContext,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  trace,
} from '@opentelemetry/api';
import { z } from 'zod';
import { formatConfigError } from './config.ts';

/**
 * What a server does with the trace context (`traceparent`, `tracestate`, `baggage`) a request
 * arrives with:
 * - `join`: the server span is a child of the caller's span, and the caller's baggage goes on
 *   (internal services, called by the gateway and each other);
 * - `link`: the caller is not trusted (the gateway's public clients): its span context neither
 *   parents our spans nor decides their sampling, and its baggage is dropped; the server span
 *   starts a new trace and carries a link to the caller's span instead.
 */
export type InboundTraceContext = 'join' | 'link';

const inboundEnvSchema = z.object({
  TRACE_INBOUND_CONTEXT: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined),
    z.enum(['join', 'link'], { error: 'must be join or link' }).default('join'),
  ),
});

/** TRACE_INBOUND_CONTEXT, `join` when unset; throws naming the variable when it is not valid. */
export function inboundTraceContextFromEnv(env: NodeJS.ProcessEnv): InboundTraceContext {
  const parsed = inboundEnvSchema.safeParse(env);
  if (!parsed.success) throw new Error(formatConfigError(parsed.error));
  return parsed.data.TRACE_INBOUND_CONTEXT;
}

const UNTRUSTED_PARENT = createContextKey('failway untrusted inbound span context');

/** The attribute on the link to an untrusted caller's span. */
export const UNTRUSTED_LINK_ATTRIBUTE = 'failway.link.untrusted_parent';

/**
 * A propagator for a server whose callers are not trusted: injecting (our own calls onwards) is
 * the wrapped propagator's, but extracting never joins the caller's trace. The caller's span
 * context, when it sent a valid one, is kept aside in the context (for `linkUntrustedParent`), and
 * its baggage is not read at all.
 */
export class UntrustedInboundPropagator implements TextMapPropagator {
  readonly #inner: TextMapPropagator;

  constructor(inner: TextMapPropagator) {
    this.#inner = inner;
  }

  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    this.#inner.inject(context, carrier, setter);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const remote = trace.getSpanContext(this.#inner.extract(context, carrier, getter));
    return remote && trace.isSpanContextValid(remote) ? context.setValue(UNTRUSTED_PARENT, remote) : context;
  }

  fields(): string[] {
    return this.#inner.fields();
  }
}

/**
 * Adds a link to the untrusted caller's span (kept aside by UntrustedInboundPropagator in
 * `context`) to `span`, the server span of its request. Nothing when the caller sent none.
 */
export function linkUntrustedParent(span: Span, context: Context): void {
  const remote = context.getValue(UNTRUSTED_PARENT) as SpanContext | undefined;
  if (remote) span.addLink({ context: remote, attributes: { [UNTRUSTED_LINK_ATTRIBUTE]: true } });
}
