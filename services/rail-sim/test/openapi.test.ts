import { openApiChecker, type ServiceProcess, startService } from '@failway/testkit';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { railSimOpenApi } from '../src/http/openapi.ts';

// rail-sim's served document against its real answers, and the findings of `npm run fuzz`
// (schemathesis against the admin API), each pinned here.

const KEY = 'openapi-test-key';
const ADMIN = 'openapi-test-token';
let sim: ServiceProcess;
let conforms: ReturnType<typeof openApiChecker>;

beforeAll(async () => {
  sim = await startService('rail-sim', {
    RAIL_API_KEYS: KEY,
    ADMIN_TOKEN: ADMIN,
    LATENCY_MIN_MS: '0',
    LATENCY_MAX_MS: '2',
  });
  conforms = openApiChecker(
    (await (await fetch(`${sim.url}/openapi.json`)).json()) as Record<string, unknown>,
  );
});

afterAll(async () => {
  await sim?.stop();
});

async function send(
  method: string,
  path: string,
  options: { body?: string; token?: string | null; headers?: Record<string, string> } = {},
) {
  const { token = ADMIN } = options;
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

describe('GET /openapi.json', () => {
  it('when asked, then it serves the document built from the schemas admin.ts checks with', async () => {
    const res = await fetch(`${sim.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(railSimOpenApi());
  });

  it('when the admin API and the board are used, then every answer conforms to the document', async () => {
    const cases: [string, string, string, Parameters<typeof send>[2]?][] = [
      ['GET', '/admin/bans', '/admin/bans'],
      ['POST', '/admin/bans', '/admin/bans', { body: JSON.stringify({ ip: '127.0.0.77', seconds: 60 }) }],
      ['POST', '/admin/bans', '/admin/bans', { body: JSON.stringify({ ip: 'nope' }) }],
      ['DELETE', '/admin/bans/{ip}', '/admin/bans/127.0.0.77'],
      ['DELETE', '/admin/bans/{ip}', '/admin/bans/127.0.0.77'],
      ['DELETE', '/admin/bans', '/admin/bans'],
      ['GET', '/admin/faults', '/admin/faults'],
      ['POST', '/admin/faults', '/admin/faults', { body: JSON.stringify({ latencyMs: 1, banStyle: '403' }) }],
      ['DELETE', '/admin/faults', '/admin/faults'],
      ['GET', '/admin/clock', '/admin/clock'],
      ['PUT', '/admin/clock', '/admin/clock', { body: JSON.stringify({ offsetMinutes: 60 }) }],
      ['PUT', '/admin/clock', '/admin/clock', { body: JSON.stringify({ offsetMinutes: 'soon' }) }],
      ['GET', '/admin/clock', '/admin/clock', { token: 'wrong' }],
    ];
    const board = '/LDBWS/api/20220120/GetDepBoardWithDetails/{crs}';
    const boards: [string, string, string, Parameters<typeof send>[2]?][] = [
      [
        'GET',
        board,
        '/LDBWS/api/20220120/GetDepBoardWithDetails/WHP?numRows=5',
        { headers: { 'x-apikey': KEY } },
      ],
      [
        'GET',
        board,
        '/LDBWS/api/20220120/GetDepBoardWithDetails/WHP?numRows=x',
        { headers: { 'x-apikey': KEY } },
      ],
      ['GET', board, '/LDBWS/api/20220120/GetDepBoardWithDetails/WHP', { token: null }],
      ['GET', board, '/LDBWS/api/20220120/GetDepBoardWithDetails/QQQ', { headers: { 'x-apikey': KEY } }],
    ];
    const statuses = new Set<number>();
    for (const [method, template, path, options] of [...cases, ...boards]) {
      const res = await send(method, path, options);
      statuses.add(res.status);
      expect(conforms(template, method, res), `${method} ${path} → ${res.status} ${res.body}`).toEqual([]);
    }
    expect([...statuses].sort()).toEqual([200, 201, 400, 401, 404, 500]);
  });
});

describe('findings of schemathesis, pinned', () => {
  it('when a documented admin path is called with a method it does not serve, then 405 with Allow, not 404', async () => {
    for (const [path, allow] of [
      ['/admin/bans', 'GET, HEAD, POST, DELETE'],
      ['/admin/faults', 'GET, HEAD, POST, DELETE'],
      ['/admin/clock', 'GET, HEAD, PUT'],
      ['/admin/bans/127.0.0.1', 'DELETE'],
    ] as const) {
      const res = await send('PATCH', path);
      expect(res.status, path).toBe(405);
      expect(res.headers.get('allow'), path).toBe(allow);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
  });

  it('when POST /admin/faults comes without a body, then 400 naming the body, and nothing changes', async () => {
    await send('POST', '/admin/faults', { body: JSON.stringify({ latencyMs: 7 }) });
    for (const [method, path] of [
      ['POST', '/admin/faults'],
      ['POST', '/admin/bans'],
      ['PUT', '/admin/clock'],
    ] as const) {
      const res = await send(method, path);
      expect(res.status, path).toBe(400);
      expect(JSON.parse(res.body)).toMatchObject({
        field: 'body',
        type: 'urn:failway:problem:invalid-parameter',
      });
    }
    expect(JSON.parse((await send('GET', '/admin/faults')).body)).toMatchObject({ latencyMs: 7 });
    await send('DELETE', '/admin/faults');
  });

  it('when an ip is refused, then the document refuses it too (a schema-valid string was refused before)', async () => {
    type Post = { requestBody: { content: Record<string, { schema: { properties: { ip: object } } }> } };
    const post = (railSimOpenApi().paths as Record<string, { post: Post }>)['/admin/bans']?.post;
    const ipSchema = post?.requestBody.content['application/json']?.schema.properties.ip ?? {};
    const byDocument = new Ajv2020({ strict: false }).compile(ipSchema);
    for (const ip of [
      '\ud8b3\udddd\u0084@',
      '127.0.0.256',
      'localhost',
      '',
      '::ffff:127.0.0.78',
      '2001:db8::1',
      '127.0.0.79',
    ]) {
      const res = await send('POST', '/admin/bans', { body: JSON.stringify({ ip, seconds: 1 }) });
      expect(res.status === 201, `${JSON.stringify(ip)} → ${res.status}`).toBe(byDocument(ip));
    }
    await send('DELETE', '/admin/bans');
  });
});
