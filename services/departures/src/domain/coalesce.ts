/**
 * One call per key at a time: callers that ask while a call for their key is in flight wait for
 * that call's result (or failure) instead of starting their own.
 */
export class Coalescer<T> {
  readonly #inFlight = new Map<string, Promise<T>>();

  /** `joined` tells whether this caller rode on a call another caller started. */
  run(key: string, call: () => Promise<T>): { promise: Promise<T>; joined: boolean } {
    const existing = this.#inFlight.get(key);
    if (existing) return { promise: existing, joined: true };
    const promise = call().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, promise);
    return { promise, joined: false };
  }

  /** Whether a call for `key` is in flight. */
  has(key: string): boolean {
    return this.#inFlight.has(key);
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }
}
