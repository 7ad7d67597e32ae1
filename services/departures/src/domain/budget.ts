export interface TokenBucketOptions {
  /** Most calls that can be made at once after a quiet period. */
  capacity: number;
  refillPerSecond: number;
}

/**
 * The upstream call budget: a token bucket, so bursts up to `capacity` pass and the sustained
 * rate is `refillPerSecond`. Time is passed in (ms), so it is exact under test.
 */
export class TokenBucket {
  readonly #capacity: number;
  readonly #refillPerMs: number;
  #tokens: number;
  #updatedAt: number;

  constructor(options: TokenBucketOptions, now: number) {
    this.#capacity = options.capacity;
    this.#refillPerMs = options.refillPerSecond / 1000;
    this.#tokens = options.capacity;
    this.#updatedAt = now;
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#updatedAt);
    this.#tokens = Math.min(this.#capacity, this.#tokens + elapsed * this.#refillPerMs);
    this.#updatedAt = Math.max(this.#updatedAt, now);
  }

  /**
   * Takes one token if at least `floor + 1` are there, so `floor` tokens stay for callers that
   * may go lower (see `UpstreamBudget`).
   */
  tryTake(now: number, floor = 0): boolean {
    this.#refill(now);
    if (this.#tokens < floor + 1) return false;
    this.#tokens -= 1;
    return true;
  }

  tokens(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }

  /** Seconds until a token can be taken above `floor` (0 when one can now). */
  secondsUntilToken(now: number, floor = 0): number {
    this.#refill(now);
    const missing = floor + 1 - this.#tokens;
    return missing <= 0 ? 0 : missing / this.#refillPerMs / 1000;
  }

  get capacity(): number {
    return this.#capacity;
  }
}

/** Who wants an upstream call, in the order the budget favours them. */
export type CallKind = 'refresh_ahead' | 'probe' | 'demand' | 'cold';

/**
 * The upstream budget, demand first. One token bucket (so the total never passes the upstream's
 * limit), where a *cold* call — a cache miss for a route nobody asked for lately — may only take a
 * token while more than a reserve remains, and every other call (refresh-ahead of a route in
 * demand, a miss on such a route, a ban probe) may take the last one. A storm of one-off lookups
 * thus never spends the tokens that keep the boards people are watching fresh; and since only
 * demand may take tokens while the bucket is at or below the reserve, the refill goes to it first.
 *
 * The reserve is at most `share × capacity` in whole tokens (3 of 10 by default), and only as
 * large as the routes in demand that will need a token soon (one each; the caller counts them):
 * soon meaning within `horizonMs`, the time the bucket takes to refill the whole reserve, since a
 * token a cold call takes now is back by then. So a replica whose watched boards are all fresh
 * serves new routes with its whole bucket, and holds tokens back only as renewals come due.
 */
export class UpstreamBudget {
  readonly #bucket: TokenBucket;
  readonly #maxReserve: number;

  readonly #refillPerSecond: number;

  constructor(options: TokenBucketOptions & { reserveShare: number }, now: number) {
    this.#bucket = new TokenBucket(options, now);
    this.#refillPerSecond = options.refillPerSecond;
    this.#maxReserve = Math.floor(Math.max(0, Math.min(0.9, options.reserveShare)) * options.capacity);
  }

  /** Tokens held back from cold calls when `inDemand` routes are in demand. */
  reserve(inDemand: number): number {
    return Math.min(this.#maxReserve, Math.max(0, Math.floor(inDemand)));
  }

  /** The most tokens ever held back (what to count routes in demand up to). */
  get maxReserve(): number {
    return this.#maxReserve;
  }

  /** How far ahead a renewal counts towards the reserve: the time to refill the whole reserve. */
  get horizonMs(): number {
    return (this.#maxReserve / this.#refillPerSecond) * 1000;
  }

  tryTake(kind: CallKind, now: number, inDemand: number): boolean {
    return this.#bucket.tryTake(now, kind === 'cold' ? this.reserve(inDemand) : 0);
  }

  secondsUntilToken(kind: CallKind, now: number, inDemand: number): number {
    return this.#bucket.secondsUntilToken(now, kind === 'cold' ? this.reserve(inDemand) : 0);
  }

  tokens(now: number): number {
    return this.#bucket.tokens(now);
  }
}
