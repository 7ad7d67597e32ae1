// Plain JavaScript on purpose: it must run on any Node to say clearly when the Node is too old
// (older ones cannot run the TypeScript sources directly).
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(
    `Failway needs Node.js 24 LTS; this is ${process.version}.\n` +
      'Install it with nvm (nvm install 24), or run: source scripts/install-tools.sh',
  );
  process.exit(1);
}
