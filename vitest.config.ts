import { defineConfig } from 'vitest/config';

// Four projects, run as groups one after another (sequence.groupOrder), so suites that start
// processes never compete with each other for the machine's cores:
//   unit       in-process tests of domain code and packages; files in parallel
//   component  one or two real service processes per file, on free loopback ports; in parallel
//   infra      configuration checked by the real tools (promtool, Prometheus, syslog-ng, the
//              collector, kustomize, kube-score) and generated artefacts; in parallel
//   e2e        the whole application (five processes) plus Chromium, Prometheus, syslog-ng or the
//              collector: one file at a time
// observability/test/compose.containers.test.ts needs a Docker engine and builds images, so it is
// in none of them: `npm run test:containers` runs it (vitest.containers.config.ts).
export default defineConfig({
  // Resolve workspace packages to their TypeScript sources (see the "source" export condition);
  // tests run in Node, so the server-side resolver needs the condition too.
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [
            'packages/*/test/**/*.test.ts',
            'bench/test/**/*.test.ts',
            'services/*/test/domain/**/*.test.ts',
            'services/*/test/adapters/**/*.test.ts',
            'services/route-config/test/catalog.test.ts',
          ],
          exclude: ['packages/stack/test/**'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'component',
          include: ['services/*/test/*.test.ts', 'packages/stack/test/**/*.test.ts'],
          exclude: ['services/route-config/test/catalog.test.ts'],
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'infra',
          include: ['observability/test/*.test.ts', 'k8s/test/**/*.test.ts'],
          exclude: ['observability/test/*.e2e.test.ts', 'observability/test/*.containers.test.ts'],
          sequence: { groupOrder: 2 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['e2e/**/*.test.ts', 'observability/test/*.e2e.test.ts'],
          fileParallelism: false,
          // Starting five services (each bounded at 45 s) is the hook's work here.
          hookTimeout: 180_000,
          sequence: { groupOrder: 3 },
        },
      },
    ],
  },
});
