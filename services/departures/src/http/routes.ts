import { crsValue, distinctStations, QueryError, rowsValue, singleValue } from '@failway/contract';
import { AppError, invalidParameter } from '@failway/telemetry';
import type { Express, Request } from 'express';
import { type BoardAnswer, BoardUnavailableError, type DeparturesService } from '../domain/departures.ts';
import { departuresOpenApi } from './openapi.ts';

/**
 * The entity tag of an answer for one URL: which fetch of the board it is, where it came from and
 * why it is stale. Everything else in the answer but its age follows from those (the URL fixes
 * the station, destination and rows).
 */
export function boardTag(answer: Pick<BoardAnswer, 'fetchedAt' | 'source' | 'staleReason'>): string {
  const fetched = Date.parse(answer.fetchedAt).toString(36);
  return `"${fetched}-${answer.source}${answer.staleReason ? `-${answer.staleReason}` : ''}"`;
}

const UNAVAILABLE_DETAIL: Record<BoardUnavailableError['reason'], string> = {
  banned: 'The rail data API has banned this replica and no recent board is cached for this route.',
  budget_exhausted:
    'This replica has spent its upstream call budget and no recent board is cached for this route.',
  upstream_error: 'The rail data API did not answer usefully and no recent board is cached for this route.',
};

/** The query of `GET /departures/:crs`, by the contract's checks shared with the gateway. */
function boardQuery(req: Request): { crs: string; to: string | undefined; rows: number } {
  try {
    const crs = crsValue('crs', String(req.params.crs));
    const toRaw = singleValue(req.query, 'to');
    const to = toRaw === undefined || toRaw === '' ? undefined : crsValue('to', toRaw, 'LTN');
    distinctStations(crs, to);
    return { crs, to, rows: rowsValue(singleValue(req.query, 'rows')) };
  } catch (error) {
    if (error instanceof QueryError) throw invalidParameter(error.field, error.detail);
    throw error;
  }
}

export function departuresRoutes(app: Express, departures: DeparturesService): void {
  const contract = Buffer.from(JSON.stringify(departuresOpenApi()));
  app.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(contract);
  });
  app.get('/departures/:crs', async (req, res) => {
    const { crs, to, rows } = boardQuery(req);
    try {
      const answer = await departures.getBoard({ crs, to, rows });
      const etag = boardTag(answer);
      res.setHeader('Cache-Control', 'no-cache');
      res.setHeader('ETag', etag);
      res.setHeader('X-Board-Source', answer.source);
      res.setHeader('Age', String(answer.ageSeconds));
      if (answer.source === 'stale') res.setHeader('Warning', '110 - "Response is Stale"');
      // The gateway keeps the answer it was last sent for a URL and asks with its tag: the same
      // board (same fetch, source and stale reason) costs no body, no JSON and no parsing on
      // either side; the age it changes by comes in the Age header.
      if (req.headers['if-none-match'] === etag) {
        res.status(304).end();
        return;
      }
      res.json(answer);
    } catch (error) {
      if (!(error instanceof BoardUnavailableError)) throw error;
      throw new AppError({
        status: 503,
        code: `board-unavailable-${error.reason.replace('_', '-')}`,
        title: 'Board unavailable',
        detail: UNAVAILABLE_DETAIL[error.reason],
        headers: { 'Retry-After': String(error.retryAfterSeconds) },
        extensions: {
          reason: error.reason,
          retry_after_seconds: error.retryAfterSeconds,
          banned_until: error.bannedUntil ? new Date(error.bannedUntil).toISOString() : null,
        },
      });
    }
  });
}
