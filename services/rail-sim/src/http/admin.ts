import { AppError, bearerAuth, invalidParameter, type Logger, notFound } from '@failway/telemetry';
import express, { type Express } from 'express';
import type { z } from 'zod';
import type { Ban, RateLimiter } from '../domain/bans.ts';
import { type Faults, NO_FAULTS } from '../domain/faults.ts';
import { banBody, type banView, clockBody, faultsBody } from './admin-api.ts';
import type { RailSimMetrics } from './metrics.ts';

export interface AdminDeps {
  token: string;
  limiter: RateLimiter;
  faults: { get(): Faults; set(f: Faults): void };
  /** The shift of the boards' clock (SIM_TIME_OFFSET_MIN at start), moved by PUT /admin/clock. */
  simClock: {
    offsetMinutes(): number;
    setOffsetMinutes(minutes: number): void;
    configuredOffsetMinutes: number;
  };
  defaultBanSeconds: number;
  metrics: RailSimMetrics;
  logger: Logger;
  clock?: () => number;
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  // express.json leaves no body when there is none or it is not sent as JSON: that is an error,
  // not an empty change (found by schemathesis: POST /admin/faults without a body answered 200).
  if (body === undefined)
    throw invalidParameter('body', 'is required: a JSON object, sent with Content-Type: application/json');
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw invalidParameter(issue?.path.join('.') || 'body', issue?.message ?? 'invalid');
  }
  return result.data;
}

const view = (ban: Ban & { liftedAt?: number | null }): z.infer<typeof banView> => ({
  ip: ban.ip,
  reason: ban.reason,
  since: new Date(ban.since).toISOString(),
  until: new Date(ban.until).toISOString(),
  ...(ban.liftedAt !== undefined
    ? { liftedAt: ban.liftedAt === null ? null : new Date(ban.liftedAt).toISOString() }
    : {}),
});

/** Fault injection: bans and faults on demand, behind a bearer token. */
export function adminRoutes(app: Express, deps: AdminDeps): void {
  const clock = deps.clock ?? Date.now;
  const router = express.Router();
  router.use(bearerAuth(deps.token, 'rail-sim admin'));
  router.use(express.json({ limit: '4kb' }));

  router.get('/bans', (_req, res) => {
    const now = clock();
    res.json({ active: deps.limiter.active(now).map(view), history: deps.limiter.history().map(view) });
  });
  router.post('/bans', (req, res) => {
    const body = parseBody(banBody, req.body);
    const ip = body.ip.startsWith('::ffff:') ? body.ip.slice(7) : body.ip;
    const ban = deps.limiter.ban(ip, body.seconds ?? deps.defaultBanSeconds, 'admin', clock());
    deps.metrics.bansStarted.inc({ reason: 'admin' });
    deps.logger.warn('client IP banned by an operator', {
      client_ip: ip,
      banned_until: new Date(ban.until).toISOString(),
    });
    res.status(201).json(view(ban));
  });
  router.delete('/bans', (_req, res) => {
    const lifted = deps.limiter.liftAll(clock());
    deps.logger.info('all bans lifted by an operator', { lifted });
    res.json({ lifted });
  });
  router.delete('/bans/:ip', (req, res) => {
    // Folded like POST /bans does, so a ban can be lifted by the address it was made with.
    const raw = String(req.params.ip);
    const ip = raw.startsWith('::ffff:') ? raw.slice(7) : raw;
    if (!deps.limiter.lift(ip, clock())) throw notFound(`${ip} is not banned`);
    deps.logger.info('ban lifted by an operator', { client_ip: ip });
    res.json({ lifted: 1 });
  });
  router.get('/faults', (_req, res) => {
    res.json(deps.faults.get());
  });
  router.post('/faults', (req, res) => {
    const body = parseBody(faultsBody, req.body);
    const next: Faults = { ...deps.faults.get() };
    if (body.latencyMs !== undefined) next.latencyMs = body.latencyMs;
    if (body.errorRate !== undefined) next.errorRate = body.errorRate;
    if (body.banStyle !== undefined) next.banStyle = body.banStyle;
    if (body.disruption !== undefined) next.disruption = body.disruption;
    deps.faults.set(next);
    deps.logger.warn('faults injected', { faults: next });
    res.json(next);
  });
  router.delete('/faults', (_req, res) => {
    deps.faults.set(NO_FAULTS);
    deps.logger.info('faults cleared');
    res.json(NO_FAULTS);
  });
  // The boards' clock: its shift and the time boards are generated at (bans keep the real clock).
  const clockView = () => {
    const offsetMinutes = deps.simClock.offsetMinutes();
    return {
      offsetMinutes,
      configuredOffsetMinutes: deps.simClock.configuredOffsetMinutes,
      simulatedNow: new Date(clock() + offsetMinutes * 60_000).toISOString(),
    };
  };
  router.get('/clock', (_req, res) => {
    res.json(clockView());
  });
  router.put('/clock', (req, res) => {
    const body = parseBody(clockBody, req.body);
    const previous = deps.simClock.offsetMinutes();
    deps.simClock.setOffsetMinutes(body.offsetMinutes);
    const view = clockView();
    deps.logger.warn('simulated clock moved', {
      previous_offset_minutes: previous,
      offset_minutes: view.offsetMinutes,
      simulated_now: view.simulatedNow,
    });
    res.json(view);
  });
  // Other methods on these paths answer 405 with Allow rather than 404 (found by schemathesis).
  for (const [path, allow] of [
    ['/bans', 'GET, HEAD, POST, DELETE'],
    ['/bans/:ip', 'DELETE'],
    ['/faults', 'GET, HEAD, POST, DELETE'],
    ['/clock', 'GET, HEAD, PUT'],
  ] as const) {
    router.all(path, (req, _res, next) => {
      next(
        new AppError({
          status: 405,
          code: 'method-not-allowed',
          title: 'Method not allowed',
          detail: `${req.method} is not allowed on /admin${req.path}; use ${allow}`,
          headers: { Allow: allow },
        }),
      );
    });
  }
  app.use('/admin', router);
}
