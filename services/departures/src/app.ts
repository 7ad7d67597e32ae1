import { createServiceApp, type ServiceRuntime } from '@failway/telemetry';
import type { Express } from 'express';
import type { DeparturesService } from './domain/departures.ts';
import { departuresRoutes } from './http/routes.ts';

export interface AppDeps {
  runtime: ServiceRuntime;
  departures: DeparturesService;
}

/** The departures HTTP app; no listening, no side effects. */
export function createApp({ runtime, departures }: AppDeps): Express {
  return createServiceApp({
    logger: runtime.logger,
    metrics: runtime.metrics,
    health: runtime.health,
    routes: (app) => departuresRoutes(app, departures),
  });
}
