import { LRUCache } from 'lru-cache';
import type { StationBoard } from './board.ts';

export interface CachedBoard {
  board: StationBoard;
  fetchedAt: number;
}

export type CacheLookup =
  | { result: 'hit'; entry: CachedBoard; ageSeconds: number }
  | { result: 'stale'; entry: CachedBoard; ageSeconds: number }
  | { result: 'miss' };

export interface BoardCacheOptions {
  /** A board younger than this is served without asking the upstream. */
  ttlSeconds: number;
  /** A board older than this is never served, not even when the upstream is unreachable. */
  staleMaxAgeSeconds: number;
  maxEntries: number;
}

/**
 * Boards by route key, fresh for `ttlSeconds`, then kept as stale-if-error material up to
 * `staleMaxAgeSeconds`; bounded by entry count (least recently used goes first).
 */
export class BoardCache {
  readonly #entries: LRUCache<string, CachedBoard>;
  readonly #options: BoardCacheOptions;

  constructor(options: BoardCacheOptions) {
    this.#options = options;
    this.#entries = new LRUCache({ max: options.maxEntries });
  }

  lookup(key: string, now: number): CacheLookup {
    const entry = this.#entries.get(key);
    if (!entry) return { result: 'miss' };
    const ageSeconds = Math.max(0, (now - entry.fetchedAt) / 1000);
    if (ageSeconds > this.#options.staleMaxAgeSeconds) {
      this.#entries.delete(key);
      return { result: 'miss' };
    }
    return { result: ageSeconds <= this.#options.ttlSeconds ? 'hit' : 'stale', entry, ageSeconds };
  }

  /**
   * The board kept for the route, fresh or stale, without counting as a use (the LRU order is left
   * alone): for background work such as refresh-ahead and the silent-ban rule.
   */
  peek(key: string, now: number): CachedBoard | undefined {
    const entry = this.#entries.peek(key);
    if (!entry || (now - entry.fetchedAt) / 1000 > this.#options.staleMaxAgeSeconds) return undefined;
    return entry;
  }

  store(key: string, board: StationBoard, now: number): CachedBoard {
    const entry = { board, fetchedAt: now };
    this.#entries.set(key, entry);
    return entry;
  }

  get size(): number {
    return this.#entries.size;
  }
}
