import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openApiChecker, type RealResponse } from '@failway/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSchemathesis, fuzz } from '../scripts/fuzz.ts';
import { render } from '../scripts/openapi.ts';
import { startApp } from './support.ts';

// The published contract against the real application: every service serves the document built
// from the schemas it validates with, its real answers conform to it, and the findings of
// `npm run fuzz` (schemathesis) on the gateway stay fixed.

let app: Awaited<ReturnType<typeof startApp>>;
const documents: Record<string, Record<string, unknown>> = {};

async function get(url: string, init: RequestInit = {}): Promise<RealResponse> {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, body: await res.text() };
}

beforeAll(async () => {
  app = await startApp();
  const { stack } = app;
  for (const [name, url] of [
    ['gateway', stack.gateway.url],
    ['departures', stack.departures[0].url],
    ['route-config', stack.routeConfig.url],
    ['rail-sim', stack.railSim.url],
  ] as const) {
    documents[name] = JSON.parse((await get(`${url}/openapi.json`)).body);
  }
});

afterAll(async () => {
  await app?.stop();
});

describe('GET /openapi.json', () => {
  it('when each service is asked, then it serves the committed document (npm run openapi); the gateway lists its stations', async () => {
    const committed = render();
    for (const name of ['departures', 'route-config', 'rail-sim']) {
      expect(documents[name], name).toEqual(JSON.parse(committed.get(`${name}.json`) ?? 'null'));
    }
    const gateway = documents.gateway as {
      paths: Record<string, { get: { parameters: { schema: unknown }[] } }>;
    };
    const from = gateway.paths['/api/departures']?.get.parameters[0]?.schema as { enum?: string[] };
    const stations = JSON.parse((await get(`${app.stack.gateway.url}/api/stations`)).body).stations as {
      crs: string;
    }[];
    expect(from.enum).toEqual(stations.map((s) => s.crs).sort());
    const withoutEnum = JSON.parse(committed.get('gateway.json') ?? 'null');
    expect(Object.keys(gateway.paths)).toEqual(Object.keys(withoutEnum.paths));
    expect(documents.gateway?.components).toEqual(withoutEnum.components);
  });
});

describe('real answers against the documents', () => {
  it('when the public API is used, rightly and wrongly, then every answer conforms to the gateway document', async () => {
    const conforms = openApiChecker(documents.gateway ?? {});
    const base = app.stack.gateway.url;
    const cases: [string, string][] = [
      ['/api/departures', '/api/departures?from=WHP&to=LTN'],
      ['/api/departures', '/api/departures?from=whp&to=ltn&rows=3'],
      ['/api/departures', '/api/departures?from=WHP'],
      ['/api/departures', '/api/departures?from=WHP&to=WHP'],
      ['/api/departures', '/api/departures?from=WHP&to=LTN&rows=0'],
      ['/api/departures', '/api/departures?from=WHP&to=LTN&to=STP'],
      ['/api/departures', '/api/departures?from=QQQ&to=LTN'],
      ['/api/departures', `/api/departures?from=WHP&to=LTN&x=${'a'.repeat(2100)}`],
      ['/api/stations', '/api/stations'],
      ['/api/routes', '/api/routes'],
    ];
    const statuses = new Set<number>();
    for (const [template, path] of cases) {
      const res = await get(`${base}${path}`);
      statuses.add(res.status);
      expect(conforms(template, 'GET', res), `${path} → ${res.status} ${res.body.slice(0, 200)}`).toEqual([]);
    }
    expect([...statuses].sort()).toEqual([200, 400, 414]);
  });

  it('when a replica and route-config are asked, then their answers conform to their documents', async () => {
    const replica = openApiChecker(documents.departures ?? {});
    const url = app.stack.departures[0].url;
    await get(`${url}/departures/WHP?to=LTN&rows=2`); // from the upstream; the next one from the cache
    const board = await get(`${url}/departures/WHP?to=LTN&rows=2`);
    expect(replica('/departures/{crs}', 'GET', board)).toEqual([]);
    const etag = board.headers.get('etag') ?? '';
    const again = await get(`${url}/departures/WHP?to=LTN&rows=2`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(replica('/departures/{crs}', 'GET', again)).toEqual([]);
    for (const path of ['/departures/WH1', '/departures/WHP?to=WHP', '/departures/WHP?rows=11']) {
      const res = await get(`${url}${path}`);
      expect(res.status, path).toBe(400);
      expect(replica('/departures/{crs}', 'GET', res), path).toEqual([]);
    }
    const catalog = openApiChecker(documents['route-config'] ?? {});
    const rc = app.stack.routeConfig.url;
    for (const [template, path, status] of [
      ['/stations', '/stations', 200],
      ['/stations/{crs}', '/stations/whp', 200],
      ['/stations/{crs}', '/stations/QQQ', 404],
      ['/stations/{crs}', '/stations/W1', 400],
      ['/routes', '/routes', 200],
      ['/routes/{id}', '/routes/no-such-route', 404],
    ] as const) {
      const res = await get(`${rc}${path}`);
      expect(res.status, path).toBe(status);
      expect(catalog(template, 'GET', res), path).toEqual([]);
    }
  });
});

describe('findings of schemathesis on the gateway, pinned', () => {
  it('when a documented path is called with a method it does not serve, then 405 with Allow, not 404', async () => {
    for (const path of ['/api/departures', '/api/routes', '/api/stations']) {
      for (const method of ['DELETE', 'POST', 'PUT', 'PATCH']) {
        const res = await fetch(`${app.stack.gateway.url}${path}`, { method });
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.headers.get('allow')).toBe('GET, HEAD');
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      }
    }
  });

  it('when from and to are the same station, then 400 names `to` (the one rule no parameter schema states)', async () => {
    const res = await fetch(`${app.stack.gateway.url}/api/departures?from=WHP&to=whp`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      field: 'to',
      detail: 'to: must differ from the departure station',
    });
  });
});

describe('npm run fuzz', () => {
  const schemathesis = findSchemathesis();

  it.skipIf(!schemathesis.path)(
    `when an API answers 500 or breaks its document, then the fuzz run fails${schemathesis.reason ? ` (${schemathesis.reason})` : ''}`,
    async () => {
      // A one-operation API whose answer breaks its own document and then fails outright.
      let calls = 0;
      const server: Server = createServer((req, res) => {
        if (req.url === '/openapi.json') {
          res.setHeader('content-type', 'application/json');
          res.end(
            JSON.stringify({
              openapi: '3.1.0',
              info: { title: 'broken', version: '1' },
              paths: {
                '/thing': {
                  get: {
                    responses: {
                      '200': {
                        description: 'ok',
                        content: { 'application/json': { schema: { type: 'object', required: ['id'] } } },
                      },
                    },
                  },
                },
              },
            }),
          );
          return;
        }
        calls += 1;
        res.statusCode = calls % 2 ? 200 : 500;
        res.setHeader('content-type', 'application/json');
        res.end('{}');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      try {
        const run = await fuzz(
          { name: 'broken', schemaUrl: `http://127.0.0.1:${port}/openapi.json` },
          { bin: schemathesis.path as string, maxExamples: 5, seed: 1, write: () => undefined },
        );
        expect(run.code).not.toBe(0);
        expect(run.output).toMatch(/Server error|Response violates schema/);
      } finally {
        server.close();
      }
    },
    120_000,
  );
});
