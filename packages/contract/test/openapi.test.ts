import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@failway/testkit';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { problemSchema, stationSchema } from '../src/index.ts';
import { jsonResponse, openApiDocument, problemResponse } from '../src/openapi.ts';

function generate(args: string[]): { status: number | null; output: string } {
  const run = spawnSync(process.execPath, ['--conditions=source', 'scripts/openapi.ts', ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** Every `$ref` in `value`. */
function refs(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refs);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => (k === '$ref' && typeof v === 'string' ? [v] : refs(v)));
}

describe('openApiDocument', () => {
  const document = openApiDocument({
    title: 'test',
    description: 'test',
    paths: {
      '/stations/{crs}': {
        get: {
          operationId: 'getStation',
          summary: 'one',
          parameters: [{ name: 'crs', in: 'path', description: 'code', schema: z.string() }],
          responses: {
            '200': jsonResponse('the station', stationSchema),
            '404': problemResponse('none'),
          },
        },
      },
    },
  }) as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, object> } };

  it('when schemas are named with .meta({ id }), then each is one component and every $ref resolves', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.components.schemas).sort()).toEqual(['Problem', 'Station']);
    for (const ref of refs(document)) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(document.components.schemas[ref.split('/').pop() ?? '']).toBeDefined();
    }
  });

  it('when a component is checked with a JSON Schema 2020-12 validator, then it accepts what zod accepts and refuses what zod refuses', () => {
    const ajv = new Ajv2020({ strict: false });
    const station = ajv.compile(document.components.schemas.Station ?? {});
    for (const value of [
      { crs: 'WHP', name: 'West Hampstead', extra: 1 },
      { crs: 'whp', name: 'x' },
      { crs: 'WHP' },
    ])
      expect(station(value), JSON.stringify(value)).toBe(stationSchema.safeParse(value).success);
    const problem = ajv.compile(document.components.schemas.Problem ?? {});
    const sample = {
      type: 'urn:failway:problem:not-found',
      title: 'Not found',
      status: 404,
      detail: 'x',
      request_id: null,
    };
    expect(problem(sample)).toBe(true);
    expect(problemSchema.safeParse(sample).success).toBe(true);
    expect(problem({ ...sample, status: 200 })).toBe(false);
  });

  it('when two different schemas share a name, then building the document fails instead of publishing one of them', () => {
    const a = z.object({ a: z.string() }).meta({ id: 'Twin' });
    const b = z.object({ b: z.string() }).meta({ id: 'Twin' });
    expect(() =>
      openApiDocument({
        title: 't',
        description: 't',
        paths: {
          '/x': {
            get: {
              operationId: 'x',
              summary: 'x',
              responses: { '200': jsonResponse('a', a), '201': jsonResponse('b', b) },
            },
          },
        },
      }),
    ).toThrow(/two different schemas are named Twin/);
  });
});

describe('docs/openapi (npm run openapi)', () => {
  it('commits the documents the sources generate (npm run openapi -- --check)', () => {
    const { status, output } = generate(['--check']);
    expect(output).toBe('');
    expect(status).toBe(0);
  });

  it('when a committed document differs from its sources, then --check fails naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'openapi-'));
    try {
      cpSync(join(REPO_ROOT, 'docs/openapi'), dir, { recursive: true });
      writeFileSync(join(dir, 'gateway.json'), '{}\n');
      writeFileSync(join(dir, 'old.json'), '{}\n');
      const { status, output } = generate(['--check', '--dir', dir]);
      expect(status).toBe(1);
      expect(output).toContain('stale: ');
      expect(output).toContain('gateway.json');
      expect(output).toContain('no source: ');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
