import type { ServiceMetrics } from '@failway/telemetry';
import { Counter, Gauge } from 'prom-client';
import type { RateLimiter } from '../domain/bans.ts';

export interface RailSimMetrics {
  requests: Counter<'outcome'>;
  bansStarted: Counter<'reason'>;
}

/** rail-sim's own metrics (see docs/telemetry.md). */
export function createRailSimMetrics(
  metrics: ServiceMetrics,
  limiter: RateLimiter,
  clock: () => number,
): RailSimMetrics {
  const registers = [metrics.registry];
  const requests = new Counter({
    name: 'railsim_requests_total',
    help: 'Board requests, by outcome (ok, banned, unauthorized, bad_request, unknown_crs, fault).',
    labelNames: ['outcome'],
    registers,
  });
  const bansStarted = new Counter({
    name: 'railsim_bans_total',
    help: 'Client IP bans started, by reason (limit: over the request limit; admin: injected).',
    labelNames: ['reason'],
    registers,
  });
  new Gauge({
    name: 'railsim_bans_active',
    help: 'Client IPs banned right now.',
    registers,
    collect() {
      this.set(limiter.active(clock()).length);
    },
  });
  for (const outcome of ['ok', 'banned', 'unauthorized', 'bad_request', 'unknown_crs', 'fault'])
    requests.inc({ outcome }, 0);
  for (const reason of ['limit', 'admin']) bansStarted.inc({ reason }, 0);
  return { requests, bansStarted };
}
