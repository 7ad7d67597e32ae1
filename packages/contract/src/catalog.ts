import { z } from 'zod';

/**
 * Stations and routes as route-config keeps them and the gateway relays them: one schema for the
 * routes file, route-config's answers, the gateway's check of those answers and its public API.
 */

/** A CRS code as the platform stores it: three upper-case letters. */
export const crsCodeSchema = z
  .string()
  .regex(/^[A-Z]{3}$/, 'must be a 3-letter upper-case CRS code')
  .meta({ description: 'CRS (Computer Reservation System) code of a station.', examples: ['WHP'] });

/**
 * A station. Loose: members route-config adds later pass through the gateway to clients
 * (route-config's own file is stricter: `z.strictObject(stationSchema.shape)`).
 */
export const stationSchema = z
  .looseObject({
    crs: crsCodeSchema,
    name: z.string().trim().min(1, 'must not be empty').max(100),
  })
  .meta({ id: 'Station' });
export type Station = z.infer<typeof stationSchema>;

/** A preset route between two stations of the catalog. */
export const routeSchema = z
  .looseObject({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be lower-case letters, digits and dashes (at most 64)'),
    name: z.string().trim().min(1, 'must not be empty').max(100),
    from: crsCodeSchema,
    to: crsCodeSchema,
  })
  .meta({ id: 'Route' });
export type Route = z.infer<typeof routeSchema>;

/** The route shown first. */
export const defaultRouteSchema = z
  .object({ from: crsCodeSchema, to: crsCodeSchema })
  .meta({ id: 'DefaultRoute' });

/** `GET /stations` (route-config) and `GET /api/stations` (gateway). */
export const stationsAnswerSchema = z.object({ stations: z.array(stationSchema) }).meta({ id: 'Stations' });

/** `GET /routes` (route-config) and `GET /api/routes` (gateway). */
export const routesAnswerSchema = z
  .object({ defaultRoute: defaultRouteSchema, routes: z.array(routeSchema) })
  .meta({ id: 'Routes' });

/** Stations, preset routes and the route shown first. */
export interface Catalog {
  stations: Station[];
  routes: Route[];
  defaultRoute: { from: string; to: string };
}
