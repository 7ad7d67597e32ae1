import { timingSafeEqual } from 'node:crypto';
import type { Logger } from '@failway/telemetry';
import type { Express, Request, Response } from 'express';
import type { Ban, BanStyle, RateLimiter } from '../domain/bans.ts';
import { buildBoard, emptyBoard } from '../domain/board.ts';
import type { Faults } from '../domain/faults.ts';
import type { RailSimMetrics } from './metrics.ts';

export interface LdbwsDeps {
  apiKeys: readonly string[];
  limiter: RateLimiter;
  faults: () => Faults;
  defaultBanStyle: BanStyle;
  seed: string;
  /** Shift of the boards' clock against the real one, now (the admin API can move it). */
  timeOffsetMs?: () => number;
  latency: { minMs: number; maxMs: number };
  metrics: RailSimMetrics;
  logger: Logger;
  clock?: () => number;
}

/** The client address as the simulator sees it (IPv4-mapped IPv6 folded to IPv4). */
export function clientIp(req: Request): string {
  const address = req.socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

function keyMatches(given: string, keys: readonly string[]): boolean {
  const a = Buffer.from(given);
  return keys.some((k) => {
    const b = Buffer.from(k);
    return a.length === b.length && timingSafeEqual(a, b);
  });
}

// The real API answers errors as {"message": …}, not problem+json; rail-sim mirrors it.
function apiError(res: Response, status: number, message: string): void {
  res.status(status).json({ message });
}

function intParam(req: Request, name: string, fallback: number, min: number, max: number): number | string {
  const raw = req.query[name];
  if (raw === undefined || raw === '') return fallback;
  if (typeof raw !== 'string' || !/^-?\d{1,4}$/.test(raw)) return `${name} must be a whole number`;
  const n = Number(raw);
  return n < min || n > max ? `${name} must be between ${min} and ${max}` : n;
}

function sendBan(
  res: Response,
  ban: Ban,
  style: BanStyle,
  crs: string,
  now: number,
  boardOffsetMs: number,
): void {
  const retryAfter = Math.max(1, Math.ceil((ban.until - now) / 1000));
  const bannedUntil = new Date(ban.until).toISOString();
  switch (style) {
    case '429':
      res
        .status(429)
        .set({ 'Retry-After': String(retryAfter), 'X-Ban-Expires': bannedUntil })
        .json({ error: 'ip_banned', retryAfterSeconds: retryAfter, bannedUntil });
      return;
    case '403':
      res
        .status(403)
        .type('html')
        .send(
          '<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body><h1>Access Denied</h1>' +
            '<p>Your IP address has been blocked because of excessive requests.</p></body></html>',
        );
      return;
    case '503':
      res.status(503).set('Retry-After', String(retryAfter)).type('text').send('Service Unavailable');
      return;
    case 'silent':
      res.json(emptyBoard(crs, new Date(now + boardOffsetMs)));
      return;
  }
}

/**
 * GET /LDBWS/api/20220120/GetDepBoardWithDetails/:crs, as the Rail Data Marketplace serves it:
 * API key first, then the per-IP limit (over it: banned, answered in the configured style), then
 * realistic latency, injected faults, and the board.
 */
export function ldbwsRoutes(app: Express, deps: LdbwsDeps): void {
  const clock = deps.clock ?? Date.now;
  app.get('/LDBWS/api/20220120/GetDepBoardWithDetails/:crs', async (req, res) => {
    const key = req.get('x-apikey');
    if (!key || !keyMatches(key, deps.apiKeys)) {
      deps.metrics.requests.inc({ outcome: 'unauthorized' });
      apiError(res, 401, 'Authorization has been denied for this request.');
      return;
    }
    const ip = clientIp(req);
    const faults = deps.faults();
    const style = faults.banStyle ?? deps.defaultBanStyle;
    const crs = String(req.params.crs).toUpperCase();
    const admission = deps.limiter.admit(ip, clock());
    if (!admission.admitted) {
      if (admission.newBan) {
        deps.metrics.bansStarted.inc({ reason: 'limit' });
        deps.logger.warn('client IP banned for exceeding the request limit', {
          client_ip: ip,
          banned_until: new Date(admission.ban.until).toISOString(),
          ban_style: style,
        });
      }
      deps.metrics.requests.inc({ outcome: 'banned' });
      sendBan(res, admission.ban, style, crs, clock(), deps.timeOffsetMs?.() ?? 0);
      return;
    }
    const numRows = intParam(req, 'numRows', 10, 0, 150);
    const timeOffset = intParam(req, 'timeOffset', 0, -120, 119);
    const timeWindow = intParam(req, 'timeWindow', 120, -120, 120);
    const filterType = req.query.filterType ?? 'to';
    for (const p of [numRows, timeOffset, timeWindow]) {
      if (typeof p === 'string') {
        deps.metrics.requests.inc({ outcome: 'bad_request' });
        apiError(res, 400, p);
        return;
      }
    }
    if (filterType !== 'to' && filterType !== 'from') {
      deps.metrics.requests.inc({ outcome: 'bad_request' });
      apiError(res, 400, 'filterType must be "to" or "from"');
      return;
    }
    const { minMs, maxMs } = deps.latency;
    await new Promise((r) => setTimeout(r, minMs + Math.random() * (maxMs - minMs) + faults.latencyMs));
    if (faults.errorRate > 0 && Math.random() < faults.errorRate) {
      deps.metrics.requests.inc({ outcome: 'fault' });
      apiError(res, 500, 'Unexpected server error');
      return;
    }
    const filterCrs =
      typeof req.query.filterCrs === 'string' && req.query.filterCrs !== ''
        ? req.query.filterCrs.toUpperCase()
        : undefined;
    const board = buildBoard({
      crs,
      numRows: Math.min(numRows as number, 10),
      filterCrs,
      filterType,
      timeOffset: timeOffset as number,
      timeWindow: timeWindow as number,
      now: new Date(clock() + (deps.timeOffsetMs?.() ?? 0)),
      seed: deps.seed,
      disruption: faults.disruption,
    });
    if (!board) {
      // The real API answers an unknown CRS with a bare 500.
      deps.metrics.requests.inc({ outcome: 'unknown_crs' });
      apiError(res, 500, 'Unexpected server error');
      return;
    }
    deps.metrics.requests.inc({ outcome: 'ok' });
    res.json(board);
  });
}
