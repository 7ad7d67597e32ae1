import { AppError, invalidParameter } from '@failway/telemetry';
import type { Express, Request } from 'express';
import { MAX_ROWS } from '../config.ts';
import { type BoardAnswer, BoardUnavailableError, type DeparturesService } from '../domain/departures.ts';

const CRS = /^[A-Za-z]{3}$/;

/**
 * The entity tag of an answer for one URL: which fetch of the board it is, where it came from and
 * why it is stale. Everything else in the answer but its age follows from those (the URL fixes
 * the station, destination and rows).
 */
export function boardTag(answer: Pick<BoardAnswer, 'fetchedAt' | 'source' | 'staleReason'>): string {
  const fetched = Date.parse(answer.fetchedAt).toString(36);
  return `"${fetched}-${answer.source}${answer.staleReason ? `-${answer.staleReason}` : ''}"`;
}

function single(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidParameter(name, 'must be given once, as a plain value');
  return value;
}

function crsParam(name: string, value: string): string {
  if (!CRS.test(value))
    throw invalidParameter(
      name,
      `must be a 3-letter CRS station code such as WHP, got "${value.slice(0, 20)}"`,
    );
  return value.toUpperCase();
}

function rowsParam(value: string | undefined): number {
  if (value === undefined) return MAX_ROWS;
  if (!/^\d{1,3}$/.test(value) || Number(value) < 1 || Number(value) > MAX_ROWS) {
    throw invalidParameter('rows', `must be a whole number from 1 to ${MAX_ROWS}`);
  }
  return Number(value);
}

const UNAVAILABLE_DETAIL: Record<BoardUnavailableError['reason'], string> = {
  banned: 'The rail data API has banned this replica and no recent board is cached for this route.',
  budget_exhausted:
    'This replica has spent its upstream call budget and no recent board is cached for this route.',
  upstream_error: 'The rail data API did not answer usefully and no recent board is cached for this route.',
};

export function departuresRoutes(app: Express, departures: DeparturesService): void {
  app.get('/departures/:crs', async (req, res) => {
    const crs = crsParam('crs', String(req.params.crs));
    const toRaw = single(req, 'to');
    const to = toRaw === undefined || toRaw === '' ? undefined : crsParam('to', toRaw);
    if (to === crs) throw invalidParameter('to', 'must differ from the departure station');
    const rows = rowsParam(single(req, 'rows'));
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
