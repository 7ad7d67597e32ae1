import { describe, expect, it, vi } from 'vitest';
import {
  BanTracker,
  boardMinuteOfDay,
  boundExpiry,
  type ClassifyOptions,
  classifyUpstream,
  emptyBoardContradicts,
  parseRetryAfter,
  type UpstreamResponse,
} from '../../src/domain/ban.ts';
import type { StationBoard } from '../../src/domain/board.ts';

const NOW = Date.parse('2026-03-11T08:00:00.000Z');

const options: ClassifyOptions = {
  assumedBanSeconds: 300,
  maxBanSeconds: 7_200,
  detectSilentBans: true,
  previousBoard: undefined,
};

/** A board generated at `generatedAt` listing `trains` (std, and etd when given). */
function stationBoard(
  generatedAt: string,
  trains: { std: string; etd?: string; isCancelled?: boolean }[] | null,
): StationBoard {
  return { generatedAt, locationName: 'West Hampstead Thameslink', crs: 'WHP', trainServices: trains };
}

/** The board before NOW's empty one: a train due at 08:10, ten minutes after it. */
const TRAIN_DUE = stationBoard('2026-03-11T07:59:30Z', [{ std: '08:10', etd: 'On time' }]);

function response(status: number, body = '', headers: UpstreamResponse['headers'] = {}): UpstreamResponse {
  return { status, headers, body };
}

function boardBody(trainServices: unknown[] | null): string {
  return JSON.stringify({
    generatedAt: '2026-03-11T08:00:00Z',
    locationName: 'West Hampstead Thameslink',
    crs: 'WHP',
    trainServices,
  });
}

describe('parseRetryAfter', () => {
  it('when given delay-seconds, then the expiry is now plus that many seconds', () => {
    expect(parseRetryAfter('60', NOW)).toBe(NOW + 60_000);
    expect(parseRetryAfter(' 120 ', NOW)).toBe(NOW + 120_000);
    expect(parseRetryAfter('0', NOW)).toBe(NOW);
  });

  it('when given an HTTP date, then the expiry is that date', () => {
    expect(parseRetryAfter('Wed, 11 Mar 2026 08:05:00 GMT', NOW)).toBe(NOW + 300_000);
  });

  it('when missing or unparseable, then there is no expiry', () => {
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
    expect(parseRetryAfter('', NOW)).toBeUndefined();
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
  });
});

