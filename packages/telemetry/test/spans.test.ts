import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  type ReadableSpan,
  type Sampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHttpClient, type HttpClient } from '../src/client.ts';
import { requestContext } from '../src/context.ts';
import { Health } from '../src/health.ts';
import { createServiceApp } from '../src/http.ts';
import { createLogger } from '../src/logger.ts';
import { createMetrics } from '../src/metrics.ts';
import { withSpan } from '../src/spans.ts';
import { CaptureTransport, keepEnded } from './support.ts';

// The spans the package makes: the request middleware's server span (http.ts), the HTTP client's
// (client.ts) and withSpan's (spans.ts), with the SDK wired as the services wire it (sdk.ts): a real
// TracerProvider, async-local context, W3C propagation.

const ended: ReadableSpan[] = [];
let sampler: Sampler = new AlwaysOnSampler();
const provider = new TracerProvider({
  // Decides per call: the test flips between recording and not.
  sampler: { shouldSample: (...args) => sampler.shouldSample(...args), toString: () => 'switch' },
  spanProcessors: [keepEnded(ended)],
});
const tracer = provider.getTracer('test');

let server: http.Server;
let baseUrl: string;
const traceparents: (string | undefined)[] = [];
let client: HttpClient;

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  server = http.createServer((req, res) => {
    traceparents.push(req.headers.traceparent as string | undefined);
    const status = req.url?.startsWith('/fail') ? 502 : 200;
    res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  client = createHttpClient({ peerService: 'departures', baseUrl, metrics: createMetrics('svc') });
});

afterAll(async () => {
  await client.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  trace.disable();
  propagation.disable();
  context.disable();
});

beforeEach(() => {
  ended.length = 0;
  traceparents.length = 0;
  sampler = new AlwaysOnSampler();
});

/** Calls `path` inside a parent span, as a request handler does; returns the parent's span context. */
async function callInParent(path: string) {
  const parent = tracer.startSpan('parent');
  try {
    await requestContext.run({ requestId: 'rid-7' }, () =>
      context.with(trace.setSpan(context.active(), parent), () => client.request(path)),
    );
  } finally {
    parent.end();
  }
  return parent.spanContext();
}

describe('client spans', () => {
  it('when a call is made inside a recorded span, then a CLIENT span is its child, with the HTTP attributes, and the callee gets that span as its parent', async () => {
    const parent = await callInParent('/departures/WHP?to=LTN');
    const span = ended.find((s) => s.kind === SpanKind.CLIENT);
    expect(span?.name).toBe('GET');
    expect(span?.parentSpanContext?.spanId).toBe(parent.spanId);
    expect(span?.spanContext().traceId).toBe(parent.traceId);
    const { port } = new URL(baseUrl);
    expect(span?.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.full': `${baseUrl}/departures/WHP?to=LTN`,
      'url.path': '/departures/WHP',
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'server.port': Number(port),
      'peer.service': 'departures',
      'request.id': 'rid-7',
      'http.response.status_code': 200,
    });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    expect(traceparents).toEqual([`00-${parent.traceId}-${span?.spanContext().spanId}-01`]);
  });

  it('when the callee answers 5xx, then the client span is an error with error.type the status', async () => {
    await callInParent('/fail');
    const span = ended.find((s) => s.kind === SpanKind.CLIENT);
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes).toMatchObject({ 'http.response.status_code': 502, 'error.type': '502' });
  });

  it('when the call fails without an answer, then the client span records the exception', async () => {
    const dead = createHttpClient({
      peerService: 'nobody',
      baseUrl: 'http://127.0.0.1:9', // discard port: nothing listens on loopback
      metrics: createMetrics('svc2'),
    });
    const parent = tracer.startSpan('parent');
    await expect(
      context.with(trace.setSpan(context.active(), parent), () => dead.request('/x')),
    ).rejects.toThrow();
    parent.end();
    await dead.close();
    const span = ended.find((s) => s.kind === SpanKind.CLIENT);
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.events.map((e) => e.name)).toContain('exception');
    expect(span?.attributes['error.type']).toBeDefined();
  });

  it('when the trace is not sampled, then no span is recorded but the callee still gets the trace context, marked not sampled', async () => {
    sampler = new ParentBasedSampler({ root: new AlwaysOffSampler() });
    const parent = await callInParent('/departures/WHP?to=LTN');
    expect(ended).toEqual([]);
    expect(traceparents).toHaveLength(1);
    expect(traceparents[0]).toMatch(new RegExp(`^00-${parent.traceId}-[0-9a-f]{16}-00$`));
  });

  it('when the call is to a probe or scrape path, then it makes no span and sends no trace context', async () => {
    await callInParent('/readyz');
    await callInParent('metrics?x=1');
    expect(ended.filter((s) => s.kind === SpanKind.CLIENT)).toEqual([]);
    expect(traceparents).toEqual([undefined, undefined]);
  });
});

