import { bearerAuth } from '@failway/telemetry';
import type { Express } from 'express';

/** The pool as the admin view needs it. */
export interface UpstreamsView {
  views(): object[];
}

/** GET /admin/upstreams: the state of every departures replica, behind a bearer token. */
export function adminRoutes(app: Express, token: string, pool: UpstreamsView): void {
  app.get('/admin/upstreams', bearerAuth(token, 'gateway admin'), (_req, res) => {
    res.json({ members: pool.views() });
  });
}
