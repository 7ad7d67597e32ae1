import { z } from 'zod';
import { stationSchema } from './catalog.ts';

/**
 * What departures and the gateway exchange, as one set of schemas both sides check against.
 *
 * Strict on what the platform relies on (the board's station, its list of trains and each train's
 * scheduled time, the answer's source, age and fetch time); permissive on everything else, which
 * passes through untouched (an LDBWS board carries far more than the platform reads).
 */

/** One train of a board: the page shows `std` (scheduled departure); the rest passes through. */
export const trainServiceSchema = z
  .looseObject({
    std: z.string().meta({ description: 'Scheduled departure, HH:MM.' }),
    etd: z.string().optional().meta({ description: '"On time", "HH:MM", "Delayed" or "Cancelled".' }),
  })
  .meta({ id: 'TrainService' });
export type TrainService = z.infer<typeof trainServiceSchema>;

/** An LDBWS station board (GetDepBoardWithDetails), as the rail API sends it and departures keeps it. */
export const stationBoardSchema = z
  .looseObject({
    generatedAt: z.string(),
    locationName: z.string(),
    crs: z.string().regex(/^[A-Z]{3}$/, 'must be a CRS code'),
    filtercrs: z.string().nullish(),
    /** null (or absent) when no train runs in the window, as the real API does. */
    trainServices: z.array(trainServiceSchema).nullish(),
  })
  .meta({ id: 'StationBoard', description: 'An LDBWS station board (GetDepBoardWithDetails).' });
export type StationBoard = z.infer<typeof stationBoardSchema>;

/** Why a replica served a stale board, or could not serve one. */
export const STALE_REASONS = ['banned', 'budget_exhausted', 'upstream_error'] as const;
export type StaleReason = (typeof STALE_REASONS)[number];

/** The 200 answer of `GET /departures/:crs` on a departures replica. */
export const departuresAnswerSchema = z
  .looseObject({
    board: stationBoardSchema,
    source: z.enum(['upstream', 'cache', 'stale']),
    ageSeconds: z.number().int().nonnegative(),
    fetchedAt: z.iso.datetime({ offset: true }),
    /** Why a stale board was served instead of a fresh one. */
    staleReason: z.enum(STALE_REASONS).optional(),
  })
  .meta({ id: 'ReplicaAnswer' });
export type DeparturesAnswer = z.infer<typeof departuresAnswerSchema>;

/**
 * The problem+json members of a departures 503 (no board and no way to get one now): the reason,
 * when asking again makes sense, and the ban's end when banned.
 */
export const boardUnavailableProblemSchema = z.looseObject({
  reason: z.enum(STALE_REASONS),
  retry_after_seconds: z.number().nonnegative(),
  banned_until: z.iso.datetime({ offset: true }).nullish(),
});
export type BoardUnavailableProblem = z.infer<typeof boardUnavailableProblemSchema>;

/** Why the gateway marks a board stale: a replica's reason, or its own last good board. */
export const GATEWAY_STALE_REASONS = [...STALE_REASONS, 'replicas_unavailable'] as const;

/**
 * The 200 answer of the gateway's `GET /api/departures`: the route's stations and a replica's
 * answer, with whether it is stale and which replica (or `gateway`) served it.
 */
export const gatewayDeparturesAnswerSchema = z
  .object({
    from: stationSchema,
    to: stationSchema,
    board: stationBoardSchema,
    source: departuresAnswerSchema.shape.source,
    ageSeconds: departuresAnswerSchema.shape.ageSeconds.meta({
      description: 'Seconds since the board was fetched from the rail data API (as the Age header).',
    }),
    fetchedAt: departuresAnswerSchema.shape.fetchedAt,
    staleReason: z.enum(GATEWAY_STALE_REASONS).optional(),
    stale: z.boolean(),
    servedBy: z.string().meta({
      description: 'The departures replica that answered, or `gateway` for its own last good board.',
    }),
  })
  .meta({ id: 'DeparturesAnswer' });
export type GatewayDeparturesAnswer = z.infer<typeof gatewayDeparturesAnswerSchema>;
