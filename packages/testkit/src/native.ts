import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@failway/stack';
import { stringify } from 'yaml';

/** A free TCP port on 127.0.0.1 (listen on 0, note it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface NativeProcess {
  child: ChildProcess;
  output: string[];
  stop(): Promise<void>;
}

/** Runs a system tool in the background, keeping the last lines it printed for failure messages. */
export function runTool(command: string, args: string[], env: Record<string, string> = {}): NativeProcess {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(...chunk.toString().split('\n').filter(Boolean));
    if (output.length > 300) output.splice(0, output.length - 300);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface ScrapeTarget {
  job: string;
  instance: string;
  address: string;
}

export interface PrometheusInstance {
  url: string;
  process: NativeProcess;
  /** Instant query; returns the result vector. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  stop(): Promise<void>;
}

/**
 * A real Prometheus on loopback scraping `targets` every `intervalSeconds` and evaluating the
 * repo's rule files at the same interval (the rules themselves stay as committed), with exemplar
 * storage on as in compose.
 */
export async function startPrometheus(options: {
  binary: string;
  targets: ScrapeTarget[];
  ruleFiles: string[];
  intervalSeconds?: number;
}): Promise<PrometheusInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'failway-prometheus-'));
  const interval = `${options.intervalSeconds ?? 1}s`;
  const jobs = new Map<string, ScrapeTarget[]>();
  for (const t of options.targets) jobs.set(t.job, [...(jobs.get(t.job) ?? []), t]);
  writeFileSync(
    join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: interval, evaluation_interval: interval },
      rule_files: options.ruleFiles,
      scrape_configs: [...jobs].map(([job, targets]) => ({
        job_name: job,
        static_configs: targets.map((t) => ({ targets: [t.address], labels: { instance: t.instance } })),
      })),
    }),
  );
  const port = await freePort();
  const proc = runTool(options.binary, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--enable-feature=exemplar-storage',
    '--web.enable-remote-write-receiver',
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    'Prometheus to be ready',
    async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined),
    {
      timeoutMs: 20_000,
      intervalMs: 200,
    },
  ).catch((error: Error) => {
    throw new Error(`${error.message}\n${proc.output.join('\n')}`);
  });
  return {
    url,
    process: proc,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown } };
      if (body.status !== 'success') throw new Error(`query failed: ${expr}: ${body.error}`);
      return (body.data?.result ?? []) as { metric: Record<string, string>; value: [number, string] }[];
    },
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
