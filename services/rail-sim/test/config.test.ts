import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { configErrorOf, REPO_ROOT } from '@failway/testkit';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';

const VALID = { RAIL_API_KEYS: 'key-one' };

/** The message loadConfig throws for `env`; fails the test when it does not throw. */
const configError = (env: Record<string, string>) => configErrorOf(loadConfig, env);

describe('loadConfig', () => {
  it('when RAIL_API_KEYS is unset, then it fails naming RAIL_API_KEYS', () => {
    expect(configError({})).toMatch(/^\s*RAIL_API_KEYS: /m);
  });

  it('when RAIL_API_KEYS is empty, then it fails saying it is required', () => {
    expect(configError({ RAIL_API_KEYS: '' })).toMatch(/RAIL_API_KEYS: is required/);
  });

  it('when RAIL_API_KEYS holds only separators, then it fails naming RAIL_API_KEYS', () => {
    expect(configError({ RAIL_API_KEYS: ' , ,' })).toMatch(/RAIL_API_KEYS: must name at least one key/);
  });

  it('when RAIL_API_KEYS lists keys, then they are split on commas and trimmed', () => {
    expect(loadConfig({ RAIL_API_KEYS: ' a, b ,,c' }).RAIL_API_KEYS).toEqual(['a', 'b', 'c']);
  });

  it('when BAN_STYLE is not one of the styles, then it fails naming BAN_STYLE', () => {
    const message = configError({ ...VALID, BAN_STYLE: '418' });
    expect(message).toMatch(/BAN_STYLE: /);
    expect(message).not.toMatch(/RAIL_API_KEYS/);
  });

  it('when each ban style is given, then it is accepted', () => {
    for (const style of ['429', '403', '503', 'silent'] as const) {
      expect(loadConfig({ ...VALID, BAN_STYLE: style }).BAN_STYLE).toBe(style);
    }
  });

  it('when LATENCY_MAX_MS is below LATENCY_MIN_MS, then it fails naming LATENCY_MAX_MS', () => {
    const message = configError({ ...VALID, LATENCY_MIN_MS: '100', LATENCY_MAX_MS: '50' });
    expect(message).toMatch(/LATENCY_MAX_MS: must be at least LATENCY_MIN_MS/);
  });

  it('when LATENCY_MAX_MS equals LATENCY_MIN_MS, then it is accepted', () => {
    const config = loadConfig({ ...VALID, LATENCY_MIN_MS: '0', LATENCY_MAX_MS: '0' });
    expect(config).toMatchObject({ LATENCY_MIN_MS: 0, LATENCY_MAX_MS: 0 });
  });

  it('when BAN_THRESHOLD is not a positive whole number, then it fails naming BAN_THRESHOLD', () => {
    expect(configError({ ...VALID, BAN_THRESHOLD: 'many' })).toMatch(/BAN_THRESHOLD: /);
    expect(configError({ ...VALID, BAN_THRESHOLD: '0' })).toMatch(/BAN_THRESHOLD: /);
    expect(configError({ ...VALID, BAN_THRESHOLD: '2.5' })).toMatch(/BAN_THRESHOLD: /);
  });

  it('when several variables are bad, then the message names each of them', () => {
    const message = configError({ BAN_STYLE: 'x', BAN_DURATION_S: '-1' });
    expect(message).toMatch(/RAIL_API_KEYS: /);
    expect(message).toMatch(/BAN_STYLE: /);
    expect(message).toMatch(/BAN_DURATION_S: /);
  });

  it('when only RAIL_API_KEYS is set, then the documented defaults apply and admin is off', () => {
    expect(loadConfig(VALID)).toMatchObject({
      PORT: 8090,
      HOST: '127.0.0.1',
      RAIL_API_KEYS: ['key-one'],
      BAN_THRESHOLD: 60,
      BAN_WINDOW_S: 60,
      BAN_DURATION_S: 3600,
      BAN_STYLE: '429',
      SIM_SEED: 'failway',
      SIM_TIME_OFFSET_MIN: 0,
      LATENCY_MIN_MS: 80,
      LATENCY_MAX_MS: 250,
    });
    expect(loadConfig(VALID).ADMIN_TOKEN).toBeUndefined();
  });

  it('when ADMIN_TOKEN is empty, then admin is off as if unset', () => {
    expect(loadConfig({ ...VALID, ADMIN_TOKEN: '' }).ADMIN_TOKEN).toBeUndefined();
  });

  it('when ADMIN_TOKEN is shorter than 8 characters, then it fails naming ADMIN_TOKEN', () => {
    expect(configError({ ...VALID, ADMIN_TOKEN: 'short' })).toMatch(
      /ADMIN_TOKEN: must be at least 8 characters/,
    );
    expect(loadConfig({ ...VALID, ADMIN_TOKEN: '12345678' }).ADMIN_TOKEN).toBe('12345678');
  });

  it.each([
    ['unset', {}],
    ['empty', { ADMIN_TOKEN: '' }],
    ['the demo token of npm start and compose', { ADMIN_TOKEN: 'dev-admin-token' }],
    ['the demo token of the local Kubernetes overlay', { ADMIN_TOKEN: 'local-demo-admin-token' }],
  ])('when NODE_ENV=production and ADMIN_TOKEN is %s, then it fails naming ADMIN_TOKEN', (_what, env) => {
    expect(configError({ ...VALID, NODE_ENV: 'production', ...env })).toMatch(
      /^\s*ADMIN_TOKEN: (is required with NODE_ENV=production|is the demo token "[a-z-]+", refused with NODE_ENV=production)/m,
    );
  });

  it('when NODE_ENV=production and ADMIN_TOKEN is a token of its own, then it is accepted; outside production the demo token is too', () => {
    expect(
      loadConfig({ ...VALID, NODE_ENV: 'production', ADMIN_TOKEN: 'a-real-secret-1234' }).ADMIN_TOKEN,
    ).toBe('a-real-secret-1234');
    expect(loadConfig({ ...VALID, ADMIN_TOKEN: 'dev-admin-token' }).ADMIN_TOKEN).toBe('dev-admin-token');
    expect(
      loadConfig({ ...VALID, NODE_ENV: 'development', ADMIN_TOKEN: 'dev-admin-token' }).ADMIN_TOKEN,
    ).toBe('dev-admin-token');
  });

  it('when SIM_TIME_OFFSET_MIN is more than a day either way, then it fails naming SIM_TIME_OFFSET_MIN', () => {
    expect(configError({ ...VALID, SIM_TIME_OFFSET_MIN: '1441' })).toMatch(/SIM_TIME_OFFSET_MIN: /);
    expect(configError({ ...VALID, SIM_TIME_OFFSET_MIN: '-1441' })).toMatch(/SIM_TIME_OFFSET_MIN: /);
    expect(loadConfig({ ...VALID, SIM_TIME_OFFSET_MIN: '-90' }).SIM_TIME_OFFSET_MIN).toBe(-90);
  });

  it('when numbers are given as strings, then they are coerced', () => {
    expect(
      loadConfig({ ...VALID, PORT: '0', BAN_THRESHOLD: '3', BAN_WINDOW_S: '10', BAN_DURATION_S: '120' }),
    ).toMatchObject({ PORT: 0, BAN_THRESHOLD: 3, BAN_WINDOW_S: 10, BAN_DURATION_S: 120 });
  });
});

