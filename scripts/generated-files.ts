// One way for the scripts that write generated JSON into the repo (dashboards, OpenAPI documents)
// to write it, or with `--check` to write nothing and exit 1 naming what differs from the sources.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

export interface GeneratedFilesOptions {
  /** The folder written unless `--dir <path>` names another (tests check a tampered copy). */
  defaultDir: string;
  /** What the files are, for the summary line (`dashboards`). */
  what: string;
  /** The command that regenerates them, for the `--check` failure message. */
  command: string;
}

/**
 * Writes `files` (name → content) into the folder, touching only those that changed; with
 * `--check` writes nothing and returns 1 when a file is stale or missing, or when a `.json` in the
 * folder has no source (left behind by something that no longer exists). Returns the exit code.
 */
export function syncGeneratedFiles(
  files: ReadonlyMap<string, string>,
  args: readonly string[],
  options: GeneratedFilesOptions,
): number {
  const dirIndex = args.indexOf('--dir');
  const outDir = dirIndex >= 0 ? resolve(args[dirIndex + 1] ?? '.') : options.defaultDir;
  const shown = (name: string) => relative(process.cwd(), join(outDir, name));
  if (args.includes('--check')) {
    const present = existsSync(outDir) ? readdirSync(outDir) : [];
    const stale = [...files]
      .filter(([name, text]) => readOrNull(join(outDir, name)) !== text)
      .map(([n]) => n);
    const orphans = present.filter((f) => f.endsWith('.json') && !files.has(f));
    if (stale.length === 0 && orphans.length === 0) return 0;
    for (const name of stale)
      console.error(`${present.includes(name) ? 'stale' : 'missing'}: ${shown(name)}`);
    for (const name of orphans) console.error(`no source: ${shown(name)}`);
    console.error(`run \`${options.command}\` and commit the result`);
    return 1;
  }
  mkdirSync(outDir, { recursive: true });
  for (const [name, text] of files) {
    if (readOrNull(join(outDir, name)) !== text) writeFileSync(join(outDir, name), text);
  }
  process.stdout.write(`${files.size} ${options.what} in ${relative(process.cwd(), outDir) || '.'}\n`);
  return 0;
}
