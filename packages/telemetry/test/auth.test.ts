import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerAuth } from '../src/auth.ts';
import { problemHandler } from '../src/http.ts';
import { createLogger } from '../src/logger.ts';
import { CaptureTransport } from './support.ts';

const TOKEN = 'auth-test-token';
let server: Server;
let url: string;

beforeAll(async () => {
  const app = express();
  app.get('/admin', bearerAuth(TOKEN, 'test'), (_req, res) => {
    res.json({ ok: true });
  });
  app.use(problemHandler(createLogger({ service: 'svc', transports: [new CaptureTransport()] })));
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function status(authorization: string | undefined): Promise<number> {
  const res = await fetch(url, {
    headers: authorization === undefined ? {} : { authorization },
    signal: AbortSignal.timeout(5000),
  });
  await res.text();
  return res.status;
}

describe('bearerAuth', () => {
  it.each([`Bearer ${TOKEN}`, `bearer ${TOKEN}`, `BEARER ${TOKEN}`, `bEaReR ${TOKEN}`, `Bearer  ${TOKEN}`])(
    'when the header is %j, then the scheme matches whatever its case and the request passes',
    async (header) => {
      expect(await status(header)).toBe(200);
    },
  );

  it.each([
    ['no header', undefined],
    ['another scheme', `Basic ${TOKEN}`],
    ['no space after the scheme', `Bearer${TOKEN}`],
    ['a wrong token', 'Bearer not-the-token'],
    ['the token with something after it', `Bearer ${TOKEN}x`],
    ['the token in another case', `Bearer ${TOKEN.toUpperCase()}`],
    ['an empty token', 'Bearer '],
  ])('when the request has %s, then it gets 401 with a Bearer challenge', async (_what, header) => {
    const res = await fetch(url, {
      headers: header === undefined ? {} : { authorization: header },
      signal: AbortSignal.timeout(5000),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="test"');
    await res.text();
  });
});
