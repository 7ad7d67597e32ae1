import { accessSync, constants } from 'node:fs';

/**
 * The path of a system tool a test needs, from `envVar` or the first candidate that exists.
 * Missing: under CI=true that is an error (CI installs every tool); elsewhere the caller skips,
 * and `reason` is the one line that says why.
 */
export function findTool(
  name: string,
  envVar: string,
  candidates: string[],
): { path: string | undefined; reason: string } {
  for (const path of [process.env[envVar], ...candidates]) {
    if (!path) continue;
    try {
      accessSync(path, constants.X_OK);
      return { path, reason: '' };
    } catch {
      // try the next one
    }
  }
  const reason = `${name} not found (set ${envVar}, or run scripts/install-tools.sh --all); skipping`;
  if (process.env.CI === 'true') throw new Error(`${name} is required under CI=true: ${reason}`);
  return { path: undefined, reason };
}
