import { createServiceApp, type ServiceRuntime } from '@failway/telemetry';
import type { Express } from 'express';
import type { Config } from './config.ts';
import { RateLimiter } from './domain/bans.ts';
import { type Faults, NO_FAULTS } from './domain/faults.ts';
import { adminRoutes } from './http/admin.ts';
import { ldbwsRoutes } from './http/ldbws.ts';
import { createRailSimMetrics } from './http/metrics.ts';
import { railSimOpenApi } from './http/openapi.ts';

/** The rail-sim HTTP app; no listening, no side effects. */
export function createApp(runtime: ServiceRuntime, config: Config, clock: () => number = Date.now): Express {
  const limiter = new RateLimiter({
    threshold: config.BAN_THRESHOLD,
    windowSeconds: config.BAN_WINDOW_S,
    banSeconds: config.BAN_DURATION_S,
  });
  const metrics = createRailSimMetrics(runtime.metrics, limiter, clock);
  let faults: Faults = NO_FAULTS;
  // The boards' clock shift; the admin API moves it (PUT /admin/clock).
  let offsetMinutes = config.SIM_TIME_OFFSET_MIN;
  return createServiceApp({
    logger: runtime.logger,
    metrics: runtime.metrics,
    health: runtime.health,
    routes: (app) => {
      const contract = Buffer.from(JSON.stringify(railSimOpenApi()));
      app.get('/openapi.json', (_req, res) => {
        res.type('application/json').send(contract);
      });
      ldbwsRoutes(app, {
        apiKeys: config.RAIL_API_KEYS,
        limiter,
        faults: () => faults,
        defaultBanStyle: config.BAN_STYLE,
        seed: config.SIM_SEED,
        timeOffsetMs: () => offsetMinutes * 60_000,
        latency: { minMs: config.LATENCY_MIN_MS, maxMs: config.LATENCY_MAX_MS },
        metrics,
        logger: runtime.logger,
        clock,
      });
      if (config.ADMIN_TOKEN) {
        adminRoutes(app, {
          token: config.ADMIN_TOKEN,
          limiter,
          faults: { get: () => faults, set: (f) => (faults = f) },
          simClock: {
            offsetMinutes: () => offsetMinutes,
            setOffsetMinutes: (m) => (offsetMinutes = m),
            configuredOffsetMinutes: config.SIM_TIME_OFFSET_MIN,
          },
          defaultBanSeconds: config.BAN_DURATION_S,
          metrics,
          logger: runtime.logger,
          clock,
        });
      }
    },
  });
}
