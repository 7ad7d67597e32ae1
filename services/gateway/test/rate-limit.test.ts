import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler } from 'express';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { afterEach, describe, expect, it } from 'vitest';
import { type ClientRateLimitOptions, clientKey, clientRateLimit } from '../src/http/rate-limit.ts';

describe('clientKey', () => {
  it.each([
    ['an IPv4 address', '127.0.0.9', '127.0.0.9'],
    ['an IPv4-mapped IPv6 address', '::ffff:127.0.0.9', '127.0.0.9'],
    ['an IPv6 address, by its /56', '2001:db8:1234:5678:9abc::1', '2001:db8:1234:5600::/56'],
    ['another address in the same /56', '2001:db8:1234:56ff:1::2', '2001:db8:1234:5600::/56'],
    ['an address in the next /56', '2001:db8:1234:5700::1', '2001:db8:1234:5700::/56'],
    ['no address (a closed socket)', undefined, 'unknown'],
  ])('when the client is %s, then it is counted as %s', (_what, ip, key) => {
    expect(clientKey(ip)).toBe(key);
  });
});

// The middleware in a real express app on loopback; each request comes from 127.0.0.1.
let server: Server | undefined;
afterEach(async () => {
  const running = server;
  server = undefined;
  if (running) await new Promise((resolve) => running.close(resolve));
});

async function start(options: Partial<ClientRateLimitOptions>): Promise<string> {
  const app = express();
  app.use(
    clientRateLimit({
      limit: 2,
      headers: true,
      onLimited: (_req, res, _next, retryAfter) => {
        res.status(429).set('Retry-After', String(retryAfter)).send('limited');
      },
      ...options,
    }),
  );
  app.get('/', (_req, res) => {
    res.send('ok');
  });
  const onError: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
    res.status(500).send(String((err as Error).message));
  };
  app.use(onError);
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server?.once('listening', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

describe('clientRateLimit', () => {
  it('when a client goes over its limit, then it is refused with the seconds until its window ends, and the draft-8 fields count down', async () => {
    const url = await start({});
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await fetch(url));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(answers.map((r) => r.headers.get('ratelimit'))).toEqual([
      expect.stringMatching(/^"2-in-1min"; r=1; t=(60|59)$/),
      expect.stringMatching(/^"2-in-1min"; r=0; t=(60|59)$/),
      expect.stringMatching(/^"2-in-1min"; r=0; t=(60|59)$/),
    ]);
    const retryAfter = Number(answers[2]?.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(59);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // The policy names the client's bucket by a hash, the same on every answer, never by its address.
    const policies = new Set(answers.map((r) => r.headers.get('ratelimit-policy')));
    expect(policies.size).toBe(1);
    const [policy] = policies;
    expect(policy).toMatch(/^"2-in-1min"; q=2; w=60; pk=:[A-Za-z0-9+/=]{16}:$/);
    expect(policy).not.toContain('127.0.0.1');
  });

  it('when headers are off, then the answers carry no RateLimit fields, and the limit still holds', async () => {
    const url = await start({ headers: false, limit: 1 });
    const first = await fetch(url);
    const second = await fetch(url);
    expect([first.status, second.status]).toEqual([200, 429]);
    expect(first.headers.get('ratelimit')).toBeNull();
    expect(first.headers.get('ratelimit-policy')).toBeNull();
  });

  it('when the limiter given fails (its store down), then the request fails with its error instead of going through', async () => {
    const broken = new RateLimiterMemory({ points: 2, duration: 60 });
    broken.consume = () => Promise.reject(new Error('store unreachable'));
    const url = await start({ limiter: broken });
    const res = await fetch(url);
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('store unreachable');
  });
});
