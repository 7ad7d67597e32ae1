// Writes the OpenAPI 3.1 document of every service to docs/openapi/<service>.json, built from the
// same zod schemas the services validate with (each service also serves its own at
// GET /openapi.json). `--check` writes nothing and exits 1 naming the files that differ from what
// the sources produce; `--dir <path>` reads/writes another folder (tests check a tampered copy).
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { departuresOpenApi } from '../services/departures/src/http/openapi.ts';
import { gatewayOpenApi } from '../services/gateway/src/http/openapi.ts';
import { railSimOpenApi } from '../services/rail-sim/src/http/openapi.ts';
import { routeConfigOpenApi } from '../services/route-config/src/http/openapi.ts';
import { syncGeneratedFiles } from './generated-files.ts';

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

function main(args: string[]): number {
  return syncGeneratedFiles(render(), args, {
    defaultDir: DEFAULT_DIR,
    what: 'OpenAPI documents',
    command: 'npm run openapi',
  });
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