describe('classifyUpstream', () => {
  it('when 429 with Retry-After seconds, then banned http-429 until now + that, announced', () => {
    const outcome = classifyUpstream(response(429, '', { 'retry-after': '60' }), NOW, options);
    expect(outcome).toEqual({ kind: 'banned', style: 'http-429', until: NOW + 60_000, announced: true });
  });

  it('when 429 with Retry-After as an HTTP date, then banned until that date', () => {
    const outcome = classifyUpstream(
      response(429, '', { 'retry-after': 'Wed, 11 Mar 2026 08:10:00 GMT' }),
      NOW,
      options,
    );
    expect(outcome).toEqual({ kind: 'banned', style: 'http-429', until: NOW + 600_000, announced: true });
  });

  it('when the Retry-After header comes as a list, then its first value counts', () => {
    const outcome = classifyUpstream(response(429, '', { 'retry-after': ['30', '999'] }), NOW, options);
    expect(outcome).toMatchObject({ kind: 'banned', until: NOW + 30_000 });
  });

  it('when 429 with X-Ban-Expires and a JSON bannedUntil, then the latest expiry wins', () => {
    const headerExpiry = '2026-03-11T08:02:00.000Z';
    const bodyExpiry = '2026-03-11T08:03:30.000Z';
    const outcome = classifyUpstream(
      response(429, JSON.stringify({ error: 'ip_banned', bannedUntil: bodyExpiry }), {
        'retry-after': '60',
        'x-ban-expires': headerExpiry,
      }),
      NOW,
      options,
    );
    expect(outcome).toEqual({
      kind: 'banned',
      style: 'http-429',
      until: Date.parse(bodyExpiry),
      announced: true,
    });
  });

  it('when X-Ban-Expires is the latest, then it wins over Retry-After and the body', () => {
    const headerExpiry = '2026-03-11T08:20:00.000Z';
    const outcome = classifyUpstream(
      response(429, JSON.stringify({ bannedUntil: '2026-03-11T08:01:00.000Z' }), {
        'retry-after': '60',
        'x-ban-expires': headerExpiry,
      }),
      NOW,
      options,
    );
    expect(outcome).toMatchObject({ kind: 'banned', until: Date.parse(headerExpiry) });
  });

  it('when X-Ban-Expires is epoch seconds, then it is read as such', () => {
    const until = NOW + 90_000;
    const outcome = classifyUpstream(
      response(429, '', { 'x-ban-expires': String(until / 1000) }),
      NOW,
      options,
    );
    expect(outcome).toMatchObject({ kind: 'banned', until, announced: true });
  });

  it('when 429 says nothing about timing, then banned for the assumed duration, not announced', () => {
    const outcome = classifyUpstream(response(429, 'Too Many Requests'), NOW, options);
    expect(outcome).toEqual({ kind: 'banned', style: 'http-429', until: NOW + 300_000, announced: false });
  });

  it('when an HTML 403, then banned http-403 for the assumed duration, not announced', () => {
    const outcome = classifyUpstream(
      response(403, '<html><body><h1>403 Forbidden</h1></body></html>', { 'content-type': 'text/html' }),
      NOW,
      options,
    );
    expect(outcome).toEqual({ kind: 'banned', style: 'http-403', until: NOW + 300_000, announced: false });
  });

  it('when 503 with Retry-After, then banned http-503 until then', () => {
    const outcome = classifyUpstream(
      response(503, 'Service Unavailable', { 'retry-after': '120' }),
      NOW,
      options,
    );
    expect(outcome).toEqual({ kind: 'banned', style: 'http-503', until: NOW + 120_000, announced: true });
  });

  it('when 503 without Retry-After, then it is an error, not a ban', () => {
    const outcome = classifyUpstream(response(503, 'Service Unavailable'), NOW, options);
    expect(outcome).toEqual({ kind: 'error', reason: 'status_503' });
  });

  it('when 401, then error unauthorized', () => {
    expect(classifyUpstream(response(401, '{"error":"bad key"}'), NOW, options)).toEqual({
      kind: 'error',
      reason: 'unauthorized',
    });
  });

  it('when 500, then error with the status', () => {
    expect(classifyUpstream(response(500, 'oops'), NOW, options)).toEqual({
      kind: 'error',
      reason: 'status_500',
    });
  });

  it('when 200 with a body that is not JSON, then error invalid_body', () => {
    expect(classifyUpstream(response(200, '<html>maintenance</html>'), NOW, options)).toEqual({
      kind: 'error',
      reason: 'invalid_body',
    });
  });

  it('when 200 with JSON that is not a station board, then error invalid_body', () => {
    expect(classifyUpstream(response(200, '{"hello":"world"}'), NOW, options)).toEqual({
      kind: 'error',
      reason: 'invalid_body',
    });
  });

  it('when 200 with a board, then the board', () => {
    const outcome = classifyUpstream(response(200, boardBody([{ std: '08:01' }])), NOW, options);
    expect(outcome.kind).toBe('board');
    if (outcome.kind !== 'board') throw new Error('expected a board');
    expect(outcome.board.crs).toBe('WHP');
    expect(outcome.board.trainServices).toEqual([{ std: '08:01' }]);
  });

  it('when an empty board follows one with services and silent bans are detected, then silent-empty ban', () => {
    const outcome = classifyUpstream(response(200, boardBody(null)), NOW, {
      ...options,
      previousBoard: TRAIN_DUE,
    });
    expect(outcome).toEqual({
      kind: 'banned',
      style: 'silent-empty',
      until: NOW + 300_000,
      announced: false,
    });
  });

  it('when an empty list of services follows one with services, then it is a silent-empty ban too', () => {
    const outcome = classifyUpstream(response(200, boardBody([])), NOW, {
      ...options,
      previousBoard: TRAIN_DUE,
    });
    expect(outcome).toMatchObject({ kind: 'banned', style: 'silent-empty' });
  });

  it('when silent-ban detection is off, then an empty board is just a board', () => {
    const outcome = classifyUpstream(response(200, boardBody(null)), NOW, {
      ...options,
      detectSilentBans: false,
      previousBoard: TRAIN_DUE,
    });
    expect(outcome.kind).toBe('board');
  });

  it('when the route had no services before, then an empty board is just a board', () => {
    const outcome = classifyUpstream(response(200, boardBody(null)), NOW, {
      ...options,
      detectSilentBans: true,
      previousBoard: stationBoard('2026-03-11T07:59:30Z', null),
    });
    expect(outcome.kind).toBe('board');
  });

  it('when the route was never seen, then an empty board is just a board', () => {
    expect(classifyUpstream(response(200, boardBody(null)), NOW, options).kind).toBe('board');
  });

  it('when the trains of the previous board have all left, then an empty board is just a board (after the last train)', () => {
    const lastTrains = stationBoard('2026-03-12T00:20:00.0000000+00:00', [
      { std: '00:25', etd: 'On time' },
      { std: '00:30', etd: 'On time' },
    ]);
    const night = (generatedAt: string) =>
      JSON.stringify({
        generatedAt,
        locationName: 'West Hampstead Thameslink',
        crs: 'WHP',
        trainServices: null,
      });
    const at = Date.parse('2026-03-12T00:35:00Z');
    expect(
      classifyUpstream(response(200, night('2026-03-12T00:35:00.0000000+00:00')), at, {
        ...options,
        previousBoard: lastTrains,
      }).kind,
    ).toBe('board');
  });
});

