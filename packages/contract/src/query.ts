import { z } from 'zod';

/**
 * The query checks of the departures endpoints, shared by the gateway (`/api/departures`) and the
 * replicas (`/departures/:crs`) so both accept and refuse exactly the same input, with the same
 * words. Free of any HTTP framework: a failed check throws a `QueryError` naming the field, which
 * each service turns into its problem+json 400.
 */

/** The most rows an answer carries; also what the gateway asks every replica for. */
export const MAX_ROWS = 10;

/** A station code as a client may write it: three letters, either case. */
export const crsParamSchema = z
  .string()
  .regex(/^[A-Za-z]{3}$/)
  .meta({ description: 'CRS code of a station, either case.', examples: ['WHP'] });

/** How many trains, as a client writes it (decimal digits only: no sign, no exponent). */
export const rowsParamSchema = z
  .int()
  .min(1)
  .max(MAX_ROWS)
  .meta({ description: `How many trains to list, 1 to ${MAX_ROWS}; ${MAX_ROWS} when absent.` });

/** A query parameter that failed its check; `detail` says why in words a client can act on. */
export class QueryError extends Error {
  readonly field: string;
  readonly detail: string;

  constructor(field: string, detail: string) {
    super(`${field}: ${detail}`);
    this.name = 'QueryError';
    this.field = field;
    this.detail = detail;
  }
}

/** A parsed query string: a name given twice (or with brackets) is not a string. */
export type RawQuery = Record<string, unknown>;

/** The one value of `name`, or undefined when absent; a repeated or structured value is refused. */
export function singleValue(query: RawQuery, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new QueryError(name, 'must be given once, as a plain value');
  return value;
}

/** A CRS code from the query or path, upper-cased. */
export function crsValue(field: string, value: string, example = 'WHP'): string {
  if (!crsParamSchema.safeParse(value).success)
    throw new QueryError(
      field,
      `must be a 3-letter CRS station code such as ${example}, got "${value.slice(0, 20)}"`,
    );
  return value.toUpperCase();
}

/** `rows` from the query; MAX_ROWS when absent. */
export function rowsValue(value: string | undefined): number {
  if (value === undefined) return MAX_ROWS;
  const rows = /^\d{1,3}$/.test(value) ? rowsParamSchema.safeParse(Number(value)) : undefined;
  if (!rows?.success) throw new QueryError('rows', `must be a whole number from 1 to ${MAX_ROWS}`);
  return rows.data;
}

/** The departure and destination stations of a departures query: the destination must differ. */
export function distinctStations(from: string, to: string | undefined): void {
  if (to !== undefined && from === to) throw new QueryError('to', 'must differ from the departure station');
}
