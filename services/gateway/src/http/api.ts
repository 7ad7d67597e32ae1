import {
  crsValue,
  distinctStations,
  type GatewayDeparturesAnswer,
  QueryError,
  rowsValue,
  singleValue,
} from '@failway/contract';
import { AppError, invalidParameter } from '@failway/telemetry';
import type { Express, RequestHandler } from 'express';
import { LRUCache } from 'lru-cache';
import type { ApiObserver } from '../adapters/observer.ts';
import type { CatalogSource, Station } from '../adapters/route-config.ts';
import { type GatewayAnswer, NoBoardError, type NoBoardReason } from '../domain/boards.ts';
import type { BoardQuery } from '../domain/replicas.ts';
import { gatewayOpenApi } from './openapi.ts';
import { clientRateLimit } from './rate-limit.ts';

/** "5 seconds", "a minute", "12 minutes": how long until asking again makes sense. */
function waitText(seconds: number): string {
  if (seconds < 60) return seconds <= 1 ? 'a second' : `${seconds} seconds`;
  const m = Math.ceil(seconds / 60);
  return m <= 1 ? 'a minute' : `${m} minutes`;
}

const NO_BOARD: Record<NoBoardReason, { code: string; why: string }> = {
  banned: {
    code: 'all-replicas-banned',
    why: 'The rail data API has banned every departures replica',
  },
  budget_exhausted: {
    code: 'upstream-budget-exhausted',
    why: 'Every departures replica that could answer has spent its rail data API call budget (calling more would get it banned)',
  },
  unavailable: { code: 'no-replica-available', why: 'No departures replica could answer' },
};

/** /api and every path below it, in any case (express's routes are not case-sensitive). */
const API_PATH = /^\/api(?:\/|$)/i;

/** The boards as the API needs them. */
export interface BoardsApi {
  getBoard(query: BoardQuery): Promise<GatewayAnswer | { rejected: { status: number; body: unknown } }>;
  /** Whether the gateway holds a board for the route (a route asked for before). */
  knows(query: Pick<BoardQuery, 'from' | 'to'>): boolean;
}

export interface ApiDeps {
  routes: CatalogSource;
  boards: BoardsApi;
  rateLimitPerMinute: number;
  /** Requests per client IP per minute for routes the gateway holds no board for. */
  newRoutesPerClientPerMinute: number;
  observer: ApiObserver;
}

interface ValidQuery {
  from: Station;
  to: Station;
  rows: number;
}

/**
 * A board answer's body, serialised once: it is a function of the route's stations, the rows and
 * the answer's fetch, source, server and age, which stay the same for every request in the same
 * second, so a busy route is serialised about once a second instead of once a request. One body
 * is kept per route and rows, for the most recently asked.
 */
function answerBodies(): (from: Station, to: Station, rows: number, answer: GatewayAnswer) => Buffer {
  const bodies = new LRUCache<string, { signature: string; body: Buffer }>({ max: 256 });
  return (from, to, rows, answer) => {
    const key = `${from.crs}>${to.crs}/${rows}`;
    const signature = [
      from.name,
      to.name,
      answer.fetchedAt,
      answer.source,
      answer.staleReason ?? '',
      answer.servedBy,
      answer.ageSeconds,
    ].join('\u0000');
    const kept = bodies.get(key);
    if (kept?.signature === signature) return kept.body;
    const body = Buffer.from(JSON.stringify({ from, to, ...answer } satisfies GatewayDeparturesAnswer));
    bodies.set(key, { signature, body });
    return body;
  };
}

/**
 * The document GET /openapi.json serves: built from the contract with the stations of the catalog
 * in use, again only when they change; without a catalog yet, the document without the list.
 */
function servedContract(routes: CatalogSource): () => Promise<Buffer> {
  let kept: { key: string; body: Buffer } | undefined;
  return async () => {
    let stations: string[] = [];
    try {
      stations = (await routes.catalog()).stations.map((s) => s.crs);
    } catch {
      // route-config not reached yet: the codes are described by their pattern instead.
    }
    const key = stations.join(',');
    if (kept?.key !== key) kept = { key, body: Buffer.from(JSON.stringify(gatewayOpenApi(stations))) };
    return kept.body;
  };
}

/** Answers 405 with Allow for a method the path does not serve (found by schemathesis: it was 404). */
function methodNotAllowed(allow: string): RequestHandler {
  return (req, _res, next) => {
    next(
      new AppError({
        status: 405,
        code: 'method-not-allowed',
        title: 'Method not allowed',
        detail: `${req.method} is not allowed on ${req.path}; use ${allow}`,
        headers: { Allow: allow },
      }),
    );
  };
}

