import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  propagation,
  ROOT_CONTEXT,
  trace,
} from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { type ReadableSpan, TracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import {
  inboundTraceContextFromEnv,
  linkUntrustedParent,
  UNTRUSTED_LINK_ATTRIBUTE,
  UntrustedInboundPropagator,
} from '../src/inbound.ts';
import { keepEnded } from './support.ts';

const CLIENT_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN = 'b7ad6b7169203331';
const HEADERS = {
  traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`,
  baggage: 'tenant=admin,role=root',
};
const w3c = () =>
  new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] });

describe('UntrustedInboundPropagator', () => {
  it("when a client sends traceparent and baggage, then extracting gives no parent and no baggage, only the client's span context kept aside", () => {
    const edge = new UntrustedInboundPropagator(w3c());
    const ctx = edge.extract(ROOT_CONTEXT, HEADERS, defaultTextMapGetter);
    expect(trace.getSpanContext(ctx)).toBeUndefined();
    expect(propagation.getBaggage(ctx)).toBeUndefined();
    // The wrapped propagator alone would have joined (the control).
    const joined = w3c().extract(ROOT_CONTEXT, HEADERS, defaultTextMapGetter);
    expect(trace.getSpanContext(joined)?.traceId).toBe(CLIENT_TRACE);
    expect(propagation.getBaggage(joined)?.getEntry('role')?.value).toBe('root');
  });

  it('when our own calls go onwards, then injecting is the wrapped W3C propagation', () => {
    const edge = new UntrustedInboundPropagator(w3c());
    const ours = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '11111111111111111111111111111111',
      spanId: '2222222222222222',
      traceFlags: 1,
    });
    const carrier: Record<string, string> = {};
    edge.inject(ours, carrier, defaultTextMapSetter);
    expect(carrier.traceparent).toBe('00-11111111111111111111111111111111-2222222222222222-01');
    expect(edge.fields()).toEqual(expect.arrayContaining(['traceparent', 'baggage']));
  });

  it("when the server span starts in the extracted context, then it is the root of a new trace with a link to the client's span; without a valid traceparent, no link", () => {
    const ended: ReadableSpan[] = [];
    const provider = new TracerProvider({ spanProcessors: [keepEnded(ended)] });
    const tracer = provider.getTracer('test');
    const edge = new UntrustedInboundPropagator(w3c());
    for (const headers of [HEADERS, { traceparent: 'garbage' }, {}]) {
      const ctx = edge.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
      const span = tracer.startSpan('GET /api/departures', {}, ctx);
      // The http instrumentation calls its request hook in this context (trace.setSpan(ctx, span)).
      linkUntrustedParent(span, trace.setSpan(ctx, span));
      span.end();
    }
    const [linked, garbage, none] = ended;
    expect(linked?.spanContext().traceId).not.toBe(CLIENT_TRACE);
    expect(linked?.parentSpanContext).toBeUndefined();
    expect(linked?.links).toEqual([
      expect.objectContaining({
        context: expect.objectContaining({ traceId: CLIENT_TRACE, spanId: CLIENT_SPAN }),
        attributes: { [UNTRUSTED_LINK_ATTRIBUTE]: true },
      }),
    ]);
    expect(garbage?.links).toEqual([]);
    expect(none?.links).toEqual([]);
  });
});

describe('TRACE_INBOUND_CONTEXT', () => {
  it('when unset or blank, then join; link and join are taken; anything else is refused naming the variable', () => {
    expect(inboundTraceContextFromEnv({})).toBe('join');
    expect(inboundTraceContextFromEnv({ TRACE_INBOUND_CONTEXT: ' ' })).toBe('join');
    expect(inboundTraceContextFromEnv({ TRACE_INBOUND_CONTEXT: 'link' })).toBe('link');
    expect(() => inboundTraceContextFromEnv({ TRACE_INBOUND_CONTEXT: 'trust' })).toThrow(
      /TRACE_INBOUND_CONTEXT: must be join or link/,
    );
  });
});
