import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Request, RequestHandler, Response } from 'express';
import { Address6 } from 'ip-address';
import { LRUCache } from 'lru-cache';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

/** The limits' window: a client's count starts with its first request and lasts a minute. */
export const WINDOW_S = 60;

/**
 * The client a limit counts: its address as express sees it (TRUST_PROXY decides whether that is
 * the peer or the forwarded one); an IPv6 address by its /56, which one site or subscriber is
 * given, so stepping through a prefix does not make new clients; an IPv4-mapped one as IPv4.
 */
export function clientKey(ip: string | undefined): string {
  if (!ip) return 'unknown';
  if (!isIPv6(ip)) return ip;
  const address = new Address6(ip);
  if (address.isMapped4()) return address.to4().correctForm();
  return new Address6(`${ip}/56`).networkForm();
}

export interface ClientRateLimitOptions {
  /** Requests per client per minute. */
  limit: number;
  /**
   * Whether answers carry the IETF draft-8 `RateLimit` and `RateLimit-Policy` headers (the load
   * tests read the policy's `q=`). One limit per response should: the others set false.
   */
  headers: boolean;
  /**
   * Where the counts are kept: by default this process's memory (RateLimiterMemory with `limit`
   * points per WINDOW_S). Any rate-limiter-flexible limiter with the same points and duration
   * will do, e.g. RateLimiterRedis to share the counts between gateway replicas
   * (docs/security.md). A limiter that fails (its store down) fails the request with a 500.
   */
  limiter?: RateLimiterAbstract;
  /** Called instead of going on when the client is over its limit, with the seconds until its window ends. */
  onLimited: (
    req: Request,
    res: Response,
    next: (error?: unknown) => void,
    retryAfterSeconds: number,
  ) => void;
}

/**
 * A per-client fixed-window limit (rate-limiter-flexible, in memory unless given another limiter),
 * as an express middleware.
 *
 * Replaced express-rate-limit, whose middleware awaits five times, logs through `debug` and hashes
 * the client's key for the policy header on every request: about 7 % of the gateway's CPU per
 * request in the bench (docs/performance.md, profile 15). Here a request costs one promise, and
 * each client's policy field is kept, hash included.
 */
export function clientRateLimit(options: ClientRateLimitOptions): RequestHandler {
  const limiter = options.limiter ?? new RateLimiterMemory({ points: options.limit, duration: WINDOW_S });
  const name = `"${options.limit}-in-1min"`;
  const policies = new LRUCache<string, string>({ max: 4096 });
  const policyOf = (key: string): string => {
    let policy = policies.get(key);
    if (policy === undefined) {
      // The partition key names the client's bucket without giving its address away.
      const digest = createHash('sha256').update(key).digest('hex').slice(0, 12);
      policy = `${name}; q=${options.limit}; w=${WINDOW_S}; pk=:${Buffer.from(digest).toString('base64')}:`;
      policies.set(key, policy);
    }
    return policy;
  };
  const setHeaders = (res: Response, key: string, state: RateLimiterRes): void => {
    if (!options.headers || res.headersSent) return;
    const reset = Math.max(0, Math.ceil(state.msBeforeNext / 1000));
    res.setHeader('RateLimit', `${name}; r=${state.remainingPoints}; t=${reset}`);
    res.setHeader('RateLimit-Policy', policyOf(key));
  };
  return (req, res, next) => {
    const key = clientKey(req.ip);
    limiter.consume(key).then(
      (state) => {
        setHeaders(res, key, state);
        next();
      },
      (rejection: unknown) => {
        // The limiter rejects with its state when the client is over; anything else is a fault.
        if (!(rejection instanceof RateLimiterRes)) return next(rejection);
        setHeaders(res, key, rejection);
        options.onLimited(req, res, next, Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
      },
    );
  };
}
