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
  /** Longest ban believed, whatever the upstream announces. */
  maxBanSeconds: number;
  /** Treat an empty board as a silent ban when it contradicts the previous board of the route. */
  detectSilentBans: boolean;
  /** The last board of this route, if any (the silent-ban rule compares the new board with it). */
  previousBoard: StationBoard | undefined;
}

/**
 * A train of the previous board must be due at least this long after the new board's time for its
 * absence to count: a train due in a minute may have left early or been dropped from the board
 * the upstream shows, and clocks disagree by a little.
 */
export const SILENT_BAN_MARGIN_MINUTES = 2;

/** The latest instant a JavaScript Date can hold (±8.64e15 ms): anything later is nonsense. */
const MAX_DATE_MS = 8.64e15;

function header(headers: UpstreamResponse['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** `Retry-After` as delay-seconds or an HTTP date → epoch ms (unchecked: see `announcedExpiry`). */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return now + Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : date;
}

/** An announced expiry worth believing: a number a Date can hold, not before now. */
function plausible(t: number | undefined, now: number): t is number {
  return t !== undefined && Number.isFinite(t) && Math.abs(t) <= MAX_DATE_MS && t >= now;
}

/**
 * The latest plausible expiry among Retry-After, X-Ban-Expires and a JSON `bannedUntil`, if any.
 * Values that are unparseable, in the past or beyond what a Date can hold are ignored, as if the
 * upstream had not announced them.
 */
function announcedExpiry(res: UpstreamResponse, now: number): number | undefined {
  const candidates: (number | undefined)[] = [];
  candidates.push(parseRetryAfter(header(res.headers, 'retry-after'), now));
  const expires = header(res.headers, 'x-ban-expires')?.trim();
  if (expires) candidates.push(/^\d+$/.test(expires) ? Number(expires) * 1000 : Date.parse(expires));
  try {
    const body = JSON.parse(res.body) as { bannedUntil?: unknown } | null;
    if (typeof body?.bannedUntil === 'string') candidates.push(Date.parse(body.bannedUntil));
  } catch {
    // not JSON: headers are all we have
  }
  const believable = candidates.filter((t) => plausible(t, now));
  return believable.length > 0 ? Math.max(...believable) : undefined;
}

/** A ban's end kept within [now + 1 s, now + maxBanSeconds], whatever was announced or assumed. */
export function boundExpiry(until: number, now: number, maxBanSeconds: number): number {
  return Math.min(Math.max(until, now + 1_000), now + Math.max(1, maxBanSeconds) * 1_000);
}

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

function minuteOfDay(hhmm: unknown): number | undefined {
  const m = typeof hhmm === 'string' ? HHMM.exec(hhmm.trim()) : null;
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

// Made on first use: only an empty board's check needs it, and the first Intl.DateTimeFormat with
// a time zone brings ICU's zone and locale data into memory (about 7 MB of the Node binary's
// pages resident, docs/performance.md), which a replica serving boards never needs.
let london: Intl.DateTimeFormat | undefined;

/** London wall-clock minute of the day at an instant (GMT or BST, as the boards' times are). */
export function londonMinuteOfDay(instant: number): number {
  london ??= new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/London',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  let hour = 0;
  let minute = 0;
  for (const part of london.formatToParts(new Date(instant))) {
    if (part.type === 'hour') hour = Number(part.value);
    if (part.type === 'minute') minute = Number(part.value);
  }
  return hour * 60 + minute;
}

/**
 * The London wall-clock minute a board was generated at. LDBWS writes London local time with its
 * offset and seven fraction digits (`2026-03-11T08:00:00.1234567+00:00`); a time with a zone is
 * converted to London time, one without is taken as London time; `fallback` (our own clock) when
 * the field cannot be read.
 */
export function boardMinuteOfDay(generatedAt: string, fallback: number): number {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?\s*(Z|[+-]\d\d:?\d\d)?$/i.exec(
    generatedAt.trim(),
  );
  if (!m) return londonMinuteOfDay(fallback);
  const [, date, hh, mm, ss = '00', fraction = '', zone] = m;
  const hour = Number(hh);
  const minute = Number(mm);
  if (hour > 23 || minute > 59) return londonMinuteOfDay(fallback);
  if (!zone) return hour * 60 + minute;
  const ms = fraction.padEnd(3, '0').slice(0, 3);
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : zone.replace(/^([+-]\d\d)(\d\d)$/, '$1:$2');
  const instant = Date.parse(`${date}T${hh}:${mm}:${ss}.${ms}${offset}`);
  return Number.isNaN(instant) ? londonMinuteOfDay(fallback) : londonMinuteOfDay(instant);
}

/**
 * When a train of `board` is due to leave, as a London minute of the day: the estimate when it is
 * a time ("08:14"), else the scheduled time ("On time", "Delayed"); undefined when cancelled or
 * unreadable.
 */
function dueMinutes(train: {
  std: string;
  etd?: string | undefined;
  [k: string]: unknown;
}): number | undefined {
  if (train.etd?.trim() === 'Cancelled' || train.isCancelled === true) return undefined;
  return minuteOfDay(train.etd) ?? minuteOfDay(train.std);
}

/**
 * Whether an empty board contradicts the previous board of the route: a train listed there is
 * still due at least `SILENT_BAN_MARGIN_MINUTES` after the empty board was generated, so it cannot
 * have left. After the last train of the day every listed train is in the past, and an empty board
 * is just an empty board. Minutes are compared on the clock face, so 23:50 → 00:10 is 20 minutes
 * ahead and 00:10 → 23:50 is 20 minutes behind (boards never span 12 hours).
 */
export function emptyBoardContradicts(
  previous: StationBoard,
  emptyGeneratedAt: string,
  now: number,
): boolean {
  const at = boardMinuteOfDay(emptyGeneratedAt, now);
  return (previous.trainServices ?? []).some((train) => {
    const due = dueMinutes(train);
    if (due === undefined) return false;
    const ahead = ((((due - at) % 1440) + 1440 + 720) % 1440) - 720;
    return ahead >= SILENT_BAN_MARGIN_MINUTES;
  });
}

/**
 * Decides what an upstream answer means. The real API's ban signal is undocumented, so every
 * style rail-sim can play is recognised: 429 (with Retry-After / X-Ban-Expires), an HTML 403,
 * a 503 that carries Retry-After, and (optionally) an empty board that contradicts the previous
 * one. A ban's end is always within [now + 1 s, now + maxBanSeconds]: no announcement, however
 * absurd, can make it unrepresentable.
 */
export function classifyUpstream(
  res: UpstreamResponse,
  now: number,
  options: ClassifyOptions,
): UpstreamOutcome {
  const bound = (until: number) => boundExpiry(until, now, options.maxBanSeconds);
  const assumedUntil = bound(now + options.assumedBanSeconds * 1000);
  const announced = announcedExpiry(res, now);
  if (res.status === 429 || res.status === 403) {
    return {
      kind: 'banned',
      style: res.status === 429 ? 'http-429' : 'http-403',
      until: announced === undefined ? assumedUntil : bound(announced),
      announced: announced !== undefined,
    };
  }
  // A 503 without (a believable) Retry-After is an outage, not a verdict on us: retry next time.
  if (res.status === 503 && announced !== undefined) {
    return { kind: 'banned', style: 'http-503', until: bound(announced), announced: true };
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
  if (
    options.detectSilentBans &&
    options.previousBoard !== undefined &&
    serviceCount(board) === 0 &&
    emptyBoardContradicts(options.previousBoard, board.generatedAt, now)
  ) {
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
