// How startService and startStack tell that a service is up, and what they say when it is not:
// real route-config processes (the lightest service) on fixed loopback ports.
import { createServer, type Server } from 'node:net';
import { bindError, type ServiceProcess, startService, startStack } from '@failway/stack';
import { afterEach, describe, expect, it } from 'vitest';

/** A port that was free a moment ago (the kernel's pick, released again). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Something else listening on a loopback port. */
async function occupy(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

const running: ServiceProcess[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((proc) => proc.stop()));
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('startService with a fixed port', () => {
  it('when LOG_LEVEL hides the "listening" line, then it is still ready (found by polling /healthz)', async () => {
    const port = await freePort();
    const proc = await startService(
      'route-config',
      { PORT: String(port), LOG_LEVEL: 'warn' },
      { timeoutMs: 15_000 },
    );
    running.push(proc);
    expect(proc.port).toBe(port);
    expect(proc.url).toBe(`http://127.0.0.1:${port}`);
    expect(proc.logs.some((l) => l.message === 'listening')).toBe(false);
    expect((await fetch(`${proc.url}/healthz`)).status).toBe(200);
  });

  it('when the port is taken, then it rejects at once naming the port and the service', async () => {
    const { server, port } = await occupy();
    servers.push(server);
    const t0 = Date.now();
    await expect(
      startService('route-config', { PORT: String(port) }, { label: 'route-config', timeoutMs: 15_000 }),
    ).rejects.toThrow(new RegExp(`^port ${port} \\(route-config\\) is already in use on 127\\.0\\.0\\.1`));
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it('when the service exits before it is ready, then it rejects with the exit code and its last output', async () => {
    const port = await freePort();
    const error = await startService(
      'route-config',
      { PORT: String(port), LOG_LEVEL: 'warn', DEFAULT_TO: 'QQQ' },
      { timeoutMs: 15_000 },
    ).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      /^route-config exited with code 1 before it was ready; its last output:\n/,
    );
    expect((error as Error).message).toMatch(/DEFAULT_TO/);
  });

  it('when it is not ready in time, then it rejects saying so and leaves no process behind', async () => {
    const port = await freePort();
    await expect(
      startService('route-config', { PORT: String(port), LOG_LEVEL: 'warn' }, { timeoutMs: 200 }),
    ).rejects.toThrow(
      `route-config was not ready within 200 ms (http://127.0.0.1:${port}/healthz did not answer 200)`,
    );
    // A process left running would have bound the port by now (it starts in about a second).
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await bindError(port, '127.0.0.1')).toBeUndefined();
  });
});

describe('startService with PORT=0', () => {
  it('when LOG_LEVEL hides info lines, then it rejects at once saying why', async () => {
    await expect(startService('route-config', { PORT: '0', LOG_LEVEL: 'warn' })).rejects.toThrow(
      /PORT=0 .* "listening" log line, which LOG_LEVEL=warn hides/,
    );
  });

  it('when LOG_LEVEL shows info lines, then the port comes from the "listening" line', async () => {
    const proc = await startService('route-config', { LOG_LEVEL: 'info' }, { timeoutMs: 15_000 });
    running.push(proc);
    expect(proc.port).toBeGreaterThan(0);
    expect(proc.logs.find((l) => l.message === 'listening')).toMatchObject({ port: proc.port });
  });

  it('when the service exits before it is ready, then it rejects with the exit code', async () => {
    await expect(startService('route-config', { DEFAULT_TO: 'QQQ' }, { timeoutMs: 15_000 })).rejects.toThrow(
      /^route-config exited with code 1 before it was ready[\s\S]*DEFAULT_TO/,
    );
  });
});

describe('startService with an ops port (the gateway)', () => {
  it('when OPS_PORT=0 and LOG_LEVEL hides info lines, then it rejects at once saying why', async () => {
    await expect(startService('gateway', { PORT: '0', OPS_PORT: '0', LOG_LEVEL: 'warn' })).rejects.toThrow(
      /PORT=0 .* "listening" log line/,
    );
    await expect(
      startService('gateway', { PORT: '18080', OPS_PORT: '0', LOG_LEVEL: 'warn' }),
    ).rejects.toThrow(/OPS_PORT=0 .* "ops listening" log line, which LOG_LEVEL=warn hides/);
  });

  it('when a fixed OPS_PORT is taken, then it rejects before starting, naming the ops port', async () => {
    const { server, port } = await occupy();
    servers.push(server);
    await expect(startService('gateway', { OPS_PORT: String(port) })).rejects.toThrow(
      `port ${port} (gateway ops) is already in use on 127.0.0.1`,
    );
  });

  it('when OPS_PORT=0, then the ops port comes from the "ops listening" line and /metrics is only there', async () => {
    const proc = await startService('gateway', { OPS_PORT: '0', DEPARTURES_URLS: 'http://127.0.0.1:9' });
    running.push(proc);
    expect(proc.opsPort).toBeGreaterThan(0);
    expect(proc.opsUrl).toBe(`http://127.0.0.1:${proc.opsPort}`);
    expect((await fetch(`${proc.opsUrl}/metrics`)).status).toBe(200);
    expect((await fetch(`${proc.url}/metrics`)).status).toBe(404);
  });
});

describe('startStack', () => {
  it('when a fixed port is taken, then it rejects before starting anything, naming port and service', async () => {
    const { server, port } = await occupy();
    servers.push(server);
    const lines: string[] = [];
    await expect(
      startStack({
        ports: { gateway: port, routeConfig: 0, departures: [0, 0], railSim: 0 },
        adminToken: 'test-token',
        onLine: (label) => lines.push(label),
      }),
    ).rejects.toThrow(`port ${port} (gateway) is already in use on 127.0.0.1`);
    expect(lines).toEqual([]);
  });

  it('when aborted while starting, then it stops what it started and rejects', async () => {
    const controller = new AbortController();
    const started: string[] = [];
    const stack = startStack({
      ports: { gateway: 0, routeConfig: 0, departures: [0, 0], railSim: 0 },
      adminToken: 'test-token',
      keepLogs: false,
      onLine: (label, line) => {
        if (typeof line !== 'string' && line.message === 'listening') {
          started.push(`${label}:${String(line.port)}`);
          if (label === 'rail-sim') controller.abort();
        }
      },
      signal: controller.signal,
    });
    await expect(stack).rejects.toThrow(/abort/i);
    // rail-sim and route-config start at once, so one or both were listening when it aborted;
    // the replicas and the gateway, which wait for rail-sim, never started.
    expect(started.length).toBeGreaterThanOrEqual(1);
    expect(started.map((s) => s.split(':')[0]).every((l) => l === 'rail-sim' || l === 'route-config')).toBe(
      true,
    );
    for (const entry of started) {
      const [, port] = entry.split(':');
      expect(await bindError(Number(port), '127.0.0.1'), `${entry} still bound`).toBeUndefined();
    }
  });
});
