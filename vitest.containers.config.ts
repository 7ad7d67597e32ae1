import { defineConfig } from 'vitest/config';

// `npm run test:containers`: the compose stack built and started by a real Docker engine. Not part
// of `npm test` (vitest.config.ts), which never builds images or starts containers.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    include: ['observability/test/compose.containers.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
