import { type Context, context, ROOT_CONTEXT, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { SamplingDecision, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimitingSampler, samplerFromEnv } from '../src/sampler.ts';
import { activeTraceIds } from '../src/spans.ts';

const TRACE = '0af7651916cd43dd8448eb211c80319c';

function decisions(
  sampler: RateLimitingSampler,
  count: number,
  parent: Context = ROOT_CONTEXT,
): SamplingDecision[] {
  return Array.from(
    { length: count },
    () => sampler.shouldSample(parent, TRACE, 'GET /api/departures', SpanKind.SERVER, {}, []).decision,
  );
}

describe('RateLimitingSampler', () => {
  it('when more new traces come in one second than the rate, then exactly the rate are sampled', () => {
    let now = 0;
    const sampler = new RateLimitingSampler(20, () => now);
    const first = decisions(sampler, 100);
    expect(first.filter((d) => d === SamplingDecision.RECORD_AND_SAMPLED)).toHaveLength(20);
    expect(first.slice(0, 20).every((d) => d === SamplingDecision.RECORD_AND_SAMPLED)).toBe(true);
    // Half a second later, half a second's worth again; a second after that, at most a second's.
    now = 500;
    expect(decisions(sampler, 100).filter((d) => d === SamplingDecision.RECORD_AND_SAMPLED)).toHaveLength(10);
    now = 10_000;
    expect(decisions(sampler, 100).filter((d) => d === SamplingDecision.RECORD_AND_SAMPLED)).toHaveLength(20);
  });

  it('when the rate is below one a second, then one trace is sampled and the next only after 1/rate seconds', () => {
    let now = 0;
    const sampler = new RateLimitingSampler(0.5, () => now);
    expect(decisions(sampler, 3)).toEqual([
      SamplingDecision.RECORD_AND_SAMPLED,
      SamplingDecision.NOT_RECORD,
      SamplingDecision.NOT_RECORD,
    ]);
    now = 1_900;
    expect(decisions(sampler, 1)).toEqual([SamplingDecision.NOT_RECORD]);
    now = 4_000;
    expect(decisions(sampler, 1)).toEqual([SamplingDecision.RECORD_AND_SAMPLED]);
  });
});

describe('samplerFromEnv (TRACES_PER_SECOND)', () => {
  it('when unset, then new traces are limited to 20 a second and a sampled caller is always followed', () => {
    const { sampler, perSecond } = samplerFromEnv({});
    expect(perSecond).toBe(20);
    const parent = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: TRACE,
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    });
    const sampled = Array.from(
      { length: 200 },
      () => sampler?.shouldSample(parent, TRACE, 'GET', SpanKind.SERVER, {}, []).decision,
    );
    expect(sampled.every((d) => d === SamplingDecision.RECORD_AND_SAMPLED)).toBe(true);
    const roots = Array.from(
      { length: 200 },
      () => sampler?.shouldSample(ROOT_CONTEXT, TRACE, 'GET', SpanKind.SERVER, {}, []).decision,
    );
    expect(roots.filter((d) => d === SamplingDecision.RECORD_AND_SAMPLED).length).toBeLessThanOrEqual(21);
  });

  it('when "all", then no sampler is set (every request is traced)', () => {
    expect(samplerFromEnv({ TRACES_PER_SECOND: 'all' })).toEqual({ sampler: undefined, perSecond: 'all' });
  });

  it.each(['0', '-3', 'lots'])(
    'when TRACES_PER_SECOND=%s, then start-up fails naming the variable',
    (value) => {
      expect(() => samplerFromEnv({ TRACES_PER_SECOND: value })).toThrow(
        /TRACES_PER_SECOND: must be a positive number/,
      );
    },
  );
});

describe('activeTraceIds with sampling', () => {
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => context.setGlobalContextManager(manager.enable()));
  afterAll(() => {
    manager.disable();
    context.disable();
  });

  it('when the active span is not sampled, then no trace ID is given out (it would lead to no trace)', () => {
    let now = 0;
    const provider = new TracerProvider({ sampler: new RateLimitingSampler(1, () => now) });
    const tracer = provider.getTracer('test');
    const seen: (string | null)[] = [];
    for (let i = 0; i < 2; i++) {
      const span = tracer.startSpan('request');
      context.with(trace.setSpan(context.active(), span), () => seen.push(activeTraceIds().trace_id));
      span.end();
    }
    now = 1_000;
    expect(seen[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(seen[1]).toBeNull();
  });
});