/** Starts rail-sim with exactly `env` (plus PATH, HOST, PORT) and waits for it to exit. */
async function startExpectingExit(env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', './src/instrumentation.ts', 'src/main.ts'],
    {
      cwd: resolve(REPO_ROOT, 'services', 'rail-sim'),
      // Not the test's environment: nothing may supply RAIL_API_KEYS by accident.
      env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const code = await new Promise<number | null>((resolveExit, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`rail-sim did not exit within 15 s:\n${stdout}\n${stderr}`));
    }, 15_000);
    // 'close' comes after the output streams end, so nothing printed is missed.
    child.once('close', (exitCode) => {
      clearTimeout(timer);
      resolveExit(exitCode);
    });
  });
  return { code, stdout, stderr };
}

describe('rail-sim start-up', () => {
  it('when started without RAIL_API_KEYS, then it exits non-zero and prints the variable name', async () => {
    const { code, stdout, stderr } = await startExpectingExit({});
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(stderr).toMatch(/RAIL_API_KEYS/);
    expect(stdout).not.toMatch(/"message":"listening"/);
  });

  it('when started with NODE_ENV=production and the demo admin token, then it exits non-zero naming ADMIN_TOKEN', async () => {
    const { code, stdout, stderr } = await startExpectingExit({
      ...VALID,
      NODE_ENV: 'production',
      ADMIN_TOKEN: 'dev-admin-token',
    });
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /ADMIN_TOKEN: is the demo token "dev-admin-token", refused with NODE_ENV=production/,
    );
    expect(stdout).not.toMatch(/"message":"listening"/);
  });
});