describe('emptyBoardContradicts (silent bans that know the night)', () => {
  const T = Date.parse('2026-03-11T12:00:00Z');
  const at = (hhmm: string) => `2026-03-11T${hhmm}:00.0000000+00:00`;
  const previous = (trains: { std: string; etd?: string; isCancelled?: boolean }[]) =>
    stationBoard(at('08:00'), trains);

  it('when every train listed has departed, then not a ban', () => {
    expect(emptyBoardContradicts(previous([{ std: '08:05' }, { std: '08:10' }]), at('08:11'), T)).toBe(false);
  });

  it('when a train due in 10 minutes vanished, then a ban', () => {
    expect(emptyBoardContradicts(previous([{ std: '08:05' }, { std: '08:20' }]), at('08:10'), T)).toBe(true);
  });

  it('when the only train left is due within the 2-minute margin, then not a ban; from 2 minutes on, a ban', () => {
    expect(emptyBoardContradicts(previous([{ std: '08:11' }]), at('08:10'), T)).toBe(false);
    expect(emptyBoardContradicts(previous([{ std: '08:12' }]), at('08:10'), T)).toBe(true);
  });

  it('when the previous board spans midnight (23:50 → 00:10), then the wrap is handled both ways', () => {
    const late = stationBoard('2026-03-11T23:50:00.0000000+00:00', [{ std: '00:10', etd: 'On time' }]);
    expect(emptyBoardContradicts(late, '2026-03-11T23:55:00.0000000+00:00', T)).toBe(true);
    expect(emptyBoardContradicts(late, '2026-03-12T00:05:00.0000000+00:00', T)).toBe(true);
    expect(emptyBoardContradicts(late, '2026-03-12T00:20:00.0000000+00:00', T)).toBe(false);
    expect(emptyBoardContradicts(late, '2026-03-12T01:30:00.0000000+00:00', T)).toBe(false);
  });

  it('when a train is cancelled, then it does not count, however far ahead it was due', () => {
    expect(emptyBoardContradicts(previous([{ std: '08:40', etd: 'Cancelled' }]), at('08:10'), T)).toBe(false);
    expect(
      emptyBoardContradicts(previous([{ std: '08:40', etd: 'On time', isCancelled: true }]), at('08:10'), T),
    ).toBe(false);
  });

  it('when a train is delayed with an estimate, then the estimate counts, not the scheduled time', () => {
    // Scheduled 08:05, expected 08:25: at 08:10 it has not left yet.
    expect(emptyBoardContradicts(previous([{ std: '08:05', etd: '08:25' }]), at('08:10'), T)).toBe(true);
    // Scheduled 08:30 but expected 08:09 (an early estimate): at 08:10 it has left.
    expect(emptyBoardContradicts(previous([{ std: '08:30', etd: '08:09' }]), at('08:10'), T)).toBe(false);
  });

  it('when a train is "Delayed" without an estimate, then its scheduled time counts', () => {
    expect(emptyBoardContradicts(previous([{ std: '08:20', etd: 'Delayed' }]), at('08:10'), T)).toBe(true);
    expect(emptyBoardContradicts(previous([{ std: '08:05', etd: 'Delayed' }]), at('08:10'), T)).toBe(false);
  });

  it('when a train time is unreadable, then that train does not count', () => {
    expect(emptyBoardContradicts(previous([{ std: 'soon', etd: 'later' }]), at('08:10'), T)).toBe(false);
    expect(emptyBoardContradicts(previous([{ std: '25:99' }]), at('08:10'), T)).toBe(false);
  });

  it('when the empty board was generated in BST, then its London wall-clock time is what counts', () => {
    const summer = stationBoard('2026-07-01T08:00:00.0000000+01:00', [{ std: '08:20' }]);
    // 07:15Z is 08:15 in London: the 08:20 train is 5 minutes ahead.
    expect(emptyBoardContradicts(summer, '2026-07-01T07:15:00Z', T)).toBe(true);
    // 07:25Z is 08:25 in London: it has left.
    expect(emptyBoardContradicts(summer, '2026-07-01T07:25:00Z', T)).toBe(false);
  });
});