describe('withSpan', () => {
  it('when the active trace is sampled, then a child span is recorded and is active inside', async () => {
    const parent = tracer.startSpan('parent');
    const inner = await context.with(trace.setSpan(context.active(), parent), () =>
      withSpan('cache.lookup', { 'cache.key': 'WHP>LTN' }, () => trace.getActiveSpan()?.spanContext()),
    );
    parent.end();
    const child = ended.find((s) => s.name === 'cache.lookup');
    expect(child?.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(child?.attributes['cache.key']).toBe('WHP>LTN');
    expect(inner?.spanId).toBe(child?.spanContext().spanId);
  });

  it('when the active trace is not sampled, then no span is made: the active one stands in, and its failure still propagates', async () => {
    sampler = new ParentBasedSampler({ root: new AlwaysOffSampler() });
    const parent = tracer.startSpan('parent');
    const inParent = (fn: () => Promise<unknown>) =>
      context.with(trace.setSpan(context.active(), parent), fn);
    const seen = await inParent(() => withSpan('cache.lookup', {}, (span) => span));
    expect(seen).toBe(parent);
    await expect(
      inParent(() =>
        withSpan('cache.lookup', {}, () => {
          throw new Error('boom');
        }),
      ),
    ).rejects.toThrow('boom');
    parent.end();
    expect(ended).toEqual([]);
  });

  it('when there is no active span, then withSpan starts a root span (the sampler decides)', async () => {
    await withSpan('refresh', {}, () => undefined);
    expect(ended.map((s) => [s.name, s.parentSpanContext])).toEqual([['refresh', undefined]]);
  });
});

describe('server spans', () => {
  const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
  const CALLER_SPAN = '00f067aa0ba902b7';
  let app: http.Server;
  let appUrl: string;
  const inHandler: { traceId?: string; spanId?: string; recording?: boolean }[] = [];

  beforeAll(async () => {
    const logger = createLogger({ service: 'svc', transports: [new CaptureTransport()] });
    const express = createServiceApp({
      logger,
      metrics: createMetrics('svc3'),
      health: new Health(),
      routes: (a) =>
        a.get('/items/:id', (_req, res) => {
          const span = trace.getActiveSpan();
          inHandler.push({ ...span?.spanContext(), recording: span?.isRecording() });
          res.json({});
        }),
    });
    app = express.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => app.once('listening', resolve));
    appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    app.closeAllConnections();
    await new Promise<void>((resolve) => app.close(() => resolve()));
  });

  beforeEach(() => {
    inHandler.length = 0;
  });

  it("when the caller's trace is sampled, then a SERVER span named by the route is recorded as the caller's child", async () => {
    sampler = new ParentBasedSampler({ root: new AlwaysOffSampler() });
    await fetch(`${appUrl}/items/7`, { headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` } });
    await new Promise((resolve) => setImmediate(resolve));
    const span = ended.find((s) => s.kind === SpanKind.SERVER);
    expect(span?.name).toBe('GET /items/:id');
    expect(span?.parentSpanContext?.spanId).toBe(CALLER_SPAN);
    expect(inHandler).toEqual([{ ...span?.spanContext(), recording: true }]);
  });

  it("when the caller's trace is not sampled, then no span is made: the handler runs in the caller's context", async () => {
    sampler = new AlwaysOnSampler(); // would record a root span: only the caller's flag prevents one
    await fetch(`${appUrl}/items/7`, { headers: { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-00` } });
    await new Promise((resolve) => setImmediate(resolve));
    expect(ended).toEqual([]);
    expect(inHandler).toEqual([
      { traceId: CALLER_TRACE, spanId: CALLER_SPAN, traceFlags: 0, isRemote: true, recording: false },
    ]);
  });
});
