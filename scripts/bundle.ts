// The production build of each service: its compiled entry points (dist/instrumentation.js,
// dist/main.js, which `tsc -b` writes first) and everything they import, workspace packages and
// npm dependencies alike, bundled by esbuild into services/<name>/bundle/. The image runs
// `node --import ./bundle/instrumentation.js bundle/main.js` with no node_modules at all.
//
// Why a bundle (docs/performance.md, profile 14): V8 keeps the source text of every module a
// process loads, and compiles from it. Loaded file by file, a service kept 1–2 MB of comments and
// unused code of its dependencies in its heap, and each module cost its own resolution and
// wrapper. The bundle holds only what the entry points reach; whitespace is dropped and syntax
// shortened, but names are kept, so stack traces still name the functions that threw.
//
//   node scripts/bundle.ts                 every service
//   node scripts/bundle.ts gateway ...     only these
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SERVICES = ['rail-sim', 'route-config', 'departures', 'gateway'];

// npm dependencies written as CommonJS call require() for Node's built-ins; an ES module has no
// require, so each output file gets one of its own.
const REQUIRE_BANNER =
  "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);";

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !SERVICES.includes(name));
if (unknown.length) {
  process.stderr.write(`bundle: unknown service ${unknown.join(', ')}; one of ${SERVICES.join(', ')}\n`);
  process.exit(2);
}

for (const name of wanted.length ? wanted : SERVICES) {
  const dir = join(ROOT, 'services', name);
  const outdir = join(dir, 'bundle');
  const entries = ['instrumentation', 'main'].map((entry) => join(dir, 'dist', `${entry}.js`));
  const unbuilt = entries.filter((file) => !existsSync(file));
  if (unbuilt.length) {
    process.stderr.write(
      `bundle: ${unbuilt.map((file) => relative(ROOT, file)).join(', ')} missing; compile first (tsc -b, as npm run build does)\n`,
    );
    process.exit(1);
  }
  await rm(outdir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: entries,
    // Every file, chunks too, sits one level below the service folder, as dist/ does, so the
    // `new URL('../public', import.meta.url)` of the gateway and route-config still resolve.
    outdir,
    bundle: true,
    // One copy of every module both entry points use (the tracer provider, @opentelemetry/api).
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'linked',
    banner: { js: REQUIRE_BANNER },
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith('.js'));
  const bytes = outputs.reduce((sum, [, output]) => sum + output.bytes, 0);
  process.stdout.write(
    `bundle: ${relative(ROOT, outdir)}/ ${outputs.length} files, ${(bytes / 1024).toFixed(0)} kB\n`,
  );
}
