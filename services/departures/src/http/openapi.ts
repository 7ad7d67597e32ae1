import {
  boardUnavailableProblemSchema,
  crsParamSchema,
  departuresAnswerSchema,
  MAX_ROWS,
  problemSchema,
  rowsParamSchema,
} from '@failway/contract';
import { jsonResponse, openApiDocument, problemResponse, retryAfterHeader } from '@failway/contract/openapi';
import { z } from 'zod';

const boardUnavailable = problemSchema
  .extend(boardUnavailableProblemSchema.shape)
  .meta({ id: 'BoardUnavailableProblem' });

/** A departures replica's API as OpenAPI 3.1 (internal: only the gateway calls it). */
export function departuresOpenApi(): Record<string, unknown> {
  return openApiDocument({
    title: 'Failway departures (internal)',
    description:
      'One departures replica: boards from its cache, or from the rail data API within its call budget, ' +
      'stale when the API bans it. Only the gateway calls it.',
    paths: {
      '/departures/{crs}': {
        get: {
          operationId: 'getBoard',
          summary: "A station's board, optionally only trains calling at `to`",
          parameters: [
            { name: 'crs', in: 'path', description: 'The departure station.', schema: crsParamSchema },
            {
              name: 'to',
              in: 'query',
              description: 'Only trains calling at this station; must differ from `crs`.',
              schema: crsParamSchema,
            },
            {
              name: 'rows',
              in: 'query',
              description: `How many trains, 1 to ${MAX_ROWS} (default ${MAX_ROWS}).`,
              schema: rowsParamSchema,
            },
            {
              name: 'If-None-Match',
              in: 'header',
              description: 'The ETag of the answer the caller holds: the same board answers 304.',
              schema: z.string(),
            },
          ],
          responses: {
            '200': jsonResponse('The board.', departuresAnswerSchema, {
              ETag: { description: 'Which fetch of the board this is.', schema: z.string(), required: true },
              'Cache-Control': {
                description: 'Always `no-cache`.',
                schema: z.literal('no-cache'),
                required: true,
              },
              'X-Board-Source': {
                description: 'As `source`.',
                schema: departuresAnswerSchema.shape.source,
                required: true,
              },
              Age: { description: 'As `ageSeconds`.', schema: z.string().regex(/^\d+$/), required: true },
              Warning: { description: 'When `source` is `stale`.', schema: z.string() },
            }),
            '304': {
              description: 'The caller holds this board already (If-None-Match); its age is in Age.',
              headers: {
                ETag: { description: 'As sent.', schema: z.string(), required: true },
                Age: { description: 'As `ageSeconds`.', schema: z.string().regex(/^\d+$/), required: true },
              },
            },
            '400': problemResponse('A parameter is invalid (`invalid-parameter`); `field` names it.'),
            '414': problemResponse('The request target is longer than 2048 characters.'),
            '503': {
              ...problemResponse(
                'No board now and none cached (`board-unavailable-<reason>`): banned, out of budget, or the ' +
                  'rail data API failed.',
                retryAfterHeader,
              ),
              schema: boardUnavailable,
            },
          },
        },
      },
    },
  });
}
