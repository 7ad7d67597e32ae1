import { AppError, invalidParameter } from '@failway/telemetry';
import type { Express, Request } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { RouteConfigClient } from '../adapters/route-config.ts';
import { type GatewayBoards, MAX_ROWS, NoBoardError } from '../domain/boards.ts';
import type { Replica } from '../domain/replicas.ts';

function single(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidParameter(name, 'must be given once, as a plain value');
  return value;
}

function minutes(seconds: number): string {
  const m = Math.ceil(seconds / 60);
  return m <= 1 ? 'a minute' : `${m} minutes`;
}

export interface ApiDeps {
  routes: RouteConfigClient;
  boards: GatewayBoards<Replica>;
  rateLimitPerMinute: number;
}

/** The public JSON API under /api, rate limited per client IP. */
export function apiRoutes(app: Express, deps: ApiDeps): void {
  app.use(
    '/api',
    rateLimit({
      windowMs: 60_000,
      limit: deps.rateLimitPerMinute,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      handler: (req, _res, next) => {
        const resetTime = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
        const retryAfter = Math.max(
          1,
          Math.ceil(((resetTime?.getTime() ?? Date.now() + 60_000) - Date.now()) / 1000),
        );
        next(
          new AppError({
            status: 429,
            code: 'rate-limited',
            title: 'Too many requests',
            detail: `more than ${deps.rateLimitPerMinute} requests a minute from this address; try again in ${retryAfter} s`,
            headers: { 'Retry-After': String(retryAfter) },
          }),
        );
      },
    }),
  );

  app.get('/api/routes', async (_req, res) => {
    const catalog = await deps.routes.catalog();
    res.json({ defaultRoute: catalog.defaultRoute, routes: catalog.routes });
  });

  app.get('/api/stations', async (_req, res) => {
    res.json({ stations: (await deps.routes.catalog()).stations });
  });

  app.get('/api/departures', async (req, res) => {
    const fromRaw = single(req, 'from');
    const toRaw = single(req, 'to');
    const rowsRaw = single(req, 'rows');
    if (!fromRaw)
      throw invalidParameter('from', 'is required: the CRS code of the departure station, e.g. WHP');
    if (!toRaw)
      throw invalidParameter('to', 'is required: the CRS code of the destination station, e.g. LTN');
    for (const [field, value] of [
      ['from', fromRaw],
      ['to', toRaw],
    ] as const) {
      if (!/^[A-Za-z]{3}$/.test(value))
        throw invalidParameter(field, `must be a 3-letter CRS station code, got "${value.slice(0, 20)}"`);
    }
    let rows = MAX_ROWS;
    if (rowsRaw !== undefined) {
      if (!/^\d{1,3}$/.test(rowsRaw) || Number(rowsRaw) < 1 || Number(rowsRaw) > MAX_ROWS) {
        throw invalidParameter('rows', `must be a whole number from 1 to ${MAX_ROWS}`);
      }
      rows = Number(rowsRaw);
    }
    const catalog = await deps.routes.catalog();
    const from = catalog.stations.find((s) => s.crs === fromRaw.toUpperCase());
    const to = catalog.stations.find((s) => s.crs === toRaw.toUpperCase());
    if (!from) throw invalidParameter('from', `${fromRaw.toUpperCase()} is not a station this service knows`);
    if (!to) throw invalidParameter('to', `${toRaw.toUpperCase()} is not a station this service knows`);
    if (from.crs === to.crs) throw invalidParameter('to', 'must differ from the departure station');

    let answer: Awaited<ReturnType<GatewayBoards<Replica>['getBoard']>>;
    try {
      answer = await deps.boards.getBoard({ from: from.crs, to: to.crs, rows });
    } catch (error) {
      if (!(error instanceof NoBoardError)) throw error;
      throw new AppError({
        status: 503,
        code: error.allBanned ? 'all-replicas-banned' : 'no-replica-available',
        title: 'Departures unavailable',
        detail: `${error.allBanned ? 'The rail data API has banned every departures replica' : 'No departures replica could answer'} and no recent board is kept for this route; try again in ${minutes(error.retryAfterSeconds)}.`,
        headers: { 'Retry-After': String(error.retryAfterSeconds) },
        extensions: { retry_after_seconds: error.retryAfterSeconds },
      });
    }
    if ('rejected' in answer) {
      res
        .status(answer.rejected.status)
        .type('application/problem+json')
        .send(JSON.stringify(answer.rejected.body));
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Board-Source', answer.source);
    res.setHeader('Age', String(answer.ageSeconds));
    if (answer.stale) res.setHeader('Warning', `110 - "Response is Stale" (${answer.ageSeconds} s old)`);
    res.json({ from, to, ...answer });
  });
}
