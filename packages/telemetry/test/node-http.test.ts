import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** Runs `script` as an ES module in a fresh Node process; prints whether Node's undici is loaded. */
function undiciLoadedAfter(script: string): boolean {
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `${script}\nconsole.log(process.moduleLoadList.some((m) => m.includes('undici')));`,
    ],
    { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 },
  );
  return out.trim().split('\n').at(-1) === 'true';
}

describe('node:http without the bundled undici', () => {
  it('when the telemetry package is loaded and used (tracing exporting, a server, a client call), then Node does not load its bundled undici', () => {
    const loaded = undiciLoadedAfter(`
      const { startTelemetry } = await import(${JSON.stringify(`${SRC}sdk.ts`)});
      const t = await import(${JSON.stringify(`${SRC}index.ts`)});
      startTelemetry({ serviceName: 'x', env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' } });
      const { http } = await import(${JSON.stringify(`${SRC}node-http.ts`)});
      const server = http.createServer((_req, res) => res.end('ok')).listen(0, '127.0.0.1');
      await new Promise((r) => server.once('listening', r));
      const client = t.createHttpClient({
        peerService: 'x',
        baseUrl: 'http://127.0.0.1:' + server.address().port,
        metrics: t.createMetrics('x'),
      });
      await client.request('/');
      await client.close();
      server.close();
    `);
    expect(loaded).toBe(false);
  });

  it('when node:http is imported as an ES module instead, then it is loaded (the check sees it)', () => {
    expect(undiciLoadedAfter(`await import('node:http');`)).toBe(true);
  });
});
