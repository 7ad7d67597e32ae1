import { describe, expect, it } from 'vitest';
import { type Admission, RateLimiter, type RateLimiterOptions } from '../../src/domain/bans.ts';

const T0 = Date.parse('2026-03-11T08:00:00Z');
const SECOND = 1000;
const A = '192.0.2.1';
const B = '192.0.2.2';

function limiter(over: Partial<RateLimiterOptions> = {}): RateLimiter {
  return new RateLimiter({ threshold: 3, windowSeconds: 60, banSeconds: 120, ...over });
}

/** Makes `count` calls from `ip` at `at` and returns their admissions. */
function calls(l: RateLimiter, ip: string, count: number, at: number): Admission[] {
  return Array.from({ length: count }, () => l.admit(ip, at));
}

describe('RateLimiter.admit', () => {
  it('when exactly threshold calls arrive within the window, then all of them are admitted', () => {
    const l = limiter();
    expect(calls(l, A, 3, T0)).toEqual([{ admitted: true }, { admitted: true }, { admitted: true }]);
    expect(l.activeBan(A, T0)).toBeUndefined();
  });

  it('when the call after threshold arrives, then the IP is banned from now for banSeconds', () => {
    const l = limiter();
    calls(l, A, 3, T0);
    const fourth = l.admit(A, T0 + 5 * SECOND);
    expect(fourth).toEqual({
      admitted: false,
      newBan: true,
      ban: { ip: A, reason: 'limit', since: T0 + 5 * SECOND, until: T0 + 5 * SECOND + 120 * SECOND },
    });
    expect(l.activeBan(A, T0 + 5 * SECOND)).toEqual({
      ip: A,
      reason: 'limit',
      since: T0 + 5 * SECOND,
      until: T0 + 125 * SECOND,
    });
  });

  it('when a banned IP calls again, then it is refused with the same ban and newBan false', () => {
    const l = limiter();
    calls(l, A, 4, T0);
    const again = l.admit(A, T0 + 10 * SECOND);
    expect(again).toEqual({
      admitted: false,
      newBan: false,
      ban: { ip: A, reason: 'limit', since: T0, until: T0 + 120 * SECOND },
    });
  });

  it('when calls spread over more than the window, then only those inside the last window count', () => {
    const l = limiter();
    l.admit(A, T0);
    l.admit(A, T0 + 10 * SECOND);
    l.admit(A, T0 + 20 * SECOND);
    // At T0 + 60 s the call at T0 has left the window: three calls remain, none too many.
    expect(l.admit(A, T0 + 60 * SECOND)).toEqual({ admitted: true });
    // The calls at +10 s, +20 s, +60 s and this one are four within 60 s.
    const over = l.admit(A, T0 + 65 * SECOND);
    expect(over).toMatchObject({ admitted: false, newBan: true });
  });

  it('when the oldest call is just inside the window, then it still counts', () => {
    const l = limiter();
    calls(l, A, 3, T0);
    expect(l.admit(A, T0 + 60 * SECOND - 1)).toMatchObject({ admitted: false, newBan: true });
  });

  it('when a ban reaches its until, then it has expired and calls are admitted again', () => {
    const l = limiter();
    calls(l, A, 4, T0);
    const until = T0 + 120 * SECOND;
    expect(l.admit(A, until - 1)).toMatchObject({ admitted: false, newBan: false });
    expect(l.admit(A, until)).toEqual({ admitted: true });
    expect(l.activeBan(A, until)).toBeUndefined();
    expect(l.active(until)).toEqual([]);
  });

  it('when a banned IP keeps calling, then those calls do not count after the ban ends', () => {
    const l = limiter();
    calls(l, A, 4, T0);
    const until = T0 + 120 * SECOND;
    // Many refused calls in the last window of the ban.
    calls(l, A, 50, until - 30 * SECOND);
    calls(l, A, 50, until - 1);
    expect(calls(l, A, 3, until)).toEqual([{ admitted: true }, { admitted: true }, { admitted: true }]);
    expect(l.admit(A, until)).toMatchObject({ admitted: false, newBan: true });
  });

  it('when one IP is banned, then another IP keeps its own count and is admitted', () => {
    const l = limiter();
    calls(l, A, 4, T0);
    expect(calls(l, B, 3, T0)).toEqual([{ admitted: true }, { admitted: true }, { admitted: true }]);
    expect(l.admit(B, T0)).toMatchObject({ admitted: false, newBan: true, ban: { ip: B } });
    expect(
      l
        .active(T0)
        .map((b) => b.ip)
        .sort(),
    ).toEqual([A, B]);
  });

  it('when more IPs are tracked than maxTrackedIps, then the least recently seen is forgotten', () => {
    const l = limiter({ threshold: 1, maxTrackedIps: 2 });
    l.admit(A, T0);
    l.admit(B, T0);
    l.admit('192.0.2.3', T0);
    // A's first call is forgotten, so its second is its only one; B's is still counted.
    expect(l.admit(A, T0)).toEqual({ admitted: true });
    expect(l.admit('192.0.2.3', T0)).toMatchObject({ admitted: false, newBan: true });
  });
});

