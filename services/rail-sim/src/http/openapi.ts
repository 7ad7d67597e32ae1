import { stationBoardSchema } from '@failway/contract';
import {
  type HeaderSpec,
  jsonResponse,
  openApiDocument,
  problemResponse,
  type ResponseSpec,
} from '@failway/contract/openapi';
import { z } from 'zod';
import {
  banBody,
  bansView,
  banView,
  clockBody,
  clockView,
  faultsBody,
  faultsView,
  liftedView,
} from './admin-api.ts';

// The LDBWS error body: {"message": …}, as the real API answers (not problem+json).
const ldbwsError = z.object({ message: z.string() }).meta({ id: 'LdbwsError' });
const banned429 = z
  .object({
    error: z.literal('ip_banned'),
    retryAfterSeconds: z.int().positive(),
    bannedUntil: z.iso.datetime(),
  })
  .meta({ id: 'IpBanned' });

const retryAfter: HeaderSpec = {
  description: 'Seconds until the ban ends.',
  schema: z.string().regex(/^\d+$/),
  required: true,
};
const unauthorized = problemResponse(
  'No or a wrong `Authorization: Bearer <ADMIN_TOKEN>` (`unauthorized`).',
  {
    'WWW-Authenticate': { description: 'The bearer challenge.', schema: z.string(), required: true },
  },
);
const invalid = problemResponse(
  'The body is not valid JSON or breaks the schema (`invalid-parameter`, `bad-request`).',
);
const tooLong = problemResponse('The request target is longer than 2048 characters.');
const admin = (responses: Record<string, ResponseSpec>): Record<string, ResponseSpec> => ({
  ...responses,
  '401': unauthorized,
  '414': tooLong,
});

/** rail-sim's API as OpenAPI 3.1: the LDBWS subset the platform calls, and the admin API. */
export function railSimOpenApi(): Record<string, unknown> {
  return openApiDocument({
    title: 'Failway rail-sim (internal)',
    description:
      "A stand-in for National Rail's LDBWS REST API (the subset departures calls, with the real API's " +
      "per-IP bans) and an admin API that injects bans and faults and moves the boards' clock.",
    tags: [
      { name: 'ldbws', description: 'The rail data API subset (header `x-apikey`).' },
      { name: 'admin', description: 'Fault injection (bearer ADMIN_TOKEN).' },
    ],
    securitySchemes: {
      adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN.' },
      apiKey: { type: 'apiKey', in: 'header', name: 'x-apikey', description: 'One of RAIL_API_KEYS.' },
    },
    paths: {
      '/LDBWS/api/20220120/GetDepBoardWithDetails/{crs}': {
        get: {
          operationId: 'getDepBoardWithDetails',
          summary: 'A departure board with calling points',
          tags: ['ldbws'],
          security: ['apiKey'],
          parameters: [
            { name: 'crs', in: 'path', description: 'The station.', schema: z.string() },
            {
              name: 'numRows',
              in: 'query',
              description: '0 to 150 (at most 10 are listed).',
              schema: z.int().min(0).max(150),
            },
            {
              name: 'filterCrs',
              in: 'query',
              description: 'Only trains calling at (or coming from) this station.',
              schema: z.string(),
            },
            {
              name: 'filterType',
              in: 'query',
              description: '`to` (default) or `from`.',
              schema: z.enum(['to', 'from']),
            },
            {
              name: 'timeOffset',
              in: 'query',
              description: 'Minutes, -120 to 119.',
              schema: z.int().min(-120).max(119),
            },
            {
              name: 'timeWindow',
              in: 'query',
              description: 'Minutes, -120 to 120.',
              schema: z.int().min(-120).max(120),
            },
          ],
          responses: {
            '200': jsonResponse('The board (also the silent ban style: an empty board).', stationBoardSchema),
            '400': jsonResponse('A parameter is out of range.', ldbwsError),
            '401': jsonResponse('No or a wrong `x-apikey`.', ldbwsError),
            '403': {
              description: 'Banned, ban style `403`: an HTML page.',
              contentType: 'text/html',
              schema: z.string(),
            },
            '429': jsonResponse('Banned, ban style `429`.', banned429, {
              'Retry-After': retryAfter,
              'X-Ban-Expires': {
                description: 'When the ban ends.',
                schema: z.iso.datetime(),
                required: true,
              },
            }),
            '500': jsonResponse(
              'An unknown CRS (as the real API answers it), or an injected error.',
              ldbwsError,
            ),
            '503': {
              description: 'Banned, ban style `503`: plain text.',
              contentType: 'text/plain',
              schema: z.string(),
              headers: { 'Retry-After': retryAfter },
            },
          },
        },
      },
      '/admin/bans': {
        get: {
          operationId: 'listBans',
          summary: 'Active bans and every ban since start',
          tags: ['admin'],
          security: ['adminToken'],
          responses: admin({ '200': jsonResponse('The bans.', bansView) }),
        },
        post: {
          operationId: 'banAddress',
          summary: 'Ban a client address now',
          tags: ['admin'],
          security: ['adminToken'],
          requestBody: { schema: banBody },
          responses: admin({ '201': jsonResponse('The ban.', banView), '400': invalid }),
        },
        delete: {
          operationId: 'liftAllBans',
          summary: 'Lift every active ban',
          tags: ['admin'],
          security: ['adminToken'],
          responses: admin({ '200': jsonResponse('How many were lifted.', liftedView) }),
        },
      },
      '/admin/bans/{ip}': {
        delete: {
          operationId: 'liftBan',
          summary: 'Lift the ban of one address',
          tags: ['admin'],
          security: ['adminToken'],
          parameters: [{ name: 'ip', in: 'path', description: 'The banned address.', schema: z.string() }],
          responses: admin({
            '200': jsonResponse('Lifted.', liftedView),
            '404': problemResponse('That address is not banned (`not-found`).'),
          }),
        },
      },
      '/admin/faults': {
        get: {
          operationId: 'getFaults',
          summary: 'The faults in force',
          tags: ['admin'],
          security: ['adminToken'],
          responses: admin({ '200': jsonResponse('The faults.', faultsView) }),
        },
        post: {
          operationId: 'setFaults',
          summary: 'Change some faults (members left out stay as they are)',
          tags: ['admin'],
          security: ['adminToken'],
          requestBody: { schema: faultsBody },
          responses: admin({ '200': jsonResponse('The faults now.', faultsView), '400': invalid }),
        },
        delete: {
          operationId: 'clearFaults',
          summary: 'Clear every fault',
          tags: ['admin'],
          security: ['adminToken'],
          responses: admin({ '200': jsonResponse('No faults.', faultsView) }),
        },
      },
      '/admin/clock': {
        get: {
          operationId: 'getClock',
          summary: "The boards' clock",
          tags: ['admin'],
          security: ['adminToken'],
          responses: admin({ '200': jsonResponse('The clock.', clockView) }),
        },
        put: {
          operationId: 'setClock',
          summary: "Shift the boards' clock",
          tags: ['admin'],
          security: ['adminToken'],
          requestBody: { schema: clockBody },
          responses: admin({ '200': jsonResponse('The clock now.', clockView), '400': invalid }),
        },
      },
    },
  });
}
