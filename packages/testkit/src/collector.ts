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

function goAvailable(): boolean {
  return spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
}

/**
 * The Failway OpenTelemetry Collector binary: `OTELCOL_BIN` (exported by
 * scripts/install-tools.sh --all), else built from the repo's manifest by
 * scripts/build-collector.sh when Go is installed (cached by manifest content; the first build
 * takes minutes). Like {@link findTool}: missing under CI=true is an error, elsewhere the caller
 * skips with `reason`.
 */
export function findCollector(): { path: string | undefined; reason: string } {
  const fromEnv = process.env.OTELCOL_BIN;
  if (executable(fromEnv)) return { path: fromEnv, reason: '' };
  let reason =
    'the OpenTelemetry Collector is not built (set OTELCOL_BIN, or install Go and run scripts/build-collector.sh); skipping';
  if (goAvailable()) {
    const build = spawnSync('bash', [resolve(REPO_ROOT, 'scripts/build-collector.sh')], {
      encoding: 'utf8',
      timeout: 15 * 60_000,
    });
    const path = build.stdout?.trim().split('\n').pop();
    if (build.status === 0 && executable(path)) return { path, reason: '' };
    reason = `scripts/build-collector.sh failed (${build.status ?? build.signal}): ${(build.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`;
  }
  if (process.env.CI === 'true')
    throw new Error(`the OpenTelemetry Collector is required under CI=true: ${reason}`);
  return { path: undefined, reason };
}