describe('boardMinuteOfDay', () => {
  const fallback = Date.parse('2026-03-11T12:34:00Z');

  it('reads LDBWS times with seven fraction digits and their offset as London wall-clock time', () => {
    expect(boardMinuteOfDay('2026-03-11T08:05:00.1234567+00:00', fallback)).toBe(8 * 60 + 5);
    expect(boardMinuteOfDay('2026-07-01T08:05:00.1234567+01:00', fallback)).toBe(8 * 60 + 5);
    expect(boardMinuteOfDay('2026-07-01T07:05:00Z', fallback)).toBe(8 * 60 + 5);
    expect(boardMinuteOfDay('2026-07-01T08:05:00+0100', fallback)).toBe(8 * 60 + 5);
  });

  it('takes a time without a zone as London time', () => {
    expect(boardMinuteOfDay('2026-07-01T23:59:10', fallback)).toBe(23 * 60 + 59);
  });

  it('when the time cannot be read, then falls back to the given instant in London time', () => {
    expect(boardMinuteOfDay('yesterday', fallback)).toBe(12 * 60 + 34);
    expect(boardMinuteOfDay('2026-03-11T28:00:00Z', fallback)).toBe(12 * 60 + 34);
  });

  it('makes its London time formatter on first use, once: loading the module brings no ICU time-zone data in', async () => {
    vi.resetModules();
    const made = vi.spyOn(Intl, 'DateTimeFormat');
    try {
      const fresh = await import('../../src/domain/ban.ts');
      expect(made).not.toHaveBeenCalled();
      expect(fresh.boardMinuteOfDay('2026-07-01T07:05:00Z', fallback)).toBe(8 * 60 + 5);
      expect(fresh.boardMinuteOfDay('2026-01-01T07:05:00Z', fallback)).toBe(7 * 60 + 5);
      expect(made).toHaveBeenCalledTimes(1);
    } finally {
      made.mockRestore();
    }
  });
});

