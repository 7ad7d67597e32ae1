import { crsValue, QueryError } from '@failway/contract';
import { invalidParameter, notFound } from '@failway/telemetry';
import type { Express } from 'express';
import type { RoutesFile } from '../adapters/routes-file.ts';
import { routeConfigOpenApi } from './openapi.ts';

/** GET /routes, /routes/:id, /stations, /stations/:crs over the catalog in use; /openapi.json. */
export function catalogRoutes(app: Express, routes: RoutesFile): void {
  const contract = Buffer.from(JSON.stringify(routeConfigOpenApi()));
  app.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(contract);
  });
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
    let crs: string;
    try {
      crs = crsValue('crs', String(req.params.crs));
    } catch (error) {
      if (error instanceof QueryError) throw invalidParameter(error.field, error.detail);
      throw error;
    }
    const station = routes.catalog.stations.find((s) => s.crs === crs);
    if (!station) throw notFound(`no station with CRS "${crs}"`);
    res.json(station);
  });
}
