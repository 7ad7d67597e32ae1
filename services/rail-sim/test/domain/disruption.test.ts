import { describe, expect, it } from 'vitest';
import {
  CANCEL_REASONS,
  DELAY_REASONS,
  delayAtCall,
  type ServiceState,
  serviceState,
} from '../../src/domain/disruption.ts';

const DATE = '2026-03-11';

function sample(disruption: boolean, n = 20_000): ServiceState[] {
  return Array.from({ length: n }, (_, i) => serviceState('mix', DATE, String(1_000_000 + i), disruption));
}

function share(states: ServiceState[], test: (s: ServiceState) => boolean): number {
  return states.filter(test).length / states.length;
}

describe('serviceState', () => {
  it('is the same for the same seed, date and service', () => {
    expect(serviceState('a', DATE, '1234567', false)).toEqual(serviceState('a', DATE, '1234567', false));
  });

  it('in normal running, mostly on time with a few per cent cancelled', () => {
    const states = sample(false);
    expect(share(states, (s) => s.status === 'onTime')).toBeGreaterThan(0.66);
    expect(share(states, (s) => s.status === 'onTime')).toBeLessThan(0.75);
    expect(share(states, (s) => s.status === 'cancelled')).toBeGreaterThan(0.025);
    expect(share(states, (s) => s.status === 'cancelled')).toBeLessThan(0.045);
    expect(share(states, (s) => s.status === 'late' && s.delayMinutes <= 5)).toBeGreaterThan(0.14);
    expect(share(states, (s) => s.status === 'late' && s.delayMinutes <= 5)).toBeLessThan(0.2);
    expect(share(states, (s) => s.status === 'late' && s.delayMinutes > 5)).toBeGreaterThan(0.06);
    expect(share(states, (s) => s.status === 'late' && s.delayMinutes > 5)).toBeLessThan(0.1);
    expect(share(states, (s) => s.status === 'delayed')).toBeLessThan(0.02);
    expect(Math.max(...states.map((s) => s.delayMinutes))).toBeLessThanOrEqual(30);
  });

  it('in disruption mode, cancels about a quarter and makes many more trains late', () => {
    const states = sample(true);
    expect(share(states, (s) => s.status === 'cancelled')).toBeGreaterThan(0.2);
    expect(share(states, (s) => s.status === 'cancelled')).toBeLessThan(0.3);
    expect(share(states, (s) => s.status === 'onTime')).toBeLessThan(0.3);
    expect(share(states, (s) => s.status === 'late' && s.delayMinutes > 5)).toBeGreaterThan(0.2);
  });

  it('gives Darwin reasons: a cancel reason when cancelled, a delay reason when delayed', () => {
    for (const s of sample(false, 5_000)) {
      if (s.status === 'cancelled') expect(CANCEL_REASONS).toContain(s.reason);
      else if (s.status === 'delayed' || (s.status === 'late' && s.delayMinutes > 2)) {
        expect(DELAY_REASONS).toContain(s.reason);
      } else if (s.status === 'onTime') expect(s.reason).toBeNull();
    }
  });
});

describe('delayAtCall', () => {
  it('carries a delay to later stops, recovering at most a couple of minutes and never below zero', () => {
    const late: ServiceState = { status: 'late', delayMinutes: 10, recoveryMinutes: 2, reason: null };
    const delays = Array.from({ length: 12 }, (_, i) => delayAtCall(late, i, 12) ?? -1);
    expect(delays[0]).toBe(10);
    expect(delays.at(-1)).toBe(8);
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeLessThanOrEqual(delays[i - 1] ?? 0);
    const slight: ServiceState = { status: 'late', delayMinutes: 1, recoveryMinutes: 2, reason: null };
    expect(delayAtCall(slight, 11, 12)).toBe(0);
  });

  it('has no estimate for a delayed or cancelled train', () => {
    expect(
      delayAtCall({ status: 'delayed', delayMinutes: 0, recoveryMinutes: 0, reason: 'x' }, 3, 10),
    ).toBeNull();
    expect(
      delayAtCall({ status: 'cancelled', delayMinutes: 0, recoveryMinutes: 0, reason: 'x' }, 3, 10),
    ).toBeNull();
  });
});
