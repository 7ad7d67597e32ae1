import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import express, {
  type ErrorRequestHandler,
  type Express,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import { requestContext } from './context.ts';
import { AppError, problemType } from './errors.ts';
import type { Health } from './health.ts';
import { linkUntrustedParent } from './inbound.ts';
import type { Logger } from './logger.ts';
import { exemplarFor, render, type ServiceMetrics } from './metrics.ts';
import { REQUEST_ID_HEADER, resolveRequestId } from './request-id.ts';
import { isUnsampled, traceIdsOf } from './spans.ts';

export interface ServiceAppOptions {
  logger: Logger;
  metrics: ServiceMetrics;
  health: Health;
  /** Adds the service's own routes. */
  routes: (app: Express) => void;
  /**
   * Serve `GET /metrics` on this app (default true). False for a public app whose metrics are
   * served on a separate ops listener (the gateway's OPS_PORT): there `/metrics` is a plain 404.
   */
  metricsEndpoint?: boolean;
  /**
   * Headers set on every answer the service's own routes give (not on /healthz, /readyz or
   * /metrics), e.g. the gateway's Content-Security-Policy. Set with the request ID rather than by a
   * middleware of their own: every layer express walks costs each request.
   */
  responseHeaders?: Readonly<Record<string, string>>;
}

/** Largest accepted request line path + query; longer ones get 414 before any handler runs. */
export const MAX_URL_LENGTH = 2048;

/** The route template of a matched request (`/departures/:crs`), never the raw path. */
function routeTemplate(req: Request, res: Response): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof path === 'string') return `${req.baseUrl}${path}`;
  return typeof res.locals.route === 'string' ? res.locals.route : 'unmatched';
}

/**
 * Serves files with `express.static`, counted under one route label (`static`) rather than as
 * unmatched requests; a miss falls through to the 404 as usual.
 */
export function staticFiles(dir: string, options: Parameters<typeof express.static>[1] = {}): RequestHandler {
  const serveFiles = express.static(dir, options);
  return (req, res, next) => {
    res.locals.route = 'static';
    serveFiles(req, res, (err?: unknown) => {
      delete res.locals.route;
      next(err);
    });
  };
}

/**
 * Builds an express app with the platform's HTTP conventions: `/healthz`, `/readyz`, `/metrics`
 * (not traced, not logged, not counted), then for every other request a request ID (accepted or
 * made, echoed, put in the request context and on the server span), one access log line and the
 * RED histogram with a trace_id exemplar; unknown routes and errors answer problem+json.
 */
export function createServiceApp(options: ServiceAppOptions): Express {
  const { logger, metrics, health } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const state = health.readiness();
    if (state.ready) res.json({ status: 'ready' });
    else res.status(503).json(state);
  });
  if (options.metricsEndpoint ?? true) {
    app.get('/metrics', async (req, res) => {
      const out = await render(metrics.registry, req.get('accept'));
      res.type(out.contentType).send(out.body);
    });
  }

  app.use(observe(logger, metrics, Object.entries(options.responseHeaders ?? {})));
  options.routes(app);
  app.use((req, _res, next) => {
    next(
      new AppError({
        status: 404,
        code: 'not-found',
        title: 'Not found',
        detail: `no route for ${req.method} ${req.path}`,
      }),
    );
  });
  app.use(problemHandler(logger));
  return app;
}

/** Methods of RFC 9110 and PATCH (RFC 5789): the values the `method` metric label may take. */
const STANDARD_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);

/**
 * The `method` label: a standard method as is, anything else (PROPFIND, MKCOL, … which Node's
 * parser accepts) as `other`, so clients cannot add series by inventing requests. The access log
 * keeps the real method: a log line costs no series, and the method says what a scanner tried.
 */
export function methodLabel(method: string): string {
  return STANDARD_METHODS.has(method) ? method : 'other';
}

const tracer = trace.getTracer('@failway/telemetry/http');

/**
 * The server span of a request, per the HTTP semantic conventions: the caller's trace context is
 * extracted from the headers (at the edge the propagator keeps a client's aside, and the span
 * gets a link to it instead, inbound.ts), the sampler decides, and the span is named by the route
 * template when the answer is done (`GET /departures/:crs`).
 *
 * Made here rather than by @opentelemetry/instrumentation-http: the bench showed that
 * instrumentation cost the gateway about 80 % of what telemetry costs per request, sampled or not
 * (attribute extraction, emitter binding, metric attributes for a meter we do not use), where this
 * middleware already has the route, status and timing (docs/performance.md).
 */
