import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from '@failway/stack';

function executable(path: string | undefined): boolean {
  if (!path) return false;
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The Failway OpenTelemetry Collector binary: `OTELCOL_BIN` (exported by
 * scripts/install-tools.sh --all), else the binary scripts/build-collector.sh has already built
 * from the repo's manifest (cached by manifest content). Tests never build it themselves: a build
 * takes minutes and two test files building at once would race, so the tools are built before the
 * tests. Like {@link findTool}: missing under CI=true is an error, elsewhere the caller skips with
 * `reason`.
 */
export function findCollector(): { path: string | undefined; reason: string } {
  const fromEnv = process.env.OTELCOL_BIN;
  if (executable(fromEnv)) return { path: fromEnv, reason: '' };
  const cached = spawnSync('bash', [resolve(REPO_ROOT, 'scripts/build-collector.sh'), '--path'], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  const path = cached.stdout?.trim();
  if (cached.status === 0 && executable(path)) return { path, reason: '' };
  const reason =
    'the OpenTelemetry Collector is not built (run scripts/build-collector.sh or source scripts/install-tools.sh --all, or set OTELCOL_BIN); skipping';
  if (process.env.CI === 'true')
    throw new Error(`the OpenTelemetry Collector is required under CI=true: ${reason}`);
  return { path: undefined, reason };
}
