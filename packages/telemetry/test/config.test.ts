import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { formatConfigError, optionalString, parseEnv, portVar, telemetryEnvSchema } from '../src/config.ts';

function parseError(env: NodeJS.ProcessEnv): string {
  try {
    parseEnv(telemetryEnvSchema, env);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('parseEnv did not throw');
}

describe('parseEnv with telemetryEnvSchema', () => {
  it('when nothing is set, then the defaults apply', () => {
    const env = parseEnv(telemetryEnvSchema, {});
    expect(env).toEqual({
      OTEL_SERVICE_NAME: undefined,
      LOG_LEVEL: 'info',
      SYSLOG_HOST: undefined,
      SYSLOG_PORT: 601,
      SHUTDOWN_DRAIN_DELAY_MS: 0,
      HTTP_MAX_CONNECTIONS: 1000,
    });
  });

  it('when SYSLOG_HOST and OTEL_SERVICE_NAME are empty strings, then they count as unset', () => {
    const env = parseEnv(telemetryEnvSchema, { SYSLOG_HOST: '', OTEL_SERVICE_NAME: '' });
    expect(env.SYSLOG_HOST).toBeUndefined();
    expect(env.OTEL_SERVICE_NAME).toBeUndefined();
  });

  it('when values are set, then they are parsed and numbers coerced', () => {
    const env = parseEnv(telemetryEnvSchema, {
      OTEL_SERVICE_NAME: 'departures',
      LOG_LEVEL: 'debug',
      SYSLOG_HOST: 'syslog.local',
      SYSLOG_PORT: '5514',
      SHUTDOWN_DRAIN_DELAY_MS: '3000',
      HTTP_MAX_CONNECTIONS: '250',
    });
    expect(env).toEqual({
      OTEL_SERVICE_NAME: 'departures',
      LOG_LEVEL: 'debug',
      SYSLOG_HOST: 'syslog.local',
      SYSLOG_PORT: 5514,
      SHUTDOWN_DRAIN_DELAY_MS: 3000,
      HTTP_MAX_CONNECTIONS: 250,
    });
  });

  it('when unrelated variables are in the environment, then they are not returned', () => {
    const env = parseEnv(telemetryEnvSchema, { PATH: '/usr/bin', HOME: '/root' });
    expect(env).not.toHaveProperty('PATH');
  });

  it.each(['0', '-1', '1.5', 'many', '100001'])(
    'when HTTP_MAX_CONNECTIONS is %j, then the error names HTTP_MAX_CONNECTIONS',
    (value) => {
      expect(parseError({ HTTP_MAX_CONNECTIONS: value })).toMatch(/HTTP_MAX_CONNECTIONS: /);
    },
  );

  it('when LOG_LEVEL is not a winston level, then the error names LOG_LEVEL', () => {
    const message = parseError({ LOG_LEVEL: 'loud' });
    expect(message).toMatch(/^Invalid configuration:/);
    expect(message).toContain('LOG_LEVEL');
    expect(message).not.toContain('SYSLOG_PORT');
  });

  it('when SYSLOG_PORT is not a number, then the error names SYSLOG_PORT', () => {
    const message = parseError({ SYSLOG_PORT: 'abc' });
    expect(message).toContain('SYSLOG_PORT');
    expect(message).not.toContain('LOG_LEVEL:');
  });

  it.each(['0', '65536', '1.5', '-1'])('when SYSLOG_PORT is %s, then it is rejected', (port) => {
    expect(parseError({ SYSLOG_PORT: port })).toContain('SYSLOG_PORT');
  });

  it('when several variables are bad, then the error names each on its own line', () => {
    const message = parseError({ LOG_LEVEL: 'loud', SYSLOG_PORT: 'abc', SHUTDOWN_DRAIN_DELAY_MS: '-5' });
    const lines = message.split('\n').slice(1);
    expect(lines).toHaveLength(3);
    expect(lines.some((line) => line.startsWith('  LOG_LEVEL: '))).toBe(true);
    expect(lines.some((line) => line.startsWith('  SYSLOG_PORT: '))).toBe(true);
    expect(lines.some((line) => line.startsWith('  SHUTDOWN_DRAIN_DELAY_MS: '))).toBe(true);
  });
});

describe('portVar', () => {
  const schema = z.object({ PORT: portVar('listen port', 8080) });

  it('when unset, then the fallback is used', () => {
    expect(parseEnv(schema, {}).PORT).toBe(8080);
  });

  it('when 0, then it is accepted as "any free port"', () => {
    expect(parseEnv(schema, { PORT: '0' }).PORT).toBe(0);
  });

  it('when above 65535, then the error names the variable', () => {
    expect(() => parseEnv(schema, { PORT: '70000' })).toThrow(/PORT/);
  });
});

describe('optionalString', () => {
  it('when set to a non-empty string, then the string is kept', () => {
    const schema = z.object({ NAME: optionalString('a name') });
    expect(parseEnv(schema, { NAME: 'x' }).NAME).toBe('x');
  });
});

describe('formatConfigError', () => {
  it('when an issue has no path, then it is labelled (root)', () => {
    const result = z.string().safeParse(1);
    expect(result.success).toBe(false);
    if (result.success) return;
    expect(formatConfigError(result.error)).toMatch(/^Invalid configuration:\n {2}\(root\): /);
  });
});