/** The public JSON API under /api, rate limited per client IP, and its contract at /openapi.json. */
export function apiRoutes(app: Express, deps: ApiDeps): void {
  const bodyOf = answerBodies();
  const contract = servedContract(deps.routes);
  app.get('/openapi.json', async (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('application/json').send(await contract());
  });
  const apiLimit = clientRateLimit({
    limit: deps.rateLimitPerMinute,
    headers: true,
    onLimited: (_req, _res, next, retryAfter) => {
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
  });
  // Every path under /api, matched as express matches routes (any case); not mounted at /api,
  // which would make express cut the prefix off the URL and put it back for every request.
  app.use((req, res, next) => (API_PATH.test(req.path) ? apiLimit(req, res, next) : next()));

  app.get('/api/routes', async (_req, res) => {
    const catalog = await deps.routes.catalog();
    res.json({ defaultRoute: catalog.defaultRoute, routes: catalog.routes });
  });

  app.get('/api/stations', async (_req, res) => {
    res.json({ stations: (await deps.routes.catalog()).stations });
  });

  /** Checks the query (the contract's checks), then against the catalog; the valid one goes on in res.locals.query. */
  const validate: RequestHandler = async (req, res, next) => {
    let fromCrs: string;
    let toCrs: string;
    let rows: number;
    try {
      const fromRaw = singleValue(req.query, 'from');
      const toRaw = singleValue(req.query, 'to');
      const rowsRaw = singleValue(req.query, 'rows');
      if (!fromRaw)
        throw new QueryError('from', 'is required: the CRS code of the departure station, e.g. WHP');
      if (!toRaw)
        throw new QueryError('to', 'is required: the CRS code of the destination station, e.g. LTN');
      fromCrs = crsValue('from', fromRaw);
      toCrs = crsValue('to', toRaw, 'LTN');
      distinctStations(fromCrs, toCrs);
      rows = rowsValue(rowsRaw);
    } catch (error) {
      if (error instanceof QueryError) throw invalidParameter(error.field, error.detail);
      throw error;
    }
    const catalog = await deps.routes.catalog();
    const from = catalog.stations.find((s) => s.crs === fromCrs);
    const to = catalog.stations.find((s) => s.crs === toCrs);
    if (!from) throw invalidParameter('from', `${fromCrs} is not a station this service knows`);
    if (!to) throw invalidParameter('to', `${toCrs} is not a station this service knows`);
    res.locals.query = { from, to, rows } satisfies ValidQuery;
    next();
  };

  // A route the gateway holds no board for may cost the replicas upstream calls, which the rail
  // API rations (and bans for): one client scanning station pairs must not spend the fleet's
  // budget. Routes served before are free to ask for; only valid queries are counted.
  const newRouteLimit = clientRateLimit({
    limit: deps.newRoutesPerClientPerMinute,
    // The RateLimit headers stay those of the overall limit (the load tests read its policy).
    headers: false,
    onLimited: (_req, res, next, retryAfter) => {
      deps.observer.newRouteLimited();
      const query = res.locals.query as ValidQuery;
      next(
        new AppError({
          status: 429,
          code: 'new-routes-rate-limited',
          title: 'Too many new routes',
          detail:
            `more than ${deps.newRoutesPerClientPerMinute} new routes a minute from this address: ` +
            `${query.from.crs} to ${query.to.crs} is a route with no recent board, and every such board ` +
            'costs calls to the rail data API, which bans callers that call too often; routes asked for ' +
            `before are not limited; try again in ${retryAfter} s`,
          headers: { 'Retry-After': String(retryAfter) },
          extensions: { retry_after_seconds: retryAfter },
        }),
      );
    },
  });

  // Known routes skip the limiter altogether: nearly every request is for a known route.
  const limitNewRoutes: RequestHandler = (req, res, next) => {
    const query = res.locals.query as ValidQuery;
    if (deps.boards.knows({ from: query.from.crs, to: query.to.crs })) return next();
    return newRouteLimit(req, res, next);
  };

  app.get('/api/departures', validate, limitNewRoutes, async (_req, res) => {
    const { from, to, rows } = res.locals.query as ValidQuery;
    let answer: Awaited<ReturnType<BoardsApi['getBoard']>>;
    try {
      answer = await deps.boards.getBoard({ from: from.crs, to: to.crs, rows });
    } catch (error) {
      if (!(error instanceof NoBoardError)) throw error;
      const { code, why } = NO_BOARD[error.reason];
      throw new AppError({
        status: 503,
        code,
        title: 'Departures unavailable',
        detail: `${why} and no recent board is kept for this route; try again in ${waitText(error.retryAfterSeconds)}.`,
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
    res.type('application/json').send(bodyOf(from, to, rows, answer));
  });

  for (const path of ['/api/departures', '/api/routes', '/api/stations']) {
    app.all(path, methodNotAllowed('GET, HEAD'));
  }
}
