import { invalidParameter, notFound } from '@failway/telemetry';
import type { Express } from 'express';
import type { RoutesFile } from '../adapters/routes-file.ts';

/** GET /routes, /routes/:id, /stations, /stations/:crs over the catalog in use. */
export function catalogRoutes(app: Express, routes: RoutesFile): void {
  app.get('/routes', (_req, res) => {
    res.json({ defaultRoute: routes.defaultRoute, routes: routes.catalog.routes });
  });
  app.get('/routes/:id', (req, res) => {
    const route = routes.catalog.routes.find((r) => r.id === req.params.id);
    if (!route) throw notFound(`no route with id "${String(req.params.id).slice(0, 64)}"`);
    res.json(route);
  });
  app.get('/stations', (_req, res) => {
    res.json({ stations: routes.catalog.stations });
  });
  app.get('/stations/:crs', (req, res) => {
    const crs = String(req.params.crs);
    if (!/^[A-Za-z]{3}$/.test(crs))
      throw invalidParameter('crs', 'must be a 3-letter CRS station code such as WHP');
    const station = routes.catalog.stations.find((s) => s.crs === crs.toUpperCase());
    if (!station) throw notFound(`no station with CRS "${crs.toUpperCase()}"`);
    res.json(station);
  });
}
