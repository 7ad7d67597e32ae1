import { LRUCache } from 'lru-cache';
import type { ReplicaAnswer } from './replicas.ts';

/**
 * The last good board per route, kept by the gateway itself so that a board can still be shown
 * when every departures replica is banned or down.
 */
export class LastGoodStore {
  readonly #entries: LRUCache<string, ReplicaAnswer>;
  readonly #maxAgeMs: number;

  constructor(options: { maxEntries: number; maxAgeSeconds: number }) {
    this.#entries = new LRUCache({ max: options.maxEntries });
    this.#maxAgeMs = options.maxAgeSeconds * 1000;
  }

  remember(key: string, answer: ReplicaAnswer): void {
    const known = this.#entries.get(key);
    if (!known || Date.parse(known.fetchedAt) <= Date.parse(answer.fetchedAt)) this.#entries.set(key, answer);
  }

  /** The last good board for the route, if it is not older than the max age. */
  recall(key: string, now: number): ReplicaAnswer | undefined {
    const answer = this.#entries.get(key);
    if (!answer) return undefined;
    if (now - Date.parse(answer.fetchedAt) > this.#maxAgeMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return answer;
  }
}
