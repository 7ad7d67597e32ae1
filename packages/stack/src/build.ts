import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './process.ts';

/** The services, in the order the build and the stack take them. */
export const SERVICE_NAMES = ['rail-sim', 'route-config', 'departures', 'gateway'] as const;

/** What the image runs, per service (`node --import ./bundle/instrumentation.js bundle/main.js`). */
export const BUNDLE_ENTRY_POINTS = ['bundle/instrumentation.js', 'bundle/main.js'] as const;

/**
 * The production build for tests and the bench: `npm run build` (tsc, then scripts/bundle.ts)
 * unless `run` is false, then every service's bundle entry points must exist. Throws with the
 * build's last output, or naming what is missing.
 */
export function ensureProductionBuild({ run = true }: { run?: boolean } = {}): void {
  if (run) {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const build = spawnSync(npm, ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
    if (build.status !== 0) {
      throw new Error(
        `npm run build failed (${build.error?.message ?? `exit ${build.status}`}):\n${`${build.stdout}${build.stderr}`.slice(-3000)}`,
      );
    }
  }
  const missing = SERVICE_NAMES.flatMap((service) =>
    BUNDLE_ENTRY_POINTS.map((file) => join('services', service, file)).filter(
      (file) => !existsSync(join(REPO_ROOT, file)),
    ),
  );
  if (missing.length)
    throw new Error(`no production build: ${missing.join(', ')} missing; run npm run build`);
}
