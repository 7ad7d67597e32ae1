import type { ServiceMetrics } from '@failway/telemetry';
import { Counter } from 'prom-client';
import type { BoardsObserver } from '../domain/boards.ts';

/** gateway_retries_total and gateway_stale_responses_total (see docs/telemetry.md). */
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
  return {
    retried: () => retries.inc(),
    staleServed: (origin) => stale.inc({ origin }),
  };
}
