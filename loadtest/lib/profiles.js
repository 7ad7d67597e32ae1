// Shared load profiles. Each returns one k6 scenario; `rate` is requests (iterations) per second
// at the profile's plateau and `duration` the whole run, so a script can be run as a smoke test,
// a stress test or a soak without editing it (PROFILE, RATE, DURATION in the environment).
import { seconds } from './config.js';

const s = (n) => `${Math.max(1, Math.round(n))}s`;

/** The profiles and what each is for. */
export const PROFILES = {
  smoke: 'one user (or `vus`), short: does everything answer at all',
  average: 'ramp to the usual rate, hold it, ramp down',
  stress: 'straight to 1.5x the rate and hold: past what the upstream allows',
  spike: 'quiet, then 4x the rate within seconds, then quiet again',
  soak: 'the usual rate for a long time (default 1h): leaks, slow drifts, long bans',
};

/**
 * A scenario for `name` at `rate` requests per second over `duration`. Arrival-rate executors
 * keep the rate whatever the latency (an overloaded target cannot slow the test down and hide
 * it), with enough pre-allocated VUs for answers as slow as `slowSeconds`.
 */
export function profile(name, { rate, duration, exec, tags, startTime, slowSeconds = 2, vus: users = 1 }) {
  const total = seconds(duration ?? (name === 'soak' ? '1h' : '1m'));
  const peak = { smoke: 0, average: 1, stress: 1.5, spike: 4, soak: 1 }[name];
  if (peak === undefined)
    throw new Error(`PROFILE must be one of ${Object.keys(PROFILES).join(', ')}, got "${name}"`);
  const common = {
    ...(exec ? { exec } : {}),
    ...(tags ? { tags } : {}),
    ...(startTime ? { startTime } : {}),
  };
  if (name === 'smoke') return { executor: 'constant-vus', vus: users, duration: s(total), ...common };
  const target = Math.max(1, Math.ceil(rate * peak));
  const vus = Math.ceil(target * slowSeconds) + 2;
  const arrival = { timeUnit: '1s', preAllocatedVUs: vus, maxVUs: vus * 2, ...common };
  if (name === 'soak')
    return { executor: 'constant-arrival-rate', rate: target, duration: s(total), ...arrival };
  const stages = {
    average: [
      { duration: s(total * 0.15), target },
      { duration: s(total * 0.7), target },
      { duration: s(total * 0.15), target: 0 },
    ],
    stress: [
      { duration: s(Math.min(5, total * 0.1)), target },
      { duration: s(total - Math.min(5, total * 0.1)), target },
    ],
    spike: [
      { duration: s(total * 0.3), target: Math.ceil(rate * 0.25) },
      { duration: s(total * 0.1), target },
      { duration: s(total * 0.3), target },
      { duration: s(total * 0.1), target: Math.ceil(rate * 0.25) },
      { duration: s(total * 0.2), target: Math.ceil(rate * 0.25) },
    ],
  }[name];
  return {
    executor: 'ramping-arrival-rate',
    startRate: name === 'spike' ? Math.ceil(rate * 0.25) : 1,
    stages,
    ...arrival,
  };
}
