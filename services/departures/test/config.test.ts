import { configErrorOf } from '@failway/testkit';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';

const VALID = { UPSTREAM_API_KEY: 'key' };

/** The message loadConfig throws for `env`; fails the test when it does not throw. */
const configError = (env: Record<string, string>) => configErrorOf(loadConfig, env);

describe('loadConfig: demand first and bounded bans', () => {
  it('when nothing is set, then refresh-ahead is on with a 0.3 share and a 120 s window, and bans last at most 7200 s', () => {
    expect(loadConfig(VALID)).toMatchObject({
      REFRESH_AHEAD: true,
      REFRESH_AHEAD_SHARE: 0.3,
      REFRESH_AHEAD_RECENT_S: 120,
      BAN_MAX_S: 7_200,
      CACHE_TTL_S: 30,
      UPSTREAM_BUDGET_BURST: 10,
      UPSTREAM_BUDGET_PER_MIN: 40,
    });
  });

  it('when set within bounds, then they are read', () => {
    expect(
      loadConfig({
        ...VALID,
        REFRESH_AHEAD: 'off',
        REFRESH_AHEAD_SHARE: '0.9',
        REFRESH_AHEAD_RECENT_S: '60',
        BAN_MAX_S: '600',
      }),
    ).toMatchObject({
      REFRESH_AHEAD: false,
      REFRESH_AHEAD_SHARE: 0.9,
      REFRESH_AHEAD_RECENT_S: 60,
      BAN_MAX_S: 600,
    });
    expect(loadConfig({ ...VALID, REFRESH_AHEAD_SHARE: '0' }).REFRESH_AHEAD_SHARE).toBe(0);
  });

  it.each([
    ['REFRESH_AHEAD', 'yes'],
    ['REFRESH_AHEAD_SHARE', '0.95'],
    ['REFRESH_AHEAD_SHARE', '-0.1'],
    ['REFRESH_AHEAD_SHARE', 'lots'],
    ['REFRESH_AHEAD_RECENT_S', '0'],
    ['REFRESH_AHEAD_RECENT_S', '1.5'],
    ['BAN_MAX_S', '0'],
    ['BAN_MAX_S', '604801'],
  ])('when %s=%s, then start-up fails naming it', (name, value) => {
    const message = configError({ ...VALID, [name]: value });
    expect(message).toMatch(new RegExp(`^\\s*${name}: `, 'm'));
    expect(message).not.toMatch(/UPSTREAM_API_KEY/);
  });
});