describe('ban expiry is bounded to [1 s, maxBanSeconds]', () => {
  const banned = (headers: UpstreamResponse['headers'], body = '') =>
    classifyUpstream(response(429, body, headers), NOW, options);

  it('boundExpiry keeps an end within [now + 1 s, now + max]', () => {
    expect(boundExpiry(NOW, NOW, 60)).toBe(NOW + 1_000);
    expect(boundExpiry(NOW + 30_000, NOW, 60)).toBe(NOW + 30_000);
    expect(boundExpiry(NOW + 3_600_000, NOW, 60)).toBe(NOW + 60_000);
  });

  it('when Retry-After announces years, then the ban lasts maxBanSeconds, announced', () => {
    expect(banned({ 'retry-after': String(10 * 365 * 86_400) })).toEqual({
      kind: 'banned',
      style: 'http-429',
      until: NOW + 7_200_000,
      announced: true,
    });
  });

  it('when X-Ban-Expires or bannedUntil is a far-future date a Date can hold, then cut to maxBanSeconds', () => {
    expect(banned({ 'x-ban-expires': '9999-12-31T23:59:59Z' })).toMatchObject({ until: NOW + 7_200_000 });
    expect(banned({}, JSON.stringify({ bannedUntil: '3000-01-01T00:00:00Z' }))).toMatchObject({
      until: NOW + 7_200_000,
      announced: true,
    });
  });

  it('when Retry-After is 0, then the ban lasts the 1 s minimum', () => {
    expect(banned({ 'retry-after': '0' })).toMatchObject({ until: NOW + 1_000, announced: true });
  });

  it.each([
    ['X-Ban-Expires beyond what a Date can hold (epoch seconds)', { 'x-ban-expires': '99999999999999' }, ''],
    [
      'X-Ban-Expires as a date beyond what a Date can hold',
      { 'x-ban-expires': '+275760-09-13T00:00:00.001Z' },
      '',
    ],
    ['Retry-After with more digits than a Date can hold', { 'retry-after': '9'.repeat(30) }, ''],
    ['X-Ban-Expires not a date', { 'x-ban-expires': 'tomorrow-ish' }, ''],
    ['X-Ban-Expires in the past', { 'x-ban-expires': '2026-03-11T07:00:00Z' }, ''],
    ['X-Ban-Expires 0', { 'x-ban-expires': '0' }, ''],
    ['Retry-After an HTTP date in the past', { 'retry-after': 'Wed, 11 Mar 2026 07:00:00 GMT' }, ''],
    ['bannedUntil not a date', {}, JSON.stringify({ bannedUntil: 'NaN' })],
    ['bannedUntil not a string', {}, JSON.stringify({ bannedUntil: 1e300 })],
    ['a JSON body of null', {}, 'null'],
  ])('when %s, then the assumed duration, not announced', (_label, headers, body) => {
    expect(banned(headers as UpstreamResponse['headers'], body)).toEqual({
      kind: 'banned',
      style: 'http-429',
      until: NOW + 300_000,
      announced: false,
    });
  });

  it('when one value is absurd and another sane, then the sane one counts', () => {
    expect(banned({ 'x-ban-expires': '99999999999999', 'retry-after': '120' })).toEqual({
      kind: 'banned',
      style: 'http-429',
      until: NOW + 120_000,
      announced: true,
    });
  });

  it('when the assumed duration is longer than the maximum, then it is cut too', () => {
    const outcome = classifyUpstream(response(403, '<html></html>'), NOW, {
      ...options,
      assumedBanSeconds: 86_400,
      maxBanSeconds: 600,
    });
    expect(outcome).toMatchObject({ style: 'http-403', until: NOW + 600_000 });
  });

  it('when a 503 carries only an absurd Retry-After, then it is an outage, not a ban', () => {
    expect(
      classifyUpstream(response(503, 'x', { 'retry-after': 'Sat, 01 Jan 1990 00:00:00 GMT' }), NOW, options),
    ).toEqual({ kind: 'error', reason: 'status_503' });
  });

  it('whatever the upstream announces, the ban end can be written as an ISO date', () => {
    for (const headers of [
      { 'x-ban-expires': '99999999999999' },
      { 'retry-after': '9'.repeat(400) },
      { 'x-ban-expires': '-99999999999999' },
      { 'retry-after': '-5' },
    ]) {
      const outcome = banned(headers);
      if (outcome.kind !== 'banned') throw new Error('expected a ban');
      expect(() => new Date(outcome.until).toISOString()).not.toThrow();
      expect(outcome.until - NOW).toBeGreaterThanOrEqual(1_000);
      expect(outcome.until - NOW).toBeLessThanOrEqual(7_200_000);
    }
  });
});

