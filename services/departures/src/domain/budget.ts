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

  tryTake(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  tokens(now: number): number {
    this.#refill(now);
    return this.#tokens;
  }

  /** Seconds until one token is available (0 when one is). */
  secondsUntilToken(now: number): number {
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : (1 - this.#tokens) / this.#refillPerMs / 1000;
  }
}
