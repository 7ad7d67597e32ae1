import { describe, expect, it } from 'vitest';
import {
  BanTracker,
  type ClassifyOptions,
  classifyUpstream,
  parseRetryAfter,
  type UpstreamResponse,
} from '../../src/domain/ban.ts';

const NOW = Date.parse('2026-03-11T08:00:00.000Z');

const options: ClassifyOptions = {
  assumedBanSeconds: 300,
  detectSilentBans: true,
  previousHadServices: false,
};

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
      previousHadServices: true,
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
      previousHadServices: true,
    });
    expect(outcome).toMatchObject({ kind: 'banned', style: 'silent-empty' });
  });

  it('when silent-ban detection is off, then an empty board is just a board', () => {
    const outcome = classifyUpstream(response(200, boardBody(null)), NOW, {
      ...options,
      detectSilentBans: false,
      previousHadServices: true,
    });
    expect(outcome.kind).toBe('board');
  });

  it('when the route had no services before, then an empty board is just a board', () => {
    const outcome = classifyUpstream(response(200, boardBody(null)), NOW, {
      ...options,
      detectSilentBans: true,
      previousHadServices: false,
    });
    expect(outcome.kind).toBe('board');
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
