import type { Attributes, Context, Link, SpanKind } from '@opentelemetry/api';
import {
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
} from '@opentelemetry/sdk-trace';
import { z } from 'zod';
import { formatConfigError } from './config.ts';

/**
 * Samples at most `perSecond` new traces a second (a token bucket that holds one second's worth),
 * and none beyond: every request is traced while traffic is what a person makes, and a load test
 * costs the services and the collector a bounded number of traces a second instead of one per
 * request (docs/performance.md). The same idea as Jaeger's rate-limiting sampler and X-Ray's
 * reservoir.
 */
export class RateLimitingSampler implements Sampler {
  readonly #perSecond: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;

  constructor(perSecond: number, now: () => number = () => performance.now()) {
    this.#perSecond = perSecond;
    this.#now = now;
    this.#tokens = Math.max(1, perSecond);
    this.#last = now();
  }

  shouldSample(
    _context: Context,
    _traceId: string,
    _spanName: string,
    _spanKind: SpanKind,
    _attributes: Attributes,
    _links: Link[],
  ): SamplingResult {
    const now = this.#now();
    const capacity = Math.max(1, this.#perSecond);
    this.#tokens = Math.min(capacity, this.#tokens + ((now - this.#last) / 1000) * this.#perSecond);
    this.#last = now;
    if (this.#tokens < 1) return { decision: SamplingDecision.NOT_RECORD };
    this.#tokens -= 1;
    return { decision: SamplingDecision.RECORD_AND_SAMPLED };
  }

  toString(): string {
    return `RateLimitingSampler{${this.#perSecond}/s}`;
  }
}

const TRACES_RULE = 'must be a positive number of traces a second (at most 1000000), or "all"';

const samplingEnvSchema = z.object({
  TRACES_PER_SECOND: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined),
    z
      .union([z.literal('all'), z.coerce.number().positive(TRACES_RULE).max(1_000_000, TRACES_RULE)], {
        error: TRACES_RULE,
      })
      .default(20),
  ),
});

/**
 * The sampler of TRACES_PER_SECOND: a request that arrives with a sampled trace context is traced
 * (the caller decided), a new trace is started for at most that many requests a second per
 * process, or for every request with `all`. Throws naming the variable when it is not valid.
 */
export function samplerFromEnv(env: NodeJS.ProcessEnv): {
  sampler: Sampler | undefined;
  perSecond: number | 'all';
} {
  const parsed = samplingEnvSchema.safeParse(env);
  if (!parsed.success) throw new Error(formatConfigError(parsed.error));
  const perSecond = parsed.data.TRACES_PER_SECOND;
  if (perSecond === 'all') return { sampler: undefined, perSecond };
  return { sampler: new ParentBasedSampler({ root: new RateLimitingSampler(perSecond) }), perSecond };
}