describe('RateLimiter.ban (operator)', () => {
  it('when an operator bans an IP, then it is refused until now + seconds with reason admin', () => {
    const l = limiter();
    const ban = l.ban(A, 30, 'admin', T0);
    expect(ban).toEqual({ ip: A, reason: 'admin', since: T0, until: T0 + 30 * SECOND });
    expect(l.admit(A, T0 + 29 * SECOND)).toEqual({ admitted: false, newBan: false, ban });
    expect(l.admit(A, T0 + 30 * SECOND)).toEqual({ admitted: true });
  });

  it('when an IP is banned by an operator, then its earlier calls are forgotten', () => {
    const l = limiter();
    calls(l, A, 3, T0);
    l.ban(A, 1, 'admin', T0);
    expect(calls(l, A, 3, T0 + SECOND)).toEqual([{ admitted: true }, { admitted: true }, { admitted: true }]);
  });
});

describe('RateLimiter.lift and liftAll', () => {
  it('when a banned IP is lifted, then lift returns true and the IP starts a fresh window', () => {
    const l = limiter();
    calls(l, A, 4, T0);
    expect(l.lift(A, T0 + SECOND)).toBe(true);
    expect(l.activeBan(A, T0 + SECOND)).toBeUndefined();
    expect(calls(l, A, 3, T0 + SECOND)).toEqual([{ admitted: true }, { admitted: true }, { admitted: true }]);
  });

  it('when the IP is not banned or its ban has expired, then lift returns false', () => {
    const l = limiter();
    expect(l.lift(A, T0)).toBe(false);
    l.ban(B, 10, 'admin', T0);
    expect(l.lift(B, T0 + 10 * SECOND)).toBe(false);
    expect(l.history()).toEqual([
      { ip: B, reason: 'admin', since: T0, until: T0 + 10 * SECOND, liftedAt: null },
    ]);
  });

  it('when all bans are lifted, then liftAll counts only the active ones and none remain', () => {
    const l = limiter();
    l.ban(A, 60, 'admin', T0);
    l.ban(B, 60, 'admin', T0);
    l.ban('192.0.2.3', 1, 'admin', T0);
    expect(l.liftAll(T0 + 2 * SECOND)).toBe(2);
    expect(l.active(T0 + 2 * SECOND)).toEqual([]);
    expect(l.liftAll(T0 + 3 * SECOND)).toBe(0);
  });
});

describe('RateLimiter.history', () => {
  it('when bans start and are lifted, then history keeps them in order with liftedAt', () => {
    const l = limiter();
    calls(l, A, 4, T0);
    l.ban(B, 30, 'admin', T0 + SECOND);
    l.lift(B, T0 + 5 * SECOND);
    expect(l.history()).toEqual([
      { ip: A, reason: 'limit', since: T0, until: T0 + 120 * SECOND, liftedAt: null },
      { ip: B, reason: 'admin', since: T0 + SECOND, until: T0 + 31 * SECOND, liftedAt: T0 + 5 * SECOND },
    ]);
  });

  it('when an IP is banned again after a lift, then only the lifted record gets liftedAt', () => {
    const l = limiter();
    l.ban(A, 30, 'admin', T0);
    l.lift(A, T0 + SECOND);
    l.ban(A, 30, 'admin', T0 + 2 * SECOND);
    expect(l.history().map((r) => r.liftedAt)).toEqual([T0 + SECOND, null]);
  });

  it('when more bans start than historySize, then the newest are kept', () => {
    const l = limiter({ historySize: 2 });
    for (const [i, ip] of [A, B, '192.0.2.3'].entries()) l.ban(ip, 30, 'admin', T0 + i);
    expect(l.history().map((r) => r.ip)).toEqual([B, '192.0.2.3']);
  });
});

describe('RateLimiter.bansStarted', () => {
  it('when bans start for the limit and by an operator, then each reason is counted', () => {
    const l = limiter();
    expect(l.bansStarted()).toEqual({ limit: 0, admin: 0 });
    calls(l, A, 4, T0);
    calls(l, A, 10, T0); // refused calls of a running ban start no new ban
    l.ban(B, 30, 'admin', T0);
    l.ban('192.0.2.3', 30, 'admin', T0);
    expect(l.bansStarted()).toEqual({ limit: 1, admin: 2 });
  });

  it('when the caller changes the returned counts, then the limiter is not affected', () => {
    const l = limiter();
    const counts = l.bansStarted();
    counts.limit = 99;
    expect(l.bansStarted()).toEqual({ limit: 0, admin: 0 });
  });
});