function startServerSpan(req: Request, requestId: string) {
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  // The caller's trace is not sampled: no span of ours would be recorded (the sampler follows the
  // caller), so the caller's context stands in for it (see unsampledActiveSpan).
  const caller = trace.getSpanContext(parent);
  if (isUnsampled(caller)) return { span: trace.wrapSpanContext(caller), context: parent };
  const span = tracer.startSpan(req.method, { kind: SpanKind.SERVER }, parent);
  // Attributes only for a span that is recorded: most requests under load are not sampled.
  if (span.isRecording()) {
    span.setAttributes({
      'http.request.method': methodLabel(req.method) === 'other' ? '_OTHER' : req.method,
      'url.path': req.path,
      'url.scheme': 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http',
      'network.peer.address': req.socket.remoteAddress ?? '',
      'request.id': requestId,
      ...(req.headers['user-agent'] ? { 'user_agent.original': req.headers['user-agent'] } : {}),
    });
    linkUntrustedParent(span, parent);
  }
  return { span, context: trace.setSpan(parent, span) };
}

/** The 414 for a request target longer than MAX_URL_LENGTH, before any route runs; else undefined. */
function uriTooLong(req: Request): AppError | undefined {
  if (req.originalUrl.length <= MAX_URL_LENGTH) return undefined;
  return new AppError({
    status: 414,
    code: 'uri-too-long',
    title: 'URI too long',
    detail: `the request target is ${req.originalUrl.length} characters; at most ${MAX_URL_LENGTH} are accepted`,
  });
}

/**
 * The middleware every request of the service's own routes goes through first: request ID, server
 * span, the fixed response headers, then (when the answer is done) the RED histogram and the access
 * log line; a request target that is too long goes on to the problem handler as a 414.
 */
function observe(
  logger: Logger,
  metrics: ServiceMetrics,
  responseHeaders: readonly [string, string][],
): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const requestId = resolveRequestId(req.headers[REQUEST_ID_HEADER]);
    res.setHeader('X-Request-ID', requestId);
    for (const [name, value] of responseHeaders) res.setHeader(name, value);
    const server = startServerSpan(req, requestId);
    const ids = traceIdsOf(server.span);
    // Lets a person (or the board page) look the request up in the tracing UI.
    if (ids.trace_id) res.setHeader('X-Trace-ID', ids.trace_id);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // A client that hangs up before the answer is written gets nginx's 499 in the figures.
      const status = res.writableFinished ? res.statusCode : 499;
      const route = routeTemplate(req, res);
      if (server.span.isRecording()) {
        if (route !== 'unmatched') {
          server.span.setAttribute('http.route', route);
          server.span.updateName(`${req.method} ${route}`);
        }
        server.span.setAttribute('http.response.status_code', status);
        if (status >= 500) {
          server.span.setStatus({ code: SpanStatusCode.ERROR });
          server.span.setAttribute('error.type', String(status));
        }
      }
      server.span.end();
      metrics.httpServerDuration.observe({
        labels: { method: methodLabel(req.method), route, status_code: String(status) },
        value: seconds,
        exemplarLabels: exemplarFor(ids.trace_id),
      });
      const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info';
      logger.log(level, 'request completed', {
        request_id: requestId,
        trace_id: ids.trace_id,
        span_id: ids.span_id,
        method: req.method,
        route,
        path: req.path,
        status,
        duration_ms: Math.round(seconds * 10_000) / 10,
      });
    };
    res.on('finish', finish);
    res.on('close', finish);
    const error = uriTooLong(req);
    context.with(server.context, () => requestContext.run({ requestId }, () => next(error)));
  };
}

/**
 * The one error handler: AppError and express/body-parser 4xx errors become their problem+json,
 * anything else a 500 whose details only reach the log.
 */
export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const requestId = String(res.getHeader('X-Request-ID') ?? '') || null;
    let status = 500;
    let code = 'internal';
    let title = 'Internal Server Error';
    let detail = 'The server could not complete the request; the request ID finds it in the logs.';
    let extensions: Record<string, unknown> = {};
    if (err instanceof AppError) {
      ({ status, code, title, detail } = err);
      extensions = err.extensions;
      for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
    } else {
      const e = err as { status?: unknown; statusCode?: unknown; expose?: unknown; message?: unknown };
      const s = Number(e.status ?? e.statusCode);
      if (s >= 400 && s < 500) {
        status = s;
        code = 'bad-request';
        title = 'Bad request';
        detail = e.expose === true && typeof e.message === 'string' ? e.message : 'The request is malformed.';
      }
    }
    // An AppError is an answer the service chose; a 4xx from express or a body parser is the
    // client's mistake (a warning, without a stack: clients could otherwise fill the error logs);
    // only unexpected failures are errors with their stack.
    if (!(err instanceof AppError)) {
      if (status < 500) {
        logger.warn('request rejected', {
          path: req.path,
          status,
          error: String((err as { message?: unknown }).message ?? err),
        });
      } else {
        logger.error('request failed', { err, path: req.path });
      }
    }
    res
      .status(status)
      .type('application/problem+json')
      .send(
        JSON.stringify({
          type: problemType(code),
          title,
          status,
          detail,
          instance: req.path,
          request_id: requestId,
          ...extensions,
        }),
      );
  };
}
