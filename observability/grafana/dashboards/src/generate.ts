// Writes every dashboard as pretty JSON to observability/grafana/dashboards/<uid>.json, the folder
// Grafana's file provider reads. `--check` writes nothing and exits 1 naming the files that differ
// from what the sources produce (also JSON left behind by a dashboard that no longer exists).
// `--dir <path>` reads/writes another folder instead (tests check a tampered copy).
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { syncGeneratedFiles } from '../../../../scripts/generated-files.ts';
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

function main(args: string[]): number {
  return syncGeneratedFiles(render(), args, {
    defaultDir: DEFAULT_DIR,
    what: 'dashboards',
    command: 'npm run dashboards',
  });
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
