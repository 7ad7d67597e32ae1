// `npm run fuzz`: schemathesis (from PyPI) against the real services, from the documents they
// serve: the gateway's public API, then rail-sim's admin API with its token. Starts the stack as
// local processes on free loopback ports, runs every check with a bounded number of examples, stops
// everything, and exits non-zero on any finding (a 5xx, an answer that breaks the document, an
// undocumented status, header or content type, bad input accepted, ...).
//
//   npm run fuzz                         # both targets, the default budget
//   npm run fuzz -- --max-examples 200   # more examples per operation
//   npm run fuzz -- --seed 42            # another seed (the default is fixed, so runs repeat)
//
// Needs schemathesis: SCHEMATHESIS_BIN, or `source scripts/install-tools.sh --all`.
import { spawn } from 'node:child_process';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack } from '@failway/stack';
import { findTool } from '@failway/testkit';

const SCRIPTS_DIR = dirname(fileURLToPath(import.meta.url));

/** The version scripts/install-tools.sh installs. */
export const SCHEMATHESIS_VERSION = '4.32.5';

/** The schemathesis executable, or undefined with the one-line reason (an error under CI=true). */
export function findSchemathesis(): { path: string | undefined; reason: string } {
  const onPath = (process.env.PATH ?? '')
    .split(':')
    .filter(Boolean)
    .map((dir) => join(dir, 'schemathesis'));
  return findTool('schemathesis', 'SCHEMATHESIS_BIN', [
    join(homedir(), '.cache/failway', `schemathesis-${SCHEMATHESIS_VERSION}`, 'bin/schemathesis'),
    ...onPath,
  ]);
}

export interface FuzzTarget {
  /** What the report calls it. */
  name: string;
  /** Where the OpenAPI document is served; requests go to the same origin. */
  schemaUrl: string;
  headers?: Record<string, string>;
  /** Only the operations whose path matches. */
  includePathRegex?: string;
}

export interface FuzzOptions {
  bin: string;
  maxExamples: number;
  seed: number;
  /** Receives schemathesis's output as it comes (default: this process's stdout). */
  write?: (chunk: string) => void;
}

/** Runs schemathesis with every check against one target; resolves with its exit code and output. */
export function fuzz(target: FuzzTarget, options: FuzzOptions): Promise<{ code: number; output: string }> {
  const args = [
    'run',
    target.schemaUrl,
    '--checks',
    'all',
    '--max-examples',
    String(options.maxExamples),
    '--seed',
    String(options.seed),
    '--request-timeout',
    '15',
    '--workers',
    '2',
    '--no-color',
    ...(target.includePathRegex ? ['--include-path-regex', target.includePathRegex] : []),
    ...Object.entries(target.headers ?? {}).flatMap(([name, value]) => ['--header', `${name}: ${value}`]),
  ];
  const write = options.write ?? ((chunk: string) => process.stdout.write(chunk));
  return new Promise((resolve, reject) => {
    const child = spawn(options.bin, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        SCHEMATHESIS_TELEMETRY: 'false',
        NO_COLOR: '1',
        // fuzz_hooks.py: the rule between two parameters that no schema can state.
        SCHEMATHESIS_HOOKS: 'fuzz_hooks',
        PYTHONPATH: SCRIPTS_DIR,
      },
    });
    let output = '';
    const take = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output += text;
      write(text);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} takes a whole number`);
  return value;
}

async function main(args: string[]): Promise<number> {
  const { path: bin, reason } = findSchemathesis();
  if (!bin) {
    console.error(reason);
    return 1;
  }
  const maxExamples = option(args, '--max-examples', 60);
  const seed = option(args, '--seed', 20_260_311);
  const adminToken = 'fuzz-admin-token';
  const stack = await startStack({
    ports: { gateway: 0, routeConfig: 0, departures: [0, 0], railSim: 0 },
    adminToken,
    keepLogs: false,
    serviceEnv: {
      // Fuzzing sends hundreds of requests a minute from one address: limits high enough that the
      // checks see answers rather than 429s and bans (the limits have tests of their own).
      gateway: { RATE_LIMIT_PER_MIN: '1000000', NEW_ROUTES_PER_CLIENT_PER_MIN: '1000000' },
      departures: { UPSTREAM_BUDGET_PER_MIN: '100000', UPSTREAM_BUDGET_BURST: '10000' },
      'rail-sim': { BAN_THRESHOLD: '1000000', LATENCY_MIN_MS: '1', LATENCY_MAX_MS: '5' },
    },
  });
  const failed: string[] = [];
  try {
    // The gateway first: rail-sim's admin API injects faults and bans that would disturb it.
    const targets: FuzzTarget[] = [
      { name: 'gateway', schemaUrl: `${stack.gateway.url}/openapi.json` },
      {
        name: 'rail-sim admin',
        schemaUrl: `${stack.railSim.url}/openapi.json`,
        headers: { Authorization: `Bearer ${adminToken}` },
        includePathRegex: '^/admin/',
      },
    ];
    for (const target of targets) {
      process.stdout.write(`\n== schemathesis: ${target.name} (${target.schemaUrl})\n`);
      const { code } = await fuzz(target, { bin, maxExamples, seed });
      if (code !== 0) failed.push(target.name);
    }
  } finally {
    await stack.stop();
  }
  if (failed.length > 0) {
    console.error(`\nfuzz: findings against ${failed.join(' and ')} (see above)`);
    return 1;
  }
  process.stdout.write('\nfuzz: no findings\n');
  return 0;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
