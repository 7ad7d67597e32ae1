/** How a banned caller is answered; the real API's exact signal is undocumented. */
export const BAN_STYLES = ['429', '403', '503', 'silent'] as const;
export type BanStyle = (typeof BAN_STYLES)[number];

export interface Ban {
  ip: string;
  reason: 'limit' | 'admin';
  since: number;
  until: number;
}

export interface BanRecord extends Ban {
  /** When an operator lifted it early; null if it ran (or runs) to `until`. */
  liftedAt: number | null;
}

export interface RateLimiterOptions {
  /** More than this many requests within the window bans the IP. */
  threshold: number;
  windowSeconds: number;
  banSeconds: number;
  /** Bans kept in the history for the admin API (newest kept). */
  historySize?: number;
  /** Most client IPs tracked at once; the least recently seen are forgotten first. */
  maxTrackedIps?: number;
}

export type Admission = { admitted: true } | { admitted: false; ban: Ban; newBan: boolean };

/**
 * Per-source-IP sliding-window limit with bans, as the real rail data API behaves: more than
 * `threshold` calls within `windowSeconds` bans the caller for `banSeconds`. Time is passed in.
 */
export class RateLimiter {
  readonly #options: Required<RateLimiterOptions>;
  readonly #windows = new Map<string, number[]>();
  readonly #bans = new Map<string, Ban>();
  readonly #history: BanRecord[] = [];
  #bansStarted = { limit: 0, admin: 0 };

  constructor(options: RateLimiterOptions) {
    this.#options = { historySize: 500, maxTrackedIps: 10_000, ...options };
  }

  /** Counts one call from `ip`; tells whether it may be served. Banned calls are not counted. */
  admit(ip: string, now: number): Admission {
    const active = this.activeBan(ip, now);
    if (active) return { admitted: false, ban: active, newBan: false };
    const windowStart = now - this.#options.windowSeconds * 1000;
    const calls = (this.#windows.get(ip) ?? []).filter((t) => t > windowStart);
    calls.push(now);
    // Re-inserting keeps the Map in least-recently-seen order for the bound below.
    this.#windows.delete(ip);
    this.#windows.set(ip, calls);
    if (this.#windows.size > this.#options.maxTrackedIps) {
      const oldest = this.#windows.keys().next().value;
      if (oldest !== undefined) this.#windows.delete(oldest);
    }
    if (calls.length > this.#options.threshold) {
      const ban = this.ban(ip, this.#options.banSeconds, 'limit', now);
      return { admitted: false, ban, newBan: true };
    }
    return { admitted: true };
  }

  ban(ip: string, seconds: number, reason: Ban['reason'], now: number): Ban {
    const ban: Ban = { ip, reason, since: now, until: now + seconds * 1000 };
    this.#bans.set(ip, ban);
    this.#windows.delete(ip);
    this.#history.push({ ...ban, liftedAt: null });
    if (this.#history.length > this.#options.historySize) this.#history.shift();
    this.#bansStarted[reason] += 1;
    return ban;
  }

  activeBan(ip: string, now: number): Ban | undefined {
    const ban = this.#bans.get(ip);
    if (ban && ban.until <= now) {
      this.#bans.delete(ip);
      return undefined;
    }
    return ban;
  }

  /** Lifts the ban of one IP (true if there was one). */
  lift(ip: string, now: number): boolean {
    const ban = this.activeBan(ip, now);
    if (!ban) return false;
    this.#bans.delete(ip);
    this.#windows.delete(ip);
    for (const record of this.#history) {
      if (record.ip === ip && record.since === ban.since && record.liftedAt === null) record.liftedAt = now;
    }
    return true;
  }

  liftAll(now: number): number {
    let lifted = 0;
    for (const ip of [...this.#bans.keys()]) if (this.lift(ip, now)) lifted += 1;
    return lifted;
  }

  active(now: number): Ban[] {
    return [...this.#bans.keys()]
      .map((ip) => this.activeBan(ip, now))
      .filter((b): b is Ban => b !== undefined);
  }

  history(): readonly BanRecord[] {
    return this.#history;
  }

  /** Bans started since the process began, by reason (for the counter). */
  bansStarted(): { limit: number; admin: number } {
    return { ...this.#bansStarted };
  }
}
