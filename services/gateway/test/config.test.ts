import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';

const error = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
};

describe('gateway configuration', () => {
  it('when nothing is set, then the ops port is 9080, no proxy is trusted, and the replicas are named departures-a and -b', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(8080);
    expect(config.OPS_PORT).toBe(9080);
    expect(config.TRUST_PROXY).toEqual([]);
    expect(config.DEPARTURES_URLS).toEqual([
      { name: 'departures-a', url: 'http://127.0.0.1:8082' },
      { name: 'departures-b', url: 'http://127.0.0.1:8083' },
    ]);
  });

  it('when OPS_PORT is PORT, or not a port, then start-up is refused naming OPS_PORT; 0 (any free port) is taken', () => {
    expect(error({ PORT: '8080', OPS_PORT: '8080' })).toMatch(/OPS_PORT: must differ from PORT/);
    expect(error({ OPS_PORT: '70000' })).toMatch(/OPS_PORT/);
    expect(loadConfig({ PORT: '0', OPS_PORT: '0' }).OPS_PORT).toBe(0);
  });

  it('when TRUST_PROXY lists addresses and CIDRs, then those are trusted; a hop count, true or a bad CIDR is refused', () => {
    expect(loadConfig({ TRUST_PROXY: '10.0.250.0/24, 192.0.2.7,fd00::/8,loopback' }).TRUST_PROXY).toEqual([
      '10.0.250.0/24',
      '192.0.2.7',
      'fd00::/8',
      'loopback',
    ]);
    expect(loadConfig({ TRUST_PROXY: '' }).TRUST_PROXY).toEqual([]);
    for (const bad of ['1', 'true', '10.0.0.0/33', '10.0.0/8', 'ingress', '10.0.0.1/8/8'])
      expect(error({ TRUST_PROXY: bad }), bad).toMatch(/TRUST_PROXY.*is not a proxy address.*hop counts/s);
  });

  it('when DEPARTURES_URLS names some replicas, then those names are kept and the others get departures-<letter> by position; bad or repeated names are refused', () => {
    expect(
      loadConfig({ DEPARTURES_URLS: 'east=http://10.0.0.1:8082, http://10.0.0.2:8082' }).DEPARTURES_URLS,
    ).toEqual([
      { name: 'east', url: 'http://10.0.0.1:8082' },
      { name: 'departures-b', url: 'http://10.0.0.2:8082' },
    ]);
    expect(error({ DEPARTURES_URLS: 'East Side=http://10.0.0.1:8082' })).toMatch(
      /DEPARTURES_URLS.*member name/s,
    );
    expect(error({ DEPARTURES_URLS: 'a=http://10.0.0.1:8082,a=http://10.0.0.2:8082' })).toMatch(
      /names must differ/,
    );
    expect(error({ DEPARTURES_URLS: 'http://10.0.0.1:8082,http://10.0.0.1:8082' })).toMatch(
      /URLs must differ/,
    );
    expect(error({ DEPARTURES_URLS: 'a=ftp://x' })).toMatch(/DEPARTURES_URLS/);
  });
});
