import { type ChildProcess, spawn } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export type LogLine = Record<string, unknown> & { message: string; level: string };

export interface ServiceProcess {
  /** The service directory (`departures`). */
  name: string;
  /** What this process is called in output (`departures-a`). */
  label: string;
  url: string;
  port: number;
  /**
   * The service's ops listener (the gateway's OPS_PORT: /metrics, /admin/*), when it has one: the
   * fixed OPS_PORT it was given, or the port of its "ops listening" log line.
   */
  opsPort?: number;
  opsUrl?: string;
  child: ChildProcess;
  /** Every JSON line the service printed on stdout, in order (unless `keepLogs` is off). */
  logs: LogLine[];
  /** Everything else it printed (stderr, non-JSON stdout); the last 200 lines. */
  output: string[];
  /** The last 30 lines it printed, JSON or not, as printed (for error messages). */
  recent: string[];
  /** Resolves with the exit code when the process ends, however it ends. */
  exited: Promise<number | null>;
  /** Sends SIGTERM and resolves with the exit code (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<number | null>;
}

export interface StartOptions {
  label?: string;
  timeoutMs?: number;
  /** Keep every log line in memory (tests); off for long runs. */
  keepLogs?: boolean;
  /** Called for every line the process prints: parsed JSON log lines, or raw text. */
  onLine?: (label: string, line: LogLine | string) => void;
  /** Aborting during start-up stops the process and rejects (Ctrl-C while starting). */
  signal?: AbortSignal;
  /**
   * `source` (default): the TypeScript sources, as every local run; `bundle`: the production build
   * (`npm run build` first: services/<name>/bundle/), started as the images start it.
   */
  build?: 'source' | 'bundle';
  /**
   * The folder that holds `services/<name>/` (default: the repository). A copy laid out as the
   * image is (the service's package.json, bundle/ and data folders, no node_modules) runs from
   * its own folder.
   */
  root?: string;
  /** Extra Node flags, before the entry point (e.g. `--cpu-prof`, `--max-old-space-size=96`). */
  nodeArgs?: readonly string[];
  /**
   * A command the process is started through, which must end by running its arguments (e.g.
   * `['sh', '-c', 'echo $$ > /sys/fs/cgroup/memory/x/cgroup.procs && exec "$@"', 'sh']`).
   */
  launcher?: readonly string[];
}

/**
 * The memory settings of every service, sized for the published memory limits (compose's 160M and
 * 128M, Kubernetes' 160Mi and 128Mi): the same as the image, compose and Kubernetes (a test checks
 * they agree), so npm start, the tests and the bench run what is deployed. docs/performance.md
 * has the measurements.
 * - NODE_OPTIONS: V8's heap flags. Without them Node sizes its heap from the host (here the young
 *   generation alone grew to 128 MB under load); a 4 MB semi-space cost no throughput against
 *   8 MB and saved 8 MB.
 * - glibc's malloc: at most 2 arenas (one per thread by default: V8's compiler and GC threads each
 *   kept freed memory in their own) and free memory at the top of the heap given back from
 *   128 kB; together 10–20 MB less resident under load, at no measurable cost. musl ignores them.
 */
export const SERVICE_MEMORY_ENV: Readonly<Record<string, string>> = {
  NODE_OPTIONS: '--max-old-space-size=64 --max-semi-space-size=4',
  MALLOC_ARENA_MAX: '2',
  MALLOC_TRIM_THRESHOLD_: '131072',
};

/** V8's heap flags of SERVICE_MEMORY_ENV. */
export const SERVICE_NODE_OPTIONS = SERVICE_MEMORY_ENV.NODE_OPTIONS as string;

/** Log levels that hide the "listening" info line (winston: error < warn < info < …). */
const LEVELS_HIDING_INFO = new Set(['error', 'warn']);
/** How many lines of a process's output an error message quotes. */
const TAIL_LINES = 30;

/** The error binding `port` on `host` gives right now, or undefined when it can be bound. */
export async function bindError(port: number, host: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolveError) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolveError(error));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolveError(undefined)));
  });
}

