// Writes every dashboard as pretty JSON to observability/grafana/dashboards/<uid>.json, the folder
// Grafana's file provider reads. `--check` writes nothing and exits 1 naming the files that differ
// from what the sources produce (also JSON left behind by a dashboard that no longer exists).
// `--dir <path>` reads/writes another folder instead (tests check a tampered copy).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { bansDashboard } from './bans.ts';
import { k6Dashboard } from './k6.ts';
import { logsDashboard } from './logs.ts';
import { overviewDashboard } from './overview.ts';
import { serviceDashboard } from './service.ts';

const DEFAULT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const DASHBOARDS: (() => Dashboard)[] = [
  overviewDashboard,
  bansDashboard,
  serviceDashboard,
  logsDashboard,
  k6Dashboard,
];

/** File name → content of every dashboard, as committed. */
export function render(): Map<string, string> {
  const files = new Map<string, string>();
  for (const make of DASHBOARDS) {
    const dashboard = make();
    if (!dashboard.uid) throw new Error(`dashboard "${dashboard.title}" has no uid`);
    const name = `${dashboard.uid}.json`;
    if (files.has(name)) throw new Error(`two dashboards share the uid ${dashboard.uid}`);
    files.set(name, `${JSON.stringify(dashboard, null, 2)}\n`);
  }
  return files;
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function main(args: string[]): number {
  const dirIndex = args.indexOf('--dir');
  const outDir = dirIndex >= 0 ? resolve(args[dirIndex + 1] ?? '.') : DEFAULT_DIR;
  const files = render();
  const shown = (name: string) => relative(process.cwd(), join(outDir, name));
  if (args.includes('--check')) {
    const stale = [...files]
      .filter(([name, text]) => readOrNull(join(outDir, name)) !== text)
      .map(([n]) => n);
    const present = existsSync(outDir) ? readdirSync(outDir) : [];
    const orphans = present.filter((f) => f.endsWith('.json') && !files.has(f));
    if (stale.length === 0 && orphans.length === 0) return 0;
    for (const name of stale)
      console.error(`${present.includes(name) ? 'stale' : 'missing'}: ${shown(name)}`);
    for (const name of orphans) console.error(`no source: ${shown(name)}`);
    console.error('run `npm run dashboards` and commit the result');
    return 1;
  }
  mkdirSync(outDir, { recursive: true });
  for (const [name, text] of files) {
    if (readOrNull(join(outDir, name)) !== text) writeFileSync(join(outDir, name), text);
  }
  process.stdout.write(`${files.size} dashboards in ${relative(process.cwd(), outDir) || '.'}\n`);
  return 0;
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
