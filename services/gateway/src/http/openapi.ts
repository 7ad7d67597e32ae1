import {
  crsParamSchema,
  gatewayDeparturesAnswerSchema,
  MAX_ROWS,
  routesAnswerSchema,
  rowsParamSchema,
  STALE_REASONS,
  stationsAnswerSchema,
} from '@failway/contract';
import {
  type HeaderSpec,
  jsonResponse,
  openApiDocument,
  problemResponse,
  retryAfterHeader,
} from '@failway/contract/openapi';
import { z } from 'zod';

const rateLimitHeaders: Record<string, HeaderSpec> = {
  'RateLimit-Policy': {
    description:
      'The per-client limit of /api (IETF draft-8 RateLimit fields): `"<n>-in-1min"; q=<n>; w=60`.',
    schema: z.string(),
    required: true,
  },
  RateLimit: {
    description: 'What is left of the limit and when it resets: `"<n>-in-1min"; r=<left>; t=<seconds>`.',
    schema: z.string(),
    required: true,
  },
};

const tooMany = problemResponse(
  'More requests a minute from this address than the gateway takes (`rate-limited`), or, for ' +
    '/api/departures, more routes with no recent board (`new-routes-rate-limited`).',
  { ...retryAfterHeader, ...rateLimitHeaders },
);
const uriTooLong = problemResponse('The request target is longer than 2048 characters (`uri-too-long`).');
const catalogUnavailable = problemResponse(
  'The station list could not be loaded yet (`route-config-unavailable`); try again after Retry-After.',
  retryAfterHeader,
);

/**
 * The gateway's public API as OpenAPI 3.1 (served at GET /openapi.json): the board, stations and
 * routes endpoints with the problem+json answers and the headers clients rely on. Given the
 * stations of the catalog in use, `from` and `to` list them: any other code is refused, so a
 * client (or a fuzzer) reading the served document knows which values are valid.
 */
export function gatewayOpenApi(stations?: readonly string[]): Record<string, unknown> {
  const codes = stations && stations.length > 0 ? [...stations].sort() : undefined;
  const stationSchema = codes
    ? z.enum(codes as [string, ...string[]]).meta({ description: 'CRS code of a station of /api/stations.' })
    : crsParamSchema;
  const stationParam = (name: 'from' | 'to', what: string) =>
    ({ name, in: 'query', required: true, description: what, schema: stationSchema }) as const;
  return openApiDocument({
    title: 'Failway public API',
    description:
      'Train departures that keep answering while the rail data API bans callers. Every answer carries ' +
      '`X-Request-ID`; errors are RFC 9457 `application/problem+json` whose `type` is ' +
      '`urn:failway:problem:<code>`. `/api/*` is rate limited per client address.',
    tags: [{ name: 'departures', description: 'Boards, stations and preset routes.' }],
    paths: {
      '/api/departures': {
        get: {
          operationId: 'getDepartures',
          summary: 'The next trains from one station to another',
          description:
            'Asks the departures replica that owns the route (rendezvous hashing), falls over to the next ' +
            "one, and serves the gateway's last good board when none can answer; `stale` and the " +
            '`Warning` header say when the board is older than it should be.',
          tags: ['departures'],
          parameters: [
            stationParam('from', 'The departure station (a station of /api/stations).'),
            stationParam('to', 'The destination station; must differ from `from`.'),
            {
              name: 'rows',
              in: 'query',
              description: `How many trains to list, 1 to ${MAX_ROWS} (default ${MAX_ROWS}).`,
              schema: rowsParamSchema,
            },
          ],
          responses: {
            '200': jsonResponse('The board.', gatewayDeparturesAnswerSchema, {
              'Cache-Control': {
                description: 'Always `no-store`.',
                schema: z.literal('no-store'),
                required: true,
              },
              'X-Board-Source': {
                description: 'Where the board came from (as `source`).',
                schema: gatewayDeparturesAnswerSchema.shape.source,
                required: true,
              },
              Age: {
                description: 'Seconds since the board was fetched (as `ageSeconds`).',
                schema: z.string().regex(/^\d+$/),
                required: true,
              },
              Warning: {
                description: `Present when the board is stale (\`stale\` is true; reasons: ${[...STALE_REASONS, 'replicas_unavailable'].join(', ')}).`,
                schema: z.string().regex(/^110 - "Response is Stale"/),
              },
              ...rateLimitHeaders,
            }),
            '400': problemResponse(
              'A query parameter is missing, repeated or invalid, or names a station the gateway does not ' +
                'know (`invalid-parameter`); `field` names it.',
            ),
            '414': uriTooLong,
            '429': tooMany,
            '503': problemResponse(
              'No replica could give a board and none is kept for the route (`all-replicas-banned`, ' +
                '`upstream-budget-exhausted`, `no-replica-available`), or the station list is not loaded ' +
                '(`route-config-unavailable`).',
              retryAfterHeader,
            ),
          },
        },
      },
      '/api/stations': {
        get: {
          operationId: 'getStations',
          summary: 'The stations boards can be asked for',
          tags: ['departures'],
          responses: {
            '200': jsonResponse('Every station of the catalog.', stationsAnswerSchema, rateLimitHeaders),
            '414': uriTooLong,
            '429': tooMany,
            '503': catalogUnavailable,
          },
        },
      },
      '/api/routes': {
        get: {
          operationId: 'getRoutes',
          summary: 'Preset routes and the one shown first',
          tags: ['departures'],
          responses: {
            '200': jsonResponse('The preset routes.', routesAnswerSchema, rateLimitHeaders),
            '414': uriTooLong,
            '429': tooMany,
            '503': catalogUnavailable,
          },
        },
      },
    },
  });
}
