import { bearerAuth } from '@failway/telemetry';
import type { Express } from 'express';
import type { DeparturesPool } from '../adapters/pool.ts';

/** GET /admin/upstreams: the state of every departures replica, behind a bearer token. */
export function adminRoutes(app: Express, token: string, pool: DeparturesPool): void {
  app.get('/admin/upstreams', bearerAuth(token, 'gateway admin'), (_req, res) => {
    res.json({ members: pool.views() });
  });
}