/** Rejects, naming the port and who wanted it, unless `port` can be bound on `host`. */
export async function assertPortFree(port: number, host: string, label: string): Promise<void> {
  const error = await bindError(port, host);
  if (!error) return;
  if (error.code === 'EADDRINUSE') {
    throw new Error(
      `port ${port} (${label}) is already in use on ${host}; stop what is listening there (find it with: ss -ltnp 'sport = :${port}', or lsof -i :${port})`,
    );
  }
  throw new Error(`port ${port} (${label}) cannot be used on ${host}: ${error.code ?? error.message}`);
}

/** The address to reach a service listening on `host` (a wildcard listens on loopback too). */
function reachableHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

const hostInUrl = (host: string) => (host.includes(':') ? `[${host}]` : host);

/** The URL a service listening on `host`:`port` is reached at (what its ServiceProcess.url will be). */
export function serviceUrl(host: string, port: number): string {
  return `http://${hostInUrl(reachableHost(host))}:${port}`;
}

/** One GET /healthz without connection reuse: true on 200, false on anything else. */
function healthy(host: string, port: number): Promise<boolean> {
  return new Promise((resolveOk) => {
    const req = httpGet({ host, port, path: '/healthz', agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      resolveOk(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolveOk(false));
  });
}

/**
 * Starts `services/<name>` as a real process, the way every local run does (TypeScript sources,
 * OpenTelemetry loaded with --import), and resolves once it listens:
 *
 * - a fixed PORT is checked to be free first, then polled (GET /healthz) until it answers, so any
 *   LOG_LEVEL works;
 * - PORT 0 (the default here: a free port) can only be learned from the service's "listening" log
 *   line, so a LOG_LEVEL that hides info lines is refused at once.
 *
 * If it exits first, times out, or `signal` aborts, the process is stopped and the promise
 * rejects saying which, with the last lines the process printed.
 */
export async function startService(
  name: string,
  env: Record<string, string>,
  options: StartOptions = {},
): Promise<ServiceProcess> {
  const label = options.label ?? name;
  // A bound that catches a hung start, not a speed target: loading OpenTelemetry and the TypeScript
  // sources takes a few seconds idle, and several times that on two busy cores.
  const timeoutMs = options.timeoutMs ?? 45_000;
  const fullEnv = {
    PATH: process.env.PATH ?? '',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    ...SERVICE_MEMORY_ENV,
    ...env,
  };
  const fixedPort = Number(fullEnv.PORT);
  if (!Number.isInteger(fixedPort) || fixedPort < 0 || fixedPort > 65_535) {
    throw new Error(`${label}: PORT=${fullEnv.PORT} is not a port number (0–65535)`);
  }
  if (fixedPort === 0 && LEVELS_HIDING_INFO.has(fullEnv.LOG_LEVEL)) {
    throw new Error(
      `${label}: PORT=0 (any free port) is learned from the service's "listening" log line, which LOG_LEVEL=${fullEnv.LOG_LEVEL} hides; give it a fixed PORT, or LOG_LEVEL=info or more verbose`,
    );
  }
  const fixedOpsPort = env.OPS_PORT === undefined ? undefined : Number(env.OPS_PORT);
  if (fixedOpsPort === 0 && LEVELS_HIDING_INFO.has(fullEnv.LOG_LEVEL)) {
    throw new Error(
      `${label}: OPS_PORT=0 (any free port) is learned from the service's "ops listening" log line, which LOG_LEVEL=${fullEnv.LOG_LEVEL} hides; give it a fixed OPS_PORT, or LOG_LEVEL=info or more verbose`,
    );
  }
  options.signal?.throwIfAborted();
  if (fixedPort !== 0) await assertPortFree(fixedPort, fullEnv.HOST, label);
  if (fixedOpsPort) await assertPortFree(fixedOpsPort, fullEnv.HOST, `${label} ops`);
  const host = reachableHost(fullEnv.HOST);

  const entry =
    options.build === 'bundle'
      ? ['--import', './bundle/instrumentation.js', 'bundle/main.js']
      : ['--conditions=source', '--import', './src/instrumentation.ts', 'src/main.ts'];
  const [file, ...args] = [
    ...(options.launcher ?? []),
    process.execPath,
    ...(options.nodeArgs ?? []),
    ...entry,
  ];
  const child = spawn(file as string, args, {
    cwd: resolve(options.root ?? REPO_ROOT, 'services', name),
    env: fullEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const output: string[] = [];
  const tail: string[] = [];
  const keep = options.keepLogs ?? true;
  let exitSignal: NodeJS.Signals | null = null;
  const exited = new Promise<number | null>((r) =>
    child.once('exit', (code, signal) => {
      exitSignal = signal;
      r(code ?? (signal ? 128 : null));
    }),
  );
  // 'close' comes after 'exit' once stdout and stderr are drained: the last lines are all in.
  const closed = new Promise<void>((r) => child.once('close', () => r()));
  const remember = (line: string) => {
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
  };
  const raw = (line: string) => {
    remember(line);
    output.push(line);
    if (output.length > 200) output.shift();
    options.onLine?.(label, line);
  };
  let announcedPort: ((port: number) => void) | undefined;
  // The ops listener is up before the public one says "listening" (services/gateway/src/main.ts).
  let opsPort = fixedOpsPort || undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    let parsed: LogLine;
    try {
      parsed = JSON.parse(line) as LogLine;
    } catch {
      raw(line);
      return;
    }
    remember(line);
    if (keep) logs.push(parsed);
    options.onLine?.(label, parsed);
    if (parsed.message === 'listening' && typeof parsed.port === 'number') announcedPort?.(parsed.port);
    if (parsed.message === 'ops listening' && typeof parsed.port === 'number') opsPort = parsed.port;
  });
  createInterface({ input: child.stderr }).on('line', raw);

  const stop = async (stopTimeoutMs = 10_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  const lastOutput = () => (tail.length ? `; its last output:\n${tail.join('\n')}` : ' (it printed nothing)');

  let settled = false;
  const cleanups: (() => void)[] = [];
  const port = await new Promise<number>((resolvePort, reject) => {
    const succeed = (port: number) => {
      if (settled) return;
      settled = true;
      for (const cleanup of cleanups) cleanup();
      resolvePort(port);
    };
    // Failing stops the process first, so that nothing is left behind.
    const fail = (message: () => string, stopFirst: boolean) => {
      if (settled) return;
      settled = true;
      for (const cleanup of cleanups) cleanup();
      void (async () => {
        if (stopFirst) await stop(3_000);
        await Promise.race([closed, new Promise((r) => setTimeout(r, 500))]);
        reject(new Error(message()));
      })();
    };

    const timer = setTimeout(
      () =>
        fail(
          () =>
            `${label} was not ready within ${timeoutMs} ms (${
              fixedPort === 0
                ? 'no "listening" log line'
                : `http://${hostInUrl(host)}:${fixedPort}/healthz did not answer 200`
            }), so it was stopped${lastOutput()}`,
          true,
        ),
      timeoutMs,
    );
    cleanups.push(() => clearTimeout(timer));

    void exited.then((code) =>
      fail(
        () =>
          `${label} exited ${exitSignal ? `on ${exitSignal}` : `with code ${code}`} before it was ready${lastOutput()}`,
        false,
      ),
    );

    if (options.signal) {
      const onAbort = () => fail(() => `${label}: start-up aborted`, true);
      options.signal.addEventListener('abort', onAbort, { once: true });
      cleanups.push(() => options.signal?.removeEventListener('abort', onAbort));
    }

    if (fixedPort === 0) {
      announcedPort = succeed;
    } else {
      void (async () => {
        while (!settled) {
          if ((await healthy(host, fixedPort)) && child.exitCode === null && child.signalCode === null) {
            succeed(fixedPort);
            return;
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
    }
  });
  announcedPort = undefined;
  // With a fixed PORT the service is found up by polling, maybe before its log lines are read.
  for (let waited = 0; fixedOpsPort === 0 && opsPort === undefined && waited < 2_000; waited += 50)
    await new Promise((r) => setTimeout(r, 50));
  if (fixedOpsPort === 0 && opsPort === undefined) {
    await stop(3_000);
    throw new Error(`${label} is listening but printed no "ops listening" line, so its OPS_PORT is unknown`);
  }
  return {
    name,
    label,
    url: `http://${hostInUrl(host)}:${port}`,
    port,
    ...(opsPort === undefined ? {} : { opsPort, opsUrl: `http://${hostInUrl(host)}:${opsPort}` }),
    child,
    logs,
    output,
    recent: tail,
    exited,
    stop,
  };
}

/** Polls `check` every `intervalMs` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 10_000, intervalMs = 100 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}
