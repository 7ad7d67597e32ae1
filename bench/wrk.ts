// wrk (https://github.com/wg/wrk, Debian package `wrk`): one run, its summary parsed.
import { spawn, spawnSync } from 'node:child_process';

export interface WrkResult {
  requests: number;
  durationS: number;
  reqPerSec: number;
  /** Milliseconds, from `--latency`'s distribution. */
  p50Ms: number;
  p75Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** wrk's "Non-2xx or 3xx responses" (it counts statuses above 399). */
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** CPU seconds wrk itself used (user + system), from the shell's `times`; undefined if not read. */
  wrkCpuS: number | undefined;
  raw: string;
}

/** The wrk on PATH, or undefined. */
export function wrkPath(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' });
  const path = found.stdout?.trim();
  return found.status === 0 && path ? path : undefined;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** "612.00us", "3.30ms", "1.02s", "2.00m" → milliseconds. */
export function parseDuration(text: string): number {
  const match = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!match) throw new Error(`wrk: cannot read the duration "${text}"`);
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}

/** "1.93MB", "12.3k", "845" → a plain number (wrk's k/M/G suffixes are powers of 1000). */
function parseCount(text: string): number {
  const match = /^([\d.]+)([kMG]?)B?$/.exec(text.trim());
  if (!match) throw new Error(`wrk: cannot read the number "${text}"`);
  const scale = { '': 1, k: 1e3, M: 1e6, G: 1e9 }[match[2] as '' | 'k' | 'M' | 'G'];
  return Number(match[1]) * scale;
}

/** Reads wrk's `--latency` summary; throws naming what is missing. */
export function parseWrk(raw: string): Omit<WrkResult, 'wrkCpuS' | 'raw'> {
  const need = (re: RegExp, what: string) => {
    const m = re.exec(raw);
    if (!m) throw new Error(`wrk's output has no ${what}:\n${raw}`);
    return m;
  };
  const percentile = (p: number) =>
    parseDuration(need(new RegExp(`^\\s*${p}%\\s+(\\S+)`, 'm'), `${p}% line`)[1] ?? '');
  const total = need(/^\s*(\d+) requests in ([\d.]+\w+),/m, '"N requests in T" line');
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(raw);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(raw);
  return {
    requests: Number(total[1]),
    durationS: parseDuration(total[2] ?? '') / 1_000,
    reqPerSec: parseCount(need(/^Requests\/sec:\s+(\S+)/m, 'Requests/sec line')[1] ?? ''),
    p50Ms: percentile(50),
    p75Ms: percentile(75),
    p90Ms: percentile(90),
    p99Ms: percentile(99),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: {
      connect: Number(socket?.[1] ?? 0),
      read: Number(socket?.[2] ?? 0),
      write: Number(socket?.[3] ?? 0),
      timeout: Number(socket?.[4] ?? 0),
    },
  };
}

/** bash's `times`: two lines, the shell's then its children's "user system" as 0m1.234s. */
function parseTimes(lines: string[]): number | undefined {
  const last = lines.at(-1)?.trim().split(/\s+/);
  if (last?.length !== 2) return undefined;
  let total = 0;
  for (const part of last) {
    const m = /^(\d+)m([\d.]+)s$/.exec(part);
    if (!m) return undefined;
    total += Number(m[1]) * 60 + Number(m[2]);
  }
  return total;
}

export interface WrkOptions {
  url: string;
  durationS: number;
  connections: number;
  threads: number;
  /** A Lua script (`-s`). */
  script?: string;
  signal?: AbortSignal;
}

/**
 * One wrk run with `--latency`, bounded by its duration plus 30 s. Run through bash so that
 * `times` can report wrk's own CPU time after it exits.
 */
export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  options.signal?.throwIfAborted();
  const args = [
    `-t${options.threads}`,
    `-c${options.connections}`,
    `-d${options.durationS}s`,
    '--timeout',
    '5s',
    '--latency',
    ...(options.script ? ['-s', options.script] : []),
    options.url,
  ];
  // Its own process group, so that stopping it stops wrk too, not only the shell.
  const child = spawn('bash', ['-c', 'wrk "$@"; rc=$?; times; exit $rc', 'bash', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  const kill = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  };
  const timer = setTimeout(kill, (options.durationS + 30) * 1_000);
  options.signal?.addEventListener('abort', kill, { once: true });
  const code = await new Promise<number | null>((r) => child.once('close', (c) => r(c)));
  clearTimeout(timer);
  options.signal?.removeEventListener('abort', kill);
  options.signal?.throwIfAborted();
  if (code !== 0) {
    throw new Error(`wrk ${args.join(' ')} exited with ${code}: ${(stderr || stdout).trim().slice(0, 500)}`);
  }
  const lines = stdout.trimEnd().split('\n');
  const wrkCpuS = parseTimes(lines);
  const raw = (wrkCpuS === undefined ? lines : lines.slice(0, -2)).join('\n');
  return { ...parseWrk(raw), wrkCpuS, raw };
}
