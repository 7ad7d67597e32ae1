import { configErrorOf } from '@failway/testkit';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';

const configError = (env: Record<string, string>) => configErrorOf(loadConfig, env);

describe('gateway ADMIN_TOKEN', () => {
  it.each([
    ['unset', {}],
    ['the demo token of npm start and compose', { ADMIN_TOKEN: 'dev-admin-token' }],
    ['the demo token of the local Kubernetes overlay', { ADMIN_TOKEN: 'local-demo-admin-token' }],
  ])(
    'when NODE_ENV=production and ADMIN_TOKEN is %s, then start-up fails naming ADMIN_TOKEN',
    (_what, env) => {
      expect(configError({ NODE_ENV: 'production', ...env })).toMatch(
        /^\s*ADMIN_TOKEN: .*NODE_ENV=production/m,
      );
    },
  );

  it('when NODE_ENV=production and ADMIN_TOKEN is a token of its own, then it is accepted', () => {
    expect(loadConfig({ NODE_ENV: 'production', ADMIN_TOKEN: 'a-real-secret-1234' }).ADMIN_TOKEN).toBe(
      'a-real-secret-1234',
    );
  });

  it('when not in production, then the admin API may be off or use the demo token', () => {
    expect(loadConfig({}).ADMIN_TOKEN).toBeUndefined();
    expect(loadConfig({ ADMIN_TOKEN: 'dev-admin-token' }).ADMIN_TOKEN).toBe('dev-admin-token');
  });
});
