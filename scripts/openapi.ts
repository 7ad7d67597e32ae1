// Writes the OpenAPI 3.1 document of every service to docs/openapi/<service>.json, built from the
// same zod schemas the services validate with (each service also serves its own at
// GET /openapi.json). `--check` writes nothing and exits 1 naming the files that differ from what
// the sources produce; `--dir <path>` reads/writes another folder (tests check a tampered copy).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { departuresOpenApi } from '../services/departures/src/http/openapi.ts';
import { gatewayOpenApi } from '../services/gateway/src/http/openapi.ts';
import { railSimOpenApi } from '../services/rail-sim/src/http/openapi.ts';
import { routeConfigOpenApi } from '../services/route-config/src/http/openapi.ts';

const DEFAULT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../docs/openapi');

/** File name → content of every document, as committed. */
export function render(): Map<string, string> {
  const documents: [string, Record<string, unknown>][] = [
    ['gateway.json', gatewayOpenApi()],
    ['departures.json', departuresOpenApi()],
    ['route-config.json', routeConfigOpenApi()],
    ['rail-sim.json', railSimOpenApi()],
  ];
  return new Map(documents.map(([name, doc]) => [name, `${JSON.stringify(doc, null, 2)}\n`]));
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
    const present = existsSync(outDir) ? readdirSync(outDir) : [];
    const stale = [...files]
      .filter(([name, text]) => readOrNull(join(outDir, name)) !== text)
      .map(([n]) => n);
    const orphans = present.filter((f) => f.endsWith('.json') && !files.has(f));
    if (stale.length === 0 && orphans.length === 0) return 0;
    for (const name of stale)
      console.error(`${present.includes(name) ? 'stale' : 'missing'}: ${shown(name)}`);
    for (const name of orphans) console.error(`no source: ${shown(name)}`);
    console.error('run `npm run openapi` and commit the result');
    return 1;
  }
  mkdirSync(outDir, { recursive: true });
  for (const [name, text] of files) {
    if (readOrNull(join(outDir, name)) !== text) writeFileSync(join(outDir, name), text);
  }
  process.stdout.write(`${files.size} OpenAPI documents in ${relative(process.cwd(), outDir) || '.'}\n`);
  return 0;
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
