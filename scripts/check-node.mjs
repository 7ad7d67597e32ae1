// Plain JavaScript on purpose: it must run on any Node to say clearly when the Node is too old
// (older ones cannot run the TypeScript sources directly).
//
// npm ci installs Node 24 as the dev dependency `node` (node_modules/.bin/node), and npm puts
// node_modules/.bin first on PATH for every npm script, so `npm start` and `npm test` run on it
// whatever `node` the machine has. This check fails only when that did not happen.
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const local = join(root, 'node_modules', 'node', 'bin', 'node');
  const where = relative(process.cwd(), root) || '.';
  let how;
  if (existsSync(local)) {
    how =
      'Node 24 is installed in node_modules, but this was run with another node.\n' +
      'Run it through npm (npm start, npm test), which uses node_modules/.bin/node,\n' +
      `or call that node directly: ${join(where, 'node_modules', '.bin', 'node')} …`;
  } else if (existsSync(join(root, 'node_modules'))) {
    how =
      'node_modules has no Node 24: npm ci was run with --ignore-scripts, or its download failed.\n' +
      'Run npm ci again (it downloads Node 24 as the dev dependency "node"),\n' +
      'or put Node 24 on PATH: source scripts/install-tools.sh (or nvm install 24).';
  } else {
    how =
      'Run npm ci first: it installs Node 24 as a dev dependency, which npm start and npm test use.\n' +
      'Or put Node 24 on PATH: source scripts/install-tools.sh (or nvm install 24).';
  }
  console.error(`Failway needs Node.js 24; this is ${process.version} (${process.execPath}).\n${how}`);
  process.exit(1);
}
