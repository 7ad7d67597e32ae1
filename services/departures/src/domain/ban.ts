import { isStationBoard, type StationBoard, serviceCount } from './board.ts';

/** How the upstream told us we are banned; rail-sim can play each one. */
export type BanStyle = 'http-429' | 'http-403' | 'http-503' | 'silent-empty';

/** An upstream answer, as the adapter received it. */
export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export type UpstreamOutcome =
  | { kind: 'board'; board: StationBoard }
  | { kind: 'banned'; style: BanStyle; until: number; announced: boolean }
  | { kind: 'error'; reason: string };

export interface ClassifyOptions {
  /** Ban length assumed when the upstream does not say (HTML 403, silent bans). */
  assumedBanSeconds: number;
  /** Treat an empty board as a silent ban when this route had services before. */
  detectSilentBans: boolean;
  /** Whether the last board of this route had services (the silent-ban heuristic needs it). */
  previousHadServices: boolean;
}

function header(headers: UpstreamResponse['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** `Retry-After` as delay-seconds or an HTTP date → epoch ms. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return now + Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : date;
}

/** The latest expiry among Retry-After, X-Ban-Expires and a JSON `bannedUntil`, if any is given. */
function announcedExpiry(res: UpstreamResponse, now: number): number | undefined {
  const candidates: number[] = [];
  const retryAfter = parseRetryAfter(header(res.headers, 'retry-after'), now);
  if (retryAfter !== undefined) candidates.push(retryAfter);
  const expires = header(res.headers, 'x-ban-expires');
  if (expires) {
    const t = /^\d+$/.test(expires) ? Number(expires) * 1000 : Date.parse(expires);
    if (!Number.isNaN(t)) candidates.push(t);
  }
  try {
    const body = JSON.parse(res.body) as { bannedUntil?: unknown };
    if (typeof body.bannedUntil === 'string' && !Number.isNaN(Date.parse(body.bannedUntil))) {
      candidates.push(Date.parse(body.bannedUntil));
    }
  } catch {
    // not JSON: headers are all we have
  }
  return candidates.length > 0 ? Math.max(...candidates) : undefined;
}

/**
 * Decides what an upstream answer means. The real API's ban signal is undocumented, so every
 * style rail-sim can play is recognised: 429 (with Retry-After / X-Ban-Expires), an HTML 403,
 * a 503 that carries Retry-After, and (optionally) an empty board where there used to be trains.
 */
export function classifyUpstream(
  res: UpstreamResponse,
  now: number,
  options: ClassifyOptions,
): UpstreamOutcome {
  const assumedUntil = now + options.assumedBanSeconds * 1000;
  const announced = announcedExpiry(res, now);
  if (res.status === 429) {
    return {
      kind: 'banned',
      style: 'http-429',
      until: announced ?? assumedUntil,
      announced: announced !== undefined,
    };
  }
  if (res.status === 403) {
    return {
      kind: 'banned',
      style: 'http-403',
      until: announced ?? assumedUntil,
      announced: announced !== undefined,
    };
  }
  // A 503 without Retry-After is an outage, not a verdict on us: retry on the next request.
  if (res.status === 503 && announced !== undefined) {
    return { kind: 'banned', style: 'http-503', until: announced, announced: true };
  }
  if (res.status === 401) return { kind: 'error', reason: 'unauthorized' };
  if (res.status !== 200) return { kind: 'error', reason: `status_${res.status}` };
  let board: unknown;
  try {
    board = JSON.parse(res.body);
  } catch {
    return { kind: 'error', reason: 'invalid_body' };
  }
  if (!isStationBoard(board)) return { kind: 'error', reason: 'invalid_body' };
  if (options.detectSilentBans && options.previousHadServices && serviceCount(board) === 0) {
    return { kind: 'banned', style: 'silent-empty', until: assumedUntil, announced: false };
  }
  return { kind: 'board', board };
}

export interface BanState {
  style: BanStyle;
  since: number;
  until: number;
}

/**
 * This replica's ban: set when the upstream says so, over when its expiry passes. After expiry
 * the next upstream call is the probe: a board clears the record, another ban sets a new expiry.
 */
export class BanTracker {
  #current: BanState | undefined;

  /** Returns true when this starts a new ban (not an extension of an active one). */
  ban(style: BanStyle, until: number, now: number): boolean {
    const isNew = !this.isBanned(now);
    // Replies to calls that were in flight when the ban began may announce slightly different
    // expiries; a ban is only ever extended, never shortened, by them.
    const current = isNew ? undefined : this.#current;
    this.#current = { style, since: current?.since ?? now, until: Math.max(until, current?.until ?? until) };
    return isNew;
  }

  /**
   * The upstream answered normally to a call sent at `sentAt`. Returns the ban that this ends, if
   * one was recorded. An answer to a call sent before the ban began says nothing about the ban
   * (many calls are in flight at once, and the upstream can answer them out of order), so it
   * leaves the ban alone.
   */
  clear(sentAt: number): BanState | undefined {
    const previous = this.#current;
    if (previous && sentAt < previous.since) return undefined;
    this.#current = undefined;
    return previous;
  }

  isBanned(now: number): boolean {
    return this.#current !== undefined && now < this.#current.until;
  }

  /** The active ban, if any. */
  active(now: number): BanState | undefined {
    return this.isBanned(now) ? this.#current : undefined;
  }
}
