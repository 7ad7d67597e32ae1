import {
  crsParamSchema,
  routeSchema,
  routesAnswerSchema,
  stationSchema,
  stationsAnswerSchema,
} from '@failway/contract';
import { jsonResponse, openApiDocument, problemResponse } from '@failway/contract/openapi';
import { z } from 'zod';

const tooLong = problemResponse('The request target is longer than 2048 characters.');

/** route-config's API as OpenAPI 3.1 (internal: the gateway reads stations and routes from it). */
export function routeConfigOpenApi(): Record<string, unknown> {
  return openApiDocument({
    title: 'Failway route-config (internal)',
    description:
      'The stations and preset routes of the routes file in use (reloaded when the file changes; an ' +
      'invalid file is refused and the last good one kept).',
    paths: {
      '/stations': {
        get: {
          operationId: 'listStations',
          summary: 'Every station',
          responses: { '200': jsonResponse('The stations.', stationsAnswerSchema), '414': tooLong },
        },
      },
      '/stations/{crs}': {
        get: {
          operationId: 'getStation',
          summary: 'One station',
          parameters: [
            { name: 'crs', in: 'path', description: 'Its CRS code, either case.', schema: crsParamSchema },
          ],
          responses: {
            '200': jsonResponse('The station.', stationSchema),
            '400': problemResponse('Not a CRS code (`invalid-parameter`).'),
            '404': problemResponse('No such station (`not-found`).'),
            '414': tooLong,
          },
        },
      },
      '/routes': {
        get: {
          operationId: 'listRoutes',
          summary: 'The preset routes and the route shown first',
          responses: { '200': jsonResponse('The routes.', routesAnswerSchema), '414': tooLong },
        },
      },
      '/routes/{id}': {
        get: {
          operationId: 'getRoute',
          summary: 'One preset route',
          parameters: [{ name: 'id', in: 'path', description: 'The route id.', schema: z.string() }],
          responses: {
            '200': jsonResponse('The route.', routeSchema),
            '404': problemResponse('No such route (`not-found`).'),
            '414': tooLong,
          },
        },
      },
    },
  });
}