describe('BanTracker', () => {
  it('when a later reply announces an earlier expiry, then the active ban is not shortened', () => {
    const bans = new BanTracker();
    bans.ban('http-429', NOW + 60_000, NOW);
    expect(bans.ban('http-429', NOW + 30_000, NOW + 1_000)).toBe(false);
    expect(bans.active(NOW + 45_000)?.until).toBe(NOW + 60_000);
  });

  it('when nothing happened, then not banned and no active ban', () => {
    const bans = new BanTracker();
    expect(bans.isBanned(NOW)).toBe(false);
    expect(bans.active(NOW)).toBeUndefined();
    expect(bans.clear(NOW)).toBeUndefined();
  });

  it('when banned, then banned until `until` and not at or after it', () => {
    const bans = new BanTracker();
    expect(bans.ban('http-429', NOW + 60_000, NOW)).toBe(true);
    expect(bans.isBanned(NOW)).toBe(true);
    expect(bans.isBanned(NOW + 59_999)).toBe(true);
    expect(bans.active(NOW + 30_000)).toEqual({ style: 'http-429', since: NOW, until: NOW + 60_000 });
    expect(bans.isBanned(NOW + 60_000)).toBe(false);
    expect(bans.active(NOW + 60_000)).toBeUndefined();
    expect(bans.isBanned(NOW + 120_000)).toBe(false);
  });

  it('when an active ban is extended, then ban() returns false and keeps `since`', () => {
    const bans = new BanTracker();
    expect(bans.ban('http-429', NOW + 60_000, NOW)).toBe(true);
    expect(bans.ban('http-503', NOW + 120_000, NOW + 10_000)).toBe(false);
    expect(bans.active(NOW + 90_000)).toEqual({ style: 'http-503', since: NOW, until: NOW + 120_000 });
  });

  it('when a ban comes after the previous one expired, then it is a new ban with a new `since`', () => {
    const bans = new BanTracker();
    bans.ban('http-429', NOW + 60_000, NOW);
    expect(bans.ban('http-403', NOW + 200_000, NOW + 100_000)).toBe(true);
    expect(bans.active(NOW + 100_000)).toEqual({
      style: 'http-403',
      since: NOW + 100_000,
      until: NOW + 200_000,
    });
  });

  it('clear() returns the ban it ends (even an expired one) and leaves nothing behind', () => {
    const bans = new BanTracker();
    bans.ban('silent-empty', NOW + 60_000, NOW);
    const ended = bans.clear(NOW + 70_000);
    expect(ended).toEqual({ style: 'silent-empty', since: NOW, until: NOW + 60_000 });
    expect(bans.isBanned(NOW + 1)).toBe(false);
    expect(bans.clear(NOW + 70_000)).toBeUndefined();

    bans.ban('http-429', NOW + 60_000, NOW);
    expect(bans.clear(NOW)).toEqual({ style: 'http-429', since: NOW, until: NOW + 60_000 });
  });

  it('when the answer is to a call sent before the ban began, then clear() leaves the ban alone', () => {
    const bans = new BanTracker();
    bans.ban('http-429', NOW + 60_000, NOW);
    expect(bans.clear(NOW - 1)).toBeUndefined();
    expect(bans.active(NOW + 1)).toEqual({ style: 'http-429', since: NOW, until: NOW + 60_000 });
  });
});
