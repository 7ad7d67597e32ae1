import { z } from 'zod';

/**
 * An error answer of every Failway service: RFC 9457 problem+json with the request ID. Loose:
 * an error adds members of its own (`field` for a bad parameter, `retry_after_seconds` when
 * asking again later makes sense, `reason` and `banned_until` from a departures replica).
 */
export const problemSchema = z
  .looseObject({
    type: z
      .string()
      .regex(/^urn:failway:problem:[a-z0-9-]+$/)
      .meta({ description: 'Stable, machine-readable: `urn:failway:problem:<code>`.' }),
    title: z.string(),
    status: z.int().min(400).max(599),
    detail: z.string().meta({ description: 'What went wrong, in words; names the field for bad input.' }),
    instance: z.string().optional().meta({ description: 'The path of the request.' }),
    request_id: z
      .string()
      .nullable()
      .meta({ description: 'The X-Request-ID of the request: finds its log lines and trace.' }),
    field: z.string().optional().meta({ description: 'The parameter a 400 is about.' }),
    retry_after_seconds: z
      .number()
      .nonnegative()
      .optional()
      .meta({ description: 'When asking again makes sense (as Retry-After).' }),
  })
  .meta({ id: 'Problem' });
export type Problem = z.infer<typeof problemSchema>;
