import type { ServiceMetrics } from '@failway/telemetry';
import { Counter } from 'prom-client';
import type { BoardsObserver } from '../domain/boards.ts';
import { SKIP_REASONS } from '../domain/replicas.ts';

/**
 * gateway_retries_total, gateway_stale_responses_total and gateway_affinity_misses_total (see
 * docs/telemetry.md).
 */
export function createBoardsObserver(metrics: ServiceMetrics): BoardsObserver {
  const registers = [metrics.registry];
  const retries = new Counter({
    name: 'gateway_retries_total',
    help: 'Board requests retried on another departures replica after the first failed or was banned.',
    registers,
  });
  const stale = new Counter({
    name: 'gateway_stale_responses_total',
    help: "Stale boards served, by origin: a replica that could not refresh, or the gateway's own last good board.",
    labelNames: ['origin'],
    registers,
  });
  for (const origin of ['replica', 'gateway']) stale.inc({ origin }, 0);
  const misses = new Counter({
    name: 'gateway_affinity_misses_total',
    help: "Boards served by a replica other than the route's first-ranked one, by why that one did not serve.",
    labelNames: ['reason'],
    registers,
  });
  for (const reason of SKIP_REASONS) misses.inc({ reason }, 0);
  return {
    retried: () => retries.inc(),
    staleServed: (origin) => stale.inc({ origin }),
    affinityMiss: (reason) => misses.inc({ reason }),
  };
}

/** What the public API tells the outside about itself. */
export interface ApiObserver {
  /** A request for a route the gateway holds no board for was refused: too many from that client. */
  newRouteLimited(): void;
}

/** gateway_new_route_limited_total (see docs/telemetry.md). */
export function createApiObserver(metrics: ServiceMetrics): ApiObserver {
  const limited = new Counter({
    name: 'gateway_new_route_limited_total',
    help: 'Board requests refused with 429 because one client asked for too many routes the gateway holds no board for.',
    registers: [metrics.registry],
  });
  return { newRouteLimited: () => limited.inc() };
}
