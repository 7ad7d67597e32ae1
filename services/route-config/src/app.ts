import { createServiceApp, type ServiceRuntime } from '@failway/telemetry';
import type { Express } from 'express';
import type { RoutesFile } from './adapters/routes-file.ts';
import { catalogRoutes } from './http/routes.ts';

/** The route-config HTTP app; no listening, no side effects. */
export function createApp(runtime: ServiceRuntime, routes: RoutesFile): Express {
  return createServiceApp({
    logger: runtime.logger,
    metrics: runtime.metrics,
    health: runtime.health,
    routes: (app) => catalogRoutes(app, routes),
  });
}
