import { type ChildProcess, spawn } from 'node:child_process';
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
  child: ChildProcess;
  /** Every JSON line the service printed on stdout, in order (unless `keepLogs` is off). */
  logs: LogLine[];
  /** Everything else it printed (stderr, non-JSON stdout); the last 200 lines. */
  output: string[];
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
}

/**
 * Starts `services/<name>` as a real process, the way every local run does (TypeScript sources,
 * OpenTelemetry loaded with --import), and waits for its "listening" log line. PORT 0 (the
 * default here) picks a free port.
 */
export async function startService(
  name: string,
  env: Record<string, string>,
  options: StartOptions = {},
): Promise<ServiceProcess> {
  const label = options.label ?? name;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', './src/instrumentation.ts', 'src/main.ts'],
    {
      cwd: resolve(REPO_ROOT, 'services', name),
      env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: LogLine[] = [];
  const output: string[] = [];
  const keep = options.keepLogs ?? true;
  const exited = new Promise<number | null>((r) =>
    child.once('exit', (code, signal) => r(code ?? (signal ? 128 : null))),
  );
  const raw = (line: string) => {
    output.push(line);
    if (output.length > 200) output.shift();
    options.onLine?.(label, line);
  };
  const listening = new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${label} did not start within ${timeoutMs} ms:\n${output.join('\n')}`)),
      timeoutMs,
    );
    createInterface({ input: child.stdout }).on('line', (line) => {
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        raw(line);
        return;
      }
      if (keep) logs.push(parsed);
      options.onLine?.(label, parsed);
      if (parsed.message === 'listening' && typeof parsed.port === 'number') {
        clearTimeout(timer);
        resolvePort(parsed.port);
      }
    });
    createInterface({ input: child.stderr }).on('line', raw);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited with ${code} before listening:\n${output.join('\n')}`));
    });
  });
  const port = await listening;
  return {
    name,
    label,
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    logs,
    output,
    exited,
    async stop(stopTimeoutMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
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
